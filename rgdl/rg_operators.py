r"""Variational-RG operators :math:`T_\lambda(v, h)` and one RG step by exact enumeration.

:func:`coarse_grain` computes :math:`e^{-H^{RG}_\lambda[h]} = \operatorname{Tr}_v
e^{T_\lambda(v,h) - H(v)}`, the trace residual :math:`\max_v |\log \operatorname{Tr}_h
e^{T_\lambda(v,h)}|` and the free-energy shift (Kadanoff, Houghton & Yalabik 1976; Mehta & Schwab
2014, Sec. II); the operators are tables, soft decimation and majority-rule block spins. The
formalism is described in :mod:`rgdl.variational`; RBM operators are in :mod:`rgdl.rbm_mapping`.

References
----------
L. P. Kadanoff, A. Houghton and M. C. Yalabik, "Variational approximations for
renormalization group transformations", J. Stat. Phys. 14, 171 (1976).
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray
from scipy.special import logsumexp

from rbm import maths
from rgdl.enumeration import (CHUNK_ENTRIES, MAX_ENUMERATED_UNITS, as_hamiltonian, check_count,
                              configuration_index, lattice_shape, log_partition,
                              n_units_of_table, spin_configurations)

__all__ = ["VariationalOperator", "table_operator", "soft_decimation_operator",
           "majority_operator", "CoarseGrainResult", "coarse_grain"]


# --------------------------------------------------------------------------------------------
# variational RG operators
# --------------------------------------------------------------------------------------------
class VariationalOperator(NamedTuple):
    r"""A variational-RG operator :math:`T_\lambda(v, h)` on enumerable systems.

    ``func(v, h)`` takes visible configurations ``v`` (n_v_conf, n_visible) and hidden
    configurations ``h`` (n_h_conf, n_hidden), both int8 spins in {-1, +1}, and returns the
    float64 table ``T[v, h]`` of shape (n_v_conf, n_h_conf); ``-inf`` means zero weight.
    """

    func: Callable[[NDArray[np.int8], NDArray[np.int8]], NDArray[np.float64]]
    n_visible: int
    n_hidden: int
    name: str = "operator"


def table_operator(table: npt.ArrayLike) -> VariationalOperator:
    """Wrap a full table ``T[v_index, h_index]`` (shape (2**n_v, 2**n_h)) as an operator."""
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"operator table must be 2-D (2**n_visible, 2**n_hidden), got {t.shape}")
    n_v = n_units_of_table(t.shape[0], "operator table rows")
    n_h = n_units_of_table(t.shape[1], "operator table columns")
    if np.isnan(t).any() or np.isposinf(t).any():
        raise ValueError("operator table must not contain NaN or +inf")

    def func(v: NDArray[np.int8], h: NDArray[np.int8]) -> NDArray[np.float64]:
        return t[np.ix_(configuration_index(v), configuration_index(h))]

    return VariationalOperator(func, n_v, n_h, "table")


def soft_decimation_operator(n_visible: int, strength: float, stride: int = 2,
                             offset: int = 0) -> VariationalOperator:
    r"""Soft decimation :math:`T_\lambda(v,h) = \sum_j [\lambda h_j v_{s j + o} - \ln 2\cosh\lambda]`.

    Each coarse spin :math:`h_j` copies the fine spin :math:`v_{sj+o}` through a binary symmetric
    channel, :math:`e^{T} = \prod_j e^{\lambda h_j v_{sj+o}}/(2\cosh\lambda)
    = \prod_j (1 + h_j v_{sj+o}\tanh\lambda)/2`, hence :math:`\operatorname{Tr}_h e^{T} = 1`
    exactly for every :math:`v` and :math:`\lambda` (an exact RG step in the sense of Kadanoff).
    As :math:`\lambda\to\infty` it becomes hard decimation :math:`h_j = v_{sj+o}`.

    Parameters
    ----------
    n_visible : int
        Number of fine spins (a multiple of ``stride``).
    strength : float
        :math:`\lambda \ge 0`.
    stride, offset : int
        Keep sites ``stride*j + offset``; ``n_hidden = n_visible // stride``.
    """
    n_visible = check_count(n_visible, "n_visible")
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"strength must be finite and >= 0, got {strength}")
    if stride < 1 or n_visible % stride or not 0 <= offset < stride:
        raise ValueError(f"n_visible = {n_visible} must be a multiple of stride = {stride}, "
                         f"with 0 <= offset < stride")
    sites = np.arange(offset, n_visible, stride)
    lam = float(strength)
    log_norm = float(maths.unit_log_partition(lam, "spin"))  # log 2cosh(lambda)

    def func(v: NDArray[np.int8], h: NDArray[np.int8]) -> NDArray[np.float64]:
        kept = np.asarray(v, dtype=np.float64)[:, sites]
        return lam * (kept @ np.asarray(h, dtype=np.float64).T) - sites.size * log_norm

    return VariationalOperator(func, n_visible, sites.size, f"soft decimation (lambda={lam:g})")


def majority_operator(shape: int | Sequence[int], block: int) -> VariationalOperator:
    r"""Majority-rule block spins as a (stochastic) variational-RG operator.

    :math:`e^{T(v,h)} = \prod_B P(h_B \mid v_B)` with :math:`P(h_B = \operatorname{sign}
    \sum_{i\in B} v_i) = 1`, and :math:`P = 1/2` for either sign at a tie (``tie="coin"`` of
    :func:`ising.blockspin.majority`). Being a conditional probability it satisfies the trace
    condition exactly (Kadanoff 1966; Niemeijer & van Leeuwen 1974).

    Parameters
    ----------
    shape : tuple
        Fine lattice ``(L,)`` or ``(L, M)``; each side a multiple of ``block``.
    block : int
        Block side ``b``; blocks are ``b`` consecutive sites (1D) or ``b x b`` squares (2D),
        coarse sites in C order.
    """
    shape = lattice_shape(shape)
    if block < 1 or any(s % block for s in shape):
        raise ValueError(f"lattice sides {shape} must be multiples of the block size {block}")
    n = int(np.prod(shape))
    index = np.arange(n).reshape(shape)
    if len(shape) == 1:
        blocks = index.reshape(-1, block)
    else:
        L, M = shape
        blocks = (index.reshape(L // block, block, M // block, block)
                  .transpose(0, 2, 1, 3).reshape(-1, block * block))
    n_h = blocks.shape[0]
    log_half = -math.log(2.0)

    def func(v: NDArray[np.int8], h: NDArray[np.int8]) -> NDArray[np.float64]:
        sign = np.sign(np.asarray(v, dtype=np.int64)[:, blocks].sum(axis=2))  # (n_v_conf, n_h)
        hh = np.asarray(h, dtype=np.int64)
        out = np.zeros((sign.shape[0], hh.shape[0]))
        for j in range(n_h):
            # 0 if h_j agrees with a strict majority, log 1/2 at a tie, -inf otherwise
            agree = sign[:, j, None] == hh[None, :, j]
            tie = (sign[:, j] == 0)[:, None]
            out += np.where(tie, log_half, np.where(agree, 0.0, -np.inf))
        return out

    return VariationalOperator(func, n, n_h, f"majority rule (b={block})")


# --------------------------------------------------------------------------------------------
# coarse graining by enumeration
# --------------------------------------------------------------------------------------------
@dataclass
class CoarseGrainResult:
    r"""Result of one variational RG step computed by enumeration.

    Attributes
    ----------
    hamiltonian : ndarray (2**n_hidden,)
        :math:`H^{RG}_\lambda[h] = -\log \operatorname{Tr}_v e^{T(v,h) - H(v)}` (``+inf`` where
        the coarse configuration has zero weight).
    log_trace : ndarray (2**n_visible,)
        :math:`\log \operatorname{Tr}_h e^{T(v,h)}` for every visible configuration.
    trace_residual : float
        :math:`\max_v |\log \operatorname{Tr}_h e^{T(v,h)}|`; 0 for an exact RG step.
    free_energy_visible, free_energy_hidden : float
        :math:`F_v = -\log \operatorname{Tr}_v e^{-H}`, :math:`F_h = -\log \operatorname{Tr}_h
        e^{-H^{RG}}`.
    free_energy_shift : float
        :math:`\Delta F = F_h - F_v` (0 when the trace condition holds).
    """

    hamiltonian: NDArray[np.float64]
    log_trace: NDArray[np.float64]
    trace_residual: float
    free_energy_visible: float
    free_energy_hidden: float
    free_energy_shift: float


def _as_operator(operator: VariationalOperator | npt.ArrayLike) -> VariationalOperator:
    if isinstance(operator, VariationalOperator):
        return operator
    if isinstance(operator, np.ndarray) or isinstance(operator, (list, tuple)):
        return table_operator(operator)
    raise ValueError("operator must be a VariationalOperator or a 2-D table T[v, h]")


def coarse_grain(hamiltonian: npt.ArrayLike,
                 operator: VariationalOperator | npt.ArrayLike) -> CoarseGrainResult:
    r"""One variational RG step, :math:`e^{-H^{RG}[h]} = \operatorname{Tr}_v e^{T(v,h) - H(v)}`.

    Enumerates all visible configurations and the hidden ones in chunks (log space), so
    ``n_visible + n_hidden`` up to about 24 is feasible.

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**n_visible,)
        Dimensionless fine Hamiltonian :math:`H(v)`.
    operator : VariationalOperator or ndarray (2**n_visible, 2**n_hidden)
        :math:`T_\lambda(v,h)`.

    Returns
    -------
    CoarseGrainResult
    """
    h_v, n_v = as_hamiltonian(hamiltonian)
    op = _as_operator(operator)
    if op.n_visible != n_v:
        raise ValueError(f"operator acts on {op.n_visible} visible spins but the hamiltonian has {n_v}")
    if n_v + op.n_hidden > 2 * MAX_ENUMERATED_UNITS:
        raise ValueError(f"{n_v} visible + {op.n_hidden} hidden spins are too many to enumerate")
    v = spin_configurations(n_v)
    n_hconf = 1 << op.n_hidden
    chunk = max(1, min(n_hconf, CHUNK_ENTRIES // v.shape[0]))
    h_rg = np.empty(n_hconf)
    log_trace = np.full(v.shape[0], -np.inf)
    all_h = spin_configurations(check_count(op.n_hidden, "n_hidden"))
    for start in range(0, n_hconf, chunk):
        stop = min(n_hconf, start + chunk)
        h = all_h[start:stop]
        t = np.asarray(op.func(v, h), dtype=np.float64)
        if t.shape != (v.shape[0], stop - start):
            raise ValueError(f"operator returned shape {t.shape}, expected {(v.shape[0], stop - start)}")
        h_rg[start:stop] = -logsumexp(t - h_v[:, None], axis=0)
        log_trace = np.logaddexp(log_trace, logsumexp(t, axis=1))
    f_v = -log_partition(h_v)
    f_h = -log_partition(h_rg)
    return CoarseGrainResult(hamiltonian=h_rg, log_trace=log_trace,
                             trace_residual=float(np.max(np.abs(log_trace))),
                             free_energy_visible=f_v, free_energy_hidden=f_h,
                             free_energy_shift=f_h - f_v)

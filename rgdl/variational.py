r"""The variational renormalization group and its exact mapping to RBMs, by exact enumeration.

For systems small enough to enumerate (up to about 20 visible plus hidden spins) this module
computes, in log space and to machine precision, every object of the variational-RG formalism
of Kadanoff and of Mehta & Schwab (2014), and the quantities that measure how far a (learned or
constructed) restricted Boltzmann machine is from an exact RG step.

Formalism (Mehta & Schwab 2014, Sec. II-III; Kadanoff, Houghton & Yalabik 1976)
--------------------------------------------------------------------------------
A fine ("visible") system of spins :math:`v` has the dimensionless Hamiltonian :math:`H(v)`
(Boltzmann weight :math:`e^{-H(v)}`; for the Ising model :math:`H = -K\sum_{\langle ij\rangle}
v_i v_j - h\sum_i v_i` with :math:`K = J/T`, docs/CONTRACTS.md). A variational RG step is a
real operator :math:`T_\lambda(v, h)` coupling :math:`v` to coarse ("hidden") spins :math:`h`:

.. math::  e^{-H^{RG}_\lambda[h]} = \operatorname{Tr}_v\, e^{T_\lambda(v,h) - H(v)} .

The step is *exact* (preserves the free energy, :math:`F_h = F_v`) when the trace condition
:math:`\operatorname{Tr}_h e^{T_\lambda(v,h)} = 1` holds for every :math:`v`. (Mehta & Schwab's
Eq. 8 states an equivalence; only the implication holds, see arXiv:1609.03541.) We report the
trace residual :math:`\max_v |\log \operatorname{Tr}_h e^{T_\lambda(v,h)}|` and the free-energy
shift :math:`\Delta F = F_h - F_v` with :math:`F = -\log Z`.

RBM mapping (Mehta & Schwab 2014, Eqs. 13-21)
---------------------------------------------
An RBM with energy :math:`E(v,h) = \sum_j b_j h_j + \sum_{ij} v_i w_{ij} h_j + \sum_i c_i v_i`
(the paper's sign convention, docs/CONTRACTS.md) defines :math:`p_\lambda(v,h) = e^{-E}/Z`, the
marginals :math:`p_\lambda(v) = e^{-F(v)}/Z` and :math:`p_\lambda(h) = e^{-H^{RBM}_\lambda[h]}/Z`.
Choosing :math:`T_\lambda(v,h) = -E(v,h) + H(v)` gives

.. math::  e^{-H^{RG}_\lambda[h]} = \operatorname{Tr}_v e^{-E(v,h)} = e^{-H^{RBM}_\lambda[h]}
   \qquad\text{(their Eq. 21)}

for every :math:`\lambda`, and :math:`\operatorname{Tr}_h e^{T_\lambda} = e^{H(v) - F(v)}`, so the
RG step is exact iff :math:`F(v) = H(v)`; up to the free-energy constant this is
:math:`\mathrm{KL}(P(v)\,\|\,p_\lambda(v)) = 0` with :math:`P = e^{-H}/Z_v`.
:func:`rbm_mapping_check` evaluates both sides of Eq. 21 along *independent* computational paths
(a brute-force double trace of :math:`e^{T - H}` versus the closed-form hidden free energy) and the
exact KL divergence in nats per visible spin.

Enumeration order
-----------------
All functions index configurations of ``n`` units by an integer ``k`` in ``[0, 2**n)``; unit ``i``
of configuration ``k`` is "up" (+1 spin, 1 binary) iff bit ``i`` of ``k`` is set
(:func:`spin_configurations`). A Hamiltonian over ``n`` spins is therefore a float array of
length ``2**n``, the same for spin and binary units. Lattice shapes are ``(L,)`` (periodic chain)
or ``(L, M)`` (periodic 2D), flattened in C order.

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
L. P. Kadanoff, A. Houghton and M. C. Yalabik, "Variational approximations for
renormalization group transformations", J. Stat. Phys. 14, 171 (1976).
K. G. Wilson, "The renormalization group: critical phenomena and the Kondo problem",
Rev. Mod. Phys. 47, 773 (1975).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp

from rbm import maths

log = logging.getLogger(__name__)

#: Largest number of units enumerated in one configuration list (2**24 rows of int8).
MAX_ENUMERATED_UNITS = 24
#: Largest joint table (visible configurations x one chunk of hidden configurations) built at once.
_CHUNK_ENTRIES = 1 << 21

_TERMS_1D = ("field", "nn", "nnn")
_TERMS_2D = ("field", "nn", "nnn", "plaquette")


# --------------------------------------------------------------------------------------------
# enumeration helpers
# --------------------------------------------------------------------------------------------
def _check_count(n, what="number of units", limit=MAX_ENUMERATED_UNITS) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"{what} must be >= 1, got {n}")
    if n > limit:
        raise ValueError(f"{what} = {n} is too large to enumerate (at most {limit})")
    return n


def spin_configurations(n: int, units: str = "spin") -> np.ndarray:
    """All ``2**n`` configurations of ``n`` two-state units.

    Parameters
    ----------
    n : int
        Number of units, ``1 <= n <= MAX_ENUMERATED_UNITS``.
    units : {"spin", "binary"}
        ``"spin"`` gives values in {-1, +1}, ``"binary"`` in {0, 1}.

    Returns
    -------
    ndarray of int8, shape (2**n, n)
        Row ``k`` has unit ``i`` up iff bit ``i`` of ``k`` is set.
    """
    n = _check_count(n)
    return maths.configurations(n, maths.check_units(units), dtype=np.int8)


def _n_from_table(length: int, what: str) -> int:
    n = int(length).bit_length() - 1
    if length < 2 or (1 << n) != length:
        raise ValueError(f"{what} must have length 2**n (one entry per configuration), got {length}")
    return n


def as_hamiltonian(hamiltonian, what="hamiltonian") -> tuple[np.ndarray, int]:
    arr = np.asarray(hamiltonian, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array over all configurations, got shape {arr.shape}")
    n = _n_from_table(arr.size, what)
    if np.isnan(arr).any() or np.isneginf(arr).any():
        raise ValueError(f"{what} must not contain NaN or -inf")
    return arr, n


def lattice_shape(shape) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (L,) or (L, M) of integers, got {shape!r}") from None
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise ValueError(f"shape must be (L,) or (L, M) with sides >= 2, got {shape}")
    return shape


# --------------------------------------------------------------------------------------------
# Ising Hamiltonians and lattice features
# --------------------------------------------------------------------------------------------
def lattice_features(configs: np.ndarray, shape, terms) -> np.ndarray:
    r"""Translation-invariant spin products summed over a periodic lattice.

    For each configuration returns one column per term:

    * ``"field"``: :math:`\sum_i s_i`;
    * ``"nn"``: 1D :math:`\sum_i s_i s_{i+1}`; 2D :math:`\sum_i s_i(s_{i+\hat x} + s_{i+\hat y})`;
    * ``"nnn"``: 1D :math:`\sum_i s_i s_{i+2}`; 2D :math:`\sum_i s_i(s_{i+\hat x+\hat y} +
      s_{i+\hat x-\hat y})`;
    * ``"plaquette"`` (2D): :math:`\sum_i s_i s_{i+\hat x} s_{i+\hat y} s_{i+\hat x+\hat y}`.

    Sums run over all sites with periodic wrap (``np.roll``), so on a side of length 2 a bond is
    counted twice, exactly as the periodic Hamiltonian of docs/CONTRACTS.md counts it.

    Parameters
    ----------
    configs : ndarray, shape (n_conf, prod(shape))
        Spin configurations in {-1, +1}.
    shape : tuple
        ``(L,)`` or ``(L, M)``.
    terms : sequence of str

    Returns
    -------
    ndarray of float64, shape (n_conf, len(terms))
    """
    shape = lattice_shape(shape)
    s = np.asarray(configs, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != int(np.prod(shape)):
        raise ValueError(f"configs must have shape (n_conf, {int(np.prod(shape))}), got {s.shape}")
    s = s.reshape((s.shape[0],) + shape)
    axes = tuple(range(1, s.ndim))
    allowed = _TERMS_1D if len(shape) == 1 else _TERMS_2D
    cols = []
    for term in terms:
        if term not in allowed:
            raise ValueError(f"unknown coupling term {term!r} for a {len(shape)}D lattice; "
                             f"choose from {allowed}")
        if term == "field":
            prod = s
        elif len(shape) == 1:
            shift = 1 if term == "nn" else 2
            prod = s * np.roll(s, -shift, axis=1)
        elif term == "nn":
            prod = s * (np.roll(s, -1, axis=1) + np.roll(s, -1, axis=2))
        elif term == "nnn":
            down = np.roll(s, -1, axis=1)
            prod = s * (np.roll(down, -1, axis=2) + np.roll(down, 1, axis=2))
        else:  # plaquette
            right = np.roll(s, -1, axis=2)
            down = np.roll(s, -1, axis=1)
            prod = s * right * down * np.roll(right, -1, axis=1)
        cols.append(prod.sum(axis=axes))
    return np.stack(cols, axis=1) if cols else np.zeros((s.shape[0], 0))


def ising_hamiltonian(shape, coupling: float, field: float = 0.0,
                      next_coupling: float = 0.0) -> np.ndarray:
    r"""Dimensionless periodic Ising Hamiltonian over all configurations of a small lattice.

    .. math:: H(s) = -K \sum_{\langle ij\rangle} s_i s_j - K_2 \sum_{\langle\langle ij\rangle\rangle}
              s_i s_j - h \sum_i s_i,

    with :math:`K = J/T` (``coupling``), :math:`h` = field/T and the sums of
    :func:`lattice_features` (docs/CONTRACTS.md conventions). Weight :math:`e^{-H}`.

    Returns
    -------
    ndarray of float64, shape (2**N,), N = prod(shape), in the order of :func:`spin_configurations`.
    """
    shape = lattice_shape(shape)
    for name, value in (("coupling", coupling), ("field", field), ("next_coupling", next_coupling)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    n = int(np.prod(shape))
    configs = spin_configurations(n)
    phi = lattice_features(configs, shape, ("nn", "nnn", "field"))
    return -(coupling * phi[:, 0] + next_coupling * phi[:, 1] + field * phi[:, 2])


def log_partition(hamiltonian) -> float:
    """``log Z = log sum_s exp(-H(s))`` of a Hamiltonian given over all configurations."""
    arr, _ = as_hamiltonian(hamiltonian)
    return float(logsumexp(-arr))


def boltzmann_probabilities(hamiltonian) -> np.ndarray:
    """Exact Boltzmann probabilities ``exp(-H)/Z`` over all configurations."""
    arr, _ = as_hamiltonian(hamiltonian)
    return np.exp(-arr - logsumexp(-arr))


def sample_exact(hamiltonian, n_samples: int, seed=None, units: str = "spin") -> np.ndarray:
    """Independent exact samples from ``exp(-H)/Z`` by enumeration.

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**n,)
    n_samples : int
    seed : int, SeedSequence or None
        Seeds a private ``numpy.random.default_rng``; no global state is used.
    units : {"spin", "binary"}

    Returns
    -------
    ndarray of int8, shape (n_samples, n)
    """
    arr, n = as_hamiltonian(hamiltonian)
    maths.check_units(units)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(boltzmann_probabilities(arr))
    idx = np.searchsorted(cdf, rng.random(int(n_samples)) * cdf[-1], side="right")
    idx = np.minimum(idx, arr.size - 1)
    bits = ((idx[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int8)
    return bits if units == "binary" else (2 * bits - 1).astype(np.int8)


def configuration_index(configs) -> np.ndarray:
    """Inverse of :func:`spin_configurations`: the integer index of each row (spin or binary)."""
    c = np.asarray(configs)
    if c.ndim != 2:
        raise ValueError(f"configs must be 2-D (n_conf, n), got shape {c.shape}")
    up = (c > 0).astype(np.int64)
    return (up << np.arange(c.shape[1], dtype=np.int64)[None, :]).sum(axis=1)


# --------------------------------------------------------------------------------------------
# coupling extraction
# --------------------------------------------------------------------------------------------
@dataclass
class CouplingFit:
    r"""Least-squares effective Hamiltonian :math:`H \approx H_0 - \sum_a K_a \phi_a(s)`.

    Attributes
    ----------
    couplings : dict
        Term name -> dimensionless coupling :math:`K_a` (positive = ferromagnetic / field up).
    constant : float
        :math:`H_0`.
    residual_max, residual_rms : float
        Max and root-mean-square of :math:`H - H_{fit}` over all configurations (uniform weight):
        what the chosen terms miss. Exactly representable Hamiltonians give ~1e-15.
    residual_weighted : float
        RMS residual weighted by the Boltzmann probabilities :math:`e^{-H}/Z`.
    shape : tuple
    """

    couplings: dict
    constant: float
    residual_max: float
    residual_rms: float
    residual_weighted: float
    shape: tuple = field(default=())

    def __getitem__(self, key):
        return self.couplings[key]


def default_terms(shape) -> tuple[str, ...]:
    """The terms of :func:`lattice_features` that are linearly independent on ``shape``.

    Drops e.g. ``"nnn"`` on chains shorter than 4 (where it duplicates ``"nn"`` or a constant).
    """
    shape = lattice_shape(shape)
    candidates = _TERMS_1D if len(shape) == 1 else _TERMS_2D
    configs = spin_configurations(int(np.prod(shape)))
    chosen: list[str] = []
    base = np.ones((configs.shape[0], 1))
    for term in candidates:
        trial = np.hstack([base, lattice_features(configs, shape, chosen + [term])])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            chosen.append(term)
    return tuple(chosen)


def fit_couplings(hamiltonian, shape, terms=None) -> CouplingFit:
    r"""Fit an effective translation-invariant Hamiltonian to an exactly known one.

    Solves the ordinary least-squares problem over *all* :math:`2^N` configurations

    .. math:: \min_{H_0, K} \sum_s \Big(H(s) - H_0 + \sum_a K_a \phi_a(s)\Big)^2

    with the features :math:`\phi_a` of :func:`lattice_features` (field, nearest-neighbour,
    next-nearest-neighbour and, in 2D, plaquette products). The log-weight is
    :math:`-H`; an exactly nearest-neighbour Ising Hamiltonian is recovered with zero residual.
    This is how coarse-grained couplings are read off in real-space RG studies by enumeration
    (e.g. Swendsen's linearisation, Wilson 1975).

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**N,)
        Dimensionless Hamiltonian (minus the log-weight, any additive constant).
    shape : tuple
        Lattice, ``(L,)`` or ``(L, M)``, ``prod(shape) = N``.
    terms : sequence of str, optional
        Default :func:`default_terms` (all independent ones). Dependent terms raise ValueError.

    Returns
    -------
    CouplingFit
    """
    arr, n = as_hamiltonian(hamiltonian)
    shape = lattice_shape(shape)
    if int(np.prod(shape)) != n:
        raise ValueError(f"hamiltonian has 2**{n} entries but shape {shape} has {int(np.prod(shape))} spins")
    if not np.all(np.isfinite(arr)):
        raise ValueError("hamiltonian must be finite to fit couplings")
    terms = default_terms(shape) if terms is None else tuple(terms)
    configs = spin_configurations(n)
    design = np.hstack([np.ones((arr.size, 1)), -lattice_features(configs, shape, terms)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(f"terms {terms} are linearly dependent on a periodic lattice of shape {shape}; "
                         f"use default_terms(shape) = {default_terms(shape)}")
    coef, *_ = np.linalg.lstsq(design, arr, rcond=None)
    resid = arr - design @ coef
    prob = boltzmann_probabilities(arr)
    return CouplingFit(couplings={t: float(c) for t, c in zip(terms, coef[1:])},
                       constant=float(coef[0]),
                       residual_max=float(np.max(np.abs(resid))),
                       residual_rms=float(np.sqrt(np.mean(resid ** 2))),
                       residual_weighted=float(np.sqrt(np.sum(prob * (resid - prob @ resid) ** 2))),
                       shape=shape)


# --------------------------------------------------------------------------------------------
# variational RG operators
# --------------------------------------------------------------------------------------------
class VariationalOperator(NamedTuple):
    r"""A variational-RG operator :math:`T_\lambda(v, h)` on enumerable systems.

    ``func(v, h)`` takes visible configurations ``v`` (n_v_conf, n_visible) and hidden
    configurations ``h`` (n_h_conf, n_hidden), both int8 spins in {-1, +1}, and returns the
    float64 table ``T[v, h]`` of shape (n_v_conf, n_h_conf); ``-inf`` means zero weight.
    """

    func: Callable[[np.ndarray, np.ndarray], np.ndarray]
    n_visible: int
    n_hidden: int
    name: str = "operator"


def table_operator(table) -> VariationalOperator:
    """Wrap a full table ``T[v_index, h_index]`` (shape (2**n_v, 2**n_h)) as an operator."""
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"operator table must be 2-D (2**n_visible, 2**n_hidden), got {t.shape}")
    n_v = _n_from_table(t.shape[0], "operator table rows")
    n_h = _n_from_table(t.shape[1], "operator table columns")
    if np.isnan(t).any() or np.isposinf(t).any():
        raise ValueError("operator table must not contain NaN or +inf")

    def func(v, h):
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
    n_visible = _check_count(n_visible, "n_visible")
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"strength must be finite and >= 0, got {strength}")
    if stride < 1 or n_visible % stride or not 0 <= offset < stride:
        raise ValueError(f"n_visible = {n_visible} must be a multiple of stride = {stride}, "
                         f"with 0 <= offset < stride")
    sites = np.arange(offset, n_visible, stride)
    lam = float(strength)
    log_norm = float(maths.unit_log_partition(lam, "spin"))  # log 2cosh(lambda)

    def func(v, h):
        kept = np.asarray(v, dtype=np.float64)[:, sites]
        return lam * (kept @ np.asarray(h, dtype=np.float64).T) - sites.size * log_norm

    return VariationalOperator(func, n_visible, sites.size, f"soft decimation (lambda={lam:g})")


def majority_operator(shape, block: int) -> VariationalOperator:
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

    def func(v, h):
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

    hamiltonian: np.ndarray
    log_trace: np.ndarray
    trace_residual: float
    free_energy_visible: float
    free_energy_hidden: float
    free_energy_shift: float


def _as_operator(operator) -> VariationalOperator:
    if isinstance(operator, VariationalOperator):
        return operator
    if isinstance(operator, np.ndarray) or isinstance(operator, (list, tuple)):
        return table_operator(operator)
    raise ValueError("operator must be a VariationalOperator or a 2-D table T[v, h]")


def coarse_grain(hamiltonian, operator) -> CoarseGrainResult:
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
    chunk = max(1, min(n_hconf, _CHUNK_ENTRIES // v.shape[0]))
    h_rg = np.empty(n_hconf)
    log_trace = np.full(v.shape[0], -np.inf)
    all_h = spin_configurations(_check_count(op.n_hidden, "n_hidden"))
    for start in range(0, n_hconf, chunk):
        stop = min(n_hconf, start + chunk)
        h = all_h[start:stop]
        t = np.asarray(op.func(v, h), dtype=np.float64)
        if t.shape != (v.shape[0], stop - start):
            raise ValueError(f"operator returned shape {t.shape}, expected {(v.shape[0], stop - start)}")
        h_rg[start:stop] = -logsumexp(t - h_v[:, None], axis=0)
        log_trace = np.logaddexp(log_trace, logsumexp(t, axis=1))
    f_v = -float(logsumexp(-h_v))
    f_h = -float(logsumexp(-h_rg))
    return CoarseGrainResult(hamiltonian=h_rg, log_trace=log_trace,
                             trace_residual=float(np.max(np.abs(log_trace))),
                             free_energy_visible=f_v, free_energy_hidden=f_h,
                             free_energy_shift=f_h - f_v)


# --------------------------------------------------------------------------------------------
# RBMs
# --------------------------------------------------------------------------------------------
def _check_rbm(weights, visible_bias, hidden_bias, units):
    maths.check_units(units)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (n_visible, n_hidden), got shape {w.shape}")
    c = np.zeros(w.shape[0]) if visible_bias is None else np.asarray(visible_bias, dtype=np.float64)
    b = np.zeros(w.shape[1]) if hidden_bias is None else np.asarray(hidden_bias, dtype=np.float64)
    if c.shape != (w.shape[0],) or b.shape != (w.shape[1],):
        raise ValueError(f"biases must have shapes ({w.shape[0]},) and ({w.shape[1]},), "
                         f"got {c.shape} and {b.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(c)) and np.all(np.isfinite(b))):
        raise ValueError("RBM parameters must be finite")
    return w, c, b


def rbm_energy(v, h, weights, visible_bias=None, hidden_bias=None) -> np.ndarray:
    r"""RBM energy :math:`E(v,h) = b\cdot h + v W h + c\cdot v` for every pair (v[a], h[b]).

    Returns an array of shape (len(v), len(h)).
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, "spin")
    return maths.energy_matrix(np.asarray(v, dtype=np.float64), np.asarray(h, dtype=np.float64),
                               w, c, b)


def rbm_visible_free_energy(v, weights, visible_bias=None, hidden_bias=None, units="spin"):
    r"""Visible free energy :math:`F(v) = -\log\sum_h e^{-E(v,h)}` (docs/CONTRACTS.md).

    Spin units: :math:`c\cdot v - \sum_j \log 2\cosh(b + vW)_j`; binary:
    :math:`c\cdot v - \sum_j \mathrm{softplus}(-(b+vW)_j)`.
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    return maths.free_energy_visible(np.asarray(v, dtype=np.float64), w, c, b, units)


def rbm_hidden_free_energy(h, weights, visible_bias=None, hidden_bias=None, units="spin"):
    r"""Hidden free energy :math:`H^{RBM}_\lambda[h] = -\log\sum_v e^{-E(v,h)}` (Mehta & Schwab
    Eq. 19): spin units :math:`b\cdot h - \sum_i \log 2\cosh(c + Wh)_i`."""
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    return maths.free_energy_hidden(np.asarray(h, dtype=np.float64), w, c, b, units)


def rbm_log_partition(weights, visible_bias=None, hidden_bias=None, units="spin") -> float:
    """Exact ``log Z`` of an RBM, enumerating the smaller layer (:func:`rbm.maths.log_partition_exact`)."""
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    _check_count(min(w.shape), "n_hidden" if w.shape[1] <= w.shape[0] else "n_visible")
    return float(maths.log_partition_exact(w, c, b, units))


def rbm_hidden_hamiltonian(weights, visible_bias=None, hidden_bias=None, units="spin",
                           keep=None) -> np.ndarray:
    r"""The RBM's hidden-layer Hamiltonian :math:`H^{RBM}_\lambda[h]` over all hidden configurations.

    With ``keep`` (indices of hidden units) the other hidden units are traced out as well:
    :math:`H[h_K] = -\log\sum_v\sum_{h_{\bar K}} e^{-E}`, computed by enumerating the visible
    layer and the kept units (the traced units are summed in closed form).

    Returns
    -------
    ndarray, shape (2**n_kept,), in the order of :func:`spin_configurations`
    (units "up" = +1 or 1).
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    if keep is None:
        h = spin_configurations(_check_count(w.shape[1], "n_hidden"), units)
        return rbm_hidden_free_energy(h, w, c, b, units)
    keep = np.asarray(keep, dtype=np.int64).ravel()
    if keep.size == 0 or np.unique(keep).size != keep.size or keep.min() < 0 or keep.max() >= w.shape[1]:
        raise ValueError(f"keep must be distinct hidden-unit indices in [0, {w.shape[1]})")
    rest = np.setdiff1d(np.arange(w.shape[1]), keep)
    v = spin_configurations(_check_count(w.shape[0], "n_visible"), units).astype(np.float64)
    hk = spin_configurations(_check_count(keep.size, "number of kept units"), units).astype(np.float64)
    _check_count(w.shape[0] + keep.size, "n_visible + kept hidden units")
    # -log sum over traced units, per visible configuration
    base = maths.free_energy_visible(v, w[:, rest], c, b[rest], units)
    out = np.empty(hk.shape[0])
    chunk = max(1, _CHUNK_ENTRIES // v.shape[0])
    for start in range(0, hk.shape[0], chunk):
        part = hk[start:start + chunk]
        e = base[:, None] + (part @ b[keep])[None, :] + v @ w[:, keep] @ part.T
        out[start:start + chunk] = -logsumexp(-e, axis=0)
    return out


def rbm_operator(hamiltonian, weights, visible_bias=None, hidden_bias=None,
                 units="spin") -> VariationalOperator:
    r"""The operator :math:`T_\lambda(v,h) = -E(v,h) + H(v)` of Mehta & Schwab (their Eq. 20).

    Built as an explicit table so that :func:`coarse_grain` evaluates
    :math:`\operatorname{Tr}_v e^{T - H}` by brute force, independently of the closed forms.
    """
    h_v, n_v = as_hamiltonian(hamiltonian)
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    if w.shape[0] != n_v:
        raise ValueError(f"RBM has {w.shape[0]} visible units but the hamiltonian has {n_v} spins")
    _check_count(n_v + w.shape[1], "n_visible + n_hidden")
    v_units = spin_configurations(n_v, units).astype(np.float64)

    def func(v, h):
        idx = configuration_index(v)
        hu = (np.asarray(h) > 0).astype(np.float64) if units == "binary" else np.asarray(h, np.float64)
        energy = maths.energy_matrix(v_units[idx], hu, w, c, b)
        return -energy + h_v[idx][:, None]

    return VariationalOperator(func, n_v, w.shape[1], "RBM: T = -E + H")


def rbm_encoder_operator(weights, visible_bias=None, hidden_bias=None,
                         units="spin") -> VariationalOperator:
    r"""The RBM's encoder as an RG operator, :math:`T(v,h) = \log p_\lambda(h\mid v)`.

    :math:`p(h|v) = e^{-E(v,h)}/e^{-F(v)} = \prod_j e^{-a_j h_j}/\sum_{u} e^{-a_j u}` with
    :math:`a = b + vW`, so :math:`\operatorname{Tr}_h e^{T} = 1` exactly: the coarse Hamiltonian
    :math:`H^{RG}[h] = -\log\sum_v P(v)p(h|v)` (up to :math:`\log Z_v`) is the distribution of the
    hidden activations driven by the data, which a deep belief net feeds to its next layer
    (Hinton, Osindero & Teh 2006). Unlike :func:`rbm_operator` it is exact for any RBM; the
    difference measures how far the RBM's own marginal :math:`p_\lambda(v)` is from the data.
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    n_v = _check_count(w.shape[0], "n_visible")
    v_units = spin_configurations(n_v, units).astype(np.float64)

    def func(v, h):
        a = maths.hidden_field(v_units[configuration_index(v)], w, b)
        hu = (np.asarray(h) > 0).astype(np.float64) if units == "binary" else np.asarray(h, np.float64)
        return -(a @ hu.T) - maths.unit_log_partition(a, units).sum(axis=1)[:, None]

    return VariationalOperator(func, n_v, w.shape[1], "RBM encoder: T = log p(h|v)")


def kl_divergence(hamiltonian, weights, visible_bias=None, hidden_bias=None, units="spin",
                  per_spin: bool = True) -> float:
    r"""Exact :math:`\mathrm{KL}(P(v)\,\|\,p_\lambda(v))` between :math:`P = e^{-H}/Z_v` and the
    RBM's visible marginal, in nats (per visible spin by default).

    Mehta & Schwab (Sec. III): the RBM realises an exact RG step iff this vanishes (up to the
    free-energy constant, see :func:`rbm_mapping_check`).
    """
    h_v, n_v = as_hamiltonian(hamiltonian)
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    if w.shape[0] != n_v:
        raise ValueError(f"RBM has {w.shape[0]} visible units but the hamiltonian has {n_v} spins")
    v = spin_configurations(n_v, units)
    log_p_data = -h_v - logsumexp(-h_v)
    f = rbm_visible_free_energy(v, w, c, b, units)
    log_p_model = -f - logsumexp(-f)
    kl = float(np.sum(np.exp(log_p_data) * (log_p_data - log_p_model)))
    kl = max(kl, 0.0) if kl > -1e-12 else kl
    return kl / n_v if per_spin else kl


@dataclass
class RBMMappingResult:
    r"""Both sides of Mehta & Schwab's Eq. 21 and the exactness measures of one RBM layer.

    Attributes
    ----------
    hamiltonian_rg : ndarray
        :math:`H^{RG}_\lambda[h]` by brute-force trace of :math:`e^{T - H}`, :math:`T = -E + H`.
    hamiltonian_rbm : ndarray
        :math:`H^{RBM}_\lambda[h]` from the closed-form hidden free energy.
    max_abs_difference : float
        :math:`\max_h |H^{RG} - H^{RBM}|` (Eq. 21 says 0).
    kl_per_spin : float
        :math:`\mathrm{KL}(P\|p_\lambda)/N_v` in nats.
    trace_residual : float
        :math:`\max_v|\log\operatorname{Tr}_h e^{T}| = \max_v |H(v) - F(v)|`.
    trace_spread : float
        :math:`\max_v - \min_v` of :math:`\log\operatorname{Tr}_h e^{T}`: 0 iff KL = 0 (an exact
        RG step up to a constant free-energy shift).
    free_energy_shift : float
        :math:`F_h - F_v`.
    """

    hamiltonian_rg: np.ndarray
    hamiltonian_rbm: np.ndarray
    max_abs_difference: float
    kl_per_spin: float
    trace_residual: float
    trace_spread: float
    free_energy_shift: float


def rbm_mapping_check(hamiltonian, weights, visible_bias=None, hidden_bias=None,
                      units="spin") -> RBMMappingResult:
    r"""Verify :math:`H^{RG}_\lambda = H^{RBM}_\lambda` (Mehta & Schwab Eq. 21) for one RBM.

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**n_visible,)
        Any dimensionless :math:`H(v)` over the visible configurations.
    weights, visible_bias, hidden_bias : ndarray
        RBM parameters in the sign convention of docs/CONTRACTS.md.
    units : {"spin", "binary"}

    Returns
    -------
    RBMMappingResult
    """
    h_v, _ = as_hamiltonian(hamiltonian)
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    cg = coarse_grain(h_v, rbm_operator(h_v, w, c, b, units))
    h_rbm = rbm_hidden_hamiltonian(w, c, b, units)
    return RBMMappingResult(hamiltonian_rg=cg.hamiltonian, hamiltonian_rbm=h_rbm,
                            max_abs_difference=float(np.max(np.abs(cg.hamiltonian - h_rbm))),
                            kl_per_spin=kl_divergence(h_v, w, c, b, units),
                            trace_residual=cg.trace_residual,
                            trace_spread=float(np.ptp(cg.log_trace)),
                            free_energy_shift=cg.free_energy_shift)

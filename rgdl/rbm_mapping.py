r"""RBMs as variational-RG steps (Mehta & Schwab 2014, Eqs. 13-21), by exact enumeration.

The RBM's energies and free energies are those of :mod:`rbm.maths` (sign convention of
docs/CONTRACTS.md, :math:`E(v,h) = b\cdot h + v W h + c\cdot v`); this module validates
parameters (biases default to zero), tabulates the hidden Hamiltonian
:math:`H^{RBM}_\lambda[h]`, builds the operators :math:`T = -E + H` (:func:`rbm_operator`) and
:math:`T = \log p(h|v)` (:func:`rbm_encoder_operator`), and checks Eq. 21 along independent paths
(:func:`rbm_mapping_check`). The formalism is described in :mod:`rgdl.variational`.

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray
from scipy.special import logsumexp

from rbm import maths
from rbm.partition import log_marginal_visible
from rgdl.enumeration import (CHUNK_ENTRIES, as_hamiltonian, check_count, configuration_index,
                              log_partition, spin_configurations)
from rgdl.rg_operators import VariationalOperator, coarse_grain

__all__ = ["rbm_energy", "rbm_visible_free_energy", "rbm_hidden_free_energy",
           "rbm_log_partition", "rbm_hidden_hamiltonian", "rbm_operator",
           "rbm_encoder_operator", "kl_divergence", "RBMMappingResult", "rbm_mapping_check"]


def _check_rbm(weights: npt.ArrayLike, visible_bias: npt.ArrayLike | None,
               hidden_bias: npt.ArrayLike | None, units: str
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
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


def rbm_energy(v: npt.ArrayLike, h: npt.ArrayLike, weights: npt.ArrayLike,
               visible_bias: npt.ArrayLike | None = None,
               hidden_bias: npt.ArrayLike | None = None) -> NDArray[np.float64]:
    r"""RBM energy :math:`E(v,h) = b\cdot h + v W h + c\cdot v` for every pair (v[a], h[b]).

    Returns an array of shape (len(v), len(h)).
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, "spin")
    return maths.energy_matrix(np.asarray(v, dtype=np.float64), np.asarray(h, dtype=np.float64),
                               w, c, b)


def rbm_visible_free_energy(v: npt.ArrayLike, weights: npt.ArrayLike,
                            visible_bias: npt.ArrayLike | None = None,
                            hidden_bias: npt.ArrayLike | None = None,
                            units: str = "spin") -> NDArray[np.float64]:
    r"""Visible free energy :math:`F(v) = -\log\sum_h e^{-E(v,h)}` (docs/CONTRACTS.md).

    Spin units: :math:`c\cdot v - \sum_j \log 2\cosh(b + vW)_j`; binary:
    :math:`c\cdot v - \sum_j \mathrm{softplus}(-(b+vW)_j)`.
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    return maths.free_energy_visible(np.asarray(v, dtype=np.float64), w, c, b, units)


def rbm_hidden_free_energy(h: npt.ArrayLike, weights: npt.ArrayLike,
                           visible_bias: npt.ArrayLike | None = None,
                           hidden_bias: npt.ArrayLike | None = None,
                           units: str = "spin") -> NDArray[np.float64]:
    r"""Hidden free energy :math:`H^{RBM}_\lambda[h] = -\log\sum_v e^{-E(v,h)}` (Mehta & Schwab
    Eq. 19): spin units :math:`b\cdot h - \sum_i \log 2\cosh(c + Wh)_i`."""
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    return maths.free_energy_hidden(np.asarray(h, dtype=np.float64), w, c, b, units)


def rbm_log_partition(weights: npt.ArrayLike, visible_bias: npt.ArrayLike | None = None,
                      hidden_bias: npt.ArrayLike | None = None, units: str = "spin") -> float:
    """Exact ``log Z`` of an RBM, enumerating the smaller layer (:func:`rbm.maths.log_partition_exact`)."""
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    check_count(min(w.shape), "n_hidden" if w.shape[1] <= w.shape[0] else "n_visible")
    return float(maths.log_partition_exact(w, c, b, units))


def rbm_hidden_hamiltonian(weights: npt.ArrayLike, visible_bias: npt.ArrayLike | None = None,
                           hidden_bias: npt.ArrayLike | None = None, units: str = "spin",
                           keep: npt.ArrayLike | None = None) -> NDArray[np.float64]:
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
        h = spin_configurations(check_count(w.shape[1], "n_hidden"), units)
        return rbm_hidden_free_energy(h, w, c, b, units)
    keep = np.asarray(keep, dtype=np.int64).ravel()
    if keep.size == 0 or np.unique(keep).size != keep.size or keep.min() < 0 or keep.max() >= w.shape[1]:
        raise ValueError(f"keep must be distinct hidden-unit indices in [0, {w.shape[1]})")
    rest = np.setdiff1d(np.arange(w.shape[1]), keep)
    v = spin_configurations(check_count(w.shape[0], "n_visible"), units).astype(np.float64)
    hk = spin_configurations(check_count(keep.size, "number of kept units"), units).astype(np.float64)
    check_count(w.shape[0] + keep.size, "n_visible + kept hidden units")
    # log sum over the traced units, per visible configuration: sum_j g(b_j + (vW)_j), j traced
    traced = maths.unit_log_partition(maths.hidden_field(v, w[:, rest], b[rest]), units).sum(axis=1)
    out = np.empty(hk.shape[0])
    chunk = max(1, CHUNK_ENTRIES // v.shape[0])
    for start in range(0, hk.shape[0], chunk):
        part = hk[start:start + chunk]
        # E(v, h_K) with the traced units summed out
        e = maths.energy_matrix(v, part, w[:, keep], c, b[keep]) - traced[:, None]
        out[start:start + chunk] = -logsumexp(-e, axis=0)
    return out


def rbm_operator(hamiltonian: npt.ArrayLike, weights: npt.ArrayLike,
                 visible_bias: npt.ArrayLike | None = None,
                 hidden_bias: npt.ArrayLike | None = None,
                 units: str = "spin") -> VariationalOperator:
    r"""The operator :math:`T_\lambda(v,h) = -E(v,h) + H(v)` of Mehta & Schwab (their Eq. 20).

    Built as an explicit table so that :func:`coarse_grain` evaluates
    :math:`\operatorname{Tr}_v e^{T - H}` by brute force, independently of the closed forms.
    """
    h_v, n_v = as_hamiltonian(hamiltonian)
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    if w.shape[0] != n_v:
        raise ValueError(f"RBM has {w.shape[0]} visible units but the hamiltonian has {n_v} spins")
    check_count(n_v + w.shape[1], "n_visible + n_hidden")
    v_units = spin_configurations(n_v, units).astype(np.float64)

    def func(v: NDArray[np.int8], h: NDArray[np.int8]) -> NDArray[np.float64]:
        idx = configuration_index(v)
        hu = (np.asarray(h) > 0).astype(np.float64) if units == "binary" else np.asarray(h, np.float64)
        energy = maths.energy_matrix(v_units[idx], hu, w, c, b)
        return -energy + h_v[idx][:, None]

    return VariationalOperator(func, n_v, w.shape[1], "RBM: T = -E + H")


def rbm_encoder_operator(weights: npt.ArrayLike, visible_bias: npt.ArrayLike | None = None,
                         hidden_bias: npt.ArrayLike | None = None,
                         units: str = "spin") -> VariationalOperator:
    r"""The RBM's encoder as an RG operator, :math:`T(v,h) = \log p_\lambda(h\mid v)`.

    :math:`p(h|v) = e^{-E(v,h)}/e^{-F(v)} = \prod_j e^{-a_j h_j}/\sum_{u} e^{-a_j u}` with
    :math:`a = b + vW`, so :math:`\operatorname{Tr}_h e^{T} = 1` exactly: the coarse Hamiltonian
    :math:`H^{RG}[h] = -\log\sum_v P(v)p(h|v)` (up to :math:`\log Z_v`) is the distribution of the
    hidden activations driven by the data, which a deep belief net feeds to its next layer
    (Hinton, Osindero & Teh 2006). Unlike :func:`rbm_operator` it is exact for any RBM; the
    difference measures how far the RBM's own marginal :math:`p_\lambda(v)` is from the data.
    """
    w, c, b = _check_rbm(weights, visible_bias, hidden_bias, units)
    n_v = check_count(w.shape[0], "n_visible")
    v_units = spin_configurations(n_v, units).astype(np.float64)

    def func(v: NDArray[np.int8], h: NDArray[np.int8]) -> NDArray[np.float64]:
        a = maths.hidden_field(v_units[configuration_index(v)], w, b)
        hu = (np.asarray(h) > 0).astype(np.float64) if units == "binary" else np.asarray(h, np.float64)
        return -(a @ hu.T) - maths.unit_log_partition(a, units).sum(axis=1)[:, None]

    return VariationalOperator(func, n_v, w.shape[1], "RBM encoder: T = log p(h|v)")


def kl_divergence(hamiltonian: npt.ArrayLike, weights: npt.ArrayLike,
                  visible_bias: npt.ArrayLike | None = None,
                  hidden_bias: npt.ArrayLike | None = None, units: str = "spin",
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
    log_p_data = -h_v - log_partition(h_v)
    log_p_model = log_marginal_visible(spin_configurations(n_v, units), w, c, b, units)
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

    hamiltonian_rg: NDArray[np.float64]
    hamiltonian_rbm: NDArray[np.float64]
    max_abs_difference: float
    kl_per_spin: float
    trace_residual: float
    trace_spread: float
    free_energy_shift: float


def rbm_mapping_check(hamiltonian: npt.ArrayLike, weights: npt.ArrayLike,
                      visible_bias: npt.ArrayLike | None = None,
                      hidden_bias: npt.ArrayLike | None = None,
                      units: str = "spin") -> RBMMappingResult:
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

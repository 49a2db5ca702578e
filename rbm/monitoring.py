"""Per-epoch training metrics of :class:`rbm.RBM` (the ``history_`` record) and the
pseudo-log-likelihood estimators.

The pseudo-log-likelihood (Besag 1975) is sum_i log P(v_i | v_-i), with
P(v_i | v_-i) = sigma(F(v^(i)) - F(v)) where v^(i) is v with unit i flipped and F the free
energy of docs/CONTRACTS.md.

References
----------
J. Besag, "Statistical analysis of non-lattice data", The Statistician 24, 179 (1975).
G. E. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR 2010-003
(2010), sec. 5 (monitoring the progress of learning).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from rbm import _kernels as K
from rbm import maths, partition
from rbm._typing import Float64Array, FloatArray, History, IntArray, RBMLayer

__all__ = ["HISTORY_KEYS", "empty_history", "pll_exact", "pll_random", "monitor_indices",
           "monitor_metrics", "TrainingDivergedError"]

HISTORY_KEYS = ("epoch", "learning_rate", "momentum", "reconstruction_error",
                "pseudo_log_likelihood", "log_likelihood", "seconds")


class TrainingDivergedError(ValueError):
    """Training produced NaN or inf parameters or free energies (lower the learning rate)."""


def empty_history() -> History:
    """A fresh ``history_``: one empty list per metric."""
    return {k: [] for k in HISTORY_KEYS}


def pll_exact(v: FloatArray, act: FloatArray, weights: FloatArray, visible_bias: FloatArray,
              units: str) -> Float64Array:
    """Pseudo-log-likelihood summed over all sites, per row (float64, O(n V H)).

    ``act`` = b + vW are the hidden fields of the rows ``v``."""
    out = np.empty(v.shape[0])
    K.pseudo_log_likelihood_all_sites(np.ascontiguousarray(v, np.float64),
                                      np.ascontiguousarray(act, np.float64),
                                      np.ascontiguousarray(weights, np.float64),
                                      np.asarray(visible_bias, np.float64), units == "spin", out)
    return out


def pll_random(v: FloatArray, act: FloatArray, weights: FloatArray, visible_bias: FloatArray,
               units: str, rng: np.random.Generator) -> Float64Array:
    """One-site PLL estimator n_visible * log P(v_i | v_-i), i uniform per row (float64).

    Flipping site i shifts the fields ``act = b + vW`` by delta W[i] (delta = v_i' - v_i), so
    F(v') - F(v) = c_i delta - sum_j [g(act_j + delta W_ij) - g(act_j)] costs O(n_hidden).
    """
    n, nv = v.shape
    site = rng.integers(0, nv, size=n)
    rows = np.arange(n)
    vi = v[rows, site]
    delta = -2.0 * vi if units == "spin" else 1.0 - 2.0 * vi
    shifted = act + delta[:, None] * weights[site]
    g = maths.unit_log_partition
    diff = visible_bias[site] * delta - (g(shifted, units).sum(axis=1) - g(act, units).sum(axis=1))
    return -nv * np.logaddexp(0.0, -diff)


def monitor_indices(n: int, monitor_size: int, seed: np.random.SeedSequence) -> IntArray:
    """Sorted indices of the fixed monitoring subset (min(monitor_size, n) rows, drawn without
    replacement from ``seed``)."""
    m = min(monitor_size, n)
    if m == 0:
        return np.empty(0, np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=m, replace=False))


def monitor_metrics(model: RBMLayer, data: NDArray[Any], index: IntArray, p: dict[str, Any],
                    epoch: int, recon: float | None, seed: np.random.SeedSequence,
                    where: str = "") -> dict[str, float | None]:
    """The per-epoch metrics of ``model`` (a fitted :class:`rbm.RBM`) on ``data[index]``.

    Parameters
    ----------
    model : RBM
        The model being trained (``weights_``, ``visible_bias_``, ``hidden_bias_``, ``units``).
    data : ndarray (n_samples, n_visible)
        The training data of the fit.
    index : ndarray of int
        The monitoring subset (:func:`monitor_indices`); empty: only the divergence check.
    p : dict
        :func:`rbm.hyperparams.validate_rbm_params` (``monitor_pll``,
        ``monitor_exact_max_units``).
    epoch : int
        0-based epoch (for messages).
    recon : float or None
        The epoch's reconstruction error (None for PCD: computed here on the subset).
    seed : numpy.random.SeedSequence
        Stream of the random pseudo-likelihood estimate and of the PCD reconstruction.
    where : str
        Suffix of error messages (" in layer l").

    Returns
    -------
    dict
        ``reconstruction_error``, ``pseudo_log_likelihood`` and ``log_likelihood`` (None
        unless the smaller layer has at most ``monitor_exact_max_units`` units).

    Raises
    ------
    TrainingDivergedError
        Non-finite free energies.
    """
    units, W = model.units, model.weights_
    metrics = {"reconstruction_error": recon, "pseudo_log_likelihood": None,
               "log_likelihood": None}
    rng = np.random.default_rng(seed)
    if index.size == 0:
        sample = data[:min(10, data.shape[0])].astype(np.float64)  # divergence check only
        free = maths.free_energy_visible(sample, W.astype(np.float64),
                                         model.visible_bias_.astype(np.float64),
                                         model.hidden_bias_.astype(np.float64), units)
        _check_finite(free, epoch, where)
        return metrics
    sample = data[index].astype(W.dtype)
    v = sample.astype(np.float64)
    c = model.visible_bias_.astype(np.float64)  # the fields in the model's dtype (one BLAS
    act = (sample @ W).astype(np.float64) + model.hidden_bias_.astype(np.float64)  # product)
    free = maths.free_energy_visible(v, W, c, model.hidden_bias_, units, field=act)
    _check_finite(free, epoch, where)
    if p["monitor_pll"] == "random":
        pll = pll_random(v, act, W, c, units, rng)
    else:
        pll = pll_exact(v, act, W, c, units)
    metrics["pseudo_log_likelihood"] = float(np.mean(pll))
    if recon is None:  # PCD: reconstruct the monitoring samples, h ~ p(h | v), E[v | h]
        h = maths.sample_units_tanh(sample @ W, model.hidden_bias_, units, rng)
        mean_v = maths.unit_mean(maths.visible_field(h, W, model.visible_bias_), units)
        metrics["reconstruction_error"] = float(np.mean((sample - mean_v) ** 2))
    if min(W.shape) <= p["monitor_exact_max_units"]:
        log_z = partition.log_partition_exact(W, model.visible_bias_, model.hidden_bias_, units,
                                              max_units=p["monitor_exact_max_units"])
        metrics["log_likelihood"] = float(np.mean(-free - log_z))
    return metrics


def _check_finite(free: Float64Array, epoch: int, where: str) -> None:
    if not np.all(np.isfinite(free)):
        raise TrainingDivergedError(f"training diverged at epoch {epoch + 1}{where}: "
                              f"non-finite free energy")

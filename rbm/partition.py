"""Partition functions, free energies and log-likelihoods of RBMs.

A functional, array-level API (no classes): every function takes the RBM parameters
``weights`` (n_visible, n_hidden), ``visible_bias`` (n_visible,), ``hidden_bias`` (n_hidden,)
and ``units`` ("binary" for {0, 1}, "spin" for {-1, +1}) in the sign convention of
docs/CONTRACTS.md (Mehta & Schwab 2014):

    E(v, h) = b.h + v W h + c.v,        p(v, h) = exp(-E(v, h)) / Z.

The formulas (free energies, the unit log-partition g, the enumeration) live in
:mod:`rbm.maths`; this module validates its inputs and adds the sampling estimate of log Z.

* :func:`log_partition_exact` enumerates the smaller layer (2^n configurations, vectorised in
  bounded-memory chunks, log-sum-exp in float64).
* :func:`ais_log_partition` estimates log Z by annealed importance sampling (Neal 2001) along the
  geometric path of Salakhutdinov & Murray (2008) from a base-rate model of independent visibles.

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
R. M. Neal, "Annealed importance sampling", Statistics and Computing 11, 125 (2001).
R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks",
Proc. ICML (2008).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from rbm import maths
from rbm._kernels import serial_and_parallel, unit_log_partition_scalar
from rbm._typing import Float64Array, FloatArray, SeedLike
from rbm.maths import UNITS, check_units, unit_log_partition

__all__ = [
    "UNITS",
    "unit_log_partition",
    "free_energy_visible",
    "free_energy_hidden",
    "log_partition_exact",
    "log_marginal_visible",
    "log_marginal_hidden",
    "base_rate_visible_bias",
    "default_betas",
    "ais_log_partition",
]

logger = logging.getLogger(__name__)

_LOG2 = math.log(2.0)


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _check_params(weights: npt.ArrayLike, visible_bias: npt.ArrayLike, hidden_bias: npt.ArrayLike,
                  units: str) -> tuple[Float64Array, Float64Array, Float64Array]:
    """Validate and convert the parameters to float64 arrays."""
    check_units(units)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"weights must be a non-empty 2-D array (n_visible, n_hidden), "
                         f"got shape {np.shape(weights)}")
    c = np.asarray(visible_bias, dtype=np.float64)
    b = np.asarray(hidden_bias, dtype=np.float64)
    if c.shape != (w.shape[0],):
        raise ValueError(f"visible_bias must have shape ({w.shape[0]},), got {c.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"hidden_bias must have shape ({w.shape[1]},), got {b.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(c)) and np.all(np.isfinite(b))):
        raise ValueError("RBM parameters contain NaN or inf")
    return w, c, b


def _check_states(x: npt.ArrayLike, n: int, units: str, name: str) -> Float64Array:
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[-1] != n:
        raise ValueError(f"{name} must have shape (n_samples, {n}) or ({n},), got {x.shape}")
    allowed = (0, 1) if units == "binary" else (-1, 1)
    if x.size and not np.all((x == allowed[0]) | (x == allowed[1])):
        raise ValueError(f"{name} must contain only {allowed[0]} and {allowed[1]} for "
                         f"{units} units")
    return x.astype(np.float64)


# ----------------------------------------------------------------------------------------------
# free energies (validating wrappers of rbm.maths)
# ----------------------------------------------------------------------------------------------
def free_energy_visible(v: npt.ArrayLike, weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                        hidden_bias: npt.ArrayLike, units: str) -> Float64Array | float:
    """Free energy F(v) = -log sum_h exp(-E(v, h)) of visible configurations.

    F(v) = c.v - sum_j g(b_j + (v W)_j) (:func:`rbm.maths.free_energy_visible`,
    docs/CONTRACTS.md), after checking the parameters and that ``v`` holds unit values.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible) or (n_visible,)
    weights, visible_bias, hidden_bias : array_like
        RBM parameters in the Mehta-Schwab sign convention.
    units : {"binary", "spin"}

    Returns
    -------
    ndarray, shape (n_samples,) or scalar float
    """
    return _checked_free_energy(maths.free_energy_visible, 0, v, weights, visible_bias,
                                hidden_bias, units)


def free_energy_hidden(h: npt.ArrayLike, weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                       hidden_bias: npt.ArrayLike, units: str) -> Float64Array | float:
    """Free energy F(h) = -log sum_v exp(-E(v, h)) = b.h - sum_i g(c_i + (W h)_i) of hidden
    configurations ``h`` (n_samples, n_hidden) or (n_hidden,); as :func:`free_energy_visible`."""
    return _checked_free_energy(maths.free_energy_hidden, 1, h, weights, visible_bias,
                                hidden_bias, units)


def _checked_free_energy(func: Callable[..., Float64Array], axis: int, x: npt.ArrayLike,
                         weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                         hidden_bias: npt.ArrayLike, units: str) -> Float64Array | float:
    w, c, b = _check_params(weights, visible_bias, hidden_bias, units)
    x = _check_states(x, w.shape[axis], units, "vh"[axis])
    out = func(x, w, c, b, units)
    return out if out.ndim else float(out)


# ----------------------------------------------------------------------------------------------
# exact enumeration
# ----------------------------------------------------------------------------------------------
#: Enumerated units above which :meth:`rbm.RBM.log_partition` refuses ``method="exact"``
#: unless the caller passes a larger ``exact_max_units`` (2^30 terms take minutes).
EXACT_UNITS_LIMIT = 30


def log_partition_exact(weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                        hidden_bias: npt.ArrayLike, units: str, *, max_units: int = 24,
                        layer: str = "auto", max_chunk_elements: int = 2 ** 22) -> float:
    """Exact log Z of an RBM by enumerating the smaller layer.

    The other layer is summed analytically, e.g. for the hidden layer enumerated

        Z = sum_h exp(-b.h) prod_i sum_{v_i} exp(-(c_i + (W h)_i) v_i)
          = sum_h exp(-F(h)),

    and the 2^n terms are accumulated by a running log-sum-exp in float64 over chunks of
    configurations, so memory stays bounded (about ``max_chunk_elements`` float64 per chunk).

    Parameters
    ----------
    weights, visible_bias, hidden_bias : array_like
        RBM parameters, shapes (n_visible, n_hidden), (n_visible,), (n_hidden,).
    units : {"binary", "spin"}
    max_units : int, default 24
        Refuse (ValueError) when the enumerated layer has more units than this (2^n terms).
    layer : {"auto", "visible", "hidden"}, default "auto"
        Layer to enumerate; "auto" takes the smaller one (the hidden one on a tie).
    max_chunk_elements : int, default 2**22
        Size bound of one chunk of the (configurations x other layer) field matrix.

    Returns
    -------
    float
        log Z.

    Raises
    ------
    ValueError
        Bad parameters, or the smaller layer is larger than ``max_units``.
    """
    w, c, b = _check_params(weights, visible_bias, hidden_bias, units)
    n_visible, n_hidden = w.shape
    if layer not in ("auto", "visible", "hidden"):
        raise ValueError(f"layer must be 'auto', 'visible' or 'hidden', got {layer!r}")
    if layer == "auto":
        layer = "hidden" if n_hidden <= n_visible else "visible"
    n = n_hidden if layer == "hidden" else n_visible
    if n > max_units:
        raise ValueError(f"exact log Z needs 2^{n} terms ({layer} layer has {n} units), more than "
                         f"max_units={max_units}; use ais_log_partition instead")
    return maths.log_partition_exact(w, c, b, units, layer=layer,
                                     max_chunk_elements=max_chunk_elements)


def log_marginal_visible(v: npt.ArrayLike, weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                         hidden_bias: npt.ArrayLike, units: str, *,
                         log_z: float | None = None) -> Float64Array | float:
    """log p(v) = -F(v) - log Z for visible configurations.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible) or (n_visible,)
    weights, visible_bias, hidden_bias, units
        RBM parameters (docs/CONTRACTS.md).
    log_z : float, optional
        log Z if known (e.g. from :func:`ais_log_partition`); computed exactly otherwise.

    Returns
    -------
    ndarray, shape (n_samples,) or float
    """
    if log_z is None:
        log_z = log_partition_exact(weights, visible_bias, hidden_bias, units)
    return -free_energy_visible(v, weights, visible_bias, hidden_bias, units) - log_z


def log_marginal_hidden(h: npt.ArrayLike, weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                        hidden_bias: npt.ArrayLike, units: str, *,
                        log_z: float | None = None) -> Float64Array | float:
    """log p(h) = -F(h) - log Z for hidden configurations (see :func:`log_marginal_visible`)."""
    if log_z is None:
        log_z = log_partition_exact(weights, visible_bias, hidden_bias, units)
    return -free_energy_hidden(h, weights, visible_bias, hidden_bias, units) - log_z


# ----------------------------------------------------------------------------------------------
# annealed importance sampling
# ----------------------------------------------------------------------------------------------
def base_rate_visible_bias(data: npt.ArrayLike, units: str, *, eps: float = 1e-3) -> Float64Array:
    """Visible bias c_A of the base-rate model that matches the data's unit means.

    The base-rate model p_A(v) ∝ exp(-c_A.v) has independent visibles; with the mean activation
    p_i = P(v_i = "on") clipped to [eps, 1 - eps] (Salakhutdinov & Murray 2008):
    binary: P(v_i = 1) = σ(-c_i) ⇒ c_i = log((1 - p_i) / p_i);
    spin: P(v_i = +1) = σ(-2 c_i) ⇒ c_i = -atanh(2 p_i - 1).

    Parameters
    ----------
    data : array_like, shape (n_samples, n_visible)
        Training configurations in the unit convention ``units``.
    units : {"binary", "spin"}
    eps : float, default 1e-3
        Clipping of the means (keeps the base model's bias finite).

    Returns
    -------
    ndarray, shape (n_visible,)
    """
    check_units(units)
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"data must be a non-empty 2-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("data contain NaN or inf")
    mean = x.mean(axis=0)
    p = mean if units == "binary" else 0.5 * (mean + 1.0)
    p = np.clip(p, eps, 1.0 - eps)
    if units == "binary":
        return np.log1p(-p) - np.log(p)
    return -np.arctanh(2.0 * p - 1.0)


def default_betas(n_betas: int = 10000) -> Float64Array:
    """Default AIS inverse-temperature schedule, finer near β = 1.

    Salakhutdinov & Murray (2008): 5% of the steps uniformly on [0, 0.5], 40% on [0.5, 0.9],
    55% on [0.9, 1] (500 / 4000 / 5500 for 10^4 steps).

    Parameters
    ----------
    n_betas : int, default 10000
        Number of intermediate distributions (steps); the schedule has ``n_betas + 1`` points
        from 0 to 1.

    Returns
    -------
    ndarray, shape (n_betas + 1,), strictly increasing from 0.0 to 1.0
    """
    n_betas = int(n_betas)
    if n_betas < 3:
        raise ValueError(f"n_betas must be at least 3, got {n_betas}")
    n1 = max(1, int(round(0.05 * n_betas)))
    n2 = max(1, int(round(0.40 * n_betas)))
    n3 = n_betas - n1 - n2
    return np.concatenate([
        np.linspace(0.0, 0.5, n1, endpoint=False),
        np.linspace(0.5, 0.9, n2, endpoint=False),
        np.linspace(0.9, 1.0, n3 + 1),
    ])


def _ais_hidden_step(act, hidden_bias, beta_prev, beta, spin, uniforms, hidden, log_w):
    """Add sum_j [g(β(b+a)_j) - g(β_prev(b+a)_j)] to log_w and sample h ~ p_β(h | v).

    ``act`` is v W (n_runs, n_hidden); ``uniforms`` the same shape, in [0, 1).
    """
    n_runs, n_hidden = act.shape
    for r in prange(n_runs):
        acc = 0.0
        for j in range(n_hidden):
            a = hidden_bias[j] + act[r, j]
            if spin:
                acc += (unit_log_partition_scalar(beta * a, True)
                        - unit_log_partition_scalar(beta_prev * a, True))
                # P(h = +1) = σ(-2 β a)
                p_on = 1.0 / (1.0 + math.exp(2.0 * beta * a))
                hidden[r, j] = 1.0 if uniforms[r, j] < p_on else -1.0
            else:
                acc += (unit_log_partition_scalar(beta * a, False)
                        - unit_log_partition_scalar(beta_prev * a, False))
                p_on = 1.0 / (1.0 + math.exp(beta * a))
                hidden[r, j] = 1.0 if uniforms[r, j] < p_on else 0.0
        log_w[r] += acc


def _ais_visible_step(back, base_bias, visible_bias, beta, spin, uniforms, visible):
    """Sample v ~ p_β(v | h) with visible field (1-β) c_A + β (c + W h); ``back`` is h Wᵀ."""
    n_runs, n_visible = back.shape
    for r in prange(n_runs):
        for i in range(n_visible):
            a = (1.0 - beta) * base_bias[i] + beta * (visible_bias[i] + back[r, i])
            if spin:
                p_on = 1.0 / (1.0 + math.exp(2.0 * a))
                visible[r, i] = 1.0 if uniforms[r, i] < p_on else -1.0
            else:
                p_on = 1.0 / (1.0 + math.exp(a))
                visible[r, i] = 1.0 if uniforms[r, i] < p_on else 0.0


#: Arrays with fewer elements than this use the serial build of the AIS kernels (a parallel
#: launch costs tens of microseconds, far more on oversubscribed cores).
_PARALLEL_MIN_ELEMENTS = 32768


_hidden_step_serial, _hidden_step_parallel = serial_and_parallel(_ais_hidden_step)
_visible_step_serial, _visible_step_parallel = serial_and_parallel(_ais_visible_step)


def _log_mean_exp_and_se(log_w: Float64Array) -> tuple[float, float]:
    """log(mean(w)) and its delta-method standard error std(w) / (sqrt(n) mean(w)), stably."""
    n = log_w.shape[0]
    m = float(np.max(log_w))
    scaled = np.exp(log_w - m)
    mean = float(scaled.mean())
    log_mean = m + math.log(mean)
    if n < 2:
        return log_mean, float("inf")
    std = float(scaled.std(ddof=1))
    return log_mean, std / (math.sqrt(n) * mean)


def _anneal(v: FloatArray, w_mm: FloatArray, b: Float64Array, c: Float64Array, c_a: Float64Array,
            beta_sched: Float64Array, spin: bool, rng: np.random.Generator) -> Float64Array:
    """The AIS runs from the base-model states ``v`` (modified in place) through the schedule
    ``beta_sched``: the log importance weights without log Z_0 (n_runs,)."""
    n_runs, n_visible = v.shape
    n_hidden = w_mm.shape[1]
    dtype = w_mm.dtype
    w_t = np.ascontiguousarray(w_mm.T)
    dc = c - c_a
    log_w = np.zeros(n_runs)
    h = np.empty((n_runs, n_hidden), dtype=dtype)
    u_h = np.empty((n_runs, n_hidden))
    u_v = np.empty((n_runs, n_visible))
    act = np.empty((n_runs, n_hidden), dtype=dtype)
    back = np.empty((n_runs, n_visible), dtype=dtype)
    n_steps = beta_sched.size - 1
    big = n_runs * max(n_visible, n_hidden) >= _PARALLEL_MIN_ELEMENTS
    hidden_step = _hidden_step_parallel if big else _hidden_step_serial
    visible_step = _visible_step_parallel if big else _visible_step_serial
    for k in range(1, n_steps + 1):
        beta_prev, beta = float(beta_sched[k - 1]), float(beta_sched[k])
        np.matmul(v, w_mm, out=act)
        # visible part of log p*_β(v) - log p*_β'(v): -(β - β') (c - c_A).v
        log_w -= (beta - beta_prev) * (v @ dc)
        rng.random(out=u_h)
        hidden_step(act, b, beta_prev, beta, spin, u_h, h, log_w)
        if k < n_steps:
            np.matmul(h, w_t, out=back)
            rng.random(out=u_v)
            visible_step(back, c_a, c, beta, spin, u_v, v)
    return log_w


def _beta_schedule(betas: npt.ArrayLike | None, n_betas: int) -> Float64Array:
    """The inverse-temperature schedule: ``betas`` checked, or :func:`default_betas`."""
    if betas is None:
        return default_betas(n_betas)
    beta_sched = np.asarray(betas, dtype=np.float64)
    if (beta_sched.ndim != 1 or beta_sched.size < 2 or not np.all(np.isfinite(beta_sched))
            or beta_sched[0] != 0.0 or beta_sched[-1] != 1.0
            or not np.all(np.diff(beta_sched) > 0)):
        raise ValueError("betas must be a strictly increasing 1-D array from 0.0 to 1.0")
    return beta_sched


@overload
def ais_log_partition(weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                      hidden_bias: npt.ArrayLike, units: str, *, n_betas: int = ...,
                      betas: npt.ArrayLike | None = ..., n_runs: int = ..., seed: SeedLike = ...,
                      base_visible_bias: npt.ArrayLike | None = ...,
                      return_weights: Literal[False] = ...,
                      dtype: npt.DTypeLike = ...) -> tuple[float, float]: ...


@overload
def ais_log_partition(weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                      hidden_bias: npt.ArrayLike, units: str, *, n_betas: int = ...,
                      betas: npt.ArrayLike | None = ..., n_runs: int = ..., seed: SeedLike = ...,
                      base_visible_bias: npt.ArrayLike | None = ..., return_weights: Literal[True],
                      dtype: npt.DTypeLike = ...) -> tuple[float, float, Float64Array]: ...


@overload
def ais_log_partition(weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                      hidden_bias: npt.ArrayLike, units: str, *, n_betas: int = ...,
                      betas: npt.ArrayLike | None = ..., n_runs: int = ..., seed: SeedLike = ...,
                      base_visible_bias: npt.ArrayLike | None = ..., return_weights: bool,
                      dtype: npt.DTypeLike = ...
                      ) -> tuple[float, float] | tuple[float, float, Float64Array]: ...


def ais_log_partition(weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
                      hidden_bias: npt.ArrayLike, units: str, *, n_betas: int = 10000,
                      betas: npt.ArrayLike | None = None, n_runs: int = 100, seed: SeedLike = None,
                      base_visible_bias: npt.ArrayLike | None = None, return_weights: bool = False,
                      dtype: npt.DTypeLike = np.float32
                      ) -> tuple[float, float] | tuple[float, float, Float64Array]:
    """Estimate log Z of an RBM by annealed importance sampling.

    Salakhutdinov & Murray (2008): intermediate distributions on the visible marginal

        p*_β(v) = exp(-(1-β) c_A.v) · exp(-β F(v))
                = exp(-[(1-β) c_A + β c].v) prod_j sum_{h_j} exp(-β (b_j + (vW)_j) h_j),

    i.e. the joint RBM with weights βW, hidden bias βb and visible bias (1-β) c_A + β c, so that
    p*_0 is the base-rate model of independent visibles with Z_0 = 2^{n_hidden} prod_i e^{g(c_A,i)},
    and p*_1 is the model. Each run draws v from the base model, then for k = 1..K adds
    log p*_{β_k}(v) - log p*_{β_{k-1}}(v) to its log importance weight and moves v by one block
    Gibbs transition (h ~ p_{β_k}(h|v), v ~ p_{β_k}(v|h)) that leaves p*_{β_k} invariant.
    Then log Z ≈ log Z_0 + log mean(w), with the delta-method standard error
    std(w) / (sqrt(n_runs) mean(w)). The estimate of log Z is stochastically biased low
    (Jensen); the error bar is reliable only when the weights are not dominated by a few runs.

    Parameters
    ----------
    weights : array_like, shape (n_visible, n_hidden)
    visible_bias : array_like, shape (n_visible,)
    hidden_bias : array_like, shape (n_hidden,)
    units : {"binary", "spin"}
    n_betas : int, default 10000
        Number of annealing steps for the default schedule (:func:`default_betas`).
    betas : array_like, optional
        Explicit schedule, strictly increasing from 0 to 1 (overrides ``n_betas``).
    n_runs : int, default 100
        Independent AIS runs (vectorised).
    seed : None, int, SeedSequence or Generator
        Every random number comes from ``numpy.random.default_rng(seed)``.
    base_visible_bias : array_like, shape (n_visible,), optional
        Visible bias c_A of the base-rate model, e.g. :func:`base_rate_visible_bias` of the
        training data (recommended). Default: the model's own visible bias.
    return_weights : bool, default False
        Also return the log importance weights (n_runs,), log Z_0 included.
    dtype : {numpy.float32, numpy.float64}, default float32
        Precision of the two matrix products per step (the states are exact in either; the
        importance weights are always accumulated in float64). float32 is several times faster;
        its rounding of W changes log Z by far less than the statistical error.

    Returns
    -------
    log_z : float
    std_err : float
    log_weights : ndarray, shape (n_runs,)
        Only when ``return_weights``; ``log_z`` is their log-mean-exp.

    References
    ----------
    R. M. Neal, Statistics and Computing 11, 125 (2001);
    R. Salakhutdinov and I. Murray, Proc. ICML (2008).
    """
    w, c, b = _check_params(weights, visible_bias, hidden_bias, units)
    n_visible, n_hidden = w.shape
    spin = units == "spin"
    beta_sched = _beta_schedule(betas, n_betas)
    n_runs = int(n_runs)
    if n_runs < 2:
        raise ValueError(f"n_runs must be at least 2, got {n_runs}")
    if base_visible_bias is None:
        c_a = c.copy()
    else:
        c_a = np.asarray(base_visible_bias, dtype=np.float64)
        if c_a.shape != (n_visible,) or not np.all(np.isfinite(c_a)):
            raise ValueError(f"base_visible_bias must be a finite array of shape ({n_visible},)")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    rng = np.random.default_rng(seed)

    log_z0 = float(unit_log_partition(c_a, units).sum()) + n_hidden * _LOG2

    # v ~ p_A: independent visibles, P(on) = σ(-c_A) (binary) or σ(-2 c_A) (spin)
    p_on = maths.unit_probability(c_a, units)
    v = (rng.random((n_runs, n_visible)) < p_on).astype(dtype)
    if spin:
        v = 2 * v - 1

    log_w = _anneal(v, w.astype(dtype), b, c, c_a, beta_sched, spin, rng)
    log_w += log_z0
    log_z, std_err = _log_mean_exp_and_se(log_w)
    logger.debug("AIS: %d runs, %d steps, log Z = %.6f +- %.6f", n_runs, beta_sched.size - 1, log_z,
                 std_err)
    if return_weights:
        return log_z, std_err, log_w
    return log_z, std_err

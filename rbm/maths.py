"""The RBM formulas, written once: fields, conditionals, samples, free energies, exact log Z.

Array functions without validation (callers validate), in the sign convention of
docs/CONTRACTS.md (Mehta & Schwab 2014; ``visible_bias`` = c, ``hidden_bias``
= b, ``weights`` = W of shape (n_visible, n_hidden)):

    E(v, h) = b.h + v W h + c.v,        p(v, h) = exp(-E(v, h)) / Z.

A *negative* weight favours aligned units. ``units`` is "binary" (x in {0, 1}) or "spin"
(x in {-1, +1}); both layers use the same kind. A unit with energy coefficient a (its *field*:
``b + vW`` for the hidden layer, ``c + hW^T`` for the visible one) has

* P(x = on) = sigma(-a) (binary) or sigma(-2a) (spin)                 :func:`unit_probability`
* E[x] = sigma(-a) (binary) or -tanh(a) (spin)                       :func:`unit_mean`
* g(a) = log sum_x exp(-a x) = softplus(-a) or log 2cosh(a)            :func:`unit_log_partition`

and summing one layer out gives the free energies (:func:`free_energy_visible`,
:func:`free_energy_hidden`)

    F(v) = c.v - sum_j g(b_j + (v W)_j),      F(h) = b.h - sum_i g(c_i + (W h)_i).

Every module of rgdl that needs one of these (``rbm.model``, ``rbm.train``, ``rbm.dbn``,
``rbm.partition``, ``analysis.rbm_flow``, ``rgdl.variational``, ``rgdl.decimation``,
``rgdl.pipeline``) calls this module; :func:`rbm._kernels.unit_log_partition_scalar` is the
Numba twin of :func:`unit_log_partition`, pinned to it by tests/test_rbm_maths.py.

Two samplers draw from the same conditional with different random-number consumption, and
both are kept because seeded outputs are pinned to them: :func:`sample_units` (uniforms of a
given float type compared with :func:`unit_probability`) and :func:`sample_units_tanh` (the
training engine's path: NumPy's SIMD ``tanh`` plus a fused Numba kernel, uniforms in the
field's float type).

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
G. E. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR 2010-003
(2010).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm import _kernels as K
from rbm._typing import Float64Array, FloatArray, FloatDType, Units

#: The float type of an array function's inputs, kept by its result (float32 stays float32).
_F = TypeVar("_F", bound=np.floating[Any])

__all__ = [
    "UNITS",
    "check_units",
    "convert_units",
    "hidden_field",
    "visible_field",
    "unit_probability",
    "unit_mean",
    "probability_from_mean",
    "draw_units",
    "sample_units",
    "field_tanh",
    "sample_units_tanh",
    "gibbs_chain",
    "unit_log_partition",
    "free_energy_visible",
    "free_energy_hidden",
    "energy",
    "energy_matrix",
    "configurations",
    "log_partition_exact",
    "receptive_fields",
    "mean_field_up",
]

UNITS: tuple[Units, ...] = ("binary", "spin")


def check_units(units: str) -> Units:
    """Return ``units`` if it is "binary" or "spin", else raise ValueError."""
    if units not in UNITS:
        raise ValueError(f"units must be 'binary' or 'spin', got {units!r}")
    return units


def convert_units(x: FloatArray, from_units: str, to_units: str) -> FloatArray:
    """Re-express unit values (or means) of one unit type in the other: s = 2 x - 1."""
    if from_units == to_units:
        return x
    if to_units == "spin":
        return 2.0 * x - 1.0
    return 0.5 * (x + 1.0)


# ----------------------------------------------------------------------------------------------
# fields and conditionals
# ----------------------------------------------------------------------------------------------
def hidden_field(v: NDArray[_F], weights: NDArray[_F], hidden_bias: NDArray[_F]) -> NDArray[_F]:
    """Energy coefficients of the hidden units given v: ``v W + b`` (rows of ``v``)."""
    return v @ weights + hidden_bias


def visible_field(h: NDArray[_F], weights: NDArray[_F], visible_bias: NDArray[_F]) -> NDArray[_F]:
    """Energy coefficients of the visible units given h: ``h W^T + c`` (rows of ``h``)."""
    return h @ weights.T + visible_bias


def unit_probability(field: NDArray[_F], units: str) -> NDArray[_F]:
    """P(x = on | field a): sigma(-a) = 1/(1 + e^a) (binary) or sigma(-2a) (spin).

    "on" is 1 (binary) or +1 (spin); docs/CONTRACTS.md.
    """
    scale = 1.0 if units == "binary" else 2.0
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(scale * field))


def unit_mean(field: NDArray[_F], units: str) -> NDArray[_F]:
    """E[x | field a]: sigma(-a) = 1/(1 + e^a) (binary) or -tanh(a) (spin), docs/CONTRACTS.md."""
    if units == "binary":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(field))
    return -np.tanh(field)


def probability_from_mean(mean: FloatArray, units: str) -> FloatArray:
    """P(x = on) from the mean E[x]: E[x] itself (binary) or (E[x] + 1)/2 (spin)."""
    return (mean + 1.0) / 2.0 if units == "spin" else mean


@overload
def draw_units(p_on: FloatArray, units: str, rng: np.random.Generator) -> Float64Array: ...


@overload
def draw_units(p_on: FloatArray, units: str, rng: np.random.Generator,
               dtype: type[_F] | np.dtype[_F]) -> NDArray[_F]: ...


def draw_units(p_on: FloatArray, units: str, rng: np.random.Generator,
               dtype: FloatDType = np.float64) -> FloatArray:
    """Unit states with P(on) = ``p_on``: one uniform of type ``dtype`` per unit.

    Parameters
    ----------
    p_on : ndarray
    units : {"binary", "spin"}
    rng : numpy.random.Generator
    dtype : numpy float type, default float64
        Type of the uniforms (``rng.random(..., dtype=dtype)``) and of the returned states.

    Returns
    -------
    ndarray of ``dtype`` with values in {0, 1} or {-1, +1}
    """
    on = rng.random(p_on.shape, dtype=dtype) < p_on
    if units == "binary":
        return on.astype(dtype)
    one = np.ones((), dtype)
    return np.where(on, one, -one)


@overload
def sample_units(field: FloatArray, units: str, rng: np.random.Generator) -> Float64Array: ...


@overload
def sample_units(field: FloatArray, units: str, rng: np.random.Generator,
                 dtype: type[_F] | np.dtype[_F]) -> NDArray[_F]: ...


def sample_units(field: FloatArray, units: str, rng: np.random.Generator,
                 dtype: FloatDType = np.float64) -> FloatArray:
    """x ~ p(x | field): :func:`draw_units` of :func:`unit_probability`."""
    return draw_units(unit_probability(field, units), units, rng, dtype)


def field_tanh(act: NDArray[_F], bias: FloatArray, binary: bool) -> NDArray[_F]:
    """In place: ``act <- tanh(s * (act + bias))`` with s = 1/2 (binary) or 1 (spin).

    With this t, P(on) = (1 - t)/2 and E[x] = (1 - t)/2 (binary) or -t (spin) for both unit
    types, since sigma(-a) = (1 - tanh(a/2))/2; NumPy's SIMD ``tanh`` is much faster than a
    scalar libm call in a Numba loop (the kernels of :mod:`rbm._kernels` take t).
    """
    if binary:
        K.shift_scale(act, bias, act.dtype.type(0.5))  # one pass: act <- (act + bias) / 2
    else:
        np.add(act, bias, out=act)
    np.tanh(act, out=act)
    return act


def sample_units_tanh(act: NDArray[_F], bias: FloatArray, units: str,
                      rng: np.random.Generator) -> NDArray[_F]:
    """x ~ p(x | field act + bias) by the training engine's path (``act`` is copied).

    :func:`field_tanh`, then uniforms of ``act``'s float type and a fused kernel that sets
    x = on where u < (1 - t)/2.
    """
    t = field_tanh(np.array(act, order="C"), bias, units == "binary")
    typed = t.dtype.type
    uniforms = rng.random(t.shape, dtype=t.dtype)
    out = np.empty_like(t)
    K.layer_sample(t, uniforms, typed(1.0), typed(0.0 if units == "binary" else -1.0), out)
    return out


def gibbs_chain(v: NDArray[_F], weights: FloatArray, visible_bias: FloatArray,
                hidden_bias: FloatArray, units: str, n_steps: int,
                rng: np.random.Generator) -> NDArray[_F]:
    """``n_steps`` of block Gibbs sampling v -> h -> v, in place on ``v`` (returned).

    ``v`` is a C-contiguous float array of the parameters' dtype. The uniforms come from the
    training loop's counter-based SplitMix64 stream (:func:`rbm._kernels.uniform_fill`), keyed
    by one 64-bit draw from ``rng``, so the result does not depend on the Numba thread count.
    """
    binary = units == "binary"
    n, dtype = v.shape[0], v.dtype
    one, off = dtype.type(1.0), dtype.type(0.0 if binary else -1.0)
    act_h = np.empty((n, weights.shape[1]), dtype)
    h = np.empty_like(act_h)
    u_h = np.empty_like(act_h)
    act_v = np.empty_like(v)
    u_v = np.empty_like(v)
    key, counter = int(rng.integers(0, 2 ** 64, dtype=np.uint64)), 0
    for _ in range(n_steps):
        np.dot(v, weights, out=act_h)
        field_tanh(act_h, hidden_bias, binary)
        counter = K.uniform_fill(key, counter, u_h)
        K.layer_sample(act_h, u_h, one, off, h)
        np.dot(h, weights.T, out=act_v)
        field_tanh(act_v, visible_bias, binary)
        counter = K.uniform_fill(key, counter, u_v)
        K.layer_sample(act_v, u_v, one, off, v)
    return v


# ----------------------------------------------------------------------------------------------
# free energies and energies
# ----------------------------------------------------------------------------------------------
def unit_log_partition(a: npt.ArrayLike, units: str) -> Float64Array:
    """g(a) = log sum_x exp(-a x) over the two states x of one unit, stably, in float64.

    Parameters
    ----------
    a : array_like
        Field acting on the unit (energy coefficient of x).
    units : {"binary", "spin"}

    Returns
    -------
    ndarray
        ``log(1 + exp(-a))`` (binary, x in {0, 1}) or ``log(2 cosh a)`` (spin, x in {-1, +1}).
    """
    a = np.asarray(a, dtype=np.float64)
    if check_units(units) == "binary":
        return np.logaddexp(0.0, -a)
    x = np.abs(a)
    return x + np.log1p(np.exp(-2.0 * x))


def free_energy_visible(v: FloatArray, weights: FloatArray, visible_bias: FloatArray,
                        hidden_bias: FloatArray, units: str, *,
                        field: FloatArray | None = None) -> Float64Array:
    """F(v) = -log sum_h exp(-E(v, h)) = c.v - sum_j g(b_j + (v W)_j) per row of ``v``.

    ``field``: the hidden fields ``vW + b`` if already computed.
    """
    if field is None:
        field = hidden_field(v, weights, hidden_bias)
    return v @ visible_bias - unit_log_partition(field, units).sum(axis=-1)


def free_energy_hidden(h: FloatArray, weights: FloatArray, visible_bias: FloatArray,
                       hidden_bias: FloatArray, units: str) -> Float64Array:
    """F(h) = -log sum_v exp(-E(v, h)) = b.h - sum_i g(c_i + (W h)_i) per row of ``h``.

    This is the RBM's hidden Hamiltonian H^RBM[h] of Mehta & Schwab (2014), their Eq. 19.
    """
    return h @ hidden_bias - unit_log_partition(visible_field(h, weights, visible_bias),
                                                units).sum(axis=-1)


def energy(v: NDArray[_F], h: NDArray[_F], weights: NDArray[_F], visible_bias: NDArray[_F],
           hidden_bias: NDArray[_F]) -> NDArray[_F]:
    """E(v, h) = b.h + v W h + c.v for paired rows of ``v`` and ``h``."""
    return h @ hidden_bias + np.einsum("ni,ij,nj->n", v, weights, h) + v @ visible_bias


def energy_matrix(v: NDArray[_F], h: NDArray[_F], weights: NDArray[_F], visible_bias: NDArray[_F],
                  hidden_bias: NDArray[_F]) -> NDArray[_F]:
    """E(v[a], h[b]) for every pair of rows, shape (len(v), len(h))."""
    return (v @ visible_bias)[:, None] + (h @ hidden_bias)[None, :] + v @ weights @ h.T


# ----------------------------------------------------------------------------------------------
# exact enumeration
# ----------------------------------------------------------------------------------------------
def configurations(n: int, units: str, start: int = 0, stop: int | None = None,
                   dtype: npt.DTypeLike = np.float64) -> NDArray[Any]:
    """Rows ``start..stop-1`` of the 2^n configurations of n units, of type ``dtype``.

    Bit k of the row index is unit k ("on" = 1 or +1).
    """
    stop = (1 << n) if stop is None else stop
    idx = np.arange(start, stop, dtype=np.int64)[:, None]
    bits = ((idx >> np.arange(n, dtype=np.int64)) & 1).astype(dtype)
    if units == "spin":
        bits = 2 * bits - 1
    return bits


def log_partition_exact(weights: Float64Array, visible_bias: Float64Array,
                        hidden_bias: Float64Array, units: str, *, layer: str = "auto",
                        max_chunk_elements: int = 2 ** 22) -> float:
    """Exact log Z by enumerating one layer (float64 arrays; no size check, see
    :func:`rbm.partition.log_partition_exact` for the validating version).

    The other layer is summed analytically, e.g. for the hidden layer enumerated
    Z = sum_h exp(-F(h)); the 2^n terms are accumulated by a streaming log-sum-exp over chunks
    of configurations, so memory stays bounded (about ``max_chunk_elements`` float64).

    Parameters
    ----------
    weights, visible_bias, hidden_bias : ndarray, float64
    units : {"binary", "spin"}
    layer : {"auto", "visible", "hidden"}, default "auto"
        Layer to enumerate; "auto" takes the smaller one (the hidden one on a tie).
    max_chunk_elements : int, default 2**22

    Returns
    -------
    float
    """
    n_visible, n_hidden = weights.shape
    if layer == "auto":
        layer = "hidden" if n_hidden <= n_visible else "visible"
    if layer == "hidden":
        enum_bias, other_bias, coupling = hidden_bias, visible_bias, weights.T
    else:
        enum_bias, other_bias, coupling = visible_bias, hidden_bias, weights
    n = enum_bias.shape[0]
    n_other = other_bias.shape[0]
    total = 1 << n
    chunk = int(max(1, min(total, max_chunk_elements // max(n_other, n))))
    running_max = -np.inf
    running_sum = 0.0
    for start in range(0, total, chunk):
        x = configurations(n, units, start, min(total, start + chunk))
        log_terms = -(x @ enum_bias) + unit_log_partition(other_bias + x @ coupling,
                                                          units).sum(axis=1)
        m = float(log_terms.max())
        if m > running_max:
            running_sum = running_sum * math.exp(running_max - m) if running_sum else 0.0
            running_max = m
        running_sum += float(np.exp(log_terms - running_max).sum())
    return running_max + math.log(running_sum)


# ----------------------------------------------------------------------------------------------
# stacks
# ----------------------------------------------------------------------------------------------
def receptive_fields(weights: Iterable[npt.ArrayLike]) -> list[Float64Array]:
    """Effective receptive fields ``r^(l) = r^(l-1) W^(l)``, ``r^(1) = W^(1)``, of every layer.

    Column j of r^(l) is the linear map from the visible units to hidden unit j of layer l
    composed through the weight matrices below it. :meth:`rbm.DBN.receptive_fields` and
    :func:`analysis.receptive_fields.receptive_fields` are this function.

    Parameters
    ----------
    weights : sequence of ndarray
        Weight matrices ``W^(1), W^(2), ...``, each ``(n_below, n_above)`` in the convention of
        docs/CONTRACTS.md (``weights_`` of a fitted :class:`rbm.RBM`).

    Returns
    -------
    list of ndarray
        ``fields[l]`` has shape ``(n_visible, n_hidden_l)``; column ``j`` is the receptive field of
        unit ``j`` of layer ``l + 1`` on the visible lattice.

    Raises
    ------
    ValueError
        If the list is empty, a matrix is not 2-D, or consecutive shapes do not chain.

    References
    ----------
    Mehta & Schwab, arXiv:1410.3831 (2014), Fig. 4 (the receptive fields of the 1600-400-100-25
    stack trained on 2D Ising samples).
    """
    weights = list(weights)
    if not weights:
        raise ValueError("weights must contain at least one weight matrix")
    fields = []
    current = None
    for index, w in enumerate(weights):
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"weight matrix {index} must be 2-D, got shape {w.shape}")
        if current is not None and current.shape[1] != w.shape[0]:
            raise ValueError(
                f"weight matrix {index} has {w.shape[0]} rows but layer {index} has "
                f"{current.shape[1]} units")
        current = w.copy() if current is None else current @ w
        fields.append(current)
    return fields


def mean_field_up(x: FloatArray, layers: Sequence[tuple[FloatArray, FloatArray]],
                  units: str | Sequence[str]) -> list[FloatArray]:
    """Mean-field up-pass through a stack: E[h^(l) | h^(l-1)] layer by layer.

    Parameters
    ----------
    x : ndarray (n_samples, n_visible)
        Visible values (or means) in the units of layer 1.
    layers : sequence of (weights, hidden_bias)
        The stack, layer 1 first (arrays as the caller wants them multiplied, e.g. float64).
    units : str or sequence of str
        Unit type of every layer (one string: all layers). The means of layer l are converted
        to the units of layer l + 1 (:func:`convert_units`) before they drive it.

    Returns
    -------
    list of ndarray
        The means of every layer, each in its own units.
    """
    kinds = [units] * len(layers) if isinstance(units, str) else list(units)
    out = []
    for i, (weights, hidden_bias) in enumerate(layers):
        if i > 0:
            x = convert_units(x, kinds[i - 1], kinds[i])
        x = unit_mean(hidden_field(x, weights, hidden_bias), kinds[i])
        out.append(x)
    return out

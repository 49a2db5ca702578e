"""Numba kernels of the RBM hot loop (arrays in, results written in place).

Conventions (docs/CONTRACTS.md, Mehta & Schwab 2014): E(v, h) = b.h + v W h + c.v, p = exp(-E)/Z.
For a layer with field ``x = bias + act`` (``act`` = v W for hiddens, h W^T for visibles)

* binary units {0, 1}:  P(u = 1 | .) = sigma(-x),   E[u | .] = sigma(-x);
* spin units {-1, +1}:  P(u = +1 | .) = sigma(-2x), E[u | .] = -tanh(x).

The layer kernels receive ``t = tanh(s x)`` (s = 1/2 binary, 1 spin), computed beforehand by
:func:`rbm.maths.field_tanh` with NumPy's SIMD ``tanh``, so the loops here are plain arithmetic
that vectorises. A unit is set "on" (1 or +1) when its pre-drawn uniform ``u < P(on)``; the training loop's
uniforms come from the counter-based stream of :func:`uniform_fill` (serial, so results do not
depend on the number of threads).
The training-loop kernels are serial (see the note at their definitions); the parallel
pseudo-likelihood kernel writes disjoint outputs, so every kernel gives the same bytes at any
``NUMBA_NUM_THREADS``.

The big matrix products are NOT here: they are BLAS calls (``np.dot(..., out=...)``) in
:mod:`rbm.train`.
"""

from __future__ import annotations

import math
import types
from typing import Any, Callable, Protocol, cast

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

#: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014; Vigna's splitmix64.c): the Weyl increment
#: and Stafford's Mix13 finaliser. ``ising._kernels`` has the same generator (the packages are
#: independent); tests/test_rbm_maths.py pins both to Vigna's reference outputs.
GAMMA = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 output function of a uint64 ``z``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))

#: Arrays with fewer elements than this run in the serial build of a dual kernel (only the
#: all-sites pseudo-likelihood, which is not interleaved with BLAS): a parallel launch costs tens
#: of microseconds on an idle machine and far more when the cores are oversubscribed.
PARALLEL_MIN_ELEMENTS = 200_000


class DualKernel(Protocol):
    """A kernel with a serial and a parallel njit build (:func:`_dual`): calling it runs one of
    them, chosen by the size of one argument; ``serial`` and ``parallel`` are the builds."""

    serial: Callable[..., Any]
    parallel: Callable[..., Any]

    def __call__(self, *args: Any) -> Any: ...


def _clone(func: Callable[..., Any], suffix: str) -> types.FunctionType:
    """A copy of ``func`` with its own qualified name (so Numba caches the builds separately)."""
    clone = types.FunctionType(func.__code__, func.__globals__, func.__name__ + suffix,
                               func.__defaults__, func.__closure__)
    clone.__qualname__ = func.__qualname__ + suffix
    clone.__doc__ = func.__doc__
    return clone


def serial_and_parallel(func: Callable[..., Any],
                        **options: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(serial, parallel)`` njit builds of the plain Python function ``func``: the one helper
    of :mod:`rbm` for them.

    Each build gets its own function object and qualified name (``<name>_serial``,
    ``<name>_parallel``): Numba's on-disk cache keys entries by qualified name and signature,
    not by the ``parallel`` flag. Both builds give identical results when every iteration of the
    prange loop writes its own outputs. ``options``: further :func:`numba.njit` options
    (``cache=True`` is always set).
    """
    return tuple(njit(cache=True, parallel=parallel, **options)(_clone(func, suffix))
                 for suffix, parallel in (("_serial", False), ("_parallel", True)))


def _dual(func: Callable[..., Any], size_arg: int = 0, fastmath: bool = False) -> DualKernel:
    """Compile ``func`` serially and with ``parallel=True``; dispatch on the size of argument
    ``size_arg``. For a given input size the same build always runs, and inside a build every
    row is computed by the same code whatever the thread count (disjoint outputs)."""
    serial, parallel = serial_and_parallel(func, fastmath=fastmath)

    def dispatch(*args: Any) -> Any:
        if args[size_arg].size >= PARALLEL_MIN_ELEMENTS:
            return parallel(*args)
        return serial(*args)

    dispatch.__name__ = func.__name__.lstrip("_")
    dispatch.__qualname__ = dispatch.__name__
    dispatch.__doc__ = func.__doc__
    kernel = cast(DualKernel, dispatch)
    kernel.serial = serial
    kernel.parallel = parallel
    return kernel


# ----------------------------------------------------------------------------------------------
# Gibbs uniforms: a counter-based SplitMix64 stream.
#
# Draw m (m = 1, 2, ...) of the stream with key k is d(m) = mix64(k + m * GAMMA) mod 2**64, with
# GAMMA = 0x9E3779B97F4A7C15 and mix64 the SplitMix64 output function (Steele, Lea & Flood,
# "Fast splittable pseudorandom number generators", OOPSLA 2014; Stafford's Mix13 finaliser):
# d(1), d(2), ... is exactly Vigna's splitmix64.c seeded with k, which passes TestU01 BigCrush.
# A draw is a pure function of (k, m), so a whole buffer is filled by one branch-free loop that
# LLVM vectorises (NumPy's ``Generator.random`` for float32 dominated the non-BLAS time of a
# CD-1 step before). float32 uniforms take 24 bits each, two per draw (bits 40-63
# then bits 8-31: the same resolution 2**-24 as NumPy's float32 ``random``); float64 uniforms
# take the top 53 bits of one draw. The mixer and GAMMA are defined at the top of this module.
# ----------------------------------------------------------------------------------------------
_U1 = np.uint64(1)
_U8 = np.uint64(8)
_U11 = np.uint64(11)
_U40 = np.uint64(40)
_LOW24 = np.uint64(0xFFFFFF)


@njit(cache=True, boundscheck=False)
def _uniform_fill_f32(key, counter, flat):
    half = flat.shape[0] // 2
    scale = np.float32(2.0 ** -24)
    base = key + counter * GAMMA
    for m in range(half):
        r = mix64(base + (np.uint64(m) + _U1) * GAMMA)
        flat[m] = np.float32(np.int64(r >> _U40)) * scale
        flat[half + m] = np.float32(np.int64((r >> _U8) & _LOW24)) * scale
    used = np.uint64(half)
    if flat.shape[0] % 2:
        used += _U1
        r = mix64(base + used * GAMMA)
        flat[flat.shape[0] - 1] = np.float32(np.int64(r >> _U40)) * scale
    return counter + used


@njit(cache=True, boundscheck=False)
def _uniform_fill_f64(key, counter, flat):
    scale = 2.0 ** -53
    base = key + counter * GAMMA
    for m in range(flat.shape[0]):
        r = mix64(base + (np.uint64(m) + _U1) * GAMMA)
        flat[m] = np.float64(np.int64(r >> _U11)) * scale
    return counter + np.uint64(flat.shape[0])


def uniform_fill(key: int, counter: int, out: NDArray[np.floating[Any]]) -> int:
    """Fill the C-contiguous float32/float64 array ``out`` with uniforms in [0, 1) from draws
    ``counter + 1, counter + 2, ...`` of the SplitMix64 stream ``key``; return the new counter.

    float32: draw ``counter + m + 1`` (m < size // 2) gives elements m (its bits 40-63) and
    size // 2 + m (bits 8-31) of the flattened array; an odd last element takes one more draw.
    float64: element m takes the top 53 bits of draw ``counter + m + 1``.
    """
    if not out.flags.c_contiguous:
        raise ValueError("uniform_fill needs a C-contiguous output array")
    flat = out.reshape(-1)
    kernel = _uniform_fill_f32 if out.dtype == np.float32 else _uniform_fill_f64
    return int(kernel(np.uint64(key), np.uint64(counter), flat))


# ----------------------------------------------------------------------------------------------
# Layer kernels. They take t = tanh(s * (act + bias)) computed beforehand with NumPy's SIMD
# ``np.tanh`` (s = 1 for spin units, 1/2 for binary units), so that no transcendental function is
# evaluated here and the loops vectorise. With this t, for both unit types
#     P(on) = (1 - t) / 2     [spin: sigma(-2x) = (1 - tanh x)/2; binary: sigma(-x) = (1 - tanh(x/2))/2]
#     E[u]  = -t (spin)  or  (1 - t) / 2 (binary),
# so the scaled mean is ``lo + hi * t`` with (lo, hi) = (0, -scale) or (scale/2, -scale/2), and a
# unit is on iff u < P(on), i.e. t + 2u < 1. Scalars are passed in the arrays' dtype so that
# float32 stays float32.
# ----------------------------------------------------------------------------------------------
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}  # no "nnan"/"ninf": divergence must show


def _layer_sample(t, uniforms, one, off, sample_out):
    """``sample_out[r, j] = 1`` if ``t + 2u < 1`` else ``off`` (0 or -1)."""
    n, m = t.shape
    for r in prange(n):
        for j in range(m):
            u = uniforms[r, j]
            sample_out[r, j] = one if t[r, j] + u + u < one else off


def _layer_mean(t, lo, hi, mean_out):
    """``mean_out = lo + hi * t`` (scaled conditional means)."""
    n, m = t.shape
    for r in prange(n):
        for j in range(m):
            mean_out[r, j] = lo + hi * t[r, j]


def _layer_mean_sample(t, uniforms, lo, hi, one, off, mean_out, sample_out):
    """Fused :func:`layer_mean` and :func:`layer_sample`."""
    n, m = t.shape
    for r in prange(n):
        for j in range(m):
            x = t[r, j]
            u = uniforms[r, j]
            mean_out[r, j] = lo + hi * x
            sample_out[r, j] = one if x + u + u < one else off


def _visible_sample_recon(t, uniforms, lo, hi, one, off, data, sample_out, row_error):
    """Sample visibles and record ``row_error[r] = sum_i (data[r, i] - E[v_i | h_r])**2``
    (the mean-field reconstruction error; ``lo + hi * t`` is the unscaled mean)."""
    n, m = t.shape
    for r in prange(n):
        err = off - off
        for j in range(m):
            x = t[r, j]
            u = uniforms[r, j]
            d = data[r, j] - (lo + hi * x)
            err += d * d
            sample_out[r, j] = one if x + u + u < one else off
        row_error[r] = err


def _momentum_update_weights(weights, velocity, stat, learning_rate, momentum, weight_decay, l1):
    """One SGD-with-momentum step on the weights (Hinton 2010, sec. 9-10).

    ``stat`` = <v h>_data - <v h>_model, so the log-likelihood gradient is ``-stat`` in the sign
    convention E = ... + v W h. With L2 ``weight_decay`` and ``l1`` penalties,
    velocity <- momentum * velocity - lr * (stat + weight_decay * W + l1 * sign(W));  W += velocity.
    """
    n, m = weights.shape
    for i in prange(n):
        for j in range(m):
            w = weights[i, j]
            g = stat[i, j] + weight_decay * w
            if w > 0:
                g += l1
            elif w < 0:
                g -= l1
            vel = momentum * velocity[i, j] - learning_rate * g
            velocity[i, j] = vel
            weights[i, j] = w + vel


@njit(cache=True, boundscheck=False)
def column_means(data):
    """Column means of an integer matrix as float64: exact integer column sums (row by row,
    vectorised), then one division each, so the same values as ``data.mean(axis=0)``."""
    n, m = data.shape
    sums = np.zeros(m, np.int64)
    for r in range(n):
        for j in range(m):
            sums[j] += data[r, j]
    out = np.empty(m, np.float64)
    for j in range(m):
        out[j] = sums[j] / n
    return out


def _shift_scale(act, bias, scale):
    """In place: ``act[r, j] <- scale * (act[r, j] + bias[j])`` (binary units' field / 2)."""
    n, m = act.shape
    for r in range(n):
        for j in range(m):
            act[r, j] = scale * (act[r, j] + bias[j])


def _gather_rows(data, rows, signs, out):
    """``out[r] = signs[rows[r]] * data[rows[r]]``, converted to ``out``'s float dtype.

    The mini-batch gather of the training loop: ``data`` may be int8 (unit values, 4x less
    memory traffic than float32) or float; ``signs`` holds the per-sample global spin-flip
    signs (flip augmentation) or is empty (no flips).
    """
    n, m = out.shape
    flip = signs.shape[0] > 0
    for r in range(n):
        src = rows[r]
        if flip and signs[src] < 0:
            for j in range(m):
                out[r, j] = -data[src, j]
        else:
            for j in range(m):
                out[r, j] = data[src, j]


def _bias_step(bias, velocity, positive, negative, positive_scale, negative_scale,
               learning_rate, momentum, stat, scratch):
    """Bias statistic and momentum step in one kernel (Hinton 2010, sec. 9; no decay on biases).

    ``stat = positive_scale * sum_r positive[r] + negative_scale * sum_r negative[r]``
    (= <u>_data - <u>_model with scales 1/B and -1/C), then
    velocity <- momentum * velocity - lr * stat;  bias += velocity. ``scratch`` (like ``stat``)
    holds the second column sum. Rows are accumulated in order in ``stat``'s dtype: exact for
    unit values (integer sums); for means, a sequential float32 sum over one mini-batch.
    """
    m = bias.shape[0]
    for j in range(m):
        stat[j] = 0.0
        scratch[j] = 0.0
    for r in range(positive.shape[0]):
        for j in range(m):
            stat[j] += positive[r, j]
    for r in range(negative.shape[0]):
        for j in range(m):
            scratch[j] += negative[r, j]
    for j in range(m):
        g = positive_scale * stat[j] + negative_scale * scratch[j]
        stat[j] = g
        vel = momentum * velocity[j] - learning_rate * g
        velocity[j] = vel
        bias[j] += vel


@njit(cache=True, inline="always")
def unit_log_partition_scalar(x, spin):
    """One unit's log-partition g(x) = log sum_u exp(-x u): softplus(-x) or log 2cosh(x).

    The Numba twin of :func:`rbm.maths.unit_log_partition` (tests/test_rbm_maths.py pins them
    together).
    """
    if spin:
        a = abs(x)
        return a + math.log1p(math.exp(-2.0 * a))
    if x >= 0:
        return math.log1p(math.exp(-x))
    return -x + math.log1p(math.exp(x))


def _pseudo_log_likelihood_all_sites(v, act, weights, visible_bias, spin, out):
    """Deterministic pseudo-log-likelihood sum_i log P(v_i | v_-i) of every row of ``v``.

    ``act`` = b + v W (n, n_hidden), in float64. Flipping site i changes the hidden input by
    ``delta * W[i]`` with delta = v_i' - v_i, so F(v') - F(v) costs O(n_hidden) per site and
    log P(v_i | v_-i) = log sigma(F(v') - F(v)).
    """
    n, nv = v.shape
    nh = act.shape[1]
    for r in prange(n):
        base = 0.0
        for j in range(nh):
            base += unit_log_partition_scalar(act[r, j], spin)
        total = 0.0
        for i in range(nv):
            vi = v[r, i]
            delta = -2.0 * vi if spin else 1.0 - 2.0 * vi
            flipped = 0.0
            for j in range(nh):
                flipped += unit_log_partition_scalar(act[r, j] + delta * weights[i, j], spin)
            # F(v') - F(v) = c_i delta - (sum g(act') - sum g(act))
            diff = visible_bias[i] * delta - (flipped - base)
            # log sigma(diff) = -softplus(-diff)
            total -= unit_log_partition_scalar(diff, False)
        out[r] = total


# The training-loop kernels run serially ON PURPOSE: they alternate with multithreaded BLAS calls,
# and a Numba thread pool spinning next to OpenBLAS's own pool on the same cores slows the CD-1
# step several-fold when both want every core. They are
# vectorised loops over in-cache arrays, a small fraction of the step's time.
layer_sample = njit(cache=True, fastmath=_FAST)(_layer_sample)
layer_mean = njit(cache=True, fastmath=_FAST)(_layer_mean)
layer_mean_sample = njit(cache=True, fastmath=_FAST)(_layer_mean_sample)
visible_sample_recon = njit(cache=True, fastmath=_FAST)(_visible_sample_recon)
momentum_update_weights = njit(cache=True, fastmath=_FAST)(_momentum_update_weights)
gather_rows = njit(cache=True)(_gather_rows)
shift_scale = njit(cache=True)(_shift_scale)
bias_step = njit(cache=True)(_bias_step)
pseudo_log_likelihood_all_sites = _dual(_pseudo_log_likelihood_all_sites)

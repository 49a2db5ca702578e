"""Numba kernels of the RBM hot loop (arrays in, results written in place).

Conventions (docs/CONTRACTS.md, Mehta & Schwab 2014): E(v, h) = b.h + v W h + c.v, p = exp(-E)/Z.
For a layer with field ``x = bias + act`` (``act`` = v W for hiddens, h W^T for visibles)

* binary units {0, 1}:  P(u = 1 | .) = sigma(-x),   E[u | .] = sigma(-x);
* spin units {-1, +1}:  P(u = +1 | .) = sigma(-2x), E[u | .] = -tanh(x).

The layer kernels receive ``t = tanh(s x)`` (s = 1/2 binary, 1 spin), computed beforehand by
:func:`rbm.train.field_tanh` with NumPy's SIMD ``tanh``, so the loops here are plain arithmetic
that vectorises. A unit is set "on" (1 or +1) when its pre-drawn uniform ``u < P(on)``; uniforms
come from NumPy
(``Generator.random(out=..., dtype=...)``) so that results do not depend on the number of threads.
The training-loop kernels are serial (see the note at their definitions); the parallel
pseudo-likelihood kernel writes disjoint outputs, so every kernel gives the same bytes at any
``NUMBA_NUM_THREADS``.

The big matrix products are NOT here: they are BLAS calls (``np.dot(..., out=...)``) in
:mod:`rbm.train`.
"""

from __future__ import annotations

import math
import types

from numba import njit, prange

#: Arrays with fewer elements than this run in the serial build of a dual kernel (only the
#: all-sites pseudo-likelihood, which is not interleaved with BLAS): a parallel launch costs tens
#: of microseconds on an idle machine and far more when the cores are oversubscribed.
PARALLEL_MIN_ELEMENTS = 200_000


def _clone(func, suffix):
    """A copy of ``func`` with its own qualified name (so Numba caches the builds separately)."""
    clone = types.FunctionType(func.__code__, func.__globals__, func.__name__ + suffix,
                               func.__defaults__, func.__closure__)
    clone.__qualname__ = func.__qualname__ + suffix
    clone.__doc__ = func.__doc__
    return clone


def _dual(func, size_arg=0, fastmath=False):
    """Compile ``func`` serially and with ``parallel=True``; dispatch on the size of argument
    ``size_arg``. For a given input size the same build always runs, and inside a build every
    row is computed by the same code whatever the thread count (disjoint outputs)."""
    serial = njit(cache=True, fastmath=fastmath)(_clone(func, "_serial"))
    parallel = njit(cache=True, parallel=True, fastmath=fastmath)(_clone(func, "_parallel"))

    def dispatch(*args):
        if args[size_arg].size >= PARALLEL_MIN_ELEMENTS:
            return parallel(*args)
        return serial(*args)

    dispatch.__name__ = func.__name__.lstrip("_")
    dispatch.__qualname__ = dispatch.__name__
    dispatch.__doc__ = func.__doc__
    dispatch.serial = serial
    dispatch.parallel = parallel
    return dispatch


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


@njit(cache=True)
def momentum_update_bias(bias, velocity, stat, learning_rate, momentum):
    """velocity <- momentum * velocity - lr * stat;  bias += velocity (no decay on biases)."""
    for j in range(bias.shape[0]):
        vel = momentum * velocity[j] - learning_rate * stat[j]
        velocity[j] = vel
        bias[j] += vel


def _flip_rows(batch, signs):
    """Multiply row r of ``batch`` by ``signs[r]`` (global spin-flip augmentation)."""
    n, m = batch.shape
    for r in prange(n):
        s = signs[r]
        if s != 1.0:
            for j in range(m):
                batch[r, j] = s * batch[r, j]


@njit(cache=True, inline="always")
def _g(x, spin):
    """One unit's log-partition g(x) = log sum_u exp(-x u): softplus(-x) or log 2cosh(x)."""
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
            base += _g(act[r, j], spin)
        total = 0.0
        for i in range(nv):
            vi = v[r, i]
            delta = -2.0 * vi if spin else 1.0 - 2.0 * vi
            flipped = 0.0
            for j in range(nh):
                flipped += _g(act[r, j] + delta * weights[i, j], spin)
            # F(v') - F(v) = c_i delta - (sum g(act') - sum g(act))
            diff = visible_bias[i] * delta - (flipped - base)
            # log sigma(diff) = -softplus(-diff)
            total -= _g(diff, False)
        out[r] = total


# The training-loop kernels run serially ON PURPOSE: they alternate with multithreaded BLAS calls,
# and a Numba thread pool spinning next to OpenBLAS's own pool on the same cores cost a factor
# 3-4 in the CD-1 step (measured: 16 ms vs 4 ms per 100x1600x400 step on 2 cores). They are
# vectorised loops over in-cache arrays, a small fraction of the step's time.
layer_sample = njit(cache=True, fastmath=_FAST)(_layer_sample)
layer_mean = njit(cache=True, fastmath=_FAST)(_layer_mean)
layer_mean_sample = njit(cache=True, fastmath=_FAST)(_layer_mean_sample)
visible_sample_recon = njit(cache=True, fastmath=_FAST)(_visible_sample_recon)
momentum_update_weights = njit(cache=True, fastmath=_FAST)(_momentum_update_weights)
flip_rows = njit(cache=True)(_flip_rows)
pseudo_log_likelihood_all_sites = _dual(_pseudo_log_likelihood_all_sites)

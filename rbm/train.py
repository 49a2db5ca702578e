"""Contrastive-divergence training engine (CD-k and persistent CD) used by :class:`rbm.RBM`.

One mini-batch step of CD-k (Hinton 2002) in the sign convention of docs/CONTRACTS.md, for a
batch of B = ``n_batch`` rows and C = ``n_neg`` negative chains
(E = b.h + v W h + c.v, so d log p(v) / dW = <v h>_model - <v h>_data):

1. ``A = v0 W`` (BLAS); h0 ~ p(h | v0) and the scaled means E[h | v0] / B (one fused kernel);
2. k times: ``v W^T`` (BLAS), sample v; ``v W`` (BLAS), sample h (the last step keeps the
   scaled means -E[h | v_k] / C instead);
3. ``S = [v0; v_k]^T [E[h|v0]/B; -E[h|v_k]/C]`` = <v h>_data - <v h>_model (one BLAS product
   over the stacked batch, the same FLOPs as the usual two);
4. fused momentum / L2 / L1 update of W (Hinton 2010, "A practical guide to training RBMs").

With ``persistent=True`` (PCD, Tieleman 2008) the negative chain starts from persistent hidden
states instead of h0, and its final hidden sample is kept for the next step.

With ``negative_visible="probabilities"`` the visible layer of the negative phase is not
sampled: v_k = E[v | h] (the visible *probabilities* of Hinton & Salakhutdinov's rbm.m, whose
negative statistics are ``negdata' * neghidprobs`` with ``negdata`` the reconstruction
probabilities); no visible uniforms are drawn then. docs/CONTRACTS.md ("The
Hinton-Salakhutdinov recipe") sets rbm.m's update against this engine line by line.

CD-1 therefore costs exactly the five matrix products of the textbook step (two v.W, one h.W^T,
two v^T.h); everything else is O(B (V + H) + V H) memory-bound work writing into preallocated
buffers: NumPy's SIMD ``tanh`` for the conditionals (:func:`rbm.maths.field_tanh`), Numba kernels for
the mini-batch gather, sampling, means and the parameter updates. The Gibbs
uniforms come from a counter-based SplitMix64 stream (:func:`rbm._kernels.uniform_fill`, keyed
from the training generator; serial, so results do not depend on the Numba thread count); the
shuffles and flip signs come from the NumPy generator itself.
(OpenBLAS float32 products can change in the last bits with *its* thread count; resume a
checkpoint with the same ``OPENBLAS_NUM_THREADS`` for bit-identical results.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rbm import _kernels as K
from rbm._typing import FloatArray
from rbm.maths import field_tanh, sample_units_tanh

__all__ = ["CDTrainer", "NEGATIVE_VISIBLE"]

#: Values of ``negative_visible``: sampled visible states (the default) or their conditional
#: means E[v | h] (rbm.m's reconstruction probabilities).
NEGATIVE_VISIBLE = ("samples", "probabilities")


class CDTrainer:
    """Stateful CD-k / PCD-k optimiser acting in place on an RBM's parameter arrays.

    Parameters
    ----------
    weights, visible_bias, hidden_bias : ndarray
        The parameters (modified in place), all of the same float dtype.
    units : {"binary", "spin"}
    batch_size, cd_k : int
    persistent : bool
    n_chains : int
        Number of persistent chains (ignored unless ``persistent``).
    flip_augmentation : bool
        Multiply each sample by an independent random global sign every epoch (spin units).
    rng : numpy.random.Generator
        The training stream: shuffling, augmentation, persistent-chain starts, and the key of
        the counter-based stream of Gibbs uniforms (drawn from it here).
    negative_visible : {"samples", "probabilities"}, default "samples"
        The visible layer of every negative Gibbs step: a sample v ~ p(v | h), or the
        conditional means E[v | h] (Hinton & Salakhutdinov's rbm.m: "visible probabilities"),
        which then enter both the weight and the visible-bias statistics.
    """

    def __init__(self, weights: FloatArray, visible_bias: FloatArray, hidden_bias: FloatArray, *,
                 units: str, batch_size: int, cd_k: int, persistent: bool, n_chains: int,
                 flip_augmentation: bool, rng: np.random.Generator,
                 negative_visible: str = "samples") -> None:
        self.weights = weights
        self.visible_bias = visible_bias
        self.hidden_bias = hidden_bias
        self.spin = units == "spin"
        self.batch_size = int(batch_size)
        self.cd_k = int(cd_k)
        self.persistent = bool(persistent)
        self.n_chains = int(n_chains) if persistent else int(batch_size)
        self.flip_augmentation = bool(flip_augmentation)
        if negative_visible not in NEGATIVE_VISIBLE:
            raise ValueError(f"negative_visible must be one of {NEGATIVE_VISIBLE}, "
                             f"got {negative_visible!r}")
        self.mean_negative_visible = negative_visible == "probabilities"
        self.rng = rng
        self.uniform_key = int(rng.integers(0, 2 ** 64, dtype=np.uint64))
        self.uniform_counter = 0
        dtype = weights.dtype
        self.dtype = dtype
        n_visible, n_hidden = weights.shape
        rows = max(self.batch_size, self.n_chains)
        self.velocity_weights = np.zeros_like(weights)
        self.velocity_visible = np.zeros_like(visible_bias)
        self.velocity_hidden = np.zeros_like(hidden_bias)
        self.chains: FloatArray | None = (np.zeros((self.n_chains, n_hidden), dtype)
                                          if self.persistent else None)
        # buffers
        self._vstack = np.empty((self.batch_size + self.n_chains, n_visible), dtype)
        self._hstack = np.empty((self.batch_size + self.n_chains, n_hidden), dtype)
        self._act_h = np.empty((rows, n_hidden), dtype)
        self._act_v = np.empty((rows, n_visible), dtype)
        self._h_sample = np.empty((rows, n_hidden), dtype)
        self._u_h = np.empty((rows, n_hidden), dtype)
        self._u_v = np.empty((rows, n_visible), dtype)
        self._stat = np.empty_like(weights)
        self._stat_v = np.empty_like(visible_bias)
        self._stat_h = np.empty_like(hidden_bias)
        self._scratch_v = np.empty_like(visible_bias)
        self._scratch_h = np.empty_like(hidden_bias)
        self._no_flips = np.empty(0, dtype)
        self._row_error = np.empty(rows, dtype)

    # ------------------------------------------------------------------------------------------
    def init_chains(self, data: NDArray[Any]) -> None:
        """Start the persistent chains at h ~ p(h | v) for randomly chosen training rows."""
        if not self.persistent:
            return
        assert self.chains is not None  # persistent
        rows = self.rng.integers(0, data.shape[0], size=self.n_chains)
        v = np.ascontiguousarray(data[rows], dtype=self.dtype)
        self.chains[...] = sample_units_tanh(v @ self.weights, self.hidden_bias,
                                             "spin" if self.spin else "binary", self.rng)

    def get_state(self) -> dict[str, Any]:
        """The optimiser state (copies): velocities, persistent chains and the RNG state."""
        state = {
            "velocity_weights": self.velocity_weights.copy(),
            "velocity_visible": self.velocity_visible.copy(),
            "velocity_hidden": self.velocity_hidden.copy(),
            "rng_state": self.rng.bit_generator.state,
            "uniform_stream": [self.uniform_key, self.uniform_counter],
        }
        if self.persistent:
            assert self.chains is not None
            state["chains"] = self.chains.copy()
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state` (shapes are checked)."""
        for name in ("velocity_weights", "velocity_visible", "velocity_hidden"):
            target = getattr(self, name)
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"checkpoint {name} has shape {value.shape}, expected {target.shape}")
            target[...] = value
        if self.persistent:
            assert self.chains is not None
            chains = np.asarray(state.get("chains", np.empty((0,))))
            if chains.shape != self.chains.shape:
                raise ValueError(f"checkpoint persistent chains have shape {chains.shape}, "
                                 f"expected {self.chains.shape}")
            self.chains[...] = chains
        self.rng.bit_generator.state = state["rng_state"]
        self.uniform_key, self.uniform_counter = (int(x) for x in state["uniform_stream"])

    def _uniforms(self, out: FloatArray) -> None:
        """Fill ``out`` with the next uniforms of the Gibbs stream."""
        self.uniform_counter = K.uniform_fill(self.uniform_key, self.uniform_counter, out)

    # ------------------------------------------------------------------------------------------
    def run_epoch(self, data: NDArray[Any], learning_rate: float, momentum: float,
                  weight_decay: float, l1: float) -> float | None:
        """One pass over ``data`` in shuffled mini-batches.

        ``data``: C-contiguous, int8 (unit values; gathered and converted per mini-batch) or
        the parameters' float dtype (fractional means).

        Returns
        -------
        float or None
            Mean squared reconstruction error per visible unit, sum_i (v_i - E[v_i | h0])^2 / V
            averaged over samples (CD only; ``None`` for PCD, whose chain does not start at the
            data).
        """
        n = data.shape[0]
        rng = self.rng
        perm = rng.permutation(n)
        signs = self._no_flips
        if self.flip_augmentation:
            signs = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(self.dtype)
        total_error = 0.0
        for start in range(0, n, self.batch_size):
            idx = perm[start:start + self.batch_size]
            n_batch = idx.shape[0]
            K.gather_rows(data, idx, signs, self._vstack[:n_batch])
            err = self.step(n_batch, learning_rate, momentum, weight_decay, l1)
            if err is not None:
                total_error += err
        if self.persistent:
            return None
        return total_error / (n * data.shape[1])

    def step(self, n_batch: int, learning_rate: float, momentum: float, weight_decay: float,
             l1: float) -> float | None:
        """One CD-k / PCD-k update from the batch already in ``self._vstack[:n_batch]``.

        The negative phase runs ``n_neg`` chains: the persistent ones (PCD) or one per batch
        row (CD).

        Returns the summed squared reconstruction error of the batch (CD) or ``None`` (PCD).
        """
        W = self.weights
        hb = self.hidden_bias
        vb = self.visible_bias
        binary = not self.spin
        typed = self.dtype.type
        one = typed(1.0)
        off = typed(0.0 if binary else -1.0)
        n_neg = self.n_chains if self.persistent else n_batch
        vstack = self._vstack[:n_batch + n_neg]
        hstack = self._hstack[:n_batch + n_neg]
        v0 = vstack[:n_batch]
        vk = vstack[n_batch:]
        h_pos = hstack[:n_batch]
        h_neg = hstack[n_batch:]
        lo_pos, hi_pos = _mean_coefficients(binary, 1.0 / n_batch, typed)
        lo_neg, hi_neg = _mean_coefficients(binary, -1.0 / n_neg, typed)

        # positive phase: t = tanh(s (v0 W + hidden bias)), scaled means and (CD) the h0 sample
        act = self._act_h[:n_batch]
        np.dot(v0, W, out=act)
        field_tanh(act, hb, binary)
        error = None
        if self.persistent:
            K.layer_mean(act, lo_pos, hi_pos, h_pos)
            h_state = self.chains
        else:
            u = self._u_h[:n_batch]
            self._uniforms(u)
            h_state = self._h_sample[:n_batch]
            K.layer_mean_sample(act, u, lo_pos, hi_pos, one, off, h_pos, h_state)

        # negative phase: k steps of block Gibbs sampling
        act_v = self._act_v[:n_neg]
        act_h = self._act_h[:n_neg]
        u_v = self._u_v[:n_neg]
        u_h = self._u_h[:n_neg]
        for step in range(self.cd_k):
            assert h_state is not None  # None only after the last step (_next_hidden)
            np.dot(h_state, W.T, out=act_v)
            field_tanh(act_v, vb, binary)
            if self.mean_negative_visible:
                error = self._visible_means(act_v, vk, v0, binary, typed, step, error)
            else:
                self._uniforms(u_v)
                if step == 0 and not self.persistent:
                    row_error = self._row_error[:n_batch]
                    lo, hi = _mean_coefficients(binary, 1.0, typed)
                    K.visible_sample_recon(act_v, u_v, lo, hi, one, off, v0, vk, row_error)
                    error = float(row_error.sum(dtype=np.float64))
                else:
                    K.layer_sample(act_v, u_v, one, off, vk)
            np.dot(vk, W, out=act_h)
            field_tanh(act_h, hb, binary)
            h_state = self._next_hidden(act_h, u_h, step, lo_neg, hi_neg, one, off, h_neg)

        # statistics <.>_data - <.>_model and the update
        np.dot(vstack.T, hstack, out=self._stat)
        lr = typed(learning_rate)
        mom = typed(momentum)
        K.momentum_update_weights(W, self.velocity_weights, self._stat, lr, mom,
                                  typed(weight_decay), typed(l1))
        # bias statistics (the hidden rows are already scaled by 1/n_batch and -1/n_neg) and updates
        K.bias_step(hb, self.velocity_hidden, hstack, hstack[:0], one, one, lr, mom,
                    self._stat_h, self._scratch_h)
        K.bias_step(vb, self.velocity_visible, v0, vk, typed(1.0 / n_batch), typed(-1.0 / n_neg),
                    lr, mom, self._stat_v, self._scratch_v)
        return error

    def _visible_means(self, act_v: FloatArray, vk: FloatArray, v0: FloatArray, binary: bool,
                       typed: type[np.floating[Any]], step: int,
                       error: float | None) -> float | None:
        """Negative visible layer as probabilities: ``vk = E[v | h]`` (no uniforms drawn);
        on the first CD step also the summed squared reconstruction error sum (v0 - vk)^2."""
        lo, hi = _mean_coefficients(binary, 1.0, typed)
        K.layer_mean(act_v, lo, hi, vk)
        if step == 0 and not self.persistent:
            diff = v0 - vk
            return float(np.einsum("ij,ij->", diff, diff, dtype=np.float64))
        return error

    def _next_hidden(self, act_h: FloatArray, u_h: FloatArray, step: int, lo_neg: np.floating[Any],
                     hi_neg: np.floating[Any], one: np.floating[Any], off: np.floating[Any],
                     h_neg: FloatArray) -> FloatArray | None:
        """Hidden layer after negative step ``step`` (fields in ``act_h`` already tanh'ed): a
        sample for the next step, or on the last step the scaled means into ``h_neg`` (and, for
        PCD, the sample kept in the persistent chains). Returns the state of the next step."""
        n_neg = act_h.shape[0]
        if step < self.cd_k - 1:
            self._uniforms(u_h)
            h_state = self._h_sample[:n_neg]
            K.layer_sample(act_h, u_h, one, off, h_state)
            return h_state
        if self.persistent:
            self._uniforms(u_h)
            K.layer_mean_sample(act_h, u_h, lo_neg, hi_neg, one, off, h_neg, self.chains)
            return self.chains
        K.layer_mean(act_h, lo_neg, hi_neg, h_neg)
        return None


def _mean_coefficients(binary: bool, scale: float, typed: type[np.floating[Any]]
                       ) -> tuple[np.floating[Any], np.floating[Any]]:
    """(lo, hi) with scale * E[u] = lo + hi * t for t = tanh(s x) (see :mod:`rbm._kernels`)."""
    if binary:
        return typed(0.5 * scale), typed(-0.5 * scale)
    return typed(0.0), typed(-scale)

"""Translation-invariant local RBMs (strided convolutional RBMs) as learned block-spin transforms.

A :class:`LocalRBM` couples an ``L x L`` periodic lattice of visible spins to an ``(L/b) x (L/b)``
lattice of hidden spins: hidden unit ``(I, J)`` sees the ``w x w`` window of visible spins at rows
``b*I + o + u`` and columns ``b*J + o + v`` (``u, v = 0..w-1``, ``o = -((w - b) // 2)``, indices
modulo ``L``), i.e. the ``b x b`` block ``(I, J)`` and a margin around it, with one ``w x w``
kernel shared by all blocks and one scalar bias per layer.  It is an ordinary RBM whose dense
weight matrix is tied (:meth:`LocalRBM.dense_weights`), with the energy and sign convention of
docs/CONTRACTS.md (Mehta & Schwab 2014)::

    E(v, h) = b_h sum_j h_j + sum_ij v_i W_ij h_j + c_v sum_i v_i,     p(v, h) = exp(-E) / Z,

spin units only: ``P(h_j = +1 | v) = sigmoid(-2 (b_h + (v W)_j))``.  ``P(h | v)`` is a stochastic
coarse-graining: Mehta & Schwab's variational-RG kernel :math:`T_\\lambda(v, h)`.  A hidden spin
is defined up to a global flip (``W, b_h -> -W, -b_h``); after training the gauge is fixed so that
the kernel sums to a negative number (``E[h | v]`` follows the sign of the block, like majority
rule).  :class:`LocalRBMStack` trains layers greedily (layer ``l + 1`` on layer ``l``'s hidden
samples), so its layers are successive RG steps.

Self-contained numpy (the conditionals are strided window sums); the dense RBM of :mod:`rbm.model`
with :meth:`LocalRBM.dense_weights` gives the same energies, free energies, conditionals and
CD gradients (``tests/test_mcrg_local.py``).

References
----------
P. Mehta and D. J. Schwab, arXiv:1410.3831 (2014).
H. Lee, R. Grosse, R. Ranganath and A. Y. Ng, ICML 2009 (convolutional RBMs).
M. Koch-Janusz and Z. Ringel, Nat. Phys. 14, 578 (2018).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm import maths
from rbm._params import store_params
from rbm._typing import Float64Array, SeedLike
from rbm.archive import atomic_savez
from rbm.hyperparams import as_rng

__all__ = ["LocalRBM", "LocalRBMStack", "LocalBlockTransform", "save_local_stack",
           "load_local_stack", "LOCAL_FORMAT_VERSION"]

LOCAL_FORMAT_VERSION = 1

_LocalRBM = TypeVar("_LocalRBM", bound="LocalRBM")
_LocalRBMStack = TypeVar("_LocalRBMStack", bound="LocalRBMStack")


class LocalBlockTransform(Protocol):
    """The block transform ``f(spins, seed) -> coarse spins`` of a fitted
    :class:`LocalRBMStack` (:meth:`LocalRBMStack.mcrg_transform`), with its block size and a
    label."""

    block: int
    name: str

    def __call__(self, spins: npt.ArrayLike, seed: SeedLike = None) -> NDArray[np.int8]: ...


def _check_lattice(V: npt.ArrayLike, name: str = "X") -> NDArray[Any]:
    V = np.asarray(V)
    if V.ndim != 3 or V.shape[1] != V.shape[2] or V.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n_samples, L, L), got {V.shape}")
    if not np.all((V == 1) | (V == -1)):
        raise ValueError(f"{name} must contain only -1 and +1")
    return V


class LocalRBM:
    """Strided convolutional spin RBM: one hidden spin per ``b x b`` block, ``w x w`` shared kernel.

    Parameters
    ----------
    block : int, default 2
        Block size ``b`` (the stride).
    kernel_size : int, default 4
        Window side ``w >= b`` (centred on the block; ``2b`` gives a margin of ``b/2``).
    learning_rate : float, default 0.05
        Step of gradient ascent on the log-likelihood per hidden unit (gradients are averaged
        over the batch and over block positions).
    n_epochs : int, default 10
    batch_size : int, default 32
    cd_k : int, default 1
        Gibbs steps of CD-k / PCD-k.
    persistent : bool, default False
        Persistent CD (one chain per batch row, kept between updates).
    momentum : float, default 0.5
    weight_decay : float, default 0.0
        L2 penalty on the kernel.
    init_scale : float, default 0.01
        Standard deviation of the initial kernel.
    random_state : int or None
        Seed of the initialisation, the shuffles and the Gibbs uniforms.

    Attributes
    ----------
    kernel_ : ndarray (w, w)
    hidden_bias_, visible_bias_ : float
    history_ : dict with ``reconstruction_error`` per epoch
    """

    block: int
    kernel_size: int
    learning_rate: float
    n_epochs: int
    batch_size: int
    cd_k: int
    persistent: bool
    momentum: float
    weight_decay: float
    init_scale: float
    random_state: int | None
    kernel_: Float64Array
    hidden_bias_: float
    visible_bias_: float
    history_: dict[str, list[float | None]]
    n_features_in_: int

    def __init__(self, block: int = 2, kernel_size: int = 4, *, learning_rate: float = 0.05,
                 n_epochs: int = 10, batch_size: int = 32, cd_k: int = 1, persistent: bool = False,
                 momentum: float = 0.5, weight_decay: float = 0.0, init_scale: float = 0.01,
                 random_state: int | None = None) -> None:
        store_params(self, locals())

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("block", "kernel_size", "learning_rate", "n_epochs",
                                              "batch_size", "cd_k", "persistent", "momentum",
                                              "weight_decay", "init_scale", "random_state")}

    def __repr__(self) -> str:
        return f"LocalRBM(block={self.block}, kernel_size={self.kernel_size})"

    # ------------------------------------------------------------------ validation / geometry
    def _validate(self) -> None:
        def integer(name: str, low: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        integer("block", 2)
        integer("kernel_size", 1)
        integer("n_epochs", 1)
        integer("batch_size", 1)
        integer("cd_k", 1)
        if self.kernel_size < self.block:
            raise ValueError(f"kernel_size must be >= block, got {self.kernel_size} < {self.block}")
        for name, lo, hi in (("learning_rate", 0, math.inf), ("momentum", 0, 1),
                             ("weight_decay", 0, math.inf), ("init_scale", 0, math.inf)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{name} must be a finite number in [{lo}, {hi}], got {v!r}")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or int(self.random_state) != self.random_state
                                              or self.random_state < 0):
            raise ValueError(f"random_state must be None or an integer >= 0, got {self.random_state!r}")

    def _check_size(self, L: int) -> None:
        b, w = int(self.block), int(self.kernel_size)
        if L % b or w > L:
            raise ValueError(f"lattice side {L} must be a multiple of block {b} and >= kernel_size {w}")

    def _indices(self, L: int) -> list[NDArray[np.int_]]:
        """rows[u] (L/b,) = (b*I + o + u) mod L for the window row u (the same for columns)."""
        b, w = int(self.block), int(self.kernel_size)
        o = -((w - b) // 2)
        return [(b * np.arange(L // b) + o + u) % L for u in range(w)]

    def _check_fitted(self) -> None:
        if getattr(self, "kernel_", None) is None:
            raise ValueError("this LocalRBM is not fitted yet")

    # ------------------------------------------------------------------ conditionals
    def hidden_input(self, V: npt.ArrayLike) -> Float64Array:
        """``b_h + (v W)_j`` for every block: shape (n, L/b, L/b)."""
        self._check_fitted()
        V = np.asarray(V, dtype=np.float64)
        L = V.shape[-1]
        self._check_size(L)
        idx = self._indices(L)
        act = np.full((V.shape[0], L // self.block, L // self.block), self.hidden_bias_)
        for u, ru in enumerate(idx):
            rows = V[:, ru, :]
            for v, cv in enumerate(idx):
                act += self.kernel_[u, v] * rows[:, :, cv]
        return act

    def visible_input(self, H: npt.ArrayLike) -> Float64Array:
        """``c_v + (W h)_i`` for every site: shape (n, L, L), with ``L = b * H.shape[-1]``."""
        self._check_fitted()
        H = np.asarray(H, dtype=np.float64)
        L = H.shape[-1] * self.block
        self._check_size(L)
        idx = self._indices(L)
        act = np.full((H.shape[0], L, L), self.visible_bias_)
        for u, ru in enumerate(idx):
            for v, cv in enumerate(idx):
                act[:, ru[:, None], cv[None, :]] += self.kernel_[u, v] * H  # indices distinct
        return act

    def mean_hidden(self, V: npt.ArrayLike) -> Float64Array:
        """``E[h | v] = -tanh(b_h + (v W)_j)`` (spin units, docs/CONTRACTS.md sign)."""
        return maths.unit_mean(self.hidden_input(V), "spin")

    def mean_visible(self, H: npt.ArrayLike) -> Float64Array:
        return maths.unit_mean(self.visible_input(H), "spin")

    @staticmethod
    def _sample(act: Float64Array, rng: np.random.Generator) -> NDArray[np.int8]:
        # P(+1) = sigmoid(-2 act) = (1 - tanh act) / 2, one float64 uniform per unit
        p_on = maths.probability_from_mean(maths.unit_mean(act, "spin"), "spin")
        return maths.draw_units(p_on, "spin", rng).astype(np.int8)

    def sample_hidden(self, V: npt.ArrayLike, seed: SeedLike = None, *,
                      chunk: int = 256) -> NDArray[np.int8]:
        """Draw ``h ~ P(h | v)``: the stochastic coarse-graining, int8 (n, L/b, L/b).

        Processed ``chunk`` samples at a time (the uniforms are consumed in sample order, so the
        result does not depend on ``chunk``)."""
        rng = as_rng(seed)
        V = np.asarray(V)
        parts = [self._sample(self.hidden_input(V[i:i + chunk]), rng) for i in range(0, V.shape[0], chunk)]
        return np.concatenate(parts) if parts else np.empty((0,) + V.shape[1:], np.int8)

    def sample_visible(self, H: npt.ArrayLike, seed: SeedLike = None) -> NDArray[np.int8]:
        return self._sample(self.visible_input(H), as_rng(seed))

    def transform(self, V: npt.ArrayLike, seed: SeedLike = None) -> NDArray[np.int8]:
        """Alias of :meth:`sample_hidden` (block transform ``f(spins, seed)`` for analysis.mcrg)."""
        return self.sample_hidden(_check_lattice(V), seed)

    # ------------------------------------------------------------------ energies
    def energy(self, V: npt.ArrayLike, H: npt.ArrayLike) -> Float64Array:
        """``E(v, h)`` per sample."""
        V = np.asarray(V, dtype=np.float64)
        H = np.asarray(H, dtype=np.float64)
        coupling = ((self.hidden_input(V) - self.hidden_bias_) * H).sum(axis=(1, 2))
        return self.hidden_bias_ * H.sum(axis=(1, 2)) + coupling + self.visible_bias_ * V.sum(axis=(1, 2))

    def free_energy(self, V: npt.ArrayLike) -> Float64Array:
        """``F(v) = c.v - sum_j log 2cosh(b_h + (vW)_j)``."""
        lc = maths.unit_log_partition(self.hidden_input(V), "spin")
        return self.visible_bias_ * np.asarray(V, dtype=np.float64).sum(axis=(1, 2)) - lc.sum(axis=(1, 2))

    def free_energy_hidden(self, H: npt.ArrayLike) -> Float64Array:
        """``F(h) = b.h - sum_i log 2cosh(c_v + (W h)_i)``."""
        lc = maths.unit_log_partition(self.visible_input(H), "spin")
        return self.hidden_bias_ * np.asarray(H, dtype=np.float64).sum(axis=(1, 2)) - lc.sum(axis=(1, 2))

    # ------------------------------------------------------------------ dense equivalent
    def dense_weights(self, L: int) -> Float64Array:
        """The tied dense weight matrix ``W`` of shape (L*L, (L/b)**2) (C-order site indices)."""
        self._check_fitted()
        self._check_size(L)
        idx = self._indices(L)
        m = L // self.block
        W = np.zeros((L * L, m * m))
        hid = np.arange(m * m).reshape(m, m)
        for u, ru in enumerate(idx):
            for v, cv in enumerate(idx):
                vis = ru[:, None] * L + cv[None, :]
                W[vis.ravel(), hid.ravel()] += self.kernel_[u, v]
        return W

    def _correlate(self, V: Float64Array, H: Float64Array) -> Float64Array:
        """``sum_{n, tied (i, j)} v_i h_j`` per kernel entry: shape (w, w)."""
        idx = self._indices(V.shape[-1])
        out = np.empty((len(idx), len(idx)))
        for u, ru in enumerate(idx):
            rows = V[:, ru, :]
            for v, cv in enumerate(idx):
                out[u, v] = np.einsum("nij,nij->", rows[:, :, cv], H)
        return out

    # ------------------------------------------------------------------ training
    def gradients(self, V0: npt.ArrayLike, seed: SeedLike = None,
                  chains: npt.ArrayLike | None = None) -> tuple[dict[str, Any], Float64Array]:
        """CD-k (or PCD-k from ``chains``) estimate of the log-likelihood gradient.

        Returns ``(grads, vk)`` with ``grads = {"kernel", "hidden_bias", "visible_bias"}``:
        :math:`-\\langle\\partial E/\\partial\\theta\\rangle_{data} + \\langle\\partial E/\\partial
        \\theta\\rangle_{model}` summed over tied entries and divided by the batch size (not by
        the number of blocks), the positive phase with ``E[h | v0]`` and the negative phase with
        ``E[h | v_k]`` after ``k`` block-Gibbs steps (uniforms drawn hidden, then visible, from
        ``seed``), and the final visible states ``vk``.
        """
        rng = as_rng(seed)
        V0 = np.asarray(V0, dtype=np.float64)
        n = V0.shape[0]
        hp = self.mean_hidden(V0)
        v = V0 if chains is None else np.asarray(chains, dtype=np.float64)
        for _ in range(int(self.cd_k)):
            h = self._sample(self.hidden_input(v), rng)
            v = self._sample(self.visible_input(h), rng).astype(np.float64)
        hn = self.mean_hidden(v)
        grads = {"kernel": (self._correlate(v, hn) - self._correlate(V0, hp)) / n,
                 "hidden_bias": float(hn.sum() - hp.sum()) / n,
                 "visible_bias": float(v.sum() - V0.sum()) / n}
        return grads, v

    def fit(self: _LocalRBM, X: npt.ArrayLike, *,
            progress: Callable[[int, int], object] | None = None) -> _LocalRBM:
        """Train by CD-k / PCD-k on configurations ``X`` of shape (n, L, L).

        ``progress(epoch, n_epochs)`` is called after each epoch.
        """
        self._validate()
        X = _check_lattice(X).astype(np.int8, copy=False)
        L = X.shape[-1]
        self._check_size(L)
        rng = np.random.default_rng(self.random_state)
        w = int(self.kernel_size)
        self.kernel_ = self.init_scale * rng.standard_normal((w, w))
        self.hidden_bias_ = 0.0
        self.visible_bias_ = 0.0
        self.history_ = {"reconstruction_error": []}
        vel: dict[str, Any] = {"kernel": np.zeros((w, w)), "hidden_bias": 0.0, "visible_bias": 0.0}
        n = X.shape[0]
        bs = min(int(self.batch_size), n)
        chains = X[rng.choice(n, bs, replace=False)].astype(np.float64) if self.persistent else None
        per_unit = (L // self.block) ** 2
        for epoch in range(int(self.n_epochs)):
            perm = rng.permutation(n)
            err, count = 0.0, 0
            for start in range(0, n - bs + 1, bs):
                batch = X[perm[start:start + bs]].astype(np.float64)
                grads, vk = self.gradients(batch, rng, chains)
                if self.persistent:
                    chains = vk
                else:
                    err += float(np.mean((batch - vk) ** 2)) * bs
                    count += bs
                grads["kernel"] = grads["kernel"] - self.weight_decay * per_unit * self.kernel_
                for key in vel:
                    vel[key] = self.momentum * vel[key] + self.learning_rate * grads[key] / per_unit
                self.kernel_ = self.kernel_ + vel["kernel"]
                self.hidden_bias_ += vel["hidden_bias"]
                self.visible_bias_ += vel["visible_bias"]
            if not (np.all(np.isfinite(self.kernel_)) and math.isfinite(self.hidden_bias_)):
                raise ValueError("LocalRBM training diverged (NaN/inf); lower the learning rate")
            self.history_["reconstruction_error"].append(err / count if count else None)
            if progress is not None:
                progress(epoch + 1, int(self.n_epochs))
        self.fix_gauge()
        self.n_features_in_ = L * L
        return self

    def fix_gauge(self: _LocalRBM) -> _LocalRBM:
        """Flip ``(W, b_h) -> (-W, -b_h)`` (i.e. ``h -> -h``) if the kernel sums to > 0."""
        if self.kernel_.sum() > 0:
            self.kernel_ = -self.kernel_
            self.hidden_bias_ = -self.hidden_bias_
        return self


class LocalRBMStack:
    """Greedy stack of :class:`LocalRBM` layers: layer ``l + 1`` is trained on layer ``l``'s
    hidden samples, so the layers are successive RG steps.

    Parameters
    ----------
    n_layers : int
    rbm_params : dict, optional
        Keyword arguments of every :class:`LocalRBM` (``random_state`` is replaced by a child seed
        per layer).
    random_state : int or None
    """

    n_layers: int
    rbm_params: Mapping[str, Any] | None
    random_state: int | None
    layers_: list[LocalRBM]

    def __init__(self, n_layers: int = 2, *, rbm_params: Mapping[str, Any] | None = None,
                 random_state: int | None = None) -> None:
        store_params(self, locals())

    def fit(self: _LocalRBMStack, X: npt.ArrayLike, *,
            progress: Callable[[int, int, int], object] | None = None) -> _LocalRBMStack:
        """Train the layers greedily; ``progress(layer, epoch, n_epochs)`` after each epoch."""
        if isinstance(self.n_layers, bool) or int(self.n_layers) != self.n_layers or self.n_layers < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {self.n_layers!r}")
        X = _check_lattice(X)
        ss = np.random.SeedSequence(self.random_state)
        children = ss.spawn(2 * int(self.n_layers))
        params = dict(self.rbm_params or {})
        self.layers_ = []
        data = X
        for l in range(int(self.n_layers)):
            params["random_state"] = int(children[2 * l].generate_state(1)[0])
            layer = LocalRBM(**params)
            cb = None if progress is None else (lambda e, n, l=l: progress(l, e, n))
            layer.fit(data, progress=cb)
            self.layers_.append(layer)
            if l + 1 < int(self.n_layers):
                data = layer.sample_hidden(data, seed=children[2 * l + 1])
        return self

    @property
    def block(self) -> int:
        return int(self.layers_[0].block)

    def mcrg_transform(self, size: int) -> LocalBlockTransform:
        """Block transform ``f(spins, seed)`` for :func:`analysis.mcrg.mcrg` on lattices of side
        ``size``: layer ``l`` acts on level ``l`` (side ``size / b**l``); levels beyond the stack
        reuse the last layer (the iterated learned RG step)."""
        layers = self.layers_
        b = self.block

        def transform(spins: npt.ArrayLike, seed: SeedLike = None) -> NDArray[np.int8]:
            s = np.asarray(spins)
            level = int(round(math.log(size / s.shape[-1], b)))
            return layers[min(level, len(layers) - 1)].transform(s, seed)

        learned = cast(LocalBlockTransform, transform)
        learned.block = b
        learned.name = f"learned local RBM b={b}"
        return learned


def save_local_stack(path: str | os.PathLike[str], stack: LocalRBMStack,
                     meta: Mapping[str, Any] | None = None) -> str | os.PathLike[str]:
    """Save a fitted :class:`LocalRBMStack` as a versioned ``.npz`` (atomic; layout like
    :mod:`rbm.io`: a JSON ``meta`` record and ``layer{i}_kernel`` / ``layer{i}_biases`` arrays)."""
    layers = getattr(stack, "layers_", None)
    if not layers:
        raise ValueError("cannot save an unfitted LocalRBMStack")
    record = {"format_version": LOCAL_FORMAT_VERSION, "kind": "local_rbm_stack",
              "stack": {"n_layers": stack.n_layers, "random_state": stack.random_state},
              "layers": [{"params": layer.get_params(), "history": layer.history_} for layer in layers],
              "meta": meta or {}}
    arrays = {"meta": np.array(json.dumps(record)), "format_version": np.int64(LOCAL_FORMAT_VERSION)}
    for i, layer in enumerate(layers):
        arrays[f"layer{i}_kernel"] = layer.kernel_
        arrays[f"layer{i}_biases"] = np.array([layer.hidden_bias_, layer.visible_bias_])
    atomic_savez(path, arrays)
    return path


def load_local_stack(path: str | os.PathLike[str]) -> tuple[LocalRBMStack, dict[str, Any]]:
    """Load a stack written by :func:`save_local_stack`; returns ``(stack, meta)``."""
    with np.load(path, allow_pickle=False) as z:
        try:
            record = json.loads(str(z["meta"]))
            version = int(z["format_version"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path} is not a LocalRBMStack file") from exc
        if record.get("kind") != "local_rbm_stack" or version != LOCAL_FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported kind/version {record.get('kind')}/{version}")
        stack = LocalRBMStack(record["stack"]["n_layers"], random_state=record["stack"]["random_state"])
        stack.layers_ = []
        for i, rec in enumerate(record["layers"]):
            layer = LocalRBM(**rec["params"])
            layer.kernel_ = np.array(z[f"layer{i}_kernel"], dtype=np.float64)
            layer.hidden_bias_, layer.visible_bias_ = (float(x) for x in z[f"layer{i}_biases"])
            layer.history_ = rec["history"]
            stack.layers_.append(layer)
    return stack, record["meta"]

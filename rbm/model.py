"""Restricted Boltzmann machine with binary {0,1} or spin {-1,+1} units (scikit-learn conventions).

Energy in the sign convention of Mehta & Schwab (2014) (docs/CONTRACTS.md):

    E(v, h) = sum_j b_j h_j + sum_ij v_i w_ij h_j + sum_i c_i v_i,     p(v, h) = exp(-E) / Z,

with ``weights_`` = w (n_visible, n_hidden), ``visible_bias_`` = c, ``hidden_bias_`` = b. Note the
sign: a *negative* weight favours aligned units. Conditionals and free energies are listed in
docs/CONTRACTS.md; everything is evaluated stably (softplus / log 2cosh).

Training is contrastive divergence CD-k (Hinton 2002) or persistent CD (Tieleman 2008) with
mini-batch SGD, momentum, L2 weight decay and an L1 penalty (the paper used 2e-4), following
Hinton (2010), "A practical guide to training restricted Boltzmann machines", UTML TR 2010-003.
The engine is :class:`rbm.train.CDTrainer`.

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
G. E. Hinton, "Training products of experts by minimizing contrastive divergence", Neural
Computation 14, 1771 (2002).
T. Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood
gradient", Proc. ICML (2008).
R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks",
Proc. ICML (2008).
J. Besag, "Statistical analysis of non-lattice data", The Statistician 24, 179 (1975).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import time
import zlib

import numpy as np

from rbm import _kernels as K
from rbm import maths, partition
from rbm._params import ParamsMixin, jsonable_params
from rbm.archive import load_checkpoint, save_checkpoint
from rbm.maths import field_tanh
from rbm.train import NEGATIVE_VISIBLE, CDTrainer

__all__ = ["RBM", "TrainingDivergedError"]

logger = logging.getLogger(__name__)

_UNITS = ("binary", "spin")
_SCHEDULES = ("constant", "linear", "exponential")
_DTYPES = ("float32", "float64")
_PLL_METHODS = ("random", "exact")
_INIT_VISIBLE_BIAS = ("data", "zero")
#: Hyperparameters added after the model-file format was fixed, with their defaults. Model
#: files and checkpoints store them only when they differ from these (:meth:`RBM.stored_params`),
#: so models trained with the defaults keep their bytes and older files still load and resume.
LATER_PARAM_DEFAULTS = {"init_scale": 0.01, "init_visible_bias": "data",
                        "negative_visible": "samples"}


class TrainingDivergedError(ValueError):
    """Training produced NaN or inf parameters or free energies (lower the learning rate)."""


def _check_seed(seed, name="random_state"):
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be None, a non-negative int or a numpy SeedSequence, "
                         f"got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}")
    return int(seed)


def _as_rng(seed):
    """A Generator from None / int / SeedSequence / Generator (a Generator is used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_check_seed(seed, "seed"))


class RBM(ParamsMixin):
    """Restricted Boltzmann machine trained by contrastive divergence (CD-k or PCD-k).

    Parameters
    ----------
    n_hidden : int, default 64
        Number of hidden units (> 0).
    units : {"spin", "binary"}, default "spin"
        Unit values {-1, +1} (natural for Ising data) or {0, 1}; both layers use the same kind.
    learning_rate : float, default 0.01
        Initial SGD step (> 0), applied to mini-batch *averaged* gradients.
    learning_rate_schedule : {"constant", "linear", "exponential"}, default "constant"
        Learning rate at epoch e = 0..n_epochs-1: constant; linear interpolation from
        ``learning_rate`` to ``final_learning_rate``; geometric interpolation between them.
    final_learning_rate : float, optional
        Last-epoch learning rate of a decaying schedule (default ``learning_rate / 100``).
    n_epochs : int, default 10
        Passes over the training data in :meth:`fit`.
    batch_size : int, default 100
        Mini-batch size (the last batch of an epoch may be smaller).
    cd_k : int, default 1
        Number of block-Gibbs steps of the negative phase (>= 1).
    persistent : bool, default False
        Persistent CD (fantasy chains carried between updates) instead of CD started at the data.
        PCD needs a smaller ``learning_rate`` than CD (about 1e-3 with momentum 0.9): when the
        parameters move faster than the fantasy chains mix, training oscillates.
    n_persistent_chains : int, optional
        Number of persistent chains (default ``batch_size``).
    momentum, final_momentum : float, default 0.5, 0.9
        Momentum before / from ``momentum_switch_epoch`` on (Hinton 2010, sec. 9), in [0, 1).
    momentum_switch_epoch : int, default 5
    weight_decay : float, default 0.0
        L2 penalty coefficient on the weights (gradient ``weight_decay * W``).
    l1 : float, default 0.0
        L1 penalty coefficient on the weights (gradient ``l1 * sign(W)``; the paper used 2e-4).
    dtype : {"float32", "float64"}, default "float32"
        Floating type of the parameters and of training.
    flip_augmentation : bool, default False
        Spin units only: every epoch, each training sample is multiplied by an independent random
        global sign (the Z2 symmetry of the zero-field Ising model).
    init_scale : float, default 0.01
        Standard deviation of the initial weights, W ~ N(0, init_scale^2) (Hinton 2010, sec. 8;
        Hinton & Salakhutdinov's rbm.m uses 0.1).
    init_visible_bias : {"data", "zero"}, default "data"
        Initial visible biases: from the data means (Hinton 2010, sec. 8) or zero (rbm.m).
    negative_visible : {"samples", "probabilities"}, default "samples"
        Visible layer of the negative phase: sampled states, or the conditional means E[v | h]
        (rbm.m's reconstruction probabilities; :class:`rbm.train.CDTrainer`).
    monitor_size : int, default 1000
        Number of training samples (fixed random subset) used for the per-epoch metrics in
        ``history_``; 0 disables the monitoring metrics (the divergence check stays).
    monitor_pll : {"random", "exact"}, default "random"
        Pseudo-log-likelihood estimator of the per-epoch monitoring (:meth:`pseudo_log_likelihood`).
    monitor_exact_max_units : int, default 16
        Record the exact average log-likelihood of the monitoring subset each epoch when the
        smaller layer has at most this many units (2^n-term enumeration).
    random_state : None, int or numpy.random.SeedSequence
        Seed of every random choice of :meth:`fit` (initialisation, shuffling, Gibbs sampling,
        monitoring). The same seed gives the same bytes.

    Attributes
    ----------
    weights_ : ndarray (n_visible, n_hidden)
        w in E = b.h + v w h + c.v.
    visible_bias_ : ndarray (n_visible,)
        c.
    hidden_bias_ : ndarray (n_hidden,)
        b.
    n_features_in_ : int
        Number of visible units.
    history_ : dict of lists
        Per-epoch ``epoch`` (1-based), ``learning_rate``, ``momentum``, ``reconstruction_error``
        (mean squared error per visible unit of the mean-field reconstruction E[v | h],
        h ~ p(h | v data); averaged over the epoch's mini-batches for CD, on the monitoring subset
        for PCD), ``pseudo_log_likelihood`` (mean per sample over the monitoring subset),
        ``log_likelihood`` (exact mean log p(v) over the monitoring subset, or None), ``seconds``.
    n_epochs_done_ : int
        Epochs trained so far.

    Notes
    -----
    ``transform`` returns E[h | v]: P(h_j = 1 | v) for binary units, E[h_j | v] =
    2 P(h_j = +1 | v) - 1 = -tanh(b_j + (v W)_j) for spin units.

    References
    ----------
    Mehta & Schwab, arXiv:1410.3831 (2014); Hinton, Neural Computation 14, 1771 (2002);
    Hinton, UTML TR 2010-003 (2010); Tieleman, ICML (2008).
    """

    def __init__(self, n_hidden=64, *, units="spin", learning_rate=0.01,
                 learning_rate_schedule="constant", final_learning_rate=None, n_epochs=10,
                 batch_size=100, cd_k=1, persistent=False, n_persistent_chains=None,
                 momentum=0.5, final_momentum=0.9, momentum_switch_epoch=5, weight_decay=0.0,
                 l1=0.0, dtype="float32", flip_augmentation=False, init_scale=0.01,
                 init_visible_bias="data", negative_visible="samples", monitor_size=1000,
                 monitor_pll="random", monitor_exact_max_units=16, random_state=None):
        self.n_hidden = n_hidden
        self.units = units
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.final_learning_rate = final_learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.cd_k = cd_k
        self.persistent = persistent
        self.n_persistent_chains = n_persistent_chains
        self.momentum = momentum
        self.final_momentum = final_momentum
        self.momentum_switch_epoch = momentum_switch_epoch
        self.weight_decay = weight_decay
        self.l1 = l1
        self.dtype = dtype
        self.flip_augmentation = flip_augmentation
        self.init_scale = init_scale
        self.init_visible_bias = init_visible_bias
        self.negative_visible = negative_visible
        self.monitor_size = monitor_size
        self.monitor_pll = monitor_pll
        self.monitor_exact_max_units = monitor_exact_max_units
        self.random_state = random_state

    def stored_params(self):
        """The hyperparameters as written to model files and checkpoints (JSON values): every
        one, except those of :data:`LATER_PARAM_DEFAULTS` at their defaults."""
        params = jsonable_params(self.get_params())
        return {k: v for k, v in params.items()
                if not (k in LATER_PARAM_DEFAULTS and _same(v, LATER_PARAM_DEFAULTS[k]))}

    def __repr__(self):
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
                    if p.name != "self"}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"RBM({', '.join(changed)})"

    # ------------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------------
    def validated_params(self):
        """The hyperparameters checked and normalised (defaults resolved, dtype as numpy dtype).

        Returns
        -------
        dict
            One entry per constructor argument, as :meth:`fit` uses them.

        Raises
        ------
        ValueError
            An invalid hyperparameter (one-line message naming it).
        """
        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
            return int(value)

        def real(name, low, high=math.inf, low_open=False, high_open=False):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {getattr(self, name)!r}") from None
            bad = (not math.isfinite(value) or value < low or value > high
                   or (low_open and value == low) or (high_open and value == high))
            if bad:
                lo = "(" if low_open else "["
                hi = ")" if high_open else "]"
                raise ValueError(f"{name} must be finite and in {lo}{low}, {high}{hi}, got {value}")
            return value

        p = {}
        p["n_hidden"] = integer("n_hidden", 1)
        if self.units not in _UNITS:
            raise ValueError(f"units must be 'binary' or 'spin', got {self.units!r}")
        p["units"] = self.units
        p["learning_rate"] = real("learning_rate", 0.0, low_open=True)
        if self.learning_rate_schedule not in _SCHEDULES:
            raise ValueError(f"learning_rate_schedule must be one of {_SCHEDULES}, "
                             f"got {self.learning_rate_schedule!r}")
        p["learning_rate_schedule"] = self.learning_rate_schedule
        if self.final_learning_rate is None:
            p["final_learning_rate"] = p["learning_rate"] / 100.0
        else:
            p["final_learning_rate"] = real("final_learning_rate", 0.0, low_open=True)
        p["n_epochs"] = integer("n_epochs", 1)
        p["batch_size"] = integer("batch_size", 1)
        p["cd_k"] = integer("cd_k", 1)
        if not isinstance(self.persistent, (bool, np.bool_)):
            raise ValueError(f"persistent must be True or False, got {self.persistent!r}")
        p["persistent"] = bool(self.persistent)
        if self.n_persistent_chains is None:
            p["n_persistent_chains"] = p["batch_size"]
        else:
            p["n_persistent_chains"] = integer("n_persistent_chains", 1)
        p["momentum"] = real("momentum", 0.0, 1.0, high_open=True)
        p["final_momentum"] = real("final_momentum", 0.0, 1.0, high_open=True)
        p["momentum_switch_epoch"] = integer("momentum_switch_epoch", 0)
        p["weight_decay"] = real("weight_decay", 0.0)
        p["l1"] = real("l1", 0.0)
        if str(self.dtype) not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        p["dtype"] = np.dtype(str(self.dtype))
        if not isinstance(self.flip_augmentation, (bool, np.bool_)):
            raise ValueError(f"flip_augmentation must be True or False, got {self.flip_augmentation!r}")
        if self.flip_augmentation and self.units != "spin":
            raise ValueError("flip_augmentation requires spin units")
        p["flip_augmentation"] = bool(self.flip_augmentation)
        p["init_scale"] = real("init_scale", 0.0)
        if self.init_visible_bias not in _INIT_VISIBLE_BIAS:
            raise ValueError(f"init_visible_bias must be 'data' or 'zero', "
                             f"got {self.init_visible_bias!r}")
        p["init_visible_bias"] = self.init_visible_bias
        if self.negative_visible not in NEGATIVE_VISIBLE:
            raise ValueError(f"negative_visible must be 'samples' or 'probabilities', "
                             f"got {self.negative_visible!r}")
        p["negative_visible"] = self.negative_visible
        p["monitor_size"] = integer("monitor_size", 0)
        if self.monitor_pll not in _PLL_METHODS:
            raise ValueError(f"monitor_pll must be 'random' or 'exact', got {self.monitor_pll!r}")
        p["monitor_pll"] = self.monitor_pll
        p["monitor_exact_max_units"] = integer("monitor_exact_max_units", 0)
        p["random_state"] = _check_seed(self.random_state)
        if isinstance(p["random_state"], np.random.Generator):
            raise ValueError("random_state must be None, an int or a SeedSequence (not a Generator)")
        return p

    def _check_data(self, X, name="X", n_features=None, allow_fractional=False):
        """Validate visible configurations: 2-D, non-empty, finite, values in the unit set
        (or, with ``allow_fractional``, in its convex hull [0, 1] / [-1, 1])."""
        if X is None:
            raise ValueError(f"{name} is None")
        try:
            arr = np.asarray(X)
        except Exception as exc:  # noqa: BLE001 - re-raised as a one-line ValueError
            raise ValueError(f"{name} is not array-like: {exc}") from None
        if arr.ndim == 1 and n_features is not None and arr.shape[0] == n_features:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"{name} is empty (shape {arr.shape})")
        if n_features is not None and arr.shape[1] != n_features:
            raise ValueError(f"{name} has {arr.shape[1]} features but the model has {n_features} "
                             f"visible units")
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
        units = self.units
        if allow_fractional:
            low = 0 if units == "binary" else -1
            if not np.all((arr >= low) & (arr <= 1)):
                raise ValueError(f"{name} must lie in [{low}, 1] for {units} units")
            return arr
        if not in_unit_set(arr, units):
            allowed = "0 and 1" if units == "binary" else "-1 and +1"
            raise ValueError(f"{name} must contain only {allowed} for {units} units")
        return arr

    def _check_fitted(self):
        if getattr(self, "weights_", None) is None:
            raise ValueError("this RBM is not fitted yet; call fit() first")

    def _float_dtype(self):
        return self.weights_.dtype

    # ------------------------------------------------------------------------------------------
    # seeds
    # ------------------------------------------------------------------------------------------
    def _seed_sequence(self, *key):
        """Child SeedSequence ``key`` of the fit's root sequence (deterministic, not stateful)."""
        root = self._root_seed_
        return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(key))

    def _default_seed_sequence(self, key):
        """Child ``key`` of the fit's root sequence, or of ``random_state`` if not fitted by fit."""
        if getattr(self, "_root_seed_", None) is None:
            self._root_seed_ = self._make_root_seed(_check_seed(self.random_state))
        return self._seed_sequence(key)

    def _make_root_seed(self, random_state):
        if isinstance(random_state, np.random.SeedSequence):
            return random_state
        return np.random.SeedSequence(random_state)

    # ------------------------------------------------------------------------------------------
    # initialisation
    # ------------------------------------------------------------------------------------------
    def _initialise(self, data, p):
        """Hinton (2010, sec. 8) initialisation in our sign convention.

        W ~ N(0, init_scale^2) (0.01 by default); hidden bias 0; visible bias zero with
        ``init_visible_bias="zero"`` (rbm.m), else from the data means so that the model of
        independent visibles reproduces them: binary P(v_i = 1) = sigma(-c_i) = p_i gives
        c_i = log((1 - p_i)/p_i); spin E[v_i] = -tanh(c_i) = m_i gives c_i = -atanh(m_i)
        (means clipped away from the boundary by 1e-3; zero with ``flip_augmentation``, whose
        symmetrised data have zero means).
        """
        rng = np.random.default_rng(self._seed_sequence(0))
        n_visible = data.shape[1]
        dtype = p["dtype"]
        weights = (p["init_scale"] * rng.standard_normal((n_visible, p["n_hidden"]))).astype(dtype)
        if p["flip_augmentation"]:
            mean = np.zeros(n_visible)  # the augmented (symmetrised) data have zero means
        elif data.dtype == np.int8:
            mean = K.column_means(data)
        else:
            mean = data.mean(axis=0, dtype=np.float64)
        eps = 1e-3
        if p["units"] == "binary":
            q = np.clip(mean, eps, 1.0 - eps)
            visible_bias = np.log1p(-q) - np.log(q)
        else:
            m = np.clip(mean, -1.0 + 2 * eps, 1.0 - 2 * eps)
            visible_bias = -np.arctanh(m)
        if p["init_visible_bias"] == "zero":
            visible_bias = np.zeros(n_visible)
        self.weights_ = weights
        self.visible_bias_ = visible_bias.astype(dtype)
        self.hidden_bias_ = np.zeros(p["n_hidden"], dtype)
        self.n_features_in_ = n_visible
        self.history_ = _empty_history()
        self.n_epochs_done_ = 0

    def _make_trainer(self, data, p):
        rng = np.random.default_rng(self._seed_sequence(1))
        trainer = CDTrainer(self.weights_, self.visible_bias_, self.hidden_bias_,
                            units=p["units"], batch_size=p["batch_size"], cd_k=p["cd_k"],
                            persistent=p["persistent"], n_chains=p["n_persistent_chains"],
                            flip_augmentation=p["flip_augmentation"], rng=rng,
                            negative_visible=p["negative_visible"])
        trainer.init_chains(data)
        return trainer

    # ------------------------------------------------------------------------------------------
    # schedules
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _learning_rate_at(epoch, p):
        lr0, lr1, n = p["learning_rate"], p["final_learning_rate"], p["n_epochs"]
        if p["learning_rate_schedule"] == "constant" or n == 1:
            return lr0
        t = min(epoch, n - 1) / (n - 1)
        if p["learning_rate_schedule"] == "linear":
            return lr0 + (lr1 - lr0) * t
        return lr0 * (lr1 / lr0) ** t

    @staticmethod
    def _momentum_at(epoch, p):
        return p["momentum"] if epoch < p["momentum_switch_epoch"] else p["final_momentum"]

    # ------------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, checkpoint=None, resume=False, callback=None, layer=None,
            allow_fractional=False):
        """Train on visible configurations ``X`` for ``n_epochs`` epochs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Values in {0, 1} (binary units) or {-1, +1} (spin units); any numeric dtype.
        y : ignored
        checkpoint : str or os.PathLike, optional
            Write a training checkpoint (parameters, momentum buffers, persistent chains, RNG
            state, epoch, history) atomically after every epoch (:func:`rbm.io.save_checkpoint`).
        resume : bool, default False
            If ``checkpoint`` exists, continue from it: the result is bit-identical to an
            uninterrupted run with the same seed and data. The checkpoint's hyperparameters and
            data fingerprint must match (ValueError otherwise).
        callback : callable, optional
            ``callback(record)`` after every epoch, ``record`` a dict with ``epoch`` (1-based),
            ``n_epochs``, ``layer`` and the epoch's metrics (drives progress bars in the CLI).
        layer : str or int, optional
            Label used in log messages and in :class:`TrainingDivergedError`.
        allow_fractional : bool, default False
            Accept unit *means* (values in [0, 1] binary, [-1, 1] spin) as training data, e.g.
            the mean-field activities of the layer below in a DBN (Hinton 2010, sec. 3). The
            CD statistics then use these values in place of states; the per-epoch
            pseudo-likelihood and exact log-likelihood are evaluated at them as given.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad hyperparameters or data, or an incompatible checkpoint.
        TrainingDivergedError
            NaN/inf parameters or free energies; the error names the epoch (and layer). The
            checkpoint of the last good epoch is left intact.
        """
        p = self.validated_params()
        arr = self._check_data(X, allow_fractional=allow_fractional)
        data = _training_array(arr, p["dtype"], allow_fractional)
        fingerprint = _fingerprint(data) if checkpoint is not None else None
        self._root_seed_ = self._make_root_seed(p["random_state"])
        state = None
        if resume and checkpoint is not None and os.path.exists(checkpoint):
            state = load_checkpoint(checkpoint)
            self._restore_from_checkpoint(state, p, data, fingerprint)
        else:
            self._initialise(data, p)
            self._trainer = self._make_trainer(data, p)
        self._monitor_index_ = self._monitor_indices(data.shape[0], p)
        self._train_epochs(data, p, self.n_epochs_done_, p["n_epochs"], checkpoint=checkpoint,
                           callback=callback, layer=layer, fingerprint=fingerprint)
        return self

    def partial_fit(self, X, y=None, *, callback=None, layer=None, allow_fractional=False):
        """Train for one more epoch over ``X`` (initialising from ``X`` if not fitted yet).

        Momentum, persistent chains and the RNG stream continue from the previous call; the
        learning-rate and momentum schedules are evaluated at epoch ``n_epochs_done_`` (the
        learning rate stays at its last value past ``n_epochs``).

        ``allow_fractional`` as in :meth:`fit`.

        Returns
        -------
        self
        """
        p = self.validated_params()
        fitted = getattr(self, "weights_", None) is not None
        arr = self._check_data(X, n_features=self.n_features_in_ if fitted else None,
                               allow_fractional=allow_fractional)
        data = _training_array(arr, p["dtype"] if not fitted else self.weights_.dtype,
                               allow_fractional)
        if not fitted:
            self._root_seed_ = self._make_root_seed(p["random_state"])
            self._initialise(data, p)
        if getattr(self, "_root_seed_", None) is None:
            self._root_seed_ = self._make_root_seed(p["random_state"])
        if getattr(self, "_trainer", None) is None:
            if self.weights_.shape[1] != p["n_hidden"]:
                raise ValueError(f"n_hidden={p['n_hidden']} does not match the fitted weights "
                                 f"{self.weights_.shape}")
            self._trainer = self._make_trainer(data, p)
        self._monitor_index_ = self._monitor_indices(data.shape[0], p)
        start = self.n_epochs_done_
        self._train_epochs(data, p, start, start + 1, checkpoint=None, callback=callback,
                           layer=layer, fingerprint=None)
        return self

    def _monitor_indices(self, n, p):
        m = min(p["monitor_size"], n)
        if m == 0:
            return np.empty(0, np.int64)
        rng = np.random.default_rng(self._seed_sequence(3))
        return np.sort(rng.choice(n, size=m, replace=False))

    def _train_epochs(self, data, p, start, stop, *, checkpoint, callback, layer, fingerprint):
        trainer = self._trainer
        where = f" in layer {layer}" if layer is not None else ""
        for epoch in range(start, stop):
            t0 = time.perf_counter()
            lr = self._learning_rate_at(epoch, p)
            mom = self._momentum_at(epoch, p)
            with np.errstate(over="ignore", invalid="ignore"):
                recon = trainer.run_epoch(data, lr, mom, p["weight_decay"], p["l1"])
            finite = (np.all(np.isfinite(self.weights_)) and np.all(np.isfinite(self.visible_bias_))
                      and np.all(np.isfinite(self.hidden_bias_)))
            if not finite:
                raise TrainingDivergedError(
                    f"training diverged at epoch {epoch + 1}{where}: non-finite weights or biases "
                    f"(try a smaller learning_rate)")
            metrics = self.monitor_metrics(data, p, epoch, recon, where)
            seconds = time.perf_counter() - t0
            record = {"epoch": epoch + 1, "learning_rate": lr, "momentum": mom, **metrics,
                      "seconds": seconds}
            for key, value in record.items():
                self.history_.setdefault(key, []).append(value)
            self.n_epochs_done_ = epoch + 1
            logger.info("epoch %d/%d%s: %s", epoch + 1, stop, where,
                        ", ".join(f"{k}={v:.5g}" for k, v in metrics.items() if v is not None))
            if checkpoint is not None:
                save_checkpoint(checkpoint, self, trainer_state=self._trainer.get_state(),
                                root_seed=self._root_seed_, fingerprint=fingerprint)
            if callback is not None:
                callback({**record, "n_epochs": p["n_epochs"], "layer": layer})

    def monitor_metrics(self, data, p, epoch, recon, where=""):
        """The per-epoch metrics of :meth:`fit` on its monitoring subset of ``data``.

        Parameters
        ----------
        data : ndarray (n_samples, n_visible)
            The training data of the fit (the subset's indices were drawn by :meth:`fit`).
        p : dict
            :meth:`validated_params`.
        epoch : int
            0-based epoch (keys the random stream of the pseudo-likelihood estimate).
        recon : float or None
            The epoch's reconstruction error (None for PCD: computed here on the subset).
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
        idx = self._monitor_index_
        metrics = {"reconstruction_error": recon, "pseudo_log_likelihood": None,
                   "log_likelihood": None}
        rng = np.random.default_rng(self._seed_sequence(2, epoch))
        if idx.size == 0:
            # divergence check on a few samples only
            free = self._free_energy64(data[:min(10, data.shape[0])].astype(np.float64))
            if not np.all(np.isfinite(free)):
                raise TrainingDivergedError(f"training diverged at epoch {epoch + 1}{where}: "
                                            f"non-finite free energy")
            return metrics
        sample = data[idx].astype(self.weights_.dtype)
        v = sample.astype(np.float64)
        W = self.weights_  # the fields are computed in the model's dtype (one BLAS product),
        c = self.visible_bias_.astype(np.float64)  # everything after it in float64
        act = (sample @ W).astype(np.float64) + self.hidden_bias_.astype(np.float64)
        free = maths.free_energy_visible(v, W, c, None, self.units, field=act)
        if not np.all(np.isfinite(free)):
            raise TrainingDivergedError(f"training diverged at epoch {epoch + 1}{where}: "
                                        f"non-finite free energy")
        if p["monitor_pll"] == "random":
            pll = self._pll_random(v, act, W, c, rng)
        else:
            pll = np.empty(v.shape[0])
            K.pseudo_log_likelihood_all_sites(np.ascontiguousarray(v), np.ascontiguousarray(act),
                                              np.ascontiguousarray(W, np.float64), c,
                                              self.units == "spin", pll)
        metrics["pseudo_log_likelihood"] = float(np.mean(pll))
        if recon is None:  # PCD: reconstruct the monitoring samples, h ~ p(h | v), E[v | h]
            h = maths.sample_units_tanh(sample @ self.weights_, self.hidden_bias_, self.units, rng)
            mean_v = maths.unit_mean(maths.visible_field(h, self.weights_, self.visible_bias_),
                                     self.units)
            metrics["reconstruction_error"] = float(np.mean((sample - mean_v) ** 2))
        if min(self.weights_.shape) <= p["monitor_exact_max_units"]:
            log_z = partition.log_partition_exact(self.weights_, self.visible_bias_, self.hidden_bias_,
                                        self.units, max_units=p["monitor_exact_max_units"])
            metrics["log_likelihood"] = float(np.mean(-free - log_z))
        return metrics

    def _restore_from_checkpoint(self, state, p, data, fingerprint):
        meta = state["meta"]
        saved = meta["params"]
        current = self.stored_params()
        # n_epochs may grow on resume only with a constant learning rate (the schedule of the
        # epochs already done does not depend on it then)
        free = ("n_epochs",) if p["learning_rate_schedule"] == "constant" else ()
        diff = sorted(k for k in set(saved) | set(current)
                      if k not in free and saved.get(k) != current.get(k))
        if diff:
            raise ValueError(f"checkpoint was written with different hyperparameters "
                             f"({', '.join(diff)}); cannot resume")
        if meta.get("fingerprint") != fingerprint:
            raise ValueError("checkpoint was written for different training data; cannot resume")
        self._root_seed_ = np.random.SeedSequence(
            meta["seed_entropy"], spawn_key=tuple(meta["seed_spawn_key"]))
        dtype = p["dtype"]
        self.weights_ = np.array(state["weights"], dtype=dtype)
        self.visible_bias_ = np.array(state["visible_bias"], dtype=dtype)
        self.hidden_bias_ = np.array(state["hidden_bias"], dtype=dtype)
        if self.weights_.shape != (data.shape[1], p["n_hidden"]):
            raise ValueError(f"checkpoint weights have shape {self.weights_.shape}, expected "
                             f"{(data.shape[1], p['n_hidden'])}")
        self.n_features_in_ = data.shape[1]
        self.history_ = {k: list(v) for k, v in meta["history"].items()}
        self.n_epochs_done_ = int(meta["epoch"])
        self._trainer = self._make_trainer(data, p)
        self._trainer.set_state(state["trainer"])
        logger.info("resumed from checkpoint at epoch %d", self.n_epochs_done_)

    # ------------------------------------------------------------------------------------------
    # conditionals, sampling
    # ------------------------------------------------------------------------------------------
    def _hidden_input(self, v):
        return maths.hidden_field(v, self.weights_, self.hidden_bias_)

    def mean_hidden(self, X):
        """E[h | v]: P(h_j = 1 | v) = sigma(-(b + vW)_j) (binary) or -tanh((b + vW)_j) (spin).

        ``X`` may hold unit means (values in [0, 1] or [-1, 1]) as well as states: the
        mean-field up-pass of a DBN.
        """
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_, allow_fractional=True),
                       self._float_dtype())
        return maths.unit_mean(self._hidden_input(v), self.units)

    transform = mean_hidden

    def mean_visible(self, H):
        """E[v | h]: sigma(-(c + W h)_i) (binary) or -tanh((c + W h)_i) (spin)."""
        self._check_fitted()
        h = self._check_hidden(H)
        return maths.unit_mean(maths.visible_field(h, self.weights_, self.visible_bias_),
                               self.units)

    def _check_hidden(self, H):
        arr = np.asarray(H)
        n_hidden = self.weights_.shape[1]
        if arr.ndim == 1 and arr.shape[0] == n_hidden:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n_hidden:
            raise ValueError(f"hidden states must have shape (n_samples, {n_hidden}), got {arr.shape}")
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise ValueError("hidden states contain NaN or inf")
        return np.asarray(arr, self._float_dtype())

    def sample_hidden(self, X, seed=None):
        """Draw h ~ p(h | v) for each row of ``X`` (float array of unit values; ``X`` may hold
        unit means, as in :meth:`mean_hidden`)."""
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_, allow_fractional=True),
                       self._float_dtype())
        return self._sample_layer(self._hidden_input(v), _as_rng(seed))

    def sample_visible(self, H, seed=None):
        """Draw v ~ p(v | h) for each row of ``H`` (float array of unit values)."""
        self._check_fitted()
        h = self._check_hidden(H)
        return self._sample_layer(maths.visible_field(h, self.weights_, self.visible_bias_),
                                  _as_rng(seed))

    def _sample_layer(self, x, rng):
        zero = np.zeros(x.shape[1], x.dtype)
        return maths.sample_units_tanh(x, zero, self.units, rng)

    def gibbs(self, X, n_steps=1, seed=None):
        """Run ``n_steps`` of block Gibbs sampling v -> h -> v from each row of ``X``.

        Parameters
        ----------
        X : array_like (n_samples, n_visible)
        n_steps : int, default 1
        seed : None, int, SeedSequence or Generator

        Returns
        -------
        ndarray (n_samples, n_visible) of the model's float dtype
        """
        self._check_fitted()
        if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, (int, np.integer)) \
                or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        v = np.array(self._check_data(X, n_features=self.n_features_in_), self._float_dtype())
        v = np.ascontiguousarray(v)
        return self._gibbs_chain(v, int(n_steps), _as_rng(seed))

    def _gibbs_chain(self, v, n_steps, rng):
        W, b, c = self.weights_, self.hidden_bias_, self.visible_bias_
        binary = self.units == "binary"
        n = v.shape[0]
        dtype = v.dtype
        one, off = dtype.type(1.0), dtype.type(0.0 if binary else -1.0)
        act_h = np.empty((n, W.shape[1]), dtype)
        h = np.empty_like(act_h)
        u_h = np.empty_like(act_h)
        act_v = np.empty_like(v)
        u_v = np.empty_like(v)
        # uniforms from the counter-based stream of the training loop, keyed from ``rng``
        key, counter = int(rng.integers(0, 2 ** 64, dtype=np.uint64)), 0
        for _ in range(n_steps):
            np.dot(v, W, out=act_h)
            field_tanh(act_h, b, binary)
            counter = K.uniform_fill(key, counter, u_h)
            K.layer_sample(act_h, u_h, one, off, h)
            np.dot(h, W.T, out=act_v)
            field_tanh(act_v, c, binary)
            counter = K.uniform_fill(key, counter, u_v)
            K.layer_sample(act_v, u_v, one, off, v)
        return v

    def sample(self, n_samples, n_gibbs=1000, seed=None, init=None):
        """Draw visible configurations by block Gibbs sampling from random initial states.

        Parameters
        ----------
        n_samples : int
            Number of independent chains (one sample each).
        n_gibbs : int, default 1000
            Gibbs steps per chain.
        seed : None, int, SeedSequence or Generator
        init : array_like (n_samples, n_visible), optional
            Initial visible states (default: uniformly random unit values).

        Returns
        -------
        ndarray (n_samples, n_visible), int8, values in {0, 1} or {-1, +1}
        """
        self._check_fitted()
        if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if isinstance(n_gibbs, (bool, np.bool_)) or not isinstance(n_gibbs, (int, np.integer)) \
                or n_gibbs < 0:
            raise ValueError(f"n_gibbs must be a non-negative integer, got {n_gibbs!r}")
        rng = _as_rng(seed)
        dtype = self._float_dtype()
        if init is None:
            v = (rng.random((int(n_samples), self.n_features_in_)) < 0.5).astype(dtype)
            if self.units == "spin":
                v = 2.0 * v - 1.0
            v = np.ascontiguousarray(v, dtype)
        else:
            v = np.ascontiguousarray(self._check_data(init, "init", self.n_features_in_), dtype)
            if v.shape[0] != n_samples:
                raise ValueError(f"init has {v.shape[0]} rows, expected n_samples={n_samples}")
        return self._gibbs_chain(v, int(n_gibbs), rng).astype(np.int8)

    # ------------------------------------------------------------------------------------------
    # energies and likelihoods (float64)
    # ------------------------------------------------------------------------------------------
    def energy(self, V, H):
        """E(v, h) = b.h + v W h + c.v per row (docs/CONTRACTS.md), float64."""
        self._check_fitted()
        v = np.asarray(self._check_data(V, "V", self.n_features_in_), np.float64)
        h = np.asarray(self._check_hidden(H), np.float64)
        if v.shape[0] != h.shape[0]:
            raise ValueError(f"V and H have different numbers of rows ({v.shape[0]}, {h.shape[0]})")
        return maths.energy(v, h, self.weights_.astype(np.float64),
                            self.visible_bias_.astype(np.float64),
                            self.hidden_bias_.astype(np.float64))

    def free_energy(self, X):
        """F(v) = -log sum_h exp(-E(v,h)) = c.v - sum_j g((b + vW)_j), float64 per row.

        g(x) = softplus(-x) (binary) or log 2cosh(x) (spin) (docs/CONTRACTS.md).
        """
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_), np.float64)
        return self._free_energy64(v)

    def _free_energy64(self, v):
        return maths.free_energy_visible(v, self.weights_.astype(np.float64),
                                         self.visible_bias_.astype(np.float64),
                                         self.hidden_bias_.astype(np.float64), self.units)

    def pseudo_log_likelihood(self, X, *, method="exact", seed=None):
        """Pseudo-log-likelihood sum_i log P(v_i | v_-i) of each row (Besag 1975).

        P(v_i | v_-i) = sigma(F(v^(i)) - F(v)) where v^(i) is v with unit i flipped.

        Parameters
        ----------
        X : array_like (n_samples, n_visible)
        method : {"exact", "random"}, default "exact"
            ``"exact"``: the sum over all n_visible sites (deterministic, O(n V H)).
            ``"random"``: the unbiased one-site estimator n_visible * log P(v_i | v_-i) with i
            drawn uniformly per row (what scikit-learn's ``BernoulliRBM.score_samples`` returns;
            it is an estimate of the *sum* over sites, noisy per row, not a log-likelihood).
        seed : None, int, SeedSequence or Generator
            For ``method="random"``.

        Returns
        -------
        ndarray (n_samples,), float64
        """
        self._check_fitted()
        if method not in _PLL_METHODS:
            raise ValueError(f"method must be 'exact' or 'random', got {method!r}")
        v = np.ascontiguousarray(self._check_data(X, n_features=self.n_features_in_), np.float64)
        W = np.ascontiguousarray(self.weights_, np.float64)
        c = self.visible_bias_.astype(np.float64)
        spin = self.units == "spin"
        if method == "exact":
            act = np.ascontiguousarray(v @ W + self.hidden_bias_.astype(np.float64))
            out = np.empty(v.shape[0])
            K.pseudo_log_likelihood_all_sites(v, act, W, c, spin, out)
            return out
        act = v @ W + self.hidden_bias_.astype(np.float64)
        return self._pll_random(v, act, W, c, _as_rng(seed))

    def _pll_random(self, v, act, W, c, rng):
        """One-site PLL estimator from the hidden fields ``act = b + vW`` (float64).

        Flipping site i shifts the fields by delta W[i] (delta = v_i' - v_i), so
        F(v') - F(v) = c_i delta - sum_j [g(act_j + delta W_ij) - g(act_j)] costs O(n_hidden).
        """
        n, nv = v.shape
        site = rng.integers(0, nv, size=n)
        rows = np.arange(n)
        vi = v[rows, site]
        delta = -2.0 * vi if self.units == "spin" else 1.0 - 2.0 * vi
        shifted = act + delta[:, None] * W[site]
        g = maths.unit_log_partition
        diff = c[site] * delta - (g(shifted, self.units).sum(axis=1)
                                  - g(act, self.units).sum(axis=1))
        return -nv * np.logaddexp(0.0, -diff)

    def log_partition(self, *, method="auto", exact_max_units=20, n_betas=10000, n_runs=100,
                      seed=None, base_visible_bias=None):
        """log Z and its standard error (0.0 when exact).

        Parameters
        ----------
        method : {"auto", "exact", "ais"}, default "auto"
            "auto": exact enumeration (:func:`rbm.partition.log_partition_exact`) when the smaller
            layer has at most ``exact_max_units`` units, else annealed importance sampling
            (:func:`rbm.partition.ais_log_partition`).
        exact_max_units : int, default 20
            Largest enumerated layer for "auto". ``method="exact"`` refuses (ValueError) a
            smaller layer above ``max(exact_max_units, rbm.partition.EXACT_UNITS_LIMIT)`` = 30
            units; pass a larger ``exact_max_units`` to insist.
        n_betas, n_runs, seed, base_visible_bias
            AIS settings (seed default: derived from ``random_state``).

        Returns
        -------
        (float, float)
        """
        self._check_fitted()
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}")
        small = min(self.weights_.shape)
        if method == "exact" or (method == "auto" and small <= exact_max_units):
            # method="exact" enumerates up to EXACT_UNITS_LIMIT units (2^30 terms, minutes);
            # beyond that only an explicit, larger exact_max_units insists
            log_z = partition.log_partition_exact(self.weights_, self.visible_bias_,
                                                  self.hidden_bias_, self.units,
                                                  max_units=max(exact_max_units,
                                                                partition.EXACT_UNITS_LIMIT)
                                                  if method == "exact" else exact_max_units)
            return float(log_z), 0.0
        if seed is None:
            seed = self._default_seed_sequence(4)
        log_z, err = partition.ais_log_partition(self.weights_, self.visible_bias_,
                                                 self.hidden_bias_, self.units, n_betas=n_betas,
                                                 n_runs=n_runs, seed=seed,
                                                 base_visible_bias=base_visible_bias)
        return float(log_z), float(err)

    def score_samples(self, X, *, method="auto", log_z=None, **kwargs):
        """log p(v) = -F(v) - log Z per row (exact or AIS log Z, see :meth:`log_partition`).

        Parameters
        ----------
        X : array_like (n_samples, n_visible)
        method : {"auto", "exact", "ais"}
        log_z : float, optional
            A known log Z (skips its computation).
        **kwargs
            Passed to :meth:`log_partition`.

        Returns
        -------
        ndarray (n_samples,), float64
        """
        free = self.free_energy(X)
        if log_z is None:
            log_z, _ = self.log_partition(method=method, **kwargs)
        return -free - float(log_z)

    def score(self, X, y=None, **kwargs):
        """Mean of :meth:`score_samples` (average log-likelihood per sample)."""
        return float(np.mean(self.score_samples(X, **kwargs)))


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _empty_history():
    return {k: [] for k in ("epoch", "learning_rate", "momentum", "reconstruction_error",
                            "pseudo_log_likelihood", "log_likelihood", "seconds")}


def in_unit_set(arr, units):
    """Whether every entry of ``arr`` is a unit value: 0/1 (binary) or -1/+1 (spin).

    Integer and boolean arrays are checked by reductions without temporaries (min/max and,
    for spins, a nonzero count), which matters for 10^7-10^8-entry training sets."""
    if arr.size == 0:
        return True
    if arr.dtype == np.bool_:
        return units == "binary" or bool(arr.all())
    if np.issubdtype(arr.dtype, np.integer):
        low = 0 if units == "binary" else -1
        if arr.min() < low or arr.max() > 1:
            return False
        return units == "binary" or np.count_nonzero(arr) == arr.size
    if units == "binary":
        return bool(np.all((arr == 0) | (arr == 1)))
    return bool(np.all((arr == -1) | (arr == 1)))


def _training_array(arr, dtype, allow_fractional):
    """The training data as the trainer reads them: validated unit values as C-contiguous int8
    (no copy for int8 input such as rgdl's HDF5 datasets; a quarter of float32's memory and
    bandwidth, converted per mini-batch), fractional means in the model's float ``dtype``."""
    if allow_fractional:
        return np.ascontiguousarray(arr, dtype=dtype)
    return np.ascontiguousarray(arr, dtype=np.int8)


def _fingerprint(data):
    """Cheap identity of the training data: shape, dtype and CRC32 of the bytes."""
    crc = zlib.crc32(memoryview(np.ascontiguousarray(data)).cast("B"))
    return f"{data.shape[0]}x{data.shape[1]}:{data.dtype}:{crc:08x}"


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - arrays etc.
        return False

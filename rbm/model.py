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

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm import maths, partition
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from rbm._params import (ParamsMixin, accepts_renamed, deprecated_alias, jsonable_params,
                         store_params, without_later_defaults)
from rbm._typing import Float64Array, FloatArray, History, IntArray, RandomState, SeedLike
from rbm.archive import load_checkpoint, save_checkpoint
from rbm.fitting import check_resumable, checkpoint_state, initial_parameters, make_trainer
from rbm.hyperparams import (PLL_METHODS, as_rng, child_seed, learning_rate_at, momentum_at,
                             root_seed, validate_rbm_params)
from rbm.monitoring import (TrainingDivergedError, empty_history, monitor_indices,
                            monitor_metrics, pll_exact, pll_random)
from rbm.train import CDTrainer
from rbm.validation import (check_hidden, check_visible, fingerprint, in_unit_set,
                            training_array)

__all__ = ["RBM", "TrainingDivergedError", "in_unit_set"]

logger = logging.getLogger(__name__)

_RBM = TypeVar("_RBM", bound="RBM")
#: ``callback(record)`` of :meth:`RBM.fit` (its return value is ignored).
EpochCallback = Callable[[dict[str, Any]], object]


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ParamsMixin):
    """Restricted Boltzmann machine trained by contrastive divergence (CD-k or PCD-k).

    Parameters
    ----------
    n_components : int, default 64
        Number of hidden units (> 0); ``n_hidden`` in the previous release (deprecated alias).
    units : {"spin", "binary"}, default "spin"
        Unit values {-1, +1} (natural for Ising data) or {0, 1}; both layers use the same kind.
    learning_rate : float, default 0.01
        Initial SGD step (> 0), applied to mini-batch *averaged* gradients.
    learning_rate_schedule : {"constant", "linear", "exponential"}, default "constant"
        Learning rate at epoch e = 0..n_iter-1: constant; linear interpolation from
        ``learning_rate`` to ``final_learning_rate``; geometric interpolation between them.
    final_learning_rate : float, optional
        Last-epoch learning rate of a decaying schedule (default ``learning_rate / 100``).
    n_iter : int, default 10
        Passes (epochs) over the training data in :meth:`fit`; ``n_epochs`` in the previous
        release (deprecated alias). scikit-learn's ``BernoulliRBM`` name: a fixed number of
        epochs, not a bound on an iteration that stops at convergence (``max_iter``).
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
    verbose : int, default 0
        Print one line per epoch (pseudo-log-likelihood, time) to stdout when > 0.

    Attributes
    ----------
    weights_ : ndarray (n_visible, n_components)
        w in E = b.h + v w h + c.v.
    visible_bias_ : ndarray (n_visible,)
        c.
    hidden_bias_ : ndarray (n_components,)
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
        Epochs trained so far (also ``n_iter_``).
    feature_names_in_ : ndarray of str
        Column names of a pandas ``X`` given to :meth:`fit`.

    Notes
    -----
    ``transform`` returns E[h | v]: P(h_j = 1 | v) for binary units, E[h_j | v] =
    2 P(h_j = +1 | v) - 1 = -tanh(b_j + (v W)_j) for spin units; ``inverse_transform``
    returns E[v | h]. Inputs are the unit values {0, 1} or {-1, +1} (the data of this model);
    :meth:`transform` also accepts unit means. Arbitrary real features, which scikit-learn's
    ``BernoulliRBM`` takes as probabilities, are refused: see :data:`rbm.EXPECTED_FAILED_CHECKS`.

    References
    ----------
    Mehta & Schwab, arXiv:1410.3831 (2014); Hinton, Neural Computation 14, 1771 (2002);
    Hinton, UTML TR 2010-003 (2010); Tieleman, ICML (2008).
    """

    weights_: FloatArray
    visible_bias_: FloatArray
    hidden_bias_: FloatArray
    n_features_in_: int
    n_epochs_done_: int
    history_: History
    trainer_: CDTrainer
    _root_seed_: np.random.SeedSequence
    _monitor_index_: IntArray

    @accepts_renamed
    def __init__(self, n_components: int = 64, *, units: str = "spin", learning_rate: float = 0.01,
                 learning_rate_schedule: str = "constant", final_learning_rate: float | None = None,
                 n_iter: int = 10, batch_size: int = 100, cd_k: int = 1, persistent: bool = False,
                 n_persistent_chains: int | None = None, momentum: float = 0.5,
                 final_momentum: float = 0.9, momentum_switch_epoch: int = 5,
                 weight_decay: float = 0.0, l1: float = 0.0, dtype: npt.DTypeLike = "float32",
                 flip_augmentation: bool = False, init_scale: float = 0.01,
                 init_visible_bias: str = "data", negative_visible: str = "samples",
                 monitor_size: int = 1000, monitor_pll: str = "random",
                 monitor_exact_max_units: int = 16, random_state: RandomState = None,
                 verbose: int = 0) -> None:
        store_params(self, locals())

    n_hidden = deprecated_alias("n_hidden", "n_components")
    n_epochs = deprecated_alias("n_epochs", "n_iter")

    if TYPE_CHECKING:  # inherited from scikit-learn (untyped): their signatures for this class
        def fit_transform(self, X: npt.ArrayLike, y: object = None,
                          **fit_params: Any) -> FloatArray: ...

        def get_feature_names_out(self, input_features: npt.ArrayLike | None = None
                                  ) -> NDArray[np.object_]: ...

    # ------------------------------------------------------------------------------------------
    # scikit-learn protocol
    # ------------------------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "weights_", None) is not None

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        # outputs have the model's float type whatever the input's
        tags.transformer_tags.preserves_dtype = [str(self.dtype)]
        return tags

    @property
    def _n_features_out(self) -> int:
        """Number of hidden units (``get_feature_names_out``: ``rbm0``, ``rbm1``, ...)."""
        return self.weights_.shape[1]

    @property
    def n_iter_(self) -> int:
        """Epochs trained so far (``n_epochs_done_``, scikit-learn's name)."""
        check_is_fitted(self)
        return self.n_epochs_done_

    def check_input(self, X: npt.ArrayLike, *, reset: bool,
                    allow_fractional: bool = False) -> NDArray[Any]:
        """The visible input of :meth:`fit`, :meth:`partial_fit`, :meth:`transform` and
        :meth:`score_samples`, checked.

        scikit-learn's checks first (2-D, dense, numeric, finite; ``reset=True`` records
        ``n_features_in_`` and ``feature_names_in_``, ``reset=False`` compares with them), then
        the unit values {0, 1} / {-1, +1} (or unit means with ``allow_fractional``). A subclass
        may override it to map other inputs onto unit values.

        Returns
        -------
        ndarray (n_samples, n_features_in_), not copied when already an array
        """
        arr = validate_data(self, X, reset=reset, accept_sparse=False, dtype="numeric")
        return self._check_data(arr, allow_fractional=allow_fractional)

    # ------------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------------
    def validated_params(self) -> dict[str, Any]:
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
        return validate_rbm_params(self.get_params())

    def stored_params(self) -> dict[str, Any]:
        """The hyperparameters as written to model files and checkpoints (JSON values): every
        one, except those of :data:`rbm.hyperparams.LATER_PARAM_DEFAULTS` at their defaults."""
        return without_later_defaults(jsonable_params(self.get_params()))

    def _check_data(self, X: npt.ArrayLike, name: str = "X", n_features: int | None = None,
                    allow_fractional: bool = False) -> NDArray[Any]:
        return check_visible(X, self.units, name=name, n_features=n_features,
                             allow_fractional=allow_fractional)

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    def _float_dtype(self) -> np.dtype[np.floating[Any]]:
        return self.weights_.dtype

    # ------------------------------------------------------------------------------------------
    # seeds
    # ------------------------------------------------------------------------------------------
    def _seed_sequence(self, *key: int) -> np.random.SeedSequence:
        """Child SeedSequence ``key`` of the fit's root sequence (deterministic, not stateful)."""
        return child_seed(self._root_seed_, *key)

    def _default_seed_sequence(self, key: int) -> np.random.SeedSequence:
        """Child ``key`` of the fit's root sequence, or of ``random_state`` if not fitted by fit."""
        if getattr(self, "_root_seed_", None) is None:
            self._root_seed_ = root_seed(self.random_state)
        return self._seed_sequence(key)

    # ------------------------------------------------------------------------------------------
    # initialisation
    # ------------------------------------------------------------------------------------------
    def initialise(self: _RBM, X: npt.ArrayLike, *, allow_fractional: bool = False) -> _RBM:
        """Set the initial parameters of :meth:`fit` from ``X`` without training, and the
        training engine (``trainer_``, a :class:`rbm.train.CDTrainer`) that :meth:`partial_fit`
        continues with. Returns self.

        The initial values follow Hinton (2010, sec. 8) (:func:`rbm.fitting.initial_parameters`);
        they are the ones :meth:`fit` starts from with the same ``random_state``.
        """
        p = self.validated_params()
        arr = self._check_data(X, allow_fractional=allow_fractional)
        data = training_array(arr, p["dtype"], allow_fractional)
        self._root_seed_ = root_seed(p["random_state"])
        self._initialise(data, p)
        self.trainer_ = make_trainer(self, data, p, self._seed_sequence(1))
        return self

    def _initialise(self, data: NDArray[Any], p: dict[str, Any]) -> None:
        self.weights_, self.visible_bias_, self.hidden_bias_ = initial_parameters(
            data, p["n_components"], p["units"], p["dtype"], p["flip_augmentation"],
            self._seed_sequence(0), init_scale=p["init_scale"],
            init_visible_bias=p["init_visible_bias"])
        self.n_features_in_ = data.shape[1]
        self.history_ = empty_history()
        self.n_epochs_done_ = 0

    # ------------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------------
    def fit(self: _RBM, X: npt.ArrayLike, y: object = None, *,
            checkpoint: str | os.PathLike[str] | None = None, resume: bool = False,
            callback: EpochCallback | None = None, layer: int | str | None = None,
            allow_fractional: bool = False) -> _RBM:
        """Train on visible configurations ``X`` for ``n_iter`` epochs.

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
            ``n_epochs`` (= ``n_iter``), ``layer`` and the epoch's metrics (drives progress bars in the CLI).
        layer : str or int, optional
            Label used in log messages and in :class:`TrainingDivergedError`.
        allow_fractional : bool, default False
            Accept unit *means* (values in [0, 1] binary, [-1, 1] spin) as training data, e.g.
            the mean-field activities of the layer below in a DBN (Hinton 2010, sec. 3). The
            CD statistics then use these values in place of states; the per-epoch
            pseudo-likelihood and exact log-likelihood are evaluated at them as given.

        Returns
        -------
        self : RBM
            The trained model (``weights_``, ``visible_bias_``, ``hidden_bias_``, ``history_``).

        Raises
        ------
        ValueError
            Bad hyperparameters or data, or an incompatible checkpoint.
        TrainingDivergedError
            NaN/inf parameters or free energies; the error names the epoch (and layer). The
            checkpoint of the last good epoch is left intact.
        """
        p = self.validated_params()
        arr = self.check_input(X, reset=True, allow_fractional=allow_fractional)
        data = training_array(arr, p["dtype"], allow_fractional)
        data_id = fingerprint(data) if checkpoint is not None else None
        self._root_seed_ = root_seed(p["random_state"])
        if resume and checkpoint is not None and os.path.exists(checkpoint):
            self._restore_from_checkpoint(load_checkpoint(checkpoint), p, data, data_id)
        else:
            self._initialise(data, p)
            self.trainer_ = make_trainer(self, data, p, self._seed_sequence(1))
        self._monitor_index_ = monitor_indices(data.shape[0], p["monitor_size"],
                                               self._seed_sequence(3))
        self._train_epochs(data, p, self.n_epochs_done_, p["n_iter"], checkpoint=checkpoint,
                           callback=callback, layer=layer, fingerprint=data_id)
        return self

    def partial_fit(self: _RBM, X: npt.ArrayLike, y: object = None, *,
                    callback: EpochCallback | None = None, layer: int | str | None = None,
                    allow_fractional: bool = False) -> _RBM:
        """Train for one more epoch over ``X`` (initialising from ``X`` if not fitted yet).

        Momentum, persistent chains and the RNG stream continue from the previous call; the
        learning-rate and momentum schedules are evaluated at epoch ``n_epochs_done_`` (the
        learning rate stays at its last value past ``n_iter``).

        ``allow_fractional`` as in :meth:`fit`.

        Returns
        -------
        self
        """
        p = self.validated_params()
        fitted = self.__sklearn_is_fitted__()
        arr = self.check_input(X, reset=not fitted, allow_fractional=allow_fractional)
        data = training_array(arr, p["dtype"] if not fitted else self.weights_.dtype,
                              allow_fractional)
        if not fitted:
            self._root_seed_ = root_seed(p["random_state"])
            self._initialise(data, p)
        if getattr(self, "_root_seed_", None) is None:
            self._root_seed_ = root_seed(p["random_state"])
        if getattr(self, "trainer_", None) is None:
            if self.weights_.shape[1] != p["n_components"]:
                raise ValueError(f"n_components={p['n_components']} does not match the fitted weights "
                                 f"{self.weights_.shape}")
            self.trainer_ = make_trainer(self, data, p, self._seed_sequence(1))
        self._monitor_index_ = monitor_indices(data.shape[0], p["monitor_size"],
                                               self._seed_sequence(3))
        start = self.n_epochs_done_
        self._train_epochs(data, p, start, start + 1, checkpoint=None, callback=callback,
                           layer=layer, fingerprint=None)
        return self

    def _train_epochs(self, data: NDArray[Any], p: dict[str, Any], start: int, stop: int, *,
                      checkpoint: str | os.PathLike[str] | None,
                      callback: EpochCallback | None, layer: int | str | None,
                      fingerprint: str | None) -> None:
        trainer = self.trainer_
        where = f" in layer {layer}" if layer is not None else ""
        for epoch in range(start, stop):
            t0 = time.perf_counter()
            lr = learning_rate_at(epoch, p)
            mom = momentum_at(epoch, p)
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
            if p["verbose"]:
                print(f"[{type(self).__name__}] Iteration {epoch + 1}{where}, pseudo-likelihood"
                      f" = {metrics['pseudo_log_likelihood']}, time = {seconds:.2f}s")
            if checkpoint is not None:
                save_checkpoint(checkpoint, self, trainer_state=trainer.get_state(),
                                root_seed=self._root_seed_, fingerprint=fingerprint)
            if callback is not None:
                callback({**record, "n_epochs": p["n_iter"], "layer": layer})

    def monitor_metrics(self, data: NDArray[Any], p: dict[str, Any], epoch: int,
                        recon: float | None, where: str = "") -> dict[str, float | None]:
        """The per-epoch metrics of :meth:`fit` on its monitoring subset of ``data``
        (:func:`rbm.monitoring.monitor_metrics`; ``p`` from :meth:`validated_params`, ``epoch``
        0-based, ``recon`` the epoch's reconstruction error or None for PCD)."""
        return monitor_metrics(self, data, self._monitor_index_, p, epoch, recon,
                               self._seed_sequence(2, epoch), where)

    def _restore_from_checkpoint(self, state: dict[str, Any], p: dict[str, Any],
                                 data: NDArray[Any], fingerprint: str | None) -> None:
        check_resumable(state["meta"], self.stored_params(), p, fingerprint)
        (self.weights_, self.visible_bias_, self.hidden_bias_, self.history_,
         self.n_epochs_done_, self._root_seed_) = checkpoint_state(state, p, data.shape[1])
        self.n_features_in_ = data.shape[1]
        self.trainer_ = make_trainer(self, data, p, self._seed_sequence(1))
        self.trainer_.set_state(state["trainer"])
        logger.info("resumed from checkpoint at epoch %d", self.n_epochs_done_)

    # ------------------------------------------------------------------------------------------
    # conditionals, sampling
    # ------------------------------------------------------------------------------------------
    def _hidden_input(self, v: FloatArray) -> FloatArray:
        return maths.hidden_field(v, self.weights_, self.hidden_bias_)

    def mean_hidden(self, X: npt.ArrayLike) -> FloatArray:
        """E[h | v]: P(h_j = 1 | v) = sigma(-(b + vW)_j) (binary) or -tanh((b + vW)_j) (spin).

        ``X`` may hold unit means (values in [0, 1] or [-1, 1]) as well as states: the
        mean-field up-pass of a DBN.
        """
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_, allow_fractional=True),
                       self._float_dtype())
        return maths.unit_mean(self._hidden_input(v), self.units)

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        """E[h | v] of each row of ``X`` (:meth:`mean_hidden`), after scikit-learn's input
        checks: a 2-D dense array (or DataFrame) of unit values or unit means.

        Returns
        -------
        ndarray (n_samples, n_components) of the model's float dtype
        """
        self._check_fitted()
        return self.mean_hidden(self.check_input(X, reset=False, allow_fractional=True))

    def inverse_transform(self, X: npt.ArrayLike) -> FloatArray:
        """E[v | h] of each row of hidden values ``X`` (:meth:`mean_visible`): the mean-field
        reconstruction of the visibles from features returned by :meth:`transform`.

        Returns
        -------
        ndarray (n_samples, n_features_in_) of the model's float dtype
        """
        self._check_fitted()
        return self.mean_visible(_dense_2d(X, "X"))

    def mean_visible(self, H: npt.ArrayLike) -> FloatArray:
        """E[v | h]: sigma(-(c + W h)_i) (binary) or -tanh((c + W h)_i) (spin)."""
        self._check_fitted()
        h = self._check_hidden(H)
        return maths.unit_mean(maths.visible_field(h, self.weights_, self.visible_bias_),
                               self.units)

    def _check_hidden(self, H: npt.ArrayLike) -> FloatArray:
        return check_hidden(H, self.weights_.shape[1], self._float_dtype())

    def sample_hidden(self, X: npt.ArrayLike, seed: SeedLike = None) -> FloatArray:
        """Draw h ~ p(h | v) for each row of ``X`` (float array of unit values; ``X`` may hold
        unit means, as in :meth:`mean_hidden`)."""
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_, allow_fractional=True),
                       self._float_dtype())
        return self._sample_layer(self._hidden_input(v), as_rng(seed))

    def sample_visible(self, H: npt.ArrayLike, seed: SeedLike = None) -> FloatArray:
        """Draw v ~ p(v | h) for each row of ``H`` (float array of unit values)."""
        self._check_fitted()
        h = self._check_hidden(H)
        return self._sample_layer(maths.visible_field(h, self.weights_, self.visible_bias_),
                                  as_rng(seed))

    def _sample_layer(self, x: FloatArray, rng: np.random.Generator) -> FloatArray:
        zero = np.zeros(x.shape[1], x.dtype)
        return maths.sample_units_tanh(x, zero, self.units, rng)

    def gibbs(self, X: npt.ArrayLike, n_steps: int = 1, seed: SeedLike = None) -> FloatArray:
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
        return self._gibbs_chain(v, int(n_steps), as_rng(seed))

    def _gibbs_chain(self, v: FloatArray, n_steps: int, rng: np.random.Generator) -> FloatArray:
        return maths.gibbs_chain(v, self.weights_, self.visible_bias_, self.hidden_bias_,
                                 self.units, n_steps, rng)

    def sample(self, n_samples: int, n_gibbs: int = 1000, seed: SeedLike = None,
               init: npt.ArrayLike | None = None) -> NDArray[np.int8]:
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
        rng = as_rng(seed)
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
    def energy(self, V: npt.ArrayLike, H: npt.ArrayLike) -> Float64Array:
        """E(v, h) = b.h + v W h + c.v per row (docs/CONTRACTS.md), float64."""
        self._check_fitted()
        v = np.asarray(self._check_data(V, "V", self.n_features_in_), np.float64)
        h = np.asarray(self._check_hidden(H), np.float64)
        if v.shape[0] != h.shape[0]:
            raise ValueError(f"V and H have different numbers of rows ({v.shape[0]}, {h.shape[0]})")
        return maths.energy(v, h, self.weights_.astype(np.float64),
                            self.visible_bias_.astype(np.float64),
                            self.hidden_bias_.astype(np.float64))

    def free_energy(self, X: npt.ArrayLike) -> Float64Array:
        """F(v) = -log sum_h exp(-E(v,h)) = c.v - sum_j g((b + vW)_j), float64 per row.

        g(x) = softplus(-x) (binary) or log 2cosh(x) (spin) (docs/CONTRACTS.md).
        """
        self._check_fitted()
        v = np.asarray(self._check_data(X, n_features=self.n_features_in_), np.float64)
        return self._free_energy64(v)

    def _free_energy64(self, v: Float64Array) -> Float64Array:
        return maths.free_energy_visible(v, self.weights_.astype(np.float64),
                                         self.visible_bias_.astype(np.float64),
                                         self.hidden_bias_.astype(np.float64), self.units)

    def pseudo_log_likelihood(self, X: npt.ArrayLike, *, method: str = "exact",
                              seed: SeedLike = None) -> Float64Array:
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
        if method not in PLL_METHODS:
            raise ValueError(f"method must be 'exact' or 'random', got {method!r}")
        v = np.ascontiguousarray(self._check_data(X, n_features=self.n_features_in_), np.float64)
        W = np.ascontiguousarray(self.weights_, np.float64)
        c = self.visible_bias_.astype(np.float64)
        act = v @ W + self.hidden_bias_.astype(np.float64)
        if method == "exact":
            return pll_exact(v, act, W, c, self.units)
        return pll_random(v, act, W, c, self.units, as_rng(seed))

    def log_partition(self, *, method: str = "auto", exact_max_units: int = 20,
                      n_betas: int = 10000, n_runs: int = 100, seed: SeedLike = None,
                      base_visible_bias: npt.ArrayLike | None = None) -> tuple[float, float]:
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

    def score_samples(self, X: npt.ArrayLike, *, method: str = "auto", log_z: float | None = None,
                      **kwargs: Any) -> Float64Array:
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
        self._check_fitted()
        free = self.free_energy(self.check_input(X, reset=False))
        if log_z is None:
            log_z, _ = self.log_partition(method=method, **kwargs)
        return -free - float(log_z)

    def score(self, X: npt.ArrayLike, y: object = None, **kwargs: Any) -> float:
        """Mean of :meth:`score_samples` (average log-likelihood per sample)."""
        return float(np.mean(self.score_samples(X, **kwargs)))


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _dense_2d(X: npt.ArrayLike, name: str) -> NDArray[Any]:
    """A dense, finite 2-D array (scikit-learn's ``check_array``: sparse input is refused)."""
    return check_array(X, accept_sparse=False, dtype="numeric", input_name=name)

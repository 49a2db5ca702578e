"""Deep belief nets: greedy layer-wise stacks of RBMs (Hinton, Osindero & Teh 2006).

Layer ``l`` (1-based, as in Mehta & Schwab 2014) is the RBM whose visible layer is the hidden layer
of RBM ``l - 1`` (RBM 1 sees the data). Energies follow docs/CONTRACTS.md,
E(v, h) = b.h + v W h + c.v, so for a layer with input ``x = bias + act``:
binary units E[u] = P(u = 1) = sigma(-x); spin units E[u] = -tanh(x), P(u = +1) = sigma(-2x).

* :meth:`DBN.fit` trains RBM 1 on the data, then RBM l on the up-propagated representation of the
  data under RBMs 1..l-1 (``propagate="sample"``: one draw h ~ p(h | v) per sample, with a seed
  fixed per layer; ``propagate="mean"``: the mean activations E[h | v]).
* :meth:`DBN.transform` is the deterministic (mean-field) up-pass; :meth:`DBN.inverse_transform`
  the down-pass (mean-field or stochastic); :meth:`DBN.sample` generates visibles by block Gibbs
  sampling in the top RBM followed by a down-pass; :meth:`DBN.receptive_fields` gives the
  effective receptive fields r^(l) = r^(l-1) W^(l), r^(1) = W^(1) (:func:`rbm.maths.receptive_fields`).

Adjacent layers may use different unit types; values are converted between the two
representations by u_spin = 2 u_binary - 1 (means and samples alike).

References
----------
G. E. Hinton, S. Osindero and Y.-W. Teh, "A fast learning algorithm for deep belief nets",
Neural Computation 18, 1527 (2006).
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm import maths
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from rbm._params import (ParamsMixin, jsonable_params, params_from_json, rename_params,
                         store_params)
from rbm._typing import Float64Array, FloatArray, History, RandomState, SeedLike
from rbm.archive import open_archive, save_layers
from rbm.hyperparams import UNITS, as_rng, check_integer, child_seed, root_seed
from rbm.model import RBM, EpochCallback, TrainingDivergedError

__all__ = ["DBN", "load_layers"]

logger = logging.getLogger(__name__)

_PROPAGATE = ("sample", "mean")
_MODES = ("stochastic", "mean-field")

_DBN = TypeVar("_DBN", bound="DBN")


class DBN(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ParamsMixin):
    """Deep belief net: a greedy layer-wise stack of :class:`rbm.RBM`.

    Parameters
    ----------
    layer_sizes : sequence of int, default (400, 100, 25)
        Hidden units of RBM 1, 2, ... (the number of visible units comes from the data), e.g.
        the paper's 1600-400-100-25 network is ``DBN([400, 100, 25])`` fitted on 40x40 spins.
    units : {"spin", "binary"} or sequence of them, default "spin"
        Unit type of every RBM, or one per RBM.
    rbm_params : dict or sequence of dicts, optional
        Keyword arguments of :class:`rbm.RBM` (``learning_rate``, ``n_iter``, ``batch_size``,
        ``cd_k``, ``persistent``, ``l1``, ...) shared by all layers, or one dict per layer.
        ``n_components``, ``units`` and ``random_state`` are set by the DBN (the previous
        release's ``n_epochs`` is accepted with a FutureWarning).
    propagate : {"sample", "mean"}, default "sample"
        Training data of RBM l+1: one sample h ~ p(h | v) per training configuration (a fixed draw
        per layer, seeded from ``random_state``), or the mean activations E[h | v] (requires an
        RBM that accepts fractional data).
    propagate_repeats : int, default 1
        With ``propagate="sample"``: independent draws h ~ p(h | v) per training configuration
        (RBM l+1 then trains on ``propagate_repeats`` times as many rows, a finer picture of the
        aggregate posterior sum_v p_data(v) p(h | v) it must model).
    random_state : None, int or numpy.random.SeedSequence
        Root seed; RBM l trains with child ``SeedSequence(entropy, spawn_key=(0, l))``, its
        up-propagation draws from spawn key ``(1, l)``.
    verbose : int, default 0
        Passed to every RBM (one line per epoch when > 0) unless ``rbm_params`` sets it.

    Attributes
    ----------
    layers_ : list of RBM
        The fitted RBMs, RBM 1 first.
    history_ : list of dict
        ``layers_[l].history_`` for every layer (per-epoch metrics).
    n_features_in_ : int
        Number of visible units.
    metadata_ : dict
        Free-form JSON metadata saved with the model (e.g. the training lattice).

    Notes
    -----
    A scikit-learn transformer: :meth:`transform` is the mean-field up-pass to the top layer
    (feature names ``dbn0``, ``dbn1``, ... with ``set_output``), :meth:`inverse_transform` the
    down-pass. There is no ``score_samples``: log p(v) of a DBN with more than one layer is
    intractable (it needs the top RBM's partition function *and* a sum over every hidden
    layer), so a DBN is not scored by likelihood.

    References
    ----------
    Hinton, Osindero & Teh, Neural Computation 18, 1527 (2006); Mehta & Schwab, arXiv:1410.3831.
    """

    layers_: list[RBM]
    history_: list[History]
    n_features_in_: int
    metadata_: dict[str, Any]
    _root_seed_: np.random.SeedSequence

    def __init__(self, layer_sizes: Sequence[int] = (400, 100, 25), *,
                 units: str | Sequence[str] = "spin",
                 rbm_params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                 propagate: str = "sample", propagate_repeats: int = 1,
                 random_state: RandomState = None, verbose: int = 0) -> None:
        store_params(self, locals())

    if TYPE_CHECKING:  # inherited from scikit-learn (untyped): their signatures for this class
        def fit_transform(self, X: npt.ArrayLike, y: object = None,
                          **fit_params: Any) -> FloatArray: ...

        def get_feature_names_out(self, input_features: npt.ArrayLike | None = None
                                  ) -> NDArray[np.object_]: ...

    def __sklearn_is_fitted__(self) -> bool:
        return bool(getattr(self, "layers_", None))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = []  # float64 outputs whatever the input
        return tags

    @property
    def _n_features_out(self) -> int:
        """Units of the top layer (``get_feature_names_out``)."""
        return self.layers_[-1].weights_.shape[1]

    # ------------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------------
    def _validate(self) -> tuple[list[int], list[str], list[dict[str, Any]],
                                 np.random.SeedSequence]:
        try:
            sizes = list(self.layer_sizes)
        except TypeError:
            raise ValueError(f"layer_sizes must be a sequence of positive integers, "
                             f"got {self.layer_sizes!r}") from None
        if not sizes:
            raise ValueError("layer_sizes must name at least one layer")
        sizes = [check_integer(f"layer size {i + 1}", s, 1) for i, s in enumerate(sizes)]
        n = len(sizes)
        units = [self.units] * n if isinstance(self.units, str) else list(self.units)
        if len(units) != n:
            raise ValueError(f"units has {len(units)} entries for {n} layers")
        for u in units:
            if u not in UNITS:
                raise ValueError(f"units must be 'binary' or 'spin', got {u!r}")
        params = self.rbm_params if self.rbm_params is not None else {}
        if isinstance(params, dict):
            params = [dict(params) for _ in range(n)]
        else:
            params = [dict(p) for p in params]
            if len(params) != n:
                raise ValueError(f"rbm_params has {len(params)} entries for {n} layers")
        params = [{"verbose": self.verbose, **rename_params(p, warn_for=RBM)} for p in params]
        valid = set(RBM.param_names()) - {"n_components", "units", "random_state"}
        for i, p in enumerate(params):
            bad = sorted(set(p) - valid)
            if bad:
                raise ValueError(f"rbm_params of layer {i + 1}: invalid or reserved parameter(s) "
                                 f"{', '.join(bad)}")
        if self.propagate not in _PROPAGATE:
            raise ValueError(f"propagate must be 'sample' or 'mean', got {self.propagate!r}")
        repeats = check_integer("propagate_repeats", self.propagate_repeats, 1)
        if repeats > 1 and self.propagate != "sample":
            raise ValueError("propagate_repeats > 1 requires propagate='sample'")
        root = root_seed(self.random_state)
        return sizes, units, params, root

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    def _check_layer(self, layer: int | None) -> int:
        n = len(self.layers_)
        if layer is None:
            return n
        layer = check_integer("layer", layer, 1)
        if layer > n:
            raise ValueError(f"layer must be in 1..{n}, got {layer}")
        return layer

    def check_input(self, X: npt.ArrayLike, *, reset: bool) -> NDArray[Any]:
        """The visible input of :meth:`fit`, :meth:`partial_fit`, :meth:`transform`,
        :meth:`reconstruct` and :meth:`gibbs`, checked.

        scikit-learn's checks (2-D, dense, numeric, finite; ``reset=True`` records
        ``n_features_in_``, ``reset=False`` compares with it); when fitting, RBM 1 then checks
        the unit values, otherwise the values must lie in the unit range of RBM 1 (states or
        means, as float64). A subclass may override it to map other inputs onto unit values.
        """
        if reset:
            return validate_data(self, X, reset=True, accept_sparse=False, dtype="numeric")
        arr = validate_data(self, X, reset=False, accept_sparse=False, dtype=np.float64)
        low = 0.0 if self.layers_[0].units == "binary" else -1.0
        if arr.min() < low or arr.max() > 1.0:
            raise ValueError(f"X must lie in [{low:g}, 1] for {self.layers_[0].units} units")
        return arr

    # ------------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------------
    def fit(self: _DBN, X: npt.ArrayLike, y: object = None, *,
            checkpoint: str | os.PathLike[str] | None = None, resume: bool = False,
            callback: EpochCallback | None = None) -> _DBN:
        """Greedy layer-wise training: RBM 1 on ``X``, RBM l on the representation below.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Values in the unit set of RBM 1 ({0, 1} or {-1, +1}).
        y : ignored
        checkpoint : str or os.PathLike, optional
            Prefix of the per-layer training checkpoints ``<checkpoint>.layer<l>`` written
            atomically after every epoch (:meth:`rbm.RBM.fit`). They are left on disk.
        resume : bool, default False
            Continue from existing checkpoints: finished layers are reloaded, the interrupted one
            continues bit-identically; the up-propagation is re-drawn from the same seeds, so the
            result equals an uninterrupted run.
        callback : callable, optional
            ``callback(record)`` after every epoch of every layer, ``record`` as in
            :meth:`rbm.RBM.fit` with ``record["layer"]`` the 1-based layer index and
            ``record["n_layers"]``.

        Returns
        -------
        self : DBN
            The trained stack: ``layers_`` (RBM 1 first), ``history_``, ``n_features_in_``.

        Raises
        ------
        ValueError
            Bad hyperparameters or data.
        rbm.TrainingDivergedError
            NaN/inf during training; the message names the epoch and the layer.
        """
        sizes, units, params, root = self._validate()
        data = self.check_input(X, reset=True)
        self._root_seed_ = root
        n_layers = len(sizes)
        layers = []
        for i in range(n_layers):
            layer = i + 1
            rbm = RBM(sizes[i], units=units[i], random_state=child_seed(root, 0, layer),
                      **params[i])
            ckpt = None if checkpoint is None else f"{os.fspath(checkpoint)}.layer{layer}"
            logger.info("training layer %d/%d: %d -> %d %s units", layer, n_layers,
                        data.shape[1], sizes[i], units[i])
            rbm.fit(data, checkpoint=ckpt, resume=resume,
                    callback=_with_layer_count(callback, n_layers), layer=layer,
                    allow_fractional=layer > 1 and self.propagate == "mean")
            layers.append(rbm)
            if layer < n_layers:
                data = self._propagate_up(rbm, data, units[i + 1],
                                          np.random.default_rng(child_seed(root, 1, layer)))
                if not np.all(np.isfinite(data)):
                    raise TrainingDivergedError(f"non-finite activations after layer {layer}")
        self.layers_ = layers
        self.n_features_in_ = int(layers[0].weights_.shape[0])
        self.history_ = [rbm.history_ for rbm in layers]
        if not hasattr(self, "metadata_"):
            self.metadata_ = {}
        return self

    def _propagate_up(self, rbm: RBM, data: NDArray[Any], next_units: str,
                      rng: np.random.Generator) -> FloatArray:
        act = maths.hidden_field(np.asarray(data, np.float64), rbm.weights_.astype(np.float64),
                                 rbm.hidden_bias_.astype(np.float64))
        out: FloatArray
        if self.propagate == "mean":
            out = maths.unit_mean(act, rbm.units)
        else:
            out = np.concatenate([maths.sample_units(act, rbm.units, rng)
                                  for _ in range(int(self.propagate_repeats))])
        out = maths.convert_units(out, rbm.units, next_units)
        return out.astype(rbm.weights_.dtype)

    def partial_fit(self: _DBN, X: npt.ArrayLike, y: object = None, *,
                    callback: EpochCallback | None = None) -> _DBN:
        """One more epoch of every layer, greedily: RBM 1 on ``X``, RBM l on the representation
        of ``X`` under the (just updated) RBMs below (:meth:`rbm.RBM.partial_fit`).

        The first call builds the layers with the seeds of :meth:`fit`; the up-propagation
        draws of epoch e come from spawn key ``(1, l, e)``. ``callback`` as in :meth:`fit`.

        Returns
        -------
        self : DBN
        """
        sizes, units, params, root = self._validate()
        fitted = self.__sklearn_is_fitted__()
        data = self.check_input(X, reset=not fitted)
        n_layers = len(sizes)
        if not fitted:
            self.layers_ = [RBM(sizes[i], units=units[i], random_state=child_seed(root, 0, i + 1),
                                **params[i]) for i in range(n_layers)]
            self.metadata_ = getattr(self, "metadata_", {})
        epoch = getattr(self.layers_[0], "n_epochs_done_", 0)
        for i, rbm in enumerate(self.layers_):
            rbm.partial_fit(data, callback=_with_layer_count(callback, n_layers), layer=i + 1,
                            allow_fractional=i > 0 and self.propagate == "mean")
            if i + 1 < n_layers:
                rng = np.random.default_rng(child_seed(root, 1, i + 1, epoch))
                data = self._propagate_up(rbm, data, units[i + 1], rng)
        self.history_ = [rbm.history_ for rbm in self.layers_]
        return self

    # ------------------------------------------------------------------------------------------
    # passes
    # ------------------------------------------------------------------------------------------
    def transform(self, X: npt.ArrayLike, layer: int | None = None) -> FloatArray:
        """Mean-field up-pass: E[h^(l) | v] layer by layer, up to ``layer`` (default: the top).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Visible configurations (or means) in the units of RBM 1.
        layer : int, optional
            1-based layer to stop at.

        Returns
        -------
        ndarray, shape (n_samples, layer_sizes[layer - 1]), float64, in the units of that layer
        """
        self._check_fitted()
        stop = self._check_layer(layer)
        layers = self.layers_[:stop]
        means = maths.mean_field_up(self.check_input(X, reset=False),
                                    [(rbm.weights_.astype(np.float64),
                                      rbm.hidden_bias_.astype(np.float64)) for rbm in layers],
                                    [rbm.units for rbm in layers])
        return means[-1]

    def _down(self, x: FloatArray, start: int, mode: str, rng: np.random.Generator, *,
              sample_visible: bool = False) -> FloatArray:
        """From hidden values of layer ``start`` (in its units) down to the visibles.

        ``mode`` "stochastic" samples every layer, "mean-field" passes means; with
        ``sample_visible`` the last (visible) layer is sampled in either mode.
        """
        for i in range(start - 1, -1, -1):
            rbm = self.layers_[i]
            if i < start - 1:
                x = maths.convert_units(x, self.layers_[i + 1].units, rbm.units)
            act = maths.visible_field(x, rbm.weights_.astype(np.float64),
                                      rbm.visible_bias_.astype(np.float64))
            if mode == "stochastic" or (sample_visible and i == 0):
                x = maths.sample_units(act, rbm.units, rng)
            else:
                x = maths.unit_mean(act, rbm.units)
        return x

    def inverse_transform(self, H: npt.ArrayLike, layer: int | None = None, *,
                          mode: str = "mean-field", seed: SeedLike = None) -> FloatArray:
        """Down-pass from the hidden layer ``layer`` (default: the top) to the visibles.

        Parameters
        ----------
        H : array_like, shape (n_samples, layer_sizes[layer - 1])
            Hidden values (states or means) in the units of that layer.
        layer : int, optional
        mode : {"mean-field", "stochastic"}
            Propagate the means E[v | h] (returns visible means), or sample v ~ p(v | h) at every
            layer (returns visible states).
        seed : None, int, SeedSequence or Generator
            For ``mode="stochastic"``.

        Returns
        -------
        ndarray, shape (n_samples, n_visible), float64
        """
        self._check_fitted()
        start = self._check_layer(layer)
        if mode not in _MODES:
            raise ValueError(f"mode must be 'stochastic' or 'mean-field', got {mode!r}")
        h = np.asarray(H, dtype=np.float64)
        width = self.layers_[start - 1].weights_.shape[1]
        if h.ndim == 1 and h.shape[0] == width:
            h = h[None, :]
        if h.ndim != 2 or h.shape[1] != width:
            raise ValueError(f"H must have shape (n_samples, {width}), got {np.shape(H)}")
        if not np.all(np.isfinite(h)):
            raise ValueError("H contains NaN or inf")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return self._down(h, start, mode, rng)

    def reconstruct(self, X: npt.ArrayLike, *, layer: int | None = None, mode: str = "mean-field",
                    seed: SeedLike = None) -> FloatArray:
        """Up to ``layer`` (default: the top) with the mean-field pass, then down again.

        This is the reconstruction of Mehta & Schwab (2014, Fig. 5): the visible configuration
        the network associates with the coarse representation of ``X``.

        Returns
        -------
        ndarray, shape (n_samples, n_visible), float64 (means, or states for "stochastic")
        """
        self._check_fitted()
        stop = self._check_layer(layer)
        return self.inverse_transform(self.transform(X, stop), stop, mode=mode, seed=seed)

    def sample(self, n_samples: int, n_gibbs: int = 1000, seed: RandomState = None,
               mode: str = "stochastic") -> NDArray[np.int8]:
        """Generate visible configurations from the DBN.

        Block Gibbs sampling for ``n_gibbs`` steps in the top RBM (:meth:`rbm.RBM.sample`, from
        uniformly random states), then a down-pass through the lower RBMs' conditionals
        p(v | h) (Hinton, Osindero & Teh 2006).

        Parameters
        ----------
        n_samples : int
        n_gibbs : int, default 1000
        seed : None, int or SeedSequence
        mode : {"stochastic", "mean-field"}
            "stochastic": sample every layer on the way down. "mean-field": pass the means
            E[v | h] down through the hidden layers and draw only the visible layer from its
            conditional (a smoother generator). Either way visible *states* are returned.

        Returns
        -------
        ndarray, shape (n_samples, n_visible), int8, values in the unit set of RBM 1
        """
        self._check_fitted()
        if mode not in _MODES:
            raise ValueError(f"mode must be 'stochastic' or 'mean-field', got {mode!r}")
        n_samples = check_integer("n_samples", n_samples, 1)
        n_gibbs = check_integer("n_gibbs", n_gibbs, 0)
        if isinstance(seed, np.random.Generator):
            raise ValueError("seed must be None, an int or a SeedSequence")
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        top = self.layers_[-1]
        x: FloatArray = top.sample(n_samples, n_gibbs, seed=child_seed(root, 0)).astype(np.float64)
        n = len(self.layers_)
        if n == 1:
            return x.astype(np.int8)
        rng = np.random.default_rng(child_seed(root, 1))
        x = maths.convert_units(x, top.units, self.layers_[-2].units)
        return self._down(x, n - 1, mode, rng, sample_visible=True).astype(np.int8)

    def gibbs(self, X: npt.ArrayLike, n_steps: int = 1, seed: SeedLike = None) -> FloatArray:
        """Up-down Gibbs sampling from each row of ``X`` (Hinton, Osindero & Teh 2006).

        A stochastic up-pass h^(l) ~ p(h^(l) | h^(l-1)) to the visible layer of the top RBM,
        ``n_steps`` of block Gibbs sampling in the top RBM (:meth:`rbm.RBM.gibbs`), then a
        stochastic down-pass through the lower RBMs' conditionals.

        Parameters
        ----------
        X : array_like (n_samples, n_features_in_)
            Visible states in the units of RBM 1.
        n_steps : int, default 1
        seed : None, int, SeedSequence or Generator

        Returns
        -------
        ndarray (n_samples, n_features_in_), float64 visible states
        """
        self._check_fitted()
        x = self.check_input(X, reset=False)
        rng = as_rng(seed)
        for below, above in zip(self.layers_[:-1], self.layers_[1:]):
            field = maths.hidden_field(x, below.weights_.astype(np.float64),
                                       below.hidden_bias_.astype(np.float64))
            x = maths.convert_units(maths.sample_units(field, below.units, rng), below.units,
                                    above.units)
        top = self.layers_[-1]
        x = top.gibbs(x, n_steps, seed=rng).astype(np.float64)
        if len(self.layers_) == 1:
            return x
        x = maths.convert_units(x, top.units, self.layers_[-2].units)
        return self._down(x, len(self.layers_) - 1, "stochastic", rng)

    def receptive_fields(self, layer: int | None = None) -> Float64Array:
        """Effective receptive fields r^(l) of layer ``layer`` (:func:`rbm.maths.receptive_fields`).

        Parameters
        ----------
        layer : int, optional
            1-based layer (default: the top).

        Returns
        -------
        ndarray, shape (n_visible, layer_sizes[layer - 1]), float64
        """
        self._check_fitted()
        stop = self._check_layer(layer)
        return maths.receptive_fields([rbm.weights_ for rbm in self.layers_[:stop]])[-1]

    # ------------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], meta: Mapping[str, Any] | None = None) -> None:
        """Write the DBN to a versioned ``.npz`` atomically (:func:`rbm.io.save_layers`).

        ``meta`` (JSON-serialisable, default ``metadata_``) is stored with the hyperparameters
        and comes back as ``metadata_`` from :meth:`load`.
        """
        self._check_fitted()
        record = {"params": jsonable_params(self.get_params()),
                  "metadata": meta if meta is not None else getattr(self, "metadata_", {})}
        save_layers(path, self.layers_, record, kind="dbn")

    @classmethod
    def load(cls: type[_DBN], path: str | os.PathLike[str]) -> _DBN:
        """Load a DBN (or a single RBM, as a one-layer DBN) saved with :func:`rbm.io`."""
        layers, meta = load_layers(path)
        return cls.from_layers(layers, meta)

    @classmethod
    def from_layers(cls: type[_DBN], layers: Iterable[RBM],
                    meta: Mapping[str, Any] | None = None) -> _DBN:
        """Build a fitted DBN from fitted RBMs (RBM 1 first) and saved metadata."""
        layers = list(layers)
        if not layers:
            raise ValueError("a DBN needs at least one layer")
        for i in range(1, len(layers)):
            if layers[i].weights_.shape[0] != layers[i - 1].weights_.shape[1]:
                raise ValueError(f"layer {i + 1} does not stack on layer {i}")
        meta = dict(meta or {})
        params = meta.get("params") or {}
        try:
            params = params_from_json(params)
            dbn = cls(**{k: v for k, v in params.items() if k in cls.param_names()})
        except (TypeError, KeyError) as exc:
            raise ValueError(f"invalid DBN metadata: {exc}") from None
        dbn.layer_sizes = [int(rbm.weights_.shape[1]) for rbm in layers]
        if meta.get("kind") == "rbm" or not params:
            dbn.units = layers[0].units if len({r.units for r in layers}) == 1 \
                else [r.units for r in layers]
        dbn.layers_ = layers
        dbn.n_features_in_ = int(layers[0].weights_.shape[0])
        dbn.history_ = [getattr(rbm, "history_", {}) for rbm in layers]
        dbn.metadata_ = dict(meta.get("metadata") or {})
        return dbn


def _with_layer_count(callback: EpochCallback | None, n_layers: int) -> EpochCallback | None:
    """``callback`` with ``record["n_layers"]`` added (None stays None)."""
    if callback is None:
        return None
    return lambda record: callback({**record, "n_layers": n_layers})


# ----------------------------------------------------------------------------------------------
# loading a stack of layers (rbm.io re-exports load_layers)
# ----------------------------------------------------------------------------------------------
def _build_layer(path: str, arrays: Mapping[str, NDArray[Any]], record: Mapping[str, Any],
                 i: int) -> RBM:
    try:
        info = record["layers"][i]
        weights = arrays[f"layer{i}_weights"]
        visible_bias = arrays[f"layer{i}_visible_bias"]
        hidden_bias = arrays[f"layer{i}_hidden_bias"]
        params = params_from_json(info["params"])
        rbm = RBM(**params)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid rgdl model file (layer {i}: missing {exc})") from None
    if weights.ndim != 2 or visible_bias.shape != (weights.shape[0],) \
            or hidden_bias.shape != (weights.shape[1],):
        raise ValueError(f"{path}: layer {i} arrays have inconsistent shapes")
    if info.get("n_features_in") != weights.shape[0] or info.get("n_hidden") != weights.shape[1]:
        raise ValueError(f"{path}: layer {i} shape does not match its metadata")
    if not (np.issubdtype(weights.dtype, np.floating) and np.all(np.isfinite(weights))
            and np.all(np.isfinite(visible_bias)) and np.all(np.isfinite(hidden_bias))):
        raise ValueError(f"{path}: layer {i} parameters are not finite floats")
    if rbm.units not in ("binary", "spin"):
        raise ValueError(f"{path}: layer {i} has unknown units {rbm.units!r}")
    dtype = weights.dtype
    rbm.weights_ = np.ascontiguousarray(weights)
    rbm.visible_bias_ = np.ascontiguousarray(visible_bias, dtype)
    rbm.hidden_bias_ = np.ascontiguousarray(hidden_bias, dtype)
    rbm.n_features_in_ = int(weights.shape[0])
    rbm.n_epochs_done_ = int(info.get("n_epochs_done", 0))
    rbm.history_ = {k: list(v) for k, v in (info.get("history") or {}).items()}
    return rbm


def load_layers(path: str | os.PathLike[str]) -> tuple[list[RBM], dict[str, Any]]:
    """Load the layers of a model file.

    Returns
    -------
    layers : list of RBM
    meta : dict
        The caller's metadata saved with the file, plus ``"kind"``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Another format version, a corrupt or inconsistent file (one-line message).
    """
    path, arrays, record = open_archive(path)
    if record["kind"] == "checkpoint":
        raise ValueError(f"{path} is a training checkpoint, not a model file")
    layers_info = record.get("layers")
    if not isinstance(layers_info, list) or not layers_info:
        raise ValueError(f"{path} is not a valid rgdl model file (no layers)")
    layers = [_build_layer(path, arrays, record, i) for i in range(len(layers_info))]
    for i in range(1, len(layers)):
        if layers[i].weights_.shape[0] != layers[i - 1].weights_.shape[1]:
            raise ValueError(f"{path}: layer {i} does not stack on layer {i - 1}")
    meta = dict(record.get("meta") or {})
    meta["kind"] = record["kind"]
    return layers, meta

"""The scikit-learn parameter protocol of rbm's estimators (with the deprecated names of the
previous release), and the JSON form of hyperparameters stored in model files and checkpoints
(:mod:`rbm.archive`)."""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["ParamsMixin", "RENAMED_PARAMS", "store_params", "accepts_renamed", "deprecated_alias",
           "rename_params", "jsonable_params", "jsonable_entropy", "params_from_json"]

#: Hyperparameters renamed to scikit-learn's names (old -> new); the old names are accepted,
#: with a FutureWarning, for one release, and read silently from model files.
RENAMED_PARAMS = {"n_hidden": "n_components", "n_epochs": "n_iter"}


def store_params(estimator, arguments):
    """Set every constructor argument of ``estimator`` as the attribute of the same name.

    Called as ``store_params(self, locals())`` first thing in ``__init__``: the scikit-learn
    rule (each keyword argument stored unchanged under its own name, no logic), written once.
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, arguments[name])


def _warn_renamed(cls, old, new):
    warnings.warn(f"{cls.__name__}: {old!r} was renamed {new!r}; the old name will be removed "
                  f"in the next release", FutureWarning, stacklevel=3)


def deprecated_alias(old, new):
    """A property ``old`` reading and writing the hyperparameter ``new`` with a FutureWarning."""
    def fget(self):
        _warn_renamed(type(self), old, new)
        return getattr(self, new)

    def fset(self, value):
        _warn_renamed(type(self), old, new)
        setattr(self, new, value)

    return property(fget, fset, doc=f"Deprecated alias of ``{new}`` (removed in the next "
                                    f"release).")


def rename_params(params, *, warn_for=None):
    """``params`` with the old names of :data:`RENAMED_PARAMS` replaced by the new ones.

    ``warn_for`` (a class) emits a FutureWarning per old name; model files are read silently.
    A name given under both spellings keeps the new one's value.
    """
    out = {}
    for key, value in params.items():
        new = RENAMED_PARAMS.get(key)
        if new is None:
            out[key] = value
            continue
        if warn_for is not None:
            _warn_renamed(warn_for, key, new)
        if new not in params:
            out[new] = value
    return out


def accepts_renamed(init):
    """Decorate ``__init__`` to also take the old names of :data:`RENAMED_PARAMS` (FutureWarning,
    stored under the new names).

    The signature that ``inspect`` and scikit-learn read stays the hyperparameters' (through
    ``__wrapped__``), so the old names are neither parameters nor attributes of their own.
    """
    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        old = {key: kwargs.pop(key) for key in list(kwargs) if key in RENAMED_PARAMS}
        init(self, *args, **kwargs)
        for key, value in rename_params(old, warn_for=type(self)).items():
            setattr(self, key, value)

    return wrapper


class ParamsMixin(BaseEstimator):
    """scikit-learn's ``BaseEstimator`` whose ``set_params`` also accepts the old names of
    :data:`RENAMED_PARAMS` (FutureWarning).

    ``__init__`` stores every keyword argument under its own name (:func:`store_params`), so
    that ``sklearn.base.clone`` works.
    """

    @classmethod
    def param_names(cls):
        """Sorted names of the constructor's hyperparameters."""
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def set_params(self, **params):
        """Set hyperparameters (old names: FutureWarning); unknown names raise ValueError."""
        return super().set_params(**rename_params(params, warn_for=type(self)))


def jsonable_params(params):
    """Hyperparameters as JSON-compatible values (SeedSequence -> its entropy)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.SeedSequence):
            value = {"entropy": jsonable_entropy(value.entropy),
                     "spawn_key": [int(k) for k in value.spawn_key]}
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        elif isinstance(value, np.bool_):
            value = bool(value)
        elif isinstance(value, np.dtype):
            value = str(value)
        out[key] = value
    return out


def jsonable_entropy(entropy):
    """SeedSequence entropy (int or sequence of ints) as JSON-compatible ints."""
    if isinstance(entropy, (int, np.integer)):
        return int(entropy)
    return [int(e) for e in np.asarray(entropy).ravel()]


def params_from_json(params):
    """Inverse of :func:`jsonable_params` (a JSON seed dict becomes a SeedSequence again;
    the names of :data:`RENAMED_PARAMS` in files of the previous release, also inside a DBN's
    ``rbm_params``, become today's)."""
    out = rename_params(params)
    layers = out.get("rbm_params")
    if isinstance(layers, dict):
        out["rbm_params"] = rename_params(layers)
    elif isinstance(layers, list):
        out["rbm_params"] = [rename_params(p) if isinstance(p, dict) else p for p in layers]
    seed = out.get("random_state")
    if isinstance(seed, dict):
        out["random_state"] = np.random.SeedSequence(seed["entropy"],
                                                     spawn_key=tuple(seed["spawn_key"]))
    return out

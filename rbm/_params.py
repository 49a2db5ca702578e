"""The scikit-learn parameter protocol of rbm's estimators (with the deprecated names of the
previous release), and the JSON form of hyperparameters stored in model files and checkpoints
(:mod:`rbm.archive`)."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import numpy as np
from sklearn.base import BaseEstimator

from rbm.hyperparams import LATER_PARAM_DEFAULTS

__all__ = ["ParamsMixin", "RENAMED_PARAMS", "store_params", "accepts_renamed", "deprecated_alias",
           "rename_params", "jsonable_params", "jsonable_entropy", "params_from_json",
           "without_later_defaults"]

#: Hyperparameters renamed to scikit-learn's names (old -> new); the old names are accepted,
#: with a FutureWarning, for one release, and read silently from model files.
RENAMED_PARAMS = {"n_hidden": "n_components", "n_epochs": "n_iter"}

_Init = TypeVar("_Init", bound=Callable[..., None])
_Estimator = TypeVar("_Estimator", bound="ParamsMixin")


def store_params(estimator: object, arguments: Mapping[str, Any]) -> None:
    """Set every constructor argument of ``estimator`` as the attribute of the same name.

    Called as ``store_params(self, locals())`` first thing in ``__init__``: the scikit-learn
    rule (each keyword argument stored unchanged under its own name, no logic), written once.
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, arguments[name])


def _warn_renamed(cls: type, old: str, new: str) -> None:
    warnings.warn(f"{cls.__name__}: {old!r} was renamed {new!r}; the old name will be removed "
                  f"in the next release", FutureWarning, stacklevel=3)


def deprecated_alias(old: str, new: str) -> property:
    """A property ``old`` reading and writing the hyperparameter ``new`` with a FutureWarning."""
    def fget(self: object) -> Any:
        _warn_renamed(type(self), old, new)
        return getattr(self, new)

    def fset(self: object, value: Any) -> None:
        _warn_renamed(type(self), old, new)
        setattr(self, new, value)

    return property(fget, fset, doc=f"Deprecated alias of ``{new}`` (removed in the next "
                                    f"release).")


def rename_params(params: Mapping[str, Any], *, warn_for: type | None = None) -> dict[str, Any]:
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


def accepts_renamed(init: _Init) -> _Init:
    """Decorate ``__init__`` to also take the old names of :data:`RENAMED_PARAMS` (FutureWarning,
    stored under the new names).

    The signature that ``inspect`` and scikit-learn read stays the hyperparameters' (through
    ``__wrapped__``), so the old names are neither parameters nor attributes of their own.
    """
    @functools.wraps(init)
    def wrapper(self: object, *args: Any, **kwargs: Any) -> None:
        old = {key: kwargs.pop(key) for key in list(kwargs) if key in RENAMED_PARAMS}
        init(self, *args, **kwargs)
        for key, value in rename_params(old, warn_for=type(self)).items():
            setattr(self, key, value)

    return cast(_Init, wrapper)


class ParamsMixin(BaseEstimator):
    """scikit-learn's ``BaseEstimator`` whose ``set_params`` also accepts the old names of
    :data:`RENAMED_PARAMS` (FutureWarning).

    ``__init__`` stores every keyword argument under its own name (:func:`store_params`), so
    that ``sklearn.base.clone`` works.
    """

    @classmethod
    def param_names(cls) -> list[str]:
        """Sorted names of the constructor's hyperparameters."""
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def set_params(self: _Estimator, **params: Any) -> _Estimator:
        """Set hyperparameters (old names: FutureWarning); unknown names raise ValueError."""
        return super().set_params(**rename_params(params, warn_for=type(self)))


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
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


def without_later_defaults(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` (JSON form) without the entries of
    :data:`rbm.hyperparams.LATER_PARAM_DEFAULTS` that hold their default (same value and type)."""
    return {k: v for k, v in params.items()
            if not (k in LATER_PARAM_DEFAULTS and _same(v, LATER_PARAM_DEFAULTS[k]))}


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - arrays etc.
        return False


def jsonable_entropy(entropy: object) -> int | list[int]:
    """SeedSequence entropy (int or sequence of ints) as JSON-compatible ints."""
    if isinstance(entropy, (int, np.integer)):
        return int(entropy)
    return [int(e) for e in np.asarray(entropy).ravel()]


def params_from_json(params: Mapping[str, Any]) -> dict[str, Any]:
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

"""The scikit-learn hyperparameter protocol, without depending on scikit-learn, and the JSON
form of hyperparameters stored in model files and checkpoints (:mod:`rbm.archive`)."""

from __future__ import annotations

import inspect

import numpy as np

__all__ = ["ParamsMixin", "store_params", "jsonable_params", "jsonable_entropy",
           "params_from_json"]


def store_params(estimator, arguments):
    """Set every constructor argument of ``estimator`` as the attribute of the same name.

    Called as ``store_params(self, locals())`` first thing in ``__init__``: the scikit-learn
    rule (each keyword argument stored unchanged under its own name, no logic), written once.
    """
    for name, param in inspect.signature(type(estimator).__init__).parameters.items():
        if name != "self" and param.kind is not param.VAR_KEYWORD:
            setattr(estimator, name, arguments[name])


class ParamsMixin:
    """``get_params``/``set_params`` from the ``__init__`` signature (scikit-learn protocol).

    ``__init__`` must store every keyword argument under its own name, as scikit-learn's
    estimators do, so that ``sklearn.base.clone`` works on subclasses.
    """

    @classmethod
    def param_names(cls):
        """Sorted names of the constructor's hyperparameters."""
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep=True):
        """Hyperparameters as a dict (``deep`` is accepted for compatibility and ignored)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params):
        """Set hyperparameters; unknown names raise ValueError. Returns self."""
        valid = set(self.param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid: {sorted(valid)}")
            setattr(self, name, value)
        return self


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
    """Inverse of :func:`jsonable_params` (a JSON seed dict becomes a SeedSequence again)."""
    out = dict(params)
    seed = out.get("random_state")
    if isinstance(seed, dict):
        out["random_state"] = np.random.SeedSequence(seed["entropy"],
                                                     spawn_key=tuple(seed["spawn_key"]))
    return out

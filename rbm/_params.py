"""The scikit-learn hyperparameter protocol, without depending on scikit-learn."""

from __future__ import annotations

import inspect


class ParamsMixin:
    """``get_params``/``set_params`` from the ``__init__`` signature (scikit-learn protocol).

    ``__init__`` must store every keyword argument under its own name, as scikit-learn's
    estimators do, so that ``sklearn.base.clone`` works on subclasses.
    """

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep=True):
        """Hyperparameters as a dict (``deep`` is accepted for compatibility and ignored)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set hyperparameters; unknown names raise ValueError. Returns self."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

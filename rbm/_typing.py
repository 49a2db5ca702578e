"""Type aliases of the rbm package, for annotations only (written once here).

``Units`` is the validated unit type ("binary" for {0, 1}, "spin" for {-1, +1};
docs/CONTRACTS.md). Public functions take ``units`` as ``str`` (they validate it or branch on
it) and return ``Units`` once it is checked (:func:`rbm.maths.check_units`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Protocol, Type, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["Units", "FloatArray", "Float64Array", "IntArray", "FloatDType", "SeedLike", "RandomState",
           "History", "RBMLayer"]

#: A validated unit type.
Units = Literal["binary", "spin"]
#: A float array of either precision (the parameters of an RBM are float32 or float64).
FloatArray = NDArray[np.floating[Any]]
#: A float type (a ``dtype=`` argument that must be float32 or float64).
FloatDType = Union[Type[np.floating[Any]], np.dtype[np.floating[Any]]]
#: A float64 array (energies, free energies, log-likelihoods).
Float64Array = NDArray[np.float64]
#: An integer array (indices, int8 unit values).
IntArray = NDArray[np.integer[Any]]
#: What a ``seed`` / ``random_state`` argument accepts.
SeedLike = Union[None, int, np.integer[Any], np.random.SeedSequence, np.random.Generator]
#: ``history_`` of an RBM: one list of per-epoch values per metric.
History = Dict[str, List[Any]]
#: What a ``random_state`` hyperparameter accepts (a Generator is refused: a fit must be
#: reproducible from the hyperparameters alone).
RandomState = Union[None, int, np.integer[Any], np.random.SeedSequence]


class RBMLayer(Protocol):
    """What the modules below :mod:`rbm.model` read of a fitted :class:`rbm.RBM` (archives,
    monitoring, the trainer's set-up), so that they need not import the model class."""

    @property
    def units(self) -> str: ...

    @property
    def weights_(self) -> FloatArray: ...

    @property
    def visible_bias_(self) -> FloatArray: ...

    @property
    def hidden_bias_(self) -> FloatArray: ...

    @property
    def n_epochs_done_(self) -> int: ...

    def stored_params(self) -> dict[str, Any]: ...

"""Versioned ``.npz`` persistence of RBMs, RBM stacks (DBNs) and training checkpoints.

The public entry points. The file layout (``FORMAT_VERSION``, no pickles, atomic writes) is
documented, written and read by :mod:`rbm.archive`; :func:`load_layers` lives beside
:class:`rbm.DBN`, which loads through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rbm._params import jsonable_params
from rbm.archive import (FORMAT_VERSION, ModelWriteError, atomic_savez, load_checkpoint,
                         save_checkpoint, save_layers)
from rbm.dbn import DBN, load_layers
from rbm.model import RBM

__all__ = ["FORMAT_VERSION", "save_model", "load_model", "save_layers", "load_layers",
           "save_checkpoint", "load_checkpoint", "atomic_savez", "ModelWriteError"]


def save_model(path: str | os.PathLike[str], model: RBM | DBN,
               meta: Mapping[str, Any] | None = None) -> None:
    """Save a fitted :class:`rbm.RBM` (kind "rbm") or a stack with ``layers_`` (kind "dbn").

    A DBN-like object is saved through :func:`save_layers` with ``meta`` defaulting to its
    ``get_params()`` (made JSON-compatible) when it has one.
    """
    if isinstance(model, RBM):
        save_layers(path, [model], meta, kind="rbm")
        return
    layers = getattr(model, "layers_", None)
    if layers is None:
        raise ValueError(f"cannot save {type(model).__name__}: not an RBM and no fitted layers_")
    if meta is None and hasattr(model, "get_params"):
        meta = {"params": jsonable_params(model.get_params())}
    save_layers(path, layers, meta, kind="dbn")


def load_model(path: str | os.PathLike[str]) -> RBM | DBN:
    """Load a model file written by :func:`save_model`.

    Returns an :class:`rbm.RBM` (kind "rbm"), or for kind "dbn" the object built by
    ``rbm.dbn.DBN.from_layers(layers, meta)``.
    """
    layers, meta = load_layers(path)
    if meta["kind"] == "rbm":
        return layers[0]
    return DBN.from_layers(layers, meta)

"""Input checks of visible and hidden configurations, and the training data as the trainer reads
them.

Unit values are {0, 1} (binary) or {-1, +1} (spin) (docs/CONTRACTS.md); unit *means* lie in
their convex hull [0, 1] / [-1, 1] (the mean-field activities of a DBN's layer below,
Hinton 2010, sec. 3).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

__all__ = ["in_unit_set", "check_visible", "check_hidden", "training_array", "fingerprint"]


def in_unit_set(arr: NDArray[Any], units: str) -> bool:
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


def check_visible(X: npt.ArrayLike, units: str, *, name: str = "X", n_features: int | None = None,
                  allow_fractional: bool = False) -> NDArray[Any]:
    """Validate visible configurations: 2-D, non-empty, finite, values in the unit set
    (or, with ``allow_fractional``, in its convex hull [0, 1] / [-1, 1]).

    A 1-D row of length ``n_features`` is taken as one sample. Returns the array (no copy).
    """
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
    if allow_fractional:
        low = 0 if units == "binary" else -1
        if not np.all((arr >= low) & (arr <= 1)):
            raise ValueError(f"{name} must lie in [{low}, 1] for {units} units")
        return arr
    if not in_unit_set(arr, units):
        allowed = "0 and 1" if units == "binary" else "-1 and +1"
        raise ValueError(f"{name} must contain only {allowed} for {units} units")
    return arr


def check_hidden(H: npt.ArrayLike, n_hidden: int, dtype: npt.DTypeLike) -> NDArray[Any]:
    """Hidden states or means of shape (n_samples, n_hidden) (a 1-D row is one sample), finite,
    as a ``dtype`` array."""
    arr = np.asarray(H)
    if arr.ndim == 1 and arr.shape[0] == n_hidden:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_hidden:
        raise ValueError(f"hidden states must have shape (n_samples, {n_hidden}), got {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError("hidden states contain NaN or inf")
    return np.asarray(arr, dtype)


def training_array(arr: NDArray[Any], dtype: npt.DTypeLike, allow_fractional: bool) -> NDArray[Any]:
    """The training data as the trainer reads them: validated unit values as C-contiguous int8
    (no copy for int8 input such as rgdl's HDF5 datasets; a quarter of float32's memory and
    bandwidth, converted per mini-batch), fractional means in the model's float ``dtype``."""
    if allow_fractional:
        return np.ascontiguousarray(arr, dtype=dtype)
    return np.ascontiguousarray(arr, dtype=np.int8)


def fingerprint(data: NDArray[Any]) -> str:
    """Cheap identity of the training data: shape, dtype and CRC32 of the bytes."""
    crc = zlib.crc32(np.ascontiguousarray(data).data.cast("B"))
    return f"{data.shape[0]}x{data.shape[1]}:{data.dtype}:{crc:08x}"

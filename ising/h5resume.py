"""The resume state of unfinished dataset files (``<out>.partial``).

While a dataset is written, its partial file carries a ``/_resume`` group: the generation
parameters (JSON, attribute ``params``), the number of samples the file will hold (attribute
``n_samples``, -1 if unknown) and, after every chunk, the sampler state, double-buffered in two
checksummed slots (``slot0``, ``slot1``; each with ``_meta`` = int64[3]: sequence number,
samples committed, CRC-32 of the state), so a kill during a state write never destroys the last
good state. :func:`newest_commit` picks the newest slot whose checksum verifies and whose
samples read back, which makes a killed run resume exactly (the pattern of emcee's HDF5
backend). The writer that creates and updates this group is :class:`ising.h5write.DatasetWriter`.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
from numpy.typing import ArrayLike, NDArray

from .atomic import StrPath
from .h5schema import check_spin_values, first_line, open_h5, python_scalar

__all__ = ["RESUME_GROUP", "partial_path", "read_partial_params", "state_crc", "checked_state",
           "create_resume_group", "write_state", "newest_commit"]

logger = logging.getLogger("ising.io")

RESUME_GROUP = "_resume"
_SLOTS = ("slot0", "slot1")
_META = "_meta"  # int64[3] per slot: sequence number, samples committed, CRC-32 of the state

#: One commit of a partial file: (sequence number, samples committed, sampler state).
Commit = tuple[int, int, dict[str, NDArray[Any]]]


def partial_path(path: StrPath) -> Path:
    """Return the temporary file ``<path>.partial`` a dataset is written to before its rename."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def read_partial_params(path: StrPath) -> dict[str, Any]:
    """Read-only look at ``<path>.partial``: the generation parameters stored in ``/_resume``.

    Used to check that a resume request matches before anything in the file is modified.

    Raises
    ------
    FileNotFoundError
        No partial file.
    ValueError
        The partial file is corrupt or is not an rgdl partial dataset.
    """
    partial = partial_path(path)
    with open_h5(partial, "r") as h5:
        try:
            if RESUME_GROUP not in h5 or "params" not in h5[RESUME_GROUP].attrs:
                raise ValueError(f"{partial}: not an rgdl partial dataset (no resume state)")
            params = json.loads(python_scalar(h5[RESUME_GROUP].attrs["params"]))
        except (OSError, KeyError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{partial}: corrupt partial file ({first_line(exc)})") from exc
    if not isinstance(params, dict):
        raise ValueError(f"{partial}: corrupt partial file (resume parameters are not a mapping)")
    return params


def state_crc(n_written: int, state: Mapping[str, ArrayLike]) -> int:
    """CRC-32 of a commit: the sample count and every state array (name, dtype, shape, bytes)."""
    crc = zlib.crc32(np.int64(n_written).tobytes())
    for key in sorted(state):
        arr = np.asarray(state[key], order="C")
        crc = zlib.crc32(f"{key}|{arr.dtype.str}|{arr.shape}".encode(), crc)
        crc = zlib.crc32(arr.tobytes(), crc)
    return crc


def checked_state(state: Mapping[str, ArrayLike] | None) -> dict[str, NDArray[Any]]:
    """C-ordered copies of a sampler state's arrays; ValueError unless every entry is a
    numeric array with a plain name (None: an empty state)."""
    arrays: dict[str, NDArray[Any]] = {} if state is None else {
        str(k): np.array(v, order="C", copy=True) for k, v in state.items()}
    for key, value in arrays.items():
        if "/" in key or key == _META or value.dtype.kind not in "biuf":
            raise ValueError(f"resume state entry {key!r} must be a numeric array with a plain name")
    return arrays


def create_resume_group(h5: h5py.File, params: Mapping[str, Any] | None,
                        n_samples: int | None) -> None:
    """Create ``/_resume`` with the generation ``params`` (JSON) and the final sample count."""
    group = h5.create_group(RESUME_GROUP)
    group.attrs["params"] = json.dumps(dict(params or {}), sort_keys=True)
    group.attrs["n_samples"] = -1 if n_samples is None else n_samples


def write_state(h5: h5py.File, sequence: int, n_written: int,
                state: Mapping[str, NDArray[Any]]) -> None:
    """Commit ``state`` as number ``sequence`` (with ``n_written`` samples) into the slot of its
    parity: the slot is invalidated first and its ``_meta`` written last, then the file flushed."""
    slot = h5[RESUME_GROUP].require_group(_SLOTS[sequence % 2])
    if _META in slot:  # invalidate the slot before rewriting it
        slot[_META][...] = np.array([-1, -1, -1], dtype=np.int64)
    for key in list(slot.keys()):
        if key != _META and key not in state:
            del slot[key]
    for key, value in state.items():
        if key in slot and slot[key].shape == value.shape and slot[key].dtype == value.dtype:
            slot[key][...] = value
        else:
            if key in slot:
                del slot[key]
            slot.create_dataset(key, data=value)
    meta = np.array([sequence, n_written, state_crc(n_written, state)], dtype=np.int64)
    if _META in slot:
        slot[_META][...] = meta
    else:
        slot.create_dataset(_META, data=meta)
    h5.flush()


def _intact_slots(group: h5py.Group, where: str) -> list[Commit]:
    """``(sequence, n_written, state)`` of every slot that reads back and whose CRC verifies."""
    candidates = []
    for slot in _SLOTS:
        try:
            if slot not in group or _META not in group[slot]:
                continue
            sequence, n_written, crc = (int(x) for x in group[slot][_META][...])
            state = {key: np.asarray(group[slot][key][()]) for key in group[slot] if key != _META}
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            logger.warning("%s: resume slot %s is unreadable (%s); ignoring it", where, slot,
                           first_line(exc))
            continue
        if n_written < 0 or state_crc(n_written, state) != (crc & 0xFFFFFFFF):
            logger.warning("%s: resume slot %s fails its checksum; ignoring it", where, slot)
            continue
        candidates.append((sequence, n_written, state))
    return candidates


def newest_commit(h5: h5py.File, where: str) -> Commit | None:
    """The newest commit of a partial file that is intact and whose samples all read back.

    A kill can land anywhere, including inside an HDF5 flush, whose metadata writes are not
    ordered; so a slot is accepted only if its checksum verifies, the datasets hold at least
    its committed samples, and those samples read back as valid (+-1 spins, finite series).
    Otherwise the older slot (the previous commit) is tried.

    Returns
    -------
    (sequence, n_written, state) or None
        None when no commit was made yet.

    Raises
    ------
    ValueError
        Commits exist but none has samples that read back.
    """
    candidates = _intact_slots(h5[RESUME_GROUP], where)
    lengths = [h5[name].shape[0] for name in ("spins", "energy", "magnetization")]
    for sequence, n_written, state in sorted(candidates, key=lambda c: -c[0]):
        if n_written > min(lengths):
            logger.warning("%s: commit %d claims %d samples but only %d are stored; "
                           "trying the previous commit", where, sequence, n_written, min(lengths))
            continue
        try:
            check_spin_values(h5["spins"], n_written, where)
            for name in ("energy", "magnetization"):
                if not np.all(np.isfinite(h5[name][:n_written])):
                    raise ValueError(f"{where}: non-finite {name}")
        except (OSError, RuntimeError, ValueError) as exc:
            logger.warning("%s: samples of commit %d do not read back (%s); trying the "
                           "previous commit", where, sequence, first_line(exc))
            continue
        return sequence, n_written, state
    if candidates:
        raise ValueError(f"{where}: corrupt partial file (no commit whose samples read back)")
    return None

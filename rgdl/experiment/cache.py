"""The stage cache of the experiment: seeds, stage keys, cached arrays and finished-stage records.

Every stage has a key, the SHA-256 of its parameters and of the keys of the stages it uses
(:func:`stage_key`). A finished stage writes ``<out>/.stages/<stage>.json`` (atomically, last;
:class:`StageRecords`); a rerun with the same key skips it. Large intermediate files live in
key-named folders (``data/<key>``, ``models/<key>``), so changing a parameter never mixes old and
new results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ising.atomic import atomic_write_text

__all__ = ["stage_key", "load_npz", "discard", "jsonable", "StageRecords"]


def stage_key(payload: Any) -> str:
    """The cache key of a stage: the first 16 hex digits of SHA-256 of ``payload`` as sorted JSON."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_npz(path: str | os.PathLike[str], what: str) -> dict[str, NDArray[Any]]:
    """All arrays of a cached ``.npz``; a corrupt file is a ValueError naming ``--force``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cached {what} {path} is corrupt or truncated "
                         f"({type(exc).__name__}); rerun with --force to recompute it") from None


def discard(*paths: str | os.PathLike[str]) -> None:
    """Remove corrupt cached files or folders (and their partial/checkpoint companions)."""
    for path in paths:
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()


def jsonable(x: Any) -> Any:
    """``x`` with NumPy scalars/arrays, tuples and ``to_dict()`` objects as JSON types.

    Non-finite floats become ``None`` (JSON has no NaN).
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if hasattr(x, "to_dict"):
        return jsonable(x.to_dict())
    return x


class StageRecords:
    """Bookkeeping of finished stages in ``<out>/.stages`` (one JSON record per stage)."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.dir = Path(out) / ".stages"

    def done(self, name: str, key: str) -> bool:
        """Whether stage ``name`` finished with this ``key``."""
        path = self.dir / f"{name}.json"
        if not path.exists():
            return False
        try:
            return json.loads(path.read_text()).get("key") == key
        except (OSError, json.JSONDecodeError):
            return False

    def mark(self, name: str, key: str, seconds: float) -> None:
        """Record stage ``name`` as finished with ``key`` after ``seconds`` (atomic write)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / f"{name}.json",
                          json.dumps({"key": key, "seconds": seconds, "finished": time.time()}))

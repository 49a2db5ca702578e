"""The index of a sweep directory, ``OUT/sweep.json``, and the files it vouches for.

Reading and validating the index, checking that ``OUT`` holds this sweep (or nothing), the
per-point entries and their content hashes, atomic index writes and the advisory file locks that
serialise the driver and the tasks (docs/ARCHITECTURE.md describes the directory layout).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from ising.atomic import atomic_write_text
from rgdl.sweep.spec import (INDEX_FORMAT, INDEX_NAME, INDEX_VERSION, LOCK_NAME, LOCKS_DIR,
                             SUMMARY_FIELDS, SweepPoint, SweepSpec)

logger = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Small file utilities
# --------------------------------------------------------------------------------------------
def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`ising.atomic.atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n")


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (released automatically if the process dies).

    Raises
    ------
    ValueError
        ``blocking=False`` and another process holds the lock (another sweep runs there).
    """
    handle = open(path, "a+")
    try:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError:
            raise ValueError(f"another rgdl sweep is running in {path.parent}") from None
        except OSError as exc:  # e.g. ENOLCK on a network file system without locking
            logger.warning("cannot lock %s (%s); continuing without the lock", path, exc)
        yield
    finally:
        handle.close()


def utc_now() -> str:
    """The current UTC time as ISO 8601 text, to the second (the index's time stamps)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

# --------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------
def read_index(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check ``OUT/sweep.json``.

    Raises
    ------
    FileNotFoundError
        No index in ``out``.
    ValueError
        The file is not an rgdl sweep index of a supported version.
    """
    path = Path(out) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{out} holds no sweep ({INDEX_NAME} missing)")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ValueError(f"{path} is not an rgdl sweep index")
    if index.get("version") != INDEX_VERSION:
        raise ValueError(f"{path} has index version {index.get('version')!r}; "
                         f"this rgdl reads version {INDEX_VERSION}")
    check_index_schema(path, index)
    return index


def check_index_schema(path: Path, index: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``index`` has the fields :func:`sweep_table` and the driver use."""
    def bad(what: str) -> ValueError:
        return ValueError(f"{path} is not a valid rgdl sweep index ({what})")

    spec = index.get("spec")
    if not isinstance(spec, dict):
        raise bad("no 'spec' object")
    try:
        SweepSpec(**spec)
    except (TypeError, ValueError) as exc:
        raise bad(f"spec: {exc}") from None
    points = index.get("points")
    if not isinstance(points, list):
        raise bad("no 'points' list")
    for i, entry in enumerate(points):
        if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict) \
                or not isinstance(entry.get("id"), str) or not isinstance(entry.get("file"), str):
            raise bad(f"point {i} lacks id, file or params")
        params = entry["params"]
        for key, kind in (("size", int), ("seed", int), ("temperature", float)):
            value = params.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (kind is int and not isinstance(value, int)):
                raise bad(f"point {entry['id']}: parameter {key!r} is {value!r}")
        summary = entry.get("summary")
        if summary is not None and not isinstance(summary, dict):
            raise bad(f"point {entry['id']}: summary is not an object")
        for name in SUMMARY_FIELDS:
            est = (summary or {}).get(name)
            if est is not None and not (isinstance(est, dict) and all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                    for v in (est.get("value"), est.get("error")))):
                raise bad(f"point {entry['id']}: summary {name!r} is malformed")


def check_out_dir(out: Path, spec: SweepSpec) -> dict[str, Any] | None:
    """Refuse an ``out`` that holds a different sweep or foreign files; return its index."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory")
    if not out.exists():
        return None
    if (out / INDEX_NAME).exists():
        index = read_index(out)
        if index.get("spec_hash") != spec.spec_hash:
            raise ValueError(f"{out} holds a different sweep (other parameters); "
                             "choose another --out or rerun with the original parameters")
        return index
    foreign = [p.name for p in out.iterdir() if p.name not in (LOCK_NAME, LOCKS_DIR)]
    if foreign:
        raise FileExistsError(f"{out} is not empty and holds no sweep index; choose another --out")
    return None


def new_entry(point: SweepPoint) -> dict[str, Any]:
    return {"id": point.point_id, "params": point.params, "seed": point.derived_seed,
            "file": point.file, "model_file": point.model_file, "status": "pending",
            "sha256": None, "model_sha256": None, "summary": None, "error": None,
            "attempts": 0, "elapsed_s": None, "finished": None}


def entry_is_done(out: Path, entry: Mapping[str, Any]) -> bool:
    """True if the index says done and the files still carry the recorded hashes."""
    if entry.get("status") != "done" or not entry.get("sha256"):
        return False
    path = out / entry["file"]
    if not path.is_file():
        logger.warning("%s is recorded as finished but is missing; recomputing", path)
        return False
    if file_sha256(path) != entry["sha256"]:
        aside = path.with_name(f"{path.name}.modified-{int(time.time())}")
        logger.warning("%s does not match its recorded hash; moved to %s and recomputing",
                       path, aside.name)
        os.replace(path, aside)
        return False
    if entry.get("model_file"):
        model = out / entry["model_file"]
        if not model.is_file() or file_sha256(model) != entry.get("model_sha256"):
            logger.warning("model %s missing or modified; retraining", model)
            if model.is_file():
                os.replace(model, model.with_name(f"{model.name}.modified-{int(time.time())}"))
            return False
    return True

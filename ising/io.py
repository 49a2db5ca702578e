"""HDF5 spin datasets: the on-disk schema, validated reading, and atomic, resumable writing.

Schema (docs/ARCHITECTURE.md, "Data contract"; conventions in docs/CONTRACTS.md):

- dataset ``spins``: int8 in {-1, +1}, shape ``(n_samples, L)`` (1D) or ``(n_samples, L, L)`` (2D),
  chunked and compressed;
- datasets ``energy`` and ``magnetization``: float64 ``(n_samples,)``, *per spin*, with
  H = -J sum_<ij> s_i s_j - h sum_i s_i and Boltzmann weight exp(-H/T);
- root attributes ``dimension``, ``size``, ``temperature``, ``coupling``, ``field``, ``algorithm``,
  ``seed``, ``burn_in`` and ``thin`` (sweeps), ``tau_int`` (sweeps, measured), ``n_chains``,
  ``rgdl_version`` and ``created`` (ISO 8601, UTC). Extra attributes (``source``, ``format_version``,
  ...) are allowed.

Files are written by :class:`DatasetWriter` into ``<out>.partial`` next to the output, chunk by chunk
(memory never grows beyond one chunk), and renamed to ``<out>`` with :func:`os.replace` only when
complete, so ``<out>`` either does not exist or is a complete, valid dataset.  While writing, the
partial file carries a ``/_resume`` group with the generation parameters and, after every chunk, the
sampler state (double-buffered in two checksummed slots, so a kill during a state write never
destroys the last good state); :meth:`DatasetWriter.reopen` truncates to the last committed chunk
and hands the state back, which makes a killed run resume exactly (the pattern of emcee's HDF5
backend).  Writers that append whole HDF5 chunks (:attr:`DatasetWriter.chunk_rows`) never rewrite
a committed compressed chunk, so a SIGKILL at any moment leaves the committed part readable.

Write failures (a full disk, a file-size limit, an I/O error), including those h5py can only
report from its deallocators, raise :class:`ising.atomic.WriteError` with a one-line message;
the file is then detached from HDF5 as it stands, and :meth:`DatasetWriter.finalize` reopens and
verifies the closed file before the rename, so ``<out>`` never holds a file that failed
(docs/CONTRACTS.md, "Output safety").
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import tempfile
import zlib
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from . import atomic

__all__ = [
    "FORMAT_VERSION",
    "REQUIRED_ATTRIBUTES",
    "SpinDataset",
    "DatasetWriter",
    "read_dataset",
    "read_attributes",
    "read_series",
    "dataset_shape",
    "read_partial_params",
    "write_dataset",
    "partial_path",
    "partial_is_resumable",
    "check_output_path",
    "package_version",
    "utc_now",
]

logger = logging.getLogger(__name__)

#: Version of the on-disk layout, stored as the root attribute ``format_version``.
FORMAT_VERSION = 1

#: Root attributes every dataset carries (docs/ARCHITECTURE.md).
REQUIRED_ATTRIBUTES = (
    "dimension", "size", "temperature", "coupling", "field", "algorithm", "seed",
    "burn_in", "thin", "tau_int", "n_chains", "rgdl_version", "created",
)

_INT_ATTRIBUTES = ("dimension", "size", "seed", "burn_in", "thin", "n_chains", "format_version")
_FLOAT_ATTRIBUTES = ("temperature", "coupling", "field", "tau_int")
_STR_ATTRIBUTES = ("algorithm", "rgdl_version", "created", "source")

_RESUME_GROUP = "_resume"
_SLOTS = ("slot0", "slot1")
_META = "_meta"  # int64[3] per slot: sequence number, samples committed, CRC-32 of the state
_SPIN_CHUNK_BYTES = 1 << 18  # HDF5 chunk of spins: <= 256 KiB, well inside h5py's 1 MiB chunk cache
_SERIES_CHUNK = 4096
# HDF5's message for a file locked by another process ("unable to lock file, errno = 11");
# not any text with "lock" in it: a truncated file's message names "sblock".
_HDF5_LOCK_RE = re.compile(r"unable to lock file|file locking|errno = 11\b", re.IGNORECASE)


def partial_path(path) -> Path:
    """Return the temporary file ``<path>.partial`` a dataset is written to before its rename."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def package_version() -> str:
    """Version of the installed ``rgdl`` distribution, read from its metadata.

    ``ising`` is a leaf package and must not import ``rgdl``; the distribution metadata gives the
    version without importing it.
    """
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python >= 3.8 always has it
        return "unknown"
    try:
        return version("rgdl")
    except PackageNotFoundError:
        return "unknown"


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC (the ``created`` attribute)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SpinDataset:
    """A spin dataset read from disk (see the module docstring for the schema).

    Attributes
    ----------
    path : pathlib.Path
        The file it was read from.
    spins : numpy.ndarray
        int8 in {-1, +1}, shape ``(n_samples, L)`` or ``(n_samples, L, L)``.
    energy, magnetization : numpy.ndarray
        float64 ``(n_samples,)``, per spin (docs/CONTRACTS.md conventions).
    attrs : dict
        Root attributes as Python scalars (int, float, str).
    """

    path: Path
    spins: np.ndarray
    energy: np.ndarray
    magnetization: np.ndarray
    attrs: dict = dataclass_field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of configurations."""
        return int(self.spins.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.attrs["dimension"])

    @property
    def size(self) -> int:
        return int(self.attrs["size"])

    @property
    def temperature(self) -> float:
        return float(self.attrs["temperature"])

    @property
    def coupling(self) -> float:
        return float(self.attrs["coupling"])

    @property
    def field(self) -> float:
        return float(self.attrs["field"])

    @property
    def n_spins(self) -> int:
        """Spins per configuration, N = L**dimension."""
        return self.size ** self.dimension


# --------------------------------------------------------------------------------------------
# reading and validation
# --------------------------------------------------------------------------------------------

def _python_scalar(value):
    """Convert an h5py attribute value to a plain Python scalar where possible."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _normalise_attributes(raw: Mapping[str, Any], where: str) -> dict:
    """Type-check the root attributes; raise ValueError naming ``where`` on a bad one."""
    attrs = {key: _python_scalar(value) for key, value in raw.items()}
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in attrs]
    if missing:
        raise ValueError(f"{where}: not an rgdl spin dataset (missing attribute(s) {', '.join(missing)})")
    for name in _INT_ATTRIBUTES:
        if name in attrs:
            value = attrs[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{where}: attribute {name!r} must be an integer, got {value!r}")
            attrs[name] = int(value)
    for name in _FLOAT_ATTRIBUTES:
        value = attrs[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{where}: attribute {name!r} must be a number, got {value!r}")
        attrs[name] = float(value)
    for name in _STR_ATTRIBUTES:
        if name in attrs and not isinstance(attrs[name], str):
            raise ValueError(f"{where}: attribute {name!r} must be a string, got {attrs[name]!r}")
    if attrs["dimension"] not in (1, 2):
        raise ValueError(f"{where}: attribute 'dimension' must be 1 or 2, got {attrs['dimension']}")
    if attrs["size"] < 2:
        raise ValueError(f"{where}: attribute 'size' must be >= 2, got {attrs['size']}")
    if not (math.isfinite(attrs["temperature"]) and attrs["temperature"] > 0):
        raise ValueError(f"{where}: attribute 'temperature' must be finite and > 0, got {attrs['temperature']}")
    for name in ("coupling", "field"):
        if not math.isfinite(attrs[name]):
            raise ValueError(f"{where}: attribute {name!r} must be finite, got {attrs[name]}")
    for name in ("burn_in", "thin", "n_chains", "seed"):
        if attrs[name] < 0:
            raise ValueError(f"{where}: attribute {name!r} must be >= 0, got {attrs[name]}")
    if attrs["n_chains"] < 1:
        raise ValueError(f"{where}: attribute 'n_chains' must be >= 1, got {attrs['n_chains']}")
    return attrs


def _check_spin_values(spins_ds, n_rows: int, where: str) -> None:
    """Raise ValueError unless every stored spin is -1 or +1 (checked block-wise)."""
    if n_rows == 0:
        return
    per_row = max(1, int(np.prod(spins_ds.shape[1:])))
    step = max(1, _SPIN_CHUNK_BYTES // per_row)  # bounded memory, one HDF5 chunk at a time
    for start in range(0, n_rows, step):
        block = spins_ds[start:min(n_rows, start + step)]
        if not np.all((block == 1) | (block == -1)):
            raise ValueError(f"{where}: dataset 'spins' contains values other than -1 and +1")


def _validate_layout(h5: h5py.File, where: str, *, require_complete: bool = True) -> tuple[dict, int]:
    """Check datasets and attributes of an open file; return (attrs, n_samples)."""
    for name in ("spins", "energy", "magnetization"):
        if name not in h5 or not isinstance(h5[name], h5py.Dataset):
            raise ValueError(f"{where}: not an rgdl spin dataset (missing dataset {name!r})")
    attrs = _normalise_attributes(h5.attrs, where)
    spins, energy, magnetization = h5["spins"], h5["energy"], h5["magnetization"]
    if spins.dtype != np.int8:
        raise ValueError(f"{where}: dataset 'spins' must be int8, got {spins.dtype}")
    for name, ds in (("energy", energy), ("magnetization", magnetization)):
        if ds.dtype != np.float64:
            raise ValueError(f"{where}: dataset {name!r} must be float64, got {ds.dtype}")
        if ds.ndim != 1:
            raise ValueError(f"{where}: dataset {name!r} must be one-dimensional, got shape {ds.shape}")
    dimension, size = attrs["dimension"], attrs["size"]
    expected_tail = (size,) * dimension
    if spins.ndim != dimension + 1 or tuple(spins.shape[1:]) != expected_tail:
        raise ValueError(
            f"{where}: dataset 'spins' has shape {spins.shape}, expected (n_samples, "
            f"{', '.join(map(str, expected_tail))}) for dimension={dimension}, size={size}")
    n_samples = int(spins.shape[0])
    if require_complete and (energy.shape[0] != n_samples or magnetization.shape[0] != n_samples):
        raise ValueError(
            f"{where}: datasets 'spins', 'energy', 'magnetization' have different lengths "
            f"({n_samples}, {energy.shape[0]}, {magnetization.shape[0]})")
    return attrs, n_samples


def _open_h5(path: Path, mode: str) -> h5py.File:
    """Open an HDF5 file, turning h5py's OSError for unreadable/corrupt files into ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"is a directory, not a dataset file: {path}")
    try:
        return h5py.File(path, mode)
    except PermissionError:
        raise
    except OSError as exc:
        if not os.access(path, os.R_OK if mode == "r" else os.R_OK | os.W_OK):
            raise PermissionError(f"permission denied: {path}") from exc
        if _HDF5_LOCK_RE.search(str(exc)):
            raise ValueError(f"{path}: file is locked (is another process writing it?)") from exc
        raise ValueError(f"{path}: not a readable HDF5 file (corrupt or truncated HDF5 file: "
                         f"{_first_line(exc)})") from exc


def read_attributes(path) -> dict:
    """Read and validate only the root attributes of a dataset (no spin data is loaded).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid, complete spin dataset.
    """
    path = Path(path)
    with _open_h5(path, "r") as h5:
        try:
            attrs, _ = _validate_layout(h5, str(path))
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{path}: corrupt dataset file ({_first_line(exc)})") from exc
        if _RESUME_GROUP in h5:
            raise ValueError(f"{path}: incomplete dataset (it still carries resume state)")
    return attrs


def read_dataset(path, *, check_observables: bool = False) -> SpinDataset:
    """Read and validate a spin dataset written in the rgdl schema.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    check_observables : bool, default False
        Also recompute the energy and magnetization per spin from ``spins`` (with
        :mod:`ising.lattice`, the docs/CONTRACTS.md convention H = -J sum s_i s_j - h sum s_i) and
        require agreement to 1e-12.

    Returns
    -------
    SpinDataset

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        With a one-line message naming the file, if it is corrupt, not HDF5, lacks a dataset or an
        attribute, has a wrong dtype/shape, contains spins other than +-1, non-finite observables,
        or is an unfinished (partial) file.
    """
    path = Path(path)
    where = str(path)
    with _open_h5(path, "r") as h5:
        try:
            attrs, n_samples = _validate_layout(h5, where)
            if _RESUME_GROUP in h5:
                raise ValueError(f"{where}: incomplete dataset (it still carries resume state)")
            _check_spin_values(h5["spins"], n_samples, where)
            spins = h5["spins"][...]
            energy = h5["energy"][...]
            magnetization = h5["magnetization"][...]
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{where}: corrupt dataset file ({_first_line(exc)})") from exc
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
        raise ValueError(f"{where}: 'energy' or 'magnetization' contains non-finite values")
    if check_observables:
        from ising.lattice import energy_per_spin, magnetization_per_spin

        e = energy_per_spin(spins, attrs["coupling"], attrs["field"], attrs["dimension"])
        m = magnetization_per_spin(spins, attrs["dimension"])
        if not np.allclose(e, energy, rtol=0, atol=1e-12):
            raise ValueError(f"{where}: 'energy' does not match the energy per spin of 'spins'")
        if not np.allclose(m, magnetization, rtol=0, atol=1e-12):
            raise ValueError(f"{where}: 'magnetization' does not match the mean of 'spins'")
    return SpinDataset(path=path, spins=spins, energy=energy, magnetization=magnetization,
                       attrs=attrs)


def dataset_shape(path) -> tuple:
    """Shape ``(n_samples, L[, L])`` of a complete dataset's ``spins`` (validated, not loaded)."""
    path = Path(path)
    read_attributes(path)
    with _open_h5(path, "r") as h5:
        return tuple(int(n) for n in h5["spins"].shape)


def read_series(path) -> tuple[np.ndarray, np.ndarray]:
    """Read only the ``energy`` and ``magnetization`` series of a complete dataset (validated)."""
    path = Path(path)
    read_attributes(path)
    with _open_h5(path, "r") as h5:
        try:
            energy, magnetization = h5["energy"][...], h5["magnetization"][...]
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{path}: corrupt dataset file ({_first_line(exc)})") from exc
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
        raise ValueError(f"{path}: 'energy' or 'magnetization' contains non-finite values")
    return energy, magnetization


def read_partial_params(path) -> dict:
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
    with _open_h5(partial, "r") as h5:
        try:
            if _RESUME_GROUP not in h5 or "params" not in h5[_RESUME_GROUP].attrs:
                raise ValueError(f"{partial}: not an rgdl partial dataset (no resume state)")
            params = json.loads(_python_scalar(h5[_RESUME_GROUP].attrs["params"]))
        except (OSError, KeyError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{partial}: corrupt partial file ({_first_line(exc)})") from exc
    if not isinstance(params, dict):
        raise ValueError(f"{partial}: corrupt partial file (resume parameters are not a mapping)")
    return params


def partial_is_resumable(path) -> bool:
    """True if ``<path>.partial`` can be continued by ``resume=True`` (``--resume``).

    Used after a failed write, to keep the partial file only where a resume can use it: the
    file is reopened exactly as a resume would (:meth:`DatasetWriter.reopen`: the newest intact
    commit is chosen, the datasets are truncated to it) and closed again.  A file that HDF5 can
    no longer open or update (a full disk or a file-size limit can leave it truncated below the
    size its superblock records, or with metadata that was never written) gives False.
    """
    collected: list = []
    writer = None
    try:
        with _quiet_unraisable(collected):
            writer = DatasetWriter.reopen(path)
            usable = writer.resume_state is not None
            writer._h5.flush()
            writer._h5.close()
            writer._closed = True
    except (OSError, RuntimeError, ValueError, KeyError):
        usable = False
        if writer is not None:
            writer._detach()
    return usable and not collected


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def check_output_path(path, *, overwrite: bool = False, allow_existing: bool = False,
                      resumable: bool = False) -> Path:
    """Check that a dataset can be written to ``path``, without creating anything there.

    Parameters
    ----------
    path : str or os.PathLike
    overwrite : bool
        Allow replacing an existing file.
    allow_existing : bool
        Do not complain about an existing file (the caller handles it, e.g. on resume).
    resumable : bool
        The caller has a ``--resume`` option (named in the error's hint).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        The parent directory does not exist.
    NotADirectoryError, IsADirectoryError
        The parent is not a directory, or ``path`` is a directory.
    PermissionError
        The directory is not writable (probed by creating and deleting a temporary file).
    FileExistsError
        ``path`` exists and neither ``overwrite`` nor ``allow_existing`` is set.
    ValueError
        Not a file name, or a name too long to leave room for ``.partial`` / ``.lock``.
    """
    path = Path(path)
    if str(path) == "" or path.name in ("", ".", ".."):
        raise ValueError(f"not a file name: {str(path)!r}")
    atomic.check_name_length(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"output path is a directory: {path}")
    if not parent.exists():
        # A component of the parent that is a regular file gives NotADirectoryError
        for ancestor in [parent, *parent.parents]:
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise NotADirectoryError(f"not a directory: {ancestor}")
                break
        raise FileNotFoundError(f"output directory does not exist: {parent}")
    if not parent.is_dir():
        raise NotADirectoryError(f"not a directory: {parent}")
    try:
        with tempfile.TemporaryFile(dir=parent, prefix=".rgdl-probe-"):
            pass
    except OSError as exc:
        raise PermissionError(f"cannot write to directory {parent}: {exc.strerror or exc}") from exc
    if path.exists() and not (overwrite or allow_existing):
        hint = "use --overwrite to replace it" + (" or --resume to continue" if resumable else "")
        raise FileExistsError(f"output exists: {path} ({hint})")
    return path


def _state_crc(n_written: int, state: Mapping[str, np.ndarray]) -> int:
    crc = zlib.crc32(np.int64(n_written).tobytes())
    for key in sorted(state):
        arr = np.asarray(state[key], order="C")
        crc = zlib.crc32(f"{key}|{arr.dtype.str}|{arr.shape}".encode(), crc)
        crc = zlib.crc32(arr.tobytes(), crc)
    return crc


class DatasetWriter:
    """Write a spin dataset chunk by chunk into ``<path>.partial`` and rename it when complete.

    Memory use is one chunk: every :meth:`append` extends the chunked HDF5 datasets, stores the
    (optional) resume state and flushes the file.  :meth:`finalize` removes the resume state, sets
    the final attributes and renames ``<path>.partial`` to ``path`` with :func:`os.replace`
    (atomic on POSIX), so ``path`` never holds a half-written dataset.

    Parameters
    ----------
    path : str or os.PathLike
        The final output file; data go to :func:`partial_path` ``(path)`` until :meth:`finalize`.
    dimension : {1, 2}
        Lattice dimension.
    size : int
        Linear size L.
    attrs : mapping
        Root attributes (the schema's list; ``rgdl_version``, ``created`` and ``format_version`` are
        filled in when absent).  Missing schema attributes are an error at :meth:`finalize`.
    n_samples : int, optional
        The number of samples the file will hold; :meth:`finalize` checks it.
    resume_params : mapping, optional
        JSON-serialisable generation parameters stored in ``/_resume`` (used to check that a
        resumed run matches).  Without it the partial file carries no resume group until the
        first :meth:`append` with a ``state``.
    compression : {"gzip", "lzf", None}, default "gzip"
        HDF5 filter for ``spins`` ("gzip" is readable by every HDF5 tool).
    overwrite : bool, default False
        Replace an existing partial file instead of raising FileExistsError.

    Examples
    --------
    >>> with DatasetWriter("out.h5", dimension=2, size=8, attrs=attrs, n_samples=100) as w:  # doctest: +SKIP
    ...     w.append(spins, energy, magnetization, state=sampler.get_state())
    ...     w.finalize()
    """

    def __init__(self, path, *, dimension: int, size: int, attrs: Mapping[str, Any],
                 n_samples: int | None = None, resume_params: Mapping[str, Any] | None = None,
                 compression: str | None = "gzip", overwrite: bool = False,
                 chunk_rows: int | None = None, _h5: h5py.File | None = None):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        if dimension not in (1, 2):
            raise ValueError(f"dimension must be 1 or 2, got {dimension!r}")
        if int(size) != size or size < 2:
            raise ValueError(f"size must be an integer >= 2, got {size!r}")
        if compression not in ("gzip", "lzf", None):
            raise ValueError(f"compression must be 'gzip', 'lzf' or None, got {compression!r}")
        if chunk_rows is not None and (int(chunk_rows) != chunk_rows or chunk_rows < 1):
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        self.dimension = int(dimension)
        self.size = int(size)
        self._chunk_rows = None if chunk_rows is None else int(chunk_rows)
        self.n_samples = None if n_samples is None else int(n_samples)
        self._sequence = 0
        self._closed = False
        self.resume_params = dict(resume_params or {})
        self.resume_state = None
        _install_abandoned_hook()
        if _h5 is not None:  # reopened by DatasetWriter.reopen
            self._h5 = _h5
            self.n_written = 0
            return
        if os.path.lexists(self.partial):
            if not overwrite:
                raise FileExistsError(f"partial file exists: {self.partial} (use --overwrite to "
                                      "replace it)")
            if self.partial.is_dir() and not self.partial.is_symlink():
                raise IsADirectoryError(f"partial-file path is a directory: {self.partial}")
            os.unlink(self.partial)  # a planted symlink is removed, never followed
        # created exclusively (O_EXCL | O_NOFOLLOW) before HDF5 opens it by name
        try:
            os.close(atomic.create_exclusive(self.partial))
        except FileExistsError:
            raise FileExistsError(f"partial file exists: {self.partial} (another writer?)") from None
        except OSError as exc:
            raise atomic.write_error(self.partial, exc, "cannot create") from exc
        try:
            self._h5 = h5py.File(self.partial, "w")
        except OSError as exc:
            with _suppress_os_errors():
                os.unlink(self.partial)
            raise atomic.write_error(self.partial, exc, "cannot create") from exc
        self.n_written = 0
        try:
            with _checked_writes(self):
                self._create_layout(attrs, compression, resume_params)
        except BaseException:
            self.discard()
            raise

    # -- creation -----------------------------------------------------------------------------
    def _create_layout(self, attrs, compression, resume_params):
        tail = (self.size,) * self.dimension
        n_spins = self.size ** self.dimension
        rows = self._chunk_rows or max(1, min(_SPIN_CHUNK_BYTES // n_spins, self.n_samples or 1 << 30))
        filters = {}
        if compression == "gzip":
            filters = {"compression": "gzip", "compression_opts": 1}
        elif compression == "lzf":
            filters = {"compression": "lzf"}
        h5 = self._h5
        h5.create_dataset("spins", shape=(0, *tail), maxshape=(None, *tail), dtype=np.int8,
                          chunks=(rows, *tail), **filters)
        series_chunk = max(1, min(_SERIES_CHUNK, self.n_samples or _SERIES_CHUNK))
        for name in ("energy", "magnetization"):
            h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=np.float64,
                              chunks=(series_chunk,))
        merged = {"format_version": FORMAT_VERSION, "rgdl_version": package_version(),
                  "created": utc_now()}
        merged.update(dict(attrs))
        merged["dimension"], merged["size"] = self.dimension, self.size
        self.set_attributes(**merged)
        group = h5.create_group(_RESUME_GROUP)
        group.attrs["params"] = json.dumps(dict(resume_params or {}), sort_keys=True)
        group.attrs["n_samples"] = -1 if self.n_samples is None else self.n_samples
        h5.flush()

    # -- reopening for resume -----------------------------------------------------------------
    @classmethod
    def reopen(cls, path) -> "DatasetWriter":
        """Reopen ``<path>.partial`` to continue writing it.

        The datasets are truncated to the last committed chunk (the newest resume slot whose
        checksum verifies); :attr:`resume_state` returns the sampler state stored with it and
        :attr:`resume_params` the generation parameters.

        Raises
        ------
        FileNotFoundError
            No partial file.
        ValueError
            The partial file is corrupt or is not an rgdl partial dataset.
        """
        path = Path(path)
        partial = partial_path(path)
        where = str(partial)
        h5 = _open_h5(partial, "r+")
        try:
            try:
                for name in ("spins", "energy", "magnetization"):
                    if name not in h5:
                        raise ValueError(f"{where}: not an rgdl partial dataset (missing dataset {name!r})")
                if _RESUME_GROUP not in h5:
                    raise ValueError(f"{where}: not an rgdl partial dataset (no resume state)")
                raw_attrs = {key: _python_scalar(value) for key, value in h5.attrs.items()}
                dimension, size = raw_attrs.get("dimension"), raw_attrs.get("size")
                if dimension not in (1, 2) or not isinstance(size, int) or size < 2:
                    raise ValueError(f"{where}: not an rgdl partial dataset (bad dimension/size attributes)")
                n_samples = int(h5[_RESUME_GROUP].attrs.get("n_samples", -1))
                writer = cls(path, dimension=dimension, size=size, attrs={},
                             n_samples=None if n_samples < 0 else n_samples, _h5=h5)
                writer._load_resume()
            except (OSError, KeyError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{where}: corrupt partial file ({_first_line(exc)})") from exc
        except BaseException:
            h5.close()
            raise
        return writer

    def _load_resume(self):
        """Pick the newest resume slot that is intact and whose samples are all readable.

        A kill can land anywhere, including inside an HDF5 flush, whose metadata writes are not
        ordered; so a slot is accepted only if its checksum verifies, the datasets hold at least
        its committed samples, and those samples read back as valid (+-1 spins, finite series).
        Otherwise the older slot (the previous commit) is tried.
        """
        h5 = self._h5
        where = str(self.partial)
        group = h5[_RESUME_GROUP]
        self.resume_params = json.loads(_python_scalar(group.attrs["params"]))
        candidates = []
        for slot in _SLOTS:
            try:
                if slot not in group or _META not in group[slot]:
                    continue
                sequence, n_written, crc = (int(x) for x in group[slot][_META][...])
                state = {key: np.asarray(group[slot][key][()]) for key in group[slot] if key != _META}
            except (OSError, KeyError, RuntimeError, ValueError) as exc:
                logger.warning("%s: resume slot %s is unreadable (%s); ignoring it", where, slot,
                               _first_line(exc))
                continue
            if n_written < 0 or _state_crc(n_written, state) != (crc & 0xFFFFFFFF):
                logger.warning("%s: resume slot %s fails its checksum; ignoring it", where, slot)
                continue
            candidates.append((sequence, n_written, state))
        lengths = [h5[name].shape[0] for name in ("spins", "energy", "magnetization")]
        chosen = None
        for sequence, n_written, state in sorted(candidates, key=lambda c: -c[0]):
            if n_written > min(lengths):
                logger.warning("%s: commit %d claims %d samples but only %d are stored; "
                               "trying the previous commit", where, sequence, n_written, min(lengths))
                continue
            try:
                _check_spin_values(h5["spins"], n_written, where)
                for name in ("energy", "magnetization"):
                    if not np.all(np.isfinite(h5[name][:n_written])):
                        raise ValueError(f"{where}: non-finite {name}")
            except (OSError, RuntimeError, ValueError) as exc:
                logger.warning("%s: samples of commit %d do not read back (%s); trying the "
                               "previous commit", where, sequence, _first_line(exc))
                continue
            chosen = (sequence, n_written, state)
            break
        if chosen is None:
            if candidates:
                raise ValueError(f"{where}: corrupt partial file (no commit whose samples read back)")
            self._sequence, self.n_written, self.resume_state = 0, 0, None
        else:
            self._sequence, self.n_written, self.resume_state = chosen
        for name in ("spins", "energy", "magnetization"):
            h5[name].resize(self.n_written, axis=0)
        h5.flush()
        logger.info("%s: resuming after %d committed samples", where, self.n_written)

    # -- writing ------------------------------------------------------------------------------
    @property
    def chunk_rows(self) -> int:
        """Samples per HDF5 chunk of ``spins``.

        Appends of whole chunks (``k`` a multiple of this, starting at a multiple of it) never
        rewrite a compressed chunk that is already committed, which is what makes a kill at any
        moment recoverable; :func:`ising.dataset.generate_dataset` writes this way.
        """
        return int(self._h5["spins"].chunks[0])

    @property
    def attrs(self) -> dict:
        """The root attributes currently stored (Python scalars)."""
        return {key: _python_scalar(value) for key, value in self._h5.attrs.items()}

    def set_attributes(self, **attrs) -> None:
        """Set root attributes (None values are skipped; strings stored as UTF-8)."""
        for key, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, (np.integer, np.floating)):
                value = value.item()
            with _checked_writes(self):
                self._h5.attrs[key] = value

    def append(self, spins, energy, magnetization, *, state: Mapping[str, Any] | None = None) -> None:
        """Append samples, store the resume ``state`` with them, and flush the file.

        Parameters
        ----------
        spins : array_like of int8
            Shape ``(k, L)`` or ``(k, L, L)``, values in {-1, +1}.
        energy, magnetization : array_like of float
            Shape ``(k,)``, per spin.
        state : mapping of str to array_like, optional
            The sampler state *after* these samples (``MonteCarloSampler.get_state()``); a resumed
            run restarts from it.
        """
        self._check_open()
        spins = np.asarray(spins)
        energy = np.asarray(energy, dtype=np.float64)
        magnetization = np.asarray(magnetization, dtype=np.float64)
        tail = (self.size,) * self.dimension
        if spins.ndim != self.dimension + 1 or spins.shape[1:] != tail:
            raise ValueError(f"spins must have shape (k, {', '.join(map(str, tail))}), got {spins.shape}")
        k = spins.shape[0]
        if energy.shape != (k,) or magnetization.shape != (k,):
            raise ValueError(f"energy and magnetization must have shape ({k},), got "
                             f"{energy.shape} and {magnetization.shape}")
        if not np.all((spins == 1) | (spins == -1)):
            raise ValueError("spins must be -1 or +1")
        if self.n_samples is not None and self.n_written + k > self.n_samples:
            raise ValueError(f"appending {k} samples would exceed n_samples={self.n_samples}")
        h5 = self._h5
        start, stop = self.n_written, self.n_written + k
        with _checked_writes(self):
            for name, data in (("spins", spins.astype(np.int8, copy=False)), ("energy", energy),
                               ("magnetization", magnetization)):
                dataset = h5[name]
                dataset.resize(stop, axis=0)
                dataset[start:stop] = data
                del dataset
            # Two flushes: the samples (and dataset extents) reach the file before the state
            # that commits them, so a kill inside the second flush can only tear the new slot.
            h5.flush()
        self.n_written = stop
        self._commit(state)

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        """Commit ``state`` (e.g. the sampler state after burn-in) with the samples written so far."""
        self._check_open()
        self._commit(state)

    def read_series(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``energy`` and ``magnetization`` series written so far (float64 copies)."""
        self._check_open()
        return self._h5["energy"][: self.n_written], self._h5["magnetization"][: self.n_written]

    def _commit(self, state):
        state = {} if state is None else {str(k): np.array(v, order="C", copy=True)
                                          for k, v in state.items()}
        for key, value in state.items():
            if "/" in key or key == _META or value.dtype.kind not in "biuf":
                raise ValueError(f"resume state entry {key!r} must be a numeric array with a plain name")
        with _checked_writes(self):
            self._write_state(state)

    def _write_state(self, state):
        self._sequence += 1
        group = self._h5[_RESUME_GROUP]
        slot_name = _SLOTS[self._sequence % 2]
        slot = group.require_group(slot_name)
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
        meta = np.array([self._sequence, self.n_written, _state_crc(self.n_written, state)],
                        dtype=np.int64)
        if _META in slot:
            slot[_META][...] = meta
        else:
            slot.create_dataset(_META, data=meta)
        self._h5.flush()

    def finalize(self, *, expected_series=None, overwrite: bool = True, **attrs) -> Path:
        """Finish the file: set ``attrs``, drop the resume state, verify, rename to ``path``.

        The closed file is reopened and verified (schema, every spin +-1, finite series, the
        number of samples, and ``expected_series`` when given) before the rename, so a write
        that failed silently inside HDF5 can never reach ``path``.

        Parameters
        ----------
        expected_series : (energy, magnetization), optional
            The series the caller computed its statistics from; the file must hold exactly these.
        overwrite : bool, default True
            Replace an existing ``path``; with False an output that appeared meanwhile is an error.

        Returns
        -------
        pathlib.Path
            The final path.

        Raises
        ------
        ValueError
            If fewer samples than ``n_samples`` were written, or a schema attribute is missing.
        ising.atomic.WriteError
            The storage failed (full disk, file-size limit, ...) or the verification failed.
        """
        self._check_open()
        if self.n_samples is not None and self.n_written != self.n_samples:
            raise ValueError(f"only {self.n_written} of {self.n_samples} samples were written")
        self.set_attributes(**attrs)
        if "created" not in attrs:
            self.set_attributes(created=utc_now())
        missing = [name for name in REQUIRED_ATTRIBUTES if name not in self._h5.attrs]
        if missing:
            raise ValueError(f"cannot finalize {self.path}: missing attribute(s) {', '.join(missing)}")
        _normalise_attributes(self._h5.attrs, str(self.partial))
        with _checked_writes(self):
            if _RESUME_GROUP in self._h5:
                del self._h5[_RESUME_GROUP]
            self._h5.flush()
            self._h5.close()
        self._closed = True
        try:
            self._verify(expected_series)
        except atomic.WriteError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise atomic.WriteError(5, f"cannot write {self.path} (the written file does not "
                                       f"read back: {_first_line(exc)})") from exc
        atomic.fsync_path(self.partial)
        atomic.publish(self.partial, self.path, overwrite=overwrite)
        logger.info("wrote %s (%d samples)", self.path, self.n_written)
        return self.path

    def _verify(self, expected_series) -> None:
        """Reopen the closed partial file and check that it is the complete dataset written."""
        where = str(self.partial)
        with h5py.File(self.partial, "r") as h5:
            _, n_samples = _validate_layout(h5, where)
            if n_samples != self.n_written:
                raise ValueError(f"{n_samples} samples stored, {self.n_written} written")
            _check_spin_values(h5["spins"], n_samples, where)
            energy, magnetization = h5["energy"][...], h5["magnetization"][...]
        if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
            raise ValueError("non-finite energy or magnetization")
        if expected_series is not None:
            e, m = (np.asarray(x, dtype=np.float64) for x in expected_series)
            if not (np.array_equal(e, energy) and np.array_equal(m, magnetization)):
                raise ValueError("the stored series differ from the series written")

    def _fail(self, exc: BaseException):
        """A write failed: detach the file from HDF5 and raise a one-line WriteError.

        HDF5 keeps dirty metadata in memory and retries writing it when objects are released
        and the file is closed; with the storage full every retry fails again (and h5py
        reports those from its deallocators, or crashes at exit).  The file descriptor is
        therefore pointed at ``/dev/null`` before closing, so the file on disk stays exactly
        as the failure left it -- the state a kill at that moment leaves, which
        :meth:`reopen` knows how to resume from the last intact commit.
        """
        self._detach()
        raise atomic.write_error(self.partial, exc) from exc

    def _detach(self):
        if self._closed:
            return
        self._closed = True
        h5 = self._h5
        _ABANDONED_NAMES.add(self.partial.name)
        try:
            fd = h5.id.get_vfd_handle()
            if isinstance(fd, int) and fd >= 0:
                # an in-memory file takes HDF5's last writes (and its ftruncate) instead of disk
                sink = (os.memfd_create("rgdl-abandoned") if hasattr(os, "memfd_create")
                        else os.open(os.devnull, os.O_RDWR))
                try:
                    os.dup2(sink, fd)
                finally:
                    os.close(sink)
        except Exception:  # noqa: BLE001 - best effort; closing below still releases the file
            logger.debug("cannot detach %s", self.partial, exc_info=True)
        with _quiet_unraisable():
            try:
                h5.close()
            except Exception:  # noqa: BLE001 - the file is abandoned; its state is on disk
                # HDF5 could not even write into the sink (a file-size limit applies to every
                # file): keep the objects alive so that nothing retries before exit
                _ABANDONED.append(h5)
                logger.debug("error closing %s after a failed write", self.partial, exc_info=True)

    def close(self) -> None:
        """Close without finalizing; the partial file stays (it can be resumed)."""
        if not self._closed:
            try:
                self._h5.flush()
            except Exception:  # noqa: BLE001 - a failing flush: abandon the file as it is
                self._detach()
                return
            self._closed = True
            with _quiet_unraisable():
                try:
                    self._h5.close()
                except Exception:  # noqa: BLE001 - closing a broken file
                    logger.debug("error closing %s", self.partial, exc_info=True)

    def discard(self) -> None:
        """Close and delete the partial file."""
        self.close()
        try:
            self.partial.unlink()
        except FileNotFoundError:
            pass

    def _check_open(self):
        if self._closed:
            raise ValueError(f"{self.partial}: writer is closed")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def _suppress_os_errors():
    return contextlib.suppress(OSError)


@contextlib.contextmanager
def _quiet_unraisable(collected: list | None = None):
    """Catch the errors h5py raises inside its deallocators ("Exception ignored in ...").

    HDF5 writes cached chunks and metadata when an object is released, and h5py can only
    report a failure there through :data:`sys.unraisablehook`.  Inside this block such errors
    are appended to ``collected`` (when given) instead of being printed, so the writer can
    treat them as the write failures they are.
    """
    previous = sys.unraisablehook
    previous_stderr = sys.stderr
    captured = _CapturedStderr()

    def hook(unraisable):
        if collected is not None and unraisable.exc_value is not None:
            collected.append(unraisable.exc_value)
        logger.debug("h5py deallocator error: %s", unraisable.exc_value)

    sys.unraisablehook = hook
    sys.stderr = captured  # h5py prints some deallocator tracebacks itself
    try:
        yield
    finally:
        sys.unraisablehook = previous
        sys.stderr = previous_stderr
        text = captured.getvalue()
        if text:
            if collected is not None and _H5_WRITE_FAILURE_RE.search(text):
                collected.append(RuntimeError(" ".join(text.split())[-400:]))
            elif not _H5_WRITE_FAILURE_RE.search(text):
                previous_stderr.write(text)


class _CapturedStderr:
    """A text sink standing in for :data:`sys.stderr` while HDF5 objects are written/released."""

    def __init__(self):
        self._parts = []

    def write(self, text):
        self._parts.append(str(text))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def getvalue(self):
        return "".join(self._parts)


_H5_WRITE_FAILURE_RE = re.compile(r"decrement id ref count|file write failed|errno = \d+")


#: HDF5 files that could not be closed after a write failure (see DatasetWriter._detach);
#: a process holding any should end with os._exit (rgdl.cli does) to skip HDF5's own cleanup.
_ABANDONED: list = []
_ABANDONED_NAMES: set = set()
_HOOK_INSTALLED = []


def abandoned_files() -> int:
    """Number of HDF5 files this process detached after a failed write (see
    :meth:`DatasetWriter._fail`); HDF5's exit-time cleanup is unsafe after any."""
    return len(_ABANDONED_NAMES)


def _install_abandoned_hook():
    """Filter h5py deallocator errors about abandoned files out of :data:`sys.unraisablehook`."""
    if _HOOK_INSTALLED:
        return
    previous = sys.unraisablehook

    def hook(unraisable):
        text = str(unraisable.exc_value)
        if _ABANDONED_NAMES and (any(name in text for name in _ABANDONED_NAMES)
                                 or "decrement id ref count" in text):
            logger.debug("ignored deallocator error of an abandoned file: %s", text)
            return
        previous(unraisable)

    sys.unraisablehook = hook
    _HOOK_INSTALLED.append(hook)


@contextlib.contextmanager
def _checked_writes(writer):
    """Run HDF5 writes of ``writer``; any failure (raised or reported by a deallocator) ends
    in :meth:`DatasetWriter._fail`."""
    collected: list = []
    try:
        with _quiet_unraisable(collected):
            yield
    except (OSError, RuntimeError) as exc:
        writer._fail(exc)
    if collected:
        writer._fail(collected[0])


def write_dataset(path, spins, energy=None, magnetization=None, *, attrs: Mapping[str, Any],
                  overwrite: bool = False, compression: str | None = "gzip",
                  chunk_samples: int = 4096) -> Path:
    """Write a complete in-memory dataset atomically (temporary ``<path>.partial`` + rename).

    Parameters
    ----------
    path : str or os.PathLike
    spins : array_like
        int8-compatible {-1, +1} array ``(n_samples, L)`` or ``(n_samples, L, L)``; the
        dimension is taken from ``attrs["dimension"]`` when given, else from ``spins.ndim - 1``.
    energy, magnetization : array_like, optional
        Per spin; computed from ``spins`` with :mod:`ising.lattice` when omitted (using the
        ``coupling`` and ``field`` attributes).
    attrs : mapping
        Root attributes; every name in :data:`REQUIRED_ATTRIBUTES` except ``rgdl_version`` and
        ``created`` (filled in) must be present.  Extra attributes (e.g. ``source``) are stored.
    overwrite : bool
        Replace an existing ``path``.
    compression : {"gzip", "lzf", None}
    chunk_samples : int
        Samples written per append.

    Returns
    -------
    pathlib.Path
    """
    spins = np.asarray(spins)
    attrs = dict(attrs)
    dimension = int(attrs.get("dimension", spins.ndim - 1))
    if spins.ndim != dimension + 1 or spins.ndim < 2:
        raise ValueError(f"spins of shape {spins.shape} do not match dimension={dimension}")
    size = int(spins.shape[1])
    if any(s != size for s in spins.shape[1:]):
        raise ValueError(f"spins must be square in 2D, got shape {spins.shape}")
    attrs.setdefault("size", size)
    if attrs["size"] != size:
        raise ValueError(f"attribute size={attrs['size']} does not match spins of shape {spins.shape}")
    missing = [n for n in REQUIRED_ATTRIBUTES if n not in attrs and n not in ("rgdl_version", "created")]
    if missing:
        raise ValueError(f"missing attribute(s) {', '.join(missing)}")
    if energy is None or magnetization is None:
        from ising.lattice import energy_per_spin, magnetization_per_spin

        if energy is None:
            energy = energy_per_spin(spins, attrs["coupling"], attrs["field"], dimension)
        if magnetization is None:
            magnetization = magnetization_per_spin(spins, dimension)
    path = check_output_path(path, overwrite=overwrite)
    n = spins.shape[0]
    energy = np.asarray(energy, dtype=np.float64)
    magnetization = np.asarray(magnetization, dtype=np.float64)
    with atomic.OutputLock(path):
        check_output_path(path, overwrite=overwrite)  # recheck under the lock
        writer = DatasetWriter(path, dimension=dimension, size=size, attrs=attrs, n_samples=n,
                               compression=compression, overwrite=True)
        try:
            for start in range(0, n, max(1, int(chunk_samples))):
                stop = min(n, start + max(1, int(chunk_samples)))
                writer.append(spins[start:stop], energy[start:stop], magnetization[start:stop])
            return writer.finalize(expected_series=(energy, magnetization), overwrite=overwrite)
        except BaseException:
            writer.discard()
            raise

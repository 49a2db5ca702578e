"""The HDF5 schema of rgdl spin datasets: layout, attributes, and their validation.

Schema (docs/ARCHITECTURE.md, "Data contract"; conventions in docs/CONTRACTS.md):

- dataset ``spins``: int8 in {-1, +1}, shape ``(n_samples, L)`` (1D) or ``(n_samples, L, L)`` (2D),
  chunked and compressed;
- datasets ``energy`` and ``magnetization``: float64 ``(n_samples,)``, *per spin*, with
  H = -J sum_<ij> s_i s_j - h sum_i s_i and Boltzmann weight exp(-H/T);
- root attributes ``dimension``, ``size``, ``temperature``, ``coupling``, ``field``, ``algorithm``,
  ``seed``, ``burn_in`` and ``thin`` (sweeps), ``tau_int`` (sweeps, measured), ``n_chains``,
  ``rgdl_version`` and ``created`` (ISO 8601, UTC). Extra attributes (``source``, ``format_version``,
  ...) are allowed.
- (format version 2) named dimensions: the coordinates ``sample`` (int64 index, extendible), and
  ``y``, ``x`` (2D) or ``site`` (1D) (int64 ``0 .. L-1``) are HDF5 dimension scales attached to the
  axes of ``spins``, ``energy`` and ``magnetization``, and every variable and coordinate carries
  the CF attributes ``long_name`` and ``units`` (:data:`CF_ATTRIBUTES`), so netCDF tools see a
  self-describing file: ``xarray.open_dataset(path, engine="h5netcdf")`` shows the dimensions
  ``(sample, y, x)`` with their units. Version 1 files (no coordinates) stay readable.

Reading: :mod:`ising.h5read`; writing: :mod:`ising.h5write`; the resume state of unfinished
files: :mod:`ising.h5resume`; all re-exported by :mod:`ising.io`.
"""

from __future__ import annotations

import math
import os
import re
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

__all__ = ["FORMAT_VERSION", "REQUIRED_ATTRIBUTES", "SPIN_CHUNK_BYTES", "SERIES_CHUNK",
           "package_version", "utc_now", "python_scalar", "normalise_attributes",
           "check_spin_values", "validate_layout", "open_h5", "first_line", "create_datasets",
           "READABLE_VERSIONS", "CF_ATTRIBUTES", "dimension_names", "format_version"]

#: Version of the on-disk layout, stored as the root attribute ``format_version``: 1, datasets
#: and root attributes; 2, plus named dimensions (dimension scales) and CF attributes.
FORMAT_VERSION = 2
#: Format versions the readers accept (a file without ``format_version`` counts as 1).
READABLE_VERSIONS = (1, 2)

#: CF-style attributes (``long_name``, ``units``; CF conventions 1.11, sec. 3.1-3.2, 3.5) of the
#: variables and coordinates. The model is dimensionless: energies are in the units of J, h and T
#: (k_B = 1), so every quantity has units "1".
CF_ATTRIBUTES = {
    "spins": {"long_name": "Ising spin s_i", "units": "1",
              "flag_values": np.array([-1, 1], dtype=np.int8), "flag_meanings": "down up"},
    "energy": {"long_name": "energy per spin H/N, H = -J sum_<ij> s_i s_j - h sum_i s_i",
               "units": "1", "comment": "in the units of the coupling J, the field h and the "
                                        "temperature T (k_B = 1)"},
    "magnetization": {"long_name": "magnetization per spin (1/N) sum_i s_i", "units": "1"},
    "sample": {"long_name": "sample index (sample k comes from chain k mod n_chains)",
               "units": "1"},
    "y": {"long_name": "lattice row", "units": "1"},
    "x": {"long_name": "lattice column", "units": "1"},
    "site": {"long_name": "lattice site", "units": "1"},
}

#: Root attributes every dataset carries (docs/ARCHITECTURE.md).
REQUIRED_ATTRIBUTES = (
    "dimension", "size", "temperature", "coupling", "field", "algorithm", "seed",
    "burn_in", "thin", "tau_int", "n_chains", "rgdl_version", "created",
)

_INT_ATTRIBUTES = ("dimension", "size", "seed", "burn_in", "thin", "n_chains", "format_version")
_FLOAT_ATTRIBUTES = ("temperature", "coupling", "field", "tau_int")
_STR_ATTRIBUTES = ("algorithm", "rgdl_version", "created", "source")
SPIN_CHUNK_BYTES = 1 << 18  # HDF5 chunk of spins: <= 256 KiB, well inside h5py's 1 MiB chunk cache
SERIES_CHUNK = 4096
# HDF5's message for a file locked by another process ("unable to lock file, errno = 11");
# not any text with "lock" in it: a truncated file's message names "sblock".
_HDF5_LOCK_RE = re.compile(r"unable to lock file|file locking|errno = 11\b", re.IGNORECASE)


def package_version() -> str:
    """Version of the installed ``rgdl`` distribution, read from its metadata.

    ``ising`` is a leaf package and must not import ``rgdl``; the distribution metadata gives the
    version without importing it.
    """
    try:
        return version("rgdl")
    except PackageNotFoundError:
        return "unknown"


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC (the ``created`` attribute)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def python_scalar(value: Any) -> Any:
    """Convert an h5py attribute value to a plain Python scalar where possible."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def normalise_attributes(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Type-check the root attributes; raise ValueError naming ``where`` on a bad one."""
    attrs = {key: python_scalar(value) for key, value in raw.items()}
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
    if format_version(attrs) not in READABLE_VERSIONS:
        raise ValueError(f"{where}: format_version {attrs['format_version']} is not readable by "
                         f"this rgdl (it reads {', '.join(map(str, READABLE_VERSIONS))}); "
                         "written by a newer version?")
    return attrs


def format_version(attrs: Mapping[str, Any]) -> int:
    """The ``format_version`` of a file's root attributes (1 when absent)."""
    return int(attrs.get("format_version", 1))


def dimension_names(dimension: int) -> tuple[str, ...]:
    """Names of the axes of ``spins``: ``("sample", "y", "x")`` in 2D, ``("sample", "site")`` in 1D."""
    return ("sample", "y", "x") if dimension == 2 else ("sample", "site")


def check_spin_values(spins_ds: h5py.Dataset, n_rows: int, where: str) -> None:
    """Raise ValueError unless every stored spin is -1 or +1 (checked block-wise)."""
    if n_rows == 0:
        return
    per_row = max(1, int(np.prod(spins_ds.shape[1:])))
    step = max(1, SPIN_CHUNK_BYTES // per_row)  # bounded memory, one HDF5 chunk at a time
    for start in range(0, n_rows, step):
        block = spins_ds[start:min(n_rows, start + step)]
        if not np.all((block == 1) | (block == -1)):
            raise ValueError(f"{where}: dataset 'spins' contains values other than -1 and +1")


def validate_layout(h5: h5py.File, where: str, *,
                    require_complete: bool = True) -> tuple[dict[str, Any], int]:
    """Check datasets and attributes of an open file; return (attrs, n_samples)."""
    for name in ("spins", "energy", "magnetization"):
        if name not in h5 or not isinstance(h5[name], h5py.Dataset):
            raise ValueError(f"{where}: not an rgdl spin dataset (missing dataset {name!r})")
    attrs = normalise_attributes(h5.attrs, where)
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
    if require_complete and format_version(attrs) >= 2:
        _check_coordinates(h5, dimension, size, n_samples, where)
    return attrs, n_samples


def _check_coordinates(h5: h5py.File, dimension: int, size: int, n_samples: int,
                       where: str) -> None:
    """Raise ValueError unless the coordinates of a version-2 file have the expected lengths."""
    lengths = dict(zip(dimension_names(dimension), (n_samples,) + (size,) * dimension))
    for name, length in lengths.items():
        if name not in h5 or not isinstance(h5[name], h5py.Dataset) or h5[name].shape != (length,):
            raise ValueError(f"{where}: coordinate {name!r} is missing or does not have length "
                             f"{length} (format_version 2)")


def open_h5(path: Path, mode: str) -> h5py.File:
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
                         f"{first_line(exc)})") from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__




def create_datasets(h5: h5py.File, *, dimension: int, size: int, rows: int, series_chunk: int,
                    compression: str | None) -> None:
    """Create the empty, extendible ``spins``, ``energy`` and ``magnetization`` datasets and
    their coordinates (dimension scales, :func:`dimension_names`) with :data:`CF_ATTRIBUTES`.

    ``rows`` samples form one HDF5 chunk of ``spins`` (compressed with ``compression``:
    "gzip" at level 1, "lzf" or None); the series and the ``sample`` coordinate are chunked by
    ``series_chunk``. The writer extends ``sample`` with the sample indices as it appends.
    """
    tail = (size,) * dimension
    names = dimension_names(dimension)
    filters = {}
    if compression == "gzip":
        filters = {"compression": "gzip", "compression_opts": 1}
    elif compression == "lzf":
        filters = {"compression": "lzf"}
    h5.create_dataset("spins", shape=(0, *tail), maxshape=(None, *tail), dtype=np.int8,
                      chunks=(rows, *tail), **filters)
    for name in ("energy", "magnetization"):
        h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=np.float64,
                          chunks=(series_chunk,))
    # named dimensions: one dimension scale per axis (the sample index grows with the appends)
    coordinates = [h5.create_dataset("sample", shape=(0,), maxshape=(None,), dtype=np.int64,
                                     chunks=(series_chunk,))]
    coordinates += [h5.create_dataset(name, data=np.arange(size, dtype=np.int64))
                    for name in names[1:]]
    for name, scale in zip(names, coordinates):
        scale.make_scale(name)
        h5["spins"].dims[names.index(name)].attach_scale(scale)
    for name in ("energy", "magnetization"):
        h5[name].dims[0].attach_scale(coordinates[0])
    for name in ("spins", "energy", "magnetization") + names:
        h5[name].attrs.update(CF_ATTRIBUTES[name])

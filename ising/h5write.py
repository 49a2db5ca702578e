"""Atomic, resumable writing of HDF5 spin datasets (the schema of :mod:`ising.h5schema`).

Files are written by :class:`DatasetWriter` into ``<out>.partial`` next to the output, chunk by chunk
(memory never grows beyond one chunk), and renamed to ``<out>`` with :func:`os.replace` only when
complete, so ``<out>`` either does not exist or is a complete, valid dataset.  While writing, the
partial file carries the resume state of :mod:`ising.h5resume`; :meth:`DatasetWriter.reopen`
truncates to the last committed chunk and hands the state back, which makes a killed run resume
exactly.  Writers that append whole HDF5 chunks (:attr:`DatasetWriter.chunk_rows`) never rewrite
a committed compressed chunk, so a SIGKILL at any moment leaves the committed part readable.

Write failures (a full disk, a file-size limit, an I/O error), including those h5py can only
report from its deallocators (:mod:`ising.h5failure`), raise :class:`ising.atomic.WriteError` with
a one-line message; the file is then detached from HDF5 as it stands, and
:meth:`DatasetWriter.finalize` reopens and verifies the closed file before the rename, so
``<out>`` never holds a file that failed (docs/CONTRACTS.md, "Output safety").
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Iterator, Literal, Mapping, NoReturn

import h5py
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import atomic
from .h5failure import detach, install_abandoned_hook, quiet_unraisable
from .h5resume import (RESUME_GROUP, checked_state, create_resume_group, newest_commit,
                       partial_path, write_state)
from .h5schema import (FORMAT_VERSION, REQUIRED_ATTRIBUTES, SERIES_CHUNK, SPIN_CHUNK_BYTES,
                       check_spin_values, create_datasets, first_line, format_version,
                       normalise_attributes, open_h5, package_version, python_scalar, utc_now,
                       validate_layout)
from .lattice import energy_per_spin, magnetization_per_spin

__all__ = ["DatasetWriter", "check_output_path", "partial_is_resumable", "write_dataset"]

logger = logging.getLogger("ising.io")


def check_output_path(path: atomic.StrPath, *, overwrite: bool = False, allow_existing: bool = False,
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

    def __init__(self, path: atomic.StrPath, *, dimension: int, size: int,
                 attrs: Mapping[str, Any],
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
        self.resume_state: dict[str, NDArray[Any]] | None = None
        install_abandoned_hook()
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
            with contextlib.suppress(OSError):
                os.unlink(self.partial)
            raise atomic.write_error(self.partial, exc, "cannot create") from exc
        self.n_written = 0
        try:
            with checked_writes(self):
                self._create_layout(attrs, compression, resume_params)
        except BaseException:
            self.discard()
            raise

    # -- creation -----------------------------------------------------------------------------
    def _create_layout(self, attrs: Mapping[str, Any], compression: str | None,
                       resume_params: Mapping[str, Any] | None) -> None:
        n_spins = self.size ** self.dimension
        rows = self._chunk_rows or max(1, min(SPIN_CHUNK_BYTES // n_spins, self.n_samples or 1 << 30))
        create_datasets(self._h5, dimension=self.dimension, size=self.size, rows=rows,
                        series_chunk=max(1, min(SERIES_CHUNK, self.n_samples or SERIES_CHUNK)),
                        compression=compression)
        merged = {"format_version": FORMAT_VERSION, "rgdl_version": package_version(),
                  "created": utc_now()}
        merged.update(dict(attrs))
        merged["dimension"], merged["size"] = self.dimension, self.size
        self.set_attributes(**merged)
        create_resume_group(self._h5, resume_params, self.n_samples)
        self._h5.flush()

    # -- reopening for resume -----------------------------------------------------------------
    @classmethod
    def reopen(cls, path: atomic.StrPath) -> DatasetWriter:
        """Reopen ``<path>.partial`` to continue writing it.

        The datasets are truncated to the last committed chunk (the newest resume slot whose
        checksum verifies); :attr:`resume_state` returns the sampler state stored with it and
        :attr:`resume_params` the generation parameters.

        Raises
        ------
        FileNotFoundError
            ``<path>.partial`` does not exist.
        ValueError
            It is not an rgdl partial dataset, or it is corrupt.
        """
        path = Path(path)
        partial = partial_path(path)
        where = str(partial)
        h5 = open_h5(partial, "r+")
        try:
            try:
                for name in ("spins", "energy", "magnetization"):
                    if name not in h5:
                        raise ValueError(f"{where}: not an rgdl partial dataset (missing dataset {name!r})")
                if RESUME_GROUP not in h5:
                    raise ValueError(f"{where}: not an rgdl partial dataset (no resume state)")
                raw_attrs = {key: python_scalar(value) for key, value in h5.attrs.items()}
                dimension, size = raw_attrs.get("dimension"), raw_attrs.get("size")
                if dimension not in (1, 2) or not isinstance(size, int) or size < 2:
                    raise ValueError(f"{where}: not an rgdl partial dataset (bad dimension/size attributes)")
                version = format_version(raw_attrs)
                if version != FORMAT_VERSION:
                    raise ValueError(f"{where}: written in format_version {version} by an earlier "
                                     f"rgdl; this version writes format_version {FORMAT_VERSION} "
                                     "and cannot continue it (use --overwrite to start over)")
                n_samples = int(h5[RESUME_GROUP].attrs.get("n_samples", -1))
                writer = cls(path, dimension=dimension, size=size, attrs={},
                             n_samples=None if n_samples < 0 else n_samples, _h5=h5)
                writer._load_resume()
            except (OSError, KeyError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{where}: corrupt partial file ({first_line(exc)})") from exc
        except BaseException:
            h5.close()
            raise
        return writer

    def _load_resume(self) -> None:
        """Truncate the datasets to the newest intact commit (:func:`ising.h5resume.newest_commit`)
        and take its state, or start from zero samples when nothing was committed."""
        where = str(self.partial)
        self.resume_params = json.loads(python_scalar(self._h5[RESUME_GROUP].attrs["params"]))
        chosen = newest_commit(self._h5, where)
        if chosen is None:
            self._sequence, self.n_written, self.resume_state = 0, 0, None
        else:
            self._sequence, self.n_written, self.resume_state = chosen
        for name in ("spins", "energy", "magnetization", "sample"):
            self._h5[name].resize(self.n_written, axis=0)
        self._h5["sample"][...] = np.arange(self.n_written, dtype=np.int64)  # derived: rewritten
        self._h5.flush()
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
    def attrs(self) -> dict[str, Any]:
        """The root attributes currently stored (Python scalars)."""
        return {key: python_scalar(value) for key, value in self._h5.attrs.items()}

    def set_attributes(self, **attrs: Any) -> None:
        """Set root attributes (None values are skipped; strings stored as UTF-8)."""
        for key, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, (np.integer, np.floating)):
                value = value.item()
            with checked_writes(self):
                self._h5.attrs[key] = value

    def append(self, spins: ArrayLike, energy: ArrayLike, magnetization: ArrayLike, *,
               state: Mapping[str, ArrayLike] | None = None) -> None:
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
        with checked_writes(self):
            for name, data in (("spins", spins.astype(np.int8, copy=False)), ("energy", energy),
                               ("magnetization", magnetization),
                               ("sample", np.arange(start, stop, dtype=np.int64))):
                dataset = h5[name]
                dataset.resize(stop, axis=0)
                dataset[start:stop] = data
                del dataset
            # Two flushes: the samples (and dataset extents) reach the file before the state
            # that commits them, so a kill inside the second flush can only tear the new slot.
            h5.flush()
        self.n_written = stop
        self._commit(state)

    def checkpoint(self, state: Mapping[str, ArrayLike]) -> None:
        """Commit ``state`` (e.g. the sampler state after burn-in) with the samples written so far."""
        self._check_open()
        self._commit(state)

    def read_series(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The ``energy`` and ``magnetization`` series written so far (float64 copies)."""
        self._check_open()
        return self._h5["energy"][: self.n_written], self._h5["magnetization"][: self.n_written]

    def _commit(self, state: Mapping[str, ArrayLike] | None) -> None:
        arrays = checked_state(state)
        with checked_writes(self):
            self._sequence += 1
            write_state(self._h5, self._sequence, self.n_written, arrays)

    def finalize(self, *, expected_series: tuple[ArrayLike, ArrayLike] | None = None,
                 overwrite: bool = True, **attrs: Any) -> Path:
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
        normalise_attributes(self._h5.attrs, str(self.partial))
        with checked_writes(self):
            if RESUME_GROUP in self._h5:
                del self._h5[RESUME_GROUP]
            self._h5.flush()
            self._h5.close()
        self._closed = True
        try:
            self._verify(expected_series)
        except atomic.WriteError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise atomic.WriteError(5, f"cannot write {self.path} (the written file does not "
                                       f"read back: {first_line(exc)})") from exc
        atomic.fsync_path(self.partial)
        atomic.publish(self.partial, self.path, overwrite=overwrite)
        logger.info("wrote %s (%d samples)", self.path, self.n_written)
        return self.path

    def _verify(self, expected_series: tuple[ArrayLike, ArrayLike] | None) -> None:
        """Reopen the closed partial file and check that it is the complete dataset written."""
        where = str(self.partial)
        with h5py.File(self.partial, "r") as h5:
            _, n_samples = validate_layout(h5, where)
            if n_samples != self.n_written:
                raise ValueError(f"{n_samples} samples stored, {self.n_written} written")
            check_spin_values(h5["spins"], n_samples, where)
            energy, magnetization = h5["energy"][...], h5["magnetization"][...]
            if not np.array_equal(h5["sample"][...], np.arange(n_samples)):
                raise ValueError("the coordinate 'sample' is not 0, 1, ..., n_samples - 1")
        if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
            raise ValueError("non-finite energy or magnetization")
        if expected_series is not None:
            e, m = (np.asarray(x, dtype=np.float64) for x in expected_series)
            if not (np.array_equal(e, energy) and np.array_equal(m, magnetization)):
                raise ValueError("the stored series differ from the series written")

    def _fail(self, exc: BaseException) -> NoReturn:
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

    def _detach(self) -> None:
        if self._closed:
            return
        self._closed = True
        detach(self._h5, self.partial)

    def close(self) -> None:
        """Close without finalizing; the partial file stays (it can be resumed)."""
        if not self._closed:
            try:
                self._h5.flush()
            except Exception:  # noqa: BLE001 - a failing flush: abandon the file as it is
                self._detach()
                return
            self._closed = True
            with quiet_unraisable():
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

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.partial}: writer is closed")

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        self.close()
        return False


@contextlib.contextmanager
def checked_writes(writer: DatasetWriter) -> Iterator[None]:
    """Run HDF5 writes of ``writer``; any failure (raised or reported by a deallocator) ends
    in :meth:`DatasetWriter._fail`."""
    collected: list[BaseException] = []
    try:
        with quiet_unraisable(collected):
            yield
    except (OSError, RuntimeError) as exc:
        writer._fail(exc)
    if collected:
        writer._fail(collected[0])


def write_dataset(path: atomic.StrPath, spins: ArrayLike, energy: ArrayLike | None = None,
                  magnetization: ArrayLike | None = None, *, attrs: Mapping[str, Any],
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


def partial_is_resumable(path: atomic.StrPath) -> bool:
    """True if ``<path>.partial`` can be continued by ``resume=True`` (``--resume``).

    Used after a failed write, to keep the partial file only where a resume can use it: the
    file is reopened exactly as a resume would (:meth:`DatasetWriter.reopen`: the newest intact
    commit is chosen, the datasets are truncated to it) and closed again.  A file that HDF5 can
    no longer open or update (a full disk or a file-size limit can leave it truncated below the
    size its superblock records, or with metadata that was never written) gives False.
    """
    collected: list[BaseException] = []
    writer = None
    try:
        with quiet_unraisable(collected):
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


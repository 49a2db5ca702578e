"""Safe file output: atomic writes, one writer per output, output != input, resource checks.

Every file rgdl writes goes through this module (``rbm`` is an independent leaf package and has
its own small atomic writer in :mod:`rbm.io`; ``analysis`` and ``rgdl`` reuse this one).  The
guarantees (docs/CONTRACTS.md, "Output safety"):

* **Atomic.** Data go to a temporary file in the output's directory, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a planted symlink or file is never followed or truncated),
  are flushed and ``fsync``-ed, and the file is renamed over the final name only when every
  write succeeded; on any failure the temporary file is removed and the final name keeps its
  old content (or stays absent).
* **Failures are errors.** ``ENOSPC``, ``EFBIG`` (``RLIMIT_FSIZE``), ``EDQUOT``, ``EIO`` and
  friends raise :class:`WriteError`, an :class:`OSError` whose message is one line ending in
  the reason, e.g. ``cannot write out.h5 (no space left on device)``.
* **One writer per output.** :class:`OutputLock` creates ``<out>.lock`` with
  ``O_CREAT | O_EXCL`` holding ``pid host``; a second writer gets one line naming the first.
  A lock whose process is dead (same host) is stale and is taken over.
* **Output is not an input.** :func:`check_not_input` compares inodes (``os.path.samefile``),
  so symlinks and hard links are seen through.
* **Resources.** :func:`check_memory` refuses work whose main arrays would not fit in the
  memory available (``MemAvailable`` of ``/proc/meminfo``).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import re
import secrets
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Iterable, Iterator, Literal, Union

__all__ = [
    "WriteError", "ResourceError", "OutputLock", "atomic_output", "atomic_open",
    "atomic_write_bytes", "atomic_write_text", "create_exclusive", "check_name_length",
    "check_not_input", "check_memory", "available_memory", "format_bytes", "describe_os_error",
    "os_error_reason", "lock_path", "MAX_INT64", "StrPath",
]

#: A file name as the functions of rgdl accept it: a string or a path object.
StrPath = Union[str, "os.PathLike[str]"]

#: Largest value of a signed 64-bit integer (seeds, sweep counters stored as int64).
MAX_INT64 = (1 << 63) - 1

#: errno values that mean "the storage failed", reported as WriteError.
_STORAGE_ERRNOS = {_errno.ENOSPC, _errno.EFBIG, _errno.EIO, _errno.EROFS,
                   getattr(_errno, "EDQUOT", _errno.ENOSPC)}
_ERRNO_RE = re.compile(r"errno\s*=\s*(\d+)")


class WriteError(OSError):
    """Writing an output failed (full disk, file-size limit, I/O error, ...).

    ``str(exc)`` is one line, e.g. ``cannot write out.h5 (no space left on device)``.
    """

    def __init__(self, errno: int | None, message: str):
        super().__init__(errno, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ResourceError(ValueError):
    """A request that would exceed the machine's resources (memory); raised before any work."""


def os_error_reason(exc: BaseException) -> str:
    """The reason of an OS-level failure in words, lower case: ``"no space left on device"``.

    Understands :class:`OSError` (``errno``/``strerror``) and the messages of HDF5/h5py errors,
    which carry ``errno = N`` inside their text (and may be RuntimeError, not OSError).
    """
    code = getattr(exc, "errno", None)
    if not isinstance(code, int):
        match = _ERRNO_RE.search(str(exc))
        code = int(match.group(1)) if match else None
    if isinstance(code, int) and code > 0:
        return os.strerror(code).lower()
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return str(strerror).lower()
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def error_errno(exc: BaseException) -> int | None:
    """The errno of ``exc`` (also found inside HDF5 error texts), or None."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    match = _ERRNO_RE.search(str(exc))
    return int(match.group(1)) if match else None


def write_error(path: StrPath, exc: BaseException, action: str = "cannot write") -> WriteError:
    """A :class:`WriteError` ``"<action> <path> (<reason>)"`` for the failure ``exc``."""
    if isinstance(exc, WriteError):
        return exc
    return WriteError(error_errno(exc) or _errno.EIO, f"{action} {path} ({os_error_reason(exc)})")


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError that reached the command line: ``<file>: <reason>``."""
    if isinstance(exc, WriteError) or type(exc).__str__ is not OSError.__str__:
        return str(exc)  # an error class with its own one-line message (rbm.io.ModelWriteError)
    filename = getattr(exc, "filename", None)
    reason = os_error_reason(exc)
    return f"{filename}: {reason}" if filename else reason


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary prefixes)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------
def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory if str(directory) else ".", "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def check_name_length(path: StrPath, suffixes: Iterable[str] = (".partial", ".lock")) -> Path:
    """Raise ValueError if ``path``'s name, or the name plus one of ``suffixes``, is too long.

    File systems limit a name to ``NAME_MAX`` bytes (255 on Linux file systems); rgdl writes
    ``<name>.partial`` and ``<name>.lock`` next to an output, so the output's name must leave
    room for them.
    """
    path = Path(path)
    limit = _name_max(path.parent)
    longest = max([0] + [len(s.encode()) for s in suffixes])
    size = len(os.fsencode(path.name))
    if size + longest > limit:
        raise ValueError(f"file name too long: {path.name[:40]}... has {size} bytes; with its "
                         f"temporary suffix it must fit in {limit} bytes")
    return path


def _temp_name(path: Path) -> str:
    """A short, unpredictable temporary name next to ``path`` (never longer than 255 bytes)."""
    stem = os.fsencode(path.name)[:64].decode("utf-8", errors="ignore")
    return f".{stem}.{secrets.token_hex(6)}.tmp"


def create_exclusive(path: StrPath, mode: int = 0o666) -> int:
    """Create ``path`` (which must not exist, not even as a symlink) and return a write fd.

    ``O_CREAT | O_EXCL | O_NOFOLLOW``: a planted file or symlink at ``path`` makes this fail
    with FileExistsError instead of being followed or truncated.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, mode)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename itself is atomic
    finally:
        os.close(fd)


def fsync_path(path: StrPath) -> None:
    """Flush ``path``'s data to the storage (raising WriteError on failure)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise write_error(path, exc) from exc
    finally:
        os.close(fd)


def publish(tmp: StrPath, path: StrPath, *, overwrite: bool = True) -> Path:
    """Rename the complete, fsynced ``tmp`` to ``path`` (no-clobber unless ``overwrite``)."""
    tmp, path = Path(tmp), Path(path)
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError if path appeared meanwhile
            os.unlink(tmp)
    except FileExistsError:
        raise FileExistsError(f"output exists: {path} (use --overwrite to replace it)") from None
    except OSError as exc:
        if error_errno(exc) in _STORAGE_ERRNOS:
            raise write_error(path, exc) from exc
        raise
    _fsync_dir(path.parent if str(path.parent) else Path("."))
    return path


@contextlib.contextmanager
def atomic_output(path: StrPath, *, overwrite: bool = True) -> Iterator[Path]:
    """Context manager yielding a fresh temporary path next to ``path``; renamed on success.

    The temporary file is created empty and exclusively (:func:`create_exclusive`), so code
    that writes by file name (matplotlib's ``savefig``, ``numpy.savez``, h5py) can open it.
    On a clean exit it is fsynced and renamed to ``path`` (with ``overwrite=False`` the rename
    refuses to replace a file that appeared meanwhile); on any exception it is removed and
    ``path`` is untouched.  Storage failures become :class:`WriteError`.

    Examples
    --------
    >>> with atomic_output("fig.png") as tmp:  # doctest: +SKIP
    ...     fig.savefig(tmp, format="png")
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    tmp = directory / _temp_name(path)
    try:
        os.close(create_exclusive(tmp))
    except OSError as exc:
        if error_errno(exc) in _STORAGE_ERRNOS:
            raise write_error(path, exc) from exc
        raise
    try:
        try:
            yield tmp
        except OSError as exc:
            if error_errno(exc) in _STORAGE_ERRNOS:
                raise write_error(path, exc) from exc
            raise
        except RuntimeError as exc:  # h5py / HDF5 report write failures as RuntimeError
            if error_errno(exc) in _STORAGE_ERRNOS:
                raise write_error(path, exc) from exc
            raise
        fsync_path(tmp)
        publish(tmp, path, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: StrPath, mode: str = "wb", *, overwrite: bool = True,
                encoding: str | None = None) -> Iterator[IO[Any]]:
    """Like :func:`atomic_output` but yields an open file object (``"wb"`` or ``"w"``)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_output(path, overwrite=overwrite) as tmp:
        opened: IO[Any] = (open(tmp, "r+b") if "b" in mode
                           else open(tmp, "r+", encoding=encoding or "utf-8"))
        with opened as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_bytes(path: StrPath, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_open(path, "wb", overwrite=overwrite) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: StrPath, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_output`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


# --------------------------------------------------------------------------------------------
# single writer
# --------------------------------------------------------------------------------------------
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


def lock_path(path: StrPath) -> Path:
    """The lock file of output ``path``: ``<path>.lock``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


class OutputLock:
    """Exclusive ownership of one output (a file or a folder) by this process.

    The lock is a file created with ``O_CREAT | O_EXCL`` holding ``"<pid> <host>"``.  A second
    writer gets a one-line :class:`FileExistsError` naming the first (its pid and host).  A
    lock left by a process that died (same host, pid no longer running) is stale and is taken
    over.  Released (the file removed) on every exit of the ``with`` block; re-entrant within
    one process (nested locks of the same output share the file).

    Parameters
    ----------
    path : path
        The output protected.
    lock_file : path, optional
        The lock file; default :func:`lock_path` ``(path)``.
    """

    def __init__(self, path: StrPath, lock_file: StrPath | None = None):
        self.path = Path(path)
        self.lock_file = Path(lock_file) if lock_file is not None else lock_path(self.path)
        self._key: str | None = None

    def acquire(self) -> OutputLock:
        key = os.path.abspath(self.lock_file)
        with _HELD_GUARD:
            if key in _HELD:
                _HELD[key] += 1
                self._key = key
                return self
        me = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(5):
            try:
                fd = create_exclusive(self.lock_file, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None or self._is_stale(owner):
                    self._remove_stale(owner)
                    continue
                pid, host = owner
                raise FileExistsError(
                    f"{self.path} is being written by another rgdl process (pid {pid} on "
                    f"{host}); wait for it to finish, or remove {self.lock_file} if that "
                    "process is gone") from None
            except OSError as exc:
                if error_errno(exc) in _STORAGE_ERRNOS:
                    raise write_error(self.lock_file, exc, "cannot create lock file") from exc
                raise
            try:
                os.write(fd, me.encode())
            except OSError as exc:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(self.lock_file)
                raise write_error(self.lock_file, exc, "cannot write lock file") from exc
            os.close(fd)
            with _HELD_GUARD:
                _HELD[key] = 1
            self._key = key
            return self
        raise FileExistsError(f"cannot take the lock {self.lock_file} (it keeps reappearing)")

    def _owner(self) -> tuple[int, str] | None:
        """(pid, host) recorded in the lock file; None if unreadable or malformed."""
        try:
            with open(self.lock_file, "rb") as handle:
                text = handle.read(256).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError:
            return (0, "?")
        parts = text.split()
        if len(parts) < 2 or not parts[0].isdigit():
            return None if not text else (0, "?")
        return int(parts[0]), parts[1]

    @staticmethod
    def _is_stale(owner: tuple[int, str]) -> bool:
        pid, host = owner
        if host != socket.gethostname() or pid <= 0:
            return False
        if pid == os.getpid():
            return True  # not in _HELD: left by an earlier process with our pid
        return not _pid_alive(pid)

    def _remove_stale(self, owner: tuple[int, str] | None) -> None:
        # re-read just before removing: another process may have replaced the stale lock
        if self._owner() != owner:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock_file)

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with _HELD_GUARD:
            _HELD[key] -= 1
            if _HELD[key] > 0:
                return
            del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(self.lock_file)

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        self.release()
        return False


# --------------------------------------------------------------------------------------------
# output vs input
# --------------------------------------------------------------------------------------------
def check_not_input(out: StrPath, *inputs: StrPath | None, what: str = "output") -> None:
    """Raise ValueError if ``out`` is one of ``inputs`` (same inode: symlinks, hard links).

    Paths that do not exist cannot be the same file and are skipped.
    """
    out = Path(out)
    for item in inputs:
        if item is None:
            continue
        item = Path(item)
        same = False
        try:
            same = os.path.samefile(out, item)
        except OSError:
            same = os.path.realpath(out) == os.path.realpath(item) and os.path.lexists(item)
        if same:
            raise ValueError(f"{what} {out} is the input file {item}; writing it would destroy "
                             "the input (choose another --out)")


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------
def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), or None if unknown.

    Read from ``/proc/meminfo`` (Linux); elsewhere ``sysconf(SC_AVPHYS_PAGES) * page size``.
    The environment variable ``RGDL_MEMORY_LIMIT`` (bytes) caps the value (for tests and
    shared machines).
    """
    value = None
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    value = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        value = None
    if value is None:
        try:
            value = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            value = None
    cap = os.environ.get("RGDL_MEMORY_LIMIT")
    if cap:
        try:
            cap_value = int(float(cap))
        except ValueError:
            cap_value = None
        if cap_value is not None and cap_value > 0:
            value = cap_value if value is None else min(value, cap_value)
    return value


def check_memory(n_bytes: float, what: str) -> None:
    """Raise :class:`ResourceError` if ``n_bytes`` exceed the memory available.

    Parameters
    ----------
    n_bytes : float
        Estimate of the main arrays the work allocates (callers state what it counts).
    what : str
        What needs it, for the message (``"simulating 64 chains of 100000^2 spins"``).
    """
    available = available_memory()
    if available is not None and n_bytes > available:
        raise ResourceError(f"{what} needs about {format_bytes(n_bytes)} of memory, more than "
                            f"the {format_bytes(available)} available")

"""Write failures of HDF5 files: errors h5py can only report from deallocators, and files
detached after a failure.

HDF5 keeps dirty metadata in memory and retries writing it when objects are released and the
file is closed; with the storage full every retry fails again, and h5py reports those failures
through :data:`sys.unraisablehook` (or prints them) instead of raising. :func:`quiet_unraisable`
collects them so that the writer (:class:`ising.h5write.DatasetWriter`) can treat them as the
write failures they are, and :func:`detach` abandons a failed file as it stands on disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from typing import Callable, Iterator

import h5py

from .atomic import StrPath

__all__ = ["quiet_unraisable", "detach", "abandoned_files", "install_abandoned_hook"]

logger = logging.getLogger("ising.io")

@contextlib.contextmanager
def quiet_unraisable(collected: list[BaseException] | None = None) -> Iterator[None]:
    """Catch the errors h5py raises inside its deallocators ("Exception ignored in ...").

    HDF5 writes cached chunks and metadata when an object is released, and h5py can only
    report a failure there through :data:`sys.unraisablehook`.  Inside this block such errors
    are appended to ``collected`` (when given) instead of being printed, so the writer can
    treat them as the write failures they are.
    """
    previous = sys.unraisablehook
    previous_stderr = sys.stderr
    captured = _CapturedStderr()

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
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

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(str(text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def getvalue(self) -> str:
        return "".join(self._parts)


_H5_WRITE_FAILURE_RE = re.compile(r"decrement id ref count|file write failed|errno = \d+")


#: HDF5 files that could not be closed after a write failure (see :func:`detach`);
#: a process holding any should end with os._exit (rgdl.cli does) to skip HDF5's own cleanup.
_ABANDONED: list[h5py.File] = []
_ABANDONED_NAMES: set[str] = set()
_HOOK_INSTALLED: list[Callable[[sys.UnraisableHookArgs], None]] = []


def abandoned_files() -> int:
    """Number of HDF5 files this process detached after a failed write (see
    :func:`detach`); HDF5's exit-time cleanup is unsafe after any."""
    return len(_ABANDONED_NAMES)


def install_abandoned_hook() -> None:
    """Filter h5py deallocator errors about abandoned files out of :data:`sys.unraisablehook`."""
    if _HOOK_INSTALLED:
        return
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        text = str(unraisable.exc_value)
        if _ABANDONED_NAMES and (any(name in text for name in _ABANDONED_NAMES)
                                 or "decrement id ref count" in text):
            logger.debug("ignored deallocator error of an abandoned file: %s", text)
            return
        previous(unraisable)

    sys.unraisablehook = hook
    _HOOK_INSTALLED.append(hook)


def detach(h5: h5py.File, name: StrPath) -> None:
    """Abandon the open file ``h5`` (its path ``name``) after a failed write.

    Its file descriptor is pointed at an in-memory file (or ``/dev/null``) before closing, so the
    file on disk stays exactly as the failure left it -- the state a kill at that moment leaves,
    which a resume knows how to continue from the last intact commit.
    """
    _ABANDONED_NAMES.add(os.path.basename(str(name)))
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
        logger.debug("cannot detach %s", name, exc_info=True)
    with quiet_unraisable():
        try:
            h5.close()
        except Exception:  # noqa: BLE001 - the file is abandoned; its state is on disk
            # HDF5 could not even write into the sink (a file-size limit applies to every
            # file): keep the objects alive so that nothing retries before exit
            _ABANDONED.append(h5)
            logger.debug("error closing %s after a failed write", name, exc_info=True)

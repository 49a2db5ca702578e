"""The ``rgdl`` command line (click).

Each command lives in :mod:`rgdl.commands` as a thin layer over the library and is imported
lazily, so ``rgdl --help`` starts fast. Errors the user caused (bad options, bad files) print
one line ``Error: ...`` and exit with status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from rgdl import __version__

# command name -> "module:attribute" inside rgdl.commands, in the order a user runs them:
# make data, grids of data, train, sample, the paper end to end, the RG studies, the analysis
# of a sweep, the benchmarks (``rgdl --help`` lists them in this order)
_COMMANDS = {
    "simulate": "simulate:simulate",
    "sweep": "sweep:sweep",
    "train": "train:train",
    "sample": "sample:sample",
    "reproduce": "reproduce:reproduce",
    "flow1d": "flow1d:flow1d",
    "mcrg": "mcrg:mcrg",
    "rbmflow": "rbmflow:rbmflow",
    "fss": "sweep:fss",
    "bench": "bench:bench",
}


def command_names() -> list:
    """Names of all ``rgdl`` subcommands, in the order ``rgdl --help`` lists them."""
    return list(_COMMANDS)


def load_command(name: str):
    """The click command ``name`` (imported on demand), or None if it is not available."""
    return _LazyGroup._load(name)


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx):
        return [name for name in _COMMANDS if self._load(name) is not None]

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(f"rgdl.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rgdl.commands.{module_name}":
                return None  # command not built yet
            raise
        return getattr(module, attribute, None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rgdl")
def cli():
    """rgdl: Ising Monte Carlo, stacked RBMs, and the exact variational-RG <-> deep-learning mapping
    (Mehta & Schwab, arXiv:1410.3831)."""


def main(argv=None):
    """Entry point of the ``rgdl`` console script.

    Converts every user error (click usage errors, ``ValueError``, ``FileExistsError``,
    ``FileNotFoundError``, ``PermissionError``) and every failure of the environment
    (``OSError`` such as a full disk or a file-size limit, ``MemoryError``) to one line on stderr
    and exit status 2. ``SIGXFSZ`` is ignored, so exceeding ``ulimit -f`` is a write error
    (``EFBIG``) reported like a full disk instead of killing the process.
    """
    import signal

    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    message = None
    detached_before = _detached_files()
    status = 0
    try:
        # non-standalone click returns the status of an explicit ctx.exit(n) instead of raising
        result = cli.main(args=argv, prog_name="rgdl", standalone_mode=False)
        if isinstance(result, int) and not isinstance(result, bool):
            status = result
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:  # a command's own exit status (rgdl sweep: 1)
        _exit(exc.exit_code, hard=_detached_files() > detached_before)
    except click.ClickException as exc:
        message = exc.format_message()
    except (ValueError, FileExistsError, FileNotFoundError, PermissionError, IsADirectoryError,
            NotADirectoryError) as exc:
        message = str(exc)
    except OSError as exc:  # the environment failed: full disk, file-size limit, I/O error
        from ising.atomic import describe_os_error

        message = describe_os_error(exc)
    except MemoryError:
        message = "out of memory"
    # outside the except blocks, so that the exception's frames (which may hold HDF5 objects
    # of a failed write) are released now, not during interpreter shutdown
    if message is not None:
        _fail(message, hard_exit=_detached_files() > detached_before)
    _exit(status, hard=_detached_files() > detached_before)


def _detached_files() -> int:
    """HDF5 files detached after a failed write so far in this process (see ising.io)."""
    io_module = sys.modules.get("ising.io")
    return io_module.abandoned_files() if io_module is not None else 0


def _fail(message: str, hard_exit: bool = False):
    """Print ``Error: <message>`` (one line) and exit with status 2.

    ``hard_exit``: this command detached an HDF5 file whose storage failed; HDF5's exit-time
    cleanup could retry the failing writes (and crash), so the process leaves without it.
    """
    click.echo(f"Error: {_one_line(message)}", err=True)
    _exit(2, hard=hard_exit)


def _exit(code: int, *, hard: bool = False):
    """``sys.exit(code)``; with ``hard`` (see :func:`_fail`) without the interpreter's cleanup."""
    if hard:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


if __name__ == "__main__":  # pragma: no cover
    main()

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

# command name -> "module:attribute" inside rgdl.commands
_COMMANDS = {
    "simulate": "simulate:simulate",
    "train": "train:train",
    "sample": "sample:sample",
    "flow1d": "flow1d:flow1d",
    "rbmflow": "rbmflow:rbmflow",
    "reproduce": "reproduce:reproduce",
    "sweep": "sweep:sweep",
    "fss": "sweep:fss",
    "bench": "bench:bench",
}


class UserInputError(click.ClickException):
    """An error caused by the user's input: printed as one line, exit status 2."""

    exit_code = 2


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx):
        return sorted(name for name in _COMMANDS if self._load(name) is not None)

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
    ``FileNotFoundError``, ``PermissionError``, ``UserInputError``) to one line on stderr and
    exit status 2.
    """
    try:
        cli.main(args=argv, prog_name="rgdl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        sys.exit(2)
    except (ValueError, FileExistsError, FileNotFoundError, PermissionError, IsADirectoryError,
            NotADirectoryError) as exc:
        click.echo(f"Error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    sys.exit(0)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


if __name__ == "__main__":  # pragma: no cover
    main()

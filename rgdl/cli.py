"""The ``rgdl`` command line (click).

Each command lives in :mod:`rgdl.commands` as a thin layer over the library and is imported
only when it runs or its own ``--help`` is asked. ``rgdl --help`` lists the commands without
importing any of them (which would load NumPy, Numba, SciPy, ...): each command's short help is
read from its source (:func:`listed_command`), so the listing stays exactly what click prints
for the loaded commands. Errors the user caused (bad options, bad files) print one line
``Error: ...`` and exit with status 2, never a traceback.
"""

from __future__ import annotations

import ast
import copy
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

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

#: Where the command modules' sources are (read by :func:`listed_command`).
_COMMANDS_DIR = Path(__file__).resolve().with_name("commands")

#: Keywords of ``@click.command(...)`` that decide how a command is listed in ``rgdl --help``.
_LISTING_KEYWORDS = frozenset({"help", "short_help", "hidden", "deprecated"})


def command_names() -> list[str]:
    """Names of all ``rgdl`` subcommands, in the order ``rgdl --help`` lists them."""
    return list(_COMMANDS)


def load_command(name: str) -> click.Command | None:
    """The click command ``name`` (imported on demand), or None if it is not available."""
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
    command = getattr(module, attribute, None)
    return command if isinstance(command, click.Command) else None


def listed_command(name: str) -> click.Command | None:
    """The command ``name`` as ``rgdl --help`` lists it, without importing its module.

    A stand-in made by ``click.command`` from what decides the listing -- the command
    function's docstring and the literal ``help``, ``short_help``, ``hidden`` and
    ``deprecated`` given to ``@click.command`` -- all read from the module's source with
    :mod:`ast`, so click shortens the help exactly as it does for the real command. Where the
    source cannot be read that way (no source file, ``click.command`` not the outermost
    decorator, a non-literal keyword), the real command is imported instead. None if the
    command is not available.
    """
    target = _COMMANDS.get(name)
    if target is None:
        return None
    module_name, attribute = target.split(":")
    try:
        source = (_COMMANDS_DIR / f"{module_name}.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return load_command(name)
    stand_in = stand_in_command(source, attribute, name)
    return stand_in if stand_in is not None else load_command(name)


def stand_in_command(source: str, attribute: str, name: str) -> click.Command | None:
    """A stand-in for the click command defined as function ``attribute`` in module ``source``.

    It is listed as that command is (same short help for any width, same ``hidden``), and
    does nothing. None where the source does not say statically how the command is listed:
    ``attribute`` is not a function decorated first by ``@click.command``, or that decorator
    takes ``**attrs`` or a non-literal ``help``, ``short_help``, ``hidden`` or ``deprecated``.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    functions = [node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name == attribute]
    if len(functions) != 1 or not functions[0].decorator_list:
        return None
    function = functions[0]
    decorator = function.decorator_list[0]  # the outermost: what the module attribute is
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call is not None else decorator
    if not (isinstance(target, ast.Attribute) and target.attr == "command"
            and isinstance(target.value, ast.Name) and target.value.id == "click"):
        return None
    attrs: dict[str, Any] = {}
    for keyword in call.keywords if call is not None else []:
        if keyword.arg is None:  # **attrs: unknown statically
            return None
        if keyword.arg in _LISTING_KEYWORDS:
            try:
                attrs[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError):  # not a literal
                return None

    def callback() -> None:
        """Never called: a stand-in lists the command, it does not run it."""

    callback.__doc__ = _docstring(function)
    return click.command(name, **attrs)(callback)


def _docstring(function: ast.FunctionDef) -> str | None:
    """``function.__doc__`` as the interpreter sets it (compiled from the docstring alone, so
    any processing of docstrings by the compiler applies)."""
    if ast.get_docstring(function, clean=False) is None:
        return None
    stub = copy.copy(function)
    stub.decorator_list = []
    stub.args = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
    stub.returns = None
    stub.body = function.body[:1]
    module = ast.Module(body=[stub], type_ignores=[])
    namespace: dict[str, Any] = {}
    # runs only ``def name(): "<docstring>"`` (no decorators, defaults or annotations)
    exec(compile(module, "<rgdl command listing>", "exec"), namespace)  # noqa: S102
    doc = namespace[function.name].__doc__
    return doc if isinstance(doc, str) else None


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used.

    Its help lists the commands from :func:`listed_command` stand-ins in click's layout.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if load_command(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = {name: listed_command(name) for name in _COMMANDS}
        _Listing(commands={name: command for name, command in listed.items()
                           if command is not None}).format_commands(ctx, formatter)


class _Listing(click.Group):
    """A group that lists its commands in the order given (for :meth:`_LazyGroup.format_commands`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rgdl")
def cli() -> None:
    """rgdl: Ising Monte Carlo, stacked RBMs, and the exact variational-RG <-> deep-learning mapping
    (Mehta & Schwab, arXiv:1410.3831)."""


def main(argv: Sequence[str] | None = None) -> NoReturn:
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
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `rgdl`: the help, as --help prints it
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        _exit(0)
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


def _fail(message: str, hard_exit: bool = False) -> NoReturn:
    """Print ``Error: <message>`` (one line) and exit with status 2.

    ``hard_exit``: this command detached an HDF5 file whose storage failed; HDF5's exit-time
    cleanup could retry the failing writes (and crash), so the process leaves without it.
    """
    click.echo(f"Error: {_one_line(message)}", err=True)
    _exit(2, hard=hard_exit)


def _exit(code: int, *, hard: bool = False) -> NoReturn:
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

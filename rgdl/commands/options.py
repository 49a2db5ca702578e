"""Options shared by the ``rgdl`` commands, declared once.

Every command takes its common options from these decorators, so that one word means one thing
everywhere: ``--temperature`` (one value) / ``--temperatures`` (a grid), ``--size``/``--sizes``,
``--samples``, ``--algorithm``, ``--dimension``, ``--coupling``, ``--field``, ``--seed``,
``--out``, ``--overwrite``, ``--resume``, ``-q/--quiet``, ``-v/--verbose``. Short aliases exist only
where they mean the same in every command that has them: ``-T`` temperature(s), ``-L`` linear
size(s), ``-n`` samples, ``-a`` algorithm, ``-d`` dimension, ``-J`` the coupling J (simulations)
and ``-K`` the dimensionless coupling K = J/T (RG flows), ``-q`` quiet, ``-v`` verbose.

Ranges are click types (:data:`SEED`, :data:`POSITIVE_COUNT`, :func:`real`), so an out-of-range
value is one line ``Error: Invalid value for '--x': ...`` with exit status 2
(:func:`rgdl.cli.main`). Options marked by :class:`SharedOption` are found by the tests, which
check that no command redeclares them by hand.

:class:`Command` adds deprecated short aliases: a command lists ``{"-n": "--levels"}`` and an
old spelling keeps working for one release, with a note on stderr.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from ising import ALGORITHMS
from rgdl.seeds import SEED_BOUND

#: What an option decorator takes and returns: a command function (or a click command).
FC = TypeVar("FC", bound="Callable[..., Any] | click.Command")

#: Largest count (sizes, samples, sweeps, epochs, ...): no larger than 2**53, so that every
#: kernel's int64 counters and float64 averages hold it exactly; larger values are a one-line
#: usage error instead of a Numba typing error or an overflow.
MAX_COUNT = 1 << 53



#: A count (no lower bound of its own: the library names the constraint).
COUNT = click.IntRange(max=MAX_COUNT)
#: A count >= 1.
POSITIVE_COUNT = click.IntRange(1, MAX_COUNT)
#: A count >= 0.
NONNEGATIVE_COUNT = click.IntRange(0, MAX_COUNT)
#: A root seed: 0 <= seed < 2**63.
SEED = click.IntRange(0, SEED_BOUND - 1)

#: Settings of every command's context.
CONTEXT = {"max_content_width": 100}


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN and infinities (which compare as in range)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:  # click's hook for the "[x>0]" shown in --help
        return "finite" if self.min is None and self.max is None else super()._describe_range()


def real(min: float | None = None, max: float | None = None, *, min_open: bool = False,
         max_open: bool = False) -> FiniteFloatRange:
    """A finite real in ``[min, max]`` (bounds open with ``min_open``/``max_open``)."""
    return FiniteFloatRange(min, max, min_open=min_open, max_open=max_open)


class SharedOption(click.Option):
    """An option created by one of this module's decorators (``shared`` names which)."""

    def __init__(self, *args: Any, shared: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared


def _shared(name: str, *decls: str, **attrs: Any) -> Callable[[FC], FC]:
    return click.option(*decls, cls=SharedOption, shared=name, **attrs)


# ------------------------------------------------------------------------------------------
# the model and the sampling
# ------------------------------------------------------------------------------------------
def temperature_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-T/--temperature``: one temperature T > 0 (k_B = 1)."""
    attrs.setdefault("help", "T > 0 (k_B = 1); Boltzmann weight exp(-H/T), K = J/T.")
    return _shared("temperature", "-T", "--temperature", type=real(0, min_open=True), **attrs)


def temperatures_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-T/--temperatures``: a temperature grid, ``'2.1,2.2,2.3'`` or ``'start:stop:n'``."""
    attrs.setdefault("help", "Temperatures: '2.1,2.2,2.3' or 'start:stop:n'.")
    return _shared("temperatures", "-T", "--temperatures", **attrs)


def size_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-L/--size``: one linear size."""
    return _shared("size", "-L", "--size", type=POSITIVE_COUNT, **attrs)


def sizes_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-L/--sizes``: a list of linear sizes, ``'8,16,32'``."""
    attrs.setdefault("help", "Linear sizes: '8,16,32'.")
    return _shared("sizes", "-L", "--sizes", **attrs)


def samples_option(*names: str, short: bool = True, **attrs: Any) -> Callable[[FC], FC]:
    """``-n/--samples``: how many configurations (>= 1); ``short=False`` leaves out ``-n``
    (``rgdl mcrg``, whose ``-n`` is a deprecated alias of ``--levels`` for one release)."""
    decls = ("-n", "--samples") if short else ("--samples",)
    return _shared("samples", *decls, *names, type=POSITIVE_COUNT, **attrs)


def algorithm_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-a/--algorithm``: one of :data:`ising.ALGORITHMS`."""
    return _shared("algorithm", "-a", "--algorithm", type=click.Choice(ALGORITHMS), **attrs)


def dimension_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-d/--dimension``: 1 (periodic chain) or 2 (periodic square lattice)."""
    return _shared("dimension", "-d", "--dimension", type=click.IntRange(1, 2), **attrs)


def coupling_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-J/--coupling``: J in H = -J sum s_i s_j - h sum s_i (with a separate temperature)."""
    return _shared("coupling", "-J", "--coupling", type=real(), **attrs)


def reduced_coupling_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-K/--coupling``: the dimensionless coupling K = J/T of an RG flow (no temperature)."""
    return _shared("reduced_coupling", "-K", "--coupling", type=real(), **attrs)


def field_option(**attrs: Any) -> Callable[[FC], FC]:
    """``--field``: h in H (no short alias: -h is help)."""
    return _shared("field", "--field", type=real(), **attrs)


# ------------------------------------------------------------------------------------------
# runs and their outputs
# ------------------------------------------------------------------------------------------
def seed_option(**attrs: Any) -> Callable[[FC], FC]:
    """``--seed``: a root seed, 0 <= seed < 2**63 (same seed => same bytes)."""
    attrs.setdefault("default", None)
    attrs.setdefault("show_default", attrs["default"] is not None)
    return _shared("seed", "--seed", type=SEED, **attrs)


def out_option(*, file: bool = True, **attrs: Any) -> Callable[[FC], FC]:
    """``--out``: the output file (``file=True``) or folder."""
    kind = click.Path(dir_okay=False) if file else click.Path(file_okay=False)
    return _shared("out", "--out", "out", type=kind, **attrs)


def overwrite_option(**attrs: Any) -> Callable[[FC], FC]:
    """``--overwrite``: replace existing outputs."""
    attrs.setdefault("help", "Replace an existing OUT.")
    return _shared("overwrite", "--overwrite", is_flag=True, **attrs)


def resume_option(**attrs: Any) -> Callable[[FC], FC]:
    """``--resume``: continue an interrupted run exactly."""
    return _shared("resume", "--resume", is_flag=True, **attrs)


def quiet_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-q/--quiet``: no progress bars or per-step lines."""
    attrs.setdefault("help", "No progress output.")
    return _shared("quiet", "-q", "--quiet", is_flag=True, **attrs)


def verbose_option(**attrs: Any) -> Callable[[FC], FC]:
    """``-v/--verbose``: more log output (repeat for debug)."""
    attrs.setdefault("help", "More log output (-vv for debug).")
    return _shared("verbose", "-v", "--verbose", count=True, **attrs)


def json_option(**attrs: Any) -> Callable[[FC], FC]:
    """``--json``: one JSON object on stdout instead of the table."""
    attrs.setdefault("help", "Print one JSON object instead of the table.")
    return _shared("json", "--json", "as_json", is_flag=True, **attrs)


# ------------------------------------------------------------------------------------------
# checks shared by commands
# ------------------------------------------------------------------------------------------
def refuse_existing(paths: Iterable[str | os.PathLike[str]], *, overwrite: bool,
                    hint: str = "use --overwrite to replace") -> None:
    """Raise FileExistsError naming the first of ``paths`` that exists, unless ``overwrite``."""
    existing = [Path(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise FileExistsError(f"{existing[0]} exists{more}; {hint}")


def prepare_output_dir(out: str | os.PathLike[str], *, parents: bool = False) -> Path:
    """Create the output folder ``out`` and check it is writable.

    Its parent must exist unless ``parents`` (then missing parents are created too).
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {out!s} is not a directory")
    if not parents and not folder.absolute().parent.is_dir():
        raise FileNotFoundError(f"parent directory of --out {out!s} does not exist")
    folder.mkdir(parents=parents, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write to {folder}")
    return folder


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK"


def check_input_kind(path: str | os.PathLike[str], expected: str) -> None:
    """Name the real problem when a model is given for a dataset or the other way round.

    ``expected`` is ``"dataset"`` (HDF5 written by ``rgdl simulate``/``sample``) or ``"model"``
    (``.npz`` written by ``rgdl train``); a missing file is a FileNotFoundError.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"{expected} file {path} does not exist")
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a {expected} file")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if expected == "model" and head == _HDF5_SIGNATURE:
        raise ValueError(f"{path} is not an rgdl model file: it is an HDF5 spin dataset (give "
                         "the .npz file written by `rgdl train`)")
    if expected == "dataset" and head.startswith(_ZIP_SIGNATURE):
        raise ValueError(f"{path} is not an HDF5 spin dataset: it is an .npz archive (a model?); "
                         "give the file written by `rgdl simulate` or `rgdl sample`")


# ------------------------------------------------------------------------------------------
# deprecated short aliases
# ------------------------------------------------------------------------------------------
class Command(click.Command):
    """A click command with ``deprecated_aliases`` ({old short option: long option}).

    An old spelling is rewritten to the long option before parsing (``-n 3`` and ``-n3``),
    with one note on stderr; it is not shown in ``--help``. Tokens that are the value of a
    preceding option, and everything after ``--``, are left alone.
    """

    def __init__(self, *args: Any, deprecated_aliases: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", dict(CONTEXT))
        super().__init__(*args, **kwargs)
        self.deprecated_aliases = dict(deprecated_aliases or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._rewrite(list(args)))

    def _rewrite(self, args: list[str]) -> list[str]:
        takes_value = {name for p in self.params if isinstance(p, click.Option)
                       and not p.is_flag and not p.count for name in p.opts}
        out: list[str] = []
        after_value = False
        for position, token in enumerate(args):
            if token == "--":
                return out + args[position:]
            if not after_value:
                for old, new in self.deprecated_aliases.items():
                    if token == old or (token.startswith(old) and len(token) > len(old)):
                        click.echo(f"Warning: {old} is deprecated in `rgdl {self.name}`; "
                                   f"use {new}.", err=True)
                        token = new if token == old else f"{new}={token[len(old):]}"
                        break
            after_value = not after_value and token in takes_value
            out.append(token)
        return out

"""``rgdl --help`` is fast and prints what click prints for the loaded commands.

The top-level help lists the commands from stand-ins read off their source
(:func:`rgdl.cli.listed_command`), without importing any command module. Checked here: the
text equals click's with every command imported (at several terminal widths, so the shortened
help lines cannot drift), the stand-ins are listed like the commands they stand for (for every
keyword of ``@click.command`` that changes the listing), ``rgdl --help``/``--version``/``rgdl``
import none of the heavy dependencies, and every subcommand's own ``--help`` still works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from rgdl import cli

ROOT = Path(__file__).resolve().parents[1]

#: Modules that ``rgdl --help`` must not import (seconds of start-up between them).
HEAVY = ("numpy", "numba", "sklearn", "scipy", "matplotlib", "h5py", "dask", "distributed",
         "tqdm", "ising", "rbm", "analysis", "rgdl.commands")


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    captured = capsys.readouterr()
    code = info.value.code
    assert isinstance(code, int)
    return code, captured.out, captured.err


@pytest.mark.parametrize("columns", ["40", "66", "80", "200"])
@pytest.mark.parametrize("argv", [["--help"], []], ids=["help", "no-args"])
def test_help_equals_clicks_with_every_command_loaded(argv, columns, capsys, monkeypatch):
    """Same bytes, exit status and stream as click's own listing, which imports every command."""
    monkeypatch.setenv("COLUMNS", columns)
    lazy = _run_main(argv, capsys)
    monkeypatch.setattr(type(cli.cli), "format_commands", click.Group.format_commands)
    eager = _run_main(argv, capsys)
    assert lazy == eager
    assert lazy[0] == 0 and lazy[1].startswith("Usage: rgdl") and not lazy[2]  # help on stdout
    words = (lazy[1] + lazy[2]).split()
    listed = words[words.index("Commands:") + 1:]
    assert all(name in listed for name in cli.command_names())


def test_the_listing_reads_the_source_of_every_command():
    """No command falls back to an import: each is a stand-in with the real command's help."""
    for name in cli.command_names():
        listed = cli.listed_command(name)
        real = cli.load_command(name)
        assert listed is not None and real is not None, name
        assert listed is not real, name
        assert listed.callback is not None and listed.callback.__module__ == "rgdl.cli", name
        assert (listed.help, listed.short_help, listed.hidden) == \
            (real.help, real.short_help, real.hidden), name


_DOC = '''"""Reproduce Mehta & Schwab (arXiv:1410.3831) vs. the null and measure it, with more words.

    Second paragraph, never listed.
    """'''

#: (decorator, docstring) of synthetic commands: each keyword that changes the listing.
LISTED = {
    "docstring": ("@click.command()", _DOC),
    "bare decorator": ("@click.command", _DOC),
    "class and other keywords": ("@click.command(cls=click.Command, context_settings={})", _DOC),
    "help keyword": ("@click.command(help='Given help. Not the docstring.')", _DOC),
    "short_help keyword": ("@click.command(short_help='''\n    Short,\n    given.''')", _DOC),
    "hidden": ("@click.command(hidden=True)", _DOC),
    "deprecated": ("@click.command(deprecated='use other')", _DOC),
    "no-rewrap marker": ("@click.command()", '"""\\b\n    Kept lines\n    as they are."""'),
    "no docstring": ("@click.command()", "x = 1"),
    "blank line with spaces": ("@click.command()",
                               '"""First line\n    \n    second paragraph? A sentence."""'),
}


def _source(decorator: str, body: str) -> str:
    """A module defining ``command`` under ``decorator`` with ``body`` (its docstring)."""
    return ("import click\n\n\n" + decorator + "\n"
            "@click.option('--n', type=int)\n"
            "def command(n: int) -> None:\n"
            "    " + body + "\n")


@pytest.mark.parametrize("case", list(LISTED))
def test_stand_in_is_listed_like_the_command(case):
    """Built from the source only, a stand-in gives the real command's short help at every width."""
    source = _source(*LISTED[case])
    namespace: dict[str, object] = {}
    exec(compile(source, "<command>", "exec"), namespace)  # noqa: S102 - the test's own source
    real = namespace["command"]
    assert isinstance(real, click.Command)
    stand_in = cli.stand_in_command(source, "command", "command")
    assert stand_in is not None
    assert stand_in.hidden == real.hidden
    for limit in (0, 3, 10, 25, 45, 60, 200):
        assert stand_in.get_short_help_str(limit) == real.get_short_help_str(limit), limit


@pytest.mark.parametrize("decorator", [
    "@click.command(help=HELP)",           # not a literal
    "@click.command(**ATTRS)",            # unknown keywords
    "@wrap\n@click.command()",            # the module attribute is not the click command
    "@click.group()",                     # a group, not a command
])
def test_stand_in_refuses_what_the_source_does_not_say(decorator):
    """None (so the listing imports the real command) where the source is not enough."""
    source = _source(decorator, _DOC)
    assert cli.stand_in_command(source, "command", "command") is None
    assert cli.stand_in_command(_source("@click.command()", _DOC), "other", "other") is None


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--version"], []],
                         ids=["help", "h", "version", "no-args"])
def test_top_level_help_imports_no_heavy_module(argv):
    """In a fresh interpreter, the listing and the version import only click and rgdl.cli."""
    code = textwrap.dedent(f"""\
        import sys
        from rgdl.cli import main
        try:
            main({argv!r})
        except SystemExit as exit:
            status = exit.code
        heavy = sorted(m for m in sys.modules
                       if any(m == h or m.startswith(h + ".") for h in {HEAVY!r}))
        print("RESULT", status, heavy, file=sys.stderr)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    last = run.stderr.strip().splitlines()[-1]
    assert last == "RESULT 0 []", run.stderr  # bare `rgdl` prints the help, like --help
    assert "Commands:" in run.stdout + run.stderr or argv == ["--version"]


@pytest.mark.parametrize("name", cli.command_names())
def test_every_subcommand_help_still_works(name, capsys):
    """A subcommand's own --help imports and shows the real command (its options included)."""
    status, out, err = _run_main([name, "--help"], capsys)
    assert status == 0, err
    assert out.startswith(f"Usage: rgdl {name} "), out
    real = cli.load_command(name)
    assert real is not None
    for param in real.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.opts[-1] in out, (name, param.opts)

"""Type annotations of the public API (issue 17): complete, and consistent according to mypy.

Two checks. ``test_public_api_annotated`` walks the source of every public module (no path part starting
with ``_`` other than ``__init__.py``/``__main__.py``) and requires every public function, method and
property -- names not starting with ``_``, plus ``__init__`` and ``__call__`` -- to annotate every
parameter (``self``/``cls`` excepted) and its return (``__init__`` excepted). ``test_mypy_clean`` runs
mypy with the configuration in ``setup.cfg`` over the four packages (private modules included, so the
public signatures are checked against the code that implements them) and requires no error in the
package. mypy runs once per session; its cache lives in ``.mypy_cache`` (ignored by git).
"""
from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ising", "rbm", "analysis", "rgdl")
SPECIAL_PUBLIC = {"__init__", "__call__"}


def public_modules(package: str) -> list[Path]:
    """The package's modules whose import path has no private (underscore) part."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(p.startswith("_") and p not in ("__init__.py", "__main__.py") for p in parts):
            continue
        out.append(path)
    return out


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name in SPECIAL_PUBLIC


def unannotated(source: str, filename: str = "<string>") -> list[str]:
    """Qualified names of the public functions/methods in ``source`` that lack an annotation."""
    missing: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not _is_public(child.name):
                    continue
                args = child.args
                params = args.posonlyargs + args.args + args.kwonlyargs
                if prefix and params and params[0].arg in ("self", "cls"):
                    params = params[1:]
                params += [a for a in (args.vararg, args.kwarg) if a is not None]
                bad = [a.arg for a in params if a.annotation is None]
                if child.returns is None and child.name != "__init__":
                    bad.append("return")
                if bad:
                    missing.append(f"{filename}:{child.lineno} {prefix}{child.name} ({', '.join(bad)})")
            elif isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                visit(child, prefix + child.name + ".")

    visit(ast.parse(source), "")
    return missing


def test_checker_flags_what_it_should():
    """The completeness check can fail: it names unannotated parameters and returns, and skips private names."""
    src = (
        "def f(a: int, b) -> int: ...\n"
        "def g(a: int): ...\n"
        "def _private(a): ...\n"
        "class C:\n"
        "    def __init__(self, n): ...\n"
        "    def m(self, x: float) -> float: ...\n"
        "    def _p(self, y): ...\n"
        "    @property\n"
        "    def p(self): ...\n"
        "class _Hidden:\n"
        "    def m(self, x): ...\n"
    )
    found = unannotated(src)
    assert [m.split(" ", 1)[1] for m in found] == [
        "f (b)", "g (return)", "C.__init__ (n)", "C.p (return)"]
    assert unannotated("def h(*args: int, **kw: str) -> None: ...\n") == []
    assert unannotated("def h(*args, **kw) -> None: ...\n") == ["<string>:1 h (args, kw)"]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_annotated(package):
    missing = []
    for path in public_modules(package):
        missing += unannotated(path.read_text(), str(path.relative_to(ROOT)))
    assert not missing, f"{len(missing)} public functions without full annotations:\n" + "\n".join(missing)


@functools.lru_cache(maxsize=None)
def _mypy_output() -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"),
         "--cache-dir", str(ROOT / ".mypy_cache"), "--no-error-summary", "--hide-error-context",
         *PACKAGES],
        cwd=ROOT, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("package", PACKAGES)
def test_mypy_clean(package):
    rc, out = _mypy_output()
    assert rc in (0, 1), f"mypy did not run:\n{out}"
    errors = [line for line in out.splitlines()
              if line.startswith(package + "/") and ": error:" in line]
    assert not errors, f"{len(errors)} mypy errors in {package}/:\n" + "\n".join(errors)

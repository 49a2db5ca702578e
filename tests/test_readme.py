"""The README tells the truth: its result tables are the committed outputs of their commands,
the cheap commands still produce them, and every code example runs as written.

* Each ``<!-- results:NAME -->`` block equals ``docs/results/NAME.md`` (written by
  ``scripts/readme_results.py``), so a table edited by hand or left stale fails here.
* The cheap entries (validation on small lattices, flow1d, the 2D comparison) are rerun and must
  reproduce their committed files byte for byte.
* Every ```python and ```bash block runs in a scratch directory (blocks marked
  ``<!-- readme-test: skip (reason) -->`` on the line before the fence are the set-up commands,
  which CI itself runs).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"(?P<marker><!-- readme-test: skip[^>]*-->\n)?```(?P<lang>python|bash)\n(?P<code>.*?)```",
                   re.DOTALL)


def _results_module():
    spec = importlib.util.spec_from_file_location("readme_results", ROOT / "scripts" / "readme_results.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_results"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


RESULTS = _results_module()


def test_readme_result_blocks_are_the_committed_outputs():
    blocks = RESULTS.readme_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "no results blocks found in README.md"
    for name, body in blocks.items():
        assert name in RESULTS.ENTRIES, f"README block {name!r} has no command in scripts/readme_results.py"
        committed = (RESULTS.RESULTS / f"{name}.md").read_text(encoding="utf-8")
        assert body == committed, f"README block {name!r} differs from docs/results/{name}.md"
    for name, entry in RESULTS.ENTRIES.items():
        if entry.cheap:
            assert name in blocks, f"cheap result {name!r} is not quoted in the README"


@pytest.mark.parametrize("name", [n for n, e in RESULTS.ENTRIES.items() if e.cheap])
def test_cheap_results_still_reproduce(name):
    markdown, _ = RESULTS.produce(name)
    committed = (RESULTS.RESULTS / f"{name}.md").read_text(encoding="utf-8")
    assert markdown == committed, (
        f"`{RESULTS.ENTRIES[name].command}` no longer prints docs/results/{name}.md; "
        f"rerun python scripts/readme_results.py --only {name} --update-readme")


def _examples():
    text = README.read_text(encoding="utf-8")
    out = []
    for i, m in enumerate(FENCE.finditer(text)):
        line = text[:m.start("code")].count("\n") + 1
        out.append(pytest.param(m.group("lang"), m.group("code"), bool(m.group("marker")),
                                id=f"{m.group('lang')}-line{line}"))
    return out


@pytest.mark.parametrize("lang,code,skip", _examples())
def test_readme_example_runs(tmp_path, lang, code, skip):
    if skip:
        pytest.skip("set-up command (CI runs it)")
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
               MPLBACKEND="Agg")
    if lang == "python":
        args = [sys.executable, "-c", code]
    else:
        args = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"README {lang} example failed:\n{code}\n--- stderr ---\n{proc.stderr[-3000:]}"

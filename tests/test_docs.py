"""The documentation site builds with ``mkdocs build --strict`` and stays complete.

* Every ``docs/results/NAME.md`` (written by scripts/readme_results.py) is embedded in
  docs/results.md by a snippet, and every public module has an API-reference entry, so a new
  results table or module cannot be left off the site.
* ``mkdocs build --strict`` (into a temporary directory, never into the repository) passes: the
  API reference renders from the docstrings without warnings, every snippet exists, every page
  in the nav exists, and the tutorials and the getting-started page are executed notebooks
  (mkdocs-jupyter, ``execute: true``, ``allow_errors: false``): a cell that raises, or a
  ``rgdl`` command that exits non-zero, fails the build. Skipped when the ``docs`` extra
  (mkdocs, mkdocs-material, mkdocstrings, mkdocs-jupyter) is not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the click application: documented by `rgdl COMMAND --help`, not as an API
API_EXEMPT = {"rgdl.cli"}
NOTEBOOK_PAGES = ("getting-started", "tutorials/ising-monte-carlo", "tutorials/rbms-on-ising-data",
                  "tutorials/variational-rg-1d")


def test_every_results_file_is_on_the_site():
    page = (DOCS / "results.md").read_text(encoding="utf-8")
    embedded = set(re.findall(r'^[ \t]*--8<-- "results/([\w-]+)\.md"$', page, flags=re.MULTILINE))
    on_disk = {p.stem for p in (DOCS / "results").glob("*.md")}
    assert on_disk, "docs/results/*.md missing (written by scripts/readme_results.py)"
    assert on_disk <= embedded, f"not embedded in docs/results.md: {sorted(on_disk - embedded)}"
    assert embedded <= on_disk, f"docs/results.md embeds missing files: {sorted(embedded - on_disk)}"


def test_every_public_module_is_in_the_api_reference():
    """A new public module (no leading underscore) needs a ``::: package.module`` entry."""
    not_documented = []
    for package in ("ising", "rbm", "analysis", "rgdl"):
        page = (DOCS / "api" / f"{package}.md").read_text(encoding="utf-8")
        for path in sorted((ROOT / package).glob("*.py")):
            name = f"{package}.{path.stem}"
            if path.stem.startswith("_") or name in API_EXEMPT:
                continue
            if not re.search(rf"^::: {re.escape(name)}$", page, flags=re.MULTILINE):
                not_documented.append(name)
    assert not not_documented, f"add to docs/api/*.md: {not_documented}"


def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter",
                   "jupytext", "ipykernel"):
        pytest.importorskip(module)
    site = tmp_path / "site"
    before = {p.name for p in ROOT.iterdir()}
    env = dict(os.environ)
    # the notebook kernels import this checkout, whatever is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # the notebooks' figures come from ipykernel's inline backend, which MPLBACKEND would override
    env.pop("MPLBACKEND", None)
    env["NO_MKDOCS_2_WARNING"] = "1"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                          "--site-dir", str(site)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    created = sorted({p.name for p in ROOT.iterdir()} - before)
    assert not created, f"the build wrote into the repository: {created}"
    for page in NOTEBOOK_PAGES:
        html = (site / page / "index.html").read_text(encoding="utf-8")
        # executed: nbconvert writes the cells' outputs (stdout streams) into the page
        assert "jp-OutputArea-output" in html, f"{page}: no executed output in the page"
    tutorial = (site / "tutorials/variational-rg-1d/index.html").read_text(encoding="utf-8")
    assert "K exact RBM" in tutorial
    assert re.search(r'<img[^>]*src="data:image/png;base64,', tutorial), "the tutorial's figure is missing"
    api = (site / "api/rbm/index.html").read_text(encoding="utf-8")
    assert "log_partition_exact" in api and "ais_log_partition" in api
    results = (site / "results/index.html").read_text(encoding="utf-8")
    assert "validate_samplers.py" in results and "--8&lt;--" not in results and "--8<--" not in results

"""A finished sweep as a table, and its finite-size-scaling report (``rgdl fss``).

:func:`sweep_table` turns the index's finished points into column arrays for
:func:`analysis.fss.analyze`; :func:`write_fss_report` runs that analysis and writes the figure
(PNG + PDF) and the numbers (JSON) next to the sweep, refusing to replace files unless asked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ising.atomic import OutputLock, atomic_write_text, check_name_length, check_not_input
from rgdl.sweep.index import read_index
from rgdl.sweep.spec import INDEX_NAME, SUMMARY_FIELDS


def sweep_table(out: str | os.PathLike[str], *,
                include_unfinished: bool = False) -> dict[str, NDArray[Any]]:
    """Finished points of a sweep as column arrays.

    Returns
    -------
    dict of numpy.ndarray
        ``size``, ``temperature``, ``seed`` and, for every summary observable ``name``,
        ``name`` (value) and ``name_error``; plus ``file`` (absolute paths). Rows are sorted by
        size, temperature, seed.
    """
    out = Path(out)
    index = read_index(out)
    rows = [e for e in index["points"]
            if include_unfinished or (e.get("status") == "done" and e.get("summary"))]
    dimension = index["spec"]["dimension"]
    rows.sort(key=lambda e: (e["params"]["size"], e["params"]["temperature"],
                             e["params"]["seed"]))
    table: dict[str, NDArray[Any]] = {
        "size": np.array([e["params"]["size"] for e in rows], dtype=np.int64),
        "temperature": np.array([e["params"]["temperature"] for e in rows], dtype=np.float64),
        "seed": np.array([e["params"]["seed"] for e in rows], dtype=np.int64),
        "file": np.array([str(out / e["file"]) for e in rows], dtype=object),
        "dimension": np.full(len(rows), dimension, dtype=np.int64),
    }
    for name in SUMMARY_FIELDS:
        values, errors = [], []
        for e in rows:
            est = (e.get("summary") or {}).get(name) or {}
            values.append(np.nan if est.get("value") is None else est["value"])
            errors.append(np.nan if est.get("error") is None else est["error"])
        table[name] = np.array(values, dtype=np.float64)
        table[f"{name}_error"] = np.array(errors, dtype=np.float64)
    return table


def report_targets(out: str | os.PathLike[str], figure: str | os.PathLike[str] | None = None
                   ) -> tuple[Path, list[Path]]:
    """(figure base, [png, pdf, json]) of the FSS report of the sweep in ``out``.

    ``figure`` is the figure path without suffix (default ``OUT/fss``).
    """
    target = Path(figure) if figure is not None else Path(out) / "fss"
    if target.suffix.lower() in (".png", ".pdf"):
        target = target.with_suffix("")
    return target, [target.with_suffix(s) for s in (".png", ".pdf", ".json")]


def check_report_targets(out: str | os.PathLike[str],
                         figure: str | os.PathLike[str] | None = None,
                         overwrite: bool = False, *, require_dir: bool = True) -> None:
    """Fail before any work if the report cannot be written (or would replace files).

    Raises
    ------
    FileExistsError, IsADirectoryError, FileNotFoundError, ValueError
        A report file exists (without ``overwrite``), is a directory, its folder is missing
        (with ``require_dir``), its name is too long, or it is the sweep's index.
    """
    _, files = report_targets(out, figure)
    for path in files:
        check_name_length(path, suffixes=(".lock",))
        if path.is_dir():
            raise IsADirectoryError(f"output path is a directory: {path}")
        check_not_input(path, Path(out) / INDEX_NAME)
        if path.exists() and not overwrite:
            raise FileExistsError(f"output exists: {path} (use --overwrite to replace the report)")
    parent = files[0].parent
    if require_dir and not parent.is_dir():
        raise FileNotFoundError(f"output directory does not exist: {parent}")


def write_fss_report(out: str | os.PathLike[str], *, n_bootstrap: int, seed: int,
                     figure: str | os.PathLike[str] | None = None, method: str = "largest",
                     overwrite: bool = False) -> str:
    """FSS analysis of the sweep in ``out``: figure (PNG + PDF), ``fss.json``; returns text.

    Refuses to replace existing report files unless ``overwrite``; every file is written
    atomically while holding the report's lock (:mod:`ising.atomic`).
    """
    # imported here: the analysis package takes seconds to import (Numba, Matplotlib), which
    # every sweep task would otherwise pay through this package's __init__
    from analysis import fss

    check_report_targets(out, figure, overwrite)
    table = sweep_table(out)
    if len(table["size"]) == 0:
        raise ValueError(f"{out}: no finished points to analyse")
    result = fss.analyze(table, n_bootstrap=n_bootstrap, seed=seed, method=method)
    target, (_, _, json_path) = report_targets(out, figure)
    with OutputLock(target):
        check_report_targets(out, figure, overwrite)  # recheck under the lock
        text = json.dumps(result.as_dict(), indent=1, allow_nan=False) + "\n"
        files = fss.plot_fss(result, target, overwrite=overwrite,
                             samples=read_index(out)["spec"]["n_samples"])
        atomic_write_text(json_path, text, overwrite=overwrite)
    return result.report() + "\nfigure: " + ", ".join(str(f) for f in files) + \
        f"\nnumbers: {json_path}"

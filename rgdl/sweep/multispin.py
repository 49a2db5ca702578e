"""Metropolis sweep points of one size run together: a temperature grid in multi-spin lanes.

A sweep (:mod:`rgdl.sweep`) runs every point on its own unless its engine is
``"multispin-grid"`` (:attr:`rgdl.sweep.SweepSpec.engine`; the driver then runs each group below
as one task, :func:`rgdl.sweep.task.run_grid_task`). Points that differ only in their
temperature and are 2D lazy checkerboard Metropolis at h = 0 on an even L >= 4 can instead
share the words of one multi-spin run (:func:`ising.sample_temperature_grid`): 64 lanes per
word, ``n_chains`` lanes per point. :func:`grid_groups` finds such groups among a sweep's points
and :func:`run_grid_group` computes one group, writing one HDF5 file per point in the schema of
docs/ARCHITECTURE.md, at the point's path in the sweep directory (``SweepPoint.file``).

Seeds (documented derivation)
    A point run alone draws from its own seed (:func:`rgdl.sweep.point_seed`). Lanes of one
    word share the word's random stream, so a grouped point cannot: its data come from the
    *grid seed* of its group, :func:`grid_seed` = :func:`rgdl.sweep.point_seed` of the group's
    common parameters with ``temperature`` replaced by ``grid_temperatures`` (the group's
    temperatures, ascending), and from its *position* k in that list (replicas
    ``k n_chains ... (k + 1) n_chains - 1``). Each file records

    * ``seed``: the point's own seed, as for every sweep point (its identity in the index);
    * ``engine = "multispin-grid"``, ``grid_seed``, ``grid_position`` and
      ``grid_temperatures``: where its bytes come from. They are reproduced by
      ``ising.sample_temperature_grid(size, grid_temperatures, n_samples=..., n_chains=...,
      burn_in=..., thin=..., seed=grid_seed)[grid_position]`` (burn-in and thinning as given
      in the point, ``None`` calibrated per temperature on its own lanes).

    A point's samples depend on its own lanes only (not on the other temperatures' lanes),
    but through the grid seed and its position on the group's temperature list: the same
    sweep specification gives the same bytes, another temperature list other (equally valid)
    samples.

Resume safety
    Files are written whole and atomically (:func:`ising.io.write_dataset`: temporary file,
    then rename), so a killed run leaves finished files and no torn ones. A rerun skips the
    points whose file exists and recomputes the group; since the run is deterministic and a
    point's lanes do not depend on the others, the missing files get exactly the bytes (spins
    and series) an uninterrupted run would have written.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ising import sample_temperature_grid
from ising.dataset import check_memory, summarize_dataset
from ising.io import write_dataset
from ising.samplers import SampleResult
from rgdl.sweep.spec import GRID_ENGINE, SweepPoint, point_seed

__all__ = ["GRID_ENGINE", "grid_eligible", "grid_groups", "grid_seed", "run_grid_group"]

def grid_eligible(params: Mapping[str, Any]) -> bool:
    """True for a point the multi-spin grid can run: 2D Metropolis, h = 0, even L >= 4."""
    return (int(params["dimension"]) == 2 and params["algorithm"] == "metropolis"
            and float(params["field"]) == 0.0 and int(params["size"]) >= 4
            and int(params["size"]) % 2 == 0)


def grid_groups(points: Iterable[Mapping[str, Any]]
                ) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Group eligible points that differ only in their temperature.

    Parameters
    ----------
    points : iterable of mapping
        Point parameters (``SweepPoint.params``).

    Returns
    -------
    groups : list of list of dict
        Each group's points ordered by temperature (groups in first-appearance order).
    rest : list of dict
        The points that are not eligible (:func:`grid_eligible`), in their order.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    rest: list[dict[str, Any]] = []
    for params in points:
        params = dict(params)
        if not grid_eligible(params):
            rest.append(params)
            continue
        key = repr(sorted((k, v) for k, v in params.items() if k != "temperature"))
        groups.setdefault(key, []).append(params)
    ordered = [sorted(g, key=lambda p: float(p["temperature"])) for g in groups.values()]
    return ordered, rest


def _check_group(points: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], list[float]]:
    if not points:
        raise ValueError("a grid group needs at least one point")
    common = [{k: v for k, v in p.items() if k != "temperature"} for p in points]
    if any(c != common[0] for c in common[1:]) or not all(grid_eligible(p) for p in points):
        raise ValueError("grid group points must be eligible and differ only in temperature")
    temps = [float(p["temperature"]) for p in points]
    if sorted(set(temps)) != temps:
        raise ValueError("grid group temperatures must be distinct and ascending")
    return common[0], temps


def grid_seed(points: Sequence[Mapping[str, Any]]) -> int:
    """The grid seed of a group (see the module docstring): a 63-bit integer."""
    common, temps = _check_group(points)
    return point_seed({**common, "grid_temperatures": temps})


def run_grid_group(points: Sequence[Mapping[str, Any]],
                   out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Compute a group of points in one multi-spin run and write their datasets.

    Parameters
    ----------
    points : sequence of mapping
        One group of :func:`grid_groups` (eligible, differing only in temperature, ascending).
    out_dir : str or os.PathLike
        The sweep directory; each point goes to ``out_dir / SweepPoint(params).file``.

    Returns
    -------
    list of dict
        Per point, in order: ``id``, ``path`` and ``adopted`` (its file already existed and
        was left as it is).

    Raises
    ------
    ValueError
        Points that cannot share a grid, or a group whose samples would not fit in memory.
    """
    common, temps = _check_group([dict(p) for p in points])
    out = Path(out_dir)
    entries = [SweepPoint(params=dict(p)) for p in points]
    paths = [out / e.file for e in entries]
    results = [{"id": e.point_id, "path": str(path), "adopted": path.exists()}
               for e, path in zip(entries, paths)]
    if all(r["adopted"] for r in results):
        return results
    n_samples, n_chains = int(common["n_samples"]), int(common["n_chains"])
    check_memory(2, int(common["size"]), n_samples * len(temps), n_chains)
    seed = grid_seed(points)
    samples = sample_temperature_grid(int(common["size"]), temps, n_samples=n_samples,
                                      coupling=float(common["coupling"]), n_chains=n_chains,
                                      burn_in=common["burn_in"], thin=common["thin"], seed=seed)
    for k, (entry, path, res) in enumerate(zip(entries, paths, samples)):
        if results[k]["adopted"]:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_dataset(path, res.spins, res.energy, res.magnetization,
                      attrs=_attributes(entry, res, common, seed, k, temps), overwrite=False)
    return results


def _attributes(entry: SweepPoint, res: SampleResult, common: Mapping[str, Any], seed: int,
                position: int, temps: Sequence[float]) -> dict[str, Any]:
    """HDF5 root attributes of one grouped point (the schema's, plus the grid provenance)."""
    summary = summarize_dataset(res.energy, res.magnetization, n_spins=res.spins[0].size,
                                temperature=float(entry.params["temperature"]), thin=res.thin,
                                n_chains=int(common["n_chains"]))
    calibrated = math.isfinite(res.tau_int)
    stored_tau = float("nan") if summary is None else float(summary.tau_int)
    attrs = {key: res.metadata[key] for key in ("dimension", "size", "temperature", "coupling",
                                                "field", "algorithm", "burn_in", "thin",
                                                "n_chains")}
    attrs.update(seed=entry.derived_seed, tau_int=res.tau_int if calibrated else stored_tau,
                 tau_int_source="calibration" if calibrated else "samples",
                 tau_int_stored=stored_tau, engine=GRID_ENGINE, grid_seed=seed,
                 grid_position=position, grid_temperatures=np.asarray(temps, dtype=np.float64))
    return attrs

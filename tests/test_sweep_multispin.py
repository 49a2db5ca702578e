"""Sweep points of one size on a multi-spin temperature grid (rgdl.sweep.multispin): grouping,
the per-point files (schema, seeds, provenance), reproduction from the recorded grid seed,
and resume safety (a lost file is rewritten with the same bytes); and ``rgdl sweep --engine
multispin-grid`` (SweepSpec.engine), which runs each group as one task."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from ising import sample_temperature_grid
from ising.dataset import summarize_dataset
from ising.io import read_attributes, read_dataset
from rgdl import sweep as sw
from rgdl.cli import main
from rgdl.sweep import SweepSpec, point_seed
from rgdl.sweep_multispin import GRID_ENGINE, grid_groups, grid_seed, run_grid_group


def _spec(**kw):
    args = dict(temperatures=(2.0, 2.5, 3.0), sizes=(6, 8), seeds=(1,), n_samples=40,
                n_chains=2, burn_in=30, thin=2)
    args.update(kw)
    return SweepSpec(**args)


def test_groups_split_by_everything_but_temperature():
    points = [p.params for p in _spec().points()]
    points += [p.params for p in _spec(sizes=(5,), algorithm="heatbath").points()]
    groups, rest = grid_groups(points)
    assert [[p["size"] for p in g] for g in groups] == [[6, 6, 6], [8, 8, 8]]
    assert [[p["temperature"] for p in g] for g in groups] == [[2.0, 2.5, 3.0]] * 2
    assert len(rest) == 3 and all(p["size"] == 5 for p in rest)


def test_files_are_valid_points_reproducible_from_the_grid_seed(tmp_path):
    group = grid_groups(p.params for p in _spec(sizes=(6,)).points())[0][0]
    results = run_grid_group(group, tmp_path)
    assert [r["adopted"] for r in results] == [False] * 3
    seed = grid_seed(group)
    again = sample_temperature_grid(6, [2.0, 2.5, 3.0], n_samples=40, n_chains=2, burn_in=30,
                                    thin=2, seed=seed)
    for k, (params, r) in enumerate(zip(group, results)):
        data = read_dataset(r["path"])
        attrs = read_attributes(r["path"])
        assert int(attrs["seed"]) == point_seed(params)  # the sweep's check of a point file
        assert attrs["engine"] == GRID_ENGINE and int(attrs["grid_seed"]) == seed
        assert int(attrs["grid_position"]) == k
        assert np.array_equal(attrs["grid_temperatures"], [2.0, 2.5, 3.0])
        assert float(attrs["temperature"]) == params["temperature"]
        assert (int(attrs["burn_in"]), int(attrs["thin"]), int(attrs["n_chains"])) == (30, 2, 2)
        assert np.array_equal(data.spins, again[k].spins)
        assert np.allclose(data.energy, again[k].energy)


def test_lost_file_is_rewritten_with_the_same_bytes(tmp_path):
    group = grid_groups(p.params for p in _spec(sizes=(6,), burn_in=None, thin=None).points())[0][0]
    first = run_grid_group(group, tmp_path)
    before = [read_dataset(r["path"]) for r in first]
    lost = first[1]["path"]
    os.remove(lost)
    second = run_grid_group(group, tmp_path)
    assert [r["adopted"] for r in second] == [True, False, True]
    after = read_dataset(lost)
    assert np.array_equal(after.spins, before[1].spins)
    assert np.array_equal(after.energy, before[1].energy)
    assert read_attributes(lost)["tau_int_source"] == "calibration"


def test_refuses_points_that_cannot_share_a_grid(tmp_path):
    points = [p.params for p in _spec().points()]  # two sizes
    with pytest.raises(ValueError, match="differ only in temperature"):
        run_grid_group(points, tmp_path)
    heat = [p.params for p in _spec(sizes=(6,), algorithm="heatbath").points()]
    with pytest.raises(ValueError, match="eligible"):
        run_grid_group(heat, tmp_path)


# ------------------------------------------------------------------------------------------
# rgdl sweep --engine multispin-grid
# ------------------------------------------------------------------------------------------
#: 2 sizes x 3 temperatures, tiny: the sweep of the engine tests.
GRID_KW = dict(temperatures=(2.0, 2.5, 3.0), sizes=(4, 6), seeds=(1,), n_samples=20,
               n_chains=2, burn_in=10, thin=2)
GRID_CLI = ["-T", "2.0,2.5,3.0", "-L", "4,6", "--seeds", "1", "-n", "20", "--chains", "2",
            "--burn-in", "10", "--thin", "2", "--workers", "0", "--no-progress", "-q"]


def _index(out):
    return json.loads((Path(out) / sw.INDEX_NAME).read_text())


def _content(path):
    """A dataset's bytes that carry data: spins, series and root attributes except the
    ``created`` time stamp (the one thing two runs of the same point write differently)."""
    data = read_dataset(path)
    attrs = {k: np.asarray(v).tolist() for k, v in read_attributes(path).items()
             if k != "created"}
    return (data.spins.tobytes(), np.asarray(data.energy).tobytes(),
            np.asarray(data.magnetization).tobytes(), attrs)


def _contents(out):
    return {e["id"]: _content(Path(out) / e["file"]) for e in _index(out)["points"]}


def _run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """The 6-point sweep with engine multispin-grid, run serially in this process."""
    out = tmp_path_factory.mktemp("grid") / "sweep"
    result = sw.run_sweep(SweepSpec(**GRID_KW, engine=GRID_ENGINE), out, workers=0)
    assert (result.n_points, result.n_computed, result.n_failed) == (6, 6, 0)
    return out


def test_grid_sweep_points_are_the_grid_runs(grid_sweep, tmp_path):
    """Every point file holds the spins of run_grid_group / sample_temperature_grid (its group,
    its grid seed, its position), and the index records it as done with its summary."""
    spec = SweepSpec(**GRID_KW, engine=GRID_ENGINE)
    index = _index(grid_sweep)
    assert index["spec"]["engine"] == GRID_ENGINE and index["spec_hash"] == spec.spec_hash
    groups, rest = grid_groups(p.params for p in spec.points())
    assert len(groups) == 2 and rest == []
    entries = {e["id"]: e for e in index["points"]}
    for group in groups:
        reference = run_grid_group(group, tmp_path / "reference")
        temps = [p["temperature"] for p in group]
        direct = sample_temperature_grid(group[0]["size"], temps, n_samples=20, n_chains=2,
                                         burn_in=10, thin=2, seed=grid_seed(group))
        for k, (ref, res) in enumerate(zip(reference, direct)):
            entry = entries[ref["id"]]
            path = grid_sweep / entry["file"]
            data = read_dataset(path)
            attrs = read_attributes(path)
            assert attrs["engine"] == GRID_ENGINE and int(attrs["grid_position"]) == k
            assert np.array_equal(data.spins, read_dataset(ref["path"]).spins)
            assert np.array_equal(data.spins, res.spins)
            assert np.array_equal(data.energy, read_dataset(ref["path"]).energy)
            assert entry["status"] == "done" and entry["sha256"] == sw.file_sha256(path)
            assert entry["error"] is None and entry["attempts"] == 1
            summary = entry["summary"]
            assert set(sw.SUMMARY_FIELDS) <= set(summary)
            assert summary["n_samples"] == 20 and (summary["burn_in"], summary["thin"]) == (10, 2)
            expected = summarize_dataset(res.energy, res.magnetization, n_spins=res.spins[0].size,
                                         temperature=temps[k], thin=2, n_chains=2)
            for name in ("energy", "binder"):
                assert summary[name]["value"] == tuple(getattr(expected, name))[0]


@pytest.mark.parametrize("lost", ["file", "file-and-index", "index"])
def test_grid_sweep_resumes_with_the_same_bytes(grid_sweep, tmp_path, lost):
    """A killed run is simulated by losing one point's file, its index entry, or both; the
    rerun recomputes (or adopts) that point only, with exactly the bytes of the full run."""
    out = tmp_path / "sweep"
    shutil.copytree(grid_sweep, out)
    before = _contents(out)
    index = _index(out)
    victim = index["points"][4]  # L = 6, T = 2.5: the middle of its group
    if lost != "index":
        os.remove(out / victim["file"])
    if lost != "file":
        victim.update(status="pending", sha256=None, summary=None)
        (out / sw.INDEX_NAME).write_text(json.dumps(index))
    untouched = {e["file"]: (out / e["file"]).stat().st_mtime_ns
                 for e in index["points"] if e["id"] != victim["id"]}
    result = sw.run_sweep(SweepSpec(**GRID_KW, engine=GRID_ENGINE), out, workers=0)
    assert (result.n_skipped, result.n_computed) == (5, 1)
    assert result.n_adopted == (1 if lost == "index" else 0)
    assert _contents(out) == before
    assert {f: (out / f).stat().st_mtime_ns for f in untouched} == untouched
    assert all(e["status"] == "done" for e in _index(out)["points"])


def test_ineligible_points_run_the_scalar_way(tmp_path):
    """L = 2 (too small for the grid) and 1D points run on their own, exactly as in a scalar
    sweep; the eligible L = 4 points of the same sweep come from the grid."""
    kw = dict(temperatures=(2.0, 3.0), sizes=(2, 4), seeds=(0,), n_samples=20, burn_in=10,
              thin=2)
    for spec_kw in (kw, dict(kw, dimension=1, sizes=(8,))):
        scalar = sw.run_sweep(SweepSpec(**spec_kw), tmp_path / "scalar", workers=0)
        grid = sw.run_sweep(SweepSpec(**spec_kw, engine=GRID_ENGINE), tmp_path / "grid",
                            workers=0)
        assert scalar.n_failed == grid.n_failed == 0
        for entry in grid.index["points"]:
            eligible = entry["params"]["dimension"] == 2 and entry["params"]["size"] == 4
            path_grid = tmp_path / "grid" / entry["file"]
            path_scalar = tmp_path / "scalar" / entry["file"]
            assert ("engine" in read_attributes(path_grid)) == eligible
            same = np.array_equal(read_dataset(path_grid).spins,
                                  read_dataset(path_scalar).spins)
            assert same != eligible
        shutil.rmtree(tmp_path / "scalar")
        shutil.rmtree(tmp_path / "grid")


def test_default_engine_keeps_the_sweep_identity(tmp_path):
    """The default (scalar) spec serialises and hashes as before engines existed (the value of
    main before this change), so old sweep directories resume; the engines are other sweeps."""
    spec = SweepSpec(**GRID_KW)
    assert spec.engine == "scalar" and "engine" not in spec.to_dict()
    assert spec.spec_hash == "9342e6f87ca2523891469e87ad1ee0fd0c46858f52076c0bf8ae7b792500bc17"
    assert SweepSpec(**spec.to_dict()) == spec
    grid = SweepSpec(**GRID_KW, engine=GRID_ENGINE)
    assert grid.spec_hash != spec.spec_hash and SweepSpec(**grid.to_dict()) == grid
    assert [p.params for p in grid.points()] == [p.params for p in spec.points()]
    with pytest.raises(ValueError, match="engine must be one of"):
        SweepSpec(**GRID_KW, engine="multispin")
    out = tmp_path / "old"
    sw.run_sweep(SweepSpec(**dict(GRID_KW, sizes=(4,), temperatures=(2.0,))), out, workers=0)
    assert "engine" not in _index(out)["spec"]
    with pytest.raises(ValueError, match="different sweep"):
        sw.run_sweep(SweepSpec(**dict(GRID_KW, sizes=(4,), temperatures=(2.0,)),
                               engine=GRID_ENGINE), out, workers=0)


def test_cli_engine_option_and_config_key(grid_sweep, tmp_path, capsys):
    out = tmp_path / "cli"
    code, _, stderr = _run_cli(["sweep", *GRID_CLI, "--engine", "multispin-grid", "--out",
                                str(out)], capsys)
    assert code == 0, stderr
    assert _contents(out) == _contents(grid_sweep)
    config = tmp_path / "sweep.toml"
    config.write_text('[sweep]\nengine = "multispin-grid"\n')
    code, _, stderr = _run_cli(["sweep", *GRID_CLI, "--config", str(config), "--out",
                                str(out)], capsys)  # the same sweep: resumes, nothing to do
    assert code == 0, stderr
    for args in (["--engine", "multispin"], ["--config", str(config)]):
        if args[0] == "--config":
            config.write_text('[sweep]\nengine = "fast"\n')
        code, stdout, stderr = _run_cli(["sweep", *GRID_CLI, *args, "--out",
                                         str(tmp_path / "bad")], capsys)
        assert code == 2 and stdout == ""
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and "engine" in lines[0]
        assert not (tmp_path / "bad").exists()


def test_grid_sweep_on_dask_matches_serial(grid_sweep, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    result = sw.run_sweep(SweepSpec(**GRID_KW, engine=GRID_ENGINE), out, workers=1)
    assert (result.n_computed, result.n_failed) == (6, 0)
    assert _contents(out) == _contents(grid_sweep)
    assert all(e["worker"]["numba_threads"] == 1 for e in _index(out)["points"])

"""Sweep points of one size on a multi-spin temperature grid (rgdl.sweep_multispin): grouping,
the per-point files (schema, seeds, provenance), reproduction from the recorded grid seed,
and resume safety (a lost file is rewritten with the same bytes)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ising import sample_temperature_grid
from ising.io import read_attributes, read_dataset
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

"""Iso et al.'s RBM-flow protocol: the MC-calibrated thermometer, the flow machinery, ``rgdl rbmflow``.

Statistical checks use fixed seeds; tolerances are multiples (4x) of the errors the code itself
reports (a false-alarm rate below 1e-4 per reading if the errors are right), plus an absolute
cap so that a thermometer with huge error bars cannot pass.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from analysis.iso_flow import (FLOW_MODES, fit_or_load_rbm, fixed_point, flow_configurations,
                               flow_temperatures, mc_configurations, model_checkpoint_name,
                               temperature_grid)
from analysis.thermometer import Thermometer, configuration_features

GRID = temperature_grid(1.0, 4.0, 0.25)
SIZE = 8
N_TRAIN = 200
CHECK_T = [1.6, 2.4, 3.3]


@pytest.fixture(scope="module")
def data():
    train = mc_configurations(SIZE, GRID, N_TRAIN, seed=11, purpose="thermometer")
    checks = mc_configurations(SIZE, CHECK_T, 300, seed=11, purpose="validation")
    return train.reshape(-1, SIZE, SIZE), np.repeat(GRID, N_TRAIN), list(checks)


@pytest.fixture(scope="module")
def thermometer(data):
    spins, labels, _ = data
    return Thermometer(random_state=0).fit(spins, labels)


def test_features_match_ising_energy_and_magnetization():
    import ising

    rng = np.random.default_rng(0)
    s = np.where(rng.random((5, 6, 6)) < 0.5, -1, 1).astype(np.int8)
    f = configuration_features(s)
    e = ising.energy_per_spin(s, 1.0, 0.0, 2)
    m = ising.magnetization_per_spin(s, 2)
    np.testing.assert_allclose(-2.0 * f[:, 0], e, atol=1e-12)
    np.testing.assert_allclose(f[:, 3], np.abs(m), atol=1e-12)
    np.testing.assert_allclose(f[:, 4], m ** 2, atol=1e-12)
    # slow reference of the diagonal and distance-2 correlations
    diag = np.array([np.mean([x[i, j] * (x[(i + 1) % 6, (j + 1) % 6] + x[(i + 1) % 6, (j - 1) % 6]) / 2
                              for i in range(6) for j in range(6)]) for x in s.astype(float)])
    two = np.array([np.mean([x[i, j] * (x[(i + 2) % 6, j] + x[i, (j + 2) % 6]) / 2
                             for i in range(6) for j in range(6)]) for x in s.astype(float)])
    np.testing.assert_allclose(f[:, 1], diag, atol=1e-12)
    np.testing.assert_allclose(f[:, 2], two, atol=1e-12)
    ground = np.ones((1, 6, 6))
    np.testing.assert_allclose(configuration_features(ground)[0], [1, 1, 1, 1, 1])
    with pytest.raises(ValueError):
        configuration_features(2 * ground)


def test_thermometer_reads_known_temperatures(thermometer, data):
    """Independent MC ensembles at off-grid temperatures are read within 4 errors and 0.2."""
    rows = thermometer.validate(data[2], CHECK_T, n_boot=200, seed=1)
    for r in rows:
        assert r["in_range"]
        assert 0 < r["T_eff_err"] < 0.15, r
        assert abs(r["deviation"]) <= 4 * r["T_eff_err"], r
        assert abs(r["deviation"]) <= 0.2, r
    # readings are reproducible and the calibration curve increases
    assert thermometer.validate(data[2], CHECK_T, n_boot=200, seed=1) == rows
    assert np.all(np.diff(thermometer.inverse_readings_) > 0)


def test_thermometer_refuses_or_fails_when_mislabelled(data):
    spins, labels, checks = data
    rng = np.random.default_rng(3)
    # labels permuted between temperatures: the calibration curve is not monotone
    perm = dict(zip(GRID, rng.permutation(GRID)))
    with pytest.raises(ValueError, match="mislabelled"):
        Thermometer(random_state=0).fit(spins, np.array([perm[t] for t in labels]))
    # labels shuffled between configurations: no temperature information
    with pytest.raises(ValueError, match="mislabelled"):
        Thermometer(random_state=0).fit(spins, rng.permutation(labels))
    # a consistent but wrong labelling (every label + 1) trains, and fails the validation
    shifted = Thermometer(random_state=0).fit(spins, labels + 1.0)
    rows = shifted.validate(checks, CHECK_T, n_boot=200, seed=1)
    assert all(abs(r["deviation"]) > max(4 * r["T_eff_err"], 0.2) for r in rows), rows


def test_thermometer_input_errors(data):
    spins, labels, _ = data
    with pytest.raises(ValueError):
        Thermometer().fit(spins, labels[:-1])
    with pytest.raises(ValueError):
        Thermometer().fit(spins[:40], labels[:40])  # one temperature only
    with pytest.raises(ValueError, match="not fitted"):
        Thermometer().measure(spins[:5])
    with pytest.raises(ValueError):
        Thermometer(calibration_fraction=0.0).fit(spins, labels)


def _constant_rbm(bias, n_visible=16, n_hidden=3):
    """A fitted binary RBM whose weights are then set to zero: p(v_i = 1 | h) = sigma(-bias)."""
    from rbm import RBM

    model = RBM(n_components=n_hidden, units="binary", n_iter=1, random_state=0, monitor_size=0)
    model.fit(np.random.default_rng(0).integers(0, 2, size=(20, n_visible)))
    model.weights_[...] = 0.0
    model.visible_bias_[...] = bias
    return model


def test_flow_machinery_on_a_model_with_known_conditionals():
    bias = 0.7
    model = _constant_rbm(bias)
    p_up = 1.0 / (1.0 + math.exp(bias))
    start = np.where(np.random.default_rng(1).random((4000, 4, 4)) < 0.5, -1, 1).astype(np.int8)
    mean = flow_configurations(model, start, 2, mode="mean")
    assert mean.shape == (3, 4000, 4, 4)
    np.testing.assert_array_equal(mean[0], start)
    np.testing.assert_allclose(mean[1:], 2 * p_up - 1, rtol=1e-6)
    flow = flow_configurations(model, start, 3, mode="sample", seed=5)
    assert set(np.unique(flow)) <= {-1.0, 1.0}
    m = flow[1:].mean(axis=(1, 2, 3))
    err = 2 * math.sqrt(p_up * (1 - p_up) / (4000 * 16))
    assert np.all(np.abs(m - (2 * p_up - 1)) < 5 * err), m
    np.testing.assert_array_equal(flow, flow_configurations(model, start, 3, mode="sample", seed=5))
    assert not np.array_equal(flow, flow_configurations(model, start, 3, mode="sample", seed=6))
    assert FLOW_MODES == ("sample", "mean")
    with pytest.raises(ValueError):
        flow_configurations(model, start[:, :3, :3], 1)
    with pytest.raises(ValueError):
        flow_configurations(model, start, -1)
    with pytest.raises(ValueError):
        flow_configurations(model, start, 1, mode="gibbs")


def test_flow_of_independent_spins_reads_infinite_temperature(thermometer):
    """Zero weights and biases: every flow step is uniformly random, the hottest reading."""
    model = _constant_rbm(0.0, n_visible=SIZE * SIZE)
    start = mc_configurations(SIZE, [1.5], 300, seed=2, purpose="flow")[0]
    t, e, inside = flow_temperatures(thermometer, flow_configurations(model, start, 2, seed=0),
                                     n_boot=50)
    assert abs(t[0] - 1.5) < 0.15
    assert np.all(t[1:] >= GRID[-1] - 0.3) and e.shape == (3,) and inside[0]


def test_fixed_point_combines_spread_and_statistics():
    t = np.array([[1.0, 2.0, 2.2, 2.2], [5.0, 3.0, 2.4, 2.4]])
    e = np.full_like(t, 0.03)
    fp = fixed_point(t, e, last=2)
    assert fp["value"] == pytest.approx(2.3)
    assert fp["spread"] == pytest.approx(np.std([2.2, 2.4], ddof=1))
    assert fp["statistical"] == pytest.approx(0.03)
    assert fp["error"] == pytest.approx(math.hypot(fp["spread"], 0.03))
    with pytest.raises(ValueError):
        fixed_point(t, e[:, :2])


def test_rbm_checkpoints_are_reused(tmp_path):
    spins = mc_configurations(4, [2.0, 3.0], 100, seed=0)
    settings = {"n_hidden": 4, "units": "binary", "n_epochs": 2, "learning_rate": 0.01,
                "batch_size": 50, "cd_k": 1, "seed": 3, "data": "test"}
    a, reused_a = fit_or_load_rbm(spins, settings, tmp_path)
    b, reused_b = fit_or_load_rbm(spins, settings, tmp_path)
    assert (reused_a, reused_b) == (False, True)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    other = dict(settings, n_epochs=3)
    (tmp_path / model_checkpoint_name(settings)).rename(tmp_path / model_checkpoint_name(other))
    with pytest.raises(ValueError, match="other settings"):
        fit_or_load_rbm(spins, other, tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "rgdl", "rbmflow", *args], capture_output=True,
                          text=True, timeout=timeout)


_TINY = ("--size", "6", "--t-min", "1", "--t-max", "4", "--t-step", "0.5", "--samples", "40",
         "--hidden", "4,9", "--epochs", "1", "--steps", "3", "--starts", "1,4",
         "--flow-samples", "20", "-q")


def test_cli_json_shape_and_checkpoint_reuse(tmp_path):
    out = tmp_path / "res"
    r = _run(*_TINY, "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert math.isfinite(result["fixed_point_T"]) and result["fixed_point_T_err"] >= 0
    assert [row["n_hidden"] for row in result["hidden_unit_table"]] == [4, 9]
    assert result["fixed_point_T"] == result["models"][0]["fixed_point"]["value"]
    for model in result["models"]:
        assert [f["T0"] for f in model["flows"]] == [1.0, 4.0]
        assert all(len(f["T_eff"]) == len(f["T_eff_err"]) == 4 for f in model["flows"])
        assert model["reused"] is False
    assert len(result["thermometer"]["validation"]) == 4
    assert 1.0 <= result["thermometer"]["training_mixture"]["value"] <= 4.0
    assert (out / "rbmflow.json").exists() and (out / "rbmflow_flows.png").exists()
    assert (out / "rbmflow_fixed_points.pdf").exists()
    assert len(list((out / "models").glob("rbm-*.npz"))) == 2
    # results exist: refused without --overwrite; with it, the trained RBMs are reused
    again = _run(*_TINY, "--json", "--out", str(out))
    assert again.returncode == 2 and again.stderr.startswith("Error: ") and "--overwrite" in again.stderr
    rerun = json.loads(_run(*_TINY, "--json", "--out", str(out), "--overwrite").stdout)
    assert all(m["reused"] for m in rerun["models"])
    assert rerun["fixed_point_T"] == result["fixed_point_T"]
    assert result["single_temperature"] is None


@pytest.mark.parametrize("args", [
    ("--hidden", "0"), ("--hidden", "a,b"), ("--hidden", "4,4"), ("--t-min", "-1"),
    ("--t-min", "3", "--t-max", "2"), ("--steps", "0"), ("--samples", "5"), ("--starts", ""),
    ("--starts", "1,-2"), ("--size", "2"), ("--epochs", "0"), ("--learning-rate", "nan"),
    ("--out", "/nonexistent-dir-rgdl/sub/out"), ("--mode", "gibbs"), ("--seed", "-1"), ("--contrast", "-1"),
])
def test_bad_input_one_line_error_exit_2(args):
    r = _run(*args, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_metropolis_training_data_run_as_one_grid():
    """algorithm="metropolis" runs the grid in multi-spin lanes (ising.sample_temperature_grid):
    each temperature's configurations are independent of the others in the grid (same bytes
    when another grid temperature changes), and their mean energy agrees with Kaufman's exact
    value (ising.validation.mean_test at p > 1e-4 each: false-alarm rate < 3e-4)."""
    from ising.exact import energy_per_spin_2d
    from ising.lattice import energy_per_spin
    from ising.validation import mean_test

    temps = [1.8, 2.3, 3.0]
    spins = mc_configurations(SIZE, temps, 400, seed=5, algorithm="metropolis")
    assert spins.shape == (3, 400, SIZE, SIZE) and spins.dtype == np.int8
    other = mc_configurations(SIZE, [1.8, 5.0, 3.0], 400, seed=5, algorithm="metropolis")
    assert np.array_equal(spins[0], other[0]) and np.array_equal(spins[2], other[2])
    assert not np.array_equal(spins[1], other[1])
    for t, s in zip(temps, spins):
        check = mean_test(energy_per_spin(s, 1.0, 0.0, 2), float(energy_per_spin_2d(SIZE, SIZE, t)))
        assert check.p_value > 1e-4, (t, check)

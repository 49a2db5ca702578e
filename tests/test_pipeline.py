"""End-to-end pipeline at a tiny size: outputs, caching, kill + resume, CLI."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from rgdl import pipeline
from rgdl.pipeline import ExperimentConfig, run_pipeline

TINY = dict(size=8, n_samples=240, mc_chains=4, layers=(16, 4), n_epochs=3, batch_size=20,
            analysis_samples=200, block_sizes=(1, 2, 4), generation_chains=8,
            generation_steps=24, generation_records=8, flow_temperatures=(2.0, 3.0),
            flow_samples=16, flow_steps=3, ais_betas=50, ais_runs=4, seed=3)

SUMMARY_KEYS = {"generated_energy_rel_error", "generated_abs_magnetization_rel_error",
                "generation_rhat", "kl_per_spin_layer1", "rbm_flow_fixed_point_T"}
LAYER_KEYS = {"receptive_field_radius", "block_fidelity", "block_fidelity_null",
              "best_block_size", "correlation_length"}
FIGURES = ("receptive_fields", "localization", "reconstructions", "fidelity", "fidelity_local",
           "correlation_lengths", "correlation_functions", "thermodynamics", "rbm_flow")


class _Kill(Exception):
    pass


def _stage_mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / ".stages").glob("*.json")}


def _weights(out):
    models = sorted((out / "models").glob("*/trained/stack.npz"))
    assert len(models) == 1
    with np.load(models[0]) as z:
        return {k: z[k].copy() for k in z.files if k != "meta"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    summary = run_pipeline(ExperimentConfig(**TINY), out)
    return out, summary


def test_outputs(finished):
    out, summary = finished
    assert SUMMARY_KEYS <= set(summary)
    assert len(summary["layers"]) == 2
    for layer in summary["layers"]:
        assert LAYER_KEYS <= set(layer)
        assert layer["best_block_size"] in (1, 2, 4)
        assert 0.0 <= layer["block_fidelity"] <= 1.0
        assert set(layer["block_fidelity_null"]) == {"untrained", "shuffled"}
        assert set(layer["block_fidelity_local_null"]) == {"untrained", "shuffled"}
        assert -1e-9 <= layer["block_fidelity_local"] <= 1.0
    assert json.loads((out / "summary.json").read_text()) == summary
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
        assert (out / "figures" / f"{name}.pdf").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "R̂" in report
    # per-stage and per-analysis-sub-stage wall times
    timings = summary["timings"]
    assert {"simulate", "train", "analyse", "figures"} <= set(timings)
    assert {"localization", "fidelity", "correlations", "generation", "kl_ais",
            "rbm_flow"} <= set(timings["analyse_substages"])
    assert all(v >= 0 for v in timings["analyse_substages"].values())
    # AIS bias is stated, and its schedule check is reported
    assert "lower bound" in report and "biased low" in report
    assert "kl_ais_schedule_shift_per_spin" in summary
    assert "epochs per layer" in report  # the null's training budget
    if not summary["generation_equilibrated"]:
        assert "not equilibrated" in report
    assert not list(out.rglob(".*.tmp*"))


def test_rerun_skips_finished_stages(finished):
    out, summary = finished
    before = _stage_mtimes(out)
    analysis_mtime = (out / "analysis" / "arrays.npz").stat().st_mtime_ns
    events = []
    again = run_pipeline(ExperimentConfig(**TINY), out,
                         progress=lambda stage, done, total: events.append((stage, done, total)))
    assert ("simulate", None, "cached") in events
    assert ("analyse", None, "cached") in events
    assert ("figures", None, "cached") in events
    assert not any(stage.startswith("train layer") for stage, _, _ in events)
    assert (out / "analysis" / "arrays.npz").stat().st_mtime_ns == analysis_mtime
    after = _stage_mtimes(out)
    for name in ("simulate.json", "analyse.json", "figures.json"):
        assert after[name] == before[name]
    volatile = ("stage_seconds", "timings")
    assert {k: v for k, v in again.items() if k not in volatile} == \
        {k: v for k, v in summary.items() if k not in volatile}


def test_killed_run_resumes_to_identical_models(finished, tmp_path):
    ref_out, ref_summary = finished
    out = tmp_path / "killed"

    def killer(stage, done, total):
        if stage == "train layer 2" and done == 2:
            raise _Kill()

    with pytest.raises(_Kill):
        run_pipeline(ExperimentConfig(**TINY), out, progress=killer)
    assert not (out / "summary.json").exists()
    assert not list((out / "models").glob("*/trained/stack.npz"))
    layer1 = [p for p in (out / "models").glob("*/trained/checkpoint.layer1*")]
    assert len(layer1) == 1 and list((out / "models").glob("*/trained/checkpoint.layer2*"))
    layer1 = layer1[0]
    mtime = layer1.stat().st_mtime_ns

    events = []
    summary = run_pipeline(ExperimentConfig(**TINY), out,
                           progress=lambda stage, done, total: events.append((stage, done)))
    assert layer1.stat().st_mtime_ns == mtime  # finished layer not retrained
    assert not any(stage == "train layer 1" for stage, _ in events)
    assert min(done for stage, done in events if stage == "train layer 2") == 3
    got, ref = _weights(out), _weights(ref_out)
    assert got.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])
    assert summary["layers"] == ref_summary["layers"]


def test_changed_parameter_invalidates_downstream(finished, tmp_path):
    out = tmp_path / "changed"
    shutil.copytree(finished[0], out)
    report = (out / "report.md").read_bytes()
    # another configuration's results are not replaced without overwrite (issue 13)
    with pytest.raises(FileExistsError, match="another configuration"):
        run_pipeline(ExperimentConfig(**{**TINY, "flow_steps": 2}), out)
    assert (out / "report.md").read_bytes() == report
    events = []
    run_pipeline(ExperimentConfig(**{**TINY, "flow_steps": 2}), out, overwrite=True,
                 progress=lambda stage, done, total: events.append((stage, done, total)))
    assert ("simulate", None, "cached") in events
    assert ("train", None, "cached") in events
    assert ("analyse", None, "running") in events
    assert ("figures", None, "running") in events
    assert not any(stage.startswith("train layer") for stage, _, _ in events)


def test_bad_config(tmp_path):
    with pytest.raises(ValueError, match="n_epochs"):
        ExperimentConfig(**{**TINY, "n_epochs": 0})
    with pytest.raises(ValueError, match="block size"):
        ExperimentConfig(**{**TINY, "block_sizes": (16,)})
    with pytest.raises(ValueError, match="preset"):
        pipeline.preset("huge")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        run_pipeline(ExperimentConfig(**TINY), f)
    with pytest.raises(FileNotFoundError):
        run_pipeline(ExperimentConfig(**TINY), tmp_path / "missing" / "out")


def test_cli(finished, tmp_path, monkeypatch):
    from rgdl.cli import cli

    monkeypatch.setitem(pipeline.PRESETS, "quick", {k: v for k, v in TINY.items() if k != "seed"})
    out = tmp_path / "cli"
    runner = CliRunner()
    result = runner.invoke(cli, ["reproduce", "--quick", "--out", str(out), "--seed", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert "best block b" in result.output
    assert (out / "summary.json").exists()
    bad = runner.invoke(cli, ["reproduce", "--out", str(tmp_path / "x"), "--seed", "-1"])
    assert bad.exit_code != 0
    both = runner.invoke(cli, ["reproduce", "--quick", "--paper", "--out", str(tmp_path / "y")])
    assert both.exit_code == 2 and "mutually exclusive" in both.output
    assert not (tmp_path / "y").exists()


def _script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scripts(finished, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(pipeline.PRESETS, "quick", {k: v for k, v in TINY.items() if k != "seed"})
    out = tmp_path / "paper"
    shutil.copytree(finished[0], out)
    assert _script("reproduce_paper").main(["--quick", "--out", str(out), "--seed", "3"]) == 0
    assert "analyse: cached" in capsys.readouterr().out
    study = tmp_path / "study"
    assert _script("temperature_study").main(["--temperatures", "2.5", "--out", str(study)]) == 0
    rows = json.loads((study / "temperature_study.json").read_text())
    assert rows[0]["temperature"] == 2.5 and len(rows[0]["layers"]) == 2
    assert (study / "temperature_study.png").exists() and (study / "T2.5" / "report.md").exists()


def test_force_recovers_from_corrupt_cached_stages(finished, tmp_path):
    """Truncated cached data and models: a one-line error naming --force; --force recomputes
    them (same seeds, so the same results)."""
    ref_out, ref_summary = finished
    out = tmp_path / "corrupt"
    shutil.copytree(ref_out, out)
    data = next((out / "data").glob("*/ising.h5"))
    stack = next((out / "models").glob("*/trained/stack.npz"))
    for path in (data, stack):
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    truncated = data.read_bytes()
    with pytest.raises(ValueError, match="--force") as info:
        run_pipeline(ExperimentConfig(**TINY), out)
    assert "corrupt or truncated" in str(info.value) and "\n" not in str(info.value)
    assert data.read_bytes() == truncated  # nothing replaced without --force
    summary = run_pipeline(ExperimentConfig(**TINY), out, force=True)
    assert summary["layers"] == ref_summary["layers"]
    assert _weights(out).keys() == _weights(ref_out).keys()

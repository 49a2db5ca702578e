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
    # progress inside the analysis' longest steps (issue 13)
    for step in ("block-spin fidelity", "KL (AIS)", "RBM flow"):
        counts = [(d, t) for s, d, t in events if s == f"analyse: {step}"]
        assert counts[0][0] == 0 and counts[-1][0] == counts[-1][1] and len(counts) >= 3, step
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


# ----------------------------------------------------------------------------------------------
# issue 13: figures never contradict the report; nulls flagged; meaningless metrics omitted
# ----------------------------------------------------------------------------------------------
def _analysis(out):
    return json.loads((out / "analysis" / "analysis.json").read_text())


def _captured_figures(monkeypatch):
    """Keep every Figure that is saved, by the first line of its first axes' title."""
    from matplotlib.figure import Figure

    drawn = {}

    def savefig(fig, *args, **kwargs):
        drawn[fig.axes[0].get_title().split("\n")[0]] = fig

    monkeypatch.setattr(Figure, "savefig", savefig)
    return drawn


def _texts(fig):
    ax = fig.axes[0]
    return [t.get_text() for t in ax.texts], ax.get_title(), \
        [t.get_text() for t in ax.get_legend().get_texts()]


def test_unequilibrated_generation_is_marked_in_figures_and_report(finished, monkeypatch, tmp_path):
    out, _ = finished
    analysis = _analysis(out)
    for label, equilibrated, rhat in (("rbm1", False, 1.64), ("stack", True, 1.01)):
        analysis["generation"][label].update(equilibrated=equilibrated, rhat_max=rhat)
    drawn = _captured_figures(monkeypatch)
    cfg = ExperimentConfig(**TINY)
    pipeline.draw_figures(cfg, analysis, out / "analysis" / "arrays.npz", tmp_path)
    for stem, curve in (("Thermodynamics of generated samples", "RBM 1"),
                        ("Connected correlation functions", "RBM 1 samples")):
        texts, title, legend = _texts(drawn[stem])
        mark = f"{curve}: NOT EQUILIBRATED (R-hat = 1.64)"
        assert any(mark in t and "not usable" in t for t in texts), (stem, texts)  # watermark
        assert f"{mark}: not usable" in title, (stem, title)
        assert f"{curve} (not equilibrated)" in legend
        assert not any("stack" in t for t in texts) and "stack" not in title  # equilibrated
    report = pipeline.render_report(cfg, analysis, pipeline.make_summary(cfg, analysis, {}))
    assert 'marked "NOT EQUILIBRATED (R-hat = 1.64)": not usable' in report
    assert report.count("**Caveat:** RBM 1") == 2  # captions of both figures
    assert "Caveat:** whole stack" not in report

    # all equilibrated: nothing is marked
    for g in analysis["generation"].values():
        g.update(equilibrated=True, rhat_max=1.0)
    drawn.clear()
    pipeline.draw_figures(cfg, analysis, out / "analysis" / "arrays.npz", tmp_path)
    for stem in ("Thermodynamics of generated samples", "Connected correlation functions"):
        texts, title, _ = _texts(drawn[stem])
        assert not texts and "NOT EQUILIBRATED" not in title
    assert "Caveat" not in pipeline.render_report(cfg, analysis, pipeline.make_summary(cfg, analysis, {}))


def _layer(fidelity, error, nulls):
    """A per-layer analysis entry at best b = 2 with nulls ``name -> (fidelity, error)``."""
    return {"block_fidelity": fidelity, "block_fidelity_error": error, "best_block_size": 2,
            "fidelity_scan_null": {name: {"block_sizes": [1, 2, 4], "fidelity": [0.0, f, 0.0],
                                          "fidelity_error": [9.0, e, 9.0]}
                                   for name, (f, e) in nulls.items()}}


def test_null_separation_criterion():
    # at the shuffled null: not separated, margin 0
    at_null = pipeline.null_separation(_layer(0.654, 0.01, {"untrained": (0.3, 0.01),
                                                            "shuffled": (0.654, 0.01)}))
    assert not at_null["separated"] and at_null["margin_sigma"] == pytest.approx(0.0)
    # below the null (issue 13's quick run: 0.654 vs 0.678)
    below = pipeline.null_separation(_layer(0.654, 0.012, {"untrained": (0.46, 0.01),
                                                           "shuffled": (0.678, 0.013)}))
    assert not below["separated"] and below["margin_sigma"] < 0
    # margin in units of the combined error sqrt(0.03^2 + 0.04^2) = 0.05, the smaller null's
    sep = pipeline.null_separation(_layer(0.9, 0.03, {"untrained": (0.2, 0.04),
                                                      "shuffled": (0.75, 0.04)}))
    assert sep["margin_sigma"] == pytest.approx(3.0)
    assert sep["margin_sigma_per_null"]["untrained"] == pytest.approx(14.0)
    assert sep["separated"]
    # just inside / outside 2 combined errors
    assert not pipeline.null_separation(_layer(0.849, 0.03, {"shuffled": (0.75, 0.04)}))["separated"]
    assert pipeline.null_separation(_layer(0.851, 0.03, {"shuffled": (0.75, 0.04)}))["separated"]


def test_layer_at_the_null_is_flagged_in_summary_and_report(finished):
    out, summary = finished
    for layer in summary["layers"]:
        assert isinstance(layer["separated_from_null"], bool)
        assert set(layer["null_margin_sigma_per_null"]) == {"untrained", "shuffled"}
        assert layer["null_margin_sigma"] == min(layer["null_margin_sigma_per_null"].values())
    assert "2 sqrt(s_F^2 + s_n^2)" in summary["null_separation_criterion"]
    cfg = ExperimentConfig(**TINY)
    analysis = _analysis(out)
    layer = analysis["layers"][0]
    b = layer["best_block_size"]
    k = layer["fidelity_scan"]["block_sizes"].index(b)
    layer["fidelity_scan_null"]["shuffled"]["fidelity"][k] = layer["block_fidelity"]  # at the null
    flagged = pipeline.make_summary(cfg, analysis, {})
    assert flagged["layers"][0]["separated_from_null"] is False
    assert flagged["layers"][0]["null_margin_sigma"] == pytest.approx(0.0)
    report = pipeline.render_report(cfg, analysis, flagged)
    row = next(line for line in report.splitlines() if line.startswith("| 1 |"))
    assert "**not separated from the null**" in row
    assert "Separation from the nulls: a layer is separated" in report


def test_cli_flags_layers_not_separated_and_omitted_xi(finished, monkeypatch, tmp_path):
    from rgdl.cli import cli

    _, summary = finished
    crafted = json.loads(json.dumps(summary))
    crafted["layers"][0].update(separated_from_null=False, null_margin_sigma=-1.25)
    crafted["layers"][1].update(separated_from_null=True, null_margin_sigma=4.5)
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *a, **k: crafted)
    result = CliRunner().invoke(cli, ["reproduce", "--quick", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "NOT SEPARATED FROM THE NULL (margin -1.25 sigma)" in lines[1]
    assert "separated from the null (margin +4.50 sigma)" in lines[2]
    assert "2 sqrt(s_F^2 + s_n^2)" in result.output  # the criterion is stated
    assert "xi -[1]" in lines[2] and "[1] xi omitted for layer 2: 4 units" in result.output


def test_xi_of_a_2x2_layer_is_omitted_with_reason(finished):
    out, summary = finished
    big, small = summary["layers"]  # TINY: 16 units (4x4) and 4 units (2x2)
    assert big["correlation_length"]["value"] > 0 and big["correlation_length_reason"] is None
    assert small["correlation_length"] is None
    assert "linear size 2 < 4" in small["correlation_length_reason"]
    assert summary["min_linear_size_for_xi"] == 4
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| 2 |"))
    assert "—[^xi1]" in row
    assert "[^xi1]: ξ omitted: 4 units = linear size 2 < 4" in report
    assert pipeline.xi_omission_reason(15) and pipeline.xi_omission_reason(16) is None


def test_local_fidelity_is_flagged_against_its_nulls(finished, monkeypatch, tmp_path):
    """The local fidelity has the global one's null-separation flag (issue 13), in summary.json,
    report.md and the CLI output."""
    from rgdl.cli import cli

    out, summary = finished
    for layer in summary["layers"]:
        assert isinstance(layer["separated_from_null_local"], bool)
        assert set(layer["null_margin_sigma_per_null_local"]) == {"untrained", "shuffled"}
        assert layer["null_margin_sigma_local"] == min(layer["null_margin_sigma_per_null_local"].values())
        assert layer["block_fidelity_local_error"] >= 0
    cfg = ExperimentConfig(**TINY)
    analysis = _analysis(out)
    layer = analysis["layers"][0]
    scan = layer["fidelity_scan_local"]
    k = scan["block_sizes"].index(layer["best_block_size_local"])
    assert summary["layers"][0]["block_fidelity_local_error"] == scan["fidelity_error"][k]
    # the shuffled null's local fidelity equal to the trained layer's: margin 0, not separated
    layer["fidelity_scan_local_null"]["shuffled"]["fidelity"][k] = layer["block_fidelity_local"]
    for name in layer["fidelity_scan_local_null"]:  # and a clear margin against the other null
        if name != "shuffled":
            layer["fidelity_scan_local_null"][name]["fidelity"][k] = layer["block_fidelity_local"] - 1.0
    sep = pipeline.null_separation(layer, local=True)
    assert not sep["separated"] and sep["margin_sigma"] == pytest.approx(0.0)
    flagged = pipeline.make_summary(cfg, analysis, {})
    assert flagged["layers"][0]["separated_from_null_local"] is False
    assert flagged["layers"][0]["null_margin_sigma_local"] == pytest.approx(0.0)
    report = pipeline.render_report(cfg, analysis, flagged)
    row = next(line for line in report.splitlines() if line.startswith("| 1 |"))
    local_column = row.split(" | ")[7]
    assert "**not separated from the null** (+0.00 σ)" in local_column
    # the CLI prints the verdict on the layer's line
    crafted = json.loads(json.dumps(summary))
    crafted["layers"][0].update(separated_from_null=True, null_margin_sigma=5.0,
                                separated_from_null_local=False, null_margin_sigma_local=-0.5)
    crafted["layers"][1].update(separated_from_null=True, null_margin_sigma=5.0,
                                separated_from_null_local=True, null_margin_sigma_local=3.25)
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *a, **k: crafted)
    result = CliRunner().invoke(cli, ["reproduce", "--quick", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "local fidelity" in lines[1] and "NOT SEPARATED FROM THE NULL (margin -0.50 sigma)" in lines[1]
    assert "local fidelity" in lines[2] and "separated from the null (margin +3.25 sigma)" in lines[2]
    assert "2 sqrt(s_F^2 + s_n^2)" in result.output  # the criterion is stated

"""Tests of ``rgdl flow1d`` through the real entry point (``python -m rgdl``)."""

import json
import math
import subprocess
import sys

import pytest

from rgdl.decimation import decimation_flow

_REQUIRED = ("step", "size", "K_decimation", "K_rbm_exact", "kl_per_spin", "trace_residual",
             "fit_residual", "K_majority", "majority_fit_residual")
_LEARNED = ("K_learned", "K_learned_encoder", "kl_per_spin_learned", "learned_fit_residual",
            "learned_fit_residual_weighted",
            "encoder_fit_residual", "learned_couplings", "encoder_couplings")


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "rgdl", "flow1d", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_json_has_documented_keys_and_exact_flow():
    r = _run("--coupling", "0.8", "--size", "8", "--steps", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["coupling"] == 0.8 and out["size"] == 8 and out["learned"] is False
    assert len(out["steps"]) == 2 and out["figure"] is None
    expected = decimation_flow(0.8, 2)
    for s, k in zip(out["steps"], expected[1:]):
        assert all(key in s for key in _REQUIRED)
        assert not any(key in s for key in _LEARNED)
        assert abs(s["K_decimation"] - k) <= 1e-14
        assert abs(s["K_rbm_exact"] - k) <= 1e-10
        assert s["kl_per_spin"] <= 1e-10 and s["trace_residual"] <= 1e-12
    assert [s["size"] for s in out["steps"]] == [4, 2]


def test_table_and_figure(tmp_path):
    fig = tmp_path / "flow.png"
    r = _run("-K", "1.2", "-N", "8", "--steps", "2", "--out", str(fig))
    assert r.returncode == 0, r.stderr
    assert "K decimation" in r.stdout and "K exact RBM" in r.stdout and "K majority" in r.stdout
    assert len([line for line in r.stdout.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2
    png, pdf = tmp_path / "flow.png", tmp_path / "flow.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_learned_is_seeded_and_reports_keys():
    args = ("-K", "1.0", "-N", "8", "--steps", "1", "--learned", "--epochs", "3", "--samples", "600",
            "--seed", "5", "--json")
    a = _run(*args)
    assert a.returncode == 0, a.stderr
    out = json.loads(a.stdout)
    step = out["steps"][0]
    assert all(key in step for key in _LEARNED)
    assert math.isfinite(step["K_learned"]) and step["kl_per_spin_learned"] >= 0
    b = json.loads(_run(*args).stdout)
    assert b["steps"][0]["K_learned"] == step["K_learned"]
    assert b["steps"][0]["kl_per_spin_learned"] == step["kl_per_spin_learned"]


@pytest.mark.parametrize("args", [
    ("-K", "0"), ("-K", "-0.5"), ("-K", "nan"), ("-K", "1", "-N", "7"), ("-K", "1", "-N", "32"),
    ("-K", "1", "--steps", "0"), ("-K", "1", "--steps", "-1"), ("-K", "1", "-N", "12", "--steps", "3"),
    ("-K", "1", "--out", "/nonexistent-dir-rgdl/fig.png"), ("--size", "8"),
])
def test_bad_input_one_line_error_exit_2(args):
    r = _run(*args, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""

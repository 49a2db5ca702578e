"""Tests of rgdl.sweep and ``rgdl sweep``: seeds, Dask vs serial, kill + resume, bad input.

Small grids (4 points of 6x6 / 8x8 Wolff lattices, 300 samples) keep the whole file quick; the
two LocalCluster tests start 2 worker processes each.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from rgdl import sweep as sw
from rgdl.cli import main

pytest.importorskip("dask.distributed")

SPEC_KW = dict(temperatures=[2.2, 2.4], sizes=[6, 8], seeds=[0], algorithm="wolff",
               n_samples=300, burn_in=20, thin=2)
CLI_ARGS = ["-T", "2.2,2.4", "-L", "6,8", "-a", "wolff", "-n", "300", "--burn-in", "20",
            "--thin", "2", "--no-progress", "-q"]


def _spins(path):
    with h5py.File(path, "r") as h5:
        return h5["spins"][...]


def _finished(out):
    index = json.loads((Path(out) / sw.INDEX_NAME).read_text())
    return {e["id"]: e for e in index["points"]}


def _fingerprints(out):
    """{file: (mtime_ns, sha256)} of every finished point file."""
    return {e["file"]: ((Path(out) / e["file"]).stat().st_mtime_ns,
                        sw.file_sha256(Path(out) / e["file"]))
            for e in _finished(out).values() if e["status"] == "done"}


def _run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.fixture(scope="module", autouse=True)
def one_numba_thread():
    """Serial runs in this process use one numba thread, like the Dask workers: tiny lattices
    gain nothing from threads, and the parallel-region launches cost milliseconds each on a
    loaded machine. (Bytes do not depend on the thread count, docs/CONTRACTS.md.)"""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    """The reference: the 4-point sweep run serially in this process."""
    out = tmp_path_factory.mktemp("serial") / "sweep"
    result = sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, workers=0)
    assert result.n_computed == 4 and result.n_failed == 0
    return out


# ------------------------------------------------------------------------------------------
# parsing, seeds, index
# ------------------------------------------------------------------------------------------
def test_parse_values():
    assert sw.parse_values("2.1,2.2") == [2.1, 2.2]
    assert sw.parse_values("2:3:5") == [2.0, 2.25, 2.5, 2.75, 3.0]
    assert sw.parse_values("8,16,16", kind=int) == [8, 16]
    assert sw.parse_values("0:4:3", kind=int) == [0, 2, 4]
    # linspace values are rounded so that hashes do not depend on float noise
    assert sw.parse_values("2.1:2.3:3") == [2.1, 2.2, 2.3]
    for bad in ("", " ", "2.1,,2.2", "a,b", "1:2", "1:2:0", "1:2:1.5", "nan"):
        with pytest.raises(ValueError):
            sw.parse_values(bad)
    with pytest.raises(ValueError):
        sw.parse_values("1.5", kind=int)


def test_point_seeds_are_stable_and_distinct():
    spec = sw.SweepSpec(**SPEC_KW)
    points = spec.points()
    seeds = [p.derived_seed for p in points]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2 ** 63 for s in seeds)
    # same parameters, other grid/order -> same seed (independent of scheduling and grid)
    other = sw.SweepSpec(**{**SPEC_KW, "temperatures": [2.4, 2.3, 2.2], "sizes": [8, 6]})
    by_id = {p.point_id: p.derived_seed for p in other.points()}
    for p in points:
        assert by_id[p.point_id] == p.derived_seed
    # a different seed entry gives a different stream
    s1 = sw.SweepSpec(**{**SPEC_KW, "seeds": [1]}).points()
    assert {p.derived_seed for p in s1}.isdisjoint(seeds)
    # not Python's salted hash(): the same in a process with another PYTHONHASHSEED
    code = ("from rgdl import sweep as sw; import json, sys; "
            f"spec = sw.SweepSpec(**json.loads({json.dumps(json.dumps(SPEC_KW))})); "
            "print(json.dumps([p.derived_seed for p in spec.points()]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    text = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout
    assert json.loads(text) == seeds


def test_spec_file_toml_and_json(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(textwrap.dedent("""
        [sweep]
        temperatures = "2.2:2.4:3"
        sizes = [6, 8]
        algorithm = "wolff"
        samples = 300
        burn_in = 20
        thin = 2
    """))
    spec = sw.spec_from_options(sw.load_spec_file(toml))
    assert spec.temperatures == (2.2, 2.3, 2.4) and spec.sizes == (6, 8)
    assert spec.n_samples == 300 and spec.algorithm == "wolff"
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"temperatures": [2.2, 2.3, 2.4], "sizes": [6, 8],
                              "algorithm": "wolff", "n_samples": 300, "burn_in": 20, "thin": 2}))
    assert sw.spec_from_options(sw.load_spec_file(js)).spec_hash == spec.spec_hash
    # command-line overrides win
    assert sw.spec_from_options(sw.load_spec_file(js), sizes=[10]).sizes == (10,)
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\ntemperature = [2.2]\n")
    with pytest.raises(ValueError, match="unknown key"):
        sw.load_spec_file(bad)
    trained = tmp_path / "t.toml"
    trained.write_text(toml.read_text() + "\n[train]\nlayers = [16, 4]\nepochs = 3\n")
    spec_t = sw.spec_from_options(sw.load_spec_file(trained))
    assert spec_t.train == sw.TrainSpec(layers=(16, 4), epochs=3)
    assert spec_t.spec_hash != spec.spec_hash
    assert all(p.model_file.endswith(".npz") for p in spec_t.points())
    trained.write_text(toml.read_text() + "\n[train]\nlayer = [16]\n")
    with pytest.raises(ValueError, match="train"):
        sw.load_spec_file(trained)
    broken = tmp_path / "broken.toml"
    broken.write_text("[sweep\n")
    with pytest.raises(ValueError, match="cannot parse"):
        sw.load_spec_file(broken)
    with pytest.raises(ValueError, match="empty"):
        sw.spec_from_options({"sizes": [8]})


def test_rerun_is_idempotent_and_checks_content(tmp_path, serial_run):
    out = tmp_path / "sweep"
    spec = sw.SweepSpec(**SPEC_KW)
    sw.run_sweep(spec, out, workers=0)
    before = _fingerprints(out)
    assert len(before) == 4
    result = sw.run_sweep(spec, out, workers=0)
    assert (result.n_skipped, result.n_computed) == (4, 0)
    assert _fingerprints(out) == before
    # a finished file whose content changed is set aside and recomputed, identically
    victim = sorted(before)[0]
    with h5py.File(out / victim, "r+") as h5:
        h5["spins"][0] *= -1
    result = sw.run_sweep(spec, out, workers=0)
    assert (result.n_skipped, result.n_computed) == (3, 1)
    assert list((out / victim).parent.glob(Path(victim).name + ".modified-*"))
    assert sw.file_sha256(out / victim) != ""
    np.testing.assert_array_equal(_spins(out / victim), _spins(serial_run / victim))
    after = _fingerprints(out)
    for name in before:
        if name != victim:
            assert after[name] == before[name]


def _fail(event, point_id, out_dir):
    raise OSError("injected failure")


def test_corrupt_partial_and_foreign_final_file(tmp_path, serial_run):
    """A garbage partial file is set aside and the point recomputed; so is a final file that
    the index never accepted and that is not this point's dataset."""
    out = tmp_path / "corrupt"
    spec = sw.SweepSpec(**SPEC_KW)
    first, second = spec.points()[:2]
    with pytest.raises(sw.SweepError, match="4 of 4 points failed"):  # creates the index only
        sw.run_sweep(spec, out, workers=0, retries=0, task_hook=_fail)
    assert {e["status"] for e in _finished(out).values()} == {"failed"}
    (out / (first.file + ".partial")).write_bytes(b"not hdf5")
    (out / second.file).write_bytes(b"not hdf5 either")
    result = sw.run_sweep(spec, out, workers=0)
    assert (result.n_computed, result.n_failed) == (4, 0)
    points = out / sw.POINTS_DIR
    assert len(list(points.glob("*.partial.corrupt-*"))) == 1
    assert len(list(points.glob("*.h5.corrupt-*"))) == 1
    for p in (first, second):
        assert _spins(out / p.file).tobytes() == _spins(serial_run / p.file).tobytes()


@pytest.mark.parametrize("layers", [(8,), (8, 4)])
def test_training_points(tmp_path, layers):
    rbm = pytest.importorskip("rbm")
    out = tmp_path / "train"
    kw = {**SPEC_KW, "temperatures": [2.2], "sizes": [6],
          "train": sw.TrainSpec(layers=layers, epochs=2, batch_size=50)}
    spec = sw.SweepSpec(**kw)
    sw.run_sweep(spec, out, workers=0)
    (entry,) = _finished(out).values()
    assert entry["status"] == "done" and entry["model_file"].endswith(".npz")
    model_path = out / entry["model_file"]
    assert entry["model_sha256"] == sw.file_sha256(model_path)
    model = rbm.load_model(model_path)
    # reproducible: the same as fitting directly with the point's training seed
    spins = sw.read_spins_for_training(out / entry["file"])
    hyper = dict(learning_rate=0.01, batch_size=50, n_iter=2, cd_k=1, l1=0.0)
    if len(layers) == 1:
        assert model.weights_.shape == (36, 8)
        direct = rbm.RBM(n_components=8, units="spin", random_state=sw.train_seed(entry["params"]),
                         **hyper).fit(spins)
        np.testing.assert_array_equal(model.weights_, direct.weights_)
    else:
        assert [layer.weights_.shape for layer in model.layers_] == [(36, 8), (8, 4)]
        direct = rbm.DBN(list(layers), units="spin", rbm_params=hyper,
                         random_state=sw.train_seed(entry["params"])).fit(spins)
        for a, b in zip(model.layers_, direct.layers_):
            np.testing.assert_array_equal(a.weights_, b.weights_)
    assert not list(model_path.parent.glob("*.ckpt*"))
    before = _fingerprints(out), model_path.stat().st_mtime_ns
    result = sw.run_sweep(spec, out, workers=0)
    assert result.n_skipped == 1
    assert (_fingerprints(out), model_path.stat().st_mtime_ns) == before


# ------------------------------------------------------------------------------------------
# Dask
# ------------------------------------------------------------------------------------------
def test_two_worker_local_cluster_matches_serial(tmp_path, serial_run):
    out = tmp_path / "dask"
    result = sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, workers=2)
    assert (result.n_points, result.n_computed, result.n_failed) == (4, 4, 0)
    entries = _finished(out)
    reference = _finished(serial_run)
    assert set(entries) == set(reference)
    for pid, entry in entries.items():
        assert entry["status"] == "done"
        assert entry["worker"]["numba_threads"] == 1  # NUMBA_NUM_THREADS=1 in the workers
        a, b = _spins(out / entry["file"]), _spins(serial_run / entry["file"])
        assert a.dtype == np.int8 and a.tobytes() == b.tobytes()
        assert entry["seed"] == reference[pid]["seed"]
        assert entry["summary"]["binder"] == reference[pid]["summary"]["binder"]
    assert len({e["worker"]["pid"] for e in entries.values()}) >= 1


def test_existing_scheduler_address(tmp_path, serial_run):
    """--scheduler tcp://HOST:PORT: connect to a running cluster instead of starting one."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        out = tmp_path / "remote"
        result = sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, scheduler=cluster.scheduler_address,
                              connect_timeout=10)
    assert (result.n_computed, result.n_failed) == (4, 0)
    for entry in _finished(out).values():
        assert _spins(out / entry["file"]).tobytes() == \
            _spins(serial_run / entry["file"]).tobytes()


def _kill_once(marker, event, point_id, out_dir):
    """Task hook: SIGKILL the worker process the first time it samples (marker file = once)."""
    marker = Path(marker)
    if event == "progress" and not marker.exists():
        marker.write_text(f"{point_id} {os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)


def test_killed_worker_task_is_retried(tmp_path, serial_run):
    out = tmp_path / "killed"
    marker = tmp_path / "killed-once"
    result = sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, workers=2, retries=1,
                          task_hook=functools.partial(_kill_once, str(marker)))
    assert marker.exists(), "the fault was not injected"
    killed_id, killed_pid = marker.read_text().split()
    assert (result.n_computed, result.n_failed) == (4, 0)
    entries = _finished(out)
    assert entries[killed_id]["status"] == "done"
    assert entries[killed_id]["worker"]["pid"] != int(killed_pid)
    for entry in entries.values():
        assert _spins(out / entry["file"]).tobytes() == \
            _spins(serial_run / entry["file"]).tobytes()
    assert not list((out / sw.POINTS_DIR).glob("*.partial"))


_INTERRUPT_SCRIPT = """
import json, os, signal, sys
from rgdl import sweep as sw

out, kw = sys.argv[1], json.loads(sys.argv[2])
done = []

def hook(event, point_id, out_dir):
    if event == "start":
        done.append(point_id)
    # two points finished, the third one is sampling: kill the whole command
    if event == "progress" and len(done) == 3:
        os.kill(os.getpid(), signal.SIGKILL)

sw.run_sweep(sw.SweepSpec(**kw), out, workers=0, task_hook=hook)
"""


def test_killed_sweep_resumes_without_touching_finished_points(tmp_path, serial_run):
    out = tmp_path / "interrupted"
    proc = subprocess.run([sys.executable, "-c", _INTERRUPT_SCRIPT, str(out),
                           json.dumps(SPEC_KW)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    points = out / sw.POINTS_DIR
    assert len(list(points.glob("*.h5"))) == 2  # two finished files ...
    assert len(list(points.glob("*.h5.partial"))) == 1  # ... and the killed point's partial
    entries = _finished(out)
    assert len(entries) == 4 and all(e["status"] in ("pending", "done")
                                     for e in entries.values())
    before = {f.name: (f.stat().st_mtime_ns, sw.file_sha256(f)) for f in points.glob("*.h5")}
    time.sleep(0.01)
    # the same command again
    result = sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, workers=0)
    # finished files are skipped (indexed) or adopted (finished but not yet indexed)
    assert result.n_skipped + result.n_adopted == 2 and result.n_failed == 0
    assert result.n_computed - result.n_adopted == 2
    for name, fingerprint in before.items():
        f = points / name
        assert (f.stat().st_mtime_ns, sw.file_sha256(f)) == fingerprint  # untouched
    for entry in _finished(out).values():
        assert entry["status"] == "done"
        assert _spins(out / entry["file"]).tobytes() == \
            _spins(serial_run / entry["file"]).tobytes()
    assert not list((out / sw.POINTS_DIR).glob("*.partial"))


# ------------------------------------------------------------------------------------------
# command line: results and bad input
# ------------------------------------------------------------------------------------------
def test_cli_sweep_report_and_fss(tmp_path, capsys, serial_run):
    out = tmp_path / "cli"
    code, stdout, stderr = _run_cli(["sweep", *CLI_ARGS[:-1], "--workers", "0", "--out",
                                     str(out), "--report", "--bootstrap", "50"], capsys)
    assert code == 0, stderr
    assert "4 points (0 already finished, 4 computed)" in stdout
    # two temperatures bracketing T_c with few samples: whether the bootstrap finds a crossing
    # depends on the random stream; the report must state one or the other, and draw a figure
    assert "Binder crossing" in stdout
    assert (out / "fss.png").stat().st_size > 0 and (out / "fss.json").stat().st_size > 0
    for entry in _finished(out).values():
        assert _spins(out / entry["file"]).tobytes() == \
            _spins(serial_run / entry["file"]).tobytes()
    code, stdout, stderr = _run_cli(["fss", str(out), "--bootstrap", "50",
                                     "--figure", str(tmp_path / "fig")], capsys)
    assert code == 0, stderr
    assert "Binder" in stdout
    assert (tmp_path / "fig.png").stat().st_size > 0 and (tmp_path / "fig.pdf").stat().st_size > 0
    table = sw.sweep_table(out)
    assert list(table["size"]) == [6, 6, 8, 8]
    assert np.all(table["binder_error"] > 0)


def _assert_one_line_error(code, stderr):
    assert code == 2
    lines = [line for line in stderr.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr


@pytest.mark.parametrize("args", [
    ["-T", "", "-L", "8"],
    ["-T", "2.2", "-L", ""],
    ["-L", "8"],
    ["-T", "2.2,-1", "-L", "8"],
    ["-T", "2.2", "-L", "1", "-a", "metropolis"],
    ["-T", "2.2", "-L", "8", "-a", "nonsense"],
    ["-T", "2.2", "-L", "8", "--workers", "-1"],
])
def test_cli_bad_grid(tmp_path, capsys, args):
    out = tmp_path / "never"
    code, _, stderr = _run_cli(["sweep", *args, "--workers", "0", "--out", str(out), "-q"]
                               if "--workers" not in args else ["sweep", *args, "--out",
                                                                 str(out), "-q"], capsys)
    _assert_one_line_error(code, stderr)
    assert not out.exists()


def test_cli_unreachable_scheduler(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "never"
    start = time.perf_counter()
    code, _, stderr = _run_cli(["sweep", *CLI_ARGS, "--scheduler", f"tcp://127.0.0.1:{port}",
                                "--connect-timeout", "1", "--out", str(out)], capsys)
    assert time.perf_counter() - start < 20
    _assert_one_line_error(code, stderr)
    assert "scheduler" in stderr
    assert not out.exists()
    code, _, stderr = _run_cli(["sweep", *CLI_ARGS, "--scheduler", "not-an-address",
                                "--out", str(out)], capsys)
    _assert_one_line_error(code, stderr)


def test_cli_out_with_other_sweep_or_foreign_files(tmp_path, capsys, serial_run):
    out = tmp_path / "taken"
    sw.run_sweep(sw.SweepSpec(**SPEC_KW), out, workers=0)
    index_bytes = (out / sw.INDEX_NAME).read_bytes()
    before = _fingerprints(out)
    other = [a if a != "300" else "400" for a in CLI_ARGS]
    code, _, stderr = _run_cli(["sweep", *other, "--workers", "0", "--out", str(out)], capsys)
    _assert_one_line_error(code, stderr)
    assert "different sweep" in stderr
    assert (out / sw.INDEX_NAME).read_bytes() == index_bytes
    assert _fingerprints(out) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, stderr = _run_cli(["sweep", *CLI_ARGS, "--workers", "0", "--out", str(foreign)],
                               capsys)
    _assert_one_line_error(code, stderr)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    code, _, stderr = _run_cli(["fss", str(tmp_path / "nothing-here")], capsys)
    _assert_one_line_error(code, stderr)

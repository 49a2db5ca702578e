"""Hostile conditions for the command line (issues 11 and 13), as real processes: a full disk
(``RLIMIT_FSIZE`` and a real small tmpfs), concurrent writers, output = input, absurd option
values, and the overwrite promise of every command that writes files.

Each case asserts: exit status 2, exactly one line on stderr starting with ``Error:``, no
traceback, no corrupt file under the final name, and the original output byte-identical.
"""

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from ising.io import read_dataset, write_dataset

ENV = dict(os.environ, NUMBA_NUM_THREADS="1")


def run(*args, fsize=None, cwd=None, timeout=180):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-m", "rgdl", *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=timeout,
                          preexec_fn=limit if fsize is not None else None)


def assert_one_line_error(res, *fragments):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _attrs(size=4):
    return dict(dimension=2, size=size, temperature=2.5, coupling=1.0, field=0.0,
                algorithm="metropolis", seed=1, burn_in=10, thin=2, tau_int=1.0, n_chains=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small dataset, a model trained on it, and a directory to work in."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    data = root / "d.h5"
    write_dataset(data, np.where(rng.random((200, 8, 8)) < 0.5, 1, -1).astype(np.int8),
                  attrs=_attrs(8))
    model = root / "m.npz"
    res = run("train", data, "--layers", "8,4", "--epochs", "1", "--batch-size", "50",
              "--seed", "1", "--out", model, "-q")
    assert res.returncode == 0, res.stderr
    return {"root": root, "data": data, "model": model}


# ------------------------------------------------------------------------------------------
# full disk
# ------------------------------------------------------------------------------------------
SIMULATE = ("simulate", "--size", "16", "--temperature", "2.5", "--samples", "3000",
            "--burn-in", "5", "--thin", "1", "--seed", "1", "-q")


def test_simulate_file_size_limit_keeps_the_original(tmp_path):
    out = tmp_path / "e.h5"
    write_dataset(out, np.ones((4, 4, 4), np.int8), attrs=_attrs())
    original = out.read_bytes()
    res = run(*SIMULATE, "--out", out, "--overwrite", fsize=150_000)
    assert_one_line_error(res, "(file too large)")
    assert res.stdout == ""  # no statistics from an incomplete file
    assert out.read_bytes() == original
    left = sorted(p.name for p in tmp_path.iterdir())
    # a partial file stays only if --resume can continue it (and the message says so)
    assert left == ["e.h5"] or (left == ["e.h5", "e.h5.partial"] and "--resume" in res.stderr)


def test_sample_file_size_limit_leaves_no_output(files, tmp_path):
    out = tmp_path / "s.h5"
    res = run("sample", files["model"], "--samples", "3000", "--gibbs-steps", "2", "--seed", "1",
              "--out", out, fsize=40_000)
    assert_one_line_error(res, "(file too large)")
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_train_checkpoint_on_a_full_disk(files, tmp_path):
    out = tmp_path / "m.npz"
    res = run("train", files["data"], "--layers", "8,4", "--epochs", "1", "--seed", "1",
              "--out", out, "-q", fsize=2_000)
    assert_one_line_error(res, "(file too large)")
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_sweep_on_a_full_disk(tmp_path):
    args = ("sweep", "-T", "2.2", "-L", "8", "-n", "2000", "--burn-in", "5", "--thin", "1",
            "--workers", "0", "--retries", "0", "-q")
    res = run(*args, "--out", tmp_path / "a", fsize=600)  # the index itself cannot be written
    assert_one_line_error(res, "sweep.json (file too large)")
    res = run(*args, "--out", tmp_path / "b", fsize=30_000)  # the index fits, the point does not
    assert res.returncode == 1, res.stderr  # failed points: status 1, recorded for a rerun
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("Error: 1 of 1 points failed")
    assert "(file too large)" in res.stderr
    assert not list((tmp_path / "b" / "points").glob("*.h5"))


@pytest.fixture
def tmpfs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                         capture_output=True)
    if res.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_simulate_on_a_full_tmpfs_then_resume_gives_the_uninterrupted_file(tmp_path, tmpfs):
    args = ("simulate", "--size", "32", "--temperature", "2.5", "--samples", "4000",
            "--burn-in", "5", "--thin", "1", "--seed", "2", "--chunk-size", "256", "-q")
    out = tmpfs / "e.h5"
    res = run(*args, "--out", out)
    assert_one_line_error(res, "(no space left on device)")
    assert not out.exists()
    subprocess.run(["mount", "-o", "remount,size=16m", str(tmpfs)], check=True)
    if (tmpfs / "e.h5.partial").exists():  # kept only because --resume can use it
        assert "--resume" in res.stderr
        assert run(*args, "--out", out, "--resume").returncode == 0
    else:
        assert run(*args, "--out", out).returncode == 0
    reference = tmp_path / "ref.h5"
    assert run(*args, "--out", reference).returncode == 0
    with h5py.File(out) as a, h5py.File(reference) as b:
        np.testing.assert_array_equal(a["spins"][...], b["spins"][...])


# ------------------------------------------------------------------------------------------
# concurrent writers
# ------------------------------------------------------------------------------------------
_BLOCKED = """
import os, sys, time
import rgdl.commands.{module} as command
go = sys.argv[1]
original = command.{hook}.__call__
def wait(self, *args):
    while not os.path.exists(go):  # hold the output (and its lock) until the test says go
        time.sleep(0.02)
    return original(self, *args)
command.{hook}.__call__ = wait
from rgdl.cli import main
main(sys.argv[2:])
"""


def _first_writer(module, hook, args, go):
    """``rgdl <args>`` in a process that pauses at its first progress report until ``go``
    exists, so that a second writer surely meets it while it holds the output."""
    code = _BLOCKED.format(module=module, hook=hook)
    return subprocess.Popen([sys.executable, "-c", code, str(go), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(path, process):
    deadline = time.monotonic() + 120
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), process.communicate()[1] if process.poll() is not None else "timeout"


def test_concurrent_simulate_writers(tmp_path):
    out = tmp_path / "c.h5"
    out.write_bytes(b"the previous output")
    args = ("simulate", "--size", "16", "--temperature", "2.5", "--samples", "200",
            "--burn-in", "10", "--thin", "2", "--seed", "3", "-q", "--out", out, "--overwrite")
    go = tmp_path / "go"
    first = _first_writer("simulate", "_Progress", args, go)
    try:
        _wait_for(tmp_path / "c.h5.partial", first)  # the first holds the lock and writes
        second = run(*args)
        assert_one_line_error(second, f"pid {first.pid}", "another rgdl process")
        assert out.read_bytes() == b"the previous output"
    finally:
        go.touch()
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert read_dataset(out).n_samples == 200
    assert not (tmp_path / "c.h5.lock").exists()


def test_concurrent_train_writers_share_no_checkpoints(files, tmp_path):
    out = tmp_path / "t.npz"
    args = ("train", files["data"], "--layers", "8,4", "--epochs", "2", "--batch-size", "50",
            "--seed", "1", "-q", "--out", out)
    go = tmp_path / "go"
    first = _first_writer("train", "_Reporter", args, go)
    try:
        _wait_for(tmp_path / "t.npz.ckpt.layer1", first)  # its first checkpoint exists
        second = run(*args, "--overwrite")
        assert_one_line_error(second, f"pid {first.pid}")
        assert (tmp_path / "t.npz.ckpt.layer1").exists()  # not removed by the second run
    finally:
        go.touch()
        first.communicate(timeout=120)
    assert first.returncode == 0
    assert out.exists() and not list(tmp_path.glob("t.npz.ckpt*"))


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "s.h5"
    (tmp_path / "s.h5.lock").write_text(f"{dead.pid} {socket.gethostname()}\n")
    res = run("simulate", "--size", "4", "--temperature", "2.5", "--samples", "8", "--seed", "1",
              "--burn-in", "1", "--thin", "1", "-q", "--out", out)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "s.h5.lock").exists()


# ------------------------------------------------------------------------------------------
# output = input, absurd options
# ------------------------------------------------------------------------------------------
def test_output_onto_input_is_refused(files, tmp_path):
    data = tmp_path / "d.h5"
    shutil.copy(files["data"], data)
    os.link(data, tmp_path / "hard.h5")
    (tmp_path / "sym.h5").symlink_to(data)
    model = tmp_path / "m.npz"
    shutil.copy(files["model"], model)
    before = {p: p.read_bytes() for p in (data, model)}
    for out in ("d.h5", "hard.h5", "sym.h5"):
        res = run("train", data, "--layers", "4", "--epochs", "1", "--out", tmp_path / out,
                  "--overwrite")
        assert_one_line_error(res, "is the input file")
    res = run("sample", model, "--samples", "4", "--out", model, "--overwrite")
    assert_one_line_error(res, "is the input file")
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("args, fragment", [
    (SIMULATE[:-1] + ("--burn-in", str(10 ** 20), "-q"), "burn_in"),
    (("simulate", "--size", "16", "--temperature", "2.5", "--samples", "10", "--chains",
      str(10 ** 11)), "of memory"),
    (("simulate", "--size", str(10 ** 7), "--temperature", "2.5", "--samples", "10"),
     "of memory"),
    (("simulate", "--size", "16", "--temperature", "2.5", "--samples", str(10 ** 11)),
     "of memory"),
    (("simulate", "--size", "16", "--temperature", "2.5", "--samples", "10", "--seed",
      str(2 ** 64)), "seed"),
], ids=["burn-in-1e20", "chains-1e11", "size-1e7", "samples-1e11", "seed-2**64"])
def test_absurd_simulate_options(tmp_path, args, fragment):
    res = run(*args, "--out", tmp_path / "x.h5")
    assert_one_line_error(res, fragment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, fragment", [
    (("train", "DATA", "--layers", "16,,4"), "empty entries"),
    (("train", "DATA", "--layers", "100000000"), "of memory"),
    (("sample", "MODEL", "--samples", "4", "--seed", str(2 ** 64)), "--seed"),
    (("sample", "MODEL", "--samples", str(10 ** 11)), "of memory"),
    (("sample", "NPY", "--samples", "4"), "not an rgdl model file"),
    (("sample", "DATA", "--samples", "4"), "not an rgdl model file"),
], ids=["layers-empty", "layers-1e8", "sample-seed-2**64", "sample-1e11", "npy-model",
        "h5-model"])
def test_absurd_train_and_sample_options(files, tmp_path, args, fragment):
    np.save(tmp_path / "x.npy", np.zeros(4))
    subst = {"DATA": files["data"], "MODEL": files["model"], "NPY": tmp_path / "x.npy"}
    res = run(*[subst.get(a, a) for a in args], "--out", tmp_path / "out.bin")
    assert_one_line_error(res, fragment)
    assert not (tmp_path / "out.bin").exists()


def test_truncated_input_and_partial_are_diagnosed(files, tmp_path):
    data = tmp_path / "cut.h5"
    raw = files["data"].read_bytes()
    data.write_bytes(raw[: len(raw) // 2])
    res = run("train", data, "--layers", "4", "--out", tmp_path / "m.npz")
    assert_one_line_error(res, "corrupt or truncated HDF5 file")
    assert "locked" not in res.stderr


def test_fss_on_a_one_dimensional_sweep(tmp_path):
    out = tmp_path / "sw"
    res = run("sweep", "-d", "1", "-T", "1,2", "-L", "4,8", "-n", "40", "--burn-in", "2",
              "--thin", "1", "--workers", "0", "--out", out, "-q")
    assert res.returncode == 0, res.stderr
    res = run("fss", out, "--bootstrap", "10")
    assert_one_line_error(res, "dimension 1")
    assert not (out / "fss.png").exists()


def test_read_only_output_directory(tmp_path, files):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only directories")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = run("reproduce", "--out", ro / "results", "-q")
        assert_one_line_error(res)
        res = run("sweep", "-T", "2.2", "-L", "4", "-n", "10", "--workers", "0", "--out",
                  ro / "sw", "-q")
        assert_one_line_error(res)
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------------------------------
# every writing command refuses to replace an existing output without --overwrite (issue 13)
# ------------------------------------------------------------------------------------------
def _invocation(name, files, tmp_path):
    """(argv, the existing output it must refuse to replace) for each writing command."""
    root = tmp_path
    if name == "simulate":
        out = root / "e.h5"
        return ["simulate", "--size", "4", "--temperature", "2.5", "--samples", "8", "--out",
                out], out
    if name == "train":
        out = root / "m.npz"
        return ["train", files["data"], "--layers", "4", "--epochs", "1", "--out", out], out
    if name == "sample":
        out = root / "s.h5"
        return ["sample", files["model"], "--samples", "4", "--out", out], out
    if name == "flow1d":
        out = root / "flow.png"
        return ["flow1d", "-K", "1.0", "-N", "8", "--steps", "2", "--out", out], out
    if name == "sweep":
        out = root / "sw" / "fss.png"
        out.parent.mkdir()
        return ["sweep", "-T", "2.2,2.3", "-L", "4,8", "-n", "40", "--workers", "0", "--out",
                out.parent, "--report", "-q"], out
    if name == "fss":
        out = root / "fs" / "fss.png"
        out.parent.mkdir()
        return ["fss", out.parent], out
    if name == "mcrg":
        out = root / "mc" / "mcrg_majority_b2.json"
        out.parent.mkdir()
        return ["mcrg", "--size", "16", "--levels", "1", "--samples", "100", "--out",
                out.parent], out
    if name == "rbmflow":
        out = root / "rf" / "rbmflow_flows.png"
        out.parent.mkdir()
        return ["rbmflow", "--size", "6", "--t-min", "1", "--t-max", "4", "--t-step", "0.5",
                "--samples", "40", "--hidden", "4", "--epochs", "1", "--steps", "2",
                "--flow-samples", "20", "--out", out.parent, "-q"], out
    if name == "reproduce":
        out = root / "res" / "notes.txt"
        out.parent.mkdir()
        return ["reproduce", "--quick", "--out", out.parent, "-q"], out
    raise KeyError(name)


#: Commands that write no files (checked: they have no path-valued option or argument).
NON_WRITING = {"bench"}


def test_every_writing_command_refuses_to_overwrite(files, tmp_path, capsys):
    import click

    from rgdl import cli

    names = cli.command_names()
    assert names, "no commands"
    for name in names:
        command = cli.load_command(name)
        assert command is not None, name
        if name in NON_WRITING:
            assert not any(isinstance(p.type, click.Path) for p in command.params), name
            continue
        argv, existing = _invocation(name, files, tmp_path)
        existing.write_bytes(b"precious " + name.encode())
        with pytest.raises(SystemExit) as info:
            cli.main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert info.value.code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (name, err)
        assert "exists" in lines[0] or "another configuration" in lines[0] \
            or "holds no rgdl results" in lines[0], (name, lines[0])
        assert existing.read_bytes() == b"precious " + name.encode(), name
        # hints name only options the command has
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for hint in ("--overwrite", "--resume"):
            if hint in lines[0]:
                assert hint in options, (name, hint, lines[0])

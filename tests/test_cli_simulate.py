"""Tests of ``rgdl simulate`` through the real entry point (subprocesses) and click's CliRunner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from ising import io
from ising.dataset import generate_dataset
from rgdl.cli import cli

BASE = ["--size", "8", "--temperature", "2.5", "--samples", "40", "--chains", "4",
        "--burn-in", "10", "--thin", "2", "--seed", "7", "-q"]


def run_cli(*args, env_extra=None, cwd=None, timeout=180):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "rgdl", "simulate", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout)


def _listing(directory):
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir())


def test_help_states_the_conventions():
    result = CliRunner().invoke(cli, ["simulate", "--help"])
    assert result.exit_code == 0
    text = result.output
    for phrase in ("H = -J sum_<ij> s_i s_j - h sum_i s_i", "K = J/T", "per spin", "sweeps",
                   "--resume", "--overwrite", "swendsen-wang"):
        assert phrase in text, phrase


def test_simulate_writes_a_valid_dataset_and_prints_a_summary(tmp_path):
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(cli, ["simulate", *BASE[:-1], "--out", str(out)])  # with progress bar
    assert result.exit_code == 0, result.output
    data = io.read_dataset(out, check_observables=True)
    assert data.spins.shape == (40, 8, 8)
    assert (data.attrs["burn_in"], data.attrs["thin"], data.attrs["seed"]) == (10, 2, 7)
    for phrase in ("<E>/N", "<|M|>/N", "C/N", "chi/N", "tau_int", "burn-in:     10 sweeps",
                   "thin 2 sweeps", str(out), "wall time"):
        assert phrase in result.output, phrase
    energy = f"{data.energy.mean():.6g}"[:5]
    assert energy in result.output  # <E>/N printed is the mean of the stored series
    reference = generate_dataset(tmp_path / "lib.h5", dimension=2, size=8, temperature=2.5,
                                 n_samples=40, n_chains=4, burn_in=10, thin=2, seed=7)
    np.testing.assert_array_equal(data.spins, io.read_dataset(reference.path).spins)


@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """A directory holding a complete dataset (done.h5) and an interrupted one (cut.h5.partial)."""
    directory = tmp_path_factory.mktemp("existing")
    kwargs = dict(dimension=2, size=8, temperature=2.5, n_samples=40, n_chains=4, burn_in=10,
                  thin=2, seed=7)
    generate_dataset(directory / "done.h5", **kwargs)

    def stop(done, total):
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(directory / "cut.h5", chunk_size=4, progress=stop, **kwargs)
    (directory / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2000))
    (directory / "broken.h5.partial").write_bytes(b"not an hdf5 file\n" * 50)
    (directory / "afile").write_text("x")
    return directory


def _with(args, **changes):
    args = list(args)
    for flag, value in changes.items():
        flag = "--" + flag.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


BAD_INPUTS = {
    "zero temperature": (_with(BASE, temperature="0"), "new.h5", "temperature"),
    "negative temperature": (_with(BASE, temperature="-1"), "new.h5", "temperature"),
    "nan temperature": (_with(BASE, temperature="nan"), "new.h5", "temperature"),
    "size < 2": (_with(BASE, size="1"), "new.h5", "size"),
    "unknown algorithm": (_with(BASE, algorithm="glauber"), "new.h5", "algorithm"),
    "zero samples": (_with(BASE, samples="0"), "new.h5", "--samples"),
    "negative samples": (_with(BASE, samples="-3"), "new.h5", "--samples"),
    "missing directory": (BASE, "no/such/dir/x.h5", "does not exist"),
    "parent is a file": (BASE, "afile/x.h5", "not a directory"),
    "existing output": (BASE, "done.h5", "--overwrite"),
    "existing partial": (BASE, "cut.h5", "partial file"),
    "resume mismatch (complete)": (_with(BASE, seed="8") + ["--resume"], "done.h5",
                                   "'seed' does not match"),
    "resume mismatch (partial)": (_with(BASE, temperature="2.4") + ["--resume"], "cut.h5",
                                  "'temperature' does not match"),
    "resume corrupt file": (BASE + ["--resume"], "corrupt.h5", "corrupt"),
    "resume corrupt partial": (BASE + ["--resume"], "broken.h5", "corrupt"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_leaves_no_file(existing, case):
    args, out, expected = BAD_INPUTS[case]
    before = _listing(existing)
    result = run_cli(*args, "--out", out, cwd=existing)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert expected in lines[0], lines[0]
    assert _listing(existing) == before  # nothing created, nothing touched


def test_unwritable_directory(tmp_path):
    if os.geteuid() == 0:
        target = "/sys/rgdl-test.h5"  # not writable even for root
        if not os.path.isdir("/sys"):
            pytest.skip("no /sys to test an unwritable directory as root")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = str(locked / "x.h5")
    result = run_cli(*BASE, "--out", target)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("Error: ")
    assert "cannot write" in lines[0]
    assert not os.path.exists(target) and not os.path.exists(target + ".partial")


def _committed_samples(partial):
    """Samples in a partial file another process is writing (None if unreadable right now)."""
    try:
        with h5py.File(partial, "r", locking=False) as h5:
            return int(h5["spins"].shape[0])
    except Exception:  # noqa: BLE001 - the writer may be mid-flush; try again
        return None


def test_sigkill_then_resume_gives_the_uninterrupted_file(tmp_path):
    args = ["--size", "16", "--temperature", "2.4", "--samples", "600", "--chains", "2",
            "--burn-in", "20", "--thin", "5000", "--seed", "2024", "--chunk-size", "10", "-q"]
    out = tmp_path / "killed.h5"
    partial = io.partial_path(out)
    proc = subprocess.Popen([sys.executable, "-m", "rgdl", "simulate", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n = _committed_samples(partial) if partial.exists() else None
            # two chunks on disk: the resume state of the first one is committed (it is written
            # before the second chunk's data), so the resumed run must continue after >= 10
            if n is not None and n >= 20:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        else:
            pytest.fail("no chunk was written within the time limit")
        assert proc.poll() is None, "the run finished before the kill; make it longer"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert partial.exists() and not out.exists()

    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "continued after" in resumed.stdout
    n_before = int(resumed.stdout.split("continued after ")[1].split()[0])
    assert 0 < n_before < 600
    assert out.exists() and not partial.exists()

    reference = tmp_path / "straight.h5"
    straight = run_cli(*args, "--out", str(reference))
    assert straight.returncode == 0, straight.stderr
    a = io.read_dataset(out, check_observables=True)
    b = io.read_dataset(reference)
    assert a.spins.tobytes() == b.spins.tobytes()
    np.testing.assert_array_equal(a.energy, b.energy)
    with h5py.File(out, "r") as h5:
        assert "_resume" not in h5


@pytest.mark.parametrize("config", [
    ["--size", "64", "--chains", "1", "--algorithm", "metropolis"],  # one lattice, parallel rows
    ["--size", "16", "--chains", "3", "--algorithm", "swendsen-wang"],  # prange over chains
])
def test_same_seed_same_spins_at_one_and_two_threads(tmp_path, config):
    args = [*config, "--temperature", "2.3", "--samples", "30", "--burn-in", "5", "--thin", "3",
            "--seed", "99", "-q"]
    spins = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}.h5"
        result = run_cli(*args, "--out", str(out), env_extra={"NUMBA_NUM_THREADS": threads})
        assert result.returncode == 0, result.stderr
        spins.append(io.read_dataset(out).spins.tobytes())
    assert spins[0] == spins[1]

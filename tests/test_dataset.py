"""Tests of ising.dataset.generate_dataset: schema, determinism, atomicity, exact resume, validation."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import h5py
import numpy as np
import pytest

from ising import io
from ising.dataset import generate_dataset
from ising.samplers import sample

# burn_in/thin given: no calibration pilot, so that the tests stay fast (calibration is tested once)
SMALL = dict(dimension=2, size=8, temperature=2.5, n_samples=120, n_chains=4, seed=11, burn_in=20, thin=2)


class Interrupt(Exception):
    """Raised from the progress callback to stop a run part-way."""


def _stop_after(n_stop):
    def progress(done, total):
        if done >= n_stop:
            raise Interrupt
    return progress


def test_matches_in_memory_sampler_and_records_metadata(tmp_path):
    out = tmp_path / "a.h5"
    result = generate_dataset(out, **dict(SMALL, n_chains=3, burn_in=None, thin=None))
    path, summary = result
    assert path == out and not io.partial_path(out).exists()
    reference = sample(2, 8, 2.5, n_samples=120, n_chains=3, seed=11)
    data = io.read_dataset(out, check_observables=True)
    np.testing.assert_array_equal(data.spins, reference.spins)
    np.testing.assert_array_equal(data.energy, reference.energy)
    a = data.attrs
    assert (a["burn_in"], a["thin"]) == (reference.burn_in, reference.thin)
    assert a["thin"] >= 2 * a["tau_int"] and a["tau_int"] == pytest.approx(reference.tau_int)
    assert a["tau_int_source"] == "calibration"
    assert (a["seed"], a["n_chains"], a["algorithm"]) == (11, 3, "metropolis")
    assert summary.n_samples == 120 and summary.n_chains == 3
    assert result.attrs == io.read_attributes(out)


def test_given_burn_in_and_thin_are_used_and_chunking_does_not_matter(tmp_path):
    kwargs = dict(dimension=1, size=16, temperature=1.5, n_samples=50, n_chains=4, seed=3,
                  burn_in=7, thin=2, algorithm="heatbath")
    r1 = generate_dataset(tmp_path / "c1.h5", chunk_size=3, **kwargs)
    r2 = generate_dataset(tmp_path / "c2.h5", **kwargs)
    s1 = io.read_dataset(r1.path).spins
    np.testing.assert_array_equal(s1, io.read_dataset(r2.path).spins)
    assert s1.shape == (50, 16)
    reference = sample(1, 16, 1.5, n_samples=50, n_chains=4, seed=3, burn_in=7, thin=2,
                       algorithm="heatbath")
    np.testing.assert_array_equal(s1, reference.spins)
    assert (r1.attrs["burn_in"], r1.attrs["thin"]) == (7, 2)
    with h5py.File(r1.path, "r") as h5:  # chunk_size 3 rounded up to whole rounds of 4 chains
        assert h5["spins"].chunks[0] == 4
    assert r1.attrs["tau_int_source"] == "samples"
    assert math.isfinite(r1.attrs["tau_int"]) and r1.attrs["tau_int"] == pytest.approx(r1.summary.tau_int)


@pytest.mark.parametrize("dimension, size, algorithm, n_chains, n_samples, schedule", [
    (2, 8, "metropolis", 3, 40, {}),                       # calibrated burn-in and thin
    (2, 8, "wolff", 2, 30, {}),
    (1, 10, "metropolis", 2, 25, {"burn_in": 5, "thin": 3}),  # random-site, last round partial
    (2, 6, "heatbath", 4, 36, {"burn_in": 4}),              # thin calibrated, burn-in given
    (2, 8, "swendsen-wang", 3, 31, {"thin": 2}),            # burn-in calibrated, thin given
    (2, 8, "metropolis", 40, 90, {"burn_in": 3, "thin": 1}),  # the multi-spin engine
])
def test_sample_and_generate_dataset_share_one_schedule(tmp_path, dimension, size, algorithm,
                                                        n_chains, n_samples, schedule):
    """ising.schedule drives both: same seed => same spins, byte for byte, also across a resume
    in the middle of the run."""
    kwargs = dict(dimension=dimension, size=size, temperature=2.4, algorithm=algorithm,
                  n_samples=n_samples, n_chains=n_chains, seed=21, **schedule)
    reference = sample(**kwargs)
    whole = generate_dataset(tmp_path / "whole.h5", **kwargs)
    out = tmp_path / "cut.h5"
    with pytest.raises(Interrupt):
        generate_dataset(out, chunk_size=n_chains, progress=_stop_after(n_samples // 2), **kwargs)
    resumed = generate_dataset(out, chunk_size=n_chains, resume=True, **kwargs)
    assert 0 < resumed.resumed_samples < n_samples
    for path in (whole.path, resumed.path):
        data = io.read_dataset(path)
        assert data.spins.tobytes() == reference.spins.tobytes()
        assert (data.attrs["burn_in"], data.attrs["thin"]) == (reference.burn_in, reference.thin)
        np.testing.assert_array_equal(data.energy, reference.energy)


def _exact_energy_1d(n, k):
    """<H>/N of a periodic chain of n spins at K = J/T = k, J = 1, by brute-force enumeration."""
    weights, energies = [], []
    for conf in itertools.product((-1, 1), repeat=n):
        s = np.array(conf)
        e = -np.sum(s * np.roll(s, -1))
        weights.append(math.exp(-k * e))
        energies.append(e / n)
    weights = np.array(weights)
    return float(np.dot(weights, energies) / weights.sum())


def test_energy_agrees_with_exact_enumeration(tmp_path):
    result = generate_dataset(tmp_path / "chain.h5", dimension=1, size=10, temperature=1.5,
                              algorithm="swendsen-wang", n_samples=2000, n_chains=8, seed=5)
    exact = _exact_energy_1d(10, 1 / 1.5)
    value, error = result.summary.energy
    assert error > 0
    assert abs(value - exact) < 4 * error, (value, error, exact)


def test_interrupted_run_resumes_byte_identically(tmp_path):
    kwargs = dict(SMALL, n_samples=90, n_chains=3, chunk_size=9)
    full = generate_dataset(tmp_path / "full.h5", **kwargs)
    out = tmp_path / "cut.h5"
    with pytest.raises(Interrupt):
        generate_dataset(out, progress=_stop_after(40), **kwargs)
    assert not out.exists() and io.partial_path(out).exists()  # failure leaves no output
    with h5py.File(io.partial_path(out), "r") as h5:
        assert 0 < h5["spins"].shape[0] < 90
    seen = []
    resumed = generate_dataset(out, resume=True, progress=lambda d, t: seen.append(d), **kwargs)
    assert resumed.resumed_samples == seen[0] and resumed.resumed_samples in (27, 36)
    assert seen[-1] == 90
    a, b = io.read_dataset(out, check_observables=True), io.read_dataset(full.path)
    np.testing.assert_array_equal(a.spins, b.spins)
    np.testing.assert_array_equal(a.magnetization, b.magnetization)
    assert {k: v for k, v in a.attrs.items() if k != "created"} == \
           {k: v for k, v in b.attrs.items() if k != "created"}


def test_resume_with_seed_none_uses_the_stored_seed(tmp_path):
    kwargs = dict(SMALL, n_samples=60, chunk_size=6, seed=None)
    out = tmp_path / "noseed.h5"
    with pytest.raises(Interrupt):
        generate_dataset(out, progress=_stop_after(30), **kwargs)
    result = generate_dataset(out, resume=True, **kwargs)
    seed = result.attrs["seed"]
    again = generate_dataset(tmp_path / "again.h5", **dict(kwargs, seed=seed))
    np.testing.assert_array_equal(io.read_dataset(out).spins, io.read_dataset(again.path).spins)


def test_resume_without_partial_starts_fresh_and_complete_file_is_returned(tmp_path):
    out = tmp_path / "fresh.h5"
    first = generate_dataset(out, resume=True, **SMALL)
    assert first.resumed_samples == 0 and out.exists()
    before = out.stat().st_mtime_ns
    second = generate_dataset(out, resume=True, **SMALL)
    assert second.extra["already_complete"] and second.resumed_samples == 120
    assert out.stat().st_mtime_ns == before
    assert second.summary.energy.value == first.summary.energy.value


@pytest.mark.parametrize("change,name", [
    ({"temperature": 2.4}, "temperature"),
    ({"n_samples": 100}, "n_samples"),
    ({"seed": 12}, "seed"),
    ({"thin": 1}, "thin"),
    ({"algorithm": "heatbath"}, "algorithm"),
])
def test_resume_mismatch_names_the_parameter(tmp_path, change, name):
    kwargs = dict(SMALL, n_samples=60, chunk_size=6)
    out = tmp_path / "m.h5"
    with pytest.raises(Interrupt):
        generate_dataset(out, progress=_stop_after(20), **kwargs)
    partial_bytes = io.partial_path(out).read_bytes()
    with pytest.raises(ValueError, match=f"parameter '{name}' does not match"):
        generate_dataset(out, resume=True, **dict(kwargs, **change))
    assert not out.exists()
    assert io.partial_path(out).read_bytes() == partial_bytes  # left untouched
    # the complete file is checked as well
    generate_dataset(out, resume=True, **kwargs)
    with pytest.raises(ValueError, match=f"parameter '{name}' does not match"):
        generate_dataset(out, resume=True, **dict(kwargs, **change))


def test_existing_files_need_a_flag(tmp_path):
    out = tmp_path / "e.h5"
    generate_dataset(out, **SMALL)
    with pytest.raises(FileExistsError, match="--overwrite"):
        generate_dataset(out, **SMALL)
    with pytest.raises(ValueError, match="mutually exclusive"):
        generate_dataset(out, resume=True, overwrite=True, **SMALL)
    replaced = generate_dataset(out, overwrite=True, **dict(SMALL, seed=99))
    assert replaced.attrs["seed"] == 99
    # a stale partial file: refused without a flag, discarded by --overwrite
    other = tmp_path / "p.h5"
    with pytest.raises(Interrupt):
        generate_dataset(other, progress=_stop_after(10), **dict(SMALL, chunk_size=3))
    with pytest.raises(FileExistsError, match="partial file"):
        generate_dataset(other, **SMALL)
    generate_dataset(other, overwrite=True, **SMALL)
    assert other.exists() and not io.partial_path(other).exists()


def test_corrupt_files_raise_value_error(tmp_path):
    out = tmp_path / "bad.h5"
    io.partial_path(out).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        generate_dataset(out, resume=True, **SMALL)
    out.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        generate_dataset(out, resume=True, **SMALL)


@pytest.mark.parametrize("bad,match", [
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"size": 1}, "size"),
    ({"coupling": 0.0}, "periodic"),
    ({"dimension": 3}, "dimension"),
    ({"algorithm": "glauber"}, "algorithm"),
    ({"algorithm": "wolff", "field": 0.1}, "field"),
    ({"n_samples": 0}, "n_samples"),
    ({"n_chains": 0}, "n_chains"),
    ({"burn_in": -1}, "burn_in"),
    ({"thin": 0}, "thin"),
    ({"seed": -5}, "seed"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_input_raises_before_creating_files(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        generate_dataset(tmp_path / "x.h5", **dict(SMALL, **bad))
    assert list(tmp_path.iterdir()) == []


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        generate_dataset(tmp_path / "missing" / "x.h5", **SMALL)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        generate_dataset(tmp_path / "file" / "x.h5", **SMALL)


def test_memory_is_bounded_by_the_chunk(tmp_path):
    def peak(n):
        tracemalloc.start()
        try:
            generate_dataset(tmp_path / f"mem{n}.h5", dimension=2, size=32, temperature=3.0,
                             n_samples=n, n_chains=20, burn_in=0, thin=1, seed=1, chunk_size=60)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(40)  # warm up (imports, compilation)
    small, large = peak(500), peak(4000)
    spins_bytes = 4000 * 32 * 32  # what holding the output in memory would cost
    assert large < spins_bytes / 2, (small, large)
    assert large - small < 0.1 * (4000 - 500) * 32 * 32, (small, large)  # no growth with n_samples


def test_correlated_output_is_flagged(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="ising.dataset"):
        result = generate_dataset(tmp_path / "corr.h5", dimension=2, size=8, temperature=2.3,
                                  n_samples=400, n_chains=4, burn_in=50, thin=1, seed=4)
    assert result.attrs["tau_int_stored"] > 1.0  # sweeps == samples here
    assert "stored samples are correlated" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ising.dataset"):
        generate_dataset(tmp_path / "ok.h5", dimension=1, size=16, temperature=2.0,
                         algorithm="swendsen-wang", n_samples=400, n_chains=4, burn_in=20, thin=4,
                         seed=4)
    assert "stored samples are correlated" not in caplog.text

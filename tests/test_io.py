"""Tests of ising.io: the HDF5 schema (docs/ARCHITECTURE.md), validation, atomic and resumable writing."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from ising import io
from ising.dataset import generate_dataset
from ising.lattice import energy_per_spin, magnetization_per_spin


def _attrs(dimension=2, size=8, **extra):
    attrs = dict(dimension=dimension, size=size, temperature=2.5, coupling=1.0, field=0.1,
                 algorithm="metropolis", seed=123, burn_in=50, thin=3, tau_int=1.25, n_chains=2)
    attrs.update(extra)
    return attrs


def _random_spins(n, size, dimension, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n,) + (size,) * dimension)


def _one_line(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("dimension,size", [(1, 16), (2, 8)])
def test_round_trip_matches_contract_with_plain_h5py(tmp_path, dimension, size):
    spins = _random_spins(37, size, dimension)
    out = tmp_path / "data.h5"
    path = io.write_dataset(out, spins, attrs=_attrs(dimension, size), chunk_samples=10)
    assert path == out and out.exists() and not io.partial_path(out).exists()

    with h5py.File(out, "r") as h5:
        coordinates = {"sample", "site"} if dimension == 1 else {"sample", "y", "x"}
        assert set(h5.keys()) == {"spins", "energy", "magnetization"} | coordinates
        assert h5.attrs["format_version"] == io.FORMAT_VERSION == 2
        np.testing.assert_array_equal(h5["sample"][...], np.arange(37))
        assert h5["spins"].dtype == np.int8
        assert h5["spins"].shape == (37,) + (size,) * dimension
        assert h5["spins"].chunks is not None and h5["spins"].compression == "gzip"
        assert h5["energy"].dtype == np.float64 and h5["energy"].shape == (37,)
        assert h5["magnetization"].dtype == np.float64 and h5["magnetization"].shape == (37,)
        np.testing.assert_array_equal(h5["spins"][...], spins)
        np.testing.assert_array_equal(h5["energy"][...], energy_per_spin(spins, 1.0, 0.1, dimension))
        np.testing.assert_array_equal(h5["magnetization"][...], magnetization_per_spin(spins, dimension))
        for name in io.REQUIRED_ATTRIBUTES:
            assert name in h5.attrs, name
        assert h5.attrs["dimension"] == dimension and h5.attrs["size"] == size
        assert h5.attrs["temperature"] == 2.5 and h5.attrs["field"] == 0.1
        assert h5.attrs["algorithm"] == "metropolis"
        created = datetime.fromisoformat(h5.attrs["created"])
        assert created.utcoffset().total_seconds() == 0  # ISO 8601, UTC

    data = io.read_dataset(out, check_observables=True)
    np.testing.assert_array_equal(data.spins, spins)
    assert data.n_samples == 37 and data.dimension == dimension and data.size == size
    assert data.n_spins == size**dimension
    assert isinstance(data.attrs["seed"], int) and data.attrs["seed"] == 123
    assert isinstance(data.attrs["tau_int"], float) and data.attrs["tau_int"] == 1.25
    assert data.attrs["rgdl_version"] == io.package_version() != "unknown"
    assert io.read_attributes(out)["thin"] == 3


def test_extra_attributes_and_existing_output(tmp_path):
    out = tmp_path / "gen.h5"
    spins = _random_spins(5, 8, 2)
    io.write_dataset(out, spins, attrs=_attrs(source="model.npz"))
    assert io.read_dataset(out).attrs["source"] == "model.npz"
    with pytest.raises(FileExistsError):
        io.write_dataset(out, spins, attrs=_attrs())
    io.write_dataset(out, -spins, attrs=_attrs(), overwrite=True)
    np.testing.assert_array_equal(io.read_dataset(out).spins, -spins)


def test_writer_is_atomic_and_chunked(tmp_path):
    out = tmp_path / "run.h5"
    spins = _random_spins(30, 8, 2, seed=1)
    e = energy_per_spin(spins, 1.0, 0.1, 2)
    m = magnetization_per_spin(spins, 2)
    writer = io.DatasetWriter(out, dimension=2, size=8, attrs=_attrs(), n_samples=30,
                              resume_params={"seed": 123})
    with writer:
        for start in range(0, 30, 10):
            writer.append(spins[start:start + 10], e[start:start + 10], m[start:start + 10],
                          state={"step": np.array(start + 10)})
            assert not out.exists()  # nothing at the final path until finalize
            assert io.partial_path(out).exists()
            # the partial file is a flushed, readable HDF5 file after every chunk
            with h5py.File(io.partial_path(out), "r") as h5:
                assert h5["spins"].shape[0] == start + 10
        with pytest.raises(ValueError, match="incomplete"):
            io.read_dataset(io.partial_path(out))
        writer.finalize()
    assert out.exists() and not io.partial_path(out).exists()
    with h5py.File(out, "r") as h5:
        assert "_resume" not in h5
    np.testing.assert_array_equal(io.read_dataset(out, check_observables=True).spins, spins)


def test_finalize_refuses_short_file(tmp_path):
    out = tmp_path / "short.h5"
    spins = _random_spins(4, 8, 2)
    with io.DatasetWriter(out, dimension=2, size=8, attrs=_attrs(), n_samples=10) as writer:
        writer.append(spins, np.zeros(4), np.zeros(4))
        with pytest.raises(ValueError, match="only 4 of 10"):
            writer.finalize()
    assert not out.exists()


def test_append_rejects_bad_chunks(tmp_path):
    out = tmp_path / "bad.h5"
    with io.DatasetWriter(out, dimension=2, size=8, attrs=_attrs()) as writer:
        with pytest.raises(ValueError, match="shape"):
            writer.append(np.ones((2, 8, 7), np.int8), np.zeros(2), np.zeros(2))
        with pytest.raises(ValueError, match="-1 or \\+1"):
            writer.append(np.zeros((2, 8, 8), np.int8), np.zeros(2), np.zeros(2))
        with pytest.raises(ValueError, match="shape"):
            writer.append(np.ones((2, 8, 8), np.int8), np.zeros(3), np.zeros(2))
        writer.discard()
    assert not io.partial_path(out).exists()


def _write_partial(out, n_chunks, chunk=10):
    spins = _random_spins(n_chunks * chunk, 8, 2, seed=2)
    e = energy_per_spin(spins, 1.0, 0.1, 2)
    m = magnetization_per_spin(spins, 2)
    writer = io.DatasetWriter(out, dimension=2, size=8, attrs=_attrs(), n_samples=100,
                              resume_params={"seed": 123, "temperature": 2.5})
    for k in range(n_chunks):
        sl = slice(k * chunk, (k + 1) * chunk)
        writer.append(spins[sl], e[sl], m[sl],
                      state={"spins": spins[sl][-2:], "rng": np.arange(8, dtype=np.uint64) + k,
                             "sweeps": np.int64(100 * (k + 1))})
    writer.close()  # as if killed: no finalize
    return spins, e, m


def test_reopen_restores_last_committed_state(tmp_path):
    out = tmp_path / "resume.h5"
    spins, e, m = _write_partial(out, 3)
    # Samples written after the last commit (a kill between data write and state commit)
    with h5py.File(io.partial_path(out), "r+") as h5:
        for name in ("spins", "energy", "magnetization"):
            h5[name].resize(35, axis=0)
        h5["spins"][30:35] = 1
    writer = io.DatasetWriter.reopen(out)
    with writer:
        assert writer.n_written == 30 and writer.n_samples == 100
        assert writer.resume_params == {"seed": 123, "temperature": 2.5}
        assert int(writer.resume_state["sweeps"]) == 300
        np.testing.assert_array_equal(writer.resume_state["rng"], np.arange(8, dtype=np.uint64) + 2)
        np.testing.assert_array_equal(writer.resume_state["spins"], spins[28:30])
        with h5py.File(io.partial_path(out), "r") as h5:
            assert h5["spins"].shape[0] == 30  # truncated to the committed samples
        more = _random_spins(70, 8, 2, seed=3)
        writer.append(more, energy_per_spin(more, 1.0, 0.1, 2), magnetization_per_spin(more, 2))
        writer.finalize()
    data = io.read_dataset(out, check_observables=True)
    np.testing.assert_array_equal(data.spins[:30], spins)
    np.testing.assert_array_equal(data.spins[30:], more)


def test_reopen_falls_back_to_older_slot_when_newest_is_torn(tmp_path):
    out = tmp_path / "torn.h5"
    _write_partial(out, 3)
    # The newest commit (sequence 3) lives in slot1; tear it as a kill mid-write would.
    with h5py.File(io.partial_path(out), "r+") as h5:
        meta = h5["_resume/slot1/_meta"][...]
        assert meta[0] == 3
        h5["_resume/slot1/rng"][0] = 999
    with io.DatasetWriter.reopen(out) as writer:
        assert writer.n_written == 20  # the older, intact commit
        assert int(writer.resume_state["sweeps"]) == 200


def test_reopen_falls_back_when_newest_commit_lacks_its_samples(tmp_path):
    out = tmp_path / "short.h5"
    _write_partial(out, 3)
    # a kill inside a flush can leave the newest state on disk but the old dataset extents
    with h5py.File(io.partial_path(out), "r+") as h5:
        for name in ("spins", "energy", "magnetization"):
            h5[name].resize(25, axis=0)
    with io.DatasetWriter.reopen(out) as writer:
        assert writer.n_written == 20 and int(writer.resume_state["sweeps"]) == 200
    # ... or samples that do not read back as valid spins
    out2 = tmp_path / "invalid.h5"
    _write_partial(out2, 3)
    with h5py.File(io.partial_path(out2), "r+") as h5:
        h5["spins"][25] = 0
    with io.DatasetWriter.reopen(out2) as writer:
        assert writer.n_written == 20
        # the next commit reuses the slot of the abandoned one, keeping the good one intact
        spins = _random_spins(10, 8, 2, seed=9)
        writer.append(spins, np.zeros(10), np.zeros(10), state={"sweeps": np.int64(1)})
    with io.DatasetWriter.reopen(out2) as writer:
        assert writer.n_written == 30 and int(writer.resume_state["sweeps"]) == 1


def test_reopen_errors(tmp_path):
    out = tmp_path / "none.h5"
    with pytest.raises(FileNotFoundError):
        io.DatasetWriter.reopen(out)
    io.partial_path(out).write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(ValueError, match="corrupt|not a readable") as info:
        io.DatasetWriter.reopen(out)
    assert str(io.partial_path(out)) in _one_line(info)
    with h5py.File(io.partial_path(out), "w") as h5:
        h5["spins"] = np.ones((2, 4, 4), np.int8)
    with pytest.raises(ValueError, match="not an rgdl partial dataset"):
        io.DatasetWriter.reopen(out)


def _mutate(path, fn):
    with h5py.File(path, "r+") as h5:
        fn(h5)


@pytest.mark.parametrize("mutation,match", [
    (lambda h5: h5.__delitem__("energy"), "missing dataset 'energy'"),
    (lambda h5: h5.attrs.__delitem__("temperature"), "missing attribute"),
    (lambda h5: h5.attrs.__setitem__("dimension", 3), "dimension"),
    (lambda h5: h5.attrs.__setitem__("temperature", -1.0), "temperature"),
    (lambda h5: h5.attrs.__setitem__("size", 9), "shape"),
    (lambda h5: h5.attrs.__setitem__("seed", "abc"), "seed"),
    (lambda h5: h5["spins"].__setitem__((0, 0, 0), 0), "other than -1 and \\+1"),
    (lambda h5: h5["energy"].__setitem__(1, np.nan), "non-finite"),
])
def test_read_rejects_invalid_files(tmp_path, mutation, match):
    out = tmp_path / "bad.h5"
    io.write_dataset(out, _random_spins(6, 8, 2), attrs=_attrs())
    _mutate(out, mutation)
    with pytest.raises(ValueError, match=match) as info:
        io.read_dataset(out)
    assert str(out) in _one_line(info)


def test_read_rejects_wrong_dtypes(tmp_path):
    out = tmp_path / "dtype.h5"
    io.write_dataset(out, _random_spins(6, 8, 2), attrs=_attrs())
    with h5py.File(out, "r+") as h5:
        data = h5["spins"][...]
        del h5["spins"]
        h5["spins"] = data.astype(np.int16)
    with pytest.raises(ValueError, match="'spins' must be int8"):
        io.read_dataset(out)
    io.write_dataset(out, _random_spins(6, 8, 2), attrs=_attrs(), overwrite=True)
    with h5py.File(out, "r+") as h5:
        data = h5["energy"][...]
        del h5["energy"]
        h5["energy"] = data.astype(np.float32)
    with pytest.raises(ValueError, match="'energy' must be float64"):
        io.read_dataset(out)


def test_read_rejects_inconsistent_observables(tmp_path):
    out = tmp_path / "obs.h5"
    spins = _random_spins(6, 8, 2)
    io.write_dataset(out, spins, np.zeros(6), magnetization_per_spin(spins, 2), attrs=_attrs())
    io.read_dataset(out)  # structurally fine
    with pytest.raises(ValueError, match="'energy' does not match"):
        io.read_dataset(out, check_observables=True)


def test_read_rejects_corrupt_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.read_dataset(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match="not a readable HDF5 file") as info:
        io.read_dataset(garbage)
    assert str(garbage) in _one_line(info)
    truncated = tmp_path / "truncated.h5"
    io.write_dataset(truncated, _random_spins(400, 16, 2), attrs=_attrs(size=16))
    raw = truncated.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError) as info:
        io.read_dataset(truncated)
    assert str(truncated) in _one_line(info)


def test_check_output_path(tmp_path):
    assert io.check_output_path(tmp_path / "new.h5") == tmp_path / "new.h5"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.check_output_path(tmp_path / "no" / "such" / "x.h5")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError):
        io.check_output_path(afile / "x.h5")
    with pytest.raises(IsADirectoryError):
        io.check_output_path(tmp_path)
    with pytest.raises(FileExistsError, match="--overwrite"):
        io.check_output_path(afile)
    assert io.check_output_path(afile, overwrite=True) == afile
    assert list(tmp_path.glob(".rgdl-probe-*")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_check_output_path_unwritable(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            io.check_output_path(locked / "x.h5")
    finally:
        locked.chmod(0o755)


def test_opens_with_xarray(tmp_path):
    xr = pytest.importorskip("xarray", reason="xarray is not installed")
    pytest.importorskip("h5netcdf", reason="h5netcdf is not installed")
    out = tmp_path / "xr.h5"
    spins = _random_spins(12, 8, 2)
    io.write_dataset(out, spins, attrs=_attrs())
    with xr.open_dataset(out, engine="h5netcdf", phony_dims="sort") as ds:
        np.testing.assert_array_equal(ds["spins"].values, spins)
        assert ds.attrs["temperature"] == 2.5


# ---------------------------------------------------------------- self-describing files (v2)
OLD_FILES = Path(__file__).parent / "data" / "format_v1"  # written by the format-1 code


@pytest.mark.parametrize("dimension, size, dims", [(2, 4, ("sample", "y", "x")),
                                                    (1, 6, ("sample", "site"))])
def test_xarray_sees_named_dimensions_and_units(tmp_path, dimension, size, dims):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    out = tmp_path / "data.h5"
    spins = _random_spins(11, size, dimension)
    io.write_dataset(out, spins, attrs=_attrs(dimension, size), chunk_samples=4)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["spins"].dims == dims
        assert ds["energy"].dims == ds["magnetization"].dims == ("sample",)
        assert not any(name.startswith("phony_dim") for name in ds.sizes)
        assert dict(ds.sizes) == dict(zip(dims, (11,) + (size,) * dimension))
        for name in ("spins", "energy", "magnetization") + dims:
            assert ds[name].attrs["units"] == "1" and ds[name].attrs["long_name"], name
        assert ds["energy"].attrs["long_name"].startswith("energy per spin")
        np.testing.assert_array_equal(ds["spins"].values, spins)
        np.testing.assert_array_equal(ds["sample"].values, np.arange(11))
        assert ds.attrs["temperature"] == 2.5 and ds.attrs["format_version"] == 2
    view = io.load_dataset(out, as_xarray=True)
    assert view["spins"].dims == dims and view["spins"].attrs["units"] == "1"
    np.testing.assert_array_equal(view["spins"].values, spins)


def test_load_dataset_gives_arrays_and_metadata(tmp_path):
    out = tmp_path / "data.h5"
    spins = _random_spins(9, 8, 2)
    io.write_dataset(out, spins, attrs=_attrs(source="model.npz"))
    data = io.load_dataset(out)
    np.testing.assert_array_equal(data.spins, spins)
    meta = data.metadata
    assert isinstance(meta, io.DatasetMetadata)
    assert (meta.dimension, meta.size, meta.temperature, meta.field) == (2, 8, 2.5, 0.1)
    assert (meta.n_chains, meta.thin, meta.format_version, meta.source) == (2, 3, 2, "model.npz")


@pytest.mark.parametrize("name, dims", [("complete_2d.h5", ("sample", "y", "x")),
                                        ("complete_1d.h5", ("sample", "site"))])
def test_old_format_files_still_load(name, dims):
    """Files of format_version 1 (no coordinates) read as before, also as xarray."""
    data = io.load_dataset(OLD_FILES / name, check_observables=True)
    assert data.metadata.format_version == 1 and data.n_samples in (20, 24)
    with h5py.File(OLD_FILES / name, "r") as h5:
        assert "sample" not in h5 and h5.attrs["format_version"] == 1
        np.testing.assert_array_equal(data.spins, h5["spins"][...])
    pytest.importorskip("xarray")
    view = io.load_dataset(OLD_FILES / name, as_xarray=True)
    assert view["spins"].dims == dims and view["energy"].attrs["units"] == "1"


def test_new_format_stores_the_same_samples_as_the_old(tmp_path):
    """The format change adds coordinates and attributes only: the same run gives the same
    spins, energies and attributes as the format-1 file written before it."""
    result = generate_dataset(tmp_path / "new.h5", dimension=2, size=4, temperature=2.5,
                              n_samples=24, n_chains=2, seed=5, burn_in=10, thin=2)
    old, new = io.read_dataset(OLD_FILES / "complete_2d.h5"), io.read_dataset(result.path)
    assert old.spins.tobytes() == new.spins.tobytes()
    np.testing.assert_array_equal(old.energy, new.energy)
    changed = {"created", "rgdl_version", "format_version"}
    assert {k: v for k, v in old.attrs.items() if k not in changed} == \
           {k: v for k, v in new.attrs.items() if k not in changed}


def test_partial_file_of_the_old_format_is_refused(tmp_path):
    """A run killed before the format change cannot be resumed: one clear error, file kept."""
    out = tmp_path / "killed_2d.h5"
    partial = io.partial_path(out)
    partial.write_bytes((OLD_FILES / "killed_2d.h5.partial").read_bytes())
    before = partial.read_bytes()
    with pytest.raises(ValueError, match="format_version 1 by an earlier rgdl") as info:
        generate_dataset(out, dimension=2, size=4, temperature=2.5, n_samples=24, n_chains=2,
                         seed=5, burn_in=10, thin=2, chunk_size=4, resume=True)
    assert "--overwrite" in _one_line(info)
    assert partial.read_bytes() == before and not out.exists()
    generate_dataset(out, dimension=2, size=4, temperature=2.5, n_samples=24, n_chains=2,
                     seed=5, burn_in=10, thin=2, overwrite=True)
    assert io.load_dataset(out).metadata.format_version == 2


def test_newer_format_versions_are_refused(tmp_path):
    out = tmp_path / "future.h5"
    io.write_dataset(out, _random_spins(3, 8, 2), attrs=_attrs())
    with h5py.File(out, "r+") as h5:
        h5.attrs["format_version"] = 3
    with pytest.raises(ValueError, match="format_version 3 is not readable") as info:
        io.read_dataset(out)
    _one_line(info)

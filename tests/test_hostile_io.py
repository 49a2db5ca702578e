"""Hostile conditions for the library's write paths (issue 11), in process: injected ENOSPC,
planted symlinks, locks, output = input, memory estimates and malformed inputs.

Every failure must be an exception with a one-line message naming the reason, the final output
must be absent or byte-identical to what it was, and no temporary file may be left behind.
"""

import errno
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from ising import atomic, io
from ising.dataset import generate_dataset

ENOSPC_TEXT = "no space left on device"


def _attrs(size=4):
    return dict(dimension=2, size=size, temperature=2.5, coupling=1.0, field=0.0,
                algorithm="metropolis", seed=1, burn_in=10, thin=2, tau_int=1.0, n_chains=1)


def _spins(n=40, size=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, size, size)) < 0.5, 1, -1).astype(np.int8)


def _listing(directory):
    return sorted(p.name for p in directory.iterdir())


# ------------------------------------------------------------------------------------------
# atomic writes
# ------------------------------------------------------------------------------------------
def test_atomic_write_enospc_keeps_the_original(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("original")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(atomic.WriteError) as info:
        atomic.atomic_write_text(target, "new content")
    assert str(info.value).endswith(f"({ENOSPC_TEXT})")
    assert "\n" not in str(info.value)
    assert target.read_text() == "original"
    assert _listing(tmp_path) == ["out.json"]


def test_atomic_write_no_clobber_and_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = tmp_path / "planted"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):  # O_EXCL | O_NOFOLLOW: never follows the symlink
        os.close(atomic.create_exclusive(planted))
    assert victim.read_text() == "precious"
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(FileExistsError, match="--overwrite"):
        atomic.atomic_write_text(out, "new", overwrite=False)
    assert out.read_text() == "old"
    assert sorted(_listing(tmp_path)) == ["out.txt", "planted", "victim"]


def test_write_dataset_enospc_in_hdf5_flush_keeps_the_original(tmp_path, monkeypatch):
    out = tmp_path / "d.h5"
    io.write_dataset(out, _spins(seed=1), attrs=_attrs())
    original = out.read_bytes()

    def full(self):  # what h5py raises when the disk is full (the errno is in the text)
        raise RuntimeError("Unable to synchronously flush file (file write failed: errno = 28, "
                           "error message = 'No space left on device')")

    monkeypatch.setattr(h5py.File, "flush", full)
    with pytest.raises(atomic.WriteError) as info:
        io.write_dataset(out, _spins(seed=2), attrs=_attrs(), overwrite=True)
    assert str(info.value).endswith(f"({ENOSPC_TEXT})")
    assert out.read_bytes() == original
    assert _listing(tmp_path) == ["d.h5"]


def test_generate_dataset_enospc_mid_run_keeps_a_resumable_partial(tmp_path, monkeypatch):
    out = tmp_path / "g.h5"
    kwargs = dict(dimension=2, size=8, temperature=2.5, n_samples=64, burn_in=5, thin=1,
                  seed=3, chunk_size=8)
    reference = generate_dataset(tmp_path / "ref.h5", **kwargs)
    calls = {"n": 0}
    real_flush = h5py.File.flush

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 7:  # a few chunks in
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_flush(self)

    monkeypatch.setattr(h5py.File, "flush", flaky)
    with pytest.raises(atomic.WriteError) as info:
        generate_dataset(out, **kwargs)
    assert ENOSPC_TEXT in str(info.value) and "--resume" in str(info.value)
    assert not out.exists() and io.partial_path(out).exists()
    monkeypatch.setattr(h5py.File, "flush", real_flush)
    resumed = generate_dataset(out, resume=True, **kwargs)
    assert resumed.resumed_samples > 0
    with h5py.File(out) as a, h5py.File(reference.path) as b:
        np.testing.assert_array_equal(a["spins"][...], b["spins"][...])


def test_h5py_deallocator_errors_are_write_failures(tmp_path, monkeypatch):
    """An error h5py can only report through sys.unraisablehook still fails the write."""
    out = tmp_path / "u.h5"
    real_flush = h5py.File.flush

    def flush_then_report(self):
        real_flush(self)
        sys.unraisablehook(type("U", (), {"exc_type": RuntimeError, "exc_traceback": None,
                                          "err_msg": None, "object": None,
                                          "exc_value": RuntimeError(
                                              "Can't decrement id ref count (file write "
                                              "failed, errno = 28)")})())

    monkeypatch.setattr(h5py.File, "flush", flush_then_report)
    with pytest.raises(atomic.WriteError, match=ENOSPC_TEXT):
        io.write_dataset(out, _spins(), attrs=_attrs())
    assert not out.exists()


def test_dataset_writer_removes_a_planted_partial_symlink_without_following_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "p.h5"
    io.partial_path(out).symlink_to(victim)
    with pytest.raises(FileExistsError):
        io.DatasetWriter(out, dimension=2, size=4, attrs=_attrs())
    with pytest.raises(ValueError, match="symbolic link"):
        generate_dataset(out, dimension=2, size=4, temperature=2.5, n_samples=8, burn_in=1,
                         thin=1, seed=0)
    io.write_dataset(out, _spins(), attrs=_attrs())  # overwrite=True inside: unlinks, never follows
    assert victim.read_text() == "precious"
    assert io.read_dataset(out).n_samples == 40


def test_rbm_atomic_savez_enospc_keeps_the_original(tmp_path, monkeypatch):
    import rbm.archive as rio

    target = tmp_path / "m.npz"
    rio.atomic_savez(target, {"a": np.arange(3)})
    original = target.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rio.np, "savez", full)
    with pytest.raises(OSError) as info:
        rio.atomic_savez(target, {"a": np.arange(5)})
    assert str(info.value) == f"cannot write {target} ({ENOSPC_TEXT})"
    assert target.read_bytes() == original
    assert _listing(tmp_path) == ["m.npz"]


# ------------------------------------------------------------------------------------------
# one writer per output
# ------------------------------------------------------------------------------------------
def test_output_lock_names_the_owner_and_takes_over_stale_locks(tmp_path):
    out = tmp_path / "o.h5"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        atomic.lock_path(out).write_text(f"{sleeper.pid} {__import__('socket').gethostname()}\n")
        with pytest.raises(FileExistsError, match=f"pid {sleeper.pid}"):
            io.write_dataset(out, _spins(), attrs=_attrs())
        assert not out.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # the owner is dead: its lock is stale and is taken over
    io.write_dataset(out, _spins(), attrs=_attrs())
    assert out.exists() and not atomic.lock_path(out).exists()


def test_output_lock_is_released_on_errors_and_reentrant(tmp_path):
    out = tmp_path / "r.h5"
    with pytest.raises(RuntimeError):
        with atomic.OutputLock(out):
            with atomic.OutputLock(out):  # nested in one process: shared
                assert atomic.lock_path(out).exists()
            assert atomic.lock_path(out).exists()
            raise RuntimeError("boom")
    assert not atomic.lock_path(out).exists()


# ------------------------------------------------------------------------------------------
# output = input, names, memory
# ------------------------------------------------------------------------------------------
def test_output_equal_to_input_is_refused_through_links(tmp_path):
    data = tmp_path / "d.h5"
    data.write_bytes(b"x")
    (tmp_path / "sym.h5").symlink_to(data)
    os.link(data, tmp_path / "hard.h5")
    for alias in ("d.h5", "sym.h5", "hard.h5"):
        with pytest.raises(ValueError, match="is the input file"):
            atomic.check_not_input(tmp_path / alias, data)
    atomic.check_not_input(tmp_path / "other.h5", data)


def test_names_too_long_for_the_temporary_suffix(tmp_path):
    with pytest.raises(ValueError, match="file name too long"):
        io.check_output_path(tmp_path / ("a" * 250 + ".h5"))
    assert _listing(tmp_path) == []


def test_memory_estimate_refuses_before_allocating(monkeypatch, tmp_path):
    monkeypatch.setenv("RGDL_MEMORY_LIMIT", str(1 << 20))
    with pytest.raises(atomic.ResourceError, match=r"needs about .* of memory, more than the 1 MiB"):
        generate_dataset(tmp_path / "m.h5", dimension=2, size=1024, temperature=2.5,
                         n_samples=10, n_chains=4, burn_in=1, thin=1, seed=0)
    assert _listing(tmp_path) == []


def test_integer_bounds(tmp_path):
    with pytest.raises(ValueError, match="burn_in must be <="):
        generate_dataset(tmp_path / "b.h5", dimension=2, size=4, temperature=2.5, n_samples=4,
                         burn_in=10 ** 20, thin=1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        generate_dataset(tmp_path / "b.h5", dimension=2, size=4, temperature=2.5, n_samples=4,
                         burn_in=1, thin=1, seed=2 ** 64)
    assert _listing(tmp_path) == []


def test_exact_partition_function_refused_above_the_stated_size():
    import rbm
    from rbm.partition import EXACT_UNITS_LIMIT

    model = rbm.RBM(n_components=EXACT_UNITS_LIMIT + 1, n_iter=1, random_state=0)
    model.fit(_spins(20, 8).reshape(20, -1))
    with pytest.raises(ValueError, match="2\\^31 terms"):
        model.log_partition(method="exact")


# ------------------------------------------------------------------------------------------
# inputs that are not what they claim
# ------------------------------------------------------------------------------------------
def test_plain_npy_and_hdf5_are_not_models(tmp_path):
    import rbm

    np.save(tmp_path / "x.npy", np.zeros(3))
    np.save(tmp_path / "o.npy", np.array([{}], dtype=object))
    io.write_dataset(tmp_path / "d.h5", _spins(), attrs=_attrs())
    for name in ("x.npy", "o.npy", "d.h5"):
        with pytest.raises(ValueError, match="not an rgdl model file") as info:
            rbm.load_model(tmp_path / name)
        assert "allow_pickle" not in str(info.value)


def test_truncated_hdf5_is_diagnosed_as_corrupt_not_locked(tmp_path):
    path = tmp_path / "t.h5"
    io.write_dataset(path, _spins(400), attrs=_attrs())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated HDF5 file") as info:
        io.read_dataset(path)
    assert "locked" not in str(info.value)


def test_sweep_config_validated_like_the_command_line(tmp_path):
    from rgdl import sweep

    for bad in ({"n_samples": True}, {"n_chains": 2.5}, {"dimension": True},
                {"burn_in": False}, {"sizes": [True, 8]}):
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"temperatures": [2.0], "sizes": [4], **bad}))
        with pytest.raises(ValueError, match="integer|number|dimension"):
            sweep.spec_from_options(sweep.load_spec_file(path))


def test_fss_refuses_a_one_dimensional_sweep_table():
    from analysis import fss

    table = {"size": np.array([8, 16]), "temperature": np.array([1.0, 1.0]),
             "dimension": np.array([1, 1])}
    with pytest.raises(ValueError, match="dimension 1"):
        fss.analyze(table)


def test_malformed_sweep_index_is_one_error(tmp_path):
    from rgdl import sweep

    spec = sweep.SweepSpec(temperatures=(2.2,), sizes=(4,))
    point = spec.points()[0]
    index = {"format": sweep.INDEX_FORMAT, "version": sweep.INDEX_VERSION,
             "spec_hash": spec.spec_hash, "spec": spec.to_dict(),
             "points": [{"id": point.point_id, "file": point.file,
                         "params": dict(point.params, size="x"), "status": "done",
                         "summary": {}}]}
    (tmp_path / sweep.INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="not a valid rgdl sweep index"):
        sweep.sweep_table(tmp_path)
    index["points"][0]["params"]["size"] = 4
    index["spec"]["n_samples"] = True
    (tmp_path / sweep.INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        sweep.sweep_table(tmp_path)

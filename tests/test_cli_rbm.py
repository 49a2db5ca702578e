"""`rgdl train` / `rgdl sample` through a subprocess: outputs, exit codes, one-line errors."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from ising.io import read_dataset, write_dataset
from ising.lattice import energy_per_spin, magnetization_per_spin

ENV = dict(os.environ, NUMBA_NUM_THREADS="1")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rgdl", *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=300)


def _attrs(dimension, size):
    return dict(dimension=dimension, size=size, temperature=2.5, coupling=1.0, field=0.1,
                algorithm="metropolis", seed=1, burn_in=10, thin=2, tau_int=1.0, n_chains=1)


@pytest.fixture(scope="module")
def data_2d(tmp_path_factory):
    rng = np.random.default_rng(0)
    spins = np.where(rng.random((120, 4, 4)) < 0.6, 1, -1).astype(np.int8)
    path = tmp_path_factory.mktemp("data") / "d2.h5"
    write_dataset(path, spins, attrs=_attrs(2, 4))
    return path


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, data_2d):
    out = tmp_path_factory.mktemp("model") / "m.npz"
    res = run("train", data_2d, "--layers", "6,3", "--epochs", "3", "--batch-size", "20",
              "--learning-rate", "0.05", "--seed", "4", "--out", out)
    assert res.returncode == 0, res.stderr
    return out, res


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_in_process(capsys, *args):
    """The same entry point as ``python -m rgdl`` (rgdl.cli.main), without a new interpreter."""
    from rgdl.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return _Result(exc.value.code, captured.out, captured.err)


def assert_user_error(res):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.stderr


def test_train_writes_model_with_lattice_and_epoch_lines(trained_model):
    out, res = trained_model
    from rbm.dbn import DBN

    dbn = DBN.load(out)
    assert [r.weights_.shape for r in dbn.layers_] == [(16, 6), (6, 3)]
    assert dbn.metadata_["lattice"] == {"dimension": 2, "size": 4, "temperature": 2.5,
                                        "coupling": 1.0, "field": 0.1}
    assert dbn.metadata_["seed"] == 4
    assert all(len(h["epoch"]) == 3 for h in dbn.history_)
    epoch_lines = [l for l in res.stdout.splitlines() if l.startswith("layer ")]
    assert len(epoch_lines) == 6 and "layer 2/2  epoch 3/3" in epoch_lines[-1]
    assert not any(p.name.startswith("m.npz.") for p in out.parent.iterdir())  # no leftovers


def test_train_same_seed_same_model(tmp_path, data_2d, trained_model, capsys):
    out2 = tmp_path / "again.npz"
    res = run_in_process(capsys, "train", data_2d, "--layers", "6,3", "--epochs", "3", "--batch-size", "20",
              "--learning-rate", "0.05", "--seed", "4", "--out", out2, "-q")
    assert res.returncode == 0, res.stderr
    a, b = np.load(trained_model[0]), np.load(out2)
    for key in ("layer0_weights", "layer1_weights", "layer1_hidden_bias"):
        np.testing.assert_array_equal(a[key], b[key])


def test_train_binary_units_1d(tmp_path):
    rng = np.random.default_rng(1)
    spins = np.where(rng.random((80, 8)) < 0.5, 1, -1).astype(np.int8)
    data = tmp_path / "d1.h5"
    write_dataset(data, spins, attrs=_attrs(1, 8))
    out = tmp_path / "b.npz"
    res = run("train", data, "--layers", "4", "--epochs", "2", "--units", "binary",
              "--cd-k", "2", "--persistent", "--l1", "1e-4", "--l2", "1e-4", "--seed", "0",
              "--out", out, "-q")
    assert res.returncode == 0, res.stderr
    from rbm.dbn import DBN

    dbn = DBN.load(out)
    assert dbn.layers_[0].units == "binary" and dbn.layers_[0].persistent
    assert dbn.layers_[0].cd_k == 2
    gen = tmp_path / "g.h5"
    res = run("sample", out, "--samples", "7", "--gibbs-steps", "5", "--seed", "1", "--out", gen)
    assert res.returncode == 0, res.stderr
    ds = read_dataset(gen, check_observables=True)
    assert ds.spins.shape == (7, 8) and set(np.unique(ds.spins)) <= {-1, 1}


def test_sample_writes_schema(tmp_path, trained_model, capsys):
    model = trained_model[0]
    gen = tmp_path / "gen.h5"
    res = run("sample", model, "--samples", "25", "--gibbs-steps", "20", "--seed", "3",
              "--out", gen)
    assert res.returncode == 0, res.stderr
    ds = read_dataset(gen, check_observables=True)
    assert ds.spins.shape == (25, 4, 4) and ds.spins.dtype == np.int8
    np.testing.assert_allclose(ds.energy, energy_per_spin(ds.spins, 1.0, 0.1, 2))
    np.testing.assert_allclose(ds.magnetization, magnetization_per_spin(ds.spins, 2))
    assert ds.attrs["source"] == str(model.resolve())
    assert ds.attrs["temperature"] == 2.5 and ds.attrs["field"] == 0.1
    assert ds.attrs["seed"] == 3
    # same seed, same samples; through the library too
    from rbm.dbn import DBN

    expected = DBN.load(model).sample(25, 20, seed=3)
    np.testing.assert_array_equal(ds.spins.reshape(25, -1), expected)
    gen2 = tmp_path / "gen2.h5"
    res = run_in_process(capsys, "sample", model, "--samples", "25", "--gibbs-steps", "20",
                         "--seed", "3", "--mode", "mean-field", "--out", gen2)
    assert res.returncode == 0, res.stderr
    assert read_dataset(gen2).attrs["algorithm"] == "dbn-gibbs-mean-field"


def test_resume_after_kill_equals_uninterrupted(tmp_path, data_2d, capsys):
    """A run killed during layer 2 continues with --resume and ends byte-identical."""
    args = ["--layers", "6,3", "--epochs", "4", "--batch-size", "20", "--seed", "9", "-q"]
    full = tmp_path / "full.npz"
    assert run("train", data_2d, *args, "--out", full).returncode == 0
    # emulate a killed run: the checkpoints it would leave after layer 1 and 2 epochs of layer 2
    from rbm.dbn import DBN
    from rgdl.commands.train import checkpoint_prefix, load_training_data

    part = tmp_path / "part.npz"
    spins, _ = load_training_data(data_2d, "spin")

    class Killed(Exception):
        pass

    def kill(record):
        if record["layer"] == 2 and record["epoch"] == 2:
            raise Killed

    params = dict(learning_rate=0.01, n_iter=4, batch_size=20, cd_k=1, persistent=False,
                  momentum=0.5, final_momentum=0.9, weight_decay=0.0, l1=0.0, dtype="float32")
    with pytest.raises(Killed):
        DBN([6, 3], rbm_params=params, random_state=9).fit(
            spins, checkpoint=checkpoint_prefix(part), callback=kill)
    assert not part.exists()
    # without --resume the output does not exist yet, but the checkpoints do: --resume continues
    res = run("train", data_2d, *args[:-1], "--out", part, "--resume")
    assert res.returncode == 0, res.stderr
    layer_lines = [l for l in res.stdout.splitlines() if l.startswith("layer ")]
    assert layer_lines[0].startswith("layer 2/2  epoch 3/4")
    a, b = np.load(full), np.load(part)
    for key in ("layer0_weights", "layer1_weights", "layer1_hidden_bias", "layer1_visible_bias"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not any(p.name.startswith("part.npz.") for p in tmp_path.iterdir())
    # a complete model has nothing to resume
    assert_user_error(run_in_process(capsys, "train", data_2d, *args, "--out", part, "--resume"))


def _bad_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", [
    "exists", "layers_zero", "layers_text", "lr_zero", "lr_negative", "cd_k", "epochs",
    "momentum", "missing_data", "corrupt_data", "non_binary", "nan_energy", "empty",
    "resume_and_overwrite", "bad_units", "out_dir_missing",
])
def test_train_bad_input(tmp_path, data_2d, trained_model, case, capsys):
    out = tmp_path / "m.npz"
    args = {"exists": [data_2d, "--out", trained_model[0]],
            "layers_zero": [data_2d, "--layers", "4,0", "--out", out],
            "layers_text": [data_2d, "--layers", "4,x", "--out", out],
            "lr_zero": [data_2d, "--learning-rate", "0", "--out", out],
            "lr_negative": [data_2d, "--learning-rate", "-0.1", "--out", out],
            "cd_k": [data_2d, "--cd-k", "0", "--out", out],
            "epochs": [data_2d, "--epochs", "0", "--out", out],
            "momentum": [data_2d, "--momentum", "1.5", "--out", out],
            "missing_data": [tmp_path / "nope.h5", "--out", out],
            "resume_and_overwrite": [data_2d, "--resume", "--overwrite", "--out", out],
            "bad_units": [data_2d, "--units", "potts", "--out", out],
            "out_dir_missing": [data_2d, "--out", tmp_path / "no" / "m.npz"]}.get(case)
    if args is None:
        data = tmp_path / "bad.h5"
        if case == "corrupt_data":
            _bad_file(tmp_path, "bad.h5", b"not an hdf5 file at all")
        else:
            write_dataset(data, np.ones((5, 4, 4), np.int8), attrs=_attrs(2, 4))
            with h5py.File(data, "r+") as h5:
                if case == "non_binary":
                    h5["spins"][0, 0, 0] = 0
                elif case == "nan_energy":
                    h5["energy"][1] = np.nan
                elif case == "empty":
                    for name in ("spins", "energy", "magnetization"):
                        h5[name].resize(0, axis=0)
        args = [data, "--layers", "3", "--epochs", "1", "--out", out]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_user_error(run_in_process(capsys, "train", *args))
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written


@pytest.mark.parametrize("case", ["missing", "corrupt", "wrong_version", "no_lattice", "exists",
                                  "samples_zero", "gibbs_negative", "bad_mode"])
def test_sample_bad_input(tmp_path, trained_model, case, capsys):
    model = trained_model[0]
    out = tmp_path / "g.h5"
    if case == "missing":
        model = tmp_path / "none.npz"
    elif case == "corrupt":
        model = _bad_file(tmp_path, "c.npz", b"PK\x03\x04garbage")
    elif case == "wrong_version":
        arrays = dict(np.load(trained_model[0]))
        arrays["format_version"] = np.array(99)
        model = tmp_path / "v.npz"
        np.savez(model, **arrays)
    elif case == "no_lattice":
        from rbm.dbn import DBN

        dbn = DBN.load(trained_model[0])
        model = tmp_path / "nolattice.npz"
        dbn.save(model, meta={})
    elif case == "exists":
        out.write_bytes(b"x")
    extra = {"samples_zero": ["--samples", "0"], "gibbs_negative": ["--gibbs-steps", "-1"],
             "bad_mode": ["--mode", "greedy"]}.get(case, [])
    args = ["sample", model, "--samples", "3", "--gibbs-steps", "2", "--out", out, *extra]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_user_error(run_in_process(capsys, *args))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_errors_through_a_subprocess(tmp_path, data_2d, trained_model):
    """The real ``python -m rgdl`` process: one line on stderr, exit status 2."""
    assert_user_error(run("train", data_2d, "--out", trained_model[0]))
    assert_user_error(run("train", data_2d, "--learning-rate", "0", "--out", tmp_path / "x.npz"))
    assert_user_error(run("sample", _bad_file(tmp_path, "c.npz", b"junk"), "--samples", "2",
                          "--out", tmp_path / "g.h5"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_help_texts(capsys):
    for command in ("train", "sample"):
        res = run_in_process(capsys, command, "--help")
        assert res.returncode == 0
        assert "--seed" in res.stdout and "--out" in res.stdout

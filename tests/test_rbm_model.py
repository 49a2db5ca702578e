"""RBM model: energies, conditionals, likelihoods and sampling vs brute force; persistence;
parameter protocol; input validation."""

import json
import os
import zipfile

import numpy as np
import pytest

from rbm import RBM, load_layers, load_model, save_layers, save_model
from rbm import io as rbm_io
from tests import reference_rbm as ref

UNITS = ("binary", "spin")


def random_model(units, n_visible=5, n_hidden=3, scale=0.8, seed=0, dtype="float64"):
    """A fitted-looking RBM with random parameters (no training)."""
    rng = np.random.default_rng(seed)
    m = RBM(n_hidden, units=units, dtype=dtype, random_state=seed)
    m.weights_ = (scale * rng.standard_normal((n_visible, n_hidden))).astype(dtype)
    m.visible_bias_ = (0.5 * rng.standard_normal(n_visible)).astype(dtype)
    m.hidden_bias_ = (0.5 * rng.standard_normal(n_hidden)).astype(dtype)
    m.n_features_in_ = n_visible
    m.history_ = {}
    m.n_epochs_done_ = 0
    return m


def params64(m):
    return (m.weights_.astype(np.float64), m.visible_bias_.astype(np.float64),
            m.hidden_bias_.astype(np.float64))


@pytest.mark.parametrize("units", UNITS)
def test_energy_and_free_energy_vs_brute_force(units):
    m = random_model(units)
    W, c, b = params64(m)
    vs = ref.states(5, units)
    hs = ref.states(3, units)
    rng = np.random.default_rng(1)
    pick_h = hs[rng.integers(0, len(hs), len(vs))]
    expected_e = [ref.energy(v, h, W, c, b) for v, h in zip(vs, pick_h)]
    np.testing.assert_allclose(m.energy(vs, pick_h), expected_e, rtol=1e-12, atol=1e-12)
    expected_f = [ref.free_energy(v, W, c, b, units) for v in vs]
    np.testing.assert_allclose(m.free_energy(vs), expected_f, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("units", UNITS)
def test_conditionals_vs_brute_force_ratios(units):
    m = random_model(units)
    W, c, b = params64(m)
    for v in ref.states(5, units)[::3]:
        p_on = ref.hidden_on_probability(v, W, c, b, units)
        expected_mean = p_on if units == "binary" else 2 * p_on - 1
        np.testing.assert_allclose(m.transform(v[None])[0], expected_mean, rtol=1e-10, atol=1e-12)
    for h in ref.states(3, units):
        p_on = ref.visible_on_probability(h, W, c, b, units)
        expected_mean = p_on if units == "binary" else 2 * p_on - 1
        np.testing.assert_allclose(m.mean_visible(h[None])[0], expected_mean, rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("units", UNITS)
def test_free_energy_is_stable_for_large_fields(units):
    m = random_model(units, scale=400.0)
    vs = ref.states(5, units)
    f = m.free_energy(vs)
    assert np.all(np.isfinite(f))
    W, c, b = params64(m)
    np.testing.assert_allclose(f, [ref.free_energy(v, W, c, b, units) for v in vs], rtol=1e-10)


@pytest.mark.parametrize("units", UNITS)
def test_log_partition_and_score_samples_exact(units):
    m = random_model(units)
    W, c, b = params64(m)
    log_z, err = m.log_partition(method="exact")
    assert err == 0.0
    assert log_z == pytest.approx(ref.log_partition(W, c, b, units), abs=1e-10)
    vs = ref.states(5, units)
    scores = m.score_samples(vs)
    # log p(v) normalised: sum over all configurations is 1
    assert np.exp(scores).sum() == pytest.approx(1.0, abs=1e-10)
    assert m.score(vs) == pytest.approx(np.mean(scores))


def test_score_samples_ais_within_its_error_bar():
    m = random_model("spin", n_visible=12, n_hidden=10, scale=0.3, seed=3)
    exact, _ = m.log_partition(method="exact")
    log_z, err = m.log_partition(method="ais", n_betas=400, n_runs=100, seed=7)
    assert err > 0
    assert abs(log_z - exact) < 4 * err + 1e-3
    v = ref.states(12, "spin")[:5]
    np.testing.assert_allclose(m.score_samples(v, method="ais", n_betas=400, n_runs=100, seed=7),
                               m.score_samples(v) + (exact - log_z), rtol=1e-12)


@pytest.mark.parametrize("units", UNITS)
def test_pseudo_log_likelihood(units):
    m = random_model(units)
    W, c, b = params64(m)
    vs = ref.states(5, units)
    expected = [ref.pseudo_log_likelihood(v, W, c, b, units) for v in vs]
    np.testing.assert_allclose(m.pseudo_log_likelihood(vs, method="exact"), expected, rtol=1e-10)
    # the random-site estimator is unbiased for the all-sites sum: average many draws
    many = np.repeat(vs[:4], 4000, axis=0)
    est = m.pseudo_log_likelihood(many, method="random", seed=11).reshape(4, 4000)
    mean = est.mean(axis=1)
    sem = est.std(axis=1, ddof=1) / np.sqrt(4000)
    assert np.all(np.abs(mean - np.array(expected[:4])) < 4 * sem + 1e-12)


@pytest.mark.parametrize("units", UNITS)
def test_sample_matches_exact_distribution(units):
    m = random_model(units, n_visible=4, n_hidden=3, scale=0.7, seed=5)
    n = 20000
    v = m.sample(n, n_gibbs=30, seed=123)
    assert v.dtype == np.int8 and v.shape == (n, 4)
    vs = ref.states(4, units)
    p = np.exp(m.score_samples(vs))
    index = {tuple(x): i for i, x in enumerate(vs)}
    counts = np.zeros(len(vs))
    for row in v.astype(float):
        counts[index[tuple(row)]] += 1
    freq = counts / n
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 4.5 * sigma + 1e-4), (freq, p)
    # same seed, same bytes
    np.testing.assert_array_equal(m.sample(50, n_gibbs=5, seed=9), m.sample(50, n_gibbs=5, seed=9))


def test_gibbs_and_conditional_samplers_shapes_and_values():
    m = random_model("spin")
    v = ref.states(5, "spin")
    out = m.gibbs(v, n_steps=3, seed=0)
    assert out.shape == v.shape and set(np.unique(out)) <= {-1.0, 1.0}
    h = m.sample_hidden(v, seed=1)
    assert h.shape == (32, 3) and set(np.unique(h)) <= {-1.0, 1.0}
    vb = m.sample_visible(h, seed=2)
    assert vb.shape == v.shape
    np.testing.assert_array_equal(m.gibbs(v, 0, seed=0), v)


def test_get_set_params_protocol():
    m = RBM(7, units="binary", l1=2e-4)
    params = m.get_params()
    assert params["n_components"] == 7 and params["l1"] == 2e-4 and params["units"] == "binary"
    clone = RBM(**params)
    assert clone.get_params() == params
    assert m.set_params(learning_rate=0.5) is m and m.learning_rate == 0.5
    with pytest.raises(ValueError, match="(?i)invalid parameter"):
        m.set_params(bogus=1)
    assert "n_components=7" in repr(m)


def test_sklearn_clone_compatible():
    base = pytest.importorskip("sklearn.base")
    m = RBM(5, units="binary", random_state=3)
    c = base.clone(m)
    assert c.get_params() == m.get_params()


# ------------------------------------------------------------------------------------------------
# persistence
# ------------------------------------------------------------------------------------------------
def small_fitted(units="spin", seed=0, **kw):
    rng = np.random.default_rng(seed)
    X = (rng.random((200, 8)) < 0.3).astype(np.int8)
    if units == "spin":
        X = 2 * X - 1
    m = RBM(4, units=units, n_iter=2, batch_size=20, random_state=seed, monitor_size=50, **kw)
    return m.fit(X), X


@pytest.mark.parametrize("units", UNITS)
def test_save_load_round_trip(tmp_path, units):
    m, X = small_fitted(units, l1=2e-4)
    path = tmp_path / "model.npz"
    save_model(path, m)
    assert not os.path.exists(str(path) + ".tmp")
    back = load_model(path)
    assert isinstance(back, RBM)
    np.testing.assert_array_equal(back.weights_, m.weights_)
    np.testing.assert_array_equal(back.visible_bias_, m.visible_bias_)
    np.testing.assert_array_equal(back.hidden_bias_, m.hidden_bias_)
    assert back.weights_.dtype == m.weights_.dtype
    assert back.get_params() == m.get_params()
    assert back.history_ == m.history_
    assert back.n_epochs_done_ == 2
    np.testing.assert_array_equal(back.transform(X), m.transform(X))


def test_save_load_seedsequence_and_layers(tmp_path):
    m1, X = small_fitted("spin")
    m2 = RBM(2, units="spin", n_iter=1, random_state=np.random.SeedSequence(5), monitor_size=0)
    m2.fit(np.where(m1.transform(X) > 0, 1, -1))
    path = tmp_path / "stack.npz"
    save_layers(path, [m1, m2], {"layer_sizes": [4, 2]})
    layers, meta = load_layers(path)
    assert meta == {"layer_sizes": [4, 2], "kind": "dbn"}
    assert [l.weights_.shape for l in layers] == [(8, 4), (4, 2)]
    seed = layers[1].random_state
    assert isinstance(seed, np.random.SeedSequence) and seed.entropy == 5
    with pytest.raises(ValueError, match="does not stack|visible units"):
        save_layers(tmp_path / "bad.npz", [m2, m1])


def test_load_rejects_other_version_and_corrupt_files(tmp_path):
    m, _ = small_fitted("spin")
    path = tmp_path / "model.npz"
    save_model(path, m)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    # another format version
    other = dict(arrays, format_version=np.array(rbm_io.FORMAT_VERSION + 1))
    record = json.loads(str(arrays["meta"]))
    record["format_version"] = rbm_io.FORMAT_VERSION + 1
    other["meta"] = np.array(json.dumps(record))
    np.savez(tmp_path / "v2.npz", **other)
    with pytest.raises(ValueError, match="format version 2"):
        load_model(tmp_path / "v2.npz")
    # truncated file
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid rgdl model file"):
        load_model(tmp_path / "trunc.npz")
    # not an npz at all
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not an rgdl model file"):
        load_model(tmp_path / "text.npz")
    # inconsistent arrays
    bad = dict(arrays, layer0_weights=arrays["layer0_weights"][:, :2])
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match="inconsistent shapes|does not match"):
        load_model(tmp_path / "shape.npz")
    # NaN parameters
    nan = dict(arrays, layer0_weights=np.full_like(arrays["layer0_weights"], np.nan))
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(ValueError, match="not finite"):
        load_model(tmp_path / "nan.npz")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")
    with zipfile.ZipFile(path) as z:
        assert all(not name.endswith(".pkl") for name in z.namelist())


def test_save_unfitted_and_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="unfitted"):
        save_model(tmp_path / "m.npz", RBM(3))
    m, _ = small_fitted("spin")
    with pytest.raises(FileNotFoundError):
        save_model(tmp_path / "nope" / "m.npz", m)


# ------------------------------------------------------------------------------------------------
# input validation
# ------------------------------------------------------------------------------------------------
SPIN_X = np.where(np.random.default_rng(0).random((30, 6)) < 0.5, -1, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 0}, "n_components must be >= 1"),
    ({"n_components": -3}, "n_components must be >= 1"),
    ({"n_components": 2.5}, "n_components must be an integer"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"cd_k": 0}, "cd_k must be >= 1"),
    ({"batch_size": 0}, "batch_size"),
    ({"n_iter": 0}, "n_iter"),
    ({"units": "gaussian"}, "units"),
    ({"momentum": 1.0}, "momentum"),
    ({"weight_decay": -1e-3}, "weight_decay"),
    ({"l1": -1.0}, "l1"),
    ({"dtype": "float16"}, "dtype"),
    ({"learning_rate_schedule": "cosine"}, "learning_rate_schedule"),
    ({"random_state": -1}, "random_state"),
    ({"random_state": "abc"}, "random_state"),
    ({"n_persistent_chains": 0, "persistent": True}, "n_persistent_chains"),
])
def test_bad_hyperparameters(kwargs, match):
    params = {"n_components": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        RBM(**params).fit(SPIN_X)


def test_flip_augmentation_requires_spin():
    with pytest.raises(ValueError, match="requires spin units"):
        RBM(3, units="binary", flip_augmentation=True).fit((SPIN_X > 0).astype(int))


@pytest.mark.parametrize("X, units, match", [
    (np.zeros((0, 6)), "spin", "0 sample"),       # scikit-learn's messages
    (np.zeros((5, 0)), "spin", "0 feature"),
    (np.ones(6), "spin", "Expected 2D array"),
    (SPIN_X * 0.5, "spin", "only -1 and \\+1"),
    ((SPIN_X > 0).astype(int), "spin", "only -1 and \\+1"),
    (SPIN_X, "binary", "only 0 and 1"),
    (np.where(SPIN_X > 0, np.nan, 1.0), "spin", "NaN"),
    (np.array([["a", "b"]]), "spin", "numeric"),
])
def test_bad_data(X, units, match):
    with pytest.raises(ValueError, match=match):
        RBM(3, units=units, n_iter=1).fit(X)


def test_wrong_width_and_unfitted():
    m = RBM(3, n_iter=1, monitor_size=0, random_state=0).fit(SPIN_X)
    with pytest.raises(ValueError, match="X has 5 features, but RBM is expecting 6 features"):
        m.transform(SPIN_X[:, :5])
    with pytest.raises(ValueError, match="has 5 features"):
        m.partial_fit(SPIN_X[:, :5])
    with pytest.raises(ValueError, match="not fitted"):
        RBM(3).transform(SPIN_X)
    with pytest.raises(ValueError, match="n_samples"):
        m.sample(0)
    with pytest.raises(ValueError, match="method"):
        m.pseudo_log_likelihood(SPIN_X, method="sklearn")


def test_transform_accepts_means_but_not_out_of_range():
    m = random_model("spin")
    W, c, b = params64(m)
    means = np.full((2, 5), 0.3)
    np.testing.assert_allclose(m.transform(means), -np.tanh(means @ W + b), rtol=1e-12)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        m.transform(means + 1)
    with pytest.raises(ValueError, match="only -1 and"):
        m.free_energy(means)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.bool_, np.float32, np.float64])
@pytest.mark.parametrize("units", ["binary", "spin"])
def test_unit_set_check_matches_elementwise_reference(dtype, units):
    """The temporary-free reductions of the data check agree with the elementwise definition."""
    from rbm.model import in_unit_set

    rng = np.random.default_rng(0)
    for values in ([0, 1], [-1, 1], [-1, 0, 1], [1], [0], [2, 1], [-2, -1, 1], [1, 3]):
        arr = rng.choice(values, size=(7, 5))
        if dtype == np.bool_:
            if min(values) < 0 or max(values) > 1:
                continue
        elif dtype == np.uint8 and min(values) < 0:
            continue
        arr = arr.astype(dtype)
        allowed = (0, 1) if units == "binary" else (-1, 1)
        expected = bool(np.all(np.isin(arr.astype(np.int64), allowed)))
        assert in_unit_set(arr, units) == expected, (values, dtype, units)

"""Tests of rbm.dbn.DBN: passes against explicit formulas, generation against Ising data,
receptive fields, persistence, resume, divergence."""

import numpy as np
import pytest

from rbm import RBM, TrainingDivergedError
from rbm.dbn import DBN


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _manual_layers(units, seed=0, sizes=(6, 4, 3)):
    """Fitted-looking RBMs with random parameters (stack of sizes[0] -> sizes[1] -> ...)."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (nv, nh) in enumerate(zip(sizes[:-1], sizes[1:])):
        rbm = RBM(nh, units=units[i], dtype="float64")
        rbm.weights_ = rng.normal(0, 0.8, (nv, nh))
        rbm.visible_bias_ = rng.normal(0, 0.3, nv)
        rbm.hidden_bias_ = rng.normal(0, 0.3, nh)
        rbm.n_features_in_ = nv
        rbm.history_ = {}
        layers.append(rbm)
    return layers


def _mean_ref(x, units):
    # docs/CONTRACTS.md: binary P(on) = sigma(-x); spin E[u] = 2 sigma(-2x) - 1
    return _sigmoid(-x) if units == "binary" else 2 * _sigmoid(-2 * x) - 1


def _to(x, src, dst):
    if src == dst:
        return x
    return 2 * x - 1 if dst == "spin" else (x + 1) / 2


@pytest.mark.parametrize("units", [("spin", "spin"), ("binary", "binary"), ("binary", "spin"),
                                   ("spin", "binary")])
def test_transform_and_inverse_match_explicit_formulas(units):
    layers = _manual_layers(units)
    dbn = DBN.from_layers(layers)
    rng = np.random.default_rng(1)
    v = (rng.random((5, 6)) < 0.5).astype(float)
    if units[0] == "spin":
        v = 2 * v - 1
    h1 = _mean_ref(v @ layers[0].weights_ + layers[0].hidden_bias_, units[0])
    h2 = _mean_ref(_to(h1, units[0], units[1]) @ layers[1].weights_ + layers[1].hidden_bias_,
                   units[1])
    np.testing.assert_allclose(dbn.transform(v, layer=1), h1, rtol=1e-12)
    np.testing.assert_allclose(dbn.transform(v), h2, rtol=1e-12)
    # mean-field down-pass
    d1 = _mean_ref(h2 @ layers[1].weights_.T + layers[1].visible_bias_, units[1])
    d0 = _mean_ref(_to(d1, units[1], units[0]) @ layers[0].weights_.T + layers[0].visible_bias_,
                   units[0])
    np.testing.assert_allclose(dbn.inverse_transform(h2), d0, rtol=1e-12)
    np.testing.assert_allclose(dbn.reconstruct(v), d0, rtol=1e-12)
    np.testing.assert_allclose(dbn.inverse_transform(h1, layer=1),
                               _mean_ref(h1 @ layers[0].weights_.T + layers[0].visible_bias_,
                                         units[0]), rtol=1e-12)


def test_stochastic_down_pass_has_the_right_mean():
    layers = _manual_layers(("spin", "spin"))
    dbn = DBN.from_layers(layers)
    h = np.tile([[1.0, -1.0, 1.0]], (20000, 1))
    states = dbn.inverse_transform(h, mode="stochastic", seed=3)
    assert set(np.unique(states)) <= {-1.0, 1.0}
    # E[v] = E_{h1 ~ p(h1|h2)} E[v | h1]: exact by enumerating the 4 middle units
    import itertools

    W1, c1 = layers[1].weights_, layers[1].visible_bias_
    W0, c0 = layers[0].weights_, layers[0].visible_bias_
    act = h[0] @ W1.T + c1
    p_on = _sigmoid(-2 * act)
    expected = np.zeros(6)
    for mid in itertools.product([-1.0, 1.0], repeat=4):
        mid = np.array(mid)
        prob = np.prod(np.where(mid > 0, p_on, 1 - p_on))
        expected += prob * _mean_ref(mid @ W0.T + c0, "spin")
    err = states.std(axis=0) / np.sqrt(len(states))
    assert np.all(np.abs(states.mean(axis=0) - expected) < 4 * err)


@pytest.mark.parametrize("units", [("spin", "spin"), ("binary", "spin")])
def test_receptive_fields_are_matrix_products(units):
    layers = _manual_layers(units, sizes=(7, 5, 4))
    extra = _manual_layers(("spin",), seed=2, sizes=(4, 2))[0]
    dbn = DBN.from_layers(layers + [extra])
    W1, W2, W3 = layers[0].weights_, layers[1].weights_, extra.weights_
    np.testing.assert_allclose(dbn.receptive_fields(1), W1, rtol=1e-14)
    np.testing.assert_allclose(dbn.receptive_fields(2), W1 @ W2, rtol=1e-13)
    np.testing.assert_allclose(dbn.receptive_fields(), W1 @ W2 @ W3, rtol=1e-13)
    assert dbn.receptive_fields(3).shape == (7, 2)
    with pytest.raises(ValueError):
        dbn.receptive_fields(4)
    with pytest.raises(ValueError):
        dbn.receptive_fields(0)


# ----------------------------------------------------------------------------------------------
# training on Ising data
# ----------------------------------------------------------------------------------------------
LATTICE = 4  # 16 visible spins


@pytest.fixture(scope="module")
def ising_data():
    from ising.samplers import sample

    result = sample(2, LATTICE, 2.7, n_samples=3000, n_chains=30, burn_in=200, thin=10, seed=7)
    return result


@pytest.fixture(scope="module")
def trained(ising_data):
    spins = ising_data.spins.reshape(len(ising_data.spins), -1)
    schedule = dict(learning_rate=0.05, learning_rate_schedule="linear", n_iter=60,
                    batch_size=50, cd_k=10, monitor_size=0)
    # layer 2 sees 5 draws of p(h | v) per configuration (a finer aggregate posterior)
    dbn = DBN([64, 64], units="spin", rbm_params=schedule, propagate_repeats=5,
              random_state=12)
    return dbn.fit(spins)


def _energy_per_spin(flat, size):
    from ising.lattice import energy_per_spin

    return energy_per_spin(flat.reshape(-1, size, size), 1.0, 0.0, 2)


def _data_energy_error(ising_data):
    """Error of the data's mean energy from its 30 chain means (conservative against residual
    correlation of the thinned Metropolis series)."""
    chain_means = ising_data.energy.reshape(-1, 30).mean(axis=0)
    return chain_means.std(ddof=1) / np.sqrt(30)


def test_dbn_generates_ising_energy(ising_data, trained):
    """The generated energy matches the data's within the error bars.

    A DBN's down-pass can at best reproduce the one-step reconstruction distribution
    sum_v' p_data(v') p(h | v') p(v | h) of RBM 1 (what a perfect top RBM generates), so the
    first layer must reconstruct well: 64 hidden units for 16 spins. (With 36 hidden units on
    6 x 6 spins that reconstruction is itself ~4 % off in energy, and so is the DBN.)
    """
    e_data = ising_data.energy
    gen = trained.sample(2000, n_gibbs=1000, seed=6)
    assert gen.dtype == np.int8 and set(np.unique(gen)) <= {-1, 1}
    e_gen = _energy_per_spin(gen, LATTICE)
    # error bars: independent generated chains, and the data's chain-mean error
    err_gen = e_gen.std(ddof=1) / np.sqrt(len(e_gen))
    sigma = np.hypot(err_gen, _data_energy_error(ising_data))
    assert abs(e_gen.mean() - e_data.mean()) < 4 * sigma, (e_gen.mean(), e_data.mean(), sigma)
    # and not a trivially matching generator: a random-spin generator has energy 0
    assert e_data.mean() < -1.0


def test_tied_dbn_generates_the_first_rbm_distribution(trained):
    """A top RBM that is the transpose of RBM 1 makes the DBN's generative model exactly RBM 1's
    (Hinton, Osindero & Teh 2006, the tied-weights construction), which checks the top-level
    Gibbs sampling, the unit conversion and the down-pass: the energies agree within errors."""
    import copy

    first = trained.layers_[0]
    top = copy.deepcopy(first)
    top.weights_ = np.ascontiguousarray(first.weights_.T)
    top.visible_bias_ = first.hidden_bias_.copy()
    top.hidden_bias_ = first.visible_bias_.copy()
    top.n_features_in_ = first.weights_.shape[1]
    tied = DBN.from_layers([first, top])
    e_rbm = _energy_per_spin(first.sample(3000, n_gibbs=500, seed=21), LATTICE)
    e_dbn = _energy_per_spin(tied.sample(3000, n_gibbs=500, seed=22), LATTICE)
    sigma = np.hypot(e_rbm.std(ddof=1) / np.sqrt(len(e_rbm)),
                     e_dbn.std(ddof=1) / np.sqrt(len(e_dbn)))
    assert abs(e_rbm.mean() - e_dbn.mean()) < 4 * sigma, (e_rbm.mean(), e_dbn.mean(), sigma)


def test_dbn_mean_field_sampling_and_history(trained):
    gen = trained.sample(200, n_gibbs=50, seed=6, mode="mean-field")
    assert gen.shape == (200, 16) and set(np.unique(gen)) <= {-1, 1}
    assert len(trained.history_) == 2
    assert trained.history_[1]["epoch"][-1] == 60
    assert trained.transform(gen, layer=1).shape == (200, 64)
    assert trained.transform(gen).shape == (200, 64)


def test_sampling_reproducible(trained):
    a = trained.sample(20, n_gibbs=10, seed=9)
    b = trained.sample(20, n_gibbs=10, seed=9)
    np.testing.assert_array_equal(a, b)


def test_save_load_round_trip(tmp_path, trained):
    path = tmp_path / "dbn.npz"
    trained.metadata_ = {"lattice": {"size": LATTICE, "dimension": 2}}
    trained.save(path)
    loaded = DBN.load(path)
    assert loaded.layer_sizes == [64, 64]
    assert loaded.metadata_ == {"lattice": {"size": LATTICE, "dimension": 2}}
    assert loaded.get_params()["rbm_params"] == trained.get_params()["rbm_params"]
    for a, b in zip(trained.layers_, loaded.layers_):
        np.testing.assert_array_equal(a.weights_, b.weights_)
        np.testing.assert_array_equal(a.visible_bias_, b.visible_bias_)
        np.testing.assert_array_equal(a.hidden_bias_, b.hidden_bias_)
    np.testing.assert_array_equal(loaded.sample(10, 5, seed=1), trained.sample(10, 5, seed=1))
    assert loaded.history_[0]["epoch"] == trained.history_[0]["epoch"]
    # rbm.io.load_model gives a DBN too
    from rbm.io import load_model

    assert isinstance(load_model(path), DBN)


def _small_data(seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((200, 16)) < 0.5, 1, -1).astype(np.int8)


def test_resume_is_identical_to_uninterrupted(tmp_path):
    data = _small_data()
    params = dict(learning_rate=0.05, n_iter=4, batch_size=20, monitor_size=0)
    full = DBN([8, 5, 3], rbm_params=params, random_state=3).fit(data)

    class Stop(Exception):
        pass

    def kill(record):
        if record["layer"] == 2 and record["epoch"] == 2:
            raise Stop

    ckpt = tmp_path / "run"
    with pytest.raises(Stop):
        DBN([8, 5, 3], rbm_params=params, random_state=3).fit(data, checkpoint=ckpt,
                                                              callback=kill)
    records = []
    resumed = DBN([8, 5, 3], rbm_params=params, random_state=3).fit(
        data, checkpoint=ckpt, resume=True, callback=records.append)
    # only the missing epochs were trained
    assert [(r["layer"], r["epoch"]) for r in records] == [(2, 3), (2, 4), (3, 1), (3, 2),
                                                           (3, 3), (3, 4)]
    assert all(r["n_layers"] == 3 for r in records)
    for a, b in zip(full.layers_, resumed.layers_):
        np.testing.assert_array_equal(a.weights_, b.weights_)
        np.testing.assert_array_equal(a.hidden_bias_, b.hidden_bias_)


def test_divergence_names_the_layer(monkeypatch):
    """A NaN produced while training RBM 2 is reported with the epoch and 'layer 2'."""
    from rbm.train import CDTrainer

    original = CDTrainer.run_epoch

    def poisoned(self, data, *args, **kwargs):
        result = original(self, data, *args, **kwargs)
        if self.weights.shape == (8, 4):
            self.weights[0, 0] = np.nan
        return result

    monkeypatch.setattr(CDTrainer, "run_epoch", poisoned)
    dbn = DBN([8, 4], rbm_params=dict(n_iter=2, monitor_size=0), random_state=0)
    with pytest.raises(TrainingDivergedError, match="epoch 1 in layer 2"):
        dbn.fit(_small_data(1))


@pytest.mark.parametrize("kwargs", [
    dict(layer_sizes=[]),
    dict(layer_sizes=[4, 0]),
    dict(layer_sizes=[4, -2]),
    dict(layer_sizes=[4], units="ising"),
    dict(layer_sizes=[4, 2], units=["spin"]),
    dict(layer_sizes=[4], rbm_params=dict(n_components=3)),
    dict(layer_sizes=[4], rbm_params=dict(bogus=1)),
    dict(layer_sizes=[4], propagate="both"),
    dict(layer_sizes=[4], random_state=-1),
    dict(layer_sizes=[4], rbm_params=dict(learning_rate=-1.0)),
])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        DBN(**kwargs).fit(_small_data())


def test_bad_data_and_unfitted():
    with pytest.raises(ValueError):
        DBN([4]).fit(np.zeros((0, 16)))
    with pytest.raises(ValueError):
        DBN([4]).fit(np.full((10, 4), 0.5))
    with pytest.raises(ValueError, match="not fitted"):
        DBN([4]).transform(np.ones((2, 4)))
    dbn = DBN.from_layers(_manual_layers(("spin", "spin")))
    with pytest.raises(ValueError):
        dbn.transform(np.ones((2, 5)))
    with pytest.raises(ValueError):
        dbn.transform(np.full((2, 6), np.nan))
    with pytest.raises(ValueError):
        dbn.sample(0)
    with pytest.raises(ValueError):
        dbn.sample(3, mode="greedy")


def test_propagate_mean_option():
    data = _small_data(2)
    dbn = DBN([6, 3], propagate="mean", rbm_params=dict(n_iter=1, monitor_size=0),
              random_state=0)
    dbn.fit(data)
    assert dbn.transform(data).shape == (200, 3)

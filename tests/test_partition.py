"""Tests of rbm.partition: exact log Z against brute force over both layers, AIS against exact.

Sign convention of docs/CONTRACTS.md: E(v, h) = b.h + v W h + c.v, p = exp(-E)/Z.
"""

import itertools
import math

import numpy as np
import pytest

from rbm import partition as P

UNITS = ("binary", "spin")


# ----------------------------------------------------------------------------------------------
# slow, obviously-correct references
# ----------------------------------------------------------------------------------------------
def _states(n, units):
    vals = (0.0, 1.0) if units == "binary" else (-1.0, 1.0)
    return np.array(list(itertools.product(vals, repeat=n)), dtype=np.float64)


def brute_log_z(W, c, b, units):
    """log sum_{v,h} exp(-(b.h + v W h + c.v)) by explicit double enumeration."""
    vs, hs = _states(W.shape[0], units), _states(W.shape[1], units)
    neg_e = [-(h @ b + v @ W @ h + v @ c) for v in vs for h in hs]
    m = max(neg_e)
    return m + math.log(sum(math.exp(x - m) for x in neg_e))


def brute_free_energy(v, W, c, b, units):
    """F(v) = -log sum_h exp(-E(v, h)), h enumerated."""
    hs = _states(W.shape[1], units)
    neg_e = np.array([-(h @ b + v @ W @ h + v @ c) for h in hs])
    m = neg_e.max()
    return -(m + math.log(np.exp(neg_e - m).sum()))


def random_model(n_visible, n_hidden, scale, seed, bias_scale=0.5):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((n_visible, n_hidden)),
            bias_scale * rng.standard_normal(n_visible),
            bias_scale * rng.standard_normal(n_hidden))


# ----------------------------------------------------------------------------------------------
# exact enumeration
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("shape", [(5, 3), (3, 6), (4, 4), (1, 1)])
@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_exact_log_z_matches_brute_force(units, shape, scale):
    W, c, b = random_model(*shape, scale, seed=hash((shape, scale)) % 2 ** 32)
    expected = brute_log_z(W, c, b, units)
    assert P.log_partition_exact(W, c, b, units) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("units", UNITS)
def test_enumerating_either_layer_agrees(units):
    W, c, b = random_model(9, 11, 2.0, seed=3)
    from_v = P.log_partition_exact(W, c, b, units, layer="visible")
    from_h = P.log_partition_exact(W, c, b, units, layer="hidden")
    assert from_v == pytest.approx(from_h, rel=1e-12)
    assert P.log_partition_exact(W, c, b, units) == from_v


@pytest.mark.parametrize("units", UNITS)
def test_chunking_does_not_change_result(units):
    W, c, b = random_model(10, 7, 1.5, seed=4)
    full = P.log_partition_exact(W, c, b, units)
    # chunks of 3 configurations, the last one partial
    small = P.log_partition_exact(W, c, b, units, max_chunk_elements=30)
    assert small == pytest.approx(full, rel=1e-13)


def test_exact_huge_fields_no_overflow():
    W, c, b = random_model(6, 5, 300.0, seed=5)
    for units in UNITS:
        value = P.log_partition_exact(W, c, b, units)
        assert np.isfinite(value)
        assert value == pytest.approx(brute_log_z(W, c, b, units), rel=1e-12)


def test_exact_refuses_too_many_units():
    W, c, b = random_model(30, 26, 0.1, seed=6)
    with pytest.raises(ValueError, match="max_units"):
        P.log_partition_exact(W, c, b, "spin")
    with pytest.raises(ValueError, match="max_units"):
        P.log_partition_exact(W[:, :5], c, b[:5], "spin", layer="visible", max_units=20)


@pytest.mark.parametrize("bad", [
    dict(units="ising"),
    dict(W=np.ones((3,))),
    dict(c=np.ones(4)),
    dict(b=np.ones(2)),
    dict(W=np.full((3, 4), np.nan)),
    dict(layer="both"),
])
def test_exact_bad_input(bad):
    W, c, b = random_model(3, 4, 0.1, seed=7)
    args = dict(W=W, c=c, b=b, units="spin")
    layer = bad.pop("layer", "auto")
    args.update(bad)
    with pytest.raises(ValueError):
        P.log_partition_exact(args["W"], args["c"], args["b"], args["units"], layer=layer)


@pytest.mark.parametrize("units", UNITS)
def test_free_energies_and_marginals(units):
    W, c, b = random_model(5, 4, 1.2, seed=8)
    vs = _states(5, units)
    free = P.free_energy_visible(vs, W, c, b, units)
    expected = np.array([brute_free_energy(v, W, c, b, units) for v in vs])
    np.testing.assert_allclose(free, expected, rtol=1e-12, atol=1e-12)
    assert P.free_energy_visible(vs[3], W, c, b, units) == pytest.approx(expected[3], rel=1e-12)
    # hidden free energy: the same model with the layers swapped
    hs = _states(4, units)
    free_h = P.free_energy_hidden(hs, W, c, b, units)
    expected_h = np.array([brute_free_energy(h, W.T, b, c, units) for h in hs])
    np.testing.assert_allclose(free_h, expected_h, rtol=1e-12, atol=1e-12)
    # both marginals are normalised
    log_z = P.log_partition_exact(W, c, b, units)
    assert np.exp(P.log_marginal_visible(vs, W, c, b, units)).sum() == pytest.approx(1.0, rel=1e-12)
    assert np.exp(P.log_marginal_hidden(hs, W, c, b, units, log_z=log_z)).sum() == \
        pytest.approx(1.0, rel=1e-12)


def test_free_energy_rejects_wrong_states():
    W, c, b = random_model(3, 2, 0.1, seed=9)
    with pytest.raises(ValueError, match="only"):
        P.free_energy_visible(np.array([0, 1, 1]), W, c, b, "spin")
    with pytest.raises(ValueError, match="shape"):
        P.free_energy_visible(np.ones((2, 4)), W, c, b, "spin")


@pytest.mark.parametrize("units", UNITS)
def test_base_rate_bias_reproduces_means(units):
    rng = np.random.default_rng(10)
    p = np.array([0.1, 0.5, 0.93, 0.0])
    x = (rng.random((4000, 4)) < p).astype(float)
    if units == "spin":
        x = 2 * x - 1
    c_a = P.base_rate_visible_bias(x, units)
    scale = 2.0 if units == "spin" else 1.0
    p_on = 1.0 / (1.0 + np.exp(scale * c_a))
    data_p = (x == 1).mean(axis=0)
    np.testing.assert_allclose(p_on, np.clip(data_p, 1e-3, 1 - 1e-3), rtol=1e-10)


def test_default_betas():
    betas = P.default_betas(10000)
    assert betas.shape == (10001,)
    assert betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)
    assert np.sum(betas < 0.5) == 500 and np.sum((betas >= 0.5) & (betas < 0.9)) == 4000
    with pytest.raises(ValueError):
        P.default_betas(2)


# ----------------------------------------------------------------------------------------------
# AIS
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("units", UNITS)
def test_ais_exact_for_independent_model(units):
    """W = 0 and base = model visible bias: every importance weight is Z_B/Z_A exactly."""
    _, c, b = random_model(7, 5, 0.0, seed=11)
    W = np.zeros((7, 5))
    log_z, err = P.ais_log_partition(W, c, b, units, n_betas=50, n_runs=10, seed=0)
    assert log_z == pytest.approx(P.log_partition_exact(W, c, b, units), abs=1e-9)
    assert err == pytest.approx(0.0, abs=1e-9)


def _ising_chain_data(n, coupling, n_samples, seed):
    """Exact samples of a periodic 1D Ising chain (H = -K sum s_i s_{i+1}) by enumeration."""
    states = _states(n, "spin")
    log_w = coupling * (states * np.roll(states, 1, axis=1)).sum(axis=1)
    prob = np.exp(log_w - log_w.max())
    prob /= prob.sum()
    rng = np.random.default_rng(seed)
    return states[rng.choice(len(states), size=n_samples, p=prob)]


def _trained_model(units, seed=12):
    from rbm import RBM

    data = _ising_chain_data(12, 0.6, 600, seed)
    if units == "binary":
        data = (data + 1) / 2
    model = RBM(16, units=units, learning_rate=0.05, n_iter=15, batch_size=20, cd_k=1,
                dtype="float64", monitor_size=0, random_state=seed).fit(data)
    return model.weights_, model.visible_bias_, model.hidden_bias_, data


@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("kind", ["small_12x16", "small_16x10", "large_12x16", "large_16x10",
                                  "trained_12x16"])
def test_ais_agrees_with_exact(units, kind):
    base = None
    if kind == "trained_12x16":
        W, c, b, data = _trained_model(units)
        base = P.base_rate_visible_bias(data, units)
    else:
        strength, shape = kind.split("_")
        nv, nh = map(int, shape.split("x"))
        W, c, b = random_model(nv, nh, 0.1 if strength == "small" else 1.0,
                               seed=sum(map(ord, kind + units)))
    exact = P.log_partition_exact(W, c, b, units)
    log_z, err = P.ais_log_partition(W, c, b, units, n_betas=4000, n_runs=100, seed=13,
                                     base_visible_bias=base)
    assert err > 0
    assert abs(log_z - exact) < 3.5 * err, (log_z, exact, err)
    # a useful estimate: the error bar is small on these models
    assert err < 0.1


def test_ais_error_shrinks_like_inverse_sqrt_runs():
    W, c, b = random_model(12, 16, 0.7, seed=14)
    _, err_small = P.ais_log_partition(W, c, b, "spin", n_betas=300, n_runs=50, seed=1)
    _, err_big = P.ais_log_partition(W, c, b, "spin", n_betas=300, n_runs=800, seed=2)
    ratio = err_small / err_big
    assert 2.5 < ratio < 6.4, ratio  # sqrt(800/50) = 4


def test_ais_reproducible_and_seed_dependent():
    W, c, b = random_model(8, 6, 0.8, seed=15)
    a = P.ais_log_partition(W, c, b, "binary", n_betas=200, n_runs=20, seed=42,
                            return_weights=True)
    bb = P.ais_log_partition(W, c, b, "binary", n_betas=200, n_runs=20, seed=42,
                             return_weights=True)
    other = P.ais_log_partition(W, c, b, "binary", n_betas=200, n_runs=20, seed=43,
                                return_weights=True)
    assert a[0] == bb[0] and a[1] == bb[1]
    np.testing.assert_array_equal(a[2], bb[2])
    assert not np.array_equal(a[2], other[2])
    # log Z is the log-mean-exp of the returned weights
    lw = a[2]
    assert a[0] == pytest.approx(lw.max() + math.log(np.mean(np.exp(lw - lw.max()))), rel=1e-14)


def test_ais_explicit_betas_and_dtype():
    W, c, b = random_model(8, 6, 0.5, seed=16)
    betas = np.linspace(0.0, 1.0, 501)
    lz64, err64 = P.ais_log_partition(W, c, b, "spin", betas=betas, n_runs=50, seed=3,
                                      dtype=np.float64)
    lz32, err32 = P.ais_log_partition(W, c, b, "spin", betas=betas, n_runs=50, seed=3)
    # the same random numbers drive both; float32 products change the result only by rounding
    assert lz32 == pytest.approx(lz64, abs=1e-4)
    exact = P.log_partition_exact(W, c, b, "spin")
    assert abs(lz64 - exact) < 3.5 * err64


@pytest.mark.parametrize("kwargs", [
    dict(betas=[0.0, 0.5, 0.4, 1.0]),
    dict(betas=[0.1, 1.0]),
    dict(betas=[0.0, 0.9]),
    dict(n_runs=1),
    dict(base_visible_bias=np.zeros(3)),
    dict(dtype=np.int64),
    dict(n_betas=1),
])
def test_ais_bad_input(kwargs):
    W, c, b = random_model(4, 3, 0.5, seed=17)
    with pytest.raises(ValueError):
        P.ais_log_partition(W, c, b, "spin", **kwargs)

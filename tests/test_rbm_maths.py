"""rbm.maths against brute-force enumeration of the definitions (docs/CONTRACTS.md), and the
Numba twins pinned to it: the unit log-partition kernel and both SplitMix64 mixers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ising import _kernels as ising_kernels
from rbm import DBN, RBM, maths
from rbm import _kernels as rbm_kernels

STATES = {"binary": (0.0, 1.0), "spin": (-1.0, 1.0)}


def small_rbm(n_visible=5, n_hidden=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(n_visible, n_hidden)), scale * rng.normal(size=n_visible),
            scale * rng.normal(size=n_hidden))


def all_states(n, units):
    return np.array(list(itertools.product(STATES[units], repeat=n)))


@pytest.mark.parametrize("units", ["binary", "spin"])
def test_unit_formulas_match_the_two_state_sums(units):
    a = np.array([-800.0, -30.0, -2.5, -1e-9, 0.0, 0.3, 7.0, 30.0, 800.0])
    on = 1.0
    exponents = np.stack([-np.float128(x) * np.asarray(a, np.float128) for x in STATES[units]])
    weights = np.exp(exponents)
    top, low = exponents.max(axis=0), exponents.min(axis=0)
    g = top + np.log1p(np.exp(low - top))  # log of the two-term sum, in extended precision
    np.testing.assert_allclose(maths.unit_log_partition(a, units), g.astype(np.float64),
                               rtol=1e-15, atol=0)
    middle = np.abs(a) < 100  # exp(-a x) of the extremes is not representable in float128
    p_on = (np.exp(-on * np.asarray(a, np.float128)) / weights.sum(axis=0))[middle]
    np.testing.assert_allclose(maths.unit_probability(a, units)[middle], p_on.astype(np.float64),
                               rtol=1e-14)
    mean = sum(x * w for x, w in zip(STATES[units], weights)) / weights.sum(axis=0)
    np.testing.assert_allclose(maths.unit_mean(a, units)[middle], mean[middle].astype(np.float64),
                               rtol=1e-14, atol=1e-15)  # means lie in [-1, 1]
    np.testing.assert_allclose(maths.probability_from_mean(maths.unit_mean(a, units), units),
                               maths.unit_probability(a, units), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("units", ["binary", "spin"])
def test_numba_unit_log_partition_is_the_public_function(units):
    a = np.concatenate([np.linspace(-50, 50, 2001), [-745.0, -1e-300, 0.0, 1e-300, 745.0]])
    twin = np.array([rbm_kernels.unit_log_partition_scalar(x, units == "spin") for x in a])
    np.testing.assert_allclose(twin, maths.unit_log_partition(a, units), rtol=4e-16, atol=0)


@pytest.mark.parametrize("units", ["binary", "spin"])
def test_free_energies_energy_and_log_z_by_enumeration(units):
    W, c, b = small_rbm()
    V, H = all_states(5, units), all_states(3, units)
    E = maths.energy_matrix(V, H, W, c, b)
    for i, j in ((0, 0), (7, 5), (31, 2)):
        assert maths.energy(V[i:i + 1], H[j:j + 1], W, c, b)[0] == pytest.approx(E[i, j], rel=1e-14)
        assert E[i, j] == pytest.approx(b @ H[j] + V[i] @ W @ H[j] + c @ V[i], rel=1e-14)
    np.testing.assert_allclose(maths.free_energy_visible(V, W, c, b, units),
                               -np.log(np.exp(-E).sum(axis=1)), rtol=1e-13)
    np.testing.assert_allclose(maths.free_energy_hidden(H, W, c, b, units),
                               -np.log(np.exp(-E).sum(axis=0)), rtol=1e-13)
    log_z = np.log(np.exp(-E).sum())
    for layer in ("auto", "visible", "hidden"):
        assert maths.log_partition_exact(W, c, b, units, layer=layer) == pytest.approx(log_z,
                                                                                      rel=1e-13)
    # chunked accumulation (one configuration per chunk) gives the same number
    assert maths.log_partition_exact(W, c, b, units, max_chunk_elements=1) == \
        pytest.approx(log_z, rel=1e-13)
    off, on = STATES[units]
    expected = [[on if (k >> i) & 1 else off for i in range(3)] for k in range(8)]
    np.testing.assert_array_equal(maths.configurations(3, units), expected)
    np.testing.assert_array_equal(maths.configurations(3, units, 2, 5), expected[2:5])


@pytest.mark.parametrize("units", ["binary", "spin"])
def test_both_samplers_draw_the_conditional(units):
    """Frequencies of "on" over 20000 draws per unit within 5 standard errors (false alarm
    about 6e-7 per unit; fixed seeds, so the test is deterministic)."""
    field = np.array([-2.0, -0.5, 0.0, 0.4, 1.5])
    p = maths.unit_probability(field, units)
    n = 20000
    many = np.tile(field, (n, 1))
    on = STATES[units][1]
    for draws in (maths.sample_units(many, units, np.random.default_rng(1)),
                  maths.sample_units(many, units, np.random.default_rng(2), np.float32),
                  maths.sample_units_tanh(many.astype(np.float32), np.zeros(5, np.float32), units,
                                          np.random.default_rng(3))):
        assert set(np.unique(draws)) <= set(STATES[units])
        freq = (draws == on).mean(axis=0)
        assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n)), (freq, p)


def test_draw_units_types_and_conversions():
    rng = np.random.default_rng(0)
    s = maths.draw_units(np.full((3, 4), 0.5, np.float32), "spin", rng, np.float32)
    assert s.dtype == np.float32 and set(np.unique(s)) <= {-1.0, 1.0}
    x = np.array([-1.0, 1.0, 0.25])
    np.testing.assert_array_equal(maths.convert_units(maths.convert_units(x, "spin", "binary"),
                                                      "binary", "spin"), x)
    with pytest.raises(ValueError, match="units"):
        maths.check_units("ising")


def test_stack_functions_match_the_dbn():
    rng = np.random.default_rng(4)
    X = np.where(rng.random((200, 8)) < 0.5, -1, 1).astype(np.int8)
    dbn = DBN((4, 2), units="spin", rbm_params=dict(n_iter=2, monitor_size=0),
              random_state=0).fit(X)
    layers = [(r.weights_.astype(np.float64), r.hidden_bias_.astype(np.float64))
              for r in dbn.layers_]
    means = maths.mean_field_up(X.astype(np.float64), layers, "spin")
    np.testing.assert_array_equal(means[-1], dbn.transform(X))
    fields = maths.receptive_fields([r.weights_ for r in dbn.layers_])
    np.testing.assert_array_equal(fields[1], dbn.receptive_fields(2))
    rbm = dbn.layers_[0]
    np.testing.assert_allclose(rbm.mean_hidden(X), means[0], atol=1e-6)  # float32 model
    assert isinstance(rbm, RBM)


# Vigna's splitmix64.c seeded with 1234567: the first five outputs (also the reference values of
# the splitmix64 test in Rust's rand_xoshiro); and the first output from seed 0.
SPLITMIX_1234567 = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                    4593380528125082431, 16408922859458223821]
SPLITMIX_0_FIRST = 0xE220A8397B1DCDAF


@pytest.mark.parametrize("mix, gamma", [(rbm_kernels.mix64, rbm_kernels.GAMMA),
                                        (ising_kernels.mix64, ising_kernels.GAMMA)],
                         ids=["rbm", "ising"])
def test_splitmix64_mixers_give_vignas_outputs(mix, gamma):
    def draws(seed, n):
        return [int(mix(np.uint64((seed + m * int(gamma)) % 2 ** 64))) for m in range(1, n + 1)]

    assert draws(1234567, 5) == SPLITMIX_1234567
    assert draws(0, 1) == [SPLITMIX_0_FIRST]

"""ising.blockspin against loop references, tie statistics and the exact 1D decimation RG."""

import math

import numpy as np
import pytest

from ising.blockspin import decimate, majority
from ising.exact import correlation_1d
from tests.reference_exact import exact_periodic_chain_samples, slow_decimate, slow_majority


def random_spins(shape, seed):
    return (2 * np.random.default_rng(seed).integers(0, 2, size=shape) - 1).astype(np.int8)


@pytest.mark.parametrize("dimension,L,b", [(1, 12, 1), (1, 12, 2), (1, 12, 3), (1, 12, 4),
                                           (1, 12, 6), (2, 12, 2), (2, 12, 3), (2, 12, 4),
                                           (2, 8, 8)])
def test_against_loop_reference(dimension, L, b):
    shape = (5,) + (L,) * dimension
    spins = random_spins(shape, seed=L * 10 + b)
    first = majority(spins, b, dimension, tie="first")
    coin = majority(spins, b, dimension, seed=123)
    dec = decimate(spins, b, dimension)
    for k in range(shape[0]):
        top_left = slow_decimate(spins[k], b, dimension)
        np.testing.assert_array_equal(dec[k], top_left)
        np.testing.assert_array_equal(first[k], slow_majority(spins[k], b, dimension, top_left))
        # the coin only changes tied blocks: the reference with the coin's tie values must agree
        np.testing.assert_array_equal(coin[k], slow_majority(spins[k], b, dimension, coin[k]))
    for out in (first, coin, dec):
        assert out.dtype == np.int8
        assert out.shape == (shape[0],) + (L // b,) * dimension
        assert np.all(np.abs(out) == 1)


def test_vectorised_over_leading_axes():
    spins = random_spins((3, 4, 8, 8), seed=1)
    out = majority(spins, 2, 2, tie="first")
    dec = decimate(spins, 4, 2)
    for i in range(3):
        for j in range(4):
            np.testing.assert_array_equal(out[i, j], majority(spins[i, j], 2, 2, tie="first"))
            np.testing.assert_array_equal(dec[i, j], decimate(spins[i, j], 4, 2))
    # a single configuration without sample axes
    assert majority(spins[0, 0], 2, 2, seed=0).shape == (4, 4)
    assert decimate(spins[0, 0, 0], 2, 1).shape == (4,)
    # rectangular 2D lattices work when b divides both sides
    assert majority(random_spins((2, 6, 4), 3), 2, 2, seed=0).shape == (2, 3, 2)


def test_b1_is_identity():
    for dimension, shape in [(1, (4, 7)), (2, (3, 5, 5))]:
        spins = random_spins(shape, seed=2)
        np.testing.assert_array_equal(majority(spins, 1, dimension, seed=0), spins)
        np.testing.assert_array_equal(decimate(spins, 1, dimension), spins)
        out = decimate(spins, 1, dimension)
        out[...] = 1
        assert np.any(spins == -1)  # a copy, not a view


def test_coin_is_fair_and_reproducible():
    spins = random_spins((2000, 64), seed=3)   # b = 2: half of the blocks tie
    sums = spins.reshape(2000, 32, 2).sum(axis=-1)
    ties = sums == 0
    out = majority(spins, 2, 1, seed=99)
    n_ties = int(ties.sum())
    assert n_ties > 20_000
    frac_up = float(np.mean(out[ties] == 1))
    sigma = math.sqrt(0.25 / n_ties)
    assert abs(frac_up - 0.5) < 4 * sigma
    # independent of the block's own spins (not secretly the "first" rule)
    first = spins.reshape(2000, 32, 2)[..., 0]
    assert abs(float(np.mean(out[ties] == first[ties])) - 0.5) < 4 * sigma
    # deterministic given the seed, different for another seed
    np.testing.assert_array_equal(out, majority(spins, 2, 1, seed=99))
    np.testing.assert_array_equal(out, majority(spins, 2, 1, seed=np.random.SeedSequence(99)))
    assert np.any(out != majority(spins, 2, 1, seed=100))
    # non-tied blocks never depend on the seed
    np.testing.assert_array_equal(out[~ties], np.sign(sums[~ties]))


def test_tie_rules_2d_checkerboard():
    i, j = np.indices((8, 8))
    board = np.where((i + j) % 2 == 0, 1, -1).astype(np.int8)
    # every 2x2 block ties; "first" takes the top-left spin, which is +1 everywhere
    np.testing.assert_array_equal(majority(board, 2, 2, tie="first"), np.ones((4, 4), np.int8))
    np.testing.assert_array_equal(majority(-board, 2, 2, tie="first"), -np.ones((4, 4), np.int8))
    # odd b never ties: 3x3 blocks of a checkerboard follow the majority of 5 vs 4
    board9 = np.where(np.add.outer(np.arange(9), np.arange(9)) % 2 == 0, 1, -1).astype(np.int8)
    np.testing.assert_array_equal(majority(board9, 3, 2, seed=0),
                                  np.where(np.add.outer(np.arange(3), np.arange(3)) % 2 == 0,
                                           1, -1))
    # in 1D with b = 2, majority with the "first" tie rule IS decimation
    chain = random_spins((10, 16), seed=4)
    np.testing.assert_array_equal(majority(chain, 2, 1, tie="first"), decimate(chain, 2, 1))
    # an aligned configuration stays aligned
    assert np.all(majority(np.ones((16, 16), np.int8), 4, 2, seed=1) == 1)


@pytest.mark.parametrize("b", [2, 3])
def test_decimation_is_exact_rg_in_1d(b):
    """Decimating exact periodic-chain samples gives a chain with tanh K' = tanh^b K."""
    n, temperature, n_samples = 24, 1.2, 40_000
    spins = exact_periodic_chain_samples(n_samples, n, temperature, seed=10 + b)
    t = math.tanh(1.0 / temperature)
    t_prime = 1.0 / math.atanh(t ** b)   # temperature of the decimated chain (J = 1)
    coarse = decimate(spins, b, 1)
    m = n // b
    for r in range(1, m // 2 + 1):
        # translation average per sample, then mean and standard error over independent samples
        fine_c = np.mean(spins * np.roll(spins, -r, axis=1), axis=1)
        coarse_c = np.mean(coarse * np.roll(coarse, -r, axis=1), axis=1)
        for est, exact in [(fine_c, correlation_1d(n, temperature, r)),
                           (coarse_c, correlation_1d(m, t_prime, r))]:
            err = est.std(ddof=1) / math.sqrt(n_samples)
            assert abs(est.mean() - exact) < 4 * err, (r, est.mean(), exact, err)
        # the same exact numbers: (t^{br} + t^{n-br}) / (1 + t^n)
        assert correlation_1d(m, t_prime, r) == pytest.approx(
            correlation_1d(n, temperature, b * r), rel=1e-12)


def test_validation():
    spins = random_spins((2, 12), seed=0)
    with pytest.raises(ValueError, match="does not divide"):
        majority(spins, 5, 1)
    with pytest.raises(ValueError, match="does not divide"):
        decimate(random_spins((6, 4), 0), 4, 2)
    with pytest.raises(ValueError, match="positive integer"):
        majority(spins, 0, 1)
    with pytest.raises(ValueError, match="positive integer"):
        decimate(spins, 1.5, 1)
    with pytest.raises(ValueError, match="dimension"):
        majority(spins, 2, 3)
    with pytest.raises(ValueError, match="at least 2 axes"):
        decimate(spins[0], 2, 2)
    with pytest.raises(ValueError, match="tie"):
        majority(spins, 2, 1, tie="random")
    with pytest.raises(ValueError, match="-1 and \\+1"):
        majority(np.zeros((2, 12), np.int8), 2, 1)

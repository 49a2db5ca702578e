"""G(r) and second-moment correlation lengths against loops and the exact 1D chain."""

import numpy as np
import pytest

from analysis.correlations import (activation_correlation_length, block_spin_correlation_lengths,
                                   correlation_length, correlation_map, radial_correlation,
                                   second_moment_length)
from tests.reference_analysis import (correlation_map_loops, exact_ring_samples,
                                      ring_correlation_exact)


def test_correlation_map_matches_loops():
    rng = np.random.default_rng(0)
    s2 = rng.choice([-1, 1], size=(5, 5, 5))
    np.testing.assert_allclose(correlation_map(s2), correlation_map_loops(s2), atol=1e-12)
    s1 = rng.normal(size=(4, 7))
    np.testing.assert_allclose(correlation_map(s1, connected=False),
                               correlation_map_loops(s1, connected=False), atol=1e-12)


@pytest.mark.parametrize("n_sites,k", [(8, 0.3), (16, 0.8), (64, 1.2)])
def test_exact_ring_correlation_length_formula(n_sites, k):
    """xi_2nd of the exact periodic-chain G(r) is sqrt(t)/(1-t) at every N (see module doc)."""
    try:  # the ising package's formula, when present, must agree with REFERENCES.md
        from ising.exact import correlation_1d
        g = np.asarray(correlation_1d(n_sites, 1.0 / k, np.arange(n_sites)))
    except ImportError:
        g = ring_correlation_exact(n_sites, k, np.arange(n_sites))
    np.testing.assert_allclose(g, ring_correlation_exact(n_sites, k, np.arange(n_sites)), rtol=1e-12)
    t = np.tanh(k)
    assert second_moment_length(g) == pytest.approx(np.sqrt(t) / (1 - t), rel=1e-10)
    np.testing.assert_allclose(radial_correlation(g), g[: n_sites // 2 + 1], rtol=1e-12)


def test_sampled_ring_matches_exact_within_error_bars():
    n_sites, k = 10, 0.7
    s = exact_ring_samples(n_sites, k, 20000, np.random.default_rng(1))
    g = radial_correlation(correlation_map(s, connected=False))  # <s> = 0 exactly
    exact = ring_correlation_exact(n_sites, k, np.arange(n_sites // 2 + 1))
    # error of a site-averaged correlation <= single-pair error sqrt((1 - G^2)/n)
    assert g[0] == pytest.approx(1.0)
    assert np.all(np.abs(g - exact)[1:] < 4 * np.sqrt((1 - exact[1:] ** 2) / 20000))
    xi = correlation_length(s, n_blocks=25)
    t = np.tanh(k)
    assert xi.value == pytest.approx(second_moment_length(correlation_map(s)), rel=1e-10)
    assert abs(xi.value - np.sqrt(t) / (1 - t)) < 4 * xi.error
    assert xi.error < 0.05 * xi.value


def test_activations_at_site_centres_equal_lattice_length():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, 8, 8))
    s = np.sign(z + np.roll(z, 1, 1) + np.roll(z, 1, 2))
    xi = correlation_length(s)
    grid = np.array([(i, j) for i in range(8) for j in range(8)], float)
    xa = activation_correlation_length(s.reshape(400, -1), grid, 8, connected=False)
    # connected=False vs connected (global mean) differ only by the tiny overall mean
    xb = correlation_length(s, connected=False)
    assert xa.value == pytest.approx(xb.value, rel=1e-10)
    assert xa.value == pytest.approx(xi.value, rel=0.05)
    # a unit per 2x2 block at the block centres, activation = block sum: spacing 2
    blocks = s.reshape(400, 4, 2, 4, 2).sum(axis=(2, 4)).reshape(400, -1)
    centres = np.array([(2 * i + 0.5, 2 * j + 0.5) for i in range(4) for j in range(4)])
    xc = activation_correlation_length(blocks, centres, 8, connected=False)
    xd = correlation_length(s.reshape(400, 4, 2, 4, 2).sum(axis=(2, 4)), connected=False)
    assert xc.value == pytest.approx(xd.value, rel=1e-10)


def test_block_spin_lengths_shrink_with_b():
    # strongly correlated smooth field: xi_b in coarse units decreases with b
    rng = np.random.default_rng(3)
    z = rng.normal(size=(1000, 16, 16))
    acc = np.zeros_like(z)
    for dx in range(-3, 4):
        for dy in range(-3, 4):
            acc += np.roll(np.roll(z, dx, 1), dy, 2)
    s = np.where(acc >= 0, 1, -1).astype(np.int8)
    xi0 = correlation_length(s).value
    xis = block_spin_correlation_lengths(s, (2, 4), seed=0)
    assert xi0 > xis[2].value > xis[4].value
    # roughly xi_0 / b (an RG expectation, not an identity: loose tolerance)
    assert xis[2].value == pytest.approx(xi0 / 2, rel=0.25)
    with pytest.raises(ValueError, match="divide"):
        block_spin_correlation_lengths(s, (3,))


def test_bad_input():
    with pytest.raises(ValueError):
        correlation_map(np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="centres"):
        activation_correlation_length(np.ones((5, 3)), np.ones((2, 2)), 4)

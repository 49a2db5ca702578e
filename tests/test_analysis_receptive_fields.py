"""Receptive-field products and localisation measures on fields with known answers."""

import numpy as np
import pytest

from analysis.receptive_fields import (layer_localization, localization, receptive_fields,
                                       uniform_core_radius)
from tests.reference_analysis import best_window_share_loops, core_radius_loops


def _block_field(L, b, corner):
    f = np.zeros((L, L))
    for i in range(b):
        for j in range(b):
            f[(corner[0] + i) % L, (corner[1] + j) % L] = 1.0
    return f


def test_receptive_fields_are_products_of_weights():
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(16, 8)), rng.normal(size=(8, 4)), rng.normal(size=(4, 2))]
    fields = receptive_fields(w)
    np.testing.assert_allclose(fields[0], w[0])
    np.testing.assert_allclose(fields[1], w[0] @ w[1])
    np.testing.assert_allclose(fields[2], w[0] @ w[1] @ w[2])
    with pytest.raises(ValueError, match="rows"):
        receptive_fields([w[0], w[2]])
    with pytest.raises(ValueError):
        receptive_fields([])


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_uniform_block_across_the_boundary(b):
    L = 16
    f = _block_field(L, b, (L - 1, L - 2))  # wraps around both edges
    loc = localization(f.reshape(-1, 1), (L, L), window=4, radius_cut=10.0, block_sizes=(b, b + 1))
    # Rg^2 of a uniform b x b block = 2 (b^2 - 1) / 12
    assert loc.radius[0] == pytest.approx(np.sqrt(2 * (b * b - 1) / 12.0))
    assert loc.block_share[b][0] == pytest.approx(1.0)
    assert loc.share_within[0] == pytest.approx(1.0)
    # centre of the block, periodic
    expected = np.mod(np.array([L - 1, L - 2]) + (b - 1) / 2.0, L)
    np.testing.assert_allclose(loc.centre[0], expected)


def test_matches_loop_reference_on_random_fields():
    rng = np.random.default_rng(1)
    L, window = 12, 3
    fields = rng.normal(size=(L * L, 5))
    fields[:, 0] += 5 * _block_field(L, 2, (11, 0)).ravel()
    loc = localization(fields, (L, L), window=window, block_sizes=(1, 2, 3))
    for j in range(5):
        rg, centre = core_radius_loops(fields[:, j].reshape(L, L), window)
        assert loc.radius[j] == pytest.approx(rg)
        np.testing.assert_allclose(loc.centre[j], centre)
        for b in (1, 2, 3):
            assert loc.block_share[b][j] == pytest.approx(
                best_window_share_loops(fields[:, j].reshape(L, L), b))


def test_gaussian_blob_radius_and_delocalised_null():
    L, sigma = 32, 1.5
    x = np.arange(L)
    d = np.minimum(np.abs(x - 3), L - np.abs(x - 3))
    blob = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma ** 2))  # r^2 ~ exp(-d^2/sigma^2)
    loc = localization(blob.reshape(-1, 1), (L, L), window=8)
    # r^2 is Gaussian with variance sigma^2/2 per axis -> Rg = sigma
    assert loc.radius[0] == pytest.approx(sigma, rel=1e-3)
    # a constant field fills the window: the uniform value
    flat = localization(np.ones((L * L, 1)), (L, L), window=8)
    assert flat.radius[0] == pytest.approx(uniform_core_radius(8))
    # random untrained-like fields are far less local than the blob
    rng = np.random.default_rng(2)
    rand = localization(rng.normal(size=(L * L, 50)), (L, L), window=8)
    assert np.median(rand.radius) > 3 * loc.radius[0]
    assert rand.medians()["block_share_2"] < 0.05 < loc.medians()["block_share_2"]


def test_one_dimensional_and_layers():
    L = 20
    f = np.zeros((L, 2))
    f[[19, 0, 1], 0] = 1.0
    f[5, 1] = 2.0
    (loc,) = layer_localization([f], (L,), window=3)
    assert loc.radius[0] == pytest.approx(np.sqrt(2 / 3))
    assert loc.radius[1] == 0.0
    assert loc.centre[0, 0] == pytest.approx(0.0)


def test_bad_input():
    with pytest.raises(ValueError, match="n_visible"):
        localization(np.ones((10, 2)), (4, 4))
    with pytest.raises(ValueError, match="window"):
        localization(np.ones((16, 2)), (4, 4), window=2)
    with pytest.raises(ValueError, match="NaN"):
        localization(np.full((16, 1), np.nan), (4, 4), window=1)

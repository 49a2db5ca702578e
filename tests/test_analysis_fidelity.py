"""Block-spin fidelity: exact ceilings, loop references, and a hand-made block-spin RBM."""

import numpy as np
import pytest
from scipy.special import expit

from analysis.blockspin_fidelity import (block_correlations, fidelity_scan, fidelity_scans,
                                         linear_ceiling,
                                         unit_fidelity, window_block_spins)
from tests.reference_analysis import window_majority_loops


def _iid(n, L, seed):
    return np.random.default_rng(seed).choice(np.array([-1, 1], np.int8), size=(n, L, L))


def _block_rbm_activations(spins, b, strength=0.02):
    """Spin-unit RBM whose hidden unit j couples with weight -strength to block j (bias 0):
    P(h=+1|v) = sigma(2 * strength * S_block), an increasing function of the block sum."""
    n, L, _ = spins.shape
    m = L // b
    sums = spins.reshape(n, m, b, m, b).sum(axis=(2, 4)).reshape(n, -1).astype(float)
    return expit(2 * strength * sums)


def test_window_majority_matches_loops():
    s = _iid(3, 6, 0)
    for b in (1, 2, 3):
        np.testing.assert_array_equal(window_block_spins(s, b, tie="first"),
                                      window_majority_loops(s, b))
    coin = window_block_spins(s, 2, tie="coin", seed=5)
    first = window_block_spins(s, 2, tie="first")
    sums = window_block_spins(s, 2, return_sums=True)[1]
    np.testing.assert_array_equal(coin[sums != 0], first[sums != 0])
    assert set(np.unique(coin)) <= {-1, 1}
    np.testing.assert_array_equal(coin, window_block_spins(s, 2, tie="coin", seed=5))


def test_block_correlations_match_corrcoef():
    s = _iid(200, 4, 1)
    act = np.random.default_rng(2).random((200, 3)) + s.reshape(200, -1)[:, :3]
    corr = block_correlations(act, s, 2, tie="first")
    blocks = window_majority_loops(s, 2).reshape(200, -1)
    for j in range(3):
        for p in range(16):
            assert corr[j, p] == pytest.approx(np.corrcoef(act[:, j], blocks[:, p])[0, 1])


@pytest.mark.parametrize("tie", ["coin", "first"])
def test_ceiling_of_independent_spins_is_exact(tie):
    # b = 2, iid unbiased spins: corr(S, maj) = E|S| / sqrt(E S^2) = 1.5 / 2
    s = _iid(4000, 8, 3)
    c = linear_ceiling(s, 2, tie=tie, seed=4)
    # standard error of a correlation ~ (1 - rho^2)/sqrt(n), averaged over 64 dependent positions;
    # bound it by the single-position error
    assert c == pytest.approx(0.75, abs=4 * (1 - 0.75 ** 2) / np.sqrt(4000))
    assert linear_ceiling(s, 1) == pytest.approx(1.0)


def _smooth_spins(n, L, seed, width=2):
    """Spatially correlated spins: sign of box-smoothed Gaussian noise (periodic)."""
    z = np.random.default_rng(seed).normal(size=(n, L, L))
    acc = np.zeros_like(z)
    for dx in range(-width, width + 1):
        for dy in range(-width, width + 1):
            acc += np.roll(np.roll(z, dx, 1), dy, 2)
    return np.where(acc >= 0, 1, -1).astype(np.int8)


@pytest.mark.parametrize("data", ["iid", "correlated"])
@pytest.mark.parametrize("b", [2, 4])
def test_hand_made_block_rbm_scores_at_ceiling_and_picks_b(data, b):
    L, n = 16, 3000
    s = _iid(n, L, 7) if data == "iid" else _smooth_spins(n, L, 8)
    act = _block_rbm_activations(s, b)
    scan = fidelity_scan(act, s, (1, 2, 4, 8), tie="coin", seed=9)
    assert scan.best_block_size == b
    k = list(scan.block_sizes).index(b)
    # in its linear regime the unit is a block sum: it reaches the ceiling (on average over
    # units the sampling noise of the max over positions is tiny because its own block wins)
    assert scan.fidelity[k] == pytest.approx(scan.ceiling[k], abs=4 * scan.fidelity_error[k] + 0.01)
    assert np.all(scan.fidelity <= scan.ceiling + 0.02)
    # best positions are the units' own blocks
    _, pos = unit_fidelity(act, s, b, seed=1)
    m = L // b
    expected = [(i * b) * L + j * b for i in range(m) for j in range(m)]
    np.testing.assert_array_equal(pos, expected)


def test_random_units_score_low():
    s = _iid(2000, 8, 11)
    act = np.random.default_rng(12).random((2000, 10))
    scan = fidelity_scan(act, s, (1, 2), seed=1)
    # max |corr| of noise over 64 positions ~ sqrt(2 ln 128 / n)
    assert np.all(scan.fidelity < 5 * np.sqrt(2 * np.log(128) / 2000))
    assert scan.to_dict()["best_block_size"] in (1, 2)


def test_bad_input():
    s = _iid(10, 4, 0)
    with pytest.raises(ValueError, match="block size"):
        window_block_spins(s, 5)
    with pytest.raises(ValueError, match="tie"):
        window_block_spins(s, 2, tie="heads")
    with pytest.raises(ValueError, match="activations"):
        fidelity_scan(np.zeros((9, 2)), s)
    with pytest.raises(ValueError, match="square"):
        linear_ceiling(np.ones((3, 4, 5)), 2)


def test_unit_signs_and_positions():
    s = _iid(1500, 8, 21)
    act = _block_rbm_activations(s, 2)
    act[:, ::2] = 1.0 - act[:, ::2]  # half the units encode minus their block spin
    scan = fidelity_scan(act, s, (2,), seed=0)
    expected = np.ones(16, np.int8)
    expected[::2] = -1
    np.testing.assert_array_equal(scan.unit_sign[0], expected)
    np.testing.assert_array_equal(scan.unit_position[0], unit_fidelity(act, s, 2, seed=0)[1])


def test_magnetization_control_separates_local_from_global_units():
    """A unit that only reads the global magnetization scores high without control (correlated
    data) but ~0 once m is regressed out; a block unit keeps its fidelity near the ceiling."""
    s = _smooth_spins(3000, 16, 31, width=3)
    m = s.reshape(3000, -1).mean(1)
    control = np.column_stack([m, m ** 3])
    block = _block_rbm_activations(s, 4)
    glob = np.repeat(expit(3 * m)[:, None], 4, axis=1) + 1e-3 * np.random.default_rng(0).random((3000, 4))
    raw = fidelity_scan(glob, s, (4,), seed=2)
    local = fidelity_scan(glob, s, (4,), seed=2, control=control)
    assert raw.fidelity[0] > 0.4
    # residual correlation of pure noise (max over 256 positions): ~ sqrt(2 ln 512 / n)
    assert local.fidelity[0] < 4 * np.sqrt(2 * np.log(512) / 3000)
    blk = fidelity_scan(block, s, (4,), seed=2, control=control)
    assert blk.fidelity[0] == pytest.approx(blk.ceiling[0], abs=4 * blk.fidelity_error[0] + 0.02)
    assert blk.fidelity[0] > 0.5
    with pytest.raises(ValueError, match="control"):
        fidelity_scan(block, s, (4,), control=np.ones(5))


def test_window_majority_agrees_with_ising_blockspin():
    from ising.blockspin import majority

    s = _iid(5, 8, 41)
    for b in (2, 4):
        ours = window_block_spins(s, b, tie="first")[:, ::b, ::b]
        np.testing.assert_array_equal(ours, majority(s, b, 2, tie="first"))


@pytest.mark.parametrize("with_control", [False, True])
def test_fidelity_scans_match_slow_reference(with_control):
    """The batched scan shares block spins and ceilings; each set scores as a slow reference."""
    rng = np.random.default_rng(11)
    s = np.where(rng.random((600, 8, 8)) < 0.6, 1, -1).astype(np.int8)
    flat = s.reshape(600, -1).astype(np.float64)
    acts = [np.tanh(flat @ rng.normal(0, 0.3, (64, k))) for k in (7, 3)]
    m = flat.mean(axis=1)
    control = np.column_stack([m, m ** 3]) if with_control else None
    sizes = (1, 2, 4)
    batched = fidelity_scans(acts, s, sizes, seed=5, control=control)
    assert len(batched) == 2
    design = np.column_stack([np.ones(600), m, m ** 3])

    def resid(x):  # slow reference: numpy least squares, column by column
        x = np.asarray(x, np.float64)
        if control is None:
            return x
        return np.column_stack([x[:, j] - design @ np.linalg.lstsq(design, x[:, j], rcond=None)[0]
                                for j in range(x.shape[1])])

    coins = np.random.SeedSequence(5).spawn(len(sizes))
    for a, scan in zip(acts, batched):
        ra = resid(a)
        for k, b in enumerate(sizes):
            blocks = resid(window_block_spins(s, b, seed=coins[k]).reshape(600, -1))
            best = [max(abs(np.corrcoef(ra[:, j], blocks[:, p])[0, 1])
                        if blocks[:, p].std() > 1e-9 else 0.0 for p in range(blocks.shape[1]))
                    for j in range(a.shape[1])]
            np.testing.assert_allclose(scan.unit_fidelity[k], best, atol=1e-5)
        single = fidelity_scan(a, s, sizes, seed=5, control=control)
        np.testing.assert_allclose(scan.fidelity, single.fidelity, atol=1e-12)
        np.testing.assert_allclose(scan.ceiling, [linear_ceiling(s, b, seed=coins[k], control=control)
                                                  for k, b in enumerate(sizes)], atol=1e-12)
        assert scan.best_block_size == single.best_block_size
    with pytest.raises(ValueError):
        fidelity_scans(acts[0], s)
    with pytest.raises(ValueError):
        fidelity_scans([], s)

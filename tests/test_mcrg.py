"""Monte Carlo RG (analysis.mcrg): operator sums against explicit loops, the exactly solvable 1D
chain under decimation, and independent spins.

Statistical checks use fixed seeds and tolerances of 4-5 reported standard errors (false-alarm
rate per check < 1e-4 for Gaussian errors).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analysis import mcrg as M


# --------------------------------------------------------------------------- slow references
def slow_operator_sum(config, op):
    """S = sum over sites x and shapes of prod_o s[x + o] (explicit loops, periodic)."""
    L = config.shape[0]
    d = config.ndim
    total = 0
    for x in itertools.product(range(L), repeat=d):
        for shape in op.shapes:
            p = 1
            for o in shape:
                p *= int(config[tuple((x[a] + o[a]) % L for a in range(d))])
            total += p
    return total


def test_operator_shapes():
    counts = {o.name: len(o.shapes) for o in M.EVEN_2D + M.ODD_2D}
    assert counts["nn"] == 2 and counts["nnn"] == 2 and counts["d2"] == 2
    assert counts["plaquette"] == 1 and counts["d5"] == 4 and counts["diamond"] == 1
    assert counts["m"] == 1 and counts["corner3"] == 4 and counts["line3"] == 2
    assert counts["bent3"] == 8 and counts["cross5"] == 1
    assert all(o.order % 2 == 0 for o in M.EVEN_2D) and all(o.order % 2 == 1 for o in M.ODD_2D)


@pytest.mark.parametrize("dim,L", [(2, 7), (2, 8), (1, 9)])
def test_operator_sums_match_loops(dim, L):
    rng = np.random.default_rng(3)
    spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3,) + (L,) * dim)
    ops = (M.EVEN_2D + M.ODD_2D) if dim == 2 else (M.EVEN_1D + M.ODD_1D)
    fast = M.operator_sums(spins, ops)
    slow = np.array([[slow_operator_sum(c, op) for op in ops] for c in spins], dtype=float)
    np.testing.assert_array_equal(fast, slow)
    # all-up configuration: S_alpha = N * n_shapes
    up = np.ones((1,) + (L,) * dim, dtype=np.int8)
    np.testing.assert_array_equal(M.operator_sums(up, ops)[0], [L ** dim * len(o.shapes) for o in ops])


def test_local_fields_are_flip_differences():
    rng = np.random.default_rng(4)
    L = 7
    spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=(2, L, L))
    ops = M.EVEN_2D[:5] + M.ODD_2D
    f = M.local_fields(spins, ops)
    base = M.operator_sums(spins, ops)
    for n, y, x in [(0, 0, 0), (1, 3, 6), (0, 6, 2), (1, 4, 4)]:
        flipped = spins[n:n + 1].copy()
        flipped[0, y, x] *= -1
        delta = base[n] - M.operator_sums(flipped, ops)[0]  # = 2 s_x f(x)
        np.testing.assert_array_equal(delta, 2 * spins[n, y, x] * f[n, :, y, x])


def test_operator_checks():
    with pytest.raises(ValueError, match="too small"):
        M.operator_sums(np.ones((1, 6, 6), dtype=np.int8), M.EVEN_2D)  # d3 needs L > 6
    with pytest.raises(ValueError, match="-1 and \\+1"):
        M.operator_sums(np.zeros((1, 8, 8)), M.EVEN_2D[:1])
    with pytest.raises(ValueError, match="1D"):
        M.operator_sums(np.ones((1, 8, 8), dtype=np.int8), M.EVEN_1D)


# --------------------------------------------------------------------------- exact 1D chain
def exact_chain(n, L, K, seed):
    """Exact independent samples of the periodic Ising chain: bond variables t_i = s_i s_{i+1}
    are independent with P(t=+1) = e^K / 2cosh K conditioned on prod t = +1 (rejection), and
    the first spin is a fair coin."""
    rng = np.random.default_rng(seed)
    out = np.empty((0, L), dtype=np.int8)
    p = math.exp(K) / (2 * math.cosh(K))
    while out.shape[0] < n:
        t = np.where(rng.random((2 * n, L)) < p, 1, -1).astype(np.int8)
        t = t[np.prod(t, axis=1) == 1]
        s0 = np.where(rng.random(t.shape[0]) < 0.5, 1, -1).astype(np.int8)
        s = np.empty_like(t)
        s[:, 0] = s0
        s[:, 1:] = s0[:, None] * np.cumprod(t[:, :-1], axis=1)
        out = np.concatenate([out, s])
    return out[:n]


def dkprime_dk(K):
    """Decimation b=2 of the chain: K' = atanh(tanh^2 K), so dK'/dK = 2 t (1 - t^2) / (1 - t^4)."""
    t = math.tanh(K)
    return 2 * t * (1 - t * t) / (1 - t ** 4)


def test_exact_chain_sampler_correlations():
    from ising.exact import correlation_1d

    s = exact_chain(20000, 16, 0.7, seed=1)
    g = np.mean(s[:, 0] * s[:, 3])
    exact = float(correlation_1d(16, 1 / 0.7, 3))
    assert abs(g - exact) < 5 * math.sqrt((1 - exact ** 2) / len(s))


def test_mcrg_1d_decimation_is_exact():
    K, L = 0.6, 64
    s = exact_chain(8000, L, K, seed=2)
    res = M.mcrg(s, M.decimation_transform(2), 2, n_blocks=20)
    K1 = math.atanh(math.tanh(K) ** 2)
    for lvl, k in zip(res.levels, (K, K1)):
        y_t = math.log(dkprime_dk(k)) / math.log(2)
        y_h = math.log(1 + math.tanh(2 * k)) / math.log(2)  # dh'/dh = 1 + tanh 2K at h = 0
        for y, err in zip(lvl.y_even, lvl.y_even_err):
            assert 0 < err < 0.2 and abs(y - y_t) < 4 * err, (lvl.level, y, err, y_t)
        for y, err in zip(lvl.y_odd, lvl.y_odd_err):
            assert 0 < err < 0.2 and abs(y - y_h) < 4 * err, (lvl.level, y, err, y_h)


def test_rg_matrix_index_convention():
    """T[alpha, beta] = dK'_alpha / dK_beta: the column of the old nn coupling is (dK'/dK, 0, 0),
    exact in 1D (decimation maps the nn chain to an nn chain); the transposed convention would
    put the nonzero dK'_nn / dK_d2 there instead."""
    K, L, n, nb = 0.5, 32, 16000, 16
    s = exact_chain(n, L, K, seed=5)
    coarse = M.decimation_transform(2)(s)
    ops = M.EVEN_1D[:2]
    fine_sums, coarse_sums = M.operator_sums(s, ops), M.operator_sums(coarse, ops)
    T, _, _ = M.rg_matrix(coarse_sums, fine_sums)
    batches = np.array([M.rg_matrix(coarse_sums[i::nb], fine_sums[i::nb])[0] for i in range(nb)])
    err = batches.std(axis=0, ddof=1) / math.sqrt(nb)
    expected_col = np.array([dkprime_dk(K), 0.0])
    assert np.all(np.abs(T[:, 0] - expected_col) < 5 * err[:, 0]), (T, err)
    assert abs(T[0, 1]) > 10 * err[0, 1]  # dK'_nn/dK_d2 != 0: the test can tell T from T^T


def monomials(op, L, scale=1):
    """The placements of ``op`` on an L x L lattice as sets of sites, offsets scaled by ``scale``
    (a coarse placement seen on the fine lattice of a decimation with b = scale)."""
    out = []
    for x in itertools.product(range(L), repeat=2):
        for shape in op.shapes:
            out.append(frozenset(((scale * (x[0] + o[0])) % (scale * L),
                                  (scale * (x[1] + o[1])) % (scale * L)) for o in shape))
    return out


def test_independent_spins_decimation():
    """K = 0: distinct spin products are orthonormal, so A_ab counts the placements shared by
    operators a and b on the coarse lattice (diagonal) and B_ab the coarse placements of a whose
    decimated image is a placement of b on the fine lattice (e.g. coarse nn = fine d2)."""
    rng = np.random.default_rng(6)
    n, L = 4000, 16
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, L, L))
    ops = M.EVEN_2D[:6]
    fine = M.operator_sums(s, ops)
    coarse = M.operator_sums(M.decimation_transform(2)(s), ops)
    T, A, B = M.rg_matrix(coarse, fine)
    coarse_m = [monomials(o, L // 2) for o in ops]
    fine_m = [set(monomials(o, L)) for o in ops]
    A_exact = np.array([[len(set(a) & set(b)) for b in coarse_m] for a in coarse_m], dtype=float)
    B_exact = np.array([[sum(m in b for m in monomials(a, L // 2, 2)) for b in fine_m] for a in ops],
                       dtype=float)
    assert np.all(np.diag(A_exact) == [(L // 2) ** 2 * len(o.shapes) for o in ops])
    assert B_exact[0, 2] == (L // 2) ** 2 * 2 and B_exact[1, 5] == (L // 2) ** 2 * 2
    # standard error of a covariance of (nearly) independent sums: sqrt(Var x Var y / n)
    var_c = np.diag(A_exact)
    var_f = np.array([L ** 2 * len(o.shapes) for o in ops], dtype=float)
    assert np.all(np.abs(A - A_exact) < 5 * np.sqrt(2 * np.outer(var_c, var_c) / n))
    assert np.all(np.abs(B - B_exact) < 5 * np.sqrt(2 * np.outer(var_c, var_f) / n))
    T_exact = np.linalg.solve(A_exact, B_exact)
    assert T_exact[0, 2] == 1.0 and T_exact[1, 5] == 1.0  # dK'_nn/dK_d2 = 1 at K = 0
    assert np.abs(T - T_exact).max() < 5 * math.sqrt(4 / n)  # SE of T_ab ~ sqrt(Var_f / Var_c / n)


def test_block_levels_and_checks():
    s = np.ones((4, 16, 16), dtype=np.int8)
    lv = M.block_levels(s, M.majority_transform(2), 2, seed=0)
    assert [c.shape for c in lv] == [(4, 16, 16), (4, 8, 8), (4, 4, 4)]
    with pytest.raises(ValueError, match="too small"):
        M.mcrg(np.ones((40, 16, 16), dtype=np.int8), M.majority_transform(2), 2)
    with pytest.raises(ValueError, match="integer factor"):
        M.block_levels(s, lambda x, seed: x, 1)
    with pytest.raises(ValueError, match="block size"):
        M.majority_transform(1)


def test_majority_seeded_reproducible():
    rng = np.random.default_rng(7)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(60, 16, 16))
    a = M.mcrg(s, M.majority_transform(2), 1, even=M.EVEN_2D[:3], odd=M.ODD_2D[:2], seed=11)
    b = M.mcrg(s, M.majority_transform(2), 1, even=M.EVEN_2D[:3], odd=M.ODD_2D[:2], seed=11)
    np.testing.assert_array_equal(a.levels[0].y_even, b.levels[0].y_even)
    np.testing.assert_array_equal(a.levels[0].y_odd_err, b.levels[0].y_odd_err)

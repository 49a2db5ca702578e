"""Tests of rgdl.variational: enumeration, Eq. 21, the trace condition, KL, coupling fits."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from rgdl import variational as var
from tests import reference_variational as ref


# ----------------------------------------------------------------------------- enumeration
def test_configuration_order_and_index_roundtrip():
    for units in ("spin", "binary"):
        c = var.spin_configurations(5, units)
        assert c.dtype == np.int8 and c.shape == (32, 5)
        assert np.array_equal(c, np.array(ref.configs(5, units)))
        assert np.array_equal(var.configuration_index(c), np.arange(32))


@pytest.mark.parametrize("shape,kw", [((6,), dict(K=0.7, h=-0.3, K2=0.2)), ((2,), dict(K=1.1, h=0.4)),
                                      ((3, 4), dict(K=0.4, h=0.1, K2=-0.25))])
def test_ising_hamiltonian_matches_loops(shape, kw):
    h = var.ising_hamiltonian(shape, kw["K"], kw.get("h", 0.0), kw.get("K2", 0.0))
    confs = ref.configs(int(np.prod(shape)))
    if len(shape) == 1:
        expected = [ref.chain_energy(s, kw["K"], kw["h"], kw.get("K2", 0.0)) for s in confs]
    else:
        expected = [ref.square_energy(s, *shape, K=kw["K"], h=kw["h"], K2=kw["K2"]) for s in confs]
    np.testing.assert_allclose(h, expected, atol=1e-12)


def test_sample_exact_matches_probabilities_and_is_seeded():
    H = var.ising_hamiltonian((4,), 0.6, 0.2)
    p = var.boltzmann_probabilities(H)
    n = 40000
    s = var.sample_exact(H, n, seed=11)
    assert np.array_equal(s, var.sample_exact(H, n, seed=11))
    assert not np.array_equal(s, var.sample_exact(H, n, seed=12))
    counts = np.bincount(var.configuration_index(s), minlength=16)
    sigma = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) <= 4 * sigma)
    b = var.sample_exact(H, 10, seed=1, units="binary")
    assert set(np.unique(b)) <= {0, 1}


# ----------------------------------------------------------------------------- Eq. 21
@pytest.mark.parametrize("units", ["spin", "binary"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eq21_hrg_equals_hrbm_random(units, seed):
    """Mehta & Schwab Eq. 21 for random RBMs and random H(v), to 1e-10."""
    rng = np.random.default_rng(seed)
    n_v, n_h = 10, 6
    W = rng.normal(0, 1.0, (n_v, n_h))
    c = rng.normal(0, 1.0, n_v)
    b = rng.normal(0, 1.0, n_h)
    H = rng.normal(0, 3.0, 2 ** n_v)
    r = var.rbm_mapping_check(H, W, c, b, units)
    assert r.max_abs_difference <= 1e-10
    assert r.kl_per_spin > 1e-3  # a random RBM is not an exact RG step for a random H
    assert r.trace_spread > 1e-2
    # F_h - F_v equals log Z_H - log Z_rbm ... = -(log Z_rbm - log Z_v)
    assert math.isclose(r.free_energy_shift, -(var.rbm_log_partition(W, c, b, units) - var.log_partition(H)),
                        abs_tol=1e-9)


@pytest.mark.parametrize("units", ["spin", "binary"])
def test_eq21_against_loops(units):
    rng = np.random.default_rng(5)
    W = rng.normal(size=(4, 3))
    c = rng.normal(size=4)
    b = rng.normal(size=3)
    H = rng.normal(size=16)
    r = var.rbm_mapping_check(H, W, c, b, units)
    slow = ref.rbm_hidden_hamiltonian(W.tolist(), c.tolist(), b.tolist(), units)
    np.testing.assert_allclose(r.hamiltonian_rbm, slow, atol=1e-12)
    np.testing.assert_allclose(r.hamiltonian_rg, slow, atol=1e-12)
    assert math.isclose(r.kl_per_spin * 4, ref.kl(H, W.tolist(), c.tolist(), b.tolist(), units), rel_tol=1e-10)


def test_rbm_log_partition_matches_rbm_package():
    partition = pytest.importorskip("rbm.partition")
    rng = np.random.default_rng(3)
    for units, (nv, nh) in (("spin", (9, 5)), ("binary", (4, 8))):
        W = rng.normal(size=(nv, nh))
        c = rng.normal(size=nv)
        b = rng.normal(size=nh)
        assert math.isclose(var.rbm_log_partition(W, c, b, units),
                            partition.log_partition_exact(W, c, b, units), rel_tol=1e-12)


def test_kl_zero_iff_model_matches():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(6, 4))
    c = rng.normal(size=6)
    b = rng.normal(size=4)
    v = var.spin_configurations(6)
    F = var.rbm_visible_free_energy(v, W, c, b, "spin")
    assert var.kl_divergence(F + 3.0, W, c, b) <= 1e-12  # constant shifts do not matter
    assert var.kl_divergence(F + 0.1 * rng.normal(size=F.size), W, c, b) > 1e-5


def test_hidden_hamiltonian_with_traced_units():
    rng = np.random.default_rng(9)
    W = rng.normal(size=(5, 4))
    c = rng.normal(size=5)
    b = rng.normal(size=4)
    full = var.rbm_hidden_hamiltonian(W, c, b)  # over 4 hidden units
    keep = [2, 0]
    part = var.rbm_hidden_hamiltonian(W, c, b, keep=keep)
    hconf = var.spin_configurations(4)
    expected = []
    for k in var.spin_configurations(2):
        mask = (hconf[:, 2] == k[0]) & (hconf[:, 0] == k[1])
        expected.append(-logsumexp(-full[mask]))
    np.testing.assert_allclose(part, expected, atol=1e-12)


# ----------------------------------------------------------------------------- trace condition
def test_coarse_grain_matches_double_loop():
    rng = np.random.default_rng(4)
    T = rng.normal(size=(32, 8))
    H = rng.normal(size=32)
    r = var.coarse_grain(H, T)
    h_rg, log_trace = ref.coarse_grain(H, T, 5, 3)
    np.testing.assert_allclose(r.hamiltonian, h_rg, atol=1e-12)
    np.testing.assert_allclose(r.log_trace, log_trace, atol=1e-12)


@pytest.mark.parametrize("strength", [0.3, 1.0, 5.0, 30.0])
def test_trace_condition_exact_for_decimation(strength):
    H = var.ising_hamiltonian((8,), 0.9, 0.3)
    r = var.coarse_grain(H, var.soft_decimation_operator(8, strength))
    assert r.trace_residual <= 1e-12
    assert abs(r.free_energy_shift) <= 1e-11


def test_trace_condition_exact_for_majority_1d_and_2d():
    H = var.ising_hamiltonian((6,), 0.5)
    r = var.coarse_grain(H, var.majority_operator((6,), 3))
    assert r.trace_residual <= 1e-12 and abs(r.free_energy_shift) <= 1e-11
    H2 = var.ising_hamiltonian((4, 4), 0.3)
    r2 = var.coarse_grain(H2, var.majority_operator((4, 4), 2))
    assert r2.trace_residual <= 1e-12 and abs(r2.free_energy_shift) <= 1e-11


def test_majority_operator_matches_explicit_table():
    op = var.majority_operator((6,), 2)
    table = op.func(var.spin_configurations(6), var.spin_configurations(3))
    expected = ref.majority_table(6, 2)
    assert np.array_equal(np.isneginf(table), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(table[finite], expected[finite], atol=1e-15)


def test_trace_condition_fails_for_random_operator():
    rng = np.random.default_rng(0)
    T = rng.normal(0, 1, (2 ** 6, 2 ** 3))
    H = var.ising_hamiltonian((6,), 0.5)
    r = var.coarse_grain(H, T)
    assert r.trace_residual > 0.5  # log 8 + O(1): fails measurably
    assert abs(r.free_energy_shift) > 0.5
    # normalising the same operator row-wise restores the trace condition exactly
    Tn = T - logsumexp(T, axis=1)[:, None]
    rn = var.coarse_grain(H, Tn)
    assert rn.trace_residual <= 1e-12 and abs(rn.free_energy_shift) <= 1e-12


# ----------------------------------------------------------------------------- coupling fits
def test_fit_recovers_1d_couplings_exactly():
    H = var.ising_hamiltonian((7,), 0.37, -0.21, next_coupling=0.11) + 4.2
    f = var.fit_couplings(H, (7,))
    assert f.residual_max <= 1e-12
    assert abs(f["nn"] - 0.37) <= 1e-12 and abs(f["field"] + 0.21) <= 1e-12 and abs(f["nnn"] - 0.11) <= 1e-12


def test_fit_recovers_2d_couplings_with_plaquette():
    K, h, K2, K4 = 0.3, 0.05, -0.12, 0.07
    H = np.array([ref.square_energy(s, 2, 2, K=K, h=h, K2=K2, K4=K4) for s in ref.configs(4)])
    f = var.fit_couplings(H, (2, 2))
    assert f.residual_max <= 1e-12
    for name, value in (("nn", K), ("field", h), ("nnn", K2), ("plaquette", K4)):
        assert abs(f[name] - value) <= 1e-12


def test_fit_reports_what_it_misses():
    H = var.ising_hamiltonian((6,), 0.4, next_coupling=0.3)
    f = var.fit_couplings(H, (6,), terms=("nn",))
    assert f.residual_max > 0.1 and f.residual_rms > 0.05
    assert var.fit_couplings(H, (6,)).residual_max <= 1e-12


def test_default_terms_drop_dependent_ones():
    assert var.default_terms((3,)) == ("field", "nn")
    assert var.default_terms((2,)) == ("field", "nn")
    assert var.default_terms((4,)) == ("field", "nn", "nnn")
    assert var.default_terms((2, 2)) == ("field", "nn", "nnn", "plaquette")
    with pytest.raises(ValueError, match="linearly dependent"):
        var.fit_couplings(var.ising_hamiltonian((3,), 0.5), (3,), terms=("nn", "nnn"))


# ----------------------------------------------------------------------------- bad input
def test_bad_input_raises_value_error():
    with pytest.raises(ValueError):
        var.spin_configurations(0)
    with pytest.raises(ValueError, match="too large"):
        var.spin_configurations(40)
    with pytest.raises(ValueError):
        var.spin_configurations(3, units="ising")
    with pytest.raises(ValueError, match="length 2"):
        var.coarse_grain(np.zeros(6), np.zeros((6, 2)))
    with pytest.raises(ValueError):
        var.ising_hamiltonian((4,), float("nan"))
    with pytest.raises(ValueError):
        var.ising_hamiltonian((1,), 0.5)
    with pytest.raises(ValueError):
        var.majority_operator((5,), 2)
    with pytest.raises(ValueError):
        var.soft_decimation_operator(5, 1.0)
    with pytest.raises(ValueError):
        var.rbm_mapping_check(np.zeros(8), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        var.fit_couplings(np.zeros(16), (3,))
    with pytest.raises(ValueError):
        var.sample_exact(np.zeros(4), 0)


@pytest.mark.parametrize("units", ["spin", "binary"])
def test_encoder_operator_is_exact_trace(units):
    """T = log p(h|v) of any RBM satisfies Tr_h e^T = 1; its H^RG is the aggregated posterior."""
    rng = np.random.default_rng(12)
    W = rng.normal(size=(6, 3))
    c = rng.normal(size=6)
    b = rng.normal(size=3)
    H = rng.normal(size=64)
    r = var.coarse_grain(H, var.rbm_encoder_operator(W, c, b, units))
    assert r.trace_residual <= 1e-12 and abs(r.free_energy_shift) <= 1e-12
    # brute force: q(h) = sum_v P(v) p(h|v) with p(h|v) = exp(-E)/sum_h exp(-E)
    vs, hs = ref.configs(6, units), ref.configs(3, units)
    P = np.exp(-H) / np.exp(-H).sum()
    q = np.zeros(8)
    for i, v in enumerate(vs):
        e = np.array([math.exp(-ref.rbm_energy(v, h, W, c, b)) for h in hs])
        q += P[i] * e / e.sum()
    np.testing.assert_allclose(np.exp(-r.hamiltonian) / np.exp(-r.hamiltonian).sum(), q, atol=1e-12)


# ----------------------------------------------------------------------------- exact physics
def test_enumeration_matches_transfer_matrix_and_kaufman():
    """Enumerated log Z and correlations against ising.exact (transfer matrix, Kaufman 1949)."""
    exact = pytest.importorskip("ising.exact")
    for n, K, h in ((10, 0.7, 0.0), (9, -0.4, 0.3), (2, 1.3, -0.2)):
        assert math.isclose(var.log_partition(var.ising_hamiltonian((n,), K, h)),
                            float(exact.log_partition_1d(n, 1.0, K, h)), rel_tol=1e-12)
    p = var.boltzmann_probabilities(var.ising_hamiltonian((10,), 0.8))
    s = var.spin_configurations(10).astype(float)
    for r in (1, 3, 5):
        assert abs(p @ (s[:, 0] * s[:, r]) - float(exact.correlation_1d(10, 1.0, r, 0.8))) <= 1e-12
    for K in (0.3, 0.6):
        assert math.isclose(var.log_partition(var.ising_hamiltonian((4, 4), K)),
                            float(exact.log_partition_2d(4, 4, 1.0 / K)), rel_tol=1e-10)


def test_hamiltonian_matches_ising_lattice_energy():
    lattice = pytest.importorskip("ising.lattice")
    s = var.spin_configurations(9)
    e = lattice.energy_per_spin(s.reshape(-1, 3, 3), 0.7, -0.2, 2)
    np.testing.assert_allclose(var.ising_hamiltonian((3, 3), 0.7, -0.2), 9 * e, atol=1e-12)

"""Tests of the exact 1D RBM decimation constructions and the coupling flow (rgdl.decimation)."""

import math

import numpy as np
import pytest

from rgdl import decimation as dec
from rgdl import variational as var
from tests import reference_variational as ref

COUPLINGS = np.linspace(0.1, 2.0, 7)


def test_decimated_coupling_formula():
    for K in COUPLINGS:
        assert abs(dec.decimated_coupling(K) - math.atanh(math.tanh(K) ** 2)) <= 1e-13
        assert abs(dec.decimated_coupling(K) - 0.5 * math.log(math.cosh(2 * K))) <= 1e-13
    # stable where tanh^2 K rounds to 1
    assert abs(dec.decimated_coupling(40.0) - (40.0 - 0.5 * math.log(2.0))) <= 1e-12
    flow = dec.decimation_flow(1.5, 6)
    assert flow[0] == 1.5 and np.all(np.diff(flow) < 0) and flow[-1] < 0.01  # flows to K* = 0


def test_bond_weight_generates_the_bond():
    for K in list(COUPLINGS) + [1e-6, 8.0]:
        w = dec.bond_weight(K)
        assert abs(0.5 * math.log(math.cosh(2 * w)) - K) <= 1e-12 * max(1.0, K)


def test_decimation_identity_against_loops():
    """The even-site marginal of the periodic chain is a chain with K' (brute-force loops)."""
    K = 0.8
    h = ref.decimate_chain_brute(8, K)
    fit = var.fit_couplings(h, (4,))
    assert fit.residual_max <= 1e-12
    assert abs(fit["nn"] - dec.decimated_coupling(K)) <= 1e-12


@pytest.mark.parametrize("K", list(COUPLINGS) + [-0.7])
def test_construction_a_bipartite_chain_is_exact(K):
    r = dec.check_bipartite_construction(12, K)
    assert r.kl_per_spin <= 1e-10
    assert abs(r.coupling_error) <= 1e-10
    assert r.fit_residual <= 1e-10
    assert r.marginal_error <= 1e-10
    assert all(abs(v) <= 1e-10 for v in r.other_terms.values())


def test_construction_a_weights_are_the_chain():
    """The RBM energy equals the chain energy on the bipartite split, configuration by configuration."""
    K, n = 0.45, 8
    w, c, b = dec.bipartite_chain_rbm(n, K)
    for s in ref.configs(n)[::7]:
        v, h = s[1::2], s[0::2]
        assert abs(ref.rbm_energy(v, h, w.tolist(), c.tolist(), b.tolist()) - ref.chain_energy(s, K)) <= 1e-12


@pytest.mark.parametrize("K", list(COUPLINGS) + [-0.7])
def test_construction_b_soft_decimation_is_exact_at_large_strength(K):
    r = dec.check_soft_decimation_construction(8, K, strength=20.0)
    assert r.kl_per_spin <= 1e-10
    assert r.trace_residual <= 1e-12
    assert r.marginal_error <= 1e-10
    assert abs(r.coupling_error) <= 1e-10
    assert r.fit_residual <= 1e-10


@pytest.mark.parametrize("K", [5.0, 50.0])
def test_construction_b_default_strength_large_coupling(K):
    """lambda = 20 + 2K keeps the construction exact deep in the ordered regime."""
    r = dec.check_soft_decimation_construction(8, K)
    assert r.strength == dec.default_strength(K)
    assert abs(r.coupling_error) <= 1e-10 and r.kl_per_spin <= 1e-10 and r.trace_residual <= 1e-12


def test_construction_b_strength_dependence():
    """KL and the trace residual vanish for every lambda; the coarse coupling -> K' like e^{-2 lambda}."""
    strengths = [0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 20.0]
    rows = dec.strength_dependence(8, 0.9, strengths)
    errors = np.array([abs(r.coupling_error) for r in rows])
    for r in rows:
        assert r.kl_per_spin <= 1e-10 and r.trace_residual <= 1e-12 and r.marginal_error <= 1e-10
    assert errors[0] > 0.1  # measurably different from decimation at small lambda
    assert np.all(np.diff(errors[:6]) < 0)
    for lam, err in zip(strengths, errors):
        assert err <= 10.0 * math.exp(-2.0 * lam) + 1e-12
    assert errors[-1] <= 1e-10


def test_construction_b_eq21_and_free_energy_shift():
    """Full Eq. 21 on the whole hidden layer (bond + decimation units) and the constant shift."""
    n, K, lam = 4, 0.6, 3.0
    w, c, b, _ = dec.soft_decimation_rbm(n, K, lam)
    H = var.ising_hamiltonian((n,), K)
    r = var.rbm_mapping_check(H, w, c, b)
    assert r.max_abs_difference <= 1e-10
    assert r.kl_per_spin <= 1e-10
    assert r.trace_spread <= 1e-10  # exact RG step up to a constant
    const = n * (math.log(2.0) + K) + n / 2 * math.log(2 * math.cosh(lam))
    assert abs(r.trace_residual - const) <= 1e-10
    assert abs(r.free_energy_shift + const) <= 1e-10


def test_exact_flow_reproduces_decimation():
    steps = dec.exact_flow(1.2, 16, 3)
    assert [s.size for s in steps] == [8, 4, 2]
    expected = dec.decimation_flow(1.2, 3)[1:]
    for s, k in zip(steps, expected):
        assert abs(s.K_rbm_exact - k) <= 1e-10
        assert s.K_decimation == k
        assert s.kl_per_spin <= 1e-10 and s.trace_residual <= 1e-12 and s.fit_residual <= 1e-10
    # majority rule (blocks of 2, coin ties) is an exact-trace RG step but not the decimation flow
    assert all(abs(s.K_majority - s.K_decimation) > 1e-3 for s in steps)
    assert steps[0].majority_fit_residual > 1e-4


def test_flow_argument_validation():
    for args in [(0.0, 8, 1), (-1.0, 8, 1), (float("nan"), 8, 1), (0.5, 7, 1), (0.5, 18, 1),
                 (0.5, 8, 0), (0.5, 8, 3), (0.5, 12, 2 + 1)]:
        with pytest.raises(ValueError):
            dec.check_flow_arguments(*args)
    assert dec.check_flow_arguments(0.5, 12, 2) == (0.5, 12, 2)


# ----------------------------------------------------------------------------- learned layers
def _local_fields(shape, coarse_shape, rng):
    """Synthetic RBM: hidden unit at coarse site k sees a Gaussian bump around fine site b*k."""
    shape, coarse_shape = tuple(shape), tuple(coarse_shape)
    spacing = np.array(shape) // np.array(coarse_shape)
    fine = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, len(shape))
    coarse = np.stack(np.meshgrid(*[np.arange(s) for s in coarse_shape], indexing="ij"), -1).reshape(-1, len(shape))
    w = np.empty((fine.shape[0], coarse.shape[0]))
    for j, site in enumerate(coarse * spacing):
        d = np.abs(fine - site)
        d = np.minimum(d, np.array(shape) - d)
        w[:, j] = -2.0 * np.exp(-(d ** 2).sum(axis=1)) + 0.01 * rng.normal(size=fine.shape[0])
    return w


@pytest.mark.parametrize("shape,coarse", [((16,), (8,)), ((4, 4), (2, 2)), ((6, 6), (3, 3))])
def test_align_hidden_units_recovers_sites_and_gauge(shape, coarse):
    rng = np.random.default_rng(1)
    w = _local_fields(shape, coarse, rng)
    b = rng.normal(size=w.shape[1])
    perm = rng.permutation(w.shape[1])
    signs = rng.choice([-1.0, 1.0], size=w.shape[1])
    w2, b2, p, s = dec.align_hidden_units(w[:, perm] * signs, b[perm] * signs, shape, coarse)
    np.testing.assert_allclose(w2, w, atol=1e-15)
    np.testing.assert_allclose(b2, b, atol=1e-15)


def test_learned_layer_is_seeded_and_close_to_decimation():
    """A CD-trained N=8 -> 4 RBM at K=0.5 (fixed seed): small KL, coupling near K' (a measurement
    recorded in the README; the tolerance is generous, the point is that the pipeline is sound)."""
    H = var.ising_hamiltonian((8,), 0.5)
    a = dec.learned_layer(H, (8,), (4,), epochs=20, n_samples=5000, seed=0)
    b = dec.learned_layer(H, (8,), (4,), epochs=20, n_samples=5000, seed=0)
    assert a["fit"]["nn"] == b["fit"]["nn"] and a["kl_per_spin"] == b["kl_per_spin"]
    assert 0.0 <= a["kl_per_spin"] < 0.01
    assert abs(a["fit"]["nn"] - dec.decimated_coupling(0.5)) < 0.1
    # the encoder's coarse Hamiltonian is a normalised distribution's: its trace condition is exact
    enc = var.coarse_grain(H, var.rbm_encoder_operator(a["weights"], a["visible_bias"], a["hidden_bias"]))
    assert enc.trace_residual <= 1e-12
    np.testing.assert_allclose(enc.hamiltonian, a["encoder_hamiltonian"], atol=1e-12)


def test_compare_2d_majority_exact_and_keys():
    r = dec.compare_2d(0.3, epochs=5, n_samples=2000, seed=0)
    assert r["coarse_shape"] == (2, 2)
    assert r["majority"]["residual_max"] <= 1e-10  # 2x2 periodic: the four terms are complete
    assert 0.1 < r["majority"]["nn"] < 0.3 and abs(r["majority"]["field"]) <= 1e-12
    assert set(r["learned"]) == {"field", "nn", "nnn", "plaquette", "residual_max"}
    assert r["kl_per_spin_learned"] >= 0
    with pytest.raises(ValueError):
        dec.compare_2d(0.3, size=6)


def test_strength_and_flow_figures(tmp_path):
    from rgdl import flowplot

    rows = dec.strength_dependence(4, 0.7, [0.5, 2.0, 8.0])
    paths = flowplot.plot_strength_dependence(rows, tmp_path / "lam.png")
    assert [p.rsplit(".", 1)[1] for p in paths] == ["png", "pdf"]
    steps = [dict(K_decimation=0.3, K_rbm_exact=0.3, K_learned=-0.1), dict(K_decimation=0.05, K_rbm_exact=0.05,
                                                                          K_learned=0.02)]
    out = flowplot.plot_flow1d(0.7, steps, tmp_path / "flow.v1.pdf")
    assert out == [str(tmp_path / "flow.v1.png"), str(tmp_path / "flow.v1.pdf")]
    assert all((tmp_path / name).stat().st_size > 1000 for name in ("lam.png", "lam.pdf", "flow.v1.png"))
    with pytest.raises(ValueError):
        flowplot.plot_flow1d(0.7, steps, tmp_path / "flow.jpg")
    with pytest.raises(ValueError):
        flowplot.plot_flow1d(0.7, [], tmp_path / "flow.png")

"""Jackknife, thermodynamic estimates, Gelman-Rubin R-hat and KL per spin against exact answers."""

import itertools

import numpy as np
import pytest

from analysis.thermodynamics import (Estimate, gelman_rubin, jackknife, kl_per_spin,
                                     relative_error, thermodynamic_estimates)
from tests.reference_analysis import (exact_ring_samples, spin_free_energy,
                                      spin_rbm_log_partition)


def _ring_exact(n, k):
    """Exact <e>, <|m|>, C, chi per spin of a periodic ring (J = 1, T = 1/K) by enumeration."""
    c = np.array(list(itertools.product((-1, 1), repeat=n)), float)
    e = -(c * np.roll(c, -1, 1)).sum(1) / n
    m = c.mean(1)
    p = np.exp(-k * n * e)
    p /= p.sum()
    t = 1.0 / k
    mean = lambda x: float((p * x).sum())
    return {"energy": mean(e), "abs_magnetization": mean(np.abs(m)),
            "specific_heat": n * (mean(e * e) - mean(e) ** 2) / t ** 2,
            "susceptibility": n * (mean(m * m) - mean(np.abs(m)) ** 2) / t}


def test_jackknife_of_a_mean_is_the_block_standard_error():
    x = np.random.default_rng(0).normal(size=1000)
    est = Estimate(*jackknife(lambda a: a, x, n_blocks=10, bias_correction=False))
    blocks = x.reshape(10, 100).mean(1)
    assert est.value == pytest.approx(x.mean())
    assert est.error == pytest.approx(blocks.std(ddof=1) / np.sqrt(10))


def test_thermodynamics_of_exact_ring_samples():
    n, k = 8, 0.6
    s = exact_ring_samples(n, k, 20000, np.random.default_rng(1)).astype(float)
    e = -(s * np.roll(s, -1, 1)).sum(1) / n
    m = s.mean(1)
    est = thermodynamic_estimates(e, m, n, 1.0 / k)
    exact = _ring_exact(n, k)
    for name, value in exact.items():
        assert abs(est[name].value - value) < 4 * est[name].error, name
        assert est[name].error < 0.05 * abs(value)


def test_relative_error():
    r = relative_error(Estimate(1.1, 0.03), Estimate(1.0, 0.04))
    assert r["value"] == pytest.approx(0.1)
    assert r["z"] == pytest.approx(0.1 / 0.05)
    assert r["error"] == pytest.approx(np.hypot(0.03, 1.1 * 0.04))
    with pytest.raises(ValueError, match="zero"):
        relative_error(Estimate(1, 0), Estimate(0, 0))


def _ar1(n_chains, n, mean, seed, phi=0.9):
    rng = np.random.default_rng(seed)
    x = np.zeros((n_chains, n))
    x[:, 0] = rng.normal(size=n_chains) / np.sqrt(1 - phi ** 2)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + rng.normal(size=n_chains)
    return x + np.asarray(mean)[:, None]


def test_gelman_rubin_flags_disagreeing_chains():
    same = _ar1(4, 4000, np.zeros(4), 2)
    assert abs(gelman_rubin(same) - 1) < 0.02
    # stationary sd of the AR(1) is 1/sqrt(1 - 0.81) = 2.29; mean offsets of 3 (1.3 sd) give
    # R-hat^2 ~ 1 + var(split-chain means)/W = 1 + (8/7 * 2.25) / 5.26  ->  R-hat ~ 1.22
    differ = _ar1(4, 4000, [0.0, 0.0, 3.0, 3.0], 3)
    assert gelman_rubin(differ) == pytest.approx(np.sqrt(1 + 8 / 7 * 2.25 / (1 / 0.19)), abs=0.05)
    assert gelman_rubin(differ) > 1.1
    # a chain drifting within itself is caught by splitting
    drift = _ar1(2, 4000, np.zeros(2), 4) + np.linspace(0, 10, 4000)[None, :]
    assert gelman_rubin(drift, split=True) > 1.1
    assert gelman_rubin(drift, split=False) < gelman_rubin(drift, split=True)
    assert gelman_rubin(np.ones((3, 10))) == 1.0
    assert gelman_rubin(np.array([[1.0] * 10, [2.0] * 10])) == np.inf
    with pytest.raises(ValueError):
        gelman_rubin(np.ones(10))


def _ring_rbm(n, w):
    """Spin RBM with one hidden unit per bond (i, i+1), weight w: exact ring with
    K = 0.5 ln cosh(2w) (REFERENCES.md)."""
    weights = np.zeros((n, n))
    for j in range(n):
        weights[j, j] = w
        weights[(j + 1) % n, j] = w
    return weights, np.zeros(n), np.zeros(n)


def _ring_log_z(n, k):
    return float(np.logaddexp(n * np.log(2 * np.cosh(k)), n * np.log(2 * np.sinh(k))))


@pytest.mark.parametrize("w_model", [None, 0.3])
def test_kl_per_spin_exact_and_mismatched_model(w_model):
    n, w = 8, 0.7
    k = 0.5 * np.log(np.cosh(2 * w))
    s = exact_ring_samples(n, k, 10000, np.random.default_rng(5)).astype(float)
    e = -(s * np.roll(s, -1, 1)).sum(1) / n
    weights, vb, hb = _ring_rbm(n, w if w_model is None else w_model)
    f = spin_free_energy(s, weights, vb, hb)
    log_z_rbm = spin_rbm_log_partition(weights, vb, hb)
    kl = kl_per_spin(e, f, 1.0 / k, n, _ring_log_z(n, k), log_z_rbm, 0.0)
    if w_model is None:
        # the RBM is exactly the ring: ln P - ln p = 0 for every configuration
        assert abs(kl.value) < 1e-10
    else:
        c = np.array(list(itertools.product((-1, 1), repeat=n)), float)
        ln_p = k * (c * np.roll(c, -1, 1)).sum(1) - _ring_log_z(n, k)
        ln_q = -spin_free_energy(c, weights, vb, hb) - log_z_rbm
        exact = float((np.exp(ln_p) * (ln_p - ln_q)).sum()) / n
        assert exact > 0.01
        assert abs(kl.value - exact) < 4 * kl.error
    # an AIS error propagates in quadrature
    kl2 = kl_per_spin(e, f, 1.0 / k, n, _ring_log_z(n, k), log_z_rbm, 0.8)
    assert kl2.error == pytest.approx(np.hypot(kl.error * n, 0.8) / n)


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        thermodynamic_estimates(np.ones(5), np.ones(5), 4, 0.0)
    with pytest.raises(ValueError, match="lengths"):
        kl_per_spin(np.ones(5), np.ones(4), 1.0, 4, 0.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        kl_per_spin(np.ones(5), np.ones(5), 1.0, 4, np.nan, 0.0)


def test_one_estimate_one_jackknife_one_susceptibility():
    """analysis re-exports ising.observables' Estimate and jackknife; the susceptibility is the
    finite-lattice chi' = N (<m^2> - <|m|>^2) / T of ising.observables.summarize."""
    import analysis
    from ising import observables

    assert analysis.Estimate is observables.Estimate and analysis.jackknife is observables.jackknife
    rng = np.random.default_rng(3)
    m = rng.normal(0.0, 0.3, size=400)
    e = -1.0 + 0.1 * rng.normal(size=400)
    est = thermodynamic_estimates(e, m, 16, 2.5, n_blocks=400)
    chi = 16 * (np.mean(m * m) - np.mean(np.abs(m)) ** 2) / 2.5
    assert est["susceptibility"].value == pytest.approx(chi, rel=1e-12)
    assert est["susceptibility"].to_dict() == {"value": est["susceptibility"].value,
                                               "error": est["susceptibility"].error}

"""Tests of ising.observables against processes with exactly known statistics.

AR(1): x_t = phi x_{t-1} + sqrt(1 - phi^2) eps_t (unit stationary variance) has
rho(t) = phi^|t|, tau_int = (1 + phi) / (2 (1 - phi)) and, for n stationary samples,
Var(mean) = [(1 + phi)/(1 - phi) - 2 phi (1 - phi^n) / (n (1 - phi)^2)] / n.
"""

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from ising.observables import (
    Estimate,
    binder_cumulant,
    specific_heat,
    susceptibility,
    autocorrelation,
    binning_error,
    integrated_autocorr_time,
    jackknife,
    summarize,
)


def ar1(phi, n, seed, n_chains=None):
    """Stationary AR(1) with unit variance; shape (n,) or (n_chains, n)."""
    rng = np.random.default_rng(seed)
    shape = (n,) if n_chains is None else (n_chains, n)
    eps = rng.standard_normal(shape) * math.sqrt(1 - phi * phi)
    x0 = rng.standard_normal(shape[:-1] + (1,))
    zi = phi * x0
    return lfilter([1.0], [1.0, -phi], eps, axis=-1, zi=zi)[0]


def tau_exact(phi):
    return (1 + phi) / (2 * (1 - phi))


def var_mean_exact(phi, n):
    return ((1 + phi) / (1 - phi) - 2 * phi * (1 - phi ** n) / (n * (1 - phi) ** 2)) / n


def sokal_sigma(tau, window, n):
    """Sokal's asymptotic standard deviation of the tau_int estimate."""
    return tau * math.sqrt(2 * (2 * window + 1) / n)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9, -0.5])
def test_tau_int_ar1(phi):
    n = 200_000
    x = ar1(phi, n, seed=11)
    tau, window = integrated_autocorr_time(x)
    t = tau_exact(phi)
    assert window >= 5 * tau - 1e-12 and window >= 1
    # statistical error (Sokal) plus the window truncation bias (-phi^(M+1)/(1-phi))
    bias = abs(phi) ** (window + 1) / (1 - abs(phi))
    assert abs(tau - t) < 4 * sokal_sigma(t, window, n) + bias, (tau, t, window)


def test_tau_int_multichain_matches_pooled_length():
    phi, n_chains, n = 0.8, 16, 5000
    x = ar1(phi, n, seed=3, n_chains=n_chains)
    tau, window = integrated_autocorr_time(x)
    t = tau_exact(phi)
    assert abs(tau - t) < 4 * sokal_sigma(t, window, n * n_chains) + phi ** (window + 1) / (1 - phi)
    # a single chain is the 1-row case
    tau1, w1 = integrated_autocorr_time(x[0])
    assert (tau1, w1) == integrated_autocorr_time(x[:1])


def test_autocorrelation_matches_direct_sum():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 50)).cumsum(axis=1)
    rho = autocorrelation(x)
    ref = []
    for row in x:
        d = row - row.mean()
        c = np.array([np.sum(d[: 50 - t] * d[t:]) / 50 for t in range(50)])
        ref.append(c / c[0])
    np.testing.assert_allclose(rho, np.mean(ref, axis=0), rtol=1e-10, atol=1e-12)
    assert rho[0] == pytest.approx(1.0)


def test_tau_int_edge_cases():
    assert integrated_autocorr_time(np.full(100, 3.7)) == (0.5, 0)
    assert integrated_autocorr_time(np.ones((4, 10))) == (0.5, 0)
    with pytest.raises(ValueError, match="too short"):
        integrated_autocorr_time([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        integrated_autocorr_time([1.0, np.nan, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="shape"):
        integrated_autocorr_time(np.zeros((2, 2, 5)))
    with pytest.raises(ValueError, match="positive"):
        integrated_autocorr_time(np.arange(10.0), c=0)

def test_tau_int_too_short_series_warns(caplog):
    # a random walk of 64 steps has no finite tau: the window runs to the end and a warning says so
    walk = np.random.default_rng(0).standard_normal(64).cumsum()
    with caplog.at_level("WARNING", logger="ising.observables"):
        tau, window = integrated_autocorr_time(walk, c=50)
    assert np.isfinite(tau) and 16 < window <= 63
    assert "too short" in caplog.text


@pytest.mark.parametrize("phi", [0.0, 0.7, 0.95])
def test_binning_error_matches_exact(phi):
    n = 2 ** 17
    x = ar1(phi, n, seed=21)
    res = binning_error(x)
    exact = math.sqrt(var_mean_exact(phi, n))
    n_blocks = n // res.block_size
    rel_sd = 1 / math.sqrt(2 * (n_blocks - 1))
    # statistical uncertainty of the plateau plus the finite-block bias ~ tau/block
    bias = 2 * tau_exact(phi) / res.block_size
    assert abs(res.error / exact - 1) < 4 * rel_sd + bias, (res.error, exact, res.block_size)
    assert res.errors.shape == res.block_sizes.shape
    assert res.block_sizes[0] == 1
    # the first level is the naive standard error
    assert res.errors[0] == pytest.approx(np.std(x, ddof=1) / math.sqrt(n), rel=1e-12)
    assert binning_error(np.full(64, 2.0)).error == 0.0


def test_jackknife_of_mean_is_standard_error():
    x = np.random.default_rng(8).standard_normal(200)
    value, err = jackknife(lambda a: a, x, n_blocks=200)
    assert value == pytest.approx(x.mean(), rel=1e-12)
    assert err == pytest.approx(np.std(x, ddof=1) / math.sqrt(200), rel=1e-10)


def test_jackknife_ratio_vs_delta_method():
    # x ~ N(mx, sx^2), y = a x + noise: R = <y>/<x>; delta-method variance is exact to O(1/n^2)
    rng = np.random.default_rng(42)
    n, mx, sx, a, sn = 100_000, 2.0, 1.0, 3.0, 2.0
    x = mx + sx * rng.standard_normal(n)
    y = a * x + sn * rng.standard_normal(n)
    my = a * mx
    vx, vy, cxy = sx ** 2, a ** 2 * sx ** 2 + sn ** 2, a * sx ** 2
    var_r = (vy / mx ** 2 + my ** 2 * vx / mx ** 4 - 2 * my * cxy / mx ** 3) / n
    nb = 200
    value, err = jackknife(lambda u, v: v / u, x, y, n_blocks=nb)
    assert abs(err / math.sqrt(var_r) - 1) < 4 / math.sqrt(2 * (nb - 1))
    assert abs(value - my / mx) < 4 * math.sqrt(var_r)


def test_jackknife_bias_correction():
    # theta = <x>^2 with <x> = 0.1: the plain estimate is biased by Var(mean); jackknife removes it
    mu, n, reps = 0.1, 50, 2000
    rng = np.random.default_rng(9)
    data = mu + rng.standard_normal((reps, n))
    plain = np.mean([jackknife(lambda a: a * a, d, n_blocks=n, bias_correction=False)[0]
                     for d in data])
    corrected = np.mean([jackknife(lambda a: a * a, d, n_blocks=n)[0] for d in data])
    sd = 2 * mu / math.sqrt(n) / math.sqrt(reps) + 1e-3
    assert abs(plain - (mu * mu + 1 / n)) < 4 * sd
    assert abs(corrected - mu * mu) < 4 * sd


def test_jackknife_errors():
    with pytest.raises(ValueError, match="same shape"):
        jackknife(lambda a, b: a / b, np.ones(10), np.ones(12))
    with pytest.raises(ValueError, match="n_blocks"):
        jackknife(lambda a: a, np.ones(10), n_blocks=1)
    with pytest.raises(ValueError, match="at least one"):
        jackknife(lambda a: a)


def test_summary_calibration_ar1():
    """z-scores of the reported means are N(0,1): fraction within 2 sigma ~ 0.95 (binomial)."""
    phi, n, reps, mu = 0.8, 4000, 200, -1.5
    inside_e, inside_m, inside_b, inside_c, inside_x, z2 = 0, 0, 0, 0, 0, []
    for r in range(reps):
        e = mu + 0.1 * ar1(phi, n, seed=1000 + r)
        m = 0.3 * ar1(0.6, n, seed=5000 + r)
        s = summarize(e, m, n_spins=16, temperature=2.0)
        ze = (s.energy.value - mu) / s.energy.error
        zm = s.magnetization.value / s.magnetization.error
        inside_e += abs(ze) < 2
        inside_m += abs(zm) < 2
        inside_b += abs((e.mean() - mu) / binning_error(e).error) < 2
        # nonlinear estimators: C = N var(e)/T^2 = 16 * 0.01 / 4, chi_conn = N var(m)/T
        inside_c += abs((s.specific_heat.value - 0.04) / s.specific_heat.error) < 2
        inside_x += abs((s.susceptibility_connected.value - 0.72)
                        / s.susceptibility_connected.error) < 2
        z2.append(ze * ze)
        assert abs(s.tau_int_energy - tau_exact(phi)) < 0.5 * tau_exact(phi)
    tol = 3 * math.sqrt(0.95 * 0.05 / reps)
    assert abs(inside_e / reps - 0.954) < tol, inside_e
    assert abs(inside_m / reps - 0.954) < tol, inside_m
    assert abs(inside_b / reps - 0.954) < tol, inside_b
    assert abs(inside_c / reps - 0.954) < tol, inside_c
    assert abs(inside_x / reps - 0.954) < tol, inside_x
    # with ~64 blocks z follows Student t_63: E[z^2] = 63/61; sd of the mean of z^2 ~ 0.11
    assert abs(np.mean(z2) - 63 / 61) < 4 * 0.11


def test_summary_exact_values_gaussian():
    # iid Gaussian e and m: C = N var(e)/T^2, Binder U = 0, chi_connected = N var(m)/T
    rng = np.random.default_rng(77)
    n, N, T = 100_000, 100, 2.5
    e = -1.0 + 0.05 * rng.standard_normal(n)
    m = 0.2 * rng.standard_normal(n)
    s = summarize(e, m, n_spins=N, temperature=T)
    for est, exact in [(s.energy, -1.0), (s.magnetization, 0.0), (s.m2, 0.04),
                       (s.m4, 3 * 0.04 ** 2), (s.binder, 0.0),
                       (s.specific_heat, N * 0.05 ** 2 / T ** 2),
                       (s.susceptibility_connected, N * 0.04 / T),
                       (s.abs_magnetization, 0.2 * math.sqrt(2 / math.pi)),
                       (s.susceptibility, N * 0.04 * (1 - 2 / math.pi) / T)]:
        assert abs(est.value - exact) < 4 * est.error, (est, exact)
        assert est.error > 0
    assert s.tau_int == pytest.approx(0.5, abs=0.05)
    assert s.effective_samples == pytest.approx(n, rel=0.1)


def test_summary_ordered_phase_limits():
    # m = +-m0 exactly: U = 2/3, chi = 0 (|m| constant)
    rng = np.random.default_rng(3)
    m = 0.9 * rng.choice([-1.0, 1.0], size=1000)
    e = -1.8 + 0.01 * rng.standard_normal(1000)
    s = summarize(e, m, n_spins=64, temperature=1.0)
    assert s.binder.value == pytest.approx(2 / 3, abs=1e-12)
    assert s.susceptibility.value == pytest.approx(0.0, abs=1e-12)
    assert s.abs_magnetization.error == pytest.approx(0.0, abs=1e-15)


def test_summary_interleaved_chains_and_sweeps():
    phi, n_chains, n, sps = 0.9, 8, 4000, 3
    e = ar1(phi, n, seed=4, n_chains=n_chains)
    m = ar1(0.5, n, seed=5, n_chains=n_chains)
    flat_e, flat_m = e.T.ravel(), m.T.ravel()  # round-major: sample k is chain k % n_chains
    s2d = summarize(e, m, 16, 2.0, sweeps_per_sample=sps)
    sflat = summarize(flat_e, flat_m, 16, 2.0, sweeps_per_sample=sps, n_chains=n_chains)
    d2, df = s2d.as_dict(), sflat.as_dict()
    assert d2.keys() == df.keys()
    for k in d2:  # equal up to summation order
        assert d2[k] == pytest.approx(df[k], rel=1e-10, abs=1e-14), k
    assert s2d.n_chains == n_chains and s2d.n_samples == n * n_chains
    tau = tau_exact(phi)
    assert abs(sflat.tau_int_energy / sps - tau) < 0.15 * tau
    # ignoring the interleaving would mix chains and underestimate tau badly
    wrong = summarize(flat_e, flat_m, 16, 2.0, sweeps_per_sample=sps)
    assert wrong.tau_int_energy / sps < 0.5 * tau
    exact = math.sqrt(var_mean_exact(phi, n) / n_chains)
    assert abs(sflat.energy.error / exact - 1) < 0.4


def test_summary_validation():
    x = np.zeros(100)
    with pytest.raises(ValueError, match="temperature"):
        summarize(x, x, 16, 0.0)
    with pytest.raises(ValueError, match="multiple of n_chains"):
        summarize(x[:99], x[:99], 16, 1.0, n_chains=2)
    with pytest.raises(ValueError, match="n_spins"):
        summarize(x, x, 0, 1.0)
    with pytest.raises(ValueError, match="different shapes"):
        summarize(x, x[:50], 16, 1.0)
    with pytest.raises(ValueError, match="sweeps_per_sample"):
        summarize(x, x, 16, 1.0, sweeps_per_sample=0)


def test_estimate_behaves_like_pair():
    est = Estimate(1.25, 0.01)
    v, e = est
    assert (v, e) == (1.25, 0.01)
    assert "±" in f"{est:.3f}" and "±" in str(est)


def test_thermodynamic_formulas_are_the_summary_estimators():
    """specific_heat, susceptibility and binder_cumulant are the estimators summarize() uses
    (one definition each): fed the jackknife directly they give the Summary's numbers."""
    rng = np.random.default_rng(3)
    e = rng.normal(-1.4, 0.05, (2, 400))
    m = np.clip(rng.normal(0.6, 0.2, (2, 400)), -1, 1)
    n_spins, t = 64, 2.3
    s = summarize(e, m, n_spins, t, n_chains=2)
    assert susceptibility(0.5, 0.3, n_spins, t) == pytest.approx(n_spins * (0.3 - 0.25) / t)
    assert specific_heat(-1.0, 1.1, n_spins, t) == pytest.approx(n_spins * 0.1 / t ** 2)
    assert binder_cumulant(0.5, 0.5) == pytest.approx(1 - 0.5 / 0.75)
    nb_a = s.extra["blocks"]["abs_magnetization"][0]
    nb_m = s.extra["blocks"]["magnetization"][0]
    nb_e = s.extra["blocks"]["energy"][0]
    chi = jackknife(lambda a, a2: susceptibility(a, a2, n_spins, t), np.abs(m), m * m, n_blocks=nb_a)
    chi_c = jackknife(lambda a, a2: susceptibility(a, a2, n_spins, t), m, m * m, n_blocks=nb_m)
    heat = jackknife(lambda a, a2: specific_heat(a, a2, n_spins, t), e, e * e, n_blocks=nb_e)
    assert tuple(s.susceptibility) == chi and tuple(s.susceptibility_connected) == chi_c
    assert tuple(s.specific_heat) == heat
    assert s.susceptibility.to_dict() == {"value": chi[0], "error": chi[1]}

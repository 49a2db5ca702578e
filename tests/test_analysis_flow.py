"""RBM flow: conditionals, convergence to the RBM's own distribution, effective temperatures."""

import numpy as np
import pytest
from scipy.special import expit

from analysis.rbm_flow import (effective_temperature, flow_fixed_point, hidden_probability,
                               rbm_flow, visible_probability)


def _ring_rbm(n, w):
    weights = np.zeros((n, n))
    for j in range(n):
        weights[j, j] = w
        weights[(j + 1) % n, j] = w
    return weights, np.zeros(n), np.zeros(n)


def _ring_energy(n, k):
    """Exact energy per spin of the periodic ring at K (J = 1): -<s_i s_{i+1}>."""
    t = np.tanh(k)
    return -(t + t ** (n - 1)) / (1 + t ** n)


def test_conditionals_follow_the_contract():
    rng = np.random.default_rng(0)
    w, b, c = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    v = rng.choice([-1.0, 1.0], size=(4, 5))
    np.testing.assert_allclose(hidden_probability(v, w, b, "spin"), expit(-2 * (b + v @ w)))
    v01 = (v + 1) / 2
    np.testing.assert_allclose(hidden_probability(v01, w, b, "binary"), expit(-(b + v01 @ w)))
    h = rng.choice([-1.0, 1.0], size=(4, 3))
    np.testing.assert_allclose(visible_probability(h, w, c, "spin"), expit(-2 * (c + h @ w.T)))


@pytest.mark.parametrize("units", ["spin", "binary"])
def test_zero_weights_give_independent_visibles(units):
    n_vis = 16
    c = np.full(n_vis, -0.4)
    s0 = np.ones((5000, 4, 4), np.int8)
    out = rbm_flow(s0, np.zeros((n_vis, 3)), c, np.zeros(3), units=units, n_steps=2, seed=1)
    p_on = expit(0.8) if units == "spin" else expit(0.4)
    frac = (out[-1] == 1).mean()
    assert abs(frac - p_on) < 4 * np.sqrt(p_on * (1 - p_on) / out[-1].size)
    np.testing.assert_array_equal(out[0], s0)
    np.testing.assert_array_equal(out, rbm_flow(s0, np.zeros((n_vis, 3)), c, np.zeros(3),
                                                units=units, n_steps=2, seed=1))


def test_flow_of_exact_ring_rbm_reaches_its_temperature():
    """Block Gibbs of the ring RBM samples the ring at K = 0.5 ln cosh 2w exactly, so flows from
    infinite and from zero temperature both end at T_eff = 1/K."""
    n, w = 16, 0.8
    k = 0.5 * np.log(np.cosh(2 * w))
    weights, vb, hb = _ring_rbm(n, w)
    rng = np.random.default_rng(2)
    starts = {"hot": rng.choice(np.array([-1, 1], np.int8), size=(4000, n)),
              "cold": np.ones((4000, n), np.int8)}
    temps = np.linspace(0.2, 20, 400)
    curve = _ring_energy(n, 1 / temps)
    finals = []
    for i, s0 in enumerate(starts.values()):
        flow = rbm_flow(s0, weights, vb, hb, n_steps=30, seed=10 + i)
        energy = -(flow * np.roll(flow, -1, axis=2)).astype(float).sum(2) / n  # (steps, samples)
        e_mean = energy.mean(1)
        e_err = energy.std(1, ddof=1) / np.sqrt(energy.shape[1])
        t_eff, t_err = effective_temperature(e_mean, temps, curve, e_err)
        assert abs(e_mean[-1] - _ring_energy(n, k)) < 4 * e_err[-1]
        assert abs(t_eff[-1] - 1 / k) < 4 * t_err[-1]
        finals.append(t_eff)
    fp = flow_fixed_point(np.array(finals), last=5)
    assert abs(fp.value - 1 / k) < 0.1 / k


def test_effective_temperature_inverts_the_curve():
    t = np.linspace(1.0, 4.0, 31)
    e = -np.tanh(1 / t)
    assert effective_temperature(-np.tanh(1 / 2.5), t, e) == pytest.approx(2.5, rel=1e-3)
    assert np.isnan(effective_temperature(-2.0, t, e))
    with pytest.raises(ValueError, match="increase"):
        effective_temperature(0.0, t, -e)


def test_fixed_point_and_bad_input():
    fp = flow_fixed_point(np.array([[3.0, 2.5, 2.3], [1.0, 2.0, 2.1]]), last=1)
    assert fp.value == pytest.approx(2.2)
    assert np.isnan(flow_fixed_point(np.array([[1.0, np.nan]]), last=1).value)
    with pytest.raises(ValueError, match="units"):
        rbm_flow(np.ones((2, 4), np.int8), np.zeros((4, 2)), np.zeros(4), np.zeros(2), units="x")
    with pytest.raises(ValueError, match="sites"):
        rbm_flow(np.ones((2, 5), np.int8), np.zeros((4, 2)), np.zeros(4), np.zeros(2))
    with pytest.raises(ValueError, match="-1, \\+1"):
        rbm_flow(np.zeros((2, 4), np.int8), np.zeros((4, 2)), np.zeros(4), np.zeros(2))

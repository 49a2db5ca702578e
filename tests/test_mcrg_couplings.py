"""Maximum pseudo-likelihood couplings (analysis.couplings): exact enumeration and Monte Carlo.

The Monte Carlo check uses a fixed seed and 4 jackknife errors (false-alarm rate ~1e-4 per
coupling for Gaussian errors)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ising
from analysis import couplings as C
from analysis import mcrg as M


def test_exact_enumeration_recovers_couplings():
    """Population pseudo-likelihood (all 2^16 states of a 4x4 torus with exact Boltzmann weights)
    is maximised exactly at the true couplings (Besag 1975)."""
    cfg = np.array(list(itertools.product([-1, 1], repeat=16)), dtype=np.int8).reshape(-1, 4, 4)
    ops = C.FLOW_OPERATORS
    K = np.array([0.3, -0.1, 0.05])
    E = M.operator_sums(cfg, ops) @ K
    fit = C.fit_couplings(cfg, ops, sample_weight=np.exp(E - E.max()))
    np.testing.assert_allclose(fit.couplings, K, atol=1e-7)


def test_monte_carlo_nn_ising_recovers_k():
    r = ising.sample(2, 8, 1.0, coupling=0.3, algorithm="wolff", n_samples=4000, seed=3)
    fit = C.fit_couplings(r.spins, C.FLOW_OPERATORS, n_blocks=10)
    truth = np.array([0.3, 0.0, 0.0])
    assert np.all(fit.errors > 0) and np.all(fit.errors < 0.01)
    assert np.all(np.abs(fit.couplings - truth) < 4 * fit.errors), (fit.couplings, fit.errors)


def test_flow_critical_point_on_synthetic_flows():
    """Straight-line steps Delta(K0) = 0.5 (K0 - 0.44): the root is 0.44 exactly."""
    starts = [0.40, 0.42, 0.46, 0.48]

    def fits(k0):
        k1 = k0 + 0.5 * (k0 - 0.44)
        return [C.CouplingFit(("nn",), np.array([k]), np.array([1e-3]), 100) for k in (k0, k1)]

    out = C.flow_critical_point(starts, [fits(k) for k in starts])
    assert abs(out["K0_star"] - 0.44) < 1e-12 and 0 < out["K0_star_err"] < 0.01
    assert abs(out["fixed_point"][0] - 0.44) < 1e-12


def test_fit_checks():
    with pytest.raises(ValueError, match="n_blocks"):
        C.fit_couplings(np.ones((5, 8, 8), dtype=np.int8), n_blocks=1)
    with pytest.raises(ValueError, match="sample_weight"):
        C.fit_couplings(np.ones((5, 8, 8), dtype=np.int8), sample_weight=np.ones(4))

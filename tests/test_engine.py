"""MonteCarloSampler's engines: the rule of engine="auto", refusals, equality with the
multi-spin engine used directly, resume, and no resume across engines."""

from __future__ import annotations

import numpy as np
import pytest

from ising import MonteCarloSampler, sample
from ising.multispin import MultiSpinMetropolis
from ising.samplers import MULTISPIN_MIN_CHAINS, select_engine


def test_auto_rule():
    assert select_engine("auto", "metropolis", 2, 16, 0.0, MULTISPIN_MIN_CHAINS) == "multispin"
    assert select_engine("auto", "metropolis", 2, 16, 0.0, MULTISPIN_MIN_CHAINS - 1) == "scalar"
    for args in (("heatbath", 2, 16, 0.0), ("metropolis", 1, 16, 0.0), ("metropolis", 2, 2, 0.0),
                 ("metropolis", 2, 7, 0.0), ("metropolis", 2, 16, 0.1), ("wolff", 2, 16, 0.0)):
        assert select_engine("auto", *args, 64) == "scalar"
    assert select_engine("auto", "metropolis", 2, 16, 0.0, 64, ("up",) * 64) == "scalar"


@pytest.mark.parametrize("kwargs,match", [
    (dict(algorithm="heatbath"), "metropolis only"),
    (dict(dimension=1), "2D"),
    (dict(field=0.2), "h = 0"),
    (dict(size=6, initial="neel"), "initial"),
    (dict(engine="warp"), "engine must be"),
])
def test_multispin_refusals(kwargs, match):
    args = dict(dimension=2, size=8, temperature=2.5, n_chains=4, engine="multispin")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MonteCarloSampler(**args)


def test_sampler_runs_the_multispin_engine_exactly():
    a = MonteCarloSampler(2, 8, 2.4, 1.0, n_chains=40, seed=5)
    b = MultiSpinMetropolis(8, 2.4, 1.0, n_replicas=40, seed=5)
    a.sweep(7)
    b.sweep(7)
    assert a.engine == "multispin"
    assert np.array_equal(a.spins, b.spins)
    assert np.allclose(a.energy(), b.energy()) and np.allclose(a.magnetization(), b.magnetization())


def test_resume_and_no_resume_across_engines():
    a = MonteCarloSampler(2, 8, 2.4, n_chains=33, seed=9).sweep(3)
    state = a.get_state()
    b = MonteCarloSampler(2, 8, 2.4, n_chains=33, seed=9).set_state(state)
    a.sweep(4)
    b.sweep(4)
    assert np.array_equal(a.spins, b.spins) and a.sweeps_done == b.sweeps_done == 7
    scalar = MonteCarloSampler(2, 8, 2.4, n_chains=33, seed=9, engine="scalar")
    with pytest.raises(ValueError, match="multispin engine"):
        scalar.set_state(state)
    with pytest.raises(ValueError, match="scalar engine"):
        MonteCarloSampler(2, 8, 2.4, n_chains=33, seed=9).set_state(scalar.get_state())


def test_sample_with_multispin_matches_energies():
    res = sample(2, 8, 2.5, n_samples=128, n_chains=64, burn_in=10, thin=2, seed=3)
    from ising.lattice import energy_per_spin
    assert np.allclose(res.energy, energy_per_spin(res.spins, 1.0, 0.0, 2))
    scalar = sample(2, 8, 2.5, n_samples=128, n_chains=64, burn_in=10, thin=2, seed=3, engine="scalar")
    assert not np.array_equal(res.spins, scalar.spins)  # different random numbers, both valid

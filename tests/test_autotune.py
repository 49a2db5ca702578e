"""ising.autotune.FasterOf: the measured choice between interchangeable drivers, on a fake
clock (deterministic), and the multi-spin engine's use of it (same bytes whatever it picks)."""

from __future__ import annotations

import numpy as np

import ising.autotune as autotune
from ising.autotune import FasterOf
from ising.multispin import MultiSpinMetropolis


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _drive(monkeypatch, cost, calls, n_units=1000):
    """Run ``calls`` calls of n_units through a FasterOf whose drivers cost ``cost[option]``
    seconds per unit (a function of the call index); return the chooser and the plans."""
    clock = FakeClock()
    monkeypatch.setattr(autotune.time, "perf_counter", clock)
    chooser = FasterOf(2, probe_work=100.0, first_interval=2, max_interval=16)
    plans = []
    for call in range(calls):
        def step(option, k, call=call):
            clock.now += k * cost(option, call)
        plans.append(chooser.run(step, n_units, work_per_unit=1.0))
    return chooser, plans


def test_runs_the_faster_driver_and_bounds_the_cost_of_the_slower(monkeypatch):
    chooser, plans = _drive(monkeypatch, lambda option, call: (1.0, 20.0)[option], 200)
    # probe both (first timings discarded: compilation), then the faster
    assert plans[0] == [(0, 100), (0, 100), (1, 100), (1, 100), (0, 600)]
    assert chooser.best() == 0
    assert all(sum(k for _, k in plan) == 1000 for plan in plans)
    slow = sum(k for plan in plans for option, k in plan if option == 1)
    # re-probes of the slow driver every 2, 4, 8, 16, 16, ... calls: about 200 / 16 probes
    assert slow <= 100 * (1 + 200 // 16 + 4)
    assert slow * 20.0 < 0.2 * 200 * 1000 * 1.0  # its cost: under 20 % of the run
    # re-probes of the 20x slower driver run 100 / 20 units: as long as a probe of the faster
    reprobes = [k for plan in plans[1:] for option, k in plan if option == 1]
    assert len(reprobes) >= 200 // 16 and set(reprobes) == {5}


def test_reprobe_of_a_close_driver_is_nearly_full_size(monkeypatch):
    chooser, plans = _drive(monkeypatch, lambda option, call: (1.0, 1.25)[option], 20)
    assert chooser.best() == 0
    assert {k for plan in plans[1:] for option, k in plan if option == 1} == {80}


def test_follows_a_change_of_load(monkeypatch):
    """The row mode wins while the machine is idle and loses 10x once it is loaded."""
    chooser, plans = _drive(monkeypatch, lambda option, call: (1.0, 0.5 if call < 50 else 10.0)
                            [option], 120)
    assert plans[49][-1][0] == 1
    assert chooser.best() == 0 and plans[-1][-1][0] == 0


def test_engine_bytes_do_not_depend_on_the_choice():
    a = MultiSpinMetropolis(32, 2.4, n_replicas=64, seed=3)
    assert a.drivers is not None
    a.drivers = FasterOf(2, probe_work=3 * 32 * 32)  # probes of 3 sweeps: both drivers run
    a.sweep(40)
    assert a.drivers.rates[0] is not None and a.drivers.rates[1] is not None
    a.sweep(3)
    b = MultiSpinMetropolis(32, 2.4, n_replicas=64, seed=3, row_parallel=False).sweep(43)
    c = MultiSpinMetropolis(32, 2.4, n_replicas=64, seed=3, row_parallel=True).sweep(43)
    assert b.drivers is None and c.drivers is None
    assert np.array_equal(a.words, b.words) and np.array_equal(a.words, c.words)


def test_single_lattice_sampler_bytes_do_not_depend_on_the_choice():
    """One 256x256 chain (scalar engine): the measured choice between the serial driver and
    the row mode over threads gives the bytes of the serial driver."""
    from ising import MonteCarloSampler

    a = MonteCarloSampler(2, 256, 2.4, seed=4)
    assert a.row_drivers is not None
    a.row_drivers = FasterOf(2, probe_work=2 * 256 * 256)  # probes of 2 sweeps: both run
    a.sweep(12)
    assert a.row_drivers.rates[0] is not None and a.row_drivers.rates[1] is not None
    b = MonteCarloSampler(2, 256, 2.4, seed=4, row_parallel=False).sweep(12)
    assert b.row_drivers is None
    assert np.array_equal(a.spins, b.spins)

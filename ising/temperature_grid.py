"""A whole temperature grid in the lanes of multi-spin words: one run, per-temperature samples.

:func:`sample_temperature_grid` samples the periodic L x L Ising model (h = 0, one coupling J)
at many temperatures at once with the multi-spin engine (:class:`ising.multispin.
MultiSpinMetropolis`): temperature k of the grid owns replicas ``k n_chains ... (k + 1)
n_chains - 1`` (up to 64 replicas per word, as many words as needed), and every lane carries
its own acceptance thresholds. The result is one :class:`ising.samplers.SampleResult` per
temperature, the same thing :func:`ising.samplers.sample` returns for one temperature.

What a temperature's samples depend on
    Replica c's trajectory is a function of (seed, c, T_c, J, initial state) and the number of
    sweeps only (module docstring of :mod:`ising.multispin`), never of its word mates. Here
    every choice that could couple temperatures is made per temperature as well:

    * burn-in and thinning: each temperature is calibrated by :func:`ising.samplers.calibrate`
      on its own lanes of a pilot run (a separate engine seeded from ``seed``, see below);
      the pilot records every sweep, and each temperature's calibration reads its own lanes
      for as many sweeps as it asks for;
    * sampling: temperature k's lanes are recorded at sweeps ``burn_in_k + j thin_k``
      (j = 1, 2, ...) of the sampling engine, whatever the other temperatures need.

    So the samples of the temperature at grid position k are a function of (seed, k,
    n_chains, T_k, J, n_samples, burn_in, thin) only: a grid run and a run of a grid that
    differs at other positions give that temperature the same bytes (tested in
    tests/test_multispin.py), and a single-temperature grid ``[T]`` gives the same bytes as
    position 0 of any grid.

Seeds
    The sampling engine is ``MultiSpinMetropolis(..., seed=seed)``; the pilot engine (only
    when burn-in or thinning is calibrated) takes the seed ``pilot_seed(seed)`` =
    ``SeedSequence([seed, 1]).generate_state(1, uint64)[0] >> 1`` (63 bits), an independent
    stream. Same seed: same bytes at any thread count.
"""

from __future__ import annotations

import heapq
import math
from types import SimpleNamespace
from typing import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from .checks import resolve_seed
from .lattice import energy_per_spin, magnetization_per_spin
from .multispin import MultiSpinMetropolis
from .samplers import SampleResult, calibrate, metadata_for

__all__ = ["sample_temperature_grid", "pilot_seed"]


def pilot_seed(seed: int) -> int:
    """Seed of the calibration pilot of :func:`sample_temperature_grid` run with ``seed``."""
    state = np.random.SeedSequence([int(seed), 1]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


class _PilotRecord:
    """A pilot engine advanced on demand, its per-lane energy and |M| kept for every sweep."""

    def __init__(self, engine: MultiSpinMetropolis):
        self.engine = engine
        self.energy: list[NDArray[np.float64]] = []
        self.abs_magnetization: list[NDArray[np.float64]] = []

    def extend_to(self, n_sweeps: int) -> None:
        while len(self.energy) < n_sweeps:
            self.engine.sweep(1)
            self.energy.append(self.engine.energy())
            self.abs_magnetization.append(np.abs(self.engine.magnetization()))


class _LaneView:
    """One temperature's lanes of a pilot record, as the sampler :func:`calibrate` drives.

    ``sweep`` moves this view's clock forward (extending the shared record when it is the
    first to get there); ``energy``/``magnetization`` read the view's lanes at its clock, so
    what the view sees does not depend on how far other views have driven the record.
    """

    def __init__(self, record: _PilotRecord, lanes: slice):
        self.record = record
        self.lanes = lanes
        self.clock = 0

    def sweep(self, n_sweeps: int = 1) -> _LaneView:
        self.clock += int(n_sweeps)
        self.record.extend_to(self.clock)
        return self

    def energy(self) -> NDArray[np.float64]:
        return self.record.energy[self.clock - 1][self.lanes]

    def magnetization(self) -> NDArray[np.float64]:  # calibrate uses |M| only
        return self.record.abs_magnetization[self.clock - 1][self.lanes]


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _calibrated_schedule(size: int, temps: NDArray[np.float64], coupling: float, n_chains: int,
                         seed: int, burn_in: int | None, thin: int | None
                         ) -> list[tuple[int, int, float]]:
    """Per temperature (burn_in, thin, tau_int): given values, or calibrated on its lanes."""
    n_t = temps.size
    if burn_in is not None and thin is not None:
        return [(burn_in, thin, float("nan"))] * n_t
    pilot = MultiSpinMetropolis(size, np.repeat(temps, n_chains), coupling,
                                n_replicas=n_t * n_chains, seed=pilot_seed(seed))
    record = _PilotRecord(pilot)
    schedule = []
    for k in range(n_t):
        b, t, tau = calibrate(_LaneView(record, slice(k * n_chains, (k + 1) * n_chains)))
        schedule.append((b if burn_in is None else burn_in, t if thin is None else thin, tau))
    return schedule


def sample_temperature_grid(size: int, temperatures: Sequence[float], *, n_samples: int,
                            coupling: float = 1.0, n_chains: int = 1, burn_in: int | None = None,
                            thin: int | None = None, seed: int | None = None,
                            progress: Callable[[int, int], object] | None = None
                            ) -> list[SampleResult]:
    """Sample 2D Ising configurations at every temperature of a grid in one multi-spin run.

    Lazy checkerboard Metropolis (the chain of :class:`ising.samplers.MonteCarloSampler`'s
    engines) on the periodic ``size x size`` lattice, H = -J sum_<ij> s_i s_j (h = 0),
    weight exp(-H/T) (docs/CONTRACTS.md).

    Parameters
    ----------
    size : int
        Linear size L, even and >= 4 (the multi-spin engine's checkerboard).
    temperatures : sequence of float
        The grid, T > 0 each (any order; repeats allowed). 64 lanes per word: a grid of
        n_T temperatures with ``n_chains`` chains each runs in ceil(n_T n_chains / 64) words.
    n_samples : int
        Configurations per temperature (round-major from its chains, as :func:`ising.sample`).
    coupling : float, default 1.0
        J (either sign), the same at every temperature.
    n_chains : int, default 1
        Independent chains (lanes) per temperature.
    burn_in, thin : int or None
        Sweeps before the first sample and between samples of one chain, for every
        temperature; ``None`` calibrates each temperature on its own (see the module
        docstring; the rule of :func:`ising.samplers.calibrate`).
    seed : int or None
        Root seed (``None``: fresh entropy, recorded in each result's metadata).
    progress : callable, optional
        ``progress(n_done, n_total)`` after each recording sweep (samples over all
        temperatures).

    Returns
    -------
    list of SampleResult
        One per temperature, in the grid's order: ``spins`` (n_samples, L, L) int8, per-spin
        ``energy`` and ``magnetization``, its ``burn_in``, ``thin``, ``tau_int`` (from the
        calibration; NaN when burn_in and thin were both given) and ``metadata`` (the HDF5
        root attributes, ``seed`` the grid's root seed).

    Examples
    --------
    >>> res = sample_temperature_grid(8, [2.0, 3.0], n_samples=10, burn_in=50, thin=2, seed=1)
    >>> [r.spins.shape for r in res]
    [(10, 8, 8), (10, 8, 8)]
    """
    temps = np.asarray([float(t) for t in temperatures], dtype=np.float64)
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError("temperatures must be a non-empty sequence")
    n_samples = _check_count("n_samples", n_samples, 1)
    n_chains = _check_count("n_chains", n_chains, 1)
    burn_in = None if burn_in is None else _check_count("burn_in", burn_in, 0)
    thin = None if thin is None else _check_count("thin", thin, 1)
    if seed is None:
        seed = resolve_seed(None)
    engine = MultiSpinMetropolis(size, np.repeat(temps, n_chains), coupling,
                                 n_replicas=temps.size * n_chains, seed=seed)
    schedule = _calibrated_schedule(engine.size, temps, float(coupling), n_chains, engine.seed,
                                    burn_in, thin)
    rounds = math.ceil(n_samples / n_chains)
    # record times of every temperature, merged in time order (lazily: n_T x rounds events)
    events = heapq.merge(*[_record_times(k, b, t, rounds) for k, (b, t, _) in enumerate(schedule)])
    L = engine.size
    out = np.empty((temps.size, n_samples, L, L), dtype=np.int8)
    filled = [0] * temps.size
    for when, k in events:
        engine.sweep(when - engine.sweeps_done)
        take = min(n_chains, n_samples - filled[k])
        out[k, filled[k]:filled[k] + take] = engine.replica_spins(
            slice(k * n_chains, k * n_chains + take))
        filled[k] += take
        if progress is not None:
            progress(sum(filled), temps.size * n_samples)
    return [_result(out[k], engine, temps[k], n_chains, schedule[k])
            for k in range(temps.size)]


def _record_times(k: int, burn_in: int, thin: int, rounds: int) -> Iterator[tuple[int, int]]:
    """(sweep, k) of the rounds of temperature k, in time order."""
    return ((burn_in + j * thin, k) for j in range(1, rounds + 1))


def _result(spins: NDArray[np.int8], engine: MultiSpinMetropolis, temperature: float,
            n_chains: int, schedule_k: tuple[int, int, float]) -> SampleResult:
    burn_in, thin, tau = schedule_k
    run = SimpleNamespace(dimension=2, size=engine.size, temperature=float(temperature),
                          coupling=float(engine.couplings[0]), field=0.0,
                          algorithm="metropolis", seed=engine.seed, n_chains=n_chains)
    return SampleResult(spins, energy_per_spin(spins, run.coupling, 0.0, 2),
                        magnetization_per_spin(spins, 2), burn_in, thin, tau,
                        metadata_for(run, burn_in, thin, tau))

"""Choose between interchangeable drivers (identical results) by their measured throughput.

Parallel drivers whose threads meet often (a barrier per half-sweep, or per few sweeps) are
fast on an idle machine and can be many times slower than the serial driver on a machine with
more runnable threads than cores: every meeting waits for the slowest thread, a descheduled
thread stalls it for a scheduler time slice, and with OpenMP's default active waiting the
waiting thread also burns the core the other one needs. Which one wins depends on the load
*now*, so no fixed size threshold is right everywhere. When the drivers give the same bytes
(the counter-based kernels of :mod:`ising` do), the choice can be made at run time:
:class:`FasterOf` times the drivers on short probes, runs the faster one, and re-probes the
other from time to time with an exponentially growing interval while it keeps losing, so
that a driver that collapses under load costs a bounded fraction of the run. A re-probe of a
driver measured ``slowdown`` times slower than the best runs 1/``slowdown`` of the probe's
work, so that it lasts about as long as ``probe_work`` at the best driver's rate however
slow the losing driver has become (a full-size re-probe would last ``slowdown`` times
longer).
"""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["FasterOf"]


class FasterOf:
    """Run the faster of several interchangeable drivers, by measured work per second.

    Parameters
    ----------
    n_options : int
        Number of drivers (indices 0 ... n_options - 1); 0 is tried first.
    probe_work : float
        Work (in the caller's units, e.g. site updates) of a probe: a driver that is untried
        or due for a re-probe runs at most this much before the next choice.
    first_interval, max_interval : int
        Calls between re-probes of a losing driver: ``first_interval`` after it was last
        competitive, doubling on every lost probe up to ``max_interval``.
    memory : float
        Weight of the previous rate estimate in the exponential average (0, the default: the
        latest timing only, so that a re-probe sees the load as it is now).

    Notes
    -----
    The first timing of every driver is discarded (it may include compilation or loading
    the compiled code from the cache); the driver is probed again right away.

    Examples
    --------
    >>> chooser = FasterOf(2, probe_work=1e6)
    >>> def run(option, n):  # advance n units with driver `option`
    ...     pass
    >>> plan = chooser.run(run, 1000, work_per_unit=1e4)  # probes of 100 units each first
    >>> plan[:4]  # each driver's first timing is discarded
    [(0, 100), (0, 100), (1, 100), (1, 100)]
    """

    def __init__(self, n_options: int, *, probe_work: float, first_interval: int = 4,
                 max_interval: int = 256, memory: float = 0.0) -> None:
        if n_options < 1:
            raise ValueError("n_options must be >= 1")
        self.n_options = int(n_options)
        self.probe_work = float(probe_work)
        self.first_interval = int(first_interval)
        self.max_interval = int(max_interval)
        self.memory = float(memory)
        #: Work per second of each driver (None: not measured yet).
        self.rates: list[float | None] = [None] * self.n_options
        self._interval = [self.first_interval] * self.n_options
        self._due = [0] * self.n_options
        self._calls = 0
        self._warm = [False] * self.n_options

    def best(self) -> int:
        """The driver with the highest measured rate (0 while none is measured)."""
        measured = [(r, -i) for i, r in enumerate(self.rates) if r is not None]
        return -max(measured)[1] if measured else 0

    def _probe(self) -> int | None:
        """A driver to probe now (untried, or due for a re-probe), or None."""
        best = self.best()
        for i, rate in enumerate(self.rates):
            if rate is None or (i != best and self._calls >= self._due[i]):
                return i
        return None

    def _probe_units(self, option: int, units: int) -> int:
        """Units of a probe of ``option``: ``units``, cut for a driver measured slower than
        the best by the ratio of their rates, so that a re-probe lasts about as long as
        ``probe_work`` at the best rate however slow the driver has become."""
        rate, top = self.rates[option], self.rates[self.best()]
        if rate is None or top is None or rate >= top:
            return units
        return max(1, int(units * rate / top))

    def record(self, option: int, work: float, seconds: float) -> None:
        """Fold one timing into the rate estimate of ``option``."""
        if not self._warm[option]:  # compilation or cache load: not a rate
            self._warm[option] = True
            return
        if seconds <= 0 or work <= 0:
            return
        rate = work / seconds
        old = self.rates[option]
        self.rates[option] = rate if old is None else self.memory * old + (1 - self.memory) * rate

    def run(self, step: Callable[[int, int], object], n_units: int, *,
            work_per_unit: float) -> list[tuple[int, int]]:
        """Advance ``n_units`` (e.g. sweeps) through ``step(option, k)`` calls.

        Probes (untried or re-probed drivers) run at most ``probe_work`` worth of units (a
        re-probe of a driver measured r times slower than the best 1/r of that); the rest goes
        to the fastest measured driver. Returns the list of (option, units) run.
        """
        self._calls += 1
        done = 0
        plan: list[tuple[int, int]] = []
        probe_units = max(1, int(self.probe_work // max(work_per_unit, 1e-300)))
        while done < n_units:
            probe = self._probe()
            option = self.best() if probe is None else probe
            k = n_units - done if probe is None else min(n_units - done,
                                                         self._probe_units(probe, probe_units))
            t0 = time.perf_counter()
            step(option, k)
            self.record(option, k * work_per_unit, time.perf_counter() - t0)
            if probe is not None and probe != self.best():  # lost: wait longer next time
                self._due[probe] = self._calls + self._interval[probe]
                self._interval[probe] = min(2 * self._interval[probe], self.max_interval)
            elif probe is not None:
                self._interval = [self.first_interval] * self.n_options
                for i in range(self.n_options):
                    if i != probe:
                        self._due[i] = self._calls + self.first_interval
            plan.append((option, k))
            done += k
        return plan

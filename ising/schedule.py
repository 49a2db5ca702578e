"""The sampling schedule shared by :func:`ising.samplers.sample` and
:func:`ising.dataset.generate_dataset`: calibrate -> burn-in -> rounds of thinning.

1. :func:`equilibrate`: if ``burn_in`` or ``thin`` is not given, run
   :func:`ising.calibration.calibrate` (pilot sweeps; burn_in >= 20 τ_int, thin >= 2 τ_int with
   margin); then sweep ``burn_in`` sweeps.
2. :func:`sample_rounds`: repeat *rounds*: ``thin`` sweeps of every chain, after which the
   chains emit one sample each, in chain order (round-major; the last round may use only the
   first chains).

Both entry points drive the sampler only through these two functions, so for the same seed
they produce the same spins byte for byte (tests/test_dataset.py keeps this), and a dataset run
resumed from a saved sampler state continues the same sequence of rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional, Protocol

import numpy as np
from numpy.typing import NDArray

from .calibration import PilotSampler, calibrate

__all__ = ["Schedule", "ScheduledSampler", "equilibrate", "sample_rounds", "n_rounds"]


class ScheduledSampler(PilotSampler, Protocol):
    """The sampler the schedule drives (:class:`ising.samplers.MonteCarloSampler`): the
    calibration's interface plus its chains' configurations."""

    @property
    def n_chains(self) -> int:
        """Number of chains."""

    def chain_spins(self, n_chains: int | None, /) -> NDArray[np.int8]:
        """Copy of the configurations of the first ``n_chains`` chains (all when None)."""


@dataclass(frozen=True)
class Schedule:
    """Burn-in and thinning of a run, in sweeps.

    Attributes
    ----------
    burn_in, thin : int
        Sweeps discarded before the first sample; sweeps between two samples of one chain.
    tau_int : float
        τ_int in sweeps measured by the calibration pilot (NaN when ``burn_in`` and ``thin``
        were both given and no pilot ran).
    tau_source : {"calibration", "samples"}
        "calibration" when the pilot measured ``tau_int``; "samples" when it must be measured
        on the samples afterwards.
    """

    burn_in: int
    thin: int
    tau_int: float = math.nan
    tau_source: str = "samples"


def equilibrate(sampler: ScheduledSampler, burn_in: Optional[int] = None,
                thin: Optional[int] = None) -> Schedule:
    """Calibrate ``sampler`` if ``burn_in`` or ``thin`` is None, then sweep the burn-in.

    Parameters
    ----------
    sampler : ising.samplers.MonteCarloSampler
        Advanced in place (pilot sweeps, then ``burn_in`` sweeps).
    burn_in, thin : int or None
        Validated by the caller; None chooses the value with :func:`ising.calibration.calibrate`.

    Returns
    -------
    Schedule
    """
    tau_int, source = math.nan, "samples"
    if burn_in is None or thin is None:
        b, t, tau_int = calibrate(sampler)
        source = "calibration"
        burn_in = b if burn_in is None else burn_in
        thin = t if thin is None else thin
    sampler.sweep(burn_in)
    return Schedule(int(burn_in), int(thin), float(tau_int), source)


def n_rounds(n_samples: int, n_chains: int) -> int:
    """Rounds needed for ``n_samples`` samples from ``n_chains`` chains, ceil(n / chains)."""
    return -(-int(n_samples) // int(n_chains))


def sample_rounds(sampler: ScheduledSampler, n_samples: int, thin: int, *,
                  done: int = 0) -> Iterator[NDArray[np.int8]]:
    """Yield the samples of each round until ``n_samples`` are drawn.

    A round is ``thin`` sweeps of every chain, then one sample from each of the first
    ``min(n_chains, n_samples - done)`` chains, in chain order.

    Parameters
    ----------
    sampler : ising.samplers.MonteCarloSampler
        Equilibrated (:func:`equilibrate`), or restored from a state saved between rounds.
    n_samples : int
        Total number of samples of the run.
    thin : int
        Sweeps per round.
    done : int
        Samples already drawn (a resumed run); a multiple of ``n_chains`` below ``n_samples``.

    Yields
    ------
    ndarray of int8, shape (k, L) or (k, L, L)
        A new array per round; the sampler is not advanced again until the next one is asked for,
        so its state between two rounds can be saved and resumed.
    """
    while done < n_samples:
        sampler.sweep(thin)
        take = min(sampler.n_chains, n_samples - done)
        yield sampler.chain_spins(take)
        done += take

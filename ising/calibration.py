"""Calibration of a sampler: burn-in and thinning from the measured autocorrelation time.

:func:`calibrate` runs pilot sweeps of a sampler (anything with ``sweep(n)``, ``energy()`` and
``magnetization()``, e.g. :class:`ising.samplers.MonteCarloSampler`) and chooses the burn-in
and the thinning in sweeps from the integrated autocorrelation time τ_int of the energy and
of |M| (Sokal's automatic windowing, :func:`ising.observables.integrated_autocorr_time`).

References
----------
A. D. Sokal, "Monte Carlo methods in statistical mechanics", Cargese lectures (1996).
N. Madras and A. D. Sokal, J. Stat. Phys. 50, 109 (1988).
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .checks import check_int, check_real
from .observables import integrated_autocorr_time

__all__ = ["CALIBRATION_WINDOW", "PilotSampler", "calibrate", "tau_of_series"]

logger = logging.getLogger("ising.samplers")

#: Window constant of Sokal's automatic windowing used by :func:`calibrate` (conservative end
#: of Sokal's 5-10: a short window truncates the slow tail of |M| near T_c and underestimates
#: tau_int).
CALIBRATION_WINDOW = 8.0


class PilotSampler(Protocol):
    """What :func:`calibrate` drives: Markov chains advanced by whole sweeps, with the energy and
    magnetization per spin of every chain (e.g. :class:`ising.samplers.MonteCarloSampler`)."""

    def sweep(self, n_sweeps: int, /) -> object:
        """Advance every chain by ``n_sweeps`` sweeps."""

    def energy(self) -> NDArray[np.float64]:
        """Energy per spin of every chain, shape (n_chains,)."""

    def magnetization(self) -> NDArray[np.float64]:
        """Magnetization per spin of every chain, shape (n_chains,)."""


def calibrate(sampler: PilotSampler, *, min_sweeps: int = 200, max_sweeps: int = 100_000,
              min_burn_in: int = 100, burn_in_factor: float = 20.0,
              min_length_factor: float = 200.0,
              window: float = CALIBRATION_WINDOW) -> tuple[int, int, float]:
    """Choose burn-in and thinning from the measured integrated autocorrelation time.

    Runs pilot sweeps (advancing ``sampler``), recording the energy and |M| of every chain
    after every sweep. The first half of the record is discarded as equilibration;
    τ_int (Sokal's automatic windowing with window constant ``window``,
    :func:`ising.observables.integrated_autocorr_time`, all chains together) is measured on
    the second half, for both series, and the larger one is kept. The pilot doubles until the
    kept half is at least ``min_length_factor`` τ_int long (and at most ``max_sweeps`` sweeps,
    with a warning).

    A short pilot or a small window underestimates τ_int (the truncated tail of the |M|
    autocorrelation near T_c), which would make ``thin < 2 τ_int``; the defaults (pilot half
    >= 200 τ_int, window 8 τ_int) keep the bias below the statistical error of the estimate,
    about sqrt(2 (2 window + 1) / (min_length_factor n_chains)) relative.

    Parameters
    ----------
    sampler : PilotSampler
        E.g. :class:`ising.samplers.MonteCarloSampler`.
    min_sweeps : int
        Length of the first pilot.
    max_sweeps : int
        Upper bound on the pilot length.
    min_burn_in : int
        Lower bound of the returned burn-in.
    burn_in_factor : float
        burn_in = max(min_burn_in, ceil(burn_in_factor * τ_int)).
    min_length_factor : float
        Required length of the kept half of the pilot in units of τ_int.
    window : float
        Sokal window constant c (window M >= c τ_int(M)).

    Returns
    -------
    burn_in : int
        Sweeps to discard before sampling.
    thin : int
        Sweeps between samples, ceil(2 τ_high) >= 1, where τ_high = τ_int (1 + 2 σ) is the
        estimate plus two of its relative standard errors σ = sqrt(2 (2M + 1) / n) (Madras &
        Sokal 1988; M the window, n the number of pilot values used), so that thin >= 2 τ_int
        holds with about 98 % confidence rather than 50 %.
    tau_int : float
        max(τ_int(E), τ_int(|M|)) in sweeps.
    """
    min_sweeps = check_int("min_sweeps", min_sweeps, 20)
    max_sweeps = check_int("max_sweeps", max_sweeps, min_sweeps)
    min_burn_in = check_int("min_burn_in", min_burn_in, 0)
    window = check_real("window", window, positive=True)
    min_length_factor = check_real("min_length_factor", min_length_factor, positive=True)
    burn_in_factor = check_real("burn_in_factor", burn_in_factor)

    energies, mags = [], []

    def run(n: int) -> None:
        for _ in range(n):
            sampler.sweep(1)
            energies.append(sampler.energy())
            mags.append(np.abs(sampler.magnetization()))

    run(min_sweeps)
    while True:
        n = len(energies)
        e = np.asarray(energies).T[:, n // 2:]
        m = np.asarray(mags).T[:, n // 2:]
        taus, highs = [], []
        obs_logger = logging.getLogger("ising.observables")
        level = obs_logger.level
        obs_logger.setLevel(logging.ERROR)  # "series too short" is expected while the pilot grows
        try:
            for x in (e, m):
                if np.ptp(x) == 0:  # frozen observable (e.g. ground state): nothing measurable
                    taus.append(0.5)
                    highs.append(0.5)
                else:
                    t, w = integrated_autocorr_time(x, window)
                    # Madras-Sokal variance of the windowed estimator: 2 (2M + 1) / n tau^2
                    rel = math.sqrt(2.0 * (2 * w + 1) / x.size)
                    taus.append(float(t))
                    highs.append(float(t) * (1.0 + 2.0 * rel))
        finally:
            obs_logger.setLevel(level)
        tau = max(taus)
        tau_high = max(highs)
        if e.shape[1] >= min_length_factor * tau:
            break
        if n >= max_sweeps:
            logger.warning("calibrate: pilot of %d sweeps is shorter than %.0f tau_int (tau_int = %.1f); "
                           "estimates may be unreliable", n, min_length_factor, tau)
            break
        run(min(n, max_sweeps - n))
    burn_in = max(min_burn_in, int(math.ceil(burn_in_factor * tau)))
    thin = max(1, int(math.ceil(2.0 * tau_high)))
    logger.info("calibrate: %d pilot sweeps, tau_int = %.2f sweeps (E %.2f, |M| %.2f; upper bound %.2f) "
                "-> burn_in %d, thin %d", len(energies), tau, taus[0], taus[1], tau_high, burn_in, thin)
    return burn_in, thin, tau


def tau_of_series(series: ArrayLike, window: float = CALIBRATION_WINDOW) -> float:
    """τ_int (in units of the series spacing) of ``series`` (n_chains, n), 0.5 if constant."""
    if np.ptp(series) == 0:
        return 0.5
    return float(integrated_autocorr_time(series, window)[0])

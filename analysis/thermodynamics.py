"""Thermodynamics of generated samples against Monte Carlo, chain convergence, and KL divergence.

* :func:`thermodynamic_estimates` -- ``<E>/N``, ``<|M|>/N``, specific heat and susceptibility per
  spin with jackknife error bars over contiguous blocks (Torlai & Melko, PRB 94, 165134 (2016)
  compare RBM samples with Monte Carlo in exactly these observables).
* :func:`relative_error` -- ``(x - x_ref) / |x_ref|`` with its propagated error and z-score.
* :func:`gelman_rubin` -- the potential scale reduction ``R-hat`` (Gelman & Rubin, Stat. Sci. 7,
  457 (1992); split chains as in Gelman et al., *Bayesian Data Analysis*, 3rd ed., 2013): chains
  started from noise and from data must agree before a generated number is a result.
* :func:`kl_per_spin` -- ``KL(P_Ising || p_RBM) / N`` from the exact Ising ``ln Z`` (Kaufman 1949)
  and the RBM's AIS ``ln Z`` (Salakhutdinov & Murray 2008).

Conventions (docs/CONTRACTS.md): ``H = -J sum s_i s_j - h sum s_i`` with weight ``exp(-H/T)``;
energies and magnetizations are per spin; the RBM's ``p(v) = exp(-F(v)) / Z_RBM``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

# One Estimate, one jackknife, one R-hat, one susceptibility for the package: re-exported here.
from ising.observables import (Estimate, gelman_rubin, jackknife, specific_heat,
                               susceptibility)

__all__ = [
    "Estimate",
    "jackknife",
    "thermodynamic_estimates",
    "relative_error",
    "gelman_rubin",
    "kl_per_spin",
]


def _mean_estimate(series: NDArray[np.float64], n_blocks: int) -> Estimate:
    """Mean of a series with the jackknife error over ``n_blocks`` contiguous blocks.

    :func:`ising.observables.jackknife` without bias correction (the mean is linear).
    """
    return Estimate(*jackknife(lambda x: x, series, n_blocks=n_blocks, bias_correction=False))


def _check_series(values: npt.ArrayLike, name: str) -> NDArray[np.float64]:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"{name} must be a 1-D series with at least 2 values, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def thermodynamic_estimates(energy: npt.ArrayLike, magnetization: npt.ArrayLike, n_spins: int,
                            temperature: float, *, n_blocks: int = 20) -> dict[str, Estimate]:
    """Per-spin thermodynamics with jackknife errors.

    Parameters
    ----------
    energy, magnetization : ndarray (n_samples,)
        Energy and magnetization **per spin** of each configuration.
    n_spins : int
        ``N`` (sites).
    temperature : float
        ``T`` of the Boltzmann weight ``exp(-H/T)``.
    n_blocks : int
        Jackknife blocks.

    Returns
    -------
    dict of Estimate
        ``energy`` = ``<e>``; ``abs_magnetization`` = ``<|m|>``;
        ``specific_heat`` = ``N (<e^2> - <e>^2) / T^2``;
        ``susceptibility`` = ``N (<m^2> - <|m|>^2) / T`` (the finite-lattice convention);
        both from :func:`ising.observables.specific_heat` /
        :func:`ising.observables.susceptibility`, the definitions
        :func:`ising.observables.summarize` uses, so generated and Monte Carlo numbers are the
        same quantity. Errors: jackknife over ``n_blocks`` contiguous blocks, without bias
        correction (unlike ``summarize``, which chooses blocks from tau_int and corrects bias).
    """
    e = _check_series(energy, "energy")
    m = _check_series(magnetization, "magnetization")
    if e.size != m.size:
        raise ValueError(f"energy and magnetization lengths differ ({e.size} != {m.size})")
    n = int(n_spins)
    if n < 1:
        raise ValueError(f"n_spins must be positive, got {n}")
    t = float(temperature)
    if not t > 0:
        raise ValueError(f"temperature must be positive, got {t}")
    am = np.abs(m)
    blocks = min(int(n_blocks), e.size)

    def jk(func: Callable[..., float], *series: NDArray[np.float64]) -> Estimate:
        return Estimate(*jackknife(func, *series, n_blocks=blocks, bias_correction=False))

    return {
        "energy": _mean_estimate(e, blocks),
        "abs_magnetization": _mean_estimate(am, blocks),
        "specific_heat": jk(lambda a, a2: specific_heat(a, a2, n, t), e, e * e),
        "susceptibility": jk(lambda a, a2: susceptibility(a, a2, n, t), am, m * m),
    }


def relative_error(estimate: Estimate, reference: Estimate) -> dict[str, float]:
    """Relative deviation ``(x - x_ref) / |x_ref|`` of two independent estimates.

    Returns
    -------
    dict
        ``value``, ``error`` (first-order propagation of both error bars) and ``z``
        (``(x - x_ref) / sqrt(err_x^2 + err_ref^2)``; ``inf`` if both errors vanish).
    """
    x, ex = float(estimate.value), float(estimate.error)
    r, er = float(reference.value), float(reference.error)
    if r == 0:
        raise ValueError("reference value is zero: the relative error is undefined")
    rel = (x - r) / abs(r)
    err = np.sqrt(ex ** 2 + (x / r * er) ** 2) / abs(r)
    sigma = np.sqrt(ex ** 2 + er ** 2)
    z = (x - r) / sigma if sigma > 0 else (0.0 if x == r else np.inf)
    return {"value": float(rel), "error": float(err), "z": float(z)}


def kl_per_spin(energy: npt.ArrayLike, free_energy: npt.ArrayLike, temperature: float,
                n_spins: int, log_z_ising: float, log_z_rbm: float,
                log_z_rbm_error: float = 0.0, *, n_blocks: int = 20) -> Estimate:
    """``KL(P_Ising || p_RBM)`` per spin, estimated on samples of ``P_Ising``.

    .. math::
        \\frac{1}{N} KL = \\frac{1}{N}\\Big( -\\frac{\\langle H\\rangle}{T} - \\ln Z_{Ising}
        + \\langle F_{RBM}(v)\\rangle + \\ln Z_{RBM} \\Big),

    since ``ln P(v) = -H(v)/T - ln Z_Ising`` and ``ln p(v) = -F(v) - ln Z_RBM``.

    Parameters
    ----------
    energy : ndarray (n_samples,)
        Ising energy **per spin** of each Monte Carlo configuration.
    free_energy : ndarray (n_samples,)
        RBM free energy ``F(v)`` of the same configurations (docs/CONTRACTS.md).
    temperature : float
    n_spins : int
    log_z_ising : float
        Exact ``ln Z`` of the periodic lattice (Kaufman; ``ising.exact.log_partition_2d``).
    log_z_rbm, log_z_rbm_error : float
        The RBM's ``ln Z`` and its standard error (AIS, ``rbm.partition.ais_log_partition``).

    Returns
    -------
    Estimate
        Per-spin KL; the error combines the jackknife error of ``<-H/T + F>`` (one series, so
        the correlation of the two terms is kept) with the AIS error in quadrature.
    """
    e = _check_series(energy, "energy")
    f = _check_series(free_energy, "free_energy")
    if e.size != f.size:
        raise ValueError(f"energy and free_energy lengths differ ({e.size} != {f.size})")
    t = float(temperature)
    if not t > 0:
        raise ValueError(f"temperature must be positive, got {t}")
    n = int(n_spins)
    if n < 1:
        raise ValueError(f"n_spins must be positive, got {n}")
    for name, value in (("log_z_ising", log_z_ising), ("log_z_rbm", log_z_rbm),
                        ("log_z_rbm_error", log_z_rbm_error)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    per_sample = -e * n / t + f
    mean = _mean_estimate(per_sample, min(int(n_blocks), per_sample.size))
    value = (mean.value - float(log_z_ising) + float(log_z_rbm)) / n
    error = np.hypot(mean.error, float(log_z_rbm_error)) / n
    return Estimate(float(value), float(error))

"""Monte Carlo estimators with honest error bars.

Conventions (used by every consumer in the package; see docs/CONTRACTS.md):

* The integrated autocorrelation time is

  .. math:: \\tau_{int} = \\tfrac12 + \\sum_{t=1}^{M} \\rho(t),

  so an uncorrelated series has :math:`\\tau_{int} = 1/2`, the variance of the mean of
  :math:`n` samples is :math:`2\\tau_{int}\\,\\sigma^2/n` and the *effective sample size* is
  :math:`n / (2\\tau_{int})` (Sokal 1997).  A thinning interval of :math:`2\\tau_{int}` therefore
  gives (nearly) independent samples.
* ``tau_int`` returned by :func:`integrated_autocorr_time` is in units of the series spacing
  (samples); :func:`summarize` reports it in Monte Carlo sweeps
  (samples x ``sweeps_per_sample``).
* Several independent chains are passed as an array of shape ``(n_chains, n)``; samples stored
  *interleaved round-major* (sample ``k`` belongs to chain ``k % n_chains``, the layout of
  the HDF5 datasets) are de-interleaved by :func:`summarize` with ``n_chains``.

References
----------
A. D. Sokal, "Monte Carlo methods in statistical mechanics: foundations and new algorithms",
in *Functional Integration* (Plenum, 1997), pp. 131-192.
H. Flyvbjerg and H. G. Petersen, J. Chem. Phys. 91, 461 (1989) (blocking analysis).
M. Jonsson, "Standard error estimation by an automated blocking method",
Phys. Rev. E 98, 043304 (2018).
B. Efron and C. Stein, Ann. Stat. 9, 586 (1981); M. H. Quenouille, Biometrika 43, 353 (1956)
(jackknife).
K. Binder, Z. Phys. B 43, 119 (1981) (cumulant).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "integrated_autocorr_time",
    "autocorrelation",
    "binning_error",
    "BinningResult",
    "jackknife",
    "Estimate",
    "Summary",
    "summarize",
    "gelman_rubin",
    "specific_heat",
    "susceptibility",
    "binder_cumulant",
]

logger = logging.getLogger(__name__)

#: Shortest series accepted by the autocorrelation and error estimators.
MIN_LENGTH = 4

#: A sample mean (float) or an array of them: the estimators below work elementwise on either.
FloatOrArray = TypeVar("FloatOrArray", float, NDArray[np.float64])


def _as_chains(x: ArrayLike, name: str = "x", min_length: int = MIN_LENGTH) -> NDArray[np.float64]:
    """Validate ``x`` and return it as a float64 array of shape ``(n_chains, n)``."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    elif a.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n_chains, n), got shape {a.shape}")
    if a.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one chain")
    if a.shape[1] < min_length:
        raise ValueError(
            f"{name} is too short: {a.shape[1]} samples per chain, need at least {min_length}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _autocorr(a: NDArray[np.float64]) -> tuple[NDArray[np.float64], bool]:
    """Chain-averaged rho(t) of validated ``a`` (n_chains, n) and whether any chain varies."""
    n = a.shape[1]
    centred = a - a.mean(axis=1, keepdims=True)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(centred, n=nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :n] / n
    c0 = acov[:, 0]
    # A chain counts as constant when its variance is at the rounding level of its values.
    scale = np.maximum(np.abs(a).max(axis=1), np.finfo(np.float64).tiny)
    ok = c0 > (64 * np.finfo(np.float64).eps * scale) ** 2
    rho = np.zeros(n)
    rho[0] = 1.0
    if np.any(ok):
        rho = np.mean(acov[ok] / c0[ok, np.newaxis], axis=0)
    return rho, bool(np.any(ok))


def autocorrelation(x: ArrayLike) -> NDArray[np.float64]:
    """Normalised autocorrelation function rho(t), averaged over chains.

    Parameters
    ----------
    x : array_like, shape (n,) or (n_chains, n)
        Time series; each row is one chain.

    Returns
    -------
    rho : ndarray, shape (n,)
        ``rho[t]`` for ``t = 0 .. n-1`` with ``rho[0] = 1``.  Each chain's autocovariance
        :math:`C(t) = \\frac1n \\sum_{i=0}^{n-t-1} (x_i - \\bar x)(x_{i+t} - \\bar x)` (the
        standard biased, positive-definite estimator, mean subtracted per chain) is computed by
        FFT with zero padding and normalised by its own :math:`C(0)`; the normalised functions
        of the non-constant chains are averaged.  If every chain is constant, ``rho`` is
        ``[1, 0, 0, ...]`` (no measurable correlation).
    """
    return _autocorr(_as_chains(x))[0]


def integrated_autocorr_time(x: ArrayLike, c: float = 5.0) -> tuple[float, int]:
    """Integrated autocorrelation time by Sokal's automatic windowing.

    Parameters
    ----------
    x : array_like, shape (n,) or (n_chains, n)
        Time series in units of the series spacing; rows are independent chains whose
        autocorrelation functions are averaged (see :func:`autocorrelation`).
    c : float, default 5.0
        Window constant: the window is the smallest :math:`M \\ge 1` with
        :math:`M \\ge c\\,\\tau_{int}(M)` (Sokal recommends c of about 5-10; 5 suits nearly
        exponential decays).

    Returns
    -------
    tau_int : float
        :math:`\\tau_{int}(M) = 1/2 + \\sum_{t=1}^{M} \\rho(t)` at the chosen window, in units
        of the series spacing.  An uncorrelated series gives about 0.5; the effective sample size is
        ``n_total / (2 * tau_int)``.  A constant series returns exactly 0.5.  The estimate is
        floored at ``1 / (2 n)`` (an antithetic series has a genuine tau_int below 1/2, but never
        below zero).
    window : int
        The window M (0 for a constant series).  A window beyond ``n / 4`` means the series is
        too short for a reliable estimate (a warning is logged; Sokal advises n of order
        1000 tau_int).

    Raises
    ------
    ValueError
        If ``x`` has the wrong shape, fewer than 4 samples per chain, non-finite values, or ``c``
        is not positive.

    References
    ----------
    A. D. Sokal, "Monte Carlo methods in statistical mechanics: foundations and new algorithms"
    (1997), section 3; N. Madras and A. D. Sokal, J. Stat. Phys. 50, 109 (1988).
    """
    if not (np.isfinite(c) and c > 0):
        raise ValueError(f"window constant c must be positive and finite, got {c}")
    a = _as_chains(x)
    n = a.shape[1]
    rho, varies = _autocorr(a)
    if not varies:
        return 0.5, 0
    taus = 0.5 + np.cumsum(rho[1:])  # taus[M-1] = tau(M), M = 1..n-1
    windows = np.arange(1, n)
    # Always satisfied at M = n - 1: the mean-subtracted biased estimator has
    # sum_{t=1}^{n-1} rho(t) = -1/2 exactly, so tau(n-1) = 0.
    good = windows >= c * taus
    good[-1] = True
    m = int(np.argmax(good)) + 1
    if m > n // 4:
        logger.warning(
            "integrated_autocorr_time: window M = %d exceeds n/4 (n = %d); the series is too "
            "short for a reliable tau_int (got %.3g)", m, n, taus[m - 1])
    tau = float(taus[m - 1])
    return max(tau, 0.5 / n), m


class BinningResult(NamedTuple):
    """Result of :func:`binning_error`.

    Attributes
    ----------
    error : float
        Standard error of the mean at the plateau.
    block_size : int
        Block length (samples) at the plateau.
    block_sizes : ndarray of int
        Block length at every blocking level (1, 2, 4, ...).
    errors : ndarray of float
        Naive standard error of the mean at every level (the blocking curve).
    """

    error: float
    block_size: int
    block_sizes: NDArray[np.int64]
    errors: NDArray[np.float64]


def _chi2_quantile_99(df: ArrayLike) -> NDArray[np.float64]:
    """0.99 quantile of chi-squared(df), Wilson-Hilferty approximation (< 1 % error, df >= 1)."""
    z = 2.3263478740408408  # standard normal 0.99 quantile
    df = np.asarray(df, dtype=np.float64)
    return df * (1.0 - 2.0 / (9.0 * df) + z * np.sqrt(2.0 / (9.0 * df))) ** 3


def binning_error(x: ArrayLike) -> BinningResult:
    """Standard error of the mean of a correlated series by blocking (binning) analysis.

    The series is repeatedly halved by averaging neighbouring pairs (Flyvbjerg & Petersen
    1989).  At each level k (block length 2^k) the naive error :math:`\\sqrt{s_k^2/n_k}` of the
    block means is computed; it grows with k and reaches a plateau once blocks are much longer
    than :math:`\\tau_{int}`.  The plateau is located automatically with Jonsson's (2018) test:
    the first level at which the remaining lag-1 autocorrelations of the block means are
    consistent with zero (statistic
    :math:`M_k = \\sum_{j\\ge k} n_j \\hat\\gamma_j^2/\\hat\\sigma_j^4`
    below the 0.99 quantile of chi-squared with the number of remaining levels as degrees of
    freedom).

    Parameters
    ----------
    x : array_like, shape (n,) or (n_chains, n)
        Time series; rows are independent chains blocked separately and pooled at each level
        (error of the grand mean).  An odd trailing sample is dropped at each halving.

    Returns
    -------
    BinningResult
        ``(error, block_size, block_sizes, errors)``; ``error`` is the plateau error of the mean
        and ``block_size`` its block length.  A constant series has error 0.

    Raises
    ------
    ValueError
        Bad shape, fewer than 4 samples per chain or non-finite values.
    """
    a = _as_chains(x)
    mu = a.mean()
    sizes, errs, stats, counts = [], [], [], []
    level = a
    size = 1
    while level.shape[1] >= 2:
        n_chains, n = level.shape
        total = n_chains * n
        d = level - mu
        s2 = float(np.mean(d * d))
        gamma = float(np.sum(d[:, :-1] * d[:, 1:]) / total)
        sizes.append(size)
        errs.append(math.sqrt(s2 * total / (total - 1) / total) if total > 1 else math.nan)
        stats.append(total * (gamma / s2) ** 2 if s2 > 0 else 0.0)
        counts.append(total)
        m = n // 2
        level = 0.5 * (level[:, 0:2 * m:2] + level[:, 1:2 * m:2])
        size *= 2
    stat = np.asarray(stats)
    tail = np.cumsum(stat[::-1])[::-1]
    df = np.arange(len(stat), 0, -1)
    ok = tail < _chi2_quantile_99(df)
    if np.any(ok):
        k = int(np.argmax(ok))
    else:  # pragma: no cover - the last level always passes when it holds a single pair
        k = len(stats) - 1
    if counts[k] < 16:
        logger.warning("binning_error: plateau reached only with %d blocks; the error bar is "
                       "itself uncertain by about %.0f %%", counts[k],
                       100 / math.sqrt(2 * max(counts[k] - 1, 1)))
    return BinningResult(float(errs[k]), int(sizes[k]), np.asarray(sizes, dtype=np.int64),
                         np.asarray(errs))


def jackknife(func: Callable[..., float], *series: ArrayLike, n_blocks: int = 64,
              bias_correction: bool = True) -> tuple[float, float]:
    """Delete-one-block jackknife for a (nonlinear) function of sample means.

    Parameters
    ----------
    func : callable
        ``func(mean_1, mean_2, ...) -> float``: the estimator as a function of the sample means
        of ``series`` (for example ``lambda e, e2: e2 - e**2`` for a variance, or
        ``lambda m2, m4: 1 - m4 / (3 * m2**2)`` for the Binder cumulant).
    *series : array_like, each shape (n,) or (n_chains, n)
        Equal-shape time series.  Each chain is cut into ``n_blocks // n_chains`` contiguous
        blocks (at least one per chain; a remainder at the end of each chain is dropped), so
        with several chains the blocks never straddle chains.
    n_blocks : int, default 64
        Total number of blocks.  For correlated data the blocks must be several
        :math:`\\tau_{int}` long (:func:`summarize` chooses this automatically).
    bias_correction : bool, default True
        Return the bias-corrected estimate :math:`n_b\\hat\\theta - (n_b-1)\\bar\\theta_{(\\cdot)}`
        (removes the O(1/n) bias of nonlinear estimators); otherwise :math:`\\hat\\theta` of the
        full (block-truncated) sample.

    Returns
    -------
    value, error : float
        The estimate and its jackknife standard error
        :math:`\\sqrt{\\frac{n_b-1}{n_b}\\sum_i (\\theta_{(i)} - \\bar\\theta_{(\\cdot)})^2}`.

    Raises
    ------
    ValueError
        No series, mismatched shapes, fewer than 2 blocks possible, or bad ``n_blocks``.
    """
    if len(series) == 0:
        raise ValueError("jackknife needs at least one series")
    arrays = [_as_chains(s, name=f"series[{i}]", min_length=2) for i, s in enumerate(series)]
    shape = arrays[0].shape
    for i, s in enumerate(arrays):
        if s.shape != shape:
            raise ValueError(f"all series must have the same shape: series[0] has {shape}, "
                             f"series[{i}] has {s.shape}")
    if int(n_blocks) != n_blocks or n_blocks < 2:
        raise ValueError(f"n_blocks must be an integer >= 2, got {n_blocks}")
    n_chains, n = shape
    per_chain = min(max(int(n_blocks) // n_chains, 1), n)
    block = n // per_chain
    nb = n_chains * per_chain
    if nb < 2:
        raise ValueError("jackknife needs at least 2 blocks")
    sums = np.stack([s[:, :per_chain * block].reshape(n_chains, per_chain, block).sum(axis=2)
                     .ravel() for s in arrays])  # (n_series, nb)
    total = sums.sum(axis=1)
    count = nb * block
    full = float(func(*(total / count)))
    loo_means = (total[:, np.newaxis] - sums) / (count - block)  # (n_series, nb)
    thetas = np.array([func(*loo_means[:, i]) for i in range(nb)], dtype=np.float64)
    if not np.all(np.isfinite(thetas)) or not np.isfinite(full):
        logger.warning("jackknife: the estimator returned non-finite values")
    tbar = float(np.mean(thetas))
    err = math.sqrt((nb - 1) / nb * float(np.sum((thetas - tbar) ** 2)))
    value = nb * full - (nb - 1) * tbar if bias_correction else full
    return float(value), err


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its one-standard-deviation error bar."""

    value: float
    error: float

    def __iter__(self) -> Iterator[float]:
        yield self.value
        yield self.error

    def __format__(self, spec: str) -> str:
        return f"{self.value:{spec or '.6g'}} ± {self.error:.2g}"

    def __str__(self) -> str:
        return f"{self.value:.6g} ± {self.error:.2g}"

    def to_dict(self) -> dict[str, float]:
        """``{"value": value, "error": error}`` as Python floats (for JSON)."""
        return {"value": float(self.value), "error": float(self.error)}


# The estimators of the thermodynamic quantities as functions of sample means, written once:
# summarize() and every other consumer (e.g. analysis.thermodynamics) pass them to jackknife().

def specific_heat(e_mean: FloatOrArray, e2_mean: FloatOrArray, n_spins: int,
                  temperature: float) -> FloatOrArray:
    """Specific heat per spin C = N (<e^2> - <e>^2) / T^2 (fluctuation-dissipation, k_B = 1).

    Parameters
    ----------
    e_mean, e2_mean : float or ndarray
        <e> and <e^2> of the energy per spin e = H / N.
    n_spins : int
        N = L^d.
    temperature : float
        T of the Boltzmann weight exp(-H/T).
    """
    return n_spins * (e2_mean - e_mean * e_mean) / (temperature * temperature)


def susceptibility(m_mean: FloatOrArray, m2_mean: FloatOrArray, n_spins: int,
                   temperature: float) -> FloatOrArray:
    """Susceptibility per spin chi = N (<m^2> - <m>^2) / T, the one definition of the package.

    Pass ``m_mean`` = <|m|> for the finite-lattice estimator used at zero field, where <m> = 0
    by symmetry (:attr:`Summary.susceptibility`, Binder & Heermann, *Monte Carlo Simulation in
    Statistical Physics*, sec. 2.3), or <m> for the connected susceptibility, the right one when
    the field is non-zero (:attr:`Summary.susceptibility_connected`).

    Parameters
    ----------
    m_mean, m2_mean : float or ndarray
        <|m|> (or <m>) and <m^2> of the magnetization per spin m = (1/N) sum_i s_i.
    n_spins : int
        N = L^d.
    temperature : float
        T of the Boltzmann weight exp(-H/T).
    """
    return n_spins * (m2_mean - m_mean * m_mean) / temperature


def binder_cumulant(m2_mean: FloatOrArray, m4_mean: FloatOrArray) -> FloatOrArray:
    """Binder cumulant U = 1 - <m^4> / (3 <m^2>^2) (Binder 1981; 2/3 ordered, 0 Gaussian)."""
    return 1.0 - m4_mean / (3.0 * m2_mean * m2_mean)


@dataclass(frozen=True)
class Summary:
    """Thermodynamic estimates from a Monte Carlo run (see :func:`summarize`).

    All quantities are per spin; ``tau_int*`` are in Monte Carlo sweeps.
    """

    energy: Estimate
    magnetization: Estimate
    abs_magnetization: Estimate
    m2: Estimate
    m4: Estimate
    binder: Estimate
    specific_heat: Estimate
    susceptibility: Estimate
    susceptibility_connected: Estimate
    tau_int: float
    tau_int_energy: float
    tau_int_abs_magnetization: float
    n_samples: int
    n_chains: int
    n_blocks: int
    block_length: int
    temperature: float
    n_spins: int
    sweeps_per_sample: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_samples(self) -> float:
        """Effective number of independent samples, ``n_samples / (2 tau_int)`` (tau in samples)."""
        tau_samples = self.tau_int / self.sweeps_per_sample
        return self.n_samples / (2.0 * tau_samples)

    def as_dict(self) -> dict[str, float]:
        """Flat ``{name: value, name_err: error}`` dictionary (for printing or HDF5 attrs)."""
        out: dict[str, float] = {}
        for name in ("energy", "magnetization", "abs_magnetization", "m2", "m4", "binder",
                     "specific_heat", "susceptibility", "susceptibility_connected"):
            est = getattr(self, name)
            out[name] = est.value
            out[name + "_err"] = est.error
        for name in ("tau_int", "tau_int_energy", "tau_int_abs_magnetization", "n_samples",
                     "n_chains", "n_blocks", "block_length"):
            out[name] = getattr(self, name)
        return out


def _deinterleave(x: ArrayLike, n_chains: int, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        if n_chains not in (1, a.shape[0]):
            raise ValueError(f"{name} has {a.shape[0]} chains but n_chains={n_chains}")
        return a
    if a.ndim != 1:
        raise ValueError(f"{name} must have shape (n,) or (n_chains, n), got shape {a.shape}")
    if a.shape[0] % n_chains:
        raise ValueError(f"{name} has {a.shape[0]} samples, not a multiple of "
                         f"n_chains={n_chains}")
    # round-major interleaving: sample k belongs to chain k % n_chains
    return a.reshape(-1, n_chains).T


def summarize(energy: ArrayLike, magnetization: ArrayLike, n_spins: int, temperature: float,
              sweeps_per_sample: float = 1, n_chains: int = 1, *, c: float = 5.0,
              block_taus: float = 10.0, max_blocks: int = 64) -> Summary:
    """Thermodynamic estimators with jackknife error bars and autocorrelation times.

    Estimates (per spin, e = energy per spin, m = magnetization per spin, N = ``n_spins``,
    T = ``temperature``; conventions of docs/CONTRACTS.md):

    * ``energy`` <e>, ``magnetization`` <m>, ``abs_magnetization`` <|m|>, ``m2`` <m^2>,
      ``m4`` <m^4>;
    * ``binder`` U = 1 - <m^4> / (3 <m^2>^2) (:func:`binder_cumulant`; Binder 1981; 2/3 in the
      ordered phase, 0 for a Gaussian);
    * ``specific_heat`` C = N (<e^2> - <e>^2) / T^2 (:func:`specific_heat`);
    * ``susceptibility`` chi = N (<m^2> - <|m|>^2) / T (:func:`susceptibility` of <|m|>), the
      finite-lattice estimator used at zero field (where <m> = 0 by symmetry);
    * ``susceptibility_connected`` chi = N (<m^2> - <m>^2) / T (:func:`susceptibility` of <m>),
      the right one when the field is non-zero (at zero field on a finite lattice it equals
      N <m^2> / T up to noise).

    Errors are delete-one-block jackknife errors over blocks of length at least
    ``block_taus * tau_max`` samples, where ``tau_max`` is the largest integrated
    autocorrelation time (in samples) of the series an estimate uses (e and e^2 for the energy
    and C; |m|, m^2 and m^4 for <|m|>, <m^2>, <m^4>, U and chi; m and m^2 for <m> and the
    connected chi, so a slowly tunnelling <m> does not coarsen the other error bars); each chain
    is blocked separately and at most ``max_blocks`` blocks are used.  Nonlinear estimators
    (U, C, chi) are bias-corrected by the jackknife.

    Parameters
    ----------
    energy, magnetization : array_like
        Per-spin energy and magnetization, either shape ``(n_chains, n)`` or a flat ``(n,)``
        series; a flat series with ``n_chains > 1`` is interleaved round-major (sample k
        belongs to chain ``k % n_chains``).
    n_spins : int
        Number of spins N = L^d.
    temperature : float
        Temperature T > 0.
    sweeps_per_sample : float, default 1
        Sweeps between consecutive samples of one chain (the thinning); converts tau_int to
        sweeps.
    n_chains : int, default 1
        Number of interleaved chains in a flat series (ignored for 2-D input except as a check).
    c : float, default 5.0
        Window constant of :func:`integrated_autocorr_time`.
    block_taus : float, default 10
        Minimum block length in units of tau_max.
    max_blocks : int, default 64
        Maximum number of jackknife blocks.

    Returns
    -------
    Summary
        Dataclass of :class:`Estimate` fields plus ``tau_int`` (sweeps; the larger of
        ``tau_int_energy`` and ``tau_int_abs_magnetization``), ``n_blocks`` and
        ``block_length`` (the coarsest blocking used for the energy and |m| groups; per-group
        values and every tau in samples are in ``extra``) and bookkeeping.

    Raises
    ------
    ValueError
        Bad shapes, non-finite values, fewer than 4 samples per chain, N < 1, T <= 0,
        non-positive ``sweeps_per_sample`` or ``n_chains``.
    """
    e, m, N, T = _summary_input(energy, magnetization, n_spins, temperature, sweeps_per_sample,
                                n_chains)
    chains, n = e.shape
    am = np.abs(m)
    m2 = m * m
    m4 = m2 * m2
    e2 = e * e

    taus = {name: integrated_autocorr_time(x, c=c)[0]
            for name, x in (("e", e), ("e2", e2), ("m", m), ("am", am), ("m2", m2), ("m4", m4))}

    def blocks_for(*names: str) -> tuple[int, int]:
        return _blocking(max(taus[k] for k in names), "/".join(names), n, chains, block_taus,
                         max_blocks)

    nb_e, blk_e = blocks_for("e", "e2")
    nb_a, blk_a = blocks_for("am", "m2", "m4")
    nb_m, blk_m = blocks_for("m", "m2")

    tau_e, tau_am = taus["e"], taus["am"]
    sps = float(sweeps_per_sample)
    return Summary(
        energy=_estimate(nb_e, _identity, e), magnetization=_estimate(nb_m, _identity, m),
        abs_magnetization=_estimate(nb_a, _identity, am), m2=_estimate(nb_a, _identity, m2),
        m4=_estimate(nb_a, _identity, m4),
        binder=_estimate(nb_a, binder_cumulant, m2, m4),
        specific_heat=_estimate(nb_e, lambda a, a2: specific_heat(a, a2, N, T), e, e2),
        susceptibility=_estimate(nb_a, lambda a, a2: susceptibility(a, a2, N, T), am, m2),
        susceptibility_connected=_estimate(nb_m, lambda a, a2: susceptibility(a, a2, N, T), m, m2),
        tau_int=max(tau_e, tau_am) * sps, tau_int_energy=tau_e * sps,
        tau_int_abs_magnetization=tau_am * sps, n_samples=chains * n, n_chains=chains,
        n_blocks=min(nb_e, nb_a), block_length=max(blk_e, blk_a), temperature=T, n_spins=N,
        sweeps_per_sample=sps,
        extra={"tau_int_samples": taus, "blocks": {"energy": (nb_e, blk_e),
                                                   "abs_magnetization": (nb_a, blk_a),
                                                   "magnetization": (nb_m, blk_m)}})


def _estimate(n_blocks: int, func: Callable[..., float], *series: ArrayLike) -> Estimate:
    return Estimate(*jackknife(func, *series, n_blocks=n_blocks))


def _identity(a: float) -> float:
    return a


def _summary_input(energy: ArrayLike, magnetization: ArrayLike, n_spins: int, temperature: float,
                   sweeps_per_sample: float, n_chains: int
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], int, float]:
    """Validated ``(e, m, N, T)`` of :func:`summarize`: e and m of shape (n_chains, n)."""
    if int(n_chains) != n_chains or n_chains < 1:
        raise ValueError(f"n_chains must be a positive integer, got {n_chains}")
    n_chains = int(n_chains)
    if int(n_spins) != n_spins or n_spins < 1:
        raise ValueError(f"n_spins must be a positive integer, got {n_spins}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    if not (np.isfinite(sweeps_per_sample) and sweeps_per_sample > 0):
        raise ValueError(f"sweeps_per_sample must be positive, got {sweeps_per_sample}")
    e = _as_chains(_deinterleave(energy, n_chains, "energy"), "energy")
    m = _as_chains(_deinterleave(magnetization, n_chains, "magnetization"), "magnetization")
    if e.shape != m.shape:
        raise ValueError(f"energy and magnetization have different shapes {e.shape}, {m.shape}")
    return e, m, int(n_spins), float(temperature)


def _blocking(tau_max: float, what: str, n: int, chains: int, block_taus: float,
              max_blocks: int) -> tuple[int, int]:
    """(n_blocks, block length) for jackknife blocks of >= block_taus * tau_max samples, each
    chain blocked separately, at most ``max_blocks`` blocks (a warning when too few)."""
    min_block = max(int(math.ceil(block_taus * tau_max)), 1)
    per_chain = n // min_block
    if per_chain * chains > max_blocks:
        per_chain = max(max_blocks // chains, 1)
    if per_chain * chains < 2:
        per_chain = 2  # a single short chain: two halves, flagged below
    n_blk, blk = per_chain * chains, n // per_chain
    if blk < min_block or n_blk < 16:
        logger.warning(
            "summarize: run too short for reliable error bars of %s (%d blocks of %d "
            "samples, tau_int = %.3g samples)", what, n_blk, blk, tau_max)
    return n_blk, blk


def gelman_rubin(chains: ArrayLike, *, split: bool = True) -> float:
    """Potential scale reduction factor ``R-hat`` of several Markov chains.

    Parameters
    ----------
    chains : ndarray (n_chains, n_steps)
        One scalar observable (e.g. energy, ``|M|``) per chain and step, after any burn-in.
    split : bool
        Split each chain into halves first (detects drift within chains).

    Returns
    -------
    float
        ``sqrt(var_plus / W)`` with ``var_plus = (n-1)/n W + B/n``; close to 1 when the chains
        sample the same distribution, well above 1 (e.g. > 1.1) when they disagree. ``1.0`` if
        every chain is constant at the same value, ``inf`` if the chains are constant at
        different values.

    References
    ----------
    Gelman & Rubin, Statistical Science 7, 457 (1992); Gelman et al., Bayesian Data Analysis
    (3rd ed., 2013), Sec. 11.4.
    """
    x = np.asarray(chains, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"chains must have shape (n_chains, n_steps), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("chains contain NaN or infinite values")
    if split:
        half = x.shape[1] // 2
        x = np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)
    m, n = x.shape
    if m < 2 or n < 2:
        raise ValueError("need at least 2 chains with at least 2 steps each (4 steps when split)")
    means = x.mean(axis=1)
    w = x.var(axis=1, ddof=1).mean()
    b = n * means.var(ddof=1)
    if w == 0:
        return 1.0 if b == 0 else float("inf")
    var_plus = (n - 1) / n * w + b / n
    return float(np.sqrt(var_plus / w))

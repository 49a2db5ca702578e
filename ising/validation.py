"""Statistical validation of Monte Carlo samplers against exact results.

A sampler is judged chain by chain (pooling chains hides a chain stuck in part of the state
space: its bias only widens the pooled error bar) and on whole distributions, not only means:

* :func:`exact_distributions` enumerates all 2**N configurations of a small periodic lattice
  (at most :data:`MAX_ENUMERATED_SPINS` spins: 1D N <= 20, 2D up to 4 x 4) and returns the exact
  distributions of the energy and of the magnetization per spin.
* :func:`histogram_test` compares one chain's histogram with an exact distribution by a
  batch-means Hotelling T**2 test, which accounts for the autocorrelation of the chain.
* :func:`mean_test` and :func:`variance_test` compare one chain's mean (or N var/T**2, the
  specific heat) with an exact value, from batch means; the result is expressed as an
  equivalent standard-normal z-score.
* :func:`zscore_rms_interval` is the acceptance interval of the root mean square of many such
  z-scores (too large: bias or error bars too small; too small: error bars too large).
* Gelman-Rubin R-hat across chains started from different states:
  :func:`ising.observables.gelman_rubin` with the threshold :data:`RHAT_THRESHOLD`.

False-alarm rates
    Each test returns a p-value that is uniform on [0, 1] for a correct sampler in the
    limit of batches much longer than the integrated autocorrelation time (the batch means
    are then independent and normal). A check rejects when p < ``alpha``; a suite of k
    checks at level ``alpha`` each has a family-wise false-alarm rate of at most k * alpha
    (Bonferroni). The z-scores are exact normal quantiles of the t-distributed batch-means
    statistics, so sum z**2 over n independent checks is chi-square with n degrees of freedom
    and :func:`zscore_rms_interval` is exact at its stated level.

References
----------
H. Hotelling, Ann. Math. Stat. 2, 360 (1931) (T**2 statistic).
H. Flyvbjerg and H. G. Petersen, J. Chem. Phys. 91, 461 (1989) (batch means / blocking).
A. Gelman and D. B. Rubin, Stat. Sci. 7, 457 (1992) (R-hat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from . import exact
from .calibration import PilotSampler
from .lattice import check_dimension, energy_per_spin, lattice_shape, magnetization_per_spin
from .observables import gelman_rubin, integrated_autocorr_time, jackknife

__all__ = [
    "ValidatedSampler",
    "ExactDistributions",
    "TestResult",
    "exact_distributions",
    "histogram_test",
    "mean_test",
    "variance_test",
    "zscore_rms_interval",
    "RHAT_THRESHOLD",
    "MAX_ENUMERATED_SPINS",
    "Check",
    "PointReport",
    "record",
    "exact_reference",
    "validate_point",
    "cross_chain_correlation_test",
]

#: Largest number of spins :func:`exact_distributions` enumerates (2**20 configurations).
MAX_ENUMERATED_SPINS = 20

#: R-hat above which chains started from different states are declared to disagree. For m
#: chains of effective sample size n_eff each, (R-hat**2 - 1) n_eff is approximately an
#: F(m - 1, m (n_eff - 1)) variable for a correct sampler, so with n_eff >= 500 a value above
#: 1.05 needs F > 51, a false-alarm probability below 1e-9 for m >= 2; a chain stuck in a
#: sector whose mean differs by s standard deviations of the observable gives roughly
#: R-hat**2 - 1 ~ s**2 / 4, i.e. R-hat > 1.05 already for s ~ 0.65.
RHAT_THRESHOLD = 1.05


class ValidatedSampler(PilotSampler, Protocol):
    """The sampler :func:`record` and :func:`validate_point` drive: MonteCarloSampler-like
    (:class:`ising.samplers.MonteCarloSampler`, :class:`ising.multispin.MultiSpinMetropolis`,
    or any object with these members)."""

    @property
    def dimension(self) -> int:
        """1 or 2."""

    @property
    def size(self) -> int:
        """Linear size L."""

    @property
    def temperature(self) -> float | NDArray[np.float64]:
        """T, one for all chains or one per chain (shape (n_chains,))."""

    @property
    def coupling(self) -> float | NDArray[np.float64]:
        """J, one for all chains or one per chain."""

    @property
    def field(self) -> float:
        """h."""

    @property
    def initial(self) -> str | Sequence[str]:
        """Initial state of every chain, or one per chain."""

    @property
    def n_chains(self) -> int:
        """Number of chains."""

    @property
    def spins(self) -> NDArray[np.int8]:
        """Configurations, shape (n_chains, L) or (n_chains, L, L)."""


@dataclass(frozen=True)
class ExactDistributions:
    """Exact distributions of the energy and magnetization per spin of a small lattice.

    Attributes
    ----------
    energy_levels, energy_probabilities : ndarray
        Distinct energies per spin (ascending) and their Boltzmann probabilities.
    magnetization_levels, magnetization_probabilities : ndarray
        Distinct magnetizations per spin (ascending) and their probabilities.
    mean_energy, specific_heat : float
        <E>/N and C/N = N var(e) / T**2 of the same distribution.
    """

    energy_levels: NDArray[np.float64]
    energy_probabilities: NDArray[np.float64]
    magnetization_levels: NDArray[np.float64]
    magnetization_probabilities: NDArray[np.float64]
    mean_energy: float
    specific_heat: float


@dataclass(frozen=True)
class TestResult:
    """Outcome of one statistical check.

    Attributes
    ----------
    statistic : float
        The test statistic (F for :func:`histogram_test`, the estimate for the others).
    p_value : float
        Probability of a statistic at least this extreme for a correct sampler.
    z : float
        Standard-normal equivalent (signed for :func:`mean_test`/:func:`variance_test`,
        ``Phi^-1(1 - p)`` for :func:`histogram_test`).
    estimate, error : float
        The chain's estimate and its batch-means standard error (NaN for histograms).
    """

    statistic: float
    p_value: float
    z: float
    estimate: float = float("nan")
    error: float = float("nan")

    def passed(self, alpha: float) -> bool:
        """True when the check does not reject at level ``alpha``."""
        return bool(self.p_value >= alpha)


def _all_configurations(n: int) -> NDArray[np.int8]:
    """All 2**n configurations of n spins as int8 in {-1, +1}, shape (2**n, n)."""
    codes = np.arange(1 << n, dtype=np.int64)
    bits = (codes[:, np.newaxis] >> np.arange(n, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int8)


def _distribution(values: NDArray[np.float64], weights: NDArray[np.float64], decimals: int = 12
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    keys = np.round(values, decimals)
    levels, inverse = np.unique(keys, return_inverse=True)
    # float64 (weighted counts); numpy's stub types bincount as intp even with weights
    probs: NDArray[np.float64] = np.bincount(  # type: ignore[assignment]
        inverse, weights=weights, minlength=levels.size)
    return levels, probs


def exact_distributions(dimension: int, size: int, temperature: float, coupling: float = 1.0,
                        field: float = 0.0) -> ExactDistributions:
    """Exact distributions of energy and magnetization per spin, by enumeration.

    Parameters
    ----------
    dimension : {1, 2}
    size : int
        Linear size L of the periodic lattice; L**dimension <= :data:`MAX_ENUMERATED_SPINS`.
    temperature, coupling, field : float
        T > 0, J and h of H = -J sum_<ij> s_i s_j - h sum_i s_i (docs/CONTRACTS.md), with the
        same bond counting as :func:`ising.lattice.energy_per_spin` (on L = 2 each pair of
        neighbours is joined by two bonds).

    Returns
    -------
    ExactDistributions
    """
    dimension = check_dimension(dimension)
    n = int(size) ** dimension
    if n > MAX_ENUMERATED_SPINS:
        raise ValueError(f"{n} spins is too many to enumerate (at most {MAX_ENUMERATED_SPINS})")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    configs = _all_configurations(n).reshape((-1,) + lattice_shape(size, dimension))
    e = energy_per_spin(configs, coupling, field, dimension)
    m = magnetization_per_spin(configs, dimension)
    log_w = -n * e / temperature
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    e_levels, e_probs = _distribution(e, w)
    m_levels, m_probs = _distribution(m, w)
    mean_e = float(np.dot(w, e))
    var_e = float(np.dot(w, (e - mean_e) ** 2))
    return ExactDistributions(e_levels, e_probs, m_levels, m_probs, mean_e,
                              n * var_e / temperature ** 2)


def _merge_rare(probabilities: NDArray[np.float64], min_probability: float) -> NDArray[np.int64]:
    """Group adjacent levels (in ascending order) until each group has at least
    ``min_probability``; returns the group index of every level."""
    groups = np.empty(probabilities.size, dtype=np.int64)
    g, acc = 0, 0.0
    for i, p in enumerate(probabilities):
        groups[i] = g
        acc += p
        if acc >= min_probability:
            g += 1
            acc = 0.0
    if acc > 0.0 and g > 0:  # a light tail joins the last complete group
        groups[groups == g] = g - 1
    return groups


def _batches(x: ArrayLike, n_batches: int) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected one chain (a 1D series), got shape {x.shape}")
    if int(n_batches) != n_batches or n_batches < 4:
        raise ValueError(f"n_batches must be an integer >= 4, got {n_batches}")
    length = x.size // int(n_batches)
    if length < 1:
        raise ValueError(f"a series of {x.size} samples cannot be cut into {n_batches} batches")
    return x[:length * int(n_batches)].reshape(int(n_batches), length)


def histogram_test(samples: ArrayLike, levels: ArrayLike, probabilities: ArrayLike, *, n_batches: int = 40,
                   min_probability: float = 0.02) -> TestResult:
    """Batch-means Hotelling T**2 test of one chain's histogram against exact probabilities.

    Levels are grouped (adjacent, ascending) until each group has exact probability at least
    ``min_probability``; the chain is cut into ``n_batches`` consecutive batches, and the mean
    over batches of the group frequencies (d = groups - 1 of them) is compared with the exact
    probabilities through T**2 = B (f - p)' S**-1 (f - p), S the covariance of the batch
    frequencies. For batches much longer than the autocorrelation time,
    (B - d) / (d (B - 1)) T**2 follows F(d, B - d) (Hotelling 1931).

    Parameters
    ----------
    samples : array_like, shape (n,)
        One chain's series (energies or magnetizations per spin, in time order).
    levels, probabilities : array_like
        The exact distribution (:func:`exact_distributions`). A sample that matches no level
        (to 1e-9) fails the test outright (p = 0).
    n_batches : int, default 40
        B; must exceed the number of groups.
    min_probability : float, default 0.02

    Returns
    -------
    TestResult
        ``statistic`` is the F value, ``z`` = Phi^-1(1 - p).
    """
    levels = np.asarray(levels, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)
    batches = _batches(samples, n_batches)
    idx = np.searchsorted(levels, batches.ravel() - 1e-9)
    idx = np.minimum(idx, levels.size - 1)
    if not np.all(np.abs(levels[idx] - batches.ravel()) < 1e-9):
        return TestResult(float("inf"), 0.0, float("inf"))
    groups = _merge_rare(probs, min_probability)
    k = int(groups.max()) + 1
    if k < 2:
        return TestResult(0.0, 1.0, -float("inf"))
    p_group = np.bincount(groups, weights=probs, minlength=k)
    B = batches.shape[0]
    d = k - 1
    if B <= d + 1:
        raise ValueError(f"n_batches = {B} must exceed the number of groups + 1 = {k + 1}")
    g = groups[idx].reshape(batches.shape)
    freq = np.stack([(g == j).mean(axis=1) for j in range(d)], axis=1)  # (B, d)
    diff = freq.mean(axis=0) - p_group[:d]
    cov = np.cov(freq, rowvar=False).reshape(d, d)
    # a group that never varies between batches (e.g. never visited) has zero variance; if its
    # frequency differs from its probability the chain is plainly wrong
    var = np.diag(cov)
    flat = var <= 1e-15
    if np.any(flat & (np.abs(diff) > 0)):
        return TestResult(float("inf"), 0.0, float("inf"))
    keep = ~flat
    d_eff = int(keep.sum())
    if d_eff == 0:
        return TestResult(0.0, 1.0, -float("inf"))
    diff, cov = diff[keep], cov[np.ix_(keep, keep)]
    t2 = float(B * diff @ np.linalg.solve(cov, diff))
    f = (B - d_eff) / (d_eff * (B - 1)) * t2
    p = float(stats.f.sf(f, d_eff, B - d_eff))
    return TestResult(f, p, float(stats.norm.isf(max(p, 1e-300))))


def _t_to_z(t: float, dof: int) -> tuple[float, float]:
    """Two-sided p-value of a t statistic and the standard-normal z with the same tail."""
    p = float(2 * stats.t.sf(abs(t), dof))
    z = float(math.copysign(stats.norm.isf(max(p / 2, 1e-300)), t)) if t != 0 else 0.0
    return p, z


def mean_test(samples: ArrayLike, exact: float, *, n_batches: int = 40) -> TestResult:
    """Compare one chain's mean with an exact value (batch means, Student t with B - 1 dof).

    Parameters
    ----------
    samples : array_like, shape (n,)
    exact : float
    n_batches : int, default 40

    Returns
    -------
    TestResult
        ``statistic`` and ``estimate``: the chain's mean; ``error``: its batch-means standard
        error; ``z``: the signed standard-normal equivalent of t = (mean - exact) / error.
    """
    means = _batches(samples, n_batches).mean(axis=1)
    B = means.size
    mean = float(means.mean())
    err = float(means.std(ddof=1) / math.sqrt(B))
    if err == 0.0:
        same = math.isclose(mean, exact, rel_tol=0, abs_tol=1e-12)
        return TestResult(mean, 1.0 if same else 0.0, 0.0 if same else math.inf, mean, err)
    p, z = _t_to_z((mean - exact) / err, B - 1)
    return TestResult(mean, p, z, mean, err)


def variance_test(samples: ArrayLike, exact: float, scale: float = 1.0, *, n_batches: int = 40) -> TestResult:
    """Compare ``scale * var(x)`` of one chain (e.g. C/N = N var(e) / T**2) with an exact value.

    The error is the delete-one-batch jackknife over ``n_batches`` batches
    (:func:`ising.observables.jackknife`), the statistic treated as Student t with B - 1 dof.
    """
    x = np.asarray(samples, dtype=np.float64)
    batches = _batches(x, n_batches)
    flat = batches.ravel()
    value, err = jackknife(lambda a, b: scale * (b - a * a), flat, flat * flat,
                           n_blocks=batches.shape[0])
    if err == 0.0:
        same = math.isclose(value, exact, rel_tol=0, abs_tol=1e-12)
        return TestResult(value, 1.0 if same else 0.0, 0.0 if same else math.inf, value, err)
    p, z = _t_to_z((value - exact) / err, batches.shape[0] - 1)
    return TestResult(value, p, z, value, err)


def zscore_rms_interval(n: int, alpha: float = 1e-3) -> tuple[float, float]:
    """Two-sided acceptance interval of the rms of ``n`` independent standard-normal z-scores.

    n * rms**2 is chi-square with n degrees of freedom, so the interval
    [sqrt(chi2_{alpha/2}(n) / n), sqrt(chi2_{1 - alpha/2}(n) / n)] has false-alarm rate
    ``alpha``.
    """
    if n < 1:
        raise ValueError("need at least one z-score")
    lo = math.sqrt(stats.chi2.ppf(alpha / 2, n) / n)
    hi = math.sqrt(stats.chi2.isf(alpha / 2, n) / n)
    return lo, hi


# ----------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class Check:
    """One check of one chain: ``quantity`` ("E hist", "M hist", "<E>", "C", "G(r)" ...)."""

    chain: int
    initial: str
    quantity: str
    exact: float
    result: TestResult


@dataclass(frozen=True)
class PointReport:
    """All checks of one simulation point, and R-hat of the energy across its chains."""

    label: str
    checks: tuple[Check, ...]
    rhat_energy: float
    rhat_abs_magnetization: float
    tau_int: float

    def failures(self, alpha: float) -> list[Check | str]:
        """The checks that reject at level ``alpha``, plus an "R-hat" entry when it fails."""
        bad: list[Check | str] = [c for c in self.checks if not c.result.passed(alpha)]
        return bad + (["R-hat"] if self.rhat_energy > RHAT_THRESHOLD
                      or self.rhat_abs_magnetization > RHAT_THRESHOLD else [])

    def zscores(self, quantity: str = "<E>/N") -> NDArray[np.float64]:
        """Signed z-scores of one check per chain (default <E>/N): independent across chains
        and points, so their squares add up to a chi-square variable (the rms aggregate)."""
        return np.array([c.result.z for c in self.checks if c.quantity == quantity])


def record(sampler: ValidatedSampler, n_samples: int, *, burn_in: int, thin: int = 1,
           correlations: Sequence[int] = ()) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Sweep ``sampler`` and record per-chain series of energy and magnetization per spin.

    Parameters
    ----------
    sampler : ValidatedSampler
        MonteCarloSampler-like: anything with ``sweep(n)``, ``energy()``, ``magnetization()``,
        ``spins`` and ``n_chains`` (:func:`validate_point` reads the other attributes).
    n_samples, burn_in, thin : int
        Samples per chain, sweeps discarded first, sweeps between samples.
    correlations : sequence of int
        1D only: distances r of G(r) = (1/N) sum_i s_i s_{i+r} to record as well.

    Returns
    -------
    energy, magnetization : ndarray (n_chains, n_samples)
    corr : ndarray (len(correlations), n_chains, n_samples)
    """
    sampler.sweep(burn_in)
    c = sampler.n_chains
    e = np.empty((c, n_samples))
    m = np.empty((c, n_samples))
    g = np.empty((len(correlations), c, n_samples))
    for k in range(n_samples):
        sampler.sweep(thin)
        e[:, k] = sampler.energy()
        m[:, k] = sampler.magnetization()
        if len(correlations):
            s = sampler.spins.astype(np.int64)
            for i, r in enumerate(correlations):
                g[i, :, k] = (s * np.roll(s, -int(r), axis=-1)).mean(axis=-1)
    return e, m, g


def exact_reference(dimension: int, size: int, temperature: float, coupling: float = 1.0,
                    field: float = 0.0) -> tuple[float, float, ExactDistributions | None]:
    """Exact <E>/N, C/N and (when enumerable) the distributions of a periodic lattice.

    1D: transfer matrix (:mod:`ising.exact`); 2D: enumeration for N <=
    :data:`MAX_ENUMERATED_SPINS`, otherwise Kaufman's finite-lattice result (h = 0, even L; for
    J < 0 the gauge transformation s -> (-1)**(i+j) s maps the lattice onto J > 0 with the
    same energies).

    Returns
    -------
    mean_energy, specific_heat : float
    distributions : ExactDistributions or None
    """
    dist = None
    if size ** dimension <= MAX_ENUMERATED_SPINS:
        dist = exact_distributions(dimension, size, temperature, coupling, field)
    if dimension == 1:
        e = float(exact.energy_per_spin_1d(size, temperature, coupling, field))
        c = float(exact.specific_heat_per_spin_1d(size, temperature, coupling, field))
    elif dist is not None:
        e, c = dist.mean_energy, dist.specific_heat
    else:
        if field != 0.0 or size % 2 or coupling == 0.0:
            raise ValueError("no exact 2D result for h != 0, odd L or J = 0 beyond enumeration")
        e = float(exact.energy_per_spin_2d(size, size, temperature, abs(coupling)))
        c = float(exact.specific_heat_per_spin_2d(size, size, temperature, abs(coupling)))
    return e, c, dist


def validate_point(sampler: ValidatedSampler, *, n_samples: int, burn_in: int, thin: int = 1,
                   n_batches: int = 40, correlations: Sequence[int] = (),
                   label: str = "") -> PointReport:
    """Run every check of :mod:`ising.validation` on each chain of ``sampler``.

    Per chain: the histograms of the energy and of the magnetization (|M| at h = 0, whose sign
    tunnels slowly at low T; M in a field) against enumeration (when the lattice is small
    enough), <E>/N and C/N against the exact values, and (1D, h = 0) the correlation
    function G(r) at the requested distances against the transfer matrix. Across chains:
    R-hat of E and |M| (threshold :data:`RHAT_THRESHOLD`), among the chains of each
    (temperature, coupling), the largest value reported.

    Parameters
    ----------
    sampler : ValidatedSampler
        MonteCarloSampler-like; must expose ``dimension``, ``size``, ``temperature``, ``coupling``, ``field``,
        ``initial`` besides the interface of :func:`record`. ``temperature`` and ``coupling``
        may be per-chain arrays (shape (n_chains,), e.g.
        :class:`ising.multispin.MultiSpinMetropolis` with per-lane temperatures): every chain
        is then judged against the exact values at its own T and J.
    n_samples, burn_in, thin : int
        See :func:`record`; choose ``n_samples * thin`` much longer than tau_int x n_batches.
    n_batches : int, default 40
    correlations : sequence of int
    label : str

    Returns
    -------
    PointReport
    """
    d, L, h = sampler.dimension, sampler.size, sampler.field
    n_chains = sampler.n_chains
    temps = np.broadcast_to(np.asarray(sampler.temperature, dtype=np.float64), (n_chains,))
    couplings = np.broadcast_to(np.asarray(sampler.coupling, dtype=np.float64), (n_chains,))
    if correlations and (d != 1 or h != 0.0):
        raise ValueError("correlation checks are available in 1D at h = 0")
    points = sorted(set(zip(temps.tolist(), couplings.tolist())))
    refs = {p: exact_reference(d, L, p[0], p[1], h) for p in points}
    e, m, g = record(sampler, n_samples, burn_in=burn_in, thin=thin, correlations=correlations)
    starts = sampler.initial
    starts = [starts] * n_chains if isinstance(starts, str) else list(starts)
    checks = []
    for k in range(n_chains):
        point = (float(temps[k]), float(couplings[k]))
        checks += _chain_checks(k, starts[k], refs[point], point, e[k], m[k], g[:, k],
                                dimension=d, size=L, field=h, correlations=correlations,
                                n_batches=n_batches)
    members = [[k for k in range(n_chains) if (temps[k], couplings[k]) == p] for p in points]
    rhat_e = max(_rhat(e[idx]) for idx in members)
    rhat_m = max(_rhat(np.abs(m[idx])) for idx in members)
    tau = float(integrated_autocorr_time(e)[0]) * thin
    return PointReport(label, tuple(checks), rhat_e, rhat_m, tau)


def _chain_checks(k: int, start: str, reference: tuple[float, float, ExactDistributions | None],
                  point: tuple[float, float], e: NDArray[np.float64], m: NDArray[np.float64], g: NDArray[np.float64], *,
                  dimension: int, size: int, field: float, correlations: Sequence[int],
                  n_batches: int) -> list[Check]:
    """The checks of one chain (series e, m, g) against the exact ``reference`` at ``point``."""
    (T, J), h, n = point, field, size ** dimension
    e_exact, c_exact, dist = reference
    checks = []

    def add(quantity: str, value: float, result: TestResult) -> None:
        checks.append(Check(k, start, quantity, value, result))

    # at h = 0 the sign of M tunnels slowly at low T (a correct but slow chain would fail a
    # signed histogram in a finite run): compare |M| there, the signed M in a field
    m_name, m_series = ("M", m) if h != 0.0 else ("|M|", np.abs(m))
    if dist is not None:
        m_levels, m_probs = dist.magnetization_levels, dist.magnetization_probabilities
        if h == 0.0:
            m_levels, m_probs = _distribution(np.abs(m_levels), m_probs)
        add("E hist", float("nan"), histogram_test(e, dist.energy_levels,
                                                   dist.energy_probabilities, n_batches=n_batches))
        add(m_name + " hist", float("nan"), histogram_test(m_series, m_levels, m_probs,
                                                           n_batches=n_batches))
    add("<E>/N", e_exact, mean_test(e, e_exact, n_batches=n_batches))
    add("C/N", c_exact, variance_test(e, c_exact, n / T ** 2, n_batches=n_batches))
    for i, r in enumerate(correlations):
        g_exact = float(exact.correlation_1d(size, T, int(r), J))
        add(f"G({int(r)})", g_exact, mean_test(g[i], g_exact, n_batches=n_batches))
    return checks


def cross_chain_correlation_test(series: ArrayLike) -> TestResult:
    """Test that chains are uncorrelated with each other, from their time series.

    Each chain's series is standardised (its own mean and standard deviation, so chains at
    different temperatures compare); for R independent chains the variance of the
    chain-averaged standardised series is 1 / R, and with pairwise correlation rho it is
    (1 + (R - 1) rho) / R. The statistic is q = R mean_t(y_t), y_t = (mean_r x_r(t) - its
    time average)**2, i.e. R times the variance of the averaged series, which is 1 for
    independent chains. Its standard error is R sqrt(var(y) 2 tau_y / n), with tau_y the
    integrated autocorrelation time of y (:func:`ising.observables.integrated_autocorr_time`):
    the batch-means error of a time average, with no assumption on the distribution of x.
    Chains that share random numbers (e.g. one uniform for all lanes of a multi-spin word)
    give q well above 1. The normal p-value is slightly conservative (on independent AR(1)
    chains, 16-64 of them with 500-2000 samples: 0.2-0.6 % below p = 0.01, 7-9 % below
    p = 0.1; tests/test_validation.py).

    Parameters
    ----------
    series : array_like, shape (n_chains, n_samples)
        One observable per chain (e.g. the energy), in time order. Frozen chains (zero
        variance) are left out; at least two others are needed.

    Returns
    -------
    TestResult
        ``statistic`` and ``estimate`` q, ``error`` its standard error, ``z`` =
        (q - 1) / error (one-sided: positive correlation raises it) and ``p_value`` the
        normal tail above z.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"series must have shape (n_chains, n_samples), got {x.shape}")
    sd = x.std(axis=1)
    x = x[sd > 0]
    if x.shape[0] < 2:
        raise ValueError("need at least two chains whose series vary")
    z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    mean = z.mean(axis=0)
    y = (mean - mean.mean()) ** 2
    R, n = x.shape
    q = float(R * y.mean())
    tau = float(integrated_autocorr_time(y, 5.0)[0]) if np.ptp(y) > 0 else 0.5
    error = R * math.sqrt(y.var() * 2.0 * tau / n)
    score = (q - 1.0) / error
    return TestResult(q, float(stats.norm.sf(score)), score, q, error)


def _rhat(x: NDArray[np.float64]) -> float:
    if x.shape[0] < 2:
        return 1.0
    if np.all(x == x[:, :1]):  # every chain frozen (a ground state at low T)
        return 1.0 if np.all(x == x[0, 0]) else float("inf")
    return gelman_rubin(x)

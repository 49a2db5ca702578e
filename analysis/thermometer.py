"""A Monte Carlo-calibrated thermometer for 2D Ising-like configurations.

Iso, Shiba & Yokoo (PRE 97, 053304 (2018)) read the temperature of RBM-flow configurations with
a neural network trained, supervised, on Monte Carlo configurations labelled by temperature.
This module builds such a thermometer without assuming what it should read on the flow:

1. **Features** of each configuration (:func:`configuration_features`): the nearest-neighbour
   correlation ``c1 = <s_i s_{i+x}>`` (so the Ising energy per spin is ``e = -2 J c1``), the
   diagonal ``c_d = <s_i s_{i+x+y}>`` and distance-2 ``c2 = <s_i s_{i+2x}>`` correlations,
   ``|m|`` and ``m^2``, averaged over the sites and both lattice directions (periodic).
   They are defined for real-valued "spins" in [-1, 1] as well (mean-field flows).
2. **Classifier**: quadratic discriminant analysis (scikit-learn; a Gaussian model of the
   standardised features at each temperature of the training grid, covariances shrunk towards
   the identity by ``regularization``, uniform prior over the grid). Its per-configuration
   reading is the posterior mean ``T_hat(x) = sum_k p(T_k|x) T_k``. (A multinomial logistic
   regression on the same features reads the same temperatures but trains ~1000x slower.)
3. **Calibration**: ``T_hat`` regresses towards the middle of the grid, so the reading of an
   *ensemble* is the mean of ``T_hat`` mapped through the inverse of the calibration curve
   ``g(T_k) = E[T_hat | T_k]``, measured on a held-out part of the labelled Monte Carlo data
   (interpolated linearly between grid temperatures). ``g`` must increase: a curve that
   decreases significantly or hardly rises (e.g. a thermometer trained on mislabelled data) is
   refused; small non-significant wiggles are removed by isotonic regression, and grid
   temperatures the features cannot tell apart (the lowest ones on a small lattice, where every
   configuration is a ground state) are merged.
4. **Errors**: bootstrap over the configurations of the ensemble (the configurations are
   treated as independent, as they are for decorrelated Monte Carlo samples and for
   independent flow chains), combined in quadrature with the calibration curve's own
   statistical error propagated through the slope of its inverse.

The thermometer is validated on independent Monte Carlo samples at known temperatures, on and
off the training grid (:meth:`Thermometer.validate`; tests/test_iso_flow.py). Readings outside
the calibrated range ``[g(T_min), g(T_max)]`` are clipped to the range's ends and flagged.

References
----------
S. Iso, S. Shiba and S. Yokoo, "Scale-invariant feature extraction of neural network and
renormalization group flow", Phys. Rev. E 97, 053304 (2018).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm.hyperparams import check_seed

__all__ = ["FEATURE_NAMES", "configuration_features", "Thermometer", "Reading"]

#: Columns of :func:`configuration_features`.
FEATURE_NAMES = ("c1", "c_diag", "c2", "abs_m", "m2")


def configuration_features(spins: npt.ArrayLike) -> NDArray[np.float64]:
    """Per-configuration features of periodic 2D configurations.

    Parameters
    ----------
    spins : array_like (n, L, L)
        Spins in {-1, +1} or real values in [-1, 1] (e.g. conditional means of an RBM flow).

    Returns
    -------
    ndarray (n, 5), float64
        Columns :data:`FEATURE_NAMES`: nearest-neighbour, diagonal and distance-2 correlations
        (averaged over sites and both directions), ``|m|`` and ``m^2``. For spins, the Ising
        energy per spin is ``-2 J c1`` (docs/CONTRACTS.md, H = -J sum_<ij> s_i s_j).
    """
    s = np.asarray(spins, dtype=np.float64)
    if s.ndim != 3 or s.shape[1] != s.shape[2] or s.shape[1] < 3 or s.shape[0] == 0:
        raise ValueError(f"spins must have shape (n, L, L) with L >= 3 and n >= 1, got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(np.abs(s) > 1.0):
        raise ValueError("spins must be finite and lie in [-1, 1]")
    axes = (1, 2)
    c1 = 0.5 * ((s * np.roll(s, 1, axis=1)).mean(axis=axes)
                + (s * np.roll(s, 1, axis=2)).mean(axis=axes))
    c_diag = 0.5 * ((s * np.roll(np.roll(s, 1, axis=1), 1, axis=2)).mean(axis=axes)
                    + (s * np.roll(np.roll(s, 1, axis=1), -1, axis=2)).mean(axis=axes))
    c2 = 0.5 * ((s * np.roll(s, 2, axis=1)).mean(axis=axes)
                + (s * np.roll(s, 2, axis=2)).mean(axis=axes))
    m = s.mean(axis=axes)
    return np.column_stack([c1, c_diag, c2, np.abs(m), m * m])


@dataclass(frozen=True)
class Reading:
    """An ensemble temperature reading with its bootstrap standard error.

    ``in_range`` is False when the raw mean reading fell outside the calibrated range and was
    clipped to its end (the value is then a bound, not a measurement)."""

    value: float
    error: float
    in_range: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``value``, ``error``, ``in_range``."""
        return {"value": float(self.value), "error": float(self.error),
                "in_range": bool(self.in_range)}


class Thermometer:
    """Temperature classifier trained and calibrated on labelled Monte Carlo configurations.

    Parameters
    ----------
    calibration_fraction : float, default 0.3
        Share of each temperature's configurations held out for the calibration curve.
    regularization : float, default 0.01
        Shrinkage of the class covariances towards the identity (``reg_param`` of
        :class:`sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis`), in (0, 1).
    random_state : int, optional
        Seed of the train/calibration split (the fit itself is deterministic).

    Attributes
    ----------
    temperatures_ : ndarray (n_T,)
        The training grid (sorted).
    calibration_ : ndarray (n_T,)
        ``g(T_k)``: mean posterior-mean reading of the held-out configurations at ``T_k``.
    calibration_error_ : ndarray (n_T,)
        Standard errors of ``calibration_``.
    """

    def __init__(self, *, calibration_fraction: float = 0.3, regularization: float = 0.01,
                 random_state: int | None = None) -> None:
        self.calibration_fraction = calibration_fraction
        self.regularization = regularization
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------
    def _design(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        return (features - self.mean_) / self.scale_

    def fit(self, spins: npt.ArrayLike, temperatures: npt.ArrayLike) -> Thermometer:
        """Train the classifier and measure its calibration curve.

        Parameters
        ----------
        spins : array_like (n, L, L)
            Labelled configurations.
        temperatures : array_like (n,)
            The temperature label of every configuration (at least 3 distinct values, each with
            at least 10 configurations).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad input, or a calibration curve that decreases significantly or hardly rises with
            temperature (the labels do not carry temperature information the features can read).
        """
        from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

        frac = float(self.calibration_fraction)
        if not 0.05 <= frac <= 0.95:
            raise ValueError(f"calibration_fraction must be in [0.05, 0.95], got {frac}")
        c = float(self.regularization)
        if not 0 < c < 1:
            raise ValueError(f"regularization must be in (0, 1), got {c}")
        seed = check_seed(self.random_state)
        features = configuration_features(spins)
        labels = np.asarray(temperatures, dtype=np.float64)
        if labels.shape != (features.shape[0],) or not np.all(np.isfinite(labels)) \
                or np.any(labels <= 0):
            raise ValueError("temperatures must be one positive finite label per configuration")
        grid, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if grid.size < 3 or counts.min() < 10:
            raise ValueError("the thermometer needs >= 3 temperatures with >= 10 configurations each")
        rng = np.random.default_rng(seed)
        calib = np.zeros(labels.size, dtype=bool)
        for k in range(grid.size):
            rows = np.flatnonzero(index == k)
            n_cal = max(2, int(round(frac * rows.size)))
            calib[rng.choice(rows, size=n_cal, replace=False)] = True
        train = ~calib
        self.mean_ = features[train].mean(axis=0)
        self.scale_ = features[train].std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        model = QuadraticDiscriminantAnalysis(priors=np.full(grid.size, 1.0 / grid.size),
                                              reg_param=c)
        model.fit(self._design(features[train]), index[train])
        self.classifier_ = model
        self.temperatures_ = grid
        reading = self._posterior_mean(features[calib])
        cal_index = index[calib]
        self.calibration_ = np.array([reading[cal_index == k].mean() for k in range(grid.size)])
        self.calibration_error_ = np.array(
            [reading[cal_index == k].std(ddof=1) / np.sqrt(np.sum(cal_index == k))
             for k in range(grid.size)])
        self._make_inverse()
        return self

    def _make_inverse(self) -> None:
        """Check the calibration curve and build its monotone inverse.

        A curve with a significant decrease (by more than ``4`` combined standard errors between
        neighbouring grid temperatures) or a total rise below half the grid's span is refused.
        Otherwise it is made non-decreasing by weighted isotonic regression; grid temperatures
        whose readings then coincide (e.g. the lowest ones on a small lattice, where every
        configuration is a ground state) are merged into one point at their mean temperature.
        """
        from sklearn.isotonic import IsotonicRegression

        g, err, grid = self.calibration_, self.calibration_error_, self.temperatures_
        sigma = np.hypot(err[1:], err[:-1])
        drop = np.diff(g) < -4.0 * sigma - 1e-12
        if np.any(drop):
            bad = int(np.flatnonzero(drop)[0])
            raise ValueError(
                "thermometer calibration curve decreases significantly between T = "
                f"{grid[bad]:g} and {grid[bad + 1]:g}: the labels do not match what the features "
                "measure (mislabelled training data)")
        if g.max() - g.min() < 0.5 * (grid[-1] - grid[0]):
            raise ValueError(
                f"thermometer calibration curve rises by {g.max() - g.min():.3g} only over a grid "
                f"spanning {grid[-1] - grid[0]:g}: the labels carry no temperature information "
                "the features can read (mislabelled or uninformative training data)")
        weight = 1.0 / np.maximum(err, 1e-6) ** 2
        mono = IsotonicRegression(increasing=True).fit(grid, g, sample_weight=weight).predict(grid)
        values: list[float] = []
        temps: list[float] = []
        start = 0
        for k in range(1, grid.size + 1):
            if k == grid.size or mono[k] > mono[start] + 1e-12:
                values.append(mono[start])
                temps.append(grid[start:k].mean())
                start = k
        self.inverse_readings_ = np.array(values)
        self.inverse_temperatures_ = np.array(temps)

    def _check_fitted(self) -> None:
        if getattr(self, "classifier_", None) is None:
            raise ValueError("this Thermometer is not fitted yet; call fit() first")

    def _posterior_mean(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        proba = self.classifier_.predict_proba(self._design(features))
        return proba @ self.temperatures_[self.classifier_.classes_]

    def read_configurations(self, spins: npt.ArrayLike) -> NDArray[np.float64]:
        """Posterior-mean reading ``T_hat(x)`` of every configuration (uncalibrated), (n,)."""
        self._check_fitted()
        return self._posterior_mean(configuration_features(spins))

    def _invert(self, mean_reading: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                NDArray[np.bool_]]:
        g, t = self.inverse_readings_, self.inverse_temperatures_
        clipped = np.clip(mean_reading, g[0], g[-1])
        return np.interp(clipped, g, t), (mean_reading >= g[0]) & (mean_reading <= g[-1])

    def measure(self, spins: npt.ArrayLike, *, n_boot: int = 200, seed: int | None = 0) -> Reading:
        """Calibrated temperature of an ensemble of configurations.

        Parameters
        ----------
        spins : array_like (n, L, L)
            The ensemble (n >= 2); spins or real values in [-1, 1].
        n_boot : int, default 200
            Bootstrap resamples of the configurations for the standard error.
        seed : int, default 0
            Seed of the bootstrap.

        Returns
        -------
        Reading
            ``g^{-1}(mean T_hat)``; its error combines the bootstrap standard deviation of that
            value and the calibration error (see the module docstring).
        """
        readings = self.read_configurations(spins)
        return self._ensemble(readings, n_boot, seed)

    def _ensemble(self, readings: NDArray[np.float64], n_boot: int, seed: int | None) -> Reading:
        n_boot = int(n_boot)
        if n_boot < 2 or readings.size < 2:
            raise ValueError("measure needs >= 2 configurations and n_boot >= 2")
        rng = np.random.default_rng(check_seed(seed, "seed"))
        value, inside = self._invert(np.array([readings.mean()]))
        rows = rng.integers(0, readings.size, size=(n_boot, readings.size))
        boot, _ = self._invert(readings[rows].mean(axis=1))
        # the calibration curve's own statistical error, propagated with the inverse's slope
        t_inv, g_inv = self.inverse_temperatures_, self.inverse_readings_
        slope = np.gradient(t_inv, g_inv) if t_inv.size > 1 else np.zeros(1)
        sigma_g = np.interp(value[0], self.temperatures_, self.calibration_error_)
        calib = abs(float(np.interp(value[0], t_inv, slope))) * sigma_g
        error = float(np.hypot(boot.std(ddof=1), calib))
        return Reading(float(value[0]), error, bool(inside[0]))

    def validate(self, spins_by_temperature: Sequence[npt.ArrayLike], temperatures: Sequence[float],
                 *, n_boot: int = 200, seed: int | None = 0) -> list[dict[str, Any]]:
        """Readings of independent Monte Carlo ensembles at known temperatures.

        Parameters
        ----------
        spins_by_temperature : sequence of array_like (n_k, L, L)
        temperatures : sequence of float
            The true temperature of each ensemble.

        Returns
        -------
        list of dict
            ``{"T", "T_eff", "T_eff_err", "deviation", "z", "in_range"}`` per ensemble
            (``z = deviation / T_eff_err``).
        """
        if len(spins_by_temperature) != len(temperatures):
            raise ValueError("one temperature per ensemble is required")
        rows = []
        for k, (spins, t) in enumerate(zip(spins_by_temperature, temperatures)):
            r = self.measure(spins, n_boot=n_boot, seed=None if seed is None else seed + k)
            dev = r.value - float(t)
            rows.append({"T": float(t), "T_eff": r.value, "T_eff_err": r.error, "deviation": dev,
                         "z": dev / r.error if r.error > 0 else float("inf"),
                         "in_range": r.in_range})
        return rows

"""Binder-cumulant crossings for finite-size scaling (used and re-exported by :mod:`analysis.fss`).

* :class:`Curve` / :func:`curves_from_table` -- one observable against temperature per size,
  several seeds combined by inverse variance.
* :class:`LocalFit` -- a weighted local polynomial fit whose coefficients are linear in the
  data (so bootstrap replicates are refitted by one matrix product).
* :func:`binder_crossing` -- the Binder cumulant U_L(T) = 1 - <m^4> / (3 <m^2>^2) is, up to
  corrections to scaling, a function of (T - T_c) L^{1/nu} only, so the curves of different L
  cross at T_c (K. Binder, Z. Phys. B 43, 119 (1981)). Each curve is fitted locally by a
  weighted polynomial around the crossing; the crossing of consecutive sizes is the real root
  of the difference; the error bar is a parametric bootstrap over the per-point error bars.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Mapping

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

__all__ = ["Curve", "curves_from_table", "LocalFit", "PairCrossing", "CrossingResult",
           "binder_crossing"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Curve:
    """One observable against temperature at fixed size (sorted by temperature)."""

    size: int
    temperature: NDArray[np.float64]
    value: NDArray[np.float64]
    error: NDArray[np.float64]

    def __post_init__(self) -> None:
        t = np.asarray(self.temperature, dtype=np.float64)
        v = np.asarray(self.value, dtype=np.float64)
        e = np.asarray(self.error, dtype=np.float64)
        if not (t.ndim == v.ndim == e.ndim == 1 and t.shape == v.shape == e.shape):
            raise ValueError("temperature, value and error must be 1-d arrays of equal length")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v)) and np.all(np.isfinite(e))):
            raise ValueError(f"L={self.size}: non-finite temperatures, values or errors")
        if np.any(e <= 0):
            raise ValueError(f"L={self.size}: error bars must be > 0")
        order = np.argsort(t, kind="stable")
        if np.any(np.diff(t[order]) == 0):
            raise ValueError(f"L={self.size}: repeated temperatures (combine them first)")
        object.__setattr__(self, "temperature", t[order])
        object.__setattr__(self, "value", v[order])
        object.__setattr__(self, "error", e[order])


def curves_from_table(size: npt.ArrayLike, temperature: npt.ArrayLike, value: npt.ArrayLike,
                      error: npt.ArrayLike) -> dict[int, Curve]:
    """Group rows (one per sweep point) into one :class:`Curve` per size.

    Rows with the same (L, T) (several seeds) are combined by the inverse-variance weighted mean,
    error ``(sum 1/sigma_i^2)^(-1/2)``. Rows with a missing (NaN) value or error are dropped.

    Returns
    -------
    dict
        ``{L: Curve}``, sizes ascending.
    """
    size = np.asarray(size)
    temperature = np.asarray(temperature, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    error = np.asarray(error, dtype=np.float64)
    if not (size.shape == temperature.shape == value.shape == error.shape) or size.ndim != 1:
        raise ValueError("size, temperature, value and error must be 1-d arrays of equal length")
    keep = np.isfinite(value) & np.isfinite(error) & (error > 0)
    if np.any(~keep):
        logger.warning("curves_from_table: dropping %d rows without a finite value/error",
                       int(np.sum(~keep)))
    curves: dict[int, Curve] = {}
    for L in sorted(set(int(s) for s in size[keep])):
        rows = keep & (size == L)
        temps: list[float] = []
        vals: list[float] = []
        errs: list[float] = []
        for t in np.unique(temperature[rows]):
            sel = rows & (temperature == t)
            w = 1.0 / error[sel] ** 2
            temps.append(t)
            vals.append(float(np.sum(w * value[sel]) / np.sum(w)))
            errs.append(float(1.0 / math.sqrt(np.sum(w))))
        curves[L] = Curve(L, np.array(temps), np.array(vals), np.array(errs))
    if not curves:
        raise ValueError("no finished points with finite values")
    return curves


# --------------------------------------------------------------------------------------------
# Local weighted polynomial fits
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LocalFit:
    """Weighted least-squares polynomial in u = (T - center) / scale over a window of points."""

    center: float
    scale: float
    index: NDArray[np.intp]   # indices of the curve's points in the window
    projector: NDArray[np.float64]  # (deg+1, n_window): coefficients (ascending powers) = P @ y

    @classmethod
    def build(cls, curve: Curve, center: float, scale: float, window: int,
              degree: int) -> LocalFit:
        n = len(curve.temperature)
        k = min(window, n)
        nearest = np.argsort(np.abs(curve.temperature - center), kind="stable")[:k]
        index = np.sort(nearest)
        deg = min(degree, k - 1)
        u = (curve.temperature[index] - center) / scale
        w = 1.0 / curve.error[index]
        design = np.vander(u, deg + 1, increasing=True) * w[:, None]
        projector = np.linalg.pinv(design) * w[None, :]
        return cls(center, scale, index, projector)

    def coefficients(self, values: np.ndarray) -> np.ndarray:
        """Coefficients for values (n,) or replicates (B, n) of the whole curve."""
        return values[..., self.index] @ self.projector.T


def _poly_eval(coef: np.ndarray, u: np.ndarray | float) -> np.ndarray:
    return np.polynomial.polynomial.polyval(u, coef)


def _crude_crossing(a: Curve, b: Curve) -> float:
    """Crossing of piecewise-linear interpolants; the most significant sign change."""
    lo = max(a.temperature[0], b.temperature[0])
    hi = min(a.temperature[-1], b.temperature[-1])
    grid = np.union1d(a.temperature, b.temperature)
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) < 2:
        raise ValueError(f"Binder curves of L={a.size} and L={b.size} share no temperature "
                         "range")
    diff = np.interp(grid, a.temperature, a.value) - np.interp(grid, b.temperature, b.value)
    sigma = np.hypot(np.interp(grid, a.temperature, a.error),
                     np.interp(grid, b.temperature, b.error))
    best, best_score = None, -np.inf
    for i in range(len(grid) - 1):
        d0, d1 = diff[i], diff[i + 1]
        if d0 == 0.0:
            root = grid[i]
        elif d0 * d1 < 0:
            root = grid[i] - d0 * (grid[i + 1] - grid[i]) / (d1 - d0)
        else:
            continue
        score = abs(d1 - d0) / max(sigma[i] + sigma[i + 1], 1e-300)
        if score > best_score:
            best, best_score = root, score
    if best is None:
        raise ValueError(f"Binder curves of L={a.size} and L={b.size} do not cross in the "
                         f"sampled range {lo:g}..{hi:g}")
    return float(best)


def _pair_roots(ca: np.ndarray, cb: np.ndarray, u_lo: float, u_hi: float) -> np.ndarray:
    """Root closest to u = 0 of poly(ca) - poly(cb) in [u_lo, u_hi], per replicate (NaN: none)."""
    ca = np.atleast_2d(ca)
    cb = np.atleast_2d(cb)
    n = max(ca.shape[1], cb.shape[1])
    diff = np.zeros((max(len(ca), len(cb)), n))
    diff[:, :ca.shape[1]] += ca
    diff[:, :cb.shape[1]] -= cb
    out = np.full(len(diff), np.nan)
    for r, c in enumerate(diff):
        c = np.trim_zeros(c, "b")
        if len(c) < 2:
            continue
        roots = np.polynomial.polynomial.polyroots(c)
        real = roots[np.abs(roots.imag) < 1e-9].real
        real = real[(real >= u_lo) & (real <= u_hi)]
        if len(real):
            out[r] = real[np.argmin(np.abs(real))]
    return out


# --------------------------------------------------------------------------------------------
# Binder crossing
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PairCrossing:
    """Crossing of the Binder curves of two sizes."""

    sizes: tuple[int, int]
    temperature: float
    error: float
    binder: float
    binder_error: float
    valid_fraction: float  # bootstrap replicates that crossed inside the fit window


@dataclasses.dataclass(frozen=True)
class CrossingResult:
    """T_c from Binder crossings of consecutive sizes.

    ``temperature``/``error`` follow ``method``: ``"largest"`` -- the crossing of the two
    largest sizes (smallest correction to scaling), ``"weighted"`` -- the inverse-variance mean
    of all consecutive-size crossings. Both are always available as ``largest`` and
    ``weighted`` (value, error) pairs.
    """

    temperature: float
    error: float
    method: str
    largest: tuple[float, float]
    weighted: tuple[float, float]
    pairs: tuple[PairCrossing, ...]
    # {(La, Lb): {La: (center, scale, index, coef), Lb: ..., "range": (lo, hi)}}
    fits: dict[tuple[int, int], dict[Any, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record: the estimate, both (value, error) pairs and every pair crossing."""
        return {"temperature": self.temperature, "error": self.error, "method": self.method,
                "largest_pair": {"value": self.largest[0], "error": self.largest[1]},
                "weighted_mean": {"value": self.weighted[0], "error": self.weighted[1]},
                "pairs": [dataclasses.asdict(p) for p in self.pairs]}


def _pair_crossing(a: Curve, b: Curve, reps_a: np.ndarray, reps_b: np.ndarray, window: int,
                   degree: int) -> tuple[PairCrossing, NDArray[np.float64], dict[Any, Any]]:
    """Crossing of two Binder curves: (PairCrossing, bootstrap temperatures, fit record).

    See :func:`binder_crossing`; ``reps_a``/``reps_b`` are the bootstrap replicates (B, n).
    """
    la, lb = a.size, b.size
    t0 = _crude_crossing(a, b)
    span = max(a.temperature[-1] - a.temperature[0], b.temperature[-1] - b.temperature[0])
    scale = span / 2 if span > 0 else 1.0
    fa = LocalFit.build(a, t0, scale, window, degree)
    fb = LocalFit.build(b, t0, scale, window, degree)
    lo = max(a.temperature[fa.index[0]], b.temperature[fb.index[0]])
    hi = min(a.temperature[fa.index[-1]], b.temperature[fb.index[-1]])
    u_lo, u_hi = (lo - t0) / scale, (hi - t0) / scale
    ca, cb = fa.coefficients(a.value), fb.coefficients(b.value)
    root = _pair_roots(ca, cb, u_lo, u_hi)[0]
    if not np.isfinite(root):
        raise ValueError(f"Binder curves of L={la} and L={lb}: fitted curves do not cross "
                         "inside the fit window")
    roots = _pair_roots(fa.coefficients(reps_a), fb.coefficients(reps_b), u_lo, u_hi)
    ok = np.isfinite(roots)
    frac = float(np.mean(ok))
    if frac < 0.9:
        logger.warning("Binder crossing L=%d/%d: only %.0f%% of bootstrap replicates cross "
                       "inside the fit window; the error bar is unreliable", la, lb,
                       100 * frac)
    t_boot = t0 + scale * roots
    t_cross = t0 + scale * root
    u_cross = float(_poly_eval(ca, root))
    u_boot = np.array([_poly_eval(c, r) for c, r in zip(fa.coefficients(reps_a), roots)])
    pair = PairCrossing(sizes=(la, lb), temperature=float(t_cross),
                        error=float(np.nanstd(t_boot, ddof=1)), binder=u_cross,
                        binder_error=float(np.nanstd(u_boot, ddof=1)), valid_fraction=frac)
    fit: dict[Any, Any] = {la: (t0, scale, fa.index, ca), lb: (t0, scale, fb.index, cb),
                           "range": (lo, hi)}
    return pair, t_boot, fit


def binder_crossing(curves: Mapping[int, Curve], *, window: int = 6, degree: int = 3,
                    n_bootstrap: int = 2000, seed: int | np.random.SeedSequence | None = 0,
                    method: str = "largest") -> CrossingResult:
    """Estimate T_c from the crossings of Binder-cumulant curves of consecutive sizes.

    For each pair (L_i, L_{i+1}) of consecutive sizes: a crude crossing T0 from linear
    interpolation (the most significant sign change of U_{L_i} - U_{L_{i+1}}); both curves are
    fitted by a weighted (1/sigma^2) polynomial of degree ``degree`` to their ``window`` points
    nearest T0; the crossing is the real root of the difference closest to T0 inside the common
    window. Errors: parametric bootstrap, every point redrawn from N(U, sigma^2) independently
    (``n_bootstrap`` replicates), refitted and re-crossed.

    The crossing of L and 2L approaches T_c as L^-(1/nu + omega) (corrections to scaling; for
    the periodic 2D Ising model U_L(T_c) decreases towards U* with L, so the crossings of small
    sizes lie below T_c). The default estimate is therefore the crossing of the two largest
    sizes (``method="largest"``); ``method="weighted"`` uses the inverse-variance weighted mean
    of all consecutive-size crossings, whose error is the bootstrap standard deviation of that
    mean (accounting for the curves shared by neighbouring pairs), smaller but more biased.
    The error bars are statistical only.

    Parameters
    ----------
    curves : mapping
        ``{L: Curve}`` of Binder cumulants, at least two sizes.
    window, degree : int
        Points per local fit and polynomial degree (reduced if fewer points).
    n_bootstrap : int
        Bootstrap replicates (>= 10).
    seed : int or numpy.random.SeedSequence
        Seed of the bootstrap.
    method : {"largest", "weighted"}
        Which estimate ``temperature``/``error`` report (both are returned).

    Returns
    -------
    CrossingResult

    Raises
    ------
    ValueError
        Fewer than two sizes, curves that do not cross, bad settings.
    """
    sizes = sorted(curves)
    if len(sizes) < 2:
        raise ValueError("a Binder crossing needs at least two sizes")
    if window < 2 or degree < 1:
        raise ValueError("window must be >= 2 and degree >= 1")
    if n_bootstrap < 10:
        raise ValueError("n_bootstrap must be >= 10")
    if method not in ("largest", "weighted"):
        raise ValueError(f"method must be 'largest' or 'weighted', not {method!r}")
    rng = np.random.default_rng(seed)
    replicates = {L: curves[L].value + curves[L].error
                  * rng.standard_normal((n_bootstrap, len(curves[L].value))) for L in sizes}
    pairs: list[PairCrossing] = []
    boots: list[NDArray[np.float64]] = []
    fits: dict[tuple[int, int], dict[Any, Any]] = {}
    for la, lb in zip(sizes[:-1], sizes[1:]):
        pair, t_boot, fit = _pair_crossing(curves[la], curves[lb], replicates[la],
                                           replicates[lb], window, degree)
        pairs.append(pair)
        boots.append(t_boot)
        fits[(la, lb)] = fit
    boot = np.array(boots)  # (n_pairs, B)
    errors = np.array([p.error for p in pairs])
    if np.any(~np.isfinite(errors)) or np.any(errors <= 0):
        raise ValueError("Binder crossing: bootstrap failed to give an error bar")
    weights = 1.0 / errors ** 2
    weights /= weights.sum()
    central = float(np.sum(weights * np.array([p.temperature for p in pairs])))
    good = np.all(np.isfinite(boot), axis=0)
    combined = weights @ boot[:, good]
    weighted = (central, float(np.std(combined, ddof=1)))
    largest = (pairs[-1].temperature, pairs[-1].error)
    chosen = largest if method == "largest" else weighted
    return CrossingResult(temperature=chosen[0], error=chosen[1], method=method,
                          largest=largest, weighted=weighted, pairs=tuple(pairs), fits=fits)

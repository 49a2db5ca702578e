"""Finite-size scaling (FSS) of the 2D Ising model from a temperature x size sweep.

* :func:`binder_crossing` (from :mod:`analysis.fss_crossing`, re-exported with
  :class:`Curve` and :func:`curves_from_table`) -- T_c from the crossings of the Binder
  cumulant curves U_L(T) of consecutive sizes (K. Binder, Z. Phys. B 43, 119 (1981)).
* :func:`susceptibility_peaks` -- the peak of chi_L(T) sits at T*(L) - T_c ~ L^{-1/nu} and grows
  as chi_max ~ L^{gamma/nu}; :func:`power_law_exponent` fits the latter.
* :func:`scaling_coordinates` / :func:`collapse_quality` -- data collapse x = (T - T_c) L^{1/nu},
  y = A L^{-kappa/nu} with the exact exponents nu = 1, gamma = 7/4, beta = 1/8 (Onsager 1944;
  Yang 1952), and the Houdayer--Hartmann quality S (PRB 70, 014418 (2004)): S ~ 1 when the curves
  collapse within their error bars.
* :func:`analyze` runs all of it on a sweep table; :func:`plot_fss` draws the figure (PNG + PDF,
  in the shared style of :mod:`analysis.figure_style`).

Conventions: docs/CONTRACTS.md (H = -J sum s_i s_j, k_B = 1, magnetization per spin). The
susceptibility column is the finite-lattice chi' = N (<m^2> - <|m|>^2) / T of
:func:`ising.observables.summarize` (:func:`ising.observables.susceptibility` with
<|m|>): at zero field <m> = 0 on a finite lattice, so the connected N (<m^2> - <m>^2) / T would
have no finite-size peak; chi' peaks at T*(L) with height ~ L^{gamma/nu}. Exact
T_c = 2 / ln(1 + sqrt 2) (Onsager 1944).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from analysis.figure_style import (ERRORBAR, MARKERS, OKABE_ITO, SampleNote,  # noqa: F401
                                   new_figure, outside_legend, save_figure, set_caption)
from analysis.fss_crossing import (CrossingResult, Curve, LocalFit, PairCrossing,  # re-exported
                                   binder_crossing, curves_from_table)

__all__ = [
    "TC_EXACT", "NU", "GAMMA", "BETA", "Curve", "LocalFit", "PairCrossing", "CrossingResult", "Peak",
    "FSSResult", "curves_from_table", "binder_crossing", "susceptibility_peaks",
    "power_law_exponent", "scaling_coordinates", "collapse_quality", "analyze", "plot_fss",
    "OKABE_ITO", "MARKERS",
]

logger = logging.getLogger(__name__)

#: Onsager's critical temperature of the square-lattice Ising model, J = k_B = 1.
TC_EXACT = 2.0 / math.log(1.0 + math.sqrt(2.0))
#: Exact 2D Ising exponents.
NU, GAMMA, BETA = 1.0, 7.0 / 4.0, 1.0 / 8.0



# --------------------------------------------------------------------------------------------
# Susceptibility peaks
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Peak:
    """Maximum of chi_L(T): location and height with bootstrap errors.

    ``bracketed`` is False when the largest sampled value is at an end of the temperature range
    (then ``temperature``/``height`` are those of the end point and the errors are NaN).
    """

    size: int
    temperature: float
    temperature_error: float
    height: float
    height_error: float
    bracketed: bool


def _vertex(coef: np.ndarray, u_lo: float, u_hi: float
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vertex (u*, y*) of quadratics ``coef`` (B, 3); NaN if not a maximum inside the range."""
    c0, c1, c2 = coef[:, 0], coef[:, 1], coef[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = -c1 / (2 * c2)
    bad = ~(c2 < 0) | (u < u_lo) | (u > u_hi)
    y = c0 + c1 * u + c2 * u * u
    u[bad] = np.nan
    y[bad] = np.nan
    return u, y


def susceptibility_peaks(curves: Mapping[int, Curve], *, window: int = 5, n_bootstrap: int = 2000,
                         seed: int | np.random.SeedSequence | None = 0) -> list[Peak]:
    """Peak position and height of each chi_L(T) by a weighted parabola in ln chi.

    The ``window`` points nearest the largest sampled value are fitted by a weighted
    (1/sigma_ln^2, sigma_ln = sigma/chi) quadratic in ln chi -- exact for a Gaussian peak, and
    less biased than a parabola in chi when the peak is narrow compared with the temperature
    spacing; its vertex is the peak. Errors: parametric bootstrap over the per-point error bars.
    """
    if window < 3:
        raise ValueError("window must be >= 3 for a parabola")
    rng = np.random.default_rng(seed)
    peaks: list[Peak] = []
    for L in sorted(curves):
        c = curves[L]
        i = int(np.argmax(c.value))
        unbracketed = Peak(L, float(c.temperature[i]), math.nan, float(c.value[i]), math.nan,
                           False)
        if i in (0, len(c.value) - 1) or len(c.value) < 3 or np.any(c.value <= 0):
            peaks.append(unbracketed)
            continue
        log_curve = Curve(L, c.temperature, np.log(c.value), c.error / c.value)
        span = float(c.temperature[-1] - c.temperature[0])
        fit = LocalFit.build(log_curve, float(c.temperature[i]), span / 2, window, 2)
        t_lo, t_hi = c.temperature[fit.index[0]], c.temperature[fit.index[-1]]
        u_lo, u_hi = (t_lo - fit.center) / fit.scale, (t_hi - fit.center) / fit.scale
        coef = fit.coefficients(log_curve.value)[None, :]
        if coef.shape[1] < 3:
            peaks.append(unbracketed)
            continue
        u, y = _vertex(coef, u_lo, u_hi)
        if not np.isfinite(u[0]):
            peaks.append(unbracketed)
            continue
        reps = c.value + c.error * rng.standard_normal((n_bootstrap, len(c.value)))
        with np.errstate(invalid="ignore", divide="ignore"):
            log_reps = np.log(np.where(reps > 0, reps, np.nan))
        ub, yb = _vertex(fit.coefficients(log_reps), u_lo, u_hi)
        peaks.append(Peak(L, float(fit.center + fit.scale * u[0]),
                          float(fit.scale * np.nanstd(ub, ddof=1)), float(np.exp(y[0])),
                          float(np.nanstd(np.exp(yb), ddof=1)), True))
    return peaks


def power_law_exponent(sizes: Sequence[float], values: Sequence[float],
                       errors: Sequence[float]) -> tuple[float, float, float]:
    """Weighted least-squares fit ``value = A L^k`` in log-log coordinates.

    Returns
    -------
    (k, k_error, A)
        The exponent with its (unscaled) standard error, and the amplitude.
    """
    L = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(e) & (y > 0) & (e > 0) & (L > 0)
    if ok.sum() < 2:
        raise ValueError("a power-law fit needs at least two positive points with errors")
    x, ly, s = np.log(L[ok]), np.log(y[ok]), e[ok] / y[ok]
    design = np.stack([np.ones_like(x), x], axis=1) / s[:, None]
    cov = np.linalg.inv(design.T @ design)
    coef = cov @ design.T @ (ly / s)
    return float(coef[1]), float(math.sqrt(cov[1, 1])), float(math.exp(coef[0]))


# --------------------------------------------------------------------------------------------
# Data collapse
# --------------------------------------------------------------------------------------------
_Array = NDArray[np.float64]


@overload
def scaling_coordinates(temperature: npt.ArrayLike, size: npt.ArrayLike, value: npt.ArrayLike,
                        error: None = None, *, tc: float = ..., nu: float = ...,
                        exponent: float = ...) -> tuple[_Array, _Array]: ...


@overload
def scaling_coordinates(temperature: npt.ArrayLike, size: npt.ArrayLike, value: npt.ArrayLike,
                        error: npt.ArrayLike, *, tc: float = ..., nu: float = ...,
                        exponent: float = ...) -> tuple[_Array, _Array, _Array]: ...


def scaling_coordinates(temperature: npt.ArrayLike, size: npt.ArrayLike, value: npt.ArrayLike,
                        error: npt.ArrayLike | None = None, *, tc: float = TC_EXACT,
                        nu: float = NU, exponent: float = 0.0
                        ) -> tuple[_Array, _Array] | tuple[_Array, _Array, _Array]:
    """FSS coordinates x = (T - T_c) L^{1/nu}, y = value L^{exponent}.

    ``exponent`` is -gamma/nu for chi, beta/nu for <|m|>, 0 for the Binder cumulant. Returns
    ``(x, y)`` or ``(x, y, dy)`` when ``error`` is given.
    """
    T = np.asarray(temperature, dtype=np.float64)
    L = np.asarray(size, dtype=np.float64)
    factor = L ** exponent
    x = (T - tc) * L ** (1.0 / nu)
    y = np.asarray(value, dtype=np.float64) * factor
    if error is None:
        return x, y
    return x, y, np.asarray(error, dtype=np.float64) * factor


def collapse_quality(curves: Mapping[int, Curve], *, tc: float = TC_EXACT, nu: float = NU,
                     exponent: float = 0.0) -> float:
    """Houdayer--Hartmann quality S of a data collapse (PRB 70, 014418 (2004)).

    For every scaled point (x, y +- dy) of one size, each other size whose scaled x-range
    contains x predicts Y by quadratic interpolation through its three nearest points (error
    propagated; Houdayer and Hartmann use a local linear fit); the predictions are combined
    by inverse variance into Y +- dY and
    S = mean over points of (y - Y)^2 / (dy^2 + dY^2). S ~ 1 for a collapse within errors;
    S >> 1 for a bad one. Returns NaN when no points overlap.
    """
    scaled = {}
    for L, c in curves.items():
        scaled[L] = scaling_coordinates(c.temperature, L, c.value, c.error, tc=tc, nu=nu,
                                        exponent=exponent)
    terms = []
    for L, (x, y, dy) in scaled.items():
        for xi, yi, dyi in zip(x, y, dy):
            preds, variances = [], []
            for M, (xm, ym, dym) in scaled.items():
                if M == L or xi < xm[0] or xi > xm[-1]:
                    continue
                # quadratic (Lagrange) interpolation through the 3 nearest points, or linear
                k = min(3, len(xm))
                near = np.sort(np.argsort(np.abs(xm - xi), kind="stable")[:k])
                coeff = np.ones(k)
                for a in range(k):
                    for b in range(k):
                        if a != b:
                            coeff[a] *= (xi - xm[near[b]]) / (xm[near[a]] - xm[near[b]])
                preds.append(float(coeff @ ym[near]))
                variances.append(float((coeff ** 2) @ dym[near] ** 2))
            if not preds:
                continue
            inv = 1.0 / np.asarray(variances)
            Y = float(np.sum(inv * np.asarray(preds)) / np.sum(inv))
            dY2 = float(1.0 / np.sum(inv))
            terms.append((yi - Y) ** 2 / (dyi ** 2 + dY2))
    return float(np.mean(terms)) if terms else math.nan


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FSSResult:
    """Output of :func:`analyze`."""

    # {"binder": {L: Curve}, "susceptibility": ..., "abs_magnetization": ...}
    curves: dict[str, dict[int, Curve]]
    crossing: CrossingResult | None  # None when the Binder curves do not cross (see ``note``)
    peaks: list[Peak]
    gamma_over_nu: tuple[float, float] | None  # (value, error) from the bracketed peak heights
    collapse: dict[str, float]  # {"binder": S, "susceptibility": S, "abs_magnetization": S}
    note: str = ""        # why there is no crossing

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN becomes None)."""
        return _json_clean(self._as_dict())

    def _as_dict(self) -> dict[str, Any]:
        c = self.crossing
        return {
            "tc_exact": TC_EXACT,
            "crossing": None if c is None else c.as_dict(),
            "crossing_note": self.note or None,
            "tc_relative_deviation": None if c is None else (c.temperature - TC_EXACT) / TC_EXACT,
            "susceptibility_peaks": [dataclasses.asdict(p) for p in self.peaks],
            "gamma_over_nu": None if self.gamma_over_nu is None else
            {"value": self.gamma_over_nu[0], "error": self.gamma_over_nu[1],
             "exact": GAMMA / NU},
            "collapse_quality_exact_exponents": self.collapse,
        }

    def report(self) -> str:
        """A short plain-text summary."""
        c = self.crossing
        if c is None:
            lines = [f"no Binder crossing: {self.note}"]
        else:
            which = (f"L={c.pairs[-1].sizes[0]}/{c.pairs[-1].sizes[1]}" if c.method == "largest"
                     else "weighted mean of pairs")
            lines = [f"Binder crossing T_c = {c.temperature:.5f} +- {c.error:.5f} ({which}; "
                     f"exact {TC_EXACT:.5f}, deviation {100 * (c.temperature / TC_EXACT - 1):+.3f}%,"
                     f" {(c.temperature - TC_EXACT) / c.error:+.2f} sigma)"]
            if len(c.pairs) > 1 and c.method == "largest":
                lines.append(f"  weighted mean of all pairs: {c.weighted[0]:.5f} +- "
                             f"{c.weighted[1]:.5f} (pulled down by the small sizes' "
                             "corrections to scaling)")
        for pair in (() if c is None else c.pairs):
            lines.append(f"  L={pair.sizes[0]}/{pair.sizes[1]}: T = {pair.temperature:.5f} +- "
                         f"{pair.error:.5f}, U* = {pair.binder:.4f} +- {pair.binder_error:.4f}")
        for p in self.peaks:
            if p.bracketed:
                lines.append(f"  chi peak L={p.size}: T* = {p.temperature:.4f} +- "
                             f"{p.temperature_error:.4f}, chi_max = {p.height:.4g} +- "
                             f"{p.height_error:.2g}")
            else:
                lines.append(f"  chi peak L={p.size}: not bracketed by the temperature range")
        if self.gamma_over_nu is not None:
            g, e = self.gamma_over_nu
            lines.append(f"gamma/nu from chi_max ~ L^(gamma/nu): {g:.3f} +- {e:.3f} (exact 1.75)")
        lines.append("collapse quality S with exact T_c, nu=1, gamma=7/4, beta=1/8: " + ", ".join(
            f"{k} {v:.2f}" for k, v in self.collapse.items()))
        return "\n".join(lines)


def _json_clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    return obj


_EXPONENTS = {"binder": 0.0, "susceptibility": -GAMMA / NU, "abs_magnetization": BETA / NU}


def _check_table(table: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless ``table`` is a 2D sweep table this analysis applies to.

    The exponents, T_c and the collapse are those of the 2D Ising model; a sweep of the 1D
    chain (no transition at T > 0) has no Binder crossing to find.
    """
    for column in ("size", "temperature"):
        if column not in table:
            raise ValueError(f"the table lacks the column {column!r}")
    n = len(np.asarray(table["size"]))
    for column, values in table.items():
        if column != "file" and len(np.asarray(values)) != n:
            raise ValueError(f"column {column!r} has {len(np.asarray(values))} rows, "
                             f"'size' has {n}")
    if "dimension" in table:
        dims = sorted({int(d) for d in np.asarray(table["dimension"]).ravel()})
        if dims and dims != [2]:
            raise ValueError(f"finite-size scaling here is that of the 2D Ising model; the sweep "
                             f"has dimension {', '.join(map(str, dims))}")
    sizes = np.asarray(table["size"], dtype=np.float64)
    temps = np.asarray(table["temperature"], dtype=np.float64)
    if n and not (np.all(np.isfinite(sizes)) and np.all(sizes >= 2)
                  and np.all(np.isfinite(temps)) and np.all(temps > 0)):
        raise ValueError("sizes must be >= 2 and temperatures finite and > 0")


def analyze(table: Mapping[str, np.ndarray], *, n_bootstrap: int = 2000,
            seed: int | np.random.SeedSequence | None = 0,
            window: int = 6, degree: int = 3, method: str = "largest",
            require_crossing: bool = False) -> FSSResult:
    """Finite-size-scaling analysis of a sweep table.

    Parameters
    ----------
    table : mapping of arrays
        Columns ``size``, ``temperature`` and, for ``binder``, ``susceptibility``,
        ``abs_magnetization``, the value column ``name`` and ``name_error``
        (:func:`rgdl.sweep.sweep_table` gives this).
    n_bootstrap, seed, window, degree, method
        See :func:`binder_crossing`.
    require_crossing : bool
        Raise ValueError when the Binder curves do not cross (fewer than two sizes, or no sign
        change in the sampled range); by default the result then has ``crossing=None`` and a
        ``note`` explaining why, and the rest of the analysis is still done.
    """
    _check_table(table)
    curves: dict[str, dict[int, Curve]] = {}
    for name in _EXPONENTS:
        if name not in table or f"{name}_error" not in table:
            raise ValueError(f"the table lacks the column {name!r} or {name + '_error'!r}")
        curves[name] = curves_from_table(table["size"], table["temperature"], table[name],
                                         table[f"{name}_error"])
    seeds = np.random.SeedSequence(seed if not isinstance(seed, np.random.SeedSequence)
                                   else seed.entropy).spawn(2)
    crossing: CrossingResult | None = None
    note = ""
    try:
        crossing = binder_crossing(curves["binder"], window=window, degree=degree,
                                   n_bootstrap=n_bootstrap, seed=seeds[0], method=method)
    except ValueError as exc:
        if require_crossing:
            raise
        note = str(exc)
        logger.warning("no Binder crossing: %s", note)
    peaks = susceptibility_peaks(curves["susceptibility"], n_bootstrap=n_bootstrap,
                                 seed=seeds[1])
    bracketed = [p for p in peaks if p.bracketed and np.isfinite(p.height_error)]
    gamma_over_nu: tuple[float, float] | None = None
    if len(bracketed) >= 2:
        k, dk, _ = power_law_exponent([p.size for p in bracketed], [p.height for p in bracketed],
                                      [p.height_error for p in bracketed])
        gamma_over_nu = (k, dk)
    collapse = {name: collapse_quality(curves[name], exponent=exp)
                for name, exp in _EXPONENTS.items()}
    return FSSResult(curves=curves, crossing=crossing, peaks=peaks, gamma_over_nu=gamma_over_nu,
                     collapse=collapse, note=note)


# --------------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------------
def plot_fss(result: FSSResult, path: str | Path, *, title: str | None = None,
             overwrite: bool = True, samples: SampleNote | None = None) -> list[Path]:
    """Draw the FSS figure: Binder, chi and <|m|> against T (top) and their collapses with the
    exact T_c and exponents (bottom), in the shared style (:mod:`analysis.figure_style`; the
    caption names the sizes and ``samples``, the samples per point). Saves ``path`` with
    suffixes ``.png`` and ``.pdf``, atomically (:func:`ising.atomic.atomic_output`;
    ``overwrite=False`` refuses to replace an existing file).

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    labels = {"binder": (r"Binder cumulant $U_L$", r"$U_L$"),
              "susceptibility": (r"susceptibility $\chi_L$", r"$\chi_L\,L^{-\gamma/\nu}$"),
              "abs_magnetization": (r"$\langle|m|\rangle_L$",
                                    r"$\langle|m|\rangle_L\,L^{\beta/\nu}$")}
    fig = new_figure(13.5, 8.0)
    axes = fig.subplots(2, 3)
    sizes = sorted(result.curves["binder"])
    style = {L: (OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)])
             for i, L in enumerate(sizes)}
    cr = result.crossing
    for col, name in enumerate(_EXPONENTS):
        top, bottom = axes[0, col], axes[1, col]
        for L in sorted(result.curves[name]):
            c = result.curves[name][L]
            color, marker = style.get(L, ("#000000", "o"))
            top.errorbar(c.temperature, c.value, c.error, color=color, marker=marker, lw=1,
                         label=f"L = {L}", **ERRORBAR)
            x, y, dy = scaling_coordinates(c.temperature, L, c.value, c.error,
                                           exponent=_EXPONENTS[name])
            bottom.errorbar(x, y, dy, color=color, marker=marker, lw=0, label=f"L = {L}",
                            **ERRORBAR)
        top.axvline(TC_EXACT, color="0.3", ls="--", lw=1, label=r"exact $T_c$")
        top.set_xlabel("temperature $T$")
        top.set_ylabel(labels[name][0])
        bottom.axvline(0.0, color="0.3", ls="--", lw=1)
        bottom.set_xlabel(r"$(T - T_c)\,L^{1/\nu}$")
        bottom.set_ylabel(labels[name][1])
        S = result.collapse.get(name, math.nan)
        bottom.set_title(f"collapse, exact exponents: S = {S:.2f}", fontsize=10)
    ax = axes[0, 0]
    for (la, lb), fit in ({} if cr is None else cr.fits).items():
        lo, hi = fit["range"]
        t = np.linspace(lo, hi, 100)
        for L in (la, lb):
            t0, scale, _, coef = fit[L]
            ax.plot(t, np.polynomial.polynomial.polyval((t - t0) / scale, coef),
                    color=style[L][0], lw=0.8, alpha=0.7)
    if cr is not None:
        ax.axvspan(cr.temperature - cr.error, cr.temperature + cr.error, color=OKABE_ITO[4],
                   alpha=0.35, lw=0,
                   label=f"crossing $T_c$ = {cr.temperature:.4f} ± {cr.error:.4f}"
                         + (f" (L={cr.pairs[-1].sizes[0]}/{cr.pairs[-1].sizes[1]})"
                            if cr.method == "largest" else ""))
    ax.set_title("Binder crossing" if cr is not None else "Binder cumulant (no crossing)",
                 fontsize=10)
    ax = axes[0, 1]
    for p in result.peaks:
        if p.bracketed:
            ax.errorbar([p.temperature], [p.height], yerr=[p.height_error],
                        xerr=[p.temperature_error], color=style[p.size][0], marker="*", ms=11,
                        mec="black", mew=0.5, lw=0, elinewidth=1, capsize=3, zorder=4)
    if result.gamma_over_nu is not None:
        g, e = result.gamma_over_nu
        ax.set_title(rf"peaks (★): $\gamma/\nu$ = {g:.3f} ± {e:.3f} (exact 1.75)", fontsize=10)
    outside_legend(fig, axes[0, 0], fontsize=8)
    set_caption(fig, title or "Finite-size scaling of the 2D Ising model "
                r"(exact $T_c$ = 2.2692, $\nu$ = 1, $\gamma$ = 7/4, $\beta$ = 1/8)",
                size=sizes, samples=samples)
    return save_figure(fig, path, dpi=150, overwrite=overwrite)

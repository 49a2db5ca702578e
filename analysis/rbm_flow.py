"""The "RBM flow" of Iso, Shiba & Yokoo (PRE 97, 053304 (2018)).

A trained RBM defines a map on configurations, ``v -> h ~ P(h|v) -> v' ~ P(v'|h)``. Iterating it
from Ising samples at several temperatures and measuring an *effective temperature* of the
flowing samples (here: the temperature at which the Ising energy per spin of a reference curve
-- exact (Kaufman) or Monte Carlo -- equals the samples' mean energy) traces a flow in
temperature space. Iso et al. observed flows converging towards ``T_c`` rather than away from it
(as a true RG flow would). The iteration is block Gibbs sampling, so its stationary distribution
is the RBM's own marginal ``p(v)``; the "fixed point" measures where the model's distribution sits.
(Used by ``rgdl reproduce`` with one RBM trained at a *single* temperature -- a contrast, not Iso et
al.'s protocol, which :mod:`analysis.iso_flow` implements: one RBM trained on many temperatures.)

Conditionals are those of :mod:`rbm.maths` (docs/CONTRACTS.md, Mehta & Schwab sign convention):
binary units ``P(h_j=1|v) = sigma(-(b_j + sum_i v_i w_ij))``; spin units
``P(h_j=+1|v) = sigma(-2(b_j + sum_i v_i w_ij))``, and symmetrically for ``v``.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from ising.observables import Estimate
from rbm import maths

__all__ = [
    "hidden_probability",
    "visible_probability",
    "flow_step",
    "rbm_flow",
    "effective_temperature",
    "flow_fixed_point",
]


#: Real arrays of unit values, fields, probabilities (any float precision).
_Floats = NDArray[np.floating]


def hidden_probability(v: _Floats, weights: _Floats, hidden_bias: _Floats,
                       units: str = "spin") -> _Floats:
    """``P(h_j = on | v)`` for a batch ``v`` (n, n_visible) in the model's units."""
    maths.check_units(units)
    return maths.unit_probability(maths.hidden_field(v, weights, hidden_bias), units)


def visible_probability(h: _Floats, weights: _Floats, visible_bias: _Floats,
                        units: str = "spin") -> _Floats:
    """``P(v_i = on | h)`` for a batch ``h`` (n, n_hidden) in the model's units."""
    maths.check_units(units)
    return maths.unit_probability(maths.visible_field(h, weights, visible_bias), units)


def flow_step(v: _Floats, weights: _Floats, visible_bias: _Floats, hidden_bias: _Floats,
              units: str, rng: np.random.Generator) -> _Floats:
    """One step ``v -> h ~ P(h|v) -> v' ~ P(v'|h)`` (both sampled), in the model's units."""
    h = maths.draw_units(hidden_probability(v, weights, hidden_bias, units), units, rng)
    return maths.draw_units(visible_probability(h, weights, visible_bias, units), units, rng)


def rbm_flow(spins: npt.ArrayLike, weights: npt.ArrayLike, visible_bias: npt.ArrayLike,
             hidden_bias: npt.ArrayLike, *, units: str = "spin", n_steps: int = 10,
             seed: int | np.random.SeedSequence | None = None) -> NDArray[np.int8]:
    """Iterate the RBM map from Ising configurations and return every step's configurations.

    Parameters
    ----------
    spins : ndarray (n_samples, ...) in {-1, +1}
        Starting configurations (any lattice shape; flattened to ``n_visible``).
    weights, visible_bias, hidden_bias : ndarray
        The RBM (docs/CONTRACTS.md shapes).
    units : {"spin", "binary"}
        The model's unit type; binary models see ``(s + 1) / 2``.
    n_steps : int
    seed : int or SeedSequence, optional

    Returns
    -------
    ndarray int8 (n_steps + 1, n_samples, ...)
        Configurations as spins {-1, +1}; index 0 is the input.
    """
    maths.check_units(units)
    s = np.asarray(spins)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D, got shape {w.shape}")
    n_visible = w.shape[0]
    if s.ndim < 2 or int(np.prod(s.shape[1:])) != n_visible:
        raise ValueError(
            f"spins must have shape (n_samples, ...) with {n_visible} sites, got {s.shape}")
    if not np.all(np.isin(s, (-1, 1))):
        raise ValueError("spins must take values in {-1, +1}")
    steps = int(n_steps)
    if steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {steps}")
    b_visible = np.asarray(visible_bias, dtype=np.float64)
    b_hidden = np.asarray(hidden_bias, dtype=np.float64)
    if b_visible.shape != (n_visible,) or b_hidden.shape != (w.shape[1],):
        raise ValueError("bias shapes do not match the weight matrix")
    rng = np.random.default_rng(seed)
    v = maths.convert_units(s.reshape(s.shape[0], -1).astype(np.float64), "spin", units)
    out = np.empty((steps + 1,) + s.shape, dtype=np.int8)
    out[0] = s
    for step in range(1, steps + 1):
        v = flow_step(v, w, b_visible, b_hidden, units, rng)
        spin = maths.convert_units(v, units, "spin")
        out[step] = spin.reshape(s.shape).astype(np.int8)
    return out


@overload
def effective_temperature(energy: float, reference_temperatures: npt.ArrayLike,
                          reference_energies: npt.ArrayLike,
                          energy_error: None = None) -> float: ...


@overload
def effective_temperature(energy: NDArray[Any], reference_temperatures: npt.ArrayLike,
                          reference_energies: npt.ArrayLike,
                          energy_error: None = None) -> NDArray[np.float64]: ...


@overload
def effective_temperature(energy: float, reference_temperatures: npt.ArrayLike,
                          reference_energies: npt.ArrayLike,
                          energy_error: float) -> tuple[float, float]: ...


@overload
def effective_temperature(energy: NDArray[Any], reference_temperatures: npt.ArrayLike,
                          reference_energies: npt.ArrayLike,
                          energy_error: npt.ArrayLike
                          ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...


def effective_temperature(energy: float | NDArray[Any], reference_temperatures: npt.ArrayLike,
                          reference_energies: npt.ArrayLike,
                          energy_error: npt.ArrayLike | None = None
                          ) -> (float | NDArray[np.float64] | tuple[float, float]
                                | tuple[NDArray[np.float64], NDArray[np.float64]]):
    """Invert a monotone reference curve ``e(T)`` at the measured energy per spin.

    Parameters
    ----------
    energy : float or ndarray
        Mean energy per spin of the samples.
    reference_temperatures, reference_energies : ndarray
        The curve ``e(T)``, strictly increasing in ``T`` (as the Ising energy is).
    energy_error : float or ndarray, optional
        Error of ``energy``; propagated with the local slope ``dT/de``.

    Returns
    -------
    T : float or ndarray
        NaN where ``energy`` lies outside the curve's range.
    T_error : same shape, only if ``energy_error`` is given.
    """
    t = np.asarray(reference_temperatures, dtype=np.float64)
    e = np.asarray(reference_energies, dtype=np.float64)
    if t.ndim != 1 or t.shape != e.shape or t.size < 2:
        raise ValueError("reference curves must be 1-D arrays of equal length >= 2")
    order = np.argsort(t)
    t, e = t[order], e[order]
    if not np.all(np.diff(e) > 0):
        raise ValueError("reference energies must increase strictly with temperature")
    x = np.asarray(energy, dtype=np.float64)
    inside = (x >= e[0]) & (x <= e[-1])
    temp = np.where(inside, np.interp(x, e, t), np.nan)
    if energy_error is None:
        return temp if temp.ndim else float(temp)
    slope = np.gradient(t, e)  # dT/de on the curve
    local = np.interp(x, e, slope)
    err = np.where(inside, np.abs(local) * np.asarray(energy_error, dtype=np.float64), np.nan)
    if temp.ndim:
        return temp, err
    return float(temp), float(err)


def flow_fixed_point(effective_temperatures: npt.ArrayLike, *, last: int = 3) -> Estimate:
    """Fixed point of flows started at several temperatures.

    Parameters
    ----------
    effective_temperatures : ndarray (n_starts, n_steps + 1)
        ``T_eff`` of each flow at each step.
    last : int
        Number of final steps averaged per flow.

    Returns
    -------
    Estimate
        Mean over starts of each flow's final ``T_eff``; the error is the standard deviation
        over starts (the flows' disagreement, not a statistical error bar). NaN if a flow left
        the reference curve's range at the end.
    """
    t = np.asarray(effective_temperatures, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] < 1:
        raise ValueError(f"effective_temperatures must be (n_starts, n_steps+1), got {t.shape}")
    n_last = max(1, min(int(last), t.shape[1]))
    final = t[:, -n_last:].mean(axis=1)
    if np.any(~np.isfinite(final)):
        return Estimate(float("nan"), float("nan"))
    spread = float(final.std(ddof=1)) if final.size > 1 else 0.0
    return Estimate(float(final.mean()), spread)

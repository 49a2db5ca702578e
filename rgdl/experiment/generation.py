"""Generation quality of a trained stack: Gibbs chains from noise and from data, R-hat, errors.

Chains of the top RBM start half from noise and half from data propagated up the stack; their
visible states are carried down the stack and measured against the Monte Carlo data. The
Gelman-Rubin R-hat between the two kinds of start (Gelman & Rubin 1992) decides whether the
generated thermodynamics are results (``R-hat < RHAT_THRESHOLD``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from analysis.thermodynamics import gelman_rubin, relative_error, thermodynamic_estimates
from rbm import maths

if TYPE_CHECKING:
    from analysis.thermodynamics import Estimate
    from rgdl.experiment.config import ExperimentConfig, ProgressCallback
    from rgdl.experiment.stages import LayerParams

__all__ = ["RHAT_THRESHOLD", "run_generation", "generation_summary", "unusable_generation"]

#: Gibbs chains are equilibrated when the largest Gelman-Rubin R-hat is below this.
RHAT_THRESHOLD = 1.1


def run_generation(cfg: ExperimentConfig, params: Sequence[LayerParams],
                   data_flat: NDArray[np.integer],
                   energy_fn: Callable[[NDArray[np.floating]],
                                       tuple[NDArray[np.float64], NDArray[np.float64]]],
                   rng: np.random.Generator, progress: ProgressCallback, label: str
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """Gibbs chains of the top RBM (half from noise, half from data), down-pass to the lattice.

    Parameters
    ----------
    cfg : ExperimentConfig
    params : list of (weights, visible_bias, hidden_bias)
        The stack, layer 1 first.
    data_flat : ndarray (n_samples, n_visible)
        Spins in {-1, +1}; ``generation_chains / 2`` rows start the data chains.
    energy_fn : callable
        ``energy_fn(spins) -> (energy per spin, magnetization per spin)``.
    rng : numpy.random.Generator
    progress : callable
    label : str

    Returns
    -------
    energy, absmag : ndarray (n_chains, n_records)
    visible : ndarray of int8
        The final visible spins of every chain.
    """
    units = cfg.units
    n_chains = cfg.generation_chains
    half = n_chains // 2
    # float32 chains: the states are exact, only the conditional probabilities are rounded
    layers = [tuple(np.asarray(p, np.float32) for p in layer) for layer in params]

    def draw(mean: NDArray[np.floating]) -> NDArray[np.floating]:
        # states with the given means, from float32 uniforms
        return maths.draw_units(maths.probability_from_mean(mean, units), units, rng, np.float32)

    def up(x: NDArray[np.floating], w: NDArray[np.floating],
           b: NDArray[np.floating]) -> NDArray[np.floating]:
        return maths.unit_mean(maths.hidden_field(x, w, b), units)

    def down(h: NDArray[np.floating], w: NDArray[np.floating],
             c: NDArray[np.floating]) -> NDArray[np.floating]:
        return maths.unit_mean(maths.visible_field(h, w, c), units)

    # top RBM's visible layer: sampled up-pass of data rows, or noise
    idx = rng.choice(data_flat.shape[0], size=half, replace=False)
    x = maths.convert_units(np.asarray(data_flat[idx], np.float64), "spin", units).astype(np.float32)
    for w, _, b in layers[:-1]:
        x = draw(up(x, w, b))
    noise = draw(np.full((half, x.shape[1]), 0.0 if units == "spin" else 0.5, np.float32))
    v = np.concatenate([noise, x], axis=0)
    w_top, c_top, b_top = layers[-1]
    every = cfg.generation_steps // cfg.generation_records
    energy = np.empty((n_chains, cfg.generation_records))
    absmag = np.empty_like(energy)
    visible = None
    for r in range(cfg.generation_records):
        for _ in range(every):
            h = draw(up(v, w_top, b_top))
            v = draw(down(h, w_top, c_top))
        z = v
        for w, c, _ in reversed(layers[:-1]):
            z = draw(down(z, w, c))
        visible = maths.convert_units(z, units, "spin")
        e, m = energy_fn(visible)
        energy[:, r] = e
        absmag[:, r] = np.abs(m)
        progress(f"generate ({label})", r + 1, cfg.generation_records)
    assert visible is not None  # generation_records >= 8 (ExperimentConfig)
    return energy, absmag, visible.astype(np.int8)


def generation_summary(energy: NDArray[np.float64], absmag: NDArray[np.float64],
                       mc_thermo: Mapping[str, Estimate], n_spins: int,
                       temperature: float) -> dict[str, Any]:
    """R-hat, start-dependence and thermodynamics (vs Monte Carlo) of the second half of records."""
    keep = energy.shape[1] // 2  # second half of the records
    e, m = energy[:, keep:], absmag[:, keep:]
    rhat = {"energy": gelman_rubin(e), "abs_magnetization": gelman_rubin(m)}
    half = energy.shape[0] // 2
    thermo = thermodynamic_estimates(e.ravel(), m.ravel(), n_spins, temperature,
                                     n_blocks=min(20, energy.shape[0]))
    rel = {k: relative_error(thermo[k], mc_thermo[k]) for k in thermo}
    worst = max(rhat.values())
    return {"rhat": rhat, "rhat_max": worst, "equilibrated": bool(worst < RHAT_THRESHOLD),
            "noise_start_energy": float(e[:half].mean()), "data_start_energy": float(e[half:].mean()),
            "thermodynamics": {k: v.to_dict() for k, v in thermo.items()},
            "relative_error": rel}


def unusable_generation(analysis: Mapping[str, Any]) -> dict[str, str]:
    """``model -> 'NOT EQUILIBRATED (R-hat = x)'`` for the generation runs that are not results."""
    return {label: f"NOT EQUILIBRATED (R-hat = {g['rhat_max']:.2f})"
            for label, g in analysis["generation"].items() if not g["equilibrated"]}

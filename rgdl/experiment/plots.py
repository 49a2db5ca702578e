"""The figures stage of the experiment: every figure of ``figures/`` (PNG + PDF).

Curves from Gibbs chains the report declares not equilibrated are drawn marked as not usable;
correlation lengths without meaning for a layer's geometry
(:func:`rgdl.experiment.summary.xi_omission_reason`) are not drawn.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from analysis import figures
from analysis.thermodynamics import Estimate
from rgdl.experiment.cache import load_npz
from rgdl.experiment.config import ExperimentConfig
from rgdl.experiment.generation import unusable_generation
from rgdl.experiment.summary import MIN_LINEAR_SIZE_FOR_XI, xi_omission_reason

__all__ = ["draw_figures"]

#: Caption titles of the two block-spin fidelity figures (plain and with m, m^3 controlled).
FIDELITY_TITLES = {"": "Block-spin fidelity of the hidden units",
                   "_local": "Block-spin fidelity with the global magnetization (m, m^3) controlled"}


def _layer_figures(cfg: ExperimentConfig, analysis: Mapping[str, Any],
                   a: Mapping[str, NDArray[Any]], fig_dir: Path) -> list[Path]:
    """Receptive fields, localisation, reconstructions and the fidelity scans."""
    L = cfg.size
    n_layers = len(cfg.layers)
    written: list[Path] = []
    n = cfg.n_samples
    written += figures.plot_receptive_fields([a[f"rf_{l}"] for l in range(n_layers)], (L, L),
                                             fig_dir / "receptive_fields", samples=n)
    written += figures.plot_localization([a[f"radius_trained_{l}"] for l in range(n_layers)],
                                         [a[f"radius_untrained_{l}"] for l in range(n_layers)],
                                         fig_dir / "localization", size=L, samples=n)
    written += figures.plot_reconstructions(a["recon_input"], [a[f"recon_{l}"] for l in range(n_layers)],
                                            fig_dir / "reconstructions",
                                            labels=[f"from layer {l + 1}" for l in range(n_layers)],
                                            samples=n)
    layers = analysis["layers"]
    for suffix in ("", "_local"):
        nulls = {name: [layer[f"fidelity_scan{suffix}_null"][name] for layer in layers]
                 for name in layers[0][f"fidelity_scan{suffix}_null"]}
        written += figures.plot_fidelity([layer[f"fidelity_scan{suffix}"] for layer in layers],
                                         fig_dir / f"fidelity{suffix}", nulls=nulls, size=L,
                                         samples=n, title=FIDELITY_TITLES[suffix])
    return written


def _correlation_length_figure(cfg: ExperimentConfig, analysis: Mapping[str, Any],
                               fig_dir: Path) -> list[Path]:
    """xi per layer and per block size, only where the geometry gives it a meaning."""
    L = cfg.size
    layers = analysis["layers"]
    # NaN points are not drawn
    block_xi = {int(b): Estimate(v["value"], v["error"])
                for b, v in analysis["correlation_length_block_spins"].items()
                if xi_omission_reason((L // int(b)) ** 2) is None}

    def xi_of(layer: Mapping[str, Any], key: str) -> float:
        value = layer["correlation_length"][key]
        return math.nan if xi_omission_reason(layer["n_units"]) or value is None else value

    return figures.plot_correlation_lengths(
        [xi_of(layer, "value") for layer in layers], [xi_of(layer, "error") for layer in layers],
        analysis["correlation_length_data"]["value"], analysis["correlation_length_data"]["error"],
        [layer["lattice_spacing"] for layer in layers], fig_dir / "correlation_lengths",
        block_xi=block_xi, note="\n".join(
            f"layer {l + 1}: xi omitted (linear size {math.sqrt(layer['n_units']):.3g} "
            f"< {MIN_LINEAR_SIZE_FOR_XI})" for l, layer in enumerate(layers)
            if xi_omission_reason(layer["n_units"])), size=L, samples=cfg.n_samples)


def draw_figures(cfg: ExperimentConfig, analysis: Mapping[str, Any],
                 arrays_path: str | os.PathLike[str], fig_dir: Path) -> list[str]:
    """The figures stage: every figure of ``figures/`` from the analysis (PNG + PDF).

    Curves from Gibbs chains the report declares not equilibrated are drawn marked as not
    usable; correlation lengths without meaning for a layer's geometry
    (:func:`xi_omission_reason`) are not drawn.

    Returns
    -------
    list of str
        The files written.
    """
    a = load_npz(arrays_path, "analysis arrays")
    written = _layer_figures(cfg, analysis, a, fig_dir)
    written += _correlation_length_figure(cfg, analysis, fig_dir)
    r = a["g_r"]
    # samples of Gibbs chains that have not equilibrated are drawn marked as not usable
    unusable = unusable_generation(analysis)
    names = {"rbm1": "RBM 1", "stack": "stack"}
    L, n = cfg.size, cfg.n_samples
    n_gen = f"{n:,} MC / {cfg.generation_chains} Gibbs chains"
    written += figures.plot_correlation_functions(
        {"Monte Carlo": (r, a["g_mc"]), "RBM 1 samples": (r, a["g_rbm1"]),
         "stack samples": (r, a["g_stack"])}, fig_dir / "correlation_functions",
        unusable={f"{names[label]} samples": reason for label, reason in unusable.items()},
        size=L, samples=n_gen)
    written += figures.plot_thermodynamics(
        {names[label]: analysis["generation"][label]["relative_error"] for label in names},
        fig_dir / "thermodynamics",
        unusable={names[label]: reason for label, reason in unusable.items()},
        size=L, samples=n_gen)
    written += figures.plot_rbm_flow(np.arange(a["flow_T"].shape[1]), a["flow_T"], a["flow_T0"],
                                     fig_dir / "rbm_flow",
                                     critical_temperature=analysis["flow"]["critical_temperature"],
                                     errors=a["flow_T_err"],
                                     training_temperature=analysis["flow"]["training_temperature"],
                                     size=L, samples=n)
    return [str(p) for p in written]

"""``report.md``: the analysis and its summary as Markdown, caveats included.

:func:`render_report` joins its sections, each a function returning a list of lines: the run's
settings and budgets, the layers-vs-block-spins table with its notes, generation, the KL
divergence and the RBM flow, and the figures with their caveats.
"""

from __future__ import annotations

from typing import Any, Mapping

from rgdl.experiment.config import LATER_FIELDS, ExperimentConfig
from rgdl.experiment.generation import RHAT_THRESHOLD, unusable_generation
from rgdl.experiment.summary import (MIN_LINEAR_SIZE_FOR_XI, NULL_SEPARATION_CRITERION,
                                     xi_omission_reason)

__all__ = ["render_report", "format_estimate"]

FIGURE_NAMES = ("receptive_fields", "localization", "reconstructions", "fidelity", "fidelity_local",
                "correlation_lengths", "correlation_functions", "thermodynamics", "rbm_flow")


def format_estimate(est: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``"value ± error"`` of an estimate dict (``"n/a"`` when missing)."""
    if est is None or est.get("value") is None:
        return "n/a"
    return f"{est['value']:.{digits}g} ± {est['error']:.2g}" if est.get("error") is not None \
        else f"{est['value']:.{digits}g}"


def _null_epochs(cfg: ExperimentConfig) -> int:
    return min(cfg.null_epochs or cfg.n_epochs, cfg.n_epochs)


def _recipe_note(cfg: ExperimentConfig) -> str:
    """The recipe fields of :data:`LATER_FIELDS` that differ from their defaults, for the report."""
    changed = {k: v for k, v in cfg.to_dict().items() if k in LATER_FIELDS}
    return "".join(f", {k.replace('_', ' ')} {v}" for k, v in changed.items())


def _header(cfg: ExperimentConfig) -> list[str]:
    return [f"# rgdl reproduce — {cfg.size}×{cfg.size} Ising, coupling {cfg.coupling} at T = "
            f"{cfg.temperature}, stack {'-'.join(str(x) for x in (cfg.size ** 2,) + tuple(cfg.layers))}",
            "", f"{cfg.n_samples} Monte Carlo samples ({cfg.algorithm}); RBMs: {cfg.units} units, "
            f"CD-{cfg.cd_k}, {cfg.n_epochs} epochs, batch {cfg.batch_size}, learning rate "
            f"{cfg.learning_rate}, L1 {cfg.l1}{_recipe_note(cfg)}; seed {cfg.seed}.", "",
            f"Analysis budget: receptive-field, fidelity and correlation analyses use the first "
            f"{min(cfg.analysis_samples, cfg.n_samples)} of the {cfg.n_samples} samples; generation "
            f"runs {cfg.generation_chains} Gibbs chains ({cfg.generation_chains // 2} from noise, "
            f"{cfg.generation_chains // 2} from data) for {cfg.generation_steps} sweeps, with "
            f"statistics and R̂ from the second half of {cfg.generation_records} records; the RBM "
            f"flow starts from {cfg.flow_samples} Wolff samples per temperature and runs "
            f"{cfg.flow_steps} steps; the shuffled-data null is trained for "
            f"{_null_epochs(cfg)} epochs per layer (the trained stack: {cfg.n_epochs}).", ""]


def _verdict(separated: bool, margin: float | None) -> str:
    """The table's null verdict: separated, or not (bold), with the margin in sigma."""
    sigma = "" if margin is None else f" ({margin:+.2f} σ)"
    return f"separated{sigma}" if separated else f"**not separated from the null**{sigma}"


def _layer_row(l: int, layer: Mapping[str, Any], entry: Mapping[str, Any],
               footnotes: dict[str, int]) -> str:
    nulls = " / ".join(f"{v:.3f}" for v in layer["block_fidelity_null"].values())
    versus = _verdict(entry["separated_from_null"], entry["null_margin_sigma"])
    if entry["correlation_length_reason"]:
        mark = footnotes.setdefault(entry["correlation_length_reason"], len(footnotes) + 1)
        xi = f"—[^xi{mark}]"
    else:
        xi = format_estimate(layer["correlation_length"])
    return (f"| {l + 1} | {layer['n_units']} | {layer['receptive_field_radius']:.2f} "
            f"({layer['receptive_field_radius_untrained']:.2f}) | {layer['best_block_size']} | "
            f"{layer['block_fidelity']:.3f} ± {layer['block_fidelity_error']:.3f} "
            f"({layer['block_fidelity_ceiling']:.3f}) | {nulls} | {versus} | "
            f"{layer['best_block_size_local']}, {layer['block_fidelity_local']:.3f} "
            f"({layer['block_fidelity_local_ceiling']:.3f}), "
            + " / ".join(f"{v:.3f}" for v in layer["block_fidelity_local_null"].values())
            + "; " + _verdict(entry["separated_from_null_local"], entry["null_margin_sigma_local"])
            + f" | {xi} ({layer['rg_expected_correlation_length']:.3g}) |")


def _layers_table(analysis: Mapping[str, Any], summary: Mapping[str, Any]) -> list[str]:
    lines = ["## Layers vs block spins", "",
             "| layer | units | RF radius (untrained) | best b | fidelity (ceiling) | null: untrained / shuffled "
             "| vs nulls | local: best b, fidelity (ceiling), nulls; vs nulls | ξ (RG ξ0/a) |",
             "|---|---|---|---|---|---|---|---|---|"]
    footnotes: dict[str, int] = {}
    for l, (layer, entry) in enumerate(zip(analysis["layers"], summary["layers"])):
        lines.append(_layer_row(l, layer, entry, footnotes))
    lines.append("")
    for reason, mark in footnotes.items():
        lines.append(f"[^xi{mark}]: ξ omitted: {reason} (ξ is reported for linear sizes "
                     f"sqrt(units) ≥ {MIN_LINEAR_SIZE_FOR_XI} only).")
    return lines


def _layers_notes(cfg: ExperimentConfig, analysis: Mapping[str, Any]) -> list[str]:
    block_xi = ", ".join(
        f"b={b}: " + ("— (block lattice "
                      f"{cfg.size // int(b)}×{cfg.size // int(b)} < {MIN_LINEAR_SIZE_FOR_XI}, omitted)"
                      if xi_omission_reason((cfg.size // int(b)) ** 2) else format_estimate(v))
        for b, v in analysis["correlation_length_block_spins"].items())
    return ["", "Separation from the nulls: " + NULL_SEPARATION_CRITERION + ". A layer marked "
            "**not separated from the null** does not do measurably better than a network that "
            "never saw the spatial structure of the data; its fidelity is not evidence of "
            "block-spin (RG) behaviour. The local fidelity is judged by the same rule, at its "
            "own best b with its own errors and nulls (verdict in the local column).",
            "", f"Data: ξ_2nd = {format_estimate(analysis['correlation_length_data'])} lattice "
            "spacings; majority block spins: " + block_xi,
            "", "RF radius: median core radius of gyration of r² (window half-width "
            f"{analysis['localization_window']}); fidelity: mean over units of the best |corr| with a "
            "majority-rule block spin at the best block size b; ceiling: a perfect linear block sum; "
            "local: the same with the sample magnetization (m, m³) regressed out of units and block "
            "spins (partial correlation: what a unit knows beyond the global magnetization); "
            "ξ of hidden layers: activations E[h | below] (mean-field up-pass), each unit "
            "sign-aligned with its best block spin and placed at its receptive-field centre, in "
            "units of the layer spacing a = sqrt(N_visible/N_units).", "",
            "Nulls at the same b: *untrained* = the same architecture at initialisation "
            f"(w ~ N(0, {cfg.init_scale}²), zero biases); *shuffled* = the same recipe trained for "
            f"{_null_epochs(cfg)} epochs per layer (the trained "
            f"stack: {cfg.n_epochs}; when shorter, the null is less converged than the trained "
            "stack, so its scores are those of a less-trained network) on data whose sites "
            "were permuted independently in every sample (keeps each sample's magnetization, "
            "destroys all spatial structure).", ""]


def _generation_section(analysis: Mapping[str, Any]) -> list[str]:
    lines = ["## Generation", ""]
    for label, name in (("rbm1", "First RBM alone"), ("stack", "Whole stack (top-layer Gibbs, down-pass)")):
        g = analysis["generation"][label]
        rh = g["rhat"]
        lines += [f"### {name}", "",
                  f"Gelman–Rubin R̂ (chains from noise and from data): energy {rh['energy']:.3f}, "
                  f"|M| {rh['abs_magnetization']:.3f}; mean energy per spin of noise-started chains "
                  f"{g['noise_start_energy']:.4f}, data-started {g['data_start_energy']:.4f}.", ""]
        if not g["equilibrated"]:
            lines.append(f"**The model's Gibbs chains have not equilibrated (R̂ ≥ {RHAT_THRESHOLD}):** "
                         "chains started from noise and from data disagree, so the generated "
                         "thermodynamics are not reported as results. Its curves in "
                         "`thermodynamics.png` and `correlation_functions.png` are drawn hollow "
                         f"and marked \"NOT EQUILIBRATED (R-hat = {g['rhat_max']:.2f})\": not usable.")
        else:
            lines.append("| observable | Monte Carlo | generated | relative error |")
            lines.append("|---|---|---|---|")
            for k, rel in g["relative_error"].items():
                lines.append(f"| {k} | {format_estimate(analysis['monte_carlo'][k], 4)} | "
                             f"{format_estimate(g['thermodynamics'][k], 4)} | "
                             f"{rel['value']:+.3f} ± {rel['error']:.3f} |")
        lines.append("")
    return lines


def _kl_and_flow_section(analysis: Mapping[str, Any]) -> list[str]:
    kl = analysis["kl"]
    flow = analysis["flow"]
    half = (f"With half the annealing schedule ({kl['ais_half_betas']} betas) AIS gives "
            f"ln Z_RBM = {kl['log_z_rbm_half_schedule']:.2f} ± "
            f"{kl['log_z_rbm_half_schedule_error']:.2g}: the estimate moved by "
            f"{kl['ais_schedule_shift_per_spin']:+.4f} nats per spin when the schedule doubled, "
            "a measure of the bias still left (a converged schedule would move it by less "
            "than the error)." if "ais_half_betas" in kl else "")
    return ["## KL divergence and RBM flow", "",
            f"KL(P_Ising ‖ p_RBM1) per spin = {format_estimate(kl['per_spin'])} nats (Kaufman ln Z = "
            f"{kl['log_z_ising']:.2f}; AIS ln Z_RBM = {kl['log_z_rbm']:.2f} ± {kl['log_z_rbm_error']:.2g}, "
            f"{kl['ais_betas']} betas × {kl['ais_runs']} runs). "
            "AIS is a stochastic lower bound on ln Z_RBM (Jensen's inequality), so this KL is "
            "biased low; the quoted error propagates only the AIS run-to-run standard error. "
            + half, "",
            "RBM flow (v → h → v with the first RBM) from T/J = "
            + ", ".join(f"{t:.3g}" for t in flow["start_temperatures"])
            + ": final effective temperatures " + ", ".join(
                "n/a" if t is None else f"{t:.3g}" for t in flow["final_T"])
            + f"; fixed point T*/J = {format_estimate(flow['fixed_point'])} (spread over starts), "
            f"vs T_c/J = {flow['critical_temperature']:.4f} and the training T/J = "
            f"{flow['training_temperature']:.4f}.", ""]


def _figures_section(analysis: Mapping[str, Any], summary: Mapping[str, Any]) -> list[str]:
    lines = ["## Figures", ""]
    unusable = unusable_generation(analysis)
    names = {"rbm1": "RBM 1", "stack": "whole stack"}
    omitted = [str(l + 1) for l, e in enumerate(summary["layers"]) if e["correlation_length_reason"]]
    captions = {
        "correlation_lengths": (f"Layer(s) {', '.join(omitted)}: ξ omitted (linear size < "
                                f"{MIN_LINEAR_SIZE_FOR_XI}), not drawn." if omitted else ""),
        "correlation_functions": "; ".join(f"{names[k]} samples: {v}" for k, v in unusable.items()),
        "thermodynamics": "; ".join(f"{names[k]}: {v}" for k, v in unusable.items()),
    }
    for key in ("correlation_functions", "thermodynamics"):
        if captions[key]:
            captions[key] = (f"**Caveat:** {captions[key]}: drawn hollow and watermarked; these "
                             "Gibbs chains have not equilibrated, so the curves are not results.")
    for name in FIGURE_NAMES:
        lines.append(f"![{name}](figures/{name}.png)")
        if captions.get(name):
            lines += ["", captions[name], ""]
    lines.append("")
    return lines


def render_report(cfg: ExperimentConfig, analysis: Mapping[str, Any],
                  summary: Mapping[str, Any]) -> str:
    """``report.md``: the analysis and its summary as Markdown, caveats included."""
    lines = (_header(cfg) + _layers_table(analysis, summary) + _layers_notes(cfg, analysis)
             + _generation_section(analysis) + _kl_and_flow_section(analysis)
             + _figures_section(analysis, summary))
    return "\n".join(lines)

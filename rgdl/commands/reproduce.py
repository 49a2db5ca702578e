"""``rgdl reproduce``: the paper's experiment end to end (a thin layer over :mod:`rgdl.pipeline`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from rgdl.commands.options import (POSITIVE_COUNT, Command, out_option, overwrite_option,
                                   quiet_option, samples_option, seed_option)

if TYPE_CHECKING:
    from tqdm import tqdm


class _StageProgress:
    """One line per stage on stderr, with a tqdm bar for stages that report counts."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm[Any] | None = None
        self.label: str | None = None
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int | None, total: Any) -> None:
        """``total``: the stage's count, or its message when ``done`` is None (it starts)."""
        if not self.enabled:
            return
        if done is None:  # a stage starts (or is cached)
            self._close()
            self.started[stage] = time.perf_counter()
            click.echo(f"[{stage}] {total}", err=True)
            return
        if self.label != stage or self.bar is None:
            self._close()
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=stage, leave=False, dynamic_ncols=True)
            self.label = stage
        self.bar.update(done - self.bar.n)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.label = None

    def close(self) -> None:
        self._close()


def _verdict(separated: bool, margin: float | None) -> str:
    """``separated from the null (margin ...)`` or the same in capitals when not separated."""
    text = "" if margin is None else f"margin {margin:+.2f} sigma"
    return (f"separated from the null ({text})" if separated
            else f"NOT SEPARATED FROM THE NULL ({text})")


def _local_fidelity(layer: Mapping[str, Any]) -> str:
    """The local block-spin fidelity (magnetization regressed out) and its null verdict."""
    if "separated_from_null_local" not in layer:
        return ""
    return (f"; local fidelity {layer['block_fidelity_local']:.3f} ± "
            f"{layer['block_fidelity_local_error']:.3f} (b = {layer['best_block_size_local']}) "
            + _verdict(layer["separated_from_null_local"], layer["null_margin_sigma_local"]))


@click.command(cls=Command)
@click.option("--quick", is_flag=True,
              help="Small version (16x16, 256-64-16-4, 20 epochs): a first look in under a "
                   "minute (the default).")
@click.option("--paper", is_flag=True,
              help="The paper's setting: 40x40 at coupling 0.408, 20,000 samples, 1600-400-100-25, "
                   "CD-1, 200 epochs, L1 2e-4.")
@click.option("--recipe", default=None, metavar="NAME",
              help="Training recipe (rgdl.pipeline.RECIPES) on the --quick/--paper sizes: rgdl "
                   "(the default: spin units, learning rate 0.01, L1 2e-4); hinton (Hinton & "
                   "Salakhutdinov's rbm.m, which Mehta & Schwab used: {0,1} units, learning rate "
                   "0.1, momentum 0.5 then 0.9, L2 weight cost 2e-4, weights 0.1 N(0,1), visible "
                   "probabilities in the negative phase, mean up-propagation); hinton-l1 (the "
                   "same with the paper's L1 2e-4).")
@out_option(file=False, default="rgdl-results", show_default=True,
            help="Results folder (figures/, summary.json, report.md).")
@seed_option(default=0, help="Root seed of every random step.")
@click.option("--epochs", type=POSITIVE_COUNT, default=None,
              help="Override the number of training epochs.")
@samples_option(default=None, help="Override the number of Monte Carlo samples.")
@click.option("--force", is_flag=True,
              help="Recompute the analysis and figures even if cached (data and models whose "
                   "parameters match are reused; corrupt cached data or models are recomputed).")
@overwrite_option(help="Replace the results of another configuration in OUT (without it, such a "
                       "folder, or a non-empty folder holding no rgdl results, is an error).")
@quiet_option()
def reproduce(quick: bool, paper: bool, recipe: str | None, out: str, seed: int,
              epochs: int | None, samples: int | None, force: bool, overwrite: bool,
              quiet: bool) -> None:
    """Reproduce Mehta & Schwab (arXiv:1410.3831) and measure it.

    Simulates the 2D Ising model, trains a stack of RBMs layer by layer with contrastive
    divergence, and measures receptive-field localisation, block-spin fidelity per layer (best
    block size, nulls, ceiling), correlation lengths, generation quality with a convergence check,
    KL(P_Ising || p_RBM) per spin and the RBM flow. Writes figures (PNG + PDF), summary.json and
    report.md to OUT. Every stage is cached by its parameters: rerunning skips finished stages and
    a killed run resumes.
    """
    from rgdl.pipeline import preset, run_pipeline

    if quick and paper:
        raise click.UsageError("--quick and --paper are mutually exclusive")
    mode = "paper" if paper else "quick"
    # an unknown recipe is preset's ValueError: one line "Error: unknown recipe ...", exit 2
    config = preset(mode, recipe, seed=seed, n_epochs=epochs, n_samples=samples)
    progress = _StageProgress(not quiet)
    started = time.perf_counter()
    try:
        summary = run_pipeline(config, out, progress=progress, force=force, overwrite=overwrite)
    finally:
        progress.close()
    wall = time.perf_counter() - started
    lines = [f"results:   {out}/ (report.md, summary.json, figures/)"]
    footnotes = []
    for l, layer in enumerate(summary["layers"]):
        nulls = ", ".join(f"{k} {v:.3f}" for k, v in layer["block_fidelity_null"].items())
        verdict = _verdict(layer["separated_from_null"], layer["null_margin_sigma"])
        if layer["correlation_length_reason"]:
            footnotes.append(f"layer {l + 1}: {layer['correlation_length_reason']}")
            xi = f"xi -[{len(footnotes)}]"
        elif (layer["correlation_length"] or {}).get("value") is None:
            xi = "xi n/a"
        else:
            xi = f"xi {layer['correlation_length']['value']:.3g}"
        lines.append(f"layer {l + 1}:   best block b = {layer['best_block_size']}, fidelity "
                     f"{layer['block_fidelity']:.3f} ± {layer['block_fidelity_error']:.3f} "
                     f"(ceiling {layer['block_fidelity_ceiling']:.3f}; null: {nulls}) {verdict}, "
                     f"RF radius {layer['receptive_field_radius']:.2f} "
                     f"(untrained {layer['receptive_field_radius_untrained']:.2f}), {xi}"
                     + _local_fidelity(layer))
    if not all(layer["separated_from_null"] and layer.get("separated_from_null_local", True)
               for layer in summary["layers"]):
        lines.append(f"           separated: {summary['null_separation_criterion']}")
    for k, note in enumerate(footnotes, 1):
        lines.append(f"           [{k}] xi omitted for {note}")
    if summary["generation_equilibrated"]:
        e = summary["generated_energy_rel_error"]
        m = summary["generated_abs_magnetization_rel_error"]
        lines.append(f"RBM 1:     <E> rel. error {e['value']:+.4f} ± {e['error']:.4f}, <|M|> rel. error "
                     f"{m['value']:+.4f} ± {m['error']:.4f} (R-hat {summary['generation_rhat']:.3f})")
    else:
        lines.append(f"RBM 1:     Gibbs chains NOT equilibrated (R-hat {summary['generation_rhat']:.3f}); "
                     "no generation numbers reported")
    kl = summary["kl_per_spin_layer1"]
    if kl and kl.get("value") is not None:
        lines.append(f"KL/N:      {kl['value']:.4f} ± {kl['error']:.4f} nats (first RBM; AIS lower-bounds "
                     "ln Z, so biased low)")
    fp = summary["rbm_flow_fixed_point_T"]
    if fp and fp.get("value") is not None:
        lines.append(f"RBM flow:  fixed point T/J = {fp['value']:.3f} (spread {fp['error']:.3f}); "
                     f"T_c/J = {summary['rbm_flow_critical_T']:.3f}")
    timings = summary.get("timings") or {}
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if isinstance(v, (int, float)))
    if stages:
        lines.append(f"stages:    {stages}")
    lines.append(f"wall time: {wall:.1f} s")
    click.echo("\n".join(lines))

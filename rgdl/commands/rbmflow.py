"""``rgdl rbmflow``: the RBM flow of Iso, Shiba & Yokoo (PRE 97, 053304 (2018)), their protocol.

A thin layer over :func:`analysis.iso_flow.run_protocol`: Monte Carlo training data from a grid
of temperatures, one RBM per number of hidden units trained on all of it, flows from Monte
Carlo samples at several start temperatures, an independent MC-calibrated thermometer
(:mod:`analysis.thermometer`) and the fixed point ``T*`` with its error.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rgdl.commands.options import (POSITIVE_COUNT, Command, json_option, out_option,
                                   overwrite_option, prepare_output_dir, quiet_option, real,
                                   refuse_existing, samples_option, seed_option, size_option)

RESULT_NAME = "rbmflow.json"
FLOWS_FIGURE = "rbmflow_flows"
FIXED_POINT_FIGURE = "rbmflow_fixed_points"

if TYPE_CHECKING:
    from tqdm import tqdm

_T = TypeVar("_T")


def parse_list(text: str, kind: Callable[[str], _T], name: str) -> list[_T]:
    """``"1,2,3"`` -> [kind(1), kind(2), kind(3)]; a ValueError naming the option otherwise."""
    try:
        values = [kind(part) for part in str(text).split(",") if part.strip() != ""]
    except ValueError:
        raise ValueError(f"{name} must be a comma-separated list of numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} is empty")
    return values


def _finite(value: object) -> object:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _clean(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=float), parse_constant=lambda _c: None)


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object of ``--json``: the protocol's result plus the top-level fixed point.

    ``fixed_point_T`` / ``fixed_point_T_err`` are those of the first entry of ``--hidden``."""
    first = result["models"][0]["fixed_point"]
    out = dict(result)
    out["fixed_point_T"] = first["value"]
    out["fixed_point_T_err"] = first["error"]
    out["hidden_unit_table"] = [{"n_hidden": m["n_hidden"], "T_star": m["fixed_point"]["value"],
                                 "T_star_err": m["fixed_point"]["error"],
                                 "spread": m["fixed_point"]["spread"]}
                                for m in result["models"]]
    return _clean(out)


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or stage != self.stage:
            self.close()
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=stage, leave=False, dynamic_ncols=True)
            self.stage = stage
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None
        self.stage = None


@click.command(cls=Command)
@size_option(default=10, show_default=True,
             help="Lattice side L (Iso et al.: 10, i.e. 100 visible units).")
@click.option("--t-min", type=real(0, min_open=True), default=0.25, show_default=True,
              help="Lowest training temperature.")
@click.option("--t-max", type=real(0, min_open=True), default=6.0, show_default=True,
              help="Highest training temperature.")
@click.option("--t-step", type=real(0, min_open=True), default=0.25, show_default=True,
              help="Spacing of the training temperatures.")
@samples_option(default=500, show_default=True,
                help="Monte Carlo configurations per training temperature (the same number "
                     "again, independent, trains the thermometer).")
@click.option("--hidden", default="64", show_default=True,
              help="Hidden units; a comma-separated list gives the hidden-unit table.")
@click.option("--units", type=click.Choice(["binary", "spin"]), default="binary",
              show_default=True, help="RBM unit values (Iso et al.: binary {0,1}).")
@click.option("--epochs", type=POSITIVE_COUNT, default=20, show_default=True,
              help="CD epochs per RBM.")
@click.option("--learning-rate", type=real(0, min_open=True), default=0.01, show_default=True,
              help="CD learning rate.")
@click.option("--cd-k", type=POSITIVE_COUNT, default=1, show_default=True,
              help="Gibbs steps of CD-k.")
@click.option("--steps", type=POSITIVE_COUNT, default=100, show_default=True,
              help="Flow steps v -> h -> v'.")
@click.option("--starts", default="0.5,1.5,3.5,6.0", show_default=True,
              help="Start temperatures of the flows (comma-separated).")
@click.option("--flow-samples", type=POSITIVE_COUNT, default=300, show_default=True,
              help="Monte Carlo configurations per start temperature (also per thermometer check).")
@click.option("--mode", type=click.Choice(["sample", "mean"]), default="sample",
              show_default=True,
              help="Flow through sampled conditionals (block Gibbs) or conditional means.")
@click.option("--contrast", "contrast", type=real(0, min_open=True), default=None,
              help="Also flow the contrast: an RBM trained at this single temperature (as in "
                   "`rgdl reproduce`), on as many configurations as the pooled training set.")
@seed_option(default=0, help="Root seed of every random step (same seed, same numbers).")
@json_option()
@out_option(file=False, default=None,
            help="Results folder: rbmflow.json, figures (PNG + PDF) and models/ (trained RBMs, "
                 "reused by a rerun with the same settings).")
@overwrite_option(help="Replace existing results in OUT.")
@quiet_option(help="No progress bars.")
def rbmflow(size: int, t_min: float, t_max: float, t_step: float, samples: int, hidden: str,
            units: str, epochs: int, learning_rate: float, cd_k: int, steps: int, starts: str,
            flow_samples: int, mode: str, contrast: float | None, seed: int, as_json: bool,
            out: str | None, overwrite: bool, quiet: bool) -> None:
    """The RBM flow of Iso, Shiba & Yokoo (PRE 97, 053304 (2018)) and its fixed point T*.

    Trains one RBM on Monte Carlo configurations of the periodic L x L Ising model pooled from
    all temperatures T-MIN, T-MIN + T-STEP, ..., T-MAX, then iterates v -> h -> v' from Monte
    Carlo samples at each start temperature. The effective temperature after every step is
    read by a thermometer trained on independent, labelled Monte Carlo samples (Gaussian
    classifier on correlation features, calibrated on held-out samples; errors by bootstrap).
    T* is the mean over starts of each flow's final T_eff; its error combines the starts'
    spread and the statistical error. Compare with T_c = 2.269.

    JSON: {"fixed_point_T", "fixed_point_T_err" (first --hidden entry), "hidden_unit_table":
    [{"n_hidden", "T_star", "T_star_err", "spread"}], "settings", "critical_temperature",
    "thermometer": {"temperatures", "calibration", "calibration_error", "validation": [{"T",
    "T_eff", "T_eff_err", "deviation", "z", "in_range"}], "training_mixture": {"value", "error",
    "in_range"}}, "models": [{"n_hidden", "reused",
    "train_seconds", "reconstruction_error", "fixed_point": {"value", "error", "spread",
    "statistical", "finals", "last", "clipped_final_readings"}, "flows": [{"T0", "T_eff",
    "T_eff_err", "in_range"}]}], "single_temperature" (with --contrast: {"T", "n_hidden",
    "n_samples", "reused", "train_seconds", "reconstruction_error", "fixed_point", "flows"},
    else null), "seconds", "figures"}.
    """
    from analysis.iso_flow import run_protocol, temperature_grid

    temperatures = temperature_grid(t_min, t_max, t_step)
    hidden_units = parse_list(hidden, int, "--hidden")
    start_temperatures = parse_list(starts, float, "--starts")
    if len(set(hidden_units)) != len(hidden_units):
        raise ValueError(f"--hidden has repeated entries: {hidden}")
    model_dir = None if out is None else _prepare_out(Path(out), overwrite)
    progress = _Progress(not quiet)
    started = time.perf_counter()
    try:
        result = run_protocol(size=size, temperatures=temperatures, n_samples=samples,
                              hidden_units=hidden_units, units=units, n_epochs=epochs,
                              learning_rate=learning_rate, cd_k=cd_k, n_steps=steps,
                              start_temperatures=start_temperatures, n_flow=flow_samples,
                              mode=mode, seed=seed, single_temperature=contrast,
                              model_dir=model_dir, progress=progress)
    finally:
        progress.close()
    result = summary(result)
    result["figures"] = [] if out is None else _write_results(result, Path(out), mode, epochs)
    if as_json:
        click.echo(json.dumps(result, default=_finite))
        return
    click.echo(f"RBM flow (Iso et al. protocol): L = {size}, T = {temperatures[0]:g}..{temperatures[-1]:g} "
               f"step {t_step:g} ({temperatures.size} temperatures x {samples} samples), {units} units, "
               f"{epochs} epochs, {steps} {mode} steps, seed {seed}")
    click.echo(format_report(result))
    click.echo(f"T_c = {result['critical_temperature']:.4f}; "
               f"{time.perf_counter() - started:.1f} s")
    if result["figures"]:
        click.echo("figures: " + ", ".join(result["figures"]))


def _prepare_out(out_dir: Path, overwrite: bool) -> Path:
    """Refuse existing results (unless ``overwrite``); create ``OUT/models``; return it."""
    outputs = [out_dir / RESULT_NAME] + [out_dir / f"{stem}.{ext}"
                                          for stem in (FLOWS_FIGURE, FIXED_POINT_FIGURE)
                                          for ext in ("png", "pdf")]
    refuse_existing(outputs, overwrite=overwrite,
                    hint=f"use --overwrite to replace the results; trained RBMs in "
                         f"{out_dir / 'models'} are reused")
    prepare_output_dir(out_dir)
    return prepare_output_dir(out_dir / "models")


def _write_results(result: dict[str, Any], out_dir: Path, mode: str, epochs: int) -> list[str]:
    """Figures (PNG + PDF) and ``rbmflow.json`` in ``out_dir``; returns the figure paths.

    The captions name the lattice side and the sample counts of ``result["settings"]``."""
    from analysis.figures import plot_iso_fixed_points, plot_iso_flows
    from analysis.iso_flow import caption_samples
    from ising.atomic import atomic_write_text

    size, samples = result["settings"]["size"], caption_samples(result["settings"])
    paths = plot_iso_flows(result["models"], out_dir / FLOWS_FIGURE,
                           critical_temperature=result["critical_temperature"], size=size,
                           samples=samples)
    if len(result["models"]) > 1:
        table = result["hidden_unit_table"]
        series = [(f"{mode} flow, {epochs} epochs", [r["n_hidden"] for r in table],
                   [r["T_star"] for r in table], [r["T_star_err"] for r in table])]
        paths += plot_iso_fixed_points(series, out_dir / FIXED_POINT_FIGURE,
                                       n_visible=size * size,
                                       critical_temperature=result["critical_temperature"],
                                       size=size, samples=samples)
    result["figures"] = [str(p) for p in paths]
    atomic_write_text(out_dir / RESULT_NAME, json.dumps(result, indent=1, default=_finite) + "\n")
    return result["figures"]


def format_report(result: Mapping[str, Any]) -> str:
    """The text table of ``rgdl rbmflow``: thermometer check, flows and T* per hidden size."""
    tc = result["critical_temperature"]
    lines = ["thermometer on independent MC samples: " + ", ".join(
        f"T = {r['T']:g}: {r['T_eff']:.3f} ± {r['T_eff_err']:.3f}"
        for r in result["thermometer"]["validation"])]
    mix = result["thermometer"]["training_mixture"]
    lines.append(f"pooled training set (a perfect model's stationary distribution) reads "
                 f"{mix['value']:.3f} ± {mix['error']:.3f}")
    for model in result["models"]:
        finals = ", ".join(f"{f['T0']:g} -> {f['T_eff'][-1]:.2f}" for f in model["flows"])
        lines.append(f"  {model['n_hidden']:4d} hidden: flows (T0 -> T_eff at the last step) "
                     f"{finals}")
    lines.append(f"{'hidden':>7}  {'T*':>6}  {'err':>5}  {'spread':>6}  {'(T*-Tc)/Tc':>10}")
    for row in result["hidden_unit_table"]:
        lines.append(f"{row['n_hidden']:7d}  {row['T_star']:6.3f}  {row['T_star_err']:5.3f}  "
                     f"{row['spread']:6.3f}  {(row['T_star'] - tc) / tc:+10.3f}")
    single = result["single_temperature"]
    if single is not None:
        fp = single["fixed_point"]
        lines.append(f"contrast, one RBM trained at T = {single['T']:g} only "
                     f"({single['n_hidden']} hidden): T* = {fp['value']:.3f} ± {fp['error']:.3f}")
    return "\n".join(lines)

"""Iso, Shiba & Yokoo's RBM flow (PRE 97, 053304 (2018)) with their protocol: the full study.

Runs :func:`analysis.iso_flow.run_protocol` on the 10 x 10 lattice (100 visible units) with
training data at T = 0.25, 0.50, ..., 6.00 for several numbers of hidden units and training
lengths, in the sampled flow mode (block Gibbs, the default) and, reusing the same trained RBMs,
the mean-field mode, plus the single-temperature contrast, and writes

* ``<results>/iso_flow.json``: every setting, the thermometer's calibration and its accuracy
  on independent Monte Carlo samples, every flow (T_eff +- err at every step up to 50, then
  every 50th; :func:`compact`) and fixed point;
* ``<results>/iso_flow.md``: the tables (thermometer check, hidden units vs T*, flows' ends);
* ``<figures>/iso_flow_flows.{png,pdf}`` and ``<figures>/iso_flow_fixed_points.{png,pdf}``.

Trained RBMs are cached in ``--models`` (reused by a rerun with the same settings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _markdown(runs, wall, name):
    first = runs[0]["result"]
    s = first["settings"]
    epochs = sorted({run["epochs"] for run in runs})
    tc = first["critical_temperature"]
    lines = [
        "# RBM flow of Iso, Shiba & Yokoo (PRE 97, 053304 (2018)), their protocol",
        "",
        f"Written by `scripts/iso_flow_study.py --name {name}` ({wall:.0f} s wall on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; the machine was shared, timings are noisy).",
        "",
        f"- Data: {s['size']} x {s['size']} periodic Ising lattice (J = 1), {s['algorithm']} Monte Carlo, "
        f"{len(s['temperatures'])} temperatures T = {s['temperatures'][0]:g}, ..., "
        f"{s['temperatures'][-1]:g} (step {s['temperatures'][1] - s['temperatures'][0]:g}), "
        f"{s['n_samples']} configurations each for the RBM and {s['thermometer_samples']} "
        "independent ones for the thermometer.",
        f"- RBM: {s['units']} {dict(binary='{0,1}', spin='{-1,+1}')[s['units']]} units, CD-{s['cd_k']}, "
        f"{' or '.join(str(e) for e in epochs)} epochs, learning rate "
        f"{s['learning_rate']:g}, batch {s['batch_size']}, momentum 0.5 -> 0.9, seed {s['seed']}; "
        "one RBM per number of hidden units, trained on all temperatures pooled.",
        f"- Flow: {s['n_flow']} independent MC configurations at each start T0 = "
        f"{', '.join(f'{t:g}' for t in s['start_temperatures'])}; {s['n_steps']} steps "
        "v -> h -> v'. *sample*: h ~ p(h|v), v' ~ p(v'|h) (block Gibbs); *mean*: conditional "
        "means E[h|v], E[v'|h] propagated (real-valued configurations).",
        "- Thermometer: Gaussian (QDA) classifier over the training temperatures on the "
        "nearest-neighbour, diagonal and distance-2 correlations, |m| and m^2, calibrated on "
        "held-out MC samples (`analysis.thermometer`); errors: bootstrap over configurations "
        "plus calibration error.",
        f"- T* = mean over starts of each flow's T_eff averaged over its last {s['last']} steps; "
        "error = sqrt(spread over starts^2 + statistical^2).",
        "",
        "## Thermometer on independent MC samples at known temperatures",
        "",
        "| T | T_eff | err | deviation | z |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in first["thermometer"]["validation"]:
        lines.append(f"| {r['T']:g} | {r['T_eff']:.3f} | {r['T_eff_err']:.3f} | "
                     f"{r['deviation']:+.3f} | {r['z']:+.2f} |")
    mix = first["thermometer"]["training_mixture"]
    lines += ["", f"The pooled training set itself (all {len(s['temperatures'])} temperatures) reads "
              f"T_eff = {mix['value']:.3f} ± {mix['error']:.3f}: where the sampled flow of a *perfect* "
              "model of the training data would end (its stationary distribution is the data's)."]
    lines += ["", f"## Fixed point vs hidden units (T_c = {tc:.4f}, {s['size'] ** 2} visible units)",
              "", "| hidden | epochs | mode | T* | err | spread over starts | (T* - T_c)/T_c | clipped "
              "| train s |",
              "|---:|---:|:---|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        mode, res = run["mode"], run["result"]
        for m in res["models"]:
            fp = m["fixed_point"]
            lines.append(f"| {m['n_hidden']} | {run['epochs']} | {mode} | {fp['value']:.3f} | "
                         f"{fp['error']:.3f} | "
                         f"{fp['spread']:.3f} | {(fp['value'] - tc) / tc:+.3f} | "
                         f"{fp['clipped_final_readings']} | {m['train_seconds']:.0f} |")
    for run in runs:
        mode, c = run["mode"], run["result"].get("single_temperature")
        if c is not None:
            fp = c["fixed_point"]
            lines.append(f"| {c['n_hidden']} (contrast: trained at T = {c['T']:g} only, "
                         f"{c['n_samples']} configurations) | {run['epochs']} | {mode} | "
                         f"{fp['value']:.3f} | "
                         f"{fp['error']:.3f} | {fp['spread']:.3f} | {(fp['value'] - tc) / tc:+.3f} | "
                         f"{fp['clipped_final_readings']} | {c['train_seconds']:.0f} |")
    lines += ["", "*clipped*: flows whose last reading lay outside the thermometer's calibrated "
              "range (the value is then a bound). *train s*: 0 when a cached RBM was reused.", "",
              f"## Flows: T_eff after 0, 1, 10, the last steps ({runs[0]['mode']} mode, "
              f"{runs[0]['epochs']} epochs)", "",
              "| hidden | T0 | step 0 | step 1 | step 10 | last |", "|---:|---:|---:|---:|---:|---:|"]
    for m in first["models"]:
        for f in m["flows"]:
            t, e = f["T_eff"], f["T_eff_err"]
            cells = " | ".join(f"{t[i]:.2f} ± {e[i]:.2f}" for i in (0, 1, min(10, len(t) - 1), -1))
            lines.append(f"| {m['n_hidden']} | {f['T0']:g} | {cells} |")
    lines += ["", f"Figures: `{name}_flows.png`, `{name}_fixed_points.png` (PNG + PDF).", ""]
    return "\n".join(lines)


def flow_steps_kept(n_steps, dense=50, stride=50):
    """Flow steps stored in the JSON: every step up to ``dense``, then every ``stride``-th and
    the last (the full flows are reproducible from the seed)."""
    kept = list(range(min(dense, n_steps) + 1)) + list(range(dense + stride, n_steps + 1, stride))
    if kept[-1] != n_steps:
        kept.append(n_steps)
    return kept


def compact(runs):
    """The runs with flows thinned to :func:`flow_steps_kept` and readings rounded to 1e-3."""
    def thin(model):
        model = dict(model)
        flows = []
        for f in model["flows"]:
            keep = flow_steps_kept(len(f["T_eff"]) - 1)
            flows.append({"T0": f["T0"], "steps": keep,
                          "T_eff": [round(f["T_eff"][i], 3) for i in keep],
                          "T_eff_err": [round(f["T_eff_err"][i], 3) for i in keep],
                          "in_range": [f["in_range"][i] for i in keep]})
        model["flows"] = flows
        return model

    out = []
    for run in runs:
        result = dict(run["result"])
        result["models"] = [thin(m) for m in result["models"]]
        if result.get("single_temperature") is not None:
            result["single_temperature"] = thin(result["single_temperature"])
        out.append(dict(run, result=result))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000, help="MC samples per temperature")
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 36, 64, 100, 144])
    parser.add_argument("--epochs", type=int, nargs="+", default=[100, 20],
                        help="training epochs (several: one full study each; the first is the "
                             "headline, drawn in the flows figure)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--starts", type=float, nargs="+",
                        default=[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0])
    parser.add_argument("--flow-samples", type=int, default=500)
    parser.add_argument("--modes", nargs="+", choices=["sample", "mean"], default=["sample", "mean"])
    parser.add_argument("--contrast", type=float, default=2.269,
                        help="temperature of the single-temperature contrast RBM (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--algorithm", choices=["wolff", "metropolis"], default="wolff",
                        help="Monte Carlo of the data (metropolis: the whole temperature grid "
                             "in multi-spin lanes, ising.sample_temperature_grid)")
    parser.add_argument("--models", default=None, help="checkpoint folder for the trained RBMs")
    parser.add_argument("--results", default="docs/results", help="folder of iso_flow.md/.json")
    parser.add_argument("--figures", default="docs/figures", help="folder of the figures")
    parser.add_argument("--name", default="iso_flow",
                        help="stem of the result files (NAME.md, NAME.json, NAME_flows.png, ...)")
    args = parser.parse_args(argv)

    from analysis.figures import plot_iso_fixed_points, plot_iso_flows
    from analysis.iso_flow import ISO_TEMPERATURES, caption_samples, run_protocol
    from ising.atomic import atomic_write_text

    results_dir, figures_dir = Path(args.results), Path(args.figures)
    results_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    if args.models is not None:
        Path(args.models).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def progress(stage, done, total):
        if done == total:
            print(f"  {stage}: {done}/{total} ({time.perf_counter() - started:.0f} s)", flush=True)

    runs = []
    for epochs in args.epochs:
        for mode in args.modes:
            print(f"{epochs} epochs, mode {mode} ...", flush=True)
            result = run_protocol(
                size=args.size, temperatures=ISO_TEMPERATURES, n_samples=args.samples,
                hidden_units=args.hidden, n_epochs=epochs, learning_rate=args.learning_rate,
                n_steps=args.steps, start_temperatures=args.starts, n_flow=args.flow_samples,
                mode=mode, seed=args.seed, model_dir=args.models, progress=progress,
                algorithm=args.algorithm,
                single_temperature=args.contrast or None)
            runs.append({"epochs": epochs, "mode": mode, "result": result})
            for m in result["models"]:
                fp = m["fixed_point"]
                print(f"  {m['n_hidden']} hidden: T* = {fp['value']:.3f} ± {fp['error']:.3f} "
                      f"(spread {fp['spread']:.3f}; trained in {m['train_seconds']:.0f} s"
                      f"{', reused' if m['reused'] else ''})", flush=True)
    wall = time.perf_counter() - started
    first = runs[0]["result"]
    # every run has the same data (only epochs and mode differ): one lattice, one sample count
    size, samples = first["settings"]["size"], caption_samples(first["settings"])
    plot_iso_flows(first["models"], figures_dir / f"{args.name}_flows",
                   critical_temperature=first["critical_temperature"], size=size, samples=samples)
    series = [(f"{run['mode']} flow, {run['epochs']} epochs",
               [m["n_hidden"] for m in run["result"]["models"]],
               [m["fixed_point"]["value"] for m in run["result"]["models"]],
               [m["fixed_point"]["error"] for m in run["result"]["models"]]) for run in runs]
    if len(args.hidden) > 1:
        plot_iso_fixed_points(series, figures_dir / f"{args.name}_fixed_points",
                              n_visible=args.size ** 2,
                              critical_temperature=first["critical_temperature"], size=size,
                              samples=samples)
    atomic_write_text(results_dir / f"{args.name}.json",
                  json.dumps({"wall_seconds": wall, "cpu_count": os.cpu_count(),
                              "runs": compact(runs)}, default=float) + "\n")
    atomic_write_text(results_dir / f"{args.name}.md", _markdown(runs, wall, args.name))
    print(f"wrote {results_dir / (args.name + '.md')} and .json, figures in {figures_dir} "
          f"({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

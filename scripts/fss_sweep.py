#!/usr/bin/env python
"""Finite-size scaling of the 2D Ising model from a 12-temperature x 3-size Dask sweep.

Runs ``rgdl.sweep.run_sweep`` over T in 2.20..2.34 (12 values) and L = 16, 32, 64 with the Wolff
algorithm (dynamic exponent z ~ 0.25, so the points near T_c decorrelate in a few sweeps), then
``analysis.fss``: the Binder-cumulant crossing gives T_c with a bootstrap error bar, to compare
with Onsager's T_c = 2/ln(1 + sqrt 2) = 2.269185; the figure shows the Binder cumulant, the
susceptibility and <|m|> against T and their collapses with the exact nu = 1, gamma = 7/4,
beta = 1/8. Rerunning resumes/skips finished points (the sweep is idempotent).

The grid is dense around T_c on purpose: the crossing is found by local cubic fits of U_L(T), and
on a coarse grid (2.10..2.55, L = 8/16/32) their interpolation error biased the crossing by about
-0.005 (-3 sigma). The susceptibility peaks of the smaller sizes lie above 2.34; widen -T to
bracket them.

``--benchmark`` instead times one fixed sweep with 1 and with 2 LocalCluster workers (fresh
directories, cluster start-up included) and draws the scaling figure.

Examples::

    python scripts/fss_sweep.py --out results/fss_sweep --workers 2
    python scripts/fss_sweep.py --benchmark --samples 2000 --out results/fss_bench
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import click
from tqdm.auto import tqdm

from analysis import fss
from analysis.figure_style import OKABE_ITO, new_figure, save_figure, set_caption
from ising.atomic import atomic_write_text
from rgdl import sweep as sw


def _run(out, *, temperatures, sizes, samples, algorithm, workers, seed, bootstrap, quiet):
    spec = sw.SweepSpec(temperatures=sw.parse_values(temperatures, name="--temperatures"),
                        sizes=sw.parse_values(sizes, kind=int, name="--sizes"),
                        seeds=[seed], algorithm=algorithm, n_samples=samples)
    bar = None

    def progress(n_todo, entry):
        nonlocal bar
        if quiet:
            return
        if entry is None:
            bar = tqdm(total=n_todo, unit="point", desc="sweep")
        else:
            bar.update(1)

    try:
        result = sw.run_sweep(spec, out, workers=workers, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"{result.n_points} points ({result.n_skipped} already finished, "
               f"{result.n_computed} computed) in {result.wall_s:.1f} s -> {result.out}")
    analysis = fss.analyze(sw.sweep_table(out), n_bootstrap=bootstrap, seed=seed,
                           require_crossing=True)
    files = fss.plot_fss(analysis, Path(out) / "fss", samples=samples)
    atomic_write_text(Path(out) / "fss.json", json.dumps(analysis.as_dict(), indent=1,
                                                         allow_nan=False) + "\n")
    click.echo(analysis.report())
    c = analysis.crossing
    within = abs(c.temperature / fss.TC_EXACT - 1)
    click.echo(f"T_c = {c.temperature:.4f} +- {c.error:.4f} vs exact {fss.TC_EXACT:.4f}: "
               f"{100 * within:.2f}% off ({'within' if within < 0.01 else 'NOT within'} 1%)")
    click.echo("figure: " + ", ".join(str(f) for f in files))
    return analysis


def plot_worker_benchmark(rows, stem, *, sizes, samples):
    """Bar chart of the sweep's wall time on 1 and 2 workers (``rows`` of :func:`_benchmark`),
    in the shared figure style; ``sizes``/``samples`` of the sweep for the caption."""
    fig = new_figure(5.0, 3.8)
    ax = fig.subplots()
    ax.bar([str(r["workers"]) for r in rows], [r["wall_s"] for r in rows],
           color=[OKABE_ITO[0], OKABE_ITO[1]])
    for i, r in enumerate(rows):
        ax.text(i, r["wall_s"], f"{r['wall_s']:.1f} s", ha="center", va="bottom")
    ax.margins(y=0.15)  # room for the labels above the bars
    ax.set_xlabel("LocalCluster workers")
    ax.set_ylabel("wall time of the sweep (s)")
    load = max(r["load_average_before"] for r in rows)
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    set_caption(fig, f"{rows[0]['points']}-point sweep, {os.cpu_count()} CPUs: {speedup:.2f}x "
                f"(1-min load average up to {load:.1f} before the runs)", size=sizes,
                samples=samples)
    return save_figure(fig, stem, dpi=150)


def _benchmark(out, *, temperatures, sizes, samples, algorithm, seed):
    spec = sw.SweepSpec(temperatures=sw.parse_values(temperatures, name="--temperatures"),
                        sizes=sw.parse_values(sizes, kind=int, name="--sizes"),
                        seeds=[seed], algorithm=algorithm, n_samples=samples)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for workers in (1, 2):
        target = out / f"workers-{workers}"
        if target.exists():
            shutil.rmtree(target)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        result = sw.run_sweep(spec, target, workers=workers)
        wall = time.perf_counter() - start
        busy = sum(e["elapsed_s"] for e in result.index["points"])
        rows.append({"workers": workers, "wall_s": wall, "sum_task_s": busy,
                     "points": result.n_points, "load_average_before": load})
        click.echo(f"{workers} worker(s): {wall:.1f} s wall ({busy:.1f} s in tasks, "
                   f"load average {load:.1f} before)")
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    click.echo(f"speed-up 1 -> 2 workers: {speedup:.2f}x  (os.cpu_count() = {os.cpu_count()})")
    atomic_write_text(out / "bench_workers.json", json.dumps(
        {"spec": spec.to_dict(), "rows": rows, "speedup": speedup}, indent=1) + "\n")
    plot_worker_benchmark(rows, out / "bench_workers", sizes=spec.sizes, samples=samples)
    click.echo(f"figure: {out / 'bench_workers.png'}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("results/fss_sweep"), show_default=True, help="Sweep directory.")
@click.option("--temperatures", "-T", default="2.20:2.34:12", show_default=True,
              help="Temperatures: list or start:stop:n.")
@click.option("--sizes", "-L", default="16,32,64", show_default=True, help="Lattice sizes.")
@click.option("--samples", "-n", type=int, default=10000, show_default=True,
              help="Samples per point (burn-in and thinning from the measured tau_int).")
@click.option("--algorithm", "-a", default="wolff", show_default=True)
@click.option("--workers", "-w", type=int, default=2, show_default=True,
              help="LocalCluster worker processes (0: serial).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bootstrap", type=int, default=2000, show_default=True,
              help="Bootstrap replicates for the error bars.")
@click.option("--benchmark", is_flag=True,
              help="Time the same sweep (with --samples) on 1 and 2 workers instead.")
@click.option("-q", "--quiet", is_flag=True)
def main(out, temperatures, sizes, samples, algorithm, workers, seed, bootstrap, benchmark,
         quiet):
    """Sweep 12 temperatures x 3 sizes on Dask and draw the finite-size-scaling figure."""
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for name in ("distributed", "tornado", "ising"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        if benchmark:
            _benchmark(out, temperatures=temperatures, sizes=sizes, samples=samples,
                       algorithm=algorithm, seed=seed)
        else:
            _run(out, temperatures=temperatures, sizes=sizes, samples=samples,
                 algorithm=algorithm, workers=workers, seed=seed, bootstrap=bootstrap,
                 quiet=quiet)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""Validate every Monte Carlo algorithm against exact results, chain by chain.

For each point of the grid (1D and 2D, both signs of J, fields, temperatures below, at and
above T_c), four chains started all-up, all-down, random and Neel are each judged on their own
by :func:`ising.validation.validate_point`: histograms of E and M against exact enumeration
(N <= 16), <E>/N and C/N against the exact values (1D transfer matrix, enumeration, or
Kaufman's finite-lattice solution for L = 8, 16), 1D correlations G(r) against the transfer
matrix, and R-hat across the chains. The table lists per point: the worst chain's |z| of
<E>/N and C/N, the smallest p-value of all its checks, R-hat, tau_int and the verdict at the
per-check level ``--alpha``; the last line gives the rms of all per-chain <E>/N z-scores with
its acceptance interval.

Run ``python scripts/validate_samplers.py --help``; ``--quick`` runs a subset in about a
minute. ``--out FILE`` also writes the Markdown table (the README quotes it).
"""

from __future__ import annotations

import json
import os
import sys
import time

import click
import numpy as np

from ising import MonteCarloSampler
from ising.atomic import atomic_write_text
from ising.validation import validate_point, zscore_rms_interval

TC = 2.269185314213022

# grid points: (dimension, size, T, J, h, algorithm, n_samples, thin, correlations)


def thin_for(algorithm: str, size: int, temperature: float) -> int:
    """Sweeps between samples: a few tau_int near T_c, fewer away from it (2D, L = 8, 16)."""
    near = abs(temperature - TC) < 0.1
    base = {"metropolis": 4, "heatbath": 8, "wolff": 1, "swendsen-wang": 2}[algorithm]
    return base * (2 if near else 1) * (2 if size >= 16 else 1)


def full_grid():
    grid = []
    for n in (8, 16):
        for alg in ("metropolis", "heatbath"):
            for t, j, h in ((0.8, 1.0, 0.0), (1.0, 1.0, 0.0), (1.5, -1.0, 0.0), (1.2, 1.0, 0.3)):
                grid.append((1, n, t, j, h, alg, 20000, 4 if t < 1 else 2,
                             (1, 2, 4) if h == 0 else ()))
    for alg in ("wolff", "swendsen-wang"):
        for t in (0.8, 1.0, 2.0):
            grid.append((1, 16, t, 1.0, 0.0, alg, 20000, 1, (1, 2, 4)))
    for alg in ("metropolis", "heatbath", "wolff", "swendsen-wang"):
        grid.append((1, 64, 1 / 0.7, 1.0, 0.0, alg, 10000, 2, (1, 2, 8, 32)))
    for n in (2, 3):
        for alg in ("metropolis", "heatbath", "wolff", "swendsen-wang"):
            grid.append((1, n, 1.0, 1.0, 0.0, alg, 10000, 1, (1,)))
    for L in (2, 3):
        for alg in ("metropolis", "heatbath", "wolff", "swendsen-wang"):
            grid.append((2, L, 2.5, 1.0, 0.0, alg, 10000, 1, ()))
    for alg in ("metropolis", "heatbath"):
        for t, j, h in ((1.5, 1.0, 0.0), (TC, 1.0, 0.0), (3.5, 1.0, 0.0), (TC, -1.0, 0.0),
                        (2.3, 1.0, 0.3), (2.3, -1.0, -0.3)):
            grid.append((2, 4, t, j, h, alg, 20000, 2, ()))
    for alg in ("wolff", "swendsen-wang"):
        for t in (1.5, TC, 3.5):
            grid.append((2, 4, t, 1.0, 0.0, alg, 20000, 1, ()))
    for L in (8, 16):
        for alg in ("metropolis", "heatbath", "wolff", "swendsen-wang"):
            for t in (2.0, TC, 3.0):
                grid.append((2, L, t, 1.0, 0.0, alg, 4000, thin_for(alg, L, t), ()))
    return grid


def quick_grid():
    return [
        (1, 16, 1.0, 1.0, 0.0, "metropolis", 6000, 2, (1, 2, 4)),
        (1, 16, 1.5, -1.0, 0.0, "metropolis", 6000, 1, (1, 2)),
        (1, 16, 1.2, 1.0, 0.3, "heatbath", 6000, 2, ()),
        (1, 16, 1.0, 1.0, 0.0, "wolff", 6000, 1, (1, 4)),
        (1, 16, 1.0, 1.0, 0.0, "swendsen-wang", 6000, 1, (1, 4)),
        (1, 64, 1 / 0.7, 1.0, 0.0, "metropolis", 4000, 2, (1, 2, 8)),
        (2, 2, 2.5, 1.0, 0.0, "metropolis", 4000, 1, ()),
        (2, 4, TC, 1.0, 0.0, "metropolis", 6000, 2, ()),
        (2, 4, 2.3, -1.0, -0.3, "heatbath", 6000, 2, ()),
        (2, 4, TC, 1.0, 0.0, "wolff", 6000, 1, ()),
        (2, 8, TC, 1.0, 0.0, "metropolis", 3000, 8, ()),
        (2, 8, TC, 1.0, 0.0, "swendsen-wang", 3000, 4, ()),
    ]


def _row(point, report, alpha):
    d, L, T, J, h, alg = point[:6]
    def worst(q):
        zs = [abs(c.result.z) for c in report.checks if c.quantity == q]
        return max(zs) if zs else float("nan")
    p_min = min(c.result.p_value for c in report.checks)
    ok = not report.failures(alpha)
    geometry = f"{L}" if d == 1 else f"{L}×{L}"
    return {
        "algorithm": alg, "dimension": d, "geometry": geometry, "temperature": T,
        "coupling": J, "field": h, "chains": len({c.chain for c in report.checks}),
        "checks": len(report.checks), "max_abs_z_energy": worst("<E>/N"),
        "max_abs_z_specific_heat": worst("C/N"), "min_p": p_min,
        "rhat_energy": report.rhat_energy, "rhat_abs_magnetization": report.rhat_abs_magnetization,
        "tau_int": report.tau_int, "passed": ok,     }


def markdown(rows, z_rms, interval, alpha, header):
    lines = [header, "",
             "| algorithm | d | size | T | J | h | checks | max\\|z\\| ⟨E⟩ | max\\|z\\| C | min p | R̂ (E, \\|M\\|) | τ_int | pass |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['algorithm']} | {r['dimension']} | {r['geometry']} | {r['temperature']:.3f} | "
            f"{r['coupling']:g} | {r['field']:g} | {r['checks']} | {r['max_abs_z_energy']:.2f} | "
            f"{r['max_abs_z_specific_heat']:.2f} | {r['min_p']:.2g} | "
            f"{r['rhat_energy']:.3f}, {r['rhat_abs_magnetization']:.3f} | {r['tau_int']:.1f} | "
            f"{'✓' if r['passed'] else '✗'} |")
    lines += ["", f"rms of {z_rms[1]} per-chain ⟨E⟩/N z-scores: {z_rms[0]:.3f} "
              f"(acceptance interval at 1e-3: {interval[0]:.3f}–{interval[1]:.3f}); "
              f"per-check level α = {alpha:g}; "
              f"{sum(r['passed'] for r in rows)}/{len(rows)} points pass."]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--quick", is_flag=True, help="A representative subset (about a minute).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Base seed; point i uses seed + i.")
@click.option("--alpha", default=1e-5, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Per-check false-alarm level.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the Markdown table here (and FILE.json with the numbers).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def main(quick, seed, alpha, out, overwrite):
    """Every algorithm, chain by chain, against exact results (1D and 2D)."""

    if out and os.path.exists(out) and not overwrite:
        raise click.UsageError(f"output exists: {out} (use --overwrite to replace it)")
    grid = quick_grid() if quick else full_grid()
    starts = ("up", "down", "random", "neel")
    rows, z_all = [], []
    t_start = time.perf_counter()
    with click.progressbar(list(enumerate(grid)), label="validating", file=sys.stderr) as bar:
        for i, point in bar:
            d, L, T, J, h, alg, n, thin, corr = point
            smp = MonteCarloSampler(d, L, T, J, h, alg, n_chains=4, seed=seed + i, initial=starts)
            report = validate_point(smp, n_samples=n, burn_in=max(500, 50 * thin), thin=thin,
                                    correlations=corr)
            rows.append(_row(point, report, alpha))
            z_all.extend(report.zscores())
    z = np.array(z_all)
    z_rms = (float(np.sqrt(np.mean(z ** 2))), int(z.size))
    interval = zscore_rms_interval(z.size, 1e-3)
    click.echo(f"{len(grid)} points in {time.perf_counter() - t_start:.0f} s", err=True)
    header = (f"`python scripts/validate_samplers.py{' --quick' if quick else ''} --seed {seed}` "
              f"({len(grid)} points × 4 chains started up/down/random/Néel)")
    table = markdown(rows, z_rms, interval, alpha, header)
    click.echo(table)
    if out:
        for path, text in ((out, table), (out + ".json", json.dumps(
                {"rows": rows, "z_rms": z_rms[0], "n_z": z_rms[1], "interval": interval,
                 "alpha": alpha}, indent=1) + "\n")):
            atomic_write_text(path, text)
    failed = [r for r in rows if not r["passed"]]
    if failed or not interval[0] <= z_rms[0] <= interval[1]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

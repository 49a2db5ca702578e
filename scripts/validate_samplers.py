"""Check every Monte Carlo algorithm against Kaufman's exact finite-lattice results.

For each algorithm and temperature (below, at and above T_c) on a periodic L x L lattice,
prints <E>/N and C/N with their jackknife error bars (``ising.observables.summarize``), the exact
values (``ising.exact``, Kaufman 1949 / Ferdinand & Fisher 1969), and the z-scores
(estimate - exact) / error. A well-calibrated sampler gives |z| mostly below 2.

Run ``python scripts/validate_samplers.py --help``.
"""

from __future__ import annotations

import time

import click
import numpy as np


@click.command()
@click.option("--size", default=16, show_default=True, help="Linear size L of the periodic lattice.")
@click.option("--samples", default=4000, show_default=True, help="Samples per run.")
@click.option("--chains", default=8, show_default=True, help="Independent chains per run.")
@click.option("--temperatures", default="2.0,2.269185314213022,3.0", show_default=True,
              help="Comma-separated temperatures (J = 1).")
@click.option("--seed", default=0, show_default=True)
def main(size, samples, chains, temperatures, seed):
    """Monte Carlo vs exact <E>/N and C/N for all four algorithms."""
    from ising import ALGORITHMS, sample, summarize
    from ising.exact import energy_per_spin_2d, specific_heat_per_spin_2d

    temps = [float(t) for t in temperatures.split(",")]
    header = (f"{'algorithm':<14} {'T':>6} {'<E>/N':>18} {'exact':>9} {'z':>6} "
              f"{'C/N':>16} {'exact':>8} {'z':>6} {'tau_int':>8} {'time':>6}")
    click.echo(f"periodic {size}x{size}, {samples} samples, {chains} chains, seed {seed}")
    click.echo(header)
    click.echo("-" * len(header))
    for algorithm in ALGORITHMS:
        for temperature in temps:
            t0 = time.perf_counter()
            result = sample(2, size, temperature, algorithm=algorithm, n_samples=samples,
                            n_chains=chains, seed=seed)
            s = summarize(result.energy, result.magnetization, size * size, temperature,
                          sweeps_per_sample=result.thin, n_chains=chains)
            exact_e = float(energy_per_spin_2d(size, size, temperature))
            exact_c = float(specific_heat_per_spin_2d(size, size, temperature))
            z_e = (s.energy.value - exact_e) / s.energy.error
            z_c = (s.specific_heat.value - exact_c) / s.specific_heat.error
            click.echo(f"{algorithm:<14} {temperature:6.3f} "
                       f"{s.energy.value:9.5f}±{s.energy.error:.5f} {exact_e:9.5f} {z_e:6.2f} "
                       f"{s.specific_heat.value:8.4f}±{s.specific_heat.error:.4f} {exact_c:8.4f} "
                       f"{z_c:6.2f} {s.tau_int:8.2f} {time.perf_counter() - t0:5.1f}s")


if __name__ == "__main__":
    main()

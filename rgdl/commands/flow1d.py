"""``rgdl flow1d``: the 1D Ising RG flow by exact RBM decimation, majority rule and learned RBMs."""

from __future__ import annotations

import json
import math

import click

from rgdl.commands.options import (COUNT, POSITIVE_COUNT, Command, json_option, out_option,
                                   overwrite_option, quiet_option, real, reduced_coupling_option,
                                   samples_option, seed_option)
from rgdl.flow1d import format_table, run_flow

#: Names kept importable from this module (they moved to :mod:`rgdl.flow1d`).
__all__ = ["flow1d", "format_table", "run_flow"]

def _finite(value: object) -> object:
    return value if not isinstance(value, float) or math.isfinite(value) else None


@click.command(cls=Command)
@reduced_coupling_option(required=True,
                         help="Initial nearest-neighbour coupling K = J/T > 0 of the periodic chain.")
@click.option("--size", "-N", type=COUNT, default=16, show_default=True,
              help="Chain length N: even, <= 16 (exact enumeration), divisible by 2**steps.")
@click.option("--steps", "-s", type=COUNT, default=3, show_default=True,
              help="Number of RG steps; each halves the chain (N / 2**steps >= 2).")
@click.option("--strength", type=real(0, min_open=True), default=None,
              help="Weight lambda of the RBM's decimation units [default: 20 + 2K]; the coarse-coupling "
                   "error is ~exp(-2 lambda) once lambda >> 2K.")
@click.option("--learned", is_flag=True,
              help="Also train a stack of RBMs (N -> N/2 -> ...) on exact samples and report their couplings.")
@click.option("--epochs", type=POSITIVE_COUNT, default=30, show_default=True,
              help="CD-1 epochs per learned layer.")
@samples_option(default=10000, show_default=True, help="Exact samples drawn per learned layer.")
@seed_option(default=0, help="Seed of the sampling and training (same seed, same numbers).")
@json_option()
@out_option(default=None, help="Write the flow figure to this .png (and the matching .pdf).")
@overwrite_option(help="Replace an existing figure (--out).")
@quiet_option()
def flow1d(coupling: float, size: int, steps: int, strength: float | None, learned: bool,
           epochs: int, samples: int, seed: int, as_json: bool, out: str | None, overwrite: bool,
           quiet: bool) -> None:
    """Renormalize the periodic 1D Ising chain with exact RBMs, majority rule and learned RBMs.

    Every step halves the chain. K decimation is the analytic flow tanh K' = tanh^2 K; K exact RBM
    is read off the hidden layer of the exact RBM construction by enumeration (Mehta & Schwab 2014);
    K majority is exact majority-rule blocking (b = 2, coin-flip ties); with --learned, K learned
    is the coupling of a trained RBM's hidden Hamiltonian (Eq. 21) and K learned enc that of its
    data-driven hidden activations. KL/spin is KL(P || p_lambda(v)) in nats; the residuals say
    what the nearest-neighbour + next-nearest + field fit misses (max over all configurations;
    for the learned layer the Boltzmann-weighted RMS).

    JSON: {"coupling", "size", "strength", "learned", "epochs", "samples", "seed", "seconds",
    "figure", "steps": [{"step", "size", "K_decimation", "K_rbm_exact", "kl_per_spin",
    "trace_residual", "fit_residual", "K_majority", "majority_fit_residual", and with --learned
    "K_learned", "K_learned_encoder", "kl_per_spin_learned", "learned_fit_residual",
    "learned_fit_residual_weighted", "encoder_fit_residual", "learned_couplings",
    "encoder_couplings", "learned_seconds"}]}.
    """
    from rgdl import decimation

    decimation.check_flow_arguments(coupling, size, steps)
    if out is not None:
        from rgdl.flowplot import check_figure_outputs

        check_figure_outputs(out, overwrite=overwrite)  # fail before any work
    elif overwrite:
        raise ValueError("--overwrite needs --out")

    from tqdm import tqdm

    total = steps * (2 if learned else 1)
    with tqdm(total=total, desc="flow1d", unit="step", disable=True if quiet else None,
              leave=False) as bar:
        result = run_flow(coupling, size, steps, strength=strength, learned=learned, epochs=epochs,
                          samples=samples, seed=seed, progress=lambda _row: bar.update(1))
    result["figure"] = None
    if out is not None:
        from ising.atomic import OutputLock
        from rgdl.flowplot import check_figure_outputs, plot_flow1d

        png, _ = check_figure_outputs(out, overwrite=overwrite)
        with OutputLock(png):
            check_figure_outputs(out, overwrite=overwrite)  # recheck under the lock
            result["figure"] = plot_flow1d(coupling, result["steps"], out, overwrite=overwrite,
                                           size=size,
                                           samples=samples if learned else "0 (exact enumeration)")
    if as_json:
        clean = json.loads(json.dumps(result, default=float), parse_constant=lambda _c: None)
        click.echo(json.dumps(clean, indent=None, default=_finite))
        return
    click.echo(f"1D periodic Ising chain, K = {coupling:g}, N = {size}, lambda = {result['strength']:g}"
               + (f", learned: {epochs} epochs x {samples} samples, seed {seed}" if learned else ""))
    click.echo(format_table(result["steps"]))
    click.echo(f"({result['seconds']:.1f} s)")
    if result["figure"]:
        click.echo("figure: " + ", ".join(result["figure"]))

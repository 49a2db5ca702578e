"""``rgdl mcrg``: Monte Carlo RG exponents and coupling flows of block-spin and learned transforms.

A thin command over :mod:`rgdl.mcrg`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rgdl.commands.options import (POSITIVE_COUNT, Command, json_option, out_option,
                                   overwrite_option, prepare_output_dir, quiet_option,
                                   reduced_coupling_option, refuse_existing, samples_option,
                                   seed_option, size_option)
from rgdl.mcrg import (K_CRITICAL, TRANSFORMS, check_arguments, format_table, output_files,
                       output_paths, run_mcrg, write_outputs)


@click.command(cls=Command, deprecated_aliases={"-n": "--levels", "-N": "--samples"})
@size_option(default=64, show_default=True,
             help="Lattice side L of the 2D periodic Ising model (multiple of block**levels).")
@reduced_coupling_option(default=K_CRITICAL, show_default="K_c",
                         help="Nearest-neighbour coupling K = J/T of the Wolff samples "
                              "(default: Onsager's K_c).")
@click.option("--transform", type=click.Choice(TRANSFORMS), default="majority", show_default=True,
              help="Block transform: majority rule (coin ties), decimation, or a learned local RBM stack.")
@click.option("--block", "-b", type=POSITIVE_COUNT, default=2, show_default=True,
              help="Block size b.")
@click.option("--levels", type=POSITIVE_COUNT, default=3, show_default=True,
              help="Number of RG steps.")
@samples_option(short=False, default=4000, show_default=True,
                help="Number of Wolff configurations (burn-in and thinning chosen automatically).")
@seed_option(default=0, help="Seed of sampling, tie-breaking / stochastic coarse-graining and "
                             "training.")
@click.option("--epochs", type=POSITIVE_COUNT, default=5, show_default=True,
              help="CD-1 epochs per learned layer (--transform learned).")
@click.option("--kernel", "kernel", type=POSITIVE_COUNT, default=None,
              help="Learned window side w >= b [default: 2b] (--transform learned).")
@json_option(help='Print {"transform", "block", "levels": [{"level", "n_even", "n_odd", "y_T", '
                  '"y_T_err", "y_h", "y_h_err"}]} (largest operator sets) instead of the table.')
@out_option(file=False, default=None,
            help="Directory for the JSON record, figures (and the learned model).")
@overwrite_option(help="Replace existing output files in --out.")
@quiet_option()
def mcrg(size: int, coupling: float, transform: str, block: int, levels: int, samples: int,
         seed: int, epochs: int, kernel: int | None, as_json: bool, out: str | None,
         overwrite: bool, quiet: bool) -> None:
    """Monte Carlo renormalization group (Swendsen 1979) of the critical 2D Ising model.

    Draws Wolff configurations at coupling K, applies the block transform level after level and
    prints the thermal and magnetic exponents y_T = ln(lambda_T)/ln(b) and y_h from the leading
    eigenvalues of the linearised RG matrix T = A^-1 B (9 even, 6 odd operators; jackknife
    errors). Exact 2D Ising values: y_T = 1, y_h = 15/8. With --out it also writes the
    exponents-vs-level figure, the flow of the pseudo-likelihood couplings (K_nn, K_nnn) and, for
    the learned transform, the kernels and the model; the Wolff samples and the trained stack
    are checkpointed in OUT/cache and reused by a rerun with the same arguments (a killed run
    resumes after its last finished stage).
    """
    check_arguments(size, coupling, transform, block, levels, samples)
    paths = None
    if out is not None:
        paths = output_paths(out, transform, block)
        refuse_existing(output_files(paths), overwrite=overwrite)
        prepare_output_dir(out, parents=True)

    from tqdm import tqdm

    bars = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, disable=True if quiet else None,
                               leave=False)
        bars[stage].n = done
        bars[stage].refresh()

    try:
        run = run_mcrg(size, coupling, transform, block, levels, samples, seed, epochs=epochs,
                       kernel=kernel, progress=progress,
                       cache_dir=None if out is None else Path(out) / "cache")
    finally:
        for bar in bars.values():
            bar.close()
    if paths is not None:
        write_outputs(run, paths)
    summary, d = run["summary"], run["details"]
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"MCRG, 2D Ising L = {size}, K = {coupling:g}, {transform} b = {block}, "
               f"{samples} Wolff samples (thin {d['thin']}), seed {seed}")
    click.echo(format_table(summary))
    names = d["couplings"][0]["names"]
    click.echo("couplings (pseudo-likelihood) per level: " + ", ".join(names))
    for n, c in enumerate(d["couplings"]):
        click.echo(f"  level {n}: " + "  ".join(f"{k:.4f}±{e:.4f}" for k, e in
                                               zip(c["couplings"], c["errors"])))
    click.echo(f"({d['seconds']['sampling']:.1f} s sampling, "
               f"{d['seconds']['training_and_analysis']:.1f} s training + analysis)")
    if paths is not None:
        click.echo(f"wrote {', '.join(str(p) for p in output_files(paths))}")

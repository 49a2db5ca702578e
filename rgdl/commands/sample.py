"""``rgdl sample``: generate spin configurations from a trained RBM stack into an HDF5 dataset in
the schema of the training data (a thin layer over :mod:`rgdl.sampling`)."""

from __future__ import annotations

import click

from rgdl.commands.options import (Command, check_input_kind, out_option, overwrite_option,
                                   samples_option, seed_option)
from rgdl.sampling import MAX_GIBBS_STEPS, estimate_memory, generate

#: Names kept importable from this module (they moved to :mod:`rgdl.sampling`).
__all__ = ["MAX_GIBBS_STEPS", "estimate_memory", "generate", "sample"]


@click.command(cls=Command)
@click.argument("model", type=click.Path(dir_okay=False))
@samples_option("n_samples", required=True,
                help="Configurations to generate (>= 1), one independent chain each.")
@click.option("--gibbs-steps", type=click.IntRange(0, MAX_GIBBS_STEPS), default=1000,
              show_default=True, help="Block Gibbs steps in the top RBM before the down-pass "
                                      "(>= 0).")
@click.option("--mode", type=click.Choice(["stochastic", "mean-field"]), default="stochastic",
              show_default=True,
              help="Down-pass: sample every layer, or pass means and sample only the visibles.")
@seed_option(help="Seed of the generation [default: random, recorded in the output].")
@out_option(required=True,
            help="Output HDF5 file (the schema of `rgdl simulate`), written atomically.")
@overwrite_option()
def sample(model: str, n_samples: int, gibbs_steps: int, mode: str, seed: int | None, out: str,
           overwrite: bool) -> None:
    """Generate spin configurations from a model written by `rgdl train`.

    \b
    Output: spins (n, L[, L]) int8 +-1 on the training lattice, with energy and magnetization
    per spin computed for that lattice (H = -J sum_<ij> s_i s_j - h sum_i s_i, periodic), and
    the root attributes of the training data; `source` names the model file, `algorithm` is
    "dbn-gibbs-<mode>", `burn_in` holds the Gibbs steps, `n_chains` the number of samples.
    """
    import numpy as np

    from ising import atomic
    from ising.io import check_output_path
    from rbm.io import load_layers
    from rgdl.sampling import write_samples
    from rgdl.seeds import random_seed

    check_input_kind(model, "model")
    out_path = check_output_path(out, overwrite=overwrite)
    atomic.check_not_input(out_path, model)
    layers, _ = load_layers(model)
    sizes = [layers[0].weights_.shape[0]] + [layer.weights_.shape[1] for layer in layers]
    atomic.check_memory(estimate_memory(n_samples, sizes),
                        f"sampling {n_samples} configurations from a "
                        f"{'-'.join(map(str, sizes))} stack")
    if seed is None:
        seed = random_seed()
    with atomic.OutputLock(out_path):
        check_output_path(out, overwrite=overwrite)
        path, energy, magnetization = write_samples(model, out, n_samples=n_samples,
                                                    gibbs_steps=gibbs_steps, seed=seed,
                                                    mode=mode, overwrite=overwrite)
    click.echo(f"wrote {n_samples} samples to {path}: <E>/N = {energy.mean():.5f}, "
               f"<|M|>/N = {np.abs(magnetization).mean():.5f}")

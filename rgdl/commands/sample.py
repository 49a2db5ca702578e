"""``rgdl sample``: generate spin configurations from a trained RBM stack into an HDF5 dataset in
the schema of the training data (a thin layer over :mod:`rbm.dbn` and :mod:`ising.io`)."""

from __future__ import annotations

import os

import click

from rgdl.commands import COUNT


def generate(model_path, n_samples, gibbs_steps, seed, mode):
    """Draw configurations from a saved model and compute their observables.

    Returns
    -------
    (spins, energy, magnetization, lattice)
        ``spins`` int8 in {-1, +1} with the training lattice's shape, energy and magnetization
        per spin (:mod:`ising.lattice`, docs/CONTRACTS.md), and the lattice metadata.
    """
    import numpy as np

    from ising.lattice import energy_per_spin, magnetization_per_spin
    from rbm.dbn import DBN

    dbn = DBN.load(model_path)
    lattice = dbn.metadata_.get("lattice")
    required = ("dimension", "size", "temperature", "coupling", "field")
    if not isinstance(lattice, dict) or any(k not in lattice for k in required):
        raise ValueError(f"{model_path} records no training lattice (train it with `rgdl train`)")
    dimension, size = int(lattice["dimension"]), int(lattice["size"])
    if dimension not in (1, 2) or size ** dimension != dbn.n_features_in_:
        raise ValueError(f"{model_path}: {dbn.n_features_in_} visible units do not fit the recorded "
                         f"lattice (dimension {dimension}, size {size})")
    visible = dbn.sample(n_samples, gibbs_steps, seed=seed, mode=mode)
    if dbn.layers_[0].units == "binary":
        visible = 2 * visible - 1
    spins = np.ascontiguousarray(visible.astype(np.int8).reshape((n_samples,) + (size,) * dimension))
    energy = energy_per_spin(spins, lattice["coupling"], lattice["field"], dimension)
    magnetization = magnetization_per_spin(spins, dimension)
    return spins, energy, magnetization, lattice


#: Upper bound of --gibbs-steps (the kernels count steps in int64; far beyond any useful run).
MAX_GIBBS_STEPS = 1 << 53


def estimate_memory(n_samples, sizes):
    """Bytes of the main arrays ``rgdl sample`` allocates (an estimate, >= the truth).

    Every chain holds float64 states and means of every layer (4 x n x sum(sizes) x 8), the
    output spins (int8) and their energy and magnetization (float64).
    """
    return n_samples * (32 * sum(sizes) + sizes[0] + 16)


@click.command(context_settings={"max_content_width": 100})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--samples", "n_samples", type=COUNT, required=True,
              help="Configurations to generate (>= 1), one independent chain each.")
@click.option("--gibbs-steps", type=COUNT, default=1000, show_default=True,
              help="Block Gibbs steps in the top RBM before the down-pass (>= 0).")
@click.option("--mode", type=click.Choice(["stochastic", "mean-field"]), default="stochastic",
              show_default=True,
              help="Down-pass: sample every layer, or pass means and sample only the visibles.")
@click.option("--seed", type=click.IntRange(min=0, max=(1 << 63) - 1), default=None,
              help="Seed of the generation [default: random, recorded in the output].")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Output HDF5 file (the schema of `rgdl simulate`), written atomically.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
def sample(model, n_samples, gibbs_steps, mode, seed, out, overwrite):
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

    if n_samples < 1:
        raise ValueError(f"--samples must be >= 1, got {n_samples}")
    if gibbs_steps < 0:
        raise ValueError(f"--gibbs-steps must be >= 0, got {gibbs_steps}")
    if gibbs_steps > MAX_GIBBS_STEPS:
        raise ValueError(f"--gibbs-steps must be <= {MAX_GIBBS_STEPS}, got {gibbs_steps}")
    if not os.path.exists(model):
        raise FileNotFoundError(f"model file {model} does not exist")
    out_path = check_output_path(out, overwrite=overwrite)
    atomic.check_not_input(out_path, model)
    layers, _ = load_layers(model)
    sizes = [layers[0].weights_.shape[0]] + [layer.weights_.shape[1] for layer in layers]
    atomic.check_memory(estimate_memory(n_samples, sizes),
                        f"sampling {n_samples} configurations from a "
                        f"{'-'.join(map(str, sizes))} stack")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    with atomic.OutputLock(out_path):
        check_output_path(out, overwrite=overwrite)
        _sample_locked(model, n_samples, gibbs_steps, seed, mode, out, overwrite)


def _sample_locked(model, n_samples, gibbs_steps, seed, mode, out, overwrite):
    """The body of ``rgdl sample``, run while holding the output's lock."""
    import numpy as np

    from ising.io import write_dataset

    spins, energy, magnetization, lattice = generate(model, n_samples, gibbs_steps, seed, mode)
    attrs = {"dimension": int(lattice["dimension"]), "size": int(lattice["size"]),
             "temperature": float(lattice["temperature"]), "coupling": float(lattice["coupling"]),
             "field": float(lattice["field"]), "algorithm": f"dbn-gibbs-{mode}", "seed": int(seed),
             "burn_in": int(gibbs_steps), "thin": 1, "tau_int": float("nan"),
             "n_chains": int(n_samples), "source": os.path.abspath(model)}
    path = write_dataset(out, spins, energy, magnetization, attrs=attrs, overwrite=overwrite)
    click.echo(f"wrote {n_samples} samples to {path}: <E>/N = {energy.mean():.5f}, "
               f"<|M|>/N = {np.abs(magnetization).mean():.5f}")

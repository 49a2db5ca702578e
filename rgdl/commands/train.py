"""``rgdl train``: greedy layer-wise training of an RBM stack (:class:`rbm.dbn.DBN`) on an HDF5
spin dataset (a thin layer over :mod:`ising.io` and :mod:`rbm.dbn`)."""

from __future__ import annotations

import glob
import os

import click

from rgdl.commands import COUNT

_CHECKPOINT_SUFFIX = ".ckpt"


#: Largest layer size accepted by --layers (a bound on the kernels' int32 unit indices).
MAX_LAYER_SIZE = 1 << 31


def _parse_layers(text):
    parts = [part.strip() for part in text.split(",")]
    if any(part == "" for part in parts):
        raise ValueError(f"--layers must be comma-separated integers without empty entries, "
                         f"got {text!r}")
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"--layers must be comma-separated integers, got {text!r}") from None
    for size in sizes:
        if size <= 0 or size >= MAX_LAYER_SIZE:
            raise ValueError(f"--layers sizes must be between 1 and {MAX_LAYER_SIZE - 1}, got {size}")
    return sizes


def estimate_memory(n_samples, n_visible, sizes, itemsize, propagate):
    """Bytes of the main arrays ``rgdl train`` allocates (an estimate, >= the truth).

    Counted: the data (int8) read and mapped to the units (2 x n x N); per layer the weights
    and biases with their momentum buffers, gradient and checkpoint copy (5 x n_in x n_out
    floats), the next layer's training data (n x n_out, int8 when sampled, floats for means),
    and mini-batch work arrays.
    """
    total = 2 * n_samples * n_visible
    n_in = n_visible
    for n_out in sizes:
        total += 5 * (n_in * n_out + n_in + n_out) * itemsize
        total += n_samples * n_out * (1 if propagate == "sample" else itemsize)
        n_in = n_out
    return total


def checkpoint_prefix(out):
    """Prefix of the per-layer training checkpoints of ``rgdl train --out OUT``."""
    return os.fspath(out) + _CHECKPOINT_SUFFIX


def _checkpoint_files(out):
    return sorted(glob.glob(glob.escape(checkpoint_prefix(out)) + ".layer*"))


def _seed_from_checkpoint(out):
    """The root seed recorded in the first layer's checkpoint (for --resume without --seed)."""
    from rbm.io import load_checkpoint

    path = checkpoint_prefix(out) + ".layer1"
    if not os.path.exists(path):
        return None
    state = load_checkpoint(path)
    seed = state["meta"]["params"].get("random_state")
    if isinstance(seed, dict):
        return seed.get("entropy")
    return None


def load_training_data(path, units):
    """Read an HDF5 spin dataset, flatten each configuration, map to the RBM's units.

    Returns
    -------
    (data, lattice) : (ndarray (n_samples, L**d) int8, dict)
        ``data`` in {-1, +1} (spin) or {0, 1} (binary: (s + 1) / 2); ``lattice`` holds the
        dimension, size, temperature, coupling and field of the dataset.
    """
    import numpy as np

    from ising.io import read_dataset

    dataset = read_dataset(path)
    if dataset.n_samples == 0:
        raise ValueError(f"{path}: the dataset has no samples")
    spins = np.asarray(dataset.spins).reshape(dataset.n_samples, -1)
    if not np.all((spins == 1) | (spins == -1)):  # read_dataset checks this too
        raise ValueError(f"{path}: spins must be -1 or +1")
    data = spins.astype(np.int8) if units == "spin" else ((spins + 1) // 2).astype(np.int8)
    lattice = {"dimension": dataset.dimension, "size": dataset.size,
               "temperature": dataset.temperature, "coupling": dataset.coupling,
               "field": dataset.field}
    return data, lattice


class _Reporter:
    """Per-epoch lines on stdout and a tqdm bar on stderr (disabled when not a terminal)."""

    def __init__(self, total, quiet):
        from tqdm import tqdm

        self.quiet = quiet
        self.bar = tqdm(total=total, unit="epoch", desc="train", dynamic_ncols=True,
                        leave=False, disable=True if quiet else None)

    def __call__(self, record):
        parts = [f"layer {record['layer']}/{record['n_layers']}",
                 f"epoch {record['epoch']}/{record['n_epochs']}"]
        for key, label in (("reconstruction_error", "recon"),
                           ("pseudo_log_likelihood", "pll"),
                           ("log_likelihood", "loglik")):
            value = record.get(key)
            if value is not None:
                parts.append(f"{label}={value:.5g}")
        parts.append(f"lr={record['learning_rate']:.3g}")
        parts.append(f"{record['seconds']:.2f}s")
        line = "  ".join(parts)
        if not self.quiet:
            self.bar.write(line)
        self.bar.update(1)

    def close(self):
        self.bar.close()


@click.command(context_settings={"max_content_width": 100})
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--layers", default="400,100,25", show_default=True,
              help="Hidden-layer sizes of the stack, comma-separated (the visible size is L^d "
                   "of the data); the paper: 400,100,25 on 40x40 spins.")
@click.option("--epochs", type=COUNT, default=10, show_default=True, help="Epochs per layer (>= 1).")
@click.option("--batch-size", type=COUNT, default=100, show_default=True, help="Mini-batch size.")
@click.option("--learning-rate", type=float, default=0.01, show_default=True,
              help="SGD step on mini-batch averaged gradients (> 0).")
@click.option("--momentum", type=float, default=0.9, show_default=True,
              help="Momentum from epoch 6 on (min(0.5, value) before, Hinton 2010), in [0, 1).")
@click.option("--l1", type=float, default=0.0, show_default=True,
              help="L1 weight penalty (the paper used 2e-4).")
@click.option("--l2", type=float, default=0.0, show_default=True, help="L2 weight decay.")
@click.option("--cd-k", type=COUNT, default=1, show_default=True, help="Gibbs steps of CD-k (>= 1).")
@click.option("--persistent/--no-persistent", default=False, show_default=True,
              help="Persistent contrastive divergence (PCD) instead of CD.")
@click.option("--units", type=click.Choice(["spin", "binary"]), default="spin", show_default=True,
              help="Units {-1,+1} (spins used as they are) or {0,1} (spins mapped by (s+1)/2).")
@click.option("--propagate", type=click.Choice(["sample", "mean"]), default="sample",
              show_default=True,
              help="Training data of layer l+1: a sample of p(h|v) or the means E[h|v].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating type of the parameters and of training.")
@click.option("--seed", type=click.IntRange(min=0, max=(1 << 63) - 1), default=None,
              help="Root seed; the same seed gives the same model [default: random, recorded].")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Output model (.npz), written atomically when training ends; per-epoch "
                   "checkpoints go to OUT.ckpt.layer<l>.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its checkpoints (same options and data).")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
@click.option("-q", "--quiet", is_flag=True, help="No per-epoch lines and no progress bar.")
def train(data, layers, epochs, batch_size, learning_rate, momentum, l1, l2, cd_k, persistent,
          units, propagate, dtype, seed, out, resume, overwrite, quiet):
    """Train a stack of RBMs layer by layer on the spin configurations in DATA (HDF5).

    \b
    Conventions (docs/CONTRACTS.md):
      RBM energy  E(v,h) = b.h + v W h + c.v, p = exp(-E)/Z
      data        spins (n, L[, L]) are flattened row-major to n x L^d visible units
      model       one .npz with every layer, the hyperparameters, the training history and
                  the training lattice (so that `rgdl sample` can compute energies)

    Prints one line per epoch and layer (reconstruction error, pseudo-log-likelihood, exact
    log-likelihood for small models). A killed run continues with --resume and ends identical
    to an uninterrupted run.
    """
    import numpy as np

    from ising import atomic
    from ising.io import check_output_path, dataset_shape

    sizes = _parse_layers(layers)
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if not (learning_rate > 0 and np.isfinite(learning_rate)):
        raise ValueError(f"--learning-rate must be > 0, got {learning_rate}")
    if not (0 <= momentum < 1):
        raise ValueError(f"--momentum must be in [0, 1), got {momentum}")
    for name, value in (("--l1", l1), ("--l2", l2)):
        if not (value >= 0 and np.isfinite(value)):
            raise ValueError(f"{name} must be >= 0, got {value}")
    if cd_k < 1:
        raise ValueError(f"--cd-k must be >= 1, got {cd_k}")
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if not os.path.exists(data):
        raise FileNotFoundError(f"data file {data} does not exist")

    out_path = check_output_path(out, overwrite=overwrite, allow_existing=resume,
                                 resumable=True)
    atomic.check_not_input(out_path, data)
    n_samples, *lattice_shape = dataset_shape(data)
    n_visible = int(np.prod(lattice_shape))
    atomic.check_memory(estimate_memory(n_samples, n_visible, sizes, np.dtype(dtype).itemsize,
                                        propagate),
                        f"training a {n_visible}-{'-'.join(map(str, sizes))} stack on "
                        f"{n_samples} samples")
    # one run owns OUT and its checkpoints OUT.ckpt.layer*: taken before any file is touched
    with atomic.OutputLock(out_path):
        _train_locked(data, out, out_path, sizes, seed, resume, overwrite, quiet, units,
                      propagate, dtype, epochs, batch_size, learning_rate, momentum, l1, l2,
                      cd_k, persistent)


def _train_locked(data, out, out_path, sizes, seed, resume, overwrite, quiet, units, propagate,
                  dtype, epochs, batch_size, learning_rate, momentum, l1, l2, cd_k, persistent):
    """The body of ``rgdl train``, run while holding the output's lock."""
    import time

    import numpy as np

    from ising.io import check_output_path
    from rbm.dbn import DBN

    check_output_path(out, overwrite=overwrite, allow_existing=resume, resumable=True)
    spins, lattice = load_training_data(data, units)
    stale = _checkpoint_files(out)
    if resume and out_path.exists() and not stale:
        raise FileExistsError(f"{out} is already complete; nothing to resume "
                              f"(use --overwrite to train again)")
    if resume and stale:
        saved_seed = _seed_from_checkpoint(out)
        if seed is None:
            seed = saved_seed
        elif saved_seed is not None and saved_seed != seed:
            raise ValueError(f"--seed {seed} differs from the checkpoint's seed {saved_seed}")
    elif stale:
        for path in stale:  # leftovers of an earlier run that is not being resumed
            os.remove(path)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))

    rbm_params = dict(learning_rate=learning_rate, n_iter=epochs, batch_size=batch_size,
                      cd_k=cd_k, persistent=persistent, momentum=min(0.5, momentum),
                      final_momentum=momentum, weight_decay=l2, l1=l1, dtype=dtype)
    dbn = DBN(sizes, units=units, rbm_params=rbm_params, propagate=propagate, random_state=seed)
    if not quiet:
        click.echo(f"training {spins.shape[1]}-{'-'.join(map(str, sizes))} {units} RBM stack on "
                   f"{spins.shape[0]} samples of {data} (seed {seed})")
    reporter = _Reporter(len(sizes) * epochs, quiet)
    started = time.perf_counter()
    try:
        dbn.fit(spins, checkpoint=checkpoint_prefix(out), resume=resume, callback=reporter)
    finally:
        reporter.close()
    dbn.metadata_ = {"lattice": lattice, "data": os.path.abspath(data),
                     "n_samples": int(spins.shape[0]), "seed": seed}
    dbn.save(out_path)
    for path in _checkpoint_files(out):
        os.remove(path)
    if not quiet:
        click.echo(f"wrote {out_path} ({time.perf_counter() - started:.1f} s)")

"""``rgdl train``: greedy layer-wise training of an RBM stack (:class:`rbm.dbn.DBN`) on an HDF5
spin dataset (a thin layer over :mod:`rgdl.training`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rgdl.commands.options import (POSITIVE_COUNT, Command, check_input_kind, out_option,
                                   overwrite_option, quiet_option, real, resume_option,
                                   seed_option)
from rgdl.training import (MAX_LAYER_SIZE, checkpoint_prefix, estimate_memory,
                           load_training_data, parse_layers)

#: Names kept importable from this module (they moved to :mod:`rgdl.training`).
__all__ = ["MAX_LAYER_SIZE", "checkpoint_prefix", "estimate_memory", "load_training_data",
           "train"]


class _Reporter:
    """Per-epoch lines on stdout and a tqdm bar on stderr (disabled when not a terminal)."""

    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm import tqdm

        self.quiet = quiet
        self.bar = tqdm(total=total, unit="epoch", desc="train", dynamic_ncols=True,
                        leave=False, disable=True if quiet else None)

    def __call__(self, record: dict[str, Any]) -> None:
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

    def close(self) -> None:
        self.bar.close()


@click.command(cls=Command)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--layers", default="400,100,25", show_default=True,
              help="Hidden-layer sizes of the stack, comma-separated (the visible size is L^d "
                   "of the data); the paper: 400,100,25 on 40x40 spins.")
@click.option("--epochs", type=POSITIVE_COUNT, default=10, show_default=True,
              help="Epochs per layer (>= 1).")
@click.option("--batch-size", type=POSITIVE_COUNT, default=100, show_default=True,
              help="Mini-batch size.")
@click.option("--learning-rate", type=real(0, min_open=True), default=0.01, show_default=True,
              help="SGD step on mini-batch averaged gradients (> 0).")
@click.option("--momentum", type=real(0, 1, max_open=True), default=0.9, show_default=True,
              help="Momentum from epoch 6 on (min(0.5, value) before, Hinton 2010), in [0, 1).")
@click.option("--l1", type=real(0), default=0.0, show_default=True,
              help="L1 weight penalty (the paper used 2e-4).")
@click.option("--l2", type=real(0), default=0.0, show_default=True, help="L2 weight decay.")
@click.option("--cd-k", type=POSITIVE_COUNT, default=1, show_default=True,
              help="Gibbs steps of CD-k (>= 1).")
@click.option("--persistent/--no-persistent", default=False, show_default=True,
              help="Persistent contrastive divergence (PCD) instead of CD.")
@click.option("--units", type=click.Choice(["spin", "binary"]), default="spin", show_default=True,
              help="Units {-1,+1} (spins used as they are) or {0,1} (spins mapped by (s+1)/2).")
@click.option("--propagate", type=click.Choice(["sample", "mean"]), default="sample",
              show_default=True,
              help="Training data of layer l+1: a sample of p(h|v) or the means E[h|v].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating type of the parameters and of training.")
@seed_option(help="Root seed; the same seed gives the same model [default: random, recorded].")
@out_option(required=True,
            help="Output model (.npz), written atomically when training ends; per-epoch "
                 "checkpoints go to OUT.ckpt.layer<l>.")
@resume_option(help="Continue an interrupted run from its checkpoints (same options and data).")
@overwrite_option()
@quiet_option(help="No per-epoch lines and no progress bar.")
def train(data: str, layers: str, epochs: int, batch_size: int, learning_rate: float,
          momentum: float, l1: float, l2: float, cd_k: int, persistent: bool, units: str,
          propagate: str, dtype: str, seed: int | None, out: str, resume: bool, overwrite: bool,
          quiet: bool) -> None:
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

    sizes = parse_layers(layers)
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    check_input_kind(data, "dataset")
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


def _train_locked(data: str, out: str, out_path: Path, sizes: list[int], seed: int | None,
                  resume: bool, overwrite: bool, quiet: bool, units: str, propagate: str,
                  dtype: str, epochs: int, batch_size: int, learning_rate: float, momentum: float,
                  l1: float, l2: float, cd_k: int, persistent: bool) -> None:
    """The body of ``rgdl train``, run while holding the output's lock."""
    import time

    from ising.io import check_output_path
    from rgdl.training import resume_seed, train_stack

    check_output_path(out, overwrite=overwrite, allow_existing=resume, resumable=True)
    spins, lattice = load_training_data(data, units)
    seed = resume_seed(out, seed, resume=resume, out_exists=out_path.exists())
    rbm_params = dict(learning_rate=learning_rate, n_iter=epochs, batch_size=batch_size,
                      cd_k=cd_k, persistent=persistent, momentum=min(0.5, momentum),
                      final_momentum=momentum, weight_decay=l2, l1=l1, dtype=dtype)
    if not quiet:
        click.echo(f"training {spins.shape[1]}-{'-'.join(map(str, sizes))} {units} RBM stack on "
                   f"{spins.shape[0]} samples of {data} (seed {seed})")
    reporter = _Reporter(len(sizes) * epochs, quiet)
    started = time.perf_counter()
    try:
        train_stack(spins, lattice, data_path=data, out=out, out_path=out_path, sizes=sizes,
                    seed=seed, resume=resume, units=units, propagate=propagate,
                    rbm_params=rbm_params, callback=reporter)
    finally:
        reporter.close()
    if not quiet:
        click.echo(f"wrote {out_path} ({time.perf_counter() - started:.1f} s)")

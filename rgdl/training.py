"""Training RBM stacks on Ising datasets: the library behind ``rgdl train`` and sweep points.

* :func:`load_training_data` — an HDF5 spin dataset as the visible design matrix of an RBM
  (docs/CONTRACTS.md: spins flattened row-major, +-1 for spin units, (s + 1)/2 for binary).
* :func:`estimate_memory` — the bytes ``rgdl train`` will allocate, checked before any work.
* Checkpoints of an interrupted run (:func:`checkpoint_prefix`, :func:`checkpoint_files`,
  :func:`resume_seed`) and :func:`train_stack`, the whole greedy layer-wise fit.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ising.io import read_dataset
from rbm.dbn import DBN
from rbm.io import load_checkpoint
from rgdl.seeds import random_seed

#: Suffix of the per-layer checkpoints of ``rgdl train --out OUT`` (``OUT.ckpt.layer<l>``).
CHECKPOINT_SUFFIX = ".ckpt"

#: Largest layer size accepted by ``--layers`` (a bound on the kernels' int32 unit indices).
MAX_LAYER_SIZE = 1 << 31


def load_training_data(path: str | os.PathLike[str], units: str = "spin"
                       ) -> tuple[NDArray[np.int8], dict[str, Any]]:
    """Read an HDF5 spin dataset, flatten each configuration, map to the RBM's units.

    Parameters
    ----------
    path : path
        Dataset in the schema of docs/ARCHITECTURE.md (:func:`ising.io.read_dataset`).
    units : {"spin", "binary"}
        Visible units {-1, +1} (the spins as they are) or {0, 1} (``(s + 1) / 2``).

    Returns
    -------
    (data, lattice) : (ndarray (n_samples, L**d) int8, dict)
        ``data`` in {-1, +1} (spin) or {0, 1} (binary); ``lattice`` holds the dimension, size,
        temperature, coupling and field of the dataset.

    Raises
    ------
    ValueError
        No samples, or spins other than +-1.
    """
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


def parse_layers(text: str) -> list[int]:
    """Hidden-layer sizes from ``"400,100,25"`` (each between 1 and ``MAX_LAYER_SIZE - 1``)."""
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
            raise ValueError(f"--layers sizes must be between 1 and {MAX_LAYER_SIZE - 1}, "
                             f"got {size}")
    return sizes


def estimate_memory(n_samples: int, n_visible: int, sizes: Sequence[int], itemsize: int,
                    propagate: str) -> int:
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


def checkpoint_prefix(out: str | os.PathLike[str]) -> str:
    """Prefix of the per-layer training checkpoints of ``rgdl train --out OUT``."""
    return os.fspath(out) + CHECKPOINT_SUFFIX


def checkpoint_files(out: str | os.PathLike[str]) -> list[str]:
    """The checkpoint files ``OUT.ckpt.layer*`` present now, sorted."""
    return sorted(glob.glob(glob.escape(checkpoint_prefix(out)) + ".layer*"))


def resume_seed(out: str | os.PathLike[str], seed: int | None, *, resume: bool,
                out_exists: bool) -> int:
    """The root seed of a run of ``rgdl train --out OUT``; prepares OUT's checkpoints.

    With ``resume``, the checkpoints' seed (``seed`` may be None or must equal it); without,
    leftover checkpoints of an earlier run are removed. A missing seed is drawn at random.

    Raises
    ------
    FileExistsError
        ``resume`` of an output that is complete (no checkpoints left).
    ValueError
        ``seed`` differs from the checkpoint's.
    """
    stale = checkpoint_files(out)
    if resume and out_exists and not stale:
        raise FileExistsError(f"{out} is already complete; nothing to resume "
                              f"(use --overwrite to train again)")
    if resume and stale:
        saved_seed = _checkpoint_seed(out)
        if seed is None:
            seed = saved_seed
        elif saved_seed is not None and saved_seed != seed:
            raise ValueError(f"--seed {seed} differs from the checkpoint's seed {saved_seed}")
    elif stale:
        for path in stale:  # leftovers of an earlier run that is not being resumed
            os.remove(path)
    return random_seed() if seed is None else seed


def _checkpoint_seed(out: str | os.PathLike[str]) -> int | None:
    """The root seed recorded in the first layer's checkpoint (for --resume without --seed)."""
    path = checkpoint_prefix(out) + ".layer1"
    if not os.path.exists(path):
        return None
    seed = load_checkpoint(path)["meta"]["params"].get("random_state")
    return seed.get("entropy") if isinstance(seed, dict) else None


def train_stack(spins: NDArray[np.int8], lattice: Mapping[str, Any], *,
                data_path: str | os.PathLike[str], out: str | os.PathLike[str],
                out_path: str | os.PathLike[str], sizes: Sequence[int], seed: int, resume: bool,
                units: str, propagate: str, rbm_params: Mapping[str, Any] | None,
                callback: Callable[[dict[str, Any]], object] | None = None) -> DBN:
    """Fit a DBN layer by layer on ``spins`` with per-epoch checkpoints; save it to ``out_path``.

    ``rbm_params`` are the keyword arguments of every layer's :class:`rbm.RBM`; the model records
    the training ``lattice``, the data path, the sample count and the seed (``metadata_``), so
    that ``rgdl sample`` can compute energies. The checkpoints are removed once it is saved.
    """
    dbn = DBN(sizes, units=units, rbm_params=rbm_params, propagate=propagate, random_state=seed)
    dbn.fit(spins, checkpoint=checkpoint_prefix(out), resume=resume, callback=callback)
    dbn.metadata_ = {"lattice": lattice, "data": os.path.abspath(data_path),
                     "n_samples": int(spins.shape[0]), "seed": seed}
    dbn.save(out_path)
    for path in checkpoint_files(out):
        os.remove(path)
    return dbn

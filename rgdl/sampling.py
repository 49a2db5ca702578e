"""Generating spin configurations from a trained RBM stack: the library behind ``rgdl sample``.

:func:`generate` draws configurations on the model's training lattice and computes their
observables (:mod:`ising.lattice`); :func:`write_samples` stores them in the schema of the
training data (:func:`ising.io.write_dataset`), so every tool that reads a Monte Carlo dataset
reads a generated one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

from ising.io import write_dataset
from ising.lattice import energy_per_spin, magnetization_per_spin
from rbm.dbn import DBN


def generate(model_path: str | os.PathLike[str], n_samples: int, gibbs_steps: int,
             seed: int | None, mode: str
             ) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64],
                        dict[str, Any]]:
    """Draw configurations from a saved model and compute their observables.

    Returns
    -------
    (spins, energy, magnetization, lattice)
        ``spins`` int8 in {-1, +1} with the training lattice's shape, energy and magnetization
        per spin (:mod:`ising.lattice`, docs/CONTRACTS.md), and the lattice metadata.
    """
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


def estimate_memory(n_samples: int, sizes: Sequence[int]) -> int:
    """Bytes of the main arrays ``rgdl sample`` allocates (an estimate, >= the truth).

    Every chain holds float64 states and means of every layer (4 x n x sum(sizes) x 8), the
    output spins (int8) and their energy and magnetization (float64).
    """
    return n_samples * (32 * sum(sizes) + sizes[0] + 16)


def write_samples(model_path: str | os.PathLike[str], out: str | os.PathLike[str], *,
                  n_samples: int, gibbs_steps: int, seed: int, mode: str,
                  overwrite: bool = False
                  ) -> tuple[Path, NDArray[np.float64], NDArray[np.float64]]:
    """Generate ``n_samples`` configurations (:func:`generate`) and write them to ``out``.

    The dataset's root attributes are those of the training lattice; ``algorithm`` is
    ``"dbn-gibbs-<mode>"``, ``burn_in`` the Gibbs steps, ``n_chains`` the number of samples and
    ``source`` the model file.

    Returns
    -------
    (path, energy, magnetization)
    """
    spins, energy, magnetization, lattice = generate(model_path, n_samples, gibbs_steps, seed,
                                                     mode)
    attrs = {"dimension": int(lattice["dimension"]), "size": int(lattice["size"]),
             "temperature": float(lattice["temperature"]), "coupling": float(lattice["coupling"]),
             "field": float(lattice["field"]), "algorithm": f"dbn-gibbs-{mode}", "seed": int(seed),
             "burn_in": int(gibbs_steps), "thin": 1, "tau_int": float("nan"),
             "n_chains": int(n_samples), "source": os.path.abspath(model_path)}
    path = write_dataset(out, spins, energy, magnetization, attrs=attrs, overwrite=overwrite)
    return path, energy, magnetization

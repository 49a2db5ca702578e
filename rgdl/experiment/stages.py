"""The expensive stages of the experiment, cached and resumable: Monte Carlo data and RBM stacks.

The Monte Carlo dataset (:func:`ising.generate_dataset`) and every RBM layer checkpoint after
each epoch, so a killed run resumes where it stopped; a finished stack is saved as
``stack.npz`` (:func:`rbm.save_model`). :class:`rbm.DBN` trains layer ``l + 1`` on hidden states
*sampled* from ``P(h | v)`` of layer ``l`` (Hinton, Osindero & Teh 2006), or on its means
``E[h | v]`` with ``propagate="mean"`` (the "hinton" recipe).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from ising.dataset import GenerationResult, generate_dataset
from ising.io import SpinDataset, partial_path, read_dataset
from ising.samplers import sample
from rbm import DBN, RBM, load_layers, save_model
from rbm.archive import atomic_savez
from rgdl.experiment.cache import discard, load_npz
from rgdl.experiment.config import ExperimentConfig, ProgressCallback
from rgdl.seeds import child_seed

log = logging.getLogger(__name__)

__all__ = ["simulate_data", "train_stack", "layer_params", "untrained_params", "LayerParams"]

#: The parameters of one RBM layer as float64 arrays: ``(weights, visible_bias, hidden_bias)``.
LayerParams = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def simulate_data(cfg: ExperimentConfig, folder: Path, progress: ProgressCallback,
                  force: bool = False) -> SpinDataset:
    """The training dataset ``folder/ising.h5`` and the RBM-flow starts ``folder/flow_starts.npz``.

    Resumes a killed simulation; with ``force`` unusable cached files are discarded and made
    again (without it they are a ValueError naming ``--force``).

    Returns
    -------
    ising.io.Dataset
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ising.h5"

    def simulated(done: int, total: int) -> None:
        progress("simulate", done, total)

    def run() -> tuple[GenerationResult, SpinDataset]:
        result = generate_dataset(path, dimension=2, size=cfg.size, temperature=cfg.temperature,
                                  coupling=cfg.coupling, algorithm=cfg.algorithm,
                                  n_samples=cfg.n_samples, n_chains=cfg.mc_chains,
                                  seed=child_seed(cfg.seed, "simulate"), resume=True,
                                  progress=simulated)
        return result, read_dataset(path)

    try:
        result, dataset = run()
    except ValueError as exc:
        if not force:
            raise ValueError(f"{exc} (rerun with --force to discard the cached Monte Carlo data "
                             "and simulate again)") from None
        log.warning("cached Monte Carlo data unusable (%s); simulating again", exc)
        discard(path, partial_path(path))
        result, dataset = run()
    log.info("Monte Carlo data: %s (tau_int %.3g sweeps)", result.path,
             result.attrs.get("tau_int", float("nan")))
    _flow_starts(cfg, folder / "flow_starts.npz", force)
    return dataset


def _flow_starts(cfg: ExperimentConfig, flow_path: Path, force: bool) -> None:
    """Wolff samples at each flow temperature (coupling 1), cached in ``flow_path``."""
    if flow_path.exists():
        try:
            load_npz(flow_path, "flow starts")
        except ValueError:
            if not force:
                raise
            discard(flow_path)
    if flow_path.exists():
        return
    arrays: dict[str, npt.ArrayLike] = {}
    for i, t in enumerate(cfg.flow_temperatures):
        res = sample(2, cfg.size, float(t), coupling=1.0, algorithm="wolff",
                     n_samples=cfg.flow_samples, n_chains=min(8, cfg.flow_samples),
                     seed=child_seed(cfg.seed, f"flow{i}"))
        arrays[f"spins_{i}"] = res.spins
        arrays[f"energy_{i}"] = res.energy
    arrays["temperatures"] = np.asarray(cfg.flow_temperatures, np.float64)
    atomic_savez(flow_path, arrays)


def train_stack(cfg: ExperimentConfig, spins_flat: npt.ArrayLike, folder: Path, n_epochs: int,
                seed_name: str, progress: ProgressCallback, label: str,
                force: bool = False) -> list[RBM]:
    """Greedy layer-wise training with :class:`rbm.DBN` (checkpointed every epoch; resumes).

    With ``force`` a corrupt cached stack or checkpoint is discarded and trained again.

    Returns
    -------
    list of rbm.RBM
        The fitted layers, RBM 1 first.
    """
    try:
        return _train_stack_once(cfg, spins_flat, folder, n_epochs, seed_name, progress, label)
    except ValueError as exc:
        if not force:
            raise ValueError(f"{exc} (rerun with --force to discard the cached {label} stack "
                             "and train it again)") from None
        log.warning("cached %s stack unusable (%s); training again", label, exc)
        discard(folder)
        return _train_stack_once(cfg, spins_flat, folder, n_epochs, seed_name, progress, label)


def _train_stack_once(cfg: ExperimentConfig, spins_flat: npt.ArrayLike, folder: Path,
                      n_epochs: int, seed_name: str, progress: ProgressCallback,
                      label: str) -> list[RBM]:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "stack.npz"
    if final.exists():
        return load_layers(final)[0]
    x = np.asarray(spins_flat, np.int8)
    if cfg.units == "binary":
        x = ((x + 1) // 2).astype(np.int8)
    dbn = DBN(tuple(int(h) for h in cfg.layers), units=cfg.units, propagate=cfg.propagate,
              rbm_params=dict(learning_rate=cfg.learning_rate, n_iter=n_epochs,
                              batch_size=cfg.batch_size, cd_k=cfg.cd_k, l1=cfg.l1,
                              weight_decay=cfg.weight_decay, init_scale=cfg.init_scale,
                              init_visible_bias=cfg.init_visible_bias,
                              negative_visible=cfg.negative_visible, monitor_size=0),
              random_state=child_seed(cfg.seed, seed_name))

    def callback(record: dict[str, Any]) -> None:
        progress(f"{label} layer {record['layer']}", record["epoch"], record["n_epochs"])

    dbn.fit(x, checkpoint=folder / "checkpoint", resume=True, callback=callback)
    save_model(final, dbn, {"config": cfg.to_dict(), "label": label})
    return dbn.layers_


def layer_params(layer: RBM) -> LayerParams:
    """``(weights, visible_bias, hidden_bias)`` of a fitted RBM as float64 arrays."""
    return (np.asarray(layer.weights_, np.float64), np.asarray(layer.visible_bias_, np.float64),
            np.asarray(layer.hidden_bias_, np.float64))


def untrained_params(layer_sizes: Sequence[int], n_visible: int, seed: int,
                     init_scale: float = 0.01) -> list[LayerParams]:
    """The same architecture at its initialisation: w ~ N(0, init_scale^2) (Hinton 2010: 0.01;
    rbm.m: 0.1), zero biases; a list of (weights, visible bias, hidden bias) per layer."""
    rng = np.random.default_rng(seed)
    sizes = [n_visible] + list(layer_sizes)
    return [(rng.normal(0.0, init_scale, size=(sizes[i], sizes[i + 1])), np.zeros(sizes[i]),
             np.zeros(sizes[i + 1])) for i in range(len(layer_sizes))]

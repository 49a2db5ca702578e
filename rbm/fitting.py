"""The pieces of :meth:`rbm.RBM.fit` around the CD engine (:class:`rbm.train.CDTrainer`): the
initial parameters, the trainer of a fit, and the checks before resuming a checkpoint.

References
----------
G. E. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR 2010-003
(2010), sec. 8 (initial values of the weights and biases).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm import _kernels as K
from rbm._params import rename_params
from rbm._typing import FloatArray, History, RBMLayer
from rbm.train import CDTrainer

__all__ = ["initial_parameters", "make_trainer", "check_resumable", "checkpoint_state"]


def initial_parameters(data: NDArray[Any], n_hidden: int, units: str, dtype: npt.DTypeLike,
                       flip_augmentation: bool, seed: np.random.SeedSequence, *,
                       init_scale: float = 0.01, init_visible_bias: str = "data"
                       ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Hinton (2010, sec. 8) initialisation in the sign convention of docs/CONTRACTS.md.

    W ~ N(0, init_scale^2) (0.01 by default); hidden bias 0; visible bias zero with
    ``init_visible_bias="zero"`` (Hinton & Salakhutdinov's rbm.m), else from the data means
    so that the model of independent visibles reproduces them: binary P(v_i = 1) =
    sigma(-c_i) = p_i gives
    c_i = log((1 - p_i)/p_i); spin E[v_i] = -tanh(c_i) = m_i gives c_i = -atanh(m_i)
    (means clipped away from the boundary by 1e-3; zero with ``flip_augmentation``, whose
    symmetrised data have zero means).

    Parameters
    ----------
    data : ndarray (n_samples, n_visible)
        Training data (int8 unit values, or float unit means).
    n_hidden : int
    units : {"binary", "spin"}
    dtype : numpy dtype
        Float type of the returned parameters.
    flip_augmentation : bool
    seed : numpy.random.SeedSequence
        Stream of the initial weights.
    init_scale : float, default 0.01
        Standard deviation of the initial weights.
    init_visible_bias : {"data", "zero"}, default "data"
        Initial visible biases from the data means, or zero.

    Returns
    -------
    weights, visible_bias, hidden_bias : ndarray
    """
    rng = np.random.default_rng(seed)
    n_visible = data.shape[1]
    weights = (init_scale * rng.standard_normal((n_visible, n_hidden))).astype(dtype)
    if flip_augmentation:
        mean = np.zeros(n_visible)  # the augmented (symmetrised) data have zero means
    elif data.dtype == np.int8:
        mean = K.column_means(data)
    else:
        mean = data.mean(axis=0, dtype=np.float64)
    eps = 1e-3
    if units == "binary":
        q = np.clip(mean, eps, 1.0 - eps)
        visible_bias = np.log1p(-q) - np.log(q)
    else:
        m = np.clip(mean, -1.0 + 2 * eps, 1.0 - 2 * eps)
        visible_bias = -np.arctanh(m)
    if init_visible_bias == "zero":
        visible_bias = np.zeros(n_visible)
    return weights, visible_bias.astype(dtype), np.zeros(n_hidden, dtype)


def make_trainer(model: RBMLayer, data: NDArray[Any], p: Mapping[str, Any],
                 seed: np.random.SeedSequence) -> CDTrainer:
    """The :class:`rbm.train.CDTrainer` of a fit, acting in place on ``model``'s parameters,
    its persistent chains started from ``data`` (``p``: validated hyperparameters)."""
    rng = np.random.default_rng(seed)
    trainer = CDTrainer(model.weights_, model.visible_bias_, model.hidden_bias_,
                        units=p["units"], batch_size=p["batch_size"], cd_k=p["cd_k"],
                        persistent=p["persistent"], n_chains=p["n_persistent_chains"],
                        flip_augmentation=p["flip_augmentation"], rng=rng,
                        negative_visible=p["negative_visible"])
    trainer.init_chains(data)
    return trainer


def check_resumable(meta: Mapping[str, Any], current: Mapping[str, Any], p: Mapping[str, Any],
                    fingerprint: str | None) -> None:
    """Refuse (ValueError) a checkpoint written with other hyperparameters or data.

    Parameters
    ----------
    meta : dict
        ``load_checkpoint(path)["meta"]``.
    current : dict
        The model's hyperparameters as stored (:meth:`rbm.RBM.stored_params`).
    p : dict
        Validated hyperparameters (the epoch count may grow with a constant learning rate: the
        schedule of the epochs already done does not depend on it then; ``verbose`` may
        differ).
    fingerprint : str
        :func:`rbm.validation.fingerprint` of the training data.
    """
    saved = rename_params(meta["params"])  # a checkpoint of the previous release
    free = ("verbose",) + (("n_iter",) if p["learning_rate_schedule"] == "constant" else ())
    diff = sorted(k for k in set(saved) | set(current)
                  if k not in free and saved.get(k) != current.get(k))
    if diff:
        raise ValueError(f"checkpoint was written with different hyperparameters "
                         f"({', '.join(diff)}); cannot resume")
    if meta.get("fingerprint") != fingerprint:
        raise ValueError("checkpoint was written for different training data; cannot resume")


def checkpoint_state(state: Mapping[str, Any], p: Mapping[str, Any], n_visible: int
                     ) -> tuple[FloatArray, FloatArray, FloatArray, History, int,
                                np.random.SeedSequence]:
    """The model state saved in a checkpoint (:func:`rbm.archive.load_checkpoint`).

    Returns
    -------
    weights, visible_bias, hidden_bias : ndarray
        In the dtype of ``p`` (validated hyperparameters).
    history : dict of lists
    epochs_done : int
    root_seed : numpy.random.SeedSequence
        The root seed of the interrupted fit.
    """
    meta = state["meta"]
    dtype = p["dtype"]
    weights = np.array(state["weights"], dtype=dtype)
    if weights.shape != (n_visible, p["n_components"]):
        raise ValueError(f"checkpoint weights have shape {weights.shape}, expected "
                         f"{(n_visible, p['n_components'])}")
    root = np.random.SeedSequence(meta["seed_entropy"], spawn_key=tuple(meta["seed_spawn_key"]))
    return (weights, np.array(state["visible_bias"], dtype=dtype),
            np.array(state["hidden_bias"], dtype=dtype),
            {k: list(v) for k, v in meta["history"].items()}, int(meta["epoch"]), root)

"""Hyperparameter checks of :class:`rbm.RBM` and :class:`rbm.DBN`, seeds, and the training
schedules (learning rate, momentum) evaluated per epoch.

Every check raises ValueError with a one-line message naming the parameter. The schedules
follow G. E. Hinton, "A practical guide to training restricted Boltzmann machines",
UTML TR 2010-003 (2010), sec. 9 (momentum switched from 0.5 to 0.9 after a few epochs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from rbm._typing import SeedLike, Units
from rbm.train import NEGATIVE_VISIBLE

_T = TypeVar("_T")

__all__ = ["UNITS", "SCHEDULES", "DTYPES", "PLL_METHODS", "INIT_VISIBLE_BIAS",
           "LATER_PARAM_DEFAULTS", "check_integer", "check_real", "check_bool", "check_choice",
           "check_seed", "as_rng", "root_seed", "child_seed", "validate_rbm_params",
           "learning_rate_at", "momentum_at"]

UNITS: tuple[Units, ...] = ("binary", "spin")
SCHEDULES = ("constant", "linear", "exponential")
DTYPES = ("float32", "float64")
PLL_METHODS = ("random", "exact")
#: Initial visible biases: from the data means (Hinton 2010, sec. 8) or zero (rbm.m).
INIT_VISIBLE_BIAS = ("data", "zero")
#: Hyperparameters of :class:`rbm.RBM` added after the model-file format was fixed, with their
#: defaults. Model files and checkpoints store them only when they differ from these
#: (:meth:`rbm.RBM.stored_params`), so models trained with the defaults keep their bytes and
#: older files still load and resume.
LATER_PARAM_DEFAULTS = {"init_scale": 0.01, "init_visible_bias": "data",
                        "negative_visible": "samples"}


def check_integer(name: str, value: object, low: int) -> int:
    """``value`` as an int >= ``low`` (a bool is not an integer)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_real(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False,
               high_open: bool = False) -> float:
    """``value`` as a finite float in the interval [low, high] (ends open on request)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    bad = (not math.isfinite(number) or number < low or number > high
           or (low_open and number == low) or (high_open and number == high))
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be finite and in {lo}{low}, {high}{hi}, got {number}")
    return number


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool (only True/False, NumPy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: _T, choices: Sequence[_T]) -> _T:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        allowed = (" or ".join(repr(c) for c in choices) if len(choices) == 2
                   else f"one of {choices}")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_seed(seed: object, name: str = "random_state"
               ) -> int | np.random.SeedSequence | np.random.Generator | None:
    """None, a non-negative int, a SeedSequence or a Generator (returned as given, ints as int)."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be None, a non-negative int or a numpy SeedSequence, "
                         f"got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}")
    return int(seed)


def as_rng(seed: SeedLike) -> np.random.Generator:
    """A Generator from None / int / SeedSequence / Generator (a Generator is used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed, "seed"))


def root_seed(random_state: SeedLike) -> np.random.SeedSequence:
    """The root SeedSequence of a fit from ``random_state`` (None: fresh OS entropy)."""
    seed = check_seed(random_state)
    if isinstance(seed, np.random.Generator):
        raise ValueError("random_state must be None, an int or a SeedSequence (not a Generator)")
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def child_seed(root: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """Child ``key`` of ``root`` (deterministic, unlike the stateful ``SeedSequence.spawn``)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(key))


def validate_rbm_params(params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of :class:`rbm.RBM` checked and normalised.

    Parameters
    ----------
    params : dict
        ``RBM.get_params()``.

    Returns
    -------
    dict
        One entry per hyperparameter as ``fit`` uses it: defaults resolved
        (``final_learning_rate``, ``n_persistent_chains``), ``dtype`` a numpy dtype.

    Raises
    ------
    ValueError
        An invalid hyperparameter (one-line message naming it).
    """
    p = dict(params)
    for name in ("n_components", "n_iter", "batch_size", "cd_k"):
        p[name] = check_integer(name, p[name], 1)
    for name in ("momentum_switch_epoch", "monitor_size", "monitor_exact_max_units", "verbose"):
        p[name] = check_integer(name, p[name], 0)
    check_choice("units", p["units"], UNITS)
    check_choice("learning_rate_schedule", p["learning_rate_schedule"], SCHEDULES)
    check_choice("monitor_pll", p["monitor_pll"], PLL_METHODS)
    check_choice("init_visible_bias", p["init_visible_bias"], INIT_VISIBLE_BIAS)
    check_choice("negative_visible", p["negative_visible"], NEGATIVE_VISIBLE)
    p["learning_rate"] = check_real("learning_rate", p["learning_rate"], 0.0, low_open=True)
    if p["final_learning_rate"] is None:
        p["final_learning_rate"] = p["learning_rate"] / 100.0
    else:
        p["final_learning_rate"] = check_real("final_learning_rate", p["final_learning_rate"],
                                              0.0, low_open=True)
    if p["n_persistent_chains"] is None:
        p["n_persistent_chains"] = p["batch_size"]
    else:
        p["n_persistent_chains"] = check_integer("n_persistent_chains", p["n_persistent_chains"], 1)
    for name in ("momentum", "final_momentum"):
        p[name] = check_real(name, p[name], 0.0, 1.0, high_open=True)
    for name in ("weight_decay", "l1", "init_scale"):
        p[name] = check_real(name, p[name], 0.0)
    for name in ("persistent", "flip_augmentation"):
        p[name] = check_bool(name, p[name])
    if str(p["dtype"]) not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {p['dtype']!r}")
    p["dtype"] = np.dtype(str(p["dtype"]))
    if p["flip_augmentation"] and p["units"] != "spin":
        raise ValueError("flip_augmentation requires spin units")
    root_seed(p["random_state"])  # refuses a Generator or a bad seed
    p["random_state"] = check_seed(p["random_state"])
    return p


def learning_rate_at(epoch: int, p: dict[str, Any]) -> float:
    """Learning rate of 0-based ``epoch``: constant, or a linear / geometric interpolation from
    ``learning_rate`` to ``final_learning_rate`` over ``n_iter`` epochs (held at the end)."""
    lr0, lr1, n = p["learning_rate"], p["final_learning_rate"], p["n_iter"]
    if p["learning_rate_schedule"] == "constant" or n == 1:
        return lr0
    t = min(epoch, n - 1) / (n - 1)
    if p["learning_rate_schedule"] == "linear":
        return lr0 + (lr1 - lr0) * t
    return lr0 * (lr1 / lr0) ** t


def momentum_at(epoch: int, p: dict[str, Any]) -> float:
    """Momentum of 0-based ``epoch``: ``momentum`` before ``momentum_switch_epoch``, then
    ``final_momentum`` (Hinton 2010, sec. 9)."""
    return p["momentum"] if epoch < p["momentum_switch_epoch"] else p["final_momentum"]

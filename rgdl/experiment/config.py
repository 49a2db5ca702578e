"""Configuration of the paper's experiment: :class:`ExperimentConfig` and the named presets.

:data:`PRESETS` is a plain dict ``name -> overrides of ExperimentConfig's defaults``; add a
preset by adding an entry (``rgdl reproduce`` and :func:`preset` pick it up by name).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Literal

import numpy as np

__all__ = ["ExperimentConfig", "PRESETS", "RECIPES", "LATER_FIELDS", "preset",
           "ProgressCallback"]

#: The progress callback of the stages, ``progress(stage, done, total)``: ``done`` and ``total``
#: count the work of ``stage``, or ``done`` is ``None`` and ``total`` a message ("running",
#: "cached") when a stage starts or is skipped (:func:`rgdl.pipeline.run_pipeline`).
ProgressCallback = Callable[[str, int | None, int | str], object]


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Every parameter of the experiment (see :data:`PRESETS`).

    Temperatures of the RBM flow are in units of ``J`` (``T/J``); the training data use
    ``coupling`` at ``temperature`` (the paper: ``J = 0.408`` at ``T = 1``, i.e. ``T/J = 2.451``,
    on the paramagnetic side of ``T_c/J = 2.269``).
    """

    size: int = 40
    temperature: float = 1.0
    coupling: float = 0.408
    n_samples: int = 20000
    algorithm: str = "metropolis"
    mc_chains: int = 16
    layers: tuple[int, ...] = (400, 100, 25)
    units: Literal["spin", "binary"] = "spin"
    n_epochs: int = 200
    batch_size: int = 100
    learning_rate: float = 0.01
    cd_k: int = 1
    l1: float = 2e-4
    # training recipe beyond the fields above (RECIPES; rbm.RBM's options of the same names)
    weight_decay: float = 0.0     # L2 weight cost
    init_scale: float = 0.01      # initial weights N(0, init_scale^2)
    init_visible_bias: Literal["data", "zero"] = "data"
    negative_visible: Literal["samples", "probabilities"] = "samples"
    propagate: Literal["sample", "mean"] = "sample"     # training data of RBM l+1 (rbm.DBN)
    null_epochs: int = 0          # epochs of the shuffled-data null (0 or > n_epochs: n_epochs)
    analysis_samples: int = 4000
    block_sizes: tuple[int, ...] = (1, 2, 4, 8)
    generation_chains: int = 100  # half started from noise, half from data
    generation_steps: int = 1000
    generation_records: int = 20
    flow_temperatures: tuple[float, ...] = (1.8, 2.269, 3.0, 4.0)
    flow_samples: int = 400
    flow_steps: int = 20
    ais_betas: int = 3000
    ais_runs: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        def positive_int(name: str, minimum: int = 1) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        for name, minimum in (("size", 4), ("n_samples", 20), ("mc_chains", 1), ("n_epochs", 1),
                              ("batch_size", 1), ("cd_k", 1), ("null_epochs", 0),
                              ("analysis_samples", 20), ("generation_chains", 4),
                              ("generation_steps", 8), ("generation_records", 8),
                              ("flow_samples", 2), ("flow_steps", 1), ("ais_betas", 3),
                              ("ais_runs", 2), ("seed", 0)):
            positive_int(name, minimum)
        for name in ("temperature", "coupling", "learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name in ("l1", "weight_decay", "init_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        for name, allowed in (("init_visible_bias", ("data", "zero")),
                              ("negative_visible", ("samples", "probabilities")),
                              ("propagate", ("sample", "mean"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.units not in ("spin", "binary"):
            raise ValueError(f"units must be 'spin' or 'binary', got {self.units!r}")
        if not self.layers or any(int(h) < 1 for h in self.layers):
            raise ValueError(f"layers must be a non-empty list of positive sizes, got {self.layers!r}")
        if self.generation_chains % 2:
            raise ValueError("generation_chains must be even (half from noise, half from data)")
        if self.generation_records > self.generation_steps:
            raise ValueError("generation_records must not exceed generation_steps")
        bs = [b for b in self.block_sizes if 1 <= int(b) <= self.size]
        if not bs:
            raise ValueError(f"no block size in {self.block_sizes} fits L={self.size}")
        if not self.flow_temperatures or any(t <= 0 for t in self.flow_temperatures):
            raise ValueError("flow_temperatures must be positive")

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON values; the recipe fields of :data:`LATER_FIELDS` only when they
        differ from their defaults (so the configurations, cache keys and results of runs made
        before those fields existed keep their bytes, and such results folders still resume)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()
                if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}


#: Fields added to :class:`ExperimentConfig` after its first release, with their defaults.
LATER_FIELDS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
                if f.name in ("weight_decay", "init_scale", "init_visible_bias",
                              "negative_visible", "propagate")}


PRESETS: dict[str, dict[str, Any]] = {
    # a first look in well under a minute on 2 cores
    "quick": dict(size=16, n_samples=2000, mc_chains=8, layers=(64, 16, 4), n_epochs=20,
                  batch_size=100, learning_rate=0.01, analysis_samples=1500,
                  generation_chains=40, generation_steps=200, generation_records=10,
                  flow_temperatures=(1.8, 2.269, 3.5), flow_samples=200, flow_steps=10,
                  ais_betas=500, ais_runs=32),
    # Mehta & Schwab's setting for the data and the trained stack. To fit 5 minutes on 2 cores
    # the *analysis* budgets are cut (each is reported in report.md): the shuffled-data null is
    # trained for 5 epochs, analyses use 4000 of the 20,000 samples, generation runs 32 chains
    # (16 from noise, 16 from data) of 1000 Gibbs sweeps, AIS 4000 betas x 16 runs (plus a
    # 2000-beta check of the schedule bias), the RBM flow 200 starts per temperature.
    "paper": dict(size=40, n_samples=20000, mc_chains=16, layers=(400, 100, 25), n_epochs=200,
                  batch_size=100, learning_rate=0.01, null_epochs=5, analysis_samples=4000,
                  generation_chains=32, generation_steps=1000, generation_records=20,
                  flow_samples=200, ais_betas=4000, ais_runs=16),
}


#: Training recipes, combined with a size preset by :func:`preset` (docs/CONTRACTS.md, "The
#: Hinton-Salakhutdinov recipe"). "rgdl": the defaults of :class:`ExperimentConfig` (spin units,
#: learning rate 0.01, L1 2e-4 as the paper's text says, Hinton's 2010 initialisation, sampled
#: negative visibles, sampled up-propagation). "hinton": Hinton & Salakhutdinov's rbm.m as
#: Mehta & Schwab ran it: {0,1} units, learning rate 0.1 for weights and biases, momentum 0.5 then
#: 0.9 from epoch 6 (rbm.RBM's default schedule), weight cost 2e-4 as rbm.m applies it (L2:
#: ``weightcost * vishid`` in the gradient), initial weights 0.1 N(0,1), zero biases, CD-1 with
#: sampled hiddens driving the reconstruction and visible probabilities in the negative phase,
#: batches of 100, hidden probabilities as the next layer's data (mnistdeepauto.m's
#: ``batchposhidprobs``). "hinton-l1": the same with the weight cost as the paper's L1 penalty.
RECIPES: dict[str, dict[str, Any]] = {
    "rgdl": dict(units="spin", learning_rate=0.01, l1=2e-4, weight_decay=0.0, init_scale=0.01,
                 init_visible_bias="data", negative_visible="samples", propagate="sample",
                 batch_size=100, cd_k=1),
    "hinton": dict(units="binary", learning_rate=0.1, l1=0.0, weight_decay=2e-4, init_scale=0.1,
                   init_visible_bias="zero", negative_visible="probabilities", propagate="mean",
                   batch_size=100, cd_k=1),
    "hinton-l1": dict(units="binary", learning_rate=0.1, l1=2e-4, weight_decay=0.0,
                      init_scale=0.1, init_visible_bias="zero", negative_visible="probabilities",
                      propagate="mean", batch_size=100, cd_k=1),
}


def preset(name: str, recipe: str | None = None, **overrides: Any) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a preset name (``"quick"``, ``"paper"``), a training
    recipe of :data:`RECIPES` (None: the preset's own, which is "rgdl") and overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    if recipe is not None and recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
    params = dict(PRESETS[name])
    params.update(RECIPES[recipe] if recipe is not None else {})
    params.update({k: v for k, v in overrides.items() if v is not None})
    return ExperimentConfig(**params)

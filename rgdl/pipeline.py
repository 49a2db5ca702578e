"""The paper's experiment end to end: simulate -> train -> analyse -> figures -> report.

Mehta & Schwab (arXiv:1410.3831) trained a 1600-400-100-25 stack of RBMs by layer-wise
contrastive divergence on 20,000 periodic 40x40 Ising configurations at coupling 0.408 (T = 1)
and showed pictures. :func:`run_pipeline` repeats the experiment and measures it
(:mod:`analysis`): receptive-field localisation against the untrained stack, block-spin fidelity
per layer and best block size against two nulls (untrained stack; stack trained on site-shuffled
data) and the linear ceiling, correlation lengths per layer against ``xi_0 / b^l``, generation
quality with a Gelman-Rubin convergence check, ``KL(P_Ising || p_RBM)`` per spin of the first
RBM, and the RBM flow of Iso et al. (2018).

Caching and resume
------------------
Every stage has a key, the SHA-256 of its parameters and of the keys of the stages it uses.
A finished stage writes ``<out>/.stages/<stage>.json`` (atomically, last); a rerun with the same
key skips it. Large intermediate files live in key-named folders (``data/<key>``,
``models/<key>``), so changing a parameter never mixes old and new results; the Monte Carlo
dataset and every RBM layer checkpoint after each epoch, so a killed run resumes where it
stopped. Figures, ``summary.json`` and ``report.md`` are rewritten atomically.

Greedy training
---------------
:class:`rbm.DBN` trains layer ``l + 1`` on hidden states *sampled* from ``P(h | v)`` of layer
``l`` (Hinton, Osindero & Teh 2006); the analysis propagates mean activations ``E[h | below]`` upwards
(mean-field up-pass), as the paper's receptive fields ``r^(l) = r^(l-1) W^(l)`` do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
import zlib
from pathlib import Path

import numpy as np

from analysis import figures
from analysis.blockspin_fidelity import fidelity_scans
from analysis.correlations import (activation_correlation_length, block_spin_correlation_lengths,
                                   correlation_length, correlation_map, radial_correlation)
from analysis.rbm_flow import effective_temperature, flow_fixed_point, rbm_flow
from analysis.receptive_fields import layer_localization, receptive_fields
from analysis.thermodynamics import (Estimate, gelman_rubin, kl_per_spin, relative_error,
                                     thermodynamic_estimates)
from ising.dataset import generate_dataset
from ising.exact import critical_temperature, energy_per_spin_2d, log_partition_2d
from ising.io import partial_path, read_dataset
from ising.lattice import energy_per_spin, magnetization_per_spin
from ising.samplers import sample
from rbm import DBN, load_layers, maths, save_model
from rbm.partition import ais_log_partition, base_rate_visible_bias

log = logging.getLogger(__name__)

__all__ = ["ExperimentConfig", "PRESETS", "RECIPES", "preset", "untrained_params", "run_pipeline", "STAGES", "null_separation",
           "xi_omission_reason", "draw_figures", "make_summary", "render_report"]

STAGES = ("simulate", "train", "analyse", "figures", "report")
RHAT_THRESHOLD = 1.1
#: A layer is separated from a null when fidelity - null > NULL_SEPARATION_SIGMAS * combined error.
NULL_SEPARATION_SIGMAS = 2.0
#: Smallest linear size sqrt(n_units) of a layer (or block-spin lattice) whose xi is reported.
MIN_LINEAR_SIZE_FOR_XI = 4
NULL_SEPARATION_CRITERION = (
    "a layer is separated from its nulls when, for every null n (untrained, shuffled), "
    "F - F_n > {k:g} sqrt(s_F^2 + s_n^2), with F the trained layer's fidelity at its best block "
    "size b, F_n the null's fidelity at the same b and s their standard errors (spread over "
    "the layer's units); the margin is min_n (F - F_n) / sqrt(s_F^2 + s_n^2) (choosing the best "
    "b favours the trained layer, so the criterion is if anything lenient)"
).format(k=NULL_SEPARATION_SIGMAS)


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
    layers: tuple = (400, 100, 25)
    units: str = "spin"
    n_epochs: int = 200
    batch_size: int = 100
    learning_rate: float = 0.01
    cd_k: int = 1
    l1: float = 2e-4
    # training recipe beyond the fields above (RECIPES; rbm.RBM's options of the same names)
    weight_decay: float = 0.0     # L2 weight cost
    init_scale: float = 0.01      # initial weights N(0, init_scale^2)
    init_visible_bias: str = "data"
    negative_visible: str = "samples"
    propagate: str = "sample"     # training data of RBM l+1 (rbm.DBN)
    null_epochs: int = 0          # epochs of the shuffled-data null (0 or > n_epochs: n_epochs)
    analysis_samples: int = 4000
    block_sizes: tuple = (1, 2, 4, 8)
    generation_chains: int = 100  # half started from noise, half from data
    generation_steps: int = 1000
    generation_records: int = 20
    flow_temperatures: tuple = (1.8, 2.269, 3.0, 4.0)
    flow_samples: int = 400
    flow_steps: int = 20
    ais_betas: int = 3000
    ais_runs: int = 64
    seed: int = 0

    def __post_init__(self):
        def positive_int(name, minimum=1):
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

    def to_dict(self):
        """The fields as JSON values; the recipe fields of :data:`LATER_FIELDS` only when they
        differ from their defaults (so the configurations, cache keys and results of runs made
        before those fields existed keep their bytes, and such results folders still resume)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()
                if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}


#: Fields added to :class:`ExperimentConfig` after its first release, with their defaults.
LATER_FIELDS = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
                if f.name in ("weight_decay", "init_scale", "init_visible_bias",
                              "negative_visible", "propagate")}


PRESETS = {
    # a first look in well under a minute on 2 cores
    "quick": dict(size=16, n_samples=2000, mc_chains=8, layers=(64, 16, 4), n_epochs=20,
                  batch_size=100, learning_rate=0.01, analysis_samples=1500,
                  generation_chains=40, generation_steps=200, generation_records=10,
                  flow_temperatures=(1.8, 2.269, 3.5), flow_samples=200, flow_steps=10,
                  ais_betas=500, ais_runs=32),
    # Mehta & Schwab's setting
    # Mehta & Schwab's setting for the data and the trained stack. To fit 5 minutes on 2 cores
    # the *analysis* budgets are cut (each is reported in report.md): the shuffled-data null is
    # trained for 5 epochs, analyses use 4000 of the 20,000 samples, generation runs 40 chains
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
RECIPES = {
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


def preset(name, recipe=None, **overrides):
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


# ----------------------------------------------------------------------------------------------
# small utilities: seeds, hashing, atomic writes
# ----------------------------------------------------------------------------------------------
def _child_seed(root, name):
    """A deterministic non-negative integer seed for purpose ``name`` from the root seed."""
    ss = np.random.SeedSequence(int(root), spawn_key=(zlib.crc32(name.encode()),))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _key(payload):
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write_text(path, text):
    from ising.atomic import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def _atomic_savez(path, **arrays):
    from ising.atomic import atomic_open

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _load_npz(path, what):
    """All arrays of a cached ``.npz``; a corrupt file is a ValueError naming ``--force``."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cached {what} {path} is corrupt or truncated "
                         f"({type(exc).__name__}); rerun with --force to recompute it") from None


def _discard(*paths):
    """Remove corrupt cached files (and their partial/checkpoint companions)."""
    for path in paths:
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            import shutil

            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if hasattr(x, "to_dict"):
        return _jsonable(x.to_dict())
    return x


class _Stages:
    """Bookkeeping of finished stages in ``<out>/.stages``."""
    def __init__(self, out):
        self.dir = Path(out) / ".stages"

    def done(self, name, key):
        path = self.dir / f"{name}.json"
        if not path.exists():
            return False
        try:
            return json.loads(path.read_text()).get("key") == key
        except (OSError, json.JSONDecodeError):
            return False

    def mark(self, name, key, seconds):
        _atomic_write_text(self.dir / f"{name}.json",
                           json.dumps({"key": key, "seconds": seconds, "finished": time.time()}))


# ----------------------------------------------------------------------------------------------
# stack helpers (arrays in the conventions of docs/CONTRACTS.md)
# ----------------------------------------------------------------------------------------------
def _params(layer):
    return (np.asarray(layer.weights_, np.float64), np.asarray(layer.visible_bias_, np.float64),
            np.asarray(layer.hidden_bias_, np.float64))


def _to_units(spins_flat, units):
    """Spins {-1, +1} as float64 values of ``units``."""
    return maths.convert_units(np.asarray(spins_flat, np.float64), "spin", units)


def up_pass(params, spins_flat, units):
    """Mean activations ``E[h^(l) | below]`` of every layer (:func:`rbm.maths.mean_field_up`)."""
    return maths.mean_field_up(_to_units(spins_flat, units), [(w, b) for w, _, b in params], units)


def untrained_params(layer_sizes, n_visible, seed, init_scale=0.01):
    """The same architecture at its initialisation: w ~ N(0, init_scale^2) (Hinton 2010: 0.01;
    rbm.m: 0.1), zero biases; a list of (weights, visible bias, hidden bias) per layer."""
    rng = np.random.default_rng(seed)
    sizes = [n_visible] + list(layer_sizes)
    return [(rng.normal(0.0, init_scale, size=(sizes[i], sizes[i + 1])), np.zeros(sizes[i]),
             np.zeros(sizes[i + 1])) for i in range(len(layer_sizes))]


# ----------------------------------------------------------------------------------------------
# stages
# ----------------------------------------------------------------------------------------------
def _simulate(cfg, folder, progress, force=False):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ising.h5"

    def run():
        result = generate_dataset(path, dimension=2, size=cfg.size, temperature=cfg.temperature,
                                  coupling=cfg.coupling, algorithm=cfg.algorithm,
                                  n_samples=cfg.n_samples, n_chains=cfg.mc_chains,
                                  seed=_child_seed(cfg.seed, "simulate"), resume=True,
                                  progress=lambda done, total: progress("simulate", done, total))
        return result, read_dataset(path)

    try:
        result, dataset = run()
    except ValueError as exc:
        if not force:
            raise ValueError(f"{exc} (rerun with --force to discard the cached Monte Carlo data "
                             "and simulate again)") from None
        log.warning("cached Monte Carlo data unusable (%s); simulating again", exc)
        _discard(path, partial_path(path))
        result, dataset = run()
    log.info("Monte Carlo data: %s (tau_int %.3g sweeps)", result.path, result.attrs.get("tau_int", float("nan")))
    flow_path = folder / "flow_starts.npz"
    if flow_path.exists():
        try:
            _load_npz(flow_path, "flow starts")
        except ValueError:
            if not force:
                raise
            _discard(flow_path)
    if not flow_path.exists():
        arrays = {}
        for i, t in enumerate(cfg.flow_temperatures):
            res = sample(2, cfg.size, float(t), coupling=1.0, algorithm="wolff",
                         n_samples=cfg.flow_samples, n_chains=min(8, cfg.flow_samples),
                         seed=_child_seed(cfg.seed, f"flow{i}"))
            arrays[f"spins_{i}"] = res.spins
            arrays[f"energy_{i}"] = res.energy
        arrays["temperatures"] = np.asarray(cfg.flow_temperatures, np.float64)
        _atomic_savez(flow_path, **arrays)
    return dataset


def _train_stack(cfg, spins_flat, folder, n_epochs, seed_name, progress, label, force=False):
    """Greedy layer-wise training with :class:`rbm.DBN` (checkpointed every epoch; resumes).

    With ``force`` a corrupt cached stack or checkpoint is discarded and trained again.
    """
    try:
        return _train_stack_once(cfg, spins_flat, folder, n_epochs, seed_name, progress, label)
    except ValueError as exc:
        if not force:
            raise ValueError(f"{exc} (rerun with --force to discard the cached {label} stack "
                             "and train it again)") from None
        log.warning("cached %s stack unusable (%s); training again", label, exc)
        _discard(folder)
        return _train_stack_once(cfg, spins_flat, folder, n_epochs, seed_name, progress, label)


def _train_stack_once(cfg, spins_flat, folder, n_epochs, seed_name, progress, label):
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "stack.npz"
    if final.exists():
        return load_layers(final)[0]
    x = np.asarray(spins_flat, np.int8)
    if cfg.units == "binary":
        x = ((x + 1) // 2).astype(np.int8)
    dbn = DBN(tuple(int(h) for h in cfg.layers), units=cfg.units, propagate=cfg.propagate,
              rbm_params=dict(learning_rate=cfg.learning_rate, n_epochs=n_epochs,
                              batch_size=cfg.batch_size, cd_k=cfg.cd_k, l1=cfg.l1,
                              weight_decay=cfg.weight_decay, init_scale=cfg.init_scale,
                              init_visible_bias=cfg.init_visible_bias,
                              negative_visible=cfg.negative_visible, monitor_size=0),
              random_state=_child_seed(cfg.seed, seed_name))

    def callback(record):
        progress(f"{label} layer {record['layer']}", record["epoch"], record["n_epochs"])

    dbn.fit(x, checkpoint=folder / "checkpoint", resume=True, callback=callback)
    save_model(final, dbn, {"config": cfg.to_dict(), "label": label})
    return dbn.layers_


def _generation(cfg, params, data_flat, energy_fn, rng, progress, label):
    """Gibbs chains of the top RBM (half from noise, half from data), down-pass to the lattice.

    Returns per-record energy and |M| arrays (n_chains, n_records) and the final visible states.
    """
    units = cfg.units
    n_chains = cfg.generation_chains
    half = n_chains // 2
    # float32 chains: the states are exact, only the conditional probabilities are rounded
    params = [tuple(np.asarray(p, np.float32) for p in layer) for layer in params]

    def draw(mean):  # states with the given means, from float32 uniforms
        return maths.draw_units(maths.probability_from_mean(mean, units), units, rng, np.float32)

    def up(x, w, b):
        return maths.unit_mean(maths.hidden_field(x, w, b), units)

    def down(h, w, c):
        return maths.unit_mean(maths.visible_field(h, w, c), units)

    # top RBM's visible layer: sampled up-pass of data rows, or noise
    idx = rng.choice(data_flat.shape[0], size=half, replace=False)
    x = _to_units(data_flat[idx], units).astype(np.float32)
    for w, _, b in params[:-1]:
        x = draw(up(x, w, b))
    noise = draw(np.full((half, x.shape[1]), 0.0 if units == "spin" else 0.5, np.float32))
    v = np.concatenate([noise, x], axis=0)
    w_top, c_top, b_top = params[-1]
    every = cfg.generation_steps // cfg.generation_records
    energy = np.empty((n_chains, cfg.generation_records))
    absmag = np.empty_like(energy)
    visible = None
    for r in range(cfg.generation_records):
        for _ in range(every):
            h = draw(up(v, w_top, b_top))
            v = draw(down(h, w_top, c_top))
        z = v
        for w, c, _ in reversed(params[:-1]):
            z = draw(down(z, w, c))
        visible = maths.convert_units(z, units, "spin")
        e, m = energy_fn(visible)
        energy[:, r] = e
        absmag[:, r] = np.abs(m)
        progress(f"generate ({label})", r + 1, cfg.generation_records)
    return energy, absmag, visible.astype(np.int8)


def _generation_summary(energy, absmag, mc_thermo, n_spins, temperature):
    keep = energy.shape[1] // 2  # second half of the records
    e, m = energy[:, keep:], absmag[:, keep:]
    rhat = {"energy": gelman_rubin(e), "abs_magnetization": gelman_rubin(m)}
    half = energy.shape[0] // 2
    thermo = thermodynamic_estimates(e.ravel(), m.ravel(), n_spins, temperature,
                                     n_blocks=min(20, energy.shape[0]))
    rel = {k: relative_error(thermo[k], mc_thermo[k]) for k in thermo}
    worst = max(rhat.values())
    return {"rhat": rhat, "rhat_max": worst, "equilibrated": bool(worst < RHAT_THRESHOLD),
            "noise_start_energy": float(e[:half].mean()), "data_start_energy": float(e[half:].mean()),
            "thermodynamics": {k: v.to_dict() for k, v in thermo.items()},
            "relative_error": rel}


def _analyse(cfg, dataset, stacks, flow_path, folder, progress):
    L = cfg.size
    shape = (L, L)
    n_spins = L * L
    spins = np.asarray(dataset.spins)
    n_total = spins.shape[0]
    sub = spins[: min(cfg.analysis_samples, n_total)]
    sub_flat = sub.reshape(sub.shape[0], -1)
    block_sizes = [int(b) for b in cfg.block_sizes if int(b) <= L]
    window = max(2, L // 4)
    out, arrays = {}, {}
    timings = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        timings[name] = now - clock[0]
        clock[0] = now

    def energy_fn(v):
        s = v.reshape((-1,) + shape)
        return (energy_per_spin(s, cfg.coupling, 0.0, 2), magnetization_per_spin(s, 2))

    # Monte Carlo reference
    mc_e = np.asarray(dataset.energy, np.float64)
    mc_m = np.asarray(dataset.magnetization, np.float64)
    mc_thermo = thermodynamic_estimates(mc_e, mc_m, n_spins, cfg.temperature)
    out["monte_carlo"] = {k: v.to_dict() for k, v in mc_thermo.items()}

    # receptive fields and localisation
    trained = stacks["trained"]
    nets = {name: params for name, params in stacks.items()}
    loc = {}
    for i, (name, params) in enumerate(nets.items()):
        progress("analyse: localization", i, len(nets))
        fields = receptive_fields([p[0] for p in params])
        loc[name] = layer_localization(fields, shape, window=window, block_sizes=block_sizes)
        if name == "trained":
            for l, f in enumerate(fields):
                arrays[f"rf_{l}"] = f[:, : min(8, f.shape[1])]
        for l, lz in enumerate(loc[name]):
            arrays[f"radius_{name}_{l}"] = lz.radius
    progress("analyse: localization", len(nets), len(nets))
    lap("localization")

    # block-spin fidelity
    fid, fid_local = {}, {}
    m_sub = sub_flat.astype(np.float64).mean(axis=1)
    control = np.column_stack([m_sub, m_sub ** 3])
    # every layer of every network against the same block spins (computed once per b)
    acts = {name: up_pass(params, sub_flat, cfg.units) for name, params in nets.items()}
    flat_acts = [a for name in nets for a in acts[name]]
    n_b = len(block_sizes)
    for j, (store, ctrl) in enumerate(((fid, None), (fid_local, control))):
        def tick(done, total, j=j):
            progress("analyse: block-spin fidelity", j * n_b + done, 2 * n_b)

        tick(0, n_b)
        scans = iter(fidelity_scans(flat_acts, sub, block_sizes, tie="coin", control=ctrl,
                                    seed=_child_seed(cfg.seed, "fidelity"), progress=tick))
        for name in nets:
            store[name] = [next(scans) for _ in acts[name]]
    trained_acts = acts["trained"]
    lap("fidelity")

    # correlation lengths
    xi0 = correlation_length(sub)
    block_xi = block_spin_correlation_lengths(
        sub, [b for b in (2, 4, 8) if L % b == 0 and L // b >= 2], seed=_child_seed(cfg.seed, "bxi"))
    layer_xi = []
    for l, a in enumerate(trained_acts):
        spacing = math.sqrt(n_spins / a.shape[1])
        # align each unit with its best block spin (a unit may encode minus the block spin)
        scan = fid["trained"][l]
        sign = scan.unit_sign[list(scan.block_sizes).index(scan.best_block_size)]
        layer_xi.append((activation_correlation_length(a * sign, loc["trained"][l].centre, L,
                                                       spacing=spacing), spacing))
    r = np.arange(L // 2 + 1)
    arrays["g_r"] = r
    arrays["g_mc"] = radial_correlation(correlation_map(sub))
    lap("correlations")

    # generation: first RBM alone, then the whole stack
    rng = np.random.default_rng(_child_seed(cfg.seed, "generate"))
    gen = {}
    for label, params in (("rbm1", trained[:1]), ("stack", trained)):
        e, m, vis = _generation(cfg, params, sub_flat, energy_fn, rng, progress, label)
        gen[label] = _generation_summary(e, m, mc_thermo, n_spins, cfg.temperature)
        gen[label]["correlation_length"] = correlation_length(vis.reshape((-1,) + shape),
                                                              n_blocks=10).to_dict()
        arrays[f"g_{label}"] = radial_correlation(correlation_map(vis.reshape((-1,) + shape)))
        arrays[f"gen_energy_{label}"] = e
        arrays[f"gen_absmag_{label}"] = m
        if label == "rbm1":
            arrays["generated_rbm1"] = vis[:6].reshape((-1,) + shape)
    lap("generation")

    # reconstructions from each depth (mean-field up, mean-field down)
    ups = up_pass(trained, sub_flat[:6], cfg.units)
    arrays["recon_input"] = sub[:6]
    for l in range(len(trained)):
        z = ups[l]
        for w, c, _ in reversed(trained[: l + 1]):
            z = maths.unit_mean(maths.visible_field(z, w, c), cfg.units)
        arrays[f"recon_{l}"] = maths.convert_units(z, cfg.units, "spin").reshape((-1,) + shape)

    lap("reconstructions")

    # KL(P_Ising || p_RBM1) per spin
    w1, c1, b1 = trained[0]
    v_units = _to_units(spins.reshape(n_total, -1), cfg.units)
    free = maths.free_energy_visible(v_units, w1, c1, b1, cfg.units)
    # AIS is a stochastic lower bound on ln Z_RBM (Jensen), so KL is biased low; its standard
    # error covers only the run-to-run spread. A second run with half the annealing schedule
    # shows how far the estimate still moves with the schedule (the unresolved bias).
    base_bias = base_rate_visible_bias(v_units, cfg.units)
    half_betas = max(3, cfg.ais_betas // 2)
    ais_work = cfg.ais_betas + half_betas  # progress in annealing steps (two AIS runs)
    progress("analyse: KL (AIS)", 0, ais_work)
    log_z_rbm, log_z_err = ais_log_partition(
        w1, c1, b1, cfg.units, n_betas=cfg.ais_betas, n_runs=cfg.ais_runs,
        seed=_child_seed(cfg.seed, "ais"), base_visible_bias=base_bias)
    progress("analyse: KL (AIS)", cfg.ais_betas, ais_work)
    log_z_half, log_z_half_err = ais_log_partition(
        w1, c1, b1, cfg.units, n_betas=half_betas, n_runs=cfg.ais_runs,
        seed=_child_seed(cfg.seed, "ais_half"), base_visible_bias=base_bias)
    log_z_ising = float(log_partition_2d(L, L, cfg.temperature, cfg.coupling))
    kl = kl_per_spin(mc_e, free, cfg.temperature, n_spins, log_z_ising, float(log_z_rbm),
                     float(log_z_err))
    out["kl"] = {"per_spin": kl.to_dict(), "log_z_ising": log_z_ising,
                 "log_z_rbm": float(log_z_rbm), "log_z_rbm_error": float(log_z_err),
                 "ais_betas": cfg.ais_betas, "ais_runs": cfg.ais_runs,
                 "log_z_rbm_half_schedule": float(log_z_half),
                 "log_z_rbm_half_schedule_error": float(log_z_half_err),
                 "ais_half_betas": half_betas,
                 # ln Z(K betas) - ln Z(K/2 betas), per spin: > 0 (beyond the errors) means the
                 # schedule is too short and KL is still biased low by at least about this much
                 "ais_schedule_shift_per_spin": (float(log_z_rbm) - float(log_z_half)) / n_spins}
    progress("analyse: KL (AIS)", ais_work, ais_work)
    lap("kl_ais")

    # RBM flow (Iso et al.) with the first RBM, energies in units of J = 1
    starts = _load_npz(flow_path, "flow starts")
    temps = np.linspace(0.5, 12.0, 600)
    curve = np.asarray(energy_per_spin_2d(L, L, temps, 1.0))
    t_eff, t_err = [], []
    for i, t0 in enumerate(starts["temperatures"]):
        progress("analyse: RBM flow", i, len(starts["temperatures"]))
        flow = rbm_flow(starts[f"spins_{i}"], w1, c1, b1, units=cfg.units, n_steps=cfg.flow_steps,
                        seed=_child_seed(cfg.seed, f"flowrun{i}"))
        e = energy_per_spin(flow, 1.0, 0.0, 2)  # (steps + 1, n)
        te, tr = effective_temperature(e.mean(1), temps, curve, e.std(1, ddof=1) / math.sqrt(e.shape[1]))
        t_eff.append(te)
        t_err.append(tr)
    t_eff, t_err = np.array(t_eff), np.array(t_err)
    arrays["flow_T"] = t_eff
    arrays["flow_T_err"] = t_err
    arrays["flow_T0"] = starts["temperatures"]
    fixed = flow_fixed_point(t_eff, last=min(3, t_eff.shape[1]))
    out["flow"] = {"start_temperatures": starts["temperatures"], "final_T": t_eff[:, -1],
                   "fixed_point": fixed.to_dict(), "critical_temperature": critical_temperature(1.0),
                   "training_temperature": cfg.temperature / cfg.coupling}
    progress("analyse: RBM flow", len(t_eff), len(t_eff))
    lap("rbm_flow")

    # per-layer summary
    per_layer = []
    for l in range(len(cfg.layers)):
        scan = fid["trained"][l]
        b_best = scan.best_block_size
        k = block_sizes.index(b_best)
        entry = {
            "n_units": int(cfg.layers[l]),
            "receptive_field_radius": float(np.median(loc["trained"][l].radius)),
            "receptive_field_radius_untrained": float(np.median(loc["untrained"][l].radius)),
            "receptive_field_localization": loc["trained"][l].medians(),
            "receptive_field_localization_untrained": loc["untrained"][l].medians(),
            "block_fidelity": scan.best_fidelity,
            "block_fidelity_error": float(scan.fidelity_error[k]),
            "block_fidelity_ceiling": float(scan.ceiling[k]),
            "block_fidelity_null": {name: float(fid[name][l].fidelity[k]) for name in fid if name != "trained"},
            "best_block_size": b_best,
            "best_block_size_null": {name: fid[name][l].best_block_size for name in fid if name != "trained"},
            "fidelity_scan": scan.to_dict(),
            "fidelity_scan_null": {name: fid[name][l].to_dict() for name in fid if name != "trained"},
            "block_fidelity_local": fid_local["trained"][l].best_fidelity,
            "best_block_size_local": fid_local["trained"][l].best_block_size,
            "block_fidelity_local_null": {
                name: float(fid_local[name][l].fidelity[block_sizes.index(
                    fid_local["trained"][l].best_block_size)]) for name in fid_local if name != "trained"},
            "block_fidelity_local_ceiling": float(fid_local["trained"][l].ceiling[block_sizes.index(
                fid_local["trained"][l].best_block_size)]),
            "fidelity_scan_local": fid_local["trained"][l].to_dict(),
            "fidelity_scan_local_null": {name: fid_local[name][l].to_dict()
                                         for name in fid_local if name != "trained"},
            "correlation_length": layer_xi[l][0].to_dict(),
            "lattice_spacing": layer_xi[l][1],
            "rg_expected_correlation_length": xi0.value / layer_xi[l][1],
        }
        if "shuffled" in loc:
            entry["receptive_field_radius_shuffled"] = float(np.median(loc["shuffled"][l].radius))
        per_layer.append(entry)
    out["layers"] = per_layer
    out["correlation_length_data"] = xi0.to_dict()
    out["correlation_length_block_spins"] = {str(b): v.to_dict() for b, v in block_xi.items()}
    out["generation"] = gen
    out["localization_window"] = window
    lap("summaries")
    out["timings"] = timings
    _atomic_savez(folder / "arrays.npz", **arrays)
    _atomic_write_text(folder / "analysis.json", json.dumps(_jsonable(out), indent=1))
    return out


def draw_figures(cfg, analysis, arrays_path, fig_dir):
    """The figures stage: every figure of ``figures/`` from the analysis (PNG + PDF).

    Curves from Gibbs chains the report declares not equilibrated are drawn marked as not
    usable; correlation lengths without meaning for a layer's geometry
    (:func:`xi_omission_reason`) are not drawn.
    """
    a = _load_npz(arrays_path, "analysis arrays")
    L = cfg.size
    n_layers = len(cfg.layers)
    written = []
    written += figures.plot_receptive_fields([a[f"rf_{l}"] for l in range(n_layers)], (L, L),
                                             fig_dir / "receptive_fields")
    written += figures.plot_localization([a[f"radius_trained_{l}"] for l in range(n_layers)],
                                         [a[f"radius_untrained_{l}"] for l in range(n_layers)],
                                         fig_dir / "localization")
    written += figures.plot_reconstructions(a["recon_input"], [a[f"recon_{l}"] for l in range(n_layers)],
                                            fig_dir / "reconstructions",
                                            labels=[f"from layer {l + 1}" for l in range(n_layers)])
    layers = analysis["layers"]
    nulls = {name: [layer["fidelity_scan_null"][name] for layer in layers]
             for name in layers[0]["fidelity_scan_null"]}
    written += figures.plot_fidelity([layer["fidelity_scan"] for layer in layers], fig_dir / "fidelity",
                                     nulls=nulls)
    nulls_local = {name: [layer["fidelity_scan_local_null"][name] for layer in layers]
                   for name in layers[0]["fidelity_scan_local_null"]}
    written += figures.plot_fidelity([layer["fidelity_scan_local"] for layer in layers],
                                     fig_dir / "fidelity_local", nulls=nulls_local)

    # xi only where the geometry gives it a meaning (xi_omission_reason): NaN points are not drawn
    block_xi = {int(b): Estimate(v["value"], v["error"])
                for b, v in analysis["correlation_length_block_spins"].items()
                if xi_omission_reason((L // int(b)) ** 2) is None}

    def xi_of(layer, key):
        value = layer["correlation_length"][key]
        return math.nan if xi_omission_reason(layer["n_units"]) or value is None else value

    written += figures.plot_correlation_lengths(
        [xi_of(layer, "value") for layer in layers], [xi_of(layer, "error") for layer in layers],
        analysis["correlation_length_data"]["value"], analysis["correlation_length_data"]["error"],
        [layer["lattice_spacing"] for layer in layers], fig_dir / "correlation_lengths",
        block_xi=block_xi, note="\n".join(
            f"layer {l + 1}: xi omitted (linear size {math.sqrt(layer['n_units']):.3g} "
            f"< {MIN_LINEAR_SIZE_FOR_XI})" for l, layer in enumerate(layers)
            if xi_omission_reason(layer["n_units"])))
    r = a["g_r"]
    # samples of Gibbs chains that have not equilibrated are drawn marked as not usable
    unusable = _unusable_generation(analysis)
    names = {"rbm1": "RBM 1", "stack": "stack"}
    written += figures.plot_correlation_functions(
        {"Monte Carlo": (r, a["g_mc"]), "RBM 1 samples": (r, a["g_rbm1"]),
         "stack samples": (r, a["g_stack"])}, fig_dir / "correlation_functions",
        unusable={f"{names[label]} samples": reason for label, reason in unusable.items()})
    written += figures.plot_thermodynamics(
        {names[label]: analysis["generation"][label]["relative_error"] for label in names},
        fig_dir / "thermodynamics",
        unusable={names[label]: reason for label, reason in unusable.items()})
    written += figures.plot_rbm_flow(np.arange(a["flow_T"].shape[1]), a["flow_T"], a["flow_T0"],
                                 fig_dir / "rbm_flow", critical_temperature=analysis["flow"]["critical_temperature"],
                                 errors=a["flow_T_err"],
                                 training_temperature=analysis["flow"]["training_temperature"])
    return [str(p) for p in written]


def make_summary(cfg, analysis, timings):
    """``summary.json``: the headline numbers of an analysis, with their verdicts."""
    gen1 = analysis["generation"]["rbm1"]
    layers = analysis["layers"]
    return _jsonable({
        "config": cfg.to_dict(),
        "layers": [{
            "receptive_field_radius": layer["receptive_field_radius"],
            "receptive_field_radius_untrained": layer["receptive_field_radius_untrained"],
            "block_fidelity": layer["block_fidelity"],
            "block_fidelity_error": layer["block_fidelity_error"],
            "block_fidelity_ceiling": layer["block_fidelity_ceiling"],
            "block_fidelity_null": layer["block_fidelity_null"],
            "best_block_size": layer["best_block_size"],
            "block_fidelity_local": layer["block_fidelity_local"],
            "block_fidelity_local_null": layer["block_fidelity_local_null"],
            "block_fidelity_local_ceiling": layer["block_fidelity_local_ceiling"],
            "best_block_size_local": layer["best_block_size_local"],
            "correlation_length": (None if xi_omission_reason(layer["n_units"])
                                   else layer["correlation_length"]),
            # why correlation_length is null (None when it is reported)
            "correlation_length_reason": xi_omission_reason(layer["n_units"]),
            "rg_expected_correlation_length": layer["rg_expected_correlation_length"],
            # null_separation_criterion: is the fidelity beyond the nulls' by > k errors?
            "separated_from_null": sep["separated"],
            "null_margin_sigma": sep["margin_sigma"],
            "null_margin_sigma_per_null": sep["margin_sigma_per_null"],
        } for layer, sep in zip(layers, map(null_separation, layers))],
        "null_separation_criterion": NULL_SEPARATION_CRITERION,
        "min_linear_size_for_xi": MIN_LINEAR_SIZE_FOR_XI,
        "correlation_length_data": analysis["correlation_length_data"],
        # each carries the convergence verdict: not a result when equilibrated is false
        "generated_energy_rel_error": {**gen1["relative_error"]["energy"],
                                       "equilibrated": gen1["equilibrated"]},
        "generated_abs_magnetization_rel_error": {**gen1["relative_error"]["abs_magnetization"],
                                                  "equilibrated": gen1["equilibrated"]},
        "generation_rhat": gen1["rhat_max"],
        "generation_equilibrated": gen1["equilibrated"],
        "stack_generated_energy_rel_error": analysis["generation"]["stack"]["relative_error"]["energy"],
        "stack_generated_abs_magnetization_rel_error":
            analysis["generation"]["stack"]["relative_error"]["abs_magnetization"],
        "stack_generation_rhat": analysis["generation"]["stack"]["rhat_max"],
        "stack_generation_equilibrated": analysis["generation"]["stack"]["equilibrated"],
        "kl_per_spin_layer1": analysis["kl"]["per_spin"],
        # AIS lower-bounds ln Z_RBM, so KL is biased low; shift of ln Z/N from K/2 to K betas
        "kl_ais_schedule_shift_per_spin": analysis["kl"].get("ais_schedule_shift_per_spin"),
        "rbm_flow_fixed_point_T": analysis["flow"]["fixed_point"],
        "rbm_flow_critical_T": analysis["flow"]["critical_temperature"],
        "rbm_flow_training_T": analysis["flow"]["training_temperature"],
        "stage_seconds": timings,
        # wall seconds per stage and per analysis sub-stage (this run; cached stages are ~0)
        "timings": {**timings, "analyse_substages": analysis.get("timings", {})},
    })


def null_separation(layer):
    """Whether a layer's block-spin fidelity beats its nulls beyond the error.

    See :data:`NULL_SEPARATION_CRITERION`. ``layer`` is a per-layer entry of the analysis
    (``block_fidelity``, ``block_fidelity_error``, ``best_block_size``, ``fidelity_scan_null``).

    Returns
    -------
    dict
        ``separated`` (bool), ``margin_sigma`` (the smallest margin over the nulls, in units of
        the combined error; +-inf when that error is zero) and ``margin_sigma_per_null``.
    """
    f, s = float(layer["block_fidelity"]), float(layer["block_fidelity_error"])
    per_null = {}
    for name, scan in layer["fidelity_scan_null"].items():
        k = list(scan["block_sizes"]).index(layer["best_block_size"])
        diff = f - float(scan["fidelity"][k])
        err = math.hypot(s, float(scan["fidelity_error"][k]))
        per_null[name] = diff / err if err > 0 else math.copysign(math.inf, diff)
    margin = min(per_null.values())
    return {"separated": bool(margin > NULL_SEPARATION_SIGMAS), "margin_sigma": margin,
            "margin_sigma_per_null": per_null}


def xi_omission_reason(n_units):
    """Why the correlation length of a layer of ``n_units`` units is not reported (or None).

    The second-moment ``xi`` (Cooper, Freedman & Preston 1982) is read off the structure factor
    at the smallest nonzero wavevector ``2 pi / L_layer``; it estimates a length only while that
    wavevector is small, i.e. for linear sizes ``L_layer = sqrt(n_units)`` of at least
    :data:`MIN_LINEAR_SIZE_FOR_XI` (at ``L_layer = 2`` it is the zone boundary ``pi``).
    """
    linear = math.sqrt(n_units)
    if linear >= MIN_LINEAR_SIZE_FOR_XI:
        return None
    return (f"{n_units} units = linear size {linear:.3g} < {MIN_LINEAR_SIZE_FOR_XI}: the "
            f"second-moment xi needs the smallest wavevector 2 pi / L_layer to be small, so xi "
            f"has no meaning on this geometry")


def _unusable_generation(analysis):
    """``model -> 'NOT EQUILIBRATED (R-hat = x)'`` for the generation runs that are not results."""
    return {label: f"NOT EQUILIBRATED (R-hat = {g['rhat_max']:.2f})"
            for label, g in analysis["generation"].items() if not g["equilibrated"]}


def _fmt(est, digits=3):
    if est is None or est.get("value") is None:
        return "n/a"
    return f"{est['value']:.{digits}g} ± {est['error']:.2g}" if est.get("error") is not None \
        else f"{est['value']:.{digits}g}"


def _recipe_note(cfg):
    """The recipe fields of :data:`LATER_FIELDS` that differ from their defaults, for the report."""
    changed = {k: v for k, v in cfg.to_dict().items() if k in LATER_FIELDS}
    return "".join(f", {k.replace('_', ' ')} {v}" for k, v in changed.items())


def render_report(cfg, analysis, summary):
    """``report.md``: the analysis and its summary as Markdown, caveats included."""
    lines = [f"# rgdl reproduce — {cfg.size}×{cfg.size} Ising, coupling {cfg.coupling} at T = "
             f"{cfg.temperature}, stack {'-'.join(str(x) for x in (cfg.size ** 2,) + tuple(cfg.layers))}",
             "", f"{cfg.n_samples} Monte Carlo samples ({cfg.algorithm}); RBMs: {cfg.units} units, "
             f"CD-{cfg.cd_k}, {cfg.n_epochs} epochs, batch {cfg.batch_size}, learning rate "
             f"{cfg.learning_rate}, L1 {cfg.l1}{_recipe_note(cfg)}; seed {cfg.seed}.", "",
             f"Analysis budget: receptive-field, fidelity and correlation analyses use the first "
             f"{min(cfg.analysis_samples, cfg.n_samples)} of the {cfg.n_samples} samples; generation "
             f"runs {cfg.generation_chains} Gibbs chains ({cfg.generation_chains // 2} from noise, "
             f"{cfg.generation_chains // 2} from data) for {cfg.generation_steps} sweeps, with "
             f"statistics and R̂ from the second half of {cfg.generation_records} records; the RBM "
             f"flow starts from {cfg.flow_samples} Wolff samples per temperature and runs "
             f"{cfg.flow_steps} steps; the shuffled-data null is trained for "
             f"{min(cfg.null_epochs or cfg.n_epochs, cfg.n_epochs)} epochs per layer (the trained "
             f"stack: {cfg.n_epochs}).", "",
             "## Layers vs block spins", "",
             "| layer | units | RF radius (untrained) | best b | fidelity (ceiling) | null: untrained / shuffled "
             "| vs nulls | local: best b, fidelity (ceiling), nulls | ξ (RG ξ0/a) |",
             "|---|---|---|---|---|---|---|---|---|"]
    footnotes = {}
    for l, (layer, entry) in enumerate(zip(analysis["layers"], summary["layers"])):
        nulls = " / ".join(f"{v:.3f}" for v in layer["block_fidelity_null"].values())
        margin = entry["null_margin_sigma"]
        margin = "" if margin is None else f" ({margin:+.2f} σ)"
        versus = (f"separated{margin}" if entry["separated_from_null"]
                  else f"**not separated from the null**{margin}")
        if entry["correlation_length_reason"]:
            mark = footnotes.setdefault(entry["correlation_length_reason"], len(footnotes) + 1)
            xi = f"—[^xi{mark}]"
        else:
            xi = _fmt(layer["correlation_length"])
        lines.append(
            f"| {l + 1} | {layer['n_units']} | {layer['receptive_field_radius']:.2f} "
            f"({layer['receptive_field_radius_untrained']:.2f}) | {layer['best_block_size']} | "
            f"{layer['block_fidelity']:.3f} ± {layer['block_fidelity_error']:.3f} "
            f"({layer['block_fidelity_ceiling']:.3f}) | {nulls} | {versus} | "
            f"{layer['best_block_size_local']}, {layer['block_fidelity_local']:.3f} "
            f"({layer['block_fidelity_local_ceiling']:.3f}), "
            + " / ".join(f"{v:.3f}" for v in layer["block_fidelity_local_null"].values())
            + f" | {xi} ({layer['rg_expected_correlation_length']:.3g}) |")
    lines.append("")
    for reason, mark in footnotes.items():
        lines.append(f"[^xi{mark}]: ξ omitted: {reason} (ξ is reported for linear sizes "
                     f"sqrt(units) ≥ {MIN_LINEAR_SIZE_FOR_XI} only).")
    block_xi = ", ".join(
        f"b={b}: " + ("— (block lattice "
                      f"{cfg.size // int(b)}×{cfg.size // int(b)} < {MIN_LINEAR_SIZE_FOR_XI}, omitted)"
                      if xi_omission_reason((cfg.size // int(b)) ** 2) else _fmt(v))
        for b, v in analysis["correlation_length_block_spins"].items())
    lines += ["", "Separation from the nulls: " + NULL_SEPARATION_CRITERION + ". A layer marked "
              "**not separated from the null** does not do measurably better than a network that "
              "never saw the spatial structure of the data; its fidelity is not evidence of "
              "block-spin (RG) behaviour.",
              "", f"Data: ξ_2nd = {_fmt(analysis['correlation_length_data'])} lattice spacings; "
              "majority block spins: " + block_xi,
              "", "RF radius: median core radius of gyration of r² (window half-width "
              f"{analysis['localization_window']}); fidelity: mean over units of the best |corr| with a "
              "majority-rule block spin at the best block size b; ceiling: a perfect linear block sum; "
              "local: the same with the sample magnetization (m, m³) regressed out of units and block "
              "spins (partial correlation: what a unit knows beyond the global magnetization); "
              "ξ of hidden layers: activations E[h | below] (mean-field up-pass), each unit "
              "sign-aligned with its best block spin and placed at its receptive-field centre, in "
              "units of the layer spacing a = sqrt(N_visible/N_units).", "",
              "Nulls at the same b: *untrained* = the same architecture at initialisation "
              "(w ~ N(0, 0.01²), zero biases); *shuffled* = the same recipe trained for "
              f"{min(cfg.null_epochs or cfg.n_epochs, cfg.n_epochs)} epochs per layer (the trained "
              f"stack: {cfg.n_epochs}; when shorter, the null is less converged than the trained "
              "stack, so its scores are those of a less-trained network) on data whose sites "
              "were permuted independently in every sample (keeps each sample's magnetization, "
              "destroys all spatial structure).", "",
              "## Generation", ""]
    for label, name in (("rbm1", "First RBM alone"), ("stack", "Whole stack (top-layer Gibbs, down-pass)")):
        g = analysis["generation"][label]
        rh = g["rhat"]
        lines.append(f"### {name}")
        lines.append("")
        lines.append(f"Gelman–Rubin R̂ (chains from noise and from data): energy {rh['energy']:.3f}, "
                     f"|M| {rh['abs_magnetization']:.3f}; mean energy per spin of noise-started chains "
                     f"{g['noise_start_energy']:.4f}, data-started {g['data_start_energy']:.4f}.")
        lines.append("")
        if not g["equilibrated"]:
            lines.append(f"**The model's Gibbs chains have not equilibrated (R̂ ≥ {RHAT_THRESHOLD}):** "
                         "chains started from noise and from data disagree, so the generated "
                         "thermodynamics are not reported as results. Its curves in "
                         "`thermodynamics.png` and `correlation_functions.png` are drawn hollow "
                         f"and marked \"NOT EQUILIBRATED (R-hat = {g['rhat_max']:.2f})\": not usable.")
        else:
            lines.append("| observable | Monte Carlo | generated | relative error |")
            lines.append("|---|---|---|---|")
            for k, rel in g["relative_error"].items():
                lines.append(f"| {k} | {_fmt(analysis['monte_carlo'][k], 4)} | "
                             f"{_fmt(g['thermodynamics'][k], 4)} | {rel['value']:+.3f} ± {rel['error']:.3f} |")
        lines.append("")
    kl = analysis["kl"]
    flow = analysis["flow"]
    lines += ["## KL divergence and RBM flow", "",
              f"KL(P_Ising ‖ p_RBM1) per spin = {_fmt(kl['per_spin'])} nats (Kaufman ln Z = "
              f"{kl['log_z_ising']:.2f}; AIS ln Z_RBM = {kl['log_z_rbm']:.2f} ± {kl['log_z_rbm_error']:.2g}, "
              f"{kl['ais_betas']} betas × {kl['ais_runs']} runs). "
              "AIS is a stochastic lower bound on ln Z_RBM (Jensen's inequality), so this KL is "
              "biased low; the quoted error propagates only the AIS run-to-run standard error. "
              + (f"With half the annealing schedule ({kl['ais_half_betas']} betas) AIS gives "
                 f"ln Z_RBM = {kl['log_z_rbm_half_schedule']:.2f} ± "
                 f"{kl['log_z_rbm_half_schedule_error']:.2g}: the estimate moved by "
                 f"{kl['ais_schedule_shift_per_spin']:+.4f} nats per spin when the schedule doubled, "
                 "a measure of the bias still left (a converged schedule would move it by less "
                 "than the error)." if "ais_half_betas" in kl else ""), "",
              "RBM flow (v → h → v with the first RBM) from T/J = "
              + ", ".join(f"{t:.3g}" for t in flow["start_temperatures"])
              + ": final effective temperatures " + ", ".join(
                  "n/a" if t is None else f"{t:.3g}" for t in flow["final_T"])
              + f"; fixed point T*/J = {_fmt(flow['fixed_point'])} (spread over starts), "
              f"vs T_c/J = {flow['critical_temperature']:.4f} and the training T/J = "
              f"{flow['training_temperature']:.4f}.", "",
              "## Figures", ""]
    unusable = _unusable_generation(analysis)
    names = {"rbm1": "RBM 1", "stack": "whole stack"}
    omitted = [str(l + 1) for l, e in enumerate(summary["layers"]) if e["correlation_length_reason"]]
    captions = {
        "correlation_lengths": (f"Layer(s) {', '.join(omitted)}: ξ omitted (linear size < "
                                f"{MIN_LINEAR_SIZE_FOR_XI}), not drawn." if omitted else ""),
        "correlation_functions": "; ".join(f"{names[k]} samples: {v}" for k, v in unusable.items()),
        "thermodynamics": "; ".join(f"{names[k]}: {v}" for k, v in unusable.items()),
    }
    for key in ("correlation_functions", "thermodynamics"):
        if captions[key]:
            captions[key] = (f"**Caveat:** {captions[key]}: drawn hollow and watermarked; these "
                             "Gibbs chains have not equilibrated, so the curves are not results.")
    for name in ("receptive_fields", "localization", "reconstructions", "fidelity", "fidelity_local",
                 "correlation_lengths", "correlation_functions", "thermodynamics", "rbm_flow"):
        lines.append(f"![{name}](figures/{name}.png)")
        if captions.get(name):
            lines += ["", captions[name], ""]
    lines.append("")
    return "\n".join(lines)


def _check_results_folder(out, config, overwrite):
    """Refuse to replace results that are not this configuration's (unless ``overwrite``).

    Rerunning the same configuration in ``out`` resumes it (its cached stages are its own
    outputs); a folder holding another configuration's summary/report/figures, or files that
    are not rgdl results at all, is refused without ``overwrite``.
    """
    if not out.exists() or overwrite:
        return
    entries = [p for p in out.iterdir() if p.name != _LOCK_NAME]
    if not entries:
        return
    if not (out / ".stages").is_dir():
        raise FileExistsError(f"{out} is not empty and holds no rgdl results; choose another "
                              "--out or use --overwrite")
    summary = out / "summary.json"
    if summary.exists():
        try:
            old = json.loads(summary.read_text()).get("config")
        except (OSError, ValueError, AttributeError):
            old = None
        if old != json.loads(json.dumps(config.to_dict())):
            raise FileExistsError(f"{out} holds the results of another configuration "
                                  "(summary.json, report.md, figures/); use --overwrite to "
                                  "replace them, or another --out")


_LOCK_NAME = ".rgdl-reproduce.lock"


def run_pipeline(config, out, *, progress=None, force=False, overwrite=False):
    """Run (or resume) the experiment into the folder ``out``.

    Parameters
    ----------
    config : ExperimentConfig
    out : str or os.PathLike
        Results folder (created if missing; its parent must exist).
    progress : callable, optional
        ``progress(stage, done, total)`` for per-stage progress (the CLI draws it); ``done`` is
        ``None`` with ``total`` a message string when a stage starts or is skipped.
    force : bool
        Recompute the analysis and the figures even if cached (the Monte Carlo data and the
        trained models are reused whenever their parameters match and they read back; corrupt
        cached data or models are discarded and recomputed).
    overwrite : bool
        Replace the results of another configuration (summary.json, report.md, figures/) in
        ``out``; without it such a folder, or a non-empty folder that holds no rgdl results,
        is refused (FileExistsError). Rerunning the same configuration always resumes.

    Returns
    -------
    dict
        The summary (also written to ``<out>/summary.json``).

    Raises
    ------
    FileNotFoundError
        The parent of ``out`` does not exist.
    ValueError
        ``out`` exists and is not a folder, or bad parameters.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError("config must be an ExperimentConfig")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if not out.parent.exists():
        raise FileNotFoundError(f"parent folder {out.parent} does not exist")
    from ising.atomic import OutputLock

    _check_results_folder(out, config, overwrite)
    out.mkdir(exist_ok=True)
    with OutputLock(out, lock_file=out / _LOCK_NAME):  # one run per results folder
        _check_results_folder(out, config, overwrite)
        return _run_locked(config, out, progress, force)


def _run_locked(config, out, progress, force):
    """The body of :func:`run_pipeline`, run while holding the folder's lock."""
    progress = progress or (lambda stage, done, total: None)
    stages = _Stages(out)
    timings = {}

    def start(name, key):
        cached = stages.done(name, key) and not force
        progress(name, None, "cached" if cached else "running")
        return cached

    # simulate
    sim_params = {k: getattr(config, k) for k in ("size", "temperature", "coupling", "n_samples",
                                                   "algorithm", "mc_chains", "flow_temperatures",
                                                   "flow_samples", "seed")}
    sim_key = _key({"stage": "simulate", "params": sim_params})
    data_dir = out / "data" / sim_key
    t0 = time.perf_counter()
    cached = start("simulate", sim_key)
    dataset = _simulate(config, data_dir, progress, force)  # resumes or returns the finished file
    if not cached:
        stages.mark("simulate", sim_key, time.perf_counter() - t0)
    timings["simulate"] = time.perf_counter() - t0

    # train (trained stack and the shuffled-data null)
    train_params = {k: getattr(config, k) for k in ("layers", "units", "n_epochs", "batch_size",
                                                     "learning_rate", "cd_k", "l1", "null_epochs")}
    train_params.update({k: v for k, v in config.to_dict().items() if k in LATER_FIELDS})
    train_key = _key({"stage": "train", "params": train_params, "upstream": sim_key,
                      "seed": config.seed})
    model_dir = out / "models" / train_key
    t0 = time.perf_counter()
    start("train", train_key)
    spins_flat = np.asarray(dataset.spins).reshape(dataset.spins.shape[0], -1)
    trained = _train_stack(config, spins_flat, model_dir / "trained", config.n_epochs, "train",
                           progress, "train", force)
    timings["train_stack"] = time.perf_counter() - t0
    shuffled_data = np.random.default_rng(_child_seed(config.seed, "shuffle")).permuted(spins_flat, axis=1)
    shuffled = _train_stack(config, shuffled_data, model_dir / "shuffled",
                            min(config.null_epochs or config.n_epochs, config.n_epochs), "null",
                            progress, "null", force)
    stages.mark("train", train_key, time.perf_counter() - t0)
    timings["train"] = time.perf_counter() - t0
    timings["train_null"] = timings["train"] - timings["train_stack"]

    stacks = {"trained": [_params(l) for l in trained],
              "untrained": untrained_params(config.layers, config.size ** 2,
                                            _child_seed(config.seed, "untrained"), config.init_scale),
              "shuffled": [_params(l) for l in shuffled]}

    # analyse
    analysis_params = {k: getattr(config, k) for k in ("analysis_samples", "block_sizes",
                                                        "generation_chains", "generation_steps",
                                                        "generation_records", "flow_steps",
                                                        "ais_betas", "ais_runs")}
    analysis_key = _key({"stage": "analyse", "params": analysis_params, "upstream": train_key})
    analysis_dir = out / "analysis"
    t0 = time.perf_counter()
    analysis = None
    if start("analyse", analysis_key) and (analysis_dir / "analysis.json").exists():
        try:
            analysis = json.loads((analysis_dir / "analysis.json").read_text())
        except (OSError, ValueError) as exc:
            log.warning("cached analysis unreadable (%s); recomputing it", exc)
            analysis = None
    if analysis is None:
        analysis = _jsonable(_analyse(config, dataset, stacks, data_dir / "flow_starts.npz",
                                      analysis_dir, progress))
        stages.mark("analyse", analysis_key, time.perf_counter() - t0)
    timings["analyse"] = time.perf_counter() - t0

    # figures
    # "marks": figures of unequilibrated chains are marked, meaningless xi omitted (issue 13)
    fig_key = _key({"stage": "figures", "upstream": analysis_key, "marks": 1})
    t0 = time.perf_counter()
    if not start("figures", fig_key):
        draw_figures(config, analysis, analysis_dir / "arrays.npz", out / "figures")
        stages.mark("figures", fig_key, time.perf_counter() - t0)
    timings["figures"] = time.perf_counter() - t0

    # summary and report (cheap: always rewritten)
    progress("report", None, "running")
    summary = make_summary(config, analysis, timings)
    _atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    _atomic_write_text(out / "report.md", render_report(config, analysis, summary))
    stages.mark("report", _key({"stage": "report", "upstream": fig_key}), 0.0)
    return summary

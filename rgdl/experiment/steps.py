"""The analyse stage of the experiment as a list of named steps (:data:`ANALYSIS_STEPS`).

Each step is a function ``step(ctx, done) -> dict`` of the shared inputs ``ctx``
(:class:`AnalysisContext`) and the results of the steps before it (``done``: step name -> its
dict). A step's dict may hold ``"arrays"`` (written to ``analysis/arrays.npz``) and ``"out"``
(entries of ``analysis/analysis.json``); the rest are intermediate results for later steps.
:func:`run_analysis` runs them in order and times each (``analysis.json["timings"]``).

The measurements (:mod:`analysis`): receptive-field localisation against the untrained stack,
block-spin fidelity per layer and best block size against two nulls (untrained stack; stack
trained on site-shuffled data) and the linear ceiling, correlation lengths per layer against
``xi_0 / b^l``, generation quality with a Gelman-Rubin check, ``KL(P_Ising || p_RBM)`` per spin of
the first RBM (AIS), and the RBM flow of Iso, Shiba & Yokoo (2018). Hidden activations are the
mean-field up-pass ``E[h | below]``, as the paper's receptive fields ``r^(l) = r^(l-1) W^(l)``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from analysis.blockspin_fidelity import FidelityScan, fidelity_scans
from analysis.correlations import (activation_correlation_length, block_spin_correlation_lengths,
                                   correlation_length, correlation_map, radial_correlation)
from analysis.rbm_flow import effective_temperature, flow_fixed_point, rbm_flow
from analysis.receptive_fields import layer_localization, receptive_fields
from analysis.thermodynamics import Estimate, kl_per_spin, thermodynamic_estimates
from ising.atomic import atomic_write_text
from ising.exact import critical_temperature, energy_per_spin_2d, log_partition_2d
from ising.io import SpinDataset
from ising.lattice import energy_per_spin, magnetization_per_spin
from rbm import DBN, RBM, maths
from rbm.archive import atomic_savez
from rbm.partition import ais_log_partition, base_rate_visible_bias
from rgdl.experiment.cache import jsonable, load_npz
from rgdl.experiment.config import ExperimentConfig, ProgressCallback
from rgdl.seeds import child_seed
from rgdl.experiment.generation import generation_summary, run_generation
from rgdl.experiment.stages import LayerParams

__all__ = ["AnalysisContext", "ANALYSIS_STEPS", "make_context", "run_analysis", "up_pass",
           "AnalysisStep"]


def up_pass(params: Sequence[LayerParams], spins_flat: npt.ArrayLike,
            units: str) -> list[NDArray[np.floating]]:
    """Mean activations ``E[h^(l) | below]`` of every layer (:func:`rbm.maths.mean_field_up`)."""
    x = maths.convert_units(np.asarray(spins_flat, np.float64), "spin", units)
    return maths.mean_field_up(x, [(w, b) for w, _, b in params], units)


@dataclasses.dataclass
class AnalysisContext:
    """The inputs every analysis step reads.

    ``stacks`` maps ``"trained"``, ``"untrained"``, ``"shuffled"`` to lists of
    ``(weights, visible_bias, hidden_bias)``; ``trained_layers`` are the fitted :class:`rbm.RBM`
    layers of the trained stack; ``sub`` the first ``analysis_samples`` configurations.
    """

    cfg: ExperimentConfig
    dataset: SpinDataset
    stacks: dict[str, list[LayerParams]]
    trained_layers: list[RBM]
    flow_path: Path
    progress: ProgressCallback
    sub: NDArray[np.int8]
    block_sizes: list[int]
    window: int
    mc_thermo: dict[str, Estimate]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.cfg.size, self.cfg.size)

    @property
    def n_spins(self) -> int:
        return self.cfg.size ** 2

    @property
    def sub_flat(self) -> NDArray[np.int8]:
        return self.sub.reshape(self.sub.shape[0], -1)

    def energy_fn(self, v: NDArray[np.floating]
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Energy and magnetization per spin of flat spin rows ``v`` at the training coupling."""
        s = v.reshape((-1,) + self.shape)
        return (energy_per_spin(s, self.cfg.coupling, 0.0, 2), magnetization_per_spin(s, 2))


#: What every step returns (``"arrays"``, ``"out"`` and intermediate results for later steps).
StepResult = dict[str, Any]
#: An analysis step, ``step(ctx, done) -> dict``.
AnalysisStep = Callable[[AnalysisContext, Mapping[str, StepResult]], StepResult]


def make_context(cfg: ExperimentConfig, dataset: SpinDataset, trained_layers: Iterable[RBM],
                 stacks: dict[str, list[LayerParams]], flow_path: Path,
                 progress: ProgressCallback) -> AnalysisContext:
    """The :class:`AnalysisContext` of one run (and the Monte Carlo reference thermodynamics)."""
    spins = np.asarray(dataset.spins)
    mc_thermo = thermodynamic_estimates(np.asarray(dataset.energy, np.float64),
                                        np.asarray(dataset.magnetization, np.float64),
                                        cfg.size ** 2, cfg.temperature)
    return AnalysisContext(
        cfg=cfg, dataset=dataset, stacks=stacks, trained_layers=list(trained_layers),
        flow_path=flow_path, progress=progress, sub=spins[: min(cfg.analysis_samples, spins.shape[0])],
        block_sizes=[int(b) for b in cfg.block_sizes if int(b) <= cfg.size],
        window=max(2, cfg.size // 4), mc_thermo=mc_thermo)


def localization_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """Receptive fields ``r^(l) = r^(l-1) W^(l)`` and their localisation, every network."""
    arrays, loc = {}, {}
    nets = ctx.stacks
    for i, (name, params) in enumerate(nets.items()):
        ctx.progress("analyse: localization", i, len(nets))
        fields = receptive_fields([p[0] for p in params])
        loc[name] = layer_localization(fields, ctx.shape, window=ctx.window,
                                       block_sizes=ctx.block_sizes)
        if name == "trained":
            for l, f in enumerate(fields):
                arrays[f"rf_{l}"] = f[:, : min(8, f.shape[1])]
        for l, lz in enumerate(loc[name]):
            arrays[f"radius_{name}_{l}"] = lz.radius
    ctx.progress("analyse: localization", len(nets), len(nets))
    return {"loc": loc, "arrays": arrays,
            "out": {"monte_carlo": {k: v.to_dict() for k, v in ctx.mc_thermo.items()}}}


def fidelity_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """Block-spin fidelity scans of every layer of every network, global and local.

    Local: the sample magnetization (m, m^3) regressed out of units and block spins.
    """
    sub_flat = ctx.sub_flat
    m_sub = sub_flat.astype(np.float64).mean(axis=1)
    control = np.column_stack([m_sub, m_sub ** 3])
    # every layer of every network against the same block spins (computed once per b)
    acts = {name: up_pass(params, sub_flat, ctx.cfg.units) for name, params in ctx.stacks.items()}
    flat_acts = [a for name in ctx.stacks for a in acts[name]]
    n_b = len(ctx.block_sizes)
    fid: dict[str, list[FidelityScan]] = {}
    fid_local: dict[str, list[FidelityScan]] = {}
    for j, (store, ctrl) in enumerate(((fid, None), (fid_local, control))):
        def tick(done_b: int, total: int, j: int = j) -> None:
            ctx.progress("analyse: block-spin fidelity", j * n_b + done_b, 2 * n_b)

        tick(0, n_b)
        scans = iter(fidelity_scans(flat_acts, ctx.sub, ctx.block_sizes, tie="coin", control=ctrl,
                                    seed=child_seed(ctx.cfg.seed, "fidelity"), progress=tick))
        for name in ctx.stacks:
            store[name] = [next(scans) for _ in acts[name]]
    return {"global": fid, "local": fid_local, "trained_acts": acts["trained"]}


def correlations_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """Correlation lengths of the data, its block spins and every trained layer; G(r) of the data."""
    L = ctx.cfg.size
    sub = ctx.sub
    xi0 = correlation_length(sub)
    block_xi = block_spin_correlation_lengths(
        sub, [b for b in (2, 4, 8) if L % b == 0 and L // b >= 2],
        seed=child_seed(ctx.cfg.seed, "bxi"))
    layer_xi = []
    for l, a in enumerate(done["fidelity"]["trained_acts"]):
        spacing = math.sqrt(ctx.n_spins / a.shape[1])
        # align each unit with its best block spin (a unit may encode minus the block spin)
        scan = done["fidelity"]["global"]["trained"][l]
        sign = scan.unit_sign[list(scan.block_sizes).index(scan.best_block_size)]
        centre = done["localization"]["loc"]["trained"][l].centre
        layer_xi.append((activation_correlation_length(a * sign, centre, L, spacing=spacing),
                         spacing))
    arrays = {"g_r": np.arange(L // 2 + 1), "g_mc": radial_correlation(correlation_map(sub))}
    return {"xi0": xi0, "layer_xi": layer_xi, "arrays": arrays,
            "out": {"correlation_length_data": xi0.to_dict(),
                    "correlation_length_block_spins": {str(b): v.to_dict()
                                                       for b, v in block_xi.items()}}}


def generation_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """Generation by the first RBM alone, then by the whole stack.

    See :mod:`rgdl.experiment.generation`.
    """
    rng = np.random.default_rng(child_seed(ctx.cfg.seed, "generate"))
    trained = ctx.stacks["trained"]
    gen, arrays = {}, {}
    for label, params in (("rbm1", trained[:1]), ("stack", trained)):
        e, m, vis = run_generation(ctx.cfg, params, ctx.sub_flat, ctx.energy_fn, rng,
                                   ctx.progress, label)
        lattice = vis.reshape((-1,) + ctx.shape)
        gen[label] = generation_summary(e, m, ctx.mc_thermo, ctx.n_spins, ctx.cfg.temperature)
        gen[label]["correlation_length"] = correlation_length(lattice, n_blocks=10).to_dict()
        arrays[f"g_{label}"] = radial_correlation(correlation_map(lattice))
        arrays[f"gen_energy_{label}"] = e
        arrays[f"gen_absmag_{label}"] = m
        if label == "rbm1":
            arrays["generated_rbm1"] = vis[:6].reshape((-1,) + ctx.shape)
    return {"arrays": arrays, "out": {"generation": gen}}


def reconstructions_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """Mean-field reconstructions from each depth (:meth:`rbm.DBN.reconstruct`)."""
    dbn = DBN.from_layers(ctx.trained_layers)
    x = maths.convert_units(np.asarray(ctx.sub_flat[:6], np.float64), "spin", ctx.cfg.units)
    arrays = {"recon_input": ctx.sub[:6]}
    for l in range(len(ctx.trained_layers)):
        z = dbn.reconstruct(x, layer=l + 1)
        arrays[f"recon_{l}"] = maths.convert_units(z, ctx.cfg.units, "spin").reshape((-1,) + ctx.shape)
    return {"arrays": arrays}


def kl_ais_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """``KL(P_Ising || p_RBM1)`` per spin, with ln Z_RBM by AIS at the full and half schedule.

    AIS is a stochastic lower bound on ln Z_RBM (Jensen), so KL is biased low; its standard
    error covers only the run-to-run spread. A second run with half the annealing schedule
    shows how far the estimate still moves with the schedule (the unresolved bias).
    """
    cfg = ctx.cfg
    w1, c1, b1 = ctx.stacks["trained"][0]
    spins = np.asarray(ctx.dataset.spins)
    v_units = maths.convert_units(spins.reshape(spins.shape[0], -1).astype(np.float64), "spin",
                                  cfg.units)
    free = maths.free_energy_visible(v_units, w1, c1, b1, cfg.units)
    base_bias = base_rate_visible_bias(v_units, cfg.units)
    half_betas = max(3, cfg.ais_betas // 2)
    ais_work = cfg.ais_betas + half_betas  # progress in annealing steps (two AIS runs)
    ctx.progress("analyse: KL (AIS)", 0, ais_work)
    log_z_rbm, log_z_err = ais_log_partition(
        w1, c1, b1, cfg.units, n_betas=cfg.ais_betas, n_runs=cfg.ais_runs,
        seed=child_seed(cfg.seed, "ais"), base_visible_bias=base_bias)
    ctx.progress("analyse: KL (AIS)", cfg.ais_betas, ais_work)
    log_z_half, log_z_half_err = ais_log_partition(
        w1, c1, b1, cfg.units, n_betas=half_betas, n_runs=cfg.ais_runs,
        seed=child_seed(cfg.seed, "ais_half"), base_visible_bias=base_bias)
    log_z_ising = float(log_partition_2d(cfg.size, cfg.size, cfg.temperature, cfg.coupling))
    kl = kl_per_spin(np.asarray(ctx.dataset.energy, np.float64), free, cfg.temperature,
                     ctx.n_spins, log_z_ising, float(log_z_rbm), float(log_z_err))
    out = {"per_spin": kl.to_dict(), "log_z_ising": log_z_ising,
           "log_z_rbm": float(log_z_rbm), "log_z_rbm_error": float(log_z_err),
           "ais_betas": cfg.ais_betas, "ais_runs": cfg.ais_runs,
           "log_z_rbm_half_schedule": float(log_z_half),
           "log_z_rbm_half_schedule_error": float(log_z_half_err),
           "ais_half_betas": half_betas,
           # ln Z(K betas) - ln Z(K/2 betas), per spin: > 0 (beyond the errors) means the
           # schedule is too short and KL is still biased low by at least about this much
           "ais_schedule_shift_per_spin": (float(log_z_rbm) - float(log_z_half)) / ctx.n_spins}
    ctx.progress("analyse: KL (AIS)", ais_work, ais_work)
    return {"out": {"kl": out}}


def rbm_flow_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """The RBM flow (Iso et al. 2018) of the first RBM from Wolff samples, energies in units of J."""
    cfg = ctx.cfg
    L = cfg.size
    w1, c1, b1 = ctx.stacks["trained"][0]
    starts = load_npz(ctx.flow_path, "flow starts")
    temps = np.linspace(0.5, 12.0, 600)
    curve = np.asarray(energy_per_spin_2d(L, L, temps, 1.0))
    t_eff_rows, t_err_rows = [], []
    for i, t0 in enumerate(starts["temperatures"]):
        ctx.progress("analyse: RBM flow", i, len(starts["temperatures"]))
        flow = rbm_flow(starts[f"spins_{i}"], w1, c1, b1, units=cfg.units, n_steps=cfg.flow_steps,
                        seed=child_seed(cfg.seed, f"flowrun{i}"))
        e = energy_per_spin(flow, 1.0, 0.0, 2)  # (steps + 1, n)
        te, tr = effective_temperature(e.mean(1), temps, curve,
                                       e.std(1, ddof=1) / math.sqrt(e.shape[1]))
        t_eff_rows.append(te)
        t_err_rows.append(tr)
    t_eff, t_err = np.array(t_eff_rows), np.array(t_err_rows)
    fixed = flow_fixed_point(t_eff, last=min(3, t_eff.shape[1]))
    out = {"start_temperatures": starts["temperatures"], "final_T": t_eff[:, -1],
           "fixed_point": fixed.to_dict(), "critical_temperature": critical_temperature(1.0),
           "training_temperature": cfg.temperature / cfg.coupling}
    ctx.progress("analyse: RBM flow", len(t_eff), len(t_eff))
    return {"arrays": {"flow_T": t_eff, "flow_T_err": t_err, "flow_T0": starts["temperatures"]},
            "out": {"flow": out}}


def _layer_entry(ctx: AnalysisContext, done: Mapping[str, StepResult], l: int) -> StepResult:
    """The analysis record of trained layer ``l``: localisation, fidelities, nulls, xi."""
    loc = done["localization"]["loc"]
    fid, fid_local = done["fidelity"]["global"], done["fidelity"]["local"]
    xi, spacing = done["correlations"]["layer_xi"][l]
    scan, local = fid["trained"][l], fid_local["trained"][l]
    k = ctx.block_sizes.index(scan.best_block_size)
    k_local = ctx.block_sizes.index(local.best_block_size)
    nulls = [name for name in fid if name != "trained"]
    entry = {
        "n_units": int(ctx.cfg.layers[l]),
        "receptive_field_radius": float(np.median(loc["trained"][l].radius)),
        "receptive_field_radius_untrained": float(np.median(loc["untrained"][l].radius)),
        "receptive_field_localization": loc["trained"][l].medians(),
        "receptive_field_localization_untrained": loc["untrained"][l].medians(),
        "block_fidelity": scan.best_fidelity,
        "block_fidelity_error": float(scan.fidelity_error[k]),
        "block_fidelity_ceiling": float(scan.ceiling[k]),
        "block_fidelity_null": {name: float(fid[name][l].fidelity[k]) for name in nulls},
        "best_block_size": scan.best_block_size,
        "best_block_size_null": {name: fid[name][l].best_block_size for name in nulls},
        "fidelity_scan": scan.to_dict(),
        "fidelity_scan_null": {name: fid[name][l].to_dict() for name in nulls},
        "block_fidelity_local": local.best_fidelity,
        "best_block_size_local": local.best_block_size,
        "block_fidelity_local_null": {name: float(fid_local[name][l].fidelity[k_local])
                                      for name in nulls},
        "block_fidelity_local_ceiling": float(local.ceiling[k_local]),
        "fidelity_scan_local": local.to_dict(),
        "fidelity_scan_local_null": {name: fid_local[name][l].to_dict() for name in nulls},
        "correlation_length": xi.to_dict(),
        "lattice_spacing": spacing,
        "rg_expected_correlation_length": done["correlations"]["xi0"].value / spacing,
    }
    if "shuffled" in loc:
        entry["receptive_field_radius_shuffled"] = float(np.median(loc["shuffled"][l].radius))
    return entry


def summaries_step(ctx: AnalysisContext, done: Mapping[str, StepResult]) -> StepResult:
    """The per-layer records of ``analysis.json`` (:func:`_layer_entry` for every layer)."""
    layers = [_layer_entry(ctx, done, l) for l in range(len(ctx.cfg.layers))]
    return {"out": {"layers": layers, "localization_window": ctx.window}}


#: The analysis, in order: (name, step). The names are the keys of ``analysis.json["timings"]``.
ANALYSIS_STEPS: tuple[tuple[str, AnalysisStep], ...] = (
    ("localization", localization_step),
    ("fidelity", fidelity_step),
    ("correlations", correlations_step),
    ("generation", generation_step),
    ("reconstructions", reconstructions_step),
    ("kl_ais", kl_ais_step),
    ("rbm_flow", rbm_flow_step),
    ("summaries", summaries_step),
)

#: Key order of analysis.json.
_OUT_ORDER = ("monte_carlo", "kl", "flow", "layers", "correlation_length_data",
              "correlation_length_block_spins", "generation", "localization_window")


def run_analysis(cfg: ExperimentConfig, dataset: SpinDataset, trained_layers: Iterable[RBM],
                 stacks: dict[str, list[LayerParams]], flow_path: Path, folder: Path,
                 progress: ProgressCallback) -> dict[str, Any]:
    """Run :data:`ANALYSIS_STEPS`; write ``folder/arrays.npz`` and ``folder/analysis.json``.

    Parameters
    ----------
    cfg : ExperimentConfig
    dataset : ising.io.Dataset
    trained_layers : list of rbm.RBM
        The trained stack.
    stacks : dict
        ``"trained"``, ``"untrained"``, ``"shuffled"`` -> list of (weights, visible_bias,
        hidden_bias).
    flow_path : pathlib.Path
        ``flow_starts.npz`` of the simulate stage.
    folder : pathlib.Path
    progress : callable

    Returns
    -------
    dict
        The analysis (as written to ``analysis.json``), with per-step wall ``timings``.
    """
    start = time.perf_counter()
    ctx = make_context(cfg, dataset, trained_layers, stacks, flow_path, progress)
    done: dict[str, StepResult] = {}
    out: dict[str, Any] = {}
    arrays: dict[str, npt.ArrayLike] = {}
    timings: dict[str, float] = {}
    for name, step in ANALYSIS_STEPS:
        done[name] = step(ctx, done)
        arrays.update(done[name].get("arrays", {}))
        out.update(done[name].get("out", {}))
        now = time.perf_counter()
        timings[name] = now - start
        start = now
    out = {key: out[key] for key in _OUT_ORDER}
    out["timings"] = timings
    folder.mkdir(parents=True, exist_ok=True)
    atomic_savez(folder / "arrays.npz", arrays)
    atomic_write_text(folder / "analysis.json", json.dumps(jsonable(out), indent=1))
    return out

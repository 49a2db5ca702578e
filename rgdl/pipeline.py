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

Module layout
-------------
This module runs the stages; each job lives in its own module of :mod:`rgdl.experiment`
(configuration and presets, the stage cache, the data and model stages, the analysis steps,
generation, summary, report, figures), whose public names it re-exports.

Greedy training
---------------
:class:`rbm.DBN` trains layer ``l + 1`` on hidden states *sampled* from ``P(h | v)`` of layer
``l`` (Hinton, Osindero & Teh 2006); the analysis propagates mean activations ``E[h | below]`` upwards
(mean-field up-pass), as the paper's receptive fields ``r^(l) = r^(l-1) W^(l)`` do.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ising.atomic import OutputLock, atomic_write_text
from ising.io import SpinDataset
from rbm import RBM
from rgdl.experiment.cache import StageRecords, jsonable, stage_key
from rgdl.seeds import child_seed
from rgdl.experiment.config import (LATER_FIELDS, PRESETS, RECIPES, ExperimentConfig,
                                    ProgressCallback, preset)
from rgdl.experiment.generation import RHAT_THRESHOLD
from rgdl.experiment.plots import draw_figures
from rgdl.experiment.report import render_report
from rgdl.experiment.stages import layer_params, simulate_data, train_stack, untrained_params
from rgdl.experiment.steps import ANALYSIS_STEPS, run_analysis, up_pass
from rgdl.experiment.summary import (MIN_LINEAR_SIZE_FOR_XI, NULL_SEPARATION_CRITERION,
                                     NULL_SEPARATION_SIGMAS, make_summary, null_separation,
                                     xi_omission_reason)

log = logging.getLogger(__name__)

__all__ = ["ExperimentConfig", "PRESETS", "RECIPES", "LATER_FIELDS", "preset",
           "untrained_params", "run_pipeline", "STAGES", "null_separation",
           "xi_omission_reason", "draw_figures", "make_summary", "render_report", "up_pass",
           "ANALYSIS_STEPS", "RHAT_THRESHOLD", "NULL_SEPARATION_SIGMAS",
           "NULL_SEPARATION_CRITERION", "MIN_LINEAR_SIZE_FOR_XI"]

STAGES = ("simulate", "train", "analyse", "figures", "report")
LOCK_NAME = ".rgdl-reproduce.lock"


def _check_results_folder(out: Path, config: ExperimentConfig, overwrite: bool) -> None:
    """Refuse to replace results that are not this configuration's (unless ``overwrite``).

    Rerunning the same configuration in ``out`` resumes it (its cached stages are its own
    outputs); a folder holding another configuration's summary/report/figures, or files that
    are not rgdl results at all, is refused without ``overwrite``.
    """
    if not out.exists() or overwrite:
        return
    entries = [p for p in out.iterdir() if p.name != LOCK_NAME]
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


def run_pipeline(config: ExperimentConfig, out: str | os.PathLike[str], *,
                 progress: ProgressCallback | None = None, force: bool = False,
                 overwrite: bool = False) -> dict[str, Any]:
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
    _check_results_folder(out, config, overwrite)
    out.mkdir(exist_ok=True)
    with OutputLock(out, lock_file=out / LOCK_NAME):  # one run per results folder
        _check_results_folder(out, config, overwrite)
        return _run_locked(config, out, progress, force)


class _Run:
    """One run of the stages in ``out`` (holding its lock): stage keys, timings, progress."""

    def __init__(self, config: ExperimentConfig, out: Path, progress: ProgressCallback | None,
                 force: bool) -> None:
        self.config, self.out, self.force = config, out, force
        self.progress: ProgressCallback = progress or (lambda stage, done, total: None)
        self.records = StageRecords(out)
        self.timings: dict[str, float] = {}

    def start(self, name: str, key: str) -> bool:
        """Announce stage ``name``; whether it is cached (finished with ``key``, no ``force``)."""
        cached = self.records.done(name, key) and not self.force
        self.progress(name, None, "cached" if cached else "running")
        return cached

    def params(self, names: Iterable[str]) -> dict[str, Any]:
        return {k: getattr(self.config, k) for k in names}

    def simulate(self) -> tuple[str, SpinDataset]:
        """The Monte Carlo data (resumes, or returns the finished file) and the flow starts."""
        key = stage_key({"stage": "simulate", "params": self.params(
            ("size", "temperature", "coupling", "n_samples", "algorithm", "mc_chains",
             "flow_temperatures", "flow_samples", "seed"))})
        self.data_dir = self.out / "data" / key
        t0 = time.perf_counter()
        cached = self.start("simulate", key)
        dataset = simulate_data(self.config, self.data_dir, self.progress, self.force)
        if not cached:
            self.records.mark("simulate", key, time.perf_counter() - t0)
        self.timings["simulate"] = time.perf_counter() - t0
        return key, dataset

    def train(self, sim_key: str, dataset: SpinDataset) -> tuple[str, list[RBM], list[RBM]]:
        """The trained stack and the shuffled-data null (each resumes from its checkpoints)."""
        config = self.config
        params = self.params(("layers", "units", "n_epochs", "batch_size", "learning_rate",
                              "cd_k", "l1", "null_epochs"))
        # the recipe fields only when they differ from their defaults (older keys unchanged)
        params.update({k: v for k, v in config.to_dict().items() if k in LATER_FIELDS})
        key = stage_key({"stage": "train", "params": params, "upstream": sim_key,
                         "seed": config.seed})
        model_dir = self.out / "models" / key
        t0 = time.perf_counter()
        self.start("train", key)
        spins_flat = np.asarray(dataset.spins).reshape(dataset.spins.shape[0], -1)
        trained = train_stack(config, spins_flat, model_dir / "trained", config.n_epochs, "train",
                              self.progress, "train", self.force)
        self.timings["train_stack"] = time.perf_counter() - t0
        shuffled_data = np.random.default_rng(child_seed(config.seed, "shuffle")).permuted(
            spins_flat, axis=1)
        shuffled = train_stack(config, shuffled_data, model_dir / "shuffled",
                               min(config.null_epochs or config.n_epochs, config.n_epochs), "null",
                               self.progress, "null", self.force)
        self.records.mark("train", key, time.perf_counter() - t0)
        self.timings["train"] = time.perf_counter() - t0
        self.timings["train_null"] = self.timings["train"] - self.timings["train_stack"]
        return key, trained, shuffled

    def analyse(self, train_key: str, dataset: SpinDataset, trained: list[RBM],
                shuffled: list[RBM]) -> tuple[str, dict[str, Any]]:
        """The analysis (:func:`rgdl.experiment.steps.run_analysis`), or its cached JSON."""
        config = self.config
        key = stage_key({"stage": "analyse", "params": self.params(
            ("analysis_samples", "block_sizes", "generation_chains", "generation_steps",
             "generation_records", "flow_steps", "ais_betas", "ais_runs")), "upstream": train_key})
        self.analysis_dir = self.out / "analysis"
        t0 = time.perf_counter()
        analysis = None
        if self.start("analyse", key) and (self.analysis_dir / "analysis.json").exists():
            try:
                analysis = json.loads((self.analysis_dir / "analysis.json").read_text())
            except (OSError, ValueError) as exc:
                log.warning("cached analysis unreadable (%s); recomputing it", exc)
                analysis = None
        if analysis is None:
            stacks = {"trained": [layer_params(layer) for layer in trained],
                      "untrained": untrained_params(config.layers, config.size ** 2,
                                                    child_seed(config.seed, "untrained"),
                                                    config.init_scale),
                      "shuffled": [layer_params(layer) for layer in shuffled]}
            analysis = jsonable(run_analysis(config, dataset, trained, stacks,
                                             self.data_dir / "flow_starts.npz", self.analysis_dir,
                                             self.progress))
            self.records.mark("analyse", key, time.perf_counter() - t0)
        self.timings["analyse"] = time.perf_counter() - t0
        return key, analysis

    def figures(self, analysis_key: str, analysis: dict[str, Any]) -> str:
        """The figures (redrawn when the analysis changed)."""
        # "marks": figures of unequilibrated chains are marked, meaningless xi omitted (issue 13)
        key = stage_key({"stage": "figures", "upstream": analysis_key, "marks": 1})
        t0 = time.perf_counter()
        if not self.start("figures", key):
            draw_figures(self.config, analysis, self.analysis_dir / "arrays.npz",
                         self.out / "figures")
            self.records.mark("figures", key, time.perf_counter() - t0)
        self.timings["figures"] = time.perf_counter() - t0
        return key

    def report(self, fig_key: str, analysis: dict[str, Any]) -> dict[str, Any]:
        """summary.json and report.md (cheap: always rewritten)."""
        self.progress("report", None, "running")
        summary = make_summary(self.config, analysis, self.timings)
        atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=1))
        atomic_write_text(self.out / "report.md", render_report(self.config, analysis, summary))
        self.records.mark("report", stage_key({"stage": "report", "upstream": fig_key}), 0.0)
        return summary


def _run_locked(config: ExperimentConfig, out: Path, progress: ProgressCallback | None,
                force: bool) -> dict[str, Any]:
    """The body of :func:`run_pipeline`, run while holding the folder's lock."""
    run = _Run(config, out, progress, force)
    sim_key, dataset = run.simulate()
    train_key, trained, shuffled = run.train(sim_key, dataset)
    analysis_key, analysis = run.analyse(train_key, dataset, trained, shuffled)
    fig_key = run.figures(analysis_key, analysis)
    return run.report(fig_key, analysis)

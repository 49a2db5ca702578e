"""The units of work of a sweep: one grid point, or one multi-spin grid group of points.

:func:`run_point` runs on a Dask worker (or serially in the driver): it adopts the point's
valid file (:func:`adopt_dataset`) or samples it with :func:`make_dataset`
(:func:`ising.dataset.generate_dataset`, resuming a ``.partial`` file), then validates and
summarises it and optionally trains the point's RBM/DBN (:func:`complete_point`).
:func:`run_grid_task` does the same for the points of one group of a ``multispin-grid`` sweep,
whose datasets come from one :func:`rgdl.sweep.multispin.run_grid_group`. Both take parameters
and the sweep directory only, so they are picklable and depend on nothing of the driver's state.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

import numba

import rbm
from ising.dataset import generate_dataset, summarize_dataset
from ising.io import read_attributes, read_series
from ising.observables import Estimate
from rgdl.sweep.index import file_lock, file_sha256
from rgdl.sweep.multispin import run_grid_group
from rgdl.sweep.spec import LOCKS_DIR, SUMMARY_FIELDS, SweepPoint, point_seed, train_seed
from rgdl.training import load_training_data

logger = logging.getLogger(__name__)

#: A test/diagnostic hook of the tasks, ``task_hook(event, point_id, out_dir)`` (:func:`run_point`).
TaskHook = Callable[[str, str, str], object]


def _estimate_dict(estimate: Estimate) -> dict[str, float | None]:
    value, error = estimate
    return {"value": _finite_or_none(value), "error": _finite_or_none(error)}


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _summarize_file(path: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a finished dataset against ``params`` and return its summary observables.

    Only the attributes and the energy/magnetization series are read (not the spins); the
    layout and completeness checks are those of :func:`ising.io.read_attributes`.
    """
    attrs = read_attributes(path)
    for key in ("size", "dimension", "n_chains"):
        if int(attrs[key]) != int(params[key]):
            raise ValueError(f"{path}: attribute {key}={attrs[key]!r} does not match the sweep "
                             f"({params[key]!r})")
    for key in ("temperature", "coupling", "field"):
        if not math.isclose(float(attrs[key]), float(params[key]), rel_tol=1e-12, abs_tol=1e-15):
            raise ValueError(f"{path}: attribute {key}={attrs[key]!r} does not match the sweep "
                             f"({params[key]!r})")
    if str(attrs["algorithm"]) != str(params["algorithm"]):
        raise ValueError(f"{path}: algorithm {attrs['algorithm']!r} does not match the sweep")
    if int(attrs["seed"]) != point_seed(params):
        raise ValueError(f"{path}: seed {attrs['seed']} is not the seed of this point")
    energy, magnetization = read_series(path)
    if len(energy) != int(params["n_samples"]):
        raise ValueError(f"{path}: holds {len(energy)} samples, expected {params['n_samples']}")
    thin = int(attrs["thin"])
    n_spins = int(params["size"]) ** int(params["dimension"])
    summary = summarize_dataset(energy, magnetization, n_spins=n_spins,
                                temperature=float(params["temperature"]), thin=thin,
                                n_chains=int(params["n_chains"]))
    out: dict[str, Any] = {
        name: (None if summary is None else _estimate_dict(getattr(summary, name)))
        for name in SUMMARY_FIELDS}
    out["tau_int"] = None if summary is None else _finite_or_none(summary.tau_int)
    out["n_samples"] = int(len(energy))
    out["burn_in"] = int(attrs["burn_in"])
    out["thin"] = thin
    return out


def _train_point(data_path: Path, model_path: Path, params: Mapping[str, Any]) -> None:
    """Train the RBM (one layer) or DBN (several) of a training point; save it atomically.

    Training checkpoints every epoch next to the model (``<point>.ckpt*``) and resumes from
    them, bit-identically, when a killed task is retried (:meth:`rbm.RBM.fit`,
    :meth:`rbm.DBN.fit`); they are removed once the model is saved.
    """
    train = params["train"]
    visible, _ = load_training_data(data_path, train["units"])
    hyper = dict(learning_rate=train["learning_rate"], batch_size=train["batch_size"],
                 n_iter=train["epochs"], cd_k=train["cd_k"], l1=train["l1"])
    meta = {"sweep_point": dict(params), "data_file": data_path.name}
    stem = model_path.name[:-len(".npz")] if model_path.name.endswith(".npz") else model_path.name
    checkpoint = model_path.with_name(stem + ".ckpt")
    if len(train["layers"]) == 1:
        model = rbm.RBM(n_components=train["layers"][0], units=train["units"],
                        random_state=train_seed(params), **hyper)
        model.fit(visible, checkpoint=checkpoint, resume=True)
    else:
        model = rbm.DBN(list(train["layers"]), units=train["units"], rbm_params=hyper,
                        random_state=train_seed(params))
        model.fit(visible, checkpoint=checkpoint, resume=True)
    rbm.save_model(model_path, model, meta=meta)
    for leftover in model_path.parent.glob(stem + ".ckpt*"):
        leftover.unlink(missing_ok=True)


def point_lock(out_dir: str | os.PathLike[str], point_id: str) -> ContextManager[None]:
    """The per-point lock of ``point_id`` in the sweep directory (:func:`file_lock`)."""
    lock_dir = Path(out_dir) / LOCKS_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    return file_lock(lock_dir / f"{point_id}.lock")


def adopt_dataset(params: Mapping[str, Any],
                  out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Summarise the point's dataset if its file exists and is valid; else ``None``.

    A file that exists but is not a valid dataset of this point (unreadable, foreign, another
    point's) was never accepted by the index: it is moved aside (``<file>.corrupt-<time>``)
    and ``None`` returned, so that the point is computed again.
    """
    path = Path(out_dir) / SweepPoint(params=dict(params)).file
    if not path.exists():
        return None
    try:
        return _summarize_file(path, params)
    except Exception as exc:  # unreadable or foreign file that the index never accepted
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        logger.warning("%s is not a valid dataset of this point (%s); moved to %s",
                       path, exc, aside.name)
        os.replace(path, aside)
        return None


def make_dataset(params: Mapping[str, Any], out_dir: str | os.PathLike[str], *,
                 task_hook: TaskHook | None = None) -> Path:
    """Sample one point's dataset on its own (:func:`ising.dataset.generate_dataset`).

    Resumes the point's ``.partial`` file; an unusable one is moved aside
    (``.corrupt-<time>``) and the point started over. Returns the dataset's path.
    """
    point = SweepPoint(params=dict(params))
    path = Path(out_dir) / point.file
    path.parent.mkdir(parents=True, exist_ok=True)
    progress = None
    if task_hook is not None:
        def progress(*args: object, **kwargs: object) -> None:
            task_hook("progress", point.point_id, str(out_dir))
    p = point.params
    kwargs = dict(dimension=p["dimension"], size=p["size"], temperature=p["temperature"],
                  coupling=p["coupling"], field=p["field"], algorithm=p["algorithm"],
                  n_samples=p["n_samples"], n_chains=p["n_chains"],
                  burn_in=p["burn_in"], thin=p["thin"], seed=point.derived_seed,
                  progress=progress)
    partial = path.with_name(path.name + ".partial")
    try:
        generate_dataset(path, resume=True, **kwargs)
    except ValueError as exc:
        if not partial.exists():
            raise
        # an unusable partial file (corrupt resume state): keep it aside, start over
        aside = partial.with_name(f"{partial.name}.corrupt-{int(time.time())}")
        logger.warning("cannot resume %s (%s); moved to %s and starting over",
                       partial, exc, aside.name)
        os.replace(partial, aside)
        generate_dataset(path, resume=True, **kwargs)
    return path


def complete_point(params: Mapping[str, Any], out_dir: str | os.PathLike[str], *,
                   summary: dict[str, Any] | None = None, adopted: bool = False) -> dict[str, Any]:
    """Summarise (unless ``summary`` is given) and train an existing dataset of one point.

    The part of a task after the point's file exists, shared by :func:`run_point` and
    :func:`run_grid_task`: validates and summarises the file, trains the point's RBM/DBN
    (training points whose model is missing) and returns the result the index records:
    ``id``, ``sha256`` of the file, ``summary``, ``adopted`` and, for training points,
    ``model_sha256``.
    """
    point = SweepPoint(params=dict(params))
    out = Path(out_dir)
    path = out / point.file
    if summary is None:
        summary = _summarize_file(path, point.params)
    result = {"id": point.point_id, "sha256": file_sha256(path), "summary": summary,
              "adopted": bool(adopted)}
    if point.model_file is not None:
        model_path = out / point.model_file
        if not model_path.exists():
            _train_point(path, model_path, point.params)
        result["model_sha256"] = file_sha256(model_path)
    return result


def _worker_fields(elapsed_s: float) -> dict[str, Any]:
    return dict(elapsed_s=elapsed_s, pid=os.getpid(), host=socket.gethostname(),
                numba_threads=int(numba.get_num_threads()))


def run_point(params: Mapping[str, Any], out_dir: str, *,
              task_hook: TaskHook | None = None) -> dict[str, Any]:
    """Compute (or resume, or adopt) one sweep point; the unit of work of a Dask task.

    Parameters
    ----------
    params : mapping
        The point's parameters (:attr:`SweepPoint.params`).
    out_dir : str
        Absolute path of the sweep directory (shared by all workers).
    task_hook : callable, optional
        Test/diagnostic hook called as ``task_hook(event, point_id, out_dir)`` with event
        ``"start"`` and then ``"progress"`` during sampling. Must be picklable.

    Returns
    -------
    dict
        ``id``, ``sha256`` of the file, ``summary``, ``adopted`` (the file already existed),
        ``elapsed_s``, ``pid``, ``host`` and ``numba_threads`` of the worker.
    """
    start = time.perf_counter()
    point = SweepPoint(params=dict(params))
    with point_lock(out_dir, point.point_id):
        if task_hook is not None:
            task_hook("start", point.point_id, out_dir)
        summary = adopt_dataset(point.params, out_dir)
        if summary is None:
            make_dataset(point.params, out_dir, task_hook=task_hook)
        result = complete_point(point.params, out_dir, summary=summary,
                                adopted=summary is not None)
    result.update(_worker_fields(time.perf_counter() - start))
    return result


def run_grid_task(group: Sequence[Mapping[str, Any]], todo_ids: Sequence[str], out_dir: str, *,
                  task_hook: TaskHook | None = None) -> list[dict[str, Any]]:
    """Compute the points ``todo_ids`` of one grid group in one multi-spin run (one task).

    Parameters
    ----------
    group : sequence of mapping
        A whole group of :func:`rgdl.sweep.multispin.grid_groups` (all its points, not only
        those to run: the group's temperatures fix its grid seed, so a resumed group gives the
        bytes of an uninterrupted one).
    todo_ids : sequence of str
        Ids of the group's points to compute (or adopt); the others are finished and indexed.
    out_dir : str
        Absolute path of the sweep directory.
    task_hook : callable, optional
        As in :func:`run_point`; called with ``"start"`` once per point to run.

    Returns
    -------
    list of dict
        One result of :func:`run_point`'s form per point of ``todo_ids``, in the group's
        order; ``elapsed_s`` is the task's wall time shared equally among them.
    """
    start = time.perf_counter()
    points = [SweepPoint(params=dict(p)) for p in group]
    wanted = set(todo_ids)
    todo = [point for point in points if point.point_id in wanted]
    with contextlib.ExitStack() as stack:
        for point_id in sorted(point.point_id for point in points):
            stack.enter_context(point_lock(out_dir, point_id))
        summaries: dict[str, dict[str, Any] | None] = {}
        for point in todo:
            if task_hook is not None:
                task_hook("start", point.point_id, out_dir)
            summaries[point.point_id] = adopt_dataset(point.params, out_dir)
        run_grid_group([point.params for point in points], out_dir)
        results = [complete_point(point.params, out_dir, summary=summaries[point.point_id],
                                  adopted=summaries[point.point_id] is not None)
                   for point in todo]
    share = (time.perf_counter() - start) / max(len(results), 1)
    for result in results:
        result.update(_worker_fields(share))
    return results

"""The unit of work of a sweep: one grid point, computed (or resumed, or adopted) by a task.

:func:`run_point` runs on a Dask worker (or serially in the driver): it samples the point's
dataset with :func:`ising.dataset.generate_dataset` (resuming a ``.partial`` file), validates and
summarises it, and optionally trains the point's RBM/DBN. It takes the point's parameters and
the sweep directory only, so it is picklable and depends on nothing of the driver's state.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Callable, Mapping

import numba

import rbm
from ising.dataset import generate_dataset, summarize_dataset
from ising.io import read_attributes, read_series
from rgdl.sweep.index import file_lock, file_sha256
from rgdl.sweep.spec import LOCKS_DIR, SUMMARY_FIELDS, SweepPoint, point_seed, train_seed
from rgdl.training import load_training_data

logger = logging.getLogger(__name__)


def _estimate_dict(estimate) -> dict:
    value, error = estimate
    return {"value": _finite_or_none(value), "error": _finite_or_none(error)}


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _summarize_file(path: Path, params: Mapping) -> dict:
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
    out = {name: (None if summary is None else _estimate_dict(getattr(summary, name)))
           for name in SUMMARY_FIELDS}
    out["tau_int"] = None if summary is None else _finite_or_none(summary.tau_int)
    out["n_samples"] = int(len(energy))
    out["burn_in"] = int(attrs["burn_in"])
    out["thin"] = thin
    return out


def _train_point(data_path: Path, model_path: Path, params: Mapping) -> None:
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


def run_point(params: Mapping, out_dir: str, *, task_hook: Callable | None = None) -> dict:
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
    out = Path(out_dir)
    path = out / point.file
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_dir = out / LOCKS_DIR
    lock_dir.mkdir(exist_ok=True)
    with file_lock(lock_dir / f"{point.point_id}.lock"):
        if task_hook is not None:
            task_hook("start", point.point_id, out_dir)
        adopted = path.exists()
        if adopted:
            try:
                summary = _summarize_file(path, point.params)
            except Exception as exc:  # unreadable or foreign file that the index never accepted
                aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
                logger.warning("%s is not a valid dataset of this point (%s); moved to %s",
                               path, exc, aside.name)
                os.replace(path, aside)
                adopted = False
        if not adopted:
            progress = None
            if task_hook is not None:
                def progress(*args, **kwargs):
                    task_hook("progress", point.point_id, out_dir)
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
            summary = _summarize_file(path, point.params)
        result = {"id": point.point_id, "sha256": file_sha256(path), "summary": summary,
                  "adopted": adopted}
        if point.model_file is not None:
            model_path = out / point.model_file
            if not model_path.exists():
                _train_point(path, model_path, point.params)
            result["model_sha256"] = file_sha256(model_path)
    result.update(elapsed_s=time.perf_counter() - start, pid=os.getpid(),
                  host=socket.gethostname(), numba_threads=int(numba.get_num_threads()))
    return result


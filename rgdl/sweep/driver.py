"""The sweep driver: runs the points of a :class:`~rgdl.sweep.spec.SweepSpec` serially or as
Dask tasks, and keeps the index ``OUT/sweep.json`` up to date as they finish.

The guarantees (reproducible, resumable, fault tolerant, safe) are described in the package
docstring of :mod:`rgdl.sweep`; the task itself is :func:`rgdl.sweep.task.run_point`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Callable

from ising.samplers import MonteCarloSampler
from rgdl import __version__
from rgdl.sweep.index import (check_out_dir, entry_is_done, file_lock, new_entry, utc_now,
                              write_json_atomic)
from rgdl.sweep.spec import (INDEX_FORMAT, INDEX_NAME, INDEX_VERSION, LOCK_NAME, POINTS_DIR,
                             SweepSpec)
from rgdl.sweep.task import run_point

logger = logging.getLogger(__name__)

#: Seconds between index rewrites while points finish (the index is also written at the end;
#: a finished point missing from the index is adopted, not recomputed, on the next run).
INDEX_WRITE_INTERVAL = 1.0


class SweepError(RuntimeError):
    """Some points of a sweep failed even after retries (the index records which and why)."""


def check_physics(spec: SweepSpec) -> None:
    """Validate every (size, temperature) of ``spec`` with the sampler's own checks.

    Builds (and discards) one :class:`ising.samplers.MonteCarloSampler` per size and
    temperature, so unknown algorithms, odd L with a checkerboard algorithm, cluster
    algorithms with a field, ... are refused with the sampler's message before any task runs.
    """
    for size in spec.sizes:
        for temperature in spec.temperatures:
            MonteCarloSampler(spec.dimension, size, temperature, coupling=spec.coupling,
                              field=spec.field, algorithm=spec.algorithm, n_chains=1, seed=0)



# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------
_ADDRESS_RE = re.compile(r"^(tcp|tls|inproc|ws|wss|ucx)://\S+$")

#: Environment of LocalCluster workers: one numba/BLAS thread each (the cluster is the
#: parallelism).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, *,
                connect_timeout: float = 5.0):
    """A ``dask.distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the LocalCluster (default: the number of CPUs). Each has one thread
        and ``NUMBA_NUM_THREADS=1`` (:data:`WORKER_ENV`).
    scheduler : str, optional
        Address ``tcp://HOST:PORT`` of a running scheduler (``dask scheduler``).
    connect_timeout : float
        Seconds to wait for the scheduler before giving up.

    Raises
    ------
    ValueError
        dask.distributed missing, malformed or unreachable scheduler address.
    """
    try:  # an optional dependency (extra "distributed"), imported only when a sweep uses it
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("dask.distributed is not installed (pip install 'rgdl[distributed]'), "
                         "or run serially with --workers 0") from None
    if not logger.isEnabledFor(logging.DEBUG):
        # distributed configures its loggers at import (INFO); keep routine cluster chatter
        # (worker start/stop, the nanny restarting a killed worker) out of the user's terminal
        for name in ("distributed", "distributed.nanny", "distributed.scheduler",
                     "distributed.worker", "distributed.core", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if scheduler is not None:
        if not _ADDRESS_RE.match(scheduler):
            raise ValueError(f"--scheduler {scheduler!r} is not an address like tcp://HOST:PORT")
        try:
            client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} within "
                             f"{connect_timeout:g} s ({type(exc).__name__})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError("--workers must be >= 1 for a LocalCluster (0 runs serially)")
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR,
                           env=dict(WORKER_ENV))
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`: counts of points and the final index.

    ``n_computed`` counts the points run by tasks in this call, of which ``n_adopted`` found
    their file already complete (finished by an earlier, killed run before it could index
    them) and only verified and summarised it.
    """

    out: Path
    n_points: int
    n_skipped: int
    n_computed: int
    n_adopted: int
    n_failed: int
    wall_s: float
    index: dict


def run_sweep(spec: SweepSpec, out: str | os.PathLike, *, workers: int | None = None,
              scheduler: str | None = None, client=None, retries: int = 2,
              connect_timeout: float = 5.0, progress: Callable | None = None,
              task_hook: Callable | None = None) -> SweepResult:
    """Run (or finish) a sweep into directory ``out``.

    Parameters
    ----------
    spec : SweepSpec
    out : path
        Sweep directory: ``sweep.json`` + ``points/*.h5`` (+ ``points/*.npz`` models).
    workers : int, optional
        ``0``: run the points serially in this process (no Dask). Otherwise the size of a
        LocalCluster of processes (default: number of CPUs). Ignored with ``scheduler``/``client``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``); ``out`` must then be on a
        file system shared by the workers.
    client : dask.distributed.Client, optional
        Use this client (overrides ``workers``/``scheduler``).
    retries : int
        Extra attempts of a task that raised; worker deaths are retried by the scheduler
        (``distributed.scheduler.allowed-failures``).
    connect_timeout : float
        Seconds to wait for ``scheduler``.
    progress : callable, optional
        Called as ``progress(n_total, entry)`` once with ``entry=None`` at the start (after the
        skipped points are known; ``n_total`` counts the points still to run) and then once per
        finished or failed point.
    task_hook : callable, optional
        Passed to :func:`run_point` (tests inject faults with it).

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError, FileExistsError, NotADirectoryError
        Bad input, ``out`` holding another sweep or foreign files, unreachable scheduler,
        another sweep running on ``out``. Nothing is written in these cases.
    SweepError
        Some points failed after all retries (the others are finished and indexed).
    """
    retries = _check_run_arguments(spec, workers, retries)
    out = Path(out).absolute()
    check_physics(spec)
    check_out_dir(out, spec)
    t0 = time.perf_counter()
    serial = client is None and scheduler is None and workers is not None and int(workers) == 0
    with contextlib.ExitStack() as stack:
        if not serial and client is None:
            # connect (or fail) before writing anything
            client = stack.enter_context(dask_client(workers, scheduler,
                                                     connect_timeout=connect_timeout))
        out.mkdir(parents=True, exist_ok=True)
        stack.enter_context(file_lock(out / LOCK_NAME, blocking=False))
        index, todo = _open_index(out, spec)
        recorder = _IndexRecorder(out / INDEX_NAME, index, len(todo), progress)
        if serial:
            _run_serially(todo, out, retries, task_hook, recorder)
        elif todo:
            _run_on_dask(client, todo, out, retries, task_hook, recorder)
        if todo:
            write_json_atomic(out / INDEX_NAME, index)
    entries = index["points"]
    n_failed = sum(1 for e in entries if e["status"] == "failed")
    if n_failed:
        first = next(e for e in entries if e["status"] == "failed")
        raise SweepError(f"{n_failed} of {len(entries)} points failed (first: {first['id']}: "
                         f"{first['error']}); rerun the same command to retry them")
    return SweepResult(out=out, n_points=len(entries), n_skipped=len(entries) - len(todo),
                       n_computed=len(todo), n_adopted=len(recorder.adopted), n_failed=0,
                       wall_s=time.perf_counter() - t0, index=index)


def _check_run_arguments(spec, workers, retries) -> int:
    """Validate :func:`run_sweep`'s arguments; returns ``retries`` as an int."""
    if not isinstance(spec, SweepSpec):
        raise TypeError("spec must be a SweepSpec")
    retries = int(retries)
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if workers is not None and int(workers) < 0:
        raise ValueError("--workers must be >= 0")
    if not spec.points():
        raise ValueError("the sweep grid is empty")
    return retries


def _open_index(out: Path, spec: SweepSpec):
    """The index of ``out`` for ``spec`` (old entries kept) and the entries still to run.

    Called under the sweep's lock: rechecks ``out``, resets the entries whose files are missing
    or modified to ``pending`` and writes the index before any task runs.
    """
    old_index = check_out_dir(out, spec)  # recheck under the lock
    old_entries = {e["id"]: e for e in (old_index or {}).get("points", [])}
    entries = [old_entries.get(point.point_id) or new_entry(point) for point in spec.points()]
    index = {"format": INDEX_FORMAT, "version": INDEX_VERSION,
             "spec_hash": spec.spec_hash, "spec": spec.to_dict(),
             "created": (old_index or {}).get("created", utc_now()), "updated": utc_now(),
             "rgdl_version": __version__, "points": entries}
    todo = []
    for entry in entries:
        if entry_is_done(out, entry):
            continue
        entry.update(status="pending", sha256=None, model_sha256=None, summary=None,
                     error=None)
        todo.append(entry)
    (out / POINTS_DIR).mkdir(exist_ok=True)
    write_json_atomic(out / INDEX_NAME, index)
    logger.info("sweep %s: %d points, %d finished already, %d to run", out, len(entries),
                len(entries) - len(todo), len(todo))
    return index, todo


class _IndexRecorder:
    """Records finished and failed points in the index, rewriting it at most every
    :data:`INDEX_WRITE_INTERVAL` seconds (and at once after a failure), and reports progress."""

    def __init__(self, index_path: Path, index: dict, n_todo: int, progress):
        self.index_path, self.index, self.n_todo = index_path, index, n_todo
        self.progress = progress
        self.adopted: list = []
        self.last_write = time.monotonic()
        if progress is not None:
            progress(n_todo, None)

    def __call__(self, entry: dict, result: dict | None = None, error=None) -> None:
        entry["attempts"] = int(entry.get("attempts") or 0) + 1
        if error is None:
            if result["adopted"]:
                self.adopted.append(entry["id"])
            entry.update(status="done", sha256=result["sha256"],
                         model_sha256=result.get("model_sha256"), summary=result["summary"],
                         error=None, elapsed_s=round(result["elapsed_s"], 4),
                         finished=utc_now(), worker={"host": result["host"], "pid": result["pid"],
                                                     "numba_threads": result["numba_threads"]})
        else:
            message = f"{type(error).__name__}: {error}"
            entry.update(status="failed", error=" ".join(message.split()))
            logger.error("point %s failed: %s", entry["id"], entry["error"])
        self.index["updated"] = utc_now()
        if time.monotonic() - self.last_write >= INDEX_WRITE_INTERVAL or error is not None:
            write_json_atomic(self.index_path, self.index)
            self.last_write = time.monotonic()
        if self.progress is not None:
            self.progress(self.n_todo, entry)


def _run_serially(todo, out: Path, retries: int, task_hook, finish) -> None:
    """Run the points one after the other in this process, each up to ``retries + 1`` times."""
    for entry in todo:
        for attempt in range(retries + 1):
            try:
                result = run_point(entry["params"], str(out), task_hook=task_hook)
            except Exception as exc:  # recorded in the index, reported at the end
                if attempt == retries:
                    finish(entry, error=exc)
                else:
                    logger.warning("point %s failed (%s); retrying", entry["id"], exc)
            else:
                finish(entry, result)
                break


def _run_on_dask(client, todo, out: Path, retries: int, task_hook, finish) -> None:
    """Submit every point as a Dask task and record them as they complete."""
    from dask.distributed import as_completed  # optional dependency, as in dask_client

    by_id = {e["id"]: e for e in todo}
    futures, owner = [], {}
    for entry in todo:
        key = f"rgdl-point-{entry['id']}-{uuid.uuid4().hex[:8]}"
        future = client.submit(run_point, entry["params"], str(out), task_hook=task_hook,
                               key=key, retries=retries, pure=False)
        futures.append(future)
        owner[future.key] = entry["id"]
    for future in as_completed(futures, loop=client.loop):
        entry = by_id[owner[future.key]]
        try:
            result = future.result()
        except Exception as exc:
            finish(entry, error=exc)
        else:
            finish(entry, result)
        future.release()

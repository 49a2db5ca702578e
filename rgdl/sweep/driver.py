"""The sweep driver: runs the points of a :class:`~rgdl.sweep.spec.SweepSpec` serially or as
Dask tasks, and keeps the index ``OUT/sweep.json`` up to date as they finish.

The guarantees (reproducible, resumable, fault tolerant, safe) are described in the package
docstring of :mod:`rgdl.sweep`; the tasks themselves are :func:`rgdl.sweep.task.run_point` and,
for the multi-spin grid groups of a ``multispin-grid`` sweep, :func:`rgdl.sweep.task.run_grid_task`.
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
from typing import (TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Literal,
                    Sequence, Union)

from ising.samplers import MonteCarloSampler
from rgdl import __version__
from rgdl.sweep.index import (check_out_dir, entry_is_done, file_lock, new_entry, utc_now,
                              write_json_atomic)
from rgdl.sweep.multispin import grid_groups
from rgdl.sweep.spec import (GRID_ENGINE, INDEX_FORMAT, INDEX_NAME, INDEX_VERSION, LOCK_NAME,
                             POINTS_DIR, SweepPoint, SweepSpec)
from rgdl.sweep.task import TaskHook, run_grid_task, run_point

if TYPE_CHECKING:
    from dask.distributed import Client, Future

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


#: ``progress(n_total, entry)`` of :func:`run_sweep` (``entry`` None at the start).
SweepProgress = Callable[[int, dict[str, Any] | None], object]
#: A unit of work of :func:`work_units`: ``(kind, payload, entries)``; the payload is a point's
#: parameters (kind ``"point"``) or a whole grid group (kind ``"grid"``).
WorkUnit = Union[tuple[Literal["point"], dict[str, Any], list[dict[str, Any]]],
                 tuple[Literal["grid"], list[dict[str, Any]], list[dict[str, Any]]]]


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, *,
                connect_timeout: float = 5.0) -> Iterator[Client]:
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
    index: dict[str, Any]


def run_sweep(spec: SweepSpec, out: str | os.PathLike[str], *, workers: int | None = None,
              scheduler: str | None = None, client: Client | None = None, retries: int = 2,
              connect_timeout: float = 5.0, progress: SweepProgress | None = None,
              task_hook: TaskHook | None = None) -> SweepResult:
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
        Passed to :func:`run_point` and :func:`run_grid_task` (tests inject faults with it).

    Notes
    -----
    With ``spec.engine == "multispin-grid"`` each grid group (:func:`work_units`) is one task:
    its points finish, or fail and are retried, together.

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
        units = work_units(spec, index["points"], todo)
        if serial:
            _run_serially(units, out, retries, task_hook, recorder)
        elif todo:
            assert client is not None  # connected above: not serial
            _run_on_dask(client, units, out, retries, task_hook, recorder)
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


def _check_run_arguments(spec: SweepSpec, workers: int | None, retries: int) -> int:
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


def _open_index(out: Path, spec: SweepSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
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

    def __init__(self, index_path: Path, index: dict[str, Any], n_todo: int,
                 progress: SweepProgress | None) -> None:
        self.index_path, self.index, self.n_todo = index_path, index, n_todo
        self.progress = progress
        self.adopted: list[str] = []
        self.last_write = time.monotonic()
        if progress is not None:
            progress(n_todo, None)

    def __call__(self, entry: dict[str, Any], result: dict[str, Any] | None = None,
                 error: BaseException | None = None) -> None:
        entry["attempts"] = int(entry.get("attempts") or 0) + 1
        if error is None:
            assert result is not None  # a point that did not fail has its result
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


def work_units(spec: SweepSpec, entries: Iterable[dict[str, Any]],
               todo: Iterable[dict[str, Any]]) -> list[WorkUnit]:
    """The tasks of a run: ``(kind, payload, entries)`` tuples in the order of ``todo``.

    ``kind`` is ``"point"`` (payload: the point's parameters, run by :func:`run_point`) or,
    with ``spec.engine == "multispin-grid"``, ``"grid"`` (payload: the whole grid group of
    :func:`rgdl.sweep.multispin.grid_groups` among *all* the sweep's points, run by
    :func:`run_grid_task` for its entries still to do). ``entries`` are the index entries a
    unit finishes.
    """
    if spec.engine != GRID_ENGINE:
        return [("point", entry["params"], [entry]) for entry in todo]
    groups, _ = grid_groups(entry["params"] for entry in entries)
    group_of = {SweepPoint(params=params).point_id: k
                for k, group in enumerate(groups) for params in group}
    units: list[WorkUnit] = []
    unit_of_group: dict[int, WorkUnit] = {}
    for entry in todo:
        k = group_of.get(entry["id"])
        if k is None:
            units.append(("point", entry["params"], [entry]))
        elif k in unit_of_group:
            unit_of_group[k][2].append(entry)
        else:
            unit_of_group[k] = ("grid", groups[k], [entry])
            units.append(unit_of_group[k])
    return units


def _run_unit(kind: str, payload: Any, entries: Sequence[dict[str, Any]], out: Path,
              task_hook: TaskHook | None) -> list[dict[str, Any]]:
    """Run one unit of :func:`work_units` in this process; one result per entry."""
    if kind == "point":
        return [run_point(payload, str(out), task_hook=task_hook)]
    return run_grid_task(payload, [e["id"] for e in entries], str(out), task_hook=task_hook)


def _finish_unit(entries: Iterable[dict[str, Any]],
                 results: list[dict[str, Any]] | dict[str, Any],
                 finish: _IndexRecorder) -> None:
    """Record a unit's results (a list for a grid unit, a dict for a point) in the index."""
    results = results if isinstance(results, list) else [results]
    by_id = {result["id"]: result for result in results}
    for entry in entries:
        finish(entry, by_id[entry["id"]])


def _run_serially(units: Iterable[WorkUnit], out: Path, retries: int,
                  task_hook: TaskHook | None, finish: _IndexRecorder) -> None:
    """Run the units one after the other in this process, each up to ``retries + 1`` times."""
    for kind, payload, entries in units:
        for attempt in range(retries + 1):
            try:
                results = _run_unit(kind, payload, entries, out, task_hook)
            except Exception as exc:  # recorded in the index, reported at the end
                if attempt == retries:
                    for entry in entries:
                        finish(entry, error=exc)
                else:
                    logger.warning("point %s failed (%s); retrying",
                                   ", ".join(e["id"] for e in entries), exc)
            else:
                _finish_unit(entries, results, finish)
                break


def _run_on_dask(client: Client, units: Iterable[WorkUnit], out: Path, retries: int,
                 task_hook: TaskHook | None, finish: _IndexRecorder) -> None:
    """Submit every unit as a Dask task and record its points as they complete."""
    from dask.distributed import as_completed  # optional dependency, as in dask_client

    futures: list[Future[Any]] = []
    owner: dict[Hashable, list[dict[str, Any]]] = {}  # by the future's key
    for kind, payload, entries in units:
        key = f"rgdl-{kind}-{entries[0]['id']}-{uuid.uuid4().hex[:8]}"
        future: Future[Any]
        if kind == "point":
            future = client.submit(run_point, payload, str(out), task_hook=task_hook,
                                   key=key, retries=retries, pure=False)
        else:
            future = client.submit(run_grid_task, payload, [e["id"] for e in entries], str(out),
                                   task_hook=task_hook, key=key, retries=retries, pure=False)
        futures.append(future)
        owner[future.key] = entries
    for future in as_completed(futures, loop=client.loop):
        entries = owner[future.key]
        try:
            results = future.result()
        except Exception as exc:
            for entry in entries:
                finish(entry, error=exc)
        else:
            _finish_unit(entries, results, finish)
        future.release()

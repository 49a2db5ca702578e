"""Parameter sweeps of Ising datasets (and optional RBM/DBN training) as Dask tasks.

A *sweep* is the Cartesian grid ``temperatures x sizes x seeds`` at fixed model and sampling
settings. Every grid point is an independent task that writes one HDF5 spin dataset (the schema
of docs/ARCHITECTURE.md) under ``OUT/points/``; the driver keeps an index ``OUT/sweep.json`` with
the parameters, status, summary observables and a SHA-256 content hash of every finished file.

Guarantees
----------
* **Reproducible.** The seed of a point is derived from the point's ``seed`` entry and a stable
  SHA-256 hash of its other parameters (``numpy.random.SeedSequence(entropy=seed,
  spawn_key=hash_words)``), never from Python's salted ``hash()`` nor from the order of
  execution. A point's spins are therefore the same bytes serially, on 2 workers or on a cluster
  (workers run numba with one thread, and the samplers give the same bytes at any thread count,
  docs/CONTRACTS.md).
* **Resumable and idempotent.** Rerunning the same sweep skips points whose file still has the
  hash recorded in the index, adopts files that were finished but not yet indexed (the driver was
  killed between the rename and the index update), and resumes partial files
  (``<file>.partial``, written by :func:`ising.dataset.generate_dataset`). Finished files are never
  rewritten: they are produced once, atomically (temporary file + rename).
* **Fault tolerant.** Tasks are submitted with ``retries``; a worker that dies mid-task is
  replaced by its nanny and the scheduler reruns the task, which resumes the partial file.
  A per-point file lock serialises the rare case of two processes working on the same point.
* **Safe.** An ``OUT`` directory holding a different sweep, or files that are not a sweep, is
  refused before anything is written; so is an unreachable scheduler.

Running on a cluster
--------------------
The same command runs on many machines. Start a scheduler on one node (``dask scheduler``; it
prints ``tcp://HOST:8786``) and workers on the others, one single-threaded worker per core with
numba limited to one thread::

    NUMBA_NUM_THREADS=1 dask worker tcp://HOST:8786 --nworkers 16 --nthreads 1

then pass ``--scheduler tcp://HOST:8786`` to ``rgdl sweep``. Every worker needs the same rgdl
installed, and ``--out`` must be on a file system that all workers and the driver share (NFS,
Lustre, ...): tasks write their point files there directly and the driver writes the index.
Job-queue clusters (SLURM, PBS) start the same scheduler/workers through ``dask-jobqueue``.

The seed-derivation scheme follows NumPy's recommended practice for parallel streams
(``SeedSequence`` spawn keys, NEP 19); Dask's scheduler semantics (``retries``,
``distributed.scheduler.allowed-failures``) are described in the ``distributed`` documentation.

Modules
-------
:mod:`rgdl.sweep.spec`
    The specification: grid parsing, sweep files, points, per-point seeds, directory layout.
:mod:`rgdl.sweep.index`
    ``sweep.json``: reading, validation, entries, content hashes, locks.
:mod:`rgdl.sweep.task`
    :func:`run_point`, the unit of work of a task, and :func:`~rgdl.sweep.task.run_grid_task`,
    that of a multi-spin grid group (``engine = "multispin-grid"``).
:mod:`rgdl.sweep.multispin`
    Grid groups of Metropolis points of one size on a multi-spin temperature grid.
:mod:`rgdl.sweep.driver`
    :func:`run_sweep` and :func:`dask_client`.
:mod:`rgdl.sweep.report`
    :func:`sweep_table` and the finite-size-scaling report of ``rgdl fss``.

This package re-exports their public names, so ``from rgdl import sweep as sw; sw.run_sweep``
works as before the split.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from rgdl.seeds import stable_hash
from rgdl.sweep.driver import (INDEX_WRITE_INTERVAL, WORKER_ENV, SweepError, SweepResult,
                               check_physics, dask_client, run_sweep)
from rgdl.sweep.index import (check_out_dir, entry_is_done, file_lock, file_sha256, new_entry,
                              read_index, utc_now, write_json_atomic)
from rgdl.sweep.report import (check_report_targets, report_targets, sweep_table,
                               write_fss_report)
from rgdl.sweep.spec import (INDEX_FORMAT, INDEX_NAME, INDEX_VERSION, LOCK_NAME, LOCKS_DIR,
                             POINTS_DIR, SUMMARY_FIELDS, SweepPoint, SweepSpec, TrainSpec,
                             load_spec_file, parse_values, point_seed, spec_from_command_line,
                             spec_from_options, train_seed)
from rgdl.sweep.task import run_point
from rgdl.training import load_training_data


def read_spins_for_training(path: str | os.PathLike[str], *,
                            units: str = "spin") -> NDArray[np.int8]:
    """A dataset's spins as the (n_samples, N) visible design matrix of an RBM: the first
    element of :func:`rgdl.training.load_training_data` (kept under this name)."""
    return load_training_data(path, units)[0]


__all__ = [
    "INDEX_FORMAT", "INDEX_NAME", "INDEX_VERSION", "INDEX_WRITE_INTERVAL", "LOCK_NAME",
    "LOCKS_DIR", "POINTS_DIR", "SUMMARY_FIELDS", "WORKER_ENV", "SweepError", "SweepPoint",
    "SweepResult", "SweepSpec", "TrainSpec", "check_out_dir", "check_physics",
    "check_report_targets", "dask_client", "entry_is_done", "file_lock", "file_sha256",
    "load_spec_file", "new_entry", "parse_values", "point_seed", "read_index",
    "read_spins_for_training", "report_targets", "run_point", "run_sweep",
    "spec_from_command_line", "spec_from_options",
    "stable_hash", "sweep_table", "train_seed", "utc_now", "write_fss_report",
    "write_json_atomic",
]

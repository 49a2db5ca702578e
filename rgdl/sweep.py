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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

INDEX_NAME = "sweep.json"
INDEX_FORMAT = "rgdl-sweep"
INDEX_VERSION = 1
POINTS_DIR = "points"
LOCK_NAME = ".sweep.lock"
LOCKS_DIR = ".locks"

#: Summary observables stored per point (fields of :class:`ising.observables.Summary`).
SUMMARY_FIELDS = ("energy", "abs_magnetization", "m2", "m4", "binder", "specific_heat",
                  "susceptibility")

_TEMPERATURE_DECIMALS = 10
#: Seconds between index rewrites while points finish (the index is also written at the end;
#: a finished point missing from the index is adopted, not recomputed, on the next run).
INDEX_WRITE_INTERVAL = 1.0
_RANGE_RE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


class SweepError(RuntimeError):
    """Some points of a sweep failed even after retries (the index records which and why)."""


def _strict_int(name: str, value, *, minimum: int | None = None, allow_none: bool = False):
    """An integer setting: the same rules as the command line (a bool or 2.5 is not an int)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > _MAX_SETTING:
        raise ValueError(f"{name} must be <= {_MAX_SETTING}, got {value}")
    return value


def _strict_float(name: str, value) -> float:
    """A real setting: a number that is not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


#: Upper bound of integer settings (counts, sweeps, seeds): inside int64 and exact in float64.
_MAX_SETTING = 1 << 53


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------
def parse_values(text: str | Sequence[Any] | float | int, *, kind: type = float,
                 name: str = "values") -> list:
    """Parse a list of grid values.

    Parameters
    ----------
    text : str or sequence or scalar
        ``"2.1,2.2,2.3"`` (a comma-separated list), ``"start:stop:n"`` (``n`` evenly spaced values
        from ``start`` to ``stop`` inclusive, like :func:`numpy.linspace`), a sequence of numbers,
        or a single number.
    kind : {float, int}
        Type of the values. For ``int`` a range must produce integers exactly.
    name : str
        Name used in error messages (``"--temperatures"``).

    Returns
    -------
    list
        The values, in the order given (duplicates removed).

    Raises
    ------
    ValueError
        Empty, malformed or non-finite input.
    """
    if isinstance(text, str):
        stripped = text.strip()
        if not stripped:
            raise ValueError(f"{name} is empty")
        match = _RANGE_RE.match(stripped)
        if match:
            try:
                start, stop = float(match.group(1)), float(match.group(2))
                count_f = float(match.group(3))
            except ValueError:
                raise ValueError(f"{name}: cannot parse range {text!r} (expected start:stop:n)") \
                    from None
            if not count_f.is_integer() or count_f < 1:
                raise ValueError(f"{name}: the number of values in {text!r} must be an "
                                 "integer >= 1")
            raw = list(np.linspace(start, stop, int(count_f)))
        else:
            raw = [item.strip() for item in stripped.split(",")]
            if any(item == "" for item in raw):
                raise ValueError(f"{name}: empty entry in {text!r}")
    elif isinstance(text, (int, float, np.integer, np.floating)):
        raw = [text]
    else:
        raw = list(text)
    if not raw:
        raise ValueError(f"{name} is empty")
    values: list = []
    for item in raw:
        if isinstance(item, bool):
            raise ValueError(f"{name}: {item!r} is not a number")
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {item!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{name}: {item!r} is not finite")
        if kind is int:
            if not value.is_integer():
                raise ValueError(f"{name}: {item!r} is not an integer")
            value = int(value)
        else:
            value = round(value, _TEMPERATURE_DECIMALS)
        if value not in values:
            values.append(value)
    return values


# --------------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """RBM (one layer) or DBN (several layers) trained on every point's dataset.

    Parameters
    ----------
    layers : tuple of int
        Hidden-layer sizes; one entry trains an :class:`rbm.RBM`, several a :class:`rbm.DBN`.
    epochs : int
        Contrastive-divergence epochs per layer.
    units : {"spin", "binary"}
        Unit type (docs/CONTRACTS.md).
    learning_rate, batch_size, cd_k, l1
        Training hyper-parameters passed to the estimator.
    """

    layers: tuple = (64,)
    epochs: int = 10
    units: str = "spin"
    learning_rate: float = 0.01
    batch_size: int = 50
    cd_k: int = 1
    l1: float = 0.0

    def __post_init__(self):
        if isinstance(self.layers, (str, bytes)) or not hasattr(self.layers, "__iter__"):
            raise ValueError(f"train: layers must be a list of sizes, got {self.layers!r}")
        layers = tuple(_strict_int("train: layers", n, minimum=1) for n in self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ValueError("train: layers must be a non-empty list of positive sizes")
        for name in ("epochs", "batch_size", "cd_k"):
            object.__setattr__(self, name, _strict_int(f"train: {name}", getattr(self, name),
                                                       minimum=1))
        if self.units not in ("spin", "binary"):
            raise ValueError(f"train: units must be 'spin' or 'binary', not {self.units!r}")
        for name in ("learning_rate", "l1"):
            object.__setattr__(self, name, _strict_float(f"train: {name}", getattr(self, name)))
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("train: learning_rate must be > 0")
        if not (math.isfinite(self.l1) and self.l1 >= 0):
            raise ValueError("train: l1 must be >= 0")

    def to_dict(self) -> dict:
        """JSON-ready dictionary (canonical, used in hashes)."""
        return {"layers": list(self.layers), "epochs": int(self.epochs), "units": self.units,
                "learning_rate": float(self.learning_rate), "batch_size": int(self.batch_size),
                "cd_k": int(self.cd_k), "l1": float(self.l1)}


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A sweep: the grid ``temperatures x sizes x seeds`` at fixed settings.

    Parameters
    ----------
    temperatures : sequence of float
        Temperatures T (> 0), in units of J/k_B (docs/CONTRACTS.md conventions). The grid
        axes are stored sorted and without duplicates.
    sizes : sequence of int
        Linear lattice sizes L (>= 2).
    seeds : sequence of int
        Seed entries (>= 0); each gives an independent replica of every (T, L).
    dimension : {1, 2}
    algorithm : str
        Monte Carlo algorithm, as accepted by :class:`ising.samplers.MonteCarloSampler`.
    coupling, field : float
        J and h.
    n_samples, n_chains : int
        Samples stored per point and independent chains that produce them.
    burn_in, thin : int or None
        In sweeps; ``None`` lets :func:`ising.dataset.generate_dataset` choose them from the measured
        integrated autocorrelation time.
    train : TrainSpec or None
        Optional RBM/DBN trained on each point's samples.
    """

    temperatures: tuple
    sizes: tuple
    seeds: tuple = (0,)
    dimension: int = 2
    algorithm: str = "metropolis"
    coupling: float = 1.0
    field: float = 0.0
    n_samples: int = 1000
    n_chains: int = 1
    burn_in: int | None = None
    thin: int | None = None
    train: TrainSpec | None = None

    def __post_init__(self):
        # sorted, so that the same grid given in another order is the same sweep
        temps = tuple(sorted(parse_values(list(self.temperatures), name="temperatures")))
        sizes = tuple(sorted(parse_values(list(self.sizes), kind=int, name="sizes")))
        seeds = tuple(sorted(parse_values(list(self.seeds), kind=int, name="seeds")))
        object.__setattr__(self, "temperatures", temps)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "seeds", seeds)
        if any(t <= 0 for t in temps):
            raise ValueError("temperatures must be > 0")
        if any(size < 2 for size in sizes):
            raise ValueError("sizes must be >= 2")
        if any(seed < 0 for seed in seeds):
            raise ValueError("seeds must be >= 0")
        if any(seed > _MAX_SETTING for seed in seeds) or any(size > _MAX_SETTING for size in sizes):
            raise ValueError(f"seeds and sizes must be <= {_MAX_SETTING}")
        # the rules of the command line: a bool is not an integer, 2.5 is not an integer
        if isinstance(self.dimension, bool) or self.dimension not in (1, 2):
            raise ValueError(f"dimension must be 1 or 2, not {self.dimension!r}")
        object.__setattr__(self, "dimension", int(self.dimension))
        if not isinstance(self.algorithm, str) or not self.algorithm:
            raise ValueError("algorithm must be a non-empty string")
        for name in ("coupling", "field"):
            value = _strict_float(name, getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite")
            object.__setattr__(self, name, value)
        for name in ("n_samples", "n_chains"):
            object.__setattr__(self, name, _strict_int(name, getattr(self, name), minimum=1))
        for name in ("burn_in", "thin"):
            object.__setattr__(self, name, _strict_int(name, getattr(self, name),
                                                       minimum=0 if name == "burn_in" else 1,
                                                       allow_none=True))
        if self.train is not None and not isinstance(self.train, TrainSpec):
            object.__setattr__(self, "train", TrainSpec(**dict(self.train)))

    # -- canonical forms --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready, canonical dictionary of the whole specification."""
        return {
            "temperatures": [float(t) for t in self.temperatures],
            "sizes": [int(s) for s in self.sizes],
            "seeds": [int(s) for s in self.seeds],
            "dimension": int(self.dimension),
            "algorithm": str(self.algorithm),
            "coupling": float(self.coupling),
            "field": float(self.field),
            "n_samples": int(self.n_samples),
            "n_chains": int(self.n_chains),
            "burn_in": None if self.burn_in is None else int(self.burn_in),
            "thin": None if self.thin is None else int(self.thin),
            "train": None if self.train is None else self.train.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "SweepSpec":
        """Inverse of :meth:`to_dict` (used to validate the ``spec`` of a sweep index)."""
        data = dict(data)
        train = data.pop("train", None)
        return cls(**data, train=None if train is None else TrainSpec(**train))

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the canonical specification; identifies the sweep in ``sweep.json``."""
        return stable_hash(self.to_dict())

    def points(self) -> list["SweepPoint"]:
        """All grid points, ordered by seed, size, temperature."""
        common = {k: v for k, v in self.to_dict().items()
                  if k not in ("temperatures", "sizes", "seeds")}
        return [SweepPoint(params={"temperature": t, "size": size, "seed": seed, **common})
                for seed in self.seeds for size in self.sizes for t in self.temperatures]


_SPEC_KEYS = {f.name for f in dataclasses.fields(SweepSpec)}
_FILE_ALIASES = {"samples": "n_samples", "chains": "n_chains", "burn-in": "burn_in"}


def load_spec_file(path: str | os.PathLike) -> dict:
    """Read a TOML (``.toml``) or JSON sweep file into keyword arguments of :class:`SweepSpec`.

    The keys are those of :class:`SweepSpec` (``samples``/``chains`` are accepted for
    ``n_samples``/``n_chains``), either at the top level or in a ``[sweep]`` table; grid entries
    may be lists or ``"start:stop:n"`` strings; an optional ``[train]`` table holds
    :class:`TrainSpec` fields. Example::

        [sweep]
        temperatures = "2.0:2.5:12"
        sizes = [8, 16, 32]
        algorithm = "wolff"
        samples = 2000

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, unknown extension, syntax error or unknown keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} does not exist")
    text = path.read_bytes()
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(text.decode("utf-8"))
        else:
            raise ValueError(f"sweep file {path} must end in .toml or .json")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot parse sweep file {path}: {exc}") from None
    except Exception as exc:  # tomllib.TOMLDecodeError
        if type(exc).__name__ == "TOMLDecodeError":
            raise ValueError(f"cannot parse sweep file {path}: {exc}") from None
        raise
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path} must hold a table/object")
    if "sweep" in data and isinstance(data["sweep"], dict):
        merged = dict(data["sweep"])
        if "train" in data:
            merged["train"] = data["train"]
        extra = set(data) - {"sweep", "train"}
        if extra:
            raise ValueError(f"sweep file {path}: unknown top-level keys {sorted(extra)}")
        data = merged
    out = {}
    for key, value in data.items():
        key = _FILE_ALIASES.get(key, key)
        if key not in _SPEC_KEYS:
            raise ValueError(f"sweep file {path}: unknown key {key!r}")
        out[key] = value
    for key, kind in (("temperatures", float), ("sizes", int), ("seeds", int)):
        if key in out:
            out[key] = parse_values(out[key], kind=kind, name=key)
    if out.get("train") is not None:
        if not isinstance(out["train"], dict):
            raise ValueError(f"sweep file {path}: train must be a table")
        try:
            out["train"] = TrainSpec(**out["train"])
        except TypeError as exc:
            raise ValueError(f"sweep file {path}: bad train table ({exc})") from None
    return out


# --------------------------------------------------------------------------------------------
# Points and seeds
# --------------------------------------------------------------------------------------------
def stable_hash(obj: Any) -> str:
    """SHA-256 hex digest of the canonical JSON form of ``obj`` (sorted keys, no spaces).

    Unlike Python's ``hash()`` this is the same in every process and on every machine.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One grid point: a dictionary of parameters (JSON-ready, canonical)."""

    params: dict

    @property
    def param_hash(self) -> str:
        """Stable hash of all parameters (including the seed entry)."""
        return stable_hash(self.params)

    @property
    def point_id(self) -> str:
        """Human-readable unique name, e.g. ``L0016_T2.269185_s0_1a2b3c4d``."""
        p = self.params
        return f"L{p['size']:04d}_T{p['temperature']:.6f}_s{p['seed']}_{self.param_hash[:8]}"

    @property
    def file(self) -> str:
        """Dataset path relative to the sweep directory."""
        return f"{POINTS_DIR}/{self.point_id}.h5"

    @property
    def model_file(self) -> str | None:
        """Model path relative to the sweep directory (training points only)."""
        return None if self.params.get("train") is None else f"{POINTS_DIR}/{self.point_id}.npz"

    @property
    def derived_seed(self) -> int:
        """The 63-bit seed handed to the sampler; see :func:`point_seed`."""
        return point_seed(self.params)


def point_seed(params: Mapping) -> int:
    """Seed of one point, from its ``seed`` entry and a stable hash of its other parameters.

    ``SeedSequence(entropy=params["seed"], spawn_key=<8 words of SHA-256(other params)>)``:
    distinct parameters give statistically independent streams (NumPy NEP 19), and the result
    depends on nothing else (not on scheduling order, worker count or Python's hash salt).

    Returns
    -------
    int
        A non-negative integer below 2**63.
    """
    others = {k: v for k, v in params.items() if k != "seed"}
    digest = hashlib.sha256(stable_hash(others).encode("ascii")).digest()
    words = tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(8))
    sequence = np.random.SeedSequence(entropy=int(params["seed"]), spawn_key=words)
    state = sequence.generate_state(2, dtype=np.uint32)
    return int((int(state[1]) << 32 | int(state[0])) >> 1)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Small file utilities
# --------------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`ising.atomic.atomic_write_text`)."""
    from ising.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n")


@contextlib.contextmanager
def _flock(path: Path, *, blocking: bool = True):
    """Exclusive advisory lock on ``path`` (released automatically if the process dies)."""
    import fcntl

    handle = open(path, "a+")
    try:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError:
            raise ValueError(f"another rgdl sweep is running in {path.parent}") from None
        except OSError as exc:  # e.g. ENOLCK on a network file system without locking
            logger.warning("cannot lock %s (%s); continuing without the lock", path, exc)
        yield
    finally:
        handle.close()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# The task (runs on a worker)
# --------------------------------------------------------------------------------------------
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
    from ising.dataset import summarize_dataset
    from ising.io import read_attributes, read_series

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


def train_seed(params: Mapping) -> int:
    """Seed of a point's RBM/DBN training: a stream separate from the sampler's
    (``SeedSequence(entropy=point_seed(params), spawn_key=(1,))``)."""
    sequence = np.random.SeedSequence(entropy=point_seed(params), spawn_key=(1,))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def read_spins_for_training(path: str | os.PathLike, *, units: str = "spin") -> np.ndarray:
    """A dataset's spins as a float64 (n_samples, N) design matrix: +-1 (``units="spin"``) or
    0/1 (``units="binary"``), the visible layer of docs/CONTRACTS.md."""
    from ising.io import read_dataset

    spins = read_dataset(path).spins
    visible = np.asarray(spins, dtype=np.float64).reshape(len(spins), -1)
    return (visible + 1.0) / 2.0 if units == "binary" else visible


def _train_point(data_path: Path, model_path: Path, params: Mapping) -> None:
    """Train the RBM (one layer) or DBN (several) of a training point; save it atomically.

    Training checkpoints every epoch next to the model (``<point>.ckpt*``) and resumes from
    them, bit-identically, when a killed task is retried (:meth:`rbm.RBM.fit`,
    :meth:`rbm.DBN.fit`); they are removed once the model is saved.
    """
    import rbm

    train = params["train"]
    visible = read_spins_for_training(data_path, units=train["units"])
    hyper = dict(learning_rate=train["learning_rate"], batch_size=train["batch_size"],
                 n_epochs=train["epochs"], cd_k=train["cd_k"], l1=train["l1"])
    meta = {"sweep_point": dict(params), "data_file": data_path.name}
    stem = model_path.name[:-len(".npz")] if model_path.name.endswith(".npz") else model_path.name
    checkpoint = model_path.with_name(stem + ".ckpt")
    if len(train["layers"]) == 1:
        model = rbm.RBM(n_hidden=train["layers"][0], units=train["units"],
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
    import socket

    from ising.dataset import generate_dataset

    start = time.perf_counter()
    point = SweepPoint(params=dict(params))
    out = Path(out_dir)
    path = out / point.file
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_dir = out / LOCKS_DIR
    lock_dir.mkdir(exist_ok=True)
    with _flock(lock_dir / f"{point.point_id}.lock"):
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
    try:
        import numba

        numba_threads = int(numba.get_num_threads())
    except Exception:  # pragma: no cover - numba is a hard dependency of ising
        numba_threads = None
    result.update(elapsed_s=time.perf_counter() - start, pid=os.getpid(),
                  host=socket.gethostname(), numba_threads=numba_threads)
    return result


# --------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------
def read_index(out: str | os.PathLike) -> dict:
    """Load and check ``OUT/sweep.json``.

    Raises
    ------
    FileNotFoundError
        No index in ``out``.
    ValueError
        The file is not an rgdl sweep index of a supported version.
    """
    path = Path(out) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{out} holds no sweep ({INDEX_NAME} missing)")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ValueError(f"{path} is not an rgdl sweep index")
    if index.get("version") != INDEX_VERSION:
        raise ValueError(f"{path} has index version {index.get('version')!r}; "
                         f"this rgdl reads version {INDEX_VERSION}")
    _check_index_schema(path, index)
    return index


def _check_index_schema(path: Path, index: Mapping) -> None:
    """Raise ValueError unless ``index`` has the fields :func:`sweep_table` and the driver use."""
    def bad(what):
        return ValueError(f"{path} is not a valid rgdl sweep index ({what})")

    spec = index.get("spec")
    if not isinstance(spec, dict):
        raise bad("no 'spec' object")
    try:
        SweepSpec.from_dict(spec)
    except (TypeError, ValueError) as exc:
        raise bad(f"spec: {exc}") from None
    points = index.get("points")
    if not isinstance(points, list):
        raise bad("no 'points' list")
    for i, entry in enumerate(points):
        if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict) \
                or not isinstance(entry.get("id"), str) or not isinstance(entry.get("file"), str):
            raise bad(f"point {i} lacks id, file or params")
        params = entry["params"]
        for key, kind in (("size", int), ("seed", int), ("temperature", float)):
            value = params.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (kind is int and not isinstance(value, int)):
                raise bad(f"point {entry['id']}: parameter {key!r} is {value!r}")
        summary = entry.get("summary")
        if summary is not None and not isinstance(summary, dict):
            raise bad(f"point {entry['id']}: summary is not an object")
        for name in SUMMARY_FIELDS:
            est = (summary or {}).get(name)
            if est is not None and not (isinstance(est, dict) and all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                    for v in (est.get("value"), est.get("error")))):
                raise bad(f"point {entry['id']}: summary {name!r} is malformed")


def _check_out(out: Path, spec: SweepSpec) -> dict | None:
    """Refuse an ``out`` that holds a different sweep or foreign files; return its index."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory")
    if not out.exists():
        return None
    if (out / INDEX_NAME).exists():
        index = read_index(out)
        if index.get("spec_hash") != spec.spec_hash:
            raise ValueError(f"{out} holds a different sweep (other parameters); "
                             "choose another --out or rerun with the original parameters")
        return index
    foreign = [p.name for p in out.iterdir() if p.name not in (LOCK_NAME, LOCKS_DIR)]
    if foreign:
        raise FileExistsError(f"{out} is not empty and holds no sweep index; choose another --out")
    return None


def check_physics(spec: SweepSpec) -> None:
    """Validate every (size, temperature) of ``spec`` with the sampler's own checks.

    Builds (and discards) one :class:`ising.samplers.MonteCarloSampler` per size and
    temperature, so unknown algorithms, odd L with a checkerboard algorithm, cluster
    algorithms with a field, ... are refused with the sampler's message before any task runs.
    """
    from ising.samplers import MonteCarloSampler

    for size in spec.sizes:
        for temperature in spec.temperatures:
            MonteCarloSampler(spec.dimension, size, temperature, coupling=spec.coupling,
                              field=spec.field, algorithm=spec.algorithm, n_chains=1, seed=0)


def _new_entry(point: SweepPoint) -> dict:
    return {"id": point.point_id, "params": point.params, "seed": point.derived_seed,
            "file": point.file, "model_file": point.model_file, "status": "pending",
            "sha256": None, "model_sha256": None, "summary": None, "error": None,
            "attempts": 0, "elapsed_s": None, "finished": None}


def _entry_is_done(out: Path, entry: Mapping) -> bool:
    """True if the index says done and the files still carry the recorded hashes."""
    if entry.get("status") != "done" or not entry.get("sha256"):
        return False
    path = out / entry["file"]
    if not path.is_file():
        logger.warning("%s is recorded as finished but is missing; recomputing", path)
        return False
    if file_sha256(path) != entry["sha256"]:
        aside = path.with_name(f"{path.name}.modified-{int(time.time())}")
        logger.warning("%s does not match its recorded hash; moved to %s and recomputing",
                       path, aside.name)
        os.replace(path, aside)
        return False
    if entry.get("model_file"):
        model = out / entry["model_file"]
        if not model.is_file() or file_sha256(model) != entry.get("model_sha256"):
            logger.warning("model %s missing or modified; retraining", model)
            if model.is_file():
                os.replace(model, model.with_name(f"{model.name}.modified-{int(time.time())}"))
            return False
    return True


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
    try:
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
    if not isinstance(spec, SweepSpec):
        raise TypeError("spec must be a SweepSpec")
    retries = int(retries)
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if workers is not None and int(workers) < 0:
        raise ValueError("--workers must be >= 0")
    out = Path(out).absolute()
    points = spec.points()
    if not points:
        raise ValueError("the sweep grid is empty")
    check_physics(spec)
    old_index = _check_out(out, spec)
    t0 = time.perf_counter()

    serial = client is None and scheduler is None and workers is not None and int(workers) == 0
    with contextlib.ExitStack() as stack:
        if not serial and client is None:
            # connect (or fail) before writing anything
            client = stack.enter_context(dask_client(workers, scheduler,
                                                     connect_timeout=connect_timeout))
        out.mkdir(parents=True, exist_ok=True)
        stack.enter_context(_flock(out / LOCK_NAME, blocking=False))
        old_index = _check_out(out, spec)  # recheck under the lock
        old_entries = {e["id"]: e for e in (old_index or {}).get("points", [])}
        entries = []
        for point in points:
            entry = old_entries.get(point.point_id) or _new_entry(point)
            entries.append(entry)
        index = {"format": INDEX_FORMAT, "version": INDEX_VERSION,
                 "spec_hash": spec.spec_hash, "spec": spec.to_dict(),
                 "created": (old_index or {}).get("created", _now()), "updated": _now(),
                 "rgdl_version": _rgdl_version(), "points": entries}
        index_path = out / INDEX_NAME
        todo = []
        for entry in entries:
            if _entry_is_done(out, entry):
                continue
            entry.update(status="pending", sha256=None, model_sha256=None, summary=None,
                         error=None)
            todo.append(entry)
        (out / POINTS_DIR).mkdir(exist_ok=True)
        _write_json_atomic(index_path, index)
        n_skipped = len(entries) - len(todo)
        logger.info("sweep %s: %d points, %d finished already, %d to run", out, len(entries),
                    n_skipped, len(todo))
        if progress is not None:
            progress(len(todo), None)

        last_write = time.monotonic()
        adopted: list = []

        def finish(entry, result=None, error=None):
            nonlocal last_write
            entry["attempts"] = int(entry.get("attempts") or 0) + 1
            if error is None:
                if result["adopted"]:
                    adopted.append(entry["id"])
                entry.update(status="done", sha256=result["sha256"],
                             model_sha256=result.get("model_sha256"), summary=result["summary"],
                             error=None, elapsed_s=round(result["elapsed_s"], 4),
                             finished=_now(), worker={"host": result["host"], "pid": result["pid"],
                                                      "numba_threads": result["numba_threads"]})
            else:
                entry.update(status="failed", error=_one_line(f"{type(error).__name__}: {error}"))
                logger.error("point %s failed: %s", entry["id"], entry["error"])
            index["updated"] = _now()
            if time.monotonic() - last_write >= INDEX_WRITE_INTERVAL or error is not None:
                _write_json_atomic(index_path, index)
                last_write = time.monotonic()
            if progress is not None:
                progress(len(todo), entry)

        by_id = {e["id"]: e for e in todo}
        if serial:
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
        elif todo:
            from dask.distributed import as_completed

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
        if todo:
            _write_json_atomic(index_path, index)
    n_adopted = len(adopted)
    n_failed = sum(1 for e in entries if e["status"] == "failed")
    result = SweepResult(out=out, n_points=len(entries), n_skipped=n_skipped,
                         n_computed=len(todo) - n_failed, n_adopted=n_adopted, n_failed=n_failed,
                         wall_s=time.perf_counter() - t0, index=index)
    if n_failed:
        first = next(e for e in entries if e["status"] == "failed")
        raise SweepError(f"{n_failed} of {len(entries)} points failed (first: {first['id']}: "
                         f"{first['error']}); rerun the same command to retry them")
    return result


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _rgdl_version() -> str:
    from rgdl import __version__

    return __version__


# --------------------------------------------------------------------------------------------
# Results as a table (for analysis.fss)
# --------------------------------------------------------------------------------------------
def sweep_table(out: str | os.PathLike, *, include_unfinished: bool = False) -> dict:
    """Finished points of a sweep as column arrays.

    Returns
    -------
    dict of numpy.ndarray
        ``size``, ``temperature``, ``seed`` and, for every summary observable ``name``,
        ``name`` (value) and ``name_error``; plus ``file`` (absolute paths). Rows are sorted by
        size, temperature, seed.
    """
    out = Path(out)
    index = read_index(out)
    rows = [e for e in index["points"]
            if include_unfinished or (e.get("status") == "done" and e.get("summary"))]
    dimension = index["spec"]["dimension"]
    rows.sort(key=lambda e: (e["params"]["size"], e["params"]["temperature"],
                             e["params"]["seed"]))
    table: dict = {
        "size": np.array([e["params"]["size"] for e in rows], dtype=np.int64),
        "temperature": np.array([e["params"]["temperature"] for e in rows], dtype=np.float64),
        "seed": np.array([e["params"]["seed"] for e in rows], dtype=np.int64),
        "file": np.array([str(out / e["file"]) for e in rows], dtype=object),
        "dimension": np.full(len(rows), dimension, dtype=np.int64),
    }
    for name in SUMMARY_FIELDS:
        values, errors = [], []
        for e in rows:
            est = (e.get("summary") or {}).get(name) or {}
            values.append(np.nan if est.get("value") is None else est["value"])
            errors.append(np.nan if est.get("error") is None else est["error"])
        table[name] = np.array(values, dtype=np.float64)
        table[f"{name}_error"] = np.array(errors, dtype=np.float64)
    return table


def spec_from_options(base: Mapping | None = None, **overrides) -> SweepSpec:
    """Build a :class:`SweepSpec` from a sweep-file dictionary and explicit overrides.

    ``None`` overrides are ignored, so CLI options that were not given keep the file's values.
    """
    merged = dict(base or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    missing = [k for k in ("temperatures", "sizes") if not merged.get(k)]
    if missing:
        raise ValueError("the sweep grid is empty: give --" + " and --".join(missing)
                         + " (or a sweep file)")
    unknown = set(merged) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"unknown sweep settings {sorted(unknown)}")
    return SweepSpec(**merged)

"""A sweep's specification: the grid ``temperatures x sizes x seeds`` and its fixed settings.

Parses grid values (``"2.1,2.2"``, ``"start:stop:n"``), TOML/JSON sweep files and command-line
overrides into a validated, canonical :class:`SweepSpec`; enumerates its :class:`SweepPoint`
objects, each with a stable id, file names and seeds (:mod:`rgdl.seeds`). Also the layout of a
sweep directory (file and folder names), which every other module of :mod:`rgdl.sweep` uses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Final, Literal, Mapping, Sequence, overload

import numpy as np

from rgdl.seeds import derive_seed, hash_key, stable_hash

#: Layout of a sweep directory: the index, the point files' folder, the driver's lock file and
#: the folder of the per-point locks.
INDEX_NAME = "sweep.json"
INDEX_FORMAT = "rgdl-sweep"
INDEX_VERSION = 1
POINTS_DIR = "points"
LOCK_NAME = ".sweep.lock"
LOCKS_DIR = ".locks"

#: Engines of a sweep (:attr:`SweepSpec.engine`): every point on its own (the default), or the
#: eligible Metropolis points of one size together on a multi-spin temperature grid
#: (:mod:`rgdl.sweep.multispin`).
SCALAR_ENGINE: Final = "scalar"
GRID_ENGINE: Final = "multispin-grid"
SWEEP_ENGINES = (SCALAR_ENGINE, GRID_ENGINE)

#: Summary observables stored per point (fields of :class:`ising.observables.Summary`).
SUMMARY_FIELDS = ("energy", "abs_magnetization", "m2", "m4", "binder", "specific_heat",
                  "susceptibility")

_TEMPERATURE_DECIMALS = 10
_RANGE_RE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


def _strict_int(name: str, value: object, *, minimum: int | None = None,
                allow_none: bool = False) -> int | None:
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


def _strict_float(name: str, value: object) -> float:
    """A real setting: a number that is not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


#: Upper bound of integer settings (counts, sweeps, seeds): inside int64 and exact in float64.
_MAX_SETTING = 1 << 53


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------
@overload
def parse_values(text: str | Sequence[Any] | float | int, *, kind: type[int],
                 name: str = ...) -> list[int]: ...


@overload
def parse_values(text: str | Sequence[Any] | float | int, *, kind: type[float] = ...,
                 name: str = ...) -> list[float]: ...


def parse_values(text: str | Sequence[Any] | float | int, *,
                 kind: type[int] | type[float] = float,
                 name: str = "values") -> list[int] | list[float]:
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
    values: list[Any] = []
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

    layers: tuple[int, ...] = (64,)
    epochs: int = 10
    units: Literal["spin", "binary"] = "spin"
    learning_rate: float = 0.01
    batch_size: int = 50
    cd_k: int = 1
    l1: float = 0.0

    def __post_init__(self) -> None:
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

    def to_dict(self) -> dict[str, Any]:
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
    engine : {"scalar", "multispin-grid"}
        ``"scalar"`` (default) computes every point on its own; ``"multispin-grid"`` computes
        the eligible points (:func:`rgdl.sweep.multispin.grid_eligible`) that differ only in
        their temperature in one multi-spin run per size and seed entry, with the seeds of
        :mod:`rgdl.sweep.multispin`; the other points run as with ``"scalar"``. The engine is
        part of the sweep's identity (:attr:`spec_hash`) but not of its points' parameters
        (ids, file names and :func:`point_seed` are those of the scalar sweep).
    """

    temperatures: tuple[float, ...]
    sizes: tuple[int, ...]
    seeds: tuple[int, ...] = (0,)
    dimension: Literal[1, 2] = 2
    algorithm: str = "metropolis"
    coupling: float = 1.0
    field: float = 0.0
    n_samples: int = 1000
    n_chains: int = 1
    burn_in: int | None = None
    thin: int | None = None
    train: TrainSpec | None = None
    engine: Literal["scalar", "multispin-grid"] = SCALAR_ENGINE

    def __post_init__(self) -> None:
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
        if self.engine not in SWEEP_ENGINES:
            raise ValueError(f"engine must be one of {', '.join(SWEEP_ENGINES)}, "
                             f"not {self.engine!r}")

    # -- canonical forms --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, canonical dictionary of the whole specification.

        ``engine`` appears only when it is not the default, so a scalar sweep keeps the
        dictionary (and :attr:`spec_hash`) it had before engines existed.
        """
        out: dict[str, Any] = {
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
        if self.engine != SCALAR_ENGINE:
            out["engine"] = self.engine
        return out

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the canonical specification; identifies the sweep in ``sweep.json``."""
        return stable_hash(self.to_dict())

    def points(self) -> list["SweepPoint"]:
        """All grid points, ordered by seed, size, temperature."""
        common = {k: v for k, v in self.to_dict().items()
                  if k not in ("temperatures", "sizes", "seeds", "engine")}
        return [SweepPoint(params={"temperature": t, "size": size, "seed": seed, **common})
                for seed in self.seeds for size in self.sizes for t in self.temperatures]


_SPEC_KEYS = {f.name for f in dataclasses.fields(SweepSpec)}
_FILE_ALIASES = {"samples": "n_samples", "chains": "n_chains", "burn-in": "burn_in"}


def load_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
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
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # Python 3.10: tomllib's backport (the dependency tomli)
                import tomli as tomllib

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
    out: dict[str, Any] = {}
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
@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One grid point: a dictionary of parameters (JSON-ready, canonical)."""

    params: dict[str, Any]

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


def point_seed(params: Mapping[str, Any]) -> int:
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
    return derive_seed(int(params["seed"]), hash_key(others))


def train_seed(params: Mapping[str, Any]) -> int:
    """Seed of a point's RBM/DBN training: a stream separate from the sampler's
    (``SeedSequence(entropy=point_seed(params), spawn_key=(1,))``,
    :func:`rgdl.seeds.derive_seed`)."""
    return derive_seed(point_seed(params), (1,))


def spec_from_options(base: Mapping[str, Any] | None = None, **overrides: Any) -> SweepSpec:
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


def spec_from_command_line(config: str | os.PathLike[str] | None = None, *,
                           temperatures: str | None = None, sizes: str | None = None,
                           seeds: str | None = None, train_layers: str | None = None,
                           epochs: int | None = None, **settings: Any) -> SweepSpec:
    """The :class:`SweepSpec` of ``rgdl sweep``: a sweep file overridden by the options given.

    Parameters
    ----------
    config : path, optional
        TOML or JSON sweep file (:func:`load_spec_file`).
    temperatures, sizes, seeds : str, optional
        Grid values as typed (:func:`parse_values`); ``None`` keeps the file's.
    train_layers : str, optional
        Hidden-layer sizes (``"64"`` or ``"400,100,25"``) of the RBM/DBN trained on every point;
        the file's ``[train]`` table supplies the other training settings.
    epochs : int, optional
        Training epochs per layer (needs ``train_layers``).
    **settings
        Other :class:`SweepSpec` fields; ``None`` keeps the file's value.
    """
    base = load_spec_file(config) if config is not None else {}
    train = None
    if train_layers is not None or epochs is not None:
        if train_layers is None:
            raise ValueError("--epochs needs --train")
        train_kwargs = dict(base["train"].to_dict()) if base.get("train") else {}
        train_kwargs["layers"] = parse_values(train_layers, kind=int, name="--train")
        if epochs is not None:
            train_kwargs["epochs"] = epochs
        train = TrainSpec(**train_kwargs)
    grid = {name: None if text is None else parse_values(text, kind=kind, name=f"--{name}")
            for name, text, kind in (("temperatures", temperatures, float),
                                     ("sizes", sizes, int), ("seeds", seeds, int))}
    return spec_from_options(base, train=train, **grid, **settings)

"""The RBM flow of Iso, Shiba & Yokoo (PRE 97, 053304 (2018)) with their protocol.

Protocol (their setting: periodic ``L = 10`` lattice, 100 visible units):

1. **Training data**: Monte Carlo configurations of the 2D Ising model (J = 1, h = 0) on a grid
   of temperatures from low to high (default ``T = 0.25, 0.50, ..., 6.00``: 24 temperatures,
   the same number of configurations at each), drawn with :func:`ising.sample` (Wolff by
   default) from fixed seeds; Metropolis data run the whole grid in the lanes of multi-spin
   words (:func:`ising.sample_temperature_grid`).
2. **One RBM** trained on all of it by CD-k (:class:`rbm.RBM`), with {0, 1} units as Iso et al.
   used (``units="binary"``; spins enter as ``(s + 1) / 2``), for each number of hidden units.
3. **The flow**: from independent Monte Carlo configurations at a start temperature ``T0``,
   iterate ``v -> h -> v'`` with the RBM's conditionals. ``mode="sample"`` draws
   ``h ~ p(h|v)`` and ``v' ~ p(v'|h)`` (configurations stay spin configurations, which is what
   the thermometer is calibrated on; this is block Gibbs sampling, the "iterative sampling" of
   Funai & Giataganas 2020); ``mode="mean"`` propagates the conditional means
   ``E[h|v]``, ``E[v'|h]`` (a deterministic, mean-field map; real-valued configurations).
4. **Effective temperature** of the configurations after every step, read by an independent
   thermometer trained and calibrated on labelled Monte Carlo samples
   (:class:`analysis.thermometer.Thermometer`), with bootstrap errors.
5. **Fixed point** ``T*`` (:func:`fixed_point`): the mean over starts of each flow's
   ``T_eff`` over its last steps.

Because the sampled flow is block Gibbs sampling, every start ends at the model's own
marginal ``p(v)``; ``T*`` is the thermometer's reading of that distribution (a model trained on
a *mixture* of temperatures), which is what Iso et al. found near ``T_c``. The single-
temperature flow of :mod:`analysis.rbm_flow` (one RBM trained at the data's temperature,
energy-matched ``T_eff``) is a different experiment, kept as a contrast.

References
----------
S. Iso, S. Shiba and S. Yokoo, Phys. Rev. E 97, 053304 (2018).
S. Funai and D. Giataganas, Phys. Rev. Research 2, 033415 (2020).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

import ising
from analysis.thermometer import Thermometer
from ising.exact import critical_temperature
from rbm import RBM, load_layers, save_model

__all__ = [
    "ISO_SIZE", "ISO_TEMPERATURES", "FLOW_MODES", "temperature_grid", "mc_configurations",
    "train_flow_rbm", "flow_configurations", "flow_temperatures", "fixed_point",
    "model_checkpoint_name", "fit_or_load_rbm", "run_protocol", "protocol_settings",
    "protocol_data", "calibrated_thermometer", "evaluate_flows", "hidden_unit_models",
    "single_temperature_contrast", "caption_samples", "MODEL_KEYS", "GRID_STREAM", "Progress",
]

#: Iso et al.'s lattice side (100 visible units).
ISO_SIZE = 10
#: The default training grid T = 0.25, 0.50, ..., 6.00.
ISO_TEMPERATURES = tuple(round(0.25 * k, 2) for k in range(1, 25))
#: Flow modes (see the module docstring).
FLOW_MODES = ("sample", "mean")

#: ``progress(stage, done, total)`` of :func:`run_protocol`.
Progress = Callable[[str, int, int], object]

# purposes of the Monte Carlo streams (distinct seeds for independent data sets)
_PURPOSES = {"train": 0, "thermometer": 1, "flow": 2, "validation": 3}


def temperature_grid(t_min: float, t_max: float, step: float) -> NDArray[np.float64]:
    """Temperatures ``t_min, t_min + step, ..., t_max`` (inclusive, rounded to 1e-9)."""
    t_min, t_max, step = float(t_min), float(t_max), float(step)
    if not (np.isfinite(t_min) and np.isfinite(t_max) and np.isfinite(step)):
        raise ValueError("temperature grid bounds and step must be finite")
    if t_min <= 0 or t_max <= t_min or step <= 0:
        raise ValueError(f"need 0 < t_min < t_max and step > 0, got {t_min}, {t_max}, {step}")
    n = int(np.floor((t_max - t_min) / step + 1e-9)) + 1
    return np.round(t_min + step * np.arange(n), 9)


def _stream_seed(seed: int, purpose: str, index: int) -> int:
    """An int seed for :func:`ising.sample`, distinct per (seed, purpose, index)."""
    ss = np.random.SeedSequence([int(seed), _PURPOSES[purpose], int(index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


#: Stream index of a whole-grid Metropolis run (beyond any temperature index).
GRID_STREAM = 1 << 31


def mc_configurations(size: int, temperatures: Sequence[float] | NDArray[np.floating],
                      n_samples: int, *, seed: int, purpose: str = "train",
                      algorithm: str = "wolff", n_chains: int = 4,
                      progress: Callable[[int], object] | None = None) -> NDArray[np.int8]:
    """Decorrelated 2D Ising configurations at each temperature (J = 1, h = 0, periodic).

    Parameters
    ----------
    size : int
        Lattice side L.
    temperatures : sequence of float
    n_samples : int
        Configurations per temperature.
    seed : int
        Root seed; each (purpose, temperature index) gets its own stream.
    purpose : {"train", "thermometer", "flow", "validation"}
        Selects independent data sets from the same root seed.
    algorithm : str
        :data:`ising.ALGORITHMS`; burn-in and thinning are calibrated per temperature
        (:func:`ising.calibrate`). ``"metropolis"`` on an even ``size >= 4`` runs the whole grid
        in one multi-spin run (:func:`ising.sample_temperature_grid`: ``n_chains`` lanes per
        temperature, each temperature calibrated on its own lanes; the same lazy Metropolis
        chain as :func:`ising.sample`, other random numbers), seeded by the stream
        (purpose, :data:`GRID_STREAM`); other algorithms and sizes call :func:`ising.sample`
        once per temperature.
    n_chains : int
    progress : callable, optional
        ``progress(k)`` after each temperature.

    Returns
    -------
    ndarray int8 (n_T, n_samples, L, L)
    """
    if purpose not in _PURPOSES:
        raise ValueError(f"purpose must be one of {tuple(_PURPOSES)}, got {purpose!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    temps = [float(t) for t in temperatures]
    out = np.empty((len(temps), int(n_samples), int(size), int(size)), dtype=np.int8)
    if algorithm == "metropolis" and int(size) >= 4 and int(size) % 2 == 0 and temps:
        grid = ising.sample_temperature_grid(int(size), temps, n_samples=int(n_samples),
                                             n_chains=n_chains,
                                             seed=_stream_seed(seed, purpose, GRID_STREAM))
        for k, res in enumerate(grid):
            out[k] = res.spins
            if progress is not None:
                progress(k)
        return out
    for k, t in enumerate(temps):
        res = ising.sample(2, size, t, algorithm=algorithm, n_samples=int(n_samples),
                           n_chains=n_chains, seed=_stream_seed(seed, purpose, k))
        out[k] = res.spins
        if progress is not None:
            progress(k)
    return out


def _to_units(spins: NDArray[Any], units: str) -> NDArray[np.int8]:
    s = np.asarray(spins).reshape(len(spins), -1)
    if units == "binary":
        return ((s.astype(np.int16) + 1) // 2).astype(np.int8)
    return s.astype(np.int8)


def train_flow_rbm(spins: npt.ArrayLike, n_hidden: int, *, units: str = "binary",
                   n_epochs: int = 50, learning_rate: float = 0.01, batch_size: int = 100,
                   cd_k: int = 1, seed: int = 0,
                   callback: Callable[[dict[str, Any]], object] | None = None) -> RBM:
    """Train one RBM on configurations pooled from all temperatures (Iso et al.'s protocol).

    Parameters
    ----------
    spins : ndarray (..., L, L) in {-1, +1}
        All training configurations (e.g. ``(n_T, n, L, L)``; pooled).
    n_hidden : int
    units : {"binary", "spin"}
        Iso et al. used {0, 1} units (``"binary"``; spins are mapped to ``(s + 1) / 2``).
    n_epochs, learning_rate, batch_size, cd_k, seed
        :class:`rbm.RBM` hyperparameters (momentum 0.5 -> 0.9 after epoch 5, no weight decay).
    callback : callable, optional
        Passed to :meth:`rbm.RBM.fit` (per-epoch progress).

    Returns
    -------
    rbm.RBM
    """
    s = np.asarray(spins)
    if s.ndim < 3 or s.shape[-1] != s.shape[-2]:
        raise ValueError(f"spins must have shape (..., L, L), got {s.shape}")
    flat = s.reshape(-1, s.shape[-2], s.shape[-1])
    model = RBM(n_components=n_hidden, units=units, n_iter=n_epochs, learning_rate=learning_rate,
                batch_size=batch_size, cd_k=cd_k, random_state=seed, monitor_size=0)
    model.fit(_to_units(flat, units), callback=callback)
    return model


def flow_configurations(model: RBM, spins: npt.ArrayLike, n_steps: int, *, mode: str = "sample",
                        seed: int = 0) -> NDArray[np.float64]:
    """Iterate the RBM map from Monte Carlo configurations.

    Parameters
    ----------
    model : rbm.RBM
        Fitted, with ``n_features_in_ == L * L``.
    spins : ndarray (n, L, L) in {-1, +1}
        Starting configurations.
    n_steps : int
        Number of steps ``v -> h -> v'`` (>= 0).
    mode : {"sample", "mean"}
        Sampled conditionals (block Gibbs) or conditional means (see the module docstring).
    seed : int, default 0
        Seed of the sampled conditionals (unused for ``"mean"``).

    Returns
    -------
    ndarray float64 (n_steps + 1, n, L, L)
        Configurations in spin language (``2 v - 1`` for binary units): in {-1, +1} for
        ``"sample"``, in [-1, 1] for ``"mean"``; index 0 is the input.
    """
    if mode not in FLOW_MODES:
        raise ValueError(f"mode must be one of {FLOW_MODES}, got {mode!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    s = np.asarray(spins)
    if s.ndim != 3 or s.shape[1] * s.shape[2] != model.n_features_in_:
        raise ValueError(f"spins must have shape (n, L, L) with L*L = {model.n_features_in_}, "
                         f"got {s.shape}")
    binary = model.units == "binary"
    rng = np.random.default_rng(seed)
    v: NDArray[np.floating] = _to_units(s, model.units).astype(np.float64)
    out = np.empty((int(n_steps) + 1,) + s.shape, dtype=np.float64)
    out[0] = s
    for step in range(1, int(n_steps) + 1):
        if mode == "sample":
            h = model.sample_hidden(v, seed=rng)
            v = model.sample_visible(h, seed=rng)
        else:
            v = model.mean_visible(model.mean_hidden(v))
        v = np.asarray(v, dtype=np.float64)
        out[step] = (2.0 * v - 1.0 if binary else v).reshape(s.shape)
    return out


def flow_temperatures(thermometer: Thermometer, flow: NDArray[np.float64], *, n_boot: int = 200,
                      seed: int = 0
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Thermometer readings of every step of a flow.

    Parameters
    ----------
    thermometer : analysis.thermometer.Thermometer
        Fitted.
    flow : ndarray (n_steps + 1, n, L, L)
        Output of :func:`flow_configurations`.

    Returns
    -------
    T, T_err : ndarray (n_steps + 1,)
    in_range : ndarray of bool (n_steps + 1,)
    """
    readings = [thermometer.measure(step, n_boot=n_boot, seed=seed + i)
                for i, step in enumerate(flow)]
    return (np.array([r.value for r in readings]), np.array([r.error for r in readings]),
            np.array([r.in_range for r in readings]))


def fixed_point(effective_temperatures: npt.ArrayLike, errors: npt.ArrayLike, *,
                last: int = 5) -> dict[str, Any]:
    """Common fixed point of flows started at several temperatures.

    Parameters
    ----------
    effective_temperatures, errors : ndarray (n_starts, n_steps + 1)
        ``T_eff`` and its standard error per start and step.
    last : int, default 5
        Final steps averaged per flow.

    Returns
    -------
    dict
        ``value``: mean over starts of each flow's final ``T_eff`` (mean of its last ``last``
        steps); ``spread``: standard deviation over starts of those finals (how far the flows
        are from a *common* point); ``statistical``: RMS over starts of the final steps'
        bootstrap errors; ``error = sqrt(spread**2 + statistical**2)`` (conservative: the
        single-flow uncertainty, not that of the mean); ``finals``: per-start final values.
    """
    t = np.asarray(effective_temperatures, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if t.ndim != 2 or t.shape != e.shape or t.shape[1] < 1 or t.shape[0] < 1:
        raise ValueError(f"effective_temperatures and errors must be (n_starts, n_steps+1), "
                         f"got {t.shape} and {e.shape}")
    last = max(1, min(int(last), t.shape[1]))
    finals = t[:, -last:].mean(axis=1)
    stat = float(np.sqrt(np.mean(e[:, -last:] ** 2)))
    spread = float(finals.std(ddof=1)) if finals.size > 1 else 0.0
    return {"value": float(finals.mean()), "error": float(np.hypot(spread, stat)),
            "spread": spread, "statistical": stat, "finals": finals.tolist(), "last": last}


def model_checkpoint_name(settings: Mapping[str, Any]) -> str:
    """File name ``rbm-<hash>.npz`` identifying an RBM by its training settings (a dict)."""
    text = json.dumps(settings, sort_keys=True, default=float)
    return "rbm-" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".npz"


def fit_or_load_rbm(spins: npt.ArrayLike, settings: Mapping[str, Any],
                    directory: str | os.PathLike[str] | None = None, *,
                    callback: Callable[[dict[str, Any]], object] | None = None
                    ) -> tuple[RBM, bool]:
    """Train the RBM described by ``settings``, or load it from ``directory`` if saved before.

    Parameters
    ----------
    spins : ndarray
        Training configurations (see :func:`train_flow_rbm`).
    settings : dict
        ``n_hidden``, ``units``, ``n_epochs``, ``learning_rate``, ``batch_size``, ``cd_k``,
        ``seed`` and any data description (size, temperatures, samples, data seed): everything
        that determines the model. It names the checkpoint and is stored in it.
    directory : str or os.PathLike, optional
        Where checkpoints live (``<directory>/rbm-<hash>.npz``, written atomically).

    Returns
    -------
    model : rbm.RBM
    reused : bool
    """
    path = None
    if directory is not None:
        path = os.path.join(os.fspath(directory), model_checkpoint_name(settings))
        if os.path.exists(path):
            layers, record = load_layers(path)
            model = layers[0]
            stored = record.get("iso_flow_settings")
            if json.loads(json.dumps(settings, default=float)) != stored:
                raise ValueError(f"checkpoint {path} was written with other settings; remove it")
            return model, True
    model = train_flow_rbm(spins, settings["n_hidden"], units=settings["units"],
                           n_epochs=settings["n_epochs"], learning_rate=settings["learning_rate"],
                           batch_size=settings["batch_size"], cd_k=settings["cd_k"],
                           seed=settings["seed"], callback=callback)
    if path is not None:
        save_model(path, model, {"iso_flow_settings": json.loads(json.dumps(settings,
                                                                            default=float))})
    return model, False


def run_protocol(*, size: int = ISO_SIZE, temperatures: Sequence[float] | NDArray[np.floating] =
                 ISO_TEMPERATURES, n_samples: int = 1000, hidden_units: Sequence[int] = (64,),
                 units: str = "binary", n_epochs: int = 50, learning_rate: float = 0.01,
                 batch_size: int = 100, cd_k: int = 1, n_steps: int = 100,
                 start_temperatures: Sequence[float] = (0.5, 1.5, 3.5, 6.0), n_flow: int = 500,
                 thermometer_samples: int | None = None,
                 validation_temperatures: Sequence[float] = (1.6, 2.269, 2.9, 4.1),
                 mode: str = "sample", last: int | None = None, n_boot: int = 100, seed: int = 0,
                 algorithm: str = "wolff", single_temperature: float | None = None,
                 model_dir: str | os.PathLike[str] | None = None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Run Iso et al.'s protocol end to end and return a JSON-ready dict.

    Parameters
    ----------
    size, temperatures, n_samples, algorithm
        Training data: ``n_samples`` Monte Carlo configurations of the ``size x size`` lattice
        at every temperature of ``temperatures``.
    hidden_units : sequence of int
        One RBM per entry, all trained on the same data (the hidden-unit table).
    units, n_epochs, learning_rate, batch_size, cd_k
        RBM training (:func:`train_flow_rbm`).
    n_steps, start_temperatures, n_flow, mode
        Flows of ``n_steps`` steps from ``n_flow`` independent Monte Carlo configurations at
        every start temperature (:func:`flow_configurations`).
    thermometer_samples : int, optional
        Labelled Monte Carlo configurations per training temperature for the thermometer
        (independent of the RBM's training data; default ``n_samples``).
    validation_temperatures : sequence of float
        Independent Monte Carlo ensembles (``n_flow`` configurations each) at known
        temperatures read by the thermometer: its accuracy, reported in ``"thermometer"``.
    last : int, optional
        Final steps averaged per flow for the fixed point (default ``max(5, n_steps // 10)``).
    n_boot : int
        Bootstrap resamples per reading.
    seed : int
        Root seed of every Monte Carlo stream, RBM and flow (same seed, same numbers).
    model_dir : str or os.PathLike, optional
        Checkpoint directory: trained RBMs are saved there and reused by a later call with the
        same settings (:func:`fit_or_load_rbm`).
    single_temperature : float, optional
        Also train the contrast: one RBM (``hidden_units[0]`` hidden units) on as many
        configurations as the pooled set, all at this one temperature (the setting of
        :mod:`analysis.rbm_flow` and ``rgdl reproduce``), and flow it the same way.
    progress : callable, optional
        ``progress(stage, done, total)`` with ``stage`` in ``"data"``, ``"train"``, ``"flow"``,
        ``"contrast"``.

    Returns
    -------
    dict
        ``settings``; ``thermometer`` (calibration curve, validation rows and
        ``training_mixture``: the reading of the pooled training configurations, i.e. where
        the stationary distribution of a *perfect* model of the data would read); ``models``, one
        per hidden-unit count with ``n_hidden``, ``reused``, ``train_seconds``, ``flows``
        (per start: ``T0``, ``T_eff``, ``T_eff_err``, ``in_range`` per step) and
        ``fixed_point`` (:func:`fixed_point`, plus ``clipped_final_readings``: the number of
        flows whose last reading lay outside the thermometer's calibrated range, i.e. is a
        bound); ``single_temperature`` (the contrast, same keys, or None);
        ``critical_temperature``; ``seconds``.
    """
    t_start = time.perf_counter()
    settings = protocol_settings(
        size=size, temperatures=temperatures, n_samples=n_samples, hidden_units=hidden_units,
        units=units, n_epochs=n_epochs, learning_rate=learning_rate, batch_size=batch_size,
        cd_k=cd_k, n_steps=n_steps, start_temperatures=start_temperatures, n_flow=n_flow,
        thermometer_samples=thermometer_samples,
        validation_temperatures=validation_temperatures, mode=mode, last=last, n_boot=n_boot,
        seed=seed, algorithm=algorithm)
    if single_temperature is not None and not (np.isfinite(single_temperature)
                                               and single_temperature > 0):
        raise ValueError(f"single_temperature must be positive and finite, "
                         f"got {single_temperature}")
    if model_dir is not None and not os.path.isdir(os.fspath(model_dir)):
        raise FileNotFoundError(f"checkpoint directory {os.fspath(model_dir)!r} does not exist")
    report: Progress = progress or (lambda *_: None)
    data = protocol_data(settings, report)
    thermometer, readings = calibrated_thermometer(settings, data)
    models = hidden_unit_models(settings, data, thermometer, model_dir, report)
    contrast = None
    if single_temperature is not None:
        contrast = single_temperature_contrast(settings, float(single_temperature), thermometer,
                                               data, model_dir, report)
    return {
        "settings": settings,
        "critical_temperature": float(critical_temperature()),
        "thermometer": readings,
        "models": models,
        "single_temperature": contrast,
        "seconds": time.perf_counter() - t_start,
    }


def protocol_settings(*, size: int, temperatures: Sequence[float] | NDArray[np.floating],
                      n_samples: int, hidden_units: Sequence[int], units: str, n_epochs: int,
                      learning_rate: float, batch_size: int, cd_k: int, n_steps: int,
                      start_temperatures: Sequence[float], n_flow: int,
                      thermometer_samples: int | None, validation_temperatures: Sequence[float],
                      mode: str, last: int | None, n_boot: int, seed: int,
                      algorithm: str) -> dict[str, Any]:
    """Check the arguments of :func:`run_protocol` and return its ``settings`` dict.

    Raises
    ------
    ValueError
        An argument out of range (one message naming it).
    """
    temps = np.asarray([float(t) for t in temperatures])
    starts = [float(t) for t in start_temperatures]
    checks = [float(t) for t in validation_temperatures]
    hidden = [int(h) for h in hidden_units]
    if isinstance(size, bool) or int(size) != size or size < 4:
        raise ValueError(f"size must be an integer >= 4, got {size!r}")
    if temps.size < 3 or np.any(~np.isfinite(temps)) or np.any(temps <= 0) \
            or np.unique(temps).size != temps.size:
        raise ValueError("temperatures must be >= 3 distinct positive finite values")
    for name, values in (("start temperatures", starts), ("validation temperatures", checks)):
        if any(not np.isfinite(t) or t <= 0 for t in values):
            raise ValueError(f"{name} must be positive and finite")
    if not starts:
        raise ValueError("at least one start temperature is required")
    if not hidden or min(hidden) < 1:
        raise ValueError("hidden units must be positive integers")
    for name, value, low in (("n_samples", n_samples, 20), ("n_flow", n_flow, 10),
                             ("n_epochs", n_epochs, 1), ("n_steps", n_steps, 1),
                             ("n_boot", n_boot, 10), ("batch_size", batch_size, 1),
                             ("cd_k", cd_k, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate}")
    if mode not in FLOW_MODES:
        raise ValueError(f"mode must be one of {FLOW_MODES}, got {mode!r}")
    if units not in ("binary", "spin"):
        raise ValueError(f"units must be 'binary' or 'spin', got {units!r}")
    n_therm = int(n_samples if thermometer_samples is None else thermometer_samples)
    if n_therm < 20:
        raise ValueError(f"thermometer_samples must be >= 20, got {n_therm}")
    last = max(5, int(n_steps) // 10) if last is None else int(last)
    return {
        "size": int(size), "temperatures": temps.tolist(), "n_samples": int(n_samples),
        "algorithm": algorithm, "units": units, "n_epochs": int(n_epochs),
        "learning_rate": float(learning_rate), "batch_size": int(batch_size), "cd_k": int(cd_k),
        "seed": int(seed), "hidden_units": hidden, "n_steps": int(n_steps),
        "start_temperatures": starts, "n_flow": int(n_flow), "mode": mode, "last": last,
        "thermometer_samples": n_therm, "validation_temperatures": checks, "n_boot": int(n_boot),
    }


def protocol_data(settings: Mapping[str, Any], report: Progress) -> dict[str, Any]:
    """The protocol's four Monte Carlo data sets (:func:`mc_configurations`, one purpose each).

    Returns
    -------
    dict
        ``train`` (n_T, n_samples, L, L), ``thermometer`` (n_T, thermometer_samples, L, L),
        ``flow`` (n_starts, n_flow, L, L), ``validation`` (list of (n_flow, L, L)).
    """
    s = settings
    temps, starts, checks = s["temperatures"], s["start_temperatures"], s["validation_temperatures"]
    n_data = 2 * len(temps) + len(starts) + len(checks)
    done = [0]

    def tick(_k: int) -> None:
        done[0] += 1
        report("data", done[0], n_data)

    seed, algorithm, size = s["seed"], s["algorithm"], s["size"]
    return {
        "train": mc_configurations(size, temps, s["n_samples"], purpose="train", seed=seed,
                                   algorithm=algorithm, progress=tick),
        "thermometer": mc_configurations(size, temps, s["thermometer_samples"],
                                         purpose="thermometer", seed=seed, algorithm=algorithm,
                                         progress=tick),
        "flow": mc_configurations(size, starts, s["n_flow"], purpose="flow", seed=seed,
                                  algorithm=algorithm, progress=tick),
        "validation": list(mc_configurations(size, checks, s["n_flow"], purpose="validation",
                                             seed=seed, algorithm=algorithm, progress=tick))
        if checks else [],
    }


def calibrated_thermometer(settings: Mapping[str, Any], data: Mapping[str, Any]
                           ) -> tuple[Thermometer, dict[str, Any]]:
    """The thermometer fitted on the labelled data, and its readings for the report.

    Returns
    -------
    thermometer : analysis.thermometer.Thermometer
    readings : dict
        ``temperatures``, ``calibration``, ``calibration_error``, ``validation`` (known
        temperatures read back) and ``training_mixture`` (the reading of the pooled training
        set: where a perfect model of the data would sit).
    """
    s = settings
    size, temps, seed = s["size"], np.asarray(s["temperatures"]), s["seed"]
    thermometer = Thermometer(random_state=seed).fit(
        data["thermometer"].reshape(-1, size, size), np.repeat(temps, s["thermometer_samples"]))
    validation = thermometer.validate(data["validation"], s["validation_temperatures"],
                                      n_boot=s["n_boot"], seed=seed)
    mixture = thermometer.measure(data["train"].reshape(-1, size, size), n_boot=s["n_boot"],
                                  seed=seed)
    return thermometer, {"temperatures": thermometer.temperatures_.tolist(),
                         "calibration": thermometer.calibration_.tolist(),
                         "calibration_error": thermometer.calibration_error_.tolist(),
                         "validation": validation,
                         "training_mixture": mixture.to_dict()}


def evaluate_flows(model: RBM, stream: int, settings: Mapping[str, Any], thermometer: Thermometer,
                   flow_starts: Sequence[NDArray[np.int8]] | NDArray[np.int8],
                   flow_progress: Callable[[int], object]) -> dict[str, Any]:
    """Flows of ``model`` from every start, their readings and fixed point.

    ``stream`` offsets the flow seeds (:func:`flow_configurations`) so that each model's flows
    use their own random numbers; ``flow_progress(k)`` after start k.
    """
    s = settings
    flows: list[dict[str, Any]] = []
    t_eff: list[NDArray[np.float64]] = []
    t_err: list[NDArray[np.float64]] = []
    for k, t0 in enumerate(s["start_temperatures"]):
        configs = flow_configurations(model, flow_starts[k], s["n_steps"], mode=s["mode"],
                                      seed=_stream_seed(s["seed"], "flow", stream + k))
        value, err, inside = flow_temperatures(thermometer, configs, n_boot=s["n_boot"],
                                               seed=s["seed"])
        t_eff.append(value)
        t_err.append(err)
        flows.append({"T0": t0, "T_eff": value.tolist(), "T_eff_err": err.tolist(),
                      "in_range": inside.tolist()})
        flow_progress(k)
    point = fixed_point(np.array(t_eff), np.array(t_err), last=s["last"])
    point["clipped_final_readings"] = int(sum(not f["in_range"][-1] for f in flows))
    history = getattr(model, "history_", None) or {}
    return {"reconstruction_error": (history.get("reconstruction_error") or [None])[-1],
            "flows": flows, "fixed_point": point}


#: Settings that determine a protocol RBM (with ``n_hidden``): its checkpoint's identity.
MODEL_KEYS = ("size", "temperatures", "n_samples", "algorithm", "units", "n_epochs",
              "learning_rate", "batch_size", "cd_k", "seed")


def hidden_unit_models(settings: Mapping[str, Any], data: Mapping[str, Any],
                       thermometer: Thermometer,
                       model_dir: str | os.PathLike[str] | None,
                       report: Progress) -> list[dict[str, Any]]:
    """Train (or reload) one RBM per hidden-unit count on the pooled data; flow each."""
    s = settings
    hidden, n_epochs, n_starts = s["hidden_units"], s["n_epochs"], len(s["start_temperatures"])
    models = []
    for i, n_hidden in enumerate(hidden):
        model_settings = {k: s[k] for k in MODEL_KEYS}
        model_settings["n_hidden"] = n_hidden

        def epoch(record: dict[str, Any], i: int = i) -> None:
            report("train", i * n_epochs + record["epoch"], len(hidden) * n_epochs)

        t0 = time.perf_counter()
        model, reused = fit_or_load_rbm(data["train"], model_settings, model_dir,
                                        callback=epoch)
        train_seconds = time.perf_counter() - t0
        report("train", (i + 1) * n_epochs, len(hidden) * n_epochs)
        entry: dict[str, Any] = {"n_hidden": n_hidden, "reused": bool(reused),
                                 "train_seconds": train_seconds}

        def flow_done(k: int, i: int = i) -> None:
            report("flow", i * n_starts + k + 1, len(hidden) * n_starts)

        entry.update(evaluate_flows(model, 1000 * (i + 1), s, thermometer, data["flow"],
                                    flow_done))
        models.append(entry)
    return models


def single_temperature_contrast(settings: Mapping[str, Any], temperature: float,
                                thermometer: Thermometer,
                                data: Mapping[str, Any], model_dir: str | os.PathLike[str] | None,
                                report: Progress) -> dict[str, Any]:
    """The contrast: one RBM (first hidden-unit count) trained at a single temperature.

    As many configurations as the protocol's pooled set, all at ``temperature`` (the
    :mod:`analysis.rbm_flow` setting, seed + 1), flowed and read by the same thermometer.
    """
    s = settings
    n_single = s["n_samples"] * len(s["temperatures"])
    single = mc_configurations(s["size"], [temperature], n_single, seed=s["seed"] + 1,
                               purpose="train", algorithm=s["algorithm"])
    single_settings = {k: s[k] for k in MODEL_KEYS}
    single_settings.update(temperatures=[temperature], n_samples=n_single, seed=s["seed"] + 1,
                           n_hidden=s["hidden_units"][0])
    t0 = time.perf_counter()
    model, reused = fit_or_load_rbm(single, single_settings, model_dir)
    contrast: dict[str, Any] = {"T": temperature, "n_hidden": s["hidden_units"][0],
                                "n_samples": n_single,
                "reused": bool(reused), "train_seconds": time.perf_counter() - t0}
    contrast.update(evaluate_flows(model, 10 ** 6, s, thermometer, data["flow"],
                                   lambda k: report("contrast", k + 1,
                                                    len(s["start_temperatures"]))))
    return contrast


def caption_samples(settings: Mapping[str, Any]) -> str:
    """The sample counts behind the protocol's figures, for their captions
    (:func:`analysis.figure_style.set_caption`).

    Parameters
    ----------
    settings : dict
        ``settings`` of :func:`run_protocol` (:func:`protocol_settings`).

    Returns
    -------
    str
        E.g. ``"1,000/T x 24 T training + 1,000/T thermometer, 500 per flow start"``: the
        RBMs' training set, the thermometer's labelled set and the configurations each flow
        starts from.
    """
    return (f"{settings['n_samples']:,}/T x {len(settings['temperatures'])} T training + "
            f"{settings['thermometer_samples']:,}/T thermometer, "
            f"{settings['n_flow']:,} per flow start")

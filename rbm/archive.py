"""The versioned ``.npz`` archive format of RBMs, RBM stacks and training checkpoints.

The lowest layer of rbm's persistence: it knows the file layout but not the model classes
(:mod:`rbm.model` writes its checkpoints here; :mod:`rbm.io` builds models from archives).

File layout (``FORMAT_VERSION`` = 1), one uncompressed ``.npz`` archive, no pickles:

* ``meta``: a 0-d unicode array holding a JSON object with ``format_version``, ``kind``
  ("rbm", "dbn" or "checkpoint"), ``rgdl_version``, ``layers`` (one entry per layer: ``params`` =
  hyperparameters, ``units``, ``n_features_in``, ``n_epochs_done``, ``dtype``, ``history``) and
  ``meta`` (free-form JSON from the caller, e.g. the DBN's own hyperparameters or the lattice).
  Checkpoints add ``epoch``, ``fingerprint`` (data identity), ``seed_entropy``/``seed_spawn_key``
  ``rng_state`` (numpy ``bit_generator.state``) and ``uniform_stream`` ([key, counter] of the
  trainer's counter-based Gibbs uniforms).
* ``format_version``: int64 scalar (also checked against the JSON).
* ``layer{i}_weights``, ``layer{i}_visible_bias``, ``layer{i}_hidden_bias`` for i = 0..n-1
  (sign convention of docs/CONTRACTS.md); checkpoints add ``velocity_weights``,
  ``velocity_visible``, ``velocity_hidden`` and ``chains``.

Every write is atomic: the archive goes to a fresh temporary file in the same directory
(created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so a planted file or symlink is never followed),
is flushed and fsynced, then renamed over ``path`` with :func:`os.replace`, so a killed process
or a full disk never leaves a half-written model or checkpoint behind; a failed write raises
:class:`ModelWriteError` (an OSError whose message ends in the reason, e.g. ``(no space left on
device)``) and removes the temporary file. (``rbm`` is a leaf package; ``ising.atomic`` is the
same contract for the rest of rgdl.)
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm._params import jsonable_entropy
from rbm._typing import RBMLayer

__all__ = ["FORMAT_VERSION", "KINDS", "ModelWriteError", "package_version", "atomic_savez",
           "layer_record",
           "layer_arrays", "meta_array", "open_archive", "save_layers", "save_checkpoint",
           "load_checkpoint"]

FORMAT_VERSION = 1
KINDS = ("rbm", "dbn", "checkpoint")


def package_version() -> str:
    """The installed rgdl distribution's version, or "unknown" when it is not installed."""
    try:
        return importlib.metadata.version("rgdl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class ModelWriteError(OSError):
    """Writing a model or checkpoint failed; ``str()`` is one line ending in the reason."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(errno, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def atomic_savez(path: str | os.PathLike[str], arrays: Mapping[str, npt.ArrayLike]) -> None:
    """Write ``arrays`` (dict name -> ndarray) to ``path`` atomically.

    The archive goes to a temporary file created exclusively next to ``path`` (a short random
    name, so long output names still fit), is fsynced and renamed over ``path``.  On failure
    the temporary file is removed, ``path`` is untouched and :class:`ModelWriteError` (an
    OSError) says why in one line.
    """
    path = os.fspath(path)
    # values typed Any for savez: a name "allow_pickle" would reach its flag of that name
    # (archive names never do)
    named: dict[str, Any] = dict(arrays)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory} does not exist")
    base = os.fsencode(os.path.basename(path))[:64].decode("utf-8", errors="ignore")
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **named)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, ModelWriteError):
            raise _write_error(path, exc) from exc
        raise


def _write_error(path: str, exc: OSError) -> ModelWriteError:
    reason = os.strerror(exc.errno).lower() if exc.errno else " ".join(str(exc).split())
    return ModelWriteError(exc.errno or 5, f"cannot write {path} ({reason})")


def layer_record(rbm: RBMLayer) -> dict[str, Any]:
    """The JSON record of one fitted RBM layer (hyperparameters, shape, history)."""
    if getattr(rbm, "weights_", None) is None:
        raise ValueError("cannot save an unfitted RBM")
    return {
        "params": rbm.stored_params(),
        "units": rbm.units,
        "n_features_in": int(rbm.weights_.shape[0]),
        "n_hidden": int(rbm.weights_.shape[1]),
        "n_epochs_done": int(getattr(rbm, "n_epochs_done_", 0)),
        "dtype": str(rbm.weights_.dtype),
        "history": getattr(rbm, "history_", None) or {},
    }


def layer_arrays(layers: Iterable[RBMLayer]) -> dict[str, NDArray[Any]]:
    """The parameter arrays of the layers under their archive names."""
    arrays = {}
    for i, rbm in enumerate(layers):
        arrays[f"layer{i}_weights"] = np.asarray(rbm.weights_)
        arrays[f"layer{i}_visible_bias"] = np.asarray(rbm.visible_bias_)
        arrays[f"layer{i}_hidden_bias"] = np.asarray(rbm.hidden_bias_)
    return arrays


def meta_array(meta: Mapping[str, Any]) -> NDArray[np.str_]:
    """The JSON record as a 0-d unicode array (ValueError if not JSON-serialisable)."""
    try:
        text = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model metadata is not JSON-serialisable: {exc}") from None
    return np.array(text)


def save_layers(path: str | os.PathLike[str], layers: Iterable[RBMLayer],
                meta: Mapping[str, Any] | None = None, *, kind: str = "dbn") -> None:
    """Save a list of fitted RBMs (a stack, visible layer first) to a versioned ``.npz``.

    Parameters
    ----------
    path : str or os.PathLike
    layers : list of RBM
        Fitted RBMs; layer i+1's visible layer is layer i's hidden layer.
    meta : dict, optional
        JSON-serialisable extra metadata (e.g. the DBN's hyperparameters).
    kind : {"dbn", "rbm"}, default "dbn"
    """
    if kind not in ("rbm", "dbn"):
        raise ValueError(f"kind must be 'rbm' or 'dbn', got {kind!r}")
    layers = list(layers)
    if not layers:
        raise ValueError("no layers to save")
    if kind == "rbm" and len(layers) != 1:
        raise ValueError("kind 'rbm' holds exactly one layer")
    for i in range(1, len(layers)):
        if layers[i].weights_.shape[0] != layers[i - 1].weights_.shape[1]:
            raise ValueError(f"layer {i} has {layers[i].weights_.shape[0]} visible units but layer "
                             f"{i - 1} has {layers[i - 1].weights_.shape[1]} hidden units")
    record = {"format_version": FORMAT_VERSION, "kind": kind, "rgdl_version": package_version(),
              "layers": [layer_record(rbm) for rbm in layers], "meta": meta or {}}
    arrays = layer_arrays(layers)
    arrays["meta"] = meta_array(record)
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    atomic_savez(path, arrays)


def open_archive(path: str | os.PathLike[str]
                 ) -> tuple[str, dict[str, NDArray[Any]], dict[str, Any]]:
    """Load the archive and its JSON record; any corruption becomes a one-line ValueError."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a model file")
    if not zipfile.is_zipfile(path):  # a plain .npy, an HDF5 dataset, a truncated archive, ...
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic == b"PK\x03\x04":
            raise ValueError(f"{path} is not a valid rgdl model file (truncated or corrupt "
                             ".npz archive)")
        raise ValueError(f"{path} is not an rgdl model file (not an .npz archive written by "
                         "rgdl train / rbm.save_model)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, AttributeError) as exc:
        detail = " ".join(str(exc).split())
        if "allow_pickle" in detail:  # an object array: never unpickled, and no hint to do so
            detail = "it holds Python objects"
        raise ValueError(f"{path} is not a valid rgdl model file ({type(exc).__name__}: "
                         f"{detail})") from None
    if "meta" not in arrays or "format_version" not in arrays:
        raise ValueError(f"{path} is not a valid rgdl model file (no metadata)")
    try:
        version = int(arrays["format_version"])
    except (TypeError, ValueError):
        raise ValueError(f"{path} is not a valid rgdl model file (bad format_version)") from None
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has model format version {version}; this rgdl reads version "
                         f"{FORMAT_VERSION}")
    try:
        record = json.loads(str(arrays["meta"]))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid rgdl model file (corrupt metadata: {exc})") from None
    if not isinstance(record, dict) or record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has inconsistent format version metadata")
    if record.get("kind") not in KINDS:
        raise ValueError(f"{path} has unknown kind {record.get('kind')!r}")
    return path, arrays, record



# ----------------------------------------------------------------------------------------------
# training checkpoints
# ----------------------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike[str], rbm: RBMLayer, *,
                    trainer_state: Mapping[str, Any],
                    root_seed: np.random.SeedSequence, fingerprint: str | None = None) -> None:
    """Atomically write the full training state of ``rbm`` (called by ``RBM.fit`` each epoch).

    Stores the parameters, the optimiser state of its trainer (momentum buffers, persistent
    chains, numpy ``bit_generator.state``), the epoch, the history, the hyperparameters, the
    root seed and the data fingerprint, so :meth:`rbm.RBM.fit` with ``resume=True`` continues
    bit-identically.

    Parameters
    ----------
    path : str or os.PathLike
    rbm : RBM
        The model being trained (parameters, hyperparameters, history, epochs done).
    trainer_state : dict
        :meth:`rbm.train.CDTrainer.get_state` of its trainer.
    root_seed : numpy.random.SeedSequence
        The root seed of the fit.
    fingerprint : str, optional
        Identity of the training data.
    """
    state = trainer_state
    root = root_seed

    record = {"format_version": FORMAT_VERSION, "kind": "checkpoint",
              "rgdl_version": package_version(), "layers": [layer_record(rbm)], "meta": {},
              "epoch": int(rbm.n_epochs_done_), "fingerprint": fingerprint,
              "seed_entropy": jsonable_entropy(root.entropy),
              "seed_spawn_key": [int(k) for k in root.spawn_key],
              "rng_state": state["rng_state"], "uniform_stream": state["uniform_stream"]}
    arrays = layer_arrays([rbm])
    arrays["velocity_weights"] = state["velocity_weights"]
    arrays["velocity_visible"] = state["velocity_visible"]
    arrays["velocity_hidden"] = state["velocity_hidden"]
    arrays["chains"] = state.get("chains", np.empty((0, 0), rbm.weights_.dtype))
    arrays["meta"] = meta_array(record)
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    atomic_savez(path, arrays)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    dict
        ``weights``, ``visible_bias``, ``hidden_bias``, ``trainer`` (the state dict for
        :meth:`rbm.train.CDTrainer.set_state`) and ``meta`` (with ``params``, ``history``,
        ``epoch``, ``fingerprint``, ``seed_entropy``, ``seed_spawn_key``).
    """
    path, arrays, record = open_archive(path)
    if record["kind"] != "checkpoint":
        raise ValueError(f"{path} is a model file, not a training checkpoint")
    try:
        layer = record["layers"][0]
        trainer = {"velocity_weights": arrays["velocity_weights"],
                   "velocity_visible": arrays["velocity_visible"],
                   "velocity_hidden": arrays["velocity_hidden"],
                   "rng_state": record["rng_state"],
                   "uniform_stream": record["uniform_stream"]}
        if arrays["chains"].size:
            trainer["chains"] = arrays["chains"]
        meta = {"params": layer["params"], "history": layer["history"], "epoch": record["epoch"],
                "fingerprint": record["fingerprint"], "seed_entropy": record["seed_entropy"],
                "seed_spawn_key": record["seed_spawn_key"]}
        return {"weights": arrays["layer0_weights"], "visible_bias": arrays["layer0_visible_bias"],
                "hidden_bias": arrays["layer0_hidden_bias"], "trainer": trainer, "meta": meta}
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid rgdl checkpoint (missing {exc})") from None

"""Monte Carlo RG of the critical 2D Ising model for block-spin and learned transforms.

The library behind ``rgdl mcrg``: Wolff samples at coupling K, a block transform (majority rule,
decimation, or a learned :class:`rbm.local.LocalRBMStack`) applied level after level, Swendsen's
MCRG exponents (:func:`analysis.mcrg.mcrg`) and the pseudo-likelihood coupling flow
(:func:`analysis.couplings.coupling_flow`).

Checkpoints: with ``cache_dir`` the Wolff samples and the trained stack are stored there
(atomically, tagged with every parameter that determines them) and reused by a later run with
the same parameters, so an interrupted long run (sampling, training) resumes where it was.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import ising
from analysis.couplings import coupling_flow
from analysis.figures import plot_coupling_flow, plot_kernels, plot_mcrg_exponents
from analysis.mcrg import (EVEN_2D, ODD_2D, BlockTransform, decimation_transform,
                           majority_transform, mcrg)
from ising.atomic import atomic_write_text
from rbm.archive import atomic_savez
from rbm.local import LocalRBMStack, load_local_stack, save_local_stack

__all__ = ["TRANSFORMS", "K_CRITICAL", "check_arguments", "output_paths", "output_files",
           "run_mcrg", "write_outputs", "format_table"]

TRANSFORMS = ("majority", "decimation", "learned")
K_CRITICAL = 0.5 * math.log(1 + math.sqrt(2))  # Onsager (same as ising.exact.critical_coupling())


def check_arguments(size: int, coupling: float, transform: str, block: int, levels: int,
                    samples: int) -> None:
    """Validate the command's numbers before any work (ValueError with a one-line message)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"--transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    if not (math.isfinite(coupling) and coupling > 0):
        raise ValueError(f"--coupling must be finite and > 0, got {coupling}")
    if block < 2:
        raise ValueError(f"--block must be >= 2, got {block}")
    if levels < 1:
        raise ValueError(f"--levels must be >= 1, got {levels}")
    if samples < 100:
        raise ValueError(f"--samples must be >= 100, got {samples}")
    span = max(op.span for op in EVEN_2D + ODD_2D)
    if size < 4 or size % block ** levels or size // block ** levels <= 2 * span:
        raise ValueError(f"--size {size} must be a multiple of block**levels = {block ** levels} with "
                         f"size / block**levels > {2 * span} (the operators' reach); "
                         f"use a larger --size or fewer --levels")


def output_paths(out: str | os.PathLike[str], transform: str, block: int) -> dict[str, Path]:
    """Files ``rgdl mcrg`` writes into ``out`` (figures as .png + .pdf)."""
    folder = Path(out)
    tag = f"{transform}_b{block}"
    paths = {"json": folder / f"mcrg_{tag}.json",
             "exponents": folder / f"mcrg_exponents_{tag}", "flow": folder / f"coupling_flow_{tag}"}
    if transform == "learned":
        paths["kernels"] = folder / f"kernels_{tag}"
        paths["model"] = folder / f"local_rbm_stack_{tag}.npz"
    return paths


def output_files(paths: Mapping[str, Path]) -> list[Path]:
    """Every file of :func:`output_paths` (each figure stem as its ``.png`` and ``.pdf``)."""
    files = []
    for key, p in paths.items():
        if key in ("json", "model"):
            files.append(p)
        else:
            files += [p.with_suffix(".png"), p.with_suffix(".pdf")]
    return files


def run_mcrg(size: int, coupling: float, transform: str, block: int, levels: int, samples: int,
             seed: int, *, epochs: int = 5, kernel: int | None = None,
             progress: Callable[[str, int, int], object] | None = None,
             cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Library call behind the command: sample, coarse-grain, MCRG, coupling flow.

    Returns a dict with the JSON summary (``transform``, ``block``, ``levels``) plus ``details``
    (all truncations, couplings per level, timings) and, for ``learned``, the fitted stack.
    ``progress(stage, done, total)`` reports sampling and training. With ``cache_dir`` the
    samples and the trained stack are checkpointed there and reused (see the module docstring);
    ``details["cached"]`` lists what was reused.
    """
    check_arguments(size, coupling, transform, block, levels, samples)
    kernel = 2 * block if kernel is None else kernel
    if transform == "learned" and (kernel < block or kernel > size // block ** (levels - 1)):
        raise ValueError(f"--kernel must be >= --block and fit the coarsest trained lattice, got {kernel}")
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    seeds = np.random.SeedSequence(seed).spawn(3)
    t0 = time.perf_counter()
    cached = []
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tag = f"L{size}_K{coupling!r}_N{samples}_seed{seed}"
    sample_file = None if cache_dir is None else Path(cache_dir) / f"mcrg_samples_{tag}.npz"
    result = _load_samples(sample_file) if sample_file is not None else None
    if result is not None:
        cached.append("samples")
    else:
        sampled = ising.sample(2, size, 1.0, coupling=coupling, algorithm="wolff", n_samples=samples,
                               seed=int(seeds[0].generate_state(1)[0]),
                               progress=None if progress is None else
                               (lambda k, n: progress("sample", k, n)))
        result = {"spins": sampled.spins, "burn_in": sampled.burn_in, "thin": sampled.thin,
                  "tau_int": sampled.tau_int}
        if sample_file is not None:
            _save_samples(sample_file, result)
    spins = result["spins"]
    t_sample = time.perf_counter() - t0
    stack = None
    f: BlockTransform
    if transform == "majority":
        f = majority_transform(block)
    elif transform == "decimation":
        f = decimation_transform(block)
    else:
        params = {"block": block, "kernel_size": kernel, "n_epochs": epochs, "learning_rate": 0.1}
        stack_meta = {"tag": tag, "levels": int(levels), "rbm_params": params}
        stack_file = (None if cache_dir is None else
                      Path(cache_dir) / f"mcrg_stack_{tag}_b{block}_w{kernel}_e{epochs}_n{levels}.npz")
        stack = _load_stack(stack_file, stack_meta) if stack_file is not None else None
        if stack is not None:
            cached.append("stack")
        else:
            stack = LocalRBMStack(levels, rbm_params=params,
                                  random_state=int(seeds[2].generate_state(1)[0]))
            total = levels * epochs
            stack.fit(spins, progress=None if progress is None else
                      (lambda l, e, n: progress("train", l * epochs + e, total)))
            if stack_file is not None:
                save_local_stack(stack_file, stack, meta=stack_meta)
        f = stack.mcrg_transform(size)
    t1 = time.perf_counter()
    res = mcrg(spins, f, levels, seed=seeds[1])
    flow = coupling_flow(spins, f, levels, seed=seeds[1])
    t_analysis = time.perf_counter() - t1
    summary = {"transform": transform, "block": int(block),
               "levels": [{k: lv.to_dict()[k] for k in ("level", "n_even", "n_odd", "y_T", "y_T_err",
                                                         "y_h", "y_h_err")} for lv in res.levels]}
    details = {"size": int(size), "coupling": float(coupling), "samples": int(samples),
               "seed": int(seed), "burn_in": int(result["burn_in"]), "thin": int(result["thin"]),
               "tau_int": float(result["tau_int"]), "cached": cached, "even_operators": list(res.even),
               "odd_operators": list(res.odd), "levels": [lv.to_dict() for lv in res.levels],
               "couplings": [c.to_dict() for c in flow],
               "seconds": {"sampling": t_sample, "training_and_analysis": time.perf_counter() - t0
                           - t_sample, "analysis": t_analysis}}
    if stack is not None:
        details["kernels"] = [layer.kernel_.tolist() for layer in stack.layers_]
        details["epochs"] = int(epochs)
        details["kernel_size"] = int(kernel)
    return {"summary": summary, "details": details, "stack": stack}


def write_outputs(run: Mapping[str, Any], paths: Mapping[str, Path], *,
                  majority_block: int = 2) -> None:
    """Write the JSON, figures (and for learned the model) of :func:`run_mcrg` atomically."""
    s, d = run["summary"], run["details"]
    label = f"{s['transform']} b={s['block']}"
    size, samples = d["size"], d["samples"]  # the lattice and the samples every figure shows
    plot_mcrg_exponents({label: d["levels"]}, paths["exponents"], size=size, samples=samples)
    K = np.array([c["couplings"] for c in d["couplings"]], dtype=float)
    E = np.array([[np.nan if e is None else e for e in c["errors"]] for c in d["couplings"]])
    plot_coupling_flow({label: [(f"K0 = {d['coupling']:.4g}", K, E)]}, paths["flow"], size=size,
                       samples=samples)
    if run["stack"] is not None:
        b, w = s["block"], d["kernel_size"]
        o = (w - b) // 2
        majority = np.zeros((w, w))
        majority[o:o + b, o:o + b] = -1.0  # the block-sum kernel in the sign convention of LocalRBM
        kernels = {"majority rule (block sum)": majority}
        kernels.update({f"learned layer {i + 1}": np.array(k) for i, k in enumerate(d["kernels"])})
        plot_kernels(kernels, paths["kernels"], size=size,
                     samples=f"{samples:,} training samples")
        save_local_stack(paths["model"], run["stack"], meta={"size": d["size"], "coupling": d["coupling"]})
    atomic_write_text(paths["json"], json.dumps({**s, "details": d}, indent=1))


def format_table(summary: Mapping[str, Any]) -> str:
    """The text table of ``rgdl mcrg``: y_T and y_h (with errors) per RG level."""
    rows = [["level", "n_even", "n_odd", "y_T", "y_h"]]
    for lv in summary["levels"]:
        def pm(v: float | None, e: float | None) -> str:
            return "nan" if v is None else f"{v:.4f} ± {e if e is not None else float('nan'):.4f}"
        rows.append([str(lv["level"]), str(lv["n_even"]), str(lv["n_odd"]),
                     pm(lv["y_T"], lv["y_T_err"]), pm(lv["y_h"], lv["y_h_err"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _save_samples(path: Path, result: Mapping[str, Any]) -> None:
    """Cache the Wolff samples of a run (atomically, :func:`rbm.archive.atomic_savez`)."""
    atomic_savez(path, {"spins": result["spins"], "burn_in": result["burn_in"],
                        "thin": result["thin"], "tau_int": result["tau_int"]})


def _load_samples(path: Path) -> dict[str, Any] | None:
    """Cached samples, or None when absent or unreadable (then they are drawn again)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"spins": np.array(z["spins"], dtype=np.int8), "burn_in": int(z["burn_in"]),
                    "thin": int(z["thin"]), "tau_int": float(z["tau_int"])}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _load_stack(path: Path, meta: Mapping[str, Any]) -> LocalRBMStack | None:
    """A cached stack trained with exactly ``meta``'s parameters, or None."""
    if not path.exists():
        return None
    try:
        stack, saved = load_local_stack(path)
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return stack if saved == json.loads(json.dumps(meta)) else None

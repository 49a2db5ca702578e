"""``rgdl mcrg``: Monte Carlo RG exponents and coupling flows of block-spin and learned transforms."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import click

TRANSFORMS = ("majority", "decimation", "learned")
K_CRITICAL = 0.5 * math.log(1 + math.sqrt(2))  # Onsager (same as ising.exact.critical_coupling())


def check_arguments(size, coupling, transform, block, levels, samples):
    """Validate the command's numbers before any work (ValueError with a one-line message)."""
    from analysis.mcrg import EVEN_2D, ODD_2D

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


def output_paths(out, transform, block):
    """Files ``rgdl mcrg`` writes into ``out`` (figures as .png + .pdf)."""
    out = Path(out)
    tag = f"{transform}_b{block}"
    paths = {"json": out / f"mcrg_{tag}.json",
             "exponents": out / f"mcrg_exponents_{tag}", "flow": out / f"coupling_flow_{tag}"}
    if transform == "learned":
        paths["kernels"] = out / f"kernels_{tag}"
        paths["model"] = out / f"local_rbm_stack_{tag}.npz"
    return paths


def _files(paths):
    files = []
    for key, p in paths.items():
        if key in ("json", "model"):
            files.append(p)
        else:
            files += [p.with_suffix(".png"), p.with_suffix(".pdf")]
    return files


def run_mcrg(size, coupling, transform, block, levels, samples, seed, *, epochs=5, kernel=None,
             progress=None):
    """Library call behind the command: sample, coarse-grain, MCRG, coupling flow.

    Returns a dict with the JSON summary (``transform``, ``block``, ``levels``) plus ``details``
    (all truncations, couplings per level, timings) and, for ``learned``, the fitted stack.
    ``progress(stage, done, total)`` reports sampling and training.
    """
    import numpy as np

    import ising
    from analysis.couplings import coupling_flow
    from analysis.mcrg import decimation_transform, majority_transform, mcrg

    check_arguments(size, coupling, transform, block, levels, samples)
    kernel = 2 * block if kernel is None else kernel
    if transform == "learned" and (kernel < block or kernel > size // block ** (levels - 1)):
        raise ValueError(f"--kernel must be >= --block and fit the coarsest trained lattice, got {kernel}")
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    seeds = np.random.SeedSequence(seed).spawn(3)
    t0 = time.perf_counter()
    result = ising.sample(2, size, 1.0, coupling=coupling, algorithm="wolff", n_samples=samples,
                          seed=int(seeds[0].generate_state(1)[0]),
                          progress=None if progress is None else (lambda k, n: progress("sample", k, n)))
    spins = result.spins
    t_sample = time.perf_counter() - t0
    stack = None
    if transform == "majority":
        f = majority_transform(block)
    elif transform == "decimation":
        f = decimation_transform(block)
    else:
        from rbm.local import LocalRBMStack

        stack = LocalRBMStack(levels, rbm_params={"block": block, "kernel_size": kernel,
                                                  "n_epochs": epochs, "learning_rate": 0.1},
                              random_state=int(seeds[2].generate_state(1)[0]))
        total = levels * epochs
        stack.fit(spins, progress=None if progress is None else
                  (lambda l, e, n: progress("train", l * epochs + e, total)))
        f = stack.mcrg_transform(size)
    t1 = time.perf_counter()
    res = mcrg(spins, f, levels, seed=seeds[1])
    flow = coupling_flow(spins, f, levels, seed=seeds[1])
    t_analysis = time.perf_counter() - t1
    summary = {"transform": transform, "block": int(block),
               "levels": [{k: lv.to_dict()[k] for k in ("level", "n_even", "n_odd", "y_T", "y_T_err",
                                                         "y_h", "y_h_err")} for lv in res.levels]}
    details = {"size": int(size), "coupling": float(coupling), "samples": int(samples),
               "seed": int(seed), "burn_in": int(result.burn_in), "thin": int(result.thin),
               "tau_int": float(result.tau_int), "even_operators": list(res.even),
               "odd_operators": list(res.odd), "levels": [lv.to_dict() for lv in res.levels],
               "couplings": [c.to_dict() for c in flow],
               "seconds": {"sampling": t_sample, "training_and_analysis": time.perf_counter() - t0
                           - t_sample, "analysis": t_analysis}}
    if stack is not None:
        details["kernels"] = [layer.kernel_.tolist() for layer in stack.layers_]
        details["epochs"] = int(epochs)
        details["kernel_size"] = int(kernel)
    return {"summary": summary, "details": details, "stack": stack}


def write_outputs(run, paths, *, majority_block=2):
    """Write the JSON, figures (and for learned the model) of :func:`run_mcrg` atomically."""
    import numpy as np

    from analysis.figures import plot_coupling_flow, plot_kernels, plot_mcrg_exponents

    s, d = run["summary"], run["details"]
    label = f"{s['transform']} b={s['block']}"
    plot_mcrg_exponents({label: d["levels"]}, paths["exponents"])
    K = np.array([c["couplings"] for c in d["couplings"]], dtype=float)
    E = np.array([[np.nan if e is None else e for e in c["errors"]] for c in d["couplings"]])
    plot_coupling_flow({label: [(f"K0 = {d['coupling']:.4g}", K, E)]}, paths["flow"])
    if run["stack"] is not None:
        from rbm.local import save_local_stack

        b, w = s["block"], d["kernel_size"]
        o = (w - b) // 2
        majority = np.zeros((w, w))
        majority[o:o + b, o:o + b] = -1.0  # the block-sum kernel in the sign convention of LocalRBM
        kernels = {"majority rule (block sum)": majority}
        kernels.update({f"learned layer {i + 1}": np.array(k) for i, k in enumerate(d["kernels"])})
        plot_kernels(kernels, paths["kernels"])
        save_local_stack(paths["model"], run["stack"], meta={"size": d["size"], "coupling": d["coupling"]})
    from ising.atomic import atomic_write_text

    atomic_write_text(paths["json"], json.dumps({**s, "details": d}, indent=1))


def format_table(summary):
    rows = [["level", "n_even", "n_odd", "y_T", "y_h"]]
    for lv in summary["levels"]:
        def pm(v, e):
            return "nan" if v is None else f"{v:.4f} ± {e if e is not None else float('nan'):.4f}"
        rows.append([str(lv["level"]), str(lv["n_even"]), str(lv["n_odd"]),
                     pm(lv["y_T"], lv["y_T_err"]), pm(lv["y_h"], lv["y_h_err"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command()
@click.option("--size", "-L", type=int, default=64, show_default=True,
              help="Lattice side L of the 2D periodic Ising model (multiple of block**levels).")
@click.option("--coupling", "-K", type=float, default=K_CRITICAL, show_default="K_c",
              help="Nearest-neighbour coupling K = J/T of the Wolff samples (default: Onsager's K_c).")
@click.option("--transform", type=click.Choice(TRANSFORMS), default="majority", show_default=True,
              help="Block transform: majority rule (coin ties), decimation, or a learned local RBM stack.")
@click.option("--block", "-b", type=int, default=2, show_default=True, help="Block size b.")
@click.option("--levels", "-n", type=int, default=3, show_default=True, help="Number of RG steps.")
@click.option("--samples", "-N", type=int, default=4000, show_default=True,
              help="Number of Wolff configurations (burn-in and thinning chosen automatically).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of sampling, tie-breaking / stochastic coarse-graining and training.")
@click.option("--epochs", type=int, default=5, show_default=True,
              help="CD-1 epochs per learned layer (--transform learned).")
@click.option("--kernel", "kernel", type=int, default=None,
              help="Learned window side w >= b [default: 2b] (--transform learned).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"transform", "block", "levels": [{"level", "n_even", "n_odd", "y_T", '
                   '"y_T_err", "y_h", "y_h_err"}]} (largest operator sets) instead of the table.')
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Directory for the JSON record, figures (and the learned model).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files in --out.")
def mcrg(size, coupling, transform, block, levels, samples, seed, epochs, kernel, as_json, out,
         overwrite):
    """Monte Carlo renormalization group (Swendsen 1979) of the critical 2D Ising model.

    Draws Wolff configurations at coupling K, applies the block transform level after level and
    prints the thermal and magnetic exponents y_T = ln(lambda_T)/ln(b) and y_h from the leading
    eigenvalues of the linearised RG matrix T = A^-1 B (9 even, 6 odd operators; jackknife
    errors). Exact 2D Ising values: y_T = 1, y_h = 15/8. With --out it also writes the
    exponents-vs-level figure, the flow of the pseudo-likelihood couplings (K_nn, K_nnn) and, for
    the learned transform, the kernels and the model.
    """
    check_arguments(size, coupling, transform, block, levels, samples)
    paths = None
    if out is not None:
        paths = output_paths(out, transform, block)
        existing = [str(p) for p in _files(paths) if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(f"{existing[0]} exists (and {len(existing) - 1} more); "
                                  f"use --overwrite to replace")
        Path(out).mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"cannot write to {out}")

    from tqdm import tqdm

    bars = {}

    def progress(stage, done, total):
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, disable=None, leave=False)
        bars[stage].n = done
        bars[stage].refresh()

    try:
        run = run_mcrg(size, coupling, transform, block, levels, samples, seed, epochs=epochs,
                       kernel=kernel, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    if paths is not None:
        write_outputs(run, paths)
    summary, d = run["summary"], run["details"]
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"MCRG, 2D Ising L = {size}, K = {coupling:g}, {transform} b = {block}, "
               f"{samples} Wolff samples (thin {d['thin']}), seed {seed}")
    click.echo(format_table(summary))
    names = d["couplings"][0]["names"]
    click.echo("couplings (pseudo-likelihood) per level: " + ", ".join(names))
    for n, c in enumerate(d["couplings"]):
        click.echo(f"  level {n}: " + "  ".join(f"{k:.4f}±{e:.4f}" for k, e in
                                               zip(c["couplings"], c["errors"])))
    click.echo(f"({d['seconds']['sampling']:.1f} s sampling, "
               f"{d['seconds']['training_and_analysis']:.1f} s training + analysis)")
    if paths is not None:
        click.echo(f"wrote {', '.join(str(p) for p in _files(paths))}")

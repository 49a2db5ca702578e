"""What makes layer 1 localise? A one-factor-at-a-time study on the paper's lattice.

Mehta & Schwab (arXiv:1410.3831) show receptive fields of a 1600-400-100-25 stack trained on
40x40 Ising configurations that look like growing block spins. ``rgdl reproduce --paper`` does
not find layer 1 localised. This script asks which training choices, if any, make it localise.
Two base recipes of :data:`rgdl.pipeline.RECIPES` are trained on the paper's data
(T/J = 2.451, i.e. coupling 0.408 at T = 1):

* ``rgdl``: spin units, learning rate 0.01, L1 2e-4, sampled negative visibles, sampled
  up-propagation (the current preset);
* ``hinton``: Hinton & Salakhutdinov's rbm.m ({0,1} units, learning rate 0.1, L2 weight cost
  2e-4, weights 0.1 N(0,1), visible probabilities in the negative phase, mean up-propagation);

and varied one factor at a time (mostly around ``hinton``): units (spin/binary), learning rate
(0.1 -> 0.01), weight cost (none; L1 2e-4 or 1e-3 instead of L2 2e-4), data temperature
(T/J = 1.8 below, 2.269 at, 3.0 above T_c). Epochs: layer 1 is also measured at a quarter and
half of the training (from the per-epoch checkpoints of the same run). The rgdl base is varied
in units, learning rate and temperature, and the hinton base also in up-propagation (sampled vs
mean, which changes layers 2 and 3 only). The budget (data, epochs) is cut to fit about an hour
on a loaded 2-core machine (:data:`SIZES`); ``--only`` runs a subset, ``--merge`` combines runs
made in parts.

For every configuration and layer it reports the median localisation radius of the receptive
fields (core radius of gyration of r^2, :func:`analysis.receptive_fields.localization`,
window L/4 as in ``rgdl reproduce``) and the block-spin fidelity at the best block size
(:func:`analysis.blockspin_fidelity.fidelity_scans`), each with two nulls: the untrained stack at
the configuration's own initialisation and the stack trained the same way on site-shuffled data;
a layer is *separated* when its fidelity beats both nulls by more than
:data:`rgdl.pipeline.NULL_SEPARATION_SIGMAS` combined standard errors
(:func:`rgdl.pipeline.null_separation`), and *localised* when its median radius is below
``LOCALISED_RATIO`` times both nulls' medians. A layer is called a block spin when both hold.

    python scripts/localisation_study.py            # the full study (docs/results/localisation.*)
    python scripts/localisation_study.py --quick    # 16x16, 64-16-4, a few configurations (< 60 s)

Writes ``<results>/localisation.json``, ``<results>/localisation.md`` and the figure
``<figures>/localisation.{png,pdf}``, atomically. Every random step is seeded from ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: A layer is localised when its median radius is below this fraction of both nulls' medians.
LOCALISED_RATIO = 0.75

#: The paper's temperature T/J (coupling 0.408 at T = 1) and the contrasts below/at/above T_c.
PAPER_T = 1.0 / 0.408

#: Sizes: the paper's lattice and stack (data and epochs cut to fit the time budget), and --quick.
SIZES = {
    "full": dict(size=40, layers=(400, 100, 25), n_samples=3000, analysis_samples=2000,
                 n_epochs=10, null_epochs=2, block_sizes=(1, 2, 4, 8)),
    "quick": dict(size=16, layers=(64, 16, 4), n_samples=1500, analysis_samples=800,
                  n_epochs=6, null_epochs=3, block_sizes=(1, 2, 4)),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def configurations(quick):
    """The grid, most informative first: (name, base recipe, what differs, overrides), one
    factor at a time around the bases "hinton" and "rgdl" (:data:`rgdl.pipeline.RECIPES`).

    Cut to fit an hour on a loaded 2-core machine (about 10-16 min per configuration there,
    run four at a time with ``--only`` and combined with ``--merge``).
    """
    grid = [
        ("hinton", "hinton", "base recipe (rbm.m)", {}),
        ("rgdl", "rgdl", "base recipe (rgdl reproduce)", {}),
        ("hinton/spin", "hinton", "spin units", {"units": "spin"}),
        ("hinton/lr0.01", "hinton", "learning rate 0.01", {"learning_rate": 0.01}),
        ("hinton/L1-2e-4", "hinton", "L1 2e-4 (the paper's text) instead of L2",
         {"l1": 2e-4, "weight_decay": 0.0}),
        ("hinton/T2.269", "hinton", "data at T/J = 2.269 (T_c)", {"temperature": 2.269}),
        ("hinton/T1.8", "hinton", "data at T/J = 1.8 (ordered)", {"temperature": 1.8}),
        ("hinton/T3", "hinton", "data at T/J = 3.0", {"temperature": 3.0}),
        ("hinton/no-cost", "hinton", "no weight cost", {"l1": 0.0, "weight_decay": 0.0}),
        ("hinton/L1-1e-3", "hinton", "L1 1e-3", {"l1": 1e-3, "weight_decay": 0.0}),
        ("rgdl/binary", "rgdl", "binary units", {"units": "binary"}),
        ("rgdl/T2.269", "rgdl", "data at T/J = 2.269 (T_c)", {"temperature": 2.269}),
        ("rgdl/lr0.1", "rgdl", "learning rate 0.1", {"learning_rate": 0.1}),
        ("hinton/L2-1e-3", "hinton", "L2 1e-3", {"weight_decay": 1e-3}),
        ("hinton/sampled-up", "hinton", "sampled up-propagation", {"propagate": "sample"}),
    ]
    if quick:
        keep = ("hinton", "rgdl", "hinton/spin", "hinton/T2.269")
        grid = [g for g in grid if g[0] in keep]
    return grid


def ising_data(size, temperature, n_samples, seed, cache):
    """Wolff samples of the periodic L x L Ising model at T/J (J = 1), as int8 spins."""
    key = (size, round(temperature, 6), n_samples)
    if key not in cache:
        import ising

        t0 = time.perf_counter()
        res = ising.sample(2, size, float(temperature), coupling=1.0, algorithm="wolff",
                           n_samples=n_samples, n_chains=8, seed=seed)
        cache[key] = np.asarray(res.spins, np.int8)
        log(f"data T/J = {temperature:.4g}: {n_samples} Wolff samples (tau_int {res.tau_int:.2f} "
            f"sweeps, thin {res.thin}) in {time.perf_counter() - t0:.1f} s")
    return cache[key]


def train(spins_flat, cfg, n_epochs, seed, snapshots=()):
    """Greedy stack of rbm.DBN with the configuration's recipe; returns the layers' (W, c, b)
    and layer 1's (W, c, b) after each epoch in ``snapshots`` (read from its checkpoints)."""
    from rbm import DBN
    from rbm.io import load_checkpoint

    x = np.asarray(spins_flat, np.int8)
    if cfg["units"] == "binary":
        x = ((x + 1) // 2).astype(np.int8)
    dbn = DBN(tuple(cfg["layers"]), units=cfg["units"], propagate=cfg["propagate"],
              rbm_params=dict(learning_rate=cfg["learning_rate"], n_iter=n_epochs,
                              batch_size=cfg["batch_size"], cd_k=cfg["cd_k"], l1=cfg["l1"],
                              weight_decay=cfg["weight_decay"], init_scale=cfg["init_scale"],
                              init_visible_bias=cfg["init_visible_bias"],
                              negative_visible=cfg["negative_visible"], monitor_size=0),
              random_state=seed)
    taken = {}
    with tempfile.TemporaryDirectory(prefix="rgdl-localisation-") as tmp:
        prefix = Path(tmp) / "ckpt"

        def callback(record):
            if record["layer"] == 1 and record["epoch"] in snapshots:
                state = load_checkpoint(f"{prefix}.layer1")
                taken[record["epoch"]] = [tuple(np.asarray(state[k], np.float64) for k in
                                                ("weights", "visible_bias", "hidden_bias"))]

        dbn.fit(x, checkpoint=prefix, callback=callback if snapshots else None)
    params = [tuple(np.asarray(a, np.float64) for a in (l.weights_, l.visible_bias_, l.hidden_bias_))
              for l in dbn.layers_]
    return params, taken


def measure(nets, sub, cfg, seed):
    """Radius and fidelity per layer of every net in ``nets`` (name -> params), the nulls
    "untrained" and "shuffled" among them; returns name -> list of per-layer dicts."""
    from analysis.blockspin_fidelity import fidelity_scans
    from analysis.receptive_fields import layer_localization
    from rbm.maths import receptive_fields
    from rgdl.pipeline import up_pass

    shape = sub.shape[1:]
    window = max(2, shape[0] // 4)
    sub_flat = sub.reshape(sub.shape[0], -1)
    radius = {name: [float(np.median(lz.radius)) for lz in layer_localization(
        receptive_fields([p[0] for p in params]), shape, window=window,
        block_sizes=cfg["block_sizes"])] for name, params in nets.items()}
    acts = {name: up_pass(params, sub_flat, cfg["units"]) for name, params in nets.items()}
    flat = [a for name in nets for a in acts[name]]
    scans = iter(fidelity_scans(flat, sub, cfg["block_sizes"], tie="coin", seed=seed))
    fid = {name: [next(scans) for _ in acts[name]] for name in nets}
    return {name: [{"radius": radius[name][l], "scan": fid[name][l]}
                   for l in range(len(nets[name]))] for name in nets}


def verdicts(measured, net):
    """Per-layer summary of ``net`` against the nulls: radius, fidelity, separation, flags."""
    from rgdl.pipeline import null_separation

    rows = []
    for l, layer in enumerate(measured[net]):
        scan = layer["scan"]
        k = list(scan.block_sizes).index(scan.best_block_size)
        nulls = {name: measured[name][l] for name in ("untrained", "shuffled")}
        entry = {"block_fidelity": scan.best_fidelity,
                 "block_fidelity_error": float(scan.fidelity_error[k]),
                 "best_block_size": int(scan.best_block_size),
                 "fidelity_scan_null": {n: v["scan"].to_dict() for n, v in nulls.items()}}
        sep = null_separation(entry)
        rows.append({
            "radius": layer["radius"],
            "radius_null": {n: v["radius"] for n, v in nulls.items()},
            "fidelity": scan.best_fidelity, "fidelity_error": entry["block_fidelity_error"],
            "best_block_size": entry["best_block_size"],
            "fidelity_null": {n: float(v["scan"].fidelity[k]) for n, v in nulls.items()},
            "ceiling": float(scan.ceiling[k]),
            "separated": sep["separated"],
            # None when the combined error is zero (e.g. saturated units, constant activations)
            "null_margin_sigma": sep["margin_sigma"] if math.isfinite(sep["margin_sigma"]) else None,
            "localised": all(layer["radius"] < LOCALISED_RATIO * v["radius"] for v in nulls.values()),
        })
        rows[-1]["block_spin"] = rows[-1]["separated"] and rows[-1]["localised"]
    return rows


def snapshot_epochs(n_epochs):
    """Epochs (a quarter and half of the training) at which layer 1 is also measured."""
    return sorted({max(1, n_epochs // 4), max(1, n_epochs // 2)} - {n_epochs})


def run_configuration(name, base, label, overrides, sizes, seed, cache):
    """Train, null and measure one configuration; returns its JSON row."""
    from rgdl.pipeline import RECIPES, untrained_params

    cfg = {**RECIPES[base], **sizes, "temperature": PAPER_T, **overrides}
    t0 = time.perf_counter()
    spins = ising_data(cfg["size"], cfg["temperature"], cfg["n_samples"],
                       seed + int(round(1000 * cfg["temperature"])), cache)
    flat = spins.reshape(spins.shape[0], -1)
    epochs = cfg["n_epochs"]
    snapshots = snapshot_epochs(epochs)
    trained, early = train(flat, cfg, epochs, seed, snapshots)
    shuffled_data = np.random.default_rng(seed + 1).permuted(flat, axis=1)
    shuffled, _ = train(shuffled_data, cfg, min(cfg["null_epochs"], epochs), seed + 2)
    untrained = untrained_params(cfg["layers"], flat.shape[1], seed + 3, cfg["init_scale"])
    sub = spins[: cfg["analysis_samples"]]
    nets = {"trained": trained, "untrained": untrained, "shuffled": shuffled}
    nets.update({f"epoch{e}": early[e] for e in snapshots})
    measured = measure(nets, sub, cfg, seed + 4)
    layers = verdicts(measured, "trained")
    by_epoch = {str(e): verdicts(measured, f"epoch{e}")[0] for e in snapshots}
    seconds = time.perf_counter() - t0
    log(f"{name}: " + "; ".join(f"L{l + 1} r {x['radius']:.2f} (untr. {x['radius_null']['untrained']:.2f}) "
                               f"F {x['fidelity']:.3f} b{x['best_block_size']} "
                               f"{'sep' if x['separated'] else 'not sep'}"
                               for l, x in enumerate(layers)) + f" [{seconds:.0f} s]")
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}
    return {"name": name, "base": base, "differs": label, "settings": settings,
            "layers": layers, "layer1_by_epoch": by_epoch, "seconds": seconds}


def _cell(x):
    mark = "**block spin**" if x["block_spin"] else ("localised" if x["localised"] else
                                                    ("separated" if x["separated"] else "–"))
    return (f"{x['radius']:.2f} ({x['radius_null']['untrained']:.2f} / {x['radius_null']['shuffled']:.2f}); "
            f"{x['fidelity']:.3f} ± {x['fidelity_error']:.3f} b={x['best_block_size']} "
            f"({x['fidelity_null']['untrained']:.3f} / {x['fidelity_null']['shuffled']:.3f}); {mark}")


def markdown(data):
    """The results table (no timings: the file is reproducible byte for byte)."""
    s = data["sizes"]
    n_layers = len(s["layers"])
    cmd = "python scripts/localisation_study.py" + (" --quick" if data["quick"] else "")
    lines = [f"`{cmd}` ({s['size']}×{s['size']} Ising, J = 1, {s['n_samples']:,} Wolff samples "
             f"per temperature; stack {'-'.join(str(x) for x in [s['size'] ** 2] + list(s['layers']))}, "
             f"CD-1, batch 100, {s['n_epochs']} epochs (shuffled-data null {s['null_epochs']}); "
             f"analyses on {s['analysis_samples']:,} samples; seed {data['seed']})", "",
             "Each cell: median RF radius (nulls: untrained / shuffled); best-b fidelity ± s.e. "
             "(nulls); verdict. *localised*: radius < "
             f"{LOCALISED_RATIO} × both nulls; *separated*: fidelity > both nulls by "
             f"> {data['null_sigmas']:g} σ; **block spin**: both.", "",
             "| configuration | differs from its base | " + " | ".join(f"layer {l + 1}" for l in range(n_layers))
             + " | layer 1 at epochs " + "; ".join(data["snapshots"]) + " (radius, fidelity) |",
             "|---|---|" + "---|" * (n_layers + 1)]
    for row in data["rows"]:
        early = "; ".join(f"{x['radius']:.2f}, {x['fidelity']:.3f}"
                          for x in row["layer1_by_epoch"].values())
        lines.append(f"| {row['name']} | {row['differs']} | "
                     + " | ".join(_cell(x) for x in row["layers"]) + f" | {early} |")
    found = [r["name"] for r in data["rows"] if r["layers"][0]["block_spin"]]
    if not data["complete"]:
        lines += ["", f"Partial results: {len(data['rows'])} configurations of the grid only."]
    lines += ["", "Layer 1 is a block spin in: " + (", ".join(found) if found else
                                                  "none of these configurations") + "."]
    return "\n".join(lines) + "\n"


def _atomic_write(path, text):
    from ising.atomic import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def merge(args, sizes):
    """Outputs from the JSON files of partial runs with the same sizes and seed (grid order)."""
    parts = [json.loads(Path(path).read_text()) for path in args.merge]
    expected = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sizes.items()}
    for path, part in zip(args.merge, parts):
        if part["sizes"] != expected or part["seed"] != args.seed or part["quick"] != args.quick:
            raise SystemExit(f"Error: {path} was run with other sizes, seed or --quick")
    found = {row["name"]: row for part in parts for row in part["rows"]}
    names = [g[0] for g in configurations(args.quick)]
    rows = [found[name] for name in names if name in found]
    write_outputs(args, sizes, rows, sum(p["wall_seconds"] for p in parts),
                  final=len(rows) == len(names))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="16x16 lattice, 64-16-4 stack, 6 epochs, 4 configurations (< 60 s)")
    parser.add_argument("--only", nargs="+", default=None, help="configuration names to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(ROOT / "docs" / "results"),
                        help="folder of localisation.json and localisation.md")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"),
                        help="folder of localisation.png/.pdf")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="train nothing: combine the rows of studies run in parts (e.g. with "
                             "--only in parallel) into the outputs, in grid order")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    if args.merge:
        return merge(args, sizes)
    grid = [g for g in configurations(args.quick) if args.only is None or g[0] in args.only]
    if not grid:
        raise SystemExit("Error: --only names no configuration")
    started = time.perf_counter()
    cache, rows = {}, []
    for name, base, label, overrides in grid:
        rows.append(run_configuration(name, base, label, overrides, sizes, args.seed, cache))
        write_outputs(args, sizes, rows, time.perf_counter() - started, final=len(rows) == len(grid))
    return 0


def write_outputs(args, sizes, rows, wall, final):
    """Write the JSON, the table and (when ``final``) the figure; partial results after every
    configuration, so an interrupted study keeps what it measured (``complete`` says which)."""
    from analysis.figures import plot_localisation_study
    from rgdl.pipeline import NULL_SEPARATION_SIGMAS

    snapshots = [str(e) for e in snapshot_epochs(sizes["n_epochs"])]
    data = {"quick": args.quick, "seed": args.seed, "sizes": {k: (list(v) if isinstance(v, tuple)
                                                                 else v) for k, v in sizes.items()},
            "localised_ratio": LOCALISED_RATIO, "null_sigmas": NULL_SEPARATION_SIGMAS,
            "snapshots": snapshots, "complete": final, "rows": rows}
    results = Path(args.results)
    name = "localisation_quick" if args.quick else "localisation"
    _atomic_write(results / f"{name}.md", markdown(data))
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()} (shared; noisy timings)"
    _atomic_write(results / f"{name}.json",
                  json.dumps({**data, "wall_seconds": wall, "machine": machine}, indent=1,
                             allow_nan=False) + "\n")
    if final:
        plot_localisation_study(rows, Path(args.figures) / name, size=sizes["size"],
                                samples=sizes["n_samples"])
    log(f"wrote {results / name}.md/.json{' and the figure' if final else ''} ({wall:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())

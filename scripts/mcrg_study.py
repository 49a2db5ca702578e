"""Monte Carlo RG study of the critical 2D Ising model: majority rule, decimation and a learned
local-RBM stack, side by side (exponents y_T, y_h per level; coupling flows; fixed point).

    python scripts/mcrg_study.py --out docs/results/mcrg [--sizes 64 128] [--samples 20000]

Writes ``results.md`` (Markdown tables), ``mcrg_study.json`` and figures (``exponents``,
``coupling_flow``, ``kernels``; .png + .pdf) into ``--out``; refuses to replace them without
``--overwrite``.  Every random step is seeded from ``--seed``.

References: R. H. Swendsen, PRL 42, 859 (1979); Swendsen in *Real-Space Renormalization*
(Springer, 1982); P. Mehta and D. J. Schwab, arXiv:1410.3831 (2014).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import ising
from analysis.couplings import coupling_flow, flow_critical_point
from analysis.figures import plot_coupling_flow, plot_kernels, plot_mcrg_exponents
from analysis.mcrg import decimation_transform, majority_transform, mcrg
from ising.atomic import atomic_write_text
from rbm.local import LocalRBMStack, save_local_stack

K_C = float(ising.exact.critical_coupling())


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _r(levels, key):
    return [None if x[key] is None else round(x[key], 3) for x in levels]


def _f(value, fmt=".4f"):
    return "nan" if value is None else format(value, fmt)


def wolff(size, coupling, n, seed):
    t = time.perf_counter()
    r = ising.sample(2, size, 1.0, coupling=coupling, algorithm="wolff", n_samples=n, seed=seed)
    dt = time.perf_counter() - t
    log(f"  Wolff L={size} K={coupling:.5f}: {n} samples, burn-in {r.burn_in}, thin {r.thin}, "
        f"tau_int {r.tau_int:.2f} sweeps, {dt:.1f} s")
    return r, dt


def exponents(spins, transform, levels, seed):
    t = time.perf_counter()
    res = mcrg(spins, transform, levels, seed=seed)
    return [lv.to_dict() for lv in res.levels], time.perf_counter() - t


def best_level(levels, key, exact):
    """The level whose largest-truncation estimate is closest to the exact value."""
    return min(levels, key=lambda lv: abs(lv[key] - exact) if lv[key] is not None else np.inf)


def table(rows):
    lines = ["| L | transform | samples | level | coarse L | y_T | y_h |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for lv in r["levels"]:
            lines.append(f"| {r['size']} | {r['label']} | {r['samples']} | {lv['level']} | {lv['size']} | "
                         f"{_f(lv['y_T'])} ± {_f(lv['y_T_err'])} | {_f(lv['y_h'])} ± {_f(lv['y_h_err'])} |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/results/mcrg")
    p.add_argument("--sizes", type=int, nargs="+", default=[64])
    p.add_argument("--samples", type=int, default=20000, help="Wolff samples at K_c per size")
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--train-samples", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--flow-size", type=int, default=64)
    p.add_argument("--flow-samples", type=int, default=4000)
    p.add_argument("--flow-starts", type=float, nargs="+", default=[0.40, 0.42, K_C, 0.46, 0.48])
    p.add_argument("--b3-size", type=int, default=81,
                   help="lattice side of the majority-rule b=3 run (0 skips it)")
    p.add_argument("--b3-levels", type=int, default=2)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--overwrite", action="store_true")
    return p.parse_args(argv)


def exponent_study(a, root, out):
    """MCRG exponents per size (majority, decimation, learned stack) and majority b=3.

    Returns ``rows, figure_levels, kernels_fig, stack`` (the stack of ``--flow-size``, else the
    first trained, for the coupling flows)."""
    rows, figure_levels, kernels_fig = [], {}, {}
    stack64 = None
    for size in a.sizes:
        ss = root.spawn(1)[0]
        s_sample, s_maj, s_dec, s_train, s_learn = (int(x) for x in ss.generate_state(5))
        log(f"L={size}: sampling")
        r, t_samp = wolff(size, K_C, a.samples, s_sample)
        levels = a.levels
        for label, f, seed in (("majority b=2", majority_transform(2), s_maj),
                               ("decimation b=2", decimation_transform(2), s_dec)):
            lv, dt = exponents(r.spins, f, levels, seed)
            rows.append({"size": size, "label": label, "samples": a.samples, "levels": lv,
                         "seconds_mcrg": dt, "seconds_sampling": t_samp, "thin": r.thin,
                         "tau_int": r.tau_int})
            figure_levels[f"{label}, L={size}"] = lv
            log(f"  {label}: {dt:.1f} s; y_T {_r(lv, 'y_T')}, "
                f"y_h {_r(lv, 'y_h')}")
        t = time.perf_counter()
        stack = LocalRBMStack(levels, rbm_params={"block": 2, "kernel_size": 4, "n_epochs": a.epochs,
                                                  "learning_rate": 0.1}, random_state=s_train)
        stack.fit(r.spins[:a.train_samples])
        t_train = time.perf_counter() - t
        lv, dt = exponents(r.spins, stack.mcrg_transform(size), levels, s_learn)
        rows.append({"size": size, "label": "learned local RBM b=2 (w=4)", "samples": a.samples,
                     "levels": lv, "seconds_mcrg": dt, "seconds_training": t_train,
                     "train_samples": a.train_samples, "epochs": a.epochs,
                     "kernels": [layer.kernel_.tolist() for layer in stack.layers_],
                     "biases": [[layer.hidden_bias_, layer.visible_bias_] for layer in stack.layers_]})
        figure_levels[f"learned b=2, L={size}"] = lv
        log(f"  learned: training {t_train:.1f} s, MCRG {dt:.1f} s; y_T {_r(lv, 'y_T')}, "
            f"y_h {_r(lv, 'y_h')}")
        if size == a.flow_size or stack64 is None:
            stack64 = stack
            for i, layer in enumerate(stack.layers_):
                kernels_fig[f"learned layer {i + 1}"] = layer.kernel_
        save_local_stack(out / f"local_rbm_stack_L{size}.npz", stack, meta={"size": size, "coupling": K_C})

    if a.b3_size:
        ss = root.spawn(1)[0]
        s_sample, s_maj = (int(x) for x in ss.generate_state(2))
        log(f"L={a.b3_size}: sampling (majority b=3)")
        r, t_samp = wolff(a.b3_size, K_C, a.samples, s_sample)
        lv, dt = exponents(r.spins, majority_transform(3), a.b3_levels, s_maj)
        rows.append({"size": a.b3_size, "label": "majority b=3", "samples": a.samples, "levels": lv,
                     "seconds_mcrg": dt, "seconds_sampling": t_samp, "thin": r.thin, "tau_int": r.tau_int})
        figure_levels[f"majority b=3, L={a.b3_size}"] = lv
        log(f"  majority b=3: {dt:.1f} s; y_T {_r(lv, 'y_T')}, "
            f"y_h {_r(lv, 'y_h')}")
    return rows, figure_levels, kernels_fig, stack64


def flow_study(a, root, stack):
    """Coupling flows from several starting couplings (majority rule and the learned stack).

    Returns ``flows, fits, fixed, fixed_fig, seconds``."""
    log(f"coupling flows L={a.flow_size}, starts {a.flow_starts}")
    flows = {"majority b=2": [], "learned local RBM b=2": []}
    fits = {k: [] for k in flows}
    t = time.perf_counter()
    fseeds = root.spawn(len(a.flow_starts))
    for K0, fs in zip(a.flow_starts, fseeds):
        s_sample, s_maj, s_learn = (int(x) for x in fs.generate_state(3))
        r, _ = wolff(a.flow_size, K0, a.flow_samples, s_sample)
        for key, f, seed in (("majority b=2", majority_transform(2), s_maj),
                             ("learned local RBM b=2", stack.mcrg_transform(a.flow_size), s_learn)):
            fl = coupling_flow(r.spins, f, a.levels, seed=seed)
            fits[key].append(fl)
            flows[key].append((f"K0 = {K0:.4f}", np.array([c.couplings for c in fl]),
                               np.array([c.errors for c in fl])))
    t_flow = time.perf_counter() - t
    fixed, fixed_fig = {}, {}
    for key in flows:
        fixed[key] = [flow_critical_point(a.flow_starts, fits[key], level=n) for n in range(a.levels)]
        # mark the estimate of the last step whose measured flow changes direction over the starts
        good = [fp for fp in fixed[key] if fp["bracketed"]]
        if good:
            fixed_fig[key] = (good[-1]["fixed_point"], good[-1]["fixed_point_err"])
    log(f"  flows: {t_flow:.1f} s")
    return flows, fits, fixed, fixed_fig, t_flow


def results_markdown(a, rows, fixed, total):
    """``results.md``: exponent table, best levels, run times and the coupling-flow table."""
    md = [f"# Monte Carlo RG of the critical 2D Ising model (K_c = {K_C:.6f})", "",
          "Generated by `scripts/mcrg_study.py` "
          f"(seed {a.seed}); exact: y_T = 1, y_h = 15/8 = 1.875. Largest operator sets (9 even, 6 odd); "
          "jackknife errors over 20 blocks of samples. Level n = the RG step from lattice n-1 to n.", "",
          table(rows), ""]
    for r in rows:
        bt, bh = best_level(r["levels"], "y_T", 1.0), best_level(r["levels"], "y_h", 1.875)
        md.append(f"- L={r['size']} {r['label']}: best y_T = {_f(bt['y_T'])} ± {_f(bt['y_T_err'])} "
                  f"(level {bt['level']}), best y_h = {_f(bh['y_h'])} ± {_f(bh['y_h_err'])} (level {bh['level']})")
    md += ["", "Run times (s; shared 2-core machine, noisy): " + "; ".join(
        f"L={r['size']} {r['label']}: " + ", ".join(
            f"{k.replace('seconds_', '')} {r[k]:.0f}" for k in ("seconds_sampling", "seconds_training",
                                                                "seconds_mcrg") if k in r)
        for r in rows) + "."]
    md += ["", f"## Coupling flows (L={a.flow_size}, {a.flow_samples} Wolff samples per start; "
               "pseudo-likelihood couplings nn, nnn, plaquette)", "",
           "K0* is the starting coupling where the level-to-level change of K_nn changes sign (straight "
           "line through the steps of all starts); the fixed point is the couplings of the step's "
           "first level interpolated to K0*. 'no' = the steps do not change sign over the starts (the "
           "root is then an extrapolation, not a measurement).", "",
           "| transform | step | sign change | K0* (critical start) | fixed point (K_nn, K_nnn, K_plaq) |",
           "|---|---|---|---|---|"]
    for key, fps in fixed.items():
        for fp in fps:
            pt = ", ".join(f"{x:.4f} ± {e:.4f}" for x, e in zip(fp["fixed_point"], fp["fixed_point_err"]))
            md.append(f"| {key} | {fp['level']}→{fp['level'] + 1} | {'yes' if fp['bracketed'] else 'no'} | "
                      f"{fp['K0_star']:.4f} ± "
                      f"{fp['K0_star_err']:.4f} | {pt} |")
    md += ["", f"Total run time {total:.0f} s on a shared 2-core machine (timings noisy).", ""]
    return "\n".join(md)


def main(argv=None):
    a = parse_args(argv)
    out = Path(a.out)
    targets = [out / "results.md", out / "mcrg_study.json"] + [
        out / f"{s}.{e}" for s in ("exponents", "coupling_flow", "kernels") for e in ("png", "pdf")]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not a.overwrite:
        print(f"Error: {existing[0]} exists; use --overwrite", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(a.seed)
    t_start = time.perf_counter()
    rows, figure_levels, kernels_fig, stack = exponent_study(a, root, out)
    flows, fits, fixed, fixed_fig, t_flow = flow_study(a, root, stack)

    w = 4
    maj = np.zeros((w, w))
    maj[1:3, 1:3] = -1.0
    sizes = sorted({r["size"] for r in rows})
    plot_mcrg_exponents(figure_levels, out / "exponents", size=sizes, samples=a.samples)
    plot_coupling_flow(flows, out / "coupling_flow", fixed_points=fixed_fig, size=a.flow_size,
                       samples=f"{a.flow_samples:,} samples per start")
    plot_kernels({"majority rule (block sum)": maj, **kernels_fig}, out / "kernels",
                 size=a.flow_size if a.flow_size in a.sizes else a.sizes[0],
                 samples=f"{a.train_samples:,} training samples")

    total = time.perf_counter() - t_start
    record = {"coupling": K_C, "seed": a.seed, "args": vars(a), "rows": rows,
              "flows": {k: [{"K0": K0, "couplings": [c.to_dict() for c in fl]}
                            for K0, fl in zip(a.flow_starts, fits[k])] for k in fits},
              "fixed_points": fixed, "seconds_total": total, "seconds_flows": t_flow}
    atomic_write_text(out / "mcrg_study.json", json.dumps(record, indent=1, default=float))
    atomic_write_text(out / "results.md", results_markdown(a, rows, fixed, total))
    log(f"done in {total:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

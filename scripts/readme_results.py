"""Regenerate the numbers the README quotes, from the commands that produce them.

Every results table in README.md sits between ``<!-- results:NAME -->`` and
``<!-- /results:NAME -->`` and is, byte for byte, the file ``docs/results/NAME.md`` that this
script writes (with the raw numbers in ``docs/results/NAME.json``). Each entry names the
command that produced it in the table's first line. ``tests/test_readme.py`` fails when a
README block differs from its file, and reruns the cheap entries to check that the committed
files are still what the commands print.

Usage::

    python scripts/readme_results.py                 # every entry (the expensive ones take minutes)
    python scripts/readme_results.py --only flow1d   # one entry
    python scripts/readme_results.py --cheap         # the entries the test suite reruns
    python scripts/readme_results.py --check         # rerun, compare, write nothing (exit 1 on a difference)

then ``--update-readme`` copies the files into the README blocks.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from ising.atomic import atomic_write_bytes, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
FIGURES = ROOT / "docs" / "figures"
BLOCK = re.compile(r"<!-- results:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /results:(?P=name) -->\n",
                   re.DOTALL)


@dataclass(frozen=True)
class Entry:
    """One README result: how to produce its Markdown and JSON, and whether the suite reruns it.

    ``figures`` maps a file the command writes (relative to its scratch directory) to the name it
    is published under in ``docs/figures/``; ``outputs`` likewise to ``docs/results/`` (the
    command's own full result files, where the README quotes a summary of them).
    """

    command: str
    produce: Callable[[Path], tuple[str, object]]
    cheap: bool
    figures: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()


def _run(args, cwd=None, env=None) -> str:
    out = subprocess.run(args, cwd=cwd or ROOT, check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONHASHSEED="0", **(env or {})))
    return out.stdout


def _validation(quick: bool):
    def produce(tmp: Path):
        md = tmp / "validation.md"
        args = [sys.executable, str(ROOT / "scripts" / "validate_samplers.py"), "--seed", "0",
                "--out", str(md)] + (["--quick"] if quick else [])
        _run(args)
        return md.read_text(encoding="utf-8"), json.loads((tmp / "validation.md.json").read_text())
    return produce


def _small(x: float, floor: float = 1e-14) -> str:
    """KL values at machine precision are printed as a bound (their digits are rounding noise)."""
    return f"< {floor:.0e}" if abs(x) < floor else f"{x:.2e}"


FLOW1D_ARGS = ["flow1d", "-K", "1.0", "-N", "16", "--steps", "3", "--learned", "--seed", "0", "--json"]


def _flow1d(tmp: Path):
    data = json.loads(_run([sys.executable, "-m", "rgdl"] + FLOW1D_ARGS, cwd=tmp))
    lines = [f"`rgdl {' '.join(FLOW1D_ARGS[:-1])}` ({data['epochs']} epochs, "
             f"{data['samples']:,} exact samples per layer)", "",
             "| step | N | K decimation | K exact RBM | K majority | K learned | KL/spin exact RBM | KL/spin learned |",
             "|---|---|---|---|---|---|---|---|"]
    for s in data["steps"]:
        lines.append(f"| {s['step']} | {s['size']} | {s['K_decimation']:.5f} | {s['K_rbm_exact']:.5f} | "
                     f"{s['K_majority']:.4f} | {s['K_learned']:.4f} | {_small(s['kl_per_spin'])} | "
                     f"{_small(s['kl_per_spin_learned'])} |")
    data.pop("seconds", None)
    for s in data["steps"]:
        s.pop("learned_seconds", None)
    return "\n".join(lines) + "\n", data


COMPARE_2D = "from rgdl.decimation import compare_2d; import json; print(json.dumps(compare_2d(0.3, seed=0), default=list))"


def _compare_2d(tmp: Path):
    data = json.loads(_run([sys.executable, "-c", COMPARE_2D], cwd=tmp))
    data.pop("seconds", None)
    lines = ["`rgdl.decimation.compare_2d(0.3, seed=0)` (4×4 → 2×2 at K = 0.3, couplings of the "
             "coarse Hamiltonian fitted exactly by enumeration)", "",
             "| coarse-graining | nn | nnn | plaquette | field | fit residual (max) | KL/spin |",
             "|---|---|---|---|---|---|---|"]
    for key, label, kl in (("majority", "majority rule (exact)", "—"),
                           ("learned", "learned RBM, H^RBM (Eq. 21)", f"{data['kl_per_spin_learned']:.4f}")):
        c = data[key]
        lines.append(f"| {label} | {c['nn']:.3f} | {c['nnn']:.3f} | {c['plaquette']:.3f} | "
                     f"{0.0 if abs(c['field']) < 1e-12 else c['field']:.3f} | {_small(c['residual_max'], 1e-12)} | {kl} |")
    return "\n".join(lines) + "\n", data


MCRG_ARGS = ["--sizes", "64", "128", "--samples", "20000", "--levels", "3", "--seed", "2026"]


def mcrg_markdown(data) -> str:
    """The README's MCRG table from the JSON of scripts/mcrg_study.py (no timings)."""
    lines = [f"`python scripts/mcrg_study.py {' '.join(MCRG_ARGS)}` (Wolff samples at K_c; "
             f"{data['rows'][0]['samples']:,} per size; 9 even and 6 odd operators; "
             "jackknife errors over 20 blocks; exact y_T = 1, y_h = 15/8 = 1.875)", "",
             "| L | transform | level 1 y_T / y_h | level 2 y_T / y_h | level 3 y_T / y_h |",
             "|---|---|---|---|---|"]
    for row in data["rows"]:
        cells = [f"{lv['y_T']:.3f} ± {lv['y_T_err']:.3f} / {lv['y_h']:.4f} ± {lv['y_h_err']:.4f}"
                 for lv in row["levels"]]
        cells += ["–"] * (3 - len(cells))
        lines.append(f"| {row['size']} | {row['label']} | " + " | ".join(cells) + " |")
    lines += ["", "| transform | RG step | sign change | K0* | fixed point (K_nn, K_nnn, K_□) |",
              "|---|---|---|---|---|"]
    for label, points in data["fixed_points"].items():
        for fp in points:
            fixed = ", ".join(f"{v:.3f} ± {e:.3f}" for v, e in zip(fp["fixed_point"], fp["fixed_point_err"]))
            lines.append(f"| {label} | {fp['level']}→{fp['level'] + 1} | "
                         f"{'yes' if fp['bracketed'] else 'no (extrapolated)'} | "
                         f"{fp['K0_star']:.4f} ± {fp['K0_star_err']:.4f} | {fixed} |")
    return "\n".join(lines) + "\n"


def _mcrg(tmp: Path):
    _run([sys.executable, str(ROOT / "scripts" / "mcrg_study.py"), "--out", str(tmp / "mcrg")] + MCRG_ARGS)
    data = json.loads((tmp / "mcrg" / "mcrg_study.json").read_text())
    return mcrg_markdown(data), data


def bench_markdown(data) -> str:
    """The README's benchmark table from `rgdl bench all --json` (machine in the first line)."""
    def num(x):
        if x is None:
            return "–"
        return f"{x / 1e6:,.1f} M" if abs(x) >= 1e6 else (f"{x / 1e3:,.1f} k" if abs(x) >= 1e3
                                                           else f"{x:,.3g}")
    lines = ["`rgdl bench all --json` on " + data["environment"], "",
             "| benchmark | rgdl | peer | peer value | unit | ratio | target | pass |",
             "|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        ratio = r.get("ratio")
        ratio = "–" if ratio is None or ratio != ratio else f"{ratio:.2f}×"
        verdict = "info" if r.get("target") is None else {True: "✓", False: "✗"}.get(r.get("passed"), "–")
        lines.append(f"| {r['name']} | {num(r.get('ours'))} | {r.get('peer_name') or '–'} | "
                     f"{num(r.get('peer'))} | {r.get('unit', '')} | {ratio} | "
                     f"{(r.get('target') or '–').replace('>=', '≥').replace('<=', '≤')} | {verdict} |")
    return "\n".join(lines) + "\n"


def _bench(tmp: Path):
    data = json.loads(_run([sys.executable, "-m", "rgdl", "bench", "all", "--json"], cwd=tmp))
    return bench_markdown(data), data


#: The same benchmark with every kernel compiled for AVX2 (Numba's Haswell target, OpenBLAS's
#: Haswell kernels): what a CPU without AVX-512 runs, measured on the same machine.
AVX2_ENV = {"NUMBA_CPU_NAME": "haswell", "OPENBLAS_CORETYPE": "Haswell"}


def _bench_avx2(tmp: Path):
    data = json.loads(_run([sys.executable, "-m", "rgdl", "bench", "all", "--json"], cwd=tmp,
                           env=AVX2_ENV))
    return bench_markdown(data), data


def _localisation(tmp: Path):
    _run([sys.executable, str(ROOT / "scripts" / "localisation_study.py"), "--results", str(tmp),
          "--figures", str(tmp)])
    return ((tmp / "localisation.md").read_text(encoding="utf-8"),
            json.loads((tmp / "localisation.json").read_text()))


RECIPE_NAMES = ("rgdl", "hinton", "hinton-l1")


def recipes_markdown(summaries) -> str:
    """The README's recipe comparison from the summary.json of each `rgdl reproduce --recipe`."""
    lines = ["`rgdl reproduce --quick --recipe NAME` for NAME = " + ", ".join(RECIPE_NAMES)
             + " (16×16 at coupling 0.408, 2,000 samples, 256-64-16-4, 20 epochs, seed 0)", "",
             "| recipe | layer | RF radius (untrained) | best b | fidelity ± err | nulls: untrained / shuffled | separated (margin) |",
             "|---|---|---|---|---|---|---|"]
    for name, summary in summaries.items():
        for l, layer in enumerate(summary["layers"]):
            nulls = " / ".join(f"{layer['block_fidelity_null'][k]:.3f}" for k in ("untrained", "shuffled"))
            margin = layer["null_margin_sigma"]
            margin = "–" if margin is None else f"{margin:+.1f} σ"
            lines.append(f"| {name} | {l + 1} | {layer['receptive_field_radius']:.2f} "
                         f"({layer['receptive_field_radius_untrained']:.2f}) | {layer['best_block_size']} | "
                         f"{layer['block_fidelity']:.3f} ± {layer['block_fidelity_error']:.3f} | {nulls} | "
                         f"{'yes' if layer['separated_from_null'] else 'no'} ({margin}) |")
    return "\n".join(lines) + "\n"


def _recipes(tmp: Path):
    summaries = {}
    for name in RECIPE_NAMES:
        _run([sys.executable, "-m", "rgdl", "reproduce", "--quick", "--recipe", name, "-q",
              "--out", str(tmp / name)], cwd=tmp)
        summary = json.loads((tmp / name / "summary.json").read_text())
        summaries[name] = {"config": summary["config"], "layers": summary["layers"]}
    return recipes_markdown(summaries), summaries


def _pm(est, digits=3) -> str:
    """``value ± error`` of a {"value", "error"} record (or "—" when absent)."""
    if not est or est.get("value") is None:
        return "—"
    return f"{est['value']:.{digits}f} ± {est['error']:.{digits}f}"


def _rel(est) -> str:
    """A relative error record as a signed percentage with its error."""
    return f"{100 * est['value']:+.1f} ± {100 * est['error']:.1f} %"


PAPER_ARGS = ["reproduce", "--paper", "--seed", "0"]


def paper_markdown(summary, report_head: str = "") -> str:
    """The README's table of the paper's experiment from ``rgdl reproduce``'s summary.json."""
    cfg, t = summary["config"], summary.get("timings", {})
    layers = summary["layers"]
    n_visible = cfg["size"] ** 2
    widths = [n_visible] + list(cfg["layers"])
    # "train" is the sum of "train_stack" and "train_null": the stages, not the parts, add up
    stages = {k: v for k, v in t.items() if isinstance(v, (int, float))
              and not (k in ("train_stack", "train_null") and "train" in t)}
    wall = sum(stages.values())
    lines = [f"`rgdl {' '.join(PAPER_ARGS)}` ({cfg['size']}×{cfg['size']} periodic lattice, coupling "
             f"{cfg['coupling']} at T = {cfg['temperature']}, {cfg['n_samples']:,} {cfg['algorithm']} "
             f"samples, stack {'-'.join(str(w) for w in widths)} of {cfg['units']}-unit RBMs, "
             f"CD-{cfg['cd_k']}, {cfg['n_epochs']} epochs per layer, batch {cfg['batch_size']}, "
             f"learning rate {cfg['learning_rate']}, L1 {cfg['l1']}; stage times of this run "
             f"{wall:.0f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
             + " — not a speed figure: a resumed stage counts only its resumed part and other jobs "
             "may share the machine; `rgdl bench` measures speed)", "",
             "| layer | units | RF radius (untrained) | best b | fidelity ± err (ceiling) | "
             "nulls: untrained / shuffled | vs nulls | local fidelity (nulls) | ξ of the layer (RG: ξ₀/b) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, (lay, units) in enumerate(zip(layers, cfg["layers"]), start=1):
        null, lnull = lay["block_fidelity_null"], lay["block_fidelity_local_null"]
        sep = (f"separated ({lay['null_margin_sigma']:+.1f} σ)" if lay["separated_from_null"]
               else f"**not separated** ({lay['null_margin_sigma']:+.1f} σ)")
        xi = lay.get("correlation_length")
        xi = "—" if xi is None else f"{xi['value']:.2f} ± {xi['error']:.2f}"
        lines.append(f"| {i} | {units} | {lay['receptive_field_radius']:.2f} "
                     f"({lay['receptive_field_radius_untrained']:.2f}) | {lay['best_block_size']} | "
                     f"{lay['block_fidelity']:.3f} ± {lay['block_fidelity_error']:.3f} "
                     f"({lay['block_fidelity_ceiling']:.3f}) | {null['untrained']:.3f} / "
                     f"{null['shuffled']:.3f} | {sep} | {lay['block_fidelity_local']:.3f} "
                     f"({lnull['untrained']:.3f} / {lnull['shuffled']:.3f}) | {xi} "
                     f"({lay['rg_expected_correlation_length']:.2f}) |")
    gen = summary
    lines += ["",
              f"- Data: ξ = {_pm(summary['correlation_length_data'], 2)} lattice spacings "
              "(second-moment estimator).",
              f"- First RBM's Gibbs chains: R̂ = {gen['generation_rhat']:.2f} "
              f"({'equilibrated' if gen['generation_equilibrated'] else 'not equilibrated: no generation numbers'})"
              + ("" if not gen["generation_equilibrated"] else
                 f"; ⟨E⟩/N {_rel(gen['generated_energy_rel_error'])}, ⟨|M|⟩/N "
                 f"{_rel(gen['generated_abs_magnetization_rel_error'])}") + ".",
              f"- Whole stack: R̂ = {gen['stack_generation_rhat']:.2f} "
              f"({'equilibrated' if gen['stack_generation_equilibrated'] else 'not equilibrated'}); "
              f"generated ⟨E⟩/N {_rel(gen['stack_generated_energy_rel_error'])}, ⟨|M|⟩/N "
              f"{_rel(gen['stack_generated_abs_magnetization_rel_error'])} vs Monte Carlo.",
              f"- KL(P_Ising ‖ p_RBM1) = {_pm(summary['kl_per_spin_layer1'], 3)} nats per spin "
              f"(AIS lower bound on ln Z; halving the AIS schedule moves it by "
              f"{summary['kl_ais_schedule_shift_per_spin']:+.4f}).",
              f"- RBM flow of the first RBM: T* = {_pm(summary['rbm_flow_fixed_point_T'], 2)} "
              f"(T_c = {summary['rbm_flow_critical_T']:.3f}, training T = "
              f"{summary['rbm_flow_training_T']:.3f})."]
    return "\n".join(lines) + "\n"


def _paper(tmp: Path):
    out = tmp / "paper"
    # --force: the analysis and figures are recomputed by the current code even when a kept
    # workdir holds the cached data and models of this configuration
    _run([sys.executable, "-m", "rgdl"] + PAPER_ARGS + ["--out", str(out), "--force", "-q"], cwd=tmp)
    summary = json.loads((out / "summary.json").read_text())
    return paper_markdown(summary), summary


GENERATIVE_ARGS = ["--seed", "0"]
GENERATIVE_MODELS_ARGS = ["--models", "3", "--seed", "0"]


def generative_markdown(results, args) -> str:
    """The README's generative-check table from scripts/generative_check.py's JSON."""
    first = results[0]["models"][0]
    many = len(results[0]["models"]) > 1
    head = (f"`python scripts/generative_check.py {' '.join(args)}` ({first.get('size', 8)}×"
            f"{first.get('size', 8)} lattice, {len(results[0]['models'])} model(s) per temperature)")
    if not many:
        lines = [head, "", "| T | R̂ (E, \\|M\\|) | ⟨E⟩/N relative error | ⟨\\|M\\|⟩/N relative error |",
                 "|---|---|---|---|"]
        for r in results:
            m = r["models"][0]
            rh = m["rhat"]
            verdict = "equilibrated" if m["equilibrated"] else "NOT equilibrated"
            rel = m["relative_error"]
            lines.append(f"| {r['temperature']:.2f} | {max(rh.values()):.2f} ({verdict}) | "
                         f"{_rel(rel['energy'])} | {_rel(rel['abs_magnetization'])} |")
        return "\n".join(lines) + "\n"
    lines = [head, "", "| T | ⟨E⟩/N rel. error, mean (model spread) | ⟨\\|M\\|⟩/N rel. error, mean "
             "(model spread) | all equilibrated |", "|---|---|---|---|"]
    for r in results:
        s = r["summary"]
        cells = [f"{_rel(s[o])} ({100 * s[o]['spread']:.1f} %)" for o in ("energy", "abs_magnetization")]
        lines.append(f"| {r['temperature']:.2f} | {cells[0]} | {cells[1]} | "
                     f"{'yes' if s['equilibrated'] else 'no'} |")
    return "\n".join(lines) + "\n"


def _generative(args, folder):
    def produce(tmp: Path):
        out = tmp / folder
        _run([sys.executable, str(ROOT / "scripts" / "generative_check.py"), "--out", str(out)] + args)
        results = json.loads((out / "generative_check.json").read_text())
        return generative_markdown(results, args), results
    return produce


FSS_ARGS = ["--workers", "2", "--seed", "0"]


def fss_markdown(data) -> str:
    """The README's finite-size-scaling numbers from scripts/fss_sweep.py's fss.json."""
    c = data["crossing"]
    lines = [f"`python scripts/fss_sweep.py {' '.join(FSS_ARGS)}` (Wolff, 12 temperatures 2.20…2.34 × "
             "L = 16, 32, 64, 10,000 samples per point)", "",
             "| quantity | measured | exact |", "|---|---|---|"]
    if c is not None:
        lines.append(f"| T_c (Binder crossing, largest pair) | {c['temperature']:.4f} ± {c['error']:.4f} "
                     f"({100 * data['tc_relative_deviation']:+.2f} %) | {data['tc_exact']:.5f} |")
        for p in c["pairs"]:
            lines.append(f"| crossing L = {p['sizes'][0]}/{p['sizes'][1]}: T, U* | {p['temperature']:.4f} ± "
                         f"{p['error']:.4f}, {p['binder']:.4f} ± {p['binder_error']:.4f} | U* = 0.6107 |")
    g = data.get("gamma_over_nu")
    if g:
        lines.append(f"| γ/ν (susceptibility peaks) | {g['value']:.3f} ± {g['error']:.3f} | {g['exact']:.3f} |")
    return "\n".join(lines) + "\n"


def _fss(tmp: Path):
    out = tmp / "fss"
    _run([sys.executable, str(ROOT / "scripts" / "fss_sweep.py"), "--out", str(out)] + FSS_ARGS)
    data = json.loads((out / "fss.json").read_text())
    return fss_markdown(data), data


ISO_ARGS = ["--name", "iso_flow_long", "--steps", "2000", "--epochs", "100", "--modes", "sample"]


def iso_markdown(data) -> str:
    """The README's fixed-point table of the Iso-protocol RBM flow from scripts/iso_flow_study.py's JSON."""
    run = data["runs"][0]
    res, s = run["result"], run["result"]["settings"]
    tc = res["critical_temperature"]
    temps = s["temperatures"]
    lines = [f"`python scripts/iso_flow_study.py {' '.join(ISO_ARGS)}` ({s['size']}×{s['size']} periodic "
             f"lattice, {s['algorithm']} data at {len(temps)} temperatures {temps[0]:g}…{temps[-1]:g}, "
             f"{s['n_samples']:,} configurations each, pooled; {s['units']}-unit RBMs, CD-{s['cd_k']}, "
             f"{run['epochs']} epochs; {s['n_flow']} flows from each T0 = "
             f"{', '.join(f'{t:g}' for t in s['start_temperatures'])}, {s['n_steps']} {run['mode']} steps; "
             f"T* = mean over starts of the last {s['last']} steps)", "",
             "| hidden units | T* ± err | (T* − T_c)/T_c | spread over starts |", "|---|---|---|---|"]
    models = [(str(m["n_hidden"]), m) for m in res["models"]]
    c = res.get("single_temperature")
    if c is not None:
        models.append((f"{c['n_hidden']} (contrast: trained at T = {c['T']:g} only)", c))
    for label, m in models:
        fp = m["fixed_point"]
        lines.append(f"| {label} | {fp['value']:.3f} ± {fp['error']:.3f} | "
                     f"{100 * (fp['value'] - tc) / tc:+.1f} % | {fp['spread']:.3f} |")
    th = res["thermometer"]
    mix = th["training_mixture"]
    lines += ["", f"T_c = {tc:.4f}. Thermometer on independent Monte Carlo samples: "
              + ", ".join(f"T = {r['T']:g} reads {r['T_eff']:.3f} ± {r['T_eff_err']:.3f}"
                          for r in th["validation"])
              + f"; the pooled training data itself reads {mix['value']:.3f} ± {mix['error']:.3f}."]
    return "\n".join(lines) + "\n"


def _iso(tmp: Path):
    out = tmp / "iso"
    _run([sys.executable, str(ROOT / "scripts" / "iso_flow_study.py"), *ISO_ARGS, "--results", str(out),
          "--figures", str(out), "--models", str(tmp / "models")])
    data = json.loads((out / "iso_flow_long.json").read_text())
    fixed = {"settings": data["runs"][0]["result"]["settings"],
             "models": [{"n_hidden": m["n_hidden"], "fixed_point": m["fixed_point"]}
                        for m in data["runs"][0]["result"]["models"]],
             "thermometer_validation": data["runs"][0]["result"]["thermometer"]["validation"]}
    return iso_markdown(data), fixed


ENTRIES = {
    "validation_quick": Entry("python scripts/validate_samplers.py --quick --seed 0",
                              _validation(True), cheap=True),
    "validation": Entry("python scripts/validate_samplers.py --seed 0", _validation(False),
                        cheap=False),
    "flow1d": Entry("rgdl " + " ".join(FLOW1D_ARGS[:-1]), _flow1d, cheap=True),
    "bench": Entry("rgdl bench all --json", _bench, cheap=False),
    "bench_avx2": Entry(" ".join(f"{k}={v}" for k, v in AVX2_ENV.items()) + " rgdl bench all --json",
                        _bench_avx2, cheap=False),
    "mcrg": Entry("python scripts/mcrg_study.py " + " ".join(MCRG_ARGS), _mcrg, cheap=False),
    "recipes": Entry("rgdl reproduce --quick --recipe NAME (rgdl, hinton, hinton-l1)", _recipes,
                     cheap=False),
    "localisation": Entry("python scripts/localisation_study.py", _localisation, cheap=False,
                          figures=(("localisation.png", "localisation.png"),)),
    "compare_2d": Entry("python -c '" + COMPARE_2D + "'", _compare_2d, cheap=True),
    "paper": Entry("rgdl " + " ".join(PAPER_ARGS), _paper, cheap=False,
                   figures=tuple((f"paper/figures/{n}.png", f"{n}.png") for n in
                                 ("receptive_fields", "fidelity", "correlation_lengths",
                                  "reconstructions"))),
    "generative": Entry("python scripts/generative_check.py " + " ".join(GENERATIVE_ARGS),
                        _generative(GENERATIVE_ARGS, "generative"), cheap=False,
                        figures=(("generative/generative_check.png", "generative_check.png"),)),
    "generative_models": Entry("python scripts/generative_check.py " + " ".join(GENERATIVE_MODELS_ARGS),
                               _generative(GENERATIVE_MODELS_ARGS, "generative_models"), cheap=False),
    "iso_fixed_points": Entry("python scripts/iso_flow_study.py " + " ".join(ISO_ARGS), _iso, cheap=False,
                              figures=(("iso/iso_flow_long_flows.png", "iso_flow_long_flows.png"),),
                              outputs=(("iso/iso_flow_long.md", "iso_flow_long.md"),
                                       ("iso/iso_flow_long.json", "iso_flow_long.json"))),
    "fss": Entry("python scripts/fss_sweep.py " + " ".join(FSS_ARGS), _fss, cheap=False,
                 figures=(("fss/fss.png", "fss.png"),)),
}


def produce(name: str, workdir: Path | None = None, publish: bool = False) -> tuple[str, object]:
    """Run entry ``name`` in a scratch directory; returns (markdown, json object).

    ``workdir`` keeps the commands' outputs (and the caches of resumable commands such as
    ``rgdl reproduce`` and ``rgdl sweep``) between runs; ``publish`` copies the entry's figures
    into ``docs/figures/``.
    """
    def run(tmp: Path):
        markdown, data = ENTRIES[name].produce(tmp)
        if publish:
            for src, dest in ENTRIES[name].figures:
                (FIGURES / dest).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(FIGURES / dest, (tmp / src).read_bytes())
            for src, dest in ENTRIES[name].outputs:
                atomic_write_bytes(RESULTS / dest, (tmp / src).read_bytes())
        return markdown, data

    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return run(workdir)
    with tempfile.TemporaryDirectory(prefix="rgdl-results-") as tmp:
        return run(Path(tmp))


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def readme_blocks(text: str) -> dict[str, str]:
    """The results blocks of a README text, name -> body."""
    return {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}


def update_readme(readme: Path = ROOT / "README.md") -> list[str]:
    """Copy docs/results/NAME.md into every README block; returns the names updated."""
    text = readme.read_text(encoding="utf-8")
    names = []

    def sub(m):
        name = m.group("name")
        names.append(name)
        body = (RESULTS / f"{name}.md").read_text(encoding="utf-8")
        return f"<!-- results:{name} -->\n{body}<!-- /results:{name} -->\n"

    new = BLOCK.sub(sub, text)
    if new != text:
        atomic_write_text(readme, new)
    return names


@click.command()
@click.option("--only", multiple=True, type=click.Choice(sorted(ENTRIES)), help="Entries to run.")
@click.option("--cheap", is_flag=True, help="Only the entries the test suite reruns.")
@click.option("--check", is_flag=True, help="Rerun and compare with the committed files; write nothing.")
@click.option("--update-readme", "update", is_flag=True,
              help="Copy the result files into the README blocks.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the commands' outputs here (resumable commands reuse their caches).")
def main(only, cheap, check, update, workdir):
    """Regenerate docs/results/*.md|json from their commands."""
    names = list(only) or [n for n, e in ENTRIES.items() if e.cheap or not cheap]
    differ = []
    for name in names:
        click.echo(f"{name}: {ENTRIES[name].command}", err=True)
        markdown, data = produce(name, None if workdir is None else workdir / name,
                                 publish=not check)
        path = RESULTS / f"{name}.md"
        if check:
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if old != markdown:
                differ.append(name)
            continue
        RESULTS.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, markdown)
        atomic_write_text(RESULTS / f"{name}.json", json.dumps(_jsonable(data), indent=1) + "\n")
    if update and not check:
        click.echo("README blocks updated: " + ", ".join(update_readme()), err=True)
    if differ:
        click.echo("differ from the committed results: " + ", ".join(differ), err=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main()

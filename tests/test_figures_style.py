"""Every figure function follows the shared style (analysis.figure_style), checked on the canvas.

Each public figure function -- ``analysis.figures.plot_*``, ``analysis.fss.plot_fss``,
``rgdl.flowplot.plot_*`` and the scripts' ``plot_*`` -- is rendered on tiny synthetic data and
the drawn figure (Agg renderer, after ``canvas.draw()``) is checked:

* no artist falls outside the canvas: texts, titles, axis labels, tick labels, legends and
  colour bars (their axes are figure axes too), compared with ``fig.bbox`` in display pixels;
* no legend covers a plotted data point (the legend's window extent against the display
  coordinates of every line vertex, marker, error-bar end and scatter point inside the axes);
* the caption or a title states the lattice size ``L = ...`` and the sample count ``n = ...``;
* log axes carry no ``a x 10^b`` labels where plain numbers fit (``6x10^0``);
* tick labels of one axis do not overlap each other.

The checks themselves are shown to fail on deliberately broken figures (a huge y label with
constrained layout off, a legend over the data, no caption, crowded tick labels), so they cannot
pass vacuously.

The callers are checked too: ``rgdl mcrg`` (:func:`rgdl.mcrg.write_outputs`), ``rgdl rbmflow``
and ``scripts/iso_flow_study.py`` must put the lattice size and the sample counts of the data
they draw into every caption (the data are synthetic, so the checks take a second).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.text import Text

from analysis import figure_style, figures, fss, iso_flow
from analysis.thermodynamics import Estimate
from rgdl import flowplot
from rgdl import mcrg as rgdl_mcrg
from rgdl.cli import main as rgdl_main

ROOT = Path(__file__).resolve().parent.parent
TOL = 1.0  # pixels of slack for anti-aliasing and rounding


# ----------------------------------------------------------------------------------------------
# the checks
# ----------------------------------------------------------------------------------------------
def _renderer(fig):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _drawn_tick_labels(ax):
    """Tick labels of ticks inside the view limits (the ones matplotlib draws)."""
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
        for locs, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                             (axis.get_minorticklocs(), axis.get_minorticklabels())):
            out += [t for loc, t in zip(locs, labels) if lo - slack <= loc <= hi + slack]
    return out


def _texts(fig):
    """Every text-like artist that must be on the canvas, with a name for messages."""
    out = [("figure text", t) for t in fig.get_children() if isinstance(t, Text)]  # suptitle too
    out += [("figure legend", leg) for leg in fig.legends]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        out += [(f"axes {i} title", t) for t in (ax.title,) if t.get_text()]
        out += [(f"axes {i} xlabel", ax.xaxis.label), (f"axes {i} ylabel", ax.yaxis.label)]
        out += [(f"axes {i} tick label {t.get_text()!r}", t) for t in _drawn_tick_labels(ax)]
        # a watermark clipped to the axes (in_layout False, clip_on) cannot leave the canvas
        out += [(f"axes {i} text {t.get_text()[:20]!r}", t) for t in ax.texts
                if t.get_in_layout() or not t.get_clip_on()]
        if ax.get_legend() is not None:
            out.append((f"axes {i} legend", ax.get_legend()))
    return [(name, a) for name, a in out
            if a.get_visible() and (not hasattr(a, "get_text") or a.get_text().strip())]


def clipped_artists(fig):
    """Names of the artists whose window extent leaves the canvas."""
    renderer = _renderer(fig)
    box = fig.bbox
    bad = []
    for name, artist in _texts(fig):
        ext = artist.get_window_extent(renderer)
        if (ext.x0 < box.x0 - TOL or ext.y0 < box.y0 - TOL or ext.x1 > box.x1 + TOL
                or ext.y1 > box.y1 + TOL):
            bad.append(f"{name} at {ext.bounds} outside {box.bounds}")
    return bad


def _data_points(ax):
    """Display coordinates (n, 2) of the plotted data of ``ax`` that lie inside the axes."""
    pts = []
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=float)
        if xy.size:
            pts.append(line.get_transform().transform(xy))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            pts.append(coll.get_offset_transform().transform(np.asarray(coll.get_offsets())))
        elif isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                if len(seg):
                    pts.append(coll.get_transform().transform(np.asarray(seg, dtype=float)))
    if not pts:
        return np.zeros((0, 2))
    pts = np.concatenate(pts)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    box = ax.get_window_extent()
    inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
              & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
    return pts[inside]


def legends_over_data(fig):
    """Legends whose box contains a data point of any axes."""
    renderer = _renderer(fig)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    bad = []
    for leg in legends:
        ext = leg.get_window_extent(renderer)
        for i, ax in enumerate(fig.axes):
            pts = _data_points(ax)
            hit = ((pts[:, 0] > ext.x0) & (pts[:, 0] < ext.x1)
                   & (pts[:, 1] > ext.y0) & (pts[:, 1] < ext.y1))
            if hit.any():
                bad.append(f"legend at {ext.bounds} covers {int(hit.sum())} point(s) of axes {i}")
    return bad


def legends_over_text(fig):
    """Legends overlapping a title, label, tick label or another legend."""
    renderer = _renderer(fig)
    items = [(name, a, a.get_window_extent(renderer)) for name, a in _texts(fig)]
    bad = []
    for name, leg, ext in items:
        if "legend" not in name:
            continue
        for other, artist, box in items:
            if artist is not leg and ext.overlaps(box) and box.width > 0 and box.height > 0:
                bad.append(f"{name} overlaps {other}")
    return bad


def caption_text(fig):
    titles = [t.get_text() for t in fig.get_children() if isinstance(t, Text)]
    titles += [ax.get_title() for ax in fig.axes]
    return "\n".join(titles)


def states_size_and_samples(fig):
    text = caption_text(fig)
    return bool(re.search(r"\bL = \d", text)) and bool(re.search(r"\bn = \S", text))


def overlapping_tick_labels(fig):
    """Pairs of drawn tick labels of one axis whose boxes overlap (unreadable numbers)."""
    renderer = _renderer(fig)
    bad = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        drawn = set(map(id, _drawn_tick_labels(ax)))
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = [t for t in axis.get_majorticklabels() + axis.get_minorticklabels()
                      if id(t) in drawn and t.get_visible() and t.get_text().strip()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for j in range(len(labels)):
                for k in range(j + 1, len(labels)):
                    if boxes[j].overlaps(boxes[k]) and boxes[j].width > 0 and boxes[k].width > 0:
                        bad.append(f"axes {i} {name} tick labels {labels[j].get_text()!r} and "
                                   f"{labels[k].get_text()!r} overlap")
    return bad


def scientific_log_labels(fig):
    """Tick labels like ``6\\times10^{0}`` on log axes (mathtext products)."""
    _renderer(fig)
    bad = []
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                bad += [t.get_text() for t in _drawn_tick_labels(ax) if "times" in t.get_text()]
    return bad


# ----------------------------------------------------------------------------------------------
# every figure function on tiny data
# ----------------------------------------------------------------------------------------------
def _script(name):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fss_result():
    rng = np.random.default_rng(0)
    rows = {k: [] for k in ("size", "temperature", "binder", "binder_error", "susceptibility",
                            "susceptibility_error", "abs_magnetization",
                            "abs_magnetization_error")}
    for L in (8, 16):
        for T in np.linspace(2.1, 2.45, 8):
            x = (T - fss.TC_EXACT) * L
            for key, value in (("binder", 0.6 - 0.25 * np.tanh(x / 3)),
                               ("susceptibility", L ** 1.75 * np.exp(-(x - 1) ** 2 / 8)),
                               ("abs_magnetization", L ** -0.125 * (1 - np.tanh(x / 4)) / 2)):
                rows[key].append(value * (1 + 0.002 * rng.standard_normal()))
                rows[key + "_error"].append(0.005 * abs(value))
            rows["size"].append(L)
            rows["temperature"].append(T)
    return fss.analyze({k: np.asarray(v) for k, v in rows.items()}, n_bootstrap=20)


def _cases(tmp):
    """``name -> zero-argument callable`` drawing one figure; L = 8, n = 100 everywhere."""
    rng = np.random.default_rng(0)
    L, n = 8, 100
    ln = {"size": L, "samples": n}
    scan = {"block_sizes": [1, 2, 4], "fidelity": [0.3, 0.6, 0.4], "fidelity_error": [0.01] * 3,
            "ceiling": [1.0, 0.8, 0.75], "best_block_size": 2}
    rel = {"energy": {"value": 0.01, "error": 0.005},
           "abs_magnetization": {"value": -0.02, "error": 0.01}}
    layer = {"block_fidelity": 0.6, "block_fidelity_error": 0.01,
             "block_fidelity_null": {"untrained": 0.4, "shuffled": 0.5}}
    study = [{"temperature": t, "layers": [layer, layer],
              "kl_per_spin_layer1": {"value": 0.05, "error": 0.01}} for t in (2.0, 2.5, 3.0)]
    flows = [{"T0": t0, "T_eff": np.linspace(t0, 2.3, 5), "T_eff_err": np.full(5, 0.05)}
             for t0 in (1.5, 3.5)]
    models = [{"n_hidden": h, "flows": flows, "fixed_point": {"value": 2.3, "error": 0.05}}
              for h in (16, 64)]
    level = {"level": 1, "y_T": 0.98, "y_T_err": 0.02, "y_h": 1.87, "y_h_err": 0.01}
    levels = [level, dict(level, level=2, y_T=1.01)]
    K = np.array([[0.44, 0.0], [0.40, 0.05], [0.35, 0.07]])
    r = np.arange(6)
    step = {"K_decimation": 0.3, "K_rbm_exact": 0.3, "K_majority": 0.35}
    bench = _script("fss_sweep")
    return {
        "plot_receptive_fields": lambda: figures.plot_receptive_fields(
            [rng.normal(size=(L * L, 16)), rng.normal(size=(L * L, 4))], (L, L), tmp / "rf",
            n_units=3, samples=n),
        "plot_localization": lambda: figures.plot_localization(
            [rng.random(16), rng.random(4)], [rng.random(16), rng.random(4)], tmp / "loc", **ln),
        "plot_reconstructions": lambda: figures.plot_reconstructions(
            rng.choice([-1, 1], size=(3, L, L)), [rng.random((3, L, L)) * 2 - 1], tmp / "rec",
            samples=n),
        "plot_fidelity": lambda: figures.plot_fidelity(
            [scan, scan], tmp / "fid", nulls={"untrained": [scan, scan], "shuffled": [scan, scan]},
            **ln),
        "plot_correlation_lengths": lambda: figures.plot_correlation_lengths(
            [1.0, 0.5], [0.1, 0.05], 2.0, 0.1, [2.0, 4.0], tmp / "xi",
            block_xi={2: Estimate(1.0, 0.1)}, note="layer 3: xi omitted", **ln),
        "plot_correlation_functions": lambda: figures.plot_correlation_functions(
            {"MC": (r, np.exp(-r / 3)), "RBM": (r, np.exp(-r / 2), 0.01 * r)}, tmp / "g",
            unusable={"RBM": "NOT EQUILIBRATED (R-hat = 1.6)"}, **ln),
        "plot_thermodynamics": lambda: figures.plot_thermodynamics(
            {"RBM 1": rel, "stack": rel}, tmp / "thermo", **ln),
        "plot_rbm_flow": lambda: figures.plot_rbm_flow(
            np.arange(4), [[3, 2.6, 2.4, 2.3], [1.5, 2.0, 2.2, 2.25]], [3.0, 1.5], tmp / "flow",
            critical_temperature=2.269, training_temperature=2.5, **ln),
        "plot_generative_check": lambda: figures.plot_generative_check(
            [2.0, 2.5, 3.0], {"energy": [(-1.7, 0.01), (-1.2, 0.01), (-0.8, 0.01)]},
            {"energy": [(-1.68, 0.01), (-1.21, 0.02), (-0.81, 0.01)]}, tmp / "gen", **ln),
        "plot_temperature_study": lambda: figures.plot_temperature_study(study, tmp / "st", **ln),
        "plot_iso_flows": lambda: figures.plot_iso_flows(models, tmp / "iso", **ln),
        "plot_iso_fixed_points": lambda: figures.plot_iso_fixed_points(
            [("final", [16, 64], [2.1, 2.3], [0.05, 0.05])], tmp / "fp", n_visible=64, **ln),
        "plot_mcrg_exponents": lambda: figures.plot_mcrg_exponents(
            {"majority b=2": levels, "decimation b=2": levels}, tmp / "mcrg", **ln),
        "plot_coupling_flow": lambda: figures.plot_coupling_flow(
            {"majority b=2": [("K0 = 0.44", K, np.full_like(K, 0.01))],
             # one well-determined point: the view zooms in to it (long tick labels)
             "learned b=2": [("K0 = 0.44", K + [[0.0, 0.0], [0.00006, 0.00001], [0.3, 0.2]],
                              np.array([[0.01, 0.01], [0.1, 0.1], [0.2, 0.2]]))]}, tmp / "cf",
            fixed_points={"majority b=2": (K[1], np.full(2, 0.01))}, **ln),
        "plot_kernels": lambda: figures.plot_kernels(
            {"majority rule (block sum)": -np.eye(4), "learned layer 1": rng.normal(size=(4, 4))},
            tmp / "kern", **ln),
        "plot_localisation_study": lambda: figures.plot_localisation_study(
            [{"name": name, "layers": [{"radius": r, "radius_null": {"untrained": 8.4, "shuffled": 8.3},
                                         "fidelity": f, "fidelity_error": 0.01,
                                         "fidelity_null": {"untrained": 0.27, "shuffled": 0.3},
                                         "block_spin": bs}]}
             for name, r, f, bs in (("hinton", 8.2, 0.16, False), ("rgdl", 6.8, 0.41, True))],
            tmp / "loc", **ln),
        "fss.plot_fss": lambda: fss.plot_fss(_fss_result(), tmp / "fss", samples=n),
        "flowplot.plot_flow1d": lambda: flowplot.plot_flow1d(
            0.6, [step, dict(step, K_decimation=0.1)], tmp / "flow1d.png", **ln),
        "flowplot.plot_strength_dependence": lambda: flowplot.plot_strength_dependence(
            [SimpleNamespace(strength=s, coupling_error=np.exp(-2 * s)) for s in (0.5, 2, 6)],
            tmp / "lam.png", size=L),
        "fss_sweep.plot_worker_benchmark": lambda: bench.plot_worker_benchmark(
            [{"workers": w, "wall_s": 10.0 / w, "points": 4, "load_average_before": 0.5}
             for w in (1, 2)], tmp / "bench", sizes=[L, 2 * L], samples=n),
    }


def _public_figure_functions():
    names = {n for n in figures.__all__ if n.startswith("plot_")}
    names |= {f"fss.{n}" for n in fss.__all__ if n.startswith("plot_")}
    names |= {f"flowplot.{n}" for n in dir(flowplot) if n.startswith("plot_")}
    names |= {f"fss_sweep.{n}" for n in dir(_script("fss_sweep")) if n.startswith("plot_")}
    return names


def test_every_public_figure_function_has_a_case(tmp_path):
    assert _public_figure_functions() == set(_cases(tmp_path))


@contextlib.contextmanager
def saved_figures():
    """The figures saved inside the block (``Figure.savefig`` still writes the files)."""
    captured, original = [], Figure.savefig

    def savefig(fig, *args, **kwargs):
        if not captured or captured[-1] is not fig:  # PNG and PDF of one figure: once
            captured.append(fig)
        return original(fig, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", savefig)
        yield captured


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """``name -> Figure`` for every case, captured when saved (the files are written too)."""
    tmp = tmp_path_factory.mktemp("figs")
    out = {}
    with saved_figures() as captured:
        for name, draw in _cases(tmp).items():
            captured.clear()
            paths = draw()
            assert len(paths) == 2 and all(Path(p).stat().st_size > 1000 for p in paths), name
            out[name] = captured[0]
    return out


@pytest.mark.parametrize("name", sorted(_cases(Path("."))))
def test_figure_follows_the_style(drawn, name):
    fig = drawn[name]
    assert fig.get_layout_engine() is not None, f"{name}: no constrained layout"
    assert clipped_artists(fig) == [], name
    assert legends_over_data(fig) == [], name
    assert legends_over_text(fig) == [], name
    assert states_size_and_samples(fig), f"{name}: caption lacks L = / n = : {caption_text(fig)!r}"
    assert scientific_log_labels(fig) == [], name
    assert overlapping_tick_labels(fig) == [], name


def test_colour_bars_are_labelled(drawn):
    for name in ("plot_receptive_fields", "plot_kernels", "plot_reconstructions"):
        fig = drawn[name]
        bars = [im.colorbar for ax in fig.axes for im in ax.images if im.colorbar is not None]
        assert bars, name
        assert all(bar.ax.get_ylabel() or bar.ax.get_xlabel() for bar in bars), name


# ----------------------------------------------------------------------------------------------
# the checks fail on broken figures
# ----------------------------------------------------------------------------------------------
def test_checks_catch_a_clipped_label_a_legend_over_data_and_no_caption():
    fig = Figure(figsize=(3, 2))  # constrained layout off
    ax = fig.subplots()
    ax.plot([0, 1, 2, 3], [0, 1, 2, 3], "o", label="data")
    ax.set_ylabel("a y label far too long for the height of this little figure to hold it",
                  fontsize=14)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))
    ax.set_title("no size or sample count")
    assert any("ylabel" in b for b in clipped_artists(fig))
    # a legend box placed over the middle of the data
    ax.get_legend().remove()
    ax.plot(np.linspace(0, 3, 50), np.linspace(0, 3, 50), label="a dense curve")
    ax.legend(loc="center")
    assert legends_over_data(fig)
    fig.legend(loc="upper center")  # over the title
    assert any("overlaps axes 0 title" in b for b in legends_over_text(fig))
    assert not states_size_and_samples(fig)
    ax.set_yscale("log")
    ax.set_ylim(5, 9)
    assert scientific_log_labels(fig)  # matplotlib's default labels "6x10^0" here
    figure_style.plain_log_ticks(ax, "y")
    assert not scientific_log_labels(fig)
    # long tick labels crowding an axis (as matplotlib's default ticks of a zoomed view can)
    crowded = Figure(figsize=(4, 2))
    ax = crowded.subplots()
    ax.plot([0.42595, 0.426], [0, 1], "o")
    ax.set_xticks(np.linspace(0.4259, 0.4261, 9))
    ax.tick_params(labelsize=10)
    assert any(" x tick labels " in b for b in overlapping_tick_labels(crowded))


def test_the_same_figure_in_the_shared_style_passes():
    fig = figure_style.new_figure(3, 2)
    ax = fig.subplots()
    ax.plot([0, 1, 2, 3], [0, 1, 2, 3], "o", label="data")
    figure_style.wrap_ylabel(ax, "a y label far too long for the height of this little figure "
                             "to hold it", 2)
    figure_style.outside_legend(fig)
    figure_style.set_caption(fig, "shared style", size=8, samples=100)
    assert clipped_artists(fig) == [] and legends_over_data(fig) == []
    assert states_size_and_samples(fig)


def test_sample_note_and_wrap_text():
    assert figure_style.sample_note(16, 2000) == "L = 16, n = 2,000 samples"
    assert figure_style.sample_note([8, 16]) == "L = 8, 16"
    assert figure_style.sample_note() == ""
    wrapped = figure_style.wrap_text(r"core radius of $r^{2} \, dx$ in lattice spacings", 12)
    assert r"$r^{2} \, dx$" in wrapped and "\n" in wrapped


# ----------------------------------------------------------------------------------------------
# the callers put the size and sample counts of their data into every caption
# ----------------------------------------------------------------------------------------------
def _caption(fig):
    return " ".join(caption_text(fig).split())  # wrapped lines joined


def test_rgdl_mcrg_captions_name_size_and_samples(tmp_path, monkeypatch):
    """``rgdl mcrg``'s figures (exponents, coupling flow, learned kernels) name L and n."""
    level = {"level": 1, "size": 16, "n_even": 9, "n_odd": 6, "y_T": 0.98, "y_T_err": 0.02,
             "y_h": 1.87, "y_h_err": 0.01}
    details = {"size": 32, "samples": 1234, "coupling": 0.4407, "levels": [level],
               "couplings": [{"couplings": [0.44, 0.0, 0.0], "errors": [0.01, 0.01, 0.01]},
                             {"couplings": [0.40, 0.05, 0.0], "errors": [0.01, 0.01, 0.02]}],
               "kernel_size": 4, "kernels": np.full((1, 4, 4), -0.2).tolist()}
    summary = {"transform": "learned", "block": 2, "levels": [level]}
    saved = []
    monkeypatch.setattr(rgdl_mcrg, "save_local_stack", lambda path, stack, meta: saved.append(path))
    with saved_figures() as captured:
        rgdl_mcrg.write_outputs({"summary": summary, "details": details, "stack": object()},
                                rgdl_mcrg.output_paths(tmp_path, "learned", 2))
    assert len(captured) == 3 and len(saved) == 1
    for fig in captured:
        assert "L = 32, n = 1,234 " in _caption(fig), _caption(fig)


_RUN_PROTOCOL = iso_flow.run_protocol  # the real one (the tests below replace it)


def _fake_protocol(**kwargs):
    """:func:`analysis.iso_flow.run_protocol`'s result for ``kwargs`` without any Monte Carlo:
    the real settings (:func:`analysis.iso_flow.protocol_settings`), made-up flows."""
    args = {name: kwargs.get(name, p.default)
            for name, p in inspect.signature(_RUN_PROTOCOL).parameters.items()}
    settings = iso_flow.protocol_settings(
        **{k: args[k] for k in inspect.signature(iso_flow.protocol_settings).parameters})
    steps = settings["n_steps"] + 1

    def model(n_hidden):
        flows = [{"T0": t0, "T_eff": np.linspace(t0, 2.4, steps).tolist(),
                  "T_eff_err": [0.05] * steps, "in_range": [True] * steps}
                 for t0 in settings["start_temperatures"]]
        point = iso_flow.fixed_point([f["T_eff"] for f in flows], [f["T_eff_err"] for f in flows],
                                     last=settings["last"])
        point["clipped_final_readings"] = 0
        return {"n_hidden": n_hidden, "reused": False, "train_seconds": 0.0,
                "reconstruction_error": 0.1, "flows": flows, "fixed_point": point}

    validation = [{"T": t, "T_eff": t, "T_eff_err": 0.05, "deviation": 0.0, "z": 0.0,
                   "in_range": True} for t in settings["validation_temperatures"]]
    return {"settings": settings, "critical_temperature": 2.269185314213022,
            "thermometer": {"temperatures": settings["temperatures"],
                            "calibration": settings["temperatures"],
                            "calibration_error": [0.01] * len(settings["temperatures"]),
                            "validation": validation,
                            "training_mixture": {"value": 2.5, "error": 0.05, "in_range": True}},
            "models": [model(h) for h in settings["hidden_units"]], "single_temperature": None,
            "seconds": 0.0}


def test_rgdl_rbmflow_captions_name_size_and_samples(tmp_path, monkeypatch):
    """``rgdl rbmflow``'s two figures name L and the training, thermometer and flow counts."""
    monkeypatch.setattr(iso_flow, "run_protocol", _fake_protocol)
    with saved_figures() as captured, pytest.raises(SystemExit) as exc:
        rgdl_main(["rbmflow", "--size", "6", "--t-min", "1", "--t-max", "4", "--t-step", "0.5",
                   "--samples", "40", "--hidden", "4,9", "--steps", "3", "--starts", "1,4",
                   "--flow-samples", "20", "-q", "--json", "--out", str(tmp_path / "out")])
    assert exc.value.code == 0
    assert len(captured) == 2
    for fig in captured:
        assert ("L = 6, n = 40/T x 7 T training + 40/T thermometer, 20 per flow start"
                in _caption(fig)), _caption(fig)


def test_iso_flow_study_captions_name_size_and_samples(tmp_path, monkeypatch):
    """``scripts/iso_flow_study.py``'s two figures name L and the sample counts."""
    monkeypatch.setattr(iso_flow, "run_protocol", _fake_protocol)
    study = _script("iso_flow_study")
    with saved_figures() as captured:
        assert study.main(["--size", "4", "--samples", "30", "--hidden", "4", "9", "--epochs", "1",
                           "--steps", "3", "--starts", "1", "4", "--flow-samples", "12",
                           "--modes", "sample", "--contrast", "0",
                           "--results", str(tmp_path / "res"),
                           "--figures", str(tmp_path / "fig")]) == 0
    assert len(captured) == 2
    n_t = len(iso_flow.ISO_TEMPERATURES)
    for fig in captured:
        assert (f"L = 4, n = 30/T x {n_t} T training + 30/T thermometer, 12 per flow start"
                in _caption(fig)), _caption(fig)

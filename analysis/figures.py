"""Publication figures (matplotlib, Agg, PNG + PDF) in the project's one figure style.

Every function takes already-computed arrays, draws one figure without touching pyplot's global
state (``matplotlib.figure.Figure``), writes ``<stem>.png`` (200 dpi) and ``<stem>.pdf``
atomically and returns the two paths. Every figure uses the shared style of
:mod:`analysis.figure_style` (re-exported here): constrained layout, legends outside the data,
labelled colour bars, readable log ticks, visible error bars, and a caption stating the lattice
size ``L`` and the sample count ``n`` (keywords ``size`` and ``samples``). Colours come from the
Okabe-Ito palette (colour-blind safe); signed fields use the diverging ``RdBu_r`` map with a
symmetric range, spins a grey scale. Lengths are in lattice spacings, temperatures and energies
in units of the coupling ``J`` (k_B = 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from analysis.figure_style import (ERRORBAR, MARKERS, OKABE_ITO, STYLE, SampleNote,  # noqa: F401
                                   SizeNote, add_colorbar, new_figure, outside_legend,
                                   plain_log_ticks, sample_note, save_figure, set_caption,
                                   wrap_text, wrap_ylabel)
from analysis.thermodynamics import Estimate

__all__ = [
    "OKABE_ITO", "MARKERS", "STYLE", "ERRORBAR", "new_figure", "wrap_text", "sample_note",
    "set_caption", "outside_legend", "add_colorbar", "plain_log_ticks", "save_figure",
    "wrap_ylabel",
    "plot_receptive_fields",
    "plot_localization",
    "plot_reconstructions",
    "plot_fidelity",
    "plot_correlation_lengths",
    "plot_correlation_functions",
    "plot_thermodynamics",
    "plot_rbm_flow",
    "plot_generative_check",
    "plot_temperature_study",
    "plot_iso_flows",
    "plot_iso_fixed_points",
    "plot_mcrg_exponents",
    "plot_coupling_flow",
    "plot_kernels",
    "plot_localisation_study",
]

#: Several curves: one array-like per curve, or a 2D array (one row per curve).
Curves = Union[Sequence[npt.ArrayLike], NDArray[np.floating]]
#: A short vector indexed by operator (couplings of one level, their errors).
Vector = Union[Sequence[float], NDArray[np.floating]]


def plot_receptive_fields(fields_per_layer: Sequence[NDArray[np.floating]], shape: tuple[int, ...],
                          stem: str | os.PathLike[str], *, n_units: int = 6,
                          titles: Sequence[str] | None = None,
                          samples: SampleNote | None = None) -> list[Path]:
    """Receptive fields ``r^(l)`` of the first ``n_units`` units of every layer (rows = layers).

    Units are shown in index order (not selected); each is divided by its own ``max |r|`` so
    that weak and strong units are equally visible, on one colour scale from -1 to 1.
    ``samples``: training-set size for the caption (``L`` is read from ``shape``).
    """
    n_layers = len(fields_per_layer)
    n_cols = max(1, min(n_units, min(f.shape[1] for f in fields_per_layer)))
    fig = new_figure(1.3 * n_cols + 1.4, 1.35 * n_layers + 0.9)
    axes = fig.subplots(n_layers, n_cols, squeeze=False)
    for l, fields in enumerate(fields_per_layer):
        for j in range(n_cols):
            ax = axes[l, j]
            r = np.asarray(fields[:, j]).reshape(shape)
            if r.ndim == 1:
                r = r[None, :]
            vmax = float(np.max(np.abs(r))) or 1.0
            image = ax.imshow(r / vmax, cmap="RdBu_r", vmin=-1.0, vmax=1.0,
                              interpolation="nearest")
            ax.set_xticks([]); ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(titles[l] if titles else f"layer {l + 1}")
            if l == 0:
                ax.set_title(f"unit {j}")
    add_colorbar(fig, image, axes, r"$r\,/\max|r|$ per unit (dimensionless)", shrink=0.8)
    set_caption(fig, r"Receptive fields $r^{(l)} = r^{(l-1)}W^{(l)}$ on the visible lattice",
                size=shape[-1], samples=samples)
    return save_figure(fig, stem)


def plot_localization(trained: Sequence[npt.ArrayLike], untrained: Sequence[npt.ArrayLike] | None,
                      stem: str | os.PathLike[str], *, key: str = "radius",
                      ylabel: str = "core radius of gyration of $r^2$ (lattice spacings)",
                      size: SizeNote | None = None,
                      samples: SampleNote | None = None) -> list[Path]:
    """Per-layer distributions of a localisation measure, trained vs the same stack untrained.

    Parameters
    ----------
    trained, untrained : list of ndarray
        Per-layer per-unit values (e.g. ``Localization.radius``).
    size, samples : optional
        Lattice side and training-set size for the caption.
    """
    n = len(trained)
    fig = new_figure(1.2 * n + 3.2, 3.2)
    ax = fig.subplots()
    pos = np.arange(1, n + 1)
    for offset, data, colour, label in ((-0.18, trained, OKABE_ITO[0], "trained"),
                                        (0.18, untrained, OKABE_ITO[1], "untrained")):
        if data is None:
            continue
        bp = ax.boxplot([np.asarray(d) for d in data], positions=pos + offset, widths=0.3,
                        patch_artist=True, showfliers=False)
        for patch in bp["boxes"]:
            patch.set_facecolor(colour); patch.set_alpha(0.6)
        for med in bp["medians"]:
            med.set_color("black")
        ax.plot([], [], color=colour, lw=6, alpha=0.6, label=label)
    ax.set_xticks(pos, [f"layer {l}" for l in pos])
    wrap_ylabel(ax, ylabel, 3.2)
    outside_legend(fig)
    set_caption(fig, f"Receptive-field localisation ({key})", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_reconstructions(originals: NDArray[Any], reconstructions: Sequence[NDArray[Any]],
                         stem: str | os.PathLike[str], *, n_samples: int = 5,
                         labels: Sequence[str] | None = None,
                         samples: SampleNote | None = None) -> list[Path]:
    """Input configurations and their reconstructions (paper's Fig. 3), rows = samples.

    Parameters
    ----------
    originals : ndarray (n, L, L)
    reconstructions : list of ndarray (n, L, L)
        One per column after the first (e.g. from layers 1, 2, 3).
    samples : optional
        Training-set size for the caption (``L`` is read from ``originals``).
    """
    n = min(n_samples, len(originals))
    cols = 1 + len(reconstructions)
    fig = new_figure(1.25 * cols + 1.2, 1.25 * n + 0.9)
    axes = fig.subplots(n, cols, squeeze=False)
    names = ["input"] + list(labels or [f"recon. {k + 1}" for k in range(len(reconstructions))])
    for i in range(n):
        for c, data in enumerate([originals] + list(reconstructions)):
            ax = axes[i, c]
            image = ax.imshow(np.asarray(data[i], dtype=float), cmap="gray", vmin=-1, vmax=1,
                              interpolation="nearest")
            ax.set_xticks([]); ax.set_yticks([])
            if i == 0:
                ax.set_title(names[c])
    add_colorbar(fig, image, axes, "spin / mean of P(v|h) (white = +1)", shrink=0.6)
    set_caption(fig, "Configurations and their reconstructions",
                size=np.shape(originals)[-1], samples=samples)
    return save_figure(fig, stem)


def plot_fidelity(scans: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], *,
                  nulls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                  size: SizeNote | None = None, samples: SampleNote | None = None,
                  title: str = "Block-spin fidelity of the hidden units") -> list[Path]:
    """Block-spin fidelity vs block size per layer, with nulls and the linear ceiling.

    Parameters
    ----------
    scans : list of dict
        Per layer ``FidelityScan.to_dict()``.
    nulls : dict[str, list of dict], optional
        Same structure for null networks (e.g. ``"untrained"``, ``"shuffled data"``).
    size, samples : optional
        Lattice side and sample count for the caption.
    title : str
        The caption's first part (e.g. naming a control for the global magnetization).
    """
    n = len(scans)
    fig = new_figure(2.3 * n + 2.2, 3.0)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for l, scan in enumerate(scans):
        ax = axes[l]
        b = np.array(scan["block_sizes"])
        ax.plot(b, scan["ceiling"], color="0.4", ls=":", marker="_", label="linear block sum (ceiling)")
        ax.errorbar(b, scan["fidelity"], yerr=scan["fidelity_error"], color=OKABE_ITO[0],
                    marker="o", label="trained", **ERRORBAR)
        for k, (name, null_scans) in enumerate((nulls or {}).items()):
            ns = null_scans[l]
            ax.errorbar(np.array(ns["block_sizes"]), ns["fidelity"], yerr=ns["fidelity_error"],
                        color=OKABE_ITO[1 + k], marker="s^v"[k % 3], ls="--", label=name,
                        **ERRORBAR)
        ax.set_xscale("log", base=2)
        ax.set_xticks(b, [str(x) for x in b])
        ax.minorticks_off()
        ax.set_xlabel("block size b (lattice spacings)")
        ax.set_title(f"layer {l + 1}: best b = {scan['best_block_size']}")
        ax.set_ylim(0, 1.05)
    wrap_ylabel(axes[0], "mean best |corr| with block spin", 3.0)
    outside_legend(fig, fontsize=7)
    set_caption(fig, title, size=size, samples=samples)
    return save_figure(fig, stem)


def plot_correlation_lengths(xi_layers: Sequence[float], xi_layers_error: Sequence[float],
                             xi0: float, xi0_error: float, spacings: Sequence[float],
                             stem: str | os.PathLike[str], *,
                             block_xi: Mapping[int, Estimate] | None = None,
                             note: str | None = None, size: SizeNote | None = None,
                             samples: SampleNote | None = None) -> list[Path]:
    """Correlation length per layer (activations at receptive-field centres) vs ``xi_0 / b^l``.

    Parameters
    ----------
    xi_layers, xi_layers_error : sequence of float
        ``xi`` of each hidden layer in units of that layer's spacing.
    xi0, xi0_error : float
        ``xi`` of the Monte Carlo data.
    spacings : sequence of float
        Lattice spacing ``a_l`` of each layer (visible units).
    block_xi : dict[int, Estimate], optional
        ``xi`` of majority block spins for block sizes ``b`` (plotted at depth ``log2 b``).
    note : str, optional
        Printed under the title (e.g. which layers' ``xi`` is omitted, as NaN, and why).
    size, samples : optional
        Lattice side and sample count for the caption.
    """
    fig = new_figure(5.6, 3.4)
    ax = fig.subplots()
    depth = np.arange(len(xi_layers) + 1)
    spacing = np.concatenate([[1.0], np.asarray(spacings, float)])
    ax.plot(depth, xi0 / spacing, color="0.4", ls=":", label=r"RG: $\xi_0 / a_l$")
    ax.errorbar(depth, np.concatenate([[xi0], xi_layers]),
                yerr=np.concatenate([[xi0_error], xi_layers_error]), color=OKABE_ITO[0],
                marker="o", label="data / hidden layers", **ERRORBAR)
    if block_xi:
        bs = sorted(block_xi)
        ax.errorbar(np.log2(bs), [block_xi[b].value for b in bs], yerr=[block_xi[b].error for b in bs],
                    color=OKABE_ITO[1], marker="s", ls="--",
                    label="majority block spins (depth log2 b)", **ERRORBAR)
    ax.set_xticks(depth)
    ax.set_xlabel("layer l (0 = visible)")
    wrap_ylabel(ax, r"$\xi_{2nd}$ (units of the layer's spacing)", 3.4)
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
    outside_legend(fig, fontsize=7)
    title = "Second-moment correlation length per layer"
    set_caption(fig, f"{title}\n{note}" if note else title, size=size, samples=samples)
    return save_figure(fig, stem)


def _mark_unusable(ax: Axes, unusable: Mapping[str, str], title: str) -> str:
    """Mark the axes as showing data that are not results (e.g. unequilibrated Gibbs chains).

    A large red watermark across the axes and a title naming every unusable curve, so the figure
    cannot be read without the caveat; returns the title.

    Parameters
    ----------
    unusable : dict[str, str]
        ``curve label -> reason`` (e.g. ``"NOT EQUILIBRATED (R-hat = 1.64)"``).
    """
    if not unusable:
        ax.set_title(title)
        return title
    marks = "\n".join(f"{label}: {reason}: not usable" for label, reason in unusable.items())
    mark = ax.text(0.5, 0.5, "\n".join(f"{label}: {reason}" for label, reason in unusable.items())
                   + "\nnot usable", transform=ax.transAxes, ha="center", va="center", rotation=20,
                   fontsize=10, fontweight="bold", color="#D55E00", alpha=0.45, zorder=10)
    mark.set_in_layout(False)  # a watermark over the axes, not a label to make room for
    mark.set_clip_on(True)  # and never outside them
    title = f"{title}\n{marks}"
    ax.set_title(title, color="#D55E00")
    return title


def plot_correlation_functions(curves: Mapping[str, Sequence[npt.ArrayLike]],
                               stem: str | os.PathLike[str], *,
                               unusable: Mapping[str, str] | None = None,
                               size: SizeNote | None = None,
                               samples: SampleNote | None = None) -> list[Path]:
    """``G(r)`` curves on a log scale.

    Parameters
    ----------
    curves : dict[str, tuple]
        ``label -> (r, G)`` or ``(r, G, G_error)``; ``r`` in visible lattice spacings.
    unusable : dict[str, str], optional
        ``label -> reason`` for curves that are not results (e.g. samples of Gibbs chains that
        have not equilibrated): drawn hollow and dashed, named in the legend, the title and a
        watermark across the axes.
    size, samples : optional
        Lattice side and sample count for the caption.
    """
    unusable = dict(unusable or {})
    fig = new_figure(6.4 if unusable else 5.6, 3.8 if unusable else 3.2)
    ax = fig.subplots()
    for k, (label, data) in enumerate(curves.items()):
        r, g = np.asarray(data[0], float), np.asarray(data[1], float)
        keep = g > 0
        err = np.asarray(data[2], float)[keep] if len(data) > 2 else None
        bad = label in unusable
        ax.errorbar(r[keep], g[keep], yerr=err, color=OKABE_ITO[k % len(OKABE_ITO)],
                    marker=MARKERS[k % len(MARKERS)], ls="--" if bad else "-",
                    label=f"{label} (not equilibrated)" if bad else label, **ERRORBAR)
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
    ax.set_xlabel("distance r (visible lattice spacings)")
    ax.set_ylabel("G(r) (connected)")
    outside_legend(fig, anchor_ax=ax, fontsize=7)
    _mark_unusable(ax, unusable, "Connected correlation functions")
    set_caption(fig, "Correlation functions of Monte Carlo and generated samples", size=size,
                samples=samples)
    return save_figure(fig, stem)


def plot_thermodynamics(comparisons: Mapping[str, Mapping[str, Mapping[str, float]]],
                        stem: str | os.PathLike[str], *, unusable: Mapping[str, str] | None = None,
                        size: SizeNote | None = None,
                        samples: SampleNote | None = None) -> list[Path]:
    """Relative deviation of generated-sample observables from Monte Carlo, with error bars.

    Parameters
    ----------
    comparisons : dict[str, dict[str, dict]]
        ``model label -> observable -> relative_error dict`` (``value``, ``error``).
    unusable : dict[str, str], optional
        ``model label -> reason`` for models whose numbers are not results (e.g. Gibbs chains
        that have not equilibrated): hollow markers, named in the legend, the title and a
        watermark across the axes.
    size, samples : optional
        Lattice side and sample count for the caption.
    """
    unusable = dict(unusable or {})
    fig = new_figure(6.4 if unusable else 5.8, 3.8 if unusable else 3.4)
    ax = fig.subplots()
    labels = list(comparisons)
    observables = list(next(iter(comparisons.values()))) if comparisons else []
    x = np.arange(len(observables))
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        vals = [comparisons[label][o]["value"] for o in observables]
        errs = [comparisons[label][o]["error"] for o in observables]
        bad = label in unusable
        style = dict(ERRORBAR, mfc="none" if bad else OKABE_ITO[k % len(OKABE_ITO)])
        ax.errorbar(x + (k - (len(labels) - 1) / 2) * width, vals, yerr=errs, ls="none",
                    marker=MARKERS[k % len(MARKERS)], color=OKABE_ITO[k % len(OKABE_ITO)],
                    label=f"{label} (not equilibrated)" if bad else label, **style)
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xticks(x, [o.replace("_", " ") for o in observables], rotation=15)
    wrap_ylabel(ax, "(generated - Monte Carlo) / |Monte Carlo|", 3.4)
    outside_legend(fig, anchor_ax=ax, fontsize=7)
    _mark_unusable(ax, unusable, "Thermodynamics of generated samples")
    set_caption(fig, "Generated samples against Monte Carlo", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_rbm_flow(steps: npt.ArrayLike, effective_temperatures: Curves,
                  start_temperatures: Sequence[float] | NDArray[np.floating],
                  stem: str | os.PathLike[str], *,
                  critical_temperature: float | None = None, errors: Curves | None = None,
                  training_temperature: float | None = None, size: SizeNote | None = None,
                  samples: SampleNote | None = None) -> list[Path]:
    """Effective temperature of RBM-flow samples vs flow step, one curve per start temperature.

    ``size``, ``samples``: lattice side and samples per flow for the caption.
    """
    fig = new_figure(5.2, 3.2)
    ax = fig.subplots()
    for k, (t0, curve) in enumerate(zip(start_temperatures, effective_temperatures)):
        err = None if errors is None else errors[k]
        ax.errorbar(steps, curve, yerr=err, color=OKABE_ITO[k % len(OKABE_ITO)],
                    marker=MARKERS[k % len(MARKERS)], label=f"start T = {t0:.3g}", **ERRORBAR)
    if critical_temperature is not None:
        ax.axhline(critical_temperature, color="0.3", ls=":", label=r"$T_c$ (Onsager)")
    if training_temperature is not None:
        ax.axhline(training_temperature, color="0.6", ls="--", label="training data")
    ax.set_xlabel(r"RBM flow step ($v \to h \to v$)")
    ax.set_ylabel(r"$T_{eff}/J$ (energy-matched)")
    outside_legend(fig, fontsize=7)
    set_caption(fig, "RBM flow of the effective temperature", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_generative_check(temperatures: Sequence[float] | NDArray[np.floating],
                          mc: Mapping[str, Sequence[tuple[float, float]]],
                          generated: Mapping[str, Sequence[tuple[float, float]]],
                          stem: str | os.PathLike[str], *, ylabels: Mapping[str, str] | None = None,
                          size: SizeNote | None = None,
                          samples: SampleNote | None = None) -> list[Path]:
    """Observables of generated samples vs Monte Carlo as functions of temperature.

    Parameters
    ----------
    temperatures : sequence of float
    mc, generated : dict[str, list of (value, error)]
        ``observable -> per-temperature (value, error)``.
    size, samples : optional
        Lattice side and sample count for the caption.
    """
    names = list(mc)
    fig = new_figure(3.0 * len(names) + 1.6, 3.0)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    t = np.asarray(temperatures, float)
    dt = 0.01 * (np.ptp(t) or 1.0)  # the two series side by side, so both bars show
    for ax, name in zip(axes, names):
        for k, (data, label) in enumerate(((mc, "Monte Carlo"), (generated, "RBM samples"))):
            v = np.array([x[0] for x in data[name]]); e = np.array([x[1] for x in data[name]])
            ax.errorbar(t + (2 * k - 1) * dt, v, yerr=e, color=OKABE_ITO[k], marker=MARKERS[k],
                        ls="none", label=label, **ERRORBAR)
        ax.set_xlabel("temperature T/J")
        wrap_ylabel(ax, (ylabels or {}).get(name, name.replace("_", " ")), 3.0)
    outside_legend(fig)
    set_caption(fig, "Generated samples against Monte Carlo", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_temperature_study(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], *,
                           critical_temperature: float = 2.269185314213022,
                           size: SizeNote | None = None,
                           samples: SampleNote | None = None) -> list[Path]:
    """Fidelity per layer (with nulls) and KL per spin vs temperature (rows of the study script).

    Parameters
    ----------
    rows : list of dict
        Each with ``temperature``, ``layers`` (``block_fidelity``, ``block_fidelity_error``,
        ``block_fidelity_null`` dict, ``block_fidelity_ceiling``) and ``kl_per_spin_layer1``.
    size, samples : optional
        Lattice side and sample count for the caption.
    """
    t = np.array([r["temperature"] for r in rows], float)
    n_layers = len(rows[0]["layers"])
    fig = new_figure(8.4, 3.2)
    ax, ax2 = fig.subplots(1, 2)
    for l in range(n_layers):
        colour = OKABE_ITO[l % len(OKABE_ITO)]
        ax.errorbar(t, [r["layers"][l]["block_fidelity"] for r in rows],
                    yerr=[r["layers"][l].get("block_fidelity_error", 0.0) for r in rows],
                    color=colour, marker="o", label=f"layer {l + 1}", **ERRORBAR)
        for k, name in enumerate(rows[0]["layers"][l]["block_fidelity_null"]):
            ax.plot(t, [r["layers"][l]["block_fidelity_null"][name] for r in rows], color=colour,
                    ls=["--", ":"][k % 2], marker="s^"[k % 2], ms=3, alpha=0.7,
                    label=f"layer {l + 1} null: {name}" if l == 0 else None)
    ax.axvline(critical_temperature, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("temperature T/J")
    ax.set_ylabel("block-spin fidelity (best b)")
    kl = [r["kl_per_spin_layer1"] for r in rows]
    ax2.errorbar(t, [k["value"] for k in kl], yerr=[k["error"] for k in kl], color=OKABE_ITO[0],
                 marker="o", **ERRORBAR)
    ax2.axvline(critical_temperature, color="0.5", lw=0.8, ls=":", label=r"$T_c$ (Onsager)")
    ax2.set_xlabel("temperature T/J")
    ax2.set_ylabel(r"KL$(P_{Ising}\,\|\,p_{RBM1})/N$ (nats)")
    outside_legend(fig, fontsize=6)
    set_caption(fig, "Fidelity and KL divergence against temperature", size=size,
                samples=samples)
    return save_figure(fig, stem)


def plot_iso_flows(models: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], *,
                   critical_temperature: float = 2.269185314213022, size: SizeNote | None = None,
                   samples: SampleNote | None = None) -> list[Path]:
    """RBM flows of Iso et al.'s protocol: thermometer ``T_eff`` vs flow step, one panel per
    number of hidden units, one curve (with its error band) per start temperature.

    ``models``: the ``"models"`` list of :func:`analysis.iso_flow.run_protocol`; ``size``,
    ``samples``: lattice side and training-set size for the caption."""
    n = len(models)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = new_figure(3.2 * cols + 1.3, 2.6 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax, model in zip(axes, models):
        for k, flow in enumerate(model["flows"]):
            t = np.asarray(flow["T_eff"])
            e = np.asarray(flow["T_eff_err"])
            steps = np.arange(t.size)
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.plot(steps, t, color=colour, lw=1.2, label=f"$T_0$ = {flow['T0']:.3g}")
            ax.fill_between(steps, t - e, t + e, color=colour, alpha=0.25, lw=0)
        fp = model["fixed_point"]
        ax.axhline(critical_temperature, color="0.3", ls=":", label=r"$T_c$ (Onsager)")
        ax.axhspan(fp["value"] - fp["error"], fp["value"] + fp["error"], color="0.85", zorder=0,
                   label=r"$T^*\pm$ err")
        ax.set_title(f"{model['n_hidden']} hidden units: $T^*$ = {fp['value']:.2f} "
                     f"± {fp['error']:.2f}")
        ax.set_xlabel(r"RBM flow step ($v \to h \to v'$)")
        wrap_ylabel(ax, r"$T_{eff}/J$ (MC-calibrated thermometer)", 2.6)
    for ax in axes[n:]:
        ax.set_visible(False)
    outside_legend(fig, axes[:1], fontsize=7)
    set_caption(fig, "RBM flows (Iso et al. protocol)", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_iso_fixed_points(series: Sequence[tuple[str, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]],
                          stem: str | os.PathLike[str], *, n_visible: int | None = None,
                          critical_temperature: float = 2.269185314213022,
                          size: SizeNote | None = None,
                          samples: SampleNote | None = None) -> list[Path]:
    """Fixed point ``T*`` of the RBM flow vs the number of hidden units, with ``T_c``.

    ``series``: list of ``(label, n_hidden, values, errors)``, one curve each (e.g. per flow
    mode or number of training epochs); ``size``, ``samples`` for the caption."""
    fig = new_figure(5.6, 3.3)
    ax = fig.subplots()
    tick_set: set[float] = set()
    for k, (label, n_hidden, values, errors) in enumerate(series):
        x = np.asarray(n_hidden, dtype=float)
        tick_set.update(x.tolist())
        ax.errorbar(x * (1 + 0.02 * k), values, yerr=errors, color=OKABE_ITO[k % len(OKABE_ITO)],
                    marker=MARKERS[k % len(MARKERS)], label=label, **ERRORBAR)
    ax.axhline(critical_temperature, color="0.3", ls=":", label=r"$T_c$ (Onsager)")
    if n_visible is not None:
        ax.axvline(n_visible, color="0.6", ls="--", label="hidden = visible")
    ax.set_xscale("log")
    ticks = sorted(tick_set)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{int(v)}" for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("hidden units")
    wrap_ylabel(ax, r"$T^*/J$ (mean of final $T_{eff}$ over starts)", 3.3)
    outside_legend(fig, fontsize=7)
    set_caption(fig, "Fixed point of the RBM flow", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_mcrg_exponents(results: Mapping[str, Sequence[Mapping[str, Any]]],
                        stem: str | os.PathLike[str], *,
                        exact: tuple[float, float] = (1.0, 15 / 8), size: SizeNote | None = None,
                        samples: SampleNote | None = None) -> list[Path]:
    """MCRG exponents y_T and y_h vs RG level, one curve per transform (largest operator sets).

    Parameters
    ----------
    results : dict[str, list of dict]
        ``transform label -> levels`` as in :meth:`analysis.mcrg.MCRGLevel.to_dict`.
    exact : (float, float)
        Reference lines (2D Ising: y_T = 1, y_h = 15/8).
    size, samples : optional
        Lattice side(s) and sample count for the caption.
    """
    fig = new_figure(8.6, 3.2)
    axes = fig.subplots(1, 2)
    for k, (label, levels) in enumerate(results.items()):
        n = [lv["level"] for lv in levels]
        for ax, key in zip(axes, ("y_T", "y_h")):
            ax.errorbar(np.asarray(n) + 0.04 * k, [np.nan if lv[key] is None else lv[key] for lv in levels],
                        yerr=[0.0 if lv[key + "_err"] is None else lv[key + "_err"] for lv in levels],
                        color=OKABE_ITO[k % len(OKABE_ITO)], marker=MARKERS[k % len(MARKERS)],
                        label=label, **ERRORBAR)
    for ax, value, name in zip(axes, exact, (r"$y_T$", r"$y_h$")):
        ax.axhline(value, color="0.3", ls=":", lw=1, label="exact")
        ax.set_xlabel("RG level n")
        ax.set_ylabel(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
    outside_legend(fig, fontsize=7)
    set_caption(fig, "Monte Carlo RG exponents (Swendsen 1979)", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_coupling_flow(flows: Mapping[str, Sequence[tuple[str, npt.ArrayLike, npt.ArrayLike]]],
                       stem: str | os.PathLike[str], *, x: int = 0, y: int = 1,
                       names: tuple[str, str] = ("K_nn", "K_nnn"),
                       fixed_points: Mapping[str, tuple[Vector, Vector]] | None = None,
                       max_error: float = 0.05, size: SizeNote | None = None,
                       samples: SampleNote | None = None) -> list[Path]:
    """RG flow of effective couplings: (K_x, K_y) at every level, one trajectory per start.

    Parameters
    ----------
    flows : dict[str, list of (label, couplings, errors)]
        ``panel title -> trajectories``; ``couplings``/``errors`` arrays (n_levels + 1, n_ops).
    fixed_points : dict[str, (couplings, errors)], optional
        A fixed point to mark per panel.
    max_error : float
        The axis limits enclose the points whose errors are below this (fits of nearly ordered
        configurations deep in the low-temperature phase are ill-determined and can lie far
        outside); the number of points left outside the view is written in the panel's title.
    size, samples : optional
        Lattice side and samples per start for the caption.
    """
    panels = list(flows)
    fig = new_figure(3.4 * len(panels) + 1.6, 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for k, (label, K, E) in enumerate(flows[panel]):
            K, E = np.asarray(K), np.asarray(E)
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.errorbar(K[:, x], K[:, y], xerr=E[:, x], yerr=E[:, y], color=colour,
                        marker=MARKERS[k % len(MARKERS)], lw=0.8, label=label, **ERRORBAR)
            for i in range(len(K) - 1):
                ax.annotate("", xy=(K[i + 1, x], K[i + 1, y]), xytext=(K[i, x], K[i, y]),
                            arrowprops={"arrowstyle": "->", "color": colour, "lw": 0.8})
        if fixed_points and panel in fixed_points:
            fp, fe = fixed_points[panel]
            ax.errorbar([fp[x]], [fp[y]], xerr=[fe[x]], yerr=[fe[y]], color="k", marker="*", ms=9,
                        ls="none", label="fixed point", capsize=3, zorder=4)
        pts = np.concatenate([np.asarray(K)[:, [x, y]] for _, K, _ in flows[panel]])
        errs = np.concatenate([np.asarray(E)[:, [x, y]] for _, _, E in flows[panel]])
        good = np.all(np.nan_to_num(errs, nan=0.0) < max_error, axis=1) & np.all(np.isfinite(pts), axis=1)
        title = panel
        if good.any() and not good.all():
            lo, hi = pts[good].min(axis=0), pts[good].max(axis=0)
            pad = 0.1 * np.maximum(hi - lo, 1e-3)
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            title += f"\n({int((~good).sum())} point(s) with error > {max_error:g} outside view)"
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # long labels of a zoomed view fit
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(title, fontsize=8)
    outside_legend(fig, fontsize=7)
    set_caption(fig, "RG flow of effective couplings (pseudo-likelihood)", size=size,
                samples=samples)
    return save_figure(fig, stem)


def plot_kernels(kernels: Mapping[str, npt.ArrayLike], stem: str | os.PathLike[str], *,
                 size: SizeNote | None = None,
                 samples: SampleNote | None = None) -> list[Path]:
    """Shared w x w weights of learned block transforms (one panel each; RdBu_r, symmetric range).

    Parameters
    ----------
    kernels : dict[str, ndarray (w, w)]
        ``title -> kernel`` (include the majority-rule kernel for comparison).
    size, samples : optional
        Lattice side and training-set size for the caption.
    """
    titles = list(kernels)
    fig = new_figure(2.0 * len(titles) + 0.6, 2.6)
    axes = fig.subplots(1, len(titles), squeeze=False)[0]
    for ax, title in zip(axes, titles):
        k = np.asarray(kernels[title], dtype=float)
        vmax = float(np.abs(k).max()) or 1.0
        im = ax.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(wrap_text(title, 22), fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        add_colorbar(fig, im, ax, "RBM weight W (dimensionless)", shrink=0.7)
    set_caption(fig, "Kernels of the block transforms", size=size, samples=samples)
    return save_figure(fig, stem)


def plot_localisation_study(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], *,
                            size: SizeNote | None = None,
                            samples: SampleNote | None = None) -> list[Path]:
    """Layer-1 localisation radius and block-spin fidelity per configuration, with the nulls.

    Parameters
    ----------
    rows : list of dict
        Rows of ``scripts/localisation_study.py``: ``name`` and ``layers[0]`` with ``radius``,
        ``radius_null``, ``fidelity``, ``fidelity_error``, ``fidelity_null`` (dicts by null name)
        and ``block_spin``.
    stem : str or Path
        Output path without suffix (PNG and PDF are written).
    size, samples : optional
        Lattice size and training-set size for the caption.
    """
    names = [r["name"] for r in rows]
    first = [r["layers"][0] for r in rows]
    y = np.arange(len(rows))[::-1]
    fig = new_figure(6.8, 1.4 + 0.18 * len(rows))
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    for axis, key, err, label in ((ax, "radius", None, "layer-1 median RF radius (lattice spacings)"),
                                  (ax2, "fidelity", "fidelity_error", "layer-1 fidelity (best b)")):
        null_key = f"{key}_null"
        for k, null in enumerate(first[0][null_key]):
            axis.plot([x[null_key][null] for x in first], y, ls="none", marker="s^"[k % 2], ms=3,
                      color=OKABE_ITO[1 + k], label=f"null: {null}" if axis is ax2 else None)
        axis.errorbar([x[key] for x in first], y,
                      xerr=None if err is None else [x[err] for x in first], color=OKABE_ITO[0], ls="none",
                      marker="o", label="trained" if axis is ax2 else None, **ERRORBAR)
        starred = [(x[key], yy) for yy, x in zip(y, first) if x["block_spin"]]
        if starred:
            axis.plot(*zip(*starred), marker="*", ms=9, color=OKABE_ITO[7], ls="none",
                      label="block spin" if axis is ax2 else None)
        axis.set_xlabel(wrap_text(label, 30))
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=6)
    outside_legend(fig, fontsize=7)
    set_caption(fig, "What makes layer 1 localise", size=size, samples=samples)
    return save_figure(fig, stem)

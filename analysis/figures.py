"""Publication figures for the layer <-> block-spin comparison (matplotlib, Agg, PNG + PDF).

Every function takes already-computed arrays, draws one figure without touching pyplot's global
state (``matplotlib.figure.Figure``), writes ``<stem>.png`` (200 dpi) and ``<stem>.pdf`` and
returns the two paths. Colours come from the Okabe-Ito palette (colour-blind safe); signed
fields use the diverging ``RdBu_r`` map with a symmetric range, spins a grey scale. Lengths are in
lattice spacings, temperatures and energies in units of the coupling ``J`` (k_B = 1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "OKABE_ITO",
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

log = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
_STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
          "xtick.labelsize": 8, "ytick.labelsize": 8}


def _figure(width, height):
    import matplotlib

    matplotlib.rcParams.update(_STYLE)
    return Figure(figsize=(width, height), constrained_layout=True)


def _save(fig, stem):
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    from ising.atomic import atomic_output

    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        with atomic_output(path) as tmp:  # exclusive temp file, fsync, rename
            fig.savefig(tmp, dpi=200, format=ext)
        paths.append(path)
    log.info("wrote %s (.png, .pdf)", stem)
    return paths


def plot_receptive_fields(fields_per_layer, shape, stem, *, n_units=6, titles=None):
    """Receptive fields ``r^(l)`` of the first ``n_units`` units of every layer (rows = layers).

    Units are shown in index order (not selected), each with its own symmetric colour range.
    """
    n_layers = len(fields_per_layer)
    n_cols = max(1, min(n_units, min(f.shape[1] for f in fields_per_layer)))
    fig = _figure(1.3 * n_cols + 0.6, 1.35 * n_layers + 0.3)
    axes = fig.subplots(n_layers, n_cols, squeeze=False)
    for l, fields in enumerate(fields_per_layer):
        for j in range(n_cols):
            ax = axes[l, j]
            r = np.asarray(fields[:, j]).reshape(shape)
            if r.ndim == 1:
                r = r[None, :]
            vmax = float(np.max(np.abs(r))) or 1.0
            ax.imshow(r, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            ax.set_xticks([]); ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(titles[l] if titles else f"layer {l + 1}")
            if l == 0:
                ax.set_title(f"unit {j}")
    fig.suptitle(r"Receptive fields $r^{(l)} = r^{(l-1)}W^{(l)}$ on the visible lattice (blue < 0 < red)")
    return _save(fig, stem)


def plot_localization(trained, untrained, stem, *, key="radius", ylabel="core radius of gyration of $r^2$ (lattice spacings)"):
    """Per-layer distributions of a localisation measure, trained vs the same stack untrained.

    Parameters
    ----------
    trained, untrained : list of ndarray
        Per-layer per-unit values (e.g. ``Localization.radius``).
    """
    n = len(trained)
    fig = _figure(1.2 * n + 2.0, 2.8)
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
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    ax.set_title(f"Receptive-field localisation ({key})")
    return _save(fig, stem)


def plot_reconstructions(originals, reconstructions, stem, *, n_samples=5, labels=None):
    """Input configurations and their reconstructions (paper's Fig. 3), rows = samples.

    Parameters
    ----------
    originals : ndarray (n, L, L)
    reconstructions : list of ndarray (n, L, L)
        One per column after the first (e.g. from layers 1, 2, 3).
    """
    n = min(n_samples, len(originals))
    cols = 1 + len(reconstructions)
    fig = _figure(1.25 * cols + 0.2, 1.25 * n + 0.4)
    axes = fig.subplots(n, cols, squeeze=False)
    names = ["input"] + list(labels or [f"recon. {k + 1}" for k in range(len(reconstructions))])
    for i in range(n):
        for c, data in enumerate([originals] + list(reconstructions)):
            ax = axes[i, c]
            ax.imshow(np.asarray(data[i], dtype=float), cmap="gray", vmin=-1, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([]); ax.set_yticks([])
            if i == 0:
                ax.set_title(names[c])
    fig.suptitle("Configurations (white = +1) and reconstructions (mean of P(v|h))")
    return _save(fig, stem)


def plot_fidelity(scans, stem, *, nulls=None):
    """Block-spin fidelity vs block size per layer, with nulls and the linear ceiling.

    Parameters
    ----------
    scans : list of dict
        Per layer ``FidelityScan.to_dict()``.
    nulls : dict[str, list of dict], optional
        Same structure for null networks (e.g. ``"untrained"``, ``"shuffled data"``).
    """
    n = len(scans)
    fig = _figure(2.3 * n + 0.4, 2.6)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for l, scan in enumerate(scans):
        ax = axes[l]
        b = np.array(scan["block_sizes"])
        ax.plot(b, scan["ceiling"], color="0.4", ls=":", marker="_", label="linear block sum (ceiling)")
        ax.errorbar(b, scan["fidelity"], yerr=scan["fidelity_error"], color=OKABE_ITO[0],
                    marker="o", capsize=2, label="trained")
        for k, (name, null_scans) in enumerate((nulls or {}).items()):
            ns = null_scans[l]
            ax.errorbar(np.array(ns["block_sizes"]), ns["fidelity"], yerr=ns["fidelity_error"],
                        color=OKABE_ITO[1 + k], marker="s^v"[k % 3], ls="--", capsize=2, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(b, [str(x) for x in b])
        ax.set_xlabel("block size b (lattice spacings)")
        ax.set_title(f"layer {l + 1}: best b = {scan['best_block_size']}")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("mean best |corr| with block spin")
    axes[0].legend(frameon=False, loc="upper right", fontsize=7)
    return _save(fig, stem)


def plot_correlation_lengths(xi_layers, xi_layers_error, xi0, xi0_error, spacings, stem, *,
                             block_xi=None, note=None):
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
        Printed in the axes (e.g. which layers' ``xi`` is omitted, as NaN, and why).
    """
    fig = _figure(3.6, 2.8)
    ax = fig.subplots()
    depth = np.arange(len(xi_layers) + 1)
    spacing = np.concatenate([[1.0], np.asarray(spacings, float)])
    ax.plot(depth, xi0 / spacing, color="0.4", ls=":", label=r"RG: $\xi_0 / a_l$")
    ax.errorbar(depth, np.concatenate([[xi0], xi_layers]),
                yerr=np.concatenate([[xi0_error], xi_layers_error]), color=OKABE_ITO[0],
                marker="o", capsize=2, label="data / hidden layers")
    if block_xi:
        bs = sorted(block_xi)
        ax.errorbar(np.log2(bs), [block_xi[b].value for b in bs], yerr=[block_xi[b].error for b in bs],
                    color=OKABE_ITO[1], marker="s", ls="--", capsize=2, label="majority block spins (depth log2 b)")
    ax.set_xticks(depth)
    ax.set_xlabel("layer l (0 = visible)")
    ax.set_ylabel(r"$\xi_{2nd}$ (units of the layer's spacing)")
    ax.set_yscale("log")
    ax.legend(frameon=False)
    if note:
        ax.text(0.98, 0.98, note, transform=ax.transAxes, ha="right", va="top", fontsize=6,
                color="0.3")
    return _save(fig, stem)


def _mark_unusable(ax, unusable, title):
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
    title = f"{title}\n{marks}"
    ax.set_title(title, color="#D55E00")
    return title


def plot_correlation_functions(curves, stem, *, unusable=None):
    """``G(r)`` curves on a log scale.

    Parameters
    ----------
    curves : dict[str, tuple]
        ``label -> (r, G)`` or ``(r, G, G_error)``; ``r`` in visible lattice spacings.
    unusable : dict[str, str], optional
        ``label -> reason`` for curves that are not results (e.g. samples of Gibbs chains that
        have not equilibrated): drawn hollow and dashed, named in the legend, the title and a
        watermark across the axes.
    """
    unusable = dict(unusable or {})
    fig = _figure(4.6 if unusable else 3.6, 3.2 if unusable else 2.8)
    ax = fig.subplots()
    for k, (label, data) in enumerate(curves.items()):
        r, g = np.asarray(data[0], float), np.asarray(data[1], float)
        keep = g > 0
        err = np.asarray(data[2], float)[keep] if len(data) > 2 else None
        bad = label in unusable
        ax.errorbar(r[keep], g[keep], yerr=err, color=OKABE_ITO[k % len(OKABE_ITO)],
                    marker="os^vD<>p"[k % 8], ms=3, capsize=2,
                    ls="--" if bad else "-", mfc="none" if bad else None,
                    label=f"{label} (not equilibrated)" if bad else label)
    ax.set_yscale("log")
    ax.set_xlabel("distance r (visible lattice spacings)")
    ax.set_ylabel("G(r) (connected)")
    ax.legend(frameon=False, fontsize=6 if unusable else None)
    _mark_unusable(ax, unusable, "Connected correlation functions")
    return _save(fig, stem)


def plot_thermodynamics(comparisons, stem, *, unusable=None):
    """Relative deviation of generated-sample observables from Monte Carlo, with error bars.

    Parameters
    ----------
    comparisons : dict[str, dict[str, dict]]
        ``model label -> observable -> relative_error dict`` (``value``, ``error``).
    unusable : dict[str, str], optional
        ``model label -> reason`` for models whose numbers are not results (e.g. Gibbs chains
        that have not equilibrated): hollow markers, named in the legend, the title and a
        watermark across the axes.
    """
    unusable = dict(unusable or {})
    fig = _figure(4.6 if unusable else 4.2, 3.2 if unusable else 2.8)
    ax = fig.subplots()
    labels = list(comparisons)
    observables = list(next(iter(comparisons.values()))) if comparisons else []
    x = np.arange(len(observables))
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        vals = [comparisons[label][o]["value"] for o in observables]
        errs = [comparisons[label][o]["error"] for o in observables]
        bad = label in unusable
        ax.errorbar(x + (k - (len(labels) - 1) / 2) * width, vals, yerr=errs, fmt="o",
                    color=OKABE_ITO[k % len(OKABE_ITO)], capsize=2, mfc="none" if bad else None,
                    label=f"{label} (not equilibrated)" if bad else label)
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xticks(x, [o.replace("_", " ") for o in observables], rotation=15)
    ax.set_ylabel("(generated - Monte Carlo) / |Monte Carlo|")
    ax.legend(frameon=False, fontsize=6 if unusable else None)
    _mark_unusable(ax, unusable, "Thermodynamics of generated samples")
    return _save(fig, stem)


def plot_rbm_flow(steps, effective_temperatures, start_temperatures, stem, *,
                  critical_temperature=None, errors=None, training_temperature=None):
    """Effective temperature of RBM-flow samples vs flow step, one curve per start temperature."""
    fig = _figure(3.6, 2.8)
    ax = fig.subplots()
    for k, (t0, curve) in enumerate(zip(start_temperatures, effective_temperatures)):
        err = None if errors is None else errors[k]
        ax.errorbar(steps, curve, yerr=err, color=OKABE_ITO[k % len(OKABE_ITO)], marker="o", ms=3,
                    capsize=2, label=f"start T = {t0:.3g}")
    if critical_temperature is not None:
        ax.axhline(critical_temperature, color="0.3", ls=":", label=r"$T_c$ (Onsager)")
    if training_temperature is not None:
        ax.axhline(training_temperature, color="0.6", ls="--", label="training data")
    ax.set_xlabel(r"RBM flow step ($v \to h \to v$)")
    ax.set_ylabel(r"$T_{eff}/J$ (energy-matched)")
    ax.legend(frameon=False, fontsize=7)
    return _save(fig, stem)


def plot_generative_check(temperatures, mc, generated, stem, *, ylabels=None):
    """Observables of generated samples vs Monte Carlo as functions of temperature.

    Parameters
    ----------
    temperatures : sequence of float
    mc, generated : dict[str, list of (value, error)]
        ``observable -> per-temperature (value, error)``.
    """
    names = list(mc)
    fig = _figure(3.0 * len(names) + 0.3, 2.7)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    t = np.asarray(temperatures, float)
    for ax, name in zip(axes, names):
        for data, colour, marker, label in ((mc, OKABE_ITO[0], "o", "Monte Carlo"),
                                            (generated, OKABE_ITO[1], "s", "RBM samples")):
            v = np.array([x[0] for x in data[name]]); e = np.array([x[1] for x in data[name]])
            ax.errorbar(t, v, yerr=e, color=colour, marker=marker, capsize=2, ls="none", label=label)
        ax.set_xlabel("temperature T/J")
        ax.set_ylabel((ylabels or {}).get(name, name.replace("_", " ")))
    axes[0].legend(frameon=False)
    return _save(fig, stem)


def plot_temperature_study(rows, stem, *, critical_temperature=2.269185314213022):
    """Fidelity per layer (with nulls) and KL per spin vs temperature (rows of the study script).

    Parameters
    ----------
    rows : list of dict
        Each with ``temperature``, ``layers`` (``block_fidelity``, ``block_fidelity_error``,
        ``block_fidelity_null`` dict, ``block_fidelity_ceiling``) and ``kl_per_spin_layer1``.
    """
    t = np.array([r["temperature"] for r in rows], float)
    n_layers = len(rows[0]["layers"])
    fig = _figure(6.4, 2.8)
    ax, ax2 = fig.subplots(1, 2)
    for l in range(n_layers):
        colour = OKABE_ITO[l % len(OKABE_ITO)]
        ax.errorbar(t, [r["layers"][l]["block_fidelity"] for r in rows],
                    yerr=[r["layers"][l].get("block_fidelity_error", 0.0) for r in rows],
                    color=colour, marker="o", capsize=2, label=f"layer {l + 1}")
        for k, name in enumerate(rows[0]["layers"][l]["block_fidelity_null"]):
            ax.plot(t, [r["layers"][l]["block_fidelity_null"][name] for r in rows], color=colour,
                    ls=["--", ":"][k % 2], marker="s^"[k % 2], ms=3, alpha=0.7,
                    label=f"layer {l + 1} null: {name}" if l == 0 else None)
    ax.axvline(critical_temperature, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("temperature T/J")
    ax.set_ylabel("block-spin fidelity (best b)")
    ax.legend(frameon=False, fontsize=6)
    kl = [r["kl_per_spin_layer1"] for r in rows]
    ax2.errorbar(t, [k["value"] for k in kl], yerr=[k["error"] for k in kl], color=OKABE_ITO[0],
                 marker="o", capsize=2)
    ax2.axvline(critical_temperature, color="0.5", lw=0.8, ls=":")
    ax2.set_xlabel("temperature T/J")
    ax2.set_ylabel(r"KL$(P_{Ising}\,\|\,p_{RBM1})/N$ (nats)")
    return _save(fig, stem)


def plot_iso_flows(models, stem, *, critical_temperature=2.269185314213022):
    """RBM flows of Iso et al.'s protocol: thermometer ``T_eff`` vs flow step, one panel per
    number of hidden units, one curve (with its error band) per start temperature.

    ``models``: the ``"models"`` list of :func:`analysis.iso_flow.run_protocol`."""
    n = len(models)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(3.2 * cols, 2.6 * rows)
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
        ax.set_ylabel(r"$T_{eff}/J$ (MC-calibrated thermometer)")
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=7)
    return _save(fig, stem)


def plot_iso_fixed_points(series, stem, *, n_visible=None,
                          critical_temperature=2.269185314213022):
    """Fixed point ``T*`` of the RBM flow vs the number of hidden units, with ``T_c``.

    ``series``: list of ``(label, n_hidden, values, errors)``, one curve each (e.g. per flow
    mode or number of training epochs)."""
    fig = _figure(3.8, 2.9)
    ax = fig.subplots()
    ticks = set()
    markers = "osD^v<>"
    for k, (label, n_hidden, values, errors) in enumerate(series):
        x = np.asarray(n_hidden, dtype=float)
        ticks.update(x.tolist())
        ax.errorbar(x * (1 + 0.02 * k), values, yerr=errors, color=OKABE_ITO[k % len(OKABE_ITO)],
                    marker=markers[k % len(markers)], ms=4, capsize=2, label=label)
    ax.axhline(critical_temperature, color="0.3", ls=":", label=r"$T_c$ (Onsager)")
    if n_visible is not None:
        ax.axvline(n_visible, color="0.6", ls="--", label="hidden = visible")
    ax.set_xscale("log")
    ticks = sorted(ticks)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{int(v)}" for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("hidden units")
    ax.set_ylabel(r"$T^*/J$ (mean of final $T_{eff}$ over starts)")
    ax.legend(frameon=False, fontsize=7)
    return _save(fig, stem)


def plot_mcrg_exponents(results, stem, *, exact=(1.0, 15 / 8)):
    """MCRG exponents y_T and y_h vs RG level, one curve per transform (largest operator sets).

    Parameters
    ----------
    results : dict[str, list of dict]
        ``transform label -> levels`` as in :meth:`analysis.mcrg.MCRGLevel.to_dict`.
    exact : (float, float)
        Reference lines (2D Ising: y_T = 1, y_h = 15/8).
    """
    fig = _figure(6.4, 2.8)
    axes = fig.subplots(1, 2)
    for k, (label, levels) in enumerate(results.items()):
        n = [lv["level"] for lv in levels]
        for ax, key in zip(axes, ("y_T", "y_h")):
            ax.errorbar(np.asarray(n) + 0.04 * k, [np.nan if lv[key] is None else lv[key] for lv in levels],
                        yerr=[0.0 if lv[key + "_err"] is None else lv[key + "_err"] for lv in levels],
                        color=OKABE_ITO[k % len(OKABE_ITO)], marker="os^Dv"[k % 5], capsize=2,
                        ms=4, label=label)
    for ax, value, name in zip(axes, exact, (r"$y_T$", r"$y_h$")):
        ax.axhline(value, color="0.3", ls=":", lw=1, label="exact")
        ax.set_xlabel("RG level n")
        ax.set_ylabel(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(frameon=False, fontsize=7)
    fig.suptitle("Monte Carlo RG exponents (Swendsen 1979)")
    return _save(fig, stem)


def plot_coupling_flow(flows, stem, *, x=0, y=1, names=("K_nn", "K_nnn"), fixed_points=None,
                       max_error=0.05):
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
        outside); the number of points left outside the view is written in the panel.
    """
    panels = list(flows)
    fig = _figure(3.2 * len(panels) + 0.2, 3.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for k, (label, K, E) in enumerate(flows[panel]):
            K, E = np.asarray(K), np.asarray(E)
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.errorbar(K[:, x], K[:, y], xerr=E[:, x], yerr=E[:, y], color=colour, marker="o", ms=3,
                        capsize=1.5, lw=0.8, label=label)
            for i in range(len(K) - 1):
                ax.annotate("", xy=(K[i + 1, x], K[i + 1, y]), xytext=(K[i, x], K[i, y]),
                            arrowprops={"arrowstyle": "->", "color": colour, "lw": 0.8})
        if fixed_points and panel in fixed_points:
            fp, fe = fixed_points[panel]
            ax.errorbar([fp[x]], [fp[y]], xerr=[fe[x]], yerr=[fe[y]], color="k", marker="*", ms=9,
                        ls="none", label="fixed point")
        pts = np.concatenate([np.asarray(K)[:, [x, y]] for _, K, _ in flows[panel]])
        errs = np.concatenate([np.asarray(E)[:, [x, y]] for _, _, E in flows[panel]])
        good = np.all(np.nan_to_num(errs, nan=0.0) < max_error, axis=1) & np.all(np.isfinite(pts), axis=1)
        if good.any() and not good.all():
            lo, hi = pts[good].min(axis=0), pts[good].max(axis=0)
            pad = 0.1 * np.maximum(hi - lo, 1e-3)
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            ax.text(0.98, 0.02, f"{int((~good).sum())} point(s) with error > {max_error:g} outside view",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="0.3")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(panel)
        ax.legend(frameon=False, fontsize=6)
    return _save(fig, stem)


def plot_kernels(kernels, stem):
    """Shared w x w weights of learned block transforms (one panel each; RdBu_r, symmetric range).

    Parameters
    ----------
    kernels : dict[str, ndarray (w, w)]
        ``title -> kernel`` (include the majority-rule kernel for comparison).
    """
    titles = list(kernels)
    fig = _figure(1.7 * len(titles) + 0.4, 2.0)
    axes = fig.subplots(1, len(titles), squeeze=False)[0]
    for ax, title in zip(axes, titles):
        k = np.asarray(kernels[title], dtype=float)
        vmax = float(np.abs(k).max()) or 1.0
        im = ax.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.7)
    return _save(fig, stem)


def plot_localisation_study(rows, stem):
    """Layer-1 localisation radius and block-spin fidelity per configuration, with the nulls.

    Parameters
    ----------
    rows : list of dict
        Rows of ``scripts/localisation_study.py``: ``name`` and ``layers[0]`` with ``radius``,
        ``radius_null``, ``fidelity``, ``fidelity_error``, ``fidelity_null`` (dicts by null name)
        and ``block_spin``.
    """
    names = [r["name"] for r in rows]
    first = [r["layers"][0] for r in rows]
    y = np.arange(len(rows))[::-1]
    fig = _figure(6.4, 0.9 + 0.18 * len(rows))
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    for axis, key, err, label in ((ax, "radius", None, "layer-1 median RF radius (lattice spacings)"),
                                  (ax2, "fidelity", "fidelity_error", "layer-1 fidelity (best b)")):
        null_key = f"{key}_null"
        for k, null in enumerate(first[0][null_key]):
            axis.plot([x[null_key][null] for x in first], y, ls="none", marker="s^"[k % 2], ms=3,
                      color=OKABE_ITO[1 + k], label=f"null: {null}")
        axis.errorbar([x[key] for x in first], y,
                      xerr=None if err is None else [x[err] for x in first], ls="none", marker="o",
                      ms=4, color=OKABE_ITO[0], capsize=2, label="trained")
        for yy, x in zip(y, first):
            if x["block_spin"]:
                axis.plot([x[key]], [yy], marker="*", ms=9, color=OKABE_ITO[7], ls="none")
        axis.set_xlabel(label)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=6)
    ax2.legend(frameon=False, fontsize=6)
    return _save(fig, stem)

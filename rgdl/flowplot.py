r"""Figures of 1D coupling flows: exact decimation, its exact RBM, majority rule, learned RBMs.

Drawn in the project's figure style (:mod:`analysis.figure_style`: ``matplotlib.figure.Figure``
without pyplot, constrained layout, legends outside the data, the Okabe & Ito colour-blind-safe
palette, a caption naming the chain length and sample count); every figure is written as PNG and
PDF, atomically (temporary file, then rename).

Left panel: the coupling :math:`K_s` after :math:`s` RG steps. Right panel: the flow map
:math:`K_{s}` versus :math:`K_{s-1}` with the exact decimation curve
:math:`\tanh K' = \tanh^2 K` (Mehta & Schwab 2014, Sec. IV; Nelson & Fisher 1975), the
identity line and the cobweb staircase that runs into the trivial fixed point :math:`K^* = 0`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from analysis.figure_style import (OKABE_ITO as PALETTE, new_figure, outside_legend,
                                   plain_log_ticks, save_figure, set_caption)
from ising.atomic import check_name_length
from rgdl.decimation import ConstructionCheck, decimated_coupling

log = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = dict(zip(("blue", "vermillion", "green", "purple", "orange", "sky", "yellow", "black"),
                     PALETTE))

# key in a step dict -> (label, colour, marker, filled)
_SERIES = (
    ("K_rbm_exact", "exact RBM (soft decimation, enumerated)", OKABE_ITO["blue"], "o", False),
    ("K_majority", "majority rule b=2 (exact)", OKABE_ITO["orange"], "s", True),
    ("K_learned", r"learned RBM: $H^{RBM}[h]$", OKABE_ITO["vermillion"], "^", True),
    ("K_learned_encoder", r"learned RBM: encoder $\sum_v P(v)p(h|v)$", OKABE_ITO["purple"], "D", True),
)


def figure_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``FIG.png`` -> (``FIG.png``, ``FIG.pdf``); a path without a suffix gets both suffixes."""
    p = Path(path)
    if p.suffix.lower() in (".png", ".pdf"):
        base = p.parent / p.stem
    elif p.suffix == "":
        base = p
    else:
        raise ValueError(f"figure path must end in .png or .pdf, got {p.name!r}")
    if not base.parent.exists():
        raise FileNotFoundError(f"directory {str(base.parent)!r} of the figure does not exist")
    if base.parent.exists() and not os.access(base.parent, os.W_OK):
        raise PermissionError(f"directory {str(base.parent)!r} is not writable")
    return base.parent / (base.name + ".png"), base.parent / (base.name + ".pdf")


def check_figure_outputs(path: str | os.PathLike[str], *,
                         overwrite: bool = False) -> tuple[Path, Path]:
    """:func:`figure_paths`, refusing existing files unless ``overwrite`` (before any work)."""
    paths = figure_paths(path)
    for target in paths:
        check_name_length(target, suffixes=(".lock",))
        if target.is_dir():
            raise IsADirectoryError(f"output path is a directory: {target}")
        if target.exists() and not overwrite:
            raise FileExistsError(f"output exists: {target} (use --overwrite to replace it)")
    return paths


def plot_flow1d(coupling: float, steps: Sequence[dict[str, Any]],
                path: str | os.PathLike[str], *, title: str | None = None,
                overwrite: bool = True, size: int | None = None,
                samples: int | str | None = None) -> list[str]:
    r"""Draw the coupling flow of ``rgdl flow1d`` and save it as PNG and PDF.

    Parameters
    ----------
    coupling : float
        Initial coupling :math:`K_0`.
    steps : list of dict
        One dict per RG step with at least ``K_decimation`` and any of ``K_rbm_exact``,
        ``K_majority``, ``K_learned``, ``K_learned_encoder`` (the ``steps`` of
        ``rgdl flow1d --json``).
    path : str or Path
        ``FIG.png`` (or ``.pdf``); both files are written.
    title : str, optional
    overwrite : bool, default True
        Replace existing files; with False an existing PNG or PDF is an error (FileExistsError).
    size : int, optional
        Chain length N, named in the caption.
    samples : int or str, optional
        Samples per learned layer (or a text such as ``"0 (exact enumeration)"``), named in
        the caption.

    Returns
    -------
    list of str
        The written paths (PNG, PDF), each written atomically.
    """
    if not steps:
        raise ValueError("no RG steps to plot")
    png, _pdf = figure_paths(path)
    k0 = float(coupling)
    s_axis = np.arange(len(steps) + 1)
    k_dec = np.array([k0] + [float(s["K_decimation"]) for s in steps])
    k_all = [k0] + [float(s[key]) for s in steps for key, *_ in _SERIES
                    if s.get(key) is not None and np.isfinite(s[key])]
    k_lo, k_hi = min(0.0, min(k_all)), max(k_all)
    pad = 0.05 * (k_hi - k_lo)

    fig = new_figure(11.5, 4.6)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(s_axis, k_dec, "-", color=OKABE_ITO["black"], lw=1.5,
             label=r"decimation $\tanh K'=\tanh^2K$ (analytic)")
    for key, label, colour, marker, filled in _SERIES:
        if all(key in s and s[key] is not None for s in steps):
            ks = np.array([k0] + [float(s[key]) for s in steps])
            ax1.plot(s_axis, ks, linestyle="--" if filled else "none", marker=marker, color=colour,
                     mfc=colour if filled else "none", ms=7 if not filled else 5, lw=1.0, label=label)
            ax2.plot(ks[:-1], ks[1:], linestyle="none", marker=marker, color=colour,
                     mfc=colour if filled else "none", ms=7 if not filled else 5, label=label)
    ax1.set_xlabel("RG step $s$ (chain halved each step)")
    ax1.set_ylabel(r"nearest-neighbour coupling $K_s = J_s/T$")
    ax1.set_xticks(s_axis)
    ax1.set_ylim(k_lo - (pad if k_lo < 0 else 0), k_hi + pad)
    ax1.axhline(0.0, color="0.7", lw=0.6)

    kmax = k_hi + pad
    kmin = k_lo - (pad if k_lo < 0 else 0)
    grid = np.linspace(0.0, kmax, 300)
    ax2.plot(grid, decimated_coupling(grid), "-", color=OKABE_ITO["black"], lw=1.5,
             label=r"$K'(K)=\frac{1}{2}\ln\cosh 2K$")
    ax2.plot(grid, grid, ":", color="0.5", lw=1.0, label="$K'=K$")
    stair_x, stair_y = [k_dec[0]], [0.0]
    for a, b in zip(k_dec[:-1], k_dec[1:]):
        stair_x += [a, b]
        stair_y += [b, b]
    ax2.plot(stair_x, stair_y, "-", color=OKABE_ITO["sky"], lw=1.0, label="decimation cobweb")
    ax2.set_xlabel(r"coupling before the step $K_{s-1}$")
    ax2.set_ylabel(r"coupling after the step $K_s$")
    ax2.set_xlim(kmin, kmax)
    ax2.set_ylim(kmin, kmax)
    ax2.set_aspect("equal")
    outside_legend(fig, fontsize=7.5)
    set_caption(fig, title or f"1D Ising RG flow from K = {k0:g}: flows to the fixed point K* = 0",
                size=size, samples=samples)
    written = save_figure(fig, png, dpi=150, overwrite=overwrite)
    log.info("wrote %s and %s", *written)
    return [str(p) for p in written]


def plot_strength_dependence(rows: Sequence[ConstructionCheck], path: str | os.PathLike[str], *,
                             size: int | None = None) -> list[str]:
    r"""Coupling error :math:`|K(\lambda) - K'|` of the soft-decimation RBM versus :math:`\lambda`
    (semilog), with the :math:`e^{-2\lambda}` guide; ``rows`` from
    :func:`rgdl.decimation.strength_dependence` (enumerated, exact: no samples); ``size`` the
    chain length for the caption. Saves PNG and PDF; returns the paths."""
    png, _pdf = figure_paths(path)
    lam = np.array([r.strength for r in rows])
    err = np.maximum(np.abs([r.coupling_error for r in rows]), 1e-17)
    fig = new_figure(6.4, 3.6)
    ax = fig.subplots()
    ax.semilogy(lam, err, "o-", color=OKABE_ITO["blue"], label=r"$|K(\lambda)-K'|$ (enumerated)")
    ax.semilogy(lam, np.exp(-2 * lam), "--", color=OKABE_ITO["vermillion"], label=r"$e^{-2\lambda}$")
    plain_log_ticks(ax, "y")
    ax.set_xlabel(r"decimation strength $\lambda$")
    ax.set_ylabel("coarse-coupling error")
    outside_legend(fig)
    set_caption(fig, "Soft decimation: coupling error against strength", size=size,
                samples="0 (exact enumeration)")
    return [str(p) for p in save_figure(fig, png, dpi=150)]

"""The one figure style of the project (re-exported by :mod:`analysis.figures`).

Used by every figure: :mod:`analysis.figures`, :func:`analysis.fss.plot_fss`,
:mod:`rgdl.flowplot` and the scripts' figures.

* :func:`new_figure` -- constrained layout, so nothing is clipped; :func:`wrap_text` breaks long
  axis labels and captions to the space they have (never inside ``$...$``);
* :func:`set_caption` -- a title naming the lattice size ``L`` and the sample count ``n``
  (:func:`sample_note`);
* :func:`outside_legend` -- one legend outside the axes (no legend over data);
* :func:`add_colorbar` -- colour bars with a label stating the quantity and its unit;
* :func:`plain_log_ticks` -- log axes labelled ``1, 2, 5, 10`` instead of ``6x10^0``;
* :data:`ERRORBAR` -- caps and hollow markers smaller than the caps, so error bars stay
  visible; colours from the Okabe-Ito palette (colour-blind safe, :data:`OKABE_ITO`), distinct
  markers (:data:`MARKERS`);
* :func:`save_figure` -- PNG (200 dpi) and PDF, each written atomically.
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from numpy.typing import NDArray

from ising.atomic import atomic_output

__all__ = ["OKABE_ITO", "MARKERS", "STYLE", "ERRORBAR", "new_figure", "wrap_text", "sample_note",
           "set_caption", "outside_legend", "add_colorbar", "plain_log_ticks", "save_figure",
           "wrap_ylabel", "SizeNote", "SampleNote"]

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

log = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: Marker cycle, one per curve (with the colours, curves differ in two ways).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Font sizes (points) of every figure.
STYLE: dict[RcKeyType, float] = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "figure.titlesize": 9}
#: ``errorbar`` keywords: caps wider than the hollow markers, bars above the lines.
ERRORBAR: dict[str, Any] = {"capsize": 3.0, "capthick": 0.9, "elinewidth": 0.9, "ms": 3.5,
                            "mew": 0.9, "mfc": "none", "zorder": 3}

#: A caption's lattice side(s): one side or a sequence of sides (several lattices).
SizeNote = Union[int, np.integer, Sequence[int], NDArray[np.integer]]
#: A caption's sample count: a number, or a short description (``"2000 MC / 500 generated"``).
SampleNote = Union[int, np.integer, str]


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width x height`` inches with constrained layout (labels never clipped)."""
    matplotlib.rcParams.update(STYLE)
    return Figure(figsize=(width, height), layout="constrained")


def wrap_text(text: str, width: int) -> str:
    """Break ``text`` into lines of about ``width`` characters (at most, unless one word is
    longer), never inside ``$...$`` nor around ``=``."""
    parts = re.split(r"(\$[^$]*\$)", text.replace(" = ", "\0=\0"))
    protected = "".join(p.replace(" ", "\0") if p.startswith("$") else p for p in parts)
    lines = []
    for line in protected.split("\n"):
        lines.extend(textwrap.wrap(line, max(int(width), 8), break_long_words=False,
                                   break_on_hyphens=False) or [""])
    return "\n".join(lines).replace("\0", " ")


def _fmt_sizes(size: SizeNote) -> str:
    return ", ".join(f"{int(s)}" for s in np.atleast_1d(size))


def sample_note(size: SizeNote | None = None, samples: SampleNote | None = None) -> str:
    """``"L = 8, n = 300 samples"`` (lattice side(s), sample count); parts left out when None.

    ``size`` may be a sequence (several lattices); ``samples`` an int or a short string
    (e.g. ``"2000 MC / 500 generated"``).
    """
    parts: list[str] = []
    if size is not None:
        parts.append(f"L = {_fmt_sizes(size)}")
    if samples is not None:
        parts.append(f"n = {samples:,} samples" if isinstance(samples, (int, np.integer))
                     else f"n = {samples}")
    return ", ".join(parts)


def set_caption(fig: Figure, title: str, *, size: SizeNote | None = None,
                samples: SampleNote | None = None, color: str | None = None) -> Text:
    """The figure's title: ``title`` and :func:`sample_note` (wrapped to the figure's width)."""
    note = sample_note(size, samples)
    text = f"{title} ({note})" if note else title
    chars = int(fig.get_figwidth() * 72 / (0.55 * STYLE["figure.titlesize"]))
    return fig.suptitle(wrap_text(text, chars), color=color)


def outside_legend(fig: Figure, axes: Axes | Sequence[Axes] | NDArray[np.object_] | None = None, *,
                   anchor_ax: Axes | None = None, **kwargs: Any) -> Legend | None:
    """One legend outside every axes, so that it never covers data.

    Handles are collected from ``axes`` (default: all of the figure's axes), one per label.
    The legend belongs to ``anchor_ax`` (default: the top right axes) and sits just right of it,
    so constrained layout makes room for it below the figure's title.
    """
    source = fig.axes if axes is None else [axes] if isinstance(axes, Axes) else list(axes)
    seen: dict[str, Any] = {}
    for ax in source:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if not seen:
        return None
    if anchor_ax is None:
        panels = [ax for ax in fig.axes if ax.get_subplotspec() is not None and ax.get_visible()]
        anchor_ax = max(panels, key=lambda ax: (round(ax.get_position().y1, 3),
                                                ax.get_position().x1))
    kwargs.setdefault("frameon", False)
    return anchor_ax.legend(list(seen.values()), list(seen), loc="upper left",
                            bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)


def add_colorbar(fig: Figure, mappable: ScalarMappable,
                 ax: Axes | Sequence[Axes] | NDArray[np.object_], label: str,
                 **kwargs: Any) -> Colorbar:
    """A colour bar beside ``ax`` (or a list of axes) labelled with quantity and unit (the label
    wrapped to the bar's length, ``kwargs["shrink"]`` of the figure height)."""
    bar = fig.colorbar(mappable, ax=ax, **kwargs)
    length = 0.8 * kwargs.get("shrink", 1.0) * fig.get_figheight()
    bar.set_label(wrap_text(label, int(length * 72 / (0.55 * STYLE["axes.labelsize"]))))
    return bar


def plain_log_ticks(ax: Axes, axis: str = "y") -> None:
    """Readable ticks on a log axis: plain numbers (``0.5, 1, 2, 5``) over up to three decades
    (more ticks per decade when it spans less than one), ``10^k`` beyond; minor ticks unlabelled.
    Call after the data are drawn (it reads the axis limits)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    if decades > 3:
        target.set_major_locator(LogLocator(base=10))
    else:
        subs = (1.0, 2.0, 5.0) if decades > 1 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
        target.set_major_locator(LogLocator(base=10, subs=subs))
        target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
    target.set_minor_formatter(NullFormatter())


def save_figure(fig: Figure, stem: str | os.PathLike[str], *, dpi: int = 200,
                overwrite: bool = True) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` atomically (:func:`ising.atomic.atomic_output`).

    ``stem`` may end in ``.png``/``.pdf`` (replaced); ``overwrite=False`` refuses to replace an
    existing file (FileExistsError). Returns the two paths.
    """
    base = Path(stem)
    if base.suffix.lower() in (".png", ".pdf"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = base.with_name(f"{base.name}.{ext}")
        with atomic_output(path, overwrite=overwrite) as tmp:  # exclusive temp file, fsync, rename
            fig.savefig(tmp, dpi=dpi, format=ext)
        paths.append(path)
    log.info("wrote %s (.png, .pdf)", base)
    return paths


def wrap_ylabel(ax: Axes, text: str, height_in: float) -> None:
    """Axis label wrapped to the axes height (``height_in`` inches of the figure)."""
    ax.set_ylabel(wrap_text(text, int(0.8 * height_in * 72 / (0.55 * STYLE["axes.labelsize"]))))

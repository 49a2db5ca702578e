"""Receptive fields of stacked RBMs and how local they are.

Mehta & Schwab (arXiv:1410.3831, Fig. 4) visualise the receptive field of a hidden unit of layer
``l`` as the product of the weight matrices below it,

.. math:: r^{(l)} = r^{(l-1)} W^{(l)}, \\qquad r^{(1)} = W^{(1)},

a vector over the visible lattice sites, and observe blob-like fields that grow with depth, like
Kadanoff block spins. Here that observation is made quantitative. A raw radius of gyration of
``|r|`` is dominated by the diffuse background even for clean blobs, so every measure uses the
*weight energy* ``r**2`` around its peak on the periodic lattice:

* ``radius`` -- the core radius of gyration of ``r**2`` inside a periodic window of half-width
  ``window`` centred at the peak (minimal-image displacements);
* ``share_within`` -- the share of the total ``r**2`` within Euclidean distance ``radius_cut`` of
  the core centre;
* ``block_share`` -- the largest share of ``r**2`` inside any periodic ``b x b`` window (a perfect
  block spin of size ``b`` scores 1);
* ``centre`` -- the ``r**2``-weighted core centroid (periodic), used to place hidden activations
  on the lattice (:mod:`analysis.correlations`).

Compare the per-layer medians with those of the same architecture untrained (random weights):
for a field spread uniformly over the window the core radius is ``sqrt(d * w (w + 1) / 3)``
in ``d`` dimensions (see :func:`uniform_core_radius`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from rbm.maths import receptive_fields  # the one definition, re-exported here

__all__ = [
    "receptive_fields",
    "Localization",
    "localization",
    "layer_localization",
    "uniform_core_radius",
    "periodic_window_sums",
]


_Scalar = TypeVar("_Scalar", bound=np.generic)


def uniform_core_radius(window: int, dimension: int = 2) -> float:
    """Core radius of gyration of a field whose ``r**2`` is uniform over the whole window.

    A ``(2w+1)^d`` window of constant weight has ``Rg^2 = d * w (w + 1) / 3``: the value a
    completely delocalised (e.g. random, untrained) field approaches.
    """
    w = int(window)
    return float(np.sqrt(dimension * w * (w + 1) / 3.0))


@dataclass
class Localization:
    """Per-unit localisation measures of one layer (see module docstring).

    Attributes
    ----------
    radius : ndarray (n_units,)
        Core radius of gyration of ``r**2`` (lattice spacings).
    share_within : ndarray (n_units,)
        Share of ``r**2`` within ``radius_cut`` of the core centre.
    block_share : dict[int, ndarray]
        For each block size ``b``: the best periodic ``b x b`` window share of ``r**2``.
    centre : ndarray (n_units, dimension)
        Core centroid in lattice coordinates, in ``[0, L)``.
    peak : ndarray (n_units, dimension)
        Lattice site of the largest ``r**2``.
    window, radius_cut : int, float
        The parameters used.
    """

    radius: NDArray[np.float64]
    share_within: NDArray[np.float64]
    block_share: dict[int, NDArray[np.float64]]
    centre: NDArray[np.float64]
    peak: NDArray[np.int64]
    window: int
    radius_cut: float
    shape: tuple[int, ...] = field(default=())

    def medians(self) -> dict[str, float]:
        """Medians over units: ``{'radius', 'share_within', 'block_share_<b>'}`` as floats."""
        out = {"radius": float(np.median(self.radius)),
               "share_within": float(np.median(self.share_within))}
        for b, share in self.block_share.items():
            out[f"block_share_{b}"] = float(np.median(share))
        return out


def _as_unit_fields(values: npt.ArrayLike, lattice: Sequence[int]
                    ) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    shape = tuple(int(s) for s in lattice)
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise ValueError(f"shape must be (L,) or (L, L) with L >= 2, got {shape}")
    fields = np.asarray(values, dtype=np.float64)
    n_sites = int(np.prod(shape))
    if fields.ndim == 1:
        fields = fields[:, None]
    if fields.ndim != 2 or fields.shape[0] != n_sites:
        raise ValueError(
            f"fields must have shape (n_visible={n_sites}, n_units), got {fields.shape}")
    if not np.all(np.isfinite(fields)):
        raise ValueError("fields contain NaN or infinite values")
    return fields.T.reshape((fields.shape[1],) + shape), shape


def _minimal_image(x: NDArray[np.float64], length: float) -> NDArray[np.float64]:
    """Periodic displacement in ``[-length/2, length/2)``."""
    return np.mod(x + length / 2.0, length) - length / 2.0


def periodic_window_sums(values: NDArray[_Scalar], b: int) -> NDArray[_Scalar]:
    """Sum of ``values`` (n, *shape) over every periodic ``b``-window (anchored at its corner).

    Entry ``[k, i, j]`` of the result is the sum of ``values[k]`` over the ``b x b`` window whose
    top-left corner is ``(i, j)`` (periodic wrap-around; any number of lattice axes). Used for
    the block shares here and the window block spins of :mod:`analysis.blockspin_fidelity`.
    """
    out = values
    for axis in range(1, values.ndim):
        acc = np.zeros_like(out)
        for shift in range(b):
            acc += np.roll(out, -shift, axis=axis)
        out = acc
    return out


def localization(fields: npt.ArrayLike, shape: Sequence[int], *, window: int | None = None,
                 radius_cut: float | None = None,
                 block_sizes: Sequence[int] = (1, 2, 4, 8)) -> Localization:
    """Localisation measures of receptive fields on a periodic lattice.

    Parameters
    ----------
    fields : ndarray (n_visible, n_units)
        Receptive fields as returned by :func:`receptive_fields` (one column per unit).
    shape : tuple
        Lattice shape, ``(L,)`` or ``(L, L)``; ``n_visible == prod(shape)``.
    window : int, optional
        Half-width of the periodic core window around the peak; default ``max(1, L // 8)``.
    radius_cut : float, optional
        Radius for ``share_within``; default ``window / 2``.
    block_sizes : sequence of int
        Block sizes ``b`` for ``block_share`` (each ``1 <= b <= L``).

    Returns
    -------
    Localization

    Notes
    -----
    All displacements are minimal-image on the torus. The core window is the box
    ``|d_k| <= window`` around the peak of ``r**2``; the centroid and radius of gyration are the
    first and second moments of ``r**2`` inside it.
    """
    unit_r, lattice = _as_unit_fields(fields, shape)
    unit_r2 = unit_r ** 2
    length = min(lattice)
    dimension = len(lattice)
    half = int(max(1, length // 8) if window is None else window)
    if half < 1 or 2 * half + 1 > length:
        raise ValueError(f"window must satisfy 1 <= window and 2*window+1 <= L={length}, got {half}")
    cut = float(half / 2.0 if radius_cut is None else radius_cut)
    if not cut > 0:
        raise ValueError(f"radius_cut must be positive, got {cut}")
    sizes = [int(b) for b in block_sizes]
    for b in sizes:
        if b < 1 or b > length:
            raise ValueError(f"block sizes must lie in [1, L={length}], got {b}")

    n_units = unit_r2.shape[0]
    flat = unit_r2.reshape(n_units, -1)
    total = flat.sum(axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    peak = np.array(np.unravel_index(np.argmax(flat, axis=1), lattice)).T  # (n_units, dim)

    # displacement of every site from each unit's peak, per dimension: (n_units, L_k)
    coords = [np.arange(s) for s in lattice]
    disp = [_minimal_image(coords[k][None, :] - peak[:, k:k + 1], lattice[k])
            for k in range(dimension)]
    inside = [np.abs(d) <= half for d in disp]
    if dimension == 1:
        mask = inside[0]
        dgrid = [disp[0]]
    else:
        mask = inside[0][:, :, None] & inside[1][:, None, :]
        dgrid = [np.broadcast_to(disp[0][:, :, None], unit_r2.shape),
                 np.broadcast_to(disp[1][:, None, :], unit_r2.shape)]
    w_core = np.where(mask, unit_r2, 0.0)
    core_total = w_core.reshape(n_units, -1).sum(axis=1)
    core_safe = np.where(core_total > 0, core_total, 1.0)
    axes = tuple(range(1, dimension + 1))
    mean = np.stack([(w_core * d).sum(axis=axes) / core_safe for d in dgrid], axis=1)
    second = sum(((w_core * (d - mean[:, k].reshape((-1,) + (1,) * dimension)) ** 2).sum(axis=axes))
                 for k, d in enumerate(dgrid)) / core_safe
    radius = np.sqrt(np.maximum(second, 0.0))
    centre = np.mod(peak + mean, np.array(lattice, dtype=np.float64))

    # share within radius_cut of the centre (minimal image from the non-integer centre)
    dist2: float | NDArray[np.float64] = 0.0
    for k in range(dimension):
        dk = _minimal_image(coords[k][None, :] - centre[:, k:k + 1], lattice[k])
        if dimension == 1:
            dist2 = dist2 + dk ** 2
        else:
            dist2 = dist2 + (dk[:, :, None] ** 2 if k == 0 else dk[:, None, :] ** 2)
    share_within = np.where(dist2 <= cut ** 2, unit_r2, 0.0).reshape(n_units, -1).sum(axis=1)
    share_within = share_within / safe_total

    block_share: dict[int, NDArray[np.float64]] = {}
    for b in sizes:
        sums = periodic_window_sums(unit_r2, b).reshape(n_units, -1)
        block_share[b] = sums.max(axis=1) / safe_total
    return Localization(radius=radius, share_within=share_within, block_share=block_share,
                        centre=centre, peak=peak.astype(np.int64), window=half,
                        radius_cut=cut, shape=lattice)


def layer_localization(fields_per_layer: Sequence[npt.ArrayLike], shape: Sequence[int],
                       **kwargs: Any) -> list[Localization]:
    """:func:`localization` for every layer; returns a list of :class:`Localization`."""
    return [localization(f, shape, **kwargs) for f in fields_per_layer]

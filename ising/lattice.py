"""Lattice geometry, energy and magnetization of periodic Ising configurations.

Conventions (docs/CONTRACTS.md): H = -J sum_<ij> s_i s_j - h sum_i s_i with periodic
boundaries; spins are int8 in {-1, +1}; a 1D chain has shape (L,), a 2D square lattice
(L, L). Every nearest-neighbour bond is counted once as (site, site + e_x) and
(site, site + e_y), so for L = 2 the two bonds joining the same pair of sites both count
(the torus convention of Kaufman's exact solution).

Everything here is plain NumPy and deliberately obvious: the fast kernels in
:mod:`ising._kernels` are checked against these functions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_dimension",
    "n_spins",
    "lattice_shape",
    "neighbour_table",
    "bond_sum",
    "energy_per_spin",
    "magnetization_per_spin",
]


def check_dimension(dimension: object) -> int:
    """Return ``dimension`` as an int, raising ValueError unless it is 1 or 2."""
    if isinstance(dimension, bool) or dimension not in (1, 2):
        raise ValueError(f"dimension must be 1 or 2, got {dimension!r}")
    return int(dimension)


def n_spins(size: int, dimension: int) -> int:
    """Number of spins ``size ** dimension`` of a periodic chain or square lattice."""
    return int(size) ** check_dimension(dimension)


def lattice_shape(size: int, dimension: int) -> tuple[int, ...]:
    """Array shape of one configuration: ``(size,)`` in 1D, ``(size, size)`` in 2D."""
    return (int(size),) * check_dimension(dimension)


def neighbour_table(size: int, dimension: int) -> NDArray[np.int64]:
    """Periodic nearest-neighbour indices of the flattened lattice.

    Parameters
    ----------
    size : int
        Linear size L.
    dimension : {1, 2}
        Lattice dimension.

    Returns
    -------
    ndarray of int64, shape (L**d, 2*d)
        Row ``i`` lists the neighbours of site ``i`` (row-major flattening) in the order
        right, left (1D) or right, left, down, up (2D).
    """
    dimension = check_dimension(dimension)
    size = int(size)
    idx = np.arange(size**dimension).reshape(lattice_shape(size, dimension))
    if dimension == 1:
        cols = [np.roll(idx, -1), np.roll(idx, 1)]
    else:
        cols = [np.roll(idx, -1, axis=1), np.roll(idx, 1, axis=1),
                np.roll(idx, -1, axis=0), np.roll(idx, 1, axis=0)]
    return np.stack([c.ravel() for c in cols], axis=1).astype(np.int64)


def _lattice_axes(spins: NDArray[np.generic], dimension: int) -> tuple[int, ...]:
    dimension = check_dimension(dimension)
    if spins.ndim < dimension:
        raise ValueError(
            f"spins must have at least {dimension} axes for dimension {dimension}, "
            f"got shape {spins.shape}")
    if dimension == 2 and spins.shape[-1] != spins.shape[-2]:
        raise ValueError(f"2D configurations must be square, got shape {spins.shape}")
    return tuple(range(-dimension, 0))


def bond_sum(spins: ArrayLike, dimension: int) -> NDArray[np.int64]:
    """Sum over nearest-neighbour bonds of s_i s_j (each bond once), per configuration.

    Parameters
    ----------
    spins : array_like, shape (..., L) or (..., L, L)
        Configurations in {-1, +1}; leading axes index samples.
    dimension : {1, 2}

    Returns
    -------
    ndarray of int64, shape (...)
    """
    s = np.asarray(spins)
    axes = _lattice_axes(s, dimension)
    s = s.astype(np.int64)
    total = np.zeros(s.shape[: s.ndim - len(axes)], dtype=np.int64)
    for ax in axes:
        total += (s * np.roll(s, -1, axis=ax)).sum(axis=axes)
    return total


def energy_per_spin(spins: ArrayLike, coupling: float, field: float,
                    dimension: int) -> NDArray[np.float64]:
    """Energy per spin e = H / N with H = -J sum_<ij> s_i s_j - h sum_i s_i.

    Parameters
    ----------
    spins : array_like, shape (..., L) or (..., L, L)
        Configurations in {-1, +1}; leading axes index samples.
    coupling : float
        J (ferromagnetic for J > 0).
    field : float
        h.
    dimension : {1, 2}

    Returns
    -------
    ndarray of float64, shape (...)
        Energy per spin of every configuration (periodic boundaries, docs/CONTRACTS.md).
    """
    s = np.asarray(spins)
    axes = _lattice_axes(s, dimension)
    n = int(np.prod([s.shape[a] for a in axes]))
    bonds = bond_sum(s, dimension)
    total_m = s.astype(np.int64).sum(axis=axes)
    return (-float(coupling) * bonds - float(field) * total_m) / n


def magnetization_per_spin(spins: ArrayLike, dimension: int) -> NDArray[np.float64]:
    """Magnetization per spin m = (1/N) sum_i s_i (signed).

    Parameters
    ----------
    spins : array_like, shape (..., L) or (..., L, L)
    dimension : {1, 2}

    Returns
    -------
    ndarray of float64, shape (...)
    """
    s = np.asarray(spins)
    axes = _lattice_axes(s, dimension)
    n = int(np.prod([s.shape[a] for a in axes]))
    return s.astype(np.int64).sum(axis=axes) / n

"""Visiting schemes of the local algorithms and their flip-probability tables.

Which sites a sweep visits, in which order, and with which probability a visited spin flips:
the part of a sampler that decides its Markov chain (:mod:`ising.samplers` runs it through the
kernels of :mod:`ising._kernels`). Conventions of docs/CONTRACTS.md: H = -J sum_<ij> s_i s_j
- h sum_i s_i, weight exp(-H/T); a sweep is N = L^d attempted single-spin updates.

Visiting schemes of the local algorithms (:func:`visiting_scheme`)
    * ``"checkerboard"``: a sweep updates every site of colour 0 (even coordinate sum), then
      every site of colour 1; sites of one colour do not interact for even sizes, so a
      half-sweep is a product of independent single-site kernels and leaves the Boltzmann
      distribution invariant. Used for heat-bath at every even size and for Metropolis in 2D
      at even L >= 4, where Metropolis is *lazy*: each site of the colour is proposed for a
      flip with probability q = 1 - 2**-11 (and left alone otherwise), then accepted with
      min(1, exp(-dE/T)), i.e. it flips with probability q min(1, exp(-dE/T)), decided by one
      uniform against the threshold floor(q P 2**53) (:data:`LAZY_PROPOSAL`). The lazy kernel
      q M_i + (1 - q) 1 is reversible like M_i.
    * ``"random-site"``: N elementary steps per sweep, each at a uniformly random site
      (random sequential updating). Used for Metropolis in 1D, Metropolis at L = 2 in 2D, and
      both local algorithms at odd sizes.

Why each scheme is ergodic (irreducible and aperiodic on the 2**N configurations at T > 0):
    * Checkerboard heat-bath: every flip probability 1 / (1 + exp(dE/T)) lies strictly
      between 0 and 1, so one half-sweep produces every configuration of its colour with
      positive probability, and one sweep every configuration.
    * Lazy checkerboard Metropolis: likewise, every site of the colour flips with probability
      (1 - 2**-11) min(1, exp(-dE/T)) > 0 and stays with probability >= 2**-11 > 0,
      independently of the other sites, so one sweep reaches every configuration.
    * Random site: each elementary step is a single-site Metropolis or heat-bath kernel at a
      site chosen with probability 1/N, reversible with respect to exp(-H/T). Any single flip
      has positive probability, so any configuration reaches any other by flipping the sites
      where they differ one at a time (irreducible). In a ground state every single flip costs
      dE >= 0, and one with dE > 0 is rejected with positive probability (heat-bath rejects
      every flip with positive probability), so the chain can stay put (aperiodic). The one
      exception, Metropolis at J = h = 0 (every move free, the parity of the number of flips
      fixed), is refused.
    * Why not plain checkerboard Metropolis: zero-cost moves are then always taken, and the
      dynamics has closed classes. In 1D every isolated domain wall moves one bond per
      half-sweep in a fixed direction, so the number of right- minus left-moving walls is
      conserved; at L = 2 in 2D the lattice is a 4-cycle with doubled bonds, the same chain;
      on the 4 x 4 lattice at h = 0, 36 zero-energy striped configurations (every site with
      neighbour sum 0) can neither be left nor entered. A random colour order per half-sweep
      does not help (it still flips all zero-cost sites of a colour together).
      ``tests/test_ergodicity.py`` enumerates these classes exactly, and the validation suite
      (:mod:`ising.validation`) rejects a sampler built on the old 1D scheme.

References
----------
N. Metropolis et al., J. Chem. Phys. 21, 1087 (1953).
R. J. Glauber, J. Math. Phys. 4, 294 (1963) (heat-bath / Glauber dynamics).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["ALGORITHMS", "LOCAL_ALGORITHMS", "CLUSTER_ALGORITHMS", "SCHEMES", "LAZY_BITS", "LAZY_PROPOSAL",
           "visiting_scheme", "flip_probabilities", "probability_threshold",
           "random_site_table", "threshold_table", "flip_thresholds"]

ALGORITHMS = ("metropolis", "heatbath", "wolff", "swendsen-wang")
LOCAL_ALGORITHMS = ("metropolis", "heatbath")
CLUSTER_ALGORITHMS = ("wolff", "swendsen-wang")
#: Integer codes of the visiting schemes, stored in the sampler state.
SCHEMES = ("checkerboard", "random-site", "cluster")
#: Lazy Metropolis (2D checkerboard): each site is proposed with probability 1 - 2**-11, i.e.
#: its flip probability min(1, exp(-dE/T)) is multiplied by this (the multi-spin engine's q).
LAZY_BITS = 11
LAZY_PROPOSAL = 1.0 - 2.0 ** -LAZY_BITS

_TWO53 = 1 << 53


def visiting_scheme(algorithm: str, dimension: int, size: int
                    ) -> Literal["checkerboard", "random-site", "cluster"]:
    """The order in which an algorithm visits the sites (see the module docstring).

    Parameters
    ----------
    algorithm : {"metropolis", "heatbath", "wolff", "swendsen-wang"}
    dimension : {1, 2}
    size : int
        Linear size L (N = L**dimension spins).

    Returns
    -------
    {"checkerboard", "random-site", "cluster"}
        ``"checkerboard"`` for heat-bath at even sizes and (lazy) Metropolis in 2D at even
        L >= 4,
        ``"random-site"`` for Metropolis in 1D, Metropolis at L = 2 and every odd size of the
        local algorithms, ``"cluster"`` for Wolff and Swendsen-Wang.
    """
    if algorithm in CLUSTER_ALGORITHMS:
        return "cluster"
    if algorithm not in LOCAL_ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if size % 2:
        return "random-site"
    if algorithm == "metropolis" and (dimension == 1 or size == 2):
        return "random-site"
    return "checkerboard"


def probability_threshold(p: float) -> int:
    """floor(p * 2**53) for p in [0, 1]: the integer acceptance threshold of the kernels."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability out of range: {p}")
    return int(math.floor(p * _TWO53))


def flip_probabilities(algorithm: str, dimension: int, temperature: float,
                       coupling: float, field: float) -> NDArray[np.float64]:
    """Flip probability of a spin s given its neighbour sum nb, for the local algorithms.

    Flipping s costs dE = 2 s (J nb + h). Metropolis accepts with min(1, exp(-dE/T));
    heat-bath (Glauber) sets the spin from its conditional distribution, which is the same
    as flipping with probability 1 / (1 + exp(dE/T)).

    Returns
    -------
    ndarray of float64, shape (2, 2*dimension + 1)
        Row 0 is s = -1, row 1 is s = +1; column k is nb = 2k - 2*dimension.
    """
    z = 2 * dimension
    out = np.empty((2, z + 1))
    for si, s in enumerate((-1, 1)):
        for k in range(z + 1):
            nb = 2 * k - z
            d_e = 2.0 * s * (coupling * nb + field)
            x = d_e / temperature
            if algorithm == "metropolis":
                out[si, k] = 1.0 if x <= 0 else math.exp(-x)
            else:
                # 1/(1+e^x), written to avoid overflow for large |x|
                out[si, k] = 1.0 / (1.0 + math.exp(x)) if x <= 0 else \
                    math.exp(-x) / (1.0 + math.exp(-x))
    return out


def random_site_table(p: NDArray[np.float64], dimension: int) -> NDArray[np.uint64]:
    """Table of floor(P * 2**53) indexed (2 z + 1) (s + 1) / 2 + nb + z, z = 2 * dimension
    (the layout of ``_kernels.random_site_chains``)."""
    z = 2 * dimension
    table = np.zeros(2 * (2 * z + 1), dtype=np.uint64)
    for si in range(2):
        for k in range(z + 1):
            table[(2 * z + 1) * si + 2 * k] = probability_threshold(p[si, k])
    return table


def threshold_table(p: NDArray[np.float64], dimension: int) -> NDArray[np.uint64]:
    """Kernel lookup table of floor(P * 2**53), indexed 5 s + nb + 9 (2D) or 3 s + nb + 5 (1D)."""
    z = 2 * dimension
    a, off = (5, 9) if dimension == 2 else (3, 5)
    table = np.zeros(a + z + off + 1, dtype=np.uint64)
    for si, s in enumerate((-1, 1)):
        for k in range(z + 1):
            table[a * s + (2 * k - z) + off] = probability_threshold(p[si, k])
    return table


def flip_thresholds(algorithm: str, scheme: str, dimension: int, temperature: float,
                    coupling: float, field: float) -> NDArray[np.uint64]:
    """The kernels' flip-threshold table for a local algorithm in its visiting ``scheme``.

    Random-site sweeps use :func:`random_site_table`; checkerboard sweeps use
    :func:`threshold_table`, with the Metropolis probabilities multiplied by
    :data:`LAZY_PROPOSAL` (lazy Metropolis: every site may also stay, see the module
    docstring).
    """
    p = flip_probabilities(algorithm, dimension, temperature, coupling, field)
    if scheme == "random-site":
        return random_site_table(p, dimension)
    if algorithm == "metropolis":
        p = p * LAZY_PROPOSAL
    return threshold_table(p, dimension)

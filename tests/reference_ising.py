"""Slow, obviously-correct references for the Ising kernels and exact small-lattice results.

Every function here is plain Python/NumPy written straight from the definitions (no Numba),
so the fast kernels of :mod:`ising._kernels` can be compared with them byte for byte when fed
the same random numbers, and the samplers with exact enumeration.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

MASK = (1 << 64) - 1
TWO53 = 1 << 53


# --------------------------------------------------------------------- RNG
class Xoshiro256StarStar:
    """xoshiro256** from Blackman & Vigna's reference C code, in Python integers."""

    def __init__(self, state):
        self.s = [int(x) for x in state]

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def state(self):
        return np.array(self.s, dtype=np.uint64)


# ------------------------------------------------------------ local updates
def flip_probability(algorithm, s, nb, temperature, coupling, field):
    """Probability to flip spin s with neighbour sum nb (dE = 2 s (J nb + h))."""
    d_e = 2.0 * s * (coupling * nb + field)
    if algorithm == "metropolis":
        return min(1.0, math.exp(-d_e / temperature))
    # heat-bath: new spin drawn from P(s') ~ exp(s' (J nb + h) / T); flip = draw -s
    w_keep = math.exp(s * (coupling * nb + field) / temperature)
    w_flip = math.exp(-s * (coupling * nb + field) / temperature)
    return w_flip / (w_keep + w_flip)


def threshold(p):
    return int(math.floor(p * TWO53))


def _try_flip(lat, idx, nb, algorithm, temperature, coupling, field, rng):
    s = int(lat[idx])
    t = threshold(flip_probability(algorithm, s, nb, temperature, coupling, field))
    if t >= TWO53:
        lat[idx] = -s
    elif t > 0:
        if (rng.next() >> 11) < t:
            lat[idx] = -s


def local_sweep_2d(lat, algorithm, temperature, coupling, field, rngs):
    """One checkerboard sweep of an (L, L) lattice in place.

    ``rngs`` is one generator (chain mode) or a list of L generators, one per row (row mode).
    Colour 0 (i + j even) first, then colour 1; rows in order, sites left to right.
    """
    L = lat.shape[0]
    for colour in (0, 1):
        for i in range(L):
            rng = rngs[i] if isinstance(rngs, list) else rngs
            for j in range(L):
                if (i + j) % 2 != colour:
                    continue
                nb = int(lat[(i - 1) % L, j]) + int(lat[(i + 1) % L, j]) + \
                    int(lat[i, (j - 1) % L]) + int(lat[i, (j + 1) % L])
                _try_flip(lat, (i, j), nb, algorithm, temperature, coupling, field, rng)


def local_sweep_1d(lat, algorithm, temperature, coupling, field, rng):
    """One even/odd sweep of a periodic chain in place."""
    L = lat.shape[0]
    for colour in (0, 1):
        for j in range(colour, L, 2):
            nb = int(lat[(j - 1) % L]) + int(lat[(j + 1) % L])
            _try_flip(lat, j, nb, algorithm, temperature, coupling, field, rng)


# ------------------------------------------------------------------ clusters
def neighbours(site, L, dimension):
    """Neighbours of a flattened site in kernel order: right, left (, down, up)."""
    if dimension == 1:
        return [(site + 1) % L, (site - 1) % L]
    i, j = divmod(site, L)
    return [i * L + (j + 1) % L, i * L + (j - 1) % L, ((i + 1) % L) * L + j, ((i - 1) % L) * L + j]


def wolff_clusters(flat, L, dimension, temperature, coupling, n_clusters, rng):
    """Grow ``n_clusters`` Wolff clusters on a flattened lattice in place (LIFO stack).

    Each visit of a neighbour of a cluster spin draws one random number; the neighbour joins
    (and flips) iff it has the seed's original sign and the number is below p = 1 - exp(-2K).

    Returns the number of flipped spins.
    """
    p_thr = threshold(1.0 - math.exp(-2.0 * coupling / temperature))
    n = flat.shape[0]
    flips = 0
    for _ in range(n_clusters):
        seed = ((rng.next() >> 32) * n) >> 32
        s = int(flat[seed])
        flat[seed] = -s
        stack = [seed]
        flips += 1
        while stack:
            x = stack.pop()
            for y in neighbours(x, L, dimension):
                u = rng.next()  # one number per neighbour visit, used or not
                if flat[y] == s and (u >> 11) < p_thr:
                    flat[y] = -s
                    stack.append(y)
                    flips += 1
    return flips


def swendsen_wang_sweep(flat, L, dimension, temperature, coupling, rng):
    """One Swendsen-Wang update of a flattened lattice in place.

    Bonds are visited site by site (right, then down), each satisfied bond drawing one
    number; clusters are labelled by breadth-first search and flipped by one coin each,
    coins drawn in the order of each cluster's smallest site index.
    """
    p_thr = threshold(1.0 - math.exp(-2.0 * coupling / temperature))
    n = flat.shape[0]
    adj = [[] for _ in range(n)]
    for x in range(n):
        nbrs = neighbours(x, L, dimension)
        forward = [nbrs[0]] if dimension == 1 else [nbrs[0], nbrs[2]]
        for y in forward:
            if flat[x] == flat[y] and (rng.next() >> 11) < p_thr:
                adj[x].append(y)
                adj[y].append(x)
    label = [-1] * n
    for x in range(n):  # x is the smallest index of its cluster when first unlabelled
        if label[x] >= 0:
            continue
        label[x] = x
        queue = [x]
        while queue:
            u = queue.pop()
            for v in adj[u]:
                if label[v] < 0:
                    label[v] = x
                    queue.append(v)
    flip = {}
    for x in range(n):
        if label[x] == x:
            flip[x] = rng.next() >> 63
    for x in range(n):
        if flip[label[x]]:
            flat[x] = -flat[x]


# ------------------------------------------------------------- exact results
def all_configurations(n):
    """All 2**n configurations of n spins, int8 (2**n, n)."""
    return np.array(list(itertools.product((-1, 1), repeat=n)), dtype=np.int8)


def energy_loops(spins, coupling, field):
    """Total energy of one configuration by explicit loops over bonds (1D or 2D)."""
    s = np.asarray(spins)
    total = 0.0
    if s.ndim == 1:
        L = s.shape[0]
        for j in range(L):
            total -= coupling * s[j] * s[(j + 1) % L] + field * s[j]
    else:
        L = s.shape[0]
        for i in range(L):
            for j in range(L):
                total -= coupling * s[i, j] * (s[i, (j + 1) % L] + s[(i + 1) % L, j]) + field * s[i, j]
    return float(total)


def brute_force(L, dimension, temperature, coupling=1.0, field=0.0):
    """Exact thermodynamics by enumeration of a periodic lattice (N = L**d <= 20).

    Returns dict with per-spin ``energy``, ``specific_heat`` (N (<e^2>-<e>^2)/T^2),
    ``magnetization``, ``abs_magnetization`` and ``m2``.
    """
    n = L ** dimension
    confs = all_configurations(n).astype(np.int64)
    c = confs.reshape((-1,) + (L,) * dimension)
    if dimension == 1:
        bonds = (c * np.roll(c, -1, axis=1)).sum(axis=1)
    else:
        bonds = (c * np.roll(c, -1, axis=1)).sum(axis=(1, 2)) + (c * np.roll(c, -1, axis=2)).sum(axis=(1, 2))
    mtot = confs.sum(axis=1)
    energy = -coupling * bonds - field * mtot
    w = np.exp(-(energy - energy.min()) / temperature)
    w /= w.sum()
    e = energy / n
    m = mtot / n
    mean_e = float(w @ e)
    return {
        "energy": mean_e,
        "specific_heat": float(n * (w @ (e * e) - mean_e**2) / temperature**2),
        "magnetization": float(w @ m),
        "abs_magnetization": float(w @ np.abs(m)),
        "m2": float(w @ (m * m)),
    }


def correlation_1d_periodic(N, K, r):
    """<s_i s_{i+r}> of a periodic chain of N spins at h = 0: (t^r + t^(N-r)) / (1 + t^N)."""
    t = math.tanh(K)
    return (t**r + t ** (N - r)) / (1.0 + t**N)

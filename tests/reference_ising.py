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


# ----------------------------------------------------- counter-based draws
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15


def splitmix64_mix(z):
    """SplitMix64's output function (Steele, Lea & Flood 2014; Vigna's splitmix64.c)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def counter_draw(key, sweep, n_spins, x):
    """Draw of the site at checkerboard-layout index x in sweep ``sweep`` of a chain with ``key``:
    SplitMix64 output number sweep * N + x + 1 of the state ``key``."""
    return splitmix64_mix((key + (sweep * n_spins + x + 1) * SPLITMIX_GAMMA) & MASK)


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


def local_sweep_2d_counter(lat, algorithm, temperature, coupling, field, key, sweep):
    """One checkerboard sweep of an (L, L) lattice in place with the counter-based draws.

    Colour 0 (i + j even) first, then colour 1. Every site draws ``counter_draw`` at its
    checkerboard-layout index x = (c L + i) (L/2) + j // 2 and flips iff (r >> 11) < floor(P 2**53),
    with P multiplied by q = 1 - 2**-11 for (lazy) Metropolis.
    """
    L = lat.shape[0]
    H = L // 2
    for colour in (0, 1):
        for i in range(L):
            for j in range(L):
                if (i + j) % 2 != colour:
                    continue
                nb = int(lat[(i - 1) % L, j]) + int(lat[(i + 1) % L, j]) + \
                    int(lat[i, (j - 1) % L]) + int(lat[i, (j + 1) % L])
                s = int(lat[i, j])
                p = flip_probability(algorithm, s, nb, temperature, coupling, field)
                t = threshold(p * (1.0 - 2.0 ** -11) if algorithm == "metropolis" else p)
                r = counter_draw(key, sweep, L * L, (colour * L + i) * H + j // 2)
                if (r >> 11) < t:
                    lat[i, j] = -s


def local_sweep_1d(lat, algorithm, temperature, coupling, field, rng):
    """One even/odd sweep of a periodic chain in place."""
    L = lat.shape[0]
    for colour in (0, 1):
        for j in range(colour, L, 2):
            nb = int(lat[(j - 1) % L]) + int(lat[(j + 1) % L])
            _try_flip(lat, j, nb, algorithm, temperature, coupling, field, rng)


def uniform_index(n, rng):
    """Exactly uniform integer in [0, n) by Lemire's multiply-shift with rejection, on the top
    32 bits of xoshiro256** draws (the kernels' random-site choice)."""
    bound = ((1 << 32) - n) % n
    while True:
        m = (rng.next() >> 32) * n
        if (m & 0xFFFFFFFF) >= bound:
            return m >> 32


def random_site_sweep(flat, nbr, algorithm, temperature, coupling, field, rng):
    """N random-site updates of a flattened lattice in place (neighbour table ``nbr``)."""
    n = flat.shape[0]
    for _ in range(n):
        x = uniform_index(n, rng)
        nb = sum(int(flat[y]) for y in nbr[x])
        _try_flip(flat, x, nb, algorithm, temperature, coupling, field, rng)


# ------------------------------------------------------------------ clusters
def neighbours(site, L, dimension):
    """Neighbours of a flattened site in kernel order: right, left (, down, up)."""
    if dimension == 1:
        return [(site + 1) % L, (site - 1) % L]
    i, j = divmod(site, L)
    return [i * L + (j + 1) % L, i * L + (j - 1) % L, ((i + 1) % L) * L + j, ((i - 1) % L) * L + j]


def wolff_clusters_counter(flat, L, dimension, temperature, coupling, n_clusters, key, ctr):
    """Grow ``n_clusters`` Wolff clusters in place, breadth first, with counter-based draws.

    d(m) = splitmix64_mix(key + m GAMMA). A cluster draws d(ctr + 1) for its seed site
    ((d >> 32) N) >> 32; the spin at queue position q draws D = 2 (2D) or 1 (1D) numbers
    d(ctr + 1 + D q + m + 1), m < D, whose low and high 32-bit halves decide its neighbours
    2m and 2m + 1 (order right, left, down, up): join iff same sign as the seed's original
    and half < floor(p 2**32). Afterwards ctr += 1 + D |C|.

    Returns ``(flips, ctr)``.
    """
    p32 = threshold(1.0 - math.exp(-2.0 * coupling / temperature)) >> 21
    n = flat.shape[0]
    per_spin = dimension  # draws per cluster spin: 2 neighbours per 64-bit draw
    flips = 0
    for _ in range(n_clusters):
        ctr += 1
        seed = ((splitmix64_mix((key + ctr * SPLITMIX_GAMMA) & MASK) >> 32) * n) >> 32
        s = int(flat[seed])
        flat[seed] = -s
        queue = [seed]
        q = 0
        while q < len(queue):
            x = queue[q]
            halves = []
            for m in range(per_spin):
                d = splitmix64_mix((key + (ctr + per_spin * q + m + 1) * SPLITMIX_GAMMA) & MASK)
                halves += [d & 0xFFFFFFFF, d >> 32]
            for y, u in zip(neighbours(x, L, dimension), halves):
                if flat[y] == s and u < p32:
                    flat[y] = -s
                    queue.append(y)
            q += 1
        ctr += per_spin * len(queue)
        flips += len(queue)
    return flips, ctr


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

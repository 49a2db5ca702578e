"""Slow per-lane reference of the multi-spin-coded Metropolis update (:mod:`ising.multispin`).

Written from the definition, one replica and one site at a time, with no bit-slicing: the
spin s of replica c at site (i, j) has a = number of unsatisfied bonds (s_i s_j J < 0); it
flips if a >= 2, and otherwise iff its uniform U = 0.R_1 R_2 ... (R_m = bit c % 64 of the
m-th counter-based draw of the site, d(64 (w N + x) + m) in sweep w
at checkerboard-layout index x = (colour L + i) L/2 + j // 2) satisfies floor(U 2**64) < floor(p 2**64), p =
exp(-4 (2 - a) |J| / T) (p = 1 always flips). The bits R_m are read one at a time until they
differ from the threshold's bits, which is the same decision as comparing the whole 64-bit
integers.
"""

from __future__ import annotations

import math

import numpy as np

from tests.reference_ising import MASK, SPLITMIX_GAMMA, splitmix64_mix


def draw(key, counter):
    """d(counter) = mix64(key + counter GAMMA) of the counter-based stream."""
    return splitmix64_mix((key + counter * SPLITMIX_GAMMA) & MASK)


def lane_threshold(p):
    """floor(p 2**64), or None for p = 1 (always accept)."""
    return None if p >= 1.0 else int(math.ldexp(p, 64))


def multispin_sweep(spins, temperatures, couplings, keys, sweep):
    """One checkerboard sweep of every replica of ``spins`` (n_replicas, L, L) in place.

    Replica c uses ``keys[c // 64]`` and lane c % 64; ``sweep`` is the sweep number (from 0).
    """
    n, L, _ = spins.shape
    N = L * L
    for c in range(n):
        key, lane = int(keys[c // 64]), c % 64
        J, T = float(couplings[c]), float(temperatures[c])
        lat = spins[c]
        for colour in (0, 1):
            for i in range(L):
                for j in range(L):
                    if (i + j) % 2 != colour:
                        continue
                    s = int(lat[i, j])
                    nbrs = (lat[(i - 1) % L, j], lat[(i + 1) % L, j], lat[i, (j - 1) % L],
                            lat[i, (j + 1) % L])
                    a = sum(1 for t in nbrs if J * s * int(t) < 0)  # unsatisfied bonds
                    if a >= 2 or J == 0:  # dE = 4 |J| (2 - a) <= 0
                        lat[i, j] = -s
                        continue
                    thr = lane_threshold(math.exp(-4.0 * (2 - a) * abs(J) / T))
                    if thr is None:
                        lat[i, j] = -s
                        continue
                    x = (colour * L + i) * (L // 2) + j // 2  # checkerboard layout index
                    base = 64 * (sweep * N + x)
                    accept = False
                    for m in range(64):
                        r = (draw(key, base + m + 1) >> lane) & 1
                        t = (thr >> (63 - m)) & 1
                        if r != t:
                            accept = r < t
                            break
                    if accept:
                        lat[i, j] = -s

"""Slow references of the multi-spin-coded (lazy) Metropolis update (:mod:`ising.multispin`).

:func:`multispin_sweep` is written from the definition, one replica and one site at a time,
with no bit-slicing: the spin s of replica c at site (i, j) has a = number of unsatisfied
bonds (J s_i s_j < 0) and flips iff its uniform U = 0.R_1 R_2 ... satisfies
floor(U 2**64) < t = floor((1 - 2**-11) floor(p 2**64)) (floor(p 2**64) read as 2**64 for
p = 1), with p = min(1, exp(-4 (2 - a) |J| / T)). R_m is bit c % 64 of the m-th
counter-based draw of the site, d(64 (w N + x) + m) in sweep w at checkerboard-layout index
x = (colour L + i) L/2 + j // 2. The bits R_m are read one at a time until they differ from
the threshold's bits, which is the same decision as comparing the whole 64-bit integers.
:func:`bitsliced_sweep` is an independent whole-lattice NumPy version of the bit-sliced
update.
"""

from __future__ import annotations

import math

import numpy as np

from tests.reference_ising import MASK, SPLITMIX_GAMMA, splitmix64_mix


def draw(key, counter):
    """d(counter) = mix64(key + counter GAMMA) of the counter-based stream."""
    return splitmix64_mix((key + counter * SPLITMIX_GAMMA) & MASK)


def lane_threshold(p, lazy_bits=11):
    """floor((1 - 2**-lazy_bits) floor(p 2**64)), floor(p 2**64) read as 2**64 for p = 1."""
    t = 1 << 64 if p >= 1.0 else int(math.ldexp(p, 64))
    return (t * ((1 << lazy_bits) - 1)) >> lazy_bits


def multispin_sweep(spins, temperatures, couplings, keys, sweep, deep=8):
    """One checkerboard sweep of every replica of ``spins`` (n_replicas, L, L) in place.

    Replica c uses ``keys[c // 64]`` and lane c % 64; ``sweep`` is the sweep number (from 0).
    Returns the number of decisions that needed more than ``deep`` bits.
    """
    n_deep = 0
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
                    # dE = 4 |J| (2 - a); Metropolis min(1, exp(-dE/T)), then lazy
                    thr = lane_threshold(min(1.0, math.exp(-4.0 * (2 - a) * abs(J) / T)))
                    x = (colour * L + i) * (L // 2) + j // 2  # checkerboard layout index
                    base = 64 * (sweep * N + x)
                    accept = False
                    for m in range(64):
                        r = (draw(key, base + m + 1) >> lane) & 1
                        t = (thr >> (63 - m)) & 1
                        if r != t:
                            accept = r < t
                            n_deep += m >= deep
                            break
                    if accept:
                        lat[i, j] = -s
    return n_deep


# ------------------------------------------------ bit-sliced NumPy reference
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
GAMMA = np.uint64(SPLITMIX_GAMMA)


def mix64_array(z):
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def bitsliced_sweep(words, keys, sweep, tp, sure, afm, shared=False):
    """One sweep of the bit-sliced update on row-major words (n_groups, L, L), in place.

    Written with whole-lattice NumPy operations (neighbours by ``np.roll``, the four one-bit
    numbers added with the textbook full adder), independently of the Numba kernel.
    ``tp`` (n_groups, 3, 64) threshold planes of the classes a >= 2, 1, 0, ``sure``
    (always-flip lanes) and ``afm`` (n_groups,) are the lane words of
    :class:`ising.multispin.MultiSpinMetropolis`. With ``shared=True`` every plane
    word is replaced by bit 0 of itself broadcast to all lanes, so the 64 lanes of a word share
    one uniform per site: the deliberately broken variant of the cross-replica test.
    """
    G, L, _ = words.shape
    H = L // 2
    i, j = np.indices((L, L))
    col = (i + j) % 2
    x = ((col * L + i) * H + j // 2).astype(np.uint64)  # checkerboard layout index
    n = np.uint64(L * L)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        for colour in (0, 1):
            sel = col == colour
            s = words[:, sel]
            nb = [np.roll(words, 1, 1)[:, sel], np.roll(words, -1, 1)[:, sel],
                  np.roll(words, 1, 2)[:, sel], np.roll(words, -1, 2)[:, sel]]
            xs = [s ^ v ^ afm[:, None] for v in nb]
            # a = xs0 + xs1 + xs2 + xs3 as a three-bit number (two half adders, one full adder)
            lo1, hi1 = xs[0] ^ xs[1], xs[0] & xs[1]
            lo2, hi2 = xs[2] ^ xs[3], xs[2] & xs[3]
            bit0 = lo1 ^ lo2
            carry = lo1 & lo2
            bit1 = hi1 ^ hi2 ^ carry
            bit2 = (hi1 & hi2) | (hi1 & carry) | (hi2 & carry)
            ge2 = bit1 | bit2
            is1 = bit0 & ~ge2
            is0 = ~(bit0 | ge2)
            acc = np.repeat(sure[:, None], s.shape[1], axis=1)
            und = acc ^ ones
            ctr = (np.uint64(sweep) * n + x[sel]) * np.uint64(64) + np.uint64(1)
            for m in range(64):
                if not und.any():
                    break
                r = mix64_array(keys[:, None] + (ctr[None, :] + np.uint64(m)) * GAMMA)
                if shared:
                    r = np.uint64(0) - (r & np.uint64(1))
                t = (ge2 & tp[:, 0, m:m + 1]) | (is1 & tp[:, 1, m:m + 1]) | (is0 & tp[:, 2, m:m + 1])
                acc |= und & t & ~r
                und &= ~(r ^ t)
            words[:, sel] = s ^ acc

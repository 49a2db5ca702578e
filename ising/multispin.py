"""Multi-spin-coded checkerboard Metropolis: 64 independent replicas per 64-bit word.

Representation
    Replica ``c`` lives in bit ``r = c % 64`` (its *lane*) of the words of *group*
    ``g = c // 64``: ``words[g, i, j]`` (uint64, shape (n_groups, L, L), row-major sites)
    holds the spins of the 64 replicas of group g at site (i, j), bit 1 meaning s = +1
    (:func:`pack_spins`, :func:`unpack_spins`). All replicas are periodic L x L lattices with
    the conventions of docs/CONTRACTS.md: H = -J sum_<ij> s_i s_j, weight exp(-H/T), here
    at zero field h = 0. Lane r may carry its own temperature T_r and coupling J_r.

Update (checkerboard Metropolis, bit-sliced)
    A sweep updates the sites with (i + j) even, then those with (i + j) odd (N = L^2
    attempts per replica; a valid checkerboard decomposition for even L, so L must be even).
    For a site with spin word S and neighbour words N1..N4, ``X_k = S ^ N_k ^ A`` has bit r
    set iff the bond to neighbour k costs energy in lane r (A = the lanes with J_r < 0,
    where anti-aligned bonds are the favourable ones). A bit-sliced adder sums the four
    one-bit numbers into the three-bit count ``a`` of unsatisfied bonds of every lane. With
    s nb = 4 - 2a satisfied-minus-unsatisfied bonds for J > 0 (and the roles of the two
    swapped for J < 0), flipping costs

        dE = 2 J s nb = 4 |J| (2 - a)  (a = number of unsatisfied bonds),

    so lanes with a >= 2 flip always (dE <= 0) and lanes with a = 1 (dE = 4|J|) or a = 0
    (dE = 8|J|) flip with probability p_4 = exp(-4|J_r|/T_r) or p_8 = exp(-8|J_r|/T_r)
    (Metropolis et al. 1953).

Independent acceptance per lane (bit-sliced Bernoulli)
    Each lane decides with its own uniform U = 0.R_1 R_2 R_3 ... (binary), whose bit j is
    bit r of the j-th random word of the site. The integer threshold of a lane is
    t = floor(p 2**64) (so U < p is decided from the first 64 bits: the lane flips iff
    floor(U 2**64) < t), and bit-plane j of the thresholds is the word whose bit r is bit
    64 - j of lane r's t. Comparing MSB first, a lane is decided at the first j where R_j
    differs from its threshold bit (accept iff R_j = 0 < 1); lanes still undecided after
    64 planes (U and p agree on 64 bits) are rejected. The acceptance probability is
    therefore exactly floor(p 2**64) / 2**64, within 2**-64 of p (for p >= 2**-11 it is
    the float64 p itself, which then has no bits beyond 2**-64). A lane is decided after
    2 planes on average. Every site computes the first PLANES_INLINE (8) words branch-free
    (vectorised over the sites of a run), the sites with lanes still undecided four more,
    and the rare rest one word at a time until all their lanes are decided.

Ergodicity
    Within the configurations where every site has exactly two unsatisfied bonds, every move
    costs nothing and is taken, so a checkerboard sweep moves such a state deterministically
    within that set, which no other state can reach (:func:`in_zero_cost_set`). Random starts
    are drawn outside it; the chains then sample the Boltzmann distribution conditioned on
    its complement, at total-variation distance equal to the set's Boltzmann weight (at
    most 1.2e-4 on 4 x 4 for T <= 3.5J, exponentially small in L^2). This holds for the
    scalar checkerboard kernels of :mod:`ising._kernels` alike. J = 0 is refused: every
    move would be free and the chain deterministic.

Random streams (counter-based, thread-count independent)
    Group g has a key k_g and a sweep counter w_g. In its sweep w the site with
    checkerboard-layout index x = (c L + i) L/2 + j // 2 (colour c = (i + j) mod 2, the
    layout of :func:`ising._kernels.checkerboard_permutation`) uses the words
    d(64 (w N + x) + m + 1), m = 0 ... 63 (plane m), with
    d(m) = mix64(k_g + m GAMMA) the counter-based SplitMix64 stream of
    :mod:`ising._kernels`. The m-th word of a site is a fixed function of (k_g, w, x, m)
    whether or not it is computed, and lane r reads only bit r of it: a lane's decision
    depends on its own bits at fixed positions and on its own spins only. Hence

    * the trajectory of replica c is a function of (seed, c, T_c, J_c, initial spins) and
      the number of sweeps only: not of the number of replicas, nor of the temperatures,
      couplings or states of the replicas sharing its word (a 1-replica run and replica 0
      of a 64-replica run agree bit for bit);
    * the order of the sites of one colour, the split of rows or groups over threads and
      the thread count do not change a single bit;
    * replicas in one group read different bits of the same words; SplitMix64's bits are
      independent to the precision of BigCrush, so the lanes are statistically independent
      chains (tested in tests/test_multispin.py through cross-replica correlations).

    Keys are spawned from ``numpy.random.SeedSequence(seed)``; the streams of two groups
    are windows of one 2**64-periodic Weyl sequence at random offsets, so G groups of n
    draws each overlap with probability below G**2 n / 2**64 (a 64 x 64 lattice uses
    2**18 counters per sweep: 16 groups for 2**20 sweeps give 2**-18).

References
----------
N. Metropolis, A. W. Rosenbluth, M. N. Rosenbluth, A. H. Teller and E. Teller,
J. Chem. Phys. 21, 1087 (1953).
S. V. Isakov, I. N. Zintchenko, T. F. Ronnow and M. Troyer, "Optimised simulated annealing
for Ising spin glasses", Comput. Phys. Commun. 192, 265 (2015) (multi-spin coding).
G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014 (SplitMix64).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import GAMMA, checkerboard_permutation, mix64
from .lattice import energy_per_spin, magnetization_per_spin

__all__ = ["MultiSpinMetropolis", "pack_spins", "unpack_spins", "acceptance_planes",
           "in_zero_cost_set", "LANES", "PLANES"]

#: Replicas per word.
LANES = 64
#: Bit-planes of the acceptance thresholds (precision of the bit-sliced comparison).
PLANES = 64
#: A single group (n_replicas <= 64) of at least this linear size splits its rows over threads
#: by default (``row_parallel=None``). Each meeting of the threads waits for the slowest one,
#: and on a machine with more runnable threads than cores a descheduled thread stalls it for
#: a scheduler time slice: 2 threads on 64 x 64 ran 40x slower than serially at a load of 7
#: on 2 cores. Large lattices give each meeting enough work to absorb that.
ROWS_MIN_SIZE = 256
#: Row blocks (threads) of a single group in the row-parallel mode.
ROW_BLOCKS = 2
#: Sweeps between the threads' meetings in the row-parallel mode (temporal blocking).
ROW_DEPTH = 4
#: Calls with fewer word updates than this (n_groups * L^2 * n_sweeps) run serially.
PARALLEL_MIN_WORK = 20_000

_STATE_VERSION = 1
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U4 = np.uint64(4)
_U5 = np.uint64(5)
_U6 = np.uint64(6)
_U7 = np.uint64(7)
#: Planes computed branch-free for every site (the rest only where lanes are undecided).
PLANES_INLINE = 8


# ----------------------------------------------------------------------- kernels
_G64 = np.uint64((int(GAMMA) * 64) % (1 << 64))  # counter step between consecutive sites


@njit(cache=True, boundscheck=False, inline="always")
def _plane(acc, und, a1, t4j, t8j, w):
    """One bit-plane of the comparison: lanes still undecided (``und``) accept where their
    random bit (of ``mix64(w)``) is 0 and their threshold bit 1, reject where 1 and 0."""
    r = mix64(w)
    t = (a1 & t4j) | (~a1 & t8j)
    return acc | (und & t & ~r), und & ~(r ^ t)


@njit(cache=True, boundscheck=False)
def _run(cur, n1, n2, n3, n4, afm, t4, t8, sure4, sure8, w0, und_out, a1_out):
    """Metropolis on a run of same-colour site words ``cur`` with neighbour runs n1..n4.

    Site k uses the draws mix64(w0 + k 64 GAMMA + j GAMMA) for planes j. The first
    PLANES_INLINE planes of every site are computed branch-free (the loop vectorises); lanes
    still undecided are left in ``und_out`` (with their class a = 1 in ``a1_out``) for
    :func:`_tail`. Returns nothing; ``cur`` is updated in place.
    """
    p40, p41, p42, p43 = t4[0], t4[1], t4[2], t4[3]
    p44, p45, p46, p47 = t4[4], t4[5], t4[6], t4[7]
    p80, p81, p82, p83 = t8[0], t8[1], t8[2], t8[3]
    p84, p85, p86, p87 = t8[4], t8[5], t8[6], t8[7]
    for k in range(cur.shape[0]):
        s = cur[k]
        x1 = s ^ n1[k] ^ afm
        x2 = s ^ n2[k] ^ afm
        x3 = s ^ n3[k] ^ afm
        x4 = s ^ n4[k] ^ afm
        # bit-sliced sum a = x1 + x2 + x3 + x4 = b0 + 2 b1 + 4 b2 of the unsatisfied bonds
        s1 = x1 ^ x2
        c1 = x1 & x2
        s2 = x3 ^ x4
        c2 = x3 & x4
        b0 = s1 ^ s2
        cc = s1 & s2  # x1 = x2 = 1 makes s1 = 0: cc excludes c1, c2, so c1 + c2 + cc <= 2
        b1 = c1 ^ c2 ^ cc
        b2 = c1 & c2
        ge2 = b1 | b2
        a1 = b0 & ~ge2
        a0 = ~(b0 | ge2)
        acc = ge2 | (a1 & sure4) | (a0 & sure8)
        und = ~acc
        w = w0 + np.uint64(k) * _G64
        acc, und = _plane(acc, und, a1, p40, p80, w)
        acc, und = _plane(acc, und, a1, p41, p81, w + GAMMA)
        acc, und = _plane(acc, und, a1, p42, p82, w + _U2 * GAMMA)
        acc, und = _plane(acc, und, a1, p43, p83, w + _U3 * GAMMA)
        acc, und = _plane(acc, und, a1, p44, p84, w + _U4 * GAMMA)
        acc, und = _plane(acc, und, a1, p45, p85, w + _U5 * GAMMA)
        acc, und = _plane(acc, und, a1, p46, p86, w + _U6 * GAMMA)
        acc, und = _plane(acc, und, a1, p47, p87, w + _U7 * GAMMA)
        cur[k] = s ^ acc
        und_out[k] = und
        a1_out[k] = a1


@njit(cache=True, boundscheck=False)
def _tail(cur, t4, t8, w0, und, a1, idx):
    """Planes PLANES_INLINE ... 63 for the sites of a run that still have undecided lanes.

    The sites are first gathered into ``idx`` (branch-free), then each takes four more
    planes branch-free and only the rare remaining ones loop until decided.
    """
    cnt = 0
    for k in range(cur.shape[0]):
        idx[cnt] = np.uint64(k)
        cnt += und[k] != 0
    for q in range(cnt):
        k = idx[q]
        u = und[k]
        a = a1[k]
        w = w0 + k * _G64 + np.uint64(PLANES_INLINE) * GAMMA
        acc = np.uint64(0)
        acc, u = _plane(acc, u, a, t4[PLANES_INLINE], t8[PLANES_INLINE], w)
        acc, u = _plane(acc, u, a, t4[PLANES_INLINE + 1], t8[PLANES_INLINE + 1], w + GAMMA)
        acc, u = _plane(acc, u, a, t4[PLANES_INLINE + 2], t8[PLANES_INLINE + 2],
                        w + _U2 * GAMMA)
        acc, u = _plane(acc, u, a, t4[PLANES_INLINE + 3], t8[PLANES_INLINE + 3],
                        w + _U3 * GAMMA)
        j = PLANES_INLINE + 4
        w += _U4 * GAMMA
        while u != 0 and j < PLANES:
            acc, u = _plane(acc, u, a, t4[j], t8[j], w)
            w += GAMMA
            j += 1
        cur[k] ^= acc


@njit(cache=True, boundscheck=False)
def _colour_block(wg, R, L, g0, colour, i0, i1, afm, t4, t8, sure4, sure8, key, sweep, ext,
                  side, und, a1, idx):
    """Update the sites of one colour in rows ``i0 <= i < i1`` of a strip ``wg`` of ``R``
    rows of one group's lattice, in checkerboard layout.

    Layout (:func:`ising._kernels.checkerboard_permutation`, here for R rows): index
    (c R + i) H + k (H = L / 2) holds the site of colour c in strip row i at column
    2k + ((i + c) & 1); its neighbours are entry k of the other colour in rows i - 1 and
    i + 1 and entries k and k - 1 (if i + c is even) or k + 1 (odd) of the other colour in
    row i. Strip row i is lattice row (g0 + i) mod L (``g0`` even, so parities agree); the
    whole lattice is the strip R = L, g0 = 0, whose rows wrap (rows -1 and R are R - 1 and
    0). The other colour's rows i0 - 1 ... i1 are copied into ``ext`` and the horizontal
    neighbours (with their wrap) into ``side``, so that the block is a run of contiguous
    views. The site at lattice layout index x = (c L + i) H + k uses, in sweep ``sweep``,
    the counters 64 (sweep N + x) + 1 + j. ``ext`` needs (i1 - i0 + 2) H words, ``side``,
    ``und``, ``a1`` and ``idx`` (i1 - i0) H.
    """
    H = L // 2
    half = R * H
    p = colour * half
    o = (1 - colour) * half
    nr = i1 - i0
    for r in range(nr + 2):
        src = i0 - 1 + r
        src = src + R if src < 0 else (src - R if src >= R else src)
        ext[r * H:(r + 1) * H] = wg[o + src * H:o + (src + 1) * H]
    for i in range(i0, i1):
        r = o + i * H
        q = (i - i0) * H
        if (i + colour) & 1 == 0:
            side[q] = wg[r + H - 1]
            side[q + 1:q + H] = wg[r:r + H - 1]
        else:
            side[q:q + H - 1] = wg[r + 1:r + H]
            side[q + H - 1] = wg[r]
    # one run per stretch of rows that is contiguous in the lattice's layout (two if the
    # strip wraps around row L - 1)
    a = i0
    while a < i1:
        ga = (g0 + a) % L
        b = min(i1, a + L - ga)
        q0 = (a - i0) * H
        n = (b - a) * H
        x0 = np.uint64((colour * L + ga) * H)
        w0 = key + (((sweep * np.uint64(L * L) + x0) << _U6) + _U1) * GAMMA
        cur = wg[p + a * H:p + b * H]
        _run(cur, ext[q0:q0 + n], ext[q0 + 2 * H:q0 + 2 * H + n], ext[q0 + H:q0 + H + n],
             side[q0:q0 + n], afm, t4, t8, sure4, sure8, w0, und, a1)
        _tail(cur, t4, t8, w0, und[0:n], a1[0:n], idx)
        a = b


@njit(cache=True, boundscheck=False)
def _sweeps_serial(words, L, rng, afm, t4, t8, sure4, sure8, n_sweeps, buf):
    """``n_sweeps`` sweeps of every group, in one thread.

    ``words`` (n_groups, L*L) in checkerboard layout, ``rng`` (n_groups, 2) = [key, sweeps],
    ``afm``, ``sure4``, ``sure8`` (n_groups,) lane masks, ``t4``, ``t8`` (n_groups, PLANES)
    threshold bit-planes, ``buf`` uint64 scratch (>= 1, 5, (L + 2) L/2).
    """
    for g in range(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], t4[g], t8[g], sure4[g], sure8[g], n_sweeps,
                      buf[0])


@njit(cache=True, boundscheck=False)
def _group_sweeps(wg, L, rng_g, afm, t4, t8, sure4, sure8, n_sweeps, b):
    sw = rng_g[1]
    for _ in range(n_sweeps):
        for colour in range(2):
            _colour_block(wg, L, L, 0, colour, 0, L, afm, t4, t8, sure4, sure8, rng_g[0], sw,
                          b[0], b[1], b[2], b[3], b[4])
        sw += _U1
    rng_g[1] = sw


@njit(cache=True, boundscheck=False, parallel=True)
def _sweeps_groups(words, L, rng, afm, t4, t8, sure4, sure8, n_sweeps, buf):
    """``n_sweeps`` sweeps, groups split over threads (same bytes as the serial driver);
    ``buf`` is uint64 (n_groups, 5, (L+2) L/2)."""
    for g in prange(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], t4[g], t8[g], sure4[g], sure8[g], n_sweeps,
                      buf[g])


@njit(cache=True, boundscheck=False)
def _strip_sweeps(src, dst, L, r0, r1, d, afm, t4, t8, sure4, sure8, key, sw, loc, b):
    """Advance lattice rows ``r0 <= i < r1`` by d / 2 sweeps from ``src`` into ``dst``.

    The rows r0 - d ... r1 + d - 1 (mod L) are copied into the strip ``loc``; half-sweep h
    (colour h % 2, sweep sw + h // 2) updates strip rows h + 1 ... R - h - 2, the rows whose
    neighbours are still exact, so after d half-sweeps the own rows are exactly what the
    whole-lattice update gives (the draws depend on the site and sweep only).
    """
    H = L // 2
    R = r1 - r0 + 2 * d
    g0 = (r0 - d) % L
    for c in range(2):
        for i in range(R):
            gi = (g0 + i) % L
            loc[(c * R + i) * H:(c * R + i + 1) * H] = src[(c * L + gi) * H:(c * L + gi + 1) * H]
    for h in range(d):
        _colour_block(loc, R, L, g0, h & 1, h + 1, R - h - 1, afm, t4, t8, sure4, sure8, key,
                      sw + np.uint64(h // 2), b[0], b[1], b[2], b[3], b[4])
    for c in range(2):
        dst[(c * L + r0) * H:(c * L + r1) * H] = loc[(c * R + d) * H:(c * R + d + r1 - r0) * H]


@njit(cache=True, boundscheck=False, parallel=True)
def _sweeps_rows(words, L, rng, afm, t4, t8, sure4, sure8, n_sweeps, buf, strips, other,
                 depth):
    """``n_sweeps`` sweeps of each group, its rows split into ``strips.shape[0]`` blocks over
    threads, with temporal blocking: each thread advances its rows by ``depth`` sweeps from
    a private strip with a halo of 2 ``depth`` rows (recomputing the halo, about
    (2 depth - 1) / rows-per-block extra work), so threads meet once per ``depth`` sweeps
    instead of twice per sweep. Old and new lattices alternate between ``words`` and
    ``other`` (n_groups, L*L). Same bytes as the serial driver for any block count and depth.
    ``strips`` is (n_blocks, >= 2 (L / n_blocks + 4 depth + 2) L / 2), ``buf`` (n_blocks, 5,
    >= (L / n_blocks + 4 depth + 2) L / 2).
    """
    n_blocks = strips.shape[0]
    for g in range(words.shape[0]):
        sw = rng[g, 1]
        done = 0
        flip = False
        while done < n_sweeps:
            k = min(depth, n_sweeps - done)
            src = other[g] if flip else words[g]
            dst = words[g] if flip else other[g]
            for bi in prange(n_blocks):
                r0 = 2 * ((bi * (L // 2)) // n_blocks)
                r1 = 2 * (((bi + 1) * (L // 2)) // n_blocks)
                _strip_sweeps(src, dst, L, r0, r1, 2 * k, afm[g], t4[g], t8[g], sure4[g],
                              sure8[g], rng[g, 0], sw, strips[bi], buf[bi])
            sw += np.uint64(k)
            done += k
            flip = not flip
        if flip:
            words[g][:] = other[g]
        rng[g, 1] = sw


# ------------------------------------------------------------------ bit packing
def pack_spins(spins):
    """Pack spins into 64-replica words.

    Parameters
    ----------
    spins : array_like, shape (n_replicas, L, L)
        Configurations in {-1, +1}.

    Returns
    -------
    ndarray of uint64, shape (ceil(n_replicas / 64), L, L)
        Replica c in bit ``c % 64`` of group ``c // 64`` (bit 1 = spin +1), row-major sites;
        lanes beyond ``n_replicas`` in the last group are 0.
    """
    s = np.asarray(spins)
    if s.ndim != 3 or s.shape[1] != s.shape[2]:
        raise ValueError(f"spins must have shape (n_replicas, L, L), got {s.shape}")
    n, L = s.shape[0], s.shape[1]
    n_groups = -(-n // LANES)
    bits = np.zeros((n_groups * LANES, L, L), dtype=np.uint8)
    bits[:n] = s > 0
    bits = bits.reshape(n_groups, LANES, L, L).transpose(0, 2, 3, 1)
    packed = np.packbits(bits, axis=-1, bitorder="little")  # (n_groups, L, L, 8)
    return np.ascontiguousarray(packed).view("<u8")[..., 0].astype(np.uint64)


def unpack_spins(words, n_replicas):
    """Inverse of :func:`pack_spins`.

    Parameters
    ----------
    words : array_like of uint64, shape (n_groups, L, L)
    n_replicas : int
        Number of replicas to unpack, at most 64 n_groups.

    Returns
    -------
    ndarray of int8, shape (n_replicas, L, L)
    """
    w = np.ascontiguousarray(np.asarray(words, dtype=np.uint64)).astype("<u8")
    n_groups, L = w.shape[0], w.shape[1]
    if not 0 < n_replicas <= n_groups * LANES:
        raise ValueError(f"n_replicas = {n_replicas} does not fit {n_groups} groups")
    bits = np.unpackbits(w[..., None].view(np.uint8), axis=-1, bitorder="little")
    bits = bits.transpose(0, 3, 1, 2).reshape(n_groups * LANES, L, L)[:n_replicas]
    return (2 * bits.astype(np.int8) - 1).astype(np.int8)


def _lane_words(flags):
    """uint64 words (n_groups,) with bit r of word g set iff ``flags[64 g + r]``."""
    n_groups = flags.shape[0] // LANES
    packed = np.packbits(flags.reshape(n_groups, LANES).astype(np.uint8), axis=-1,
                         bitorder="little")
    return np.ascontiguousarray(packed).view("<u8")[:, 0].astype(np.uint64)


def acceptance_planes(p):
    """Threshold bit-planes of per-lane acceptance probabilities.

    Parameters
    ----------
    p : array_like of float, shape (n_groups * 64,)
        Probability of each lane, in [0, 1].

    Returns
    -------
    planes : ndarray of uint64, shape (n_groups, PLANES)
        ``planes[g, j]`` has bit r set iff bit 63 - j of floor(p 2**64) of lane 64 g + r is
        set (plane 0 is the most significant, weight 1/2).
    sure : ndarray of uint64, shape (n_groups,)
        Lanes with p = 1 (floor(p 2**64) does not fit 64 bits: they always accept).
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] % LANES or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p must be a 1D array of probabilities in [0, 1], 64 per group")
    sure = p >= 1.0
    thr = [0 if s else int(math.ldexp(float(q), 64)) for q, s in zip(p, sure)]  # exact floor
    bits = np.array([[(t >> (63 - j)) & 1 for j in range(PLANES)] for t in thr], dtype=bool)
    planes = np.stack([_lane_words(bits[:, j]) for j in range(PLANES)], axis=1)
    return planes, _lane_words(sure)


def in_zero_cost_set(spins):
    """Whether configurations lie in the closed set Z of checkerboard Metropolis at h = 0.

    Z holds the configurations in which every site has exactly two unsatisfied bonds
    (s_i sum_j s_j = 0 at every site). Flipping all sites of one colour maps Z into itself
    (each flipped site keeps two unsatisfied bonds, each site of the other colour goes from
    a to 4 - a = 2), and in Z every move has dE = 0 and is always accepted, so any
    checkerboard Metropolis sweep moves a state of Z deterministically within Z. Each
    half-sweep is reversible with respect to the Boltzmann distribution pi, so no state
    outside Z can reach Z either: a chain started outside Z samples pi conditioned on the
    complement of Z, at total-variation distance pi(Z) from pi (for 4 x 4, |Z| = 36 of 2**16 states,
    with pi(Z) = 1.7e-5 at T = 2.5J and 1.2e-4 at T = 3.5J; Z is non-empty whenever 4
    divides L, e.g. stripes ++-- along the diagonal, and pi(Z) falls exponentially with
    L^2). :class:`MultiSpinMetropolis` redraws random starts that fall in Z.

    Parameters
    ----------
    spins : array_like of int8, shape (..., L, L)

    Returns
    -------
    ndarray of bool, shape (...)
    """
    s = np.asarray(spins, dtype=np.int64)
    nb = (np.roll(s, 1, -1) + np.roll(s, -1, -1) + np.roll(s, 1, -2) + np.roll(s, -1, -2))
    return np.all(s * nb == 0, axis=(-2, -1))


def _per_replica(name, value, n, *, positive):
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {a.shape}")
    if not np.all(np.isfinite(a)) or (positive and not np.all(a > 0)):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}")
    return a


class MultiSpinMetropolis:
    """Checkerboard Metropolis of many 2D Ising replicas, 64 per machine word.

    Each replica is an exact, independent Metropolis chain of the periodic L x L Ising model
    at zero field (acceptance probabilities exact to 2**-64, see the module docstring);
    replicas may have their own temperatures and couplings.

    Parameters
    ----------
    size : int
        Linear size L, even and >= 4.
    temperature : float or array_like of shape (n_replicas,)
        T > 0 of all replicas or of each (k_B = 1).
    coupling : float or array_like of shape (n_replicas,), default 1.0
        J != 0 of all replicas or of each (either sign; J = 0 would make every move free and
        the checkerboard chain deterministic).
    field : float, default 0.0
        Must be 0: the bit-sliced update implements h = 0 only. Use
        :class:`ising.samplers.MonteCarloSampler` (the scalar engine) for h != 0.
    n_replicas : int, default 64
        Number of replicas (chains); packed in ceil(n_replicas / 64) words per site.
    seed : int or None
        Root seed; ``None`` draws fresh entropy, recorded in :attr:`seed`.
    initial : {"random", "up"}
        Independent fair coins per replica (from its own stream; redrawn in the rare case
        that they fall in the closed set of :func:`in_zero_cost_set`) or all +1.
    row_parallel : bool or None
        Split the rows of each lattice over ROW_BLOCKS threads, meeting every ROW_DEPTH
        sweeps (temporal blocking: each thread recomputes a halo of 2 ROW_DEPTH rows).
        ``None`` (default) turns it on for a single group (n_replicas <= 64) of
        L >= ROWS_MIN_SIZE (256); several groups run one thread per group. A thread meeting
        waits for the slowest thread, so on a machine busier than its core count this mode
        can be much slower than serial: ``True`` for smaller lattices pays off on an idle
        machine only. The bytes never depend on this choice.

    Notes
    -----
    ``SeedSequence(seed).spawn(2)`` gives (init, run); replica c starts from
    ``init.spawn(n_replicas)[c]`` and group g takes its key from
    ``run.spawn(n_groups)[g]``, so replica c is the same chain whatever ``n_replicas`` and
    whatever the other replicas' parameters (see the module docstring for what holds).
    Groups (or, with ``row_parallel``, strips of rows) run on separate threads; the bytes
    never depend on the thread count or the mode.

    Examples
    --------
    >>> m = MultiSpinMetropolis(16, [2.0, 2.5, 3.0], n_replicas=3, seed=1).sweep(100)
    >>> m.spins.shape
    (3, 16, 16)
    """

    def __init__(self, size, temperature, coupling=1.0, field=0.0, n_replicas=64, seed=None,
                 initial="random", *, row_parallel=None):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4 \
                or size % 2:
            raise ValueError(f"size must be an even integer >= 4 for the multi-spin engine, "
                             f"got {size!r}")
        if isinstance(n_replicas, bool) or not isinstance(n_replicas, (int, np.integer)) \
                or n_replicas < 1:
            raise ValueError(f"n_replicas must be an integer >= 1, got {n_replicas!r}")
        try:
            h = float(field)
        except (TypeError, ValueError):
            raise ValueError(f"field must be a real number, got {field!r}") from None
        if h != 0.0:
            raise ValueError(f"the multi-spin engine implements field = 0 only, got field = {h}; "
                             "use the scalar engine (ising.samplers.MonteCarloSampler)")
        if initial not in ("random", "up"):
            raise ValueError(f"initial must be 'random' or 'up', got {initial!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (1 << 63))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.size = L = int(size)
        self.n_replicas = n = int(n_replicas)
        self.seed = int(seed)
        self.field = 0.0
        self.initial = initial
        self.temperatures = _per_replica("temperature", temperature, n, positive=True)
        self.couplings = _per_replica("coupling", coupling, n, positive=False)
        if np.any(self.couplings == 0):
            raise ValueError("coupling must be nonzero: at J = 0 every Metropolis move is free "
                             "and the checkerboard chain deterministic (not ergodic)")
        self.n_groups = -(-n // LANES)
        self.n_spins = L * L
        self.sweeps_done = 0
        if row_parallel is None:
            row_parallel = self.n_groups == 1 and L >= ROWS_MIN_SIZE
        self.row_parallel = bool(row_parallel)

        # per-lane acceptance: p4 = exp(-4|J|/T), p8 = p4^2 (dE = 4|J| and 8|J|); padding
        # lanes always flip (p = 1), so they never keep a word's comparison loop running
        pad = self.n_groups * LANES
        k = np.zeros(pad)
        k[:n] = np.abs(self.couplings) / self.temperatures
        p4 = np.ones(pad)
        p8 = np.ones(pad)
        p4[:n] = np.exp(-4.0 * k[:n])
        p8[:n] = np.exp(-8.0 * k[:n])
        self._t4, self._sure4 = acceptance_planes(p4)
        self._t8, self._sure8 = acceptance_planes(p8)
        anti = np.zeros(pad, dtype=bool)
        anti[:n] = self.couplings < 0
        self._afm = _lane_words(anti)

        init_ss, run_ss = np.random.SeedSequence(self.seed).spawn(2)
        spins = np.ones((n, L, L), dtype=np.int8)
        if initial == "random":
            for c, ss in enumerate(init_ss.spawn(n)):
                gen = np.random.default_rng(ss)
                while True:  # a start in the closed zero-cost set would never leave it
                    spins[c] = 2 * gen.integers(0, 2, (L, L), dtype=np.int8) - 1
                    if not in_zero_cost_set(spins[c])[()]:
                        break
        self._perm = checkerboard_permutation(L)
        self._words = np.empty((self.n_groups, L * L), dtype=np.uint64)
        self._set_words(spins)
        rows = L // ROW_BLOCKS + 4 * ROW_DEPTH + 2  # most strip rows of the row mode
        self._buf = np.empty((max(self.n_groups, ROW_BLOCKS), 5,
                              max(L + 2, rows) * (L // 2)), dtype=np.uint64)
        self._strips = np.empty((ROW_BLOCKS, 2 * rows * (L // 2)), dtype=np.uint64)
        self._other = np.empty_like(self._words)
        self._rng = np.zeros((self.n_groups, 2), dtype=np.uint64)  # [key, sweeps done]
        for g, ss in enumerate(run_ss.spawn(self.n_groups)):
            self._rng[g, 0] = ss.generate_state(1, dtype=np.uint64)[0]

    # ------------------------------------------------------------------ running
    def sweep(self, n_sweeps=1):
        """Advance every replica by ``n_sweeps`` checkerboard sweeps (N attempts each).

        Returns
        -------
        self
        """
        if isinstance(n_sweeps, bool) or not isinstance(n_sweeps, (int, np.integer)) \
                or n_sweeps < 0:
            raise ValueError(f"n_sweeps must be an integer >= 0, got {n_sweeps!r}")
        n = int(n_sweeps)
        if n == 0:
            return self
        args = (self._words, self.size, self._rng, self._afm, self._t4, self._t8, self._sure4,
                self._sure8, n)
        work = self.n_groups * self.n_spins * n
        if work < PARALLEL_MIN_WORK:
            _sweeps_serial(*args, self._buf)
        elif self.row_parallel:
            _sweeps_rows(*args, self._buf[:ROW_BLOCKS], self._strips, self._other, ROW_DEPTH)
        elif self.n_groups > 1:
            _sweeps_groups(*args, self._buf)
        else:
            _sweeps_serial(*args, self._buf)
        self.sweeps_done += n
        return self

    # -------------------------------------------------------------- observables
    @property
    def spins(self):
        """Copy of the configurations, int8 of shape (n_replicas, L, L)."""
        flat = np.empty_like(self._words)
        flat[:, self._perm] = self._words
        return unpack_spins(flat.reshape(self.n_groups, self.size, self.size), self.n_replicas)

    @property
    def words(self):
        """Copy of the packed words, uint64 (n_groups, L, L) (see :func:`pack_spins`)."""
        flat = np.empty_like(self._words)
        flat[:, self._perm] = self._words
        return flat.reshape(self.n_groups, self.size, self.size)

    def _set_words(self, spins):
        self._words[...] = pack_spins(spins).reshape(self.n_groups, -1)[:, self._perm]

    def energy(self):
        """Energy per spin of every replica (its own J), float64 (n_replicas,)."""
        s = self.spins
        return energy_per_spin(s, 1.0, 0.0, 2) * self.couplings

    def magnetization(self):
        """Magnetization per spin (signed) of every replica, float64 (n_replicas,)."""
        return magnetization_per_spin(self.spins, 2)

    # -------------------------------------------------------------------- state
    def get_state(self):
        """Everything needed for a bit-exact resume, as a dict of numpy arrays.

        Keys: ``spins`` (int8 (n_replicas, L, L)), ``rng`` (uint64 (n_groups, 2): key and
        sweeps done of each group's counter-based stream), ``sweeps`` and ``version``.
        """
        return {"spins": self.spins, "rng": self._rng.copy(),
                "sweeps": np.array(self.sweeps_done, dtype=np.int64),
                "version": np.array(_STATE_VERSION, dtype=np.int64)}

    def set_state(self, state):
        """Restore a state from :meth:`get_state` of an identically built instance.

        Raises
        ------
        ValueError
            If a key is missing, the version is unknown or an array does not fit.
        """
        for key in ("spins", "rng", "sweeps"):
            if key not in state:
                raise ValueError(f"multi-spin state lacks {key!r}")
        version = int(np.asarray(state.get("version", _STATE_VERSION)))
        if version != _STATE_VERSION:
            raise ValueError(f"multi-spin state version {version} is not supported "
                             f"(expected {_STATE_VERSION})")
        spins = np.asarray(state["spins"])
        rng = np.asarray(state["rng"])
        shape = (self.n_replicas, self.size, self.size)
        if spins.shape != shape:
            raise ValueError(f"state spins have shape {spins.shape}, expected {shape}")
        if rng.shape != self._rng.shape or rng.dtype != np.uint64:
            raise ValueError(f"state rng must be uint64 of shape {self._rng.shape}")
        if not np.all((spins == 1) | (spins == -1)):
            raise ValueError("state spins must all be -1 or +1")
        self._set_words(spins)
        self._rng[...] = rng
        self.sweeps_done = int(np.asarray(state["sweeps"]))
        return self

    def __repr__(self):
        return (f"MultiSpinMetropolis(size={self.size}, n_replicas={self.n_replicas}, "
                f"seed={self.seed}, row_parallel={self.row_parallel})")

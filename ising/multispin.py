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

    so Metropolis accepts min(1, exp(-dE/T)) = 1 for a >= 2 and p_4 = exp(-4|J_r|/T_r) or
    p_8 = exp(-8|J_r|/T_r) for a = 1 or a = 0 (Metropolis et al. 1953). The update is *lazy*,
    exactly like the scalar 2D checkerboard kernels (:mod:`ising.samplers`): each site is
    left alone with probability 2**-LAZY_BITS (2**-11) and otherwise accepted as above, so a
    lane flips with probability (1 - 2**-11) min(1, exp(-dE/T)).

Ergodicity
    Every site of the colour flips with a probability strictly between 0 and 1, independently
    of the others, so one sweep reaches every configuration (irreducible and aperiodic), and
    the lazy single-site kernel q M + (1 - q) 1 is reversible like M. Without laziness
    zero-cost moves would always be taken, and the configurations in which every site has
    exactly two unsatisfied bonds (36 of them on 4 x 4, stripes ++-- along the diagonal
    whenever 4 divides L) would form a closed class moved deterministically within itself.

Independent acceptance per lane (bit-sliced Bernoulli)
    Each lane decides with its own uniform U = 0.R_1 R_2 R_3 ... (binary), whose bit j is
    bit r of the j-th random word of the site. The integer threshold of a lane with flip
    probability p is t = floor((1 - 2**-11) floor(p 2**64)) (:func:`acceptance_planes`;
    t < 2**64 even for p = 1), and bit-plane j of the thresholds is the word whose bit r is
    bit 64 - j of lane r's t (the plane of the lane's class a >= 2, 1 or 0, selected
    bitwise). Comparing MSB first, a lane is decided at the first j where R_j differs from
    its threshold bit (accept iff R_j = 0 < 1); lanes still undecided after 64 planes
    (floor(U 2**64) = t) are rejected. A lane therefore flips with probability exactly
    t / 2**64, within 2**-63 of (1 - 2**-11) p. A lane is decided after 2 planes on
    average. Every site computes the first PLANES_INLINE (8) words branch-free (vectorised
    over the sites of a run), the sites with lanes still undecided four more, and the rare
    rest one word at a time until all their lanes are decided.

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

__all__ = ["MultiSpinMetropolis", "pack_spins", "unpack_spins", "acceptance_planes",
           "LANES", "PLANES", "LAZY_BITS"]

#: Replicas per word.
LANES = 64
#: Bit-planes of the acceptance thresholds (precision of the bit-sliced comparison).
PLANES = 64
#: A single group (n_replicas <= 64) of at least this linear size splits its rows over threads
#: by default (``row_parallel=None``). Each meeting of the threads waits for the slowest one:
#: on a machine with more runnable threads than cores a descheduled thread stalls it for a
#: scheduler time slice, and with the OpenMP threading layer's default active waiting the
#: waiting thread also takes the core the other one needs (OMP_WAIT_POLICY=passive avoids
#: that part). Large lattices give each meeting enough work to absorb the stalls.
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
#: Lazy Metropolis: a site is left alone with probability 2**-LAZY_BITS (as in the scalar 2D
#: kernels, :mod:`ising.samplers`).
LAZY_BITS = 11


# ----------------------------------------------------------------------- kernels
_G64 = np.uint64((int(GAMMA) * 64) % (1 << 64))  # counter step between consecutive sites


@njit(cache=True, boundscheck=False, inline="always")
def _plane(acc, und, g2, a1, a0, t2j, t4j, t8j, w):
    """One bit-plane of the comparison: lanes still undecided (``und``) accept where their
    random bit (of ``mix64(w)``) is 0 and their threshold bit (plane of their class: a >= 2,
    a = 1 or a = 0) is 1, and reject where 1 and 0."""
    r = mix64(w)
    t = (g2 & t2j) | (a1 & t4j) | (a0 & t8j)
    return acc | (und & t & ~r), und & ~(r ^ t)


@njit(cache=True, boundscheck=False)
def _run(cur, n1, n2, n3, n4, afm, tp, sure, w0, und_out, g2_out, a1_out):
    """Metropolis on a run of same-colour site words ``cur`` with neighbour runs n1..n4.

    ``tp`` (3, PLANES) holds the threshold planes of the classes a >= 2, a = 1, a = 0 and
    ``sure`` the lanes that always flip. Site k uses the draws mix64(w0 + k 64 GAMMA +
    j GAMMA) for planes j. The first PLANES_INLINE planes of every site are computed
    branch-free (the loop vectorises); lanes still undecided are left in ``und_out`` (with
    their class in ``g2_out``, ``a1_out``) for :func:`_tail`. ``cur`` is updated in place.
    """
    q0, q1, q2, q3 = tp[0, 0], tp[0, 1], tp[0, 2], tp[0, 3]
    q4, q5, q6, q7 = tp[0, 4], tp[0, 5], tp[0, 6], tp[0, 7]
    p40, p41, p42, p43 = tp[1, 0], tp[1, 1], tp[1, 2], tp[1, 3]
    p44, p45, p46, p47 = tp[1, 4], tp[1, 5], tp[1, 6], tp[1, 7]
    p80, p81, p82, p83 = tp[2, 0], tp[2, 1], tp[2, 2], tp[2, 3]
    p84, p85, p86, p87 = tp[2, 4], tp[2, 5], tp[2, 6], tp[2, 7]
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
        g2 = b1 | b2
        a1 = b0 & ~g2
        a0 = ~(b0 | g2)
        acc = sure
        und = ~sure
        w = w0 + np.uint64(k) * _G64
        acc, und = _plane(acc, und, g2, a1, a0, q0, p40, p80, w)
        acc, und = _plane(acc, und, g2, a1, a0, q1, p41, p81, w + GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q2, p42, p82, w + _U2 * GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q3, p43, p83, w + _U3 * GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q4, p44, p84, w + _U4 * GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q5, p45, p85, w + _U5 * GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q6, p46, p86, w + _U6 * GAMMA)
        acc, und = _plane(acc, und, g2, a1, a0, q7, p47, p87, w + _U7 * GAMMA)
        cur[k] = s ^ acc
        und_out[k] = und
        g2_out[k] = g2
        a1_out[k] = a1


@njit(cache=True, boundscheck=False)
def _tail(cur, tp, w0, und, g2s, a1s, idx):
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
        g2 = g2s[k]
        a1 = a1s[k]
        a0 = ~(g2 | a1)
        w = w0 + k * _G64 + np.uint64(PLANES_INLINE) * GAMMA
        acc = np.uint64(0)
        j = PLANES_INLINE
        acc, u = _plane(acc, u, g2, a1, a0, tp[0, j], tp[1, j], tp[2, j], w)
        acc, u = _plane(acc, u, g2, a1, a0, tp[0, j + 1], tp[1, j + 1], tp[2, j + 1], w + GAMMA)
        acc, u = _plane(acc, u, g2, a1, a0, tp[0, j + 2], tp[1, j + 2], tp[2, j + 2],
                        w + _U2 * GAMMA)
        acc, u = _plane(acc, u, g2, a1, a0, tp[0, j + 3], tp[1, j + 3], tp[2, j + 3],
                        w + _U3 * GAMMA)
        j += 4
        w += _U4 * GAMMA
        while u != 0 and j < PLANES:
            acc, u = _plane(acc, u, g2, a1, a0, tp[0, j], tp[1, j], tp[2, j], w)
            w += GAMMA
            j += 1
        cur[k] ^= acc


@njit(cache=True, boundscheck=False)
def _colour_block(wg, R, L, g0, colour, i0, i1, afm, tp, sure, key, sweep, ext, side, und,
                  g2, a1, idx):
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
    ``und``, ``g2``, ``a1`` and ``idx`` (i1 - i0) H.
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
             side[q0:q0 + n], afm, tp, sure, w0, und, g2, a1)
        _tail(cur, tp, w0, und[0:n], g2[0:n], a1[0:n], idx)
        a = b


@njit(cache=True, boundscheck=False)
def _sweeps_serial(words, L, rng, afm, tp, sure, n_sweeps, buf):
    """``n_sweeps`` sweeps of every group, in one thread.

    ``words`` (n_groups, L*L) in checkerboard layout, ``rng`` (n_groups, 2) = [key, sweeps],
    ``afm``, ``sure`` (n_groups,) lane masks (J < 0; always flip), ``tp`` (n_groups, 3,
    PLANES) threshold bit-planes of the classes a >= 2, 1, 0, ``buf`` uint64 scratch
    (>= 1, 6, (L + 2) L/2).
    """
    for g in range(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], tp[g], sure[g], n_sweeps, buf[0])


@njit(cache=True, boundscheck=False)
def _group_sweeps(wg, L, rng_g, afm, tp, sure, n_sweeps, b):
    sw = rng_g[1]
    for _ in range(n_sweeps):
        for colour in range(2):
            _colour_block(wg, L, L, 0, colour, 0, L, afm, tp, sure, rng_g[0], sw, b[0], b[1],
                          b[2], b[3], b[4], b[5])
        sw += _U1
    rng_g[1] = sw


@njit(cache=True, boundscheck=False, parallel=True)
def _sweeps_groups(words, L, rng, afm, tp, sure, n_sweeps, buf):
    """``n_sweeps`` sweeps, groups split over threads (same bytes as the serial driver);
    ``buf`` is uint64 (n_groups, 6, (L+2) L/2)."""
    for g in prange(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], tp[g], sure[g], n_sweeps, buf[g])


@njit(cache=True, boundscheck=False)
def _strip_sweeps(src, dst, L, r0, r1, d, afm, tp, sure, key, sw, loc, b):
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
        _colour_block(loc, R, L, g0, h & 1, h + 1, R - h - 1, afm, tp, sure, key,
                      sw + np.uint64(h // 2), b[0], b[1], b[2], b[3], b[4], b[5])
    for c in range(2):
        dst[(c * L + r0) * H:(c * L + r1) * H] = loc[(c * R + d) * H:(c * R + d + r1 - r0) * H]


@njit(cache=True, boundscheck=False, parallel=True)
def _sweeps_rows(words, L, rng, afm, tp, sure, n_sweeps, buf, strips, other, depth):
    """``n_sweeps`` sweeps of each group, its rows split into ``strips.shape[0]`` blocks over
    threads, with temporal blocking: each thread advances its rows by ``depth`` sweeps from
    a private strip with a halo of 2 ``depth`` rows (recomputing the halo, about
    (2 depth - 1) / rows-per-block extra work), so threads meet once per ``depth`` sweeps
    instead of twice per sweep. Old and new lattices alternate between ``words`` and
    ``other`` (n_groups, L*L). Same bytes as the serial driver for any block count and depth.
    ``strips`` is (n_blocks, >= 2 (L / n_blocks + 4 depth + 2) L / 2), ``buf`` (n_blocks, 6,
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
                _strip_sweeps(src, dst, L, r0, r1, 2 * k, afm[g], tp[g], sure[g], rng[g, 0], sw,
                              strips[bi], buf[bi])
            sw += np.uint64(k)
            done += k
            flip = not flip
        if flip:
            words[g][:] = other[g]
        rng[g, 1] = sw


@njit(cache=True, boundscheck=False, inline="always")
def _count_add(c, x):
    """Add the one-bit numbers of word ``x`` to the bit-sliced per-lane counter ``c``
    (c[k] holds bit k of every lane's count; ripple carry, about two steps on average)."""
    k = 0
    while x != 0:
        t = c[k] & x
        c[k] ^= x
        x = t
        k += 1


@njit(cache=True, boundscheck=False)
def _lane_counts(words, L, up, anti):
    """Per lane r of group g: ``up[g, r]`` = number of +1 spins and ``anti[g, r]`` = number
    of antiparallel nearest-neighbour bonds, from words in checkerboard layout.

    Every bond joins a colour-0 site to a colour-1 site (even L >= 4), so the four bonds of
    the colour-0 sites count each bond once.
    """
    H = L // 2
    half = L * H
    c = np.zeros(64, dtype=np.uint64)
    d = np.zeros(64, dtype=np.uint64)
    for g in range(words.shape[0]):
        w = words[g]
        c[:] = 0
        d[:] = 0
        for x in range(L * L):
            _count_add(c, w[x])
        for i in range(L):
            u = half + (i - 1 if i > 0 else L - 1) * H
            v = half + (i + 1 if i < L - 1 else 0) * H
            o = half + i * H
            for k in range(H):
                s = w[i * H + k]
                if i & 1 == 0:  # colour 0, even row: columns 2k, neighbours k - 1 and k
                    kk = k - 1 if k > 0 else H - 1
                else:  # odd row: columns 2k + 1, neighbours k and k + 1
                    kk = k + 1 if k < H - 1 else 0
                _count_add(d, s ^ w[u + k])
                _count_add(d, s ^ w[v + k])
                _count_add(d, s ^ w[o + k])
                _count_add(d, s ^ w[o + kk])
        for r in range(LANES):
            nu = 0
            na = 0
            for k in range(64):
                nu += np.int64((c[k] >> np.uint64(r)) & _U1) << k
                na += np.int64((d[k] >> np.uint64(r)) & _U1) << k
            up[g, r] = nu
            anti[g, r] = na


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


def acceptance_planes(p, lazy=False):
    """Threshold bit-planes of per-lane acceptance probabilities.

    Parameters
    ----------
    p : array_like of float, shape (n_groups * 64,)
        Probability of each lane, in [0, 1].
    lazy : bool
        Scale every probability by 1 - 2**-LAZY_BITS (the lazy Metropolis of the module
        docstring), exactly in integers.

    Returns
    -------
    planes : ndarray of uint64, shape (n_groups, PLANES)
        ``planes[g, j]`` has bit r set iff bit 63 - j of the integer threshold t of lane
        64 g + r is set (plane 0 is the most significant, weight 1/2), where
        t = floor(p 2**64), or 2**64 for p = 1, and with ``lazy`` t - ceil(t / 2**LAZY_BITS)
        = floor((1 - 2**-LAZY_BITS) t). A lane then accepts with probability t / 2**64.
    sure : ndarray of uint64, shape (n_groups,)
        Lanes with t = 2**64 (p = 1 and not lazy; t does not fit 64 bits): they always accept.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] % LANES or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p must be a 1D array of probabilities in [0, 1], 64 per group")
    thr = [1 << 64 if q >= 1.0 else int(math.ldexp(float(q), 64)) for q in p]  # exact floor
    if lazy:
        thr = [t - ((t + (1 << LAZY_BITS) - 1) >> LAZY_BITS) for t in thr]
    sure = np.array([t >> 64 for t in thr], dtype=bool)
    bits = np.array([[(t >> (63 - j)) & 1 for j in range(PLANES)] for t in thr], dtype=bool)
    planes = np.stack([_lane_words(bits[:, j]) for j in range(PLANES)], axis=1)
    return planes, _lane_words(sure)


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

    Each replica is an exact, independent (lazy) Metropolis chain of the periodic L x L Ising
    model at zero field (flip probabilities exact to 2**-63, see the module docstring);
    replicas may have their own temperatures and couplings.

    Parameters
    ----------
    size : int
        Linear size L, even and >= 4.
    temperature : float or array_like of shape (n_replicas,)
        T > 0 of all replicas or of each (k_B = 1).
    coupling : float or array_like of shape (n_replicas,), default 1.0
        J of all replicas or of each (either sign).
    field : float, default 0.0
        Must be 0: the bit-sliced update implements h = 0 only. Use
        :class:`ising.samplers.MonteCarloSampler` (the scalar engine) for h != 0.
    n_replicas : int, default 64
        Number of replicas (chains); packed in ceil(n_replicas / 64) words per site.
    seed : int or None
        Root seed; ``None`` draws fresh entropy, recorded in :attr:`seed`.
    initial : {"random", "up"}
        Independent fair coins per replica (from its own stream) or all +1.
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
        self.n_groups = -(-n // LANES)
        self.n_spins = L * L
        self.sweeps_done = 0
        if row_parallel is None:
            row_parallel = self.n_groups == 1 and L >= ROWS_MIN_SIZE
        self.row_parallel = bool(row_parallel)

        # per-lane flip probabilities of the classes a >= 2, a = 1, a = 0 (dE <= 0, 4|J|, 8|J|),
        # lazy; padding lanes always flip, so they never keep a comparison running
        pad = self.n_groups * LANES
        k = np.abs(self.couplings) / self.temperatures
        planes = []
        for p in (np.ones(n), np.exp(-4.0 * k), np.exp(-8.0 * k)):
            planes.append(acceptance_planes(np.r_[p, np.ones(pad - n)], lazy=True)[0])
        self._tp = np.ascontiguousarray(np.stack(planes, axis=1))  # (n_groups, 3, PLANES)
        self._sure = _lane_words(np.arange(pad) >= n)
        self._afm = _lane_words(np.r_[self.couplings < 0, np.zeros(pad - n, dtype=bool)])

        init_ss, run_ss = np.random.SeedSequence(self.seed).spawn(2)
        spins = np.ones((n, L, L), dtype=np.int8)
        if initial == "random":
            for c, ss in enumerate(init_ss.spawn(n)):
                bits = np.random.default_rng(ss).integers(0, 2, (L, L), dtype=np.int8)
                spins[c] = 2 * bits - 1
        self._perm = checkerboard_permutation(L)
        self._words = np.empty((self.n_groups, L * L), dtype=np.uint64)
        self._set_words(spins)
        rows = L // ROW_BLOCKS + 4 * ROW_DEPTH + 2  # most strip rows of the row mode
        self._buf = np.empty((max(self.n_groups, ROW_BLOCKS), 6,
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
        args = (self._words, self.size, self._rng, self._afm, self._tp, self._sure, n)
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

    def _counts(self):
        up = np.empty((self.n_groups, LANES), dtype=np.int64)
        anti = np.empty((self.n_groups, LANES), dtype=np.int64)
        _lane_counts(self._words, self.size, up, anti)
        return up.ravel()[:self.n_replicas], anti.ravel()[:self.n_replicas]

    def energy(self):
        """Energy per spin of every replica (its own J), float64 (n_replicas,).

        H/N = -J (2N - 2 n_anti) / N from the per-lane count n_anti of antiparallel bonds
        (2N bonds), counted on the packed words (the same numbers as
        :func:`ising.lattice.energy_per_spin` of :attr:`spins`, without unpacking).
        """
        _, anti = self._counts()
        n = self.n_spins
        return -self.couplings * (2 * n - 2 * anti) / n

    def magnetization(self):
        """Magnetization per spin (signed) of every replica, float64 (n_replicas,)."""
        up, _ = self._counts()
        return (2 * up - self.n_spins) / self.n_spins

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

"""Numba kernels of the multi-spin-coded checkerboard Metropolis (:mod:`ising.multispin`).

The update, the bit-sliced acceptance and the counter-based streams are described in the
docstring of :mod:`ising.multispin`; this module holds the word-level kernels and the three
drivers that run them (serial, groups over threads, rows over threads). The drivers take the
engine's arrays in checkerboard layout (:func:`ising._kernels.checkerboard_permutation`):

* ``words`` uint64 (n_groups, L*L): bit r of a word is the spin of lane r;
* ``rng`` uint64 (n_groups, 2): each group's stream key and sweeps done (advanced in place);
* ``afm``, ``sure`` uint64 (n_groups,): lanes with J < 0, lanes that always flip;
* ``tp`` uint64 (n_groups, 3, PLANES): threshold bit-planes of the classes a >= 2, a = 1,
  a = 0 (:func:`ising.bitplanes.acceptance_planes`).

All three drivers give the same bytes for any thread count, block count and depth.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import GAMMA, gather_side, mix64
from .schemes import LAZY_BITS

__all__ = ["LANES", "PLANES", "PLANES_INLINE", "TAIL_PLANES", "LAZY_BITS", "sweeps_serial",
           "sweeps_groups", "sweeps_rows", "lane_counts"]

#: Replicas per word.
LANES = 64
#: Bit-planes of the acceptance thresholds (precision of the bit-sliced comparison).
PLANES = 64
#: Planes computed branch-free for every site (the rest only where lanes are undecided).
PLANES_INLINE = 8
#: Planes computed branch-free for every site with lanes still undecided after PLANES_INLINE.
TAIL_PLANES = 4
# Lazy Metropolis: a site is left alone with probability 2**-LAZY_BITS, the one constant of the
# scalar 2D kernels too (ising.schemes.LAZY_PROPOSAL = 1 - 2**-LAZY_BITS).

_U1, _U2, _U3, _U4, _U5, _U6, _U7 = (np.uint64(k) for k in range(1, 8))
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
def _run_sites(cur, n1, n2, n3, n4, afm, tp, sure, w0, und_out, g2_out, a1_out):
    """Metropolis on a run of same-colour site words ``cur`` with neighbour runs n1..n4.

    ``tp`` (3, PLANES) holds the threshold planes of the classes a >= 2, a = 1, a = 0 and
    ``sure`` the lanes that always flip. Site k uses the draws mix64(w0 + k 64 GAMMA +
    j GAMMA) for planes j. The first PLANES_INLINE planes of every site are computed
    branch-free (the loop vectorises); lanes still undecided are left in ``und_out`` (with
    their class in ``g2_out``, ``a1_out``) for :func:`_tail_sites`. ``cur`` is updated in place.
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
def _tail_sites(cur, tp, w0, und, g2s, a1s, idx, cacc):
    """Planes PLANES_INLINE ... 63 for the sites of a run that still have undecided lanes.

    The sites with undecided lanes are first listed in ``idx`` (branch-free) and their
    ``und``, ``g2s``, ``a1s`` moved to the front (in place); then all of them take
    TAIL_PLANES more planes branch-free (a loop over the compacted sites that vectorises,
    acceptances into ``cacc``), and only the rare remaining ones loop until decided.
    """
    cnt = 0
    for k in range(cur.shape[0]):
        idx[cnt] = np.uint64(k)
        cnt += und[k] != 0
    for q in range(cnt):  # in place: idx[q] >= q
        k = idx[q]
        und[q] = und[k]
        g2s[q] = g2s[k]
        a1s[q] = a1s[k]
    j = PLANES_INLINE
    q0, q1, q2, q3 = tp[0, j], tp[0, j + 1], tp[0, j + 2], tp[0, j + 3]
    p40, p41, p42, p43 = tp[1, j], tp[1, j + 1], tp[1, j + 2], tp[1, j + 3]
    p80, p81, p82, p83 = tp[2, j], tp[2, j + 1], tp[2, j + 2], tp[2, j + 3]
    wj = w0 + np.uint64(PLANES_INLINE) * GAMMA
    for q in range(cnt):
        u = und[q]
        g2 = g2s[q]
        a1 = a1s[q]
        a0 = ~(g2 | a1)
        w = wj + idx[q] * _G64
        acc = np.uint64(0)
        acc, u = _plane(acc, u, g2, a1, a0, q0, p40, p80, w)
        acc, u = _plane(acc, u, g2, a1, a0, q1, p41, p81, w + GAMMA)
        acc, u = _plane(acc, u, g2, a1, a0, q2, p42, p82, w + _U2 * GAMMA)
        acc, u = _plane(acc, u, g2, a1, a0, q3, p43, p83, w + _U3 * GAMMA)
        cacc[q] = acc
        und[q] = u
    for q in range(cnt):
        k = idx[q]
        acc = cacc[q]
        u = und[q]
        if u != 0:
            g2 = g2s[q]
            a1 = a1s[q]
            a0 = ~(g2 | a1)
            j = PLANES_INLINE + TAIL_PLANES
            w = wj + k * _G64 + np.uint64(TAIL_PLANES) * GAMMA
            while u != 0 and j < PLANES:
                acc, u = _plane(acc, u, g2, a1, a0, tp[0, j], tp[1, j], tp[2, j], w)
                w += GAMMA
                j += 1
        cur[k] ^= acc


@njit(cache=True, boundscheck=False)
def _colour_block(wg, L, colour, i0, i1, afm, tp, sure, key, sweep, ext, side, und, g2, a1,
                  idx, cacc):
    """Update the sites of one colour in rows ``i0 <= i < i1`` of one group's lattice ``wg``
    (L*L words in checkerboard layout), in place.

    Layout (:func:`ising._kernels.checkerboard_permutation`): index (c L + i) H + k
    (H = L / 2) holds the site of colour c in row i at column 2k + ((i + c) & 1); its
    neighbours are entry k of the other colour in rows i - 1 and i + 1 (mod L) and entries
    k and k - 1 (if i + c is even) or k + 1 (odd) of the other colour in row i. The
    horizontal neighbours (with their wrap) are gathered into ``side``, so that a stretch
    of rows is a run of contiguous views (the vertical neighbours of rows 0 and L - 1,
    which wrap, are copied into ``ext``). The site at layout index x uses, in sweep
    ``sweep``, the counters 64 (sweep N + x) + 1 + j. ``ext`` needs 2 H words, ``side``,
    ``und``, ``g2``, ``a1``, ``idx`` and ``cacc`` (i1 - i0) H.
    """
    H = L // 2
    half = L * H
    p = colour * half
    o = (1 - colour) * half
    gather_side(wg, o, H, i0, i1, colour, side)
    # one run for the rows 1 ... L - 2 of the block, rows 0 and L - 1 on their own
    a = i0
    while a < i1:
        wrap = a == 0 or a == L - 1
        b = a + 1 if wrap else min(i1, L - 1)
        q0 = (a - i0) * H
        n = (b - a) * H
        x0 = np.uint64((colour * L + a) * H)
        w0 = key + (((sweep * np.uint64(L * L) + x0) << _U6) + _U1) * GAMMA
        if wrap:
            up = L - 1 if a == 0 else a - 1
            down = 0 if a == L - 1 else a + 1
            for k in range(H):
                ext[k] = wg[o + up * H + k]
                ext[H + k] = wg[o + down * H + k]
            n1 = ext[0:H]
            n2 = ext[H:2 * H]
        else:
            n1 = wg[o + (a - 1) * H:o + (b - 1) * H]
            n2 = wg[o + (a + 1) * H:o + (b + 1) * H]
        cur = wg[p + a * H:p + b * H]
        _run_sites(cur, n1, n2, wg[o + a * H:o + b * H], side[q0:q0 + n], afm, tp, sure, w0,
                   und, g2, a1)
        _tail_sites(cur, tp, w0, und[0:n], g2[0:n], a1[0:n], idx, cacc)
        a = b


@njit(cache=True, boundscheck=False)
def sweeps_serial(words, L, rng, afm, tp, sure, n_sweeps, buf):
    """``n_sweeps`` sweeps of every group, in one thread.

    ``words`` (n_groups, L*L) in checkerboard layout, ``rng`` (n_groups, 2) = [key, sweeps],
    ``afm``, ``sure`` (n_groups,) lane masks (J < 0; always flip), ``tp`` (n_groups, 3,
    PLANES) threshold bit-planes of the classes a >= 2, 1, 0, ``buf`` uint64 scratch
    (>= 1, 7, (L + 2) L/2).
    """
    for g in range(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], tp[g], sure[g], n_sweeps, buf[0])


@njit(cache=True, boundscheck=False)
def _group_sweeps(wg, L, rng_g, afm, tp, sure, n_sweeps, b):
    sw = rng_g[1]
    for _ in range(n_sweeps):
        for colour in range(2):
            _colour_block(wg, L, colour, 0, L, afm, tp, sure, rng_g[0], sw, b[0], b[1],
                          b[2], b[3], b[4], b[5], b[6])
        sw += _U1
    rng_g[1] = sw


@njit(cache=True, boundscheck=False, parallel=True)
def sweeps_groups(words, L, rng, afm, tp, sure, n_sweeps, buf):
    """``n_sweeps`` sweeps, groups split over threads (same bytes as the serial driver);
    ``buf`` is uint64 (n_groups, 7, (L+2) L/2)."""
    for g in prange(words.shape[0]):
        _group_sweeps(words[g], L, rng[g], afm[g], tp[g], sure[g], n_sweeps, buf[g])


@njit(cache=True, boundscheck=False)
def _rows_colour(wg, L, lo, hi, colour, afm, tp, sure, key, sweep, b):
    """Update the colour-``colour`` sites of lattice rows lo <= i < hi (mod L, so ``lo``
    may be negative; hi - lo <= L) of one group's lattice ``wg`` in place, in sweep
    ``sweep``, in pieces of at most as many rows as the scratch ``b`` (7, >= 2 L / 2) of
    :func:`_colour_block` holds."""
    H = L // 2
    cap = b.shape[1] // H
    a = lo
    while a < hi:
        i0 = a % L
        i1 = min(L, i0 + min(hi - a, cap))
        _colour_block(wg, L, colour, i0, i1, afm, tp, sure, key, sweep, b[0], b[1],
                      b[2], b[3], b[4], b[5], b[6])
        a += i1 - i0


@njit(cache=True, boundscheck=False, parallel=True)
def sweeps_rows(words, L, rng, afm, tp, sure, n_sweeps, buf, depth):
    """``n_sweeps`` sweeps of each group, its rows split into ``buf.shape[0]`` blocks over
    threads, in place, with the threads meeting twice per ``depth`` sweeps (diamond tiling,
    no recomputation).

    Half-sweep h = 0 ... 2 k - 1 of a stretch of k <= depth sweeps updates colour h % 2 in
    sweep sw + h // 2. Phase 1 (a thread per block [r0, r1)): half-sweep h updates rows
    r0 + h <= i < r1 - h, whose neighbour rows have then been updated exactly h times.
    Phase 2 (a thread per block boundary r0): half-sweep h updates the rows
    r0 - h <= i < r0 + h (mod L) that phase 1 left out; their neighbour rows r0 - h - 1 and
    r0 + h were left by phase 1 after exactly h updates (and not touched after), the others
    come from phase 2's half-sweep h - 1. Blocks of at least 4 k rows keep the threads of a
    phase on disjoint rows (k is reduced to fit; blocks of fewer than 4 rows run as one
    block). Each site is updated once per half-sweep with the draws of its own site and
    sweep, so the bytes are those of the serial driver for any block count and depth.
    ``buf`` is uint64 (n_blocks, 7, >= 2 L / 2), best (L / n_blocks + 2) L / 2 or more.
    """
    n_blocks = buf.shape[0]
    bmin = L
    for bi in range(n_blocks):
        r0 = 2 * ((bi * (L // 2)) // n_blocks)
        bmin = min(bmin, 2 * (((bi + 1) * (L // 2)) // n_blocks) - r0)
    if bmin < 4:
        n_blocks = 1
        bmin = L
    kmax = max(1, min(depth, bmin // 4))
    for g in range(words.shape[0]):
        wg = words[g]
        key = rng[g, 0]
        sw = rng[g, 1]
        done = 0
        while done < n_sweeps:
            k = min(kmax, n_sweeps - done)
            for bi in prange(n_blocks):
                r0 = 2 * ((bi * (L // 2)) // n_blocks)
                r1 = 2 * (((bi + 1) * (L // 2)) // n_blocks)
                for h in range(2 * k):
                    _rows_colour(wg, L, r0 + h, r1 - h, h & 1, afm[g], tp[g], sure[g], key,
                                 sw + np.uint64(h // 2), buf[bi])
            for bi in prange(n_blocks):
                r0 = 2 * ((bi * (L // 2)) // n_blocks)
                for h in range(1, 2 * k):
                    _rows_colour(wg, L, r0 - h, r0 + h, h & 1, afm[g], tp[g], sure[g], key,
                                 sw + np.uint64(h // 2), buf[bi])
            sw += np.uint64(k)
            done += k
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
def lane_counts(words, L, up, anti):
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

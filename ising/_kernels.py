"""Numba kernels for Ising Monte Carlo (arrays and scalars in, in-place out).

Nothing here validates its input: :mod:`ising.samplers` does that. Conventions are those of
docs/CONTRACTS.md (H = -J sum_<ij> s_i s_j - h sum_i s_i, periodic, int8 spins).

Random numbers
    xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
    ACM TOMS 47, 2021), one independent stream per chain (or per lattice row in the
    parallel single-lattice mode), stored as ``uint64[n_chains, n_streams, 4]`` and seeded
    from :class:`numpy.random.SeedSequence` on the Python side. Because every stream is
    owned by exactly one chain or row, results do not depend on the number of threads.
    A draw ``r`` is compared through its top 53 bits: a move of probability ``P`` is
    accepted iff ``(r >> 11) < floor(P * 2**53)`` (exact to 2**-53). Moves with ``P == 1``
    (threshold ``2**53``) and ``P == 0`` (threshold 0) consume no random number.

Local updates (Metropolis and heat-bath)
    Both flip spin s with a probability tabulated per (s, neighbour sum):
    Metropolis min(1, exp(-dE/T)), heat-bath (Glauber) 1/(1 + exp(dE/T)), with
    dE = 2 s (J nb + h). A sweep updates colour 0 (coordinate sum even) then colour 1,
    rows in order, sites left to right, i.e. N attempts; random numbers are consumed in that
    site order, only by sites with 0 < P < 1. This is a valid checkerboard decomposition only
    for even L; the samplers refuse odd L for local algorithms. 2D lattices are stored in a
    checkerboard layout (:func:`checkerboard_permutation`) so that neighbours are contiguous.

Cluster updates (h = 0, J >= 0)
    Wolff (PRL 62, 361, 1989): single clusters with bond probability p = 1 - exp(-2K); the
    driver grows a fixed number of clusters (a sweep's worth is chosen by the sampler) or, for
    the sampler's pilot only, clusters until N spins flipped. Swendsen-Wang (PRL 58, 86,
    1987): one sweep activates every satisfied bond with probability p, labels clusters by
    union-find (the root of a cluster is its smallest site index) and flips each cluster
    with probability 1/2, coins drawn in increasing root order.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

U5 = np.uint64(5)
U7 = np.uint64(7)
U9 = np.uint64(9)
U11 = np.uint64(11)
U17 = np.uint64(17)
U32 = np.uint64(32)
U45 = np.uint64(45)
U57 = np.uint64(57)
U19 = np.uint64(19)
U63 = np.uint64(63)
ONE53 = np.uint64(1 << 53)
ONE53_M1 = np.uint64((1 << 53) - 1)
U1 = np.uint64(1)


# --------------------------------------------------------------------------- RNG
@njit(cache=True)
def _next(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in four scalars.

    Returns ``(output, s0, s1, s2, s3)``.
    """
    x = s1 * U5
    result = ((x << U7) | (x >> U57)) * U9
    t = s1 << U17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << U45) | (s3 >> U19)
    return result, s0, s1, s2, s3


@njit(cache=True)
def xoshiro_fill(state, out):
    """Fill ``out`` (uint64) with successive xoshiro256** outputs, advancing ``state[4]``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.shape[0]):
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        out[k] = r
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


# ------------------------------------------------------------ local updates, 2D
@njit(cache=True, boundscheck=False)
def _draw_candidates(lat, cand, cand_thr, cnt, s0, s1, s2, s3):
    """Second pass of a half-row update: one draw per candidate site, in site order.

    Candidates are the sites whose flip probability is strictly between 0 and 1; sites of one
    colour do not interact, so deciding them after the deterministic flips of the first pass
    gives exactly the result of the one-site-at-a-time loop.
    """
    for k in range(cnt):
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        x = cand[k]
        flip = np.int64((r >> U11) < cand_thr[k])
        lat[x] = lat[x] * (1 - 2 * flip)
    return s0, s1, s2, s3


@njit(cache=True, boundscheck=False)
def _classify(lat, x, nb, thr, cand, cand_thr, cnt):
    """First pass for one site: deterministic flip or queue as a candidate; returns cnt."""
    s = np.int64(lat[x])
    t = thr[5 * s + nb + 9]
    lat[x] = s * (1 - 2 * np.int64(t >= ONE53))
    cand[cnt] = x
    cand_thr[cnt] = t
    return cnt + np.int64((t - U1) < ONE53_M1)


@njit(cache=True, boundscheck=False)
def _local_row_2d(lat, L, i, colour, thr, cand, cand_thr, s0, s1, s2, s3):
    """Update the sites of one colour in row ``i`` (see :func:`_classify_row_2d`)."""
    cnt = _classify_row_2d(lat, L, i, colour, thr, cand, cand_thr, 0)
    return _draw_candidates(lat, cand, cand_thr, cnt, s0, s1, s2, s3)


@njit(cache=True, boundscheck=False)
def _local_colour_2d(lat, L, colour, thr, cand, cand_thr, s0, s1, s2, s3):
    """Update all sites of one colour from one stream: first passes of every row, then the
    draws of all candidates (same site order, hence the same bytes as row by row, with
    longer loops). ``cand``/``cand_thr`` need L * L // 2 entries."""
    cnt = 0
    for i in range(L):
        cnt = _classify_row_2d(lat, L, i, colour, thr, cand, cand_thr, cnt)
    return _draw_candidates(lat, cand, cand_thr, cnt, s0, s1, s2, s3)


@njit(cache=True, boundscheck=False)
def _classify_row_2d(lat, L, i, colour, thr, cand, cand_thr, cnt):
    """First pass over the sites of one colour in row ``i`` of a lattice in checkerboard layout.

    Layout (see :func:`checkerboard_permutation`): ``lat[(c * L + i) * H + k]`` with
    H = L // 2 holds the spin of colour c in row i, column j = 2k + ((i + c) & 1). Its
    neighbours are entry k of the other colour in rows i - 1 and i + 1 and entries k and
    k - 1 (if (i + c) is even) or k + 1 (if odd) of the other colour in row i.

    Branch-free: look up each site's threshold t (indexed ``5 s + nb + 9``), flip it at once
    when t = 2**53 (always accepted: no random number), and queue it as a candidate (from
    position ``cnt`` on) when 0 < t < 2**53; the second pass (:func:`_draw_candidates`) draws
    one number per candidate in site order. Returns the new candidate count.
    """
    H = L // 2
    up = i - 1 if i > 0 else L - 1
    dn = i + 1 if i < L - 1 else 0
    p = (colour * L + i) * H
    ob = (1 - colour) * L
    u = (ob + up) * H
    d = (ob + dn) * H
    o = (ob + i) * H
    if (i + colour) & 1 == 0:
        nb = np.int64(lat[u]) + lat[d] + lat[o] + lat[o + H - 1]
        cnt = _classify(lat, p, nb, thr, cand, cand_thr, cnt)
        for k in range(1, H):
            nb = np.int64(lat[u + k]) + lat[d + k] + lat[o + k] + lat[o + k - 1]
            cnt = _classify(lat, p + k, nb, thr, cand, cand_thr, cnt)
    else:
        for k in range(H - 1):
            nb = np.int64(lat[u + k]) + lat[d + k] + lat[o + k] + lat[o + k + 1]
            cnt = _classify(lat, p + k, nb, thr, cand, cand_thr, cnt)
        k = H - 1
        nb = np.int64(lat[u + k]) + lat[d + k] + lat[o + k] + lat[o]
        cnt = _classify(lat, p + k, nb, thr, cand, cand_thr, cnt)
    return cnt


def checkerboard_permutation(L):
    """Index map from the row-major L*L lattice to the checkerboard layout of the 2D kernels.

    ``split = flat[..., perm]`` and ``flat[..., perm] = split``; entry (c * L + i) * (L//2) + k
    is the site of colour c in row i at column 2k + ((i + c) & 1). L must be even.
    """
    H = L // 2
    c, i, k = np.meshgrid(np.arange(2), np.arange(L), np.arange(H), indexing="ij")
    j = 2 * k + ((i + c) & 1)
    return (i * L + j).ravel()


def _local_2d_chains_py(spins, L, rng, thr, n_sweeps):
    """Checkerboard sweeps of many L*L lattices, one thread per chain.

    Parameters
    ----------
    spins : int8[n_chains, L*L]
        Lattices in the checkerboard layout of :func:`checkerboard_permutation`, updated in
        place.
    L : int
        Linear size (even).
    rng : uint64[n_chains, 1, 4]
        One xoshiro256** stream per chain, advanced in place.
    thr : uint64[19]
        Flip thresholds indexed ``5 s + nb + 9`` (entries between are unused).
    n_sweeps : int
    """
    for c in prange(spins.shape[0]):
        lat = spins[c]
        cand = np.empty(L * L // 2 + 1, dtype=np.int64)
        cand_thr = np.empty(L * L // 2 + 1, dtype=np.uint64)
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        for _ in range(n_sweeps):
            for colour in range(2):
                s0, s1, s2, s3 = _local_colour_2d(lat, L, colour, thr, cand, cand_thr,
                                                  s0, s1, s2, s3)
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


def _local_2d_rows_py(spins, L, rng, thr, n_sweeps):
    """Checkerboard sweeps with the rows of each lattice split over threads.

    Same as :func:`local_2d_chains` but ``rng`` is ``uint64[n_chains, L, 4]``: row ``i``
    always draws from stream ``i``, so the result is independent of the thread count.
    """
    cand = np.empty((L, L // 2 + 1), dtype=np.int64)
    cand_thr = np.empty((L, L // 2 + 1), dtype=np.uint64)
    for c in range(spins.shape[0]):
        lat = spins[c]
        for _ in range(n_sweeps):
            for colour in range(2):
                for i in prange(L):
                    s0, s1, s2, s3 = rng[c, i, 0], rng[c, i, 1], rng[c, i, 2], rng[c, i, 3]
                    s0, s1, s2, s3 = _local_row_2d(lat, L, i, colour, thr, cand[i], cand_thr[i],
                                                   s0, s1, s2, s3)
                    rng[c, i, 0], rng[c, i, 1], rng[c, i, 2], rng[c, i, 3] = s0, s1, s2, s3


# ------------------------------------------------------------ local updates, 1D
@njit(cache=True, boundscheck=False)
def _local_chain_1d(lat, L, colour, thr, s0, s1, s2, s3):
    j = colour
    while j < L:
        jl = j - 1 if j > 0 else L - 1
        jr = j + 1 if j < L - 1 else 0
        nb = np.int64(lat[jl]) + lat[jr]
        s = np.int64(lat[j])
        t = thr[3 * s + nb + 5]
        if t >= ONE53:
            lat[j] = -s
        elif t != 0:
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            if (r >> U11) < t:
                lat[j] = -s
        j += 2
    return s0, s1, s2, s3


def _local_1d_chains_py(spins, L, rng, thr, n_sweeps):
    """Even/odd sweeps of many periodic chains of even length L, one thread per chain.

    ``thr`` is ``uint64[11]`` indexed ``3 s + nb + 5``; ``rng`` is
    ``uint64[n_chains, 1, 4]``.
    """
    for c in prange(spins.shape[0]):
        lat = spins[c]
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        for _ in range(n_sweeps):
            for colour in range(2):
                s0, s1, s2, s3 = _local_chain_1d(lat, L, colour, thr, s0, s1, s2, s3)
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


# ------------------------------------------------------------------------ Wolff
@njit(cache=True, boundscheck=False)
def _wolff_run(lat, nbr, p_thr, min_flips, max_clusters, stack, s0, s1, s2, s3):
    """Grow Wolff clusters until ``min_flips`` spins flipped or ``max_clusters`` grown.

    ``nbr`` (int32[N, 2d]) lists the neighbours of each site in the order right, left
    (, down, up) (:func:`ising.lattice.neighbour_table`). The seed site is
    ``((r >> 32) * N) >> 32``; spins join the cluster (and flip) when pushed on the LIFO
    ``stack``; every neighbour visit draws one number (branch-free: a neighbour joins iff it has the
    cluster's original sign and the number is below the threshold). ``stack`` needs N + 1 entries.
    Returns ``(flips, clusters, s0, s1, s2, s3)``.
    """
    n = lat.shape[0]
    n_u = np.uint64(n)
    z = nbr.shape[1]
    flips = 0
    clusters = 0
    while flips < min_flips and clusters < max_clusters:
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        seed_site = np.int64(((r >> U32) * n_u) >> U32)
        s = np.int64(lat[seed_site])
        lat[seed_site] = -s
        stack[0] = seed_site
        top = 1
        flips += 1
        clusters += 1
        while top > 0:
            top -= 1
            x = stack[top]
            for k in range(z):
                y = nbr[x, k]
                r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                ly = np.int64(lat[y])
                join = np.int64(ly == s) & np.int64((r >> U11) < p_thr)
                lat[y] = ly * (1 - 2 * join)
                stack[top] = y  # kept only if it joined
                top += join
                flips += join
    return flips, clusters, s0, s1, s2, s3


def _wolff_chains_py(spins, nbr, rng, p_thr, n_sweeps, max_clusters, counts):
    """Wolff updates of many chains, one thread per chain.

    With ``max_clusters <= 0`` each of the ``n_sweeps`` sweeps grows clusters until at least
    N spins flipped (the sweep of docs/CONTRACTS.md); otherwise exactly ``max_clusters``
    clusters are grown in total and ``n_sweeps`` is ignored. ``counts[c, 0]`` and
    ``counts[c, 1]`` accumulate flipped spins and clusters of chain ``c``.
    """
    n = spins.shape[1]
    for c in prange(spins.shape[0]):
        lat = spins[c]
        stack = np.empty(n + 1, dtype=np.int64)
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        if max_clusters > 0:
            f, k, s0, s1, s2, s3 = _wolff_run(lat, nbr, p_thr, np.int64(1) << 62,
                                              max_clusters, stack, s0, s1, s2, s3)
            counts[c, 0] += f
            counts[c, 1] += k
        else:
            for _ in range(n_sweeps):
                f, k, s0, s1, s2, s3 = _wolff_run(lat, nbr, p_thr, n,
                                                  np.int64(1) << 62, stack, s0, s1, s2, s3)
                counts[c, 0] += f
                counts[c, 1] += k
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


# ---------------------------------------------------------------- Swendsen-Wang
@njit(cache=True, boundscheck=False)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, boundscheck=False)
def _sw_sweep(lat, nbr, p_thr, parent, coin, s0, s1, s2, s3):
    n = lat.shape[0]
    for x in range(n):
        parent[x] = x
    for x in range(n):
        sx = lat[x]
        for k in range(0, nbr.shape[1], 2):
            # bonds to the right (k = 0) and down (k = 2): each bond once
            y = nbr[x, k]
            if lat[y] == sx:
                r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                if (r >> U11) < p_thr:
                    rx = _find(parent, x)
                    ry = _find(parent, y)
                    if rx < ry:
                        parent[ry] = rx
                    elif ry < rx:
                        parent[rx] = ry
    for x in range(n):
        root = _find(parent, x)
        parent[x] = root  # full compression: parent[x] is the root from here on
        if root == x:
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            coin[x] = np.int8(r >> U63)
    for x in range(n):
        if coin[parent[x]] != 0:
            lat[x] = -lat[x]
    return s0, s1, s2, s3


def _sw_chains_py(spins, nbr, rng, p_thr, n_sweeps):
    """Swendsen-Wang sweeps of many chains, one thread per chain."""
    n = spins.shape[1]
    for c in prange(spins.shape[0]):
        lat = spins[c]
        parent = np.empty(n, dtype=np.int64)
        coin = np.zeros(n, dtype=np.int8)
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        for _ in range(n_sweeps):
            s0, s1, s2, s3 = _sw_sweep(lat, nbr, p_thr, parent, coin, s0, s1, s2, s3)
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


# ------------------------------------------------------- compiled variants
# Each driver is compiled twice: with ``parallel=True`` (prange over chains or rows) and
# serially (prange acts as range). Both give identical bytes, because every RNG stream is
# owned by one chain or row; the samplers pick the serial variant for small work, where
# launching threads costs more than it saves.
def _both(func):
    # The serial build gets its own function object and qualified name: Numba's on-disk
    # cache keys entries by qualified name and signature, not by the `parallel` flag, so a
    # shared name would let one build load the other's machine code.
    serial = types.FunctionType(func.__code__, func.__globals__, func.__name__ + "_serial",
                                func.__defaults__, func.__closure__)
    serial.__qualname__ = func.__qualname__ + "_serial"
    return (njit(cache=True, parallel=True, boundscheck=False)(func),
            njit(cache=True, boundscheck=False)(serial))


local_2d_chains, local_2d_chains_serial = _both(_local_2d_chains_py)
local_2d_rows, local_2d_rows_serial = _both(_local_2d_rows_py)
local_1d_chains, local_1d_chains_serial = _both(_local_1d_chains_py)
wolff_chains, wolff_chains_serial = _both(_wolff_chains_py)
sw_chains, sw_chains_serial = _both(_sw_chains_py)

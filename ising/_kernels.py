"""Numba kernels for Ising Monte Carlo (arrays and scalars in, in-place out).

Nothing here validates its input: :mod:`ising.samplers` does that. Conventions are those of
docs/CONTRACTS.md (H = -J sum_<ij> s_i s_j - h sum_i s_i, periodic, int8 spins).

Random numbers
    Two generators, both with one stream per chain seeded from
    :class:`numpy.random.SeedSequence` on the Python side and stored as
    ``uint64[n_chains, 1, 4]``; the draws of a chain never depend on which thread runs it, so
    results are independent of the thread count.

    * Counter-based SplitMix64 (2D Metropolis/heat-bath and Wolff): the m-th draw of a chain
      with key k is d(m) = mix64(k + m * GAMMA) mod 2**64, GAMMA = 0x9E3779B97F4A7C15, with
      mix64 the SplitMix64 output function (Steele, Lea & Flood, "Fast splittable
      pseudorandom number generators", OOPSLA 2014; the finaliser is Stafford's Mix13; the
      sequence d(1), d(2), ... is exactly Vigna's splitmix64.c seeded with k, which passes
      TestU01 BigCrush). State ``[k, counter, 0, 0]``. Being a pure function of (k, m), a
      draw can be computed for every site at once (SIMD, any order, any thread). The chains'
      streams are windows of one 2**64-periodic Weyl sequence at random offsets k / GAMMA:
      M chains of n draws each overlap with probability below M**2 n / 2**64 (64 chains of
      2**40 draws: 2**-12; the paper's data set uses fewer than 2**30 per chain).
    * xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
      ACM TOMS 47, 2021), state ``uint64[4]`` (1D heat-bath, random-site local updates and Swendsen-Wang).

    A draw ``r`` is compared through its top 53 bits: a move of probability ``P`` is
    accepted iff ``(r >> 11) < floor(P * 2**53)`` (exact to 2**-53; P = 1 always accepts,
    P = 0 never). Wolff compares 32-bit halves with floor(p * 2**32) (p exact to 2**-32).

Local updates (Metropolis and heat-bath)
    Both flip spin s with a probability tabulated per (s, neighbour sum):
    Metropolis min(1, exp(-dE/T)), heat-bath (Glauber) 1/(1 + exp(dE/T)), with
    dE = 2 s (J nb + h). A sweep updates colour 0 (coordinate sum even) then colour 1, i.e. N
    attempts. This is a valid checkerboard decomposition only for even L; the samplers refuse
    odd L for local algorithms.

    2D: lattices are stored in a checkerboard layout (:func:`checkerboard_permutation`) so
    that neighbours are contiguous; in sweep number w (counted per chain from 0) the site at
    layout index x draws d(w N + x + 1) and flips iff its top 53 bits are below the threshold.
    Lazy Metropolis (:mod:`ising.samplers`) only changes the thresholds: floor(q P 2**53) with
    q = 1 - 2**-11, so every site of a half-sweep can stay as well as flip and the scheme is
    provably ergodic (without it, zero-cost moves are forced and some zero-energy striped
    configurations form closed classes) at no cost per site.
    Every site draws, used or not, so the update is branch-free and vectorises,
    and since sites of one colour do not interact, the result does not depend on the order
    of the sites: the three drivers (:func:`local_2d_chains`, one thread per chain;
    :func:`local_2d_rows`, rows of one lattice over threads; :func:`local_2d_lanes`, blocks of
    chains stored site-major with the innermost loop over chains) give identical bytes.

    1D heat-bath: xoshiro256**, sites left to right per colour; a number is drawn only for
    0 < P < 1.

Local updates in random site order
    1D Metropolis, 2D Metropolis at L = 2 and every odd size (:func:`random_site_chains`):
    xoshiro256**, N elementary steps per sweep, each at a uniformly chosen site (exact
    rejection sampling of the index), the acceptance compared as above. With a fixed
    colour order, Metropolis (which always accepts zero-cost moves) is not ergodic on these
    geometries; see :mod:`ising.samplers` for the proof that this scheme is.

Cluster updates (h = 0, J >= 0)
    Wolff (PRL 62, 361, 1989): single clusters with bond probability p = 1 - exp(-2K), grown
    breadth first with counter-based draws (:func:`_wolff_run`); the driver grows a fixed
    number of clusters (a sweep's worth is chosen by the sampler) or, for
    the sampler's pilot only, clusters until N spins flipped. Swendsen-Wang (PRL 58, 86,
    1987): one sweep activates every satisfied bond with probability p, labels clusters by
    union-find (the root of a cluster is its smallest site index) and flips each cluster
    with probability 1/2, coins drawn in increasing root order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from .numba_builds import serial_and_parallel

# uint64 constants (shift counts, masks), so that the compiled arithmetic stays unsigned
U1, U2, U5, U7, U9, U11, U17, U19, U27, U30, U31, U32, U45, U57, U63 = (
    np.uint64(k) for k in (1, 2, 5, 7, 9, 11, 17, 19, 27, 30, 31, 32, 45, 57, 63))
ONE53 = np.uint64(1 << 53)
M32 = np.uint64(0xFFFFFFFF)

# Types of the annotations (Numba ignores them): spins, uint64 arrays (streams, tables), one
# xoshiro256** state in four scalars, the ten thresholds of _select_threshold.
_Spins = NDArray[np.int8]
_Words = NDArray[np.uint64]
_Xoshiro = tuple[np.uint64, np.uint64, np.uint64, np.uint64]
_Thresholds = tuple[np.uint64, ...]


# --------------------------------------------------------------------------- RNG
@njit(cache=True)
def _next(s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
          ) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.uint64]:
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
def xoshiro_fill(state: _Words, out: _Words) -> None:
    """Fill ``out`` (uint64) with successive xoshiro256** outputs, advancing ``state[4]``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.shape[0]):
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        out[k] = r
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


# ------------------------------------------------------------ local updates, 2D
GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 output function (Steele, Lea & Flood, OOPSLA 2014; Stafford's Mix13)."""
    z = (z ^ (z >> U30)) * M1
    z = (z ^ (z >> U27)) * M2
    return z ^ (z >> U31)


@njit(cache=True)
def counter_draws(key: np.uint64, start: np.uint64, out: _Words) -> None:
    """``out[m] = mix64(key + (start + m + 1) * GAMMA)``: the counter-based draws, for tests."""
    for m in range(out.shape[0]):
        out[m] = mix64(key + (start + np.uint64(m) + U1) * GAMMA)


@njit(cache=True, boundscheck=False, inline="always")
def _select_threshold(nb: np.int64, s: np.int64, t: _Thresholds) -> np.uint64:
    """``t[5 (s + 1) / 2 + (nb + 4) / 2]`` by selects (no table gather, so loops vectorise).

    ``t`` holds the 10 thresholds of s = -1 (nb = -4, -2, 0, 2, 4) then of s = +1.
    """
    lt_m3 = nb < -3
    lt_m1 = nb < -1
    lt_1 = nb < 1
    lt_3 = nb < 3
    lo = t[0] if lt_m3 else t[1]
    hi = t[2] if lt_1 else (t[3] if lt_3 else t[4])
    minus = lo if lt_m1 else hi
    lo = t[5] if lt_m3 else t[6]
    hi = t[7] if lt_1 else (t[8] if lt_3 else t[9])
    plus = lo if lt_m1 else hi
    return plus if s > 0 else minus


@njit(cache=True, boundscheck=False)
def _update_run(cur: _Spins, a: _Spins, b: _Spins, c: _Spins, e: _Spins, t: _Thresholds,
                base: np.uint64) -> None:
    """Metropolis/heat-bath decision for a run of same-colour sites with neighbour runs a-e.

    Site k of ``cur`` draws r = mix64(base + k GAMMA) and flips iff (r >> 11) < threshold.
    Branch-free over separate views, so LLVM vectorises it.
    """
    for k in range(cur.shape[0]):
        nb = np.int64(a[k]) + b[k] + c[k] + e[k]
        s = np.int64(cur[k])
        r = mix64(base + np.uint64(k) * GAMMA)
        flip = np.int64((r >> U11) < _select_threshold(nb, s, t))
        cur[k] = s - 2 * s * flip


@njit(cache=True, boundscheck=False)
def _half_row_2d(lat: _Spins, L: int, i: int, colour: int, t: _Thresholds, base: np.uint64,
                 side: _Spins) -> None:
    """Update the sites of one colour in row ``i`` of a lattice in checkerboard layout.

    Layout (see :func:`checkerboard_permutation`): ``lat[(c * L + i) * H + k]`` with
    H = L // 2 holds the spin of colour c in row i, column j = 2k + ((i + c) & 1). Its
    neighbours are entry k of the other colour in rows i - 1 and i + 1 and entries k and
    k - 1 (if (i + c) is even) or k + 1 (if odd) of the other colour in row i.

    Every site x (its layout index) draws r = mix64(base + x * GAMMA) and flips iff
    ``(r >> 11) < threshold(s, nb)`` (``t``: see :func:`_select_threshold`). Sites of one
    colour do not interact, so the order of the updates within a row is irrelevant.
    ``side`` is int8 scratch of at least H entries.
    """
    H = L // 2
    up = i - 1 if i > 0 else L - 1
    dn = i + 1 if i < L - 1 else 0
    p = (colour * L + i) * H
    ob = (1 - colour) * L
    u = (ob + up) * H
    d = (ob + dn) * H
    o = (ob + i) * H
    # the horizontal neighbour of entry k, copied into ``side`` (H entries) with its wrap, so
    # that one run covers the whole half-row (a run of H - 1 would leave LLVM a scalar tail)
    if (i + colour) & 1 == 0:
        side[0] = lat[o + H - 1]  # k = 0: left neighbour wraps to entry H - 1; k >= 1: k - 1
        side[1:H] = lat[o:o + H - 1]
    else:
        side[0:H - 1] = lat[o + 1:o + H]  # k <= H - 2: right neighbour k + 1; H - 1 wraps to 0
        side[H - 1] = lat[o]
    _update_run(lat[p:p + H], lat[u:u + H], lat[d:d + H], lat[o:o + H], side[:H], t,
                base + np.uint64(p) * GAMMA)


@njit(cache=True, boundscheck=False, inline="always")
def gather_side(lat: NDArray[np.integer[Any]], o: int, H: int, i0: int, i1: int, colour: int,
                side: NDArray[np.integer[Any]]) -> None:
    """Gather the horizontal neighbours of the colour-``colour`` sites of rows i0 <= i < i1.

    Checkerboard layout (:func:`checkerboard_permutation`): the other colour's half-row i
    starts at ``o + i H``; a site in column 2k + ((i + colour) & 1) has horizontal neighbours
    k and k - 1 (i + colour even) or k and k + 1 (odd) of that half-row, with the periodic
    wrap. ``side[(i - i0) H + k]`` receives the one that is not k (entry k is the half-row
    itself). Used by the scalar and the multi-spin checkerboard kernels.
    """
    for i in range(i0, i1):
        r = o + i * H
        q = (i - i0) * H
        # explicit loops: Numba's slice assignment goes through a generic copy that costs
        # several times more per element for these short runs
        if (i + colour) & 1 == 0:
            side[q] = lat[r + H - 1]
            for k in range(1, H):
                side[q + k] = lat[r + k - 1]
        else:
            for k in range(H - 1):
                side[q + k] = lat[r + k + 1]
            side[q + H - 1] = lat[r]


@njit(cache=True, boundscheck=False)
def _colour_2d(lat: _Spins, L: int, colour: int, t: _Thresholds, base: np.uint64, ext: _Spins,
               side: _Spins) -> None:
    """Update all sites of one colour as a single run (same draws and bytes as row by row).

    In the checkerboard layout the L half-rows of a colour are contiguous, so with the other
    colour copied into ``ext`` (L + 2 half-rows: row L - 1, rows 0..L-1, row 0) the up, own-row
    and down neighbours of the whole colour are the contiguous views ``ext[0:N/2]``,
    ``ext[H:H+N/2]``, ``ext[2H:2H+N/2]``, and the horizontal ones are gathered row by row (with
    their wrap) into ``side`` (N/2 entries). One long vectorised run then has no per-row
    scalar tails. ``ext`` needs (L + 2) H entries.
    """
    H = L // 2
    half = L * H
    p = colour * half
    o = (1 - colour) * half
    ext[0:H] = lat[o + half - H:o + half]
    ext[H:H + half] = lat[o:o + half]
    ext[H + half:2 * H + half] = lat[o:o + H]
    gather_side(lat, o, H, 0, L, colour, side)
    _update_run(lat[p:p + half], ext[0:half], ext[2 * H:2 * H + half], ext[H:H + half],
                side[0:half], t, base + np.uint64(p) * GAMMA)


@njit(cache=True)
def thresholds_2d(thr: _Words) -> _Thresholds:
    """The 10 thresholds of :func:`_select_threshold` from the ``5 s + nb + 9`` table."""
    return (thr[0], thr[2], thr[4], thr[6], thr[8], thr[10], thr[12], thr[14], thr[16], thr[18])


@njit(cache=True, boundscheck=False)
def _sweep_lanes(buf: _Spins, B: int, L: int, t: _Thresholds, bases: _Words) -> None:
    """One checkerboard sweep of a block of ``B`` chains stored site-major in the flat buffer
    ``buf[x * B + j]`` (x the checkerboard layout index, j the chain in the block): lane j of
    site x draws mix64(bases[j] + x GAMMA), with bases[j] = key + (sweeps N + 1) GAMMA of
    chain j, as in :func:`_half_row_2d`.

    The innermost loop runs over the chains (unsigned offsets, so Numba emits no negative-index
    wraparound and LLVM vectorises it).
    """
    H = L // 2
    b = np.uint64(B)
    for colour in range(2):
        ob = (1 - colour) * L
        for i in range(L):
            up = i - 1 if i > 0 else L - 1
            dn = i + 1 if i < L - 1 else 0
            p = (colour * L + i) * H
            side = -1 if (i + colour) & 1 == 0 else 1
            for k in range(H):
                kk = k + side
                kk = kk + H if kk < 0 else (kk - H if kk >= H else kk)
                x = np.uint64(p + k)
                off = x * GAMMA
                xs = x * b
                us = np.uint64((ob + up) * H + k) * b
                ds = np.uint64((ob + dn) * H + k) * b
                os_ = np.uint64((ob + i) * H + k) * b
                es = np.uint64((ob + i) * H + kk) * b
                for j in range(B):
                    jj = np.uint64(j)
                    nb = np.int64(buf[us + jj]) + buf[ds + jj] + buf[os_ + jj] + buf[es + jj]
                    s = np.int64(buf[xs + jj])
                    r = mix64(bases[j] + off)
                    flip = np.int64((r >> U11) < _select_threshold(nb, s, t))
                    buf[xs + jj] = s - 2 * s * flip


def _local_2d_lanes_py(spins: _Spins, L: int, rng: _Words, thr: _Words, n_sweeps: int,
                       block: int) -> None:
    """Checkerboard sweeps of many chains, vectorised across chains.

    Same arguments and the same bytes as :func:`local_2d_chains`; chains are processed in
    blocks of ``block`` (one thread per block), each copied into a site-major buffer so that
    the innermost loop runs over the chains of the block (long, vectorisable runs even for
    small L).
    """
    n_chains = spins.shape[0]
    n = L * L
    nu = np.uint64(n)
    t = thresholds_2d(thr)
    n_blocks = (n_chains + block - 1) // block
    for bi in prange(n_blocks):
        c0 = bi * block
        c1 = min(n_chains, c0 + block)
        nb_ = c1 - c0
        buf = np.empty(n * nb_, dtype=np.int8)
        bases = np.empty(nb_, dtype=np.uint64)
        for j in range(nb_):
            bases[j] = rng[c0 + j, 0, 0] + (rng[c0 + j, 0, 1] * nu + U1) * GAMMA
            for x in range(n):
                buf[x * nb_ + j] = spins[c0 + j, x]
        for _ in range(n_sweeps):
            _sweep_lanes(buf, nb_, L, t, bases)
            for j in range(nb_):
                bases[j] += nu * GAMMA
        for j in range(nb_):
            rng[c0 + j, 0, 1] += np.uint64(n_sweeps)
            for x in range(n):
                spins[c0 + j, x] = buf[x * nb_ + j]


def checkerboard_permutation(L: int) -> NDArray[np.int_]:
    """Index map from the row-major L*L lattice to the checkerboard layout of the 2D kernels.

    ``split = flat[..., perm]`` and ``flat[..., perm] = split``; entry (c * L + i) * (L//2) + k
    is the site of colour c in row i at column 2k + ((i + c) & 1). L must be even.
    """
    H = L // 2
    c, i, k = np.meshgrid(np.arange(2), np.arange(L), np.arange(H), indexing="ij")
    j = 2 * k + ((i + c) & 1)
    return (i * L + j).ravel()


def _local_2d_chains_py(spins: _Spins, L: int, rng: _Words, thr: _Words, n_sweeps: int) -> None:
    """Checkerboard sweeps of many L*L lattices, one thread per chain, each colour updated as
    one vectorised run (:func:`_colour_2d`).

    Parameters
    ----------
    spins : int8[n_chains, L*L]
        Lattices in the checkerboard layout of :func:`checkerboard_permutation`, updated in
        place.
    L : int
        Linear size (even).
    rng : uint64[n_chains, 1, 4]
        Counter-based stream of each chain: ``[key, sweeps, 0, 0]``; sweep n of the chain
        draws mix64(key + (n N + x + 1) GAMMA) at layout index x. ``sweeps`` advances.
    thr : uint64[19]
        Flip thresholds indexed ``5 s + nb + 9`` (entries between are unused).
    n_sweeps : int
    """
    n = np.uint64(L * L)
    t = thresholds_2d(thr)
    for c in prange(spins.shape[0]):
        lat = spins[c]
        ext = np.empty((L + 2) * (L // 2), dtype=np.int8)
        side = np.empty(L * (L // 2), dtype=np.int8)
        key = rng[c, 0, 0]
        sw = rng[c, 0, 1]
        for _ in range(n_sweeps):
            base = key + (sw * n + U1) * GAMMA
            for colour in range(2):
                _colour_2d(lat, L, colour, t, base, ext, side)
            sw += U1
        rng[c, 0, 1] = sw


def _local_2d_rows_py(spins: _Spins, L: int, rng: _Words, thr: _Words, n_sweeps: int) -> None:
    """Checkerboard sweeps with the rows of each lattice split over threads.

    Same arguments and the same bytes as :func:`local_2d_chains` (the draws depend only on
    the chain's key, its sweep count and the site), with a barrier after each colour.
    """
    n = np.uint64(L * L)
    t = thresholds_2d(thr)
    side = np.empty((L, L // 2), dtype=np.int8)
    for c in range(spins.shape[0]):
        lat = spins[c]
        key = rng[c, 0, 0]
        sw = rng[c, 0, 1]
        for _ in range(n_sweeps):
            base = key + (sw * n + U1) * GAMMA
            for colour in range(2):
                for i in prange(L):
                    _half_row_2d(lat, L, i, colour, t, base, side[i])
            sw += U1
        rng[c, 0, 1] = sw


# ------------------------------------------------------------ local updates, 1D
@njit(cache=True, inline="always")
def _tabulated_flip(lat: _Spins, x: int | np.int64, s: np.int64, t: np.uint64, s0: np.uint64,
                    s1: np.uint64, s2: np.uint64, s3: np.uint64) -> _Xoshiro:
    """Flip ``lat[x]`` (value ``s``) with the tabulated probability t / 2**53: always when
    t >= 2**53, never when t = 0, otherwise iff the top 53 bits of the next xoshiro256** draw
    are below t (a number is drawn only then). Returns the advanced state."""
    if t >= ONE53:
        lat[x] = -s
    elif t != 0:
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        if (r >> U11) < t:
            lat[x] = -s
    return s0, s1, s2, s3


@njit(cache=True, boundscheck=False)
def _local_chain_1d(lat: _Spins, L: int, colour: int, thr: _Words, s0: np.uint64, s1: np.uint64,
                    s2: np.uint64, s3: np.uint64) -> _Xoshiro:
    j = colour
    while j < L:
        jl = j - 1 if j > 0 else L - 1
        jr = j + 1 if j < L - 1 else 0
        nb = np.int64(lat[jl]) + lat[jr]
        s = np.int64(lat[j])
        s0, s1, s2, s3 = _tabulated_flip(lat, j, s, thr[3 * s + nb + 5], s0, s1, s2, s3)
        j += 2
    return s0, s1, s2, s3


def _local_1d_chains_py(spins: _Spins, L: int, rng: _Words, thr: _Words, n_sweeps: int) -> None:
    """Even/odd (checkerboard) heat-bath sweeps of many periodic chains of even length L, one
    thread per chain.

    ``thr`` is ``uint64[11]`` indexed ``3 s + nb + 5``; ``rng`` is
    ``uint64[n_chains, 1, 4]``. Used for heat-bath only: every heat-bath flip probability lies
    strictly between 0 and 1, so one half-sweep can produce any configuration of its colour
    and the scheme is ergodic. Metropolis in 1D uses :func:`random_site_chains` instead (a
    deterministic colour order with zero-cost moves always accepted conserves the difference
    of right- and left-moving domain walls and is not ergodic).
    """
    for c in prange(spins.shape[0]):
        lat = spins[c]
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        for _ in range(n_sweeps):
            for colour in range(2):
                s0, s1, s2, s3 = _local_chain_1d(lat, L, colour, thr, s0, s1, s2, s3)
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


# ------------------------------------------------- local updates, random site order
@njit(cache=True, inline="always")
def _uniform_index(n: int, s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
                   ) -> tuple[np.int64, np.uint64, np.uint64, np.uint64, np.uint64]:
    """An exactly uniform integer in [0, n) for 1 <= n < 2**32 from xoshiro256** draws.

    Lemire's multiply-shift with rejection ("Fast random integer generation in an interval",
    ACM TOMACS 29, 3 (2019)) on the top 32 bits of a draw: m = x n with x uniform on
    [0, 2**32); m >> 32 is exactly uniform once draws with (m mod 2**32) < (2**32 - n) mod n
    are rejected (probability below n / 2**32). Returns ``(index, s0, s1, s2, s3)``.
    """
    nn = np.uint64(n)
    bound = (np.uint64(1 << 32) - nn) % nn
    while True:
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        m = (r >> U32) * nn
        if (m & M32) >= bound:
            return np.int64(m >> U32), s0, s1, s2, s3


def _random_site_chains_py(spins: _Spins, nbr: NDArray[np.int32], rng: _Words, thr: _Words,
                           n_sweeps: int) -> None:
    """Random-site (random sequential) single-spin updates of many chains, one thread per chain.

    One sweep is N = ``spins.shape[1]`` elementary steps; each picks a site x uniformly at
    random (:func:`_uniform_index`) and flips it with the tabulated probability of its spin s
    and neighbour sum nb (``thr[(2 z + 1) (s + 1) / 2 + (nb + z)]``, z = ``nbr.shape[1]``,
    values floor(P 2**53)); a second draw decides only when 0 < P < 1, compared through its
    top 53 bits. Valid on any lattice given by a neighbour table (neighbours may repeat, as on
    a periodic chain of two sites or an L = 2 square lattice, where a repeated neighbour
    carries its bond twice, as in the energy).

    ``rng`` is ``uint64[n_chains, 1, 4]`` (xoshiro256** states, advanced in place).

    Every elementary step satisfies detailed balance; any single flip has positive
    probability at T > 0, so any configuration reaches any other (irreducible), and a
    rejected move has positive probability (aperiodic) — see :mod:`ising.samplers`.
    """
    n = spins.shape[1]
    z = nbr.shape[1]
    for c in prange(spins.shape[0]):
        lat = spins[c]
        s0, s1, s2, s3 = rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3]
        for _ in range(n_sweeps):
            for _step in range(n):
                x, s0, s1, s2, s3 = _uniform_index(n, s0, s1, s2, s3)
                nb = np.int64(0)
                for k in range(z):
                    nb += lat[nbr[x, k]]
                s = np.int64(lat[x])
                t = thr[(2 * z + 1) * ((s + 1) // 2) + nb + z]
                s0, s1, s2, s3 = _tabulated_flip(lat, x, s, t, s0, s1, s2, s3)
        rng[c, 0, 0], rng[c, 0, 1], rng[c, 0, 2], rng[c, 0, 3] = s0, s1, s2, s3


# ------------------------------------------------------------------------ Wolff


@njit(cache=True, inline="always")
def _wolff_join(lat: _Spins, y: np.uint64, s: np.int8, flipped: np.int8, u: np.uint64,
                p32: np.uint64, queue: NDArray[np.int64], tail: np.uint64) -> np.uint64:
    """Branch-free join test of neighbour ``y`` with the 32-bit draw ``u`` (see _wolff_run)."""
    j = (lat[y] == s) & (u < p32)
    lat[y] = flipped if j else lat[y]
    queue[tail] = y
    return tail + np.uint64(j)


@njit(cache=True, inline="always")
def _wolff_join4(lat: _Spins, y0: np.uint64, y1: np.uint64, y2: np.uint64, y3: np.uint64,
                 s: np.int8, flipped: np.int8, w: np.uint64, p32: np.uint64,
                 queue: NDArray[np.int64], tail: np.uint64) -> np.uint64:
    """Join tests of the four neighbours y0..y3 of a 2D site with the draws d = mix64(w) and
    mix64(w + GAMMA): low and high halves of the first for y0, y1, of the second for y2, y3."""
    ra = mix64(w)
    rb = mix64(w + GAMMA)
    tail = _wolff_join(lat, y0, s, flipped, ra & M32, p32, queue, tail)
    tail = _wolff_join(lat, y1, s, flipped, ra >> U32, p32, queue, tail)
    tail = _wolff_join(lat, y2, s, flipped, rb & M32, p32, queue, tail)
    return _wolff_join(lat, y3, s, flipped, rb >> U32, p32, queue, tail)


@njit(cache=True, boundscheck=False)
def _wolff_run(lat: _Spins, nbr: NDArray[np.int32], p32: np.uint64, min_flips: int,
               max_clusters: int, queue: NDArray[np.int64], key: np.uint64, ctr: np.uint64
               ) -> tuple[int, int, np.uint64]:
    """Grow Wolff clusters until ``min_flips`` spins flipped or ``max_clusters`` grown.

    ``nbr`` (int32[N, z], z = 2 or 4) lists the neighbours of each site in the order right,
    left (, down, up) (:func:`ising.lattice.neighbour_table`). Draws are counter-based,
    d(m) = mix64(key + m GAMMA), with ``ctr`` the last counter used. A cluster takes
    d(ctr + 1) for its seed site ``((r >> 32) N) >> 32``; the spin at queue position q then
    takes D = z / 2 draws d(ctr + 1 + D q + 1 ... D), whose low and high 32-bit halves decide
    its neighbours 2m and 2m + 1: a neighbour joins (flips, and is appended to the FIFO
    ``queue``, breadth first) iff it has the cluster's original sign and the half is below
    ``p32`` = floor(p 2**32). The cluster then advances ``ctr`` by 1 + D |C|.

    Flipping a spin when it joins makes "aligned and not yet in the cluster" one comparison
    with the original sign (no visited array, no second pass). The FIFO order makes the
    address of the next spin independent of the current joins (a LIFO stack serialises
    them), and the update is branch-free. Site indices and queue positions are unsigned, so
    the compiled loop carries no negative-index wraparound code (that alone is ~30 % of the
    time). For a 2D lattice whose side L is a power of two (L = ``nbr[0, 2]``, the down
    neighbour of site 0) the neighbours are computed with bit masks instead of loaded from
    ``nbr`` (the int32 table of 64x64 is 64 KiB, more than L1); both give the same sites, so
    the result is the same bytes. ``queue`` (any integer dtype holding N) needs N + 1 entries.
    Returns ``(flips, clusters, ctr)``.
    """
    n = lat.shape[0]
    n_u = np.uint64(n)
    z = nbr.shape[1]
    side = np.uint64(nbr[0, 2]) if z == 4 else n_u
    pow2 = z == 4 and side * side == n_u and (side & (side - U1)) == 0
    col = side - U1  # column mask (pow2 only)
    row = ~col  # row-start mask
    wrap = n_u - U1  # site mask (pow2 only)
    g2 = GAMMA + GAMMA
    flips = 0
    clusters = 0
    while flips < min_flips and clusters < max_clusters:
        ctr += U1
        r = mix64(key + ctr * GAMMA)
        seed_site = ((r >> U32) * n_u) >> U32
        s = lat[seed_site]
        flipped = -s
        lat[seed_site] = flipped
        queue[0] = seed_site
        head = np.uint64(0)
        tail = U1
        w = key + (ctr + U1) * GAMMA  # key + (counter of the next draw) GAMMA
        if pow2:
            while head < tail:
                x = np.uint64(queue[head])
                head += U1
                xr = x & row
                tail = _wolff_join4(lat, xr | ((x + U1) & col), xr | ((x - U1) & col),
                                    (x + side) & wrap, (x - side) & wrap, s, flipped, w, p32,
                                    queue, tail)
                w += g2
            ctr += U2 * tail
        elif z == 4:
            while head < tail:
                x = np.uint64(queue[head])
                head += U1
                tail = _wolff_join4(lat, np.uint64(nbr[x, 0]), np.uint64(nbr[x, 1]),
                                    np.uint64(nbr[x, 2]), np.uint64(nbr[x, 3]), s, flipped, w,
                                    p32, queue, tail)
                w += g2
            ctr += U2 * tail
        else:
            while head < tail:
                x = np.uint64(queue[head])
                ra = mix64(w)
                w += GAMMA
                head += U1
                tail = _wolff_join(lat, np.uint64(nbr[x, 0]), s, flipped, ra & M32, p32,
                                   queue, tail)
                tail = _wolff_join(lat, np.uint64(nbr[x, 1]), s, flipped, ra >> U32, p32,
                                   queue, tail)
            ctr += tail
        flips += np.int64(tail)
        clusters += 1
    return flips, clusters, ctr


def _wolff_chains_py(spins: _Spins, nbr: NDArray[np.int32], rng: _Words, p_thr: np.uint64,
                     n_sweeps: int, max_clusters: int, counts: NDArray[np.int64]) -> None:
    """Wolff updates of many chains, one thread per chain.

    ``rng`` is ``uint64[n_chains, 1, 4]`` holding ``[key, ctr, 0, 0]`` of each chain's
    counter-based stream (:func:`_wolff_run`); ``p_thr`` = floor(p 2**53), of which the kernel
    uses the top 32 bits, floor(p 2**32). With ``max_clusters <= 0`` each of the ``n_sweeps``
    sweeps grows clusters until at least N spins flipped (used only by the sampler's pilot);
    otherwise exactly ``max_clusters`` clusters are grown in total and ``n_sweeps`` is
    ignored. ``counts[c, 0]`` and ``counts[c, 1]`` accumulate flipped spins and clusters of
    chain ``c``.
    """
    n = spins.shape[1]
    p32 = p_thr >> np.uint64(21)
    for c in prange(spins.shape[0]):
        lat = spins[c]
        queue = np.empty(n + 1, dtype=np.int64)
        key = rng[c, 0, 0]
        ctr = rng[c, 0, 1]
        if max_clusters > 0:
            f, k, ctr = _wolff_run(lat, nbr, p32, np.int64(1) << 62, max_clusters, queue, key, ctr)
            counts[c, 0] += f
            counts[c, 1] += k
        else:
            for _ in range(n_sweeps):
                f, k, ctr = _wolff_run(lat, nbr, p32, n, np.int64(1) << 62, queue, key, ctr)
                counts[c, 0] += f
                counts[c, 1] += k
        rng[c, 0, 1] = ctr


# ---------------------------------------------------------------- Swendsen-Wang
@njit(cache=True, boundscheck=False)
def _find(parent: NDArray[np.int64], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, boundscheck=False)
def _sw_sweep(lat: _Spins, nbr: NDArray[np.int32], p_thr: np.uint64, parent: NDArray[np.int64],
              coin: _Spins, s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
              ) -> _Xoshiro:
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


def _sw_chains_py(spins: _Spins, nbr: NDArray[np.int32], rng: _Words, p_thr: np.uint64,
                  n_sweeps: int) -> None:
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
# Each driver is compiled with ``parallel=True`` (prange over chains or rows) and serially
# (ising.numba_builds); both give identical bytes, because every RNG stream is owned by one
# chain or row, and the samplers pick the serial build for small work.
_BUILD = {"boundscheck": False}
local_2d_chains, local_2d_chains_serial = serial_and_parallel(_local_2d_chains_py, **_BUILD)
local_2d_rows, local_2d_rows_serial = serial_and_parallel(_local_2d_rows_py, **_BUILD)
local_2d_lanes, local_2d_lanes_serial = serial_and_parallel(_local_2d_lanes_py, **_BUILD)
local_1d_chains, local_1d_chains_serial = serial_and_parallel(_local_1d_chains_py, **_BUILD)
random_site_chains, random_site_chains_serial = serial_and_parallel(_random_site_chains_py, **_BUILD)
wolff_chains, wolff_chains_serial = serial_and_parallel(_wolff_chains_py, **_BUILD)
sw_chains, sw_chains_serial = serial_and_parallel(_sw_chains_py, **_BUILD)

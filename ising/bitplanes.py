"""Bit packing of 64 replicas per word and the threshold bit-planes of per-lane probabilities.

The representation and the bit-sliced Bernoulli decision of the multi-spin engine
(:mod:`ising.multispin`): replica c lives in bit ``c % 64`` of the words of group ``c // 64``;
a lane with flip probability p accepts iff its uniform U = 0.R_1 R_2 ... (one random bit per
plane) lies below its integer threshold t / 2**64, compared plane by plane, MSB first.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._multispin_kernels import LANES, LAZY_BITS, PLANES

__all__ = ["pack_spins", "unpack_spins", "lane_words", "acceptance_planes"]


def pack_spins(spins: npt.ArrayLike) -> npt.NDArray[np.uint64]:
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


def unpack_spins(words: npt.ArrayLike, n_replicas: int) -> npt.NDArray[np.int8]:
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


def lane_words(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint64]:
    """uint64 words (n_groups,) with bit r of word g set iff ``flags[64 g + r]``."""
    n_groups = flags.shape[0] // LANES
    packed = np.packbits(flags.reshape(n_groups, LANES).astype(np.uint8), axis=-1,
                         bitorder="little")
    return np.ascontiguousarray(packed).view("<u8")[:, 0].astype(np.uint64)


def acceptance_planes(p: npt.ArrayLike, lazy: bool = False
                      ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
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
    planes = np.stack([lane_words(bits[:, j]) for j in range(PLANES)], axis=1)
    return planes, lane_words(sure)

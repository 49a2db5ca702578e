"""Real-space block-spin transformations of Ising configurations (Kadanoff 1966).

Both transforms act on spins in {-1, +1} (int8), 1D chains of shape ``(..., L)`` or 2D lattices
of shape ``(..., Ly, Lx)``, vectorised over any leading sample axes, and return int8 arrays of
shape ``(..., L // b)`` or ``(..., Ly // b, Lx // b)``.  Blocks are the contiguous, aligned
runs ``[b*i, b*i + b)`` (1D) or ``b x b`` squares (2D) starting at index 0; the block size ``b``
must divide every lattice side.

* :func:`majority` -- the sign of the block sum (majority rule).  When b is even a block can sum
  to zero; the tie is broken either by a fair coin per tied block, reproducible from ``seed``
  (``tie="coin"``, the unbiased choice that keeps the up/down symmetry of every configuration), or
  deterministically by the block's first (top-left) spin (``tie="first"``).
* :func:`decimate` -- keep the first (top-left) spin of every block.  For the zero-field 1D chain
  decimation is an exact RG map: :math:`\\tanh K' = \\tanh^b K` (Kadanoff & Houghton 1975;
  Mehta & Schwab 2014 use b = 2).

References
----------
L. P. Kadanoff, Physics 2, 263 (1966).
L. P. Kadanoff and A. Houghton, Phys. Rev. B 11, 377 (1975).
P. Mehta and D. J. Schwab, arXiv:1410.3831 (2014).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["majority", "decimate"]

_TIES = ("coin", "first")


def _prepare(spins: ArrayLike, b: int, dimension: int) -> tuple[NDArray[np.int8], int]:
    if dimension not in (1, 2) or isinstance(dimension, bool):
        raise ValueError(f"dimension must be 1 or 2, got {dimension!r}")
    s = np.asarray(spins)
    if s.ndim < dimension:
        raise ValueError(f"spins must have at least {dimension} axes for dimension={dimension}, "
                         f"got shape {s.shape}")
    if not (np.issubdtype(s.dtype, np.integer) or np.issubdtype(s.dtype, np.floating)):
        raise ValueError(f"spins must be numeric (+1/-1), got dtype {s.dtype}")
    if s.size and not np.all((s == 1) | (s == -1)):
        raise ValueError("spins must contain only -1 and +1")
    if isinstance(b, bool) or int(b) != b or b < 1:
        raise ValueError(f"block size b must be a positive integer, got {b!r}")
    b = int(b)
    for side in s.shape[s.ndim - dimension:]:
        if side % b:
            raise ValueError(f"block size b={b} does not divide the lattice side {side} "
                             f"(spins shape {s.shape})")
    return s.astype(np.int8, copy=False), b


def _block_sums(s: NDArray[np.int8], b: int, dimension: int) -> NDArray[np.int32]:
    lead = s.shape[: s.ndim - dimension]
    if dimension == 1:
        n = s.shape[-1]
        return s.reshape(lead + (n // b, b)).sum(axis=-1, dtype=np.int32)
    ny, nx = s.shape[-2:]
    return s.reshape(lead + (ny // b, b, nx // b, b)).sum(axis=(-3, -1), dtype=np.int32)


def _first_spins(s: NDArray[np.int8], b: int, dimension: int) -> NDArray[np.int8]:
    if dimension == 1:
        return s[..., ::b]
    return s[..., ::b, ::b]


def majority(spins: ArrayLike, b: int, dimension: int,
             seed: int | np.random.SeedSequence | np.random.Generator | None = None,
             tie: Literal["coin", "first"] = "coin") -> NDArray[np.int8]:
    """Majority-rule block spins: the sign of the sum over each block of b (1D) or b x b (2D).

    Parameters
    ----------
    spins : array_like of int, shape (..., L) or (..., Ly, Lx)
        Spin configurations in {-1, +1}; leading axes are samples.
    b : int
        Block size (>= 1), dividing every lattice side.  ``b = 1`` is the identity.
    dimension : {1, 2}
        Lattice dimension (the number of trailing lattice axes).
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the tie-breaking coins (``tie="coin"`` only).  One coin is drawn for *every*
        block of the output in C order, so the result is a deterministic function of
        ``(spins, seed)`` and the coin of a block does not depend on which other blocks tie.
    tie : {"coin", "first"}, default "coin"
        Tie rule for blocks summing to zero (possible only for even b): a fair coin, or the
        block's first (top-left) spin.

    Returns
    -------
    ndarray of int8, shape (..., L // b) or (..., Ly // b, Lx // b)

    Raises
    ------
    ValueError
        Bad dimension, b < 1 or not dividing a side, spins not in {-1, +1}, unknown ``tie``.
    """
    if tie not in _TIES:
        raise ValueError(f"tie must be one of {_TIES}, got {tie!r}")
    s, b = _prepare(spins, b, dimension)
    if b == 1:
        return s.copy()
    sums = _block_sums(s, b, dimension)
    out = np.sign(sums).astype(np.int8)
    if b % 2 == 0:
        ties = sums == 0
        if tie == "first":
            out[ties] = _first_spins(s, b, dimension)[ties]
        else:
            rng = np.random.default_rng(seed)
            coins = (2 * rng.integers(0, 2, size=out.shape, dtype=np.int8) - 1).astype(np.int8)
            out[ties] = coins[ties]
    return out


def decimate(spins: ArrayLike, b: int, dimension: int) -> NDArray[np.int8]:
    """Decimation: keep the first (top-left) spin of every block of b (1D) or b x b (2D).

    For the zero-field 1D chain the decimated chain is again an Ising chain with
    :math:`\\tanh K' = \\tanh^b K` (exact RG; see :func:`ising.exact.correlation_1d`).

    Parameters
    ----------
    spins : array_like of int, shape (..., L) or (..., Ly, Lx)
        Spin configurations in {-1, +1}; leading axes are samples.
    b : int
        Block size (>= 1) dividing every lattice side; ``b = 1`` is the identity.
    dimension : {1, 2}
        Lattice dimension.

    Returns
    -------
    ndarray of int8, shape (..., L // b) or (..., Ly // b, Lx // b)
        A new contiguous array.
    """
    s, b = _prepare(spins, b, dimension)
    return np.array(_first_spins(s, b, dimension), dtype=np.int8, order="C", copy=True)

"""Seed derivation: the one scheme by which rgdl turns a root seed into the seed of a sub-task.

Every derived seed is a word of ``numpy.random.SeedSequence(entropy=root, spawn_key=key)``
(NumPy's recommended practice for independent parallel streams, NEP 19): distinct keys give
statistically independent streams, and the result depends on nothing but ``root`` and ``key``
(not on scheduling order, worker count, thread count or Python's salted ``hash()``). The keys
name the sub-task:

* :func:`name_key` — a purpose given as text (``"simulate"``, ``"flow3"``): its CRC-32;
* :func:`hash_key` — a whole parameter set (a JSON-ready object): 8 words of its SHA-256;
* a plain tuple of small integers (``(1,)``) for a fixed, numbered stream.

:func:`random_seed` draws a fresh root seed from the operating system's entropy, for commands
whose ``--seed`` was not given (the seed is then recorded in their output).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any, Sequence

import numpy as np

#: Derived seeds of ``bits=63`` are below this bound (non-negative int64).
SEED_BOUND = 1 << 63


def stable_hash(obj: Any) -> str:
    """SHA-256 hex digest of the canonical JSON form of ``obj`` (sorted keys, no spaces).

    Unlike Python's ``hash()`` this is the same in every process and on every machine.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_key(obj: Any) -> tuple[int, ...]:
    """Spawn key of a parameter set: the 8 little-endian 32-bit words of
    ``SHA-256(stable_hash(obj))``."""
    digest = hashlib.sha256(stable_hash(obj).encode("ascii")).digest()
    return tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(8))


def name_key(name: str) -> tuple[int]:
    """Spawn key of a named purpose: ``(crc32(name),)``."""
    return (zlib.crc32(name.encode()),)


def derive_seed(root: int, key: Sequence[int], *, bits: int = 63) -> int:
    """The seed of sub-task ``key`` of root seed ``root``.

    Parameters
    ----------
    root : int
        Root seed (>= 0), the ``entropy`` of the :class:`numpy.random.SeedSequence`.
    key : sequence of int
        Spawn key naming the sub-task (:func:`name_key`, :func:`hash_key`, or small integers).
    bits : {63, 32}
        63: the first 64-bit word of the sequence's state shifted right by one (an int64 seed,
        below :data:`SEED_BOUND`); 32: the first 32-bit word.

    Returns
    -------
    int
        A non-negative integer below ``2**bits``.
    """
    sequence = np.random.SeedSequence(entropy=int(root), spawn_key=tuple(int(k) for k in key))
    if bits == 32:
        return int(sequence.generate_state(1, dtype=np.uint32)[0])
    if bits == 63:
        words = sequence.generate_state(2, dtype=np.uint32)
        return (int(words[1]) << 32 | int(words[0])) >> 1
    raise ValueError(f"bits must be 63 or 32, got {bits!r}")


def child_seed(root: int, name: str) -> int:
    """A 32-bit seed for purpose ``name`` of root seed ``root`` (the pipeline's stages)."""
    return derive_seed(root, name_key(name), bits=32)


def random_seed() -> int:
    """A fresh root seed below 2**63 from the operating system's entropy."""
    entropy = np.random.SeedSequence().entropy  # an int when drawn from the OS
    assert isinstance(entropy, int)
    return entropy % SEED_BOUND

"""Argument checks shared by the samplers and the dataset generator.

Every public entry point of :mod:`ising` validates its arguments before it allocates memory or
touches a file; these helpers give the one wording of those errors (``ValueError`` naming the
argument and the value received).
"""

from __future__ import annotations

import math
from typing import Literal, SupportsFloat, cast, overload

import numpy as np

__all__ = ["check_int", "check_real", "resolve_seed"]


def check_real(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` with ``positive``); ValueError naming ``name``.

    Booleans are refused although Python treats them as numbers.
    """
    try:
        v = float(cast(SupportsFloat, value))  # float() itself refuses what it cannot convert
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


@overload
def check_int(name: str, value: object, minimum: int, *,
              allow_none: Literal[False] = False) -> int: ...
@overload
def check_int(name: str, value: object, minimum: int, *, allow_none: bool) -> int | None: ...


def check_int(name: str, value: object, minimum: int, *, allow_none: bool = False) -> int | None:
    """``value`` as an int ``>= minimum`` (None passes through with ``allow_none``).

    Booleans and floats are refused, even integral ones: a count given as ``2.0`` is a mistake
    in the caller, not something to round.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def resolve_seed(seed: object) -> int:
    """A non-negative int seed; ``None`` draws fresh OS entropy (below 2**63, so it can be
    stored as int64 and the run repeated)."""
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)  # drawn from the OS when no entropy is given
        return entropy % (1 << 63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)

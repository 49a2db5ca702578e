"""Serial and parallel Numba builds of one kernel: the one helper of :mod:`ising` for them.

A kernel written with ``prange`` is compiled twice: with ``parallel=True`` (prange splits its
loop over threads) and serially (prange acts as range). Both give identical bytes when every
iteration of the prange loop owns its outputs and its random stream (one chain or one row), so
a caller may pick the serial build for small work, where starting threads costs more than it
saves, without changing any result.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Protocol

from numba import njit

__all__ = ["Kernel", "serial_and_parallel"]


class Kernel(Protocol):
    """A compiled Numba dispatcher as the callers see it: called with arrays and scalars (its
    outputs are written in place), it returns what the jitted function returns."""

    def __call__(self, *args: Any) -> Any: ...


def serial_and_parallel(func: Callable[..., Any], **options: Any) -> tuple[Kernel, Kernel]:
    """``(parallel, serial)`` njit builds of the plain Python function ``func``.

    The serial build gets its own function object and qualified name (``<name>_serial``):
    Numba's on-disk cache keys entries by qualified name and signature, not by the
    ``parallel`` flag, so a shared name would let one build load the other's machine code.

    Parameters
    ----------
    func : function
        Plain Python source of the kernel (not yet jitted).
    **options
        Further :func:`numba.njit` options for both builds (``cache=True`` is always set).

    Returns
    -------
    parallel, serial : Kernel
        The ``parallel=True`` build and the serial one.
    """
    assert isinstance(func, types.FunctionType), "serial_and_parallel needs a plain function"
    serial = types.FunctionType(func.__code__, func.__globals__, func.__name__ + "_serial",
                                func.__defaults__, func.__closure__)
    serial.__qualname__ = func.__qualname__ + "_serial"
    serial.__doc__ = func.__doc__
    return (njit(cache=True, parallel=True, **options)(func),
            njit(cache=True, **options)(serial))

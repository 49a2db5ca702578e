"""Monte Carlo renormalization group: linearised RG matrices and critical exponents from samples.

Swendsen's Monte Carlo RG (MCRG) measures the linearisation of a real-space RG map directly from
equilibrium configurations, without ever writing the renormalized Hamiltonian down.  Write the
Hamiltonian of level ``n`` (``n`` block transformations applied to the original lattice) as

.. math::  \\mathcal H^{(n)} = \\sum_\\alpha K^{(n)}_\\alpha S^{(n)}_\\alpha,
           \\qquad P^{(n)}(s) \\propto e^{\\mathcal H^{(n)}(s)},

with :math:`S_\\alpha` lattice sums of spin products ("operators": nearest-neighbour pairs,
plaquettes, ...).  The block transform is a (deterministic or stochastic) kernel
:math:`P(s^{(n+1)} | s^{(n)})` that does not depend on the couplings, so by the chain rule

.. math::  \\frac{\\partial \\langle S^{(n+1)}_\\gamma\\rangle}{\\partial K^{(n)}_\\beta}
           = \\sum_\\alpha \\frac{\\partial K^{(n+1)}_\\alpha}{\\partial K^{(n)}_\\beta}
             \\frac{\\partial \\langle S^{(n+1)}_\\gamma\\rangle}{\\partial K^{(n+1)}_\\alpha},

and both derivatives of expectation values are connected correlation functions,

.. math::  B_{\\gamma\\beta} = \\langle S^{(n+1)}_\\gamma S^{(n)}_\\beta\\rangle
           - \\langle S^{(n+1)}_\\gamma\\rangle\\langle S^{(n)}_\\beta\\rangle, \\qquad
           A_{\\gamma\\alpha} = \\langle S^{(n+1)}_\\gamma S^{(n+1)}_\\alpha\\rangle
           - \\langle S^{(n+1)}_\\gamma\\rangle\\langle S^{(n+1)}_\\alpha\\rangle .

Hence ``B = A T`` with :math:`T_{\\alpha\\beta} = \\partial K^{(n+1)}_\\alpha/\\partial K^{(n)}_\\beta`
(row = new coupling, column = old coupling), i.e. ``T = A^{-1} B`` (Swendsen 1979, Eq. 4-5;
this module solves ``A T = B`` with :func:`numpy.linalg.solve`).  Near the fixed point the
eigenvalues of ``T`` are :math:`\\lambda_i = b^{y_i}` for block size ``b``; the leading eigenvalue
of the even sector gives the thermal exponent :math:`y_T = 1/\\nu` and that of the odd sector the
magnetic exponent :math:`y_h`.  At zero field the even and odd operators do not mix
(:math:`\\partial K_{\\rm even}/\\partial K_{\\rm odd} = 0` by the up-down symmetry), so each sector
is analysed on its own.  Truncating the operator set to its first ``k`` operators gives the
estimates per truncation ``k = 1..n_ops``; their convergence in ``k`` and in the level ``n`` is the
standard diagnostic (Swendsen 1982).  Exact 2D Ising values: :math:`y_T = 1`, :math:`y_h = 15/8`.

Operators are translation-invariant sums over the periodic lattice of products of spins on a
*shape* (a set of lattice offsets) and on all of its images under the lattice point group (the
square group D4 in 2D, reflection in 1D), each distinct placement counted once.  The sums are
vectorised with :func:`numpy.roll`; ``tests/test_mcrg.py`` compares them with explicit loops.

Errors come from a delete-one-block jackknife over contiguous blocks of samples
(:func:`ising.observables.jackknife` applied to the block means of all first and second moments).

References
----------
R. H. Swendsen, "Monte Carlo renormalization group", Phys. Rev. Lett. 42, 859 (1979).
R. H. Swendsen, "Monte Carlo renormalization", in *Real-Space Renormalization*, eds.
T. W. Burkhardt and J. M. J. van Leeuwen, Topics in Current Physics 30 (Springer, 1982), p. 57.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from ising.blockspin import decimate, majority
from ising.observables import jackknife

__all__ = [
    "Operator", "operator", "check_configurations", "check_operators", "EVEN_2D", "ODD_2D", "EVEN_1D", "ODD_1D", "operator_sums",
    "local_fields", "BlockTransform", "MajorityTransform", "DecimationTransform",
    "majority_transform", "decimation_transform", "block_levels",
    "rg_matrix", "MCRGLevel", "MCRGResult", "mcrg",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# operators
@dataclass(frozen=True)
class Operator:
    """A translation-invariant spin-product operator :math:`S = \\sum_x \\sum_{\\rm shapes}
    \\prod_{o \\in \\rm shape} s_{x+o}`.

    Attributes
    ----------
    name : str
    shapes : tuple of tuple of tuple of int
        The distinct shapes (all point-group images of the generating shape, up to translation),
        each a sorted tuple of offsets of length ``dimension``.
    """

    name: str
    shapes: tuple[tuple[tuple[int, ...], ...], ...]

    @property
    def order(self) -> int:
        """Number of spins in the product (its parity decides the even/odd sector)."""
        return len(self.shapes[0])

    @property
    def dimension(self) -> int:
        """Lattice dimension of the offsets (1 or 2)."""
        return len(self.shapes[0][0])

    @property
    def span(self) -> int:
        """Largest extent of a shape along any axis (the lattice side must exceed twice this)."""
        return max(max(o[a] for o in s) - min(o[a] for o in s)
                   for s in self.shapes for a in range(self.dimension))


Offset = tuple[int, ...]
Shape = tuple[Offset, ...]


def _canonical(offsets: Sequence[Offset]) -> Shape:
    lo = min(offsets)
    return tuple(sorted(tuple(o[a] - lo[a] for a in range(len(o))) for o in offsets))


def _images(offsets: Sequence[Offset], dimension: int) -> set[Shape]:
    maps: list[Callable[[Offset], Offset]]
    if dimension == 1:
        maps = [lambda o: (o[0],), lambda o: (-o[0],)]
    else:
        def image(sy: int, sx: int, t: bool) -> Callable[[Offset], Offset]:
            return lambda o: (sy * o[1], sx * o[0]) if t else (sy * o[0], sx * o[1])

        maps = [image(sy, sx, t) for sy in (1, -1) for sx in (1, -1) for t in (False, True)]
    return {_canonical([m(o) for o in offsets]) for m in maps}


def operator(name: str, offsets: Sequence[Sequence[int]]) -> Operator:
    """Build an :class:`Operator` from one generating shape and all its point-group images.

    Parameters
    ----------
    name : str
    offsets : sequence of tuple of int
        Distinct lattice offsets (each of length 1 or 2) of the spins in the product.
    """
    points = [tuple(int(c) for c in o) for o in offsets]
    if not points or len(set(points)) != len(points):
        raise ValueError(f"operator {name!r}: offsets must be distinct and non-empty")
    dimension = len(points[0])
    if dimension not in (1, 2) or any(len(o) != dimension for o in points):
        raise ValueError(f"operator {name!r}: offsets must all have length 1 or 2")
    return Operator(name, tuple(sorted(_images(points, dimension))))


#: Even operators of the square lattice, short-range first (the truncation order).
EVEN_2D = (
    operator("nn", [(0, 0), (0, 1)]),
    operator("nnn", [(0, 0), (1, 1)]),
    operator("d2", [(0, 0), (0, 2)]),
    operator("plaquette", [(0, 0), (0, 1), (1, 0), (1, 1)]),
    operator("d5", [(0, 0), (1, 2)]),
    operator("d8", [(0, 0), (2, 2)]),
    operator("d3", [(0, 0), (0, 3)]),
    operator("diamond", [(0, 1), (1, 0), (1, 2), (2, 1)]),
    operator("rect4", [(0, 0), (0, 1), (2, 0), (2, 1)]),
)

#: Odd operators of the square lattice, magnetization first.
ODD_2D = (
    operator("m", [(0, 0)]),
    operator("corner3", [(0, 0), (0, 1), (1, 0)]),
    operator("line3", [(0, 0), (0, 1), (0, 2)]),
    operator("diag3", [(0, 0), (1, 1), (2, 2)]),
    operator("cross5", [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)]),
    operator("bent3", [(0, 0), (0, 1), (1, 2)]),
)

#: Operators of the periodic chain (used by the exactly solvable checks).
EVEN_1D = (operator("nn", [(0,), (1,)]), operator("d2", [(0,), (2,)]),
           operator("four", [(0,), (1,), (2,), (3,)]))
ODD_1D = (operator("m", [(0,)]), operator("line3", [(0,), (1,), (2,)]))


def check_configurations(spins: npt.ArrayLike, dimension: int | None = None) -> NDArray[Any]:
    """Validate a stack of periodic +-1 configurations, shape (n, L) or (n, L, L); return it."""
    s = np.asarray(spins)
    if s.ndim not in (2, 3):
        raise ValueError(f"spins must have shape (n_samples, L) or (n_samples, L, L), got {s.shape}")
    d = s.ndim - 1
    if dimension is not None and d != dimension:
        raise ValueError(f"operators are {dimension}D but spins have shape {s.shape}")
    if s.shape[0] < 1 or any(n < 1 for n in s.shape[1:]):
        raise ValueError(f"spins must be non-empty, got shape {s.shape}")
    if d == 2 and s.shape[1] != s.shape[2]:
        raise ValueError(f"the lattice must be square, got {s.shape[1:]}")
    if not np.all((s == 1) | (s == -1)):
        raise ValueError("spins must contain only -1 and +1")
    return s


def check_operators(operators: Sequence[Operator], spins: NDArray[Any]) -> None:
    """Raise ValueError unless every operator fits the dimension and the side of ``spins``."""
    if len(operators) == 0:
        raise ValueError("need at least one operator")
    d = spins.ndim - 1
    for op in operators:
        if op.dimension != d:
            raise ValueError(f"operator {op.name!r} is {op.dimension}D, spins are {d}D")
        if 2 * op.span >= spins.shape[1]:
            # below this, different placements (or operators) wrap onto the same spin product
            raise ValueError(f"lattice side {spins.shape[1]} too small for operator {op.name!r} "
                             f"(needs L > {2 * op.span}); use a larger lattice or fewer levels")


class _Shifts:
    """Cache of periodic shifts ``s(x + o)`` of one stack of configurations."""

    def __init__(self, s: NDArray[Any]) -> None:
        self.s = s
        self.d = s.ndim - 1
        self.cache: dict[Offset, NDArray[Any]] = {}

    def __call__(self, offset: Sequence[int]) -> NDArray[Any]:
        o = tuple(offset)
        if o not in self.cache:
            if not any(o):
                self.cache[o] = self.s
            else:
                self.cache[o] = np.roll(self.s, tuple(-c for c in o), axis=tuple(range(1, self.d + 1)))
        return self.cache[o]


def operator_sums(spins: npt.ArrayLike, operators: Sequence[Operator]) -> NDArray[np.float64]:
    """Per-configuration lattice sums of spin-product operators.

    Parameters
    ----------
    spins : array_like, shape (n_samples, L) or (n_samples, L, L)
        Periodic configurations of +-1 spins.
    operators : sequence of Operator

    Returns
    -------
    ndarray of float64, shape (n_samples, n_operators)
        ``S_alpha`` of every configuration (exact integers held as floats).
    """
    s = check_configurations(spins)
    check_operators(operators, s)
    out = np.empty((s.shape[0], len(operators)), dtype=np.float64)
    axes = tuple(range(1, s.ndim))
    chunk = max(1, 2 ** 20 // int(np.prod(s.shape[1:])))  # bounds the cache of shifted copies
    for start in range(0, s.shape[0], chunk):
        shift = _Shifts(s[start:start + chunk].astype(np.int8, copy=False))
        for k, op in enumerate(operators):
            total = np.zeros(shift.s.shape[0], dtype=np.int64)
            for shape in op.shapes:
                prod = shift(shape[0]).copy()
                for o in shape[1:]:
                    prod *= shift(o)
                total += prod.sum(axis=axes, dtype=np.int64)
            out[start:start + chunk, k] = total
    return out


def local_fields(spins: npt.ArrayLike, operators: Sequence[Operator]) -> NDArray[np.int16]:
    """Local-field operators :math:`f_\\alpha(x) = \\partial S_\\alpha / \\partial s_x`.

    Every operator is linear in each spin, so :math:`S_\\alpha = s_x f_\\alpha(x) + (\\text{terms
    without } s_x)` and flipping :math:`s_x` changes :math:`S_\\alpha` by :math:`-2 s_x f_\\alpha(x)`.
    The conditional of one spin under :math:`P \\propto \\exp(\\sum_\\alpha K_\\alpha S_\\alpha)` is
    :math:`P(s_x | \\text{rest}) = e^{s_x h_x} / 2\\cosh h_x` with :math:`h_x = \\sum_\\alpha
    K_\\alpha f_\\alpha(x)` (used by :mod:`analysis.couplings`).

    Returns
    -------
    ndarray of int16, shape (n_samples, n_operators, L) or (n_samples, n_operators, L, L)
    """
    s = check_configurations(spins)
    check_operators(operators, s)
    shift = _Shifts(s.astype(np.int16))
    out = np.zeros((s.shape[0], len(operators)) + s.shape[1:], dtype=np.int16)
    for k, op in enumerate(operators):
        for shape in op.shapes:
            for j, oj in enumerate(shape):
                prod = np.ones(s.shape, dtype=np.int16)
                for q, oq in enumerate(shape):
                    if q != j:
                        prod *= shift(tuple(a - c for a, c in zip(oq, oj)))
                out[:, k] += prod
    return out


# ---------------------------------------------------------------------------------------------
# block transforms: callables f(spins, seed) -> coarse spins
class BlockTransform(Protocol):
    """A block transform ``f(spins, seed) -> coarse spins`` (what :func:`block_levels`,
    :func:`mcrg` and :func:`analysis.couplings.coupling_flow` apply level after level).

    ``spins`` has shape ``(n, L)`` or ``(n, L, L)``; the result ``(n, L/b)`` or ``(n, L/b, L/b)``.
    Deterministic transforms ignore ``seed``; stochastic ones draw from it.
    """

    def __call__(self, spins: NDArray[np.int8],
                 seed: np.random.SeedSequence | None = None) -> npt.ArrayLike: ...


@dataclass(frozen=True)
class MajorityTransform:
    """Majority rule with block size ``block`` (a :class:`BlockTransform`; fair-coin ties for
    even ``block``, drawn from ``seed``; :func:`ising.blockspin.majority`)."""

    block: int

    @property
    def name(self) -> str:
        """Label of the transform, e.g. ``"majority b=2"``."""
        return f"majority b={self.block}"

    def __call__(self, spins: npt.ArrayLike,
                 seed: int | np.random.SeedSequence | None = None) -> NDArray[np.int8]:
        s = np.asarray(spins)
        return majority(s, self.block, s.ndim - 1, seed=seed, tie="coin")


@dataclass(frozen=True)
class DecimationTransform:
    """Decimation with block size ``block`` (a :class:`BlockTransform`: keep the first spin of
    each block; :func:`ising.blockspin.decimate`)."""

    block: int

    @property
    def name(self) -> str:
        """Label of the transform, e.g. ``"decimation b=2"``."""
        return f"decimation b={self.block}"

    def __call__(self, spins: npt.ArrayLike,
                 seed: int | np.random.SeedSequence | None = None) -> NDArray[np.int8]:
        s = np.asarray(spins)
        return decimate(s, self.block, s.ndim - 1)


def majority_transform(b: int) -> MajorityTransform:
    """Majority rule with block size ``b`` (fair-coin ties for even ``b``; :func:`ising.blockspin.majority`).

    Returns
    -------
    MajorityTransform
        ``f(spins, seed)`` mapping ``(n, L, L)`` (or ``(n, L)``) to ``(n, L/b, L/b)``; attributes
        ``block`` and ``name``.
    """
    return MajorityTransform(_check_b(b))


def decimation_transform(b: int) -> DecimationTransform:
    """Decimation with block size ``b`` (keep the first spin of each block; :func:`ising.blockspin.decimate`)."""
    return DecimationTransform(_check_b(b))


def _check_b(b: int) -> int:
    if isinstance(b, bool) or int(b) != b or b < 2:
        raise ValueError(f"block size must be an integer >= 2, got {b!r}")
    return int(b)


def block_levels(spins: npt.ArrayLike, transform: BlockTransform, levels: int, *,
                 seed: int | np.random.SeedSequence | None = None) -> list[NDArray[np.int8]]:
    """Apply ``transform`` ``levels`` times: ``[s^(0), s^(1), ..., s^(levels)]``.

    Parameters
    ----------
    spins : array_like, shape (n_samples, L, ...)
    transform : callable ``f(spins, seed) -> coarse spins``
        Deterministic transforms ignore ``seed``; stochastic ones get an independent
        :class:`numpy.random.SeedSequence` per level spawned from ``seed``.
    levels : int >= 1
    seed : int, SeedSequence or None

    Returns
    -------
    list of ndarray (int8)

    Raises
    ------
    ValueError
        If a level is not a square lattice of +-1 spins smaller by an integer factor.
    """
    if isinstance(levels, bool) or int(levels) != levels or levels < 1:
        raise ValueError(f"levels must be an integer >= 1, got {levels!r}")
    s = check_configurations(spins).astype(np.int8, copy=False)
    seeds = np.random.SeedSequence(seed).spawn(int(levels)) if not isinstance(
        seed, np.random.SeedSequence) else seed.spawn(int(levels))
    out = [s]
    for n in range(int(levels)):
        coarse = check_configurations(transform(out[-1], seeds[n])).astype(np.int8, copy=False)
        if coarse.shape[0] != s.shape[0] or coarse.ndim != s.ndim:
            raise ValueError(f"transform changed the number of samples or the dimension: "
                             f"{out[-1].shape} -> {coarse.shape}")
        out.append(coarse)
        _block_factor(out[-2], coarse)
    return out


def _block_factor(fine: NDArray[Any], coarse: NDArray[Any]) -> int:
    ratio = fine.shape[1] / coarse.shape[1]
    if fine.shape[1] % coarse.shape[1] or ratio < 2:
        raise ValueError(f"transform must shrink the lattice by an integer factor >= 2, got "
                         f"{fine.shape[1]} -> {coarse.shape[1]}")
    return int(round(ratio))


# ---------------------------------------------------------------------------------------------
# the linearised RG matrix
def rg_matrix(coarse_sums: npt.ArrayLike, fine_sums: npt.ArrayLike
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Linearised RG matrix ``T = A^{-1} B`` from operator sums of one level pair.

    Parameters
    ----------
    coarse_sums : ndarray, shape (n_samples, n_ops)
        :math:`S^{(n+1)}_\\alpha` of the blocked configurations.
    fine_sums : ndarray, shape (n_samples, n_ops)
        :math:`S^{(n)}_\\beta` of the configurations they were blocked from (same samples, same order).

    Returns
    -------
    T, A, B : ndarray, shape (n_ops, n_ops)
        :math:`T_{\\alpha\\beta} = \\partial K^{(n+1)}_\\alpha / \\partial K^{(n)}_\\beta`.
    """
    c = np.asarray(coarse_sums, dtype=np.float64)
    f = np.asarray(fine_sums, dtype=np.float64)
    c = c - c.mean(axis=0)
    f = f - f.mean(axis=0)
    n = c.shape[0]
    A = c.T @ c / n
    B = c.T @ f / n
    return np.linalg.solve(A, B), A, B


def _leading(T: NDArray[np.float64]) -> float:
    """Leading eigenvalue (largest modulus) of ``T`` as a real number (NaN if it is complex)."""
    ev = np.linalg.eigvals(T)
    i = int(np.argmax(np.abs(ev)))
    lam = ev[i]
    if abs(lam.imag) > 1e-9 * max(1.0, abs(lam.real)):
        return math.nan
    return float(lam.real)


def _exponent(lam: float, b: int) -> float:
    return math.log(abs(lam)) / math.log(b) if (math.isfinite(lam) and lam != 0) else math.nan


def _largest_truncation(array: str, what: str) -> property:
    """A read-only property: ``float(self.<array>[-1])``, the estimate with every operator."""
    return property(lambda self: float(getattr(self, array)[-1]),
                    doc=f"The {what} with the largest operator set (``{array}[-1]``).")


@dataclass
class MCRGLevel:
    """MCRG estimates of one RG step ``level - 1 -> level``.

    Attributes
    ----------
    level : int
        Number of block transformations applied to the coarse configurations (1 = first step).
    size : int
        Side of the coarse lattice at this level.
    block : int
        Block factor b of this step.
    y_even, y_even_err, y_odd, y_odd_err : ndarray, shape (n_even,), (n_odd,)
        ``y = ln|lambda| / ln b`` of the leading eigenvalue of the even (thermal) / odd (magnetic)
        sector, truncated to the first ``k = 1, 2, ...`` operators, with jackknife errors.
    eigenvalues_even, eigenvalues_odd : ndarray (complex)
        All eigenvalues of the full-sample ``T`` with every operator of the sector, sorted by modulus.
    T_even, T_odd : ndarray
        The full-sample matrices.
    """

    level: int
    size: int
    block: int
    y_even: NDArray[np.float64]
    y_even_err: NDArray[np.float64]
    y_odd: NDArray[np.float64]
    y_odd_err: NDArray[np.float64]
    eigenvalues_even: NDArray[np.inexact[Any]] = field(repr=False)
    eigenvalues_odd: NDArray[np.inexact[Any]] = field(repr=False)
    T_even: NDArray[np.float64] = field(repr=False)
    T_odd: NDArray[np.float64] = field(repr=False)

    y_T = _largest_truncation("y_even", "thermal exponent y_T")
    y_T_err = _largest_truncation("y_even_err", "error of y_T")
    y_h = _largest_truncation("y_odd", "magnetic exponent y_h")
    y_h_err = _largest_truncation("y_odd_err", "error of y_h")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (largest operator sets, plus every truncation)."""
        return {"level": self.level, "size": self.size, "n_even": len(self.y_even),
                "n_odd": len(self.y_odd), "y_T": _num(self.y_T), "y_T_err": _num(self.y_T_err),
                "y_h": _num(self.y_h), "y_h_err": _num(self.y_h_err),
                "y_T_truncations": [_num(x) for x in self.y_even],
                "y_T_truncation_errors": [_num(x) for x in self.y_even_err],
                "y_h_truncations": [_num(x) for x in self.y_odd],
                "y_h_truncation_errors": [_num(x) for x in self.y_odd_err]}


def _num(x: float) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


@dataclass
class MCRGResult:
    """Result of :func:`mcrg`: one :class:`MCRGLevel` per RG step, plus the operator names."""

    levels: list[MCRGLevel]
    even: tuple[str, ...]
    odd: tuple[str, ...]
    n_samples: int
    n_blocks: int


def _sector_estimates(coarse: NDArray[np.float64], fine: NDArray[np.float64], b: int, n_blocks: int
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.inexact[Any]],
                                 NDArray[np.float64]]:
    """y per truncation with jackknife errors, from operator sums of one sector."""
    n, k = coarse.shape
    c = coarse - coarse.mean(axis=0)
    f = fine - fine.mean(axis=0)
    nb = min(int(n_blocks), n)
    block = n // nb
    c = c[:nb * block].reshape(nb, block, k)
    f = f[:nb * block].reshape(nb, block, k)
    # block means of first moments and of all second moments (series for the jackknife)
    mc = c.mean(axis=1)
    mf = f.mean(axis=1)
    cc = np.einsum("nia,nib->nab", c, c) / block
    cf = np.einsum("nia,nib->nab", c, f) / block
    series = np.concatenate([mc, mf, cc.reshape(nb, -1), cf.reshape(nb, -1)], axis=1).T

    def y_of(trunc: int) -> Callable[..., float]:
        def func(*means: float) -> float:
            m = np.asarray(means)
            a1, b1 = m[:k], m[k:2 * k]
            A = m[2 * k:2 * k + k * k].reshape(k, k) - np.outer(a1, a1)
            B = m[2 * k + k * k:].reshape(k, k) - np.outer(a1, b1)
            try:
                T = np.linalg.solve(A[:trunc, :trunc], B[:trunc, :trunc])
            except np.linalg.LinAlgError:
                return math.nan
            return _exponent(_leading(T), b)
        return func

    ys, errs = np.empty(k), np.empty(k)
    for t in range(1, k + 1):
        ys[t - 1], errs[t - 1] = jackknife(y_of(t), *series, n_blocks=nb)
    T, _, _ = rg_matrix(coarse, fine)
    ev = np.linalg.eigvals(T)
    return ys, errs, ev[np.argsort(-np.abs(ev))], T


def mcrg(spins: npt.ArrayLike, transform: BlockTransform, levels: int, *,
         even: Sequence[Operator] | None = None, odd: Sequence[Operator] | None = None,
         n_blocks: int = 20, seed: int | np.random.SeedSequence | None = None,
         progress: Callable[[int], object] | None = None) -> MCRGResult:
    """Monte Carlo RG exponents of a block transform applied level after level (Swendsen 1979).

    Parameters
    ----------
    spins : array_like, shape (n_samples, L, L) or (n_samples, L)
        Equilibrium configurations (+-1), e.g. Wolff samples at the critical coupling; the order
        of samples matters only for the jackknife blocks (contiguous blocks of a Markov chain).
    transform : callable ``f(spins, seed) -> coarse``
        The block transform (see :func:`majority_transform`, :func:`decimation_transform`,
        or a learned :class:`rbm.LocalRBM` stack); deterministic or stochastic.
    levels : int
        Number of RG steps.
    even, odd : sequence of Operator, optional
        Operator sets in truncation order; default :data:`EVEN_2D`/:data:`ODD_2D` (or the 1D sets).
    n_blocks : int, default 20
        Jackknife blocks (contiguous in the sample order).
    seed : int or SeedSequence, optional
        Seed of a stochastic transform (one child per level).
    progress : callable, optional
        Called with the level number after each RG step is analysed.

    Returns
    -------
    MCRGResult

    Notes
    -----
    ``y = ln|lambda| / ln b`` uses the modulus of the leading eigenvalue, so a transform whose
    coarse spins have the opposite sign of the block (an RBM's hidden units are defined up to a
    global flip) gives the same exponents.  Truncations whose ``A`` is singular give NaN.

    References
    ----------
    R. H. Swendsen, Phys. Rev. Lett. 42, 859 (1979); Swendsen in *Real-Space Renormalization*
    (Springer, 1982).
    """
    s = check_configurations(spins)
    d = s.ndim - 1
    even_ops = tuple(even) if even is not None else (EVEN_2D if d == 2 else EVEN_1D)
    odd_ops = tuple(odd) if odd is not None else (ODD_2D if d == 2 else ODD_1D)
    if int(n_blocks) != n_blocks or n_blocks < 2 or s.shape[0] < 2 * n_blocks:
        raise ValueError(f"n_blocks must be an integer >= 2 with at least 2 samples per block, "
                         f"got n_blocks={n_blocks} for {s.shape[0]} samples")
    configs = block_levels(s, transform, levels, seed=seed)
    for c in configs[1:]:
        check_operators(even_ops + odd_ops, c)
    sums = [(operator_sums(c, even_ops), operator_sums(c, odd_ops)) for c in configs]
    out = []
    for n in range(1, len(configs)):
        b = _block_factor(configs[n - 1], configs[n])
        ye, ee, eve, Te = _sector_estimates(sums[n][0], sums[n - 1][0], b, n_blocks)
        yo, eo, evo, To = _sector_estimates(sums[n][1], sums[n - 1][1], b, n_blocks)
        out.append(MCRGLevel(n, configs[n].shape[1], b, ye, ee, yo, eo, eve, evo, Te, To))
        log.info("MCRG level %d (L=%d): y_T=%.4f(%.4f) y_h=%.4f(%.4f)", n, configs[n].shape[1],
                 ye[-1], ee[-1], yo[-1], eo[-1])
        if progress is not None:
            progress(n)
    return MCRGResult(out, tuple(o.name for o in even_ops), tuple(o.name for o in odd_ops),
                      int(s.shape[0]), int(n_blocks))

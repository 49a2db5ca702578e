"""Block-spin fidelity: how closely hidden units track Kadanoff majority-rule block spins.

Mehta & Schwab (arXiv:1410.3831) argue that a trained RBM stack performs a variational RG
transformation and show receptive fields resembling block spins. Here the claim is tested on the
data: for each hidden unit ``j`` of a layer, take its activation ``P(h_j = 1 | v)`` (propagated
by the up-pass) on the input configurations ``v`` and correlate it with the majority-rule block
spin

.. math:: \\mu_x^{(b)}(v) = \\operatorname{sign} \\sum_{y \\in \\mathrm{block}_b(x)} v_y

of **every** periodic ``b x b`` block position ``x`` (anchored at its first corner; ties broken
as in :mod:`ising.blockspin`: a fair coin, or the block's first spin). The unit's *fidelity* is
its best ``|corr|`` over positions; a layer's fidelity at ``b`` is the mean over its units.
Which ``b`` fits a layer is measured (``best_block_size``), not assumed to be ``2**l``.

The *ceiling* is the correlation that a perfect linear block sum ``S_x = sum_{y in block} v_y``
reaches against its own majority-rule spin, ``corr(S_x, mu_x)`` (averaged over positions). It is
below 1 for ``b > 1`` because majority rule is non-linear and ties are broken at random; e.g. for
independent unbiased spins and ``b = 2`` it is ``E|S| / sqrt(E S^2) = 1.5 / 2 = 0.75``. A unit
whose activation is a monotone but non-linear function of ``S_x`` can exceed it slightly (up to
``sqrt(1 - P(tie))`` with coin tie-breaking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from analysis.receptive_fields import periodic_window_sums

__all__ = [
    "window_block_spins",
    "block_correlations",
    "unit_fidelity",
    "linear_ceiling",
    "FidelityScan",
    "fidelity_scan",
    "fidelity_scans",
]

_CHUNK = 2048


def _check_spins(spins_like: npt.ArrayLike) -> NDArray[Any]:
    spins = np.asarray(spins_like)
    if spins.ndim not in (2, 3):
        raise ValueError(f"spins must have shape (n_samples, L) or (n_samples, L, L), got {spins.shape}")
    if spins.shape[0] < 2:
        raise ValueError("need at least 2 samples to measure correlations")
    if spins.ndim == 3 and spins.shape[1] != spins.shape[2]:
        raise ValueError(f"2D lattices must be square, got {spins.shape[1:]}")
    return spins


def _check_block(block: int, length: int) -> int:
    b = int(block)
    if b < 1 or b > length:
        raise ValueError(f"block size must lie in [1, L={length}], got {b}")
    return b


@overload
def window_block_spins(spins: npt.ArrayLike, b: int, *, tie: str = ...,
                       seed: int | np.random.SeedSequence | None = ...,
                       return_sums: Literal[False] = ...) -> NDArray[np.int8]: ...


@overload
def window_block_spins(spins: npt.ArrayLike, b: int, *, tie: str = ...,
                       seed: int | np.random.SeedSequence | None = ..., return_sums: Literal[True]
                       ) -> tuple[NDArray[np.int8], NDArray[np.int32]]: ...


def window_block_spins(spins: npt.ArrayLike, b: int, *, tie: str = "coin",
                       seed: int | np.random.SeedSequence | None = None, return_sums: bool = False
                       ) -> NDArray[np.int8] | tuple[NDArray[np.int8], NDArray[np.int32]]:
    """Majority-rule block spins of every periodic ``b``-block position.

    Parameters
    ----------
    spins : ndarray, int8 in {-1, +1}
        Shape ``(n_samples, L)`` (1D) or ``(n_samples, L, L)`` (2D), periodic.
    b : int
        Block size (``b`` sites in 1D, ``b x b`` in 2D).
    tie : {"coin", "first"}
        Tie-breaking for even blocks: an independent fair coin per tie, or the block's first spin
        (the one at its anchor, lowest indices), as in :func:`ising.blockspin.majority`.
    seed : int or numpy.random.SeedSequence, optional
        Seed for the coin.
    return_sums : bool
        Also return the block sums.

    Returns
    -------
    blocks : ndarray int8, same shape as ``spins``
        ``blocks[n, x]`` is the majority spin of the block anchored at ``x``
        (sites ``x .. x + b - 1`` along each axis, periodic).
    sums : ndarray int32, optional
    """
    s = _check_spins(spins)
    b = _check_block(b, s.shape[1])
    if tie not in ("coin", "first"):
        raise ValueError(f"tie must be 'coin' or 'first', got {tie!r}")
    sums = periodic_window_sums(s.astype(np.int32), b)
    blocks = np.sign(sums).astype(np.int8)
    ties = sums == 0
    if np.any(ties):
        if tie == "coin":
            rng = np.random.default_rng(seed)
            coin = rng.integers(0, 2, size=blocks.shape, dtype=np.int8) * 2 - 1
            blocks[ties] = coin[ties]
        else:
            blocks[ties] = s.astype(np.int8)[ties]
    return (blocks, sums) if return_sums else blocks


def _corr_accumulate(x: NDArray[Any], y: NDArray[Any]) -> NDArray[np.float64]:
    """Pearson correlation matrix between columns of x (n, p) and y (n, q), chunked over n."""
    n = x.shape[0]
    sx = np.zeros(x.shape[1]); sy = np.zeros(y.shape[1])
    sxx = np.zeros(x.shape[1]); syy = np.zeros(y.shape[1])
    sxy = np.zeros((x.shape[1], y.shape[1]))
    for start in range(0, n, _CHUNK):
        xc = np.asarray(x[start:start + _CHUNK], dtype=np.float64)
        yc = np.asarray(y[start:start + _CHUNK], dtype=np.float64)
        sx += xc.sum(0); sy += yc.sum(0)
        sxx += (xc * xc).sum(0); syy += (yc * yc).sum(0)
        sxy += xc.T @ yc
    mx, my = sx / n, sy / n
    vx = np.maximum(sxx / n - mx * mx, 0.0)
    vy = np.maximum(syy / n - my * my, 0.0)
    cov = sxy / n - np.outer(mx, my)
    denom = np.sqrt(np.outer(vx, vy))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(denom > 1e-24, cov / np.where(denom > 0, denom, 1.0), 0.0)
    return np.clip(corr, -1.0, 1.0)


def _check_activations(values: npt.ArrayLike, n_samples: int) -> NDArray[np.float64]:
    activations = np.asarray(values, dtype=np.float64)
    if activations.ndim != 2 or activations.shape[0] != n_samples:
        raise ValueError(
            f"activations must have shape (n_samples={n_samples}, n_units), got {activations.shape}")
    if not np.all(np.isfinite(activations)):
        raise ValueError("activations contain NaN or infinite values")
    return activations


def block_correlations(activations: npt.ArrayLike, spins: npt.ArrayLike, b: int, *,
                       tie: str = "coin",
                       seed: int | np.random.SeedSequence | None = None) -> NDArray[np.float64]:
    """Correlation of every unit's activation with every block position's majority spin.

    Parameters
    ----------
    activations : ndarray (n_samples, n_units)
        ``P(h_j = 1 | v)`` of the layer for the input configurations ``spins``.
    spins : ndarray (n_samples, L) or (n_samples, L, L)
        The visible configurations.
    b, tie, seed
        See :func:`window_block_spins`.

    Returns
    -------
    ndarray (n_units, n_positions)
        Pearson correlations; ``n_positions = L**dimension`` (flattened block anchors).
        A constant activation or block spin gives 0.
    """
    s = _check_spins(spins)
    a = _check_activations(activations, s.shape[0])
    blocks = window_block_spins(s, b, tie=tie, seed=seed)
    return _corr_accumulate(a, blocks.reshape(blocks.shape[0], -1))


def unit_fidelity(activations: npt.ArrayLike, spins: npt.ArrayLike, b: int, *,
                  tie: str = "coin", seed: int | np.random.SeedSequence | None = None
                  ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Best ``|corr|`` of each unit with any majority block spin of size ``b``.

    Returns
    -------
    fidelity : ndarray (n_units,)
    position : ndarray (n_units,) int
        Flattened anchor of the best block.
    """
    fidelity, position, _ = _best(block_correlations(activations, spins, b, tie=tie, seed=seed))
    return fidelity, position


def _best(corr: NDArray[np.float64]
          ) -> tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.int8]]:
    """Best |corr| per unit, its position and the sign of that correlation."""
    position = np.abs(corr).argmax(axis=1)
    signed = corr[np.arange(corr.shape[0]), position]
    return np.abs(signed), position, np.where(signed < 0, -1, 1).astype(np.int8)


def linear_ceiling(spins: npt.ArrayLike, b: int, *, tie: str = "coin",
                   seed: int | np.random.SeedSequence | None = None,
                   control: npt.ArrayLike | None = None) -> float:
    """Correlation of a perfect linear block sum with its own majority spin, mean over positions.

    This is the fidelity a unit with activation ``a + c * S_x`` would score at block size ``b``
    (see module docstring). ``b = 1`` gives exactly 1. With ``control`` (see
    :func:`fidelity_scan`) both are first residualised on the control variables.
    """
    checked = _check_spins(spins)
    blocks, sums = window_block_spins(checked, b, tie=tie, seed=seed, return_sums=True)
    n = checked.shape[0]
    s = sums.reshape(n, -1).astype(np.float64)
    m = blocks.reshape(n, -1).astype(np.float64)
    if control is not None:
        design = _design(control, n)
        s, m = _residualize(s, design), _residualize(m, design)
    return _mean_column_corr(s, m)


def _mean_column_corr(s: NDArray[np.float64], m: NDArray[np.float64]) -> float:
    """Mean over columns of the Pearson correlation of ``s[:, k]`` with ``m[:, k]``."""
    s = s - s.mean(0)
    m = m - m.mean(0)
    denom = np.sqrt((s * s).sum(0) * (m * m).sum(0))
    corr = np.where(denom > 0, (s * m).sum(0) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(corr.mean())


def _design(control: npt.ArrayLike, n: int) -> NDArray[np.float64]:
    c = np.asarray(control, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] != n or not np.all(np.isfinite(c)):
        raise ValueError(f"control must be a finite array of shape (n_samples={n}, k), got {c.shape}")
    return np.column_stack([np.ones(n), c])


def _residualize(x: npt.ArrayLike, design: NDArray[np.float64]) -> NDArray[np.float64]:
    """Residuals of the least-squares regression of every column of x on the design matrix.

    Projects out the column space of ``design`` through an orthonormal basis from its thin SVD
    (rank-revealing like ``numpy.linalg.lstsq``, but one small SVD instead of a solve per
    column block).
    """
    u, sv, _ = np.linalg.svd(design, full_matrices=False)
    basis = u[:, sv > sv[0] * max(design.shape) * np.finfo(np.float64).eps]
    values = np.asarray(x, dtype=np.float64)
    return values - basis @ (basis.T @ values)


@dataclass
class FidelityScan:
    """Fidelity of one layer over a scan of block sizes.

    Attributes
    ----------
    block_sizes : ndarray (n_b,)
    fidelity : ndarray (n_b,)
        Mean over units of the best ``|corr|`` at each ``b``.
    fidelity_error : ndarray (n_b,)
        Standard error of that mean over units.
    unit_fidelity : ndarray (n_b, n_units)
    ceiling : ndarray (n_b,)
        :func:`linear_ceiling` at each ``b`` on the same data.
    unit_sign : ndarray (n_b, n_units) of {-1, +1}
        Sign of each unit's best correlation (align units with their block spins before
        combining them, e.g. in :func:`analysis.correlations.activation_correlation_length`).
    unit_position : ndarray (n_b, n_units)
        Flattened anchor of each unit's best block.
    best_block_size : int
        The ``b`` with the largest mean fidelity.
    """

    block_sizes: NDArray[np.int64]
    fidelity: NDArray[np.float64]
    fidelity_error: NDArray[np.float64]
    unit_fidelity: NDArray[np.float64]
    ceiling: NDArray[np.float64]
    best_block_size: int
    unit_sign: NDArray[np.int8]
    unit_position: NDArray[np.intp]

    @property
    def best_fidelity(self) -> float:
        """Mean fidelity at :attr:`best_block_size`."""
        return float(self.fidelity[list(self.block_sizes).index(self.best_block_size)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-unit arrays)."""
        return {"block_sizes": [int(b) for b in self.block_sizes],
                "fidelity": [float(x) for x in self.fidelity],
                "fidelity_error": [float(x) for x in self.fidelity_error],
                "ceiling": [float(x) for x in self.ceiling],
                "best_block_size": int(self.best_block_size),
                "best_fidelity": self.best_fidelity}


def fidelity_scan(activations: npt.ArrayLike, spins: npt.ArrayLike,
                  block_sizes: Sequence[int] = (1, 2, 4, 8), *, tie: str = "coin",
                  seed: int | np.random.SeedSequence | None = None,
                  control: npt.ArrayLike | None = None) -> FidelityScan:
    """Block-spin fidelity of one layer for a scan of block sizes, with the linear ceiling.

    Parameters
    ----------
    activations : ndarray (n_samples, n_units)
        Up-pass activations of the layer on ``spins``.
    spins : ndarray (n_samples, L) or (n_samples, L, L)
    block_sizes : sequence of int
    tie : {"coin", "first"}
    seed : int or SeedSequence, optional
        One independent coin stream is spawned per block size; the ceiling at ``b`` uses the same
        block spins as the units.
    control : ndarray (n_samples,) or (n_samples, k), optional
        Per-sample covariates (e.g. the magnetization ``m`` and ``m**3``) regressed out of the
        activations, the block spins and the block sums before correlating: a *partial*
        (local) fidelity. Near criticality on small lattices every block spin correlates with
        the global magnetization, so a unit that only detects ``m`` scores high without control.

    Returns
    -------
    FidelityScan

    See Also
    --------
    fidelity_scans : several layers or networks on the same data (block spins computed once).
    """
    return fidelity_scans([activations], spins, block_sizes, tie=tie, seed=seed, control=control)[0]


def _standardize(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """Columns centred and scaled to unit variance (population), float32; constant columns 0."""
    x = values - values.mean(axis=0)
    sd = np.sqrt((x * x).mean(axis=0))
    ok = sd > 1e-12
    return (x * np.where(ok, 1.0 / np.where(ok, sd, 1.0), 0.0)).astype(np.float32)


def fidelity_scans(activations: Sequence[npt.ArrayLike], spins: npt.ArrayLike,
                   block_sizes: Sequence[int] = (1, 2, 4, 8), *, tie: str = "coin",
                   seed: int | np.random.SeedSequence | None = None,
                   control: npt.ArrayLike | None = None,
                   progress: Callable[[int, int], object] | None = None) -> list[FidelityScan]:
    """:func:`fidelity_scan` of several activation sets on the same configurations.

    The majority-rule block spins (one coin stream per block size, spawned from ``seed``), their
    residuals on ``control`` and the linear ceiling are computed once per ``b`` and shared, so
    every layer and every null network is compared against the *same* block spins. Each
    returned scan equals ``fidelity_scan(a, spins, block_sizes, tie=tie, seed=seed,
    control=control)`` up to float32 rounding of the correlations (relative ~1e-6, far below
    their statistical error ~1/sqrt(n_samples)).

    Parameters
    ----------
    activations : sequence of ndarray (n_samples, n_units_k)
    spins, block_sizes, tie, seed, control
        See :func:`fidelity_scan`.
    progress : callable, optional
        ``progress(done, total)`` after each block size (``total = len(block_sizes)``).

    Returns
    -------
    list of FidelityScan
        One per activation set, in order.
    """
    s = _check_spins(spins)
    n = s.shape[0]
    if isinstance(activations, np.ndarray) and activations.ndim == 2:
        raise ValueError("activations must be a sequence of 2-D arrays (use fidelity_scan for one)")
    acts = [_check_activations(a, n) for a in activations]
    if not acts:
        raise ValueError("activations must not be empty")
    sizes = np.array([_check_block(b, s.shape[1]) for b in block_sizes], dtype=np.int64)
    if sizes.size == 0:
        raise ValueError("block_sizes must not be empty")
    if tie not in ("coin", "first"):
        raise ValueError(f"tie must be 'coin' or 'first', got {tie!r}")
    seeds = np.random.SeedSequence(seed).spawn(len(sizes)) if not isinstance(
        seed, np.random.SeedSequence) else seed.spawn(len(sizes))
    design = None if control is None else _design(control, n)
    if design is not None:
        acts = [_residualize(a, design) for a in acts]
    standardized = [_standardize(a) for a in acts]
    results: list[dict[str, list[Any]]] = [
        dict(fidelity=[], error=[], per_unit=[], signs=[], positions=[]) for _ in acts]
    ceilings: list[float] = []
    for i, (b, ss) in enumerate(zip(sizes, seeds)):
        block_spins, block_sums = window_block_spins(s, int(b), tie=tie, seed=ss,
                                                     return_sums=True)
        blocks = block_spins.reshape(n, -1).astype(np.float64)
        sums = block_sums.reshape(n, -1).astype(np.float64)
        if design is not None:
            blocks, sums = _residualize(blocks, design), _residualize(sums, design)
        ceilings.append(_mean_column_corr(sums, blocks))
        ys = _standardize(blocks)
        for xs, res in zip(standardized, results):
            corr = np.clip((xs.T @ ys).astype(np.float64) / n, -1.0, 1.0)
            best, pos, sign = _best(corr)
            res["per_unit"].append(best)
            res["signs"].append(sign)
            res["positions"].append(pos)
            res["fidelity"].append(best.mean())
            res["error"].append(best.std(ddof=1) / np.sqrt(best.size) if best.size > 1 else 0.0)
        if progress is not None:
            progress(i + 1, len(sizes))
    ceiling = np.array(ceilings)
    scans = []
    for res in results:
        fidelity = np.array(res["fidelity"])
        scans.append(FidelityScan(block_sizes=sizes, fidelity=fidelity,
                                  fidelity_error=np.array(res["error"]),
                                  unit_fidelity=np.array(res["per_unit"]), ceiling=ceiling.copy(),
                                  best_block_size=int(sizes[int(np.argmax(fidelity))]),
                                  unit_sign=np.array(res["signs"]),
                                  unit_position=np.array(res["positions"])))
    return scans

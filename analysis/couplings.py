"""Effective couplings of spin configurations by maximum pseudo-likelihood, and RG coupling flows.

For configurations assumed to follow :math:`P(s) \\propto \\exp(\\sum_\\alpha K_\\alpha S_\\alpha(s))`
(operators :math:`S_\\alpha` of :mod:`analysis.mcrg`; the nearest-neighbour coupling is
:math:`K = J/T` of docs/CONTRACTS.md), the conditional of one spin given the others is
:math:`P(s_x|\\cdot) = e^{s_x h_x} / 2\\cosh h_x` with :math:`h_x = \\sum_\\alpha K_\\alpha f_\\alpha(x)`
(:func:`analysis.mcrg.local_fields`).  Besag's pseudo-likelihood

.. math:: \\ell(K) = \\sum_{\\rm samples} \\sum_x \\left[ K\\cdot g_x - \\log 2\\cosh (K\\cdot g_x)\\right],
          \\qquad g_x = s_x f(x),

is concave in :math:`K`, and its maximiser is a consistent estimator of the couplings (no
partition function needed).  It depends on the data only through the histogram of the integer
vectors :math:`g_x`, which is what this module accumulates (exact, and small in memory).
Applied to block-spin configurations at each RG level it measures the flow of the projected
couplings :math:`(K_{nn}, K_{nnn}, K_\\square, \\dots)` -- the coupling-flow diagram of Swendsen's
MCRG; the correlation-function method of Swendsen (1984) is an alternative.

References
----------
J. Besag, "Statistical analysis of non-lattice data", The Statistician 24, 179 (1975).
R. H. Swendsen, Phys. Rev. Lett. 42, 859 (1979); Phys. Rev. Lett. 52, 1165 (1984).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray
from scipy.optimize import minimize

from analysis.mcrg import (EVEN_2D, BlockTransform, Operator, block_levels, check_configurations,
                           check_operators, local_fields)
from ising.observables import jackknife

__all__ = ["FLOW_OPERATORS", "CouplingFit", "fit_couplings", "coupling_flow", "flow_critical_point"]

#: default operator set of the flow diagram: nn, nnn, plaquette
FLOW_OPERATORS = (EVEN_2D[0], EVEN_2D[1], EVEN_2D[3])


@dataclass
class CouplingFit:
    """Maximum-pseudo-likelihood couplings.

    Attributes
    ----------
    names : tuple of str
    couplings, errors : ndarray, shape (n_ops,)
        Estimates (jackknife bias-corrected when errors are computed) and jackknife errors
        (NaN when no error was computed).
    n_samples : int
    """

    names: tuple[str, ...]
    couplings: NDArray[np.float64]
    errors: NDArray[np.float64]
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (non-finite errors as None)."""
        return {"names": list(self.names),
                "couplings": [float(x) for x in self.couplings],
                "errors": [float(x) if math.isfinite(x) else None for x in self.errors],
                "n_samples": self.n_samples}


def _histograms(spins: NDArray[np.int8], operators: Sequence[Operator], groups: NDArray[np.int64],
                weights: NDArray[np.float64] | None = None, chunk: int = 256
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unique g-vectors (rows of ``g``) and their (weighted) counts per sample group.

    ``groups``: int array (n_samples,) of group indices 0..n_groups-1.  Returns ``g`` of shape
    (n_unique, n_ops) and ``counts`` of shape (n_groups, n_unique).
    """
    n = spins.shape[0]
    n_groups = int(groups.max()) + 1
    bound = np.array([sum(len(sh) for sh in op.shapes) for op in operators], dtype=np.int64)
    radix = 2 * bound + 1  # |f_alpha| <= bound_alpha
    mult = np.cumprod(np.concatenate([[1], radix[:-1]]))
    parts_k, parts_g, parts_c = [], [], []
    for start in range(0, n, chunk):
        s = spins[start:start + chunk]
        m = s.shape[0]
        f = local_fields(s, operators).reshape(m, len(operators), -1)  # (m, k, sites)
        g = f * s.reshape(m, 1, -1).astype(np.int16)
        keys = ((g.astype(np.int64) + bound[None, :, None]) * mult[None, :, None]).sum(axis=1)
        uk, inv = np.unique(keys, return_inverse=True)
        grp = np.repeat(groups[start:start + m], keys.shape[1])
        w = None if weights is None else np.repeat(weights[start:start + m], keys.shape[1])
        flat = np.bincount(grp * uk.size + inv.ravel(), weights=w, minlength=n_groups * uk.size)
        flat = flat.reshape(n_groups, uk.size)
        gi, ui = np.nonzero(flat)
        parts_k.append(uk[ui])
        parts_g.append(gi)
        parts_c.append(flat[gi, ui])
    allk = np.concatenate(parts_k)
    keys, inv = np.unique(allk, return_inverse=True)
    counts = np.bincount(np.concatenate(parts_g) * keys.size + inv, weights=np.concatenate(parts_c),
                         minlength=n_groups * keys.size).reshape(n_groups, keys.size)
    vectors = np.empty((keys.size, len(operators)), dtype=np.float64)
    rest = keys.copy()
    for a in range(len(operators)):
        vectors[:, a] = rest % radix[a] - bound[a]
        rest //= radix[a]
    return vectors, counts.astype(np.float64, copy=False)  # weighted counts: float64 already


def _groups(n: int, n_groups: int) -> NDArray[np.int64]:
    """Contiguous, nearly equal groups of n samples."""
    return (np.arange(n) * n_groups) // n


def _fit(g: NDArray[np.float64], weights: npt.ArrayLike,
         x0: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Maximise sum_u w_u [K.g_u - log 2cosh(K.g_u)] (concave) by a trust-region Newton method."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()

    def f(K: NDArray[np.float64]) -> float:
        h = g @ K
        return -float(w @ (h - np.logaddexp(h, -h)))

    def jac(K: NDArray[np.float64]) -> NDArray[np.float64]:
        h = g @ K
        return -(w * (1 - np.tanh(h))) @ g

    def hess(K: NDArray[np.float64]) -> NDArray[np.float64]:
        h = g @ K
        return (g * (w / np.cosh(h) ** 2)[:, None]).T @ g

    start = np.zeros(g.shape[1]) if x0 is None else x0
    res = minimize(f, start, jac=jac, hess=hess, method="trust-exact",
                   options={"gtol": 1e-10})
    if not np.all(np.isfinite(res.x)):
        raise ValueError("pseudo-likelihood fit did not converge (separable data: all spins "
                         "aligned with their local fields?)")
    return res.x


def fit_couplings(spins: npt.ArrayLike, operators: Sequence[Operator] = FLOW_OPERATORS, *,
                  n_blocks: int = 10, sample_weight: npt.ArrayLike | None = None) -> CouplingFit:
    """Couplings :math:`K_\\alpha` of :math:`P \\propto e^{\\sum K_\\alpha S_\\alpha}` by maximum
    pseudo-likelihood, with jackknife errors over contiguous blocks of samples.

    Parameters
    ----------
    spins : array_like, shape (n_samples, L, L) or (n_samples, L)
        Periodic +-1 configurations.
    operators : sequence of analysis.mcrg.Operator
        Default: nearest-neighbour, next-nearest-neighbour, plaquette.
    n_blocks : int, default 10
        Jackknife blocks (>= 2); ``0`` skips the errors (NaN).
    sample_weight : array_like, shape (n_samples,), optional
        Weights of the configurations (e.g. exact Boltzmann weights of an enumeration); forces
        ``n_blocks=0``.

    Returns
    -------
    CouplingFit
    """
    s = check_configurations(spins).astype(np.int8, copy=False)
    ops = tuple(operators)
    check_operators(ops, s)
    names = tuple(op.name for op in ops)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (s.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("sample_weight must be finite, >= 0, not all zero, one per sample")
        g, counts = _histograms(s, ops, np.zeros(s.shape[0], dtype=np.int64), weights=w)
        K = _fit(g, counts[0])
        return CouplingFit(names, K, np.full(K.shape, np.nan), int(s.shape[0]))
    if int(n_blocks) != n_blocks or n_blocks == 1 or n_blocks < 0 or n_blocks > s.shape[0]:
        raise ValueError(f"n_blocks must be 0 or an integer in [2, n_samples], got {n_blocks}")
    if n_blocks == 0:
        g, counts = _histograms(s, ops, np.zeros(s.shape[0], dtype=np.int64))
        K = _fit(g, counts[0])
        return CouplingFit(names, K, np.full(K.shape, np.nan), int(s.shape[0]))
    nb = int(n_blocks)
    g, counts = _histograms(s, ops, _groups(s.shape[0], nb))
    K0 = _fit(g, counts.sum(axis=0))
    values, errors = np.empty(K0.size), np.empty(K0.size)
    for a in range(K0.size):
        values[a], errors[a] = jackknife(lambda *m, a=a: _fit(g, np.asarray(m), K0)[a],
                                         *counts.T, n_blocks=nb)
    return CouplingFit(names, values, errors, int(s.shape[0]))


def coupling_flow(spins: npt.ArrayLike, transform: BlockTransform, levels: int,
                  operators: Sequence[Operator] = FLOW_OPERATORS, *, n_blocks: int = 10,
                  seed: int | np.random.SeedSequence | None = None) -> list[CouplingFit]:
    """Effective couplings at every RG level: ``[fit(s^(0)), fit(s^(1)), ..., fit(s^(levels))]``.

    Parameters
    ----------
    spins, transform, levels, seed
        As for :func:`analysis.mcrg.block_levels`.
    operators, n_blocks
        As for :func:`fit_couplings`.

    Returns
    -------
    list of CouplingFit
    """
    configs = block_levels(spins, transform, levels, seed=seed)
    return [fit_couplings(c, operators, n_blocks=n_blocks) for c in configs]


def flow_critical_point(starts: Sequence[float] | NDArray[np.floating],
                        flows: Sequence[Sequence[CouplingFit]], *, level: int = 0,
                        coupling: int = 0) -> dict[str, Any]:
    """Locate the critical fixed point from flows started at several couplings.

    Below the critical surface the nearest-neighbour coupling decreases under the RG and above
    it increases, so the step :math:`\\Delta_n(K_0) = K^{(n+1)}(K_0) - K^{(n)}(K_0)` changes sign
    at the critical starting coupling.  A weighted straight line through :math:`\\Delta_n(K_0)`
    gives the root :math:`K_0^*` (delta-method error), and the couplings of level ``n``
    interpolated linearly to :math:`K_0^*` estimate the fixed point :math:`K^*` on the truncated
    coupling space.

    Parameters
    ----------
    starts : sequence of float, length m (>= 2)
        Starting nearest-neighbour couplings.
    flows : sequence of list of CouplingFit
        ``flows[i]`` from :func:`coupling_flow` for ``starts[i]``.
    level : int
        The RG step ``level -> level + 1`` used.
    coupling : int
        Index of the coupling whose step is used (0 = the first operator, nn).

    Returns
    -------
    dict
        ``{"level", "K0_star", "K0_star_err", "fixed_point", "fixed_point_err", "names",
        "bracketed"}``; ``bracketed`` is False when the measured steps do not change sign over the
        starts (then the root is an extrapolation and should not be trusted).
    """
    k0 = np.asarray(starts, dtype=np.float64)
    if k0.size < 2 or len(flows) != k0.size:
        raise ValueError("need at least two starting couplings, one flow each")
    if any(len(f) < level + 2 for f in flows):
        raise ValueError(f"every flow needs levels {level} and {level + 1}")
    d = np.array([f[level + 1].couplings[coupling] - f[level].couplings[coupling] for f in flows])
    e = np.array([math.hypot(f[level + 1].errors[coupling], f[level].errors[coupling]) for f in flows])
    w = 1 / e ** 2 if np.all(np.isfinite(e) & (e > 0)) else np.ones_like(d)
    X = np.stack([np.ones_like(k0), k0 - k0.mean()], axis=1)
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = cov @ (X.T @ (w * d))
    if not np.all(np.isfinite(e) & (e > 0)):
        resid = d - X @ beta
        cov = cov * (resid @ resid / max(1, d.size - 2))
    a, slope = beta
    root = k0.mean() - a / slope if slope != 0 else math.nan
    grad = np.array([-1 / slope, a / slope ** 2])
    root_err = float(math.sqrt(grad @ cov @ grad)) if slope != 0 else math.nan
    Kl = np.array([f[level].couplings for f in flows])
    El = np.array([f[level].errors for f in flows])
    fixed: list[float] = []
    fixed_err: list[float] = []
    for c in range(Kl.shape[1]):
        p = np.polyfit(k0, Kl[:, c], 1)
        fixed.append(float(np.polyval(p, root)))
        # the nearest start's error and the slope times the root's error, in quadrature
        near = int(np.argmin(np.abs(k0 - root)))
        fixed_err.append(float(math.hypot(El[near, c] if np.isfinite(El[near, c]) else 0.0,
                                          p[0] * root_err)))
    bracketed = bool(np.any(d > 0) and np.any(d < 0))
    return {"level": int(level), "K0_star": float(root), "K0_star_err": root_err, "bracketed": bracketed,
            "names": list(flows[0][level].names), "fixed_point": fixed, "fixed_point_err": fixed_err}

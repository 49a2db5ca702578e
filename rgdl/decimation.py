r"""Exact RBM constructions of 1D Ising decimation, and the coupling flow they generate.

Mehta & Schwab (2014, Sec. IV) illustrate their exact mapping with the decimation of the 1D
Ising chain, :math:`\tanh K' = \tanh^2 K`, without writing down the RBM weights. This module
writes them down, in three constructions, and checks them with the enumeration tools of
:mod:`rgdl.variational` (KL divergence, trace condition, fitted coarse couplings).

Conventions: periodic chain of :math:`N` spins, :math:`H(v) = -K\sum_i v_i v_{i+1}`,
:math:`K = J/T`; RBM energy :math:`E = b\cdot h + vWh + c\cdot v`, :math:`p\propto e^{-E}`
(docs/CONTRACTS.md). All RBMs here use spin (:math:`\pm1`) units and zero biases.

Two identities carry every construction
---------------------------------------
1. Decimating one spin between two others:

   .. math:: \sum_{s=\pm1} e^{K s (a + b)} = 2\cosh K(a+b) = A\, e^{K' a b},\quad
             K' = \tfrac12\ln\cosh 2K = \operatorname{atanh}(\tanh^2 K),\quad A = 2\sqrt{\cosh 2K},

   (evaluate at :math:`a = b` and :math:`a = -b`: :math:`2\cosh 2K = A e^{K'}`, :math:`2 = A e^{-K'}`).
2. The same identity read backwards: a hidden spin :math:`h` coupled with weight :math:`w` to the
   two spins of a bond generates that bond, :math:`\sum_h e^{w h (a + \sigma b)} =
   2\sqrt{\cosh 2w}\; e^{\sigma K a b}` with :math:`K = \tfrac12\ln\cosh 2w`, i.e.
   :math:`w = \tfrac12\operatorname{arccosh} e^{2K} = K + \tfrac12\ln(1+\sqrt{1-e^{-4K}})`
   (:func:`bond_weight`); :math:`\sigma = \operatorname{sign} K` handles antiferromagnets.

Constructions
-------------
(a) :func:`bipartite_chain_rbm`: the periodic chain (N even) is bipartite, so its Boltzmann
    weight *is* an RBM between odd sites (visible) and even sites (hidden) with
    :math:`w_{ij} = -K` on every bond. By identity 1 its hidden marginal is exactly the decimated
    chain, :math:`H^{RBM}[h] = -K'\sum_j h_j h_{j+1} + \mathrm{const}`.
(b) :func:`soft_decimation_rbm`: an RBM whose *visible* layer is the whole chain. Hidden layer:
    N bond units (weight :math:`-w` to both spins of bond :math:`(i, i+1)`) that generate the
    chain exactly (identity 2), plus N/2 decimation units :math:`h_j` coupled to :math:`v_{2j}`
    with weight :math:`-\lambda`. Tracing the bond units leaves, up to a constant,
    :math:`e^{-H(v)}\prod_j e^{\lambda h_j v_{2j}}`, i.e. the soft-decimation operator
    :math:`T_\lambda = \sum_j[\lambda h_j v_{2j} - \ln 2\cosh\lambda]`
    (:func:`rgdl.variational.soft_decimation_operator`), which satisfies
    :math:`\operatorname{Tr}_h e^{T_\lambda} = 1` for every :math:`\lambda` and becomes hard
    decimation as :math:`\lambda\to\infty`; the coarse coupling approaches :math:`K'` with an
    error :math:`O(e^{-2\lambda})` once :math:`\lambda \gg 2|K|` (:func:`default_strength`).
    The visible marginal is exactly the chain, so
    :math:`\mathrm{KL}(P\|p_\lambda) = 0`; the only defect is a constant free-energy shift
    :math:`-N\ln(2e^{K}) - \tfrac N2\ln 2\cosh\lambda`, which an RBM (no constant in :math:`E`)
    cannot absorb.
(c) :func:`exact_flow`: stacking (b) — the exact coarse Hamiltonian of one step is the visible
    Hamiltonian of the next — reproduces :math:`K\to K'\to K''\to\dots\to 0`.

References
----------
P. Mehta and D. J. Schwab, arXiv:1410.3831 (2014), Sec. IV.
L. P. Kadanoff, "Scaling laws for Ising models near T_c", Physics 2, 263 (1966).
K. G. Wilson, Rev. Mod. Phys. 47, 773 (1975); D. R. Nelson and M. E. Fisher, "Soluble
renormalization groups and scaling fields for low-dimensional Ising systems",
Ann. Phys. 91, 226 (1975) (1D decimation).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from rbm.model import RBM
from rgdl import variational as var

log = logging.getLogger(__name__)

#: Largest chain handled by :func:`exact_flow` (enumerating 2**N visible x 2**(N/2) coarse states).
MAX_FLOW_SIZE = 16
#: Default soft-decimation margin: lambda = DEFAULT_STRENGTH + 2|K| (:func:`default_strength`).
DEFAULT_STRENGTH = 20.0


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _check_coupling(coupling: float, allow_negative: bool = False) -> float:
    try:
        k = float(coupling)
    except (TypeError, ValueError):
        raise ValueError(f"coupling must be a number, got {coupling!r}") from None
    if not math.isfinite(k):
        raise ValueError(f"coupling K must be finite, got {coupling}")
    if k <= 0 and not allow_negative:
        raise ValueError(f"coupling K must be > 0, got {k:g}")
    return k


def _check_even_size(n_spins: int, minimum: int = 4,
                     maximum: int = var.MAX_ENUMERATED_UNITS) -> int:
    if isinstance(n_spins, bool) or not isinstance(n_spins, (int, np.integer)):
        raise ValueError(f"chain size N must be an integer, got {n_spins!r}")
    n = int(n_spins)
    if n < minimum or n % 2:
        raise ValueError(f"chain size N must be even and >= {minimum}, got {n}")
    if n > maximum:
        raise ValueError(f"chain size N = {n} is too large to enumerate (at most {maximum})")
    return n


def default_strength(coupling: float) -> float:
    r"""Decimation-unit weight used when none is given: :math:`\lambda = 20 + 2|K|`.

    A decimation unit pins its spin against the two bonds (total :math:`2|K|`) that pull on it, so
    the coarse-coupling error is small only for :math:`\lambda \gg 2|K|`; measured (N = 8) it is
    below 1e-13 for :math:`\lambda = 20 + 2|K|` at every K tried (0.1 ... 1000), while a fixed
    :math:`\lambda = 20` fails from K ~ 10 on.
    """
    return DEFAULT_STRENGTH + 2.0 * abs(float(coupling))


def _check_strength(strength: float) -> float:
    lam = float(strength)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"decimation strength lambda must be finite and > 0, got {strength}")
    return lam


# --------------------------------------------------------------------------------------------
# analytic flow and weights
# --------------------------------------------------------------------------------------------
@overload
def decimated_coupling(coupling: float) -> float: ...


@overload
def decimated_coupling(coupling: NDArray[np.floating]) -> NDArray[np.float64]: ...


def decimated_coupling(coupling: float | NDArray[np.floating]) -> float | NDArray[np.float64]:
    r"""One decimation step of the 1D chain, :math:`K' = \operatorname{atanh}(\tanh^2 K)
    = \tfrac12\ln\cosh 2K`.

    Evaluated as :math:`|K| - \tfrac12\ln 2 + \tfrac12\ln(1 + e^{-4|K|})`, accurate for all K
    (also where :math:`\tanh^2 K` rounds to 1). Works on arrays.
    """
    k = np.abs(np.asarray(coupling, dtype=np.float64))
    out = k - 0.5 * math.log(2.0) + 0.5 * np.log1p(np.exp(-4.0 * k))
    return float(out) if out.ndim == 0 else out


def decimation_flow(coupling: float, steps: int) -> NDArray[np.float64]:
    r"""The decimation flow :math:`K_0 = K, K_{s+1} = \tfrac12\ln\cosh 2K_s`, ``steps + 1`` values.

    Flows to the trivial fixed point :math:`K^* = 0` (no finite-temperature transition in 1D).
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    out = [float(coupling)]
    for _ in range(int(steps)):
        out.append(decimated_coupling(out[-1]))
    return np.array(out)


def bond_weight(coupling: float) -> float:
    r"""Weight :math:`w \ge 0` of a hidden unit that generates a bond :math:`K`:
    :math:`\tfrac12\ln\cosh 2w = |K|`, i.e. :math:`w = |K| + \tfrac12\ln(1 + \sqrt{1 - e^{-4|K|}})`.

    (Mehta & Schwab 2014; the sign of K goes on one of the two weights, see
    :func:`soft_decimation_rbm`.)
    """
    k = abs(float(coupling))
    return k + 0.5 * math.log1p(math.sqrt(-math.expm1(-4.0 * k)))


def bipartite_chain_rbm(n_spins: int, coupling: float
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Construction (a): the periodic chain as an RBM between odd (visible) and even (hidden) sites.

    With :math:`v_i = s_{2i+1}`, :math:`h_j = s_{2j}` (:math:`M = N/2`),
    :math:`K\sum_i s_i s_{i+1} = K\sum_j h_j (v_j + v_{j-1})`, so :math:`e^{-H} = e^{-E}` with

    .. math:: w_{j,j} = w_{j,j+1 \bmod M} = -K, \qquad b = c = 0

    (weights accumulate, so for N = 2 the double bond gives :math:`-2K`). Summing the visible
    spins with identity 1 of the module docstring,
    :math:`H^{RBM}[h] = -\sum_j \ln 2\cosh K(h_j + h_{j+1}) = -K'\sum_j h_j h_{j+1} - M\ln A`,
    the decimated chain with :math:`K' = \tfrac12\ln\cosh 2K`.

    Parameters
    ----------
    n_spins : int
        Even chain length N >= 2.
    coupling : float
        K (any sign).

    Returns
    -------
    weights, visible_bias, hidden_bias : ndarray
        Shapes (N/2, N/2), (N/2,), (N/2,).
    """
    n = _check_even_size(n_spins, minimum=2, maximum=2 * var.MAX_ENUMERATED_UNITS)
    k = _check_coupling(coupling, allow_negative=True)
    m = n // 2
    w = np.zeros((m, m))
    for i in range(m):  # visible i = site 2i+1, between hidden i (site 2i) and i+1 (site 2i+2)
        w[i, i] -= k
        w[i, (i + 1) % m] -= k
    return w, np.zeros(m), np.zeros(m)


def soft_decimation_rbm(n_spins: int, coupling: float, strength: float | None = None
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                   NDArray[np.int64]]:
    r"""Construction (b): an RBM whose visible marginal is exactly the chain and whose
    decimation units realise the soft-decimation operator.

    Hidden units ``0 .. N-1`` are bond units, unit ``i`` coupled to sites ``i`` and ``i+1``:
    :math:`w_{i,i} = -w`, :math:`w_{i+1,i} = -\sigma w` with :math:`w` = :func:`bond_weight`
    and :math:`\sigma = \operatorname{sign}K`; hidden units ``N + j`` (``j < N/2``) are decimation
    units, :math:`w_{2j, N+j} = -\lambda`. All biases are zero. Then

    .. math:: \sum_h e^{-E(v,h)} = \prod_i 2\sqrt{\cosh 2w}\,e^{K v_i v_{i+1}}
              \prod_j 2\cosh\lambda = \mathrm{const}\cdot e^{-H(v)},

    so :math:`p_\lambda(v) = P(v)` exactly, and tracing only the bond units leaves
    :math:`\mathrm{const}\cdot e^{-H(v) + T_\lambda(v,h)}` with the soft-decimation operator.

    Returns
    -------
    weights, visible_bias, hidden_bias : ndarray
        Shapes (N, 3N/2), (N,), (3N/2,).
    decimation_units : ndarray of int
        Indices ``N .. 3N/2 - 1`` of the coarse (decimation) units; unit ``N + j`` sits on site 2j.
    """
    n = _check_even_size(n_spins, minimum=2, maximum=2 * var.MAX_ENUMERATED_UNITS)
    k = _check_coupling(coupling, allow_negative=True)
    lam = _check_strength(default_strength(k) if strength is None else strength)
    wb = bond_weight(k)
    sigma = 1.0 if k >= 0 else -1.0
    w = np.zeros((n, n + n // 2))
    for i in range(n):
        w[i, i] -= wb
        w[(i + 1) % n, i] -= sigma * wb
    for j in range(n // 2):
        w[2 * j, n + j] = -lam
    return w, np.zeros(n), np.zeros(n + n // 2), np.arange(n, n + n // 2)


# --------------------------------------------------------------------------------------------
# exact checks of the constructions
# --------------------------------------------------------------------------------------------
def chain_marginal(hamiltonian: npt.ArrayLike, keep: npt.ArrayLike) -> NDArray[np.float64]:
    r"""Exact marginal Hamiltonian :math:`-\log\sum_{s_{\bar K}} e^{-H(s)}` of the spins ``keep``.

    Brute force over all :math:`2^N` configurations (independent of any decimation identity).
    Returns an array over the :math:`2^{|K|}` configurations of the kept spins, in the order of
    :func:`rgdl.variational.spin_configurations` (kept spin ``a`` = bit ``a``).
    """
    h, n = var.as_hamiltonian(hamiltonian)
    keep = np.asarray(keep, dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), keep)
    k = np.arange(h.size, dtype=np.int64)
    kept_idx = (((k[:, None] >> keep[None, :]) & 1) << np.arange(keep.size)[None, :]).sum(axis=1)
    rest_idx = (((k[:, None] >> rest[None, :]) & 1) << np.arange(rest.size)[None, :]).sum(axis=1)
    table = np.full((1 << keep.size, 1 << rest.size), -np.inf)
    table[kept_idx, rest_idx] = -h
    return -logsumexp(table, axis=1)


@dataclass
class ConstructionCheck:
    r"""Exactness measures of one constructed RBM RG step (all by enumeration).

    Attributes
    ----------
    coupling : float
        Fine coupling K.
    coupling_exact : float
        :math:`K' = \operatorname{atanh}\tanh^2 K`.
    coupling_fit : float
        Nearest-neighbour coupling fitted to the coarse Hamiltonian.
    coupling_error : float
        ``coupling_fit - coupling_exact``.
    fit_residual : float
        Max residual of the coupling fit (0 if the coarse Hamiltonian is exactly nearest-neighbour).
    other_terms : dict
        The other fitted couplings (field, nnn) — should vanish.
    kl_per_spin : float
        :math:`\mathrm{KL}(P\|p_\lambda)` per visible spin, nats.
    trace_residual : float
        :math:`\max_v|\log\operatorname{Tr}_h e^{T}|` of the RG operator realised (NaN if n/a).
    marginal_error : float
        Max deviation (up to a constant) between the RBM's coarse Hamiltonian and an independent
        brute-force computation (decimated-chain marginal, or the operator's :math:`H^{RG}`).
    strength : float or None
        :math:`\lambda` for construction (b).
    """

    coupling: float
    coupling_exact: float
    coupling_fit: float
    coupling_error: float
    fit_residual: float
    other_terms: dict[str, float]
    kl_per_spin: float
    trace_residual: float
    marginal_error: float
    strength: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _const_free_diff(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    d = np.asarray(a) - np.asarray(b)
    return float(np.max(np.abs(d - d.mean())))


def _fit_summary(hamiltonian: npt.ArrayLike, n_coarse: int
                 ) -> tuple[var.CouplingFit, dict[str, float]]:
    fit = var.fit_couplings(hamiltonian, (n_coarse,))
    others = {t: v for t, v in fit.couplings.items() if t != "nn"}
    return fit, others


def check_bipartite_construction(n_spins: int, coupling: float) -> ConstructionCheck:
    r"""Verify construction (a) by enumeration.

    * KL between the exact odd-site marginal of the N-spin chain (brute force over :math:`2^N`)
      and the RBM's visible marginal (0 expected);
    * the RBM's hidden Hamiltonian versus the brute-force even-site marginal (equal up to a
      constant);
    * the coupling fitted to :math:`H^{RBM}[h]` versus :math:`K'`.
    """
    n = _check_even_size(n_spins, minimum=4, maximum=var.MAX_ENUMERATED_UNITS)
    k = _check_coupling(coupling, allow_negative=True)
    w, c, b = bipartite_chain_rbm(n, k)
    h_chain = var.ising_hamiltonian((n,), k)
    odd = chain_marginal(h_chain, np.arange(1, n, 2))
    even = chain_marginal(h_chain, np.arange(0, n, 2))
    h_rbm = var.rbm_hidden_hamiltonian(w, c, b, "spin")
    fit, others = _fit_summary(h_rbm, n // 2)
    kp = decimated_coupling(k)
    return ConstructionCheck(coupling=k, coupling_exact=kp, coupling_fit=fit["nn"],
                             coupling_error=fit["nn"] - kp, fit_residual=fit.residual_max,
                             other_terms=others, kl_per_spin=var.kl_divergence(odd, w, c, b, "spin"),
                             trace_residual=float("nan"),
                             marginal_error=_const_free_diff(h_rbm, even))


def check_soft_decimation_construction(n_spins: int, coupling: float,
                                       strength: float | None = None) -> ConstructionCheck:
    r"""Verify construction (b) by enumeration.

    * KL between the chain and the RBM's visible marginal (0 expected);
    * the trace residual of the soft-decimation operator :math:`T_\lambda` (0 for every λ);
    * the RBM's coarse Hamiltonian (visible and bond units traced) versus :math:`H^{RG}_\lambda`
      of the operator (equal up to a constant);
    * the fitted coarse coupling versus :math:`K'` (error :math:`O(e^{-2\lambda})`).
    """
    n = _check_even_size(n_spins, minimum=4, maximum=MAX_FLOW_SIZE)
    k = _check_coupling(coupling, allow_negative=True)
    lam = _check_strength(default_strength(k) if strength is None else strength)
    w, c, b, dec = soft_decimation_rbm(n, k, lam)
    h_chain = var.ising_hamiltonian((n,), k)
    cg = var.coarse_grain(h_chain, var.soft_decimation_operator(n, lam))
    h_rbm = var.rbm_hidden_hamiltonian(w, c, b, "spin", keep=dec)
    fit, others = _fit_summary(h_rbm, n // 2)
    kp = decimated_coupling(k)
    return ConstructionCheck(coupling=k, coupling_exact=kp, coupling_fit=fit["nn"],
                             coupling_error=fit["nn"] - kp, fit_residual=fit.residual_max,
                             other_terms=others, kl_per_spin=var.kl_divergence(h_chain, w, c, b, "spin"),
                             trace_residual=cg.trace_residual,
                             marginal_error=_const_free_diff(h_rbm, cg.hamiltonian), strength=lam)


def strength_dependence(n_spins: int, coupling: float,
                        strengths: Iterable[float]) -> list[ConstructionCheck]:
    r"""Construction (b) over a range of :math:`\lambda`: the coarse-coupling error
    :math:`|K(\lambda) - K'|` decays like :math:`e^{-2\lambda}` while KL and the trace residual
    stay 0."""
    return [check_soft_decimation_construction(n_spins, coupling, lam) for lam in strengths]


# --------------------------------------------------------------------------------------------
# the flow
# --------------------------------------------------------------------------------------------
@dataclass
class FlowStep:
    """One RG step of :func:`exact_flow` (keys of ``rgdl flow1d --json``)."""

    step: int
    size: int
    K_decimation: float
    K_rbm_exact: float
    kl_per_spin: float
    trace_residual: float
    fit_residual: float
    K_majority: float | None = None
    majority_fit_residual: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d = {k: v for k, v in d.items() if v is not None}
        d.update(extra)
        return d


def check_flow_arguments(coupling: float, size: int, steps: int) -> tuple[float, int, int]:
    """Validate ``(K, N, steps)`` for :func:`exact_flow`; returns them normalised."""
    k = _check_coupling(coupling)
    n = _check_even_size(size, minimum=4, maximum=MAX_FLOW_SIZE)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    steps = int(steps)
    if n % (1 << steps) or n >> steps < 2:
        raise ValueError(f"{steps} halving steps need N divisible by 2**{steps} with N/2**{steps} >= 2; "
                         f"got N = {n}")
    return k, n, steps


def exact_flow(coupling: float, size: int, steps: int, strength: float | None = None,
               majority: bool = True,
               progress: Callable[[FlowStep], object] | None = None) -> list[FlowStep]:
    r"""Construction (c): stack exact RBM decimation steps and compare with the analytic flow.

    Step :math:`s` takes the exact Hamiltonian :math:`H_{s-1}` of a periodic chain of
    :math:`N_{s-1} = N/2^{s-1}` spins (step 1: the Ising chain with coupling K), builds the
    soft-decimation RBM of construction (b) with the nearest-neighbour coupling fitted to
    :math:`H_{s-1}`, and computes by enumeration

    * ``kl_per_spin``: :math:`\mathrm{KL}(e^{-H_{s-1}}/Z\,\|\,p_\lambda(v))` per spin;
    * ``trace_residual`` of the soft-decimation operator on :math:`H_{s-1}`;
    * :math:`H_s` = the RBM's coarse Hamiltonian (visible and bond units traced), and the
      coupling ``K_rbm_exact`` fitted to it, with its ``fit_residual``;
    * ``K_decimation``: the analytic :math:`K_s` of :func:`decimation_flow`;
    * with ``majority``: the same chain coarse-grained exactly by majority rule (blocks of 2,
      coin-flip ties, :func:`rgdl.variational.majority_operator`), stacked the same way, and its
      fitted coupling ``K_majority``.

    Parameters
    ----------
    coupling : float
        K > 0.
    size : int
        Even N <= MAX_FLOW_SIZE, divisible by ``2**steps`` with ``N / 2**steps >= 2``.
    steps : int
        Number of halving steps, >= 1.
    strength : float, optional
        :math:`\lambda` of the decimation units; default :func:`default_strength` of K.
    majority : bool
    progress : callable, optional
        Called with the finished :class:`FlowStep` after each step.

    Returns
    -------
    list of FlowStep
    """
    k, n, steps = check_flow_arguments(coupling, size, steps)
    lam = _check_strength(default_strength(k) if strength is None else strength)
    flow = decimation_flow(k, steps)
    h_fine = var.ising_hamiltonian((n,), k)
    h_maj = h_fine
    k_fine = k
    out = []
    for s in range(1, steps + 1):
        w, c, b, dec = soft_decimation_rbm(n, k_fine, lam)
        kl = var.kl_divergence(h_fine, w, c, b, "spin")
        trace = var.coarse_grain(h_fine, var.soft_decimation_operator(n, lam)).trace_residual
        h_coarse = var.rbm_hidden_hamiltonian(w, c, b, "spin", keep=dec)
        fit = var.fit_couplings(h_coarse, (n // 2,))
        step = FlowStep(step=s, size=n // 2, K_decimation=float(flow[s]), K_rbm_exact=fit["nn"],
                        kl_per_spin=kl, trace_residual=trace, fit_residual=fit.residual_max)
        if majority:
            h_maj = var.coarse_grain(h_maj, var.majority_operator((n,), 2)).hamiltonian
            mfit = var.fit_couplings(h_maj, (n // 2,))
            step.K_majority = mfit["nn"]
            step.majority_fit_residual = mfit.residual_max
        log.info("step %d: N=%d K_dec=%.12g K_rbm=%.12g KL=%.3g", s, n // 2, step.K_decimation,
                 step.K_rbm_exact, kl)
        out.append(step)
        if progress is not None:
            progress(step)
        h_fine, k_fine, n = h_coarse, fit["nn"], n // 2
    return out


# --------------------------------------------------------------------------------------------
# learned RG steps
# --------------------------------------------------------------------------------------------
def align_hidden_units(weights: npt.ArrayLike, hidden_bias: npt.ArrayLike,
                       shape: int | Sequence[int], coarse_shape: int | Sequence[int]
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64],
                                  NDArray[np.float64]]:
    r"""Put a learned RBM's hidden units on a coarse lattice and fix their sign gauge.

    A trained RBM's hidden units carry no site labels, and :math:`(h_j, w_{\cdot j}, b_j) \to
    (-h_j, -w_{\cdot j}, -b_j)` leaves the model unchanged. To read translation-invariant
    couplings off its hidden layer (as Mehta & Schwab read block spins off receptive fields),
    each unit's receptive field :math:`w_{ij}^2` is given a centre on the periodic fine lattice
    (circular mean per axis); units are matched one-to-one to the sites of the coarse lattice
    (spacing :math:`b = L/l`, all :math:`b^d` grid offsets tried) by minimising the summed squared
    periodic distance (Hungarian algorithm); each unit is then flipped so that its largest weight
    is negative, i.e. :math:`h_j` aligns with the spins it sees (:math:`-E \ni -v_i w_{ij} h_j`).

    Parameters
    ----------
    weights : ndarray (n_visible, n_hidden)
    hidden_bias : ndarray (n_hidden,)
    shape, coarse_shape : tuple
        Fine and coarse periodic lattices, same dimension, ``prod(coarse_shape) == n_hidden``.

    Returns
    -------
    weights, hidden_bias : ndarray
        Columns permuted to the coarse sites (C order) and sign-fixed.
    permutation, signs : ndarray
        ``weights_out = weights[:, permutation] * signs``.
    """
    w = np.asarray(weights, dtype=np.float64)
    b = np.asarray(hidden_bias, dtype=np.float64)
    shape = var.lattice_shape(shape)
    coarse_shape = tuple(int(x) for x in np.atleast_1d(coarse_shape))
    if (len(coarse_shape) != len(shape) or any(s % c for s, c in zip(shape, coarse_shape))
            or w.shape != (int(np.prod(shape)), int(np.prod(coarse_shape))) or b.shape != (w.shape[1],)):
        raise ValueError(f"weights {w.shape} do not map a lattice {shape} onto a coarse lattice {coarse_shape}")
    r = (w ** 2).T.reshape((w.shape[1],) + shape)
    centre_list = []
    for axis, length in enumerate(shape):
        x = np.arange(length) * 2 * np.pi / length
        bshape = [1] * (len(shape) + 1)
        bshape[axis + 1] = length
        cos = (r * np.cos(x).reshape(bshape)).sum(axis=tuple(range(1, r.ndim)))
        sin = (r * np.sin(x).reshape(bshape)).sum(axis=tuple(range(1, r.ndim)))
        centre_list.append(np.mod(np.arctan2(sin, cos) * length / (2 * np.pi), length))
    centres = np.stack(centre_list, axis=1)  # (n_hidden, d)
    spacing = [s // c for s, c in zip(shape, coarse_shape)]
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in coarse_shape], indexing="ij"), -1).reshape(-1, len(shape))
    best: tuple[float, NDArray[np.int64]] | None = None
    for offset in np.ndindex(*spacing):
        sites = grid * np.array(spacing) + np.array(offset)
        d = np.abs(centres[:, None, :] - sites[None, :, :])
        d = np.minimum(d, np.array(shape) - d)
        cost = (d ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        total = cost[rows, cols].sum()
        if best is None or total < best[0] - 1e-12:
            perm = np.empty(w.shape[1], dtype=np.int64)
            perm[cols] = rows
            best = (total, perm)
    assert best is not None  # np.ndindex(*spacing) yields at least one offset
    perm = best[1]
    wp = w[:, perm]
    signs = -np.sign(wp[np.argmax(np.abs(wp), axis=0), np.arange(wp.shape[1])])
    signs[signs == 0] = 1.0
    return wp * signs, b[perm] * signs, perm, signs


#: Training settings of the learned layers (CD-1). Measured on N = 16 chains at K = 0.5, 1.0:
#: the linearly decaying learning rate lowers KL(P || p) per spin about tenfold (0.02 -> 0.002)
#: against a constant rate; the small L1 penalty (Mehta & Schwab used 2e-4) keeps fields local.
DEFAULT_RBM_PARAMS: dict[str, Any] = dict(
    units="spin", learning_rate=0.05, learning_rate_schedule="linear", final_learning_rate=0.002,
    batch_size=50, l1=1e-3, dtype="float64", flip_augmentation=True, monitor_size=0)


def _seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(seed)


def _train_rbm(data: NDArray[np.int8], n_hidden: int, epochs: int,
               seed: int | np.random.SeedSequence | None,
               rbm_params: Mapping[str, Any] | None) -> RBM:
    params = dict(DEFAULT_RBM_PARAMS, n_iter=epochs, random_state=seed)
    params.update(rbm_params or {})
    return RBM(n_components=n_hidden, **params).fit(data)


def learned_layer(hamiltonian: npt.ArrayLike, shape: int | Sequence[int],
                  coarse_shape: int | Sequence[int], *, epochs: int = 30, n_samples: int = 10000,
                  seed: int | np.random.SeedSequence | None = None,
                  rbm_params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    r"""Train one RBM layer on exact samples of ``hamiltonian`` and measure it as an RG step.

    Draws ``n_samples`` exact samples (:func:`rgdl.variational.sample_exact`), trains an
    :class:`rbm.model.RBM` (:data:`DEFAULT_RBM_PARAMS`, CD-1; ``rbm_params`` override), aligns its
    hidden units to ``coarse_shape`` (:func:`align_hidden_units`), and computes by enumeration

    * ``kl_per_spin``: :math:`\mathrm{KL}(P\|p_\lambda(v))` per visible spin (0 = exact RG step);
    * ``fit``: couplings of the RBM's hidden Hamiltonian :math:`H^{RBM}_\lambda[h]`
      (= :math:`H^{RG}_\lambda` of Mehta & Schwab's :math:`T = -E + H`, their Eq. 21);
    * ``encoder_fit``: couplings of :math:`-\log\sum_v P(v)p_\lambda(h|v)`, the distribution of
      the hidden activations driven by the data (the encoder as an exact-trace RG operator,
      :func:`rgdl.variational.rbm_encoder_operator`), returned as ``encoder_hamiltonian``.

    Returns
    -------
    dict with keys ``kl_per_spin``, ``fit``, ``encoder_fit`` (:class:`CouplingFit`),
    ``encoder_hamiltonian``, ``weights``, ``visible_bias``, ``hidden_bias`` (aligned), ``seconds``.
    """
    h_fine, n = var.as_hamiltonian(hamiltonian)
    shape = var.lattice_shape(shape)
    coarse_shape = var.lattice_shape(coarse_shape)
    if int(np.prod(shape)) != n:
        raise ValueError(f"hamiltonian has 2**{n} entries but shape {shape} has {int(np.prod(shape))} spins")
    seeds = _seed_sequence(seed).spawn(2)
    t0 = time.perf_counter()
    data = var.sample_exact(h_fine, n_samples, seed=seeds[0])
    model = _train_rbm(data, int(np.prod(coarse_shape)), epochs, seeds[1], rbm_params)
    w, b, _, _ = align_hidden_units(model.weights_, model.hidden_bias_, shape, coarse_shape)
    c = np.asarray(model.visible_bias_, dtype=np.float64)
    h_rbm = var.rbm_hidden_hamiltonian(w, c, b, "spin")
    h_enc = var.coarse_grain(h_fine, var.rbm_encoder_operator(w, c, b, "spin")).hamiltonian
    return dict(kl_per_spin=var.kl_divergence(h_fine, w, c, b, "spin"),
                fit=var.fit_couplings(h_rbm, coarse_shape),
                encoder_fit=var.fit_couplings(h_enc, coarse_shape),
                encoder_hamiltonian=h_enc, weights=w, visible_bias=c, hidden_bias=b,
                seconds=time.perf_counter() - t0)


def learned_flow(coupling: float, size: int, steps: int, *, epochs: int = 30, n_samples: int = 10000,
                 seed: int | np.random.SeedSequence | None = None,
                 rbm_params: Mapping[str, Any] | None = None,
                 progress: Callable[[dict[str, Any]], object] | None = None
                 ) -> list[dict[str, Any]]:
    r"""A learned RG flow: a greedy stack of RBMs (N -> N/2 -> ...) trained on exact samples.

    Layer 1 is trained on exact samples of the periodic chain (K, N); layer ``s + 1`` on exact
    samples of the coarse distribution that layer ``s``'s encoder produces from its own exact
    input distribution (:func:`learned_layer`), as in a deep belief net. Per step returns a dict
    with ``K_learned`` (nearest-neighbour coupling of :math:`H^{RBM}[h]`, Eq. 21),
    ``K_learned_encoder`` (of the encoder's coarse distribution), ``kl_per_spin_learned``,
    ``learned_fit_residual`` / ``encoder_fit_residual`` (max residuals of those fits over all
    configurations), ``learned_fit_residual_weighted`` (Boltzmann-weighted RMS residual),
    ``learned_couplings`` / ``encoder_couplings`` (all fitted terms) and ``learned_seconds``.
    Compare with :func:`decimation_flow`: a learned step need not be decimation (Mehta & Schwab
    find block-spin-like receptive fields), so the difference is a measurement, not an error.
    """
    k, n, steps = check_flow_arguments(coupling, size, steps)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    seeds = _seed_sequence(seed).spawn(steps)
    h_fine = var.ising_hamiltonian((n,), k)
    out = []
    for s in range(1, steps + 1):
        layer = learned_layer(h_fine, (n,), (n // 2,), epochs=epochs, n_samples=n_samples,
                              seed=seeds[s - 1], rbm_params=rbm_params)
        row = dict(step=s, K_learned=layer["fit"]["nn"], K_learned_encoder=layer["encoder_fit"]["nn"],
                   kl_per_spin_learned=layer["kl_per_spin"],
                   learned_fit_residual=layer["fit"].residual_max,
                   learned_fit_residual_weighted=layer["fit"].residual_weighted,
                   encoder_fit_residual=layer["encoder_fit"].residual_max,
                   learned_couplings=dict(layer["fit"].couplings),
                   encoder_couplings=dict(layer["encoder_fit"].couplings),
                   learned_seconds=layer["seconds"])
        log.info("learned step %d: K_learned=%.4f K_encoder=%.4f KL/spin=%.3g (%.1fs)", s,
                 row["K_learned"], row["K_learned_encoder"], row["kl_per_spin_learned"], layer["seconds"])
        out.append(row)
        if progress is not None:
            progress(row)
        h_fine, n = layer["encoder_hamiltonian"], n // 2
    return out


def compare_2d(coupling: float, size: int = 4, block: int = 2, *, epochs: int = 30,
               n_samples: int = 10000, seed: int | np.random.SeedSequence | None = None,
               rbm_params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    r"""Couplings generated on a small 2D lattice by majority rule versus a trained RBM layer.

    The periodic ``size x size`` Ising model at coupling K is coarse-grained to
    ``(size/block)^2`` spins (default 4x4 -> 2x2) (i) exactly by majority rule (blocks of
    ``block x block``, coin-flip ties; Kadanoff 1966) and (ii) by an RBM trained on exact samples
    (:func:`learned_layer`). Each coarse Hamiltonian is fitted with field, nearest-neighbour,
    next-nearest-neighbour and plaquette couplings (:func:`rgdl.variational.fit_couplings`).

    Returns
    -------
    dict with ``majority``, ``learned`` (:math:`H^{RBM}`), ``learned_encoder`` (each a dict of
    couplings plus ``residual_max``), ``kl_per_spin_learned``, ``seconds``.
    """
    k = _check_coupling(coupling)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2 or size * size > 16:
        raise ValueError(f"2D size must be an integer with 2 <= size and size**2 <= 16, got {size!r}")
    if block < 2 or size % block or size // block < 2:
        raise ValueError(f"block {block} must divide size {size} into at least 2 x 2 blocks")
    shape = (size, size)
    coarse = (size // block, size // block)
    h = var.ising_hamiltonian(shape, k)
    maj = var.fit_couplings(var.coarse_grain(h, var.majority_operator(shape, block)).hamiltonian, coarse)
    layer = learned_layer(h, shape, coarse, epochs=epochs, n_samples=n_samples, seed=seed,
                          rbm_params=rbm_params)

    def pack(fit: var.CouplingFit) -> dict[str, float]:
        return dict(fit.couplings, residual_max=fit.residual_max)

    return dict(coupling=k, shape=shape, coarse_shape=coarse, majority=pack(maj),
                learned=pack(layer["fit"]), learned_encoder=pack(layer["encoder_fit"]),
                kl_per_spin_learned=layer["kl_per_spin"], seconds=layer["seconds"])

r"""Exact enumeration for the variational RG: configurations, Ising Hamiltonians, coupling fits.

For systems small enough to enumerate (up to about 20 spins) this module tabulates a
dimensionless Hamiltonian :math:`H(s)` over all :math:`2^N` configurations (Boltzmann weight
:math:`e^{-H}`, docs/CONTRACTS.md), computes its exact ``log Z``, probabilities and samples, and
reads translation-invariant couplings off it by least squares (:func:`fit_couplings`). The
variational-RG steps that act on such tables are in :mod:`rgdl.rg_operators`; the formalism is
described in :mod:`rgdl.variational`.

Enumeration order
-----------------
All functions index configurations of ``n`` units by an integer ``k`` in ``[0, 2**n)``; unit ``i``
of configuration ``k`` is "up" (+1 spin, 1 binary) iff bit ``i`` of ``k`` is set
(:func:`spin_configurations`). A Hamiltonian over ``n`` spins is therefore a float array of
length ``2**n``, the same for spin and binary units. Lattice shapes are ``(L,)`` (periodic chain)
or ``(L, M)`` (periodic 2D), flattened in C order.

References
----------
K. G. Wilson, "The renormalization group: critical phenomena and the Kondo problem",
Rev. Mod. Phys. 47, 773 (1975).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray
from scipy.special import logsumexp

from rbm import maths

__all__ = ["MAX_ENUMERATED_UNITS", "CHUNK_ENTRIES", "check_count", "spin_configurations",
           "n_units_of_table", "as_hamiltonian", "lattice_shape", "lattice_features",
           "ising_hamiltonian", "log_partition", "boltzmann_probabilities", "sample_exact",
           "configuration_index", "CouplingFit", "default_terms", "fit_couplings"]

#: Largest number of units enumerated in one configuration list (2**24 rows of int8).
MAX_ENUMERATED_UNITS = 24
#: Largest joint table (visible configurations x one chunk of hidden configurations) built at once.
CHUNK_ENTRIES = 1 << 21

_TERMS_1D = ("field", "nn", "nnn")
_TERMS_2D = ("field", "nn", "nnn", "plaquette")


# --------------------------------------------------------------------------------------------
# enumeration helpers
# --------------------------------------------------------------------------------------------
def check_count(n: int | np.integer, what: str = "number of units",
                limit: int = MAX_ENUMERATED_UNITS) -> int:
    """``n`` as an int in ``[1, limit]`` (ValueError naming ``what`` otherwise)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"{what} must be >= 1, got {n}")
    if n > limit:
        raise ValueError(f"{what} = {n} is too large to enumerate (at most {limit})")
    return n


def spin_configurations(n: int, units: str = "spin") -> NDArray[np.int8]:
    """All ``2**n`` configurations of ``n`` two-state units.

    Parameters
    ----------
    n : int
        Number of units, ``1 <= n <= MAX_ENUMERATED_UNITS``.
    units : {"spin", "binary"}
        ``"spin"`` gives values in {-1, +1}, ``"binary"`` in {0, 1}.

    Returns
    -------
    ndarray of int8, shape (2**n, n)
        Row ``k`` has unit ``i`` up iff bit ``i`` of ``k`` is set.
    """
    n = check_count(n)
    return maths.configurations(n, maths.check_units(units), dtype=np.int8)


def n_units_of_table(length: int, what: str) -> int:
    """``n`` with ``2**n == length``: the number of units of a table over all configurations."""
    n = int(length).bit_length() - 1
    if length < 2 or (1 << n) != length:
        raise ValueError(f"{what} must have length 2**n (one entry per configuration), got {length}")
    return n


def as_hamiltonian(hamiltonian: npt.ArrayLike,
                   what: str = "hamiltonian") -> tuple[NDArray[np.float64], int]:
    """A Hamiltonian table as float64 and its number of spins (ValueError if malformed)."""
    arr = np.asarray(hamiltonian, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array over all configurations, got shape {arr.shape}")
    n = n_units_of_table(arr.size, what)
    if np.isnan(arr).any() or np.isneginf(arr).any():
        raise ValueError(f"{what} must not contain NaN or -inf")
    return arr, n


def lattice_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """``shape`` as ``(L,)`` or ``(L, M)`` with sides >= 2 (ValueError otherwise)."""
    try:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (L,) or (L, M) of integers, got {shape!r}") from None
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise ValueError(f"shape must be (L,) or (L, M) with sides >= 2, got {shape}")
    return shape


# --------------------------------------------------------------------------------------------
# Ising Hamiltonians and lattice features
# --------------------------------------------------------------------------------------------
def lattice_features(configs: npt.ArrayLike, shape: int | Sequence[int],
                     terms: Iterable[str]) -> NDArray[np.float64]:
    r"""Translation-invariant spin products summed over a periodic lattice.

    For each configuration returns one column per term:

    * ``"field"``: :math:`\sum_i s_i`;
    * ``"nn"``: 1D :math:`\sum_i s_i s_{i+1}`; 2D :math:`\sum_i s_i(s_{i+\hat x} + s_{i+\hat y})`;
    * ``"nnn"``: 1D :math:`\sum_i s_i s_{i+2}`; 2D :math:`\sum_i s_i(s_{i+\hat x+\hat y} +
      s_{i+\hat x-\hat y})`;
    * ``"plaquette"`` (2D): :math:`\sum_i s_i s_{i+\hat x} s_{i+\hat y} s_{i+\hat x+\hat y}`.

    Sums run over all sites with periodic wrap (``np.roll``), so on a side of length 2 a bond is
    counted twice, exactly as the periodic Hamiltonian of docs/CONTRACTS.md counts it.

    Parameters
    ----------
    configs : ndarray, shape (n_conf, prod(shape))
        Spin configurations in {-1, +1}.
    shape : tuple
        ``(L,)`` or ``(L, M)``.
    terms : sequence of str

    Returns
    -------
    ndarray of float64, shape (n_conf, len(terms))
    """
    shape = lattice_shape(shape)
    s: NDArray[np.float64] = np.asarray(configs, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != int(np.prod(shape)):
        raise ValueError(f"configs must have shape (n_conf, {int(np.prod(shape))}), got {s.shape}")
    s = s.reshape((s.shape[0], *shape))
    axes = tuple(range(1, s.ndim))
    allowed = _TERMS_1D if len(shape) == 1 else _TERMS_2D
    cols = []
    for term in terms:
        if term not in allowed:
            raise ValueError(f"unknown coupling term {term!r} for a {len(shape)}D lattice; "
                             f"choose from {allowed}")
        if term == "field":
            prod = s
        elif len(shape) == 1:
            shift = 1 if term == "nn" else 2
            prod = s * np.roll(s, -shift, axis=1)
        elif term == "nn":
            prod = s * (np.roll(s, -1, axis=1) + np.roll(s, -1, axis=2))
        elif term == "nnn":
            down = np.roll(s, -1, axis=1)
            prod = s * (np.roll(down, -1, axis=2) + np.roll(down, 1, axis=2))
        else:  # plaquette
            right = np.roll(s, -1, axis=2)
            down = np.roll(s, -1, axis=1)
            prod = s * right * down * np.roll(right, -1, axis=1)
        cols.append(prod.sum(axis=axes))
    return np.stack(cols, axis=1) if cols else np.zeros((s.shape[0], 0))


def ising_hamiltonian(shape: int | Sequence[int], coupling: float, field: float = 0.0,
                      next_coupling: float = 0.0) -> NDArray[np.float64]:
    r"""Dimensionless periodic Ising Hamiltonian over all configurations of a small lattice.

    .. math:: H(s) = -K \sum_{\langle ij\rangle} s_i s_j - K_2 \sum_{\langle\langle ij\rangle\rangle}
              s_i s_j - h \sum_i s_i,

    with :math:`K = J/T` (``coupling``), :math:`h` = field/T and the sums of
    :func:`lattice_features` (docs/CONTRACTS.md conventions). Weight :math:`e^{-H}`.

    Returns
    -------
    ndarray of float64, shape (2**N,), N = prod(shape), in the order of :func:`spin_configurations`.
    """
    shape = lattice_shape(shape)
    for name, value in (("coupling", coupling), ("field", field), ("next_coupling", next_coupling)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    n = int(np.prod(shape))
    configs = spin_configurations(n)
    phi = lattice_features(configs, shape, ("nn", "nnn", "field"))
    return -(coupling * phi[:, 0] + next_coupling * phi[:, 1] + field * phi[:, 2])


def log_partition(hamiltonian: npt.ArrayLike) -> float:
    """``log Z = log sum_s exp(-H(s))`` of a Hamiltonian given over all configurations."""
    arr, _ = as_hamiltonian(hamiltonian)
    return float(logsumexp(-arr))


def boltzmann_probabilities(hamiltonian: npt.ArrayLike) -> NDArray[np.float64]:
    """Exact Boltzmann probabilities ``exp(-H)/Z`` over all configurations."""
    arr, _ = as_hamiltonian(hamiltonian)
    return np.exp(-arr - logsumexp(-arr))


def sample_exact(hamiltonian: npt.ArrayLike, n_samples: int,
                 seed: int | np.random.SeedSequence | None = None,
                 units: str = "spin") -> NDArray[np.int8]:
    """Independent exact samples from ``exp(-H)/Z`` by enumeration.

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**n,)
    n_samples : int
    seed : int, SeedSequence or None
        Seeds a private ``numpy.random.default_rng``; no global state is used.
    units : {"spin", "binary"}

    Returns
    -------
    ndarray of int8, shape (n_samples, n)
    """
    arr, n = as_hamiltonian(hamiltonian)
    maths.check_units(units)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(boltzmann_probabilities(arr))
    idx = np.searchsorted(cdf, rng.random(int(n_samples)) * cdf[-1], side="right")
    idx = np.minimum(idx, arr.size - 1)
    bits = ((idx[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int8)
    return bits if units == "binary" else (2 * bits - 1).astype(np.int8)


def configuration_index(configs: npt.ArrayLike) -> NDArray[np.int64]:
    """Inverse of :func:`spin_configurations`: the integer index of each row (spin or binary)."""
    c = np.asarray(configs)
    if c.ndim != 2:
        raise ValueError(f"configs must be 2-D (n_conf, n), got shape {c.shape}")
    up = (c > 0).astype(np.int64)
    return (up << np.arange(c.shape[1], dtype=np.int64)[None, :]).sum(axis=1)


# --------------------------------------------------------------------------------------------
# coupling extraction
# --------------------------------------------------------------------------------------------
@dataclass
class CouplingFit:
    r"""Least-squares effective Hamiltonian :math:`H \approx H_0 - \sum_a K_a \phi_a(s)`.

    Attributes
    ----------
    couplings : dict
        Term name -> dimensionless coupling :math:`K_a` (positive = ferromagnetic / field up).
    constant : float
        :math:`H_0`.
    residual_max, residual_rms : float
        Max and root-mean-square of :math:`H - H_{fit}` over all configurations (uniform weight):
        what the chosen terms miss. Exactly representable Hamiltonians give ~1e-15.
    residual_weighted : float
        RMS residual weighted by the Boltzmann probabilities :math:`e^{-H}/Z`.
    shape : tuple
    """

    couplings: dict[str, float]
    constant: float
    residual_max: float
    residual_rms: float
    residual_weighted: float
    shape: tuple[int, ...] = field(default=())

    def __getitem__(self, key: str) -> float:
        return self.couplings[key]


def default_terms(shape: int | Sequence[int]) -> tuple[str, ...]:
    """The terms of :func:`lattice_features` that are linearly independent on ``shape``.

    Drops e.g. ``"nnn"`` on chains shorter than 4 (where it duplicates ``"nn"`` or a constant).
    """
    shape = lattice_shape(shape)
    candidates = _TERMS_1D if len(shape) == 1 else _TERMS_2D
    configs = spin_configurations(int(np.prod(shape)))
    chosen: list[str] = []
    base = np.ones((configs.shape[0], 1))
    for term in candidates:
        trial = np.hstack([base, lattice_features(configs, shape, chosen + [term])])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            chosen.append(term)
    return tuple(chosen)


def fit_couplings(hamiltonian: npt.ArrayLike, shape: int | Sequence[int],
                  terms: Iterable[str] | None = None) -> CouplingFit:
    r"""Fit an effective translation-invariant Hamiltonian to an exactly known one.

    Solves the ordinary least-squares problem over *all* :math:`2^N` configurations

    .. math:: \min_{H_0, K} \sum_s \Big(H(s) - H_0 + \sum_a K_a \phi_a(s)\Big)^2

    with the features :math:`\phi_a` of :func:`lattice_features` (field, nearest-neighbour,
    next-nearest-neighbour and, in 2D, plaquette products). The log-weight is
    :math:`-H`; an exactly nearest-neighbour Ising Hamiltonian is recovered with zero residual.
    This is how coarse-grained couplings are read off in real-space RG studies by enumeration
    (e.g. Swendsen's linearisation, Wilson 1975).

    Parameters
    ----------
    hamiltonian : ndarray, shape (2**N,)
        Dimensionless Hamiltonian (minus the log-weight, any additive constant).
    shape : tuple
        Lattice, ``(L,)`` or ``(L, M)``, ``prod(shape) = N``.
    terms : sequence of str, optional
        Default :func:`default_terms` (all independent ones). Dependent terms raise ValueError.

    Returns
    -------
    CouplingFit
    """
    arr, n = as_hamiltonian(hamiltonian)
    shape = lattice_shape(shape)
    if int(np.prod(shape)) != n:
        raise ValueError(f"hamiltonian has 2**{n} entries but shape {shape} has {int(np.prod(shape))} spins")
    if not np.all(np.isfinite(arr)):
        raise ValueError("hamiltonian must be finite to fit couplings")
    terms = default_terms(shape) if terms is None else tuple(terms)
    configs = spin_configurations(n)
    design = np.hstack([np.ones((arr.size, 1)), -lattice_features(configs, shape, terms)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(f"terms {terms} are linearly dependent on a periodic lattice of shape {shape}; "
                         f"use default_terms(shape) = {default_terms(shape)}")
    coef, *_ = np.linalg.lstsq(design, arr, rcond=None)
    resid = arr - design @ coef
    prob = boltzmann_probabilities(arr)
    return CouplingFit(couplings={t: float(c) for t, c in zip(terms, coef[1:])},
                       constant=float(coef[0]),
                       residual_max=float(np.max(np.abs(resid))),
                       residual_rms=float(np.sqrt(np.mean(resid ** 2))),
                       residual_weighted=float(np.sqrt(np.sum(prob * (resid - prob @ resid) ** 2))),
                       shape=shape)

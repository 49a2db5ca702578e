"""Spin-spin correlation functions and second-moment correlation lengths on periodic lattices.

For configurations ``s`` on a periodic lattice of ``N = L^d`` sites,

.. math:: G(\\mathbf d) = \\frac1N \\sum_{\\mathbf x} \\langle s_{\\mathbf x} s_{\\mathbf x+\\mathbf d}\\rangle
          - \\bar m^2, \\qquad S(\\mathbf k) = \\sum_{\\mathbf d} G(\\mathbf d) e^{i\\mathbf k\\cdot\\mathbf d}
          = \\frac1N \\langle |\\tilde s(\\mathbf k)|^2 \\rangle,

(``\\bar m`` the overall mean, subtracted when ``connected``), and the second-moment correlation
length (Cooper, Freedman & Preston, Nucl. Phys. B 210, 210 (1982); Caracciolo et al., PRL 74,
2969 (1995))

.. math:: \\xi_{2nd} = \\frac{1}{2\\sin(k_{min}/2)} \\sqrt{\\frac{S(0)}{S(k_{min})} - 1},
          \\qquad k_{min} = 2\\pi/L,

with ``S(k_min)`` averaged over the lattice axes. For the periodic 1D chain,
``G(r) = (t^r + t^{N-r}) / (1 + t^N)`` with ``t = tanh K`` and the estimator gives exactly
``sqrt(t) / (1 - t)`` at any ``N``.

Block-spin coarse graining by ``b`` should reduce ``xi`` (in units of the coarse lattice) to
``xi_0 / b``; for a trained stack the RG expectation is ``xi_l ~ xi_0 / b^l`` with hidden
activations placed at their receptive-field centres (:func:`activation_correlation_length`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from analysis.blockspin_fidelity import window_block_spins
from ising.observables import Estimate, jackknife

__all__ = [
    "correlation_map",
    "radial_correlation",
    "second_moment_length",
    "correlation_length",
    "block_spin_correlation_lengths",
    "activation_correlation_length",
]


def _check_configs(configs: npt.ArrayLike) -> NDArray[np.float64]:
    spins = np.asarray(configs)
    if spins.ndim not in (2, 3):
        raise ValueError(
            f"configurations must have shape (n_samples, L) or (n_samples, L, L), got {spins.shape}")
    if spins.shape[0] < 1 or min(spins.shape[1:]) < 2:
        raise ValueError(f"need at least one sample on a lattice with L >= 2, got {spins.shape}")
    if spins.ndim == 3 and spins.shape[1] != spins.shape[2]:
        raise ValueError(f"2D lattices must be square, got {spins.shape[1:]}")
    values = spins.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("configurations contain NaN or infinite values")
    return values


def correlation_map(spins: npt.ArrayLike, *, connected: bool = True) -> NDArray[np.float64]:
    """Translation-averaged two-point function ``G(d)`` for every displacement ``d``.

    Parameters
    ----------
    spins : ndarray (n_samples, L) or (n_samples, L, L)
        Periodic configurations (any real values: spins, block spins, activations on a lattice).
    connected : bool
        Subtract the square of the overall mean.

    Returns
    -------
    ndarray (L,) or (L, L)
        ``G[d]``, indices are displacements modulo ``L``.
    """
    s = _check_configs(spins)
    axes = tuple(range(1, s.ndim))
    n_sites = int(np.prod(s.shape[1:]))
    ft = np.fft.fftn(s, axes=axes)
    power = (ft * ft.conj()).real.mean(axis=0)
    g = np.fft.ifftn(power).real / n_sites
    if connected:
        g -= s.mean() ** 2
    return g


def radial_correlation(g_map: npt.ArrayLike) -> NDArray[np.float64]:
    """``G(r)`` along the lattice axes for ``r = 0 .. L // 2`` (averaged over the axes).

    Parameters
    ----------
    g_map : ndarray (L,) or (L, L)
        From :func:`correlation_map`.
    """
    g = np.asarray(g_map, dtype=np.float64)
    if g.ndim not in (1, 2):
        raise ValueError(f"g_map must be 1-D or 2-D, got shape {g.shape}")
    length = g.shape[0]
    r = np.arange(length // 2 + 1)
    if g.ndim == 1:
        return 0.5 * (g[r] + g[(-r) % length])
    return 0.25 * (g[r, 0] + g[(-r) % length, 0] + g[0, r] + g[0, (-r) % length])


def _xi_from_structure(s0: float, sk: float, coarse_length: float) -> float:
    """``sqrt(S0/Sk - 1) / (2 sin(pi / L))``, 0 where the ratio is <= 1."""
    if sk <= 0:
        return float("inf") if s0 > 0 else 0.0
    ratio = s0 / sk - 1.0
    return float(np.sqrt(max(ratio, 0.0)) / (2.0 * np.sin(np.pi / coarse_length)))


def second_moment_length(g_map: npt.ArrayLike) -> float:
    """Second-moment correlation length from a two-point function ``G(d)`` (periodic).

    Returns 0 when ``S(0) <= S(k_min)`` (no measurable correlation).
    """
    g = np.asarray(g_map, dtype=np.float64)
    if g.ndim not in (1, 2) or min(g.shape) < 2:
        raise ValueError(f"g_map must be 1-D or 2-D with L >= 2, got shape {g.shape}")
    length = g.shape[0]
    phase = np.cos(2 * np.pi * np.arange(length) / length)
    s0 = g.sum()
    if g.ndim == 1:
        sk = (g * phase).sum()
    else:
        sk = 0.5 * ((g * phase[:, None]).sum() + (g * phase[None, :]).sum())
    return _xi_from_structure(s0, sk, length)


def _fourier_stats(values: NDArray[np.float64], positions: NDArray[np.float64], length: int
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-sample |a(0)|^2 and |a(k_min)|^2 (averaged over axes) for points at ``positions``."""
    k = 2.0 * np.pi / length
    s0 = values.sum(axis=1) ** 2
    sk = np.zeros(values.shape[0])
    for axis in range(positions.shape[1]):
        phase = np.exp(1j * k * positions[:, axis])
        sk += np.abs(values @ phase) ** 2
    return s0, sk / positions.shape[1]


def _length_estimate(values: NDArray[np.float64], positions: NDArray[np.float64], length: int,
                     coarse_length: float, n_blocks: int) -> Estimate:
    """Jackknife xi from per-sample Fourier stats; values are already centred if connected."""
    s0, sk = _fourier_stats(values, positions, length)
    blocks = min(int(n_blocks), s0.size)
    return Estimate(*jackknife(lambda a, b: _xi_from_structure(a, b, coarse_length), s0, sk,
                               n_blocks=blocks, bias_correction=False))


def correlation_length(spins: npt.ArrayLike, *, connected: bool = True,
                       n_blocks: int = 20) -> Estimate:
    """Second-moment correlation length of lattice configurations, with a jackknife error.

    Parameters
    ----------
    spins : ndarray (n_samples, L) or (n_samples, L, L)
    connected : bool
        Subtract the overall mean (over samples and sites) first.
    n_blocks : int
        Jackknife blocks over samples (in sampling order).

    Returns
    -------
    Estimate
        ``xi`` in lattice spacings. Equal to ``second_moment_length(correlation_map(spins))``.
    """
    s = _check_configs(spins)
    if s.shape[0] < 2:
        raise ValueError("need at least 2 samples for an error bar")
    length = s.shape[1]
    flat = s.reshape(s.shape[0], -1)
    if connected:
        flat = flat - flat.mean()
    grids = np.meshgrid(*[np.arange(length)] * (s.ndim - 1), indexing="ij")
    positions = np.column_stack([g.ravel() for g in grids]).astype(np.float64)
    return _length_estimate(flat, positions, length, length, n_blocks)


def block_spin_correlation_lengths(spins: npt.ArrayLike, block_sizes: Sequence[int] = (2, 4, 8),
                                   *, tie: str = "coin",
                                   seed: int | np.random.SeedSequence | None = None,
                                   n_blocks: int = 20) -> dict[int, Estimate]:
    """Correlation length of majority-rule coarse-grained configurations.

    Non-overlapping ``b``-blocks anchored at the origin (Kadanoff); ``xi`` is in units of the
    coarse lattice, so RG predicts ``xi_b ~ xi_0 / b`` away from the fixed point.

    Returns
    -------
    dict
        ``{b: Estimate}``; ``b`` must divide ``L`` and leave at least 2 coarse sites.
    """
    s = np.asarray(spins)
    if s.ndim not in (2, 3):
        raise ValueError(f"spins must have shape (n_samples, L) or (n_samples, L, L), got {s.shape}")
    length = s.shape[1]
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seeds = root.spawn(len(block_sizes))
    out: dict[int, Estimate] = {}
    for size, ss in zip(block_sizes, seeds):
        b = int(size)
        if b < 1 or length % b or length // b < 2:
            raise ValueError(f"block size {b} must divide L={length} and leave >= 2 blocks")
        blocks = window_block_spins(s, b, tie=tie, seed=ss)
        coarse = blocks[(slice(None),) + (slice(None, None, b),) * (s.ndim - 1)]
        out[b] = correlation_length(coarse, n_blocks=n_blocks)
    return out


def activation_correlation_length(activations: npt.ArrayLike, centres: npt.ArrayLike, length: int,
                                  *, spacing: float | None = None, connected: bool = True,
                                  n_blocks: int = 20) -> Estimate:
    """Second-moment correlation length of hidden activations placed at receptive-field centres.

    The structure factor of units at (possibly irregular) positions ``x_j`` on the periodic
    visible lattice, ``S(k) = <|sum_j a_j exp(i k x_j)|^2>`` with ``k = 2 pi / L``, gives
    ``xi`` through the same second-moment formula; it is reported in units of the layer's
    lattice spacing ``a_l`` (default ``sqrt(L^d / n_units)``), i.e. for a coarse lattice of
    ``L / a_l`` sites. With ``activations = spins`` and ``centres`` the site coordinates it equals
    :func:`correlation_length` exactly.

    Units must be sign-aligned first: a hidden unit may encode *minus* its block spin, and
    mixed signs cancel in ``S(0)`` (e.g. multiply by ``FidelityScan.unit_sign``).

    Parameters
    ----------
    activations : ndarray (n_samples, n_units)
    centres : ndarray (n_units, d)
        Positions in visible-lattice coordinates, e.g. ``Localization.centre``.
    length : int
        Visible lattice size ``L``.
    spacing : float, optional
        Lattice spacing of the layer in visible units.
    connected : bool
        Subtract each unit's mean activation (hidden biases make the means differ).

    Returns
    -------
    Estimate
    """
    a = np.asarray(activations, dtype=np.float64)
    x = np.asarray(centres, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"activations must have shape (n_samples >= 2, n_units), got {a.shape}")
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != a.shape[1] or x.shape[1] not in (1, 2):
        raise ValueError(
            f"centres must have shape (n_units={a.shape[1]}, 1 or 2), got {x.shape}")
    length = int(length)
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    dimension = x.shape[1]
    if spacing is None:
        spacing = (length ** dimension / a.shape[1]) ** (1.0 / dimension)
    spacing = float(spacing)
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    if connected:
        a = a - a.mean(axis=0)
    return _length_estimate(a, x, length, length / spacing, n_blocks)

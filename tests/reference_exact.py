"""Slow, obviously-correct references for ising.exact: brute-force enumeration.

Every configuration of a small periodic lattice is enumerated; bond sums use numpy.roll, so a
side of 2 counts the two periodic bonds between the same pair twice (the package convention).
"""

import numpy as np


def all_configurations(n_spins):
    """All 2**n_spins spin configurations, int8 in {-1,+1}, shape (2**n_spins, n_spins)."""
    idx = np.arange(2 ** n_spins, dtype=np.int64)[:, None]
    bits = (idx >> np.arange(n_spins, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int8)


def bond_sums_2d(m, n):
    """Sum over nearest-neighbour bonds of s_i s_j for every configuration of an m x n torus."""
    s = all_configurations(m * n).reshape(-1, m, n).astype(np.int32)
    vertical = (s * np.roll(s, 1, axis=1)).sum(axis=(1, 2))
    horizontal = (s * np.roll(s, 1, axis=2)).sum(axis=(1, 2))
    return vertical + horizontal


def _moments(log_w, x):
    """ln sum exp(log_w), weighted mean of x and weighted (centred, two-pass) variance of x."""
    top = log_w.max()
    w = np.exp(log_w - top)
    z = w.sum()
    mean = float(np.sum(w * x) / z)
    var = float(np.sum(w * (x - mean) ** 2) / z)
    return top + np.log(z), mean, var


def brute_force_2d(m, n, temperature, coupling=1.0):
    """(ln Z, energy per spin, specific heat per spin) of the periodic m x n lattice, h = 0."""
    b = bond_sums_2d(m, n).astype(np.float64)
    vals, counts = np.unique(b, return_counts=True)  # density of states in the bond sum
    k = coupling / temperature
    log_z, mean_b, var_b = _moments(np.log(counts) + k * vals, vals)
    n_spins = m * n
    energy = -coupling * mean_b / n_spins
    heat = k * k * var_b / n_spins
    return log_z, energy, heat


def brute_force_1d(n, temperature, coupling=1.0, field=0.0):
    """(ln Z, energy per spin, specific heat per spin) of the periodic chain of n spins."""
    s = all_configurations(n).astype(np.float64)
    h_tot = -coupling * (s * np.roll(s, 1, axis=1)).sum(axis=1) - field * s.sum(axis=1)
    log_z, e1, var = _moments(-h_tot / temperature, h_tot)
    return log_z, e1 / n, var / (temperature ** 2 * n)


def brute_force_correlation_1d(n, temperature, r, coupling=1.0, periodic=True):
    """<s_0 s_r> of the zero-field chain of n spins by enumeration (periodic or open)."""
    s = all_configurations(n).astype(np.float64)
    bonds = s[:, :-1] * s[:, 1:]
    e = -coupling * bonds.sum(axis=1)
    if periodic:
        e = e - coupling * s[:, -1] * s[:, 0]
    _, corr, _ = _moments(-e / temperature, s[:, 0] * s[:, r])
    return corr


def slow_kaufman_log_partition(m, n, temperature, coupling=1.0):
    """Kaufman's formula evaluated literally with mpmath-free float products (small lattices only).

    Z = 1/2 (2 sinh 2K)^{mn/2} (Z1 + Z2 + Z3 + Z4), gamma_0 = 2K + ln tanh K with its sign.
    """
    k = coupling / temperature
    c = np.cosh(2 * k) / np.tanh(2 * k)

    def gamma(l):
        if l == 0:
            return 2 * k + np.log(np.tanh(k))
        return np.arccosh(c - np.cos(np.pi * l / n))

    z1 = np.prod([2 * np.cosh(m * gamma(2 * r + 1) / 2) for r in range(n)])
    z2 = np.prod([2 * np.sinh(m * gamma(2 * r + 1) / 2) for r in range(n)])
    z3 = np.prod([2 * np.cosh(m * gamma(2 * r) / 2) for r in range(n)])
    z4 = np.prod([2 * np.sinh(m * gamma(2 * r) / 2) for r in range(n)])
    return np.log(0.5 * (2 * np.sinh(2 * k)) ** (m * n / 2) * (z1 + z2 + z3 + z4))




# ----------------------------------------------------------------------------- block spins

def slow_majority(spins, b, dimension, tie_spins):
    """Loop reference for majority rule on ONE configuration.

    ``tie_spins`` has the output shape and gives the value used for a tied block.
    """
    s = np.asarray(spins)
    if dimension == 1:
        out = np.empty(s.shape[0] // b, dtype=np.int8)
        for i in range(out.shape[0]):
            total = int(sum(int(s[i * b + k]) for k in range(b)))
            out[i] = 1 if total > 0 else (-1 if total < 0 else tie_spins[i])
        return out
    out = np.empty((s.shape[0] // b, s.shape[1] // b), dtype=np.int8)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            total = 0
            for di in range(b):
                for dj in range(b):
                    total += int(s[i * b + di, j * b + dj])
            out[i, j] = 1 if total > 0 else (-1 if total < 0 else tie_spins[i, j])
    return out


def slow_decimate(spins, b, dimension):
    """Loop reference for decimation on ONE configuration (keep the top-left spin of each block)."""
    s = np.asarray(spins)
    if dimension == 1:
        return np.array([s[i * b] for i in range(s.shape[0] // b)], dtype=np.int8)
    return np.array([[s[i * b, j * b] for j in range(s.shape[1] // b)]
                     for i in range(s.shape[0] // b)], dtype=np.int8)


def exact_periodic_chain_samples(n_samples, n, temperature, seed, coupling=1.0):
    """Exact i.i.d. samples of the zero-field periodic Ising chain (bond representation).

    The bond variables sigma_i = s_i s_{i+1} are independent with P(sigma = +1) = e^K / 2cosh K
    except for the ring constraint prod sigma_i = +1; rejection on that constraint (acceptance
    (1 + tanh^n K)/2 >= 1/2 for K > 0) gives exact samples; s_0 is a fair coin.
    """
    rng = np.random.default_rng(seed)
    k = coupling / temperature
    p_up = np.exp(k) / (2.0 * np.cosh(k))
    out = np.empty((n_samples, n), dtype=np.int8)
    filled = 0
    while filled < n_samples:
        bonds = np.where(rng.random((2 * (n_samples - filled) + 8, n)) < p_up, 1, -1)
        ok = bonds.prod(axis=1) == 1
        bonds = bonds[ok][: n_samples - filled]
        s0 = rng.choice(np.array([-1, 1]), size=(bonds.shape[0], 1))
        # s_i = s_0 * prod_{j<i} sigma_j ; the last bond closes the ring consistently
        chain = s0 * np.concatenate([np.ones((bonds.shape[0], 1), dtype=np.int64),
                                     np.cumprod(bonds[:, :-1], axis=1)], axis=1)
        out[filled:filled + bonds.shape[0]] = chain
        filled += bonds.shape[0]
    return out

"""Slow, obviously-correct references for the analysis package (loops, no cleverness)."""

import itertools

import numpy as np


def correlation_map_loops(spins, connected=True):
    """G(d) = mean over samples and sites of s_x s_{x+d} (periodic), minus mean^2."""
    s = np.asarray(spins, dtype=float)
    shape = s.shape[1:]
    g = np.zeros(shape)
    for d in itertools.product(*[range(n) for n in shape]):
        total = 0.0
        for x in itertools.product(*[range(n) for n in shape]):
            y = tuple((xi + di) % n for xi, di, n in zip(x, d, shape))
            total += np.mean(s[(slice(None),) + x] * s[(slice(None),) + y])
        g[d] = total / np.prod(shape)
    if connected:
        g -= s.mean() ** 2
    return g


def window_majority_loops(spins, b, tie_first=True):
    """Majority of every periodic b-window anchored at x; ties -> the anchor spin."""
    s = np.asarray(spins)
    out = np.zeros_like(s, dtype=np.int8)
    shape = s.shape[1:]
    for n in range(s.shape[0]):
        for x in itertools.product(*[range(m) for m in shape]):
            total = 0
            for d in itertools.product(*[range(b)] * len(shape)):
                y = tuple((xi + di) % m for xi, di, m in zip(x, d, shape))
                total += int(s[(n,) + y])
            out[(n,) + x] = np.sign(total) if total != 0 else (s[(n,) + x] if tie_first else 0)
    return out


def core_radius_loops(field_2d, window):
    """Core radius of gyration of r^2 in the periodic window around the peak (2D)."""
    r2 = np.asarray(field_2d, float) ** 2
    L = r2.shape[0]
    p = np.unravel_index(np.argmax(r2), r2.shape)
    weights, disp = [], []
    for dx in range(-window, window + 1):
        for dy in range(-window, window + 1):
            weights.append(r2[(p[0] + dx) % L, (p[1] + dy) % L])
            disp.append((dx, dy))
    w = np.array(weights)
    d = np.array(disp, float)
    mean = (w[:, None] * d).sum(0) / w.sum()
    rg2 = (w * ((d - mean) ** 2).sum(1)).sum() / w.sum()
    return np.sqrt(rg2), (np.array(p) + mean) % L


def best_window_share_loops(field_2d, b):
    r2 = np.asarray(field_2d, float) ** 2
    L = r2.shape[0]
    best = 0.0
    for x in range(L):
        for y in range(L):
            s = sum(r2[(x + i) % L, (y + j) % L] for i in range(b) for j in range(b))
            best = max(best, s)
    return best / r2.sum()


def exact_ring_samples(n_sites, coupling_k, n_samples, rng):
    """Exact samples of a periodic 1D Ising ring by enumerating all 2^N configurations."""
    configs = np.array(list(itertools.product((-1, 1), repeat=n_sites)), dtype=np.int8)
    energy = -(configs * np.roll(configs, -1, axis=1)).sum(1)
    logw = -coupling_k * energy
    p = np.exp(logw - logw.max())
    p /= p.sum()
    idx = rng.choice(len(configs), size=n_samples, p=p)
    return configs[idx]


def ring_correlation_exact(n_sites, coupling_k, r):
    t = np.tanh(coupling_k)
    return (t ** r + t ** (n_sites - r)) / (1 + t ** n_sites)


def spin_free_energy(v, weights, visible_bias, hidden_bias):
    """F(v) = c.v - sum_j log 2cosh(b_j + (vW)_j)  (spin units, docs/CONTRACTS.md)."""
    x = hidden_bias + v @ weights
    return v @ visible_bias - np.sum(np.logaddexp(x, -x), axis=-1)


def spin_rbm_log_partition(weights, visible_bias, hidden_bias):
    """ln Z of a spin RBM by enumerating every visible configuration."""
    n_visible = weights.shape[0]
    configs = np.array(list(itertools.product((-1, 1), repeat=n_visible)), dtype=float)
    f = spin_free_energy(configs, weights, visible_bias, hidden_bias)
    return float(np.logaddexp.reduce(-f))

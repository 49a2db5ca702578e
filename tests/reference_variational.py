"""Slow, obviously-correct references for rgdl.variational / rgdl.decimation (plain loops)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from tests.reference_rbm import energy as rbm_energy  # noqa: F401 (one brute-force RBM energy)


def configs(n, units="spin"):
    """All configurations, unit i = bit i of the index (same order as the library)."""
    out = []
    for k in range(2 ** n):
        bits = [(k >> i) & 1 for i in range(n)]
        out.append([b if units == "binary" else 2 * b - 1 for b in bits])
    return out


def chain_energy(s, K, h=0.0, K2=0.0):
    """H = -K sum_i s_i s_{i+1} - K2 sum_i s_i s_{i+2} - h sum_i s_i, periodic (np.roll convention)."""
    n = len(s)
    e = 0.0
    for i in range(n):
        e -= K * s[i] * s[(i + 1) % n] + K2 * s[i] * s[(i + 2) % n] + h * s[i]
    return e


def square_energy(s, L, M, K=0.0, h=0.0, K2=0.0, K4=0.0):
    """2D periodic: nn (right, down), nnn (both diagonals), plaquette, field; s flat C order."""
    g = lambda i, j: s[(i % L) * M + (j % M)]  # noqa: E731
    e = 0.0
    for i in range(L):
        for j in range(M):
            e -= K * g(i, j) * (g(i, j + 1) + g(i + 1, j))
            e -= K2 * g(i, j) * (g(i + 1, j + 1) + g(i + 1, j - 1))
            e -= K4 * g(i, j) * g(i, j + 1) * g(i + 1, j) * g(i + 1, j + 1)
            e -= h * g(i, j)
    return e




def coarse_grain(H, T, n_v, n_h):
    """H^RG[h] = -log sum_v exp(T[v][h] - H[v]) and log Tr_h exp(T[v][h]) by double loops."""
    h_rg = []
    for hk in range(2 ** n_h):
        z = sum(math.exp(T[vk][hk] - H[vk]) for vk in range(2 ** n_v))
        h_rg.append(-math.log(z))
    log_trace = [math.log(sum(math.exp(T[vk][hk]) for hk in range(2 ** n_h))) for vk in range(2 ** n_v)]
    return np.array(h_rg), np.array(log_trace)


def rbm_hidden_hamiltonian(W, c, b, units):
    n_v, n_h = len(W), len(W[0])
    out = []
    for h in configs(n_h, units):
        z = sum(math.exp(-rbm_energy(v, h, W, c, b)) for v in configs(n_v, units))
        out.append(-math.log(z))
    return np.array(out)


def kl(H, W, c, b, units):
    """KL(exp(-H)/Z || p_rbm(v)) in nats (total), by explicit sums."""
    n_v, n_h = len(W), len(W[0])
    vs = configs(n_v, units)
    hs = configs(n_h, units)
    pv = [sum(math.exp(-rbm_energy(v, h, W, c, b)) for h in hs) for v in vs]
    zm = sum(pv)
    pd = [math.exp(-x) for x in H]
    zd = sum(pd)
    return sum((p / zd) * math.log((p / zd) / (q / zm)) for p, q in zip(pd, pv))


def majority_table(n, block):
    """T[v][h] = log P(h | v) for 1D majority rule with coin-flip ties (explicit)."""
    n_h = n // block
    T = np.full((2 ** n, 2 ** n_h), -np.inf)
    for vk, v in enumerate(configs(n)):
        for hk, h in enumerate(configs(n_h)):
            p = 1.0
            for j in range(n_h):
                m = sum(v[j * block:(j + 1) * block])
                p *= 0.5 if m == 0 else (1.0 if (m > 0) == (h[j] > 0) else 0.0)
            if p > 0:
                T[vk, hk] = math.log(p)
    return T


def decimate_chain_brute(n, K):
    """-log of the even-site marginal of the periodic chain, explicit sum over odd sites."""
    m = n // 2
    out = []
    for he in configs(m):
        z = 0.0
        for ho in itertools.product((-1, 1), repeat=m):
            s = [0] * n
            s[0::2] = he
            s[1::2] = ho
            z += math.exp(-chain_energy(s, K))
        out.append(-math.log(z))
    return np.array(out)

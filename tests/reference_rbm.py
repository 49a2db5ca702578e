"""Slow, obviously-correct references for the RBM (explicit loops and brute-force sums).

Sign convention (docs/CONTRACTS.md): E(v, h) = b.h + v W h + c.v, p(v, h) = exp(-E)/Z.
Everything is float64 and written for clarity, not speed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tests.reference_ising import MASK, SPLITMIX_GAMMA, splitmix64_mix


class SplitMixUniforms:
    """The trainer's Gibbs uniforms (:func:`rbm._kernels.uniform_fill`) in plain Python integers.

    Draw m = 1, 2, ... of the stream with key k is splitmix64's output mix64(k + m * GAMMA)
    (Vigna's splitmix64.c seeded with k). float32: a buffer of n values takes n // 2 draws, draw
    m giving element m - 1 from bits 40-63 and element n // 2 + m - 1 from bits 8-31, times
    2**-24 (odd n: one more draw, bits 40-63); float64: one draw per element, top 53 bits.
    ``random(shape, dtype)`` mimics ``numpy.random.Generator.random``.
    """

    def __init__(self, key):
        self.key = int(key)
        self.counter = 0

    def draw(self):
        self.counter += 1
        return splitmix64_mix((self.key + self.counter * SPLITMIX_GAMMA) & MASK)

    def random(self, shape, dtype=np.float64):
        n = int(np.prod(shape))
        out = np.empty(n, dtype=np.float64)
        if np.dtype(dtype) == np.float32:
            half = n // 2
            for m in range(half):
                r = self.draw()
                out[m] = (r >> 40) * 2.0 ** -24
                out[half + m] = ((r >> 8) & 0xFFFFFF) * 2.0 ** -24
            if n % 2:
                out[n - 1] = (self.draw() >> 40) * 2.0 ** -24
        else:
            for m in range(n):
                out[m] = (self.draw() >> 11) * 2.0 ** -53
        return out.astype(dtype).reshape(shape)


def states(n, units):
    """All 2^n configurations of n units, shape (2^n, n), float64."""
    values = (0.0, 1.0) if units == "binary" else (-1.0, 1.0)
    return np.array(list(itertools.product(values, repeat=n)), dtype=np.float64).reshape(-1, n)


def energy(v, h, W, c, b):
    """E(v, h) by explicit loops."""
    e = 0.0
    for j in range(len(h)):
        e += b[j] * h[j]
    for i in range(len(v)):
        e += c[i] * v[i]
        for j in range(len(h)):
            e += v[i] * W[i][j] * h[j]
    return e


def free_energy(v, W, c, b, units):
    """F(v) = -log sum_h exp(-E(v, h)), summing over every hidden configuration."""
    terms = [-energy(v, h, W, c, b) for h in states(W.shape[1], units)]
    m = max(terms)
    return -(m + math.log(sum(math.exp(t - m) for t in terms)))


def hidden_on_probability(v, W, c, b, units):
    """P(h_j = on | v) as a ratio of brute-force sums over h (on = 1 or +1)."""
    hs = states(W.shape[1], units)
    weights = np.array([math.exp(-energy(v, h, W, c, b)) for h in hs])
    return np.array([weights[hs[:, j] == 1.0].sum() / weights.sum() for j in range(W.shape[1])])


def visible_on_probability(h, W, c, b, units):
    """P(v_i = on | h) as a ratio of brute-force sums over v."""
    vs = states(W.shape[0], units)
    weights = np.array([math.exp(-energy(v, h, W, c, b)) for v in vs])
    return np.array([weights[vs[:, i] == 1.0].sum() / weights.sum() for i in range(W.shape[0])])


def log_partition(W, c, b, units):
    """log Z by the double sum over v and h."""
    terms = [-energy(v, h, W, c, b) for v in states(W.shape[0], units)
             for h in states(W.shape[1], units)]
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(x * -1.0))


def mean_hidden(v, W, b, units):
    """E[h | v] for a batch (vectorised but straightforward)."""
    x = v @ W + b
    return _sigmoid(-x) if units == "binary" else -np.tanh(x)


def mean_visible(h, W, c, units):
    x = h @ W.T + c
    return _sigmoid(-x) if units == "binary" else -np.tanh(x)


def sample_from_uniforms(x, u, units):
    """Sample from pre-activations x with uniforms u: on iff u < P(on)."""
    p = _sigmoid(-x) if units == "binary" else _sigmoid(-2.0 * x)
    off = 0.0 if units == "binary" else -1.0
    return np.where(u < p, 1.0, off)


def cd_step(v0, W, c, b, units, k, rng, chains=None, uniform_dtype=None):
    """Statistics of one CD-k (or PCD-k if ``chains`` is given) step, drawing uniforms from
    ``rng`` in the same order as :meth:`rbm.train.CDTrainer.step`.

    Returns ``(dW, dc, db, v_k, new_chains)`` where d* = <.>_data - <.>_model (so the
    log-likelihood gradient is minus these) and ``new_chains`` the final hidden sample (PCD).
    """
    dtype = W.dtype if uniform_dtype is None else uniform_dtype
    n = v0.shape[0]
    h_pos = mean_hidden(v0, W, b, units)
    if chains is None:
        u = rng.random((n, W.shape[1]), dtype=dtype)
        h = sample_from_uniforms(v0 @ W + b, u, units)
    else:
        h = chains
    m = h.shape[0]
    new_chains = None
    for step in range(k):
        u_v = rng.random((m, W.shape[0]), dtype=dtype)
        v = sample_from_uniforms(h @ W.T + c, u_v, units)
        if step < k - 1 or chains is not None:
            u_h = rng.random((m, W.shape[1]), dtype=dtype)
            h = sample_from_uniforms(v @ W + b, u_h, units)
            new_chains = h
    h_neg = mean_hidden(v, W, b, units)
    dW = np.zeros_like(W, dtype=np.float64)
    for r in range(n):
        dW += np.outer(v0[r], h_pos[r]) / n
    for r in range(m):
        dW -= np.outer(v[r], h_neg[r]) / m
    dc = v0.mean(axis=0) - v.mean(axis=0)
    db = h_pos.mean(axis=0) - h_neg.mean(axis=0)
    return dW, dc, db, v, new_chains


def exact_log_likelihood_gradient(data, W, c, b, units):
    """<.>_data - <.>_model for (W, c, b) by enumeration of the visible layer.

    The log-likelihood gradient is minus this (E = b.h + vWh + c.v).
    """
    vs = states(W.shape[0], units)
    log_p = np.array([-free_energy(v, W, c, b, units) for v in vs])
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    hd = mean_hidden(data, W, b, units)
    hm = mean_hidden(vs, W, b, units)
    dW = data.T @ hd / len(data) - (vs * p[:, None]).T @ hm
    dc = data.mean(axis=0) - p @ vs
    db = hd.mean(axis=0) - p @ hm
    return dW, dc, db


def gibbs_transition_matrix(W, c, b, units):
    """T[v, v'] = sum_h p(h | v) p(v' | h) over all visible configurations (rows sum to 1)."""
    vs = states(W.shape[0], units)
    hs = states(W.shape[1], units)

    def cond(x, state):  # product of independent unit probabilities of ``state`` given field x
        p_on = _sigmoid(-x) if units == "binary" else _sigmoid(-2.0 * x)
        on = state == 1.0
        return np.prod(np.where(on, p_on, 1.0 - p_on))

    p_h_given_v = np.array([[cond(v @ W + b, h) for h in hs] for v in vs])
    p_v_given_h = np.array([[cond(h @ W.T + c, v) for v in vs] for h in hs])
    return p_h_given_v @ p_v_given_h


def expected_cd_k_statistic(data, W, c, b, units, k):
    """Exact expectation of the CD-k weight statistic <v h>_data - E[v_k E[h | v_k]].

    The chain starts at the data, v_k ~ T^k(v0, .) with the block-Gibbs transition matrix T.
    """
    vs = states(W.shape[0], units)
    index = {tuple(v): i for i, v in enumerate(vs)}
    p0 = np.zeros(len(vs))
    for v in data:
        p0[index[tuple(v)]] += 1.0 / len(data)
    pk = p0 @ np.linalg.matrix_power(gibbs_transition_matrix(W, c, b, units), k)
    hd = mean_hidden(data, W, b, units)
    hm = mean_hidden(vs, W, b, units)
    return data.T @ hd / len(data) - (vs * pk[:, None]).T @ hm


def exact_mean_log_likelihood(data, W, c, b, units):
    """Mean log p(v) over ``data`` by brute force."""
    log_z = log_partition(W, c, b, units)
    return float(np.mean([-free_energy(v, W, c, b, units) - log_z for v in data]))


def pseudo_log_likelihood(v, W, c, b, units):
    """sum_i log P(v_i | v_-i) from brute-force free energies of v and of each one-site flip."""
    total = 0.0
    f = free_energy(v, W, c, b, units)
    for i in range(len(v)):
        w = v.copy()
        w[i] = (1.0 - w[i]) if units == "binary" else -w[i]
        fw = free_energy(w, W, c, b, units)
        total += -math.log1p(math.exp(-(fw - f)))
    return total


class RbmM:
    """Hinton & Salakhutdinov's rbm.m (Science 313, 504 (2006); the code Mehta & Schwab used),
    transcribed line by line in float64, in *its* sign convention: p(v, h) ~ exp(v.vishid.h +
    hidbiases.h + visbiases.v), so rgdl's (weights, visible bias, hidden bias) are minus
    (vishid, visbiases, hidbiases) and rgdl's velocities minus the increments.

    ``weight_cost_kind`` "l2" is rbm.m's ``weightcost * vishid`` in the gradient; "l1" replaces it
    by ``weightcost * sign(vishid)`` (the paper's L1 penalty). Random numbers: ``rand(numcases,
    numhid)`` of the hidden sampling is ``uniforms(shape)``; the mini-batches are given.
    """

    def __init__(self, vishid, visbiases, hidbiases, *, epsilon=0.1, weightcost=2e-4,
                 weight_cost_kind="l2", initialmomentum=0.5, finalmomentum=0.9):
        self.vishid = np.array(vishid, np.float64)
        self.visbiases = np.array(visbiases, np.float64)
        self.hidbiases = np.array(hidbiases, np.float64)
        self.vishidinc = np.zeros_like(self.vishid)
        self.visbiasinc = np.zeros_like(self.visbiases)
        self.hidbiasinc = np.zeros_like(self.hidbiases)
        self.epsilonw = self.epsilonvb = self.epsilonhb = epsilon
        self.weightcost = weightcost
        self.kind = weight_cost_kind
        self.initialmomentum, self.finalmomentum = initialmomentum, finalmomentum

    def epoch(self, epoch, batches, uniforms):
        """rbm.m's ``for batch = 1:numbatches`` loop of epoch ``epoch`` (1-based); returns
        ``errsum`` = sum over batches of sum((data - negdata).^2)."""
        errsum = 0.0
        for data in batches:
            data = np.asarray(data, np.float64)
            numcases = data.shape[0]
            # START POSITIVE PHASE
            poshidprobs = 1.0 / (1.0 + np.exp(-data @ self.vishid - self.hidbiases))
            posprods = data.T @ poshidprobs
            poshidact = poshidprobs.sum(axis=0)
            posvisact = data.sum(axis=0)
            poshidstates = (poshidprobs > uniforms(poshidprobs.shape)).astype(np.float64)
            # START NEGATIVE PHASE
            negdata = 1.0 / (1.0 + np.exp(-poshidstates @ self.vishid.T - self.visbiases))
            neghidprobs = 1.0 / (1.0 + np.exp(-negdata @ self.vishid - self.hidbiases))
            negprods = negdata.T @ neghidprobs
            neghidact = neghidprobs.sum(axis=0)
            negvisact = negdata.sum(axis=0)
            errsum += float(np.sum((data - negdata) ** 2))
            # UPDATE WEIGHTS AND BIASES
            momentum = self.finalmomentum if epoch > 5 else self.initialmomentum
            penalty = self.vishid if self.kind == "l2" else np.sign(self.vishid)
            self.vishidinc = momentum * self.vishidinc + self.epsilonw * (
                (posprods - negprods) / numcases - self.weightcost * penalty)
            self.visbiasinc = momentum * self.visbiasinc + (self.epsilonvb / numcases) * (
                posvisact - negvisact)
            self.hidbiasinc = momentum * self.hidbiasinc + (self.epsilonhb / numcases) * (
                poshidact - neghidact)
            self.vishid += self.vishidinc
            self.visbiases += self.visbiasinc
            self.hidbiases += self.hidbiasinc
        return errsum

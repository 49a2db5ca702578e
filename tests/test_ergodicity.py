"""Exhaustive irreducibility checks of the local visiting schemes on small lattices.

Whether a Markov chain on the 2**N configurations is irreducible depends only on which moves
have positive probability. In a checkerboard half-sweep each site of the colour flips
independently: with probability 1 when its flip costs dE <= 0 (Metropolis), with a
probability strictly between 0 and 1 when dE > 0, so a site's outcome set is {flip} or
{flip, stay}. The tests below enumerate these outcome sets for every configuration and
compute, by breadth-first search over sweeps, which configurations are reachable from which:

* the schemes ``ising.samplers`` uses (lazy checkerboard Metropolis in 2D, random-site
  Metropolis in 1D, at L = 2 and at odd sizes) are irreducible (one closed class containing
  every configuration) and aperiodic (a configuration that can stay put);
* the old schemes are not: deterministic even/odd Metropolis in 1D and at L = 2 (the bug
  this module guards against) and a random colour order per half-sweep on the 4-site chain.

Outcome sets depend only on the signs of dE = 2 s (J nb + h), so the fields below cover every
sign pattern of the 4 x 4 lattice (|h| below, at and above 2|J| and 4|J|) for both signs of J.
Plain (non-lazy) checkerboard Metropolis is also shown to cut 36 zero-energy striped
configurations of the 4 x 4 lattice off at h = 0: the reason 2D Metropolis is lazy.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from ising.lattice import energy_per_spin, neighbour_table
from ising.samplers import visiting_scheme


@njit(cache=True)
def _half_sweep_moves(state, colour_sites, nbr, coupling, field, reverse, lazy, out):
    """Configurations one Metropolis half-sweep of ``colour_sites`` leads to from ``state``
    (``reverse=False``), or comes from (``reverse=True``). Returns how many were written.

    A site of value s and neighbour sum nb (its neighbours have the other colour, so they are
    the same before and after) can always flip, and can keep s iff s (J nb + h) > 0. Forward:
    forced sites flip. Backward: a site now at y came from -y (always possible) or from y
    (iff y (J nb + h) > 0). ``lazy``: every site may also be left alone (lazy Metropolis).
    """
    forced = np.int64(0)
    free = np.empty(colour_sites.shape[0], dtype=np.int64)
    n_free = 0
    for x in colour_sites:
        s = 1 if (state >> x) & 1 else -1
        nb = 0
        for k in range(nbr.shape[1]):
            nb += 1 if (state >> nbr[x, k]) & 1 else -1
        if lazy or s * (coupling * nb + field) > 0.0:
            free[n_free] = x
            n_free += 1
        else:
            forced |= np.int64(1) << x  # forward: must flip; backward: came from -y only
    for mask in range(1 << n_free):
        flips = forced
        for b in range(n_free):
            if (mask >> b) & 1:
                flips |= np.int64(1) << free[b]
        out[mask] = state ^ flips
    return 1 << n_free


@njit(cache=True)
def _checkerboard_closure(n, colours, nbr, coupling, field, start, reverse, lazy):
    """Configurations reachable from (``reverse``: that reach) ``start`` by whole sweeps
    (colour 0 then colour 1), as a boolean array over the 2**n configurations.

    Breadth-first over (configuration, phase) nodes, phase = the colour updated next.
    """
    n_states = 1 << n
    seen = np.zeros((2, n_states), dtype=np.bool_)
    stack = np.empty(2 * n_states, dtype=np.int64)
    buf = np.empty(1 << colours.shape[1], dtype=np.int64)
    seen[0, start] = True
    stack[0] = start  # node id = phase * n_states + configuration
    top = 1
    while top:
        top -= 1
        node = stack[top]
        phase = node // n_states
        x = node % n_states
        # forward: a phase-c node moves by a half-sweep of colour c to phase 1 - c;
        # backward: a phase-c node was reached by a half-sweep of colour 1 - c
        colour = 1 - phase if reverse else phase
        k = _half_sweep_moves(np.int64(x), colours[colour], nbr, coupling, field, reverse, lazy,
                              buf)
        for i in range(k):
            y = buf[i]
            if not seen[1 - phase, y]:
                seen[1 - phase, y] = True
                stack[top] = (1 - phase) * n_states + y
                top += 1
    return seen[0]


@njit(cache=True)
def _stays_put(x, colours, nbr, coupling, field, lazy):
    """True if one whole sweep can leave configuration ``x`` unchanged."""
    buf0 = np.empty(1 << colours.shape[1], dtype=np.int64)
    buf1 = np.empty(1 << colours.shape[1], dtype=np.int64)
    k0 = _half_sweep_moves(np.int64(x), colours[0], nbr, coupling, field, False, lazy, buf0)
    for i in range(k0):
        k1 = _half_sweep_moves(buf0[i], colours[1], nbr, coupling, field, False, lazy, buf1)
        for j in range(k1):
            if buf1[j] == x:
                return True
    return False


def _checkerboard_classes(size, dimension, coupling, field, lazy):
    """(configurations reachable from all-down, configurations that reach all-down)."""
    n = size ** dimension
    cols, nbr = _colours(size, dimension), neighbour_table(size, dimension)
    fwd = _checkerboard_closure(n, cols, nbr, coupling, field, 0, False, lazy)
    bwd = _checkerboard_closure(n, cols, nbr, coupling, field, 0, True, lazy)
    return fwd, bwd


def _checkerboard_irreducible(size, dimension, coupling, field, lazy):
    fwd, bwd = _checkerboard_classes(size, dimension, coupling, field, lazy)
    return bool(fwd.all() and bwd.all())


@njit(cache=True)
def _single_site_successors(n, nbr, coupling, field):
    """Adjacency of one random-site elementary step (any site, Metropolis)."""
    n_states = 1 << n
    reach = np.zeros((n_states, n_states), dtype=np.bool_)
    for x in range(n_states):
        for site in range(n):
            s = 1 if (x >> site) & 1 else -1
            nb = 0
            for k in range(nbr.shape[1]):
                nb += 1 if (x >> nbr[site, k]) & 1 else -1
            reach[x, x ^ (1 << site)] = True
            if 2.0 * s * (coupling * nb + field) > 0.0:
                reach[x, x] = True
    return reach


@njit(cache=True)
def _closure_from(reach, start):
    n_states = reach.shape[0]
    seen = np.zeros(n_states, dtype=np.bool_)
    stack = np.empty(n_states, dtype=np.int64)
    seen[start] = True
    stack[0] = start
    top = 1
    while top:
        top -= 1
        x = stack[top]
        for y in range(n_states):
            if reach[x, y] and not seen[y]:
                seen[y] = True
                stack[top] = y
                top += 1
    return seen


def _irreducible(reach):
    """True iff every state reaches every other (state 0 reaches all, and all reach state 0);
    ``reach`` is a dense adjacency matrix (small lattices only)."""
    return bool(_closure_from(reach, 0).all() and _closure_from(reach.T.copy(), 0).all())


def _colours(size, dimension):
    coords = np.indices((size,) * dimension).reshape(dimension, -1)
    parity = coords.sum(axis=0) % 2
    return np.stack([np.flatnonzero(parity == 0), np.flatnonzero(parity == 1)]).astype(np.int64)


SIGN_PATTERNS = [(1.0, 0.0), (-1.0, 0.0), (1.0, 1.0), (1.0, 2.0), (1.0, 3.0), (1.0, 4.0),
                 (1.0, 5.0), (-1.0, 1.0), (-1.0, 2.0), (-1.0, 3.0)]


@pytest.mark.parametrize("coupling,field", SIGN_PATTERNS)
def test_lazy_checkerboard_metropolis_4x4_is_irreducible_and_aperiodic(coupling, field):
    """The scheme of 2D Metropolis at even L >= 4."""
    assert visiting_scheme("metropolis", 2, 4) == "checkerboard"
    assert _checkerboard_irreducible(4, 2, coupling, field, True)
    cols, nbr = _colours(4, 2), neighbour_table(4, 2)
    assert _stays_put(0b1011001110001101, cols, nbr, coupling, field, True)  # aperiodic


@pytest.mark.parametrize("coupling", [1.0, -1.0])
def test_plain_checkerboard_metropolis_4x4_has_closed_striped_classes(coupling):
    """Without laziness, 36 zero-energy configurations of the 4 x 4 lattice at h = 0 are cut
    off from the rest (why 2D Metropolis is lazy); a field connects them."""
    fwd, bwd = _checkerboard_classes(4, 2, coupling, 0.0, False)
    assert np.array_equal(fwd, bwd) and int((~fwd).sum()) == 36
    configs = ((np.arange(1 << 16)[~fwd, None] >> np.arange(16)) & 1) * 2 - 1
    assert not np.any(energy_per_spin(configs.reshape(-1, 4, 4), coupling, 0.0, 2))
    assert _checkerboard_irreducible(4, 2, coupling, 0.5, False)


@pytest.mark.parametrize("dimension,size", [(1, 2), (1, 3), (1, 4), (1, 5), (1, 8), (2, 2), (2, 3)])
@pytest.mark.parametrize("coupling,field", [(1.0, 0.0), (-1.0, 0.0), (1.0, 0.5), (0.5, 3.0)])
def test_random_site_metropolis_is_irreducible_and_aperiodic(dimension, size, coupling, field):
    """The scheme of 1D Metropolis, L = 2 and odd sizes."""
    assert visiting_scheme("metropolis", dimension, size) == "random-site"
    nbr = neighbour_table(size, dimension)
    reach = _single_site_successors(size ** dimension, nbr, coupling, field)
    assert _irreducible(reach)
    assert reach.diagonal().any()


@pytest.mark.parametrize("dimension,size", [(1, 4), (1, 8), (1, 16), (2, 2)])
@pytest.mark.parametrize("coupling", [1.0, -1.0])
def test_old_deterministic_checkerboard_metropolis_is_not_irreducible(dimension, size, coupling):
    """The bug: even/odd Metropolis at h = 0 splits the chain into closed classes."""
    assert not _checkerboard_irreducible(size, dimension, coupling, 0.0, False)


def test_random_colour_order_does_not_repair_the_four_site_chain():
    """Choosing the colour of each half-sweep at random: s0 = -s2, s1 = -s3 is a closed class."""
    nbr = neighbour_table(4, 1)
    cols = _colours(4, 1)
    buf = np.empty(4, dtype=np.int64)
    reach = np.zeros((16, 16), dtype=bool)
    for x in range(16):
        for c in (0, 1):
            k = _half_sweep_moves(np.int64(x), cols[c], nbr, 1.0, 0.0, False, False, buf)
            reach[x, buf[:k]] = True
    closed = [x for x in range(16)
              if ((x >> 0) & 1) != ((x >> 2) & 1) and ((x >> 1) & 1) != ((x >> 3) & 1)]
    assert len(closed) == 4
    for x in closed:
        assert set(np.flatnonzero(_closure_from(reach, x))) == set(closed)
    assert not _irreducible(reach)

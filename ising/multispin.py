"""Multi-spin-coded checkerboard Metropolis: 64 independent replicas per 64-bit word.

Representation
    Replica ``c`` lives in bit ``r = c % 64`` (its *lane*) of the words of *group*
    ``g = c // 64``: ``words[g, i, j]`` (uint64, shape (n_groups, L, L), row-major sites)
    holds the spins of the 64 replicas of group g at site (i, j), bit 1 meaning s = +1
    (:func:`pack_spins`, :func:`unpack_spins`). All replicas are periodic L x L lattices with
    the conventions of docs/CONTRACTS.md: H = -J sum_<ij> s_i s_j, weight exp(-H/T), here
    at zero field h = 0. Lane r may carry its own temperature T_r and coupling J_r.

Update (checkerboard Metropolis, bit-sliced)
    A sweep updates the sites with (i + j) even, then those with (i + j) odd (N = L^2
    attempts per replica; a valid checkerboard decomposition for even L, so L must be even).
    For a site with spin word S and neighbour words N1..N4, ``X_k = S ^ N_k ^ A`` has bit r
    set iff the bond to neighbour k costs energy in lane r (A = the lanes with J_r < 0,
    where anti-aligned bonds are the favourable ones). A bit-sliced adder sums the four
    one-bit numbers into the three-bit count ``a`` of unsatisfied bonds of every lane. With
    s nb = 4 - 2a satisfied-minus-unsatisfied bonds for J > 0 (and the roles of the two
    swapped for J < 0), flipping costs

        dE = 2 J s nb = 4 |J| (2 - a)  (a = number of unsatisfied bonds),

    so Metropolis accepts min(1, exp(-dE/T)) = 1 for a >= 2 and p_4 = exp(-4|J_r|/T_r) or
    p_8 = exp(-8|J_r|/T_r) for a = 1 or a = 0 (Metropolis et al. 1953). The update is *lazy*,
    exactly like the scalar 2D checkerboard kernels (:mod:`ising.samplers`): each site is
    left alone with probability 2**-LAZY_BITS (2**-11) and otherwise accepted as above, so a
    lane flips with probability (1 - 2**-11) min(1, exp(-dE/T)).

Ergodicity
    Every site of the colour flips with a probability strictly between 0 and 1, independently
    of the others, so one sweep reaches every configuration (irreducible and aperiodic), and
    the lazy single-site kernel q M + (1 - q) 1 is reversible like M. Without laziness
    zero-cost moves would always be taken, and the configurations in which every site has
    exactly two unsatisfied bonds (36 of them on 4 x 4, stripes ++-- along the diagonal
    whenever 4 divides L) would form a closed class moved deterministically within itself.

Independent acceptance per lane (bit-sliced Bernoulli)
    Each lane decides with its own uniform U = 0.R_1 R_2 R_3 ... (binary), whose bit j is
    bit r of the j-th random word of the site. The integer threshold of a lane with flip
    probability p is t = floor((1 - 2**-11) floor(p 2**64)) (:func:`acceptance_planes`;
    t < 2**64 even for p = 1), and bit-plane j of the thresholds is the word whose bit r is
    bit 64 - j of lane r's t (the plane of the lane's class a >= 2, 1 or 0, selected
    bitwise). Comparing MSB first, a lane is decided at the first j where R_j differs from
    its threshold bit (accept iff R_j = 0 < 1); lanes still undecided after 64 planes
    (floor(U 2**64) = t) are rejected. A lane therefore flips with probability exactly
    t / 2**64, within 2**-63 of (1 - 2**-11) p. A lane is decided after 2 planes on
    average. Every site computes the first PLANES_INLINE (8) words branch-free (vectorised
    over the sites of a run), the sites with lanes still undecided TAIL_PLANES (4) more
    (vectorised over the list of those sites), and the rare rest one word at a time until
    all their lanes are decided.

Random streams (counter-based, thread-count independent)
    Group g has a key k_g and a sweep counter w_g. In its sweep w the site with
    checkerboard-layout index x = (c L + i) L/2 + j // 2 (colour c = (i + j) mod 2, the
    layout of :func:`ising._kernels.checkerboard_permutation`) uses the words
    d(64 (w N + x) + m + 1), m = 0 ... 63 (plane m), with
    d(m) = mix64(k_g + m GAMMA) the counter-based SplitMix64 stream of
    :mod:`ising._kernels`. The m-th word of a site is a fixed function of (k_g, w, x, m)
    whether or not it is computed, and lane r reads only bit r of it: a lane's decision
    depends on its own bits at fixed positions and on its own spins only. Hence

    * the trajectory of replica c is a function of (seed, c, T_c, J_c, initial spins) and
      the number of sweeps only: not of the number of replicas, nor of the temperatures,
      couplings or states of the replicas sharing its word (a 1-replica run and replica 0
      of a 64-replica run agree bit for bit);
    * the order of the sites of one colour, the split of rows or groups over threads and
      the thread count do not change a single bit;
    * replicas in one group read different bits of the same words; SplitMix64's bits are
      independent to the precision of BigCrush, so the lanes are statistically independent
      chains (tested in tests/test_multispin.py through cross-replica correlations).

    Keys are spawned from ``numpy.random.SeedSequence(seed)``; the streams of two groups
    are windows of one 2**64-periodic Weyl sequence at random offsets, so G groups of n
    draws each overlap with probability below G**2 n / 2**64 (a 64 x 64 lattice uses
    2**18 counters per sweep: 16 groups for 2**20 sweeps give 2**-18).

References
----------
N. Metropolis, A. W. Rosenbluth, M. N. Rosenbluth, A. H. Teller and E. Teller,
J. Chem. Phys. 21, 1087 (1953).
S. V. Isakov, I. N. Zintchenko, T. F. Ronnow and M. Troyer, "Optimised simulated annealing
for Ising spin glasses", Comput. Phys. Commun. 192, 265 (2015) (multi-spin coding).
G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014 (SplitMix64).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, cast

import numpy as np
import numpy.typing as npt

from ._kernels import checkerboard_permutation
from ._multispin_kernels import (LANES, LAZY_BITS, PLANES, PLANES_INLINE, lane_counts,
                                 sweeps_groups, sweeps_rows, sweeps_serial)
from .autotune import FasterOf
from .bitplanes import acceptance_planes, lane_words, pack_spins, unpack_spins

__all__ = ["MultiSpinMetropolis", "pack_spins", "unpack_spins", "acceptance_planes",
           "LANES", "PLANES", "PLANES_INLINE", "LAZY_BITS", "ROWS_MIN_SIZE", "ROW_BLOCKS",
           "ROW_DEPTH", "PARALLEL_MIN_WORK", "PROBE_WORK"]

#: A single group (n_replicas <= 64) of at least this linear size chooses between the serial
#: and the row-parallel driver by their measured speed (``row_parallel=None``,
#: :class:`ising.autotune.FasterOf`). Each meeting of the row mode's threads waits for the
#: slowest one: on a machine with more runnable threads than cores a descheduled thread stalls
#: it for a scheduler time slice, and with the OpenMP threading layer's default active waiting
#: the waiting thread also takes the core the other one needs, so whether the row mode wins
#: depends on the load at the time; below this size a thread's share between two meetings
#: (at most L / 8 sweeps of L / 2 rows) is too short to pay for them.
ROWS_MIN_SIZE = 32
#: Row blocks (threads) of a single group in the row-parallel mode.
ROW_BLOCKS = 2
#: Most sweeps per two meetings of the row mode's threads (diamond tiling; cut to
#: L / (4 ROW_BLOCKS) so that the blocks have at least 4 rows per sweep).
ROW_DEPTH = 8
#: Calls with fewer word updates than this (n_groups * L^2 * n_sweeps) run serially.
PARALLEL_MIN_WORK = 20_000
#: Word updates of one probe of a driver in the measured choice (a few milliseconds).
PROBE_WORK = 2_000_000

_STATE_VERSION = 1


def _per_replica(name: str, value: npt.ArrayLike, n: int, *,
                 positive: bool) -> npt.NDArray[np.float64]:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {a.shape}")
    if not np.all(np.isfinite(a)) or (positive and not np.all(a > 0)):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}")
    return a


class MultiSpinMetropolis:
    """Checkerboard Metropolis of many 2D Ising replicas, 64 per machine word.

    Each replica is an exact, independent (lazy) Metropolis chain of the periodic L x L Ising
    model at zero field (flip probabilities exact to 2**-63, see the module docstring);
    replicas may have their own temperatures and couplings.

    Parameters
    ----------
    size : int
        Linear size L, even and >= 4.
    temperature : float or array_like of shape (n_replicas,)
        T > 0 of all replicas or of each (k_B = 1).
    coupling : float or array_like of shape (n_replicas,), default 1.0
        J of all replicas or of each (either sign).
    field : float, default 0.0
        Must be 0: the bit-sliced update implements h = 0 only. Use
        :class:`ising.samplers.MonteCarloSampler` (the scalar engine) for h != 0.
    n_replicas : int, default 64
        Number of replicas (chains); packed in ceil(n_replicas / 64) words per site.
    seed : int or None
        Root seed; ``None`` draws fresh entropy, recorded in :attr:`seed`.
    initial : {"random", "up"}
        Independent fair coins per replica (from its own stream) or all +1.
    row_parallel : bool or None
        Split the rows of each lattice over ROW_BLOCKS threads, meeting twice per ROW_DEPTH
        sweeps (diamond tiling in place: each thread advances its block's rows as far as their
        neighbours allow, then the rows around one block boundary; nothing is recomputed).
        ``None`` (default): a single group (n_replicas <= 64) of L >= ROWS_MIN_SIZE (32)
        measures the serial and the row-parallel drivers on short probes and runs the faster
        one, re-probing the slower one from time to time (:class:`ising.autotune.FasterOf`;
        the row mode wins on an idle machine and can lose many times over on one busier than
        its core count); several groups run one thread per group. ``True`` forces the row
        mode, ``False`` never uses it. The bytes never depend on this choice.
    Notes
    -----
    ``SeedSequence(seed).spawn(2)`` gives (init, run); replica c starts from
    ``init.spawn(n_replicas)[c]`` and group g takes its key from
    ``run.spawn(n_groups)[g]``, so replica c is the same chain whatever ``n_replicas`` and
    whatever the other replicas' parameters (see the module docstring for what holds).
    Groups (or, with ``row_parallel``, strips of rows) run on separate threads; the bytes
    never depend on the thread count or the mode.

    Examples
    --------
    >>> m = MultiSpinMetropolis(16, [2.0, 2.5, 3.0], n_replicas=3, seed=1).sweep(100)
    >>> m.spins.shape
    (3, 16, 16)
    """

    def __init__(self, size: int, temperature: npt.ArrayLike, coupling: npt.ArrayLike = 1.0,
                 field: float = 0.0, n_replicas: int = 64, seed: int | None = None,
                 initial: str = "random", *, row_parallel: bool | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4 \
                or size % 2:
            raise ValueError(f"size must be an even integer >= 4 for the multi-spin engine, "
                             f"got {size!r}")
        if isinstance(n_replicas, bool) or not isinstance(n_replicas, (int, np.integer)) \
                or n_replicas < 1:
            raise ValueError(f"n_replicas must be an integer >= 1, got {n_replicas!r}")
        try:
            h = float(field)
        except (TypeError, ValueError):
            raise ValueError(f"field must be a real number, got {field!r}") from None
        if h != 0.0:
            raise ValueError(f"the multi-spin engine implements field = 0 only, got field = {h}; "
                             "use the scalar engine (ising.samplers.MonteCarloSampler)")
        if initial not in ("random", "up"):
            raise ValueError(f"initial must be 'random' or 'up', got {initial!r}")
        if seed is None:
            seed = cast(int, np.random.SeedSequence().entropy) % (1 << 63)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.size = L = int(size)
        self.n_replicas = n = int(n_replicas)
        self.seed = int(seed)
        self.field = 0.0
        self.initial = initial
        self.temperatures = _per_replica("temperature", temperature, n, positive=True)
        self.couplings = _per_replica("coupling", coupling, n, positive=False)
        self.n_groups = -(-n // LANES)
        self.n_spins = L * L
        self.sweeps_done = 0
        #: True (always rows), False (never) or None (measured choice; see ``drivers``).
        self.row_parallel = None if row_parallel is None else bool(row_parallel)
        #: The measured choice between the serial (0) and row-parallel (1) drivers, when
        #: ``row_parallel`` is None for a single group of L >= ROWS_MIN_SIZE; else None.
        self.drivers = None
        if row_parallel is None and self.n_groups == 1 and L >= ROWS_MIN_SIZE:
            self.drivers = FasterOf(2, probe_work=PROBE_WORK)

        # per-lane flip probabilities of the classes a >= 2, a = 1, a = 0 (dE <= 0, 4|J|, 8|J|),
        # lazy; padding lanes always flip, so they never keep a comparison running
        pad = self.n_groups * LANES
        k = np.abs(self.couplings) / self.temperatures
        planes = []
        for p in (np.ones(n), np.exp(-4.0 * k), np.exp(-8.0 * k)):
            planes.append(acceptance_planes(np.r_[p, np.ones(pad - n)], lazy=True)[0])
        self._tp = np.ascontiguousarray(np.stack(planes, axis=1))  # (n_groups, 3, PLANES)
        self._sure = lane_words(np.arange(pad) >= n)
        self._afm = lane_words(np.r_[self.couplings < 0, np.zeros(pad - n, dtype=bool)])

        init_ss, run_ss = np.random.SeedSequence(self.seed).spawn(2)
        spins = np.ones((n, L, L), dtype=np.int8)
        if initial == "random":
            for c, ss in enumerate(init_ss.spawn(n)):
                bits = np.random.default_rng(ss).integers(0, 2, (L, L), dtype=np.int8)
                spins[c] = 2 * bits - 1
        self._perm = checkerboard_permutation(L)
        self._words = np.empty((self.n_groups, L * L), dtype=np.uint64)
        self._set_words(spins)
        self._buf = np.empty((max(self.n_groups, ROW_BLOCKS), 7, (L + 2) * (L // 2)),
                             dtype=np.uint64)
        self._rng = np.zeros((self.n_groups, 2), dtype=np.uint64)  # [key, sweeps done]
        for g, ss in enumerate(run_ss.spawn(self.n_groups)):
            self._rng[g, 0] = ss.generate_state(1, dtype=np.uint64)[0]

    # ------------------------------------------------------------------ running
    def sweep(self, n_sweeps: int = 1) -> MultiSpinMetropolis:
        """Advance every replica by ``n_sweeps`` checkerboard sweeps (N attempts each).

        Returns
        -------
        self
        """
        if isinstance(n_sweeps, bool) or not isinstance(n_sweeps, (int, np.integer)) \
                or n_sweeps < 0:
            raise ValueError(f"n_sweeps must be an integer >= 0, got {n_sweeps!r}")
        n = int(n_sweeps)
        if n == 0:
            return self
        work = self.n_groups * self.n_spins * n
        if work < PARALLEL_MIN_WORK:
            self._run_driver(0, n)
        elif self.drivers is not None:
            self.drivers.run(self._run_driver, n, work_per_unit=self.n_groups * self.n_spins)
        else:
            self._run_driver(1 if self.row_parallel else 2 if self.n_groups > 1 else 0, n)
        self.sweeps_done += n
        return self

    def _run_driver(self, driver: int, n: int) -> None:
        """``n`` sweeps with driver 0 (serial), 1 (rows over threads) or 2 (groups over
        threads); all three give the same bytes."""
        args = (self._words, self.size, self._rng, self._afm, self._tp, self._sure, n)
        if driver == 1:
            sweeps_rows(*args, self._buf[:ROW_BLOCKS], ROW_DEPTH)
        elif driver == 2:
            sweeps_groups(*args, self._buf)
        else:
            sweeps_serial(*args, self._buf)

    # ------------------------------------------- the sampler interface of ising.validation
    #: Lattice dimension (the engine is 2D).
    dimension = 2

    @property
    def n_chains(self) -> int:
        """Number of replicas (the chain count of :mod:`ising.validation`'s interface)."""
        return self.n_replicas

    @property
    def temperature(self) -> npt.NDArray[np.float64]:
        """Per-replica temperatures (n_replicas,) (:func:`ising.validation.validate_point`
        judges every replica against the exact values at its own T)."""
        return self.temperatures

    @property
    def coupling(self) -> npt.NDArray[np.float64]:
        """Per-replica couplings (n_replicas,)."""
        return self.couplings

    # -------------------------------------------------------------- observables
    @property
    def spins(self) -> npt.NDArray[np.int8]:
        """Copy of the configurations, int8 of shape (n_replicas, L, L)."""
        flat = np.empty_like(self._words)
        flat[:, self._perm] = self._words
        return unpack_spins(flat.reshape(self.n_groups, self.size, self.size), self.n_replicas)

    def replica_spins(self, replicas: slice | Sequence[int] | npt.NDArray[np.integer[Any]]
                      = slice(None)) -> npt.NDArray[np.int8]:
        """Configurations of some replicas, int8 of shape (n_selected, L, L).

        Parameters
        ----------
        replicas : slice, int array or list
            Replica indices (as for indexing an array of length n_replicas); only the words
            of the groups holding them are unpacked.
        """
        idx = np.arange(self.n_replicas)[replicas]
        groups, where = np.unique(idx // LANES, return_inverse=True)
        flat = np.empty((groups.size, self.n_spins), dtype=np.uint64)
        flat[:, self._perm] = self._words[groups]
        s = unpack_spins(flat.reshape(groups.size, self.size, self.size), groups.size * LANES)
        return s[where.reshape(-1) * LANES + idx % LANES]

    @property
    def words(self) -> npt.NDArray[np.uint64]:
        """Copy of the packed words, uint64 (n_groups, L, L) (see :func:`pack_spins`)."""
        flat = np.empty_like(self._words)
        flat[:, self._perm] = self._words
        return flat.reshape(self.n_groups, self.size, self.size)

    def kernel_arrays(self) -> dict[str, npt.NDArray[np.uint64]]:
        """Copies of the arrays the Numba drivers advance, for tests and diagnostics.

        Returns
        -------
        dict
            ``words`` uint64 (n_groups, L*L) in checkerboard layout
            (:func:`ising._kernels.checkerboard_permutation`), ``rng`` uint64 (n_groups, 2)
            (stream key, sweeps done), ``afm`` and ``sure`` uint64 (n_groups,) (lanes with
            J < 0; padding lanes that always flip), ``tp`` uint64 (n_groups, 3, PLANES) (the
            lazy threshold bit-planes of the classes a >= 2, a = 1, a = 0): the arguments of
            :func:`ising._multispin_kernels.sweeps_serial` and the other drivers.
        """
        return {"words": self._words.copy(), "rng": self._rng.copy(), "afm": self._afm.copy(),
                "sure": self._sure.copy(), "tp": self._tp.copy()}

    def _set_words(self, spins: npt.NDArray[np.int8]) -> None:
        self._words[...] = pack_spins(spins).reshape(self.n_groups, -1)[:, self._perm]

    def _counts(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        up = np.empty((self.n_groups, LANES), dtype=np.int64)
        anti = np.empty((self.n_groups, LANES), dtype=np.int64)
        lane_counts(self._words, self.size, up, anti)
        return up.ravel()[:self.n_replicas], anti.ravel()[:self.n_replicas]

    def energy(self) -> npt.NDArray[np.float64]:
        """Energy per spin of every replica (its own J), float64 (n_replicas,).

        H/N = -J (2N - 2 n_anti) / N from the per-lane count n_anti of antiparallel bonds
        (2N bonds), counted on the packed words (the same numbers as
        :func:`ising.lattice.energy_per_spin` of :attr:`spins`, without unpacking).
        """
        _, anti = self._counts()
        n = self.n_spins
        return -self.couplings * (2 * n - 2 * anti) / n

    def magnetization(self) -> npt.NDArray[np.float64]:
        """Magnetization per spin (signed) of every replica, float64 (n_replicas,)."""
        up, _ = self._counts()
        return (2 * up - self.n_spins) / self.n_spins

    # -------------------------------------------------------------------- state
    def get_state(self) -> dict[str, Any]:
        """Everything needed for a bit-exact resume, as a dict of numpy arrays.

        Keys: ``spins`` (int8 (n_replicas, L, L)), ``rng`` (uint64 (n_groups, 2): key and
        sweeps done of each group's counter-based stream), ``sweeps`` and ``version``.
        """
        return {"spins": self.spins, "rng": self._rng.copy(),
                "sweeps": np.array(self.sweeps_done, dtype=np.int64),
                "version": np.array(_STATE_VERSION, dtype=np.int64)}

    def set_state(self, state: Mapping[str, Any]) -> MultiSpinMetropolis:
        """Restore a state from :meth:`get_state` of an identically built instance.

        Raises
        ------
        ValueError
            If a key is missing, the version is unknown or an array does not fit.
        """
        for key in ("spins", "rng", "sweeps"):
            if key not in state:
                raise ValueError(f"multi-spin state lacks {key!r}")
        version = int(np.asarray(state.get("version", _STATE_VERSION)))
        if version != _STATE_VERSION:
            raise ValueError(f"multi-spin state version {version} is not supported "
                             f"(expected {_STATE_VERSION})")
        spins = np.asarray(state["spins"])
        rng = np.asarray(state["rng"])
        shape = (self.n_replicas, self.size, self.size)
        if spins.shape != shape:
            raise ValueError(f"state spins have shape {spins.shape}, expected {shape}")
        if rng.shape != self._rng.shape or rng.dtype != np.uint64:
            raise ValueError(f"state rng must be uint64 of shape {self._rng.shape}")
        if not np.all((spins == 1) | (spins == -1)):
            raise ValueError("state spins must all be -1 or +1")
        self._set_words(spins)
        self._rng[...] = rng
        self.sweeps_done = int(np.asarray(state["sweeps"]))
        return self

    def __repr__(self) -> str:
        return (f"MultiSpinMetropolis(size={self.size}, n_replicas={self.n_replicas}, "
                f"seed={self.seed}, row_parallel={self.row_parallel})")

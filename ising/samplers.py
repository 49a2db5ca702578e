"""Monte Carlo samplers for the periodic 1D and 2D Ising model.

Public API (docs/CONTRACTS.md):

- :class:`MonteCarloSampler`: many independent chains advanced by Numba kernels
  (:mod:`ising._kernels`), with exact save/restore of the full state.
- :func:`calibrate`: pilot run measuring the integrated autocorrelation time and choosing
  burn-in and thinning from it.
- :func:`sample`: one call from parameters to decorrelated configurations with energy,
  magnetization and the metadata of the HDF5 schema (docs/ARCHITECTURE.md).

Conventions: H = -J sum_<ij> s_i s_j - h sum_i s_i, weight exp(-H/T), K = J/T; periodic
boundaries; spins int8 in {-1, +1}. A sweep is N = L^d attempted single-spin updates
(Metropolis, heat-bath), one full Swendsen-Wang update, or a fixed number of Wolff clusters
n_c = max(1, round(N / <|C|>)) flipping N spins on average, where the mean cluster size <|C|>
is measured once per sampler by a deterministic pilot on copies of the chains (see
:meth:`MonteCarloSampler.sweep`).

Visiting schemes of the local algorithms (checkerboard, lazy checkerboard Metropolis, random
site) and why each is ergodic: :mod:`ising.schemes`. Argument checks: :mod:`ising.checks`;
calibration: :mod:`ising.calibration`; the sampling schedule shared with
:func:`ising.dataset.generate_dataset`: :mod:`ising.schedule`.

Growing Wolff clusters *until* N spins are flipped would bias the samples: the cluster that
ends such a sweep is size-biased, and the state after a large cluster flip is not
Boltzmann-distributed (on a 16-spin chain at K = 1 this shifts <E>/N by about 10 %). The
number of clusters per sweep therefore never depends on the current trajectory.

References
----------
N. Metropolis et al., J. Chem. Phys. 21, 1087 (1953).
R. J. Glauber, J. Math. Phys. 4, 294 (1963) (heat-bath / Glauber dynamics).
U. Wolff, Phys. Rev. Lett. 62, 361 (1989).
R. H. Swendsen and J.-S. Wang, Phys. Rev. Lett. 58, 86 (1987).
A. D. Sokal, "Monte Carlo methods in statistical mechanics", Cargese lectures (1996).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field as dc_field
from types import SimpleNamespace
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _kernels, io
from .calibration import CALIBRATION_WINDOW, calibrate, tau_of_series
from .checks import check_int, check_real, resolve_seed
from .autotune import FasterOf
from .multispin import MultiSpinMetropolis
from .numba_builds import Kernel
from .lattice import energy_per_spin, magnetization_per_spin, neighbour_table
from .schedule import equilibrate, n_rounds, sample_rounds
from .schemes import (ALGORITHMS, CLUSTER_ALGORITHMS, LAZY_PROPOSAL, LOCAL_ALGORITHMS, SCHEMES,
                      flip_probabilities, flip_thresholds, probability_threshold,
                      visiting_scheme)

__all__ = ["ALGORITHMS", "ENGINES", "INITIAL_STATES", "MonteCarloSampler", "SampleResult",
           "calibrate", "sample", "select_engine", "visiting_scheme",
           # defined in ising.schemes / ising.calibration, importable from here as before
           "LOCAL_ALGORITHMS", "CLUSTER_ALGORITHMS", "SCHEMES", "LAZY_PROPOSAL",
           "CALIBRATION_WINDOW", "flip_probabilities", "metadata_for"]

logger = logging.getLogger(__name__)

#: Initial configurations: independent fair coins, all +1, all -1, or the Neel
#: (checkerboard, antiferromagnetic) state s = (-1)**(coordinate sum).
INITIAL_STATES = ("random", "up", "down", "neel")
#: Engines: "scalar" (one int8 per spin, every algorithm) or "multispin" (64 replicas per
#: machine word, :class:`ising.multispin.MultiSpinMetropolis`); "auto" picks (select_engine).
ENGINES = ("auto", "scalar", "multispin")
#: engine="auto" runs the multi-spin engine from this many chains on (it packs 64 chains per
#: word: below about half a word the scalar chain-vectorised driver is as fast).
MULTISPIN_MIN_CHAINS = 32

#: 2D lattices with at least this linear size, simulated as fewer than LANES_MIN_CHAINS
#: chains, use the parallel row mode (rows of each colour split over threads, two barriers
#: per sweep). Below it the serial build runs: a barrier waits for the slowest thread, and on
#: a shared machine a descheduled thread stalls it for a scheduler time slice, which on small
#: lattices costs far more than the threads gain.
ROW_MODE_MIN_SIZE = 1024
#: A single 2D checkerboard chain of at least this linear size (and row_parallel=None)
#: measures the serial driver against the parallel row mode and runs the faster
#: (:class:`ising.autotune.FasterOf`): the row mode's barriers win on an idle machine and
#: collapse on one busier than its core count, which only a measurement at run time can tell.
ROW_MODE_AUTO_SIZE = 256
#: Spin updates of one probe of a driver in that choice (a few milliseconds).
ROW_PROBE_WORK = 4_000_000

#: 2D local algorithms with at least this many chains run the chain-vectorised driver
#: (``_kernels.local_2d_lanes``): blocks of LANES_BLOCK chains stored site-major, the innermost
#: loop over the chains of a block, one thread per block.
LANES_MIN_CHAINS = 8
LANES_BLOCK = 16

#: Calls with fewer single-spin updates than this (n_chains * N * n_sweeps) run the serial
#: build of a kernel: starting threads would cost more than it saves. Serial and parallel
#: builds give identical bytes.
PARALLEL_MIN_WORK = 100_000

_STATE_VERSION = 2  # 2: counter-based streams (1: xoshiro everywhere, per-row streams)


def select_engine(engine: str, algorithm: str, dimension: int, size: int, field: float,
                  n_chains: int, initial: str | Sequence[str] = "random"
                  ) -> Literal["scalar", "multispin"]:
    """The engine that runs a sampler: ``"scalar"`` or ``"multispin"``.

    The multi-spin engine implements lazy checkerboard Metropolis in 2D at h = 0 for even
    L >= 4 (the same Markov chain as the scalar engine, with other random numbers), started
    from "random" or "up". ``engine="auto"`` chooses it for such problems with at least
    :data:`MULTISPIN_MIN_CHAINS` chains, the scalar engine otherwise; ``"multispin"`` refuses
    problems it does not implement (ValueError naming the reason).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "scalar":
        return "scalar"
    why = None
    if algorithm != "metropolis":
        why = f"algorithm {algorithm!r} (it runs metropolis only)"
    elif dimension != 2:
        why = "a 1D chain (it runs 2D lattices only)"
    elif size < 4 or size % 2:
        why = f"L = {size} (it needs an even L >= 4)"
    elif field != 0.0:
        why = f"field = {field} (it implements h = 0 only)"
    elif not (isinstance(initial, str) and initial in ("random", "up")):
        why = f"initial = {initial!r} (it starts from 'random' or 'up')"
    if engine == "multispin":
        if why:
            raise ValueError(f"the multispin engine cannot run {why}; use engine='scalar'")
        return "multispin"
    return "multispin" if why is None and n_chains >= MULTISPIN_MIN_CHAINS else "scalar"


def initial_states(initial: str | Sequence[str], n_chains: int) -> list[str]:
    """The initial state of every chain: ``initial`` (one of :data:`INITIAL_STATES`) repeated,
    or a sequence of one per chain; ValueError otherwise."""
    try:
        starts = [initial] * n_chains if isinstance(initial, str) else list(initial)
    except TypeError:
        raise ValueError(f"initial must be a string or a sequence of strings, got {initial!r}") from None
    if len(starts) != n_chains:
        raise ValueError(f"initial must be one string or one per chain ({n_chains}), "
                         f"got {len(starts)}")
    for start in starts:
        if start not in INITIAL_STATES:
            raise ValueError(f"initial must be one of {', '.join(INITIAL_STATES)}, got {start!r}")
    return starts


def check_model(algorithm: str, coupling: float, field: float) -> None:
    """Refuse the (algorithm, J, h) the samplers do not implement or that are not ergodic."""
    if algorithm == "metropolis" and coupling == 0.0 and field == 0.0:
        raise ValueError("metropolis with coupling = 0 and field = 0 accepts every move and is "
                         "periodic (not ergodic); use heatbath for free spins")
    if algorithm in CLUSTER_ALGORITHMS:
        if field != 0.0:
            raise ValueError(f"{algorithm} is implemented for field = 0 only, got field = {field}; "
                             "use metropolis or heatbath")
        if coupling < 0.0:
            raise ValueError(f"{algorithm} needs a ferromagnetic coupling >= 0, got {coupling}; "
                             "use metropolis or heatbath")


class MonteCarloSampler:
    """Independent Markov chains for the periodic Ising model.

    Parameters
    ----------
    dimension : {1, 2}
        1: periodic chain of ``size`` spins; 2: periodic ``size`` x ``size`` square lattice.
    size : int
        Linear size L >= 2 (any size; the visiting scheme of the local algorithms follows from
        the algorithm, dimension and size, see :func:`visiting_scheme`).
    temperature : float
        T > 0 (k_B = 1).
    coupling : float, default 1.0
        J; cluster algorithms need J >= 0.
    field : float, default 0.0
        h; cluster algorithms need h = 0.
    algorithm : {"metropolis", "heatbath", "wolff", "swendsen-wang"}
    n_chains : int, default 1
        Number of independent chains, run in parallel (prange over chains).
    seed : int or None
        Root seed; chain (and row) streams are spawned from ``SeedSequence(seed)``. ``None``
        draws fresh entropy and records it in :attr:`seed`.
    initial : {"random", "up", "down", "neel"} or sequence of them
        Initial configuration: independent fair coins (from the chain's own stream), all +1,
        all -1, or the Neel state (-1)**(coordinate sum) (antiferromagnetic); one value for
        every chain or one per chain.
    engine : {"auto", "scalar", "multispin"}, default "auto"
        ``"multispin"`` packs 64 chains per machine word (:mod:`ising.multispin`): the same
        lazy checkerboard Metropolis chain, each chain with its own random numbers, for 2D,
        h = 0, even L >= 4; ``"auto"`` uses it from MULTISPIN_MIN_CHAINS (32) chains on
        (:func:`select_engine`). The two engines draw different random numbers, so the same
        seed gives other (equally valid) samples; a state resumes only on its own engine.
    row_parallel : bool or None
        Local algorithms in 2D with fewer than LANES_MIN_CHAINS (8) chains: split the rows of
        each lattice over threads (a barrier per colour). ``None`` (default): a single chain
        with L >= ROW_MODE_AUTO_SIZE (256) measures the row mode against the serial driver
        and runs the faster (:attr:`row_drivers`, :class:`ising.autotune.FasterOf`; which one
        wins depends on the machine's load at run time); ``True`` forces the row mode (in
        parallel from ROW_MODE_MIN_SIZE, 1024). The draws are counter-based (a pure
        function of chain key, sweep and site, see :mod:`ising._kernels`), so this choice, the
        chain-vectorised driver used for >= 8 chains, and the thread count never change the
        bytes: the same seed gives the same samples in every mode at any ``NUMBA_NUM_THREADS``.

    Notes
    -----
    Which compiled driver runs depends only on the problem size (except the measured choice
    of a single chain of L >= ROW_MODE_AUTO_SIZE, see ``row_parallel``):
    >= 8 chains of a 2D local algorithm use the chain-vectorised driver (blocks of
    LANES_BLOCK chains, one thread per block); calls with fewer than PARALLEL_MIN_WORK spin
    updates, a single block, or a lattice below ROW_MODE_MIN_SIZE in row mode run the serial
    build. Serial and parallel builds give identical bytes.

    H = -J sum_<ij> s_i s_j - h sum_i s_i with weight exp(-H/T) (docs/CONTRACTS.md).
    Local algorithms visit the sites in the scheme of :func:`visiting_scheme` (stored in
    :attr:`scheme`); why each is ergodic, and the sweep definitions: see the module docstring.
    """

    def __init__(self, dimension: int, size: int, temperature: float, coupling: float = 1.0,
                 field: float = 0.0, algorithm: str = "metropolis", n_chains: int = 1,
                 seed: int | None = None, initial: str | Sequence[str] = "random",
                 *, engine: str = "auto", row_parallel: bool | None = None):
        if isinstance(dimension, bool) or dimension not in (1, 2):
            raise ValueError(f"dimension must be 1 or 2, got {dimension!r}")
        self.dimension = int(dimension)
        self.size = check_int("size", size, 2)
        self.temperature = check_real("temperature", temperature, positive=True)
        self.coupling = check_real("coupling", coupling)
        self.field = check_real("field", field)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        self.algorithm = algorithm
        self.n_chains = check_int("n_chains", n_chains, 1)
        starts = initial_states(initial, self.n_chains)
        self.initial = initial if isinstance(initial, str) else tuple(starts)
        L = self.size
        #: Visiting scheme: "checkerboard", "random-site" or "cluster" (:func:`visiting_scheme`).
        self.scheme = visiting_scheme(algorithm, self.dimension, L)
        check_model(algorithm, self.coupling, self.field)
        one_lattice = self.scheme == "checkerboard" and self.dimension == 2 and self.n_chains == 1
        #: Measured choice serial (0) / rows (1) (:class:`ising.autotune.FasterOf`), or None.
        self.row_drivers = (FasterOf(2, probe_work=ROW_PROBE_WORK) if row_parallel is None
                            and one_lattice and L >= ROW_MODE_AUTO_SIZE else None)
        if row_parallel is None:
            row_parallel = one_lattice and L >= ROW_MODE_MIN_SIZE
        elif row_parallel and not (self.scheme == "checkerboard" and self.dimension == 2):
            raise ValueError("row_parallel is available for the 2D checkerboard scheme only "
                             "(metropolis/heatbath at even L >= 4)")
        self.row_parallel = bool(row_parallel)
        self.seed = resolve_seed(seed)
        #: "scalar" or "multispin" (:func:`select_engine`).
        self.engine = select_engine(engine, algorithm, self.dimension, L, self.field,
                                    self.n_chains, initial)
        self._multispin = None
        if self.engine == "multispin":
            assert isinstance(initial, str)  # select_engine chose multispin only for one start
            self._multispin = MultiSpinMetropolis(L, self.temperature, self.coupling, 0.0,
                                                  n_replicas=self.n_chains, seed=self.seed,
                                                  initial=initial)
        self.n_spins = L ** self.dimension
        self.shape = (self.n_chains,) + (L,) * self.dimension

        self._build_tables()
        self._seed_chains(starts)
        self._counts = np.zeros((self.n_chains, 2), dtype=np.int64)
        self.sweeps_done = 0
        #: Wolff clusters per sweep (0 until measured by the pilot at the first sweep).
        self.clusters_per_sweep = 0

    def _build_tables(self) -> None:
        """Flip thresholds (local algorithms) or the bond threshold and neighbour table."""
        L, d = self.size, self.dimension
        if self.algorithm in LOCAL_ALGORITHMS:
            # lazy Metropolis on checkerboards: see flip_thresholds and ising.schemes
            self._thr = flip_thresholds(self.algorithm, self.scheme, d, self.temperature,
                                        self.coupling, self.field)
            if self.scheme == "random-site":
                self._nbr = neighbour_table(L, d).astype(np.int32)
        else:
            k = self.coupling / self.temperature
            self._p_thr = np.uint64(probability_threshold(-math.expm1(-2.0 * k)))
            self._nbr = neighbour_table(L, d).astype(np.int32)

    def _seed_chains(self, starts: Sequence[str]) -> None:
        """Initial configurations and RNG streams: chain c owns SeedSequence(seed).spawn(n)[c]
        (child 0 draws the initial state, child 1 seeds the chain's stream)."""
        L = self.size
        counter_based = ((self.scheme == "checkerboard" and self.dimension == 2)
                         or self.algorithm == "wolff")
        self._rng = np.zeros((self.n_chains, 1, 4), dtype=np.uint64)
        self._spins = np.empty((self.n_chains, self.n_spins), dtype=np.int8)
        for c, ss in enumerate(np.random.SeedSequence(self.seed).spawn(self.n_chains)):
            init_ss, run_ss = ss.spawn(2)
            if starts[c] == "random":
                bits = np.random.default_rng(init_ss).integers(0, 2, self.n_spins, dtype=np.int8)
                self._spins[c] = 2 * bits - 1
            elif starts[c] == "up":
                self._spins[c] = 1
            elif starts[c] == "down":
                self._spins[c] = -1
            else:
                parity = np.indices((L,) * self.dimension).sum(axis=0).ravel() % 2
                self._spins[c] = (1 - 2 * parity).astype(np.int8)
            if counter_based:
                # [key, sweeps done, 0, 0] of the counter-based generator (ising._kernels)
                self._rng[c, 0, 0] = run_ss.generate_state(1, dtype=np.uint64)[0]
            else:
                self._rng[c, 0] = self._stream_state(run_ss)
        # local algorithms in 2D keep the lattice in the kernels' checkerboard layout
        self._perm = (_kernels.checkerboard_permutation(L)
                      if self.scheme == "checkerboard" and self.dimension == 2 else None)
        if self._perm is not None:
            self._spins = np.ascontiguousarray(self._spins[:, self._perm])

    @staticmethod
    def _stream_state(ss: np.random.SeedSequence) -> NDArray[np.uint64]:
        # numpy's stub types generate_state as uint32 | uint64 whatever the dtype asked for
        st: NDArray[np.uint64] = ss.generate_state(4, dtype=np.uint64)  # type: ignore[assignment]
        if not st.any():  # xoshiro's only forbidden state; probability 2**-256
            st[0] = 1
        return st

    # ------------------------------------------------------------------ running
    def _one_lattice_driver(self, driver: int, n: int) -> None:
        """``n`` sweeps of a single 2D checkerboard chain: serial (0) or rows over threads (1)."""
        args = (self._spins, self.size, self._rng, self._thr, n)
        if driver == 1:
            self._kernel("local_2d_rows", True)(*args)
        else:
            self._kernel("local_2d_chains", False)(*args)

    def sweep(self, n_sweeps: int = 1) -> MonteCarloSampler:
        """Advance every chain by ``n_sweeps`` sweeps (see the module docstring).

        Returns
        -------
        self
        """
        n = check_int("n_sweeps", n_sweeps, 0)
        if n == 0:
            return self
        if self._multispin is not None:
            self._multispin.sweep(n)
            self.sweeps_done += n
            return self
        L, d = self.size, self.dimension
        work = self.n_chains * self.n_spins * n
        if self.scheme == "checkerboard" and d == 2:
            # counter-based draws: all three drivers give identical bytes (see _kernels)
            if self.n_chains >= LANES_MIN_CHAINS:
                n_blocks = -(-self.n_chains // LANES_BLOCK)
                par = n_blocks > 1 and work >= PARALLEL_MIN_WORK
                self._kernel("local_2d_lanes", par)(self._spins, L, self._rng, self._thr,
                                                    n, LANES_BLOCK)
            elif self.row_drivers is not None and work >= PARALLEL_MIN_WORK:
                self.row_drivers.run(self._one_lattice_driver, n, work_per_unit=self.n_spins)
            elif self.row_parallel:
                # two barriers per sweep: only for very large lattices
                par = L >= ROW_MODE_MIN_SIZE and work >= PARALLEL_MIN_WORK
                self._kernel("local_2d_rows", par)(self._spins, L, self._rng, self._thr, n)
            else:
                par = self.n_chains > 1 and work >= PARALLEL_MIN_WORK
                self._kernel("local_2d_chains", par)(self._spins, L, self._rng, self._thr, n)
            self.sweeps_done += n
            return self
        par = self.n_chains > 1 and work >= PARALLEL_MIN_WORK
        if self.scheme == "random-site":
            self._kernel("random_site_chains", par)(self._spins, self._nbr, self._rng, self._thr, n)
        elif self.algorithm in LOCAL_ALGORITHMS:
            self._kernel("local_1d_chains", par)(self._spins, L, self._rng, self._thr, n)
        elif self.algorithm == "wolff":
            if self.clusters_per_sweep == 0:
                self.clusters_per_sweep = self._wolff_pilot()
            self._kernel("wolff_chains", par)(self._spins, self._nbr, self._rng, self._p_thr, 0,
                                              n * self.clusters_per_sweep, self._counts)
        else:
            self._kernel("sw_chains", par)(self._spins, self._nbr, self._rng, self._p_thr, n)
        self.sweeps_done += n
        return self

    @staticmethod
    def _kernel(name: str, parallel: bool) -> Kernel:
        return getattr(_kernels, name if parallel else name + "_serial")

    def _wolff_pilot(self, n_warm: int = 20, n_measure: int = 20) -> int:
        """Mean Wolff cluster size -> clusters per sweep, from copies of the chains.

        The pilot grows clusters until N spins flip per pilot sweep, on copies of the current
        configurations with streams spawned from the seed (child ``n_chains`` of
        ``SeedSequence(seed)``), so the sampler's own chains and streams are untouched and the
        result is deterministic.
        """
        spins = self._spins.copy()
        pilot = np.random.SeedSequence(self.seed).spawn(self.n_chains + 1)[-1]
        rng = np.zeros((self.n_chains, 1, 4), dtype=np.uint64)
        for c, ss in enumerate(pilot.spawn(self.n_chains)):
            rng[c, 0, 0] = ss.generate_state(1, dtype=np.uint64)[0]
        counts = np.zeros((self.n_chains, 2), dtype=np.int64)
        args = (spins, self._nbr, rng, self._p_thr)
        kern = self._kernel("wolff_chains", self.n_chains > 1
                            and self.n_chains * self.n_spins * n_warm >= PARALLEL_MIN_WORK)
        kern(*args, n_warm, 0, counts)
        counts[...] = 0
        kern(*args, n_measure, 0, counts)
        mean_size = counts[:, 0].sum() / counts[:, 1].sum()
        n_c = max(1, int(round(self.n_spins / mean_size)))
        logger.info("Wolff pilot: mean cluster size %.1f of N = %d -> %d clusters per sweep",
                    mean_size, self.n_spins, n_c)
        return n_c

    def cluster_steps(self, n_clusters: int) -> NDArray[np.int64]:
        """Grow exactly ``n_clusters`` Wolff clusters in every chain (for benchmarks).

        Does not count as sweeps. Returns the number of spins flipped per chain.
        """
        if self.algorithm != "wolff":
            raise ValueError("cluster_steps needs algorithm='wolff'")
        n = check_int("n_clusters", n_clusters, 1)
        before = self._counts[:, 0].copy()
        self._kernel("wolff_chains", self.n_chains > 1)(self._spins, self._nbr, self._rng,
                                                        self._p_thr, 0, n, self._counts)
        return self._counts[:, 0] - before

    @property
    def mean_cluster_size(self) -> float:
        """Mean Wolff cluster size so far (NaN before the first cluster or for other algorithms)."""
        k = self._counts[:, 1].sum()
        return float(self._counts[:, 0].sum() / k) if k else float("nan")

    # -------------------------------------------------------------- observables
    @property
    def spins(self) -> NDArray[np.int8]:
        """Copy of the configurations, int8 of shape (n_chains, L) or (n_chains, L, L)."""
        return self._flat_spins().reshape(self.shape)

    def chain_spins(self, n_chains: int | None = None) -> NDArray[np.int8]:
        """Copy of the configurations of the first ``n_chains`` chains (all when None), int8 of
        shape (n, L) or (n, L, L)."""
        x = self._flat_spins(None if n_chains is None else slice(0, n_chains))
        return x.reshape((x.shape[0],) + self.shape[1:])

    def _flat_spins(self, chains: slice | None = None) -> NDArray[np.int8]:
        """Row-major configurations (a new array), shape (n_chains, N); ``chains`` slices."""
        if self._multispin is not None:
            x = self._multispin.spins if chains is None else self._multispin.spins[chains]
            return x.reshape(x.shape[0], -1)
        x = self._spins if chains is None else self._spins[chains]
        if self._perm is None:
            return x.copy()
        out = np.empty_like(x)
        out[:, self._perm] = x
        return out

    def energy(self) -> NDArray[np.float64]:
        """Energy per spin of every chain, float64 (n_chains,)."""
        if self._multispin is not None:
            return self._multispin.energy()
        return energy_per_spin(self.spins, self.coupling, self.field,
                               self.dimension)

    def magnetization(self) -> NDArray[np.float64]:
        """Magnetization per spin (signed) of every chain, float64 (n_chains,)."""
        if self._multispin is not None:
            return self._multispin.magnetization()
        return magnetization_per_spin(self._spins, 1)

    # -------------------------------------------------------------------- state
    def get_state(self) -> dict[str, NDArray[Any]]:
        """Everything needed for a bit-exact resume, as a dict of numpy arrays.

        Keys: ``spins`` (int8), ``rng`` (uint64[n_chains, 1, 4]: ``[key, counter, 0, 0]`` of
        the counter-based generator for 2D local algorithms and Wolff, xoshiro256** states
        otherwise), ``sweeps``,
        ``counts`` and ``clusters_per_sweep`` (Wolff bookkeeping), ``scheme`` (index into
        ``SCHEMES``), ``engine`` (1 for multispin, whose ``rng`` is its (n_groups, 2) streams)
        and ``version``.
        """
        if self._multispin is not None:
            inner = self._multispin.get_state()
            return {"spins": inner["spins"], "rng": inner["rng"],
                    "sweeps": np.array(self.sweeps_done, dtype=np.int64),
                    "scheme": np.array(SCHEMES.index(self.scheme), dtype=np.int64),
                    "engine": np.array(1, dtype=np.int64),
                    "multispin_version": inner["version"],
                    "version": np.array(_STATE_VERSION, dtype=np.int64)}
        return {
            "spins": self.spins,
            "rng": self._rng.copy(),
            "sweeps": np.array(self.sweeps_done, dtype=np.int64),
            "counts": self._counts.copy(),
            "clusters_per_sweep": np.array(self.clusters_per_sweep, dtype=np.int64),
            "scheme": np.array(SCHEMES.index(self.scheme), dtype=np.int64),
            "version": np.array(_STATE_VERSION, dtype=np.int64),
        }

    def set_state(self, state: Mapping[str, ArrayLike]) -> MonteCarloSampler:
        """Restore a state returned by :meth:`get_state` of an identically built sampler.

        Raises
        ------
        ValueError
            If a key is missing or an array does not match this sampler's shape.
        """
        for key in ("spins", "rng", "sweeps"):
            if key not in state:
                raise ValueError(f"sampler state lacks {key!r}")
        version = int(np.asarray(state.get("version", _STATE_VERSION)))
        if version != _STATE_VERSION:
            raise ValueError(f"sampler state version {version} is not supported (expected {_STATE_VERSION})")
        saved_engine = "multispin" if int(np.asarray(state.get("engine", 0))) == 1 else "scalar"
        if saved_engine != self.engine:
            raise ValueError(f"sampler state was made by the {saved_engine} engine, this sampler "
                             f"runs the {self.engine} engine (pass engine={saved_engine!r})")
        if self._multispin is not None:
            self._multispin.set_state({"spins": state["spins"], "rng": state["rng"],
                                       "sweeps": state["sweeps"],
                                       "version": state.get("multispin_version", 1)})
            self.sweeps_done = int(np.asarray(state["sweeps"]))
            return self
        if "scheme" in state:
            code = int(np.asarray(state["scheme"]))
            saved = SCHEMES[code] if 0 <= code < len(SCHEMES) else f"code {code}"
            if saved != self.scheme:
                raise ValueError(f"sampler state was made by the {saved!r} visiting scheme, this "
                                 f"sampler uses {self.scheme!r}")
        elif self.scheme == "random-site":
            raise ValueError("sampler state predates the random-site scheme: it was made by the "
                             "earlier checkerboard Metropolis, which was not ergodic for this "
                             "geometry; start a new run")
        spins = np.asarray(state["spins"])
        rng = np.asarray(state["rng"])
        if spins.shape != self.shape:
            raise ValueError(f"state spins have shape {spins.shape}, sampler expects {self.shape}")
        if rng.shape != self._rng.shape:
            raise ValueError(f"state rng has shape {rng.shape}, sampler expects {self._rng.shape}")
        if not np.all((spins == 1) | (spins == -1)):
            raise ValueError("state spins must all be -1 or +1")
        if rng.dtype != np.uint64:
            raise ValueError(f"state rng must be uint64, got {rng.dtype}")
        flat = spins.reshape(self._spins.shape).astype(np.int8)
        self._spins[...] = flat if self._perm is None else flat[:, self._perm]
        self._rng[...] = rng
        self.sweeps_done = int(np.asarray(state["sweeps"]))
        if "counts" in state:
            self._counts[...] = np.asarray(state["counts"])
        if "clusters_per_sweep" in state:
            self.clusters_per_sweep = int(np.asarray(state["clusters_per_sweep"]))
        return self

    def __repr__(self) -> str:
        return (f"MonteCarloSampler(dimension={self.dimension}, size={self.size}, "
                f"temperature={self.temperature!r}, coupling={self.coupling!r}, field={self.field!r}, "
                f"algorithm={self.algorithm!r}, n_chains={self.n_chains}, seed={self.seed}, "
                f"engine={self.engine!r})")


# --------------------------------------------------------------------- sample
@dataclass
class SampleResult:
    """Configurations and per-sample observables returned by :func:`sample`.

    Attributes
    ----------
    spins : ndarray of int8, shape (n_samples, L) or (n_samples, L, L)
        Samples in round-major order: after each thinning interval every chain emits one
        sample, in chain order.
    energy, magnetization : ndarray of float64, shape (n_samples,)
        Per spin.
    burn_in, thin : int
        In sweeps.
    tau_int : float
        Measured integrated autocorrelation time in sweeps (NaN if it could not be measured).
    metadata : dict
        The root attributes of the HDF5 schema (docs/ARCHITECTURE.md).
    """

    spins: NDArray[np.int8]
    energy: NDArray[np.float64]
    magnetization: NDArray[np.float64]
    burn_in: int
    thin: int
    tau_int: float
    metadata: dict[str, Any] = dc_field(default_factory=dict)


def metadata_for(sampler: MonteCarloSampler | SimpleNamespace, burn_in: int, thin: int,
                 tau_int: float) -> dict[str, Any]:
    """HDF5 root attributes (docs/ARCHITECTURE.md) describing a run of ``sampler``."""
    return {
        "dimension": sampler.dimension,
        "size": sampler.size,
        "temperature": sampler.temperature,
        "coupling": sampler.coupling,
        "field": sampler.field,
        "algorithm": sampler.algorithm,
        "seed": sampler.seed,
        "burn_in": int(burn_in),
        "thin": int(thin),
        "tau_int": float(tau_int),
        "n_chains": sampler.n_chains,
        "rgdl_version": io.package_version(),
        "created": io.utc_now(),
    }


def sample(dimension: int, size: int, temperature: float, *, coupling: float = 1.0,
           field: float = 0.0, algorithm: str = "metropolis", n_samples: int, n_chains: int = 1,
           burn_in: int | None = None, thin: int | None = None, seed: int | None = None,
           progress: Callable[[int, int], object] | None = None,
           engine: str = "auto") -> SampleResult:
    """Draw decorrelated Ising configurations.

    Parameters
    ----------
    dimension, size, temperature, coupling, field, algorithm, n_chains, seed
        As for :class:`MonteCarloSampler`.
    n_samples : int
        Number of configurations (> 0).
    burn_in, thin : int or None
        Sweeps discarded before sampling and sweeps between samples of one chain. ``None``
        chooses them with :func:`calibrate` (burn_in >= 20 τ_int, thin >= 2 τ_int with margin).
    progress : callable or None
        Called as ``progress(n_done, n_samples)`` after each round of samples.
    engine : {"auto", "scalar", "multispin"}
        As for :class:`MonteCarloSampler`.

    Returns
    -------
    SampleResult
        Samples are ordered round-major: after each ``thin`` sweeps every chain emits one
        sample, in chain order (the last round may use only the first chains).
    """
    n_samples = check_int("n_samples", n_samples, 1)
    burn_in = check_int("burn_in", burn_in, 0, allow_none=True)
    thin = check_int("thin", thin, 1, allow_none=True)
    sampler = MonteCarloSampler(dimension, size, temperature, coupling=coupling, field=field,
                                algorithm=algorithm, n_chains=n_chains, seed=seed, engine=engine)
    schedule = equilibrate(sampler, burn_in, thin)
    out = np.empty((n_samples,) + sampler.shape[1:], dtype=np.int8)
    k = 0
    for block in sample_rounds(sampler, n_samples, schedule.thin):
        out[k:k + len(block)] = block
        k += len(block)
        if progress is not None:
            progress(k, n_samples)
    energy = energy_per_spin(out, sampler.coupling, sampler.field, sampler.dimension)
    mag = magnetization_per_spin(out, sampler.dimension)
    tau = schedule.tau_int
    if not math.isfinite(tau):
        tau = _tau_from_samples(energy, mag, sampler.n_chains,
                                n_rounds(n_samples, sampler.n_chains), schedule.thin)
    return SampleResult(out, energy, mag, schedule.burn_in, schedule.thin, tau,
                        metadata_for(sampler, schedule.burn_in, schedule.thin, tau))


def _tau_from_samples(energy: NDArray[np.float64], mag: NDArray[np.float64], n_chains: int,
                      n_rounds: int, thin: int) -> float:
    """τ_int in sweeps from the thinned output (used when burn_in and thin were given)."""
    full = n_rounds if len(energy) == n_chains * n_rounds else n_rounds - 1
    if full < 20:
        return float("nan")
    taus = []
    for x in (energy, np.abs(mag)):
        series = x[: full * n_chains].reshape(full, n_chains).T
        taus.append(tau_of_series(series))
    return thin * max(taus)

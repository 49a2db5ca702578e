"""Generate Ising spin datasets on disk: calibrated, chunked, atomic and exactly resumable.

:func:`generate_dataset` runs :class:`ising.samplers.MonteCarloSampler` and streams the
configurations into the HDF5 schema of docs/ARCHITECTURE.md through :class:`ising.io.DatasetWriter`.
Conventions (docs/CONTRACTS.md): H = -J sum_<ij> s_i s_j - h sum_i s_i, weight exp(-H/T),
K = J/T, energies and magnetizations per spin; burn-in, thinning and tau_int are in sweeps.

Sampling schedule: the one of :mod:`ising.schedule`, which :func:`ising.samplers.sample` runs too
(so both give the same bytes for the same seed): build the sampler from ``seed``; if ``burn_in``
or ``thin`` is not given, calibrate (pilot sweeps; burn_in >= 20 tau_int, thin >= 2 tau_int);
sweep ``burn_in``; then repeat *rounds*: ``thin`` sweeps of every chain, after which every chain
emits one sample in chain order (round-major; the last round may use only the first chains).

Resume: after calibration and burn-in, and after every chunk, the sampler state
(:meth:`~ising.samplers.MonteCarloSampler.get_state`) is committed into ``<out>.partial`` with
the samples written so far.  ``resume=True`` restores the last committed state and continues, so a
run killed at any moment and resumed produces a file whose ``spins`` are byte-identical to an
uninterrupted run's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import atomic, io
from .checks import check_int
from .lattice import energy_per_spin, magnetization_per_spin
from .observables import Summary, summarize
from .samplers import MonteCarloSampler
from .schedule import equilibrate, n_rounds, sample_rounds

__all__ = ["GenerationResult", "generate_dataset", "summarize_dataset"]

logger = logging.getLogger(__name__)

#: Default upper bound on the spins buffered between two writes (bytes).
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class GenerationResult:
    """What :func:`generate_dataset` returns.

    Attributes
    ----------
    path : pathlib.Path
        The complete dataset.
    summary : ising.observables.Summary or None
        Estimates with error bars from the stored energy and magnetization series (None when
        there are fewer than 4 complete rounds of samples per chain).
    attrs : dict
        The file's root attributes (burn_in, thin and tau_int actually used, seed, ...).
    resumed_samples : int
        Samples found already committed in a partial file (0 for a fresh run); equal to
        ``n_samples`` when a complete matching file was found.
    elapsed : float
        Wall time of this call, in seconds.
    extra : dict
        ``{"already_complete": True}`` when ``resume`` found a complete matching file.
    """

    path: Path
    summary: Optional[Summary]
    attrs: dict[str, Any]
    resumed_samples: int = 0
    elapsed: float = 0.0
    extra: dict[str, Any] = dataclass_field(default_factory=dict)

    def __iter__(self) -> Iterator[Path | Summary | None]:  # ``path, summary = generate_dataset(...)``
        yield self.path
        yield self.summary


def summarize_dataset(energy: ArrayLike, magnetization: ArrayLike, *, n_spins: int,
                      temperature: float, thin: float, n_chains: int) -> Summary | None:
    """Summary (``ising.observables.summarize``) of a stored, round-major interleaved series.

    Only complete rounds (one sample from every chain) are used; returns None when fewer than
    4 rounds exist.
    """
    e = np.asarray(energy, dtype=np.float64)
    m = np.asarray(magnetization, dtype=np.float64)
    rounds = len(e) // n_chains
    if rounds < 4:
        logger.warning("too few samples (%d rounds of %d chains) for error bars; no summary",
                       rounds, n_chains)
        return None
    keep = rounds * n_chains
    return summarize(e[:keep], m[:keep], n_spins, temperature,
                     sweeps_per_sample=thin, n_chains=n_chains)


#: Upper bound of counts (samples, chains, sweeps): exact in float64 and far inside int64.
MAX_COUNT = 1 << 53


def estimate_memory(dimension: int, size: int, n_samples: int, n_chains: int,
                    chunk_size: int | None = None) -> int:
    """Bytes of the main arrays :func:`generate_dataset` allocates (an estimate, >= the truth).

    Counted: the chains' spins (int8) three times (sampler state, kernel work buffers and the
    state copy committed with every chunk), one chunk buffer of spins (int8) and its energy and
    magnetization (float64), and the stored energy and magnetization series (float64), read
    back once for the summary and once for verification.
    """
    n_spins = int(size) ** int(dimension)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_BYTES // n_spins)
    chunk = int(n_chains) * max(1, -(-int(chunk_size) // int(n_chains)))
    return (3 * int(n_chains) * n_spins + chunk * (n_spins + 16)
            + 6 * 8 * int(n_samples))


def check_memory(dimension: int, size: int, n_samples: int, n_chains: int,
                 chunk_size: int | None = None) -> None:
    """Raise :class:`ising.atomic.ResourceError` (a ValueError) when the arrays of
    :func:`estimate_memory` exceed the available memory; nothing is allocated before."""
    if isinstance(dimension, bool) or dimension not in (1, 2):
        return  # the sampler reports bad dimensions and sizes with its own message
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        return
    need = estimate_memory(dimension, size, n_samples, n_chains, chunk_size)
    lattice = f"{size}" if dimension == 1 else f"{size}x{size}"
    atomic.check_memory(need, f"simulating {n_chains} chain(s) of {lattice} spins with "
                              f"{n_samples} samples")


def _after_write_failure(exc: atomic.WriteError, out: Path, partial: Path) -> atomic.WriteError:
    """The error to raise after a failed write; keeps ``partial`` only if a resume can use it."""
    if io.partial_is_resumable(out):
        return atomic.WriteError(exc.errno, f"{exc}; {partial.name} keeps the samples committed "
                                            "so far (resume=True, --resume, continues it)")
    with contextlib.suppress(OSError):
        partial.unlink()
    return atomic.WriteError(exc.errno, f"{exc}; nothing was kept")


def _float_equal(a: float, b: float) -> bool:
    a, b = float(a), float(b)
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def _check_matches(where: str, stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first generation parameter that differs."""
    for name, value in wanted.items():
        if value is None:
            continue  # not specified by the caller: whatever is stored
        if name not in stored:
            raise ValueError(f"{where}: does not record parameter {name!r}; cannot resume it")
        old = stored[name]
        same = _float_equal(old, value) if isinstance(value, float) else old == value
        if not same:
            raise ValueError(f"{where}: parameter {name!r} does not match "
                             f"(file has {old!r}, requested {value!r}); use --overwrite to start over")


def generate_dataset(out: atomic.StrPath, *, dimension: int, size: int, temperature: float, coupling: float = 1.0,
                     field: float = 0.0, algorithm: str = "metropolis", n_samples: int,
                     n_chains: int = 1, burn_in: Optional[int] = None, thin: Optional[int] = None,
                     seed: Optional[int] = None, resume: bool = False, overwrite: bool = False,
                     chunk_size: Optional[int] = None, compression: Optional[str] = "gzip",
                     progress: Optional[Callable[[int, int], object]] = None,
                     engine: str = "auto") -> GenerationResult:
    """Simulate the periodic Ising model and write ``n_samples`` configurations to ``out`` (HDF5).

    Parameters
    ----------
    out : str or os.PathLike
        Output file (schema of docs/ARCHITECTURE.md).  Data go to ``<out>.partial`` and are
        renamed to ``out`` only when complete.
    dimension : {1, 2}
        Periodic chain (1) or periodic L x L square lattice (2).
    size : int
        Linear size L >= 2.
    temperature : float
        T > 0 (k_B = 1); Boltzmann weight exp(-H/T), K = J/T.
    coupling, field : float
        J and h of H = -J sum_<ij> s_i s_j - h sum_i s_i.
    algorithm : {"metropolis", "heatbath", "wolff", "swendsen-wang"}
    n_samples : int
        Number of configurations (> 0), taken round-major from ``n_chains`` chains.
    n_chains : int
        Independent chains run in parallel.
    burn_in, thin : int or None
        Sweeps discarded before the first sample, and sweeps between samples of one chain.
        ``None`` chooses them from the measured tau_int (:func:`ising.samplers.calibrate`:
        burn_in >= 20 tau_int, thin = ceil(2 tau_int)).
    engine : {"auto", "scalar", "multispin"}
        As for :class:`ising.samplers.MonteCarloSampler` (the multi-spin engine packs 64
        chains per word; "auto" uses it for 2D Metropolis at h = 0 with >= 32 chains).
    seed : int or None
        Root seed (non-negative integer); ``None`` draws one and records it.  Same seed => same
        ``spins`` at any NUMBA_NUM_THREADS, and across kill + resume.
    resume : bool
        Continue ``<out>.partial`` from its last committed chunk (or return a complete ``out``
        whose parameters match).  Without a partial file the run starts fresh.
    overwrite : bool
        Replace an existing ``out`` (and discard a stale partial file).  The old ``out`` stays
        in place until the new one is complete.
    chunk_size : int or None
        Samples buffered in memory between writes and resume checkpoints (rounded up to a
        multiple of ``n_chains``); default: about 1 MiB of spins.  It is also the HDF5 chunk
        length of ``spins``, so that every compressed chunk is written exactly once (a kill
        can never tear a committed chunk).  A resumed run keeps the file's chunk length.
    compression : {"gzip", "lzf", None}
        HDF5 filter for ``spins``.
    progress : callable, optional
        Called as ``progress(n_done, n_samples)`` after every round (and once at the start with
        the samples already committed).

    Returns
    -------
    GenerationResult
        ``path``, ``summary`` (see :func:`summarize_dataset`), the file's attributes, ...;
        iterating gives ``(path, summary)``.  Besides the schema's attributes the file records
        ``tau_int_source`` ("calibration": ``tau_int`` measured by the pilot run; "samples":
        burn_in and thin were given, ``tau_int`` is measured on the stored series) and
        ``tau_int_stored`` (tau_int of the stored, thinned series in sweeps; about thin/2 for
        decorrelated samples; a warning is logged when it exceeds one ``thin``).

    Raises
    ------
    ValueError
        Invalid parameters (checked before any file is created), a partial or complete file
        whose parameters do not match (naming the parameter), or a corrupt file.
    FileExistsError
        ``out`` (or ``<out>.partial``) exists and neither ``overwrite`` nor ``resume`` is set.
    FileNotFoundError, NotADirectoryError, PermissionError
        The output directory does not exist or is not writable.
    """
    started = time.perf_counter()
    request = _Request.validated(
        dimension=dimension, size=size, temperature=temperature, coupling=coupling, field=field,
        algorithm=algorithm, n_samples=n_samples, n_chains=n_chains, burn_in=burn_in, thin=thin,
        seed=seed, resume=resume, overwrite=overwrite, chunk_size=chunk_size,
        compression=compression, engine=engine)
    if progress is not None and not callable(progress):
        raise ValueError("progress must be callable or None")
    out = io.check_output_path(out, overwrite=overwrite, allow_existing=resume, resumable=True)
    with atomic.OutputLock(out):  # one writer per output, taken before anything is opened
        return _generate_locked(out, request, progress, started)


@dataclass(frozen=True)
class _Request:
    """The validated arguments of one :func:`generate_dataset` call."""

    dimension: int
    size: int
    temperature: float
    coupling: float
    field: float
    algorithm: str
    n_samples: int
    n_chains: int
    burn_in: Optional[int]
    thin: Optional[int]
    seed: Optional[int]
    resume: bool
    overwrite: bool
    chunk_size: Optional[int]
    compression: Optional[str]
    engine: str

    @classmethod
    def validated(cls, *, n_samples: int, n_chains: int, burn_in: int | None, thin: int | None,
                  seed: int | None, chunk_size: int | None, **kw: Any) -> _Request:
        """Check everything before the file system is touched (ValueError naming the argument)."""
        n_samples = check_int("n_samples", n_samples, 1)
        n_chains = check_int("n_chains", n_chains, 1)
        burn_in = check_int("burn_in", burn_in, 0, allow_none=True)
        thin = check_int("thin", thin, 1, allow_none=True)
        if seed is not None:
            seed = check_int("seed", seed, 0)
            if seed >= 1 << 63:
                raise ValueError(f"seed must be < 2**63 (it is stored as int64), got {seed}")
        chunk_size = check_int("chunk_size", chunk_size, 1, allow_none=True)
        for name, value in (("n_samples", n_samples), ("n_chains", n_chains), ("burn_in", burn_in),
                            ("thin", thin), ("chunk_size", chunk_size)):
            if value is not None and value > MAX_COUNT:
                raise ValueError(f"{name} must be <= {MAX_COUNT} (2**53), got {value}")
        sweeps = None if thin is None else (burn_in or 0) + thin * n_rounds(n_samples, n_chains)
        if sweeps is not None and sweeps > MAX_COUNT:
            raise ValueError(f"burn_in + thin * rounds = {sweeps} sweeps exceeds {MAX_COUNT} "
                             "(the sweep counter is int64)")
        check_memory(kw["dimension"], kw["size"], n_samples, n_chains, chunk_size)
        if kw["compression"] not in ("gzip", "lzf", None):
            raise ValueError(f"compression must be 'gzip', 'lzf' or None, got {kw['compression']!r}")
        if kw["resume"] and kw["overwrite"]:
            raise ValueError("resume and overwrite are mutually exclusive")
        request = cls(n_samples=n_samples, n_chains=n_chains, burn_in=burn_in, thin=thin, seed=seed,
                      chunk_size=chunk_size, **kw)
        # the sampler validates the physics (T > 0, size >= 2, ...) and normalises the numbers
        probe = request.sampler(seed if seed is not None else 0)
        return dataclasses.replace(request, dimension=probe.dimension, size=probe.size,
                                   temperature=probe.temperature, coupling=probe.coupling,
                                   field=probe.field)

    def sampler(self, seed: int | None) -> MonteCarloSampler:
        return MonteCarloSampler(self.dimension, self.size, self.temperature, coupling=self.coupling,
                                 field=self.field, algorithm=self.algorithm, n_chains=self.n_chains,
                                 seed=seed, engine=self.engine)

    @property
    def n_spins(self) -> int:
        return self.size ** self.dimension

    def wanted(self, seed: int | None) -> dict[str, Any]:
        """The generation parameters a file must match to be resumed (None: any value)."""
        return {"dimension": self.dimension, "size": self.size, "temperature": self.temperature,
                "coupling": self.coupling, "field": self.field, "algorithm": self.algorithm,
                "n_chains": self.n_chains, "n_samples": self.n_samples, "seed": seed,
                "burn_in": self.burn_in, "thin": self.thin}


def _generate_locked(out: atomic.StrPath, request: _Request,
                     progress: Optional[Callable[[int, int], object]],
                     started: float) -> GenerationResult:
    """The body of :func:`generate_dataset`, run while holding the output's lock."""
    out = io.check_output_path(out, overwrite=request.overwrite, allow_existing=request.resume,
                               resumable=True)
    partial = io.partial_path(out)
    if partial.is_dir() and not partial.is_symlink():
        raise IsADirectoryError(f"partial-file path is a directory: {partial}")
    if request.resume and out.exists():
        return _already_complete(out, request, started)
    writer, seed = _reopen_partial(out, partial, request)
    if writer is not None:
        sampler, thin = _resumed_sampler(writer, partial, request)
    else:
        sampler, writer, thin = _start(out, request, seed)
    resumed = writer.n_written
    try:
        series = _write_rounds(writer, sampler, request, thin, progress)
        summary = summarize_dataset(*series, n_spins=request.n_spins,
                                    temperature=request.temperature, thin=thin,
                                    n_chains=request.n_chains)
        path = _finish(writer, summary, thin, series)
    except atomic.WriteError as exc:
        writer.close()
        raise _after_write_failure(exc, out, partial) from exc
    except BaseException as exc:
        writer.close()
        if isinstance(exc, KeyboardInterrupt):
            logger.warning("interrupted; %s can be continued with resume=True (--resume)", partial)
        raise
    return GenerationResult(path, summary, io.read_attributes(path), resumed_samples=resumed,
                            elapsed=time.perf_counter() - started)


def _already_complete(out: Path, request: _Request, started: float) -> GenerationResult:
    """``resume`` found a complete ``out``: check that it matches and summarise it."""
    attrs = io.read_attributes(out)
    energy, magnetization = io.read_series(out)
    stored_n = len(energy)
    _check_matches(str(out), {**attrs, "n_samples": stored_n}, request.wanted(request.seed))
    logger.info("%s is already complete; nothing to do", out)
    summary = summarize_dataset(energy, magnetization, n_spins=request.n_spins,
                                temperature=request.temperature, thin=attrs["thin"],
                                n_chains=request.n_chains)
    return GenerationResult(out, summary, attrs, resumed_samples=stored_n,
                            elapsed=time.perf_counter() - started, extra={"already_complete": True})


def _reopen_partial(out: Path, partial: Path, request: _Request
                    ) -> tuple[io.DatasetWriter | None, int | None]:
    """``(writer, seed)``: the writer of a resumable ``<out>.partial`` (None to start fresh) and
    the seed to start with (the partial file's when it holds no commit and none was given)."""
    seed = request.seed
    if os.path.lexists(partial) and partial.is_symlink():
        raise ValueError(f"{partial} is a symbolic link, not an rgdl partial file; remove it "
                         "(it is never followed)")
    if not partial.exists():
        return None, seed
    if not request.resume and not request.overwrite:
        raise FileExistsError(f"unfinished partial file exists: {partial} "
                              "(use --resume to continue it or --overwrite to start over)")
    if not request.resume:
        return None, seed
    # compare read-only first: a mismatched request must leave the file untouched
    _check_matches(str(partial), io.read_partial_params(out), request.wanted(seed))
    writer = io.DatasetWriter.reopen(out)
    try:
        _check_matches(str(partial), writer.resume_params, request.wanted(seed))
        if writer.resume_state is None:  # killed before the first commit
            logger.info("%s holds no committed state; starting over", partial)
            if seed is None:
                seed = int(writer.resume_params["seed"])
            writer.discard()
            return None, seed
    except BaseException:
        writer.close()
        raise
    return writer, seed


def _resumed_sampler(writer: io.DatasetWriter, partial: Path, request: _Request
                     ) -> tuple[MonteCarloSampler, int]:
    """``(sampler, thin)`` restored from the last commit of a reopened partial file."""
    params = writer.resume_params
    sampler = request.sampler(params["seed"])
    assert writer.resume_state is not None  # _reopen_partial starts over without a commit
    try:
        sampler.set_state(writer.resume_state)
    except ValueError as exc:
        writer.close()
        raise ValueError(f"{partial}: corrupt resume state ({exc})") from exc
    resumed, chunk = writer.n_written, writer.chunk_rows
    if chunk % request.n_chains or resumed % chunk:
        writer.close()
        raise ValueError(f"{partial}: corrupt partial file (chunk length {chunk} does not fit "
                         f"{request.n_chains} chains and {resumed} committed samples)")
    logger.info("resuming %s at sample %d of %d", partial, resumed, request.n_samples)
    return sampler, int(params["thin"])


def _start(out: Path, request: _Request, seed: int | None
           ) -> tuple[MonteCarloSampler, io.DatasetWriter, int]:
    """``(sampler, writer, thin)`` of a fresh run: equilibrate, create the partial file and
    commit the state after burn-in."""
    sampler = request.sampler(seed)
    schedule = equilibrate(sampler, request.burn_in, request.thin)
    burn_in, thin = schedule.burn_in, schedule.thin
    params = {**request.wanted(seed), "seed": sampler.seed, "burn_in": burn_in, "thin": thin}
    attrs = {"dimension": request.dimension, "size": request.size,
             "temperature": request.temperature, "coupling": request.coupling,
             "field": request.field, "algorithm": request.algorithm, "seed": sampler.seed,
             "burn_in": burn_in, "thin": thin, "tau_int": schedule.tau_int,
             "tau_int_source": schedule.tau_source, "n_chains": request.n_chains}
    chunk_size = request.chunk_size
    if chunk_size is None:
        chunk_size = max(1, CHUNK_BYTES // request.n_spins)
    chunk = request.n_chains * n_rounds(chunk_size, request.n_chains)  # whole rounds
    writer = io.DatasetWriter(out, dimension=request.dimension, size=request.size, attrs=attrs,
                              n_samples=request.n_samples, resume_params=params,
                              compression=request.compression, overwrite=True, chunk_rows=chunk)
    try:
        writer.checkpoint(sampler.get_state())
    except BaseException:
        writer.discard()
        raise
    return sampler, writer, thin


def _write_rounds(writer: io.DatasetWriter, sampler: MonteCarloSampler, request: _Request,
                  thin: int, progress: Optional[Callable[[int, int], object]]
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Run the rounds of the schedule into ``writer``: one HDF5 chunk (whole rounds) per write
    and resume checkpoint. Returns the stored (energy, magnetization) series."""
    n_samples, chunk = request.n_samples, writer.chunk_rows
    buffer = np.empty((chunk,) + (request.size,) * request.dimension, dtype=np.int8)
    done, filled = writer.n_written, 0
    if progress is not None:
        progress(done, n_samples)
    for block in sample_rounds(sampler, n_samples, thin, done=done):
        buffer[filled:filled + len(block)] = block
        filled += len(block)
        if progress is not None:
            progress(done + filled, n_samples)
        if filled == chunk or done + filled == n_samples:
            part = buffer[:filled]
            writer.append(part, energy_per_spin(part, request.coupling, request.field,
                                                request.dimension),
                          magnetization_per_spin(part, request.dimension), state=sampler.get_state())
            done, filled = done + filled, 0
    return writer.read_series()


def _finish(writer: io.DatasetWriter, summary: Summary | None, thin: int,
            series: tuple[NDArray[np.float64], NDArray[np.float64]]) -> Path:
    """Record the measured tau_int attributes and finalize (verify, rename) the file."""
    final: dict[str, float] = {}
    stored_tau = writer.attrs.get("tau_int", float("nan"))
    if not math.isfinite(float(stored_tau)):
        final["tau_int"] = float(summary.tau_int) if summary is not None else float("nan")
    if summary is not None:
        # tau_int of the stored (thinned) series, in sweeps: a check on the calibration
        final["tau_int_stored"] = float(summary.tau_int)
        tau_samples = summary.tau_int / thin
        if tau_samples > 1.0:
            logger.warning("stored samples are correlated: tau_int = %.2f samples (%.3g sweeps) "
                           "with thin = %d; a thin >= %d would decorrelate them", tau_samples,
                           summary.tau_int, thin, math.ceil(2 * summary.tau_int))
    return writer.finalize(expected_series=series, overwrite=True, **final)

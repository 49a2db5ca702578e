"""Generate Ising spin datasets on disk: calibrated, chunked, atomic and exactly resumable.

:func:`generate_dataset` runs :class:`ising.samplers.MonteCarloSampler` and streams the
configurations into the HDF5 schema of docs/ARCHITECTURE.md through :class:`ising.io.DatasetWriter`.
Conventions (docs/CONTRACTS.md): H = -J sum_<ij> s_i s_j - h sum_i s_i, weight exp(-H/T),
K = J/T, energies and magnetizations per spin; burn-in, thinning and tau_int are in sweeps.

Sampling schedule (identical to :func:`ising.samplers.sample`, so both give the same bytes for
the same seed): build the sampler from ``seed``; if ``burn_in`` or ``thin`` is not given, run
:func:`ising.samplers.calibrate` (pilot sweeps; burn_in >= 20 tau_int, thin = ceil(2 tau_int));
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
import logging
import math
import os
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import atomic, io
from .lattice import energy_per_spin, magnetization_per_spin

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
    summary: object
    attrs: dict
    resumed_samples: int = 0
    elapsed: float = 0.0
    extra: dict = dataclass_field(default_factory=dict)

    def __iter__(self):  # ``path, summary = generate_dataset(...)``
        yield self.path
        yield self.summary


def _check_int(name, value, minimum, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def summarize_dataset(energy, magnetization, *, n_spins, temperature, thin, n_chains):
    """Summary (``ising.observables.summarize``) of a stored, round-major interleaved series.

    Only complete rounds (one sample from every chain) are used; returns None when fewer than
    4 rounds exist.
    """
    from .observables import summarize

    energy = np.asarray(energy, dtype=np.float64)
    magnetization = np.asarray(magnetization, dtype=np.float64)
    rounds = len(energy) // n_chains
    if rounds < 4:
        logger.warning("too few samples (%d rounds of %d chains) for error bars; no summary",
                       rounds, n_chains)
        return None
    keep = rounds * n_chains
    return summarize(energy[:keep], magnetization[:keep], n_spins, temperature,
                     sweeps_per_sample=thin, n_chains=n_chains)


#: Upper bound of counts (samples, chains, sweeps): exact in float64 and far inside int64.
MAX_COUNT = 1 << 53


def estimate_memory(dimension, size, n_samples, n_chains, chunk_size=None) -> int:
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


def check_memory(dimension, size, n_samples, n_chains, chunk_size=None) -> None:
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


def _after_write_failure(exc, out, partial):
    """The error to raise after a failed write; keeps ``partial`` only if a resume can use it."""
    if io.partial_is_resumable(out):
        return atomic.WriteError(exc.errno, f"{exc}; {partial.name} keeps the samples committed "
                                            "so far (resume=True, --resume, continues it)")
    with contextlib.suppress(OSError):
        partial.unlink()
    return atomic.WriteError(exc.errno, f"{exc}; nothing was kept")


def _float_equal(a, b) -> bool:
    a, b = float(a), float(b)
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def _check_matches(where, stored: dict, wanted: dict) -> None:
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


def generate_dataset(out, *, dimension: int, size: int, temperature: float, coupling: float = 1.0,
                     field: float = 0.0, algorithm: str = "metropolis", n_samples: int,
                     n_chains: int = 1, burn_in: Optional[int] = None, thin: Optional[int] = None,
                     seed: Optional[int] = None, resume: bool = False, overwrite: bool = False,
                     chunk_size: Optional[int] = None, compression: Optional[str] = "gzip",
                     progress: Optional[Callable[[int, int], None]] = None,
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
    from .samplers import MonteCarloSampler, calibrate

    started = time.perf_counter()
    # ---- validate everything before touching the file system ---------------------------------
    n_samples = _check_int("n_samples", n_samples, 1)
    n_chains = _check_int("n_chains", n_chains, 1)
    burn_in = _check_int("burn_in", burn_in, 0, allow_none=True)
    thin = _check_int("thin", thin, 1, allow_none=True)
    if seed is not None:
        seed = _check_int("seed", seed, 0)
        if seed >= 1 << 63:
            raise ValueError(f"seed must be < 2**63 (it is stored as int64), got {seed}")
    chunk_size = _check_int("chunk_size", chunk_size, 1, allow_none=True)
    for name, value in (("n_samples", n_samples), ("n_chains", n_chains), ("burn_in", burn_in),
                        ("thin", thin), ("chunk_size", chunk_size)):
        if value is not None and value > MAX_COUNT:
            raise ValueError(f"{name} must be <= {MAX_COUNT} (2**53), got {value}")
    if thin is not None and (burn_in or 0) + thin * -(-n_samples // n_chains) > MAX_COUNT:
        raise ValueError(f"burn_in + thin * rounds = {(burn_in or 0) + thin * -(-n_samples // n_chains)} "
                         f"sweeps exceeds {MAX_COUNT} (the sweep counter is int64)")
    check_memory(dimension, size, n_samples, n_chains, chunk_size)
    if compression not in ("gzip", "lzf", None):
        raise ValueError(f"compression must be 'gzip', 'lzf' or None, got {compression!r}")
    if resume and overwrite:
        raise ValueError("resume and overwrite are mutually exclusive")
    if progress is not None and not callable(progress):
        raise ValueError("progress must be callable or None")
    # the sampler validates the physics (T > 0, size >= 2, even L for checkerboards, ...)
    probe = MonteCarloSampler(dimension, size, temperature, coupling=coupling, field=field,
                              algorithm=algorithm, n_chains=n_chains,
                              seed=seed if seed is not None else 0, engine=engine)
    dimension, size = probe.dimension, probe.size
    temperature, coupling, field = probe.temperature, probe.coupling, probe.field
    del probe

    out = io.check_output_path(out, overwrite=overwrite, allow_existing=resume, resumable=True)
    with atomic.OutputLock(out):  # one writer per output, taken before anything is opened
        return _generate_locked(
            out, dimension=dimension, size=size, temperature=temperature, coupling=coupling,
            field=field, algorithm=algorithm, n_samples=n_samples, n_chains=n_chains,
            burn_in=burn_in, thin=thin, seed=seed, resume=resume, overwrite=overwrite,
            chunk_size=chunk_size, compression=compression, progress=progress, started=started,
            engine=engine)


def _generate_locked(out, *, dimension, size, temperature, coupling, field, algorithm, n_samples,
                     n_chains, burn_in, thin, seed, resume, overwrite, chunk_size, compression,
                     progress, started, engine):
    """The body of :func:`generate_dataset`, run while holding the output's lock."""
    from .samplers import MonteCarloSampler, calibrate

    out = io.check_output_path(out, overwrite=overwrite, allow_existing=resume, resumable=True)
    partial = io.partial_path(out)
    if partial.is_dir() and not partial.is_symlink():
        raise IsADirectoryError(f"partial-file path is a directory: {partial}")

    wanted = {"dimension": dimension, "size": size, "temperature": temperature, "coupling": coupling,
              "field": field, "algorithm": algorithm, "n_chains": n_chains, "n_samples": n_samples,
              "seed": seed, "burn_in": burn_in, "thin": thin}

    # ---- an existing complete file ------------------------------------------------------------
    if resume and out.exists():
        attrs = io.read_attributes(out)
        energy, magnetization = io.read_series(out)
        stored_n = len(energy)
        _check_matches(str(out), {**attrs, "n_samples": stored_n}, wanted)
        logger.info("%s is already complete; nothing to do", out)
        summary = summarize_dataset(energy, magnetization, n_spins=size ** dimension,
                                    temperature=temperature, thin=attrs["thin"], n_chains=n_chains)
        return GenerationResult(out, summary, attrs, resumed_samples=stored_n,
                                elapsed=time.perf_counter() - started,
                                extra={"already_complete": True})

    # ---- a partial file -----------------------------------------------------------------------
    writer = None
    if os.path.lexists(partial) and partial.is_symlink():
        raise ValueError(f"{partial} is a symbolic link, not an rgdl partial file; remove it "
                         "(it is never followed)")
    if partial.exists():
        if not resume and not overwrite:
            raise FileExistsError(f"unfinished partial file exists: {partial} "
                                  "(use --resume to continue it or --overwrite to start over)")
        if resume:
            # compare read-only first: a mismatched request must leave the file untouched
            _check_matches(str(partial), io.read_partial_params(out), wanted)
            writer = io.DatasetWriter.reopen(out)
            try:
                _check_matches(str(partial), writer.resume_params, wanted)
                if writer.resume_state is None:  # killed before the first commit
                    logger.info("%s holds no committed state; starting over", partial)
                    if seed is None:
                        seed = int(writer.resume_params["seed"])
                        wanted["seed"] = seed
                    writer.discard()
                    writer = None
            except BaseException:
                writer.close()
                raise

    n_spins = size ** dimension
    if writer is not None:
        params = writer.resume_params
        sampler = MonteCarloSampler(dimension, size, temperature, coupling=coupling, field=field,
                                    algorithm=algorithm, n_chains=n_chains, seed=params["seed"],
                                    engine=engine)
        try:
            sampler.set_state(writer.resume_state)
        except ValueError as exc:
            writer.close()
            raise ValueError(f"{partial}: corrupt resume state ({exc})") from exc
        burn_in, thin = int(params["burn_in"]), int(params["thin"])
        resumed = writer.n_written
        chunk = writer.chunk_rows
        if chunk % n_chains or resumed % chunk:
            writer.close()
            raise ValueError(f"{partial}: corrupt partial file (chunk length {chunk} does not fit "
                             f"{n_chains} chains and {resumed} committed samples)")
        logger.info("resuming %s at sample %d of %d", partial, resumed, n_samples)
    else:
        sampler = MonteCarloSampler(dimension, size, temperature, coupling=coupling, field=field,
                                    algorithm=algorithm, n_chains=n_chains, seed=seed,
                                    engine=engine)
        tau_int = float("nan")
        tau_source = "samples"
        if burn_in is None or thin is None:
            b, t, tau_int = calibrate(sampler)
            tau_source = "calibration"
            burn_in = b if burn_in is None else burn_in
            thin = t if thin is None else thin
        sampler.sweep(burn_in)
        params = {**wanted, "seed": sampler.seed, "burn_in": burn_in, "thin": thin}
        attrs = {"dimension": dimension, "size": size, "temperature": temperature,
                 "coupling": coupling, "field": field, "algorithm": algorithm,
                 "seed": sampler.seed, "burn_in": burn_in, "thin": thin, "tau_int": tau_int,
                 "tau_int_source": tau_source, "n_chains": n_chains}
        if chunk_size is None:
            chunk_size = max(1, CHUNK_BYTES // n_spins)
        chunk = n_chains * max(1, -(-chunk_size // n_chains))  # whole rounds
        writer = io.DatasetWriter(out, dimension=dimension, size=size, attrs=attrs,
                                  n_samples=n_samples, resume_params=params,
                                  compression=compression, overwrite=True,
                                  chunk_rows=chunk)
        resumed = 0
        try:
            writer.checkpoint(sampler.get_state())
        except BaseException:
            writer.discard()
            raise

    # ---- sampling loop: one HDF5 chunk (whole rounds) per write and checkpoint ----------------
    tail = (size,) * dimension
    buffer = np.empty((chunk,) + tail, dtype=np.int8)
    done = resumed
    try:
        if progress is not None:
            progress(done, n_samples)
        while done < n_samples:
            filled = 0
            while filled < chunk and done + filled < n_samples:
                sampler.sweep(thin)
                take = min(n_chains, n_samples - done - filled)
                buffer[filled:filled + take] = sampler.spins[:take]
                filled += take
                if progress is not None:
                    progress(done + filled, n_samples)
            block = buffer[:filled]
            writer.append(block, energy_per_spin(block, coupling, field, dimension),
                          magnetization_per_spin(block, dimension), state=sampler.get_state())
            done += filled
        energy, magnetization = writer.read_series()
        summary = summarize_dataset(energy, magnetization, n_spins=n_spins, temperature=temperature,
                                    thin=thin, n_chains=n_chains)
        final = {}
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
        path = writer.finalize(expected_series=(energy, magnetization), overwrite=True, **final)
    except atomic.WriteError as exc:
        writer.close()
        raise _after_write_failure(exc, out, partial) from exc
    except BaseException as exc:
        writer.close()
        if isinstance(exc, KeyboardInterrupt):
            logger.warning("interrupted; %s can be continued with resume=True (--resume)", partial)
        raise
    attrs = io.read_attributes(path)
    return GenerationResult(path, summary, attrs, resumed_samples=resumed,
                            elapsed=time.perf_counter() - started)

"""``rgdl simulate``: Monte Carlo Ising configurations into an HDF5 dataset (a thin layer over
:func:`ising.dataset.generate_dataset`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from rgdl.commands.options import (POSITIVE_COUNT, Command, algorithm_option,
                                   coupling_option, dimension_option, field_option, out_option,
                                   overwrite_option, quiet_option, resume_option, samples_option,
                                   seed_option, size_option, temperature_option)

if TYPE_CHECKING:
    from tqdm import tqdm

    from ising.dataset import GenerationResult


class _Progress:
    """tqdm progress bar on stderr, opened at the first report (so resumed runs start where they are)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm[Any] | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="sample", desc="simulate",
                            dynamic_ncols=True, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _format_summary(result: GenerationResult, wall: float) -> str:
    attrs = result.attrs
    lines = []
    model = ("periodic chain of N = {size}" if attrs["dimension"] == 1
             else "periodic {size}x{size} lattice").format(size=attrs["size"])
    k = attrs["coupling"] / attrs["temperature"]
    lines.append(f"output:      {result.path}")
    n = result.summary.n_samples if result.summary is not None else None
    lines.append(f"model:       {attrs['dimension']}D Ising, {model}, T = {attrs['temperature']:g}, "
                 f"J = {attrs['coupling']:g}, h = {attrs['field']:g} (K = J/T = {k:.6g})")
    lines.append(f"sampling:    {attrs['algorithm']}, {attrs['n_chains']} chain(s), seed {attrs['seed']}")
    # one tau_int, two measurements: the pilot run's (before sampling; it sets burn-in and thin)
    # and the stored samples' (after; the check that thin decorrelates them)
    pilot = attrs.get("tau_int_source", "") == "calibration"
    how = (f"set by the pilot run before sampling: tau_int = {attrs['tau_int']:.3g} sweeps, "
           "burn-in >= 20 tau_int, thin = ceil(2 tau_int)" if pilot else "as given")
    lines.append(f"burn-in:     {attrs['burn_in']} sweeps, thin {attrs['thin']} sweeps ({how})")
    if result.extra.get("already_complete"):
        lines.append("resumed:     the file was already complete; nothing to do")
    elif result.resumed_samples:
        lines.append(f"resumed:     continued after {result.resumed_samples} committed samples")
    summary = result.summary
    if summary is None:
        lines.append("estimates:   too few samples for error bars")
    else:
        lines.append(f"<E>/N        = {summary.energy}")
        lines.append(f"<|M|>/N      = {summary.abs_magnetization}")
        lines.append(f"C/N          = {summary.specific_heat}")
        lines.append(f"chi/N        = {summary.susceptibility}")
        lines.append(f"tau_int      = {summary.tau_int:.3g} sweeps = "
                     f"{summary.tau_int / attrs['thin']:.3g} sample spacings, measured after "
                     f"sampling on the {n} stored samples (about 0.5 for independent samples; "
                     f"{summary.effective_samples:.0f} effective samples)"
                     + ("; checks the pilot run's value above" if pilot else ""))
    lines.append(f"wall time:   {wall:.2f} s")
    return "\n".join(lines)


@click.command(cls=Command)
@dimension_option(default=2, show_default=True,
                  help="1: periodic chain of N = SIZE spins; 2: periodic SIZE x SIZE square lattice.")
@size_option(required=True,
             help="Linear size L >= 2 (any L; see ising.visiting_scheme for how each is updated).")
@temperature_option(required=True)
@coupling_option(default=1.0, show_default=True,
                 help="J in H = -J sum_<ij> s_i s_j - h sum_i s_i (J > 0 ferromagnetic).")
@field_option(default=0.0, show_default=True, help="h in H (cluster algorithms need h = 0).")
@algorithm_option(default="metropolis", show_default=True,
                  help="Update; one sweep = L^d spin attempts (wolff: a fixed number of clusters "
                       "flipping L^d spins on average; swendsen-wang: one full update).")
@samples_option("n_samples", required=True,
                help="Configurations to store (> 0); energy and magnetization are stored per spin.")
@click.option("--chains", "n_chains", type=POSITIVE_COUNT, default=1, show_default=True,
              help="Independent chains run in parallel; samples are stored round-major.")
@click.option("--burn-in", type=click.IntRange(min=0), default=None,
              help="Sweeps discarded before sampling [default: >= 20 tau_int from a pilot run].")
@click.option("--thin", type=click.IntRange(min=1), default=None,
              help="Sweeps between samples of a chain [default: ceil(2 tau_int) from a pilot run].")
@seed_option(help="Root seed; same seed => same spins at any thread count "
                  "[default: random, recorded].")
@out_option(required=True, help="Output HDF5 file; written as OUT.partial and renamed when complete.")
@resume_option(help="Continue OUT.partial after an interruption (exactly).")
@overwrite_option()
@click.option("--chunk-size", type=POSITIVE_COUNT, default=None,
              help="Samples per write and resume checkpoint [default: <= 4 MiB of spins].")
@click.option("--engine", type=click.Choice(["auto", "scalar", "multispin"]), default="auto",
              show_default=True,
              help="multispin: 64 chains per machine word (2D Metropolis, h = 0, even L >= 4); "
                   "auto uses it from 32 chains on.")
@quiet_option(help="No progress bar.")
def simulate(dimension: int, size: int, temperature: float, coupling: float, field: float,
             algorithm: str, n_samples: int, n_chains: int, burn_in: int | None,
             thin: int | None, seed: int | None, out: str, resume: bool, overwrite: bool,
             chunk_size: int | None, engine: str, quiet: bool) -> None:
    """Simulate the periodic Ising model and write configurations to an HDF5 dataset.

    \b
    Conventions (docs/CONTRACTS.md), one line each:
      energy   H = -J sum_<ij> s_i s_j - h sum_i s_i, weight exp(-H/T), K = J/T (k_B = 1)
      units    energy and magnetization are per spin; spins are int8 +-1, periodic boundaries
      sweeps   burn-in, thinning and tau_int are in sweeps (L^d attempted updates)
      dataset  spins (n, L[, L]) int8, energy, magnetization float64; run parameters as attributes

    The paper's dataset (Mehta & Schwab 2014): --size 40 --temperature 1 --coupling 0.408
    --samples 20000.
    """
    import time

    from ising.dataset import generate_dataset

    started = time.perf_counter()
    progress = _Progress(enabled=not quiet)
    try:
        result = generate_dataset(
            out, dimension=dimension, size=size, temperature=temperature, coupling=coupling,
            field=field, algorithm=algorithm, n_samples=n_samples, n_chains=n_chains,
            burn_in=burn_in, thin=thin, seed=seed, resume=resume, overwrite=overwrite,
            chunk_size=chunk_size, progress=progress, engine=engine)
    finally:
        progress.close()
    click.echo(_format_summary(result, time.perf_counter() - started))

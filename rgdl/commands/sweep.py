"""``rgdl sweep`` (a temperature x size x seed grid as Dask tasks) and ``rgdl fss`` (finite-size
scaling figures from a finished sweep).

Thin click layer over :mod:`rgdl.sweep` and :mod:`analysis.fss`; user errors raise ValueError /
FileExistsError / FileNotFoundError and become one line ``Error: ...`` with exit status 2
(:func:`rgdl.cli.main`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rgdl.commands.options import (MAX_COUNT, NONNEGATIVE_COUNT, POSITIVE_COUNT, Command,
                                   algorithm_option, coupling_option,
                                   dimension_option, field_option, out_option,
                                   overwrite_option, quiet_option, real, samples_option,
                                   seed_option, sizes_option,
                                   temperatures_option, verbose_option)
from rgdl.sweep.spec import SWEEP_ENGINES

if TYPE_CHECKING:
    from tqdm import tqdm


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(max(level, logging.ERROR))


@click.command(cls=Command)
@out_option(file=False, required=True,
            help="Sweep directory: sweep.json (index) and points/*.h5. Rerunning the same "
                 "command there resumes and skips finished points.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML or JSON sweep file ([sweep] table with the options below; options "
                   "given on the command line override it).")
@temperatures_option()
@sizes_option()
@click.option("--seeds", help="Seed entries, one replica each: '0' (default) or '0,1,2'.")
@algorithm_option(help="metropolis (default), heatbath, wolff or swendsen-wang.")
@dimension_option(help="1 or 2 (default 2).")
@coupling_option(help="Coupling J (default 1).")
@field_option(help="Field h (default 0).")
@samples_option(help="Samples per point (default 1000).")
@click.option("--chains", type=POSITIVE_COUNT, help="Independent chains per point (default 1).")
@click.option("--burn-in", type=NONNEGATIVE_COUNT,
              help="Burn-in sweeps (default: from the measured tau_int).")
@click.option("--thin", type=POSITIVE_COUNT, help="Sweeps between samples (default: ~2 tau_int).")
@click.option("--train", "train_layers",
              help="Train an RBM (one size, e.g. '64') or a DBN ('400,100,25') on every point.")
@click.option("--epochs", type=POSITIVE_COUNT,
              help="Training epochs per layer (with --train; default 10).")
@click.option("--engine", type=click.Choice(SWEEP_ENGINES), default=None,
              help="scalar (default): every point on its own; multispin-grid: the 2D Metropolis "
                   "h=0 points of one even size L >= 4 (and seed) share one multi-spin run over "
                   "their temperatures, the other points run as with scalar.")
@click.option("--workers", "-w", type=NONNEGATIVE_COUNT, default=None,
              help="LocalCluster worker processes (default: number of CPUs); 0 runs serially "
                   "in this process without Dask.")
@click.option("--scheduler", help="Address tcp://HOST:PORT of a running Dask scheduler "
                                  "(instead of a LocalCluster); --out must be shared.")
@click.option("--connect-timeout", type=real(0, min_open=True), default=5.0, show_default=True,
              help="Seconds to wait for --scheduler.")
@click.option("--retries", type=NONNEGATIVE_COUNT, default=2, show_default=True,
              help="Extra attempts of a failing point.")
@click.option("--report", is_flag=True, help="Draw the finite-size-scaling figure when done "
                                              "(OUT/fss.png, OUT/fss.pdf, OUT/fss.json).")
@click.option("--bootstrap", type=click.IntRange(10, MAX_COUNT), default=2000, show_default=True,
              help="Bootstrap replicates of the FSS error bars (with --report).")
@overwrite_option(help="With --report: replace an existing OUT/fss.png, .pdf and .json.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar over points.")
@verbose_option()
@quiet_option(help="Only errors.")
@click.pass_context
def sweep(ctx: click.Context, out: str, config: Path | None, temperatures: str | None,
          sizes: str | None, seeds: str | None, algorithm: str | None, dimension: int | None,
          coupling: float | None, field: float | None, samples: int | None, chains: int | None,
          burn_in: int | None, thin: int | None, train_layers: str | None, epochs: int | None,
          engine: str | None, workers: int | None, scheduler: str | None,
          connect_timeout: float, retries: int, report: bool, bootstrap: int, overwrite: bool,
          progress: bool, verbose: int, quiet: bool) -> None:
    """Run a grid of Ising datasets (temperatures x sizes x seeds) as Dask tasks.

    Every point writes one HDF5 dataset under OUT/points/; OUT/sweep.json indexes parameters,
    status, summary observables (Binder cumulant, susceptibility, ... with error bars) and a
    content hash per file. Per-point seeds derive from the seed entry and the point's
    parameters, so results do not depend on the number of workers. Example:

    \b
        rgdl sweep --temperatures 2.1:2.45:12 --sizes 8,16,32 --algorithm wolff \\
            --samples 2000 --workers 2 --out runs/fss --report
    """
    from rgdl import sweep as sw

    _setup_logging(verbose, quiet)
    spec = sw.spec_from_command_line(
        config, temperatures=temperatures, sizes=sizes, seeds=seeds, train_layers=train_layers,
        epochs=epochs, algorithm=algorithm, dimension=dimension, coupling=coupling, field=field,
        n_samples=samples, n_chains=chains, burn_in=burn_in, thin=thin, engine=engine)
    if scheduler is not None and workers is not None:
        raise ValueError("give either --workers or --scheduler, not both")
    if report:  # refuse an existing report before hours of sweeping, not after
        sw.check_report_targets(out, None, overwrite, require_dir=False)
    elif overwrite:
        raise ValueError("--overwrite applies to the --report files only")

    bar: tqdm[Any] | None = None

    def on_progress(n_todo: int, entry: Mapping[str, Any] | None) -> None:
        nonlocal bar
        if not progress or quiet:
            return
        if entry is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_todo, unit="point", desc="sweep", dynamic_ncols=True)
            return
        assert bar is not None  # the first call (entry None) opens it
        bar.update(1)
        bar.set_postfix_str(entry["id"] if entry["status"] == "done" else f"FAILED {entry['id']}")

    try:
        result = sw.run_sweep(spec, out, workers=workers, scheduler=scheduler, retries=retries,
                              connect_timeout=connect_timeout, progress=on_progress)
    except sw.SweepError as exc:
        if bar is not None:
            bar.close()
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(1)
    finally:
        if bar is not None:
            bar.close()
    if not quiet:
        adopted = f", {result.n_adopted} of them found complete" if result.n_adopted else ""
        click.echo(f"sweep {result.out}: {result.n_points} points ({result.n_skipped} already "
                   f"finished, {result.n_computed} computed{adopted}) in {result.wall_s:.1f} s; "
                   f"index {result.out / sw.INDEX_NAME}")
    if report:
        text = sw.write_fss_report(result.out, n_bootstrap=bootstrap, seed=0, overwrite=overwrite)
        if not quiet:
            click.echo(text)


@click.command(cls=Command)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--figure", "figure", type=click.Path(dir_okay=False, path_type=Path),
              help="Figure path without suffix (default DIRECTORY/fss); .png and .pdf are "
                   "written, and the numbers to .json.")
@click.option("--bootstrap", type=click.IntRange(10, MAX_COUNT), default=2000, show_default=True,
              help="Bootstrap replicates of the error bars.")
@seed_option(default=0, help="Seed of the bootstrap.")
@click.option("--method", type=click.Choice(["largest", "weighted"]), default="largest",
              show_default=True,
              help="T_c from the crossing of the two largest sizes, or the weighted mean of all "
                   "consecutive-size crossings.")
@overwrite_option(help="Replace existing figure and .json files.")
@verbose_option(help="More log output.")
def fss(directory: Path, figure: Path | None, bootstrap: int, seed: int, method: str,
        overwrite: bool, verbose: int) -> None:
    """Finite-size scaling of a finished sweep in DIRECTORY: Binder-cumulant crossing (T_c with
    a bootstrap error bar), susceptibility peaks, data collapse with the exact exponents."""
    from rgdl.sweep import write_fss_report

    _setup_logging(verbose, False)
    click.echo(write_fss_report(directory, n_bootstrap=bootstrap, seed=seed, figure=figure,
                       method=method, overwrite=overwrite))

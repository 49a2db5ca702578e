"""``rgdl sweep`` (a temperature x size x seed grid as Dask tasks) and ``rgdl fss`` (finite-size
scaling figures from a finished sweep).

Thin click layer over :mod:`rgdl.sweep` and :mod:`analysis.fss`; user errors raise ValueError /
FileExistsError / FileNotFoundError and become one line ``Error: ...`` with exit status 2
(:func:`rgdl.cli.main`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from rgdl.commands import COUNT



def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(max(level, logging.ERROR))


def _report_targets(out: Path, figure: Path | None) -> tuple[Path, list]:
    """(figure base, [png, pdf, json]) of the FSS report of the sweep in ``out``."""
    target = Path(figure) if figure is not None else Path(out) / "fss"
    if target.suffix.lower() in (".png", ".pdf"):
        target = target.with_suffix("")
    return target, [target.with_suffix(s) for s in (".png", ".pdf", ".json")]


def _check_report_targets(out: Path, figure: Path | None, overwrite: bool, *,
                          require_dir: bool = True) -> None:
    """Fail before any work if the report cannot be written (or would replace files)."""
    from ising.atomic import check_name_length, check_not_input

    _, files = _report_targets(out, figure)
    for path in files:
        check_name_length(path, suffixes=(".lock",))
        if path.is_dir():
            raise IsADirectoryError(f"output path is a directory: {path}")
        check_not_input(path, Path(out) / "sweep.json")
        if path.exists() and not overwrite:
            raise FileExistsError(f"output exists: {path} (use --overwrite to replace the report)")
    parent = files[0].parent
    if require_dir and not parent.is_dir():
        raise FileNotFoundError(f"output directory does not exist: {parent}")


def _report(out: Path, *, n_bootstrap: int, seed: int, figure: Path | None = None,
            method: str = "largest", overwrite: bool = False) -> str:
    """FSS analysis of the sweep in ``out``: figure (PNG + PDF), ``fss.json``; returns text.

    Refuses to replace existing report files unless ``overwrite``; every file is written
    atomically while holding the report's lock (:mod:`ising.atomic`).
    """
    from analysis import fss
    from ising.atomic import OutputLock, atomic_write_text
    from rgdl.sweep import sweep_table

    _check_report_targets(out, figure, overwrite)
    table = sweep_table(out)
    if len(table["size"]) == 0:
        raise ValueError(f"{out}: no finished points to analyse")
    result = fss.analyze(table, n_bootstrap=n_bootstrap, seed=seed, method=method)
    target, (_, _, json_path) = _report_targets(out, figure)
    with OutputLock(target):
        _check_report_targets(out, figure, overwrite)  # recheck under the lock
        text = json.dumps(result.as_dict(), indent=1, allow_nan=False) + "\n"
        files = fss.plot_fss(result, target, overwrite=overwrite)
        atomic_write_text(json_path, text, overwrite=overwrite)
    return result.report() + "\nfigure: " + ", ".join(str(f) for f in files) + \
        f"\nnumbers: {json_path}"


@click.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory: sweep.json (index) and points/*.h5. Rerunning the same "
                   "command there resumes and skips finished points.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML or JSON sweep file ([sweep] table with the options below; options "
                   "given on the command line override it).")
@click.option("--temperatures", "-T", help="Temperatures: '2.1,2.2,2.3' or 'start:stop:n'.")
@click.option("--sizes", "-L", help="Linear sizes: '8,16,32'.")
@click.option("--seeds", help="Seed entries, one replica each: '0' (default) or '0,1,2'.")
@click.option("--algorithm", "-a", help="metropolis (default), heatbath, wolff or swendsen-wang.")
@click.option("--dimension", "-d", type=int, help="1 or 2 (default 2).")
@click.option("--coupling", "-J", type=float, help="Coupling J (default 1).")
@click.option("--field", "field", type=float, help="Field h (default 0).")
@click.option("--samples", "-n", type=COUNT, help="Samples per point (default 1000).")
@click.option("--chains", type=COUNT, help="Independent chains per point (default 1).")
@click.option("--burn-in", type=COUNT, help="Burn-in sweeps (default: from the measured tau_int).")
@click.option("--thin", type=COUNT, help="Sweeps between samples (default: ~2 tau_int).")
@click.option("--train", "train_layers",
              help="Train an RBM (one size, e.g. '64') or a DBN ('400,100,25') on every point.")
@click.option("--epochs", type=COUNT, help="Training epochs per layer (with --train; default 10).")
@click.option("--workers", "-w", type=COUNT, default=None,
              help="LocalCluster worker processes (default: number of CPUs); 0 runs serially "
                   "in this process without Dask.")
@click.option("--scheduler", help="Address tcp://HOST:PORT of a running Dask scheduler "
                                  "(instead of a LocalCluster); --out must be shared.")
@click.option("--connect-timeout", type=float, default=5.0, show_default=True,
              help="Seconds to wait for --scheduler.")
@click.option("--retries", type=COUNT, default=2, show_default=True,
              help="Extra attempts of a failing point.")
@click.option("--report", is_flag=True, help="Draw the finite-size-scaling figure when done "
                                              "(OUT/fss.png, OUT/fss.pdf, OUT/fss.json).")
@click.option("--bootstrap", type=COUNT, default=2000, show_default=True,
              help="Bootstrap replicates of the FSS error bars (with --report).")
@click.option("--overwrite", is_flag=True,
              help="With --report: replace an existing OUT/fss.png, .pdf and .json.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar over points.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def sweep(ctx, out, config, temperatures, sizes, seeds, algorithm, dimension, coupling, field,
          samples, chains, burn_in, thin, train_layers, epochs, workers, scheduler,
          connect_timeout, retries, report, bootstrap, overwrite, progress, verbose, quiet):
    """Run a grid of Ising datasets (temperatures x sizes x seeds) as Dask tasks.

    Every point writes one HDF5 dataset under OUT/points/; OUT/sweep.json indexes parameters,
    status, summary observables (Binder cumulant, susceptibility, ... with error bars) and a
    content hash per file. Per-point seeds derive from the seed entry and the point's
    parameters, so results do not depend on the number of workers. Example:

        rgdl sweep -T 2.1:2.45:12 -L 8,16,32 -a wolff -n 2000 --workers 2 --out runs/fss --report
    """
    from rgdl import sweep as sw

    _setup_logging(verbose, quiet)
    base = sw.load_spec_file(config) if config is not None else {}
    train = None
    if train_layers is not None or epochs is not None:
        if train_layers is None:
            raise ValueError("--epochs needs --train")
        layers = sw.parse_values(train_layers, kind=int, name="--train")
        train_kwargs = dict(base.get("train").to_dict()) if base.get("train") else {}
        train_kwargs["layers"] = layers
        if epochs is not None:
            train_kwargs["epochs"] = epochs
        train = sw.TrainSpec(**train_kwargs)
    spec = sw.spec_from_options(
        base,
        temperatures=None if temperatures is None else sw.parse_values(
            temperatures, name="--temperatures"),
        sizes=None if sizes is None else sw.parse_values(sizes, kind=int, name="--sizes"),
        seeds=None if seeds is None else sw.parse_values(seeds, kind=int, name="--seeds"),
        algorithm=algorithm, dimension=dimension, coupling=coupling, field=field,
        n_samples=samples, n_chains=chains, burn_in=burn_in, thin=thin, train=train)
    if scheduler is not None and workers is not None:
        raise ValueError("give either --workers or --scheduler, not both")
    if report:  # refuse an existing report before hours of sweeping, not after
        _check_report_targets(out, None, overwrite, require_dir=False)
    elif overwrite:
        raise ValueError("--overwrite applies to the --report files only")

    bar = None

    def on_progress(n_todo, entry):
        nonlocal bar
        if not progress or quiet:
            return
        if entry is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_todo, unit="point", desc="sweep", dynamic_ncols=True)
            return
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
        text = _report(result.out, n_bootstrap=bootstrap, seed=0, overwrite=overwrite)
        if not quiet:
            click.echo(text)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--figure", "figure", type=click.Path(dir_okay=False, path_type=Path),
              help="Figure path without suffix (default DIRECTORY/fss); .png and .pdf are "
                   "written, and the numbers to .json.")
@click.option("--bootstrap", type=COUNT, default=2000, show_default=True,
              help="Bootstrap replicates of the error bars.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--method", type=click.Choice(["largest", "weighted"]), default="largest",
              show_default=True,
              help="T_c from the crossing of the two largest sizes, or the weighted mean of all "
                   "consecutive-size crossings.")
@click.option("--overwrite", is_flag=True, help="Replace existing figure and .json files.")
@click.option("-v", "--verbose", count=True, help="More log output.")
def fss(directory, figure, bootstrap, seed, method, overwrite, verbose):
    """Finite-size scaling of a finished sweep in DIRECTORY: Binder-cumulant crossing (T_c with
    a bootstrap error bar), susceptibility peaks, data collapse with the exact exponents."""
    _setup_logging(verbose, False)
    if bootstrap < 10:
        raise ValueError("--bootstrap must be >= 10")
    if seed < 0:
        raise ValueError("--seed must be >= 0")
    click.echo(_report(directory, n_bootstrap=bootstrap, seed=seed, figure=figure,
                       method=method, overwrite=overwrite))

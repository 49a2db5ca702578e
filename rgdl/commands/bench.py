"""``rgdl bench``: measure rgdl against its peers side by side, in one run."""

from __future__ import annotations

from typing import Any

import click

from rgdl.commands.options import Command, json_option, quiet_option


@click.command(cls=Command)
@click.argument("suite", type=click.Choice(["all", "ising", "rbm"]), default="all")
@click.option("--quick", is_flag=True, help="Smaller problem sizes (a first look, seconds not minutes).")
@json_option(help="Print the rows as JSON instead of a table.")
@quiet_option(help="No progress lines on stderr.")
def bench(suite: str, quick: bool, as_json: bool, quiet: bool) -> None:
    """Benchmark rgdl against its peers in ONE run and print the ratios.

    SUITE is 'ising' (Metropolis spin-flip attempts/s vs a vectorised NumPy checkerboard and the
    C++ pyising package; Wolff cluster steps/s; wall time of the paper's dataset), 'rbm' (CD-1
    training samples/s vs scikit-learn's BernoulliRBM and vs the BLAS ceiling of the step's five
    matrix products; the paper's layer-1 training time) or 'all'. Peers come with
    `pip install -e '.[bench]'`; a missing peer leaves its column empty with a note.

    The first line names the CPU, NumPy's BLAS and the kernel family it runs (OpenBLAS may be
    forced to AVX2 'Haswell' kernels by OPENBLAS_CORETYPE, which moves every BLAS-bound figure).
    --json prints {"environment": ..., "rows": [...]}.
    """
    import json

    def progress(label: str) -> None:  # on stderr, so that --json output stays clean
        if not quiet:
            click.echo(f"bench: {label} ...", err=True)

    rows: list[dict[str, Any]] = []
    if suite in ("all", "ising"):
        from rgdl.benchmarks.ising import run_ising_benchmarks

        rows += run_ising_benchmarks(quick=quick, progress=progress)
    if suite in ("all", "rbm"):
        from rgdl.benchmarks.rbm import run_rbm_benchmarks

        progress("rbm CD-1 vs BLAS ceiling and scikit-learn")
        rows += run_rbm_benchmarks(quick=quick)
    from rgdl.benchmarks import describe_environment, format_table

    environment = describe_environment()
    if as_json:
        click.echo(json.dumps({"environment": environment, "rows": rows}, indent=2,
                              default=float))
    else:
        click.echo(environment)
        click.echo("")
        click.echo(format_table(rows))

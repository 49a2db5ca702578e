"""``rgdl bench``: measure rgdl against its peers side by side, in one run."""

from __future__ import annotations

import click


def _format_number(value):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:,.1f} M"
    if magnitude >= 1e3:
        return f"{value / 1e3:,.1f} k"
    return f"{value:,.3g}"


def format_table(rows):
    """Render benchmark rows (dicts with name, ours, peer, peer_name, unit, ratio, note) as text."""
    header = ("benchmark", "rgdl", "peer", "peer value", "unit", "ratio")
    lines = [header]
    for row in rows:
        ratio = row.get("ratio")
        lines.append((
            row["name"],
            _format_number(row.get("ours")),
            row.get("peer_name") or "-",
            _format_number(row.get("peer")),
            row.get("unit", ""),
            "-" if ratio is None else f"{ratio:.2f}x",
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    notes = [f"- {row['name']}: {row['note']}" for row in rows if row.get("note")]
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out)


@click.command()
@click.argument("suite", type=click.Choice(["all", "ising", "rbm"]), default="all")
@click.option("--quick", is_flag=True, help="Smaller problem sizes (a first look, seconds not minutes).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
def bench(suite, quick, as_json):
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

    rows = []
    if suite in ("all", "ising"):
        from rgdl.benchmarks.ising import run_ising_benchmarks

        rows += run_ising_benchmarks(quick=quick)
    if suite in ("all", "rbm"):
        from rgdl.benchmarks.rbm import run_rbm_benchmarks

        rows += run_rbm_benchmarks(quick=quick)
    from rgdl.benchmarks import describe_environment

    environment = describe_environment()
    if as_json:
        click.echo(json.dumps({"environment": environment, "rows": rows}, indent=2,
                              default=float))
    else:
        click.echo(environment)
        click.echo("")
        click.echo(format_table(rows))

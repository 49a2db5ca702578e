"""Benchmarks of rgdl (each module returns rows: name, ours, peer, unit, ratio)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BenchmarkRow", "SIMD_LEVELS", "cpu_simd", "describe_environment", "format_table", "judge"]

#: One benchmark row: ``name``, ``ours``, ``peer``, ``peer_name``, ``unit``, ``ratio``, ``note``
#: and, once judged, ``target`` and ``passed``.
BenchmarkRow = dict[str, Any]


def judge(row: BenchmarkRow, *, at_least: float | None = None,
          at_most: float | None = None) -> BenchmarkRow:
    """Attach a ratio target and its verdict to a benchmark row (in place; returns it).

    Targets are ratios measured in the same run (ours / peer, or ours / the BLAS ceiling),
    never absolute times, so they carry over between machines. ``row["target"]`` becomes a
    text such as ``">= 15x"`` and ``row["passed"]`` True/False, or ``None`` for a row that
    is information only (no target) or whose ratio could not be measured.
    """
    ratio = row.get("ratio")
    measured = ratio if ratio is not None and ratio == ratio else None  # not NaN
    if at_least is not None:
        row["target"] = f">= {at_least:g}x"
        row["passed"] = bool(measured >= at_least) if measured is not None else None
    elif at_most is not None:
        row["target"] = f"<= {at_most:g}x"
        row["passed"] = bool(measured <= at_most) if measured is not None else None
    else:
        row["target"] = None
        row["passed"] = None
    return row


def _cpuinfo_field(*prefixes: str) -> str | None:
    """The value of the first /proc/cpuinfo line starting with one of ``prefixes`` (None where
    there is no such line or no /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(prefixes):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    model = _cpuinfo_field("model name")
    if model is not None:
        return model
    import platform

    return platform.processor() or platform.machine()


#: Vector instruction sets, widest first, as /proc/cpuinfo names them and as printed.
SIMD_LEVELS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"),
               ("asimd", "NEON"))


def cpu_simd(flags: str | None = None) -> str:
    """The widest vector instruction set of the CPU (from the ``flags`` line of /proc/cpuinfo,
    or ``flags`` if given), e.g. ``"AVX2"``; ``"unknown"`` where it cannot be read.

    It decides how wide the compiled kernels' vectors are (Numba compiles for the host CPU unless
    ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` say otherwise) and which OpenBLAS kernels run, so
    a figure without it cannot be compared with another machine's.
    """
    if flags is None:
        flags = _cpuinfo_field("flags", "Features")
        if flags is None:
            return "unknown"
    present = set(flags.split())
    return next((name for flag, name in SIMD_LEVELS if flag in present), "unknown")


def describe_environment() -> str:
    """One line naming what the figures depend on: CPU, cores, NumPy's BLAS and the kernels it
    runs, thread counts and the OpenBLAS and Numba overrides in the environment.

    The BLAS kernel family comes from ``threadpoolctl`` (installed with scikit-learn, the
    ``bench`` extra) when available. OpenBLAS picks its kernels from the CPU unless
    ``OPENBLAS_CORETYPE`` forces a family (e.g. Haswell = AVX2 on an AVX-512 machine), which
    changes every BLAS-bound figure, so it is printed with the rest.
    """
    import numpy as np

    parts = [f"CPU {_cpu_model()} x {os.cpu_count()} ({cpu_simd()})", f"NumPy {np.__version__}"]
    blas = "BLAS unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"BLAS {info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        pass
    try:
        # threadpoolctl (a scikit-learn dependency) ships no type information
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            pool = pools[0]
            arch = pool.get("architecture")
            blas += f" ({arch} kernels, {pool.get('num_threads')} threads)" if arch else \
                f" ({pool.get('num_threads')} threads)"
    except ImportError:
        pass
    parts.append(blas)
    overrides = [f"{key}={os.environ[key]}" for key in
                 ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                  "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")
                 if key in os.environ]
    if overrides:
        parts.append("env " + " ".join(overrides))
    return "; ".join(parts)


def _format_number(value: float | str | None) -> str:
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


def _verdict(row: Mapping[str, Any]) -> str:
    passed = row.get("passed")
    if row.get("target") is None:
        return "info"
    return "-" if passed is None else ("pass" if passed else "FAIL")


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render benchmark rows (name, ours, peer, peer_name, unit, ratio, target, passed, note)
    as an aligned text table with a target and a pass/fail column."""
    header = ("benchmark", "rgdl", "peer", "peer value", "unit", "ratio", "target", "pass")
    lines = [header]
    for row in rows:
        ratio = row.get("ratio")
        lines.append((
            row["name"],
            _format_number(row.get("ours")),
            row.get("peer_name") or "-",
            _format_number(row.get("peer")),
            row.get("unit", ""),
            "-" if ratio is None or ratio != ratio else f"{ratio:.2f}x",
            row.get("target") or "-",
            _verdict(row),
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

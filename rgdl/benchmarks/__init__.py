"""Benchmarks of rgdl (each module returns rows: name, ours, peer, unit, ratio)."""

from __future__ import annotations

import os

__all__ = ["describe_environment"]


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def describe_environment():
    """One line naming what the figures depend on: CPU, cores, NumPy's BLAS and the kernels it
    runs, thread counts and the OpenBLAS overrides in the environment.

    The BLAS kernel family comes from ``threadpoolctl`` (installed with scikit-learn, the
    ``bench`` extra) when available. OpenBLAS picks its kernels from the CPU unless
    ``OPENBLAS_CORETYPE`` forces a family (e.g. Haswell = AVX2 on an AVX-512 machine), which
    changes every BLAS-bound figure, so it is printed with the rest.
    """
    import numpy as np

    parts = [f"CPU {_cpu_model()} x {os.cpu_count()}", f"NumPy {np.__version__}"]
    blas = "BLAS unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"BLAS {info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        pass
    try:
        from threadpoolctl import threadpool_info

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
                  "OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if key in os.environ]
    if overrides:
        parts.append("env " + " ".join(overrides))
    return "; ".join(parts)

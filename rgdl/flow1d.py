"""The 1D Ising RG flow behind ``rgdl flow1d``: exact RBM decimation, majority rule, learned RBMs.

:func:`run_flow` runs the exact flow (:func:`rgdl.decimation.exact_flow`) and, optionally, the
learned one (:func:`rgdl.decimation.learned_flow`), and returns one JSON-ready object;
:func:`format_table` renders its steps as the command's text table.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rgdl import decimation

_COLUMNS = (
    # key, header, format
    ("step", "step", "{:d}"),
    ("size", "N", "{:d}"),
    ("K_decimation", "K decimation", "{:.10f}"),
    ("K_rbm_exact", "K exact RBM", "{:.10f}"),
    ("K_majority", "K majority", "{:.6f}"),
    ("K_learned", "K learned", "{:.4f}"),
    ("K_learned_encoder", "K learned enc", "{:.4f}"),
    ("kl_per_spin", "KL/spin exact", "{:.2e}"),
    ("kl_per_spin_learned", "KL/spin learned", "{:.2e}"),
    ("fit_residual", "fit resid", "{:.1e}"),
    ("majority_fit_residual", "maj resid", "{:.1e}"),
    ("learned_fit_residual_weighted", "learned resid (P-weighted)", "{:.3f}"),
)


def format_table(steps: list[dict[str, Any]]) -> str:
    """Render the step dicts of :func:`run_flow` as an aligned text table."""
    cols = [c for c in _COLUMNS if all(c[0] in s for s in steps)]
    rows = [[c[1] for c in cols]]
    for s in steps:
        rows.append([fmt.format(s[key]) for key, _, fmt in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_flow(coupling: float, size: int, steps: int, *, strength: float | None, learned: bool,
             epochs: int, samples: int, seed: int | None,
             progress: Callable[[decimation.FlowStep | dict[str, Any]], object] | None = None
             ) -> dict[str, Any]:
    """Library call behind the command: exact flow (+ learned flow); returns the JSON object."""
    decimation.check_flow_arguments(coupling, size, steps)
    if strength is None:
        strength = decimation.default_strength(coupling)
    if learned and (epochs < 1 or samples < 100):
        raise ValueError(f"--epochs must be >= 1 and --samples >= 100, got {epochs} and {samples}")
    t0 = time.perf_counter()
    exact = decimation.exact_flow(coupling, size, steps, strength=strength, progress=progress)
    rows = [s.to_dict() for s in exact]
    if learned:
        for row, extra in zip(rows, decimation.learned_flow(coupling, size, steps, epochs=epochs,
                                                            n_samples=samples, seed=seed,
                                                            progress=progress)):
            extra = dict(extra)
            extra.pop("step")
            row.update(extra)
    return {
        "coupling": float(coupling), "size": int(size), "strength": float(strength),
        "learned": bool(learned), "epochs": int(epochs) if learned else None,
        "samples": int(samples) if learned else None, "seed": seed if learned else None,
        "steps": rows, "seconds": time.perf_counter() - t0,
    }

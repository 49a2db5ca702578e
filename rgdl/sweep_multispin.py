"""Former home of :mod:`rgdl.sweep.multispin` (Metropolis sweep points of one size on a
multi-spin temperature grid); its public names stay importable from here."""

from __future__ import annotations

from rgdl.sweep.multispin import (GRID_ENGINE, grid_eligible, grid_groups, grid_seed,
                                  run_grid_group)

__all__ = ["GRID_ENGINE", "grid_eligible", "grid_groups", "grid_seed", "run_grid_group"]

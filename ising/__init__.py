"""Numba Monte Carlo for the periodic 1D and 2D Ising model, exact results, block spins, datasets.

Conventions (written once, docs/CONTRACTS.md): H = -J Σ_<ij> s_i s_j - h Σ_i s_i, Boltzmann
weight exp(-H/T), K = J/T; spins int8 in {-1, +1}; energies and magnetizations per spin;
burn-in, thinning and autocorrelation times in sweeps (N = L^d attempted spin updates).

Public API
----------
sample, MonteCarloSampler, calibrate, SampleResult, ALGORITHMS, INITIAL_STATES, visiting_scheme
    Samplers (:mod:`ising.samplers`): Metropolis (lazy checkerboard in 2D, random-site in 1D,
    at L = 2 and odd sizes), heat-bath, Wolff, Swendsen-Wang; every scheme proved ergodic.
sample_temperature_grid
    A whole temperature grid in the lanes of multi-spin words, one result per temperature
    (:mod:`ising.temperature_grid`).
validation
    Chain-by-chain statistical validation against exact results (:mod:`ising.validation`).
generate_dataset
    Calibrated, chunked, atomic, resumable HDF5 datasets (:mod:`ising.dataset`).
load_dataset, read_dataset, write_dataset
    The HDF5 schema of docs/ARCHITECTURE.md (:mod:`ising.io`); ``load_dataset(path)`` gives
    NumPy arrays and metadata, ``load_dataset(path, as_xarray=True)`` an xarray view.
summarize, integrated_autocorr_time, binning_error, jackknife
    Estimators with error bars (:mod:`ising.observables`).
energy_per_spin, magnetization_per_spin
    Per-configuration observables (:mod:`ising.lattice`).
exact, blockspin
    Onsager/Kaufman/1D transfer-matrix results; majority-rule and decimation block spins.
"""

import importlib
from types import ModuleType

from ising import blockspin, exact
from ising.dataset import generate_dataset
from ising.io import load_dataset, read_dataset, write_dataset
from ising.lattice import energy_per_spin, magnetization_per_spin
from ising.observables import binning_error, integrated_autocorr_time, jackknife, summarize
from ising.samplers import (ALGORITHMS, INITIAL_STATES, MonteCarloSampler, SampleResult, calibrate,
                            sample, visiting_scheme)
from ising.temperature_grid import sample_temperature_grid

__all__ = [
    "sample", "MonteCarloSampler", "calibrate", "SampleResult", "ALGORITHMS", "INITIAL_STATES",
    "visiting_scheme", "validation", "sample_temperature_grid",
    "generate_dataset", "load_dataset", "read_dataset", "write_dataset",
    "summarize", "integrated_autocorr_time", "binning_error", "jackknife",
    "energy_per_spin", "magnetization_per_spin", "exact", "blockspin",
]

#: Submodules imported on first access (PEP 562): :mod:`ising.validation` pulls in scipy.stats,
#: which would otherwise dominate the start-up of every ``rgdl`` command, ``--help`` included.
LAZY_SUBMODULES = ("validation",)


def __getattr__(name: str) -> ModuleType:
    if name in LAZY_SUBMODULES:
        return importlib.import_module(f"ising.{name}")
    raise AttributeError(f"module 'ising' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(LAZY_SUBMODULES))

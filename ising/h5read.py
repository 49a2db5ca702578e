"""Validated reading of HDF5 spin datasets (the schema of :mod:`ising.h5schema`).

Every reader checks the layout, the attributes and (where it loads them) the values, and raises
``ValueError`` with a one-line message naming the file for anything that is not a complete rgdl
spin dataset (corrupt, truncated, unfinished, wrong dtype or shape, spins other than +-1).
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

import numpy as np

from .h5resume import RESUME_GROUP
from .h5schema import check_spin_values, first_line, open_h5, validate_layout
from .lattice import energy_per_spin, magnetization_per_spin

__all__ = ["SpinDataset", "read_attributes", "read_dataset", "dataset_shape", "read_series"]


def _attribute(name: str, kind, doc: str) -> property:
    """A read-only property returning ``kind(self.attrs[name])``."""
    return property(lambda self: kind(self.attrs[name]), doc=doc)


@dataclass(frozen=True)
class SpinDataset:
    """A spin dataset read from disk (see :mod:`ising.h5schema` for the schema).

    Attributes
    ----------
    path : pathlib.Path
        The file it was read from.
    spins : numpy.ndarray
        int8 in {-1, +1}, shape ``(n_samples, L)`` or ``(n_samples, L, L)``.
    energy, magnetization : numpy.ndarray
        float64 ``(n_samples,)``, per spin (docs/CONTRACTS.md conventions).
    attrs : dict
        Root attributes as Python scalars (int, float, str).
    """

    path: Path
    spins: np.ndarray
    energy: np.ndarray
    magnetization: np.ndarray
    attrs: dict = dataclass_field(default_factory=dict)

    dimension = _attribute("dimension", int, "Lattice dimension, 1 or 2.")
    size = _attribute("size", int, "Linear size L.")
    temperature = _attribute("temperature", float, "T of the Boltzmann weight exp(-H/T).")
    coupling = _attribute("coupling", float, "J of H = -J sum s_i s_j - h sum s_i.")
    field = _attribute("field", float, "h of H = -J sum s_i s_j - h sum s_i.")

    @property
    def n_samples(self) -> int:
        """Number of configurations."""
        return int(self.spins.shape[0])

    @property
    def n_spins(self) -> int:
        """Spins per configuration, N = L**dimension."""
        return self.size ** self.dimension


def read_attributes(path) -> dict:
    """Read and validate only the root attributes of a dataset (no spin data is loaded).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid, complete spin dataset.
    """
    path = Path(path)
    with open_h5(path, "r") as h5:
        try:
            attrs, _ = validate_layout(h5, str(path))
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{path}: corrupt dataset file ({first_line(exc)})") from exc
        if RESUME_GROUP in h5:
            raise ValueError(f"{path}: incomplete dataset (it still carries resume state)")
    return attrs


def read_dataset(path, *, check_observables: bool = False) -> SpinDataset:
    """Read and validate a spin dataset written in the rgdl schema.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    check_observables : bool, default False
        Also recompute the energy and magnetization per spin from ``spins`` (with
        :mod:`ising.lattice`, the docs/CONTRACTS.md convention H = -J sum s_i s_j - h sum s_i) and
        require agreement to 1e-12.

    Returns
    -------
    SpinDataset

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        With a one-line message naming the file, if it is corrupt, not HDF5, lacks a dataset or an
        attribute, has a wrong dtype/shape, contains spins other than +-1, non-finite observables,
        or is an unfinished (partial) file.
    """
    path = Path(path)
    where = str(path)
    with open_h5(path, "r") as h5:
        try:
            attrs, n_samples = validate_layout(h5, where)
            if RESUME_GROUP in h5:
                raise ValueError(f"{where}: incomplete dataset (it still carries resume state)")
            check_spin_values(h5["spins"], n_samples, where)
            spins = h5["spins"][...]
            energy = h5["energy"][...]
            magnetization = h5["magnetization"][...]
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{where}: corrupt dataset file ({first_line(exc)})") from exc
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
        raise ValueError(f"{where}: 'energy' or 'magnetization' contains non-finite values")
    if check_observables:
        e = energy_per_spin(spins, attrs["coupling"], attrs["field"], attrs["dimension"])
        m = magnetization_per_spin(spins, attrs["dimension"])
        if not np.allclose(e, energy, rtol=0, atol=1e-12):
            raise ValueError(f"{where}: 'energy' does not match the energy per spin of 'spins'")
        if not np.allclose(m, magnetization, rtol=0, atol=1e-12):
            raise ValueError(f"{where}: 'magnetization' does not match the mean of 'spins'")
    return SpinDataset(path=path, spins=spins, energy=energy, magnetization=magnetization,
                       attrs=attrs)


def dataset_shape(path) -> tuple:
    """Shape ``(n_samples, L[, L])`` of a complete dataset's ``spins`` (validated, not loaded)."""
    path = Path(path)
    read_attributes(path)
    with open_h5(path, "r") as h5:
        return tuple(int(n) for n in h5["spins"].shape)


def read_series(path) -> tuple[np.ndarray, np.ndarray]:
    """Read only the ``energy`` and ``magnetization`` series of a complete dataset (validated)."""
    path = Path(path)
    read_attributes(path)
    with open_h5(path, "r") as h5:
        try:
            energy, magnetization = h5["energy"][...], h5["magnetization"][...]
        except (OSError, KeyError, RuntimeError) as exc:
            raise ValueError(f"{path}: corrupt dataset file ({first_line(exc)})") from exc
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(magnetization))):
        raise ValueError(f"{path}: 'energy' or 'magnetization' contains non-finite values")
    return energy, magnetization

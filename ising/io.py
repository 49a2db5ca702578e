"""HDF5 spin datasets: the on-disk schema, validated reading, and atomic, resumable writing.

This module gathers the public names of the dataset I/O, each defined in the module of its job:

- :mod:`ising.h5schema`: the schema (datasets, root attributes, ``format_version``) and its
  validation; :data:`FORMAT_VERSION`, :data:`REQUIRED_ATTRIBUTES`, :func:`package_version`,
  :func:`utc_now`;
- :mod:`ising.h5read`: :class:`SpinDataset`, :func:`load_dataset`, :func:`read_dataset`, :func:`read_attributes`,
  :func:`read_series`, :func:`dataset_shape`;
- :mod:`ising.h5write`: :class:`DatasetWriter` (chunked, atomic, resumable), :func:`write_dataset`,
  :func:`check_output_path`, :func:`partial_is_resumable`;
- :mod:`ising.h5resume`: the resume state of ``<out>.partial`` files, :func:`partial_path`,
  :func:`read_partial_params`;
- :mod:`ising.h5failure`: write failures h5py reports from deallocators, :func:`abandoned_files`.

Schema (docs/ARCHITECTURE.md, "Data contract"; conventions in docs/CONTRACTS.md): dataset
``spins`` int8 in {-1, +1} of shape ``(n_samples, L)`` or ``(n_samples, L, L)``; datasets
``energy`` and ``magnetization`` float64 ``(n_samples,)`` per spin; root attributes
:data:`REQUIRED_ATTRIBUTES`. ``<out>`` either does not exist or is a complete, valid dataset.
"""

from __future__ import annotations

from .h5failure import abandoned_files
from .h5read import (DatasetMetadata, SpinDataset, dataset_shape, load_dataset, read_attributes,
                     read_dataset, read_series)
from .h5resume import partial_path, read_partial_params
from .h5schema import FORMAT_VERSION, REQUIRED_ATTRIBUTES, package_version, utc_now
from .h5write import DatasetWriter, check_output_path, partial_is_resumable, write_dataset

__all__ = [
    "FORMAT_VERSION",
    "REQUIRED_ATTRIBUTES",
    "SpinDataset",
    "DatasetMetadata",
    "load_dataset",
    "DatasetWriter",
    "read_dataset",
    "read_attributes",
    "read_series",
    "dataset_shape",
    "read_partial_params",
    "write_dataset",
    "partial_path",
    "partial_is_resumable",
    "check_output_path",
    "package_version",
    "utc_now",
    "abandoned_files",
]

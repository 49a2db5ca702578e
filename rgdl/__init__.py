"""rgdl: the exact mapping between the variational renormalization group and deep learning.

Reference implementation of Mehta & Schwab, "An exact mapping between the Variational
Renormalization Group and Deep Learning", arXiv:1410.3831 (2014).

Packages
--------
ising
    Numba Monte Carlo for the 1D/2D Ising model, exact results, block-spin transforms, HDF5 datasets.
rbm
    Restricted Boltzmann machines and deep belief nets trained by contrastive divergence.
analysis
    Quantitative comparisons of learned layers with block-spin renormalization, and figures.
rgdl
    The variational-RG formalism, experiment pipelines, the ``rgdl`` command line and sweeps.
"""

__version__ = "0.1.0"

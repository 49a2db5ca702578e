r"""The variational renormalization group and its exact mapping to RBMs, by exact enumeration.

For systems small enough to enumerate (up to about 20 visible plus hidden spins) this module
computes, in log space and to machine precision, every object of the variational-RG formalism
of Kadanoff and of Mehta & Schwab (2014), and the quantities that measure how far a (learned or
constructed) restricted Boltzmann machine is from an exact RG step.

Formalism (Mehta & Schwab 2014, Sec. II-III; Kadanoff, Houghton & Yalabik 1976)
--------------------------------------------------------------------------------
A fine ("visible") system of spins :math:`v` has the dimensionless Hamiltonian :math:`H(v)`
(Boltzmann weight :math:`e^{-H(v)}`; for the Ising model :math:`H = -K\sum_{\langle ij\rangle}
v_i v_j - h\sum_i v_i` with :math:`K = J/T`, docs/CONTRACTS.md). A variational RG step is a
real operator :math:`T_\lambda(v, h)` coupling :math:`v` to coarse ("hidden") spins :math:`h`:

.. math::  e^{-H^{RG}_\lambda[h]} = \operatorname{Tr}_v\, e^{T_\lambda(v,h) - H(v)} .

The step is *exact* (preserves the free energy, :math:`F_h = F_v`) when the trace condition
:math:`\operatorname{Tr}_h e^{T_\lambda(v,h)} = 1` holds for every :math:`v`. (Mehta & Schwab's
Eq. 8 states an equivalence; only the implication holds, see arXiv:1609.03541.) We report the
trace residual :math:`\max_v |\log \operatorname{Tr}_h e^{T_\lambda(v,h)}|` and the free-energy
shift :math:`\Delta F = F_h - F_v` with :math:`F = -\log Z`.

RBM mapping (Mehta & Schwab 2014, Eqs. 13-21)
---------------------------------------------
An RBM with energy :math:`E(v,h) = \sum_j b_j h_j + \sum_{ij} v_i w_{ij} h_j + \sum_i c_i v_i`
(the paper's sign convention, docs/CONTRACTS.md) defines :math:`p_\lambda(v,h) = e^{-E}/Z`, the
marginals :math:`p_\lambda(v) = e^{-F(v)}/Z` and :math:`p_\lambda(h) = e^{-H^{RBM}_\lambda[h]}/Z`.
Choosing :math:`T_\lambda(v,h) = -E(v,h) + H(v)` gives

.. math::  e^{-H^{RG}_\lambda[h]} = \operatorname{Tr}_v e^{-E(v,h)} = e^{-H^{RBM}_\lambda[h]}
   \qquad\text{(their Eq. 21)}

for every :math:`\lambda`, and :math:`\operatorname{Tr}_h e^{T_\lambda} = e^{H(v) - F(v)}`, so the
RG step is exact iff :math:`F(v) = H(v)`; up to the free-energy constant this is
:math:`\mathrm{KL}(P(v)\,\|\,p_\lambda(v)) = 0` with :math:`P = e^{-H}/Z_v`.
:func:`rbm_mapping_check` evaluates both sides of Eq. 21 along *independent* computational paths
(a brute-force double trace of :math:`e^{T - H}` versus the closed-form hidden free energy) and the
exact KL divergence in nats per visible spin.

Module layout
-------------
This module re-exports the public names of three modules with one job each:
:mod:`rgdl.enumeration` (configurations in a fixed enumeration order, Ising Hamiltonians,
``log Z``, exact samples, coupling fits), :mod:`rgdl.rg_operators` (operators
:math:`T_\lambda` and :func:`coarse_grain`) and :mod:`rgdl.rbm_mapping` (the RBM side: hidden
Hamiltonians from :mod:`rbm.maths`, the operators of Eq. 20, KL, :func:`rbm_mapping_check`).

References
----------
P. Mehta and D. J. Schwab, "An exact mapping between the Variational Renormalization Group and
Deep Learning", arXiv:1410.3831 (2014).
L. P. Kadanoff, A. Houghton and M. C. Yalabik, "Variational approximations for
renormalization group transformations", J. Stat. Phys. 14, 171 (1976).
K. G. Wilson, "The renormalization group: critical phenomena and the Kondo problem",
Rev. Mod. Phys. 47, 773 (1975).
"""

from rgdl.enumeration import (MAX_ENUMERATED_UNITS, CouplingFit, as_hamiltonian,
                              boltzmann_probabilities, configuration_index, default_terms,
                              fit_couplings, ising_hamiltonian, lattice_features, lattice_shape,
                              log_partition, sample_exact, spin_configurations)
from rgdl.rbm_mapping import (RBMMappingResult, kl_divergence, rbm_encoder_operator, rbm_energy,
                              rbm_hidden_free_energy, rbm_hidden_hamiltonian, rbm_log_partition,
                              rbm_mapping_check, rbm_operator, rbm_visible_free_energy)
from rgdl.rg_operators import (CoarseGrainResult, VariationalOperator, coarse_grain,
                               majority_operator, soft_decimation_operator, table_operator)

__all__ = ["MAX_ENUMERATED_UNITS", "CouplingFit", "as_hamiltonian", "boltzmann_probabilities",
           "configuration_index", "default_terms", "fit_couplings", "ising_hamiltonian",
           "lattice_features", "lattice_shape", "log_partition", "sample_exact",
           "spin_configurations", "RBMMappingResult", "kl_divergence", "rbm_encoder_operator",
           "rbm_energy", "rbm_hidden_free_energy", "rbm_hidden_hamiltonian", "rbm_log_partition",
           "rbm_mapping_check", "rbm_operator", "rbm_visible_free_energy", "CoarseGrainResult",
           "VariationalOperator", "coarse_grain", "majority_operator", "soft_decimation_operator",
           "table_operator"]

"""Quantitative comparisons of learned RBM layers with block-spin renormalization, and figures.

Mehta & Schwab (arXiv:1410.3831) showed pictures; this package turns their claims into numbers:

receptive_fields
    ``r^(l) = r^(l-1) W^(l)`` and their localisation (core radius of gyration of ``r**2``, share
    within a radius, best ``b x b`` window share).
blockspin_fidelity
    Correlation of hidden units with majority-rule block spins at every block position, scans
    of the block size, and the ceiling a perfect linear block sum reaches.
correlations
    ``G(r)`` and second-moment correlation lengths on periodic lattices, for block spins and for
    hidden activations placed at their receptive-field centres.
thermodynamics
    Jackknife thermodynamics, Gelman-Rubin R-hat, ``KL(P_Ising || p_RBM)`` per spin.
rbm_flow
    The RBM flow of Iso et al. (2018) and energy-matched effective temperatures.
iso_flow, thermometer
    Iso et al.'s protocol (one RBM trained on many temperatures) and an MC-calibrated thermometer.
figures
    Publication figures (PNG + PDF, colour-blind safe).
fss
    Finite-size scaling (see that module).

Figures are imported lazily (``analysis.figures``) so that importing the package stays light.
"""

from analysis.blockspin_fidelity import (FidelityScan, block_correlations, fidelity_scan,
                                         fidelity_scans, linear_ceiling, unit_fidelity,
                                         window_block_spins)
from analysis.correlations import (activation_correlation_length, block_spin_correlation_lengths,
                                   correlation_length, correlation_map, radial_correlation,
                                   second_moment_length)
from analysis.rbm_flow import (effective_temperature, flow_fixed_point, flow_step,
                               hidden_probability, rbm_flow, visible_probability)
from analysis.receptive_fields import (Localization, layer_localization, localization,
                                       receptive_fields, uniform_core_radius)
from analysis.thermodynamics import (Estimate, gelman_rubin, jackknife, kl_per_spin,
                                     relative_error, thermodynamic_estimates)

__all__ = [
    "receptive_fields", "Localization", "localization", "layer_localization", "uniform_core_radius",
    "window_block_spins", "block_correlations", "unit_fidelity", "linear_ceiling", "FidelityScan",
    "fidelity_scan", "fidelity_scans",
    "correlation_map", "radial_correlation", "second_moment_length", "correlation_length",
    "block_spin_correlation_lengths", "activation_correlation_length",
    "Estimate", "jackknife", "thermodynamic_estimates", "relative_error", "gelman_rubin",
    "kl_per_spin",
    "hidden_probability", "visible_probability", "flow_step", "rbm_flow", "effective_temperature",
    "flow_fixed_point",
]

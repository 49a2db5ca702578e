"""``summary.json``: the headline numbers of an analysis, with their verdicts.

A layer's block-spin fidelity is a result only when it beats its nulls beyond the error
(:func:`null_separation`, :data:`NULL_SEPARATION_CRITERION`); a correlation length is reported
only where the layer's geometry gives it a meaning (:func:`xi_omission_reason`). Every field is
described in docs/formats.md ("Experiment results").
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from rgdl.experiment.cache import jsonable
from rgdl.experiment.config import ExperimentConfig

__all__ = ["NULL_SEPARATION_SIGMAS", "NULL_SEPARATION_CRITERION", "MIN_LINEAR_SIZE_FOR_XI",
           "null_separation", "xi_omission_reason", "make_summary"]

#: A layer is separated from a null when fidelity - null > NULL_SEPARATION_SIGMAS * combined error.
NULL_SEPARATION_SIGMAS = 2.0
#: Smallest linear size sqrt(n_units) of a layer (or block-spin lattice) whose xi is reported.
MIN_LINEAR_SIZE_FOR_XI = 4
NULL_SEPARATION_CRITERION = (
    "a layer is separated from its nulls when, for every null n (untrained, shuffled), "
    "F - F_n > {k:g} sqrt(s_F^2 + s_n^2), with F the trained layer's fidelity at its best block "
    "size b, F_n the null's fidelity at the same b and s their standard errors (spread over "
    "the layer's units); the margin is min_n (F - F_n) / sqrt(s_F^2 + s_n^2) (choosing the best "
    "b favours the trained layer, so the criterion is if anything lenient)"
).format(k=NULL_SEPARATION_SIGMAS)


def null_separation(layer: Mapping[str, Any], local: bool = False) -> dict[str, Any]:
    """Whether a layer's block-spin fidelity beats its nulls beyond the error.

    See :data:`NULL_SEPARATION_CRITERION`. ``layer`` is a per-layer entry of the analysis
    (``block_fidelity``, ``block_fidelity_error``, ``best_block_size``, ``fidelity_scan_null``;
    with ``local``: ``block_fidelity_local``, ``best_block_size_local``, ``fidelity_scan_local``
    and ``fidelity_scan_local_null``, the fidelity with the sample magnetization regressed out,
    judged by the same rule at its own best block size).

    Returns
    -------
    dict
        ``separated`` (bool), ``margin_sigma`` (the smallest margin over the nulls, in units of
        the combined error; +-inf when that error is zero) and ``margin_sigma_per_null``.
    """
    if local:
        b = layer["best_block_size_local"]
        scan = layer["fidelity_scan_local"]
        error = scan["fidelity_error"][list(scan["block_sizes"]).index(b)]
        return _separation(layer["block_fidelity_local"], error, b, layer["fidelity_scan_local_null"])
    return _separation(layer["block_fidelity"], layer["block_fidelity_error"],
                       layer["best_block_size"], layer["fidelity_scan_null"])


def _separation(fidelity: float, error: float, block_size: int,
                null_scans: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`null_separation` of a fidelity ± error at ``block_size`` against null scans."""
    f, s = float(fidelity), float(error)
    per_null: dict[str, float] = {}
    for name, scan in null_scans.items():
        k = list(scan["block_sizes"]).index(block_size)
        diff = f - float(scan["fidelity"][k])
        err = math.hypot(s, float(scan["fidelity_error"][k]))
        per_null[name] = diff / err if err > 0 else math.copysign(math.inf, diff)
    margin = min(per_null.values())
    return {"separated": bool(margin > NULL_SEPARATION_SIGMAS), "margin_sigma": margin,
            "margin_sigma_per_null": per_null}


def xi_omission_reason(n_units: int) -> str | None:
    """Why the correlation length of a layer of ``n_units`` units is not reported (or None).

    The second-moment ``xi`` (Cooper, Freedman & Preston 1982) is read off the structure factor
    at the smallest nonzero wavevector ``2 pi / L_layer``; it estimates a length only while that
    wavevector is small, i.e. for linear sizes ``L_layer = sqrt(n_units)`` of at least
    :data:`MIN_LINEAR_SIZE_FOR_XI` (at ``L_layer = 2`` it is the zone boundary ``pi``).
    """
    linear = math.sqrt(n_units)
    if linear >= MIN_LINEAR_SIZE_FOR_XI:
        return None
    return (f"{n_units} units = linear size {linear:.3g} < {MIN_LINEAR_SIZE_FOR_XI}: the "
            f"second-moment xi needs the smallest wavevector 2 pi / L_layer to be small, so xi "
            f"has no meaning on this geometry")


def _layer_summary(layer: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of ``summary.json["layers"]`` from the analysis record, with its null verdicts."""
    sep, sep_local = null_separation(layer), null_separation(layer, local=True)
    local_scan = layer["fidelity_scan_local"]
    local_error = local_scan["fidelity_error"][
        list(local_scan["block_sizes"]).index(layer["best_block_size_local"])]
    return {
        "receptive_field_radius": layer["receptive_field_radius"],
        "receptive_field_radius_untrained": layer["receptive_field_radius_untrained"],
        "block_fidelity": layer["block_fidelity"],
        "block_fidelity_error": layer["block_fidelity_error"],
        "block_fidelity_ceiling": layer["block_fidelity_ceiling"],
        "block_fidelity_null": layer["block_fidelity_null"],
        "best_block_size": layer["best_block_size"],
        "block_fidelity_local": layer["block_fidelity_local"],
        "block_fidelity_local_error": local_error,
        "block_fidelity_local_null": layer["block_fidelity_local_null"],
        "block_fidelity_local_ceiling": layer["block_fidelity_local_ceiling"],
        "best_block_size_local": layer["best_block_size_local"],
        "correlation_length": (None if xi_omission_reason(layer["n_units"])
                               else layer["correlation_length"]),
        # why correlation_length is null (None when it is reported)
        "correlation_length_reason": xi_omission_reason(layer["n_units"]),
        "rg_expected_correlation_length": layer["rg_expected_correlation_length"],
        # null_separation_criterion: is the fidelity beyond the nulls' by > k errors?
        "separated_from_null": sep["separated"],
        "null_margin_sigma": sep["margin_sigma"],
        "null_margin_sigma_per_null": sep["margin_sigma_per_null"],
        # the same criterion for the local fidelity (its own best b, errors and nulls)
        "separated_from_null_local": sep_local["separated"],
        "null_margin_sigma_local": sep_local["margin_sigma"],
        "null_margin_sigma_per_null_local": sep_local["margin_sigma_per_null"],
    }


def make_summary(cfg: ExperimentConfig, analysis: Mapping[str, Any],
                 timings: Mapping[str, float]) -> dict[str, Any]:
    """``summary.json``: the headline numbers of an analysis, with their verdicts."""
    gen1 = analysis["generation"]["rbm1"]
    stack = analysis["generation"]["stack"]
    layers = analysis["layers"]
    return jsonable({
        "config": cfg.to_dict(),
        "layers": [_layer_summary(layer) for layer in layers],
        "null_separation_criterion": NULL_SEPARATION_CRITERION,
        "min_linear_size_for_xi": MIN_LINEAR_SIZE_FOR_XI,
        "correlation_length_data": analysis["correlation_length_data"],
        # each carries the convergence verdict: not a result when equilibrated is false
        "generated_energy_rel_error": {**gen1["relative_error"]["energy"],
                                       "equilibrated": gen1["equilibrated"]},
        "generated_abs_magnetization_rel_error": {**gen1["relative_error"]["abs_magnetization"],
                                                  "equilibrated": gen1["equilibrated"]},
        "generation_rhat": gen1["rhat_max"],
        "generation_equilibrated": gen1["equilibrated"],
        "stack_generated_energy_rel_error": stack["relative_error"]["energy"],
        "stack_generated_abs_magnetization_rel_error": stack["relative_error"]["abs_magnetization"],
        "stack_generation_rhat": stack["rhat_max"],
        "stack_generation_equilibrated": stack["equilibrated"],
        "kl_per_spin_layer1": analysis["kl"]["per_spin"],
        # AIS lower-bounds ln Z_RBM, so KL is biased low; shift of ln Z/N from K/2 to K betas
        "kl_ais_schedule_shift_per_spin": analysis["kl"].get("ais_schedule_shift_per_spin"),
        "rbm_flow_fixed_point_T": analysis["flow"]["fixed_point"],
        "rbm_flow_critical_T": analysis["flow"]["critical_temperature"],
        "rbm_flow_training_T": analysis["flow"]["training_temperature"],
        "stage_seconds": timings,
        # wall seconds per stage and per analysis sub-stage (this run; cached stages are ~0)
        "timings": {**timings, "analyse_substages": analysis.get("timings", {})},
    })

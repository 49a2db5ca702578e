"""The scikit-learn estimator checks that :class:`rbm.RBM` and :class:`rbm.DBN` are expected to
fail, each with its reason, for ``check_estimator(..., expected_failed_checks=...)`` and
``parametrize_with_checks``.

Every entry fails for one reason: the checks fit on real-valued random features (Gaussian
blobs, uniform or normal draws), while the visible units of these models take the values
{-1, +1} (spin) or {0, 1} (binary) only (docs/CONTRACTS.md), so ``fit`` refuses the data with
a ValueError before the property under test is reached. Real numbers are not states of an
Ising-type RBM: thresholding them silently (what ``BernoulliRBM`` in effect does by reading
them as probabilities) would hide a wrong input, such as {0, 1} data given to a spin model.
tests/test_sklearn_estimator.py shows that the unit constraint is the only cause: with the
checks' data mapped to spins (a subclass overriding ``check_input``) both estimators pass
every check.
"""

from __future__ import annotations

__all__ = ["EXPECTED_FAILED_CHECKS"]

_REAL_DATA = ("fits on real-valued random features; the visible units take only the values "
              "{-1, +1} or {0, 1}, so fit refuses the data (ValueError)")

#: scikit-learn check name -> why it fails for :class:`rbm.RBM` and :class:`rbm.DBN`.
EXPECTED_FAILED_CHECKS = {
    "check_dict_unchanged": _REAL_DATA,
    "check_dont_overwrite_parameters": _REAL_DATA,
    "check_dtype_object": _REAL_DATA + " (after converting the object array to float)",
    "check_estimators_dtypes": _REAL_DATA,
    "check_estimators_fit_returns_self": _REAL_DATA,
    "check_estimators_nan_inf": _REAL_DATA + " (on the finite data fitted before the NaN/inf "
                                             "inputs; NaN and inf are refused too)",
    "check_estimators_overwrite_params": _REAL_DATA,
    "check_estimators_pickle": _REAL_DATA,
    "check_f_contiguous_array_estimator": _REAL_DATA,
    "check_fit2d_1feature": ("expects the error for a one-feature X to name the feature count; "
                             "the values of that X are not unit values, which is refused "
                             "first"),
    "check_fit2d_1sample": ("expects the error for a one-sample X to name the sample count; "
                            "the values of that X are not unit values, which is refused first"),
    "check_fit2d_predict1d": _REAL_DATA,
    "check_fit_check_is_fitted": _REAL_DATA,
    "check_fit_idempotent": _REAL_DATA,
    "check_fit_score_takes_y": _REAL_DATA,
    "check_methods_sample_order_invariance": _REAL_DATA,
    "check_methods_subset_invariance": _REAL_DATA,
    "check_n_features_in": _REAL_DATA,
    "check_n_features_in_after_fitting": _REAL_DATA,
    "check_pipeline_consistency": _REAL_DATA,
    "check_positive_only_tag_during_fit": ("expects negative values to be accepted or refused "
                                           "as negative; values other than unit values are "
                                           "refused whatever their sign"),
    "check_readonly_memmap_input": _REAL_DATA,
    "check_transformer_data_not_an_array": _REAL_DATA,
    "check_transformer_general": _REAL_DATA,
    "check_transformer_preserve_dtypes": _REAL_DATA,
}

"""quantize.KMeans against scikit-learn's own estimator checks.

``parametrize_with_checks`` runs every check that ``check_estimator`` runs;
every one passes except those that scikit-learn's own KMeans is expected to
fail (named below, and compared with scikit-learn's list where it can be
read). The checks that scikit-learn's test suite runs on its KMeans besides
those (clustering, DataFrame column names, ``get_feature_names_out``,
``set_output``) run here too.
"""

from __future__ import annotations

import warnings

import pytest

sklearn = pytest.importorskip("sklearn")
estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")

from quantize import KMeans  # noqa: E402

# Some checks fit fewer distinct points than clusters; scikit-learn's KMeans
# warns there too. Ours is a ConvergenceWarning, so scikit-learn's filter applies.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: The checks scikit-learn's own KMeans is expected to fail, with its reasons
#: (``PER_ESTIMATOR_XFAIL_CHECKS`` in sklearn/utils/_test_common/instance_generator.py).
#: k-means starts at random, and weighting a sample is not drawn the same as
#: repeating it, so the fits differ.
SKLEARN_KMEANS_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}

#: The default estimator, and the one scikit-learn's own suite checks its KMeans with.
ESTIMATORS = [KMeans(), KMeans(n_clusters=2, n_init=2, max_iter=5)]

with warnings.catch_warnings():
    # Our KMeans does not inherit from BaseEstimator, on purpose (no dependency).
    warnings.filterwarnings("ignore", "Estimator KMeans does not inherit", UserWarning)
    _checks = estimator_checks.parametrize_with_checks(
        ESTIMATORS, expected_failed_checks=lambda estimator: SKLEARN_KMEANS_XFAIL)
    # scikit-learn before 1.9 lists the checks lazily, at collection: list them
    # here, where the warning above is filtered.
    _checks = pytest.mark.parametrize(_checks.args[0], list(_checks.args[1]), **_checks.kwargs)


@_checks
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_are_scikit_learns_own():
    try:
        from sklearn.utils._test_common.instance_generator import _get_expected_failed_checks
    except ImportError:  # private, and may move: the list above is then the reference
        pytest.skip("scikit-learn's list of expected failures is not where it was")
    from sklearn.cluster import KMeans as SklearnKMeans

    assert _get_expected_failed_checks(SklearnKMeans()) == SKLEARN_KMEANS_XFAIL


#: What scikit-learn's sklearn/tests/test_common.py runs on its KMeans besides
#: check_estimator's checks (check_param_validation needs scikit-learn's
#: private ``_parameter_constraints``; see docs/api.md).
EXTRA_CHECKS = [
    "check_clusterer_compute_labels_predict",
    "check_clustering",
    "check_dataframe_column_names_consistency",
    "check_transformer_get_feature_names_out",
    "check_transformer_get_feature_names_out_pandas",
    "check_get_feature_names_out_error",
    "check_set_output_transform",
    "check_set_output_transform_pandas",
    "check_global_output_transform_pandas",
    "check_set_output_transform_polars",
    "check_global_set_output_transform_polars",
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("name", EXTRA_CHECKS)
def test_scikit_learn_common_checks(name, estimator):
    check = getattr(estimator_checks, name, None)
    if check is None:
        pytest.skip(f"this scikit-learn has no {name}")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        check(type(estimator).__name__, estimator)
    if name == "check_dataframe_column_names_consistency":
        assert not [w for w in record if "was fitted without feature names" in str(w.message)]


def test_clustering_check_on_read_only_memory_maps():
    estimator_checks.check_clustering("KMeans", KMeans(), readonly_memmap=True)

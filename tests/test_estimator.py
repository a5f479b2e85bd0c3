"""quantize.KMeans: scikit-learn's KMeans interface, checked by hand and against it."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from quantize import KMeans, QuantizeWarning
from quantize.compat.estimator import NotFittedError


def sklearn_kmeans():
    return pytest.importorskip("sklearn.cluster").KMeans


def blobs(seed=0, n=50, scale=1.5):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0], [7.0, 1.0, 2.0], [2.0, 8.0, -3.0], [8.0, 8.0, 8.0]])
    return np.concatenate([m + rng.normal(scale=scale, size=(n, 3)) for m in means])


# The data of scikit-learn's KMeans docstring example.
DOC_X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])


# --------------------------------------------------------------------------
# Known answers


def test_one_lloyd_step_then_labels_recomputed():
    X = [[0.0], [2.0], [3.0], [10.0]]
    km = KMeans(2, init=[[0.0], [3.0]], max_iter=1).fit(X)
    # Assignment to (0, 3): {0}, {2, 3, 10} -> centres 0 and 5; relabelled.
    np.testing.assert_array_equal(km.cluster_centers_, [[0.0], [5.0]])
    assert km.labels_.tolist() == [0, 0, 1, 1]
    assert km.inertia_ == 33.0 and km.n_iter_ == 1


def test_two_lloyd_steps():
    km = KMeans(2, init=[[0.0], [3.0]], max_iter=2).fit([[0.0], [2.0], [3.0], [10.0]])
    np.testing.assert_array_equal(km.cluster_centers_, [[1.0], [6.5]])
    assert km.labels_.tolist() == [0, 0, 0, 1]
    assert km.inertia_ == 1 + 1 + 4 + 12.25 and km.n_iter_ == 2


def test_strict_convergence_counts_the_confirming_iteration():
    km = KMeans(2, init=[[0.0], [3.0]], tol=0).fit([[0.0], [2.0], [3.0], [10.0]])
    np.testing.assert_allclose(km.cluster_centers_, [[5 / 3], [10.0]])
    assert km.labels_.tolist() == [0, 0, 0, 1]
    assert km.n_iter_ == 4


def test_lost_cluster_takes_the_farthest_point():
    X = np.array([[0.0], [1.0], [2.0], [20.0]])
    km = KMeans(3, init=[[1.0], [20.0], [100.0]], max_iter=1).fit(X)
    # Cluster 2 is empty; the point farthest from its centre (0, or 2: tie,
    # lowest index wins) leaves cluster 0 to found it.
    np.testing.assert_array_equal(km.cluster_centers_, [[1.5], [20.0], [0.0]])


def test_documentation_example():
    km = KMeans(n_clusters=2, random_state=0, n_init="auto").fit(DOC_X)
    assert km.labels_.dtype == np.int32
    first, second = km.labels_[0], km.labels_[3]
    assert km.labels_.tolist() == [first] * 3 + [second] * 3 and first != second
    assert km.predict([[0, 0], [12, 3]]).tolist() == [first, second]
    np.testing.assert_array_equal(km.cluster_centers_[first], [1.0, 2.0])
    np.testing.assert_array_equal(km.cluster_centers_[second], [10.0, 2.0])
    assert km.inertia_ == 16.0 and km.n_features_in_ == 2


def test_documentation_example_agrees_with_scikit_learn():
    SK = sklearn_kmeans()
    ours = KMeans(n_clusters=2, random_state=0, n_init="auto").fit(DOC_X)
    theirs = SK(n_clusters=2, random_state=0, n_init="auto").fit(DOC_X)
    # Same partition and centres (random seeds differ, so maybe renumbered).
    perm = {int(a): int(b) for a, b in zip(ours.labels_, theirs.labels_)}
    assert len(set(perm.values())) == 2
    assert [perm[int(a)] for a in ours.labels_] == theirs.labels_.tolist()
    np.testing.assert_array_equal(ours.cluster_centers_, theirs.cluster_centers_[[perm[0], perm[1]]])
    assert ours.inertia_ == theirs.inertia_
    np.testing.assert_array_equal(
        [perm[int(a)] for a in ours.predict([[0, 0], [12, 3]])],
        theirs.predict([[0, 0], [12, 3]]))


# --------------------------------------------------------------------------
# Against scikit-learn from a given init


def assert_same_fit(ours, theirs, X, atol=1e-10):
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.labels_.dtype == theirs.labels_.dtype
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=0, atol=atol)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=0, atol=atol * 10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)


@pytest.mark.parametrize("max_iter", [1, 2, 3, 300])
@pytest.mark.parametrize("tol", [1e-4, 0.0, 0.5])
def test_matches_scikit_learn_from_given_init(max_iter, tol):
    SK = sklearn_kmeans()
    X = blobs(seed=1, scale=2.5)
    init = X[[0, 1, 2, 150]]  # three starts in one blob: takes a few steps
    kwargs = dict(n_clusters=4, init=init, n_init=1, max_iter=max_iter, tol=tol)
    assert_same_fit(KMeans(**kwargs).fit(X), SK(**kwargs).fit(X), X)


def test_matches_scikit_learn_with_sample_weights():
    SK = sklearn_kmeans()
    X = blobs(seed=2, scale=2.5)
    w = np.random.default_rng(0).integers(0, 5, len(X)).astype(float)
    init = X[[0, 60, 61, 190]]
    ours = KMeans(4, init=init, n_init=1).fit(X, sample_weight=w)
    theirs = SK(4, init=init, n_init=1).fit(X, sample_weight=w)
    assert_same_fit(ours, theirs, X)
    assert ours.score(X, sample_weight=w) == pytest.approx(theirs.score(X, sample_weight=w))


def test_matches_scikit_learn_on_a_lost_cluster():
    SK = sklearn_kmeans()
    X = blobs(seed=3)
    init = np.array([[0.0, 0.0, 0.0], [7.0, 1.0, 2.0], [2.0, 8.0, -3.0], [100.0, 100.0, 100.0]])
    for max_iter in (1, 2, 300):
        ours = KMeans(4, init=init, n_init=1, max_iter=max_iter).fit(X)
        theirs = SK(4, init=init, n_init=1, max_iter=max_iter).fit(X)
        assert_same_fit(ours, theirs, X)


def test_matches_scikit_learn_on_one_feature_and_one_cluster():
    SK = sklearn_kmeans()
    X = blobs(seed=4)[:, :1]
    assert_same_fit(KMeans(3, init=X[:3], n_init=1).fit(X), SK(3, init=X[:3], n_init=1).fit(X), X)
    assert_same_fit(KMeans(1, init=X[:1], n_init=1).fit(X), SK(1, init=X[:1], n_init=1).fit(X), X)


def test_matches_scikit_learn_float32():
    SK = sklearn_kmeans()
    X = blobs(seed=5).astype(np.float32)
    init = X[[0, 50, 100, 150]]
    ours = KMeans(4, init=init, n_init=1).fit(X)
    theirs = SK(4, init=init, n_init=1).fit(X)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-5)
    assert ours.transform(X).dtype == np.float32


def test_random_inits_agree_with_scikit_learn_on_separated_blobs():
    SK = sklearn_kmeans()
    X = blobs(seed=6, scale=0.8)
    for init in ("k-means++", "random"):
        ours = KMeans(4, init=init, random_state=0).fit(X)
        theirs = SK(4, init=init, random_state=0).fit(X)
        assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
        np.testing.assert_allclose(np.sort(ours.cluster_centers_, axis=0),
                                   np.sort(theirs.cluster_centers_, axis=0), atol=1e-9)


# --------------------------------------------------------------------------
# The interface


def test_fit_predict_and_fit_transform():
    X = blobs(seed=7)
    km = KMeans(4, random_state=1)
    labels = km.fit_predict(X)
    np.testing.assert_array_equal(labels, km.labels_)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    d = KMeans(4, random_state=1).fit_transform(X)
    np.testing.assert_allclose(d, km.transform(X))
    assert d.shape == (len(X), 4)
    np.testing.assert_array_equal(d.argmin(axis=1), km.labels_)
    assert km.score(X) == pytest.approx(-km.inertia_)


def test_random_state_repeatable_and_n_init_keeps_the_best():
    X = blobs(seed=8, scale=3.0)
    a = KMeans(6, init="random", n_init=1, random_state=5).fit(X)
    b = KMeans(6, init="random", n_init=1, random_state=5).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    best = KMeans(6, init="random", n_init=8, random_state=5).fit(X)
    singles = [KMeans(6, init="random", n_init=1, random_state=g).fit(X).inertia_
               for g in range(3)]
    assert best.inertia_ <= min(singles) * 1.0001 or best.inertia_ <= a.inertia_
    KMeans(3, random_state=np.random.default_rng(0)).fit(X)
    KMeans(3, random_state=np.random.RandomState(0)).fit(X)


def test_sample_weight_equals_repeated_rows():
    X = blobs(seed=9)[:60]
    w = np.random.default_rng(1).integers(1, 4, len(X))
    init = X[[0, 1, 59]]
    weighted = KMeans(3, init=init).fit(X, sample_weight=w)
    repeated = KMeans(3, init=init).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, atol=1e-12)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_)


def test_callable_init():
    X = blobs(seed=10)
    km = KMeans(4, init=lambda X, k, rng: X[:k], n_init=1).fit(X)
    np.testing.assert_array_equal(km.cluster_centers_, KMeans(4, init=X[:4]).fit(X).cluster_centers_)


def test_init_array_with_n_init_warns():
    X = blobs()
    with pytest.warns(RuntimeWarning, match="only one init"):
        KMeans(4, init=X[:4], n_init=3).fit(X)


def test_fewer_distinct_points_than_clusters_warns():
    X = np.array([[0.0, 0.0]] * 4 + [[1.0, 1.0]] * 4)
    with pytest.warns(QuantizeWarning, match="distinct clusters"):
        km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.shape == (3, 2)
    assert km.inertia_ == 0.0


@pytest.mark.parametrize("kwargs, X, match", [
    ({"n_clusters": 0}, [[0.0], [1.0]], "n_clusters"),
    ({"n_clusters": 3}, [[0.0], [1.0]], "n_samples=2 should be >= n_clusters=3"),
    ({"n_clusters": 1}, [0.0, 1.0], "Expected 2D array, got 1D array"),
    ({"n_clusters": 1}, np.empty((0, 2)), r"0 sample\(s\) \(shape=\(0, 2\)\)"),
    ({"n_clusters": 1}, np.empty((2, 0)), r"0 feature\(s\)"),
    ({"n_clusters": 1}, np.ones((2, 2, 2)), "Found array with dim 3"),
    ({"n_clusters": 1}, [[0.0], [np.inf]], "infinity"),
    ({"n_clusters": 1}, [[1j], [2j]], "Complex data not supported"),
    ({"n_clusters": 1}, [["a"], ["b"]], "real numbers|could not convert"),
    ({"n_clusters": 1}, [[0.0], [np.nan]], "NaN"),
    ({"n_clusters": 1, "max_iter": 0}, [[0.0]], "max_iter"),
    ({"n_clusters": 1, "tol": -1}, [[0.0]], "tol"),
    ({"n_clusters": 1, "n_init": 0}, [[0.0]], "n_init"),
    ({"n_clusters": 1, "init": "bogus"}, [[0.0]], "init"),
    ({"n_clusters": 2, "init": [[0.0]]}, [[0.0], [1.0]], "shape"),
    ({"n_clusters": 1, "algorithm": "full"}, [[0.0]], "algorithm"),
    ({"n_clusters": 1, "metric": "chebyshev"}, [[0.0]], "metric"),
    ({"n_clusters": 1, "metric": "cosine"}, [[0.0, 0.0]], "non-zero"),
])
def test_bad_arguments_raise_value_error(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        KMeans(**kwargs).fit(X)


def test_bad_sample_weight():
    with pytest.raises(ValueError, match="shape"):
        KMeans(1).fit([[0.0], [1.0]], sample_weight=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        KMeans(1).fit([[0.0], [1.0]], sample_weight=[1.0, -1.0])


def test_not_fitted_and_feature_mismatch():
    with pytest.raises(NotFittedError):
        KMeans(2).predict([[0.0]])
    with pytest.raises(AttributeError):
        KMeans(2).transform([[0.0]])
    km = KMeans(1).fit([[0.0, 1.0]])
    with pytest.raises(ValueError, match="3 features, but KMeans is expecting 2"):
        km.predict([[0.0, 1.0, 2.0]])


def test_params_protocol():
    km = KMeans(5, tol=1e-3)
    params = km.get_params()
    assert params["n_clusters"] == 5 and params["tol"] == 1e-3 and params["metric"] == "euclidean"
    assert km.set_params(n_clusters=2, metric="cosine") is km
    assert km.n_clusters == 2 and km.metric == "cosine"
    assert repr(km) == "KMeans(n_clusters=2, tol=0.001, metric='cosine')"
    with pytest.raises(ValueError, match="invalid parameter"):
        km.set_params(colour=1)
    assert repr(KMeans()) == "KMeans()"


def test_get_params_match_scikit_learn_names():
    SK = sklearn_kmeans()
    ours = set(KMeans().get_params()) - {"metric"}
    assert ours == set(SK().get_params())


def test_verbose_prints(capsys):
    KMeans(2, init=[[0.0], [3.0]], verbose=1).fit([[0.0], [2.0], [3.0], [10.0]])
    out = capsys.readouterr().out
    assert "Initialization complete" in out and "Iteration 0, inertia" in out
    assert "Converged at iteration" in out


def test_does_not_import_scikit_learn():
    code = ("import sys, quantize; quantize.KMeans(2).fit([[0.0], [1.0], [5.0]]);"
            "print('sklearn' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_other_metrics_through_the_estimator():
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(10, 1, (40, 2))])
    X[0] = [-60.0, -60.0]  # an outlier drags a mean, not a median
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        med = KMeans(2, init=[[0.0, 0.0], [10.0, 10.0]], metric="manhattan").fit(X)
    mean = KMeans(2, init=[[0.0, 0.0], [10.0, 10.0]]).fit(X)
    assert abs(med.cluster_centers_[0, 1]) < 1.0 < abs(mean.cluster_centers_[0, 1])
    np.testing.assert_allclose(med.inertia_, np.abs(X - med.cluster_centers_[med.labels_]).sum())
    np.testing.assert_allclose(-med.score(X), med.inertia_)
    np.testing.assert_allclose(med.transform(X[:2]),
                               np.abs(X[:2, None, :] - med.cluster_centers_[None]).sum(axis=2))
    cos = KMeans(2, metric="cosine", random_state=0).fit([[1.0, 0.1], [5.0, 0.4], [0.1, 1.0],
                                                          [0.3, 7.0]])
    assert cos.labels_[0] == cos.labels_[1] != cos.labels_[2] == cos.labels_[3]


# --------------------------------------------------------------------------
# A citizen of scikit-learn: its meta-estimators, tools and conventions


def sklearn_module(name):
    return pytest.importorskip(name)


def test_in_a_pipeline():
    pipeline = sklearn_module("sklearn.pipeline")
    preprocessing = sklearn_module("sklearn.preprocessing")
    X = blobs(seed=12)
    init = X[[0, 50, 100, 150]]
    pipe = pipeline.make_pipeline(preprocessing.StandardScaler(), KMeans(4, init=init)).fit(X)
    scaled = preprocessing.StandardScaler().fit_transform(X)
    by_hand = KMeans(4, init=pipe[-1].cluster_centers_).fit(scaled)
    np.testing.assert_array_equal(pipe.predict(X), by_hand.predict(scaled))
    assert pipe.transform(X).shape == (len(X), 4)
    assert pipe.score(X) == pytest.approx(by_hand.score(scaled))


def test_grid_search_and_cross_val_score_agree_with_scikit_learn():
    model_selection = sklearn_module("sklearn.model_selection")
    SK = sklearn_kmeans()
    X = blobs(seed=13, scale=2.0)
    init = X[[0, 60, 120, 180]]
    ours = model_selection.cross_val_score(KMeans(4, init=init, n_init=1), X)
    theirs = model_selection.cross_val_score(SK(4, init=init, n_init=1), X)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    grid = model_selection.GridSearchCV(KMeans(random_state=0), {"n_clusters": [2, 3, 4]}).fit(X)
    assert grid.best_params_ == {"n_clusters": 4}  # the score (-inertia) grows with k
    assert isinstance(grid.best_estimator_, KMeans)


def test_fitted_state_tags_and_clone():
    base = sklearn_module("sklearn.base")
    validation = sklearn_module("sklearn.utils.validation")
    exceptions = sklearn_module("sklearn.exceptions")
    from sklearn.utils import get_tags

    km = KMeans(3, random_state=0)
    assert base.is_clusterer(km)
    tags = get_tags(km)
    assert tags.estimator_type == "clusterer" and tags.input_tags.sparse
    assert not tags.target_tags.required and tags.transformer_tags is not None
    with pytest.raises(exceptions.NotFittedError):
        validation.check_is_fitted(km)
    km.fit(blobs(seed=14)).set_output(transform="default")
    validation.check_is_fitted(km)
    copy = base.clone(km)
    assert copy.get_params() == km.get_params() and not hasattr(copy, "cluster_centers_")
    assert copy._sklearn_output_config == {"transform": "default"}


def test_html_repr():
    sklearn_module("sklearn")
    import sklearn

    km = KMeans(3, tol=1e-3)
    html = km._repr_html_()
    assert "KMeans" in html and "Not fitted" in html
    assert "Fitted" in KMeans(1).fit([[0.0]])._repr_html_()
    bundle = km._repr_mimebundle_()
    assert bundle["text/plain"] == "KMeans(n_clusters=3, tol=0.001)" and "text/html" in bundle
    with sklearn.config_context(display="text"):
        assert not hasattr(km, "_repr_html_")
        assert "text/html" not in km._repr_mimebundle_()


def test_not_fitted_error_is_scikit_learns_too():
    exceptions = sklearn_module("sklearn.exceptions")
    import pickle

    for method in ("predict", "transform", "score", "get_feature_names_out"):
        args = () if method == "get_feature_names_out" else ([[0.0]],)
        with pytest.raises(exceptions.NotFittedError) as caught:
            getattr(KMeans(2), method)(*args)
        err = caught.value
        assert isinstance(err, (NotFittedError)) and isinstance(err, ValueError)
        assert isinstance(err, AttributeError)
        assert type(err).__name__ == "NotFittedError" and "not fitted yet" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and again.args == err.args


def test_fewer_distinct_points_warning_is_a_convergence_warning():
    exceptions = sklearn_module("sklearn.exceptions")
    X = np.array([[0.0, 0.0]] * 4 + [[1.0, 1.0]] * 4)
    with pytest.warns(exceptions.ConvergenceWarning, match="distinct clusters") as record:
        KMeans(3, random_state=0).fit(X)
    assert issubclass(record[0].category, QuantizeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=exceptions.ConvergenceWarning)
        KMeans(3, random_state=0).fit(X)  # scikit-learn users' filter silences it


def test_without_scikit_learn_the_classes_are_ours_alone():
    code = """
import sys, warnings, pickle
sys.modules["sklearn"] = None  # as if scikit-learn were not installed
import quantize
from quantize.compat.estimator import NotFittedError
try:
    quantize.KMeans(2).predict([[0.0]])
except NotFittedError as err:
    print(type(err) is NotFittedError, type(pickle.loads(pickle.dumps(err))) is NotFittedError)
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    quantize.KMeans(3).fit([[0.0], [0.0], [1.0]])
print(record[0].category is quantize.QuantizeWarning, hasattr(quantize.KMeans(), "_repr_html_"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"] * 3 + ["False"]


def test_sparse_input_gives_the_dense_results():
    sparse = sklearn_module("scipy.sparse")
    X = blobs(seed=15)
    X[X < 1] = 0
    init = X[[0, 50, 100, 150]]
    dense = KMeans(4, init=init).fit(X)
    for make in (sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array, sparse.coo_matrix):
        km = KMeans(4, init=init).fit(make(X))
        np.testing.assert_array_equal(km.cluster_centers_, dense.cluster_centers_)
        np.testing.assert_array_equal(km.predict(make(X)), dense.labels_)
        np.testing.assert_array_equal(km.transform(make(X)), dense.transform(X))
        assert km.score(make(X)) == dense.score(X)
    assert KMeans(2).fit(sparse.csr_matrix(X.astype(np.float32))).cluster_centers_.dtype \
        == np.float32


def test_sparse_input_agrees_with_scikit_learn():
    sparse = sklearn_module("scipy.sparse")
    SK = sklearn_kmeans()
    X = sparse.random(200, 30, density=0.2, random_state=np.random.RandomState(0), format="csr")
    init = X[:5].toarray()
    assert_same_fit(KMeans(5, init=init, n_init=1).fit(X), SK(5, init=init, n_init=1).fit(X),
                    X.toarray(), atol=1e-9)


def test_too_large_sparse_input_is_refused_by_name(monkeypatch):
    sparse = sklearn_module("scipy.sparse")
    from quantize.compat import estimator

    monkeypatch.setattr(estimator, "SPARSE_DENSE_MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="sparse X of shape \\(200, 10\\) would take"):
        KMeans(2).fit(sparse.random(200, 10, density=0.01, format="csr"))
    KMeans(2).fit(sparse.random(10, 10, density=0.5, format="csr"))  # 800 bytes: fine


def test_object_arrays_of_numbers_are_numbers():
    X = blobs(seed=16)
    init = X[:4]
    ours = KMeans(4, init=init).fit(X.astype(object))
    np.testing.assert_array_equal(ours.cluster_centers_, KMeans(4, init=init).fit(X).cluster_centers_)
    bad = X.astype(object)
    bad[0, 0] = {"not": "a number"}
    with pytest.raises(TypeError, match="argument must be .* string.* number"):
        KMeans(4).fit(bad)


def test_feature_names_from_a_data_frame():
    pd = pytest.importorskip("pandas")
    X = blobs(seed=17)
    df = pd.DataFrame(X, columns=["r", "g", "b"])
    km = KMeans(4, random_state=0).fit(df)
    np.testing.assert_array_equal(km.feature_names_in_, ["r", "g", "b"])
    assert km.feature_names_in_.dtype == object and km.n_features_in_ == 3
    np.testing.assert_array_equal(km.predict(df), km.labels_)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but KMeans "
                                         "was fitted with feature names"):
        km.predict(X)
    with pytest.raises(ValueError, match="The feature names should match those that were "
                                         "passed during fit"):
        km.predict(df[["b", "g", "r"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- x"):
        km.predict(df.rename(columns={"r": "x"}))
    with pytest.raises(TypeError, match="only supported if all input features have string"):
        KMeans(2).fit(pd.DataFrame(X, columns=["r", 1, "b"]))
    km.fit(X)  # refitting without names forgets them
    assert not hasattr(km, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but KMeans was fitted without"):
        km.predict(df)
    assert not hasattr(KMeans(2).fit(pd.DataFrame(X)), "feature_names_in_")  # int names
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        km.transform(X[:, :2])


def test_get_feature_names_out_and_set_output():
    pd = pytest.importorskip("pandas")
    X = blobs(seed=18)
    df = pd.DataFrame(X, columns=["r", "g", "b"], index=np.arange(len(X)) * 10)
    km = KMeans(4, random_state=0).fit(df)
    names = km.get_feature_names_out()
    assert names.dtype == object and names.tolist() == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]
    np.testing.assert_array_equal(km.get_feature_names_out(["r", "g", "b"]), names)
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        km.get_feature_names_out(["a", "b", "c"])
    out = km.set_output(transform="pandas").transform(df)
    assert isinstance(out, pd.DataFrame) and out.columns.tolist() == names.tolist()
    assert out.index.equals(df.index)
    np.testing.assert_array_equal(out.to_numpy(), km.set_output(transform="default").transform(df))
    fitted = KMeans(4, random_state=0).set_output(transform="pandas").fit_transform(df)
    assert isinstance(fitted, pd.DataFrame) and fitted.shape == (len(X), 4)
    with pytest.raises(ValueError, match="output config must be in"):
        km.set_output(transform="bogus").transform(df)


def test_global_transform_output_setting():
    sklearn = sklearn_module("sklearn")
    pd = pytest.importorskip("pandas")
    km = KMeans(2, random_state=0).fit(blobs(seed=19))
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(km.transform(blobs(seed=19)), pd.DataFrame)
    assert isinstance(km.transform(blobs(seed=19)), np.ndarray)


def test_set_output_polars():
    pl = pytest.importorskip("polars")
    X = blobs(seed=20)
    out = KMeans(3, random_state=0).set_output(transform="polars").fit_transform(X)
    assert isinstance(out, pl.DataFrame) and out.columns == ["kmeans0", "kmeans1", "kmeans2"]


def test_metadata_routing_of_sample_weight():
    sklearn = sklearn_module("sklearn")
    model_selection = sklearn_module("sklearn.model_selection")
    SK = sklearn_kmeans()
    X = blobs(seed=21, scale=2.0)
    w = np.random.default_rng(2).integers(0, 4, len(X)).astype(float)
    init = X[[0, 60, 120, 180]]
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        KMeans().set_fit_request(sample_weight=True)
    scores = []
    with sklearn.config_context(enable_metadata_routing=True):
        for cls in (KMeans, SK):
            est = cls(4, init=init, n_init=1).set_fit_request(sample_weight=True)
            est.set_score_request(sample_weight=True)
            scores.append(model_selection.cross_val_score(est, X, params={"sample_weight": w}))
            with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError):
                model_selection.cross_val_score(cls(4), X, params={"sample_weight": w})
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-9)


def test_global_seeding_as_scikit_learn():
    X = blobs(seed=22, scale=3.0)
    runs = []
    for _ in range(2):
        np.random.seed(5)
        runs.append(KMeans(6, init="random", n_init=1).fit(X).cluster_centers_)
    np.testing.assert_array_equal(runs[0], runs[1])
    # None draws from numpy's global RandomState (and advances it); an int does not.
    np.random.seed(5)
    KMeans(6, random_state=3).fit(X)
    untouched = np.random.random()
    np.random.seed(5)
    KMeans(6).fit(X)
    assert np.random.random() != untouched
    np.random.seed(5)
    assert np.random.random() == untouched
    with pytest.raises(ValueError, match="cannot be used to seed"):
        KMeans(2, random_state="zero").fit(X)

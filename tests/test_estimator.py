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
    ({"n_clusters": 1}, [0.0, 1.0], "2-D"),
    ({"n_clusters": 1}, np.empty((0, 2)), "at least one"),
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

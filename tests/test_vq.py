"""quantize.vq: scipy.cluster.vq's functions, checked by hand and against scipy."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from quantize.vq import ClusterError, kmeans, kmeans2, vq, whiten


def scipy_vq():
    return pytest.importorskip("scipy.cluster.vq")


# The observations used throughout scipy.cluster.vq's documentation.
FEATURES_3 = np.array([[1.9, 2.3, 1.7], [1.5, 2.5, 2.2], [0.8, 0.6, 1.7]])
FEATURES_9 = np.array([[1.9, 2.3], [1.5, 2.5], [0.8, 0.6], [0.4, 1.8], [0.1, 0.1],
                       [0.2, 1.8], [2.0, 0.5], [0.3, 1.5], [1.0, 1.0]])


def blobs(seed=0, n=40):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    return np.concatenate([m + rng.normal(scale=1.2, size=(n, 2)) for m in means])


# --------------------------------------------------------------------------
# whiten


def test_whiten_documentation_example():
    expected = [[4.17944278, 2.69811351, 7.21248917],
                [3.29956009, 2.93273208, 9.33380951],
                [1.75976538, 0.7038557, 7.21248917]]
    np.testing.assert_allclose(whiten(FEATURES_3), expected, rtol=1e-8)


def test_whiten_gives_unit_population_std():
    out = whiten(blobs() * [3.0, 0.1])
    np.testing.assert_allclose(out.std(axis=0), 1.0)


def test_whiten_zero_std_column_unchanged_with_runtime_warning():
    obs = np.array([[1.0, 5.0], [3.0, 5.0]])
    with pytest.warns(RuntimeWarning, match="standard deviation zero"):
        out = whiten(obs)
    np.testing.assert_array_equal(out, [[1.0, 5.0], [3.0, 5.0]])


def test_whiten_1d_and_dtypes():
    np.testing.assert_allclose(whiten([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]) / np.std([1, 2, 3]))
    assert whiten(np.float32([[1, 1], [2, 2], [3, 5]])).dtype == np.float32
    assert whiten([[1, 2], [3, 5]]).dtype == np.float64


def test_whiten_rejects_nan_unless_told_not_to_check():
    with pytest.raises(ValueError, match="infs or NaNs"):
        whiten([[1.0, np.nan], [2.0, 3.0]])
    whiten([[1.0, np.nan], [2.0, 3.0]], check_finite=False)


def test_whiten_matches_scipy():
    svq = scipy_vq()
    obs = blobs() * [2.0, 0.5]
    np.testing.assert_allclose(whiten(obs), svq.whiten(obs), rtol=1e-14)
    np.testing.assert_allclose(whiten(obs[:, 0]), svq.whiten(obs[:, 0]), rtol=1e-14)


# --------------------------------------------------------------------------
# vq


def test_vq_documentation_example():
    code_book = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    codes, dist = vq(FEATURES_3, code_book)
    np.testing.assert_array_equal(codes, [1, 1, 0])
    assert codes.dtype == np.int32
    np.testing.assert_allclose(dist, [0.43588989, 0.73484692, 0.83066239], rtol=1e-8)


def test_vq_distance_is_not_squared():
    codes, dist = vq([[3.0, 4.0]], [[0.0, 0.0]])
    assert dist.tolist() == [5.0]


def test_vq_ties_go_to_the_lowest_index():
    codes, dist = vq([[1.0, 0.0], [0.0, 0.0]], [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert codes.tolist() == [0, 1]
    codes, _ = vq([1.0], [0.0, 2.0])
    assert codes.tolist() == [0]


def test_vq_1d():
    codes, dist = vq([1.0, 5.0, 9.0], [0.0, 4.0, 10.0])
    assert codes.tolist() == [0, 1, 2]
    assert dist.tolist() == [1.0, 1.0, 1.0]


def test_vq_dtypes():
    codes, dist = vq(np.float32([[1, 1]]), np.float32([[0, 0], [2, 2]]))
    assert dist.dtype == np.float32 and codes.dtype == np.int32
    codes, dist = vq(np.float32([[1, 1]]), np.float64([[0, 0], [2, 2]]))
    assert dist.dtype == np.float64
    codes, dist = vq([[1, 1]], [[0, 0], [3, 3]])
    assert dist.dtype == np.float64 and codes.tolist() == [0]


@pytest.mark.parametrize("obs, book", [
    ([[1.0, 2.0]], [[1.0, 2.0, 3.0]]),
    ([[1.0, 2.0]], [1.0, 2.0]),
    ([1.0, 2.0], [[1.0], [2.0]]),
    ([[1.0, 2.0]], np.empty((0, 2))),
    (np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
])
def test_vq_shape_errors(obs, book):
    with pytest.raises(ValueError):
        vq(obs, book)


def test_vq_rejects_inf():
    with pytest.raises(ValueError):
        vq([[np.inf, 0.0]], [[0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vq_matches_scipy(dtype):
    svq = scipy_vq()
    rng = np.random.default_rng(3)
    obs = rng.normal(size=(500, 4)).astype(dtype)
    book = rng.normal(size=(7, 4)).astype(dtype)
    ours, theirs = vq(obs, book), svq.vq(obs, book)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].dtype == theirs[0].dtype and ours[1].dtype == theirs[1].dtype
    np.testing.assert_array_equal(ours[1], theirs[1])
    # 1-D
    ours, theirs = vq(obs[:, 0], book[:, 0]), svq.vq(obs[:, 0], book[:, 0])
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


# --------------------------------------------------------------------------
# kmeans


def brute_kmeans(obs, book, thresh=1e-5):
    """scipy's kmeans loop, the slow obvious way (returns the final codebook)."""
    previous, change = np.inf, np.inf
    while change > thresh:
        d = np.sqrt(((obs[:, None, :] - book[None, :, :]) ** 2).sum(axis=2))
        codes = d.argmin(axis=1)
        mean_dist = d.min(axis=1).mean()
        book = np.array([obs[codes == j].mean(axis=0) for j in range(len(book))
                         if (codes == j).any()])
        change, previous = abs(previous - mean_dist), mean_dist
    return book


def test_kmeans_documentation_example():
    # scipy's example: whiten nine 2-D features, start from rows 0 and 2.
    # (Its printed answer, marked as varying, predates the current data; the
    # value below is what scipy 1.17 and the brute-force loop both give.)
    whitened = whiten(FEATURES_9)
    book = np.array((whitened[0], whitened[2]))
    codebook, distortion = kmeans(whitened, book)
    expected = [[2.45121811, 3.03653641], [0.98872663, 1.31944737]]
    np.testing.assert_allclose(codebook, expected, rtol=1e-8)
    np.testing.assert_allclose(codebook, brute_kmeans(whitened, book), rtol=1e-14)
    assert distortion == pytest.approx(0.9088234961964715, rel=1e-12)


def test_kmeans_known_answer_1d_codebook():
    book, distortion = kmeans([0.0, 1.0, 10.0, 11.0], [0.0, 1.0])
    assert book.tolist() == [0.5, 10.5]
    assert distortion == 0.5


def test_kmeans_distortion_is_mean_distance_to_returned_codebook():
    obs = blobs()
    book, distortion = kmeans(obs, 3, seed=1)
    assert distortion == pytest.approx(vq(obs, book)[1].mean(), rel=1e-15)


def test_kmeans_drops_lost_clusters():
    obs = [[0.0], [1.0], [10.0], [11.0]]
    book, distortion = kmeans(obs, [[0.0], [1.0], [100.0]])
    assert book.tolist() == [[0.5], [10.5]]
    assert distortion == 0.5


def test_kmeans_iter_is_runs_and_ignored_with_a_codebook():
    obs = blobs()
    a = kmeans(obs, obs[:3], iter=1)
    b = kmeans(obs, obs[:3], iter=50)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="iter"):
        kmeans(obs, 3, iter=0)


@pytest.mark.parametrize("k", [0, -1, 121])
def test_kmeans_k_out_of_range(k):
    with pytest.raises(ValueError, match="between 1 and 120"):
        kmeans(blobs(), k)


def test_kmeans_rejects_non_integer_k_and_empty_codebook():
    with pytest.raises(ValueError, match="integer"):
        kmeans(blobs(), 2.5)
    with pytest.raises(ValueError, match="0 clusters"):
        kmeans(blobs(), np.empty((0, 2)))
    with pytest.raises(ValueError, match="thresh"):
        kmeans(blobs(), 2, thresh=-1.0)


def test_kmeans_seed_reproducible_and_rng_alias():
    obs = blobs(seed=4)
    a = kmeans(obs, 3, seed=7)
    b = kmeans(obs, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    with pytest.raises(TypeError):
        kmeans(obs, 3, seed=1, rng=1)


def test_kmeans_finds_separated_blobs():
    obs = blobs(seed=2)
    book, _ = kmeans(obs, 3, seed=0)
    np.testing.assert_allclose(sorted(book.tolist()), [[0, 0], [2, 7], [6, 1]], atol=0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_matches_scipy_from_a_codebook(seed):
    svq = scipy_vq()
    rng = np.random.default_rng(seed)
    obs = whiten(blobs(seed=seed, n=60))
    guess = obs[rng.choice(len(obs), 4, replace=False)]
    ours = kmeans(obs, guess)
    theirs = svq.kmeans(obs, guess)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12)


def test_kmeans_matches_scipy_lost_cluster_and_1d():
    svq = scipy_vq()
    obs = np.array([[0.0], [1.0], [10.0], [11.0]])
    guess = np.array([[0.0], [1.0], [100.0]])
    np.testing.assert_array_equal(kmeans(obs, guess)[0], svq.kmeans(obs, guess)[0])
    x = blobs()[:, 0]
    ours, theirs = kmeans(x, x[[0, 50, 100]]), svq.kmeans(x, x[[0, 50, 100]])
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12)


def test_kmeans_documentation_blobs_agree_with_scipy():
    # scipy's plotting example: two Gaussian clouds, k=2, random starts.
    svq = scipy_vq()
    rng = np.random.default_rng(12)
    a = rng.multivariate_normal([0, 6], [[2, 1], [1, 1.5]], size=100)
    b = rng.multivariate_normal([30, 10], [[10, 2], [2, 1]], size=100)
    features = np.concatenate((a, b))
    whitened = whiten(features)
    ours, _ = kmeans(whitened, 2, seed=0)
    theirs, _ = svq.kmeans(whitened, 2, rng=np.random.default_rng(0))
    np.testing.assert_allclose(sorted(ours.tolist()), sorted(theirs.tolist()), atol=1e-12)


# --------------------------------------------------------------------------
# kmeans2


def test_kmeans2_one_lloyd_step():
    centroid, label = kmeans2([[0.0], [2.0], [3.0], [10.0]], [[0.0], [3.0]], iter=1, minit="matrix")
    assert centroid.tolist() == [[0.0], [5.0]]
    assert label.tolist() == [0, 1, 1, 1] and label.dtype == np.int32


def test_kmeans2_two_lloyd_steps_labels_from_last_assignment():
    centroid, label = kmeans2([[0.0], [2.0], [3.0], [10.0]], [[0.0], [3.0]], iter=2, minit="matrix")
    # Step 2 assigns against (0, 5): {0, 2}, {3, 10}.
    assert centroid.tolist() == [[1.0], [6.5]]
    assert label.tolist() == [0, 0, 1, 1]


def test_kmeans2_2d_known_answer():
    data = np.array([[0.0, 1.0], [2.0, -1.0], [3.0, 1.0], [10.0, -1.0]])
    start = np.array([[0.0, 0.0], [3.0, 0.0]])
    # Step 1: (2, -1) is nearer (3, 0): {row 0}, {rows 1-3}.
    centroid, label = kmeans2(data, start, iter=1)
    np.testing.assert_allclose(centroid, [[0.0, 1.0], [5.0, -1 / 3]], rtol=1e-15)
    assert label.tolist() == [0, 1, 1, 1]
    # Step 2: against (0, 1) and (5, -1/3), (2, -1) changes sides.
    centroid, label = kmeans2(data, start, iter=2)
    np.testing.assert_allclose(centroid, [[1.0, 0.0], [6.5, 0.0]], rtol=1e-15)
    assert label.tolist() == [0, 0, 1, 1]


def test_kmeans2_1d():
    centroid, label = kmeans2(np.array([0.0, 2.0, 3.0, 10.0]), np.array([0.0, 3.0]), iter=2)
    assert centroid.tolist() == [1.0, 6.5]
    assert label.tolist() == [0, 0, 1, 1]
    centroid, label = kmeans2(np.array([0.0, 0.5, 10.0, 10.5]), 2, minit="points", seed=0)
    assert centroid.shape == (2,)
    assert sorted(centroid.tolist()) == [0.25, 10.25]


def test_kmeans2_lost_cluster_warns_and_keeps_its_centroid():
    data = [[0.0], [1.0], [10.0], [11.0]]
    with pytest.warns(UserWarning, match="One of the clusters is empty"):
        centroid, label = kmeans2(data, [[0.0], [1.0], [100.0]], iter=3, minit="matrix")
    assert centroid.tolist() == [[0.5], [10.5], [100.0]]
    assert label.tolist() == [0, 0, 1, 1]


def test_kmeans2_lost_cluster_raises_cluster_error():
    with pytest.raises(ClusterError):
        kmeans2([[0.0], [1.0], [10.0]], [[0.0], [5.0], [100.0]], minit="matrix", missing="raise")


@pytest.mark.parametrize("k", [0, -2, np.empty((0, 2))])
def test_kmeans2_k_zero(k):
    with pytest.raises(ValueError):
        kmeans2(blobs(), k)


def test_kmeans2_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        kmeans2(np.empty((0, 2)), 2)
    with pytest.raises(ValueError, match="minit"):
        kmeans2(blobs(), 2, minit="bogus")
    with pytest.raises(ValueError, match="missing"):
        kmeans2(blobs(), 2, missing="ignore")
    with pytest.raises(ValueError, match="iter"):
        kmeans2(blobs(), 2, iter=0)
    with pytest.raises(ValueError, match="columns"):
        kmeans2(blobs(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dimensions"):
        kmeans2(blobs(), np.zeros(2), minit="matrix")
    with pytest.raises(ValueError, match="between 1 and"):
        kmeans2(blobs()[:3], 5, minit="points")


@pytest.mark.filterwarnings("ignore:One of the clusters is empty")
@pytest.mark.parametrize("minit", ["random", "points", "++"])
def test_kmeans2_inits_are_seeded_and_find_the_blobs(minit):
    data = blobs(seed=5)
    a = kmeans2(data, 3, iter=20, minit=minit, seed=3)
    b = kmeans2(data, 3, iter=20, minit=minit, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == (3, 2)
    if minit != "random":  # Gaussian draws may need a luckier seed to split all three
        np.testing.assert_allclose(sorted(a[0].tolist()), [[0, 0], [2, 7], [6, 1]], atol=0.6)


def test_kmeans2_random_init_has_the_data_mean_and_covariance():
    from quantize.compat.vq import _init_gaussian

    data = blobs(seed=6)
    draws = _init_gaussian(data, 20000, np.random.default_rng(0))
    np.testing.assert_allclose(draws.mean(axis=0), data.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(np.cov(draws.T), np.cov(data.T), atol=0.4)
    # Fewer observations than features: a singular covariance is fine.
    assert np.isfinite(_init_gaussian(np.eye(2, 5), 3, np.random.default_rng(0))).all()


def test_kmeans2_plus_plus_with_duplicates_still_returns_k():
    data = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        centroid, label = kmeans2(data, 3, minit="++", seed=0)
    assert centroid.shape == (3, 2)


@pytest.mark.parametrize("iter", [1, 2, 5, 30])
def test_kmeans2_matches_scipy_from_a_matrix(iter):
    svq = scipy_vq()
    data = blobs(seed=8, n=50)
    book = data[[0, 1, 60]]  # two starts in one blob
    ours = kmeans2(data, book, iter=iter, minit="matrix")
    theirs = svq.kmeans2(data, book, iter=iter, minit="matrix")
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=0, atol=1e-13)


def test_kmeans2_matches_scipy_float32_and_1d():
    svq = scipy_vq()
    data = blobs(seed=9).astype(np.float32)
    ours = kmeans2(data, data[:3], iter=4, minit="matrix")
    theirs = svq.kmeans2(data, data[:3], iter=4, minit="matrix")
    assert ours[0].dtype == theirs[0].dtype == np.float32
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    x = blobs(seed=9)[:, 1]
    ours = kmeans2(x, x[:2], iter=3, minit="matrix")
    theirs = svq.kmeans2(x, x[:2], iter=3, minit="matrix")
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_allclose(ours[0], theirs[0], atol=1e-13)


def test_kmeans2_matches_scipy_on_a_lost_cluster():
    svq = scipy_vq()
    data = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    book = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]])
    with pytest.warns(UserWarning):
        ours = kmeans2(data, book, iter=3, minit="matrix")
    with pytest.warns(UserWarning):
        theirs = svq.kmeans2(data, book, iter=3, minit="matrix")
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    with pytest.raises(ClusterError):
        kmeans2(data, book, minit="matrix", missing="raise")
    with pytest.raises(svq.ClusterError):
        svq.kmeans2(data, book, minit="matrix", missing="raise")


def test_kmeans2_documentation_example_three_clouds():
    # scipy's kmeans2 example: three Gaussian clouds, 100 points, minit='points'.
    rng = np.random.default_rng(1)
    a = rng.multivariate_normal([0, 6], [[2, 1], [1, 1.5]], size=45)
    b = rng.multivariate_normal([2, 0], [[1, -1], [-1, 3]], size=30)
    c = rng.multivariate_normal([6, 4], [[5, 0], [0, 1.2]], size=25)
    z = np.concatenate((a, b, c))
    rng.shuffle(z)
    centroid, label = kmeans2(z, 3, minit="points", seed=2)
    counts = np.bincount(label)
    assert centroid.shape == (3, 2) and counts.sum() == 100 and (counts > 0).all()
    # From the same starting centroids, scipy gives the same answer.
    svq = pytest.importorskip("scipy.cluster.vq")
    start = z[np.random.default_rng(2).choice(100, 3, replace=False)]
    np.testing.assert_array_equal(kmeans2(z, start, minit="matrix")[1],
                                  svq.kmeans2(z, start, minit="matrix")[1])


def test_vq_module_does_not_import_scipy():
    code = ("import sys, quantize.vq as v; v.kmeans2([[0.0], [1.0]], 1, minit='points');"
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_reachable_from_the_package():
    import quantize

    assert quantize.vq.kmeans2 is kmeans2
    from quantize import vq as module

    assert module.vq is vq


# --------------------------------------------------------------------------
# As scipy's callers expect: global seeding, warning texts, ClusterError


@pytest.mark.parametrize("call", [
    lambda X: kmeans2(X, 5, minit="++"),
    lambda X: kmeans2(X, 5, minit="points"),
    lambda X: kmeans2(X, 5, minit="random"),
    lambda X: kmeans2(X, 5, minit="++", seed=None),
    lambda X: kmeans(X, 5),
], ids=["kmeans2-++", "kmeans2-points", "kmeans2-random", "kmeans2-seed-None", "kmeans"])
@pytest.mark.filterwarnings("ignore:One of the clusters is empty")
def test_no_seed_draws_from_numpys_global_random_state(call):
    X = blobs(seed=10, n=30)
    np.random.seed(0)
    first = call(X)
    after_first = np.random.random()
    np.random.seed(0)
    second = call(X)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    np.random.seed(0)
    assert np.random.random() != after_first  # the call drew from the global state


def test_the_global_state_agrees_with_scipys_use_of_it():
    svq = scipy_vq()
    X = blobs(seed=11, n=30)
    for module in (svq, sys.modules["quantize.compat.vq"]):
        np.random.seed(0)
        a = module.kmeans2(X, 3, minit="++")
        np.random.seed(0)
        b = module.kmeans2(X, 3, minit="++")
        np.testing.assert_array_equal(a[0], b[0])


def test_rng_none_and_an_integer_leave_the_global_state_alone():
    X = blobs(seed=12, n=30)
    np.random.seed(0)
    expected = np.random.random()
    for kwargs in ({"rng": None}, {"rng": 3}, {"seed": 3}, {"rng": np.random.default_rng(1)}):
        np.random.seed(0)
        kmeans2(X, 3, minit="++", **kwargs)
        kmeans(X, 3, **kwargs)
        assert np.random.random() == expected, kwargs
    a = kmeans2(X, 3, minit="points", rng=4)
    b = kmeans2(X, 3, minit="points", rng=4)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(TypeError):
        kmeans2(X, 3, seed=1, rng=None)


def test_warning_texts_are_scipys_so_its_filters_match():
    data = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    book = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The filters of scipy's own tests (scipy/cluster/tests/test_vq.py).
        warnings.filterwarnings("ignore", "One of the clusters is empty. Re-run kmeans with a "
                                "different initialization", UserWarning)
        kmeans2(data, book, minit="matrix")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "One of the clusters is empty. Re-run.")
        kmeans2(data, book, minit="matrix")
    with pytest.warns(RuntimeWarning, match="Some columns have standard..."):
        whiten([[0.0, 1.0], [0.0, 2.0]])
    with pytest.warns(UserWarning, match="k was not an integer, was converted."):
        kmeans2(data, 2.5, minit="points", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whiten([[0.0, 1.0], [0.0, 2.0]], check_finite=False)  # scipy warns only when checking


def test_warning_and_error_texts_equal_scipys():
    svq = scipy_vq()
    data = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    book = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]])
    calls = [lambda m: m.kmeans2(data, book, iter=1, minit="matrix"),
             lambda m: m.whiten([[0.0, 1.0], [0.0, 2.0]]),
             lambda m: m.kmeans2(data, 2.5, minit="points", seed=0)]
    for call in calls:
        texts = []
        for module in (sys.modules["quantize.compat.vq"], svq):
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                call(module)
            texts.append([(w.category, str(w.message)) for w in record])
        assert texts[0] == texts[1]
    errors = []
    for module in (sys.modules["quantize.compat.vq"], svq):
        with pytest.raises(svq.ClusterError) as caught:
            module.kmeans2(data, book, minit="matrix", missing="raise")
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_cluster_error_is_scipys_too():
    svq = scipy_vq()
    import pickle

    with pytest.raises(svq.ClusterError) as caught:
        kmeans2([[0.0], [1.0], [10.0]], [[0.0], [5.0], [100.0]], minit="matrix", missing="raise")
    err = caught.value
    assert isinstance(err, ClusterError) and type(err).__name__ == "ClusterError"
    assert type(pickle.loads(pickle.dumps(err))) is type(err)

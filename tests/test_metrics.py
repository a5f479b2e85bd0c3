"""The metric choice: euclidean (k-means), manhattan (k-medians), cosine (spherical)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quantize import KMeans, QuantizeWarning
from quantize.cli import cli
from quantize.core.kmeans import cluster
from quantize.core.metrics import (METRICS, _weighted_medians, check_metric, nearest,
                              pairwise_distances)
from quantize.image.pipeline import quantize_image


def blobs(seed=0, n=40, offset=20.0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]]) + offset
    return np.concatenate([m + rng.normal(size=(n, 2)) for m in means])


# --------------------------------------------------------------------------
# Choosing a metric


def test_metric_names():
    assert METRICS == ("euclidean", "manhattan", "cosine")
    assert check_metric("manhattan") == "manhattan"
    for bad in ("Euclidean", "l1", None, 2):
        with pytest.raises(ValueError, match="metric must be one of"):
            check_metric(bad)


def test_cluster_rejects_unknown_metric():
    with pytest.raises(ValueError, match="metric must be one of"):
        cluster([[0.0], [1.0]], 1, metric="chebyshev")


def test_euclidean_default_path_unchanged():
    data = blobs()
    a = cluster(data, 3, seed=4, attempts=2)
    b = cluster(data, 3, seed=4, attempts=2, metric="euclidean")
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert (a.inertia, a.n_iter, a.converged) == (b.inertia, b.n_iter, b.converged)


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_finds_separated_blobs(metric):
    data = blobs(seed=1)
    r = cluster(data, 3, metric=metric, seed=0)
    assert sorted(np.bincount(r.labels).tolist()) == [40, 40, 40]
    assert r.converged
    truth = np.sort(np.array([data[i * 40:(i + 1) * 40].mean(axis=0) for i in range(3)]), axis=0)
    np.testing.assert_allclose(np.sort(r.centers, axis=0), truth, atol=0.6)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_seeded_inits_are_repeatable(metric, init):
    data = blobs(seed=2)
    a = cluster(data, 4, metric=metric, init=init, seed=9, attempts=2)
    b = cluster(data, 4, metric=metric, init=init, seed=9, attempts=2)
    np.testing.assert_array_equal(a.centers, b.centers)
    assert a.inertia == b.inertia


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_weights_equal_repeated_rows(metric):
    data = blobs(seed=3, n=15)
    w = np.random.default_rng(0).integers(1, 4, len(data))
    init = data[[0, 15, 30]]
    weighted = cluster(data, 3, weights=w, init=init, metric=metric, max_iter=50, eps=0)
    repeated = cluster(np.repeat(data, w, axis=0), 3, init=init, metric=metric, max_iter=50, eps=0)
    np.testing.assert_allclose(weighted.centers, repeated.centers, rtol=1e-12)
    assert weighted.inertia == pytest.approx(repeated.inertia, rel=1e-12)
    np.testing.assert_array_equal(np.repeat(weighted.labels, w), repeated.labels)


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_lost_cluster_is_relocated(metric):
    data = blobs(seed=4)
    init = np.vstack([data[[0, 40, 80]], [[-500.0, 400.0]]])
    r = cluster(data, 4, init=init, metric=metric, max_iter=30)
    assert np.isfinite(r.centers).all()
    assert np.bincount(r.labels, minlength=4).min() > 0


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_fewer_distinct_rows_than_k_warns(metric):
    data = [[1.0, 0.0], [2.0, 0.0], [1.0, 0.0]]
    with pytest.warns(QuantizeWarning, match="fewer than k=3"):
        r = cluster(data, 3, metric=metric)
    assert r.inertia == 0.0
    assert r.centers.shape[0] == (1 if metric == "cosine" else 2)


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_callback_and_iteration_limit(metric):
    seen = []
    r = cluster(blobs(seed=5), 3, metric=metric, max_iter=2, eps=0,
                callback=lambda i, shift: seen.append(i))
    assert seen == list(range(1, r.n_iter + 1)) and r.n_iter <= 2


# --------------------------------------------------------------------------
# manhattan: k-medians


def test_manhattan_one_lloyd_step_known_answer():
    data = np.array([[0.0, 0.0], [1.0, 5.0], [2.0, 1.0], [10.0, 10.0], [11.0, 11.0], [30.0, 9.0]])
    r = cluster(data, 2, init=[[0.0, 0.0], [10.0, 10.0]], metric="manhattan", max_iter=1)
    # Per-dimension medians of {0, 1, 2} x {0, 5, 1} and {10, 11, 30} x {10, 11, 9};
    # the means would be (1, 2) and (17, 10).
    np.testing.assert_array_equal(r.centers, [[1.0, 1.0], [11.0, 10.0]])
    assert r.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert r.inertia == 2 + 4 + 1 + 1 + 1 + 20  # weighted L1 distances
    r2 = cluster(data, 2, init=[[0.0, 0.0], [10.0, 10.0]], metric="manhattan", max_iter=2)
    np.testing.assert_array_equal(r2.centers, r.centers)
    assert r2.converged and r2.n_iter == 2


def test_manhattan_two_lloyd_steps_known_answer():
    data = [[0.0], [1.0], [5.0], [6.0], [7.0], [30.0]]
    one = cluster(data, 2, init=[[0.0], [1.0]], metric="manhattan", max_iter=1)
    # Step 1: {0}, {1, 5, 6, 7, 30} -> medians 0 and 6; relabelled: 1 joins 0.
    np.testing.assert_array_equal(one.centers, [[0.0], [6.0]])
    assert one.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert one.inertia == 0 + 1 + 1 + 0 + 1 + 24
    two = cluster(data, 2, init=[[0.0], [1.0]], metric="manhattan", max_iter=2)
    # Step 2: {0, 1}, {5, 6, 7, 30} -> midpoints of even clusters.
    np.testing.assert_array_equal(two.centers, [[0.5], [6.5]])
    assert two.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert two.inertia == 0.5 + 0.5 + 1.5 + 0.5 + 0.5 + 23.5


@pytest.mark.parametrize("weights, median", [
    (None, 1.5), ([3, 1, 1, 1], 0.5), ([1, 1, 1, 5], 100.0), ([0, 0, 1, 1], 51.0), ([1, 2, 1, 0], 1.0),
])
def test_weighted_median(weights, median):
    data = [[0.0], [1.0], [2.0], [100.0]]
    r = cluster(data, 1, weights=weights, init=[[0.0]], metric="manhattan", max_iter=5)
    assert r.centers.tolist() == [[median]]


def test_manhattan_is_robust_to_an_outlier():
    data = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [1.0, 1000.0]])
    med = cluster(data, 1, init=[[0.0, 0.0]], metric="manhattan")
    mean = cluster(data, 1, init=[[0.0, 0.0]])
    np.testing.assert_array_equal(med.centers, [[1.0, 0.5]])
    assert mean.centers[0, 1] > 250


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=hnp.arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(1, 3)),
                    elements=st.integers(-20, 20).map(float)),
    seed=st.integers(0, 2**16),
)
def test_weighted_median_minimises_weighted_l1(data, seed):
    rng = np.random.default_rng(seed)
    m = data.shape[0]
    k = int(rng.integers(1, 4))
    labels = rng.integers(0, k, m)
    weights = rng.integers(0, 4, m).astype(float)
    centers, counts = _weighted_medians(data, weights, labels, k)
    for j in range(k):
        members = labels == j
        if not (weights[members] > 0).any():
            assert np.isnan(centers[j]).all() and counts[j] == 0
            continue
        x, w = data[members], weights[members]
        cost = lambda c: (w[:, None] * np.abs(x - c)).sum(axis=0)  # noqa: E731
        best = cost(centers[j])
        for candidate in x:  # an optimum is always at (or between) data values
            assert (best <= cost(candidate) + 1e-9).all()
        if (w == 1).all() or not (w != w[0]).any():
            np.testing.assert_allclose(centers[j], np.median(x[w > 0], axis=0))


# --------------------------------------------------------------------------
# cosine: spherical k-means


def test_cosine_groups_by_direction_and_keeps_data_units():
    data = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    r = cluster(data, 2, init=[[1.0, 0.2], [0.2, 1.0]], metric="cosine")
    assert r.labels.tolist() == [0, 0, 1, 1]
    # Directions (1, 0) and (0, 1), as long as their rows on average.
    np.testing.assert_allclose(r.centers, [[2.0, 0.0], [0.0, 3.0]])
    assert r.inertia == pytest.approx(0.0, abs=1e-15)


def brute_spherical_step(data, weights, centers):
    """One spherical k-means step by hand; centres given the rows' mean length."""
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    dirs = centers / np.linalg.norm(centers, axis=1, keepdims=True)
    labels = (unit @ dirs.T).argmax(axis=1)
    new = []
    for j in range(len(centers)):
        w = weights[labels == j]
        s = (w[:, None] * unit[labels == j]).sum(axis=0)
        length = (w * np.linalg.norm(data[labels == j], axis=1)).sum() / w.sum()
        new.append(s / np.linalg.norm(s) * length)
    new = np.array(new)
    final = (unit @ (new / np.linalg.norm(new, axis=1, keepdims=True)).T)
    return new, final.argmax(axis=1), float((weights * (1 - final.max(axis=1))).sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_cosine_one_lloyd_step_known_answer(seed):
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.1, 10, (30, 3))
    weights = rng.integers(1, 5, 30).astype(float)
    init = data[:3]
    r = cluster(data, 3, weights=weights, init=init, metric="cosine", max_iter=1)
    centers, labels, inertia = brute_spherical_step(data, weights, init)
    np.testing.assert_allclose(r.centers, centers, rtol=1e-12)
    np.testing.assert_array_equal(r.labels, labels)
    assert r.inertia == pytest.approx(inertia, rel=1e-9, abs=1e-12)
    r2 = cluster(data, 3, weights=weights, init=init, metric="cosine", max_iter=2)
    centers2, labels2, _ = brute_spherical_step(data, weights, centers)
    np.testing.assert_allclose(r2.centers, centers2, rtol=1e-12)
    np.testing.assert_array_equal(r2.labels, labels2)


def test_cosine_labels_ignore_row_length():
    data = blobs(seed=6)
    scaled = data * np.random.default_rng(1).uniform(0.1, 10, (len(data), 1))
    init = data[[0, 40, 80]]
    a = cluster(data, 3, init=init, metric="cosine", eps=0, max_iter=100)
    b = cluster(scaled, 3, init=init, metric="cosine", eps=0, max_iter=100)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.inertia == pytest.approx(b.inertia, rel=1e-9)


def test_cosine_on_unit_rows_gives_unit_centroids():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(60, 3))
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    r = cluster(data, 4, metric="cosine", seed=0)
    np.testing.assert_allclose(np.linalg.norm(r.centers, axis=1), 1.0)


def test_cosine_zero_rows_cost_one_and_move_nothing():
    data = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    r = cluster(data, 2, init=[[0.0, 1.0], [1.0, 0.0]], metric="cosine")
    assert r.labels.tolist() == [0, 1, 0, 0]
    np.testing.assert_allclose(r.centers, [[0.0, 2.0], [1.0, 0.0]])
    assert r.inertia == pytest.approx(2.0)
    with pytest.raises(ValueError, match="non-zero row"):
        cluster(np.zeros((3, 2)), 1, metric="cosine")


def test_cosine_agrees_with_scikit_learn_on_unit_rows():
    # On unit rows, Euclidean labels against the mean are cosine labels
    # against its direction, so k-means and spherical k-means agree.
    SK = pytest.importorskip("sklearn.cluster").KMeans
    rng = np.random.default_rng(3)
    data = np.abs(rng.normal(size=(200, 3))) + [0, 0, 0.2]
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    init = unit[:4]
    ours = cluster(data, 4, init=init, metric="cosine", eps=0, max_iter=300)
    theirs = SK(4, init=init, n_init=1, tol=0, max_iter=300).fit(unit)
    np.testing.assert_array_equal(ours.labels, theirs.labels_)
    dirs = ours.centers / np.linalg.norm(ours.centers, axis=1, keepdims=True)
    sk_dirs = theirs.cluster_centers_ / np.linalg.norm(theirs.cluster_centers_, axis=1, keepdims=True)
    np.testing.assert_allclose(dirs, sk_dirs, atol=1e-12)
    est = KMeans(4, init=init, metric="cosine", tol=0).fit(data)
    np.testing.assert_array_equal(est.labels_, theirs.labels_)


# --------------------------------------------------------------------------
# Helpers


def test_nearest_and_pairwise_distances():
    data = np.array([[0.0, 0.0], [3.0, 4.0], [-1.0, 0.0]])
    centers = np.array([[0.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(pairwise_distances(data, centers), [[0, 3], [5, 4], [1, 4]])
    np.testing.assert_allclose(pairwise_distances(data, centers, "manhattan"), [[0, 3], [7, 4], [1, 4]])
    cos = pairwise_distances(data, centers, "cosine")
    np.testing.assert_allclose(cos, [[1, 1], [1, 1 - 0.6], [1, 2]])
    labels, cost = nearest(data, centers)
    assert labels.tolist() == [0, 1, 0] and cost.tolist() == [0.0, 16.0, 1.0]
    with pytest.raises(ValueError):
        nearest(data, np.empty((0, 2)))
    with pytest.raises(ValueError):
        pairwise_distances(data, centers, "l2")


# --------------------------------------------------------------------------
# The pipeline and the command line


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_quantize_image_with_a_metric(blobs_img, metric):
    r = quantize_image(blobs_img, 4, metric=metric, seed=0)
    assert 1 <= r.k <= 4
    palette = {tuple(c) for c in r.codebook.tolist()}
    assert {tuple(c) for c in r.reconstruct().reshape(-1, 3).tolist()} <= palette
    assert r.psnr > 20


def test_quantize_image_metric_default_unchanged_and_checked(blobs_img):
    a = quantize_image(blobs_img, 4, seed=0)
    b = quantize_image(blobs_img, 4, seed=0, metric="euclidean")
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="metric"):
        quantize_image(blobs_img, 4096, metric="chebyshev")  # even with k above the colours


def test_quantize_image_manhattan_on_a_large_histogram(chelsea_small):
    r = quantize_image(chelsea_small, 8, metric="manhattan", seed=0)
    assert r.k == 8 and r.psnr > 20


@pytest.fixture
def blobs_img():
    from conftest import blobs_image

    return blobs_image()


def test_cli_metric_option(blobs_png, out_dir):
    runner = CliRunner()
    out = out_dir / "m.png"
    book = out_dir / "m.json"
    result = runner.invoke(cli, ["image", str(blobs_png), "-k", "4", "--metric", "manhattan",
                                 "-o", str(out), "--codebook", str(book)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert json.loads(book.read_text())["options"]["metric"] == "manhattan"
    result = runner.invoke(cli, ["image", str(blobs_png), "-k", "4", "-o", str(out_dir / "e.png"),
                                 "--codebook", str(out_dir / "e.json")])
    assert result.exit_code == 0, result.output
    assert "metric" not in json.loads((out_dir / "e.json").read_text())["options"]


def test_cli_metric_usage_errors(blobs_png, out_dir):
    runner = CliRunner()
    result = runner.invoke(cli, ["image", str(blobs_png), "--metric", "chebyshev",
                                 "-o", str(out_dir / "x.png")])
    assert result.exit_code == 2
    result = runner.invoke(cli, ["image", str(blobs_png), "--metric", "cosine", "--min-psnr", "30",
                                 "-o", str(out_dir / "x.png")])
    assert result.exit_code == 2
    assert not (out_dir / "x.png").exists()


def test_cli_help_lists_metrics():
    result = CliRunner().invoke(cli, ["image", "--help"])
    assert "--metric" in result.output and "manhattan" in result.output


def test_metric_warning_filter_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster(blobs(seed=7), 3, metric="cosine", seed=0)
        cluster(blobs(seed=7), 3, metric="manhattan", seed=0)

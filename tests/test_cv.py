"""quantize.cv_kmeans: cv2.kmeans's conventions, checked by hand and against OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

import quantize
import quantize.compat.cv as qcv
from quantize import (KMEANS_PP_CENTERS, KMEANS_RANDOM_CENTERS, KMEANS_USE_INITIAL_LABELS,
                      TERM_CRITERIA_EPS, TERM_CRITERIA_MAX_ITER, cv_kmeans)

from conftest import load_rgb_array

USE = KMEANS_USE_INITIAL_LABELS
BOTH = TERM_CRITERIA_EPS + TERM_CRITERIA_MAX_ITER


def opencv():
    return pytest.importorskip("cv2")


def blobs(seed=0, n=60, dims=3, scale=12.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(0, 255, size=(5, dims))
    return np.concatenate([m + rng.normal(scale=scale, size=(n, dims)) for m in means]).astype(np.float32)


def assert_same(ours, theirs):
    assert ours[0] == theirs[0]
    assert ours[1].dtype == theirs[1].dtype == np.int32
    assert ours[1].shape == theirs[1].shape
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2].dtype == theirs[2].dtype == np.float32
    np.testing.assert_array_equal(ours[2], theirs[2])


# --------------------------------------------------------------------------
# Constants and known answers


def test_constants_have_opencv_values():
    assert (TERM_CRITERIA_EPS, TERM_CRITERIA_MAX_ITER, qcv.TERM_CRITERIA_COUNT) == (2, 1, 1)
    assert (KMEANS_RANDOM_CENTERS, KMEANS_USE_INITIAL_LABELS, KMEANS_PP_CENTERS) == (0, 1, 2)


def test_constants_match_cv2():
    cv2 = opencv()
    for name in ("TERM_CRITERIA_EPS", "TERM_CRITERIA_MAX_ITER", "TERM_CRITERIA_COUNT",
                 "KMEANS_RANDOM_CENTERS", "KMEANS_PP_CENTERS", "KMEANS_USE_INITIAL_LABELS"):
        assert getattr(qcv, name) == getattr(cv2, name), name
        assert getattr(quantize, name) == getattr(cv2, name), name


# OpenCV divides by multiplying with the float32 reciprocal: 5 * (1/3), one
# unit in the last place above float32(5/3).
FIVE_THIRDS = np.float32(5) * (np.float32(1) / np.float32(3))


def test_one_lloyd_step_from_initial_labels():
    # Centres from the labels {0, 2}, {3, 10} are 1 and 6.5; one assignment
    # moves 3 to cluster 0; the centres are recomputed (5/3, 10) and the
    # labels are NOT recomputed afterwards.
    Z = np.float32([[0], [2], [3], [10]])
    start = np.int32([[0], [0], [1], [1]])
    compactness, labels, centers = cv_kmeans(Z, 2, start, (TERM_CRITERIA_MAX_ITER, 2, 0), 1, USE)
    assert labels.ravel().tolist() == [0, 0, 0, 1]
    np.testing.assert_array_equal(centers, [[FIVE_THIRDS], [10]])
    # Sum of squared distances to the centres of the returned labels.
    assert compactness == pytest.approx((5 / 3) ** 2 + (1 / 3) ** 2 + (4 / 3) ** 2, rel=1e-6)


def test_two_lloyd_steps_from_initial_labels():
    Z = np.float32([[0], [2], [3], [10]])
    start = np.int32([[0], [0], [1], [1]])
    compactness, labels, centers = cv_kmeans(Z, 2, start, (TERM_CRITERIA_MAX_ITER, 3, 0), 1, USE)
    # Second assignment against (5/3, 10) changes nothing; centres stay.
    assert labels.ravel().tolist() == [0, 0, 0, 1]
    np.testing.assert_array_equal(centers, [[FIVE_THIRDS], [10]])


def test_iterations_are_clamped_to_2_and_100(monkeypatch):
    calls = []
    real = qcv._nearest32
    monkeypatch.setattr(qcv, "_nearest32", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(qcv, "_max_shift_sq", lambda *a: 1.0)  # never converges
    Z = blobs()
    start = np.zeros((len(Z), 1), np.int32)
    start[::2] = 1
    for criteria, assignments in [((TERM_CRITERIA_MAX_ITER, 1, 0), 1),
                                  ((TERM_CRITERIA_MAX_ITER, 0, 0), 1),
                                  ((TERM_CRITERIA_MAX_ITER, 5, 0), 4),
                                  ((TERM_CRITERIA_MAX_ITER, 1000, 0), 99),
                                  ((TERM_CRITERIA_EPS, 7, 0.0), 99)]:
        calls.clear()
        cv_kmeans(Z, 2, start.copy(), criteria, 1, USE)
        assert len(calls) == assignments, criteria


def test_epsilon_is_a_bound_on_the_largest_centre_shift():
    Z = np.float32([[0], [2], [3], [10]])
    start = np.int32([[0], [0], [1], [1]])
    # The first shift is 3.5 (6.5 -> 10): epsilon 3.5 stops there, 3.4 does not.
    seen = []
    real = qcv._max_shift_sq
    qcv._max_shift_sq = lambda *a: seen.append(real(*a)) or seen[-1]
    try:
        cv_kmeans(Z, 2, start.copy(), (TERM_CRITERIA_EPS, 0, 3.5), 1, USE)
        assert seen == [3.5**2]
        seen.clear()
        cv_kmeans(Z, 2, start.copy(), (TERM_CRITERIA_EPS, 0, 3.4), 1, USE)
        assert len(seen) == 2
    finally:
        qcv._max_shift_sq = real


def test_lost_cluster_takes_the_farthest_point_of_the_biggest_cluster():
    Z = np.float32([[0], [1], [2], [9], [10]])
    start = np.int32([0, 0, 0, 1, 1])
    compactness, labels, centers = cv_kmeans(Z, 3, start, (TERM_CRITERIA_MAX_ITER, 2, 0), 1, USE)
    # Cluster 2 starts empty: cluster 0 (the biggest) gives up its point
    # farthest from its centre 1 (0 and 2 tie: the last one, 2, goes).
    np.testing.assert_array_equal(centers, np.float32([[0.5], [9.5], [2]]))
    assert labels.ravel().tolist() == [0, 0, 2, 1, 1]


def test_k_equal_one_runs_two_iterations_once():
    Z = blobs()
    compactness, labels, centers = cv_kmeans(Z, 1, None, (BOTH, 50, 0.0), 5, KMEANS_PP_CENTERS)
    assert (labels == 0).all()
    np.testing.assert_allclose(centers[0], Z.mean(axis=0), rtol=1e-5)
    assert compactness == pytest.approx(((Z - Z.mean(axis=0)) ** 2).sum(), rel=1e-5)


def test_compactness_is_the_sum_of_squared_distances_to_the_label_centres():
    Z = blobs(seed=1)
    compactness, labels, centers = cv_kmeans(Z, 5, None, (BOTH, 20, 0.5), 3, KMEANS_PP_CENTERS,
                                             seed=0)
    d = ((Z.astype(np.float64) - centers[labels.ravel()]) ** 2).sum()
    assert compactness == pytest.approx(d, rel=1e-6)


@pytest.mark.parametrize("flags", [KMEANS_RANDOM_CENTERS, KMEANS_PP_CENTERS])
def test_random_starts_are_seeded_and_find_the_blobs(flags):
    Z = blobs(seed=2)
    a = cv_kmeans(Z, 5, None, (BOTH, 30, 0.01), 4, flags, seed=3)
    b = cv_kmeans(Z, 5, None, (BOTH, 30, 0.01), 4, flags, seed=3)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[2], b[2])
    true = np.sort(np.float32([Z[i * 60:(i + 1) * 60].mean(axis=0) for i in range(5)]), axis=0)
    np.testing.assert_allclose(np.sort(a[2], axis=0), true, atol=0.5)


def test_random_centres_lie_in_the_widened_bounding_box():
    Z = blobs(seed=3, dims=2)
    centers = qcv._initial_centers(Z, 200, KMEANS_RANDOM_CENTERS, np.random.default_rng(0))
    low, high = Z.min(axis=0), Z.max(axis=0)
    margin = (high - low) / 2
    assert (centers >= low - margin - 1e-3).all() and (centers <= high + margin + 1e-3).all()
    assert (centers < low).any() and (centers > high).any()


# --------------------------------------------------------------------------
# Shapes, outputs and errors


def test_input_layouts():
    row = np.float32([[0, 1, 10, 11]])
    for data in (row, row.ravel()):
        compactness, labels, centers = cv_kmeans(data, 2, None, (BOTH, 10, 0.1), 1, KMEANS_PP_CENTERS)
        assert labels.shape == (4, 1) and centers.shape == (2, 1)
    cube = np.zeros((4, 2, 3), np.float32) + np.arange(4, dtype=np.float32)[:, None, None]
    assert cv_kmeans(cube, 2, None, (BOTH, 10, 0.1), 1, 0)[2].shape == (2, 6)
    assert cv_kmeans(cube.reshape(1, 8, 3), 2, None, (BOTH, 10, 0.1), 1, 0)[2].shape == (2, 3)
    # Other dtypes are converted to float32.
    assert cv_kmeans(np.uint8([[0], [1], [200]]), 2, None, (BOTH, 10, 0.1), 1, 2)[2].dtype == np.float32


def test_outputs_are_written_in_place_when_they_fit():
    Z = blobs(seed=4)
    best = np.zeros((len(Z), 1), np.int32)
    out = np.empty((5, 3), np.float32)
    _, labels, centers = cv_kmeans(Z, 5, best, (BOTH, 10, 0.1), 1, KMEANS_PP_CENTERS, out)
    assert labels is best and centers is out
    flat = np.zeros(len(Z), np.int32)
    assert cv_kmeans(Z, 5, flat, (BOTH, 10, 0.1), 1, 2)[1] is flat
    # Wrong type or shape: a new (N, 1) array.
    _, labels, centers = cv_kmeans(Z, 5, np.zeros(len(Z), np.int64), (BOTH, 10, 0.1), 1, 2,
                                   np.empty((2, 2), np.float32))
    assert labels.shape == (len(Z), 1) and labels.dtype == np.int32 and centers.shape == (5, 3)


@pytest.mark.parametrize("args, match", [
    ((np.float32([[0], [1]]), 3, None, (BOTH, 10, 0.1), 1, 0), "between 1 and 2"),
    ((np.float32([[0], [1]]), 0, None, (BOTH, 10, 0.1), 1, 0), "between 1 and 2"),
    ((np.float32([[0], [np.nan]]), 1, None, (BOTH, 10, 0.1), 1, 0), "NaN"),
    ((np.float32([[0], [1]]), 2, None, (BOTH, 10, 0.1), 1, USE), "bestLabels"),
    ((np.float32([[0], [1]]), 2, np.int32([0, 2]), (BOTH, 10, 0.1), 1, USE), r"\[0, 2\)"),
    ((np.float32([[0], [1]]), 2, np.int32([0, 1, 1]), (BOTH, 10, 0.1), 1, USE), "2 integers"),
    ((np.float32([[0], [1]]), 2, np.float32([0, 1]), (BOTH, 10, 0.1), 1, USE), "2 integers"),
    ((np.float32([[0], [1]]), 2, None, (BOTH, 10), 1, 0), "criteria"),
    ((np.array([["a"]]), 1, None, (BOTH, 10, 0.1), 1, 0), "real numbers"),
])
def test_errors(args, match):
    with pytest.raises(ValueError, match=match):
        cv_kmeans(*args)


# --------------------------------------------------------------------------
# Against OpenCV


@pytest.mark.parametrize("criteria", [(TERM_CRITERIA_MAX_ITER, 1, 0), (TERM_CRITERIA_MAX_ITER, 3, 0),
                                      (BOTH, 10, 1.0), (BOTH, 100, 0.01), (TERM_CRITERIA_EPS, 0, 0.5),
                                      (TERM_CRITERIA_MAX_ITER, 500, 0)])
def test_matches_opencv_from_initial_labels(criteria):
    cv2 = opencv()
    Z = blobs(seed=5, scale=40.0)
    start = (np.arange(len(Z)) % 5).astype(np.int32).reshape(-1, 1)
    ours = cv_kmeans(Z, 5, start.copy(), criteria, 1, USE)
    theirs = cv2.kmeans(Z, 5, start.copy(), criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    assert_same(ours, theirs)


@pytest.mark.parametrize("dims", [1, 2, 7, 15])
def test_matches_opencv_on_other_dimensions(dims):
    cv2 = opencv()
    Z = blobs(seed=6, dims=dims, scale=30.0)
    start = np.random.default_rng(dims).integers(0, 4, (len(Z), 1)).astype(np.int32)
    ours = cv_kmeans(Z, 4, start.copy(), (BOTH, 20, 0.001), 1, USE)
    theirs = cv2.kmeans(Z, 4, start.copy(), (BOTH, 20, 0.001), 1, cv2.KMEANS_USE_INITIAL_LABELS)
    assert_same(ours, theirs)


def test_matches_opencv_with_lost_clusters():
    cv2 = opencv()
    Z = blobs(seed=7)
    start = (np.arange(len(Z)) % 3).astype(np.int32).reshape(-1, 1)  # clusters 3..6 empty
    for criteria in [(TERM_CRITERIA_MAX_ITER, 2, 0), (BOTH, 30, 0.01)]:
        ours = cv_kmeans(Z, 7, start.copy(), criteria, 1, USE)
        theirs = cv2.kmeans(Z, 7, start.copy(), criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
        assert_same(ours, theirs)


def test_matches_opencv_on_the_small_known_answers():
    cv2 = opencv()
    cases = [(np.float32([[0], [2], [3], [10]]), np.int32([[0], [0], [1], [1]]), 2),
             (np.float32([[0], [1], [2], [9], [10]]), np.int32([[0], [0], [0], [1], [1]]), 3)]
    for Z, start, K in cases:
        for n in (1, 2, 3, 10):
            ours = cv_kmeans(Z, K, start.copy(), (TERM_CRITERIA_MAX_ITER, n, 0), 1, USE)
            theirs = cv2.kmeans(Z, K, start.copy(), (cv2.TERM_CRITERIA_MAX_ITER, n, 0), 1,
                                cv2.KMEANS_USE_INITIAL_LABELS)
            assert_same(ours, theirs)


def test_random_starts_reach_opencv_quality():
    cv2 = opencv()
    Z = blobs(seed=8)
    for ours_flag, cv_flag in [(KMEANS_PP_CENTERS, cv2.KMEANS_PP_CENTERS),
                               (KMEANS_RANDOM_CENTERS, cv2.KMEANS_RANDOM_CENTERS)]:
        ours = cv_kmeans(Z, 5, None, (BOTH, 30, 0.01), 5, ours_flag, seed=0)
        theirs = cv2.kmeans(Z, 5, None, (BOTH, 30, 0.01), 5, cv_flag)
        assert ours[0] == pytest.approx(theirs[0], rel=1e-4)


# --------------------------------------------------------------------------
# OpenCV's colour-quantization tutorial, with cv2.kmeans replaced


def tutorial(img, kmeans, flags, criteria=None, attempts=10, labels=None):
    """The tutorial's steps, with the k-means function passed in."""
    Z = img.reshape((-1, 3))
    Z = np.float32(Z)
    criteria = criteria or (TERM_CRITERIA_EPS + TERM_CRITERIA_MAX_ITER, 10, 1.0)
    K = 8
    ret, label, center = kmeans(Z, K, labels, criteria, attempts, flags)
    center = np.uint8(center)
    res = center[label.flatten()]
    res2 = res.reshape((img.shape))
    return ret, label, center, res2


def test_colour_quantization_tutorial(chelsea_small):
    img = chelsea_small[:, :, ::-1]  # BGR, as cv.imread gives
    ret, label, center, res2 = tutorial(img, lambda *a: cv_kmeans(*a, seed=0),
                                        KMEANS_RANDOM_CENTERS)
    assert res2.shape == img.shape and res2.dtype == np.uint8
    assert label.shape == (img.shape[0] * img.shape[1], 1) and label.dtype == np.int32
    assert center.shape == (8, 3)
    assert len(np.unique(res2.reshape(-1, 3), axis=0)) <= 8
    # The quantized image is far closer to the input than an 8-grey ramp.
    mse = ((res2.astype(float) - img) ** 2).mean()
    assert mse < 200
    Z = np.float32(img.reshape(-1, 3))
    assert ret == pytest.approx(((Z - np.float32(center)[label.ravel()]) ** 2).sum(), rel=0.05)


def test_colour_quantization_tutorial_matches_opencv(samples):
    cv2 = opencv()
    img = load_rgb_array(samples / "chelsea.png")[:, :, ::-1]
    # USE_INITIAL_LABELS: start from the labels of an 8-level brightness split.
    start = (img.reshape(-1, 3).astype(np.int32).sum(axis=1) * 8 // 766).astype(np.int32)
    start = start.reshape(-1, 1)
    ours = tutorial(img, cv_kmeans, KMEANS_USE_INITIAL_LABELS, attempts=1, labels=start.copy())
    theirs = tutorial(img, cv2.kmeans, cv2.KMEANS_USE_INITIAL_LABELS, attempts=1,
                      labels=start.copy())
    assert ours[0] == theirs[0]
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_array_equal(ours[2], theirs[2])
    np.testing.assert_array_equal(ours[3], theirs[3])


def test_colour_quantization_tutorial_random_centres_compare_with_opencv(chelsea_small):
    cv2 = opencv()
    img = chelsea_small
    ours = tutorial(img, lambda *a: cv_kmeans(*a, seed=1), KMEANS_RANDOM_CENTERS)
    theirs = tutorial(img, cv2.kmeans, cv2.KMEANS_RANDOM_CENTERS)
    # Different random starts, ten attempts each: the same quality within 5 %.
    assert ours[0] == pytest.approx(theirs[0], rel=0.05)


# --------------------------------------------------------------------------
# Seeding and errors as OpenCV's callers expect

FRESH_PROCESS = """
import numpy as np
from quantize import cv_kmeans, KMEANS_PP_CENTERS, KMEANS_RANDOM_CENTERS
rng = np.random.default_rng(0)
Z = np.float32(np.concatenate([m + rng.normal(scale=20, size=(60, 3))
                               for m in rng.uniform(0, 255, (6, 3))]))
for flags in (KMEANS_PP_CENTERS, KMEANS_RANDOM_CENTERS):
    print(repr(cv_kmeans(Z, 5, None, (3, 10, 1.0), 1, flags)[0]))
"""


def test_no_seed_is_deterministic_in_every_new_process_as_opencv():
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and len(set(runs[0].split())) == 2


def test_successive_calls_draw_on_and_set_rng_seed_restarts():
    Z = blobs(seed=9, scale=40.0)
    criteria = (BOTH, 10, 1.0)
    qcv.setRNGSeed(0)  # the state every thread starts from
    first = cv_kmeans(Z, 5, None, criteria, 1, KMEANS_RANDOM_CENTERS)
    second = cv_kmeans(Z, 5, None, criteria, 1, KMEANS_RANDOM_CENTERS)
    assert not np.array_equal(first[2], second[2])
    qcv.setRNGSeed(0)
    assert_same(cv_kmeans(Z, 5, None, criteria, 1, KMEANS_RANDOM_CENTERS), first)
    qcv.setRNGSeed(12345)
    a = cv_kmeans(Z, 5, None, criteria, 2, KMEANS_PP_CENTERS)
    qcv.setRNGSeed(12345)
    assert_same(cv_kmeans(Z, 5, None, criteria, 2, KMEANS_PP_CENTERS), a)
    # An explicit seed leaves the thread's generator alone.
    qcv.setRNGSeed(0)
    cv_kmeans(Z, 5, None, criteria, 1, KMEANS_RANDOM_CENTERS, seed=1)
    assert_same(cv_kmeans(Z, 5, None, criteria, 1, KMEANS_RANDOM_CENTERS), first)


def test_every_thread_starts_from_the_same_state():
    import threading

    Z = blobs(seed=10, scale=40.0)
    qcv.setRNGSeed(0)
    expected = cv_kmeans(Z, 5, None, (BOTH, 10, 1.0), 1, KMEANS_PP_CENTERS)
    qcv.setRNGSeed(99)  # this thread's only
    results = []
    thread = threading.Thread(target=lambda: results.append(
        cv_kmeans(Z, 5, None, (BOTH, 10, 1.0), 1, KMEANS_PP_CENTERS)))
    thread.start()
    thread.join()
    assert_same(results[0], expected)


BAD_CALLS = [
    (np.float32([[0], [1]]), 3, None, (BOTH, 10, 0.1), 1, 0),
    (np.float32([[0], [1]]), 2.5, None, (BOTH, 10, 0.1), 1, 0),
    (np.float32([[0], [1]]), 2, None, (BOTH, 10, 0.1), 1.5, 0),
    (np.float32([[0], [1]]), 2, None, (BOTH, 10, 0.1), 1, "x"),
    (np.float32([[0], [1]]), 2, None, (BOTH, 10), 1, 0),
    (np.float32([[0], [1]]), 0, None, (BOTH, 10, 0.1), 1, 0),
    (np.float32([[0], [1]]), 2, np.int32([0, 2]), (BOTH, 10, 0.1), 1, USE),
]


@pytest.mark.parametrize("args", BAD_CALLS)
def test_errors_are_cv2_errors_where_opencv_raises_one(args):
    cv2 = opencv()
    with pytest.raises(cv2.error):
        cv2.kmeans(*args)
    with pytest.raises(cv2.error) as caught:
        cv_kmeans(*args)
    err = caught.value
    assert isinstance(err, qcv.CvError) and isinstance(err, ValueError)
    assert err.code == cv2.Error.StsBadArg and err.err == str(err) and err.func == "cv_kmeans"


def test_cv_error_pickles_and_stands_alone_without_opencv():
    import pickle
    import subprocess
    import sys

    with pytest.raises(qcv.CvError) as caught:
        cv_kmeans(np.float32([[0], [1]]), 3, None, (BOTH, 10, 0.1), 1, 0)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is type(caught.value) and again.code == -5
    code = ("import sys; sys.modules['cv2'] = None\n"
            "import quantize.compat.cv as qcv\n"
            "try:\n"
            "    qcv.cv_kmeans([[0.0], [1.0]], 3, None, (3, 10, 0.1), 1, 0)\n"
            "except ValueError as err:\n"
            "    print(type(err) is qcv.CvError, err.code)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "-5"]

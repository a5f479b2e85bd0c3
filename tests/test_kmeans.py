"""The weighted k-means core: quantize.core.kmeans.cluster and assign."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quantize.errors import QuantizeWarning
from quantize.core.kmeans import assign, cluster


def brute_sq_dist(data, centers):
    """(M, k) squared distances, the slow obvious way."""
    data = np.asarray(data, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    return ((data[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def brute_lloyd_step(data, centers, weights=None):
    """One Lloyd step (assign, weighted means), then labels for the new centres."""
    data = np.asarray(data, dtype=np.float64)
    weights = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=np.float64)
    labels = brute_sq_dist(data, centers).argmin(axis=1)
    new = np.array([
        (weights[labels == j, None] * data[labels == j]).sum(axis=0) / weights[labels == j].sum()
        for j in range(len(centers))
    ])
    d = brute_sq_dist(data, new)
    final = d.argmin(axis=1)
    return new, final, float((weights * d[np.arange(len(data)), final]).sum())


def well_separated(n_per=30, seed=0):
    """Three tight 2-D blobs far apart, with their true centres."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    data = np.concatenate([m + rng.normal(scale=1.0, size=(n_per, 2)) for m in means])
    return data, means


# --------------------------------------------------------------------------
# One Lloyd step by hand


def test_one_step_1d_labels_recomputed_after_update():
    data = [[0.0], [2.0], [3.0], [10.0]]
    r = cluster(data, 2, init=[[0.0], [3.0]], max_iter=1)
    # Assignment to (0, 3): {0}, {2, 3, 10}  ->  centres 0 and 15/3 = 5.
    np.testing.assert_array_equal(r.centers, [[0.0], [5.0]])
    # Relabelled against (0, 5): 2 is now nearer to 0 than to 5.
    np.testing.assert_array_equal(r.labels, [0, 0, 1, 1])
    # 0² + 2² + 2² + 5²
    assert r.inertia == 33.0
    assert r.n_iter == 1
    assert r.converged is False


def test_one_step_weighted_1d():
    data = [[0.0], [2.0], [3.0], [10.0]]
    r = cluster(data, 2, weights=[1, 1, 2, 1], init=[[0.0], [3.0]], max_iter=1)
    # {2, 3, 3, 10} -> 18 / 4 = 4.5
    np.testing.assert_array_equal(r.centers, [[0.0], [4.5]])
    np.testing.assert_array_equal(r.labels, [0, 0, 1, 1])
    # 1*0 + 1*2² + 2*1.5² + 1*5.5² = 0 + 4 + 4.5 + 30.25
    assert r.inertia == pytest.approx(38.75, abs=1e-12)


def test_one_step_2d():
    data = [[0, 0], [0, 2], [4, 0], [4, 2], [10, 0]]
    r = cluster(data, 2, init=[[0, 1], [4, 1]], max_iter=1)
    # {(0,0), (0,2)} -> (0, 1);  {(4,0), (4,2), (10,0)} -> (6, 2/3)
    np.testing.assert_allclose(r.centers, [[0.0, 1.0], [6.0, 2.0 / 3.0]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.labels, [0, 0, 1, 1, 1])
    # 1 + 1 + (4 + 4/9) + (4 + 16/9) + (16 + 4/9) = 26 + 24/9 = 86/3
    assert r.inertia == pytest.approx(86.0 / 3.0, rel=1e-12)


def test_one_step_matches_brute_force_numpy():
    rng = np.random.default_rng(7)
    data = rng.normal(size=(60, 3)) * 20
    weights = rng.integers(1, 5, size=60).astype(float)
    init = data[[0, 1, 2, 3]]
    centres, labels, inertia = brute_lloyd_step(data, init, weights)
    r = cluster(data, 4, weights=weights, init=init, max_iter=1)
    np.testing.assert_allclose(r.centers, centres, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(r.labels, labels)
    assert r.inertia == pytest.approx(inertia, rel=1e-10)


def test_one_step_matches_scipy_kmeans2():
    vq = pytest.importorskip("scipy.cluster.vq")
    rng = np.random.default_rng(0)
    data = rng.random((50, 3)) * 10
    init = data[:4].copy()
    centres, _ = vq.kmeans2(data, init, iter=1, minit="matrix")
    r = cluster(data, 4, init=init, max_iter=1, eps=0)
    np.testing.assert_allclose(r.centers, centres, rtol=1e-12, atol=1e-12)
    # scipy returns the labels from before the update; ours agree with the centres.
    np.testing.assert_array_equal(r.labels, vq.vq(data, r.centers)[0])


def test_converged_lloyd_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    data, means = well_separated(n_per=40, seed=3)
    init = means + np.array([[8.0, -5.0], [-6.0, 7.0], [5.0, 9.0]])
    r = cluster(data, 3, init=init, max_iter=100, eps=0)
    initial_labels, _ = assign(data, init)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 0.0)
    compactness, labels, centres = cv2.kmeans(
        data.astype(np.float32), 3, initial_labels.astype(np.int32).reshape(-1, 1).copy(),
        criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    np.testing.assert_allclose(r.centers, centres, atol=1e-3)
    np.testing.assert_array_equal(r.labels, labels.ravel())
    assert r.inertia == pytest.approx(compactness, rel=1e-4)


# --------------------------------------------------------------------------
# Weights


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(25, 3)) * 30
    weights = rng.integers(1, 6, size=25)
    init = data[[0, 5, 10, 15]] + 0.5
    weighted = cluster(data, 4, weights=weights, init=init, max_iter=20, eps=0)
    repeated_rows = np.repeat(np.arange(25), weights)
    plain = cluster(data[repeated_rows], 4, init=init, max_iter=20, eps=0)
    np.testing.assert_allclose(weighted.centers, plain.centers, rtol=1e-10, atol=1e-9)
    assert weighted.inertia == pytest.approx(plain.inertia, rel=1e-10)
    np.testing.assert_array_equal(weighted.labels[repeated_rows], plain.labels)
    assert weighted.n_iter == plain.n_iter
    assert weighted.converged == plain.converged


def test_zero_weight_rows_are_ignored():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(30, 2)) * 10
    weights = np.ones(30)
    weights[::3] = 0.0
    init = data[[1, 2, 4]]
    with_zeros = cluster(data, 3, weights=weights, init=init, max_iter=10, eps=0)
    without = cluster(data[weights > 0], 3, init=init, max_iter=10, eps=0)
    np.testing.assert_allclose(with_zeros.centers, without.centers, rtol=1e-12, atol=1e-12)
    assert with_zeros.inertia == pytest.approx(without.inertia, rel=1e-12)
    np.testing.assert_array_equal(with_zeros.labels[weights > 0], without.labels)


# --------------------------------------------------------------------------
# Seeds


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_same_seed_repeats_exactly(init):
    rng = np.random.default_rng(3)
    data = rng.random((80, 3)) * 255
    a = cluster(data, 6, init=init, attempts=3, seed=42)
    b = cluster(data, 6, init=init, attempts=3, seed=42)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.inertia == b.inertia
    assert a.n_iter == b.n_iter


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_different_seeds_can_differ(init):
    rng = np.random.default_rng(4)
    data = rng.random((80, 3)) * 255
    # One step from different random starts: the seeds must actually matter.
    results = {cluster(data, 6, init=init, max_iter=1, seed=s).centers.tobytes() for s in range(8)}
    assert len(results) > 1


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_generator_works_as_seed(init):
    rng = np.random.default_rng(5)
    data = rng.random((60, 2)) * 100
    by_int = cluster(data, 5, init=init, attempts=2, seed=11)
    by_gen = cluster(data, 5, init=init, attempts=2, seed=np.random.default_rng(11))
    np.testing.assert_array_equal(by_int.centers, by_gen.centers)
    np.testing.assert_array_equal(by_int.labels, by_gen.labels)


def test_seed_none_runs():
    data, _ = well_separated()
    r = cluster(data, 3, seed=None)
    assert r.centers.shape == (3, 2)


# --------------------------------------------------------------------------
# Empty clusters


def test_far_away_centre_is_relocated_onto_a_data_row():
    data = np.array([[0.0], [1.0], [10.0], [11.0]])
    r = cluster(data, 3, init=[[0.0], [10.0], [1000.0]], max_iter=1)
    assert r.centers.shape == (3, 1)
    assert np.isfinite(r.centers).all()
    # The empty centre moves onto the farthest row (distance 1; ties -> lowest
    # index, row 1); the others are the means of their clusters.
    np.testing.assert_array_equal(r.centers, [[0.5], [10.5], [1.0]])
    np.testing.assert_array_equal(r.labels, [0, 2, 1, 1])
    assert r.inertia == pytest.approx(0.25 + 0.0 + 0.25 + 0.25)


def test_several_empty_clusters_no_nan():
    rng = np.random.default_rng(6)
    data = rng.random((40, 3))
    init = np.array([[0.5, 0.5, 0.5], [1e3, 0, 0], [0, 1e3, 0], [0, 0, 1e3], [-1e3, -1e3, -1e3]])
    r = cluster(data, 5, init=init, max_iter=50)
    assert r.centers.shape == (5, 3)
    assert np.isfinite(r.centers).all()
    assert np.isfinite(r.inertia)
    # After relocation every cluster has members at the end.
    assert set(r.labels.tolist()) == set(range(5))


# --------------------------------------------------------------------------
# Fewer distinct rows than k


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_k_above_distinct_rows_warns_and_returns_them(init):
    data = np.array([[0, 0], [0, 0], [5, 5], [9, 1], [5, 5], [9, 1], [0, 0]], dtype=float)
    with pytest.warns(QuantizeWarning, match="3 distinct rows"):
        r = cluster(data, 4, init=init, attempts=3, seed=1)
    np.testing.assert_array_equal(r.centers, [[0, 0], [5, 5], [9, 1]])
    assert r.inertia == 0.0
    np.testing.assert_array_equal(r.centers[r.labels], data)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_k_above_number_of_rows(init):
    data = np.array([[3.0, 1.0], [1.0, 2.0], [2.0, 2.0]])
    with pytest.warns(QuantizeWarning):
        r = cluster(data, 5, init=init)
    np.testing.assert_array_equal(r.centers, np.unique(data, axis=0))
    assert r.inertia == 0.0
    np.testing.assert_array_equal(r.centers[r.labels], data)


def test_zero_weight_rows_do_not_count_as_distinct():
    with pytest.warns(QuantizeWarning):
        r = cluster([[0.0], [1.0], [2.0]], 3, weights=[1, 1, 0])
    np.testing.assert_array_equal(r.centers, [[0.0], [1.0]])


def test_k_above_distinct_rows_with_non_integer_data():
    # Same property with data that is not integer-valued. BUG (kmeans.py,
    # _kmeanspp_init): it detects "fewer distinct rows than k" by a zero D²
    # potential, but D² is computed as |x|² - 2x·c + |c|², which leaves tiny
    # positive values for rows equal to a chosen centre; a duplicate row is
    # then picked as a centre and no warning is given.
    failures = []
    for seed in range(10):
        data = np.repeat(np.random.default_rng(seed).random((3, 3)) * 100, 3, axis=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = cluster(data, 4, seed=seed)
        warned = any(issubclass(w.category, QuantizeWarning) for w in caught)
        if not warned or r.centers.shape[0] != 3 or np.unique(r.centers, axis=0).shape[0] != 3:
            failures.append((seed, warned, r.centers.shape[0]))
    assert failures == [], f"(seed, warned, n_centres) with duplicate centres: {failures}"


# --------------------------------------------------------------------------
# Stopping


def test_eps_stops_early_on_well_separated_data():
    data, means = well_separated()
    r = cluster(data, 3, eps=1e-6, max_iter=100, seed=0)
    assert r.converged is True
    assert r.n_iter < 100
    # Every true centre has its own found centre within 1 unit.
    nearest, sq = assign(means, r.centers)
    assert sorted(nearest.tolist()) == [0, 1, 2]
    assert (sq < 1.0).all()


def test_max_iter_one_runs_one_iteration():
    data, _ = well_separated()
    r = cluster(data, 3, max_iter=1, eps=0, init=data[[0, 1, 2]])
    assert r.n_iter == 1


def test_eps_zero_stops_when_nothing_moves():
    data, means = well_separated()
    r = cluster(data, 3, eps=0.0, init=means)
    assert r.converged is True
    # The last iteration moved nothing: one more step changes nothing.
    again = cluster(data, 3, eps=0.0, max_iter=1, init=r.centers)
    np.testing.assert_array_equal(again.centers, r.centers)


def test_not_converged_when_max_iter_reached():
    data, _ = well_separated()
    r = cluster(data, 3, eps=0.0, max_iter=1, init=[[50.0, 50.0], [51.0, 50.0], [50.0, 51.0]])
    assert r.n_iter == 1
    assert r.converged is False


def test_callback_reports_every_iteration():
    data, _ = well_separated()
    calls = []
    r = cluster(data, 3, eps=1e-3, seed=0, callback=lambda i, shift: calls.append((i, shift)))
    assert [i for i, _ in calls] == list(range(1, r.n_iter + 1))
    assert all(shift >= 0 for _, shift in calls)
    assert calls[-1][1] <= 1e-3


# --------------------------------------------------------------------------
# Attempts


@pytest.mark.parametrize("init", ["kmeans++", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_attempts_never_worse_than_first_attempt(init, seed):
    rng = np.random.default_rng(10)
    data = rng.random((120, 3)) * 255
    one = cluster(data, 7, init=init, attempts=1, seed=seed)
    five = cluster(data, 7, init=init, attempts=5, seed=seed)
    assert five.inertia <= one.inertia


def test_attempts_keep_the_lowest_inertia():
    rng = np.random.default_rng(11)
    data = rng.random((120, 3)) * 255
    best = cluster(data, 7, init="random", attempts=5, seed=np.random.default_rng(8))
    # The attempts share one random stream, so five single runs drawing from
    # one generator reproduce them in order.
    stream = np.random.default_rng(8)
    singles = [cluster(data, 7, init="random", attempts=1, seed=stream) for _ in range(5)]
    inertias = [s.inertia for s in singles]
    assert best.inertia == min(inertias)
    first_best = singles[int(np.argmin(inertias))]
    np.testing.assert_array_equal(best.centers, first_best.centers)


# --------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize("k, shown", [(0, "0"), (-3, "-3"), (2.5, "2.5")])
def test_bad_k(k, shown):
    with pytest.raises(ValueError, match="k") as info:
        cluster([[0.0], [1.0]], k)
    assert shown in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data(bad):
    data = np.array([[0.0, 1.0], [2.0, bad]])
    with pytest.raises(ValueError, match="finite") as info:
        cluster(data, 1)
    assert str(bad).lower().lstrip("-") in str(info.value).lower()


def test_bad_weights_shape():
    with pytest.raises(ValueError, match=r"\(3,\)") as info:
        cluster([[0.0], [1.0], [2.0]], 2, weights=[1.0, 2.0])
    assert "(2,)" in str(info.value)


def test_negative_weights_rejected():
    with pytest.raises(ValueError, match="weights"):
        cluster([[0.0], [1.0], [2.0]], 2, weights=[1.0, -2.5, 1.0])


def test_negative_weight_message_shows_the_bad_value():
    # DESIGN.md: "error messages show the bad value". The message is
    # "weights must be finite, non-negative and not all zero", without -2.5.
    with pytest.raises(ValueError) as info:
        cluster([[0.0], [1.0], [2.0]], 2, weights=[1.0, -2.5, 1.0])
    assert "-2.5" in str(info.value)


def test_all_zero_weights_rejected():
    with pytest.raises(ValueError, match="weights"):
        cluster([[0.0], [1.0]], 1, weights=[0.0, 0.0])


def test_unknown_init():
    with pytest.raises(ValueError, match="bogus"):
        cluster([[0.0], [1.0]], 1, init="bogus")


def test_init_array_of_wrong_shape():
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        cluster([[0.0], [1.0]], 2, init=[[0.0, 1.0]])


@pytest.mark.parametrize("kwargs, shown", [
    ({"max_iter": 0}, "0"),
    ({"attempts": 0}, "0"),
    ({"eps": -1.0}, "-1.0"),
])
def test_bad_stopping_options(kwargs, shown):
    with pytest.raises(ValueError) as info:
        cluster([[0.0], [1.0]], 1, **kwargs)
    assert shown in str(info.value)


@pytest.mark.parametrize("data", [[1.0, 2.0, 3.0], np.empty((0, 3))])
def test_bad_data_shape(data):
    with pytest.raises(ValueError, match="shape"):
        cluster(data, 1)


# --------------------------------------------------------------------------
# assign


def test_assign_doc_example_and_distances():
    labels, sq = assign([[0.0], [9.0], [4.0]], [[1.0], [10.0]])
    np.testing.assert_array_equal(labels, [0, 1, 0])
    np.testing.assert_array_equal(sq, [1.0, 1.0, 9.0])


def test_assign_ties_go_to_lowest_index():
    labels, _ = assign([[5.0], [5.0]], [[6.0], [4.0], [6.0]])
    np.testing.assert_array_equal(labels, [0, 0])


def test_assign_rejects_mismatched_columns():
    with pytest.raises(ValueError, match="agree"):
        assign([[0.0, 1.0]], [[0.0]])


# --------------------------------------------------------------------------
# Property-based


@st.composite
def weighted_problems(draw):
    m = draw(st.integers(1, 25))
    n = draw(st.integers(1, 4))
    data = draw(hnp.arrays(np.float64, (m, n),
                           elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False)))
    weights = draw(hnp.arrays(np.float64, (m,), elements=st.one_of(
        st.just(0.0), st.floats(0.1, 10.0))))
    if not weights.sum() > 0:
        weights[draw(st.integers(0, m - 1))] = 1.0
    k = draw(st.integers(1, 6))
    init = draw(st.sampled_from(["kmeans++", "random"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return data, weights, k, init, seed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weighted_problems())
def test_property_labels_are_nearest_and_inertia_consistent(problem):
    data, weights, k, init, seed = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizeWarning)
        r = cluster(data, k, weights=weights, init=init, seed=seed, attempts=2)
    assert 1 <= r.centers.shape[0] <= k
    assert r.centers.shape[1] == data.shape[1]
    assert np.isfinite(r.centers).all()
    assert r.labels.shape == (data.shape[0],)
    assert ((r.labels >= 0) & (r.labels < r.centers.shape[0])).all()
    d = brute_sq_dist(data, r.centers)
    chosen = d[np.arange(len(data)), r.labels]
    nearest = d.min(axis=1)
    scale = 1e-9 * (1.0 + (data**2).sum(axis=1).max() + (r.centers**2).sum(axis=1).max())
    assert (chosen <= nearest + scale).all()
    # Where the nearest centre is unambiguous, the label is exactly argmin.
    order = np.sort(d, axis=1)
    clear = (order[:, 1] - order[:, 0] > scale) if d.shape[1] > 1 else np.ones(len(d), bool)
    np.testing.assert_array_equal(r.labels[clear], d.argmin(axis=1)[clear])
    assert np.isclose(r.inertia, float((weights * chosen).sum()), rtol=1e-7, atol=1e-6)

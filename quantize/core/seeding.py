"""Initial centres for the k-means core: k-means++ and weighted random rows (numpy only)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["INIT_METHODS", "greedy_seed"]


def _random_init(data, weights, k, rng):
    """Pick k distinct rows at random, each with probability ∝ its weight.

    Returns None when the data has fewer than k distinct positive-weight rows.
    """
    m = data.shape[0]
    positive = np.flatnonzero(weights > 0)
    # Weighted sampling without replacement (Efraimidis & Spirakis, 2006):
    # the rows with the largest u ** (1 / w), i.e. the largest log(u) / w.
    keys = np.log(rng.random(positive.size)) / weights[positive]
    order = positive[np.argsort(-keys, kind="stable")]
    candidates = order[: min(k, m)]
    rows = data[candidates]
    if np.unique(rows, axis=0).shape[0] == k:
        return rows.copy()
    # Duplicated rows among the first picks: keep first occurrences in
    # sampling order. Rare enough that a full sort is acceptable here.
    _, first = np.unique(data[order], axis=0, return_index=True)
    if first.size < k:
        return None
    return data[order[np.sort(first)[:k]]].copy()


def greedy_seed(rows, weights, k, rng, cost_to, *, rank_to=None, n_trials=None):
    """Greedy k-means++: the one seeding loop, under any cost.

    Each new centre is the best of ``n_trials`` (default ``2 + ln k``)
    candidate rows drawn with probability proportional to ``weight * cost``
    (Arthur & Vassilvitskii, 2007; the greedy variant scikit-learn also
    uses): the candidate that most lowers the weighted potential wins.

    Parameters
    ----------
    rows : ndarray of shape (M, N)
        The rows the centres are drawn from.
    weights : ndarray of shape (M,)
        Row weights; rows of weight 0 are never drawn.
    k : int
        Centres to draw.
    rng : numpy.random.Generator
    cost_to : callable
        ``cost_to(points)``: the (P, M) cost of every row against each
        point; a row equal to a point must cost exactly 0.
    rank_to : callable, optional
        A cheaper ``cost_to`` used only to rank the candidates.
    n_trials : int, optional
        Candidates per centre.

    Returns
    -------
    ndarray of shape (k, N), or None
        None when every weighted row already coincides with a chosen centre
        (fewer than k distinct rows).
    """
    m = rows.shape[0]
    if n_trials is None:
        n_trials = 2 + int(math.log(k)) if k > 1 else 1
    centers = np.empty((k, rows.shape[1]), dtype=np.float64)
    cumulative = np.cumsum(weights)
    first = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    centers[0] = rows[min(first, m - 1)]
    closest = cost_to(centers[:1])[0]
    for i in range(1, k):
        cumulative = np.cumsum(weights * closest)
        total = cumulative[-1]
        if not total > 0:
            return None
        picks = np.searchsorted(cumulative, rng.random(n_trials) * total, side="right")
        points = rows[np.minimum(picks, m - 1)]
        candidates = (cost_to if rank_to is None else rank_to)(points)
        np.minimum(candidates, closest, out=candidates)
        best = int(np.argmin(candidates @ weights))
        centers[i] = points[best]
        if rank_to is None:
            closest = candidates[best]
        else:
            np.minimum(closest, cost_to(points[best][None, :])[0], out=closest)
    return centers


def _kmeanspp_init(data, weights, k, rng):
    """Greedy k-means++ with weighted D² sampling (:func:`greedy_seed`).

    The candidates are ranked with one product, ``|p|² - 2p·x + |x|²`` (its
    rounding only blurs near-equal potentials); the distances kept are
    measured from differences, so a row equal to a centre is exactly 0.
    Returns None when the data has fewer than k distinct positive-weight rows.
    """
    m, n = data.shape
    rows_aug_t = np.empty((n + 1, m), dtype=np.float64)
    rows_aug_t[:n] = data.T
    rows_aug_t[n] = 1.0
    data_t = rows_aug_t[:n]  # the data transposed, each feature contiguous
    x_sq = np.einsum("ij,ij->i", data, data)

    def rank_to(points):
        points_aug = np.empty((points.shape[0], n + 1), dtype=np.float64)
        points_aug[:, :n] = -2.0 * points
        points_aug[:, n] = np.einsum("ij,ij->i", points, points)
        sq = points_aug @ rows_aug_t
        sq += x_sq
        return sq

    return greedy_seed(data, weights, k, rng, lambda points: _sq_dist_to(data_t, points),
                       rank_to=rank_to)


def _sq_dist_to(data_t, points):
    """Squared distances (P, M) from a few points to every row.

    ``data_t`` is the data transposed, (N, M) and contiguous. Measured from
    differences, not the |x|² - 2x·c + |c|² expansion, so a row equal to a
    point is at exactly 0 (the init relies on it to detect fewer distinct
    rows than k).
    """
    out = np.zeros((points.shape[0], data_t.shape[1]), dtype=np.float64)
    diff = np.empty_like(out)
    for j in range(data_t.shape[0]):
        np.subtract(data_t[j][None, :], points[:, j][:, None], out=diff)
        diff *= diff
        out += diff
    return out


INIT_METHODS = {"kmeans++": _kmeanspp_init, "k-means++": _kmeanspp_init, "random": _random_init}

"""Initial centres for the k-means core: k-means++ and weighted random rows (numpy only)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["INIT_METHODS"]


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


def _kmeanspp_init(data, weights, k, rng):
    """Greedy k-means++ with weighted D² sampling.

    Each new centre is the best of ``2 + ln k`` candidates drawn with
    probability proportional to ``weight * D²`` (Arthur & Vassilvitskii,
    2007; the greedy variant scikit-learn also uses): the candidate that most
    lowers the weighted potential wins. Returns None when the data has fewer
    than k distinct positive-weight rows.
    """
    m, n = data.shape
    n_trials = 2 + int(math.log(k)) if k > 1 else 1
    centers = np.empty((k, n), dtype=np.float64)
    cumulative = np.cumsum(weights)
    first = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    centers[0] = data[min(first, m - 1)]
    # The candidates are ranked with one product, |p|² - 2p·x + |x|² (its
    # rounding only blurs near-equal potentials); the distances kept are
    # measured from differences, so a row equal to a centre is exactly 0.
    rows_aug_t = np.empty((n + 1, m), dtype=np.float64)
    rows_aug_t[:n] = data.T
    rows_aug_t[n] = 1.0
    data_t = rows_aug_t[:n]  # the data transposed, each feature contiguous
    x_sq = np.einsum("ij,ij->i", data, data)
    cand_aug = np.empty((n_trials, n + 1), dtype=np.float64)
    closest_sq = _sq_dist_to(data_t, centers[0][None, :])[0]
    for i in range(1, k):
        cumulative = np.cumsum(weights * closest_sq)
        total = cumulative[-1]
        if not total > 0:
            # Every row with weight coincides with a chosen centre.
            return None
        picks = np.searchsorted(cumulative, rng.random(n_trials) * total, side="right")
        points = data[np.minimum(picks, m - 1)]
        cand_aug[:, :n] = -2.0 * points
        cand_aug[:, n] = np.einsum("ij,ij->i", points, points)
        cand_sq = cand_aug @ rows_aug_t
        cand_sq += x_sq
        np.minimum(cand_sq, closest_sq, out=cand_sq)
        best = int(np.argmin(cand_sq @ weights))
        centers[i] = points[best]
        np.minimum(closest_sq, _sq_dist_to(data_t, points[best][None, :])[0], out=closest_sq)
    return centers


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

"""Lloyd iterations of the k-means core: the plain loop over a distance kernel, and the
bounded one of the image fit (numpy only). See docs/design.md, "The fit"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .search import _few_nearest, _pairwise_sq

__all__ = ["KMeansResult", "LloydResult", "LloydState", "cluster_sums", "lloyd", "run_plain",
           "relocate_empty"]


@dataclass(frozen=True)
class KMeansResult:
    """The outcome of :func:`cluster`.

    Attributes
    ----------
    centers : ndarray of shape (k, N), float64
        The centroids. ``k`` is smaller than asked only when the data has
        fewer distinct (positive-weight) rows than that.
    labels : ndarray of shape (M,), intp
        Index of the nearest centre of each row, computed after the last
        centre update, so labels and centres agree.
    inertia : float
        Sum over rows of ``weight * squared distance`` to the row's centre.
    n_iter : int
        Lloyd iterations run by the best attempt.
    converged : bool
        True when the best attempt stopped because no centre moved more than
        ``eps``, rather than by running out of iterations.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool


def cluster_sums(data, weights, labels, k, weighted_t=None):
    """Weighted means of the rows of each cluster; returns (sums, counts).

    ``weighted_t`` may hold ``(data * weights[:, None]).T`` (contiguous), for
    callers that update many times over the same rows.
    """
    n = data.shape[1]
    counts = np.bincount(labels, weights=weights, minlength=k)
    sums = np.empty((k, n), dtype=np.float64)
    for j in range(n):
        column = weights * data[:, j] if weighted_t is None else weighted_t[j]
        sums[:, j] = np.bincount(labels, weights=column, minlength=k)
    return sums, counts


#: Largest (N, M) float64 table of weighted columns kept for the updates (16 MiB:
#: 700,000 RGB colours); a larger one is recomputed column by column, which
#: keeps the peak memory of a 12 MP image where it was.
_WEIGHTED_MAX_BYTES = 1 << 24


def _weighted_columns(data, weights):
    """``(data * weights[:, None]).T`` for :func:`cluster_sums`, or None when too large to keep."""
    m, n = data.shape
    if 8 * m * n > _WEIGHTED_MAX_BYTES:
        return None
    weighted_t = np.empty((n, m), dtype=np.float64)
    for j in range(n):
        np.multiply(data[:, j], weights, out=weighted_t[j])
    return weighted_t


def run_plain(kernel, weights, centers, max_iter, eps, callback=None, *, labels_after=True):
    """Plain Lloyd iterations from given centres, under any distance kernel; validated input.

    The one plain loop of the core: :func:`quantize.core.kmeans.cluster` runs
    it for every metric, and the image layer for colours kept in groups. The
    kernel holds the rows and gives the three steps of an iteration:

    ``kernel.assign(centers, labels, cost)``
        each row's nearest centre and its cost (its term of the objective);
    ``kernel.update(weights, labels, k)``
        the new centres and cluster weights (a weight of 0 marks an empty
        cluster);
    ``kernel.fill_empty(new_centers, empty, cost, centers)``
        where the empty clusters go (see :func:`relocate_empty`).

    Stops once no centre moved more than ``eps`` (Euclidean, data units;
    OpenCV's rule) or after ``max_iter`` updates.

    Returns
    -------
    tuple
        ``(centers, labels, cost, n_iter, converged)``; labels and costs are
        recomputed from the final centres, unless ``labels_after`` is False
        (then both are None).
    """
    m = weights.shape[0]
    k = centers.shape[0]
    centers = np.array(centers, dtype=np.float64, copy=True)
    labels = np.empty(m, dtype=np.intp)
    cost = np.empty(m, dtype=np.float64)
    converged = False
    n_iter = 0
    eps_sq = eps * eps
    for n_iter in range(1, max_iter + 1):
        kernel.assign(centers, labels, cost)
        new_centers, counts = kernel.update(weights, labels, k)
        empty = np.flatnonzero(~(counts > 0))
        if empty.size:
            kernel.fill_empty(new_centers, empty, cost, centers)
        diff = new_centers - centers
        shift_sq = float(np.max(np.einsum("ij,ij->i", diff, diff)))
        centers = new_centers
        if callback is not None:
            callback(n_iter, math.sqrt(shift_sq))
        if shift_sq <= eps_sq:
            converged = True
            break
    if not labels_after:
        return centers, None, None, n_iter, converged
    kernel.assign(centers, labels, cost)
    return centers, labels, cost, n_iter, converged


def relocate_empty(rows, weights, cost, centers, empty_idx):
    """Move empty clusters onto the rows of highest cost, in place.

    Deterministic: the costliest row first, ties to the lowest row index.
    Rows of zero weight are never chosen. With more empty clusters than
    usable rows, the surplus ones take the costliest row too (never NaN).

    Parameters
    ----------
    rows : ndarray of shape (M, N)
        The rows the centres may move onto.
    weights : ndarray of shape (M,)
        Row weights; rows of weight 0 are never chosen.
    cost : ndarray of shape (M,)
        Each row's cost against its centre before the update.
    centers : ndarray of shape (k, N)
        The updated centres; rows ``empty_idx`` are overwritten.
    empty_idx : ndarray of int
        The empty clusters, in the order they are filled.
    """
    score = np.where(weights > 0, cost, -1.0)
    n_empty = empty_idx.size
    usable = int(np.count_nonzero(score >= 0))
    if 0 < n_empty < usable:
        far = np.argpartition(-score, n_empty - 1)[:n_empty]
        # argpartition is not stable; sort the picks by (-cost, index).
        cutoff = score[far].min()
        picks = np.flatnonzero(score >= cutoff)
        far = picks[np.lexsort((picks, -score[picks]))][:n_empty]
    else:
        far = np.lexsort((np.arange(score.size), -score))[:min(n_empty, usable)]
    for i, row in zip(empty_idx, far):
        centers[i] = rows[row]
    for i in empty_idx[far.size:]:
        centers[i] = rows[far[0]] if far.size else 0.0


#: Rows settled at once: bounds the temporary arrays of a large first pass.
_SETTLE_ROWS = 1 << 18


@dataclass
class LloydState:
    """Where every row stood after a :func:`lloyd` run, to start another run.

    Bounds are distances in data units, valid for the run's final centres.

    Attributes
    ----------
    candidates : ndarray of shape (c, M), int16 or int32
        Each row's nearest few centres at its last full search (a column);
        the first is the row's centre.
    upper : ndarray of shape (M,)
        At least the distance from the row to its centre.
    lower : ndarray of shape (M,)
        At most the distance from the row to any other centre.
    rest : ndarray of shape (M,)
        At most the distance from the row to any centre not in ``candidates``.
    """

    candidates: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    rest: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """Each row's centre."""
        return self.candidates[0]

    def spread(self, index, radius) -> "LloydState":
        """The state of finer rows, each within ``radius`` of row ``index`` here.

        By the triangle inequality a point within ``r`` of a row is at most
        ``r`` farther from, and at most ``r`` nearer to, every centre.
        """
        return LloydState(self.candidates[:, index], self.upper[index] + radius,
                          self.lower[index] - radius, self.rest[index] - radius)


@dataclass(frozen=True)
class LloydResult:
    """The outcome of :func:`lloyd`.

    Attributes
    ----------
    centers : ndarray of shape (k, N), float64
        The centres after the last update.
    n_iter : int
        Lloyd iterations run (centre updates).
    converged : bool
        True when the last update moved no centre more than ``eps``.
    state : LloydState
        The rows' centres and bounds against ``centers``.
    """

    centers: np.ndarray
    n_iter: int
    converged: bool
    state: LloydState


def lloyd(data, weights, centers, max_iter: int, eps: float, callback=None, *,
          state: Optional[LloydState] = None) -> LloydResult:
    """Weighted Lloyd iterations from given centres, until no centre moves more than ``eps``.

    The iterations of :func:`cluster`, made cheap near convergence with
    bounds in the manner of Hamerly (2010): each row keeps an upper bound on
    the distance to its centre, a lower bound on the distance to any other
    centre and one on the distance to any centre outside its few nearest at
    its last search. Each update loosens them by how far the centres moved,
    counting only the centres near enough to matter (see
    :func:`_local_moves`). A row whose bounds overlap is settled among its
    remembered centres by exact distances, and searched in full only when
    one outside them might be nearer. The centre sums are updated by the
    rows that changed cluster. The search is float32 (its bounds widened by
    its rounding error), the centres float64.

    Parameters
    ----------
    data : ndarray of shape (M, N)
        Rows of any real dtype (validated by the caller: finite); kept
        as float32 relative to their mean.
    weights : ndarray of shape (M,), float64
        Non-negative row weights, not all zero.
    centers : ndarray of shape (k, N)
        Starting centres.
    max_iter : int
        At most this many centre updates.
    eps : float
        Stop once no centre moves more than this (OpenCV's rule).
    callback : callable, optional
        ``callback(iteration, max_shift)`` after every update.
    state : LloydState, optional
        Labels and bounds of the rows against ``centers`` (e.g. spread from
        a run on coarser points); without it every row is searched first.
        Its arrays are updated in place and become the result's state.

    Returns
    -------
    LloydResult
    """
    m, n = data.shape
    k = centers.shape[0]
    # Centred data keeps the float32 expansion's rounding small. The rows
    # are kept as columns (gathers of one coordinate are the cheap ones).
    origin = data.mean(axis=0)
    centers = np.asarray(centers, dtype=np.float64) - origin
    # The float32 rows [x, 1, |x|²] of the search; their first n are also
    # the coordinates the exact distances and the sums use.
    points_aug_t = np.empty((n + 2, m), dtype=np.float32)
    points_aug_t[n] = 1.0
    points_aug_t[n + 1] = 0.0
    for j in range(n):
        np.subtract(data[:, j], origin[j], out=points_aug_t[j], casting="same_kind")
        points_aug_t[n + 1] += points_aug_t[j] * points_aug_t[j]
    points_t = points_aug_t[:n]
    # Bound on the search's absolute error in squared distance.
    scale = float(points_aug_t[n + 1].max()) + float(np.einsum("ij,ij->i", centers, centers).max())
    slack = 64 * np.finfo(np.float32).eps * (scale + 1.0)
    # The packed search rounds distances down by up to this factor.
    unpack = 1.0 + 2.0 ** (max(1, (k - 1).bit_length()) - 22)

    def search(rows=None):
        """Full search of ``rows`` (all when None): their new state."""
        found, first_sq, second_sq, rest_sq = _few_nearest(
            points_aug_t if rows is None else points_aug_t[:, rows], centers)
        upper_sq = first_sq.astype(np.float64)
        upper_sq *= unpack
        upper_sq += slack
        return (found, np.sqrt(upper_sq, out=upper_sq), _widen_down(second_sq, slack),
                _widen_down(rest_sq, slack))

    def settle(rows):
        """Relabel ``rows``, whose bounds overlap, and renew their bounds."""
        for lo in range(0, rows.size, _SETTLE_ROWS):
            settle_block(rows[lo:lo + _SETTLE_ROWS])

    def settle_block(rows):
        # Exact distances to the remembered centres, one column at a time
        # (gathers of whole rows cost several times more).
        near = candidates[:, rows]
        point_columns = [column[rows] for column in points_t]
        dist = np.zeros((near.shape[0], rows.size))
        for j in range(near.shape[0]):
            for column, centre_column in zip(point_columns, centers.T):
                diff = column - centre_column[near[j]]
                diff *= diff
                dist[j] += diff
        np.sqrt(dist, out=dist)
        # The nearest goes first: the first candidate is the row's centre.
        nearest = dist.argmin(axis=0)
        swap = np.flatnonzero(nearest)
        if swap.size:
            other = nearest[swap]
            near[0, swap], near[other, swap] = near[other, swap], near[0, swap]
            dist[0, swap], dist[other, swap] = dist[other, swap], dist[0, swap]
        candidates[:, rows] = near
        upper[rows] = dist[0]
        # With fewer centres than candidate slots the spare slots repeat the
        # row's own centre: they are no other centre.
        others = np.where(near[1:] == near[0], np.inf, dist[1:])
        nearest_other = others.min(axis=0) if dist.shape[0] > 1 else np.inf
        lower[rows] = np.minimum(nearest_other, rest[rows])
        # A centre outside the remembered ones may be nearer: search those.
        far = rows[dist[0] > rest[rows]]
        if far.size:
            candidates[:, far], upper[far], lower[far], rest[far] = search(far)

    def centre_distances():
        """Distances between every pair of centres (the diagonal 0)."""
        return np.sqrt(np.maximum(_pairwise_sq(centers), 0.0))

    def overlapping():
        if k == 1:
            return np.empty(0, dtype=np.intp)
        gaps = between.copy()
        np.fill_diagonal(gaps, np.inf)
        half_gap = 0.5 * gaps.min(axis=1)
        return np.flatnonzero(upper > np.maximum(lower, half_gap[candidates[0]]))

    # Kept for the current centres: the bounds' test after an update and
    # the next update's local moves both need them.
    between = centre_distances()
    if state is None:
        candidates, upper, lower, rest = search()
    else:
        candidates, upper, lower, rest = state.candidates, state.upper, state.lower, state.rest
        rows = overlapping()
        if rows.size:
            settle(rows)
    labels = candidates[0].astype(np.intp)
    counts = np.bincount(labels, weights=weights, minlength=k)
    sums = np.empty((k, n))
    for j in range(n):
        sums[:, j] = np.bincount(labels, weights=weights * points_t[j], minlength=k)
    # Counts updated by differences can keep a rounding residue instead of
    # 0 (never with integer weights); a cluster holding any row holds at
    # least the smallest positive weight.
    positive = weights[weights > 0]
    empty_below = 0.5 * float(positive.min()) if positive.size else 0.0
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new_centers = centers.copy()
        full = counts > empty_below
        new_centers[full] = sums[full] / counts[full, None]
        if not full.all():
            # An empty cluster moves onto the rows farthest from their centres.
            relocate_empty(points_t.T, weights, upper * upper, new_centers, np.flatnonzero(~full))
        move = np.sqrt(np.einsum("ij,ij->i", new_centers - centers, new_centers - centers))
        max_move = float(move.max())
        shrink = _local_moves(between, move, labels, upper, rest)[labels]
        lower -= shrink
        rest -= shrink
        upper += move[labels]
        centers = new_centers
        if callback is not None:
            callback(n_iter, max_move)
        if max_move <= eps:
            converged = True
            break
        if n_iter == max_iter:
            break
        between = centre_distances()
        rows = overlapping()
        if rows.size == 0:
            continue
        settle(rows)
        old_labels = labels[rows]
        new_labels = candidates[0, rows].astype(np.intp)
        moved = new_labels != old_labels
        if moved.any():
            changed = rows[moved]
            gone, come = old_labels[moved], new_labels[moved]
            w = weights[changed]
            counts -= np.bincount(gone, weights=w, minlength=k)
            counts += np.bincount(come, weights=w, minlength=k)
            for j in range(n):
                column = w * points_t[j, changed]
                sums[:, j] -= np.bincount(gone, weights=column, minlength=k)
                sums[:, j] += np.bincount(come, weights=column, minlength=k)
            labels[changed] = come
    return LloydResult(centers + origin, n_iter, converged,
                       LloydState(candidates, upper, lower, rest))


def _widen_down(sq, slack):
    """Distances from float32 squared distances, lowered by the search's error."""
    out = sq.astype(np.float64)
    out -= slack
    np.maximum(out, 0.0, out=out)
    return np.sqrt(out, out=out)


def _local_moves(between, move, labels, upper, rest):
    """For each centre a: how far the centres that matter to a's rows moved at most.

    For a row x of centre a, every other centre was at least ``lower`` (or,
    outside its candidates, ``rest``) away; after the update it is at least
    that minus its own move. A centre farther than R_a = max(rest + upper)
    over a's rows, plus the largest move, from a cannot come within ``rest``
    of any of them (triangle inequality), so only the moves of the centres
    within R_a of a count. Far-off centres (outliers' codes) often move the
    most; they no longer loosen every row's bounds. ``between`` holds the
    distances between the centres before the move.
    """
    k = between.shape[0]
    reach = np.zeros(k)
    np.maximum.at(reach, labels, rest + upper)
    reach += move.max()
    near = between <= reach[:, None]
    return np.where(near, move[None, :], 0.0).max(axis=1)

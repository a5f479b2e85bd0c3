"""The k-means core: initialisation, Lloyd steps, stopping, attempts.

numpy only. Works on any (M, N) float array with optional per-row weights, so
that k-means on an image's unique colours weighted by their counts is exactly
k-means on all of its pixels.

Three layers, as in scikit-learn: :func:`cluster` checks its arguments once,
:func:`_run_once` runs one attempt on validated input, and :func:`_assign` /
:func:`_update` are the iteration kernel.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from .errors import QuantizeWarning

__all__ = ["KMeansResult", "LloydResult", "LloydState", "cluster", "assign", "lloyd", "INIT_METHODS"]

#: Distance-matrix entries computed at once; bounds memory at
#: ``8 * _CHUNK_ELEMS`` bytes whatever M and k are. 2**16 keeps a float32
#: block (256 KiB) in cache between the product and the argmin: measured
#: 1.5-1.7x faster than 2**18 for 97,000 rows and 256 centres.
_CHUNK_ELEMS = 1 << 16

SeedLike = Union[None, int, np.random.Generator]


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


#: Up to this many centres the search packs each distance and its centre's
#: index into one int32 and takes a plain minimum: numpy's argmin along short
#: rows is several times slower than a min-reduction down columns.
_PACKED_MAX_K = 64
#: Distance-matrix entries per block of the packed search (256 KiB of
#: float32: the block stays in cache between the passes over it).
_PACKED_BLOCK = 1 << 16


def _augment(data, dtype):
    """Rows ``[x, 1, |x|²]``: times ``[-2c; |c|²; 1]`` they give ``|x - c|²``.

    One matrix product then gives every squared distance, with no further
    passes over the (chunk, k) block before the minimum.
    """
    m, n = data.shape
    out = np.empty((m, n + 2), dtype=dtype)
    out[:, :n] = data
    out[:, n] = 1.0
    out[:, n + 1] = np.einsum("ij,ij->i", out[:, :n], out[:, :n])
    return out


#: Searches with at least this many row-centre pairs are split across
#: threads (numpy releases the GIL in matmul and the reductions).
_PARALLEL_MIN_PAIRS = 1 << 21
_pool = None


def _forget_pool() -> None:
    # A forked child inherits the pool object but not its threads: using it
    # would hang, so the child starts its own when it needs one.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _n_threads() -> int:
    """Threads for the nearest-centre search: $QUANTIZE_THREADS, else the CPUs (at most 8)."""
    env = os.environ.get("QUANTIZE_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(os.cpu_count() or 1, 8))


def _nearest(data_aug, centers, labels, buf, sq_dist=None):
    """Index of the nearest centre of every row, in chunks, into ``labels``.

    ``data_aug`` comes from :func:`_augment`; ``buf`` is preallocated scratch
    whose dtype is the precision of the search. Memory never grows as M × k.
    Ties go to the lowest centre index. Large searches are split into
    contiguous row ranges, one per thread; each row's answer is computed the
    same way whatever the split, so results do not depend on the threads.
    ``sq_dist``, if given (shape (M,), the dtype of ``buf``), receives each
    row's squared distance to its centre as the search computed it.
    """
    global _pool
    m = data_aug.shape[0]
    k = centers.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    centers_aug = np.empty((data_aug.shape[1], k), dtype=buf.dtype)
    centers_aug[:-2] = -2.0 * centers.T
    centers_aug[-2] = np.einsum("ij,ij->i", centers, centers)
    centers_aug[-1] = 1.0
    threads = _n_threads() if m * k >= _PARALLEL_MIN_PAIRS else 1
    if threads == 1:
        _nearest_rows(data_aug, centers_aug, labels, buf, sq_dist)
        return
    if _pool is None or _pool._max_workers < threads:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quantize")
    edges = np.linspace(0, m, threads + 1).astype(np.intp)
    jobs = [
        _pool.submit(_nearest_rows, data_aug[lo:hi], centers_aug, labels[lo:hi],
                     buf if i == 0 else np.empty_like(buf),
                     None if sq_dist is None else sq_dist[lo:hi])
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    for job in jobs:
        job.result()


def _nearest_rows(data_aug, centers_aug, labels, buf, sq_dist=None):
    """The search of :func:`_nearest` over one block of rows."""
    m = data_aug.shape[0]
    k = centers_aug.shape[1]
    if k <= _PACKED_MAX_K and buf.dtype == np.float32:
        _nearest_packed(data_aug, np.ascontiguousarray(centers_aug.T), labels, buf, sq_dist)
        return
    chunk = buf.shape[0]
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        d = buf[: stop - start]
        np.matmul(data_aug[start:stop], centers_aug, out=d)
        lab = labels[start:stop]
        np.argmin(d, axis=1, out=lab)
        if sq_dist is not None:
            sq_dist[start:stop] = np.take_along_axis(d, lab[:, None], axis=1)[:, 0]


@functools.lru_cache(maxsize=8)
def _index_block(k, width):
    """A read-only (k, width) int32 block whose row j holds j."""
    block = np.repeat(np.arange(k, dtype=np.int32)[:, None], width, axis=1)
    block.flags.writeable = False
    return block


def _nearest_packed(data_aug, centers_aug_t, labels, buf, sq_dist=None):
    """Nearest centre by packing (distance, index) into int32 keys.

    The float32 squared distances are laid out centre-major; as int32 their
    bit patterns order like the values when these are non-negative, so
    clearing the low ``bits`` and writing the centre index there makes one
    min-reduction give the nearest centre, ties to the lowest index. An
    integer distance below ``2**(24 - bits)`` has those bits clear already,
    so integer data (uint8 colours) is ranked exactly; rows whose nearest
    distance is larger are searched again by argmin. Other values lose up to
    ``2**(bits - 23)`` of their size (2**-17 at 64 centres), so two centres
    that close may be taken for each other. Float data can round to small
    negative distances (a row almost on a centre): those still rank below
    every positive one, in reverse order among themselves.
    """
    m = data_aug.shape[0]
    k = centers_aug_t.shape[0]
    bits = max(1, (k - 1).bit_length())
    low = (1 << bits) - 1
    exact_below = 1 << (24 - bits)  # as a float32 bit pattern, after >> bits
    limit = np.float32(exact_below).view(np.int32) >> bits
    chunk = max(1, min(buf.size, _PACKED_BLOCK) // k)
    index = _index_block(k, min(chunk, m))
    flat = buf.reshape(-1)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        n = stop - start
        d = flat[: k * n].reshape(k, n)
        np.matmul(centers_aug_t, data_aug[start:stop].T, out=d)
        keys = d.view(np.int32)
        np.bitwise_and(keys, ~low, out=keys)
        np.bitwise_or(keys, index[:, :n], out=keys)
        best = keys.min(axis=0)
        lab = labels[start:stop]
        np.bitwise_and(best, low, out=lab, casting="unsafe")
        far = np.flatnonzero((best >> bits) >= limit)
        if far.size:
            # Distances too large to pack without loss: rank these rows by
            # argmin on freshly computed values.
            rows = data_aug[start:stop][far] @ centers_aug_t.T
            lab[far] = np.argmin(rows, axis=1)
        if sq_dist is not None:
            # The key without its index bits is the distance (exact for
            # integers below the packing limit).
            np.left_shift(best >> bits, bits, out=best)
            dist = sq_dist[start:stop]
            dist[:] = best.view(np.float32)
            if far.size:
                dist[far] = np.take_along_axis(rows, lab[far][:, None], axis=1)[:, 0]


def _sq_dist_rows(data, centers, labels):
    """Squared distance of every row to its own centre (float64, exact-ish)."""
    diff = data - centers[labels]
    return np.einsum("ij,ij->i", diff, diff)


def _new_buffer(m, k, dtype):
    return np.empty((max(1, min(m, _CHUNK_ELEMS // max(k, 1))), k), dtype=dtype)


def _assign(data, centers, x_sq, labels, min_sq, buf):
    """Nearest centre and squared distance of every row (labels, min_sq out).

    Kept for callers that want both; ``x_sq`` is unused (the distance is
    measured directly).
    """
    _nearest(_augment(data, buf.dtype), centers, labels, buf)
    min_sq[:] = _sq_dist_rows(np.asarray(data, dtype=np.float64), np.asarray(centers, dtype=np.float64), labels)


def _update(data, weights, labels, k, weighted_t=None):
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
    """``(data * weights[:, None]).T`` for :func:`_update`, or None when too large to keep."""
    m, n = data.shape
    if 8 * m * n > _WEIGHTED_MAX_BYTES:
        return None
    weighted_t = np.empty((n, m), dtype=np.float64)
    for j in range(n):
        np.multiply(data[:, j], weights, out=weighted_t[j])
    return weighted_t


def _run_once(data, weights, centers, max_iter, eps, callback, dist_dtype=np.float64,
              want_sq=True):
    """One Lloyd run from given centres. Assumes validated input.

    Centres and their updates are always float64; ``dist_dtype`` is the
    precision of the nearest-centre search only.

    Returns (centers, labels, min_sq, n_iter, converged).
    """
    m = data.shape[0]
    k = centers.shape[0]
    centers = centers.astype(np.float64, copy=True)
    labels = np.empty(m, dtype=np.intp)
    buf = _new_buffer(m, k, dist_dtype)
    data_aug = _augment(data, dist_dtype)
    weighted_t = _weighted_columns(data, weights) if max_iter > 1 else None
    converged = False
    n_iter = 0
    eps_sq = eps * eps
    for n_iter in range(1, max_iter + 1):
        _nearest(data_aug, centers, labels, buf)
        sums, counts = _update(data, weights, labels, k, weighted_t)
        empty = counts <= 0
        new_centers = np.empty_like(centers)
        full = ~empty
        new_centers[full] = sums[full] / counts[full, None]
        if empty.any():
            min_sq = _sq_dist_rows(data, centers, labels)
            _relocate_empty(data, weights, min_sq, new_centers, np.flatnonzero(empty))
        shift_sq = float(np.max(np.einsum("ij,ij->i", new_centers - centers, new_centers - centers)))
        centers = new_centers
        if callback is not None:
            callback(n_iter, math.sqrt(shift_sq))
        if shift_sq <= eps_sq:
            converged = True
            break
    if not want_sq:
        # The caller only wants the centres (the pipeline relabels later).
        return centers, None, None, n_iter, converged
    # Labels from the final centres, so that labels and centres agree.
    _nearest(data_aug, centers, labels, buf)
    return centers, labels, _sq_dist_rows(data, centers, labels), n_iter, converged


def _relocate_empty(data, weights, min_sq, centers, empty_idx):
    """Move empty clusters onto the rows farthest from their centres.

    Deterministic: farthest first, ties to the lowest row index. Rows of zero
    weight are never chosen.
    """
    score = np.where(weights > 0, min_sq, -1.0)
    n_empty = empty_idx.size
    if n_empty < score.size:
        far = np.argpartition(-score, n_empty - 1)[:n_empty]
        # argpartition is not stable; sort the picks by (-distance, index).
        cutoff = score[far].min()
        candidates = np.flatnonzero(score >= cutoff)
        far = candidates[np.lexsort((candidates, -score[candidates]))][:n_empty]
    else:
        far = np.lexsort((np.arange(score.size), -score))[:n_empty]
    for i, row in zip(empty_idx, far):
        centers[i] = data[row]
    # More empty clusters than rows: reuse the farthest row (no NaN).
    for i in empty_idx[far.size :]:
        centers[i] = data[far[0]] if far.size else 0.0


def _check_data_centers(data, centers):
    """Both as contiguous float64, checked to be (M, N) and (k >= 1, N)."""
    data = np.ascontiguousarray(data, dtype=np.float64)
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    if data.ndim != 2 or centers.ndim != 2 or data.shape[1] != centers.shape[1]:
        raise ValueError(
            f"data (M, N) and centers (k, N) must agree in N, got {data.shape} and {centers.shape}"
        )
    if centers.shape[0] == 0:
        raise ValueError("centers must have at least one row, got 0")
    return data, centers


def assign(data, centers):
    """Nearest centre of every row and its squared distance.

    Parameters
    ----------
    data : array_like of shape (M, N)
        Observations.
    centers : array_like of shape (k, N)
        Centres to measure against.

    Returns
    -------
    labels : ndarray of shape (M,), intp
        Index of the nearest centre; ties go to the lowest index.
    sq_dist : ndarray of shape (M,), float64
        Squared Euclidean distance to that centre.

    Examples
    --------
    >>> assign([[0.0], [9.0]], [[1.0], [10.0]])[0]
    array([0, 1])
    """
    data, centers = _check_data_centers(data, centers)
    labels = np.empty(data.shape[0], dtype=np.intp)
    _nearest(_augment(data, np.float64), centers, labels,
             _new_buffer(data.shape[0], centers.shape[0], np.float64))
    return labels, _sq_dist_rows(data, centers, labels)


INIT_METHODS = {"kmeans++": _kmeanspp_init, "k-means++": _kmeanspp_init, "random": _random_init}


def cluster(
    data,
    k: int,
    *,
    weights=None,
    init="kmeans++",
    max_iter: int = 100,
    eps: float = 1e-4,
    attempts: int = 1,
    seed: SeedLike = 0,
    callback: Optional[Callable[[int, float], None]] = None,
    metric: str = "euclidean",
) -> KMeansResult:
    """Weighted k-means by Lloyd iterations, best of several attempts.

    Parameters
    ----------
    data : array_like of shape (M, N)
        Observations, one per row. Converted to float64.
    k : int
        Number of clusters, at least 1.
    weights : array_like of shape (M,), optional
        Non-negative weight of each row (default 1). A row of weight w counts
        exactly as w repeated rows.
    init : {'kmeans++', 'random'} or array_like of shape (k, N)
        'kmeans++' samples centres by weighted D² sampling; 'random' picks k
        distinct rows, each with probability proportional to its weight; an
        array gives the initial centres (then only one attempt runs).
    max_iter : int
        At most this many Lloyd iterations per attempt (at least 1).
    eps : float
        Stop an attempt early once no centre moved more than ``eps``
        (Euclidean distance, in data units) in one iteration, as OpenCV's
        ``TERM_CRITERIA_EPS``.
    attempts : int
        Independent runs; the one with the lowest inertia is kept (the first
        on ties).
    seed : None, int or numpy.random.Generator
        Source of all randomness. The same seed gives the same result.
    callback : callable, optional
        Called as ``callback(iteration, max_shift)`` after every iteration.
    metric : {'euclidean', 'manhattan', 'cosine'}
        The distance (see :mod:`quantize.metrics`). 'euclidean' is k-means.
        'manhattan' is k-medians: L1 distance, centres are per-dimension
        weighted medians. 'cosine' is spherical k-means: rows are compared
        by direction only, centres point along the normalised mean of their
        unit rows (and have the rows' mean length). ``inertia`` is then the
        weighted sum of L1 or cosine (``1 - cos``) distances. Unknown names
        raise ValueError.

    Returns
    -------
    KMeansResult
        Centres, labels, inertia, iterations and whether it converged.

    Raises
    ------
    ValueError
        On an empty or non-finite array, k out of range, bad weights or an
        unknown init.

    Warns
    -----
    QuantizeWarning
        When the data has fewer distinct rows than k; the distinct rows are
        then returned as the centres.

    Examples
    --------
    >>> r = cluster([[0.0], [1.0], [10.0], [11.0]], 2, seed=0)
    >>> sorted(r.centers[:, 0].tolist()), r.inertia
    ([0.5, 10.5], 1.0)
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"data must be a 2-D array (M, N), got shape {data.shape}")
    m, n = data.shape
    if m == 0 or n == 0:
        raise ValueError(f"data must have at least one row and column, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError("data must be finite (no NaN or inf)")
    data = np.ascontiguousarray(data)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer, got {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    init_fn, given, attempts = _check_run_options(k, n, init, max_iter, eps, attempts)
    if weights is None:
        weights = np.ones(m, dtype=np.float64)
    else:
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if weights.shape != (m,):
            raise ValueError(f"weights must have shape ({m},), got {weights.shape}")
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            raise ValueError(f"weights must be finite and non-negative, got {weights[bad][0]!r} "
                             f"at row {int(np.flatnonzero(bad)[0])}")
        if not weights.sum() > 0:
            raise ValueError("weights must not be all zero")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if metric != "euclidean":
        from . import metrics as _metrics

        _metrics.check_metric(metric)
        return _metrics._cluster(data, weights, k, init if given is None else given,
                                 int(max_iter), float(eps), int(attempts), rng, callback, metric)
    return _cluster(data, weights, k, init_fn if given is None else given, int(max_iter),
                    float(eps), int(attempts), rng, callback)


def _check_run_options(k, n, init, max_iter, eps, attempts):
    """Check the run options of :func:`cluster` for k centres of n features.

    Returns (init_fn, given, attempts): the init function for a method name
    (``given`` None), or the given centres as a float64 (k, n) array (then
    ``init_fn`` is None and ``attempts`` 1). Raises ValueError.
    """
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be finite and >= 0, got {eps!r}")
    if isinstance(attempts, bool) or int(attempts) != attempts or attempts < 1:
        raise ValueError(f"attempts must be a positive integer, got {attempts!r}")
    if isinstance(init, str):
        if init not in INIT_METHODS:
            raise ValueError(f"init must be one of {sorted(set(INIT_METHODS))} or an array, got {init!r}")
        return INIT_METHODS[init], None, attempts
    given = np.array(init, dtype=np.float64)
    if given.shape != (k, n):
        raise ValueError(f"init array must have shape ({k}, {n}), got {given.shape}")
    if not np.isfinite(given).all():
        raise ValueError("init array must be finite")
    return None, given, 1


def _cluster(data, weights, k, init, max_iter, eps, attempts, rng, callback,
             dist_dtype=np.float64):
    """Best-of-attempts loop. Assumes validated input."""
    best = None
    for _ in range(attempts):
        if callable(init):
            centers = init(data, weights, k, rng)
            if centers is None:
                return _distinct_rows_result(data, weights, k)
        else:
            centers = init
        centers, labels, min_sq, n_iter, converged = _run_once(
            data, weights, centers, max_iter, eps, callback, dist_dtype
        )
        inertia = float(np.dot(weights, min_sq))
        if best is None or inertia < best.inertia:
            best = KMeansResult(centers, labels, inertia, n_iter, converged)
    return best


def _distinct_rows_result(data, weights, k):
    """The result when there are fewer distinct rows than k: those rows."""
    distinct = np.unique(data[weights > 0], axis=0)
    warnings.warn(
        f"data has {distinct.shape[0]} distinct rows, fewer than k={k}; "
        "returning the distinct rows as centres",
        QuantizeWarning,
        stacklevel=3,
    )
    labels, min_sq = assign(data, distinct)
    return KMeansResult(distinct, labels, float(np.dot(weights, min_sq)), 0, True)



#: Entries per block of the few-nearest search: (k, rows) float32 blocks of
#: 256 KiB stay in cache between the product and the reductions.
_FEW_BLOCK = 1 << 16
#: Rows settled at once: bounds the temporary arrays of a large first pass.
_SETTLE_ROWS = 1 << 18
#: Centres each row remembers from its last full search (its nearest few):
#: a row whose bounds fail is first settled among them, and searched in
#: full only when a centre outside them might be nearer.
_CANDIDATES = 4


def _few_nearest_rows(data_aug_t, centers_aug_t, candidates, first_sq, second_sq, rest_sq, buf):
    """:func:`_few_nearest` over one block of rows."""
    m = data_aug_t.shape[1]
    k = centers_aug_t.shape[0]
    t = candidates.shape[0]
    bits = max(1, (k - 1).bit_length())
    low = np.int32((1 << bits) - 1)
    chunk = max(1, min(buf.size, _FEW_BLOCK) // k)
    index = _index_block(k, min(chunk, m))
    flat = buf.reshape(-1)
    top = np.iinfo(np.int32).max
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        n = stop - start
        d = flat[: k * n].reshape(k, n)
        np.matmul(centers_aug_t, data_aug_t[:, start:stop], out=d)
        # Rounding can give tiny negative distances: as int32 they still
        # rank below every positive one (in reverse among themselves).
        keys = d.view(np.int32)
        np.bitwise_and(keys, ~low, out=keys)
        np.bitwise_or(keys, index[:, :n], out=keys)
        columns = np.arange(n)
        for j in range(min(t + 1, k)):
            best = keys.min(axis=0)
            value = (best & ~low).view(np.float32)
            if j == 0:
                first_sq[start:stop] = value
            elif j == 1:
                second_sq[start:stop] = value
            if j == t:
                rest_sq[start:stop] = value
                break
            label = best & low
            candidates[j, start:stop] = label
            keys[label, columns] = top
        # Fewer centres than candidates: the missing ones repeat the nearest.
        for j in range(k, t):
            candidates[j, start:stop] = candidates[0, start:stop]
    if k < 2:
        second_sq[:] = np.inf
    if k <= t:
        rest_sq[:] = np.inf


def _few_nearest(data_aug_t, centers, t=_CANDIDATES):
    """The ``t`` nearest centres of every row, by a float32 search.

    ``data_aug_t`` holds the float32 rows ``[x, 1, |x|²]`` as columns,
    (N + 2, M) and C-contiguous, so that each block's product is one BLAS
    call. Each distance is packed with its centre's index into an int32
    (see :func:`_nearest_packed`), which rounds it down by up to
    2**(b - 23) of its size for ``b`` index bits.

    Returns
    -------
    candidates : ndarray of shape (t, M), int16 (int32 beyond 32767 centres)
        The nearest centres of each row (a column), nearest first.
    first_sq, second_sq, rest_sq : ndarray of shape (M,), float32
        Squared distances to the nearest, the second and the (t + 1)-th
        nearest centre, rounded down (inf when there are not that many
        centres).

    Large searches are split across threads by rows; a row's answer does
    not depend on the split.
    """
    global _pool
    m = data_aug_t.shape[1]
    k = centers.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    centers_aug_t = np.empty((k, data_aug_t.shape[0]), dtype=np.float32)
    centers_aug_t[:, :-2] = -2.0 * centers
    centers_aug_t[:, -2] = np.einsum("ij,ij->i", centers, centers)
    centers_aug_t[:, -1] = 1.0
    candidates = np.empty((t, m), dtype=np.int16 if k <= np.iinfo(np.int16).max else np.int32)
    first_sq, second_sq, rest_sq = (np.empty(m, dtype=np.float32) for _ in range(3))
    threads = _n_threads() if m * k >= _PARALLEL_MIN_PAIRS else 1
    edges = np.linspace(0, m, threads + 1).astype(np.intp)
    parts = [(data_aug_t[:, lo:hi], centers_aug_t, candidates[:, lo:hi], first_sq[lo:hi],
              second_sq[lo:hi], rest_sq[lo:hi], np.empty(_FEW_BLOCK, dtype=np.float32))
             for lo, hi in zip(edges[:-1], edges[1:])]
    if threads == 1:
        _few_nearest_rows(*parts[0])
    else:
        if _pool is None or _pool._max_workers < threads:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quantize")
        for job in [_pool.submit(_few_nearest_rows, *part) for part in parts]:
            job.result()
    return candidates, first_sq, second_sq, rest_sq


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
        ``r`` farther from, and at least ``r`` nearer to, every centre.
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
        nearest_other = dist[1:].min(axis=0) if dist.shape[0] > 1 else np.inf
        lower[rows] = np.minimum(nearest_other, rest[rows])
        # A centre outside the remembered ones may be nearer: search those.
        far = rows[dist[0] > rest[rows]]
        if far.size:
            candidates[:, far], upper[far], lower[far], rest[far] = search(far)

    def overlapping():
        if k == 1:
            return np.empty(0, dtype=np.intp)
        gaps = _pairwise_sq(centers)
        np.fill_diagonal(gaps, np.inf)
        half_gap = 0.5 * np.sqrt(np.maximum(gaps.min(axis=1), 0.0))
        return np.flatnonzero(upper > np.maximum(lower, half_gap[candidates[0]]))

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
    # Counts updated by differences can keep a rounding residue instead of 0.
    empty_below = 1e-9 * float(weights.sum())
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new_centers = centers.copy()
        full = counts > empty_below
        new_centers[full] = sums[full] / counts[full, None]
        if not full.all():
            # An empty cluster moves onto the rows farthest from their centres.
            _relocate_empty(points_t.T, weights, upper * upper, new_centers, np.flatnonzero(~full))
        move = np.sqrt(np.einsum("ij,ij->i", new_centers - centers, new_centers - centers))
        max_move = float(move.max())
        shrink = _local_moves(centers, move, labels, upper, rest)[labels]
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


def _local_moves(centers, move, labels, upper, rest):
    """For each centre a: how far the centres that matter to a's rows moved at most.

    For a row x of centre a, every other centre was at least ``lower`` (or,
    outside its candidates, ``rest``) away; after the update it is at least
    that minus its own move. A centre farther than R_a = max(rest + upper)
    over a's rows, plus the largest move, from a cannot come within ``rest``
    of any of them (triangle inequality), so only the moves of the centres
    within R_a of a count. Far-off centres (outliers' codes) often move the
    most; they no longer loosen every row's bounds.
    """
    k = centers.shape[0]
    reach = np.zeros(k)
    np.maximum.at(reach, labels, rest + upper)
    reach += move.max()
    near = np.sqrt(np.maximum(_pairwise_sq(centers), 0.0)) <= reach[:, None]
    return np.where(near, move[None, :], 0.0).max(axis=1)


def _pairwise_sq(centers):
    """Squared distances between every pair of centres, (k, k)."""
    sq = np.einsum("ij,ij->i", centers, centers)
    return sq[:, None] + sq[None, :] - 2.0 * centers @ centers.T

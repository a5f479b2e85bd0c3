"""The k-means core's entry point: checked options, attempts, the result.

numpy only. Works on any (M, N) float array with optional per-row weights, so
that k-means on an image's unique colours weighted by their counts is exactly
k-means on all of its pixels.

Layers, as in scikit-learn: :func:`cluster` checks its arguments once; the
Lloyd loops (:mod:`.lloyd`) run on validated input; the searches
(:mod:`.search`) and seeds (:mod:`.seeding`) are their kernels. This module
re-exports what callers of the core need.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Union

import numpy as np

from ..errors import QuantizeWarning
from . import metrics as _metrics
from .lloyd import KMeansResult, LloydResult, LloydState, cluster_sums, lloyd, run_plain
from .search import assign
from .seeding import INIT_METHODS

__all__ = ["KMeansResult", "LloydResult", "LloydState", "cluster", "assign", "lloyd", "INIT_METHODS",
           "check_run_options", "cluster_sums", "run_plain"]

SeedLike = Union[None, int, np.random.Generator]

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
        The distance (see :mod:`quantize.core.metrics`). 'euclidean' is k-means.
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
    init_fn, given, attempts = check_run_options(k, n, init, max_iter, eps, attempts)
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
    _metrics.check_metric(metric)
    return _cluster(data, weights, k, init if given is None else given, int(max_iter),
                    float(eps), int(attempts), rng, callback, metric)


def check_run_options(k, n, init, max_iter, eps, attempts):
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


def _cluster(data, weights, k, init, max_iter, eps, attempts, rng, callback, metric):
    """Best-of-attempts loop over the metric's kernel. Assumes validated input.

    ``init`` is an init name or a (k, N) array of centres.
    """
    kernel = _metrics.kernel_for(metric, data, weights)
    if not (kernel.seed_weights > 0).any():
        raise ValueError(f"the {metric} metric needs at least one non-zero row of positive weight")
    best = None
    for _ in range(attempts):
        if isinstance(init, str):
            centers = _metrics.init_centers(kernel, init, k, rng)
            if centers is None:
                return _distinct_rows_result(kernel, weights, k)
        else:
            centers = init
        centers, labels, cost, n_iter, converged = run_plain(
            kernel, weights, centers, max_iter, eps, callback)
        inertia = float(np.dot(weights, cost))
        if best is None or inertia < best.inertia:
            best = KMeansResult(centers, labels, inertia, n_iter, converged)
    return best


def _distinct_rows_result(kernel, weights, k):
    """Fewer distinct usable rows than k: one centre per distinct row (or direction)."""
    usable = kernel.seed_weights > 0
    distinct = np.unique(kernel.seed_rows[usable], axis=0)
    if kernel.name == "cosine":
        what = (f"{distinct.shape[0]} distinct directions, fewer than k={k}; returning one "
                "centre per direction")
    else:
        what = (f"{distinct.shape[0]} distinct rows, fewer than k={k}; returning the distinct "
                "rows as centres")
    warnings.warn(f"data has {what}", QuantizeWarning, stacklevel=3)
    m = kernel.data.shape[0]
    labels = np.empty(m, dtype=np.intp)
    cost = np.empty(m, dtype=np.float64)
    kernel.assign(distinct, labels, cost)
    centers = distinct
    if kernel.name == "cosine":
        # The mean length of each direction's rows, as for any cosine centre.
        centers, _ = kernel.update(weights, labels, distinct.shape[0])
        kernel.assign(centers, labels, cost)
    return KMeansResult(centers, labels, float(np.dot(weights, cost)), 0, True)

"""Vector quantization with the calling conventions of ``scipy.cluster.vq``.

Code written for scipy runs after changing one import::

    from quantize.vq import whiten, vq, kmeans, kmeans2, ClusterError

The semantics follow scipy's documentation: :func:`vq` measures plain
(non-squared) Euclidean distances; :func:`kmeans` runs until the mean
distance settles and drops clusters that lose all their observations;
:func:`kmeans2` runs a fixed number of Lloyd steps and reports lost clusters.
From a given initial codebook the results agree with scipy's to rounding.
Seeds follow scipy's rules: without ``seed``/``rng`` (or with ``seed=None``)
the random starts draw from numpy's global RandomState, so ``np.random.seed``
makes them repeatable; ``rng=None`` draws fresh entropy. The draws go through
:func:`numpy.random.default_rng`, so they are not scipy's random choices for
the same seed. Warnings carry scipy's texts, so scipy's filters match them.

numpy only: scipy is never needed. When it is installed, a
:class:`ClusterError` raised here is also scipy's own
``scipy.cluster.vq.ClusterError`` (scipy is then loaded, by :mod:`._peers`).
"""

from __future__ import annotations

import operator
import warnings

import numpy as np

from ..core import metrics as _metrics
from . import _peers

__all__ = ["ClusterError", "whiten", "vq", "kmeans", "kmeans2"]


class ClusterError(Exception):
    """A cluster lost all its observations in :func:`kmeans2` (``missing='raise'``).

    When scipy is installed, the error raised is also a
    ``scipy.cluster.vq.ClusterError``.

    Examples
    --------
    >>> issubclass(ClusterError, Exception)
    True
    """


# --------------------------------------------------------------------------
# Argument handling


def _as_float(a, check_finite: bool, name: str, dtype=None) -> np.ndarray:
    """A float32 or float64 array (other numbers become float64)."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if dtype is None:
        dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    a = a.astype(dtype, copy=False)
    if check_finite and not np.isfinite(a).all():
        raise ValueError(f"{name} must not contain infs or NaNs")
    return a


def _as_2d(a: np.ndarray, name: str) -> np.ndarray:
    """(M,) -> (M, 1); (M, N) unchanged; anything else raises."""
    if a.ndim == 1:
        return a[:, None]
    if a.ndim == 2:
        return a
    raise ValueError(f"{name} must be 1-D (M,) or 2-D (M, N), got shape {a.shape}")


def _check_codebook(book: np.ndarray, obs: np.ndarray, name: str) -> None:
    if book.ndim != obs.ndim:
        raise ValueError(f"{name} must have the same number of dimensions as the observations "
                         f"({obs.ndim}), got shape {book.shape}")
    if book.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one code (asked for 0 clusters)")
    if obs.ndim == 2 and book.shape[1] != obs.shape[1]:
        raise ValueError(f"{name} must have {obs.shape[1]} columns like the observations, "
                         f"got shape {book.shape}")


def _check_iter(iter) -> int:
    try:
        n = operator.index(iter)
    except TypeError:
        raise ValueError(f"iter must be a positive integer, got {iter!r}") from None
    if n < 1:
        raise ValueError(f"iter must be a positive integer, got {iter!r}")
    return n


class _NotGiven:
    """The default of ``rng``: scipy tells an absent ``rng`` from ``rng=None``."""

    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN = _NotGiven()

#: scipy's warning and error texts, which scipy's own tests and its users filter on.
_EMPTY_CLUSTER = "One of the clusters is empty. Re-run kmeans with a different initialization."
_ZERO_STD = ("Some columns have standard deviation zero. "
             "The values of these columns will not change.")
_K_NOT_INTEGER = "k was not an integer, was converted."


def _generator(seed, rng) -> np.random.Generator:
    """One numpy Generator from scipy's ``rng`` or the older ``seed``, by scipy's rules.

    ``rng`` given: :func:`numpy.random.default_rng` of it (None is fresh
    entropy). Otherwise ``seed``: None (or ``numpy.random``) is numpy's
    global RandomState, an int a new seeded Generator, a RandomState or
    Generator is drawn from.
    """
    if rng is not _NOT_GIVEN:
        if seed is not None:
            raise TypeError("give either rng or seed, not both")
        source = rng
    else:
        source = seed
        if source is None or source is np.random:
            return np.random.default_rng(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(source, np.random.Generator):
        return source
    if isinstance(source, np.random.RandomState):
        return np.random.default_rng(source.randint(0, 2**63 - 1, dtype=np.int64))
    return np.random.default_rng(source)


def _cluster_error(message: str) -> ClusterError:
    return _peers.peer_class(ClusterError, "scipy.cluster.vq", "ClusterError")(message)


# --------------------------------------------------------------------------
# Kernels


def _nearest_codes(obs2d: np.ndarray, book2d: np.ndarray):
    """Nearest code and squared distance of every row, from differences.

    Distances are summed feature by feature in the arrays' dtype, so they are
    the exactly rounded squared distances; ties go to the lowest code. Memory
    is a few arrays of length M, whatever k is.
    """
    obs_t = np.ascontiguousarray(obs2d.T)
    m = obs_t.shape[1]
    best = np.empty(m, dtype=obs2d.dtype)
    d = np.empty_like(best)
    tmp = np.empty_like(best)
    codes = np.zeros(m, dtype=np.intp)
    closer = np.empty(m, dtype=bool)

    def sq_dist(code, out):
        np.subtract(obs_t[0], code[0], out=out)
        np.multiply(out, out, out=out)
        for j in range(1, obs_t.shape[0]):
            np.subtract(obs_t[j], code[j], out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            np.add(out, tmp, out=out)
        return out

    sq_dist(book2d[0], best)
    for i in range(1, book2d.shape[0]):
        sq_dist(book2d[i], d)
        np.less(d, best, out=closer)
        np.minimum(best, d, out=best)
        codes[closer] = i
    return codes, best


def _cluster_means(obs2d: np.ndarray, codes: np.ndarray, k: int):
    """Mean of each code's observations (float64) and which codes have any."""
    counts = np.bincount(codes, minlength=k)
    means = np.zeros((k, obs2d.shape[1]), dtype=np.float64)
    has = counts > 0
    for j in range(obs2d.shape[1]):
        sums = np.bincount(codes, weights=obs2d[:, j], minlength=k)
        means[has, j] = sums[has] / counts[has]
    return means, has


def _kmeans_run(obs2d: np.ndarray, book2d: np.ndarray, thresh: float):
    """Lloyd steps until the mean distance changes by at most ``thresh``.

    Codes that lose all their observations are dropped. Returns the codebook
    and the mean distance of the observations to it.
    """
    book = book2d.copy()
    previous = np.inf
    change = np.inf
    while change > thresh:
        codes, sq = _nearest_codes(obs2d, book)
        mean_dist = float(np.sqrt(sq).mean())
        means, has = _cluster_means(obs2d, codes, book.shape[0])
        book = means[has].astype(obs2d.dtype)
        change = abs(previous - mean_dist)
        previous = mean_dist
    _, sq = _nearest_codes(obs2d, book)
    return book, np.sqrt(sq).mean()


def _init_points(data2d, k, gen):
    m = data2d.shape[0]
    if k > m:
        raise ValueError(f"k must be between 1 and {m} (the number of observations), got {k}")
    return data2d[gen.choice(m, size=k, replace=False)].astype(np.float64)


def _init_gaussian(data2d, k, gen):
    """k draws from a normal distribution with the data's mean and covariance.

    The covariance is factored through the SVD of the centred data, so a
    singular covariance (fewer observations than features, constant
    columns) needs no special case.
    """
    data2d = data2d.astype(np.float64)
    m = data2d.shape[0]
    mean = data2d.mean(axis=0)
    if m < 2:
        return np.repeat(mean[None, :], k, axis=0)
    _, s, vt = np.linalg.svd(data2d - mean, full_matrices=False)
    factor = s[:, None] * vt / np.sqrt(m - 1)
    return mean + gen.standard_normal((k, s.size)) @ factor


def _init_pp(data2d, k, gen):
    """Greedy k-means++; with fewer distinct rows than k, all of them plus repeats."""
    data2d = np.ascontiguousarray(data2d, dtype=np.float64)
    kernel = _metrics.kernel_for("euclidean", data2d, np.ones(data2d.shape[0]))
    centers = _metrics.init_centers(kernel, "kmeans++", k, gen)
    if centers is None:
        distinct = np.unique(data2d, axis=0)
        extra = data2d[gen.integers(0, data2d.shape[0], size=k - distinct.shape[0])]
        centers = np.concatenate([distinct, extra])
    return centers


_MINIT = {"random": _init_gaussian, "points": _init_points, "++": _init_pp}


# --------------------------------------------------------------------------
# Public functions


def whiten(obs, check_finite: bool = True) -> np.ndarray:
    """Scale every feature (column) to unit standard deviation.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Observations, one per row.
    check_finite : bool
        Raise on NaN or infinity (default). False skips the check; the result
        is then undefined for such input.

    Returns
    -------
    ndarray
        ``obs`` divided column by column by its standard deviation (the
        population one, ``ddof=0``). float32 input stays float32; other
        numbers become float64.

    Raises
    ------
    ValueError
        On NaN or infinity (with ``check_finite``), or non-numeric input.

    Warns
    -----
    RuntimeWarning
        When a column has zero standard deviation; it is left unchanged.
        scipy's text ("Some columns have standard deviation zero. ..."),
        and as in scipy only with ``check_finite``.

    Examples
    --------
    >>> whiten([[1.0, 2.0], [3.0, 6.0]])
    array([[1., 1.],
           [3., 3.]])
    """
    obs = _as_float(obs, check_finite, "obs")
    std = obs.std(axis=0)
    zero = std == 0
    if np.any(zero):
        std = np.where(zero, 1, std).astype(obs.dtype)
        if check_finite:
            warnings.warn(_ZERO_STD, RuntimeWarning, stacklevel=2)
    return obs / std


def vq(obs, code_book, check_finite: bool = True):
    """Give every observation the code of its nearest centroid.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Observations, one per row; 1-D means one feature.
    code_book : array_like of shape (k, N) or (k,)
        The centroids, with the same number of dimensions as ``obs``.
    check_finite : bool
        Raise on NaN or infinity (default).

    Returns
    -------
    codes : ndarray of shape (M,)
        Index of the nearest centroid; ties go to the lowest index. int32
        for float input (as scipy), intp otherwise.
    dist : ndarray of shape (M,)
        Euclidean distance (not squared) to that centroid, float32 when both
        arrays are float32, else float64.

    Raises
    ------
    ValueError
        On mismatched shapes, an empty code book, or NaN/infinity.

    Examples
    --------
    >>> codes, dist = vq([[0.0, 0.0], [3.0, 4.0]], [[0.0, 1.0], [3.0, 3.0]])
    >>> codes, dist
    (array([0, 1], dtype=int32), array([1., 1.]))
    >>> vq([1.0, 9.0], [0.0, 10.0])[0]
    array([0, 1], dtype=int32)
    """
    obs = np.asarray(obs)
    code_book = np.asarray(code_book)
    both_float = obs.dtype.kind == "f" and code_book.dtype.kind == "f"
    dtype = np.result_type(obs, code_book) if both_float else np.float64
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    obs = _as_float(obs, check_finite, "obs", dtype)
    code_book = _as_float(code_book, check_finite, "code_book", dtype)
    obs2d = _as_2d(obs, "obs")
    _check_codebook(code_book, obs, "code_book")
    codes, sq = _nearest_codes(obs2d, _as_2d(code_book, "code_book"))
    return codes.astype(np.int32 if both_float else np.intp), np.sqrt(sq)


def kmeans(obs, k_or_guess, iter: int = 20, thresh: float = 1e-5, check_finite: bool = True,
           *, seed=None, rng=_NOT_GIVEN):
    """k-means that stops when the mean distance settles, best of ``iter`` runs.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Observations, one per row (usually :func:`whiten`-ed first).
    k_or_guess : int or array_like of shape (k, N) or (k,)
        The number of centroids, each run starting from ``k`` distinct
        observations chosen at random; or the initial codebook itself, in
        which case one run is made from it.
    iter : int
        Independent runs when ``k_or_guess`` is a number; the codebook with
        the lowest distortion is returned. Ignored with an initial codebook.
        This is not an iteration count: a run iterates until it settles.
    thresh : float
        A run stops once the mean (non-squared) distance of the observations
        to their nearest centroid changes by at most this between two steps.
    check_finite : bool
        Raise on NaN or infinity (default).
    seed, rng : None, int or numpy.random.Generator, keyword-only
        Source of randomness for the initial centroids (scipy's newer name
        is ``rng``; give at most one). By scipy's rules: with neither (or
        ``seed=None``) numpy's global RandomState is drawn from, so
        ``np.random.seed`` makes the result repeatable; ``rng=None`` is
        fresh entropy; an int seeds a new generator.

    Returns
    -------
    codebook : ndarray of shape (k', N) or (k',)
        The centroids, ``k' <= k``: a centroid that loses all its
        observations during a run is dropped.
    distortion : float
        The mean Euclidean distance (not squared) between the observations
        and their nearest centroid of the returned codebook.

    Raises
    ------
    ValueError
        When k is below 1 or above the number of observations, not an
        integer, the codebook is empty or misshapen, ``iter`` < 1,
        ``thresh`` < 0, or on NaN/infinity.

    Notes
    -----
    scipy returns the mean distance measured in the last step, against the
    codebook *before* the final update; here it is measured against the
    returned codebook, as documented. The two agree whenever the run ended
    on a fixed point (the usual case); the codebooks agree in every case.

    Examples
    --------
    >>> obs = [[0.0], [1.0], [10.0], [11.0]]
    >>> book, distortion = kmeans(obs, [[0.0], [1.0]])
    >>> book.tolist(), float(distortion)
    ([[0.5], [10.5]], 0.5)
    """
    obs = _as_float(obs, check_finite, "obs")
    obs2d = _as_2d(obs, "obs")
    if obs2d.shape[0] == 0:
        raise ValueError("obs must hold at least one observation")
    runs = _check_iter(iter)
    if not thresh >= 0:
        raise ValueError(f"thresh must be >= 0, got {thresh!r}")
    if np.ndim(k_or_guess) > 0:
        guess = _as_float(k_or_guess, check_finite, "k_or_guess", obs.dtype)
        _check_codebook(guess, obs, "k_or_guess")
        book, distortion = _kmeans_run(obs2d, _as_2d(guess, "k_or_guess"), thresh)
        return (book[:, 0] if obs.ndim == 1 else book), distortion
    k = _as_k(k_or_guess)
    m = obs2d.shape[0]
    if not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and {m} (the number of observations), got {k}")
    gen = _generator(seed, rng)
    best = None
    for _ in range(runs):
        start = obs2d[gen.choice(m, size=k, replace=False)]
        book, distortion = _kmeans_run(obs2d, start, thresh)
        if best is None or distortion < best[1]:
            best = (book, distortion)
    book, distortion = best
    return (book[:, 0] if obs.ndim == 1 else book), distortion


def _as_k(k) -> int:
    """An integral k (a float such as 3.0 is accepted), else ValueError."""
    try:
        as_int = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"k must be an integer, got {k!r}") from None
    if as_int != k:
        raise ValueError(f"k must be an integer, got {k!r}")
    return as_int


def kmeans2(data, k, iter: int = 10, thresh: float = 1e-5, minit: str = "random",
            missing: str = "warn", check_finite: bool = True, *, seed=None, rng=_NOT_GIVEN):
    """Exactly ``iter`` Lloyd steps; returns the centroids and the labels.

    Parameters
    ----------
    data : array_like of shape (M, N) or (M,)
        Observations, one per row; 1-D means one feature.
    k : int or array_like of shape (k, N) or (k,)
        Number of clusters, or the initial centroids (an array, or any value
        with ``minit='matrix'``).
    iter : int
        Number of Lloyd steps (assign, then move each centroid to its
        observations' mean); at least 1.
    thresh : float
        Accepted for compatibility; not used (as in scipy).
    minit : {'random', 'points', '++', 'matrix'}
        'random' draws k centroids from a normal distribution with the data's
        mean and covariance; 'points' picks k distinct observations at
        random; '++' is (greedy) k-means++; 'matrix' takes ``k`` as the
        initial centroids.
    missing : {'warn', 'raise'}
        What to do when a cluster loses all its observations: 'warn' keeps
        its centroid where it was and warns; 'raise' raises ClusterError.
    check_finite : bool
        Raise on NaN or infinity (default).
    seed, rng : None, int or numpy.random.Generator, keyword-only
        Source of randomness for the initial centroids, as in
        :func:`kmeans`: with neither, numpy's global RandomState.

    Returns
    -------
    centroid : ndarray of shape (k, N) or (k,)
        The centroids after the last step, in the data's float dtype.
    label : ndarray of shape (M,), int32
        The labels of the last assignment step: nearest centroids of the
        *previous* step's centroids, as in scipy.

    Raises
    ------
    ValueError
        On empty data, k < 1 (including an empty array), a bad ``minit``,
        ``missing`` or ``iter``, mismatched shapes, or NaN/infinity.
    ClusterError
        With ``missing='raise'``, when a cluster becomes empty.

    Warns
    -----
    UserWarning
        With ``missing='warn'``, when a cluster becomes empty ("One of the
        clusters is empty. Re-run kmeans with a different initialization.",
        scipy's text); when ``k`` is a number but not an integer ("k was
        not an integer, was converted.").

    Examples
    --------
    >>> data = [[0.0], [2.0], [3.0], [10.0]]
    >>> centroid, label = kmeans2(data, [[0.0], [3.0]], iter=1, minit="matrix")
    >>> centroid.tolist(), label
    ([[0.0], [5.0]], array([0, 1, 1, 1], dtype=int32))
    """
    steps = _check_iter(iter)
    if missing not in ("warn", "raise"):
        raise ValueError(f"missing must be 'warn' or 'raise', got {missing!r}")
    data = _as_float(data, check_finite, "data")
    data2d = _as_2d(data, "data")
    if data.size == 0:
        raise ValueError(f"data must not be empty, got shape {data.shape}")
    if minit == "matrix" or np.ndim(k) > 0:
        book = _as_float(k, check_finite, "k", data.dtype)
        _check_codebook(book, data, "k")
        book2d = _as_2d(book, "k").astype(np.float64)
    else:
        if minit not in _MINIT:
            raise ValueError(f"minit must be one of {sorted(_MINIT) + ['matrix']}, got {minit!r}")
        n_clusters = _as_k_lenient(k)
        book2d = _MINIT[minit](data2d, n_clusters, _generator(seed, rng))
    n_clusters = book2d.shape[0]
    for _ in range(steps):
        codes, _ = _nearest_codes(data2d, book2d.astype(data.dtype))
        means, has = _cluster_means(data2d, codes, n_clusters)
        if not has.all():
            if missing == "raise":
                raise _cluster_error(_EMPTY_CLUSTER)
            warnings.warn(_EMPTY_CLUSTER, UserWarning, stacklevel=2)
            means[~has] = book2d[~has]
        book2d = means
    book = book2d.astype(data.dtype)
    return (book[:, 0] if data.ndim == 1 else book), codes.astype(np.int32)


def _as_k_lenient(k) -> int:
    """A cluster count; a non-integral number is truncated with a warning."""
    try:
        n = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"k must be an integer or an array of centroids, got {k!r}") from None
    if n < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    if n != k:
        warnings.warn(_K_NOT_INTEGER, UserWarning, stacklevel=3)
    return n

"""``cv2.kmeans`` with OpenCV's conventions, over numpy only.

Code written for OpenCV runs after renaming the call::

    from quantize import (cv_kmeans, TERM_CRITERIA_EPS, TERM_CRITERIA_MAX_ITER,
                          KMEANS_RANDOM_CENTERS, KMEANS_PP_CENTERS,
                          KMEANS_USE_INITIAL_LABELS)
    compactness, labels, centers = cv_kmeans(Z, 8, None, criteria, 10, KMEANS_PP_CENTERS)

The iteration follows OpenCV's documented behaviour step by step: the
criteria's epsilon bounds the largest centre shift (compared squared),
iterations are clamped to between 2 and 100, an empty cluster takes the point
of the biggest cluster farthest from that cluster's centre, the returned
labels are those of the last assignment (they are not recomputed after the
last centre update) and the compactness is the sum of squared distances of
the samples to the centres of those labels. Arithmetic is float32 in the same
order as OpenCV, so from given initial labels the results agree with OpenCV
bit for bit on data with up to 15 features (colours have 3; with more,
OpenCV's vectorised sums round differently in the last bit).

Random and k-means++ centres come from a numpy generator, not OpenCV's RNG,
so they differ from OpenCV's for the same call. Seeding works as OpenCV's:
without ``seed=``, every thread draws from its own generator, which starts
from the same fixed state in every new process and thread (as OpenCV's
``theRNG()``), so a script gives the same results on every run;
:func:`setRNGSeed` restarts the calling thread's generator, as
``cv2.setRNGSeed``.

Errors are :class:`CvError`, a ValueError; when OpenCV is installed they are
also ``cv2.error`` (OpenCV is then loaded, by :mod:`._peers`), so
``except cv2.error`` catches them.
"""

from __future__ import annotations

import operator
import threading

import numpy as np

from ..core import metrics as _metrics
from . import _peers

__all__ = [
    "cv_kmeans",
    "setRNGSeed",
    "CvError",
    "TERM_CRITERIA_COUNT",
    "TERM_CRITERIA_MAX_ITER",
    "TERM_CRITERIA_EPS",
    "KMEANS_RANDOM_CENTERS",
    "KMEANS_USE_INITIAL_LABELS",
    "KMEANS_PP_CENTERS",
]

#: Criteria type bit: stop after ``max_iter`` iterations (OpenCV's value).
TERM_CRITERIA_COUNT = 1
#: The same bit under its other OpenCV name.
TERM_CRITERIA_MAX_ITER = 1
#: Criteria type bit: stop once no centre moves more than ``epsilon``.
TERM_CRITERIA_EPS = 2
#: Flag: initial centres uniformly at random in the data's bounding box.
KMEANS_RANDOM_CENTERS = 0
#: Flag: the first attempt starts from the labels given in ``bestLabels``.
KMEANS_USE_INITIAL_LABELS = 1
#: Flag: initial centres by k-means++ (greedy, 3 trials per centre).
KMEANS_PP_CENTERS = 2

#: The state OpenCV's RNG starts from in every thread (``cv::RNG``'s default).
_RNG_START = 0xFFFFFFFF
#: OpenCV's error code for a bad argument (``cv2.Error.StsBadArg``).
_STS_BAD_ARG = -5
_THREAD = threading.local()

_MAX_ITER_CAP = 100
_PP_TRIALS = 3
_FLT_EPSILON = float(np.finfo(np.float32).eps)
_F32 = np.float32


def cv_kmeans(data, K, bestLabels, criteria, attempts, flags, centers=None, *, seed=None):
    """k-means with the signature, flags and results of ``cv2.kmeans``.

    Parameters
    ----------
    data : array_like
        The samples, laid out as OpenCV reads a matrix: (N, dims) is N
        samples (but a single row, (1, N), is N one-dimensional samples);
        (N,) is N one-dimensional samples; (rows, cols, channels) is ``rows``
        samples of ``cols * channels`` values. Converted to float32 (OpenCV
        requires float32; other numbers are accepted here).
    K : int
        Number of clusters, between 1 and N.
    bestLabels : ndarray or None
        With ``KMEANS_USE_INITIAL_LABELS``, the initial cluster of every
        sample (N integers in [0, K)). An int32 array of N elements is
        also the output: it is overwritten with the labels and returned.
    criteria : tuple (type, max_iter, epsilon)
        ``type`` combines ``TERM_CRITERIA_MAX_ITER`` (stop after
        ``max_iter`` iterations, clamped to 2..100) and
        ``TERM_CRITERIA_EPS`` (stop once no centre moved more than
        ``epsilon``). Without the MAX_ITER bit the limit is 100; without the
        EPS bit, epsilon is float32's machine epsilon.
    attempts : int
        Independent runs (at least 1); the lowest compactness wins. With
        ``KMEANS_USE_INITIAL_LABELS`` only the first starts from the labels.
    flags : int
        ``KMEANS_RANDOM_CENTERS`` (uniform in the bounding box of the data,
        widened by ``1/dims`` of its size on each side) or
        ``KMEANS_PP_CENTERS``, optionally ``| KMEANS_USE_INITIAL_LABELS``.
    centers : ndarray, optional
        A float32 (K, dims) array to receive the centres; it is then also
        the returned array. Otherwise a new one is returned.
    seed : None, int or numpy.random.Generator, keyword-only
        Source of randomness for the initial centres (an extension). None,
        as OpenCV, draws from the calling thread's generator, which starts
        from a fixed state in every process and thread and is restarted by
        :func:`setRNGSeed`.

    Returns
    -------
    compactness : float
        Sum over samples of the squared distance to the centre of its label.
    labels : ndarray of shape (N, 1), int32
        The cluster of every sample (or ``bestLabels`` itself, see above).
    centers : ndarray of shape (K, dims), float32
        The centres.

    Raises
    ------
    CvError
        A ValueError (and, with OpenCV installed, a ``cv2.error``): on K < 1
        or K > N, arguments that are not integers where OpenCV needs them,
        non-numeric or non-finite data, bad criteria, or missing or
        out-of-range initial labels.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.float32([[0], [2], [3], [10]])
    >>> start = np.int32([[0], [0], [1], [1]])
    >>> compactness, labels, centers = cv_kmeans(
    ...     Z, 2, start, (TERM_CRITERIA_MAX_ITER, 2, 0), 1, KMEANS_USE_INITIAL_LABELS)
    >>> labels.ravel(), centers.ravel(), round(compactness, 4)
    (array([0, 0, 0, 1], dtype=int32), array([ 1.6666666, 10.       ], dtype=float32), 4.6667)
    """
    try:
        samples = _as_samples(data)
    except CvError:
        raise
    except (TypeError, ValueError) as exc:  # numpy could not make an array of it
        raise _error(f"data cannot be read as an array: {exc}") from None
    n, dims = samples.shape
    K = _as_int(K, "K")
    if not 1 <= K <= n:
        raise _error(f"K must be between 1 and {n} (the number of samples), got {K}")
    attempts = max(_as_int(attempts, "attempts"), 1)
    flags = _as_int(flags, "flags")
    try:
        crit_type, max_iter, epsilon = criteria
        crit_type = operator.index(crit_type)
        max_iter = operator.index(max_iter)
        epsilon = float(epsilon)
    except (TypeError, ValueError):
        raise _error(f"criteria must be (type, max_iter, epsilon), got {criteria!r}") from None
    use_initial = bool(flags & KMEANS_USE_INITIAL_LABELS)
    initial = _initial_labels(bestLabels, n, K) if use_initial else None

    eps_sq = (max(epsilon, 0.0) if crit_type & TERM_CRITERIA_EPS else _FLT_EPSILON) ** 2
    max_iter = min(max(max_iter, 2), _MAX_ITER_CAP) if crit_type & TERM_CRITERIA_COUNT \
        else _MAX_ITER_CAP
    if K == 1:
        attempts, max_iter = 1, 2

    if seed is None:
        gen = _thread_generator()
    else:
        gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    samples_t = np.ascontiguousarray(samples.T)
    best = None
    for attempt in range(attempts):
        labels = initial.copy() if initial is not None and attempt == 0 else None
        result = _one_attempt(samples, samples_t, K, labels, flags, max_iter, eps_sq, gen)
        if best is None or result[0] < best[0]:
            best = result
    compactness, labels, best_centers = best
    return compactness, _output_labels(bestLabels, labels), _output_centers(centers, best_centers)


class CvError(ValueError):
    """An argument :func:`cv_kmeans` cannot take; OpenCV raises ``cv2.error`` there.

    When OpenCV is installed, the error raised is also a ``cv2.error``, with
    its attributes: ``code`` (-5, ``cv2.Error.StsBadArg``), ``err`` and
    ``msg`` (the message), ``func``, ``file`` and ``line``.

    Examples
    --------
    >>> try:
    ...     cv_kmeans([[0.0], [1.0]], 3, None, (TERM_CRITERIA_MAX_ITER, 10, 0), 1, 0)
    ... except CvError as err:
    ...     print(err.code, err)
    -5 K must be between 1 and 2 (the number of samples), got 3
    """


def _error(message: str) -> CvError:
    err = _peers.peer_class(CvError, "cv2", "error")(message)
    err.code, err.err, err.msg = _STS_BAD_ARG, message, message
    err.func, err.file, err.line = "cv_kmeans", __file__, -1
    return err


def _as_int(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise _error(f"{name} must be an integer, got {value!r}") from None


def setRNGSeed(seed) -> None:
    """Restart the calling thread's generator, as ``cv2.setRNGSeed``.

    :func:`cv_kmeans` without ``seed=`` draws its random and k-means++
    centres from it. As in OpenCV, each thread has its own, and 0 restores
    the state every thread starts from.

    Parameters
    ----------
    seed : int
        The new state (taken modulo 2**64).

    Examples
    --------
    >>> Z = np.float32([[0], [1], [2], [10], [11], [30]])
    >>> crit = (TERM_CRITERIA_MAX_ITER, 10, 0)
    >>> setRNGSeed(7); a = cv_kmeans(Z, 3, None, crit, 1, KMEANS_RANDOM_CENTERS)
    >>> setRNGSeed(7); b = cv_kmeans(Z, 3, None, crit, 1, KMEANS_RANDOM_CENTERS)
    >>> bool((a[2] == b[2]).all())
    True
    """
    state = _as_int(seed, "seed") % (1 << 64)
    _THREAD.rng = np.random.default_rng(state or _RNG_START)


def _thread_generator() -> np.random.Generator:
    """The calling thread's generator, made from the fixed start state on first use."""
    gen = getattr(_THREAD, "rng", None)
    if gen is None:
        gen = _THREAD.rng = np.random.default_rng(_RNG_START)
    return gen


def _one_attempt(samples, samples_t, K, labels, flags, max_iter, eps_sq, gen):
    """OpenCV's iteration: centres, then labels, until the criteria say stop."""
    it = 0
    centers = None
    while True:
        old = centers
        if it == 0 and labels is None:
            centers = _initial_centers(samples, K, flags, gen)
            shift_sq = np.inf
        else:
            centers = _centers_from_labels(samples, samples_t, labels, K)
            shift_sq = np.inf if it == 0 else _max_shift_sq(centers, old)
        it += 1
        if it == max_iter or shift_sq <= eps_sq:
            # The last labels are kept: reassigning could empty a cluster.
            dist = _sq_dist_rows(samples_t, centers[labels].T)
            return float(np.sum(dist, dtype=np.float64)), labels, centers
        labels = _nearest32(samples_t, centers)


def _initial_centers(samples, K, flags, gen):
    if flags & KMEANS_PP_CENTERS:
        data = samples.astype(np.float64)
        kernel = _metrics.kernel_for("euclidean", data, np.ones(data.shape[0]))
        rows = _metrics.greedy_seed(kernel, K, gen, n_trials=_PP_TRIALS)
        if rows is None:  # fewer distinct samples than K: repeats become empty clusters
            distinct = np.unique(data, axis=0)
            rows = np.concatenate([distinct, data[gen.integers(0, len(data), K - len(distinct))]])
        return rows.astype(_F32)
    low = samples.min(axis=0)
    high = samples.max(axis=0)
    margin = _F32(1.0) / _F32(samples.shape[1])
    u = gen.random((K, samples.shape[1]), dtype=np.float32)
    return (u * (_F32(1.0) + margin * _F32(2.0)) - margin) * (high - low) + low


def _sq_dist_rows(samples_t, centers_t):
    """Squared distances, float32, features summed in order (as OpenCV's scalar loop).

    ``samples_t`` is (dims, N); ``centers_t`` is (dims, N) or (dims, 1).
    """
    t = samples_t[0] - centers_t[0]
    d = t * t
    for j in range(1, samples_t.shape[0]):
        t = samples_t[j] - centers_t[j]
        d += t * t
    return d


def _nearest32(samples_t, centers):
    """Nearest centre of every sample (float32 distances, ties to the lowest index)."""
    dims, n = samples_t.shape
    t = np.empty_like(samples_t)
    best = np.empty(n, dtype=_F32)
    d = np.empty(n, dtype=_F32)
    closer = np.empty(n, dtype=bool)
    labels = np.zeros(n, dtype=np.int32)
    for k in range(centers.shape[0]):
        np.subtract(samples_t, centers[k][:, None], out=t)
        np.multiply(t, t, out=t)
        out = best if k == 0 else d
        np.copyto(out, t[0])
        for j in range(1, dims):
            np.add(out, t[j], out=out)
        if k:
            np.less(d, best, out=closer)
            np.minimum(best, d, out=best)
            np.copyto(labels, k, where=closer)
    return labels


def _sums32(samples_t, labels, counts):
    """Per-cluster float32 sums, accumulated sample by sample in order.

    Sorting by label (stably) makes every cluster a contiguous run; a
    cumulative sum over a run adds its samples one at a time, in their
    original order, exactly as OpenCV's loop does.
    """
    K = counts.size
    order = np.argsort(labels.astype(np.uint8) if K <= 256 else labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(counts)))
    sums = np.zeros((K, samples_t.shape[0]), dtype=_F32)
    for j in range(samples_t.shape[0]):
        column = samples_t[j][order]
        for k in np.flatnonzero(counts):
            sums[k, j] = np.cumsum(column[bounds[k]:bounds[k + 1]])[-1]
    return sums


def _centers_from_labels(samples, samples_t, labels, K):
    """Centres as OpenCV computes them: float32 sums in sample order.

    An empty cluster takes the sample of the biggest cluster (the first on
    ties) that is farthest from that cluster's centre (the last on ties);
    ``labels`` is updated in place.
    """
    counts = np.bincount(labels, minlength=K)
    sums = _sums32(samples_t, labels, counts)
    for k in np.flatnonzero(counts == 0):
        biggest = int(np.argmax(counts))
        base = sums[biggest] * (_F32(1.0) / _F32(counts[biggest]))
        members = np.flatnonzero(labels == biggest)
        d = _sq_dist_rows(samples_t[:, members], base[:, None])
        farthest = members[d.size - 1 - int(np.argmax(d[::-1]))]
        counts[biggest] -= 1
        counts[k] += 1
        labels[farthest] = k
        sums[biggest] -= samples[farthest]
        sums[k] += samples[farthest]
    scale = _F32(1.0) / counts.astype(_F32)
    return sums * scale[:, None]


def _max_shift_sq(centers, old):
    """Largest squared centre shift: float32 differences, summed in float64."""
    t = (centers - old).astype(np.float64)
    d = t[:, 0] * t[:, 0]
    for j in range(1, t.shape[1]):
        d += t[:, j] * t[:, j]
    return float(d.max())


def _as_samples(data):
    a = np.asarray(data)
    if a.dtype.kind not in "biuf":
        raise _error(f"data must hold real numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    elif a.ndim == 2:
        if a.shape[0] == 1:
            a = a.reshape(-1, 1)
    elif a.ndim == 3:
        a = a.reshape(a.shape[1], a.shape[2]) if a.shape[0] == 1 else a.reshape(a.shape[0], -1)
    else:
        raise _error(f"data must be a 1-, 2- or 3-dimensional array, got shape {a.shape}")
    a = np.ascontiguousarray(a, dtype=_F32)
    if a.size and not np.isfinite(a).all():
        raise _error("data must not contain NaN or infinity")
    return a


def _initial_labels(best_labels, n, K):
    if best_labels is None:
        raise _error("KMEANS_USE_INITIAL_LABELS needs bestLabels: one label per sample")
    labels = np.asarray(best_labels)
    if labels.dtype.kind not in "iu" or labels.size != n or (
            labels.ndim == 2 and 1 not in labels.shape) or labels.ndim > 2:
        raise _error(f"bestLabels must be {n} integers, as an (N, 1) or (N,) array, "
                         f"got {labels.dtype} {labels.shape}")
    labels = labels.reshape(-1).astype(np.int32)
    bad = (labels < 0) | (labels >= K)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _error(f"bestLabels must lie in [0, {K}), got {int(labels[i])} at sample {i}")
    return labels


def _output_labels(best_labels, labels):
    if (isinstance(best_labels, np.ndarray) and best_labels.dtype == np.int32
            and best_labels.size == labels.size and best_labels.ndim <= 2
            and best_labels.flags.c_contiguous and best_labels.flags.writeable):
        best_labels.reshape(-1)[:] = labels
        return best_labels
    return labels.reshape(-1, 1).copy()


def _output_centers(out, centers):
    if (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == centers.shape
            and out.flags.c_contiguous and out.flags.writeable):
        out[...] = centers
        return out
    return centers

"""Distance kernels for the k-means core: euclidean, manhattan and cosine.

numpy only. Each metric is a small kernel object with the three operations a
Lloyd iteration needs, so that :func:`quantize.core.kmeans.cluster` and
:class:`quantize.KMeans` run one loop whatever the metric:

``assign(centers, labels, cost)``
    nearest centre of every row (ties to the lowest index) and the row's
    *cost*, its term of the objective;
``update(weights, labels, k)``
    the best centre of every cluster for that objective, and the cluster
    weights (0 marks a cluster that has to be relocated);
``cost_to(points)``
    the cost of every row against a few points (for seeding).

========== ============================ ======================================
metric     cost of a row (objective)    centre of a cluster
========== ============================ ======================================
euclidean  squared Euclidean distance   weighted mean (k-means)
manhattan  L1 distance                  per-dimension weighted median
                                        (k-medians)
cosine     ``1 - cos(row, centre)``     normalised weighted sum of the unit
                                        rows (spherical k-means), given the
                                        cluster's weighted mean row length
========== ============================ ======================================

:func:`quantize.core.lloyd.run_plain` is the one loop over these kernels;
each kernel also says where an empty cluster goes (``fill_empty``).

Cosine centres stay in data units: they point along the spherical k-means
centroid and are as long as the cluster's rows are on average (for rows of
unit length, exactly the textbook unit centroids). Cosine distance ignores
length, so this changes no label, and it keeps centres usable as colours and
the ``eps`` criterion in data units. Rows of length zero have no direction:
they are equally far (cost 1) from every centre, are labelled 0, and count
for neither a centre's direction nor its length.
"""

from __future__ import annotations


import numpy as np

from . import lloyd as _lloyd
from . import search as _search
from . import seeding as _seeding
from ..vocabulary import METRICS

__all__ = ["METRICS", "check_metric", "nearest", "pairwise_distances", "kernel_for", "greedy_seed",
           "init_centers", "relocate_empty"]

relocate_empty = _lloyd.relocate_empty


#: Distance-matrix entries computed at once (bounds scratch memory).
_CHUNK = 1 << 18


def check_metric(metric) -> str:
    """Return ``metric`` if it names a known metric, else raise ValueError.

    Parameters
    ----------
    metric : str
        One of ``'euclidean'``, ``'manhattan'``, ``'cosine'``.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    ValueError
        For any other value; the message lists the choices.

    Examples
    --------
    >>> check_metric("cosine")
    'cosine'
    """
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    return metric


# --------------------------------------------------------------------------
# Kernels


class _Kernel:
    """What every kernel shares: where empty clusters go."""

    def fill_empty(self, new_centers, empty, cost, centers):
        _lloyd.relocate_empty(self.data, self.seed_weights, cost, new_centers, empty)


class _Euclidean(_Kernel):
    """k-means: squared Euclidean cost, weighted-mean centres."""

    name = "euclidean"

    def __init__(self, data, weights):
        self.data = data
        self.seed_rows = data
        self.seed_weights = weights
        self._data_aug = None
        self._buf = None
        self._weighted_t = None
        self._weighted_for = None

    def assign(self, centers, labels, cost):
        if self._data_aug is None:
            self._data_aug = _search._augment(self.data, np.float64)
        k = centers.shape[0]
        if self._buf is None or self._buf.shape[1] != k:
            self._buf = _search._new_buffer(self.data.shape[0], k, np.float64)
        _search._nearest(self._data_aug, centers, labels, self._buf)
        # The cost from differences: a row on its centre is at exactly 0.
        cost[:] = _search._sq_dist_rows(self.data, centers, labels)

    def cost_to(self, points):
        out = np.zeros((points.shape[0], self.data.shape[0]), dtype=np.float64)
        diff = np.empty_like(out)
        for j in range(self.data.shape[1]):
            np.subtract(self.data[:, j][None, :], points[:, j][:, None], out=diff)
            diff *= diff
            out += diff
        return out

    def update(self, weights, labels, k):
        if self._weighted_for is not weights:
            self._weighted_t = _lloyd._weighted_columns(self.data, weights)
            self._weighted_for = weights
        sums, counts = _lloyd.cluster_sums(self.data, weights, labels, k, self._weighted_t)
        centers = np.full_like(sums, np.nan)
        full = counts > 0
        centers[full] = sums[full] / counts[full, None]
        return centers, counts

    def pairwise(self, centers):
        return np.sqrt(self.cost_to(centers)).T


class _Manhattan(_Kernel):
    """k-medians: L1 cost, per-dimension weighted-median centres."""

    name = "manhattan"

    def __init__(self, data, weights):
        self.data = data
        self.seed_rows = data
        self.seed_weights = weights
        self._tmp = np.empty_like(data)

    def _l1_to(self, point, out):
        np.subtract(self.data, point, out=self._tmp)
        np.abs(self._tmp, out=self._tmp)
        return self._tmp.sum(axis=1, out=out)

    def assign(self, centers, labels, cost):
        m = self.data.shape[0]
        labels[:] = 0
        self._l1_to(centers[0], cost)
        d = np.empty(m, dtype=np.float64)
        closer = np.empty(m, dtype=bool)
        for j in range(1, centers.shape[0]):
            self._l1_to(centers[j], d)
            np.less(d, cost, out=closer)
            np.minimum(cost, d, out=cost)
            labels[closer] = j

    def cost_to(self, points):
        out = np.empty((points.shape[0], self.data.shape[0]), dtype=np.float64)
        for i, point in enumerate(points):
            self._l1_to(point, out[i])
        return out

    def update(self, weights, labels, k):
        return _weighted_medians(self.data, weights, labels, k)

    def pairwise(self, centers):
        return self.cost_to(centers).T


class _Cosine(_Kernel):
    """Spherical k-means: cost ``1 - cos``, normalised mean-direction centres."""

    name = "cosine"

    def __init__(self, data, weights):
        self.data = data
        norms = np.sqrt(np.einsum("ij,ij->i", data, data))
        self.norms = norms
        self.nonzero = norms > 0
        self.unit = np.divide(data, norms[:, None], out=np.zeros_like(data),
                              where=self.nonzero[:, None])
        # Zero rows have no direction: never seeds, never relocation targets.
        self.seed_rows = self.unit
        self.seed_weights = np.where(self.nonzero, weights, 0.0)

    @staticmethod
    def directions(centers):
        norms = np.sqrt(np.einsum("ij,ij->i", centers, centers))
        return np.divide(centers, norms[:, None], out=np.zeros_like(centers),
                         where=norms[:, None] > 0)

    def _similarity_chunks(self, centers):
        dirs_t = np.ascontiguousarray(self.directions(centers).T)
        m = self.unit.shape[0]
        step = max(1, _CHUNK // max(centers.shape[0], 1))
        for start in range(0, m, step):
            stop = min(start + step, m)
            yield start, stop, self.unit[start:stop] @ dirs_t

    def assign(self, centers, labels, cost):
        for start, stop, sim in self._similarity_chunks(centers):
            lab = sim.argmax(axis=1)
            labels[start:stop] = lab
            cost[start:stop] = 1.0 - np.take_along_axis(sim, lab[:, None], axis=1)[:, 0]
        np.clip(cost, 0.0, 2.0, out=cost)

    def cost_to(self, points):
        d = self.directions(points) @ self.unit.T
        np.subtract(1.0, d, out=d)
        return np.clip(d, 0.0, 2.0, out=d)

    def update(self, weights, labels, k):
        w = np.where(self.nonzero, weights, 0.0)
        n = self.data.shape[1]
        sums = np.empty((k, n), dtype=np.float64)
        for j in range(n):
            sums[:, j] = np.bincount(labels, weights=w * self.unit[:, j], minlength=k)
        counts = np.bincount(labels, weights=w, minlength=k)
        lengths = np.bincount(labels, weights=w * self.norms, minlength=k)
        resultant = np.sqrt(np.einsum("ij,ij->i", sums, sums))
        ok = (counts > 0) & (resultant > 0)
        centers = np.full((k, n), np.nan)
        centers[ok] = sums[ok] * (lengths[ok] / (counts[ok] * resultant[ok]))[:, None]
        # A cluster whose unit rows cancel out has no direction: relocate it.
        return centers, np.where(ok, counts, 0.0)

    def pairwise(self, centers):
        return self.cost_to(centers).T


_KERNELS = {"euclidean": _Euclidean, "manhattan": _Manhattan, "cosine": _Cosine}


def kernel_for(metric, data, weights):
    return _KERNELS[metric](data, weights)


def _weighted_medians(data, weights, labels, k):
    """Per-dimension weighted median of every cluster; returns (centers, counts).

    The weighted median of a cluster is the value at which the cumulative
    weight of its sorted values first reaches half of the cluster's weight;
    when it reaches exactly half, the midpoint of that value and the next
    (so unit weights give ``numpy.median``). Rows of weight 0 play no part,
    so a row of weight w counts as w repeated rows. Empty clusters get NaN.
    """
    positive = weights > 0
    if not positive.all():
        data, weights, labels = data[positive], weights[positive], labels[positive]
    m, n = data.shape
    counts = np.bincount(labels, weights=weights, minlength=k)
    centers = np.full((k, n), np.nan)
    if m == 0:
        return centers, counts
    sizes = np.bincount(labels, minlength=k)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    occupied = np.flatnonzero(sizes)
    half = counts / 2.0
    for j in range(n):
        # Sort by (label, value): clusters contiguous, values ascending.
        order = np.lexsort((data[:, j], labels))
        lab = labels[order]
        val = data[order, j]
        cum = np.cumsum(weights[order])
        before_cluster = np.concatenate(([0.0], cum))[starts]
        within = cum - before_cluster[lab]
        below = within < half[lab]
        first = starts + np.bincount(lab[below], minlength=k)
        idx = first[occupied]
        med = val[idx]
        nxt = idx + 1
        exact = (within[idx] == half[occupied]) & (nxt < starts[occupied] + sizes[occupied])
        med[exact] = 0.5 * (med[exact] + val[nxt[exact]])
        centers[occupied, j] = med
    return centers, counts


# --------------------------------------------------------------------------
# Initialisation and empty clusters


def greedy_seed(kernel, k, rng, n_trials=None):
    """Greedy k-means++ seeding under the kernel's cost (:func:`quantize.core.seeding.greedy_seed`).

    D² sampling for the squared Euclidean cost, D¹ for L1, the squared
    chord for cosine. Returns None when every weighted row already
    coincides with a chosen centre.
    """
    return _seeding.greedy_seed(kernel.seed_rows, kernel.seed_weights, k, rng, kernel.cost_to,
                                n_trials=n_trials)


def init_centers(kernel, init, k, rng):
    """Initial centres by name ('kmeans++' / 'k-means++' or 'random').

    Returns None when the data has fewer than k distinct usable rows.
    """
    if init == "random":
        return _seeding._random_init(kernel.seed_rows, kernel.seed_weights, k, rng)
    if kernel.name == "euclidean":
        return _seeding._kmeanspp_init(kernel.data, kernel.seed_weights, k, rng)
    return greedy_seed(kernel, k, rng)


# --------------------------------------------------------------------------
# Public helpers


def nearest(data, centers, metric: str = "euclidean"):
    """Nearest centre of every row under a metric, and the row's cost.

    Parameters
    ----------
    data : array_like of shape (M, N)
        Observations.
    centers : array_like of shape (k, N)
        Centres to measure against.
    metric : {'euclidean', 'manhattan', 'cosine'}
        The distance.

    Returns
    -------
    labels : ndarray of shape (M,), intp
        Index of the nearest centre; ties go to the lowest index.
    cost : ndarray of shape (M,), float64
        The row's term of the k-means objective for that metric: squared
        Euclidean distance, L1 distance, or cosine distance ``1 - cos``.

    Raises
    ------
    ValueError
        On mismatched shapes, no centres, or an unknown metric.

    Examples
    --------
    >>> nearest([[0.0, 0.0], [5.0, 1.0]], [[1.0, 1.0], [4.0, 0.0]], "manhattan")
    (array([0, 1]), array([2., 2.]))
    >>> nearest([[3.0, 0.0], [0.0, 0.1]], [[1.0, 0.0], [0.0, 9.0]], "cosine")[0]
    array([0, 1])
    """
    check_metric(metric)
    data, centers = _search._check_data_centers(data, centers)
    kernel = kernel_for(metric, data, np.ones(data.shape[0]))
    labels = np.empty(data.shape[0], dtype=np.intp)
    cost = np.empty(data.shape[0], dtype=np.float64)
    kernel.assign(centers, labels, cost)
    return labels, cost


def pairwise_distances(data, centers, metric: str = "euclidean"):
    """Distance from every row to every centre.

    Parameters
    ----------
    data : array_like of shape (M, N)
        Observations.
    centers : array_like of shape (k, N)
        Centres.
    metric : {'euclidean', 'manhattan', 'cosine'}
        Euclidean distance (not squared), L1 distance, or cosine distance
        ``1 - cos`` (a zero row is at distance 1 from everything).

    Returns
    -------
    ndarray of shape (M, k), float64

    Raises
    ------
    ValueError
        On mismatched shapes, no centres, or an unknown metric.

    Examples
    --------
    >>> pairwise_distances([[0.0, 0.0]], [[3.0, 4.0], [1.0, 1.0]])
    array([[5.        , 1.41421356]])
    >>> pairwise_distances([[0.0, 0.0]], [[3.0, 4.0]], "manhattan")
    array([[7.]])
    """
    check_metric(metric)
    data, centers = _search._check_data_centers(data, centers)
    return kernel_for(metric, data, np.ones(data.shape[0])).pairwise(centers)

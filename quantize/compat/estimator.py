"""A scikit-learn-style ``KMeans`` estimator over quantize's k-means core.

Code written for ``sklearn.cluster.KMeans`` runs after changing one import::

    from quantize import KMeans

The parameters, methods and fitted attributes carry scikit-learn's names and
meanings: ``tol`` is relative to the data's mean per-feature variance, an
attempt stops when its labels no longer change or when the squared centre
shifts sum to at most that tolerance, clusters left empty take the point
farthest from its centre, and the labels are recomputed after the last
update unless the labels had already settled. From a given ``init`` array
with ``n_init=1`` the results agree with scikit-learn's to rounding.

Beyond scikit-learn, ``metric`` chooses the distance ('euclidean',
'manhattan' or 'cosine'; see :mod:`quantize.core.metrics`).

numpy only; scikit-learn is never imported.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..core import kmeans as _km
from ..core import metrics as _metrics
from ..errors import QuantizeWarning

__all__ = ["KMeans", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``.

    A subclass of both ValueError and AttributeError, as scikit-learn's.

    Examples
    --------
    >>> issubclass(NotFittedError, ValueError)
    True
    """


_PARAMS = ("n_clusters", "init", "n_init", "max_iter", "tol", "verbose", "random_state",
           "copy_x", "algorithm", "metric")


class KMeans:
    """k-means clustering with scikit-learn's interface.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters and centroids.
    init : {'k-means++', 'random'}, array_like of shape (n_clusters, n_features) \
or callable, default='k-means++'
        'k-means++' picks spread-out initial centroids by greedy,
        sample-weighted k-means++; 'random' picks ``n_clusters`` distinct
        observations at random; an array gives the initial centroids; a
        callable is called as ``init(X, n_clusters, random_state)`` and
        returns them.
    n_init : 'auto' or int, default='auto'
        Independent runs; the one with the lowest inertia is kept. 'auto'
        means 1 for 'k-means++' or an array, 10 for 'random' or a callable.
        An array ``init`` always runs once.
    max_iter : int, default=300
        Most Lloyd iterations per run.
    tol : float, default=1e-4
        A run stops once the sum over centroids of their squared shifts is
        at most ``tol`` times the mean of the per-feature variances of X.
    verbose : int, default=0
        Print the inertia at every iteration and why a run stopped.
    random_state : None, int, numpy.random.Generator or RandomState
        Source of randomness for the initialisation. An int makes ``fit``
        repeatable.
    copy_x : bool, default=True
        Accepted for compatibility; X is never modified.
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Accepted for compatibility; both run Lloyd iterations (Elkan's
        algorithm gives the same answer).
    metric : {'euclidean', 'manhattan', 'cosine'}, default='euclidean'
        The distance, an extension of scikit-learn: 'manhattan' is
        k-medians (per-dimension weighted medians), 'cosine' spherical
        k-means. ``inertia_``, ``transform`` and ``score`` then use that
        distance (L1, or ``1 - cos``).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centroids, float32 for float32 X, else float64.
    labels_ : ndarray of shape (n_samples,), int32
        The cluster of every training sample.
    inertia_ : float
        Sum of (sample-weighted) squared distances of the samples to their
        centroid (for other metrics, of their L1 or cosine distances).
    n_iter_ : int
        Iterations of the best run.
    n_features_in_ : int
        Features seen by ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, init=[[10.0, 2.0], [1.0, 2.0]], n_init=1).fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> km.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> km.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> float(km.inertia_)
    16.0
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, verbose=0, random_state=None, copy_x=True, algorithm="lloyd",
                 metric="euclidean"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.metric = metric

    # ------------------------------------------------------------------
    # scikit-learn's estimator protocol

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters, as a dict.

        Parameters
        ----------
        deep : bool
            Accepted for compatibility (there are no nested estimators).

        Returns
        -------
        dict
            Parameter name to value.

        Examples
        --------
        >>> KMeans(3).get_params()["n_clusters"]
        3
        """
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params) -> "KMeans":
        """Set constructor parameters; returns the estimator.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        KMeans
            ``self``.

        Raises
        ------
        ValueError
            For a name that is not a parameter.

        Examples
        --------
        >>> KMeans().set_params(n_clusters=4).n_clusters
        4
        """
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"invalid parameter {name!r} for KMeans; "
                                 f"valid parameters are {sorted(_PARAMS)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = KMeans().get_params()
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not _same(value, defaults[name])]
        return f"KMeans({', '.join(changed)})"

    # ------------------------------------------------------------------
    # Fitting

    def fit(self, X, y=None, sample_weight=None) -> "KMeans":
        """Compute the k-means clustering of X.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training samples.
        y : ignored
            Present for API consistency.
        sample_weight : array_like of shape (n_samples,) or float, optional
            Non-negative weight of every sample (default 1); a sample of
            weight w counts as w repeated samples.

        Returns
        -------
        KMeans
            The fitted estimator (``self``).

        Raises
        ------
        ValueError
            On bad parameters, X that is not 2-D, empty or non-finite, fewer
            samples than clusters, or bad weights or init.

        Warns
        -----
        RuntimeWarning
            When an init array is given with ``n_init`` > 1 (one run is made).
        QuantizeWarning
            When fewer distinct clusters than ``n_clusters`` were found
            (duplicate samples).

        Examples
        --------
        >>> km = KMeans(2, random_state=0).fit([[0.0], [1.0], [10.0], [11.0]])
        >>> sorted(km.cluster_centers_[:, 0].tolist())
        [0.5, 10.5]
        """
        X, dtype = _check_X(X, "X")
        n_samples, n_features = X.shape
        k = self._check_params(n_samples)
        weights = _check_weights(sample_weight, n_samples)
        metric = _metrics.check_metric(self.metric)
        init = self.init
        n_init = self.n_init
        if isinstance(init, str):
            if init not in ("k-means++", "random"):
                raise ValueError(f"init must be 'k-means++', 'random', an array or a callable, "
                                 f"got {init!r}")
        elif not callable(init):
            init = np.array(init, dtype=np.float64)
            _check_centers_shape(init, k, n_features)
            if not np.isfinite(init).all():
                raise ValueError("init array must be finite")
        if n_init == "auto":
            n_init = 1 if isinstance(init, np.ndarray) or init == "k-means++" else 10
        if isinstance(init, np.ndarray) and n_init != 1:
            warnings.warn(f"Explicit initial center position passed: performing only one init "
                          f"in KMeans instead of n_init={n_init}.", RuntimeWarning, stacklevel=2)
            n_init = 1
        rng = _generator(self.random_state)
        tol = _tolerance(X, self.tol)
        kernel = _metrics.kernel_for(metric, X, weights)
        if not (kernel.seed_weights > 0).any():
            raise ValueError(f"the {metric} metric needs at least one non-zero sample "
                             "of positive weight")

        best = None
        for _ in range(n_init):
            centers = self._init_centers(kernel, X, init, k, rng)
            if self.verbose:
                print("Initialization complete")
            labels, inertia, centers, n_iter = _lloyd(kernel, X, weights, centers,
                                                      int(self.max_iter), tol, self.verbose)
            if best is None or inertia < best[1]:
                best = (labels, inertia, centers, n_iter)
        labels, inertia, centers, n_iter = best
        distinct = np.unique(labels).size
        if distinct < k:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({k}). Possibly due to duplicate points in X.",
                          QuantizeWarning, stacklevel=2)
        self.cluster_centers_ = centers.astype(dtype)
        self.labels_ = labels.astype(np.int32)
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = n_features
        return self

    def _check_params(self, n_samples: int) -> int:
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_clusters must be an integer >= 1, got {k!r}")
        if n_samples < k:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) \
                or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        if not (isinstance(self.tol, numbers.Real) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.n_init != "auto" and (isinstance(self.n_init, bool) or not isinstance(
                self.n_init, numbers.Integral) or self.n_init < 1):
            raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {self.n_init!r}")
        if self.algorithm not in ("lloyd", "elkan"):
            raise ValueError(f"algorithm must be 'lloyd' or 'elkan', got {self.algorithm!r}")
        return int(k)

    def _init_centers(self, kernel, X, init, k, rng):
        if isinstance(init, np.ndarray):
            return init.copy()
        if callable(init):
            centers = np.array(init(X, k, rng), dtype=np.float64)
            _check_centers_shape(centers, k, X.shape[1])
            return centers
        centers = _metrics.init_centers(kernel, init, k, rng)
        if centers is None:
            # Fewer distinct samples than clusters: every distinct one, then
            # repeats; the surplus clusters end up empty or duplicated.
            usable = kernel.seed_weights > 0
            distinct = np.unique(X[usable], axis=0)
            extra = X[rng.choice(np.flatnonzero(usable), size=k - distinct.shape[0])]
            centers = np.concatenate([distinct, extra])
        return centers

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return the cluster of every training sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array_like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,), int32
            ``labels_``.

        Examples
        --------
        >>> KMeans(2, init=[[0.0], [10.0]]).fit_predict([[0.0], [1.0], [10.0]])
        array([0, 0, 1], dtype=int32)
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return the distances of the training samples to the centroids.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array_like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            As :meth:`transform`.

        Examples
        --------
        >>> KMeans(2, init=[[0.0], [10.0]]).fit_transform([[0.0], [2.0], [10.0]])
        array([[ 1., 10.],
               [ 1.,  8.],
               [ 9.,  0.]])
        """
        return self.fit(X, sample_weight=sample_weight)._transform(X)

    # ------------------------------------------------------------------
    # Using a fitted model

    def _check_fitted_X(self, X):
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError("This KMeans instance is not fitted yet. Call 'fit' with "
                                 "appropriate arguments before using this estimator.")
        X, dtype = _check_X(X, "X", allow_empty=True)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but KMeans is expecting "
                             f"{self.n_features_in_} features as input.")
        return X, dtype

    def predict(self, X, sample_weight=None) -> np.ndarray:
        """The nearest centroid of every sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            New samples.
        sample_weight : ignored
            Accepted for compatibility.

        Returns
        -------
        ndarray of shape (n_samples,), int32
            Index of the nearest centroid; ties go to the lowest index.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            When X has a different number of features than in ``fit``.

        Examples
        --------
        >>> km = KMeans(2, init=[[0.0], [10.0]]).fit([[0.0], [1.0], [10.0]])
        >>> km.predict([[2.0], [7.0]])
        array([0, 1], dtype=int32)
        """
        X, _ = self._check_fitted_X(X)
        labels, _ = _metrics.nearest(X, self.cluster_centers_, self.metric)
        return labels.astype(np.int32)

    def transform(self, X) -> np.ndarray:
        """Distances of every sample to every centroid.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Euclidean distances (not squared); L1 or cosine distances for
            the other metrics. float32 for float32 X.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            When X has a different number of features than in ``fit``.

        Examples
        --------
        >>> km = KMeans(1, init=[[0.0, 0.0]]).fit([[-1.0, 0.0], [1.0, 0.0]])
        >>> km.transform([[3.0, 4.0]])
        array([[5.]])
        """
        self._check_fitted_X(X)
        return self._transform(X)

    def _transform(self, X) -> np.ndarray:
        X, dtype = _check_X(X, "X", allow_empty=True)
        d = _metrics.pairwise_distances(X, self.cluster_centers_, self.metric)
        return d.astype(dtype)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Opposite of the inertia of X against the centroids (higher is better).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Samples.
        y : ignored
        sample_weight : array_like of shape (n_samples,), optional
            Weight of every sample (default 1).

        Returns
        -------
        float
            ``-sum(weight * squared distance to the nearest centroid)`` (L1
            or cosine distance for the other metrics).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            When X has a different number of features than in ``fit``.

        Examples
        --------
        >>> km = KMeans(1, init=[[0.0]]).fit([[-1.0], [1.0]])
        >>> km.score([[3.0], [0.0]])
        -9.0
        """
        X, _ = self._check_fitted_X(X)
        weights = _check_weights(sample_weight, X.shape[0], allow_zero_sum=True)
        _, cost = _metrics.nearest(X, self.cluster_centers_, self.metric)
        return -float(np.dot(weights, cost))


# --------------------------------------------------------------------------
# The Lloyd loop with scikit-learn's stopping rules


def _lloyd(kernel, X, weights, centers, max_iter, tol, verbose):
    """One run of Lloyd iterations from given centres, scikit-learn style.

    Stops when the labels of two successive assignments are identical
    ("strict convergence") or when the squared centre shifts sum to at most
    ``tol``; the labels are then recomputed from the final centres unless
    they had settled. Returns (labels, inertia, centers, n_iter).
    """
    n, k = X.shape[0], centers.shape[0]
    centers = np.array(centers, dtype=np.float64, copy=True)
    labels = np.empty(n, dtype=np.intp)
    labels_old = np.full(n, -1, dtype=np.intp)
    cost = np.empty(n, dtype=np.float64)
    strict = False
    i = 0
    for i in range(max_iter):
        kernel.assign(centers, labels, cost)
        if verbose:
            print(f"Iteration {i}, inertia {float(np.dot(weights, cost))}.")
        if kernel.name == "euclidean":
            new_centers = _euclidean_update(X, weights, labels, centers)
        else:
            new_centers, counts = kernel.update(weights, labels, k)
            empty = np.flatnonzero(~(counts > 0))
            if empty.size:
                _metrics.relocate_empty(X, kernel.seed_weights, cost, new_centers, empty)
        diff = new_centers - centers
        shift = float(np.einsum("ij,ij->", diff, diff))
        centers = new_centers
        if np.array_equal(labels, labels_old):
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict = True
            break
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift} within tolerance {tol}.")
            break
        labels_old[:] = labels
    if not strict:
        kernel.assign(centers, labels, cost)
    return labels, float(np.dot(weights, cost)), centers, i + 1


def _euclidean_update(X, weights, labels, centers):
    """Weighted means; each empty cluster takes the sample farthest from its centre.

    The farthest samples (by unweighted squared distance to their assigned
    centre, farthest first, ties to the lowest index) leave their clusters
    to found the empty ones, before the means are taken. If every sample
    sits on its centre, empty clusters keep their centre.
    """
    k = centers.shape[0]
    sums, counts = _km.cluster_sums(X, weights, labels, k)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        diff = X - centers[labels]
        dist = np.einsum("ij,ij->i", diff, diff)
        if dist.max() > 0:
            far = np.lexsort((np.arange(dist.size), -dist))[: empty.size]
            for new_id, row in zip(empty, far):
                old_id = labels[row]
                sums[old_id] -= X[row] * weights[row]
                counts[old_id] -= weights[row]
                sums[new_id] = X[row] * weights[row]
                counts[new_id] = weights[row]
    new_centers = centers.copy()
    full = counts > 0
    new_centers[full] = sums[full] / counts[full, None]
    return new_centers


# --------------------------------------------------------------------------
# Checks


def _check_X(X, name, allow_empty=False):
    """A C-contiguous float64 2-D array, and the dtype results should have."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array (n_samples, n_features), got shape {X.shape}; "
                         "reshape with X.reshape(-1, 1) for one feature or "
                         "X.reshape(1, -1) for one sample.")
    if (X.shape[0] == 0 and not allow_empty) or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, "
                         f"got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} must not contain NaN or infinity")
    return X, dtype


def _check_weights(sample_weight, n, allow_zero_sum=False):
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    if np.ndim(sample_weight) == 0:
        weights = np.full(n, float(sample_weight))
    else:
        weights = np.array(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {weights.shape}")
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError("sample_weight must be finite and non-negative")
    if not allow_zero_sum and not weights.sum() > 0:
        raise ValueError("sample_weight must not be all zero")
    return weights


def _check_centers_shape(centers, k, n_features):
    if centers.shape != (k, n_features):
        raise ValueError(f"init must have shape (n_clusters, n_features) = ({k}, {n_features}), "
                         f"got {centers.shape}")


def _tolerance(X, tol):
    """scikit-learn's absolute tolerance: ``tol`` times the mean feature variance."""
    if tol == 0:
        return 0.0
    return float(np.mean(np.var(X, axis=0)) * tol)


def _generator(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    return np.random.default_rng(random_state)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    try:
        return bool(a == b)
    except Exception:
        return False

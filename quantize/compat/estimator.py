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

It is also a full scikit-learn estimator (1.6 and later): it has
``__sklearn_tags__``, so pipelines, ``GridSearchCV``, ``cross_val_score``,
``clone``, ``check_is_fitted`` and the HTML repr work, and it passes
scikit-learn's own estimator checks. It takes sparse matrices (densified up
to :data:`SPARSE_DENSE_MAX_BYTES`), object arrays of numbers and
DataFrames (``feature_names_in_``), and has ``get_feature_names_out`` and
``set_output``. ``random_state=None`` draws from numpy's global RandomState,
as scikit-learn does.

Beyond scikit-learn, ``metric`` chooses the distance ('euclidean',
'manhattan' or 'cosine'; see :mod:`quantize.core.metrics`).

numpy only: scikit-learn is never needed. When it is installed, it is
loaded (by :mod:`._peers`) where it calls back into the estimator (tags, the
HTML repr) and to raise the not-fitted error and the fewer-clusters warning
as its own :class:`sklearn.exceptions.NotFittedError` and
:class:`sklearn.exceptions.ConvergenceWarning` too.
"""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np

from ..core import kmeans as _km
from ..core import metrics as _metrics
from ..errors import QuantizeWarning
from . import _peers

__all__ = ["KMeans", "NotFittedError", "SPARSE_DENSE_MAX_BYTES"]

#: Largest dense copy (in bytes, as float64) made of a sparse X; a larger
#: sparse X is refused with a ValueError that says so. 256 MiB: 32 million
#: values, say 100,000 samples of 320 features.
SPARSE_DENSE_MAX_BYTES = 1 << 28


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``.

    A subclass of both ValueError and AttributeError, as scikit-learn's.
    When scikit-learn is installed, the error raised is also a
    :class:`sklearn.exceptions.NotFittedError`.

    Examples
    --------
    >>> issubclass(NotFittedError, ValueError)
    True
    """


def _not_fitted_error(estimator) -> NotFittedError:
    cls = _peers.peer_class(NotFittedError, "sklearn.exceptions", "NotFittedError")
    return cls(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
               "appropriate arguments before using this estimator.")


def _convergence_warning() -> type:
    """QuantizeWarning, and scikit-learn's ConvergenceWarning when it is installed."""
    return _peers.peer_class(QuantizeWarning, "sklearn.exceptions", "ConvergenceWarning")


_PARAMS = ("n_clusters", "init", "n_init", "max_iter", "tol", "verbose", "random_state",
           "copy_x", "algorithm", "metric")
_OUTPUTS = ("default", "pandas", "polars")
#: scikit-learn's "leave this metadata request as it is" (``metadata_routing.UNCHANGED``).
_UNCHANGED = "$UNCHANGED$"


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
    random_state : None, int, RandomState or numpy.random.Generator
        Source of randomness for the initialisation. None draws from
        numpy's global RandomState (``np.random.seed`` makes ``fit``
        repeatable, as in scikit-learn); an int makes ``fit`` repeatable; a
        RandomState or Generator is drawn from (and advanced).
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
    feature_names_in_ : ndarray of shape (n_features_in_,), object
        The column names of X, when ``fit`` was given a DataFrame whose
        column names are all strings.

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
    >>> km.get_feature_names_out()
    array(['kmeans0', 'kmeans1'], dtype=object)
    """

    _estimator_type = "clusterer"

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
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags: a clusterer and transformer that takes sparse input.

        Called by scikit-learn (1.6 and later) only, so it is installed.
        """
        from_sklearn = _peers.optional("sklearn.utils")
        tags = from_sklearn.Tags(
            estimator_type="clusterer",
            target_tags=from_sklearn.TargetTags(required=False),
            transformer_tags=from_sklearn.TransformerTags(),
            input_tags=from_sklearn.InputTags(sparse=True),
        )
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run (scikit-learn's ``check_is_fitted`` asks this)."""
        return hasattr(self, "cluster_centers_")

    @property
    def _repr_html_(self):
        """scikit-learn's HTML diagram, for notebooks (needs scikit-learn).

        An AttributeError without scikit-learn, or when its ``display``
        setting is 'text', makes the notebook fall back to the text repr.
        """
        sklearn = _peers.optional("sklearn")
        if sklearn is None or sklearn.get_config().get("display") != "diagram":
            raise AttributeError("_repr_html_ is only defined when scikit-learn is installed "
                                 "and its 'display' configuration is 'diagram'")
        return self._repr_html_inner

    def _repr_html_inner(self) -> str:
        return _peers.optional("sklearn.utils").estimator_html_repr(self)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The text repr, and the HTML one when scikit-learn is installed."""
        output = {"text/plain": repr(self)}
        sklearn = _peers.optional("sklearn")
        if sklearn is not None and sklearn.get_config().get("display") == "diagram":
            output["text/html"] = self._repr_html_inner()
        return output

    def set_output(self, *, transform=None) -> "KMeans":
        """Choose the container that ``transform`` and ``fit_transform`` return.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'} or None
            'default' returns ndarrays; 'pandas' and 'polars' return a
            DataFrame whose columns are :meth:`get_feature_names_out` (and,
            for pandas, whose index is the input DataFrame's). None leaves
            the setting as it is. Without a setting, scikit-learn's global
            ``transform_output`` applies, as for its own estimators.

        Returns
        -------
        KMeans
            ``self``.

        Examples
        --------
        >>> KMeans(2).set_output(transform="default").n_clusters
        2
        """
        if transform is None:
            return self
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def set_fit_request(self, *, sample_weight=_UNCHANGED) -> "KMeans":
        """Whether ``fit`` asks meta-estimators for ``sample_weight`` (metadata routing).

        Only with scikit-learn's ``enable_metadata_routing=True``, as its own
        ``set_fit_request``: True, False, None (an error if it is passed) or
        an alias. Returns ``self``.
        """
        return self._set_request("fit", sample_weight)

    def set_score_request(self, *, sample_weight=_UNCHANGED) -> "KMeans":
        """Whether ``score`` asks meta-estimators for ``sample_weight`` (metadata routing).

        As :meth:`set_fit_request`, for ``score``. Returns ``self``.
        """
        return self._set_request("score", sample_weight)

    def get_metadata_routing(self):
        """scikit-learn's ``MetadataRequest`` of ``fit`` and ``score`` (both take sample_weight).

        Called by scikit-learn's meta-estimators, so it is installed.
        """
        return copy.deepcopy(self._metadata_requests())

    def _metadata_requests(self):
        request = getattr(self, "_metadata_request", None)
        if request is None:
            routing = _peers.optional("sklearn.utils.metadata_routing")
            request = routing.MetadataRequest(owner=type(self).__name__)
            for method in ("fit", "score"):
                getattr(request, method).add_request(param="sample_weight", alias=None)
        return request

    def _set_request(self, method, alias) -> "KMeans":
        sklearn = _peers.optional("sklearn")
        if sklearn is None or not sklearn.get_config().get("enable_metadata_routing"):
            raise RuntimeError("This method is only available when metadata routing is "
                               "enabled. You can enable it using "
                               "sklearn.set_config(enable_metadata_routing=True).")
        if alias != _UNCHANGED:
            request = self._metadata_requests()
            getattr(request, method).add_request(param="sample_weight", alias=alias)
            self._metadata_request = request
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of :meth:`transform`: 'kmeans0', 'kmeans1', ...

        Parameters
        ----------
        input_features : array_like of str, optional
            Checked against ``feature_names_in_`` (or ``n_features_in_``)
            when given; the names out do not depend on it.

        Returns
        -------
        ndarray of str, dtype object
            One name per cluster: the class name in lower case, then the
            cluster index.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            When ``input_features`` does not match the fitted features.

        Examples
        --------
        >>> KMeans(2, init=[[0.0], [1.0]]).fit([[0.0], [1.0]]).get_feature_names_out()
        array(['kmeans0', 'kmeans1'], dtype=object)
        """
        if not self.__sklearn_is_fitted__():
            raise _not_fitted_error(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            names_in = getattr(self, "feature_names_in_", None)
            if names_in is not None and not np.array_equal(names_in, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError("input_features should have length equal to number of "
                                 f"features ({self.n_features_in_}), got {len(input_features)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.cluster_centers_.shape[0])],
                          dtype=object)

    # ------------------------------------------------------------------
    # Fitting

    def fit(self, X, y=None, sample_weight=None) -> "KMeans":
        """Compute the k-means clustering of X.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
            Training samples: an array, a list, a DataFrame (its column
            names become ``feature_names_in_``), an object array of numbers,
            or a scipy sparse matrix or array (densified; see
            :data:`SPARSE_DENSE_MAX_BYTES`).
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
            samples than clusters, bad weights or init, or a sparse X too
            large to densify.

        Warns
        -----
        RuntimeWarning
            When an init array is given with ``n_init`` > 1 (one run is made).
        QuantizeWarning
            When fewer distinct clusters than ``n_clusters`` were found
            (duplicate samples). With scikit-learn installed it is also a
            :class:`sklearn.exceptions.ConvergenceWarning`, as scikit-learn
            warns.

        Examples
        --------
        >>> km = KMeans(2, random_state=0).fit([[0.0], [1.0], [10.0], [11.0]])
        >>> sorted(km.cluster_centers_[:, 0].tolist())
        [0.5, 10.5]
        """
        X, dtype, names = self._validate(X, reset=True)
        self._fit(X, dtype, sample_weight, names)
        return self

    def _fit(self, X, dtype, sample_weight, names) -> None:
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
                          f"in {type(self).__name__} instead of n_init={n_init}.",
                          RuntimeWarning, stacklevel=3)
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
                          _convergence_warning(), stacklevel=3)
        self.cluster_centers_ = centers.astype(dtype)
        self.labels_ = labels.astype(np.int32)
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

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
        X : array_like or sparse matrix of shape (n_samples, n_features)
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

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of the training samples to the centroids.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
        y : ignored
        sample_weight : array_like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples, n_clusters), or a DataFrame
            As :meth:`transform`.

        Examples
        --------
        >>> KMeans(2, init=[[0.0], [10.0]]).fit_transform([[0.0], [2.0], [10.0]])
        array([[ 1., 10.],
               [ 1.,  8.],
               [ 9.,  0.]])
        """
        data, dtype, names = self._validate(X, reset=True)
        self._fit(data, dtype, sample_weight, names)
        return self._wrap_output(self._distances(data, dtype), X)

    # ------------------------------------------------------------------
    # Using a fitted model

    def predict(self, X, sample_weight=None) -> np.ndarray:
        """The nearest centroid of every sample.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
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
            Before ``fit`` (also scikit-learn's, when it is installed).
        ValueError
            When X has a different number of features than in ``fit``, or
            other column names.

        Examples
        --------
        >>> km = KMeans(2, init=[[0.0], [10.0]]).fit([[0.0], [1.0], [10.0]])
        >>> km.predict([[2.0], [7.0]])
        array([0, 1], dtype=int32)
        """
        X, _, _ = self._validate(X, reset=False)
        labels, _ = _metrics.nearest(X, self.cluster_centers_, self.metric)
        return labels.astype(np.int32)

    def transform(self, X):
        """Distances of every sample to every centroid.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters), or a DataFrame
            Euclidean distances (not squared); L1 or cosine distances for
            the other metrics. float32 for float32 X. A pandas or polars
            DataFrame after :meth:`set_output`.

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
        data, dtype, _ = self._validate(X, reset=False)
        return self._wrap_output(self._distances(data, dtype), X)

    def _distances(self, X, dtype) -> np.ndarray:
        d = _metrics.pairwise_distances(X, self.cluster_centers_, self.metric)
        return d.astype(dtype)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Opposite of the inertia of X against the centroids (higher is better).

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
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
        X, _, _ = self._validate(X, reset=False)
        weights = _check_weights(sample_weight, X.shape[0], allow_zero_sum=True)
        _, cost = _metrics.nearest(X, self.cluster_centers_, self.metric)
        return -float(np.dot(weights, cost))

    # ------------------------------------------------------------------
    # Input and output, as scikit-learn's validate_data and set_output

    def _validate(self, X, *, reset: bool):
        """X as a float64 array, the dtype of the results, and X's column names.

        In scikit-learn's order: without ``reset`` (in fit, the caller
        records the names and the number of features) the estimator must be
        fitted, and X's column names, then its number of features, must
        match fit's.
        """
        if not reset and not self.__sklearn_is_fitted__():
            raise _not_fitted_error(self)
        names = _feature_names(X)
        if not reset:
            self._check_feature_names(names)
        X, dtype = _check_X(X, type(self).__name__)
        if not reset and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X, dtype, names

    def _check_feature_names(self, names) -> None:
        """Warn or raise, in scikit-learn's words, when the columns differ from fit's."""
        fitted = getattr(self, "feature_names_in_", None)
        name = type(self).__name__
        if fitted is None and names is None:
            return
        if fitted is None:
            warnings.warn(f"X has feature names, but {name} was fitted without feature names",
                          UserWarning, stacklevel=4)
            return
        if names is None:
            warnings.warn(f"X does not have valid feature names, but {name} was fitted with "
                          "feature names", UserWarning, stacklevel=4)
            return
        if len(fitted) == len(names) and np.all(fitted == names):
            return
        message = "The feature names should match those that were passed during fit.\n"
        unexpected = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))

        def listing(found):
            lines = [f"- {n}\n" for n in found[:5]]
            return "".join(lines) + ("- ...\n" if len(found) > 5 else "")

        if unexpected:
            message += "Feature names unseen at fit time:\n" + listing(unexpected)
        if missing:
            message += "Feature names seen at fit time, yet now missing:\n" + listing(missing)
        if not missing and not unexpected:
            message += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(message)

    def _wrap_output(self, data, X):
        """``data``, or a DataFrame of it, as :meth:`set_output` asks."""
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        if config is None:
            sklearn = _peers.loaded("sklearn")
            config = sklearn.get_config().get("transform_output", "default") \
                if sklearn is not None else "default"
        if config not in _OUTPUTS:
            raise ValueError(f"output config must be in {sorted(_OUTPUTS)}, got {config}")
        if config == "default":
            return data
        library = _peers.optional(config)
        if library is None:
            raise ImportError(f"Setting output container to '{config}' requires {config} "
                              "to be installed")
        columns = self.get_feature_names_out()
        if config == "pandas":
            index = X.index if isinstance(X, library.DataFrame) else None
            return library.DataFrame(data, index=index, columns=columns, copy=False)
        return library.DataFrame(data, schema=columns.tolist(), orient="row")


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


def _check_X(X, estimator_name):
    """A C-contiguous float64 2-D array, and the dtype results should have.

    As scikit-learn's ``check_array``: sparse matrices are densified (up to
    :data:`SPARSE_DENSE_MAX_BYTES`), object arrays converted to numbers (a
    TypeError or ValueError from numpy when they are not numbers), and the
    errors for complex, non-2-D, empty or non-finite X carry its words.
    """
    sparse = _peers.loaded("scipy.sparse")
    if sparse is not None and sparse.issparse(X):
        X = _densify(X, estimator_name)
    a = np.asarray(X)
    if a.dtype.kind == "O":
        to_numpy = getattr(X, "to_numpy", None)  # a DataFrame: missing values become NaN
        a = to_numpy(dtype=np.float64, na_value=np.nan) if callable(to_numpy) \
            else a.astype(np.float64)
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: X has dtype {a.dtype}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got dtype {a.dtype}")
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    if a.ndim != 2:
        if a.ndim > 2:
            raise ValueError(f"Found array with dim {a.ndim}. {estimator_name} expected <= 2.")
        got = "scalar" if a.ndim == 0 else "1D"
        raise ValueError(f"Expected 2D array, got {got} array instead (shape {a.shape}). "
                         "Reshape your data either using array.reshape(-1, 1) if your data "
                         "has a single feature or array.reshape(1, -1) if it contains a "
                         "single sample.")
    for count, what in ((a.shape[0], "sample(s)"), (a.shape[1], "feature(s)")):
        if count == 0:
            raise ValueError(f"Found array with 0 {what} (shape={a.shape}) while a minimum "
                             f"of 1 is required by {estimator_name}.")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        if np.isnan(a).any():
            raise ValueError("Input X contains NaN.")
        raise ValueError("Input X contains infinity or a value too large for "
                         f"dtype('{a.dtype}').")
    return a, dtype


def _densify(X, estimator_name):
    """A scipy sparse matrix or array as a dense ndarray, if that is cheap enough."""
    shape = X.shape
    need = 8 * int(np.prod(shape, dtype=np.int64)) if len(shape) else 8
    if need > SPARSE_DENSE_MAX_BYTES:
        raise ValueError(
            f"sparse X of shape {shape} would take {need / 2**20:,.0f} MiB as a dense array, "
            f"more than the {SPARSE_DENSE_MAX_BYTES / 2**20:,.0f} MiB that {estimator_name} "
            "densifies sparse input to (quantize.compat.estimator.SPARSE_DENSE_MAX_BYTES); "
            "pass fewer samples or features, or use sklearn.cluster.KMeans, which clusters "
            "sparse data as it is")
    return X.toarray()


def _feature_names(X):
    """X's column names when X is a DataFrame whose names are all strings, else None.

    As scikit-learn's ``_get_feature_names``: pandas, polars and pyarrow
    tables (and any other that has the ``__dataframe__`` protocol); names of
    mixed types, strings among them, raise a TypeError.
    """
    columns = None
    for module, kind, attribute in (("pandas", "DataFrame", "columns"),
                                    ("polars", "DataFrame", "columns"),
                                    ("pyarrow", "Table", "column_names")):
        library = _peers.loaded(module)
        if library is not None and isinstance(X, getattr(library, kind, ())):
            columns = list(getattr(X, attribute))
            break
    else:
        if hasattr(X, "__dataframe__"):
            try:
                columns = list(X.__dataframe__().column_names())
            except Exception:
                columns = None
    if not columns:
        return None
    names = np.empty(len(columns), dtype=object)
    names[:] = columns
    types = sorted(t.__qualname__ for t in {type(v) for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. "
            "If you want feature names to be stored and validated, you must convert "
            "them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input "
            "data, or convert them all to a non-string data type.")
    if types == ["str"]:
        return names
    return None


def _check_weights(sample_weight, n, allow_zero_sum=False):
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weights = np.asarray(sample_weight)
    if weights.ndim == 0:
        weights = np.full(n, float(weights))
    else:
        weights = np.array(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected ({n},)!")
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
    """A Generator for ``random_state``, by scikit-learn's rule for None.

    None (or the ``numpy.random`` module) means numpy's global RandomState,
    so that ``np.random.seed`` governs it; a RandomState is drawn from; an
    int (or a SeedSequence) seeds a new Generator; a Generator is used as it
    is.
    """
    if random_state is None or random_state is np.random:
        return np.random.default_rng(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, (bool, str, float)):
        raise ValueError(f"{random_state!r} cannot be used to seed a random number generator")
    try:  # an int; also a SeedSequence or BitGenerator
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise ValueError(f"{random_state!r} cannot be used to seed a random number "
                         "generator") from None


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    try:
        return bool(a == b)
    except Exception:
        return False

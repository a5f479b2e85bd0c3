"""Fitting a palette to a colour histogram: the k-means of the image layer.

A cheap start on grid cells, then Lloyd on every distinct colour
(docs/design.md, "The fit"). numpy only: images arrive as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core import colorspace as _cs
from ..core import kmeans as _kmeans
from ..core.histogram import ColourHistogram, colour_histogram, lookup_labels, pixel_keys
from ..core.search import nearest
from .result import QuantizeResult, _check_sort, fit_options, order_codes

__all__ = ["HistogramFit", "fit_histogram", "quantize_rgb", "apply_rgb", "pixel_labels",
           "nearest_codes", "nearest_codes_in"]


def quantize_rgb(pixels, k, *, max_iter, eps, init, attempts, seed, callback, metric,
                 color_space, sort) -> QuantizeResult:
    """:func:`quantize.image.pipeline.quantize_image` of a checked (H, W, 3) image."""
    options = fit_options(k, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                          color_space=color_space, sort=sort)
    height, width = pixels.shape[:2]

    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    fit = fit_histogram(hist, int(k), max_iter=max_iter, eps=eps, init=init,
                        attempts=attempts, seed=seed, callback=callback, metric=metric,
                        color_space=color_space, sort=sort)
    labels = lookup_labels(keys, hist.keys, fit.codes).reshape(height, width)
    return QuantizeResult(fit.codebook, labels, fit.counts, fit.inertia, fit.n_iter,
                          fit.converged, len(hist), options)


def pixel_labels(pixels, codebook, color_space: str = "srgb"):
    """Every pixel's nearest code, found once per distinct colour and looked up per pixel.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    color_space : {'srgb', 'oklab', 'lab'}
        Where "nearest" is measured.

    Returns
    -------
    labels : ndarray of shape (H, W)
    hist : ColourHistogram
        The image's distinct colours and their counts.
    codes, sq_dist : ndarray
        Each distinct colour's code and squared distance to it.
    """
    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    if color_space == "srgb":
        codes, sq_dist = nearest_codes(hist.colours, codebook)
    else:
        codes, sq_dist = nearest_codes_in(hist.colours, codebook, color_space)
    labels = lookup_labels(keys, hist.keys, codes).reshape(pixels.shape[:2])
    return labels, hist, codes, sq_dist


def apply_rgb(pixels, codebook, *, color_space) -> QuantizeResult:
    """:func:`quantize.image.pipeline.apply_codebook` of a checked (H, W, 3) image."""
    codebook = codebook.astype(np.uint8)
    labels, hist, codes, sq_dist = pixel_labels(pixels, codebook, color_space)
    counts = np.bincount(codes, weights=hist.counts, minlength=codebook.shape[0]).astype(np.int64)
    inertia = float(np.dot(hist.counts, sq_dist))
    options = {"codebook": codebook.shape[0]}
    if color_space != "srgb":
        options["color_space"] = color_space
    return QuantizeResult(codebook, labels, counts, inertia, 0, True, len(hist), options)


@dataclass(frozen=True)
class HistogramFit:
    """A codebook fitted to a colour histogram.

    Attributes
    ----------
    codebook : ndarray of shape (k, 3), uint8
        Distinct, used colours, most used first.
    codes : ndarray of shape (U,), intp
        The code of each histogram colour (nearest codebook row).
    counts : ndarray of shape (k,), int64
        Pixels per code.
    inertia : float
        Sum of squared errors over all pixels and channels, 0-255 units.
    n_iter : int
        Lloyd iterations run.
    converged : bool
        Whether the ``eps`` criterion was met.
    """

    codebook: np.ndarray
    codes: np.ndarray
    counts: np.ndarray
    inertia: float
    n_iter: int
    converged: bool


def fit_histogram(hist: ColourHistogram, k: int, *, max_iter: int = 100, eps: float = 0.25,
                  init: str = "kmeans++", attempts: int = 1, seed=0,
                  callback=None, metric: str = "euclidean", color_space: str = "srgb",
                  sort: str = "frequency") -> HistogramFit:
    """Fit a uint8 codebook of at most ``k`` colours to a colour histogram.

    The histogram may come from one image or be the merge of several (a
    shared palette). A histogram with at most ``k`` colours is its own
    codebook.

    Parameters
    ----------
    hist : ColourHistogram
        Distinct colours and their pixel counts.
    k : int
        Largest number of codes.
    max_iter, eps, init, attempts, seed, callback, metric
        As in :func:`quantize_image`.
    color_space : {'srgb', 'oklab', 'lab'}
        The space k-means runs in, with the same weights: the distinct
        colours (and the grid cells of the coarse passes) are converted to
        it, the float centres come back to sRGB, clipped and rounded to
        uint8, and every colour then takes its nearest uint8 code measured
        in that space. ``eps`` stays in 0-255 units (scaled by
        :func:`quantize.core.colorspace.eps_scale`); an ``init`` array is sRGB.
    sort : {'frequency', 'luminance', 'none'}
        The order of the codes (:func:`order_codes`).

    Returns
    -------
    HistogramFit
    """
    if metric != "euclidean":
        from ..core.metrics import check_metric
        check_metric(metric)
    _check_sort(sort)
    # Checked here once: the coarse-to-fine path runs the core's private steps.
    _kmeans.check_run_options(int(k), 3, init, max_iter, eps, attempts)
    working = None
    if _cs.check_color_space(color_space) != "srgb":
        working = _cs.to_working(hist.colours, color_space)
    if len(hist) <= k:
        centers, n_iter, converged = hist.colours.astype(np.float64), 0, True
    else:
        centers, n_iter, converged = _fit_codebook(
            hist, int(k), init=init, max_iter=max_iter, eps=eps, attempts=attempts,
            seed=seed, callback=callback, metric=metric, color_space=color_space,
            working=working)
    # With at most k colours each colour is its own code, at distance 0 in any
    # space: the exact sRGB search finds exactly that.
    exact = len(hist) <= k
    codebook, codes, counts, inertia = _finish_codebook(
        hist, centers, color_space="srgb" if exact else color_space, working=working, sort=sort)
    return HistogramFit(codebook, codes, counts, inertia, n_iter, converged)


# The start of the last stage (docs/design.md, "The fit"). Cell counts
# follow the spread of the image's colours, not the extent of the RGB cube.

#: k-means++ seeds from the finest level with at most
#: max(MIN_SEED_CELLS, SEED_CELLS_PER_CODE * k) cells; while the cells' own
#: spread is more than SEED_SPREAD of the error the seeds leave, from the
#: next finer level, down to max(MAX_SEED_CELLS, MAX_SEED_CELLS_PER_CODE * k).
SEED_CELLS_PER_CODE = 32
MIN_SEED_CELLS = 8192
SEED_SPREAD = 0.3
MAX_SEED_CELLS = 16384
MAX_SEED_CELLS_PER_CODE = 64
#: SEEDINGS_BUDGET // k seedings (at most MAX_SEEDINGS), ranked after
#: RANKING_STEPS Lloyd steps on the seed cells.
SEEDINGS_BUDGET = 256
MAX_SEEDINGS = 8
RANKING_STEPS = 8
#: Lloyd on cells stops at min(eps, COARSE_EPS) or after COARSE_MAX_ITER
#: iterations; it runs on levels down to a COARSE_FRACTION-th as many cells
#: as colours.
COARSE_EPS = 0.25
COARSE_MAX_ITER = 100
COARSE_FRACTION = 3


class _CellPyramid:
    """Grid cells of the histogram's colours at several sizes.

    At level ``shift``, colours whose values agree after ``>> shift`` share a
    cell; each occupied cell carries its pixel count and the count-weighted
    sum of its colours. Level 0 is the colours themselves; levels 1 and 2
    are counted from the colours (dense counting over their 2**21 and
    2**18 cells: one pass, no sort), each coarser level is merged from the
    one below it. Levels are built when first asked for.
    """

    def __init__(self, hist: ColourHistogram, values=None):
        # ``values`` (the colours in a working space, (U, 3) float) are what
        # the cells average; the cells themselves are always sRGB grid cells.
        self._hist = hist
        self._values = values
        self._weights = hist.counts.astype(np.float64)
        self._levels = {}
        self._colours64 = None

    def _counted(self, shift: int):
        bits = 8 - shift
        cells = self._hist.colours >> shift
        cell_id = ((cells[:, 0].astype(np.intp) << bits) | cells[:, 1]) << bits | cells[:, 2]
        size = 1 << (3 * bits)
        dense_w = np.bincount(cell_id, weights=self._weights, minlength=size)
        occupied = np.flatnonzero(dense_w)
        sums = np.empty((occupied.size, 3), dtype=np.float64)
        for j in range(3):
            sums[:, j] = np.bincount(cell_id, weights=self._weights * self._column(j),
                                     minlength=size)[occupied]
        mask = (1 << bits) - 1
        occupied_cells = np.stack([occupied >> (2 * bits), (occupied >> bits) & mask,
                                   occupied & mask], axis=1)
        return occupied_cells, sums, dense_w[occupied]

    @staticmethod
    def _merge(cells, sums, weights):
        """Merge the rows whose cell coordinates agree; returns (cells, sums, weights)."""
        packed = (cells[:, 0] << 16) | (cells[:, 1] << 8) | cells[:, 2]
        unique, inverse = np.unique(packed, return_inverse=True)
        n = unique.size
        merged_sums = np.empty((n, 3), dtype=np.float64)
        for j in range(3):
            merged_sums[:, j] = np.bincount(inverse, weights=sums[:, j], minlength=n)
        merged_cells = np.stack([unique >> 16, (unique >> 8) & 0xFF, unique & 0xFF], axis=1)
        return merged_cells, merged_sums, np.bincount(inverse, weights=weights, minlength=n)

    def _raw(self, shift: int):
        if shift not in self._levels:
            if shift <= 2:
                self._levels[shift] = self._counted(shift)
            else:
                cells, sums, weights = self._raw(shift - 1)
                self._levels[shift] = self._merge(cells >> 1, sums, weights)
        return self._levels[shift]

    def _column(self, j: int) -> np.ndarray:
        """Channel ``j`` of the colours (their values in the working space)."""
        return self._hist.colours[:, j] if self._values is None else self._values[:, j]

    def size(self, shift: int) -> int:
        """Occupied cells of side ``2**shift``."""
        return len(self._hist) if shift == 0 else self._raw(shift)[2].size

    def level(self, shift: int):
        """(means, weights) of the occupied cells of side ``2**shift``."""
        if shift == 0:
            if self._values is None:
                # Made once, and only when asked for (seeding on the colours).
                if self._colours64 is None:
                    self._colours64 = self._hist.colours.astype(np.float64)
                return self._colours64, self._weights
            return self._values, self._weights
        _, sums, weights = self._raw(shift)
        return sums / weights[:, None], weights

    def total_sq(self) -> float:
        """Count-weighted sum of the squared norms of the colours (their values)."""
        total = 0.0
        for j in range(3):
            column = self._column(j).astype(np.float64)
            total += float(self._weights @ (column * column))
        return total

    def spread(self, shift: int, total_sq: float) -> float:
        """Count-weighted sum of squared distances from the colours to their cells' means."""
        if shift == 0:
            return 0.0
        _, sums, weights = self._raw(shift)
        return max(0.0, total_sq - float(np.einsum("ij,ij->i", sums, sums) @ (1.0 / weights)))

    def parents(self, fine: int, coarse: int):
        """For each cell of level ``fine``: its cell at level ``coarse`` and their means' distance."""
        step = coarse - fine
        if fine == 0:
            # The packed r<<16 | g<<8 | b keys, each channel shifted at once.
            mask = (0xFF >> step) * 0x010101
            fine_keys = (self._hist.keys.astype(np.intp) >> step) & mask
        else:
            cells = self._raw(fine)[0] >> step
            fine_keys = (cells[:, 0] << 16) | (cells[:, 1] << 8) | cells[:, 2]
        coarse_cells = self._raw(coarse)[0]
        # Both levels' cells are in ascending (r, g, b) order.
        keys = (coarse_cells[:, 0] << 16) | (coarse_cells[:, 1] << 8) | coarse_cells[:, 2]
        index = np.searchsorted(keys, fine_keys)
        coarse_means = self.level(coarse)[0]
        fine_means = None if fine == 0 else self.level(fine)[0]
        radius = np.zeros(index.size)
        for j in range(3):
            column = self._column(j) if fine == 0 else fine_means[:, j]
            offset = column - coarse_means[index, j]
            offset *= offset
            radius += offset
        return index, np.sqrt(radius, out=radius)

    def finest_within(self, target: int) -> int:
        """The smallest shift whose occupied cells number at most ``target``."""
        if len(self._hist) <= target:
            return 0
        shift = 2 if self._raw(2)[2].size <= target else 3
        if shift == 2 and self._raw(1)[2].size <= target:
            shift = 1
        while shift < 8 and self.size(shift) > target:
            shift += 1
        return shift


def _fit_codebook(hist, k, *, init, max_iter, eps, attempts, seed, callback, metric="euclidean",
                  color_space="srgb", working=None):
    """Weighted k-means on the histogram: a cheap start, then Lloyd on every colour.

    The last stage is Lloyd's iterations on every distinct colour weighted
    by its pixel count (:func:`quantize.core.kmeans.lloyd`); ``max_iter`` and
    ``eps`` govern it, and ``converged`` says whether it met ``eps``. Its
    start comes from grid cells whose size follows the colours' spread
    (docs/design.md, "The fit"): k-means++ seeds on the level
    :func:`_seed_level` picks, the best of a few seedings
    (:func:`_best_seeding`), then Lloyd on that level and on finer ones,
    each handing its labels and bounds to the next. A given ``init`` starts
    the last stage as it is. Each attempt runs all of it; the lowest
    inertia wins (the first on ties). ``callback`` sees the last stage's
    iterations of every attempt, each numbered from 1.

    With a working colour space, ``working`` holds the histogram's colours
    in it; the cells (still sRGB grid cells) average those values, and the
    centres are converted back to sRGB at the end.

    Returns (float sRGB centres, iterations, converged).
    """
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    scale = 1.0 if working is None else _cs.eps_scale(color_space)
    if working is None:
        colours = hist.colours  # uint8: the last stage keeps its own float32 copy
    else:
        colours = working
        if not isinstance(init, str):
            init = _cs.to_working(np.asarray(init, dtype=np.float64), color_space)
    weights = hist.counts.astype(np.float64)
    if metric != "euclidean":
        # Other metrics run the core's own loop on every distinct colour.
        fit = _kmeans.cluster(colours.astype(np.float64), k, weights=weights, init=init,
                              max_iter=max_iter, eps=eps * scale, attempts=attempts, seed=rng,
                              callback=callback, metric=metric)
        return _cs.from_working(fit.centers, color_space), fit.n_iter, fit.converged
    pyramid = _CellPyramid(hist, values=working)
    if isinstance(init, str):
        init_fn = _kmeans.INIT_METHODS[init]
        seed_shift, first_seeds = _seed_level(pyramid, k, init_fn, rng)
        seed_points, seed_weights = pyramid.level(seed_shift)
        n_attempts = attempts
    else:
        n_attempts = 1
    # The coarse levels stop no later than the last stage's criterion, and
    # earlier than a loose one: their iterations are the cheap ones.
    coarse_eps = min(eps, COARSE_EPS) * scale
    best, best_inertia = None, math.inf
    for attempt in range(n_attempts):
        if isinstance(init, str):
            start = first_seeds if attempt == 0 else init_fn(seed_points, seed_weights, k, rng)
            if start is None:
                # Fewer distinct seed cells than k: seed from the colours.
                start = init_fn(pyramid.level(0)[0], weights, k, rng)
            # Lloyd on each level down to cells a third as many as the
            # colours: each level starts the next one close to its answer,
            # with bounds that spare most of the next level's search. On
            # the seed level, the best of a few seedings goes on: a bad
            # local minimum costs more than these cheap runs.
            state, previous = None, None
            start, fit = _best_seeding(seed_points, seed_weights, start, k, init_fn, rng,
                                       coarse_eps, seed_shift > 0)
            if seed_shift > 0:
                state, previous = fit.state, seed_shift
            # (Level 1 only when it seeds: it costs a count over 2**21 cells.)
            for shift in range(seed_shift - 1, 1, -1):
                if pyramid.size(shift) * COARSE_FRACTION > len(hist):
                    break
                points, cell_weights = pyramid.level(shift)
                if previous is not None:
                    state = state.spread(*pyramid.parents(shift, previous))
                fit = _kmeans.lloyd(points, cell_weights, start, COARSE_MAX_ITER, coarse_eps,
                                    state=state)
                start, state, previous = fit.centers, fit.state, shift
            if previous is not None:
                state = state.spread(*pyramid.parents(0, previous))
        else:
            start, state = np.asarray(init, dtype=np.float64), None
        fit = _kmeans.lloyd(colours, weights, start, max_iter, eps * scale, callback, state=state)
        # One attempt needs no inertia; of several, the first lowest wins.
        inertia = (_coarse_inertia(colours.astype(np.float64), weights, fit.centers)
                   if n_attempts > 1 else 0.0)
        if best is None or inertia < best_inertia:
            best, best_inertia = fit, inertia
    centers, n_iter, converged = best.centers, best.n_iter, best.converged
    del best, fit, state  # the rows' bounds: large for a photo with millions of colours
    if working is not None:
        centers = _cs.from_working(centers, color_space)
    return centers, n_iter, converged


def _seed_level(pyramid, k, init_fn, rng):
    """The grid level whose cells seed the fit, and a seeding drawn there.

    k-means++ places at most one seed per cell, so cells must be small next
    to the distances between the codes the image needs, and those follow
    the density of its colours, not the size of the RGB cube. Starting from
    the finest level with at most SEED_CELLS_PER_CODE * k cells, each
    seeding measures the error its ``k`` codes leave (its potential over
    the cells plus their own spread); while the cells' own spread is more
    than SEED_SPREAD of it, the next finer level is tried, down to the
    colours themselves or MAX_SEED_CELLS_PER_CODE * k cells.

    Returns (shift, seeds); seeds is None when the level has fewer than k
    distinct cells.
    """
    shift = pyramid.finest_within(max(MIN_SEED_CELLS, SEED_CELLS_PER_CODE * k))
    total_sq = None  # measured when a spread is first needed
    while True:
        points, weights = pyramid.level(shift)
        seeds = init_fn(points, weights, k, rng)
        if shift == 0 or pyramid.size(shift - 1) > max(MAX_SEED_CELLS,
                                                       MAX_SEED_CELLS_PER_CODE * k):
            return shift, seeds
        if total_sq is None:
            total_sq = pyramid.total_sq()
        spread = pyramid.spread(shift, total_sq)
        if seeds is not None:
            _, sq_dist = _kmeans.assign(points, seeds)
            if spread <= SEED_SPREAD * (float(weights @ sq_dist) + spread):
                return shift, seeds
        shift -= 1


def _best_seeding(points, weights, first, k, init_fn, rng, eps, coarse=True):
    """The best of a few seedings on the seed points, and Lloyd from it.

    SEEDINGS_BUDGET // k seedings in all (at least one, at most
    MAX_SEEDINGS): several for a small palette, where one unlucky seeding
    can cost several percent, one for a large one. Each gets RANKING_STEPS
    Lloyd steps, enough to rank them; the one with the lowest inertia then
    runs on to ``eps`` on grid cells (``coarse``). On the colours
    themselves the last stage comes next and is the one that runs to the
    user's criterion, so it starts where the ranking steps left off.

    Returns the chosen centres and, on grid cells, the fit (for its state).
    """
    n = max(1, min(MAX_SEEDINGS, SEEDINGS_BUDGET // k))
    if n == 1:
        if not coarse:
            return first, None
        fit = _kmeans.lloyd(points, weights, first, COARSE_MAX_ITER, eps)
        return fit.centers, fit
    best, best_inertia = None, math.inf
    for i in range(n):
        start = first if i == 0 else init_fn(points, weights, k, rng)
        if start is None:
            break
        fit = _kmeans.lloyd(points, weights, start, RANKING_STEPS, eps)
        inertia = _coarse_inertia(points, weights, fit.centers)
        if best is None or inertia < best_inertia:
            best, best_inertia = fit, inertia
    if coarse and not best.converged:
        best = _kmeans.lloyd(points, weights, best.centers, COARSE_MAX_ITER, eps, state=best.state)
    return best.centers, best


def _coarse_inertia(points, weights, centers) -> float:
    """Weighted sum of squared distances from points to their nearest centre."""
    _, sq_dist = _kmeans.assign(points, centers)
    return float(weights @ sq_dist)


def nearest_codes(colours, codebook):
    """Nearest code of each uint8 colour in a uint8 codebook, exactly.

    Parameters
    ----------
    colours : ndarray of shape (U, 3), uint8
    codebook : ndarray of shape (k, 3), uint8

    Returns
    -------
    codes : ndarray of shape (U,), intp
        Index of the nearest code; ties go to the lowest index.
    sq_dist : ndarray of shape (U,), int64
        The squared distance, an integer.

    Notes
    -----
    Every product and sum here is an integer below 2**24, so float32
    arithmetic is exact whatever the BLAS: labels are the same on every
    machine.
    """
    colours = np.asarray(colours, dtype=np.uint8)
    codebook = np.asarray(codebook, dtype=np.uint8)
    codes, sq_dist = nearest(colours, codebook, with_sq=True)
    return codes, sq_dist.astype(np.int64)


def _finish_codebook(hist: ColourHistogram, centers: np.ndarray, *, color_space: str = "srgb",
                     working=None, sort: str = "frequency"):
    """Round centres to uint8, relabel against them, drop unused/duplicate codes.

    Rounding moves centres, so every distinct colour is labelled again with
    its nearest uint8 code (nearest in ``color_space``; ``working`` holds the
    histogram's colours there); the codes are then ordered by ``sort``.
    """
    rounded, first = np.unique(np.clip(np.rint(centers), 0, 255).astype(np.uint8), axis=0,
                               return_index=True)
    if color_space == "srgb":
        codes, sq_dist = nearest_codes(hist.colours, rounded)
    else:
        codes, sq_dist = nearest_codes_in(hist.colours, rounded, color_space, working)
    counts = np.bincount(codes, weights=hist.counts, minlength=rounded.shape[0]).astype(np.int64)
    used = np.flatnonzero(counts > 0)
    if sort == "frequency":
        # Most used first; ties broken by the packed colour value (np.unique order).
        order = used[np.argsort(-counts[used], kind="stable")]
    else:
        order = used[order_codes(rounded[used], counts[used], sort, first=first[used])]
    remap = np.empty(rounded.shape[0], dtype=np.intp)
    remap[order] = np.arange(order.size)
    inertia = float(np.dot(hist.counts, sq_dist))
    return rounded[order], remap[codes], counts[order], inertia


def nearest_codes_in(colours, codebook, color_space: str, colours_working=None):
    """Nearest code of each uint8 colour, measured in a colour space.

    Parameters
    ----------
    colours : ndarray of shape (U, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    color_space : {'srgb', 'oklab', 'lab'}
        'srgb' is :func:`nearest_codes` (exact integers).
    colours_working : ndarray of shape (U, 3), optional
        ``colours`` already converted to the space.

    Returns
    -------
    codes : ndarray of shape (U,), intp
        Index of the nearest code in the space; ties to the lowest index.
    sq_dist : ndarray of shape (U,), int64
        The squared sRGB distance to that code (what inertia measures).

    Notes
    -----
    The search is float32 on values centred on the codebook's mean, so two
    codes whose distances differ by less than about 1e-6 of the space's
    range may be taken for each other.
    """
    if color_space == "srgb":
        return nearest_codes(colours, codebook)
    colours = np.asarray(colours, dtype=np.uint8)
    codebook = np.asarray(codebook, dtype=np.uint8)
    if colours_working is None:
        colours_working = _cs.to_working(colours, color_space)
    book = _cs.to_working(codebook, color_space)
    centre = book.mean(axis=0)
    codes = nearest(colours_working - centre, book - centre)
    diff = colours.astype(np.int32) - codebook[codes].astype(np.int32)
    return codes, np.einsum("ij,ij->i", diff, diff).astype(np.int64)

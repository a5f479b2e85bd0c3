"""quantize_image: pixels -> histogram -> k-means -> codebook -> labels.

Reads top to bottom like the data flow in DESIGN.md. Imports neither Pillow
nor click: images arrive and leave as numpy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import colorspace as _cs
from . import kmeans as _kmeans
from .histogram import ColourHistogram, colour_histogram, lookup_labels, pixel_keys

__all__ = [
    "QuantizeResult", "HistogramFit", "quantize_image", "fit_histogram", "apply_codebook",
    "nearest_codes", "psnr_from_mse", "SORT_RULES", "order_codes", "relabel",
]

#: Palette orders (``--sort``): most used first, darkest first, or as fitted.
SORT_RULES = ("frequency", "luminance", "none")


@dataclass(frozen=True)
class QuantizeResult:
    """A quantized image: its codebook and every pixel's code.

    Attributes
    ----------
    codebook : ndarray of shape (k, 3), uint8
        The palette, most used colour first (ties by colour value). Its rows
        are distinct and every one is used by at least one pixel.
    labels : ndarray of shape (H, W), uint8 or uint16
        The code of every pixel.
    counts : ndarray of shape (k,), int64
        Pixels per code.
    inertia : float
        Sum of squared distances (0-255 units, summed over RGB) from each
        pixel to its code, measured against the uint8 codebook.
    n_iter : int
        Lloyd iterations of the best attempt (0 when no k-means was needed).
    converged : bool
        Whether that attempt met the ``eps`` criterion.
    n_colours_in : int
        Distinct colours of the input.
    options : dict
        The options the result was made with.
    """

    codebook: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    n_colours_in: int
    options: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of codes actually used."""
        return int(self.codebook.shape[0])

    @property
    def mse(self) -> float:
        """Mean squared error over all channel values (0-255 units).

        Three channels (RGB); four for an RGBA codebook, whose inertia is
        measured on premultiplied colour and alpha
        (:mod:`quantize.transparency`).
        """
        return self.inertia / (self.labels.size * self.codebook.shape[1])

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB, ``10 log10(255² / mse)``."""
        return psnr_from_mse(self.mse)

    def reconstruct(self) -> np.ndarray:
        """The quantized image as an (H, W, 3) uint8 array ((H, W, 4) for RGBA)."""
        return self.codebook[self.labels]

    @property
    def has_alpha(self) -> bool:
        """Whether the codebook is RGBA (the image kept its transparency)."""
        return self.codebook.shape[1] == 4


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for 8-bit data; ``inf`` when ``mse`` is 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)


def quantize_image(
    pixels,
    k: int = 16,
    *,
    max_iter: int = 100,
    eps: float = 0.25,
    init: str = "kmeans++",
    attempts: int = 1,
    seed=0,
    callback=None,
    metric: str = "euclidean",
    color_space: str = "srgb",
    sort: str = "frequency",
) -> QuantizeResult:
    """Reduce an RGB image to at most ``k`` colours with weighted k-means.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        The image; RGBA keeps its transparency (see
        :func:`quantize.transparency.quantize_rgba`).
    k : int
        Largest number of colours wanted (at least 1).
    max_iter, eps, init, attempts, seed, callback
        As in :func:`quantize.kmeans.cluster`; ``eps`` is in 0-255 units.
    metric : {'euclidean', 'manhattan', 'cosine'}
        The distance the palette is fitted with (see
        :func:`quantize.kmeans.cluster`); every pixel then takes its nearest
        palette colour, and inertia, MSE and PSNR stay Euclidean.
    color_space : {'srgb', 'oklab', 'lab'}
        Where k-means runs and where each colour's nearest code is chosen
        (see :func:`fit_histogram`). Inertia, MSE and PSNR are always
        measured in sRGB.
    sort : {'frequency', 'luminance', 'none'}
        The palette order (see :func:`order_codes`).

    Returns
    -------
    QuantizeResult
        Codebook, labels and measures. An image with at most ``k`` colours
        comes back exactly.

    Raises
    ------
    ValueError
        On a badly shaped array or bad options.

    Examples
    --------
    >>> img = np.zeros((2, 2, 3), dtype=np.uint8); img[0, 0] = 255
    >>> quantize_image(img, 2).codebook.tolist()
    [[0, 0, 0], [255, 255, 255]]
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise ValueError("pixels must be an (H, W, 3) or (H, W, 4) uint8 array, got "
                         f"{pixels.dtype} {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image has no pixels (shape {pixels.shape})")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_sort(sort)
    _cs.check_color_space(color_space)
    if pixels.shape[2] == 4:
        from .transparency import quantize_rgba

        return quantize_rgba(pixels, int(k), max_iter=max_iter, eps=eps, init=init,
                             attempts=attempts, seed=seed, callback=callback, metric=metric,
                             color_space=color_space, sort=sort)
    options = {"k": int(k), "max_iter": max_iter, "eps": eps, "init": init,
               "attempts": attempts, "seed": seed}
    if color_space != "srgb":
        options["color_space"] = color_space
    if sort != "frequency":
        options["sort"] = sort
    height, width = pixels.shape[:2]

    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    fit = fit_histogram(hist, int(k), max_iter=max_iter, eps=eps, init=init,
                        attempts=attempts, seed=seed, callback=callback, metric=metric,
                        color_space=color_space, sort=sort)
    labels = lookup_labels(keys, hist.keys, fit.codes).reshape(height, width)
    return QuantizeResult(fit.codebook, labels, fit.counts, fit.inertia, fit.n_iter,
                          fit.converged, len(hist), options)


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
        :func:`quantize.colorspace.eps_scale`); an ``init`` array is sRGB.
    sort : {'frequency', 'luminance', 'none'}
        The order of the codes (:func:`order_codes`).

    Returns
    -------
    HistogramFit
    """
    if metric != "euclidean":
        from .metrics import check_metric
        check_metric(metric)
    _check_sort(sort)
    # Checked here once: the coarse-to-fine path runs the core's private steps.
    _kmeans._check_run_options(int(k), 3, init, max_iter, eps, attempts)
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


def apply_codebook(pixels, codebook, *, color_space: str = "srgb") -> QuantizeResult:
    """Map an image onto an existing codebook (vector quantization).

    Each pixel takes its nearest code (ties to the lowest index), found once
    per distinct colour and looked up per pixel. The codebook is kept as
    given: same rows, same order, unused rows included.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
        (H, W, 4) RGBA keeps its transparency: see
        :func:`quantize.transparency.apply_rgba`.
    codebook : ndarray of shape (k, 3), uint8
    color_space : {'srgb', 'oklab', 'lab'}
        The space "nearest" is measured in. Inertia stays in sRGB.

    Returns
    -------
    QuantizeResult
        ``n_iter`` is 0.
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise ValueError("pixels must be an (H, W, 3) or (H, W, 4) uint8 array, got "
                         f"{pixels.dtype} {pixels.shape}")
    if codebook.ndim != 2 or codebook.shape[1] != 3 or codebook.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3), got {codebook.shape}")
    _cs.check_color_space(color_space)
    if pixels.shape[2] == 4:
        from .transparency import apply_rgba

        return apply_rgba(pixels, codebook, color_space=color_space)
    codebook = codebook.astype(np.uint8)
    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    if color_space == "srgb":
        codes, sq_dist = nearest_codes(hist.colours, codebook)
    else:
        codes, sq_dist = nearest_codes_in(hist.colours, codebook, color_space)
    counts = np.bincount(codes, weights=hist.counts, minlength=codebook.shape[0]).astype(np.int64)
    inertia = float(np.dot(hist.counts, sq_dist))
    labels = lookup_labels(keys, hist.keys, codes).reshape(pixels.shape[:2])
    options = {"codebook": codebook.shape[0]}
    if color_space != "srgb":
        options["color_space"] = color_space
    return QuantizeResult(codebook, labels, counts, inertia, 0, True, len(hist), options)


#: Coarse bins aimed at per code for the first k-means pass, and at least
#: MIN_BINS of them.
BINS_PER_CODE = 64
MIN_BINS = 16384
#: Lloyd steps on bins one level finer (half the cell size), then on every
#: distinct colour: each level starts from the previous level's centres.
REFINE_STEPS = 5
REFINE_LEVELS = 2
POLISH_STEPS = 2
#: k-means++ seeds from cells twice as large when there are this many per code.
SEED_CELLS_PER_CODE = 4
#: Up to this many codes the quantization error is large next to the cells of
#: side 4, so the fit is lighter: BINS_PER_CODE cells per code with no floor,
#: seeds from those cells, SMALL_REFINE_STEPS per finer level and no steps on
#: every colour (the final relabelling still visits every colour). Measured on
#: the five sample photos at k = 8 and 16, seeds 0-5: mean MSE 1.3% above the
#: full schedule (at most 3.1% for one photo and k; 9.8% for the worst single
#: seed), at about half the time; 5 refinement steps instead of 3 gave 0.8%
#: (2.0%, 6.4%) but missed the 5x-cv2.kmeans target at k=16 (4.84x).
SMALL_K = 16
SMALL_REFINE_STEPS = 3


@dataclass(frozen=True)
class _Schedule:
    """How the coarse-to-fine fit spends its steps for a given k."""

    target: int          # coarse cells aimed at
    seed_coarser: bool   # k-means++ from the level above the coarse one
    refine_steps: int    # Lloyd steps on each finer level of cells
    polish_steps: int    # Lloyd steps on every distinct colour


def _schedule(k: int) -> _Schedule:
    if k <= SMALL_K:
        return _Schedule(BINS_PER_CODE * k, False, SMALL_REFINE_STEPS, 0)
    return _Schedule(max(MIN_BINS, BINS_PER_CODE * k), True, REFINE_STEPS, POLISH_STEPS)


class _CellPyramid:
    """Grid cells of the histogram's colours at several sizes.

    At level ``shift``, colours whose values agree after ``>> shift`` share a
    cell; each occupied cell carries its pixel count and the count-weighted
    sum of its colours. The finest level is built from the colours once,
    each coarser level from the one below it.
    """

    FINEST = 2

    def __init__(self, hist: ColourHistogram, values=None):
        # The finest level by dense counting over its 2**18 cells (one pass,
        # no sort); the coarser ones merge its few thousand rows. ``values``
        # (the colours in a working space, (U, 3) float) are what the cells
        # average; the cells themselves are always sRGB grid cells.
        bits = 8 - self.FINEST
        cells = hist.colours >> self.FINEST
        cell_id = ((cells[:, 0].astype(np.intp) << bits) | cells[:, 1]) << bits | cells[:, 2]
        weights = hist.counts.astype(np.float64)
        size = 1 << (3 * bits)
        dense_w = np.bincount(cell_id, weights=weights, minlength=size)
        occupied = np.flatnonzero(dense_w)
        sums = np.empty((occupied.size, 3), dtype=np.float64)
        for j in range(3):
            column = hist.colours[:, j] if values is None else values[:, j]
            sums[:, j] = np.bincount(cell_id, weights=weights * column,
                                     minlength=size)[occupied]
        mask = (1 << bits) - 1
        occupied_cells = np.stack([occupied >> (2 * bits), (occupied >> bits) & mask,
                                   occupied & mask], axis=1)
        self._levels = {self.FINEST: (occupied_cells, sums, dense_w[occupied])}

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
            cells, sums, weights = self._raw(shift - 1)
            self._levels[shift] = self._merge(cells >> 1, sums, weights)
        return self._levels[shift]

    def level(self, shift: int):
        """(means, weights) of the occupied cells of side ``2**shift``."""
        _, sums, weights = self._raw(shift)
        return sums / weights[:, None], weights

    def coarsest_within(self, target: int) -> int:
        """The smallest shift whose occupied cells number at most ``target``."""
        shift = self.FINEST
        while shift < 8 and self._raw(shift)[2].size > target:
            shift += 1
        return shift


def _lloyd_steps(points, weights, centers, steps, eps, callback=None):
    """Lloyd steps from given centres; the nearest-centre search is float32
    (up to 64 centres, distances keep 17 significant bits: see
    :func:`quantize.kmeans._nearest_packed`)."""
    centers, _, _, n, converged = _kmeans._run_once(
        points, weights, centers, steps, eps, callback, np.float32, want_sq=False)
    return centers, n, converged


def _counting_on(callback, done: int):
    """``callback`` with iterations numbered after the ``done`` already reported."""
    if callback is None:
        return None
    return lambda iteration, shift: callback(done + iteration, shift)


def _coarse_inertia(points, weights, centers) -> float:
    """Weighted sum of squared distances from points to their nearest centre."""
    _, sq_dist = _kmeans.assign(points, centers)
    return float(weights @ sq_dist)


def _fit_codebook(hist, k, *, init, max_iter, eps, attempts, seed, callback, metric="euclidean",
                  color_space="srgb", working=None):
    """Weighted k-means on the histogram, coarse to fine.

    k-means runs to convergence on coarse grid cells (their mean colours,
    weighted by pixel count), then a few Lloyd steps refine the centres on
    cells half that size, and finally on every distinct colour (above
    SMALL_K codes; see :func:`_schedule`). Each level runs Lloyd steps on
    its own points (float32 search); only the starting centres come from the
    coarser level. ``callback`` sees the coarse iterations of every attempt,
    each from 1, then the refinement steps numbered on from the chosen
    attempt's count (with one attempt: 1 to n_iter).

    With a working colour space, ``working`` holds the histogram's colours
    in it; the cells (still sRGB grid cells) average those values, and the
    centres are converted back to sRGB at the end.

    Returns (float sRGB centres, iterations, converged).
    """
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    if working is None:
        colours = hist.colours.astype(np.float64)
    else:
        colours = working
        eps = eps * _cs.eps_scale(color_space)
        if not isinstance(init, str):
            init = _cs.to_working(np.asarray(init, dtype=np.float64), color_space)
    weights = hist.counts.astype(np.float64)
    plan = _schedule(k)
    target = plan.target
    if len(hist) <= 2 * target or metric != "euclidean":
        # Other metrics run on every distinct colour (the cell pyramid's
        # refinement steps are euclidean).
        fit = _kmeans.cluster(colours, k, weights=weights, init=init, max_iter=max_iter,
                              eps=eps, attempts=attempts, seed=rng, callback=callback,
                              metric=metric)
        return _cs.from_working(fit.centers, color_space), fit.n_iter, fit.converged
    pyramid = _CellPyramid(hist, values=working)
    shift = pyramid.coarsest_within(target)
    means, bin_weights = pyramid.level(shift)
    if isinstance(init, str):
        seeds, seed_weights = means, bin_weights
        if (plan.seed_coarser and shift < 7
                and pyramid.level(shift + 1)[1].size >= SEED_CELLS_PER_CODE * k):
            # Seed from cells twice as large: k-means++ costs k passes over
            # its points, and the Lloyd steps below move the seeds where
            # they belong.
            seeds, seed_weights = pyramid.level(shift + 1)
        init_fn = _kmeans.INIT_METHODS[init]
        starts = [init_fn(seeds, seed_weights, k, rng) for _ in range(attempts)]
    else:
        starts = [np.asarray(init, dtype=np.float64)]
    if any(start is None for start in starts):
        # Fewer distinct seed cells than k: not expected here (the coarse
        # level has over 2k cells), kept as a safe path through the core.
        fit = _kmeans.cluster(means, k, weights=bin_weights, init=init, max_iter=max_iter,
                              eps=eps, attempts=attempts, seed=rng, callback=callback)
        centers, n_iter, converged = fit.centers, fit.n_iter, fit.converged
    else:
        best, best_inertia = None, math.inf
        for start in starts:
            fit = _lloyd_steps(means, bin_weights, start, max_iter, eps, callback)
            # One attempt needs no inertia; of several, the first lowest wins.
            inertia = _coarse_inertia(means, bin_weights, fit[0]) if len(starts) > 1 else 0.0
            if best is None or inertia < best_inertia:
                best, best_inertia = fit, inertia
        centers, n_iter, converged = best
    for finer_shift in range(shift - 1, max(_CellPyramid.FINEST, shift - REFINE_LEVELS) - 1, -1):
        finer, finer_weights = pyramid.level(finer_shift)
        centers, steps, converged = _lloyd_steps(finer, finer_weights, centers,
                                                 plan.refine_steps, eps, _counting_on(callback, n_iter))
        n_iter += steps
    if plan.polish_steps:
        centers, steps, converged = _lloyd_steps(colours, weights, centers, plan.polish_steps, eps,
                                                 _counting_on(callback, n_iter))
        n_iter += steps
    if working is not None:
        centers = _cs.from_working(centers, color_space)
    return centers, n_iter, converged


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
    codes = np.empty(colours.shape[0], dtype=np.intp)
    sq_dist = np.empty(colours.shape[0], dtype=np.float32)
    _kmeans._nearest(_kmeans._augment(colours, np.float32), codebook, codes,
                     _kmeans._new_buffer(colours.shape[0], codebook.shape[0], np.float32), sq_dist)
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
    codes = np.empty(colours.shape[0], dtype=np.intp)
    _kmeans._nearest(_kmeans._augment(colours_working - centre, np.float32), book - centre, codes,
                     _kmeans._new_buffer(colours.shape[0], codebook.shape[0], np.float32))
    diff = colours.astype(np.int32) - codebook[codes].astype(np.int32)
    return codes, np.einsum("ij,ij->i", diff, diff).astype(np.int64)


def _check_sort(sort: str) -> str:
    if sort not in SORT_RULES:
        raise ValueError(f"sort must be one of {', '.join(SORT_RULES)}, got {sort!r}")
    return sort


def order_codes(codebook, counts, sort: str = "frequency", *, first=None) -> np.ndarray:
    """The palette order of a codebook: a permutation of its rows.

    The rules (``--sort``), each stable and deterministic:

    ``frequency``
        Most used first (largest ``counts``); ties keep the given order
        (for a fitted codebook: ascending packed colour value).
    ``luminance``
        Darkest first, by relative luminance Y of the sRGB colour; ties keep
        the given order.
    ``none``
        The order the k-means centres came in (``first``: the index of the
        first centre that rounded to each row; the given order when None).
        With ``--init CODEBOOK`` that is the initial codebook's order.

    For an RGBA codebook the entries with transparency come first, so that
    a PNG's tRNS chunk is as short as possible: the fully transparent entry,
    then the translucent ones, then the opaque ones, each group ordered by
    the rule.

    Parameters
    ----------
    codebook : ndarray of shape (k, 3) or (k, 4), uint8
    counts : ndarray of shape (k,)
    sort : {'frequency', 'luminance', 'none'}
    first : ndarray of shape (k,), optional

    Returns
    -------
    ndarray of shape (k,), intp

    Examples
    --------
    >>> book = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8)
    >>> order_codes(book, np.array([1, 5, 5])).tolist()
    [1, 2, 0]
    >>> order_codes(book, np.array([1, 5, 5]), "luminance").tolist()
    [1, 2, 0]
    >>> order_codes(book, np.array([1, 5, 5]), "none").tolist()
    [0, 1, 2]
    """
    _check_sort(sort)
    codebook = np.asarray(codebook)
    n = codebook.shape[0]
    position = np.arange(n)
    if sort == "frequency":
        keys = [position, -np.asarray(counts, dtype=np.int64)]
    elif sort == "luminance":
        keys = [position, _cs.luminance(codebook[:, :3])]
    else:
        keys = [position if first is None else np.asarray(first)]
    if codebook.shape[1] == 4:
        alpha = codebook[:, 3]
        keys.append(np.where(alpha == 0, 0, np.where(alpha < 255, 1, 2)))
    return np.lexsort(keys).astype(np.intp)


def pixel_inertia(pixels, codebook, labels, rows: int = 256) -> float:
    """Sum of squared errors between pixels and their codes' colours (0-255 units).

    RGB images: over R, G and B. RGBA: over premultiplied R, G, B and alpha
    (see :mod:`quantize.transparency`), so that fully transparent pixels
    cost nothing whatever their colour.
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook)
    total = 0.0
    for r0 in range(0, pixels.shape[0], rows):
        block = pixels[r0:r0 + rows]
        quant = codebook[labels[r0:r0 + rows]]
        if codebook.shape[1] == 4:
            from .transparency import premultiplied

            diff = premultiplied(block) - premultiplied(quant)
            total += float(np.einsum("ijk,ijk->", diff, diff))
        else:
            diff = block.astype(np.int32) - quant
            total += float(np.einsum("ijk,ijk->", diff, diff, dtype=np.int64))
    return total


def relabel(result: QuantizeResult, pixels, labels, *, sort=None) -> QuantizeResult:
    """A result with new codes for its pixels (e.g. dithered), recounted.

    Counts and inertia are measured again against ``pixels``. With ``sort``
    (a fitted palette), codes no pixel uses any more are dropped and the
    rest put in the palette order again; with ``sort=None`` (a given
    codebook, as in :func:`apply_codebook`) the codebook is kept as it is.
    """
    labels = np.asarray(labels)
    k = result.codebook.shape[0]
    counts = np.bincount(labels.ravel(), minlength=k).astype(np.int64)
    codebook = result.codebook
    if sort is not None:
        used = np.flatnonzero(counts > 0)
        # 'none' keeps the fitted order (the given order, in order_codes).
        order = used[order_codes(codebook[used], counts[used], sort)]
        remap = np.zeros(k, dtype=np.intp)
        remap[order] = np.arange(order.size)
        codebook, counts = codebook[order], counts[order]
        labels = remap[labels].astype(labels.dtype)
    inertia = pixel_inertia(pixels, codebook, labels)
    return QuantizeResult(codebook, labels, counts, inertia, result.n_iter, result.converged,
                          result.n_colours_in, dict(result.options))

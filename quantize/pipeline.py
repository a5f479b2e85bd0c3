"""quantize_image: pixels -> histogram -> k-means -> codebook -> labels.

Reads top to bottom like the data flow in DESIGN.md. Imports neither Pillow
nor click: images arrive and leave as numpy arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import kmeans as _kmeans
from .histogram import ColourHistogram, colour_histogram, lookup_labels, pixel_keys

__all__ = [
    "QuantizeResult", "HistogramFit", "quantize_image", "fit_histogram", "apply_codebook",
    "nearest_codes", "psnr_from_mse",
]


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
        """Mean squared error over all channel values (0-255 units)."""
        return self.inertia / (self.labels.size * 3)

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB, ``10 log10(255² / mse)``."""
        return psnr_from_mse(self.mse)

    def reconstruct(self) -> np.ndarray:
        """The quantized image as an (H, W, 3) uint8 array."""
        return self.codebook[self.labels]


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
) -> QuantizeResult:
    """Reduce an RGB image to at most ``k`` colours with weighted k-means.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
        The image.
    k : int
        Largest number of colours wanted (at least 1).
    max_iter, eps, init, attempts, seed, callback
        As in :func:`quantize.kmeans.cluster`; ``eps`` is in 0-255 units.

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
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be an (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image has no pixels (shape {pixels.shape})")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    options = {"k": int(k), "max_iter": max_iter, "eps": eps, "init": init,
               "attempts": attempts, "seed": seed}
    height, width = pixels.shape[:2]

    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    fit = fit_histogram(hist, int(k), max_iter=max_iter, eps=eps, init=init,
                        attempts=attempts, seed=seed, callback=callback)
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
                  callback=None) -> HistogramFit:
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
    max_iter, eps, init, attempts, seed, callback
        As in :func:`quantize_image`.

    Returns
    -------
    HistogramFit
    """
    if len(hist) <= k:
        centers, n_iter, converged = hist.colours.astype(np.float64), 0, True
    else:
        centers, n_iter, converged = _fit_codebook(
            hist, int(k), init=init, max_iter=max_iter, eps=eps, attempts=attempts,
            seed=seed, callback=callback)
    codebook, codes, counts, inertia = _finish_codebook(hist, centers)
    return HistogramFit(codebook, codes, counts, inertia, n_iter, converged)


def apply_codebook(pixels, codebook) -> QuantizeResult:
    """Map an image onto an existing codebook (vector quantization).

    Each pixel takes its nearest code (ties to the lowest index), found once
    per distinct colour and looked up per pixel. The codebook is kept as
    given: same rows, same order, unused rows included.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8

    Returns
    -------
    QuantizeResult
        ``n_iter`` is 0.
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be an (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    if codebook.ndim != 2 or codebook.shape[1] != 3 or codebook.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3), got {codebook.shape}")
    codebook = codebook.astype(np.uint8)
    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    codes, sq_dist = nearest_codes(hist.colours, codebook)
    counts = np.bincount(codes, weights=hist.counts, minlength=codebook.shape[0]).astype(np.int64)
    inertia = float(np.dot(hist.counts, sq_dist))
    labels = lookup_labels(keys, hist.keys, codes).reshape(pixels.shape[:2])
    return QuantizeResult(codebook, labels, counts, inertia, 0, True, len(hist),
                          {"codebook": codebook.shape[0]})


#: Coarse bins aimed at per code before the first k-means pass; the
#: polishing passes then run on the full histogram.
BINS_PER_CODE = 32
MIN_BINS = 4096
POLISH_STEPS = 2


def _coarse_bins(hist: ColourHistogram, target: int):
    """Merge colours into grid cells until at most ``target`` cells remain.

    Returns (means, weights): the count-weighted mean colour of each occupied
    cell, and its pixel count.
    """
    colours = hist.colours
    counts = hist.counts.astype(np.float64)
    for shift in range(2, 8):
        bits = 8 - shift
        cell = colours >> shift
        cell_id = ((cell[:, 0].astype(np.intp) << bits) | cell[:, 1]) << bits | cell[:, 2]
        weights = np.bincount(cell_id, weights=counts, minlength=1 << (3 * bits))
        occupied = np.flatnonzero(weights)
        if occupied.size <= target:
            break
    means = np.empty((occupied.size, 3), dtype=np.float64)
    for j in range(3):
        means[:, j] = np.bincount(cell_id, weights=counts * colours[:, j],
                                  minlength=1 << (3 * bits))[occupied]
    weights = weights[occupied]
    means /= weights[:, None]
    return means, weights


def _fit_codebook(hist, k, *, init, max_iter, eps, attempts, seed, callback):
    """Weighted k-means on the histogram: coarse bins first, then exact polish.

    Returns (float centres, iterations, converged).
    """
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    colours = hist.colours.astype(np.float64)
    weights = hist.counts.astype(np.float64)
    target = max(MIN_BINS, BINS_PER_CODE * k)
    if len(hist) > 2 * target:
        means, bin_weights = _coarse_bins(hist, target)
    else:
        means, bin_weights = colours, weights
    if means.shape[0] > k:
        fit = _kmeans.cluster(means, k, weights=bin_weights, init=init, max_iter=max_iter,
                              eps=eps, attempts=attempts, seed=rng, callback=callback)
        centers, n_iter, converged = fit.centers, fit.n_iter, fit.converged
    else:
        centers, n_iter, converged = means, 0, True
    if means is not colours and POLISH_STEPS:
        # Exact Lloyd steps on every distinct colour, from the binned answer.
        x_sq = np.einsum("ij,ij->i", colours, colours)
        centers, _, _, steps, _ = _kmeans._run_once(
            colours, weights, centers, POLISH_STEPS, eps, x_sq, None, np.float32)
        n_iter += steps
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
    _kmeans._nearest(_kmeans._augment(colours, np.float32), codebook, codes,
                     _kmeans._new_buffer(colours.shape[0], codebook.shape[0], np.float32))
    diff = colours.astype(np.int32) - codebook[codes].astype(np.int32)
    return codes, np.einsum("ij,ij->i", diff, diff).astype(np.int64)


def _finish_codebook(hist: ColourHistogram, centers: np.ndarray):
    """Round centres to uint8, relabel against them, drop unused/duplicate codes.

    Rounding moves centres, so every distinct colour is labelled again with
    its nearest uint8 code; the codes are then ordered by pixel count.
    """
    rounded = np.unique(np.clip(np.rint(centers), 0, 255).astype(np.uint8), axis=0)
    codes, sq_dist = nearest_codes(hist.colours, rounded)
    counts = np.bincount(codes, weights=hist.counts, minlength=rounded.shape[0]).astype(np.int64)
    used = np.flatnonzero(counts > 0)
    # Most used first; ties broken by the packed colour value (np.unique order).
    order = used[np.argsort(-counts[used], kind="stable")]
    remap = np.empty(rounded.shape[0], dtype=np.intp)
    remap[order] = np.arange(order.size)
    inertia = float(np.dot(hist.counts, sq_dist))
    return rounded[order], remap[codes], counts[order], inertia

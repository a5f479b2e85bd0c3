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

__all__ = ["QuantizeResult", "quantize_image", "psnr_from_mse"]


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

    if len(hist) <= k:
        # Few enough colours: the image is its own codebook.
        codebook_f = hist.colours.astype(np.float64)
        n_iter, converged = 0, True
    else:
        fit = _kmeans.cluster(
            hist.colours.astype(np.float64), int(k), weights=hist.counts.astype(np.float64),
            init=init, max_iter=max_iter, eps=eps, attempts=attempts, seed=seed,
            callback=callback,
        )
        codebook_f = fit.centers
        n_iter, converged = fit.n_iter, fit.converged

    codebook, codes, counts, inertia = _finish_codebook(hist, codebook_f)
    labels = lookup_labels(keys, hist.keys, codes).reshape(height, width)
    return QuantizeResult(codebook, labels, counts, inertia, n_iter, converged, len(hist), options)


def _finish_codebook(hist: ColourHistogram, centers: np.ndarray):
    """Round centres to uint8, relabel against them, drop unused/duplicate codes.

    Rounding moves centres, so every distinct colour is labelled again with
    its nearest uint8 code; the codes are then ordered by pixel count.
    """
    rounded = np.unique(np.clip(np.rint(centers), 0, 255).astype(np.uint8), axis=0)
    codes, sq_dist = _kmeans.assign(hist.colours.astype(np.float64), rounded.astype(np.float64))
    counts = np.bincount(codes, weights=hist.counts, minlength=rounded.shape[0]).astype(np.int64)
    used = np.flatnonzero(counts > 0)
    # Most used first; ties broken by the packed colour value (np.unique order).
    order = used[np.argsort(-counts[used], kind="stable")]
    remap = np.empty(rounded.shape[0], dtype=np.intp)
    remap[order] = np.arange(order.size)
    inertia = float(np.dot(hist.counts.astype(np.float64), np.rint(sq_dist)))
    return rounded[order], remap[codes], counts[order], inertia

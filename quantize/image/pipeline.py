"""quantize_image and apply_codebook: the image layer's entry points.

pixels -> histogram -> k-means -> codebook -> labels (docs/design.md, "The
data flow"). RGB images go to :mod:`.fit`, images with an alpha channel to
:mod:`.transparency`. Imports neither Pillow nor click: images arrive and
leave as numpy arrays.
"""

from __future__ import annotations

import numpy as np

from ..core import colorspace as _cs
from .fit import HistogramFit, apply_rgb, fit_histogram, nearest_codes, quantize_rgb
from .result import (SORT_RULES, QuantizeResult, _check_sort, order_codes, pixel_inertia,
                     pixel_mse, psnr_from_mse, relabel)
from .transparency import apply_rgba, quantize_rgba

# The entry points, and the image layer's public names they work with.
__all__ = [
    "QuantizeResult", "HistogramFit", "quantize_image", "fit_histogram", "apply_codebook",
    "nearest_codes", "psnr_from_mse", "SORT_RULES", "order_codes", "pixel_inertia", "pixel_mse", "relabel",
]

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
        :func:`quantize.image.transparency.quantize_rgba`).
    k : int
        Largest number of colours wanted (at least 1).
    max_iter, eps, init, attempts, seed, callback
        As in :func:`quantize.core.kmeans.cluster`; ``eps`` is in 0-255 units.
    metric : {'euclidean', 'manhattan', 'cosine'}
        The distance the palette is fitted with (see
        :func:`quantize.core.kmeans.cluster`); every pixel then takes its nearest
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
        return quantize_rgba(pixels, int(k), max_iter=max_iter, eps=eps, init=init,
                             attempts=attempts, seed=seed, callback=callback, metric=metric,
                             color_space=color_space, sort=sort)
    return quantize_rgb(pixels, int(k), max_iter=max_iter, eps=eps, init=init, attempts=attempts,
                        seed=seed, callback=callback, metric=metric, color_space=color_space,
                        sort=sort)


def apply_codebook(pixels, codebook, *, color_space: str = "srgb") -> QuantizeResult:
    """Map an image onto an existing codebook (vector quantization).

    Each pixel takes its nearest code (ties to the lowest index), found once
    per distinct colour and looked up per pixel. The codebook is kept as
    given: same rows, same order, unused rows included.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
        (H, W, 4) RGBA keeps its transparency: see
        :func:`quantize.image.transparency.apply_rgba`.
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
        return apply_rgba(pixels, codebook, color_space=color_space)
    return apply_rgb(pixels, codebook, color_space=color_space)

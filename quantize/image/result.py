"""What a quantization returns, and how a palette is ordered and measured.

numpy only; the lowest module of the image layer (docs/design.md, "Layers").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core import colorspace as _cs
from ..vocabulary import SORT_RULES

__all__ = ["QuantizeResult", "fit_options", "psnr_from_mse", "SORT_RULES", "order_codes", "pixel_inertia",
           "pixel_mse", "premultiplied", "relabel"]



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
        (:mod:`quantize.image.transparency`).
        """
        return self.inertia / (self.labels.size * self.codebook.shape[1])

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB, ``10 log10(255² / mse)``."""
        return psnr_from_mse(self.mse)

    def reconstruct(self) -> np.ndarray:
        """The quantized image as an (H, W, 3) uint8 array ((H, W, 4) for RGBA)."""
        # np.take gathers whole rows, faster than fancy indexing.
        return np.take(self.codebook, self.labels, axis=0)

    @property
    def has_alpha(self) -> bool:
        """Whether the codebook is RGBA (the image kept its transparency)."""
        return self.codebook.shape[1] == 4


def fit_options(k, *, max_iter, eps, init, attempts, seed, color_space, sort) -> dict:
    """The options a fitted result records (``QuantizeResult.options``).

    The colour space and sort are recorded only when not the defaults.
    """
    options = {"k": int(k), "max_iter": max_iter, "eps": eps, "init": init,
               "attempts": attempts, "seed": seed}
    if color_space != "srgb":
        options["color_space"] = color_space
    if sort != "frequency":
        options["sort"] = sort
    return options


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for 8-bit data; ``inf`` when ``mse`` is 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)


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


def premultiplied(rgba) -> np.ndarray:
    """RGBA uint8 (..., 4) as float64 premultiplied ``(r·α, g·α, b·α, alpha)``, 0-255 units.

    Examples
    --------
    >>> premultiplied(np.array([200, 100, 0, 51], np.uint8)).tolist()
    [40.0, 20.0, 0.0, 51.0]
    """
    rgba = np.asarray(rgba)
    out = rgba.astype(np.float64)
    out[..., :3] *= out[..., 3:4] / 255.0
    return out


def pixel_inertia(pixels, codebook, labels, rows: int = 256) -> float:
    """Sum of squared errors between pixels and their codes' colours (0-255 units).

    RGB images: over R, G and B. RGBA: over premultiplied R, G, B and alpha
    (see :mod:`quantize.image.transparency`), so that fully transparent pixels
    cost nothing whatever their colour.
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook)
    total = 0.0
    for r0 in range(0, pixels.shape[0], rows):
        block = pixels[r0:r0 + rows]
        quant = codebook[labels[r0:r0 + rows]]
        if codebook.shape[1] == 4:
            diff = premultiplied(block) - premultiplied(quant)
            total += float(np.einsum("ijk,ijk->", diff, diff))
        else:
            diff = block.astype(np.int32) - quant
            total += float(np.einsum("ijk,ijk->", diff, diff, dtype=np.int64))
    return total


def pixel_mse(reference, image, rows: int = 256) -> float:
    """Mean squared error between two images of the same shape, as :attr:`QuantizeResult.mse` measures it.

    RGB: over R, G and B. RGBA: over premultiplied R, G, B and alpha, so
    that the colour of a fully transparent pixel costs nothing.

    Parameters
    ----------
    reference, image : ndarray of shape (H, W, 3) or (H, W, 4), uint8

    Examples
    --------
    >>> a = np.zeros((1, 2, 3), np.uint8); b = a.copy(); b[0, 0, 0] = 6
    >>> pixel_mse(a, b)
    6.0
    """
    reference, image = np.asarray(reference), np.asarray(image)
    if reference.shape != image.shape or reference.ndim != 3 or reference.shape[2] not in (3, 4):
        raise ValueError(f"images must have the same (H, W, 3) or (H, W, 4) shape, got "
                         f"{reference.shape} and {image.shape}")
    total = 0.0
    for r0 in range(0, reference.shape[0], rows):
        if reference.shape[2] == 4:
            diff = premultiplied(reference[r0:r0 + rows]) - premultiplied(image[r0:r0 + rows])
            total += float(np.einsum("ijk,ijk->", diff, diff))
        else:
            diff = reference[r0:r0 + rows].astype(np.int32) - image[r0:r0 + rows]
            total += float(np.einsum("ijk,ijk->", diff, diff, dtype=np.int64))
    return total / reference.size


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

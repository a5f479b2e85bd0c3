"""What the HTML report shows of one image: thumbnails, the worst crop, the swatch, ΔE_OK.

A *preview* is a small dict of plain values (strings and numbers) made
from an image's pixels and its quantized pixels, so that it can travel
from a batch worker (a local process or a Dask worker) to the process that
writes the report: the images in it are a few kilobytes of WebP (or JPEG
and PNG) as ``data:`` URIs, never the pixels.

* Thumbnails: the input and the output reduced the same way (Lanczos, at
  most :data:`THUMB_SIDE` pixels a side), as lossy WebP (JPEG, or PNG for
  images with transparency, where Pillow has no WebP).
* The worst crop: the :data:`CROP_SIDE`-pixel square of the input where the
  squared error of the output is largest, cut from both at 1:1 and stored
  losslessly (WebP, or PNG), so that what it shows is the quantization alone.
* The swatch: the codebook's colours and how many pixels each code has.
* ``delta_e_ok``: the mean ΔE_OK (Euclidean distance in Oklab) between input
  and output pixels, over a regular grid of about :data:`DELTA_E_PIXELS`
  of them (every pixel of a small image).

Images with transparency are measured on premultiplied colours, as their
MSE is.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from ..core.colorspace import linear_to_oklab, srgb_to_linear, srgb_to_oklab
from ..image.result import premultiplied

__all__ = ["THUMB_SIDE", "CROP_SIDE", "DELTA_E_PIXELS", "make_preview", "preview_from_files",
           "worst_window", "mean_delta_e_ok"]

#: Longest side of a thumbnail, in pixels.
THUMB_SIDE = 96
#: Side of the 1:1 crop where the error is largest.
CROP_SIDE = 32
#: About this many pixels (a regular grid) are measured for the mean ΔE_OK:
#: its sampling error is then far below the differences the report ranks.
DELTA_E_PIXELS = 1 << 12
#: Quality of the lossy thumbnails (WebP, or JPEG where Pillow has no WebP):
#: artefacts well below the banding of a palette of a few dozen colours.
_THUMB_QUALITY = 75

# sRGB 0-255 -> linear light, for uint8 values (a table instead of a power per value).
_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float64))


def _webp() -> bool:
    from PIL import features

    return bool(features.check("webp"))


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _encoded(im, *, lossless: bool) -> str:
    """``im`` as a data URI: WebP (lossy or lossless), the smallest that browsers
    show; JPEG or PNG where Pillow was built without WebP."""
    out = io.BytesIO()
    if _webp():
        # Fast methods: the files are barely larger than the slowest
        # methods', and this runs in every worker for every image.
        if lossless:
            im.save(out, format="WEBP", lossless=True, quality=50, method=0)
        else:
            im.save(out, format="WEBP", quality=_THUMB_QUALITY, method=2)
        return _data_uri(out.getvalue(), "image/webp")
    if lossless or im.mode not in ("RGB", "L"):
        im.save(out, format="PNG", optimize=True)
        return _data_uri(out.getvalue(), "image/png")
    im.save(out, format="JPEG", quality=_THUMB_QUALITY, optimize=True)
    return _data_uri(out.getvalue(), "image/jpeg")


def _thumbnail(pixels: np.ndarray, side: int) -> str:
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(pixels))
    im.thumbnail((side, side), Image.LANCZOS, reducing_gap=1.5)
    return _encoded(im, lossless=False)


def _crop(pixels: np.ndarray) -> str:
    from PIL import Image

    return _encoded(Image.fromarray(np.ascontiguousarray(pixels)), lossless=True)


def _squared_errors(pixels: np.ndarray, quantized: np.ndarray) -> np.ndarray:
    """Per-pixel squared error, summed over the channels: the MSE's terms (RGB
    as it is, RGBA premultiplied)."""
    if pixels.shape[2] == 4:
        diff = premultiplied(pixels) - premultiplied(quantized)
        return np.einsum("ijk,ijk->ij", diff, diff)
    diff = (pixels.astype(np.int16) - quantized).astype(np.int32)
    np.square(diff, out=diff)
    return diff[..., 0] + diff[..., 1] + diff[..., 2]


def _block_sums(errors: np.ndarray, step: int, rows: int, cols: int) -> np.ndarray:
    """Sums of ``step`` x ``step`` blocks; a partial last row or column of blocks
    is added to the one before it."""
    h, w = errors.shape
    rows_in, cols_in = min(h, rows * step), min(w, cols * step)
    core = errors[:rows_in, :cols_in]
    blocks = core.reshape(rows, rows_in // rows, cols_in).sum(axis=1, dtype=np.float64) \
        .reshape(rows, cols, cols_in // cols).sum(axis=2)
    if h > rows_in:
        blocks[-1] += errors[rows_in:, :cols_in].reshape(h - rows_in, cols, -1).sum(axis=(0, 2))
    if w > cols_in:
        blocks[:, -1] += errors[:rows_in, cols_in:].reshape(rows, -1, w - cols_in).sum(axis=(1, 2))
    if h > rows_in and w > cols_in:
        blocks[-1, -1] += errors[rows_in:, cols_in:].sum()
    return blocks


def worst_window(errors: np.ndarray, side: int):
    """The ``side``-pixel square with the largest summed error, on a grid of ``side / 2``.

    Parameters
    ----------
    errors : ndarray of shape (H, W)
        Per-pixel error (any non-negative measure).
    side : int
        The square's side; an image smaller than that gives the whole image.

    Returns
    -------
    (x, y, width, height)
        The window, in pixels; the first one found in row order among equals.

    Examples
    --------
    >>> e = np.zeros((8, 8)); e[5, 6] = 1.0
    >>> worst_window(e, 4)
    (4, 2, 4, 4)
    """
    h, w = errors.shape
    if h <= side and w <= side:
        return 0, 0, w, h
    step = max(1, side // 2)
    rows, cols = max(1, h // step), max(1, w // step)
    blocks = _block_sums(errors, step, rows, cols)
    span_r, span_c = min(2, rows), min(2, cols)
    sums = sum(blocks[i:rows - span_r + 1 + i, j:cols - span_c + 1 + j]
               for i in range(span_r) for j in range(span_c))
    r, c = (int(i) for i in np.unravel_index(int(np.argmax(sums)), sums.shape))
    # A window over the last blocks ends at the image's edge, so that it also
    # holds the rows or columns folded into them.
    y = max(0, h - side) if r + span_r == rows else min(r * step, max(0, h - side))
    x = max(0, w - side) if c + span_c == cols else min(c * step, max(0, w - side))
    return x, y, min(side, w), min(side, h)


def mean_delta_e_ok(pixels: np.ndarray, quantized: np.ndarray,
                    max_pixels: int = DELTA_E_PIXELS) -> float:
    """Mean ΔE_OK between two images of the same shape, on a grid of about ``max_pixels``.

    The grid takes every ``s``-th row and column, ``s = ceil(sqrt(H·W /
    max_pixels))``; every pixel when the image has at most ``max_pixels``. RGBA images are compared on their
    premultiplied colour (the colour over black).

    Examples
    --------
    >>> a = np.zeros((2, 2, 3), np.uint8); b = a.copy(); b[0, 0] = 255
    >>> round(mean_delta_e_ok(a, b), 4)
    0.25
    """
    h, w = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(h * w / max_pixels)))
    a, b = pixels[::step, ::step], quantized[::step, ::step]
    if pixels.shape[2] == 4:
        lab_a = srgb_to_oklab(premultiplied(a)[..., :3])
        lab_b = srgb_to_oklab(premultiplied(b)[..., :3])
    else:
        lab_a, lab_b = linear_to_oklab(_LINEAR[a]), linear_to_oklab(_LINEAR[b])
    d = lab_a - lab_b
    return float(np.sqrt(np.einsum("...i,...i->...", d, d)).mean())


def _hex(row) -> str:
    text = "#" + "".join(f"{int(v):02x}" for v in row)
    return text[:7] if len(row) == 4 and int(row[3]) == 255 else text


def make_preview(pixels, quantized, codebook=None, counts=None) -> dict:
    """The report's view of one image, from its pixels and its quantized pixels.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        The input as the quantizer saw it.
    quantized : ndarray of the same shape, uint8
        The output's pixels.
    codebook : ndarray of shape (k, 3) or (k, 4), optional
        The palette, for the swatch; without it the swatch is empty.
    counts : ndarray of shape (k,), optional
        Pixels per code.

    Returns
    -------
    dict
        ``thumb_in``, ``thumb_out``, ``crop_in``, ``crop_out`` (data URIs),
        ``crop`` ([x, y, width, height]), ``size`` ([width, height]),
        ``palette`` (``#rrggbb`` or ``#rrggbbaa`` strings), ``counts``
        (ints, or None) and ``delta_e_ok`` (float).
    """
    pixels = np.asarray(pixels)
    quantized = np.asarray(quantized)
    if pixels.shape != quantized.shape:
        raise ValueError(f"input {pixels.shape} and output {quantized.shape} differ in shape")
    errors = _squared_errors(pixels, quantized)
    x, y, w, h = worst_window(errors, CROP_SIDE)
    palette, code_counts = [], None
    if codebook is not None:
        codebook = np.asarray(codebook)
        palette = [_hex(row) for row in codebook]
        if counts is not None:
            code_counts = [int(c) for c in np.asarray(counts)]
    return {
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
        "thumb_in": _thumbnail(pixels, THUMB_SIDE),
        "thumb_out": _thumbnail(quantized, THUMB_SIDE),
        "crop": [x, y, w, h],
        "crop_in": _crop(pixels[y:y + h, x:x + w]),
        "crop_out": _crop(quantized[y:y + h, x:x + w]),
        "palette": palette,
        "counts": code_counts,
        "delta_e_ok": round(mean_delta_e_ok(pixels, quantized), 6),
    }


def preview_from_files(input_path, output_path, *, background=None, max_pixels: int = 1 << 28,
                       frame=None) -> dict:
    """:func:`make_preview` of an input and an output already on disk.

    For a report rebuilt after the run, and for the files a batch skipped as
    up to date. The palette is the output's own: a palette PNG's entries (with
    their pixel counts), else its distinct colours when there are at most
    256 of them, else none (e.g. a JPEG). The error is measured against the
    output as decoded, so a lossy format's own error is included.

    Raises
    ------
    QuantizeError
        An input or output that cannot be read (66, 65), or an output whose
        size differs from its input's (65).
    """
    from PIL import Image

    from ..errors import BadImageError
    from ..image.transparency import prepare
    from .decode import load_rgba

    pixels = prepare(load_rgba(input_path, max_pixels=max_pixels, frame=frame), background)
    quantized = load_rgba(output_path, max_pixels=max_pixels)
    if quantized.shape[2] != pixels.shape[2]:
        quantized = (quantized[..., :3] if pixels.shape[2] == 3
                     else np.dstack([quantized, np.full(quantized.shape[:2], 255, np.uint8)]))
    if quantized.shape != pixels.shape:
        raise BadImageError(output_path, f"is {quantized.shape[1]}x{quantized.shape[0]}, its "
                                         f"input {pixels.shape[1]}x{pixels.shape[0]}")
    codebook = counts = None
    flat = quantized.reshape(-1, quantized.shape[2])
    with Image.open(output_path) as im:
        indices = np.asarray(im).ravel() if im.mode == "P" else None
    if indices is not None and indices.size == flat.shape[0]:
        # A palette PNG: its codes in palette order, each with its colour as
        # decoded and its pixel count (entries no pixel uses are left out).
        codes, first, counts = np.unique(indices, return_index=True, return_counts=True)
        codebook = flat[first]
    elif flat.size:
        colours, index = np.unique(flat, axis=0, return_inverse=True)
        if len(colours) <= 256:
            counts = np.bincount(index.ravel(), minlength=len(colours))
            order = np.lexsort((np.arange(len(colours)), -counts))  # most used first
            codebook, counts = colours[order], counts[order]
    return make_preview(pixels, quantized, codebook, counts)

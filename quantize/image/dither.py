"""Dithering: choose each pixel's code so that the average colour of a region
matches the original, trading per-pixel error for smooth gradients.

numpy only. Two methods:

``ordered``
    Bayer 8×8 ordered dithering: each pixel's colour is offset by a fixed
    threshold that depends on its position modulo 8, then mapped to its
    nearest code. Fully vectorised; the same pixel always gets the same
    code (good for animation and for compression).
``floyd-steinberg``
    Error diffusion: each pixel's quantization error is passed on to its
    unvisited neighbours (7/16 right, 3/16 down-left, 5/16 down, 1/16
    down-right). :func:`floyd_steinberg` is this module's numpy version;
    the command line uses Pillow's C implementation instead
    (:func:`quantize.io.encode.floyd_steinberg_pillow`), which measured ~20×
    faster with the same mean error (see ``benchmarks``).

Both return codes, so the output holds only codebook colours. Both work in
sRGB (0-255): that is where the eye compares neighbouring pixels' average.
Nearest codes for the perturbed colours come from a lookup table over a
64×64×64 grid of sRGB cells (:func:`nearest_table`), exact for the cell
centres; a perturbed colour is at most 2 units per channel from its cell's
centre, well below the dither's own perturbation.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import DITHER_METHODS

__all__ = ["DITHER_METHODS", "BAYER8", "check_dither", "nearest_table", "ordered",
           "floyd_steinberg", "dither_labels", "dither_result"]



def _bayer(n: int) -> np.ndarray:
    """The n×n Bayer index matrix (n a power of 2), values 0 .. n²-1."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return m


#: The 8×8 Bayer index matrix (0..63), the classic ordered-dither pattern.
BAYER8 = _bayer(8)

#: Bits per channel of the nearest-code lookup table (64 levels per channel).
TABLE_BITS = 6


def check_dither(method: str) -> str:
    """Return ``method`` if it is a known dither name, else raise ValueError."""
    if method not in DITHER_METHODS:
        raise ValueError(f"dither must be one of {', '.join(DITHER_METHODS)}, got {method!r}")
    return method


def nearest_table(codebook, bits: int = TABLE_BITS, cells=None) -> np.ndarray:
    """Nearest code of the cells of a 2**bits-level RGB grid.

    Cell ``(r >> s) << 2*bits | (g >> s) << bits | (b >> s)`` (``s = 8 -
    bits``) holds the code nearest to the cell's centre (exactly: the
    search runs on doubled integer coordinates, which float32 holds
    exactly).

    Parameters
    ----------
    codebook : ndarray of shape (k, 3), uint8
    bits : int
        Levels per channel, as a power of two.
    cells : ndarray of bool, optional
        Only these cells are filled (the others hold 0): the cells an image
        actually visits, which is often far fewer than all of them.

    Returns
    -------
    ndarray of shape (2**(3*bits),), uint8 (uint16 for more than 256 codes)
    """
    from ..core.search import nearest

    codebook = np.asarray(codebook)
    levels = 1 << bits
    size = 1 << (8 - bits)
    ids = np.arange(levels ** 3) if cells is None else np.flatnonzero(cells)
    # Doubled centre of cell i: 2 * (i * size + (size - 1) / 2).
    doubled = np.empty((ids.size, 3), dtype=np.float32)
    for j, shift in enumerate((2 * bits, bits, 0)):
        doubled[:, j] = ((ids >> shift) & (levels - 1)) * (2 * size) + (size - 1)
    codes = np.empty(ids.size, dtype=np.intp)
    if ids.size:
        codes = nearest(doubled, 2.0 * codebook.astype(np.float64))
    table = np.zeros(levels ** 3, dtype=np.uint8 if codebook.shape[0] <= 256 else np.uint16)
    table[ids] = codes
    return table


def _cell_ids(rgb, bits: int = TABLE_BITS):
    """Grid cell of int RGB values (..., 3), clipped to 0..255."""
    shift = 8 - bits
    c = np.clip(rgb, 0, 255).astype(np.int32) >> shift
    return (c[..., 0] << (2 * bits)) | (c[..., 1] << bits) | c[..., 2]


def _lookup(table, rgb, bits: int = TABLE_BITS):
    """Codes of int RGB values (..., 3), clipped to 0..255, through ``table``."""
    return table[_cell_ids(rgb, bits)]


def _spread(codebook) -> float:
    """Typical per-channel step between neighbouring codes: the median over codes
    of the distance to the nearest other code, over √3 (the step along each
    channel of a diagonal of that length; the offsets move all three channels
    at once). 0 for a single code."""
    cb = np.asarray(codebook, dtype=np.float64)
    if cb.shape[0] < 2:
        return 0.0
    d = ((cb[:, None, :] - cb[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.median(np.sqrt(d.min(axis=1)))) / np.sqrt(3.0)


#: Default scale of the ordered-dither offsets. Measured on smooth gradients
#: and the sample photos (error after a 8x8 box blur): larger values help
#: gradients, smaller ones photos; 1.25 is a compromise that improves both.
ORDERED_STRENGTH = 1.25


def ordered(pixels, codebook, *, strength: float = ORDERED_STRENGTH, table=None) -> np.ndarray:
    """Bayer 8×8 ordered dithering onto a codebook.

    Every pixel is offset by ``(BAYER8[y % 8, x % 8] + 0.5) / 64 - 1/2``
    times the spread (the median distance from a code to its nearest
    neighbour over √3, times ``strength``), on all three channels, and takes
    the code nearest to the offset colour.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    strength : float
        Scale of the offsets (1 = one code spacing peak to peak; default
        :data:`ORDERED_STRENGTH`).
    table : ndarray, optional
        A :func:`nearest_table` of ``codebook``, to reuse.

    Returns
    -------
    ndarray of shape (H, W), uint8 (uint16 above 256 codes)
        The code of every pixel.

    Examples
    --------
    >>> img = np.full((8, 8, 3), 128, np.uint8)
    >>> labels = ordered(img, np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    >>> 20 <= int(labels.sum()) <= 44   # about half the pixels are white
    True
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)
    _check(pixels, codebook)
    h, w = pixels.shape[:2]
    spread = _spread(codebook) * float(strength)
    offsets = np.rint(((BAYER8 + 0.5) / 64.0 - 0.5) * spread).astype(np.int16)
    cells = np.empty((h, w), dtype=np.int32)
    rows = max(8, (1 << 20) // max(w, 1) // 8 * 8)  # row blocks keep temporaries small
    tile_w = np.tile(offsets, (1, (w + 7) // 8))[:, :w]
    for r0 in range(0, h, rows):
        block = pixels[r0:r0 + rows]
        n = block.shape[0]
        tile = np.tile(tile_w, ((n + 7) // 8, 1))[:n]
        cells[r0:r0 + n] = _cell_ids(block.astype(np.int16) + tile[:, :, None])
    if table is None:
        # Only the cells the image visits: usually a fraction of the grid.
        visited = np.zeros(1 << (3 * TABLE_BITS), dtype=bool)
        visited[cells] = True
        table = nearest_table(codebook, cells=visited)
    return table[cells]


#: Floyd–Steinberg weights (of 16) to the right, down-left, down, down-right.
_FS = ((0, 1, 7), (1, -1, 3), (1, 0, 5), (1, 1, 1))


def floyd_steinberg(pixels, codebook, *, table=None) -> np.ndarray:
    """Floyd–Steinberg error diffusion onto a codebook, in numpy.

    Rows are scanned left to right, the error is clipped so that colours stay
    within 0..255. Pixels are processed by anti-diagonal wavefronts (``x +
    2y`` constant), which visits every pixel after all the pixels it
    receives error from, so each wavefront is one vectorised step; the
    result is that of the sequential scan.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    table : ndarray, optional
        A :func:`nearest_table` of ``codebook``, to reuse.

    Returns
    -------
    ndarray of shape (H, W)
        The code of every pixel.
    """
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)
    _check(pixels, codebook)
    if table is None:
        table = nearest_table(codebook)
    h, w = pixels.shape[:2]
    # Padded work buffer: one column each side and one row below, so the
    # error can be scattered without bounds checks.
    work = np.zeros((h + 1, w + 2, 3), dtype=np.float32)
    work[:h, 1:w + 1] = pixels
    flat = work.reshape(-1, 3)
    stride = w + 2
    labels = np.empty(h * w, dtype=table.dtype)
    cb = codebook.astype(np.float32)
    ys_all = np.arange(h)
    for t in range(w + 2 * (h - 1)):
        # Rows y with 0 <= t - 2y < w.
        y_lo = max(0, (t - w) // 2 + 1)
        y_hi = min(h - 1, t // 2)
        if y_lo > y_hi:
            continue
        ys = ys_all[y_lo:y_hi + 1]
        xs = t - 2 * ys
        idx = ys * stride + xs + 1
        colour = np.clip(flat[idx], 0.0, 255.0)
        codes = _lookup(table, np.rint(colour))
        labels[ys * w + xs] = codes
        err = colour - cb[codes]
        for dy, dx, wgt in _FS:
            flat[idx + dy * stride + dx] += err * (wgt / 16.0)
    # The padding columns absorbed the error that falls off the edges.
    return labels.reshape(h, w)


def dither_labels(pixels, codebook, method: str, *, labels=None, mask=None,
                  floyd=None) -> np.ndarray:
    """Dithered codes for an image, optionally only where ``mask`` is True.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
        The colours to dither with (for an RGBA result, its RGB columns).
    method : {'none', 'floyd-steinberg', 'ordered'}
    labels : ndarray of shape (H, W), optional
        The undithered codes: returned where ``mask`` is False, and as they
        are for ``'none'``.
    mask : ndarray of shape (H, W), bool, optional
        Pixels to dither (e.g. the opaque ones); only the codes
        ``allowed = unique(labels[mask])``... more precisely, the codes some
        masked pixel already uses are candidates, so a dithered opaque pixel
        never takes a translucent code. Requires ``labels``.
    floyd : callable(pixels, codebook) -> labels, optional
        The Floyd–Steinberg implementation (default :func:`floyd_steinberg`;
        the CLI passes Pillow's).

    Returns
    -------
    ndarray of shape (H, W)
    """
    check_dither(method)
    if method == "none":
        if labels is None:
            raise ValueError("dither 'none' needs the undithered labels")
        return labels
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)
    run = ordered if method == "ordered" else (floyd or floyd_steinberg)
    if mask is None:
        return run(pixels, codebook).astype(labels.dtype if labels is not None else np.intp,
                                             copy=False)
    if labels is None:
        raise ValueError("a mask needs the undithered labels")
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return labels
    allowed = np.flatnonzero(np.bincount(labels[mask].ravel(), minlength=codebook.shape[0]))
    sub = codebook[allowed]
    if not mask.all():
        # Pixels outside the mask take an exact candidate colour, so that they
        # add no error of their own to diffuse into their neighbours.
        pixels = pixels.copy()
        pixels[~mask] = sub[0]
    sub_labels = run(pixels, sub)
    out = labels.copy()
    out[mask] = allowed[sub_labels[mask]].astype(out.dtype)
    return out


def _check(pixels, codebook) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be an (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    if codebook.ndim != 2 or codebook.shape[1] != 3 or codebook.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3), got {codebook.shape}")


def dither_result(result, pixels, method: str, *, floyd=None, sort="frequency"):
    """A quantization result with dithered codes (``method`` 'none': unchanged).

    Opaque pixels are dithered among the opaque codes; transparent and
    translucent pixels of an RGBA result keep their codes, so transparency
    is never dithered away. Counts and inertia are measured again against
    ``pixels``.

    Parameters
    ----------
    result : QuantizeResult
        From :func:`quantize.image.pipeline.quantize_image` or ``apply_codebook``.
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        The image the result was made from.
    method : {'none', 'floyd-steinberg', 'ordered'}
    floyd : callable(pixels, codebook) -> labels, optional
        The Floyd–Steinberg implementation (default :func:`floyd_steinberg`).
    sort : {'frequency', 'luminance', 'none'} or None
        Palette order after dithering, for a fitted codebook (codes left
        unused are dropped); None keeps the codebook as it is (a given
        codebook, as in ``apply``).

    Returns
    -------
    QuantizeResult
    """
    from .pipeline import relabel

    check_dither(method)
    if method == "none":
        return result
    pixels = np.asarray(pixels)
    codebook = result.codebook
    mask = codebook[result.labels, 3] == 255 if codebook.shape[1] == 4 else None
    labels = dither_labels(np.ascontiguousarray(pixels[..., :3]), codebook[:, :3], method,
                           labels=result.labels, mask=mask, floyd=floyd)
    return relabel(result, pixels[..., :codebook.shape[1]], labels, sort=sort)

"""Unique colours with their pixel counts, and lookup-table labelling.

An RGB colour packs into a 24-bit key ``r << 16 | g << 8 | b``. A photo has
far fewer unique keys than pixels, so k-means runs on the keys' colours with
their counts as weights, and every pixel is then labelled by looking its key
up: no distance is ever computed per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ColourHistogram", "pixel_keys", "colour_histogram", "keys_to_colours", "lookup_labels",
    "merge_histograms",
]

@dataclass(frozen=True)
class ColourHistogram:
    """The distinct colours of an image and how many pixels have each.

    Attributes
    ----------
    keys : ndarray of shape (U,), uint32
        Packed colours ``r << 16 | g << 8 | b``, sorted ascending.
    colours : ndarray of shape (U, 3), uint8
        The same colours as RGB rows.
    counts : ndarray of shape (U,), int64
        Pixels of each colour; they sum to the pixel count.
    """

    keys: np.ndarray
    colours: np.ndarray
    counts: np.ndarray

    @property
    def n_pixels(self) -> int:
        """Total number of pixels counted."""
        return int(self.counts.sum())

    def __len__(self) -> int:
        return int(self.keys.size)


def pixel_keys(pixels) -> np.ndarray:
    """Pack RGB pixels into 24-bit keys.

    Parameters
    ----------
    pixels : ndarray of shape (..., 3), uint8
        Any array of RGB triples.

    Returns
    -------
    ndarray of shape (M,), uint32
        ``r << 16 | g << 8 | b`` for each pixel, in row-major order.

    Examples
    --------
    >>> pixel_keys(np.array([[1, 2, 3]], dtype=np.uint8))
    array([66051], dtype=uint32)
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.shape[-1] != 3:
        raise ValueError(f"pixels must be uint8 with 3 channels, got {pixels.dtype} {pixels.shape}")
    flat = pixels.reshape(-1, 3)
    keys = flat[:, 0].astype(np.uint32)
    keys <<= 8
    keys |= flat[:, 1]
    keys <<= 8
    keys |= flat[:, 2]
    return keys


def keys_to_colours(keys) -> np.ndarray:
    """Unpack 24-bit keys into (U, 3) uint8 RGB rows."""
    keys = np.asarray(keys, dtype=np.uint32)
    colours = np.empty((keys.size, 3), dtype=np.uint8)
    colours[:, 0] = keys >> 16
    colours[:, 1] = (keys >> 8) & 0xFF
    colours[:, 2] = keys & 0xFF
    return colours


def colour_histogram(keys) -> ColourHistogram:
    """Count the distinct colours among packed pixel keys.

    Parameters
    ----------
    keys : ndarray of shape (M,), uint32
        Keys from :func:`pixel_keys`.

    Returns
    -------
    ColourHistogram
        Sorted distinct keys, their colours and their counts.

    Examples
    --------
    >>> h = colour_histogram(np.array([5, 1, 5], dtype=np.uint32))
    >>> h.keys.tolist(), h.counts.tolist()
    ([1, 5], [1, 2])
    """
    keys = np.asarray(keys, dtype=np.uint32).ravel()
    # Sort, then cut the runs of equal keys: cheaper than np.unique's extra
    # passes, and far cheaper than a dense 2**24 table for all but huge images.
    ordered = np.sort(keys)
    starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = np.concatenate(([0], starts)) if ordered.size else starts
    unique = ordered[starts]
    counts = np.diff(np.append(starts, ordered.size)).astype(np.int64)
    return ColourHistogram(unique, keys_to_colours(unique), counts)


def lookup_labels(keys, hist_keys, codes) -> np.ndarray:
    """Label every pixel with the code of its colour, by table lookup.

    Parameters
    ----------
    keys : ndarray of shape (M,), uint32
        Packed pixel keys.
    hist_keys : ndarray of shape (U,), uint32
        Sorted distinct keys (a :class:`ColourHistogram`'s ``keys``); every
        pixel key must be among them (the label of any other key is
        undefined: the table is not cleared).
    codes : ndarray of shape (U,), integer
        The code of each distinct colour.

    Returns
    -------
    ndarray of shape (M,)
        ``codes`` of each pixel's colour, as uint8 when codes fit, else uint16
        or int64.
    """
    codes = np.asarray(codes)
    top = int(codes.max()) if codes.size else 0
    dtype = np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int64
    codes = codes.astype(dtype)
    # A dense table indexed by key: 16 MiB of uint8 (pages mapped only where
    # written) makes each pixel's lookup one gather, far cheaper than a
    # search. Only the entries of hist_keys are ever read.
    table = np.empty(1 << 24, dtype=dtype)
    table[hist_keys] = codes
    return table[keys]


def merge_histograms(histograms) -> ColourHistogram:
    """Sum several colour histograms into one (a sparse merge).

    Parameters
    ----------
    histograms : iterable of ColourHistogram
        E.g. one per image of a set that shares a palette.

    Returns
    -------
    ColourHistogram
        Every colour of any input, with its counts added up.

    Examples
    --------
    >>> a = colour_histogram(np.array([1, 1, 2], dtype=np.uint32))
    >>> b = colour_histogram(np.array([2, 3], dtype=np.uint32))
    >>> m = merge_histograms([a, b]); m.keys.tolist(), m.counts.tolist()
    ([1, 2, 3], [2, 2, 1])
    """
    histograms = list(histograms)
    if not histograms:
        raise ValueError("need at least one histogram to merge")
    keys = np.concatenate([h.keys for h in histograms])
    counts = np.concatenate([h.counts for h in histograms])
    unique, inverse = np.unique(keys, return_inverse=True)
    merged = np.bincount(inverse, weights=counts, minlength=unique.size).astype(np.int64)
    return ColourHistogram(unique.astype(np.uint32), keys_to_colours(unique), merged)

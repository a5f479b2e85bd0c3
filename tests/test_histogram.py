"""Unique colours, counts and lookup-table labelling: quantize.core.histogram."""

from __future__ import annotations

import numpy as np
import pytest

from quantize.core.histogram import colour_histogram, keys_to_colours, lookup_labels, pixel_keys


def random_image(height=40, width=30, n_colours=50, seed=0):
    """An image drawn from a small random palette, so colours repeat."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, size=(n_colours, 3), dtype=np.uint8)
    palette[0] = [0, 0, 0]
    palette[1] = [255, 255, 255]
    return palette[rng.integers(0, n_colours, size=(height, width))]


def test_pixel_keys_known_values():
    pixels = np.array([[1, 2, 3], [0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]],
                      dtype=np.uint8)
    keys = pixel_keys(pixels)
    assert keys.dtype == np.uint32
    assert keys.tolist() == [0x010203, 0, 0xFFFFFF, 0xFF0000, 0x0000FF]


def test_pixel_keys_row_major_order():
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[0, 1] = [0, 0, 1]
    img[1, 0] = [0, 1, 0]
    img[1, 1] = [1, 0, 0]
    assert pixel_keys(img).tolist() == [0, 1, 256, 65536]


def test_keys_round_trip():
    img = random_image()
    colours = keys_to_colours(pixel_keys(img))
    assert colours.dtype == np.uint8
    np.testing.assert_array_equal(colours, img.reshape(-1, 3))


def test_keys_round_trip_all_channel_values():
    values = np.arange(256, dtype=np.uint8)
    pixels = np.stack([values, values[::-1], np.roll(values, 7)], axis=1)
    np.testing.assert_array_equal(keys_to_colours(pixel_keys(pixels)), pixels)


@pytest.mark.parametrize("bad", [
    np.zeros((2, 2, 3), dtype=np.uint16),
    np.zeros((2, 2, 4), dtype=np.uint8),
    np.zeros((2, 2, 3), dtype=np.float64),
])
def test_pixel_keys_rejects_bad_arrays(bad):
    with pytest.raises(ValueError, match="uint8"):
        pixel_keys(bad)


def check_histogram(img, hist):
    flat = img.reshape(-1, 3)
    assert hist.n_pixels == flat.shape[0]
    assert int(hist.counts.sum()) == flat.shape[0]
    assert hist.counts.dtype == np.int64
    assert (hist.counts > 0).all()
    assert (np.diff(hist.keys.astype(np.int64)) > 0).all(), "keys must be sorted and distinct"
    np.testing.assert_array_equal(hist.colours, keys_to_colours(hist.keys))
    expected_colours, expected_counts = np.unique(flat, axis=0, return_counts=True)
    np.testing.assert_array_equal(hist.colours, expected_colours)
    np.testing.assert_array_equal(hist.counts, expected_counts)
    assert len(hist) == expected_colours.shape[0]


def test_histogram_counts_sort_path():
    img = random_image()
    check_histogram(img, colour_histogram(pixel_keys(img)))


def test_histogram_of_empty_keys():
    h = colour_histogram(np.array([], dtype=np.uint32))
    assert len(h) == 0 and h.n_pixels == 0


def test_histogram_doc_example():
    h = colour_histogram(np.array([5, 1, 5], dtype=np.uint32))
    assert h.keys.tolist() == [1, 5]
    assert h.counts.tolist() == [1, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_histogram_equals_np_unique(seed):
    img = random_image(seed=seed, n_colours=200)
    keys = pixel_keys(img)
    hist = colour_histogram(keys)
    unique, counts = np.unique(keys, return_counts=True)
    np.testing.assert_array_equal(hist.keys, unique)
    assert hist.keys.dtype == np.uint32
    np.testing.assert_array_equal(hist.colours, keys_to_colours(unique))
    np.testing.assert_array_equal(hist.counts, counts)


def test_single_colour_histogram():
    img = np.full((7, 5, 3), [255, 255, 255], dtype=np.uint8)
    h = colour_histogram(pixel_keys(img))
    assert h.keys.tolist() == [0xFFFFFF]
    assert h.counts.tolist() == [35]


def brute_force_lookup(keys, hist_keys, codes):
    where = {int(key): i for i, key in enumerate(hist_keys)}
    return np.array([codes[where[int(key)]] for key in keys])


@pytest.mark.parametrize("n_codes", [5, 256, 300])
def test_lookup_labels_equals_brute_force(n_codes):
    img = random_image(n_colours=400, seed=3)
    keys = pixel_keys(img)
    hist = colour_histogram(keys)
    rng = np.random.default_rng(4)
    codes = rng.integers(0, n_codes, size=len(hist))
    codes[0] = n_codes - 1
    labels = lookup_labels(keys, hist.keys, codes)
    np.testing.assert_array_equal(labels, brute_force_lookup(keys, hist.keys, codes))
    assert labels.dtype == (np.uint8 if n_codes <= 256 else np.uint16)

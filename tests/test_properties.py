"""Property-based tests (hypothesis) that test_pipeline.py and test_kmeans.py
do not already make: images through the file formats and the command line,
byte-for-byte determinism, and more invariants of the core."""

from __future__ import annotations

import io
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from quantize.errors import QuantizeWarning
from quantize.io.decode import load_rgb
from quantize.io.encode import encode_palette_png, encode_rgb
from quantize.core.kmeans import cluster
from quantize.image.pipeline import quantize_image

from hostile import invoke


@st.composite
def small_images(draw, max_side=10):
    """(H, W, 3) uint8 images: sometimes any colours, sometimes a few."""
    shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)), 3)
    if draw(st.booleans()):
        elements = st.integers(0, 255)
    else:
        elements = st.sampled_from(draw(st.lists(st.integers(0, 255), min_size=1, max_size=3)))
    return draw(hnp.arrays(np.uint8, shape, elements=elements))


def png_bytes(pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def read_png(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, np.asarray(im), im.getpalette(), np.asarray(im.convert("RGB"))


def load_bytes(data: bytes, suffix=".png") -> np.ndarray:
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return load_rgb(path)
    finally:
        os.unlink(path)


# --------------------------------------------------------------------------
# Images and k


@settings(max_examples=60, deadline=None)
@given(small_images(), st.integers(1, 24), st.integers(0, 2**32 - 1),
       st.sampled_from(["kmeans++", "random"]))
def test_property_palette_png_round_trip(pixels, k, seed, init):
    loaded = load_bytes(png_bytes(pixels))
    np.testing.assert_array_equal(loaded, pixels)  # the reader loses nothing
    result = quantize_image(loaded, k, seed=seed, init=init)
    data = encode_palette_png(result.labels, result.codebook)
    mode, indices, palette, rgb = read_png(data)
    assert mode == "P"
    codebook = np.array(palette, dtype=np.uint8).reshape(-1, 3)
    assert 1 <= len(codebook) <= k  # the palette has at most k entries
    assert np.isfinite(codebook.astype(float)).all()
    assert len(np.unique(codebook, axis=0)) == len(codebook)
    assert indices.max() < len(codebook)  # every pixel is a palette entry
    np.testing.assert_array_equal(codebook[indices], rgb)
    np.testing.assert_array_equal(rgb, result.reconstruct())
    distinct = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert len(codebook) <= distinct
    if distinct <= k:  # nothing to merge: the image comes back identical
        np.testing.assert_array_equal(rgb, pixels)
    # The same seed gives the same bytes.
    again = quantize_image(loaded, k, seed=seed, init=init)
    assert encode_palette_png(again.labels, again.codebook) == data


@settings(max_examples=25, deadline=None)
@given(small_images(max_side=8), st.integers(1, 12), st.integers(0, 1000),
       st.sampled_from(["png", "tif", "webp", "bmp"]))
def test_property_reconstruct_is_deterministic_and_within_the_codebook(pixels, k, seed, ext):
    fmt = {"png": "PNG", "tif": "TIFF", "webp": "WEBP", "bmp": "BMP"}[ext]
    result = quantize_image(pixels, k, seed=seed)
    data = encode_rgb(result.reconstruct(), fmt)
    assert encode_rgb(quantize_image(pixels, k, seed=seed).reconstruct(), fmt) == data
    back = load_bytes(data, suffix="." + ext)  # lossless formats only
    colours = {tuple(c) for c in result.codebook.tolist()}
    assert {tuple(c) for c in back.reshape(-1, 3).tolist()} <= colours


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_images(max_side=8), st.integers(1, 20), st.integers(0, 1000))
def test_property_cli_palette_and_bytes(tmp_path, pixels, k, seed):
    folder = tempfile.mkdtemp(dir=tmp_path)
    src = os.path.join(folder, "in.png")
    Image.fromarray(pixels).save(src)
    outputs = []
    for name in ("a.png", "b.png"):
        r = invoke("image", src, "-o", os.path.join(folder, name), "-k", k, "--seed", seed, "-q")
        assert r.exit_code == 0, r.stderr
        with open(os.path.join(folder, name), "rb") as f:
            outputs.append(f.read())
    assert outputs[0] == outputs[1]
    _, indices, palette, rgb = read_png(outputs[0])
    assert len(palette) // 3 <= k and indices.max() < len(palette) // 3
    if len(np.unique(pixels.reshape(-1, 3), axis=0)) <= k:
        np.testing.assert_array_equal(rgb, pixels)


# --------------------------------------------------------------------------
# The core, with random data and weights


@st.composite
def weighted_data(draw, max_rows=30):
    m = draw(st.integers(1, max_rows))
    n = draw(st.integers(1, 4))
    data = draw(hnp.arrays(np.float64, (m, n), elements=st.floats(
        -1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)))
    weights = draw(hnp.arrays(np.float64, (m,), elements=st.one_of(
        st.just(0.0), st.floats(0.01, 100.0))))
    if not weights.sum() > 0:
        weights[draw(st.integers(0, m - 1))] = 1.0
    return data, weights


def quiet_cluster(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizeWarning)
        return cluster(*args, **kwargs)


@settings(max_examples=80, deadline=None)
@given(weighted_data(), st.integers(1, 6), st.sampled_from(["kmeans++", "random"]),
       st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_property_core_same_seed_same_result(problem, k, init, seed, attempts):
    data, weights = problem
    a = quiet_cluster(data, k, weights=weights, init=init, seed=seed, attempts=attempts)
    b = quiet_cluster(data.copy(), k, weights=weights.copy(), init=init, seed=seed,
                      attempts=attempts)
    assert a.centers.tobytes() == b.centers.tobytes()
    assert a.labels.tobytes() == b.labels.tobytes()
    assert a.inertia == b.inertia and a.n_iter == b.n_iter and a.converged == b.converged


@settings(max_examples=80, deadline=None)
@given(weighted_data(), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_property_core_centres_finite_and_inside_the_data(problem, k, seed):
    data, weights = problem
    r = quiet_cluster(data, k, weights=weights, seed=seed, attempts=2)
    assert np.isfinite(r.centers).all() and np.isfinite(r.inertia) and r.inertia >= 0
    assert 1 <= r.centers.shape[0] <= k
    # Each centre is a weighted mean of rows, or a row: inside the bounding box.
    used = weights > 0
    low, high = data[used].min(axis=0), data[used].max(axis=0)
    slack = 1e-9 * (1 + np.abs(data).max())
    assert (r.centers >= low - slack).all() and (r.centers <= high + slack).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20).flatmap(lambda m: st.tuples(
    hnp.arrays(np.float64, (m, 3), elements=st.integers(-50, 50).map(float)),
    hnp.arrays(np.int64, (m,), elements=st.integers(1, 4)))),
    st.integers(1, 4), st.integers(0, 1000))
def test_property_core_integer_weights_are_repeated_rows(problem, k, seed):
    data, counts = problem
    distinct = np.unique(data, axis=0)
    k = min(k, len(distinct))
    init = distinct[np.random.default_rng(seed).permutation(len(distinct))[:k]] + 0.25
    weighted = quiet_cluster(data, k, weights=counts.astype(float), init=init, max_iter=15, eps=0)
    rows = np.repeat(np.arange(len(data)), counts)
    plain = quiet_cluster(data[rows], k, init=init, max_iter=15, eps=0)
    np.testing.assert_allclose(weighted.centers, plain.centers, rtol=1e-9, atol=1e-9)
    assert weighted.inertia == pytest.approx(plain.inertia, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(weighted.labels[rows], plain.labels)

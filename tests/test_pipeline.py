"""quantize.image.pipeline.quantize_image: histogram -> weighted k-means -> codebook."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import load_rgb_array
from quantize.core.histogram import colour_histogram, pixel_keys
from quantize.core.kmeans import cluster
from quantize.image.pipeline import nearest_codes, psnr_from_mse, quantize_image


def check_result(pixels, result, k):
    """Invariants every result must satisfy."""
    h, w = pixels.shape[:2]
    codebook = result.codebook
    assert codebook.dtype == np.uint8
    assert codebook.ndim == 2 and codebook.shape[1] == 3
    assert 1 <= codebook.shape[0] <= k
    assert result.k == codebook.shape[0]
    assert np.unique(codebook, axis=0).shape[0] == codebook.shape[0], "palette rows must be distinct"
    assert result.labels.shape == (h, w)
    assert int(result.labels.max()) < codebook.shape[0]
    assert int(result.counts.sum()) == h * w
    np.testing.assert_array_equal(
        result.counts, np.bincount(result.labels.ravel(), minlength=codebook.shape[0]))
    assert (result.counts > 0).all(), "every code is used"
    assert (np.diff(result.counts) <= 0).all(), "most used colour first"
    out = result.reconstruct()
    assert out.shape == pixels.shape and out.dtype == np.uint8
    # Every output pixel is a codebook colour.
    palette_keys = set(pixel_keys(codebook).tolist())
    assert set(pixel_keys(out).tolist()) <= palette_keys


def brute_mse(pixels, out):
    return float(np.mean((out.astype(np.float64) - pixels.astype(np.float64)) ** 2))


def test_invariants_on_blobs(blobs):
    r = quantize_image(blobs, 4, seed=0)
    check_result(blobs, r, 4)
    assert r.k == 4
    assert r.n_colours_in == np.unique(blobs.reshape(-1, 3), axis=0).shape[0]


@pytest.mark.parametrize("k", [1, 2, 3, 7, 16])
def test_invariants_various_k(blobs, k):
    check_result(blobs, quantize_image(blobs, k, seed=1), k)


def test_every_pixel_gets_its_nearest_code(blobs):
    r = quantize_image(blobs, 5, seed=2)
    flat = blobs.reshape(-1, 3).astype(np.int64)
    d = ((flat[:, None, :] - r.codebook[None, :, :].astype(np.int64)) ** 2).sum(axis=2)
    chosen = d[np.arange(len(flat)), r.labels.ravel()]
    np.testing.assert_array_equal(chosen, d.min(axis=1))


@pytest.mark.parametrize("k", [5, 16])
def test_five_colours_come_back_exactly(samples, k):
    pixels = load_rgb_array(samples / "five-colours.png")
    r = quantize_image(pixels, k)
    check_result(pixels, r, k)
    assert r.k == 5
    assert r.n_iter == 0
    assert r.converged is True
    np.testing.assert_array_equal(r.reconstruct(), pixels)
    assert r.inertia == 0.0
    assert r.mse == 0.0
    assert r.psnr == math.inf
    # Bands of widths 10, 15, 20, 25, 30 (x 80 rows), most used first.
    assert r.counts.tolist() == [2400, 2000, 1600, 1200, 800]
    np.testing.assert_array_equal(r.codebook[0], [245, 130, 48])


def test_one_colour_comes_back_exactly(samples):
    pixels = load_rgb_array(samples / "one-colour.png")
    for k in (1, 4):
        r = quantize_image(pixels, k)
        assert r.codebook.tolist() == [[46, 139, 87]]
        assert r.n_iter == 0
        assert r.counts.tolist() == [pixels.shape[0] * pixels.shape[1]]
        np.testing.assert_array_equal(r.reconstruct(), pixels)


def test_k_one_is_the_rounded_mean():
    pixels = np.array([[[0, 0, 0], [10, 20, 30], [20, 40, 61]]], dtype=np.uint8)
    r = quantize_image(pixels, 1)
    # mean = (10, 20, 30.33) -> rounds to (10, 20, 30)
    assert r.codebook.tolist() == [[10, 20, 30]]
    assert r.labels.tolist() == [[0, 0, 0]]
    # 100+400+900 + 0 + 100+400+961
    assert r.inertia == 2861.0


def test_doc_example():
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[0, 0] = 255
    assert quantize_image(img, 2).codebook.tolist() == [[0, 0, 0], [255, 255, 255]]


@pytest.mark.parametrize("k", [2, 6])
def test_mse_and_psnr_match_brute_force(blobs, k):
    r = quantize_image(blobs, k, seed=3)
    mse = brute_mse(blobs, r.reconstruct())
    assert mse > 0
    assert r.mse == pytest.approx(mse, rel=1e-12)
    assert r.inertia == pytest.approx(mse * blobs.size, rel=1e-12)
    assert r.psnr == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-12)
    assert psnr_from_mse(r.mse) == r.psnr


def test_psnr_from_mse():
    assert psnr_from_mse(0.0) == math.inf
    assert psnr_from_mse(255.0**2) == pytest.approx(0.0)
    assert psnr_from_mse(1.0) == pytest.approx(20 * math.log10(255))


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_same_seed_same_result(blobs, init):
    a = quantize_image(blobs, 5, seed=9, init=init, attempts=2)
    b = quantize_image(blobs, 5, seed=9, init=init, attempts=2)
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.inertia == b.inertia


def test_options_recorded(blobs):
    r = quantize_image(blobs, 3, max_iter=7, eps=0.5, init="random", attempts=2, seed=4)
    assert r.options == {"k": 3, "max_iter": 7, "eps": 0.5, "init": "random",
                         "attempts": 2, "seed": 4}


def given_init(k):
    """Spread-out starting centres in RGB space."""
    return np.array([[30, 30, 180], [200, 60, 60], [60, 190, 70], [230, 230, 220],
                     [128, 128, 128], [10, 10, 10]][:k], dtype=np.float64)


@pytest.mark.parametrize("max_iter", [1, 3, 50])
def test_weighted_histogram_kmeans_equals_kmeans_on_all_pixels(blobs, max_iter):
    init = given_init(4)
    hist = colour_histogram(pixel_keys(blobs))
    weighted = cluster(hist.colours.astype(np.float64), 4, weights=hist.counts.astype(np.float64),
                       init=init, max_iter=max_iter, eps=0)
    all_pixels = blobs.reshape(-1, 3).astype(np.float64)
    plain = cluster(all_pixels, 4, init=init, max_iter=max_iter, eps=0)
    np.testing.assert_allclose(weighted.centers, plain.centers, rtol=1e-10, atol=1e-9)
    assert weighted.inertia == pytest.approx(plain.inertia, rel=1e-10)
    assert weighted.n_iter == plain.n_iter
    # Labels agree too: every pixel gets the label of its colour.
    index = np.searchsorted(hist.keys, pixel_keys(blobs))
    np.testing.assert_array_equal(weighted.labels[index], plain.labels)


def test_weighted_equivalence_on_a_photo(chelsea_small):
    init = given_init(6)
    hist = colour_histogram(pixel_keys(chelsea_small))
    assert len(hist) < chelsea_small.shape[0] * chelsea_small.shape[1]  # colours repeat
    weighted = cluster(hist.colours.astype(np.float64), 6, weights=hist.counts.astype(np.float64),
                       init=init, max_iter=10, eps=0)
    plain = cluster(chelsea_small.reshape(-1, 3).astype(np.float64), 6, init=init,
                    max_iter=10, eps=0)
    np.testing.assert_allclose(weighted.centers, plain.centers, rtol=1e-9, atol=1e-8)
    assert weighted.inertia == pytest.approx(plain.inertia, rel=1e-9)


def test_quantize_image_codebook_is_the_rounded_pixel_kmeans(blobs):
    init = given_init(4)
    r = quantize_image(blobs, 4, init=init, max_iter=50, eps=0)
    plain = cluster(blobs.reshape(-1, 3).astype(np.float64), 4, init=init, max_iter=50, eps=0)
    rounded = np.unique(np.rint(plain.centers).astype(np.uint8), axis=0)
    np.testing.assert_array_equal(np.unique(r.codebook, axis=0), rounded)


def test_photo_k8(chelsea_small):
    r = quantize_image(chelsea_small, 8, seed=0)
    check_result(chelsea_small, r, 8)
    assert r.k == 8
    assert r.n_iter >= 1
    assert r.n_colours_in > 8
    assert r.mse == pytest.approx(brute_mse(chelsea_small, r.reconstruct()), rel=1e-12)
    # k-means must beat the trivial one-colour answer by a wide margin.
    one = quantize_image(chelsea_small, 1)
    assert r.mse < one.mse / 4


def test_k_above_256_uses_wide_labels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8)
    r = quantize_image(pixels, 300, max_iter=5)
    check_result(pixels, r, 300)
    assert r.k == 300
    assert r.labels.dtype == np.uint16


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4), dtype=np.uint8), "uint8"),
    (np.zeros((4, 4, 5), dtype=np.uint8), r"\(4, 4, 5\)"),  # 4 channels are RGBA
    (np.zeros((4, 4, 3), dtype=np.float64), "float64"),
    (np.zeros((0, 4, 3), dtype=np.uint8), "no pixels"),
])
def test_bad_pixels_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        quantize_image(bad, 2)


@pytest.mark.parametrize("k, shown", [(0, "0"), (-1, "-1"), (2.0, "2.0"), (True, "True")])
def test_bad_k_rejected(blobs, k, shown):
    with pytest.raises(ValueError, match="k") as info:
        quantize_image(blobs, k)
    assert shown in str(info.value)


def test_callback_is_passed_through(blobs):
    calls = []
    r = quantize_image(blobs, 3, callback=lambda i, shift: calls.append(i))
    assert calls == list(range(1, r.n_iter + 1))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8), st.just(3)),
               elements=st.sampled_from([0, 1, 17, 128, 200, 255])),
    st.integers(1, 6),
    st.integers(0, 1000),
)
def test_property_pipeline_invariants(pixels, k, seed):
    r = quantize_image(pixels, k, seed=seed)
    check_result(pixels, r, k)
    assert r.mse == pytest.approx(brute_mse(pixels, r.reconstruct()), rel=1e-12, abs=1e-12)
    if r.n_colours_in <= k:
        np.testing.assert_array_equal(r.reconstruct(), pixels)


# --------------------------------------------------------------------------
# The packed (distance, index) search used for k <= 64 in float32


def _brute_codes(colours, codebook):
    d = ((colours.astype(np.int64)[:, None, :] - codebook.astype(np.int64)[None]) ** 2).sum(axis=2)
    return d.argmin(axis=1), d.min(axis=1)


@pytest.mark.parametrize("k", [1, 2, 3, 16, 17, 33, 64, 65, 256])
def test_nearest_codes_is_exact_with_ties_to_lowest_index(k):
    rng = np.random.default_rng(k)
    colours = rng.integers(0, 256, size=(5000, 3), dtype=np.uint8)
    # Few distinct codebook values and repeated rows make exact ties common.
    codebook = (rng.integers(0, 6, size=(k, 3)) * 51).astype(np.uint8)
    codebook[k // 2] = codebook[0]
    codes, sq_dist = nearest_codes(colours, codebook)
    expected_codes, expected_sq = _brute_codes(colours, codebook)
    assert codes.tolist() == expected_codes.tolist()
    assert sq_dist.dtype == np.int64
    assert sq_dist.tolist() == expected_sq.tolist()


def test_packed_search_falls_back_when_distances_are_too_large_to_pack():
    import quantize.core.search as km

    # Integer data mostly far from every centre: squared distances up to
    # ~3e6 (still exact in float32) but beyond what 24-bit float32 keys
    # with 6 index bits hold exactly.
    rng = np.random.default_rng(5)
    data = rng.integers(0, 1000, size=(3000, 3)).astype(np.float64)
    centers = rng.integers(0, 300, size=(40, 3)).astype(np.float64)
    centers[7] = centers[3]  # a tie: the lower index must win
    labels = np.empty(len(data), dtype=np.intp)
    sq = np.empty(len(data), dtype=np.float32)
    km._nearest(km._augment(data, np.float32), centers, labels,
                km._new_buffer(len(data), len(centers), np.float32), sq)
    d = ((data[:, None, :] - centers[None]) ** 2).sum(axis=2)
    assert (d.min(axis=1) >= 2 ** 18).mean() > 0.5
    assert (d.min(axis=1) < 2 ** 18).mean() > 0.01
    assert labels.tolist() == d.argmin(axis=1).tolist()
    assert np.array_equal(sq, d.min(axis=1).astype(np.float32))


def test_packed_search_separates_distances_one_apart_beyond_the_packing_limit():
    import quantize.core.search as km

    # From the origin: centre 0 at 800² + 1 = 640001, centre 1 at 800² =
    # 640000. Packed with 6 index bits those two keys are equal, so only the
    # exact re-search picks centre 1.
    centers = np.full((40, 3), 1000.0)
    centers[0] = [800, 1, 0]
    centers[1] = [800, 0, 0]
    data = np.zeros((5, 3))
    labels = np.empty(5, dtype=np.intp)
    sq = np.empty(5, dtype=np.float32)
    km._nearest(km._augment(data, np.float32), centers, labels, km._new_buffer(5, 40, np.float32), sq)
    assert labels.tolist() == [1] * 5
    assert sq.tolist() == [640000.0] * 5


def test_packed_and_argmin_searches_agree_on_float_data():
    import quantize.core.search as km

    rng = np.random.default_rng(9)
    data = rng.random((20000, 3)) * 255
    centers = rng.random((48, 3)) * 255
    aug = km._augment(data, np.float32)
    packed = np.empty(len(data), dtype=np.intp)
    km._nearest(aug, centers, packed, km._new_buffer(len(data), 48, np.float32))
    exact = ((data[:, None, :] - centers[None]) ** 2).sum(axis=2)
    best = exact.min(axis=1)
    # float32 ranking: a different label only where two centres are
    # within float32 rounding of each other.
    chosen = exact[np.arange(len(data)), packed]
    assert np.all(chosen - best <= 1e-3 * (1 + best))
    assert (packed == exact.argmin(axis=1)).mean() > 0.999


def test_coarse_start_still_labels_every_colour_with_its_nearest_code():
    from quantize.image import fit

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(160, 160, 3), dtype=np.uint8)
    k = 16
    hist_size = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert hist_size > fit.SEED_CELLS_PER_CODE * k  # seeds from coarser cells
    result = quantize_image(pixels, k)
    _, sq = _brute_codes(pixels.reshape(-1, 3), result.codebook)
    flat = pixels.reshape(-1, 3).astype(np.int64)
    own = ((flat - result.codebook[result.labels.ravel()].astype(np.int64)) ** 2).sum(axis=1)
    # Nearest code for every pixel (equal distances may pick either code).
    assert own.tolist() == sq.tolist()
    assert result.inertia == float(sq.sum())


@pytest.mark.parametrize("kwargs, match", [
    ({"init": np.zeros((5, 3))}, r"shape \(8, 3\)"),
    ({"init": np.full((8, 3), np.nan)}, "finite"),
    ({"max_iter": 0}, "max_iter"),
    ({"eps": -1}, "eps"),
    ({"attempts": 0}, "attempts"),
    ({"init": "nope"}, "init"),
])
def test_options_are_checked_on_the_coarse_to_fine_path_too(kwargs, match):
    from quantize.image import fit

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(200, 200, 3), dtype=np.uint8)
    assert len(colour_histogram(pixel_keys(pixels))) > fit.SEED_CELLS_PER_CODE * 8
    with pytest.raises(ValueError, match=match):
        quantize_image(pixels, 8, **kwargs)

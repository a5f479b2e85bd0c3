"""quantize.colorspace: conversions against published values, round trips, and
k-means in a working colour space (``--color-space``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import load_rgb_array
from quantize.core import colorspace as cs
from quantize.cli import cli
from quantize.image.pipeline import apply_codebook, quantize_image

# --------------------------------------------------------------------------
# Published reference values

# Björn Ottosson, "A perceptual color space for image processing" (2020),
# https://bottosson.github.io/posts/oklab/ , section "Table of example XYZ and
# Oklab pairs" (XYZ D65 with Y of white = 1; Oklab rounded to three decimals).
OTTOSSON_XYZ_OKLAB = [
    ((0.950, 1.000, 1.089), (1.000, 0.000, 0.000)),
    ((1.000, 0.000, 0.000), (0.450, 1.236, -0.019)),
    ((0.000, 1.000, 0.000), (0.922, -0.671, 0.263)),
    ((0.000, 0.000, 1.000), (0.153, -1.415, -0.449)),
]

# sRGB colours in Oklab, computed with Ottosson's reference linear_srgb_to_oklab
# (same post) and tabulated (six decimals) in the tests of go-colorful
# (github.com/lucasb-eyer/go-colorful, colors_test.go, the OkLab cases).
SRGB_OKLAB = [
    ((255, 255, 255), (1.000000, 0.000000, 0.000000)),
    ((255, 0, 0), (0.627955, 0.224863, 0.125846)),
    ((0, 255, 0), (0.866440, -0.233888, 0.179498)),
    ((0, 0, 255), (0.452014, -0.032457, -0.311528)),
    ((0, 255, 255), (0.905399, -0.149444, -0.039398)),
    ((255, 0, 255), (0.701674, 0.274566, -0.169156)),
    ((255, 255, 0), (0.967983, -0.071369, 0.198570)),
    ((0, 0, 0), (0.000000, 0.000000, 0.000000)),
]

# sRGB colours in CIELAB (D65 white 0.95047, 1, 1.08883), from Bruce Lindbloom's
# colour calculator (brucelindbloom.com), as tabulated in go-colorful's
# colors_test.go (there divided by 100).
SRGB_LAB = [
    ((255, 255, 255), (100.0000, 0.0000, 0.0000)),
    ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
    ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
    ((255, 255, 0), (97.1393, -21.5537, 94.4780)),
    ((0, 0, 0), (0.0000, 0.0000, 0.0000)),
]

# CIEDE2000 test data: G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000
# color-difference formula: implementation notes, supplementary test data, and
# mathematical observations", Color Res. Appl. 30(1):21-30, 2005, Table 1
# (pair numbers 1-4, 7-9, 11, 13, 17-20, 25, 26, 34).
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("xyz, oklab", OTTOSSON_XYZ_OKLAB)
def test_xyz_to_oklab_matches_ottossons_table(xyz, oklab):
    # The table is printed to three decimals: within half a unit of the last
    # digit, plus a little for the rounding of the published matrices.
    np.testing.assert_allclose(cs.xyz_to_oklab(xyz), oklab, atol=7e-4)


@pytest.mark.parametrize("srgb, oklab", SRGB_OKLAB)
def test_srgb_to_oklab_reference_values(srgb, oklab):
    np.testing.assert_allclose(cs.srgb_to_oklab(srgb), oklab, atol=2e-6)


@pytest.mark.parametrize("srgb, lab", SRGB_LAB)
def test_srgb_to_lab_reference_values(srgb, lab):
    np.testing.assert_allclose(cs.srgb_to_lab(srgb), lab, atol=2e-4)


def test_ciede2000_sharma_test_data():
    a = np.array([p[0] for p in SHARMA_PAIRS])
    b = np.array([p[1] for p in SHARMA_PAIRS])
    want = np.array([p[2] for p in SHARMA_PAIRS])
    np.testing.assert_allclose(cs.ciede2000(a, b), want, atol=5e-5)
    np.testing.assert_allclose(cs.ciede2000(b, a), want, atol=5e-5)  # symmetric


def test_transfer_function_reference_points():
    # IEC 61966-2-1: the linear segment below 0.04045 and the curve above.
    assert cs.srgb_to_linear(255) == 1.0
    assert cs.srgb_to_linear(0) == 0.0
    np.testing.assert_allclose(cs.srgb_to_linear(0.04045 * 255), 0.04045 / 12.92)
    np.testing.assert_allclose(cs.srgb_to_linear(127.5), ((0.5 + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(cs.linear_to_srgb(0.0031308), 0.0031308 * 12.92 * 255)


def test_white_and_black_and_luminance():
    np.testing.assert_allclose(cs.linear_to_xyz([1.0, 1.0, 1.0]), cs.D65_WHITE, atol=2e-7)
    assert cs.luminance([255, 255, 255]) == pytest.approx(1.0, abs=2e-7)
    assert cs.luminance([0, 0, 0]) == 0.0
    # Green is by far the brightest primary, blue the darkest.
    lum = cs.luminance([[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    assert lum[1] > lum[0] > lum[2]


# --------------------------------------------------------------------------
# Round trips, step by step and composed

STEPS = [
    (cs.srgb_to_linear, cs.linear_to_srgb, 255.0),
    (cs.linear_to_xyz, cs.xyz_to_linear, 1.0),
    (cs.linear_to_oklab, cs.oklab_to_linear, 1.0),
    (cs.xyz_to_oklab, cs.oklab_to_xyz, 1.0),
    (cs.xyz_to_lab, cs.lab_to_xyz, 1.0),
    (cs.srgb_to_oklab, cs.oklab_to_srgb, 255.0),
    (cs.srgb_to_lab, cs.lab_to_srgb, 255.0),
]


@pytest.mark.parametrize("forward, backward, scale", STEPS)
def test_round_trip_of_every_step(forward, backward, scale):
    # In and out of gamut (negative and > 1 values), any leading shape.
    values = np.random.default_rng(1).uniform(-0.2, 1.2, (7, 11, 3)) * scale
    back = backward(forward(values))
    assert back.shape == values.shape
    np.testing.assert_allclose(back, values, atol=1e-9 * scale)


@given(hnp.arrays(np.uint8, (64, 3)), st.sampled_from(["srgb", "oklab", "lab"]))
@settings(max_examples=60, deadline=None)
def test_uint8_colours_come_back_exactly(colours, space):
    back = cs.from_working(cs.to_working(colours, space), space)
    np.testing.assert_array_equal(np.rint(back).astype(np.uint8), colours)
    np.testing.assert_allclose(back, colours, atol=1e-8)


def test_every_uint8_level_round_trips_through_linear():
    levels = np.arange(256)
    np.testing.assert_allclose(cs.linear_to_srgb(cs.srgb_to_linear(levels)), levels, atol=1e-10)


def test_unknown_space_and_eps_scale():
    with pytest.raises(ValueError, match="hsv"):
        cs.to_working([[1, 2, 3]], "hsv")
    assert cs.eps_scale("srgb") == 1.0
    assert cs.eps_scale("oklab") == pytest.approx(1 / 255)
    assert cs.eps_scale("lab") == pytest.approx(100 / 255)


def test_delta_e_ok():
    assert cs.delta_e_ok([10, 20, 30], [10, 20, 30]) == 0.0
    # Black to white is 1 in Oklab (L goes from 0 to 1).
    assert cs.delta_e_ok([0, 0, 0], [255, 255, 255]) == pytest.approx(1.0, abs=1e-7)


# --------------------------------------------------------------------------
# k-means in a working space


def oklab_nearest_ok(colours, codebook, codes, space):
    """Every colour's code is its nearest in ``space`` (to float32 search precision)."""
    cw = cs.to_working(colours, space)
    bw = cs.to_working(codebook, space)
    d = ((cw[:, None, :] - bw[None, :, :]) ** 2).sum(axis=2)
    chosen = d[np.arange(len(colours)), codes]
    scale = 1.0 if space == "oklab" else 1e4
    assert np.all(chosen <= d.min(axis=1) + 1e-6 * scale)


@pytest.mark.parametrize("space", ["oklab", "lab"])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_working_space_result_invariants(chelsea_small, space, k):
    r = quantize_image(chelsea_small, k, color_space=space, seed=3)
    assert r.codebook.dtype == np.uint8 and r.codebook.shape[1] == 3
    assert 1 <= r.k <= k
    assert np.unique(r.codebook, axis=0).shape[0] == r.k
    assert int(r.counts.sum()) == chelsea_small.shape[0] * chelsea_small.shape[1]
    np.testing.assert_array_equal(r.counts, np.bincount(r.labels.ravel(), minlength=r.k))
    assert (np.diff(r.counts) <= 0).all()
    assert r.options["color_space"] == space
    flat = chelsea_small.reshape(-1, 3)
    oklab_nearest_ok(flat, r.codebook, r.labels.ravel(), space)
    # MSE stays an sRGB measure.
    mse = np.mean((r.reconstruct().astype(float) - chelsea_small) ** 2)
    assert r.mse == pytest.approx(mse)


@pytest.mark.parametrize("space", ["oklab", "lab"])
def test_at_most_k_colours_come_back_exactly_in_every_space(space):
    # 256 greys, and 256 near-black colours (the closest pairs in Oklab).
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    darks = np.stack(np.meshgrid(np.arange(8), np.arange(8), np.arange(4), indexing="ij"),
                     -1).reshape(-1, 3).astype(np.uint8)
    for colours in (greys, darks):
        img = colours.reshape(16, -1, 3)
        r = quantize_image(img, 256, color_space=space)
        np.testing.assert_array_equal(r.reconstruct(), img)
        assert r.inertia == 0.0


def test_srgb_is_the_default_and_unchanged(chelsea_small):
    a = quantize_image(chelsea_small, 8, seed=1)
    b = quantize_image(chelsea_small, 8, seed=1, color_space="srgb")
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert "color_space" not in a.options


def test_oklab_lowers_perceptual_error_on_a_photo(samples):
    """The point of the option: on a photo, mean ΔE_OK is lower with oklab."""
    pixels = load_rgb_array(samples / "astronaut.png")[::2, ::2]
    err = {}
    for space in ("srgb", "oklab"):
        r = quantize_image(pixels, 16, color_space=space)
        err[space] = float(cs.delta_e_ok(pixels, r.reconstruct()).mean())
    assert err["oklab"] < err["srgb"]


def test_working_space_on_a_large_histogram_uses_the_cell_pyramid(samples):
    # china.jpg has far more distinct colours than 2 x the coarse target: the
    # coarse-to-fine path runs, on Oklab cell means.
    pixels = load_rgb_array(samples / "china.jpg")
    r = quantize_image(pixels, 8, color_space="oklab")
    assert r.n_colours_in > 40000
    assert r.k == 8
    again = quantize_image(pixels, 8, color_space="oklab")
    np.testing.assert_array_equal(r.codebook, again.codebook)
    np.testing.assert_array_equal(r.labels, again.labels)


def test_init_array_is_srgb_in_every_space(blobs):
    init = np.array([[20, 30, 200], [220, 40, 40], [40, 200, 60], [240, 240, 230]], float)
    for space in ("srgb", "oklab", "lab"):
        r = quantize_image(blobs, 4, init=init, color_space=space)
        # The fitted centres stay near the blobs' centres whatever the space.
        assert np.abs(np.sort(r.codebook.astype(int), axis=0) - np.sort(init, axis=0)).max() < 12


def test_apply_codebook_in_oklab(chelsea_small):
    book = quantize_image(chelsea_small, 6).codebook
    r = apply_codebook(chelsea_small, book, color_space="oklab")
    np.testing.assert_array_equal(r.codebook, book)
    oklab_nearest_ok(chelsea_small.reshape(-1, 3), book, r.labels.ravel(), "oklab")
    assert r.options["color_space"] == "oklab"


def test_cli_color_space(tmp_path, blobs_png):
    runner = CliRunner()
    out, book = tmp_path / "o.png", tmp_path / "o.json"
    res = runner.invoke(cli, ["image", str(blobs_png), "-k", "4", "-o", str(out),
                              "--color-space", "oklab", "--codebook", str(book)])
    assert res.exit_code == 0, res.output
    assert json.loads(book.read_text())["options"]["color_space"] == "oklab"
    res = runner.invoke(cli, ["image", str(blobs_png), "-o", str(out), "--color-space", "hsv"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["palette", str(blobs_png), "-k", "3", "-o", str(book),
                              "--color-space", "lab"])
    assert res.exit_code == 0, res.output
    assert json.loads(book.read_text())["options"]["color_space"] == "lab"
    res = runner.invoke(cli, ["apply", str(blobs_png), "-c", str(book), "-o", str(out),
                              "--color-space", "lab"])
    assert res.exit_code == 0, res.output

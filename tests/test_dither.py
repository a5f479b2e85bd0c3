"""Dithering: only codebook colours come out, codebook colours stay, gradients keep their mean."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.image import dither
from quantize.cli import cli
from quantize.io.encode import floyd_steinberg_pillow
from quantize.image.pipeline import apply_codebook, quantize_image

IMPLEMENTATIONS = {
    "ordered": dither.ordered,
    "floyd-steinberg (numpy)": dither.floyd_steinberg,
    "floyd-steinberg (Pillow)": floyd_steinberg_pillow,
}
METHODS = {"ordered": dither.ordered, "floyd-steinberg": dither.floyd_steinberg}


def gradient(height=48, width=256):
    """A smooth colour ramp: the case dithering is for."""
    x = np.linspace(0, 255, width)
    y = np.linspace(0, 1, height)[:, None]
    r = np.broadcast_to(x, (height, width))
    g = np.broadcast_to(x * 0.6 + 40 * y, (height, width))
    b = np.broadcast_to(255 - x * 0.8, (height, width))
    return np.rint(np.stack([r, g, b], axis=-1)).astype(np.uint8)


def ramp(height=64, width=256):
    """A ramp along a straight line of colours, the same down every column."""
    x = np.linspace(0, 1, width)
    line = np.stack([255 * x, 40 + 120 * x, 255 - 200 * x], axis=-1)
    return np.rint(np.broadcast_to(line, (height, width, 3))).astype(np.uint8)


def box_blur(img, size=8):
    """Mean over size x size windows (what the eye sees from afar)."""
    f = img.astype(np.float64)
    c = f.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0), (0, 0)))
    s = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return s / (size * size)


def colours(img) -> set:
    return set(map(tuple, np.unique(img.reshape(-1, 3), axis=0).tolist()))


def test_bayer_matrix():
    assert sorted(dither.BAYER8.ravel().tolist()) == list(range(64))
    np.testing.assert_array_equal(dither.BAYER8[:2, :2], [[0, 32], [48, 16]])
    # Every 2x2 block (aligned) holds one value of each quarter.
    quarters = dither.BAYER8 // 16
    assert sorted(quarters[:2, :2].ravel().tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("k", [1, 2, 5, 16, 256])
def test_outputs_only_codebook_colours(name, k):
    rng = np.random.default_rng(k)
    pixels = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
    codebook = np.unique(rng.integers(0, 256, (k, 3)).astype(np.uint8), axis=0)
    labels = IMPLEMENTATIONS[name](pixels, codebook)
    assert labels.shape == pixels.shape[:2]
    assert int(labels.min()) >= 0 and int(labels.max()) < codebook.shape[0]


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("space", ["srgb", "oklab", "lab"])
def test_output_colours_all_come_from_the_palette(chelsea_small, method, space):
    result = quantize_image(chelsea_small, 12, color_space=space)
    out = dither.dither_result(result, chelsea_small, method)
    assert colours(out.reconstruct()) <= set(map(tuple, result.codebook.tolist()))
    np.testing.assert_array_equal(out.counts, np.bincount(out.labels.ravel(), minlength=out.k))


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("space", ["srgb", "oklab"])
def test_exact_colour_regions_are_left_alone(method, space):
    """A region whose colour is a codebook colour comes out exactly that colour,
    whatever error its dithered neighbours carry into it."""
    pixels = gradient(64, 96)
    book = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 90], [30, 140, 60],
                     [90, 90, 200], [128, 128, 128]], np.uint8)
    # Patches of three codebook colours, amid colours far from every code.
    pixels[10:30, 10:40] = book[2]
    pixels[35:60, 50:90] = book[5]
    pixels[0:64, 60:63] = book[0]
    exact = (pixels[..., None, :] == book).all(axis=-1).any(axis=-1)
    assert exact.sum() > 1500
    result = apply_codebook(pixels, book, color_space=space)
    labels = dither.dither_labels(pixels, book, method, labels=result.labels, color_space=space)
    out = book[labels]
    np.testing.assert_array_equal(out[exact], pixels[exact])
    # And elsewhere it did dither.
    assert (labels[~exact] != result.labels[~exact]).any()


@pytest.mark.parametrize("method", list(METHODS))
def test_an_image_of_codebook_colours_is_unchanged(method):
    rng = np.random.default_rng(3)
    book = rng.integers(0, 256, (9, 3)).astype(np.uint8)
    pixels = book[rng.integers(0, 9, (40, 50))]
    labels = METHODS[method](pixels, book)
    np.testing.assert_array_equal(book[labels], pixels)


@pytest.mark.parametrize("method", list(METHODS))
def test_deterministic(chelsea_small, method):
    result = quantize_image(chelsea_small, 8)
    a = METHODS[method](chelsea_small, result.codebook, labels=result.labels)
    b = METHODS[method](chelsea_small.copy(), result.codebook.copy(), labels=result.labels.copy())
    np.testing.assert_array_equal(a, b)
    # Without labels, each pixel's nearest code is found: the same result as
    # giving them.
    nearest = dither._nearest_labels(chelsea_small, result.codebook, "srgb")
    np.testing.assert_array_equal(METHODS[method](chelsea_small, result.codebook),
                                  METHODS[method](chelsea_small, result.codebook, labels=nearest))


@pytest.mark.parametrize("method", list(METHODS))
def test_smooth_gradient_at_k4_keeps_its_mean_colour_per_column(method):
    """Every column's mean colour, averaged over 8 neighbouring columns (one
    period of the Bayer pattern; error diffusion also spreads sideways), stays
    within 5 units of the source's, where the undithered image is up to 28 off."""
    pixels = ramp()
    result = quantize_image(pixels, 4)
    book = result.codebook.astype(np.float64)
    # Columns whose colour lies between the outermost codes: beyond them no
    # mix of codes can reach it.
    inside = (pixels[0, :, 0] >= book[:, 0].min()) & (pixels[0, :, 0] <= book[:, 0].max())

    def column_error(img):
        cols = img.astype(np.float64).mean(axis=0) - pixels.astype(np.float64).mean(axis=0)
        window = np.ones(8) / 8
        smooth = np.stack([np.convolve(cols[:, c], window, mode="valid") for c in range(3)], 1)
        return np.abs(smooth[inside[4:-3]]).max(), np.abs(cols[inside]).mean()

    plain_max, _ = column_error(result.reconstruct())
    labels = METHODS[method](pixels, result.codebook, labels=result.labels)
    dith_max, dith_mean = column_error(book[labels])
    assert plain_max > 20
    assert dith_max <= 5.0, dith_max
    assert dith_mean <= 8.0


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("source, k", [("ramp", 6), ("gradient.png", 16)])
def test_gradient_is_closer_after_blurring(samples, name, source, k):
    if source == "ramp":
        pixels = gradient()
    else:
        pixels = np.asarray(Image.open(samples / source).convert("RGB"))
    result = quantize_image(pixels, k)
    plain = result.reconstruct()
    dithered = result.codebook[IMPLEMENTATIONS[name](pixels, result.codebook)]
    err_plain = np.abs(box_blur(plain) - box_blur(pixels)).mean()
    err_dith = np.abs(box_blur(dithered) - box_blur(pixels)).mean()
    assert err_dith < 0.9 * err_plain, (err_dith, err_plain)


# --------------------------------------------------------------------------
# Floyd–Steinberg


def sequential_fs(pixels, codebook, labels, *, carry=dither.FS_CARRY, reach=dither.FS_REACH,
                  quiet=dither.FS_QUIET, active=dither.FS_ACTIVE, visible=dither.FS_VISIBLE):
    """The row-by-row scan that dither.floyd_steinberg vectorises (sRGB), in the
    same float32 arithmetic, pixel by pixel, on the image with its mirrored
    margin above and to the left."""
    warm = dither.FS_WARMUP
    pixels = np.pad(pixels, ((warm, 0), (warm, 0), (0, 0)), mode="symmetric")
    labels = np.pad(labels, ((warm, 0), (warm, 0)), mode="symmetric")
    h, w = pixels.shape[:2]
    book = codebook.astype(np.float32)
    gaps = dither._neighbour_distances(codebook.astype(np.float64)).min(axis=1)
    span = max(active ** 2 - quiet ** 2, 1e-12)
    inv_gap2 = (1.0 / (gaps * gaps * span)).astype(np.float32)
    bias = np.float32(quiet ** 2 / span)
    inv_vis = np.float32(1.0 / (0.75 * max(visible ** 2, 1e-30)))
    reach2 = (2.0 * np.minimum(reach * reach * gaps * gaps, 1e30)).astype(np.float32)
    table, weights = dither._grid(codebook.astype(np.float64), np.zeros(3), 4.0,
                                  np.array([64, 64, 64]))
    work = np.zeros((h, w, 3), np.float32)
    out = np.zeros((h, w), np.intp)
    for y in range(h):
        for x in range(w):
            c = pixels[y, x].astype(np.float32)
            a = int(labels[y, x])
            e0 = c - book[a]
            own2 = np.float32((e0 * e0).sum())
            s = max(np.float32(own2 * inv_gap2[a] - bias),
                    np.float32(own2 * inv_vis - np.float32(0.25 / 0.75)))
            s = np.float32(min(max(s, 0.0), 1.0))
            t = np.clip(work[y, x] * s + c, 0, 255).astype(np.float32)
            code = int(table[int(np.floor(t * np.float32(0.25)) @ weights)])
            dq = c - book[code]
            if not np.float32((dq * dq).sum()) <= own2 * np.float32(2) + reach2[a]:
                code, t = a, c
            if s == 0:
                code = a
            out[y, x] = code
            e = t - book[code]
            if y == h - 1:
                shares = {(0, 1): 16}
            elif w == 1:
                shares = {(1, 0): 16}
            elif x == w - 1:
                shares = {(1, -1): 6, (1, 0): 10}
            elif x == 0:
                shares = {(0, 1): 7, (1, 0): 8, (1, 1): 1}
            else:
                shares = {(0, 1): 7, (1, -1): 3, (1, 0): 5, (1, 1): 1}
            for (dy, dx), n in shares.items():
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    work[y + dy, x + dx] += e * np.float32(carry * n / 16)
    return out[warm:, warm:]


@pytest.mark.parametrize("shape", [(13, 17), (9, 3), (5, 1), (1, 7), (4, 2), (2, 2)])
def test_wavefront_floyd_steinberg_is_the_sequential_scan(shape):
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, shape + (3,)).astype(np.uint8)
    codebook = rng.integers(0, 256, (7, 3)).astype(np.uint8)
    pixels[shape[0] // 2:, : shape[1] // 2] = codebook[2]       # a flat, exact patch
    pixels[: shape[0] // 2, shape[1] // 2:] = [120, 130, 140]   # a flat, inexact one
    labels = dither._nearest_labels(pixels, codebook, "srgb")
    np.testing.assert_array_equal(dither.floyd_steinberg(pixels, codebook, labels=labels),
                                  sequential_fs(pixels, codebook, labels))
    # Without the limits: the textbook algorithm (with the edge rule).
    textbook = dict(carry=1.0, reach=np.inf, quiet=0.0, active=0.0, visible=0.0)
    np.testing.assert_array_equal(
        dither.floyd_steinberg(pixels, codebook, labels=labels, **textbook),
        sequential_fs(pixels, codebook, labels, **textbook))


TEXTBOOK = dict(carry=1.0, reach=np.inf, quiet=0.0, active=0.0, visible=0.0)


def test_floyd_steinberg_adds_no_far_off_colour():
    """A flat dark area whose error points where only a far code lies (a greenish
    black against browns and a bright yellow): no bright dots, only the codes
    around its colour."""
    book = np.array([[30, 12, 8], [60, 30, 20], [240, 200, 60]], np.uint8)
    pixels = np.empty((60, 80, 3), np.uint8)
    pixels[:] = [20, 40, 30]
    assert set(np.unique(dither.floyd_steinberg(pixels, book))) <= {0, 1}
    # What the limits prevent: the textbook algorithm piles the error up
    # until the yellow is nearest.
    assert 2 in dither.floyd_steinberg(pixels, book, **TEXTBOOK)


def test_floyd_steinberg_keeps_the_borders_mean():
    """A flat colour between two codes: the eight-pixel bands along each edge
    have the mean colour of the whole (no band is left undithered at the top,
    no error is lost at the sides), which is the source's."""
    book = np.array([[40, 40, 40], [200, 200, 200]], np.uint8)
    for v in (60, 100, 150, 180):
        pixels = np.full((60, 90, 3), v, np.uint8)
        out = book[dither.floyd_steinberg(pixels, book)][..., 0].astype(np.float64)
        assert abs(out.mean() - v) < 4
        for band in (out[:8], out[-8:], out[:, :8], out[:, -8:]):
            assert abs(band.mean() - out.mean()) <= 3, (v, band.mean(), out.mean())


def test_floyd_steinberg_measures_error_in_the_working_space(chelsea_small):
    result = quantize_image(chelsea_small, 8, color_space="oklab")
    via_result = dither.dither_result(result, chelsea_small, "floyd-steinberg", sort=None)
    direct = dither.floyd_steinberg(chelsea_small, result.codebook, labels=result.labels,
                                    color_space="oklab")
    np.testing.assert_array_equal(via_result.labels, direct)
    assert (direct != dither.floyd_steinberg(chelsea_small, result.codebook,
                                             labels=result.labels)).any()


# --------------------------------------------------------------------------
# Ordered


def test_ordered_is_deterministic_and_positional():
    pixels = np.full((16, 16, 3), 100, np.uint8)
    book = np.array([[0, 0, 0], [128, 128, 128], [255, 255, 255]], np.uint8)
    a = dither.ordered(pixels, book)
    np.testing.assert_array_equal(a, dither.ordered(pixels, book))
    np.testing.assert_array_equal(a[:8, :8], a[8:, 8:])  # the 8x8 pattern repeats
    # 100 lies between 0 and 128, 78% of the way: a mix of both, 50 of 64 of 128.
    assert (a[:8, :8] == 1).sum() == 50 and set(np.unique(a)) == {0, 1}


def test_ordered_mixes_only_neighbouring_codes_along_a_ramp():
    """Codes on a straight line: each pixel takes its nearest code or the next
    one towards its colour, never a farther code in the same direction."""
    pixels = ramp(16, 256)
    book = pixels[0, [0, 85, 170, 255]]
    labels = dither.ordered(pixels, book)
    nearest = dither._nearest_labels(pixels, book, "srgb")
    assert np.abs(labels.astype(int) - nearest.astype(int)).max() == 1


def test_ordered_leaves_noise_alone():
    """Noise as strong as the codes' spacing dithers by itself: no pattern is added."""
    rng = np.random.default_rng(7)
    book = np.array([[100, 100, 100], [130, 130, 130], [160, 160, 160]], np.uint8)
    pixels = np.clip(rng.normal(125, 20, (48, 48, 1)).repeat(3, axis=2), 0, 255).astype(np.uint8)
    labels = dither._nearest_labels(pixels, book, "srgb")
    np.testing.assert_array_equal(dither.ordered(pixels, book, labels=labels), labels)
    # The same mean without the noise is dithered.
    flat = np.full_like(pixels, 125)
    assert len(np.unique(dither.ordered(flat, book))) == 2


def test_local_std_is_the_window_rms_of_the_channels():
    """Over the 3×3 blocks of 2×2 pixels around a pixel's block (an odd last row
    or column repeated, edge blocks repeated outwards)."""
    rng = np.random.default_rng(1)
    for shape in [(7, 9), (12, 6), (1, 1), (2, 3)]:
        pixels = rng.integers(0, 256, shape + (3,)).astype(np.uint8)
        h, w = shape
        hb, wb = (h + 1) // 2, (w + 1) // 2
        want = np.zeros(shape)
        for y in range(h):
            for x in range(w):
                blocks_y = np.clip(np.arange(y // 2 - 1, y // 2 + 2), 0, hb - 1)
                blocks_x = np.clip(np.arange(x // 2 - 1, x // 2 + 2), 0, wb - 1)
                ys = np.minimum(np.concatenate([[2 * b, 2 * b + 1] for b in blocks_y]), h - 1)
                xs = np.minimum(np.concatenate([[2 * b, 2 * b + 1] for b in blocks_x]), w - 1)
                window = pixels[ys][:, xs].reshape(-1, 3).astype(np.float64)
                want[y, x] = np.sqrt(window.var(axis=0).mean())
        np.testing.assert_allclose(dither._local_std(pixels), want, atol=2e-2)


# --------------------------------------------------------------------------
# Results, transparency and the command line


def test_nearest_table_is_exact_for_cell_centres():
    rng = np.random.default_rng(5)
    codebook = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    table = dither.nearest_table(codebook, bits=4)
    centres = (np.arange(16) * 16 + 7.5)
    grid = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), -1).reshape(-1, 3)
    d = ((grid[:, None, :] - codebook[None].astype(float)) ** 2).sum(-1)
    np.testing.assert_array_equal(d[np.arange(len(grid)), table], d.min(axis=1))


def test_dither_result_recounts_and_reorders(chelsea_small):
    r = quantize_image(chelsea_small, 8)
    d = dither.dither_result(r, chelsea_small, "ordered", sort="frequency")
    np.testing.assert_array_equal(d.counts, np.bincount(d.labels.ravel(), minlength=d.k))
    assert (np.diff(d.counts) <= 0).all()
    assert set(map(tuple, d.codebook.tolist())) <= set(map(tuple, r.codebook.tolist()))
    mse = np.mean((d.reconstruct().astype(float) - chelsea_small) ** 2)
    assert d.mse == pytest.approx(mse)
    assert dither.dither_result(r, chelsea_small, "none") is r
    with pytest.raises(ValueError, match="dither"):
        dither.dither_result(r, chelsea_small, "random")


def test_dither_keeps_a_given_codebook(chelsea_small):
    book = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [1, 2, 3]], np.uint8)
    r = apply_codebook(chelsea_small, book)
    d = dither.dither_result(r, chelsea_small, "floyd-steinberg", sort=None)
    np.testing.assert_array_equal(d.codebook, book)


@pytest.mark.parametrize("method", list(METHODS))
def test_transparent_pixels_keep_their_codes(chelsea_small, method):
    rgba = np.dstack([chelsea_small, np.full(chelsea_small.shape[:2], 255, np.uint8)])
    rgba[:20, :30, 3] = 0
    rgba[30:40, 50:70, 3] = 128
    r = quantize_image(rgba, 10)
    d = dither.dither_result(r, rgba, method, sort=None)
    see_through = rgba[..., 3] < 255
    np.testing.assert_array_equal(d.labels[see_through], r.labels[see_through])
    assert (d.codebook[d.labels[~see_through], 3] == 255).all()


def test_bad_labels_are_refused():
    pixels = np.zeros((4, 4, 3), np.uint8)
    book = np.array([[0, 0, 0], [9, 9, 9]], np.uint8)
    with pytest.raises(ValueError, match="shape"):
        dither.floyd_steinberg(pixels, book, labels=np.zeros((3, 4), np.uint8))
    with pytest.raises(ValueError, match="codes"):
        dither.ordered(pixels, book, labels=np.full((4, 4), 2, np.uint8))


def palette_of(png_bytes):
    im = Image.open(io.BytesIO(png_bytes))
    k = len(im.getpalette()) // 3
    return np.asarray(im), np.array(im.getpalette(), np.uint8).reshape(-1, 3)[:k]


@pytest.mark.parametrize("method", ["floyd-steinberg", "ordered"])
def test_cli_dither_in_every_mode(tmp_path, write_png, method):
    src = write_png(gradient(), "ramp.png")
    runner = CliRunner()
    out, book = tmp_path / "o.png", tmp_path / "o.json"
    res = runner.invoke(cli, ["image", str(src), "-k", "6", "-o", str(out), "--dither", method,
                              "--codebook", str(book)])
    assert res.exit_code == 0, res.output
    labels, palette = palette_of(out.read_bytes())
    assert labels.max() < len(palette) <= 6
    # Reconstruct mode: every pixel is a palette colour.
    rec = tmp_path / "r.png"
    res = runner.invoke(cli, ["image", str(src), "-k", "6", "-o", str(rec), "--mode",
                              "reconstruct", "--dither", method])
    assert res.exit_code == 0, res.output
    pixels = np.asarray(Image.open(rec).convert("RGB")).reshape(-1, 3)
    assert set(map(tuple, np.unique(pixels, axis=0).tolist())) <= set(map(tuple, palette.tolist()))
    # apply: the codebook as given.
    app = tmp_path / "a.png"
    res = runner.invoke(cli, ["apply", str(src), "-c", str(book), "-o", str(app), "--dither", method])
    assert res.exit_code == 0, res.output
    labels, palette2 = palette_of(app.read_bytes())
    np.testing.assert_array_equal(palette2, palette)
    # Dithering is repeatable: the same bytes.
    again = tmp_path / "o2.png"
    runner.invoke(cli, ["image", str(src), "-k", "6", "-o", str(again), "--dither", method])
    assert again.read_bytes() == out.read_bytes()


def test_cli_batch_dither(tmp_path, write_png):
    write_png(gradient(), "ramp.png")
    res = CliRunner().invoke(cli, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                   "-k", "4", "--dither", "ordered", "-j", "1", "-q"])
    assert res.exit_code == 0, res.output
    labels, palette = palette_of((tmp_path / "out" / "ramp.png").read_bytes())
    assert len(np.unique(labels)) == len(palette) <= 4


def test_new_modules_import_no_pil_click_or_tqdm():
    import subprocess
    import sys

    code = ("import sys, quantize.image.dither, quantize.core.colorspace, quantize.image.transparency, "
            "quantize.image.pipeline\n"
            "print(sorted(m for m in ('PIL', 'click', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------
# The bench's measures (benchmarks/dither.py)


def test_bench_blur_is_scipys_gaussian():
    ndimage = pytest.importorskip("scipy.ndimage")
    from benchmarks import dither as bench

    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (31, 40, 3)).astype(np.float64)
    want = np.stack([ndimage.gaussian_filter(img[..., c], 1.5, mode="reflect", truncate=5 / 1.5)
                     for c in range(3)], axis=-1)
    np.testing.assert_allclose(bench.gaussian_blur(img), want, atol=1e-9)
    assert bench.blurred_mse(img, img) == 0.0


def test_bench_flat_noise_counts_only_flat_source_windows():
    from benchmarks import dither as bench

    src = np.zeros((60, 60, 3), np.uint8)
    src[:, 30:] = np.arange(30)[None, :, None] * 8          # steep: not flat
    out = src.copy()
    out[::2, ::2] = 6                                      # noise everywhere
    value, n = bench.flat_noise(src, out)
    assert n == 58 * 29          # windows of the flat half, and those reaching one column over
    assert 0 < value < 6 and value == pytest.approx(
        np.mean([bench.local_std(out)[y, x].mean() for y in range(58) for x in range(29)]))
    assert bench.flat_noise(src, src)[0] == 0.0

"""Dithering: only codebook colours come out, gradients come out smoother."""

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


def gradient(height=48, width=256):
    """A smooth colour ramp: the case dithering is for."""
    x = np.linspace(0, 255, width)
    y = np.linspace(0, 1, height)[:, None]
    r = np.broadcast_to(x, (height, width))
    g = np.broadcast_to(x * 0.6 + 40 * y, (height, width))
    b = np.broadcast_to(255 - x * 0.8, (height, width))
    return np.rint(np.stack([r, g, b], axis=-1)).astype(np.uint8)


def box_blur(img, size=8):
    """Mean over size x size windows (what the eye sees from afar)."""
    f = img.astype(np.float64)
    c = f.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0), (0, 0)))
    s = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return s / (size * size)


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


def sequential_fs(pixels, codebook):
    """The textbook row-by-row Floyd-Steinberg, nearest codes from the same table."""
    table = dither.nearest_table(codebook)
    h, w = pixels.shape[:2]
    work = pixels.astype(np.float32)
    labels = np.zeros((h, w), dtype=np.intp)
    book = codebook.astype(np.float32)
    for y in range(h):
        for x in range(w):
            c = np.clip(work[y, x], 0, 255)
            code = int(dither._lookup(table, np.rint(c)[None])[0])
            labels[y, x] = code
            e = c - book[code]
            if x + 1 < w:
                work[y, x + 1] += e * np.float32(7 / 16)
            if y + 1 < h:
                if x > 0:
                    work[y + 1, x - 1] += e * np.float32(3 / 16)
                work[y + 1, x] += e * np.float32(5 / 16)
                if x + 1 < w:
                    work[y + 1, x + 1] += e * np.float32(1 / 16)
    return labels


def test_wavefront_floyd_steinberg_is_the_sequential_scan():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (13, 17, 3)).astype(np.uint8)
    codebook = rng.integers(0, 256, (7, 3)).astype(np.uint8)
    got = dither.floyd_steinberg(pixels, codebook)
    want = sequential_fs(pixels, codebook)
    # Equal up to float32 addition order: allow a stray pixel.
    assert (got != want).sum() <= 2


def test_nearest_table_is_exact_for_cell_centres():
    rng = np.random.default_rng(5)
    codebook = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    table = dither.nearest_table(codebook, bits=4)
    centres = (np.arange(16) * 16 + 7.5)
    grid = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), -1).reshape(-1, 3)
    d = ((grid[:, None, :] - codebook[None].astype(float)) ** 2).sum(-1)
    np.testing.assert_array_equal(d[np.arange(len(grid)), table], d.min(axis=1))


def test_ordered_is_deterministic_and_positional():
    pixels = np.full((16, 16, 3), 100, np.uint8)
    book = np.array([[0, 0, 0], [128, 128, 128], [255, 255, 255]], np.uint8)
    a = dither.ordered(pixels, book)
    np.testing.assert_array_equal(a, dither.ordered(pixels, book))
    np.testing.assert_array_equal(a[:8, :8], a[8:, 8:])  # the 8x8 pattern repeats
    # 100 lies between 0 and 128: a mix of both, more of 128 (about 100/128).
    share = (a == 1).mean()
    assert 0.65 < share < 0.9 and set(np.unique(a)) <= {0, 1}


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

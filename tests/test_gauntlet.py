"""Bad input, faults and hostile files: nothing is lost.

Every failure case asserts the documented exit code, one line on stderr that
names the file, no traceback, and no output or temporary file left behind
(or the existing target left exactly as it was). The files are generated.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

import quantize.io.decode
import quantize.io.files
from quantize.errors import BadImageError
from quantize.io.decode import DEFAULT_MAX_PIXELS, READ_FORMATS, load_rgb

from hostile import (assert_clean_failure, assert_success, bmp_with_header, encode, few_colours,
                     gif_with_header, invoke, listing, png_with_header, ppm_with_header, psd_file,
                     rgb_of, snapshot, swapped_srgb_profile)


@pytest.fixture
def src(tmp_path):
    """tmp_path/in: where the inputs go."""
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


@pytest.fixture
def out(tmp_path):
    """tmp_path/out: empty; every failing run must leave it empty."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def small_png(src):
    """A 12x16 PNG with four colours."""
    path = src / "small.png"
    Image.fromarray(few_colours()).save(path)
    return path


def run_image(path, out, *extra, name="o.png", codebook=True):
    """`quantize image PATH -o OUT/o.png --codebook OUT/o.json ...`"""
    args = ["image", path, "-o", out / name]
    if codebook:
        args += ["--codebook", out / "o.json"]
    return invoke(*args, *extra)


# --------------------------------------------------------------------------
# 1. Missing and unreadable inputs -> 66


def test_missing_file_exits_66(src, out):
    r = run_image(src / "nope.png", out)
    assert_clean_failure(r, 66, "nope.png", folder=out)
    assert "no such file" in r.stderr


def test_directory_as_input_exits_66(src, out):
    r = run_image(src, out)
    assert_clean_failure(r, 66, repr(str(src)), folder=out)
    assert "directory" in r.stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_unreadable_file_exits_66(small_png, out):
    small_png.chmod(0)
    try:
        r = run_image(small_png, out)
    finally:
        small_png.chmod(0o644)
    assert_clean_failure(r, 66, "small.png", folder=out)
    assert "permission denied" in r.stderr


def test_closed_stdin_exits_66(out):
    # `quantize image - -o out.png <&-`: sys.stdin is None.
    code = ("import sys; from quantize.cli import main; "
            f"main(['image', '-', '-o', {str(out / 'o.png')!r}])")
    p = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, preexec_fn=lambda: os.close(0))
    assert p.returncode == 66, p.stderr
    assert p.stderr.strip() == "quantize: error: '-': standard input is closed"
    assert listing(out) == []


# --------------------------------------------------------------------------
# 2. Wrong content -> 65; a JPEG named .png is read as the JPEG it is


def test_zero_byte_file_exits_65(src, out):
    empty = src / "empty.png"
    empty.write_bytes(b"")
    r = run_image(empty, out)
    assert_clean_failure(r, 65, "empty.png", folder=out)
    assert "empty file" in r.stderr


def test_text_file_named_png_exits_65(src, out):
    fake = src / "notes.png"
    fake.write_text("shopping list:\n- eggs\n")
    r = run_image(fake, out)
    assert_clean_failure(r, 65, "notes.png", folder=out)
    assert "not an image in a supported format" in r.stderr


def test_jpeg_named_png_is_read_as_jpeg(src, out):
    data = encode(Image.fromarray(few_colours(24, 32)), "JPEG", quality=95)
    (src / "photo.png").write_bytes(data)
    (src / "photo.jpg").write_bytes(data)
    assert_success(invoke("image", src / "photo.png", "-o", out / "a.png", "-k", "4"))
    assert_success(invoke("image", src / "photo.jpg", "-o", out / "b.png", "-k", "4"))
    assert (out / "a.png").read_bytes() == (out / "b.png").read_bytes()
    assert rgb_of(out / "a.png").shape == (24, 32, 3)


def _eps(path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(path, format="EPS")


def _pdf(path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(path, format="PDF")


def _ico(path):
    Image.new("RGB", (16, 16), (255, 0, 0)).save(path, format="ICO")


def _pcx(path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(path, format="PCX")


def _sgi(path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(path, format="SGI")


def _psd(path):
    path.write_bytes(psd_file())


@pytest.mark.parametrize("make, name, says", [
    (_eps, "drawing.eps", "PostScript (EPS)"),
    (_psd, "layers.psd", "Photoshop (PSD)"),
    (_pdf, "doc.pdf", "PDF"),
    (_ico, "icon.ico", "icon (ICO)"),
    (_pcx, "old.pcx", "not an image in a supported format"),
    (_sgi, "old.sgi", "not an image in a supported format"),
    (_psd, "disguised.png", "Photoshop (PSD)"),
])
def test_formats_outside_the_allow_list_exit_65(src, out, make, name, says):
    path = src / name
    make(path)
    r = run_image(path, out)
    assert_clean_failure(r, 65, name, folder=out)
    assert says in r.stderr


def test_refused_formats_are_never_opened_by_their_plugin(src, monkeypatch):
    # The PSD plugin must not even parse the header of a refused file.
    from PIL import PsdImagePlugin

    def trap(self):
        raise AssertionError("the PSD plugin was asked to open the file")

    monkeypatch.setattr(PsdImagePlugin.PsdImageFile, "_open", trap)
    path = src / "layers.psd"
    path.write_bytes(psd_file())
    with pytest.raises(BadImageError, match="PSD"):
        load_rgb(path)


def test_allow_list():
    assert set(READ_FORMATS) == {"PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "TGA"}


@pytest.mark.parametrize("fmt, ext", [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"),
                                      ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp"),
                                      ("PPM", "ppm"), ("TGA", "tga")])
def test_every_allowed_format_is_read(src, out, fmt, ext):
    pixels = few_colours()
    path = src / f"in.{ext}"
    params = {"JPEG": {"quality": 100, "subsampling": 0}, "WEBP": {"lossless": True}}.get(fmt, {})
    Image.fromarray(pixels).save(path, format=fmt, **params)
    r = invoke("image", path, "-o", out / "o.png", "-k", "16")
    assert_success(r)
    if fmt != "JPEG":
        np.testing.assert_array_equal(rgb_of(out / "o.png"), pixels)


# --------------------------------------------------------------------------
# 3. Damaged images -> 65, fully decoded before anything is written


def _sample_bytes(fmt):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), fmt, **({"quality": 90} if fmt == "JPEG" else {}))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("fraction", [0.002, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995])
def test_truncated_images_exit_65(src, out, fmt, fraction):
    data = _sample_bytes(fmt)
    cut = max(1, int(len(data) * fraction))
    path = src / f"cut.{fmt.lower()}"
    path.write_bytes(data[:cut])
    r = run_image(path, out)
    assert_clean_failure(r, 65, path.name, folder=out)


def test_truncated_png_missing_only_iend_exits_65(src, out):
    data = _sample_bytes("PNG")
    assert data.endswith(b"IEND\xaeB`\x82")
    path = src / "noend.png"
    path.write_bytes(data[:-12])
    assert_clean_failure(run_image(path, out), 65, "noend.png", folder=out)


@pytest.mark.parametrize("offset", [20, 500, 5000, -40])
def test_flipped_byte_in_png_image_data_exits_65(src, out, offset):
    data = bytearray(_sample_bytes("PNG"))
    start = data.index(b"IDAT") + 4
    position = start + offset if offset > 0 else len(data) - 12 + offset
    assert start < position < len(data) - 12
    data[position] ^= 0x01  # one bit: the chunk CRC catches it
    path = src / "flipped.png"
    path.write_bytes(bytes(data))
    r = run_image(path, out)
    assert_clean_failure(r, 65, "flipped.png", folder=out)


def test_damaged_compressed_tiff_gives_one_line_even_from_libtiff(src, out):
    # libtiff prints its own errors on file descriptor 2; they must not add
    # lines to the one-line message (a subprocess sees what CliRunner cannot).
    rng = np.random.default_rng(8)
    data = bytearray(encode(Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)),
                            "TIFF", compression="tiff_deflate"))
    data[3000] ^= 0x04  # inside the deflate stream
    path = src / "flipped.tif"
    path.write_bytes(bytes(data))
    p = subprocess.run([sys.executable, "-m", "quantize", "image", str(path), "-o",
                        str(out / "o.png")], capture_output=True, text=True)
    assert p.returncode == 65, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"quantize: error: {str(path)!r}: "), lines
    assert listing(out) == []


def test_damaged_input_leaves_existing_targets_untouched(src, out):
    (out / "o.png").write_bytes(b"old image")
    (out / "o.json").write_bytes(b"old codebook")
    before = snapshot(out)
    path = src / "cut.png"
    path.write_bytes(_sample_bytes("PNG")[:3000])
    r = run_image(path, out)
    assert_clean_failure(r, 65, "cut.png", folder=out, before=before)


def test_nothing_is_written_before_the_image_is_decoded(src, out, monkeypatch):
    calls = []
    real_write_all = quantize.io.files.write_all
    monkeypatch.setattr(quantize.io.files, "write_all",
                        lambda outputs: calls.append(outputs) or real_write_all(outputs))
    path = src / "cut.jpg"
    path.write_bytes(_sample_bytes("JPEG")[:-200])
    r = run_image(path, out)
    assert_clean_failure(r, 65, "cut.jpg", folder=out)
    assert calls == []


def test_load_truncated_images_is_never_honoured(src, out, monkeypatch):
    # Even if something in the process switched Pillow's flag on...
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = src / "cut.png"
    path.write_bytes(_sample_bytes("PNG")[:5000])
    assert_clean_failure(run_image(path, out), 65, "cut.png", folder=out)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # ...and it is given back as it was


def test_source_never_enables_load_truncated_images():
    import quantize

    package = os.path.dirname(quantize.__file__)
    for name in os.listdir(package):
        if name.endswith(".py"):
            with open(os.path.join(package, name), encoding="utf-8") as f:
                text = f.read()
            assert "LOAD_TRUNCATED_IMAGES = True" not in text, name


# --------------------------------------------------------------------------
# 4. Decompression bombs -> 65, from the header, quickly


@pytest.mark.parametrize("make, name", [
    (lambda: png_with_header(100_000, 100_000), "bomb.png"),
    (lambda: gif_with_header(65_535, 65_535), "bomb.gif"),
    (lambda: bmp_with_header(100_000, 100_000), "bomb.bmp"),
    (lambda: ppm_with_header(100_000, 100_000), "bomb.ppm"),
])
def test_header_claiming_huge_size_exits_65_quickly(src, out, make, name):
    path = src / name
    path.write_bytes(make())
    started = time.perf_counter()
    r = run_image(path, out)
    seconds = time.perf_counter() - started
    assert_clean_failure(r, 65, name, folder=out)
    assert "--max-pixels" in r.stderr
    assert seconds < 5, seconds  # nothing of 10**10 pixels was allocated


def test_max_pixels_is_checked_against_the_header(src, out):
    path = src / "twenty.png"
    Image.fromarray(few_colours(20, 20)).save(path)
    # 400 pixels: 1000 allows it; 399 (Pillow's warning, now an error) and
    # 100 (Pillow's error, past twice the limit) refuse it.
    assert_success(invoke("image", path, "-o", out / "ok.png", "--max-pixels", "400"))
    os.unlink(out / "ok.png")
    for limit in ("399", "100"):
        r = invoke("image", path, "-o", out / "o.png", "--max-pixels", limit)
        assert_clean_failure(r, 65, "twenty.png", folder=out)
        assert f"limit of {limit}" in r.stderr


def test_max_pixels_default_is_256_mebipixels_and_restores_pillow(src):
    from quantize.cli.options import MAX_PIXELS_DEFAULT

    assert DEFAULT_MAX_PIXELS == MAX_PIXELS_DEFAULT == 16384 * 16384
    before = Image.MAX_IMAGE_PIXELS
    path = src / "bomb.png"
    path.write_bytes(png_with_header(100_000, 100_000))
    with pytest.raises(BadImageError, match="10000000000 pixels"):
        load_rgb(path)
    with pytest.raises(BadImageError, match="limit of 1000 "):
        load_rgb(path, max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS == before


def test_decompression_bomb_warning_is_an_error(small_png):
    # 12x16 = 192 pixels with a limit of 100: Pillow warns between the limit
    # and twice the limit; the warning is an error, with our message.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an ignoring caller does not let it through
        with pytest.raises(BadImageError, match="192 pixels, more than the limit of 100"):
            load_rgb(small_png, max_pixels=100)


@pytest.mark.parametrize("bad", ["0", "-5", "lots", "1.5"])
def test_bad_max_pixels_is_a_usage_error(small_png, out, bad):
    r = invoke("image", small_png, "-o", out / "o.png", "--max-pixels", bad)
    assert r.exit_code == 2
    assert listing(out) == []


# --------------------------------------------------------------------------
# 5. Sizes and k


@pytest.mark.parametrize("make, name", [
    (lambda: png_with_header(0, 5), "zero-width.png"),
    (lambda: png_with_header(5, 0), "zero-height.png"),
    (lambda: gif_with_header(0, 5), "zero-width.gif"),
    (lambda: bmp_with_header(5, 0), "zero-height.bmp"),
    (lambda: ppm_with_header(0, 5), "zero-width.ppm"),
])
def test_zero_width_or_height_exits_65(src, out, make, name):
    path = src / name
    path.write_bytes(make())
    assert_clean_failure(run_image(path, out), 65, name, folder=out)


def test_one_by_one_image(src, out):
    path = src / "dot.png"
    Image.new("RGB", (1, 1), (12, 34, 56)).save(path)
    r = run_image(path, out, "-k", "16")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(out / "o.png"), [[[12, 34, 56]]])


def test_one_by_sixty_thousand_image(src, out):
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(1, 60000, 3), dtype=np.uint8)
    path = src / "line.png"
    Image.fromarray(pixels).save(path)
    r = invoke("image", path, "-o", out / "o.png", "-k", "8", "--max-iter", "5")
    assert_success(r)
    got = rgb_of(out / "o.png")
    assert got.shape == (1, 60000, 3)
    assert len(np.unique(got.reshape(-1, 3), axis=0)) <= 8


def test_one_colour_image_with_k16_gives_one_colour(src, out):
    path = src / "flat.png"
    Image.new("RGB", (30, 20), (90, 160, 30)).save(path)
    r = run_image(path, out, "-k", "16", "--json")
    assert_success(r)
    with Image.open(out / "o.png") as im:
        assert len(im.getpalette()) == 3
    assert (rgb_of(out / "o.png") == [90, 160, 30]).all()


def test_three_colours_with_k16_come_back_exactly(src, out):
    pixels = few_colours(20, 30, colours=((1, 2, 3), (250, 128, 0), (0, 200, 255)))
    path = src / "three.png"
    Image.fromarray(pixels).save(path)
    r = run_image(path, out, "-k", "16")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(out / "o.png"), pixels)


def test_k_above_the_number_of_pixels_is_clamped_with_a_warning(src, out):
    pixels = np.array([[[0, 0, 0], [255, 0, 0]], [[0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    path = src / "four.png"
    Image.fromarray(pixels).save(path)
    r = run_image(path, out, "-k", "50")
    assert_success(r)
    assert "quantize: warning: k=50 is more than the image's 4 pixel(s)" in r.stderr
    np.testing.assert_array_equal(rgb_of(out / "o.png"), pixels)
    quiet = invoke("image", path, "-o", out / "q.png", "-k", "50", "-q")
    assert_success(quiet)
    assert quiet.stderr == ""


@pytest.mark.parametrize("k, mode", [("0", "palette"), ("-3", "palette"), ("257", "palette"),
                                     ("2.5", "palette"), ("sixteen", "palette"),
                                     ("0", "reconstruct")])
def test_bad_k_is_a_usage_error(small_png, out, k, mode):
    r = run_image(small_png, out, "-k", k, "--mode", mode)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert "'-k' / '--colors'" in r.stderr
    assert listing(out) == []


# --------------------------------------------------------------------------
# 6. Modes and metadata

PALETTE4 = [(200, 30, 40), (20, 120, 220), (250, 240, 10), (0, 0, 0)]


def _palette_image():
    index = np.random.default_rng(1).integers(0, 4, size=(12, 16)).astype(np.uint8)
    im = Image.frombytes("P", (16, 12), index.tobytes())
    im.putpalette([c for rgb in PALETTE4 for c in rgb])
    return im, np.array(PALETTE4, dtype=np.uint8)[index]


def _mode_cases():
    grey = np.random.default_rng(2).integers(0, 4, size=(12, 16)).astype(np.uint8) * 80
    p_im, p_rgb = _palette_image()
    cases = {}
    bits = Image.fromarray(grey > 100)
    cases["1"] = (bits, "PNG", np.repeat(np.asarray(bits.convert("L"))[..., None], 3, axis=2))
    cases["L"] = (Image.fromarray(grey), "PNG", np.repeat(grey[..., None], 3, axis=2))
    la = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(255 - grey)])
    cases["LA"] = (la, "PNG", np.repeat(grey[..., None], 3, axis=2))
    cases["P"] = (p_im, "PNG", p_rgb)
    p_t = p_im.copy()
    p_t.info["transparency"] = 3
    cases["P+transparency"] = (p_t, "PNG", p_rgb)
    rgba = Image.fromarray(np.dstack([p_rgb, np.full(p_rgb.shape[:2], 128, np.uint8)]), "RGBA")
    cases["RGBA"] = (rgba, "PNG", p_rgb)
    cases["GIF-P"] = (p_im, "GIF", p_rgb)
    return cases


MODE_CASES = _mode_cases()


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_modes_are_read_as_rgb(src, out, case):
    im, fmt, expected = MODE_CASES[case]
    path = src / f"mode.{fmt.lower()}"
    im.save(path, format=fmt, **({"transparency": 3} if case == "P+transparency" else {}))
    r = invoke("image", path, "-o", out / "o.png", "-k", "16")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(out / "o.png"), expected)


def test_pa_mode_is_normalised():
    # Pillow writes no file format with PA, so test the mode conversion itself.
    p_im, p_rgb = _palette_image()
    pa = p_im.convert("PA")
    normal, _ = quantize.io.decode._normalise(pa, None, "pa")
    assert normal.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(normal.convert("RGB")), p_rgb)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_sixteen_bit_ramp_keeps_its_levels(src, out, fmt):
    # 256 evenly spaced 16-bit levels map to the 256 8-bit levels (scaled by
    # 1/257), not clipped to 255.
    ramp = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    path = src / f"ramp16.{fmt.lower()}"
    im = Image.fromarray(ramp)
    assert im.mode == "I;16"
    im.save(path, format=fmt)
    pixels = load_rgb(path)
    np.testing.assert_array_equal(pixels[..., 0], np.arange(256).reshape(16, 16))
    r = invoke("image", path, "-o", out / "o.png", "-k", "256")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(out / "o.png")[..., 1], np.arange(256).reshape(16, 16))


def test_sixteen_bit_midtones_are_scaled_not_clipped(src):
    values = np.array([[0, 1000, 32896], [50000, 65280, 65535]], dtype=np.uint16)
    path = src / "mid16.png"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(load_rgb(path)[..., 0], [[0, 4, 128], [195, 254, 255]])


def test_mode_i_is_scaled_as_16_bit(src):
    values = np.array([[0, 257, 65535]], dtype=np.int32)
    path = src / "i32.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as im:
        assert im.mode == "I"
    np.testing.assert_array_equal(load_rgb(path)[..., 0], [[0, 1, 255]])


def test_mode_i_outside_16_bits_is_stretched_with_a_warning(src, out):
    values = np.array([[-100, 0, 100_000]], dtype=np.int32)
    path = src / "wide.tif"
    Image.fromarray(values).save(path)
    r = invoke("image", path, "-o", out / "o.png")
    assert_success(r)
    assert "stretched to 0..255" in r.stderr
    np.testing.assert_array_equal(rgb_of(out / "o.png")[..., 0], [[0, 0, 255]])


def test_mode_f_in_unit_range(src):
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    path = src / "float.tif"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(load_rgb(path)[..., 0], [[0, 128, 255]])


@pytest.mark.parametrize("ext", ["tif", "pfm"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_mode_f_with_non_finite_values_exits_65(src, out, bad, ext):
    values = np.array([[0.0, 0.5], [bad, 1.0]], dtype=np.float32)
    path = src / f"nonfinite.{ext}"
    Image.fromarray(values).save(path)
    r = run_image(path, out)
    assert_clean_failure(r, 65, path.name, folder=out)
    assert "non-finite" in r.stderr


RED_CMYK = (0, 255, 255, 0)


def test_cmyk_jpeg_with_adobe_inversion(src, out):
    path = src / "cmyk.jpg"
    Image.new("CMYK", (16, 12), RED_CMYK).save(path, quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK" and "adobe" in im.info  # stored inverted, as Photoshop does
    r = invoke("image", path, "-o", out / "o.png", "-k", "4")
    assert_success(r)
    assert np.abs(rgb_of(out / "o.png").astype(int) - [255, 0, 0]).max() <= 3


@pytest.mark.parametrize("mode, fmt", [("CMYK", "TIFF"), ("YCbCr", "TIFF"), ("LAB", "TIFF"),
                                       ("YCbCr", "JPEG")])
def test_colour_modes_are_converted(src, out, mode, fmt):
    colour = (200, 30, 40)
    rgb = Image.new("RGB", (16, 12), colour)
    im = Image.new("CMYK", rgb.size, (0, 255, 255, 0)) if mode == "CMYK" else rgb.convert(mode)
    expect = (255, 0, 0) if mode == "CMYK" else colour
    path = src / f"{mode.lower()}.{'tif' if fmt == 'TIFF' else 'jpg'}"
    im.save(path, format=fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    r = invoke("image", path, "-o", out / "o.png", "-k", "4")
    assert_success(r)
    assert np.abs(rgb_of(out / "o.png").astype(int) - expect).max() <= 4, rgb_of(out / "o.png")[0, 0]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_6_is_applied(src, out, fmt):
    pixels = np.zeros((16, 24, 3), dtype=np.uint8)
    pixels[:8, :8] = (255, 0, 0)  # the top left block
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = src / f"rotated.{fmt.lower()}"
    params = {"JPEG": {"quality": 100}, "WEBP": {"lossless": True}}.get(fmt, {})
    Image.fromarray(pixels).save(path, format=fmt, exif=exif, **params)
    r = invoke("image", path, "-o", out / "o.png", "-k", "2")
    assert_success(r)
    got = rgb_of(out / "o.png")
    assert got.shape == (24, 16, 3)
    assert got[0, -1, 0] > 200 and got[0, 0, 0] < 50  # top left went to top right


def test_icc_profile_is_converted_to_srgb(src, out):
    path = src / "swapped.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(path, icc_profile=swapped_srgb_profile())
    r = invoke("image", path, "-o", out / "o.png", "-k", "2")
    assert_success(r)
    assert "warning" not in r.stderr
    got = rgb_of(out / "o.png")[0, 0]
    assert got[2] > 240 and got[0] < 10  # 'red' in that profile is blue in sRGB


def test_srgb_profile_keeps_exact_values(src, out):
    pixels = few_colours()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = src / "srgb.png"
    Image.fromarray(pixels).save(path, icc_profile=srgb)
    r = invoke("image", path, "-o", out / "o.png", "-k", "16")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(out / "o.png"), pixels)


def test_icc_profile_without_imagecms_is_a_warning(src, out, monkeypatch):
    monkeypatch.setattr(quantize.io.decode, "_imagecms", lambda: None)
    path = src / "swapped.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(path, icc_profile=swapped_srgb_profile())
    r = invoke("image", path, "-o", out / "o.png", "-k", "2")
    assert_success(r)
    assert "quantize: warning:" in r.stderr and "ICC" in r.stderr and "LittleCMS" in r.stderr
    assert (rgb_of(out / "o.png") == [255, 0, 0]).all()


def test_unreadable_icc_profile_is_a_warning(src, out):
    path = src / "badicc.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(path, icc_profile=b"not a profile at all" * 8)
    r = invoke("image", path, "-o", out / "o.png", "-k", "2")
    assert_success(r)
    assert "quantize: warning: ignoring an unreadable embedded ICC profile" in r.stderr
    assert (rgb_of(out / "o.png") == [255, 0, 0]).all()


FRAME_COLOURS = [(10, 20, 30), (200, 40, 40), (40, 200, 90)]


def _animation(path, fmt):
    frames = [Image.new("RGB", (8, 6), c) for c in FRAME_COLOURS]
    params = {"WEBP": {"lossless": True}, "GIF": {"duration": 50}}.get(fmt, {})
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], **params)


@pytest.mark.parametrize("fmt, ext", [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp")])
def test_animated_image_first_frame_with_a_warning(src, out, fmt, ext):
    path = src / f"anim.{ext}"
    _animation(path, fmt)
    r = invoke("image", path, "-o", out / "o.png", "-k", "4")
    assert_success(r)
    assert "quantize: warning:" in r.stderr and "3 frames" in r.stderr and "--frame" in r.stderr
    assert (rgb_of(out / "o.png") == FRAME_COLOURS[0]).all()


@pytest.mark.parametrize("fmt, ext", [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp")])
@pytest.mark.parametrize("frame", [0, 1, 2])
def test_animated_image_frame_option(src, out, fmt, ext, frame):
    path = src / f"anim.{ext}"
    _animation(path, fmt)
    r = invoke("image", path, "-o", out / "o.png", "-k", "4", "--frame", str(frame))
    assert_success(r)
    assert "warning" not in r.stderr
    assert (rgb_of(out / "o.png") == FRAME_COLOURS[frame]).all()


@pytest.mark.parametrize("fmt, ext", [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp")])
def test_frame_beyond_the_last_exits_65(src, out, fmt, ext):
    path = src / f"anim.{ext}"
    _animation(path, fmt)
    r = run_image(path, out, "--frame", "3")
    assert_clean_failure(r, 65, f"anim.{ext}", folder=out)
    assert "has 3 frame(s)" in r.stderr


def test_frame_of_a_still_image(small_png, out):
    assert_success(invoke("image", small_png, "-o", out / "o.png", "--frame", "0"))
    os.unlink(out / "o.png")
    r = run_image(small_png, out, "--frame", "1")
    assert_clean_failure(r, 65, "small.png", folder=out)
    assert "has 1 frame(s)" in r.stderr


def test_negative_frame_is_a_usage_error(small_png, out):
    r = invoke("image", small_png, "-o", out / "o.png", "--frame", "-1")
    assert r.exit_code == 2
    assert listing(out) == []


# --------------------------------------------------------------------------
# 7. Output faults


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "symlinked directory"])
def test_output_is_the_input_exits_73(src, small_png, how):
    before = small_png.read_bytes()
    if how == "same path":
        target = small_png
    elif how == "symlink":
        target = src / "link.png"
        target.symlink_to(small_png)
    elif how == "hard link":
        target = src / "hard.png"
        os.link(small_png, target)
    else:
        alias = src.parent / "alias"
        alias.symlink_to(src, target_is_directory=True)
        target = alias / "small.png"
    names = listing(src)
    r = invoke("image", small_png, "-o", target)
    assert_clean_failure(r, 73, target.name, folder=None)
    assert "is the input" in r.stderr
    assert small_png.read_bytes() == before
    assert listing(src) == names  # no temporary file either


def test_codebook_is_the_input_through_a_hard_link_exits_73(src, small_png, out):
    hard = src / "hard.json"
    os.link(small_png, hard)
    before = small_png.read_bytes()
    r = invoke("image", small_png, "-o", out / "o.png", "--codebook", hard)
    assert_clean_failure(r, 73, "hard.json", folder=out)
    assert small_png.read_bytes() == before


def test_missing_output_directory_exits_73(small_png, tmp_path):
    r = invoke("image", small_png, "-o", tmp_path / "missing" / "o.png")
    assert_clean_failure(r, 73, "o.png")
    assert "directory does not exist" in r.stderr
    assert not (tmp_path / "missing").exists()


def test_output_directory_is_a_file_exits_73(small_png, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"x")
    r = invoke("image", small_png, "-o", blocker / "o.png")
    assert_clean_failure(r, 73, "o.png")
    assert blocker.read_bytes() == b"x"


def test_symlink_planted_at_a_predictable_temporary_name_is_not_followed(
        small_png, out, tmp_path, monkeypatch):
    # Make the temporary names predictable, and plant a symlink at the first
    # one: the file is opened with O_CREAT | O_EXCL, so the next name is taken.
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")

    class Names:
        def __init__(self):
            self.n = 0

        def __iter__(self):
            return self

        def __next__(self):
            self.n += 1
            return f"guess{self.n}"

    monkeypatch.setattr(quantize.io.files, "_candidate_names", lambda: Names())
    trap = out / f".quantize-{os.getpid()}-guess1.tmp"
    trap.symlink_to(victim)
    r = invoke("image", small_png, "-o", out / "o.png")
    assert_success(r)
    assert victim.read_bytes() == b"precious"
    assert trap.is_symlink() and os.readlink(trap) == str(victim)
    assert listing(out) == [trap.name, "o.png"]
    np.testing.assert_array_equal(rgb_of(out / "o.png"), few_colours())


def test_output_through_a_symlink_replaces_its_file_and_keeps_the_link(small_png, out, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.png").write_bytes(b"old picture")
    link = out / "current.png"
    link.symlink_to(elsewhere / "real.png")
    assert_success(invoke("image", small_png, "-o", link))
    assert link.is_symlink() and os.readlink(link) == str(elsewhere / "real.png")
    np.testing.assert_array_equal(rgb_of(elsewhere / "real.png"), few_colours())
    assert listing(out) == ["current.png"] and listing(elsewhere) == ["real.png"]


def test_device_and_fifo_outputs_are_written_in_place(small_png, out):
    # Renaming a temporary file over /dev/null (as root) would replace the
    # device: devices and FIFOs are written directly. Checked on a FIFO, and
    # on /dev/null without writing to it.
    import threading

    assert quantize.io.files._output_target("/dev/null") == ("stream", "/dev/null")
    assert quantize.io.files._output_target(str(out / "new.png")) == ("file", str(out / "new.png"))
    fifo = out / "pipe.png"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = invoke("image", small_png, "-o", fifo)
    reader.join(timeout=30)
    assert_success(r)
    assert received and received[0].startswith(b"\x89PNG")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert listing(out) == ["pipe.png"]


class _FullDisk:
    """A file object whose writes fail part-way with ENOSPC."""

    def __init__(self, real, fail_after):
        self.real, self.fail_after = real, fail_after

    def write(self, data):
        if self.fail_after is not None and len(data) > self.fail_after:
            self.real.write(data[: self.fail_after])
            raise OSError(28, "No space left on device")
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def _failing_fdopen(monkeypatch, *, fail_on=1, exception=None):
    """Make the fail_on-th file opened for writing fail part-way."""
    real_fdopen = os.fdopen
    count = {"n": 0}

    def fdopen(fd, mode="r", *args, **kwargs):
        f = real_fdopen(fd, mode, *args, **kwargs)
        if "w" not in mode:
            return f
        count["n"] += 1
        if count["n"] != fail_on:
            return f
        if exception is not None:
            class Interrupting(_FullDisk):
                def write(self, data):
                    self.real.write(data[:10])
                    raise exception
            return Interrupting(f, 0)
        return _FullDisk(f, 100)

    monkeypatch.setattr(quantize.io.files.os, "fdopen", fdopen)


@pytest.mark.parametrize("fail_on", [1, 2], ids=["image", "codebook"])
def test_disk_full_exits_74_and_keeps_existing_targets(small_png, out, monkeypatch, fail_on):
    (out / "o.png").write_bytes(b"old image")
    (out / "o.json").write_bytes(b"old codebook")
    before = snapshot(out)
    _failing_fdopen(monkeypatch, fail_on=fail_on)
    r = run_image(small_png, out)
    failed = "o.png" if fail_on == 1 else "o.json"
    assert_clean_failure(r, 74, failed, folder=out, before=before)
    assert "No space left on device" in r.stderr


def test_disk_full_with_no_previous_target_leaves_nothing(small_png, out, monkeypatch):
    _failing_fdopen(monkeypatch)
    r = run_image(small_png, out, codebook=False)
    assert_clean_failure(r, 74, "o.png", folder=out)


def test_encoder_failure_leaves_an_existing_file_intact(small_png, out, monkeypatch):
    (out / "o.webp").write_bytes(b"old picture")
    before = snapshot(out)

    def broken_save(self, fp, format=None, **params):
        fp.write(b"partial")
        raise OSError("encoder error -2 when writing image file")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    r = invoke("image", small_png, "-o", out / "o.webp", "--mode", "reconstruct")
    assert_clean_failure(r, 73, "o.webp", folder=out, before=before)
    assert "cannot encode" in r.stderr


def test_encoder_limit_is_an_output_error(src, out):
    # WebP holds at most 16383 pixels a side: a real encoder failure.
    path = src / "wide.png"
    Image.new("RGB", (16400, 1), (1, 2, 3)).save(path)
    (out / "o.webp").write_bytes(b"old picture")
    before = snapshot(out)
    r = invoke("image", path, "-o", out / "o.webp", "--mode", "reconstruct")
    assert_clean_failure(r, 73, "o.webp", folder=out, before=before)
    assert "WebP" in r.stderr or "WEBP" in r.stderr


def test_interrupt_during_write_exits_130_and_leaves_nothing(small_png, out, monkeypatch):
    (out / "o.json").write_bytes(b"old codebook")
    before = snapshot(out)
    _failing_fdopen(monkeypatch, fail_on=2, exception=KeyboardInterrupt())
    r = run_image(small_png, out)
    assert_clean_failure(r, 130, None, folder=out, before=before)
    assert r.stderr.strip() == "quantize: error: interrupted"


SLOW_WRITE = """
import os, sys, time
import quantize.io.files as io_
ready = sys.argv[1]
real = os.fsync
def slow_fsync(fd):
    open(ready, "w").close()
    time.sleep(60)
    real(fd)
io_.os.fsync = slow_fsync
from quantize.cli import main
main(sys.argv[2:])
"""


def test_sigint_during_write_exits_130_with_no_temporary_files(small_png, out, tmp_path):
    (out / "o.png").write_bytes(b"old image")
    before = snapshot(out)
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITE, str(ready), "image", str(small_png), "-o",
         str(out / "o.png"), "--codebook", str(out / "o.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the write never started"
            time.sleep(0.02)
        assert any(name.endswith(".tmp") for name in listing(out))  # mid-write
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "quantize: error: interrupted"
    assert snapshot(out) == before  # old target intact, no temporary file, no codebook


# --------------------------------------------------------------------------
# 8. Pipes. A reader that goes away early, and binary data to (or an image
# from) a terminal refused with 2, are tested in test_pipes.py; here, the
# standard streams closed altogether.


def test_closed_stdout_is_an_error_without_traceback(small_png):
    # `quantize image in.png -o - >&-`
    code = f"from quantize.cli import main; main(['image', {str(small_png)!r}, '-o', '-'])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=False,
                       stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1))
    assert p.returncode == 74, p.stderr
    assert p.stderr.strip() == "quantize: error: '-': standard output is closed"


# --------------------------------------------------------------------------
# 9. Awkward paths


AWKWARD = ["with space.png", "ünïcødé-图像.png", "-leading-dash.png", "new\nline.png",
           "quote'and\"double.png", "tab\there.png"]


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_names_work(src, out, name):
    path = src / name
    Image.fromarray(few_colours()).save(path, format="PNG")
    target = out / ("out-" + name)
    r = invoke("image", path, "-o", target, "--codebook", str(target) + ".json")
    assert_success(r)
    np.testing.assert_array_equal(rgb_of(target), few_colours())
    assert sorted(listing(out)) == sorted(["out-" + name, "out-" + name + ".json"])


def test_leading_dash_names_relative_to_the_working_directory(src, out, monkeypatch):
    monkeypatch.chdir(src)
    Image.fromarray(few_colours()).save(src / "-in.png")
    r = invoke("image", "-o", "-out.png", "--", "-in.png")
    assert_success(r)
    assert (src / "-out.png").exists()


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_names_are_quoted_in_one_line_messages(src, out, name):
    missing = src / name
    r = run_image(missing, out)
    assert_clean_failure(r, 66, repr(str(missing)), folder=out)
    broken = src / ("broken " + name)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = run_image(broken, out)
    assert_clean_failure(r, 65, repr(str(broken)), folder=out)


# --------------------------------------------------------------------------
# 10. Determinism across runs and thread counts


def test_same_seed_same_bytes_across_processes_and_thread_counts(tmp_path):
    import quantize.core.search

    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, size=(128, 256, 3), dtype=np.uint8)
    k = 96
    # The last search runs on every distinct colour: large enough to be split
    # across QUANTIZE_THREADS threads.
    distinct = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert distinct * k >= quantize.core.search._PARALLEL_MIN_PAIRS
    path = tmp_path / "noise.png"
    Image.fromarray(pixels).save(path)
    outputs = []
    for threads in ("1", "2", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
                   MKL_NUM_THREADS=threads, QUANTIZE_THREADS=threads)
        target = tmp_path / f"out-{threads}-{len(outputs)}.png"
        p = subprocess.run([sys.executable, "-m", "quantize", "image", str(path), "-o",
                            str(target), "-k", str(k), "--max-iter", "8", "--codebook",
                            str(target) + ".json"], env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        outputs.append((target.read_bytes(), (tmp_path / (target.name + ".json")).read_bytes()))
    assert all(o == outputs[0] for o in outputs[1:])


@pytest.mark.parametrize("mode, ext", [("palette", "png"), ("reconstruct", "jpg"),
                                       ("reconstruct", "webp"), ("reconstruct", "tif")])
def test_same_seed_same_bytes_in_process(src, out, mode, ext):
    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)).save(src / "n.png")
    datas = []
    for i in range(2):
        target = out / f"o{i}.{ext}"
        assert_success(invoke("image", src / "n.png", "-o", target, "--mode", mode, "-k", "12",
                              "--seed", "7", "--init", "random", "--attempts", "2"))
        datas.append(target.read_bytes())
    assert datas[0] == datas[1]


# --------------------------------------------------------------------------
# The same loading rules in batch, palette, apply and elbow


def needs(*commands):
    from quantize.cli import cli

    return pytest.mark.skipif(not set(commands) <= set(cli.commands),
                              reason=f"needs the {', '.join(commands)} command(s)")


def test_unreadable_file_mapping_without_root(small_png, out, monkeypatch):
    # As root the chmod test above is skipped; this checks the same mapping.
    real_open = os.open

    def denied(path, *args, **kwargs):
        if os.fspath(path) == os.fspath(small_png):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    r = run_image(small_png, out)
    assert_clean_failure(r, 66, "small.png", folder=out)
    assert "permission denied" in r.stderr


@needs("batch")
def test_batch_applies_max_pixels_and_frame_per_file(src, tmp_path):
    Image.fromarray(few_colours(20, 20)).save(src / "big.png")  # 400 pixels
    Image.fromarray(few_colours(10, 10)).save(src / "fine.png")  # 100 pixels
    _animation(src / "anim.gif", "GIF")
    dest = tmp_path / "dest"
    r = invoke("batch", src, "-o", dest, "-j", "1", "--max-pixels", "300", "--frame", "1", "-q")
    assert r.exit_code == 65, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("quantize: error:")]
    assert len(errors) == 2 and "big.png" in errors[0] + errors[1] and "fine.png" in r.stderr
    assert any("has 1 frame(s)" in e for e in errors)  # fine.png has no frame 1
    assert not (dest / "big.png").exists() and not (dest / "fine.png").exists()
    assert (rgb_of(dest / "anim.png") == FRAME_COLOURS[1]).all()
    assert not [n for n in os.listdir(dest) if n.endswith(".tmp")]


@needs("palette")
def test_palette_command_refuses_a_bomb(src, out):
    Image.fromarray(few_colours()).save(src / "a.png")
    (src / "bomb.png").write_bytes(png_with_header(100_000, 100_000))
    # The bomb is named and left out; the codebook is the one of a.png alone.
    r = invoke("palette", src / "a.png", src / "bomb.png", "-o", out / "shared.json")
    assert r.exit_code == 65 and "bomb.png" in r.stderr
    alone = invoke("palette", src / "a.png", "-o", out / "alone.json")
    assert (out / "shared.json").read_bytes() == (out / "alone.json").read_bytes()
    for name in ("shared.json", "alone.json"):
        (out / name).unlink()
    r = invoke("palette", src / "a.png", "-o", out / "shared.json", "--max-pixels", "100")
    assert_clean_failure(r, 65, "a.png", folder=out)


@needs("palette", "apply", "elbow")
def test_apply_and_elbow_take_frame_and_max_pixels(src, out):
    _animation(src / "anim.webp", "WEBP")
    Image.fromarray(np.array([FRAME_COLOURS], dtype=np.uint8)).save(src / "cb.png")
    assert_success(invoke("palette", src / "cb.png", "-k", "3", "-o", out / "cb.json"))
    r = invoke("apply", src / "anim.webp", "-c", out / "cb.json", "-o", out / "o.png",
               "--frame", "2")
    assert_success(r)
    assert (rgb_of(out / "o.png") == FRAME_COLOURS[2]).all()
    r = invoke("apply", src / "anim.webp", "-c", out / "cb.json", "-o", out / "x.png",
               "--max-pixels", "10")
    assert_clean_failure(r, 65, "anim.webp")
    assert not (out / "x.png").exists()
    r = invoke("elbow", src / "anim.webp", "--max-pixels", "10")
    assert_clean_failure(r, 65, "anim.webp")

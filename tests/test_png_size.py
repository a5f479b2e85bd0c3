"""Smaller palette PNGs: bit depth, no filtering, --optimize; the palette order."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import load_rgb_array
from quantize.core import colorspace as cs
from quantize.cli import cli
from quantize.io.encode import encode_palette_png, png_bit_depth
from quantize.image.pipeline import order_codes, quantize_image


def chunks(data: bytes) -> list:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        out.append((kind.decode(), body))
        pos += 12 + n
    return out


def ihdr(data: bytes):
    """(width, height, bit depth, colour type) from the IHDR bytes."""
    kind, body = chunks(data)[0]
    assert kind == "IHDR"
    return struct.unpack(">IIBB", body[:10])


def stripes(k: int, height=7, width=29) -> np.ndarray:
    """An image with exactly k distinct colours."""
    rng = np.random.default_rng(k)
    colours = np.unique(rng.integers(0, 256, (4 * k, 3)), axis=0)[:k]
    assert len(colours) == k
    which = np.arange(height * width).reshape(height, width) % k
    return colours[which].astype(np.uint8)


@pytest.mark.parametrize("k, bits", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 4), (16, 4),
                                     (17, 8), (200, 8), (256, 8)])
def test_bit_depth_matches_k(tmp_path, write_png, k, bits):
    src = write_png(stripes(k, height=9, width=31) if k < 200 else stripes(k, 16, 20))
    out = tmp_path / "o.png"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", str(k), "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    width, height, depth, colour_type = ihdr(data)
    assert (depth, colour_type) == (bits, 3)
    plte = dict(chunks(data))["PLTE"]
    assert len(plte) == 3 * k
    # Decoded, the pixels are exactly the input (it has k colours).
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), load_rgb_array(src))
    assert png_bit_depth(k) == bits


def test_rows_are_not_filtered():
    labels = np.random.default_rng(0).integers(0, 16, (20, 33)).astype(np.uint8)
    book = np.random.default_rng(1).integers(0, 256, (16, 3)).astype(np.uint8)
    data = encode_palette_png(labels, book)
    raw = zlib.decompress(b"".join(body for kind, body in chunks(data) if kind == "IDAT"))
    stride = 1 + (33 * 4 + 7) // 8
    assert len(raw) == 20 * stride
    assert set(raw[::stride]) == {0}


def test_trns_stops_at_the_last_entry_with_transparency():
    book = np.array([[0, 0, 0, 0], [9, 9, 9, 100], [1, 2, 3, 255], [4, 5, 6, 255]], np.uint8)
    labels = np.array([[0, 1, 2, 3]], np.uint8)
    parts = dict(chunks(encode_palette_png(labels, book)))
    assert parts["tRNS"] == bytes([0, 100])
    opaque = book.copy()
    opaque[:, 3] = 255
    assert "tRNS" not in dict(chunks(encode_palette_png(labels, opaque)))
    with Image.open(io.BytesIO(encode_palette_png(labels, book))) as im:
        assert np.asarray(im.convert("RGBA")).tolist() == [book.tolist()]


def test_bad_palettes_are_refused():
    with pytest.raises(ValueError, match="256"):
        encode_palette_png(np.zeros((2, 2), np.uint8), np.zeros((257, 3), np.uint8))
    with pytest.raises(ValueError, match="below 2"):
        encode_palette_png(np.full((2, 2), 2, np.uint8), np.zeros((2, 3), np.uint8))


def test_optimize_is_smaller_or_equal_and_the_same_image(tmp_path, samples):
    runner = CliRunner()
    plain, small = tmp_path / "a.png", tmp_path / "b.png"
    for out, extra in ((plain, []), (small, ["--optimize"])):
        res = runner.invoke(cli, ["image", str(samples / "chelsea.png"), "-k", "32",
                                  "-o", str(out)] + extra)
        assert res.exit_code == 0, res.output
    assert small.stat().st_size <= plain.stat().st_size
    with Image.open(plain) as a, Image.open(small) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.getpalette() == b.getpalette()


def test_smaller_than_pillows_own_encoder(samples):
    pixels = load_rgb_array(samples / "coffee.png")
    r = quantize_image(pixels, 16)
    ours = encode_palette_png(r.labels, r.codebook)
    im = Image.fromarray(r.labels)
    im.putpalette(r.codebook.tobytes())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    assert len(ours) < len(buf.getvalue())


# --------------------------------------------------------------------------
# Palette order


def palette_and_counts(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        labels = np.asarray(im)
        k = len(dict(chunks(data))["PLTE"]) // 3
        book = np.array(im.getpalette()[:3 * k], np.uint8).reshape(k, 3)
    return book, np.bincount(labels.ravel(), minlength=k)


@pytest.mark.parametrize("rule", ["frequency", "luminance", "none"])
def test_sort_rules(tmp_path, chelsea_small, write_png, rule):
    src = write_png(chelsea_small)
    runner = CliRunner()
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}.png"
        res = runner.invoke(cli, ["image", str(src), "-k", "12", "-o", str(out), "--sort", rule])
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1], "the same bytes every run"
    book, counts = palette_and_counts(outs[0])
    default = tmp_path / "d.png"
    assert runner.invoke(cli, ["image", str(src), "-k", "12", "-o", str(default)]).exit_code == 0
    default_book, _ = palette_and_counts(default.read_bytes())
    # The same colours whatever the order.
    assert sorted(map(tuple, book.tolist())) == sorted(map(tuple, default_book.tolist()))
    if rule == "frequency":
        assert (np.diff(counts) <= 0).all()
    elif rule == "luminance":
        assert (np.diff(cs.luminance(book)) >= 0).all()


def test_sort_none_keeps_the_init_codebooks_order(tmp_path, blobs_png):
    book = tmp_path / "init.txt"
    book.write_text("#f0f0e6\n#1e1ec8\n#28c83c\n#dc2828\n")  # the blobs' colours, shuffled
    out = tmp_path / "o.png"
    res = CliRunner().invoke(cli, ["image", str(blobs_png), "--init", str(book), "-o", str(out),
                                   "--sort", "none", "--codebook", str(tmp_path / "o.json")])
    assert res.exit_code == 0, res.output
    fitted, _ = palette_and_counts(out.read_bytes())
    init = np.array([[240, 240, 230], [30, 30, 200], [40, 200, 60], [220, 40, 40]])
    # Each fitted code stays next to the initial colour at its index.
    assert np.abs(fitted.astype(int) - init).max() < 20
    assert json.loads((tmp_path / "o.json").read_text())["options"]["sort"] == "none"


def test_order_codes_ties_and_transparency():
    book = np.array([[9, 9, 9, 255], [0, 0, 0, 0], [5, 5, 5, 255], [7, 7, 7, 80]], np.uint8)
    counts = np.array([3, 10, 3, 1])
    assert order_codes(book, counts).tolist() == [1, 3, 0, 2]
    assert order_codes(book, counts, "luminance").tolist() == [1, 3, 2, 0]
    assert order_codes(book, counts, "none", first=np.array([3, 2, 1, 0])).tolist() == [1, 3, 2, 0]
    with pytest.raises(ValueError, match="sort"):
        order_codes(book, counts, "hue")


def _idat(data: bytes) -> bytes:
    return b"".join(body for kind, body in chunks(data) if kind == "IDAT")


def _rows_4bit(labels) -> bytes:
    """Unfiltered PNG rows of 4-bit codes: a filter byte 0, then two codes a byte."""
    labels = np.asarray(labels, np.uint8)
    if labels.shape[1] % 2:
        labels = np.pad(labels, ((0, 0), (0, 1)))
    packed = (labels[:, 0::2] << 4) | labels[:, 1::2]
    return np.concatenate([np.zeros((labels.shape[0], 1), np.uint8), packed], axis=1).tobytes()


def _flat_graphic():
    """Bands and boxes of eight colours: a screenshot-like image."""
    labels = np.zeros((240, 320), np.uint8)
    for i in range(8):
        labels[30 * i:30 * i + 30, :] = i
        labels[10 + 30 * i:20 + 30 * i, 40 * i:40 * i + 25] = (i + 3) % 8
    return labels


def test_flat_graphics_get_zlib_level_9_by_default():
    from quantize.io.encode import FLAT_SHARE, PNG_ZLIB_FLAT

    labels = _flat_graphic()
    codebook = np.array([[i * 30, 255 - i * 30, (i * 70) % 256] for i in range(8)], np.uint8)
    rows = _rows_4bit(labels)
    level6 = zlib.compress(rows, 6)
    assert len(level6) < FLAT_SHARE * len(rows)  # a flat graphic by the rule
    level, mem, strategy = PNG_ZLIB_FLAT
    packer = zlib.compressobj(level, zlib.DEFLATED, 15, mem, strategy)
    level9 = packer.compress(rows) + packer.flush()
    assert len(level9) < len(level6)
    data = encode_palette_png(labels, codebook)
    assert _idat(data) == level9
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(np.asarray(im), labels)


def test_photos_keep_the_default_zlib_setting(chelsea_small):
    result = quantize_image(chelsea_small, 16)
    rows = _rows_4bit(result.labels)
    data = encode_palette_png(result.labels, result.codebook)
    assert _idat(data) == zlib.compress(rows, 6)

"""Codebook files in every format: exact round trips, the published GIMP and
Adobe layouts, the CLI writing them (--codebook), reading them (apply -c,
--init) and the palette swatch."""

from __future__ import annotations

import io
import json
import os
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from quantize.io.codebook import (
    CODEBOOK_FORMATS,
    codebook_format,
    encode_codebook,
    load_codebook,
    parse_codebook,
    sniff_codebook_format,
)
from quantize.errors import BadImageError, InputMissingError

FORMATS = sorted(set(CODEBOOK_FORMATS.values()))
EXTENSIONS = sorted(CODEBOOK_FORMATS)


def random_codebook(k, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(k, 3), dtype=np.uint8)


def rgb_of(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def palette_of(path):
    with Image.open(path) as im:
        im.load()
        assert im.mode == "P"
        return np.asarray(im.getpalette()[: 3 * (int(np.asarray(im).max()) + 1)], dtype=np.uint8)


# --------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("k", [1, 2, 16, 255, 256])
def test_every_format_round_trips_exactly(fmt, k):
    book = random_codebook(k, seed=k)
    counts = np.arange(k, 0, -1, dtype=np.int64) * 7
    data = encode_codebook(book, fmt, counts=counts, inertia=12.5, options={"k": k})
    back = parse_codebook(data, fmt)
    assert back.colors.dtype == np.uint8
    assert back.colors.shape == (k, 3)
    np.testing.assert_array_equal(back.colors, book)
    if fmt in ("json", "csv"):
        np.testing.assert_array_equal(back.counts, counts)
    # The same codebook gives the same bytes.
    assert encode_codebook(book, fmt, counts=counts, inertia=12.5, options={"k": k}) == data
    # And the format is recognised from its contents alone (CSV has no signature
    # but a comma in its header).
    assert sniff_codebook_format(data) == fmt


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "act"])
def test_more_than_256_colours_round_trip_except_act(fmt):
    book = random_codebook(1000, seed=3)
    np.testing.assert_array_equal(parse_codebook(encode_codebook(book, fmt), fmt).colors, book)


@settings(max_examples=40, deadline=None)
@given(book=arrays(np.uint8, st.tuples(st.integers(1, 40), st.just(3))),
       fmt=st.sampled_from(FORMATS))
def test_round_trip_property(book, fmt):
    """Duplicates, black, white, any order: every format keeps rows and order."""
    np.testing.assert_array_equal(parse_codebook(encode_codebook(book, fmt), fmt).colors, book)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_load_codebook_picks_the_format_by_extension(tmp_path, ext):
    book = random_codebook(9, seed=1)
    path = tmp_path / f"book{ext.upper()}"  # extensions are case-insensitive
    path.write_bytes(encode_codebook(book, CODEBOOK_FORMATS[ext], counts=np.ones(9)))
    loaded = load_codebook(path)
    assert loaded.fmt == CODEBOOK_FORMATS[ext]
    np.testing.assert_array_equal(loaded.colors, book)


def test_unknown_extension_is_sniffed_on_read(tmp_path):
    book = random_codebook(5)
    path = tmp_path / "palette.bin"
    path.write_bytes(encode_codebook(book, "gpl"))
    np.testing.assert_array_equal(load_codebook(path).colors, book)
    with pytest.raises(ValueError, match="extensions"):
        codebook_format(tmp_path / "palette.pal")


def test_missing_and_bad_codebook_files(tmp_path):
    with pytest.raises(InputMissingError):
        load_codebook(tmp_path / "nope.gpl")
    with pytest.raises(InputMissingError):
        load_codebook(tmp_path)
    bad = {"json": b"[1, 2]", "gpl": b"not a palette\n", "act": b"\x00" * 100,
           "csv": b"r,g,b\n1,2,300\n", "txt": b"#12345g\n", "npy": b"\x93NUMPY garbage"}
    for fmt, data in bad.items():
        with pytest.raises(BadImageError):
            parse_codebook(data, fmt, source="x")
    for fmt in FORMATS:  # empty files hold no colours
        with pytest.raises(BadImageError):
            parse_codebook(b"", fmt)


# --------------------------------------------------------------------------
# Published layouts


def test_gimp_palette_layout():
    """GIMP's .gpl: a 'GIMP Palette' line, 'Name:', 'Columns:', '#' comments,
    then 'R G B<TAB>name' per colour, R G B as GIMP writes them ('%3d %3d %3d')."""
    book = np.array([[255, 0, 0], [0, 128, 7], [12, 34, 56]], dtype=np.uint8)
    text = encode_codebook(book, "gpl", counts=[50, 30, 20], name="my  palette\n").decode("utf-8")
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0] == "GIMP Palette"
    assert lines[1] == "Name: my palette"  # one line, whitespace collapsed
    assert re.fullmatch(r"Columns: \d+", lines[2]) and int(lines[2].split()[1]) >= 1
    comments = [line for line in lines[3:] if line.startswith("#")]
    entries = [line for line in lines[3:] if not line.startswith("#")]
    assert comments
    assert len(entries) == 3
    for line, row in zip(entries, book):
        m = re.fullmatch(r"( {0,2}\d{1,3}) ( {0,2}\d{1,3}) ( {0,2}\d{1,3})\t(.+)", line)
        assert m, line
        assert [int(g) for g in m.groups()[:3]] == row.tolist()
        assert m.group(1) == f"{row[0]:3d}"
    assert entries[0].endswith("#ff0000 50.00%")


def test_reads_a_palette_as_gimp_writes_it():
    """Blank lines, comments anywhere, no Columns line, names with spaces, tabs."""
    text = (b"GIMP Palette\r\nName: Web safe (part)\r\n#\r\n# a comment\r\n"
            b"  0   0   0\tBlack\r\n\r\n255 255 255\tWhite space name\r\n"
            b"# another\r\n 51 102\t153   Untitled\r\n")
    book = parse_codebook(text, "gpl").colors
    assert book.tolist() == [[0, 0, 0], [255, 255, 255], [51, 102, 153]]
    assert sniff_codebook_format(text) == "gpl"


def test_adobe_color_table_layout():
    """ACT: 256 RGB triples (768 bytes), then a big-endian uint16 colour count
    and a big-endian uint16 transparent index (0xFFFF: none) = 772 bytes."""
    book = np.array([[1, 2, 3], [250, 251, 252], [0, 0, 0]], dtype=np.uint8)
    data = encode_codebook(book, "act")
    assert len(data) == 772
    assert data[:9] == bytes([1, 2, 3, 250, 251, 252, 0, 0, 0])
    assert data[9:768] == bytes(768 - 9)
    assert struct.unpack(">HH", data[768:]) == (3, 0xFFFF)
    assert data[768:] == b"\x00\x03\xff\xff"
    full = encode_codebook(random_codebook(256), "act")
    assert struct.unpack(">HH", full[768:]) == (256, 0xFFFF)
    with pytest.raises(ValueError, match="at most 256"):
        encode_codebook(random_codebook(257), "act")


def test_reads_768_and_772_byte_adobe_tables():
    table = random_codebook(256, seed=5)
    plain = table.tobytes()
    assert len(plain) == 768
    np.testing.assert_array_equal(parse_codebook(plain, "act").colors, table)
    # A count of 4 and a transparent index of 2 (ignored): the first 4 colours.
    with_count = plain + struct.pack(">HH", 4, 2)
    np.testing.assert_array_equal(parse_codebook(with_count, "act").colors, table[:4])
    for count in (0, 257):
        with pytest.raises(BadImageError):
            parse_codebook(plain + struct.pack(">HH", count, 0xFFFF), "act")
    with pytest.raises(BadImageError, match="768 or 772"):
        parse_codebook(plain[:-1], "act")


def test_text_csv_and_npy_layouts():
    book = np.array([[255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    assert encode_codebook(book, "txt") == b"#ff0000\n#0000ff\n"
    assert encode_codebook(book, "csv", counts=[3, 1]).decode().splitlines() == [
        "code,r,g,b,hex,count", "0,255,0,0,#ff0000,3", "1,0,0,255,#0000ff,1"]
    array = np.load(io.BytesIO(encode_codebook(book, "npy")), allow_pickle=False)
    assert array.dtype == np.uint8 and array.shape == (2, 3)
    np.testing.assert_array_equal(array, book)
    # Other tools' files: a header in words, bare rows, hex rows, float .npy.
    assert parse_codebook(b"Red,Green,Blue\n1,2,3\n", "csv").colors.tolist() == [[1, 2, 3]]
    assert parse_codebook(b"1,2,3\n4,5,6\n", "csv").colors.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert parse_codebook(b"hex\n#010203\n", "csv").colors.tolist() == [[1, 2, 3]]
    assert parse_codebook(b"; paint.net\nFF0000\n\n", "txt").colors.tolist() == [[255, 0, 0]]
    out = io.BytesIO()
    np.save(out, book.astype(np.float64))
    np.testing.assert_array_equal(parse_codebook(out.getvalue(), "npy").colors, book)


# --------------------------------------------------------------------------
# The command line: --codebook writes each format, apply -c and --init read it


@pytest.fixture
def small_png(write_png, chelsea_small):
    return write_png(chelsea_small, "chelsea.png")


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_image_writes_the_codebook_format_of_the_extension(run, small_png, out_dir, ext):
    out, book = out_dir / "o.png", out_dir / f"book{ext}"
    r = run("image", small_png, "-k", "6", "-o", out, "--codebook", book)
    assert r.exit_code == 0, r.output
    loaded = load_codebook(book)
    assert loaded.fmt == CODEBOOK_FORMATS[ext]
    # The codebook file holds exactly the PNG's palette, in code order.
    np.testing.assert_array_equal(loaded.colors.ravel(), palette_of(out))
    assert sorted(os.listdir(out_dir)) == sorted(["o.png", f"book{ext}"])


def test_unknown_codebook_extension_is_a_usage_error(run, small_png, out_dir):
    r = run("image", small_png, "-o", out_dir / "o.png", "--codebook", out_dir / "book.pal")
    assert r.exit_code == 2
    assert ".gpl" in r.output
    assert os.listdir(out_dir) == []
    r = run("image", small_png, "-k", "300", "--mode", "reconstruct", "-o", out_dir / "o.png",
            "--codebook", out_dir / "book.act")
    assert r.exit_code == 2
    assert os.listdir(out_dir) == []


def test_apply_reads_every_format(run, small_png, out_dir):
    r = run("image", small_png, "-k", "7", "-o", out_dir / "ref.png", "--codebook",
            out_dir / "ref.json")
    assert r.exit_code == 0, r.output
    reference = load_codebook(out_dir / "ref.json").colors
    outputs = []
    for ext in EXTENSIONS:
        book = out_dir / f"book{ext}"
        book.write_bytes(encode_codebook(reference, CODEBOOK_FORMATS[ext], counts=np.ones(7)))
        out = out_dir / f"applied-{ext[1:]}.png"
        r = run("apply", small_png, "-c", book, "-o", out)
        assert r.exit_code == 0, (ext, r.output)
        np.testing.assert_array_equal(palette_of(out), reference.ravel())
        outputs.append(out.read_bytes())
    # The same colours from any format give the same bytes.
    assert len(set(outputs)) == 1


def test_init_accepts_every_format(run, small_png, out_dir, tmp_path):
    start = np.array([[20, 20, 20], [120, 90, 70], [200, 180, 160], [90, 60, 40], [160, 120, 90]],
                     dtype=np.uint8)
    outputs, summaries = [], []
    for ext in EXTENSIONS:
        book = tmp_path / f"init{ext}"
        book.write_bytes(encode_codebook(start, CODEBOOK_FORMATS[ext]))
        out = out_dir / f"o-{ext[1:]}.png"
        r = run("image", small_png, "--init", book, "-o", out, "--json")
        assert r.exit_code == 0, (ext, r.output)
        summaries.append(json.loads(r.stdout))
        outputs.append(out.read_bytes())
    assert all(s["k_requested"] == 5 for s in summaries)  # k is the codebook's length
    assert len(set(outputs)) == 1


def test_init_codebook_fixes_k(run, small_png, out_dir, tmp_path):
    book = tmp_path / "init.txt"
    book.write_bytes(b"#000000\n#ffffff\n#ffffff\n#808080\n")  # 3 distinct colours
    r = run("image", small_png, "--init", book, "-o", out_dir / "o.png", "--codebook",
            out_dir / "o.json")
    assert r.exit_code == 0, r.output
    doc = json.loads((out_dir / "o.json").read_text())
    assert doc["options"]["init"] == str(book)
    assert doc["options"]["k"] == 3 and doc["k"] <= 3
    # An explicit -k that disagrees is a usage error; a matching one is fine.
    assert run("image", small_png, "--init", book, "-k", "5", "-o", out_dir / "x.png").exit_code == 2
    assert run("image", small_png, "--init", book, "-k", "3", "-o", out_dir / "y.png").exit_code == 0
    assert not (out_dir / "x.png").exists()
    bad = tmp_path / "bad.gpl"
    bad.write_text("GIMP Palette\n1 2\n")
    r = run("image", small_png, "--init", bad, "-o", out_dir / "z.png")
    assert r.exit_code == 65
    assert not (out_dir / "z.png").exists()


def test_palette_command_writes_and_inits_from_every_format(run, small_png, write_png, out_dir,
                                                            blobs):
    other = write_png(blobs, "blobs.png")
    for ext in EXTENSIONS:
        book = out_dir / f"shared{ext}"
        r = run("palette", small_png, other, "-k", "6", "-o", book)
        assert r.exit_code == 0, (ext, r.output)
        assert load_codebook(book).fmt == CODEBOOK_FORMATS[ext]
    colours = {ext: load_codebook(out_dir / f"shared{ext}").colors.tolist() for ext in EXTENSIONS}
    assert len({json.dumps(v) for v in colours.values()}) == 1
    r = run("palette", small_png, other, "--init", out_dir / "shared.gpl", "-o", out_dir / "re.json")
    assert r.exit_code == 0, r.output
    assert json.loads((out_dir / "re.json").read_text())["options"]["init"] == str(out_dir / "shared.gpl")


# --------------------------------------------------------------------------
# Swatch


def test_swatch_shows_every_code_colour(run, small_png, out_dir):
    r = run("image", small_png, "-k", "12", "-o", out_dir / "o.png", "--codebook",
            out_dir / "o.json", "--swatch", out_dir / "swatch.png")
    assert r.exit_code == 0, r.output
    doc = json.loads((out_dir / "o.json").read_text())
    with Image.open(out_dir / "swatch.png") as im:
        assert im.format == "PNG" and im.mode == "RGB"
        pixels = np.asarray(im)
    seen = {tuple(p) for p in pixels.reshape(-1, 3)}
    for colour in doc["colors"]:
        assert tuple(colour) in seen, colour
    # Each code's square is at least 32x32 pixels of its colour.
    for colour in doc["colors"]:
        assert (pixels == colour).all(axis=2).sum() >= 32 * 32


def test_swatch_widths_follow_the_counts():
    from quantize.io.plot import render_swatch

    book = np.array([[255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    with Image.open(io.BytesIO(render_swatch(book, [3, 1]))) as im:
        pixels = np.asarray(im.convert("RGB"))
    # The share strip on top: red is three times as wide as blue.
    row = pixels[15]
    red = (row == [255, 0, 0]).all(axis=1).sum()
    blue = (row == [0, 0, 255]).all(axis=1).sum()
    assert red > 0 and blue > 0
    assert abs(red / blue - 3) < 0.1


def test_swatch_failure_leaves_nothing(run, small_png, out_dir):
    r = run("image", small_png, "-o", out_dir / "o.png", "--swatch", out_dir / "nodir" / "s.png")
    assert r.exit_code == 73
    assert os.listdir(out_dir) == []
    r = run("image", small_png, "-o", out_dir / "o.png", "--swatch", out_dir / "o.png")
    assert r.exit_code == 73
    assert os.listdir(out_dir) == []


def test_palette_swatch(run, small_png, out_dir):
    r = run("palette", small_png, "-k", "5", "-o", out_dir / "p.gpl", "--swatch", out_dir / "s.png")
    assert r.exit_code == 0, r.output
    book = load_codebook(out_dir / "p.gpl").colors
    pixels = rgb_of(out_dir / "s.png")
    for colour in book.tolist():
        assert (pixels == colour).all(axis=2).sum() >= 32 * 32


def test_batch_reads_every_format_and_inits_from_one(run, small_png, tmp_path, out_dir):
    book = np.array([[30, 20, 10], [200, 150, 120], [120, 90, 60]], dtype=np.uint8)
    for ext in EXTENSIONS:
        path = tmp_path / f"book{ext}"
        path.write_bytes(encode_codebook(book, CODEBOOK_FORMATS[ext]))
        # --codebook: every image mapped onto it.
        r = run("batch", small_png, "-o", out_dir / f"c{ext[1:]}", "--codebook", path, "-j", "1")
        assert r.exit_code == 0, (ext, r.output)
        np.testing.assert_array_equal(palette_of(out_dir / f"c{ext[1:]}" / "chelsea.png"),
                                      book.ravel())
    # --init: each image's k-means starts from it; per-image codebooks are JSON-clean.
    r = run("batch", small_png, "-o", out_dir / "i", "--init", tmp_path / "book.gpl",
            "--write-codebooks", "-j", "1")
    assert r.exit_code == 0, r.output
    doc = json.loads((out_dir / "i" / "chelsea.json").read_text())
    assert doc["options"]["k"] == 3 and doc["k"] <= 3

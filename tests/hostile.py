"""Helpers for the gauntlet and fuzz tests: crafted files and failure checks.

Every hostile file is generated here from a few bytes or a small array; no
fixtures are stored.
"""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
from click.testing import CliRunner
from PIL import Image, ImageCms

from quantize.cli import cli

#: Every exit code the command line documents.
DOCUMENTED_CODES = {0, 2, 65, 66, 70, 73, 74, 99, 130}


def invoke(*args, input=None):
    """Run the CLI in-process; returns click's Result (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [os.fspath(a) if isinstance(a, os.PathLike) else str(a)
                                    for a in args], input=input)


def listing(folder) -> list:
    """Names in ``folder``, sorted (temporary files included: they start with '.')."""
    return sorted(os.listdir(folder))


def snapshot(folder) -> dict:
    """{name: bytes} of the regular files in ``folder`` (symlinks not followed)."""
    out = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.islink(path):
            out[name] = ("link", os.readlink(path))
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


def assert_clean_failure(result, code, name, *, folder=None, before=None):
    """The checks every gauntlet failure makes.

    - the exit code is ``code``;
    - stderr has exactly one line, ``quantize: error: ...``, naming ``name``
      (as the repr-quoted path, or a part of it), and nothing else;
    - no traceback, no uncaught exception;
    - ``folder`` holds exactly ``before`` (a :func:`snapshot`), or nothing
      when ``before`` is None: no output and no temporary file.
    """
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("quantize: error: ")]
    assert len(errors) == 1, result.stderr
    assert all(line.startswith("quantize: ") for line in lines), result.stderr
    if name is not None:
        assert name in errors[0], (name, errors[0])
    if folder is not None:
        if before is None:
            assert listing(folder) == [], listing(folder)
        else:
            assert snapshot(folder) == before


def assert_success(result):
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "Traceback" not in result.stderr


def rgb_of(path) -> np.ndarray:
    """An image file read back as an (H, W, 3) uint8 array."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **params)
    return out.getvalue()


def few_colours(height=12, width=16, colours=((200, 30, 40), (20, 120, 220), (250, 240, 10),
                                               (0, 0, 0)), seed=0) -> np.ndarray:
    """An RGB array using only ``colours``, in a random layout."""
    rng = np.random.default_rng(seed)
    table = np.array(colours, dtype=np.uint8)
    return table[rng.integers(0, len(table), size=(height, width))]


# --------------------------------------------------------------------------
# Crafted files


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, *, colour_type=2, bit_depth=8, idat=None) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height``, with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16) if idat is None else idat
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def gif_with_header(width: int, height: int) -> bytes:
    """A GIF whose screen and only frame claim ``width`` x ``height``."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00" * 6
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame + b"\x3b"


def bmp_with_header(width: int, height: int) -> bytes:
    """A 24-bit BMP whose header claims ``width`` x ``height``, with 16 bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    pixels = b"\x00" * 16
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def ppm_with_header(width: int, height: int) -> bytes:
    return f"P6\n{width} {height}\n255\n".encode() + b"\x00" * 16


def psd_file(width: int = 4, height: int = 3) -> bytes:
    """A minimal RGB Photoshop file (which Pillow could read, but we refuse)."""
    head = b"8BPS" + struct.pack(">H6sHIIHH", 1, b"\x00" * 6, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers
    return head + sections + struct.pack(">H", 0) + b"\x80" * (3 * width * height)


def swapped_srgb_profile() -> bytes:
    """An RGB ICC profile whose red and blue primaries are swapped, not named sRGB.

    Red (255, 0, 0) in an image tagged with it is blue in sRGB, which shows
    that the profile was applied.
    """
    prof = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", prof[128:132])
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", prof[132 + 12 * i: 144 + 12 * i])
        tags[sig] = (i, offset, size)
    (ir, offr, sizer), (ib, offb, sizeb) = tags[b"rXYZ"], tags[b"bXYZ"]
    struct.pack_into(">4sII", prof, 132 + 12 * ir, b"rXYZ", offb, sizeb)
    struct.pack_into(">4sII", prof, 132 + 12 * ib, b"bXYZ", offr, sizer)
    data = bytes(prof)
    return data.replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be")).replace(
        b"sRGB", b"Swap")

"""A fuzz run: a few hundred mutated copies of the sample images.

Small (64x48) copies of samples/ are written in every format we read, then
mutated from a fixed seed: truncations, bit and byte flips, header field
edits, insertions and deletions, splices. Each mutant goes through
`quantize image` in-process. The command may succeed (a flip can leave a
valid image) or exit 65, and nothing else: never a traceback, never an
undocumented code, never an output or temporary file after a failure, and
never more than a few seconds on one file.
"""

from __future__ import annotations

import functools
import io
import os
import time

import numpy as np
import pytest
from PIL import Image

from hostile import DOCUMENTED_CODES, invoke, listing

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
SEED = 20240607
PER_FORMAT = 40
SECONDS_PER_FILE = 5.0  # generous: 2 shared cores; a typical mutant takes ~20 ms

FORMATS = {
    # name: (sample, Pillow format, extension, save parameters)
    "png": ("chelsea.png", "PNG", "png", {}),
    "jpeg": ("china.jpg", "JPEG", "jpg", {"quality": 85}),
    "progressive-jpeg": ("flower.jpg", "JPEG", "jpg", {"quality": 80, "progressive": True}),
    "gif": ("coffee.png", "GIF", "gif", {}),
    "bmp": ("astronaut.png", "BMP", "bmp", {}),
    "tiff": ("chelsea.png", "TIFF", "tif", {"compression": "tiff_deflate"}),
    "webp": ("china.jpg", "WEBP", "webp", {"quality": 80}),
    "ppm": ("flower.jpg", "PPM", "ppm", {}),
    "tga": ("coffee.png", "TGA", "tga", {"compression": "tga_rle"}),
    "apng": ("astronaut.png", "PNG", "png", "animated"),
}


@functools.lru_cache(maxsize=None)
def original(kind: str) -> bytes:
    """The 64x48 copy of a sample, encoded as ``kind``."""
    sample, fmt, _, params = FORMATS[kind]
    with Image.open(os.path.join(SAMPLES, sample)) as im:
        small = im.convert("RGB").resize((64, 48), Image.BILINEAR)
    out = io.BytesIO()
    if params == "animated":
        frames = [small, small.transpose(Image.FLIP_LEFT_RIGHT), small.rotate(180)]
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:])
    else:
        small.save(out, format=fmt, **params)
    return out.getvalue()


EXTREMES = [b"\x00\x00", b"\xff\xff", b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
            b"\x80\x00\x00\x00", b"\x00\x01", b"\x01\x00\x00\x00"]


def mutate(data: bytes, rng: np.random.Generator) -> tuple:
    """(description, mutated bytes)."""
    data = bytearray(data)
    n = len(data)
    kind = rng.integers(0, 7)
    if kind == 0:  # truncation
        cut = int(rng.integers(0, n))
        return f"truncate@{cut}", bytes(data[:cut])
    if kind == 1:  # a few single-bit flips anywhere
        spots = rng.integers(0, n, size=int(rng.integers(1, 4)))
        for i in spots:
            data[i] ^= 1 << int(rng.integers(0, 8))
        return f"bitflip@{sorted(spots.tolist())}", bytes(data)
    if kind == 2:  # random bytes in the header
        spots = rng.integers(0, min(n, 64), size=int(rng.integers(1, 5)))
        for i in spots:
            data[i] = int(rng.integers(0, 256))
        return f"header-bytes@{sorted(spots.tolist())}", bytes(data)
    if kind == 3:  # an extreme value written over a header field
        value = EXTREMES[int(rng.integers(0, len(EXTREMES)))]
        at = int(rng.integers(0, max(1, min(n, 48) - len(value))))
        data[at:at + len(value)] = value
        return f"header-field@{at}={value.hex()}", bytes(data)
    if kind == 4:  # bytes inserted in the middle
        at = int(rng.integers(0, n))
        junk = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        return f"insert@{at}+{len(junk)}", bytes(data[:at] + junk + data[at:])
    if kind == 5:  # a run deleted from the middle
        at = int(rng.integers(0, n))
        length = int(rng.integers(1, 256))
        return f"delete@{at}-{length}", bytes(data[:at] + data[at + length:])
    # a splice: the head of this file and the tail of another format's
    other = original(list(FORMATS)[int(rng.integers(0, len(FORMATS)))])
    at = int(rng.integers(0, n))
    return f"splice@{at}", bytes(data[:at] + other[at:])


@functools.lru_cache(maxsize=None)
def mutants(kind: str) -> list:
    rng = np.random.default_rng([SEED, list(FORMATS).index(kind)])
    data = original(kind)
    return [mutate(data, rng) for _ in range(PER_FORMAT)]


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_originals_are_read(tmp_path, kind):
    path = tmp_path / f"in.{FORMATS[kind][2]}"
    path.write_bytes(original(kind))
    r = invoke("image", path, "-o", tmp_path / "o.png", "-k", "8", "-q")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_fuzz(tmp_path, kind):
    ext = FORMATS[kind][2]
    out = tmp_path / "out"
    out.mkdir()
    seen = {}
    for number, (what, data) in enumerate(mutants(kind)):
        path = tmp_path / f"mutant-{number}.{ext}"
        path.write_bytes(data)
        started = time.perf_counter()
        r = invoke("image", path, "-o", out / "o.png", "--codebook", out / "o.json",
                   "-k", "8", "--max-iter", "10", "--max-pixels", "1000000", "-q")
        seconds = time.perf_counter() - started
        case = f"{kind} #{number} {what}: exit {r.exit_code}, {r.stderr.strip()!r}"
        seen[r.exit_code] = seen.get(r.exit_code, 0) + 1
        assert r.exit_code in DOCUMENTED_CODES, case
        assert r.exit_code in (0, 65), case
        assert r.exception is None or isinstance(r.exception, SystemExit), (case, r.exception)
        assert "Traceback" not in r.stderr, case
        assert seconds < SECONDS_PER_FILE, (case, seconds)
        if r.exit_code == 0:
            assert listing(out) == ["o.json", "o.png"], case
            with Image.open(out / "o.png") as im:
                im.load()
            for name in listing(out):
                os.unlink(out / name)
        else:
            errors = r.stderr.splitlines()
            assert len(errors) == 1 and errors[0].startswith("quantize: error: "), case
            assert repr(str(path)) in errors[0], case
            assert listing(out) == [], case
        assert path.read_bytes() == data, case  # the input is never touched
    assert seen.get(65, 0) > 0, seen  # the mutations do break files

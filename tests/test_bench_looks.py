"""Smoke test of the bench's looks section (benchmarks/looks.py): measures, tables
and targets on a tiny image and made-up rows. No timing is asserted."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root

from benchmarks import looks, tools  # noqa: E402
from benchmarks.images import BenchImage  # noqa: E402
from benchmarks.looks import DitherTiming, LookRow  # noqa: E402


def tiny(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "tiny.png")
    return BenchImage("tiny.png", pixels, tmp_path / "tiny.png", "photo")


def test_errors_are_zero_for_the_same_image():
    img = np.random.default_rng(1).integers(0, 256, (5, 6, 3)).astype(np.uint8)
    ok, d00, psnr = looks.errors(img, img)
    assert ok == 0 and d00 == 0 and psnr == float("inf")


@pytest.mark.parametrize("with_pngquant", [False, True])
def test_measure_photo_rows(tmp_path, with_pngquant):
    pngquant = tools.pngquant_path() if with_pngquant else None
    if with_pngquant and pngquant is None:
        pytest.skip("pngquant is not installed")
    rows = looks.measure_photo(tiny(tmp_path), 8, tmp_path, pngquant, tools.PNGQUANT_ARGS)
    assert [r.tool for r in rows] == ["quantize srgb", "quantize oklab", "pngquant"]
    for r in rows[:2]:
        assert r.delta_e_ok > 0 and r.psnr > 0 and r.png_bytes > 0
        assert r.png_bytes_optimized <= r.png_bytes
    if with_pngquant:
        assert rows[2].png_bytes > 0 and rows[2].delta_e_ok > 0
    else:
        assert rows[2].png_bytes is None and "not installed" in rows[2].note


def test_measure_dither_on_a_small_image(tmp_path):
    timings = looks.measure_dither(tiny(tmp_path), ks=(4,), repeats=1)
    assert len(timings) == 3 and all(t.seconds is not None for t in timings)


def test_targets_and_render():
    rows = [
        LookRow("a.png", 16, "quantize srgb", 3.0, 5.0, 30.0, 1000),
        LookRow("a.png", 16, "quantize oklab", 2.5, 4.5, 29.0, 1100),
        LookRow("a.png", 16, "pngquant", 3.1, 5.0, 30.0, 1000),
        LookRow("a.png", 256, "quantize srgb", 1.0, 2.0, 38.0, 5000),
        LookRow("a.png", 256, "quantize oklab", 0.8, 1.8, 37.0, 5100),
        LookRow("a.png", 256, "pngquant", 0.9, 1.9, 38.0, 5200),
    ]
    timings = [DitherTiming("big.png", 16, "floyd-steinberg (Pillow C)", 0.7),
               DitherTiming("big.png", 16, "floyd-steinberg (numpy, not used by the CLI)", 9.0)]
    status = [t.passed for t in looks.targets(rows, timings)]
    assert status == [True, True, True]  # the numpy FS is not held to the limit
    rows[4].delta_e_ok = 0.95
    rows[0].png_bytes = 1060
    status = [t.passed for t in looks.targets(rows, timings)]
    assert status == [False, False, True]
    text = looks.render(rows, timings)
    assert "Targets of the looks section" in text and "| a.png | 16 | quantize oklab |" in text
    assert [t.passed for t in looks.targets([], [])] == [None, None, None]


@pytest.mark.skipif(shutil.which("pngquant") is None, reason="pngquant is not installed")
def test_run_quick_looks_only(tmp_path):
    from benchmarks import run

    out = tmp_path / "r.md"
    assert run.main(["--looks-only", "--no-large", "--images", "flower.jpg",
                     "--results", str(out)]) == 0
    text = out.read_text()
    assert "Perceptual error and file size" in text

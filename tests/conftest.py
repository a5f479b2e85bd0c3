"""Shared fixtures: the samples directory and small generated images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The repository's samples/ directory."""
    assert SAMPLES.is_dir(), f"samples directory missing: {SAMPLES}"
    return SAMPLES


def load_rgb_array(path) -> np.ndarray:
    """Read an image with Pillow as an (H, W, 3) uint8 array."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def blobs_image(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """A small image of noisy colour blobs: many distinct colours, few clusters."""
    rng = np.random.default_rng(seed)
    centres = np.array([[20, 30, 200], [220, 40, 40], [40, 200, 60], [240, 240, 230]])
    which = rng.integers(0, len(centres), size=(height, width))
    noise = rng.integers(-12, 13, size=(height, width, 3))
    return np.clip(centres[which] + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def blobs() -> np.ndarray:
    """A 24x32 RGB array with hundreds of colours around four centres."""
    return blobs_image()


@pytest.fixture(scope="session")
def chelsea_small(samples) -> np.ndarray:
    """samples/chelsea.png downscaled to 100x67, as an RGB array."""
    with Image.open(samples / "chelsea.png") as im:
        small = im.convert("RGB").resize((100, 67), Image.BILINEAR)
    return np.asarray(small, dtype=np.uint8)


@pytest.fixture
def write_png(tmp_path):
    """Factory: write an RGB array as a PNG under tmp_path/in/, return its path."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)

    def write(pixels: np.ndarray, name: str = "image.png") -> Path:
        path = folder / name
        Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(path)
        return path

    return write


@pytest.fixture
def blobs_png(write_png) -> Path:
    """The blobs image written as tmp_path/in/blobs.png."""
    return write_png(blobs_image(), "blobs.png")


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """An empty output directory, tmp_path/out."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def run():
    """Invoke the CLI in-process; returns click's Result."""
    from click.testing import CliRunner

    from quantize.cli import cli

    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, [str(a) for a in args], input=input)

    return invoke

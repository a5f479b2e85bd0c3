"""Regenerate the made sample images: ``python samples/make_synthetic.py``.

Deterministic: the same bytes every run.
"""

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def gradient() -> np.ndarray:
    """A smooth 256×192 gradient: red across, green down, blue diagonal."""
    y, x = np.mgrid[0:192, 0:256]
    red = x * 255 // 255
    green = y * 255 // 191
    blue = (x + y) * 255 // (255 + 191)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def one_colour() -> np.ndarray:
    """A 64×48 image of a single colour."""
    return np.broadcast_to(np.array([46, 139, 87], dtype=np.uint8), (48, 64, 3)).copy()


def five_colours() -> np.ndarray:
    """A 100×80 image of exactly five colours in vertical bands of unequal width."""
    palette = np.array(
        [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]], dtype=np.uint8
    )
    widths = [10, 15, 20, 25, 30]
    bands = np.repeat(np.arange(5), widths)
    return palette[np.broadcast_to(bands, (80, 100))]


if __name__ == "__main__":
    for name, make in [("gradient.png", gradient), ("one-colour.png", one_colour),
                       ("five-colours.png", five_colours)]:
        Image.fromarray(make()).save(HERE / name)

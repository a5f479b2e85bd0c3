"""Draw the before/after pictures of docs/looks.md (colour spaces and dithering).

    python docs/make_looks.py        # writes docs/looks-dither.png, docs/looks-oklab.png

Each picture is a row of panels, each panel what `quantize image` writes with
the options named under it (the same library calls the CLI makes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quantize.core import colorspace as cs  # noqa: E402
from quantize.image.dither import dither_result  # noqa: E402
from quantize.io.decode import load_rgb
from quantize.io.encode import floyd_steinberg_pillow  # noqa: E402
from quantize.image.pipeline import quantize_image  # noqa: E402

CAPTION = 30


def panel(pixels: np.ndarray, lines) -> Image.Image:
    im = Image.fromarray(pixels)
    out = Image.new("RGB", (im.width, im.height + CAPTION), "white")
    out.paste(im, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(lines):
        draw.text((4, im.height + 3 + 12 * i), text, fill="black")
    return out


def row(panels, gap=6) -> Image.Image:
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    out = Image.new("RGB", (width, max(p.height for p in panels)), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + gap
    return out


def dither_picture(path: Path, k: int = 8) -> None:
    pixels = load_rgb(ROOT / "samples" / "gradient.png")
    result = quantize_image(pixels, k)
    panels = [panel(pixels, ["samples/gradient.png", "original"])]
    for method in ("none", "floyd-steinberg", "ordered"):
        shown = dither_result(result, pixels, method, floyd=floyd_steinberg_pillow)
        panels.append(panel(shown.reconstruct(), [f"-k {k} --dither {method}",
                                                  f"PSNR {shown.psnr:.1f} dB"]))
    row(panels).save(path, optimize=True)


def oklab_picture(path: Path, k: int = 16) -> None:
    pixels = load_rgb(ROOT / "samples" / "astronaut.png")[40:296, 128:384]
    panels = [panel(pixels, ["samples/astronaut.png (crop)", "original"])]
    for space in ("srgb", "oklab"):
        result = quantize_image(pixels, k, color_space=space)
        de = float(cs.delta_e_ok(pixels, result.reconstruct()).mean()) * 100
        panels.append(panel(result.reconstruct(), [f"-k {k} --color-space {space}",
                                                   f"mean dE_OK {de:.2f}, PSNR {result.psnr:.1f}"]))
    row(panels).save(path, optimize=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    dither_picture(here / "looks-dither.png")
    oklab_picture(here / "looks-oklab.png")
    print("wrote", here / "looks-dither.png", here / "looks-oklab.png")

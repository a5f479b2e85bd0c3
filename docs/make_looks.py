"""Draw the before/after pictures of docs/looks.md (colour spaces and dithering).

    python docs/make_looks.py   # writes docs/looks-dither.png, docs/looks-dither-crops.png,
                                # docs/looks-oklab.png

Each picture is a row of panels, each panel what `quantize image` writes with
the options named under it (the same library calls the CLI makes). The
dithering crops set the previous algorithms ("before": Pillow's
Floyd–Steinberg, and the Bayer offsets of the whole palette's spacing that
``ordered`` used to add, redone here) beside the current ones, on
samples/coffee.png and on the dark UI screenshot of the bench corpus
(benchmarks/corpus.py draws it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quantize.core import colorspace as cs  # noqa: E402
from quantize.image import dither  # noqa: E402
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
        shown = dither_result(result, pixels, method)
        panels.append(panel(shown.reconstruct(), [f"-k {k} --dither {method}",
                                                  f"PSNR {shown.psnr:.1f} dB"]))
    row(panels).save(path, optimize=True)


def old_ordered(pixels: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """The previous ``ordered``: every pixel offset by the Bayer threshold times
    1.25 × the palette's median spacing (over √3), on all channels, then its
    nearest code."""
    book = codebook.astype(np.float64)
    d = ((book[:, None] - book[None]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    spread = float(np.median(np.sqrt(d.min(axis=1)))) / np.sqrt(3.0) * 1.25
    h, w = pixels.shape[:2]
    offsets = np.rint(((dither.BAYER8 + 0.5) / 64 - 0.5) * spread).astype(np.int16)
    tile = np.tile(offsets, ((h + 7) // 8, (w + 7) // 8))[:h, :w]
    cells = np.clip(pixels.astype(np.int32) + tile[..., None], 0, 255) >> 2
    return dither.nearest_table(codebook)[(cells[..., 0] << 12) | (cells[..., 1] << 6) | cells[..., 2]]


def zoom(pixels: np.ndarray, factor: int = 2) -> np.ndarray:
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def column(rows, gap=6) -> Image.Image:
    height = sum(r.height for r in rows) + gap * (len(rows) - 1)
    out = Image.new("RGB", (max(r.width for r in rows), height), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + gap
    return out


def dither_crops(path: Path, k: int = 16) -> None:
    """Before and after, enlarged 2×: Floyd–Steinberg on coffee.png's dark corner,
    ordered on a flat dark UI panel."""
    from benchmarks import corpus

    rows = []
    coffee = load_rgb(ROOT / "samples" / "coffee.png")
    result = quantize_image(coffee, k)
    crop = (slice(0, 110), slice(0, 130))
    before = result.codebook[floyd_steinberg_pillow(coffee, result.codebook)]
    after = dither_result(result, coffee, "floyd-steinberg").reconstruct()
    rows.append(row([panel(zoom(coffee[crop]), ["samples/coffee.png (crop, 2x)", "original"]),
                     panel(zoom(result.reconstruct()[crop]), [f"-k {k} --dither none", ""]),
                     panel(zoom(before[crop]), ["floyd-steinberg before", "(Pillow's, textbook)"]),
                     panel(zoom(after[crop]), ["floyd-steinberg now", "(limited)"])]))
    ui = corpus.make("ui-dark")
    result = quantize_image(ui, k)
    crop = (slice(420, 530), slice(210, 340))
    before = result.codebook[old_ordered(ui, result.codebook)]
    after = dither_result(result, ui, "ordered").reconstruct()
    rows.append(row([panel(zoom(ui[crop]), ["dark UI of the bench", "corpus (crop, 2x)"]),
                     panel(zoom(result.reconstruct()[crop]), [f"-k {k} --dither none", ""]),
                     panel(zoom(before[crop]), ["ordered before", "(palette-wide offsets)"]),
                     panel(zoom(after[crop]), ["ordered now", "(nearest codes only)"])]))
    column(rows).save(path, optimize=True)


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
    dither_crops(here / "looks-dither-crops.png")
    oklab_picture(here / "looks-oklab.png")
    print("wrote", here / "looks-dither.png", here / "looks-dither-crops.png",
          here / "looks-oklab.png")

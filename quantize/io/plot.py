"""Pictures of numbers: the elbow plot and the palette swatch, drawn with Pillow.

Of the io layer's modules that import Pillow (with :mod:`.decode` and
:mod:`.encode`, which read and write images), this one only draws, with ``PIL.ImageDraw`` and Pillow's
default font, and returns PNG bytes for the caller to write atomically. No
matplotlib. The numbers come from :mod:`quantize.image.elbow` and the pipeline;
nothing here computes them.
"""

from __future__ import annotations

import io
import math
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["render_swatch", "render_elbow", "nice_ticks"]

_BLACK = (0, 0, 0)
_GREY = (120, 120, 120)
_LIGHT = (225, 225, 225)
_WHITE = (255, 255, 255)
_BLUE = (31, 100, 180)
_RED = (200, 40, 40)


def _font(size: int):
    """Pillow's default font at ``size`` px where the Pillow supports sizes (>= 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text, font):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _png(im) -> bytes:
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _hex(row) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in row))


# ---------------------------------------------------------------------------
# Swatch
# ---------------------------------------------------------------------------

def render_swatch(codebook, counts=None, *, columns: Optional[int] = None, square: int = 64) -> bytes:
    """A PNG of the codebook colours, one square per code with its share of the pixels.

    Layout: on top, one bar across the whole width split into the codes'
    shares (widths proportional to the pixel counts, most used first). Below,
    a grid of tiles in code order; each tile is the colour's square, a thin
    bar whose length is the code's count relative to the most used code,
    its percentage of the pixels and its ``#rrggbb`` value.

    Parameters
    ----------
    codebook : ndarray of shape (k, 3), uint8
    counts : ndarray of shape (k,), optional
        Pixels per code. Without them every code gets an equal share and no
        percentages are printed.
    columns : int, optional
        Tiles per row (default: up to 8).
    square : int
        Side of a colour square in pixels.

    Returns
    -------
    bytes
        An RGB PNG.
    """
    colors = np.asarray(codebook, dtype=np.uint8).reshape(-1, 3)
    k = colors.shape[0]
    if k == 0:
        raise ValueError("a swatch needs at least one colour")
    has_counts = counts is not None
    counts = np.asarray(counts if has_counts else np.ones(k), dtype=np.float64)
    if counts.shape != (k,):
        raise ValueError(f"counts must have shape ({k},), got {counts.shape}")
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(k, 1.0 / k)
    columns = int(columns or min(k, 8))
    rows = -(-k // columns)

    font = _font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_h = max(_text_size(probe, "100.0% #ffffff", font)[1], 8)
    gap, margin, bar_h = 8, 10, 6
    tile_w = max(square, _text_size(probe, "#ffffff", font)[0] + 2)
    tile_h = square + 4 + bar_h + (2 * (text_h + 4) if has_counts else text_h + 4)
    width = 2 * margin + columns * tile_w + (columns - 1) * gap
    strip_h = 22
    height = 2 * margin + strip_h + gap + rows * tile_h + (rows - 1) * gap
    im = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(im)

    # The stacked bar: every code's share of the pixels, side by side.
    inner = width - 2 * margin
    edges = np.rint(np.concatenate([[0.0], np.cumsum(shares)]) * inner).astype(int)
    for i in range(k):
        x0, x1 = margin + edges[i], margin + edges[i + 1]
        if x1 > x0:
            draw.rectangle([x0, margin, x1 - 1, margin + strip_h - 1], fill=tuple(int(v) for v in colors[i]))
    draw.rectangle([margin - 1, margin - 1, margin + inner, margin + strip_h], outline=_GREY)

    top = margin + strip_h + gap
    biggest = shares.max()
    for i in range(k):
        row, col = divmod(i, columns)
        x = margin + col * (tile_w + gap)
        y = top + row * (tile_h + gap)
        colour = tuple(int(v) for v in colors[i])
        draw.rectangle([x, y, x + square - 1, y + square - 1], fill=colour, outline=_GREY)
        by = y + square + 3
        length = max(1, int(round(square * shares[i] / biggest))) if biggest > 0 else 1
        draw.rectangle([x, by, x + square - 1, by + bar_h - 1], fill=_LIGHT)
        draw.rectangle([x, by, x + length - 1, by + bar_h - 1], fill=_BLUE)
        ty = by + bar_h + 3
        if has_counts:
            draw.text((x, ty), f"{100.0 * shares[i]:.1f}%", fill=_BLACK, font=font)
            ty += text_h + 4
        draw.text((x, ty), _hex(colors[i]), fill=_GREY, font=font)
    return _png(im)


# ---------------------------------------------------------------------------
# Elbow plot
# ---------------------------------------------------------------------------

def nice_ticks(lo: float, hi: float, target: int = 6):
    """Round tick values (1, 2 or 5 × 10^n apart) covering [lo, hi].

    Examples
    --------
    >>> nice_ticks(0, 97)
    [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    >>> nice_ticks(2, 64, 8)
    [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    """
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(target - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step == 2.5 * power and power >= 1 and abs(lo - round(lo)) < 1e-9:
        step = 5 * power  # keep integer ticks on integer axes
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value < hi + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-2:
        return f"{value:.1e}"
    return f"{value:g}"


def _dashed(draw, p0, p1, fill, width=1, dash=6):
    (x0, y0), (x1, y1) = p0, p1
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        return
    steps = int(length // dash)
    for i in range(0, steps + 1, 2):
        a, b = i * dash / length, min((i + 1) * dash / length, 1.0)
        draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                  fill=fill, width=width)


def render_elbow(ks: Sequence[int], values: Sequence[float], *, suggested: Optional[int] = None,
                 title: str = "Elbow", ylabel: str = "MSE (mean squared error per channel value)",
                 psnr: Optional[Sequence[float]] = None, size=(760, 460)) -> bytes:
    """Draw a distortion curve over k, with axes, labels and the suggested k marked.

    Parameters
    ----------
    ks : sequence of int
        The k, ascending.
    values : sequence of float
        Distortion for each k (MSE in the CLI).
    suggested : int, optional
        The k to mark (a red ring, a dashed drop line and a label).
    title, ylabel : str
    psnr : sequence of float, optional
        PSNR for each k; the suggested point's label then shows it.
    size : (int, int)
        Width and height in pixels.

    Returns
    -------
    bytes
        An RGB PNG. The chord from the first to the last point, against
        which the knee is measured, is drawn dashed.
    """
    ks = [int(k) for k in ks]
    values = [float(v) for v in values]
    if not ks or len(ks) != len(values):
        raise ValueError("need one value per k, and at least one k")
    scale = 2  # draw at twice the size, then downsample: smooth lines
    width, height = size
    W, H = width * scale, height * scale
    im = Image.new("RGB", (W, H), _WHITE)
    draw = ImageDraw.Draw(im)
    font = _font(12 * scale)
    small = _font(11 * scale)
    bold = _font(14 * scale)

    left, right, top, bottom = 88 * scale, 28 * scale, 44 * scale, 60 * scale
    x0, x1 = left, W - right
    y0, y1 = top, H - bottom  # y0 is the top of the plot area
    kmin, kmax = min(ks), max(ks)
    if kmax == kmin:
        kmin, kmax = kmin - 1, kmax + 1
    xticks = [t for t in nice_ticks(kmin, kmax, 8) if kmin <= t <= kmax]
    # Label the first k too, unless a round tick is right beside it.
    if not xticks or min(abs(t - kmin) for t in xticks) > 0.06 * (kmax - kmin):
        xticks = sorted(set([float(kmin)] + xticks))
    vmax = max(values) if max(values) > 0 else 1.0
    yticks = nice_ticks(0.0, vmax, 6)
    ytop = yticks[-1]

    def px(k):
        return x0 + (k - kmin) / (kmax - kmin) * (x1 - x0)

    def py(v):
        return y1 - v / ytop * (y1 - y0)

    # Grid, ticks and tick labels.
    for t in yticks:
        y = py(t)
        draw.line([(x0, y), (x1, y)], fill=_LIGHT, width=scale)
        draw.line([(x0 - 5 * scale, y), (x0, y)], fill=_BLACK, width=scale)
        label = _label(t)
        tw, th = _text_size(draw, label, small)
        draw.text((x0 - 8 * scale - tw, y - th / 2 - scale), label, fill=_BLACK, font=small)
    for t in xticks:
        x = px(t)
        draw.line([(x, y1), (x, y1 + 5 * scale)], fill=_BLACK, width=scale)
        label = _label(t)
        tw, th = _text_size(draw, label, small)
        draw.text((x - tw / 2, y1 + 8 * scale), label, fill=_BLACK, font=small)
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=_BLACK, width=scale)

    # Axis labels and title.
    xlabel = "k (number of colours)"
    tw, th = _text_size(draw, xlabel, font)
    draw.text(((x0 + x1) / 2 - tw / 2, H - bottom / 2 + 2 * scale), xlabel, fill=_BLACK, font=font)
    tw, th = _text_size(draw, ylabel, font)
    label_im = Image.new("L", (tw + 4 * scale, th + 8 * scale), 0)
    ImageDraw.Draw(label_im).text((2 * scale, 2 * scale), ylabel, fill=255, font=font)
    label_im = label_im.rotate(90, expand=True)
    im.paste(Image.new("RGB", label_im.size, _BLACK), (8 * scale, int((y0 + y1) / 2 - label_im.size[1] / 2)),
             label_im)
    tw, th = _text_size(draw, title, bold)
    draw.text(((x0 + x1) / 2 - tw / 2, 14 * scale), title, fill=_BLACK, font=bold)

    # The chord the knee is measured against, then the curve.
    points = [(px(k), py(v)) for k, v in zip(ks, values)]
    if len(points) >= 3:
        _dashed(draw, points[0], points[-1], _GREY, width=scale, dash=6 * scale)
    if len(points) >= 2:
        draw.line(points, fill=_BLUE, width=2 * scale, joint="curve")
    r = 3 * scale
    for x, y in points:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_BLUE)

    if suggested is not None and suggested in ks:
        i = ks.index(suggested)
        x, y = points[i]
        _dashed(draw, (x, y1), (x, y), _RED, width=scale, dash=5 * scale)
        R = 7 * scale
        draw.ellipse([x - R, y - R, x + R, y + R], outline=_RED, width=2 * scale)
        text = f"suggested k = {suggested}"
        if psnr is not None and math.isfinite(psnr[i]):
            text += f" (PSNR {psnr[i]:.1f} dB)"
        tw, th = _text_size(draw, text, font)
        tx = x + 12 * scale
        if tx + tw > x1:
            tx = x - 12 * scale - tw
        ty = max(y0, y - 12 * scale - th)
        draw.rectangle([tx - 3 * scale, ty - 2 * scale, tx + tw + 3 * scale, ty + th + 6 * scale], fill=_WHITE)
        draw.text((tx, ty), text, fill=_RED, font=font)

    im = im.resize((width, height), Image.LANCZOS)
    return _png(im)

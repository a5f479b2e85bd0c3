"""A quality corpus: quantize's error against cv2, pngquant and full k-means.

Usage, from the repository root with the virtualenv's Python::

    python -m benchmarks.corpus                     # every image, k = 8, 16, 64, 256
    python -m benchmarks.corpus --k 8,16 --kinds dark,fog --no-large
    python -m benchmarks.corpus --images stars-nebula,ui-dark
    python -m benchmarks.corpus --peers-only        # fill the cache of the other tools

The corpus is the five photos of ``samples/``, images generated here that
stand for classes of pictures a k-means quantizer finds hard (near-black
starfields, fog, sepia, narrow-hue stains, saturated synthetic art, flat UI
screenshots with anti-aliased text, smooth gradients, high-ISO noise) and the
generated 12 MP photo of :mod:`benchmarks.images`. Every image has a short
name and a ``kind`` (its class).

For each image and k, the table holds the MSE of

* quantize: ``quantize.quantize_image(pixels, k)`` with its defaults, in this
  process, and its wall time; always run, never cached (it is what is tuned);
* cv2: ``cv2.kmeans`` on every pixel (EPS+MAX_ITER 10, 1.0; k-means++; one
  attempt), the best of seeds 0, 1 and 2, centres rounded to uint8;
* pngquant: ``pngquant --speed 4 --nofs K`` on a PNG of the same pixels;
* reference: scikit-learn's weighted k-means++ and Lloyd to convergence on
  the distinct colours with their pixel counts as weights (what k-means can
  reach), centres rounded to uint8 and every colour relabelled to its
  nearest rounded centre.

MSE here is the mean over all channel values (R, G and B of every pixel) of
the squared difference in 0-255 units: ``report.mse_rgb / 3``, the number
``quantize image --json`` prints. Ratios are quantize's MSE over the other's.

The other tools' results do not change while quantize is tuned, and they
are slow (cv2 three times on every pixel), so they are kept in
``benchmarks/.cache/corpus-peers.json``, keyed by image name, a digest of the
image's pixels (with the generators' version), k, tool and the tool's
version and settings. A run only recomputes quantize, plus whatever the
cache lacks.

The generated images are written once to ``benchmarks/.cache/corpus-vN/``
(N is :data:`CORPUS_VERSION`; bump it when a generator changes).
"""

from __future__ import annotations

import argparse
import colorsys
import fcntl
import functools
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

if __package__ in (None, ""):  # run as `python benchmarks/corpus.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import images as bimages  # noqa: E402
from benchmarks.report import Target, fmt_num, fmt_ratio, markdown_table, mse_rgb  # noqa: E402

#: Bump when any generator changes: the cached PNGs and peer results follow it.
CORPUS_VERSION = 1
#: Root of every generator's random stream (each image adds its name's CRC).
CORPUS_SEED = 20240611

DEFAULT_K = (8, 16, 64, 256)
OKLAB_K = 256
CV2_SEEDS = (0, 1, 2)
REFERENCE_MAX_ITER = 300
#: Lloyd to convergence on the 12 MP image's 1.6 million colours is slow.
REFERENCE_MAX_ITER_LARGE = 100
REFERENCE_TOL = 1e-8

# The targets.
CV2_WORST = 1.02
PNGQUANT_WORST = 1.00
CV2_MEDIAN = 0.99

IMAGE_DIR = bimages.CACHE / f"corpus-v{CORPUS_VERSION}"
PEERS_FILE = bimages.CACHE / "corpus-peers.json"

#: Kinds whose images are photographs or made from one: the Oklab part's set.
PHOTO_LIKE = ("photo", "fog", "sepia", "noise", "large")

PEERS = ("cv2", "pngquant", "reference")
PEER_LABELS = {"cv2": "cv2.kmeans best of 3", "pngquant": "pngquant", "reference": "reference"}


# --------------------------------------------------------------------------
# Small helpers for the generators


def _rng(name: str) -> np.random.Generator:
    """The random stream of one image: the same for every run and scale."""
    return np.random.default_rng([CORPUS_SEED, zlib.crc32(name.encode())])


def _dims(width: int, height: int, scale: float) -> tuple:
    """(width, height) at ``scale``, at least 8 pixels each."""
    return max(8, round(width * scale)), max(8, round(height * scale))


def _to_uint8(values) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _sample(file: str, size) -> np.ndarray:
    """A sample photo centre-cropped to ``size``'s aspect ratio and resized, float32."""
    width, height = size
    with Image.open(bimages.SAMPLES / file) as im:
        im = im.convert("RGB")
        sw, sh = im.size
        if sw * height > sh * width:
            cw, ch = round(sh * width / height), sh
        else:
            cw, ch = sw, round(sw * height / width)
        left, top = (sw - cw) // 2, (sh - ch) // 2
        im = im.crop((left, top, left + cw, top + ch)).resize((width, height), Image.LANCZOS)
        return np.asarray(im, dtype=np.float32)


def _smooth(rng, height: int, width: int, cell: float, cell_y: float | None = None) -> np.ndarray:
    """Smooth noise of unit spread: random values on a coarse grid, bicubic-upscaled.

    ``cell`` (and ``cell_y``, for streaks) is the grid spacing in pixels.
    """
    cell_y = cell if cell_y is None else cell_y
    gw = max(2, math.ceil(width / max(cell, 1.0)) + 1)
    gh = max(2, math.ceil(height / max(cell_y, 1.0)) + 1)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))  # mode "F"
    spread = float(field.std())
    return field / spread if spread > 0 else field


def _grid(height: int, width: int):
    """Pixel-centre coordinates (y, x) as float32 arrays of shape (H, 1) and (1, W)."""
    return (np.arange(height, dtype=np.float32)[:, None] + 0.5,
            np.arange(width, dtype=np.float32)[None, :] + 0.5)


def _ramp(t, stops, colours) -> np.ndarray:
    """Piecewise-linear colour ramp: ``t`` (any shape) to RGB float32 (shape + (3,))."""
    colours = np.asarray(colours, dtype=np.float32)
    return np.stack([np.interp(t, stops, colours[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def _patch(shape, cy: float, cx: float, radius: float):
    """Slices and pixel-centre offsets of the square of ``radius`` around (cy, cx)."""
    h, w = shape[:2]
    y0, y1 = max(0, int(cy - radius)), min(h, int(cy + radius) + 2)
    x0, x1 = max(0, int(cx - radius)), min(w, int(cx + radius) + 2)
    if y0 >= y1 or x0 >= x1:
        return None
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    return (slice(y0, y1), slice(x0, x1)), dy, dx


# --------------------------------------------------------------------------
# Dark astronomical starfields


def _starfield(name, scale, *, stars, noise, nebulae=(), band=None):
    """Near-black sky with sensor noise, coloured stars and faint nebulae.

    ``nebulae``: (rgb, amplitude, (cx, cy), (sx, sy), angle) in image
    fractions; ``band``: (faint stars, glow amplitude) of a diagonal Milky
    Way band with a dust lane.
    """
    w, h = _dims(900, 600, scale)
    rng = _rng(name)
    yy, xx = _grid(h, w)
    # Sky glow rising towards the bottom edge (the horizon), a few units only.
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.array([4.0, 4.5, 6.0], np.float32)
    img += (yy / h)[..., None] * np.array([3.0, 2.0, 1.0], np.float32)

    for rgb, amp, (cx, cy), (sx, sy), angle in nebulae:
        c, s = math.cos(angle), math.sin(angle)
        u = ((xx - cx * w) * c + (yy - cy * h) * s) / (sx * w)
        v = (-(xx - cx * w) * s + (yy - cy * h) * c) / (sy * h)
        texture = np.clip(1.0 + 0.6 * _smooth(rng, h, w, 35 * scale), 0.0, None)
        img += (amp * np.exp(-0.5 * (u * u + v * v)) * texture)[..., None] * np.asarray(rgb, np.float32)

    positions = [(rng.uniform(0, h), rng.uniform(0, w)) for _ in range(max(8, round(stars * scale * scale)))]
    if band is not None:
        faint, glow = band
        # Distance from the diagonal through the centre, in image heights.
        dist = ((yy - h / 2) - 0.45 * (xx - w / 2)) / (h * 1.1)
        clumps = np.clip(1.0 + 0.5 * _smooth(rng, h, w, 60 * scale), 0, None)
        lane = np.exp(-0.5 * (dist / 0.12) ** 2) * clumps
        dust = np.clip(1.0 - 1.6 * np.exp(-0.5 * ((dist - 0.015) / 0.025) ** 2), 0.15, 1.0)
        img += (glow * lane * dust)[..., None] * np.array([1.0, 0.85, 0.65], np.float32)
        for _ in range(max(8, round(faint * scale * scale))):
            d = rng.normal(0.0, 0.12)  # across the band, in heights; then anywhere along it
            x = rng.uniform(0, w)
            y = h / 2 + 0.45 * (x - w / 2) + d * h * 1.1
            if 0 <= y < h:
                positions.append((y, x))

    for cy, cx in positions:
        peak = min(700.0, 6.0 + 40.0 * rng.pareto(1.3))  # many faint, a few saturated
        sigma = max(0.45, (0.55 + 0.3 * math.log1p(peak / 40.0)) * scale)
        t = rng.uniform()
        colour = _ramp(t, [0.0, 0.5, 1.0], [[1.0, 0.72, 0.45], [1.0, 1.0, 0.97], [0.72, 0.82, 1.0]])
        found = _patch(img.shape, cy, cx, 3.5 * sigma + 1)
        if found is None:
            continue
        sl, dy, dx = found
        img[sl] += (peak * np.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)))[..., None] * colour

    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    return _to_uint8(img)


# --------------------------------------------------------------------------
# Photos in fog, sepia and at high ISO


def _fog(name, scale, *, source, contrast, grey, noise=1.5):
    """A photo squeezed into a narrow range around a light grey, with uneven haze."""
    w, h = _dims(800, 533, scale)
    rng = _rng(name)
    px = _sample(source, (w, h))
    out = np.asarray(grey, np.float32) + (px - px.reshape(-1, 3).mean(axis=0)) * np.float32(contrast)
    out += (2.5 * _smooth(rng, h, w, 150 * scale))[..., None]  # the fog is not even
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise)
    return _to_uint8(out)


def _sepia(name, scale, *, source, size):
    """A photo's luminance toned from dark brown to cream, with grain, vignette, colour noise."""
    w, h = _dims(*size, scale)
    rng = _rng(name)
    px = _sample(source, (w, h))
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    lum += rng.standard_normal(lum.shape, dtype=np.float32) * np.float32(3.0)  # film grain
    yy, xx = _grid(h, w)
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2.0
    t = np.clip(lum / 255.0, 0.0, 1.0) * (1.0 - 0.35 * r2)
    out = _ramp(t, [0.0, 0.25, 0.55, 0.8, 1.0],
                [[28, 18, 10], [92, 60, 34], [168, 124, 80], [218, 188, 146], [246, 232, 205]])
    # A little colour noise, as a scan of a toned print has (else the image
    # would hold only a few hundred colours along the tone curve).
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(1.5)
    return _to_uint8(out)


def _high_iso(name, scale, *, source, size):
    """A photo darkened, with strong luminance noise and blotchy chroma noise."""
    w, h = _dims(*size, scale)
    rng = _rng(name)
    px = _sample(source, (w, h)) * np.float32(0.4)
    px += (rng.standard_normal((h, w), dtype=np.float32) * np.float32(10.0))[..., None]
    for c in range(3):  # chroma noise: blotches of a few pixels plus per-pixel
        px[..., c] += 7.0 * _smooth(rng, h, w, 3.0 * scale)
        px[..., c] += rng.standard_normal((h, w), dtype=np.float32) * np.float32(4.0)
    return _to_uint8(px)


# --------------------------------------------------------------------------
# Stains: micrographs and a retina, all reds, pinks and purples


def _micrograph(name, scale, *, density):
    """An H&E-like micrograph: pink stroma with fibres, purple nuclei, red cells."""
    w, h = _dims(900, 700, scale)
    rng = _rng(name)
    tissue = _smooth(rng, h, w, 110 * scale) + (density - 0.5) * 1.5
    mask = np.clip((tissue + 0.3) / 0.6, 0.0, 1.0)
    mask = mask * mask * (3 - 2 * mask)  # smoothstep: soft tissue borders
    fibres = _smooth(rng, h, w, 70 * scale, 5 * scale)
    background = np.array([243, 229, 238], np.float32)
    stroma = np.array([226, 138, 184], np.float32) + fibres[..., None] * np.array([10, 18, 12], np.float32)
    img = background + (stroma - background) * mask[..., None]

    def blob(cy, cx, a, b, angle, rgb, strength, ring=False):
        found = _patch(img.shape, cy, cx, max(a, b) + 2)
        if found is None:
            return
        sl, dy, dx = found
        c, s = math.cos(angle), math.sin(angle)
        u, v = (dx * c + dy * s) / a, (-dx * s + dy * c) / b
        r = np.sqrt(u * u + v * v)
        alpha = np.clip((1.1 - r) / 0.3, 0.0, 1.0) * strength
        if ring:  # red cells are paler in the middle
            alpha *= 0.6 + 0.4 * np.clip(r, 0.0, 1.0)
        else:  # chromatin speckle
            alpha *= 1.0 + 0.15 * rng.standard_normal(alpha.shape).astype(np.float32)
        alpha = np.clip(alpha, 0.0, 1.0)[..., None]
        img[sl] = img[sl] * (1 - alpha) + np.asarray(rgb, np.float32) * alpha

    n = max(6, round(1500 * density * scale * scale))
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        if mask[min(h - 1, int(cy)), min(w - 1, int(cx))] < 0.5:
            continue
        a = max(1.0, rng.uniform(3.5, 8.0) * scale)
        b = max(1.0, a * rng.uniform(0.55, 1.0))
        rgb = np.array([88, 48, 132]) + rng.normal(0, 10, 3) * np.array([1.0, 0.6, 1.0])
        blob(cy, cx, a, b, rng.uniform(0, math.pi), rgb, rng.uniform(0.55, 0.9))
    for _ in range(max(2, n // 8)):
        r = max(1.0, 3.6 * scale)
        blob(rng.uniform(0, h), rng.uniform(0, w), r, r, 0.0, (210, 52, 88), 0.85, ring=True)

    out = Image.fromarray(_to_uint8(img)).filter(ImageFilter.GaussianBlur(max(0.3, 0.7 * scale)))
    out = np.asarray(out, np.float32) + rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(2.0)
    return _to_uint8(out)


def _retina(name, scale):
    """A fundus photo: orange-red field, optic disc, dark macula, branching vessels."""
    w, h = _dims(800, 800, scale)
    rng = _rng(name)
    yy, xx = _grid(h, w)
    radius = 0.46 * w
    r = np.sqrt((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / radius
    disc_y, disc_x, disc_r = 0.48 * h, 0.70 * w, 0.075 * w
    mac_y, mac_x = 0.52 * h, 0.40 * w
    d_disc = np.sqrt((xx - disc_x) ** 2 + (yy - disc_y) ** 2)
    d_mac = np.sqrt((xx - mac_x) ** 2 + (yy - mac_y) ** 2)

    img = np.array([200, 88, 42], np.float32) * (1.0 - 0.45 * r * r)[..., None]
    img += (25 * np.exp(-0.5 * (d_disc / (0.25 * w)) ** 2))[..., None] * np.array([1.0, 0.6, 0.3], np.float32)
    img *= (1.0 - 0.35 * np.exp(-0.5 * (d_mac / (0.09 * w)) ** 2))[..., None]
    img += (6.0 * _smooth(rng, h, w, 25 * scale))[..., None] * np.array([1.0, 0.5, 0.3], np.float32)
    disc = np.clip((disc_r - d_disc) / max(1.0, 3 * scale), 0.0, 1.0)[..., None]
    img = img + (np.array([246, 196, 140], np.float32) - img) * disc
    cup = np.clip((0.45 * disc_r - d_disc) / max(1.0, 4 * scale), 0.0, 1.0)[..., None]
    img = img + (np.array([255, 228, 178], np.float32) - img) * cup

    # Vessels, drawn at twice the size and averaged down so that their edges are soft.
    sup = 2
    masks = {}
    for kind in ("artery", "vein"):
        mask = Image.new("L", (w * sup, h * sup), 0)
        draw = ImageDraw.Draw(mask)

        def branch(x, y, angle, width, steps, depth):
            points = [(x, y)]
            for _ in range(steps):
                angle += rng.normal(0.0, 0.10)
                x += math.cos(angle) * 7 * scale * sup
                y += math.sin(angle) * 7 * scale * sup
                points.append((x, y))
            draw.line(points, fill=255, width=max(1, round(width * scale * sup)), joint="curve")
            if depth > 0:
                for turn in (-0.45, 0.45):
                    branch(x, y, angle + turn + rng.normal(0, 0.1), width * 0.72,
                           max(4, int(steps * 0.8)), depth - 1)

        for base in (-2.3, 2.3, -2.8, 2.8):  # arcades above and below the macula
            start = base + (0.12 if kind == "vein" else -0.12)
            branch(disc_x * sup, disc_y * sup, start, 7.0 if kind == "vein" else 5.5, 16, 4)
        masks[kind] = np.asarray(mask.resize((w, h), Image.BOX), np.float32)[..., None] / 255.0
    for kind, rgb in (("artery", (170, 45, 30)), ("vein", (125, 28, 22))):
        alpha = masks[kind] * 0.85
        img = img * (1 - alpha) + np.asarray(rgb, np.float32) * alpha

    img *= np.clip((1.0 - r) * radius / max(1.0, 2 * scale), 0.0, 1.0)[..., None]  # field of view
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(1.5)
    return _to_uint8(img)


# --------------------------------------------------------------------------
# Saturated synthetic images: flat primaries and hard edges (no anti-aliasing)

_PRIMARIES = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
              (255, 0, 255), (0, 0, 0)]


def _hue(h: float, v: float = 1.0, s: float = 1.0) -> tuple:
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _shapes(name, scale):
    """Random rectangles, ellipses, polygons and thick lines in primaries on white."""
    w, h = _dims(800, 600, scale)
    rng = _rng(name)
    im = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for _ in range(70):
        colour = _PRIMARIES[rng.integers(len(_PRIMARIES))]
        x, y = rng.uniform(-0.05, 1.0) * w, rng.uniform(-0.05, 1.0) * h
        sx, sy = rng.uniform(0.03, 0.25) * w, rng.uniform(0.03, 0.25) * h
        shape = rng.integers(4)
        if shape == 0:
            draw.rectangle([x, y, x + sx, y + sy], fill=colour)
        elif shape == 1:
            draw.ellipse([x, y, x + sx, y + sy], fill=colour)
        elif shape == 2:
            n = int(rng.integers(3, 7))
            angles = np.sort(rng.uniform(0, 2 * math.pi, n))
            draw.polygon([(x + sx * math.cos(a), y + sy * math.sin(a)) for a in angles], fill=colour)
        else:
            draw.line([x, y, x + sx, y + sy], fill=colour, width=max(1, int(rng.uniform(3, 14) * scale)))
    return np.asarray(im, dtype=np.uint8)


def _bars(name, scale):
    """Colour bars, a 24-step hue wheel, a checkerboard and rings in 12 hues."""
    w, h = _dims(960, 540, scale)
    im = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(im)
    full = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0),
            (0, 0, 255)]
    bw = w / 2 / len(full)
    for i, c in enumerate(full):
        draw.rectangle([i * bw, 0, (i + 1) * bw - 1, h * 0.55], fill=c)
        dim = tuple(int(v * 0.75) for v in full[len(full) - 1 - i])
        draw.rectangle([i * bw, h * 0.55, (i + 1) * bw - 1, h * 0.65], fill=dim)
    cell = max(2, round(30 * scale))
    for gy in range(int(h * 0.68) // cell, h // cell + 1):
        for gx in range(0, int(w / 2) // cell + 1):
            colour = (255, 0, 0) if (gx + gy) % 2 else (0, 0, 255)
            draw.rectangle([gx * cell, gy * cell, gx * cell + cell - 1, gy * cell + cell - 1], fill=colour)
    cx, cy, rad = w * 0.75, h * 0.5, min(w * 0.22, h * 0.45)
    for i in range(24):
        draw.pieslice([cx - rad, cy - rad, cx + rad, cy + rad], i * 15, (i + 1) * 15, fill=_hue(i / 24))
    for i in range(12):  # rings inside the wheel, 12 hues at two brightnesses
        rr = rad * (0.55 - i * 0.04)
        draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=_hue(i / 12 + 0.04, 0.6 if i % 2 else 1.0))
    return np.asarray(im, dtype=np.uint8)


def _tiles(name, scale):
    """Tiles in 48 saturated colours (24 hues at two brightnesses), some with a shape inside."""
    w, h = _dims(800, 600, scale)
    rng = _rng(name)
    palette = [_hue(i / 24, v) for v in (1.0, 0.6) for i in range(24)]
    im = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(im)
    cell = max(2, round(40 * scale))
    for ty in range(0, h, cell):
        for tx in range(0, w, cell):
            draw.rectangle([tx, ty, tx + cell - 1, ty + cell - 1], fill=palette[rng.integers(48)])
            if rng.uniform() < 0.4:
                inner = palette[rng.integers(48)]
                m = cell // 5
                if rng.uniform() < 0.5:
                    draw.ellipse([tx + m, ty + m, tx + cell - 1 - m, ty + cell - 1 - m], fill=inner)
                else:
                    draw.polygon([(tx + m, ty + cell - 1 - m), (tx + cell / 2, ty + m),
                                  (tx + cell - 1 - m, ty + cell - 1 - m)], fill=inner)
    return np.asarray(im, dtype=np.uint8)


# --------------------------------------------------------------------------
# Flat UI screenshots with anti-aliased text

_WORDS = ("account", "settings", "profile", "export", "import", "history", "sync", "share",
          "project", "report", "preview", "filter", "search", "archive", "inbox", "draft",
          "review", "deploy", "status", "billing", "members", "invite", "notes", "calendar",
          "upload", "folder", "recent", "pinned", "tags", "theme", "privacy", "network",
          "storage", "backup", "alerts", "metrics", "team", "tasks", "done", "open")


@functools.lru_cache(maxsize=None)
def _font(size: int):
    """Pillow's default font at ``size`` pixels if this Pillow scales it (FreeType), else None."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, AttributeError, OSError, ImportError):
        return None


def _text(im: Image.Image, xy, text: str, size: int, fill) -> None:
    """Draw anti-aliased text; with an old Pillow, the bitmap default font scaled up."""
    size = max(4, int(size))
    font = _font(size)
    if font is not None:
        ImageDraw.Draw(im).text(xy, text, font=font, fill=fill)
        return
    # The old bitmap font is about 11 pixels tall: draw it into a mask and
    # scale the mask, which smooths (anti-aliases) its edges.
    small = ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=small)
    mask = Image.new("L", (max(1, right), max(1, bottom)), 0)
    ImageDraw.Draw(mask).text((0, 0), text, font=small, fill=255)
    factor = size / 11.0
    mask = mask.resize((max(1, round(mask.width * factor)), max(1, round(mask.height * factor))),
                       Image.BILINEAR)
    im.paste(Image.new("RGB", mask.size, fill), (int(xy[0]), int(xy[1])), mask)


_THEMES = {
    "light": dict(bg=(255, 255, 255), panel=(243, 244, 246), border=(218, 220, 224),
                  text=(32, 33, 36), muted=(110, 114, 120), accent=(26, 115, 232),
                  on_accent=(255, 255, 255), title=(232, 234, 237), good=(30, 142, 62),
                  warn=(249, 171, 0), bad=(217, 48, 37), select=(210, 227, 252)),
    "dark": dict(bg=(30, 31, 34), panel=(43, 45, 49), border=(62, 64, 70),
                 text=(230, 231, 233), muted=(150, 153, 160), accent=(138, 99, 255),
                 on_accent=(255, 255, 255), title=(24, 25, 27), good=(61, 214, 140),
                 warn=(255, 196, 0), bad=(255, 99, 99), select=(60, 52, 96)),
}


def _ui(name, scale, *, theme, dialog=False):
    """An application window: title bar, sidebar, toolbar, cards, a chart, a form."""
    w, h = _dims(1100, 700, scale)
    rng = _rng(name)
    t = _THEMES[theme]

    def s(v):
        return v * scale

    def words(n):
        return " ".join(_WORDS[i] for i in rng.integers(len(_WORDS), size=n)).capitalize()

    im = Image.new("RGB", (w, h), t["bg"])
    draw = ImageDraw.Draw(im)
    # Title bar with the three window buttons.
    draw.rectangle([0, 0, w, s(36)], fill=t["title"])
    for i, c in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
        draw.ellipse([s(14 + 22 * i), s(11), s(28 + 22 * i), s(25)], fill=c)
    _text(im, (w / 2 - s(60), s(10)), words(2), s(14), t["muted"])
    draw.line([0, s(36), w, s(36)], fill=t["border"], width=1)
    # Sidebar with a selected row.
    draw.rectangle([0, s(37), s(220), h], fill=t["panel"])
    draw.line([s(220), s(37), s(220), h], fill=t["border"], width=1)
    selected = int(rng.integers(2, 9))
    for i in range(14):
        y = s(52 + 32 * i)
        if i == selected:
            draw.rounded_rectangle([s(8), y - s(5), s(212), y + s(23)], radius=s(6), fill=t["select"])
        dot = (t["accent"], t["good"], t["warn"], t["bad"])[i % 4]
        draw.ellipse([s(18), y + s(3), s(30), y + s(15)], fill=dot)
        _text(im, (s(40), y), words(1 + i % 2), s(14), t["text"] if i == selected else t["muted"])
    # Toolbar buttons.
    x = s(240)
    for i, label in enumerate(("New " + _WORDS[int(rng.integers(len(_WORDS)))], "Export", "Share", "Filter")):
        bw = s(28 + 8.5 * len(label))
        if i == 0:
            draw.rounded_rectangle([x, s(50), x + bw, s(82)], radius=s(6), fill=t["accent"])
            _text(im, (x + s(14), s(58)), label, s(14), t["on_accent"])
        else:
            draw.rounded_rectangle([x, s(50), x + bw, s(82)], radius=s(6), outline=t["border"],
                                   width=max(1, round(s(1))), fill=t["bg"])
            _text(im, (x + s(14), s(58)), label, s(14), t["text"])
        x += bw + s(10)
    # Heading and a paragraph.
    _text(im, (s(240), s(100)), words(3), s(26), t["text"])
    for i in range(4):
        _text(im, (s(240), s(142 + 20 * i)), words(9), s(13), t["muted"])
    # Cards with a value and a coloured tag each.
    for i in range(3):
        x0 = s(240 + 280 * i)
        draw.rounded_rectangle([x0, s(235), x0 + s(260), s(345)], radius=s(10), fill=t["panel"],
                               outline=t["border"], width=max(1, round(s(1))))
        _text(im, (x0 + s(16), s(250)), words(2), s(13), t["muted"])
        _text(im, (x0 + s(16), s(272)), f"{rng.integers(100, 99999):,}", s(30), t["text"])
        tag = (t["good"], t["warn"], t["bad"])[i]
        draw.rounded_rectangle([x0 + s(16), s(312), x0 + s(96), s(334)], radius=s(11), fill=tag)
        _text(im, (x0 + s(28), s(315)), ("+", "~", "-")[i] + f"{rng.integers(1, 40)}%", s(13),
              (255, 255, 255) if theme == "light" else (20, 20, 20))
    # A bar chart with axes and tick labels.
    cx0, cy0, cx1, cy1 = s(240), s(370), s(720), s(640)
    draw.line([cx0 + s(30), cy0, cx0 + s(30), cy1], fill=t["border"], width=max(1, round(s(1))))
    draw.line([cx0 + s(30), cy1, cx1, cy1], fill=t["border"], width=max(1, round(s(1))))
    for i in range(5):
        y = cy1 - (cy1 - cy0) * i / 5
        _text(im, (cx0, y - s(7)), str(20 * i), s(11), t["muted"])
    for i in range(12):
        bh = (cy1 - cy0 - s(20)) * rng.uniform(0.15, 0.95)
        bx = cx0 + s(42 + 38 * i)
        draw.rectangle([bx, cy1 - bh, bx + s(24), cy1 - 1], fill=(t["accent"], t["good"], t["warn"])[i % 3])
    # A form: labels and text fields with placeholder text.
    for i in range(4):
        y = s(375 + 62 * i)
        _text(im, (s(750), y), words(1) + ":", s(13), t["text"])
        draw.rounded_rectangle([s(750), y + s(20), s(1080), y + s(50)], radius=s(5), fill=t["bg"],
                               outline=t["accent"] if i == 1 else t["border"], width=max(1, round(s(1))))
        _text(im, (s(760), y + s(27)), words(2).lower(), s(13), t["muted"])
    # Status bar.
    draw.rectangle([0, h - s(24), w, h], fill=t["accent"])
    _text(im, (s(10), h - s(20)), words(4), s(12), t["on_accent"])

    if dialog:  # dim the window, then a modal card with a soft shadow
        dimmed = (np.asarray(im, np.float32) * 0.55).astype(np.uint8)
        im = Image.fromarray(dimmed)
        box = [w / 2 - s(230), h / 2 - s(120), w / 2 + s(230), h / 2 + s(120)]
        shadow = Image.new("L", (w, h), 0)
        ImageDraw.Draw(shadow).rounded_rectangle([box[0], box[1] + s(8), box[2], box[3] + s(8)],
                                                 radius=s(14), fill=140)
        shadow = shadow.filter(ImageFilter.GaussianBlur(max(0.5, s(12))))
        im.paste(Image.new("RGB", (w, h), (0, 0, 0)), (0, 0), shadow)
        draw = ImageDraw.Draw(im)
        draw.rounded_rectangle(box, radius=s(14), fill=t["bg"])
        _text(im, (box[0] + s(24), box[1] + s(22)), words(3) + "?", s(20), t["text"])
        for i in range(3):
            _text(im, (box[0] + s(24), box[1] + s(62 + 20 * i)), words(7), s(13), t["muted"])
        draw.rounded_rectangle([box[2] - s(120), box[3] - s(56), box[2] - s(24), box[3] - s(22)],
                               radius=s(6), fill=t["bad"])
        _text(im, (box[2] - s(104), box[3] - s(48)), "Delete", s(14), (255, 255, 255))
        draw.rounded_rectangle([box[2] - s(230), box[3] - s(56), box[2] - s(132), box[3] - s(22)],
                               radius=s(6), outline=t["border"], width=max(1, round(s(1))), fill=t["bg"])
        _text(im, (box[2] - s(212), box[3] - s(48)), "Cancel", s(14), t["text"])
    return np.asarray(im, dtype=np.uint8)


# --------------------------------------------------------------------------
# Smooth multi-colour gradients (no noise: banding is what they test)


def _gradient_linear(name, scale):
    """A sunset ramp left to right, fading towards dark teal from top to bottom."""
    w, h = _dims(1000, 500, scale)
    yy, xx = _grid(h, w)
    row = _ramp(xx[0] / w, [0.0, 0.3, 0.55, 0.8, 1.0],
                [[20, 30, 90], [120, 40, 140], [240, 80, 90], [250, 170, 60], [255, 240, 180]])
    s = (yy / h)[..., None] * np.float32(0.6)
    out = row[None, :, :] * (1 - s) + np.array([10, 70, 85], np.float32) * s
    return _to_uint8(out)


def _gradient_radial(name, scale):
    """A radial ramp from warm white through orange and magenta to navy, plus a cyan glow."""
    w, h = _dims(800, 800, scale)
    yy, xx = _grid(h, w)
    d = np.sqrt((xx / w - 0.5) ** 2 + (yy / h - 0.45) ** 2) / 0.75
    out = _ramp(d, [0.0, 0.15, 0.4, 0.7, 1.0],
                [[255, 250, 220], [255, 200, 80], [230, 70, 120], [70, 30, 130], [8, 10, 40]])
    d2 = np.sqrt((xx / w - 0.82) ** 2 + (yy / h - 0.8) ** 2)
    out += (np.exp(-0.5 * (d2 / 0.12) ** 2))[..., None] * np.array([40, 170, 190], np.float32)
    return _to_uint8(out)


def _gradient_corners(name, scale):
    """Four corner colours blended bilinearly, plus a soft off-centre highlight."""
    w, h = _dims(900, 600, scale)
    yy, xx = _grid(h, w)
    u, v = (xx / w)[..., None], (yy / h)[..., None]
    tl, tr = np.array([255, 94, 58], np.float32), np.array([255, 210, 55], np.float32)
    bl, br = np.array([40, 30, 120], np.float32), np.array([20, 160, 170], np.float32)
    out = (tl * (1 - u) + tr * u) * (1 - v) + (bl * (1 - u) + br * u) * v
    d = np.sqrt((xx / w - 0.3) ** 2 + (yy / h - 0.35) ** 2)
    out += (60 * np.exp(-0.5 * (d / 0.15) ** 2))[..., None]
    return _to_uint8(out)


# --------------------------------------------------------------------------
# The samples and the 12 MP photo


def _photo(file):
    def build(name, scale):
        pixels = bimages.load_rgb(bimages.SAMPLES / file)
        if scale == 1.0:
            return pixels
        h, w = pixels.shape[:2]
        size = _dims(w, h, scale)
        return np.asarray(Image.fromarray(pixels).resize(size, Image.LANCZOS), dtype=np.uint8)
    return build


def _large(name, scale):
    if scale == 1.0:
        return bimages.load_rgb(bimages.generated_paths(bimages.LARGE_SIZE, ("png",))["png"])
    return bimages._generate_pixels(_dims(*bimages.LARGE_SIZE, scale))


# --------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Spec:
    """One image of the corpus: short name, kind (class), how to make it."""

    name: str
    kind: str
    build: Callable
    about: str
    file: str | None = None  # the sample file of a "photo"


def _specs() -> dict:
    out = []
    for file in bimages.PHOTOS:
        out.append(Spec(Path(file).stem, "photo", _photo(file), f"samples/{file}", file))
    p = functools.partial
    out += [
        Spec("stars-sparse", "dark", p(_starfield, stars=350, noise=2.0),
             "black sky, sensor noise σ 2, 350 stars"),
        Spec("stars-nebula", "dark", p(_starfield, stars=500, noise=3.0, nebulae=[
            ((1.0, 0.25, 0.35), 38, (0.35, 0.45), (0.18, 0.22), 0.5),
            ((0.2, 0.7, 0.8), 18, (0.6, 0.55), (0.12, 0.2), -0.3),
            ((0.8, 0.3, 0.9), 12, (0.75, 0.3), (0.1, 0.1), 0.0)]),
            "sensor noise σ 3, red, teal and violet nebulae, 500 stars"),
        Spec("stars-milkyway", "dark", p(_starfield, stars=250, noise=2.5, band=(3000, 14)),
             "sensor noise σ 2.5, a diagonal band of 3000 faint stars and glow with a dust lane"),
        Spec("fog-china", "fog", p(_fog, source="china.jpg", contrast=0.18, grey=(200, 203, 207)),
             "china.jpg at 18% contrast around light grey, noise σ 1.5"),
        Spec("fog-coffee", "fog", p(_fog, source="coffee.png", contrast=0.12, grey=(212, 210, 205)),
             "coffee.png at 12% contrast around warm light grey, noise σ 1.5"),
        Spec("sepia-astronaut", "sepia", p(_sepia, source="astronaut.png", size=(700, 700)),
             "astronaut.png toned brown to cream, grain, vignette"),
        Spec("sepia-chelsea", "sepia", p(_sepia, source="chelsea.png", size=(900, 600)),
             "chelsea.png toned brown to cream, grain, vignette"),
        Spec("stain-sparse", "stain", p(_micrograph, density=0.45),
             "H&E-like micrograph: pink stroma, purple nuclei, red cells"),
        Spec("stain-dense", "stain", p(_micrograph, density=1.0),
             "denser H&E-like micrograph"),
        Spec("stain-retina", "stain", _retina, "fundus: orange-red field, optic disc, vessels"),
        Spec("synthetic-shapes", "synthetic", _shapes, "70 shapes in primaries on white, hard edges"),
        Spec("synthetic-bars", "synthetic", _bars,
             "colour bars, 24-step hue wheel, checkerboard, rings"),
        Spec("synthetic-tiles", "synthetic", _tiles, "tiles in 48 saturated colours"),
        Spec("ui-light", "ui", p(_ui, theme="light"), "light application window, anti-aliased text"),
        Spec("ui-dark", "ui", p(_ui, theme="dark"), "dark application window, anti-aliased text"),
        Spec("ui-dialog", "ui", p(_ui, theme="light", dialog=True),
             "dimmed window with a modal dialog and its shadow"),
        Spec("gradient-linear", "gradient", _gradient_linear, "sunset ramp fading to teal"),
        Spec("gradient-radial", "gradient", _gradient_radial, "radial ramp with a cyan glow"),
        Spec("gradient-corners", "gradient", _gradient_corners,
             "four-corner bilinear blend with a highlight"),
        Spec("noise-flower", "noise", p(_high_iso, source="flower.jpg", size=(900, 600)),
             "flower.jpg darkened, luminance noise σ 10, chroma noise"),
        Spec("noise-astronaut", "noise", p(_high_iso, source="astronaut.png", size=(700, 700)),
             "astronaut.png darkened, luminance noise σ 10, chroma noise"),
        Spec("photo-12mp", "large", _large, "the generated 12 MP photo of benchmarks/images.py"),
    ]
    return {spec.name: spec for spec in out}


SPECS = _specs()
KINDS = tuple(dict.fromkeys(spec.kind for spec in SPECS.values()))


def make(name: str, scale: float = 1.0) -> np.ndarray:
    """Make one corpus image (no cache).

    Parameters
    ----------
    name : str
        A name of :data:`SPECS`.
    scale : float
        Linear size factor: 1 is the corpus image, 0.15 a small version for
        tests (the same picture, drawn smaller).

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        The same bytes on every call with the same arguments.
    """
    if name not in SPECS:
        raise KeyError(f"no corpus image {name!r}; choose from {', '.join(SPECS)}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return SPECS[name].build(name, scale)


def select(names=None, kinds=None, large: bool = True) -> list:
    """Names of the corpus images chosen by name and/or kind, in corpus order.

    Parameters
    ----------
    names, kinds : iterable of str, optional
        Keep only these names / kinds (both: images matching both).
    large : bool
        Keep the 12 MP image.

    Raises
    ------
    KeyError
        For a name or kind that is not in the corpus.
    """
    names, kinds = (list(names) if names else None), (list(kinds) if kinds else None)
    unknown = [n for n in names or () if n not in SPECS] + [k for k in kinds or () if k not in KINDS]
    if unknown:
        raise KeyError(f"not in the corpus: {', '.join(unknown)}")
    return [n for n, spec in SPECS.items()
            if (names is None or n in names) and (kinds is None or spec.kind in kinds)
            and (large or spec.kind != "large")]


def load(name: str) -> tuple:
    """A full-size corpus image and a file holding exactly its pixels.

    Generated images are made once and kept in :data:`IMAGE_DIR`.

    Parameters
    ----------
    name : str
        A name of :data:`SPECS`.

    Returns
    -------
    pixels : ndarray of shape (H, W, 3), uint8
    path : Path
        The sample file, the cached 12 MP PNG or the cached generated PNG
        (what pngquant is given).
    """
    spec = SPECS[name]
    if spec.kind == "photo":
        path = bimages.SAMPLES / spec.file
        return bimages.load_rgb(path), path
    if spec.kind == "large":
        path = bimages.generated_paths(bimages.LARGE_SIZE, ("png",))["png"]
        return bimages.load_rgb(path), path
    path = IMAGE_DIR / f"{name}.png"
    if path.exists():
        return bimages.load_rgb(path), path
    pixels = make(name)
    bimages._atomic_save(Image.fromarray(pixels), path, format="PNG")
    return pixels, path


def image_version(name: str, pixels: np.ndarray) -> str:
    """The part of a cache key that changes with the image.

    Parameters
    ----------
    name : str
        The image's name (not part of the result; the key holds it apart).
    pixels : ndarray of shape (H, W, 3), uint8

    Returns
    -------
    str
        ``"v<CORPUS_VERSION>-<digest of shape and pixels>"``: a new Pillow or
        numpy that draws a generated image differently gets new peer results
        instead of stale ones.
    """
    digest = hashlib.sha1(str(pixels.shape).encode() + pixels.tobytes()).hexdigest()[:16]
    return f"v{CORPUS_VERSION}-{digest}"


# --------------------------------------------------------------------------
# Measures


def mse_channels(original: np.ndarray, output: np.ndarray) -> float:
    """Mean over all channel values of the squared error (``mse_rgb / 3``).

    Parameters
    ----------
    original, output : ndarray of shape (H, W, 3), uint8

    Returns
    -------
    float
        In 0-255 units, as ``quantize image --json`` reports it.
    """
    return mse_rgb(original, output) / 3.0


def mean_delta_e_ok(original: np.ndarray, output: np.ndarray, chunk_rows: int = 256) -> float:
    """Mean ΔE_OK ×100 over the pixels, as ``benchmarks.looks.errors`` defines it.

    Computed in row chunks (``looks.errors`` also computes CIEDE2000, which
    the 12 MP image would make slow and large); the smoke test checks that
    the two agree.

    Parameters
    ----------
    original, output : ndarray of shape (H, W, 3), uint8
    chunk_rows : int
        Image rows converted to Oklab at a time.

    Returns
    -------
    float
        About 2 is a just-noticeable difference.
    """
    from quantize.core import colorspace as cs

    total = 0.0
    for r0 in range(0, original.shape[0], chunk_rows):
        a = original[r0:r0 + chunk_rows].reshape(-1, 3)
        b = output[r0:r0 + chunk_rows].reshape(-1, 3)
        total += float(cs.delta_e_ok(a, b).sum())
    return total / (original.shape[0] * original.shape[1]) * 100.0


def distinct_colours(pixels: np.ndarray) -> tuple:
    """The distinct colours of an image and how many pixels have each.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8

    Returns
    -------
    colours : ndarray of shape (n, 3), uint8
        Sorted by their 24-bit value.
    counts : ndarray of shape (n,), int64
    """
    flat = pixels.reshape(-1, 3).astype(np.uint32)
    keys = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    keys, counts = np.unique(keys, return_counts=True)
    colours = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1).astype(np.uint8)
    return colours, counts.astype(np.int64)


def nearest_sq_dist(colours: np.ndarray, codebook: np.ndarray, chunk: int = 16384) -> np.ndarray:
    """Squared distance of each colour to its nearest codebook entry.

    Parameters
    ----------
    colours : ndarray of shape (n, 3)
    codebook : ndarray of shape (k, 3)
        Integer-valued (a rounded codebook): float64 then holds every
        distance exactly.
    chunk : int
        Colours compared at a time (bounds the (chunk, k) distance block).

    Returns
    -------
    ndarray of shape (n,), float64
    """
    c = codebook.astype(np.float64)
    cc = np.einsum("ij,ij->i", c, c)
    out = np.empty(len(colours), np.float64)
    for i in range(0, len(colours), chunk):
        x = colours[i:i + chunk].astype(np.float64)
        d = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * (x @ c.T) + cc[None, :]
        out[i:i + chunk] = np.maximum(d.min(axis=1), 0.0)
    return out


def reference_mse(colours, counts, k: int, max_iter: int = REFERENCE_MAX_ITER) -> tuple:
    """Weighted k-means++ and Lloyd on the distinct colours (scikit-learn).

    Returns
    -------
    mse : float
        Mean over channel values, after rounding the centres to uint8 and
        giving every colour its nearest rounded centre.
    n_iter : int
        Lloyd iterations run (0 when there are at most ``k`` colours: then
        every colour is its own centre and the error is 0).
    """
    if len(colours) <= k:
        return 0.0, 0
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning when clusters coincide
        model = KMeans(n_clusters=k, init="k-means++", n_init=1, algorithm="lloyd",
                       tol=REFERENCE_TOL, max_iter=max_iter, random_state=0)
        model.fit(colours.astype(np.float64), sample_weight=counts.astype(np.float64))
    codebook = np.clip(np.rint(model.cluster_centers_), 0, 255)
    sq = nearest_sq_dist(colours, codebook)
    return float(np.dot(sq, counts) / (3.0 * counts.sum())), int(model.n_iter_)


def cv2_mse(pixels: np.ndarray, k: int, seed: int) -> float:
    """MSE of one ``cv2.kmeans`` run on every pixel.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    k : int
    seed : int
        For ``cv2.setRNGSeed``.

    Returns
    -------
    float
        Mean over channel values, with the centres rounded to uint8 and each
        pixel keeping the label cv2 gave it.
    """
    from benchmarks.report import reconstruct
    from benchmarks.tools import cv2_kmeans

    centres, labels = cv2_kmeans(pixels.reshape(-1, 3).astype(np.float32), k, seed)
    return mse_channels(pixels, reconstruct(centres, labels, pixels.shape))


def pngquant_measure(name: str, pixels: np.ndarray, path: Path, k: int, tmpdir: Path) -> tuple:
    """Run ``pngquant --speed 4 --nofs K`` and measure its output.

    Parameters
    ----------
    name : str
        The image's name (for the output file's name).
    pixels : ndarray of shape (H, W, 3), uint8
    path : Path
        A file holding exactly ``pixels`` (a PNG copy is written to
        ``tmpdir`` when it is not a PNG).
    k : int
    tmpdir : Path

    Returns
    -------
    mse : float
        Mean over channel values.
    delta_e_ok : float or None
        Mean ΔE_OK ×100, at k = :data:`OKLAB_K` only.
    """
    from benchmarks import tools

    img = bimages.BenchImage(name + path.suffix, pixels, path, "corpus")
    out = tools.run_pngquant(img, k, tools.Context(Path(tmpdir), repeats=1, quantize_cmd=[]))
    if out.image is None:
        raise RuntimeError(out.note or "pngquant failed")
    deok = mean_delta_e_ok(pixels, out.image) if k == OKLAB_K else None
    return mse_channels(pixels, out.image), deok


@functools.lru_cache(maxsize=None)
def tool_versions() -> dict:
    """The version and settings of each peer, part of its cache key.

    Returns
    -------
    dict
        ``{"cv2": str, "pngquant": str, "reference": str}``; None for a tool
        that is not installed.
    """
    from benchmarks import report, tools

    out = {"pngquant": f"{report._pngquant_version(tools.pngquant_path())} "
                       f"{' '.join(tools.PNGQUANT_ARGS)}"}
    try:
        import cv2

        out["cv2"] = f"opencv {cv2.__version__} EPS+MAX_ITER {tools.CV2_CRITERIA[1]} " \
                     f"{tools.CV2_CRITERIA[2]} PP attempts 1"
    except ImportError:
        out["cv2"] = None
    try:
        import sklearn

        out["reference"] = f"scikit-learn {sklearn.__version__} lloyd tol {REFERENCE_TOL:g} float64"
    except ImportError:
        out["reference"] = None
    if tools.pngquant_path() is None:
        out["pngquant"] = None
    return out


# --------------------------------------------------------------------------
# The cache of the other tools' results


class PeerCache:
    """A JSON file of peer results; each write merges into what is on disk.

    Merging under an exclusive lock lets two runs (say ``--peers-only`` in
    one shell and the table in another) add results without losing any.
    """

    def __init__(self, path: Path = PEERS_FILE):
        self.path = Path(path)
        self.entries = self._read()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data.get("entries", {}) if isinstance(data, dict) else {}

    @staticmethod
    def key(image: str, version: str, k: int, tool: str, tool_version: str) -> str:
        """The key of one result: image name and version, k, tool and its version, as JSON."""
        return json.dumps([image, version, int(k), tool, tool_version], ensure_ascii=False)

    def get(self, key: str):
        """The cached result (a dict with at least ``"mse"``), or None."""
        return self.entries.get(key)

    def put(self, key: str, value: dict) -> None:
        """Store one result, merged into the file as it is on disk now."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._read()
            entries[key] = value
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": 1, "entries": entries}, f, indent=0, sort_keys=True)
            os.chmod(tmp, 0o644)  # mkstemp makes it private
            os.replace(tmp, self.path)
            self.entries = entries


# --------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    """One image and k: MSE (mean over channel values) of quantize and each peer.

    A value is None when it was not measured (missing from the cache with
    ``fill=False``, the tool is not installed, or it failed: ``note`` says).
    """

    image: str
    kind: str
    pixels: int
    k: int
    quantize: float | None = None
    seconds: float | None = None
    cv2: float | None = None
    cv2_seed: int | None = None
    pngquant: float | None = None
    reference: float | None = None
    note: str = ""


@dataclass
class OklabRow:
    """One photo at k = 256: mean ΔE_OK ×100 of quantize in Oklab and of pngquant."""

    image: str
    kind: str
    quantize: float | None
    pngquant: float | None
    seconds: float | None = None
    note: str = ""


def ratio(ours, theirs):
    """ours / theirs; 1 when both are 0, ∞ when only theirs is 0, None when one is missing.

    >>> [ratio(1.0, 2.0), ratio(0.0, 0.0), ratio(1.0, 0.0), ratio(None, 1.0)]
    [0.5, 1.0, inf, None]
    """
    if ours is None or theirs is None:
        return None
    if theirs == 0:
        return 1.0 if ours == 0 else math.inf
    return ours / theirs


def _add_note(row, text):
    row.note = f"{row.note}; {text}" if row.note else text


def _run_quantize(pixels, k, **options):
    from quantize import quantize_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer colours than k
        start = time.perf_counter()
        result = quantize_image(pixels, k, **options)
        seconds = time.perf_counter() - start
    return result, seconds


def measure(names, ks=DEFAULT_K, *, fill: bool = True, run_quantize: bool = True,
            oklab: bool = True, cache: PeerCache | None = None, log=None) -> tuple:
    """Measure the corpus: quantize always, peers from the cache or computed.

    Parameters
    ----------
    names : list of str
        Corpus images (see :func:`select`).
    ks : sequence of int
        Palette sizes.
    fill : bool
        Compute (and cache) peer results the cache lacks; if False they are
        left empty.
    run_quantize : bool
        False fills the cache only (``--peers-only``).
    oklab : bool
        Also the Oklab part: quantize with ``color_space="oklab"`` against
        pngquant at k = 256 on the photo-like images.
    cache : PeerCache, optional
        Defaults to :data:`PEERS_FILE`.
    log : callable, optional
        Progress messages.

    Returns
    -------
    rows : list of Row
    oklab_rows : list of OklabRow
    info : dict
        ``peer_seconds`` (time spent computing peers), ``computed`` (peer
        results computed), ``quantize_seconds`` (sum of quantize's times),
        ``reference_caps`` (images whose reference ran with fewer iterations).
    """
    log = log or (lambda msg: None)
    cache = cache or PeerCache()
    versions = tool_versions()
    info = {"peer_seconds": 0.0, "computed": 0, "quantize_seconds": 0.0, "reference_caps": []}
    rows, oklab_rows = [], []
    if run_quantize:  # imports and first-call set-up out of the first timing
        _run_quantize(np.zeros((4, 4, 3), np.uint8) + np.arange(4, dtype=np.uint8)[:, None, None], 2)

    with tempfile.TemporaryDirectory(prefix="quantize-corpus-") as tmp:
        for name in names:
            spec = SPECS[name]
            pixels, path = load(name)
            version = image_version(name, pixels)
            colours = None  # the distinct colours, when a reference run needs them
            max_iter = REFERENCE_MAX_ITER_LARGE if spec.kind == "large" else REFERENCE_MAX_ITER

            def peer(tool, k, compute, tool_label=None):
                """Cached value of one peer result, or compute it (fill=True)."""
                tver = versions.get(tool_label or tool)
                if tver is None:
                    return None, f"{tool_label or tool} not installed"
                key = cache.key(name, version, k, tool, tver)
                hit = cache.get(key)
                if hit is not None:
                    return hit, ""
                if not fill:
                    return None, f"{tool} not cached"
                start = time.perf_counter()
                try:
                    value = compute()
                except Exception as exc:  # a failed tool is a result, not the end of the run
                    return None, f"{tool}: {type(exc).__name__}: {exc}"[:160]
                value["seconds"] = time.perf_counter() - start
                info["peer_seconds"] += value["seconds"]
                info["computed"] += 1
                cache.put(key, value)
                log(f"corpus: {name} k={k} {tool}: MSE {fmt_num(value.get('mse'))} "
                    f"({value['seconds']:.1f} s)")
                return value, ""

            for k in ks:
                row = Row(name, spec.kind, int(pixels.shape[0] * pixels.shape[1]), k)
                # cv2: best of three seeds, each cached on its own so that an
                # interrupted fill keeps what it has done.
                best = None
                for seed in CV2_SEEDS:
                    got, why = peer(f"cv2 seed {seed}", k,
                                    lambda s=seed: {"mse": cv2_mse(pixels, k, s)}, "cv2")
                    if got is None:
                        _add_note(row, why)
                        best = None
                        break
                    if best is None or got["mse"] < best[0]:
                        best = (got["mse"], seed)
                if best is not None:
                    row.cv2, row.cv2_seed = best

                got, why = peer("pngquant", k, lambda: dict(zip(
                    ("mse", "delta_e_ok"), pngquant_measure(name, pixels, path, k, tmp))))
                row.pngquant = got["mse"] if got else None
                if why:
                    _add_note(row, why)

                def run_reference():
                    nonlocal colours
                    if colours is None:
                        colours = distinct_colours(pixels)
                    mse, n_iter = reference_mse(*colours, k, max_iter)
                    return {"mse": mse, "n_iter": n_iter}

                got, why = peer(f"reference max_iter {max_iter}", k, run_reference, "reference")
                row.reference = got["mse"] if got else None
                if why:
                    _add_note(row, why)
                else:
                    if got.get("n_iter", 0) >= max_iter:  # Lloyd had not converged
                        _add_note(row, f"reference stopped at max_iter {max_iter}")
                    elif max_iter != REFERENCE_MAX_ITER:
                        _add_note(row, f"reference: max_iter {max_iter}, converged in {got['n_iter']}")
                    if max_iter != REFERENCE_MAX_ITER and name not in info["reference_caps"]:
                        info["reference_caps"].append(name)

                if run_quantize:
                    try:
                        result, seconds = _run_quantize(pixels, k)
                        row.quantize = mse_channels(pixels, result.reconstruct())
                        row.seconds = seconds
                        info["quantize_seconds"] += seconds
                    except Exception as exc:
                        _add_note(row, f"quantize: {type(exc).__name__}: {exc}"[:160])
                rows.append(row)
                ours = (f"quantize {fmt_num(row.quantize)} ({fmt_num(row.seconds)} s), "
                        if run_quantize else "")
                log(f"corpus: {name} k={k}: {ours}cv2 {fmt_num(row.cv2)}, "
                    f"pngquant {fmt_num(row.pngquant)}, reference {fmt_num(row.reference)}")

            if oklab and spec.kind in PHOTO_LIKE:
                got, why = peer("pngquant", OKLAB_K, lambda: dict(zip(
                    ("mse", "delta_e_ok"), pngquant_measure(name, pixels, path, OKLAB_K, tmp))))
                orow = OklabRow(name, spec.kind, None, got.get("delta_e_ok") if got else None,
                                note=why)
                if run_quantize:
                    try:
                        result, seconds = _run_quantize(pixels, OKLAB_K, color_space="oklab")
                        orow.quantize = mean_delta_e_ok(pixels, result.reconstruct())
                        orow.seconds = seconds
                    except Exception as exc:
                        _add_note(orow, f"quantize: {type(exc).__name__}: {exc}"[:160])
                oklab_rows.append(orow)
                log(f"corpus: {name} oklab k={OKLAB_K}: ΔE_OK×100 quantize "
                    f"{fmt_num(orow.quantize)}, pngquant {fmt_num(orow.pngquant)}")
            del pixels, colours
    return rows, oklab_rows, info


# --------------------------------------------------------------------------
# Summaries, tables and targets


def _where(row) -> str:
    return f"{row.image}, k={row.k}"


def ratio_summary(rows, peer: str) -> dict:
    """Worst (highest) and median of quantize / ``peer`` over the rows.

    Rows where both errors are 0 (an image with at most k colours, which
    every tool reproduces exactly) count as 1 in the median, but the worst
    is taken over the other rows when there are any: else it would always
    name such a row.

    Returns
    -------
    dict
        ``worst`` (ratio or None), ``worst_row``, ``median``, ``n`` (rows
        with both values), ``missing`` (rows without), ``exact`` (rows where
        both are 0).
    """
    pairs = [(ratio(r.quantize, getattr(r, peer)), r) for r in rows]
    done = [(x, r) for x, r in pairs if x is not None]
    exact = [(x, r) for x, r in done if r.quantize == 0 and getattr(r, peer) == 0]
    out = {"worst": None, "worst_row": None, "median": None, "n": len(done),
           "missing": len(pairs) - len(done), "exact": len(exact)}
    if done:
        informative = [(x, r) for x, r in done if not (r.quantize == 0 and getattr(r, peer) == 0)]
        out["worst"], out["worst_row"] = max(informative or done, key=lambda p: p[0])
        out["median"] = statistics.median(x for x, _ in done)
    return out


def corpus_table(rows) -> str:
    """One line per image and k: the four MSEs, quantize's seconds and the three ratios.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    str
        A Markdown table.
    """
    headers = ["image", "kind", "k", "quantize MSE", "seconds", "cv2 MSE (seed)", "pngquant MSE",
               "reference MSE", "q/cv2", "q/pngquant", "q/reference", "note"]
    out = []
    for r in rows:
        cv2_cell = fmt_num(r.cv2) + (f" ({r.cv2_seed})" if r.cv2_seed is not None else "")
        out.append([r.image, r.kind, r.k, fmt_num(r.quantize), fmt_num(r.seconds), cv2_cell,
                    fmt_num(r.pngquant), fmt_num(r.reference),
                    *(fmt_ratio(ratio(r.quantize, getattr(r, p))) for p in PEERS), r.note])
    return markdown_table(headers, out, "llrrrrrrrrrl")


def summary_table(rows) -> str:
    """Worst and median ratio against each peer.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    str
        A Markdown table, one line per peer.
    """
    out = []
    for peer in PEERS:
        s = ratio_summary(rows, peer)
        out.append([f"quantize / {PEER_LABELS[peer]}", fmt_ratio(s["worst"]),
                    _where(s["worst_row"]) if s["worst_row"] else "—", fmt_ratio(s["median"]),
                    s["n"] if not s["missing"] else f"{s['n']} ({s['missing']} missing)",
                    s["exact"]])
    return markdown_table(["MSE ratio", "worst", "where", "median", "rows", "both exact"],
                          out, "lrlrrr")


def kinds_table(rows) -> str:
    """Per kind: the worst ratio against each peer, with its image and k.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    str
        A Markdown table, one line per kind.
    """
    out = []
    for kind in dict.fromkeys(r.kind for r in rows):
        sub = [r for r in rows if r.kind == kind]
        cells = []
        for peer in PEERS:
            s = ratio_summary(sub, peer)
            cells.append("—" if s["worst"] is None
                         else f"{fmt_ratio(s['worst'])} ({_where(s['worst_row'])})")
        out.append([kind, len({r.image for r in sub}), *cells])
    return markdown_table(["kind", "images", "worst q/cv2", "worst q/pngquant", "worst q/reference"],
                          out, "lrlll")


def oklab_table(rows) -> str:
    """The Oklab part: each photo's mean ΔE_OK for quantize and pngquant, and their ratio.

    Parameters
    ----------
    rows : list of OklabRow

    Returns
    -------
    str
        A Markdown table.
    """
    out = [[r.image, r.kind, fmt_num(r.quantize), fmt_num(r.pngquant),
            fmt_ratio(ratio(r.quantize, r.pngquant)), fmt_num(r.seconds), r.note] for r in rows]
    return markdown_table(["image", "kind", "quantize oklab ΔE_OK ×100", "pngquant ΔE_OK ×100",
                           "ratio", "quantize seconds", "note"], out, "llrrrrl")


def _every_target(rows, peer, limit, name) -> Target:
    s = ratio_summary(rows, peer)
    failed = [r for r in rows if r.quantize is None and getattr(r, peer) is not None]
    if s["worst"] is None:
        return Target(name, "not measured", None if not failed else False)
    ratios = [ratio(r.quantize, getattr(r, peer)) for r in rows]
    within = sum(1 for x in ratios if x is not None and x <= limit)
    text = f"worst {fmt_ratio(s['worst'])} ({_where(s['worst_row'])}); {within} of {s['n']} within"
    if failed:
        text += f"; quantize failed on {len(failed)}"
    if s["missing"] - len(failed):
        text += f"; {s['missing'] - len(failed)} not measured"
    return Target(name, text, s["worst"] <= limit and not failed)


def targets(rows, oklab_rows) -> list:
    """The corpus targets with their measured values and PASS / FAIL / n/a.

    Parameters
    ----------
    rows : list of Row
    oklab_rows : list of OklabRow

    Returns
    -------
    list of :class:`benchmarks.report.Target`
    """
    out = [
        _every_target(rows, "cv2", CV2_WORST,
                      f"corpus: quantize MSE ≤ {CV2_WORST:.2f}× cv2.kmeans best of 3, every image and k"),
        _every_target(rows, "pngquant", PNGQUANT_WORST,
                      f"corpus: quantize MSE ≤ {PNGQUANT_WORST:.2f}× pngquant's, every image and k"),
    ]
    s = ratio_summary(rows, "cv2")
    name = f"corpus: median MSE ratio quantize/cv2.kmeans ≤ {CV2_MEDIAN:.2f} (over every image and k)"
    out.append(Target(name, "not measured" if s["median"] is None
                      else f"{fmt_ratio(s['median'])} over {s['n']} rows", None if s["median"] is None
                      else s["median"] <= CV2_MEDIAN))
    name = f"corpus: k={OKLAB_K}, quantize oklab mean ΔE_OK ≤ pngquant's, every photo"
    pairs = [(ratio(r.quantize, r.pngquant), r) for r in oklab_rows]
    done = [(x, r) for x, r in pairs if x is not None]
    failed = [r for r in oklab_rows if r.quantize is None and r.pngquant is not None]
    if not done:
        out.append(Target(name, "not measured", None if not failed else False))
    else:
        worst, wr = max(done, key=lambda p: p[0])
        text = (f"worst {fmt_num(wr.quantize)} vs {fmt_num(wr.pngquant)} ({wr.image}, ratio "
                f"{fmt_ratio(worst)}); {sum(x <= 1.0 for x, _ in done)} of {len(done)} photos")
        if failed:
            text += f"; quantize failed on {len(failed)}"
        out.append(Target(name, text, worst <= 1.0 and not failed))
    return out


def render(rows, oklab_rows, info=None) -> str:
    """The Markdown section on the quality corpus.

    Parameters
    ----------
    rows : list of Row
    oklab_rows : list of OklabRow
    info : dict, optional
        From :func:`measure` (names the images whose reference was capped).

    Returns
    -------
    str
        Method, the corpus table, worst and median ratios, the worst image
        of each kind, the Oklab table and the targets.
    """
    info = info or {}
    names = list(dict.fromkeys(r.image for r in rows))
    out = ["## Quality corpus", "",
           f"{len(names)} images, k = {', '.join(str(k) for k in dict.fromkeys(r.k for r in rows))}. "
           "MSE: mean over all channel values (R, G and B of every pixel) of the squared "
           "error in 0-255 units (a third of the per-pixel MSE, summed over R, G and B, of the "
           "speed tables). "
           "quantize: `quantize_image(pixels, k)` with its defaults, in-process, wall time "
           "of one run. cv2: `cv2.kmeans` on every pixel as float32, EPS+MAX_ITER (10, 1.0), "
           "KMEANS_PP_CENTERS, 1 attempt, the best of `cv2.setRNGSeed(0, 1, 2)` (the seed in "
           "brackets), centres rounded to uint8. pngquant: `--speed 4 --nofs K`. reference: "
           "scikit-learn KMeans (k-means++, 1 init, Lloyd, tol 1e-8, up to "
           f"{REFERENCE_MAX_ITER} iterations, random_state 0, float64) on the distinct colours "
           "weighted by their pixel counts, centres rounded to uint8 and each colour relabelled "
           "to its nearest: what k-means can reach. Ratios: quantize's MSE over the other's "
           "(below 1: quantize is closer; 0/0 counts as 1). The other tools' results come "
           "from `benchmarks/.cache/corpus-peers.json` when present.", ""]
    if info.get("reference_caps"):
        out += [f"The reference ran at most {REFERENCE_MAX_ITER_LARGE} Lloyd iterations on "
                f"{', '.join(info['reference_caps'])}, to keep its first run short.", ""]
    if rows:
        out += [corpus_table(rows), "",
                "Worst and median ratios (\"both exact\": rows where both MSEs are 0, an image "
                "with at most k colours; they count as 1 in the median and are left out of the "
                "worst unless every row is one):", "", summary_table(rows), "",
                "Worst image of each kind:", "", kinds_table(rows), ""]
    if oklab_rows:
        out += [f"Oklab, k = {OKLAB_K}, photo-like images ({', '.join(PHOTO_LIKE)}): mean ΔE_OK "
                "×100 (Euclidean distance in Oklab, as in the perceptual section) of "
                f"`quantize_image(pixels, {OKLAB_K}, color_space=\"oklab\")` and of pngquant "
                f"`--speed 4 --nofs {OKLAB_K}`.", "", oklab_table(oklab_rows), ""]
    out += ["Targets of the quality corpus:", "", "```"]
    out += [t.line() for t in targets(rows, oklab_rows)]
    out += ["```", ""]
    return "\n".join(out)


def run(ks=DEFAULT_K, *, names=None, kinds=None, large: bool = True, fill: bool = True,
        oklab: bool = True, log=None) -> tuple:
    """Measure and render the corpus, for ``benchmarks.run``.

    Parameters
    ----------
    ks : sequence of int
    names, kinds, large
        As in :func:`select`.
    fill, log
        As in :func:`measure`.
    oklab : bool
        The Oklab part, when ``ks`` holds :data:`OKLAB_K`.

    Returns
    -------
    text : str
        The Markdown of :func:`render`.
    rows, oklab_rows, info
        As :func:`measure` returns them.
    """
    chosen = select(names, kinds, large)
    rows, oklab_rows, info = measure(chosen, ks, fill=fill, oklab=oklab and OKLAB_K in ks, log=log)
    return render(rows, oklab_rows, info), rows, oklab_rows, info


# --------------------------------------------------------------------------
# Command line


def _csv(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_args(argv=None):
    """Parse the command line.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
        With ``names``, the chosen images in corpus order.
    """
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus",
        description="quantize's MSE on the quality corpus against cv2.kmeans (best of 3 seeds), "
                    "pngquant and full weighted k-means, with targets. The other tools' results "
                    "are cached; quantize always runs.")
    p.add_argument("--k", dest="ks", type=lambda s: [int(x) for x in _csv(s)],
                   default=list(DEFAULT_K), help="comma-separated k values (default 8,16,64,256)")
    p.add_argument("--images", type=_csv, help=f"comma-separated names: {', '.join(SPECS)}")
    p.add_argument("--kinds", type=_csv, help=f"comma-separated kinds: {', '.join(KINDS)}")
    p.add_argument("--no-large", action="store_true", help="skip the 12 MP image")
    p.add_argument("--peers-only", action="store_true",
                   help="only compute the other tools' missing results into the cache")
    p.add_argument("--cached", action="store_true",
                   help="do not compute missing peer results (their cells stay empty)")
    p.add_argument("--no-oklab", action="store_true",
                   help=f"skip the Oklab part (it runs when k={OKLAB_K} is asked for)")
    p.add_argument("--list", action="store_true", help="list the images and exit")
    p.add_argument("--output", type=Path, help="also write the Markdown to this file")
    args = p.parse_args(argv)
    try:
        args.names = select(args.images, args.kinds, not args.no_large)
    except KeyError as exc:
        p.error(str(exc.args[0]))
    if not args.ks or any(k < 1 for k in args.ks):
        p.error("k values must be positive")
    return args


def main(argv=None) -> int:
    """Print the corpus report (or fill the cache with ``--peers-only``).

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    int
        The exit status (0).
    """
    args = parse_args(argv)
    if args.list:
        for name in args.names:
            print(f"{name:18} {SPECS[name].kind:10} {SPECS[name].about}")
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    oklab = not args.no_oklab and OKLAB_K in args.ks
    rows, oklab_rows, info = measure(args.names, args.ks, fill=not args.cached,
                                     run_quantize=not args.peers_only, oklab=oklab, log=log)
    wall = time.perf_counter() - started
    if args.peers_only:
        print(f"corpus: {info['computed']} peer results computed in {info['peer_seconds']:.0f} s; "
              f"the cache ({PEERS_FILE}) holds {len(PeerCache().entries)}; total {wall:.0f} s")
        return 0
    text = render(rows, oklab_rows, info)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    log(f"corpus: {len(rows)} rows in {wall:.1f} s (quantize {info['quantize_seconds']:.1f} s; "
        f"{info['computed']} peer results computed in {info['peer_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

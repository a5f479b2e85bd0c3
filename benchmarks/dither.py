"""Dithering against pngquant's: blurred error, flat-area noise, exactness and time.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it as part of ``python -m benchmarks.run``)::

    python -m benchmarks.dither                      # every image, k = 16, 64, and the 12 MP timing
    python -m benchmarks.dither --images coffee,gradient-linear --k 16 --no-timing
    python -m benchmarks.dither --peers-only         # fill the cache of pngquant's results

The images are those of the quality corpus (:mod:`benchmarks.corpus`: the
sample photos and the generated starfields, fog, sepia, stains, synthetic
art, UI screenshots, gradients and high-ISO noise), but its 12 MP photo,
which is used for the timing only. For each image and k, four outputs:

* none: ``quantize_image(pixels, k, seed=0)`` (sRGB, no dithering);
* floyd-steinberg and ordered: that result through
  ``quantize.image.dither.dither_result`` (what ``--dither`` does);
* pngquant: ``pngquant --speed 4 K`` with its default dithering
  (Floyd–Steinberg with its dither map), on a PNG of the same pixels.

Two figures for each, both in 0-255 units:

* **blurred MSE**: both images blurred by a Gaussian of σ = 1.5 px
  (separable, 11 taps, edges mirrored), then the mean over all channel
  values of the squared difference. It measures how well the local mean
  colour is kept, which is what dithering is for. Lower is better.
* **flat-area noise**: the mean, over the pixels where the source is flat
  (the standard deviation of the 3×3 window around the pixel is below 1 in
  each of R, G and B), of the output's 3×3 standard deviation (the mean of
  the three channels'). Only windows inside the image count. It measures
  noise that the source does not have. Lower is better. Given only where
  the source has at least :data:`MIN_FLAT` such pixels; elsewhere "—".

And two checks on quantize's dithered outputs: every output colour is a
palette colour, and a flat region whose colour is in the palette (a pixel
whose 3×3 window is all of one palette colour) comes out exactly that
colour.

pngquant's figures do not change while quantize is tuned, so they are kept
in ``benchmarks/.cache/dither-peers.json``, keyed by image name and pixels,
k and pngquant's version and settings (:class:`benchmarks.corpus.PeerCache`).

Timing: the generated 12 MP photo, fitted at k = 256, then the best of the
repeats of ``dither_result`` for each method (the codes, then counts and
inertia again): the seconds dithering adds to a run.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/dither.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus  # noqa: E402
from benchmarks import images as bimages  # noqa: E402
from benchmarks.report import Target, fmt_num, markdown_table  # noqa: E402

DEFAULT_K = (16, 64)
TIMING_K = 256
#: Gaussian of the blurred MSE, in pixels.
SIGMA = 1.5
#: A source window is flat when its standard deviation is below this in every channel.
FLAT_STD = 1.0
#: Fewest flat pixels for the flat-area noise to be given (fewer: "—").
MIN_FLAT = 1000
#: The most dithering may add on the 12 MP image at k = 256, in seconds.
TIME_LIMIT = 1.0
METHODS = ("none", "floyd-steinberg", "ordered")
PNGQUANT_ARGS = ("--speed", "4")
PEERS_FILE = bimages.CACHE / "dither-peers.json"
#: Bump when a measure's definition changes: cached pngquant figures follow it.
MEASURE_VERSION = 1


# --------------------------------------------------------------------------
# The measures


def gaussian_kernel(sigma: float = SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian, radius ``ceil(3 sigma)``.

    >>> k = gaussian_kernel(1.5)
    >>> k.size, round(float(k.sum()), 12), int(k.argmax())
    (11, 1.0, 5)
    """
    radius = int(math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(image, sigma: float = SIGMA) -> np.ndarray:
    """An (H, W, C) image blurred by a Gaussian, separably, as float64.

    Edges are mirrored (``numpy.pad`` mode ``symmetric``: the edge pixel is
    repeated), so a flat image stays flat up to rounding.

    >>> img = np.zeros((9, 9, 1)); img[4, 4, 0] = 1.0
    >>> out = gaussian_blur(img)
    >>> round(float(out.sum()), 9), bool(np.allclose(out[4, :, 0], out[:, 4, 0]))
    (1.0, True)
    """
    kernel = gaussian_kernel(sigma)
    r = kernel.size // 2
    f = np.asarray(image, dtype=np.float64)
    h, w = f.shape[:2]
    padded = np.pad(f, ((r, r), (0, 0), (0, 0)), mode="symmetric")
    down = np.zeros_like(f)
    for i, weight in enumerate(kernel):
        down += weight * padded[i:i + h]
    padded = np.pad(down, ((0, 0), (r, r), (0, 0)), mode="symmetric")
    out = np.zeros_like(f)
    for i, weight in enumerate(kernel):
        out += weight * padded[:, i:i + w]
    return out


def blurred_mse(source, output, sigma: float = SIGMA) -> float:
    """Mean over all channel values of (blur(source) - blur(output))², 0-255 units."""
    d = gaussian_blur(source, sigma) - gaussian_blur(output, sigma)
    return float(np.mean(d * d))


def local_std(image) -> np.ndarray:
    """Standard deviation of every 3×3 window inside the image, per channel: (H-2, W-2, C)."""
    f = np.asarray(image, dtype=np.float64)
    h, w = f.shape[:2]
    total = np.zeros((h - 2, w - 2) + f.shape[2:])
    squares = np.zeros_like(total)
    for dy in range(3):
        for dx in range(3):
            v = f[dy:dy + h - 2, dx:dx + w - 2]
            total += v
            squares += v * v
    return np.sqrt(np.maximum(squares / 9.0 - (total / 9.0) ** 2, 0.0))


def flat_mask(source) -> np.ndarray:
    """Where the source's 3×3 standard deviation is below FLAT_STD in every channel: (H-2, W-2)."""
    if min(source.shape[:2]) < 3:
        return np.zeros((max(0, source.shape[0] - 2), max(0, source.shape[1] - 2)), dtype=bool)
    return (local_std(source) < FLAT_STD).all(axis=2)


def flat_noise(source, output, mask=None):
    """(mean 3×3 standard deviation of ``output`` over the flat pixels, their number).

    The standard deviation of a window is the mean of its channels'. The
    mean is None when there are fewer than :data:`MIN_FLAT` flat pixels.

    >>> src = np.full((10, 10, 3), 80, np.uint8)
    >>> out = src.copy(); out[::2, ::2] = 90
    >>> value, n = flat_noise(src, out)
    >>> n, value is None                      # 64 flat pixels: too few to count
    (64, True)
    """
    mask = flat_mask(source) if mask is None else mask
    n = int(mask.sum())
    if n < MIN_FLAT:
        return None, n
    return float(local_std(output).mean(axis=2)[mask].mean()), n


def _keys(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.uint32).reshape(-1, 3)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def palette_only(output, codebook) -> bool:
    """Every pixel of ``output`` is a colour of ``codebook``."""
    return bool(np.isin(np.unique(_keys(output)), _keys(codebook[:, :3])).all())


def exact_region(source, codebook) -> np.ndarray:
    """Pixels whose 3×3 window is all one colour, and that colour is in the codebook: (H, W)."""
    h, w = source.shape[:2]
    same = np.zeros((h, w), dtype=bool)
    if h < 3 or w < 3:
        return same
    centre = source[1:-1, 1:-1]
    inner = np.ones((h - 2, w - 2), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            inner &= (source[dy:dy + h - 2, dx:dx + w - 2] == centre).all(axis=2)
    in_book = np.isin(_keys(centre), _keys(codebook[:, :3])).reshape(h - 2, w - 2)
    same[1:-1, 1:-1] = inner & in_book
    return same


# --------------------------------------------------------------------------
# Measuring


@dataclass
class Row:
    """One image and k: the two figures of each output, and the checks."""

    image: str
    kind: str
    k: int
    flat_pixels: int
    blurred: dict        # output -> blurred MSE (None: not measured)
    noise: dict          # output -> flat-area noise (None: too few flat pixels / not measured)
    exact_pixels: int = 0
    exact_broken: dict = None   # method -> pixels of exact regions that changed
    palette_ok: dict = None     # method -> every output colour in the palette
    note: str = ""


@dataclass
class Timing:
    image: str
    k: int
    method: str
    seconds: float | None
    note: str = ""


def pngquant_version() -> str | None:
    from benchmarks import report, tools

    path = tools.pngquant_path()
    if path is None:
        return None
    return f"{report._pngquant_version(path)} {' '.join(PNGQUANT_ARGS)} measures v{MEASURE_VERSION}"


def pngquant_output(pixels, path: Path, k: int, tmpdir: Path) -> np.ndarray:
    """pngquant's dithered output of ``pixels`` at ``k`` colours, decoded."""
    import subprocess

    from benchmarks import tools
    from PIL import Image

    source = Path(path)
    if source.suffix.lower() != ".png":
        source = Path(tmpdir) / "dither-source.png"
        Image.fromarray(pixels).save(source, compress_level=1)
    out = Path(tmpdir) / "dither-pngquant.png"
    proc = subprocess.run([tools.pngquant_path(), *PNGQUANT_ARGS, str(k), "--force", "--output",
                           str(out), str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pngquant exit {proc.returncode}: {proc.stderr.strip()[:120]}")
    image = tools.decode_rgb(out)
    out.unlink()
    return image


def _quantize(pixels, k):
    from quantize.image.pipeline import quantize_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer colours than k
        return quantize_image(pixels, k, seed=0)


def measure(names, ks=DEFAULT_K, *, fill: bool = True, run_quantize: bool = True,
            cache=None, log=None) -> list:
    """The rows of every image and k (quantize always; pngquant from the cache or run)."""
    from quantize.image.dither import dither_result

    log = log or (lambda msg: None)
    cache = cache or corpus.PeerCache(PEERS_FILE)
    tool_version = pngquant_version()
    rows = []
    with tempfile.TemporaryDirectory(prefix="quantize-dither-") as tmp:
        for name in names:
            spec = corpus.SPECS[name]
            pixels, path = corpus.load(name)
            version = corpus.image_version(name, pixels)
            mask = flat_mask(pixels)
            for k in ks:
                row = Row(name, spec.kind, k, int(mask.sum()), {}, {}, exact_broken={},
                          palette_ok={})
                # pngquant, cached.
                got = None
                if tool_version is None:
                    row.note = "pngquant is not installed"
                else:
                    key = cache.key(name, version, k, "pngquant dithered", tool_version)
                    got = cache.get(key)
                    if got is None and fill:
                        try:
                            out = pngquant_output(pixels, path, k, Path(tmp))
                            got = {"blurred": blurred_mse(pixels, out),
                                   "noise": flat_noise(pixels, out, mask)[0]}
                            cache.put(key, got)
                        except Exception as exc:  # a failed tool is a result
                            row.note = f"pngquant: {type(exc).__name__}: {exc}"[:160]
                    elif got is None:
                        row.note = "pngquant not cached"
                row.blurred["pngquant"] = got["blurred"] if got else None
                row.noise["pngquant"] = got["noise"] if got else None
                if run_quantize:
                    result = _quantize(pixels, k)
                    exact = exact_region(pixels, result.codebook)
                    row.exact_pixels = int(exact.sum())
                    for method in METHODS:
                        out = dither_result(result, pixels, method).reconstruct()
                        row.blurred[method] = blurred_mse(pixels, out)
                        row.noise[method] = flat_noise(pixels, out, mask)[0]
                        if method != "none":
                            row.palette_ok[method] = palette_only(out, result.codebook)
                            row.exact_broken[method] = int((out[exact] != pixels[exact])
                                                           .any(axis=1).sum())
                rows.append(row)
                log("dither: " + name + f" k={k}: " + ", ".join(
                    f"{m} {fmt_num(row.blurred.get(m))}/{fmt_num(row.noise.get(m))}"
                    for m in (*METHODS, "pngquant")))
            del pixels, mask
    return rows


def measure_timing(repeats: int = 3, k: int = TIMING_K, log=None) -> list:
    """Seconds ``dither_result`` takes on the generated 12 MP photo, best of ``repeats``."""
    from quantize.image.dither import dither_result

    log = log or (lambda msg: None)
    img = bimages.large_images(("png",))[0]
    result = _quantize(img.pixels, k)
    out = []
    for method in METHODS[1:]:
        best = None
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            dither_result(result, img.pixels, method)
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        out.append(Timing(img.name, k, method, best))
        log(f"dither: {img.name} k={k} {method}: {best:.2f} s")
    return out


# --------------------------------------------------------------------------
# Tables and targets


def _ratio(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def rows_table(rows) -> str:
    headers = ["image", "kind", "k", "flat px",
               "blurred: none", "FS", "ordered", "pngquant",
               "noise: none", "FS", "ordered", "pngquant", "exact px", "checks", "note"]
    out = []
    for r in rows:
        checks = []
        for m in METHODS[1:]:
            if m in r.palette_ok:
                bad = [] if r.palette_ok[m] else ["colour not in palette"]
                if r.exact_broken.get(m):
                    bad.append(f"{r.exact_broken[m]} exact px changed")
                checks.append(("FS" if m == "floyd-steinberg" else m) + ": "
                              + ("ok" if not bad else ", ".join(bad)))
        out.append([r.image, r.kind, r.k, f"{r.flat_pixels:,}"]
                   + [fmt_num(r.blurred.get(m)) for m in (*METHODS, "pngquant")]
                   + [fmt_num(r.noise.get(m)) for m in (*METHODS, "pngquant")]
                   + [f"{r.exact_pixels:,}", "; ".join(checks), r.note])
    return markdown_table(headers, out, "llrr" + "r" * 8 + "rll")


def medians_table(rows) -> str:
    """Median ratios to pngquant (blurred MSE, flat-area noise) and to no dithering."""
    out = []
    for m in METHODS:
        b = [_ratio(r.blurred.get(m), r.blurred.get("pngquant")) for r in rows]
        n = [_ratio(r.noise.get(m), r.noise.get("pngquant")) for r in rows]
        vs_none = [_ratio(r.blurred.get(m), r.blurred.get("none")) for r in rows]
        b, n, vs_none = ([x for x in xs if x is not None and math.isfinite(x)]
                         for xs in (b, n, vs_none))
        out.append([m, f"{statistics.median(b):.3f}" if b else "—",
                    f"{statistics.median(n):.3f}" if n else "—",
                    f"{statistics.median(vs_none):.3f}" if vs_none else "—"])
    return markdown_table(["output", "blurred MSE / pngquant's", "flat-area noise / pngquant's",
                           "blurred MSE / none's"], out, "lrrr")


def _count(rows, method, figure, other):
    """(rows within, rows compared, worst row) for figure(method) ≤ figure(other)."""
    pairs = []
    for r in rows:
        values = getattr(r, figure)
        a, b = values.get(method), values.get(other)
        if a is not None and b is not None:
            pairs.append((r, a, b))
    within = sum(a <= b for _, a, b in pairs)
    worst = max(pairs, key=lambda p: _ratio(p[1], p[2]), default=None)
    return within, len(pairs), worst


def _target(rows, method, figure, other, name) -> Target:
    within, n, worst = _count(rows, method, figure, other)
    if not n:
        return Target(name, "not measured", None)
    r, a, b = worst
    text = (f"{within} of {n} within; worst {fmt_num(a)} vs {fmt_num(b)} ({r.image}, k={r.k})")
    misses = [p for p in rows if p.blurred.get(method) is not None]
    if within < n:
        failed = sorted({f"{p.image}/{p.k}" for p in misses
                         if getattr(p, figure).get(method) is not None
                         and getattr(p, figure).get(other) is not None
                         and getattr(p, figure)[method] > getattr(p, figure)[other]})
        text += "; above: " + ", ".join(failed)
    return Target(name, text, within == n)


def targets(rows, timings) -> list:
    out = [
        _target(rows, "floyd-steinberg", "blurred", "pngquant",
                "floyd-steinberg blurred MSE ≤ pngquant's, every image and k"),
        _target(rows, "floyd-steinberg", "noise", "pngquant",
                f"floyd-steinberg flat-area noise ≤ pngquant's, every image and k with "
                f"≥ {MIN_FLAT} flat pixels"),
        _target(rows, "ordered", "blurred", "none",
                "ordered blurred MSE ≤ no dithering's, every image and k"),
    ]
    checked = [r for r in rows if r.palette_ok]
    name = "both methods: every output colour in the palette, exact-colour regions unchanged"
    if not checked:
        out.append(Target(name, "not measured", None))
    else:
        bad_palette = [f"{r.image}/{r.k} {m}" for r in checked for m, ok in r.palette_ok.items()
                       if not ok]
        broken = sum(v for r in checked for v in r.exact_broken.values())
        exact = sum(r.exact_pixels for r in checked)
        text = (f"{len(checked)} image×k; {exact:,} exact-region pixels, {broken} changed; "
                f"{len(bad_palette)} outputs with a colour not in the palette")
        out.append(Target(name, text, not bad_palette and broken == 0))
    name = f"dither_result on the 12 MP image at k={TIMING_K} ≤ {TIME_LIMIT:g} s, each method"
    done = [t for t in timings if t.seconds is not None]
    if not done:
        out.append(Target(name, "not measured", None))
    else:
        worst = max(done, key=lambda t: t.seconds)
        text = ", ".join(f"{t.method} {t.seconds:.2f} s" for t in done)
        out.append(Target(name, text, worst.seconds <= TIME_LIMIT))
    return out


def render(rows, timings) -> str:
    """The Markdown section on dithering."""
    ks = ", ".join(str(k) for k in dict.fromkeys(r.k for r in rows)) or "—"
    names = list(dict.fromkeys(r.image for r in rows))
    out = ["## Dithering", "",
           f"{len(names)} images of the quality corpus (all but the 12 MP photo), k = {ks}. "
           "Outputs: none (`quantize_image(pixels, k, seed=0)`), floyd-steinberg and ordered "
           "(that result through `dither_result`, as `--dither` does), and pngquant "
           f"`{' '.join(PNGQUANT_ARGS)} K` with its default dithering. Blurred MSE: both images "
           f"blurred by a Gaussian of σ = {SIGMA:g} px (separable, edges mirrored), then the mean "
           "over all channel values of the squared difference, in 0-255 units. Flat-area noise: "
           "the mean 3×3 standard deviation of the output (mean of the channels') over the "
           f"pixels where the source's 3×3 standard deviation is below {FLAT_STD:g} in every "
           f"channel (\"flat px\"); \"—\" with fewer than {MIN_FLAT} of them. Lower is better "
           "for both. Checks: every output colour is a palette colour; \"exact px\" are pixels "
           "whose 3×3 window is all one palette colour, which must come out unchanged. "
           "pngquant's figures come from `benchmarks/.cache/dither-peers.json` when present.",
           ""]
    if rows:
        out += [rows_table(rows), "", "Medians over the rows:", "", medians_table(rows), ""]
    if timings:
        out += [f"Time: `dither_result` on the generated 12 MP photo fitted at k = {TIMING_K} "
                "(the codes, then counts and inertia again), best of the repeats:", "",
                markdown_table(["image", "k", "method", "seconds", "note"],
                               [[t.image, t.k, t.method, fmt_num(t.seconds), t.note]
                                for t in timings], "lrlrl"), ""]
    out += ["Targets of the dithering section:", "", "```"]
    out += [t.line() for t in targets(rows, timings)]
    out += ["```", ""]
    return "\n".join(out)


def run(ks=DEFAULT_K, *, names=None, kinds=None, timing: bool = True, repeats: int = 3,
        fill: bool = True, log=None) -> tuple:
    """Measure and render, for ``benchmarks.run``: (Markdown, rows, timings). Never raises."""
    log = log or (lambda msg: None)
    rows, timings = [], []
    try:
        chosen = corpus.select(names, kinds, large=False)
        rows = measure(chosen, ks, fill=fill, log=log)
    except Exception as exc:  # a failure is a result, not the end of the run
        log(f"dither: error: {type(exc).__name__}: {exc}")
    if timing:
        try:
            timings = measure_timing(repeats, log=log)
        except Exception as exc:
            timings = [Timing("12 MP", TIMING_K, "dither", None,
                              f"error: {type(exc).__name__}: {exc}"[:160])]
    return render(rows, timings), rows, timings


# --------------------------------------------------------------------------
# Command line


def _csv(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.dither",
        description="Blurred MSE and flat-area noise of quantize's dithering against pngquant's "
                    "on the quality corpus, the exactness checks and the 12 MP timing.")
    p.add_argument("--k", dest="ks", type=lambda s: [int(x) for x in _csv(s)],
                   default=list(DEFAULT_K), help="comma-separated k values (default 16,64)")
    p.add_argument("--images", type=_csv, help=f"comma-separated names: "
                                               f"{', '.join(corpus.select(large=False))}")
    p.add_argument("--kinds", type=_csv, help=f"comma-separated kinds: {', '.join(corpus.KINDS)}")
    p.add_argument("--no-timing", action="store_true", help="skip the 12 MP timing")
    p.add_argument("--repeats", type=int, default=3, help="timing runs, best kept (default 3)")
    p.add_argument("--peers-only", action="store_true",
                   help="only compute pngquant's missing results into the cache")
    p.add_argument("--cached", action="store_true",
                   help="do not run pngquant for missing results (their cells stay empty)")
    p.add_argument("--output", type=Path, help="also write the Markdown to this file")
    args = p.parse_args(argv)
    try:
        args.names = corpus.select(args.images, args.kinds, large=False)
    except KeyError as exc:
        p.error(str(exc.args[0]))
    if not args.ks or any(k < 2 for k in args.ks):
        p.error("k values must be at least 2")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if args.peers_only:
        rows = measure(args.names, args.ks, run_quantize=False, log=log)
        print(f"dither: pngquant's figures for {len(rows)} image×k are in {PEERS_FILE}")
        return 0
    rows = measure(args.names, args.ks, fill=not args.cached, log=log)
    timings = [] if args.no_timing else measure_timing(args.repeats, log=log)
    text = render(rows, timings)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The looks measures: perceptual error, PSNR and file size against pngquant,
and the time to dither a 12 MP image.

For every sample photo at k = 16 and k = 256:

* quantize in sRGB and in Oklab (``quantize_image(pixels, k, color_space=...)``,
  library defaults otherwise, no dithering) and pngquant (``--speed 4 --nofs
  K``, the harness's settings);
* mean ΔE_OK (Euclidean distance in Oklab, ×100, so that about 2 is a
  just-noticeable difference), mean CIEDE2000 and PSNR (over R, G, B) of the
  decoded output against the input pixels;
* the palette PNG's bytes: quantize's encoder at its defaults (what
  ``quantize image`` writes) and with ``--optimize``, against pngquant's
  file.

On the generated 12 MP image: the seconds that ``--dither floyd-steinberg``
(Pillow's C implementation) and ``--dither ordered`` (numpy Bayer 8×8) add,
i.e. :func:`quantize.image.dither.dither_result` from a fitted result (codes,
recount, inertia), best of the harness's repeats, at k = 16 and 256; and, for
comparison, this package's numpy Floyd–Steinberg once at k = 16.

Targets: at k = 256 Oklab's mean ΔE_OK is at most pngquant's on
every photo; without dithering the palette PNG (the default output, sRGB) is
at most 1.05× pngquant's bytes on every photo at both k (Oklab's worst ratio
is shown beside it); a 12 MP image dithers in at most 1.5 s.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.report import Target, fmt_num, markdown_table

LOOKS_K = (16, 256)
DITHER_LIMIT = 1.5
SIZE_RATIO_LIMIT = 1.05


@dataclass
class LookRow:
    """One (photo, k, tool) measurement of the looks section."""

    image: str
    k: int
    tool: str  # "quantize srgb", "quantize oklab", "pngquant"
    delta_e_ok: float | None
    ciede2000: float | None
    psnr: float | None
    png_bytes: int | None
    png_bytes_optimized: int | None = None
    note: str = ""


@dataclass
class DitherTiming:
    image: str
    k: int
    method: str
    seconds: float | None
    note: str = ""


def errors(original: np.ndarray, output: np.ndarray):
    """(mean ΔE_OK ×100, mean CIEDE2000, PSNR) of output against original, per pixel."""
    from quantize.core import colorspace as cs

    a = original.reshape(-1, 3)
    b = output.reshape(-1, 3)
    ok = float(cs.delta_e_ok(a, b).mean()) * 100.0
    d00 = float(cs.ciede2000(cs.srgb_to_lab(a), cs.srgb_to_lab(b)).mean())
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
    return ok, d00, psnr


def measure_photo(img, k, tmpdir: Path, pngquant: str | None, pngquant_args) -> list:
    """The rows of one photo at one k: quantize sRGB, quantize Oklab, pngquant."""
    from quantize.io.encode import encode_palette_png
    from quantize.image.pipeline import quantize_image

    rows = []
    for space in ("srgb", "oklab"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = quantize_image(img.pixels, k, seed=0, color_space=space)
        ok, d00, psnr = errors(img.pixels, result.reconstruct())
        plain = encode_palette_png(result.labels, result.codebook)
        best = encode_palette_png(result.labels, result.codebook, optimize=True)
        rows.append(LookRow(img.name, k, f"quantize {space}", ok, d00, psnr, len(plain), len(best)))
    if pngquant is None:
        rows.append(LookRow(img.name, k, "pngquant", None, None, None, None,
                            note="pngquant is not installed"))
        return rows
    from benchmarks.tools import decode_rgb

    source = img.png_path(tmpdir)
    out = Path(tmpdir) / f"looks-pngquant-{Path(img.name).stem}-k{k}.png"
    proc = subprocess.run([pngquant, *pngquant_args, str(k), "--force", "--output", str(out),
                           str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        rows.append(LookRow(img.name, k, "pngquant", None, None, None, None,
                            note=f"pngquant exit {proc.returncode}"))
        return rows
    ok, d00, psnr = errors(img.pixels, decode_rgb(out))
    rows.append(LookRow(img.name, k, "pngquant", ok, d00, psnr, os.path.getsize(out)))
    out.unlink()
    return rows


def measure_dither(img, ks=LOOKS_K, repeats: int = 3, numpy_fs: bool = True) -> list:
    """Seconds that each dither method adds on ``img`` (the 12 MP image)."""
    from quantize.image.dither import dither_result, floyd_steinberg
    from quantize.io.encode import floyd_steinberg_pillow
    from quantize.image.pipeline import quantize_image

    out = []
    for k in ks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = quantize_image(img.pixels, k, seed=0)
        for method, floyd, label in (("floyd-steinberg", floyd_steinberg_pillow,
                                      "floyd-steinberg (Pillow C)"),
                                     ("ordered", None, "ordered (numpy Bayer 8×8)")):
            best = None
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                dither_result(result, img.pixels, method, floyd=floyd)
                seconds = time.perf_counter() - start
                best = seconds if best is None else min(best, seconds)
            out.append(DitherTiming(img.name, k, label, best))
        if numpy_fs and k == ks[0]:
            start = time.perf_counter()
            dither_result(result, img.pixels, "floyd-steinberg", floyd=floyd_steinberg)
            out.append(DitherTiming(img.name, k, "floyd-steinberg (numpy, not used by the CLI)",
                                    time.perf_counter() - start, "one run; for comparison"))
    return out


def _ratio(a, b):
    return None if a is None or b is None or not b else a / b


def looks_table(rows) -> str:
    headers = ["image", "k", "tool", "mean ΔE_OK ×100", "mean CIEDE2000", "PSNR dB",
               "PNG bytes", "bytes / pngquant", "--optimize bytes", "note"]
    ref = {(r.image, r.k): r.png_bytes for r in rows if r.tool == "pngquant"}
    out = []
    for r in rows:
        ratio = _ratio(r.png_bytes, ref.get((r.image, r.k))) if r.tool != "pngquant" else None
        out.append([r.image, r.k, r.tool, fmt_num(r.delta_e_ok), fmt_num(r.ciede2000),
                    fmt_num(r.psnr), "—" if r.png_bytes is None else f"{r.png_bytes:,}",
                    "" if r.tool == "pngquant" else ("—" if ratio is None else f"{ratio:.3f}"),
                    "" if r.png_bytes_optimized is None else f"{r.png_bytes_optimized:,}",
                    r.note])
    return markdown_table(headers, out, "lrlrrrrrrl")


def medians_table(rows) -> str:
    import statistics

    headers = ["k", "tool", "mean ΔE_OK ×100", "mean CIEDE2000", "PSNR dB", "bytes / pngquant"]
    ref = {(r.image, r.k): r.png_bytes for r in rows if r.tool == "pngquant"}
    groups = {}
    for r in rows:
        groups.setdefault((r.k, r.tool), []).append(r)
    out = []
    for (k, tool), rs in sorted(groups.items(), key=lambda kv: kv[0][0]):
        def med(values):
            values = [v for v in values if v is not None]
            return statistics.median(values) if values else None
        ratio = None if tool == "pngquant" else med(
            _ratio(r.png_bytes, ref.get((r.image, r.k))) for r in rs)
        out.append([k, tool, fmt_num(med(r.delta_e_ok for r in rs)),
                    fmt_num(med(r.ciede2000 for r in rs)), fmt_num(med(r.psnr for r in rs)),
                    "" if tool == "pngquant" else ("—" if ratio is None else f"{ratio:.3f}")])
    return markdown_table(headers, out, "rlrrrr")


def dither_table(timings) -> str:
    return markdown_table(["image", "k", "method", "seconds", "note"],
                          [[t.image, t.k, t.method, fmt_num(t.seconds), t.note] for t in timings],
                          "lrlrl")


def targets(rows, timings) -> list:
    out = []
    # 1. k=256: Oklab's mean ΔE_OK <= pngquant's, every photo.
    name = "k=256: quantize oklab mean ΔE_OK ≤ pngquant --nofs's, on every photo"
    pairs = []
    for r in rows:
        if r.k == 256 and r.tool == "quantize oklab":
            pq = next((p for p in rows if p.image == r.image and p.k == 256 and p.tool == "pngquant"),
                      None)
            if pq is not None and pq.delta_e_ok is not None:
                pairs.append((r.image, r.delta_e_ok, pq.delta_e_ok))
    if pairs:
        worst = max(pairs, key=lambda p: p[1] / p[2])
        out.append(Target(name, f"worst {worst[1]:.3f} vs {worst[2]:.3f} ({worst[0]}); "
                                f"{sum(a <= b for _, a, b in pairs)} of {len(pairs)} photos",
                          all(a <= b for _, a, b in pairs)))
    else:
        out.append(Target(name, "not measured", None))
    # 2. Bytes without dithering <= 1.05x pngquant's, every photo and k, for the
    #    default output (sRGB); Oklab's worst ratio is reported beside it.
    worst = {}
    for r in rows:
        if r.tool.startswith("quantize"):
            pq = next((p for p in rows if p.image == r.image and p.k == r.k and p.tool == "pngquant"),
                      None)
            ratio = _ratio(r.png_bytes, pq.png_bytes if pq else None)
            space = r.tool.split()[-1]
            if ratio is not None and (space not in worst or ratio > worst[space][0]):
                worst[space] = (ratio, f"{r.image}, k={r.k}")
    name = (f"palette PNG bytes (default output: srgb, no dither) ≤ {SIZE_RATIO_LIMIT:.2f}× "
            "pngquant's at the same k, every photo, k=16 and 256")
    if "srgb" in worst:
        extra = ""
        if "oklab" in worst:
            extra = f"; with --color-space oklab: worst {worst['oklab'][0]:.3f} ({worst['oklab'][1]})"
        out.append(Target(name, f"worst {worst['srgb'][0]:.3f} ({worst['srgb'][1]}){extra}",
                          worst["srgb"][0] <= SIZE_RATIO_LIMIT))
    else:
        out.append(Target(name, "not measured", None))
    # 3. 12 MP dithering <= 1.5 s (the methods the CLI uses).
    name = f"dithering the 12 MP image ≤ {DITHER_LIMIT:g} s (floyd-steinberg and ordered, k=16 and 256)"
    used = [t for t in timings if "not used" not in t.method]
    if used and all(t.seconds is not None for t in used):
        worst = max(used, key=lambda t: t.seconds)
        out.append(Target(name, f"worst {worst.seconds:.2f} s ({worst.method}, k={worst.k})",
                          worst.seconds <= DITHER_LIMIT))
    else:
        out.append(Target(name, "not measured (12 MP image skipped)" if not used else "failed",
                          None if not used else False))
    return out


def render(rows, timings) -> str:
    """The Markdown section appended to RESULTS.md."""
    out = ["## Perceptual error and file size", "",
           "Each photo at k = 16 and 256: quantize's pipeline in sRGB and in Oklab "
           "(`quantize_image(pixels, k, color_space=...)`, no dithering) and pngquant "
           "(`--speed 4 --nofs K`). ΔE_OK: Euclidean distance in Oklab ×100 (about 2 is "
           "just noticeable); CIEDE2000 on CIELAB (D65); PSNR over R, G, B; all means over "
           "the pixels of the decoded output. PNG bytes: quantize's palette PNG at its "
           "defaults (what `quantize image` writes; `--optimize` in its own column) against "
           "pngquant's file.", ""]
    if rows:
        out += [looks_table(rows), "", "Medians over the photos:", "", medians_table(rows), ""]
    if timings:
        out += ["Dithering the 12 MP image: the seconds `dither_result` takes from a fitted "
                "result (the codes, then counts and inertia again), best of the repeats.", "",
                dither_table(timings), ""]
    out += ["Targets of the looks section:", "", "```"]
    out += [t.line() for t in targets(rows, timings)]
    out += ["```", ""]
    return "\n".join(out)


def run(photo_names, *, large: bool, ctx, log) -> tuple:
    """All of the looks measurements: (rows, dither timings). Never raises."""
    from benchmarks import images as bimages
    from benchmarks import tools

    rows, timings = [], []
    pngquant = tools.pngquant_path()
    for name in photo_names:
        img = bimages.photo(name)
        for k in LOOKS_K:
            try:
                got = measure_photo(img, k, ctx.tmpdir, pngquant, tools.PNGQUANT_ARGS)
            except Exception as exc:  # a failure is a result, not the end of the run
                got = [LookRow(name, k, "quantize", None, None, None, None,
                               note=f"error: {type(exc).__name__}: {exc}"[:200])]
            rows += got
            for r in got:
                log(f"bench: looks {name} k={k} {r.tool}: ΔE_OK×100 {fmt_num(r.delta_e_ok)}, "
                    f"PSNR {fmt_num(r.psnr)}, {r.png_bytes} bytes" + (f" ({r.note})" if r.note else ""))
    if large:
        img = next(i for i in bimages.large_images(("png",)))
        try:
            timings = measure_dither(img, repeats=ctx.repeats)
        except Exception as exc:
            timings = [DitherTiming(img.name, 0, "dither", None, f"error: {type(exc).__name__}: {exc}")]
        for t in timings:
            log(f"bench: dither {t.image} k={t.k} {t.method}: {fmt_num(t.seconds)} s")
    return rows, timings

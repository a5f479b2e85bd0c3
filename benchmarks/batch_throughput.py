"""Throughput of `quantize batch` with 1 and 2 jobs, its overhead per image, and the
cost of its HTML report.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it after the tool comparison)::

    python -m benchmarks.batch_throughput [--images 100] [--repeats 5] [-k 16]
                                          [--html-images 500] [--html-repeats 3]

Targets: ``--jobs 2`` gives at least 1.6× the throughput of
``--jobs 1`` on 100 small images, and batch adds at most 20% per image over
the single-image library call (load, quantize_image, encode, atomic write),
done here in one process on the same files.

Each run is timed on all the images and on the first third of them (repeats
interleaved, best kept). The whole commands' figures include what a command
pays once (starting Python, importing numpy and Pillow, starting the
workers: about 0.3-0.6 s, as much as 15-30 small images take); the marginal
seconds per image, (T(all) - T(third)) / (images left), leave it out. The
targets are judged on the per-image (marginal) figures; both are printed.

The report: ``quantize batch`` of ``--html-images`` images with the default
jobs, with and without ``--html`` (repeats interleaved, best kept, whole
commands; the CPU time of the command and its workers is printed too, the
steadier figure on a shared machine). Targets: ``--html`` costs at most 10%
more time, and the page weighs at most 5 MB (for 500 images).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.dask_overhead import image_sets


def _timed(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _library_loop(files, out: Path, k: int) -> float:
    from quantize.io.decode import load_rgb
    from quantize.io.encode import encode_palette_png
    from quantize.io.files import write_bytes
    from quantize.image.pipeline import quantize_image

    start = time.perf_counter()
    for path in files:
        result = quantize_image(load_rgb(path), k)
        write_bytes(out / path.name, encode_palette_png(result.labels, result.codebook))
    return time.perf_counter() - start


def _timed_cpu(cmd):
    """(wall seconds, CPU seconds) of a command, its worker processes included."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _timed(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def html_cost(n: int, repeats: int, k: int) -> None:
    """Time ``batch`` with and without ``--html`` on ``n`` images; print the figures.

    Both the wall time and the CPU time (the command's and its workers') are
    kept, best of ``repeats``: on a machine shared with other work the CPU
    time is the steadier of the two.
    """
    from benchmarks.dask_overhead import make_images

    quantize = [sys.executable, "-m", "quantize", "batch"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        src.mkdir()
        make_images(src, n)
        page = tmp / "report.html"
        wall, cpu = {}, {}
        for _ in range(repeats):
            for html in (False, True):
                out = tmp / "out"
                shutil.rmtree(out, ignore_errors=True)
                extra = ["--html", str(page)] if html else []
                w, c = _timed_cpu(quantize + [str(src), "-o", str(out), "-k", str(k),
                                              "--no-progress", *extra])
                wall[html], cpu[html] = min(wall.get(html, w), w), min(cpu.get(html, c), c)
        size = page.stat().st_size
    print(f"\n## The HTML report ({n} images, k={k}, default jobs, best of {repeats})\n")
    print("| run | seconds | CPU seconds | ms per image |\n|:--|--:|--:|--:|")
    for html, label in ((False, "quantize batch"), (True, "quantize batch --html")):
        print(f"| {label} | {wall[html]:.2f} | {cpu[html]:.2f} | {1000 * wall[html] / n:.1f} |")
    print()
    for what, best in (("time", wall), ("CPU time", cpu)):
        cost = best[True] / best[False] - 1.0
        print(f"{'PASS' if cost <= 0.10 else 'FAIL'}  --html costs at most 10% more {what}: "
              f"{cost * 100:+.1f}%")
    limit = 5_000_000 * n / 500
    print(f"{'PASS' if size <= limit else 'FAIL'}  the page weighs at most "
          f"{limit / 1e6:.1f} MB: {size / 1e6:.2f} MB ({size / n / 1000:.1f} kB per image)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--html-images", type=int, default=500,
                        help="images for the cost of --html (0: not measured)")
    parser.add_argument("--html-repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.images < 3:
        parser.error("--images must be at least 3")
    quantize = [sys.executable, "-m", "quantize"]
    n = args.images
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src, src_few, few = image_sets(tmp, n)
        folders = {"all": src, "few": src_few}
        best = {}

        def keep(key, seconds):
            best[key] = min(best.get(key, seconds), seconds)

        for _ in range(args.repeats):
            for label, folder in folders.items():
                for jobs in (1, 2):
                    out = tmp / f"out{jobs}-{label}"
                    shutil.rmtree(out, ignore_errors=True)
                    keep((jobs, label), _timed(quantize + [
                        "batch", str(folder), "-o", str(out), "-k", str(args.k),
                        "--jobs", str(jobs), "--no-progress"]))
                out = tmp / f"lib-{label}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                keep(("lib", label), _library_loop(sorted(folder.iterdir()), out, args.k))
    per_image = {run: (best[run, "all"] - best[run, "few"]) / (n - few) for run in ("lib", 1, 2)}
    speedup = per_image[1] / per_image[2]
    overhead = per_image[1] / per_image["lib"] - 1.0
    whole_speedup = best[1, "all"] / best[2, "all"]
    whole_overhead = best[1, "all"] / best["lib", "all"] - 1.0
    print(f"\n## Batch throughput ({n} images, k={args.k}, best of {args.repeats})\n")
    print(f"| run | seconds, {n} images | seconds, {few} images | ms per image (marginal) "
          "| images/s (marginal) |\n|:--|--:|--:|--:|--:|")
    for run, label in (("lib", "library loop, one process"), (1, "quantize batch --jobs 1"),
                       (2, "quantize batch --jobs 2")):
        print(f"| {label} | {best[run, 'all']:.2f} | {best[run, 'few']:.2f} "
              f"| {1000 * per_image[run]:.1f} | {1 / per_image[run]:.1f} |")
    print()
    print(f"{'PASS' if speedup >= 1.6 else 'FAIL'}  --jobs 2 vs --jobs 1 throughput ≥ 1.6× (per image): "
          f"{speedup:.2f}× (whole commands: {whole_speedup:.2f}×)")
    print(f"{'PASS' if overhead <= 0.20 else 'FAIL'}  batch --jobs 1 overhead per image ≤ 20% over "
          f"the library call: {overhead * 100:+.0f}% (whole command, process start included: "
          f"{whole_overhead * 100:+.0f}%)")
    if args.html_images > 0:
        html_cost(args.html_images, args.html_repeats, args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())

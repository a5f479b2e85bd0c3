"""Throughput of `quantize batch` with 1 and 2 jobs, and its overhead per image.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it after the tool comparison)::

    python -m benchmarks.batch_throughput [--images 100] [--repeats 2] [-k 16]

Issue 5's targets: ``--jobs 2`` gives at least 1.6× the throughput of
``--jobs 1`` on 100 small images, and batch adds at most 20% per image over
the single-image library call (load, quantize_image, encode, atomic write),
done here in one process on the same files.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.dask_overhead import make_images


def _timed(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _library_loop(files, out: Path, k: int) -> float:
    from quantize.imageio import encode_palette_png, load_rgb, write_bytes
    from quantize.pipeline import quantize_image

    start = time.perf_counter()
    for path in files:
        result = quantize_image(load_rgb(path), k)
        write_bytes(out / path.name, encode_palette_png(result.labels, result.codebook))
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("-k", type=int, default=16)
    args = parser.parse_args(argv)
    quantize = [sys.executable, "-m", "quantize"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        src.mkdir()
        make_images(src, args.images)
        files = sorted(src.iterdir())
        best = {}
        for jobs in (1, 2):
            times = []
            for _ in range(args.repeats):
                out = tmp / f"out{jobs}"
                shutil.rmtree(out, ignore_errors=True)
                times.append(_timed(quantize + ["batch", str(src), "-o", str(out), "-k",
                                                str(args.k), "--jobs", str(jobs), "--no-progress"]))
            best[jobs] = min(times)
        lib_times = []
        for _ in range(args.repeats):
            out = tmp / "lib"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            lib_times.append(_library_loop(files, out, args.k))
        lib = min(lib_times)
    n = args.images
    speedup = best[1] / best[2]
    overhead = best[1] / lib - 1.0
    print(f"\n## Batch throughput ({n} images, k={args.k}, best of {args.repeats})\n")
    print("| run | seconds | images/s |\n|:--|--:|--:|")
    print(f"| library loop, one process | {lib:.2f} | {n / lib:.1f} |")
    for jobs in (1, 2):
        print(f"| quantize batch --jobs {jobs} | {best[jobs]:.2f} | {n / best[jobs]:.1f} |")
    print()
    print(f"{'PASS' if speedup >= 1.6 else 'FAIL'}  --jobs 2 vs --jobs 1 throughput ≥ 1.6×: {speedup:.2f}×")
    print(f"{'PASS' if overhead <= 0.20 else 'FAIL'}  batch --jobs 1 overhead per image ≤ 20% over "
          f"the library call: {overhead * 100:+.0f}% (includes the process start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

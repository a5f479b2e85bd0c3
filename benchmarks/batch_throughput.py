"""Throughput of `quantize batch` with 1 and 2 jobs, and its overhead per image.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it after the tool comparison)::

    python -m benchmarks.batch_throughput [--images 100] [--repeats 5] [-k 16]

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("-k", type=int, default=16)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

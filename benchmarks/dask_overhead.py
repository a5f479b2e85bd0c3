"""Throughput of `quantize batch` on a 2-worker Dask LocalCluster against the local pool.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it after the tool comparison)::

    python -m benchmarks.dask_overhead [--images 100] [--repeats 2] [-k 16]

The same ``--images`` images (crops of samples/, different pixels each) are
quantized into a fresh directory by ``quantize batch -j 2`` and by ``quantize
batch --scheduler tcp://...`` against an already running LocalCluster of 2
worker processes with one thread each on 127.0.0.1 (the cluster's start-up is
not counted; ``local-dask`` pays it on every run). Both run the whole command
(process start, planning, manifest, report), best of ``--repeats``. Prints
a Markdown table and the ratio dask / local; the issue's target is an
overhead under 25% (ratio < 1.25). Needs the extra ``quantize[dask]``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def make_images(folder: Path, n: int) -> None:
    from PIL import Image

    sources = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            im.crop((i % 7, i % 5, w - i % 3, h)).save(folder / f"i{i:03d}.png")


def best_time(args, out: Path, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "quantize", "batch", *args, "-o", str(out), "-q"],
                       check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("-k", type=int, default=16)
    opts = parser.parse_args(argv)
    try:
        from distributed import LocalCluster
    except ImportError:
        print("benchmarks.dask_overhead: dask.distributed is not installed "
              "(pip install 'quantize[dask]'); skipped", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="quantize-dask-bench-") as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        src.mkdir()
        make_images(src, opts.images)
        common = [str(src), "-k", str(opts.k)]
        from quantize.distributed import worker_env

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               silence_logs=logging.ERROR, env=worker_env(2))
        try:
            local = best_time([*common, "-j", "2"], tmp / "local", opts.repeats)
            dask = best_time([*common, "--scheduler", cluster.scheduler_address],
                             tmp / "dask", opts.repeats)
        finally:
            cluster.close()
    ratio = dask / local
    print(f"\n### quantize batch on Dask: {opts.images} images, k={opts.k}, 2 workers\n")
    print("| backend | seconds | images/s |\n|---|---|---|")
    print(f"| local pool (-j 2) | {local:.2f} | {opts.images / local:.1f} |")
    print(f"| Dask LocalCluster, 2 processes x 1 thread | {dask:.2f} | {opts.images / dask:.1f} |")
    print(f"\nratio Dask / local: {ratio:.2f} (overhead {100 * (ratio - 1):+.0f}%; target < +25%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

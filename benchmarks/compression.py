"""Palette PNG bytes and the time `--optimize` costs, on the quality corpus (`make bench`).

Usage, from the repository root with the virtualenv's Python::

    python -m benchmarks.compression [-k 16,32] [--repeats 3] [--kinds ui,synthetic]

For each corpus image (the 12 MP one left out) and k, the one image job
(load, fit, encode: what `quantize image IN -o OUT.png -k K` does after
start-up) runs with the default compression and with ``--optimize``,
interleaved, best of ``--repeats``; pngquant (``--speed 4 --nofs K``) writes
the same image. It prints the seconds, the bytes and the bytes over
pngquant's, then two targets:

* ``--optimize`` would be made the default if it cost at most 10% more time
  over the whole corpus;
* on flat graphics (the ``ui``, ``synthetic`` and ``gradient`` kinds) the
  default palette PNG is within 1.05x pngquant's bytes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/compression.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus  # noqa: E402

FLAT_KINDS = ("ui", "synthetic", "gradient")
OPTIMIZE_BUDGET = 0.10
PNGQUANT_BYTES_LIMIT = 1.05


def _job(path, k: int, optimize: bool):
    from quantize.run.job import ImageJob, encode_image

    start = time.perf_counter()
    encoded = encode_image(ImageJob(k=k, optimize=optimize), str(path), "out.png")
    return time.perf_counter() - start, len(encoded.data)


def _pngquant_bytes(path: Path, pixels, k: int, tmp: Path):
    if shutil.which("pngquant") is None:
        return None
    if path.suffix.lower() != ".png":
        from PIL import Image

        path = tmp / f"{path.stem}.png"
        Image.fromarray(pixels).save(path)
    out = tmp / f"{path.stem}-{k}-pq.png"
    done = subprocess.run(["pngquant", "--speed", "4", "--nofs", "--force", "-o", str(out),
                           str(k), str(path)], capture_output=True)
    return out.stat().st_size if done.returncode == 0 else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="16,32", help="comma-separated k (default 16,32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kinds", default=None, help="comma-separated corpus kinds")
    args = parser.parse_args(argv)
    ks = [int(x) for x in args.k.split(",") if x.strip()]
    kinds = [x for x in args.kinds.split(",") if x] if args.kinds else None
    names = corpus.select(kinds=kinds, large=False)
    rows = []
    print("| image | kind | k | seconds | --optimize seconds | bytes | --optimize bytes "
          "| pngquant bytes | bytes / pngquant |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in names:
            pixels, path = corpus.load(name)
            for k in ks:
                best = {False: float("inf"), True: float("inf")}
                size = {}
                for _ in range(args.repeats):
                    for optimize in (False, True):
                        seconds, size[optimize] = _job(path, k, optimize)
                        best[optimize] = min(best[optimize], seconds)
                pq = _pngquant_bytes(path, pixels, k, tmp)
                ratio = None if pq is None else size[False] / pq
                rows.append((name, corpus.SPECS[name].kind, k, best[False], best[True],
                             size[False], size[True], pq, ratio))
                print(f"| {name} | {corpus.SPECS[name].kind} | {k} | {best[False]:.3f} "
                      f"| {best[True]:.3f} | {size[False]:,} | {size[True]:,} "
                      f"| {'n/a' if pq is None else f'{pq:,}'} "
                      f"| {'n/a' if ratio is None else f'{ratio:.3f}'} |", flush=True)
    plain = sum(r[3] for r in rows)
    optimized = sum(r[4] for r in rows)
    extra = optimized / plain - 1
    per_image = statistics.median(r[4] / r[3] - 1 for r in rows)
    print()
    print(f"--optimize over the corpus: {plain:.2f} s -> {optimized:.2f} s, {extra:+.1%} "
          f"(median per image {per_image:+.1%}); bytes {sum(r[5] for r in rows):,} -> "
          f"{sum(r[6] for r in rows):,}")
    flat = [r for r in rows if r[1] in FLAT_KINDS and r[8] is not None]
    print()
    print("Targets:")
    print("```")
    verdict = "default" if extra <= OPTIMIZE_BUDGET else "kept opt-in"
    print(f"n/a   --optimize costs at most {OPTIMIZE_BUDGET:.0%} extra time to become the "
          f"default: measured {extra:+.1%}, so it is {verdict}")
    if flat:
        worst = max(flat, key=lambda r: r[8])
        status = "PASS" if worst[8] <= PNGQUANT_BYTES_LIMIT else "FAIL"
        print(f"{status}  flat graphics' default palette PNG ≤ {PNGQUANT_BYTES_LIMIT}x pngquant's "
              f"bytes: worst {worst[8]:.3f} ({worst[0]}, k={worst[2]}), median "
              f"{statistics.median(r[8] for r in flat):.3f}")
    else:
        print("n/a   flat graphics against pngquant: not measured (no pngquant, or no flat image)")
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())

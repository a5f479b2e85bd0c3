"""Start-up: `quantize image` on a 64x64 PNG and `quantize --help`, against the import floor.

Usage, from the repository root with the virtualenv's Python (``make bench``
runs it)::

    python -m benchmarks.startup [--runs 9]

The floor is ``python -c "import numpy, PIL.Image, click"``: what any such
command pays before it does anything. Every command runs as a child of this
interpreter with the same Python, after the package's bytecode is compiled
(``compileall``) and one untimed run of each, so that no run compiles; the
runs of the three commands are interleaved, so that a busy machine slows them
alike. Medians of ``--runs`` wall times.

Two 64x64 PNGs are timed: a flat icon (a dozen colours, anti-aliased
shapes) and a photo thumbnail (samples/chelsea.png scaled down, about 3,900
colours), each with the defaults (k = 16). Targets: the icon within 1.3x the
floor, and ``quantize --help`` at most 0.25 s. The thumbnail's ratio is
printed beside them: its time also holds a whole k-means fit.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATIO_LIMIT = 1.3
HELP_LIMIT = 0.25
FLOOR = "import numpy, PIL.Image, click"


def _icon(path: Path) -> None:
    """A 64x64 icon: a rounded badge, a ring and a check mark on white, anti-aliased."""
    from PIL import Image, ImageDraw

    big = Image.new("RGB", (256, 256), (255, 255, 255))
    draw = ImageDraw.Draw(big)
    draw.rounded_rectangle((16, 16, 240, 240), radius=48, fill=(32, 96, 200))
    draw.ellipse((64, 64, 192, 192), outline=(250, 250, 250), width=18)
    draw.line((92, 130, 120, 160, 170, 100), fill=(255, 200, 40), width=20)
    big.resize((64, 64), Image.LANCZOS).save(path)


def _thumbnail(path: Path) -> None:
    from PIL import Image

    with Image.open(ROOT / "samples" / "chelsea.png") as im:
        small = im.convert("RGB").resize((64, 64), Image.LANCZOS)
    Image.frombytes("RGB", small.size, small.tobytes()).save(path)  # no profile, no text


def _wall(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int = 9) -> dict:
    """Median wall seconds of the floor, ``--help`` and ``image`` on each PNG."""
    compileall.compile_dir(str(ROOT / "quantize"), quiet=1)
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        icon, thumb = tmp / "icon.png", tmp / "thumb.png"
        _icon(icon)
        _thumbnail(thumb)
        commands = {
            "floor": [python, "-c", FLOOR],
            "help": [python, "-m", "quantize", "--help"],
            "icon": [python, "-m", "quantize", "image", str(icon), "-o", str(tmp / "o1.png")],
            "thumbnail": [python, "-m", "quantize", "image", str(thumb), "-o",
                          str(tmp / "o2.png")],
        }
        for cmd in commands.values():  # warm the caches; nothing left to compile
            _wall(cmd)
        times = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                times[name].append(_wall(cmd))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    medians = measure(args.runs)
    floor = medians["floor"]
    print(f"Start-up, medians of {args.runs} runs (seconds):")
    print()
    print("| command | seconds | / floor |")
    print("|---|--:|--:|")
    print(f"| `python -c \"{FLOOR}\"` (floor) | {floor:.3f} | 1.00 |")
    for name, label in (("icon", "`quantize image` 64x64 icon"),
                        ("thumbnail", "`quantize image` 64x64 photo thumbnail"),
                        ("help", "`quantize --help`")):
        print(f"| {label} | {medians[name]:.3f} | {medians[name] / floor:.2f} |")
    print()
    print("Targets:")
    print("```")
    ratio = medians["icon"] / floor
    print(f"{'PASS' if ratio <= RATIO_LIMIT else 'FAIL'}  `quantize image` on a 64x64 PNG ≤ "
          f"{RATIO_LIMIT}x the import floor: {ratio:.2f}x ({medians['icon']:.3f} s against "
          f"{floor:.3f} s; the photo thumbnail {medians['thumbnail'] / floor:.2f}x)")
    print(f"{'PASS' if medians['help'] <= HELP_LIMIT else 'FAIL'}  `quantize --help` ≤ "
          f"{HELP_LIMIT} s: {medians['help']:.3f} s")
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())

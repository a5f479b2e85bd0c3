"""Smoke test of the benchmark harness (benchmarks/), so that it does not rot.

No timing is asserted: these run the harness's measure, tables and target
logic on tiny arrays and made-up measurements, and two tools on a tiny image.
The comparison libraries (cv2, scikit-learn, scipy) and pngquant are not
needed: the harness imports them only inside their runners.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root

from benchmarks import images, report, run, tools  # noqa: E402
from benchmarks.report import Measurement  # noqa: E402


def test_report_doctests():
    failures, _ = doctest.testmod(report, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_mse_is_per_pixel_and_summed_over_rgb():
    a = np.zeros((2, 3, 3), np.uint8)
    b = a.copy()
    b[0, 0] = (1, 2, 2)  # 1 + 4 + 4 = 9 on one pixel of six
    b[1, 2] = (255, 0, 0)  # no uint8 wrap-around: 255² = 65025
    assert report.mse_rgb(a, b) == pytest.approx((9 + 65025) / 6)
    assert report.mse_rgb(b, b) == 0
    # Chunking does not change the answer.
    assert report.mse_rgb(a, b, chunk_rows=1) == report.mse_rgb(a, b)
    with pytest.raises(ValueError):
        report.mse_rgb(a, b[:1])


def test_reconstruct_rounds_and_clips_centres():
    centres = np.array([[0.4, 127.5, 300.0], [-3.0, 10.6, 254.49]])
    labels = np.array([[1], [0], [1], [1]])  # cv2 gives labels as an (M, 1) column
    out = report.reconstruct(centres, labels, (2, 2, 3))
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [0, 11, 254]
    assert out[0, 1].tolist() == [0, 128, 255]


def _fake_results():
    """Two photos and a 12 MP image, with round numbers."""
    rows = []
    for image in ("a.png", "b.png"):
        for k in (16, 64, 256):
            rows += [
                Measurement(image, "photo", 100, k, report.PIPELINE, 0.1, 10.0),
                Measurement(image, "photo", 100, k, report.CLI, 0.5, 10.0, rss=80 * report.MB),
                Measurement(image, "photo", 100, k, "cv2.kmeans", 3.0 if k == 256 else 0.4, 10.1),
                Measurement(image, "photo", 100, k, "sklearn KMeans", 6.0, 9.95),
            ]
    rows.append(Measurement("a.png", "photo", 100, 256, "scipy kmeans2", None, None, note="timeout (>60 s)"))
    px = 12_000_000
    rows += [
        Measurement("big.png", "large", px, 256, report.PIPELINE, 1.0, 60.0),
        Measurement("big.png", "large", px, 256, report.CLI, 2.0, 60.0, rss=300 * report.MB),
        Measurement("big.png", "large", px, 256, "pngquant", 4.0, 61.0, rss=100 * report.MB),
    ]
    return rows


def test_ratios_tables_and_medians():
    results = _fake_results()
    cv2_row = next(m for m in results if m.tool == "cv2.kmeans" and m.k == 256)
    assert report.time_ratio(cv2_row, results) == pytest.approx(30.0)
    assert report.mse_ratio(cv2_row, results) == pytest.approx(10.0 / 10.1)

    table = report.results_table(results)
    assert table.count("\n") == len(results) + 1  # header, rule, one line per row
    assert "| a.png | 256 | cv2.kmeans | 3.00 | 30.00 | 10.10 | 0.990 |" in table
    assert "timeout (>60 s)" in table

    med = {(d["k"], d["tool"]): d for d in report.medians(results)}
    assert med[(64, "sklearn KMeans")]["time_ratio"] == pytest.approx(60.0)
    assert med[(256, "scipy kmeans2")]["n"] == 0 and med[(256, "scipy kmeans2")]["total"] == 1
    assert "0 of 1" in report.medians_table(results)
    assert "| big.png | 12.00 | 256 | 300 | 394 | yes |" in report.rss_table(results)


def test_targets_pass_and_fail():
    help_info = {"median": 0.1, "times": [0.1] * 3, "heavy": ["numpy"], "error": ""}
    lines = [t.line() for t in report.targets(_fake_results(), help_info)]
    statuses = [line[:4] for line in lines]
    assert statuses == [
        "PASS",  # cv2 at k=256: 3.0 / 0.1 = 30x >= 15x
        "PASS",  # MSE ratio ours/cv2, median: 10 / 10.1 <= 1.00
        "PASS",  # ... and on every photo <= 1.03
        "PASS",  # MSE ratio ours/sklearn: 10 / 9.95 = 1.005 <= 1.01
        "PASS",  # CLI vs pngquant on 12 MP: 2 / 4 = 0.5 <= 0.5
        "PASS",  # MSE 60 <= 61
        "PASS",  # 300 MB <= 12 * 12e6 + 250e6 = 394 MB
        "n/a ",  # 100 MP: not run
        "PASS",  # --help 0.1 s
        "FAIL",  # --help imported numpy
    ], "\n".join(lines)
    assert lines[0].endswith("30.00× over 2 photos")
    assert lines[-1].endswith("imports numpy")


def test_launcher_reports_exit_rss_and_timeout():
    child = tools.run_child([sys.executable, "-c", "import sys; sys.exit(3)"], timeout=60)
    assert child.returncode == 3 and not child.timed_out
    assert child.rss > 1_000_000 and child.seconds > 0
    slow = tools.run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert slow.timed_out and slow.returncode != 0


def test_in_process_tools_on_a_tiny_image(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    img = images.BenchImage("tiny.png", pixels, tmp_path / "tiny.png", "photo")
    ctx = tools.Context(tmp_path, repeats=2, quantize_cmd=["quantize"])
    for key in ("pipeline", "pillow"):
        m = run.measure(img, 4, key, ctx)
        assert m.seconds is not None and m.seconds >= 0, m.note
        assert m.mse is not None and m.mse > 0
        assert "reports MSE" not in m.note  # quantize's own MSE agrees with ours
    broken = run.measure(img, 0, "pipeline", ctx)  # k=0 is refused: a note, not a crash
    assert broken.seconds is None and broken.note.startswith("error: ValueError")


def test_quick_arguments():
    args = run.parse_args(["--quick"])
    assert args.ks == [16] and args.images == ["china.jpg"] and args.no_large
    assert args.repeats == 1 and args.results.name == "RESULTS-partial.md"
    full = run.parse_args([])
    assert full.ks == [16, 64, 256] and list(full.images) == list(images.PHOTOS)
    assert full.results == Path(run.__file__).resolve().parent / "RESULTS.md"
    with pytest.raises(SystemExit):
        run.parse_args(["--tools", "nope"])

"""The HTML report of a batch: the per-image preview, the page, `batch --html` and
`quantize report`. The page in a real browser is tests/test_report_browser.py."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.cli import cli
from quantize.core.colorspace import delta_e_ok
from quantize.errors import QuantizeError
from quantize.image.pipeline import quantize_image
from quantize.io.preview import (CROP_SIDE, DELTA_E_PIXELS, THUMB_SIDE, make_preview,
                                 mean_delta_e_ok, worst_window)
from quantize.io.report_html import render_report
from quantize.run.report import file_href, read_records, report_row, summarize

from conftest import blobs_image


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def page_data(path) -> dict:
    """The rows embedded in a report page."""
    text = Path(path).read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert found, "no data in the page"
    return json.loads(found.group(1))


def decoded(uri: str) -> np.ndarray:
    """The pixels of a data URI."""
    header, payload = uri.split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    with Image.open(io.BytesIO(base64.b64decode(payload))) as im:
        return np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA", "PA") else "RGB"))


def save(path, pixels):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def batch_src(tmp_path):
    """Four images of different difficulty and a file that is not an image."""
    src = tmp_path / "src"
    save(src / "a-blobs.png", blobs_image(40, 56, seed=1))
    rng = np.random.default_rng(3)
    save(src / "b-noise.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    save(src / "c-flat.png", np.full((20, 30, 3), (10, 200, 30), np.uint8))
    save(src / "d-blobs.png", blobs_image(64, 64, seed=2))
    (src / "e-broken.png").write_bytes(b"this is no image")
    return src


# --------------------------------------------------------------------------
# The preview of one image


def test_worst_window_finds_the_error_and_stays_inside_the_image():
    errors = np.zeros((100, 70))
    errors[81:85, 60:63] = 5.0
    x, y, w, h = worst_window(errors, 32)
    assert (w, h) == (32, 32)
    assert x <= 60 and x + w >= 63 and y <= 81 and y + h >= 85
    assert 0 <= x <= 70 - 32 and 0 <= y <= 100 - 32
    assert worst_window(np.ones((10, 12)), 32) == (0, 0, 12, 10)
    # In the last rows and columns, which do not fill a block of the grid.
    errors = np.zeros((37, 50))
    errors[36, 49] = 1.0
    assert worst_window(errors, 32) == (18, 5, 32, 32)
    errors = np.zeros((20, 90))
    errors[19, 89] = 1.0
    assert worst_window(errors, 32) == (58, 0, 32, 20)


def test_mean_delta_e_ok_is_the_mean_over_pixels_or_a_grid_of_them():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    exact = delta_e_ok(a.astype(float), b.astype(float)).mean()
    assert mean_delta_e_ok(a, b) == pytest.approx(exact, rel=1e-9)
    # On a grid: every 2nd row and column for at most 300 of the 1200 pixels.
    grid = delta_e_ok(a[::2, ::2].astype(float), b[::2, ::2].astype(float)).mean()
    assert mean_delta_e_ok(a, b, max_pixels=300) == pytest.approx(grid, rel=1e-9)
    assert mean_delta_e_ok(a, a) == 0.0


def test_preview_shows_the_image_its_output_and_the_worst_crop_exactly():
    pixels = blobs_image(120, 150, seed=4)
    pixels[70:80, 100:110] = (255, 0, 255)  # a colour no code is near: the worst place
    result = quantize_image(pixels, 4, seed=0)
    quantized = result.reconstruct()
    preview = make_preview(pixels, quantized, result.codebook, result.counts)
    assert preview["size"] == [150, 120]
    x, y, w, h = preview["crop"]
    assert (w, h) == (CROP_SIDE, CROP_SIDE)
    assert x <= 100 and x + w >= 110 and y <= 70 and y + h >= 80
    # The crops are lossless, at 1:1.
    assert np.array_equal(decoded(preview["crop_in"]), pixels[y:y + h, x:x + w])
    assert np.array_equal(decoded(preview["crop_out"]), quantized[y:y + h, x:x + w])
    for key in ("thumb_in", "thumb_out"):
        thumb = decoded(preview[key])
        assert max(thumb.shape[:2]) == THUMB_SIDE and thumb.shape[1] == THUMB_SIDE
    assert preview["palette"] == ["#{:02x}{:02x}{:02x}".format(*c) for c in result.codebook]
    assert preview["counts"] == result.counts.tolist()
    # ΔE_OK on the documented grid: every s-th row and column, s = ceil(sqrt(H·W / N)).
    step = math.ceil(math.sqrt(pixels.shape[0] * pixels.shape[1] / DELTA_E_PIXELS))
    assert step > 1
    grid = (slice(None, None, step), slice(None, None, step))
    assert preview["delta_e_ok"] == pytest.approx(
        delta_e_ok(pixels[grid].astype(float), quantized[grid].astype(float)).mean(), abs=1e-6)
    # Plain values only (it travels from a worker), and the same every time.
    assert json.loads(json.dumps(preview)) == preview
    assert make_preview(pixels, quantized, result.codebook, result.counts) == preview


def test_preview_of_an_image_with_transparency_keeps_its_alpha():
    pixels = np.zeros((20, 20, 4), np.uint8)
    pixels[:, :10] = (200, 30, 30, 255)
    pixels[:, 10:] = (0, 0, 0, 0)
    preview = make_preview(pixels, pixels.copy(), np.array([[200, 30, 30, 255], [0, 0, 0, 0]]),
                           [200, 200])
    assert decoded(preview["thumb_in"]).shape == (20, 20, 4)
    assert preview["palette"] == ["#c81e1e", "#00000000"]
    assert preview["delta_e_ok"] == 0.0


# --------------------------------------------------------------------------
# The page


def test_page_escapes_names_and_needs_no_network(tmp_path):
    record = {"input": "x/</script><b>.png", "output": None, "status": "failed",
              "error": "'x': <bad> & worse", "exit_code": 65}
    rows = [report_row(record, str(tmp_path / "r.html"))]
    page = render_report(summarize(rows, title="t <1>"), rows).decode("utf-8")
    assert "</script><b>" not in page and "<bad>" not in page
    assert "t &lt;1&gt;" in page
    assert json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1))[
        "rows"][0]["name"] == record["input"]
    # Nothing is fetched from elsewhere: no URL with a scheme or a host in it.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "default-src 'none'" in page


def test_summary_counts_bytes_and_psnr(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 1000)
    b.write_bytes(b"y" * 250)
    records = [
        {"input": str(a), "output": str(b), "status": "done", "mse": 65.025},   # 30 dB
        {"input": str(a), "output": str(b), "status": "skipped", "mse": 0.0},   # exact
        {"input": str(a), "output": str(b), "status": "done", "mse": 650.25},   # 20 dB
        {"input": "gone", "output": None, "status": "failed", "exit_code": 66},
    ]
    rows = [report_row(r, str(tmp_path / "r.html")) for r in records]
    summary = summarize(rows, title="t", seconds=1.5, exit_code=66)
    assert summary["counts"] == {"done": 2, "skipped": 1, "failed": 1, "cancelled": 0,
                                 "total": 4}
    assert (summary["bytes_in"], summary["bytes_out"]) == (3000, 750)
    assert summary["psnr_median"] == pytest.approx(30.0)
    assert summary["psnr_worst"] == pytest.approx(20.0)
    page = render_report(summary, rows).decode("utf-8")
    assert "3.0 kB → 750 B" in page and "75.0%" in page and "median 30.00 dB" in page


def test_links_are_relative_to_the_page(tmp_path):
    assert file_href(tmp_path / "out" / "a #1.png", tmp_path / "pages" / "r.html") == \
        "../out/a%20%231.png"


# --------------------------------------------------------------------------
# batch --html and quantize report


def test_batch_html_has_a_row_per_input_and_previews_from_the_workers(batch_src, tmp_path):
    html = tmp_path / "report.html"
    result = invoke("batch", batch_src, "-o", tmp_path / "out", "-k", "6", "-j", "2",
                    "--html", html, "--report", tmp_path / "run.jsonl")
    assert result.exit_code == 65, result.output
    rows = page_data(html)["rows"]
    names = [Path(r["name"]).name for r in rows]
    assert names == ["a-blobs.png", "b-noise.png", "c-flat.png", "d-blobs.png", "e-broken.png"]
    report = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    for row, line in zip(rows, report):
        assert row["status"] == line["status"] and row["k"] == line["k"]
        assert row["mse"] == line["mse"] and row["exit_code"] == line["exit_code"]
    broken = rows[4]
    assert broken["status"] == "failed" and broken["exit_code"] == 65
    assert broken["error"] == report[4]["error"] and broken["preview"] is None
    for row in rows[:4]:
        assert row["preview"] is not None and len(row["preview"]["palette"]) == row["k"]
        # The link reaches the output from the page's directory.
        assert (html.parent / row["output_href"]).resolve() == Path(row["output"]).resolve()
        assert row["bytes_out"] == Path(row["output"]).stat().st_size
    # The exact image: PSNR infinite, shown as exact.
    assert rows[2]["mse"] == 0.0 and rows[2]["psnr"] is None
    assert rows[2]["preview"]["delta_e_ok"] == 0.0
    text = html.read_text()
    assert "<b>4</b> done" in text and 'class="bad">1</b> failed' in text
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_a_rerun_that_skips_every_file_shows_the_same_previews(batch_src, tmp_path):
    out = tmp_path / "out"
    invoke("batch", batch_src, "-o", out, "-k", "6", "-j", "1", "--html", tmp_path / "one.html")
    again = invoke("batch", batch_src, "-o", out, "-k", "6", "-j", "1",
                   "--html", tmp_path / "two.html")
    assert again.exit_code == 65
    first, second = page_data(tmp_path / "one.html")["rows"], page_data(tmp_path / "two.html")["rows"]
    assert [r["status"] for r in second] == ["skipped"] * 4 + ["failed"]
    for a, b in zip(first[:4], second[:4]):
        # Made from the files on disk, the same as the worker made from the pixels.
        assert b["preview"] == a["preview"]


@pytest.mark.parametrize("source", ["jsonl", "outdir", "manifest"])
def test_report_rebuilds_the_page_from_a_runs_records(batch_src, tmp_path, monkeypatch, source):
    monkeypatch.chdir(tmp_path)
    invoke("batch", "src", "-o", "out", "-k", "6", "-j", "1", "--html", "first.html",
           "--report", "run.jsonl")
    given = {"jsonl": "run.jsonl", "outdir": "out", "manifest": "out/.quantize-batch.jsonl"}[source]
    result = invoke("report", given, "-o", "again.html")
    assert result.exit_code == 0, result.output
    first = {Path(r["name"]).name: r for r in page_data("first.html")["rows"]}
    again = page_data("again.html")["rows"]
    expected = 5 if source == "jsonl" else 4  # a manifest lists the files done
    assert len(again) == expected
    for row in again:
        before = first[Path(row["name"]).name]
        assert row["status"] in ("done", before["status"])
        assert row["preview"] == before["preview"] and row["mse"] == before["mse"]
        if row["status"] != "failed":
            assert (tmp_path / row["output_href"]).resolve() == Path(before["output"]).resolve()
    if source == "jsonl":
        assert again[4]["error"] == first["e-broken.png"]["error"]


def test_report_refuses_what_is_not_a_batch_record(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"some": 1}\n')
    result = invoke("report", tmp_path / "x.jsonl", "-o", tmp_path / "r.html")
    assert result.exit_code == 65
    assert "neither a batch manifest nor a JSON-lines report" in result.output
    assert invoke("report", tmp_path / "none.jsonl", "-o", tmp_path / "r.html").exit_code == 66
    # The page never replaces the records it is made from.
    assert invoke("report", tmp_path / "x.jsonl", "-o", tmp_path / "x.jsonl").exit_code == 73
    assert (tmp_path / "x.jsonl").read_text() == '{"some": 1}\n'
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(QuantizeError):
        read_records(tmp_path / "x.jsonl")


def test_html_into_a_missing_directory_is_refused_before_any_work(batch_src, tmp_path):
    result = invoke("batch", batch_src, "-o", tmp_path / "out", "--html", tmp_path / "no" / "r.html")
    assert result.exit_code == 73
    assert not (tmp_path / "out").exists()


def test_an_interrupted_batch_still_writes_its_page(tmp_path):
    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    n = 24
    for i in range(n):  # noisy images with many colours: each takes a while
        save(src / f"img{i:02d}.png", rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    out, html = tmp_path / "out", tmp_path / "report.html"
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantize", "batch", str(src), "-o", str(out), "-k", "48",
         "--attempts", "2", "-j", "1", "--html", str(html)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len([p for p in os.listdir(out) if p.endswith(".png")]) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    rows = page_data(html)["rows"]
    assert len(rows) == n
    done = [r for r in rows if r["status"] == "done"]
    assert 2 <= len(done) < n
    assert all(r["preview"] for r in done)
    assert {r["status"] for r in rows} == {"done", "cancelled"}
    assert "interrupted (Ctrl-C)" in html.read_text()


def test_without_html_no_preview_is_made(batch_src, tmp_path, monkeypatch):
    from quantize.io import preview

    def not_asked(*args, **kwargs):
        raise AssertionError("a preview was made without --html")

    monkeypatch.setattr(preview, "make_preview", not_asked)
    result = invoke("batch", batch_src, "-o", tmp_path / "out", "-k", "6", "-j", "1")
    assert result.exit_code == 65, result.output
    assert "4 done, 0 skipped, 1 failed" in result.output


def test_page_inside_an_outdir_that_does_not_exist_yet(tmp_path):
    (tmp_path / "src").mkdir()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "src" / "a.png")

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    r = run("batch", tmp_path / "src", "-o", tmp_path / "out", "--html",
            tmp_path / "out" / "report.html")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "report.html").stat().st_size > 0
    r = run("batch", tmp_path / "src", "-o", tmp_path / "out2", "--html",
            tmp_path / "missing" / "report.html")
    assert r.exit_code == 73 and not (tmp_path / "out2").exists()

"""Batch options shared with ``image`` (--metric), and what the command line prints:
the progress bar counts the files the summary counts, figures are short."""

from __future__ import annotations

import json
import re

import pytest

from quantize.cli.progress import BatchPrinter
from quantize.run.batch import FileResult


def test_batch_metric_gives_what_image_gives(run, blobs_png, tmp_path):
    r = run("batch", blobs_png, "-o", tmp_path / "out", "-k", "4", "--metric", "manhattan",
            "--no-progress")
    assert r.exit_code == 0, r.output
    r = run("image", blobs_png, "-o", tmp_path / "one.png", "-k", "4", "--metric", "manhattan")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "blobs.png").read_bytes() == (tmp_path / "one.png").read_bytes()
    r = run("image", blobs_png, "-o", tmp_path / "euclid.png", "-k", "4")
    assert (tmp_path / "euclid.png").read_bytes() != (tmp_path / "one.png").read_bytes()


def test_batch_redoes_outputs_when_the_metric_changes(run, blobs_png, tmp_path):
    base = ["batch", blobs_png, "-o", tmp_path / "out", "-k", "4", "--no-progress", "--json"]
    first = json.loads(run(*base).stdout)
    same = json.loads(run(*base, "--metric", "euclidean").stdout)
    other = json.loads(run(*base, "--metric", "cosine").stdout)
    assert (first["done"], same["skipped"], other["done"]) == (1, 1, 1)


def test_batch_metric_is_unused_with_a_codebook(run, blobs_png, tmp_path):
    book = tmp_path / "book.json"
    assert run("palette", blobs_png, "-k", "4", "-o", book).exit_code == 0
    r = run("batch", blobs_png, "-o", tmp_path / "out", "--codebook", book, "--metric",
            "manhattan", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "--metric not used" in r.stderr


def test_progress_bar_counts_every_file_the_summary_counts():
    printer = BatchPrinter(progress=True)
    printer("result", FileResult("gone.png", None, "failed", error="'gone.png': no such file",
                                 exit_code=66))
    printer("result", FileResult("old.png", "out/old.png", "skipped"))
    printer("start", {"total": 4, "todo": 2, "jobs": 1})
    assert (printer.bar.n, printer.bar.total) == (2, 4)
    printer("result", FileResult("a.png", "out/a.png", "done", k=2, mse=1.0))
    printer("result", FileResult("b.png", "out/b.png", "failed", error="'b.png': bad",
                                 exit_code=65))
    assert (printer.bar.n, printer.bar.total) == (4, 4)
    printer.close()


def test_progress_bar_total_is_the_summary_total(run, blobs_png, tmp_path):
    outdir = tmp_path / "out"
    assert run("batch", blobs_png, "-o", outdir, "--no-progress").exit_code == 0
    r = run("batch", blobs_png, tmp_path / "missing.png", tmp_path / "in", "-o", outdir,
            "--progress", "--force")
    summary_total = sum(int(n) for n in re.findall(r"(\d+) (?:done|skipped|failed)", r.stderr))
    bars = re.findall(r"\d+/(\d+) ", r.stderr)
    assert bars and {int(t) for t in bars} == {summary_total}
    assert r.exit_code == 66


LONG_FIGURE = re.compile(r"\d\.\d{4,}")


@pytest.mark.parametrize("command", ["image", "apply", "batch", "palette", "elbow"])
def test_figures_are_printed_short(run, blobs_png, tmp_path, command):
    book = tmp_path / "book.json"
    assert run("palette", blobs_png, "-k", "4", "-o", book).exit_code == 0
    args = {
        "image": ["image", blobs_png, "-k", "4", "-o", tmp_path / "o.jpg", "--mode",
                  "reconstruct"],
        "apply": ["apply", blobs_png, "-c", book, "-o", tmp_path / "a.png"],
        "batch": ["batch", blobs_png, "-o", tmp_path / "out", "-k", "4", "--no-progress"],
        "palette": ["palette", blobs_png, "-k", "4", "-o", tmp_path / "p.json"],
        "elbow": ["elbow", blobs_png, "--k", "2..5"],
    }[command]
    r = run(*args, "-v")
    assert r.exit_code == 0, r.output
    text = r.stderr + r.stdout
    assert "mse=" in text or "mse" in text
    assert not LONG_FIGURE.search(text), text

"""`quantize batch` and `palette` on Dask, against a real LocalCluster.

The cluster has 2 worker *processes* (one thread each) on 127.0.0.1, started
once for the module; the CLI reaches it by its tcp:// address, as it would a
remote scheduler. Skipped when dask.distributed is not installed (the extra
``quantize[dask]``, which the ``test`` extra includes).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import numpy as np  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

from quantize.run import batch as batchlib  # noqa: E402
from quantize.run import distributed as qdist  # noqa: E402
from quantize.cli import cli  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def blobs(seed, height=24, width=32):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(5, 3))
    which = rng.integers(0, len(centres), size=(height, width))
    noise = rng.integers(-14, 15, size=(height, width, 3))
    return np.clip(centres[which] + noise, 0, 255).astype(np.uint8)


def files(folder):
    """{relative path: bytes} of every non-hidden file below ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def report_lines(path):
    """The report's lines without timings, outputs relative to their OUTDIR."""
    lines = []
    for line in Path(path).read_text().splitlines():
        rec = json.loads(line)
        rec.pop("seconds")
        if rec["output"]:
            rec["output"] = Path(rec["output"]).name
        lines.append(rec)
    return lines


@pytest.fixture(scope="module")
def scheduler():
    """The address of a 2-worker LocalCluster (processes) on 127.0.0.1."""
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """Three sample photos (downscaled), two synthetic samples, blobs, and one bad file."""
    folder = tmp_path_factory.mktemp("src")
    for name in ("chelsea.png", "coffee.png", "china.jpg"):
        with Image.open(SAMPLES / name) as im:
            small = im.convert("RGB").resize((160, 120), Image.BILINEAR)
        small.save(folder / (Path(name).stem + ".png"))
    for name in ("five-colours.png", "gradient.png"):
        shutil.copy(SAMPLES / name, folder / name)
    for seed in range(3):
        Image.fromarray(blobs(seed)).save(folder / f"blobs{seed}.png")
    (folder / "bad.png").write_bytes(b"this is not a PNG\n")
    return folder


def test_batch_on_dask_equals_the_local_pool_and_a_rerun_skips(scheduler, src, tmp_path,
                                                                monkeypatch):
    # Relative paths, from a directory that is not the workers' working directory.
    monkeypatch.chdir(tmp_path)
    local, dask_out = Path("local"), Path("dask")
    args = [os.path.relpath(src), "-k", "8", "--write-codebooks"]
    r = invoke("batch", *args, "-o", local, "-j", "2", "--report", tmp_path / "local.jsonl")
    assert r.exit_code == 65, r.output
    d = invoke("batch", *args, "-o", dask_out, "--scheduler", scheduler,
               "--report", tmp_path / "dask.jsonl")
    assert d.exit_code == 65, d.output
    assert "bad.png" in d.stderr and "8 done, 0 skipped, 1 failed" in d.stderr
    # Byte-for-byte the same outputs (images and per-image codebooks), no temp files.
    assert files(dask_out) == files(local)
    assert len(files(local)) == 16
    assert not [p for p in dask_out.rglob("*.tmp")]
    assert report_lines(tmp_path / "dask.jsonl") == report_lines(tmp_path / "local.jsonl")
    assert f"quantize: error: {os.path.join(os.path.relpath(src), 'bad.png')!r}" in d.stderr
    # The client wrote the manifest: a rerun (through $QUANTIZE_SCHEDULER) skips.
    before = {p.name: p.stat().st_mtime_ns for p in dask_out.iterdir()}
    again = invoke("batch", *args, "-o", dask_out, "--report", tmp_path / "again.jsonl",
                   env={"QUANTIZE_SCHEDULER": scheduler})
    assert again.exit_code == 65, again.output
    assert "0 done, 8 skipped, 1 failed" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in dask_out.iterdir()} == before
    statuses = sorted(rec["status"] for rec in report_lines(tmp_path / "again.jsonl"))
    assert statuses == ["failed"] + ["skipped"] * 8


@pytest.mark.parametrize("options", [
    ["--dither", "floyd-steinberg", "--sort", "luminance"],
    ["--color-space", "oklab", "--mode", "reconstruct"],
    ["--background", "white", "--dither", "ordered"],
])
def test_batch_of_half_transparent_images_on_dask_equals_local(scheduler, tmp_path, options):
    folder = tmp_path / "rgba"
    folder.mkdir()
    for seed in range(4):
        rgba = np.dstack([blobs(seed), np.full((24, 32), 255, np.uint8)])
        rgba[: 10, :, 3] = 0
        rgba[10:, : 8, 3] = 90
        Image.fromarray(rgba).save(folder / f"h{seed}.png")
    args = [str(folder), "-k", "6", "--write-codebooks", *options]
    r = invoke("batch", *args, "-o", tmp_path / "local", "-j", "2",
               "--report", tmp_path / "local.jsonl")
    assert r.exit_code == 0, r.output
    d = invoke("batch", *args, "-o", tmp_path / "dask", "--scheduler", scheduler,
               "--report", tmp_path / "dask.jsonl")
    assert d.exit_code == 0, d.output
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    assert len(files(tmp_path / "local")) == 8
    strip = [{k: v for k, v in line.items() if k not in ("seconds", "output")}
             for line in report_lines(tmp_path / "local.jsonl")]
    assert strip == [{k: v for k, v in line.items() if k not in ("seconds", "output")}
                     for line in report_lines(tmp_path / "dask.jsonl")]


def test_files_per_task():
    # Cut into at least 8 tasks per worker thread, at most 8 files per task.
    assert qdist._files_per_task(100, 2) == 6
    assert qdist._files_per_task(10, 2) == 1
    assert qdist._files_per_task(0, 2) == 1
    assert qdist._files_per_task(10 ** 6, 64) == 8


def test_files_per_task_from_the_environment(monkeypatch):
    monkeypatch.setenv(qdist.FILES_PER_TASK_ENV, "3")
    assert qdist._files_per_task(100, 2) == 3
    monkeypatch.setenv(qdist.FILES_PER_TASK_ENV, "0")  # not positive: the rule
    assert qdist._files_per_task(100, 2) == 6


def test_several_files_per_task_give_the_local_outputs_and_report(scheduler, src, tmp_path,
                                                                  monkeypatch):
    # One task per worker thread: 9 files on 2 threads go 4 to a task (the
    # bad file among them), so the tasks carry several files each.
    monkeypatch.setattr(qdist, "_TASKS_PER_THREAD", 1)
    assert qdist._files_per_task(9, 2) == 4
    args = [src, "-k", "8", "--write-codebooks"]
    r = invoke("batch", *args, "-o", tmp_path / "local", "-j", "2",
               "--report", tmp_path / "local.jsonl")
    d = invoke("batch", *args, "-o", tmp_path / "dask", "--scheduler", scheduler,
               "--report", tmp_path / "dask.jsonl")
    assert (r.exit_code, d.exit_code) == (65, 65), d.output
    assert "8 done, 0 skipped, 1 failed" in d.stderr
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    assert len(files(tmp_path / "local")) == 16
    assert report_lines(tmp_path / "dask.jsonl") == report_lines(tmp_path / "local.jsonl")


def test_a_stopped_task_starts_no_further_file(scheduler, tmp_path):
    # A task of 8 files on a worker; once it runs, the batch is stopped (what
    # the first Ctrl-C does): the file in progress finishes, no other starts.
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    with Image.open(SAMPLES / "china.jpg") as im:
        photo = im.convert("RGB")
    tasks = []
    for i in range(8):
        photo.save(src / f"p{i}.png")
        tasks.append((str(src / f"p{i}.png"), str(out / f"p{i}.png"), None))
    settings = batchlib.BatchSettings(k=64)
    prefix = "quantize-file-test-stop-"
    with distributed.Client(scheduler, timeout=10) as client:
        fut = client.submit(qdist._files_task, settings, tasks, str(tmp_path), prefix,
                            pure=False, key=prefix + "0")
        deadline = time.monotonic() + 30
        while not any(client.run(qdist._executing, prefix).values()):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        client.run(qdist._stop, prefix)
        payloads = fut.result(timeout=60)
    assert 1 <= len(payloads) < 8
    assert all(p["status"] == "done" for p in payloads)
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(len(payloads))]


def test_palette_on_dask_equals_local(scheduler, src, tmp_path):
    good = sorted(str(p) for p in src.iterdir() if p.name != "bad.png")
    r = invoke("palette", *good, "-k", "12", "-o", tmp_path / "local.json")
    assert r.exit_code == 0, r.output
    d = invoke("palette", *good, "-k", "12", "-o", tmp_path / "dask.json",
               "--scheduler", scheduler)
    assert d.exit_code == 0, d.output
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    # An undecodable input is named and left out, as locally: exit 65, and
    # the codebook of the good ones, byte for byte the local one.
    bad = invoke("palette", *good, str(src / "bad.png"), "-k", "12", "-o", tmp_path / "bad.json",
                 "--scheduler", scheduler)
    assert bad.exit_code == 65, bad.output
    assert "bad.png" in bad.stderr
    assert (tmp_path / "bad.json").read_bytes() == (tmp_path / "local.json").read_bytes()


@pytest.mark.parametrize("options", [
    [],
    ["--color-space", "oklab", "--sort", "luminance"],
    ["--background", "white"],
])
def test_palette_of_half_transparent_images_on_dask_equals_local(scheduler, tmp_path, options):
    folder = tmp_path / "rgba"
    folder.mkdir()
    for seed in range(3):
        rgba = np.dstack([blobs(seed), np.full((24, 32), 255, np.uint8)])
        rgba[: 12, :, 3] = 0  # the top half fully transparent
        rgba[12:, : 8, 3] = 128
        Image.fromarray(rgba).save(folder / f"h{seed}.png")
    paths = sorted(str(p) for p in folder.iterdir())
    r = invoke("palette", *paths, "-k", "8", "-o", tmp_path / "local.json", *options)
    assert r.exit_code == 0, r.output
    d = invoke("palette", *paths, "-k", "8", "-o", tmp_path / "dask.json", *options,
               "--scheduler", scheduler)
    assert d.exit_code == 0, d.output
    local = json.loads((tmp_path / "local.json").read_text())
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    if not options:  # transparent pixels are left out: no black entry made of them
        assert [0, 0, 0] not in local["colors"]


def test_ctrl_c_cancels_outstanding_futures(scheduler, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for seed in range(40):
        Image.fromarray(blobs(seed, 48, 64)).save(src / f"b{seed:02d}.png")
    out = tmp_path / "out"
    settings = batchlib.BatchSettings(k=6)
    items = batchlib.plan_batch([str(src)], str(out), settings)

    def on_event(event, payload):
        if event == "result" and payload.status == "done" and not on_event.sent:
            on_event.sent = True
            os.kill(os.getpid(), signal.SIGINT)  # counted, acted on at the next step
    on_event.sent = False

    with distributed.Client(scheduler, timeout=10) as client:
        summary = batchlib.run_batch(items, settings, str(out), callback=on_event,
                                     backend=qdist.DaskBackend(client))
        assert summary.interrupted and summary.exit_code == 130
        assert 1 <= summary.count("done") < 40
        assert summary.count("cancelled") == 40 - summary.count("done")
    assert not list(out.rglob("*.tmp"))
    for p in out.glob("*.png"):
        with Image.open(p) as im:
            im.load()
    # The manifest holds exactly the files recorded as done; a rerun does the rest.
    recorded = [json.loads(line)["output"]
                for line in (out / batchlib.MANIFEST_NAME).read_text().splitlines()]
    assert len(recorded) == summary.count("done")
    r = invoke("batch", src, "-o", out, "-k", "6", "--scheduler", scheduler)
    assert r.exit_code == 0, r.output
    assert f"{40 - summary.count('done')} done, {summary.count('done')} skipped" in r.stderr


def test_an_unanswering_scheduler_is_a_clear_error_not_a_hang(src, tmp_path):
    started = time.monotonic()
    r = invoke("batch", src, "-o", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1",
               "--scheduler-timeout", "1")
    assert time.monotonic() - started < 8
    assert r.exit_code == 69, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantize: error: Dask scheduler")
    assert "tcp://127.0.0.1:1" in lines[0] and "did not answer within 1 s" in lines[0]
    assert not (tmp_path / "out").exists()
    p = invoke("palette", src / "gradient.png", "-o", tmp_path / "p.json",
               "--scheduler-timeout", "1", env={"QUANTIZE_SCHEDULER": "tcp://127.0.0.1:1"})
    assert p.exit_code == 69 and not (tmp_path / "p.json").exists()
    # A malformed address is a usage error.
    m = invoke("batch", src, "-o", tmp_path / "out", "--scheduler", "bogus::addr")
    assert m.exit_code == 2 and "bogus::addr" in m.stderr


def test_without_dask_the_option_is_a_usage_error_naming_the_extra(src, tmp_path, monkeypatch):
    monkeypatch.setattr(qdist, "dask_available", lambda: False)
    r = invoke("batch", src, "-o", tmp_path / "out", "--scheduler", "local-dask")
    assert r.exit_code == 2
    assert "pip install 'quantize[dask]'" in r.stderr
    assert not (tmp_path / "out").exists()
    p = invoke("palette", src / "gradient.png", "-o", tmp_path / "p.json",
               env={"QUANTIZE_SCHEDULER": "local-dask"})
    assert p.exit_code == 2 and "quantize[dask]" in p.stderr


def test_help_and_the_cli_import_no_dask():
    code = ("import sys, quantize.cli, quantize.run.batch, quantize.run.distributed\n"
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    r = invoke("batch", "--help")
    assert "--scheduler" in r.output and "QUANTIZE_SCHEDULER" in r.output
    assert "69" in invoke("--help").output


def test_batch_html_on_dask_has_previews_made_by_the_workers(scheduler, src, tmp_path,
                                                             monkeypatch):
    import re

    def rows(page):
        text = Path(page).read_text(encoding="utf-8")
        data = re.search(r'id="report-data">(.*?)</script>', text, re.S).group(1)
        return json.loads(data)["rows"]

    args = [src, "-k", "8"]
    r = invoke("batch", *args, "-o", tmp_path / "local", "-j", "2", "--html", tmp_path / "l.html")
    assert r.exit_code == 65, r.output

    # The client makes no preview: the workers (other processes) do.
    def not_here(*args, **kwargs):
        raise AssertionError("a preview was made on the client")

    from quantize.io import preview

    monkeypatch.setattr(preview, "make_preview", not_here)
    monkeypatch.setattr(preview, "preview_from_files", not_here)
    d = invoke("batch", *args, "-o", tmp_path / "dask", "--scheduler", scheduler,
               "--html", tmp_path / "d.html")
    assert d.exit_code == 65, d.output
    local, dask_rows = rows(tmp_path / "l.html"), rows(tmp_path / "d.html")
    assert [r["status"] for r in dask_rows] == [r["status"] for r in local]
    done = [r for r in dask_rows if r["status"] == "done"]
    assert len(done) == 8
    for a, b in zip(local, dask_rows):
        assert b["preview"] == a["preview"]
    # What came back is the thumbnails, crops, palette and figures: a few kB, no pixels.
    for row in done:
        assert set(row["preview"]) == {"size", "thumb_in", "thumb_out", "crop", "crop_in",
                                       "crop_out", "palette", "counts", "delta_e_ok"}
        assert len(json.dumps(row["preview"])) < 20_000

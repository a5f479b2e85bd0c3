"""`quantize batch`, `palette` and `apply`: directories, resumable runs, reports,
interrupts, shared palettes, and the example Makefile of samples/."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.run import batch as batchlib
from quantize.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
REPORT_FIELDS = {"input", "output", "status", "k", "inertia", "mse", "seconds", "error"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def blobs(height=24, width=32, seed=0):
    """Noisy colour blobs: hundreds of colours around a few centres."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(5, 3))
    which = rng.integers(0, len(centres), size=(height, width))
    noise = rng.integers(-14, 15, size=(height, width, 3))
    return np.clip(centres[which] + noise, 0, 255).astype(np.uint8)


def save(path, pixels, **params):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **params)
    return path


def decodes(path):
    """True when Pillow opens and fully decodes the file."""
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def tree(folder):
    """Every file below ``folder`` (relative, sorted), hidden ones included."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def stamps(folder):
    """(inode, mtime_ns) of every image file below ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def no_temp_files(folder):
    return [name for name in tree(folder) if name.endswith(".tmp")] == []


@pytest.fixture
def mixed(tmp_path):
    """A source tree: good PNG/JPEG images (one in a subdirectory), a truncated
    PNG and a text file named .jpg."""
    src = tmp_path / "src"
    save(src / "a.png", blobs(seed=1))
    save(src / "b.png", blobs(seed=2))
    save(src / "c.jpg", blobs(seed=3), quality=95)
    save(src / "sub" / "d.png", blobs(seed=4))
    whole = (src / "b.png").read_bytes()
    (src / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (src / "text.jpg").write_text("this is not a JPEG\n")
    (src / "notes.txt").write_text("not an image extension: not picked up\n")
    return src


# --------------------------------------------------------------------------
# Bad files, reruns, the report


def test_bad_files_are_reported_and_good_ones_written(mixed, tmp_path):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    r = invoke("batch", mixed, "-o", out, "-r", "-k", "4", "-j", "2", "--report", report)
    assert r.exit_code == 65, r.output
    assert [n for n in tree(out) if not n.startswith(".")] == ["a.png", "b.png", "c.png",
                                                               "sub/d.png"]
    assert all(decodes(out / n) for n in ["a.png", "b.png", "c.png", "sub/d.png"])
    assert no_temp_files(out)
    # One line per failure, naming the file.
    errors = [line for line in r.stderr.splitlines() if line.startswith("quantize: error:")]
    assert len(errors) == 2
    assert any("truncated.png" in line for line in errors)
    assert any("text.jpg" in line for line in errors)
    assert "4 done, 0 skipped, 2 failed" in r.stderr

    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 6
    for line in lines:
        assert REPORT_FIELDS <= set(line)
    by_name = {Path(line["input"]).name: line for line in lines}
    assert by_name["truncated.png"]["status"] == "failed"
    assert by_name["truncated.png"]["exit_code"] == 65
    assert "truncated.png" in by_name["truncated.png"]["error"]
    assert by_name["a.png"]["status"] == "done"
    assert by_name["a.png"]["k"] == 4 and by_name["a.png"]["error"] is None
    assert by_name["a.png"]["mse"] == pytest.approx(by_name["a.png"]["inertia"] / (24 * 32 * 3))
    assert by_name["a.png"]["output"] == str(out / "a.png")

    # A rerun skips the finished files without touching them, and retries the bad ones.
    before = stamps(out)
    time.sleep(0.01)
    r2 = invoke("batch", mixed, "-o", out, "-r", "-k", "4", "-j", "2", "--report", report)
    assert r2.exit_code == 65
    assert "0 done, 4 skipped, 2 failed" in r2.stderr
    assert stamps(out) == before
    statuses = sorted(json.loads(line)["status"] for line in report.read_text().splitlines())
    assert statuses == ["failed", "failed", "skipped", "skipped", "skipped", "skipped"]
    skipped = [json.loads(line) for line in report.read_text().splitlines()
               if json.loads(line)["status"] == "skipped"]
    assert all(line["k"] == 4 and line["mse"] is not None for line in skipped)


def test_rerun_redoes_what_changed(tmp_path):
    src = tmp_path / "src"
    for i in range(3):
        save(src / f"{i}.png", blobs(seed=i))
    out = tmp_path / "out"
    assert invoke("batch", src, "-o", out, "-k", "4", "-j", "1").exit_code == 0
    first = stamps(out)

    # A newer input is redone; the others are not.
    time.sleep(0.01)
    save(src / "1.png", blobs(seed=11))
    r = invoke("batch", src, "-o", out, "-k", "4", "-j", "1")
    assert r.exit_code == 0 and "1 done, 2 skipped" in r.stderr
    now = stamps(out)
    assert now["0.png"] == first["0.png"] and now["2.png"] == first["2.png"]
    assert now["1.png"] != first["1.png"]

    # A missing output is redone.
    (out / "2.png").unlink()
    assert "1 done, 2 skipped" in invoke("batch", src, "-o", out, "-k", "4").stderr

    # Other options redo everything; --force too.
    assert "3 done, 0 skipped" in invoke("batch", src, "-o", out, "-k", "3").stderr
    assert "0 done, 3 skipped" in invoke("batch", src, "-o", out, "-k", "3").stderr
    assert "3 done, 0 skipped" in invoke("batch", src, "-o", out, "-k", "3", "--force").stderr

    # An input replaced by an older file (as `cp -p` or `mv` would) is redone too,
    # though the output is newer than it.
    old = (src / "0.png").stat()
    save(src / "0.png", blobs(seed=20))
    past = old.st_mtime_ns - 10**10
    os.utime(src / "0.png", ns=(past, past))
    assert "1 done, 2 skipped" in invoke("batch", src, "-o", out, "-k", "3").stderr


def test_jobs_1_and_2_give_identical_bytes_and_match_image(tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        save(src / f"img{i}.png", blobs(40, 30, seed=i))
    for jobs in ("1", "2"):
        r = invoke("batch", src, "-o", tmp_path / f"out{jobs}", "-k", "6", "-j", jobs,
                   "--mode", "reconstruct")
        assert r.exit_code == 0, r.output
    for i in range(5):
        one = (tmp_path / "out1" / f"img{i}.png").read_bytes()
        assert one == (tmp_path / "out2" / f"img{i}.png").read_bytes()
    # The same bytes as the single-image command.
    assert invoke("image", src / "img3.png", "-o", tmp_path / "single.png", "-k", "6",
                  "--mode", "reconstruct").exit_code == 0
    assert (tmp_path / "single.png").read_bytes() == (tmp_path / "out2" / "img3.png").read_bytes()


def test_most_severe_exit_code_is_independent_of_order():
    assert batchlib.most_severe([66, 65]) == batchlib.most_severe([65, 66]) == 65
    assert batchlib.most_severe([99, 0, 66]) == 66
    assert batchlib.most_severe([65, 73, 74, 70]) == 70
    assert batchlib.most_severe([73, 74]) == 74
    assert batchlib.most_severe([0, 0]) == 0


def test_missing_source_is_66_and_bad_image_wins_with_65(tmp_path):
    src = tmp_path / "src"
    save(src / "ok.png", blobs())
    r = invoke("batch", src, tmp_path / "nope", "-o", tmp_path / "out")
    assert r.exit_code == 66
    assert "nope" in r.stderr
    (src / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    r = invoke("batch", tmp_path / "nope", src, "-o", tmp_path / "out")
    assert r.exit_code == 65
    assert decodes(tmp_path / "out" / "ok.png")


# --------------------------------------------------------------------------
# Names and trees


def test_output_tree_mirrors_input_tree(mixed, tmp_path):
    (mixed / "truncated.png").unlink()
    (mixed / "text.jpg").unlink()
    r = invoke("batch", mixed, "-o", tmp_path / "flat", "-k", "4")
    assert r.exit_code == 0
    assert tree(tmp_path / "flat") == [".quantize-batch.jsonl", "a.png", "b.png", "c.png"]
    r = invoke("batch", mixed, "-o", tmp_path / "rec", "-k", "4", "--recursive",
               "--mode", "reconstruct")
    assert r.exit_code == 0
    # Reconstruct mode keeps each input's format.
    assert tree(tmp_path / "rec")[1:] == ["a.png", "b.png", "c.jpg", "sub/d.png"]
    with Image.open(tmp_path / "rec" / "c.jpg") as im:
        assert im.format == "JPEG"
    r = invoke("batch", mixed, "-o", tmp_path / "webp", "-k", "4", "-r", "--mode", "reconstruct",
               "--format", "webp", "--pattern", "*.png")
    assert r.exit_code == 0
    assert tree(tmp_path / "webp")[1:] == ["a.webp", "b.webp", "sub/d.webp"]


def test_colliding_outputs_and_output_inside_source(tmp_path):
    src = tmp_path / "src"
    save(src / "x.png", blobs(seed=1))
    save(src / "x.jpg", blobs(seed=2))
    # Palette mode maps both to x.png: the second input is refused (73).
    r = invoke("batch", src, "-o", src / "out", "-r", "-k", "4")
    assert r.exit_code == 73
    assert "x.png" in r.stderr
    assert tree(src / "out") == [".quantize-batch.jsonl", "x.png"]
    # The output directory inside the source is not read back as input.
    (src / "x.jpg").unlink()
    r = invoke("batch", src, "-o", src / "out", "-r", "-k", "4", "--report", tmp_path / "r.jsonl")
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["input"] for line in lines] == [str(src / "x.png")]
    # The source directory itself as output is refused.
    r = invoke("batch", src, "-o", src, "-k", "4")
    assert r.exit_code == 73


def test_write_codebooks_beside_outputs(tmp_path):
    src = tmp_path / "src"
    save(src / "a.png", blobs(seed=1))
    r = invoke("batch", src, "-o", tmp_path / "out", "-k", "5", "--write-codebooks")
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "out" / "a.json").read_text())
    with Image.open(tmp_path / "out" / "a.png") as im:
        palette = np.array(im.getpalette()[: 3 * doc["k"]]).reshape(-1, 3)
    assert palette.tolist() == doc["colors"]
    # The codebook is part of being up to date.
    (tmp_path / "out" / "a.json").unlink()
    assert "1 done" in invoke("batch", src, "-o", tmp_path / "out", "-k", "5",
                              "--write-codebooks").stderr


def test_progress_bar_only_when_asked(tmp_path):
    src = tmp_path / "src"
    for i in range(3):
        save(src / f"{i}.png", blobs(seed=i))
    quiet = invoke("batch", src, "-o", tmp_path / "o1", "-k", "3", "-j", "1")
    assert "img/s" not in quiet.stderr  # stderr is not a terminal
    shown = invoke("batch", src, "-o", tmp_path / "o2", "-k", "3", "-j", "1", "--progress")
    assert shown.exit_code == 0
    assert "img/s" in shown.stderr


def test_json_summary(tmp_path, mixed):
    r = invoke("batch", mixed, "-o", tmp_path / "out", "-k", "4", "--json", "-j", "1")
    assert r.exit_code == 65
    summary = json.loads(r.stdout)
    assert summary["done"] == 3 and summary["failed"] == 2 and summary["exit_code"] == 65


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                    reason="needs forked workers to see the patched function")
def test_a_worker_that_dies_costs_only_its_file(tmp_path, monkeypatch):
    src = tmp_path / "src"
    for i in range(6):
        save(src / f"{i}.png", blobs(seed=i))
    real = batchlib._process_file

    def dying(settings, input_path, *args):
        if input_path.endswith("3.png"):
            os._exit(9)
        return real(settings, input_path, *args)

    monkeypatch.setattr(batchlib, "_process_file", dying)
    settings = batchlib.BatchSettings(k=3)
    items = batchlib.plan_batch([str(src)], str(tmp_path / "out"), settings)
    summary = batchlib.run_batch(items, settings, str(tmp_path / "out"), jobs=2)
    status = {Path(r.input).name: r.status for r in summary.results}
    assert status.pop("3.png") == "failed"
    assert set(status.values()) == {"done"}
    assert summary.exit_code == 70


# --------------------------------------------------------------------------
# Ctrl-C


def test_interrupted_batch_leaves_only_complete_files(tmp_path):
    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    n = 24
    for i in range(n):  # noisy images with many colours: each takes a while
        save(src / f"img{i:02d}.png", rng.integers(0, 256, (96, 96, 3), dtype=np.uint8),
             compress_level=0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantize", "batch", str(src), "-o", str(out), "-k", "48",
         "--attempts", "2", "-j", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.is_dir() and len([n for n in os.listdir(out) if n.endswith(".png")]) >= 2:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    written = [name for name in tree(out) if name.endswith(".png")]
    assert 2 <= len(written) < n
    assert no_temp_files(out)
    for name in written:
        assert decodes(out / name), name

    # A rerun continues where it stopped.
    before = stamps(out)
    r = subprocess.run([sys.executable, "-m", "quantize", "batch", str(src), "-o", str(out),
                        "-k", "48", "--attempts", "2", "-j", "2", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["skipped"] == len(written)  # every finished file was recorded
    assert summary["done"] + summary["skipped"] == n
    after = stamps(out)
    assert sum(after[name] == before[name] for name in before) == summary["skipped"]


# --------------------------------------------------------------------------
# One palette for many images


def test_palette_then_apply(tmp_path):
    a = save(tmp_path / "a.png", blobs(seed=1))
    b = save(tmp_path / "b.png", blobs(seed=2))
    c = save(tmp_path / "c.png", blobs(seed=3))
    book = tmp_path / "shared.json"
    r = invoke("palette", a, b, "-k", "6", "-o", book, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(book.read_text())
    assert doc["k"] == 6 and doc["n_pixels"] == 2 * 24 * 32
    assert json.loads(r.stdout)["images"] == 2
    colours = {tuple(row) for row in doc["colors"]}

    out = tmp_path / "c-shared.png"
    r = invoke("apply", c, "-c", book, "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.mode == "P"
        assert np.array(im.getpalette()[:18]).reshape(-1, 3).tolist() == doc["colors"]
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert {tuple(p) for p in rgb.tolist()} <= colours

    r = invoke("apply", c, "-c", book, "-o", tmp_path / "c.jpg", "--mode", "reconstruct",
               "--format", "png")
    assert r.exit_code == 0
    with Image.open(tmp_path / "c.jpg") as im:
        assert im.format == "PNG"
        assert {tuple(p) for p in np.asarray(im.convert("RGB")).reshape(-1, 3).tolist()} <= colours

    # batch --codebook reads the codebook and does the same for a directory.
    r = invoke("batch", a, b, c, "-o", tmp_path / "shared", "--codebook", book)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "shared" / "c.png").read_bytes() == out.read_bytes()
    # A new codebook redoes the outputs.
    assert invoke("palette", a, "-k", "3", "-o", book).exit_code == 0
    r = invoke("batch", a, b, c, "-o", tmp_path / "shared", "--codebook", book)
    assert "3 done" in r.stderr


def test_palette_equals_image_for_one_image(tmp_path):
    a = save(tmp_path / "a.png", blobs(seed=5))
    assert invoke("palette", a, "-k", "5", "-o", tmp_path / "p.json").exit_code == 0
    assert invoke("image", a, "-k", "5", "-o", tmp_path / "a-q.png",
                  "--codebook", tmp_path / "i.json").exit_code == 0
    p = json.loads((tmp_path / "p.json").read_text())
    i = json.loads((tmp_path / "i.json").read_text())
    assert p["colors"] == i["colors"] and p["counts"] == i["counts"]


def test_palette_goes_on_past_bad_inputs_and_names_each(tmp_path):
    good = [save(tmp_path / f"g{i}.png", blobs(seed=i)) for i in range(3)]
    bad = []
    for i in range(3):
        path = tmp_path / f"bad{i}.png"
        path.write_text("nope")
        bad.append(path)
    missing = tmp_path / "missing.png"
    r = invoke("palette", good[0], bad[0], good[1], bad[1], missing, good[2], bad[2],
               "-k", "4", "-o", tmp_path / "p.json", "--json")
    # The most severe of 65 (not an image) and 66 (missing).
    assert r.exit_code == 65
    for path in bad + [missing]:
        assert sum(str(path) in line for line in r.stderr.splitlines()) == 1
    summary = json.loads(r.stdout)
    assert summary["images"] == 3 and summary["failed"] == 4
    # The codebook is the one of the good images alone.
    alone = invoke("palette", *good, "-k", "4", "-o", tmp_path / "alone.json")
    assert alone.exit_code == 0
    assert (json.loads((tmp_path / "p.json").read_text())["colors"]
            == json.loads((tmp_path / "alone.json").read_text())["colors"])


def test_palette_warning_about_frames_names_its_file(tmp_path):
    frames = [Image.new("RGB", (8, 8), (60 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    a = save(tmp_path / "a.png", blobs(seed=1))
    r = invoke("palette", tmp_path / "anim.gif", a, "-k", "4", "-o", tmp_path / "p.json")
    assert r.exit_code == 0
    [line] = [line for line in r.stderr.splitlines() if "frames" in line]
    assert line.startswith("quantize: warning: ") and "anim.gif" in line


def test_palette_with_no_readable_input_writes_nothing(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    r = invoke("palette", bad, tmp_path / "missing.png", "-o", tmp_path / "p.json")
    assert r.exit_code == 65 and not (tmp_path / "p.json").exists()
    assert "none of the 2 inputs could be read" in r.stderr


def test_palette_and_apply_errors(tmp_path):
    a = save(tmp_path / "a.png", blobs(seed=1))
    r = invoke("apply", a, "-c", tmp_path / "missing.json", "-o", tmp_path / "o.png")
    assert r.exit_code == 66 and not (tmp_path / "o.png").exists()
    (tmp_path / "junk.json").write_text("{}")
    r = invoke("apply", a, "-c", tmp_path / "junk.json", "-o", tmp_path / "o.png")
    assert r.exit_code == 65 and not (tmp_path / "o.png").exists()
    r = invoke("batch", tmp_path, "-o", tmp_path / "out", "--codebook", tmp_path / "junk.json")
    assert r.exit_code == 65


# --------------------------------------------------------------------------
# The example Makefile


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_samples_makefile_second_run_is_a_no_op(tmp_path):
    work = tmp_path / "samples"
    shutil.copytree(SAMPLES, work, ignore=shutil.ignore_patterns("out"))
    quantize = f"{sys.executable} -m quantize"
    args = ["make", "-j2", f"QUANTIZE={quantize}", "PHOTOS=china.jpg chelsea.png"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    first = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = ["k16/china.png", "k16/chelsea.png", "k64/china.jpg", "k64/chelsea.jpg",
               "shared/codebook.json", "shared/china.png", "shared/chelsea.png"]
    for name in outputs:
        assert (work / "out" / name).is_file(), name
    for name in outputs:
        if not name.endswith(".json"):
            assert decodes(work / "out" / name), name
    assert no_temp_files(work / "out")
    before = stamps(work / "out")

    second = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout
    assert "quantize" not in second.stdout
    assert stamps(work / "out") == before
    assert subprocess.run(args + ["-q"], cwd=work, env=env).returncode == 0

    # The shared palette: every shared output uses only the codebook's colours.
    colours = {tuple(c) for c in json.loads((work / "out/shared/codebook.json").read_text())["colors"]}
    with Image.open(work / "out/shared/china.png") as im:
        assert {tuple(p) for p in np.asarray(im.convert("RGB")).reshape(-1, 3).tolist()} <= colours


def test_workers_do_not_inherit_a_dead_thread_pool(tmp_path):
    """A process that already ran a threaded k-means search holds a thread pool;
    forked workers must not wait on its threads, which do not exist in them."""
    rng = np.random.default_rng(0)
    for i in range(2):
        save(tmp_path / "src" / f"r{i}.png", rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    script = f"""
import os
os.environ["QUANTIZE_THREADS"] = "2"
import numpy as np
from quantize.core import kmeans
from quantize.run import batch
kmeans.cluster(np.random.default_rng(0).random((200_000, 3)), 16, max_iter=2, seed=0)
settings = batch.BatchSettings(k=32)
items = batch.plan_batch([{str(tmp_path / "src")!r}], {str(tmp_path / "out")!r}, settings)
print(batch.run_batch(items, settings, {str(tmp_path / "out")!r}, jobs=2).describe())
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "2 done" in r.stdout


def test_batch_module_imports_neither_click_nor_tqdm():
    code = ("import sys, quantize.run.batch; "
            "print(sorted(m for m in ('click', 'tqdm', 'numpy', 'PIL') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("options", [
    [],
    ["--dither", "ordered", "--sort", "luminance"],
    ["--background", "white", "--color-space", "oklab", "--dither", "floyd-steinberg"],
])
def test_image_and_batch_write_the_same_codebook_and_image(tmp_path, options):
    from click.testing import CliRunner

    from quantize.cli import cli

    src = tmp_path / "src"
    rgba = np.dstack([np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8),
                      np.full((20, 30), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    save(src / "a.png", rgba)
    runner = CliRunner()
    r = runner.invoke(cli, ["image", str(src / "a.png"), "-k", "6", "-o", str(tmp_path / "a.png"),
                            "--codebook", str(tmp_path / "a.json"), *options])
    assert r.exit_code == 0, r.output
    b = runner.invoke(cli, ["batch", str(src), "-o", str(tmp_path / "out"), "-k", "6", "-j", "1",
                            "--write-codebooks", "-q", *options])
    assert b.exit_code == 0, b.output
    assert (tmp_path / "out" / "a.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    assert (tmp_path / "out" / "a.json").read_bytes() == (tmp_path / "a.json").read_bytes()

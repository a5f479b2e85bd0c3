"""What a command refuses at its boundary: option values, and paths it both reads and writes.

Every refusal is checked for its exit code, and for what it leaves behind:
nothing written, every input as it was.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from PIL import Image

from hostile import invoke, snapshot


def blobs(seed=0, height=20, width=24):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(5, 3))
    labels = rng.integers(0, 5, size=(height, width))
    return centres[labels].astype(np.uint8)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "src").mkdir()
    for i in range(2):
        Image.fromarray(blobs(i)).save(tmp_path / "src" / f"p{i}.png")
    r = invoke("palette", tmp_path / "src", "-k", "4", "-o", tmp_path / "book.json")
    assert r.exit_code == 0, r.output
    return tmp_path


# --------------------------------------------------------------------------
# Option values: NaN, infinity and negative seeds are usage errors


@pytest.mark.parametrize("command", ["image", "palette", "batch", "elbow"])
@pytest.mark.parametrize("option", [["--eps", "nan"], ["--eps", "inf"], ["--eps", "-1"],
                                    ["--seed", "-1"]])
def test_bad_option_values_are_usage_errors(work, command, option):
    src = work / "src" / "p0.png"
    args = {"image": [src, "-o", work / "o.png"], "palette": [src, "-o", work / "o.json"],
            "batch": [work / "src", "-o", work / "out"], "elbow": [src, "-k", "2..4"]}[command]
    before = snapshot(work)
    r = invoke(command, *args, *option)
    assert r.exit_code == 2, r.output
    assert "Invalid value" in r.output
    assert snapshot(work) == before and not (work / "out").exists()


@pytest.mark.parametrize("option", [["--min-psnr", "nan"], ["--max-mse", "inf"],
                                    ["--min-psnr", "inf"]])
def test_bad_quality_targets_are_usage_errors(work, option):
    r = invoke("image", work / "src" / "p0.png", "-o", work / "o.png", *option)
    assert r.exit_code == 2 and not (work / "o.png").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-3"])
def test_bad_scheduler_timeout_is_a_usage_error(work, value):
    r = invoke("batch", work / "src", "-o", work / "out", "--scheduler", "tcp://127.0.0.1:9",
               "--scheduler-timeout", value)
    assert r.exit_code == 2 and not (work / "out").exists()


# --------------------------------------------------------------------------
# No output may be an input, nor another output


IMAGE_WRITES = {"-o": "o.png", "--codebook": "c.json", "--swatch": "s.png"}


@pytest.mark.parametrize("first, second", list(itertools.combinations(IMAGE_WRITES, 2)))
def test_image_outputs_that_collide_are_refused(work, first, second):
    target = work / IMAGE_WRITES[first]
    args = dict(IMAGE_WRITES)
    args[second] = IMAGE_WRITES[first]
    flat = []
    for option, name in args.items():
        flat += [option, work / name]
    r = invoke("image", work / "src" / "p0.png", *flat)
    assert r.exit_code == 73, r.output
    assert "written twice" in r.stderr
    assert not target.exists()


@pytest.mark.parametrize("option", ["-o", "--codebook", "--swatch"])
@pytest.mark.parametrize("read", ["input", "--init"])
def test_image_output_over_a_file_it_reads_is_refused(work, option, read):
    book = work / "book.json"
    before = book.read_bytes()
    source = work / "src" / "p0.png"
    args = ["-o", work / "o.png", "--init", book]
    victim = source if read == "input" else book
    if option == "-o":
        args[1] = victim
    else:
        args += [option, victim]
    image_bytes = source.read_bytes()
    r = invoke("image", source, *args)
    assert r.exit_code == 73, r.output
    assert book.read_bytes() == before and source.read_bytes() == image_bytes
    assert not (work / "o.png").exists()


def test_link_to_an_input_counts_as_the_input(work):
    (work / "link.json").symlink_to(work / "book.json")
    before = (work / "book.json").read_bytes()
    r = invoke("image", work / "src" / "p0.png", "-o", work / "o.png", "--init", work / "book.json",
               "--codebook", work / "link.json")
    assert r.exit_code == 73 and (work / "book.json").read_bytes() == before
    assert not (work / "o.png").exists()


@pytest.mark.parametrize("pair", [("-o", "--swatch"), ("--init", "-o"), ("--init", "--swatch")])
def test_palette_paths_that_collide_are_refused(work, pair):
    book = work / "book.json"
    before = book.read_bytes()
    args = {"-o": work / "new.json", "--swatch": work / "sw.png", "--init": book}
    shared = book if "--init" in pair else work / "same.json"
    for option in pair:
        args[option] = shared
    flat = [item for option, path in args.items() for item in (option, path)]
    r = invoke("palette", work / "src", *flat)
    assert r.exit_code == 73, r.output
    assert book.read_bytes() == before
    assert not (work / "new.json").exists() and not (work / "sw.png").exists()
    assert not (work / "same.json").exists()


@pytest.mark.parametrize("report", ["book.json", "out/p0.png", "out/.quantize-batch.jsonl",
                                    "src/p1.png"])
def test_batch_report_over_anything_else_is_refused(work, report):
    before = snapshot(work / "src"), (work / "book.json").read_bytes()
    r = invoke("batch", work / "src", "-o", work / "out", "--codebook", work / "book.json",
               "--report", work / report)
    assert r.exit_code == 73, r.output
    assert (snapshot(work / "src"), (work / "book.json").read_bytes()) == before
    assert not (work / "out").exists() or not any((work / "out").iterdir())


def test_batch_report_beside_the_outputs_is_fine(work):
    r = invoke("batch", work / "src", "-o", work / "out", "--report", work / "out" / "report.jsonl")
    assert r.exit_code == 0, r.output
    lines = (work / "out" / "report.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["status"] for line in lines) == ["done", "done"]


# --------------------------------------------------------------------------
# OUTDIR is the batch's own: no writing through links planted in it


def test_manifest_that_is_a_symlink_is_refused(work, tmp_path):
    out = work / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / ".quantize-batch.jsonl").symlink_to(victim)
    r = invoke("batch", work / "src", "-o", out)
    assert r.exit_code == 73, r.output
    assert ".quantize-batch.jsonl" in r.stderr
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == [".quantize-batch.jsonl"]


def test_outputs_never_go_through_a_symlinked_subdirectory(work, tmp_path):
    (work / "src" / "sub").mkdir()
    Image.fromarray(blobs(5)).save(work / "src" / "sub" / "q.png")
    out = work / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    r = invoke("batch", work / "src", "-o", out, "--recursive", "--report", work / "r.jsonl")
    assert r.exit_code == 73, r.output
    assert list(elsewhere.iterdir()) == []
    statuses = {json.loads(line)["input"].split("/")[-1]: json.loads(line)["status"]
                for line in (work / "r.jsonl").read_text().splitlines()}
    assert statuses == {"p0.png": "done", "p1.png": "done", "q.png": "failed"}
    assert "outside OUTDIR" in r.stderr


def test_output_name_that_is_a_symlink_is_not_written_through(work, tmp_path):
    out = work / "out"
    out.mkdir()
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    (out / "p0.png").symlink_to(victim)
    r = invoke("batch", work / "src", "-o", out)
    assert r.exit_code == 73
    assert victim.read_bytes() == b"precious"
    assert (out / "p1.png").is_file() and not (out / "p1.png").is_symlink()


def test_replaced_output_keeps_its_mode(work):
    out = work / "o.png"
    assert invoke("image", work / "src" / "p0.png", "-o", out).exit_code == 0
    out.chmod(0o600)
    assert invoke("image", work / "src" / "p1.png", "-o", out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("line", ['{"output": 5, "options": {}}', '{"output": null}', "[1, 2]",
                                  "[" * 100_000, '{"output": "p0.png", "options": 3}', "\xff"])
def test_bad_manifest_lines_are_warned_about_and_redone(work, line):
    out = work / "out"
    assert invoke("batch", work / "src", "-o", out).exit_code == 0
    manifest = out / ".quantize-batch.jsonl"
    good = manifest.read_bytes()
    manifest.write_bytes(line.encode("utf-8", "surrogateescape") + b"\n" + good)
    for force in ([], ["--force"]):
        r = invoke("batch", work / "src", "-o", out, "--json", *force)
        assert r.exit_code == 0, r.output
        assert "unreadable line" in r.stderr
        summary = json.loads(r.stdout)
        assert summary["failed"] == 0
        manifest.write_bytes(line.encode("utf-8", "surrogateescape") + b"\n" + good)


def test_batch_removes_stale_temporaries_of_dead_runs(work):
    import subprocess
    import sys
    import os

    out = work / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = out / f".quantize-{dead}-abcdefgh.tmp"
    stale.write_bytes(b"half")
    mine = out / f".quantize-{os.getpid()}-abcdefgh.tmp"
    mine.write_bytes(b"in progress")
    old = 1_000_000_000
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    other = out / ".notes.tmp"
    other.write_bytes(b"not ours")
    assert invoke("batch", work / "src", "-o", out).exit_code == 0
    assert not stale.exists()
    assert mine.exists() and other.exists()


# --------------------------------------------------------------------------
# Inputs that are not regular files are refused before they are read


@pytest.fixture
def fifo(tmp_path):
    import os

    path = tmp_path / "stream.png"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["image", "apply-codebook", "palette", "batch", "elbow"])
def test_a_fifo_is_refused_not_waited_on(work, fifo, command):
    args = {"image": ["image", fifo, "-o", work / "o.png"],
            "apply-codebook": ["apply", work / "src" / "p0.png", "-c", fifo, "-o", work / "o.png"],
            "palette": ["palette", fifo, "-o", work / "o.json"],
            "batch": ["batch", fifo, "-o", work / "out"],
            "elbow": ["elbow", fifo, "-k", "2..3"]}[command]
    r = invoke(*args)  # a blocking open would hang here
    assert r.exit_code == 66, r.output
    assert "FIFO" in r.stderr and "stream.png" in r.stderr
    assert not (work / "o.png").exists() and not (work / "o.json").exists()


def test_a_device_is_refused_as_a_codebook(work):
    r = invoke("apply", work / "src" / "p0.png", "-c", "/dev/zero", "-o", work / "o.png")
    assert r.exit_code == 66 and "character device" in r.stderr
    assert not (work / "o.png").exists()


# --------------------------------------------------------------------------
# Codebook readers bound what they read


@pytest.mark.parametrize("name, data", [
    ("deep.json", b"[" * 200_000),
    ("deep2.json", b'{"colors": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ("field.csv", b"r,g,b\n" + b"1" * 200_000 + b",2,3\n"),
    ("huge.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<u1', 'fortran_order': False, "
                 b"'shape': (100000000000, 3), }" + b" " * 51 + b"\n" + b"\x00" * 30),
    ("object.npy", None),
])
def test_bad_codebooks_are_refused_cleanly(work, name, data):
    path = work / name
    if data is None:
        np.save(path, np.array([[1, 2, 3]], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(data)
    r = invoke("apply", work / "src" / "p0.png", "-c", path, "-o", work / "o.png")
    assert r.exit_code == 65, r.output
    assert "Traceback" not in r.output and name in r.stderr
    assert len(r.stderr.splitlines()) == 1 and len(r.stderr) < 400
    assert not (work / "o.png").exists()


def test_oversized_codebook_file_is_refused_unread(work):
    from quantize.io.codebook import MAX_CODEBOOK_BYTES

    path = work / "big.txt"
    with open(path, "wb") as f:
        f.truncate(MAX_CODEBOOK_BYTES + 1)
    r = invoke("apply", work / "src" / "p0.png", "-c", path, "-o", work / "o.png")
    assert r.exit_code == 65 and "bytes" in r.stderr


def test_any_file_name_can_name_a_gimp_palette(work):
    import os

    name = os.fsdecode(b"\xff\xfe\nx.png")
    src = work / name
    src.write_bytes((work / "src" / "p0.png").read_bytes())
    r = invoke("image", src, "-k", "4", "-o", work / "o.png", "--codebook", work / "o.gpl")
    assert r.exit_code == 0, r.output
    lines = (work / "o.gpl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "GIMP Palette" and lines[1] == "Name: \ufffd\ufffd x k=4"
    assert invoke("apply", work / "src" / "p0.png", "-c", work / "o.gpl",
                  "-o", work / "back.png").exit_code == 0


# --------------------------------------------------------------------------
# Decoding budgets


def test_jpeg_with_too_many_scans_is_refused(work):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
        work / "p.jpg", progressive=True)
    data = (work / "p.jpg").read_bytes()
    scans = data.count(b"\xff\xda")
    assert scans > 2
    r = invoke("image", work / "p.jpg", "-o", work / "o.png", "--max-scans", str(scans - 1))
    assert r.exit_code == 65 and "scans" in r.stderr and not (work / "o.png").exists()
    assert invoke("image", work / "p.jpg", "-o", work / "o.png",
                  "--max-scans", str(scans)).exit_code == 0
    # A scan repeated thousands of times: refused by the default.
    first = data.find(b"\xff\xda")
    second = data.find(b"\xff\xda", first + 2)
    (work / "bomb.jpg").write_bytes(data[:second] + data[first:second] * 3000 + data[second:])
    r = invoke("image", work / "bomb.jpg", "-o", work / "b.png")
    assert r.exit_code == 65 and "--max-scans" in r.stderr


def test_many_page_tiff_is_not_counted_to_warn(work):
    pages = [Image.new("RGB", (2, 2), (i, 0, 0)) for i in range(50)]
    pages[0].save(work / "pages.tif", save_all=True, append_images=pages[1:])
    r = invoke("image", work / "pages.tif", "-k", "2", "-o", work / "o.png")
    assert r.exit_code == 0
    assert "TIFF image has several pages; using the first" in r.stderr
    r = invoke("image", work / "pages.tif", "-k", "2", "-o", work / "o49.png", "--frame", "49")
    assert r.exit_code == 0
    assert np.asarray(Image.open(work / "o49.png").convert("RGB"))[0, 0].tolist() == [49, 0, 0]


# --------------------------------------------------------------------------
# Deadlines: a peer that is not a Dask scheduler


@pytest.fixture(params=["silent", "http"])
def listener(request):
    """A TCP server that accepts and never answers, or answers HTTP."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if request.param == "http":
                try:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def _cli(*args):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "quantize", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_listener_that_is_not_a_scheduler_gives_69_within_the_timeout(work, listener):
    pytest.importorskip("distributed")
    import time

    started = time.monotonic()
    proc = _cli("batch", work / "src", "-o", work / "out", "--scheduler", listener,
                "--scheduler-timeout", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 69, err
    assert time.monotonic() - started < 20
    assert "did not answer within 2 s as a Dask scheduler" in err
    assert not (work / "out").exists()


def test_ctrl_c_during_the_handshake_ends_it(work):
    pytest.importorskip("distributed")
    import signal
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        proc = _cli("palette", work / "src", "-o", work / "p.json", "--scheduler",
                    f"tcp://127.0.0.1:{server.getsockname()[1]}", "--scheduler-timeout", "60")
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        server.close()
    assert proc.returncode == 130, err
    assert not (work / "p.json").exists()


# --------------------------------------------------------------------------
# SIGTERM ends a command as Ctrl-C does, with 143


@pytest.mark.parametrize("command", ["image", "batch"])
def test_sigterm_leaves_nothing_and_exits_143(tmp_path, command):
    import os
    import signal
    import time

    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (900, 900, 3), dtype=np.uint8)).save(src / f"n{i}.png")
    out = tmp_path / "out"
    out.mkdir()
    args = (["image", src / "n0.png", "-k", "256", "-o", out / "o.png"] if command == "image"
            else ["batch", src, "-o", out, "-k", "256", "-j", "2"])
    proc = _cli(*args)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().endswith("quantize: error: terminated")
    left = [name for _, _, names in os.walk(out) for name in names]
    assert not [name for name in left if name.endswith(".tmp")]
    if command == "image":
        assert left == []


# --------------------------------------------------------------------------
# Both or neither, with a stream among the outputs


def test_a_failed_stream_leaves_no_codebook(work):
    import subprocess
    import sys

    book = work / "c.json"
    # Standard output closed: the image cannot be written, so neither is the codebook.
    proc = subprocess.run([sys.executable, "-m", "quantize", "image", str(work / "src" / "p0.png"),
                           "-o", "-", "--codebook", str(book)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, pass_fds=(),
                          preexec_fn=lambda: __import__("os").close(1))
    assert proc.returncode == 74, proc.stderr
    assert not book.exists()
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_device_leaves_no_codebook(work):
    r = invoke("image", work / "src" / "p0.png", "-o", "/dev/full", "--codebook", work / "c.json")
    assert r.exit_code == 74, r.output
    assert not (work / "c.json").exists()
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []


def test_any_name_the_filesystem_takes_can_be_written(work):
    import os

    limit = os.pathconf(work, "PC_NAME_MAX")
    name = "n" * (limit - len(".png")) + ".png"
    r = invoke("image", work / "src" / "p0.png", "-k", "4", "-o", work / name,
               "--codebook", work / ("c" * (limit - 5) + ".json"))
    assert r.exit_code == 0, r.output
    assert (work / name).is_file()


@pytest.mark.parametrize("read", ["--init", "--codebook"])
def test_batch_report_over_a_codebook_it_reads_is_refused(work, read):
    book = work / "book.json"
    before = book.read_bytes()
    r = invoke("batch", work / "src", "-o", work / "out", read, book, "--report", book)
    assert r.exit_code == 73, r.output
    assert book.read_bytes() == before


# --------------------------------------------------------------------------
# Running out of memory is one documented code, naming the file


@pytest.mark.parametrize("command", ["image", "batch"])
def test_out_of_memory_is_71_naming_the_file(work, monkeypatch, command):
    import quantize.image.pipeline

    def exhausted(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(quantize.image.pipeline, "quantize_image", exhausted)
    args = (["image", work / "src" / "p0.png", "-o", work / "o.png"] if command == "image"
            else ["batch", work / "src", "-o", work / "out", "-j", "1"])
    r = invoke(*args)
    assert r.exit_code == 71, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("quantize: error:")]
    assert errors and all("p" in line and "--max-pixels" in line for line in errors)
    assert not (work / "o.png").exists()

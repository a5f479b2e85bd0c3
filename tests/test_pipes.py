"""`quantize image - -o -` and `apply` as filters: round trips through real pipes,
a reader that closes early, and terminals refused."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
QUANTIZE = [sys.executable, "-m", "quantize"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def small_image(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(4, 3))
    which = rng.integers(0, 4, size=(30, 40))
    return np.clip(centres[which] + rng.integers(-10, 11, size=(30, 40, 3)), 0, 255).astype(np.uint8)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run(args, **kwargs):
    return subprocess.run(QUANTIZE + [str(a) for a in args], capture_output=True, timeout=120,
                          **kwargs)


def test_stdin_to_stdout_round_trip(tmp_path):
    data = png_bytes(small_image())
    r = run(["image", "-", "-k", "4", "-o", "-"], input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(PNG_SIGNATURE)
    assert r.stderr == b""
    with Image.open(io.BytesIO(r.stdout)) as im:
        assert im.mode == "P" and im.size == (40, 30)
    # The same bytes as from a file to a file.
    (tmp_path / "in.png").write_bytes(data)
    assert invoke("image", tmp_path / "in.png", "-k", "4", "-o", tmp_path / "out.png").exit_code == 0
    assert (tmp_path / "out.png").read_bytes() == r.stdout

    # A chain of filters: quantize, then map onto a codebook.
    assert invoke("palette", tmp_path / "in.png", "-k", "3", "-o", tmp_path / "cb.json").exit_code == 0
    chained = run(["apply", "-", "-c", tmp_path / "cb.json", "-o", "-"], input=r.stdout)
    assert chained.returncode == 0, chained.stderr
    with Image.open(io.BytesIO(chained.stdout)) as im:
        assert im.mode == "P" and len(im.getpalette()) == 9


def test_bad_stdin_exits_65_and_writes_nothing():
    r = run(["image", "-", "-o", "-"], input=b"not an image at all")
    assert r.returncode == 65
    assert r.stdout == b""
    assert b"Traceback" not in r.stderr


def test_reader_closing_early_ends_quietly(tmp_path):
    """`quantize image samples/china.jpg -o - | head -c 10`: no traceback."""
    cmd = " ".join(shlex.quote(a) for a in QUANTIZE + ["image", str(SAMPLES / "china.jpg"),
                                                        "-o", "-"])
    script = f"set -o pipefail; {cmd} 2>err.txt | head -c 10 | wc -c; echo ${{PIPESTATUS[0]}}"
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    count, status = r.stdout.split()
    err = (tmp_path / "err.txt").read_text()
    assert count == "10"
    assert "Traceback" not in err and "Broken pipe" not in err, err
    assert status == "0"


def test_closed_pipe_from_python(tmp_path):
    """The reader closes after 10 bytes of a ~480 kB BMP: the write really fails
    with EPIPE, and the command still ends quietly."""
    src = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)).save(src)
    proc = subprocess.Popen(QUANTIZE + ["image", str(src), "-k", "8", "--mode", "reconstruct",
                                        "--format", "bmp", "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10).startswith(b"BM")
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert b"Traceback" not in err, err
    assert proc.returncode == 0


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("args", [["image", "IN", "-o", "-"], ["apply", "IN", "-c", "CB", "-o", "-"]],
                         ids=["image", "apply"])
def test_binary_output_to_a_terminal_is_refused(tmp_path, args):
    data = png_bytes(small_image())
    (tmp_path / "in.png").write_bytes(data)
    assert invoke("palette", tmp_path / "in.png", "-k", "3", "-o", tmp_path / "cb.json").exit_code == 0
    args = [{"IN": str(tmp_path / "in.png"), "CB": str(tmp_path / "cb.json")}.get(a, a) for a in args]
    master, slave = os.openpty()
    try:
        r = subprocess.run(QUANTIZE + args, stdout=slave, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 2
    assert b"terminal" in r.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_stdin_from_a_terminal_is_refused(tmp_path):
    master, slave = os.openpty()
    try:
        r = subprocess.run(QUANTIZE + ["image", "-", "-o", str(tmp_path / "o.png")], stdin=slave,
                           capture_output=False, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 2
    assert b"terminal" in r.stderr
    assert not (tmp_path / "o.png").exists()

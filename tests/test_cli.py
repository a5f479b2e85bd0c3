"""The command line, through click.testing.CliRunner and a few subprocesses."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import quantize.image.pipeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def listing(folder):
    return sorted(os.listdir(folder))


def png_indices(path):
    with Image.open(path) as im:
        im.load()
        return im.mode, np.asarray(im), im.getpalette()


def rgb_of(path_or_bytes):
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(source) as im:
        return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------------
# Help and usage errors


def test_help_lists_exit_codes(run):
    r = run("--help")
    assert r.exit_code == 0
    for code in ("65", "66", "70", "73", "74", "130"):
        assert code in r.output
    assert "image" in r.output


def test_image_help_lists_options_and_exit_codes(run):
    r = run("image", "--help")
    assert r.exit_code == 0
    for option in ("-k", "--colors", "--max-iter", "--eps", "--init", "--attempts", "--seed",
                   "--mode", "--codebook", "--json", "kmeans++", "random", "palette",
                   "reconstruct"):
        assert option in r.output, option
    assert "Exit codes" in r.output
    assert "65" in r.output and "66" in r.output and "73" in r.output


def test_version(run):
    r = run("--version")
    assert r.exit_code == 0
    assert "0.1.0" in r.output


@pytest.mark.parametrize("args", [
    ["image", "IN", "-o", "OUT", "--bogus"],
    ["image", "IN", "-o", "OUT", "-k", "0"],
    ["image", "IN", "-o", "OUT", "-k", "-4"],
    ["image", "IN", "-o", "OUT", "-k", "three"],
    ["image", "IN", "-o", "OUT", "--init", "bogus"],
    ["image", "IN", "-o", "OUT", "--mode", "bogus"],
    ["image", "IN", "-o", "OUT", "--max-iter", "0"],
    ["image", "IN", "-o", "OUT", "--attempts", "0"],
    ["image", "IN", "-o", "OUT", "--eps", "-1"],
    ["image"],
    ["nosuchcommand"],
])
def test_usage_errors_exit_2(run, blobs_png, out_dir, args):
    args = [str(blobs_png) if a == "IN" else str(out_dir / "o.png") if a == "OUT" else a
            for a in args]
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert listing(out_dir) == []


def test_k_above_256_in_palette_mode_exits_2(run, blobs_png, out_dir):
    r = run("image", blobs_png, "-o", out_dir / "o.png", "-k", "300")
    assert r.exit_code == 2
    assert "256" in r.output
    assert listing(out_dir) == []


def test_k_above_256_in_reconstruct_mode_is_allowed(run, write_png, out_dir):
    rng = np.random.default_rng(0)
    src = write_png(rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8), "noise.png")
    r = run("image", src, "-o", out_dir / "o.png", "-k", "300", "--mode", "reconstruct",
            "--max-iter", "3")
    assert r.exit_code == 0, r.output
    assert len(np.unique(rgb_of(out_dir / "o.png").reshape(-1, 3), axis=0)) <= 300


# --------------------------------------------------------------------------
# Input errors


def test_missing_input_exits_66(run, tmp_path, out_dir):
    missing = tmp_path / "nope.png"
    r = run("image", missing, "-o", out_dir / "o.png", "--codebook", out_dir / "o.json")
    assert r.exit_code == 66
    assert "quantize: error:" in r.stderr
    assert "nope.png" in r.stderr
    assert "Traceback" not in r.output
    assert listing(out_dir) == []


def test_directory_input_exits_66(run, tmp_path, out_dir):
    folder = tmp_path / "adir"
    folder.mkdir()
    r = run("image", folder, "-o", out_dir / "o.png")
    assert r.exit_code == 66
    assert "quantize: error:" in r.stderr and "adir" in r.stderr
    assert listing(out_dir) == []


def test_not_an_image_exits_65_and_leaves_nothing(run, tmp_path, out_dir):
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a PNG\n")
    r = run("image", fake, "-o", out_dir / "o.png", "--codebook", out_dir / "o.json")
    assert r.exit_code == 65
    assert "quantize: error:" in r.stderr and "fake.png" in r.stderr
    assert listing(out_dir) == []  # no output and no '.o.png.*.tmp'


def test_truncated_image_exits_65(run, blobs_png, tmp_path, out_dir):
    data = blobs_png.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    r = run("image", cut, "-o", out_dir / "o.png")
    assert r.exit_code == 65
    assert "cut.png" in r.stderr
    assert listing(out_dir) == []


def test_empty_stdin_exits_65(run, out_dir):
    r = run("image", "-", "-o", out_dir / "o.png", input=b"")
    assert r.exit_code == 65
    assert listing(out_dir) == []


# --------------------------------------------------------------------------
# Output errors


def test_output_is_input_refused_with_73(run, blobs_png):
    before = blobs_png.read_bytes()
    r = run("image", blobs_png, "-o", blobs_png)
    assert r.exit_code == 73
    assert "quantize: error:" in r.stderr
    assert blobs_png.read_bytes() == before
    assert listing(blobs_png.parent) == ["blobs.png"]


def test_output_is_input_through_another_spelling(run, blobs_png, monkeypatch):
    before = blobs_png.read_bytes()
    monkeypatch.chdir(blobs_png.parent)
    r = run("image", "blobs.png", "-o", "./sub/../blobs.png")
    assert r.exit_code == 73
    assert blobs_png.read_bytes() == before


def test_output_is_input_through_a_symlink(run, blobs_png, tmp_path):
    link = tmp_path / "link.png"
    link.symlink_to(blobs_png)
    before = blobs_png.read_bytes()
    r = run("image", blobs_png, "-o", link)
    assert r.exit_code == 73
    assert blobs_png.read_bytes() == before
    assert link.is_symlink()


def test_codebook_is_input_refused_with_73(run, blobs_png, out_dir):
    before = blobs_png.read_bytes()
    r = run("image", blobs_png, "-o", out_dir / "o.png", "--codebook", blobs_png)
    assert r.exit_code == 73
    assert blobs_png.read_bytes() == before
    assert listing(out_dir) == []


def test_codebook_same_as_output_refused_with_73(run, blobs_png, out_dir):
    r = run("image", blobs_png, "-o", out_dir / "o.png", "--codebook", out_dir / "o.png")
    assert r.exit_code == 73
    assert listing(out_dir) == []


def test_codebook_and_image_both_to_stdout_refused(run, blobs_png):
    # BUG: --codebook is a click.Path without allow_dash, but write_bytes()
    # treats '-' as stdout and check_not_input() skips '-', so this writes
    # the PNG and then the JSON onto stdout and exits 0.
    r = run("image", blobs_png, "-o", "-", "--codebook", "-")
    assert r.exit_code in (2, 73), "one stdout cannot hold both the image and the codebook"


def test_missing_output_directory_exits_73(run, blobs_png, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "o.png"
    r = run("image", blobs_png, "-o", target)
    assert r.exit_code == 73
    assert "quantize: error:" in r.stderr and "o.png" in r.stderr
    assert not (tmp_path / "no").exists()


def test_missing_codebook_directory_leaves_no_output(run, blobs_png, out_dir):
    # DESIGN.md: "A Makefile rule that fails must leave no target behind."
    # BUG: the image is written before the codebook's directory is checked,
    # so the command exits 73 but o.png is left in out_dir.
    r = run("image", blobs_png, "-o", out_dir / "o.png", "--codebook", out_dir / "nodir" / "o.json")
    assert r.exit_code == 73
    assert listing(out_dir) == []


def test_write_failure_exits_74_and_keeps_the_old_target(run, blobs_png, out_dir, monkeypatch):
    target = out_dir / "o.png"
    target.write_bytes(b"old contents")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    r = run("image", blobs_png, "-o", target)
    assert r.exit_code == 74
    assert "quantize: error:" in r.stderr
    assert target.read_bytes() == b"old contents"
    assert listing(out_dir) == ["o.png"]  # the temporary file is gone


def test_interrupt_exits_130_and_leaves_nothing(run, blobs_png, out_dir, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(quantize.image.pipeline, "quantize_image", interrupted)
    r = run("image", blobs_png, "-o", out_dir / "o.png")
    assert r.exit_code == 130
    assert "interrupted" in r.stderr
    assert listing(out_dir) == []


def test_internal_error_exits_70_without_traceback(run, blobs_png, out_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(quantize.image.pipeline, "quantize_image", broken)
    r = run("image", blobs_png, "-o", out_dir / "o.png")
    assert r.exit_code == 70
    assert "internal error" in r.stderr and "boom" in r.stderr
    assert "Traceback" not in r.stderr
    assert listing(out_dir) == []


# --------------------------------------------------------------------------
# Palette mode and the codebook


def test_palette_png_and_codebook_agree(run, blobs_png, out_dir):
    out, book = out_dir / "o.png", out_dir / "o.json"
    r = run("image", blobs_png, "-k", "5", "-o", out, "--codebook", book)
    assert r.exit_code == 0, r.output
    assert listing(out_dir) == ["o.json", "o.png"]
    mode, indices, palette = png_indices(out)
    assert mode == "P"
    doc = json.loads(book.read_text())
    k = doc["k"]
    assert 1 <= k <= 5
    assert len(doc["colors"]) == k
    colours = np.array(doc["colors"])
    # The PNG's palette is the codebook, in code order.
    np.testing.assert_array_equal(np.array(palette).reshape(-1, 3)[:k], colours)
    assert len(palette) == 3 * k
    assert doc["hex"] == ["#{:02x}{:02x}{:02x}".format(*row) for row in doc["colors"]]
    assert int(indices.max()) < k
    assert len(np.unique(indices)) == k  # every colour is used, <= k used
    h, w = indices.shape
    assert sum(doc["counts"]) == h * w == doc["n_pixels"]
    assert doc["counts"] == np.bincount(indices.ravel(), minlength=k).tolist()
    assert doc["format"] == "quantize-codebook"
    assert doc["version"] == 1
    assert doc["options"]["k"] == 5
    assert doc["options"]["mode"] == "palette"
    # mse in the codebook is the brute-force error of the PNG against the input.
    src = rgb_of(blobs_png).astype(np.float64)
    mse = float(np.mean((colours[indices].astype(np.float64) - src) ** 2))
    assert doc["mse"] == pytest.approx(mse, rel=1e-12)
    assert doc["inertia"] == pytest.approx(mse * src.size, rel=1e-12)


def test_palette_of_five_colours_is_exact(run, samples, out_dir):
    out = out_dir / "o.png"
    r = run("image", samples / "five-colours.png", "-k", "16", "-o", out)
    assert r.exit_code == 0
    np.testing.assert_array_equal(rgb_of(out), rgb_of(samples / "five-colours.png"))
    mode, indices, palette = png_indices(out)
    assert mode == "P" and len(palette) == 15


def test_palette_png_equals_reconstruct_png(run, blobs_png, out_dir):
    common = ["-k", "6", "--seed", "3", "--init", "random", "--attempts", "2"]
    r1 = run("image", blobs_png, "-o", out_dir / "p.png", *common)
    r2 = run("image", blobs_png, "-o", out_dir / "r.png", "--mode", "reconstruct", *common)
    assert r1.exit_code == 0 and r2.exit_code == 0
    with Image.open(out_dir / "r.png") as im:
        assert im.mode == "RGB"
    np.testing.assert_array_equal(rgb_of(out_dir / "p.png"), rgb_of(out_dir / "r.png"))


@pytest.mark.parametrize("ext, fmt", [
    (".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP"), (".tif", "TIFF"), (".tiff", "TIFF"),
    (".bmp", "BMP"), (".png", "PNG"),
])
def test_reconstruct_formats(run, blobs_png, out_dir, ext, fmt):
    out = out_dir / f"o{ext}"
    r = run("image", blobs_png, "-k", "4", "--mode", "reconstruct", "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.format == fmt
        assert im.size == (32, 24)
    if fmt != "JPEG":  # lossless formats hold exactly the palette colours
        assert len(np.unique(rgb_of(out).reshape(-1, 3), axis=0)) <= 4


def test_reconstruct_lossless_formats_equal_png(run, blobs_png, out_dir):
    for ext in (".png", ".webp", ".tif", ".bmp"):
        assert run("image", blobs_png, "-k", "4", "--mode", "reconstruct",
                   "-o", out_dir / f"o{ext}").exit_code == 0
    ref = rgb_of(out_dir / "o.png")
    for ext in (".webp", ".tif", ".bmp"):
        np.testing.assert_array_equal(rgb_of(out_dir / f"o{ext}"), ref)


def test_reconstruct_unknown_extension_exits_2(run, blobs_png, out_dir):
    r = run("image", blobs_png, "--mode", "reconstruct", "-o", out_dir / "o.xyz")
    assert r.exit_code == 2
    assert "o.xyz" in r.output
    assert listing(out_dir) == []


def test_palette_mode_refuses_jpeg_exits_2(run, blobs_png, out_dir):
    r = run("image", blobs_png, "-o", out_dir / "o.jpg")
    assert r.exit_code == 2
    assert listing(out_dir) == []


def test_reconstruct_format_option_overrides_extension(run, blobs_png, out_dir):
    out = out_dir / "o.dat"
    r = run("image", blobs_png, "--mode", "reconstruct", "--format", "bmp", "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.format == "BMP"


# --------------------------------------------------------------------------
# Determinism, --json, stdin/stdout


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_same_command_same_bytes(run, samples, write_png, out_dir, chelsea_small, init):
    src = write_png(chelsea_small, "chelsea-small.png")
    outputs = []
    for name in ("a", "b"):
        r = run("image", src, "-k", "8", "--init", init, "--attempts", "2", "--seed", "5",
                "-o", out_dir / f"{name}.png", "--codebook", out_dir / f"{name}.json")
        assert r.exit_code == 0, r.output
        outputs.append(((out_dir / f"{name}.png").read_bytes(),
                        (out_dir / f"{name}.json").read_bytes()))
    assert outputs[0] == outputs[1]


def test_different_seeds_are_recorded(run, blobs_png, out_dir):
    for seed in ("1", "2"):
        assert run("image", blobs_png, "-k", "3", "--seed", seed, "-o", out_dir / f"{seed}.png",
                   "--codebook", out_dir / f"{seed}.json").exit_code == 0
    assert json.loads((out_dir / "1.json").read_text())["options"]["seed"] == 1
    assert json.loads((out_dir / "2.json").read_text())["options"]["seed"] == 2


def test_json_summary(run, blobs_png, out_dir):
    r = run("image", blobs_png, "-k", "4", "-o", out_dir / "o.png", "--json")
    assert r.exit_code == 0
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    summary = json.loads(lines[0])
    for key in ("k", "iterations", "inertia", "mse", "psnr", "seconds"):
        assert key in summary, key
    assert summary["k"] == 4
    assert summary["iterations"] >= 1
    assert summary["seconds"] >= 0
    mode, indices, palette = png_indices(out_dir / "o.png")
    colours = np.array(palette).reshape(-1, 3)
    mse = float(np.mean((colours[indices].astype(np.float64) - rgb_of(blobs_png)) ** 2))
    assert summary["mse"] == pytest.approx(mse, rel=1e-12)
    assert summary["psnr"] == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-12)


def test_json_summary_exact_image(run, samples, out_dir):
    r = run("image", samples / "one-colour.png", "-k", "4", "-o", out_dir / "o.png", "--json")
    assert r.exit_code == 0
    summary = json.loads(r.stdout)
    assert summary["k"] == 1
    assert summary["iterations"] == 0
    assert summary["mse"] == 0
    assert summary["psnr"] is None  # infinite PSNR is not valid JSON


def test_fewer_colours_than_k_is_not_an_error(run, samples, out_dir):
    r = run("image", samples / "five-colours.png", "-k", "200", "-o", out_dir / "o.png")
    assert r.exit_code == 0
    assert png_indices(out_dir / "o.png")[0] == "P"


def test_stdout_output(run, blobs_png, out_dir):
    r = run("image", blobs_png, "-k", "4", "-o", "-")
    assert r.exit_code == 0
    assert r.stdout_bytes.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(r.stdout_bytes)) as im:
        assert im.mode == "P"
        assert im.size == (32, 24)
    # The same bytes as writing to a file.
    assert run("image", blobs_png, "-k", "4", "-o", out_dir / "o.png").exit_code == 0
    assert (out_dir / "o.png").read_bytes() == r.stdout_bytes


def test_stdout_output_with_json_keeps_stdout_clean(run, blobs_png):
    r = run("image", blobs_png, "-k", "4", "-o", "-", "--json")
    assert r.exit_code == 0
    assert r.stdout_bytes.startswith(PNG_SIGNATURE)
    assert json.loads(r.stderr)["k"] == 4


def test_stdin_input(run, blobs_png, out_dir):
    r = run("image", "-", "-k", "4", "-o", out_dir / "o.png", input=blobs_png.read_bytes())
    assert r.exit_code == 0, r.output
    assert run("image", blobs_png, "-k", "4", "-o", out_dir / "ref.png").exit_code == 0
    assert (out_dir / "o.png").read_bytes() == (out_dir / "ref.png").read_bytes()


def test_stdin_to_stdout(run, blobs_png):
    r = run("image", "-", "-k", "3", "--mode", "reconstruct", "-o", "-",
            input=blobs_png.read_bytes())
    assert r.exit_code == 0
    assert r.stdout_bytes.startswith(PNG_SIGNATURE)
    assert len(np.unique(rgb_of(r.stdout_bytes).reshape(-1, 3), axis=0)) <= 3


# --------------------------------------------------------------------------
# Subprocesses: the real entry point and import boundaries


def run_python(code, cwd=None):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_python_m_quantize_help():
    p = subprocess.run([sys.executable, "-m", "quantize", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Exit codes" in p.stdout


def test_python_m_quantize_bad_option_exits_2():
    p = subprocess.run([sys.executable, "-m", "quantize", "image", "--bogus"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2


def test_python_m_quantize_real_run(blobs_png, out_dir):
    p = subprocess.run([sys.executable, "-m", "quantize", "image", str(blobs_png), "-k", "3",
                        "-o", str(out_dir / "o.png")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert png_indices(out_dir / "o.png")[0] == "P"


def test_help_imports_neither_numpy_nor_pillow():
    code = (
        "import sys, quantize.cli as c\n"
        "for args in (['--help'], ['image', '--help']):\n"
        "    try:\n"
        "        c.main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('numpy' in sys.modules, 'PIL' in sys.modules, file=sys.stderr)\n"
    )
    p = run_python(code)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("module", ["quantize.core.kmeans", "quantize.image.pipeline", "quantize.core.histogram"])
def test_core_imports_no_pil_click_or_tqdm(module):
    code = (
        f"import sys, {module}\n"
        "print(sorted(m for m in ('PIL', 'click', 'tqdm') if m in sys.modules))\n"
    )
    p = run_python(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_package_import_is_lazy():
    p = run_python("import sys, quantize; print('numpy' in sys.modules)")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"

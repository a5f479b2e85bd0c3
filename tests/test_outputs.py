"""What is written: lossy quality and its measures, GIF output, and the metadata kept.

Each test runs the command line and checks its exit code and the files left
behind, reading them back with Pillow.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, features

from hostile import swapped_srgb_profile


def photo_like(height=48, width=64, seed=0):
    """Smooth gradients with noise: many colours, and JPEG has something to lose."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def summary_of(r) -> dict:
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def pixels_of(path, mode="RGB"):
    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def png_chunk_kinds(data: bytes) -> list:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(data[pos + 4:pos + 8 + n]) & 0xFFFFFFFF
        kinds.append((kind.decode(), data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return kinds


@pytest.fixture
def photo_png(write_png):
    return write_png(photo_like(), "photo.png")


# --------------------------------------------------------------------------
# --output-quality and the written file's own error


@pytest.mark.parametrize("ext", ["jpg", "webp"] + (["avif"] if features.check("avif") else []))
def test_lossy_quality_is_used_and_measured(run, photo_png, out_dir, ext):
    reports, sizes = {}, {}
    for quality in (30, 90):
        target = out_dir / f"q{quality}.{ext}"
        r = run("image", photo_png, "-k", "16", "--mode", "reconstruct", "-o", target,
                "--output-quality", quality, "--json")
        assert r.exit_code == 0, r.output
        summary = summary_of(r)
        # The written file's error, measured here on the file itself.
        written = pixels_of(target).astype(np.float64)
        mse = float(np.mean((written - photo_like()) ** 2))
        assert summary["output_quality"] == quality
        assert summary["written_mse"] == pytest.approx(mse, rel=1e-9)
        assert summary["written_psnr"] == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
        reports[quality], sizes[quality] = summary, target.stat().st_size
    # The palette's own measures do not depend on the file's quality; the
    # file's do (not always upwards: JPEG's blur can undo some banding).
    assert reports[30]["mse"] == reports[90]["mse"]
    assert reports[30]["written_mse"] != reports[90]["written_mse"]
    assert reports[90]["written_mse"] != reports[90]["mse"]
    assert sizes[30] < sizes[90]


def test_jpeg_default_quality_is_reported(run, photo_png, out_dir):
    r = run("image", photo_png, "-k", "16", "--mode", "reconstruct", "-o", out_dir / "o.jpg",
            "--json")
    assert r.exit_code == 0, r.output
    summary = summary_of(r)
    assert summary["output_quality"] == 95
    assert summary["written_mse"] > 0


def test_webp_without_quality_is_lossless(run, photo_png, out_dir):
    r = run("image", photo_png, "-k", "16", "--mode", "reconstruct", "-o", out_dir / "o.webp",
            "--json")
    assert r.exit_code == 0, r.output
    summary = summary_of(r)
    assert "written_mse" not in summary and "output_quality" not in summary
    r = run("image", photo_png, "-k", "16", "--mode", "reconstruct", "-o", out_dir / "o.png")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(pixels_of(out_dir / "o.webp"), pixels_of(out_dir / "o.png"))


@pytest.mark.parametrize("args", [
    ["-o", "o.png"],  # palette mode
    ["--mode", "reconstruct", "-o", "o.png"],
    ["--mode", "reconstruct", "-o", "o.tif"],
    ["--mode", "reconstruct", "-o", "o.gif"],
])
def test_output_quality_refused_where_it_cannot_apply(run, photo_png, out_dir, args):
    args = [out_dir / a if a.startswith("o.") else a for a in args]
    r = run("image", photo_png, "--output-quality", "50", *args)
    assert r.exit_code == 2
    assert "--output-quality" in r.output
    assert list(out_dir.iterdir()) == []


def test_output_quality_out_of_range(run, photo_png, out_dir):
    r = run("image", photo_png, "--mode", "reconstruct", "-o", out_dir / "o.jpg",
            "--output-quality", "0")
    assert r.exit_code == 2
    assert list(out_dir.iterdir()) == []


def test_batch_output_quality_applies_to_jpeg_outputs(run, tmp_path, photo_png):
    outdir = tmp_path / "batch"
    reports = {}
    for quality in (20, 95):
        r = run("batch", photo_png, "-o", outdir / str(quality), "--mode", "reconstruct",
                "--format", "jpeg", "--output-quality", quality, "--no-progress", "-q")
        assert r.exit_code == 0, r.output
        reports[quality] = (outdir / str(quality) / "photo.jpg").stat().st_size
    assert reports[20] < reports[95]


def test_batch_manifest_redoes_outputs_when_the_quality_changes(run, tmp_path, photo_png):
    outdir = tmp_path / "batch"
    base = ["batch", photo_png, "-o", outdir, "--mode", "reconstruct", "--format", "jpeg",
            "--no-progress", "--json"]
    first = json.loads(run(*base, "--output-quality", "40").stdout)
    again = json.loads(run(*base, "--output-quality", "40").stdout)
    changed = json.loads(run(*base, "--output-quality", "80").stdout)
    assert (first["done"], again["skipped"], changed["done"]) == (1, 1, 1)


# --------------------------------------------------------------------------
# GIF: the codebook as the palette, transparency kept


def logo_rgba(height=20, width=30):
    """Four opaque colours on a fully transparent background (binary alpha)."""
    rgba = np.zeros((height, width, 4), np.uint8)
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 20)]
    for i, colour in enumerate(colours):
        rgba[2 + 4 * i: 5 + 4 * i, 3:27, :3] = colour
        rgba[2 + 4 * i: 5 + 4 * i, 3:27, 3] = 255
    return rgba


def test_gif_palette_is_the_codebook_with_transparency(run, tmp_path, out_dir):
    src = tmp_path / "logo.png"
    Image.fromarray(logo_rgba(), "RGBA").save(src)
    r = run("image", src, "-k", "8", "-o", out_dir / "logo.gif", "--codebook",
            out_dir / "book.json")
    assert r.exit_code == 0, r.output
    r = run("image", src, "-k", "8", "-o", out_dir / "logo.png")
    assert r.exit_code == 0, r.output
    with Image.open(out_dir / "logo.gif") as gif:
        gif.load()
        assert gif.format == "GIF" and gif.mode == "P"
        gif_codes, gif_palette = np.asarray(gif), gif.getpalette()
        transparent = gif.info["transparency"]
    with Image.open(out_dir / "logo.png") as png:
        png_codes, png_palette = np.asarray(png), png.getpalette()
    k = len(png_palette) // 3
    assert k == 5  # four colours and the transparent entry
    np.testing.assert_array_equal(gif_codes, png_codes)
    assert gif_palette[:3 * k] == png_palette
    # Exactly the input's transparent pixels take the transparent index.
    np.testing.assert_array_equal(gif_codes == transparent, logo_rgba()[..., 3] == 0)
    # The codebook written beside it holds the same opaque colours.
    book = json.loads((out_dir / "book.json").read_text())
    opaque = [entry for i, entry in enumerate(np.array(gif_palette[:3 * k]).reshape(-1, 3).tolist())
              if i != transparent]
    assert sorted(opaque) == sorted(book["colors"])


def test_gif_refuses_translucent_colours(run, tmp_path, out_dir):
    rgba = logo_rgba()
    rgba[0, :, :] = (100, 100, 100, 128)  # a translucent row
    src = tmp_path / "soft.png"
    Image.fromarray(rgba, "RGBA").save(src)
    r = run("image", src, "-k", "8", "-o", out_dir / "soft.gif")
    assert r.exit_code == 73
    assert "translucent" in r.stderr and "--background" in r.stderr
    assert list(out_dir.iterdir()) == []
    r = run("image", src, "-k", "8", "-o", out_dir / "flat.gif", "--background", "white")
    assert r.exit_code == 0, r.output
    assert "transparency" not in Image.open(out_dir / "flat.gif").info


def test_gif_in_reconstruct_mode_needs_at_most_256_colours(run, photo_png, out_dir):
    r = run("image", photo_png, "-k", "300", "--mode", "reconstruct", "-o", out_dir / "o.gif")
    assert r.exit_code == 73
    assert "256" in r.stderr
    assert list(out_dir.iterdir()) == []
    r = run("image", photo_png, "-k", "12", "--mode", "reconstruct", "-o", out_dir / "o.gif")
    assert r.exit_code == 0, r.output
    assert len(np.unique(pixels_of(out_dir / "o.gif").reshape(-1, 3), axis=0)) <= 12


def test_apply_and_batch_write_gif(run, tmp_path, photo_png):
    book = tmp_path / "book.json"
    assert run("palette", photo_png, "-k", "6", "-o", book).exit_code == 0
    colours = json.loads(book.read_text())["colors"]
    r = run("apply", photo_png, "-c", book, "-o", tmp_path / "applied.gif")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "applied.gif") as gif:
        assert np.array(gif.getpalette()[:18]).reshape(-1, 3).tolist() == colours
    r = run("batch", photo_png, "-o", tmp_path / "out", "--format", "gif", "--no-progress")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix != ".jsonl") \
        == ["photo.gif"]
    assert Image.open(tmp_path / "out" / "photo.gif").format == "GIF"


# --------------------------------------------------------------------------
# Metadata: DPI kept, sRGB said, EXIF orientation not written again


@pytest.mark.parametrize("args, ext", [([], "png"), (["--mode", "reconstruct"], "png"),
                                       (["--mode", "reconstruct"], "jpg"),
                                       (["--mode", "reconstruct"], "tif")])
def test_dpi_is_kept(run, tmp_path, out_dir, args, ext):
    src = tmp_path / "scan.png"
    Image.fromarray(photo_like()).save(src, dpi=(300, 150))
    target = out_dir / f"o.{ext}"
    r = run("image", src, "-k", "8", "-o", target, *args)
    assert r.exit_code == 0, r.output
    with Image.open(target) as im:
        assert im.info["dpi"] == pytest.approx((300, 150), abs=0.02)  # pHYs: whole dots a metre


def test_no_dpi_in_no_dpi_out(run, photo_png, out_dir):
    r = run("image", photo_png, "-k", "8", "-o", out_dir / "o.png")
    assert r.exit_code == 0, r.output
    kinds = [kind for kind, _ in png_chunk_kinds((out_dir / "o.png").read_bytes())]
    assert kinds == ["IHDR", "PLTE", "IDAT", "IEND"]


def test_dpi_of_a_jpeg_is_kept_in_the_palette_png(run, tmp_path, out_dir):
    src = tmp_path / "scan.jpg"
    Image.fromarray(photo_like()).save(src, dpi=(600, 600), quality=95)
    r = run("image", src, "-k", "8", "-o", out_dir / "o.png")
    assert r.exit_code == 0, r.output
    assert Image.open(out_dir / "o.png").info["dpi"] == pytest.approx((600, 600), abs=0.02)


@pytest.mark.parametrize("args", [[], ["--mode", "reconstruct"]])
def test_converted_icc_profile_leaves_an_srgb_chunk(run, tmp_path, out_dir, args):
    src = tmp_path / "swapped.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(src, icc_profile=swapped_srgb_profile())
    r = run("image", src, "-k", "2", "-o", out_dir / "o.png", *args)
    assert r.exit_code == 0, r.output
    chunks = png_chunk_kinds((out_dir / "o.png").read_bytes())
    kinds = [kind for kind, _ in chunks]
    assert "sRGB" in kinds and "iCCP" not in kinds
    assert kinds.index("sRGB") < kinds.index("IDAT")
    assert dict(chunks)["sRGB"] == b"\x00"
    assert pixels_of(out_dir / "o.png")[0, 0].tolist()[2] > 240  # converted: red became blue


def test_srgb_profile_leaves_an_srgb_chunk_and_no_profile(run, tmp_path, out_dir):
    src = tmp_path / "srgb.png"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo_like()).save(src, icc_profile=profile)
    r = run("image", src, "-k", "8", "-o", out_dir / "o.png")
    assert r.exit_code == 0, r.output
    kinds = [kind for kind, _ in png_chunk_kinds((out_dir / "o.png").read_bytes())]
    assert "sRGB" in kinds and "iCCP" not in kinds


@pytest.mark.parametrize("ext, args", [("png", []), ("jpg", ["--mode", "reconstruct"]),
                                       ("webp", ["--mode", "reconstruct"])])
def test_exif_orientation_is_not_written_again(run, tmp_path, out_dir, ext, args):
    src = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    Image.fromarray(photo_like(16, 24)).save(src, exif=exif, quality=95, dpi=(72, 96))
    target = out_dir / f"o.{ext}"
    r = run("image", src, "-k", "8", "-o", target, *args)
    assert r.exit_code == 0, r.output
    with Image.open(target) as im:
        assert im.size == (16, 24)  # the pixels are turned
        assert 0x0112 not in im.getexif()
        assert "exif" not in im.info
        if ext != "webp":  # the axes turn with the pixels
            assert im.info["dpi"] == pytest.approx((96, 72), abs=0.02)

"""Transparency: RGBA, LA and PA inputs keep their alpha; --background flattens."""

from __future__ import annotations

import io
import json
import struct
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.cli import cli
from quantize.errors import QuantizeWarning
from quantize.io.decode import load_rgba
from quantize.image.pipeline import apply_codebook, pixel_inertia, quantize_image
from quantize.image.transparency import alpha_kind, flatten, premultiplied, quantize_rgba


def rgba_image(height=60, width=90, seed=0, translucent=True):
    """Noisy colours; left band fully transparent, a middle band fading in."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], -1)
    rgb = np.clip(rgb + rng.integers(-20, 21, rgb.shape), 0, 255)
    alpha = np.full((height, width), 255)
    alpha[:, :20] = 0
    if translucent:
        alpha[:, 20:50] = np.linspace(1, 254, 30).astype(int)[None, :]
    # Fully transparent pixels carry junk colours, as real files do.
    return np.dstack([rgb, alpha]).astype(np.uint8)


def check_alpha_kept(src_rgba, out_rgba):
    a_in, a_out = src_rgba[..., 3], out_rgba[..., 3]
    assert (a_out[a_in == 0] == 0).all(), "transparent pixels stay transparent"
    assert (a_out[a_in == 255] == 255).all(), "opaque pixels stay opaque"
    part = (a_in > 0) & (a_in < 255)
    assert ((a_out[part] > 0) & (a_out[part] < 255)).all(), "translucent stay translucent"


def chunks(data: bytes) -> dict:
    out, pos = {}, 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.setdefault(data[pos + 4:pos + 8].decode(), data[pos + 8:pos + 8 + n])
        pos += 12 + n
    return out


# --------------------------------------------------------------------------
# Library


@pytest.mark.parametrize("k", [2, 3, 8, 64])
@pytest.mark.parametrize("space", ["srgb", "oklab"])
def test_rgba_result_invariants(k, space):
    img = rgba_image()
    r = quantize_image(img, k, color_space=space)
    assert r.codebook.shape[1] == 4 and r.has_alpha
    # At most k entries; with transparent, translucent and opaque pixels all
    # present, each kind gets at least one (so 3 even for k=2).
    assert r.k <= max(k, 3)
    assert np.unique(r.codebook, axis=0).shape[0] == r.k
    assert tuple(r.codebook[0]) == (0, 0, 0, 0), "the reserved transparent entry comes first"
    assert (r.codebook[1:, 3] > 0).all(), "one transparent entry only"
    assert int(r.counts.sum()) == img.shape[0] * img.shape[1]
    np.testing.assert_array_equal(r.counts, np.bincount(r.labels.ravel(), minlength=r.k))
    assert r.counts[0] == (img[..., 3] == 0).sum()
    # Entries with transparency before the opaque ones.
    opaque = r.codebook[:, 3] == 255
    assert not opaque[:np.argmax(opaque)].any() and opaque[np.argmax(opaque):].all()
    check_alpha_kept(img, r.reconstruct())
    assert r.mse == pytest.approx(pixel_inertia(img, r.codebook, r.labels) / (img[..., 0].size * 4))


def test_binary_alpha_takes_the_rgb_path_with_one_code_less():
    img = rgba_image(translucent=False)
    r = quantize_image(img, 8, seed=2)
    assert r.options["transparency"] == "binary"
    visible = img[img[..., 3] == 255][:, :3][None]
    rgb = quantize_image(np.ascontiguousarray(visible), 7, seed=2)
    np.testing.assert_array_equal(r.codebook[1:, :3], rgb.codebook)
    assert (r.codebook[1:, 3] == 255).all()
    check_alpha_kept(img, r.reconstruct())


def test_opaque_rgba_is_exactly_the_rgb_result(chelsea_small):
    rgba = np.dstack([chelsea_small, np.full(chelsea_small.shape[:2], 255, np.uint8)])
    a, b = quantize_image(rgba, 12), quantize_image(chelsea_small, 12)
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_fully_transparent_image():
    img = np.zeros((5, 7, 4), np.uint8)
    img[..., :3] = 99
    r = quantize_image(img, 4)
    assert r.codebook.tolist() == [[0, 0, 0, 0]]
    assert r.counts.tolist() == [35] and r.mse == 0.0


def test_translucent_pixels_are_left_out_of_nothing_but_transparent_ones():
    # Junk colours under alpha 0 must not pull any palette entry.
    img = np.zeros((10, 20, 4), np.uint8)
    img[:, :10] = (255, 0, 255, 0)    # magenta junk, invisible
    img[:, 10:] = (10, 200, 30, 255)  # visible green
    r = quantize_image(img, 4)
    assert [0, 0, 0, 0] in r.codebook.tolist()
    assert not any(row[:3] == [255, 0, 255] for row in r.codebook.tolist())


def test_alpha_helpers():
    assert alpha_kind(np.array([255, 255])) == "opaque"
    assert alpha_kind(np.array([0, 255])) == "binary"
    assert alpha_kind(np.array([0, 7, 255])) == "translucent"
    np.testing.assert_array_equal(premultiplied(np.array([[200, 100, 0, 0]], np.uint8)), [[0, 0, 0, 0]])
    white = flatten(np.array([[[0, 0, 0, 0], [10, 20, 30, 255]]], np.uint8), (255, 255, 255))
    assert white.tolist() == [[[255, 255, 255], [10, 20, 30]]]


def test_apply_rgba_appends_a_transparent_entry():
    img = rgba_image()
    book = np.array([[0, 0, 0], [255, 255, 255], [200, 50, 50]], np.uint8)
    r = apply_codebook(img, book)
    assert r.codebook.shape == (4, 4)
    np.testing.assert_array_equal(r.codebook[:3, :3], book)
    assert r.codebook[3].tolist() == [0, 0, 0, 0]
    out = r.reconstruct()
    assert (out[img[..., 3] < 128, 3] == 0).all() and (out[img[..., 3] >= 128, 3] == 255).all()


# --------------------------------------------------------------------------
# Files and the command line


def save_variants(folder, img):
    """The same picture as RGBA, LA and PA (palette + tRNS) files."""
    paths = {}
    paths["RGBA"] = folder / "rgba.png"
    Image.fromarray(img, "RGBA").save(paths["RGBA"])
    paths["LA"] = folder / "la.png"
    Image.fromarray(np.dstack([img[..., 0], img[..., 3]]), "LA").save(paths["LA"])
    pa = Image.fromarray(img, "RGBA").quantize(32, method=Image.Quantize.FASTOCTREE)
    paths["PA"] = folder / "pa.png"
    pa.save(paths["PA"])
    return paths


@pytest.mark.parametrize("kind", ["RGBA", "LA", "PA"])
@pytest.mark.parametrize("translucent", [True, False])
def test_cli_keeps_alpha_in_palette_pngs(tmp_path, kind, translucent):
    img = rgba_image(translucent=translucent)
    src = save_variants(tmp_path, img)[kind]
    source = load_rgba(src)
    assert source.shape[2] == 4
    out = tmp_path / "out.png"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert "tRNS" in chunks(data)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        decoded = np.asarray(im.convert("RGBA"))
    check_alpha_kept(source, decoded)


@pytest.mark.parametrize("fmt", ["png", "webp", "tiff"])
def test_reconstruct_writes_rgba_where_the_format_allows(tmp_path, fmt):
    img = rgba_image()
    src = tmp_path / "in.png"
    Image.fromarray(img, "RGBA").save(src)
    out = tmp_path / f"out.{fmt}"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "--mode", "reconstruct",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        check_alpha_kept(img, np.asarray(im))


def test_reconstruct_jpeg_flattens_onto_white_with_a_warning(tmp_path):
    img = rgba_image()
    src = tmp_path / "in.png"
    Image.fromarray(img, "RGBA").save(src)
    out = tmp_path / "out.jpg"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "--mode", "reconstruct",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "flattened onto white" in res.output
    with Image.open(out) as im:
        assert im.mode == "RGB"
        assert np.asarray(im)[:, :20].min() > 240  # the transparent band is white


def test_background_flattens(tmp_path):
    img = rgba_image()
    src = tmp_path / "in.png"
    Image.fromarray(img, "RGBA").save(src)
    out = tmp_path / "out.png"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "-o", str(out),
                                   "--background", "#ff00ff", "--mode", "reconstruct"])
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.mode == "RGB"
        flat = np.asarray(im)
    # The transparent band became (a quantized) magenta.
    assert np.abs(flat[:, :20].astype(int) - [255, 0, 255]).max() <= 8
    pal = tmp_path / "pal.png"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "-o", str(pal),
                                   "--background", "255,0,255"])
    assert res.exit_code == 0, res.output
    assert "tRNS" not in chunks(pal.read_bytes())
    res = CliRunner().invoke(cli, ["image", str(src), "-o", str(pal), "--background", "nope"])
    assert res.exit_code == 2


def test_codebook_file_leaves_out_the_transparent_entry(tmp_path):
    img = rgba_image()
    src = tmp_path / "in.png"
    Image.fromarray(img, "RGBA").save(src)
    book = tmp_path / "book.json"
    res = CliRunner().invoke(cli, ["image", str(src), "-k", "8", "-o", str(tmp_path / "o.png"),
                                   "--codebook", str(book)])
    assert res.exit_code == 0, res.output
    doc = json.loads(book.read_text())
    assert doc["k"] == 7 and len(doc["options"]["alpha"]) == 7
    assert min(doc["options"]["alpha"]) > 0
    # Applied back, the transparent pixels get a new transparent entry.
    out = tmp_path / "a.png"
    res = CliRunner().invoke(cli, ["apply", str(src), "-c", str(book), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        decoded = np.asarray(im.convert("RGBA"))
    assert (decoded[img[..., 3] == 0, 3] == 0).all()


def test_shared_palette_ignores_transparent_pixels(tmp_path):
    img = np.zeros((10, 20, 4), np.uint8)
    img[:, :10] = (255, 0, 255, 0)
    img[:, 10:] = (10, 200, 30, 255)
    src = tmp_path / "in.png"
    Image.fromarray(img, "RGBA").save(src)
    book = tmp_path / "book.txt"
    res = CliRunner().invoke(cli, ["palette", str(src), "-k", "4", "-o", str(book)])
    assert res.exit_code == 0, res.output
    assert book.read_text() == "#0ac81e\n"


def test_quality_target_needs_an_opaque_image(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(rgba_image(), "RGBA").save(src)
    res = CliRunner().invoke(cli, ["image", str(src), "-o", str(tmp_path / "o.png"),
                                   "--min-psnr", "20"])
    assert res.exit_code == 2 and "--background" in res.output
    res = CliRunner().invoke(cli, ["image", str(src), "-o", str(tmp_path / "o.png"),
                                   "--min-psnr", "20", "--background", "white"])
    assert res.exit_code == 0, res.output


def test_encode_rgb_warning_is_a_quantize_warning():
    from quantize.io.encode import encode_rgb

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encode_rgb(rgba_image(), "BMP")
    assert any(issubclass(w.category, QuantizeWarning) for w in caught)


def test_quantize_rgba_directly_with_init_adds_the_transparent_entry():
    img = rgba_image(translucent=False)
    init = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], float)
    r = quantize_rgba(img, 3, init=init)
    assert r.codebook.shape[0] == 4 and tuple(r.codebook[0]) == (0, 0, 0, 0)


def _half_clear(path):
    rgba = np.dstack([np.random.default_rng(5).integers(0, 256, (16, 20, 3), dtype=np.uint8),
                      np.full((16, 20), 255, np.uint8)])
    rgba[:4, :, 3] = 0
    Image.fromarray(rgba).save(path)
    return path


def test_a_quality_target_on_an_image_with_transparency_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from quantize.cli import cli

    r = CliRunner().invoke(cli, ["image", str(_half_clear(tmp_path / "a.png")), "--min-psnr", "30",
                                 "-o", str(tmp_path / "out.png")])
    assert r.exit_code == 2
    assert "transparency" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_palette_that_needs_a_257th_entry_is_refused_by_apply_and_batch_alike(tmp_path):
    import json

    from click.testing import CliRunner

    from quantize.cli import cli

    src = tmp_path / "src"
    src.mkdir()
    _half_clear(src / "a.png")
    colours = [[i, 255 - i, (7 * i) % 256] for i in range(256)]
    (tmp_path / "book.json").write_text(json.dumps({"format": "quantize-codebook", "version": 1,
                                                    "k": 256, "colors": colours}))
    runner = CliRunner()
    r = runner.invoke(cli, ["apply", str(src / "a.png"), "-c", str(tmp_path / "book.json"),
                            "-o", str(tmp_path / "out.png")])
    assert r.exit_code == 73, r.output
    assert "256-colour palette" in r.output
    assert not (tmp_path / "out.png").exists()
    r = runner.invoke(cli, ["batch", str(src), "-o", str(tmp_path / "batch"), "-j", "1",
                            "--codebook", str(tmp_path / "book.json")])
    assert r.exit_code == 73, r.output
    assert "256-colour palette" in r.output
    assert not [p for p in (tmp_path / "batch").rglob("*.png")]

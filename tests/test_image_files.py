"""``quantize image`` on several files: names beside the inputs, no clobbering, per-file outcomes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hostile import invoke, snapshot


def blobs(seed=0, height=20, width=24):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(6, 3))
    return centres[rng.integers(0, 6, size=(height, width))].astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    for i in range(3):
        Image.fromarray(blobs(i)).save(tmp_path / f"p{i}.png")
    Image.fromarray(blobs(9)).save(tmp_path / "photo.jpg", quality=90)
    return tmp_path


def test_outputs_are_named_beside_their_inputs(folder):
    r = invoke("image", folder / "p0.png", folder / "photo.jpg", "-k", "4")
    assert r.exit_code == 0, r.output
    assert (folder / "p0-pal.png").is_file() and (folder / "photo-pal.png").is_file()
    with Image.open(folder / "photo-pal.png") as im:
        assert im.mode == "P" and len(im.getpalette()) // 3 <= 4
    r = invoke("image", folder / "p0.png", folder / "photo.jpg", "-k", "4", "--mode", "reconstruct")
    assert r.exit_code == 0, r.output
    assert (folder / "p0-rec.png").is_file() and (folder / "photo-rec.jpg").is_file()
    r = invoke("image", folder / "p1.png", "-k", "4", "--ext", ".small.png")
    assert r.exit_code == 0 and (folder / "p1.small.png").is_file()


def test_same_bytes_as_with_an_explicit_output(folder):
    assert invoke("image", folder / "p0.png", "-k", "5", "-o", folder / "named.png").exit_code == 0
    assert invoke("image", folder / "p0.png", "-k", "5").exit_code == 0
    assert (folder / "p0-pal.png").read_bytes() == (folder / "named.png").read_bytes()


def test_existing_outputs_are_kept_unless_forced(folder):
    (folder / "p0-pal.png").write_bytes(b"mine")
    r = invoke("image", folder / "p0.png", folder / "p1.png", "-k", "4")
    assert r.exit_code == 73
    assert (folder / "p0-pal.png").read_bytes() == b"mine"
    assert (folder / "p1-pal.png").is_file()  # the other file went on
    assert "p0-pal.png" in r.stderr and "--force" in r.stderr
    r = invoke("image", folder / "p0.png", "-k", "4", "--force")
    assert r.exit_code == 0
    with Image.open(folder / "p0-pal.png") as im:
        assert im.format == "PNG"
    # An explicit -o replaces its file, as it always did.
    (folder / "o.png").write_bytes(b"old")
    assert invoke("image", folder / "p2.png", "-k", "4", "-o", folder / "o.png").exit_code == 0
    assert (folder / "o.png").read_bytes() != b"old"


def test_each_file_succeeds_or_fails_on_its_own(folder):
    (folder / "bad.png").write_text("not an image")
    r = invoke("image", folder / "p0.png", folder / "bad.png", folder / "gone.png",
               folder / "p1.png", "-k", "4", "--json")
    assert r.exit_code == 65  # 65 (not an image) is more severe than 66 (missing)
    errors = [line for line in r.stderr.splitlines() if line.startswith("quantize: error:")]
    assert len(errors) == 2 and "bad.png" in errors[0] and "gone.png" in errors[1]
    done = [json.loads(line)["input"] for line in r.stdout.splitlines()]
    assert done == [str(folder / "p0.png"), str(folder / "p1.png")]
    assert not (folder / "bad-pal.png").exists() and not (folder / "gone-pal.png").exists()


@pytest.mark.parametrize("extra", [["-o", "x.png"], ["--codebook", "c.json"], ["--swatch", "s.png"]])
def test_one_file_options_with_several_inputs_are_usage_errors(folder, extra):
    before = snapshot(folder)
    r = invoke("image", folder / "p0.png", folder / "p1.png", *extra[:1], folder / extra[1])
    assert r.exit_code == 2
    assert snapshot(folder) == before
    if extra[0] == "-o":
        assert "quantize batch" in r.output


def test_skip_if_larger(folder):
    # An image that is already its own palette PNG cannot get smaller.
    assert invoke("image", folder / "p0.png", "-k", "4", "-o", folder / "q.png").exit_code == 0
    r = invoke("image", folder / "q.png", "-k", "4", "-o", folder / "again.png",
               "--skip-if-larger", "--json")
    assert r.exit_code == 98, r.output
    assert json.loads(r.stdout)["written"] is False
    assert not (folder / "again.png").exists()
    assert "--skip-if-larger" in r.stderr
    # A noisy true-colour PNG at 4 colours is much smaller: written.
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "noise.png")
    r = invoke("image", folder / "noise.png", "-k", "4", "-o", folder / "n.png",
               "--skip-if-larger", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["written"] is True
    assert (folder / "n.png").stat().st_size < (folder / "noise.png").stat().st_size

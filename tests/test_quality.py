"""Quality targets: `image --min-psnr / --max-mse` choose the fewest colours
that reach the target; an unreachable target writes nothing and exits 99."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from PIL import Image

import quantize.image.quality as quality_mod
from quantize.errors import QualityError
from quantize.core.histogram import colour_histogram, pixel_keys
from quantize.image.pipeline import fit_histogram, quantize_image
from quantize.image.quality import QualityTarget, quantize_to_target, search_k


@pytest.fixture
def small_png(write_png, chelsea_small):
    return write_png(chelsea_small, "chelsea.png")


def psnr_of(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse), mse


def decoded(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------------
# The command


@pytest.mark.parametrize("target", [24.0, 29.5, 33.0])
def test_min_psnr_reaches_the_target_and_k_minus_1_does_not(run, small_png, out_dir,
                                                            chelsea_small, target):
    out = out_dir / "o.png"
    r = run("image", small_png, "-k", "128", "--min-psnr", target, "-o", out, "--json",
            "--seed", "2")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    k = summary["target"]["k_chosen"]
    assert summary["k_requested"] == 128
    # The file written reaches the target, measured independently.
    psnr, _ = psnr_of(decoded(out), chelsea_small)
    assert psnr >= target
    assert summary["psnr"] == pytest.approx(psnr)
    # k - 1 colours, same options and seed, does not.
    assert k > 1
    worse = quantize_image(chelsea_small, k - 1, seed=2)
    assert worse.psnr < target
    # And the output is exactly what `image -k K` writes.
    plain = out_dir / "plain.png"
    assert run("image", small_png, "-k", k, "-o", plain, "--seed", "2").exit_code == 0
    assert plain.read_bytes() == out.read_bytes()
    # Bisection: a handful of fits, not one per k.
    assert len(summary["target"]["probes"]) <= 2 + math.ceil(math.log2(128))


def test_max_mse_is_the_same_target_as_mse(run, small_png, out_dir, chelsea_small):
    out = out_dir / "o.png"
    r = run("image", small_png, "-k", "64", "--max-mse", "80", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    k = json.loads(r.stdout)["target"]["k_chosen"]
    _, mse = psnr_of(decoded(out), chelsea_small)
    assert mse <= 80
    assert quantize_image(chelsea_small, k - 1).mse > 80
    # The equivalent PSNR floor picks the same k.
    db = 10 * math.log10(255**2 / 80)
    r2 = run("image", small_png, "-k", "64", "--min-psnr", db, "-o", out_dir / "p.png", "--json")
    assert json.loads(r2.stdout)["target"]["k_chosen"] == k


@pytest.mark.parametrize("args", [["--min-psnr", "60", "-k", "8"], ["--max-mse", "0.5", "-k", "4"]])
def test_unreachable_target_exits_99_and_leaves_no_file(run, small_png, out_dir, args):
    r = run("image", small_png, *args, "-o", out_dir / "o.png", "--codebook", out_dir / "o.gpl",
            "--swatch", out_dir / "s.png")
    assert r.exit_code == 99, r.output
    assert "quality target not met" in r.output
    assert os.listdir(out_dir) == []  # no image, codebook, swatch or temporary file


def test_target_with_few_colours_is_exact(run, write_png, out_dir):
    pixels = np.zeros((6, 6, 3), dtype=np.uint8)
    pixels[:3] = [200, 10, 10]
    pixels[:, :2] = [10, 10, 200]
    r = run("image", write_png(pixels), "--max-mse", "0", "-o", out_dir / "o.png", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["k"] == 3 and summary["target"]["k_chosen"] == 3 and summary["psnr"] is None


def test_target_and_codebook_init_conflict(run, small_png, out_dir, tmp_path):
    book = tmp_path / "b.txt"
    book.write_text("#000000\n#ffffff\n")
    r = run("image", small_png, "--init", book, "--min-psnr", "20", "-o", out_dir / "o.png")
    assert r.exit_code == 2
    assert os.listdir(out_dir) == []


def test_target_records_options_in_the_codebook(run, small_png, out_dir):
    r = run("image", small_png, "-k", "32", "--min-psnr", "28", "-o", out_dir / "o.png",
            "--codebook", out_dir / "o.json")
    assert r.exit_code == 0, r.output
    doc = json.loads((out_dir / "o.json").read_text())
    assert doc["options"]["min_psnr"] == 28 and doc["options"]["k_max"] == 32
    assert doc["k"] <= doc["options"]["k"] <= 32
    assert doc["psnr"] >= 28


# --------------------------------------------------------------------------
# The search


def test_target_validation():
    with pytest.raises(ValueError):
        QualityTarget()
    with pytest.raises(ValueError):
        QualityTarget(max_mse=-1)
    with pytest.raises(ValueError):
        QualityTarget(min_psnr=float("nan"))
    both = QualityTarget(min_psnr=30, max_mse=50)  # both must hold
    assert both.met(40) and not both.met(60) and not both.met(65.1)
    assert QualityTarget(min_psnr=100).met(0.0)  # exact is infinite PSNR


def test_unreachable_raises_quality_error(chelsea_small):
    with pytest.raises(QualityError) as info:
        quantize_to_target(chelsea_small, 4, QualityTarget(min_psnr=50), source="x.png")
    assert info.value.exit_code == 99
    assert "'x.png'" in str(info.value)


def test_search_holds_the_boundary_even_when_quality_is_not_monotone(monkeypatch, chelsea_small):
    """Bisection assumes quality grows with k; when it does not (here k = 5..7
    are made bad), the result still reaches the target and k - 1 does not."""
    hist = colour_histogram(pixel_keys(chelsea_small))
    real = fit_histogram

    def bumpy(h, k, **kw):
        return real(h, 2 if 5 <= k <= 7 else k, **kw)

    monkeypatch.setattr(quality_mod, "fit_histogram", bumpy)
    target = QualityTarget(max_mse=real(hist, 4).inertia / (3 * hist.n_pixels))
    search = search_k(hist, 64, target)
    assert search.met
    assert target.met(search.mse)
    assert not target.met(bumpy(hist, search.k - 1).inertia / (3 * hist.n_pixels))


def test_search_matches_a_linear_scan_when_monotone(chelsea_small):
    hist = colour_histogram(pixel_keys(chelsea_small))
    n = 3 * hist.n_pixels
    mse = {k: fit_histogram(hist, k).inertia / n for k in range(1, 17)}
    assert all(mse[k + 1] <= mse[k] for k in range(1, 16))  # monotone on this image
    for threshold in (mse[3], (mse[9] + mse[10]) / 2, mse[16]):
        search = search_k(hist, 16, QualityTarget(max_mse=threshold))
        assert search.k == min(k for k in mse if mse[k] <= threshold)

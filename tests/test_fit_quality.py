"""The fit against plain full-data k-means, and the stopping rule it obeys.

Small versions of the bench corpus's image classes (benchmarks/corpus.py):
dark starfields, fog, sepia, stains, saturated synthetic images, flat UI with
text, gradients and high-ISO noise. Nothing here is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root

from benchmarks import corpus  # noqa: E402
from quantize import kmeans, quantize_image  # noqa: E402
from quantize.core.histogram import colour_histogram, pixel_keys  # noqa: E402
from quantize.image.pipeline import nearest_codes  # noqa: E402

#: One small image of each generated class, and k values that make each fit
#: a real clustering (the image has many more colours than k).
CASES = [
    ("stars-nebula", 16), ("stars-milkyway", 64),
    ("fog-china", 16), ("fog-coffee", 64),
    ("sepia-chelsea", 32),
    ("stain-dense", 16), ("stain-retina", 64),
    ("synthetic-bars", 4),
    ("ui-dark", 16),
    ("gradient-radial", 32),
    ("noise-flower", 64),
]
SCALE = 0.2


@pytest.fixture(scope="module")
def images():
    return {name: corpus.make(name, SCALE) for name in dict(CASES)}


def reference_mse(pixels, k, seeds=(0, 1, 2)):
    """Weighted k-means++ and Lloyd on every distinct colour, run to convergence.

    The core's plain loop (no coarse levels, no bounds), stopped only when no
    centre moves more than 0.01; the centres are then rounded to uint8 and
    every colour takes its nearest code, as the pipeline's are. The median
    over a few seeds: what such a run typically reaches, not one lucky or
    unlucky local minimum.
    """
    hist = colour_histogram(pixel_keys(pixels))
    errors = []
    for seed in seeds:
        fit = kmeans.cluster(hist.colours.astype(np.float64), k,
                             weights=hist.counts.astype(np.float64), eps=0.01, max_iter=1000,
                             seed=seed)
        codebook = np.unique(np.clip(np.rint(fit.centers), 0, 255).astype(np.uint8), axis=0)
        _, sq_dist = nearest_codes(hist.colours, codebook)
        errors.append(float(hist.counts @ sq_dist) / pixels.size)
    return float(np.median(errors))


def test_the_classes_are_all_covered():
    kinds = {corpus.SPECS[name].kind for name, _ in CASES}
    assert kinds == set(corpus.KINDS) - {"photo", "large"}


@pytest.mark.parametrize("name,k", CASES)
def test_default_fit_is_as_good_as_full_data_kmeans(images, name, k):
    pixels = images[name]
    assert len(colour_histogram(pixel_keys(pixels))) > 8 * k
    result = quantize_image(pixels, k)
    assert result.converged
    assert result.mse <= 1.01 * reference_mse(pixels, k)


def test_converged_follows_max_iter(images):
    pixels = images["stain-dense"]
    assert quantize_image(pixels, 16).converged
    cut = quantize_image(pixels, 16, max_iter=1)
    assert not cut.converged
    assert cut.n_iter == 1


def shifts_of(pixels, k, **options):
    shifts = []
    result = quantize_image(pixels, k, callback=lambda i, shift: shifts.append(shift), **options)
    return result, shifts


@pytest.mark.parametrize("name", ["fog-coffee", "noise-flower"])
def test_eps_is_where_the_last_stage_stops(images, name):
    loose, loose_shifts = shifts_of(images[name], 32, eps=2.0)
    tight, tight_shifts = shifts_of(images[name], 32, eps=0.05)
    for result, shifts, eps in ((loose, loose_shifts, 2.0), (tight, tight_shifts, 0.05)):
        assert result.converged
        # The callback sees the last stage: one shift per iteration, the
        # last one within eps and none before it.
        assert len(shifts) == result.n_iter
        assert shifts[-1] <= eps
        assert all(shift > eps for shift in shifts[:-1])
    assert tight.n_iter > loose.n_iter
    assert tight.mse <= loose.mse


def test_max_iter_caps_the_last_stage(images):
    result, shifts = shifts_of(images["noise-flower"], 32, eps=0.0, max_iter=3)
    assert (result.n_iter, len(shifts), result.converged) == (3, 3, False)


def test_oklab_fit_converges_too(images):
    result = quantize_image(images["gradient-radial"], 32, color_space="oklab")
    assert result.converged and result.k == 32


def test_converged_is_recorded_in_json_codebooks_and_batch_reports(tmp_path):
    import json

    from click.testing import CliRunner
    from PIL import Image

    from quantize.cli import cli

    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(corpus.make("noise-flower", SCALE)).save(src / "noise.png")
    runner = CliRunner()
    for max_iter, converged in ((100, True), (1, False)):
        book = tmp_path / f"book-{max_iter}.json"
        r = runner.invoke(cli, ["image", str(src / "noise.png"), "-k", "32", "--eps", "0.05",
                                "--max-iter", str(max_iter), "-o", str(tmp_path / "out.png"),
                                "--codebook", str(book), "--json"])
        assert r.exit_code == 0, r.output
        line = json.loads(r.output)
        doc = json.loads(book.read_text())
        assert line["converged"] is doc["converged"] is converged
        assert line["iterations"] == doc["iterations"] <= max_iter
        report = tmp_path / f"report-{max_iter}.jsonl"
        r = runner.invoke(cli, ["batch", str(src), "-o", str(tmp_path / f"out-{max_iter}"), "-k",
                                "32", "--eps", "0.05", "--max-iter", str(max_iter), "-j", "1",
                                "--report", str(report), "-q"])
        assert r.exit_code == 0, r.output
        row = json.loads(report.read_text().splitlines()[0])
        assert (row["converged"], row["iterations"]) == (converged, line["iterations"])


def test_a_palette_of_fully_transparent_images_is_a_clear_error(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from quantize.cli import cli

    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(tmp_path / "clear.png")
    r = CliRunner().invoke(cli, ["palette", str(tmp_path / "clear.png"), "-k", "4",
                                 "-o", str(tmp_path / "book.json")])
    assert r.exit_code == 65
    assert "fully transparent" in r.output
    assert not (tmp_path / "book.json").exists()


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_the_bounded_lloyd_matches_plain_lloyd_with_few_centres(k):
    rng = np.random.default_rng(k)
    data = rng.integers(0, 256, (3000, 3)).astype(np.float64)
    weights = rng.integers(1, 20, 3000).astype(np.float64)
    start = data[:k].copy()
    plain = kmeans.cluster(data, k, weights=weights, init=start, max_iter=200, eps=1e-6)
    bounded = kmeans.lloyd(data, weights, start, 200, 1e-6)
    assert bounded.converged and plain.converged
    # The same fixed point, up to the float32 search's rounding.
    assert np.abs(np.sort(bounded.centers, axis=0) - np.sort(plain.centers, axis=0)).max() < 1e-3

"""The elbow sweep: k specs, the knee rule, a curve that never increases,
one histogram for every k, and the `quantize elbow` command with its plot."""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import pytest
from PIL import Image

import quantize.image.elbow as elbow_mod
from quantize.image.elbow import knee, parse_k_spec, sweep
from quantize.core.histogram import colour_histogram, pixel_keys
from quantize.image.pipeline import HistogramFit, fit_histogram, quantize_image

PHOTOS = ["chelsea.png", "coffee.png", "china.jpg", "flower.jpg", "astronaut.png"]


def thumbnail(path, size=(100, 67)):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize(size, Image.BILINEAR), dtype=np.uint8)


def hist_of(pixels):
    return colour_histogram(pixel_keys(pixels))


# --------------------------------------------------------------------------
# k specs


@pytest.mark.parametrize("text, expected", [
    ("2..6", [2, 3, 4, 5, 6]),
    ("2..64..16", [2, 18, 34, 50]),
    ("4,8,16", [4, 8, 16]),
    ("16, 4 ,8,4", [4, 8, 16]),
    ("2..4,10,3..5", [2, 3, 4, 5, 10]),
    ("7", [7]),
    ("5..5", [5]),
])
def test_parse_k_spec(text, expected):
    assert parse_k_spec(text) == expected


@pytest.mark.parametrize("text", ["", "0..4", "4..2", "2..8..0", "a..b", "2...8", "1,,2", "2..4..1..1",
                                  "-3", "1..70000"])
def test_bad_k_specs(text):
    with pytest.raises(ValueError):
        parse_k_spec(text)


@pytest.mark.parametrize("spec", ["0..4", "4..2", "x", "2..8..0"])
def test_bad_k_spec_on_the_command_line_exits_2(run, write_png, blobs, spec):
    r = run("elbow", write_png(blobs), "--k", spec)
    assert r.exit_code == 2, r.output


# --------------------------------------------------------------------------
# The knee


def test_knee_is_the_farthest_point_below_the_chord():
    ks = [1, 2, 3, 4, 5, 6, 7, 8]
    mse = [100, 50, 20, 15, 12, 10, 9, 8]
    # Scaled: x = (k-1)/7, y = (mse-8)/92; distance below the chord (1 - x - y)/sqrt(2).
    x = (np.array(ks) - 1) / 7
    y = (np.array(mse) - 8) / 92
    assert knee(ks, mse) == int(np.argmax(1 - x - y)) == 2


def test_knee_is_scale_free():
    ks = list(range(2, 20))
    mse = [1000.0 / k for k in ks]
    assert knee(ks, mse) == knee(ks, [m * 1e6 for m in mse]) == knee([10 * k for k in ks], mse)


def test_no_knee():
    assert knee([1, 2], [5, 1]) is None            # too few points
    assert knee([1, 2, 3], [3, 2, 1]) is None       # a straight line
    assert knee([1, 2, 3], [4, 4, 4]) is None       # flat
    assert knee([1, 2, 3, 4], [10, 9.5, 9, 0]) is None  # concave: everything above the chord


# --------------------------------------------------------------------------
# The sweep


@pytest.mark.parametrize("name", PHOTOS)
def test_elbow_curve_never_increases_on_the_samples(samples, name):
    hist = hist_of(thumbnail(samples / name, (64, 43)))  # small: quick, and still ~2500 colours
    result = sweep(hist, range(1, 41))
    inertia = [p.inertia for p in result.points]
    assert all(b <= a for a, b in zip(inertia, inertia[1:])), inertia
    assert [p.k for p in result.points] == list(range(1, 41))
    assert 2 <= result.suggested_k <= 20


def test_points_are_what_image_gives(chelsea_small):
    hist = hist_of(chelsea_small)
    result = sweep(hist, [2, 5, 9, 16], seed=3)
    n = chelsea_small.shape[0] * chelsea_small.shape[1]
    for p in result.points:
        assert not p.warm_start
        direct = quantize_image(chelsea_small, p.k, seed=3)
        assert p.inertia == direct.inertia
        np.testing.assert_array_equal(p.fit.codebook, direct.codebook)
        assert p.mse == pytest.approx(p.inertia / (3 * n))
        assert p.psnr == pytest.approx(10 * math.log10(255**2 / p.mse))
        assert p.codes == direct.k


def test_fewer_colours_than_k_is_exact():
    pixels = np.array([[[0, 0, 0], [255, 0, 0], [0, 255, 0]]], dtype=np.uint8)
    result = sweep(hist_of(pixels), [1, 2, 3, 4, 5])
    assert [p.codes for p in result.points] == [1, 2, 3, 3, 3]
    assert [p.mse for p in result.points][2:] == [0.0, 0.0, 0.0]
    assert all(math.isinf(p.psnr) for p in result.points[2:])
    assert result.points[2].as_dict()["psnr"] is None  # JSON has no infinity


def test_a_worse_fit_is_replaced_so_the_curve_never_increases(monkeypatch, chelsea_small):
    """Make k-means land badly at k=6 and k=7: the sweep keeps the previous
    codebook plus the colours that most reduce the error instead."""
    real = fit_histogram

    def flaky(hist, k, **kw):
        if k in (6, 7) and isinstance(kw.get("init", "kmeans++"), str):
            return real(hist, 2, **kw)  # a much worse fit
        return real(hist, k, **kw)

    monkeypatch.setattr(elbow_mod, "fit_histogram", flaky)
    result = sweep(hist_of(chelsea_small), range(2, 10))
    inertia = [p.inertia for p in result.points]
    assert all(b <= a for a, b in zip(inertia, inertia[1:])), inertia
    flagged = [p.k for p in result.points if p.warm_start]
    assert flagged == [6, 7]
    for p in result.points:
        assert p.codes <= p.k
        assert isinstance(p.fit, HistogramFit)
        # Labels and counts agree with the codebook the point reports.
        assert p.fit.counts.sum() == chelsea_small.shape[0] * chelsea_small.shape[1]


def test_extend_codebook_keeps_old_codes_and_only_lowers_error(chelsea_small):
    hist = hist_of(chelsea_small)
    base = fit_histogram(hist, 4).codebook
    extended = elbow_mod._extend_codebook(hist, base, 9)
    assert extended.shape == (9, 3)
    np.testing.assert_array_equal(extended[:4], base)
    assert elbow_mod._fit_from_codebook(hist, extended).inertia < fit_histogram(hist, 4).inertia


# --------------------------------------------------------------------------
# The command


@pytest.fixture
def small_png(write_png, chelsea_small):
    return write_png(chelsea_small, "chelsea.png")


def test_elbow_builds_the_histogram_once(run, small_png, monkeypatch):
    import quantize.core.histogram
    import quantize.io.decode

    calls = {"hist": 0, "load": 0}
    real_hist, real_load = quantize.core.histogram.colour_histogram, quantize.io.decode.load_rgb

    def counting_hist(*a, **kw):
        calls["hist"] += 1
        return real_hist(*a, **kw)

    def counting_load(*a, **kw):
        calls["load"] += 1
        return real_load(*a, **kw)

    monkeypatch.setattr(quantize.core.histogram, "colour_histogram", counting_hist)
    monkeypatch.setattr(quantize.io.decode, "load_rgb", counting_load)
    r = run("elbow", small_png, "--k", "2..12", "--json")
    assert r.exit_code == 0, r.output
    assert calls == {"hist": 1, "load": 1}
    assert len(json.loads(r.stdout)["results"]) == 11


def test_elbow_json(run, small_png, chelsea_small):
    r = run("elbow", small_png, "--k", "2..4,8,16", "--seed", "1", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [row["k"] for row in doc["results"]] == [2, 3, 4, 8, 16]
    assert set(doc["results"][0]) == {"k", "codes", "inertia", "mse", "psnr", "warm_start"}
    n = chelsea_small.shape[0] * chelsea_small.shape[1]
    assert doc["n_pixels"] == n
    for row in doc["results"]:
        assert row["mse"] == pytest.approx(row["inertia"] / (3 * n))
        assert row["psnr"] == pytest.approx(10 * math.log10(255**2 / row["mse"]))
        assert row["inertia"] == quantize_image(chelsea_small, row["k"], seed=1).inertia
    assert doc["suggested_k"] in [2, 3, 4, 8, 16]
    assert "chord" in doc["method"]
    assert doc["plot"] is None


def test_elbow_table(run, small_png):
    r = run("elbow", small_png, "--k", "2..10")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["k", "codes", "inertia", "mse", "psnr"]
    rows = lines[1:10]
    assert [int(line[1:].split()[0]) for line in rows] == list(range(2, 11))
    starred = [line for line in rows if line.startswith("*")]
    assert len(starred) == 1
    suggested = int(starred[0][1:].split()[0])
    assert lines[10].startswith(f"suggested k: {suggested} ")


def test_elbow_plot(run, small_png, out_dir):
    plot = out_dir / "elbow.png"
    r = run("elbow", small_png, "--k", "2..16", "--plot", plot, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["plot"] == str(plot)
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (760, 460)
        pixels = np.asarray(im).astype(int)
    # The curve (blue) and the suggested-k marker (red) are drawn.
    blue = (abs(pixels - [31, 100, 180]).sum(axis=2) < 60).sum()
    red = (abs(pixels - [200, 40, 40]).sum(axis=2) < 60).sum()
    assert blue > 500 and red > 100
    assert os.listdir(out_dir) == ["elbow.png"]
    # The same command draws the same bytes.
    again = out_dir / "again.png"
    assert run("elbow", small_png, "--k", "2..16", "--plot", again).exit_code == 0
    assert again.read_bytes() == plot.read_bytes()


def test_elbow_plot_errors(run, small_png, out_dir):
    r = run("elbow", small_png, "--k", "2..4", "--plot", small_png)
    assert r.exit_code == 73
    r = run("elbow", small_png, "--k", "2..4", "--plot", out_dir / "nodir" / "e.png")
    assert r.exit_code == 73
    assert os.listdir(out_dir) == []
    r = run("elbow", out_dir / "missing.png")
    assert r.exit_code == 66


def test_render_elbow_edge_cases():
    from quantize.io.plot import render_elbow

    for ks, values, suggested in (([5], [3.0], None), ([2, 3], [0.0, 0.0], None),
                                  ([2, 4, 8], [100.0, 10.0, 1.0], 4)):
        with Image.open(io.BytesIO(render_elbow(ks, values, suggested=suggested))) as im:
            assert im.size == (760, 460)


# --------------------------------------------------------------------------
# The cost limit, the progress bar, --metric and --color-space


def test_a_sweep_far_beyond_a_normal_run_is_refused_before_fitting(run, samples, out_dir,
                                                                   monkeypatch):
    import quantize.image.elbow

    def no_fit(*a, **kw):
        raise AssertionError("a refused sweep fits nothing")

    monkeypatch.setattr(quantize.image.elbow, "fit_histogram", no_fit)
    plot = out_dir / "elbow.png"
    r = run("elbow", samples / "china.jpg", "--k", "2..1000", "--plot", plot)
    assert r.exit_code == 2
    assert "china.jpg" in r.stderr and "--allow-long" in r.stderr and "limit" in r.stderr
    assert "2..1000" in r.stderr
    assert os.listdir(out_dir) == []


def test_the_limit_counts_colours_times_k(chelsea_small):
    from quantize.core.histogram import colour_histogram, pixel_keys
    from quantize.image.elbow import PER_FIT_COST, SWEEP_COST_LIMIT, sweep_cost

    n = len(colour_histogram(pixel_keys(chelsea_small)))
    assert sweep_cost(n, [4, 8]) == n * (4 + PER_FIT_COST) + n * (8 + PER_FIT_COST)
    assert sweep_cost(n, [n, n + 5]) == 2 * n  # at least as many codes as colours: exact
    # A small image's whole range stays within the limit; 2..32 on a million colours too.
    assert sweep_cost(n, range(2, 1001)) < SWEEP_COST_LIMIT
    assert sweep_cost(1_000_000, range(2, 33)) < SWEEP_COST_LIMIT / 10


def test_allow_long_runs_a_sweep_beyond_the_limit(run, small_png, monkeypatch):
    import quantize.image.elbow

    monkeypatch.setattr(quantize.image.elbow, "SWEEP_COST_LIMIT", 1000.0)
    r = run("elbow", small_png, "--k", "2..4", "--json")
    assert r.exit_code == 2
    assert r.stdout == ""
    r = run("elbow", small_png, "--k", "2..4", "--json", "--allow-long")
    assert r.exit_code == 0, r.output
    assert [row["k"] for row in json.loads(r.stdout)["results"]] == [2, 3, 4]


def test_elbow_help_explains_the_limit(run):
    r = run("elbow", "--help")
    assert r.exit_code == 0
    for word in ("--allow-long", "refused", "--metric", "--color-space", "--progress"):
        assert word in r.output, word


def test_progress_bar_on_request_only(run, small_png):
    r = run("elbow", small_png, "--k", "2..5", "--progress")
    assert r.exit_code == 0, r.output
    assert "elbow 0/4 k" in r.stderr and "%|" in r.stderr
    assert r.stdout.splitlines()[0].split() == ["k", "codes", "inertia", "mse", "psnr"]
    r = run("elbow", small_png, "--k", "2..5")  # stderr is not a terminal here
    assert r.exit_code == 0
    assert r.stderr == ""


@pytest.mark.parametrize("args", [["--color-space", "oklab"], ["--metric", "manhattan"]])
def test_elbow_points_are_what_image_gives_with_the_same_space_and_metric(run, small_png,
                                                                           out_dir, args):
    r = run("elbow", small_png, "--k", "3,6", "--json", *args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["options"][args[0][2:].replace("-", "_")] == args[1]
    for row in doc["results"]:
        if row["warm_start"]:
            continue
        one = run("image", small_png, "-k", row["k"], "-o", out_dir / f"{row['k']}.png",
                  "--json", *args)
        assert one.exit_code == 0, one.output
        assert json.loads(one.stdout)["mse"] == pytest.approx(row["mse"], rel=1e-12)
    default = json.loads(run("elbow", small_png, "--k", "3,6", "--json").stdout)
    assert [row["mse"] for row in default["results"]] != [row["mse"] for row in doc["results"]]


def test_sweep_keeps_one_labelling(chelsea_small):
    from quantize.core.histogram import colour_histogram, pixel_keys

    hist = colour_histogram(pixel_keys(chelsea_small))
    result = sweep(hist, [2, 4, 8])
    assert [p.fit.codes is None for p in result.points] == [True, True, False]
    assert result.points[-1].fit.codes.shape == (len(hist),)

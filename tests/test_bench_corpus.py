"""Smoke test of the quality corpus (benchmarks/corpus.py).

No timing is asserted and neither cv2 nor pngquant is needed: the
generators run at a small scale, and the tables and targets on made-up
numbers.
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root

from benchmarks import corpus, looks, run  # noqa: E402
from benchmarks.corpus import OklabRow, Row  # noqa: E402

CLASSES = {"photo", "dark", "fog", "sepia", "stain", "synthetic", "ui", "gradient", "noise", "large"}


def test_doctests():
    failures, _ = doctest.testmod(corpus, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_the_corpus_lists_every_class():
    assert len(corpus.SPECS) >= 24
    assert set(corpus.KINDS) == CLASSES
    per_kind = {kind: [s for s in corpus.SPECS.values() if s.kind == kind] for kind in CLASSES}
    assert len(per_kind["photo"]) == 5 and len(per_kind["large"]) == 1
    for kind in CLASSES - {"photo", "large"}:
        assert 2 <= len(per_kind[kind]) <= 3, kind
    for name in corpus.SPECS:  # short names, usable in --images
        assert len(name) <= 20 and name == name.strip() and "," not in name and " " not in name


def test_generators_are_deterministic():
    for name in corpus.SPECS:
        first = corpus.make(name, scale=0.15)
        again = corpus.make(name, scale=0.15)
        assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3, name
        assert min(first.shape[:2]) >= 8, name
        assert first.tobytes() == again.tobytes(), name
    with pytest.raises(KeyError):
        corpus.make("no-such-image")


def test_generated_classes_look_like_their_class():
    dark = corpus.make("stars-nebula", 0.3)
    assert np.median(dark) < 15 and dark.max() > 200  # near black, with bright stars
    fog = corpus.make("fog-china", 0.3).astype(float)
    assert 180 < fog.mean() < 230 and np.percentile(fog, 99) - np.percentile(fog, 1) < 90
    shapes = corpus.make("synthetic-shapes", 0.3)
    assert len(np.unique(shapes.reshape(-1, 3), axis=0)) <= 8  # flat primaries, no blending
    ui = corpus.make("ui-light", 0.5)
    assert len(np.unique(ui.reshape(-1, 3), axis=0)) > 50  # anti-aliased text adds shades


def test_select():
    assert corpus.select(kinds=["dark"]) == ["stars-sparse", "stars-nebula", "stars-milkyway"]
    assert "photo-12mp" not in corpus.select(large=False)
    assert corpus.select(names=["china", "ui-dark"], kinds=["ui"]) == ["ui-dark"]
    with pytest.raises(KeyError):
        corpus.select(kinds=["nope"])


def test_measures():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (9, 7, 3)).astype(np.uint8)
    b = rng.integers(0, 256, (9, 7, 3)).astype(np.uint8)
    assert corpus.mean_delta_e_ok(a, b, chunk_rows=2) == pytest.approx(looks.errors(a, b)[0])
    expected = np.mean((a.astype(float) - b) ** 2)
    assert corpus.mse_channels(a, b) == pytest.approx(expected)
    colours, counts = corpus.distinct_colours(np.array([[[1, 2, 3], [1, 2, 3], [0, 0, 9]]], np.uint8))
    assert colours.tolist() == [[0, 0, 9], [1, 2, 3]] and counts.tolist() == [1, 2]
    sq = corpus.nearest_sq_dist(colours, np.array([[0, 0, 0], [1, 2, 4]], np.uint8))
    assert sq.tolist() == [30.0, 1.0]  # (0, 0, 9) is nearer (1, 2, 4) than black
    assert corpus.reference_mse(colours, counts, 2) == (0.0, 0)  # no more colours than k


def test_reference_is_weighted_kmeans():
    pytest.importorskip("sklearn")
    colours = np.array([[0, 0, 0], [0, 0, 2], [100, 100, 100]], np.uint8)
    counts = np.array([1, 3, 5])
    mse, _ = corpus.reference_mse(colours, counts, 2)
    # Centres (0, 0, 1.5) -> rounded (0, 0, 2) and (100, 100, 100): one pixel off by 2.
    assert mse == pytest.approx(4 / (3 * 9))


def test_peer_cache_merges_writes(tmp_path):
    path = tmp_path / "peers.json"
    one, two = corpus.PeerCache(path), corpus.PeerCache(path)
    key1 = one.key("a", "v1-x", 8, "pngquant", "2.0")
    key2 = one.key("a", "v1-x", 16, "pngquant", "2.0")
    one.put(key1, {"mse": 1.5})
    two.put(key2, {"mse": 2.5})  # `two` had not seen key1: it must not drop it
    again = corpus.PeerCache(path)
    assert again.get(key1) == {"mse": 1.5} and again.get(key2) == {"mse": 2.5}


def _rows():
    return [
        Row("china", "photo", 100, 8, quantize=98.0, cv2=100.0, pngquant=110.0, reference=97.0),
        Row("china", "photo", 100, 64, quantize=9.0, cv2=10.0, pngquant=12.0, reference=8.9),
        Row("stars", "dark", 100, 8, quantize=10.1, cv2=10.0, pngquant=11.0, reference=9.9),
        Row("ui", "ui", 100, 256, quantize=0.0, cv2=0.0, pngquant=0.0, reference=0.0),
        Row("ramp", "gradient", 100, 16, quantize=5.0, cv2=5.2, pngquant=4.9, reference=4.8),
    ]


def test_tables_and_summaries():
    rows = _rows()
    s = corpus.ratio_summary(rows, "pngquant")
    assert s["worst"] == pytest.approx(5.0 / 4.9) and s["worst_row"].image == "ramp"
    cv2 = corpus.ratio_summary(rows, "cv2")
    assert cv2["worst"] == pytest.approx(1.01) and cv2["median"] == pytest.approx(0.98)
    table = corpus.corpus_table(rows)
    assert table.count("\n") == len(rows) + 1
    assert "| china | photo | 8 | 98.00 | — | 100.0 | 110.0 | 97.00 | 0.980 | 0.891 | 1.010 |" in table
    assert "| ui | ui | 256 | 0 |" in table and "| 1.000 | 1.000 | 1.000 |" in table
    kinds = corpus.kinds_table(rows)
    assert "| gradient | 1 | 0.962 (ramp, k=16) | 1.020 (ramp, k=16) | 1.042 (ramp, k=16) |" in kinds
    assert "| 1.010 | stars, k=8 | 0.980 | 5 | 1 |" in corpus.summary_table(rows)
    # The row where every tool is exact (0/0) counts as 1 in the median, never as the worst.
    without_ramp = corpus.ratio_summary(rows[:4], "pngquant")
    assert without_ramp["worst_row"].image == "stars" and without_ramp["worst"] < 1.0
    assert without_ramp["exact"] == 1 and without_ramp["median"] == pytest.approx((98 / 110 + 10.1 / 11) / 2)
    assert corpus.ratio_summary(rows[3:4], "cv2")["worst"] == 1.0
    text = corpus.render(rows, [OklabRow("china", "photo", 0.9, 1.0)])
    assert "## Quality corpus" in text and "Targets of the quality corpus" in text
    assert not re.search(r"\bissue\b", text, re.IGNORECASE)


def _status(rows, oklab_rows):
    return [t.line()[:4] for t in corpus.targets(rows, oklab_rows)]


def test_targets_pass_and_fail():
    rows, oklab_rows = _rows(), [OklabRow("china", "photo", 0.9, 1.0)]
    assert _status(rows, oklab_rows) == [
        "PASS",  # worst quantize/cv2: 10.1 / 10 = 1.01 <= 1.02
        "FAIL",  # worst quantize/pngquant: 5 / 4.9 = 1.02 > 1.00
        "PASS",  # median quantize/cv2: 0.98 <= 0.99
        "PASS",  # Oklab: 0.9 <= 1.0
    ]
    rows[2].quantize = 10.3  # 1.03x cv2
    rows[4].quantize = 4.9  # equal to pngquant: within 1.00x
    rows[1].quantize = 10.0  # the median rises to 1.0
    oklab_rows.append(OklabRow("fog", "fog", 1.2, 1.1))
    assert _status(rows, oklab_rows) == ["FAIL", "PASS", "FAIL", "FAIL"]
    lines = [t.line() for t in corpus.targets(rows, oklab_rows)]
    assert "worst 1.030 (stars, k=8); 4 of 5 within" in lines[0]
    assert "(fog, ratio 1.091); 1 of 2 photos" in lines[3]
    # A quantize failure is a failure; nothing measured is "n/a".
    rows[0].quantize = None
    assert _status(rows[:1], [])[:2] == ["FAIL", "FAIL"]
    assert _status([Row("a", "photo", 1, 8)], []) == ["n/a ", "n/a ", "n/a ", "n/a "]


def test_measure_with_an_empty_cache(tmp_path):
    cache = corpus.PeerCache(tmp_path / "peers.json")
    rows, oklab_rows, info = corpus.measure(["chelsea"], (8,), fill=False, oklab=False, cache=cache)
    assert len(rows) == 1 and oklab_rows == [] and info["computed"] == 0
    row = rows[0]
    assert row.quantize > 0 and row.seconds > 0 and row.pixels == 451 * 300
    assert row.cv2 is None and row.pngquant is None and row.reference is None
    assert "not cached" in row.note or "not installed" in row.note


def test_command_lines():
    args = corpus.parse_args(["--k", "8,16", "--kinds", "dark,fog", "--no-large"])
    assert args.ks == [8, 16] and set(corpus.SPECS[n].kind for n in args.names) == {"dark", "fog"}
    with pytest.raises(SystemExit):
        corpus.parse_args(["--images", "nope"])
    assert run.parse_args(["--quick"]).no_corpus
    only = run.parse_args(["--corpus-only"])
    assert only.corpus_only and not only.no_corpus and only.results.name == "RESULTS-partial.md"
    assert run.parse_args(["-k", "16"]).corpus_ks == [16]
    full = run.parse_args([])
    assert not full.no_corpus and full.corpus_ks is None and full.results.name == "RESULTS.md"
    with pytest.raises(SystemExit):
        run.parse_args(["--corpus-only", "--looks-only"])

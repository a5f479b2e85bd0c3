"""Fuzzing the readers of records: codebook files of every format, and a batch's manifest.

Hypothesis draws arbitrary and near-valid contents. Whatever a file holds,
the command exits 0, 2 (a codebook too large for a palette) or 65, never 70
and never with a traceback, and a failed run leaves no output behind.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hostile import invoke

from quantize.io.codebook import CODEBOOK_FORMATS, encode_codebook

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(root / "img.png")
    (root / "src").mkdir()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / "src" / "a.png")
    return root


def _valid(fmt: str) -> bytes:
    book = np.array([[255, 0, 0], [0, 128, 255], [7, 7, 7]], dtype=np.uint8)
    return encode_codebook(book, fmt, counts=np.array([3, 2, 1]), inertia=1.5,
                           options={"k": 3})


def _mutations(data: bytes):
    """Near-valid contents: cuts, flips, insertions and repeats of a valid file."""
    n = len(data)
    return st.one_of(
        st.integers(0, n).map(lambda i: data[:i]),
        st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)).map(
            lambda t: data[:t[0]] + bytes([t[1]]) + data[t[0] + 1:]),
        st.tuples(st.integers(0, n), st.binary(max_size=64)).map(
            lambda t: data[:t[0]] + t[1] + data[t[0]:]),
        st.tuples(st.integers(0, n), st.integers(1, 2000)).map(
            lambda t: data[:t[0]] + data[t[0]:t[0] + 8] * t[1] + data[t[0]:]),
    )


@pytest.mark.parametrize("ext", sorted(CODEBOOK_FORMATS))
def test_codebook_readers_never_crash(place, ext):
    fmt = CODEBOOK_FORMATS[ext]

    @FUZZ
    @given(contents=st.one_of(st.binary(max_size=400), _mutations(_valid(fmt))))
    def check(contents):
        book = place / f"book{ext}"
        out = place / "out.png"
        book.write_bytes(contents)
        r = invoke("apply", place / "img.png", "-c", book, "-o", out)
        assert r.exit_code in (0, 2, 65), (r.exit_code, r.output)
        assert "Traceback" not in r.output
        if r.exit_code:
            assert not out.exists()
        if r.exit_code == 65:
            assert len(r.stderr.strip().splitlines()) == 1
        out.unlink(missing_ok=True)

    check()


_record = st.fixed_dictionaries({}, optional={
    "output": st.one_of(st.text(max_size=8), st.integers(), st.none(), st.lists(st.integers())),
    "input": st.one_of(st.text(max_size=8), st.none(), st.floats()),
    "options": st.one_of(st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
                         st.integers(), st.none()),
    "output_size": st.one_of(st.integers(), st.text(max_size=4), st.none()),
    "input_mtime_ns": st.one_of(st.integers(), st.floats(allow_nan=True)),
    "codebook_output": st.one_of(st.text(max_size=6), st.none(), st.integers()),
})


def test_manifest_reader_never_crashes(place):
    out = place / "out"
    r = invoke("batch", place / "src", "-o", out)
    assert r.exit_code == 0
    good = (out / ".quantize-batch.jsonl").read_bytes()

    @FUZZ
    @given(lines=st.lists(st.one_of(_record.map(json.dumps).map(str.encode),
                                    st.binary(max_size=80)), max_size=5),
           keep=st.booleans())
    def check(lines, keep):
        manifest = out / ".quantize-batch.jsonl"
        manifest.write_bytes(b"\n".join(lines) + b"\n" + (good if keep else b""))
        r = invoke("batch", place / "src", "-o", out, "--json")
        assert r.exit_code == 0, (r.exit_code, r.output)
        assert "Traceback" not in r.output
        summary = json.loads(r.stdout)
        assert summary["failed"] == 0 and summary["done"] + summary["skipped"] == 1

    check()

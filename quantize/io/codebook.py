"""Codebook files: the k×3 table of colours, written and read back.

Formats by extension (:data:`CODEBOOK_FORMATS`): ``.json`` (the schema
below), ``.gpl`` (GIMP palette), ``.act`` (Adobe Color Table), ``.csv``,
``.txt`` (one ``#rrggbb`` a line) and ``.npy``. This module turns codebooks
into bytes and bytes into codebooks; the caller writes them atomically
(:func:`quantize.io.files.write_bytes`). It imports neither Pillow nor click.

Schema (version 1), documented in the README::

    {
      "format": "quantize-codebook",
      "version": 1,
      "k": 3,
      "colors": [[r, g, b], ...],        # uint8 values, code order
      "hex": ["#rrggbb", ...],
      "counts": [n0, n1, ...],           # pixels per code
      "inertia": 1234.0,                 # sum of squared errors, 0-255 units
      "mse": 0.42,                       # mean over all channel values
      "psnr": 51.9,
      "n_pixels": 1000,
      "options": {...},                  # options the codebook was made with
      "iterations": 6,                   # a fitted codebook: Lloyd iterations of
      "converged": true                  # its last stage, and whether it met eps
    }
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import struct
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import BadImageError, InputMissingError

__all__ = ["codebook_to_dict", "dumps_codebook", "loads_codebook", "SCHEMA_VERSION",
           "CODEBOOK_FORMATS", "CodebookFile", "codebook_format", "encode_codebook",
           "parse_codebook", "load_codebook", "sniff_codebook_format"]

SCHEMA_VERSION = 1


def _hex(row) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in row))


def codebook_to_dict(codebook, counts, *, inertia: float, options: dict,
                     fit: Optional[tuple] = None) -> dict:
    """Build the JSON-ready dictionary of a codebook.

    Parameters
    ----------
    codebook : ndarray of shape (k, 3), uint8
        The colours, in code order.
    counts : ndarray of shape (k,)
        Pixels per code.
    inertia : float
        Sum of squared errors of the quantized image, 0-255 units.
    options : dict
        Options to record (JSON-serialisable values).
    fit : (int, bool), optional
        For a fitted codebook, the last stage's Lloyd iterations and whether
        it met ``eps``: recorded as ``iterations`` and ``converged``.

    Returns
    -------
    dict
        Keys as in the module docstring.
    """
    codebook = np.asarray(codebook, dtype=np.uint8)
    counts = np.asarray(counts, dtype=np.int64)
    n_pixels = int(counts.sum())
    mse = inertia / (3 * n_pixels) if n_pixels else 0.0
    return {
        "format": "quantize-codebook",
        "version": SCHEMA_VERSION,
        "k": int(codebook.shape[0]),
        "colors": codebook.tolist(),
        "hex": [_hex(row) for row in codebook],
        "counts": counts.tolist(),
        "inertia": float(inertia),
        "mse": mse,
        "psnr": None if mse <= 0 else 10.0 * math.log10(255.0**2 / mse),
        "n_pixels": n_pixels,
        "options": options,
        **({} if fit is None else {"iterations": int(fit[0]), "converged": bool(fit[1])}),
    }


def dumps_codebook(doc: dict) -> bytes:
    """Serialise a codebook dictionary deterministically: sorted keys, UTF-8,
    one list entry per line so that diffs stay readable."""
    lines = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(v, separators=(", ", ": ")) for v in value)
            text = f"[\n    {items}\n  ]"
        else:
            text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
        lines.append(f"  {json.dumps(key)}: {text}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def loads_codebook(data, source="codebook") -> np.ndarray:
    """Parse a JSON codebook and return its colours.

    Parameters
    ----------
    data : bytes or str
        File contents.
    source : str
        Name used in error messages.

    Returns
    -------
    ndarray of shape (k, 3), uint8

    Raises
    ------
    BadImageError
        When the contents are not a valid codebook (65, bad input data).
    """
    try:
        doc = json.loads(data)
        colors = np.asarray(doc["colors"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadImageError(source, f"not a quantize JSON codebook ({exc})") from None
    if (colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] == 0
            or colors.dtype.kind not in "iu" or colors.min() < 0 or colors.max() > 255):
        raise BadImageError(source, "codebook 'colors' must be a non-empty list of [r, g, b] in 0..255")
    return colors.astype(np.uint8)


# ---------------------------------------------------------------------------
# Other file formats, chosen by extension
# ---------------------------------------------------------------------------

#: The codebook file formats: each format's extension and the name its
#: messages use. Every one holds the colours exactly, in code order; JSON and
#: CSV also hold the pixel counts.
_CODEBOOK_KINDS = {
    "json": (".json", "JSON"),                 # the schema above
    "gpl": (".gpl", "GIMP palette"),
    "act": (".act", "Adobe Color Table"),
    "csv": (".csv", "CSV"),                    # code,r,g,b,hex,count
    "txt": (".txt", "hex text"),               # one #rrggbb a line
    "npy": (".npy", "numpy .npy"),             # numpy array (k, 3) uint8
}
#: Codebook file formats by extension.
CODEBOOK_FORMATS = {ext: fmt for fmt, (ext, _) in _CODEBOOK_KINDS.items()}

#: The largest codebook file read (bytes): far more than 65,536 colours with
#: their counts in any format, far less than what would exhaust memory.
MAX_CODEBOOK_BYTES = 32 << 20

#: An Adobe Color Table holds at most this many colours.
ACT_MAX_COLORS = 256

_GPL_MAGIC = b"GIMP Palette"
_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class CodebookFile:
    """The contents of a codebook file.

    Attributes
    ----------
    colors : ndarray of shape (k, 3), uint8
        The colours in code order.
    counts : ndarray of shape (k,), int64, or None
        Pixels per code, for the formats that record them (JSON, CSV).
    fmt : str
        The format the data was read as (a value of :data:`CODEBOOK_FORMATS`).
    """

    colors: np.ndarray
    counts: Optional[np.ndarray]
    fmt: str


def codebook_format(path, default: Optional[str] = None) -> str:
    """The codebook format named by a path's extension.

    Parameters
    ----------
    path : str or os.PathLike
    default : str, optional
        Returned for an unknown extension instead of raising.

    Raises
    ------
    ValueError
        When the extension is not one of :data:`CODEBOOK_FORMATS` and no
        default is given.

    Examples
    --------
    >>> codebook_format("palette.GPL"), codebook_format("x.bin", default="json")
    ('gpl', 'json')
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in CODEBOOK_FORMATS:
        return CODEBOOK_FORMATS[ext]
    if default is not None:
        return default
    known = ", ".join(CODEBOOK_FORMATS)
    raise ValueError(f"cannot tell the codebook format from {os.fspath(path)!r}; "
                     f"use one of the extensions {known}")


def _check_colors(codebook) -> np.ndarray:
    colors = np.asarray(codebook)
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3) with k >= 1, got {colors.shape}")
    if colors.dtype != np.uint8:
        if colors.dtype.kind not in "iu" or colors.min() < 0 or colors.max() > 255:
            raise ValueError("codebook values must be integers in 0..255")
        colors = colors.astype(np.uint8)
    return colors


def encode_codebook(codebook, fmt: str, *, counts=None, inertia: Optional[float] = None,
                    options: Optional[dict] = None, name: str = "quantize",
                    fit: Optional[tuple] = None) -> bytes:
    """Serialise a codebook in one of the :data:`CODEBOOK_FORMATS`.

    The output depends only on the arguments (no dates, no paths), so the
    same codebook gives the same bytes.

    Parameters
    ----------
    codebook : ndarray of shape (k, 3), uint8
        The colours, in code order.
    fmt : {'json', 'gpl', 'act', 'csv', 'txt', 'npy'}
    counts : ndarray of shape (k,), optional
        Pixels per code. Recorded by JSON (required there; zeros when
        missing) and CSV, and as a percentage in the GIMP colour names.
    inertia : float, optional
        Sum of squared errors, for JSON (0 when missing).
    options : dict, optional
        The options the codebook was made with, for JSON.
    name : str
        The palette's name in a GIMP file.
    fit : (int, bool), optional
        For JSON: the fit's iterations and whether it converged
        (:func:`codebook_to_dict`).

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        On a bad codebook or format, or more than 256 colours for ACT.

    Examples
    --------
    >>> book = np.array([[255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    >>> encode_codebook(book, "txt")
    b'#ff0000\\n#0000ff\\n'
    >>> len(encode_codebook(book, "act"))
    772
    """
    colors = _check_colors(codebook)
    k = colors.shape[0]
    if counts is not None:
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (k,):
            raise ValueError(f"counts must have shape ({k},), got {counts.shape}")
    if fmt == "json":
        doc = codebook_to_dict(colors, counts if counts is not None else np.zeros(k, np.int64),
                               inertia=float(inertia or 0.0), options=options or {}, fit=fit)
        return dumps_codebook(doc)
    if fmt == "gpl":
        return _encode_gpl(colors, counts, name)
    if fmt == "act":
        return _encode_act(colors)
    if fmt == "csv":
        lines = ["code,r,g,b,hex,count"]
        for i, row in enumerate(colors):
            count = "" if counts is None else str(int(counts[i]))
            lines.append(f"{i},{row[0]},{row[1]},{row[2]},{_hex(row)},{count}")
        return ("\n".join(lines) + "\n").encode("ascii")
    if fmt == "txt":
        return "".join(_hex(row) + "\n" for row in colors).encode("ascii")
    if fmt == "npy":
        out = io.BytesIO()
        np.save(out, np.ascontiguousarray(colors), allow_pickle=False)
        return out.getvalue()
    raise ValueError(f"unknown codebook format {fmt!r}; use one of {sorted(set(CODEBOOK_FORMATS.values()))}")


def _encode_gpl(colors, counts, name) -> bytes:
    """GIMP palette: 'GIMP Palette', 'Name:', 'Columns:', '#' comments, then
    one 'R G B<TAB>name' line per colour (GIMP writes '%3d %3d %3d\\t%s')."""
    # Any file name: undecodable bytes (kept by Python as surrogates) become
    # U+FFFD, and control characters cannot break the line.
    name = str(name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name = " ".join("".join(c if c.isprintable() else " " for c in name).split()) or "quantize"
    total = int(counts.sum()) if counts is not None else 0
    lines = ["GIMP Palette", f"Name: {name}", f"Columns: {min(colors.shape[0], 16)}",
             f"# {colors.shape[0]} colours, written by quantize; names are the hex value"
             + (" and the share of the pixels" if total else "")]
    for i, row in enumerate(colors):
        label = _hex(row)
        if total:
            label += f" {100.0 * int(counts[i]) / total:.2f}%"
        lines.append(f"{row[0]:3d} {row[1]:3d} {row[2]:3d}\t{label}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _encode_act(colors) -> bytes:
    """Adobe Color Table: 256 RGB triples (unused ones zero), then the colour
    count and the transparent index (0xFFFF: none) as big-endian uint16."""
    k = colors.shape[0]
    if k > ACT_MAX_COLORS:
        raise ValueError(f"an Adobe Color Table holds at most {ACT_MAX_COLORS} colours, got {k}")
    table = np.zeros((ACT_MAX_COLORS, 3), dtype=np.uint8)
    table[:k] = colors
    return table.tobytes() + struct.pack(">HH", k, 0xFFFF)


def sniff_codebook_format(data: bytes) -> Optional[str]:
    """Guess a codebook format from its first bytes (JSON, GIMP, NPY, ACT),
    or None. Text formats without a signature (CSV, TXT) are not guessed,
    except a TXT file whose lines all look like hex colours.

    Examples
    --------
    >>> sniff_codebook_format(b'GIMP Palette\\n'), sniff_codebook_format(b' {"k": 1}')
    ('gpl', 'json')
    """
    head = data[:64].lstrip(b"\xef\xbb\xbf")
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_GPL_MAGIC):
        return "gpl"
    if head.lstrip().startswith(b"{"):
        return "json"
    if len(data) in (768, 772) and (b"\x00" in data or max(data) > 127):
        return "act"  # binary of the right size (text codebooks hold no NUL)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and all(_HEX_LINE.fullmatch(line) for line in lines):
        return "txt"
    if lines and "," in lines[0]:
        return "csv"
    return None


_HEX_LINE = re.compile(r"#?[0-9a-fA-F]{6}")


def parse_codebook(data, fmt: Optional[str] = None, source="codebook") -> CodebookFile:
    """Parse codebook file contents in any of the :data:`CODEBOOK_FORMATS`.

    Parameters
    ----------
    data : bytes
        File contents.
    fmt : str, optional
        The format; guessed with :func:`sniff_codebook_format` when None.
    source : str
        Name used in error messages.

    Returns
    -------
    CodebookFile
        Colours (and counts for JSON and CSV).

    Raises
    ------
    BadImageError
        When the contents are not a valid codebook of that format (65).

    Notes
    -----
    A 772-byte ACT file gives as many colours as its count field says; a
    768-byte one gives all 256. Its transparent index is ignored. A CSV file
    may have a header naming ``r``, ``g``, ``b`` (or ``red``, ``green``,
    ``blue``, or ``hex``) and ``count`` columns; without one, each row is
    ``r,g,b`` or ``#rrggbb``.

    Examples
    --------
    >>> parse_codebook(b"#ff0000\\n0000ff\\n", "txt").colors.tolist()
    [[255, 0, 0], [0, 0, 255]]
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = bytes(data)
    if fmt is None:
        fmt = sniff_codebook_format(data)
        if fmt is None:
            raise BadImageError(source, "not a codebook file in a known format "
                                "(JSON, GIMP .gpl, Adobe .act, .csv, .txt, .npy)")
    parser = {"json": _parse_json, "gpl": _parse_gpl, "act": _parse_act, "csv": _parse_csv,
              "txt": _parse_txt, "npy": _parse_npy}.get(fmt)
    if parser is None:
        raise ValueError(f"unknown codebook format {fmt!r}")
    try:
        colors, counts = parser(data)
    except BadImageError:
        raise
    except RecursionError:
        raise BadImageError(source, f"not a valid {_CODEBOOK_KINDS[fmt][1]} codebook: nested "
                                    "too deeply") from None
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, struct.error,
            EOFError, SyntaxError, OverflowError, csv.Error, MemoryError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BadImageError(source, f"not a valid {_CODEBOOK_KINDS[fmt][1]} codebook: "
                                    f"{detail}") from None
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] == 0:
        raise BadImageError(source, f"not a valid {_CODEBOOK_KINDS[fmt][1]} codebook: no colours")
    if colors.dtype.kind not in "iu" or colors.min() < 0 or colors.max() > 255:
        raise BadImageError(source, f"{_CODEBOOK_KINDS[fmt][1]} codebook values must be integers in 0..255")
    if counts is not None and (counts.shape != (colors.shape[0],) or (counts < 0).any()):
        raise BadImageError(source, "codebook counts must be one non-negative integer per colour")
    return CodebookFile(colors.astype(np.uint8), counts, fmt)




def _parse_json(data):
    doc = json.loads(data.decode("utf-8-sig"))
    if not isinstance(doc, dict):
        raise ValueError("the top level is not an object")
    colors = np.asarray(doc["colors"])
    if colors.dtype.kind not in "iu":
        raise ValueError("'colors' must be a list of [r, g, b] integers")
    counts = doc.get("counts")
    if counts is not None:
        counts = np.asarray(counts)
        if counts.dtype.kind not in "iu":
            raise ValueError("'counts' must be integers")
        counts = counts.astype(np.int64)
    return colors, counts


def _parse_gpl(data):
    lines = data.decode("utf-8-sig").splitlines()
    if not lines or not lines[0].strip().startswith("GIMP Palette"):
        raise ValueError("the first line is not 'GIMP Palette'")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        text = line.strip()
        if not text or text.startswith("#") or text.startswith("Name:") or text.startswith("Columns:"):
            continue
        fields = text.split(None, 3)
        try:
            rows.append([int(v) for v in fields[:3]])
        except ValueError:
            raise ValueError(f"line {number} is not 'R G B name': {line!r}") from None
        if len(rows[-1]) != 3:
            raise ValueError(f"line {number} is not 'R G B name': {line!r}")
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3), None


def _parse_act(data):
    if len(data) == 768:
        k = ACT_MAX_COLORS
    elif len(data) == 772:
        k, _transparent = struct.unpack(">HH", data[768:772])
        if not 1 <= k <= ACT_MAX_COLORS:
            raise ValueError(f"colour count {k} is not in 1..{ACT_MAX_COLORS}")
    else:
        raise ValueError(f"an Adobe Color Table is 768 or 772 bytes, got {len(data)}")
    table = np.frombuffer(data[:768], dtype=np.uint8).reshape(ACT_MAX_COLORS, 3)
    return table[:k].copy(), None


def _hex_colour(text: str):
    text = text.strip()
    if not _HEX_LINE.fullmatch(text):
        raise ValueError(f"{text!r} is not a #rrggbb colour")
    value = int(text.lstrip("#"), 16)
    return [value >> 16, (value >> 8) & 0xFF, value & 0xFF]


def _parse_csv(data):
    rows = [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))
            if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError("no rows")
    header = [cell.strip().lower() for cell in rows[0]]
    colors, counts = [], []
    if not any(_is_number(cell) or _HEX_LINE.fullmatch(cell) for cell in header):
        rows = rows[1:]
        names = {name: i for i, name in enumerate(header)}
        rgb = [names.get(c, names.get(full)) for c, full in zip("rgb", ("red", "green", "blue"))]
        hex_col = names.get("hex")
        count_col = names.get("count")
        if None in rgb and hex_col is None:
            raise ValueError("the header names neither r, g, b nor hex columns")
        for row in rows:
            if None not in rgb:
                colors.append([int(row[i]) for i in rgb])
            else:
                colors.append(_hex_colour(row[hex_col]))
            if count_col is not None:
                cell = row[count_col].strip() if count_col < len(row) else ""
                counts.append(int(cell) if cell else None)
    else:
        for row in rows:
            cells = [cell.strip() for cell in row]
            if len(cells) >= 3 and all(_is_number(c) for c in cells[:3]):
                colors.append([int(c) for c in cells[:3]])
            else:
                colors.append(_hex_colour(cells[0]))
    if counts and None not in counts:
        count_array = np.asarray(counts, dtype=np.int64)
    else:
        count_array = None
    return np.asarray(colors, dtype=np.int64).reshape(-1, 3), count_array


def _is_number(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _parse_txt(data):
    colors = []
    for line in data.decode("utf-8-sig").splitlines():
        text = line.strip()
        if not text or text.startswith(";") or text.startswith("//"):
            continue
        colors.append(_hex_colour(text))
    return np.asarray(colors, dtype=np.int64).reshape(-1, 3), None


def _parse_npy(data):
    # The header's shape is checked against the bytes that follow it before
    # anything is allocated: a header may claim far more than the file holds.
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError:
        raise
    except Exception as exc:  # numpy's header parser raises other kinds on garbage
        raise ValueError(f"cannot parse the header ({type(exc).__name__})") from None
    if dtype.hasobject:
        raise ValueError("object arrays are not read")
    expected = math.prod(shape) * dtype.itemsize
    if expected != len(data) - stream.tell():
        raise ValueError(f"the header claims shape {shape} ({expected} bytes), but "
                         f"{len(data) - stream.tell()} bytes follow it")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError("float values must be whole numbers")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iu":
        raise ValueError(f"dtype {array.dtype} is not numeric")
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"the array must have shape (k, 3), got {array.shape}")
    return array, None


def load_codebook(path, fmt: Optional[str] = None) -> CodebookFile:
    """Read a codebook file in any of the :data:`CODEBOOK_FORMATS`.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or '-' for standard input.
    fmt : str, optional
        The format; by default from the extension, else guessed from the
        contents (see :func:`sniff_codebook_format`).

    Returns
    -------
    CodebookFile

    Raises
    ------
    InputMissingError
        The file is missing, a directory or unreadable (66).
    BadImageError
        The contents are not a valid codebook (65).
    """
    if str(path) == "-":
        import sys

        if sys.stdin is None:
            raise InputMissingError(path, "standard input is closed")
        data = sys.stdin.buffer.read(MAX_CODEBOOK_BYTES + 1)
        if len(data) > MAX_CODEBOOK_BYTES:
            raise BadImageError(path, f"is more than a codebook file can be "
                                      f"({MAX_CODEBOOK_BYTES} bytes)")
    else:
        from .files import open_input

        with open_input(path, "codebook file") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_CODEBOOK_BYTES:
                raise BadImageError(path, f"is {size} bytes, more than a codebook file can be "
                                          f"({MAX_CODEBOOK_BYTES} bytes)")
            try:
                data = f.read(MAX_CODEBOOK_BYTES + 1)
            except OSError as exc:
                raise InputMissingError(path, f"cannot read: {exc.strerror or exc}") from None
        if fmt is None:
            fmt = codebook_format(path, default="") or None
    return parse_codebook(data, fmt, source=str(path))

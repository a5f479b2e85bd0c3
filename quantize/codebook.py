"""Codebook files: the k×3 table of colours, written as JSON and read back.

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
      "options": {...}                   # options the codebook was made with
    }
"""

from __future__ import annotations

import json
import math

import numpy as np

from .errors import BadImageError

__all__ = ["codebook_to_dict", "dumps_codebook", "loads_codebook", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


def _hex(row) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in row))


def codebook_to_dict(codebook, counts, *, inertia: float, options: dict) -> dict:
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

"""Image loading and saving: the only module that imports Pillow.

Every write goes through :func:`atomic_write`: a temporary file made with
``tempfile.mkstemp`` in the target's directory, flushed, fsynced, closed and
``os.replace``d onto the target. On any failure the temporary file is removed
and the target is untouched.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImageError, InputMissingError, OutputError, WriteError

__all__ = [
    "load_rgb",
    "atomic_write",
    "encode_palette_png",
    "encode_rgb",
    "format_for_path",
    "check_not_input",
    "write_bytes",
    "write_all",
    "OUTPUT_FORMATS",
]

#: Output formats for reconstructed images, by file extension.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}


def _read_source(path):
    """Return a path or, for '-', an in-memory copy of stdin."""
    if str(path) == "-":
        return io.BytesIO(sys.stdin.buffer.read())
    if os.path.isdir(path):
        raise InputMissingError(path, "is a directory, not an image file")
    return path


def load_rgb(path) -> np.ndarray:
    """Read an image file into an (H, W, 3) uint8 RGB array.

    The EXIF orientation is applied, and every mode (L, P, RGBA, CMYK, ...)
    is converted to RGB. The file is fully decoded before this returns.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or '-' for standard input.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    InputMissingError
        The file does not exist, is a directory or cannot be read (66).
    BadImageError
        The file is not a decodable image (65).
    """
    source = _read_source(path)
    try:
        with warnings.catch_warnings():
            # A decompression bomb warning is an error for a batch tool.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                if im.mode != "RGB":
                    im = im.convert("RGB")
                pixels = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise InputMissingError(path, "no such file") from None
    except PermissionError:
        raise InputMissingError(path, "permission denied") from None
    except IsADirectoryError:
        raise InputMissingError(path, "is a directory, not an image file") from None
    except UnidentifiedImageError:
        raise BadImageError(path, "not a recognised image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImageError(path, f"too many pixels ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImageError(path, f"cannot decode image: {exc}") from None
    if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise BadImageError(path, f"image has no pixels (size {pixels.shape[1::-1]})")
    return pixels


def format_for_path(path, default=None) -> str:
    """The Pillow format name for an output path's extension.

    Raises
    ------
    ValueError
        When the extension names no supported output format.
    """
    ext = os.path.splitext(str(path))[1].lower()
    if ext in OUTPUT_FORMATS:
        return OUTPUT_FORMATS[ext]
    if default is not None:
        return default
    known = ", ".join(sorted(OUTPUT_FORMATS))
    raise ValueError(f"cannot tell the output format from {str(path)!r}; use one of {known}")


def encode_palette_png(labels, codebook) -> bytes:
    """Encode codes and their codebook as an indexed ('P') PNG.

    Parameters
    ----------
    labels : ndarray of shape (H, W), integer < 256
        The code of every pixel.
    codebook : ndarray of shape (k, 3), uint8, k <= 256
        The palette.

    Returns
    -------
    bytes
        The PNG file. Its palette has exactly k entries.
    """
    codebook = np.asarray(codebook, dtype=np.uint8)
    if codebook.shape[0] > 256:
        raise ValueError(f"a palette PNG holds at most 256 colours, got {codebook.shape[0]}")
    im = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8))
    im.putpalette(codebook.tobytes(), rawmode="RGB")
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=False)
    return out.getvalue()


def encode_rgb(pixels, fmt: str) -> bytes:
    """Encode an (H, W, 3) uint8 array in a Pillow format (PNG, JPEG, ...)."""
    im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    params = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True},
              "TIFF": {"compression": "tiff_deflate"}}.get(fmt, {})
    out = io.BytesIO()
    im.save(out, format=fmt, **params)
    return out.getvalue()


def check_not_input(output, inputs) -> None:
    """Refuse an output that is one of the inputs (also through links).

    Raises
    ------
    OutputError
        When ``output`` names the same file as an input (73).
    """
    if str(output) == "-":
        return
    for src in inputs:
        if str(src) == "-":
            continue
        same = os.path.realpath(output) == os.path.realpath(src)
        if not same:
            try:
                same = os.path.samefile(output, src)
            except OSError:
                same = False
        if same:
            raise OutputError(output, "is the input file; refusing to overwrite it")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path`` for writing; replace ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The target. Its directory must exist.

    Yields
    ------
    file
        A binary file object. If the ``with`` block raises (or is
        interrupted), the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OutputError
        The target's directory is missing or not writable, or the target is a
        directory (73).
    WriteError
        Writing, syncing or renaming failed (74).
    """
    fd, tmp = _make_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise WriteError(path, f"write failed: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_all(outputs) -> None:
    """Write several outputs so that all of them are replaced, or none.

    Every file's bytes go to its own temporary file first; only when all are
    written and synced are they renamed into place. A '-' path goes to
    standard output, after the files.

    Parameters
    ----------
    outputs : sequence of (path, bytes)

    Raises
    ------
    OutputError, WriteError
        As :func:`atomic_write`; no target is changed when one is raised.
    """
    outputs = list(outputs)
    pending = []
    try:
        for path, data in outputs:
            if str(path) == "-":
                continue
            fd, tmp = _make_temp(path)
            pending.append((tmp, path))
            # Write through mkstemp's descriptor: the name is never reopened.
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in pending:
            os.replace(tmp, path)
        pending = []
    except OSError as exc:
        bad = pending[-1][1] if pending else outputs[0][0]
        raise WriteError(bad, f"write failed: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in pending:
            _unlink_quietly(tmp)
    for path, data in outputs:
        if str(path) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def _make_temp(path):
    """(fd, name) of a new temporary file beside ``path`` (mkstemp), with the error
    mapping of :func:`atomic_write`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(path, "is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
    except FileNotFoundError:
        raise OutputError(path, "output directory does not exist") from None
    except NotADirectoryError:
        raise OutputError(path, "output directory is not a directory") from None
    except PermissionError:
        raise OutputError(path, "cannot create files in the output directory") from None
    except OSError as exc:
        raise OutputError(path, f"cannot create output: {exc.strerror or exc}") from None
    os.fchmod(fd, 0o666 & ~_current_umask())
    return fd, tmp


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, or to stdout when ``path`` is '-'."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_write(path) as f:
        f.write(data)

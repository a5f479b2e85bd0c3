"""Image loading and saving: the only module that imports Pillow.

Every write goes through :func:`atomic_write`: a temporary file made with
``tempfile.mkstemp`` in the target's directory, flushed, fsynced, closed and
``os.replace``d onto the target. On any failure the temporary file is removed
and the target is untouched.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import (BadImageError, InputMissingError, OutputError, QuantizeError,
                     QuantizeWarning, WriteError)

__all__ = [
    "load_rgb",
    "load_rgba",
    "floyd_steinberg_pillow",
    "ALPHA_FORMATS",
    "atomic_write",
    "encode_palette_png",
    "encode_rgb",
    "format_for_path",
    "check_not_input",
    "write_bytes",
    "write_all",
    "readable_extensions",
    "OUTPUT_FORMATS",
    "READ_FORMATS",
    "DEFAULT_MAX_PIXELS",
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


#: Pillow formats that are read. Anything else (EPS, PSD, PDF, ICO, ...) is
#: refused before its plugin parses more than the identifying bytes.
READ_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "TGA")

#: The default for ``max_pixels`` (``--max-pixels``): 2**28, a 16384 x 16384 image.
DEFAULT_MAX_PIXELS = 1 << 28

# Refused formats that are common enough to be named in the message.
_REFUSED_SIGNATURES = (
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"%!PS", "a PostScript (EPS) file"),
    (b"\xc5\xd0\xd3\xc6", "a PostScript (EPS) file"),
    (b"%PDF", "a PDF file"),
    (b"\x00\x00\x01\x00", "an icon (ICO) file"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 file"),
)

# Pillow's limits are module globals: set them for one load at a time.
_PILLOW_SETTINGS = threading.Lock()


@contextmanager
def _pillow_limits(max_pixels: int):
    """Pillow's decompression-bomb limit at ``max_pixels``, its warning an error,
    and truncated images refused (whatever the caller set globally)."""
    with _PILLOW_SETTINGS:
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open_input(path):
    """A seekable binary file for ``path``; '-' and pipes are read into memory."""
    if str(path) == "-":
        if sys.stdin is None:
            raise InputMissingError(path, "standard input is closed")
        try:
            return io.BytesIO(sys.stdin.buffer.read())
        except (OSError, ValueError) as exc:
            raise InputMissingError(path, f"cannot read standard input: {exc}") from None
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise InputMissingError(path, "no such file") from None
    except IsADirectoryError:
        raise InputMissingError(path, "is a directory, not an image file") from None
    except PermissionError:
        raise InputMissingError(path, "permission denied") from None
    except OSError as exc:
        raise InputMissingError(path, f"cannot open: {exc.strerror or exc}") from None
    if os.path.isdir(path):  # open() succeeds on a directory on some systems
        f.close()
        raise InputMissingError(path, "is a directory, not an image file")
    if not f.seekable():  # a pipe, e.g. <(cat image.png)
        with f:
            try:
                return io.BytesIO(f.read())
            except OSError as exc:
                raise InputMissingError(path, f"cannot read: {exc.strerror or exc}") from None
    return f


def _not_supported(f) -> str:
    """The message for a file no allowed format identifies."""
    try:
        f.seek(0)
        head = f.read(16)
    except (OSError, ValueError):
        head = b""
    if not head:
        return "empty file, not an image"
    allowed = ", ".join(READ_FORMATS)
    for signature, what in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return f"is {what}; only {allowed} images are read"
    return f"not an image in a supported format ({allowed})"


def _bomb_message(exc, max_pixels: int) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1))} pixels" if found else "too many pixels"
    return (f"image has {size}, more than the limit of {max_pixels} (--max-pixels); "
            "it may be a decompression bomb")


def _check_header(path, im, max_pixels: int) -> None:
    """Refuse an empty or too large image from its header, before decoding."""
    width, height = im.size
    if width <= 0 or height <= 0:
        raise BadImageError(path, f"image has no pixels (size {width}x{height})")
    if width * height > max_pixels:
        raise BadImageError(path, f"image is {width}x{height} = {width * height} pixels, more "
                                  f"than the limit of {max_pixels} (--max-pixels)")


def _select_frame(path, im, frame):
    """Seek to ``frame`` (None: the first, with a warning when there are more)."""
    animated = bool(getattr(im, "is_animated", False))
    if frame is None or frame == 0:
        if animated and frame is None and im.format != "MPO":
            warnings.warn(f"{im.format} image has {im.n_frames} frames; using the first "
                          "(choose another with --frame N, counting from 0)",
                          QuantizeWarning, stacklevel=3)
        return
    try:
        im.seek(frame)
    except EOFError:
        count = im.n_frames if animated else 1
        raise BadImageError(path, f"has {count} frame(s); --frame {frame} is out of range "
                                  "(frames count from 0)") from None


def _decode(path, *, max_pixels: int, frame):
    """Open ``path`` as an allowed format, check its header and decode it fully.

    Returns the loaded Pillow image (EXIF orientation applied) and its ICC
    profile (bytes or None). Every failure is an :class:`InputMissingError`
    (66) or a :class:`BadImageError` (65).
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
        raise ValueError(f"frame must be a non-negative integer or None, got {frame!r}")
    f = _open_input(path)
    said = []  # what C decoders (libtiff) printed
    with f, _pillow_limits(max_pixels):
        try:
            im = Image.open(f, formats=READ_FORMATS)
            _check_header(path, im, max_pixels)
            if im.format == "PNG":
                # Check every chunk's CRC, so that a flipped byte is an error
                # rather than a silently different image; then open it again.
                im.verify()
                f.seek(0)
                im = Image.open(f, formats=("PNG",))
            _select_frame(path, im, frame)
            with _c_messages(said):
                im.load()
            icc = im.info.get("icc_profile")
            im = _apply_orientation(im)
        except QuantizeError:
            raise
        except UnidentifiedImageError:
            raise BadImageError(path, _not_supported(f)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadImageError(path, _bomb_message(exc, max_pixels)) from None
        except MemoryError:
            raise BadImageError(path, "not enough memory to decode the image") from None
        except Exception as exc:  # Pillow raises many kinds on damaged data
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if said:
                detail = f"{detail} ({said[0]})"
            raise BadImageError(path, f"cannot decode image: {detail}") from None
    for line in said:
        warnings.warn(f"decoder: {line}", QuantizeWarning, stacklevel=3)
    return im, icc


@contextmanager
def _c_messages(said: list):
    """Collect into ``said`` the lines C libraries write to file descriptor 2
    meanwhile (libtiff prints its errors and warnings there), so that they
    join the one-line error or become warnings instead of stray output."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr to protect
        yield
        return
    try:
        sink = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        yield
        return
    with sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(16384).decode("utf-8", "replace")
            said.extend(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _apply_orientation(im):
    """Apply the EXIF orientation; a damaged EXIF block is only a warning."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - metadata must not sink the pixels
        warnings.warn(f"ignoring unreadable EXIF orientation ({exc})", QuantizeWarning, stacklevel=4)
        return im


def _imagecms():
    """PIL.ImageCms, or None when Pillow was built without LittleCMS."""
    try:
        from PIL import ImageCms, features

        return ImageCms if features.check("littlecms2") else None
    except ImportError:
        return None


_PROFILE_KINDS = {"RGB ": "RGB", "GRAY": "L", "CMYK": "CMYK"}


def _to_srgb(im, icc: bytes):
    """Convert an image with an embedded ICC profile to sRGB ('RGB' or 'RGBA').

    Profiles that already describe sRGB are left alone, so sRGB images keep
    their exact values. Without ImageCms, or with a profile it cannot use, the
    values are taken as sRGB and a warning says so.
    """
    cms = _imagecms()
    if cms is None:
        warnings.warn("the image has an embedded ICC colour profile, but Pillow has no "
                      "LittleCMS support (PIL.ImageCms); its colours are read as sRGB",
                      QuantizeWarning, stacklevel=4)
        return im
    try:
        source = cms.ImageCmsProfile(io.BytesIO(icc))
        description = (cms.getProfileDescription(source) or "").strip()
        space = source.profile.xcolor_space
    except Exception as exc:  # noqa: BLE001 - a bad profile is not a bad image
        warnings.warn(f"ignoring an unreadable embedded ICC profile ({exc}); colours are read "
                      "as sRGB", QuantizeWarning, stacklevel=4)
        return im
    if description.lower().startswith("srgb") or (space == "Lab " and im.mode == "LAB"):
        return im  # already sRGB; or CIELAB, which Pillow converts to sRGB itself
    kind = _PROFILE_KINDS.get(space)
    ours = {"L": "L", "LA": "L", "La": "L", "CMYK": "CMYK"}.get(im.mode, "RGB")
    if kind is None or kind != ours:
        warnings.warn(f"ignoring an embedded ICC profile for {space.strip() or '?'} data in a "
                      f"{im.mode} image; colours are read as sRGB", QuantizeWarning, stacklevel=4)
        return im
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA", "PA") else None
    if im.mode == "P" and "transparency" in im.info:
        alpha = im.convert("RGBA").getchannel("A")
    base = im.convert(kind) if im.mode != kind else im
    try:
        out = cms.profileToProfile(base, source, cms.createProfile("sRGB"), outputMode="RGB")
    except Exception as exc:  # noqa: BLE001
        warnings.warn(f"could not convert the embedded ICC profile to sRGB ({exc}); colours are "
                      "read as sRGB", QuantizeWarning, stacklevel=4)
        return im
    if alpha is not None:
        out.putalpha(alpha)
    return out


def _to_8bit(im, path=None):
    """An 'L' image from a deep greyscale one (I;16*, I, F), scaled, not clipped.

    16-bit data (I;16*, and I within 0..65535) is divided by 257, so each of
    the 256 evenly spaced 16-bit levels maps to its own 8-bit level. Floats
    within 0..1 are multiplied by 255. Other ranges are stretched from their
    minimum and maximum, with a warning. Non-finite floats are an error.
    """
    values = np.asarray(im)
    if im.mode == "F":
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            raise BadImageError(path, "floating-point image has non-finite values (NaN or infinity)")
        low, high = float(values.min()), float(values.max())
        if low >= 0.0 and high <= 1.0:
            return Image.fromarray(np.rint(values * 255.0).astype(np.uint8), "L")
    else:
        values = values.astype(np.int64)
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= 65535:
            return Image.fromarray(((values * 2 + 257) // 514).astype(np.uint8), "L")
    warnings.warn(f"{im.mode} image values span {low:g}..{high:g}; stretched to 0..255",
                  QuantizeWarning, stacklevel=4)
    if high == low:
        level = np.full(values.shape, 255 if low > 0 else 0, dtype=np.uint8)
        return Image.fromarray(level, "L")
    scaled = (values.astype(np.float64) - low) * (255.0 / (high - low))
    return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")


def _normalise(im, icc, path):
    """A loaded image as 8-bit sRGB: mode 'RGB', or 'RGBA' when it has alpha.

    Deep greyscale is scaled (:func:`_to_8bit`), an embedded ICC profile is
    converted to sRGB, and every other mode (1, L, P, CMYK, YCbCr, LAB, ...)
    goes through Pillow's conversion. Alpha is kept here; :func:`load_rgb`
    drops it.
    """
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        im = _to_8bit(im, path)
    if icc:
        im = _to_srgb(im, icc)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode in ("P", "L", "RGB", "1") and "transparency" in im.info)
    target = "RGBA" if has_alpha else "RGB"
    if im.mode == target:
        return im
    try:
        return im.convert(target)
    except ValueError:
        try:
            return im.convert("RGBA" if has_alpha else "L").convert(target)
        except ValueError:
            raise BadImageError(path, f"unsupported image mode {im.mode}") from None


def load_rgb(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame=None) -> np.ndarray:
    """Read an image file into an (H, W, 3) uint8 sRGB array.

    Only the formats in :data:`READ_FORMATS` are read. The header is checked
    against ``max_pixels`` before anything is decoded, then the whole image
    is decoded (a truncated or damaged file is an error, never a partial
    image; PNG chunk checksums are verified). The EXIF orientation is
    applied, an embedded ICC profile is converted to sRGB, 16-bit and float
    greyscale are scaled to 8 bits, and every mode is converted to RGB
    (alpha is dropped).

    Parameters
    ----------
    path : str or os.PathLike
        The file, or '-' for standard input.
    max_pixels : int
        Largest width x height accepted (default 2**28).
    frame : int or None
        Frame of an animated image (GIF, APNG, WebP) or page of a multi-page
        TIFF, counting from 0. None takes the first, with a
        :class:`QuantizeWarning` when there are more.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    InputMissingError
        The file does not exist, is a directory or cannot be read (66).
    BadImageError
        The file is not an image in an allowed format, is damaged, has too
        many or no pixels, non-finite values, or no such frame (65).
    """
    im, icc = _decode(path, max_pixels=max_pixels, frame=frame)
    im = _normalise(im, icc, path)
    if im.mode == "RGBA":  # transparency is not carried through the pipeline (yet)
        im = im.convert("RGB")
    pixels = np.asarray(im, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise BadImageError(path, f"image has no pixels (size {pixels.shape[1::-1]})")
    return pixels


def load_rgba(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame=None) -> np.ndarray:
    """Read an image file as :func:`load_rgb` does, but keep its transparency.

    Images with an alpha channel (RGBA, LA, PA) or a transparent colour
    (a ``transparency`` entry: palette tRNS, a colour key) come back as an
    (H, W, 4) uint8 RGBA array with straight (not premultiplied) alpha;
    every other image as (H, W, 3), exactly what :func:`load_rgb` returns.
    An alpha channel that is 255 everywhere still comes back as RGBA; the
    pipeline treats such an image as opaque.

    Parameters and errors are those of :func:`load_rgb`.
    """
    im, icc = _decode(path, max_pixels=max_pixels, frame=frame)
    im = _normalise(im, icc, path)
    pixels = np.asarray(im, dtype=np.uint8)
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


#: Output formats that can hold an alpha channel (reconstruct mode writes RGBA).
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")

#: zlib settings (level, memLevel, strategy) of palette PNGs. The default is
#: zlib's own default; ``optimize`` compresses with each of the settings and
#: keeps the smallest stream (level 9 is not always smaller than level 6).
PNG_ZLIB_DEFAULT = (6, 8, 0)  # 0 is zlib.Z_DEFAULT_STRATEGY
PNG_ZLIB_OPTIMIZE = ((6, 8, 0), (9, 9, 0), (9, 9, 1))  # 1 is zlib.Z_FILTERED


def png_bit_depth(k: int) -> int:
    """The smallest PNG palette bit depth (1, 2, 4 or 8) that holds ``k`` entries.

    Examples
    --------
    >>> [png_bit_depth(k) for k in (1, 2, 3, 4, 5, 16, 17, 256)]
    [1, 1, 2, 2, 4, 4, 8, 8]
    """
    for bits in (1, 2, 4, 8):
        if k <= 1 << bits:
            return bits
    raise ValueError(f"a palette PNG holds at most 256 colours, got {k}")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _pack_rows(labels: np.ndarray, bits: int) -> np.ndarray:
    """Rows of codes packed ``8 // bits`` to a byte, most significant first,
    each row prefixed by filter type 0 (None): (H, 1 + ceil(W·bits/8)) uint8."""
    h, w = labels.shape
    per = 8 // bits
    width = (w + per - 1) // per
    out = np.zeros((h, 1 + width), dtype=np.uint8)
    if per == 1:
        out[:, 1:] = labels
        return out
    padded = np.zeros((h, width * per), dtype=np.uint8)
    padded[:, :w] = labels
    padded = padded.reshape(h, width, per)
    packed = out[:, 1:]
    for i in range(per):
        packed |= padded[:, :, i] << np.uint8(8 - bits * (i + 1))
    return out


def encode_palette_png(labels, codebook, *, path=None, optimize: bool = False) -> bytes:
    """Encode codes and their codebook as an indexed PNG (colour type 3).

    The bit depth is the smallest that holds the palette (1, 2, 4 or 8 bits
    per pixel for up to 2, 4, 16 or 256 entries). An RGBA codebook adds a
    tRNS chunk with the alpha of the entries up to the last one that is not
    opaque. Rows are not filtered (filter type None, what libpng and
    pngquant use for palette images: the filters suit continuous values,
    not indices) and the image data is one zlib stream.

    Parameters
    ----------
    labels : ndarray of shape (H, W), integer < k
        The code of every pixel.
    codebook : ndarray of shape (k, 3) or (k, 4), uint8, k <= 256
        The palette (RGB, or RGBA with straight alpha).
    path : str or None
        The file the bytes are for, named in errors.
    optimize : bool
        Compress with each of :data:`PNG_ZLIB_OPTIMIZE` (zlib levels 6 and
        9, memLevel 9, the default and the "filtered" strategies) and keep
        the smallest: never larger than the default, a few percent smaller
        at best, several times slower.

    Returns
    -------
    bytes
        The PNG file. Its palette has exactly k entries.

    Raises
    ------
    ValueError
        More than 256 entries, or a label outside the palette.
    OutputError
        The image is too large for a PNG (73).
    """
    import struct
    import zlib

    codebook = np.asarray(codebook, dtype=np.uint8)
    if codebook.ndim != 2 or codebook.shape[1] not in (3, 4) or codebook.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3) or (k, 4), got {codebook.shape}")
    k = codebook.shape[0]
    bits = png_bit_depth(k)
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty (H, W) array, got shape {labels.shape}")
    if int(labels.max()) >= k or int(labels.min()) < 0:
        raise ValueError(f"labels must be codes below {k}")
    h, w = labels.shape
    if h >= 1 << 31 or w >= 1 << 31:
        raise OutputError(path, f"cannot encode the image as PNG: {w}x{h} is too large")
    rows = _pack_rows(labels.astype(np.uint8, copy=False), bits)
    idat = None
    for level, mem_level, strategy in (PNG_ZLIB_OPTIMIZE if optimize else (PNG_ZLIB_DEFAULT,)):
        compressor = zlib.compressobj(level, zlib.DEFLATED, 15, mem_level, strategy)
        stream = compressor.compress(rows.data) + compressor.flush()
        if idat is None or len(stream) < len(idat):
            idat = stream
    parts = [b"\x89PNG\r\n\x1a\n",
             _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 3, 0, 0, 0)),
             _png_chunk(b"PLTE", codebook[:, :3].tobytes())]
    if codebook.shape[1] == 4:
        clear = np.flatnonzero(codebook[:, 3] < 255)
        if clear.size:
            parts.append(_png_chunk(b"tRNS", codebook[: clear[-1] + 1, 3].tobytes()))
    parts += [_png_chunk(b"IDAT", idat), _png_chunk(b"IEND", b"")]
    return b"".join(parts)


def encode_rgb(pixels, fmt: str, *, path=None, optimize: bool = False) -> bytes:
    """Encode an (H, W, 3) or (H, W, 4) uint8 array in a Pillow format (PNG, JPEG, ...).

    RGBA is written as RGBA in the formats of :data:`ALPHA_FORMATS` (PNG,
    WebP, TIFF); JPEG and BMP have no alpha, so the image is composited onto
    white first, with a :class:`QuantizeWarning`. ``optimize`` asks PNG for
    zlib's most effort. An encoder failure (e.g. an image wider than WebP's
    16383 pixels) raises :class:`OutputError` (73) naming ``path``.
    """
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 4 and fmt not in ALPHA_FORMATS:
        from ..image.transparency import flatten

        warnings.warn(f"{fmt} has no alpha channel: transparent areas are flattened onto white "
                      "(choose the colour with --background, or write PNG, WebP or TIFF)",
                      QuantizeWarning, stacklevel=2)
        pixels = flatten(pixels, (255, 255, 255))
    im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    params = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True},
              "TIFF": {"compression": "tiff_deflate"}}.get(fmt, {})
    if optimize and fmt == "PNG":
        params = {"optimize": True}
    return _encode(im, fmt, params, path)


def floyd_steinberg_pillow(pixels, codebook) -> np.ndarray:
    """Floyd–Steinberg dithering onto a codebook by Pillow's C implementation.

    ``Image.quantize(palette=..., dither=FLOYDSTEINBERG)`` against a palette
    image holding the codebook. Pillow's palette has 256 entries, so the
    codebook is padded with copies of its first colour and any padded index
    is mapped back to 0: the codes are always below k.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8, k <= 256

    Returns
    -------
    ndarray of shape (H, W), uint8
    """
    codebook = np.asarray(codebook, dtype=np.uint8)[:, :3]
    k = codebook.shape[0]
    if not 1 <= k <= 256:
        raise ValueError(f"Floyd-Steinberg with Pillow needs 1 to 256 colours, got {k}")
    padded = np.concatenate([codebook, np.repeat(codebook[:1], 256 - k, axis=0)])
    palette = Image.new("P", (1, 1))
    palette.putpalette(padded.tobytes(), rawmode="RGB")
    src = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
    labels = np.array(src.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG),
                      dtype=np.uint8)
    labels[labels >= k] = 0
    return labels


def _encode(im, fmt: str, params: dict, path) -> bytes:
    """``im`` encoded in memory; nothing is written if the encoder fails."""
    out = io.BytesIO()
    try:
        im.save(out, format=fmt, **params)
    except (OSError, ValueError, SyntaxError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise OutputError(path, f"cannot encode the image as {fmt}: {detail}") from None
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
    kind, target = _output_target(path)
    if kind == "stream":
        try:
            with open(target, "wb") as f:
                yield f
        except OSError as exc:
            raise WriteError(path, f"write failed: {exc.strerror or exc}") from None
        return
    fd, tmp = _make_temp(target)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise WriteError(path, f"write failed: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _output_target(path):
    """How to write ``path``: ``("stream", path)`` for an existing file that is
    neither regular nor a directory (a device such as /dev/null, a FIFO),
    which is written in place, since renaming over it would replace the device
    node; else ``("file", target)``, replaced through a temporary file, where
    a symlink is resolved so that the link is kept and its file replaced."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return "stream", path
    if os.path.islink(path):
        return "file", os.path.realpath(path)
    return "file", path


def _write_stream(path, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteError(path, f"write failed: {exc.strerror or exc}") from None


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_all(outputs) -> None:
    """Write several outputs so that all of them are replaced, or none.

    Every file's bytes go to its own temporary file first; only when all are
    written and synced are they renamed into place. A '-' path goes to
    standard output, and a device or FIFO (e.g. /dev/null) is written in
    place, after the files.

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
    streams = []
    try:
        for path, data in outputs:
            if str(path) == "-":
                continue
            kind, target = _output_target(path)
            if kind == "stream":
                streams.append((path, data))
                continue
            fd, tmp = _make_temp(target)
            pending.append((tmp, target))
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
    for path, data in streams:  # devices and FIFOs, after the files
        _write_stream(path, data)
    for path, data in outputs:
        if str(path) == "-":
            _write_stdout(data)


def _write_stdout(data: bytes) -> None:
    """Write to standard output; closed or failing stdout is a :class:`WriteError`
    (a reader that went away raises BrokenPipeError, which the CLI ends on quietly)."""
    if sys.stdout is None:
        raise WriteError("-", "standard output is closed")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        raise WriteError("-", f"write to standard output failed: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None


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
        _write_stdout(data)
        return
    with atomic_write(path) as f:
        f.write(data)


def readable_extensions() -> frozenset:
    """File extensions (lower case, with the dot) of the formats :func:`load_rgb` reads
    (those of :data:`READ_FORMATS` that Pillow can decode).

    Formats Pillow only identifies (stub plugins such as HDF5 or WMF, and
    MPEG video) are left out, so a batch's default pattern does not pick up
    files that would only fail.

    Examples
    --------
    >>> {".png", ".jpg", ".webp"} <= readable_extensions()
    True
    """
    from PIL import ImageFile

    Image.init()
    found = set()
    for ext, fmt in Image.registered_extensions().items():
        if fmt not in READ_FORMATS and fmt != "MPO":  # MPO files open as JPEG
            continue  # refused by load_rgb (EPS, PSD, ...)
        factory = Image.OPEN.get(fmt, (None,))[0]
        if factory is None or fmt == "MPEG":
            continue
        if isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile):
            continue
        found.add(ext.lower())
    return frozenset(found)

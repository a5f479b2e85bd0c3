"""Reading images with Pillow: checked, bounded, normalised to 8-bit sRGB.

Pillow is imported only by the io layer.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import (BadImageError, InputMissingError, OutOfMemoryError, QuantizeError,
                      QuantizeWarning)

__all__ = ["load_rgb", "load_rgba", "load_image", "ImageMetadata", "decode_written",
           "readable_extensions", "READ_FORMATS", "DEFAULT_MAX_PIXELS", "DEFAULT_MAX_SCANS"]


#: Pillow formats that are read. Anything else (EPS, PSD, PDF, ICO, ...) is
#: refused before its plugin parses more than the identifying bytes.
READ_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "TGA")

#: The default for ``max_pixels`` (``--max-pixels``): 2**28, a 16384 x 16384 image.
DEFAULT_MAX_PIXELS = 1 << 28

#: The default for ``max_scans`` (``--max-scans``): the most scans a JPEG may
#: have. A progressive JPEG has about 10; one that repeats a scan thousands
#: of times decodes for minutes whatever its size (libjpeg-turbo's own tools
#: offer the same kind of limit).
DEFAULT_MAX_SCANS = 500

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
    """A seekable binary file for ``path``: a regular file, or standard input read into memory."""
    if str(path) == "-":
        if sys.stdin is None:
            raise InputMissingError(path, "standard input is closed")
        try:
            return io.BytesIO(sys.stdin.buffer.read())
        except (OSError, ValueError) as exc:
            raise InputMissingError(path, f"cannot read standard input: {exc}") from None
    from .files import open_input

    return open_input(path, "image file")


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
            # Counting a TIFF's pages walks all of them (Pillow takes
            # quadratic time), only to print a number: it is not counted.
            count = "several pages" if im.format == "TIFF" else f"{im.n_frames} frames"
            warnings.warn(f"{im.format} image has {count}; using the first "
                          "(choose another with --frame N, counting from 0)",
                          QuantizeWarning, stacklevel=3)
        return
    try:
        im.seek(frame)
    except EOFError:
        count = im.n_frames if animated else 1
        raise BadImageError(path, f"has {count} frame(s); --frame {frame} is out of range "
                                  "(frames count from 0)") from None


def _count_scans(f) -> int:
    """The number of start-of-scan markers of a JPEG file.

    In entropy-coded data a 0xFF byte is always followed by 0x00 or a
    restart marker, so every FF DA pair is a real marker (or lies in an
    application segment, which only overcounts).
    """
    position = f.tell()
    try:
        f.seek(0)
        return f.read().count(b"\xff\xda")
    finally:
        f.seek(position)


def _decode(path, *, max_pixels: int, frame, max_scans: int = DEFAULT_MAX_SCANS):
    """Open ``path`` as an allowed format, check its header and decode it fully.

    Returns the loaded Pillow image (EXIF orientation applied), its ICC
    profile (bytes or None) and its DPI (a pair of floats, or None). Every failure is an :class:`InputMissingError`
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
            if im.format in ("JPEG", "MPO"):
                scans = _count_scans(f)
                if scans > max_scans:
                    raise BadImageError(path, f"JPEG has {scans} scans, more than the limit of "
                                              f"{max_scans} (--max-scans); it may be a "
                                              "decompression bomb")
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
            dpi = _dpi_of(im)
            im, swapped = _apply_orientation(im)
            if swapped and dpi is not None:
                dpi = dpi[::-1]
        except QuantizeError:
            raise
        except UnidentifiedImageError:
            raise BadImageError(path, _not_supported(f)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadImageError(path, _bomb_message(exc, max_pixels)) from None
        except MemoryError:
            raise OutOfMemoryError(path, "out of memory while decoding; try a smaller "
                                         "--max-pixels") from None
        except Exception as exc:  # Pillow raises many kinds on damaged data
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if said:
                detail = f"{detail} ({said[0]})"
            raise BadImageError(path, f"cannot decode image: {detail}") from None
    for line in said:
        warnings.warn(f"decoder: {line}", QuantizeWarning, stacklevel=3)
    return im, icc, dpi


def _dpi_of(im):
    """The image's resolution as two positive finite floats, or None when it has none."""
    dpi = im.info.get("dpi")
    try:
        x, y = (float(d) for d in dpi)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (0 < x < 1e6 and 0 < y < 1e6):  # also refuses NaN
        return None
    return (x, y)


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
        sink = _anonymous_file()
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


#: Where Pillow finds an orientation (``Image.getexif``): an image without
#: any of these has none, and ImageOps is not even imported for it.
_ORIENTATION_SOURCES = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


def _anonymous_file():
    """A binary file with no name: in memory where the system offers one
    (``memfd_create``), else ``tempfile.TemporaryFile`` (imported only then)."""
    if hasattr(os, "memfd_create"):
        try:
            return io.open(os.memfd_create("quantize-stderr", getattr(os, "MFD_CLOEXEC", 0)),
                           "w+b")
        except OSError:
            pass
    import tempfile

    return tempfile.TemporaryFile()


def _apply_orientation(im):
    """Apply the EXIF orientation; a damaged EXIF block is only a warning.

    Returns (image, whether its axes were swapped: a quarter turn or a transpose).
    """
    if not hasattr(im, "tag_v2") and not any(key in im.info for key in _ORIENTATION_SOURCES):
        return im, False
    try:
        from PIL import ImageOps

        orientation = im.getexif().get(0x0112, 1)
        return ImageOps.exif_transpose(im), orientation in (5, 6, 7, 8)
    except Exception as exc:  # noqa: BLE001 - metadata must not sink the pixels
        warnings.warn(f"ignoring unreadable EXIF orientation ({exc})", QuantizeWarning, stacklevel=4)
        return im, False


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

    Returns (image, whether its values are now known to be sRGB: converted,
    or so described by the profile).
    """
    cms = _imagecms()
    if cms is None:
        warnings.warn("the image has an embedded ICC colour profile, but Pillow has no "
                      "LittleCMS support (PIL.ImageCms); its colours are read as sRGB",
                      QuantizeWarning, stacklevel=4)
        return im, False
    try:
        source = cms.ImageCmsProfile(io.BytesIO(icc))
        description = (cms.getProfileDescription(source) or "").strip()
        space = source.profile.xcolor_space
    except Exception as exc:  # noqa: BLE001 - a bad profile is not a bad image
        warnings.warn(f"ignoring an unreadable embedded ICC profile ({exc}); colours are read "
                      "as sRGB", QuantizeWarning, stacklevel=4)
        return im, False
    if description.lower().startswith("srgb") or (space == "Lab " and im.mode == "LAB"):
        return im, True  # already sRGB; or CIELAB, which Pillow converts to sRGB itself
    kind = _PROFILE_KINDS.get(space)
    ours = {"L": "L", "LA": "L", "La": "L", "CMYK": "CMYK"}.get(im.mode, "RGB")
    if kind is None or kind != ours:
        warnings.warn(f"ignoring an embedded ICC profile for {space.strip() or '?'} data in a "
                      f"{im.mode} image; colours are read as sRGB", QuantizeWarning, stacklevel=4)
        return im, False
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA", "PA") else None
    if im.mode == "P" and "transparency" in im.info:
        alpha = im.convert("RGBA").getchannel("A")
    base = im.convert(kind) if im.mode != kind else im
    try:
        out = cms.profileToProfile(base, source, cms.createProfile("sRGB"), outputMode="RGB")
    except Exception as exc:  # noqa: BLE001
        warnings.warn(f"could not convert the embedded ICC profile to sRGB ({exc}); colours are "
                      "read as sRGB", QuantizeWarning, stacklevel=4)
        return im, False
    if alpha is not None:
        out.putalpha(alpha)
    return out, True


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

    Returns (image, whether an ICC profile made its values known sRGB).
    """
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        im = _to_8bit(im, path)
    srgb = False
    if icc:
        im, srgb = _to_srgb(im, icc)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode in ("P", "L", "RGB", "1") and "transparency" in im.info)
    target = "RGBA" if has_alpha else "RGB"
    if im.mode == target:
        return im, srgb
    try:
        return im.convert(target), srgb
    except ValueError:
        try:
            return im.convert("RGBA" if has_alpha else "L").convert(target), srgb
        except ValueError:
            raise BadImageError(path, f"unsupported image mode {im.mode}") from None


def load_rgb(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame=None,
             max_scans: int = DEFAULT_MAX_SCANS) -> np.ndarray:
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
    max_scans : int
        Most scans a JPEG may have (default 500): a CPU bomb repeats them.

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
    im, icc, _ = _decode(path, max_pixels=max_pixels, frame=frame, max_scans=max_scans)
    im, _ = _normalise(im, icc, path)
    if im.mode == "RGBA":  # transparency is not carried through the pipeline (yet)
        im = im.convert("RGB")
    pixels = np.asarray(im, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise BadImageError(path, f"image has no pixels (size {pixels.shape[1::-1]})")
    return pixels


def load_rgba(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame=None,
              max_scans: int = DEFAULT_MAX_SCANS) -> np.ndarray:
    """Read an image file as :func:`load_rgb` does, but keep its transparency.

    Images with an alpha channel (RGBA, LA, PA) or a transparent colour
    (a ``transparency`` entry: palette tRNS, a colour key) come back as an
    (H, W, 4) uint8 RGBA array with straight (not premultiplied) alpha;
    every other image as (H, W, 3), exactly what :func:`load_rgb` returns.
    An alpha channel that is 255 everywhere still comes back as RGBA; the
    pipeline treats such an image as opaque.

    Parameters and errors are those of :func:`load_rgb`.
    """
    return load_image(path, max_pixels=max_pixels, frame=frame, max_scans=max_scans)[0]


@dataclass(frozen=True)
class ImageMetadata:
    """What of an input's metadata its outputs keep.

    Attributes
    ----------
    dpi : (float, float) or None
        The resolution, horizontal and vertical, in dots per inch.
    srgb : bool
        The input had an ICC profile and its values were converted to sRGB
        (or the profile described sRGB already): the outputs say sRGB (a
        PNG's sRGB chunk).
    """

    dpi: Optional[Tuple[float, float]] = None
    srgb: bool = False


def load_image(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame=None,
               max_scans: int = DEFAULT_MAX_SCANS):
    """Read an image file as :func:`load_rgba` does, with the metadata its outputs keep.

    Parameters and errors are those of :func:`load_rgb`.

    Returns
    -------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        As :func:`load_rgba` returns them.
    metadata : ImageMetadata
        Its DPI, and whether an ICC profile was converted to sRGB. The EXIF
        block (its orientation already applied to the pixels), the ICC
        profile itself, XMP and text chunks are not carried over.
    """
    im, icc, dpi = _decode(path, max_pixels=max_pixels, frame=frame, max_scans=max_scans)
    im, srgb = _normalise(im, icc, path)
    pixels = np.asarray(im, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise BadImageError(path, f"image has no pixels (size {pixels.shape[1::-1]})")
    return pixels, ImageMetadata(dpi, srgb)


def decode_written(data: bytes) -> np.ndarray:
    """The pixels of an image this package encoded, as its readers will see them.

    Parameters
    ----------
    data : bytes
        An encoded image (JPEG, WebP, AVIF, ...).

    Returns
    -------
    ndarray of shape (H, W, 3), or (H, W, 4) when the file has alpha, uint8
    """
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        return np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.uint8)


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

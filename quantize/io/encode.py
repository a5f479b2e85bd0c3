"""Encoding images: palette PNGs written by hand, other formats through Pillow."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image

from ..errors import OutputError, QuantizeWarning
from ..vocabulary import IMAGE_FORMATS, QUALITY_FORMATS

__all__ = ["encode_palette_png", "encode_gif", "encode_rgb", "floyd_steinberg_pillow",
           "format_for_path", "png_bit_depth", "check_writable", "is_lossy", "ALPHA_FORMATS",
           "OUTPUT_FORMATS", "FORMAT_EXTENSIONS", "DEFAULT_QUALITY"]

#: Output formats, by file extension (a view of
#: :data:`quantize.vocabulary.IMAGE_FORMATS`).
OUTPUT_FORMATS = {ext: spec[0] for spec in IMAGE_FORMATS.values() for ext in spec[1]}
#: The extension written for each output format.
FORMAT_EXTENSIONS = {spec[0]: spec[1][0] for spec in IMAGE_FORMATS.values()}
#: The quality of a lossy format when ``--output-quality`` is not given. WebP
#: has none: without a quality it is written lossless.
DEFAULT_QUALITY = {"JPEG": 95, "AVIF": 90}


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
ALPHA_FORMATS = tuple(spec[0] for spec in IMAGE_FORMATS.values() if spec[2])


def check_writable(fmt: str, path=None) -> None:
    """Refuse a format this Pillow cannot write (AVIF needs Pillow's AVIF encoder).

    Raises
    ------
    OutputError
        The format cannot be written here (73).
    """
    if fmt == "AVIF":
        from PIL import features

        if not features.check("avif"):
            raise OutputError(path, "this Pillow has no AVIF encoder; write WebP or JPEG, or "
                                    "install a Pillow built with libavif")


def is_lossy(fmt: str, quality=None) -> bool:
    """Whether an image written in ``fmt`` (with ``quality``) may differ from its pixels.

    JPEG and AVIF always; WebP only with a quality (it is lossless without one).

    Examples
    --------
    >>> is_lossy("JPEG"), is_lossy("WEBP"), is_lossy("WEBP", 80), is_lossy("PNG", 80)
    (True, False, True, False)
    """
    return fmt in QUALITY_FORMATS and (fmt != "WEBP" or quality is not None)

#: zlib settings (level, memLevel, strategy) of palette PNGs. The default is
#: zlib's own default; ``optimize`` compresses with each of the settings and
#: keeps the smallest stream (level 9 is not always smaller than level 6).
PNG_ZLIB_DEFAULT = (6, 8, 0)  # 0 is zlib.Z_DEFAULT_STRATEGY
PNG_ZLIB_OPTIMIZE = ((6, 8, 0), (9, 9, 0), (9, 9, 1))  # 1 is zlib.Z_FILTERED
#: Flat graphics (screenshots, charts, gradients, logos) compress at the
#: default setting to less than this share of their rows, photos to much
#: more (docs/looks.md, "Smaller files"). Their stream is compressed once more
#: with :data:`PNG_ZLIB_FLAT` (zlib level 9), which takes 5-30% off them,
#: and the smaller stream is kept.
FLAT_SHARE = 0.08
PNG_ZLIB_FLAT = (9, 9, 0)


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


def _png_dpi(dpi) -> tuple:
    """A pHYs chunk's pixels per metre for a (horizontal, vertical) DPI."""
    return tuple(max(1, min(0x7FFFFFFF, int(d / 0.0254 + 0.5))) for d in dpi)


def encode_palette_png(labels, codebook, *, path=None, optimize: bool = False, dpi=None,
                       srgb: bool = False) -> bytes:
    """Encode codes and their codebook as an indexed PNG (colour type 3).

    The bit depth is the smallest that holds the palette (1, 2, 4 or 8 bits
    per pixel for up to 2, 4, 16 or 256 entries). An RGBA codebook adds a
    tRNS chunk with the alpha of the entries up to the last one that is not
    opaque. Rows are not filtered (filter type None, what libpng and
    pngquant use for palette images: the filters suit continuous values,
    not indices) and the image data is one zlib stream: zlib's default
    setting, and for a flat graphic (a stream below :data:`FLAT_SHARE` of
    its rows) also :data:`PNG_ZLIB_FLAT`, the smaller kept.

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
    dpi : (float, float), optional
        The resolution, written as a pHYs chunk (pixels per metre).
    srgb : bool
        Write an sRGB chunk (rendering intent perceptual): the colours are
        known to be sRGB, e.g. converted from the input's ICC profile.

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
    settings = list(PNG_ZLIB_OPTIMIZE if optimize else (PNG_ZLIB_DEFAULT,))
    while settings:
        level, mem_level, strategy = settings.pop(0)
        compressor = zlib.compressobj(level, zlib.DEFLATED, 15, mem_level, strategy)
        stream = compressor.compress(rows.data) + compressor.flush()
        if idat is None or len(stream) < len(idat):
            idat = stream
        if not optimize and idat is stream and len(idat) < FLAT_SHARE * rows.size:
            settings.append(PNG_ZLIB_FLAT)
    parts = [b"\x89PNG\r\n\x1a\n",
             _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 3, 0, 0, 0))]
    if srgb:  # before PLTE, as the PNG specification orders them
        parts.append(_png_chunk(b"sRGB", b"\x00"))
    parts.append(_png_chunk(b"PLTE", codebook[:, :3].tobytes()))
    if codebook.shape[1] == 4:
        clear = np.flatnonzero(codebook[:, 3] < 255)
        if clear.size:
            parts.append(_png_chunk(b"tRNS", codebook[: clear[-1] + 1, 3].tobytes()))
    if dpi is not None:
        parts.append(_png_chunk(b"pHYs", struct.pack(">IIB", *_png_dpi(dpi), 1)))
    parts += [_png_chunk(b"IDAT", idat), _png_chunk(b"IEND", b"")]
    return b"".join(parts)


def encode_gif(labels, codebook, *, path=None) -> bytes:
    """Encode codes and their codebook as a GIF whose palette is the codebook.

    The palette holds the codebook's k entries in order (padded to the next
    power of two, as GIF requires) and every pixel is its code, so the
    codes read back unchanged. An RGBA codebook's fully transparent entry
    becomes the GIF's transparent index.

    Parameters
    ----------
    labels : ndarray of shape (H, W), integer < k
    codebook : ndarray of shape (k, 3) or (k, 4), uint8, k <= 256
    path : str or None
        The file the bytes are for, named in errors.

    Raises
    ------
    OutputError
        A codebook with translucent entries (GIF keeps only fully
        transparent pixels), more than 256 entries, or an image too large
        for GIF (73).
    """
    codebook = np.asarray(codebook, dtype=np.uint8)
    k = codebook.shape[0]
    if k > 256:
        raise OutputError(path, f"a GIF holds at most 256 colours, and the codebook has {k}; "
                                "write PNG, JPEG or WebP with --mode reconstruct")
    params = {"optimize": False}  # Pillow would otherwise drop and reorder unused entries
    if codebook.shape[1] == 4:
        alpha = codebook[:, 3]
        translucent = int(((alpha > 0) & (alpha < 255)).sum())
        if translucent:
            raise OutputError(path, f"GIF keeps only fully transparent pixels, and {translucent} "
                                    "colour(s) of the palette are translucent; write PNG or "
                                    "WebP to keep them, or flatten with --background COLOR")
        clear = np.flatnonzero(alpha == 0)
        if clear.size:
            params["transparency"] = int(clear[0])
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    h, w = labels.shape
    if h > 0xFFFF or w > 0xFFFF:
        raise OutputError(path, f"cannot encode the image as GIF: {w}x{h} is larger than "
                                "65535 pixels on a side")
    im = Image.frombytes("P", (w, h), labels.tobytes())
    im.putpalette(codebook[:, :3].tobytes(), rawmode="RGB")
    return _encode(im, "GIF", params, path)


def encode_rgb(pixels, fmt: str, *, path=None, optimize: bool = False, quality=None, dpi=None,
               srgb: bool = False) -> bytes:
    """Encode an (H, W, 3) or (H, W, 4) uint8 array in a Pillow format (PNG, JPEG, ...).

    RGBA is written as RGBA in the formats of :data:`ALPHA_FORMATS` (PNG,
    WebP, AVIF, TIFF); JPEG and BMP have no alpha, so the image is
    composited onto white first, with a :class:`QuantizeWarning`.
    An encoder failure (e.g. an image wider than WebP's 16383 pixels)
    raises :class:`OutputError` (73) naming ``path``.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
    fmt : str
        A Pillow format of :data:`OUTPUT_FORMATS` other than GIF (see
        :func:`encode_gif`).
    path : str or None
        The file the bytes are for, named in errors.
    optimize : bool
        PNG: zlib's most effort.
    quality : int, optional
        1-100, for JPEG, WebP and AVIF (:func:`is_lossy`). Without it, JPEG
        and AVIF take :data:`DEFAULT_QUALITY` and WebP is lossless.
    dpi : (float, float), optional
        The resolution, in the formats that record one (PNG, JPEG, TIFF, BMP).
    srgb : bool
        PNG: add an sRGB chunk.
    """
    pixels = np.asarray(pixels, dtype=np.uint8)
    check_writable(fmt, path)
    if pixels.ndim == 3 and pixels.shape[2] == 4 and fmt not in ALPHA_FORMATS:
        from ..image.transparency import flatten

        warnings.warn(f"{fmt} has no alpha channel: transparent areas are flattened onto white "
                      "(choose the colour with --background, or write PNG, WebP or TIFF)",
                      QuantizeWarning, stacklevel=2)
        pixels = flatten(pixels, (255, 255, 255))
    im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    if fmt == "JPEG":
        params = {"quality": DEFAULT_QUALITY["JPEG"] if quality is None else int(quality),
                  "subsampling": 0}
    elif fmt == "WEBP":
        params = ({"lossless": True} if quality is None
                  else {"lossless": False, "quality": int(quality)})
    elif fmt == "AVIF":
        # One encoder thread: the same bytes whatever the machine.
        params = {"quality": DEFAULT_QUALITY["AVIF"] if quality is None else int(quality),
                  "subsampling": "4:4:4", "max_threads": 1}
    elif fmt == "TIFF":
        params = {"compression": "tiff_deflate"}
    else:
        params = {}
    if optimize and fmt == "PNG":
        params["optimize"] = True
    if dpi is not None and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        params["dpi"] = tuple(float(d) for d in dpi)
    if srgb and fmt == "PNG":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add(b"sRGB", b"\x00")
        params["pnginfo"] = info
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

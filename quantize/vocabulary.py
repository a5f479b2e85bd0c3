"""The words the options accept: colour spaces, palette orders, dithers, metrics, seeds.

One copy for the layers that check them and for the command line, which
shows them in ``--help`` without importing numpy. Imports nothing.
"""

__all__ = ["COLOR_SPACES", "SORT_RULES", "DITHER_METHODS", "METRICS", "INIT_METHOD_NAMES",
           "IMAGE_FORMATS", "FORMAT_NAMES", "QUALITY_FORMATS", "CODES_FORMATS",
           "PALETTE_FORMATS"]

#: ``--color-space``: where k-means runs and "nearest" is measured.
COLOR_SPACES = ("srgb", "oklab", "lab")
#: ``--sort``: most used first, darkest first, or as fitted.
SORT_RULES = ("frequency", "luminance", "none")
#: ``--dither``.
DITHER_METHODS = ("none", "floyd-steinberg", "ordered")
#: ``--metric``: k-means, k-medians, spherical k-means.
METRICS = ("euclidean", "manhattan", "cosine")
#: ``--init`` methods (besides a codebook file).
INIT_METHOD_NAMES = ("kmeans++", "random")
#: The formats an image is written in: each ``--format`` name with its
#: Pillow format, its file extensions (the first is the one a batch writes),
#: whether it keeps transparency, and how it is encoded: ``"lossless"``
#: (every pixel as it is), ``"lossy"`` (``--output-quality`` applies; WebP
#: is lossless unless a quality is given) or ``"palette"`` (the codes and the
#: codebook themselves, at most 256 colours, in either mode). AVIF is
#: written when Pillow has an AVIF encoder. The one table of output formats;
#: the maps below and those of the I/O layer are views of it.
IMAGE_FORMATS = {
    "png": ("PNG", (".png",), True, "lossless"),
    "jpeg": ("JPEG", (".jpg", ".jpeg"), False, "lossy"),
    "webp": ("WEBP", (".webp",), True, "lossy"),
    "avif": ("AVIF", (".avif",), True, "lossy"),
    "tiff": ("TIFF", (".tif", ".tiff"), True, "lossless"),
    "bmp": ("BMP", (".bmp",), False, "lossless"),
    "gif": ("GIF", (".gif",), True, "palette"),
}
#: ``--format`` name -> Pillow format.
FORMAT_NAMES = {name: spec[0] for name, spec in IMAGE_FORMATS.items()}
#: Pillow formats that take ``--output-quality``.
QUALITY_FORMATS = tuple(spec[0] for spec in IMAGE_FORMATS.values() if spec[3] == "lossy")
#: Pillow formats always written from the codes and the codebook (at most 256 colours).
CODES_FORMATS = tuple(spec[0] for spec in IMAGE_FORMATS.values() if spec[3] == "palette")
#: Pillow formats palette mode writes: a palette PNG, or one of those.
PALETTE_FORMATS = ("PNG",) + CODES_FORMATS

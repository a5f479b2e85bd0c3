"""The words the options accept: colour spaces, palette orders, dithers, metrics, seeds.

One copy for the layers that check them and for the command line, which
shows them in ``--help`` without importing numpy. Imports nothing.
"""

__all__ = ["COLOR_SPACES", "SORT_RULES", "DITHER_METHODS", "METRICS", "INIT_METHOD_NAMES",
           "IMAGE_FORMATS", "FORMAT_NAMES"]

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
#: The formats a reconstructed image is written in: each ``--format`` name
#: with its Pillow format, its file extensions (the first is the one a batch
#: writes) and whether it holds an alpha channel. The one table of output
#: formats; the maps below and those of the I/O layer are views of it.
IMAGE_FORMATS = {
    "png": ("PNG", (".png",), True),
    "jpeg": ("JPEG", (".jpg", ".jpeg"), False),
    "webp": ("WEBP", (".webp",), True),
    "tiff": ("TIFF", (".tif", ".tiff"), True),
    "bmp": ("BMP", (".bmp",), False),
}
#: ``--format`` name -> Pillow format.
FORMAT_NAMES = {name: spec[0] for name, spec in IMAGE_FORMATS.items()}

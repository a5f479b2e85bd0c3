"""The words the options accept: colour spaces, palette orders, dithers, metrics, seeds.

One copy for the layers that check them and for the command line, which
shows them in ``--help`` without importing numpy. Imports nothing.
"""

__all__ = ["COLOR_SPACES", "SORT_RULES", "DITHER_METHODS", "METRICS", "INIT_METHOD_NAMES",
           "FORMAT_NAMES"]

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
#: ``--format``: the Pillow format of each name of a reconstructed image's format.
FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}

"""quantize: image colour quantization with its own weighted k-means core.

The public API is imported lazily (PEP 562), so that ``quantize --help`` does
not pay for numpy.

Examples
--------
>>> import numpy as np, quantize
>>> img = np.zeros((4, 4, 3), dtype=np.uint8); img[:2] = 200
>>> quantize.quantize_image(img, 2).codebook.tolist()
[[0, 0, 0], [200, 200, 200]]
"""

__version__ = "0.1.0"

_EXPORTS = {
    "cluster": "kmeans",
    "assign": "kmeans",
    "KMeansResult": "kmeans",
    "quantize_image": "pipeline",
    "QuantizeResult": "pipeline",
    "colour_histogram": "histogram",
    "pixel_keys": "histogram",
    "QuantizeError": "errors",
    "QuantizeWarning": "errors",
    "KMeans": "estimator",
    "cv_kmeans": "cv",
    "TERM_CRITERIA_COUNT": "cv",
    "TERM_CRITERIA_MAX_ITER": "cv",
    "TERM_CRITERIA_EPS": "cv",
    "KMEANS_RANDOM_CENTERS": "cv",
    "KMEANS_PP_CENTERS": "cv",
    "KMEANS_USE_INITIAL_LABELS": "cv",
}

#: Submodules reachable as attributes (``quantize.vq.kmeans2``) without an
#: explicit import; loaded on first use.
_SUBMODULES = ("vq", "metrics", "colorspace", "dither", "transparency")

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'quantize' has no attribute {name!r}")


def __dir__():
    return __all__

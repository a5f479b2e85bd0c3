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
    "cluster": "core.kmeans",
    "assign": "core.kmeans",
    "KMeansResult": "core.kmeans",
    "quantize_image": "image.pipeline",
    "QuantizeResult": "image.pipeline",
    "colour_histogram": "core.histogram",
    "pixel_keys": "core.histogram",
    "QuantizeError": "errors",
    "QuantizeWarning": "errors",
    "KMeans": "compat.estimator",
    "cv_kmeans": "compat.cv",
    "TERM_CRITERIA_COUNT": "compat.cv",
    "TERM_CRITERIA_MAX_ITER": "compat.cv",
    "TERM_CRITERIA_EPS": "compat.cv",
    "KMEANS_RANDOM_CENTERS": "compat.cv",
    "KMEANS_PP_CENTERS": "compat.cv",
    "KMEANS_USE_INITIAL_LABELS": "compat.cv",
}

#: Modules reachable as attributes (``quantize.vq.kmeans2``) without an
#: explicit import; loaded on first use. The layers behind them are
#: described in docs/design.md.
_SUBMODULES = {
    "vq": "compat.vq",
    "kmeans": "core.kmeans",
    "metrics": "core.metrics",
    "colorspace": "core.colorspace",
    "dither": "image.dither",
    "transparency": "image.transparency",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{_SUBMODULES[name]}", __name__)
    raise AttributeError(f"module 'quantize' has no attribute {name!r}")


def __dir__():
    return __all__

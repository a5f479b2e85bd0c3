"""``quantize.vq``: the scipy.cluster.vq drop-in, importable as scipy's is.

The functions live in :mod:`quantize.compat.vq`; this module names them
again so that ``from quantize.vq import kmeans2`` keeps working.
"""

from .compat.vq import ClusterError, kmeans, kmeans2, vq, whiten

__all__ = ["whiten", "vq", "kmeans", "kmeans2", "ClusterError"]

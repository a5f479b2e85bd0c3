"""Quality targets: the smallest k whose quantization is good enough.

Like pngquant's ``--quality``: instead of a number of colours, ask for a
quality, as a PSNR floor (``min_psnr``, dB) or an MSE ceiling (``max_mse``,
mean over all channel values in 0-255 units; PSNR = 10·log10(255²/MSE)), and
let :func:`search_k` find the fewest colours, up to ``k_max``, that reach it.

The search is a bisection over k on one colour histogram (the image is
counted once; each probe is one :func:`quantize.image.pipeline.fit_histogram`).
Every probe uses the same options and seed, so the fit for a k is exactly
what ``quantize image -k K`` gives, and is computed at most once.

What bisection assumes
----------------------
Bisection assumes quality never drops as k grows. For k-means that is
usually, not always, true: a fit with more colours can land in a slightly
worse local minimum. What the search guarantees regardless is a boundary:
the chosen k reaches the target and k − 1 does not (both with the same
options and seed; k = 1 when one colour suffices). It is the smallest such k
whenever quality is monotone over the probed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ..errors import QualityError
from ..core.histogram import ColourHistogram, colour_histogram, lookup_labels, pixel_keys
from .pipeline import HistogramFit, QuantizeResult, fit_histogram, psnr_from_mse

__all__ = ["QualityTarget", "TargetSearch", "search_k", "quantize_to_target"]


@dataclass(frozen=True)
class QualityTarget:
    """A quality floor: PSNR at least ``min_psnr`` and/or MSE at most ``max_mse``.

    Examples
    --------
    >>> t = QualityTarget(min_psnr=30.0)
    >>> t.met(mse=65.0), t.met(mse=66.0)
    (True, False)
    """

    min_psnr: Optional[float] = None
    max_mse: Optional[float] = None

    def __post_init__(self):
        if self.min_psnr is None and self.max_mse is None:
            raise ValueError("a quality target needs min_psnr or max_mse")
        if self.min_psnr is not None and not math.isfinite(self.min_psnr):
            raise ValueError(f"min_psnr must be finite, got {self.min_psnr!r}")
        if self.max_mse is not None and not (self.max_mse >= 0 and math.isfinite(self.max_mse)):
            raise ValueError(f"max_mse must be finite and >= 0, got {self.max_mse!r}")

    def met(self, mse: float) -> bool:
        """Whether a result with this MSE reaches the target."""
        if self.max_mse is not None and not mse <= self.max_mse:
            return False
        if self.min_psnr is not None and not psnr_from_mse(mse) >= self.min_psnr:
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.min_psnr is not None:
            parts.append(f"PSNR >= {self.min_psnr:g} dB")
        if self.max_mse is not None:
            parts.append(f"MSE <= {self.max_mse:g}")
        return " and ".join(parts)

    def as_dict(self) -> dict:
        return {"min_psnr": self.min_psnr, "max_mse": self.max_mse}


@dataclass(frozen=True)
class TargetSearch:
    """The outcome of :func:`search_k`.

    Attributes
    ----------
    k : int
        The chosen k (the largest one probed when the target is not met).
    fit : HistogramFit
        The fit for ``k``.
    met : bool
        Whether ``fit`` reaches the target.
    mse : float
        MSE of ``fit``.
    probes : dict of int to float
        Every k fitted during the search and its MSE.
    """

    k: int
    fit: HistogramFit
    met: bool
    mse: float
    probes: Dict[int, float]

    @property
    def psnr(self) -> float:
        return psnr_from_mse(self.mse)

    def probes_list(self) -> list:
        """JSON-ready probes: ``[{"k", "mse", "psnr"}]`` in k order (psnr None when exact)."""
        return [{"k": k, "mse": mse, "psnr": None if mse <= 0 else psnr_from_mse(mse)}
                for k, mse in sorted(self.probes.items())]


def search_k(hist: ColourHistogram, k_max: int, target: QualityTarget, *, max_iter: int = 100,
             eps: float = 0.25, init: str = "kmeans++", attempts: int = 1, seed=0) -> TargetSearch:
    """Find the fewest colours, at most ``k_max``, that reach ``target``, by bisection.

    Parameters
    ----------
    hist : ColourHistogram
        The image's colours (counted once, reused by every probe).
    k_max : int
        Largest k allowed (``--colors``).
    target : QualityTarget
    max_iter, eps, init, attempts, seed
        As in :func:`quantize.image.pipeline.fit_histogram`; the same for every probe.

    Returns
    -------
    TargetSearch
        ``met`` is False when even ``k_max`` misses the target (then ``k`` is
        ``k_max``). Otherwise ``k`` reaches the target and ``k - 1`` does not
        (see the module notes on what bisection assumes).

    Examples
    --------
    >>> h = colour_histogram(np.array([0, 0, 0, 0xFFFFFF], dtype=np.uint32))
    >>> s = search_k(h, 8, QualityTarget(max_mse=0.0)); (s.k, s.met, sorted(s.probes))
    (2, True, [1, 2, 4, 8])
    """
    if isinstance(k_max, bool) or int(k_max) != k_max or k_max < 1:
        raise ValueError(f"k_max must be a positive integer, got {k_max!r}")
    k_max = int(k_max)
    n_values = 3 * hist.n_pixels
    fits: Dict[int, HistogramFit] = {}

    def probe(k: int) -> bool:
        if k not in fits:
            fits[k] = fit_histogram(hist, k, max_iter=max_iter, eps=eps, init=init,
                                    attempts=attempts, seed=seed)
        return target.met(fits[k].inertia / n_values)

    def outcome(k: int, met: bool) -> TargetSearch:
        return TargetSearch(k, fits[k], met, fits[k].inertia / n_values,
                            {j: f.inertia / n_values for j, f in fits.items()})

    if not probe(k_max):
        return outcome(k_max, False)
    # Invariant: hi reaches the target; lo does not (lo = 0 stands for "no colours").
    lo, hi = 0, k_max
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid):
            hi = mid
        else:
            lo = mid
    # Verify the boundary claim (it holds by the invariant; kept as a guard):
    # if k - 1 also reaches the target, walk down until it does not.
    k = hi
    while k > 1 and probe(k - 1):
        k -= 1
    assert probe(k)
    return outcome(k, True)


def quantize_to_target(pixels, k_max: int, target: QualityTarget, *, max_iter: int = 100,
                       eps: float = 0.25, init: str = "kmeans++", attempts: int = 1, seed=0,
                       source=None):
    """Quantize an image with the fewest colours (at most ``k_max``) that reach a target.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    k_max : int
    target : QualityTarget
    max_iter, eps, init, attempts, seed
        As in :func:`quantize.image.pipeline.quantize_image`.
    source : str, optional
        The image's name, for the error message.

    Returns
    -------
    (QuantizeResult, TargetSearch)
        The result is exactly ``quantize_image(pixels, search.k, ...)``.

    Raises
    ------
    QualityError
        When even ``k_max`` colours miss the target (exit code 99).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be an (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image has no pixels (shape {pixels.shape})")
    keys = pixel_keys(pixels)
    hist = colour_histogram(keys)
    search = search_k(hist, k_max, target, max_iter=max_iter, eps=eps, init=init,
                      attempts=attempts, seed=seed)
    if not search.met:
        psnr = "inf" if search.mse <= 0 else f"{search.psnr:.2f} dB"
        raise QualityError(source, f"quality target not met: {target.describe()} needs more than "
                                   f"{k_max} colours (at k={k_max}: MSE {search.mse:.3f}, PSNR {psnr})")
    fit = search.fit
    labels = lookup_labels(keys, hist.keys, fit.codes).reshape(pixels.shape[:2])
    options = {"k": search.k, "max_iter": max_iter, "eps": eps, "init": init,
               "attempts": attempts, "seed": seed}
    result = QuantizeResult(fit.codebook, labels, fit.counts, fit.inertia, fit.n_iter,
                            fit.converged, len(hist), options)
    return result, search

"""Choosing k by the elbow method: a distortion sweep over k, and its knee.

:func:`sweep` builds nothing itself: it takes one colour histogram and fits a
codebook for each k with :func:`quantize.image.pipeline.fit_histogram`, so the
image is read and counted once however many k are tried. Every number it
reports for a k is the one ``quantize image -k K`` with the same options
gives, except where that fit would have been worse than the previous k's (see
*Monotone by construction* below).

:func:`knee` suggests a k: on axes scaled to [0, 1], the point farthest below
the chord from the first point of the curve to the last (the "largest
distance to the chord" rule, the idea behind Kneedle, Satopää et al. 2011).

Numpy only: neither Pillow nor click. The plot is drawn by
:mod:`quantize.io.plot`.

Monotone by construction
------------------------
k-means is a local search, so an independent fit with k colours can now and
then be a little worse than the fit with fewer (seen on 100×67 thumbnails of
the samples: two k in about 1,300, by 0.2 % and 1.4 %). A distortion
curve that goes up is useless for choosing k, so when the fit for k has more
inertia than the previous k's result, the sweep also tries (a) the previous
codebook plus the colours that most reduce the error, added greedily, and
(b) k-means warm-started from (a), and keeps the best of the three. (a) keeps
every previous code, so it can never be worse than the previous k: the curve
never increases. Such points are flagged ``warm_start`` and their numbers are
not what an independent ``quantize image -k K`` run gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, List, Optional, Sequence

import numpy as np

from ..core.histogram import ColourHistogram
from .fit import nearest_codes_in
from .pipeline import HistogramFit, fit_histogram, nearest_codes, psnr_from_mse

__all__ = ["ElbowPoint", "ElbowResult", "sweep", "knee", "parse_k_spec", "sweep_cost",
           "fit_cost", "KNEE_METHOD", "SWEEP_COST_LIMIT", "PER_FIT_COST"]

#: The knee rule, as reported by the CLI and the JSON output.
KNEE_METHOD = ("largest distance below the chord from the first to the last point, "
               "with k and MSE each scaled to [0, 1]")

#: Largest k a sweep accepts (a codebook of every 24-bit colour is pointless).
MAX_K = 65536

#: The fixed work of one fit (its seedings, its coarse levels), counted as
#: this many codes: a fit of k codes to n colours costs about n·(k + 32)
#: colour-code distances. Measured on the samples (docs/codebooks.md).
PER_FIT_COST = 32
#: The most work :func:`sweep_cost` lets a sweep have without being asked
#: twice: 2·10¹⁰, some forty times the default sweep (k = 2..32) on a
#: 12-megapixel photo of a million colours, and ten minutes or more of
#: fitting (docs/codebooks.md gives the measured rate).
SWEEP_COST_LIMIT = 2e10


def fit_cost(n_colours: int, k: int) -> float:
    """The estimated work of fitting ``k`` codes to ``n_colours`` colours.

    ``n_colours · (k + PER_FIT_COST)``; a histogram with at most k colours
    is its own codebook and costs only its labelling, ``n_colours``.

    Examples
    --------
    >>> fit_cost(1000, 16), fit_cost(10, 16)
    (48000.0, 10.0)
    """
    if n_colours <= k:
        return float(n_colours)
    return float(n_colours) * (k + PER_FIT_COST)


def sweep_cost(n_colours: int, ks: Sequence[int]) -> float:
    """The estimated work of a sweep: :func:`fit_cost` summed over its distinct k.

    Compared with :data:`SWEEP_COST_LIMIT` by the command line before a
    sweep starts: a range such as 2..1000 on a photo would fit for hours.

    Examples
    --------
    >>> sweep_cost(1000, [2, 4, 4])
    70000.0
    """
    return sum(fit_cost(n_colours, k) for k in set(int(k) for k in ks))


@dataclass(frozen=True)
class ElbowPoint:
    """The distortion of one k of a sweep.

    Attributes
    ----------
    k : int
        The k asked for.
    codes : int
        Codes actually used (fewer than k when the image has fewer colours).
    inertia : float
        Sum of squared errors over all pixels and channels, 0-255 units.
    mse : float
        Mean squared error over all channel values, ``inertia / (3 · pixels)``.
    psnr : float
        ``10 log10(255² / mse)`` in dB; ``inf`` when exact.
    warm_start : bool
        True when the independent fit was worse than the previous k and the
        sweep kept a warm-started codebook instead (see the module notes).
    fit : HistogramFit
        The codebook and counts. Its ``codes`` (one per colour of the
        histogram) are kept for the last point only, and None for the
        others, so that a long sweep holds one labelling at a time.
    """

    k: int
    codes: int
    inertia: float
    mse: float
    psnr: float
    warm_start: bool
    fit: HistogramFit

    def as_dict(self) -> dict:
        """JSON-ready: k, codes, inertia, mse, psnr (None when infinite), warm_start."""
        return {"k": self.k, "codes": self.codes, "inertia": self.inertia, "mse": self.mse,
                "psnr": None if math.isinf(self.psnr) else self.psnr,
                "warm_start": self.warm_start}


@dataclass(frozen=True)
class ElbowResult:
    """A sweep over k and its suggested k.

    Attributes
    ----------
    points : tuple of ElbowPoint
        One per k, k ascending; inertia never increases along them.
    n_pixels : int
        Pixels of the histogram.
    n_colours : int
        Distinct colours of the histogram.
    suggested_k : int or None
        The knee (see :func:`knee`); None with fewer than three points or no
        point below the chord.
    """

    points: tuple
    n_pixels: int
    n_colours: int
    suggested_k: Optional[int]

    @property
    def ks(self) -> List[int]:
        return [p.k for p in self.points]

    @property
    def mse(self) -> List[float]:
        return [p.mse for p in self.points]

    def as_dict(self) -> dict:
        """JSON-ready summary of the sweep."""
        return {"n_pixels": self.n_pixels, "colors_in": self.n_colours,
                "suggested_k": self.suggested_k, "method": KNEE_METHOD,
                "results": [p.as_dict() for p in self.points]}


def parse_k_spec(text: str) -> List[int]:
    """Parse a set of k: ranges ``a..b``, stepped ranges ``a..b..s`` and commas.

    Parameters
    ----------
    text : str
        E.g. ``"2..64"``, ``"2..64..2"``, ``"4,8,16"`` or ``"2..8,16,32"``.
        Ranges include both ends (and ``b`` only when the step reaches it).

    Returns
    -------
    list of int
        Distinct values, ascending.

    Raises
    ------
    ValueError
        On bad syntax, k < 1, k > :data:`MAX_K`, an empty range or a step < 1.

    Examples
    --------
    >>> parse_k_spec("2..6"), parse_k_spec("2..10..4"), parse_k_spec("16, 4,8,4")
    ([2, 3, 4, 5, 6], [2, 6, 10], [4, 8, 16])
    """
    values = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty item in {text!r}")
        fields = [f.strip() for f in part.split("..")]
        try:
            numbers = [int(f) for f in fields]
        except ValueError:
            raise ValueError(f"{part!r} is not a k, a range a..b or a stepped range a..b..s") from None
        if len(numbers) == 1:
            values.add(numbers[0])
            continue
        if len(numbers) not in (2, 3):
            raise ValueError(f"{part!r} is not a k, a range a..b or a stepped range a..b..s")
        start, stop = numbers[0], numbers[1]
        step = numbers[2] if len(numbers) == 3 else 1
        if step < 1:
            raise ValueError(f"the step of {part!r} must be at least 1, got {step}")
        if stop < start:
            raise ValueError(f"the range {part!r} is empty: {stop} < {start}")
        if start < 1:
            raise ValueError(f"k must be at least 1, got {start}")
        if stop > MAX_K:
            raise ValueError(f"k must be at most {MAX_K}, got {stop}")
        values.update(range(start, stop + 1, step))
    bad = [v for v in values if v < 1 or v > MAX_K]
    if bad:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {min(bad) if min(bad) < 1 else max(bad)}")
    return sorted(values)


def knee(xs: Sequence[float], ys: Sequence[float]) -> Optional[int]:
    """Index of the knee of a decreasing curve: the largest distance below the chord.

    Both axes are scaled to [0, 1] (x by its range, y by its range), the
    chord joins the first and the last point, and the knee is the point with
    the largest perpendicular distance below it. The first such point wins a
    tie.

    Parameters
    ----------
    xs, ys : sequences of float
        The curve, xs ascending (k and distortion).

    Returns
    -------
    int or None
        The index, or None when there are fewer than three points, the curve
        is flat, or no point lies strictly below the chord (no knee).

    Examples
    --------
    >>> knee([1, 2, 3, 4, 5], [100, 30, 20, 15, 12])
    1
    >>> knee([1, 2, 3], [3, 2, 1]) is None
    True
    """
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if x.size < 3 or x.size != y.size:
        return None
    x_span, y_span = x[-1] - x[0], y.max() - y.min()
    if x_span <= 0 or y_span <= 0:
        return None
    xn = (x - x[0]) / x_span
    yn = (y - y.min()) / y_span
    # Signed distance from the chord (xn[0], yn[0]) -> (xn[-1], yn[-1]);
    # positive below it for a decreasing curve.
    dx, dy = xn[-1] - xn[0], yn[-1] - yn[0]
    dist = (dy * (xn - xn[0]) - dx * (yn - yn[0])) / math.hypot(dx, dy)
    best = int(np.argmax(dist))
    if dist[best] <= 1e-12:
        return None
    return best


def _fit_from_codebook(hist: ColourHistogram, codebook: np.ndarray,
                       color_space: str = "srgb") -> HistogramFit:
    """The fit of a fixed uint8 codebook: nearest codes (in ``color_space``),
    unused codes dropped, most used first (as fit_histogram orders its codebooks)."""
    codes, sq_dist = nearest_codes_in(hist.colours, codebook, color_space)
    counts = np.bincount(codes, weights=hist.counts, minlength=codebook.shape[0]).astype(np.int64)
    used = np.flatnonzero(counts > 0)
    keys = (codebook[used, 0].astype(np.int64) << 16) | (codebook[used, 1].astype(np.int64) << 8) \
        | codebook[used, 2]
    order = used[np.lexsort((keys, -counts[used]))]
    remap = np.empty(codebook.shape[0], dtype=np.intp)
    remap[order] = np.arange(order.size)
    return HistogramFit(codebook[order], remap[codes], counts[order],
                        float(np.dot(hist.counts, sq_dist)), 0, True)


def _extend_codebook(hist: ColourHistogram, codebook: np.ndarray, k: int) -> np.ndarray:
    """``codebook`` plus up to ``k - len(codebook)`` histogram colours, each the
    one whose own error (count × squared distance) is largest at that moment."""
    codebook = np.asarray(codebook, dtype=np.uint8)
    _, sq_dist = nearest_codes(hist.colours, codebook)
    sq_dist = sq_dist.astype(np.float64)
    colours = hist.colours.astype(np.float64)
    added = []
    for _ in range(k - codebook.shape[0]):
        gain = hist.counts * sq_dist
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        added.append(hist.colours[j])
        diff = colours - colours[j]
        np.minimum(sq_dist, np.einsum("ij,ij->i", diff, diff), out=sq_dist)
    if not added:
        return codebook
    return np.concatenate([codebook, np.asarray(added, dtype=np.uint8)])


def sweep(hist: ColourHistogram, ks: Sequence[int], *, max_iter: int = 100, eps: float = 0.25,
          init: str = "kmeans++", attempts: int = 1, seed=0,
          callback: Optional[Callable[[ElbowPoint], None]] = None,
          metric: str = "euclidean", color_space: str = "srgb") -> ElbowResult:
    """Fit a codebook for each k of ``ks`` to one histogram; report distortion and the knee.

    Parameters
    ----------
    hist : ColourHistogram
        The colours of the image (built once, reused for every k).
    ks : sequence of int
        The k to try (sorted and deduplicated here), each at least 1.
    max_iter, eps, init, attempts, seed
        As in :func:`quantize.image.pipeline.fit_histogram`. Every k is fitted with
        the same seed, so each point is what ``quantize image -k K --seed S``
        gives (unless flagged ``warm_start``).
    callback : callable, optional
        Called with each :class:`ElbowPoint` as soon as it is done.
    metric, color_space
        As in :func:`quantize.image.pipeline.fit_histogram`: the distance the
        codebooks are fitted with and the space "nearest" is measured in.
        Inertia, MSE and PSNR stay Euclidean in sRGB.

    Returns
    -------
    ElbowResult
        Points in ascending k, their inertia never increasing, and the
        suggested k from :func:`knee` on (k, MSE).

    Raises
    ------
    ValueError
        When ``ks`` is empty or holds a k < 1.

    Examples
    --------
    >>> from quantize.core.histogram import colour_histogram
    >>> h = colour_histogram(np.array([0, 0, 0, 10, 10, 200, 255], dtype=np.uint32))
    >>> r = sweep(h, [1, 2, 3, 4])
    >>> [p.codes for p in r.points], r.points[-1].mse
    ([1, 2, 3, 4], 0.0)
    """
    ks = sorted(set(int(k) for k in ks))
    if not ks:
        raise ValueError("need at least one k")
    if ks[0] < 1:
        raise ValueError(f"k must be at least 1, got {ks[0]}")
    n_pixels = hist.n_pixels
    points = []
    previous = None
    space = {"metric": metric, "color_space": color_space}
    for k in ks:
        fit = fit_histogram(hist, k, max_iter=max_iter, eps=eps, init=init, attempts=attempts,
                            seed=seed, **space)
        warm = False
        if previous is not None and fit.inertia > previous.inertia:
            warm = True
            extended = _extend_codebook(hist, previous.fit.codebook, k)
            best = _fit_from_codebook(hist, extended, color_space)
            if extended.shape[0] == k and len(hist) > k:
                again = fit_histogram(hist, k, max_iter=max_iter, eps=eps,
                                      init=extended.astype(np.float64), seed=seed, **space)
                if again.inertia < best.inertia:
                    best = again
            fit = best
        mse = fit.inertia / (3 * n_pixels)
        point = ElbowPoint(k, int(fit.codebook.shape[0]), float(fit.inertia), mse,
                           psnr_from_mse(mse), warm, fit)
        if points:  # only the last point keeps its labelling
            points[-1] = replace(points[-1], fit=replace(points[-1].fit, codes=None))
        points.append(point)
        previous = point
        if callback is not None:
            callback(point)
    index = knee([p.k for p in points], [p.mse for p in points])
    return ElbowResult(tuple(points), n_pixels, len(hist),
                       None if index is None else points[index].k)

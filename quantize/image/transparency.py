"""Transparency: RGBA images through the pipeline, and flattening.

numpy only. What happens to an RGBA image (:func:`quantize_rgba`):

* Every pixel opaque (alpha 255): it is an RGB image; the RGB fast path runs
  and the result has an RGB codebook.
* Fully transparent pixels (alpha 0) share one reserved palette entry,
  ``(0, 0, 0, 0)``, at index 0; their colour is meaningless and they are
  left out of k-means. The entry counts towards ``k``.
* Only opaque and fully transparent pixels: the opaque colours take the RGB
  fast path (24-bit histogram, cell pyramid) with ``k - 1`` codes.
* Translucent pixels (0 < alpha < 255) too: k-means runs on RGBA. Each
  distinct RGBA colour becomes the point ``(c·α, α·range)``: its colour in
  the working space premultiplied by its opacity α = alpha/255, and α in the
  units of the space's lightness (255 for sRGB, 1 for Oklab, 100 for
  CIELAB). Premultiplied, a nearly transparent pixel's colour matters as
  little as it shows. Opaque and translucent pixels are kept apart: after a
  joint fit each centre belongs to the group most of its pixels come from,
  and the last Lloyd steps assign opaque pixels only to opaque codes
  (alpha 255) and translucent ones only to translucent codes (alpha
  1..254). So opaque pixels stay opaque and transparent ones transparent.

The inertia (and so MSE and PSNR) of an RGBA result is measured on
premultiplied R, G, B and alpha, in 0-255 units, over four channels.

Entries with transparency come first in the palette (the tRNS chunk of a
PNG then stops at the last of them); see
:func:`quantize.image.pipeline.order_codes`.
"""

from __future__ import annotations


import numpy as np

from ..core import colorspace as _cs
from ..core import kmeans as _kmeans
from ..core.search import nearest
from .fit import apply_rgb, fit_histogram, quantize_rgb
from .result import QuantizeResult, fit_options, order_codes, pixel_inertia, premultiplied

__all__ = ["TRANSPARENT", "premultiplied", "flatten", "prepare", "visible_rgb", "codebook_rows", "quantize_rgba",
           "apply_rgba", "alpha_kind"]

#: The reserved palette entry of fully transparent pixels.
TRANSPARENT = (0, 0, 0, 0)

#: Lloyd steps with opaque and translucent pixels kept apart, on the coarse
#: cells (or on every colour of a small image), then on cells half as large.
GROUP_STEPS = 5
REFINE_STEPS = 2
#: The start's own stopping rule (0-255 units) and iteration cap: the last
#: stage, on every colour, is the one max_iter and eps govern.
START_EPS = 0.25
START_MAX_ITER = 100
#: Grid cells aimed at per code for the coarse RGBA pass, and the least.
BINS_PER_CODE = 32
MIN_BINS = 4096


def alpha_kind(alpha) -> str:
    """``'opaque'`` (all 255), ``'binary'`` (only 0 and 255) or ``'translucent'``."""
    alpha = np.asarray(alpha)
    if alpha.size == 0 or bool((alpha == 255).all()):
        return "opaque"
    if bool(((alpha == 0) | (alpha == 255)).all()):
        return "binary"
    return "translucent"


def flatten(pixels, background) -> np.ndarray:
    """Composite an RGBA image onto a solid colour: ``(H, W, 3)`` uint8.

    ``out = (rgb·alpha + bg·(255 - alpha)) / 255``, rounded, in sRGB values
    (as browsers and Pillow's ``alpha_composite`` blend).

    Examples
    --------
    >>> flatten(np.array([[[255, 0, 0, 128]]], np.uint8), (0, 0, 255)).tolist()
    [[[128, 0, 127]]]
    """
    pixels = np.asarray(pixels)
    if pixels.shape[-1] == 3:
        return pixels
    bg = np.asarray(background, dtype=np.uint32).reshape(3)
    out = np.empty(pixels.shape[:-1] + (3,), dtype=np.uint8)
    rows = 512
    for r0 in range(0, pixels.shape[0], rows):
        block = pixels[r0:r0 + rows].astype(np.uint32)
        a = block[..., 3:4]
        out[r0:r0 + rows] = (block[..., :3] * a + bg * (255 - a) + 127) // 255
    return out


def prepare(pixels, background=None) -> np.ndarray:
    """The pixels the pipeline should see, from a loaded RGB or RGBA image.

    With ``background`` (an (r, g, b) colour) an RGBA image is composited
    onto it (:func:`flatten`); an RGBA image whose pixels are all opaque
    becomes RGB, so it takes exactly the RGB path; anything else is
    returned as it is.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        return pixels
    if background is not None:
        return flatten(pixels, background)
    if alpha_kind(pixels[..., 3]) == "opaque":
        return np.ascontiguousarray(pixels[..., :3])
    return pixels


def visible_rgb(pixels) -> np.ndarray:
    """The RGB values of the pixels that show: all of an RGB image's, an RGBA
    image's with alpha above 0 (as (N, 3) rows). For shared palettes, which
    hold no alpha."""
    pixels = np.asarray(pixels)
    if pixels.shape[-1] == 3:
        return pixels
    flat = pixels.reshape(-1, 4)
    return np.ascontiguousarray(flat[flat[:, 3] > 0, :3])


def codebook_rows(codebook, counts):
    """What a codebook file records of a palette: (RGB colours, counts, alpha).

    Codebook files hold RGB. For an RGBA palette the reserved fully
    transparent entry is left out (its colour means nothing, and read back
    it would be an opaque black), and ``alpha`` lists the alpha of the
    remaining entries; for an RGB palette ``alpha`` is None.
    """
    codebook = np.asarray(codebook)
    counts = np.asarray(counts)
    if codebook.shape[1] == 3:
        return codebook, counts, None
    keep = codebook[:, 3] > 0
    return (np.ascontiguousarray(codebook[keep, :3]), counts[keep],
            [int(a) for a in codebook[keep, 3]])


def _labels_dtype(k: int):
    return np.uint8 if k <= 256 else np.uint16


def quantize_rgba(pixels, k: int, *, max_iter=100, eps=0.25, init="kmeans++", attempts=1,
                  seed=0, callback=None, metric="euclidean", color_space="srgb",
                  sort="frequency"):
    """Quantize an RGBA image, keeping its transparency (see the module notes).

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 4), uint8
        Straight (not premultiplied) alpha.
    k : int
        Largest number of palette entries, the transparent one included
        (at least one colour is always fitted, and with translucent pixels
        at least one opaque and one translucent code when both occur). An
        ``init`` array gives the colours; the transparent entry is then
        added to them.
    max_iter, eps, init, attempts, seed, callback, metric, color_space, sort
        As in :func:`quantize.image.pipeline.quantize_image`.

    Returns
    -------
    QuantizeResult
        With an RGBA codebook ``(k, 4)``, unless every pixel is opaque (then
        exactly ``quantize_image`` of the RGB channels).
    """
    from ..core.histogram import colour_histogram, lookup_labels, pixel_keys

    pixels = np.asarray(pixels)
    h, w = pixels.shape[:2]
    alpha = pixels[..., 3]
    kind = alpha_kind(alpha)
    common = dict(max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                  callback=callback, metric=metric, color_space=color_space, sort=sort)
    if kind == "opaque":
        return quantize_rgb(np.ascontiguousarray(pixels[..., :3]), int(k), **common)
    options = fit_options(k, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                          color_space=color_space, sort=sort)
    options["transparency"] = kind
    visible = (alpha != 0).ravel()
    n_transparent = int(visible.size - np.count_nonzero(visible))
    reserved = 1 if n_transparent else 0
    colour_k = len(init) if not isinstance(init, str) else max(1, k - reserved)
    flat = pixels.reshape(-1, 4)

    if not visible.any():
        codebook = np.array([TRANSPARENT], dtype=np.uint8)
        return QuantizeResult(codebook, np.zeros((h, w), np.uint8),
                              np.array([h * w], np.int64), 0.0, 0, True, 1, options)

    if kind == "binary":
        keys = pixel_keys(flat[visible, :3])
        hist = colour_histogram(keys)
        fit = fit_histogram(hist, colour_k, **common)
        colours = np.concatenate([fit.codebook, np.full((fit.codebook.shape[0], 1), 255, np.uint8)],
                                 axis=1)
        codes_visible = lookup_labels(keys, hist.keys, fit.codes).astype(np.intp)
        counts, inertia = fit.counts, fit.inertia
        n_iter, converged, n_in = fit.n_iter, fit.converged, len(hist)
    else:
        colours, codes_visible, counts, inertia, n_iter, converged, n_in = _fit_rgba(
            flat[visible], colour_k, init=init, max_iter=max_iter, eps=eps, attempts=attempts,
            seed=seed, callback=callback, metric=metric, color_space=color_space, sort=sort)

    total = colours.shape[0] + reserved
    labels = np.zeros(h * w, dtype=_labels_dtype(total))
    labels[visible] = codes_visible + reserved
    if reserved:
        colours = np.concatenate([np.array([TRANSPARENT], np.uint8), colours])
        counts = np.concatenate([[n_transparent], counts]).astype(np.int64)
    return QuantizeResult(colours, labels.reshape(h, w), counts, float(inertia), n_iter, converged,
                          n_in + reserved, options)


def _features(colours4, color_space: str) -> np.ndarray:
    """The k-means points of RGBA uint8 colours: premultiplied working colour and alpha."""
    alpha = colours4[:, 3].astype(np.float64) / 255.0
    out = np.empty((colours4.shape[0], 4), dtype=np.float64)
    out[:, :3] = _cs.to_working(colours4[:, :3], color_space) * alpha[:, None]
    out[:, 3] = alpha * _alpha_range(color_space)
    return out


def _alpha_range(color_space: str) -> float:
    return 255.0 * _cs.eps_scale(color_space)


def _from_features(centres, opaque, color_space: str) -> np.ndarray:
    """RGBA uint8 codes of float centres: opaque ones get alpha 255, the others 1..254."""
    alpha = np.clip(centres[:, 3] / _alpha_range(color_space), 0.0, 1.0)
    alpha = np.where(opaque, 1.0, alpha)
    safe = np.maximum(alpha, 1e-6)
    srgb = _cs.from_working(centres[:, :3] / safe[:, None], color_space)
    out = np.empty((centres.shape[0], 4), dtype=np.uint8)
    out[:, :3] = np.clip(np.rint(srgb), 0, 255)
    out[:, 3] = np.where(opaque, 255, np.clip(np.rint(alpha * 255.0), 1, 254))
    return out


def _nearest32(points, centres) -> np.ndarray:
    if not points.shape[0]:
        return np.empty(0, dtype=np.intp)
    return nearest(points, centres)


def _grouped_nearest(points, groups, centres, centre_groups) -> np.ndarray:
    """Nearest centre of each point among the centres of its own group."""
    labels = np.empty(points.shape[0], dtype=np.intp)
    for g in (0, 1):
        rows = np.flatnonzero(groups == g)
        cols = np.flatnonzero(centre_groups == g)
        if rows.size:
            labels[rows] = cols[_nearest32(points[rows], centres[cols])]
    return labels


def _cell_levels(colours4, groups, points, weights, target: int):
    """Grid cells of the RGBA colours, never mixing opaque and translucent ones.

    Returns a list of (means, weights, groups) per level, coarsest first:
    the coarsest level with at most ``target`` occupied cells (shift 3 to 7
    on every channel) and the level one shift finer when there is one.
    Counted densely (at most 2 × 2**20 cells), so no sort.
    """
    def level(shift):
        bits = 8 - shift
        c = (colours4 >> shift).astype(np.int64)
        ids = groups.astype(np.int64)
        for j in range(4):
            ids = (ids << bits) | c[:, j]
        size = 2 << (4 * bits)
        cw = np.bincount(ids, weights=weights, minlength=size)
        occupied = np.flatnonzero(cw)
        return ids, size, cw, occupied

    chosen = None
    for shift in range(3, 8):
        ids, size, cw, occupied = level(shift)
        if occupied.size <= target or shift == 7:
            chosen = shift
            break
    out = []
    for shift in (chosen, chosen - 1):
        if shift < 3:
            break
        ids, size, cw, occupied = level(shift)
        means = np.empty((occupied.size, points.shape[1]))
        for j in range(points.shape[1]):
            means[:, j] = np.bincount(ids, weights=weights * points[:, j],
                                      minlength=size)[occupied] / cw[occupied]
        out.append((means, cw[occupied], (occupied >> (4 * (8 - shift))).astype(np.int8)))
    return out


def _fit_rgba(visible_pixels, k, *, init, max_iter, eps, attempts, seed, callback, metric,
              color_space, sort):
    """k-means on the distinct RGBA colours of the visible pixels.

    Coarse to fine, as the RGB pipeline: k-means to convergence on grid
    cells (opaque and translucent colours in separate cells), the grouped
    Lloyd steps there, a few grouped steps on cells half as large, then
    every distinct colour takes its nearest code of its own group.

    Returns (codebook (k', 4) uint8 in palette order, code of each visible
    pixel, counts, inertia, n_iter, converged, distinct colours).
    """

    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    v = visible_pixels.astype(np.uint32)
    keys = (v[:, 0] << 24) | (v[:, 1] << 16) | (v[:, 2] << 8) | v[:, 3]
    del v
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    del keys
    inverse = inverse.ravel()
    colours4 = np.empty((unique.size, 4), dtype=np.uint8)
    for j, shift in enumerate((24, 16, 8, 0)):
        colours4[:, j] = (unique >> shift) & 0xFF
    weights = counts.astype(np.float64)
    groups = (colours4[:, 3] < 255).astype(np.int8)  # 0 opaque, 1 translucent
    present = np.unique(groups)
    k = max(int(k), present.size)
    points = _features(colours4, color_space)
    eps_w = eps * _cs.eps_scale(color_space)
    # The start runs to its own criterion, never looser than the last stage's.
    start_eps = min(eps, START_EPS) * _cs.eps_scale(color_space)

    n_iter, converged = 0, True
    if unique.size <= k:
        centres = points.copy()
        centre_groups = groups.copy()
    else:
        start = init
        if not isinstance(init, str):
            given = np.asarray(init, dtype=np.float64)
            start = np.concatenate([_cs.to_working(given, color_space),
                                    np.full((given.shape[0], 1), _alpha_range(color_space))], axis=1)
        target = max(MIN_BINS, BINS_PER_CODE * k)
        if unique.size > 2 * target and metric == "euclidean":
            levels = _cell_levels(colours4, groups, points, weights, target)
            means, cw, cgroups = levels[0]
            fit = _kmeans.cluster(means, k, weights=cw, init=start, max_iter=START_MAX_ITER,
                                  eps=start_eps, attempts=attempts, seed=rng)
            centres, centre_groups, _, _ = _group_steps(means, cw, cgroups, fit.centers, eps_w,
                                                        GROUP_STEPS)
            for means, cw, cgroups in levels[1:]:
                centres, centre_groups, _, _ = _group_steps(
                    means, cw, cgroups, centres, eps_w, REFINE_STEPS, centre_groups)
        else:
            fit = _kmeans.cluster(points, k, weights=weights, init=start, max_iter=START_MAX_ITER,
                                  eps=start_eps, attempts=attempts, seed=rng, metric=metric)
            centres, centre_groups = fit.centers, None
        # The last stage, as for RGB images: grouped Lloyd on every distinct
        # colour, governed by max_iter and eps (see docs/design.md).
        centres, centre_groups, n_iter, converged = _group_steps(
            points, weights, groups, centres, eps_w, max_iter, centre_groups, callback)

    codebook = _from_features(centres, centre_groups == 0, color_space)
    codebook, first = np.unique(codebook, axis=0, return_index=True)
    book_groups = (codebook[:, 3] < 255).astype(np.int8)
    codes = _grouped_nearest(points, groups, _features(codebook, color_space), book_groups)
    code_counts = np.bincount(codes, weights=weights, minlength=codebook.shape[0]).astype(np.int64)
    diff = premultiplied(colours4) - premultiplied(codebook[codes])
    inertia = float(np.dot(weights, np.einsum("ij,ij->i", diff, diff)))
    used = np.flatnonzero(code_counts > 0)
    order = used[order_codes(codebook[used], code_counts[used], sort, first=first[used])]
    remap = np.empty(codebook.shape[0], dtype=np.intp)
    remap[order] = np.arange(order.size)
    return (codebook[order], remap[codes][inverse], code_counts[order], inertia, n_iter,
            converged, int(unique.size))


def _centre_groups(points, weights, groups, centres, labels=None) -> np.ndarray:
    """0 (opaque) or 1 (translucent) per centre: the group with most of its weight.

    Both groups present among the points get at least one centre: when one
    has none, the centre holding most of its weight changes sides (taken
    from a side with two or more).
    """
    if labels is None:
        labels = _nearest32(points, centres)
    k = centres.shape[0]
    share = np.zeros((2, k))
    for g in (0, 1):
        mask = groups == g
        share[g] = np.bincount(labels[mask], weights=weights[mask], minlength=k)
    centre_groups = (share[1] > share[0]).astype(np.int8)
    for g in (0, 1):
        if (groups == g).any() and not (centre_groups == g).any():
            other = 1 - g
            candidates = np.flatnonzero(centre_groups == other)
            if candidates.size >= 2:
                pick = candidates[np.argmax(share[g, candidates])]
                centre_groups[pick] = g
    return centre_groups


def _group_steps(points, weights, groups, centres, eps, steps, centre_groups=None,
                 callback=None):
    """Lloyd steps in which each point may only join a centre of its own group.

    ``centre_groups`` None: each centre first joins the group most of its
    points come from (:func:`_centre_groups`), and a centre that changed
    sides without points of its new group starts from that group's heaviest
    point. At most ``steps`` steps; stops once no centre moved more than
    ``eps``. ``callback(step, max_shift)`` after each. Returns (centres,
    centre_groups, steps run, whether eps was met).
    """
    centres = centres.copy()
    if centre_groups is None:
        labels = _nearest32(points, centres)
        centre_groups = _centre_groups(points, weights, groups, centres, labels)
        for g in (0, 1):
            rows = np.flatnonzero(groups == g)
            if rows.size:
                heavy = rows[np.argmax(weights[rows])]
                for c in np.flatnonzero(centre_groups == g):
                    if not np.any((labels == c) & (groups == g)):
                        centres[c] = points[heavy]
    kernel = _GroupedKernel(points, groups, centre_groups)
    centres, _, _, n, converged = _kmeans.run_plain(kernel, weights, centres, steps, eps, callback,
                                                    labels_after=False)
    return centres, centre_groups, n, converged


class _GroupedKernel:
    """Squared Euclidean distance, each point limited to the centres of its own group.

    A centre left with no points stays where it was: moving it onto a far
    point could take it across the groups.
    """

    def __init__(self, points, groups, centre_groups):
        self.points, self.groups, self.centre_groups = points, groups, centre_groups

    def assign(self, centres, labels, cost):
        # Costs are not needed: empty clusters are not relocated by cost.
        labels[:] = _grouped_nearest(self.points, self.groups, centres, self.centre_groups)

    def update(self, weights, labels, k):
        sums, counts = _kmeans.cluster_sums(self.points, weights, labels, k)
        centres = np.full_like(sums, np.nan)
        full = counts > 0
        centres[full] = sums[full] / counts[full, None]
        return centres, counts

    def fill_empty(self, new_centres, empty, cost, centres):
        new_centres[empty] = centres[empty]


def apply_rgba(pixels, codebook, *, color_space="srgb"):
    """Map an RGBA image onto an RGB codebook.

    A codebook has no alpha, so pixels with alpha below 128 take a
    transparent entry appended after the codebook's rows (index k), and the
    others their nearest code (opaque). With no such pixel the result is
    :func:`quantize.image.pipeline.apply_codebook` of the RGB channels: the
    codebook exactly as given.
    """

    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)
    clear = pixels[..., 3] < 128
    result = apply_rgb(np.ascontiguousarray(pixels[..., :3]), codebook,
                       color_space=color_space)
    if not clear.any():
        return result
    k = codebook.shape[0]
    book = np.concatenate([np.concatenate([codebook, np.full((k, 1), 255, np.uint8)], axis=1),
                           np.array([TRANSPARENT], np.uint8)])
    labels = result.labels.astype(_labels_dtype(k + 1))
    labels[clear] = k
    counts = np.bincount(labels.ravel(), minlength=k + 1).astype(np.int64)

    inertia = pixel_inertia(pixels, book, labels)
    return QuantizeResult(book, labels, counts, inertia, 0, True, result.n_colours_in,
                          dict(result.options, transparency="binary"))

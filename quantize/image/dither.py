"""Dithering: choose each pixel's code so that the average colour of a region
matches the original, where that helps, and nowhere else.

numpy only. Both methods work in the working colour space (``--color-space``:
the space the codes were chosen in), start from the undithered codes (each
pixel's nearest code ``a``) and return codes, so the output holds only
codebook colours. Both keep three promises:

* a pixel whose colour is a codebook colour keeps that code, whatever its
  neighbours do;
* a pixel only ever takes a code from around its own colour, never a
  far-off one;
* where the codebook already matches a colour closely, it is left alone.

``floyd-steinberg``
    Error diffusion (7/16 right, 3/16 down-left, 5/16 down, 1/16
    down-right) with limits against sprinkled noise, after libimagequant's:

    * the error carried forward decays: each pixel passes on
      :data:`FS_CARRY` of it, so error that no nearby code can correct
      does not pile up until a far-off code is picked;
    * a pixel takes a code only from around its own colour (within
      :data:`FS_REACH` code spacings, see :func:`floyd_steinberg`);
      otherwise it keeps its nearest code and drops the error it received;
    * a pixel whose own error is small, next to the spacing of the codes
      around it (:data:`FS_QUIET`, :data:`FS_ACTIVE`) and in absolute terms
      (:data:`FS_VISIBLE`), takes little or none of its neighbours' error:
      flat and low-variance areas close to a code stay clean instead of
      being sprinkled with the next code, and a codebook colour never
      changes;
    * no border artefacts: at the left, right and bottom edges the error
      that would fall off is given to the neighbours that exist, and the
      scan starts on a mirrored margin above and left of the image, so the
      first rows and columns are dithered like the rest.

    Rows are scanned left to right: a serpentine scan measured no better on
    the bench corpus (with a row-by-row reference), and it cannot be
    vectorised (see :func:`floyd_steinberg`).
``ordered``
    Bayer 8×8 between each pixel's nearest code ``a`` and one partner ``b``
    among the :data:`ORDERED_NEIGHBOURS` codes nearest to ``a`` (the one
    along which the pixel's error ``c - a`` points, nearest first). The
    pixel's place between them, ``f = <c - a, b - a> / |b - a|²`` (0 at
    ``a``, at most 1/2), is compared with the Bayer threshold, so the
    pattern mixes ``a`` and ``b`` in the proportion of the colour's
    position between them: the threshold's spread is scaled to their
    distance. Where the image is already noisy on the scale of that
    distance (the local standard deviation against :data:`ORDERED_SMOOTH`
    × ``|b - a|``) the noise dithers by itself, and the threshold's spread
    shrinks towards none: ordered dithering there would only add noise.

The nearest code of a perturbed colour (Floyd–Steinberg) comes from a
lookup table over a grid of 64 cells per axis spanning the colours, exact
for the cell centres (a colour is at most half a cell, 2 sRGB units, from
its cell's centre); pixels left alone take their exact nearest code.
Measures and targets: ``benchmarks/dither.py`` and docs/looks.md.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import DITHER_METHODS

__all__ = ["DITHER_METHODS", "BAYER8", "check_dither", "nearest_table", "ordered",
           "floyd_steinberg", "dither_labels", "dither_result"]


def _bayer(n: int) -> np.ndarray:
    """The n×n Bayer index matrix (n a power of 2), values 0 .. n²-1."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return m


#: The 8×8 Bayer index matrix (0..63), the classic ordered-dither pattern.
BAYER8 = _bayer(8)

#: Bits per channel of the nearest-code lookup table (64 levels per channel).
TABLE_BITS = 6

# The limits were chosen on the bench corpus (benchmarks/dither.py): blurred
# error and flat-area noise against pngquant's dithering; see docs/looks.md.

#: Floyd–Steinberg: the share of its error a pixel passes on (the four
#: weights sum to this). Below 1, error that no code can correct decays
#: instead of growing until a far-off code is picked: 0.9 also lowered the
#: blurred error of most corpus images by a quarter against 1.
FS_CARRY = 0.9
#: Floyd–Steinberg: a pixel may take a code ``q`` only if ``|c - q|² <= 2
#: (|c - a|² + (FS_REACH · gap)²)``, ``gap`` being the distance from its
#: nearest code ``a`` to the next code: the codes around its own.
FS_REACH = 0.75
#: Floyd–Steinberg: a pixel takes none of the error it receives where its
#: own error ``|c - a|`` is below FS_QUIET × ``gap``, all of it above
#: FS_ACTIVE × ``gap`` (linear in ``|c - a|²`` between) ...
FS_QUIET = 0.15
FS_ACTIVE = 0.25
#: ... or above FS_VISIBLE sRGB units (Euclidean, scaled to the working
#: space; none at half of it), whatever the spacing: a coarse palette's
#: bands are dithered through.
FS_VISIBLE = 8.0
#: Floyd–Steinberg: rows and columns of the mirrored image scanned before the
#: first ones, to build up the error they receive.
FS_WARMUP = 8

#: Ordered: how many of the nearest code's neighbours are tried as partner.
ORDERED_NEIGHBOURS = 4
#: Ordered: the partner is the nearest neighbour whose gain ``<c - a, b -
#: a>² / |b - a|²`` is at least this share of the best (on a straight ramp
#: all codes ahead have the same gain; the nearest makes the finest pattern).
ORDERED_ALONG = 0.9
#: Ordered: the threshold's spread is scaled by ``1 - s / (ORDERED_SMOOTH ·
#: |b - a|)`` (at least 0), ``s`` the local standard deviation (sRGB units,
#: :func:`_local_std`) and ``|b - a|`` in sRGB units.
ORDERED_SMOOTH = 0.25


def check_dither(method: str) -> str:
    """Return ``method`` if it is a known dither name, else raise ValueError."""
    if method not in DITHER_METHODS:
        raise ValueError(f"dither must be one of {', '.join(DITHER_METHODS)}, got {method!r}")
    return method


def nearest_table(codebook, bits: int = TABLE_BITS, cells=None) -> np.ndarray:
    """Nearest code of the cells of a 2**bits-level RGB grid.

    Cell ``(r >> s) << 2*bits | (g >> s) << bits | (b >> s)`` (``s = 8 -
    bits``) holds the code nearest to the cell's centre (exactly: the
    search runs on doubled integer coordinates, which float32 holds
    exactly).

    Parameters
    ----------
    codebook : ndarray of shape (k, 3), uint8
    bits : int
        Levels per channel, as a power of two.
    cells : ndarray of bool, optional
        Only these cells are filled (the others hold 0): the cells an image
        actually visits, which is often far fewer than all of them.

    Returns
    -------
    ndarray of shape (2**(3*bits),), uint8 (uint16 for more than 256 codes)
    """
    from ..core.search import nearest

    codebook = np.asarray(codebook)
    levels = 1 << bits
    size = 1 << (8 - bits)
    ids = np.arange(levels ** 3) if cells is None else np.flatnonzero(cells)
    # Doubled centre of cell i: 2 * (i * size + (size - 1) / 2).
    doubled = np.empty((ids.size, 3), dtype=np.float32)
    for j, shift in enumerate((2 * bits, bits, 0)):
        doubled[:, j] = ((ids >> shift) & (levels - 1)) * (2 * size) + (size - 1)
    codes = np.empty(ids.size, dtype=np.intp)
    if ids.size:
        codes = nearest(doubled, 2.0 * codebook.astype(np.float64))
    table = np.zeros(levels ** 3, dtype=np.uint8 if codebook.shape[0] <= 256 else np.uint16)
    table[ids] = codes
    return table


# --------------------------------------------------------------------------
# Shared pieces


def _check(pixels, codebook) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be an (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    if codebook.ndim != 2 or codebook.shape[1] != 3 or codebook.shape[0] == 0:
        raise ValueError(f"codebook must have shape (k, 3), got {codebook.shape}")


def _working_codebook(codebook, color_space: str) -> np.ndarray:
    """The codebook in the working space, float64."""
    from ..core import colorspace as cs

    return cs.to_working(codebook.astype(np.float64), color_space)


def _nearest_labels(pixels, codebook, color_space: str) -> np.ndarray:
    """Every pixel's nearest code in the working space (as the pipeline finds them)."""
    from .fit import pixel_labels

    return pixel_labels(pixels, codebook, color_space)[0]


def _start(pixels, codebook, labels, color_space: str):
    """What both methods start from: the checked inputs, every pixel's nearest
    code, the codes' dtype and the codebook in the working space (None when
    there is nothing to dither: fewer than two codes, or no pixel; the labels
    are then the result)."""
    from ..core import colorspace as cs

    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)
    _check(pixels, codebook)
    cs.check_color_space(color_space)
    labels = _labels_for(pixels, codebook, labels, color_space)
    dtype = _code_dtype(codebook.shape[0])
    if codebook.shape[0] < 2 or pixels.size == 0:
        return pixels, codebook, labels.astype(dtype), dtype, None
    return pixels, codebook, labels, dtype, _working_codebook(codebook, color_space)


def _labels_for(pixels, codebook, labels, color_space: str) -> np.ndarray:
    if labels is None:
        return _nearest_labels(pixels, codebook, color_space)
    labels = np.asarray(labels)
    if labels.shape != pixels.shape[:2]:
        raise ValueError(f"labels must have shape {pixels.shape[:2]}, got {labels.shape}")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= codebook.shape[0]):
        raise ValueError("labels must be codes of the codebook")
    return labels


def _code_dtype(k: int):
    return np.uint8 if k <= 256 else np.uint16


def _neighbour_distances(book: np.ndarray) -> np.ndarray:
    """(k, k) Euclidean distances between codes, +inf on the diagonal."""
    d = np.sqrt(np.maximum(((book[:, None, :] - book[None, :, :]) ** 2).sum(axis=2), 0.0))
    np.fill_diagonal(d, np.inf)
    return d


# --------------------------------------------------------------------------
# Ordered


def _quads(plane, dtype) -> np.ndarray:
    """Sums of the 2×2 blocks of a plane with even sides, as ``dtype``."""
    total = np.add(plane[0::2, 0::2], plane[0::2, 1::2], dtype=dtype)
    total += plane[1::2, 0::2]
    total += plane[1::2, 1::2]
    return total


def _local_std(pixels) -> np.ndarray:
    """Local standard deviation, float32 (H, W), over 6×6 windows on a 2×2 grid.

    Each 2×2 block of pixels gets the root mean square of the three
    channels' standard deviations, ``sqrt((var R + var G + var B) / 3)``,
    over the 3×3 blocks around it (36 pixels; an odd last row or column is
    repeated to make its blocks, and the blocks along the edges are
    repeated outwards). Integer sums of 2×2 blocks first, so the window
    costs a quarter of a per-pixel one.
    """
    h, w = pixels.shape[:2]
    if h % 2 or w % 2:
        pixels = np.pad(pixels, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    sums, squares = [], None
    for c in range(3):
        plane = pixels[..., c]
        sums.append(_quads(plane, np.uint16).astype(np.float32))
        quad = _quads(np.multiply(plane, plane, dtype=np.uint16), np.uint32)
        squares = quad if squares is None else squares + quad
    sums.append(squares.astype(np.float32))
    # 3×3 blocks around each block, edge blocks repeated.
    boxed = []
    for plane in sums:
        padded = np.pad(plane, 1, mode="edge")
        hb, wb = plane.shape
        across = padded[:, 0:wb] + padded[:, 1:wb + 1]
        across += padded[:, 2:wb + 2]
        total = across[0:hb] + across[1:hb + 1]
        total += across[2:hb + 2]
        boxed.append(total * np.float32(1.0 / 36.0))
    var = boxed[3] - boxed[0] * boxed[0] - boxed[1] * boxed[1] - boxed[2] * boxed[2]
    var *= np.float32(1.0 / 3.0)
    np.maximum(var, 0.0, out=var)
    std = np.sqrt(var)
    return np.repeat(np.repeat(std, 2, axis=0), 2, axis=1)[:h, :w]


def _partners(colours_w, codes, book_w, book_srgb, neighbours):
    """For each colour: its partner code, its place ``f`` and the codes' sRGB distance.

    Parameters
    ----------
    colours_w : ndarray of shape (n, 3), float
        Colours in the working space.
    codes : ndarray of shape (n,)
        Their nearest codes ``a``.
    book_w, book_srgb : ndarray of shape (k, 3), float
        The codebook in the working space and in sRGB.
    neighbours : ndarray of shape (k, M)
        Each code's M nearest other codes (working space), nearest first.

    Returns
    -------
    partner : ndarray of shape (n,), intp
        ``a`` itself where no neighbour lies along the error.
    f : ndarray of shape (n,), float32
        ``<c - a, b - a> / |b - a|²``, in 0 .. 1/2 (0: stay at ``a``).
    dist : ndarray of shape (n,), float32
        ``|b - a|`` in sRGB units (inf where the partner is ``a``).
    """
    k, m = neighbours.shape
    # Per code and neighbour j: the step to it, 1 / its squared length, its
    # sRGB length. Everything per colour is an (n,) array, one per
    # neighbour or channel: numpy is slow along a short last axis.
    steps = (book_w[neighbours] - book_w[:, None, :]).astype(np.float32)     # (k, M, 3)
    inv_len = 1.0 / np.maximum((steps * steps).sum(axis=2), 1e-30)
    srgb_len = np.sqrt(((book_srgb[neighbours] - book_srgb[:, None, :]) ** 2).sum(axis=2))
    book32 = book_w.astype(np.float32)
    e = [colours_w[:, c].astype(np.float32) - book32[:, c].take(codes) for c in range(3)]
    place, gain = [], []
    for j in range(m):
        proj = steps[:, j, 0].take(codes) * e[0]
        proj += steps[:, j, 1].take(codes) * e[1]
        proj += steps[:, j, 2].take(codes) * e[2]
        np.maximum(proj, 0.0, out=proj)          # behind a: no gain
        p = proj * inv_len[:, j].astype(np.float32).take(codes)
        place.append(p)
        gain.append(proj * p)                     # <e, d>² / |d|²
    top = gain[0].copy()
    for g in gain[1:]:
        np.maximum(top, g, out=top)
    # The nearest neighbour (they come nearest first) whose gain is within
    # ORDERED_ALONG of the best: of codes in much the same direction (all of
    # them, on a straight ramp), the nearest makes the finest pattern.
    bar = top * np.float32(ORDERED_ALONG)
    pick = np.full(codes.size, m - 1, dtype=np.intp)
    for j in range(m - 2, -1, -1):
        pick[gain[j] >= bar] = j
    best = top > 0
    pick[~best] = 0
    f = np.choose(pick, place)
    f[~best] = 0.0
    np.minimum(f, np.float32(0.5), out=f)
    partner = np.choose(pick, [neighbours[:, j].take(codes) for j in range(m)])
    partner[~best] = codes[~best]
    dist = np.choose(pick, [srgb_len[:, j].astype(np.float32).take(codes) for j in range(m)])
    dist[~best] = np.inf
    return partner, f, dist


def ordered(pixels, codebook, *, labels=None, color_space: str = "srgb") -> np.ndarray:
    """Bayer 8×8 ordered dithering onto a codebook, between each pixel's nearest codes.

    Each pixel chooses between its nearest code ``a`` and one partner ``b``
    (see the module's notes): it takes ``b`` where ``f``, its place between
    them, exceeds ``1/2 + g · (T - 1/2)``, with ``T = (BAYER8[y % 8, x % 8] +
    1/2) / 64`` and ``g = max(0, 1 - s / (ORDERED_SMOOTH · |b - a|))`` (``s``
    the local standard deviation). ``f`` is at most 1/2, so where ``g`` is 0
    or the pixel's colour is a code (``f = 0``) the pixel keeps ``a``.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    labels : ndarray of shape (H, W), optional
        The undithered codes (each pixel's nearest code in the working
        space); found here when not given.
    color_space : {'srgb', 'oklab', 'lab'}
        Where nearness and the pixel's place between codes are measured.

    Returns
    -------
    ndarray of shape (H, W), uint8 (uint16 above 256 codes)
        The code of every pixel.

    Examples
    --------
    >>> img = np.full((8, 8, 3), 96, np.uint8)
    >>> labels = ordered(img, np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    >>> int(labels.sum())   # 96 is 38% of the way to white: 24 of 64 pixels
    24
    """
    from ..core import colorspace as cs
    from ..core.histogram import keys_to_colours, pixel_keys

    pixels, codebook, labels, dtype, book_w = _start(pixels, codebook, labels, color_space)
    if book_w is None:
        return labels
    k = codebook.shape[0]
    h, w = pixels.shape[:2]
    m = min(ORDERED_NEIGHBOURS, k - 1)
    neighbours = np.argsort(_neighbour_distances(book_w), axis=1, kind="stable")[:, :m]

    book_srgb = codebook.astype(np.float64)
    # A pixel whose surroundings vary by ORDERED_SMOOTH times the distance to
    # its code's farthest candidate partner or more never dithers: only the
    # others ("candidates") are looked at.
    spread = _local_std(pixels).reshape(-1)
    far = np.sqrt(((book_srgb[neighbours] - book_srgb[:, None, :]) ** 2).sum(axis=2)).max(axis=1)
    limit = (ORDERED_SMOOTH * far).astype(np.float32)
    flat_labels = labels.reshape(-1)
    keys = pixel_keys(pixels)
    rows = max(8, (1 << 20) // max(w, 1))
    blocks = [slice(r0 * w, min(h, r0 + rows) * w) for r0 in range(0, h, rows)]

    # Partner, place and distance once per distinct candidate colour: a dense
    # table over the 2**24 colours holds its code (-1: absent; pages are
    # only mapped where written), then its row.
    row_of = np.full(1 << 24, -1, dtype=np.int32)
    for sl in blocks:
        candidate = spread[sl] < limit.take(flat_labels[sl])
        row_of[keys[sl][candidate]] = flat_labels[sl][candidate]
    distinct = np.flatnonzero(row_of >= 0)
    if distinct.size == 0:
        return labels.astype(dtype)
    codes = row_of[distinct].astype(np.intp)
    row_of[distinct] = np.arange(distinct.size, dtype=np.int32)
    colours_w = cs.to_working(keys_to_colours(distinct).astype(np.float64), color_space)
    partner, f, dist = _partners(colours_w, codes, book_w, book_srgb, neighbours)
    del colours_w, codes
    # b where f > 1/2 + g (T - 1/2), g = max(0, 1 - s / (ORDERED_SMOOTH |b - a|)).
    # With u = 1/2 - T (> 0 where b can win) that is (1/2 - f) / u + s /
    # (ORDERED_SMOOTH |b - a|) < 1; the max needs no test (1/2 - f >= 0),
    # and a pixel that is not a candidate fails it (s >= ORDERED_SMOOTH
    # |b - a|). A last row (-1 in the table) stands for colours that are
    # nowhere candidates.
    partner = np.append(partner, 0).astype(dtype)
    margin = np.append(np.maximum(np.float32(0.5) - f, np.float32(1e-6)), np.float32(1.0))
    inv_dist = np.append(1.0 / (ORDERED_SMOOTH * dist), 0.0).astype(np.float32)
    del f, dist
    below = np.float32(0.5) - ((BAYER8 + 0.5) / 64.0).astype(np.float32)
    inv_below = np.where(below > 0, 1.0 / np.maximum(below, 1e-9), 3e38).astype(np.float32)
    tile_w = np.tile(inv_below, (1, (w + 7) // 8))[:, :w]
    out = np.empty(h * w, dtype=dtype)
    for sl in blocks:
        r0, r1 = sl.start // w, sl.stop // w
        u = row_of.take(keys[sl])
        score = spread[sl] * inv_dist.take(u)
        score += margin.take(u) * np.tile(tile_w, ((r1 - r0 + 7) // 8, 1))[:r1 - r0].reshape(-1)
        out[sl] = np.where(score < 1.0, partner.take(u), flat_labels[sl])
    return out.reshape(h, w)


# --------------------------------------------------------------------------
# Floyd–Steinberg


def _mirror(i: int, n: int) -> int:
    """The row (or column) of an n-row image that the i-th row of a mirrored
    margin copies, counting outwards from the edge: 0, 1, .., n-1, n-1, .., 0, 0, .."""
    j = i % (2 * n)
    return j if j < n else 2 * n - 1 - j


def _grid(book_w, lo, cell: float, dims):
    """The nearest code of the centre of each cell of a grid of cubes.

    Cell ``(i, j, l)`` spans ``lo + (i, j, l) * cell`` to one ``cell`` more;
    the table is indexed by ``(i * dims[1] + j) * dims[2] + l``.

    Returns (table, index weights as float32 (3,)).
    """
    from ..core.search import nearest

    axes = [lo[j] + (np.arange(dims[j]) + 0.5) * cell for j in range(3)]
    centres = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    table = nearest(centres.astype(np.float32), book_w.astype(np.float64))
    weights = np.array([dims[1] * dims[2], dims[2], 1], dtype=np.float32)
    return table.astype(_code_dtype(book_w.shape[0])), weights


def floyd_steinberg(pixels, codebook, *, labels=None, color_space: str = "srgb",
                    carry: float = FS_CARRY, reach: float = FS_REACH,
                    quiet: float = FS_QUIET, active: float = FS_ACTIVE,
                    visible: float = FS_VISIBLE) -> np.ndarray:
    """Floyd–Steinberg error diffusion onto a codebook, limited where it does not help.

    Rows are scanned left to right, in the working colour space. A pixel
    ``c`` with nearest code ``a`` (``gap``: the distance from ``a`` to the
    next code) receives error ``E`` from the pixels before it and:

    1. weighs it by its strength ``s``: 0 where ``|c - a|`` is below both
       ``quiet · gap`` and ``visible / 2``, 1 from ``active · gap`` or
       ``visible`` on (linear in ``|c - a|²`` between);
    2. takes the code ``q`` nearest to ``c + s E`` (clipped to the colours'
       box; by table, see the module's notes), if ``s > 0`` and ``|c - q|²
       <= 2 (|c - a|² + (reach · gap)²)``; otherwise ``a``, dropping
       ``E``;
    3. passes on ``carry`` times its error (``c + s E - q``), 7/16 right,
       3/16 down-left, 5/16 down, 1/16 down-right; a pixel on the left edge
       gives its down-left share down, one on the right edge 6/16
       down-left and 10/16 down, one on the bottom row everything right.

    The scan runs on the image with :data:`FS_WARMUP` rows and columns of
    its mirror image added above and to the left (then dropped), so that the
    error the first rows and columns receive is built up as elsewhere.

    A codebook colour has ``|c - a| = 0``: it takes nothing and keeps its
    code. Pixels are processed by anti-diagonal wavefronts (``x + 2y``
    constant), which visits every pixel after all the pixels it receives
    error from, so each wavefront is one vectorised step and the result is
    that of the row-by-row scan (the same float32 arithmetic). A serpentine
    scan would make each row wait for the whole row above, so there is no
    wavefront to vectorise; it measured no better on the bench corpus.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
    labels : ndarray of shape (H, W), optional
        The undithered codes (nearest in the working space); found here
        when not given.
    color_space : {'srgb', 'oklab', 'lab'}
        Where the error is measured and diffused.
    carry, reach, quiet, active, visible : float
        The limits above (defaults :data:`FS_CARRY`, :data:`FS_REACH`,
        :data:`FS_QUIET`, :data:`FS_ACTIVE`, :data:`FS_VISIBLE`; ``visible``
        in sRGB units). ``carry=1, reach=inf, quiet=active=visible=0`` is
        the textbook algorithm (with the edge rule), except that codebook
        colours still never change.

    Returns
    -------
    ndarray of shape (H, W), uint8 (uint16 above 256 codes)
        The code of every pixel.
    """
    from ..core import colorspace as cs

    pixels, codebook, labels, dtype, book_w = _start(pixels, codebook, labels, color_space)
    if book_w is None:
        return labels
    k = codebook.shape[0]
    h, w = pixels.shape[:2]
    # Each pixel's colour and nearest code in one word: 4 bytes (sRGB, at
    # most 256 codes) or 4 float32 (16 bytes), so that a wavefront is one
    # strided gather. The scan starts FS_WARMUP rows above and columns left
    # of the image, on its mirror image, so that the first rows and columns
    # receive error as the rest do (a scan from the edge takes a few rows to
    # build it up, and would leave a band along the top undithered).
    warm = FS_WARMUP
    levels = 1 << TABLE_BITS
    float_words = color_space != "srgb" or k > 256
    packed = np.empty((h + warm, w + warm, 4), dtype=np.float32 if float_words else np.uint8)
    inner = packed[warm:, warm:]
    inner[..., 3] = labels
    if not float_words:
        inner[..., :3] = pixels
        lo, hi, cell = np.zeros(3), np.full(3, 255.0), 256.0 / levels
    else:
        for r0 in range(0, h, 256):
            inner[r0:r0 + 256, :, :3] = cs.to_working(pixels[r0:r0 + 256], color_space)
        colours = inner[..., :3]
        if color_space != "srgb":
            # A codebook colour gets exactly its code's coordinates.
            exact = (codebook[labels] == pixels).all(axis=2)
            colours[exact] = book_w[labels[exact]]
        lo = np.minimum(colours.reshape(-1, 3).min(axis=0), book_w.min(axis=0)).astype(np.float64)
        hi = np.maximum(colours.reshape(-1, 3).max(axis=0), book_w.max(axis=0)).astype(np.float64)
        # Measured from the box's corner, so that a cell is floor(colour / cell);
        # cubic cells, the longest side in `levels` of them.
        colours -= lo.astype(np.float32)
        book_w = book_w - lo
        hi, lo = hi - lo, np.zeros(3)
        cell = max(float(np.max(hi)), 1e-6) / (levels - 1e-3)
    # The margins mirror the image (numpy.pad's "symmetric"): rows first, then
    # columns.
    for i in range(warm):
        packed[warm - 1 - i, warm:] = packed[warm + _mirror(i, h), warm:]
    for i in range(warm):
        packed[:, warm - 1 - i] = packed[:, warm + _mirror(i, w)]
    h, w = h + warm, w + warm
    words = packed.view(np.uint32 if packed.dtype == np.uint8 else np.complex128).reshape(-1)
    dims = np.clip(np.floor(hi / cell).astype(np.int64) + 1, 1, levels)
    table, weights = _grid(book_w, lo, cell, dims)
    weights = np.append(weights, np.float32(0.0))
    inv_cell = np.float32(1.0 / cell)
    # c + s E is kept inside the box of the colours (sRGB: 0..255); the
    # fourth column (the code in a pixel's word, 0 elsewhere) is ignored.
    top = np.float32(hi[0]) if np.all(hi == hi[0]) else np.append(hi, 0.0).astype(np.float32)

    gaps = _neighbour_distances(book_w).min(axis=1)
    # Strength: clip(max((|c - a|² / gap² - quiet²) / (active² - quiet²),
    # (|c - a|² / visible² - 1/4) / (3/4)), 0, 1) ...
    span = max(active * active - quiet * quiet, 1e-12)
    inv_gap2 = (1.0 / (gaps * gaps * span)).astype(np.float32)
    bias = np.float32(quiet * quiet / span)
    vis2 = max((visible * float(cs.eps_scale(color_space))) ** 2, 1e-30)
    inv_vis = np.float32(1.0 / (0.75 * vis2))
    vis_bias = np.float32(0.25 / 0.75)
    # ... and the farthest a code may be: 2 (|c - a|² + (reach gap)²).
    reach2 = (2.0 * np.minimum(reach * reach * gaps * gaps, 1e30)).astype(np.float32)
    # Four columns throughout (rows of 16 bytes; the fourth is 0 in the
    # codebook, the error and the target).
    book = np.zeros((k, 4), dtype=np.float32)
    book[:, :3] = book_w
    ones = np.array([1, 1, 1, 0], dtype=np.float32)
    view = np.uint8 if words.dtype == np.uint32 else np.float32
    out = np.empty(h * w, dtype=dtype)
    # Error received by the next four wavefronts, indexed by row (one spare
    # row for the row below the last).
    ring = np.zeros((4, h + 1, 4), dtype=np.float32)
    c7, c3, c5, c1, c6, c8, c10, c16 = (np.float32(carry * n / 16.0)
                                         for n in (7, 3, 5, 1, 6, 8, 10, 16))
    step = max(w - 2, 1)
    zero, one, two = np.float32(0.0), np.float32(1.0), np.float32(2.0)
    for t in range(w + 2 * (h - 1)):
        ylo = max(0, (t - w) // 2 + 1)
        yhi = min(h - 1, t // 2)
        start = t + ylo * (w - 2)
        pixel = words[start:start + (yhi - ylo) * step + 1:step].copy().view(view).reshape(-1, 4)
        c = pixel.astype(np.float32)
        a = c[:, 3].astype(np.intp)
        c[:, 3] = 0.0
        e0 = c - book.take(a, axis=0)
        own2 = (e0 * e0) @ ones
        s = own2 * inv_gap2.take(a)
        s -= bias
        np.maximum(s, own2 * inv_vis - vis_bias, out=s)
        np.minimum(s, one, out=s)
        np.maximum(s, zero, out=s)
        target = ring[t & 3, ylo:yhi + 1] * s[:, None]
        target += c
        np.minimum(target, top, out=target)
        np.maximum(target, zero, out=target)
        code = table.take((np.floor(target * inv_cell) @ weights).astype(np.intp))
        dq = c - book.take(code, axis=0)
        keep = (dq * dq) @ ones <= own2 * two + reach2.take(a)
        if not keep.all():
            # A code too far (a few pixels): the nearest code instead, and
            # the received error is dropped.
            far = np.flatnonzero(~keep)
            target[far] = c[far]
        # Quiet pixels (their target is their colour) take their nearest
        # code exactly, not the grid's approximation of it.
        keep &= s > zero
        code = np.where(keep, code, a)
        out[start:start + (yhi - ylo) * step + 1:step] = code
        err = target - book.take(code, axis=0)
        ring[t & 3] = 0.0
        # The shares: 7/16 right, 3/16 down-left, 5/16 down, 1/16 down-right,
        # except at the edges, where what would fall off goes to the
        # neighbours that exist. Shares that land outside the image go to
        # padding (the spare row, or cells that no wavefront reads before
        # their slot is cleared).
        right, down_left, down = err * c7, err * c3, err * c5
        if yhi == h - 1 and t - 2 * yhi < w - 1:
            right[-1] = err[-1] * c16          # bottom row: everything right
        elif t == 2 * yhi:
            down[-1] = err[-1] * c8            # left edge (x = 0): down gets 8/16
        if t - 2 * ylo == w - 1:               # right edge: 6/16 down-left, 10/16 down
            down_left[0] = err[0] * c6
            down[0] = err[0] * (c10 if w > 1 else c16)
        nxt = (t + 1) & 3
        ring[nxt, ylo + 1:yhi + 2] += down_left
        ring[nxt, ylo:yhi + 1] += right
        ring[(t + 2) & 3, ylo + 1:yhi + 2] += down
        ring[(t + 3) & 3, ylo + 1:yhi + 2] += err * c1
    return out.reshape(h, w)[warm:, warm:].copy()


# --------------------------------------------------------------------------
# Images and results


def dither_labels(pixels, codebook, method: str, *, labels=None, mask=None,
                  floyd=None, color_space: str = "srgb") -> np.ndarray:
    """Dithered codes for an image, optionally only where ``mask`` is True.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3), uint8
    codebook : ndarray of shape (k, 3), uint8
        The colours to dither with (for an RGBA result, its RGB columns).
    method : {'none', 'floyd-steinberg', 'ordered'}
    labels : ndarray of shape (H, W), optional
        The undithered codes (each pixel's nearest code in the working
        space): returned where ``mask`` is False, as they are for
        ``'none'``, and where dithering leaves a pixel alone. Found when not
        given (required with ``mask`` and for ``'none'``).
    mask : ndarray of shape (H, W), bool, optional
        Pixels to dither (e.g. the opaque ones). Only codes that some masked
        pixel already uses are candidates, so a dithered opaque pixel never
        takes a translucent code. Requires ``labels``.
    floyd : callable(pixels, codebook) -> labels, optional
        Another Floyd–Steinberg implementation to use instead of
        :func:`floyd_steinberg` (e.g. Pillow's,
        :func:`quantize.io.encode.floyd_steinberg_pillow`; it has none of the
        limits and works in sRGB).
    color_space : {'srgb', 'oklab', 'lab'}
        The working space of the codes.

    Returns
    -------
    ndarray of shape (H, W)
    """
    check_dither(method)
    if method == "none":
        if labels is None:
            raise ValueError("dither 'none' needs the undithered labels")
        return labels
    pixels = np.asarray(pixels)
    codebook = np.asarray(codebook, dtype=np.uint8)

    def run(px, book, lab):
        if method == "ordered":
            return ordered(px, book, labels=lab, color_space=color_space)
        if floyd is not None:
            return floyd(px, book)
        return floyd_steinberg(px, book, labels=lab, color_space=color_space)

    if mask is None:
        got = run(pixels, codebook, labels)
        return got.astype(labels.dtype if labels is not None else np.intp, copy=False)
    if labels is None:
        raise ValueError("a mask needs the undithered labels")
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return labels
    allowed = np.flatnonzero(np.bincount(labels[mask].ravel(), minlength=codebook.shape[0]))
    sub = codebook[allowed]
    remap = np.zeros(codebook.shape[0], dtype=np.intp)
    remap[allowed] = np.arange(allowed.size)
    sub_labels = remap[labels]
    if not mask.all():
        # Pixels outside the mask take an exact candidate colour, so that they
        # add no error of their own to diffuse into their neighbours.
        pixels = pixels.copy()
        pixels[~mask] = sub[0]
        sub_labels[~mask] = 0
    got = run(pixels, sub, sub_labels.astype(_code_dtype(sub.shape[0])))
    out = labels.copy()
    out[mask] = allowed[got[mask]].astype(out.dtype)
    return out


def dither_result(result, pixels, method: str, *, floyd=None, sort="frequency",
                  color_space=None):
    """A quantization result with dithered codes (``method`` 'none': unchanged).

    Opaque pixels are dithered among the opaque codes; transparent and
    translucent pixels of an RGBA result keep their codes, so transparency
    is never dithered away. Counts and inertia are measured again against
    ``pixels``.

    Parameters
    ----------
    result : QuantizeResult
        From :func:`quantize.image.pipeline.quantize_image` or ``apply_codebook``.
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        The image the result was made from.
    method : {'none', 'floyd-steinberg', 'ordered'}
    floyd : callable(pixels, codebook) -> labels, optional
        Another Floyd–Steinberg implementation (default
        :func:`floyd_steinberg`).
    sort : {'frequency', 'luminance', 'none'} or None
        Palette order after dithering, for a fitted codebook (codes left
        unused are dropped); None keeps the codebook as it is (a given
        codebook, as in ``apply``).
    color_space : {'srgb', 'oklab', 'lab'}, optional
        The working space; default: the one the result was made in
        (``result.options['color_space']``, else sRGB).

    Returns
    -------
    QuantizeResult
    """
    from .pipeline import relabel

    check_dither(method)
    if method == "none":
        return result
    if color_space is None:
        color_space = result.options.get("color_space", "srgb")
    pixels = np.asarray(pixels)
    codebook = result.codebook
    mask = codebook[result.labels, 3] == 255 if codebook.shape[1] == 4 else None
    labels = dither_labels(np.ascontiguousarray(pixels[..., :3]), codebook[:, :3], method,
                           labels=result.labels, mask=mask, floyd=floyd,
                           color_space=color_space)
    return relabel(result, pixels[..., :codebook.shape[1]], labels, sort=sort)

"""The nearest-centre searches of the k-means core (numpy only).

Every search is one matrix product per block of rows: ``[x, 1, |x|²]``
times ``[-2c; |c|²; 1]`` gives every ``|x - c|²``; memory is bounded by the
block, never rows × centres. See docs/design.md, "The fit".
"""

from __future__ import annotations

import functools
import os

import numpy as np

__all__ = ["assign", "nearest"]

#: Distance-matrix entries computed at once; bounds memory at
#: ``8 * _CHUNK_ELEMS`` bytes whatever M and k are. 2**16 keeps a float32
#: block (256 KiB) in cache between the product and the argmin: measured
#: 1.5-1.7x faster than 2**18 for 97,000 rows and 256 centres.
_CHUNK_ELEMS = 1 << 16


#: Up to this many centres the search packs each distance and its centre's
#: index into one int32 and takes a plain minimum: numpy's argmin along short
#: rows is several times slower than a min-reduction down columns.
_PACKED_MAX_K = 64
#: Distance-matrix entries per block of the packed search (256 KiB of
#: float32: the block stays in cache between the passes over it).
_PACKED_BLOCK = 1 << 16


def _augment(data, dtype):
    """Rows ``[x, 1, |x|²]``: times ``[-2c; |c|²; 1]`` they give ``|x - c|²``.

    One matrix product then gives every squared distance, with no further
    passes over the (chunk, k) block before the minimum.
    """
    m, n = data.shape
    out = np.empty((m, n + 2), dtype=dtype)
    out[:, :n] = data
    out[:, n] = 1.0
    out[:, n + 1] = np.einsum("ij,ij->i", out[:, :n], out[:, :n])
    return out


#: Searches with at least this many row-centre pairs are split across
#: threads (numpy releases the GIL in matmul and the reductions).
_PARALLEL_MIN_PAIRS = 1 << 21
_pool = None


def _forget_pool() -> None:
    # A forked child inherits the pool object but not its threads: using it
    # would hang, so the child starts its own when it needs one.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _n_threads() -> int:
    """Threads for the nearest-centre search: $QUANTIZE_THREADS, else the CPUs (at most 8)."""
    env = os.environ.get("QUANTIZE_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(os.cpu_count() or 1, 8))


def _nearest(data_aug, centers, labels, buf, sq_dist=None):
    """Index of the nearest centre of every row, in chunks, into ``labels``.

    ``data_aug`` comes from :func:`_augment`; ``buf`` is preallocated scratch
    whose dtype is the precision of the search. Memory never grows as M × k.
    Ties go to the lowest centre index. Large searches are split into
    contiguous row ranges, one per thread; each row's answer is computed the
    same way whatever the split, so results do not depend on the threads.
    ``sq_dist``, if given (shape (M,), the dtype of ``buf``), receives each
    row's squared distance to its centre as the search computed it.
    """
    global _pool
    m = data_aug.shape[0]
    k = centers.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    centers_aug = np.empty((data_aug.shape[1], k), dtype=buf.dtype)
    centers_aug[:-2] = -2.0 * centers.T
    centers_aug[-2] = np.einsum("ij,ij->i", centers, centers)
    centers_aug[-1] = 1.0
    threads = _n_threads() if m * k >= _PARALLEL_MIN_PAIRS else 1
    if threads == 1:
        _nearest_rows(data_aug, centers_aug, labels, buf, sq_dist)
        return
    if _pool is None or _pool._max_workers < threads:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quantize")
    edges = np.linspace(0, m, threads + 1).astype(np.intp)
    jobs = [
        _pool.submit(_nearest_rows, data_aug[lo:hi], centers_aug, labels[lo:hi],
                     buf if i == 0 else np.empty_like(buf),
                     None if sq_dist is None else sq_dist[lo:hi])
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    for job in jobs:
        job.result()


def _nearest_rows(data_aug, centers_aug, labels, buf, sq_dist=None):
    """The search of :func:`_nearest` over one block of rows."""
    m = data_aug.shape[0]
    k = centers_aug.shape[1]
    if k <= _PACKED_MAX_K and buf.dtype == np.float32:
        _nearest_packed(data_aug, np.ascontiguousarray(centers_aug.T), labels, buf, sq_dist)
        return
    chunk = buf.shape[0]
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        d = buf[: stop - start]
        np.matmul(data_aug[start:stop], centers_aug, out=d)
        lab = labels[start:stop]
        np.argmin(d, axis=1, out=lab)
        if sq_dist is not None:
            sq_dist[start:stop] = np.take_along_axis(d, lab[:, None], axis=1)[:, 0]


@functools.lru_cache(maxsize=8)
def _index_block(k, width):
    """A read-only (k, width) int32 block whose row j holds j."""
    block = np.repeat(np.arange(k, dtype=np.int32)[:, None], width, axis=1)
    block.flags.writeable = False
    return block


def _nearest_packed(data_aug, centers_aug_t, labels, buf, sq_dist=None):
    """Nearest centre by packing (distance, index) into int32 keys.

    The float32 squared distances are laid out centre-major; as int32 their
    bit patterns order like the values when these are non-negative, so
    clearing the low ``bits`` and writing the centre index there makes one
    min-reduction give the nearest centre, ties to the lowest index. An
    integer distance below ``2**(24 - bits)`` has those bits clear already,
    so integer data (uint8 colours) is ranked exactly; rows whose nearest
    distance is larger are searched again by argmin. Other values lose up to
    ``2**(bits - 23)`` of their size (2**-17 at 64 centres), so two centres
    that close may be taken for each other. Float data can round to small
    negative distances (a row almost on a centre): those still rank below
    every positive one, in reverse order among themselves.
    """
    m = data_aug.shape[0]
    k = centers_aug_t.shape[0]
    bits = max(1, (k - 1).bit_length())
    low = (1 << bits) - 1
    exact_below = 1 << (24 - bits)  # as a float32 bit pattern, after >> bits
    limit = np.float32(exact_below).view(np.int32) >> bits
    chunk = max(1, min(buf.size, _PACKED_BLOCK) // k)
    index = _index_block(k, min(chunk, m))
    flat = buf.reshape(-1)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        n = stop - start
        d = flat[: k * n].reshape(k, n)
        np.matmul(centers_aug_t, data_aug[start:stop].T, out=d)
        keys = d.view(np.int32)
        np.bitwise_and(keys, ~low, out=keys)
        np.bitwise_or(keys, index[:, :n], out=keys)
        best = keys.min(axis=0)
        lab = labels[start:stop]
        np.bitwise_and(best, low, out=lab, casting="unsafe")
        far = np.flatnonzero((best >> bits) >= limit)
        if far.size:
            # Distances too large to pack without loss: rank these rows by
            # argmin on freshly computed values.
            rows = data_aug[start:stop][far] @ centers_aug_t.T
            lab[far] = np.argmin(rows, axis=1)
        if sq_dist is not None:
            # The key without its index bits is the distance (exact for
            # integers below the packing limit).
            np.left_shift(best >> bits, bits, out=best)
            dist = sq_dist[start:stop]
            dist[:] = best.view(np.float32)
            if far.size:
                dist[far] = np.take_along_axis(rows, lab[far][:, None], axis=1)[:, 0]


def _sq_dist_rows(data, centers, labels):
    """Squared distance of every row to its own centre (float64, exact-ish)."""
    diff = data - centers[labels]
    return np.einsum("ij,ij->i", diff, diff)


def _new_buffer(m, k, dtype):
    return np.empty((max(1, min(m, _CHUNK_ELEMS // max(k, 1))), k), dtype=dtype)


def _assign(data, centers, x_sq, labels, min_sq, buf):
    """Nearest centre and squared distance of every row (labels, min_sq out).

    Kept for callers that want both; ``x_sq`` is unused (the distance is
    measured directly).
    """
    _nearest(_augment(data, buf.dtype), centers, labels, buf)
    min_sq[:] = _sq_dist_rows(np.asarray(data, dtype=np.float64), np.asarray(centers, dtype=np.float64), labels)


def nearest(data, centers, *, dtype=np.float32, with_sq=False):
    """Index of the nearest centre of every row, ties to the lowest index.

    Parameters
    ----------
    data : array_like of shape (M, N)
    centers : array_like of shape (k, N)
    dtype : {numpy.float32, numpy.float64}
        Precision of the search. float32 ranks integer data below 2**24
        (such as 8-bit colours) exactly.
    with_sq : bool
        Also return each row's squared distance as the search computed it.

    Returns
    -------
    labels : ndarray of shape (M,), intp
    sq_dist : ndarray of shape (M,), ``dtype``
        Only with ``with_sq``.
    """
    data = np.asarray(data)
    centers = np.asarray(centers, dtype=np.float64)
    m = data.shape[0]
    labels = np.empty(m, dtype=np.intp)
    sq_dist = np.empty(m, dtype=dtype) if with_sq else None
    _nearest(_augment(data, dtype), centers, labels, _new_buffer(m, centers.shape[0], dtype),
             sq_dist)
    return (labels, sq_dist) if with_sq else labels


def _check_data_centers(data, centers):
    """Both as contiguous float64, checked to be (M, N) and (k >= 1, N)."""
    data = np.ascontiguousarray(data, dtype=np.float64)
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    if data.ndim != 2 or centers.ndim != 2 or data.shape[1] != centers.shape[1]:
        raise ValueError(
            f"data (M, N) and centers (k, N) must agree in N, got {data.shape} and {centers.shape}"
        )
    if centers.shape[0] == 0:
        raise ValueError("centers must have at least one row, got 0")
    return data, centers


def assign(data, centers):
    """Nearest centre of every row and its squared distance.

    Parameters
    ----------
    data : array_like of shape (M, N)
        Observations.
    centers : array_like of shape (k, N)
        Centres to measure against.

    Returns
    -------
    labels : ndarray of shape (M,), intp
        Index of the nearest centre; ties go to the lowest index.
    sq_dist : ndarray of shape (M,), float64
        Squared Euclidean distance to that centre.

    Examples
    --------
    >>> assign([[0.0], [9.0]], [[1.0], [10.0]])[0]
    array([0, 1])
    """
    data, centers = _check_data_centers(data, centers)
    labels = np.empty(data.shape[0], dtype=np.intp)
    _nearest(_augment(data, np.float64), centers, labels,
             _new_buffer(data.shape[0], centers.shape[0], np.float64))
    return labels, _sq_dist_rows(data, centers, labels)


#: Entries per block of the few-nearest search: (k, rows) float32 blocks of
#: 256 KiB stay in cache between the product and the reductions.
_FEW_BLOCK = 1 << 16
#: Centres each row remembers from its last full search (its nearest few):
#: a row whose bounds fail is first settled among them, and searched in
#: full only when a centre outside them might be nearer.
_CANDIDATES = 4


def _few_nearest_rows(data_aug_t, centers_aug_t, candidates, first_sq, second_sq, rest_sq, buf):
    """:func:`_few_nearest` over one block of rows."""
    m = data_aug_t.shape[1]
    k = centers_aug_t.shape[0]
    t = candidates.shape[0]
    bits = max(1, (k - 1).bit_length())
    low = np.int32((1 << bits) - 1)
    chunk = max(1, min(buf.size, _FEW_BLOCK) // k)
    index = _index_block(k, min(chunk, m))
    flat = buf.reshape(-1)
    top = np.iinfo(np.int32).max
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        n = stop - start
        d = flat[: k * n].reshape(k, n)
        np.matmul(centers_aug_t, data_aug_t[:, start:stop], out=d)
        # Rounding can give tiny negative distances: as int32 they still
        # rank below every positive one (in reverse among themselves).
        keys = d.view(np.int32)
        np.bitwise_and(keys, ~low, out=keys)
        np.bitwise_or(keys, index[:, :n], out=keys)
        columns = np.arange(n)
        for j in range(min(t + 1, k)):
            best = keys.min(axis=0)
            value = (best & ~low).view(np.float32)
            if j == 0:
                first_sq[start:stop] = value
            elif j == 1:
                second_sq[start:stop] = value
            if j == t:
                rest_sq[start:stop] = value
                break
            label = best & low
            candidates[j, start:stop] = label
            keys[label, columns] = top
        # Fewer centres than candidates: the missing ones repeat the nearest.
        for j in range(k, t):
            candidates[j, start:stop] = candidates[0, start:stop]
    if k < 2:
        second_sq[:] = np.inf
    if k <= t:
        rest_sq[:] = np.inf


def _few_nearest(data_aug_t, centers, t=_CANDIDATES):
    """The ``t`` nearest centres of every row, by a float32 search.

    ``data_aug_t`` holds the float32 rows ``[x, 1, |x|²]`` as columns,
    (N + 2, M) and C-contiguous, so that each block's product is one BLAS
    call. Each distance is packed with its centre's index into an int32
    (see :func:`_nearest_packed`), which rounds it down by up to
    2**(b - 23) of its size for ``b`` index bits.

    Returns
    -------
    candidates : ndarray of shape (t, M), int16 (int32 beyond 32767 centres)
        The nearest centres of each row (a column), nearest first.
    first_sq, second_sq, rest_sq : ndarray of shape (M,), float32
        Squared distances to the nearest, the second and the (t + 1)-th
        nearest centre, rounded down (inf when there are not that many
        centres).

    Large searches are split across threads by rows; a row's answer does
    not depend on the split.
    """
    global _pool
    m = data_aug_t.shape[1]
    k = centers.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    centers_aug_t = np.empty((k, data_aug_t.shape[0]), dtype=np.float32)
    centers_aug_t[:, :-2] = -2.0 * centers
    centers_aug_t[:, -2] = np.einsum("ij,ij->i", centers, centers)
    centers_aug_t[:, -1] = 1.0
    candidates = np.empty((t, m), dtype=np.int16 if k <= np.iinfo(np.int16).max else np.int32)
    first_sq, second_sq, rest_sq = (np.empty(m, dtype=np.float32) for _ in range(3))
    threads = _n_threads() if m * k >= _PARALLEL_MIN_PAIRS else 1
    edges = np.linspace(0, m, threads + 1).astype(np.intp)
    parts = [(data_aug_t[:, lo:hi], centers_aug_t, candidates[:, lo:hi], first_sq[lo:hi],
              second_sq[lo:hi], rest_sq[lo:hi], np.empty(_FEW_BLOCK, dtype=np.float32))
             for lo, hi in zip(edges[:-1], edges[1:])]
    if threads == 1:
        _few_nearest_rows(*parts[0])
    else:
        if _pool is None or _pool._max_workers < threads:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quantize")
        for job in [_pool.submit(_few_nearest_rows, *part) for part in parts]:
            job.result()
    return candidates, first_sq, second_sq, rest_sq


def _pairwise_sq(centers):
    """Squared distances between every pair of centres, (k, k)."""
    sq = np.einsum("ij,ij->i", centers, centers)
    return sq[:, None] + sq[None, :] - 2.0 * centers @ centers.T

"""One codebook for the pixels of many images (``quantize palette``), locally or on Dask.

Each image adds its colour histogram (distinct colours and pixel counts);
the sum is exact and does not depend on the order, so the codebook is
k-means on all the images' pixels together, the same wherever the
histograms were built. An image that cannot be read is reported and left
out; the others still make the codebook.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ..errors import BadImageError, QuantizeError
from .job import ImageJob

__all__ = ["SharedFit", "histogram_record", "fit_records", "fit_shared_codebook",
           "fit_histograms", "image_histogram", "error_from_record", "write_shared_codebook"]


def image_histogram(path, *, max_pixels: int = 1 << 28, frame=None, background=None,
                    max_scans: int = 500):
    """The colour histogram one image adds to a shared palette.

    The image as :func:`quantize.io.decode.load_rgba` reads it, flattened
    onto ``background`` if given; fully transparent pixels are left out
    (a codebook holds no alpha).
    """
    from ..core.histogram import colour_histogram, pixel_keys
    from ..image.transparency import prepare, visible_rgb
    from ..io.decode import load_rgba

    pixels = prepare(load_rgba(path, max_pixels=max_pixels, frame=frame, max_scans=max_scans),
                     background)
    return colour_histogram(pixel_keys(visible_rgb(pixels)))


def histogram_record(path, job: ImageJob, shown=None) -> dict:
    """One image's histogram as plain values: the same record locally and on a Dask worker.

    Returns ``{'keys', 'counts', 'warnings'}``, or ``{'error': (class name,
    path, message, exit code)}`` for an image that cannot be read. ``shown``
    is the path to name in messages (default ``path``).
    """
    shown = path if shown is None else shown
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hist = image_histogram(path, max_pixels=job.max_pixels, frame=job.frame,
                                   background=job.background, max_scans=job.max_scans)
    except QuantizeError as exc:
        where = shown if exc.path == path else exc.path
        return {"error": (type(exc).__name__, where, exc.message, exc.exit_code)}
    return {"keys": hist.keys, "counts": hist.counts,
            "warnings": tuple(f"{shown!r}: {w.message}" for w in caught)}


def error_from_record(info) -> QuantizeError:
    """The error of a record's ``'error'`` entry, of its own class and exit code."""
    from .. import errors

    name, path, message, code = info
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, QuantizeError)):
        cls = QuantizeError
    exc = cls(path, message)
    exc.exit_code = code
    return exc


@dataclass(frozen=True)
class SharedFit:
    """A codebook fitted to several images.

    Attributes
    ----------
    fit : HistogramFit or None
        None when no image could be read; else the codebook (in the job's
        sort order), its counts over all images,
        inertia, iterations.
    n_images : int
        The images that were read.
    failures : tuple of QuantizeError
        The images that could not be read, in input order.
    warnings : tuple of str
        Their warnings, each naming its file.
    """

    fit: object
    n_images: int
    failures: tuple
    warnings: tuple


def fit_records(records, job: ImageJob) -> SharedFit:
    """Fit one codebook to histogram records as they come, in any order.

    ``records`` yields ``(index, record)`` pairs (see :func:`histogram_record`).

    With no image read, the result's ``fit`` is None.
    """
    from ..core.histogram import ColourHistogram, keys_to_colours

    failures, notes = [], []

    def histograms():
        for index, record in records:
            if "error" in record:
                failures.append((index, error_from_record(record["error"])))
                continue
            notes.extend((index, note) for note in record["warnings"])
            keys = record["keys"]
            yield ColourHistogram(keys, keys_to_colours(keys), record["counts"])

    fit, n = fit_histograms(histograms(), job)
    failures.sort(key=lambda pair: pair[0])
    notes.sort(key=lambda pair: pair[0])
    return SharedFit(fit, n, tuple(exc for _, exc in failures), tuple(note for _, note in notes))


def fit_shared_codebook(paths, job: ImageJob) -> SharedFit:
    """Fit one codebook to the combined colour histogram of several images, in this process.

    Parameters
    ----------
    paths : iterable of str
        Image files ('-' for standard input, at most once).
    job : ImageJob
        The fit (``k`` is the largest number of codes; ``init``, ``max_iter``,
        ``eps``, ``attempts``, ``seed``, ``color_space``, ``sort``) and the
        reading (``max_pixels``, ``frame``, ``background``: images with
        transparency are flattened onto it; without it their fully
        transparent pixels are left out, as a codebook holds no alpha).

    Returns
    -------
    SharedFit
    """
    return fit_records(((i, histogram_record(path, job)) for i, path in enumerate(paths)), job)


def fit_histograms(histograms, job: ImageJob):
    """Merge colour histograms as they come (bounded memory) and fit one codebook as ``job`` says.

    Returns
    -------
    (HistogramFit, int)
        The fit and the number of histograms merged; ``(None, 0)`` with no
        histogram.

    Raises
    ------
    BadImageError
        When no histogram has a visible pixel (65).
    """
    from ..core.histogram import merge_histograms
    from ..image.pipeline import fit_histogram

    pending, base, size, n = [], 0, 0, 0
    for hist in histograms:
        pending.append(hist)
        size += len(hist)
        n += 1
        if size > 2 * base + 4_000_000:  # bound memory: merge now and then
            pending = [merge_histograms(pending)]
            base = size = len(pending[0])
    if not pending:
        return None, 0
    hist = pending[0] if len(pending) == 1 else merge_histograms(pending)
    if len(hist) == 0:
        raise BadImageError(None, "no visible pixel to fit a palette to: every input is fully "
                                  "transparent; flatten with --background COLOR")
    fit = fit_histogram(hist, int(job.k), max_iter=job.max_iter, eps=job.eps, init=job.init,
                        attempts=job.attempts, seed=job.seed, color_space=job.color_space,
                        sort=job.sort)
    return fit, n


def write_shared_codebook(shared: SharedFit, job: ImageJob, output_path, fmt: str,
                          swatch_path=None, init_label=None) -> dict:
    """Write a shared codebook (and its swatch) all or none; returns the figures ``--json`` prints.

    Parameters
    ----------
    shared : SharedFit
    job : ImageJob
        The options the codebook records.
    output_path : str
        The codebook file ('-' for standard output).
    fmt : str
        Its format (a value of :data:`quantize.io.codebook.CODEBOOK_FORMATS`).
    swatch_path : str, optional
        A PNG of the codebook.
    init_label : str, optional
        What ``--init`` was given as (default: the job's init method).
    """
    from ..io.codebook import codebook_to_dict, encode_codebook
    from ..io.files import write_all
    from .job import recorded_options

    fit = shared.fit
    options = recorded_options(job, job.init if init_label is None else init_label)
    outcome = (fit.n_iter, fit.converged)
    doc = codebook_to_dict(fit.codebook, fit.counts, inertia=fit.inertia, options=options,
                           fit=outcome)
    outputs = [(output_path, encode_codebook(fit.codebook, fmt, counts=fit.counts,
                                             inertia=fit.inertia, options=options, fit=outcome))]
    if swatch_path is not None:
        from ..io.plot import render_swatch

        outputs.append((swatch_path, render_swatch(fit.codebook, fit.counts)))
    write_all(outputs)
    return {"output": output_path, "images": shared.n_images, "k": doc["k"],
            "iterations": fit.n_iter, "converged": fit.converged, "inertia": doc["inertia"],
            "mse": doc["mse"], "psnr": doc["psnr"], "n_pixels": doc["n_pixels"]}

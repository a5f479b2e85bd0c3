"""The one image job: load, fit or apply, dither, encode.

``quantize image``, ``quantize apply`` and every batch worker (local or on
Dask) run :func:`encode_image`, so a file gets the same checks, the same
messages and the same bytes whichever command made it. What is written
where, and what is printed, stays with the caller.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from ..errors import OptionsError, OutputError

__all__ = ["ImageJob", "EncodedImage", "encode_image", "write_image", "image_summary", "look_record",
           "recorded_options", "written_mse"]


@dataclass(frozen=True)
class ImageJob:
    """What to do with one image.

    Attributes
    ----------
    k, max_iter, eps, init, attempts, seed, metric, color_space, sort
        The fit, as in :func:`quantize.image.pipeline.quantize_image`
        (``init`` may be an array of centres).
    codebook : ndarray of shape (k, 3), optional
        Apply this codebook instead of fitting one.
    target : QualityTarget, optional
        Fit the fewest colours, up to ``k``, that reach it.
    dither, background
        As the ``--dither`` and ``--background`` options.
    mode : {'palette', 'reconstruct'}
    fmt : str
        The Pillow format of the output: PNG or GIF in palette mode (GIF is
        always written from the codes and the codebook), any of
        :data:`quantize.vocabulary.IMAGE_FORMATS` in reconstruct mode.
    optimize : bool
        More zlib effort for PNGs: the smallest of several zlib settings.
    output_quality : int, optional
        1-100, for the formats that take one (JPEG, WebP, AVIF); None: JPEG
        and AVIF at their default quality, WebP lossless.
    max_pixels, frame, max_scans
        As in :func:`quantize.io.decode.load_rgba`.
    skip_if_larger : bool
        Write nothing when the output would not be smaller than the input
        file (:func:`write_image`).
    preview : bool
        Also make the HTML report's view of the image
        (:func:`quantize.io.preview.make_preview`), where the image is.
    """

    k: int = 16
    max_iter: int = 100
    eps: float = 0.25
    init: Any = "kmeans++"
    attempts: int = 1
    seed: Any = 0
    metric: str = "euclidean"
    color_space: str = "srgb"
    sort: str = "frequency"
    codebook: Any = None
    target: Any = None
    dither: str = "none"
    background: Any = None
    mode: str = "palette"
    fmt: str = "PNG"
    optimize: bool = False
    output_quality: Any = None
    max_pixels: int = 1 << 28
    frame: Any = None
    max_scans: int = 500
    skip_if_larger: bool = False
    preview: bool = False


@dataclass(frozen=True)
class EncodedImage:
    """An image quantized and encoded, not yet written.

    Attributes
    ----------
    result : QuantizeResult
    data : bytes
        The encoded output.
    search : TargetSearch or None
        The k search, with a quality target.
    n_pixels : int
        Pixels of the input.
    preview : dict or None
        The report's view of the image, when the job asks for it.
    written : bool
        False when :func:`write_image` kept it back (``skip_if_larger``).
    source : ndarray, optional
        The pixels that were quantized (after ``--background``), against
        which a lossy file's own error is measured.
    metadata : ImageMetadata, optional
        What of the input's metadata the output kept (its DPI, sRGB).
    """

    result: Any
    data: bytes
    search: Any
    n_pixels: int
    preview: Any = None
    written: bool = True
    source: Any = None
    metadata: Any = None


def encode_image(job: ImageJob, input_path, output_path) -> EncodedImage:
    """Quantize the image at ``input_path`` as ``job`` says and encode it for ``output_path``.

    Warnings (``QuantizeWarning``) are issued, not caught: the caller
    records or prints them.

    The output keeps the input's DPI, and says sRGB (a PNG's sRGB chunk)
    when an ICC profile was converted; EXIF (its orientation already
    applied to the pixels) and the profile itself are not written.

    Raises
    ------
    QuantizeError
        Input that cannot be read (66, 65), a quality target for an image
        with transparency (2), a palette PNG or GIF that cannot hold the
        codes, or a format that cannot be written here (73).
    """
    import warnings

    from ..errors import QuantizeWarning
    from ..image.pipeline import apply_codebook, quantize_image
    from ..image.transparency import prepare
    from ..io.decode import load_image
    from ..io.encode import check_writable, encode_palette_png, encode_rgb

    check_writable(job.fmt, output_path)
    loaded, metadata = load_image(input_path, max_pixels=job.max_pixels, frame=job.frame,
                                  max_scans=job.max_scans)
    pixels = prepare(loaded, job.background)
    del loaded
    n_pixels = pixels.shape[0] * pixels.shape[1]
    search = None
    if job.codebook is not None:
        result = apply_codebook(pixels, job.codebook, color_space=job.color_space)
    else:
        if job.k > n_pixels:
            warnings.warn(f"k={job.k} is more than the image's {n_pixels} pixel(s); "
                          f"at most {n_pixels} colour(s) are used", QuantizeWarning)
        if job.target is not None:
            if pixels.shape[2] == 4:
                raise OptionsError(input_path, "--min-psnr/--max-mse need an opaque image, and "
                                               "this one has transparency; flatten it with "
                                               "--background COLOR")
            from ..image.pipeline import relabel
            from ..image.quality import quantize_to_target

            result, search = quantize_to_target(
                pixels, job.k, job.target, max_iter=job.max_iter, eps=job.eps, init=job.init,
                attempts=job.attempts, seed=job.seed, source=input_path)
            if job.sort != "frequency":
                result = relabel(result, pixels, result.labels, sort=job.sort)
        else:
            result = quantize_image(pixels, job.k, max_iter=job.max_iter, eps=job.eps,
                                    init=job.init, attempts=job.attempts, seed=job.seed,
                                    metric=job.metric, color_space=job.color_space, sort=job.sort)
    if job.dither != "none":
        from ..image.dither import dither_result

        result = dither_result(result, pixels, job.dither,
                               sort=None if job.codebook is not None else job.sort)
    if job.mode == "palette" and result.codebook.shape[0] > 256:
        given = job.codebook.shape[0] if job.codebook is not None else result.codebook.shape[0] - 1
        raise OutputError(output_path, f"the {given} colours of the codebook and a transparent "
                                       "entry do not fit in a 256-colour palette; flatten with "
                                       "--background COLOR or use --mode reconstruct")
    quantized = result.reconstruct() if job.mode != "palette" or job.preview else None
    if job.fmt == "GIF":
        from ..io.encode import encode_gif

        data = encode_gif(result.labels, result.codebook, path=output_path)
    elif job.mode == "palette":
        data = encode_palette_png(result.labels, result.codebook, path=output_path,
                                  optimize=job.optimize, dpi=metadata.dpi, srgb=metadata.srgb)
    else:
        data = encode_rgb(quantized, job.fmt, path=output_path, optimize=job.optimize,
                          quality=job.output_quality, dpi=metadata.dpi, srgb=metadata.srgb)
    preview = None
    if job.preview:
        from ..io.preview import make_preview

        preview = make_preview(pixels, quantized, result.codebook, result.counts)
    return EncodedImage(result, data, search, n_pixels, preview=preview, source=pixels,
                        metadata=metadata)


def write_image(job: ImageJob, input_path, output_path, *, codebook_path=None, swatch_path=None,
                init_label=None, name=None, reads=()) -> EncodedImage:
    """Run the image job and write its outputs: the image, and its codebook and swatch if asked.

    The paths are checked first (:func:`quantize.io.files.check_paths`):
    no output may be the input, one of ``reads``, or another output. The
    outputs are then written all or none: a failed write leaves no file
    behind, and a failed Make rule no target. With ``job.skip_if_larger``,
    an image that would not be smaller than its input file is not written,
    nor anything else (the result says ``written=False``).

    Parameters
    ----------
    job : ImageJob
    input_path, output_path : str
        ``'-'`` for standard input or output.
    codebook_path : str, optional
        The image's codebook, in the format of its extension (JSON for ``'-'``).
    swatch_path : str, optional
        A PNG of the codebook (:func:`quantize.io.plot.render_swatch`).
    init_label : str, optional
        What ``--init`` was given as, for the codebook's record (default: the
        job's init method).
    name : str, optional
        The image's name: a GIMP codebook's palette is called ``'NAME k=K'``.
    reads : iterable of (str, path)
        Other files the command reads (a codebook, an ``--init`` file).

    Returns
    -------
    EncodedImage
    """
    from ..io.files import check_paths, write_all

    check_paths([("input", input_path), *reads],
                [("output", output_path), ("codebook", codebook_path), ("swatch", swatch_path)])
    encoded = encode_image(job, input_path, output_path)
    if job.skip_if_larger and str(input_path) != "-":
        try:
            larger = len(encoded.data) >= os.path.getsize(input_path)
        except OSError:
            larger = False
        if larger:
            return dataclasses.replace(encoded, written=False)
    result = encoded.result
    outputs = [(output_path, encoded.data)]
    if codebook_path is not None or swatch_path is not None:
        from ..image.transparency import codebook_rows

        colours, counts, alpha = codebook_rows(result.codebook, result.counts)
    if codebook_path is not None:
        from ..io.codebook import codebook_format, encode_codebook

        options = recorded_options(job, job.init if init_label is None else init_label, result)
        if alpha is not None:
            options["alpha"] = alpha
        fmt = "json" if str(codebook_path) == "-" else codebook_format(codebook_path)
        fit = (result.n_iter, result.converged) if job.codebook is None else None
        outputs.append((codebook_path, encode_codebook(
            colours, fmt, counts=counts, inertia=result.inertia, options=options,
            name="quantize" if name is None else f"{name} k={result.k}", fit=fit)))
    if swatch_path is not None:
        from ..io.plot import render_swatch

        outputs.append((swatch_path, render_swatch(colours, counts)))
    write_all(outputs)
    return encoded


def image_summary(job: ImageJob, encoded: EncodedImage, input_path, output_path,
                  seconds: float) -> dict:
    """The figures ``--json`` prints for one image, the same for ``image`` and ``apply``.

    ``mse`` and ``psnr`` measure the palette (every pixel replaced by its
    code's colour). A lossy file (JPEG, AVIF, WebP with a quality) differs
    from that again: ``output_quality``, ``written_mse`` and
    ``written_psnr`` then say what was written and how far the file, decoded
    back, is from the input.
    """
    result = encoded.result
    summary = {"input": input_path, "output": output_path, "k": result.k}
    if job.codebook is None:
        summary.update(k_requested=job.k, iterations=result.n_iter, converged=result.converged)
    else:
        summary["codes_used"] = int((result.counts > 0).sum())
    summary.update(inertia=result.inertia, mse=result.mse,
                   psnr=None if result.mse == 0 else result.psnr,
                   seconds=round(seconds, 4), colors_in=result.n_colours_in)
    if job.mode == "reconstruct" and encoded.source is not None:
        from ..image.pipeline import psnr_from_mse
        from ..io.encode import DEFAULT_QUALITY, is_lossy

        if is_lossy(job.fmt, job.output_quality):
            written = written_mse(encoded.source, encoded.data)
            quality = job.output_quality
            summary.update(output_quality=DEFAULT_QUALITY.get(job.fmt) if quality is None
                           else quality, written_mse=written,
                           written_psnr=None if written == 0 else psnr_from_mse(written))
    if encoded.search is not None:
        # k_chosen reaches the target and k_chosen - 1 does not (same options and seed).
        summary["target"] = dict(job.target.as_dict(), k_max=job.k, k_chosen=encoded.search.k,
                                 probes=encoded.search.probes_list())
    return summary


def written_mse(source, data: bytes) -> float:
    """The MSE of an encoded file, decoded back, against the pixels it was made from.

    Measured as :attr:`QuantizeResult.mse` is: RGB over three channels,
    RGBA over premultiplied colour and alpha. A file without alpha made from
    RGBA pixels is compared with them flattened onto white, as
    :func:`quantize.io.encode.encode_rgb` wrote them.
    """
    from ..image.pipeline import pixel_mse
    from ..image.transparency import flatten
    from ..io.decode import decode_written

    decoded = decode_written(data)
    if source.shape[2] == 4 and decoded.shape[2] == 3:
        source = flatten(source, (255, 255, 255))
    elif source.shape[2] == 3 and decoded.shape[2] == 4:
        decoded = decoded[..., :3]
    return pixel_mse(source, decoded)


def look_record(*, sort=None, dither="none", background=None) -> dict:
    """The look options worth recording in a codebook, when not the defaults."""
    out = {}
    if sort not in (None, "frequency"):
        out["sort"] = sort
    if dither != "none":
        out["dither"] = dither
    if background is not None:
        out["background"] = "#{:02x}{:02x}{:02x}".format(*background)
    return out


def recorded_options(job: ImageJob, init_label, result=None) -> dict:
    """The options a codebook records, the same for ``image``, ``batch`` and ``palette``.

    Parameters
    ----------
    job : ImageJob
    init_label : str
        What ``--init`` was given as: a method name, or the codebook file
        whose colours were the initial centres.
    result : QuantizeResult, optional
        An image's fit (its ``options``: k and the k-means options). None
        for a palette fitted to several images, which has no mode.
    """
    if result is None:
        from ..image.result import fit_options

        options = fit_options(job.k, max_iter=job.max_iter, eps=job.eps, init=init_label,
                              attempts=job.attempts, seed=job.seed, color_space="srgb",
                              sort="frequency")
    else:
        options = dict(result.options, init=init_label, mode=job.mode)
    options["color_space"] = job.color_space
    if job.metric != "euclidean":
        options["metric"] = job.metric
    if job.target is not None:
        options.update(k_max=job.k, min_psnr=job.target.min_psnr, max_mse=job.target.max_mse)
    options.update(look_record(sort=job.sort, dither=job.dither, background=job.background))
    return options

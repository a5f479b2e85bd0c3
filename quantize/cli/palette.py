"""``quantize palette``: one codebook for the pixels of several images."""

from __future__ import annotations

import json
import time
import warnings

import click

from ..errors import BadImageError
from ..vocabulary import INIT_METHOD_NAMES
from .options import (ColourType, EXIT_CODES_HELP, _codebook_format, _dask_client, _echo_warnings,
                      _refuse_terminals, _reports_errors, _resolve_init, color_space_option,
                      input_options, kmeans_options, report_options, scheduler_options,
                      sort_option, swatch_option)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("inputs", metavar="IN...", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-o", "--output", "output_path", required=True,
              type=click.Path(dir_okay=False, allow_dash=True),
              help="The codebook file to write: .json, .gpl, .act, .csv, .txt or .npy "
                   "('-': JSON on standard output).")
@click.option("-r", "--recursive", is_flag=True, help="Also read the subdirectories of directories.")
@click.option("--pattern", "patterns", multiple=True, metavar="GLOB",
              help="In directories, take only files matching GLOB; repeatable.  "
                   "[default: the extensions Pillow reads]")
@kmeans_options
@color_space_option
@sort_option
@click.option("--background", type=ColourType(), default=None,
              help="Flatten images with transparency onto this colour first.  [default: their "
                   "fully transparent pixels are left out]")
@swatch_option
@scheduler_options
@report_options("images, k, iterations, inertia, MSE, PSNR and seconds")
@input_options
@_reports_errors
def palette(inputs, output_path, recursive, patterns, colors, max_iter, eps, init, attempts, seed,
            swatch_path, as_json, scheduler, scheduler_timeout, quiet, verbose, max_pixels, frame,
            max_scans,
            color_space="srgb", sort="frequency", background=None):
    """Fit one codebook to several images IN... and write it to a file.

    The images' colour histograms are added up, so every pixel of every
    image counts once: the codebook is k-means on all their pixels together.
    Map images onto it with 'quantize apply' or 'quantize batch --codebook'.
    An input that cannot be read is named on stderr and left out: the
    codebook is fitted to the others, and the exit code is the most severe
    of the failures (nothing is written when none can be read). The
    format follows the extension of -o: .json, .gpl, .act, .csv, .txt or
    .npy ('-' writes JSON). With --scheduler, Dask workers build the
    histograms (the images stay where they are) and the client fits once:
    the same codebook as without it.

    \b
    Examples:
      quantize palette frames/*.png -k 32 -o shared.json
      quantize apply frames/001.png -c shared.json -o out/001.png
    """
    if list(inputs).count("-") > 1:
        raise click.UsageError("standard input ('-') can be read only once")
    if scheduler and "-" in inputs:
        raise click.UsageError("--scheduler reads files on the workers, not standard input")
    dask_client = _dask_client(scheduler, scheduler_timeout)
    _refuse_terminals(inputs=inputs)
    init_label = init
    init, colors = _resolve_init(init, colors, quiet=quiet)
    fmt = _codebook_format(output_path, colors, "'-o' / '--output'")

    from ..errors import InputMissingError
    from ..io.files import check_paths
    from ..errors import most_severe
    from ..run.batch import collect_inputs
    from ..run.job import ImageJob

    paths, failures = [], []
    for path, _rel, error in collect_inputs([i for i in inputs if i != "-"], recursive=recursive,
                                            patterns=patterns):
        if error is not None:
            failures.append(error)
        else:
            paths.append(path)
    if "-" in inputs:
        paths.append("-")
    if not paths and not failures:
        raise InputMissingError(None, "no input images found")
    reads = [("input", path) for path in paths]
    if init_label not in INIT_METHOD_NAMES:
        reads.append(("--init codebook", init_label))
    check_paths(reads, [("codebook", output_path), ("swatch", swatch_path)])
    job = ImageJob(k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                   color_space=color_space, sort=sort, background=background,
                   max_pixels=max_pixels, frame=frame, max_scans=max_scans)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shared = _fit(dask_client, paths, job)
    _echo_warnings(caught, quiet)
    failures += list(shared.failures)
    if shared.fit is None and len(failures) == 1:
        raise failures[0]
    for failure in failures:
        click.echo(f"quantize: error: {failure.format_message()}", err=True)
    if not quiet:
        for note in shared.warnings:
            click.echo(f"quantize: warning: {note}", err=True)
    if shared.fit is None:
        raise BadImageError(None, f"none of the {len(failures)} inputs could be read; "
                                  "no codebook written")
    from ..run.palette import write_shared_codebook

    summary = write_shared_codebook(shared, job, output_path, fmt, swatch_path, init_label)
    summary.update(k_requested=colors, failed=len(failures),
                   seconds=round(time.perf_counter() - started, 4))
    if as_json:
        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        click.echo(f"quantize: {summary['images']} image(s) -> {output_path!r}: k={summary['k']} "
                   f"mse={summary['mse']:.3f} seconds={summary['seconds']:.3f}", err=True)
    code = most_severe(exc.exit_code for exc in failures)
    if code:
        raise click.exceptions.Exit(code)


def _fit(dask_client, paths, job):
    """The shared fit, here or on the Dask cluster."""
    from ..run.palette import SharedFit, fit_shared_codebook

    if not paths:
        return SharedFit(None, 0, (), ())
    with dask_client as client:
        if client is None:
            return fit_shared_codebook(paths, job)
        from ..run.distributed import fit_shared_codebook_dask

        return fit_shared_codebook_dask(client, paths, job)

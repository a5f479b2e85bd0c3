"""``quantize palette``: one codebook for the pixels of several images."""

from __future__ import annotations

import json
import os
import time
import warnings

import click

from ..run.job import look_record

from .options import (CliError, ColourType, EXIT_CODES_HELP, _dask_client, _echo_warnings,
                      _refuse_terminals, _reports_errors, _resolve_init, color_space_option,
                      input_options, kmeans_options, scheduler_options, sort_option)



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
@click.option("--swatch", "swatch_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG of the codebook: one square per code with its share of "
                   "the pixels.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with images, k, iterations, inertia, MSE, PSNR, seconds.")
@scheduler_options
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.option("-v", "--verbose", count=True, help="Print a summary; with an internal error, a traceback.")
@input_options
@_reports_errors
def palette(inputs, output_path, recursive, patterns, colors, max_iter, eps, init, attempts, seed,
            swatch_path, as_json, scheduler, scheduler_timeout, quiet, verbose, max_pixels, frame,
            color_space="srgb", sort="frequency", background=None):
    """Fit one codebook to several images IN... and write it to a file.

    The images' colour histograms are added up, so every pixel of every
    image counts once: the codebook is k-means on all their pixels together.
    Map images onto it with 'quantize apply' or 'quantize batch --codebook'.
    Any unreadable input stops the command (no codebook is written). The
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
    from ..io.codebook import codebook_format, codebook_to_dict, encode_codebook

    fmt = "json"
    if output_path != "-":
        try:
            fmt = codebook_format(output_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
    init_label = init
    init, colors = _resolve_init(init, colors, quiet=quiet)
    if fmt == "act" and colors > 256:
        raise click.BadParameter(f"an Adobe Color Table holds at most 256 colours, got -k {colors}",
                                 param_hint="'-o' / '--output'")

    from ..run.batch import collect_inputs, fit_shared_codebook
    from ..errors import InputMissingError
    from ..io.files import check_not_input, write_all

    paths = []
    for path, _rel, error in collect_inputs([i for i in inputs if i != "-"], recursive=recursive,
                                            patterns=patterns):
        if error is not None:
            raise error
        paths.append(path)
    if "-" in inputs:
        paths.append("-")
    if not paths:
        raise InputMissingError(None, "no input images found")
    check_not_input(output_path, paths)
    if swatch_path is not None:
        check_not_input(swatch_path, paths)
        if output_path != "-" and os.path.abspath(swatch_path) == os.path.abspath(output_path):
            raise CliError(f"{swatch_path!r}: the swatch and the codebook cannot be the same file", 73)

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dask_client as client:
            if client is None:
                fit, n_images = fit_shared_codebook(paths, colors, max_iter=max_iter, eps=eps,
                                                    init=init, attempts=attempts, seed=seed,
                                                    max_pixels=max_pixels, frame=frame,
                                                    color_space=color_space, sort=sort,
                                                    background=background)
            else:
                from ..run.distributed import fit_shared_codebook_dask

                fit, n_images = fit_shared_codebook_dask(
                    client, paths, colors, max_iter=max_iter, eps=eps, init=init,
                    attempts=attempts, seed=seed, max_pixels=max_pixels, frame=frame,
                    color_space=color_space, sort=sort, background=background)
    _echo_warnings(caught, quiet)
    options = {"k": colors, "max_iter": max_iter, "eps": eps, "init": init_label,
               "attempts": attempts, "seed": seed, "color_space": color_space}
    options.update(look_record(sort=sort, background=background))
    outcome = (fit.n_iter, fit.converged)
    doc = codebook_to_dict(fit.codebook, fit.counts, inertia=fit.inertia, options=options,
                           fit=outcome)
    outputs = [(output_path, encode_codebook(fit.codebook, fmt, counts=fit.counts,
                                             inertia=fit.inertia, options=options, fit=outcome))]
    if swatch_path is not None:
        from ..io.plot import render_swatch

        outputs.append((swatch_path, render_swatch(fit.codebook, fit.counts)))
    write_all(outputs)  # the codebook and its swatch, or neither
    seconds = time.perf_counter() - started
    summary = {"output": output_path, "images": n_images, "k": doc["k"], "k_requested": colors,
               "iterations": fit.n_iter, "converged": fit.converged, "inertia": doc["inertia"],
               "mse": doc["mse"], "psnr": doc["psnr"], "n_pixels": doc["n_pixels"],
               "seconds": round(seconds, 4)}
    if as_json:
        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        click.echo(f"quantize: {n_images} image(s) -> {output_path!r}: k={doc['k']} "
                   f"mse={doc['mse']:.3f} seconds={seconds:.3f}", err=True)

"""``quantize batch``: many images, in parallel or on Dask, resumable."""

from __future__ import annotations

import json
import os

import click

from ..vocabulary import FORMAT_NAMES
from .options import (CliError, EXIT_CODES_HELP, _check_output_quality, _check_palette_format,
                      _check_palette_size, _check_writable, _dask_client, _explicit,
                      _reports_errors, _resolve_init, color_space_option, input_options,
                      kmeans_options, look_options, metric_option, output_options,
                      scheduler_options, sort_option)
from .progress import BatchPrinter



@click.command(epilog=EXIT_CODES_HELP)
@click.argument("sources", metavar="SRC...", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "outdir", required=True, metavar="OUTDIR",
              type=click.Path(file_okay=False),
              help="Output directory (created if missing). It mirrors the input tree.")
@click.option("-r", "--recursive", is_flag=True, help="Also process the subdirectories of SRC.")
@click.option("--pattern", "patterns", multiple=True, metavar="GLOB",
              help="Take only the files of a directory whose name (or path below it) matches "
                   "GLOB, e.g. '*.jpg'; repeatable.  [default: the extensions Pillow reads]")
@kmeans_options
@metric_option
@output_options
@color_space_option
@sort_option
@look_options
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False), default=None,
              help="Read this codebook (from 'quantize palette' or 'image --codebook'; "
                   ".json, .gpl, .act, .csv, .txt or .npy) and map every image onto it "
                   "instead of fitting one per image; the k-means options are then unused.")
@click.option("--write-codebooks", is_flag=True,
              help="Also write each image's fitted codebook as JSON beside its output "
                   "(NAME.json).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes.  [default: the number of CPUs]")
@scheduler_options
@click.option("--force", is_flag=True, help="Redo every file, even the up-to-date ones.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr.  [default: when stderr is a terminal]")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, allow_dash=True),
              default=None,
              help="Write one JSON line per input (input, output, status, k, inertia, mse, "
                   "psnr, seconds, error, exit_code) to this file ('-' for stdout).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              metavar="REPORT.html",
              help="Also write a page to look at: the summary, and per image its thumbnails, "
                   "the crop where the error is largest, its palette and figures "
                   "('quantize report' rebuilds one later).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings and no summary (errors still).")
@click.option("-v", "--verbose", count=True,
              help="Print a line per file; with an internal error, a traceback.")
@input_options
@_reports_errors
def batch(sources, outdir, recursive, patterns, colors, max_iter, eps, init, attempts, seed,
          mode, out_format, codebook_path, write_codebooks, jobs, scheduler, scheduler_timeout,
          force, progress, report_path, as_json, quiet, verbose, max_pixels, frame, max_scans,
          color_space="srgb", sort="frequency", dither="none", background=None, optimize=False,
          html_path=None, metric="euclidean", output_quality=None):
    """Quantize many images (files, or directories of them) into OUTDIR, in parallel.

    The output tree mirrors the input tree; palette mode writes NAME.png
    (NAME.gif with --format gif), reconstruct mode keeps the input's format
    (PNG if it cannot be written, or is GIF) unless --format says otherwise;
    --output-quality applies to the JPEG, WebP and AVIF outputs.

    \b
    Resumable: an output that is up to date (not older than its input, and
    made from the same input with the same options, as recorded in
    OUTDIR/.quantize-batch.jsonl) is skipped; --force redoes it. Every output
    is written atomically. Ctrl-C lets the files in progress finish (press it
    again to abandon them), leaves no partial file and exits 130; a rerun
    continues where it stopped.

    \b
    Every file is tried; each failure is one line on stderr, and the exit
    code is the most severe of all files (70 > 71 > 74 > 73 > 65 > 66 > 99 > 98 > 0).

    \b
    With --scheduler (or $QUANTIZE_SCHEDULER) the files are done by the
    workers of a Dask cluster instead, with the same outputs, skipping,
    report and exit codes; each task is a file's paths, so the inputs and
    OUTDIR must be on storage every worker sees at the same paths.

    \b
    Note: in 'image', --codebook names a file to write; here it names a
    codebook to read (as in 'apply'). Use --write-codebooks for per-image
    codebooks.

    \b
    Examples:
      quantize batch photos/ -o out/ -k 16 --recursive
      quantize batch photos/ -o out/ --mode reconstruct --format jpeg -j 4
      quantize palette photos/*.jpg -k 32 -o shared.json
      quantize batch photos/ -o out/ --codebook shared.json --report report.jsonl
    """
    if "-" in sources:
        raise click.UsageError("batch reads files and directories, not standard input; "
                               "use 'quantize image - -o -' for a filter")
    _check_palette_format(mode, out_format)
    fmt = FORMAT_NAMES[out_format.lower()] if out_format else None
    _check_writable(fmt)
    _check_output_quality(mode, fmt, output_quality)
    if write_codebooks and codebook_path is not None:
        raise click.UsageError("--write-codebooks has nothing to write with --codebook "
                               "(the codebook is the one given)")
    if as_json and report_path == "-":
        raise click.UsageError("--json and --report - would both write to standard output")
    dask_client = _dask_client(scheduler, scheduler_timeout, workers=jobs)

    from ..run import batch as batchlib

    if (jobs or batchlib.available_cpus()) > 1:
        batchlib.limit_numeric_threads()  # one BLAS thread per worker; before numpy loads
    init_label = init
    codebook = None
    if codebook_path is None:
        init, colors = _resolve_init(init, colors, quiet=quiet)
        _check_palette_size(mode, k=colors)
    else:
        from ..io.codebook import load_codebook

        codebook = load_codebook(codebook_path).colors
        _check_palette_size(mode, codebook=codebook, codebook_path=codebook_path)
        unused = _explicit(["colors", "max_iter", "eps", "init", "attempts", "seed", "sort",
                            "metric"])
        if unused and not quiet:
            names = ", ".join("--" + n.replace("_", "-") for n in unused)
            click.echo(f"quantize: warning: {names} not used: the codebook is given", err=True)
    settings = batchlib.BatchSettings(
        # Palette mode writes PNG unless asked for GIF (recorded only then).
        mode=mode, out_format=None if mode == "palette" and fmt != "GIF" else fmt,
        metric=metric, output_quality=output_quality,
        k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
        codebook=codebook, write_codebooks=write_codebooks, verbose=bool(verbose),
        max_pixels=max_pixels, frame=frame, max_scans=max_scans, color_space=color_space,
        sort=sort, dither=dither, background=background, optimize=optimize,
        preview=html_path is not None)
    items = batchlib.plan_batch(sources, outdir, settings, recursive=recursive, patterns=patterns)
    if not items and not quiet:
        click.echo("quantize: warning: no input images found", err=True)
    from ..io.files import check_paths

    reads = [("input", item.input) for item in items]
    reads.append(("codebook", codebook_path))
    if not isinstance(init, str):
        reads.append(("--init codebook", init_label))
    writes = [("--report", report_path), ("--html", html_path),
              ("manifest", os.path.join(outdir, batchlib.MANIFEST_NAME))]
    for item in items:  # those whose outputs collide already fail on their own
        if item.error is None:
            writes += [(f"output of {item.input!r}", item.output),
                       (f"codebook of {item.input!r}", item.codebook_output)]
    check_paths(reads, writes)
    if html_path is not None:
        from ..run.report import check_page_path

        check_page_path(html_path, outdir)

    printer = BatchPrinter(progress=progress, quiet=quiet, verbose=verbose)
    try:
        with dask_client as client:
            backend = None
            if client is not None:
                from ..run.distributed import DaskBackend

                backend = DaskBackend(client)
            summary = batchlib.run_batch(items, settings, outdir, jobs=jobs, force=force,
                                         report=report_path, callback=printer, backend=backend)
    finally:
        printer.close()
    if html_path is not None:  # also after Ctrl-C: a page of what was done
        from ..run.report import write_batch_html

        write_batch_html(html_path, summary, settings, sources=sources, outdir=outdir)
    if as_json:
        click.echo(json.dumps(summary.to_json()))
    elif not quiet:
        click.echo(f"quantize: {summary.describe()}", err=True)
    if summary.interrupted:
        raise CliError("interrupted", 130)
    if summary.exit_code:
        raise click.exceptions.Exit(summary.exit_code)

"""``quantize batch``: many images, in parallel or on Dask, resumable."""

from __future__ import annotations

import json
import sys

import click

from ..vocabulary import FORMAT_NAMES
from .options import (CliError, EXIT_CODES_HELP, _check_palette_format, _dask_client, _explicit,
                      _reports_errors, _resolve_init, color_space_option, input_options,
                      kmeans_options, look_options, output_options, scheduler_options, sort_option)



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
          force, progress, report_path, as_json, quiet, verbose, max_pixels, frame,
          color_space="srgb", sort="frequency", dither="none", background=None, optimize=False,
          html_path=None):
    """Quantize many images (files, or directories of them) into OUTDIR, in parallel.

    The output tree mirrors the input tree; palette mode writes NAME.png,
    reconstruct mode keeps the input's format (PNG if it cannot be written)
    unless --format says otherwise.

    \b
    Resumable: an output that is up to date (not older than its input, and
    made from the same input with the same options, as recorded in
    OUTDIR/.quantize-batch.jsonl) is skipped; --force redoes it. Every output
    is written atomically. Ctrl-C lets the files in progress finish (press it
    again to abandon them), leaves no partial file and exits 130; a rerun
    continues where it stopped.

    \b
    Every file is tried; each failure is one line on stderr, and the exit
    code is the most severe of all files (70 > 74 > 73 > 65 > 66 > 99 > 0).

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
    if write_codebooks and codebook_path is not None:
        raise click.UsageError("--write-codebooks has nothing to write with --codebook "
                               "(the codebook is the one given)")
    if as_json and report_path == "-":
        raise click.UsageError("--json and --report - would both write to standard output")
    dask_client = _dask_client(scheduler, scheduler_timeout, workers=jobs)

    from ..run import batch as batchlib

    if (jobs or batchlib.available_cpus()) > 1:
        batchlib.limit_numeric_threads()  # one BLAS thread per worker; before numpy loads
    if codebook_path is None:
        init, colors = _resolve_init(init, colors, quiet=quiet)
        if mode == "palette" and colors > 256:
            raise click.BadParameter(f"palette mode holds at most 256 colours, got {colors}; "
                                     "use --mode reconstruct for more",
                                     param_hint="'-k' / '--colors'")
    codebook = None
    if codebook_path is not None:
        from ..io.codebook import load_codebook

        codebook = load_codebook(codebook_path).colors
        if mode == "palette" and codebook.shape[0] > 256:
            raise click.UsageError(f"{codebook_path!r} has {codebook.shape[0]} colours; a palette "
                                   "PNG holds at most 256; use --mode reconstruct")
        unused = _explicit(["colors", "max_iter", "eps", "init", "attempts", "seed", "sort"])
        if unused and not quiet:
            names = ", ".join("--" + n.replace("_", "-") for n in unused)
            click.echo(f"quantize: warning: {names} not used: the codebook is given", err=True)
    settings = batchlib.BatchSettings(
        mode=mode, out_format=FORMAT_NAMES[out_format.lower()] if out_format and mode != "palette" else None,
        k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
        codebook=codebook, write_codebooks=write_codebooks, verbose=bool(verbose),
        max_pixels=max_pixels, frame=frame, color_space=color_space, sort=sort, dither=dither,
        background=background, optimize=optimize, preview=html_path is not None)
    items = batchlib.plan_batch(sources, outdir, settings, recursive=recursive, patterns=patterns)
    if not items and not quiet:
        click.echo("quantize: warning: no input images found", err=True)
    for path in (report_path, html_path):
        if path is not None:
            from ..io.files import check_not_input

            check_not_input(path, [item.input for item in items])
    if html_path is not None:
        from ..run.report import check_page_path

        check_page_path(html_path)

    show_bar = (sys.stderr is not None and sys.stderr.isatty()) if progress is None else progress
    state = {"bar": None}

    def say(line: str) -> None:
        if state["bar"] is not None:
            state["bar"].write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def on_event(event, payload) -> None:
        if event == "start":
            if show_bar and payload["todo"]:
                from tqdm import tqdm

                tqdm.monitor_interval = 0  # no monitor thread: workers may be forked later
                state["bar"] = tqdm(total=payload["todo"], unit="img", desc="quantize",
                                    file=sys.stderr, dynamic_ncols=True, leave=False)
        elif event == "interrupt":
            if payload["in_flight"]:
                say("quantize: interrupted; letting the files in progress finish "
                    "(Ctrl-C again to abandon them)")
        elif event == "result":
            r = payload
            if r.status == "failed":
                say(f"quantize: error: {r.error}")
                if r.traceback and verbose:
                    say(r.traceback.rstrip())
            elif r.status == "done":
                if not quiet:
                    for message in r.warnings:
                        say(f"quantize: warning: {r.input!r}: {message}")
                if verbose:
                    say(f"quantize: {r.input!r} -> {r.output!r}: k={r.k} mse={r.mse:.3f} "
                        f"seconds={r.seconds:.3f}")
            elif r.status == "skipped" and verbose:
                say(f"quantize: {r.input!r}: up to date, skipped")
            if state["bar"] is not None and r.status in ("done", "failed"):
                state["bar"].update(1)

    try:
        with dask_client as client:
            backend = None
            if client is not None:
                from ..run.distributed import DaskBackend

                backend = DaskBackend(client)
            summary = batchlib.run_batch(items, settings, outdir, jobs=jobs, force=force,
                                         report=report_path, callback=on_event, backend=backend)
    finally:
        if state["bar"] is not None:
            state["bar"].close()
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

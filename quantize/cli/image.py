"""``quantize image``: one image into a palette PNG or a reconstructed image."""

from __future__ import annotations

import dataclasses
import os

import click

from ..errors import OutputError, QuantizeError, most_severe
from ..vocabulary import FORMAT_NAMES, INIT_METHOD_NAMES
from .options import (EXIT_CODES_HELP, FiniteFloat, _check_palette_size, _codebook_format,
                      _output_format, _refuse_terminals, _reports_errors, _resolve_init, _run_one,
                      color_space_option, input_options, kmeans_options, look_options,
                      metric_option, output_options, report_options, sort_option, swatch_option)


@click.command("image", epilog=EXIT_CODES_HELP)
@click.argument("inputs", metavar="IN...", nargs=-1, required=True,
                type=click.Path(allow_dash=True, dir_okay=True))
@click.option("-o", "--output", "output_path", default=None,
              type=click.Path(allow_dash=True, dir_okay=False),
              help="Output file ('-' for standard output), for one IN; replaced if it exists.  "
                   "[default: beside each input, named by --ext]")
@click.option("--ext", "suffix", default=None, metavar="SUFFIX",
              help="Without -o: each output is the input's name without its extension, plus "
                   "SUFFIX.  [default: -pal.png in palette mode; in reconstruct mode -rec plus "
                   "the format's extension, e.g. -rec.jpg]")
@click.option("--force", is_flag=True,
              help="Without -o: replace outputs that exist (they are kept otherwise: exit 73).")
@click.option("--skip-if-larger", is_flag=True,
              help="Write nothing for an image whose output would not be smaller than its "
                   "input file (exit 98, and \"written\": false in --json).")
@kmeans_options
@input_options
@metric_option
@output_options
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the codebook to this file (which 'apply -c' and "
                   "'batch --codebook' read), in the format of its extension: .json, .gpl "
                   "(GIMP), .act (Adobe), .csv, .txt (hex lines) or .npy; '-' writes JSON.")
@click.option("--min-psnr", type=FiniteFloat(min=0), default=None, metavar="DB",
              help="Quality target: use the fewest colours, at most -k, whose PSNR is at least "
                   "DB (found by bisection on k). Unreachable: nothing written, exit 99.")
@click.option("--max-mse", type=FiniteFloat(min=0), default=None, metavar="MSE",
              help="Quality target as MSE (mean over all channel values, 0-255 units): the "
                   "fewest colours, at most -k, with MSE at most this. Unreachable: exit 99.")
@swatch_option
@color_space_option
@sort_option
@look_options
@report_options("k, iterations, inertia, MSE, PSNR and seconds")
@_reports_errors
def image(inputs, output_path, suffix, force, skip_if_larger, colors, max_iter, eps, init,
          attempts, seed, metric, mode, out_format, codebook_path, min_psnr, max_mse, swatch_path,
          as_json, quiet, verbose, max_pixels, frame, max_scans, color_space="srgb", sort="frequency", dither="none",
          background=None, optimize=False, output_quality=None):
    """Quantize images IN... into palette PNGs or reconstructed images.

    With -o, one image IN goes to OUT ('-' reads stdin / writes stdout).
    Without it, each output is written beside its input (see --ext), and an
    existing one is kept unless --force; each file succeeds or fails on its
    own, and the exit code is the most severe (as in 'batch').

    With --min-psnr or --max-mse, -k is the most colours allowed and the
    fewest that reach the target are used (like pngquant's --quality).

    \b
    Examples:
      quantize image photo.jpg -k 16 -o photo-16.png --codebook photo-16.json
      quantize image *.png -k 64 --skip-if-larger   # a-pal.png, b-pal.png, ...
      quantize image photo.jpg -k 64 --mode reconstruct -o photo-64.jpg
      quantize image photo.jpg -k 256 --min-psnr 35 -o photo.png --swatch colours.png
      quantize image photo.jpg --init shared.gpl -o photo.png
      quantize image photo.jpg -k 32 --color-space oklab --dither floyd-steinberg -o photo.png
      quantize image logo.png -k 16 -o logo-16.png   # keeps its transparency
    """
    target = None
    if min_psnr is not None or max_mse is not None:
        for clash, why in ((init not in INIT_METHOD_NAMES, "--init CODEBOOK fixes k"),
                           (metric != "euclidean", f"the search uses the euclidean metric, not {metric}"),
                           (color_space != "srgb", f"the search runs in sRGB, not {color_space}")):
            if clash:
                raise click.UsageError(f"--min-psnr/--max-mse choose k, and {why}; "
                                       "drop one or the other")
        from ..image.quality import QualityTarget

        target = QualityTarget(min_psnr=min_psnr, max_mse=max_mse)
    init_label = init
    init, colors = _resolve_init(init, colors)
    _check_palette_size(mode, k=colors)
    if len(inputs) > 1 and output_path is not None:
        raise click.UsageError("-o names one output, and there are several inputs: drop -o to "
                               "write each beside its input (see --ext), or use 'quantize batch'")
    if len(inputs) > 1 and (codebook_path or swatch_path):
        raise click.UsageError("--codebook and --swatch name one file, for one input; use "
                               "'quantize batch --write-codebooks' for several")
    if list(inputs).count("-") > 1:
        raise click.UsageError("standard input ('-') can be read only once")
    if codebook_path == "-" and (output_path or "-") == "-" and "-" in inputs:
        raise click.UsageError("the image and the codebook cannot both go to standard output")
    from ..io.files import check_paths
    from ..run.job import ImageJob
    from ..run.plan import sibling_output

    outputs = [output_path or sibling_output(path, mode, suffix, out_format and
                                             FORMAT_NAMES[out_format.lower()])
               for path in inputs]
    if codebook_path == "-" and "-" in outputs:
        raise click.UsageError("the image and the codebook cannot both go to standard output")
    _refuse_terminals(inputs=inputs, output="-" if "-" in outputs else None)
    formats = [_output_format(mode, out_format, out, output_quality) for out in outputs]
    reads = [] if init_label in INIT_METHOD_NAMES else [("--init codebook", init_label)]
    check_paths([("input", path) for path in inputs] + reads,
                [("output", out) for out in outputs]
                + [("codebook", codebook_path), ("swatch", swatch_path)])
    _codebook_format(codebook_path, colors, "'--codebook'")

    job = ImageJob(k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                   metric=metric, color_space=color_space, sort=sort, target=target,
                   dither=dither, background=background, mode=mode, optimize=optimize,
                   max_pixels=max_pixels, frame=frame, max_scans=max_scans,
                   skip_if_larger=skip_if_larger, output_quality=output_quality)
    one = dict(as_json=as_json, quiet=quiet, verbose=verbose, codebook_path=codebook_path,
               swatch_path=swatch_path, init_label=init_label, reads=reads)
    if output_path is not None:  # one input, one named output: errors end the command
        _run_one(dataclasses.replace(job, fmt=formats[0]), inputs[0], output_path,
                 name=_stem(inputs[0]), **one)
        return
    codes = []
    for path, out, fmt in zip(inputs, outputs, formats):
        try:
            if out != "-" and not force and os.path.lexists(out):
                raise OutputError(out, "exists; not replaced (give --force, or name it with -o)")
            _run_one(dataclasses.replace(job, fmt=fmt), path, out, name=_stem(path), **one)
        except QuantizeError as exc:
            click.echo(f"quantize: error: {exc.format_message()}", err=True)
            codes.append(exc.exit_code)
    code = most_severe(codes)
    if code:
        raise click.exceptions.Exit(code)


def _stem(path) -> str:
    return "stdin" if path == "-" else os.path.splitext(os.path.basename(path))[0]

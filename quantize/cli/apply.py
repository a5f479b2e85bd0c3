"""``quantize apply``: an image mapped onto an existing codebook."""

from __future__ import annotations

import json
import time
import warnings

import click

from .options import (EXIT_CODES_HELP, _echo_warnings, _output_format, _refuse_terminals,
                      _reports_errors, color_space_option, input_options, look_options,
                      output_options)



@click.command("apply", epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True))
@click.option("-c", "--codebook", "codebook_path", required=True,
              type=click.Path(dir_okay=False, allow_dash=True),
              help="The codebook to map onto (from 'quantize palette' or "
                   "'quantize image --codebook'; .json, .gpl, .act, .csv, .txt or .npy).")
@click.option("-o", "--output", "output_path", required=True,
              type=click.Path(allow_dash=True, dir_okay=False),
              help="Output file ('-' for standard output).")
@output_options
@color_space_option
@look_options
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with k, inertia, MSE, PSNR and seconds.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.option("-v", "--verbose", count=True, help="Print a summary; with an internal error, a traceback.")
@input_options
@_reports_errors
def apply_command(input_path, codebook_path, output_path, mode, out_format, as_json, quiet, verbose,
                  max_pixels, frame, color_space="srgb", dither="none", background=None,
                  optimize=False):
    """Map image IN onto an existing codebook (vector quantization) into OUT.

    Every pixel takes its nearest code. The codebook is kept as given (same
    colours, same order, unused ones included), so in palette mode the PNG's
    palette is the codebook and a code means the same colour in every image.
    A codebook has no alpha: pixels of IN with alpha below 128 take one
    transparent entry added after the codebook's, the others are opaque
    (or use --background).

    \b
    Examples:
      quantize palette a.jpg b.jpg -k 16 -o shared.json
      quantize apply a.jpg -c shared.json -o a-shared.png
      quantize apply - -c shared.json -o - < in.png > out.png
    """
    if input_path == "-" and codebook_path == "-":
        raise click.UsageError("the image and the codebook cannot both come from standard input")
    _refuse_terminals(inputs=[input_path, codebook_path], output=output_path)
    fmt = _output_format(mode, out_format, output_path)
    from ..io.files import check_not_input

    check_not_input(output_path, [input_path, codebook_path])

    from ..io.codebook import load_codebook
    from ..io.files import write_bytes
    from ..run.job import ImageJob, encode_image

    codebook = load_codebook(codebook_path).colors
    if mode == "palette" and codebook.shape[0] > 256:
        raise click.UsageError(f"{codebook_path!r} has {codebook.shape[0]} colours; a palette PNG "
                               "holds at most 256; use --mode reconstruct")
    job = ImageJob(codebook=codebook, color_space=color_space, dither=dither,
                   background=background, mode=mode, fmt=fmt, optimize=optimize,
                   max_pixels=max_pixels, frame=frame)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded = encode_image(job, input_path, output_path)
    result, data = encoded.result, encoded.data
    _echo_warnings(caught, quiet)
    write_bytes(output_path, data)
    seconds = time.perf_counter() - started
    summary = {"input": input_path, "output": output_path, "codebook": codebook_path,
               "k": result.k, "codes_used": int((result.counts > 0).sum()),
               "inertia": result.inertia, "mse": result.mse,
               "psnr": None if result.mse == 0 else result.psnr, "seconds": round(seconds, 4),
               "colors_in": result.n_colours_in}
    if as_json:
        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        click.echo(f"quantize: {input_path!r} -> {output_path!r}: k={result.k} "
                   f"mse={result.mse:.3f} psnr={summary['psnr'] or 'inf'} "
                   f"seconds={seconds:.3f}", err=True)


# --------------------------------------------------------------------------
# Choosing k: elbow

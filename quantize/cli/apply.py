"""``quantize apply``: an image mapped onto an existing codebook."""

from __future__ import annotations

import click

from .options import (EXIT_CODES_HELP, _check_palette_size, _output_format, _refuse_terminals,
                      _reports_errors, _run_one, color_space_option, input_options, look_options,
                      output_options, report_options)


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
@report_options("k, codes used, inertia, MSE, PSNR and seconds")
@input_options
@_reports_errors
def apply_command(input_path, codebook_path, output_path, mode, out_format, as_json, quiet, verbose,
                  max_pixels, frame, max_scans, color_space="srgb", dither="none", background=None,
                  optimize=False, output_quality=None):
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
    fmt = _output_format(mode, out_format, output_path, output_quality)
    from ..io.files import check_paths

    check_paths([("input", input_path), ("codebook", codebook_path)], [("output", output_path)])
    from ..io.codebook import load_codebook
    from ..run.job import ImageJob

    codebook = load_codebook(codebook_path).colors
    _check_palette_size(mode, codebook=codebook, codebook_path=codebook_path)
    job = ImageJob(codebook=codebook, color_space=color_space, dither=dither,
                   background=background, mode=mode, fmt=fmt, optimize=optimize,
                   max_pixels=max_pixels, frame=frame, max_scans=max_scans,
                   output_quality=output_quality)
    _run_one(job, input_path, output_path, as_json=as_json, quiet=quiet, verbose=verbose,
             reads=[("codebook", codebook_path)], extra={"codebook": codebook_path})

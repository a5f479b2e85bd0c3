"""``quantize image``: one image into a palette PNG or a reconstructed image."""

from __future__ import annotations

import os

import click

from ..vocabulary import INIT_METHOD_NAMES
from .options import (EXIT_CODES_HELP, FiniteFloat, _check_palette_size, _codebook_format,
                      _output_format, _refuse_terminals, _reports_errors, _resolve_init, _run_one,
                      color_space_option, input_options, kmeans_options, look_options,
                      metric_option, output_options, report_options, sort_option, swatch_option)


@click.command("image", epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True, dir_okay=True))
@click.option("-o", "--output", "output_path", required=True,
              type=click.Path(allow_dash=True, dir_okay=False),
              help="Output file ('-' for standard output).")
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
def image(input_path, output_path, colors, max_iter, eps, init, attempts, seed, metric, mode,
          out_format, codebook_path, min_psnr, max_mse, swatch_path, as_json, quiet, verbose,
          max_pixels, frame, max_scans, color_space="srgb", sort="frequency", dither="none",
          background=None, optimize=False, output_quality=None):
    """Quantize one image IN into OUT ('-' reads stdin / writes stdout).

    With --min-psnr or --max-mse, -k is the most colours allowed and the
    fewest that reach the target are used (like pngquant's --quality).

    \b
    Examples:
      quantize image photo.jpg -k 16 -o photo-16.png --codebook photo-16.json
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
    if codebook_path == "-" and output_path == "-":
        raise click.UsageError("the image and the codebook cannot both go to standard output")
    _refuse_terminals(inputs=[input_path], output=output_path)
    fmt = _output_format(mode, out_format, output_path, output_quality)
    from ..io.files import check_paths
    from ..run.job import ImageJob

    reads = [] if init_label in INIT_METHOD_NAMES else [("--init codebook", init_label)]
    check_paths([("input", input_path), *reads], [("output", output_path),
                ("codebook", codebook_path), ("swatch", swatch_path)])
    _codebook_format(codebook_path, colors, "'--codebook'")

    job = ImageJob(k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                   metric=metric, color_space=color_space, sort=sort, target=target,
                   dither=dither, background=background, mode=mode, fmt=fmt, optimize=optimize,
                   max_pixels=max_pixels, frame=frame, max_scans=max_scans,
                   output_quality=output_quality)
    name = "stdin" if input_path == "-" else os.path.splitext(os.path.basename(input_path))[0]
    _run_one(job, input_path, output_path, as_json=as_json, quiet=quiet, verbose=verbose,
             codebook_path=codebook_path, swatch_path=swatch_path, init_label=init_label,
             name=name, reads=reads)

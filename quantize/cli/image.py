"""``quantize image``: one image into a palette PNG or a reconstructed image."""

from __future__ import annotations

import json
import os
import time
import warnings

import click

from ..vocabulary import INIT_METHOD_NAMES, METRICS
from .options import (CliError, EXIT_CODES_HELP, _echo_warnings, _output_format,
                      _refuse_terminals, _reports_errors, _resolve_init, color_space_option, input_options,
                      kmeans_options, look_options, sort_option)



@click.command("image", epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True, dir_okay=True))
@click.option("-o", "--output", "output_path", required=True,
              type=click.Path(allow_dash=True, dir_okay=False),
              help="Output file ('-' for standard output).")
@kmeans_options
@input_options
@click.option("--metric", type=click.Choice(list(METRICS)),
              default="euclidean", show_default=True,
              help="Distance the palette is fitted with: euclidean (k-means), manhattan "
                   "(k-medians, robust to outlying colours) or cosine (spherical k-means: "
                   "groups colours by direction, i.e. hue and saturation, not brightness).")
@click.option("--mode", type=click.Choice(["palette", "reconstruct"]), default="palette",
              show_default=True,
              help="palette: indexed PNG whose palette is the codebook; "
                   "reconstruct: every pixel replaced by its centroid, in the output's format.")
@click.option("--format", "out_format", type=click.Choice(["png", "jpeg", "webp", "tiff", "bmp"],
              case_sensitive=False), default=None,
              help="Output format in reconstruct mode (default: from the extension, PNG for '-').")
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the codebook to this file (which 'apply -c' and "
                   "'batch --codebook' read), in the format of its extension: .json, .gpl "
                   "(GIMP), .act (Adobe), .csv, .txt (hex lines) or .npy; '-' writes JSON.")
@click.option("--min-psnr", type=click.FloatRange(min=0), default=None, metavar="DB",
              help="Quality target: use the fewest colours, at most -k, whose PSNR is at least "
                   "DB (found by bisection on k). Unreachable: nothing written, exit 99.")
@click.option("--max-mse", type=click.FloatRange(min=0), default=None, metavar="MSE",
              help="Quality target as MSE (mean over all channel values, 0-255 units): the "
                   "fewest colours, at most -k, with MSE at most this. Unreachable: exit 99.")
@click.option("--swatch", "swatch_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG of the codebook: one square per code with its share of "
                   "the pixels.")
@color_space_option
@sort_option
@look_options
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with k, iterations, inertia, MSE, PSNR and seconds.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.option("-v", "--verbose", count=True, help="Print a summary; with an internal error, a traceback.")
@_reports_errors
def image(input_path, output_path, colors, max_iter, eps, init, attempts, seed, metric, mode,
          out_format, codebook_path, min_psnr, max_mse, swatch_path, as_json, quiet, verbose,
          max_pixels, frame, color_space="srgb", sort="frequency", dither="none",
          background=None, optimize=False):
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
        if init not in INIT_METHOD_NAMES:
            raise click.UsageError("--min-psnr/--max-mse choose k, and --init CODEBOOK fixes it; "
                                   "give one or the other")
        if metric != "euclidean":
            raise click.UsageError("--min-psnr/--max-mse search k with the euclidean metric; "
                                   f"drop --metric {metric} or the quality target")
        if color_space != "srgb":
            raise click.UsageError("--min-psnr/--max-mse search k in sRGB; "
                                   f"drop --color-space {color_space} or the quality target")
        from ..image.quality import QualityTarget

        target = QualityTarget(min_psnr=min_psnr, max_mse=max_mse)
    init_label = init
    init, colors = _resolve_init(init, colors)
    if mode == "palette" and colors > 256:
        raise click.BadParameter(f"palette mode holds at most 256 colours, got {colors}; "
                                 "use --mode reconstruct for more", param_hint="'-k' / '--colors'")
    _refuse_terminals(inputs=[input_path], output=output_path)
    from ..io.files import check_not_input

    fmt = _output_format(mode, out_format, output_path)
    check_not_input(output_path, [input_path])
    if codebook_path is not None:
        if codebook_path == "-" and output_path == "-":
            raise click.UsageError("the image and the codebook cannot both go to standard output")
        check_not_input(codebook_path, [input_path])
        if codebook_path != "-" and os.path.abspath(codebook_path) == os.path.abspath(output_path):
            raise CliError(f"{codebook_path!r}: the codebook and the image cannot be the same file", 73)
    if swatch_path is not None:
        check_not_input(swatch_path, [input_path])
        for other, what in ((output_path, "image"), (codebook_path, "codebook")):
            if other not in (None, "-") and os.path.abspath(swatch_path) == os.path.abspath(other):
                raise CliError(f"{swatch_path!r}: the swatch and the {what} cannot be the same file", 73)
    codebook_format = "json"
    if codebook_path not in (None, "-"):
        from ..io.codebook import codebook_format as format_of_codebook

        try:
            codebook_format = format_of_codebook(codebook_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--codebook'") from None
    if codebook_format == "act" and colors > 256:
        raise click.BadParameter(f"an Adobe Color Table holds at most 256 colours, got -k {colors}",
                                 param_hint="'--codebook'")

    from ..io.codebook import encode_codebook
    from ..io.files import write_all
    from ..run.job import ImageJob, encode_image, recorded_options

    job = ImageJob(k=colors, max_iter=max_iter, eps=eps, init=init, attempts=attempts, seed=seed,
                   metric=metric, color_space=color_space, sort=sort, target=target,
                   dither=dither, background=background, mode=mode, fmt=fmt, optimize=optimize,
                   max_pixels=max_pixels, frame=frame)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded = encode_image(job, input_path, output_path)
    result, data, search = encoded.result, encoded.data, encoded.search
    _echo_warnings(caught, quiet)
    outputs = [(output_path, data)]
    options = recorded_options(job, result, init_label)
    if codebook_path is not None:
        from ..image.transparency import codebook_rows

        colours, counts, alpha = codebook_rows(result.codebook, result.counts)
        if alpha is not None:
            options["alpha"] = alpha
        name = "stdin" if input_path == "-" else os.path.splitext(os.path.basename(input_path))[0]
        outputs.append((codebook_path, encode_codebook(
            colours, codebook_format, counts=counts, inertia=result.inertia, options=options,
            name=f"{name} k={result.k}", fit=(result.n_iter, result.converged))))
    if swatch_path is not None:
        from ..io.plot import render_swatch

        from ..image.transparency import codebook_rows

        outputs.append((swatch_path, render_swatch(*codebook_rows(result.codebook, result.counts)[:2])))
    # Both files or neither: a failed Make rule leaves no target behind.
    write_all(outputs)
    seconds = time.perf_counter() - started

    summary = {
        "input": input_path, "output": output_path, "k": result.k, "k_requested": colors,
        "iterations": result.n_iter, "converged": result.converged, "inertia": result.inertia,
        "mse": result.mse, "psnr": None if result.mse == 0 else result.psnr,
        "seconds": round(seconds, 4), "colors_in": result.n_colours_in,
    }
    if search is not None:
        # k_chosen reaches the target and k_chosen - 1 does not (same options and seed).
        summary["target"] = dict(target.as_dict(), k_max=colors, k_chosen=search.k,
                                 probes=search.probes_list())
    if as_json:
        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        chosen = f" (fewest colours for {target.describe()})" if target is not None else ""
        click.echo(f"quantize: {input_path!r} -> {output_path!r}: k={result.k}{chosen} "
                   f"iterations={result.n_iter} mse={result.mse:.3f} psnr={summary['psnr'] or 'inf'} "
                   f"seconds={seconds:.3f}", err=True)

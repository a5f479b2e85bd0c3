"""The command line: the only module that imports click (and, later, tqdm).

Thin: it parses options, calls the library, and turns library errors into
click exceptions that carry the documented exit codes. numpy and Pillow are
imported inside the commands, so ``quantize --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
import warnings

import click

from . import __version__
from .errors import EXIT_CODES, QuantizeError, QuantizeWarning

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)

DEFAULTS = {"colors": 16, "max_iter": 100, "eps": 0.25, "init": "kmeans++", "attempts": 1, "seed": 0}


class CliError(click.ClickException):
    """A one-line error with an exit code: ``quantize: error: 'path': problem``."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"quantize: error: {self.format_message()}", err=True)


def _reports_errors(fn):
    """Convert library errors, interrupts and bugs into CliError exit codes."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verbose = kwargs.get("verbose", 0)
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except QuantizeError as exc:
            raise CliError(exc.format_message(), exc.exit_code) from None
        except KeyboardInterrupt:
            raise CliError("interrupted", 130) from None
        except BrokenPipeError:
            # The reader went away (`| head`): end quietly, as filters do.
            _silence_stdout()
            sys.exit(0)
        except Exception as exc:  # a bug: short message unless -v
            if verbose:
                traceback.print_exc()
            raise CliError(f"internal error: {type(exc).__name__}: {exc}", 70) from None

    return wrapper


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _echo_warnings(caught, quiet: bool) -> None:
    if quiet:
        return
    for w in caught:
        if issubclass(w.category, (QuantizeWarning, UserWarning, RuntimeWarning)):
            click.echo(f"quantize: warning: {w.message}", err=True)


def kmeans_options(fn):
    """The k-means options shared by every command that fits a codebook."""
    options = [
        click.option("-k", "--colors", type=click.IntRange(min=1), default=DEFAULTS["colors"],
                     show_default=True, help="Number of colours (k). At most 256 in palette mode."),
        click.option("--max-iter", type=click.IntRange(min=1), default=DEFAULTS["max_iter"],
                     show_default=True, help="Most Lloyd iterations per attempt."),
        click.option("--eps", type=click.FloatRange(min=0), default=DEFAULTS["eps"],
                     show_default=True,
                     help="Stop once no centre moves more than this (0-255 units)."),
        click.option("--init", type=click.Choice(["kmeans++", "random"]),
                     default=DEFAULTS["init"], show_default=True, help="How to pick the first centres."),
        click.option("--attempts", type=click.IntRange(min=1), default=DEFAULTS["attempts"],
                     show_default=True, help="Independent runs; the lowest inertia wins."),
        click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True,
                     help="Random seed; the same seed gives the same bytes."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantize")
def cli():
    """Reduce the colours of images with k-means.

    Reads an image, clusters its colours with weighted k-means, and writes an
    indexed palette PNG (or the reconstructed image) plus, optionally, the
    codebook as JSON.
    """


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True, dir_okay=True))
@click.option("-o", "--output", "output_path", required=True,
              type=click.Path(allow_dash=True, dir_okay=False),
              help="Output file ('-' for standard output).")
@kmeans_options
@click.option("--metric", type=click.Choice(["euclidean", "manhattan", "cosine"]),
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
              help="Also write the codebook as JSON to this file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with k, iterations, inertia, MSE, PSNR and seconds.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.option("-v", "--verbose", count=True, help="Print a summary; with an internal error, a traceback.")
@_reports_errors
def image(input_path, output_path, colors, max_iter, eps, init, attempts, seed, metric, mode,
          out_format, codebook_path, as_json, quiet, verbose):
    """Quantize one image IN into OUT ('-' reads stdin / writes stdout).

    \b
    Examples:
      quantize image photo.jpg -k 16 -o photo-16.png --codebook photo-16.json
      quantize image photo.jpg -k 64 --mode reconstruct -o photo-64.jpg
    """
    if mode == "palette" and colors > 256:
        raise click.BadParameter(f"palette mode holds at most 256 colours, got {colors}; "
                                 "use --mode reconstruct for more", param_hint="'-k' / '--colors'")
    if output_path == "-" and sys.stdout.isatty():
        raise click.UsageError("refusing to write binary image data to a terminal; "
                               "redirect standard output or give -o FILE")
    from .imageio import check_not_input, format_for_path
    if mode == "palette":
        fmt = "PNG"
        if output_path != "-" and format_for_path(output_path, default="PNG") != "PNG":
            raise click.BadParameter(f"palette mode writes PNG, not {output_path!r}; "
                                     "use --mode reconstruct for other formats",
                                     param_hint="'-o' / '--output'")
    elif out_format:
        fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}[out_format.lower()]
    elif output_path == "-":
        fmt = "PNG"
    else:
        try:
            fmt = format_for_path(output_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
    check_not_input(output_path, [input_path])
    if codebook_path is not None:
        if codebook_path == "-" and output_path == "-":
            raise click.UsageError("the image and the codebook cannot both go to standard output")
        check_not_input(codebook_path, [input_path])
        if codebook_path != "-" and os.path.abspath(codebook_path) == os.path.abspath(output_path):
            raise CliError(f"{codebook_path!r}: the codebook and the image cannot be the same file", 73)

    from .codebook import codebook_to_dict, dumps_codebook
    from .imageio import encode_palette_png, encode_rgb, load_rgb, write_all
    from .pipeline import quantize_image

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = load_rgb(input_path)
        result = quantize_image(pixels, colors, max_iter=max_iter, eps=eps, init=init,
                                attempts=attempts, seed=seed, metric=metric)
    _echo_warnings(caught, quiet)
    if mode == "palette":
        data = encode_palette_png(result.labels, result.codebook)
    else:
        data = encode_rgb(result.reconstruct(), fmt)
    outputs = [(output_path, data)]
    options = dict(result.options, mode=mode, color_space="srgb")
    if metric != "euclidean":
        options["metric"] = metric
    if codebook_path is not None:
        doc = codebook_to_dict(result.codebook, result.counts, inertia=result.inertia, options=options)
        outputs.append((codebook_path, dumps_codebook(doc)))
    # Both files or neither: a failed Make rule leaves no target behind.
    write_all(outputs)
    seconds = time.perf_counter() - started

    summary = {
        "input": input_path, "output": output_path, "k": result.k, "k_requested": colors,
        "iterations": result.n_iter, "converged": result.converged, "inertia": result.inertia,
        "mse": result.mse, "psnr": None if result.mse == 0 else result.psnr,
        "seconds": round(seconds, 4), "colors_in": result.n_colours_in,
    }
    if as_json:
        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        click.echo(f"quantize: {input_path!r} -> {output_path!r}: k={result.k} "
                   f"iterations={result.n_iter} mse={result.mse:.3f} psnr={summary['psnr'] or 'inf'} "
                   f"seconds={seconds:.3f}", err=True)


def main(argv=None) -> None:
    """Entry point of the ``quantize`` console script."""
    try:
        cli.main(args=argv, prog_name="quantize")
    except KeyboardInterrupt:  # outside a command, e.g. while importing
        click.echo("quantize: error: interrupted", err=True)
        sys.exit(130)

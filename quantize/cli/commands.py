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

from .. import __version__
from ..errors import EXIT_CODES, QuantizeError, QuantizeWarning
from ..vocabulary import (COLOR_SPACES, DITHER_METHODS, FORMAT_NAMES, INIT_METHOD_NAMES, METRICS,
                          SORT_RULES)

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)

DEFAULTS = {"colors": 16, "max_iter": 100, "eps": 0.25, "init": "kmeans++", "attempts": 1, "seed": 0}

#: Default of --max-pixels, equal to quantize.io.decode.DEFAULT_MAX_PIXELS (2**28,
#: 16384 x 16384); repeated here so that --help imports neither numpy nor Pillow.
MAX_PIXELS_DEFAULT = 1 << 28


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




class InitType(click.ParamType):
    """``--init``: a method name, or the path of a codebook file (any format)
    whose colours become the initial centres."""

    name = "init"

    def get_metavar(self, param, ctx=None):
        return "[kmeans++|random|CODEBOOK]"

    def convert(self, value, param, ctx):
        if value in INIT_METHOD_NAMES or not isinstance(value, str):
            return value
        if os.path.isfile(value):
            return value
        self.fail(f"{value!r} is neither kmeans++, random nor an existing codebook file "
                  "(.json, .gpl, .act, .csv, .txt, .npy)", param, ctx)


class KSpecType(click.ParamType):
    """A set of k: ``a..b``, ``a..b..s``, ``a,b,c`` or a mix, as a sorted list."""

    name = "ks"

    def get_metavar(self, param, ctx=None):
        return "A..B[..STEP]|K,K,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        from ..image.elbow import parse_k_spec

        try:
            return parse_k_spec(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _resolve_init(init, colors, *, quiet=False):
    """(init for the library, k) from --init and -k.

    A codebook file given to --init supplies the initial centres; k is then
    its number of distinct colours, and an explicit -k that disagrees is a
    usage error.
    """
    if init in INIT_METHOD_NAMES:
        return init, colors
    import numpy as np

    from ..io.codebook import load_codebook

    colours = load_codebook(init).colors
    _, first = np.unique(colours, axis=0, return_index=True)
    centres = colours[np.sort(first)].astype(np.float64)
    k = int(centres.shape[0])
    ctx = click.get_current_context()
    source = ctx.get_parameter_source("colors")
    if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT") and colors != k:
        raise click.BadParameter(f"--init {init!r} has {k} distinct colours, so k is {k}; "
                                 f"drop -k or give -k {k}, got {colors}", param_hint="'-k' / '--colors'")
    return centres, k


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
        click.option("--init", type=InitType(), default=DEFAULTS["init"], show_default=True,
                     help="How to pick the first centres: kmeans++, random, or a codebook file "
                          "(.json, .gpl, .act, .csv, .txt, .npy) whose colours are the initial "
                          "centres (k is then its number of colours)."),
        click.option("--attempts", type=click.IntRange(min=1), default=DEFAULTS["attempts"],
                     show_default=True, help="Independent runs; the lowest inertia wins."),
        click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True,
                     help="Random seed; the same seed gives the same bytes."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn



#: Colour names --background accepts besides hex and r,g,b.
COLOUR_NAMES = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128),
                "gray": (128, 128, 128), "red": (255, 0, 0), "green": (0, 128, 0),
                "blue": (0, 0, 255)}


def parse_colour(text: str):
    """An (r, g, b) tuple from '#rrggbb', 'rrggbb', '#rgb', 'r,g,b' or a name.

    >>> parse_colour("#ff8000"), parse_colour("#fff"), parse_colour("10, 20, 30")
    ((255, 128, 0), (255, 255, 255), (10, 20, 30))
    """
    value = text.strip().lower()
    if value in COLOUR_NAMES:
        return COLOUR_NAMES[value]
    if "," in value:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
            return tuple(int(p) for p in parts)
        raise ValueError(f"{text!r}: r,g,b needs three integers in 0..255")
    digits = value[1:] if value.startswith("#") else value
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
        return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    raise ValueError(f"{text!r} is not a colour: use #rrggbb, #rgb, r,g,b or one of "
                     f"{', '.join(sorted(COLOUR_NAMES))}")


class ColourType(click.ParamType):
    """--background: a colour as #rrggbb, #rgb, r,g,b or a name."""

    name = "colour"

    def get_metavar(self, param, ctx=None):
        return "COLOR"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_colour(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def color_space_option(fn):
    """--color-space, for every command that fits or applies a codebook."""
    return click.option(
        "--color-space", "color_space", type=click.Choice(COLOR_SPACES), default="srgb",
        show_default=True,
        help="Where colours are compared: srgb (the pixel values; lowest MSE), oklab or lab "
             "(perceptual: lower ΔE, often better-looking, slightly lower PSNR). k-means runs "
             "there and every colour takes its nearest code there.")(fn)


def sort_option(fn):
    """--sort: the palette order of a fitted codebook."""
    return click.option(
        "--sort", "sort", type=click.Choice(SORT_RULES), default="frequency", show_default=True,
        help="Palette order: frequency (most used first, ties by colour value), luminance "
             "(darkest first) or none (the order k-means found; with --init CODEBOOK, that "
             "codebook's). Entries with transparency always come first.")(fn)


def look_options(fn):
    """--dither, --background and --optimize, for every command that writes images."""
    options = [
        click.option("--dither", type=click.Choice(DITHER_METHODS), default="none",
                     show_default=True,
                     help="none, floyd-steinberg (error diffusion: smooth gradients, noisier "
                          "pixels) or ordered (Bayer 8x8 pattern). Only codebook colours are used."),
        click.option("--background", type=ColourType(), default=None,
                     help="Flatten transparency onto this colour (#rrggbb, #rgb, r,g,b or a "
                          "name) first.  [default: keep alpha: a reserved transparent palette "
                          "entry, RGBA output where the format has alpha]"),
        click.option("--optimize", is_flag=True,
                     help="Smallest PNG files: compress with several zlib settings (levels 6 and "
                          "9, two strategies) and keep the smallest; a few times slower."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def input_options(fn):
    """--max-pixels and --frame, for every command that reads images."""
    options = [
        click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS_DEFAULT,
                     show_default=True, metavar="N",
                     help="Refuse an image whose header claims more than N pixels (width x "
                          "height), before decoding it (exit 65); the default is 16384 x 16384."),
        click.option("--frame", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Frame of an animated GIF, APNG or WebP (page of a TIFF) to read, "
                          "counting from 0.  [default: the first, with a warning]"),
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
    from ..io.encode import format_for_path
    from ..io.files import check_not_input
    if mode == "palette":
        fmt = "PNG"
        if output_path != "-" and format_for_path(output_path, default="PNG") != "PNG":
            raise click.BadParameter(f"palette mode writes PNG, not {output_path!r}; "
                                     "use --mode reconstruct for other formats",
                                     param_hint="'-o' / '--output'")
    elif out_format:
        fmt = FORMAT_NAMES[out_format.lower()]
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
    from ..run.job import ImageJob, encode_image

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
    options = dict(result.options, init=init_label, mode=mode, color_space=color_space)
    if metric != "euclidean":
        options["metric"] = metric
    if target is not None:
        options.update(k_max=colors, min_psnr=min_psnr, max_mse=max_mse)
    options.update(_look_record(sort=sort, dither=dither, background=background))
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


def _look_record(*, sort=None, dither="none", background=None) -> dict:
    """The look options (colour space, sort, dither, background) worth recording in a codebook file, when not the defaults."""
    out = {}
    if sort not in (None, "frequency"):
        out["sort"] = sort
    if dither != "none":
        out["dither"] = dither
    if background is not None:
        out["background"] = "#{:02x}{:02x}{:02x}".format(*background)
    return out


# --------------------------------------------------------------------------
# Many images, shared palettes: batch, palette, apply



def output_options(fn):
    """--mode and --format, as in `image`."""
    options = [
        click.option("--mode", type=click.Choice(["palette", "reconstruct"]), default="palette",
                     show_default=True,
                     help="palette: indexed PNG whose palette is the codebook; "
                          "reconstruct: every pixel replaced by its code's colour."),
        click.option("--format", "out_format", type=click.Choice(sorted(FORMAT_NAMES), case_sensitive=False),
                     default=None, help="Output format in reconstruct mode."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def scheduler_options(fn):
    """--scheduler and --scheduler-timeout: run the work on a Dask cluster."""
    options = [
        click.option("--scheduler", metavar="ADDRESS", envvar="QUANTIZE_SCHEDULER",
                     default=None, show_envvar=True,
                     help="Run the work on a Dask cluster: tcp://HOST:PORT of its scheduler, or "
                          "'local-dask' for a LocalCluster on 127.0.0.1 (-j workers). Inputs and "
                          "outputs must be at the same paths on every worker. Needs the extra "
                          "quantize[dask].  [default: local worker processes]"),
        click.option("--scheduler-timeout", type=click.FloatRange(min=0, min_open=True),
                     default=10.0, show_default=True, metavar="SECONDS",
                     help="How long to wait for the scheduler to answer (else exit 69)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _dask_client(scheduler, timeout, workers=None):
    """A context manager yielding a Dask client for ``scheduler``, or None without one."""
    import contextlib

    if not scheduler:
        return contextlib.nullcontext(None)
    from ..run.distributed import DaskMissingError, connect, require_dask

    try:
        require_dask()
    except DaskMissingError as exc:
        raise click.UsageError(str(exc)) from None
    return connect(scheduler, timeout=timeout, workers=workers)


def _refuse_terminals(inputs=(), output=None) -> None:
    """Usage errors for binary data to a terminal, or '-' read from a terminal."""
    if output == "-" and sys.stdout is not None and sys.stdout.isatty():
        raise click.UsageError("refusing to write binary image data to a terminal; "
                               "redirect standard output or give -o FILE")
    if "-" in inputs and sys.stdin is not None and sys.stdin.isatty():
        raise click.UsageError("'-' reads an image from standard input, which is a terminal; "
                               "redirect it or give a file")


def _check_palette_format(mode, out_format, output_path=None) -> None:
    if mode != "palette":
        return
    if out_format and out_format.lower() != "png":
        raise click.BadParameter(f"palette mode writes PNG, not {out_format}; "
                                 "use --mode reconstruct for other formats",
                                 param_hint="'--format'")
    if output_path not in (None, "-"):
        from ..io.encode import format_for_path
        if format_for_path(output_path, default="PNG") != "PNG":
            raise click.BadParameter(f"palette mode writes PNG, not {output_path!r}; "
                                     "use --mode reconstruct for other formats",
                                     param_hint="'-o' / '--output'")


def _explicit(names) -> list:
    """Those of the parameters ``names`` given on the command line (or environment)."""
    ctx = click.get_current_context()
    given = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append(name)
    return given


@cli.command(epilog=EXIT_CODES_HELP)
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
          color_space="srgb", sort="frequency", dither="none", background=None, optimize=False):
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
        background=background, optimize=optimize)
    items = batchlib.plan_batch(sources, outdir, settings, recursive=recursive, patterns=patterns)
    if not items and not quiet:
        click.echo("quantize: warning: no input images found", err=True)
    if report_path is not None:
        from ..io.files import check_not_input

        check_not_input(report_path, [item.input for item in items])

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
    if as_json:
        click.echo(json.dumps(summary.to_json()))
    elif not quiet:
        click.echo(f"quantize: {summary.describe()}", err=True)
    if summary.interrupted:
        raise CliError("interrupted", 130)
    if summary.exit_code:
        raise click.exceptions.Exit(summary.exit_code)


@cli.command(epilog=EXIT_CODES_HELP)
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
    options.update(_look_record(sort=sort, background=background))
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


@cli.command("apply", epilog=EXIT_CODES_HELP)
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
    _check_palette_format(mode, out_format, output_path)
    from ..io.encode import format_for_path
    from ..io.files import check_not_input

    if mode == "palette":
        fmt = "PNG"
    elif out_format:
        fmt = FORMAT_NAMES[out_format.lower()]
    elif output_path == "-":
        fmt = "PNG"
    else:
        try:
            fmt = format_for_path(output_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
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

@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True))
@click.option("-k", "--k", "ks", type=KSpecType(), default="2..32", show_default=True,
              help="The k to try: a range 2..64, a stepped range 2..64..2, a list 4,8,16, "
                   "or a mix (2..16,24,32).")
@click.option("--max-iter", type=click.IntRange(min=1), default=DEFAULTS["max_iter"],
              show_default=True, help="Most Lloyd iterations per attempt.")
@click.option("--eps", type=click.FloatRange(min=0), default=DEFAULTS["eps"], show_default=True,
              help="Stop once no centre moves more than this (0-255 units).")
@click.option("--init", type=click.Choice(list(INIT_METHOD_NAMES)), default=DEFAULTS["init"],
              show_default=True, help="How to pick the first centres.")
@click.option("--attempts", type=click.IntRange(min=1), default=DEFAULTS["attempts"],
              show_default=True, help="Independent runs per k; the lowest inertia wins.")
@click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True,
              help="Random seed, the same for every k.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the MSE curve as a PNG, with the suggested k marked.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the table as one JSON object instead.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.option("-v", "--verbose", count=True,
              help="Print each k as it is done; with an internal error, a traceback.")
@input_options
@_reports_errors
def elbow(input_path, ks, max_iter, eps, init, attempts, seed, plot_path, as_json, quiet, verbose,
          max_pixels, frame):
    """Distortion of IN for a range of k, and a suggested k: the elbow method.

    The image is read and its colours counted once; a codebook is fitted for
    every k (each as 'quantize image -k K' with the same options would fit
    it) and its inertia, MSE and PSNR are printed as a table. The suggested
    k is the knee of the MSE curve: the point farthest below the chord from
    the first point to the last, with k and MSE each scaled to [0, 1].

    \b
    The curve never increases: where k-means with k colours lands in a worse
    local minimum than with the previous k, that k is fitted again from the
    previous codebook plus the colours that most reduce the error, and is
    flagged 'w' in the table ("warm_start" in JSON).

    \b
    Examples:
      quantize elbow photo.jpg --k 2..64 --plot elbow.png
      quantize elbow photo.jpg --k 4,8,16,32,64,128 --json
    """
    if input_path == "-" and sys.stdin is not None and sys.stdin.isatty():
        raise click.UsageError("'-' reads an image from standard input, which is a terminal; "
                               "redirect it or give a file")
    if plot_path is not None:
        from ..io.files import check_not_input

        check_not_input(plot_path, [input_path])

    from ..image.elbow import KNEE_METHOD, sweep
    from ..core.histogram import colour_histogram, pixel_keys
    from ..io.decode import load_rgb
    from ..io.files import write_bytes

    def progress(point) -> None:
        if verbose:
            click.echo(f"quantize: k={point.k} mse={point.mse:.3f}", err=True)

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = load_rgb(input_path, max_pixels=max_pixels, frame=frame)
        hist = colour_histogram(pixel_keys(pixels))
        result = sweep(hist, ks, max_iter=max_iter, eps=eps, init=init, attempts=attempts,
                       seed=seed, callback=progress)
    _echo_warnings(caught, quiet)
    if plot_path is not None:
        from ..io.plot import render_elbow

        name = "standard input" if input_path == "-" else os.path.basename(input_path)
        write_bytes(plot_path, render_elbow(
            result.ks, result.mse, suggested=result.suggested_k, title=f"Elbow: {name}",
            psnr=[p.psnr for p in result.points]))
    seconds = time.perf_counter() - started

    if as_json:
        doc = {"input": input_path, **result.as_dict(), "plot": plot_path,
               "options": {"max_iter": max_iter, "eps": eps, "init": init, "attempts": attempts,
                           "seed": seed},
               "seconds": round(seconds, 4)}
        click.echo(json.dumps(doc))
        return
    click.echo(f"{'k':>6} {'codes':>6} {'inertia':>14} {'mse':>11} {'psnr':>7}")
    for p in result.points:
        mark = ("*" if p.k == result.suggested_k else " ") + ("w" if p.warm_start else " ")
        psnr = "inf" if p.mse <= 0 else f"{p.psnr:.2f}"
        click.echo(f"{mark}{p.k:>4} {p.codes:>6} {p.inertia:>14.6g} {p.mse:>11.3f} {psnr:>7}")
    if result.suggested_k is None:
        click.echo("suggested k: none (fewer than three k, or no knee in the curve)")
    else:
        click.echo(f"suggested k: {result.suggested_k} (*: {KNEE_METHOD})")
    if any(p.warm_start for p in result.points):
        click.echo("w: warm-started from the previous codebook, as the independent fit was worse")
    if verbose:
        click.echo(f"quantize: {input_path!r}: {len(result.points)} k in {seconds:.3f} s "
                   f"({result.n_colours} colours, {result.n_pixels} pixels)", err=True)


def main(argv=None) -> None:
    """Entry point of the ``quantize`` console script."""
    try:
        cli.main(args=argv, prog_name="quantize")
    except KeyboardInterrupt:  # outside a command, e.g. while importing
        click.echo("quantize: error: interrupted", err=True)
        sys.exit(130)

"""What the commands share: option groups, parameter types, error reporting.

The only layer that imports click (and, later, tqdm). numpy and Pillow are
imported inside the commands, so ``quantize --help`` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys

import click

from ..errors import EXIT_CODES, OutOfMemoryError, QuantizeError, QuantizeWarning, Terminated
from ..run.job import ImageJob
from ..vocabulary import (COLOR_SPACES, DITHER_METHODS, FORMAT_NAMES, INIT_METHOD_NAMES,
                          METRICS, PALETTE_FORMATS, QUALITY_FORMATS, SORT_RULES)

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)

#: The k-means options' defaults: those of the image job, the one options object.
DEFAULTS = {"colors": ImageJob.k, "max_iter": ImageJob.max_iter, "eps": ImageJob.eps,
            "init": ImageJob.init, "attempts": ImageJob.attempts, "seed": ImageJob.seed}

#: Default of --max-pixels, equal to quantize.io.decode.DEFAULT_MAX_PIXELS (2**28,
#: 16384 x 16384); repeated here so that --help imports neither numpy nor Pillow.
MAX_PIXELS_DEFAULT = 1 << 28
#: Default of --max-scans, equal to quantize.io.decode.DEFAULT_MAX_SCANS.
MAX_SCANS_DEFAULT = 500


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
        except Terminated:
            raise CliError("terminated", 143) from None
        except MemoryError:
            exc = OutOfMemoryError(kwargs.get("input_path"))
            raise CliError(exc.format_message(), exc.exit_code) from None
        except KeyboardInterrupt:
            raise CliError("interrupted", 130) from None
        except BrokenPipeError:
            # The reader went away (`| head`): end quietly, as filters do.
            _silence_stdout()
            sys.exit(0)
        except Exception as exc:  # a bug: short message unless -v
            if verbose:
                import traceback

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




class FiniteFloat(click.FloatRange):
    """A float in a range that is also finite: NaN and infinity are usage errors (exit 2)."""

    name = "float"

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: --seed: numpy seeds are non-negative integers.
SEED_TYPE = click.IntRange(min=0)


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
                     show_default=True,
                     help=("Most Lloyd iterations of the last stage (on every distinct "
                           "colour), per attempt.")),
        click.option("--eps", type=FiniteFloat(min=0), default=DEFAULTS["eps"],
                     show_default=True,
                     help=("The last stage stops once no centre moves more than this "
                           "(0-255 units).")),
        click.option("--init", type=InitType(), default=DEFAULTS["init"], show_default=True,
                     help="How to pick the first centres: kmeans++, random, or a codebook file "
                          "(.json, .gpl, .act, .csv, .txt, .npy) whose colours are the initial "
                          "centres (k is then its number of colours)."),
        click.option("--attempts", type=click.IntRange(min=1), default=DEFAULTS["attempts"],
                     show_default=True, help="Independent runs; the lowest inertia wins."),
        click.option("--seed", type=SEED_TYPE, default=DEFAULTS["seed"], show_default=True,
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
    """--max-pixels, --frame and --max-scans, for every command that reads images."""
    options = [
        click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS_DEFAULT,
                     show_default=True, metavar="N",
                     help="Refuse an image whose header claims more than N pixels (width x "
                          "height), before decoding it (exit 65); the default is 16384 x 16384."),
        click.option("--frame", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Frame of an animated GIF, APNG or WebP (page of a TIFF) to read, "
                          "counting from 0.  [default: the first, with a warning]"),
        click.option("--max-scans", type=click.IntRange(min=1), default=MAX_SCANS_DEFAULT,
                     show_default=True, metavar="N",
                     help="Refuse a JPEG with more than N scans before decoding it (exit 65): "
                          "one that repeats its scans decodes for minutes whatever its size."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# --------------------------------------------------------------------------
# Many images, shared palettes: batch, palette, apply



def output_options(fn):
    """--mode, --format and --output-quality, for every command that writes images."""
    options = [
        click.option("--mode", type=click.Choice(["palette", "reconstruct"]), default="palette",
                     show_default=True,
                     help="palette: indexed PNG (or GIF) whose palette is the codebook; "
                          "reconstruct: every pixel replaced by its code's colour, in the "
                          "output's format."),
        click.option("--format", "out_format", type=click.Choice(sorted(FORMAT_NAMES), case_sensitive=False),
                     default=None,
                     help="Output format (default: from the extension, PNG for '-'). Palette "
                          "mode writes png or gif; gif's palette is the codebook in either mode "
                          "(at most 256 colours; transparency kept, translucency refused). avif "
                          "needs a Pillow with AVIF."),
        click.option("--output-quality", "output_quality", type=click.IntRange(1, 100),
                     default=None, metavar="N",
                     help="Quality 1-100 of a lossy output in reconstruct mode: JPEG, WebP, "
                          "AVIF. --json then also reports the file's own written_mse and "
                          "written_psnr.  [default: JPEG 95, AVIF 90, WebP lossless]"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def metric_option(fn):
    """--metric: the distance a palette is fitted with."""
    return click.option(
        "--metric", type=click.Choice(list(METRICS)), default="euclidean", show_default=True,
        help="Distance the palette is fitted with: euclidean (k-means), manhattan "
             "(k-medians, robust to outlying colours) or cosine (spherical k-means: "
             "groups colours by direction, i.e. hue and saturation, not brightness).")(fn)


def swatch_option(fn):
    """--swatch: a PNG of the codebook."""
    return click.option(
        "--swatch", "swatch_path", type=click.Path(dir_okay=False), default=None,
        help="Also write a PNG of the codebook: one square per code with its share of "
             "the pixels.")(fn)


def report_options(what):
    """--json, -q and -v; ``what`` lists the figures --json prints."""
    def decorate(fn):
        options = [
            click.option("--json", "as_json", is_flag=True,
                         help=f"Print one JSON object with {what}."),
            click.option("-q", "--quiet", is_flag=True, help="Print no warnings."),
            click.option("-v", "--verbose", count=True,
                         help="Print a summary; with an internal error, a traceback."),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def _codebook_format(path, k, param_hint) -> str:
    """The format of a codebook file to write (JSON for '-'), checked to hold k colours."""
    fmt = "json"
    if path not in (None, "-"):
        from ..io.codebook import codebook_format

        try:
            fmt = codebook_format(path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=param_hint) from None
    if fmt == "act" and k > 256:
        raise click.BadParameter(f"an Adobe Color Table holds at most 256 colours, got -k {k}",
                                 param_hint=param_hint)
    return fmt


def _run_one(job, input_path, output_path, *, as_json, quiet, verbose, extra=None,
             **outputs) -> dict:
    """Run the image job on one file, write its outputs, print its warnings and figures.

    ``outputs`` go to :func:`quantize.run.job.write_image`; ``extra`` adds
    to the figures.
    """
    import time
    import warnings

    from ..run.job import image_summary, write_image

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded = write_image(job, input_path, output_path, **outputs)
    _echo_warnings(caught, quiet)
    summary = image_summary(job, encoded, input_path, output_path, time.perf_counter() - started)
    summary.update(extra or {})
    if job.skip_if_larger:
        summary["written"] = encoded.written
    if as_json:
        import json

        click.echo(json.dumps(summary), err=output_path == "-")
    elif verbose:
        chosen = f" (fewest colours for {job.target.describe()})" if encoded.search else ""
        iterations = f" iterations={summary['iterations']}" if "iterations" in summary else ""
        psnr = "inf" if summary["psnr"] is None else f"{summary['psnr']:.2f}"
        written = ""
        if "written_mse" in summary:
            written_psnr = summary["written_psnr"]
            written = (f" written: quality={summary['output_quality']} "
                       f"mse={summary['written_mse']:.3f} psnr="
                       + ("inf" if written_psnr is None else f"{written_psnr:.2f}"))
        click.echo(f"quantize: {input_path!r} -> {output_path!r}: k={summary['k']}{chosen}"
                   f"{iterations} mse={summary['mse']:.3f} psnr={psnr}{written} "
                   f"seconds={summary['seconds']:.3f}", err=True)
    if not encoded.written:
        from ..errors import NotSmallerError

        raise NotSmallerError(output_path, f"not written: {len(encoded.data)} bytes would not be "
                                           f"smaller than the input's (--skip-if-larger)")
    return summary


def scheduler_options(fn):
    """--scheduler and --scheduler-timeout: run the work on a Dask cluster."""
    options = [
        click.option("--scheduler", metavar="ADDRESS", envvar="QUANTIZE_SCHEDULER",
                     default=None, show_envvar=True,
                     help="Run the work on a Dask cluster: tcp://HOST:PORT of its scheduler, or "
                          "'local-dask' for a LocalCluster on 127.0.0.1 (-j workers). Inputs and "
                          "outputs must be at the same paths on every worker. Needs the extra "
                          "quantize[dask].  [default: local worker processes]"),
        click.option("--scheduler-timeout", type=FiniteFloat(min=0, min_open=True),
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
    if out_format and FORMAT_NAMES[out_format.lower()] not in PALETTE_FORMATS:
        raise click.BadParameter(f"palette mode writes PNG or GIF, not {out_format}; "
                                 "use --mode reconstruct for other formats",
                                 param_hint="'--format'")
    if output_path not in (None, "-"):
        from ..io.encode import format_for_path
        if format_for_path(output_path, default="PNG") not in PALETTE_FORMATS:
            raise click.BadParameter(f"palette mode writes PNG or GIF, not {output_path!r}; "
                                     "use --mode reconstruct for other formats",
                                     param_hint="'-o' / '--output'")


def _check_output_quality(mode, fmt, quality) -> None:
    """--output-quality applies to a lossy format in reconstruct mode; refuse it elsewhere.

    ``fmt`` is the Pillow format, or None when each output keeps its input's
    (a batch): the quality then applies to the outputs that take one.
    """
    if quality is None:
        return
    if mode == "palette":
        raise click.BadParameter("palette mode writes a lossless PNG or GIF; --output-quality "
                                 "applies to JPEG, WebP and AVIF in --mode reconstruct",
                                 param_hint="'--output-quality'")
    if fmt is not None and fmt not in QUALITY_FORMATS:
        raise click.BadParameter(f"{fmt} is lossless; --output-quality applies to JPEG, WebP "
                                 "and AVIF", param_hint="'--output-quality'")


def _check_palette_size(mode, k=None, codebook=None, codebook_path=None) -> None:
    """A palette PNG holds at most 256 colours: refuse more, in palette mode."""
    if mode != "palette":
        return
    if codebook is not None and codebook.shape[0] > 256:
        raise click.UsageError(f"{codebook_path!r} has {codebook.shape[0]} colours; a palette PNG "
                               "holds at most 256; use --mode reconstruct")
    if k is not None and k > 256:
        raise click.BadParameter(f"palette mode holds at most 256 colours, got {k}; "
                                 "use --mode reconstruct for more", param_hint="'-k' / '--colors'")


def _output_format(mode, out_format, output_path, output_quality=None) -> str:
    """The Pillow format of an image output, checked against the mode and --output-quality.

    ``--format``, else the extension (PNG for standard output, and in palette
    mode for an extension that names no format); palette mode writes PNG or
    GIF only.
    """
    _check_palette_format(mode, out_format, output_path)
    from ..io.encode import format_for_path

    if out_format:
        fmt = FORMAT_NAMES[out_format.lower()]
    elif output_path == "-":
        fmt = "PNG"
    elif mode == "palette":
        fmt = format_for_path(output_path, default="PNG")
    else:
        try:
            fmt = format_for_path(output_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
    _check_writable(fmt)
    _check_output_quality(mode, fmt, output_quality)
    return fmt


def _check_writable(fmt) -> None:
    """A usage error for a format this Pillow cannot write (AVIF without its encoder)."""
    if fmt != "AVIF":
        return
    from ..errors import OutputError
    from ..io.encode import check_writable

    try:
        check_writable(fmt)
    except OutputError as exc:
        raise click.BadParameter(exc.message, param_hint="'--format' / '-o'") from None


def _explicit(names) -> list:
    """Those of the parameters ``names`` given on the command line (or environment)."""
    ctx = click.get_current_context()
    given = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append(name)
    return given

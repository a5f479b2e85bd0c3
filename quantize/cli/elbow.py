"""``quantize elbow``: the error for a range of k, and a suggested k."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import click

from ..vocabulary import INIT_METHOD_NAMES
from .options import (DEFAULTS, EXIT_CODES_HELP, SEED_TYPE, FiniteFloat, KSpecType,
                      _echo_warnings, _reports_errors, color_space_option, input_options,
                      metric_option)



@click.command(epilog=EXIT_CODES_HELP)
@click.argument("input_path", metavar="IN", type=click.Path(allow_dash=True))
@click.option("-k", "--k", "ks", type=KSpecType(), default="2..32", show_default=True,
              help="The k to try: a range 2..64, a stepped range 2..64..2, a list 4,8,16, "
                   "or a mix (2..16,24,32).")
@click.option("--max-iter", type=click.IntRange(min=1), default=DEFAULTS["max_iter"],
              show_default=True,
              help=("Most Lloyd iterations of the last stage (on every distinct colour), "
                    "per attempt."))
@click.option("--eps", type=FiniteFloat(min=0), default=DEFAULTS["eps"], show_default=True,
              help=("The last stage stops once no centre moves more than this "
                    "(0-255 units)."))
@click.option("--init", type=click.Choice(list(INIT_METHOD_NAMES)), default=DEFAULTS["init"],
              show_default=True, help="How to pick the first centres.")
@click.option("--attempts", type=click.IntRange(min=1), default=DEFAULTS["attempts"],
              show_default=True, help="Independent runs per k; the lowest inertia wins.")
@click.option("--seed", type=SEED_TYPE, default=DEFAULTS["seed"], show_default=True,
              help="Random seed, the same for every k.")
@metric_option
@color_space_option
@click.option("--allow-long", is_flag=True,
              help="Run a sweep whose estimated work is beyond the limit (see above).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr.  [default: when stderr is a terminal]")
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
          max_pixels, frame, max_scans, metric="euclidean", color_space="srgb", allow_long=False,
          progress=None):
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
    Every k is a whole fit, and its work grows with the image's colours
    times k: 2..1000 on a photo would run for hours. A sweep whose
    estimated work (colours x the sum of k + 32 over the k tried) is more
    than 2e10, some forty times the default 2..32 on a 12-megapixel photo
    and ten minutes or more, is refused (exit 2) once the colours are
    counted, before any fit; step the range (2..1000..50), narrow it, or
    give --allow-long.

    \b
    Examples:
      quantize elbow photo.jpg --k 2..64 --plot elbow.png
      quantize elbow photo.jpg --k 4,8,16,32,64,128 --json
      quantize elbow photo.jpg --k 4..64..4 --color-space oklab
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

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = load_rgb(input_path, max_pixels=max_pixels, frame=frame,
                          max_scans=max_scans)
        hist = colour_histogram(pixel_keys(pixels))
        del pixels
        if not allow_long:
            _refuse_long_sweep(input_path, ks, len(hist))
        bar = _SweepBar(ks, len(hist), show=progress, verbose=verbose)
        try:
            result = sweep(hist, ks, max_iter=max_iter, eps=eps, init=init, attempts=attempts,
                           seed=seed, callback=bar.done, metric=metric, color_space=color_space)
        finally:
            bar.close()
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
                           "seed": seed, "metric": metric, "color_space": color_space},
               "seconds": round(seconds, 4)}
        click.echo(json.dumps(doc))
        return
    click.echo(f"{'k':>6} {'codes':>6} {'inertia':>14} {'mse':>11} {'psnr':>7}")
    for p in result.points:
        mark = ("*" if p.k == result.suggested_k else " ") + ("w" if p.warm_start else " ")
        psnr = "inf" if p.mse <= 0 else f"{p.psnr:.2f}"
        click.echo(f"{mark}{p.k:>4} {p.codes:>6} {p.inertia:>14.0f} {p.mse:>11.3f} {psnr:>7}")
    if result.suggested_k is None:
        click.echo("suggested k: none (fewer than three k, or no knee in the curve)")
    else:
        click.echo(f"suggested k: {result.suggested_k} (*: {KNEE_METHOD})")
    if any(p.warm_start for p in result.points):
        click.echo("w: warm-started from the previous codebook, as the independent fit was worse")
    if verbose:
        click.echo(f"quantize: {input_path!r}: {len(result.points)} k in {seconds:.3f} s "
                   f"({result.n_colours} colours, {result.n_pixels} pixels)", err=True)


def _refuse_long_sweep(input_path, ks, n_colours) -> None:
    """A usage error (2) for a sweep whose estimated work is beyond the limit."""
    from ..errors import OptionsError
    from ..image.elbow import SWEEP_COST_LIMIT, sweep_cost

    cost = sweep_cost(n_colours, ks)
    if cost <= SWEEP_COST_LIMIT:
        return
    default = sweep_cost(n_colours, range(2, 33))
    raise OptionsError(input_path, f"--k {_describe(ks)} would fit {len(ks)} codebooks to "
                                   f"{n_colours} colours, about {cost / default:.0f} times the "
                                   f"work of the default 2..32 and {cost / SWEEP_COST_LIMIT:.1f} "
                                   "times the limit; step or narrow the range "
                                   f"(e.g. {ks[0]}..{ks[-1]}..{max(2, len(ks) // 20)}), or give "
                                   "--allow-long")


def _describe(ks) -> str:
    """``a..b`` for a contiguous run of k, else the first and last with their count."""
    if ks[-1] - ks[0] + 1 == len(ks):
        return f"{ks[0]}..{ks[-1]}"
    return f"{ks[0]}..{ks[-1]} ({len(ks)} values)"


class _SweepBar:
    """The sweep's progress on stderr: a tqdm bar weighted by each k's estimated work
    (when asked, or when stderr is a terminal), and the ``-v`` line of each k."""

    def __init__(self, ks, n_colours, *, show=None, verbose=0):
        from ..image.elbow import fit_cost

        self.verbose, self.count, self.total = verbose, 0, len(ks)
        self.weights = {k: fit_cost(n_colours, k) / max(1, n_colours) for k in ks}
        if show is None:
            show = sys.stderr is not None and sys.stderr.isatty()
        self.bar = None
        if show:
            from tqdm import tqdm

            tqdm.monitor_interval = 0
            self.bar = tqdm(total=sum(self.weights.values()), desc=f"elbow 0/{self.total} k",
                            file=sys.stderr, dynamic_ncols=True, leave=False,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def done(self, point) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.set_description_str(f"elbow {self.count}/{self.total} k (k={point.k} done)",
                                         refresh=False)
            self.bar.update(self.weights[point.k])
        if self.verbose:
            line = f"quantize: k={point.k} mse={point.mse:.3f} psnr={point.psnr:.2f}"
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                click.echo(line, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

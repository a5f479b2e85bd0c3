"""The ``quantize`` command group and its entry point."""

from __future__ import annotations

import signal
import sys
import threading

import click

from .. import __version__
from ..errors import Terminated
from .apply import apply_command
from .batch import batch
from .elbow import elbow
from .image import image
from .options import EXIT_CODES_HELP
from .palette import palette
from .report import report_command

__all__ = ["cli", "main"]


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantize")
def cli():
    """Reduce the colours of images with k-means.

    Reads an image, clusters its colours with weighted k-means, and writes an
    indexed palette PNG (or the reconstructed image) plus, optionally, the
    codebook as JSON.
    """


for command in (image, batch, palette, apply_command, elbow, report_command):
    cli.add_command(command)


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv=None) -> None:
    """Entry point of the ``quantize`` console script.

    SIGTERM ends a command as Ctrl-C does (temporary files removed, workers
    stopped), with exit code 143.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(args=argv, prog_name="quantize")
    except Terminated:
        click.echo("quantize: error: terminated", err=True)
        sys.exit(143)
    except KeyboardInterrupt:  # outside a command, e.g. while importing
        click.echo("quantize: error: interrupted", err=True)
        sys.exit(130)

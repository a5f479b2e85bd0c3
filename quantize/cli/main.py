"""The ``quantize`` command group and its entry point."""

from __future__ import annotations

import importlib
import signal
import sys
import threading

import click

from .. import __version__
from ..errors import Terminated
from .options import EXIT_CODES_HELP

__all__ = ["cli", "main", "COMMANDS"]

#: The commands, in the order ``--help`` lists them: each name with its
#: module and the click command in it. A command's module is imported only
#: when that command runs (``--help`` imports them all, for their help
#: lines), so that ``quantize image`` does not load what ``batch`` needs.
COMMANDS = {
    "image": ("image", "image"),
    "batch": ("batch", "batch"),
    "palette": ("palette", "palette"),
    "apply": ("apply", "apply_command"),
    "elbow": ("elbow", "elbow"),
    "report": ("report", "report_command"),
}


class _Commands(click.Group):
    """A group whose commands are imported when first asked for."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        return getattr(importlib.import_module(f"{__package__}.{module}"), attribute)

    @property
    def commands(self):
        """Every command, by name (importing all their modules)."""
        return {name: self.get_command(None, name) for name in COMMANDS}

    @commands.setter
    def commands(self, value):  # click's constructor sets it; ours come from COMMANDS
        if value:
            raise ValueError("quantize's commands are listed in COMMANDS")


@click.group(cls=_Commands, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantize")
def cli():
    """Reduce the colours of images with k-means.

    Reads an image, clusters its colours with weighted k-means, and writes an
    indexed palette PNG (or the reconstructed image) plus, optionally, the
    codebook as JSON.
    """


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

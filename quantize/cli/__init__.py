"""The command line: click commands over the run, io and image layers."""

from .commands import main

__all__ = ["main"]

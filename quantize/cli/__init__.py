"""The command line: click commands over the run, io and image layers.

``main`` is the ``quantize`` console script; each command has its module,
and :mod:`.options` holds what they share.
"""

from .main import cli, main

__all__ = ["cli", "main"]

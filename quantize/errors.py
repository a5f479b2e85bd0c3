"""Exception classes, each carrying the process exit code it maps to.

The library raises these; the CLI turns them into one-line messages and exit
codes. Codes follow BSD ``sysexits.h`` where one fits.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "SEVERITY",
    "most_severe",
    "QuantizeError",
    "OptionsError",
    "InputMissingError",
    "BadImageError",
    "OutputError",
    "WriteError",
    "OutOfMemoryError",
    "NotSmallerError",
    "QualityError",
    "QuantizeWarning", "Terminated"]

#: Exit codes of the command line, documented in ``--help`` and the README.
EXIT_CODES = {
    0: "success",
    2: "usage error (bad option or value)",
    65: "input is not a decodable/supported image, or its data is bad",
    66: "input missing or unreadable",
    69: "service unavailable (the Dask scheduler did not answer)",
    70: "internal error (a bug)",
    71: "out of memory (try a smaller --max-pixels, or fewer --jobs)",
    73: "output cannot be created (is the input, bad directory, ...)",
    74: "I/O error while writing",
    98: "not written: the output would not be smaller than its input (--skip-if-larger)",
    99: "a requested quality target could not be met",
    130: "interrupted (SIGINT)",
    143: "terminated (SIGTERM); temporary files removed",
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so that it ends as Ctrl-C does.

    A KeyboardInterrupt, so that every clean-up of an interrupt (temporary
    files removed, workers stopped) runs for it too; the command line exits
    143 for it instead of 130.
    """


#: Exit codes from most to least severe: a command that works on several
#: files exits with the first present.
SEVERITY = (70, 71, 74, 73, 65, 66, 99, 98)


def most_severe(codes) -> int:
    """The most severe exit code among ``codes`` (70 > 71 > 74 > 73 > 65 > 66 > 99 > 98 > 0).

    Examples
    --------
    >>> most_severe([0, 66, 65, 0]), most_severe([99, 74]), most_severe([])
    (65, 74, 0)
    """
    present = {int(c) for c in codes if c}
    for code in SEVERITY:
        if code in present:
            return code
    return 70 if present else 0  # an unexpected code is treated as a bug


class QuantizeError(Exception):
    """Base class of the errors the command line reports without a traceback.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file the problem is about; quoted in the message.
    message : str
        What went wrong, in a few words.
    """

    exit_code = 70

    def __init__(self, path, message: str):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(self.format_message())

    def format_message(self) -> str:
        """Return ``'path': message``, or the message alone when no path."""
        if self.path is None:
            return self.message
        return f"{self.path!r}: {self.message}"


class OptionsError(QuantizeError):
    """Options that cannot apply to this input (a usage error, found once it is read)."""

    exit_code = 2


class InputMissingError(QuantizeError):
    """The input does not exist, is a directory, or cannot be read (66)."""

    exit_code = 66


class BadImageError(QuantizeError):
    """The input is not a decodable, supported image, or its data is bad (65)."""

    exit_code = 65


class OutputError(QuantizeError):
    """The output cannot be created: it is the input, or its directory is bad (73)."""

    exit_code = 73


class WriteError(QuantizeError):
    """An I/O error happened while writing the output (74)."""

    exit_code = 74


class OutOfMemoryError(QuantizeError):
    """Memory ran out while working on a file (71)."""

    exit_code = 71

    def __init__(self, path, message: str = "out of memory; try a smaller --max-pixels "
                                            "(or fewer --jobs)"):
        super().__init__(path, message)


class NotSmallerError(QuantizeError):
    """The output would not be smaller than its input, and was not written (98)."""

    exit_code = 98


class QualityError(QuantizeError):
    """A requested quality target could not be met (99)."""

    exit_code = 99


class QuantizeWarning(UserWarning):
    """A recoverable oddity: fewer distinct colours than k, k clamped, ..."""

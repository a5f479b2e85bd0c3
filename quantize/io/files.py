"""Writing files: atomically, all of a command's outputs or none.

Every write goes through :func:`atomic_write`: a temporary file made as
``tempfile.mkstemp`` makes one (a random name, ``O_CREAT | O_EXCL``, mode
0600) in the target's directory, flushed, fsynced, closed and
``os.replace``d onto the target. On any failure the temporary file is removed
and the target is untouched.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from contextlib import contextmanager


from ..errors import OutputError, WriteError

__all__ = ["atomic_write", "check_not_input", "check_paths", "open_input", "remove_stale_temporaries",
           "write_all", "write_bytes", "TEMP_PREFIX"]


def _file_keys(path) -> set:
    """What identifies the file at ``path``: its resolved path, and its device and inode if it exists."""
    keys = {("path", os.path.realpath(path))}
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return keys
    keys.add(("inode", st.st_dev, st.st_ino))
    return keys


def check_paths(reads=(), writes=()) -> None:
    """The one rule for a command's paths: no output overwrites an input, nor another output.

    Every command checks all the paths it reads (images, codebooks, ``--init``
    files, a manifest) against all the paths it writes (images, codebooks,
    swatches, reports, plots), and its written paths against each other,
    before it reads anything. Files are compared by identity, so another
    spelling, a symlink or a hard link is the same file. Streams (``'-'``)
    and None are skipped.

    Parameters
    ----------
    reads, writes : iterable of (str, path)
        What each path is (``'input'``, ``'codebook'``, ``'--report'``, ...)
        and the path.

    Raises
    ------
    OutputError
        Exit 73, naming the written path and both roles.
    """
    sources = {}
    for what, path in reads:
        if path is not None and str(path) != "-":
            for key in _file_keys(path):
                sources.setdefault(key, what)
    targets = {}
    for what, path in writes:
        if path is None or str(path) == "-":
            continue
        keys = _file_keys(path)
        for key in keys:
            if key in sources:
                raise OutputError(path, f"is the {sources[key]} this command reads; refusing "
                                        f"to overwrite it with the {what}")
            if key in targets:
                raise OutputError(path, f"would be written twice, as the {targets[key]} and "
                                        f"as the {what}; give them different paths")
        for key in keys:
            targets[key] = what


def check_not_input(output, inputs) -> None:
    """Refuse an output that is one of the inputs (also through links); see :func:`check_paths`.

    Raises
    ------
    OutputError
        When ``output`` names the same file as an input (73).
    """
    check_paths([("input", src) for src in inputs], [("output", output)])


#: What a non-regular file is called in messages, by its stat type.
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def open_input(path, what: str = "file"):
    """Open ``path`` for reading, only if it is a regular file.

    A FIFO, socket or device could block forever or never end, so it is
    refused before anything is read: the file is opened without blocking
    and checked on the open descriptor (no window between a check and the
    open). Standard input ('-') is the way to read a stream.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file should be, for messages ('image file', 'codebook file').

    Returns
    -------
    file
        A binary file object positioned at the start.

    Raises
    ------
    InputMissingError
        The file is missing, unreadable, or not a regular file (66).
    """
    from ..errors import InputMissingError

    article = "an" if what[:1] in ("a", "e", "i", "o", "u") else "a"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputMissingError(path, "no such file") from None
    except IsADirectoryError:
        raise InputMissingError(path, f"is a directory, not {article} {what}") from None
    except PermissionError:
        raise InputMissingError(path, "permission denied") from None
    except (OSError, ValueError) as exc:
        raise InputMissingError(path, f"cannot open: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputMissingError(path, f"is a directory, not {article} {what}")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise InputMissingError(path, f"is {kind}, not {article} {what}; read a stream from "
                                          "standard input ('-') instead")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path`` for writing; replace ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The target. Its directory must exist.

    Yields
    ------
    file
        A binary file object. If the ``with`` block raises (or is
        interrupted), the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OutputError
        The target's directory is missing or not writable, or the target is a
        directory (73).
    WriteError
        Writing, syncing or renaming failed (74).
    """
    kind, target = _output_target(path)
    if kind == "stream":
        try:
            with open(target, "wb") as f:
                yield f
        except OSError as exc:
            raise WriteError(path, f"write failed: {exc.strerror or exc}") from None
        return
    fd, tmp = _make_temp(target)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise WriteError(path, f"write failed: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _output_target(path):
    """How to write ``path``: ``("stream", path)`` for an existing file that is
    neither regular nor a directory (a device such as /dev/null, a FIFO),
    which is written in place, since renaming over it would replace the device
    node; else ``("file", target)``, replaced through a temporary file, where
    a symlink is resolved so that the link is kept and its file replaced."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return "stream", path
    if os.path.islink(path):
        return "file", os.path.realpath(path)
    return "file", path


def _write_stream(path, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteError(path, f"write failed: {exc.strerror or exc}") from None


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_all(outputs) -> None:
    """Write several outputs so that all of them are replaced, or none.

    Every file's bytes go to its own temporary file first. Then the streams
    are written (a '-' path to standard output; a device or FIFO, e.g.
    /dev/null, in place), and only when they succeeded are the files renamed
    into place: a stream that fails leaves no file behind. A stream cannot be
    taken back, so a failure after it (a rename, which is rare) leaves the
    stream's bytes written.

    Parameters
    ----------
    outputs : sequence of (path, bytes)

    Raises
    ------
    OutputError, WriteError
        As :func:`atomic_write`; no file target is changed when one is raised.
    """
    outputs = list(outputs)
    pending = []
    streams = []
    try:
        for path, data in outputs:
            if str(path) == "-":
                streams.append((path, data))
                continue
            kind, target = _output_target(path)
            if kind == "stream":
                streams.append((path, data))
                continue
            fd, tmp = _make_temp(target)
            pending.append((tmp, target))
            # Write through the new file's descriptor: the name is never reopened.
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for path, data in streams:
            if str(path) == "-":
                _write_stdout(data)
            else:
                _write_stream(path, data)
        for tmp, path in pending:
            os.replace(tmp, path)
        pending = []
    except BrokenPipeError:
        raise  # the reader of standard output went away: the command ends quietly
    except OSError as exc:
        bad = pending[-1][1] if pending else outputs[0][0]
        raise WriteError(bad, f"write failed: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in pending:
            _unlink_quietly(tmp)


def _write_stdout(data: bytes) -> None:
    """Write to standard output; closed or failing stdout is a :class:`WriteError`
    (a reader that went away raises BrokenPipeError, which the CLI ends on quietly)."""
    if sys.stdout is None:
        raise WriteError("-", "standard output is closed")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        raise WriteError("-", f"write to standard output failed: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None


#: Temporary files are named ``.quantize-PID-XXXXXXXX.tmp`` beside their
#: target: short whatever the target's name (so any name the filesystem
#: accepts can be written), and recognisable by the process that made them.
TEMP_PREFIX = ".quantize-"
_TEMP_NAME = re.compile(r"^\.quantize-(\d+)-[A-Za-z0-9_]{8}\.tmp$")


#: Flags of a new temporary file, as ``tempfile.mkstemp`` opens it: never an
#: existing file, never through a symlink.
_TEMP_FLAGS = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
#: Names tried before giving up (mkstemp's own number).
_TEMP_ATTEMPTS = 10000


def _candidate_names():
    """Endless random parts of temporary names: 8 hexadecimal digits each.

    Drawn here rather than by ``tempfile``, which with ``shutil`` and the
    compressors it imports would add to every command's start-up.
    """
    while True:
        yield os.urandom(4).hex()


def _open_temp(directory):
    """(fd, name) of a new file in ``directory`` named like ``.quantize-PID-XXXXXXXX.tmp``."""
    names = _candidate_names()
    for _ in range(_TEMP_ATTEMPTS):
        tmp = os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{next(names)}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name in {directory!r}")


def _make_temp(path):
    """(fd, name) of a new temporary file beside ``path``, with the error
    mapping of :func:`atomic_write`. It has the mode of the file it replaces,
    or the umask's for a new one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(path, "is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = _open_temp(directory)
    except FileNotFoundError:
        raise OutputError(path, "output directory does not exist") from None
    except NotADirectoryError:
        raise OutputError(path, "output directory is not a directory") from None
    except PermissionError:
        raise OutputError(path, "cannot create files in the output directory") from None
    except OSError as exc:
        raise OutputError(path, f"cannot create output: {exc.strerror or exc}") from None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_current_umask()
    os.fchmod(fd, mode)
    return fd, tmp


def remove_stale_temporaries(directory, *, min_age: float = 60.0) -> int:
    """Remove the temporary files that killed runs left below ``directory``.

    A file counts as stale when its name is one of ours, the process that
    made it is gone, and it is at least ``min_age`` seconds old. Symlinks
    are not followed. Returns how many were removed.
    """
    import time

    removed = 0
    now = time.time()
    for root, _dirs, names in os.walk(directory):
        for name in names:
            match = _TEMP_NAME.match(name)
            if match is None:
                continue
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < min_age:
                    continue
                if _process_alive(int(match.group(1))):
                    continue
                os.unlink(path)
                removed += 1
            except OSError:
                continue
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, or to stdout when ``path`` is '-'."""
    if str(path) == "-":
        _write_stdout(data)
        return
    with atomic_write(path) as f:
        f.write(data)

"""Planning a batch: which input files, and where each output goes.

The output tree mirrors each source directory; names that would collide,
and outputs that would overwrite an input, fail on their own before any
work starts. numpy-free and Pillow-free: planning only lists and names.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Optional

from ..errors import InputMissingError, OutputError, QuantizeError

__all__ = ["BatchItem", "collect_inputs", "output_name", "plan_batch", "sibling_output",
           "PALETTE_SUFFIX", "RECONSTRUCT_SUFFIX"]


@dataclass
class BatchItem:
    """One input of a batch and where its output goes.

    ``error`` is set when the file cannot be attempted at all (missing
    source, colliding output, output that is an input).
    """

    input: str
    output: Optional[str]
    rel: Optional[str] = None
    codebook_output: Optional[str] = None
    codebook_rel: Optional[str] = None
    error: Optional[QuantizeError] = None



def _same_path(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def collect_inputs(sources, *, recursive: bool = False, patterns=(), exclude=()):
    """Expand files and directories into the input files of a batch.

    Parameters
    ----------
    sources : sequence of str
        Files (always taken, whatever their name) and directories (their
        files matching ``patterns``; subdirectories too when ``recursive``).
    recursive : bool
        Descend into subdirectories.
    patterns : sequence of str
        Shell globs matched against a file's name or its path relative to its
        source directory. Empty: the extensions Pillow can decode.
    exclude : sequence of str
        Directories never entered (the output directory).

    Returns
    -------
    list of (path, rel, error)
        ``rel`` is the path relative to the source directory (the file's name
        for a file source); ``error`` is an :class:`InputMissingError` for a
        source that does not exist or a directory that cannot be read, else
        None. Names starting with '.' are skipped inside directories; a file
        reached twice is listed once.
    """
    if patterns:
        def wanted(name, rel):
            return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in patterns)
    else:
        from ..io.decode import readable_extensions

        extensions = readable_extensions()

        def wanted(name, rel):
            return os.path.splitext(name)[1].lower() in extensions

    excluded = {os.path.realpath(d) for d in exclude}
    found, seen = [], set()

    def add(path, rel, error=None):
        key = os.path.realpath(path)
        if error is None and key in seen:
            return
        seen.add(key)
        found.append((path, rel, error))

    for src in sources:
        src = os.fspath(src)
        if os.path.isdir(src):
            errors = []
            for dirpath, dirnames, filenames in os.walk(src, onerror=errors.append):
                if recursive:
                    dirnames[:] = sorted(
                        d for d in dirnames
                        if not d.startswith(".")
                        and os.path.realpath(os.path.join(dirpath, d)) not in excluded)
                else:
                    dirnames[:] = []
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, src)
                    if wanted(name, rel) and os.path.isfile(path):
                        add(path, rel)
            for exc in errors:
                where = getattr(exc, "filename", None) or src
                add(where, None, InputMissingError(
                    where, f"cannot read directory: {exc.strerror or exc}"))
        elif os.path.lexists(src):
            add(src, os.path.basename(src))
        else:
            add(src, None, InputMissingError(src, "no such file or directory"))
    return found


def output_name(rel: str, settings) -> str:
    """The output's path relative to OUTDIR for an input's relative path.

    Palette mode gives ``.png`` (``.gif`` with ``--format gif``); reconstruct
    mode gives the ``--format``'s extension, or keeps the input's extension
    when that format can be written with any number of colours (PNG, JPEG,
    WebP, TIFF, BMP), else ``.png``.

    ``settings`` is the batch's :class:`quantize.run.batch.BatchSettings`.

    Examples
    --------
    >>> from quantize.run.batch import BatchSettings
    >>> output_name("a/b.jpg", BatchSettings())
    'a/b.png'
    >>> output_name("b.jpg", BatchSettings(mode="reconstruct"))
    'b.jpg'
    >>> output_name("b.gif", BatchSettings(mode="reconstruct"))
    'b.png'
    >>> output_name("b.jpg", BatchSettings(out_format="GIF"))
    'b.gif'
    """
    stem, ext = os.path.splitext(rel)
    return stem + _output_extension(ext, settings.mode, settings.out_format)


def _output_extension(ext: str, mode: str, out_format) -> str:
    """The extension of an output, from its input's extension (see :func:`output_name`)."""
    from ..io.encode import FORMAT_EXTENSIONS, OUTPUT_FORMATS
    from ..vocabulary import CODES_FORMATS

    if out_format:
        return FORMAT_EXTENSIONS[out_format]
    if mode == "palette":
        return ".png"
    kept = OUTPUT_FORMATS.get(ext.lower())
    if kept is not None and kept not in CODES_FORMATS:
        return ext
    return ".png"


def plan_batch(sources, outdir, settings, *, recursive: bool = False,
               patterns=()) -> list:
    """List a batch's inputs and their outputs under ``outdir``.

    The output tree mirrors each source directory (its files land directly
    in ``outdir``, its subdirectories below it); a file source lands in
    ``outdir`` under its own name. Two inputs that would write the same
    output, or an output that is one of the inputs, make an item with an
    :class:`OutputError` (73) instead; the first input in order keeps the
    output.

    Returns
    -------
    list of BatchItem
        In a stable order: sources as given, files sorted within each.

    Raises
    ------
    OutputError
        When ``outdir`` is one of the source directories (73).
    """
    outdir = os.fspath(outdir)
    for src in sources:
        if os.path.isdir(src) and os.path.isdir(outdir) and _same_path(src, outdir):
            raise OutputError(outdir, "the output directory is a source directory; "
                                      "give another one")
    found = collect_inputs(sources, recursive=recursive, patterns=patterns, exclude=[outdir])
    input_keys = {os.path.realpath(path) for path, _, error in found if error is None}
    items, owners = [], {}

    def claim(item, rel, path):
        if rel in owners:
            return OutputError(path, f"would also be the output of {owners[rel]!r}; "
                                     "rename one of the inputs")
        if os.path.realpath(path) in input_keys:
            return OutputError(path, "is an input file; refusing to overwrite it")
        return None

    for path, rel, error in found:
        if error is not None:
            items.append(BatchItem(path, None, error=error))
            continue
        out_rel = output_name(rel, settings)
        item = BatchItem(path, os.path.join(outdir, out_rel), rel=out_rel)
        if settings.write_codebooks:
            item.codebook_rel = os.path.splitext(out_rel)[0] + ".json"
            item.codebook_output = os.path.join(outdir, item.codebook_rel)
        item.error = claim(item, out_rel, item.output)
        if item.error is None and item.codebook_rel is not None:
            item.error = claim(item, item.codebook_rel, item.codebook_output)
        if item.error is None:
            owners[out_rel] = path
            if item.codebook_rel is not None:
                owners[item.codebook_rel] = path
        items.append(item)
    return items




#: The suffix of an output written beside its input, by mode (``--ext``).
PALETTE_SUFFIX = "-pal"
RECONSTRUCT_SUFFIX = "-rec"


def sibling_output(input_path, mode: str, suffix=None, out_format=None) -> str:
    """The output written beside ``input_path`` when no ``-o`` is given.

    The input's path without its extension, plus ``suffix``; by default
    ``-pal`` in palette mode and ``-rec`` in reconstruct mode, then the
    extension :func:`output_name` gives (``-pal.png``, ``-rec.jpg``, ...).
    Standard input ('-') goes to standard output.

    Examples
    --------
    >>> sibling_output("a/b.jpg", "palette")
    'a/b-pal.png'
    >>> sibling_output("a/b.jpg", "reconstruct"), sibling_output("b.gif", "reconstruct")
    ('a/b-rec.jpg', 'b-rec.png')
    >>> sibling_output("b.png", "palette", suffix=".small.png")
    'b.small.png'
    """
    if str(input_path) == "-":
        return "-"
    stem, ext = os.path.splitext(os.fspath(input_path))
    if suffix is None:
        tag = PALETTE_SUFFIX if mode == "palette" else RECONSTRUCT_SUFFIX
        suffix = tag + _output_extension(ext, mode, out_format)
    return stem + suffix

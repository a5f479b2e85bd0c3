"""The HTML report of a batch: its rows and summary, from a run or from its records.

Two ways in, one page out (:func:`quantize.io.report_html.render_report`):

* :func:`write_batch_html`, at the end of ``quantize batch --html``: the
  results of the run. The files it did carry their preview, made by the
  worker that did them (``ImageJob.preview``), so a Dask client receives
  thumbnails, never pixels. The files it skipped as up to date get theirs
  from their input and output on disk, made here.
* :func:`rebuild_html`, for ``quantize report``: a batch's manifest
  (``OUTDIR/.quantize-batch.jsonl``, or OUTDIR itself) or its JSON-lines
  report (``--report``); every preview is made here from the files.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from typing import Iterable, Optional
from urllib.parse import quote

from ..errors import BadImageError, InputMissingError, QuantizeError
from .batch import MANIFEST_NAME

__all__ = ["check_page_path", "report_row", "summarize", "write_batch_html", "read_records",
           "rebuild_html", "file_href"]

#: The options of the record that say nothing about the outputs.
_HIDDEN_OPTIONS = {"version"}


def check_page_path(path, outdir=None) -> None:
    """Refuse, before any work, a page that could not be written at the end.

    A page in ``outdir`` itself is fine: the batch creates that directory.

    Raises
    ------
    OutputError
        ``path`` is a directory, or its directory does not exist (73).
    """
    from ..errors import OutputError

    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(path, "is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if outdir is not None and folder == os.path.abspath(outdir):
        return
    if not os.path.isdir(folder):
        raise OutputError(path, "output directory does not exist")


def file_href(path, report_path) -> Optional[str]:
    """A relative URL from the report's directory to ``path`` (None for no path).

    Examples
    --------
    >>> file_href("out/a b.png", "report.html")
    'out/a%20b.png'
    >>> file_href("/data/out/x.png", "/data/reports/r.html")
    '../out/x.png'
    """
    if not path or str(report_path) == "-":
        return None
    base = os.path.dirname(os.path.abspath(report_path))
    try:
        rel = os.path.relpath(os.path.abspath(path), base)
    except ValueError:  # another drive: only an absolute URL reaches it
        from pathlib import Path

        return Path(os.path.abspath(path)).as_uri()
    return quote(rel.replace(os.sep, "/"))


def _size(path) -> Optional[int]:
    try:
        return os.stat(path).st_size if path else None
    except OSError:
        return None


def _psnr(mse) -> Optional[float]:
    if mse is None or mse <= 0:
        return None
    return 10.0 * math.log10(255.0 ** 2 / mse)


def report_row(record: dict, report_path, *, preview=None, note=None) -> dict:
    """One row of the page from a result's fields.

    Parameters
    ----------
    record : dict
        ``input``, ``output``, ``status`` and, when known, ``k``, ``mse``,
        ``seconds``, ``error``, ``exit_code``, ``warnings``.
    report_path : str
        Where the page goes: links are relative to its directory.
    preview : dict or None
        From :func:`quantize.io.preview.make_preview`.
    note : str or None
        Why a file that is done has no preview.
    """
    status = record.get("status")
    made = status in ("done", "skipped")
    bytes_in = _size(record.get("input")) if made else None
    bytes_out = _size(record.get("output")) if made else None
    mse = record.get("mse") if made else None
    return {
        "name": record.get("input"),
        "output": record.get("output"),
        "input_href": file_href(record.get("input"), report_path),
        "output_href": file_href(record.get("output"), report_path) if made else None,
        "status": status,
        "exit_code": record.get("exit_code") or 0,
        "error": record.get("error"),
        "note": note,
        "warnings": list(record.get("warnings") or ()),
        "k": record.get("k") if made else None,
        "mse": mse,
        "psnr": _psnr(mse),
        "delta_e_ok": preview.get("delta_e_ok") if preview else None,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "seconds": record.get("seconds"),
        "preview": preview,
    }


def summarize(rows, *, title: str, options: Optional[dict] = None,
              seconds: Optional[float] = None, interrupted: bool = False,
              exit_code: Optional[int] = None, notes: Iterable[str] = ()) -> dict:
    """The figures at the top of the page: counts, bytes, PSNR, options, time.

    Bytes and PSNR are over the files with an output (done or skipped). An
    exact output (MSE 0) has an infinite PSNR: it counts in the median and is
    never the worst unless every file is exact.
    """
    counts = {status: sum(1 for r in rows if r["status"] == status)
              for status in ("done", "skipped", "failed", "cancelled")}
    counts["total"] = len(rows)
    made = [r for r in rows if r["status"] in ("done", "skipped")]
    sized = [r for r in made if r["bytes_in"] is not None and r["bytes_out"] is not None]
    measured = [r for r in made if r["mse"] is not None]
    psnrs = [math.inf if r["psnr"] is None else r["psnr"] for r in measured]
    worst = min(range(len(measured)), key=lambda i: psnrs[i]) if measured else None
    return {
        "title": title,
        "counts": counts,
        "bytes_in": sum(r["bytes_in"] for r in sized) if sized else None,
        "bytes_out": sum(r["bytes_out"] for r in sized) if sized else None,
        "sized": len(sized),
        "psnr_median": statistics.median(psnrs) if psnrs else None,
        "psnr_worst": psnrs[worst] if worst is not None else None,
        "worst_name": measured[worst]["name"] if worst is not None else None,
        "options": {key: value for key, value in (options or {}).items()
                    if key not in _HIDDEN_OPTIONS},
        "seconds": seconds,
        "interrupted": interrupted,
        "exit_code": exit_code,
        "notes": list(notes),
    }


def _preview_of_files(input_path, output_path, *, background=None, max_pixels=1 << 28,
                      frame=None):
    """(preview, note): a preview made from the files, or why there is none."""
    from ..io.preview import preview_from_files

    try:
        return preview_from_files(input_path, output_path, background=background,
                                  max_pixels=max_pixels, frame=frame), None
    except QuantizeError as exc:
        return None, f"no preview: {exc.format_message()}"
    except (OSError, ValueError) as exc:
        return None, f"no preview: {type(exc).__name__}: {exc}"


def write_batch_html(path, summary, settings, *, sources=(), outdir=None) -> None:
    """Write the page of a finished (or interrupted) batch, atomically.

    Parameters
    ----------
    path : str
        The page.
    summary : BatchSummary
        Its ``results`` in input order; those done carry their ``preview``.
    settings : BatchSettings
        The options, shown at the top; skipped files' previews are made
        with its ``background``, ``max_pixels`` and ``frame``.
    sources, outdir
        Shown with the options.
    """
    from ..io.report_html import render_report
    from ..io.files import write_bytes

    rows = []
    for result in summary.results:
        record = {"input": result.input, "output": result.output, "status": result.status,
                  "k": result.k, "mse": result.mse, "seconds": result.seconds,
                  "error": result.error, "exit_code": result.exit_code,
                  "warnings": result.warnings}
        preview, note = result.preview, None
        if result.status == "skipped" and preview is None:
            preview, note = _preview_of_files(result.input, result.output,
                                              background=settings.background,
                                              max_pixels=settings.max_pixels,
                                              frame=settings.frame)
        rows.append(report_row(record, path, preview=preview, note=note))
    options = {"sources": " ".join(str(s) for s in sources), "output directory": outdir}
    options.update(settings.record())
    page = summarize(rows, title="quantize batch", options=options, seconds=summary.seconds,
                     interrupted=summary.interrupted, exit_code=summary.exit_code)
    write_bytes(path, render_report(page, rows))


# --------------------------------------------------------------------------
# Rebuilding a page from an earlier run's records


def read_records(path):
    """A batch's records, from its manifest or its JSON-lines report.

    Parameters
    ----------
    path : str
        The manifest (``OUTDIR/.quantize-batch.jsonl``), OUTDIR itself, or a
        JSON-lines report of ``batch --report``.

    Returns
    -------
    (kind, records)
        ``kind`` is ``'manifest'`` or ``'report'``. Records are dicts with
        ``input``, ``output`` (paths as the batch gave them; a manifest's
        outputs joined to its directory), ``status`` and what else the file
        holds; a manifest's entries are finished outputs (``done``), with
        their ``options``.

    Raises
    ------
    InputMissingError
        The file cannot be read (66).
    BadImageError
        It is neither a manifest nor a report (65).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, MANIFEST_NAME)
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        raise InputMissingError(path, "no such file") from None
    except OSError as exc:
        raise InputMissingError(path, f"cannot read: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if os.path.basename(path) == MANIFEST_NAME:
                continue  # a torn line of an interrupted run: that file is redone anyway
            raise BadImageError(path, f"line {number} is not JSON: neither a batch manifest "
                                      "nor a JSON-lines report") from None
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise BadImageError(path, f"line {number} has no input and output: neither a batch "
                                      "manifest nor a JSON-lines report")
        entries.append(entry)
    if entries and all("status" in e for e in entries):
        return "report", entries
    if all("options" in e for e in entries):
        folder = os.path.dirname(path)
        records = [dict(e, status="done", output=os.path.join(folder, e["output"]))
                   for e in entries]
        return "manifest", records
    raise BadImageError(path, "neither a batch manifest (every line has options) nor a "
                              "JSON-lines report (every line has a status)")


def rebuild_html(source, path, *, callback=None) -> dict:
    """Write the page of an earlier batch from its manifest or JSON-lines report.

    Every preview is made from the input and output files as they are now
    (see :func:`quantize.io.preview.preview_from_files`); a file that cannot
    be read gets a row with a note instead. Relative paths in a JSON-lines
    report are taken from the current directory, as the batch wrote them.

    Parameters
    ----------
    source : str
        The manifest, OUTDIR, or the JSON-lines report.
    path : str
        The page, written atomically.
    callback : callable(record) or None
        Called after each record's row is made.

    Returns
    -------
    dict
        The page's summary (:func:`summarize`).
    """
    from ..io.files import write_bytes
    from ..io.report_html import render_report

    from ..io.files import check_not_input

    check_page_path(path)
    check_not_input(path, [source])
    kind, records = read_records(source)
    rows = []
    for record in records:
        options = record.get("options") or {}
        preview = note = None
        if record["status"] in ("done", "skipped"):
            background = options.get("background")
            preview, note = _preview_of_files(
                record["input"], record["output"],
                background=tuple(background) if background else None,
                frame=options.get("frame"))
        rows.append(report_row(record, path, preview=preview, note=note))
        if callback is not None:
            callback(record)
    option_sets = {json.dumps(r.get("options"), sort_keys=True) for r in records}
    what = "manifest" if kind == "manifest" else "JSON-lines report"
    notes = [f"Rebuilt from the {what} {os.fspath(source)!r}; the previews are of the files "
             "as they are now."]
    options = None
    if kind == "manifest" and len(option_sets) == 1:
        options = records[0]["options"]
        notes.append("A manifest records the files done, not the ones that failed, nor the time.")
    elif kind == "manifest" and option_sets:
        notes.append("The outputs were made with different options (each one's are in the "
                     "manifest). A manifest records the files done, not the ones that failed, "
                     "nor the time.")
    else:
        notes.append("A JSON-lines report records no options, and no total time.")
    page = summarize(rows, title="quantize batch", options=options, notes=notes)
    write_bytes(path, render_report(page, rows))
    return page

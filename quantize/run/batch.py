"""Many images at once: directory walking, a worker pool, resumable runs, reports.

The flow of :func:`run_batch`::

    plan_batch (walk SRC..., mirror names into OUTDIR, refuse collisions)
      -> skip the outputs that are up to date (manifest in OUTDIR)
      -> worker processes (each imports once, handles many files)
      -> results in input order: manifest, JSON-lines report, summary, exit code

Every output is written atomically (a temporary file beside it, then
``os.replace``), so an output that exists is complete. Workers ignore SIGINT:
on Ctrl-C the parent cancels the files not yet started, lets the ones in
progress finish (a second Ctrl-C abandons them; their temporary files are
removed) and reports exit code 130.

This module imports neither click nor tqdm: progress goes through a plain
callback, ``callback(event, payload)``. numpy and Pillow are imported when
work starts, not at import time.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import signal
import stat
import threading
import time
import traceback
import warnings
from collections import deque
from contextlib import contextmanager
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable, Optional

from .. import __version__
from ..errors import (SEVERITY, InputMissingError, OutOfMemoryError, OutputError, QuantizeError,
                      most_severe)
from .driver import drive
from .job import ImageJob, write_image
from .plan import BatchItem, collect_inputs, output_name, plan_batch

__all__ = [
    "BatchSettings",
    "BatchItem",
    "FileResult",
    "BatchSummary",
    "MANIFEST_NAME",
    "SEVERITY",
    "available_cpus",
    "collect_inputs",
    "plan_batch",
    "output_name",
    "run_batch",
    "most_severe",
    "limit_numeric_threads",
]

#: The manifest of finished outputs, one JSON object a line, in OUTDIR.
MANIFEST_NAME = ".quantize-batch.jsonl"


#: Files in flight per worker: enough to keep every worker busy, few enough
#: that Ctrl-C has little to cancel and a dead worker takes few files with it.
_IN_FLIGHT_PER_WORKER = 2


# --------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class BatchSettings(ImageJob):
    """What to do with every file of a batch: the image job, and the batch's own options.

    The fields of :class:`quantize.run.job.ImageJob` (one options object
    for every command), plus:

    Attributes
    ----------
    out_format : str or None
        Pillow format name of reconstructed images (``'JPEG'``, ...); None
        keeps the input's format when it is writable, else PNG.
    write_codebooks : bool
        Also write each image's fitted codebook as JSON beside it.
    verbose : bool
        Keep the traceback of internal errors.
    """

    out_format: Optional[str] = None
    write_codebooks: bool = False
    verbose: bool = False

    def record(self) -> dict:
        """The options that decide an output's bytes, as stored in the manifest.

        Includes the package version, so that a new version redoes its outputs.
        """
        rec = {"version": __version__, "mode": self.mode, "format": self.out_format,
               "color_space": self.color_space, "write_codebooks": self.write_codebooks}
        if self.frame is not None:
            rec["frame"] = self.frame
        # The look options (colour space, sort, dither, background), recorded only when not the defaults (so that the
        # outputs of earlier runs stay up to date).
        if self.dither != "none":
            rec["dither"] = self.dither
        if self.background is not None:
            rec["background"] = list(self.background)
        if self.optimize:
            rec["optimize"] = True
        if self.output_quality is not None:
            rec["output_quality"] = int(self.output_quality)
        if self.metric != "euclidean" and self.codebook is None:
            rec["metric"] = self.metric
        if self.sort != "frequency" and self.codebook is None:
            rec["sort"] = self.sort
        if self.codebook is not None:
            import numpy as np

            colours = np.ascontiguousarray(self.codebook, dtype=np.uint8)
            rec["codebook"] = hashlib.sha256(colours.tobytes()).hexdigest()
        else:
            init = self.init
            if not isinstance(init, str):  # initial centres given as an array
                import numpy as np

                centres = np.ascontiguousarray(init, dtype=np.float64)
                init = "centres:" + hashlib.sha256(centres.tobytes()).hexdigest()
            rec.update(k=int(self.k), max_iter=int(self.max_iter), eps=float(self.eps),
                       init=init, attempts=int(self.attempts), seed=int(self.seed))
        return rec


@dataclass(frozen=True)
class FileResult:
    """What happened to one input.

    ``status`` is ``'done'``, ``'skipped'`` (up to date), ``'failed'`` or
    ``'cancelled'`` (not started, or abandoned, because of an interrupt).
    ``preview`` is the HTML report's view of a file done with
    ``settings.preview`` (:func:`quantize.io.preview.make_preview`).
    """

    input: str
    output: Optional[str]
    status: str
    k: Optional[int] = None
    inertia: Optional[float] = None
    mse: Optional[float] = None
    seconds: float = 0.0
    error: Optional[str] = None
    exit_code: int = 0
    warnings: tuple = ()
    traceback: Optional[str] = None
    iterations: Optional[int] = None
    converged: Optional[bool] = None
    preview: Optional[dict] = None

    @property
    def psnr(self) -> Optional[float]:
        """PSNR in dB; None when unknown or exact (infinite)."""
        if self.mse is None or self.mse <= 0:
            return None
        return 10.0 * math.log10(255.0**2 / self.mse)

    def to_json(self) -> dict:
        """The report line: input, output, status, k, inertia, mse, psnr, seconds,
        error, exit_code; for a fitted palette also iterations and converged."""
        line = {"input": self.input, "output": self.output, "status": self.status,
                "k": self.k, "inertia": self.inertia, "mse": self.mse, "psnr": self.psnr,
                "seconds": round(self.seconds, 4), "error": self.error,
                "exit_code": self.exit_code}
        if self.converged is not None:
            line.update(iterations=self.iterations, converged=self.converged)
        return line


@dataclass
class BatchSummary:
    """Counts, time and exit code of a batch run."""

    results: list = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        """130 when interrupted, else the most severe code of any file."""
        if self.interrupted:
            return 130
        return most_severe(r.exit_code for r in self.results)

    def to_json(self) -> dict:
        return {"total": len(self.results), "done": self.count("done"),
                "skipped": self.count("skipped"), "failed": self.count("failed"),
                "cancelled": self.count("cancelled"), "seconds": round(self.seconds, 3),
                "interrupted": self.interrupted, "exit_code": self.exit_code}

    def describe(self) -> str:
        """One line: ``12 done, 3 skipped, 1 failed in 2.41 s``."""
        text = (f"{self.count('done')} done, {self.count('skipped')} skipped, "
                f"{self.count('failed')} failed")
        if self.interrupted or self.count("cancelled"):
            text += f", {self.count('cancelled')} not done (interrupted)"
        return f"{text} in {self.seconds:.2f} s"


def available_cpus() -> int:
    """CPUs this process may run on (the default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def limit_numeric_threads() -> None:
    """Ask numpy's BLAS for one thread per process, when several workers run.

    Only effective before numpy is imported (the CLI calls it first); worker
    processes that import numpy themselves inherit it. Variables already set
    by the user are kept.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# --------------------------------------------------------------------------
# The manifest: which outputs are finished, from what, with which options


class _Manifest:
    """Finished outputs of OUTDIR, read at start, appended as files finish.

    A line is written only after its output was renamed into place, so a
    missing or torn line only means a file is redone.
    """

    def __init__(self, outdir):
        self.path = os.path.join(outdir, MANIFEST_NAME)
        self.entries = {}
        self.problems = []
        self._fd = None
        self._appended = False
        try:
            info = os.lstat(self.path)
        except OSError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise OutputError(self.path, "is not a regular file (a symlink?); the manifest of "
                                         "OUTDIR must be the batch's own file")
        try:
            with open(self.path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        bad = 0
        for line in lines:
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                entry = None
            if (isinstance(entry, dict) and isinstance(entry.get("output"), str)
                    and entry["output"] and isinstance(entry.get("options"), dict)):
                self.entries[entry["output"]] = entry
            else:
                bad += 1
        if bad:
            self.problems.append(f"{self.path!r}: {bad} unreadable line(s) skipped; "
                                 "their files are redone")

    def up_to_date(self, item: BatchItem, options_key: str):
        """The entry of ``item``'s output if it can be skipped, else None.

        Skipped when: the output was recorded from the same input with the
        same options, the input's size and mtime are those recorded, the
        output is the file recorded (same size and mtime) and is not older
        than the input, and the per-image codebook (if any) exists.
        """
        entry = self.entries.get(item.rel)
        if not entry or _options_key(entry.get("options")) != options_key:
            return None
        if entry.get("input") != os.path.abspath(item.input):
            return None
        try:
            src = os.stat(item.input)
            out = os.stat(item.output)
        except OSError:
            return None
        if (src.st_mtime_ns, src.st_size) != (entry.get("input_mtime_ns"), entry.get("input_size")):
            return None
        if (out.st_mtime_ns, out.st_size) != (entry.get("output_mtime_ns"), entry.get("output_size")):
            return None
        if out.st_mtime_ns < src.st_mtime_ns:
            return None
        if entry.get("codebook_output") != item.codebook_rel:
            return None
        if item.codebook_output is not None and not os.path.isfile(item.codebook_output):
            return None
        return entry

    def add(self, entry: dict) -> None:
        """Record a finished output (one ``os.write`` of one line)."""
        self.entries[entry["output"]] = entry
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                                   | getattr(os, "O_NOFOLLOW", 0), 0o666)
            os.write(self._fd, line)
            self._appended = True
        except OSError:
            pass  # without a manifest the file is merely redone next time

    def close(self, compact: bool) -> None:
        """Close; with ``compact``, rewrite atomically with one line per live output."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not compact or not (self._appended or self.entries):
            return
        outdir = os.path.dirname(self.path)
        live = [e for key, e in sorted(self.entries.items())
                if os.path.isfile(os.path.join(outdir, key))]
        data = "".join(json.dumps(e, sort_keys=True) + "\n" for e in live).encode("utf-8")
        try:
            with open(self.path, "rb") as f:
                if f.read() == data:
                    return
        except OSError:
            pass
        from ..io.files import write_bytes

        try:
            write_bytes(self.path, data)
        except QuantizeError:
            pass


def _options_key(options) -> str:
    return json.dumps(options, sort_keys=True)


# --------------------------------------------------------------------------
# The work of one file (in a worker process, or in-process with one job)

_SETTINGS: Optional[BatchSettings] = None
_IN_TASK = False


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM while it processes a file."""


def _on_sigterm(signum, frame):
    if _IN_TASK:
        raise _Terminated()  # unwinds through the atomic write, removing its temp file
    os._exit(128 + signum)


def _import_work_modules() -> None:
    """Import what a file's work needs, once per process."""
    from ..image import pipeline  # noqa: F401
    from ..io import codebook, decode, encode, files  # noqa: F401


def _init_worker(settings: BatchSettings, threads: int) -> None:
    """Worker initializer: ignore Ctrl-C (the parent decides), import once,
    share the CPUs with the other workers."""
    global _SETTINGS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _SETTINGS = settings
    # The k-means search's own threads: the CPUs are already shared out
    # between the workers. (A thread pool inherited through fork is dropped
    # by the search module's own fork handler.)
    os.environ.setdefault("QUANTIZE_THREADS", str(threads))
    _import_work_modules()


def _worker_task(task) -> dict:
    """Pool entry point: ``task`` is (input, output, codebook_output)."""
    global _IN_TASK
    _IN_TASK = True
    try:
        return _process_file(_SETTINGS, *task)
    except _Terminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_TASK = False


def _process_file(settings: BatchSettings, input_path, output_path, codebook_output) -> dict:
    """Quantize one file and write its output(s) atomically; returns a plain dict.

    Library errors become ``{"status": "failed", "exit_code": ...}``; any
    other exception is an internal error (70). KeyboardInterrupt propagates.
    """
    from ..io.encode import format_for_path

    started = time.perf_counter()
    try:
        try:
            src = os.stat(input_path)
        except FileNotFoundError:
            raise InputMissingError(input_path, "no such file") from None
        except OSError as exc:
            raise InputMissingError(input_path, f"cannot read: {exc.strerror or exc}") from None
        job = dataclasses.replace(settings, fmt=format_for_path(output_path, default="PNG"))
        init = settings.init
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoded = write_image(job, input_path, output_path, codebook_path=codebook_output,
                                  init_label=init if isinstance(init, str)
                                  else settings.record()["init"])
        result = encoded.result
        out = os.stat(output_path)
    except MemoryError:
        exc = OutOfMemoryError(input_path)
        return {"status": "failed", "exit_code": exc.exit_code, "error": exc.format_message(),
                "seconds": time.perf_counter() - started}
    except QuantizeError as exc:
        return {"status": "failed", "exit_code": exc.exit_code, "error": exc.format_message(),
                "seconds": time.perf_counter() - started}
    except Exception as exc:  # a bug: reported, the batch goes on
        return {"status": "failed", "exit_code": 70,
                "error": f"{input_path!r}: internal error: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc() if settings.verbose else None,
                "seconds": time.perf_counter() - started}
    fitted = {} if settings.codebook is not None else {"iterations": result.n_iter,
                                                          "converged": result.converged}
    return {"status": "done", "k": result.k, "inertia": float(result.inertia), **fitted,
            "mse": float(result.mse), "seconds": time.perf_counter() - started,
            "warnings": tuple(str(w.message) for w in caught),
            "input_mtime_ns": src.st_mtime_ns, "input_size": src.st_size,
            "output_mtime_ns": out.st_mtime_ns, "output_size": out.st_size,
            **({"preview": encoded.preview} if encoded.preview is not None else {})}


# --------------------------------------------------------------------------
# Running a batch


def _sigint_blocked():
    """Block SIGINT in the calling thread; returns a function that restores the mask.

    Worker processes started meanwhile inherit the blocked mask, so Ctrl-C
    cannot reach one before its initializer ignores SIGINT.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return lambda: None
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return lambda: signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Interrupts:
    """Ctrl-C in the parent, counted rather than raised at a random point.

    While installed, SIGINT only raises KeyboardInterrupt inside an
    :meth:`armed` section (waiting for workers, or working on a file in
    this process); elsewhere it is counted and the run loop checks the
    count at its next step. Installed only over Python's default handler in
    the main thread: an ignored SIGINT (a background job) stays ignored.
    """

    def __init__(self):
        self.count = 0
        self._armed = False
        self._previous = None

    def _handler(self, signum, frame):
        self.count += 1
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @contextmanager
    def armed(self, allowed: int = 0):
        """Raise KeyboardInterrupt on Ctrl-C here (at once if more than
        ``allowed`` were already counted)."""
        if self.count > allowed:
            raise KeyboardInterrupt
        self._armed = True
        try:
            yield
        finally:
            self._armed = False


class _Pool:
    """A ProcessPoolExecutor whose workers can be stopped hard and whose
    submissions never expose a new worker to SIGINT."""

    def __init__(self, jobs: int, settings: BatchSettings):
        self._before = set(multiprocessing.active_children())
        threads = max(1, available_cpus() // jobs)
        self.executor = cf.ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                               initargs=(settings, threads))

    def submit(self, item: BatchItem, inflight: dict, value) -> bool:
        """Submit ``item`` and record its future in ``inflight`` before any
        Ctrl-C can be raised, so that no started file goes untracked.
        Returns False (nothing submitted) when the pool has broken."""
        restore = _sigint_blocked()
        try:
            fut = self.executor.submit(_worker_task,
                                       (item.input, item.output, item.codebook_output))
            inflight[fut] = value
            return True
        except BrokenProcessPool:
            return False
        finally:
            restore()

    def terminate(self) -> None:
        """SIGTERM every worker: each removes its temporary file and exits."""
        for proc in multiprocessing.active_children():
            if proc not in self._before:
                try:
                    proc.terminate()
                except (OSError, AttributeError):
                    pass

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def run_batch(items, settings: BatchSettings, outdir, *, jobs: Optional[int] = None,
              force: bool = False, report=None,
              callback: Optional[Callable[[str, object], None]] = None,
              backend=None) -> BatchSummary:
    """Process a planned batch: skip up-to-date outputs, run the rest in parallel.

    Parameters
    ----------
    items : list of BatchItem
        From :func:`plan_batch`.
    settings : BatchSettings
    outdir : str
        The output directory; created if missing.
    jobs : int or None
        Worker processes; None: :func:`available_cpus`. With 1 (or one file
        to do) the work runs in this process.
    force : bool
        Redo up-to-date outputs too.
    report : str or None
        Write one JSON line per input here (atomically; '-' is stdout).
    callback : callable(event, payload) or None
        ``('result', FileResult)`` for each input as it is settled, first the
        ones settled without work (failed planning, skipped); then
        ``('start', {'total', 'todo', 'jobs'})`` once before the work;
        ``('interrupt', {'in_flight'})`` on the first Ctrl-C;
        ``('warning', message)`` for a problem of the batch itself (such as
        unreadable manifest lines). Exceptions raised by the callback
        propagate.
    backend : object or None
        Runs the files elsewhere instead of the local pool: an object with
        ``run(todo, items, settings, finish, emit, interrupts) -> interrupted``
        such as :class:`quantize.run.distributed.DaskBackend`; ``jobs`` is then
        unused. Planning, skipping, the manifest and the report stay here.

    Returns
    -------
    BatchSummary
        Results in the order of ``items``; ``exit_code`` is 130 when
        interrupted, else the most severe per-file code.

    Raises
    ------
    OutputError
        When ``outdir`` cannot be created (73).
    """
    started = time.perf_counter()
    emit = callback or (lambda event, payload: None)
    outdir = os.fspath(outdir)
    try:
        os.makedirs(outdir, exist_ok=True)
    except FileExistsError:
        raise OutputError(outdir, "exists and is not a directory") from None
    except OSError as exc:
        raise OutputError(outdir, f"cannot create the output directory: {exc.strerror or exc}") from None
    from ..io.files import remove_stale_temporaries

    manifest = _Manifest(outdir)
    remove_stale_temporaries(outdir)
    for problem in manifest.problems:
        emit("warning", problem)
    own_dir = os.path.realpath(outdir)
    record = settings.record()
    options_key = _options_key(record)

    results = [None] * len(items)
    todo = []

    def settle(index, result):
        if results[index] is None:
            results[index] = result
            emit("result", result)

    made_dirs = set()
    for index, item in enumerate(items):
        if item.error is not None:
            settle(index, _failed(item, item.error))
            continue
        entry = None if force else manifest.up_to_date(item, options_key)
        if entry is not None:
            settle(index, FileResult(item.input, item.output, "skipped", k=entry.get("k"),
                                     inertia=entry.get("inertia"), mse=entry.get("mse"),
                                     iterations=entry.get("iterations"),
                                     converged=entry.get("converged")))
            continue
        parent = os.path.dirname(item.output)
        if parent not in made_dirs:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                settle(index, _failed(item, OutputError(
                    item.output, f"cannot create its directory: {exc.strerror or exc}")))
                continue
            made_dirs.add(parent)
        escape = _escapes(item, own_dir)
        if escape is not None:
            settle(index, _failed(item, escape))
            continue
        todo.append(index)

    def finish(index, payload):
        if results[index] is not None:
            return
        item = items[index]
        if payload["status"] == "done":
            manifest.add({
                "output": item.rel, "input": os.path.abspath(item.input),
                "options": record, "codebook_output": item.codebook_rel,
                "k": payload["k"], "inertia": payload["inertia"], "mse": payload["mse"],
                **{key: payload[key] for key in ("input_mtime_ns", "input_size",
                                                 "output_mtime_ns", "output_size",
                                                 "iterations", "converged") if key in payload}})
        settle(index, FileResult(
            item.input, item.output, payload["status"], k=payload.get("k"),
            inertia=payload.get("inertia"), mse=payload.get("mse"),
            seconds=payload.get("seconds", 0.0), error=payload.get("error"),
            exit_code=payload.get("exit_code", 0), warnings=payload.get("warnings", ()),
            traceback=payload.get("traceback"), iterations=payload.get("iterations"),
            converged=payload.get("converged"), preview=payload.get("preview")))

    jobs = available_cpus() if jobs is None else max(1, int(jobs))
    jobs = min(jobs, len(todo)) if todo else 1
    interrupted = False
    try:
        with _Interrupts() as interrupts:
            if backend is not None:  # e.g. a Dask cluster (quantize.run.distributed)
                executor = backend.executor(todo, items, settings, finish)
            elif jobs == 1:
                executor = _SerialExecutor(todo, items, settings, finish)
            else:
                executor = _PoolExecutor(todo, items, settings, jobs, finish)
            interrupted = drive(executor, total=len(items), todo=len(todo), emit=emit,
                                interrupts=interrupts)
    finally:
        for index, item in enumerate(items):
            if results[index] is None:
                results[index] = FileResult(item.input, item.output, "cancelled",
                                            error="interrupted before it was done", exit_code=130)
        manifest.close(compact=not interrupted)
        summary = BatchSummary(results, time.perf_counter() - started, interrupted)
        if report is not None:
            _write_report(report, results)
    return summary


def _escapes(item: BatchItem, own_dir: str):
    """An error when ``item`` would be written through a symlink inside OUTDIR, else None.

    OUTDIR is the batch's own: a planted link (a subdirectory or an output
    name pointing elsewhere) must not redirect what it writes.
    """
    for path in (item.output, item.codebook_output):
        if path is None:
            continue
        if os.path.islink(path):
            return OutputError(path, "is a symlink; a batch does not write through links "
                                     "inside OUTDIR")
        where = os.path.realpath(os.path.dirname(path))
        if where != own_dir and not where.startswith(own_dir.rstrip(os.sep) + os.sep):
            return OutputError(path, "resolves outside OUTDIR (through a symlinked "
                                     "directory); a batch writes only inside OUTDIR")
    return None


def _failed(item: BatchItem, error: QuantizeError) -> FileResult:
    return FileResult(item.input, item.output, "failed", error=error.format_message(),
                      exit_code=error.exit_code)


def _write_report(path, results) -> None:
    from ..io.files import write_bytes

    lines = "".join(json.dumps(r.to_json()) + "\n" for r in results)
    write_bytes(path, lines.encode("utf-8"))


class _SerialExecutor:
    """One file after another in this process (``--jobs 1``).

    A file runs inside the driver's interruptible wait: Ctrl-C stops the
    file in progress at once (its temporary file is removed).
    """

    jobs = 1

    def __init__(self, todo, items, settings, finish):
        _import_work_modules()
        self.queue = deque(todo)
        self.items, self.settings, self.finish = items, settings, finish

    def fill(self) -> None:
        pass

    def busy(self) -> bool:
        return bool(self.queue)

    def wait(self):
        index = self.queue[0]
        item = self.items[index]
        payload = _process_file(self.settings, item.input, item.output, item.codebook_output)
        self.queue.popleft()
        return index, payload

    def settle(self, done, interrupted: bool) -> None:
        self.finish(*done)

    def stop(self) -> int:
        self.queue.clear()
        return 0

    def finish_stop(self) -> None:
        pass

    def abandon(self) -> None:
        pass

    def close(self) -> None:
        pass


class _PoolExecutor:
    """Files across ``jobs`` worker processes.

    At most ``2 * jobs`` files are in flight. If a worker dies (killed, out
    of memory, a crash in a decoder), the pool is rebuilt and the files that
    were in flight are retried one at a time, so the one that kills its
    worker is pinned down and reported (70) while the others complete.
    """

    def __init__(self, todo, items, settings, jobs, finish):
        # Imported here, before the workers fork, so that each starts with them.
        _import_work_modules()
        self.jobs = jobs
        self.items, self.settings, self.finish = items, settings, finish
        self.queue = deque(todo)
        self.suspects = deque()
        self.inflight = {}  # future -> (index, ran alone)
        self.window = jobs * _IN_FLIGHT_PER_WORKER
        self.pool = _Pool(jobs, settings)

    def fill(self) -> None:
        while True:
            if self.suspects:
                if self.inflight:
                    return
                index, alone, source = self.suspects.popleft(), True, self.suspects
            elif self.queue and len(self.inflight) < self.window:
                index, alone, source = self.queue.popleft(), False, self.queue
            else:
                return
            if not self.pool.submit(self.items[index], self.inflight, (index, alone)):
                # The pool broke since the last wait (a worker died): the
                # futures in flight will say so; with none, rebuild it now.
                source.appendleft(index)
                if self.inflight:
                    return
                self.pool.shutdown()
                self.pool = _Pool(self.jobs, self.settings)

    def busy(self) -> bool:
        return bool(self.inflight)

    def wait(self):
        done, _ = cf.wait(list(self.inflight), return_when=cf.FIRST_COMPLETED)
        return done

    def _settle_one(self, fut) -> bool:
        """Record one finished future; returns True when it reports a broken pool."""
        index, alone = self.inflight[fut]
        broken = False
        try:
            payload = fut.result()
        except cf.CancelledError:
            payload = None
        except BrokenProcessPool:
            broken, payload = True, None
            if alone:
                payload = {"status": "failed", "exit_code": 70, "error":
                           f"{self.items[index].input!r}: internal error: the worker process "
                           "died on this file (killed, out of memory or crashed)"}
            else:
                self.suspects.append(index)
        except Exception as exc:
            payload = {"status": "failed", "exit_code": 70, "error":
                       f"{self.items[index].input!r}: internal error: {type(exc).__name__}: {exc}"}
        if payload is not None:
            self.finish(index, payload)
        del self.inflight[fut]
        return broken

    def settle(self, done, interrupted: bool) -> None:
        broken = False
        for fut in done:
            broken = self._settle_one(fut) or broken
        if broken and not interrupted:
            # The pool is gone with every file in flight: retry those alone.
            for fut in list(self.inflight):
                if fut.done() and not isinstance(fut.exception(), BrokenProcessPool):
                    self._settle_one(fut)
                else:
                    self.suspects.append(self.inflight.pop(fut)[0])
            self.pool.shutdown()
            self.pool = _Pool(self.jobs, self.settings)

    def stop(self) -> int:
        self.queue.clear()
        self.suspects.clear()
        for fut in list(self.inflight):
            if fut.cancel():
                del self.inflight[fut]
        return len(self.inflight)

    def finish_stop(self) -> None:
        pass

    def abandon(self) -> None:
        # Each worker removes its temporary file.
        self.pool.terminate()

    def close(self) -> None:
        self.pool.shutdown()

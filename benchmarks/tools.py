"""One runner per tool, all measured the same way.

A runner takes a :class:`~benchmarks.images.BenchImage`, ``k`` and a
:class:`Context`, runs the tool ``ctx.repeats`` times one after another, and
returns a :class:`ToolOutput`: the best (minimum) wall time, the output image
decoded back to (H, W, 3) uint8 (from the first run), and for child processes
their peak RSS.

What each timing covers, from the same uint8 pixels to "codes + palette":

=================  ==========================================================
quantize pipeline  ``quantize_image(pixels, k, seed=0)``, in this process,
                   with the library's defaults (max_iter, eps, k-means++, 1
                   attempt)
quantize CLI       the whole ``quantize image IN -o OUT.png -k K`` child
                   process: interpreter start, imports, decoding, k-means,
                   PNG encoding, atomic write (palette mode, the default)
cv2.kmeans         float32 conversion + ``cv2.kmeans`` (EPS+MAX_ITER, 10,
                   1.0; KMEANS_PP_CENTERS; 1 attempt; ``cv2.setRNGSeed(0)``)
sklearn KMeans     float32 conversion + ``KMeans(k, n_init=1,
                   random_state=0).fit`` (default algorithm) on every pixel
scipy kmeans2      float32 conversion + ``kmeans2(X, k, iter=10, minit='++')``
                   seeded with 0, in a worker process killed after
                   ``ctx.scipy_cap`` seconds (reported as a timeout)
Pillow median cut  ``Image.fromarray(pixels).quantize(k, MEDIANCUT, no dither)``
pngquant           the whole ``pngquant --speed 4 --nofs K`` child process on
                   a PNG of the same pixels
=================  ==========================================================

cv2 and scikit-learn use every core they are given (OpenMP / their thread
pools); quantize and scipy run on one core apart from numpy's BLAS.
For cv2/sklearn/scipy the float centres are rounded to uint8 and each pixel
keeps the label the library gave it; Pillow's and pngquant's outputs are
converted back to RGB with Pillow.

A comparison tool's run longer than ``ctx.long_run`` seconds is not
repeated: at that length the repeat's noise is small and the full run stays
short. quantize's own runs (pipeline and CLI) are always repeated.
"""

from __future__ import annotations

import importlib.util
import inspect
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.report import reconstruct

# cv2's criteria are the OpenCV k-means tutorial's; pngquant's are its
# default speed without dithering, so that both outputs are plain palettes.
CV2_CRITERIA = ("EPS+MAX_ITER", 10, 1.0)
PNGQUANT_ARGS = ("--speed", "4", "--nofs")


@dataclass
class Context:
    """Settings shared by the runners."""

    tmpdir: Path
    repeats: int = 3
    scipy_cap: float = 60.0  # seconds per scipy run before it is killed
    child_timeout: float = 900.0  # seconds before a CLI / pngquant run is killed
    long_run: float = 20.0  # a run longer than this is not repeated
    quantize_cmd: list = field(default_factory=lambda: quantize_command())


@dataclass
class ToolOutput:
    """The measurement of one tool on one image and k.

    ``seconds`` is None when the tool did not finish (``note`` says why).
    ``reported_mse`` is the tool's own error figure, per pixel summed over
    RGB, when it reports one (quantize does): a cross-check of our measure.
    """

    seconds: float | None
    image: np.ndarray | None = None
    rss: int | None = None
    note: str = ""
    reported_mse: float | None = None


@dataclass
class ChildRun:
    """One child process: wall time, peak RSS (bytes), exit code, stderr."""

    seconds: float
    rss: int
    returncode: int | None
    stderr: str
    timed_out: bool


def quantize_command() -> list:
    """How to start quantize's CLI: the console script next to this Python."""
    script = Path(sys.executable).parent / "quantize"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "quantize"]


LAUNCHER = Path(__file__).resolve().parent / "_launch.py"


def run_child(argv, timeout: float | None = None) -> ChildRun:
    """Run a command, returning its wall time and the child's own peak RSS.

    The command is started by ``_launch.py`` in a fresh, small interpreter,
    which forks it, reaps it with ``os.wait4`` and reports ``ru_maxrss`` (that
    process's peak resident set size) and the wall time from just before the
    fork to the reaping, which covers the command's start-up and imports.
    Forking the command straight from this process would not do: Linux folds
    the parent's high-water RSS into the child's ``ru_maxrss`` at ``exec``
    (see ``_launch.py``). The command's standard output is discarded.
    """
    import json

    launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(timeout or 0)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(launcher + [str(a) for a in argv], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=err,
                              timeout=(timeout + 60) if timeout else None)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"launcher failed (exit {proc.returncode}): {_last_line(stderr)}") from None
    rss = info["maxrss_kb"] * (1024 if sys.platform.startswith("linux") else 1)
    return ChildRun(info["seconds"], rss, info["returncode"], stderr, info["timed_out"])


def rss_floor() -> int:
    """Peak RSS reported for ``/bin/true``: the launcher's floor, in bytes."""
    return run_child(["true"], timeout=30).rss


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def _best_of(ctx: Context, once, always_repeat: bool = False):
    """Call ``once()`` -> (seconds, payload) up to ``ctx.repeats`` times.

    Returns (best seconds, payload of the first run). Stops repeating after
    a run longer than ``ctx.long_run``, unless ``always_repeat``: quantize's
    own runs are always repeated, since its pipeline time is the reference
    every ratio divides by, and one slow run under load must not become it.
    """
    best, first = None, None
    for i in range(max(1, ctx.repeats)):
        seconds, payload = once()
        if i == 0:
            first = payload
        best = seconds if best is None else min(best, seconds)
        if seconds > ctx.long_run and not always_repeat:
            break
    return best, first


def decode_rgb(path) -> np.ndarray:
    """Read a tool's output file back as RGB pixels (palette and alpha resolved)."""
    from benchmarks.images import load_rgb

    return load_rgb(path)


# --------------------------------------------------------------------------
# In-process tools


def run_pipeline(img, k, ctx: Context) -> ToolOutput:
    """quantize's pipeline on the pixel array, in this process."""
    from quantize.image.pipeline import quantize_image

    def once():
        start = time.perf_counter()
        result = quantize_image(img.pixels, k, seed=0)
        return time.perf_counter() - start, result

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, result = _best_of(ctx, once, always_repeat=True)
    return ToolOutput(seconds, result.reconstruct(), reported_mse=3.0 * float(result.mse))


def _float_rows(pixels) -> np.ndarray:
    return pixels.reshape(-1, 3).astype(np.float32)


def cv2_kmeans(data, k: int, seed: int = 0):
    """One ``cv2.kmeans`` run with the benchmark's settings.

    Parameters
    ----------
    data : ndarray of shape (M, 3), float32
        The pixels, one row each.
    k : int
        Number of clusters.
    seed : int
        Passed to ``cv2.setRNGSeed`` just before the run, which makes the
        k-means++ seeding repeatable.

    Returns
    -------
    centres : ndarray of shape (k, 3), float32
    labels : ndarray of shape (M, 1), int32
    """
    import cv2

    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, CV2_CRITERIA[1], CV2_CRITERIA[2])
    cv2.setRNGSeed(int(seed))
    _, labels, centres = cv2.kmeans(data, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    return centres, labels


def run_cv2(img, k, ctx: Context) -> ToolOutput:
    """cv2.kmeans with the OpenCV tutorial's criteria, k-means++ centres, one attempt."""

    def once():
        start = time.perf_counter()
        data = _float_rows(img.pixels)
        centres, labels = cv2_kmeans(data, k, seed=0)
        return time.perf_counter() - start, (centres, labels)

    seconds, (centres, labels) = _best_of(ctx, once)
    return ToolOutput(seconds, reconstruct(centres, labels, img.pixels.shape))


def run_sklearn(img, k, ctx: Context) -> ToolOutput:
    """scikit-learn's KMeans on every pixel (n_init=1, random_state=0)."""
    from sklearn.cluster import KMeans

    def once():
        start = time.perf_counter()
        data = _float_rows(img.pixels)
        model = KMeans(n_clusters=k, n_init=1, random_state=0).fit(data)
        return time.perf_counter() - start, (model.cluster_centers_, model.labels_)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on tiny inputs
        seconds, (centres, labels) = _best_of(ctx, once)
    return ToolOutput(seconds, reconstruct(centres, labels, img.pixels.shape))


def run_pillow(img, k, ctx: Context) -> ToolOutput:
    """Pillow's median cut, without dithering."""
    from PIL import Image

    def once():
        start = time.perf_counter()
        out = Image.fromarray(img.pixels).quantize(
            colors=k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        return time.perf_counter() - start, out

    seconds, out = _best_of(ctx, once)
    return ToolOutput(seconds, np.asarray(out.convert("RGB"), dtype=np.uint8))


# --------------------------------------------------------------------------
# scipy in a worker process, so that a slow run can be stopped


def _scipy_worker(conn, pixels, k, repeats, long_run):
    """Runs in a spawned process: kmeans2 up to ``repeats`` times, sending each."""
    warnings.simplefilter("ignore")  # "One of the clusters is empty", deprecations
    from scipy.cluster.vq import kmeans2

    params = inspect.signature(kmeans2).parameters
    seed = {"rng": 0} if "rng" in params else {"seed": 0}
    conn.send(("ready", None))
    for i in range(max(1, repeats)):
        start = time.perf_counter()
        data = _float_rows(pixels)
        centres, labels = kmeans2(data, k, iter=10, minit="++", **seed)
        seconds = time.perf_counter() - start
        conn.send(("run", (seconds, centres, labels) if i == 0 else (seconds, None, None)))
        if seconds > long_run:
            break
    conn.send(("end", None))
    conn.close()


def run_scipy(img, k, ctx: Context) -> ToolOutput:
    """scipy.cluster.vq.kmeans2 (minit='++', iter=10), capped at ctx.scipy_cap per run.

    A "spawn" worker (not "fork": forking a process whose OpenMP / BLAS
    threads have run can deadlock the child). Its start-up (importing scipy)
    is not timed; each run is timed inside the worker and the worker is
    killed when a run takes longer than the cap.
    """
    mp = multiprocessing.get_context("spawn")
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_scipy_worker, args=(send, img.pixels, k, ctx.repeats, ctx.long_run),
                      daemon=True)
    proc.start()
    send.close()
    best, first, note = None, None, ""
    try:
        if not receive.poll(120):
            return ToolOutput(None, note="error: scipy worker did not start")
        receive.recv()  # "ready"
        while True:
            if not receive.poll(ctx.scipy_cap):
                note = f"timeout (>{ctx.scipy_cap:g} s)" if best is None else "a repeat timed out"
                break
            kind, payload = receive.recv()
            if kind == "end":
                break
            seconds, centres, labels = payload
            best = seconds if best is None else min(best, seconds)
            if centres is not None:
                first = (centres, labels)
    except EOFError:
        note = f"error: scipy worker died (exit {proc.exitcode})"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
    if best is None:
        return ToolOutput(None, note=note or "error: no result")
    return ToolOutput(best, reconstruct(first[0], first[1], img.pixels.shape), note=note)


# --------------------------------------------------------------------------
# Child processes: quantize's CLI and pngquant


def _run_file_tool(ctx, argv, out_path: Path, what: str, always_repeat=False) -> ToolOutput:
    """Run a file-to-file command ctx.repeats times; decode its output once."""
    best, rss, image = None, 0, None
    for i in range(max(1, ctx.repeats)):
        if out_path.exists():
            out_path.unlink()
        child = run_child(argv, timeout=ctx.child_timeout)
        rss = max(rss, child.rss)
        if child.timed_out:
            return ToolOutput(None, rss=rss, note=f"timeout (>{ctx.child_timeout:g} s)")
        if child.returncode != 0:
            detail = _last_line(child.stderr)
            return ToolOutput(None, rss=rss, note=f"{what} exit {child.returncode}: {detail}")
        best = child.seconds if best is None else min(best, child.seconds)
        if i == 0:
            image = decode_rgb(out_path)
        if child.seconds > ctx.long_run and not always_repeat:
            break
    out_path.unlink(missing_ok=True)
    return ToolOutput(best, image, rss=rss)


def run_cli(img, k, ctx: Context) -> ToolOutput:
    """``quantize image IN -o OUT.png -k K -q`` end to end (palette output)."""
    out = Path(ctx.tmpdir) / f"cli-{Path(img.name).stem}-k{k}.png"
    argv = list(ctx.quantize_cmd) + ["image", str(img.path), "-o", str(out), "-k", str(k), "-q"]
    return _run_file_tool(ctx, argv, out, "quantize", always_repeat=True)


def pngquant_path() -> str | None:
    return shutil.which("pngquant")


def run_pngquant(img, k, ctx: Context) -> ToolOutput:
    """``pngquant --speed 4 --nofs K --force --output OUT IN.png``."""
    source = img.png_path(ctx.tmpdir)  # written before the clock starts
    out = Path(ctx.tmpdir) / f"pngquant-{Path(img.name).stem}-k{k}.png"
    argv = [pngquant_path(), *PNGQUANT_ARGS, str(k), "--force", "--output", str(out), str(source)]
    return _run_file_tool(ctx, argv, out, "pngquant")


# --------------------------------------------------------------------------
# The registry: key -> (label, runner, availability check)


def _has_module(name):
    return lambda: importlib.util.find_spec(name) is not None


TOOLS = {
    "pipeline": ("quantize pipeline", run_pipeline, lambda: True),
    "cli": ("quantize CLI", run_cli, lambda: True),
    "cv2": ("cv2.kmeans", run_cv2, _has_module("cv2")),
    "sklearn": ("sklearn KMeans", run_sklearn, _has_module("sklearn")),
    "scipy": ("scipy kmeans2", run_scipy, _has_module("scipy")),
    "pillow": ("Pillow median cut", run_pillow, lambda: True),
    "pngquant": ("pngquant", run_pngquant, lambda: pngquant_path() is not None),
}

#: Tools too slow for the 12 MP image unless asked for (--large-all-tools).
SLOW_ON_LARGE = ("cv2", "sklearn", "scipy")


# --------------------------------------------------------------------------
# `quantize --help`: its speed, and what it imports

_HELP_IMPORTS = r"""
import contextlib, io, json, sys
from quantize.cli import main
for argv in (["--help"], ["image", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "PIL"))
print("HEAVY=" + json.dumps(heavy))
"""


def measure_help(ctx: Context, runs: int = 7) -> dict:
    """Median wall time of ``quantize --help`` and the heavy modules help imports.

    Returns ``{"median": s, "times": [...], "heavy": [...] or None, "error": str}``.
    The import check runs ``main(["--help"])`` and ``main(["image", "--help"])``
    in a fresh interpreter and lists the numpy / PIL modules left in
    ``sys.modules`` afterwards.
    """
    info = {"median": None, "times": [], "heavy": None, "error": ""}
    run_child(list(ctx.quantize_cmd) + ["--help"], timeout=60)  # warm the file cache
    for _ in range(runs):
        child = run_child(list(ctx.quantize_cmd) + ["--help"], timeout=60)
        if child.returncode != 0:
            info["error"] = f"quantize --help exit {child.returncode}: {_last_line(child.stderr)}"
            break
        info["times"].append(child.seconds)
    if info["times"]:
        info["median"] = statistics.median(info["times"])
    proc = subprocess.run([sys.executable, "-c", _HELP_IMPORTS], capture_output=True, text=True,
                          timeout=60)
    for line in proc.stdout.splitlines():
        if line.startswith("HEAVY="):
            import json

            info["heavy"] = json.loads(line[len("HEAVY="):])
    if info["heavy"] is None:
        info["error"] = (info["error"] + "; " if info["error"] else "") + \
            f"import check failed: {_last_line(proc.stderr)}"
    return info

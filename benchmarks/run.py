"""Time quantize against cv2, scikit-learn, scipy, Pillow and pngquant (`make bench`).

Usage, from the repository root with the virtualenv's Python::

    python -m benchmarks.run [--quick] [--huge] [-k 16,64] [--images china.jpg] ...
    python -m benchmarks.run --corpus-only      # only the quality corpus
    python -m benchmarks.run --no-corpus        # everything but the quality corpus

Every tool runs on the same pixels and the same k, one after another (never
in parallel), best (minimum) wall time of ``--repeats`` runs. The Markdown
report is printed and written to ``benchmarks/RESULTS.md`` (a run limited by
``--quick``, ``-k``, ``--images``, ``--tools`` or ``--no-large`` writes
``benchmarks/.cache/RESULTS-partial.md`` instead, so a quick check never
overwrites the full results). Progress goes to standard error.

Before the corpus comes the dithering section of :mod:`benchmarks.dither`
(blurred MSE and flat-area noise of ``--dither floyd-steinberg`` and
``--dither ordered`` against pngquant's default dithering on the corpus
images at k = 16 and 64, the exactness checks, and the 12 MP timing; pngquant's
figures are cached in ``benchmarks/.cache/dither-peers.json``). ``--quick``,
``--looks-only``, ``--corpus-only`` and ``--huge-only`` leave it out;
``--dither-only`` runs only it.

The full run ends with the quality corpus of :mod:`benchmarks.corpus`
(quantize's MSE on each corpus image at k = 8, 16, 64, 256 against cv2.kmeans,
pngquant and full k-means; the other tools' results come from its cache,
``benchmarks/.cache/corpus-peers.json``, and only missing ones are computed).
``-k`` applies to it too; ``--images`` does not (use
``python -m benchmarks.corpus --images ...``); ``--quick``, ``--looks-only``
and ``--huge-only`` leave it out.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import images as bimages  # noqa: E402
from benchmarks import report, tools  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_K = (16, 64, 256)
HUGE_K = 256


def _csv(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time quantize's pipeline and CLI against cv2.kmeans, scikit-learn KMeans, "
                    "scipy kmeans2, Pillow median cut and pngquant; print and write a Markdown "
                    "report with medians, the speed, quality and memory targets, the perceptual "
                    "section and the quality corpus.")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: one photo (china.jpg), k=16, 1 repeat, no 12 MP image")
    p.add_argument("-k", "--k", dest="ks", type=lambda s: [int(x) for x in _csv(s)],
                   help="comma-separated k values (default 16,64,256)")
    p.add_argument("--images", type=_csv,
                   help=f"comma-separated sample photos (default: {','.join(bimages.PHOTOS)}); "
                        "'none' for no photo")
    p.add_argument("--tools", type=_csv,
                   help=f"comma-separated tools (default: all of {','.join(tools.TOOLS)})")
    p.add_argument("--no-large", action="store_true", help="skip the 12 MP image")
    p.add_argument("--large-all-tools", action="store_true",
                   help="also run cv2, scikit-learn and scipy on the 12 MP image (slow)")
    p.add_argument("--huge", action="store_true",
                   help=f"also run the CLI once on a 100 MP image (k={HUGE_K}) and check its "
                        "peak RSS; generating the image the first time takes minutes")
    p.add_argument("--huge-only", action="store_true",
                   help="only the 100 MP check (and the --help target)")
    p.add_argument("--repeats", type=int, help="runs per timing, best kept (default 3; 1 with --quick)")
    p.add_argument("--scipy-cap", type=float, default=60.0,
                   help="seconds before a scipy kmeans2 run is killed and reported as a timeout "
                        "(default 60)")
    p.add_argument("--long-run", type=float, default=20.0,
                   help="a run longer than this many seconds is not repeated (default 20)")
    p.add_argument("--results", type=Path, help="where to write the Markdown report")
    p.add_argument("--no-looks", action="store_true",
                   help="skip the perceptual section (ΔE, PSNR and PNG bytes against pngquant "
                        "at k=16 and 256, 12 MP dithering time)")
    p.add_argument("--looks-only", action="store_true",
                   help="only the perceptual section (with the 12 MP dithering unless --no-large)")
    p.add_argument("--no-corpus", action="store_true",
                   help="skip the quality corpus (MSE against cv2.kmeans, pngquant and full "
                        "k-means on the corpus images; see python -m benchmarks.corpus)")
    p.add_argument("--corpus-only", action="store_true",
                   help="only the quality corpus (without the 12 MP image if --no-large)")
    p.add_argument("--no-dither", action="store_true",
                   help="skip the dithering section (blurred MSE and flat-area noise against "
                        "pngquant's dithering; see python -m benchmarks.dither)")
    p.add_argument("--dither-only", action="store_true",
                   help="only the dithering section (its 12 MP timing unless --no-large)")
    args = p.parse_args(argv)

    if args.corpus_only and (args.looks_only or args.huge_only or args.no_corpus):
        p.error("--corpus-only goes with none of --looks-only, --huge-only, --no-corpus")
    if args.dither_only and (args.corpus_only or args.looks_only or args.huge_only
                             or args.no_dither):
        p.error("--dither-only goes with none of --corpus-only, --looks-only, --huge-only, "
                "--no-dither")
    if args.dither_only:
        args.no_corpus = True
    if (args.quick and not args.dither_only) or args.looks_only or args.corpus_only \
            or args.huge_only:
        args.no_dither = True
    # The corpus takes its own k values unless -k names some.
    args.corpus_ks = list(args.ks) if args.ks else None
    if args.huge_only:
        args.huge, args.images, args.no_large = True, ["none"], True
    if (args.quick and not args.corpus_only) or args.looks_only or args.huge_only:
        args.no_corpus = True
    partial = bool(args.quick or args.ks or args.images or args.tools or args.no_large
                   or args.huge_only or args.no_looks or args.looks_only
                   or args.no_corpus or args.corpus_only or args.no_dither or args.dither_only)
    if args.quick:
        args.ks = args.ks or [16]
        args.images = args.images or ["china.jpg"]
        args.no_large = True
        args.repeats = args.repeats or 1
    args.ks = args.ks or list(DEFAULT_K)
    args.images = [] if args.images == ["none"] else (args.images or list(bimages.PHOTOS))
    args.repeats = args.repeats or 3
    absent = [name for name in args.images if not (bimages.SAMPLES / name).is_file()]
    if absent:
        p.error(f"no such image in samples/: {absent}")
    unknown = [t for t in (args.tools or []) if t not in tools.TOOLS]
    if unknown:
        p.error(f"unknown tool(s) {unknown}; choose from {list(tools.TOOLS)}")
    args.tools = args.tools or list(tools.TOOLS)
    if args.results is None:
        args.results = (bimages.CACHE / "RESULTS-partial.md") if partial else (HERE / "RESULTS.md")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def available_tools(wanted) -> tuple:
    """(usable tool keys, notes about the missing ones)."""
    usable, notes = [], []
    for key in wanted:
        label, _, check = tools.TOOLS[key]
        if check():
            usable.append(key)
        else:
            notes.append(f"{label} is not installed: its rows are left out")
    return usable, notes


def measure(img, k, key, ctx) -> report.Measurement:
    """Run one tool on one image and k; never raises (errors become a note)."""
    label, runner, _ = tools.TOOLS[key]
    try:
        out = runner(img, k, ctx)
    except Exception as exc:  # a tool's failure is a result, not the end of the run
        out = tools.ToolOutput(None, note=f"error: {type(exc).__name__}: {exc}"[:200])
    mse = report.mse_rgb(img.pixels, out.image) if out.image is not None else None
    note = out.note
    if out.reported_mse is not None and mse is not None and abs(out.reported_mse - mse) > 1e-6 * max(1.0, mse):
        note = (note + "; " if note else "") + f"reports MSE {out.reported_mse:.4f}"
    return report.Measurement(img.name, img.kind, img.n_pixels, k, label,
                              out.seconds, mse if out.seconds is not None else None, out.rss, note)


def source_digest() -> str:
    """A digest of quantize/*.py, to notice the code changing during a run.

    The in-process pipeline runs the code imported when the run began; each
    CLI run imports whatever is on disk at that moment.
    """
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((bimages.REPO / "quantize").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    code_before = source_digest()
    machine = report.machine_description(bimages.REPO, tools.pngquant_path())  # at the start:
    # quantize's git commit is the one the run began with.
    usable, missing_notes = available_tools(args.tools)
    for note in missing_notes:
        log(f"bench: {note}")

    with tempfile.TemporaryDirectory(prefix="quantize-bench-") as tmp:
        ctx = tools.Context(Path(tmp), repeats=args.repeats, scipy_cap=args.scipy_cap,
                            long_run=args.long_run)

        # The plan: (image loader, tools for it, k values).
        plan = [(lambda n=name: bimages.photo(n), usable, args.ks) for name in args.images]
        if args.looks_only or args.corpus_only or args.dither_only:
            plan = []
        elif not args.no_large:
            large_tools = [t for t in usable if args.large_all_tools or t not in tools.SLOW_ON_LARGE]
            log("bench: preparing the 12 MP image (generated once into benchmarks/.cache/)...")
            for img in bimages.large_images():
                plan.append((lambda i=img: i, large_tools, args.ks))
        if args.huge:
            log("bench: preparing the 100 MP image (generated once; this takes a while)...")
            huge = bimages.huge_image()
            plan.append((lambda i=huge: i, [t for t in usable if t == "cli"], [HUGE_K]))

        total = sum(len(t) * len(ks) for _, t, ks in plan)
        results, image_rows, done = [], [], 0
        for load, keys, ks in plan:
            img = load()
            image_rows.append({"name": img.name, "size": img.size_text, "pixels": img.n_pixels,
                               "colours": f"{bimages.count_colours(img.pixels):,}", "kind": img.kind})
            for k in ks:
                for key in keys:
                    done += 1
                    m = measure(img, k, key, ctx)
                    results.append(m)
                    rss = f" peak RSS {m.rss / report.MB:.0f} MB" if m.rss else ""
                    log(f"[{done:3d}/{total}] {img.name} k={k} {m.tool}: "
                        f"{report.fmt_num(m.seconds)} s, MSE {report.fmt_num(m.mse)}{rss}"
                        + (f" ({m.note})" if m.note else ""))
                    gc.collect()
            del img
            gc.collect()

        looks_rows, looks_timings = [], []
        run_looks = not args.no_looks and not args.corpus_only and not args.dither_only
        if run_looks:  # ΔE, PSNR, bytes against pngquant; 12 MP dithering
            from benchmarks import looks

            looks_rows, looks_timings = looks.run(args.images, large=not args.no_large, ctx=ctx,
                                                  log=log)

        dither_text = None
        if not args.no_dither:  # blurred MSE and flat-area noise against pngquant's dithering
            from benchmarks import dither

            log("bench: dithering (pngquant's figures from "
                f"{dither.PEERS_FILE.relative_to(bimages.REPO)} when cached)...")
            dither_text = dither.run([k for k in args.corpus_ks or dither.DEFAULT_K if k >= 2],
                                     timing=not args.no_large, repeats=args.repeats, log=log)[0]

        help_info = None
        if "cli" in usable and not args.looks_only and not args.corpus_only \
                and not args.dither_only:
            log("bench: timing `quantize --help`...")
            help_info = tools.measure_help(ctx)
        floor = tools.rss_floor()

        corpus_text = None
        if not args.no_corpus:  # last: its cold run (no cached peers) is the long one
            from benchmarks import corpus

            log("bench: quality corpus (the other tools' results from "
                f"{corpus.PEERS_FILE.relative_to(bimages.REPO)} when cached)...")
            corpus_text = corpus.run(args.corpus_ks or corpus.DEFAULT_K, large=not args.no_large,
                                     log=log)[0]

    settings = [
        f"k = {', '.join(map(str, args.ks))}; best (minimum) wall time of {args.repeats} run(s); "
        f"another tool's run over {args.long_run:g} s is not repeated (quantize's always are); "
        "tools run one after another, never in parallel.",
        "MSE: per pixel, summed over R, G and B (0-255 units), between the input pixels and the "
        "tool's uint8 output decoded back; cv2/sklearn/scipy centres rounded to uint8.",
        "× time = tool seconds / quantize pipeline seconds (same image and k); "
        "MSE ratio = quantize pipeline MSE / tool MSE (below 1: quantize is closer).",
        "quantize pipeline: `quantize_image(pixels, k, seed=0)` in-process, library defaults. "
        "quantize CLI: `quantize image IN -o OUT.png -k K -q` as a child process (palette PNG), "
        "wall time and peak RSS.",
        "cv2.kmeans: EPS+MAX_ITER (10, 1.0), KMEANS_PP_CENTERS, 1 attempt, setRNGSeed(0). "
        "sklearn KMeans: n_init=1, random_state=0, default algorithm, every pixel as float32. "
        f"scipy kmeans2: minit='++', iter=10, seed 0, killed after {args.scipy_cap:g} s per run. "
        "Pillow: `Image.quantize(k, MEDIANCUT, dither NONE)`. "
        "pngquant: `--speed 4 --nofs K` on a PNG of the same pixels.",
        ("cv2.kmeans, scikit-learn and scipy also ran on the 12 MP image (--large-all-tools)."
         if args.large_all_tools else
         "cv2.kmeans, scikit-learn and scipy are skipped on the 12 MP image "
         "(pass --large-all-tools to run them)."),
        "Peak RSS (CLI, pngquant): the child's own `ru_maxrss` from `os.wait4`, started through "
        "a small launcher interpreter (`benchmarks/_launch.py`) so that the harness's memory does "
        f"not leak into it; floor: `/bin/true` reports {floor / report.MB:.0f} MB. "
        "Limit: 12 bytes per pixel + 250 MB, with MB = 10^6 bytes.",
        "Medians: over the sample photos (not the generated 12 MP image).",
    ] + missing_notes
    if source_digest() != code_before:
        settings.append("**Warning: quantize/ changed on disk during this run**: the in-process "
                        "pipeline ran the code as it was at the start, CLI runs whatever was on "
                        "disk at the time; rerun on a quiet tree for comparable numbers.")
        log("bench: warning: quantize/ changed during the run")
    command = "python -m benchmarks.run" + ("" if argv is None and len(sys.argv) < 2 else
                                            " " + shlex.join(sys.argv[1:] if argv is None else argv))
    if args.corpus_only or args.dither_only:  # no speed tables or targets: header, machine
        part = "quality corpus" if args.corpus_only else "dithering"
        text = "\n".join(
            [f"# quantize benchmark results ({part} only)", "",
             f"Command: `{command}`; the whole run took "
             f"{(time.perf_counter() - started) / 60:.1f} min.", "", "## Machine", ""]
            + [f"- {key}: {value}" for key, value in machine] + [""])
    else:
        text = report.render(
            results=results, machine=machine,
            images=image_rows, settings=settings, help_info=help_info, huge_run=args.huge,
            load_before=load_before, load_after=os.getloadavg()[0],
            wall_seconds=time.perf_counter() - started, command=command)
    if run_looks:
        from benchmarks import looks

        text = text.rstrip("\n") + "\n\n" + looks.render(looks_rows, looks_timings)
    if dither_text is not None:
        text = text.rstrip("\n") + "\n\n" + dither_text
    if corpus_text is not None:
        text = text.rstrip("\n") + "\n\n" + corpus_text
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.results.with_name("." + args.results.name + ".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    os.replace(tmp_out, args.results)
    log(f"bench: report written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

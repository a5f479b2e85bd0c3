"""What a batch prints while it runs: the progress bar and one line per event."""

from __future__ import annotations

import sys

import click


class BatchPrinter:
    """The callback of :func:`quantize.run.batch.run_batch` for the command line.

    A tqdm bar on stderr (when asked, or when stderr is a terminal) counts
    every file of the batch, as the summary does: those settled before any
    work (up to date, or failed while planning) start it, and each file done
    or failed moves it on. Errors, warnings and the ``-v`` lines are written
    above it.
    """

    def __init__(self, *, progress=None, quiet=False, verbose=0):
        self.show_bar = (sys.stderr is not None and sys.stderr.isatty()) if progress is None else progress
        self.quiet, self.verbose = quiet, verbose
        self.bar = None
        self.settled = 0  # results seen, before the bar exists and after

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def __call__(self, event, payload) -> None:
        if event == "start":
            if self.show_bar and payload["todo"]:
                from tqdm import tqdm

                tqdm.monitor_interval = 0  # no monitor thread: workers may be forked later
                self.bar = tqdm(total=payload["total"], initial=self.settled, unit="img",
                                desc="quantize", file=sys.stderr, dynamic_ncols=True,
                                leave=False)
        elif event == "interrupt":
            if payload["in_flight"]:
                self.say("quantize: interrupted; letting the files in progress finish "
                         "(Ctrl-C again to abandon them)")
        elif event == "result":
            self._result(payload)
        elif event == "warning" and not self.quiet:
            self.say(f"quantize: warning: {payload}")

    def _result(self, r) -> None:
        self.settled += 1
        if r.status == "failed":
            self.say(f"quantize: error: {r.error}")
            if r.traceback and self.verbose:
                self.say(r.traceback.rstrip())
        elif r.status == "done":
            if not self.quiet:
                for message in r.warnings:
                    self.say(f"quantize: warning: {r.input!r}: {message}")
            if self.verbose:
                psnr = "inf" if r.psnr is None else f"{r.psnr:.2f}"
                self.say(f"quantize: {r.input!r} -> {r.output!r}: k={r.k} mse={r.mse:.3f} "
                         f"psnr={psnr} seconds={r.seconds:.3f}")
        elif r.status == "skipped" and self.verbose:
            self.say(f"quantize: {r.input!r}: up to date, skipped")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

"""The page of `batch --html` in a real browser: headless Chromium.

The test drives Chromium through its DevTools protocol over a pipe (the
standard library is enough: JSON messages ended by a NUL byte on file
descriptors 3 and 4 of the browser). It opens the page as it was written,
waits for it to load, then runs a script in it that waits for the
thumbnails and clicks the way a person would (sort by PSNR, show the
failures, open a comparison), and returns what it saw. Every uncaught
exception, ``console.error`` and log entry of level error (a blocked load
among them) is collected. Then it takes a screenshot of the page, for a
person to look at (``QUANTIZE_SCREENSHOT_DIR`` keeps a copy).

Chromium comes from the Debian package ``chromium``, which ``make test``
installs when it is missing; where it is not there, the test is skipped
and says so.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quantize.cli import cli

from conftest import blobs_image

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Run in the page once it has loaded; resolves to what a person would see.
CHECKS = """(async function () {
  function rows() { return Array.from(document.querySelectorAll("#rows tr")); }
  function order() { return rows().map(function (tr) { return Number(tr.dataset.n); }); }
  function cellText(key) {
    return rows().map(function (tr) { return tr.querySelector('td[data-key="' + key + '"]').textContent; });
  }
  async function loaded(images) {
    await Promise.all(images.map(function (img) { return img.decode().catch(function () {}); }));
    return images.map(function (img) { return {alt: img.alt, width: img.naturalWidth}; });
  }
  function click(selector) { document.querySelector(selector).click(); }
  const seen = {};
  seen.order = order();
  seen.names = rows().map(function (tr) { return tr.querySelector(".name").textContent; });
  seen.images = await loaded(Array.from(document.querySelectorAll("#rows img")));
  const failed = document.querySelector("#rows tr.failed");
  seen.failure = failed ? {badge: failed.querySelector(".badge").textContent,
                           message: failed.querySelector(".message").textContent} : null;
  click("#sort-psnr button");
  seen.psnr_ascending = {order: order(), psnr: cellText("psnr")};
  click("#sort-psnr button");
  seen.psnr_descending = {order: order(), psnr: cellText("psnr")};
  click("#show-failed");
  seen.failures_only = order();
  click("#show-all");
  seen.all_again = order();
  document.querySelector("#rows button.pics").click();
  seen.dialog_open = document.getElementById("compare").open;
  seen.full_size = await loaded(Array.from(document.querySelectorAll("#compare-body img")));
  document.getElementById("compare").close();
  return seen;
})()"""


class DevTools:
    """Headless Chromium and one page of it, driven over ``--remote-debugging-pipe``."""

    def __init__(self, binary, profile, width, height, timeout=60.0):
        self.timeout = timeout
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def on_fds_3_and_4():  # the browser reads commands on 3 and answers on 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=on_fds_3_and_4)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer, self.events, self.serial, self.session = b"", [], 0, None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, **params):
        """Send one command and wait for its answer; events meanwhile are kept."""
        self.serial += 1
        message = {"id": self.serial, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.serial:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method):
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message(deadline))

    def errors(self):
        """Every error the page reported: exceptions, console.error, error log entries."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description")))
                                      for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text"))
        return found

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)


def find_browser():
    named = os.environ.get("QUANTIZE_CHROMIUM")
    if named:
        return named
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    found = find_browser()
    if found is None:
        pytest.skip("headless Chromium not found (Debian package 'chromium', which `make test` "
                    "installs with apt-get): the report page is not tested in a browser")
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page of a batch of four images and one file that is not an image."""
    root = tmp_path_factory.mktemp("browser")
    src = root / "src"
    src.mkdir()
    Image.fromarray(blobs_image(40, 56, seed=1)).save(src / "a-blobs.png")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(src / "b-noise.png")
    Image.fromarray(np.full((20, 30, 3), (10, 200, 30), np.uint8)).save(src / "c-flat.png")
    Image.fromarray(blobs_image(64, 64, seed=2)).save(src / "d-blobs.png")
    (src / "e-broken.png").write_bytes(b"this is no image")
    html = root / "report.html"
    result = CliRunner().invoke(cli, ["batch", str(src), "-o", str(root / "out"), "-k", "6",
                                      "-j", "1", "--html", str(html),
                                      "--report", str(root / "run.jsonl")])
    assert result.exit_code == 65, result.output
    report = [json.loads(line) for line in (root / "run.jsonl").read_text().splitlines()]
    return html, report


def test_the_page_works_in_headless_chromium(browser, page, tmp_path):
    html, report = page
    devtools = DevTools(browser, tmp_path / "profile", 1400, 900)
    try:
        devtools.call("Page.navigate", url=html.as_uri())
        devtools.wait_for("Page.loadEventFired")
        answer = devtools.call("Runtime.evaluate", expression=CHECKS, awaitPromise=True,
                               returnByValue=True)
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        seen = answer["result"]["value"]
        shot = devtools.call("Page.captureScreenshot", format="png")
        errors = devtools.errors()
    finally:
        devtools.close()

    # Every row, in input order.
    assert seen["order"] == [1, 2, 3, 4, 5]
    assert [Path(n).name for n in seen["names"]] == [Path(r["input"]).name for r in report]
    # Every thumbnail and crop has loaded: 2 thumbnails and 2 crops per image done.
    assert len(seen["images"]) == 4 * 4
    assert all(image["width"] > 0 for image in seen["images"]), seen["images"]
    # The failure shows its message and exit code.
    assert seen["failure"] == {"badge": "failed · exit 65", "message": report[4]["error"]}
    # Sorting by PSNR reorders the rows: worst first, no value last, then reversed.
    psnr = {i + 1: (float("inf") if r["mse"] == 0 else r["psnr"]) for i, r in enumerate(report)
            if r["status"] == "done"}
    worst_first = sorted(psnr, key=lambda n: (psnr[n], n))
    assert seen["psnr_ascending"]["order"] == worst_first + [5]
    assert seen["psnr_ascending"]["order"] != seen["order"]
    assert seen["psnr_ascending"]["psnr"][-2:] == ["exact", "–"]
    assert seen["psnr_descending"]["order"] == worst_first[::-1] + [5]
    assert seen["failures_only"] == [5]
    assert seen["all_again"] == [1, 2, 3, 4, 5]
    # A click on the thumbnails compares the full-size files.
    assert seen["dialog_open"] is True
    full = Image.open(report[0]["output"]).size[0]
    assert [image["width"] for image in seen["full_size"][:2]] == [full, full]
    # No error of any kind.
    assert errors == []

    # A screenshot, for a person to look at.
    path = tmp_path / "report.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    with Image.open(path) as im:
        assert im.size == (1400, 900)
        # Not a blank page: the summary and rows put many colours on it.
        assert len(im.convert("RGB").getcolors(1 << 20) or ()) > 500
    keep = os.environ.get("QUANTIZE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / "report.png")
    print(f"screenshot of the report page: {path}")


PAGING = """(async function () {
  function order() {
    return Array.from(document.querySelectorAll("#rows tr")).map(function (tr) { return Number(tr.dataset.n); });
  }
  const seen = {first: order(), info: document.getElementById("page-info").textContent};
  document.getElementById("next").click();
  seen.second = order();
  const size = document.getElementById("page-size");
  size.value = "250";
  size.dispatchEvent(new Event("change"));
  seen.bigger = order().length;
  const filter = document.getElementById("filter-k");
  filter.value = ">=1190";
  filter.dispatchEvent(new Event("input"));
  seen.filtered = order();
  return seen;
})()"""


def test_a_page_of_thousands_of_images_shows_one_page_of_rows(browser, tmp_path):
    from quantize.io.preview import make_preview
    from quantize.io.report_html import render_report
    from quantize.run.report import report_row, summarize

    pixels = blobs_image(24, 32, seed=5)
    preview = make_preview(pixels, pixels, pixels[0, :4], [1, 1, 1, 1])
    html = tmp_path / "many.html"
    rows = [report_row({"input": f"in/{n:04d}.png", "output": f"out/{n:04d}.png",
                        "status": "done", "k": n, "mse": 1.0 + n}, str(html), preview=preview)
            for n in range(1, 1201)]
    html.write_bytes(render_report(summarize(rows, title="many"), rows))
    devtools = DevTools(browser, tmp_path / "profile", 1200, 800)
    try:
        devtools.call("Page.navigate", url=html.as_uri())
        devtools.wait_for("Page.loadEventFired")
        seen = devtools.call("Runtime.evaluate", expression=PAGING, awaitPromise=True,
                             returnByValue=True)["result"]["value"]
        errors = devtools.errors()
    finally:
        devtools.close()
    assert seen["first"] == list(range(1, 51))
    assert seen["info"] == "rows 1–50 of 1200 · page 1/24"
    assert seen["second"] == list(range(51, 101))
    assert seen["bigger"] == 250
    assert seen["filtered"] == list(range(1190, 1201))
    assert errors == []

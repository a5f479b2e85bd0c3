"""Draw docs/report-page.png: the page of `quantize batch --html`, as Chromium shows it.

    python docs/make_report_page.py     # needs headless Chromium (Debian package chromium)

It quantizes a copy of samples/ with one file that is not an image, from a
temporary directory (so the page names the files as samples/NAME), and
takes a screenshot of the page with headless Chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOT = ROOT / "docs" / "report-page.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def main() -> int:
    browser = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if browser is None:
        print("headless Chromium is needed (Debian package chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "samples", tmp / "samples",
                        ignore=shutil.ignore_patterns("*.py", "*.md", "Makefile"))
        (tmp / "samples" / "broken-scan.jpg").write_bytes(b"a text file named .jpg\n")
        subprocess.run([sys.executable, "-m", "quantize", "batch", "samples", "-o", "out",
                        "-k", "16", "-j", "2", "-q", "--html", "report.html"], cwd=tmp)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}",
                        "--window-size=1400,1000", f"--screenshot={SHOT}",
                        (tmp / "report.html").as_uri()],
                       check=True, capture_output=True)
    print(f"wrote {SHOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

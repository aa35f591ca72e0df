"""Screenshots of report.html at 2, 12 and 40 labels and of the dashboard widget at 12 labels.

Run from the repository root (needs Debian's chromium and chromium-driver, and selenium)::

    .venv/bin/python benchmarks/report_screenshots.py

The pages are the ones ``tests/browser`` checks (``tests/browser/pages.py``: long, Japanese and
emoji label names, abstentions, images without ground truth, one label collapsed into another).
Reports are photographed in a 1280-pixel window, or as wide as the 40-label heat map needs to be
seen whole; the widget at its width on a 1920-pixel screen, in both CloudWatch themes. The PNG
files go to ``benchmarks/results/screenshots/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stacks.operations.panels import EVALUATION_WIDGET_WIDTH, FULL  # noqa: E402
from tests.browser import chromium, pages  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "screenshots"
WINDOW = 1280


def main() -> None:
    driver = chromium.start()
    written = []
    try:
        with TemporaryDirectory(prefix="report-screenshots-") as folder:
            for count in pages.LABEL_COUNTS:
                url = pages.write_page(Path(folder), f"{count}.html", pages.report_html(count))
                chromium.open_page(driver, url, WINDOW)
                needed = driver.execute_script(
                    "const s = document.querySelector('.scroll');"
                    "return s.scrollWidth - s.clientWidth;"
                )
                width = WINDOW + (int(needed) + 1 if needed > 0 else 0)  # all the heat map
                chromium.open_page(driver, url, width)
                path = OUT / f"report-{count}-labels.png"
                chromium.screenshot(driver, path, width)
                written.append((path, width))
            width = pages.widget_pixels(1920, EVALUATION_WIDGET_WIDTH / FULL)
            for theme in ("light", "dark"):
                frame = pages.Frame(theme=theme, width=width)
                html = pages.widget_page(pages.widget_html(12, theme), frame)
                url = pages.write_page(Path(folder), f"widget-{theme}.html", html)
                chromium.open_page(driver, url, width)
                path = OUT / f"widget-12-labels-{theme}.png"
                chromium.screenshot(driver, path, width)
                written.append((path, width))
    finally:
        driver.quit()
    for path, width in written:
        print(f"{path.relative_to(ROOT)}  ({width} px wide)")


if __name__ == "__main__":
    main()

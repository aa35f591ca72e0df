"""``report.html`` in headless Chromium at 2, 12 and 40 labels: layout facts from the DOM.

The labels mix long names (with and without spaces), Japanese, emoji and markup
(``tests/browser/pages.py``). At a 1280-pixel window: no header overflows its cell, column names
read horizontally or bottom to top (never upside down), row names keep their width, every
heat-map cell and every other text reaches WCAG AA contrast (4.5:1), every table has a caption
and scoped headers, and only the heat map scrolls sideways (at 40 labels), its row names staying
in view. ``benchmarks/report_screenshots.py`` photographs the same pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, layout, pages

WINDOW = 1280


@pytest.fixture(scope="module", params=pages.LABEL_COUNTS, ids=lambda n: f"{n} labels")
def report(request: pytest.FixtureRequest, browser: Any, pages_dir: Path) -> dict[str, Any]:
    """The report open in the browser, and what it measures."""
    count = request.param
    url = pages.write_page(pages_dir, f"report-{count}.html", pages.report_html(count))
    chromium.open_page(browser, url, WINDOW)
    return {"count": count, "facts": layout.measure(browser), "browser": browser}


def test_no_header_overflows_its_cell(report: dict[str, Any]) -> None:
    assert report["facts"]["headers"]
    assert layout.header_overflows(report["facts"]) == []


def test_column_names_are_never_upside_down(report: dict[str, Any]) -> None:
    assert layout.upside_down_headers(report["facts"]) == []


def test_row_names_keep_their_width(report: dict[str, Any]) -> None:
    """At least 10 em or their one-line width: a long name wraps to a line or two, no more."""
    assert layout.squeezed_row_names(report["facts"], min_em=10) == []


def test_heat_map_text_reaches_wcag_aa_on_every_cell(report: dict[str, Any]) -> None:
    cells = report["facts"]["cells"]
    columns = report["count"] + 1  # and the no-label column
    rows = report["count"] + 1  # and the no-label row
    assert len(cells) == rows * columns
    assert layout.heat_map_contrast(report["facts"]) == []


def test_all_text_reaches_wcag_aa(report: dict[str, Any]) -> None:
    assert layout.text_contrast(report["facts"]) == []


def test_tables_have_captions_and_scoped_headers(report: dict[str, Any]) -> None:
    tables = report["browser"].execute_script(
        "return [...document.querySelectorAll('table')].map((t) => ({"
        "caption: t.caption ? t.caption.textContent.trim() : '',"
        "scopes: [...t.querySelectorAll('th')].map((th) => th.getAttribute('scope'))}))"
    )
    assert len(tables) == 4
    for table in tables:
        assert table["caption"]
        assert set(table["scopes"]) <= {"col", "row"}, table


def test_only_the_heat_map_scrolls_and_its_row_names_stay_in_view(
    report: dict[str, Any],
) -> None:
    facts, browser = report["facts"], report["browser"]
    assert facts["root"]["scrollWidth"] <= facts["viewport"]["width"]
    (scroller,) = facts["scrollers"]
    if report["count"] <= 12:
        assert scroller["scrollWidth"] <= scroller["clientWidth"]  # all of it in the window
        return
    assert scroller["scrollWidth"] > scroller["clientWidth"]
    offsets = browser.execute_script(
        "const s = document.querySelector('.scroll'); s.scrollLeft = s.scrollWidth;"
        "const left = s.getBoundingClientRect().left;"
        "const out = [...s.querySelectorAll('tbody th')].map("
        "  (th) => th.getBoundingClientRect().left - left);"
        "s.scrollLeft = 0; return out;"
    )
    assert offsets
    assert max(abs(offset) for offset in offsets) <= layout.TOLERANCE

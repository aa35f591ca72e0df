"""The dashboard's evaluation widget in headless Chromium: 12 labels at its configured width.

The widget is ``EVALUATION_WIDGET_WIDTH`` columns of the dashboard's 24 (a quarter):
``pages.widget_pixels`` turns that into the pixels it gets on a 1920-pixel screen and on a
1366-pixel laptop. The HTML is what the real handler returns (moto's S3 holding the files the
Evaluate step writes), in CloudWatch's light and dark themes. Nothing but the heat map's own
scroller may be wider than the widget, on the wide screen the 12-label heat map fits without
scrolling, and the report's checks hold: headers inside their cells, names never upside down,
row names not squeezed, WCAG AA contrast for every text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks.operations.panels import EVALUATION_WIDGET_WIDTH, FULL
from tests.browser import chromium, layout, pages

LABELS = 12
SHARE = EVALUATION_WIDGET_WIDTH / FULL
WIDTHS = {screen: pages.widget_pixels(pixels, SHARE) for screen, pixels in pages.SCREENS.items()}


def test_the_widths_are_a_quarter_dashboard() -> None:
    assert SHARE == 0.25
    assert WIDTHS == {"1920-pixel screen": 450, "1366-pixel laptop": 312}


@pytest.fixture(scope="module", params=["light", "dark"])
def widget_html(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, pages.widget_html(LABELS, request.param)


@pytest.fixture(scope="module", params=list(WIDTHS.items()), ids=lambda p: p[0])
def widget(
    request: pytest.FixtureRequest,
    widget_html: tuple[str, str],
    browser: Any,
    pages_dir: Path,
) -> dict[str, Any]:
    theme, html = widget_html
    screen, width = request.param
    frame = pages.Frame(theme=theme, width=width)
    name = f"widget-{theme}-{width}.html"
    chromium.open_page(
        browser, pages.write_page(pages_dir, name, pages.widget_page(html, frame)), 1000
    )
    return {"screen": screen, "width": width, "facts": layout.measure(browser, ".ew")}


def test_the_widget_shows_twelve_labels_and_the_no_label_axis(widget: dict[str, Any]) -> None:
    cells = widget["facts"]["cells"]
    assert len(cells) == (LABELS + 1) ** 2


def test_nothing_but_the_heat_map_is_wider_than_the_widget(widget: dict[str, Any]) -> None:
    facts = widget["facts"]
    assert facts["root"]["width"] == pytest.approx(widget["width"], abs=layout.TOLERANCE)
    assert facts["root"]["scrollWidth"] <= widget["width"]
    (scroller,) = facts["scrollers"]
    if widget["screen"] == "1920-pixel screen":
        assert scroller["scrollWidth"] <= scroller["clientWidth"]


def test_no_header_overflows_its_cell(widget: dict[str, Any]) -> None:
    assert layout.header_overflows(widget["facts"]) == []


def test_column_headers_are_never_upside_down(widget: dict[str, Any]) -> None:
    assert layout.upside_down_headers(widget["facts"]) == []


def test_row_names_keep_their_width(widget: dict[str, Any]) -> None:
    assert layout.squeezed_row_names(widget["facts"], min_em=4) == []


def test_heat_map_text_reaches_wcag_aa_on_every_cell(widget: dict[str, Any]) -> None:
    assert layout.heat_map_contrast(widget["facts"]) == []


def test_all_text_reaches_wcag_aa(widget: dict[str, Any]) -> None:
    assert layout.text_contrast(widget["facts"]) == []

"""The evaluation widget's one-line view on the overview dashboard: version, verdict, figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

from tests.unit.test_evaluation_widget import (
    HAND_PAIRS,
    PASSING_GATE,
    REJECTING_GATE,
    widget_event,
)

OLDER = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NEWER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def text_of(html: str) -> str:
    body = re.sub(r"<[^>]+>", " ", html.split("</style>", 1)[-1])
    return re.sub(r"\s+", " ", unescape(body)).replace(" :", ":").strip()


def test_the_verdict_line_names_the_newest_version_and_its_verdict(widget):
    widget.put_version("v-old", HAND_PAIRS, at=OLDER, gate=PASSING_GATE)
    document = widget.put_version("v-new", HAND_PAIRS, at=NEWER, gate=REJECTING_GATE)

    text = text_of(widget.call(widget_event(view="verdict")))

    assert text.startswith("Version v-new: REJECTED · ")
    assert f"accuracy {document['accuracy']:.4f}" in text
    assert f"macro F1 {document['f1']['macro']:.4f}" in text
    assert f"{document['n_images']} test images" in text
    assert "evaluated 2026-11-20 09:00 UTC" in text
    assert "<table" not in widget.call(widget_event(view="verdict"))


def test_a_passing_version_reads_passed(widget):
    widget.put_version("v-1", HAND_PAIRS, at=NEWER, gate=PASSING_GATE)

    assert "Version v-1: PASSED · " in text_of(widget.call(widget_event(view="verdict")))


def test_the_full_view_is_the_default(widget):
    widget.put_version("v-1", HAND_PAIRS, at=NEWER, gate=PASSING_GATE)

    assert "<table" in widget.call(widget_event())
    assert "<table" in widget.call(widget_event(view="full"))


def test_an_unknown_view_is_named(widget):
    widget.put_version("v-1", HAND_PAIRS, at=NEWER, gate=PASSING_GATE)

    text = text_of(widget.call(widget_event(view="tiny")))

    assert "Invalid view parameter" in text
    assert "view must be one of full, verdict, got 'tiny'" in text

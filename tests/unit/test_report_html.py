"""``metrics.json`` and ``report.html``: content checked against scikit-learn, escaping, no assets.

The HTML is read back with the standard library's parser, so the checks see what a browser
sees (unescaped text), not the markup. Layout (overflow, contrast as rendered) is measured in a
real browser by ``tests/browser``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sklearn.metrics import classification_report, confusion_matrix

from shared.evaluation import (
    NO_LABEL,
    EvaluationData,
    GateVerdict,
    MetricsReport,
    compute_metrics,
    render_html,
    write_report,
)
from shared.evaluation.report_html import SURFACES, cell_colours, contrast, render_heat_map
from tests.evaluation_data import ManifestSpec, generate_images

HOSTILE_LABELS = ("<b>bold</b>", "say \"hi\" & 'bye'", "chat 🐱", "日本語", "</td></table>")


class Tables(HTMLParser):
    """Cells of every table, by table class: [[cell text pieces, ...] per row]."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[list[str]]]]] = []
        self.captions: list[str] = []
        self.headers: list[tuple[str, str | None]] = []  # (text, scope) of every th
        self.opened: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        self.in_cell = False
        self.in_caption = False
        self.scope: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.opened[tag] += 1
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
            self.captions.append("")
        elif tag == "caption":
            self.in_caption = True
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][1][-1].append([])
            self.in_cell = True
            if tag == "th":
                self.scope = dict(attrs).get("scope")
                self.headers.append(("", self.scope))

    def handle_endtag(self, tag: str) -> None:
        self.closed[tag] += 1
        if tag in ("td", "th"):
            self.in_cell = False
        elif tag == "caption":
            self.in_caption = False

    def handle_data(self, data: str) -> None:
        if self.in_caption:
            self.captions[-1] += data
        elif self.in_cell and data.strip():
            self.tables[-1][1][-1][-1].append(data)

    def table(self, class_name: str) -> list[list[list[str]]]:
        """The rows of the first table whose classes include ``class_name``."""
        return next(rows for name, rows in self.tables if class_name in name.split())


def read_back(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    parser.close()
    return parser


def single_label_case() -> tuple[MetricsReport, list[str], list[str]]:
    spec = ManifestSpec(seed=3, labels=HOSTILE_LABELS, n_images=300, no_prediction_rate=0.1)
    images = [(image.truth, image.predicted) for image in generate_images(spec)]
    data = EvaluationData.from_observations(Counter(images), multi_label=False)
    y_true = [truth[0] if truth else NO_LABEL for truth, _ in images]
    y_pred = [predicted[0] if predicted else NO_LABEL for _, predicted in images]
    return compute_metrics(data), y_true, y_pred


def multi_label_metrics() -> MetricsReport:
    spec = ManifestSpec(seed=4, labels=HOSTILE_LABELS, multi_label=True, no_prediction_rate=0.1)
    images = Counter((image.truth, image.predicted) for image in generate_images(spec))
    return compute_metrics(EvaluationData.from_observations(images, multi_label=True))


def test_heat_map_shows_sklearn_counts_and_row_percentages() -> None:
    metrics, y_true, y_pred = single_label_case()
    labels = metrics["labels"]
    assert NO_LABEL not in labels
    assert NO_LABEL in y_pred  # abstentions: a no-label column, and no row (all labelled)
    columns = [*labels, NO_LABEL]
    expected = confusion_matrix(y_true, y_pred, labels=columns)[: len(labels)]
    header, *rows = read_back(render_html(metrics)).table("heatmap")
    assert [" ".join(cell) for cell in header[1:]] == columns
    assert len(rows) == len(labels)
    for label, row, counts in zip(labels, rows, expected, strict=True):
        assert row[0] == [label]
        total = counts.sum()
        shown = [(int(count), share) for count, share in row[1:]]
        assert shown == [(int(c), f"{100 * c / total:.1f}%" if total else "n/a") for c in counts], (
            label
        )


def test_heat_map_has_a_no_label_row_only_for_images_without_ground_truth() -> None:
    images = [(("cat",), ("cat",))] * 3 + [((), ("dog",))] * 2 + [(("dog",), ("dog",))]
    metrics = compute_metrics(EvaluationData.from_observations(Counter(images), multi_label=False))
    header, *rows = read_back(render_html(metrics)).table("heatmap")
    assert [" ".join(cell) for cell in header[1:]] == ["cat", "dog"]  # nothing abstained
    assert {row[0][0]: [cell[0] for cell in row[1:]] for row in rows} == {
        "cat": ["3", "0"],
        "dog": ["0", "1"],
        NO_LABEL: ["0", "2"],
    }
    assert rows[-1][2] == ["2", "100.0%"]  # the share of the images without ground truth
    html = render_html(metrics)
    assert "2 images (33.3%) had no ground-truth label" in html
    assert "got no prediction" not in html


def test_classification_report_table_matches_sklearn() -> None:
    metrics, y_true, y_pred = single_label_case()
    labels = metrics["labels"]
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    tables = read_back(render_html(metrics))
    _, *rows = tables.tables[-1][1]
    by_name = {row[0][0]: [cell[0] for cell in row[1:]] for row in rows}
    assert NO_LABEL not in by_name
    for label in labels:
        scores = report[label]
        assert by_name[label] == [
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1-score']:.4f}",
            str(int(scores["support"])),
        ], label
    for average in ("macro", "weighted"):
        scores = report[f"{average} avg"]
        assert by_name[f"{average} avg"][:3] == [
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1-score']:.4f}",
        ]
    assert "samples avg" not in by_name


def test_report_counts_real_labels_and_says_what_abstentions_are() -> None:
    metrics, _, y_pred = single_label_case()
    html = render_html(metrics)
    n = len(y_pred)
    abstentions = y_pred.count(NO_LABEL)
    assert f"{n} test images, {len(HOSTILE_LABELS)} labels." in html
    assert f"{abstentions} images ({100 * abstentions / n:.1f}%) got no prediction" in html
    assert "a miss of its true labels" in html


def test_every_table_has_a_caption_and_scoped_headers() -> None:
    for metrics in (single_label_case()[0], multi_label_metrics()):
        parser = read_back(render_html(metrics))
        assert len(parser.tables) == 4
        assert all(caption.strip() for caption in parser.captions), parser.captions
        assert parser.headers
        assert all(scope in ("col", "row") for _, scope in parser.headers)


def test_heat_map_cell_colours_reach_wcag_aa_on_every_share() -> None:
    """Black or white text on every background the ramp can produce, in both themes."""
    for theme in SURFACES:
        for diagonal in (True, False):
            for step in range(1001):
                background, text = cell_colours(step / 1000, diagonal=diagonal, theme=theme)
                rgb = [int(background[i : i + 2], 16) for i in (1, 3, 5)]
                ink = (0, 0, 0) if text == "#000" else (255, 255, 255)
                assert contrast(rgb, ink) >= 4.5, (theme, diagonal, step, background, text)


def test_contrast_is_the_wcag_formula() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # WebAIM's contrast checker: #767676 on white is 4.54:1, the lightest AA grey.
    assert contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.005)


def test_many_columns_turn_vertical_then_compact() -> None:
    def heat_map_classes(n_labels: int) -> list[str]:
        names = tuple(f"label {i}" for i in range(n_labels))
        images = Counter(((name,), (name,)) for name in names)
        metrics = compute_metrics(EvaluationData.from_observations(images, multi_label=False))
        return read_back(render_heat_map(metrics)).tables[0][0].split()

    assert heat_map_classes(4) == ["heatmap"]
    assert heat_map_classes(5) == ["heatmap", "vertical"]
    assert heat_map_classes(16) == ["heatmap", "vertical"]
    assert heat_map_classes(17) == ["heatmap", "vertical", "compact"]


def test_label_names_are_escaped() -> None:
    html = render_html(multi_label_metrics())
    assert "<b>bold</b>" not in html
    assert "</td></table>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "say &quot;hi&quot; &amp; &#x27;bye&#x27;" in html
    assert "chat 🐱" in html
    assert "日本語" in html


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
def test_report_is_self_contained_and_well_formed(task: str) -> None:
    metrics = single_label_case()[0] if task == "single-label" else multi_label_metrics()
    html = render_html(metrics)
    assert html.startswith("<!DOCTYPE html>")
    assert re.search(r"<script|<link|<img|<iframe|\bsrc=|url\(|@import|https?://", html) is None
    parser = read_back(html)
    parser.opened.subtract({"meta": parser.opened["meta"]})  # void element, never closed
    assert +parser.opened == parser.closed
    assert parser.opened["style"] == 1


def test_multi_label_report_explains_the_co_occurrence_matrix() -> None:
    html = render_html(multi_label_metrics())
    assert "Multi-label data" in html
    tables = read_back(html)
    _, *rows = tables.tables[-1][1]
    assert "samples avg" in {row[0][0] for row in rows}


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (None, ["No gate verdict was given."]),
        (
            GateVerdict(passed=True, metric="f1.macro", value=0.91234, threshold=0.9),
            ["PASSED", "f1.macro = 0.9123 (threshold 0.9000)"],
        ),
        (
            GateVerdict(
                passed=False,
                metric="recall.macro",
                value=0.5,
                threshold=0.8,
                reasons=["label <b> recall 0.10 < 0.80", "fewer than 50 test images"],
            ),
            ["REJECTED", "recall.macro = 0.5000 (threshold 0.8000)", "&lt;b&gt; recall 0.10"],
        ),
    ],
    ids=["no verdict", "passed", "failed with reasons"],
)
def test_gate_verdict_section(verdict: GateVerdict | None, expected: list[str]) -> None:
    html = render_html(single_label_case()[0], verdict)
    section = html[html.index("<h2>Gate verdict</h2>") : html.index("<h2>Aggregate metrics</h2>")]
    for text in expected:
        assert text in section


def test_write_report_writes_both_files(tmp_path: Path) -> None:
    metrics = multi_label_metrics()
    verdict = GateVerdict(passed=True, metric="f1.micro", value=0.9, threshold=0.5, reasons=[])
    metrics_path, report_path = write_report(metrics, tmp_path / "out", verdict)
    assert json.loads(Path(metrics_path).read_text(encoding="utf-8")) == metrics
    assert Path(report_path).read_text(encoding="utf-8") == render_html(metrics, verdict)
    assert Path(metrics_path).name == "metrics.json"
    assert Path(report_path).name == "report.html"

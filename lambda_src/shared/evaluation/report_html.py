"""``metrics.json`` and a self-contained ``report.html`` for one model evaluation.

The HTML report is read from S3 links and email attachments, often offline or behind strict
content policies, so it is one file: inline CSS, no script, no external fonts or images. Every
label name goes through :func:`html.escape` (names are free text: unicode, ``<``, quotes).

Readable at any label count, in any script: tables have captions and ``scope`` headers; the
heat map scrolls sideways instead of squeezing (row names keep a minimum width and stay in view
while it scrolls), its column names run bottom to top once there are more than
:data:`HORIZONTAL_COLUMNS` columns, every glyph turned the same way (``text-orientation:
sideways``: Japanese or emoji are never upside down), and long names wrap instead of
overflowing. Cell colours are opaque, computed here for the page's surface, with black or white
text, whichever contrasts more: at least 4.58:1 on every colour (WCAG AA asks 4.5:1);
``tests/browser`` measures it in Chromium.

The CloudWatch dashboard's evaluation widget (``evaluation_widget``) shows the same heat map and
gate verdict, so those parts are public: :func:`render_heat_map`, :func:`heat_map_caption`,
:func:`render_verdict` and :data:`COMPONENT_CSS` (their style rules, without the page's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Literal, NotRequired, TypedDict

from .metrics import NO_LABEL, MetricsReport
from .verdict import figures, verdict_word


class GateVerdict(TypedDict):
    """The quality gate's decision, shown at the top of the report."""

    passed: bool
    metric: str
    value: float
    threshold: float
    reasons: NotRequired[list[str]]


_Average = Literal["micro", "macro", "weighted", "samples"]
Theme = Literal["light", "dark"]

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
#: Up to this many heat-map columns, their names are written horizontally.
HORIZONTAL_COLUMNS = 4
#: Beyond this many columns, a heat-map cell shows its count only (its share is in its title).
COMPACT_COLUMNS = 16

#: The background the heat-map colours are mixed on, per theme (the widget's dark theme is
#: CloudWatch's dark surface), and the two hues: blue where right, red where wrong.
SURFACES: dict[Theme, tuple[int, int, int]] = {"light": (255, 255, 255), "dark": (29, 33, 41)}
_RIGHT = (38, 110, 190)
_WRONG = (205, 70, 55)

#: Page layout of the standalone report (the widget lives inside CloudWatch's page instead).
_PAGE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
  background:#fff;margin:2rem 0;padding:0 1.5rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
  border-bottom:1px solid #d8dde6;padding-bottom:.3rem}
.meta{color:#4f5869;margin:.2rem 0;max-width:60rem}
.notes li{max-width:60rem}
"""

#: Style rules of the tables, the heat map and the verdict block: reused by the widget.
COMPONENT_CSS = """table{border-collapse:collapse;margin:.5rem 0}
caption{text-align:left;caption-side:top;padding:.2rem 0 .4rem;color:#4f5869;font-size:.9em;
  max-width:60rem}
th,td{padding:.3rem .6rem;border:1px solid #d8dde6;text-align:right;
  font-variant-numeric:tabular-nums}
th{background:#f3f5f9;font-weight:600}
th.label,td.label{text-align:left}
th.label > span{display:block;min-width:6rem;max-width:16rem;overflow-wrap:anywhere}
tr.average th,tr.average td{background:#fafbfd;font-style:italic}
.scroll{overflow-x:auto;max-width:100%}
.heatmap{width:max-content}
.heatmap th.label{position:sticky;left:0;z-index:1}
.heatmap th.corner{font-weight:400;color:#4f5869;font-size:.85em}
.heatmap th.label span.numbered{display:flex;gap:.35em}
.heatmap .key{flex:none;min-width:1.3em;font-weight:400;color:#4f5869;
  font-variant-numeric:tabular-nums}
.axis{color:#4f5869;font-size:.9em;margin:.3rem 0;max-width:60rem}
.heatmap th.predicted{text-align:center;vertical-align:bottom;padding:.3rem .3rem}
.heatmap th.predicted span{display:inline-block;max-width:8rem;overflow-wrap:anywhere;
  text-align:center}
.heatmap.vertical th.predicted.name span{writing-mode:vertical-rl;text-orientation:sideways;
  transform:rotate(180deg);max-width:none;max-height:12rem;text-align:left}
.heatmap td{min-width:3.2rem;text-align:center;line-height:1.2;border-color:#fff}
.heatmap td small{display:block;font-size:.75em}
.heatmap.compact td{min-width:1.9rem;padding:.25rem .2rem}
.verdict{padding:.8rem 1rem;border-radius:6px;border:1px solid;max-width:60rem}
.verdict.pass{background:#e8f6ec;border-color:#3c9a5f}
.verdict.fail{background:#fdecec;border-color:#c8433f}
.verdict strong{font-size:1.1rem}
.none{color:#4f5869;font-style:italic}
"""

_CSS = _PAGE_CSS + COMPONENT_CSS
#: The whole page's style: the drift report (``drift.report``) looks the same.
REPORT_CSS = _CSS


def write_report(
    metrics: MetricsReport,
    directory: str | os.PathLike[str],
    verdict: GateVerdict | None = None,
) -> tuple[str, str]:
    """Write ``metrics.json`` and ``report.html`` into ``directory``; return both paths.

    (``os.path`` rather than ``pathlib``: the import is a fifth of this package's start-up.)
    """
    os.makedirs(directory, exist_ok=True)
    metrics_path = os.path.join(directory, METRICS_FILE)
    report_path = os.path.join(directory, REPORT_FILE)
    with open(metrics_path, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2, ensure_ascii=False, allow_nan=False)
        handle.write("\n")
    with open(report_path, "w", encoding="utf-8") as handle:
        handle.write(render_html(metrics, verdict))
    return metrics_path, report_path


def render_html(metrics: MetricsReport, verdict: GateVerdict | None = None) -> str:
    """The report as one HTML document."""
    task = "multi-label" if metrics["task"] == "multi_label" else "single-label"
    n_labels = len(metrics["labels"])
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Model evaluation report</title>",
            f"<style>{_CSS}</style></head><body>",
            "<h1>Model evaluation report</h1>",
            f'<p class="meta">Rekognition Custom Labels, {task} classification, '
            f"{metrics['n_images']} test images, {n_labels} label{'s' * (n_labels != 1)}.</p>",
            *(f'<p class="meta">{sentence}</p>' for sentence in _missing_sides(metrics)),
            _verdict_section(verdict),
            _aggregate_section(metrics),
            _confusion_section(metrics),
            _classification_report_section(metrics),
            _notes_section(metrics),
            '<p class="meta">Figures follow scikit-learn called with labels=&lt;the labels&gt; and '
            "zero_division=0: per-label figures and their averages cover the real labels only; "
            "an abstention is a miss of its true label, and accuracy counts it as wrong.</p>",
            "</body></html>",
            "",
        ]
    )


def _missing_sides(metrics: Mapping[str, Any]) -> list[str]:
    """What the report says about abstentions and images without ground truth."""
    n = metrics["n_images"]
    sentences = []
    abstentions, unlabelled = metrics.get("n_abstentions", 0), metrics.get("n_unlabelled", 0)
    if abstentions:
        sentences.append(
            f"{_images(abstentions)} ({100 * abstentions / n:.1f}%) got no prediction above "
            "its label's threshold: each is a miss of its true labels, shown in the "
            f"{escape(NO_LABEL)} column."
        )
    if unlabelled:
        sentences.append(
            f"{_images(unlabelled)} ({100 * unlabelled / n:.1f}%) had no ground-truth label: "
            f"a prediction for one is a false positive, shown in the {escape(NO_LABEL)} row."
        )
    return sentences


def _images(count: int) -> str:
    return f"{count} image{'s' * (count != 1)}"


def _number(value: float) -> str:
    return f"{value:.4f}"


def _averages(metrics: MetricsReport) -> list[_Average]:
    """The averages the report has: ``samples`` exists for multi-label data only."""
    averages: list[_Average] = ["micro", "macro", "weighted"]
    if metrics["task"] == "multi_label":
        averages.append("samples")
    return averages


def _verdict_section(verdict: GateVerdict | None) -> str:
    if verdict is None:
        return '<h2>Gate verdict</h2><p class="none">No gate verdict was given.</p>'
    return f"<h2>Gate verdict</h2>{render_verdict(verdict)}"


def render_verdict(verdict: GateVerdict) -> str:
    """The verdict block: PASSED or REJECTED, the metric against its threshold, the reasons.

    Only the :class:`GateVerdict` keys are read (a workflow verdict's ``gap`` is ignored).
    """
    passed = verdict["passed"]
    value, threshold = figures(verdict["value"], verdict["threshold"])
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in verdict.get("reasons", []))
    return (
        f'<div class="verdict {"pass" if passed else "fail"}">'
        f"<strong>{verdict_word(passed)}</strong>: "
        f"{escape(verdict['metric'])} = {value} (threshold {threshold})"
        f"{f'<ul>{reasons}</ul>' if reasons else ''}</div>"
    )


def _aggregate_section(metrics: MetricsReport) -> str:
    multi = metrics["task"] == "multi_label"
    rows = [
        ("Accuracy" + (" (subset)" if multi else ""), metrics["accuracy"]),
        ("Balanced accuracy", metrics["balanced_accuracy"]),
        ("Hamming loss", metrics["hamming_loss"]),
        ("Matthews correlation coefficient", metrics["matthews_corrcoef"]),
    ]
    if metrics["service_f1"] is not None:
        rows.append(("F1 reported by Rekognition (summary file)", metrics["service_f1"]))
    single = "".join(
        f'<tr><th scope="row" class="label">{name}</th><td>{_number(value)}</td></tr>'
        for name, value in rows
    )
    averages = _averages(metrics)
    header = "".join(f'<th scope="col">{average}</th>' for average in averages)
    averaged = "".join(
        f'<tr><th scope="row" class="label">{name}</th>'
        + "".join(f"<td>{_number(values[average])}</td>" for average in averages)
        + "</tr>"
        for name, values in (
            ("Precision", metrics["precision"]),
            ("Recall", metrics["recall"]),
            ("F1", metrics["f1"]),
            ("Jaccard", metrics["jaccard"]),
        )
    )
    return (
        "<h2>Aggregate metrics</h2>"
        "<table><caption>Figures of the whole test set</caption>"
        '<thead><tr><th scope="col" class="label">Metric</th><th scope="col">Value</th></tr>'
        f"</thead><tbody>{single}</tbody></table>"
        "<table><caption>Precision, recall, F1 and Jaccard averaged over the labels</caption>"
        f'<thead><tr><th scope="col" class="label">Average</th>{header}</tr></thead>'
        f"<tbody>{averaged}</tbody></table>"
    )


def _confusion_section(metrics: MetricsReport) -> str:
    return (
        f'<h2>Confusion matrix</h2><p class="axis">{heat_map_caption(metrics)}</p>'
        f'<div class="scroll">{render_heat_map(metrics)}</div>'
    )


def heat_map_caption(metrics: Mapping[str, Any]) -> str:
    """How to read :func:`render_heat_map`'s table (HTML-safe text, no markup)."""
    if metrics["task"] == "multi_label":
        explanation = (
            "Multi-label data: a cell counts the images whose ground truth contains the row's "
            "label and whose prediction contains the column's; the diagonal holds each label's "
            "true positives."
        )
    else:
        explanation = "Rows are the ground truth, columns the prediction."
    rows, columns = confusion_axes(metrics)
    missing = []
    if NO_LABEL in columns:
        missing.append(
            f"the {escape(NO_LABEL)} column counts the images with no prediction above "
            "threshold (abstentions)"
        )
    if NO_LABEL in rows:
        missing.append(f"the {escape(NO_LABEL)} row the images without a ground-truth label")
    extra = f" {'; '.join(missing).capitalize()}." if missing else ""
    return (
        f"{explanation}{extra} Each cell shows the image count and its share of the row "
        "label's images."
    )


def confusion_axes(metrics: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The confusion matrix's (rows, columns); both ``labels`` in reports that predate them."""
    labels: list[str] = metrics["labels"]
    return (
        metrics.get("confusion_matrix_rows", labels),
        metrics.get("confusion_matrix_columns", labels),
    )


def render_heat_map(
    metrics: Mapping[str, Any],
    labels: Sequence[str] | None = None,
    *,
    theme: Theme = "light",
    compact_after: int = COMPACT_COLUMNS,
    numbered: bool = False,
) -> str:
    """The confusion matrix as a ``<table class="heatmap">``, blue diagonal, red errors.

    ``labels``: the real labels to show, in that order (a subset of ``metrics["labels"]`` for a
    large label set); all of them by default. The no-label row and column are shown whenever
    the matrix has them. A cell's share is of the row's images, whichever columns are shown.
    ``theme``: the surface the cell colours are mixed on. With more than ``compact_after``
    columns a cell shows its count only (the share stays in its title and colour).
    ``numbered``: label columns are headed by the number their row name carries (where names
    cannot fit, as in the dashboard widget); the header's accessible name stays the label.
    :func:`heat_map_caption` is the paragraph that explains the table.
    """
    all_rows, all_columns = confusion_axes(metrics)
    matrix = metrics["confusion_matrix"]
    if len(matrix) != len(all_rows) or any(len(row) != len(all_columns) for row in matrix):
        raise ValueError("the confusion matrix does not match its row and column labels")
    chosen = list(metrics["labels"] if labels is None else labels)
    rows = [*chosen, *[NO_LABEL] * (NO_LABEL in all_rows and NO_LABEL not in chosen)]
    columns = [*chosen, *[NO_LABEL] * (NO_LABEL in all_columns and NO_LABEL not in chosen)]
    row_index = {label: i for i, label in enumerate(all_rows)}
    column_index = {label: j for j, label in enumerate(all_columns)}
    classes = ["heatmap"]
    if len(columns) > HORIZONTAL_COLUMNS:
        classes.append("vertical")
    compact = len(columns) > compact_after
    if compact:
        classes.append("compact")
    key = {label: str(n) for n, label in enumerate(chosen, 1)} if numbered else {}
    head = "".join(
        f'<th scope="col" class="predicted number" title="{escape(label)}" '
        f'aria-label="{escape(label)}"><span>{key[label]}</span></th>'
        if label in key
        else f'<th scope="col" class="predicted name"><span>{escape(label)}</span></th>'
        for label in columns
    )
    body = []
    for label in rows:
        counts = matrix[row_index[label]]
        images = _row_images(metrics, label)
        cells = "".join(
            _heat_cell(
                label,
                other,
                counts[column_index[other]],
                images,
                diagonal=other == label,
                compact=compact,
                theme=theme,
            )
            for other in columns
        )
        name = (
            f'<span class="numbered"><span class="key">{key[label]}</span>'
            f"<span>{escape(label)}</span></span>"
            if label in key
            else f"<span>{escape(label)}</span>"
        )
        body.append(f'<tr><th scope="row" class="label">{name}</th>{cells}</tr>')
    return (
        f'<table class="{" ".join(classes)}"><caption>Confusion matrix: ground truth (rows) '
        "by prediction (columns), image counts</caption>"
        '<thead><tr><th scope="col" class="label corner"><span>truth \\ predicted</span></th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _row_images(metrics: Mapping[str, Any], label: str) -> int:
    """The images of a heat-map row: a label's support, or the images without ground truth."""
    scores = metrics["per_label"].get(label)
    if scores is not None:
        support: int = scores["support"]
        return support
    unlabelled: int = metrics.get("n_unlabelled", 0)
    return unlabelled


def _heat_cell(
    truth: str,
    predicted: str,
    count: int,
    images: int,
    *,
    diagonal: bool,
    compact: bool,
    theme: Theme,
) -> str:
    share = count / images if images else 0.0
    background, text = cell_colours(share if count else 0.0, diagonal=diagonal, theme=theme)
    percent = f"{100 * share:.1f}%" if images else "n/a"
    title = escape(f"{truth} -> {predicted}: {count} images, {percent} of the row")
    shown = "" if compact else f"<small>{percent}</small>"
    return f'<td style="background:{background};color:{text}" title="{title}">{count}{shown}</td>'


def cell_colours(share: float, *, diagonal: bool, theme: Theme = "light") -> tuple[str, str]:
    """(background, text) of a heat-map cell: the hue mixed in by share, opaque, readable.

    The text is black or white, whichever contrasts more with the background: one of them
    always reaches 4.58:1 (the worst case is a background of relative luminance 0.179).
    """
    surface = SURFACES[theme]
    hue = _RIGHT if diagonal else _WRONG
    strength = 0.06 + 0.84 * share if share else 0.0
    rgb = tuple(round(s + (h - s) * strength) for s, h in zip(surface, hue, strict=True))
    on_black, on_white = contrast(rgb, (0, 0, 0)), contrast(rgb, (255, 255, 255))
    text = "#000" if on_black >= on_white else "#fff"
    return "#{:02x}{:02x}{:02x}".format(*rgb), text


def contrast(first: Sequence[int], second: Sequence[int]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(rgb: Sequence[int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    channels = []
    for value in rgb:
        c = value / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _classification_report_section(metrics: MetricsReport) -> str:
    rows = [
        f'<tr><th scope="row" class="label"><span>{escape(label)}</span></th>'
        f"<td>{_number(scores['precision'])}</td>"
        f"<td>{_number(scores['recall'])}</td><td>{_number(scores['f1'])}</td>"
        f"<td>{scores['support']}</td></tr>"
        for label, scores in metrics["per_label"].items()
    ]
    total = sum(scores["support"] for scores in metrics["per_label"].values())
    for average in _averages(metrics):
        rows.append(
            f'<tr class="average"><th scope="row" class="label">{average} avg</th>'
            f"<td>{_number(metrics['precision'][average])}</td>"
            f"<td>{_number(metrics['recall'][average])}</td>"
            f"<td>{_number(metrics['f1'][average])}</td><td>{total}</td></tr>"
        )
    return (
        "<h2>Classification report</h2>"
        "<table><caption>Per label, as scikit-learn's classification_report (support: test "
        "images with the label)</caption>"
        '<thead><tr><th scope="col" class="label">Label</th><th scope="col">Precision</th>'
        '<th scope="col">Recall</th><th scope="col">F1</th><th scope="col">Support</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _notes_section(metrics: Mapping[str, Any]) -> str:
    notes = metrics.get("notes") or []
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f'<h2>Notes on the evaluation files</h2><ul class="notes">{items}</ul>'

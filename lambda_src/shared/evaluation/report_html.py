"""``metrics.json`` and a self-contained ``report.html`` for one model evaluation.

The HTML report is read from S3 links and email attachments, often offline or behind strict
content policies, so it is one file: inline CSS, no script, no external fonts or images. Every
label name goes through :func:`html.escape` (names are free text: unicode, ``<``, quotes).

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

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"

#: Page layout of the standalone report (the widget lives inside CloudWatch's page instead).
_PAGE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
  margin:2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
  border-bottom:1px solid #d8dde6;padding-bottom:.3rem}
.meta{color:#5b6475;margin-top:0}
"""

#: Style rules of the tables, the heat map and the verdict block: reused by the widget.
COMPONENT_CSS = """table{border-collapse:collapse;margin:.5rem 0}
th,td{padding:.3rem .6rem;border:1px solid #d8dde6;text-align:right;
  font-variant-numeric:tabular-nums}
th{background:#f3f5f9;font-weight:600}
th.label,td.label{text-align:left;max-width:22rem;overflow-wrap:anywhere}
tr.average td{background:#fafbfd;font-style:italic}
.heatmap td{min-width:3.2rem;text-align:center;line-height:1.2}
.heatmap td small{display:block;font-size:.75em;opacity:.85}
.heatmap th.predicted{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;
  vertical-align:bottom;max-height:12rem;overflow-wrap:anywhere}
.axis{color:#5b6475;font-size:.85em}
.verdict{padding:.8rem 1rem;border-radius:6px;border:1px solid}
.verdict.pass{background:#e8f6ec;border-color:#3c9a5f}
.verdict.fail{background:#fdecec;border-color:#c8433f}
.verdict strong{font-size:1.1rem}
.none{color:#5b6475;font-style:italic}
"""

_CSS = _PAGE_CSS + COMPONENT_CSS


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
        f'<tr><td class="label">{name}</td><td>{_number(value)}</td></tr>' for name, value in rows
    )
    averages = _averages(metrics)
    header = "".join(f"<th>{average}</th>" for average in averages)
    averaged = "".join(
        f'<tr><td class="label">{name}</td>'
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
        f'<table><tr><th class="label">Metric</th><th>Value</th></tr>{single}</table>'
        f'<table><tr><th class="label">Average</th>{header}</tr>{averaged}</table>'
    )


def _confusion_section(metrics: MetricsReport) -> str:
    return (
        "<h2>Confusion matrix</h2>"
        f'<p class="axis">{heat_map_caption(metrics)}</p>{render_heat_map(metrics)}'
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


def render_heat_map(metrics: Mapping[str, Any], labels: Sequence[str] | None = None) -> str:
    """The confusion matrix as a ``<table class="heatmap">``, blue diagonal, red errors.

    ``labels``: the real labels to show, in that order (a subset of ``metrics["labels"]`` for a
    large label set); all of them by default. The no-label row and column are shown whenever
    the matrix has them. A cell's share is of the row's images, whichever columns are shown.
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
    head = "".join(f'<th class="predicted">{escape(label)}</th>' for label in columns)
    body = []
    for label in rows:
        counts = matrix[row_index[label]]
        images = _row_images(metrics, label)
        cells = "".join(
            _heat_cell(label, other, counts[column_index[other]], images, diagonal=other == label)
            for other in columns
        )
        body.append(f'<tr><th class="label">{escape(label)}</th>{cells}</tr>')
    return (
        '<table class="heatmap"><tr><th class="label axis">truth \\ predicted</th>'
        f"{head}</tr>{''.join(body)}</table>"
    )


def _row_images(metrics: Mapping[str, Any], label: str) -> int:
    """The images of a heat-map row: a label's support, or the images without ground truth."""
    scores = metrics["per_label"].get(label)
    if scores is not None:
        support: int = scores["support"]
        return support
    unlabelled: int = metrics.get("n_unlabelled", 0)
    return unlabelled


def _heat_cell(truth: str, predicted: str, count: int, support: int, *, diagonal: bool) -> str:
    share = count / support if support else 0.0
    rgb = "38,110,190" if diagonal else "205,70,55"  # blue where right, red where wrong
    alpha = 0.06 + 0.84 * share if count else 0.0
    colour = "#fff" if alpha > 0.55 else "#1d2330"
    percent = f"{100 * share:.1f}%" if support else "n/a"
    title = escape(f"{truth} -> {predicted}: {count} images, {percent} of the row")
    return (
        f'<td style="background:rgba({rgb},{alpha:.3f});color:{colour}" title="{title}">'
        f"{count}<small>{percent}</small></td>"
    )


def _classification_report_section(metrics: MetricsReport) -> str:
    rows = [
        f'<tr><td class="label">{escape(label)}</td><td>{_number(scores["precision"])}</td>'
        f"<td>{_number(scores['recall'])}</td><td>{_number(scores['f1'])}</td>"
        f"<td>{scores['support']}</td></tr>"
        for label, scores in metrics["per_label"].items()
    ]
    total = sum(scores["support"] for scores in metrics["per_label"].values())
    for average in _averages(metrics):
        rows.append(
            f'<tr class="average"><td class="label">{average} avg</td>'
            f"<td>{_number(metrics['precision'][average])}</td>"
            f"<td>{_number(metrics['recall'][average])}</td>"
            f"<td>{_number(metrics['f1'][average])}</td><td>{total}</td></tr>"
        )
    return (
        "<h2>Classification report</h2>"
        '<table><tr><th class="label">Label</th><th>Precision</th><th>Recall</th><th>F1</th>'
        f"<th>Support</th></tr>{''.join(rows)}</table>"
    )


def _notes_section(metrics: Mapping[str, Any]) -> str:
    notes = metrics.get("notes") or []
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f'<h2>Notes on the evaluation files</h2><ul class="notes">{items}</ul>'

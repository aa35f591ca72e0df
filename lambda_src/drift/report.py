"""The drift report of one evaluation (``drift.json`` + a self-contained ``drift.html``) and
the notification that names the labels that moved.

The HTML follows the evaluation report (``shared.evaluation.report_html``): one file, inline
CSS, no script; every label name escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from contracts import drift as contract
from drift.figures import DriftFigures, LiveWindow, Thresholds
from drift.window import Window
from shared.evaluation.report_html import REPORT_CSS
from shared.notification import Notification, headline, subject

#: Labels listed by name in a notification (the report lists them all).
NOTIFIED_LABELS = 10


def report_document(
    *,
    environment: str,
    window: Window,
    baseline_uri: str | None,
    baseline: Mapping[str, Any] | None,
    live: LiveWindow,
    figures: DriftFigures | None,
    thresholds: Thresholds,
    quiet_reason: str | None = None,
) -> dict[str, Any]:
    """``drift.json``: the window, the baseline it was compared with, every figure."""
    return {
        "schema": contract.REPORT_SCHEMA,
        "environment": environment,
        "pipeline": window.pipeline,
        "model": window.model,
        "window": {
            "start": window.start.isoformat(timespec="seconds"),
            "end": window.end.isoformat(timespec="seconds"),
        },
        "baseline_uri": baseline_uri,
        "baseline_created_at": (baseline or {}).get("created_at"),
        "live": {
            "images": live.images,
            "abstentions": live.abstentions,
            "labelled": live.labelled,
            "mean_top_confidence": live.confidence_sum / live.labelled if live.labelled else None,
            "labels": dict(live.labels),
            "confidence_histogram": dict(live.confidences),
            "size_histogram": dict(live.sizes),
        },
        "thresholds": {
            contract.MIN_IMAGES: thresholds.min_images,
            **{figure: thresholds.of(figure) for figure in contract.FIGURES},
            contract.LABEL_SHIFT: thresholds.label_shift,
        },
        "figures": dict(figures.values) if figures else dict.fromkeys(contract.FIGURES),
        "quiet": (
            dict(figures.quiet) if figures else dict.fromkeys(contract.FIGURES, quiet_reason)
        ),
        "drifted": bool(figures and figures.drifted),
        "breaches": list(figures.breaches) if figures else [],
        "labels": [
            {
                "label": move.name,
                "dimension": move.dimension,
                "baseline_share": move.baseline_share,
                "live_share": move.live_share,
                "change": move.change,
                "moved": figures is not None and move in figures.moved,
            }
            for move in (figures.labels if figures else [])
        ],
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False).encode()


def _value(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.4f}"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def render_html(document: Mapping[str, Any]) -> str:
    """The report as one HTML document."""
    title = contract.PIPELINE_TITLES.get(document["pipeline"], document["pipeline"])
    drifted = document["drifted"]
    rows = []
    for figure, name in contract.FIGURE_TITLES.items():
        value = document["figures"].get(figure)
        threshold = document["thresholds"][figure]
        state = (
            escape(document["quiet"].get(figure) or "not computed")
            if value is None
            else ("<strong>drift</strong>" if figure in document["breaches"] else "within")
        )
        rows.append(
            f'<tr><th scope="row" class="label">{escape(name)}</th><td>{_value(value)}</td>'
            f'<td>{threshold:g}</td><td class="label">{state}</td></tr>'
        )
    labels = "".join(
        f'<tr><th scope="row" class="label"><span>{escape(entry["label"])}</span></th>'
        f"<td>{_percent(entry['baseline_share'])}</td><td>{_percent(entry['live_share'])}</td>"
        f"<td>{entry['change'] * 100:+.1f} pt</td>"
        f'<td class="label">{"moved" if entry["moved"] else ""}</td></tr>'
        for entry in document["labels"]
    )
    label_table = (
        "<table><caption>Share of each label: test set (ground truth) and live (top label); "
        f"moved = changed by at least {document['thresholds']['label_shift'] * 100:g} points"
        '</caption><thead><tr><th scope="col" class="label">Label</th>'
        '<th scope="col">Test set</th><th scope="col">Live</th><th scope="col">Change</th>'
        f'<th scope="col" class="label">Moved</th></tr></thead><tbody>{labels}</tbody></table>'
        if labels
        else '<p class="none">No label comparison in this window.</p>'
    )
    live = document["live"]
    verdict = (
        '<div class="verdict fail"><strong>DRIFT</strong>: '
        + escape(", ".join(contract.FIGURE_TITLES[b] for b in document["breaches"]))
        + "</div>"
        if drifted
        else '<div class="verdict pass"><strong>NO DRIFT</strong>: every computed figure is '
        "within its threshold</div>"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Drift report</title>",
            f"<style>{REPORT_CSS}</style></head><body>",
            "<h1>Drift report</h1>",
            f'<p class="meta">{escape(title)}, environment {escape(document["environment"])}, '
            f"model {escape(document['model'])}; window {escape(document['window']['start'])} "
            f"to {escape(document['window']['end'])}: {live['images']} images, "
            f"{live['abstentions']} abstentions.</p>",
            f'<p class="meta">Baseline: {escape(document["baseline_uri"] or "none")}</p>',
            verdict,
            "<h2>Figures</h2>",
            "<table><caption>Each figure against its threshold (a figure is left out below the "
            f"minimum of {document['thresholds']['min_images']} images)</caption>"
            '<thead><tr><th scope="col" class="label">Figure</th><th scope="col">Value</th>'
            '<th scope="col">Threshold</th><th scope="col" class="label">State</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>",
            "<h2>Labels</h2>",
            label_table,
            "</body></html>",
            "",
        ]
    )


def moved_lines(labels: Sequence[Mapping[str, Any]], limit: int = NOTIFIED_LABELS) -> list[str]:
    """``cat: 52.0% -> 31.5% (-20.5 pt)`` for each label that moved, largest change first."""
    moved = [entry for entry in labels if entry["moved"]]
    lines = [
        f"  {entry['label']}: {_percent(entry['baseline_share'])} -> "
        f"{_percent(entry['live_share'])} ({entry['change'] * 100:+.1f} pt)"
        for entry in moved[:limit]
    ]
    if len(moved) > limit:
        lines.append(f"  ... and {len(moved) - limit} more (see the report)")
    return lines


def notification(document: Mapping[str, Any], report_uri: str) -> Notification:
    """The alert topic's message, in ``shared.notification``'s format."""
    pipeline = contract.PIPELINE_TITLES.get(document["pipeline"], document["pipeline"])
    environment = document["environment"]
    figures = [
        f"  {contract.FIGURE_TITLES[figure]}: {document['figures'][figure]:.4f} "
        f"(threshold {document['thresholds'][figure]:g})"
        for figure in document["breaches"]
    ]
    moved = moved_lines(document["labels"])
    lines = [
        headline(pipeline, "DRIFTED", environment),
        f"Model {document['model']}, window {document['window']['start']} to "
        f"{document['window']['end']} ({document['live']['images']} images):",
        *figures,
        *(["Labels that moved (test set -> live):", *moved] if moved else []),
        "",
        f"Pipeline: {pipeline}",
        f"Environment: {environment}",
        "Outcome: DRIFTED",
        f"Model: {document['model']}",
        f"Report: {report_uri}",
        f"Baseline: {document['baseline_uri']}",
    ]
    return Notification(subject(environment, pipeline, "DRIFTED"), "\n".join(lines))

"""CloudWatch dashboard custom widget: the latest evaluated model version of a project.

What: CloudWatch calls this function synchronously for a custom widget and shows the HTML it
returns. The widget renders the newest evaluated Rekognition Custom Labels model version of the
project: its quality-gate verdict (PASSED or REJECTED, the metric against its threshold, the
reasons), headline metrics (accuracy, macro F1, test images), the version name, when it was
evaluated, its confusion-matrix heat map, and a link to the full ``report.html``. It is a quarter
of the dashboard wide (``EVALUATION_WIDGET_WIDTH``): beyond four columns the heat map's cells show
counts only and its columns are numbered like its rows, so 12 labels fit on a 1920-pixel screen
(``tests/browser`` measures it); in the dark theme the cell colours are mixed on the dark surface.

Why: the training workflow's Evaluate step writes ``reports/<project>/<version>/metrics.json``
and ``report.html`` into the artifacts bucket, one pair per trained version. Operators watching
the dashboard should see whether the newest model earned its endpoint, and which classes it
confuses, without hunting for the right object. The widget reads the stored ``metrics.json``
(the very figures and verdict the gate used, nothing recomputed) and renders the heat map and
verdict with the report's own code (``shared.evaluation.report_html``), so the widget and the
full report always agree.

Contract (CloudWatch's custom widget conventions):

* ``{"describe": ...}``: return :data:`DOCS`, the widget's markdown documentation (what the
  console's "Get documentation" shows).
* Otherwise the event is ``{"widgetContext": {..., "theme": "light"|"dark", "timezone": {...},
  "params": {...}}, <the widget's params copied at top level>}``; the params are an optional
  ``project`` and ``view`` (``full``, or ``verdict``: the overview dashboard's one line). The
  return value is an HTML fragment (inline CSS, no script, no external resource); every name
  read from S3 or the event goes through :func:`html.escape`.

"Latest" is the ``metrics.json`` with the newest LastModified under ``reports/<project>/``
(ListObjectsV2, at most :data:`MAX_PAGES` pages; the widget says so when it stopped early); only
that object is downloaded. No report yet, an invalid ``project``, access denied, or a corrupt or
incomplete ``metrics.json`` answer with a clear HTML message naming the object and the problem
(and a log line), never an exception: CloudWatch would show a stack trace instead.

Environment: ``ARTIFACTS_BUCKET``, ``PROJECT_NAME``, ``REPORTS_PREFIX`` (``reports/<project>/``),
optionally ``ENVIRONMENT_NAME`` (quoted in the "no report yet" hint), and Powertools'
``POWERTOOLS_SERVICE_NAME``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from typing import Any, Literal
from urllib.parse import quote

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from shared.evaluation.metrics import MetricsReport
from shared.evaluation.report_html import (
    COMPONENT_CSS,
    HORIZONTAL_COLUMNS,
    METRICS_FILE,
    REPORT_FILE,
    GateVerdict,
    Theme,
    confusion_axes,
    heat_map_caption,
    render_heat_map,
    render_verdict,
)

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")

#: The heat map shows at most this many labels: those with the most test images.
MAX_LABELS = 25
#: Beyond this many columns a heat-map cell shows its count only, and label columns are headed
#: by numbers (their row names carry the same numbers): the widget is a quarter of the
#: dashboard's width (``EVALUATION_WIDGET_WIDTH`` in ``stacks/operations/dashboard``)
#: and 12 labels must fit in it.
COMPACT_COLUMNS = HORIZONTAL_COLUMNS
#: ListObjectsV2 pages read at most (of PAGE_SIZE keys; two keys per evaluated version).
MAX_PAGES = 10
PAGE_SIZE = 1000
#: Gate reasons shown at most (a per-label recall floor can fail for every label).
MAX_REASONS = 10
#: A metrics.json larger than this is not read (250 labels make well under 1 MiB).
MAX_METRICS_BYTES = 16 * 1024 * 1024

#: Rekognition Custom Labels project names.
PROJECT_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")

DOCS = """## Latest model evaluation

Shows the newest evaluated Rekognition Custom Labels model version of a project: its quality-gate
verdict (PASSED or REJECTED), accuracy, macro F1 and number of test images, when it was
evaluated, its confusion-matrix heat map (at most the 25 labels with the most test images; with
more than four columns they are numbered like the rows) and a link to the full evaluation report.

The data is what the training workflow's evaluation step writes to the artifacts bucket:
`reports/<project>/<version>/metrics.json` and `report.html`. The newest `metrics.json` (by last
modified time) is shown.

### Widget parameters
Param | Description
---|---
**project** | Rekognition Custom Labels project name (optional; default: this environment's)
**view** | `full` (default) or `verdict`: one line (version, verdict, accuracy, macro F1, when)

Another project's reports are shown only if the function's role may read them.

### Example parameters
``` yaml
project: my-project
```
"""

_UTC_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")

_WIDGET_CSS = """
.ew{font-size:13px}
.ew-title{margin:.2em 0 .4em}
.ew-meta,.ew-note{color:#4f5869;margin:.3em 0}
.ew caption{font-size:.85em}
.ew-scroll{overflow:auto;max-width:100%}
.ew th,.ew td{padding:.2em .4em}
.ew th.label > span{min-width:4.5em;max-width:8em}
.ew .heatmap td{min-width:2.4em;padding:.15em .25em}
.ew .heatmap.compact td{min-width:1.6em;padding:.2em .1em}
.ew .heatmap th.predicted{padding:.2em .1em}
.ew .heatmap.vertical th.predicted.name span{max-height:7.5em}
.ew-headline td{font-size:1.2em;text-align:center}
.ew-headline th{text-align:center}
.ew-message{padding:.8em 1em;border-radius:6px;border:1px solid #8d96a7}
.ew-message.error{border-color:#c8433f}
.ew-message code{font-size:.95em}
"""

#: Dark theme: the report's light backgrounds and dark text, turned around. The heat-map
#: cells carry their own colours, mixed on the dark surface (``render_heat_map(theme=...)``).
_DARK_CSS = """
th,td{border-color:#414854}
th{background:#272c35}
tr.average th,tr.average td{background:#22262d}
caption,.axis,.heatmap th.corner,.heatmap .key,.none,.ew-meta,.ew-note{color:#a3abba}
a{color:#8cc4ff}
.heatmap td{border-color:#1d2129}
.verdict.pass{background:rgba(60,154,95,.2)}
.verdict.fail{background:rgba(200,67,63,.22)}
"""


class Notice(Exception):  # noqa: N818 - not an error: what the widget shows instead of a report
    """A message the widget shows instead of the report (plain text, escaped when rendered)."""

    def __init__(
        self,
        title: str,
        text: str,
        *,
        code: str | None = None,
        kind: Literal["info", "error"] = "error",
    ) -> None:
        super().__init__(f"{title}: {text}")
        self.title = title
        self.text = text
        self.code = code
        self.kind = kind


@dataclass(frozen=True)
class Latest:
    """The newest ``metrics.json`` under a project's report prefix."""

    version: str
    key: str
    last_modified: datetime
    report_listed: bool
    #: The listing stopped after MAX_PAGES pages: a newer report may exist.
    truncated: bool
    versions_seen: int


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the HTML is too big for a trace
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> str:
    if not isinstance(event, dict):
        event = {}
    if "describe" in event:
        return DOCS
    widget = event.get("widgetContext")
    widget = widget if isinstance(widget, dict) else {}
    dark = widget.get("theme") == "dark"
    try:
        body = render_widget(event, widget, theme="dark" if dark else "light")
    except Notice as notice:
        log = logger.info if notice.kind == "info" else logger.error
        log("widget notice", extra={"title": notice.title, "text": notice.text})
        body = _notice_html(notice)
    except Exception:
        logger.exception("widget failed")
        body = _notice_html(
            Notice(
                "The evaluation widget failed",
                f"Unexpected error (request {context.aws_request_id}); see the function's logs.",
            )
        )
    return _page(body, dark=dark)


def render_widget(event: dict[str, Any], widget: dict[str, Any], *, theme: Theme = "light") -> str:
    """The widget's HTML body for the event's project, or :class:`Notice`."""
    bucket = _setting("ARTIFACTS_BUCKET")
    project = _project(event, widget)
    prefix = reports_prefix(project)
    latest = find_latest(bucket, prefix)
    if latest is None:
        environment = os.environ.get("ENVIRONMENT_NAME") or "<env>"
        raise Notice(
            "Nothing to show yet",
            f"No evaluation report yet for project {project} in s3://{bucket}/{prefix} — run",
            code=f"python -m ops train start --env {environment}",
            kind="info",
        )
    view = _view(event, widget)
    metrics = read_metrics(bucket, latest.key)
    logger.info(
        "rendering the latest evaluation",
        extra={"project": project, "version": latest.version, "key": latest.key, "view": view},
    )
    if view == "verdict":
        return verdict_line_html(metrics, latest, widget)
    return _report_html(metrics, project, bucket, prefix, latest, widget, theme)


VIEWS = ("full", "verdict")


def _view(event: dict[str, Any], widget: dict[str, Any]) -> str:
    """The ``view`` param: ``full`` (default) or ``verdict``."""
    params = widget.get("params")
    value = event.get("view")
    if value is None and isinstance(params, dict):
        value = params.get("view")
    if value is None:
        return "full"
    if value not in VIEWS:
        raise Notice(
            "Invalid view parameter", f"view must be one of {', '.join(VIEWS)}, got {value!r}"
        )
    return str(value)


def verdict_line_html(metrics: MetricsReport, latest: Latest, widget: dict[str, Any]) -> str:
    """One line: the version, its gate verdict, accuracy and macro F1, when it was evaluated."""
    gate: dict[str, Any] | None = metrics.get("gate")  # type: ignore[assignment]
    if gate is None:
        verdict = '<span class="none">no gate applied</span>'
    elif gate["passed"]:
        verdict = '<span class="verdict pass">PASSED</span>'
    else:
        verdict = '<span class="verdict fail">REJECTED</span>'
    return (
        f'<p class="ew-line">Version <strong>{escape(latest.version)}</strong>: {verdict} · '
        f"accuracy {metrics['accuracy']:.4f} · macro F1 {metrics['f1']['macro']:.4f} · "
        f"{metrics['n_images']} test images · evaluated {_when(latest.last_modified, widget)}</p>"
    )


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Notice("The widget is not configured", f"the environment variable {name} is unset")
    return value


def _project(event: dict[str, Any], widget: dict[str, Any]) -> str:
    """The ``project`` param (top level, as CloudWatch copies params, or in the context)."""
    params = widget.get("params")
    value = event.get("project")
    if value is None and isinstance(params, dict):
        value = params.get("project")
    if value is None:
        return _setting("PROJECT_NAME")
    if not isinstance(value, str) or not PROJECT_NAME.fullmatch(value):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise Notice(
            "Invalid project parameter",
            f"project must be a Rekognition Custom Labels project name (1-255 letters, digits, "
            f"'_', '.' or '-'), got {shown}",
        )
    return value


def reports_prefix(project: str) -> str:
    """``REPORTS_PREFIX`` for the configured project; its sibling for another one."""
    configured, prefix = _setting("PROJECT_NAME"), _setting("REPORTS_PREFIX")
    if not prefix.endswith("/"):
        raise Notice("The widget is not configured", f"REPORTS_PREFIX {prefix!r} must end with /")
    if project == configured:
        return prefix
    suffix = f"{configured}/"
    if not prefix.endswith(suffix):
        raise Notice(
            "The project parameter cannot be used",
            f"REPORTS_PREFIX {prefix!r} does not end with the project name {configured!r}, so "
            "the reports of another project cannot be located",
        )
    return f"{prefix.removesuffix(suffix)}{project}/"


def find_latest(bucket: str, prefix: str) -> Latest | None:
    """The ``<prefix><version>/metrics.json`` with the newest LastModified, if any."""
    newest: tuple[datetime, str, str] | None = None  # (last modified, key, version)
    reports: set[str] = set()
    versions = 0
    token: str | None = None
    truncated = False
    for page_number in range(1, MAX_PAGES + 1):
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if token:
            request["ContinuationToken"] = token
        try:
            page = s3.list_objects_v2(**request)
        except (ClientError, BotoCoreError) as error:
            raise Notice(
                "Cannot list the evaluation reports",
                f"listing s3://{bucket}/{prefix} failed: {_describe(error)}",
            ) from error
        for item in page.get("Contents", []):
            version, _, name = item["Key"][len(prefix) :].partition("/")
            if not version:
                continue
            if name == METRICS_FILE:
                versions += 1
                candidate = (item["LastModified"], item["Key"], version)
                if newest is None or candidate[:2] > newest[:2]:
                    newest = candidate
            elif name == REPORT_FILE:
                reports.add(version)
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
        if page_number == MAX_PAGES:
            truncated = True
            logger.warning("listing truncated", extra={"prefix": prefix, "pages": MAX_PAGES})
    if newest is None:
        return None
    last_modified, key, version = newest
    return Latest(
        version=version,
        key=key,
        last_modified=last_modified,
        report_listed=version in reports,
        truncated=truncated,
        versions_seen=versions,
    )


def read_metrics(bucket: str, key: str) -> MetricsReport:
    """Download and check ``metrics.json``; :class:`Notice` naming the object if unusable."""
    uri = f"s3://{bucket}/{key}"
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        size = response.get("ContentLength", 0)
        if size > MAX_METRICS_BYTES:
            response["Body"].close()
            raise Notice(
                "The latest metrics.json is too large",
                f"{uri} has {size} bytes, more than the widget reads ({MAX_METRICS_BYTES})",
            )
        body = response["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise Notice(
            "Cannot read the latest metrics.json", f"reading {uri} failed: {_describe(error)}"
        ) from error
    try:
        document = json.loads(body)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise Notice(
            "The latest metrics.json is corrupt", f"{uri} is not a JSON document: {error}"
        ) from error
    problem = check_metrics(document)
    if problem:
        raise Notice("The latest metrics.json is incomplete", f"{uri}: {problem}")
    metrics: MetricsReport = document
    return metrics


def check_metrics(document: Any) -> str | None:
    """What the widget cannot render in a ``metrics.json`` document, or None if nothing."""
    if not isinstance(document, dict):
        return "the document is not a JSON object"
    labels = document.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        return '"labels" is missing or not a list of label names'
    if len(set(labels)) != len(labels):
        return '"labels" has duplicate names'
    matrix = document.get("confusion_matrix")
    if matrix is None:
        return 'the confusion matrix ("confusion_matrix") is missing'
    rows, columns = confusion_axes(document)
    for name, axis in (("confusion_matrix_rows", rows), ("confusion_matrix_columns", columns)):
        if (
            not isinstance(axis, list)
            or not all(isinstance(x, str) for x in axis)
            or axis[: len(labels)] != labels
            or len(axis) > len(labels) + 1
        ):
            return f'"{name}" is not the labels (and possibly the no-label class)'
    height, width = len(rows), len(columns)
    if (
        not isinstance(matrix, list)
        or len(matrix) != height
        or not all(
            isinstance(row, list) and len(row) == width and all(map(_is_count, row))
            for row in matrix
        )
    ):
        return f'"confusion_matrix" is not a {height}x{width} matrix of image counts'
    per_label = document.get("per_label")
    if not isinstance(per_label, dict) or not all(
        isinstance(per_label.get(label), dict) and _is_count(per_label[label].get("support"))
        for label in labels
    ):
        return '"per_label" lacks the support (test image count) of some label'
    if document.get("task") not in ("single_label", "multi_label"):
        return '"task" is neither single_label nor multi_label'
    if not _is_count(document.get("n_images")):
        return '"n_images" is missing'
    if len(rows) > len(labels) and not _is_count(document.get("n_unlabelled")):
        return '"n_unlabelled" is missing (the confusion matrix has a no-label row)'
    f1 = document.get("f1")
    if not _is_number(document.get("accuracy")) or not (
        isinstance(f1, dict) and _is_number(f1.get("macro"))
    ):
        return '"accuracy" or "f1.macro" is missing'
    gate = document.get("gate")
    if gate is not None:
        reasons = gate.get("reasons", []) if isinstance(gate, dict) else None
        if (
            not isinstance(gate, dict)
            or not isinstance(gate.get("passed"), bool)
            or not isinstance(gate.get("metric"), str)
            or not _is_number(gate.get("value"))
            or not _is_number(gate.get("threshold"))
            or not isinstance(reasons, list)
            or not all(isinstance(reason, str) for reason in reasons)
        ):
            return '"gate" is not a verdict (passed, metric, value, threshold, reasons)'
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def shown_labels(metrics: MetricsReport, limit: int = MAX_LABELS) -> list[str]:
    """The ``limit`` labels with the most test images (ties: axis order), in axis order."""
    labels = metrics["labels"]
    if len(labels) <= limit:
        return list(labels)
    support = metrics["per_label"]
    ranked = sorted(range(len(labels)), key=lambda i: (-support[labels[i]]["support"], i))
    return [labels[i] for i in sorted(ranked[:limit])]


def _report_html(
    metrics: MetricsReport,
    project: str,
    bucket: str,
    prefix: str,
    latest: Latest,
    widget: dict[str, Any],
    theme: Theme,
) -> str:
    report_key = f"{prefix}{latest.version}/{REPORT_FILE}"
    region = os.environ.get("AWS_REGION") or s3.meta.region_name
    link = (
        f'<a href="{escape(console_url(bucket, report_key, region))}" target="_blank" '
        f'rel="noopener noreferrer">Full report</a>'
    )
    if not latest.report_listed and not latest.truncated:
        link += " (report.html was not found next to metrics.json)"
    labels = shown_labels(metrics)
    n_labels = len(metrics["labels"])
    parts = [
        f'<h3 class="ew-title">Version {escape(latest.version)}</h3>',
        f'<p class="ew-meta">Project {escape(project)}, evaluated '
        f"{_when(latest.last_modified, widget)}. {link}: "
        f"<code>s3://{escape(bucket)}/{escape(report_key)}</code></p>",
        _verdict_html(metrics),
        _headline_html(metrics),
        f'<p class="axis">{heat_map_caption(metrics)}</p>',
    ]
    notes = metrics.get("notes") or []
    if notes:
        parts.append(
            f'<p class="ew-note">{len(notes)} note{"s" * (len(notes) != 1)} on how the '
            "evaluation files were read: see the full report.</p>"
        )
    if len(labels) < n_labels:
        parts.append(
            f'<p class="ew-note">Heat map showing {len(labels)} of {n_labels} labels (those with '
            "the most test images); the other labels' columns are left out, so a row's shares "
            "may add up to less than 100%.</p>"
        )
    heat_map = render_heat_map(
        metrics,
        labels,
        theme=theme,
        compact_after=COMPACT_COLUMNS,
        numbered=len(labels) > HORIZONTAL_COLUMNS,
    )
    parts.append(f'<div class="ew-scroll">{heat_map}</div>')
    if latest.truncated:
        parts.append(
            f'<p class="ew-note">Listing stopped after {MAX_PAGES} pages of s3://'
            f"{escape(bucket)}/{escape(prefix)} ({latest.versions_seen} evaluated versions seen): "
            "a newer evaluation may exist.</p>"
        )
    return "".join(parts)


def _verdict_html(metrics: MetricsReport) -> str:
    gate: dict[str, Any] | None = metrics.get("gate")  # type: ignore[assignment]
    if gate is None:
        return '<p class="none">No quality gate was applied to this version.</p>'
    reasons = list(gate.get("reasons", []))
    if len(reasons) > MAX_REASONS:
        hidden = len(reasons) - MAX_REASONS + 1
        reasons = [*reasons[: MAX_REASONS - 1], f"... and {hidden} more in the full report"]
    verdict = GateVerdict(
        passed=gate["passed"],
        metric=gate["metric"],
        value=gate["value"],
        threshold=gate["threshold"],
        reasons=reasons,
    )
    return render_verdict(verdict)


def _headline_html(metrics: MetricsReport) -> str:
    accuracy = "Accuracy (subset)" if metrics["task"] == "multi_label" else "Accuracy"
    return (
        '<table class="ew-headline"><caption>Headline figures</caption><thead><tr>'
        f'<th scope="col">{accuracy}</th><th scope="col">Macro F1</th>'
        '<th scope="col">Test images</th><th scope="col">Labels</th></tr></thead><tbody><tr>'
        f"<td>{metrics['accuracy']:.4f}</td><td>{metrics['f1']['macro']:.4f}</td>"
        f"<td>{metrics['n_images']}</td><td>{len(metrics['labels'])}</td></tr></tbody></table>"
    )


def console_url(bucket: str, key: str, region: str) -> str:
    """The S3 console page of an object (its partition's console)."""
    if region.startswith("cn-"):
        host = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        host = "console.amazonaws-us-gov.com"
    else:
        host = "console.aws.amazon.com"
    return (
        f"https://{host}/s3/object/{quote(bucket, safe='')}?region={quote(region, safe='')}"
        f"&bucketType=general&prefix={quote(key, safe='')}"
    )


def _when(moment: datetime, widget: dict[str, Any], now: datetime | None = None) -> str:
    """``moment`` in the dashboard's time zone (``timezone.offsetISO``), with its age."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    zone: timezone = UTC
    label = "UTC"
    setting = widget.get("timezone")
    offset = setting.get("offsetISO") if isinstance(setting, dict) else None
    match = _UTC_OFFSET.fullmatch(offset) if isinstance(offset, str) else None
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=24) and delta:
            zone = timezone(-delta if sign == "-" else delta)
            label = f"UTC{sign}{hours}:{minutes}"
    local = moment.astimezone(zone)
    utc = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<time datetime="{utc}">{local:%Y-%m-%d %H:%M} {label}</time> '
        f"({_age((now or datetime.now(UTC)) - moment)})"
    )


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        message = details.get("Message")
        return f"{code} ({message})" if message else str(code)
    return str(error)


def _notice_html(notice: Notice) -> str:
    code = f" <code>{escape(notice.code)}</code>" if notice.code else ""
    return (
        f'<div class="ew-message {notice.kind}"><strong>{escape(notice.title)}</strong>'
        f"<p>{escape(notice.text)}{code}</p></div>"
    )


def _page(body: str, *, dark: bool) -> str:
    css = COMPONENT_CSS + _WIDGET_CSS + (_DARK_CSS if dark else "")
    return f'<style>{css}</style><div class="ew">{body}</div>'

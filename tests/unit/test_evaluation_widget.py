"""The evaluation dashboard widget against moto S3, on documents the real Evaluate code writes.

``metrics.json`` and ``report.html`` come from ``rekognition_training.evaluation_sources``
(``compute_metrics`` plus the real gate verdict), so the widget reads what production stores.
Confusion matrices are designed by hand (image counts per truth/prediction pair) and the heat map
is read back with the standard library's HTML parser, so the checks see what a browser shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import boto3
import moto.s3.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rekognition_training.evaluation_sources import evaluate
from shared.evaluation import NO_LABEL, EvaluationData
from shared.evaluation.report_html import METRICS_FILE, REPORT_FILE

REGION = "eu-west-1"
BUCKET = "imgclf-dev-artifacts-123456789012-eu-west-1"
PROJECT = "imgclf-dev"
CONTEXT = SimpleNamespace(
    function_name="evaluation-widget",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:evaluation-widget",
    aws_request_id="req-widget-1",
)

#: A hand-made single-label confusion matrix: (truth, predicted) -> images.
HAND_PAIRS = {
    ("cat", "cat"): 5,
    ("cat", "dog"): 2,
    ("dog", "dog"): 4,
    ("dog", "<script>"): 1,
    ("<script>", "<script>"): 3,
    ("<script>", "cat"): 1,
}
PASSING_GATE = {"metric": "accuracy", "threshold": 0.1}
REJECTING_GATE = {"metric": "f1_macro", "threshold": 0.99, "min_label_recall": 0.9}


def observations(pairs: Mapping[tuple[str, str], int]) -> dict[Any, int]:
    """Single-label observations; "" is a missing side (no ground truth, or an abstention)."""
    return {
        ((truth,) if truth else (), (predicted,) if predicted else ()): n
        for (truth, predicted), n in pairs.items()
    }


def widget_event(theme: str = "light", offset: str = "+00:00", **params: Any) -> dict[str, Any]:
    """What CloudWatch sends: the context, and the widget's params copied at top level."""
    return {
        "widgetContext": {
            "dashboardName": "imgclf-dev",
            "widgetId": "widget-1",
            "accountId": "123456789012",
            "locale": "en",
            "timezone": {"label": "Local", "offsetISO": offset, "offsetInMinutes": 0},
            "period": 300,
            "isAutoPeriod": True,
            "timeRange": {"mode": "relative", "start": 0, "end": 1, "relativeStart": 1},
            "theme": theme,
            "linkCharts": True,
            "title": "Latest model evaluation",
            "forms": {"all": {}},
            "params": params,
            "width": 1200,
            "height": 600,
        },
        **params,
    }


class Widget:
    """The handler module with its S3 client inside moto, and a way to store versions."""

    def __init__(self, module: Any, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.module = module
        self.s3 = s3
        self.monkeypatch = monkeypatch

    def put_version(
        self,
        version: str,
        pairs: Mapping[tuple[str, str], int],
        *,
        at: datetime,
        gate: Mapping[str, Any] | None = None,
        project: str = PROJECT,
    ) -> dict[str, Any]:
        """Store a version's files as the Evaluate Lambda does, LastModified ``at`` (UTC)."""
        data = EvaluationData.from_observations(observations(pairs), multi_label=False)
        files = evaluate(data, gate).files()
        # S3 (and moto) time stamps have one-second resolution: set them, do not sleep.
        self.monkeypatch.setattr(moto.s3.models, "utcnow", lambda: at)
        for name, (body, content_type) in files.items():
            key = f"reports/{project}/{version}/{name}"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
        document: dict[str, Any] = json.loads(files[METRICS_FILE][0])
        return document

    def put_raw(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def call(self, event: dict[str, Any]) -> str:
        result = self.module.lambda_handler(event, CONTEXT)
        assert isinstance(result, str)
        return result


@pytest.fixture
def widget(monkeypatch: pytest.MonkeyPatch) -> Iterator[Widget]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setenv("ARTIFACTS_BUCKET", BUCKET)
        monkeypatch.setenv("PROJECT_NAME", PROJECT)
        monkeypatch.setenv("REPORTS_PREFIX", f"reports/{PROJECT}/")
        monkeypatch.setenv("ENVIRONMENT_NAME", "dev")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "evaluation-widget")
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
        from evaluation_widget import handler as module

        monkeypatch.setattr(module, "s3", s3)
        yield Widget(module, s3, monkeypatch)


class HeatMap(HTMLParser):
    """The ``heatmap`` table: column labels, and per row its label and cells' text pieces.

    A numbered column (the widget numbers them beyond four) is read by its accessible name,
    and a row's number (``<span class="key">``) is kept apart from its name, in ``keys``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[list[str]]] = []
        self.keys: list[str] = []  # the visible numbers: column headers, then row keys
        self.depth = 0  # > 0 inside the heat map table
        self.in_cell = False
        self.in_key = False
        self.named = False  # the current header cell's name came from aria-label

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and "heatmap" in (attributes.get("class") or "").split():
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            name = attributes.get("aria-label")
            self.rows[-1].append([name] if name else [])
            self.named = bool(name)
            self.in_cell = True
        elif self.depth and tag == "span" and attributes.get("class") == "key":
            self.in_key = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.depth = 0
        elif tag in ("td", "th"):
            self.in_cell = False
        elif tag == "span":
            self.in_key = False

    def handle_data(self, data: str) -> None:
        if not (self.depth and self.in_cell and data.strip()):
            return
        if self.in_key or self.named:
            self.keys.append(data)
        else:
            self.rows[-1][-1].append(data)

    @classmethod
    def read(cls, html: str) -> tuple[list[str], dict[str, list[list[str]]]]:
        """(column labels, {row label: [cell pieces, ...]})."""
        parser = cls.parse(html)
        header, *rows = parser.rows
        columns = [" ".join(cell) for cell in header[1:]]
        return columns, {" ".join(row[0]): row[1:] for row in rows}

    @classmethod
    def parse(cls, html: str) -> HeatMap:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser


def test_renders_the_newest_version_with_its_verdict_and_figures(widget: Widget) -> None:
    widget.put_version("v-z-old", HAND_PAIRS, at=datetime(2024, 5, 1, 8, 0), gate=PASSING_GATE)
    newest = widget.put_version(
        "v-a-new", HAND_PAIRS, at=datetime(2024, 5, 2, 10, 30), gate=REJECTING_GATE
    )
    listed = widget.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    stamps = {item["Key"]: item["LastModified"] for item in listed}
    old, new = (stamps[f"reports/{PROJECT}/{v}/{METRICS_FILE}"] for v in ("v-z-old", "v-a-new"))
    assert old < new  # the newer version sorts first by name: only LastModified can pick it

    html = widget.call(widget_event(offset="+02:00"))

    assert "Version v-a-new" in html
    assert "v-z-old" not in html
    assert 'class="verdict fail"' in html
    assert "<strong>REJECTED</strong>" in html
    assert "PASSED" not in html
    gate = newest["gate"]
    assert f"f1_macro = {gate['value']:.4f} (threshold 0.9900)" in html
    assert gate["reasons"]
    for reason in gate["reasons"]:
        assert f"<li>{escape(reason)}</li>" in html
    assert f"<td>{newest['accuracy']:.4f}</td><td>{newest['f1']['macro']:.4f}</td>" in html
    assert f"<td>{newest['n_images']}</td>" in html
    assert "2024-05-02 12:30 UTC+02:00" in html
    assert 'datetime="2024-05-02T10:30:00Z"' in html
    key = f"reports%2F{PROJECT}%2Fv-a-new%2F{REPORT_FILE}"
    assert (
        f'href="https://console.aws.amazon.com/s3/object/{BUCKET}?region={REGION}'
        f'&amp;bucketType=general&amp;prefix={key}"'
    ) in html
    assert "not found" not in html


def test_heat_map_cells_are_the_hand_made_counts_and_names_are_escaped(widget: Widget) -> None:
    widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    html = widget.call(widget_event())

    columns, rows = HeatMap.read(html)
    labels = ["<script>", "cat", "dog"]
    assert columns == labels
    assert list(rows) == labels
    for truth in labels:
        support = sum(n for (t, _), n in HAND_PAIRS.items() if t == truth)
        expected = [HAND_PAIRS.get((truth, predicted), 0) for predicted in labels]
        assert [int(cell[0]) for cell in rows[truth]] == expected, truth
        assert [cell[1] for cell in rows[truth]] == [
            f"{100 * n / support:.1f}%" for n in expected
        ], truth
    assert [cell[0] for cell in rows["cat"]] == ["0", "5", "2"]  # the hand matrix, literally

    assert "<strong>PASSED</strong>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert re.search(r"<script|<link|<img|<iframe|\bsrc=|url\(|@import", html) is None
    assert "showing" not in html


def test_heat_map_shows_the_25_labels_with_most_images(widget: Widget) -> None:
    # label_i has i + 1 test images (all right but one when i >= 1): supports are distinct.
    pairs: dict[tuple[str, str], int] = {}
    names = [f"label_{i:02d}" for i in range(30)]
    for i, name in enumerate(names):
        if i:
            pairs[(name, name)] = i
        pairs[(name, names[(i + 1) % 30])] = 1
    gate = {"metric": "accuracy", "threshold": 0.0, "min_label_recall": 1.0}
    widget.put_version("v-many", pairs, at=datetime(2024, 5, 1), gate=gate)

    html = widget.call(widget_event())

    assert "showing 25 of 30 labels" in html
    columns, rows = HeatMap.read(html)
    assert columns == names[5:]  # the 25 largest supports, in axis order
    assert list(rows) == names[5:]
    # Too many for names: columns are numbered, each row carries its number.
    numbers = [str(n) for n in range(1, 26)]
    assert HeatMap.parse(html).keys == numbers + numbers
    row = rows["label_10"]
    assert [int(cell[0]) for cell in row] == [
        pairs.get(("label_10", predicted), 0) for predicted in names[5:]
    ]
    # Every label misses its recall floor: the verdict lists ten reasons at most.
    assert html.count("<li>") == 10
    assert "and 21 more in the full report" in html
    assert "<strong>REJECTED</strong>" in html


def test_abstentions_are_a_no_label_column_and_not_a_label(widget: Widget) -> None:
    pairs = {("cat", "cat"): 6, ("cat", ""): 2, ("dog", "dog"): 3, ("", "dog"): 1}
    document = widget.put_version("v1", pairs, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    assert document["labels"] == ["cat", "dog"]

    html = widget.call(widget_event())

    columns, rows = HeatMap.read(html)
    assert columns == ["cat", "dog", NO_LABEL]
    assert list(rows) == ["cat", "dog", NO_LABEL]
    assert [cell[0] for cell in rows["cat"]] == ["6", "0", "2"]
    assert [cell[0] for cell in rows[NO_LABEL]] == ["0", "1", "0"]
    assert rows[NO_LABEL][1][1] == "100.0%"  # of the one image without ground truth
    assert "<td>12</td><td>2</td></tr>" in html  # test images, labels


def test_a_metrics_json_from_before_the_no_label_axes_still_renders(widget: Widget) -> None:
    """Stored reports keep their old form: the no-label class was a label of a square matrix."""
    document = widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    for key in ("confusion_matrix_rows", "confusion_matrix_columns", "n_abstentions", "notes"):
        del document[key]
    document["labels"].append(NO_LABEL)
    document["confusion_matrix"] = [[*row, 0] for row in document["confusion_matrix"]]
    document["confusion_matrix"].append([0, 0, 0, 0])
    document["per_label"][NO_LABEL] = {"precision": 0, "recall": 0, "f1": 0, "support": 0}
    widget.put_raw(f"reports/{PROJECT}/v1/{METRICS_FILE}", json.dumps(document).encode())

    html = widget.call(widget_event())

    columns, rows = HeatMap.read(html)
    assert columns == ["<script>", "cat", "dog", NO_LABEL]
    assert [cell[0] for cell in rows["cat"]] == ["0", "5", "2", "0"]
    assert "is incomplete" not in html


def test_notes_on_the_reading_point_to_the_full_report(widget: Widget) -> None:
    document = widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    document["notes"] = ["On 3 lines (the first: line 1) the evaluation details' ..."]
    widget.put_raw(f"reports/{PROJECT}/v1/{METRICS_FILE}", json.dumps(document).encode())
    html = widget.call(widget_event())
    assert "1 note on how the evaluation files were read: see the full report." in html


def test_no_report_yet_says_how_to_train(widget: Widget) -> None:
    widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), project="another-project")
    html = widget.call(widget_event())
    assert (
        f"No evaluation report yet for project {PROJECT} in s3://{BUCKET}/reports/{PROJECT}/"
    ) in html
    assert "<code>python -m ops train start --env dev</code>" in html
    assert 'class="heatmap"' not in html


def test_describe_returns_markdown_documentation(widget: Widget) -> None:
    docs = widget.call({"describe": True})
    assert docs.startswith("## ")
    assert "### Widget parameters" in docs
    assert "**project**" in docs
    assert "<style>" not in docs
    assert "<div" not in docs


@pytest.mark.parametrize(
    ("event", "shown"),
    [
        (widget_event(project="../../etc/passwd"), "'../../etc/passwd'"),
        (widget_event(project="<img src=x onerror=alert(1)>"), "'<img src=x onerror"),
        (widget_event(project=""), "got ''"),
        (widget_event(project=42), "got 42"),
        (widget_event(project="a" * 256), "got 'aaaa"),
        ({"widgetContext": {"theme": "light", "params": {"project": "bad/name"}}}, "'bad/name'"),
    ],
    ids=["path", "markup", "empty", "number", "too long", "in widgetContext.params"],
)
def test_invalid_project_parameter_is_a_clear_message(
    widget: Widget, event: dict[str, Any], shown: str
) -> None:
    html = widget.call(event)
    assert "Invalid project parameter" in html
    assert "1-255 letters, digits" in html
    assert escape(shown) in html
    assert "<img" not in html
    assert "Traceback" not in html


def test_project_parameter_reads_that_projects_reports(widget: Widget) -> None:
    widget.put_version("v-own", HAND_PAIRS, at=datetime(2024, 5, 3), gate=PASSING_GATE)
    widget.put_version(
        "v-other", HAND_PAIRS, at=datetime(2024, 5, 1), gate=REJECTING_GATE, project="other.p_1"
    )
    html = widget.call(widget_event(project="other.p_1"))
    assert "Version v-other" in html
    assert "Project other.p_1" in html
    assert "<strong>REJECTED</strong>" in html
    assert "v-own" not in html


def test_version_without_gate_says_so(widget: Widget) -> None:
    widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=None)
    html = widget.call(widget_event())
    assert "No quality gate was applied to this version." in html
    assert 'class="verdict' not in html
    assert 'class="heatmap"' in html


def _without_confusion_matrix(document: dict[str, Any]) -> bytes:
    del document["confusion_matrix"]
    return json.dumps(document).encode()


def _short_matrix(document: dict[str, Any]) -> bytes:
    document["confusion_matrix"] = document["confusion_matrix"][:-1]
    return json.dumps(document).encode()


def _foreign_axis(document: dict[str, Any]) -> bytes:
    document["confusion_matrix_columns"] = ["<script>", "cat", "wolf"]
    return json.dumps(document).encode()


def _bad_gate(document: dict[str, Any]) -> bytes:
    document["gate"]["value"] = "high"
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("damage", "title", "problem"),
    [
        (lambda _: b'{"labels": ["a", ', "is corrupt", "is not a JSON document"),
        (lambda _: b"\xff\xfe not utf-8", "is corrupt", "is not a JSON document"),
        (lambda _: b"[1, 2, 3]", "is incomplete", "the document is not a JSON object"),
        (_without_confusion_matrix, "is incomplete", "the confusion matrix"),
        (_short_matrix, "is incomplete", "is not a 3x3 matrix of image counts"),
        (_foreign_axis, "is incomplete", '"confusion_matrix_columns" is not the labels'),
        (_bad_gate, "is incomplete", '"gate" is not a verdict'),
    ],
    ids=[
        "truncated JSON",
        "not UTF-8",
        "not an object",
        "no matrix",
        "short matrix",
        "foreign axis",
        "bad gate",
    ],
)
def test_unusable_metrics_json_is_a_clear_message(
    widget: Widget, damage: Any, title: str, problem: str
) -> None:
    document = widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    key = f"reports/{PROJECT}/v1/{METRICS_FILE}"
    widget.put_raw(key, damage(document))
    html = widget.call(widget_event())
    assert f"The latest metrics.json {title}" in html
    assert f"s3://{BUCKET}/{key}" in html
    assert escape(problem) in html
    assert 'class="heatmap"' not in html


def test_access_denied_names_the_object(widget: Widget, monkeypatch: pytest.MonkeyPatch) -> None:
    widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)

    def denied(**request: Any) -> Any:
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
        raise ClientError(error, "GetObject")

    monkeypatch.setattr(widget.s3, "get_object", denied)
    html = widget.call(widget_event())
    assert "Cannot read the latest metrics.json" in html
    assert f"s3://{BUCKET}/reports/{PROJECT}/v1/{METRICS_FILE}" in html
    assert "AccessDenied (Access Denied)" in html


def test_listing_failure_names_the_prefix(widget: Widget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTIFACTS_BUCKET", "no-such-bucket-here")
    html = widget.call(widget_event())
    assert "Cannot list the evaluation reports" in html
    assert f"s3://no-such-bucket-here/reports/{PROJECT}/" in html
    assert "NoSuchBucket" in html


def test_listing_is_bounded_and_says_when_it_stopped(
    widget: Widget, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day, version in enumerate(("v1", "v2", "v3"), start=1):
        widget.put_version(version, HAND_PAIRS, at=datetime(2024, 5, day), gate=PASSING_GATE)
    monkeypatch.setattr(widget.module, "PAGE_SIZE", 1)
    monkeypatch.setattr(widget.module, "MAX_PAGES", 3)  # v1/metrics.json, v1/report, v2/metrics

    html = widget.call(widget_event())

    assert "Version v2" in html  # the newest of what was listed; v3 was never seen
    assert "Listing stopped after 3 pages" in html
    assert "a newer evaluation may exist" in html

    monkeypatch.setattr(widget.module, "MAX_PAGES", 6)  # exactly enough pages
    html = widget.call(widget_event())
    assert "Version v3" in html
    assert "Listing stopped" not in html


def test_dark_theme_adds_its_colours(widget: Widget) -> None:
    widget.put_version("v1", HAND_PAIRS, at=datetime(2024, 5, 1), gate=PASSING_GATE)
    dark = widget.call(widget_event(theme="dark"))
    light = widget.call(widget_event(theme="light"))
    assert widget.module._DARK_CSS in dark
    assert widget.module._DARK_CSS not in light
    # The heat-map cells are mixed on the theme's surface: an empty cell is that surface.
    cell = re.compile(r'<td style="background:(#[0-9a-f]{6});color:(#000|#fff)"')
    assert "#ffffff" in {background for background, _ in cell.findall(light)}
    assert "#1d2129" in {background for background, _ in cell.findall(dark)}
    uncoloured = cell.sub("<td>", dark.replace(widget.module._DARK_CSS, ""))
    assert uncoloured == cell.sub("<td>", light)


def test_unexpected_failure_is_a_message_not_a_trace(
    widget: Widget, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(widget.s3, "list_objects_v2", broken)
    html = widget.call(widget_event())
    assert "The evaluation widget failed" in html
    assert CONTEXT.aws_request_id in html
    assert "boom" not in html
    assert "Traceback" not in html

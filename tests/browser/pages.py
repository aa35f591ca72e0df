"""The pages the browser tests open (and ``benchmarks/report_screenshots.py`` photographs).

Reports at 2, 12 and 40 labels whose names mix what breaks layouts: long names with and without
spaces, Japanese, emoji, markup. Test sets come from ``tests.evaluation_data`` with abstentions
and images without ground truth, so the no-label row and column are on every page; the verdict
is the real gate's. The widget page is what the real handler returns to CloudWatch (run against
moto's S3, holding the files the Evaluate step writes), inside a frame of the width the widget
is configured with and the theme's colours.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from rekognition_training.evaluation_sources import Evaluation, evaluate
from shared.evaluation import EvaluationData
from tests.evaluation_data import ManifestSpec, generate_images

#: Label names that break naive layouts, the short ones first (a 2-label set has those).
HARD_LABELS = (
    "cat 🐱",
    "柴犬",
    "golden retriever",
    "ラブラドール・レトリバー",
    "a-very-long-label-name-without-any-spaces-at-all",
    '<b>markup</b> & "quotes"',
    "European short-haired domestic cat",
    "🦊🦉🐻",
    "Ärger",
    "日本語のとても長いラベルの名前です",
    "owl",
    "x",
)
#: The label counts the issue asks for.
LABEL_COUNTS = (2, 12, 40)
GATE = {"metric": "f1_macro", "threshold": 0.9, "min_label_recall": 0.8}

#: Screens the widget is checked on (CSS pixels wide).
SCREENS = {"1920-pixel screen": 1920, "1366-pixel laptop": 1366}


def widget_pixels(screen: int, share: float) -> int:
    """The widget's content width: its ``share`` of the dashboard on a ``screen``-wide window.

    CloudWatch's dashboard leaves about 40 pixels of the window to the console's margins and
    each widget's frame (border, padding) about 20: a quarter of a 1920-pixel screen is 450.
    """
    return round((screen - 40) * share) - 20


BUCKET = "imgclf-dev-artifacts-123456789012-eu-west-1"
PROJECT = "image-classifier"


def labels_for(count: int) -> tuple[str, ...]:
    """``count`` label names: the hard ones, then more of every kind."""
    kinds = ("species {} 🐾", "種類{}", "breed number {} with a long descriptive name", "L{}")
    extra = [kinds[i % len(kinds)].format(i + 1) for i in range(max(0, count - len(HARD_LABELS)))]
    return (*HARD_LABELS, *extra)[:count]


def evaluation(count: int, *, seed: int = 7) -> Evaluation:
    """An evaluated single-label test set of ``count`` labels, with the gate's verdict."""
    spec = ManifestSpec(
        labels=labels_for(count),
        n_images=max(60, 50 * count),
        seed=seed,
        accuracy=0.8,
        no_prediction_rate=0.05,
        no_truth_rate=0.02,
    )
    # The last label collapses into the first (every one of its images predicted as it): the
    # strongest error colour is on every page.
    collapsed, into = (spec.labels[-1],), (spec.labels[0],)
    images: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
    for image in generate_images(spec):
        images[image.truth, into if image.truth == collapsed else image.predicted] += 1
    data = EvaluationData.from_observations(images, multi_label=False, known_labels=spec.labels)
    return evaluate(data, GATE)


def report_html(count: int) -> str:
    """``report.html`` of :func:`evaluation`, as the Evaluate step stores it."""
    return evaluation(count).files()["report.html"][0].decode()


@dataclass(frozen=True)
class Frame:
    """Where CloudWatch shows the widget: its content width and the theme's page colours."""

    theme: str
    width: int

    @property
    def colours(self) -> tuple[str, str]:
        """(background, text) of CloudWatch's widget body in this theme."""
        return ("#1d2129", "#d1d5db") if self.theme == "dark" else ("#ffffff", "#16191f")


def widget_html(count: int, theme: str) -> str:
    """What the widget's Lambda returns for a project whose latest version has ``count`` labels."""
    import boto3
    from moto import mock_aws

    files = evaluation(count).files()
    environment = {
        "ARTIFACTS_BUCKET": BUCKET,
        "PROJECT_NAME": PROJECT,
        "REPORTS_PREFIX": f"reports/{PROJECT}/",
        "ENVIRONMENT_NAME": "dev",
        "POWERTOOLS_SERVICE_NAME": "evaluation-widget",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        with mock_aws():
            from evaluation_widget import handler

            s3 = boto3.client("s3", region_name="eu-west-1")
            s3.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            for name, (body, content_type) in files.items():
                key = f"reports/{PROJECT}/v-2026-11-20/{name}"
                s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
            handler.s3, original = s3, handler.s3
            try:
                event = {"widgetContext": {"theme": theme, "params": {}}}
                context = SimpleNamespace(
                    function_name="evaluation-widget",
                    memory_limit_in_mb=256,
                    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:w",
                    aws_request_id="screenshot",
                )
                html: str = handler.lambda_handler(event, context)
            finally:
                handler.s3 = original
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return html


def widget_page(fragment: str, frame: Frame) -> str:
    """The widget's HTML fragment inside a stand-in for CloudWatch's widget frame."""
    background, colour = frame.colours
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Widget</title>'
        "<style>body{margin:0;font-family:'Amazon Ember','Helvetica Neue',Roboto,Arial,"
        f"sans-serif;background:{background};color:{colour}}}"
        f"#frame{{width:{frame.width}px}}</style></head>"
        f'<body><div id="frame">{fragment}</div></body></html>'
    )


def write_page(directory: Path, name: str, html: str) -> str:
    """Write a page and return its file:// URL."""
    path = directory / name
    path.write_text(html, encoding="utf-8")
    return path.resolve().as_uri()

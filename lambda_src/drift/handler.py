"""The scheduled drift evaluator: each pipeline's live window against its running baseline.

Invoked by an EventBridge schedule (``drift.schedule``). For each pipeline it finds the model
that serves now, reads (or, for SageMaker, builds) its baseline, reads the window's live counts
from CloudWatch, computes the figures (``drift.figures``) and then:

- publishes each computed figure as a metric (``Pipeline`` dimension; a quiet figure publishes
  nothing, so its alarm stays OK) and the window's image count;
- writes ``drift.json`` and ``drift.html`` under ``drift/<pipeline>/<model>/<window end>/``
  and ``drift/<pipeline>/latest.json`` in the artifacts bucket;
- when a figure crosses its threshold, and the previous evaluation of the same model had not
  drifted the same way, sends one notification to the alert topic naming the labels that
  moved and by how much (the alarms notify on their own state changes too).

A pipeline that fails (CloudWatch throttled, S3 unavailable) does not stop the other; the
invocation then fails, so the function's error alarm sees it.

Environment: ``ENVIRONMENT_NAME``, ``ARTIFACTS_BUCKET``, ``ALERT_TOPIC_ARN``, ``WINDOW_HOURS``,
``DRIFT_THRESHOLDS`` (JSON of ``drift.figures.Thresholds``), ``PROJECT_NAME``,
``MODEL_VERSION_PARAMETER``, ``MODEL_VERSION_ARN`` (optional pin), ``ENDPOINT_NAME``,
``DATA_BUCKET``, ``SAGEMAKER_DATA_PREFIX``, ``SAGEMAKER_DATA_FORMAT``, ``CLASS_NAMES``.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts import drift as contract
from contracts.metrics import DRIFT_WINDOW_IMAGES, PIPELINE_DIMENSION
from contracts.s3_layout import DRIFT_PREFIX
from drift import report
from drift.evaluation import (
    NothingRunning,
    Settings,
    evaluate,
    nothing_running,
    read_json,
    running_rekognition,
    running_sagemaker,
    settings_from_environment,
)
from drift.window import WindowUnavailable
from shared.ssm_parameters import read_optional_parameter

logger = Logger()
tracer = Tracer()

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)


class UnexpectedEvent(ValueError):  # noqa: N818 - the name is the error name
    """The evaluator is started by its schedule (or by hand with ``{}``)."""


class EvaluationFailed(RuntimeError):  # noqa: N818 - the name is the error name
    """At least one pipeline could not be evaluated (the others were)."""


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def read_parameter(name: str) -> str | None:
    return read_optional_parameter(client("ssm"), name)


def check_event(event: Any) -> None:
    if not isinstance(event, dict):
        raise UnexpectedEvent(f"the event must be a JSON object, got {type(event).__name__}")
    if event and event.get("detail-type") != "Scheduled Event":
        raise UnexpectedEvent(
            f"expected the schedule's event (or {{}}), got keys {sorted(event)[:5]}"
        )


def run_pipeline(settings: Settings, pipeline: str, end: datetime) -> dict[str, Any]:
    """The report document of one pipeline (see the module docstring)."""
    try:
        if pipeline == contract.REKOGNITION:
            model = running_rekognition(settings, read_parameter)
        else:
            model = running_sagemaker(settings, client("sagemaker"))
    except NothingRunning as error:
        return nothing_running(settings, pipeline, end, str(error))
    return evaluate(
        settings=settings,
        model=model,
        s3=client("s3"),
        cloudwatch=client("cloudwatch"),
        end=end,
    )


def publish(settings: Settings, document: dict[str, Any]) -> None:
    """Each computed figure and the window's image count, per pipeline."""
    values: dict[str, float] = {
        contract.FIGURES[figure]: value
        for figure, value in document["figures"].items()
        if value is not None
    }
    values[DRIFT_WINDOW_IMAGES] = document["live"]["images"]
    for name, value in values.items():
        unit = MetricUnit.Count if name == DRIFT_WINDOW_IMAGES else MetricUnit.NoUnit
        with single_metric(
            name=name, unit=unit, value=value, namespace=settings.namespace
        ) as metric:
            metric.add_dimension(name=PIPELINE_DIMENSION, value=document["pipeline"])


def store(settings: Settings, document: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Write the report and the pipeline's ``latest.json``; the report's URI and the previous
    latest document."""
    s3, bucket = client("s3"), settings.artifacts_bucket
    pipeline_prefix = f"{DRIFT_PREFIX}{document['pipeline']}/"
    stamp = document["window"]["end"].replace(":", "").replace("+0000", "Z")
    prefix = f"{pipeline_prefix}{document['model']}/{stamp}/"
    previous = read_json(s3, bucket, pipeline_prefix + contract.LATEST_FILE)
    files = {
        contract.DRIFT_JSON: (report.encode(document), "application/json"),
        contract.DRIFT_HTML: (report.render_html(document).encode(), "text/html; charset=utf-8"),
    }
    for name, (body, content_type) in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=content_type)
    uri = f"s3://{bucket}/{prefix}{contract.DRIFT_HTML}"
    latest = {**document, "report_uri": uri}
    s3.put_object(
        Bucket=bucket,
        Key=pipeline_prefix + contract.LATEST_FILE,
        Body=report.encode(latest),
        ContentType="application/json",
    )
    return uri, previous


def should_notify(document: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """Drifted now, and not already drifted the same way for the same model last time."""
    if not document["drifted"]:
        return False
    return (
        previous is None
        or not previous.get("drifted")
        or previous.get("model") != document["model"]
        or sorted(previous.get("breaches", [])) != sorted(document["breaches"])
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    check_event(event)
    settings = settings_from_environment(os.environ)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    results: dict[str, Any] = {}
    failed: list[str] = []
    for pipeline in contract.PIPELINES:
        try:
            document = run_pipeline(settings, pipeline, end)
            publish(settings, document)
            uri, previous = store(settings, document)
            if should_notify(document, previous):
                message = report.notification(document, uri)
                client("sns").publish(
                    TopicArn=os.environ["ALERT_TOPIC_ARN"],
                    Subject=message.subject,
                    Message=message.message,
                )
        except (ClientError, BotoCoreError, WindowUnavailable, ValueError) as error:
            logger.exception("Drift evaluation failed", extra={"pipeline": pipeline})
            failed.append(f"{pipeline}: {error}")
            continue
        logger.info(
            "drift evaluated",
            extra={"pipeline": pipeline, "figures": document["figures"], "report": uri},
        )
        results[pipeline] = {
            "model": document["model"],
            "drifted": document["drifted"],
            "figures": document["figures"],
            "report_uri": uri,
        }
    if failed:
        raise EvaluationFailed("; ".join(failed))
    return results

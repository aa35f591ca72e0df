"""Starts a training run when a manifest lands or on schedule, never two at once.

Invoked by EventBridge: an S3 "Object Created" event for a manifest under the configured prefix
of the data bucket, or a scheduled event (then the configured manifest key is used). If any
execution of the workflow is running (the workflow trains one project), nothing starts and the
skip is logged and counted. The execution name derives from the EventBridge event id, so a
redelivered event cannot start a second run.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.metrics import TRAINING_TRIGGER_SKIPPED, TRAINING_TRIGGERED
from shared.training_request import training_request

logger = Logger()
tracer = Tracer()
metrics = Metrics()
sfn = boto3.client("stepfunctions")


class UnexpectedEvent(ValueError):  # noqa: N818 - the name is the error name in the DLQ
    """The event is neither an S3 Object Created event of the data bucket nor a schedule."""


def manifest_key(event: dict[str, Any], data_bucket: str, scheduled_key: str | None) -> str:
    """The manifest a trigger event asks to train on."""
    if event.get("detail-type") == "Scheduled Event":
        if not scheduled_key:
            raise UnexpectedEvent("scheduled event, but no scheduled_manifest_key is configured")
        return scheduled_key
    if event.get("detail-type") == "Object Created":
        detail = event.get("detail", {})
        bucket = detail.get("bucket", {}).get("name")
        key = detail.get("object", {}).get("key")
        if bucket != data_bucket or not isinstance(key, str) or not key:
            raise UnexpectedEvent(f"object event for {bucket}/{key}, not the data bucket")
        return key
    raise UnexpectedEvent(f"unexpected event type {event.get('detail-type')!r}")


def execution_name(event_id: str) -> str:
    """Step Functions names are 1-80 characters of [A-Za-z0-9-_]."""
    return ("trigger-" + re.sub(r"[^A-Za-z0-9_-]", "-", event_id))[:80]


#: Most pages of ListExecutions read to find a running execution (they hold up to 100 each).
MAX_PAGES = 20


def running_executions(stepfunctions: Any, state_machine: str) -> list[dict[str, Any]]:
    """A RUNNING execution of the workflow (a list of one), or an empty list.

    Every page is read until one is found: a page may come back empty with a nextToken.
    """
    pages = stepfunctions.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine, statusFilter="RUNNING"
    )
    for number, page in enumerate(pages, start=1):
        if page.get("executions"):
            return [page["executions"][0]]
        if number >= MAX_PAGES and page.get("nextToken"):
            raise RuntimeError(f"ListExecutions still had more pages after {MAX_PAGES}")
    return []


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    data_bucket = os.environ["DATA_BUCKET"]
    key = manifest_key(event, data_bucket, os.environ.get("SCHEDULED_MANIFEST_KEY") or None)
    state_machine = os.environ["STATE_MACHINE_ARN"]
    running = running_executions(sfn, state_machine)
    if running:
        metrics.add_metric(name=TRAINING_TRIGGER_SKIPPED, unit=MetricUnit.Count, value=1)
        logger.warning(
            "a training run is in progress; not starting another",
            extra={"running": running[0]["executionArn"], "manifest": key},
        )
        return {"started": False, "running": running[0]["executionArn"]}
    name = execution_name(str(event.get("id", context.aws_request_id)))
    started = sfn.start_execution(
        stateMachineArn=state_machine,
        name=name,
        input=json.dumps(training_request(f"s3://{data_bucket}/{key}")),
    )
    metrics.add_metric(name=TRAINING_TRIGGERED, unit=MetricUnit.Count, value=1)
    logger.info("training started", extra={"execution": started["executionArn"], "manifest": key})
    return {"started": True, "execution_arn": started["executionArn"]}

"""Lambda entry point of the model controller, run every minute by an EventBridge schedule.

Each run observes the model version's status, the inference queue's backlog and (when the model
runs with an empty queue) how long ago work was last seen, asks ``decision.decide`` what to do,
then applies it: the event source is disabled before a stop and enabled only once the model is
RUNNING. It publishes ``ModelRunning`` and ``ModelNeedsAttention`` (alarmed), and never raises for
a model problem: errors raised here are AWS call failures, retried by Lambda and then kept in the
function's alarmed dead-letter queue.

Environment: ``QUEUE_URL``, ``QUEUE_NAME``, ``EVENT_SOURCE_MAPPING_ID``, ``PROJECT_NAME``,
``MODEL_VERSION_ARN`` (optional pin), ``MODEL_VERSION_PARAMETER``, ``CONTROL_MODE``,
``IDLE_MINUTES``, ``SCHEDULE_START_HOUR_UTC``/``SCHEDULE_END_HOUR_UTC`` (scheduled mode),
``MIN_INFERENCE_UNITS``, ``MAX_INFERENCE_UNITS``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from model_controller import operations
from model_controller.decision import RUNNING, Action, Observation, Policy, decide
from shared.model_version import ModelNotConfiguredError, ModelVersion, resolve_model_version

logger = Logger()
tracer = Tracer()
metrics = Metrics()

#: Minutes of queue metrics read beyond ``idle_minutes`` (CloudWatch's SQS metrics lag a little).
LOOKBACK_MARGIN_MINUTES = 5
PARAMETER_MAX_AGE_SECONDS = 30
#: When this execution environment last saw messages waiting, per queue. Best effort (a cold
#: start forgets it): it covers CloudWatch's SQS metrics arriving a minute or two late.
_LAST_SEEN_WORK: dict[str, datetime] = {}


@dataclass(frozen=True)
class ControllerSettings:
    queue_url: str
    queue_name: str
    mapping_id: str
    project_name: str
    pinned_arn: str | None
    parameter_name: str
    policy: Policy
    min_units: int
    max_units: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ControllerSettings:
        def hour(name: str) -> int | None:
            value = environ.get(name, "")
            return int(value) if value else None

        return cls(
            queue_url=environ["QUEUE_URL"],
            queue_name=environ["QUEUE_NAME"],
            mapping_id=environ["EVENT_SOURCE_MAPPING_ID"],
            project_name=environ["PROJECT_NAME"],
            pinned_arn=environ.get("MODEL_VERSION_ARN") or None,
            parameter_name=environ["MODEL_VERSION_PARAMETER"],
            policy=Policy(
                mode=environ["CONTROL_MODE"],
                idle_minutes=int(environ["IDLE_MINUTES"]),
                start_hour_utc=hour("SCHEDULE_START_HOUR_UTC"),
                end_hour_utc=hour("SCHEDULE_END_HOUR_UTC"),
            ),
            min_units=int(environ["MIN_INFERENCE_UNITS"]),
            max_units=int(environ["MAX_INFERENCE_UNITS"]),
        )


@dataclass(frozen=True)
class Clients:
    rekognition: Any
    sqs: Any
    lambda_: Any
    cloudwatch: Any


@functools.cache
def clients() -> Clients:
    return Clients(
        rekognition=boto3.client("rekognition"),
        sqs=boto3.client("sqs"),
        lambda_=boto3.client("lambda"),
        cloudwatch=boto3.client("cloudwatch"),
    )


@functools.cache
def cached_project_arn(rekognition: Any, project_name: str) -> str | None:
    """Project ARNs never change; a missing project is looked up again next time."""
    arn = operations.project_arn(rekognition, project_name)
    if arn is None:
        cached_project_arn.cache_clear()
    return arn


def read_parameter(name: str) -> str | None:
    try:
        value = parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        if "ParameterNotFound" in str(error):
            return None
        raise
    return str(value)


def observe_model(
    settings: ControllerSettings, aws: Clients
) -> tuple[ModelVersion | None, str | None, str]:
    """(model, status, explanation); status None when no usable version is configured."""
    try:
        model = resolve_model_version(
            pinned_arn=settings.pinned_arn,
            parameter_name=settings.parameter_name,
            project_name=settings.project_name,
            read_parameter=read_parameter,
        )
    except ModelNotConfiguredError as error:
        return None, None, str(error)
    project = cached_project_arn(aws.rekognition, model.project)
    description = operations.describe_model(aws.rekognition, model, project)
    return model, description.status, description.message


def run(settings: ControllerSettings, aws: Clients, now: datetime) -> dict[str, Any]:
    """One control step; returns what it saw and did (also logged)."""
    model, status, explanation = observe_model(settings, aws)
    backlog = operations.waiting_messages(aws.sqs, settings.queue_url)
    waiting = sum(backlog.values())
    minutes: float | None = 0.0
    if waiting:
        _LAST_SEEN_WORK[settings.queue_url] = now
    else:
        minutes = None
        if status == RUNNING:
            minutes = operations.minutes_since_last_work(
                aws.cloudwatch,
                settings.queue_name,
                now,
                settings.policy.idle_minutes + LOOKBACK_MARGIN_MINUTES,
            )
            seen = _LAST_SEEN_WORK.get(settings.queue_url)
            if seen is not None:
                since_seen = max(0.0, (now - seen).total_seconds() / 60)
                minutes = since_seen if minutes is None else min(minutes, since_seen)
    observation = Observation(
        status=status, waiting_messages=waiting, minutes_since_last_work=minutes, now=now
    )
    decision = decide(observation, settings.policy)
    if decision.action is Action.STOP or not decision.event_source_enabled:
        changed = operations.set_event_source(aws.lambda_, settings.mapping_id, enabled=False)
    else:
        changed = operations.set_event_source(aws.lambda_, settings.mapping_id, enabled=True)
    outcome = None
    if model is not None and decision.action is Action.START:
        outcome = operations.start_model(
            aws.rekognition, model, settings.min_units, settings.max_units
        )
    elif model is not None and decision.action is Action.STOP:
        outcome = operations.stop_model(aws.rekognition, model)
    summary = {
        "model_version_arn": model.arn if model else None,
        "status": status,
        "status_detail": explanation,
        "mode": settings.policy.mode,
        "waiting": backlog,
        "minutes_since_last_work": minutes,
        "action": decision.action.value,
        "action_outcome": outcome,
        "reason": decision.reason,
        "event_source_enabled": decision.event_source_enabled,
        "event_source_changed": changed,
        "needs_attention": decision.needs_attention,
    }
    if decision.needs_attention:
        logger.error("The model needs attention", extra=summary)
    elif decision.action is not Action.NOTHING or changed:
        logger.info("Model controller acted", extra=summary)
    else:
        logger.debug("Nothing to do", extra=summary)
    metrics.add_metric(name="ModelRunning", unit=MetricUnit.Count, value=int(status == RUNNING))
    metrics.add_metric(
        name="ModelNeedsAttention", unit=MetricUnit.Count, value=int(decision.needs_attention)
    )
    metrics.add_metric(name="QueueWaiting", unit=MetricUnit.Count, value=waiting)
    metrics.add_metric(
        name="ModelStartRequests",
        unit=MetricUnit.Count,
        value=int(outcome is not None and decision.action is Action.START),
    )
    metrics.add_metric(
        name="ModelStopRequests",
        unit=MetricUnit.Count,
        value=int(outcome is not None and decision.action is Action.STOP),
    )
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(ControllerSettings.from_environment(os.environ), clients(), datetime.now(UTC))

"""Lambda entry point of the model controller, run every minute by an EventBridge schedule.

Each run observes the model version's status, the inference queue's backlog and (when the model
runs with an empty queue) how long ago work was last seen, asks ``decision.decide`` what to do,
then applies it: a start asks for the units the decision chose (MaxInferenceUnits the configured
max), the event source is disabled before a stop (no stop until it is) and enabled only once the
model is RUNNING.

While the model runs, the consumers follow the inference units in service (:func:`follow_units`):
the version's MinInferenceUnits, or with auto-scaling Rekognition's one-minute
``InServiceInferenceUnits`` (lower ``DesiredInferenceUnits`` first: a scale-down is announced
before units leave). The pace each invocation may call at is published in the SSM parameter
``CAPACITY_PARAMETER`` (the consumer reads it at most every 30 s), the event source's
``MaximumConcurrency`` is updated (with the enable, in one call), in the order
``decision.capacity_step`` says, so the invocations never ask for more than the units serve.
A throttled or failed call there is logged and counted (``CapacityUpdateFailures``) and the next
run, a minute later, tries again: it never fails the run.

It publishes ``ModelRunning`` and ``ModelNeedsAttention`` (alarmed), and never raises for a model
problem: errors raised here are AWS call failures, retried by Lambda and then kept in the
function's alarmed dead-letter queue.

Environment: ``QUEUE_URL``, ``QUEUE_NAME``, ``EVENT_SOURCE_MAPPING_ID``, ``PROJECT_NAME``,
``MODEL_VERSION_ARN`` (optional pin), ``MODEL_VERSION_PARAMETER``, ``CONTROL_MODE``,
``IDLE_MINUTES``, ``DRAIN_MINUTES``, ``SCHEDULE_START_HOUR_UTC``/``SCHEDULE_END_HOUR_UTC``
(scheduled mode), ``MIN_INFERENCE_UNITS``, ``MAX_INFERENCE_UNITS``, ``TPS_PER_INFERENCE_UNIT``,
``EXPECTED_START_MINUTES``, ``CALLS_IN_FLIGHT`` (the consumer's DetectCustomLabels calls per
invocation), ``CAPACITY_PARAMETER``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from contracts.consumer_capacity import (
    ConsumerCapacity,
    capacity_for,
    pace_from_parameter,
    to_parameter,
)
from contracts.metrics import (
    CAPACITY_UPDATE_FAILURES,
    IN_SERVICE_INFERENCE_UNITS,
    INFERENCE_UNITS_SERVING,
    MODEL_NEEDS_ATTENTION,
    MODEL_RUNNING,
    MODEL_START_REQUESTS,
    MODEL_STOP_REQUESTS,
    QUEUE_WAITING,
)
from model_controller import operations
from model_controller.decision import (
    RUNNING,
    Action,
    BacklogHistory,
    Observation,
    Policy,
    capacity_step,
    decide,
)
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
#: The backlogs seen at recent runs while nothing consumed the queue, per queue (best effort,
#: like the above): the unit choice's forecast of arrivals during a start.
_BACKLOGS: dict[str, BacklogHistory] = {}


@dataclass(frozen=True)
class ControllerSettings:
    queue_url: str
    queue_name: str
    mapping_id: str
    project_name: str
    pinned_arn: str | None
    parameter_name: str
    policy: Policy
    #: DetectCustomLabels calls one consumer invocation keeps in flight.
    calls_in_flight: int
    capacity_parameter: str

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
                drain_minutes=int(environ["DRAIN_MINUTES"]),
                min_units=int(environ["MIN_INFERENCE_UNITS"]),
                max_units=int(environ["MAX_INFERENCE_UNITS"]),
                tps_per_unit=float(environ["TPS_PER_INFERENCE_UNIT"]),
                expected_start_minutes=float(environ["EXPECTED_START_MINUTES"]),
            ),
            calls_in_flight=int(environ["CALLS_IN_FLIGHT"]),
            capacity_parameter=environ["CAPACITY_PARAMETER"],
        )

    def capacity(self, units: int) -> ConsumerCapacity:
        return capacity_for(units, self.policy.tps_per_unit, self.calls_in_flight)

    @property
    def paces(self) -> list[float]:
        """The pace for each number of units the controller can size the consumers to."""
        units = range(1, self.policy.max_units + 1)
        return [self.capacity(count).invocation_tps for count in units]

    @property
    def slowest_pace(self) -> float:
        """What a consumer uses while nothing is published (its INVOCATION_TPS)."""
        return min(self.paces)

    @property
    def fastest_pace(self) -> float:
        """The fastest a consumer accepts (its MAX_INVOCATION_TPS)."""
        return max(self.paces)


@dataclass(frozen=True)
class Clients:
    rekognition: Any
    sqs: Any
    lambda_: Any
    cloudwatch: Any
    ssm: Any


@functools.cache
def clients() -> Clients:
    return Clients(
        rekognition=boto3.client("rekognition"),
        sqs=boto3.client("sqs"),
        lambda_=boto3.client("lambda"),
        cloudwatch=boto3.client("cloudwatch"),
        ssm=boto3.client("ssm"),
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
) -> tuple[ModelVersion | None, operations.ModelDescription]:
    """(model, description); the status is None when no usable version is configured."""
    try:
        model = resolve_model_version(
            pinned_arn=settings.pinned_arn,
            parameter_name=settings.parameter_name,
            project_name=settings.project_name,
            read_parameter=read_parameter,
        )
    except ModelNotConfiguredError as error:
        return None, operations.ModelDescription(None, str(error))
    project = cached_project_arn(aws.rekognition, model.project)
    return model, operations.describe_model(aws.rekognition, model, project)


@dataclass
class CapacityReport:
    """What :func:`follow_units` saw and did."""

    units: int | None = None
    units_source: str = ""
    target: ConsumerCapacity | None = None
    max_concurrency: int | None = None
    invocation_tps: float | None = None
    published: bool = False
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inference_units": self.units,
            "units_source": self.units_source,
            "target_max_concurrency": self.target.max_concurrency if self.target else None,
            "target_invocation_tps": self.target.invocation_tps if self.target else None,
            "max_concurrency": self.max_concurrency,
            "invocation_tps": self.invocation_tps,
            "pace_published": self.published,
            "problems": self.problems,
        }


def serving_units(
    settings: ControllerSettings,
    aws: Clients,
    model: ModelVersion,
    description: operations.ModelDescription,
    now: datetime,
    report: CapacityReport,
) -> int | None:
    """The units to size the consumers to: the version's MinInferenceUnits, or with auto-scaling
    the units CloudWatch shows in service (rounded down), within 1..the configured max.

    None when the metric cannot be read: what is applied stays as it is until the next run.
    """
    low = description.min_inference_units or settings.policy.min_units
    high = max(description.max_inference_units or low, low)
    units, source = low, "MinInferenceUnits"
    if high > low:
        try:
            seen = operations.units_in_service(aws.cloudwatch, model, now)
        except (ClientError, BotoCoreError) as error:
            report.problems.append(f"GetMetricData: {error}")
            return None
        if seen is not None:
            units, source = math.floor(seen), IN_SERVICE_INFERENCE_UNITS
        else:
            source = "MinInferenceUnits (no InServiceInferenceUnits datapoint yet)"
    report.units_source = source
    return max(1, min(units, high, settings.policy.max_units))


def follow_units(
    settings: ControllerSettings,
    aws: Clients,
    model: ModelVersion,
    description: operations.ModelDescription,
    now: datetime,
) -> tuple[operations.Gate, CapacityReport]:
    """Size the consumers to the units in service and enable the event source.

    Never raises for a throttled or failed call: the report says what is left for the next run.
    """
    report = CapacityReport()
    try:
        source = operations.read_event_source(aws.lambda_, settings.mapping_id)
    except ClientError as error:
        if not operations.retry_next_run(error):
            raise
        report.problems.append(f"GetEventSourceMapping: {operations.error_code(error)}")
        return operations.Gate.BUSY, report
    running = source.enabled
    units = serving_units(settings, aws, model, description, now, report)
    if units is None:
        if running:
            return operations.Gate.UNCHANGED, report
        units = description.min_inference_units or settings.policy.min_units
        report.units_source = "MinInferenceUnits (the metric could not be read)"
    target = settings.capacity(units)
    report.units, report.target = units, target
    try:
        published = operations.read_capacity(aws.ssm, settings.capacity_parameter)
    except (ClientError, BotoCoreError) as error:
        # What the consumers use is unknown: change nothing (enable nothing) until it is.
        report.problems.append(f"GetParameter {settings.capacity_parameter}: {error}")
        return (operations.Gate.UNCHANGED if running else operations.Gate.BUSY), report
    # As the consumer reads it: nothing usable is its slowest pace, and it stays within bounds.
    pace = pace_from_parameter(published) or settings.slowest_pace
    pace = max(settings.slowest_pace, min(settings.fastest_pace, pace))
    initial = settings.capacity(settings.policy.min_units)
    concurrency = source.max_concurrency or initial.max_concurrency
    step = capacity_step(concurrency, pace, target, consumers_running=running)
    document = to_parameter(ConsumerCapacity(units, step.max_concurrency, step.invocation_tps))
    if document != published:
        try:
            operations.publish_capacity(aws.ssm, settings.capacity_parameter, document)
        except (ClientError, BotoCoreError) as error:
            report.problems.append(f"PutParameter {settings.capacity_parameter}: {error}")
            if not running and pace > target.invocation_tps:
                # The consumers would start at the faster pace published earlier.
                return operations.Gate.BUSY, report
            # Only what is safe with the pace the consumers keep using.
            step = capacity_step(concurrency, pace, target, consumers_running=True)
        else:
            report.published = True
            pace = step.invocation_tps
    report.invocation_tps = pace
    gate = operations.gate_event_source(
        aws.lambda_,
        settings.mapping_id,
        enabled=True,
        max_concurrency=step.max_concurrency,
        current=source,
    )
    if gate is operations.Gate.BUSY:
        report.problems.append("UpdateEventSourceMapping: busy or throttled")
        report.max_concurrency = concurrency if running else None
    else:
        report.max_concurrency = step.max_concurrency
    return gate, report


def run(settings: ControllerSettings, aws: Clients, now: datetime) -> dict[str, Any]:
    """One control step; returns what it saw and did (also logged)."""
    model, description = observe_model(settings, aws)
    status, explanation = description.status, description.message
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
    history = _BACKLOGS.setdefault(settings.queue_url, BacklogHistory())
    observation = Observation(
        status=status,
        waiting_messages=waiting,
        minutes_since_last_work=minutes,
        now=now,
        recent_backlogs=history.recent(now),
    )
    decision = decide(observation, settings.policy)
    history.record(now, waiting, consuming=decision.event_source_enabled)
    capacity: CapacityReport | None = None
    if decision.event_source_enabled and model is not None:
        gate, capacity = follow_units(settings, aws, model, description, now)
    else:
        gate = operations.gate_event_source(aws.lambda_, settings.mapping_id, enabled=False)
    outcome = None
    if model is not None and decision.action is Action.START:
        assert decision.units is not None  # a start always says how many
        outcome = operations.start_model(
            aws.rekognition, model, decision.units, settings.policy.max_units
        )
    elif model is not None and decision.action is Action.STOP:
        if gate is operations.Gate.BUSY:
            # Not while the event source may still deliver: receives would fail on a
            # stopping model. The next run disables it and stops.
            outcome = "WAITING_FOR_EVENT_SOURCE"
        else:
            outcome = operations.stop_model(aws.rekognition, model)
    summary = {
        "model_version_arn": model.arn if model else None,
        "status": status,
        "status_detail": explanation,
        "mode": settings.policy.mode,
        "waiting": backlog,
        "minutes_since_last_work": minutes,
        "recent_backlogs": list(observation.recent_backlogs),
        "action": decision.action.value,
        "start_units": decision.units,
        "action_outcome": outcome,
        "reason": decision.reason,
        "event_source_enabled": decision.event_source_enabled,
        "event_source_changed": gate is operations.Gate.CHANGED,
        "event_source_busy": gate is operations.Gate.BUSY,
        "capacity": capacity.as_dict() if capacity else None,
        "needs_attention": decision.needs_attention,
    }
    if decision.needs_attention:
        logger.error("The model needs attention", extra=summary)
    elif capacity is not None and capacity.problems:
        logger.warning("Consumer capacity not fully updated: the next run retries", extra=summary)
    elif decision.action is not Action.NOTHING or gate is operations.Gate.CHANGED:
        logger.info("Model controller acted", extra=summary)
    else:
        logger.debug("Nothing to do", extra=summary)
    metrics.add_metric(name=MODEL_RUNNING, unit=MetricUnit.Count, value=int(status == RUNNING))
    metrics.add_metric(
        name=MODEL_NEEDS_ATTENTION, unit=MetricUnit.Count, value=int(decision.needs_attention)
    )
    metrics.add_metric(name=QUEUE_WAITING, unit=MetricUnit.Count, value=waiting)
    metrics.add_metric(
        name=MODEL_START_REQUESTS,
        unit=MetricUnit.Count,
        value=int(outcome is not None and decision.action is Action.START),
    )
    metrics.add_metric(
        name=MODEL_STOP_REQUESTS,
        unit=MetricUnit.Count,
        value=int(outcome is not None and decision.action is Action.STOP),
    )
    if capacity is not None:
        metrics.add_metric(
            name=CAPACITY_UPDATE_FAILURES, unit=MetricUnit.Count, value=len(capacity.problems)
        )
        if capacity.units is not None:
            metrics.add_metric(
                name=INFERENCE_UNITS_SERVING, unit=MetricUnit.Count, value=capacity.units
            )
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(ControllerSettings.from_environment(os.environ), clients(), datetime.now(UTC))

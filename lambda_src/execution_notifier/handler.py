"""Publishes one readable alert per failed, timed-out or aborted run, and per alarm state change.

Alarm state changes ("CloudWatch Alarm State Change", source ``aws.cloudwatch``) are read and
written by :mod:`execution_notifier.alarms`; the rest of this docstring is about runs.

Why this exists: a workflow reports its own failures from inside the state machine (a caught
error takes the notify-then-fail path of ``stacks/building_blocks/state_machine.py``). Three endings
never reach that path:

* **TIMED_OUT**: Step Functions stops the execution when it exceeds the state machine's timeout;
  no state of the workflow runs afterwards.
* **ABORTED**: someone or something called ``StopExecution`` (console, CLI, a redeploy); again no
  state runs afterwards.
* **FAILED without a notification**: an error no Catch handles (``States.Runtime``, a failure of
  the failure path), or the notify step itself failing (it is caught so that the original error
  still fails the execution, but then nobody hears of it).

An EventBridge rule matching "Step Functions Execution Status Change" events (source
``aws.states``) with status FAILED, TIMED_OUT or ABORTED for this app's state machines invokes
this function asynchronously. It publishes one message per event to the environment's alert topic
in the shared format of :mod:`shared.notification`, so it reads like the workflows' own messages.
A FAILED execution whose workflow did notify is not reported again: the end of its history shows
the notify step succeeded (:mod:`execution_notifier.history`); when the history cannot be read,
it is reported (a duplicate is better than a gap) and the message says it may be a second one.

Errors: a malformed event (not a status-change event, required fields missing or of the wrong
type, a status other than the three above) raises a subclass of :class:`UnexpectedEvent`; a
missing or invalid setting raises :class:`ConfigurationError`; SNS errors propagate. Lambda retries
an asynchronous invocation twice, then keeps the event in the function's alarmed dead-letter queue,
so nothing is lost silently. Redelivery can repeat a message (EventBridge and Lambda deliver at
least once); for alerts a duplicate is better than a gap.

An execution of a state machine missing from ``PIPELINES`` (the setting went stale, e.g. a state
machine was replaced, or the rule was widened) is still published, named after the state machine
in its ARN, with a log warning and a line in the message saying so: dropping or rejecting it
would hide a real failed execution behind a configuration mistake.

Environment: ``ENVIRONMENT_NAME`` (e.g. ``dev``), ``ALERT_TOPIC_ARN``, ``PIPELINES`` (a JSON object
mapping state machine ARN to a readable pipeline name), ``FAILURE_NOTIFICATION_STATE`` (the
workflows' notify step), ``ALARM_NAME_PREFIX`` (``<prefix>-<env>-``), ``ALARM_PIPELINES`` (a JSON
object mapping alarm-name segment to readable pipeline name), ``RUNBOOK_PREFIX`` (how alarm
descriptions name their runbook), ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``.
Publishes the metrics ``ExecutionNotificationsSent``, ``ExecutionNotificationsSkipped`` (already
notified by the workflow), ``AlarmNotificationsSent`` and ``AlarmNotificationsSkipped`` (Count).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.metrics import (
    ALARM_NOTIFICATIONS_SENT,
    ALARM_NOTIFICATIONS_SKIPPED,
    EXECUTION_NOTIFICATIONS_SENT,
    EXECUTION_NOTIFICATIONS_SKIPPED,
)
from execution_notifier.alarms import (
    AlarmEventError,
    alarm_notification,
    is_alarm_event,
    parse_alarm_event,
    worth_notifying,
)
from execution_notifier.history import already_notified
from shared.notification import Notification, render

logger = Logger()
tracer = Tracer()
metrics = Metrics()

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
#: The statuses this function reports, with what the reader should know about each.
EXPLANATIONS = {
    "FAILED": (
        "Step Functions reports the execution as failed, and the workflow did not report it "
        "itself: the error happened where no Catch reaches, or its own failure notification "
        "could not be sent."
    ),
    "TIMED_OUT": (
        "It exceeded the state machine's timeout, so Step Functions stopped it; the workflow "
        "could not report this itself."
    ),
    "ABORTED": (
        "Someone or something stopped it (StopExecution: the console, the CLI or a deployment); "
        "the workflow could not report this itself."
    ),
}
#: Error reported for a timeout whose event names none (what Step Functions itself calls it).
TIMEOUT_ERROR = "States.Timeout"
REQUIRED_SETTINGS = (
    "ENVIRONMENT_NAME",
    "ALERT_TOPIC_ARN",
    "PIPELINES",
    "FAILURE_NOTIFICATION_STATE",
    "ALARM_NAME_PREFIX",
    "ALARM_PIPELINES",
    "RUNBOOK_PREFIX",
    "POWERTOOLS_METRICS_NAMESPACE",
)
#: Said in a FAILED message whose run's history could not be read.
POSSIBLE_DUPLICATE = (
    "The run's history could not be read, so this may repeat the workflow's own notification."
)


class ConfigurationError(RuntimeError):
    """A setting of the function is missing or invalid (a deployment mistake)."""


class UnexpectedEvent(ValueError):  # noqa: N818 - the name is the error name in the DLQ
    """The event is not one this function reports."""


class MalformedAlarmEvent(UnexpectedEvent):
    """An alarm state-change event with a required field missing or of the wrong type."""


class NotAStatusChangeEvent(UnexpectedEvent):
    """The event is not a Step Functions "Execution Status Change" event."""


class MalformedEvent(UnexpectedEvent):
    """A status-change event with a required field missing or of the wrong type."""


class UnreportedStatus(UnexpectedEvent):
    """A status-change event for a status other than FAILED, TIMED_OUT or ABORTED."""


@dataclass(frozen=True)
class Settings:
    environment: str
    topic_arn: str
    pipelines: Mapping[str, str]
    notify_state: str
    alarm_prefix: str
    alarm_pipelines: Mapping[str, str]
    runbook_prefix: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        missing = [name for name in REQUIRED_SETTINGS if not environ.get(name, "").strip()]
        if missing:
            raise ConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
        environment = environ["ENVIRONMENT_NAME"].strip()
        if not _subject_safe(environment):
            raise ConfigurationError(
                f"ENVIRONMENT_NAME must be printable ASCII (it is part of SNS subjects), got "
                f"{environment!r}"
            )
        topic_arn = environ["ALERT_TOPIC_ARN"].strip()
        if not (topic_arn.startswith("arn:") and _arn_part(topic_arn, 2) == "sns"):
            raise ConfigurationError(f"ALERT_TOPIC_ARN must be an SNS topic ARN, got {topic_arn!r}")
        alarm_pipelines = _parse_mapping("ALARM_PIPELINES", environ["ALARM_PIPELINES"])
        return cls(
            environment,
            topic_arn,
            _parse_pipelines(environ["PIPELINES"]),
            environ["FAILURE_NOTIFICATION_STATE"].strip(),
            environ["ALARM_NAME_PREFIX"].strip(),
            alarm_pipelines,
            environ["RUNBOOK_PREFIX"],
        )


def _subject_safe(text: str) -> bool:
    return bool(text) and all(" " <= char <= "~" for char in text)


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":")
    return parts[index] if len(parts) > index else ""


def _parse_pipelines(raw: str) -> dict[str, str]:
    return _parse_mapping("PIPELINES", raw, keys="state machine ARNs")


def _parse_mapping(setting: str, raw: str, keys: str = "alarm-name segments") -> dict[str, str]:
    try:
        pipelines = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{setting} is not valid JSON: {error}") from error
    if not isinstance(pipelines, dict):
        raise ConfigurationError(
            f"{setting} must be a JSON object mapping {keys} to pipeline names, got "
            f"{type(pipelines).__name__}"
        )
    for key, name in pipelines.items():
        if not key or not isinstance(name, str) or not _subject_safe(name):
            raise ConfigurationError(
                f"{setting} must map {keys} to non-empty printable ASCII names (they "
                f"are part of SNS subjects); entry {key!r}: {name!r}"
            )
    return pipelines


@functools.cache
def settings() -> Settings:
    """The function's settings, validated on first use (a failure is not cached)."""
    return Settings.from_environment(os.environ)


@functools.cache
def sns_client() -> Any:
    return boto3.client("sns")


@functools.cache
def states_client() -> Any:
    return boto3.client("stepfunctions")


@dataclass(frozen=True)
class StatusChange:
    """The fields of a "Step Functions Execution Status Change" event this function reports."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str
    start: datetime | None
    stop: datetime | None
    error: str | None
    cause: str | None

    @property
    def state_machine_name(self) -> str:
        return _arn_part(self.state_machine_arn, 6)


def _required(detail: Mapping[str, Any], field: str) -> str:
    value = detail.get(field)
    if value is None:
        raise MalformedEvent(f"status-change event without detail.{field}")
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"detail.{field} must be a non-empty string, got {value!r}")
    return value


def _optional(detail: Mapping[str, Any], field: str) -> str | None:
    """A string field Step Functions sends as null when it has nothing to say."""
    value = detail.get(field)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"detail.{field} must be a string or null, got {value!r}")
    return value


def _date(detail: Mapping[str, Any], field: str) -> datetime | None:
    """Step Functions sends epoch milliseconds (``stopDate`` is null while running)."""
    value = detail.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent(f"detail.{field} must be epoch milliseconds, got {value!r}")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise MalformedEvent(f"detail.{field} is not a valid time: {value!r}") from error


def parse_event(event: Any) -> StatusChange:
    """The status change an EventBridge event reports, or a specific :class:`UnexpectedEvent`."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"the event must be a JSON object, got {type(event).__name__}")
    source, detail_type = event.get("source"), event.get("detail-type")
    if source != SOURCE or detail_type != DETAIL_TYPE:
        raise NotAStatusChangeEvent(
            f"expected source {SOURCE!r} and detail-type {DETAIL_TYPE!r}, got source {source!r} "
            f"and detail-type {detail_type!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent(f"status-change event without a detail object (got {detail!r})")
    execution_arn = _required(detail, "executionArn")
    state_machine_arn = _required(detail, "stateMachineArn")
    status = _required(detail, "status")
    if not execution_arn.startswith("arn:") or _arn_part(execution_arn, 5) != "execution":
        raise MalformedEvent(f"detail.executionArn is not an execution ARN: {execution_arn!r}")
    if not state_machine_arn.startswith("arn:") or _arn_part(state_machine_arn, 5) != (
        "stateMachine"
    ):
        raise MalformedEvent(
            f"detail.stateMachineArn is not a state machine ARN: {state_machine_arn!r}"
        )
    if status not in EXPLANATIONS:
        raise UnreportedStatus(
            f"status {status!r} of {execution_arn} is not reported; the rule should match only "
            f"{', '.join(EXPLANATIONS)}"
        )
    return StatusChange(
        execution_arn=execution_arn,
        state_machine_arn=state_machine_arn,
        name=_optional(detail, "name") or execution_arn.rsplit(":", 1)[-1],
        status=status,
        start=_date(detail, "startDate"),
        stop=_date(detail, "stopDate"),
        error=_optional(detail, "error"),
        cause=_optional(detail, "cause"),
    )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min 05 s``, ``1 h 02 min``, ``3 d 04 h``."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(change: StatusChange, *, known_pipeline: bool) -> str:
    """What happened, in two or three lines, above the shared fields of the message."""
    ended = f"Execution {change.name} ended with status {change.status}"
    times = [f"started {_timestamp(change.start)}"] if change.start else []
    times += [f"stopped {_timestamp(change.stop)}"] if change.stop else []
    if change.start and change.stop and change.stop >= change.start:
        ended += f" after {format_duration((change.stop - change.start).total_seconds())}"
    ended += f" ({', '.join(times)})." if times else "."
    lines = [ended, EXPLANATIONS[change.status]]
    if not known_pipeline:
        lines.append(
            f"State machine {change.state_machine_arn} is not in this notifier's PIPELINES "
            "setting; the pipeline is named after the state machine."
        )
    return "\n".join(lines)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    config = settings()
    if is_alarm_event(event):
        return _alarm(event, config)
    return _execution(event, config)


def _execution(event: Any, config: Settings) -> dict[str, Any]:
    change = parse_event(event)
    pipeline = config.pipelines.get(change.state_machine_arn)
    known = pipeline is not None
    if pipeline is None:
        pipeline = change.state_machine_name
        logger.warning(
            "state machine not in PIPELINES; publishing under its own name",
            extra={"state_machine": change.state_machine_arn, "pipeline": pipeline},
        )
    text = summary(change, known_pipeline=known)
    if change.status == "FAILED":
        notified = already_notified(states_client(), change.execution_arn, config.notify_state)
        if notified:
            metrics.add_metric(name=EXECUTION_NOTIFICATIONS_SKIPPED, unit=MetricUnit.Count, value=1)
            logger.info(
                "the workflow already notified this failure",
                extra={"execution": change.execution_arn, "pipeline": pipeline},
            )
            return {"skipped": "the workflow already notified this failure"}
        if notified is None:
            logger.warning("run history unreadable", extra={"execution": change.execution_arn})
            text += f"\n{POSSIBLE_DUPLICATE}"
    error = change.error
    if error is None and change.status == "TIMED_OUT":
        error = TIMEOUT_ERROR
    notification = render(
        pipeline=pipeline,
        environment=config.environment,
        outcome=change.status,
        summary=text,
        execution_arn=change.execution_arn,
        error=error,
        cause=change.cause,
    )
    message_id = _publish(config, notification)
    metrics.add_metric(name=EXECUTION_NOTIFICATIONS_SENT, unit=MetricUnit.Count, value=1)
    logger.info(
        "execution notification published",
        extra={
            "execution": change.execution_arn,
            "status": change.status,
            "pipeline": pipeline,
            "message_id": message_id,
        },
    )
    return {"published": message_id, "subject": notification.subject}


def _alarm(event: dict[str, Any], config: Settings) -> dict[str, Any]:
    try:
        change = parse_alarm_event(event)
    except AlarmEventError as error:
        raise MalformedAlarmEvent(str(error)) from error
    skip = worth_notifying(change)
    if skip is not None:
        metrics.add_metric(name=ALARM_NOTIFICATIONS_SKIPPED, unit=MetricUnit.Count, value=1)
        logger.info("alarm change not notified", extra={"alarm": change.name, "why": skip})
        return {"skipped": skip}
    notification = alarm_notification(
        change,
        environment=config.environment,
        prefix=config.alarm_prefix,
        pipelines=config.alarm_pipelines,
        runbook_prefix=config.runbook_prefix,
    )
    message_id = _publish(config, notification)
    metrics.add_metric(name=ALARM_NOTIFICATIONS_SENT, unit=MetricUnit.Count, value=1)
    logger.info(
        "alarm notification published",
        extra={"alarm": change.name, "state": change.state, "message_id": message_id},
    )
    return {"published": message_id, "subject": notification.subject}


def _publish(config: Settings, notification: Notification) -> str:
    response = sns_client().publish(
        TopicArn=config.topic_arn, Subject=notification.subject, Message=notification.message
    )
    return str(response["MessageId"])

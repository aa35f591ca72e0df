"""Alarm state changes, read from EventBridge's "CloudWatch Alarm State Change" events.

The environment's alarms have no SNS actions of their own (except the notifier's, which must
not depend on it): CloudWatch sends every state change to EventBridge, whose rule hands ALARM
and OK changes of the alarms named ``<prefix>-<env>-...`` to this function. Each becomes one
message in the shared format (:func:`shared.notification.render_alarm`).

The event (AWS's "Alarm events and EventBridge"): ``detail.alarmName``,
``detail.configuration.description`` (composite alarms add ``alarmRule``), ``detail.state`` and
``detail.previousState`` with ``value``, ``reason``, ``reasonData`` (a JSON string; a composite's
names its ``triggeringAlarms``) and ``timestamp`` (``2019-10-02T17:04:40.989+0000``).

An OK that does not follow ALARM (a new alarm's first evaluation from INSUFFICIENT_DATA) is not
news and is dropped. A name outside the prefix or a pipeline segment that is not known is still
published (under "Alarms"), never dropped: a configuration slip must not hide an alarm.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.notification import Notification, render_alarm

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"
NOTIFIED_STATES = ("ALARM", "OK")
#: The pipeline a message names when the alarm's name does not say.
UNKNOWN_PIPELINE = "Alarms"


class AlarmEventError(ValueError):
    """An alarm state-change event this function cannot read (the name is the DLQ's error)."""


@dataclass(frozen=True)
class AlarmChange:
    """The fields of a "CloudWatch Alarm State Change" event that the message uses."""

    name: str
    region: str
    state: str
    previous: str | None
    since: datetime | None
    reason: str
    description: str
    triggering: tuple[str, ...]


def _text(container: Mapping[str, Any], field: str, where: str) -> str:
    value = container.get(field)
    if not isinstance(value, str) or not value:
        raise AlarmEventError(f"{where}.{field} must be a non-empty string, got {value!r}")
    return value


def _timestamp(value: Any) -> datetime | None:
    """CloudWatch writes ``2019-10-02T17:04:40.989+0000``; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    for layout in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, layout)
        except ValueError:
            continue
    return None


def _triggering(reason_data: Any) -> tuple[str, ...]:
    """Names of the children that put a composite alarm in its state (none for a metric alarm)."""
    if not isinstance(reason_data, str):
        return ()
    try:
        data = json.loads(reason_data)
    except json.JSONDecodeError:
        return ()
    alarms = data.get("triggeringAlarms") if isinstance(data, dict) else None
    if not isinstance(alarms, list):
        return ()
    return tuple(
        str(item["arn"]).rsplit(":alarm:", 1)[-1]
        for item in alarms
        if isinstance(item, dict) and isinstance(item.get("arn"), str)
    )


def is_alarm_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("source") == SOURCE
        and event.get("detail-type") == DETAIL_TYPE
    )


def parse_alarm_event(event: Mapping[str, Any]) -> AlarmChange:
    """The state change an event reports, or :class:`AlarmEventError` naming the field."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise AlarmEventError(f"alarm state-change event without a detail object: {detail!r}")
    state = detail.get("state")
    if not isinstance(state, dict):
        raise AlarmEventError(f"detail.state must be an object, got {state!r}")
    value = _text(state, "value", "detail.state")
    previous = detail.get("previousState")
    configuration = detail.get("configuration")
    description = configuration.get("description") if isinstance(configuration, dict) else None
    return AlarmChange(
        name=_text(detail, "alarmName", "detail"),
        region=_text(event, "region", "event"),
        state=value,
        previous=previous.get("value") if isinstance(previous, dict) else None,
        since=_timestamp(state.get("timestamp")),
        reason=str(state.get("reason") or ""),
        description=description if isinstance(description, str) else "",
        triggering=_triggering(state.get("reasonData")),
    )


def worth_notifying(change: AlarmChange) -> str | None:
    """Why a change is not notified, or None when it is."""
    if change.state not in NOTIFIED_STATES:
        return f"state {change.state} is not notified (only {', '.join(NOTIFIED_STATES)})"
    if change.state == "OK" and change.previous != "ALARM":
        return f"OK after {change.previous or 'nothing'} is not news (only OK after ALARM)"
    return None


def split_name(name: str, prefix: str, pipelines: Mapping[str, str]) -> tuple[str, str]:
    """``<prefix><pipeline>-<what>`` -> (readable pipeline, what); the longest known pipeline
    segment wins. Unknown: (:data:`UNKNOWN_PIPELINE`, the name without the prefix)."""
    rest = name.removeprefix(prefix)
    for segment in sorted(pipelines, key=len, reverse=True):
        if name.startswith(prefix) and rest.startswith(f"{segment}-"):
            return pipelines[segment], rest.removeprefix(f"{segment}-")
    return UNKNOWN_PIPELINE, rest


def split_description(description: str, runbook_prefix: str) -> tuple[str, str | None]:
    """The description without its closing runbook sentence, and the runbook section."""
    head, marker, section = description.rpartition(runbook_prefix)
    if not marker:
        return description.strip(), None
    return head.strip(), section.strip().removesuffix(".") or None


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "(not given)"


def alarm_notification(
    change: AlarmChange,
    *,
    environment: str,
    prefix: str,
    pipelines: Mapping[str, str],
    runbook_prefix: str,
) -> Notification:
    """The message of one alarm state change."""
    pipeline, what = split_name(change.name, prefix, pipelines)
    text, runbook = split_description(change.description, runbook_prefix)
    summary = [text] if text else []
    if change.triggering:
        summary.append(f"Triggered by: {', '.join(change.triggering)}")
    if change.state == "OK":
        summary.insert(0, f"Alarm {change.name} has recovered.")
    since = _when(change.since)
    if change.previous:
        since += f" (was {change.previous})"
    if pipeline == UNKNOWN_PIPELINE:
        summary.append(
            f"The alarm's name does not start with {prefix}<pipeline>-: check its definition."
        )
    return render_alarm(
        pipeline=pipeline,
        environment=environment,
        state=change.state,
        alarm_name=change.name,
        what=what,
        summary="\n".join(summary),
        since=since,
        reason=change.reason,
        runbook=runbook,
        region=change.region,
    )

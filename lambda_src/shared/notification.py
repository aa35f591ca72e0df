"""The one format of every message the pipelines send to the alert topic.

Workflow notifications (success, rejection, failure; built in the state machines with
``States.Format`` by ``stacks/building_blocks/state_machine.py``) and the execution-status
notifications (``execution_notifier``) read the same, so one mail filter and one reader's habit
cover them all::

    Subject: [dev] Rekognition training FAILED

    Rekognition training failed in environment dev.
    <summary: what happened, in a sentence or a few lines>

    Pipeline: Rekognition training
    Environment: dev
    Outcome: FAILED
    Execution: arn:aws:states:...:execution:...
    Error: States.TaskFailed            (failures only)
    Cause: ...                          (failures only)
    Console: https://<region>.console.aws.amazon.com/states/home?...

Alarm state changes (the notifier, from EventBridge's "CloudWatch Alarm State Change") read the
same way, with what an alarm adds: its name, since when, why, the runbook to follow::

    Subject: [dev] Rekognition inference ALARM: backlog-too-old

    Rekognition inference raised an alarm in environment dev.
    <the alarm's description, without its runbook sentence>
    Triggered by: <children in ALARM>   (composite alarms only)

    Pipeline: Rekognition inference
    Environment: dev
    Outcome: ALARM                      (or OK: "... is back to OK in environment dev.")
    Alarm: imgclf-dev-rekognition-inference-backlog-too-old
    Since: 2026-11-21T03:02:07Z (was OK)
    Reason: Threshold Crossed: ...
    Runbook: README > Runbooks > Inference backlog too old
    Console: https://<region>.console.aws.amazon.com/cloudwatch/home?...#alarmsV2:alarm/<name>

A test runs a workflow's failure path and compares its message with :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

#: SNS subjects: at most 100 printable ASCII characters, no line breaks.
SUBJECT_LIMIT = 100
#: Causes can be whole stack traces or JSON documents; the console has the rest.
CAUSE_LIMIT = 4000
#: Outcome words used in subjects and the ``Outcome:`` line.
OUTCOME_PHRASES = {
    "SUCCEEDED": "succeeded",
    "DEPLOYED": "deployed a model",
    "REJECTED": "rejected a model",
    "REGISTERED": "registered a model for approval",
    "APPROVAL_REQUESTED": "asks for approval",
    "FINISHED": "finished",
    "FAILED": "failed",
    "TIMED_OUT": "timed out",
    "ABORTED": "was aborted",
    "DRIFTED": "drifted from its baseline",
    "ALARM": "raised an alarm",
    "OK": "is back to OK",
}
#: Alarm reasons can list many datapoints; the console has the rest.
REASON_LIMIT = 1000


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str


def subject(environment: str, pipeline: str, outcome: str) -> str:
    """``[env] <pipeline> <OUTCOME>``, cut to SNS's limit."""
    return f"[{environment}] {pipeline} {outcome}"[:SUBJECT_LIMIT]


def headline(pipeline: str, outcome: str, environment: str) -> str:
    """First line of the message: ``<pipeline> <phrase> in environment <env>.``"""
    return f"{pipeline} {OUTCOME_PHRASES[outcome]} in environment {environment}."


def console_url(execution_arn: str) -> str:
    """Console page of one Step Functions execution (the region is read from its ARN)."""
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 3 else ""
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def truncate_cause(cause: str) -> str:
    if len(cause) <= CAUSE_LIMIT:
        return cause
    return f"{cause[:CAUSE_LIMIT]}... ({len(cause)} characters; the console shows all of it)"


def render(
    *,
    pipeline: str,
    environment: str,
    outcome: str,
    summary: str,
    execution_arn: str,
    error: str | None = None,
    cause: str | None = None,
) -> Notification:
    """Subject and body of a notification, in the format above."""
    if outcome not in OUTCOME_PHRASES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOME_PHRASES)}")
    lines = [headline(pipeline, outcome, environment)]
    if summary:
        lines.append(summary)
    lines += [
        "",
        f"Pipeline: {pipeline}",
        f"Environment: {environment}",
        f"Outcome: {outcome}",
        f"Execution: {execution_arn}",
    ]
    if error is not None or cause is not None:
        lines += [f"Error: {error or '(none)'}", f"Cause: {truncate_cause(cause or '(none)')}"]
    lines.append(f"Console: {console_url(execution_arn)}")
    return Notification(subject(environment, pipeline, outcome), "\n".join(lines))


def alarm_console_url(region: str, alarm_name: str) -> str:
    """Console page of one CloudWatch alarm."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(alarm_name, safe='')}"
    )


def render_alarm(
    *,
    pipeline: str,
    environment: str,
    state: str,
    alarm_name: str,
    what: str,
    summary: str,
    since: str,
    reason: str,
    runbook: str | None,
    region: str,
) -> Notification:
    """Subject and body of an alarm state change (``state`` ALARM or OK), in the format above.

    ``what`` is the alarm's own part of its name (``backlog-too-old``), the subject's tail.
    """
    if state not in ("ALARM", "OK"):
        raise ValueError(f"alarm state {state!r}: only ALARM and OK are notified")
    lines = [headline(pipeline, state, environment)]
    if summary:
        lines.append(summary)
    if len(reason) > REASON_LIMIT:
        reason = f"{reason[:REASON_LIMIT]}... (the console shows all of it)"
    lines += [
        "",
        f"Pipeline: {pipeline}",
        f"Environment: {environment}",
        f"Outcome: {state}",
        f"Alarm: {alarm_name}",
        f"Since: {since}",
        f"Reason: {reason or '(none)'}",
        f"Runbook: {'README > Runbooks > ' + runbook if runbook else '(none named)'}",
        f"Console: {alarm_console_url(region, alarm_name)}",
    ]
    return Notification(subject(environment, pipeline, f"{state}: {what}"), "\n".join(lines))

"""Every alarm of the app, built one way: an action to the alert topic and a runbook to follow.

An alarm that wakes someone must say what to do. :func:`alarm` refuses to build one without a
description and an action, and ends every description with the README runbook section that
handles it (``Runbook: <section>``); the README has one section per :class:`Runbook` (a test
keeps the two in step).
"""

from __future__ import annotations

import re
from enum import Enum

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

#: CloudWatch's limit on an alarm description.
DESCRIPTION_LIMIT = 1024
#: How every description ends; :func:`runbook_of` reads it back (``python -m ops alarms``).
RUNBOOK_PREFIX = "Runbook: README > Runbooks > "
_RUNBOOK = re.compile(re.escape(RUNBOOK_PREFIX) + r"(?P<section>[^.]+)\.$")


class Runbook(Enum):
    """README sections under "Runbooks" (``### <value>``), one per kind of alarm."""

    WORKFLOW_FAILED = "Workflow executions failed"
    WORKFLOW_TIMED_OUT = "Workflow executions timed out"
    WORKFLOW_THROTTLED = "Workflow executions throttled"
    LAMBDA_ERRORS = "Lambda errors"
    EVALUATION_FAILED = "Evaluation (metrics) function failures"
    DEAD_LETTER = "Dead-letter queue not empty"
    BACKLOG = "Inference backlog too old"
    MODEL_ATTENTION = "Model needs attention"
    MODEL_IDLE = "Model running without work"
    LOW_CONFIDENCE = "Low-confidence ratio too high (drift)"
    ENDPOINT_5XX = "Endpoint 5XX errors"


def alarm(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    runbook: Runbook,
    action: cloudwatch.IAlarmAction,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = (
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    ),
    missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm that notifies ``action`` and tells the reader what to do."""
    if not description.strip():
        raise ValueError(f"alarm {construct_id}: say what happened and what to do")
    text = f"{description.strip()} {RUNBOOK_PREFIX}{runbook.value}."
    if len(text) > DESCRIPTION_LIMIT:
        raise ValueError(
            f"alarm {construct_id}: description has {len(text)} characters "
            f"(CloudWatch allows {DESCRIPTION_LIMIT})"
        )
    created = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=text,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=missing_data,
    )
    created.add_alarm_action(action)
    return created


def runbook_of(description: str) -> str | None:
    """The runbook section an alarm description names, or None (not one of ours)."""
    match = _RUNBOOK.search(description)
    return match["section"] if match else None

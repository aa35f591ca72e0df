"""Every alarm of the app, built one way: an action to the alert topic and a runbook to follow.

An alarm that wakes someone must say what to do. :func:`alarm` refuses to build one without a
description and an action, and ends every description with the README runbook section that
handles it (``stacks/runbooks.py``); the README has one section per :class:`Runbook` (a test
keeps the two in step).
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.runbooks import Runbook, runbook_line

#: CloudWatch's limit on an alarm description.
DESCRIPTION_LIMIT = 1024


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
    text = f"{description.strip()} {runbook_line(runbook)}"
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

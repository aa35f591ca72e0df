"""The notifier's other sources: alarm state changes, and failed runs the workflow already notified.

Events are the shapes AWS documents ("Alarm events and EventBridge": a metric alarm's and a
composite alarm's state change; GetExecutionHistory's HistoryEvent); the alert topic is moto's,
read back through a subscribed queue, so each test sees what a reader gets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.notification import alarm_console_url
from stacks.runbooks import Runbook, runbook_line
from tests.unit.test_execution_notifier import (
    ACCOUNT,
    CONTEXT,
    REGION,
    UNCAUGHT_FAILURE,
    history_event,
    status_change,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")

BACKLOG = "imgclf-dev-rekognition-inference-backlog-too-old"
DESCRIPTION = (
    "An image has waited over 15 minutes in the Rekognition inference queue: the model is not "
    "running. Check `python -m ops model status`. " + runbook_line(Runbook.BACKLOG)
)
REASON = (
    "Threshold Crossed: 1 out of the last 1 datapoints [1260.0 (21/11/26 03:00:00)] was greater "
    "than or equal to the threshold (900.0) (minimum 1 datapoint for OK -> ALARM transition)."
)


def alarm_change(
    state: str = "ALARM",
    previous: str = "OK",
    *,
    name: str = BACKLOG,
    description: str = DESCRIPTION,
    reason: str = REASON,
    reason_data: str | None = None,
    composite_rule: str | None = None,
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event as AWS documents it."""
    configuration: dict[str, Any] = {"description": description}
    if composite_rule is None:
        configuration["metrics"] = [
            {
                "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                "metricStat": {
                    "metric": {
                        "dimensions": {"QueueName": "imgclf-dev-images"},
                        "name": "ApproximateAgeOfOldestMessage",
                        "namespace": "AWS/SQS",
                    },
                    "period": 300,
                    "stat": "Maximum",
                },
                "returnData": True,
            }
        ]
    else:
        configuration["alarmRule"] = composite_rule
    data = reason_data or json.dumps(
        {"version": "1.0", "queryDate": "2026-11-21T03:02:07.000+0000"}
    )
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-11-21T03:02:07Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "configuration": configuration,
            "previousState": {
                "reason": "Threshold Crossed: no datapoints were received",
                "reasonData": data,
                "timestamp": "2026-11-21T02:40:07.112+0000",
                "value": previous,
            },
            "state": {
                "reason": reason,
                "reasonData": data,
                "timestamp": "2026-11-21T03:02:07.989+0000",
                "value": state,
            },
        },
    }


def test_an_alarm_reads_like_a_workflow_message(inbox):
    result = inbox.module.lambda_handler(alarm_change(), CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition inference ALARM: backlog-too-old"
    assert result == {"published": delivered["MessageId"], "subject": delivered["Subject"]}
    assert delivered["Message"].splitlines() == [
        "Rekognition inference raised an alarm in environment dev.",
        "An image has waited over 15 minutes in the Rekognition inference queue: the model is "
        "not running. Check `python -m ops model status`.",
        "",
        "Pipeline: Rekognition inference",
        "Environment: dev",
        "Outcome: ALARM",
        f"Alarm: {BACKLOG}",
        "Since: 2026-11-21T03:02:07Z (was OK)",
        f"Reason: {REASON}",
        "Runbook: README > Runbooks > Inference backlog too old",
        f"Console: {alarm_console_url(REGION, BACKLOG)}",
    ]
    assert alarm_console_url(REGION, BACKLOG) == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#alarmsV2:alarm/{BACKLOG}"
    )


def test_back_to_ok_after_alarm_is_notified(inbox):
    inbox.module.lambda_handler(
        alarm_change("OK", "ALARM", reason="Threshold Crossed: 1 datapoint [12.0] < 900.0"),
        CONTEXT,
    )

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition inference OK: backlog-too-old"
    lines = delivered["Message"].splitlines()
    assert lines[:2] == [
        "Rekognition inference is back to OK in environment dev.",
        f"Alarm {BACKLOG} has recovered.",
    ]
    assert "Outcome: OK" in lines
    assert "Since: 2026-11-21T03:02:07Z (was ALARM)" in lines


@pytest.mark.parametrize(
    ("state", "previous"),
    [("OK", "INSUFFICIENT_DATA"), ("INSUFFICIENT_DATA", "OK"), ("INSUFFICIENT_DATA", "ALARM")],
)
def test_changes_that_are_not_news_are_not_notified(inbox, state, previous):
    result = inbox.module.lambda_handler(alarm_change(state, previous), CONTEXT)

    assert "skipped" in result
    assert inbox.messages() == []


def test_a_composite_alarm_names_the_children_that_triggered_it(inbox):
    composite = "imgclf-dev-sagemaker-inference-failing"
    children = [
        "imgclf-dev-sagemaker-inference-endpoint-5xx",
        "imgclf-dev-sagemaker-inference-classify-function-errors",
    ]
    reason_data = json.dumps(
        {
            "triggeringAlarms": [
                {
                    "arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{child}",
                    "state": {"value": "ALARM", "timestamp": "2026-11-21T03:01:46.138+0000"},
                }
                for child in children
            ]
        }
    )
    event = alarm_change(
        name=composite,
        description="SageMaker inference is failing. " + runbook_line(Runbook.SAGEMAKER_FAILING),
        reason=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{children[0]} transitioned to ALARM",
        reason_data=reason_data,
        composite_rule=" OR ".join(f'ALARM("{child}")' for child in children),
    )
    inbox.module.lambda_handler(event, CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] SageMaker inference ALARM: failing"
    lines = delivered["Message"].splitlines()
    assert lines[1:3] == ["SageMaker inference is failing.", f"Triggered by: {', '.join(children)}"]
    assert "Runbook: README > Runbooks > SageMaker inference failing" in lines


def test_an_alarm_outside_the_naming_scheme_is_still_published(inbox):
    inbox.module.lambda_handler(alarm_change(name="hand-made-alarm", description="CPU"), CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Alarms ALARM: hand-made-alarm"
    lines = delivered["Message"].splitlines()
    assert "Runbook: (none named)" in lines
    assert any("does not start with imgclf-dev-<pipeline>-" in line for line in lines)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: e["detail"].pop("alarmName"), "detail.alarmName"),
        (lambda e: e["detail"].update(state="ALARM"), "detail.state must be an object"),
        (lambda e: e["detail"]["state"].pop("value"), "detail.state.value"),
        (lambda e: e.pop("detail"), "without a detail object"),
    ],
)
def test_malformed_alarm_events_raise_and_publish_nothing(inbox, change, fragment):
    event = alarm_change()
    change(event)
    with pytest.raises(inbox.module.MalformedAlarmEvent, match=fragment):
        inbox.module.lambda_handler(event, CONTEXT)
    assert inbox.messages() == []


# -- a failure the workflow already notified is not notified again -----------------------------

NOTIFIED = [
    history_event(12, "ExecutionFailed"),
    history_event(11, "FailStateEntered", "Failed"),
    history_event(10, "TaskStateExited"),
    history_event(9, "TaskSucceeded"),
    history_event(8, "TaskStarted"),
    history_event(7, "TaskScheduled"),
    history_event(6, "TaskStateEntered", "NotifyFailure"),
    history_event(5, "TaskFailed"),
    history_event(4, "TaskStarted"),
    history_event(3, "TaskScheduled"),
    history_event(2, "TaskStateEntered", "Train"),
    history_event(1, "ExecutionStarted"),
]
#: The notify step's publish failed and was caught: the run failed unreported.
NOTIFY_FAILED = [
    history_event(10, "ExecutionFailed"),
    history_event(9, "FailStateEntered", "Failed"),
    history_event(8, "TaskFailed"),
    history_event(7, "TaskStarted"),
    history_event(6, "TaskScheduled"),
    history_event(5, "TaskStateEntered", "NotifyFailure"),
    history_event(4, "TaskFailed"),
    history_event(3, "TaskScheduled"),
    history_event(2, "TaskStateEntered", "Train"),
    history_event(1, "ExecutionStarted"),
]


def replace_history(inbox, events: list[dict[str, Any]] | None) -> None:
    """The next history answer: ``events``, or an ExecutionDoesNotExist error (None)."""
    inbox.history.deactivate()
    inbox.history._queue.clear()  # the fixture's default answers
    inbox.history.activate()
    if events is None:
        inbox.history.add_client_error(
            "get_execution_history", "ExecutionDoesNotExist", "Execution Does Not Exist"
        )
    else:
        inbox.answer_history(events)


def test_a_failure_the_workflow_notified_is_not_notified_again(inbox):
    replace_history(inbox, NOTIFIED)
    result = inbox.module.lambda_handler(status_change("FAILED"), CONTEXT)

    assert result == {"skipped": "the workflow already notified this failure"}
    assert inbox.messages() == []
    inbox.history.assert_no_pending_responses()


def test_a_failure_whose_notification_failed_is_notified(inbox):
    replace_history(inbox, NOTIFY_FAILED)
    inbox.module.lambda_handler(status_change("FAILED"), CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition training FAILED"
    assert inbox.module.POSSIBLE_DUPLICATE not in delivered["Message"]


def test_a_failure_no_catch_reached_is_notified(inbox):
    replace_history(inbox, UNCAUGHT_FAILURE)
    inbox.module.lambda_handler(status_change("FAILED"), CONTEXT)

    assert inbox.only_message()["Subject"] == "[dev] Rekognition training FAILED"


def test_an_unreadable_history_notifies_and_says_it_may_repeat(inbox):
    replace_history(inbox, None)
    inbox.module.lambda_handler(status_change("FAILED"), CONTEXT)

    assert inbox.module.POSSIBLE_DUPLICATE in inbox.only_message()["Message"].splitlines()


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_timeouts_and_aborts_never_read_the_history(inbox, status):
    replace_history(inbox, NOTIFIED)
    inbox.module.lambda_handler(status_change(status, error=None, cause=None), CONTEXT)

    assert inbox.only_message()["Subject"] == f"[dev] Rekognition training {status}"
    with pytest.raises(AssertionError):
        inbox.history.assert_no_pending_responses()  # the NOTIFIED answer was never asked for

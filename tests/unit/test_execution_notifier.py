"""The execution notifier: one message per failed/timed-out/aborted execution, in the shared format.

A real (moto) SNS topic with an SQS queue subscribed to it (raw delivery off) receives what the
handler publishes, so each test reads back the exact subject and message a reader would get.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from shared.notification import CAUSE_LIMIT, render
from stacks.building_blocks.alarms import PIPELINES as ALARM_PIPELINES
from stacks.building_blocks.state_machine import FAILURE_NOTIFICATION_STATE
from stacks.runbooks import RUNBOOK_PREFIX

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:imgclf-dev-training"
PIPELINES = {STATE_MACHINE: "Rekognition training"}
START = datetime(2026, 11, 21, 2, 0, 0, tzinfo=UTC)
STOP = datetime(2026, 11, 21, 3, 2, 7, tzinfo=UTC)
CONTEXT = SimpleNamespace(
    function_name="execution-notifier",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:execution-notifier",
    aws_request_id="req-1",
)
# Invocations that raise flush no metrics; powertools warns about that, as it should.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def execution_arn(name: str = "run-1", state_machine: str = STATE_MACHINE) -> str:
    machine = state_machine.rsplit(":", 1)[-1]
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


def status_change(
    status: str = "FAILED",
    *,
    name: str = "run-1",
    state_machine: str = STATE_MACHINE,
    error: str | None = "States.TaskFailed",
    cause: str | None = "Training job failed: ClientError: out of capacity",
) -> dict[str, Any]:
    """An event as AWS documents it ("Step Functions Execution Status Change")."""
    arn = execution_arn(name, state_machine)
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-11-21T03:02:07Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": state_machine,
            "name": name,
            "status": status,
            "startDate": epoch_ms(START),
            "stopDate": epoch_ms(STOP),
            "input": '{"training_data": {}}',
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": error,
            "cause": cause,
        },
    }


def history_event(event_id: int, kind: str, state: str | None = None) -> dict[str, Any]:
    """One GetExecutionHistory event as the API documents it (HistoryEvent)."""
    event: dict[str, Any] = {
        "timestamp": STOP,
        "type": kind,
        "id": event_id,
        "previousEventId": event_id - 1,
    }
    if state is not None:
        event["stateEnteredEventDetails"] = {"name": state}
    return event


#: The end of a run that failed in a task no Catch handled (newest first): nobody notified.
UNCAUGHT_FAILURE = [
    history_event(9, "ExecutionFailed"),
    history_event(8, "TaskFailed"),
    history_event(7, "TaskStarted"),
    history_event(6, "TaskScheduled"),
    history_event(5, "TaskStateEntered", "Train"),
    history_event(4, "TaskStateExited"),
    history_event(3, "TaskSucceeded"),
    history_event(2, "TaskStateEntered", "Validate"),
    history_event(1, "ExecutionStarted"),
]


@dataclass
class Inbox:
    """The handler module and what its alert topic delivered."""

    module: ModuleType
    topic_arn: str
    sqs: Any
    queue_url: str
    history: Stubber

    def answer_history(self, events: list[dict[str, Any]]) -> None:
        """The next GetExecutionHistory call returns ``events`` (newest first)."""
        self.history.add_response("get_execution_history", {"events": events})

    def messages(self) -> list[dict[str, Any]]:
        """SNS envelopes (Subject, Message, MessageId) delivered so far."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(message["Body"]) for message in received]

    def only_message(self) -> dict[str, Any]:
        messages = self.messages()
        assert len(messages) == 1, messages
        return messages[0]


@pytest.fixture
def inbox(monkeypatch) -> Iterator[Inbox]:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="imgclf-dev-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        monkeypatch.setenv("ENVIRONMENT_NAME", "dev")
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("PIPELINES", json.dumps(PIPELINES))
        monkeypatch.setenv("FAILURE_NOTIFICATION_STATE", FAILURE_NOTIFICATION_STATE)
        monkeypatch.setenv("ALARM_NAME_PREFIX", "imgclf-dev-")
        monkeypatch.setenv("ALARM_PIPELINES", json.dumps(ALARM_PIPELINES))
        monkeypatch.setenv("RUNBOOK_PREFIX", RUNBOOK_PREFIX)
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "execution-notifier")
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
        from execution_notifier import handler as module

        module.settings.cache_clear()
        module.sns_client.cache_clear()
        states = boto3.client("stepfunctions", region_name=REGION)
        history = Stubber(states)
        history.activate()
        monkeypatch.setattr(module, "states_client", lambda: states)
        inbox = Inbox(module, topic_arn, sqs, queue_url, history)
        for _ in range(3):
            inbox.answer_history(UNCAUGHT_FAILURE)
        try:
            yield inbox
        finally:
            module.settings.cache_clear()
            module.sns_client.cache_clear()


def first_line(status: str, name: str = "run-1") -> str:
    return (
        f"Execution {name} ended with status {status} after 1 h 02 min "
        "(started 2026-11-21T02:00:00Z, stopped 2026-11-21T03:02:07Z)."
    )


def test_a_failed_execution_is_published_in_the_shared_format(inbox):
    event = status_change("FAILED")
    result = inbox.module.lambda_handler(event, CONTEXT)

    detail = event["detail"]
    expected = render(
        pipeline="Rekognition training",
        environment="dev",
        outcome="FAILED",
        summary=f"{first_line('FAILED')}\n{inbox.module.EXPLANATIONS['FAILED']}",
        execution_arn=detail["executionArn"],
        error=detail["error"],
        cause=detail["cause"],
    )
    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition training FAILED" == expected.subject
    assert delivered["Message"] == expected.message
    assert result == {"published": delivered["MessageId"], "subject": expected.subject}
    lines = delivered["Message"].splitlines()
    assert lines[0] == "Rekognition training failed in environment dev."
    assert "Error: States.TaskFailed" in lines
    assert "Cause: Training job failed: ClientError: out of capacity" in lines
    console = next(line for line in lines if line.startswith("Console: "))
    assert console.startswith(f"Console: https://{REGION}.console.aws.amazon.com/")
    assert f"region={REGION}" in console
    assert console.endswith(detail["executionArn"])


def test_a_timeout_without_error_is_reported_as_states_timeout(inbox):
    event = status_change("TIMED_OUT", error=None, cause=None)
    inbox.module.lambda_handler(event, CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition training TIMED_OUT"
    assert delivered["Message"] == (
        render(
            pipeline="Rekognition training",
            environment="dev",
            outcome="TIMED_OUT",
            summary=f"{first_line('TIMED_OUT')}\n{inbox.module.EXPLANATIONS['TIMED_OUT']}",
            execution_arn=event["detail"]["executionArn"],
            error="States.Timeout",
            cause=None,
        ).message
    )
    assert "Rekognition training timed out in environment dev." in delivered["Message"]
    assert "exceeded the state machine's timeout" in delivered["Message"]
    assert "Error: States.Timeout\nCause: (none)" in delivered["Message"]


def test_an_aborted_execution_says_someone_stopped_it(inbox):
    event = status_change("ABORTED", error=None, cause=None)
    inbox.module.lambda_handler(event, CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] Rekognition training ABORTED"
    assert delivered["Message"] == (
        render(
            pipeline="Rekognition training",
            environment="dev",
            outcome="ABORTED",
            summary=f"{first_line('ABORTED')}\n{inbox.module.EXPLANATIONS['ABORTED']}",
            execution_arn=event["detail"]["executionArn"],
        ).message
    )
    assert "Someone or something stopped it" in delivered["Message"]
    # No error or cause in the event: the message has no Error/Cause lines at all.
    assert "Error:" not in delivered["Message"]
    assert "Cause:" not in delivered["Message"]


def test_an_abort_with_a_reason_reports_it(inbox):
    event = status_change("ABORTED", error="Operator", cause="bad manifest, restarting")
    inbox.module.lambda_handler(event, CONTEXT)
    message = inbox.only_message()["Message"]
    assert "Error: Operator\nCause: bad manifest, restarting" in message


def test_a_long_cause_is_truncated(inbox):
    cause = "Traceback line\n" * 1000
    inbox.module.lambda_handler(status_change(cause=cause), CONTEXT)

    message = inbox.only_message()["Message"]
    assert f"Cause: {cause[:CAUSE_LIMIT]}... ({len(cause)} characters;" in message
    assert cause not in message
    assert len(message) < CAUSE_LIMIT + 2000


def test_an_unknown_state_machine_is_still_published_under_its_own_name(inbox, caplog):
    other = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:imgclf-dev-retired"
    event = status_change("FAILED", state_machine=other)
    result = inbox.module.lambda_handler(event, CONTEXT)

    delivered = inbox.only_message()
    assert delivered["Subject"] == "[dev] imgclf-dev-retired FAILED" == result["subject"]
    assert delivered["Message"].startswith("imgclf-dev-retired failed in environment dev.\n")
    assert (
        f"State machine {other} is not in this notifier's PIPELINES setting; the pipeline is "
        "named after the state machine."
    ) in delivered["Message"]
    assert f"Execution: {event['detail']['executionArn']}" in delivered["Message"]
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert [(w.getMessage(), w.state_machine) for w in warnings] == [
        ("state machine not in PIPELINES; publishing under its own name", other)
    ]


def test_missing_name_and_stop_date_still_read_well(inbox):
    event = status_change("FAILED")
    del event["detail"]["name"]
    event["detail"]["stopDate"] = None
    inbox.module.lambda_handler(event, CONTEXT)
    message = inbox.only_message()["Message"]
    assert "Execution run-1 ended with status FAILED (started 2026-11-21T02:00:00Z)." in message


def test_the_metric_is_emitted_once_per_notification(inbox, capsys):
    inbox.module.lambda_handler(status_change(), CONTEXT)
    emf = [
        record
        for record in map(json.loads, filter(None, capsys.readouterr().out.splitlines()))
        if "_aws" in record
    ]
    assert len(emf) == 1
    (directive,) = emf[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Test"
    assert directive["Metrics"] == [{"Name": "ExecutionNotificationsSent", "Unit": "Count"}]
    assert directive["Dimensions"] == [["service"]]
    assert emf[0]["ExecutionNotificationsSent"] == [1.0]


def without(event: dict[str, Any], field: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    del copy["detail"][field]
    return copy


def with_detail(**changes: Any) -> dict[str, Any]:
    event = status_change()
    event["detail"].update(changes)
    return event


@pytest.mark.parametrize(
    ("event", "error", "fragment"),
    [
        pytest.param(
            {**status_change(), "source": "aws.s3"},
            "NotAStatusChangeEvent",
            "got source 'aws.s3'",
            id="wrong-source",
        ),
        pytest.param(
            {**status_change(), "detail-type": "Step Functions State Machine Status Change"},
            "NotAStatusChangeEvent",
            "detail-type 'Step Functions State Machine Status Change'",
            id="wrong-detail-type",
        ),
        pytest.param(
            {k: v for k, v in status_change().items() if k != "detail"},
            "MalformedEvent",
            "without a detail object",
            id="missing-detail",
        ),
        pytest.param(
            without(status_change(), "executionArn"),
            "MalformedEvent",
            "without detail.executionArn",
            id="missing-execution-arn",
        ),
        pytest.param(
            without(status_change(), "stateMachineArn"),
            "MalformedEvent",
            "without detail.stateMachineArn",
            id="missing-state-machine-arn",
        ),
        pytest.param(
            without(status_change(), "status"),
            "MalformedEvent",
            "without detail.status",
            id="missing-status",
        ),
        pytest.param(
            status_change("SUCCEEDED"),
            "UnreportedStatus",
            "status 'SUCCEEDED' of arn:aws:states:",
            id="succeeded",
        ),
        pytest.param(
            status_change("RUNNING"), "UnreportedStatus", "status 'RUNNING'", id="running"
        ),
        pytest.param(
            with_detail(executionArn="run-1"),
            "MalformedEvent",
            "not an execution ARN: 'run-1'",
            id="execution-arn-not-an-arn",
        ),
        pytest.param(
            with_detail(stateMachineArn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"),
            "MalformedEvent",
            "not a state machine ARN",
            id="state-machine-arn-of-a-function",
        ),
        pytest.param(
            with_detail(startDate="2026-11-21T02:00:00Z"),
            "MalformedEvent",
            "detail.startDate must be epoch milliseconds",
            id="start-date-text",
        ),
        pytest.param(
            with_detail(error=42), "MalformedEvent", "detail.error must be a string", id="error"
        ),
        pytest.param(["not", "an", "object"], "MalformedEvent", "got list", id="list-event"),
        pytest.param("FAILED", "MalformedEvent", "got str", id="string-event"),
        pytest.param(None, "MalformedEvent", "got NoneType", id="null-event"),
    ],
)
def test_malformed_events_raise_and_publish_nothing(inbox, event, error, fragment):
    module = inbox.module
    with pytest.raises(getattr(module, error), match=fragment.replace("(", r"\(")) as raised:
        module.lambda_handler(event, CONTEXT)
    assert isinstance(raised.value, module.UnexpectedEvent)
    assert inbox.messages() == []


@pytest.mark.parametrize(
    "variable", ["ENVIRONMENT_NAME", "ALERT_TOPIC_ARN", "PIPELINES", "POWERTOOLS_METRICS_NAMESPACE"]
)
def test_a_missing_setting_is_named(inbox, monkeypatch, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(inbox.module.ConfigurationError, match=f"missing .*{variable}"):
        inbox.module.lambda_handler(status_change(), CONTEXT)
    assert inbox.messages() == []


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("PIPELINES", "{not json", "PIPELINES is not valid JSON"),
        ("PIPELINES", json.dumps([STATE_MACHINE]), "PIPELINES must be a JSON object .* got list"),
        ("PIPELINES", json.dumps({STATE_MACHINE: 3}), "PIPELINES must map"),
        ("PIPELINES", json.dumps({STATE_MACHINE: ""}), "PIPELINES must map"),
        ("PIPELINES", json.dumps({STATE_MACHINE: "Entraînement"}), "printable ASCII"),
        ("ALERT_TOPIC_ARN", "alerts", "ALERT_TOPIC_ARN must be an SNS topic ARN"),
        ("ENVIRONMENT_NAME", "dev\nprod", "ENVIRONMENT_NAME must be printable ASCII"),
    ],
)
def test_an_invalid_setting_is_named(inbox, monkeypatch, variable, value, fragment):
    monkeypatch.setenv(variable, value)
    with pytest.raises(inbox.module.ConfigurationError, match=fragment):
        inbox.module.lambda_handler(status_change(), CONTEXT)
    assert inbox.messages() == []


def test_settings_are_validated_once_per_execution_environment(inbox, monkeypatch):
    inbox.module.lambda_handler(status_change(name="first"), CONTEXT)
    monkeypatch.delenv("PIPELINES")
    inbox.module.lambda_handler(status_change(name="second"), CONTEXT)
    assert [m["Subject"] for m in inbox.messages()] == ["[dev] Rekognition training FAILED"] * 2


def test_publish_errors_propagate_for_lambda_to_retry(inbox, monkeypatch, capsys):
    monkeypatch.setenv("ALERT_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic")
    with pytest.raises(ClientError):
        inbox.module.lambda_handler(status_change(), CONTEXT)
    assert "ExecutionNotificationsSent" not in capsys.readouterr().out
    assert inbox.messages() == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45.9, "45 s"),
        (725, "12 min 05 s"),
        (3727, "1 h 02 min"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 04 h"),
    ],
)
def test_durations_read_naturally(inbox, seconds, text):
    assert inbox.module.format_duration(seconds) == text

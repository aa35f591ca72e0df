"""The training trigger: one run at a time, idempotent per event, clear errors on odd events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"
BUCKET = "imgclf-dev-data-123456789012-eu-west-1"
DEFINITION = json.dumps(
    {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
)
CONTEXT = SimpleNamespace(
    function_name="trigger",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:trigger",
    aws_request_id="req-1",
)


def object_created(key: str, event_id: str = "evt-1", bucket: str = BUCKET) -> dict:
    return {
        "id": event_id,
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


@pytest.fixture
def trigger(monkeypatch) -> Iterator[tuple]:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name="training",
            definition=DEFINITION,
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        monkeypatch.setenv("DATA_BUCKET", BUCKET)
        monkeypatch.setenv("SCHEDULED_MANIFEST_KEY", "manifests/weekly.manifest")
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        from rekognition_training import trigger as module

        monkeypatch.setattr(module, "sfn", sfn)
        yield module, sfn, arn


def test_a_new_manifest_starts_training_on_it(trigger):
    module, sfn, _ = trigger
    result = module.lambda_handler(object_created("manifests/new.manifest"), CONTEXT)
    assert result["started"] is True
    execution = sfn.describe_execution(executionArn=result["execution_arn"])
    assert execution["name"] == "trigger-evt-1"
    assert json.loads(execution["input"]) == {
        "training_data": {"manifest_s3_uri": f"s3://{BUCKET}/manifests/new.manifest"},
        "test_data": {"auto_split": True},
    }


def test_no_second_run_while_one_is_running(trigger):
    module, sfn, arn = trigger
    first = module.lambda_handler(object_created("manifests/a.manifest", "evt-a"), CONTEXT)
    second = module.lambda_handler(object_created("manifests/b.manifest", "evt-b"), CONTEXT)
    assert first["started"] is True
    assert second == {"started": False, "running": first["execution_arn"]}
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_schedule_trains_on_the_configured_manifest(trigger):
    module, sfn, _ = trigger
    event = {"id": "sched-1", "detail-type": "Scheduled Event", "source": "aws.events"}
    result = module.lambda_handler(event, CONTEXT)
    execution = sfn.describe_execution(executionArn=result["execution_arn"])
    assert json.loads(execution["input"])["training_data"]["manifest_s3_uri"] == (
        f"s3://{BUCKET}/manifests/weekly.manifest"
    )


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (object_created("x.manifest", bucket="someone-else"), "not the data bucket"),
        ({"id": "1", "detail-type": "Object Deleted"}, "unexpected event type"),
        ({"id": "1", "detail-type": "Object Created", "detail": {}}, "not the data bucket"),
    ],
)
def test_unexpected_events_fail_loudly_and_go_to_the_dlq(trigger, event, fragment):
    module, sfn, arn = trigger
    with pytest.raises(module.UnexpectedEvent, match=fragment):
        module.lambda_handler(event, CONTEXT)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [("abc", "trigger-abc"), ("a:b/c", "trigger-a-b-c"), ("x" * 100, "trigger-" + "x" * 72)],
)
def test_execution_names_are_valid_step_functions_names(trigger, event_id, expected):
    module, _, _ = trigger
    assert module.execution_name(event_id) == expected


def test_a_running_execution_on_a_later_page_still_prevents_a_second_run(monkeypatch):
    """ListExecutions may answer an empty page with a nextToken: every page is read."""
    from botocore.stub import Stubber

    from rekognition_training import trigger as module

    arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:training"
    running = f"{arn.replace(':stateMachine:', ':execution:')}:nightly"
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    sfn = boto3.client(
        "stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(module, "sfn", sfn)
    request = {"stateMachineArn": arn, "statusFilter": "RUNNING"}
    execution = {
        "executionArn": running,
        "stateMachineArn": arn,
        "name": "nightly",
        "status": "RUNNING",
        "startDate": "2026-11-20T00:00:00Z",
    }
    with Stubber(sfn) as stubber:
        stubber.add_response("list_executions", {"executions": [], "nextToken": "t1"}, request)
        stubber.add_response(
            "list_executions", {"executions": [execution]}, {**request, "nextToken": "t1"}
        )

        result = module.lambda_handler(object_created("manifests/c.manifest", "evt-c"), CONTEXT)

        stubber.assert_no_pending_responses()
    assert result == {"started": False, "running": running}

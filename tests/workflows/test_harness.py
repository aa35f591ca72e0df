"""The local runner itself: a guarded Lambda task and the notify-then-fail path, end to end."""

from __future__ import annotations

import sys

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from moto import mock_aws

from shared.notification import render
from tests.infra.conftest import make_app
from tests.infra.test_components import Blocks
from tests.workflows.harness import MOTO_CONFIG, LocalWorkflow

HANDLER = """
class InvalidInput(Exception):
    pass


def lambda_handler(event, context):
    if event.get("fail"):
        raise InvalidInput("field 'x' is required")
    return {"doubled": event["x"] * 2}
"""


@pytest.fixture(scope="module")
def blocks_template(cdk_context, tmp_path_factory) -> dict:
    source = tmp_path_factory.mktemp("harness_src")
    (source / "sample").mkdir()
    (source / "sample" / "handler.py").write_text(HANDLER)
    sys.path.insert(0, str(source))
    stack = Stack(make_app(cdk_context), "Blocks")
    Blocks(stack, source)
    yield Template.from_stack(stack).to_json()
    sys.path.remove(str(source))
    sys.modules.pop("sample.handler", None)
    sys.modules.pop("sample", None)


def machine_id(template: dict) -> str:
    (logical_id,) = [
        key
        for key, value in template["Resources"].items()
        if value["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return logical_id


@mock_aws(config=MOTO_CONFIG)
def test_real_handler_runs_and_its_result_flows_on(blocks_template):
    workflow = LocalWorkflow({"Blocks": blocks_template}, "Blocks", machine_id(blocks_template))
    run = workflow.run({"x": 21}, name="happy")
    assert run.status == "SUCCEEDED"
    assert run.output == {"doubled": 42}
    assert run.entered == ["Invoke", "Done"]
    assert run.published() == []


@mock_aws(config=MOTO_CONFIG)
def test_handler_error_is_notified_then_fails_with_the_original_error(blocks_template):
    workflow = LocalWorkflow({"Blocks": blocks_template}, "Blocks", machine_id(blocks_template))
    run = workflow.run({"fail": True}, name="sad")
    assert run.status == "FAILED"
    assert run.error == "InvalidInput"
    assert "field 'x' is required" in run.cause
    assert run.entered == ["Invoke", "NotifyFailure", "Failed"]
    (notification,) = run.published()
    # Word for word the format the execution-status notifier writes (shared.notification).
    expected = render(
        pipeline="Test pipeline",
        environment="test",
        outcome="FAILED",
        summary="",
        execution_arn=run.execution_arn,
        error=run.error,
        cause=run.cause,
    )
    assert notification["subject"] == expected.subject
    assert notification["Message"] == expected.message
    # InvalidInput is not transient: no retry happened.
    assert run.retry_sleeps == []

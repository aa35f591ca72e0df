"""No duplicates: the execution-status notifier stays silent about a failure the workflow notified.

The deployed SageMaker training definition runs locally (moto) down its failure path; the
notifier's handler then gets the "Step Functions Execution Status Change" event of that very
execution and reads the execution's real history from moto, as it does in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from stacks.building_blocks.alarms import PIPELINES as ALARM_PIPELINES
from stacks.building_blocks.state_machine import FAILURE_NOTIFICATION_STATE
from stacks.runbooks import RUNBOOK_PREFIX
from tests.workflows.harness import ACCOUNT, REGION, WorkflowRun
from tests.workflows.moto_extensions.execution_history import history_paging_patch
from tests.workflows.test_sagemaker_training import SageMaker

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
CONTEXT = SimpleNamespace(
    function_name="execution-notifier",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:execution-notifier",
    aws_request_id="req-1",
)


@pytest.fixture
def notifier(monkeypatch, sagemaker: SageMaker) -> Iterator[tuple[ModuleType, list[Any]]]:
    """The notifier's handler inside the workflow's moto account; what it published."""
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="notifier-inbox")["TopicArn"]
    monkeypatch.setenv("ENVIRONMENT_NAME", "dev")
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    monkeypatch.setenv("PIPELINES", json.dumps({sagemaker.workflow.arn: "SageMaker training"}))
    monkeypatch.setenv("FAILURE_NOTIFICATION_STATE", FAILURE_NOTIFICATION_STATE)
    monkeypatch.setenv("ALARM_NAME_PREFIX", "imgclf-dev-")
    monkeypatch.setenv("ALARM_PIPELINES", json.dumps(ALARM_PIPELINES))
    monkeypatch.setenv("RUNBOOK_PREFIX", RUNBOOK_PREFIX)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "execution-notifier")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    from execution_notifier import handler as module

    for cached in (module.settings, module.sns_client, module.states_client):
        cached.cache_clear()
    published: list[Any] = []
    client = module.sns_client()
    original = client.publish

    def publish(**kwargs: Any) -> Any:
        published.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(client, "publish", publish)
    with history_paging_patch():
        yield module, published
    for cached in (module.settings, module.sns_client, module.states_client):
        cached.cache_clear()


def status_event(run: WorkflowRun, state_machine_arn: str) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when ``run`` ends (AWS's documented shape)."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-11-21T03:02:07Z",
        "region": REGION,
        "resources": [run.execution_arn],
        "detail": {
            "executionArn": run.execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": run.execution_arn.rsplit(":", 1)[-1],
            "status": run.status,
            "startDate": 1795660800000,
            "stopDate": 1795664527000,
            "input": "{}",
            "output": None,
            "error": run.error,
            "cause": run.cause,
        },
    }


def test_a_failure_the_workflow_notified_is_not_notified_again(sagemaker, notifier):
    module, published = notifier
    sagemaker.training_statuses = ["InProgress", "Failed"]
    run = sagemaker.workflow.run({}, name="job-failed")
    assert run.entered[-2:] == [FAILURE_NOTIFICATION_STATE, "Failed"]
    assert len(run.published()) == 1  # the workflow's own message

    result = module.lambda_handler(status_event(run, sagemaker.workflow.arn), CONTEXT)

    assert result == {"skipped": "the workflow already notified this failure"}
    assert published == []


def test_a_failure_whose_own_notification_failed_is_notified(sagemaker, notifier):
    module, published = notifier
    sns = boto3.client("sns", region_name=REGION)
    for topic in sns.list_topics()["Topics"]:
        if not topic["TopicArn"].endswith(":notifier-inbox"):
            sns.delete_topic(TopicArn=topic["TopicArn"])  # the workflow's publish now fails
    sagemaker.training_statuses = ["InProgress", "Failed"]
    run = sagemaker.workflow.run({}, name="job-failed-unreported")
    assert run.status == "FAILED"
    assert run.entered[-2:] == [FAILURE_NOTIFICATION_STATE, "Failed"]
    assert run.error == "States.TaskFailed"  # the original error, not the publish's

    module.lambda_handler(status_event(run, sagemaker.workflow.arn), CONTEXT)

    (message,) = published
    assert message["Subject"] == "[dev] SageMaker training FAILED"
    assert "No train_lst channel data found" in message["Message"]
    assert module.POSSIBLE_DUPLICATE not in message["Message"]

"""``python -m ops alarms`` against moto's CloudWatch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from moto import mock_aws

from ops import alarms as alarm_command
from ops import common
from ops.cli import main
from ops.common import stack_name
from stacks.config import load_all
from stacks.environment import build_environment
from stacks.runbooks import RUNBOOK_PREFIX, Runbook
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app

FIRING = "imgclf-dev-rekognition-training-runs-failed"
QUIET = "imgclf-dev-rekognition-inference-backlog-too-old"
OTHER_ENVIRONMENT = "imgclf-dev2-rekognition-training-runs-failed"
NOT_OURS = "billing-alarm"


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps table cells to the terminal width
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def put_alarm(cloudwatch: Any, name: str, runbook: Runbook | None) -> None:
    description = "Something happened; do this." + (
        f" {RUNBOOK_PREFIX}{runbook.value}." if runbook else ""
    )
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=description,
        Namespace="AWS/States",
        MetricName="ExecutionsFailed",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


@pytest.fixture
def alarms(cloudwatch: Any) -> Any:
    put_alarm(cloudwatch, FIRING, Runbook.WORKFLOW_FAILED)
    put_alarm(cloudwatch, QUIET, Runbook.BACKLOG)
    put_alarm(cloudwatch, OTHER_ENVIRONMENT, Runbook.WORKFLOW_FAILED)
    put_alarm(cloudwatch, NOT_OURS, None)
    cloudwatch.set_alarm_state(
        AlarmName=FIRING, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint [2.0]"
    )
    cloudwatch.set_alarm_state(AlarmName=QUIET, StateValue="OK", StateReason="all quiet")
    for name in (OTHER_ENVIRONMENT, NOT_OURS):
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="elsewhere")
    return cloudwatch


def test_firing_alarms_are_listed_with_their_runbook_and_exit_1(
    alarms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alarms", "--env", "dev"]) == 1

    out = capsys.readouterr().out
    assert "rekognition-training-runs-failed" in out
    assert Runbook.WORKFLOW_FAILED.value in out
    assert "Threshold Crossed: 1 datapoint [2.0]" in out
    assert "backlog-too-old" not in out  # OK: only with --all
    assert "elsewhere" not in out  # another environment's, and not ours at all
    assert "1 of 2 alarms of dev in ALARM" in out
    assert "#dashboards/dashboard/imgclf-dev-operations" in out


def test_all_shows_ok_alarms_too(alarms: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main(["alarms", "--env", "dev", "--all"])

    out = capsys.readouterr().out
    assert "rekognition-inference-backlog-too-old" in out
    assert Runbook.BACKLOG.value in out
    assert out.index("runs-failed") < out.index("backlog-too-old")  # ALARM first


def test_nothing_firing_exits_0(cloudwatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put_alarm(cloudwatch, QUIET, Runbook.BACKLOG)
    cloudwatch.set_alarm_state(AlarmName=QUIET, StateValue="OK", StateReason="all quiet")

    assert main(["alarms", "--env", "dev"]) == 0
    assert "0 of 1 alarms of dev in ALARM" in capsys.readouterr().out


def test_no_alarms_at_all_says_the_stacks_may_not_be_deployed(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alarms", "--env", "dev"]) == 0
    assert "are its stacks deployed" in capsys.readouterr().out


def test_aws_errors_are_one_line_errors(
    cloudwatch: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(common, "client_factory", lambda service, region: _failing_client())

    assert main(["alarms", "--env", "dev"]) == 3
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("error: no AWS credentials: set AWS_PROFILE")


def _failing_client() -> Any:
    class Client:
        def get_paginator(self, name: str) -> Any:
            raise NoCredentialsError()

    return Client()


def test_unknown_environment_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "nosuchenv" not in ENVIRONMENTS
    assert main(["alarms", "--env", "nosuchenv"]) == 2
    assert "nosuchenv" in capsys.readouterr().err


def test_concerns_are_every_stack_of_an_environment(cdk_context: dict[str, Any]) -> None:
    app = make_app(cdk_context)
    for config in load_all(cdk_context):
        names = [stack.stack_name for stack in build_environment(app, config).all()]
        concerns = alarm_command.concerns(config)
        assert sorted(stack_name(config, concern) for concern in concerns) == sorted(names)


def test_alarms_on_a_later_page_are_listed() -> None:
    """DescribeAlarms pages its answer (NextToken): every page of every stack is read."""
    from botocore.stub import Stubber

    cloudwatch = boto3.client(
        "cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stack = "imgclf-dev"
    request = {"AlarmNamePrefix": f"{stack}-", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}

    def alarm(name: str, state: str) -> dict[str, Any]:
        return {"AlarmName": f"{stack}-{name}", "StateValue": state, "StateReason": "r"}

    with Stubber(cloudwatch) as stubber:
        stubber.add_response(
            "describe_alarms", {"MetricAlarms": [alarm("A", "OK")], "NextToken": "t1"}, request
        )
        stubber.add_response(
            "describe_alarms",
            {"MetricAlarms": [alarm("B", "ALARM")]},
            {**request, "NextToken": "t1"},
        )

        found = alarm_command.list_alarms(cloudwatch, [stack])

        stubber.assert_no_pending_responses()
    assert [(a.name, a.state) for a in found] == [(f"{stack}-B", "ALARM"), (f"{stack}-A", "OK")]

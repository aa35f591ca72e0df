"""``python -m ops status``: the deployed overview in the terminal, exit 1 on ALARM.

CloudWatch is scripted with botocore's Stubber (moto has no composite alarms and no metric math):
every request is checked against the service model, every answer is a documented response
shape. The dashboard body is dev's synthesized overview, its references resolved to names.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from ops import status
from ops.cli import main
from stacks.config import load_environment
from stacks.environment import build_environment
from stacks.runbooks import Runbook, runbook_line
from tests.infra.conftest import make_app

REGION = "eu-west-1"
SINCE = datetime(2026, 11, 21, 3, 2, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def overview_body(cdk_context: dict[str, Any]) -> str:
    """dev's overview dashboard as CloudWatch stores it (references resolved to plain names)."""
    stacks = build_environment(make_app(cdk_context), load_environment(cdk_context, "dev"))
    template = Template.from_stack(stacks.monitoring).to_json()
    (dashboard,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
        and r["Properties"]["DashboardName"] == "imgclf-dev-overview"
    ]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    resolved = []
    for index, part in enumerate(parts):
        if isinstance(part, str):
            resolved.append(part)
        elif part == {"Ref": "AWS::Region"}:
            resolved.append(REGION)
        else:
            resolved.append(f"arn:aws:lambda:{REGION}:123456789012:function:resolved-{index}")
    return "".join(resolved)


def client(service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def alarm(name: str, state: str, runbook: Runbook) -> dict[str, Any]:
    return {
        "AlarmName": f"imgclf-dev-{name}",
        "AlarmDescription": f"Something happened; do this. {runbook_line(runbook)}",
        "StateValue": state,
        "StateReason": "Threshold Crossed",
        "StateUpdatedTimestamp": SINCE,
    }


@pytest.fixture
def scripted(monkeypatch, overview_body) -> Iterator[dict[str, Stubber]]:
    monkeypatch.setenv("COLUMNS", "250")
    clients = {name: client(name) for name in ("cloudwatch", "lambda", "sagemaker")}
    stubbers = {name: Stubber(c) for name, c in clients.items()}
    monkeypatch.setattr(status, "aws_client", lambda service, region: clients[service])
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.deactivate()


def script_overview(stubbers: dict[str, Stubber], body: str, alarms_pages: list[Any]) -> None:
    cloudwatch = stubbers["cloudwatch"]
    request = {"AlarmNamePrefix": "imgclf-dev-", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    for index, page in enumerate(alarms_pages):
        answer = dict(page)
        if index + 1 < len(alarms_pages):
            answer["NextToken"] = f"page-{index + 1}"
        expected = {**request, **({"NextToken": f"page-{index}"} if index else {})}
        cloudwatch.add_response("describe_alarms", answer, expected)
    cloudwatch.add_response(
        "get_dashboard",
        {"DashboardArn": "arn", "DashboardBody": body, "DashboardName": "imgclf-dev-overview"},
        {"DashboardName": "imgclf-dev-overview"},
    )
    for widget in json.loads(body)["widgets"]:
        if widget["type"] != "metric":
            continue
        queries = status.metric_queries(widget["properties"], 300)
        results = [
            {
                "Id": q["Id"],
                "Label": q.get("Label", q["Id"]),
                "Values": [7.0, 1.0],
                "Timestamps": [SINCE, SINCE],
                "StatusCode": "Complete",
            }
            for q in queries
            if q["ReturnData"]
        ]
        cloudwatch.add_response(
            "get_metric_data",
            {"MetricDataResults": results},
            {
                "MetricDataQueries": ANY,
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )
    html = '<style>.x{}</style><p class="ew-line">Version <strong>v-7</strong>: PASSED</p>'
    payload = json.dumps(html).encode()
    stubbers["lambda"].add_response(
        "invoke",
        {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))},
        {"FunctionName": ANY, "Payload": ANY},
    )
    stubbers["sagemaker"].add_response(
        "describe_endpoint",
        {
            "EndpointName": "imgclf-dev-classifier",
            "EndpointArn": (
                f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/imgclf-dev-classifier"
            ),
            "EndpointConfigName": "imgclf-dev-ic-0123",
            "EndpointStatus": "InService",
            "CreationTime": SINCE,
            "LastModifiedTime": SINCE,
            "ProductionVariants": [
                {"VariantName": "AllTraffic", "CurrentInstanceCount": 2, "DesiredInstanceCount": 2}
            ],
        },
        {"EndpointName": "imgclf-dev-classifier"},
    )


def test_status_shows_alarms_numbers_verdict_and_endpoint_and_exits_1_on_alarm(
    scripted, overview_body, capsys
):
    pages = [
        {"MetricAlarms": [alarm("rekognition-inference-backlog-too-old", "OK", Runbook.BACKLOG)]},
        {
            "MetricAlarms": [],
            "CompositeAlarms": [
                alarm("sagemaker-inference-failing", "ALARM", Runbook.SAGEMAKER_FAILING)
            ],
        },
    ]
    script_overview(scripted, overview_body, pages)

    assert main(["status", "--env", "dev"]) == 1

    out = capsys.readouterr().out
    for stubber in scripted.values():
        stubber.assert_no_pending_responses()
    assert "dev: 1 of 2 alarms in ALARM" in out
    assert "sagemaker-inference-failing (composite)" in out
    assert Runbook.SAGEMAKER_FAILING.value in out
    assert "backlog-too-old" not in out  # OK alarms are counted, not listed
    assert "Rekognition backlog" in out
    assert "images waiting: 7" in out  # the newest value of each number
    assert "Last evaluation: Version v-7: PASSED" in out
    assert "SageMaker endpoint: imgclf-dev-classifier InService, 2 instances" in out


def test_nothing_in_alarm_exits_0(scripted, overview_body, capsys):
    pages = [
        {"MetricAlarms": [alarm("sagemaker-training-runs-failed", "OK", Runbook.WORKFLOW_FAILED)]}
    ]
    script_overview(scripted, overview_body, pages)

    assert main(["status", "--env", "dev", "--hours", "6"]) == 0
    assert "dev: 0 of 1 alarms in ALARM (numbers over the last 6 h)" in capsys.readouterr().out


def test_a_missing_overview_is_a_one_line_environment_error(scripted, capsys):
    cloudwatch = scripted["cloudwatch"]
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": []})
    cloudwatch.add_client_error(
        "get_dashboard", "ResourceNotFound", "Dashboard does not exist", 404
    )

    assert main(["status", "--env", "dev"]) == 3
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "the overview dashboard imgclf-dev-overview does not exist" in error


def test_throttling_is_a_one_line_environment_error(scripted, capsys):
    scripted["cloudwatch"].add_client_error("describe_alarms", "Throttling", "Rate exceeded", 400)

    assert main(["status", "--env", "dev"]) == 3
    assert "Rate exceeded" in capsys.readouterr().err


def test_range_widgets_ask_for_one_period_over_the_whole_range(overview_body):
    widgets = [w for w in json.loads(overview_body)["widgets"] if w["type"] == "metric"]
    whole = [w for w in widgets if w["properties"].get("setPeriodToTimeRange")]
    assert whole  # runs and costs are counted over the range
    queries = status.metric_queries(whole[0]["properties"], 24 * 3600)
    assert {q["MetricStat"]["Period"] for q in queries if "MetricStat" in q} == {86400}
    assert any("Expression" in q and q["ReturnData"] for q in queries)
    assert all(not q["ReturnData"] for q in queries if "MetricStat" in q)


@pytest.mark.parametrize("hours", ["0", "337", "x"])
def test_bad_hours_are_usage_errors(hours, capsys):
    assert main(["status", "--env", "dev", "--hours", hours]) == 2
    assert "--hours" in capsys.readouterr().err

"""What the ``ops train`` tests share: the account's stand-ins, scripted services, helpers."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import common
from ops.cli import main

REGION = "us-east-1"


ACCOUNT = "123456789012"


DATA, ARTIFACTS = "imgclf-dev-data-test", "imgclf-dev-artifacts-test"


PROJECT = "imgclf-dev-image-classifier"  # dev's project: <prefix>-<env>-<project_name>


PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/1700000000000"


LABELS = ("circle", "square", "triangle")


GATE = {"metric": "f1_score", "value": 0.93, "threshold": 0.85, "gap": 0.08, "passed": True}


REJECTED_GATE = {
    "metric": "f1_macro",
    "value": 0.71,
    "threshold": 0.9,
    "gap": -0.19,
    "passed": False,
    "reasons": ["f1_macro 0.7100 is below the threshold 0.9000"],
}


def version_arn(name: str) -> str:
    return f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/version/{name}/1700000001"


def _outcome(outcome: str, gate: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "project_version_arn": version_arn("v"),
        "gate": gate,
        "metrics": {gate["metric"]: gate["value"]},
        "report_uri": f"s3://{ARTIFACTS}/reports/{PROJECT}/v/report.html",
    }


#: Stand-in for the training workflow: state names, outputs and error names like the real one;
#: ``$.simulate`` picks the ending (a request without it is simply accepted).
STAND_IN = {
    "StartAt": "ValidateInput",
    "States": {
        "ValidateInput": {"Type": "Pass", "Next": "Simulate?"},
        "Simulate?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.simulate", "IsPresent": False, "Next": "Accepted"},
                {"Variable": "$.simulate", "StringEquals": "deployed", "Next": "WaitTraining"},
                {"Variable": "$.simulate", "StringEquals": "rejected", "Next": "RejectedOutcome"},
            ],
            "Default": "TrainingFailed",
        },
        "Accepted": {"Type": "Succeed"},
        "WaitTraining": {"Type": "Wait", "Seconds": 0, "Next": "DeployedOutcome"},
        "DeployedOutcome": {
            "Type": "Pass",
            "Result": _outcome("DEPLOYED", GATE),
            "Next": "Deployed",
        },
        "Deployed": {"Type": "Succeed"},
        "RejectedOutcome": {
            "Type": "Pass",
            "Result": _outcome("REJECTED", REJECTED_GATE),
            "Next": "ModelRejected",
        },
        "ModelRejected": {"Type": "Succeed"},
        "TrainingFailed": {
            "Type": "Fail",
            "Error": "TrainingFailed",
            "Cause": "Version v ended in TRAINING_FAILED: The manifest file contains no labels",
        },
    },
}


@dataclass
class Aws:
    s3: Any
    stepfunctions: Any
    cloudformation: Any
    state_machine: str

    def run(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Start the stand-in and wait (bounded) until moto has executed it."""
        arn = self.stepfunctions.start_execution(
            stateMachineArn=self.state_machine, name=name, input=json.dumps(request)
        )["executionArn"]
        for _ in range(1000):
            description: dict[str, Any] = self.stepfunctions.describe_execution(executionArn=arn)
            if description["status"] != "RUNNING":
                return description
            time.sleep(0.01)
        raise AssertionError(f"the stand-in execution {name} did not finish")

    def executions(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.stepfunctions.list_executions(
            stateMachineArn=self.state_machine
        )["executions"]
        return listed


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def run(*arguments: str) -> int:
    """``python -m ops ARGUMENTS``: the exit code."""
    return main(list(arguments))


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "expected an error message"
    assert all(line.startswith("error: ") for line in lines), lines
    return lines


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = error_lines(capsys)
    assert len(lines) == 1, lines
    return lines[0]


def replace_client(monkeypatch: pytest.MonkeyPatch, service: str, replacement: Any) -> None:
    real = common.client_factory

    def client(name: str, region: str | None) -> Any:
        return replacement if name == service else real(name, region)

    monkeypatch.setattr(common, "client_factory", client)


# --- train watch (scripted history: paging, retries, deadline, Ctrl-C) -------------------------

EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:training:nightly-7"


STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:training"


T0 = datetime(2026, 11, 20, 22, 0, 0, tzinfo=UTC)


SCRIPTED_DEFINITION = {
    "StartAt": "CreateVersion",
    "States": {
        "CreateVersion": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:rekognition:createProjectVersion",
            "Next": "Training",
        },
        "Training": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "WaitTraining",
                "States": {"WaitTraining": {"Type": "Wait", "Seconds": 300, "End": True}},
            },
            "End": True,
        },
    },
}


class ScriptedStepFunctions:
    """A real Step Functions client whose answers are queued, in the order they must be asked."""

    def __init__(self) -> None:
        self.client = boto3.client("stepfunctions", region_name=REGION)
        self.stubber = Stubber(self.client)

    def describe(self, status: str, **fields: Any) -> None:
        response = {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE,
            "name": "nightly-7",
            "status": status,
            "startDate": T0,
            **fields,
        }
        self.stubber.add_response("describe_execution", response, {"executionArn": EXECUTION})

    def definition(self, definition: dict[str, Any] | None = None) -> None:
        self.stubber.add_response(
            "describe_state_machine_for_execution",
            {
                "stateMachineArn": STATE_MACHINE,
                "name": "training",
                "definition": json.dumps(definition or SCRIPTED_DEFINITION),
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/training",
                "updateDate": T0,
            },
            {"executionArn": EXECUTION},
        )

    def history(
        self,
        events: list[dict[str, Any]],
        token: str | None = None,
        next_token: str | None = None,
    ) -> None:
        expected: dict[str, Any] = {"executionArn": EXECUTION, "maxResults": 1000}
        if token is not None:
            expected["nextToken"] = token
        response: dict[str, Any] = {"events": copy.deepcopy(events)}
        if next_token is not None:
            response["nextToken"] = next_token
        self.stubber.add_response("get_execution_history", response, expected)

    def expired(self, token: str) -> None:
        self.stubber.add_client_error(
            "get_execution_history",
            service_error_code="InvalidToken",
            service_message="the token has expired",
            http_status_code=400,
            expected_params={"executionArn": EXECUTION, "maxResults": 1000, "nextToken": token},
        )


class ScriptedRekognition:
    def __init__(self) -> None:
        self.client = boto3.client("rekognition", region_name=REGION)
        self.stubber = Stubber(self.client)

    def project(self, found: bool = True, *, empty_pages: int = 0) -> None:
        """DescribeProjects; ``empty_pages`` pages without it (each with a NextToken) first."""
        projects = [{"ProjectArn": PROJECT_ARN, "Status": "CREATED", "CreationTimestamp": T0}]
        self._pages(
            "describe_projects",
            "ProjectDescriptions",
            projects if found else [],
            {"ProjectNames": [PROJECT]},
            empty_pages,
        )

    def version(
        self, name: str, descriptions: list[dict[str, Any]], *, empty_pages: int = 0
    ) -> None:
        self._pages(
            "describe_project_versions",
            "ProjectVersionDescriptions",
            descriptions,
            {"ProjectArn": PROJECT_ARN, "VersionNames": [name]},
            empty_pages,
        )

    def _pages(
        self,
        operation: str,
        key: str,
        items: list[dict[str, Any]],
        request: dict[str, Any],
        empty_pages: int,
    ) -> None:
        for number in range(empty_pages):
            token = {"NextToken": f"page-{number}"} if number else {}
            self.stubber.add_response(
                operation, {key: [], "NextToken": f"page-{number + 1}"}, {**request, **token}
            )
        token = {"NextToken": f"page-{empty_pages}"} if empty_pages else {}
        self.stubber.add_response(operation, {key: items}, {**request, **token})

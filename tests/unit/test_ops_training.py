"""``python -m ops train start|watch|list`` and ``python -m ops report``.

S3, CloudFormation (stacks holding the outputs the commands read) and Step Functions run in moto.
The state machine is a stand-in with the training workflow's output contract (``outcome``,
``gate``, ``metrics``, ``report_uri``) and error names: moto executes it for real, so ``watch``
and ``list`` read genuine histories and descriptions. moto's GetExecutionHistory ignores page
tokens, so paging, retries and the clock are checked against a botocore ``Stubber`` that replays
a scripted history (and validates every request and response against the service model).
Rekognition Custom Labels is not in moto: ``report --env`` runs against a ``Stubber`` too.
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from rich.console import Console

import ops.training as training
from ops.cli import main
from rekognition_training import evaluate as evaluate_handler
from shared.evaluation.manifest import load_summary, parse_manifest
from shared.evaluation.metrics import compute_metrics
from shared.evaluation.report_html import render_html
from tests.evaluation_data import ManifestSpec, write_manifest, write_summary

REGION = "us-east-1"
ACCOUNT = "123456789012"
DATA, ARTIFACTS = "imgclf-dev-data-test", "imgclf-dev-artifacts-test"
PROJECT = "imgclf-dev-image-classifier"  # dev's project: <prefix>-<env>-<project_name>
PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/1700000000000"
OTHER_DATASET = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shapes/dataset/train/1700000000001"
TRAIN_MANIFEST = f"s3://{DATA}/manifests/train.manifest"
TEST_MANIFEST = f"s3://{DATA}/manifests/test.manifest"
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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,  # ops reads it first, as the AWS CLI does
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "COLUMNS": "250",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3")
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        role = boto3.client("iam").create_role(RoleName="training", AssumeRolePolicyDocument="{}")
        stepfunctions = boto3.client("stepfunctions")
        state_machine = stepfunctions.create_state_machine(
            name="training", definition=json.dumps(STAND_IN), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        cloudformation = boto3.client("cloudformation")
        _stack(
            cloudformation,
            "imgclf-dev-storage",
            {"DataBucketName": DATA, "ArtifactsBucketName": ARTIFACTS},
        )
        _stack(
            cloudformation,
            "imgclf-dev-rekognition-training",
            {"TrainingStateMachineArn": state_machine},
        )
        yield Aws(s3, stepfunctions, cloudformation, state_machine)


def run(*arguments: str) -> int:
    """``python -m ops ARGUMENTS``: the exit code."""
    return main(list(arguments))


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "expected an error message"
    assert all(line.startswith("error: ") for line in lines), lines
    return lines


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = _error_lines(capsys)
    assert len(lines) == 1, lines
    return lines[0]


def _replace_client(monkeypatch: pytest.MonkeyPatch, service: str, replacement: Any) -> None:
    real = training.client

    def client(name: str, region: str | None) -> Any:
        return replacement if name == service else real(name, region)

    monkeypatch.setattr(training, "client", client)


# --- train start -------------------------------------------------------------------------------


def test_start_validates_and_starts_the_request_and_prints_its_links(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    for uri in (TRAIN_MANIFEST, TEST_MANIFEST):
        aws.s3.put_object(Bucket=DATA, Key=uri.split("/", 3)[3], Body=b"{}\n")

    code = main(
        [
            "train", "start", "--env", "dev", "--manifest", TRAIN_MANIFEST,
            "--test-manifest", TEST_MANIFEST, "--version", "v-2026-11-20",
            "--gate-metric", "f1_macro", "--gate-threshold", "0.9", "--min-label-recall", "0.5",
            "--name", "nightly-1",
        ]
    )  # fmt: skip

    assert code == 0
    (execution,) = aws.executions()
    assert execution["name"] == "nightly-1"
    sent = aws.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"]
    assert json.loads(sent) == {
        "training_data": {"manifest_s3_uri": TRAIN_MANIFEST},
        "test_data": {"manifest_s3_uri": TEST_MANIFEST},
        "version_name": "v-2026-11-20",
        "gate": {"metric": "f1_macro", "threshold": 0.9, "min_label_recall": 0.5},
    }
    out = capsys.readouterr().out
    arn = execution["executionArn"]
    assert f"Execution: {arn}\n" in out
    assert (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
        f"#/v2/executions/details/{arn}\n"
    ) in out
    assert f"version v-2026-11-20 of project {PROJECT}, gate f1_macro >= 0.9" in out


def test_start_defaults_name_version_split_and_the_environment_gate(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "start", "--env", "dev", "--dataset-arn", OTHER_DATASET]) == 0

    (execution,) = aws.executions()
    name = execution["name"]
    assert name.startswith("train-")
    sent = aws.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"]
    assert json.loads(sent) == {"training_data": {"dataset_arn": OTHER_DATASET}}
    # The version the workflow will derive from the execution name, and dev's gate.
    assert f"version v-{name} of project imgclf-dev-image-classifier, gate f1_score >= 0.85" in (
        capsys.readouterr().out
    )


def test_start_on_the_existing_datasets(aws: Aws) -> None:
    assert main(["train", "start", "--env", "dev", "--use-existing-datasets", "--name", "x"]) == 0

    (execution,) = aws.executions()
    sent = aws.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"]
    assert json.loads(sent) == {"use_existing_datasets": True}


def test_start_reports_every_problem_of_the_request_and_starts_nothing(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "train", "start", "--env", "dev", "--manifest", "notanuri",
            "--test-dataset-arn", "arn:nope", "--gate-metric", "auc", "--gate-threshold", "1.5",
            "--version", "bad name",
        ]
    )  # fmt: skip

    assert code == 2
    lines = _error_lines(capsys)
    assert len(lines) == 5, lines
    expected = (
        "--version: version_name: 1-255 letters",
        "--manifest: training_data.manifest_s3_uri: not an s3://bucket/key URI: 'notanuri'",
        "--test-dataset-arn: test_data.dataset_arn: not a Rekognition dataset ARN",
        "--gate-metric: gate.metric: one of f1_score",
        "--gate-threshold: gate.threshold: a number in [0, 1], got 1.5",
    )
    for line, fragment in zip(lines, expected, strict=True):
        assert fragment in line
    assert aws.executions() == []


def test_start_checks_the_request_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_aws(service: str, region: str | None) -> Any:
        raise AssertionError(f"a {service} client was asked for")

    monkeypatch.setattr(training, "client", no_aws)

    code = run("train", "start", "--env", "dev", "--manifest", "notanuri", "--gate-threshold", "7")

    assert code == 2
    lines = _error_lines(capsys)
    assert [line.split(":", 2)[1].strip() for line in lines] == [
        "--manifest",
        "--gate-threshold",
    ]


def test_start_refuses_a_manifest_outside_the_data_bucket(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("train", "start", "--env", "dev", "--manifest", "s3://team-photos/train.manifest")

    assert code == 2
    assert (
        f"--manifest: training_data.manifest_s3_uri: manifests must be in this environment's "
        f"data bucket {DATA!r}"
    ) in _error_line(capsys)
    assert aws.executions() == []


def test_start_refuses_a_manifest_that_does_not_exist(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "start", "--env", "dev", "--manifest", TRAIN_MANIFEST]) == 2

    assert f"--manifest: {TRAIN_MANIFEST} does not exist" in _error_line(capsys)
    assert aws.executions() == []


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            ["--manifest", TRAIN_MANIFEST, "--dataset-arn", OTHER_DATASET],
            "give exactly one of --manifest, --dataset-arn or --use-existing-datasets "
            "(got --manifest and --dataset-arn)",
        ),
        ([], "give exactly one of --manifest, --dataset-arn or --use-existing-datasets"),
        (
            [
                f"--dataset-arn={OTHER_DATASET}",
                f"--test-manifest={TEST_MANIFEST}",
                f"--test-dataset-arn={OTHER_DATASET}",
            ],
            "--test-manifest and --test-dataset-arn are mutually exclusive",
        ),
        (
            ["--use-existing-datasets", "--test-manifest", TEST_MANIFEST],
            "--test-manifest: test_data: not allowed with use_existing_datasets",
        ),
        (["--use-existing-datasets", "--name", "no spaces please"], "--name: 1-80 letters"),
    ],
)
def test_start_option_conflicts_are_one_line_errors(
    aws: Aws, capsys: pytest.CaptureFixture[str], options: list[str], fragment: str
) -> None:
    assert main(["train", "start", "--env", "dev", *options]) == 2

    assert fragment in _error_line(capsys)
    assert aws.executions() == []


def test_start_refuses_a_name_already_used(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "start", "--env", "dev", "--use-existing-datasets", "--name", "n"]) == 0
    capsys.readouterr()

    code = run("train", "start", "--env=dev", "--use-existing-datasets", "--name=n", "--version=v")

    assert code == 2
    assert "an execution named 'n' already exists" in _error_line(capsys)
    assert len(aws.executions()) == 1


def test_start_needs_the_training_stack(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.cloudformation.delete_stack(StackName="imgclf-dev-rekognition-training")

    assert main(["train", "start", "--env", "dev", "--use-existing-datasets"]) == 3

    error = _error_line(capsys)
    assert "stack imgclf-dev-rekognition-training is not deployed in this account and region" in (
        error
    )
    assert "make deploy ENV=dev" in error


# --- train watch (moto-executed stand-in) ------------------------------------------------------


def test_watch_a_deployed_run(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    arn = aws.run("run-deployed", {"simulate": "deployed"})["executionArn"]

    assert main(["train", "watch", arn]) == 0

    out = capsys.readouterr().out
    for fragment in (
        "execution started",
        "entered ValidateInput (Pass)",
        "entered Simulate? (Choice)",
        "waiting WaitTraining: 0 s (until ",
        "entered DeployedOutcome (Pass)",
        "Summary: SUCCEEDED after ",
        "execution succeeded",
        f"DEPLOYED: {version_arn('v')} passed the quality gate",
        "Gate: PASSED f1_score = 0.9300 (threshold 0.8500)",
        f"Report: s3://{ARTIFACTS}/reports/{PROJECT}/v/report.html",
        f"/v2/executions/details/{arn}",
    ):
        assert fragment in out, fragment
    # States in the order they ran, each reported once.
    assert out.index("entered ValidateInput") < out.index("entered Simulate?")
    assert out.index("entered Simulate?") < out.index("waiting WaitTraining")
    assert out.count("entered DeployedOutcome") == 1


def test_a_deployment_that_left_the_previous_version_running_says_so() -> None:
    previous = version_arn("v-old")
    message = f"The previous version {previous} is still RUNNING: stopping it failed (...)"
    description = {
        "status": "SUCCEEDED",
        "name": "run-warned",
        "input": "{}",
        "output": json.dumps(
            {
                **_outcome("DEPLOYED", GATE),
                "warning": {"previous_version_still_running": previous, "message": message},
            }
        ),
    }

    code, lines = training.outcome_lines(description)

    assert code == 0
    assert lines[0].startswith("[bold green]DEPLOYED")
    assert lines[-1] == f"[bold yellow]WARNING[/bold yellow]: {message}"
    assert training._execution_row(description)[4] == "DEPLOYED (previous version still running)"


def test_watch_a_rejected_run_shows_the_gap(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    arn = aws.run("run-rejected", {"simulate": "rejected"})["executionArn"]

    assert main(["train", "watch", arn]) == 0

    out = capsys.readouterr().out
    assert "REJECTED:" in out
    assert "did not pass the quality gate; the version is kept, not started" in out
    assert "Gate: REJECTED f1_macro = 0.7100 (threshold 0.9000), gap -0.1900" in out
    assert "- f1_macro 0.7100 is below the threshold 0.9000" in out
    assert f"Report: s3://{ARTIFACTS}/reports/{PROJECT}/v/report.html" in out
    assert "DEPLOYED" not in out


def test_watch_a_failed_run_shows_error_and_cause(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = aws.run("run-failed", {"simulate": "failed"})["executionArn"]

    assert main(["train", "watch", arn]) == 1

    out = capsys.readouterr().out
    assert "entered TrainingFailed (Fail)" in out
    assert "execution failed: TrainingFailed" in out
    assert "FAILED: TrainingFailed" in out
    assert "Cause: Version v ended in TRAINING_FAILED: The manifest file contains no labels" in out


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["train", "watch", "nightly-1"], "nightly-1: not a Step Functions execution ARN"),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:training:nope"],
            "cannot describe execution",
        ),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:t:x", "--interval=0"],
            "argument --interval: must be a positive number of seconds, got 0",
        ),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:t:x", "--timeout=-1"],
            "argument --timeout: must be a positive number of minutes, got -1",
        ),
    ],
)
def test_watch_bad_arguments_are_one_line_errors(
    aws: Aws, capsys: pytest.CaptureFixture[str], arguments: list[str], fragment: str
) -> None:
    assert main(arguments) == 2

    assert fragment in _error_line(capsys)


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


def _event(event_id: int, previous: int, seconds: int, kind: str, **details: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "timestamp": T0 + timedelta(seconds=seconds),
        "type": kind,
        **details,
    }


def _entered(name: str) -> dict[str, Any]:
    return {"stateEnteredEventDetails": {"name": name}}


def _task(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "aws-sdk:rekognition", "resource": "createProjectVersion", **fields}


#: A run whose CreateVersion is throttled once, retried, then waits for training.
SCRIPTED_EVENTS = [
    _event(1, 0, 0, "ExecutionStarted", executionStartedEventDetails={}),
    _event(2, 1, 1, "TaskStateEntered", **_entered("CreateVersion")),
    _event(
        3, 2, 1, "TaskScheduled",
        taskScheduledEventDetails=_task(region=REGION, parameters="{}"),
    ),
    _event(
        4, 3, 2, "TaskFailed",
        taskFailedEventDetails=_task(
            error="Rekognition.ThrottlingException", cause="Rate exceeded " * 40
        ),
    ),
    _event(
        5, 4, 6, "TaskScheduled",
        taskScheduledEventDetails=_task(region=REGION, parameters="{}"),
    ),
    _event(6, 5, 7, "TaskSucceeded", taskSucceededEventDetails=_task(output="{}")),
    _event(7, 6, 8, "TaskStateExited", stateExitedEventDetails={"name": "CreateVersion"}),
    _event(8, 7, 8, "MapStateEntered", **_entered("Training")),
    _event(9, 8, 9, "WaitStateEntered", **_entered("WaitTraining")),
]  # fmt: skip
ENDINGS = {
    "FAILED": ("ExecutionFailed", "executionFailedEventDetails", "execution failed"),
    "TIMED_OUT": ("ExecutionTimedOut", "executionTimedOutEventDetails", "execution timed out"),
    "ABORTED": ("ExecutionAborted", "executionAbortedEventDetails", "execution aborted"),
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


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedStepFunctions]:
    monkeypatch.setenv("COLUMNS", "250")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    stepfunctions = ScriptedStepFunctions()
    monkeypatch.setattr(training, "client", lambda service, region: stepfunctions.client)
    with stepfunctions.stubber:
        yield stepfunctions
        stepfunctions.stubber.assert_no_pending_responses()


@pytest.mark.parametrize("status", sorted(ENDINGS))
def test_watch_follows_pages_retries_and_waits_until_the_run_ends(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
) -> None:
    kind, details_field, text = ENDINGS[status]
    ending = _event(
        10, 9, 900, kind, **{details_field: {"error": "States.Timeout", "cause": "deadline"}}
    )
    scripted.describe("RUNNING")
    scripted.definition()
    # First poll: two pages. Second poll: from the last page's token (it has grown).
    scripted.history(SCRIPTED_EVENTS[:3], next_token="page-2")
    scripted.history(SCRIPTED_EVENTS[3:5], token="page-2")
    scripted.describe("RUNNING")
    scripted.history(SCRIPTED_EVENTS[3:], token="page-2")
    scripted.describe(status, stopDate=T0, error="States.Timeout", cause="took longer than 26 h")
    scripted.history([*SCRIPTED_EVENTS[3:], ending], token="page-2")
    pauses: list[float] = []
    monkeypatch.setattr(training, "sleep", pauses.append)
    monkeypatch.setattr(training, "now", lambda: T0 + timedelta(minutes=20))

    assert main(["train", "watch", EXECUTION, "--interval", "45"]) == 1

    assert pauses == [45]
    out = capsys.readouterr().out
    expected = [
        "2026-11-20 22:00:00  execution started",
        "2026-11-20 22:00:01  entered CreateVersion (Task)",
        "2026-11-20 22:00:02  task failed in CreateVersion: Rekognition.ThrottlingException: "
        "Rate exceeded Rate exceeded",
        "2026-11-20 22:00:06  retry 1 of CreateVersion after Rekognition.ThrottlingException",
        "2026-11-20 22:00:08  entered Training (Map)",
        "2026-11-20 22:00:09  waiting WaitTraining: 5 min 00 s (until 2026-11-20 22:05:09)",
        f"2026-11-20 22:15:00  {text}: States.Timeout",
        f"Summary: {status} after 15 min 00 s; 1 retry; 1 failed attempt; 10 history events",
        f"{status}: States.Timeout",
        "Cause: took longer than 26 h",
    ]
    positions = [out.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "…" in out  # the long cause is shortened in the progress line
    for line in expected[:7]:
        assert out.count(line) == 1, line


def test_watch_starts_over_when_the_page_token_expired(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = json.dumps(_outcome("DEPLOYED", GATE))
    succeeded = _event(
        10, 9, 600, "ExecutionSucceeded", executionSucceededEventDetails={"output": output}
    )
    scripted.describe("RUNNING")
    scripted.definition()
    scripted.history(SCRIPTED_EVENTS[:2], next_token="page-2")
    scripted.history(SCRIPTED_EVENTS[2:4], token="page-2")
    scripted.describe("RUNNING")
    scripted.expired("page-2")
    scripted.history(SCRIPTED_EVENTS[:6])
    scripted.describe("SUCCEEDED", stopDate=T0, output=output)
    scripted.history([*SCRIPTED_EVENTS, succeeded])
    monkeypatch.setattr(training, "sleep", lambda seconds: None)

    assert main(["train", "watch", EXECUTION]) == 0

    out = capsys.readouterr().out
    assert out.count("execution started") == 1
    assert out.count("task failed in CreateVersion") == 1
    assert out.count("retry 1 of CreateVersion") == 1
    assert out.count("waiting WaitTraining") == 1
    assert "execution succeeded" in out
    assert "Gate: PASSED f1_score = 0.9300 (threshold 0.8500)" in out


def test_watch_stops_at_its_timeout_and_leaves_the_run_alone(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [1000.0]
    monkeypatch.setattr(training, "clock", lambda: now[0])
    monkeypatch.setattr(training, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    scripted.describe("RUNNING")
    scripted.definition()
    for _ in range(3):  # at 0 s, 30 s and 60 s: the third check is at the deadline
        scripted.history(SCRIPTED_EVENTS[:2])
        scripted.describe("RUNNING")

    assert main(["train", "watch", EXECUTION, "--interval", "30", "--timeout", "1"]) == 4

    out = capsys.readouterr().out
    assert "Still RUNNING in CreateVersion after 1 minutes; stopped watching (the run goes on)" in (
        out
    )
    assert out.count("entered CreateVersion") == 1


def test_ctrl_c_stops_watching_not_the_run(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "sleep", interrupt)
    scripted.describe("RUNNING")
    scripted.definition()
    scripted.history(SCRIPTED_EVENTS[:2])
    scripted.describe("RUNNING")
    # Nothing else is queued: a StopExecution (or any other call) would fail the test.

    assert main(["train", "watch", EXECUTION]) == 130

    out = capsys.readouterr().out
    assert "Stopped watching; the execution goes on." in out
    assert f"Resume with: ops train watch {EXECUTION}" in out


#: A polling loop built like the workflow's (``_polling_loop``): Init, Wait, Describe, Done?,
#: Count, Deadline? back to the Wait.
LOOP_DEFINITION = {
    "TimeoutSeconds": 93600,
    "StartAt": "InitTrainingPolls",
    "States": {
        "InitTrainingPolls": {"Type": "Pass", "Next": "WaitTraining"},
        "WaitTraining": {"Type": "Wait", "Seconds": 300, "Next": "DescribeTraining"},
        "DescribeTraining": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:rekognition:describeProjectVersions",
            "Next": "TrainingDone?",
        },
        "TrainingDone?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.training.descriptions[0].Status",
                    "StringEquals": "TRAINING_COMPLETED",
                    "Next": "Evaluate",
                }
            ],
            "Default": "CountTrainingPolls",
        },
        "CountTrainingPolls": {"Type": "Pass", "Next": "TrainingDeadline?"},
        "TrainingDeadline?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.polls.count",
                    "NumericGreaterThanEquals": 312,
                    "Next": "TrainingTimedOut",
                }
            ],
            "Default": "WaitTraining",
        },
        "TrainingTimedOut": {"Type": "Fail", "Error": "PollingDeadlineExceeded"},
        "Evaluate": {"Type": "Pass", "End": True},
    },
}


def _polls(count: int, *, completed: bool = False) -> list[dict[str, Any]]:
    """History of ``count`` training checks, five minutes apart (the last one completed)."""
    events = [
        _event(1, 0, 0, "ExecutionStarted", executionStartedEventDetails={}),
        _event(2, 1, 0, "PassStateEntered", **_entered("InitTrainingPolls")),
    ]
    for poll in range(count):
        at, first = 300 * poll, len(events) + 1
        status = "TRAINING_COMPLETED" if completed and poll == count - 1 else "TRAINING_IN_PROGRESS"
        output = json.dumps({"ProjectVersionDescriptions": [{"Status": status}]})
        events += [
            _event(first, first - 1, at, "WaitStateEntered", **_entered("WaitTraining")),
            _event(first + 1, first, at + 300, "TaskStateEntered", **_entered("DescribeTraining")),
            _event(first + 2, first + 1, at + 300, "TaskScheduled",
                   taskScheduledEventDetails=_task(region=REGION, parameters="{}")),
            _event(first + 3, first + 2, at + 301, "TaskSucceeded",
                   taskSucceededEventDetails=_task(output=output)),
            _event(first + 4, first + 3, at + 301, "ChoiceStateEntered",
                   **_entered("TrainingDone?")),
        ]  # fmt: skip
        if not (completed and poll == count - 1):
            events += [
                _event(first + 5, first + 4, at + 301, "PassStateEntered",
                       **_entered("CountTrainingPolls")),
                _event(first + 6, first + 5, at + 301, "ChoiceStateEntered",
                       **_entered("TrainingDeadline?")),
            ]  # fmt: skip
    if completed:
        last = len(events) + 1
        events.append(_event(last, last - 1, 300 * count + 2, "PassStateEntered",
                             **_entered("Evaluate")))  # fmt: skip
    return events


def test_polling_loops_are_found_with_their_bound_and_interval() -> None:
    (loop,) = training.polling_loops(training._state_definitions(LOOP_DEFINITION))

    assert loop.label == "Training"
    assert loop.max_polls == 312
    assert loop.interval_seconds == 300
    assert loop.wait_states == {"WaitTraining"}
    assert loop.states == {
        "WaitTraining",
        "DescribeTraining",
        "TrainingDone?",
        "CountTrainingPolls",
        "TrainingDeadline?",
    }


def test_the_status_line_counts_the_checks_against_the_bound() -> None:
    tracker = training.RunTracker(
        states=training._state_definitions(LOOP_DEFINITION), started=T0, timeout_seconds=93600
    )
    lines = [line for event in _polls(37) for line in tracker.observe(event)]

    # 37 checks, 261 events: two lines (the loop's counter reset is not one of them).
    assert lines == [
        "[bold]execution started[/bold]",
        "[yellow]polling[/yellow] Training every 5 min 00 s, at most 312 checks (gives up "
        "about 2026-11-22 00:00:00 UTC)",
    ]
    moment = T0 + timedelta(minutes=36 * 5 + 2)
    assert tracker.status_line(moment) == (
        "Training: check 37/312 (TRAINING_IN_PROGRESS), elapsed 3 h 02 min, "
        "next check 01:05:00 UTC, gives up about 2026-11-22 00:00:00 UTC"
    )
    assert tracker.summary("RUNNING", moment) == (
        "Summary: RUNNING after 3 h 02 min; 0 retries; 0 failed attempts; 261 history events"
    )


def test_a_finished_loop_is_one_line_and_counts_in_the_summary() -> None:
    tracker = training.RunTracker(states=training._state_definitions(LOOP_DEFINITION), started=T0)
    lines = [line for event in _polls(3, completed=True) for line in tracker.observe(event)]

    assert lines[-2:] == [
        "[green]done polling[/green] Training: 3 checks in 15 min 02 s, last status "
        "TRAINING_COMPLETED",
        "[cyan]entered[/cyan] Evaluate (Pass)",
    ]
    assert tracker.status_line(T0 + timedelta(minutes=16)) == ("Evaluate, elapsed 16 min 00 s")
    assert "polled Training 3 checks (15 min 02 s)" in tracker.summary("SUCCEEDED", T0)


def test_watch_shows_a_live_status_line_on_a_terminal(
    scripted: ScriptedStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(
        training, "make_console", lambda: Console(file=screen, force_terminal=True, width=200)
    )
    monkeypatch.setattr(training, "sleep", lambda seconds: None)
    monkeypatch.setattr(training, "now", lambda: T0 + timedelta(minutes=11))
    history = _polls(3)
    scripted.describe("RUNNING")
    scripted.definition(LOOP_DEFINITION)
    scripted.history(history)
    scripted.describe("RUNNING")
    scripted.history(history)
    scripted.describe("SUCCEEDED", stopDate=T0, output=json.dumps(_outcome("DEPLOYED", GATE)))
    scripted.history(history)

    assert main(["train", "watch", EXECUTION]) == 0

    shown = screen.getvalue()
    assert "\x1b[" in shown  # a terminal: the status line is redrawn in place
    assert "Training: check 3/312 (TRAINING_IN_PROGRESS), elapsed 11 min 00 s" in shown
    assert "next check 22:15:00 UTC" in shown
    assert "status Training" not in shown  # no plain status lines on a terminal
    assert "Summary: SUCCEEDED" in shown


def test_watch_without_a_terminal_prints_the_status_every_so_often(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    moment = [0.0]
    monkeypatch.setattr(training, "clock", lambda: moment[0])
    monkeypatch.setattr(training, "sleep", lambda s: moment.__setitem__(0, moment[0] + s))
    monkeypatch.setattr(training, "now", lambda: T0 + timedelta(minutes=20))
    history = _polls(4)
    scripted.describe("RUNNING")
    scripted.definition(LOOP_DEFINITION)
    for polls in range(1, 8):  # every 5 minutes for 35 minutes
        scripted.history(history[: 2 + 7 * (polls if polls < 4 else 4)])
        scripted.describe("RUNNING")
    scripted.history(history)
    scripted.describe("SUCCEEDED", stopDate=T0, output=json.dumps(_outcome("DEPLOYED", GATE)))
    scripted.history(history)

    code = main(["train", "watch", EXECUTION, "--interval", "300", "--status-every", "15"])

    assert code == 0
    out = capsys.readouterr().out
    status = [line for line in out.splitlines() if line.startswith("status ")]
    assert len(status) == 3  # at 0, 15 and 30 minutes of watching
    assert status[0].startswith("status Training: check 1/312 (TRAINING_IN_PROGRESS)")
    assert status[-1].startswith("status Training: check 4/312 (TRAINING_IN_PROGRESS)")
    assert out.count("polling Training every 5 min 00 s") == 1
    assert "DescribeTraining" not in out


# --- train list --------------------------------------------------------------------------------


def _row(out: str, name: str) -> str:
    (line,) = [line for line in out.splitlines() if f" {name} " in line]
    return line


def test_list_shows_recent_runs_with_outcome_gate_and_version(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.run("run-deployed", {"simulate": "deployed", "version_name": "v-chosen"})
    aws.run("run-rejected", {"simulate": "rejected"})
    aws.run("run-failed", {"simulate": "failed"})

    assert main(["train", "list", "--env", "dev"]) == 0

    out = capsys.readouterr().out
    deployed, rejected, failed = (
        _row(out, name) for name in ("run-deployed", "run-rejected", "run-failed")
    )
    for fragment in ("SUCCEEDED", "DEPLOYED", "f1_score = 0.9300 (0.8500)", "v-chosen"):
        assert fragment in deployed, fragment
    for fragment in ("SUCCEEDED", "REJECTED", "f1_macro = 0.7100 (0.9000)", "v-run-rejected"):
        assert fragment in rejected, fragment
    for fragment in ("FAILED", "TrainingFailed", "v-run-failed"):
        assert fragment in failed, fragment
    # Newest first.
    assert out.index("run-failed") < out.index("run-rejected") < out.index("run-deployed")


def test_list_reads_further_pages_up_to_the_limit(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ListExecutions may return fewer than maxResults and a nextToken."""
    stepfunctions = boto3.client("stepfunctions")
    names = ("run-c", "run-b", "run-a")
    listed = [
        {
            "executionArn": f"{aws.state_machine}:{name}".replace(":stateMachine:", ":execution:"),
            "stateMachineArn": aws.state_machine,
            "name": name,
            "status": "SUCCEEDED",
            "startDate": T0,
        }
        for name in names
    ]
    request = {"stateMachineArn": aws.state_machine, "maxResults": 3}
    with Stubber(stepfunctions) as stubber:
        stubber.add_response(
            "list_executions", {"executions": listed[:1], "nextToken": "t1"}, request
        )
        stubber.add_response(
            "list_executions",
            {"executions": listed[1:], "nextToken": "t2"},
            {**request, "nextToken": "t1"},
        )
        for item in listed:
            stubber.add_response(
                "describe_execution",
                {
                    **item,
                    "input": json.dumps({"version_name": f"v-{item['name']}"}),
                    "output": json.dumps({"outcome": "DEPLOYED"}),
                    "stopDate": T0,
                },
                {"executionArn": item["executionArn"]},
            )
        _replace_client(monkeypatch, "stepfunctions", stepfunctions)

        assert main(["train", "list", "--env", "dev", "--limit", "3"]) == 0

        stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    for name in names:
        assert f"v-{name}" in _row(out, name)


def test_list_limit_keeps_the_newest(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("first", "second", "third"):
        aws.run(f"run-{name}", {"simulate": "deployed"})

    assert main(["train", "list", "--env", "dev", "--limit", "2"]) == 0

    out = capsys.readouterr().out
    assert "run-third" in out
    assert "run-second" in out
    assert "run-first" not in out


def test_list_without_runs(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "list", "--env", "dev"]) == 0

    assert f"No training runs yet ({aws.state_machine})" in capsys.readouterr().out


def test_list_limit_out_of_range(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "list", "--env", "dev", "--limit", "0"]) == 2

    assert "argument --limit: must be between 1 and 1000, got 0" in _error_line(capsys)


# --- report: local files -----------------------------------------------------------------------


@pytest.fixture
def evaluation_files(tmp_path: Path) -> tuple[Path, Path]:
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=120, seed=11))
    write_summary(summary, LABELS, f1=0.9)
    return manifest, summary


def test_report_from_local_files_writes_the_shared_report(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    manifest, summary = evaluation_files
    out = tmp_path / "report"

    code = run("report", f"--manifest={manifest}", f"--summary={summary}", f"--out={out}")

    assert code == 0
    expected = compute_metrics(parse_manifest(manifest, load_summary(summary)))
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(expected)
    )
    assert (out / "report.html").read_text(encoding="utf-8") == render_html(expected)
    printed = capsys.readouterr().out
    assert re.search(rf"│ accuracy +│ +{expected['accuracy']:.4f} │", printed)
    assert f"Evaluation of {manifest}\n" in printed
    assert "Gate: none given" in printed
    assert f"Wrote {out / 'metrics.json'}" in printed


def test_report_from_local_files_with_a_gate(
    evaluation_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, summary = evaluation_files
    out = tmp_path / "report"

    code = run(
        "report",
        f"--manifest={manifest}",
        f"--summary={summary}",
        f"--out={out}",
        "--gate-metric=f1_macro",
        "--gate-threshold=0.99",
    )

    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["gate"]["metric"] == "f1_macro"
    assert metrics["gate"]["value"] == pytest.approx(metrics["f1"]["macro"])
    assert metrics["gate"]["passed"] is False
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<strong>REJECTED</strong>: f1_macro" in html
    assert "FAILED" not in html
    assert "Gate: REJECTED f1_macro = " in capsys.readouterr().out


def test_report_shows_its_progress_on_a_large_manifest(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, summary = evaluation_files
    size = manifest.stat().st_size
    monkeypatch.setattr(training, "PROGRESS_BYTES", size)  # "large" from this size on
    arguments = ["report", f"--manifest={manifest}", f"--summary={summary}"]

    assert main([*arguments, f"--out={tmp_path / 'plain'}"]) == 0
    out = capsys.readouterr().out
    assert size > 100_000
    assert f"Reading manifest eval.manifest: {size / 1e6:,.1f} MB\n" in out
    assert f"Read {size / 1e6:,.1f} MB of manifest eval.manifest\n" in out

    screen = io.StringIO()
    monkeypatch.setattr(
        training, "make_console", lambda: Console(file=screen, force_terminal=True, width=120)
    )
    assert main([*arguments, f"--out={tmp_path / 'bar'}"]) == 0
    assert "manifest eval.manifest" in screen.getvalue()
    assert "\x1b[" in screen.getvalue()  # a bar, redrawn in place
    assert (tmp_path / "bar" / "metrics.json").read_bytes() == (
        tmp_path / "plain" / "metrics.json"
    ).read_bytes()

    screen.seek(0)
    screen.truncate()
    monkeypatch.setattr(training, "PROGRESS_BYTES", size + 1)  # smaller: no progress at all
    assert main([*arguments, f"--out={tmp_path / 'small'}"]) == 0
    assert "manifest eval.manifest" not in screen.getvalue()
    assert "accuracy" in screen.getvalue()  # the table still is


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _as_object_detection(line: str) -> str:
    document = json.loads(line)
    document["bounding-box"] = {"annotations": []}
    document["bounding-box-metadata"] = {"type": "groundtruth/object-detection"}
    return json.dumps(document)


def _ground_truth_only(line: str) -> str:
    document = json.loads(line)
    return json.dumps({k: v for k, v in document.items() if "evaluation" not in k})


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("missing manifest", "cannot read the manifest: No such file or directory"),
        ("missing summary", "cannot read the summary file: No such file or directory"),
        ("malformed line", "eval.manifest, line 7: malformed JSON"),
        ("object detection", "line 3: attribute 'bounding-box' has type"),
        ("no predictions", "not an evaluation manifest snapshot"),
    ],
)
def test_report_refuses_unusable_local_files(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    fragment: str,
) -> None:
    manifest, summary = evaluation_files
    lines = manifest.read_text(encoding="utf-8").splitlines()
    if damage == "missing manifest":
        manifest.unlink()
    elif damage == "missing summary":
        summary.unlink()
    elif damage == "malformed line":
        lines[6] = lines[6][:-3]
        _write_lines(manifest, lines)
    elif damage == "object detection":
        lines[2] = _as_object_detection(lines[2])
        _write_lines(manifest, lines)
    else:
        _write_lines(manifest, [_ground_truth_only(line) for line in lines])
    out = tmp_path / "report"

    code = main(
        ["report", "--manifest", str(manifest), "--summary", str(summary), "--out", str(out)]
    )

    assert code == 2
    assert fragment in _error_line(capsys)
    assert not out.exists()


def test_report_gate_metric_the_evaluation_lacks(
    evaluation_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, summary = evaluation_files
    document = json.loads(summary.read_text(encoding="utf-8"))
    del document["AggregatedEvaluationResults"]  # no service F1 score
    summary.write_text(json.dumps(document), encoding="utf-8")

    code = run(
        "report",
        f"--manifest={manifest}",
        f"--summary={summary}",
        f"--out={tmp_path / 'r'}",
        "--gate-metric=f1_score",
        "--gate-threshold=0.5",
    )

    assert code == 2
    assert "--gate-metric: the gate metric 'f1_score' is not in this evaluation" in (
        _error_line(capsys)
    )


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            ["--manifest", "m", "--summary", "s", "--env", "dev", "--version", "v"],
            "--manifest --summary (local files) and --env --version (a trained version) are "
            "mutually exclusive",
        ),
        ([], "give --manifest and --summary (local files), or --env and --version"),
        (["--manifest", "m"], "local files: give both --manifest and --summary"),
        (["--env", "dev"], "a trained version: give --env and --version"),
        (
            ["--manifest", "m", "--summary", "s", "--gate-threshold", "0.5"],
            "a gate needs both --gate-metric and --gate-threshold",
        ),
        (
            ["--manifest", "m", "--summary", "s", "--gate-metric", "auc", "--gate-threshold", "1"],
            "--gate-metric: one of f1_score",
        ),
        (
            ["--env", "dev", "--version", "v", "--gate-threshold", "1.5"],
            "--gate-threshold: a number in [0, 1], got 1.5",
        ),
    ],
)
def test_report_option_conflicts_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], fragment: str
) -> None:
    assert main(["report", "--out", str(tmp_path / "r"), *options]) == 2

    assert fragment in _error_line(capsys)


# --- report: a trained version -----------------------------------------------------------------


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "evaluate"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:evaluate"
    aws_request_id: str = "request-1"


def _description(version: str, prefix: str, manifests: int = 2) -> dict[str, Any]:
    return {
        "ProjectVersionArn": version_arn(version),
        "CreationTimestamp": T0,
        "Status": "TRAINING_COMPLETED",
        "StatusMessage": "The model is ready to run.",
        "EvaluationResult": {
            "F1Score": 0.91,
            "Summary": {"S3Object": {"Bucket": ARTIFACTS, "Name": prefix + "summary.json"}},
        },
        "TestingDataResult": {
            "Output": {
                "Assets": [
                    {
                        "GroundTruthManifest": {
                            "S3Object": {"Bucket": ARTIFACTS, "Name": f"{prefix}eval-{n}.manifest"}
                        }
                    }
                    for n in range(manifests)
                ]
            }
        },
    }


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


@pytest.fixture
def rekognition(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedRekognition]:
    scripted = ScriptedRekognition()
    _replace_client(monkeypatch, "rekognition", scripted.client)
    with scripted.stubber:
        yield scripted
        scripted.stubber.assert_no_pending_responses()


def test_report_of_a_trained_version_equals_what_the_workflow_stores(
    aws: Aws,
    rekognition: ScriptedRekognition,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"models/{PROJECT}/v1/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=90, seed=5))
    write_summary(summary, LABELS, f1=0.9)
    lines = manifest.read_bytes().splitlines(keepends=True)
    aws.s3.put_object(Bucket=ARTIFACTS, Key=prefix + "eval-0.manifest", Body=b"".join(lines[:40]))
    aws.s3.put_object(Bucket=ARTIFACTS, Key=prefix + "eval-1.manifest", Body=b"".join(lines[40:]))
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    description = _description("v1", prefix)
    rekognition.project()
    rekognition.version("v1", [description])
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v1", "--out", str(out)]) == 0

    # The Evaluate step on the same version, with the environment's gate.
    monkeypatch.setenv("ARTIFACTS_BUCKET", ARTIFACTS)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ImageClassification/dev")
    monkeypatch.setattr(evaluate_handler, "s3", aws.s3)
    monkeypatch.setattr(evaluate_handler.metrics, "namespace", "ImageClassification/dev")
    job = {
        "project_name": PROJECT,
        "version_name": "v1",
        "report_prefix": f"reports/{PROJECT}/v1/",
        "gate": training.default_gate(training.environment("dev")),
    }
    evaluate_handler.lambda_handler({"job": job, "version": description}, LambdaContext())
    for name in ("metrics.json", "report.html"):
        stored = aws.s3.get_object(Bucket=ARTIFACTS, Key=f"reports/{PROJECT}/v1/{name}")
        assert (out / name).read_bytes() == stored["Body"].read(), name

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    expected = compute_metrics(parse_manifest(manifest, load_summary(summary)))
    assert {k: v for k, v in metrics.items() if k != "gate"} == json.loads(json.dumps(expected))
    # dev's gate on the service's F1 from the version description (0.91), not the summary's.
    assert metrics["gate"]["metric"] == "f1_score"
    assert metrics["gate"]["value"] == 0.91
    assert metrics["gate"]["passed"] is True
    assert "Gate: PASSED f1_score = 0.9100 (threshold 0.8500)" in capsys.readouterr().out


def test_report_finds_the_project_and_the_version_on_later_pages(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path
) -> None:
    """A filtered DescribeProjects/DescribeProjectVersions page may be empty with a NextToken."""
    prefix = f"models/{PROJECT}/v3/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=30, seed=3))
    write_summary(summary, LABELS)
    aws.s3.upload_file(str(manifest), ARTIFACTS, prefix + "eval-0.manifest")
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    rekognition.project(empty_pages=2)
    rekognition.version("v3", [_description("v3", prefix, manifests=1)], empty_pages=1)
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v3", "--out", str(out)]) == 0

    assert (out / "metrics.json").exists()


def test_report_of_a_trained_version_with_a_gate_override(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path
) -> None:
    prefix = f"models/{PROJECT}/v2/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=50, seed=2))
    write_summary(summary, LABELS)
    aws.s3.upload_file(str(manifest), ARTIFACTS, prefix + "eval-0.manifest")
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    rekognition.project()
    rekognition.version("v2", [_description("v2", prefix, manifests=1)])
    out = tmp_path / "report"

    code = run(
        "report",
        "--env=dev",
        f"--project={PROJECT}",
        "--version=v2",
        f"--out={out}",
        "--gate-threshold=0.95",
        "--min-label-recall=0.99",
    )

    assert code == 0
    gate = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["gate"]
    assert (gate["metric"], gate["threshold"], gate["passed"]) == ("f1_score", 0.95, False)
    assert any("recall of" in reason for reason in gate["reasons"])


def _without_evaluation(status: str, message: str) -> dict[str, Any]:
    return {
        "ProjectVersionArn": version_arn("v3"),
        "CreationTimestamp": T0,
        "Status": status,
        "StatusMessage": message,
    }


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("unknown project", "--project: no project named 'imgclf-dev-image-classifier'"),
        ("unknown version", "--version: project 'imgclf-dev-image-classifier' has no version 'v3'"),
        (
            "training",
            "version 'v3' has no evaluation: training has not finished (status "
            "TRAINING_IN_PROGRESS: The model is being trained.)",
        ),
        (
            "failed",
            "version 'v3' has no evaluation: training failed (status TRAINING_FAILED: "
            "The manifest file contains too many invalid data lines.)",
        ),
    ],
)
def test_report_of_a_version_that_cannot_be_reported(
    rekognition: ScriptedRekognition,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    script: str,
    fragment: str,
) -> None:
    rekognition.project(found=script != "unknown project")
    if script == "unknown version":
        rekognition.version("v3", [])
    elif script == "training":
        rekognition.version(
            "v3", [_without_evaluation("TRAINING_IN_PROGRESS", "The model is being trained.")]
        )
    elif script == "failed":
        message = "The manifest file contains too many invalid data lines."
        rekognition.version("v3", [_without_evaluation("TRAINING_FAILED", message)])
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v3", "--out", str(out)]) == 2

    assert fragment in _error_line(capsys)
    assert not out.exists()


def test_report_of_a_version_whose_files_are_gone(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rekognition.project()
    rekognition.version("v4", [_description("v4", f"models/{PROJECT}/v4/")])

    assert main(["report", "--env", "dev", "--version", "v4", "--out", str(tmp_path / "r")]) == 3

    assert "cannot read the evaluation files" in _error_line(capsys)

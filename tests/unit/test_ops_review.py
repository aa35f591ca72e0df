"""``ops review status`` and ``ops review start`` against moto (S3, Step Functions,
CloudFormation) and a stubbed SageMaker (moto has no labeling jobs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import ops.review
from ops.cli import main

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ARTIFACTS = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"
WORKTEAM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/reviewers"
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


class Deployed:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(
            Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="sfn", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        self.machine = self.sfn.create_state_machine(
            name="imgclf-dev-relabel-workflow", definition=json.dumps(PASS), roleArn=role
        )["stateMachineArn"]
        for name, outputs in (
            ("imgclf-dev-storage", {"ArtifactsBucketName": ARTIFACTS}),
            ("imgclf-dev-relabel", {"RelabelStateMachineArn": self.machine}),
        ):
            template = {
                "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()},
            }
            boto3.client("cloudformation", region_name=REGION).create_stack(
                StackName=name, TemplateBody=json.dumps(template)
            )
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.stubber = Stubber(self.sagemaker)
        real = ops.review.aws_client
        monkeypatch.setattr(
            ops.review,
            "aws_client",
            lambda service, region: (
                self.sagemaker if service == "sagemaker" else real(service, region)
            ),
        )

    def jobs(self, *running: str) -> None:
        """ListLabelingJobs for each active status, as SageMaker answers it."""
        for status in ("Initializing", "InProgress", "Stopping"):
            summaries = [
                {
                    "LabelingJobName": name,
                    "LabelingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{name}",
                    "CreationTime": "2026-12-01T20:00:00Z",
                    "LastModifiedTime": "2026-12-01T20:00:00Z",
                    "LabelingJobStatus": status,
                    "LabelCounters": {},
                    "WorkteamArn": WORKTEAM,
                }
                for name in running
                if status == "InProgress"
            ]
            self.stubber.add_response(
                "list_labeling_jobs",
                {"LabelingJobSummaryList": summaries},
                {
                    "NameContains": "imgclf-dev-relabel-",
                    "StatusEquals": status,
                    "MaxResults": 10,
                },
            )

    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.machine)["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield Deployed(monkeypatch)


def test_status_counts_pending_records_per_pipeline_and_shows_the_running_job(deployed, capsys):
    for key in (
        "review/rekognition/p/v1/incoming/a.jpg.json",
        "review/rekognition/p/v1/incoming/b.jpg.json",
        "sagemaker/review/sagemaker/inference/c.jpg.json",
        "relabel/done/review/rekognition/p/v1/incoming/old.jpg.json",  # done: not pending
    ):
        deployed.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"{}")
    deployed.jobs("imgclf-dev-relabel-20261201-200000-abcdef")

    with deployed.stubber:
        assert main(["review", "status", "--env", "dev"]) == 0

    printed = capsys.readouterr().out
    assert "rekognition  2" in printed
    assert "sagemaker    1" in printed
    assert "total        3" in printed
    assert "Labeling job under way: imgclf-dev-relabel-20261201-200000-abcdef" in printed
    assert "Relabel run under way: none" in printed
    deployed.stubber.assert_no_pending_responses()


def test_start_runs_the_workflow_with_the_workteam(deployed, capsys):
    assert (
        main(["review", "start", "--env", "dev", "--workteam", WORKTEAM, "--max-images", "20"]) == 0
    )

    (execution,) = deployed.executions()
    assert json.loads(execution["input"]) == {"workteam_arn": WORKTEAM, "max_images": 20}
    assert execution["executionArn"] in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "no workteam: pass --workteam"),
        (
            ["--workteam", "arn:aws:sagemaker:eu-west-1:1:workteam/x"],
            "--workteam must be a private",
        ),
        (
            ["--workteam", WORKTEAM, "--max-images", "0"],
            "--max-images must be a whole number 1-500",
        ),
    ],
)
def test_start_refuses_bad_arguments_before_calling_aws(deployed, capsys, arguments, message):
    assert main(["review", "start", "--env", "dev", *arguments]) == 2

    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert message in error
    assert deployed.executions() == []

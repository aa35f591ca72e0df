"""``python -m ops lineage`` against moto's S3 and CloudFormation (Rekognition stubbed: moto has
no Custom Labels projects), and ``ops approve``/``ops reject`` against moto's model registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import ops.lineage
from ops.cli import main
from tests.unit.test_lineage import record

REGION = "eu-west-1"
ARTIFACTS = "imgclf-dev-artifacts-bucket"
PROJECT = "imgclf-dev-image-classifier"
GROUP = "imgclf-dev-image-classifier"
IMAGE = f"685385470294.dkr.ecr.{REGION}.amazonaws.com/image-classification:1"
PROJECT_ARN = f"arn:aws:rekognition:{REGION}:123456789012:project/{PROJECT}/1700000000000"


@pytest.fixture
def aws(monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION})
        template = {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"ArtifactsBucketName": {"Value": ARTIFACTS}},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="imgclf-dev-storage", TemplateBody=json.dumps(template)
        )
        yield s3


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    return error


def put(s3: Any, key: str, body: Any) -> None:
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=body)


def test_prints_the_record_as_json(aws, capsys):
    data = record(project=PROJECT, version="v-run-1")
    put(aws, f"reports/{PROJECT}/v-run-1/lineage.json", json.dumps(data))

    assert main(["lineage", "--env", "dev", "--version", "v-run-1", "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["model_version_arn"] == data["model_version_arn"]
    assert printed["gate"]["passed"] is True


def test_prints_the_record_as_a_table(aws, capsys):
    put(aws, f"reports/{PROJECT}/v-run-1/lineage.json", json.dumps(record(version="v-run-1")))

    assert main(["lineage", "--env", "dev", "--version", "v-run-1"]) == 0

    out = " ".join(capsys.readouterr().out.split())
    assert "Lineage of v-run-1" in out
    assert "passed: f1_score = 0.9 (threshold 0.85)" in out
    assert "version v1, ETag" in out


def test_a_sagemaker_job_is_read_from_its_own_prefix(aws, capsys):
    job = "imgclf-dev-ic-0123456789ab"
    data = record(
        pipeline="sagemaker",
        project=GROUP,
        version=job,
        model_version_arn=f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{job}",
        datasets={},
        report_uri=None,
        model_artifacts_uri="s3://artifacts/job/model.tar.gz",
    )
    put(aws, f"sagemaker/reports/{job}/lineage.json", json.dumps(data))

    assert main(["lineage", "--env", "dev", "--version", job, "--json"]) == 0
    assert (
        json.loads(capsys.readouterr().out)["model_artifacts_uri"]
        == "s3://artifacts/job/model.tar.gz"
    )


def test_a_malformed_record_is_one_line_and_exit_1(aws, capsys):
    put(aws, f"reports/{PROJECT}/v1/lineage.json", json.dumps(record(schema_version=9)))

    assert main(["lineage", "--env", "dev", "--version", "v1"]) == 1
    error = one_line_error(capsys)
    assert "the lineage record is not valid" in error
    assert "schema_version: this reader knows version 1, got 9" in error


def stub_rekognition(monkeypatch, versions: list[dict[str, Any]]) -> Stubber:
    client = boto3.client("rekognition", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "describe_projects",
        {"ProjectDescriptions": [{"ProjectArn": PROJECT_ARN, "Status": "CREATED"}]},
        {"ProjectNames": [PROJECT]},
    )
    stubber.add_response(
        "describe_project_versions",
        {"ProjectVersionDescriptions": versions},
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["v-old"]},
    )
    stubber.activate()
    real = ops.lineage.aws_client
    monkeypatch.setattr(
        ops.lineage,
        "aws_client",
        lambda service, region: client if service == "rekognition" else real(service, region),
    )
    return stubber


def test_no_such_version_is_a_usage_error(aws, capsys, monkeypatch):
    stubber = stub_rekognition(monkeypatch, [])

    assert main(["lineage", "--env", "dev", "--version", "v-old"]) == 2
    assert f"no Rekognition version 'v-old' in {PROJECT}" in one_line_error(capsys)
    stubber.assert_no_pending_responses()


def test_a_version_without_a_record_says_why_there_may_be_none(aws, capsys, monkeypatch):
    arn = f"arn:aws:rekognition:{REGION}:123456789012:project/{PROJECT}/version/v-old/1"
    stub_rekognition(monkeypatch, [{"ProjectVersionArn": arn, "Status": "STOPPED"}])

    assert main(["lineage", "--env", "dev", "--version", "v-old"]) == 1
    error = one_line_error(capsys)
    assert "has no lineage record at s3://" in error
    assert "trained before lineage was recorded" in error


def test_a_missing_sagemaker_job_is_a_usage_error(aws, capsys):
    assert main(["lineage", "--env", "dev", "--version", "imgclf-dev-ic-000000000000"]) == 2
    assert "no SageMaker training job" in one_line_error(capsys)


def test_a_bad_version_name_is_refused_before_any_call(capsys):
    assert main(["lineage", "--env", "dev", "--version", "v 1"]) == 2
    assert "argument --version" in one_line_error(capsys)


def test_storage_not_deployed_is_an_environment_error(monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        assert main(["lineage", "--env", "dev", "--version", "v1"]) == 3
    assert "imgclf-dev-storage is not deployed" in one_line_error(capsys)


# --- approve / reject ------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        arn = sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": "s3://artifacts/job/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["application/x-image"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
        yield sagemaker, arn


def test_approve_records_the_approval(registry, capsys):
    sagemaker, arn = registry

    assert main(["approve", "--env", "dev", "--package", arn, "--comment", "looks good"]) == 0

    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "looks good"
    out = " ".join(capsys.readouterr().out.split())
    assert "PendingManualApproval -> Approved" in out
    assert "deploys directly from training" in out  # dev's sagemaker.training.deploy


def test_reject_records_the_reason_and_approving_twice_changes_nothing(registry, capsys):
    sagemaker, arn = registry

    assert main(["reject", "--env", "dev", "--package", arn, "--reason", "bias on class b"]) == 0
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"] == "bias on class b"
    assert main(["reject", "--env", "dev", "--package", arn, "--reason", "again"]) == 0
    assert "already Rejected: nothing changed" in capsys.readouterr().out
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ApprovalDescription"] == (
        "bias on class b"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--package", "arn:aws:sagemaker:eu-west-1:123456789012:model-package/other/1"], "group"),
        (
            ["--package", f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{GROUP}/9"],
            "no model package",
        ),
        (["--package", "model-package/x"], "not a versioned model package ARN"),
    ],
    ids=["other-group", "missing", "malformed"],
)
def test_approve_refuses_what_is_not_a_package_of_this_environment(registry, capsys, argv, message):
    assert main(["approve", "--env", "dev", *argv]) == 2
    assert message in one_line_error(capsys)


def test_reject_needs_a_reason(registry, capsys):
    _, arn = registry
    assert main(["reject", "--env", "dev", "--package", arn, "--reason", "  "]) == 2
    assert "--reason: say why" in one_line_error(capsys)


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_approve_and_reject_take_a_package_or_a_promotion_execution_not_both(command, capsys):
    reason = ["--reason", "r"] if command == "reject" else []
    assert main([command, "--env", "dev", *reason]) == 2
    assert "one of the arguments --package --execution is required" in one_line_error(capsys)
    package = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    execution = "arn:aws:states:eu-west-1:123456789012:execution:Promotion:promote-v1-1"
    both = ["--package", package, "--execution", execution]
    assert main([command, "--env", "dev", *both, *reason]) == 2
    assert "not allowed with argument" in one_line_error(capsys)

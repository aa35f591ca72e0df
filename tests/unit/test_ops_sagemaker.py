"""``python -m ops sagemaker ...`` against moto: stacks with outputs, stand-in state machines.

The stand-in state machines answer like the real workflows (same input, same output shape); the
real ones are executed in tests/workflows. Here the operator side is under test: argument
checks, uploads, which workflow starts with what input, and what is printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import ops.common
import ops.sagemaker
from ops.cli import main

REGION = "eu-west-1"
DATA = "imgclf-dev-data-bucket"
PREFIX = "sagemaker/inference/"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

IMAGE_RESULT = {
    "status": "classified",
    "s3_uri.$": "$.s3_uri",
    "label": "bicycle",
    "confidence": 0.97,
    "threshold": 0.9,
    "probabilities": {"bicycle": 0.97, "motorcycle": 0.03},
    "endpoint": "imgclf-dev-classifier",
}
BATCH_SUMMARY = {
    "prefix.$": "$.prefix",
    "threshold": 0.9,
    "total": 3,
    "classified": 1,
    "low_confidence": 1,
    "skipped": 0,
    "failed": 1,
    "failure_percentage": 33.33,
    "labels": {"bicycle": 1},
    "low_confidence_labels": {"motorcycle": 1},
    "failures": [{"s3_uri": "s3://b/x.jpg", "error": "NotAnImageError", "cause": "a GIF"}],
    "results_uri": "s3://artifacts/results/sagemaker/batch/run/manifest.json",
    "summary_uri": "s3://artifacts/results/sagemaker/batch/run/summary.json",
}
TRAINING_OUTCOME = {
    "outcome": "DEPLOYED",
    "training_job": "imgclf-dev-ic-0123456789ab",
    "endpoint": "imgclf-dev-classifier",
    "endpoint_config": "imgclf-dev-ic-0123456789ab",
    "evaluation": {"accuracy": 0.93, "threshold": 0.8, "model_artifacts": "s3://a/model.tar.gz"},
}


def passing(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Answer",
        "States": {"Answer": {"Type": "Pass", "Parameters": result, "End": True}},
    }


def failing(error: str, cause: str) -> dict[str, Any]:
    return {"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": error, "Cause": cause}}}


class Deployed:
    """The dev environment's storage and SageMaker stacks, as moto resources."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=DATA, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="sfn", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        self._role = role
        self.machines = {
            "ClassifyImageStateMachineArn": self.machine("image", passing(IMAGE_RESULT)),
            "ClassifyImageSyncStateMachineArn": self.machine("sync", passing(IMAGE_RESULT)),
            "ClassifyBatchStateMachineArn": self.machine("batch", passing(BATCH_SUMMARY)),
            "TrainingStateMachineArn": self.machine("train", passing(TRAINING_OUTCOME)),
        }
        self.stack("imgclf-dev-storage", {"DataBucketName": DATA})
        self.stack("imgclf-dev-sagemaker", dict(self.machines))

    def machine(self, name: str, definition: dict[str, Any]) -> str:
        return str(
            self.sfn.create_state_machine(
                name=name, definition=json.dumps(definition), roleArn=self._role
            )["stateMachineArn"]
        )

    def replace(self, output: str, definition: dict[str, Any]) -> None:
        self.sfn.update_state_machine(
            stateMachineArn=self.machines[output], definition=json.dumps(definition)
        )

    @staticmethod
    def stack(name: str, outputs: dict[str, str]) -> None:
        template = {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=name, TemplateBody=json.dumps(template)
        )

    def executions(self, output: str) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.machines[output])["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.fixture
def deployed(monkeypatch) -> Iterator[Deployed]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(ops.sagemaker, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(ops.sagemaker, "TRAIN_POLL_SECONDS", 0.01)
    with mock_aws(config=MOTO_CONFIG):
        yield Deployed()


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    return error


# --- classify -------------------------------------------------------------------------------


def test_classify_a_local_image_uploads_it_and_prints_the_label(deployed, tmp_path, capsys):
    (tmp_path / "bike.jpg").write_bytes(JPEG)

    code = main(["sagemaker", "classify", "--env", "dev", str(tmp_path / "bike.jpg")])

    assert code == 0
    (execution,) = deployed.executions("ClassifyImageStateMachineArn")
    request = json.loads(execution["input"])
    uri = request["s3_uri"]
    assert uri.startswith(f"s3://{DATA}/{PREFIX}ops/")
    assert uri.endswith("/bike.jpg")
    assert "confidence_threshold" not in request
    key = uri.removeprefix(f"s3://{DATA}/")
    assert deployed.s3.get_object(Bucket=DATA, Key=key)["Body"].read() == JPEG
    printed = capsys.readouterr().out
    assert "bicycle" in printed
    assert "0.970" in printed


def test_classify_an_s3_image_with_a_threshold(deployed, capsys):
    uri = f"s3://{DATA}/{PREFIX}already/there.png"

    code = main(["sagemaker", "classify", "--env", "dev", uri, "--threshold", "0.6"])

    assert code == 0
    (execution,) = deployed.executions("ClassifyImageStateMachineArn")
    assert json.loads(execution["input"]) == {"s3_uri": uri, "confidence_threshold": 0.6}


def test_low_confidence_is_shown_as_needing_review(deployed, tmp_path, capsys):
    deployed.replace(
        "ClassifyImageStateMachineArn",
        failing("LowConfidence", "Top label motorcycle has confidence 0.55"),
    )
    (tmp_path / "unsure.png").write_bytes(PNG)

    code = main(["sagemaker", "classify", "--env", "dev", str(tmp_path / "unsure.png")])

    assert code == 1
    printed = capsys.readouterr().out
    assert "Needs review" in printed
    assert "confidence 0.55" in printed


def test_classify_a_directory_runs_a_batch_of_its_images(deployed, tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("not an image")

    code = main(["sagemaker", "classify", "--env", "dev", str(tmp_path)])

    assert code == 0
    (execution,) = deployed.executions("ClassifyBatchStateMachineArn")
    prefix = json.loads(execution["input"])["prefix"]
    assert prefix.startswith(f"{PREFIX}ops/")
    assert prefix.endswith("/")
    keys = {
        item["Key"] for item in deployed.s3.list_objects_v2(Bucket=DATA, Prefix=prefix)["Contents"]
    }
    assert keys == {f"{prefix}a.jpg", f"{prefix}nested/b.png"}
    printed = capsys.readouterr().out
    assert "classified: bicycle" in printed
    assert "low confidence (review): motorcycle" in printed
    assert "NotAnImageError" in printed
    assert "summary.json" in printed


def test_classify_an_s3_prefix_runs_a_batch_without_uploading(deployed, capsys):
    code = main(["sagemaker", "classify", "--env", "dev", f"s3://{DATA}/{PREFIX}day-1/"])

    assert code == 0
    (execution,) = deployed.executions("ClassifyBatchStateMachineArn")
    assert json.loads(execution["input"]) == {"prefix": f"{PREFIX}day-1/"}
    assert "Contents" not in deployed.s3.list_objects_v2(Bucket=DATA)


def test_a_failed_batch_is_reported(deployed, capsys):
    deployed.replace(
        "ClassifyBatchStateMachineArn",
        failing("States.ExceedToleratedFailureThreshold", "too many failures"),
    )

    code = main(["sagemaker", "classify", "--env", "dev", f"s3://{DATA}/{PREFIX}day-1/"])

    assert code == 1
    assert "ExceedToleratedFailureThreshold" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("s3://other-bucket/sagemaker/inference/a.jpg", "outside the inference inputs"),
        (f"s3://{DATA}/elsewhere/a.jpg", f"use s3://{DATA}/{PREFIX}"),
        ("/no/such/file.jpg", "no such file or directory"),
    ],
)
def test_bad_targets_are_one_line_errors(deployed, capsys, target, message):
    assert main(["sagemaker", "classify", "--env", "dev", target]) == 2
    assert message in one_line_error(capsys)


def test_a_local_file_that_is_not_an_image_is_refused(deployed, tmp_path, capsys):
    (tmp_path / "cat.gif").write_bytes(b"GIF89a" + b"\x00" * 50)
    (tmp_path / "empty").mkdir()

    assert main(["sagemaker", "classify", "--env", "dev", str(tmp_path / "cat.gif")]) == 2
    assert "not a JPEG or PNG image (a GIF image)" in one_line_error(capsys)
    assert main(["sagemaker", "classify", "--env", "dev", str(tmp_path / "empty")]) == 2
    assert "no JPEG or PNG images" in one_line_error(capsys)
    assert deployed.executions("ClassifyImageStateMachineArn") == []


def test_an_undeployed_environment_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        assert main(["sagemaker", "classify", "--env", "dev", f"s3://{DATA}/{PREFIX}x.jpg"]) == 3
    assert "imgclf-dev-sagemaker is not deployed" in one_line_error(capsys)


def test_a_missing_local_file_is_refused_before_any_aws_call(monkeypatch, capsys):
    def no_aws(service, region):
        raise AssertionError("AWS was called")

    monkeypatch.setattr(ops.common, "client_factory", no_aws)

    assert main(["sagemaker", "classify", "--env", "dev", "x.jpg"]) == 2
    assert "x.jpg: no such file or directory" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high"])
def test_threshold_is_checked_by_argparse(capsys, value):
    assert main(["sagemaker", "classify", "--env", "dev", "x.jpg", "--threshold", value]) == 2
    assert "argument --threshold:" in one_line_error(capsys)


def test_image_problem_names_size_and_format(tmp_path, monkeypatch):
    monkeypatch.setattr(ops.sagemaker, "MAX_IMAGE_BYTES", 50)
    big = tmp_path / "big.jpg"
    big.write_bytes(JPEG)
    assert "larger than" in str(ops.sagemaker.image_problem(big))
    text = tmp_path / "a.txt"
    text.write_text("hello")
    assert "not a JPEG or PNG image" in str(ops.sagemaker.image_problem(text))


# --- train ----------------------------------------------------------------------------------


def put_training_data(s3: Any, channels: tuple[str, ...]) -> None:
    for channel in channels:
        s3.put_object(Bucket=DATA, Key=f"sagemaker/training/{channel}/x", Body=b"x")


def test_train_refuses_to_start_without_data(deployed, capsys):
    put_training_data(deployed.s3, ("train", "validation"))

    assert main(["sagemaker", "train", "--env", "dev"]) == 2

    error = one_line_error(capsys)
    assert f"s3://{DATA}/sagemaker/training/train_lst/" in error
    assert f"s3://{DATA}/sagemaker/training/validation_lst/" in error
    assert "sagemaker/training/train/" not in error
    assert deployed.executions("TrainingStateMachineArn") == []


def test_train_starts_and_follows_the_workflow(deployed, capsys):
    put_training_data(deployed.s3, ("train", "validation", "train_lst", "validation_lst"))

    assert main(["sagemaker", "train", "--env", "dev", "--wait"]) == 0

    (execution,) = deployed.executions("TrainingStateMachineArn")
    assert json.loads(execution["input"]) == {}
    printed = capsys.readouterr().out
    assert "Training DEPLOYED" in printed
    assert "0.9300 (gate 0.8)" in printed
    assert "imgclf-dev-classifier" in printed


def test_a_registered_model_is_reported_with_the_command_that_approves_it(deployed, capsys):
    """sagemaker.training.deploy = on_approval: the run ends REGISTERED, nothing deployed."""
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/imgclf-dev-image-classifier/3"
    registered = {
        **{key: value for key, value in TRAINING_OUTCOME.items() if "endpoint" not in key},
        "outcome": "REGISTERED",
        "model_package_arn": package,
        "lineage_uri": "s3://artifacts/sagemaker/reports/imgclf-dev-ic-0123456789ab/lineage.json",
    }
    deployed.replace("TrainingStateMachineArn", passing(registered))
    put_training_data(deployed.s3, ("train", "validation", "train_lst", "validation_lst"))

    assert main(["sagemaker", "train", "--env", "dev", "--wait"]) == 0

    printed = capsys.readouterr().out
    assert "Training REGISTERED" in printed
    assert f"python -m ops approve --env dev --package {package}\n" in printed
    assert "imgclf-dev-classifier" not in printed


def test_train_without_wait_only_starts(deployed, capsys):
    put_training_data(deployed.s3, ("train", "validation", "train_lst", "validation_lst"))

    assert main(["sagemaker", "train", "--env", "dev"]) == 0

    assert len(deployed.executions("TrainingStateMachineArn")) == 1
    assert "--wait" in capsys.readouterr().out


def test_a_rejected_or_failed_training_is_reported(deployed, capsys):
    put_training_data(deployed.s3, ("train", "validation", "train_lst", "validation_lst"))
    deployed.replace("TrainingStateMachineArn", failing("States.TaskFailed", "job failed"))

    assert main(["sagemaker", "train", "--env", "dev", "--wait"]) == 1
    assert "States.TaskFailed" in capsys.readouterr().out


def test_sagemaker_stack_name_matches_the_synthesized_one():
    """ops looks the stack up by name; stacks/environment.py names it imgclf-<env>-sagemaker."""
    from ops.common import environment, stack_name

    assert stack_name(environment("dev"), ops.sagemaker.CONCERN) == "imgclf-dev-sagemaker"


def test_path_helpers_do_not_touch_aws(tmp_path):
    (tmp_path / "a.jpg").write_bytes(JPEG)
    target = ops.sagemaker.parse_target(str(tmp_path), data_bucket=DATA, input_prefix=PREFIX)
    assert target.batch
    assert target.files == (Path(tmp_path / "a.jpg"),)

"""``ops train start``: the request checked before any AWS call, then started."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops import common
from ops.cli import main
from tests.unit.ops_training.support import (
    ACCOUNT,
    DATA,
    PROJECT,
    REGION,
    Aws,
    error_line,
    error_lines,
    run,
)

OTHER_DATASET = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shapes/dataset/train/1700000000001"


TRAIN_MANIFEST = f"s3://{DATA}/manifests/train.manifest"


TEST_MANIFEST = f"s3://{DATA}/manifests/test.manifest"


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
    lines = error_lines(capsys)
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

    monkeypatch.setattr(common, "client_factory", no_aws)

    code = run("train", "start", "--env", "dev", "--manifest", "notanuri", "--gate-threshold", "7")

    assert code == 2
    lines = error_lines(capsys)
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
    ) in error_line(capsys)
    assert aws.executions() == []


def test_start_refuses_a_manifest_that_does_not_exist(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "start", "--env", "dev", "--manifest", TRAIN_MANIFEST]) == 2

    assert f"--manifest: {TRAIN_MANIFEST} does not exist" in error_line(capsys)
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

    assert fragment in error_line(capsys)
    assert aws.executions() == []


def test_start_refuses_a_name_already_used(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "start", "--env", "dev", "--use-existing-datasets", "--name", "n"]) == 0
    capsys.readouterr()

    code = run("train", "start", "--env=dev", "--use-existing-datasets", "--name=n", "--version=v")

    assert code == 2
    assert "an execution named 'n' already exists" in error_line(capsys)
    assert len(aws.executions()) == 1


def test_start_needs_the_training_stack(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.cloudformation.delete_stack(StackName="imgclf-dev-rekognition-training")

    assert main(["train", "start", "--env", "dev", "--use-existing-datasets"]) == 3

    error = error_line(capsys)
    assert "stack imgclf-dev-rekognition-training is not deployed in this account and region" in (
        error
    )
    assert "make deploy ENV=dev" in error

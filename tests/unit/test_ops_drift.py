"""``python -m ops drift``: the evaluator's figures from a terminal, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

import ops.drift as drift_command
from contracts import drift as contract
from contracts.s3_layout import version_report_prefix
from ops.cli import main
from shared.drift_baseline import build_baseline, encode
from tests.drift_streams import MetricStore, Stream, emf_lines
from tests.unit.test_drift_evaluator import FakeSageMaker

ARTIFACTS = "imgclf-dev-artifacts-test"
PROJECT = "imgclf-dev-image-classifier"
PARAMETER = "/imgclf-dev/rekognition/model-version-arn"
ARN = f"arn:aws:rekognition:eu-west-1:123456789012:project/{PROJECT}/version/v1/1700000000000"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("COLUMNS", "250")
    with mock_aws():
        s3, ssm = boto3.client("s3"), boto3.client("ssm")
        s3.create_bucket(
            Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        store = MetricStore()
        clients = {"s3": s3, "ssm": ssm, "cloudwatch": store, "sagemaker": FakeSageMaker()}
        monkeypatch.setattr(
            drift_command, "aws_client", lambda service, region: clients.get(service)
        )
        monkeypatch.setattr(
            drift_command,
            "stack_outputs",
            lambda config, concern, cloudformation: {
                "ArtifactsBucketName": ARTIFACTS,
                "DataBucketName": "imgclf-dev-data-test",
            },
        )
        yield clients


def _serve_v1(aws: dict[str, Any], live: dict[str, float]) -> None:
    baseline = build_baseline(
        pipeline=contract.REKOGNITION,
        model="v1",
        test={"images": 1000, "label_counts": {"cat": 500, "dog": 500}, "abstention_rate": None},
        training=None,
    )
    key = version_report_prefix(PROJECT, "v1") + contract.BASELINE_FILE
    aws["s3"].put_object(Bucket=ARTIFACTS, Key=key, Body=encode(baseline))
    aws["ssm"].put_parameter(Name=PARAMETER, Value=ARN, Type="String")
    documents = emf_lines(
        contract.REKOGNITION, "v1", Stream(live, 1000), namespace="ImageClassification/dev"
    )
    aws["cloudwatch"].ingest(documents, at=datetime.now(UTC) - timedelta(hours=3))


def test_drift_is_shown_with_the_labels_that_moved_and_exit_code_1(aws, capsys):
    _serve_v1(aws, {"cat": 0.9, "dog": 0.1})
    assert main(["drift", "--env", "dev"]) == 1
    out = capsys.readouterr().out
    assert "Rekognition inference: v1" in out
    assert "DRIFT" in out
    assert "cat: 50.0% ->" in out
    assert "dog: 50.0% ->" in out
    assert "SageMaker inference: nothing running" in out
    # Read only: nothing written beside the baseline.
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=ARTIFACTS)["Contents"]]
    assert keys == [f"reports/{PROJECT}/v1/{contract.BASELINE_FILE}"]


def test_a_short_window_holds_too_few_images_and_stays_quiet(aws, capsys):
    _serve_v1(aws, {"cat": 0.9, "dog": 0.1})  # published three hours ago
    assert main(["drift", "--env", "dev", "--window", "2h"]) == 0
    out = capsys.readouterr().out
    assert "0 images" in out
    assert "quiet: 0 labelled images in the window" in out
    request = aws["cloudwatch"].requests[-1]
    assert request["EndTime"] - request["StartTime"] == timedelta(hours=2)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("24", "--window: write hours or days, such as 24h or 2d; got '24'"),
        ("0h", "--window: write hours or days, such as 24h or 2d; got '0h'"),
        ("8d", "--window: at most 168h (7d), got '8d'"),
    ],
)
def test_a_bad_window_is_one_line_and_exit_code_2(window, message, capsys):
    assert main(["drift", "--env", "dev", "--window", window]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1

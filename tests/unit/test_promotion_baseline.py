"""The promotion's baseline copy: the source version's baseline lands where this environment's
drift evaluator looks for the promoted version; a missing, unreadable or foreign document is
not copied and the result says why; a bad event is refused in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from contracts import drift as contract
from contracts.s3_layout import version_report_prefix
from rekognition_promotion import copy_baseline as module
from rekognition_promotion.source import PromotionRequestError
from shared.drift_baseline import build_baseline, encode

SOURCE, TARGET = "dev-artifacts", "prod-artifacts"
SOURCE_PROJECT, TARGET_PROJECT = "imgclf-dev-image-classifier", "imgclf-prod-image-classifier"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for bucket in (SOURCE, TARGET):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        yield client


def copy(s3: Any, version: str = "v3") -> dict[str, Any]:
    return module.copy_baseline(
        s3,
        source_bucket=SOURCE,
        source_project=SOURCE_PROJECT,
        target_bucket=TARGET,
        target_project=TARGET_PROJECT,
        source_version=version,
        target_version=version,
    )


def baseline(version: str) -> bytes:
    return encode(
        build_baseline(
            pipeline=contract.REKOGNITION,
            model=version,
            test={"images": 10, "label_counts": {"cat": 5, "dog": 5}},
            training=None,
        )
    )


def test_the_copy_lands_at_the_key_the_evaluator_reads_for_the_promoted_version(s3):
    body = baseline("v3")
    s3.put_object(Bucket=SOURCE, Key=f"reports/{SOURCE_PROJECT}/v3/baseline.json", Body=body)

    result = copy(s3)

    # Where the target's evaluator reads a running version's baseline (the Evaluate step's
    # layout, under the target's project; the promoted copy keeps its version name).
    key = version_report_prefix(TARGET_PROJECT, "v3") + contract.BASELINE_FILE
    assert key == f"reports/{TARGET_PROJECT}/v3/baseline.json"
    assert result == {
        "copied": True,
        "summary": f"s3://{TARGET}/{key} (from s3://{SOURCE}/reports/"
        f"{SOURCE_PROJECT}/v3/baseline.json)",
        "target_uri": f"s3://{TARGET}/{key}",
    }
    assert s3.get_object(Bucket=TARGET, Key=key)["Body"].read() == body


def test_a_version_without_a_baseline_is_not_copied_and_says_so(s3):
    result = copy(s3)
    assert result["copied"] is False
    assert result["summary"] == (
        f"not copied: s3://{SOURCE}/reports/{SOURCE_PROJECT}/v3/baseline.json does not exist "
        "(its evaluation wrote none); drift monitoring stays quiet for this version"
    )
    assert s3.list_objects_v2(Bucket=TARGET).get("KeyCount") == 0


def test_another_document_is_not_copied(s3):
    s3.put_object(
        Bucket=SOURCE,
        Key=f"reports/{SOURCE_PROJECT}/v3/baseline.json",
        Body=json.dumps({"schema": "something/else"}).encode(),
    )
    result = copy(s3)
    assert result["copied"] is False
    assert f"is not a {contract.BASELINE_SCHEMA} document" in result["summary"]


class Refusing:
    """GetObject answering as S3 does to a role the source's bucket or key policy refuses."""

    def __init__(self, code: str) -> None:
        self.code = code

    def get_object(self, **_params: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": self.code, "Message": "denied"}}, "GetObject")

    def put_object(self, **_params: Any) -> None:
        raise AssertionError("nothing is written")


@pytest.mark.parametrize("code", ["AccessDenied", "KMS.AccessDeniedException"])
def test_an_unreadable_source_is_not_copied_and_names_the_fix(code):
    result = copy(Refusing(code))
    assert result["copied"] is False
    assert f"is not readable ({code})" in result["summary"]
    assert "README, Promotion" in result["summary"]


def test_other_errors_reach_the_workflows_retry():
    with pytest.raises(ClientError):
        copy(Refusing("SlowDown"))


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({}, "source_version must be a version name (letters, digits, _.-), got None"),
        ({"source_version": "v1", "target_version": "a/b"}, "target_version must be"),
    ],
)
def test_a_bad_event_is_refused_in_one_line(event, problem, monkeypatch):
    for name in ("SOURCE_BUCKET", "SOURCE_PROJECT", "TARGET_BUCKET", "TARGET_PROJECT"):
        monkeypatch.setenv(name, "x")
    with pytest.raises(PromotionRequestError) as raised:
        module.lambda_handler(event, _Context())
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


class _Context:
    function_name = "copy-baseline"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111111111111:function:copy-baseline"
    aws_request_id = "request"

"""The synthesized single-image SageMaker workflows, executed locally.

Validate and Classify are the real handlers; S3 and SNS are moto; the endpoint's answers
(``sagemaker-runtime.InvokeEndpoint``, called by the Classify handler) are scripted, because
moto's endpoint cannot take image bytes (it decodes request bodies as UTF-8).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import MOTO_CONFIG, AwsError, LocalWorkflow, WorkflowRun
from tests.workflows.sagemaker_support import (
    ARTIFACTS_BUCKET,
    CLASSES,
    DATA_BUCKET,
    ENDPOINT,
    INPUT_PREFIX,
    REVIEW_PREFIX,
    STACK,
    answer,
    create_buckets,
    image,
    largest_state_payload,
    machine_id,
    read_json,
    script_endpoint,
)

HAPPY_PATH = ["Validate", "Classify", "Confident?", "Result", "Classified"]
#: A Step Functions state payload may not exceed 256 KiB.
PAYLOAD_LIMIT = 256 * 1024


class Single:
    """One deployed single-image state machine plus the buckets it reads and writes."""

    def __init__(self, templates: dict[str, Any], construct: str) -> None:
        self.s3 = create_buckets()
        self.workflow = LocalWorkflow(
            templates, STACK, machine_id(templates[STACK], f"Inference{construct}")
        )

    def put(self, name: str, body: bytes) -> str:
        key = f"{INPUT_PREFIX}{name}"
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
        return f"s3://{DATA_BUCKET}/{key}"

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowRun:
        return self.workflow.run(execution_input, name=name)


@pytest.fixture
def single(dev_templates) -> Iterator[Single]:
    with mock_aws(config=MOTO_CONFIG):
        yield Single(dev_templates, "ClassifyImage")


def notification(run: WorkflowRun) -> dict[str, Any]:
    (published,) = run.published()
    return published


def test_confident_image_succeeds_with_the_inference(single):
    jpeg = image(20_000)
    uri = single.put("bike.jpg", jpeg)
    script_endpoint(single.workflow, answer([0.03, 0.97]))

    run = single.run({"s3_uri": uri}, "confident")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output == {
        "status": "classified",
        "s3_uri": uri,
        "label": "motorcycle",
        "confidence": 0.97,
        "threshold": 0.9,
        "probabilities": {"bicycle": 0.03, "motorcycle": 0.97},
        "endpoint": ENDPOINT,
    }
    assert run.entered == HAPPY_PATH
    assert run.published() == []
    (invocation,) = run.handler_calls["sagemaker-runtime.InvokeEndpoint"]
    assert invocation["EndpointName"] == ENDPOINT
    assert invocation["ContentType"] == "image/jpeg"
    assert invocation["Accept"] == "application/json"
    assert invocation["Body"] == jpeg  # the endpoint got the image, read from S3 ...
    assert largest_state_payload(run.history) < 2048  # ... and the workflow only a reference
    assert "Contents" not in single.s3.list_objects_v2(Bucket=ARTIFACTS_BUCKET)


def test_png_is_sent_as_png(single):
    uri = single.put("bike.png", image(5_000, kind="png"))
    script_endpoint(single.workflow, answer([0.99, 0.01]))

    run = single.run({"s3_uri": uri}, "png")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["label"] == "bicycle"
    (invocation,) = run.handler_calls["sagemaker-runtime.InvokeEndpoint"]
    assert invocation["ContentType"] == "image/png"


def test_low_confidence_is_recorded_for_review_and_fails_without_a_notification(single):
    """#15, no floods: on-call hears of drift from the low-confidence ratio alarm, not of each
    unsure image."""
    uri = single.put("blurry/photo.jpg", image(8_000))
    script_endpoint(single.workflow, answer([0.45, 0.55]))

    run = single.run({"s3_uri": uri}, "unsure")

    assert run.status == "FAILED"
    assert run.error == "LowConfidence"
    assert "motorcycle" in run.cause
    assert "0.55" in run.cause
    assert "below the threshold 0.9" in run.cause
    assert run.entered == [
        "Validate",
        "Classify",
        "Confident?",
        "RecordForReview",
        "LowConfidence",
        "NeedsReview",
    ]
    review_key = f"{REVIEW_PREFIX}{INPUT_PREFIX}blurry/photo.jpg.json"
    record = read_json(single.s3, ARTIFACTS_BUCKET, review_key)
    assert record["image"]["s3_uri"] == uri
    assert record["threshold"] == 0.9
    assert record["inference"]["probabilities"] == {"bicycle": 0.45, "motorcycle": 0.55}
    head = single.s3.head_object(Bucket=ARTIFACTS_BUCKET, Key=review_key)
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["execution"].endswith(":unsure")
    assert f"s3://{ARTIFACTS_BUCKET}/{review_key}" in run.cause
    assert run.published() == []


@pytest.fixture(scope="module")
def notifying_templates(cdk_context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    context = copy.deepcopy(cdk_context)
    context["defaults"]["sagemaker"]["notify_low_confidence"] = True
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


def test_low_confidence_is_notified_when_configured(notifying_templates):
    with mock_aws(config=MOTO_CONFIG):
        single = Single(notifying_templates, "ClassifyImage")
        uri = single.put("blurry/photo.jpg", image(8_000))
        script_endpoint(single.workflow, answer([0.45, 0.55]))

        run = single.run({"s3_uri": uri}, "unsure-notified")

    assert run.status == "FAILED"
    assert run.error == "LowConfidence"
    assert run.entered[-3:] == ["LowConfidence", "NotifyFailure", "Failed"]
    review_key = f"{REVIEW_PREFIX}{INPUT_PREFIX}blurry/photo.jpg.json"
    message = notification(run)
    assert message["subject"] == "[dev] SageMaker classify image FAILED"
    assert "Error: LowConfidence" in message["Message"]
    assert f"s3://{ARTIFACTS_BUCKET}/{review_key}" in message["Message"]


def test_threshold_can_be_lowered_per_execution(single):
    uri = single.put("unsure.jpg", image(8_000))
    script_endpoint(single.workflow, answer([0.45, 0.55]))

    run = single.run({"s3_uri": uri, "confidence_threshold": 0.5}, "lowered")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["threshold"] == 0.5
    assert run.output["label"] == "motorcycle"


def test_one_megabyte_image_travels_by_reference(single):
    big = image(1024 * 1024, kind="png")
    uri = single.put("big.png", big)
    script_endpoint(single.workflow, answer([0.92, 0.08]))

    run = single.run({"s3_uri": uri}, "one-mb")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["label"] == "bicycle"
    (invocation,) = run.handler_calls["sagemaker-runtime.InvokeEndpoint"]
    assert invocation["Body"] == big
    # Base64 in the state (the original design) would need 1.4 MB, five times the limit.
    assert len(big) * 4 / 3 > 5 * PAYLOAD_LIMIT
    assert largest_state_payload(run.history) < 2048


def test_missing_object_fails_before_the_endpoint_is_called(single):
    run = single.run({"s3_uri": f"s3://{DATA_BUCKET}/{INPUT_PREFIX}nope.jpg"}, "missing")

    assert run.status == "FAILED"
    assert run.error == "ImageNotFoundError"
    assert "nope.jpg does not exist" in run.cause
    assert run.entered == ["Validate", "NotifyFailure", "Failed"]
    assert "sagemaker-runtime.InvokeEndpoint" not in run.handler_calls
    assert "ImageNotFoundError" in notification(run)["Message"]
    assert run.retry_sleeps == []  # not a transient error


def test_an_object_that_cannot_be_decrypted_is_reported_as_access_denied(single):
    """HeadObject succeeds (metadata needs no key); the ranged GetObject is refused by KMS."""
    uri = single.put("encrypted-elsewhere.jpg", image(4_000))
    denied = (
        "User: arn:aws:sts::123456789012:assumed-role/validate/fn is not authorized to perform: "
        "kms:Decrypt on resource: arn:aws:kms:eu-west-1:123456789012:key/other because no "
        "identity-based policy allows the kms:Decrypt action"
    )
    single.workflow.script("s3", "GetObject", AwsError("AccessDenied", denied, 403))

    run = single.run({"s3_uri": uri}, "kms-denied")

    assert run.status == "FAILED"
    assert run.error == "ImageAccessDeniedError"
    assert "does not exist" not in run.cause
    assert "GetObject was denied (AccessDenied" in run.cause
    assert "kms:Decrypt" in run.cause
    assert run.entered == ["Validate", "NotifyFailure", "Failed"]
    assert run.retry_sleeps == []  # a refusal is not retried
    assert len(run.handler_calls["s3.HeadObject"]) == 1
    assert "sagemaker-runtime.InvokeEndpoint" not in run.handler_calls
    message = notification(run)["Message"]
    assert "Error: ImageAccessDeniedError" in message
    assert "kms:Decrypt" in message


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b"%PDF-1.7\n" + b"\x00" * 400, "not an image"),
        (b"GIF89a" + b"\x00" * 400, "a GIF image"),
        (b"", "is empty"),
    ],
)
def test_not_an_image_fails_with_a_clear_error(single, body, found):
    uri = single.put("document.jpg", body)

    run = single.run({"s3_uri": uri}, "not-an-image")

    assert run.status == "FAILED"
    assert run.error == "NotAnImageError"
    assert found in run.cause
    assert run.entered == ["Validate", "NotifyFailure", "Failed"]
    assert "sagemaker-runtime.InvokeEndpoint" not in run.handler_calls
    assert found in notification(run)["Message"]


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({}, "s3_uri is required"),
        ({"s3_uri": "s3://somewhere-else/x.jpg"}, "outside the inference inputs"),
        (
            {"s3_uri": f"s3://{DATA_BUCKET}/{INPUT_PREFIX}a.jpg", "confidence_threshold": 2},
            "[0, 1]",
        ),
        ({"s3_uri": f"s3://{DATA_BUCKET}/{INPUT_PREFIX}a.jpg", "threshold": 0.5}, "unknown field"),
    ],
)
def test_invalid_input_is_rejected(single, execution_input, message):
    run = single.run(execution_input, "invalid")

    assert run.status == "FAILED"
    assert run.error == "InvalidRequestError"
    assert message in run.cause
    assert run.entered == ["Validate", "NotifyFailure", "Failed"]


def test_throttled_endpoint_is_retried_with_backoff_then_succeeds(single):
    uri = single.put("busy.jpg", image(4_000))
    throttled = AwsError("ThrottlingException", "Rate exceeded")
    script_endpoint(single.workflow, throttled, throttled, answer([0.01, 0.99]))

    run = single.run({"s3_uri": uri}, "throttled-then-ok")

    assert run.status == "SUCCEEDED", run.cause
    assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 3
    # Two back-offs with full jitter: within [0, 2 s] and [0, 4 s].
    assert len(run.retry_sleeps) == 2
    assert 0 <= run.retry_sleeps[0] <= 2
    assert 0 <= run.retry_sleeps[1] <= 4
    assert run.entered == HAPPY_PATH


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (AwsError("ThrottlingException", "Rate exceeded"), "EndpointThrottledError"),
        (
            AwsError("ModelError", "Received server error (500) from primary", 424),
            "EndpointModelError",
        ),
    ],
)
def test_endpoint_errors_are_retried_then_fail_and_notify(single, error, name):
    uri = single.put("broken.jpg", image(4_000))
    script_endpoint(single.workflow, error)

    run = single.run({"s3_uri": uri}, "endpoint-down")

    assert run.status == "FAILED"
    assert run.error == name
    # The guard's retry: MaxAttempts 5 = the first call and 5 retries after jittered back-offs.
    assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 6
    assert len(run.retry_sleeps) == 5
    assert run.entered == ["Validate", "Classify", "NotifyFailure", "Failed"]
    assert name in notification(run)["Message"]


def test_missing_endpoint_is_not_retried(single):
    uri = single.put("a.jpg", image(4_000))
    script_endpoint(
        single.workflow, AwsError("ValidationError", f"Endpoint {ENDPOINT} of account x not found.")
    )

    run = single.run({"s3_uri": uri}, "no-endpoint")

    assert run.status == "FAILED"
    assert run.error == "EndpointNotFoundError"
    assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 1
    assert "python -m ops sagemaker train" in run.cause


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (json.dumps([0.2, 0.3, 0.5]).encode(), "3 probabilities for 2 configured class names"),
        (json.dumps({"label": "bicycle"}).encode(), "expected a JSON array"),
    ],
)
def test_malformed_endpoint_answer_fails_without_retry(single, body, message):
    uri = single.put("a.jpg", image(4_000))
    script_endpoint(single.workflow, answer(body))

    run = single.run({"s3_uri": uri}, "malformed")

    assert run.status == "FAILED"
    assert run.error == "MalformedEndpointResponseError"
    assert message in run.cause
    assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 1
    assert run.retry_sleeps == []
    assert run.entered == ["Validate", "Classify", "NotifyFailure", "Failed"]


def test_jsonlines_answer_is_understood(single):
    uri = single.put("a.jpg", image(4_000))
    script_endpoint(single.workflow, answer(json.dumps({"prediction": [0.93, 0.07]}).encode()))

    run = single.run({"s3_uri": uri}, "jsonlines")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["label"] == CLASSES[0]


def test_express_variant_runs_the_same_definition(dev_templates):
    with mock_aws(config=MOTO_CONFIG):
        sync = Single(dev_templates, "ClassifyImageSync")
        machine = dev_templates[STACK]["Resources"][sync.workflow.arn.rsplit(":", 1)[-1]]
        assert machine["Properties"]["StateMachineType"] == "EXPRESS"
        uri = sync.put("a.jpg", image(4_000))
        script_endpoint(sync.workflow, answer([0.05, 0.95]))

        run = sync.run({"s3_uri": uri}, "express")

        assert run.status == "SUCCEEDED", run.cause
        assert run.entered == HAPPY_PATH
        assert run.output["label"] == "motorcycle"

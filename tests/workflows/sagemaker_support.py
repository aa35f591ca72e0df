"""Shared setup of the SageMaker workflow tests: buckets, images, a scripted endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from tests.workflows.harness import ACCOUNT, REGION, LocalWorkflow

STACK = "imgclf-dev-sagemaker"
DATA_BUCKET = f"imgclf-dev-data-{ACCOUNT}-{REGION}"
ARTIFACTS_BUCKET = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"
INPUT_PREFIX = "sagemaker/inference/"
REVIEW_PREFIX = "sagemaker/review/"
ENDPOINT = "imgclf-dev-classifier"
CLASSES = ("bicycle", "motorcycle")

JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def image(size: int, *, kind: str = "jpeg", marker: str = "") -> bytes:
    """``size`` bytes that start like a JPEG or PNG; ``marker`` tells the scripted endpoint
    what to answer (see :func:`endpoint_by_marker`)."""
    magic = JPEG_MAGIC if kind == "jpeg" else PNG_MAGIC
    head = magic + marker.encode()
    filler = bytes(range(256)) * ((size - len(head)) // 256 + 1)
    return head + filler[: size - len(head)]


def machine_id(template: Mapping[str, Any], construct: str) -> str:
    """Logical id of the state machine of the Workflow ``construct`` (e.g. ``ClassifyImage``)."""
    (logical_id,) = [
        key
        for key, value in template["Resources"].items()
        if value["Type"] == "AWS::StepFunctions::StateMachine"
        and key.startswith(f"{construct}StateMachine")
    ]
    return logical_id


def create_buckets() -> Any:
    """The storage stack's buckets (the SageMaker stack imports them by name)."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def answer(probabilities: list[float] | bytes) -> dict[str, Any]:
    """An InvokeEndpoint response as the built-in algorithm gives it (application/json)."""
    body = probabilities if isinstance(probabilities, bytes) else json.dumps(probabilities)
    return {
        "Body": body,
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }


#: What the scripted endpoint answers for an image carrying each marker.
MARKED_ANSWERS: dict[str, list[float]] = {
    "bicycle": [0.96, 0.04],
    "motorcycle": [0.02, 0.98],
    "unsure": [0.45, 0.55],
}


def endpoint_by_marker(params: Mapping[str, Any]) -> dict[str, Any]:
    """An endpoint that classifies by the marker written after the image's magic bytes."""
    body: bytes = params["Body"]
    for marker, probabilities in MARKED_ANSWERS.items():
        if marker.encode() in body[:64]:
            return answer(probabilities)
    return answer(MARKED_ANSWERS["unsure"])


def script_endpoint(workflow: LocalWorkflow, *answers: Any) -> None:
    workflow.script("sagemaker-runtime", "InvokeEndpoint", *answers)


def largest_state_payload(history: list[dict[str, Any]]) -> int:
    """Bytes of the largest input or output any state had in this execution."""
    sizes = [0]
    for event in history:
        for details in event.values():
            if isinstance(details, dict):
                for field in ("input", "output"):
                    if isinstance(details.get(field), str):
                        sizes.append(len(details[field].encode()))
    return max(sizes)


def read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


Scripted = Callable[[Mapping[str, Any]], Any]

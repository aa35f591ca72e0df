"""Shared setup of the SageMaker workflow tests: buckets, images, a scripted endpoint."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.session
from botocore.model import Shape

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


@functools.cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def conforming(service: str, operation: str, response: Mapping[str, Any]) -> dict[str, Any]:
    """``response``, after checking it against botocore's output shape of the operation.

    A scripted answer is only evidence if AWS could have sent it: every field is a member of
    the shape, every required member is there, enums hold one of their values, timestamps are
    datetimes (as botocore parses them). Raises AssertionError naming the first mismatch.
    """
    shape = _service_model(service).operation_model(operation).output_shape
    _check(shape, response, f"{service}.{operation}")
    return dict(response)


def _check(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, Mapping), f"{path}: expected an object, got {value!r}"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: {sorted(unknown)} are not members of {shape.name}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{path}: required {sorted(missing)} missing"
        for name, member in value.items():
            _check(shape.members[name], member, f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list"
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(value, Mapping), f"{path}: expected a map"
        for key, item in value.items():
            _check(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} is not one of {shape.enum}"
    elif kind in ("integer", "long", "float", "double"):
        assert not isinstance(value, bool), f"{path}: a boolean is not a number"
        allowed = int if kind in ("integer", "long") else int | float
        assert isinstance(value, allowed), f"{path}: not a {kind}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: not a boolean"
    elif kind == "timestamp":
        assert isinstance(value, datetime.datetime), f"{path}: botocore parses a datetime"

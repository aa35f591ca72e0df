"""What the inference consumer's tests share: the moto pipeline, the cases' builders, calls."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from rekognition_inference import handler as consumer
from tests.unit.rekognition_support import (
    PNG,
    FakeDetect,
    LambdaContext,
    drain,
    eventbridge_body,
    object_details,
    sqs_record,
)

DATA = "imgclf-test-data"


ARTIFACTS = "imgclf-test-artifacts"


PARAMETER = "/imgclf-test/rekognition/model-version-arn"


PROJECT, VERSION = "shapes", "shapes.v1"


MAX_OBJECT = 15 * 1024 * 1024


@dataclass
class Pipeline:
    s3: Any
    sqs: Any
    ssm: Any
    queue_url: str
    dlq_url: str
    detect: FakeDetect
    #: The consumer's own S3 calls, by operation name (the fake service's reads are not in it).
    s3_calls: list[str]

    def upload(self, key: str, body: bytes, **extra: Any) -> None:
        self.s3.put_object(Bucket=DATA, Key=key, Body=body, **extra)

    def event(self, key: str, **details: Any) -> str:
        """The EventBridge event S3 sends for ``key`` as it is now (``details`` override)."""
        return eventbridge_body(DATA, key, **{**object_details(self.s3, DATA, key), **details})

    def reads(self) -> int:
        """How many times the consumer read an input object."""
        return self.s3_calls.count("GetObject")

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def run(self, **kwargs: Any) -> int:
        return drain(self.sqs, self.queue_url, consumer.lambda_handler, **kwargs)

    def dead_letters(self) -> list[str]:
        bodies = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=300
            ).get("Messages", [])
            if not messages:
                return bodies
            bodies += [message["Body"] for message in messages]

    def artifact(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        document: dict[str, Any] = json.loads(body)
        return document

    def artifact_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=ARTIFACTS)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@functools.cache
def _clients() -> tuple[Any, Any, Any]:
    """Created once (creating boto3 clients is slow); moto intercepts them in every test."""
    return boto3.client("s3"), boto3.client("sqs"), boto3.client("ssm")


def _deleted(key: str, *, versioned_event: bool = True) -> Callable[[Pipeline], str]:
    """Uploaded, the event sent, then deleted for good (every version) before processing.

    Without ``versioned_event`` the event names no version (an unversioned bucket) and only a
    delete marker hides the object.
    """

    def prepare(p: Pipeline) -> str:
        p.upload(key, PNG)
        body = p.event(key) if versioned_event else p.event(key, version_id=None)
        if versioned_event:
            for version in p.s3.list_object_versions(Bucket=DATA, Prefix=key)["Versions"]:
                p.s3.delete_object(Bucket=DATA, Key=key, VersionId=version["VersionId"])
        else:
            p.s3.delete_object(Bucket=DATA, Key=key)
        return body

    return prepare


K = "incoming/cases/"


# --------------------------------------------------------------------------------------------
# Idempotency: redeliveries overwrite the same keys or keep what is there
# --------------------------------------------------------------------------------------------


def invoke(body: str, receive_count: int, message_id: str = "m-1") -> dict[str, Any]:
    message = {
        "MessageId": message_id,
        "ReceiptHandle": "r",
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1767254400000",
        },
    }
    event = {"Records": [sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:inference")]}
    return consumer.lambda_handler(event, LambdaContext())

"""The inference consumer, driven through its real Lambda handler with moto S3/SQS/SSM.

DetectCustomLabels answers are scripted with the response shapes and error codes AWS documents,
after the fake has read the object as the service does (so a missing, archived or non-image
object is rejected by "the service" and diagnosed by the consumer). The core property: every
input ends in exactly one of a result, an error record, or the dead-letter queue (after
``maxReceiveCount`` receives) - nothing loops, nothing is lost. Events carry what S3 says about
the object (size, ETag, version id) unless a case says otherwise.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from moto import mock_aws

from rekognition_inference import handler as consumer
from rekognition_inference import locations
from rekognition_inference.messages import parse_body
from rekognition_inference.processing import RatePacer
from stacks.pipelines.rekognition_inference import MAX_RECEIVE_COUNT
from tests.unit.rekognition_support import (
    GIF,
    JPEG,
    MODEL_ARN,
    PNG,
    FakeDetect,
    LambdaContext,
    ServiceError,
    drain,
    emf_records,
    eventbridge_body,
    labels,
    metric_total,
    notification_body,
    object_details,
    s3_test_event_body,
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


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "rekognition-inference",
        "POWERTOOLS_METRICS_NAMESPACE": "ImageClassification/test",
        "DATA_BUCKET": DATA,
        "ARTIFACTS_BUCKET": ARTIFACTS,
        "INPUT_PREFIX": "incoming/",
        "MIN_CONFIDENCE": "0.5",
        "REVIEW_THRESHOLD": "0.8",
        "PROJECT_NAME": PROJECT,
        "MODEL_VERSION_ARN": "",
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "DETECT_CONCURRENCY": "4",
        "INVOCATION_TPS": "0",
    }.items():
        monkeypatch.setenv(name, value)


@functools.cache
def _clients() -> tuple[Any, Any, Any]:
    """Created once (creating boto3 clients is slow); moto intercepts them in every test."""
    return boto3.client("s3"), boto3.client("sqs"), boto3.client("ssm")


@pytest.fixture
def pipeline(environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    # Powertools reads these when the module is imported, which may have been before the fixture.
    monkeypatch.setattr(consumer.metrics, "namespace", "ImageClassification/test")
    monkeypatch.setattr(consumer.metrics, "service", "rekognition-inference")
    with mock_aws():
        parameters.clear_caches()
        s3, sqs, ssm = _clients()
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
        dlq_url = sqs.create_queue(QueueName="inference-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName="inference",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                )
            },
        )["QueueUrl"]
        ssm.put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
        detect = FakeDetect(storage=s3)
        detect.install(consumer.runtime().classifier._rekognition)
        s3_calls: list[str] = []
        consumer_s3 = consumer.runtime().classifier._s3
        consumer_s3.meta.events.register(
            "before-call.s3",
            lambda model, **_: s3_calls.append(model.name),
            unique_id="count-s3-calls",
        )
        yield Pipeline(s3, sqs, ssm, queue_url, dlq_url, detect, s3_calls)
        consumer_s3.meta.events.unregister("before-call.s3", unique_id="count-s3-calls")
        if consumer.runtime().pinned_arn:  # built by a test that changed the environment
            consumer.runtime.cache_clear()


# --------------------------------------------------------------------------------------------
# The bad-input matrix: every case through the real handler, redeliveries included
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One input: how it is set up, and the single place it must end."""

    name: str
    prepare: Callable[[Pipeline], str]  # returns the message body
    expected: str  # "result", "review", "error:<reason>" or "dlq"
    key: str | None = None  # the image key, for image inputs


def _upload_and_notify(
    key: str, body: bytes, *answers: Any, details: dict[str, Any] | None = None, **extra: Any
) -> Callable[[Pipeline], str]:
    """Upload, script the service, and send the event (``details`` override what it says)."""

    def prepare(p: Pipeline) -> str:
        p.upload(key, body, **extra)
        if answers:
            p.detect.on(key, *answers)
        return p.event(key, **(details or {}))

    return prepare


def _without_size(key: str, body: bytes) -> Callable[[Pipeline], str]:
    """An event that says nothing about the object: the consumer reads it first."""

    def prepare(p: Pipeline) -> str:
        p.upload(key, body)
        return eventbridge_body(DATA, key)

    return prepare


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


def _classic(key: str) -> Callable[[Pipeline], str]:
    def prepare(p: Pipeline) -> str:
        p.upload(key, PNG)
        return notification_body(DATA, key, **object_details(p.s3, DATA, key))

    return prepare


def _encoded(key: str, body: bytes) -> Callable[[Pipeline], str]:
    """An EventBridge event whose key came URL-encoded; only the decoded key exists."""

    def prepare(p: Pipeline) -> str:
        p.upload(key, body)
        encoded = quote_plus(key, safe="/")
        assert encoded != key
        return eventbridge_body(DATA, encoded, **object_details(p.s3, DATA, key))

    return prepare


def _body(text: str, upload: str | None = None) -> Callable[[Pipeline], str]:
    def prepare(p: Pipeline) -> str:
        if upload:
            p.upload(upload, PNG)
        return text

    return prepare


K = "incoming/cases/"
CASES = [
    Case("valid-png", _upload_and_notify(f"{K}circle.png", PNG), "result", f"{K}circle.png"),
    Case(
        "low-confidence-jpeg",
        _upload_and_notify(f"{K}blurry.jpg", JPEG, labels(("square", 61.0), ("circle", 30.0))),
        "review",
        f"{K}blurry.jpg",
    ),
    Case(
        "no-label-above-min-confidence",
        _upload_and_notify(f"{K}nothing.png", PNG, {"CustomLabels": []}),
        "review",
        f"{K}nothing.png",
    ),
    Case(
        "classic-notification-url-encoded-key",
        _classic(f"{K}red flower+1 (copy).png"),
        "result",
        f"{K}red flower+1 (copy).png",
    ),
    Case(
        "eventbridge-key-with-spaces",
        _upload_and_notify(f"{K}a photo (1).png", PNG),
        "result",
        f"{K}a photo (1).png",
    ),
    Case(
        "eventbridge-key-url-encoded",
        _encoded(f"{K}encoded name.png", PNG),
        "result",
        f"{K}encoded name.png",
    ),
    Case(
        "eventbridge-key-url-encoded-empty",
        _encoded(f"{K}encoded empty.png", b""),
        "error:empty_object",
        f"{K}encoded empty.png",
    ),
    Case(
        "event-without-object-details",
        _without_size(f"{K}plain.png", PNG),
        "result",
        f"{K}plain.png",
    ),
    Case(
        "object-missing",
        _body(eventbridge_body(DATA, f"{K}never-uploaded.png", size=70, etag="0" * 32)),
        "error:object_missing",
        f"{K}never-uploaded.png",
    ),
    Case(
        "deleted-before-processing",
        _deleted(f"{K}deleted.png"),
        "error:object_missing",
        f"{K}deleted.png",
    ),
    Case(
        "deleted-before-processing-event-without-version",
        _deleted(f"{K}deleted-unversioned.png", versioned_event=False),
        "error:object_missing",
        f"{K}deleted-unversioned.png",
    ),
    Case(
        "zero-bytes",
        _upload_and_notify(f"{K}empty.png", b""),
        "error:empty_object",
        f"{K}empty.png",
    ),
    Case(
        "zero-bytes-event-without-size",
        _without_size(f"{K}empty-unsized.png", b""),
        "error:empty_object",
        f"{K}empty-unsized.png",
    ),
    Case(
        "larger-than-15-mb",
        _upload_and_notify(f"{K}huge.png", PNG + bytes(MAX_OBJECT)),
        "error:object_too_large",
        f"{K}huge.png",
    ),
    Case(
        "larger-than-15-mb-event-without-size",
        _without_size(f"{K}huge-unsized.png", PNG + bytes(MAX_OBJECT)),
        "error:object_too_large",
        f"{K}huge-unsized.png",
    ),
    Case(
        "archived",
        _upload_and_notify(f"{K}cold.png", PNG, StorageClass="GLACIER"),
        "error:archived_object",
        f"{K}cold.png",
    ),
    Case(
        "gif-named-jpg",
        _upload_and_notify(f"{K}animated.jpg", GIF),
        "error:unsupported_format",
        f"{K}animated.jpg",
    ),
    Case(
        "text-named-png",
        _upload_and_notify(f"{K}notes.png", b"just some text, not an image"),
        "error:unsupported_format",
        f"{K}notes.png",
    ),
    Case(
        "gif-named-png-event-without-size",
        _without_size(f"{K}animated-unsized.png", GIF),
        "error:unsupported_format",
        f"{K}animated-unsized.png",
    ),
    Case(
        "corrupt-jpeg",
        _upload_and_notify(
            f"{K}corrupt.jpg",
            JPEG,
            ServiceError("InvalidImageFormatException", "Request has invalid image format"),
        ),
        "error:invalid_image_format",
        f"{K}corrupt.jpg",
    ),
    Case(
        "corrupt-image",
        _upload_and_notify(
            f"{K}corrupt.png",
            PNG,
            ServiceError("InvalidImageFormatException", "Request has invalid image format"),
        ),
        "error:invalid_image_format",
        f"{K}corrupt.png",
    ),
    Case(
        "too-large-in-pixels",
        _upload_and_notify(
            f"{K}poster.jpg",
            JPEG,
            ServiceError("ImageTooLargeException", "Image size is too large."),
        ),
        "error:image_too_large",
        f"{K}poster.jpg",
    ),
    Case(
        "too-small-in-pixels",
        _upload_and_notify(
            f"{K}icon.png",
            PNG,
            ServiceError("InvalidParameterException", "Minimum image dimension is 64 pixels"),
        ),
        "error:image_rejected",
        f"{K}icon.png",
    ),
    Case(
        "unreadable-by-rekognition",
        _upload_and_notify(
            f"{K}odd.png",
            PNG,
            ServiceError("InvalidS3ObjectException", "Unable to get object metadata from S3."),
        ),
        "error:unreadable_by_rekognition",
        f"{K}odd.png",
    ),
    Case("s3-test-event", _body(s3_test_event_body(DATA)), "error:s3_test_event"),
    Case("malformed-body", _body("this is {not json"), "error:malformed_message"),
    Case("json-not-an-object", _body("[1, 2, 3]"), "error:malformed_message"),
    Case("not-an-s3-message", _body(json.dumps({"hello": "world"})), "error:not_an_s3_event"),
    Case(
        "object-deleted-event",
        _body(eventbridge_body(DATA, f"{K}gone.png", detail_type="Object Deleted")),
        "error:unsupported_event",
    ),
    Case(
        "another-bucket",
        _body(eventbridge_body("someone-elses-bucket", f"{K}x.png")),
        "error:unexpected_bucket",
    ),
    Case(
        "outside-input-prefix",
        _upload_and_notify("training/x.png", PNG),
        "error:outside_input_prefix",
        "training/x.png",
    ),
    Case(
        "throttled-once-then-ok",
        _upload_and_notify(
            f"{K}busy.png", PNG, ServiceError("ThrottlingException"), labels(("circle", 90.0))
        ),
        "result",
        f"{K}busy.png",
    ),
    Case(
        "model-not-ready-twice-then-ok",
        _upload_and_notify(
            f"{K}early.png",
            PNG,
            ServiceError("ResourceNotReadyException"),
            ServiceError("ResourceNotReadyException"),
            labels(("circle", 90.0)),
        ),
        "result",
        f"{K}early.png",
    ),
    Case(
        "throughput-exceeded-every-time",
        _upload_and_notify(
            f"{K}flood.png", PNG, ServiceError("ProvisionedThroughputExceededException")
        ),
        "dlq",
        f"{K}flood.png",
    ),
    Case(
        "model-not-ready-every-time",
        _upload_and_notify(f"{K}stopped.png", PNG, ServiceError("ResourceNotReadyException")),
        "dlq",
        f"{K}stopped.png",
    ),
    Case(
        "throttled-every-time",
        _upload_and_notify(f"{K}throttled.png", PNG, ServiceError("ThrottlingException")),
        "dlq",
        f"{K}throttled.png",
    ),
    Case(
        "service-error-every-time",
        _upload_and_notify(f"{K}broken.png", PNG, ServiceError("InternalServerError", status=500)),
        "dlq",
        f"{K}broken.png",
    ),
]


def _ending(p: Pipeline, case: Case, body: str, dead: list[str]) -> list[str]:
    """Every place this input ended up (the property: exactly one)."""
    endings = []
    if case.key is not None:
        result = p.artifact(locations.result_key(case.key, PROJECT, VERSION))
        if result is not None:
            review = p.artifact(locations.review_key(case.key, PROJECT, VERSION))
            assert (review is not None) == result["needs_review"]
            endings.append("review" if result["needs_review"] else "result")
        error = p.artifact(locations.image_error_key(case.key))
        if error is not None:
            endings.append(f"error:{error['reason']}")
    message_error = p.artifact(locations.message_error_key(body))
    if message_error is not None:
        endings.append(f"error:{message_error['reason']}")
    if body in dead:
        endings.append("dlq")
    return endings


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_input_ends_in_exactly_one_place(pipeline: Pipeline, case: Case) -> None:
    body = case.prepare(pipeline)
    pipeline.send(body)

    pipeline.run()

    assert _ending(pipeline, case, body, pipeline.dead_letters()) == [case.expected]
    if case.key and case.expected == "dlq":
        # Retried on every receive, then given up on: never more, never fewer.
        assert pipeline.detect.calls_for(case.key) == MAX_RECEIVE_COUNT


def test_all_inputs_mixed_in_batches_each_end_in_exactly_one_place(pipeline: Pipeline) -> None:
    bodies = [case.prepare(pipeline) for case in CASES]
    for body in bodies:
        pipeline.send(body)

    invocations = pipeline.run(batch_size=10)

    dead = pipeline.dead_letters()
    for case, body in zip(CASES, bodies, strict=True):
        assert _ending(pipeline, case, body, dead) == [case.expected], case.name
    assert len(dead) == sum(case.expected == "dlq" for case in CASES)
    assert invocations >= MAX_RECEIVE_COUNT  # the failing ones really were received 5 times


def test_result_record_holds_labels_model_and_timing(pipeline: Pipeline) -> None:
    key = "incoming/shapes/tri angle.png"
    pipeline.upload(key, PNG)
    pipeline.detect.on(key, labels(("triangle", 91.25), ("circle", 55.5)))
    pipeline.send(pipeline.event(key))

    pipeline.run()

    result = pipeline.artifact(locations.result_key(key, PROJECT, VERSION))
    assert result is not None
    assert result["labels"] == [
        {"name": "triangle", "confidence": 0.9125},
        {"name": "circle", "confidence": 0.555},
    ]
    assert result["top_label"] == "triangle"
    assert result["needs_review"] is False
    assert result["model"] == {
        "project_version_arn": MODEL_ARN,
        "project": PROJECT,
        "version": VERSION,
    }
    details = object_details(pipeline.s3, DATA, key)
    assert result["schema"] == "imgclf.rekognition.result/2"
    # What the event said about the object; no format: the content was never read.
    assert result["input"] == {
        "bucket": DATA,
        "key": key,
        "wiring": "eventbridge",
        "size": len(PNG),
        "etag": details["etag"],
        "version_id": details["version_id"],
    }
    assert set(result["timing"]) == {
        "event_time",
        "queued_at",
        "processed_at",
        "queue_wait_ms",
        "detect_latency_ms",
    }
    (call,) = pipeline.detect.calls
    assert call["ProjectVersionArn"] == MODEL_ARN
    assert call["MinConfidence"] == 50.0
    # By S3 reference to the object as it is now (not pinned: a deleted object must fail).
    assert call["Image"]["S3Object"] == {"Bucket": DATA, "Name": key}
    assert result["input"]["version_id"] == object_details(pipeline.s3, DATA, key)["version_id"]
    assert pipeline.artifact_keys() == [locations.result_key(key, PROJECT, VERSION)]
    assert pipeline.s3_calls == ["PutObject"]


def test_low_confidence_is_listed_for_review(pipeline: Pipeline) -> None:
    key = "incoming/unsure.png"
    pipeline.upload(key, PNG)
    pipeline.detect.on(key, labels(("circle", 79.9)))
    pipeline.send(pipeline.event(key))

    pipeline.run()

    review = pipeline.artifact(locations.review_key(key, PROJECT, VERSION))
    assert review is not None
    assert review["result_key"] == locations.result_key(key, PROJECT, VERSION)
    assert review["top_confidence"] == pytest.approx(0.799)
    assert review["review_threshold"] == 0.8


def test_error_record_says_why(pipeline: Pipeline) -> None:
    key = "incoming/empty.png"
    pipeline.upload(key, b"")
    pipeline.send(pipeline.event(key))

    pipeline.run()

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "empty_object"
    assert "0 bytes" in error["detail"]
    assert error["input"]["key"] == key
    assert pipeline.detect.calls == []  # never paid for a call that could not succeed
    assert pipeline.s3_calls == ["PutObject"]  # the event's size was enough


# --------------------------------------------------------------------------------------------
# Calls per image: DetectCustomLabels and PutObject; the object is read only to diagnose
# --------------------------------------------------------------------------------------------


def test_happy_path_is_one_detect_and_one_put_and_no_read(pipeline: Pipeline) -> None:
    keys = [f"incoming/calls/{index}.jpg" for index in range(3)]
    for key in keys:
        pipeline.upload(key, JPEG)
        pipeline.send(pipeline.event(key))

    pipeline.run()

    assert sorted(call["Image"]["S3Object"]["Name"] for call in pipeline.detect.calls) == keys
    assert pipeline.s3_calls == ["PutObject"] * 3
    assert pipeline.artifact_keys() == [locations.result_key(k, PROJECT, VERSION) for k in keys]


@pytest.mark.parametrize(
    ("size", "reason"),
    [(0, "empty_object"), (MAX_OBJECT + 1, "object_too_large")],
    ids=["zero-bytes", "over-15-mb"],
)
def test_size_from_the_event_decides_without_any_read(
    pipeline: Pipeline, size: int, reason: str
) -> None:
    # Never uploaded: any read of the object would end in object_missing instead.
    key = "incoming/sized/by-the-event.png"
    body = eventbridge_body(DATA, key, size=size, etag="0" * 32, version_id="v-7")

    assert _invoke(body, receive_count=1) == {"batchItemFailures": []}

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == reason
    assert str(size) in error["detail"]
    assert error["input"] == {
        "bucket": DATA,
        "key": key,
        "wiring": "eventbridge",
        "size": size,
        "etag": "0" * 32,
        "version_id": "v-7",
    }
    assert pipeline.detect.calls == []
    assert pipeline.s3_calls == ["PutObject"]


def test_object_deleted_after_the_event_is_missing(pipeline: Pipeline) -> None:
    key = "incoming/gone-now.png"
    pipeline.send(_deleted(key)(pipeline))

    pipeline.run()

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "object_missing"
    assert len(pipeline.detect.calls) == 1  # the service could not read it ...
    assert pipeline.reads() == 1  # ... and the read said why
    assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is None


def test_a_plain_delete_before_processing_is_missing_in_a_versioned_bucket(
    pipeline: Pipeline,
) -> None:
    # The versioned data bucket keeps the event's version behind a delete marker; the image
    # was still deleted before it was processed, and is not classified.
    key = "incoming/hidden.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)
    pipeline.s3.delete_object(Bucket=DATA, Key=key)

    assert _invoke(body, receive_count=1) == {"batchItemFailures": []}

    assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is None
    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "object_missing"
    assert len(pipeline.detect.calls) == 1
    assert "Version" not in pipeline.detect.calls[0]["Image"]["S3Object"]


@pytest.mark.parametrize(
    ("content", "described"),
    [(GIF, "GIF image"), (b"%PDF-1.7 not an image", "neither JPEG nor PNG")],
    ids=["gif", "pdf"],
)
def test_content_that_is_not_jpeg_or_png_is_unsupported_format(
    pipeline: Pipeline, content: bytes, described: str
) -> None:
    key = "incoming/named.jpg"
    pipeline.upload(key, content)

    assert _invoke(pipeline.event(key), receive_count=1) == {"batchItemFailures": []}

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "unsupported_format"
    assert described in error["detail"]
    assert len(pipeline.detect.calls) == 1  # rejected by the service, then read to say why
    assert pipeline.reads() == 1


def test_corrupt_jpeg_is_invalid_image_format_with_a_single_call(pipeline: Pipeline) -> None:
    key = "incoming/truncated.jpg"
    pipeline.upload(key, JPEG)
    pipeline.detect.on(
        key, ServiceError("InvalidImageFormatException", "Request has invalid image format")
    )

    assert _invoke(pipeline.event(key), receive_count=1) == {"batchItemFailures": []}

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "invalid_image_format"
    assert error["detail"] == "Request has invalid image format"
    assert len(pipeline.detect.calls) == 1  # the read confirmed JPEG: no second call
    assert pipeline.reads() == 1


def test_event_without_object_details_reads_the_object_first(pipeline: Pipeline) -> None:
    key = "incoming/undescribed.png"
    pipeline.upload(key, PNG)

    assert _invoke(eventbridge_body(DATA, key), receive_count=1) == {"batchItemFailures": []}

    result = pipeline.artifact(locations.result_key(key, PROJECT, VERSION))
    assert result is not None
    details = object_details(pipeline.s3, DATA, key)
    assert (result["input"]["size"], result["input"]["etag"], result["input"]["version_id"]) == (
        len(PNG),
        details["etag"],
        details["version_id"],
    )
    assert pipeline.s3_calls == ["GetObject", "PutObject"]
    assert pipeline.detect.calls[0]["Image"]["S3Object"]["Version"] == details["version_id"]


@pytest.mark.parametrize("wiring", ["eventbridge", "s3_notification"])
def test_url_encoded_key_gets_its_result_under_the_decoded_key(
    pipeline: Pipeline, wiring: str
) -> None:
    key = "incoming/red flower+1 (copy).png"
    pipeline.upload(key, PNG)
    details = object_details(pipeline.s3, DATA, key)
    encoded = quote_plus(key, safe="/")
    if wiring == "eventbridge":
        body = eventbridge_body(DATA, encoded, **details)
    else:
        body = notification_body(DATA, key, **details)  # encodes the key, as S3 does

    assert _invoke(body, receive_count=1) == {"batchItemFailures": []}

    assert pipeline.artifact_keys() == [locations.result_key(key, PROJECT, VERSION)]
    result = pipeline.artifact(locations.result_key(key, PROJECT, VERSION))
    assert result is not None
    assert result["input"]["key"] == key
    assert result["input"]["wiring"] == wiring
    assert pipeline.detect.calls[-1]["Image"]["S3Object"]["Name"] == key


def test_event_details_of_the_wrong_type_are_ignored() -> None:
    body = json.loads(eventbridge_body(DATA, "incoming/a.png"))
    body["detail"]["object"].update({"size": "12", "etag": 5, "version-id": ""})
    (ref,) = parse_body(json.dumps(body))
    assert (ref.size, ref.etag, ref.version_id) == (None, None, None)  # type: ignore[union-attr]

    body["detail"]["object"].update({"size": True})
    (ref,) = parse_body(json.dumps(body))
    assert ref.size is None  # type: ignore[union-attr]

    body["detail"]["object"].update({"size": 0, "etag": '"ab"', "version-id": "v"})
    (ref,) = parse_body(json.dumps(body))
    assert (ref.size, ref.etag, ref.version_id) == (0, "ab", "v")  # type: ignore[union-attr]


def test_classic_notification_details_are_read() -> None:
    body = notification_body(DATA, "incoming/a b.png", size=12, etag="ab", version_id="v1")
    (ref,) = parse_body(body)

    assert (ref.key, ref.size, ref.etag, ref.version_id) == (  # type: ignore[union-attr]
        "incoming/a b.png",
        12,
        "ab",
        "v1",
    )


# --------------------------------------------------------------------------------------------
# Idempotency: redeliveries overwrite the same keys or keep what is there
# --------------------------------------------------------------------------------------------


def _invoke(body: str, receive_count: int, message_id: str = "m-1") -> dict[str, Any]:
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


def test_redelivered_message_keeps_the_existing_result(pipeline: Pipeline) -> None:
    key = "incoming/again.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)
    result_key = locations.result_key(key, PROJECT, VERSION)

    assert _invoke(body, receive_count=1) == {"batchItemFailures": []}
    first = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()
    assert _invoke(body, receive_count=2) == {"batchItemFailures": []}

    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == first
    assert pipeline.detect.calls_for(key) == 1
    # The event's ETag and version against the result's metadata: no read of the image.
    assert pipeline.s3_calls == ["PutObject", "HeadObject"]


def test_redelivery_without_an_etag_in_the_event_reads_the_object(pipeline: Pipeline) -> None:
    key = "incoming/again-unsized.png"
    pipeline.upload(key, PNG)
    _invoke(pipeline.event(key), receive_count=1)
    result_key = locations.result_key(key, PROJECT, VERSION)
    first = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()
    pipeline.s3_calls.clear()

    assert _invoke(eventbridge_body(DATA, key), receive_count=2) == {"batchItemFailures": []}

    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == first
    assert pipeline.detect.calls_for(key) == 1
    assert pipeline.s3_calls == ["GetObject", "HeadObject"]


def test_late_redelivery_of_an_older_upload_keeps_the_newer_result(pipeline: Pipeline) -> None:
    key = "incoming/overwritten.png"
    pipeline.upload(key, PNG)
    older = pipeline.event(key)
    pipeline.upload(key, JPEG)
    newer_version = object_details(pipeline.s3, DATA, key)["version_id"]
    _invoke(pipeline.event(key), receive_count=1)
    result_key = locations.result_key(key, PROJECT, VERSION)
    newer = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()

    assert _invoke(older, receive_count=2) == {"batchItemFailures": []}

    # The result is for another version: the read says the newer one is current.
    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == newer
    assert json.loads(newer)["input"]["version_id"] == newer_version
    assert pipeline.detect.calls_for(key) == 1


def test_redelivery_after_success_and_deletion_is_not_an_error(pipeline: Pipeline) -> None:
    key = "incoming/short-lived.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)

    _invoke(body, receive_count=1)
    pipeline.s3.delete_object(Bucket=DATA, Key=key)
    assert _invoke(body, receive_count=2) == {"batchItemFailures": []}

    assert pipeline.artifact(locations.image_error_key(key)) is None
    assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None


def test_a_new_upload_to_the_same_key_is_classified_again(pipeline: Pipeline) -> None:
    key = "incoming/replaced.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)
    _invoke(body, receive_count=1)
    pipeline.upload(key, JPEG)  # new content, new version

    _invoke(pipeline.event(key), receive_count=2)

    result = pipeline.artifact(locations.result_key(key, PROJECT, VERSION))
    assert result is not None
    assert result["input"] == {"bucket": DATA, "wiring": "eventbridge", "key": key} | {
        "etag": object_details(pipeline.s3, DATA, key)["etag"],
        "size": len(JPEG),
        "version_id": object_details(pipeline.s3, DATA, key)["version_id"],
    }
    assert pipeline.detect.calls_for(key) == 2


def test_duplicate_message_error_records_are_identical(pipeline: Pipeline) -> None:
    body = s3_test_event_body(DATA)

    _invoke(body, receive_count=1, message_id="a")
    first = pipeline.artifact(locations.message_error_key(body))
    _invoke(body, receive_count=2, message_id="a")

    assert pipeline.artifact(locations.message_error_key(body)) == first
    assert len(pipeline.artifact_keys()) == 1


# --------------------------------------------------------------------------------------------
# Model version: from SSM (training publishes it), or pinned; missing = wait, never lose
# --------------------------------------------------------------------------------------------


def test_missing_parameter_keeps_images_waiting_and_records_bad_messages(
    pipeline: Pipeline,
) -> None:
    pipeline.ssm.delete_parameter(Name=PARAMETER)
    key = "incoming/waiting.png"
    pipeline.upload(key, PNG)
    image_body = pipeline.event(key)
    test_body = s3_test_event_body(DATA)

    response = _invoke(image_body, 1, "image")
    assert response == {"batchItemFailures": [{"itemIdentifier": "image"}]}
    assert _invoke(test_body, 1, "test") == {"batchItemFailures": []}
    assert pipeline.artifact_keys() == [locations.message_error_key(test_body)]
    assert pipeline.detect.calls == []

    pipeline.ssm.put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
    parameters.clear_caches()
    assert _invoke(image_body, 2, "image") == {"batchItemFailures": []}
    assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None


@pytest.mark.parametrize(
    "value",
    [
        "not-an-arn",
        MODEL_ARN.replace("project/shapes/", "project/other/"),
    ],
    ids=["garbage", "another-project"],
)
def test_unusable_parameter_is_transient(pipeline: Pipeline, value: str) -> None:
    pipeline.ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True)
    pipeline.upload("incoming/x.png", PNG)

    response = _invoke(pipeline.event("incoming/x.png"), 1)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.detect.calls == []
    assert pipeline.artifact_keys() == []


def test_pinned_version_needs_no_parameter(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = MODEL_ARN.replace("shapes.v1", "shapes.v0")
    monkeypatch.setenv("MODEL_VERSION_ARN", pinned)
    consumer.runtime.cache_clear()
    pipeline.detect.install(consumer.runtime().classifier._rekognition)
    pipeline.ssm.delete_parameter(Name=PARAMETER)
    pipeline.upload("incoming/p.png", PNG)

    assert _invoke(pipeline.event("incoming/p.png"), 1) == {"batchItemFailures": []}

    assert pipeline.detect.calls[0]["ProjectVersionArn"] == pinned
    assert pipeline.artifact(locations.result_key("incoming/p.png", PROJECT, "shapes.v0"))


# --------------------------------------------------------------------------------------------
# Batches: concurrent within an invocation, bounded, and never started past the deadline
# --------------------------------------------------------------------------------------------


def test_a_batch_calls_the_service_concurrently(pipeline: Pipeline) -> None:
    rendezvous = threading.Barrier(3, timeout=10)
    arrivals = itertools.count()

    def during(params: dict[str, Any]) -> None:
        if next(arrivals) < 3:  # the first three calls wait for each other
            rendezvous.wait()

    pipeline.detect.during_call = during
    for index in range(8):
        key = f"incoming/batch/{index}.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

    pipeline.run()

    # Three calls met at the barrier: they were in flight at the same time.
    assert not rendezvous.broken
    assert len(pipeline.detect.calls) == 8
    assert len(pipeline.artifact_keys()) == 8


def test_concurrency_is_bounded_by_detect_concurrency(pipeline: Pipeline) -> None:
    lock = threading.Lock()
    in_flight = [0, 0]  # current, highest
    release = threading.Event()

    def during(params: dict[str, Any]) -> None:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            if in_flight[0] >= 4:
                release.set()
        release.wait(timeout=5)
        with lock:
            in_flight[0] -= 1

    pipeline.detect.during_call = during
    for index in range(10):
        key = f"incoming/bounded/{index}.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

    pipeline.run()

    assert in_flight[1] == 4  # DETECT_CONCURRENCY
    assert len(pipeline.artifact_keys()) == 10


def test_nothing_starts_too_close_to_the_timeout(pipeline: Pipeline) -> None:
    key = "incoming/late.png"
    pipeline.upload(key, PNG)
    remaining = (consumer.DEADLINE_MARGIN_SECONDS - 1) * 1000

    pipeline.send(pipeline.event(key))
    messages = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, AttributeNames=["All"])
    event = {"Records": [sqs_record(m, "arn:q") for m in messages["Messages"]]}
    response = consumer.lambda_handler(event, LambdaContext(remaining_ms=remaining))

    assert len(response["batchItemFailures"]) == 1
    assert pipeline.detect.calls == []
    assert pipeline.artifact_keys() == []


def test_pacer_spaces_calls_to_the_invocation_share() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = RatePacer(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        pacer.wait()

    assert slept == [0.5, 1.0, 1.5]  # 2 calls per second: at 0, 0.5, 1.0, 1.5 s
    unpaced = RatePacer(None, clock=lambda: now[0], sleep=sleep)
    unpaced.wait()
    assert len(slept) == 3


def test_pacer_takes_a_new_rate_from_the_next_call() -> None:
    now = [100.0]
    slept: list[float] = []
    pacer = RatePacer(2.0, clock=lambda: now[0], sleep=slept.append)
    pacer.wait()  # at 100.0; the next slot is 100.5

    pacer.set_rate(10.0)
    pacer.wait()  # the slot already promised at 2/s, then 10/s from there
    pacer.wait()

    assert pacer.rate == pytest.approx(10.0)
    assert slept == [pytest.approx(0.5), pytest.approx(0.6)]
    pacer.set_rate(None)
    assert pacer.rate is None


# -- the pace the controller publishes -------------------------------------------------------


def published(pace: float, units: int = 1, concurrency: int = 2) -> str:
    return json.dumps(
        {
            "schema": "imgclf.rekognition.consumer-capacity/1",
            "inference_units": units,
            "max_concurrency": concurrency,
            "invocation_tps": pace,
        }
    )


class FakeParameter:
    """What SSM answers for the capacity parameter, and how often it was asked."""

    def __init__(self, *answers: str | Exception | None) -> None:
        self.answers = list(answers)
        self.reads = 0

    def __call__(self) -> str | None:
        self.reads += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_published_pace_is_read_at_most_every_30_seconds() -> None:
    now = [0.0]
    read = FakeParameter(published(5.0), published(10.0))
    pace = consumer.PaceSource(read, floor=2.5, ceiling=10.0, clock=lambda: now[0])

    seen = []
    for second in (0.0, 1.0, 29.9, 30.0, 45.0):
        now[0] = second
        seen.append(pace.current())

    assert seen == [5.0, 5.0, 5.0, 10.0, 10.0]
    assert read.reads == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, 2.5, id="nothing-published-slowest"),
        pytest.param(published(7.5, units=3), 7.5, id="within-bounds"),
        pytest.param(published(50.0, units=20), 10.0, id="above-the-ceiling"),
        pytest.param(published(1.0), 2.5, id="below-the-floor"),
        pytest.param("not json", 2.5, id="not-json"),
        pytest.param(json.dumps({"invocation_tps": 7.5}), 2.5, id="no-schema"),
        pytest.param(published(float("nan")), 2.5, id="nan"),
        pytest.param(published(-5.0), 2.5, id="negative"),
        pytest.param(published(0.0), 2.5, id="zero"),
    ],
)
def test_published_pace_is_kept_within_what_the_timeout_and_the_model_allow(
    value: str | None, expected: float
) -> None:
    pace = consumer.PaceSource(FakeParameter(value), floor=2.5, ceiling=10.0)

    assert pace.current() == expected


def test_a_failed_read_keeps_the_last_pace_and_waits_before_asking_again() -> None:
    now = [0.0]
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "GetParameter")
    read = FakeParameter(published(5.0), throttled, published(7.5))
    pace = consumer.PaceSource(read, floor=2.5, ceiling=10.0, clock=lambda: now[0])

    assert pace.current() == 5.0
    now[0] = 30.0
    assert pace.current() == 5.0  # throttled: the last pace
    now[0] = 40.0
    assert pace.current() == 5.0  # not asked again yet
    assert read.reads == 2
    now[0] = 60.0
    assert pace.current() == 7.5


def test_the_handler_paces_to_the_published_pace(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real handler and SSM (moto): the consumer takes the controller's pace."""
    name = "/imgclf-test/rekognition/consumer-capacity"
    monkeypatch.setenv("INVOCATION_TPS", "2.5")
    monkeypatch.setenv("MAX_INVOCATION_TPS", "400")
    monkeypatch.setenv("CAPACITY_PARAMETER", name)
    consumer.runtime.cache_clear()
    try:
        state = consumer.runtime()
        pipeline.detect.install(state.classifier._rekognition)
        assert state.classifier.pacer.rate == pytest.approx(2.5)  # before anything is read
        pipeline.ssm.put_parameter(Name=name, Value=published(200.0, 40, 10), Type="String")
        key = f"{K}paced.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

        pipeline.run()

        assert state.classifier.pacer.rate == pytest.approx(200.0)
        assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None
    finally:
        _unpaced_runtime(monkeypatch)


def test_the_handler_without_a_published_pace_uses_the_slowest(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVOCATION_TPS", "300")
    monkeypatch.setenv("CAPACITY_PARAMETER", "/imgclf-test/rekognition/consumer-capacity")
    consumer.runtime.cache_clear()
    try:
        state = consumer.runtime()
        pipeline.detect.install(state.classifier._rekognition)
        key = f"{K}unpublished.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

        pipeline.run()

        assert state.classifier.pacer.rate == pytest.approx(300.0)
        assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None
    finally:
        _unpaced_runtime(monkeypatch)


def _unpaced_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back to the fixture's environment before its teardown builds the runtime again."""
    monkeypatch.setenv("INVOCATION_TPS", "0")
    monkeypatch.delenv("MAX_INVOCATION_TPS", raising=False)
    monkeypatch.delenv("CAPACITY_PARAMETER", raising=False)
    consumer.runtime.cache_clear()


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def test_metrics_count_processed_low_confidence_errors_by_reason_and_latency(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.upload("incoming/m/good.png", PNG)
    pipeline.upload("incoming/m/unsure.png", PNG)
    pipeline.detect.on("incoming/m/unsure.png", labels(("circle", 60.0)))
    pipeline.upload("incoming/m/empty.png", b"")
    for key in ("incoming/m/good.png", "incoming/m/unsure.png", "incoming/m/empty.png"):
        pipeline.send(pipeline.event(key))
    pipeline.send("garbage")
    capsys.readouterr()

    pipeline.run()

    records = emf_records(capsys.readouterr().out)
    service = "rekognition-inference"
    assert metric_total(records, "ImagesProcessed", service=service) == 2
    assert metric_total(records, "LowConfidence", service=service) == 1
    assert metric_total(records, "ImageErrors", reason="empty_object", service=service) == 1
    assert metric_total(records, "ImageErrors", reason="malformed_message", service=service) == 1
    latency = [r for r in records if "DetectLatency" in r]
    assert sum(len(r["DetectLatency"]) for r in latency) == 2
    for record in records:
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ImageClassification/test"


def test_transient_failures_are_counted_by_reason(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.upload("incoming/t.png", PNG)
    pipeline.detect.on("incoming/t.png", ServiceError("ResourceNotReadyException"))
    capsys.readouterr()

    _invoke(pipeline.event("incoming/t.png"), 1)

    records = emf_records(capsys.readouterr().out)
    assert metric_total(records, "TransientFailures", reason="model_not_ready") == 1


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def test_long_input_keys_get_a_bounded_record_key() -> None:
    key = "incoming/" + "k" * 1010

    record = locations.result_key(key, PROJECT, VERSION)

    assert len(record.encode()) <= locations.MAX_KEY_BYTES
    assert record.startswith(f"results/rekognition/{PROJECT}/{VERSION}/_long-keys/")
    assert record == locations.result_key(key, PROJECT, VERSION)  # deterministic
    assert locations.input_key_of(record, f"results/rekognition/{PROJECT}/{VERSION}/") is None


def test_record_keys_are_deterministic_and_invertible() -> None:
    key = "incoming/a b/c.png"
    prefix = locations.model_prefix(locations.RESULTS_PREFIX, PROJECT, VERSION)

    assert locations.result_key(key, PROJECT, VERSION) == f"{prefix}{key}.json"
    assert locations.input_key_of(locations.result_key(key, PROJECT, VERSION), prefix) == key
    assert locations.image_error_key(key) == f"errors/rekognition/images/{key}.json"
    assert locations.message_error_key("x") == locations.message_error_key("x")
    assert locations.message_error_key("x") != locations.message_error_key("y")


def test_sns_wrapped_notifications_are_unwrapped() -> None:
    inner = notification_body(DATA, "incoming/a b.png")
    (ref,) = parse_body(json.dumps({"Type": "Notification", "Message": inner}))

    assert ref.key == "incoming/a b.png"  # type: ignore[union-attr]

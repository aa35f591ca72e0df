"""The bad-input matrix: every input, redeliveries included, ends in exactly one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest

from rekognition_inference import locations
from stacks.pipelines.rekognition_inference import MAX_RECEIVE_COUNT
from tests.unit.rekognition_inference.support import (
    DATA,
    MAX_OBJECT,
    PROJECT,
    VERSION,
    K,
    Pipeline,
    _deleted,
)
from tests.unit.rekognition_support import (
    GIF,
    JPEG,
    MODEL_ARN,
    PNG,
    ServiceError,
    eventbridge_body,
    labels,
    notification_body,
    object_details,
    s3_test_event_body,
)

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

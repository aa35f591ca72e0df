"""Calls per image: DetectCustomLabels and PutObject; the object is read only to diagnose."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from rekognition_inference import locations
from rekognition_inference.messages import parse_body
from tests.unit.rekognition_inference.support import (
    DATA,
    MAX_OBJECT,
    PROJECT,
    VERSION,
    Pipeline,
    _deleted,
    invoke,
)
from tests.unit.rekognition_support import (
    GIF,
    JPEG,
    PNG,
    ServiceError,
    eventbridge_body,
    notification_body,
    object_details,
)

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

    assert invoke(body, receive_count=1) == {"batchItemFailures": []}

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

    assert invoke(body, receive_count=1) == {"batchItemFailures": []}

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

    assert invoke(pipeline.event(key), receive_count=1) == {"batchItemFailures": []}

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

    assert invoke(pipeline.event(key), receive_count=1) == {"batchItemFailures": []}

    error = pipeline.artifact(locations.image_error_key(key))
    assert error is not None
    assert error["reason"] == "invalid_image_format"
    assert error["detail"] == "Request has invalid image format"
    assert len(pipeline.detect.calls) == 1  # the read confirmed JPEG: no second call
    assert pipeline.reads() == 1


def test_event_without_object_details_reads_the_object_first(pipeline: Pipeline) -> None:
    key = "incoming/undescribed.png"
    pipeline.upload(key, PNG)

    assert invoke(eventbridge_body(DATA, key), receive_count=1) == {"batchItemFailures": []}

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

    assert invoke(body, receive_count=1) == {"batchItemFailures": []}

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

"""Redeliveries keep or overwrite the same keys; the model version comes from SSM or is pinned."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities import parameters

from rekognition_inference import handler as consumer
from rekognition_inference import locations
from tests.unit.rekognition_inference.support import (
    ARTIFACTS,
    DATA,
    PARAMETER,
    PROJECT,
    VERSION,
    Pipeline,
    invoke,
)
from tests.unit.rekognition_support import (
    JPEG,
    MODEL_ARN,
    PNG,
    eventbridge_body,
    object_details,
    s3_test_event_body,
)


def test_redelivered_message_keeps_the_existing_result(pipeline: Pipeline) -> None:
    key = "incoming/again.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)
    result_key = locations.result_key(key, PROJECT, VERSION)

    assert invoke(body, receive_count=1) == {"batchItemFailures": []}
    first = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()
    assert invoke(body, receive_count=2) == {"batchItemFailures": []}

    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == first
    assert pipeline.detect.calls_for(key) == 1
    # The event's ETag and version against the result's metadata: no read of the image.
    assert pipeline.s3_calls == ["PutObject", "HeadObject"]


def test_redelivery_without_an_etag_in_the_event_reads_the_object(pipeline: Pipeline) -> None:
    key = "incoming/again-unsized.png"
    pipeline.upload(key, PNG)
    invoke(pipeline.event(key), receive_count=1)
    result_key = locations.result_key(key, PROJECT, VERSION)
    first = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()
    pipeline.s3_calls.clear()

    assert invoke(eventbridge_body(DATA, key), receive_count=2) == {"batchItemFailures": []}

    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == first
    assert pipeline.detect.calls_for(key) == 1
    assert pipeline.s3_calls == ["GetObject", "HeadObject"]


def test_late_redelivery_of_an_older_upload_keeps_the_newer_result(pipeline: Pipeline) -> None:
    key = "incoming/overwritten.png"
    pipeline.upload(key, PNG)
    older = pipeline.event(key)
    pipeline.upload(key, JPEG)
    newer_version = object_details(pipeline.s3, DATA, key)["version_id"]
    invoke(pipeline.event(key), receive_count=1)
    result_key = locations.result_key(key, PROJECT, VERSION)
    newer = pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read()

    assert invoke(older, receive_count=2) == {"batchItemFailures": []}

    # The result is for another version: the read says the newer one is current.
    assert pipeline.s3.get_object(Bucket=ARTIFACTS, Key=result_key)["Body"].read() == newer
    assert json.loads(newer)["input"]["version_id"] == newer_version
    assert pipeline.detect.calls_for(key) == 1


def test_redelivery_after_success_and_deletion_is_not_an_error(pipeline: Pipeline) -> None:
    key = "incoming/short-lived.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)

    invoke(body, receive_count=1)
    pipeline.s3.delete_object(Bucket=DATA, Key=key)
    assert invoke(body, receive_count=2) == {"batchItemFailures": []}

    assert pipeline.artifact(locations.image_error_key(key)) is None
    assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None


def test_a_new_upload_to_the_same_key_is_classified_again(pipeline: Pipeline) -> None:
    key = "incoming/replaced.png"
    pipeline.upload(key, PNG)
    body = pipeline.event(key)
    invoke(body, receive_count=1)
    pipeline.upload(key, JPEG)  # new content, new version

    invoke(pipeline.event(key), receive_count=2)

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

    invoke(body, receive_count=1, message_id="a")
    first = pipeline.artifact(locations.message_error_key(body))
    invoke(body, receive_count=2, message_id="a")

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

    response = invoke(image_body, 1, "image")
    assert response == {"batchItemFailures": [{"itemIdentifier": "image"}]}
    assert invoke(test_body, 1, "test") == {"batchItemFailures": []}
    assert pipeline.artifact_keys() == [locations.message_error_key(test_body)]
    assert pipeline.detect.calls == []

    pipeline.ssm.put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
    parameters.clear_caches()
    assert invoke(image_body, 2, "image") == {"batchItemFailures": []}
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

    response = invoke(pipeline.event("incoming/x.png"), 1)

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

    assert invoke(pipeline.event("incoming/p.png"), 1) == {"batchItemFailures": []}

    assert pipeline.detect.calls[0]["ProjectVersionArn"] == pinned
    assert pipeline.artifact(locations.result_key("incoming/p.png", PROJECT, "shapes.v0"))

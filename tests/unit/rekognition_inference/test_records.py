"""Metrics by reason and latency, and the pure helpers: record keys, unwrapped notifications."""

from __future__ import annotations

import json

import pytest

from rekognition_inference import locations
from rekognition_inference.messages import parse_body
from tests.unit.rekognition_inference.support import (
    DATA,
    PROJECT,
    VERSION,
    Pipeline,
    invoke,
)
from tests.unit.rekognition_support import (
    PNG,
    ServiceError,
    emf_records,
    labels,
    metric_total,
    notification_body,
)

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

    invoke(pipeline.event("incoming/t.png"), 1)

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

"""Sampling confident predictions for review: the share holds (a binomial test, scipy), the
choice is the same on every retry and in both pipelines, off means off, and each inference
path writes the record its relabel collector reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scipy.stats import binomtest

from rekognition_inference import locations
from relabel.records import source_ref
from shared import review_sampling
from tests.unit.rekognition_inference.support import PROJECT, VERSION, Pipeline
from tests.unit.rekognition_support import PNG, labels

# The Rekognition consumer's fixtures (its moto pipeline) come from this package's conftest.


@pytest.mark.parametrize("share", [0.01, 0.05, 0.2])
def test_the_sampled_share_is_the_configured_one(share):
    keys = [f"incoming/2026/12/01/image-{n:06d}.jpg" for n in range(20_000)]
    hits = sum(review_sampling.sampled(key, share) for key in keys)

    assert binomtest(hits, len(keys), share).pvalue > 0.001


def test_the_choice_is_stable_and_off_means_off():
    key = "incoming/a.jpg"
    assert {review_sampling.sampled(key, 0.3) for _ in range(5)} in ({True}, {False})
    assert not any(review_sampling.sampled(f"k{n}", 0.0) for n in range(1000))
    assert all(review_sampling.sampled(f"k{n}", 1.0) for n in range(1000))


def test_low_confidence_always_goes_to_review_whatever_the_share():
    assert review_sampling.reason(True, "incoming/a.jpg", 0.0) == review_sampling.LOW_CONFIDENCE
    assert review_sampling.reason(False, "incoming/a.jpg", 0.0) is None
    assert review_sampling.reason(False, "incoming/a.jpg", 1.0) == review_sampling.SAMPLED


def test_the_share_is_read_from_the_functions_environment(monkeypatch):
    monkeypatch.delenv(review_sampling.SHARE_VARIABLE, raising=False)
    assert review_sampling.configured_share() == 0.0
    monkeypatch.setenv(review_sampling.SHARE_VARIABLE, "0.05")
    assert review_sampling.configured_share() == 0.05


def test_a_sampled_confident_rekognition_image_gets_a_review_record(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(review_sampling.SHARE_VARIABLE, "1")
    sure, unsure = "incoming/sure.png", "incoming/unsure.png"
    for key, confidence in ((sure, 99.0), (unsure, 40.0)):
        pipeline.upload(key, PNG)
        pipeline.detect.on(key, labels(("circle", confidence)))
        pipeline.send(pipeline.event(key))

    pipeline.run()

    sampled = pipeline.artifact(locations.review_key(sure, PROJECT, VERSION))
    low = pipeline.artifact(locations.review_key(unsure, PROJECT, VERSION))
    assert sampled is not None
    assert low is not None
    assert (sampled["reason"], low["reason"]) == ("sampled", "low_confidence")
    # The confident result still says it needed no review (the drift metric counts those).
    result = pipeline.artifact(locations.result_key(sure, PROJECT, VERSION))
    assert result is not None
    assert result["needs_review"] is False
    assert source_ref(sampled, "rekognition").endswith(f"/{sure}")


class RecordingS3:
    def __init__(self, fail: bool = False) -> None:
        self.puts: list[dict[str, Any]] = []
        self.fail = fail

    def put_object(self, **request: Any) -> None:
        if self.fail:
            raise RuntimeError("SlowDown")
        self.puts.append(request)


IMAGE = {"bucket": "data", "key": "sagemaker/inference/a.jpg", "s3_uri": "s3://data/x"}


def test_a_sampled_confident_sagemaker_inference_is_recorded_like_record_for_review(
    monkeypatch,
):
    monkeypatch.setenv(review_sampling.SHARE_VARIABLE, "1")
    monkeypatch.setenv("REVIEW_BUCKET", "artifacts")
    monkeypatch.setenv("REVIEW_PREFIX", "sagemaker/review/")
    s3 = RecordingS3()
    inference = {"label": "bicycle", "confidence": 0.97}

    key = review_sampling.record_sagemaker_sample(s3, IMAGE, 0.9, inference)

    assert key == "sagemaker/review/sagemaker/inference/a.jpg.json"
    (put,) = s3.puts
    record = json.loads(put["Body"])
    assert record == {"image": IMAGE, "threshold": 0.9, "inference": inference, "reason": "sampled"}
    assert source_ref(record, "sagemaker") == "s3://data/sagemaker/inference/a.jpg"


def test_sagemaker_sampling_leaves_low_confidence_to_the_workflow_and_never_fails(monkeypatch):
    monkeypatch.setenv(review_sampling.SHARE_VARIABLE, "1")
    monkeypatch.setenv("REVIEW_BUCKET", "artifacts")
    monkeypatch.setenv("REVIEW_PREFIX", "sagemaker/review/")
    s3 = RecordingS3()
    assert review_sampling.record_sagemaker_sample(s3, IMAGE, 0.9, {"confidence": 0.5}) is None
    assert s3.puts == []
    failing = RecordingS3(fail=True)
    assert (
        review_sampling.record_sagemaker_sample(failing, IMAGE, 0.9, {"confidence": 0.99}) is None
    )
    monkeypatch.setenv(review_sampling.SHARE_VARIABLE, "0")
    assert review_sampling.record_sagemaker_sample(s3, IMAGE, 0.9, {"confidence": 0.99}) is None

"""The drift baseline the Evaluate step writes beside a Rekognition version's report, and the
live signals both inference paths publish (EMF read back as CloudWatch would)."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contracts import drift as contract
from contracts.metric_dimensions import is_valid_dimension_value, label_dimension
from contracts.metrics import (
    DRIFT_ABSTENTIONS,
    DRIFT_IMAGE_BYTES,
    DRIFT_IMAGES,
    DRIFT_PREDICTIONS,
    DRIFT_TOP_CONFIDENCE,
    DRIFT_TOP_CONFIDENCE_SUM,
)
from rekognition_inference import handler as consumer
from rekognition_inference.handler import Tally
from rekognition_inference.processing import MessageReport, Outcome
from rekognition_training.baseline import write_baseline
from rekognition_training.evaluation_sources import evaluation_sources
from sagemaker_inference.drift import publish_batch_drift, publish_drift
from shared.drift_signals import DriftObservation
from shared.evaluation.manifest import load_summary, parse_manifest
from shared.evaluation.metrics import compute_metrics
from tests.evaluation_data import ManifestSpec, generate_images, write_summary

BUCKET, DATA = "artifacts", "data"
PROJECT, VERSION = "imgclf-dev-image-classifier", "v1"
LABELS = ("circle", "square", "Straßenbahn")


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        for bucket in (BUCKET, DATA):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        yield client


def _lines(spec: ManifestSpec, folder: str) -> tuple[str, list[Any]]:
    images = list(generate_images(spec))
    lines = [
        image.line.replace("s3://evaluation-bucket/test/", f"s3://{DATA}/{folder}/")
        for image in images
    ]
    return "\n".join(lines) + "\n", images


def test_the_baseline_holds_the_test_and_training_sets(s3, tmp_path: Path):
    test_spec = ManifestSpec(labels=LABELS, n_images=300, seed=4, no_prediction_rate=0.1)
    test_text, test_images = _lines(test_spec, "test")
    training_text, training_images = _lines(
        ManifestSpec(labels=LABELS, n_images=500, seed=5), "train"
    )
    prefix = f"models/{PROJECT}/{VERSION}/"
    s3.put_object(Bucket=BUCKET, Key=prefix + "eval.manifest", Body=test_text.encode())
    s3.put_object(Bucket=BUCKET, Key=prefix + "train.manifest", Body=training_text.encode())
    write_summary(tmp_path / "summary.json", LABELS)
    s3.upload_file(str(tmp_path / "summary.json"), BUCKET, prefix + "summary.json")
    for n in range(200):  # the first 200 training images exist, of known sizes
        s3.put_object(Bucket=DATA, Key=f"train/img-{n:07d}.jpg", Body=b"x" * (20_000 + 100 * n))
    s3.put_object(Bucket=DATA, Key="train/unrelated.jpg", Body=b"x" * 9_000_000)
    description = {
        "EvaluationResult": {
            "Summary": {"S3Object": {"Bucket": BUCKET, "Name": prefix + "summary.json"}}
        },
        "TestingDataResult": {
            "Output": {
                "Assets": [
                    {
                        "GroundTruthManifest": {
                            "S3Object": {"Bucket": BUCKET, "Name": prefix + "eval.manifest"}
                        }
                    }
                ]
            }
        },
        "TrainingDataResult": {
            "Output": {
                "Assets": [
                    {
                        "GroundTruthManifest": {
                            "S3Object": {"Bucket": BUCKET, "Name": prefix + "train.manifest"}
                        }
                    }
                ]
            }
        },
    }
    (tmp_path / "eval.manifest").write_text(test_text, encoding="utf-8")
    report = compute_metrics(
        parse_manifest(tmp_path / "eval.manifest", load_summary(tmp_path / "summary.json"))
    )
    job = {"project_name": PROJECT, "version_name": VERSION}

    uri = write_baseline(
        s3,
        bucket=BUCKET,
        job=job,
        description=description,
        sources=evaluation_sources(description),
        report=report,
    )

    key = f"reports/{PROJECT}/{VERSION}/{contract.BASELINE_FILE}"
    assert uri == f"s3://{BUCKET}/{key}"
    baseline = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert baseline["schema"] == contract.BASELINE_SCHEMA
    assert (baseline["pipeline"], baseline["model"]) == ("rekognition", VERSION)
    designed_truth = Counter(image.truth[0] for image in test_images)
    assert baseline["test"]["label_counts"] == dict(designed_truth)
    abstained = sum(not image.predicted for image in test_images)
    assert abstained > 0
    assert baseline["test"]["abstention_rate"] == pytest.approx(abstained / 300)
    confidence = baseline["test"]["confidence"]
    # The designed top prediction of every predicting image has confidence 0.99.
    assert confidence["images"] == 300 - abstained
    assert confidence["mean_top"] == pytest.approx(0.99)
    assert confidence["histogram"] == {"0.9-1.0": 300 - abstained}
    predicted = Counter(image.predicted[0] for image in test_images if image.predicted)
    assert {k: v["images"] for k, v in confidence["per_label"].items()} == dict(predicted)
    assert baseline["training"]["label_counts"] == dict(
        Counter(image.truth[0] for image in training_images)
    )
    sizes = baseline["image_bytes"]
    assert sizes["images"] == 200  # the unrelated object is not one of the manifests' images
    expected = Counter(contract.size_bucket(20_000 + 100 * n) for n in range(200))
    assert sizes["histogram"] == dict(expected)
    assert baseline["formats"] == {"jpeg": 800}
    assert any("200 of the 800 images" in note for note in baseline["notes"])


def test_a_baseline_that_cannot_be_read_does_not_fail_the_evaluation(s3):
    description = {
        "EvaluationResult": {"Summary": {"S3Object": {"Bucket": BUCKET, "Name": "missing.json"}}},
        "TestingDataResult": {
            "Output": {
                "Assets": [
                    {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "missing"}}}
                ]
            }
        },
    }
    job = {"project_name": PROJECT, "version_name": VERSION}
    report: Any = {"n_images": 1, "n_abstentions": 0, "per_label": {}}
    assert (
        write_baseline(
            s3,
            bucket=BUCKET,
            job=job,
            description=description,
            sources=evaluation_sources(description),
            report=report,
        )
        is None
    )


def _emf(run: Any) -> list[dict[str, Any]]:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        run()
    return [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]


def _drift_metrics(documents: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                if not name.startswith("Drift"):
                    continue
                (dimensions,) = directive["Dimensions"]
                for dimension in dimensions:
                    assert is_valid_dimension_value(str(document[dimension])), document
                extra = next((d for d in dimensions if d in ("Label", "Bucket")), None)
                key = (name, str(document[extra]) if extra else "")
                found[key] = found.get(key, 0.0) + sum(document[name])
                assert {"Pipeline", "Model"} <= set(dimensions)
    return found


def test_the_rekognition_consumer_publishes_the_drift_signals(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "rekognition-inference")
    monkeypatch.setattr(consumer.metrics, "namespace", "ImageClassification/dev")
    tally = Tally()
    outcomes = [
        Outcome("result", "k1", drift=DriftObservation("v1", "猫", 0.95, 50_000)),
        Outcome("result", "k2", drift=DriftObservation("v1", "dog", 0.55, 300_000)),
        Outcome("result", "k3", drift=DriftObservation("v1", None, 0.0, 70_000)),
        Outcome("error", "k4", reason="empty_object"),
    ]
    tally.add(MessageReport(outcomes=outcomes))
    documents = [d for d in _emf(tally.publish) if "Pipeline" in d]
    consumer.metrics.clear_metrics()  # the invocation's own metrics, flushed by the decorator
    assert {document["Model"] for document in documents} == {"v1"}
    assert {document["Pipeline"] for document in documents} == {"rekognition"}
    metrics = _drift_metrics(documents)
    assert metrics == {
        (DRIFT_IMAGES, ""): 3,
        (DRIFT_ABSTENTIONS, ""): 1,
        (DRIFT_TOP_CONFIDENCE_SUM, ""): pytest.approx(1.5),
        (DRIFT_PREDICTIONS, label_dimension("猫")): 1,
        (DRIFT_PREDICTIONS, "dog"): 1,
        (DRIFT_TOP_CONFIDENCE, "0.9-1.0"): 1,
        (DRIFT_TOP_CONFIDENCE, "0.5-0.6"): 1,
        (DRIFT_IMAGE_BYTES, "32KiB-64KiB"): 1,
        (DRIFT_IMAGE_BYTES, "256KiB-512KiB"): 1,
        (DRIFT_IMAGE_BYTES, "64KiB-128KiB"): 1,
    }


def test_sagemaker_counts_an_answer_under_the_threshold_as_an_abstention_with_its_label(
    monkeypatch,
):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sagemaker-inference")
    documents = _emf(
        lambda: publish_drift(
            endpoint="imgclf-dev-classifier",
            label="bicycle",
            confidence=0.42,
            threshold=0.9,
            size=10,
        )
    )
    assert {document["Model"] for document in documents} == {"imgclf-dev-classifier"}
    assert {document["Pipeline"] for document in documents} == {"sagemaker"}
    assert _drift_metrics(documents) == {
        (DRIFT_IMAGES, ""): 1,
        (DRIFT_ABSTENTIONS, ""): 1,
        (DRIFT_TOP_CONFIDENCE_SUM, ""): pytest.approx(0.42),
        (DRIFT_PREDICTIONS, "bicycle"): 1,
        (DRIFT_TOP_CONFIDENCE, "0.4-0.5"): 1,
        (DRIFT_IMAGE_BYTES, "<16KiB"): 1,
    }


@pytest.mark.parametrize(
    ("confidence", "bucket"),
    [(0.0, "0.0-0.1"), (0.1, "0.1-0.2"), (0.95, "0.9-1.0"), (1.0, "0.9-1.0")],
)
def test_confidence_buckets(confidence, bucket):
    assert contract.confidence_bucket(confidence) == bucket


@pytest.mark.parametrize(
    ("size", "bucket"),
    [(0, "<16KiB"), (16 * 1024, "16KiB-32KiB"), (1024 * 1024, "1MiB-2MiB"), (15_000_000, ">=8MiB")],
)
def test_size_buckets(size, bucket):
    assert contract.size_bucket(size) == bucket
    assert len(contract.SIZE_BUCKETS) == len(contract.SIZE_EDGES) + 1


def test_a_batch_chunk_publishes_its_classified_images_at_once(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sagemaker-inference")
    results = [
        {"status": "classified", "label": "bicycle", "confidence": 0.97},
        {"status": "low_confidence", "label": "motorcycle", "confidence": 0.4},
        {"status": "classified", "label": "bicycle", "confidence": 0.93},
    ]
    documents = _emf(
        lambda: publish_batch_drift(
            endpoint="imgclf-dev-classifier", threshold=0.9, results=results
        )
    )
    assert _drift_metrics(documents) == {
        (DRIFT_IMAGES, ""): 3,
        (DRIFT_ABSTENTIONS, ""): 1,
        (DRIFT_TOP_CONFIDENCE_SUM, ""): pytest.approx(2.3),
        (DRIFT_PREDICTIONS, "bicycle"): 2,
        (DRIFT_PREDICTIONS, "motorcycle"): 1,
        (DRIFT_TOP_CONFIDENCE, "0.9-1.0"): 2,
        (DRIFT_TOP_CONFIDENCE, "0.4-0.5"): 1,
    }

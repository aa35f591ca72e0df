"""Training request validation and the quality gate (pure functions)."""

from __future__ import annotations

import pytest

from contracts.quality_gate import GATE_METRICS
from rekognition_training.gate import (
    GateMetricMissing,
    aggregate_metrics,
    evaluate_gate,
)
from rekognition_training.job import (
    InvalidTrainingInput,
    normalize_job,
    version_name_for,
)

PROJECT = "shapes"
BUCKET = "imgclf-dev-data-123456789012-eu-west-1"
GATE = {"metric": "f1_score", "threshold": 0.85, "min_label_recall": None}
OTHER_DATASET = "arn:aws:rekognition:eu-west-1:123456789012:project/other/dataset/train/1690"


def job(request, execution_name="exec-1"):
    return normalize_job(
        request,
        execution_name=execution_name,
        project_name=PROJECT,
        data_bucket=BUCKET,
        default_gate=GATE,
    )


def test_manifest_request_becomes_a_job_with_an_automatic_split():
    result = job({"training_data": {"manifest_s3_uri": f"s3://{BUCKET}/gt/train.manifest"}})
    assert result == {
        "project_name": PROJECT,
        "version_name": "v-exec-1",
        "output_prefix": f"models/{PROJECT}/v-exec-1/",
        "report_prefix": f"reports/{PROJECT}/v-exec-1/",
        "datasets": {
            "mode": "create",
            "train_source": {
                "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "gt/train.manifest"}}
            },
            "test_mode": "auto_split",
        },
        "gate": GATE,
    }


def test_dataset_copy_request_keeps_both_sources_and_merges_the_gate_override():
    test_arn = OTHER_DATASET.replace("/train/", "/test/")
    result = job(
        {
            "training_data": {"dataset_arn": OTHER_DATASET},
            "test_data": {"dataset_arn": test_arn},
            "version_name": "v2.1",
            "gate": {"metric": "accuracy"},
        }
    )
    assert result["datasets"] == {
        "mode": "create",
        "train_source": {"DatasetArn": OTHER_DATASET},
        "test_mode": "source",
        "test_source": {"DatasetArn": test_arn},
    }
    assert result["version_name"] == "v2.1"
    assert result["gate"] == {**GATE, "metric": "accuracy"}


def test_existing_datasets_mode():
    assert job({"use_existing_datasets": True})["datasets"] == {
        "mode": "existing",
        "test_mode": "existing",
    }


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        ("not an object", "must be a JSON object"),
        ({}, "training_data: required"),
        ({"training_data": {"manifest_s3_uri": "http://x/y"}}, "not an s3://bucket/key URI"),
        (
            {"training_data": {"manifest_s3_uri": "s3://other-bucket/train.manifest"}},
            "this environment's data bucket",
        ),
        ({"training_data": {"dataset_arn": "arn:aws:s3:::nope"}}, "not a Rekognition dataset ARN"),
        (
            {"training_data": {"dataset_arn": OTHER_DATASET.replace("/other/", f"/{PROJECT}/")}},
            "use_existing_datasets",
        ),
        (
            {"training_data": {"dataset_arn": OTHER_DATASET, "manifest_s3_uri": "s3://a/b"}},
            "exactly one",
        ),
        ({"training_data": {"url": "x"}}, "unknown source 'url'"),
        ({"use_existing_datasets": True, "training_data": {}}, "not allowed with use_existing"),
        ({"use_existing_datasets": "yes"}, "must be true or false"),
        ({"use_existing_datasets": True, "project_name": "other"}, "trains project 'shapes' only"),
        ({"use_existing_datasets": True, "version_name": "with space"}, "version_name"),
        ({"use_existing_datasets": True, "version_name": ""}, "version_name"),
        ({"use_existing_datasets": True, "version_name": 7}, "version_name"),
        ("hello", "must be a JSON object, got a string"),
        ([1], "must be a JSON object, got an array"),
        (42, "must be a JSON object, got a number"),
        (None, "must be a JSON object, got null"),
        (True, "must be a JSON object, got a boolean"),
        ({"use_existing_datasets": True, "gate": {"metric": "auc"}}, "gate.metric"),
        ({"use_existing_datasets": True, "gate": {"threshold": 1.5}}, "gate.threshold"),
        ({"use_existing_datasets": True, "gate": {"threshold": True}}, "gate.threshold"),
        (
            {"use_existing_datasets": True, "gate": {"min_label_recall": -1}},
            "gate.min_label_recall",
        ),
        ({"use_existing_datasets": True, "gate": {"colour": 1}}, "gate.colour: unknown"),
        ({"use_existing_datasets": True, "gate": 0.9}, "gate: must be an object"),
        (
            {
                "training_data": {"dataset_arn": OTHER_DATASET},
                "test_data": {"auto_split": True, "x": 1},
            },
            "auto_split takes no other field",
        ),
        ({"use_existing_datasets": True, "typo_field": 1}, "typo_field: unknown field"),
    ],
)
def test_invalid_requests_name_the_field(request_, fragment):
    with pytest.raises(InvalidTrainingInput, match=None) as raised:
        job(request_)
    assert fragment in str(raised.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidTrainingInput) as raised:
        job({"version_name": "bad name", "gate": {"threshold": 9}, "extra": 1})
    assert len(raised.value.problems) == 4  # extra, version_name, training_data, gate.threshold


@pytest.mark.parametrize(
    ("execution", "expected"),
    [("run-1", "v-run-1"), ("a b/c", "v-a-b-c"), ("---", "v-run"), ("x" * 300, "v-" + "x" * 253)],
)
def test_version_names_derive_from_execution_names(execution, expected):
    assert version_name_for(execution) == expected


def test_the_evaluation_produces_every_gate_metric():
    """A gate may name any of GATE_METRICS: the flattened report has each of them."""
    metrics = {
        name: {"micro": 0.5, "macro": 0.5, "weighted": 0.5}
        for name in ("precision", "recall", "f1", "jaccard")
    }
    flat = aggregate_metrics(
        {**metrics, "accuracy": 0.5, "balanced_accuracy": 0.5, "matthews_corrcoef": 0.5}, 0.5
    )
    assert set(flat) == set(GATE_METRICS)


def test_gate_passes_at_the_threshold_and_reports_the_gap():
    verdict = evaluate_gate(GATE, {"f1_score": 0.85}, {})
    assert verdict == {
        "passed": True,
        "metric": "f1_score",
        "value": 0.85,
        "threshold": 0.85,
        "gap": 0.0,
        "reasons": [],
        "summary": "PASSED f1_score = 0.8500 (threshold 0.8500)",
    }


def test_gate_fails_below_the_threshold_and_on_any_label_below_the_recall_floor():
    gate = {"metric": "accuracy", "threshold": 0.9, "min_label_recall": 0.5}
    verdict = evaluate_gate(gate, {"accuracy": 0.95}, {"cat": 0.4, "dog": 0.9, "émeu": 0.1})
    assert verdict["passed"] is False
    assert verdict["reasons"] == [
        "recall of 'cat' 0.4000 is below 0.5000",
        "recall of 'émeu' 0.1000 is below 0.5000",
    ]
    # The metric met its threshold: the one-line verdict says REJECTED with a positive gap.
    assert verdict["summary"] == "REJECTED accuracy = 0.9500 (threshold 0.9000), gap +0.0500"
    below = evaluate_gate(gate, {"accuracy": 0.8}, {})
    assert below["passed"] is False
    assert below["gap"] == pytest.approx(-0.1)
    assert below["summary"] == "REJECTED accuracy = 0.8000 (threshold 0.9000), gap -0.1000"


def test_missing_gate_metric_names_what_is_available():
    with pytest.raises(GateMetricMissing, match="'f1_score' is not in this evaluation") as raised:
        evaluate_gate(GATE, {"accuracy": 0.9}, {})
    assert "available: accuracy" in str(raised.value)


def test_without_the_data_bucket_everything_but_the_bucket_is_checked():
    """``ops train start`` checks the form before it looks the data bucket up in AWS."""
    request = {
        "training_data": {"manifest_s3_uri": "s3://any-bucket/train.manifest"},
        "test_data": {"manifest_s3_uri": "notanuri"},
        "gate": {"threshold": 7},
    }
    with pytest.raises(InvalidTrainingInput) as raised:
        normalize_job(
            request,
            execution_name="e",
            project_name=PROJECT,
            data_bucket=None,
            default_gate=GATE,
        )
    assert raised.value.problems == [
        "test_data.manifest_s3_uri: not an s3://bucket/key URI: 'notanuri'",
        "gate.threshold: a number in [0, 1], got 7",
    ]
    accepted = normalize_job(
        {"training_data": {"manifest_s3_uri": "s3://any-bucket/train.manifest"}},
        execution_name="e",
        project_name=PROJECT,
        data_bucket=None,
        default_gate=GATE,
    )
    assert accepted["datasets"]["train_source"]["GroundTruthManifest"]["S3Object"] == {
        "Bucket": "any-bucket",
        "Name": "train.manifest",
    }


def test_gate_compares_up_to_float_rounding() -> None:
    """(17/20 + 19/20) / 2 is 0.8999999999999999 in floats: it meets a 0.9 threshold."""
    recall_macro = (17 / 20 + 19 / 20) / 2
    assert recall_macro < 0.9
    verdict = evaluate_gate(
        {"metric": "recall_macro", "threshold": 0.9}, {"recall_macro": recall_macro}, {}
    )
    assert verdict == {
        "passed": True,
        "metric": "recall_macro",
        "value": 0.9,
        "threshold": 0.9,
        "gap": 0.0,
        "reasons": [],
        "summary": "PASSED recall_macro = 0.9000 (threshold 0.9000)",
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0.8999999, "m 0.8999999 is below the threshold 0.9000000"),
        (0.89995, "m 0.89995 is below the threshold 0.90000"),
        (0.8999999996, None),  # rounds to 0.9: float noise, not a shortfall
        (0.7, "m 0.7000 is below the threshold 0.9000"),
    ],
)
def test_a_rejection_always_shows_digits_that_differ(value: float, reason: str | None) -> None:
    verdict = evaluate_gate({"metric": "m", "threshold": 0.9}, {"m": value}, {})
    assert verdict["passed"] is (reason is None)
    assert verdict["reasons"] == ([] if reason is None else [reason])


def test_recall_floor_on_a_label_without_test_images_says_so() -> None:
    verdict = evaluate_gate(
        {"metric": "accuracy", "threshold": 0.5, "min_label_recall": 0.8},
        {"accuracy": 0.9},
        {"cat": 0.9, "ghost": 0.0},
        {"cat": 10, "ghost": 0},
    )
    assert verdict["reasons"] == [
        "recall of 'ghost' 0.0000 is below 0.8000 (no test image has this label)"
    ]

"""Per-label metrics, the quality gate, its rejection and its override."""

from __future__ import annotations

import json
from collections import defaultdict

import boto3
import pytest

from contracts.metric_dimensions import is_valid_dimension_value, label_from_dimension
from shared.lineage import parse_lineage
from tests.workflows.harness import REGION
from tests.workflows.rekognition_training.support import (
    ARTIFACTS_BUCKET,
    PARAMETER,
    PROJECT,
    TRAIN_INPUT,
    Rekognition,
    assert_shared_format,
    debug_run,
    notifications,
    put_evaluation,
)


def test_per_label_metrics_of_non_ascii_labels_are_published_with_ascii_dimensions(
    workflow, tmp_path, capsys
):
    """CloudWatch drops a metric whose dimension value is not ASCII: a label in another script
    is published under its documented encoding; the report keeps its name."""
    version = "v-scripts"
    labels = ("circle", "Straßenbahn", "猫", "🚲 bike")
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version, labels=labels)
    capsys.readouterr()

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="scripts")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    published: dict[str, set[str]] = defaultdict(set)
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]:
            for name in dimensions:
                published[name].add(document[name])
    assert published["Label"], "no per-label metric was published"
    for value in published["Label"] | published["Project"] | published["Version"]:
        assert is_valid_dimension_value(value), f"CloudWatch would drop {value!r}"
    decoded = {label_from_dimension(value) for value in published["Label"]}
    assert set(labels) <= decoded
    assert "utf8:Stra%C3%9Fenbahn" in published["Label"]
    assert "circle" in published["Label"]
    s3 = boto3.client("s3", region_name=REGION)
    report = json.loads(
        s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"reports/{PROJECT}/{version}/metrics.json")[
            "Body"
        ].read()
    )
    assert set(labels) <= set(report["per_label"])


def test_gate_rejection_keeps_the_version_and_reports_the_gap(workflow, tmp_path):
    version = "v-weak"
    rekognition = Rekognition(workflow, version=version)
    rekognition.f1 = 0.61
    rekognition.install()
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="weak")

    assert run.status == "SUCCEEDED"
    assert run.output["outcome"] == "REJECTED", debug_run(run)
    assert run.output["gate"] == {
        "passed": False,
        "metric": "f1_score",
        "value": 0.61,
        "threshold": 0.85,
        "gap": -0.24,
        "reasons": ["f1_score 0.6100 is below the threshold 0.8500"],
        "summary": "REJECTED f1_score = 0.6100 (threshold 0.8500), gap -0.2400",
    }
    assert run.entered[-3:] == ["NotifyRejected", "RejectedOutcome", "ModelRejected"]
    assert "rekognition.StartProjectVersion" not in run.calls
    (message,) = notifications(run)
    assert "NOT deployed" in message
    # The verdict words and digits ops train prints (one line, shared.evaluation.verdict).
    assert "\nGate verdict: REJECTED f1_score = 0.6100 (threshold 0.8500), gap -0.2400\n" in message
    assert run.published()[0]["subject"] == "[dev] Rekognition training REJECTED"
    assert_shared_format(message, run.execution_arn, "REJECTED", "rejected a model")
    ssm = boto3.client("ssm", region_name=REGION)
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=PARAMETER)
    # A rejected version has its lineage too: the verdict says it did not pass, and why.
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=ARTIFACTS_BUCKET, Key=f"reports/{PROJECT}/{version}/lineage.json"
    )["Body"]
    record = parse_lineage(body.read())
    assert record.gate.passed is False
    assert record.gate.reasons == run.output["gate"]["reasons"]
    # The source manifest is gone from the data bucket (never written here): URI only.
    assert record.training_data[0].etag is None
    assert run.calls["rekognition.TagResource"][0]["Tags"]["GatePassed"] == "false"


def test_gate_override_per_execution_and_per_label_recall_floor(workflow, tmp_path):
    version = "v-floor"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version, accuracy=0.6)
    gate = {"metric": "accuracy", "threshold": 0.1, "min_label_recall": 0.99}

    run = workflow.run({**TRAIN_INPUT, "version_name": version, "gate": gate}, name="floor")

    assert run.output["outcome"] == "REJECTED", debug_run(run)
    assert run.output["gate"]["metric"] == "accuracy"
    assert any("recall of" in reason for reason in run.output["gate"]["reasons"])


def test_missing_gate_metric_fails_clearly(workflow, tmp_path):
    version = "v-nometric"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    original = rekognition._describe_version

    def without_f1(params):
        answer = original(params)
        for description in answer["ProjectVersionDescriptions"]:
            description.get("EvaluationResult", {}).pop("F1Score", None)
        return answer

    workflow.script("rekognition", "DescribeProjectVersions", without_f1)
    workflow._scripts["rekognition.DescribeProjectVersions"].pop(0)
    # The summary file carries the F1 too: remove it there as well.
    s3 = boto3.client("s3", region_name=REGION)
    key = f"models/{PROJECT}/{version}/summary.json"
    summary = json.loads(s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=key)["Body"].read())
    summary["AggregatedEvaluationResults"].pop("F1Score")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=json.dumps(summary).encode())

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="nometric")

    assert run.status == "FAILED"
    assert run.error == "GateMetricMissing"
    assert "'f1_score' is not in this evaluation" in run.cause
    assert "accuracy" in run.cause
    assert run.entered[-2:] == ["NotifyFailure", "Failed"]

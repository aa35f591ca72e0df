"""The two lineage functions' pure parts: what they record from a workflow state.

The workflows run them for real (tests/workflows); here the edges: a manifest deleted since
training, a manifest given with its version, a copied dataset (no manifest), kept datasets, the
SageMaker gate at and below its threshold, the registry's metrics document.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rekognition_training import lineage as rekognition_lineage
from sagemaker_training import lineage as sagemaker_lineage
from shared.lineage import S3ObjectRef, parse_lineage
from stacks.code_version import code_version

ACCOUNT = "123456789012"
PROJECT = "imgclf-dev-image-classifier"
VERSION_ARN = f"arn:aws:rekognition:eu-west-1:{ACCOUNT}:project/{PROJECT}/version/v1/1"
EXECUTION = f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:training:run-1"
DATASET = f"arn:aws:rekognition:eu-west-1:{ACCOUNT}:project/{PROJECT}/dataset/{{}}/1"


def rekognition_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "job": {
            "project_name": PROJECT,
            "version_name": "v1",
            "gate": {"metric": "f1_score", "threshold": 0.85, "min_label_recall": None},
            "datasets": {
                "mode": "create",
                "train_source": {
                    "GroundTruthManifest": {
                        "S3Object": {"Bucket": "data-bucket", "Name": "m/train.manifest"}
                    }
                },
                "test_mode": "source",
                "test_source": {"DatasetArn": DATASET.format("test")},
            },
        },
        "training": {"descriptions": [{"ProjectVersionArn": VERSION_ARN}]},
        "evaluation": {
            "gate": {
                "passed": False,
                "metric": "f1_score",
                "value": 0.5,
                "threshold": 0.85,
                "gap": -0.35,
                "reasons": ["f1_score 0.5000 is below the threshold 0.8500"],
            },
            "metrics_uri": f"s3://artifacts/reports/{PROJECT}/v1/metrics.json",
            "report_uri": f"s3://artifacts/reports/{PROJECT}/v1/report.html",
        },
        "project": {"arn": "x"},
        "train_dataset": {"arn": DATASET.format("train")},
        "test_dataset": {"arn": DATASET.format("test")},
    }
    state.update(changes)
    return state


def record_of(state: dict[str, Any], head: Any = None) -> Any:
    def pinned(bucket: str, key: str, version: str | None) -> S3ObjectRef:
        return S3ObjectRef(uri=f"s3://{bucket}/{key}", version_id=version or "v9", etag='"e"')

    return rekognition_lineage.lineage_record(
        state,
        execution_arn=EXECUTION,
        started_at="2026-01-01T10:00:00.123Z",
        environment="dev",
        code_version="abc",
        head=head or pinned,
    )


def test_a_rekognition_record_keeps_the_verdict_sources_and_datasets():
    record = parse_lineage(record_of(rekognition_state()).to_dict())
    assert record.gate.passed is False
    assert record.gate.settings == {
        "metric": "f1_score",
        "threshold": 0.85,
        "min_label_recall": None,
    }
    # The training manifest, pinned; the test data was a copied dataset: no manifest.
    assert record.training_data == [
        S3ObjectRef(uri="s3://data-bucket/m/train.manifest", version_id="v9", etag='"e"')
    ]
    assert record.test_data == []
    assert record.datasets == {"train": DATASET.format("train"), "test": DATASET.format("test")}
    assert record.created_at == "2026-01-01T10:00:00+00:00"


def test_kept_datasets_are_recorded_from_the_project():
    state = rekognition_state(project={"arn": "x", "datasets": [DATASET.format("train")]})
    del state["train_dataset"], state["test_dataset"]
    state["job"]["datasets"] = {"mode": "existing", "test_mode": "existing"}
    assert record_of(state).datasets == {"train": DATASET.format("train")}


def test_a_manifest_given_with_its_version_is_headed_at_that_version():
    state = rekognition_state()
    state["job"]["datasets"]["train_source"]["GroundTruthManifest"]["S3Object"]["Version"] = "v3"
    assert record_of(state).training_data[0].version_id == "v3"


@pytest.fixture
def stubbed_s3(monkeypatch) -> Stubber:
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(rekognition_lineage, "s3", client)
    stubber = Stubber(client)
    stubber.activate()
    return stubber


def test_head_pins_version_and_etag(stubbed_s3):
    stubbed_s3.add_response(
        "head_object",
        {"VersionId": "v5", "ETag": '"abc"'},
        {"Bucket": "data-bucket", "Key": "m/train.manifest"},
    )
    assert rekognition_lineage._head("data-bucket", "m/train.manifest", None) == S3ObjectRef(
        uri="s3://data-bucket/m/train.manifest", version_id="v5", etag='"abc"'
    )


def test_a_manifest_deleted_since_is_recorded_by_uri(stubbed_s3):
    stubbed_s3.add_client_error("head_object", service_error_code="404", http_status_code=404)
    assert rekognition_lineage._head("b", "k", "v2") == S3ObjectRef(uri="s3://b/k", version_id="v2")


def test_access_denied_is_not_taken_for_a_deleted_manifest(stubbed_s3):
    stubbed_s3.add_client_error("head_object", service_error_code="403", http_status_code=403)
    with pytest.raises(Exception, match="403"):
        rekognition_lineage._head("b", "k", None)


def sagemaker_state(accuracy: float) -> dict[str, Any]:
    job = "imgclf-dev-ic-0123456789ab"
    return {
        "job": {"name": job},
        "training": {
            "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:training-job/{job}",
            "InputDataConfig": [
                {
                    "ChannelName": name,
                    "DataSource": {"S3DataSource": {"S3Uri": f"s3://data/{name}/"}},
                }
                for name in ("train", "validation")
            ],
            "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": accuracy}],
        },
        "evaluation": {
            "accuracy": accuracy,
            "threshold": 0.8,
            "model_artifacts": f"s3://artifacts/sagemaker/models/{job}/output/model.tar.gz",
        },
    }


@pytest.mark.parametrize(("accuracy", "passed"), [(0.8, True), (0.7999, False)])
def test_the_sagemaker_record_applies_the_workflows_gate(accuracy, passed):
    record = sagemaker_lineage.lineage_record(
        sagemaker_state(accuracy),
        execution_arn=EXECUTION,
        started_at="2026-01-01T10:00:00Z",
        environment="dev",
        group="imgclf-dev-image-classifier",
        code_version="abc",
        metrics_uri="s3://artifacts/sagemaker/reports/j/metrics.json",
    )
    parsed = parse_lineage(record.to_dict())
    assert parsed.gate.passed is passed
    assert [ref.uri for ref in parsed.training_data] == ["s3://data/train/"]
    assert [ref.uri for ref in parsed.test_data] == ["s3://data/validation/"]


def test_the_metrics_document_has_the_model_quality_accuracy():
    document = sagemaker_lineage.metrics_document(sagemaker_state(0.9)["training"])
    assert document["multiclass_classification_metrics"]["accuracy"]["value"] == 0.9
    assert sagemaker_lineage.metrics_document({}) == {"final_metrics": {}}


def test_the_code_version_is_the_checkouts_commit_or_unknown(tmp_path: Path):
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # Uncached: the commit now, even if HEAD moved since another test read it.
    assert code_version.__wrapped__().removesuffix("+dirty") == head
    assert code_version.__wrapped__(tmp_path) == "unknown"


def test_a_checkout_with_local_changes_is_its_commit_plus_dirty(tmp_path: Path):
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "app.py").write_text("one\n", encoding="utf-8")
    git("add", "app.py")
    author = ("-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")
    git(*author, "commit", "-qm", "one")
    head = git("rev-parse", "HEAD")
    assert code_version.__wrapped__(tmp_path) == head
    (tmp_path / "app.py").write_text("two\n", encoding="utf-8")
    assert code_version.__wrapped__(tmp_path) == f"{head}+dirty"

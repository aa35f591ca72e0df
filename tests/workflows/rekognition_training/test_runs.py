"""A whole run from input to notification, and the inputs refused before any call."""

from __future__ import annotations

import json

import boto3
import pytest

from shared.lineage import S3ObjectRef, parse_lineage
from stacks.code_version import code_version
from tests.workflows.harness import REGION
from tests.workflows.rekognition_training.support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    LABELS,
    PARAMETER,
    PROJECT,
    TRAIN_INPUT,
    Rekognition,
    assert_failure_notified,
    assert_shared_format,
    dataset_arn,
    debug_run,
    notifications,
    put_evaluation,
    version_arn,
)


def test_happy_path_trains_evaluates_deploys_and_publishes(workflow, tmp_path):
    version = "v-happy"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    s3 = boto3.client("s3", region_name=REGION)
    manifest = s3.put_object(Bucket=DATA_BUCKET, Key="manifests/train.manifest", Body=b"{}\n")

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="happy")

    assert run.status == "SUCCEEDED", debug_run(run)
    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert run.output["outcome"] == "DEPLOYED"
    assert run.output["project_version_arn"] == version_arn(version)
    assert run.output["gate"]["passed"] is True
    entered = run.entered
    for state in (
        "ValidateInput",
        "CreateProject",
        "CreateTrainDataset",
        "CreateEmptyTestDataset",
        "SplitTrainingData",
        "CreateVersion",
        "Evaluate",
        "StartModel",
        "PublishModel",
        "NotifyDeployed",
        "Deployed",
    ):
        assert state in entered, state
    assert "DeleteOldDatasets" not in entered
    # Nothing to retire: no model was published before.
    assert "StopPreviousModel" not in entered
    # The version is trained into our bucket, under its prefix, with our key.
    (create_version,) = run.calls["rekognition.CreateProjectVersion"]
    assert create_version["OutputConfig"] == {
        "S3Bucket": ARTIFACTS_BUCKET,
        "S3KeyPrefix": f"models/{PROJECT}/{version}/",
    }
    assert create_version["KmsKeyId"].startswith("arn:aws:kms:")
    (dataset_train, dataset_test) = run.calls["rekognition.CreateDataset"]
    assert dataset_train["DatasetSource"] == {
        "GroundTruthManifest": {
            "S3Object": {"Bucket": DATA_BUCKET, "Name": "manifests/train.manifest"}
        }
    }
    assert "DatasetSource" not in dataset_test
    # Waits: 2 min per dataset poll, 5 min per training poll, 1 min per start poll.
    assert run.waits == [120] * 8 + [300, 300] + [60, 60]
    # Inference now uses the new version.
    ssm = boto3.client("ssm", region_name=REGION)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == version_arn(version)
    # The report is in the artifacts bucket and the notification says where.
    s3 = boto3.client("s3", region_name=REGION)
    report = json.loads(
        s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"reports/{PROJECT}/{version}/metrics.json")[
            "Body"
        ].read()
    )
    assert report["labels"][:3] == list(LABELS)
    html = s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"reports/{PROJECT}/{version}/report.html")
    assert html["ContentType"].startswith("text/html")
    (message,) = notifications(run)
    assert "passed the quality gate and is RUNNING" in message
    assert f"reports/{PROJECT}/{version}/report.html" in message
    assert run.published()[0]["subject"] == "[dev] Rekognition training DEPLOYED"
    assert_shared_format(message, run.execution_arn, "DEPLOYED", "deployed a model")
    # Its lineage: the source manifest as it was read, the run, the verdict; and its tags.
    lineage_key = f"reports/{PROJECT}/{version}/lineage.json"
    record = parse_lineage(s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=lineage_key)["Body"].read())
    assert run.output["lineage_uri"] == f"s3://{ARTIFACTS_BUCKET}/{lineage_key}"
    assert record.training_data[0] == S3ObjectRef(
        uri=f"s3://{DATA_BUCKET}/manifests/train.manifest",
        version_id=manifest["VersionId"],
        etag=manifest["ETag"],
    )
    assert record.datasets == {"train": dataset_arn("train"), "test": dataset_arn("test")}
    assert record.execution_arn == run.execution_arn
    assert record.model_version_arn == version_arn(version)
    assert record.gate.passed is True
    assert record.gate.settings["threshold"] == 0.85
    assert record.metrics_uri.endswith(f"reports/{PROJECT}/{version}/metrics.json")
    assert record.code_version == code_version()
    (tag,) = run.calls["rekognition.TagResource"]
    assert tag == {
        "ResourceArn": version_arn(version),
        "Tags": {
            "Lineage": run.output["lineage_uri"],
            "GatePassed": "true",
            "CodeVersion": code_version(),
        },
    }
    assert run.entered.index("RecordLineage") < run.entered.index("GatePassed?")


def test_bad_input_fails_fast_with_every_problem_and_a_notification(workflow):
    rekognition = Rekognition(workflow, version="unused")
    rekognition.install()
    request = {
        "training_data": {"manifest_s3_uri": "s3://someone-elses-bucket/train.manifest"},
        "version_name": "has spaces",
        "gate": {"threshold": 3},
        "colour": "blue",
    }

    run = workflow.run(request, name="bad-input")

    assert run.status == "FAILED"
    assert run.error == "InvalidTrainingInput"
    for fragment in ("colour: unknown field", "version_name:", "gate.threshold", "data bucket"):
        assert fragment in run.cause, fragment
    assert run.entered == ["WrapRequest", "ValidateInput", "NotifyFailure", "Failed"]
    assert not [key for key in run.calls if key.startswith("rekognition.")]
    (message,) = notifications(run)
    assert "InvalidTrainingInput" in message


@pytest.mark.parametrize(
    ("execution_input", "kind"),
    [("hello", "a string"), ([1], "an array"), (42, "a number"), (None, "null")],
)
def test_an_input_that_is_not_an_object_is_refused_and_notified(workflow, execution_input, kind):
    """A Catch cannot record its error in a non-object state: the first state makes one."""
    Rekognition(workflow, version="unused").install()

    run = workflow.run(execution_input, name=f"not-an-object-{kind.split()[-1]}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "InvalidTrainingInput"
    assert f"the input must be a JSON object, got {kind}" in run.cause
    assert run.entered[-2:] == ["NotifyFailure", "Failed"]
    assert not [key for key in run.calls if key.startswith("rekognition.")]
    assert_failure_notified(run)


def test_an_explicit_empty_version_name_is_refused_not_replaced(workflow):
    Rekognition(workflow, version="unused").install()

    run = workflow.run({**TRAIN_INPUT, "version_name": ""}, name="empty-version")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "InvalidTrainingInput"
    assert "version_name: 1-255 letters" in run.cause
    assert "got ''" in run.cause
    assert "rekognition.CreateProjectVersion" not in run.calls
    assert_failure_notified(run)

"""What the training workflow's runs share: scripted Rekognition, names, evaluation files."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3

from shared.notification import render
from tests.evaluation_data import ManifestSpec, write_manifest, write_summary
from tests.workflows.harness import ACCOUNT, REGION, AwsError, LocalWorkflow

PROJECT = "imgclf-dev-image-classifier"  # <prefix>-<env>-<project_name>


PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/1700000000000"


DATA_BUCKET = f"imgclf-dev-data-{ACCOUNT}-{REGION}"


ARTIFACTS_BUCKET = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"


PARAMETER = "/imgclf-dev/rekognition/model-version-arn"


LABELS = ("circle", "square", "triangle")


TRAIN_INPUT = {"training_data": {"manifest_s3_uri": f"s3://{DATA_BUCKET}/manifests/train.manifest"}}


def version_arn(name: str) -> str:
    return f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/version/{name}/1700000001"


def dataset_arn(kind: str) -> str:
    return f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/dataset/{kind}/1700000002"


class Rekognition:
    """Scripted Custom Labels: statuses advance one step per describe call."""

    def __init__(self, workflow: LocalWorkflow, *, version: str) -> None:
        self.workflow = workflow
        self.version = version
        self.dataset_statuses: dict[str, list[str]] = defaultdict(
            lambda: ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
        )
        self.training_statuses = ["TRAINING_IN_PROGRESS", "TRAINING_COMPLETED"]
        self.start_statuses = ["STARTING", "RUNNING"]
        self.f1 = 0.93
        self.stage = "training"

    def install(
        self,
        *,
        existing_project: bool = False,
        old_datasets: tuple[str, ...] = (),
        empty_project_pages: int = 0,
    ) -> None:
        """``empty_project_pages``: DescribeProjects pages without the project (each with a
        NextToken) before the one that has it, as the service may answer a filtered request."""
        w = self.workflow
        projects = (
            [
                {
                    "ProjectArn": PROJECT_ARN,
                    "Status": "CREATED",
                    "Datasets": [
                        {"DatasetArn": arn, "Status": "CREATE_COMPLETE"} for arn in old_datasets
                    ],
                }
            ]
            if existing_project
            else []
        )

        def describe_projects(params: dict[str, Any]) -> dict[str, Any]:
            assert params["ProjectNames"] == [PROJECT]
            token = params.get("NextToken")
            page = int(token.removeprefix("page-")) if token else 0
            if page < empty_project_pages:
                return {"ProjectDescriptions": [], "NextToken": f"page-{page + 1}"}
            return {"ProjectDescriptions": projects}

        w.script("rekognition", "DescribeProjects", describe_projects)
        w.script("rekognition", "CreateProject", {"ProjectArn": PROJECT_ARN})
        w.script(
            "rekognition",
            "CreateDataset",
            lambda params: {"DatasetArn": dataset_arn(params["DatasetType"].lower())},
        )
        w.script("rekognition", "DescribeDataset", self._describe_dataset)
        w.script("rekognition", "DeleteDataset", {})  # its output shape is empty
        w.script("rekognition", "DistributeDatasetEntries", self._distribute)
        w.script(
            "rekognition", "CreateProjectVersion", {"ProjectVersionArn": version_arn(self.version)}
        )
        w.script("rekognition", "DescribeProjectVersions", self._describe_version)
        w.script("rekognition", "StartProjectVersion", self._start)
        w.script("rekognition", "StopProjectVersion", {"Status": "STOPPING"})
        w.script("rekognition", "TagResource", {})  # its output shape is empty

    def _describe_dataset(self, params: dict[str, Any]) -> dict[str, Any] | AwsError:
        arn = params["DatasetArn"]
        statuses = self.dataset_statuses[arn]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status == "GONE":
            return AwsError("ResourceNotFoundException", "dataset not found")
        return {"DatasetDescription": {"Status": status, "StatusMessage": f"{status} message"}}

    def _distribute(self, params: dict[str, Any]) -> dict[str, Any]:
        for dataset in params["Datasets"]:
            self.dataset_statuses[dataset["Arn"]] = ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
        return {}

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        self.stage = "start"
        return {"Status": "STARTING"}

    def _describe_version(self, params: dict[str, Any]) -> dict[str, Any]:
        assert params["VersionNames"] == [self.version], "always describe by VersionNames"
        statuses = self.training_statuses if self.stage == "training" else self.start_statuses
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        description: dict[str, Any] = {
            "ProjectVersionArn": version_arn(self.version),
            "Status": status,
            "StatusMessage": f"{status}: scripted",
        }
        if status not in ("TRAINING_IN_PROGRESS", "TRAINING_FAILED"):
            prefix = f"models/{PROJECT}/{self.version}/"
            description["EvaluationResult"] = {
                "F1Score": self.f1,
                "Summary": {
                    "S3Object": {"Bucket": ARTIFACTS_BUCKET, "Name": prefix + "summary.json"}
                },
            }
            description["TrainingDataResult"] = {
                "Output": {
                    "Assets": [
                        {
                            "GroundTruthManifest": {
                                "S3Object": {
                                    "Bucket": ARTIFACTS_BUCKET,
                                    "Name": prefix + "train.manifest",
                                }
                            }
                        }
                    ]
                }
            }
            description["TestingDataResult"] = {
                "Output": {
                    "Assets": [
                        {
                            "GroundTruthManifest": {
                                "S3Object": {
                                    "Bucket": ARTIFACTS_BUCKET,
                                    "Name": prefix + "eval.manifest",
                                }
                            }
                        }
                    ]
                }
            }
        return {"ProjectVersionDescriptions": [description]}


def put_evaluation(
    tmp_path: Path, version: str, *, accuracy: float = 0.9, labels: tuple[str, ...] = LABELS
) -> None:
    """The summary and evaluation manifest Rekognition would write under the version's prefix."""
    s3 = boto3.client("s3", region_name=REGION)
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=labels, n_images=60, seed=7, accuracy=accuracy))
    write_summary(summary, labels, f1=0.93)
    prefix = f"models/{PROJECT}/{version}/"
    s3.upload_file(str(manifest), ARTIFACTS_BUCKET, prefix + "eval.manifest")
    s3.upload_file(str(summary), ARTIFACTS_BUCKET, prefix + "summary.json")


def notifications(run) -> list[str]:
    return [published["Message"] for published in run.published()]


def assert_shared_format(message: str, execution_arn: str, outcome: str, phrase: str) -> None:
    """Headline, summary, then the fields every notification ends with (shared.notification)."""
    fields = render(
        pipeline="Rekognition training",
        environment="dev",
        outcome=outcome,
        summary="",
        execution_arn=execution_arn,
    ).message.split("\n", 1)[1]
    assert message.startswith(f"Rekognition training {phrase} in environment dev.\n")
    assert message.endswith(fields)


def assert_failure_notified(run) -> None:
    """One FAILED notification, word for word the shared format with the run's error and cause."""
    (published,) = run.published()
    expected = render(
        pipeline="Rekognition training",
        environment="dev",
        outcome="FAILED",
        summary="",
        execution_arn=run.execution_arn,
        error=run.error,
        cause=run.cause,
    )
    assert published["subject"] == expected.subject
    assert published["Message"] == expected.message


#: Every loop two polls long: the longest path runs in seconds, each loop ending on its last
#: allowed poll (the scripted statuses complete on the second describe).
TWO_POLLS = {
    "dataset_poll_seconds": 150,
    "dataset_deadline_minutes": 5,
    "training_poll_minutes": 30,
    "training_deadline_hours": 1,
    "start_poll_seconds": 150,
    "start_deadline_minutes": 5,
}


def debug_run(run) -> str:
    return json.dumps(
        {
            "status": run.status,
            "error": run.error,
            "cause": run.cause,
            "entered": run.entered,
            "output": run.output,
        },
        default=str,
    )[:3000]

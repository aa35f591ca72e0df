"""The synthesized training workflow, executed locally with scripted Rekognition answers.

Rekognition Custom Labels is not in moto: each test scripts the documented responses of the
calls the workflow makes (the runner fails on any unscripted call). S3, SSM, SNS and the two
Lambdas (ValidateInput, Evaluate: the real handlers) run in moto.
"""

from __future__ import annotations

import copy
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from shared.metric_dimensions import is_valid_dimension_value, label_from_dimension
from shared.notification import render
from stacks.config import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    HISTORY_BUDGET,
    PROJECT_LOOKUP_MAX_PAGES,
    load_environment,
)
from stacks.environment import build_environment
from tests.conftest import ENVIRONMENTS
from tests.evaluation_data import ManifestSpec, write_manifest, write_summary
from tests.infra.conftest import make_app
from tests.workflows.asl_loops import loops, state_of_each_event
from tests.workflows.conftest import state_machine_id
from tests.workflows.harness import ACCOUNT, MOTO_CONFIG, REGION, AwsError, LocalWorkflow

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


@pytest.fixture
def workflow(dev_templates, dev_stacks) -> Iterator[LocalWorkflow]:
    with mock_aws(config=MOTO_CONFIG):
        stack = dev_stacks.rekognition_training.stack_name
        local = LocalWorkflow(
            dev_templates, stack, state_machine_id(dev_templates[stack]), strict_answers=True
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield local


def notifications(run) -> list[str]:
    return [published["Message"] for published in run.published()]


def test_happy_path_trains_evaluates_deploys_and_publishes(workflow, tmp_path):
    version = "v-happy"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)

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


def test_existing_project_is_reused_and_its_old_datasets_replaced(workflow, tmp_path):
    version = "v-reuse"
    rekognition = Rekognition(workflow, version=version)
    old = (dataset_arn("train") + "-old", dataset_arn("test") + "-old")
    for arn in old:
        rekognition.dataset_statuses[arn] = ["DELETE_IN_PROGRESS", "GONE"]
    rekognition.install(existing_project=True, old_datasets=old)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="reuse")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert "CreateProject" not in run.entered
    assert "UseProject" in run.entered
    assert sorted(call["DatasetArn"] for call in run.calls["rekognition.DeleteDataset"]) == sorted(
        old
    )
    # The new datasets are created in the existing project, after the old ones are gone.
    for call in run.calls["rekognition.CreateDataset"]:
        assert call["ProjectArn"] == PROJECT_ARN
    assert run.calls["rekognition.CreateProjectVersion"][0]["ProjectArn"] == PROJECT_ARN


def test_an_existing_project_on_a_later_page_is_found_and_reused(workflow, tmp_path):
    """A filtered DescribeProjects page may hold no match and a NextToken: read on."""
    version = "v-page-3"
    rekognition = Rekognition(workflow, version=version)
    old = (dataset_arn("train") + "-old",)
    rekognition.dataset_statuses[old[0]] = ["GONE"]
    rekognition.install(existing_project=True, old_datasets=old, empty_project_pages=2)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="page-3")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert [call.get("NextToken") for call in run.calls["rekognition.DescribeProjects"]] == [
        None,
        "page-1",
        "page-2",
    ]
    assert "rekognition.CreateProject" not in run.calls
    assert run.calls["rekognition.CreateProjectVersion"][0]["ProjectArn"] == PROJECT_ARN
    # Its datasets (listed on the page that had it) are replaced.
    assert run.calls["rekognition.DeleteDataset"] == [{"DatasetArn": old[0]}]


def test_a_project_on_no_page_is_created(workflow, tmp_path):
    version = "v-new-after-pages"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(empty_project_pages=2)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="new-after-pages")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert len(run.calls["rekognition.DescribeProjects"]) == 3
    # Tagged: CreateProject is granted only with the workflow's ManagedBy request tag.
    assert run.calls["rekognition.CreateProject"] == [
        {
            "ProjectName": PROJECT,
            "Tags": {"Environment": "dev", "ManagedBy": "rekognition-training-workflow"},
        }
    ]


def test_the_project_lookup_is_bounded(workflow):
    Rekognition(workflow, version="v-endless").install(empty_project_pages=10_000)

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-endless"}, name="endless-pages")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "ProjectLookupIncomplete"
    assert f"after {PROJECT_LOOKUP_MAX_PAGES} pages" in run.cause
    assert len(run.calls["rekognition.DescribeProjects"]) == PROJECT_LOOKUP_MAX_PAGES
    assert "rekognition.CreateProject" not in run.calls
    assert_failure_notified(run)


def test_use_existing_datasets_trains_without_touching_them(workflow, tmp_path):
    version = "v-existing"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True, old_datasets=(dataset_arn("train"),))
    put_evaluation(tmp_path, version)

    run = workflow.run({"use_existing_datasets": True, "version_name": version}, name="existing")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert "rekognition.DeleteDataset" not in run.calls
    assert "rekognition.CreateDataset" not in run.calls


def test_dataset_create_failed_fails_with_the_status_message(workflow):
    rekognition = Rekognition(workflow, version="v-bad-data")
    rekognition.dataset_statuses[dataset_arn("train")] = ["CREATE_IN_PROGRESS", "CREATE_FAILED"]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-bad-data"}, name="bad-data")

    assert run.status == "FAILED"
    assert run.error == "DatasetFailed"
    assert (
        "is CREATE_FAILED (expected CREATE_COMPLETE or UPDATE_COMPLETE while creating the dataset)"
        in run.cause
    )
    assert "CREATE_FAILED message" in run.cause
    assert run.entered[-3:] == ["TrainDatasetFailed", "NotifyFailure", "Failed"]
    assert "rekognition.CreateProjectVersion" not in run.calls
    (message,) = notifications(run)
    assert "DatasetFailed" in message
    assert "CREATE_FAILED message" in message


def test_training_failed_fails_with_the_status_message(workflow):
    rekognition = Rekognition(workflow, version="v-broken")
    rekognition.training_statuses = ["TRAINING_IN_PROGRESS", "TRAINING_FAILED"]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-broken"}, name="broken")

    assert run.status == "FAILED"
    assert run.error == "TrainingFailed"
    assert "TRAINING_FAILED: scripted" in run.cause
    assert "Evaluate" not in run.entered
    assert "rekognition.StartProjectVersion" not in run.calls


@pytest.mark.parametrize("status", ["DEPRECATED", "EXPIRED", "STOPPED", "DELETING"])
def test_training_ending_in_any_terminal_status_fails_at_once(workflow, status):
    """Not only TRAINING_FAILED: every status from which training cannot complete."""
    version = f"v-{status.lower()}"
    rekognition = Rekognition(workflow, version=version)
    rekognition.training_statuses = ["TRAINING_IN_PROGRESS", status]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"training-{status}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "TrainingFailed"
    assert f"is {status} (expected TRAINING_COMPLETED while training)" in run.cause
    assert f"{status}: scripted" in run.cause  # the service's StatusMessage
    # Failed on the poll that saw it: no further poll.
    assert len(run.calls["rekognition.DescribeProjectVersions"]) == 2
    assert "Evaluate" not in run.entered
    assert_failure_notified(run)


@pytest.mark.parametrize("status", ["STOPPED", "STOPPING", "DEPRECATED"])
def test_a_model_stopped_while_starting_fails_at_once(workflow, tmp_path, status):
    version = f"v-start-{status.lower()}"
    rekognition = Rekognition(workflow, version=version)
    rekognition.start_statuses = ["STARTING", status]
    rekognition.install()
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"start-{status}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "StartFailed"
    assert f"is {status} (expected RUNNING while starting)" in run.cause
    assert f"{status}: scripted" in run.cause
    training_polls = 2
    assert len(run.calls["rekognition.DescribeProjectVersions"]) == training_polls + 2
    assert "ssm.PutParameter" not in run.calls
    assert_failure_notified(run)


@pytest.mark.parametrize("dataset", ["train", "test"])
def test_a_dataset_deleted_while_being_created_fails_at_once(workflow, dataset):
    rekognition = Rekognition(workflow, version="v-deleted-data")
    rekognition.dataset_statuses[dataset_arn(dataset)] = [
        "CREATE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    ]
    rekognition.install()
    request = {
        **TRAIN_INPUT,
        "test_data": {"manifest_s3_uri": f"s3://{DATA_BUCKET}/manifests/test.manifest"},
        "version_name": "v-deleted-data",
    }

    run = workflow.run(request, name=f"deleted-{dataset}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "DatasetFailed"
    assert "is DELETE_IN_PROGRESS (expected CREATE_COMPLETE or UPDATE_COMPLETE" in run.cause
    assert "DELETE_IN_PROGRESS message" in run.cause  # the service's StatusMessage
    describes = [c for c in run.calls["rekognition.DescribeDataset"] if dataset in c["DatasetArn"]]
    assert len(describes) == 2
    assert "rekognition.CreateProjectVersion" not in run.calls
    assert_failure_notified(run)


def test_the_split_waits_for_update_complete_not_the_earlier_create_complete(workflow, tmp_path):
    """Right after DistributeDatasetEntries a dataset may still read CREATE_COMPLETE."""
    version = "v-split-lag"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    original = rekognition._distribute

    def lagging(params):
        answer = original(params)
        for dataset in params["Datasets"]:
            rekognition.dataset_statuses[dataset["Arn"]] = [
                "CREATE_COMPLETE",
                "UPDATE_IN_PROGRESS",
                "UPDATE_COMPLETE",
            ]
        return answer

    workflow._scripts["rekognition.DistributeDatasetEntries"] = [lagging]

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="split-lag")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    split_polls = [name for name in run.entered if name == "DescribeSplitTrainDataset"]
    assert len(split_polls) == 3


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


def test_throttling_is_retried_with_backoff_then_succeeds(workflow, tmp_path):
    version = "v-throttled"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    throttled = AwsError("ThrottlingException", "Rate exceeded")
    workflow._scripts["rekognition.CreateProjectVersion"][:0] = [throttled, throttled]

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="throttled")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert len(run.calls["rekognition.CreateProjectVersion"]) == 3
    # Two back-offs, full jitter: each within [0, 2 s x 2^n].
    assert len(run.retry_sleeps) == 2
    assert 0 <= run.retry_sleeps[0] <= 2
    assert 0 <= run.retry_sleeps[1] <= 4


def test_error_that_cannot_succeed_is_not_retried(workflow):
    rekognition = Rekognition(workflow, version="v-denied")
    rekognition.install()
    workflow._scripts["rekognition.CreateProject"][:0] = [AwsError("AccessDeniedException", "no")]

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-denied"}, name="denied")

    assert run.status == "FAILED"
    assert run.error == "Rekognition.AccessDeniedException"
    assert run.retry_sleeps == []
    assert len(run.calls["rekognition.CreateProject"]) == 1


def test_model_start_failed_fails_with_the_status_message(workflow, tmp_path):
    version = "v-nostart"
    rekognition = Rekognition(workflow, version=version)
    rekognition.start_statuses = ["STARTING", "FAILED"]
    rekognition.install()
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="nostart")

    assert run.status == "FAILED"
    assert run.error == "StartFailed"
    assert "FAILED: scripted" in run.cause
    assert "ssm.PutParameter" not in run.calls


@pytest.fixture(scope="module")
def short_deadline_templates(cdk_context) -> dict[str, dict[str, Any]]:
    """dev with a 1-hour training deadline: 12 polls of 5 minutes."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = {"training_deadline_hours": 1}
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


def test_training_polling_deadline_is_reached_and_reported(short_deadline_templates, dev_stacks):
    with mock_aws(config=MOTO_CONFIG):
        stack = dev_stacks.rekognition_training.stack_name
        workflow = LocalWorkflow(
            short_deadline_templates,
            stack,
            state_machine_id(short_deadline_templates[stack]),
            strict_answers=True,
        )
        rekognition = Rekognition(workflow, version="v-slow")
        rekognition.training_statuses = ["TRAINING_IN_PROGRESS"]
        rekognition.install()

        run = workflow.run({**TRAIN_INPUT, "version_name": "v-slow"}, name="slow")

    assert run.status == "FAILED"
    assert run.error == "PollingDeadlineExceeded"
    assert "within 12 polls (3600 s)" in run.cause
    assert run.waits.count(300) == 12
    assert "rekognition.StartProjectVersion" not in run.calls


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


@pytest.fixture(scope="module")
def two_poll_stacks(cdk_context):
    """(templates, training stack name, its training settings) of dev with TWO_POLLS."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = TWO_POLLS
    config = load_environment(context, "dev")
    stacks = build_environment(make_app(context), config)
    templates = {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}
    return templates, stacks.rekognition_training.stack_name, config.rekognition_training


def test_the_longest_run_measured_stays_under_half_the_history_quota(
    two_poll_stacks, cdk_context, tmp_path
):
    """The worst path, run: the project on the last page read, both old datasets deleted,
    TRAIN and TEST created and split, training and start, every loop ending just before its
    deadline. Its events, per loop and outside the loops, extrapolated to the shipped
    deadlines, stay under half the quota, and the config's estimate never undercounts them."""
    templates, stack, short = two_poll_stacks
    with mock_aws(config=MOTO_CONFIG):
        workflow = LocalWorkflow(
            templates, stack, state_machine_id(templates[stack]), strict_answers=True
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        version = "v-longest"
        rekognition = Rekognition(workflow, version=version)
        old = (dataset_arn("train") + "-old", dataset_arn("test") + "-old")
        for arn in old:
            rekognition.dataset_statuses[arn] = ["DELETE_IN_PROGRESS"] * (
                short.dataset_max_polls - 1
            ) + ["GONE"]
        rekognition.install(
            existing_project=True,
            old_datasets=old,
            empty_project_pages=PROJECT_LOOKUP_MAX_PAGES - 1,
        )
        put_evaluation(tmp_path, version)

        run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="longest", timeout=120)

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    definition_loops = {loop.label: loop for loop in loops(workflow.definition)}
    budgeted = {loop.name: loop for loop in short.worst_path_loops}
    assert set(definition_loops) == set(budgeted)
    owner = state_of_each_event(run.history)
    events_of = Counter(owner.values())
    visits = Counter(run.entered)
    in_loops = 0
    measured: dict[str, float] = {}
    for label, loop in definition_loops.items():
        # Every run of every loop went to its last allowed poll.
        polls = budgeted[label].polls
        if label == "ProjectPages":
            assert visits["FindProjectNextPage"] == polls - 1  # page 1 is read before the loop
        else:
            assert visits[f"Wait{label}"] == polls, label
        # A full iteration visits each of the loop's states once.
        measured[label] = sum(events_of[state] / visits[state] for state in loop.states)
        assert measured[label] == loop.events_per_iteration, label
        assert measured[label] <= EVENTS_PER_POLL, f"{label}: {measured[label]} events a poll"
        in_loops += sum(events_of[state] for state in loop.states)
    outside = len(run.history) - in_loops
    assert outside <= EVENTS_OUTSIDE_LOOPS, f"{outside} events outside the loops"

    for env in ENVIRONMENTS:
        shipped = load_environment(cdk_context, env).rekognition_training
        worst = outside + sum(loop.polls * measured[loop.name] for loop in shipped.worst_path_loops)
        assert worst < HISTORY_BUDGET, f"{env}: the longest run makes ~{worst:.0f} events"
        assert shipped.worst_path_history_events >= worst, "the config's estimate undercounts"


def test_blue_green_stops_the_previously_published_version(workflow, tmp_path):
    version = "v-green"
    previous = version_arn("v-blue")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=previous, Type="String"
    )
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="green")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert run.output["previous_version_arn"] == previous
    assert run.calls["rekognition.StopProjectVersion"] == [{"ProjectVersionArn": previous}]
    assert run.entered.index("StopPreviousModel") > run.entered.index("PublishModel")
    (message,) = notifications(run)
    assert f"previously {previous}" in message


@pytest.mark.parametrize(
    ("error", "attempts"),
    [
        (AwsError("AccessDeniedException", "not allowed to stop it"), 1),
        (AwsError("ThrottlingException", "Rate exceeded"), 6),  # after its 5 retries
        (AwsError("InvalidParameterException", "not a running version"), 1),
    ],
    ids=["denied", "throttled", "invalid"],
)
def test_a_previous_model_that_cannot_be_stopped_ends_deployed_with_a_warning(
    workflow, tmp_path, error, attempts
):
    """The new version runs and inference uses it: the run is a deployment, and says the old
    version still bills."""
    version = "v-green-2"
    previous = version_arn("v-blue-2")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=previous, Type="String"
    )
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True)
    workflow._scripts["rekognition.StopProjectVersion"] = [error]
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"stuck-{error.code}")

    assert run.status == "SUCCEEDED", debug_run(run)
    assert run.output["outcome"] == "DEPLOYED"
    assert run.output["project_version_arn"] == version_arn(version)
    assert len(run.calls["rekognition.StopProjectVersion"]) == attempts
    ssm = boto3.client("ssm", region_name=REGION)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == version_arn(version)
    warning = run.output["warning"]
    assert warning["previous_version_still_running"] == previous
    assert warning["error"] == f"Rekognition.{error.code}"
    assert error.message in warning["cause"]
    assert warning["hourly_cost_usd"] == 4  # dev: 1 inference unit at about $4 an hour
    cli = f"aws rekognition stop-project-version --project-version-arn {previous} --region {REGION}"
    ops = f"python -m ops model stop --env dev --version-arn {previous}"
    assert warning["stop_commands"] == [ops, cli]
    for fragment in (previous, "still RUNNING", f"Rekognition.{error.code}", "$4", ops, cli):
        assert fragment in warning["message"], fragment
    (published,) = run.published()
    assert published["subject"] == "[dev] Rekognition training DEPLOYED"
    message = published["Message"]
    assert "passed the quality gate and is RUNNING" in message
    assert f"WARNING: {warning['message']}" in message
    assert_shared_format(message, run.execution_arn, "DEPLOYED", "deployed a model")


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

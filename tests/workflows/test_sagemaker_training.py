"""The synthesized train -> gate -> deploy workflow, executed locally with scripted SageMaker.

moto only forwards the optimized ``sagemaker:*`` integrations (and cannot run ``.sync``), so
every SageMaker call is answered from a script of the documented responses; the runner waits for
the training job the way Step Functions does (DescribeTrainingJob until a terminal status). The
scripts also check the requests the workflow makes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto import mock_aws

from stacks.pipelines.sagemaker_training.endpoint import (
    ENDPOINT_LOOKUP_ATTEMPTS,
    ENDPOINT_STATUSES,
    EndpointPhase,
)
from tests.workflows.harness import ACCOUNT, MOTO_CONFIG, REGION, AwsError, LocalWorkflow
from tests.workflows.sagemaker_support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    ENDPOINT,
    STACK,
    conforming,
    create_buckets,
    machine_id,
)

JOB_PREFIX = "imgclf-dev-ic-"
#: The built-in algorithm's registry in eu-west-1 (the runner's region).
IMAGE = f"685385470294.dkr.ecr.{REGION}.amazonaws.com/image-classification:1"
NOW = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
#: Endpoint statuses a deployment passes through before it ends.
TRANSITIONAL_STATUSES = {"Creating", "Updating", "SystemUpdating", "RollingBack"}
OLD_CONFIG = "imgclf-dev-ic-0123456789ab"
#: The SecondaryStatus DescribeTrainingJob reports with each TrainingJobStatus scripted here.
SECONDARY_STATUSES = {
    "InProgress": "Training",
    "Completed": "Completed",
    "Failed": "Failed",
    "Stopped": "Stopped",
}


@dataclass
class Endpoint:
    """The endpoint as SageMaker describes it."""

    status: str
    config: str
    failure_reason: str | None = None
    created: datetime.datetime = field(default_factory=lambda: NOW - datetime.timedelta(days=30))


class SageMaker:
    """A scripted SageMaker: the training job and the endpoint advance one status per describe.

    The endpoint exists only once a test gives one (``existing``) or the workflow creates it;
    DescribeEndpoint of a missing one answers as SageMaker does (ValidationException, "Could not
    find endpoint"). A deployment walks ``endpoint_statuses``; when it ends, the endpoint holds
    the requested configuration unless ``rolls_back`` (SageMaker restores the previous one), and
    ``failure_reason`` is what SageMaker reports for it. Every answer is checked against
    botocore's output shape.
    """

    def __init__(self, workflow: LocalWorkflow) -> None:
        self.workflow = workflow
        self.training_statuses = ["InProgress", "Completed"]
        self.validation_accuracy: float | None = 0.93
        self.existing: Endpoint | None = None
        self.endpoint_statuses = ["Creating", "InService"]
        self.rolls_back = False
        self.failure_reason: str | None = None
        #: Other endpoints of the account (ListEndpoints' pages), newest first.
        self.other_endpoints: list[dict[str, Any]] = []
        self.job_name = ""
        self.channels: list[dict[str, Any]] = []
        #: Versions registered in the model package group, in order.
        self.packages: list[dict[str, Any]] = []
        self._deploying: str | None = None

    def install(self) -> None:
        w = self.workflow
        w.script("sagemaker", "CreateTrainingJob", self._create_training_job)
        w.script("sagemaker", "DescribeTrainingJob", self._describe_training_job)
        w.script("sagemaker", "CreateModel", {"ModelArn": self._arn("model")})
        w.script(
            "sagemaker", "CreateEndpointConfig", {"EndpointConfigArn": self._arn("endpoint-config")}
        )
        w.script("sagemaker", "ListEndpoints", self._list_endpoints)
        w.script("sagemaker", "CreateEndpoint", self._create_endpoint)
        w.script("sagemaker", "UpdateEndpoint", self._update_endpoint)
        w.script("sagemaker", "DescribeEndpoint", self._describe_endpoint)
        w.script("sagemaker", "AddTags", {"Tags": []})
        w.script("sagemaker", "CreateModelPackage", self._create_model_package)

    @staticmethod
    def _arn(kind: str, name: str = "x") -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"

    def _create_model_package(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.packages.append(dict(params))
        arn = self._arn("model-package", f"{params['ModelPackageGroupName']}/{len(self.packages)}")
        return conforming("sagemaker", "CreateModelPackage", {"ModelPackageArn": arn})

    def _create_training_job(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.job_name = params["TrainingJobName"]
        self.channels = [
            {
                "ChannelName": channel["ChannelName"],
                "DataSource": channel["DataSource"],
                "ContentType": channel["ContentType"],
            }
            for channel in params["InputDataConfig"]
        ]
        return conforming(
            "sagemaker", "CreateTrainingJob", {"TrainingJobArn": self._arn("training-job")}
        )

    def _describe_training_job(self, params: Mapping[str, Any]) -> dict[str, Any]:
        assert params["TrainingJobName"] == self.job_name
        status = (
            self.training_statuses.pop(0)
            if len(self.training_statuses) > 1
            else (self.training_statuses[0])
        )
        description: dict[str, Any] = {
            "TrainingJobName": self.job_name,
            "TrainingJobArn": self._arn("training-job"),
            "TrainingJobStatus": status,
            "SecondaryStatus": SECONDARY_STATUSES[status],
            "CreationTime": NOW,
            "ModelArtifacts": {
                "S3ModelArtifacts": f"s3://{ARTIFACTS_BUCKET}/sagemaker/models/"
                f"{self.job_name}/output/model.tar.gz"
            },
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 14400},
            "BillableTimeInSeconds": 900,
            "InputDataConfig": self.channels,
        }
        if status == "Failed":
            description["FailureReason"] = "ClientError: No train_lst channel data found"
        if status == "Completed":
            metrics = [{"MetricName": "train:accuracy", "Value": 0.99}]
            if self.validation_accuracy is not None:
                metrics.append(
                    {"MetricName": "validation:accuracy", "Value": self.validation_accuracy}
                )
            description["FinalMetricDataList"] = metrics
        return conforming("sagemaker", "DescribeTrainingJob", description)

    def _summaries(self) -> list[dict[str, Any]]:
        ours = []
        if self.existing is not None:
            ours.append(
                {
                    "EndpointName": ENDPOINT,
                    "EndpointArn": self._arn("endpoint", ENDPOINT),
                    "CreationTime": self.existing.created,
                    "LastModifiedTime": self.existing.created,
                    "EndpointStatus": self.existing.status,
                }
            )
        return sorted([*self.other_endpoints, *ours], key=lambda e: e["CreationTime"], reverse=True)

    def _list_endpoints(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """ListEndpoints as documented: NameContains filter, newest first, 10 per page."""
        contains = params.get("NameContains", "")
        matching = [e for e in self._summaries() if contains in e["EndpointName"]]
        start = int(params.get("NextToken", "0"))
        end = start + int(params.get("MaxResults", 10))
        answer: dict[str, Any] = {"Endpoints": matching[start:end]}
        if end < len(matching):
            answer["NextToken"] = str(end)
        return conforming("sagemaker", "ListEndpoints", answer)

    def _create_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        assert self.existing is None, "CreateEndpoint of an endpoint that exists"
        self.existing = Endpoint(status="Creating", config=params["EndpointConfigName"])
        self._deploying = params["EndpointConfigName"]
        return conforming("sagemaker", "CreateEndpoint", {"EndpointArn": self._arn("endpoint")})

    def _update_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        assert self.existing is not None
        assert self.existing.status == "InService"
        self.existing.status = "Updating"
        self._deploying = params["EndpointConfigName"]
        return conforming("sagemaker", "UpdateEndpoint", {"EndpointArn": self._arn("endpoint")})

    def _describe_endpoint(self, params: Mapping[str, Any]) -> Any:
        assert params["EndpointName"] == ENDPOINT
        endpoint = self.existing
        if endpoint is None:
            arn = self._arn("endpoint", ENDPOINT)
            return AwsError("ValidationException", f'Could not find endpoint "{arn}".')
        if self._deploying is not None:
            status = (
                self.endpoint_statuses.pop(0)
                if len(self.endpoint_statuses) > 1
                else self.endpoint_statuses[0]
            )
            endpoint.status = status
            if status not in TRANSITIONAL_STATUSES:  # the deployment has ended
                if not (status == "InService" and self.rolls_back):
                    endpoint.config = self._deploying
                if self.failure_reason is not None:
                    endpoint.failure_reason = self.failure_reason
        description: dict[str, Any] = {
            "EndpointName": ENDPOINT,
            "EndpointArn": self._arn("endpoint", ENDPOINT),
            "EndpointConfigName": endpoint.config,
            "EndpointStatus": endpoint.status,
            "CreationTime": endpoint.created,
            "LastModifiedTime": NOW,
        }
        if endpoint.failure_reason is not None:
            description["FailureReason"] = endpoint.failure_reason
        return conforming("sagemaker", "DescribeEndpoint", description)


@pytest.fixture
def sagemaker(dev_templates) -> Iterator[SageMaker]:
    with mock_aws(config=MOTO_CONFIG):
        create_buckets()
        workflow = LocalWorkflow(
            dev_templates, STACK, machine_id(dev_templates[STACK], "TrainingWorkflow")
        )
        scripted = SageMaker(workflow)
        scripted.install()
        yield scripted


def sent(run: Any, operation: str) -> dict[str, Any]:
    (params,) = run.calls[f"sagemaker.{operation}"]
    return dict(params)


def test_gate_pass_trains_and_creates_the_endpoint(sagemaker):
    run = sagemaker.workflow.run({}, name="pass")

    assert run.status == "SUCCEEDED", run.cause
    job = sagemaker.job_name
    assert job.startswith(JOB_PREFIX)
    assert len(job) == len(JOB_PREFIX) + 12
    assert run.output == {
        "outcome": "DEPLOYED",
        "training_job": job,
        "endpoint": ENDPOINT,
        "endpoint_config": job,
        "evaluation": {
            "accuracy": 0.93,
            "threshold": 0.8,
            "model_artifacts": f"s3://{ARTIFACTS_BUCKET}/sagemaker/models/{job}/output/model.tar.gz",
        },
    }
    assert "CreateEndpoint" in run.entered
    assert "UpdateEndpoint" not in run.entered
    # The job was polled until Completed; the endpoint twice, a minute apart.
    assert len(run.calls["sagemaker.DescribeTrainingJob"]) == 2
    assert run.waits == [60, 60]

    training = sent(run, "CreateTrainingJob")
    assert training["AlgorithmSpecification"] == {
        "TrainingImage": IMAGE,
        "TrainingInputMode": "File",
    }
    assert training["HyperParameters"]["num_classes"] == "2"
    assert training["HyperParameters"]["epochs"] == "10"
    assert training["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"
    assert training["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    assert training["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert training["OutputDataConfig"]["S3OutputPath"] == (
        f"s3://{ARTIFACTS_BUCKET}/sagemaker/models/"
    )
    channels = {c["ChannelName"]: c for c in training["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "train_lst", "validation_lst"}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{DATA_BUCKET}/sagemaker/training/train/"
    )
    assert channels["train"]["ContentType"] == "application/x-image"
    assert training["StoppingCondition"] == {"MaxRuntimeInSeconds": 4 * 3600}

    model = sent(run, "CreateModel")
    assert model["ModelName"] == job
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == run.output["evaluation"]["model_artifacts"]

    config = sent(run, "CreateEndpointConfig")
    assert config["EndpointConfigName"] == job
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large"
    assert variant["ModelName"] == job
    assert config["KmsKeyId"]
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["DestinationS3Uri"] == f"s3://{ARTIFACTS_BUCKET}/sagemaker/data-capture"
    assert capture["KmsKeyId"].startswith("arn:aws:kms:")

    assert sent(run, "CreateEndpoint") == {"EndpointName": ENDPOINT, "EndpointConfigName": job}
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training DEPLOYED"
    assert "validation:accuracy 0.93 >= 0.8" in published["Message"]
    assert f"endpoint {ENDPOINT} is InService" in published["Message"]


def test_gate_pass_updates_an_existing_endpoint(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "Updating", "InService"]

    run = sagemaker.workflow.run({}, name="update")

    assert run.status == "SUCCEEDED", run.cause
    assert "UpdateEndpoint" in run.entered
    assert "CreateEndpoint" not in run.entered
    # A blue/green update (dev: all at once, a 5-minute bake, the old fleet kept 5 minutes)
    # that SageMaker rolls back by itself if a guardrail alarm fires meanwhile.
    assert sent(run, "UpdateEndpoint") == {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": sagemaker.job_name,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "ALL_AT_ONCE",
                    "WaitIntervalInSeconds": 300,
                },
                "TerminationWaitInSeconds": 300,
                "MaximumExecutionTimeoutInSeconds": 2700,
            },
            "AutoRollbackConfiguration": {
                "Alarms": [
                    {"AlarmName": "imgclf-dev-sagemaker-training-rollback-5xx"},
                    {"AlarmName": "imgclf-dev-sagemaker-training-rollback-model-latency"},
                    {"AlarmName": "imgclf-dev-sagemaker-training-rollback-low-confidence"},
                ]
            },
        },
    }
    assert run.waits == [60, 60, 60]
    assert run.output["endpoint_config"] == sagemaker.job_name
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training DEPLOYED"


def test_a_missing_endpoint_is_created_after_an_exact_name_lookup(sagemaker):
    run = sagemaker.workflow.run({}, name="no-endpoint-yet")

    assert run.status == "SUCCEEDED", run.cause
    assert run.entered[run.entered.index("FindEndpoint") :][:3] == [
        "FindEndpoint",
        "EndpointMissing?",
        "CreateEndpoint",
    ]
    assert run.calls["sagemaker.DescribeEndpoint"][0] == {"EndpointName": ENDPOINT}
    assert "sagemaker.ListEndpoints" not in run.calls


def test_our_endpoint_is_found_behind_a_page_of_newer_similar_names(sagemaker):
    """ListEndpoints' first page (10, newest first) holds only longer names containing ours."""
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "InService"]
    sagemaker.other_endpoints = [
        {
            "EndpointName": f"{ENDPOINT}-shadow-{index}",
            "EndpointArn": SageMaker._arn("endpoint", f"{ENDPOINT}-shadow-{index}"),
            "CreationTime": NOW - datetime.timedelta(hours=index),
            "LastModifiedTime": NOW - datetime.timedelta(hours=index),
            "EndpointStatus": "InService",
        }
        for index in range(10)
    ]
    first_page = sagemaker._list_endpoints({"NameContains": ENDPOINT})
    assert ENDPOINT not in {e["EndpointName"] for e in first_page["Endpoints"]}
    assert "NextToken" in first_page

    run = sagemaker.workflow.run({}, name="found-by-name")

    assert run.status == "SUCCEEDED", run.cause
    assert "UpdateEndpoint" in run.entered
    assert "CreateEndpoint" not in run.entered
    assert "sagemaker.CreateEndpoint" not in run.calls
    assert run.output["endpoint_config"] == sagemaker.job_name


def test_a_lookup_that_fails_otherwise_is_reported_not_taken_for_missing(sagemaker):
    denied = AwsError(
        "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/x is not authorized to perform: "
        "sagemaker:DescribeEndpoint",
    )
    # Tried again (the name is also throttling's), a bounded number of times, then reported.
    for _ in range(ENDPOINT_LOOKUP_ATTEMPTS):
        sagemaker.workflow._scripts["sagemaker.DescribeEndpoint"].insert(0, denied)

    run = sagemaker.workflow.run({}, name="lookup-denied")

    assert len(run.calls["sagemaker.DescribeEndpoint"]) == ENDPOINT_LOOKUP_ATTEMPTS
    assert run.waits == [10] * (ENDPOINT_LOOKUP_ATTEMPTS - 1)
    assert run.status == "FAILED"
    # SageMaker models no AccessDeniedException: an aws-sdk task names it SageMakerException.
    assert run.error == "SageMaker.SageMakerException"
    assert "not authorized to perform: sagemaker:DescribeEndpoint" in run.cause
    assert run.entered[-4:] == [
        "EndpointMissing?",
        "EndpointLookupFailed",
        "NotifyFailure",
        "Failed",
    ]
    assert "sagemaker.CreateEndpoint" not in run.calls


def test_a_throttled_lookup_is_tried_again_and_the_deployment_goes_on(sagemaker):
    throttled = AwsError("ThrottlingException", "Rate exceeded")
    sagemaker.workflow._scripts["sagemaker.DescribeEndpoint"].insert(0, throttled)

    run = sagemaker.workflow.run({}, name="lookup-throttled")

    assert run.status == "SUCCEEDED", run.cause
    assert run.entered.count("FindEndpoint") == 2
    assert "WaitEndpointLookup" in run.entered


def test_a_missing_endpoint_is_not_looked_up_again(sagemaker):
    sagemaker.existing = None

    run = sagemaker.workflow.run({}, name="first-deployment")

    assert run.status == "SUCCEEDED", run.cause
    assert run.entered.count("FindEndpoint") == 1
    assert "CreateEndpoint" in run.entered
    assert run.retry_sleeps == []


def test_gate_reject_notifies_and_leaves_the_endpoint_alone(sagemaker):
    sagemaker.validation_accuracy = 0.61

    run = sagemaker.workflow.run({}, name="reject")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["outcome"] == "REJECTED"
    assert run.output["evaluation"]["accuracy"] == 0.61
    assert run.entered[-4:] == ["GatePassed?", "NotifyRejected", "RejectedOutcome", "ModelRejected"]
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"):
        assert f"sagemaker.{operation}" not in run.calls
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training REJECTED"
    assert "0.61 is below the gate of 0.8" in published["Message"]
    assert "NOT deployed" in published["Message"]


def test_accuracy_exactly_at_the_gate_passes(sagemaker):
    sagemaker.validation_accuracy = 0.8

    run = sagemaker.workflow.run({}, name="at-gate")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["outcome"] == "DEPLOYED"


def test_missing_validation_metric_fails_and_notifies(sagemaker):
    sagemaker.validation_accuracy = None

    run = sagemaker.workflow.run({}, name="no-metric")

    assert run.status == "FAILED"
    assert run.error == "MissingValidationAccuracy"
    assert "validation channel" in run.cause
    assert run.entered[-3:] == ["NoValidationAccuracy", "NotifyFailure", "Failed"]
    assert "sagemaker.CreateModel" not in run.calls


def test_failed_training_job_fails_the_run_and_notifies(sagemaker):
    sagemaker.training_statuses = ["InProgress", "Failed"]

    run = sagemaker.workflow.run({}, name="job-failed")

    assert run.status == "FAILED"
    assert run.error == "States.TaskFailed"
    assert "No train_lst channel data found" in run.cause
    assert run.entered == ["NameJob", "Train", "NotifyFailure", "Failed"]
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training FAILED"
    assert "No train_lst channel data found" in published["Message"]


def test_throttled_create_training_job_is_retried(sagemaker):
    sagemaker.workflow._scripts["sagemaker.CreateTrainingJob"].insert(
        0, AwsError("ThrottlingException", "Rate exceeded")
    )

    run = sagemaker.workflow.run({}, name="throttled")

    assert run.status == "SUCCEEDED", run.cause
    assert len(run.calls["sagemaker.CreateTrainingJob"]) == 2
    assert len(run.retry_sleeps) == 1


@pytest.mark.parametrize("status", ["Updating", "Failed", "Creating"])
def test_an_endpoint_that_is_not_in_service_is_not_touched(sagemaker, status):
    sagemaker.existing = Endpoint(status=status, config=OLD_CONFIG)

    run = sagemaker.workflow.run({}, name="busy")

    assert run.status == "FAILED"
    assert run.error == "EndpointNotUpdatable"
    assert f"is {status}" in run.cause
    assert "sagemaker.UpdateEndpoint" not in run.calls
    assert "sagemaker.CreateEndpoint" not in run.calls


HEALTH_CHECK = (
    "The primary container for production variant AllTraffic did not pass the ping health "
    "check. Please check CloudWatch logs for this endpoint."
)
CAPACITY = "Unable to provision requested ML compute capacity. Please retry using a different ML instance type."  # noqa: E501


def test_a_rolled_back_update_fails_at_once_with_the_failure_reason(sagemaker):
    """SageMaker rolls a failed update back: InService again, with the *old* configuration."""
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "Updating", "InService"]
    sagemaker.rolls_back = True
    sagemaker.failure_reason = HEALTH_CHECK

    run = sagemaker.workflow.run({}, name="rolled-back")

    assert run.status == "FAILED"
    assert run.error == "EndpointUpdateRolledBack"
    assert f"did not take endpoint configuration {sagemaker.job_name}" in run.cause
    assert f"InService with {OLD_CONFIG}" in run.cause
    assert f"FailureReason: {HEALTH_CHECK}" in run.cause
    # Seen on the describe that showed it, not after 45 polls.
    assert run.waits == [60, 60, 60]
    assert run.entered[-6:] == [
        "EndpointReady?",
        "EndpointRolledBack",
        "FailureReasonGiven?",
        "AddFailureReason",
        "NotifyFailure",
        "Failed",
    ]
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training FAILED"
    assert "Error: EndpointUpdateRolledBack" in published["Message"]
    assert HEALTH_CHECK in published["Message"]


ALARM_ROLLBACK = (
    "Deployment was rolled back because alarm imgclf-dev-sagemaker-training-rollback-5xx went "
    "into the ALARM state."
)


def test_an_update_an_alarm_rolled_back_is_reported_with_the_alarm(sagemaker):
    """A guardrail alarm fired while traffic shifted: RollingBack, then InService with the old
    configuration; the run names the rollback and SageMaker's reason (the alarm)."""
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "RollingBack", "RollingBack", "InService"]
    sagemaker.rolls_back = True
    sagemaker.failure_reason = ALARM_ROLLBACK

    run = sagemaker.workflow.run({}, name="alarm-rolled-back")

    assert run.status == "FAILED"
    assert run.error == "EndpointUpdateRolledBack"
    assert "SageMaker rolled it back" in run.cause
    assert f"InService with {OLD_CONFIG}" in run.cause
    assert f"FailureReason: {ALARM_ROLLBACK}" in run.cause
    assert run.waits == [60, 60, 60, 60]  # RollingBack is waited out, not a failure
    (published,) = run.published()
    assert "imgclf-dev-sagemaker-training-rollback-5xx" in published["Message"]


def test_a_new_failure_reason_on_the_new_configuration_is_not_a_deployment(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "InService"]
    sagemaker.failure_reason = HEALTH_CHECK

    run = sagemaker.workflow.run({}, name="new-reason")

    assert run.status == "FAILED"
    assert run.error == "EndpointUpdateRolledBack"
    assert HEALTH_CHECK in run.cause


def test_a_failure_reason_left_from_an_earlier_rollback_does_not_fail_a_good_update(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG, failure_reason=CAPACITY)
    sagemaker.endpoint_statuses = ["Updating", "InService"]

    run = sagemaker.workflow.run({}, name="stale-reason")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["endpoint_config"] == sagemaker.job_name


def test_a_failed_rollback_fails_at_once_with_the_failure_reason(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "UpdateRollbackFailed"]
    sagemaker.failure_reason = HEALTH_CHECK

    run = sagemaker.workflow.run({}, name="rollback-failed")

    assert run.status == "FAILED"
    assert run.error == "EndpointUpdateRollbackFailed"
    assert "is UpdateRollbackFailed" in run.cause
    assert f"FailureReason: {HEALTH_CHECK}" in run.cause
    assert run.waits == [60, 60]
    (published,) = run.published()
    assert "Error: EndpointUpdateRollbackFailed" in published["Message"]
    assert HEALTH_CHECK in published["Message"]


def test_an_endpoint_that_fails_to_be_created_is_reported_with_its_reason(sagemaker):
    sagemaker.endpoint_statuses = ["Creating", "Failed"]
    sagemaker.failure_reason = CAPACITY

    run = sagemaker.workflow.run({}, name="endpoint-failed")

    assert run.status == "FAILED"
    assert run.error == "EndpointFailed"
    assert "is Failed after deploying" in run.cause
    assert "delete it" in run.cause
    assert f"FailureReason: {CAPACITY}" in run.cause
    assert run.waits == [60, 60]
    assert run.entered[-5:] == [
        "EndpointFailed",
        "FailureReasonGiven?",
        "AddFailureReason",
        "NotifyFailure",
        "Failed",
    ]
    (published,) = run.published()
    assert CAPACITY in published["Message"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (status, meaning.error)
        for status, meaning in ENDPOINT_STATUSES.items()
        if meaning.phase is EndpointPhase.FAILED
    ],
)
def test_every_failed_status_ends_the_wait_with_its_error(sagemaker, status, error):
    sagemaker.endpoint_statuses = ["Creating", status]

    run = sagemaker.workflow.run({}, name="failed-status")

    assert run.status == "FAILED"
    assert run.error == error
    assert f"is {status} after deploying" in run.cause
    assert run.waits == [60, 60]


@pytest.mark.parametrize(
    "status",
    [s for s, meaning in ENDPOINT_STATUSES.items() if meaning.phase is EndpointPhase.WORKING],
)
def test_working_statuses_keep_polling_until_in_service(sagemaker, status):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = [status, status, "InService"]

    run = sagemaker.workflow.run({}, name="working")

    assert run.status == "SUCCEEDED", run.cause
    assert run.waits == [60, 60, 60]


def test_endpoint_wait_is_bounded(sagemaker):
    sagemaker.endpoint_statuses = ["Creating"]

    run = sagemaker.workflow.run({}, name="endpoint-slow", timeout=120)

    assert run.status == "FAILED"
    assert run.error == "EndpointNotInService"
    assert "within 45 minutes" in run.cause
    assert run.waits == [60] * 45
    # The lookup by name, then 45 polls.
    assert len(run.calls["sagemaker.DescribeEndpoint"]) == 1 + 45

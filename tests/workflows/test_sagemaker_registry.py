"""Registration and approval-triggered deployment, executed locally with scripted SageMaker.

The training workflow of an environment whose ``sagemaker.training.deploy`` is ``on_approval``
registers a job that passed its gate as a model package (PendingManualApproval) and stops there;
the deploy workflow, started with the event SageMaker sends when the package is approved, deploys
that package's model through the same endpoint steps. Direct mode (dev) registers the package as
Approved and deploys it itself. The rule's pattern is checked against the documented event with
moto's EventBridge pattern matcher.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws
from moto.events.models import EventPattern

from shared.lineage import parse_lineage
from stacks.code_version import code_version
from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
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
from tests.workflows.test_sagemaker_training import IMAGE, NOW, Endpoint, SageMaker, sent

GROUP = "imgclf-dev-image-classifier"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/1"
MODEL_DATA = (
    f"s3://{ARTIFACTS_BUCKET}/sagemaker/models/imgclf-dev-ic-0123456789ab/output/model.tar.gz"
)

#: The "Model package state change" example of the SageMaker Developer Guide ("Events that Amazon
#: SageMaker sends to Amazon EventBridge", doc_source/automating-sagemaker-with-eventbridge.md),
#: copied as published (its duplicated "source" key included: JSON keeps the last one).
DOCUMENTED_EVENT = json.loads(
    (Path(__file__).parent / "events" / "sagemaker_model_package_state_change.json").read_text()
)


def approval_event(status: str = "Approved", group: str = GROUP) -> dict[str, Any]:
    """The documented event, for a package of ``group`` in the runner's account and region."""
    event = copy.deepcopy(DOCUMENTED_EVENT)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/1"
    # The example repeats "source", the second time as a list; SageMaker sends the string.
    event.update(account=ACCOUNT, region=REGION, resources=[arn], source="aws.sagemaker")
    event["detail"].update(
        ModelPackageGroupName=group,
        ModelPackageArn=arn,
        ModelPackageVersion=1,
        ModelApprovalStatus=status,
    )
    event["detail"]["InferenceSpecification"]["Containers"][0].update(
        Image=IMAGE, ModelDataUrl=MODEL_DATA
    )
    return event


@pytest.fixture(scope="module")
def approval_templates(cdk_context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dev, with ``sagemaker.training.deploy = on_approval`` (what prod configures)."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"].setdefault("sagemaker", {})["training"] = {
        "deploy": "on_approval"
    }
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


@pytest.fixture
def registering(approval_templates) -> Iterator[SageMaker]:
    """The training workflow of the on_approval environment."""
    with mock_aws(config=MOTO_CONFIG):
        create_buckets()
        workflow = LocalWorkflow(
            approval_templates, STACK, machine_id(approval_templates[STACK], "TrainingWorkflow")
        )
        scripted = SageMaker(workflow)
        scripted.install()
        yield scripted


class Package:
    """DescribeModelPackage of the approved package, as SageMaker answers it now."""

    def __init__(self) -> None:
        self.status = "Approved"

    def describe(self, params: dict[str, Any]) -> dict[str, Any] | AwsError:
        if params["ModelPackageName"] != PACKAGE_ARN:
            return AwsError("ValidationException", "ModelPackage does not exist.")
        return conforming(
            "sagemaker",
            "DescribeModelPackage",
            {
                "ModelPackageName": GROUP,
                "ModelPackageGroupName": GROUP,
                "ModelPackageVersion": 1,
                "ModelPackageArn": PACKAGE_ARN,
                "CreationTime": NOW,
                "InferenceSpecification": {
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": MODEL_DATA}],
                    "SupportedContentTypes": ["application/x-image"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "ModelApprovalStatus": self.status,
            },
        )


@pytest.fixture
def deploying(approval_templates) -> Iterator[tuple[SageMaker, Package]]:
    """The deploy workflow, with a scripted endpoint and package."""
    with mock_aws(config=MOTO_CONFIG):
        create_buckets()
        workflow = LocalWorkflow(
            approval_templates,
            STACK,
            machine_id(approval_templates[STACK], "TrainingDeployWorkflow"),
        )
        scripted = SageMaker(workflow)
        scripted.install()
        package = Package()
        workflow.script("sagemaker", "DescribeModelPackage", package.describe)
        yield scripted, package


def test_a_passed_job_is_registered_for_approval_and_not_deployed(registering):
    run = registering.workflow.run({}, name="register")

    assert run.status == "SUCCEEDED", run.cause
    job = registering.job_name
    lineage_uri = f"s3://{ARTIFACTS_BUCKET}/sagemaker/reports/{job}/lineage.json"
    assert run.output["outcome"] == "REGISTERED"
    assert run.output["model_package_arn"] == PACKAGE_ARN
    assert run.output["lineage_uri"] == lineage_uri
    # Nothing deployed: training stops at the registry.
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"):
        assert f"sagemaker.{operation}" not in run.calls
    (package,) = registering.packages
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "approved by the gate" not in package["ModelPackageDescription"]
    assert package["ClientToken"] == job
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container == {
        "Image": IMAGE,
        "ModelDataUrl": f"s3://{ARTIFACTS_BUCKET}/sagemaker/models/{job}/output/model.tar.gz",
    }
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {
        "ContentType": "application/json",
        "S3Uri": f"s3://{ARTIFACTS_BUCKET}/sagemaker/reports/{job}/metrics.json",
    }
    metadata = package["CustomerMetadataProperties"]
    assert metadata["lineage"] == lineage_uri
    assert metadata["gate_passed"] == "true"
    assert metadata["execution"] == run.execution_arn
    # The metrics the package points at, and the lineage record.
    s3 = boto3.client("s3", region_name=REGION)
    metrics = json.loads(
        s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"sagemaker/reports/{job}/metrics.json")[
            "Body"
        ].read()
    )
    assert metrics["multiclass_classification_metrics"]["accuracy"]["value"] == 0.93
    assert metrics["final_metrics"] == {"train:accuracy": 0.99, "validation:accuracy": 0.93}
    record = parse_lineage(
        s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"sagemaker/reports/{job}/lineage.json")[
            "Body"
        ].read()
    )
    assert record.pipeline == "sagemaker"
    assert record.version == job
    assert record.project == GROUP
    assert record.gate.passed is True
    assert record.code_version == code_version()
    assert [ref.uri for ref in record.training_data] == [
        f"s3://{DATA_BUCKET}/sagemaker/training/train/",
        f"s3://{DATA_BUCKET}/sagemaker/training/train_lst/",
    ]
    assert [ref.uri for ref in record.test_data] == [
        f"s3://{DATA_BUCKET}/sagemaker/training/validation/",
        f"s3://{DATA_BUCKET}/sagemaker/training/validation_lst/",
    ]
    # The training job carries the record's URI, the verdict and the code version.
    tags = sent(run, "AddTags")
    assert tags["ResourceArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/x"
    assert {tag["Key"]: tag["Value"] for tag in tags["Tags"]} == {
        "Lineage": lineage_uri,
        "GatePassed": "true",
        "CodeVersion": code_version(),
    }
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker training REGISTERED"
    assert f"python -m ops approve --env dev --package {PACKAGE_ARN}" in published["Message"]


def test_a_rejected_job_is_recorded_but_not_registered(registering):
    registering.validation_accuracy = 0.61

    run = registering.workflow.run({}, name="weak")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["outcome"] == "REJECTED"
    assert registering.packages == []
    record = parse_lineage(
        boto3.client("s3", region_name=REGION)
        .get_object(
            Bucket=ARTIFACTS_BUCKET,
            Key=f"sagemaker/reports/{registering.job_name}/lineage.json",
        )["Body"]
        .read()
    )
    assert record.gate.passed is False
    assert record.gate.reasons == ["validation:accuracy 0.6100 is below the threshold 0.8000"]
    assert run.output["lineage_uri"].endswith(f"{registering.job_name}/lineage.json")


def test_an_accuracy_at_the_threshold_passes_in_the_record_and_the_gate_alike(registering):
    registering.validation_accuracy = 0.8

    run = registering.workflow.run({}, name="at-threshold")

    assert run.output["outcome"] == "REGISTERED", run.cause
    assert registering.packages[0]["CustomerMetadataProperties"]["gate_passed"] == "true"


def test_direct_mode_registers_as_approved_and_deploys(dev_templates):
    with mock_aws(config=MOTO_CONFIG):
        create_buckets()
        workflow = LocalWorkflow(
            dev_templates, STACK, machine_id(dev_templates[STACK], "TrainingWorkflow")
        )
        scripted = SageMaker(workflow)
        scripted.install()

        run = workflow.run({}, name="direct")

    assert run.output["outcome"] == "DEPLOYED", run.cause
    (package,) = scripted.packages
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageDescription"].endswith(
        "approved by the gate and deployed by the training workflow "
        "(sagemaker.training.deploy = direct)"
    )
    assert run.entered.index("RegisterModel") < run.entered.index("CreateModel")


def test_approving_a_package_deploys_that_package(deploying):
    sagemaker, _ = deploying
    sagemaker.existing = Endpoint(status="InService", config="imgclf-dev-ic-aaaaaaaaaaaa")
    sagemaker.endpoint_statuses = ["Updating", "InService"]

    run = sagemaker.workflow.run(approval_event(), name="approved")

    assert run.status == "SUCCEEDED", run.cause
    assert sent(run, "DescribeModelPackage") == {"ModelPackageName": PACKAGE_ARN}
    model = sent(run, "CreateModel")
    assert model["PrimaryContainer"] == {"Image": IMAGE, "ModelDataUrl": MODEL_DATA}
    name = model["ModelName"]
    assert name.startswith("imgclf-dev-ic-")
    update = sent(run, "UpdateEndpoint")
    assert (update["EndpointName"], update["EndpointConfigName"]) == (ENDPOINT, name)
    # The same guarded rollout as training's (the shared deployment steps).
    rollback = update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert {"AlarmName": "imgclf-dev-sagemaker-training-rollback-5xx"} in rollback
    assert run.output == {
        "outcome": "DEPLOYED",
        "endpoint": ENDPOINT,
        "endpoint_config": name,
        "model_package_arn": PACKAGE_ARN,
        "model": name,
    }
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker deployment DEPLOYED"
    assert f"Model package {PACKAGE_ARN} was approved and is deployed" in published["Message"]


def test_a_package_rejected_again_before_the_run_is_not_deployed(deploying):
    sagemaker, package = deploying
    package.status = "Rejected"

    run = sagemaker.workflow.run(approval_event(), name="changed-mind")

    assert run.status == "FAILED"
    assert run.error == "PackageNotApproved"
    assert "is Rejected now" in run.cause
    assert "sagemaker.CreateModel" not in run.calls


@pytest.mark.parametrize(
    "execution_input",
    [
        "not an event",
        {"detail": {"ModelPackageArn": PACKAGE_ARN}},
        approval_event(group="someone-elses-group"),
        approval_event(status="PendingManualApproval"),
    ],
    ids=["string", "fields-missing", "other-group", "not-approved"],
)
def test_the_deploy_workflow_refuses_anything_but_an_approval_of_its_group(
    deploying, execution_input
):
    sagemaker, _ = deploying

    run = sagemaker.workflow.run(execution_input, name="refused")

    assert run.status == "FAILED"
    assert run.error == "InvalidDeployInput"
    assert f"model package of group {GROUP}" in run.cause
    assert "sagemaker.DescribeModelPackage" not in run.calls
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker deployment FAILED"


def rule_pattern(templates: dict[str, dict[str, Any]]) -> str:
    (rule,) = [
        resource
        for resource in templates[STACK]["Resources"].values()
        if resource["Type"] == "AWS::Events::Rule"
        and "model package" in resource["Properties"].get("Description", "").lower()
    ]
    return json.dumps(rule["Properties"]["EventPattern"])


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (approval_event(), True),
        (approval_event(status="Rejected"), False),
        (approval_event(status="PendingManualApproval"), False),
        (approval_event(group="imgclf-prod-image-classifier"), False),
        ({**approval_event(), "detail-type": "SageMaker Model State Change"}, False),
    ],
    ids=["approved", "rejected", "pending", "other-group", "other-event"],
)
def test_the_rule_matches_approvals_of_this_group_only(approval_templates, event, matches):
    """moto's EventBridge matcher (the one its PutEvents routes events to rules with; moto
    5.2.5 does not implement TestEventPattern) on the documented event's shape."""
    pattern = EventPattern.load(rule_pattern(approval_templates))
    assert pattern.matches_event(event) is matches


def test_the_rule_targets_the_deploy_workflow_with_a_dead_letter_queue(approval_templates):
    resources = approval_templates[STACK]["Resources"]
    (rule,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "model package" in r["Properties"]["Description"]
    ]
    (target,) = rule["Properties"]["Targets"]
    deploy_machine = machine_id(approval_templates[STACK], "TrainingDeployWorkflow")
    assert target["Arn"] == {"Ref": deploy_machine}
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600


def test_direct_mode_has_no_deploy_workflow_or_rule(dev_templates):
    resources = dev_templates[STACK]["Resources"]
    assert not [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "model package" in r["Properties"]["Description"]
    ]
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    assert group["Properties"]["ModelPackageGroupName"] == GROUP

"""The deploy workflow with autoscaling configured, executed locally: the variant is registered
as a scalable target with target tracking once the endpoint serves the new configuration.

SageMaker is scripted as in test_sagemaker_training; Application Auto Scaling is moto's (it
keeps the scalable targets and policies the workflow creates). The requests are checked
against botocore's model by the harness and the contract layer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import MOTO_CONFIG, REGION, AwsError, LocalWorkflow
from tests.workflows.sagemaker_support import STACK, create_buckets, machine_id
from tests.workflows.test_sagemaker_training import OLD_CONFIG, Endpoint, SageMaker

ENDPOINT = "imgclf-dev-classifier"
TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
SCALING = {
    "min_instances": 1,
    "max_instances": 3,
    "target_invocations_per_instance": 600,
    "scale_in_cooldown_seconds": 600,
    "scale_out_cooldown_seconds": 120,
}


@pytest.fixture(scope="module")
def scaling_templates(cdk_context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    context = copy.deepcopy(cdk_context)
    context["defaults"]["sagemaker"]["endpoint"]["autoscaling"] = SCALING
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


@pytest.fixture
def sagemaker(scaling_templates) -> Iterator[SageMaker]:
    with mock_aws(config=MOTO_CONFIG):
        create_buckets()
        workflow = LocalWorkflow(
            scaling_templates, STACK, machine_id(scaling_templates[STACK], "TrainingWorkflow")
        )
        scripted = SageMaker(workflow)
        scripted.install()
        yield scripted


def scaling() -> Any:
    return boto3.client("application-autoscaling", region_name=REGION)


def test_a_deployment_registers_the_variant_and_its_target_tracking(sagemaker):
    run = sagemaker.workflow.run({}, name="scaled")

    assert run.status == "SUCCEEDED", run.cause
    entered = run.entered
    assert entered.index("EndpointReady?") < entered.index("RegisterScalableTarget")
    assert entered.index("RegisterScalableTarget") < entered.index("PutScalingPolicy")
    assert entered.index("PutScalingPolicy") < entered.index("NotifyDeployed")
    (registered,) = run.calls["application-autoscaling.RegisterScalableTarget"]
    assert registered == {**TARGET, "MinCapacity": 1, "MaxCapacity": 3}
    (target,) = scaling().describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["ResourceId"], target["ScalableDimension"]) == (
        TARGET["ResourceId"],
        TARGET["ScalableDimension"],
    )
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    (policy,) = scaling().describe_scaling_policies(**TARGET)["ScalingPolicies"]
    assert policy["PolicyName"] == f"{ENDPOINT}-invocations-per-instance"
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 600
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (600, 120)


def test_an_update_keeps_the_instance_count_the_scaling_reached(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "InService"]

    run = sagemaker.workflow.run({}, name="scaled-update")

    assert run.status == "SUCCEEDED", run.cause
    (update,) = run.calls["sagemaker.UpdateEndpoint"]
    assert update["RetainAllVariantProperties"] is True
    assert update["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DataCaptureConfig"}
    ]
    assert "PutScalingPolicy" in run.entered


def test_a_rolled_back_update_registers_nothing(sagemaker):
    sagemaker.existing = Endpoint(status="InService", config=OLD_CONFIG)
    sagemaker.endpoint_statuses = ["Updating", "RollingBack", "InService"]
    sagemaker.rolls_back = True
    sagemaker.failure_reason = "Deployment was rolled back because an alarm fired."

    run = sagemaker.workflow.run({}, name="scaled-rollback")

    assert run.status == "FAILED"
    assert run.error == "EndpointUpdateRolledBack"
    assert "RegisterScalableTarget" not in run.entered


def test_a_refused_registration_fails_the_run_with_its_reason(sagemaker):
    refused = AwsError("ValidationException", "Unsupported service namespace", 400)
    sagemaker.workflow.script("application-autoscaling", "RegisterScalableTarget", refused)

    run = sagemaker.workflow.run({}, name="scaling-refused")

    assert run.status == "FAILED"
    assert run.error == "ApplicationAutoScaling.ValidationException"
    assert "Unsupported service namespace" in run.cause
    assert run.retry_sleeps == []  # not a transient error
    (published,) = run.published()
    assert "ApplicationAutoScaling.ValidationException" in published["Message"]

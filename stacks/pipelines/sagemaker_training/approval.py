"""Approval-triggered deployment: the deploy workflow and the rule that starts it.

When someone approves a model package of this environment's group (the SageMaker console, or
``python -m ops approve --package ARN``), SageMaker emits a "SageMaker Model Package State
Change" event. The rule (:func:`approved_package_pattern`) matches this group's packages whose
``ModelApprovalStatus`` is ``Approved`` and starts the deploy workflow with the event:

``WrapEvent`` -> ``ApprovalEvent?`` (the fields are there) -> ``ThisGroupApproved?`` (this group,
Approved; anything else fails with ``InvalidDeployInput``) -> ``ReadPackage``
(DescribeModelPackage: the approval still holds, and its model data) -> ``StillApproved?`` ->
``NameDeployment`` -> ``DeploymentSource`` -> ``NoEndpointKnownYet`` -> the endpoint deployment
the training workflow uses (``deployment``) -> ``NotifyDeployed`` -> ``Deployed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.state_machine import TaskGuard
from stacks.pipelines.sagemaker_training.calls import SAGEMAKER_SDK_TRANSIENT_ERRORS, SDK_TIMEOUT
from stacks.pipelines.sagemaker_training.deployment import (
    _deploy,
    _DeployedMessage,
    _DeploymentParts,
)
from stacks.pipelines.sagemaker_training.registry import APPROVED

#: The event SageMaker emits when a model package is created or its approval changes.
PACKAGE_EVENT_SOURCE = "aws.sagemaker"
PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
#: The earlier FailureReason of an endpoint this run has not found (see NoEndpointKnownYet).
NO_EARLIER_FAILURE = "(no endpoint before this deployment)"


def approved_package_pattern(group_name: str) -> dict[str, Any]:
    """The rule's event pattern: this group's packages, once Approved."""
    return {
        "source": [PACKAGE_EVENT_SOURCE],
        "detail-type": [PACKAGE_STATE_CHANGE],
        "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": [APPROVED]},
    }


@dataclass(frozen=True)
class _ApprovalParts:
    owner: Construct
    deployment: _DeploymentParts
    job_prefix: str
    group_name: str
    package_arns: str
    model_arn: str
    endpoint_config_arn: str


def _deploy_definition(parts: _ApprovalParts, guard: TaskGuard) -> sfn.IChainable:
    """Every state of the deploy workflow; :class:`Workflow` calls it with its guard."""
    states = Construct(parts.owner, "DeployStates")
    detail = "$.event.detail"
    wrap = sfn.Pass(states, "WrapEvent", parameters={"event.$": "$"})
    invalid = guard.fail(
        states,
        "NotAnApproval",
        error="InvalidDeployInput",
        cause=sfn.JsonPath.format(
            "The deploy workflow starts from an approval of a model package of group "
            + parts.group_name
            + " (a 'SageMaker Model Package State Change' event with ModelApprovalStatus "
            "Approved); it was given {}",
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.event")),
        ),
    )
    read = tasks.CallAwsService(
        states,
        "ReadPackage",
        service="sagemaker",
        action="describeModelPackage",
        parameters={"ModelPackageName.$": f"{detail}.ModelPackageArn"},
        iam_resources=[parts.package_arns],
        iam_action="sagemaker:DescribeModelPackage",
        result_selector={
            "status.$": "$.ModelApprovalStatus",
            "model_data.$": "$.InferenceSpecification.Containers[0].ModelDataUrl",
        },
        result_path="$.package",
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    guard(read, transient_errors=SAGEMAKER_SDK_TRANSIENT_ERRORS)
    no_longer_approved = guard.fail(
        states,
        "NoLongerApproved",
        error="PackageNotApproved",
        cause=sfn.JsonPath.format(
            "Model package {} is {} now (it was Approved when the event was sent): not deployed.",
            sfn.JsonPath.string_at(f"{detail}.ModelPackageArn"),
            sfn.JsonPath.string_at("$.package.status"),
        ),
    )
    name = sfn.Pass(
        states,
        "NameDeployment",
        parameters={
            "name.$": f"States.Format('{parts.job_prefix}-{{}}', "
            "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4))"
        },
        result_path="$.job",
    )
    source = sfn.Pass(
        states,
        "DeploymentSource",
        parameters={
            "model_artifacts.$": "$.package.model_data",
            "model_package_arn.$": f"{detail}.ModelPackageArn",
        },
        result_path="$.evaluation",
    )
    # FindEndpoint records the endpoint it finds in $.existing; when there is none, nothing
    # is recorded, and the wait's comparison with the endpoint's earlier FailureReason would
    # read a path that does not exist. So the run starts from an endpoint whose "reason" no
    # real FailureReason equals: a new endpoint that reports one is not deployed.
    no_endpoint_yet = sfn.Pass(
        states,
        "NoEndpointKnownYet",
        parameters={"failure_reasons": [NO_EARLIER_FAILURE]},
        result_path="$.existing",
    )
    endpoint = parts.deployment.endpoint_name
    deploy = _deploy(
        parts.deployment,
        states,
        guard,
        parts.model_arn,
        parts.endpoint_config_arn,
        _DeployedMessage(
            summary=(
                "Model package {} was approved and is deployed: endpoint " + endpoint + " is "
                "InService with endpoint configuration {}.\nModel artifacts: {}"
            ),
            values=[
                sfn.JsonPath.string_at(f"{detail}.ModelPackageArn"),
                sfn.JsonPath.string_at("$.endpoint.config"),
                sfn.JsonPath.string_at("$.evaluation.model_artifacts"),
            ],
            outcome={
                "model_package_arn.$": f"{detail}.ModelPackageArn",
                "model.$": "$.job.name",
            },
        ),
    )
    read.next(
        sfn.Choice(states, "StillApproved?")
        .when(sfn.Condition.string_equals("$.package.status", APPROVED), name)
        .otherwise(no_longer_approved)
    )
    name.next(source).next(no_endpoint_yet).next(deploy)
    # A comparison of a missing path is an error: first that the fields are there (IsPresent
    # never fails), then their values.
    this_group = (
        sfn.Choice(states, "ThisGroupApproved?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.string_equals(f"{detail}.ModelPackageGroupName", parts.group_name),
                sfn.Condition.string_equals(f"{detail}.ModelApprovalStatus", APPROVED),
            ),
            read,
        )
        .otherwise(invalid)
    )
    fields_present = sfn.Condition.and_(
        *(
            sfn.Condition.is_present(f"{detail}.{name}")
            for name in ("ModelPackageArn", "ModelPackageGroupName", "ModelApprovalStatus")
        )
    )
    return wrap.next(
        sfn.Choice(states, "ApprovalEvent?").when(fields_present, this_group).otherwise(invalid)
    )

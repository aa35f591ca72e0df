"""The deployment of a model to the endpoint, shared by the training and the deploy workflows.

``CreateModel`` -> ``CreateEndpointConfig`` -> the endpoint's lookup, create or update, and wait
(``endpoint``) -> ``NotifyDeployed`` -> ``DeployedOutcome`` -> ``Deployed``. The states read
``$.job.name`` (the name of the model and of its endpoint configuration, within the workflow's
name prefix) and ``$.evaluation.model_artifacts`` (the model.tar.gz); the training workflow
deploys its job's model this way (``sagemaker.training.deploy = direct``), the deploy workflow an
approved model package's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.network import NetworkPlacement, placement_of
from stacks.building_blocks.sagemaker_tasks import (
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    S3Uri,
    UpdateEndpoint,
)
from stacks.building_blocks.state_machine import TaskGuard
from stacks.config import EnvironmentConfig, has_instance_storage
from stacks.pipelines.sagemaker_training.calls import (
    SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS,
    SDK_TIMEOUT,
)
from stacks.pipelines.sagemaker_training.endpoint import (
    VARIANT_NAME,
    _autoscaling_steps,
    _connect,
    _deployment_config,
    _deployment_failures,
    _endpoint_lookup,
    _endpoint_tasks,
    _retained_variant_properties,
    _serverless_variants,
    _wait_until_deployed,
)
from stacks.pipelines.sagemaker_training.permissions import (
    DATA_CAPTURE_PREFIX,
    _pass_role,
    _scalable_targets,
)

VALIDATION_METRIC = "validation:accuracy"


@dataclass(frozen=True)
class _DeploymentParts:
    """What the deployment reads from the construct that owns the workflow."""

    #: The construct that owns the workflow (the scalable target's ARN is of its stack).
    owner: Construct
    config: EnvironmentConfig
    artifacts_bucket: s3.IBucket
    key: kms.IKey
    endpoint_name: str
    endpoint_arn: str
    algorithm_image: str
    hosting_role: iam.IRole
    #: Alarms whose firing during an update makes SageMaker roll it back (guardrails).
    rollback_alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class _DeployedMessage:
    """What ``NotifyDeployed`` says (a format and its values) and what the outcome adds."""

    summary: str
    values: Sequence[str]
    outcome: Mapping[str, Any] = field(default_factory=dict)


def _training_message(endpoint_name: str) -> _DeployedMessage:
    """The training workflow's message: its job passed the gate and is deployed."""
    return _DeployedMessage(
        summary=(
            "Training job {} passed the gate (" + VALIDATION_METRIC + " {} >= {}) and is "
            "deployed: endpoint " + endpoint_name + " is InService with endpoint "
            "configuration {}.\nModel artifacts: {}"
        ),
        values=[
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.evaluation.accuracy"),
            sfn.JsonPath.string_at("$.evaluation.threshold"),
            sfn.JsonPath.string_at("$.endpoint.config"),
            sfn.JsonPath.string_at("$.evaluation.model_artifacts"),
        ],
        outcome={"training_job.$": "$.job.name", "evaluation.$": "$.evaluation"},
    )


def _deploy(
    parts: _DeploymentParts,
    states: Construct,
    guard: TaskGuard,
    model_arn: str,
    endpoint_config_arn: str,
    message: _DeployedMessage | None = None,
) -> sfn.IChainable:
    """``CreateModel`` -> ``CreateEndpointConfig`` -> the endpoint's lookup, create or update,
    and wait (``endpoint``) -> ``NotifyDeployed`` -> ``Deployed``.

    The ``endpoint`` builders are called between these states, in the order every state was
    created before the split (the order of the construct tree is unchanged). ``message`` is
    what ``NotifyDeployed`` says (the training workflow's by default).
    """
    message = message or _training_message(parts.endpoint_name)
    sagemaker = parts.config.sagemaker
    endpoint = sagemaker.endpoint
    key_arn = parts.key.key_arn
    timeout = sfn.Timeout.duration(SDK_TIMEOUT)
    model_extra: dict[str, Any] = {"EnableNetworkIsolation": True}
    network = placement_of(parts.owner)
    if network is not None:
        model_extra["VpcConfig"] = _vpc_config(network, network.hosting)
    create_model = CreateModel(
        states,
        "CreateModel",
        extra_parameters=model_extra,
        policies=[
            iam.PolicyStatement(
                actions=["sagemaker:CreateModel", "sagemaker:ListTags"],
                resources=[model_arn],
            ),
            _pass_role(parts.hosting_role),
        ],
        model_name=sfn.JsonPath.string_at("$.job.name"),
        role=parts.hosting_role,
        primary_container=tasks.ContainerDefinition(
            image=tasks.DockerImage.from_registry(parts.algorithm_image),
            model_s3_location=S3Uri(sfn.JsonPath.string_at("$.evaluation.model_artifacts")),
        ),
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=timeout,
    )
    config_extra: dict[str, Any] = _serverless_variants(endpoint, "$.job.name")
    if not endpoint.serverless_mode and not has_instance_storage(endpoint.instance_type):
        config_extra["KmsKeyId"] = key_arn
    if endpoint.data_capture_percentage > 0:
        config_extra["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": endpoint.data_capture_percentage,
            "DestinationS3Uri": (
                f"s3://{parts.artifacts_bucket.bucket_name}/{DATA_CAPTURE_PREFIX.rstrip('/')}"
            ),
            "KmsKeyId": key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    create_config = CreateEndpointConfig(
        states,
        "CreateEndpointConfig",
        policies=[
            iam.PolicyStatement(
                actions=["sagemaker:CreateEndpointConfig", "sagemaker:ListTags"],
                resources=[endpoint_config_arn],
            )
        ],
        extra_parameters=config_extra,
        endpoint_config_name=sfn.JsonPath.string_at("$.job.name"),
        production_variants=[
            tasks.ProductionVariant(
                model_name=sfn.JsonPath.string_at("$.job.name"),
                variant_name=VARIANT_NAME,
                instance_type=ec2.InstanceType(endpoint.instance_type.removeprefix("ml.")),
                initial_instance_count=endpoint.initial_instance_count,
            )
        ],
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=timeout,
    )
    endpoint_policy = [
        iam.PolicyStatement(
            actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
            resources=[parts.endpoint_arn, endpoint_config_arn],
        )
    ]
    create_endpoint = CreateEndpoint(
        states,
        "CreateEndpoint",
        policies=endpoint_policy,
        endpoint_name=parts.endpoint_name,
        endpoint_config_name=sfn.JsonPath.string_at("$.job.name"),
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=timeout,
    )
    update_endpoint = UpdateEndpoint(
        states,
        "UpdateEndpoint",
        policies=endpoint_policy,
        extra_parameters={
            **_deployment_config(endpoint, parts.rollback_alarms),
            **_retained_variant_properties(endpoint),
        },
        endpoint_name=parts.endpoint_name,
        endpoint_config_name=sfn.JsonPath.string_at("$.job.name"),
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=timeout,
    )
    endpoint_tasks = _endpoint_tasks(states, parts.endpoint_name, parts.endpoint_arn, timeout)
    for task in (create_model, create_config, create_endpoint, update_endpoint):
        guard(task, transient_errors=SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS)
    lookup = _endpoint_lookup(states, guard, parts.endpoint_name, endpoint_tasks)
    failures = _deployment_failures(states, guard, parts.endpoint_name)
    notify = guard.notify(
        states,
        "NotifyDeployed",
        outcome="DEPLOYED",
        summary=message.summary,
        values=list(message.values),
    )
    notify.next(
        sfn.Pass(
            states,
            "DeployedOutcome",
            parameters={
                "outcome": "DEPLOYED",
                "endpoint": parts.endpoint_name,
                "endpoint_config.$": "$.endpoint.config",
                **message.outcome,
            },
        )
    ).next(sfn.Succeed(states, "Deployed"))

    deployed = _autoscaling_steps(
        states,
        guard,
        endpoint_name=parts.endpoint_name,
        endpoint=endpoint,
        scalable_target_arn=_scalable_targets(parts.owner),
        then=notify,
    )
    init_polls = _wait_until_deployed(states, endpoint_tasks, failures, deployed)
    _connect(
        states,
        endpoint_tasks,
        lookup,
        init_polls,
        create_model=create_model,
        create_config=create_config,
        create_endpoint=create_endpoint,
        update_endpoint=update_endpoint,
    )
    return create_model


def _vpc_config(network: NetworkPlacement, group: ec2.ISecurityGroup) -> dict[str, Any]:
    """A SageMaker ``VpcConfig``: the isolated subnets and the tier's security group."""
    return {"SecurityGroupIds": [group.security_group_id], "Subnets": network.subnet_ids}

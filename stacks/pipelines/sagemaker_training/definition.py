"""The train -> evaluate -> deploy states (steps 1 to 5 of the package docstring).

``NameJob`` -> ``Train`` -> ``ReadAccuracy`` -> ``Evaluation`` -> ``GatePassed?`` ->
(rejected: ``NotifyRejected`` -> ``ModelRejected``) ``CreateModel`` -> ``CreateEndpointConfig``
-> the endpoint's lookup and wait (``endpoint``) -> ``NotifyDeployed`` -> ``Deployed``. State
names are construct ids under ``<construct>/States``; they are created in the order they always
were, the endpoint's steps included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Size, Stack
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
    TrainingJob,
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
    MODELS_PREFIX,
    _arn,
    _pass_role,
    _scalable_targets,
)

VALIDATION_METRIC = "validation:accuracy"


@dataclass(frozen=True)
class _WorkflowParts:
    """What the definition reads from the :class:`SageMakerTraining` construct that owns it."""

    #: The construct the ``States`` scope is created under.
    owner: Construct
    config: EnvironmentConfig
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    key: kms.IKey
    job_prefix: str
    endpoint_name: str
    endpoint_arn: str
    algorithm_image: str
    training_role: iam.IRole
    hosting_role: iam.IRole
    #: Alarms whose firing during an update makes SageMaker roll it back (guardrails).
    rollback_alarms: tuple[str, ...] = ()


def _definition(parts: _WorkflowParts, guard: TaskGuard) -> sfn.IChainable:
    """Every state of the workflow; :class:`Workflow` calls it with the guard of its Tasks."""
    states = Construct(parts.owner, "States")
    sagemaker = parts.config.sagemaker
    training = sagemaker.training
    job_arn = _arn(parts.owner, "training-job", f"{parts.job_prefix}-*")
    model_arn = _arn(parts.owner, "model", f"{parts.job_prefix}-*")
    endpoint_config_arn = _arn(parts.owner, "endpoint-config", f"{parts.job_prefix}-*")

    name_job = sfn.Pass(
        states,
        "NameJob",
        parameters={
            "name.$": f"States.Format('{parts.job_prefix}-{{}}', "
            "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4))"
        },
        result_path="$.job",
    )
    train = _train(parts, states, job_arn)
    guard(train, transient_errors=SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS, max_attempts=3)

    missing_accuracy = guard.fail(
        states,
        "NoValidationAccuracy",
        error="MissingValidationAccuracy",
        cause=sfn.JsonPath.format(
            "Training job {} completed without a final " + VALIDATION_METRIC + " metric; "
            "is there a validation channel under s3://"
            + parts.data_bucket.bucket_name
            + "/"
            + training.data_prefix
            + "validation/?",
            sfn.JsonPath.string_at("$.job.name"),
        ),
    )
    read_accuracy = sfn.Pass(
        states,
        "ReadAccuracy",
        parameters={
            "values.$": "$.training.FinalMetricDataList[?(@.MetricName == '"
            + VALIDATION_METRIC
            + "')].Value"
        },
        result_path="$.metric",
    )
    evaluation = sfn.Pass(
        states,
        "Evaluation",
        parameters={
            "accuracy.$": "$.metric.values[0]",
            "threshold": training.min_validation_accuracy,
            "model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts",
        },
        result_path="$.evaluation",
    )
    rejected = guard.notify(
        states,
        "NotifyRejected",
        outcome="REJECTED",
        summary=(
            "Training job {} finished, but its " + VALIDATION_METRIC + " {} is below the "
            "gate of {}: the model was NOT deployed and endpoint "
            + parts.endpoint_name
            + " is unchanged.\nModel artifacts: {}"
        ),
        values=[
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.evaluation.accuracy"),
            sfn.JsonPath.string_at("$.evaluation.threshold"),
            sfn.JsonPath.string_at("$.evaluation.model_artifacts"),
        ],
    )
    rejected.next(
        sfn.Pass(
            states,
            "RejectedOutcome",
            parameters={
                "outcome": "REJECTED",
                "training_job.$": "$.job.name",
                "evaluation.$": "$.evaluation",
            },
        )
    ).next(sfn.Succeed(states, "ModelRejected"))

    deploy = _deploy(parts, states, guard, model_arn, endpoint_config_arn)
    name_job.next(train).next(
        sfn.Choice(states, "MetricsReported?")
        .when(
            sfn.Condition.is_present("$.training.FinalMetricDataList"),
            read_accuracy.next(
                sfn.Choice(states, "AccuracyReported?")
                .when(
                    sfn.Condition.is_present("$.metric.values[0]"),
                    evaluation.next(
                        sfn.Choice(states, "GatePassed?")
                        .when(
                            sfn.Condition.number_greater_than_equals(
                                "$.evaluation.accuracy", training.min_validation_accuracy
                            ),
                            deploy,
                        )
                        .otherwise(rejected)
                    ),
                )
                .otherwise(missing_accuracy)
            ),
        )
        .otherwise(missing_accuracy)
    )
    return name_job


def _train(parts: _WorkflowParts, states: Construct, job_arn: str) -> TrainingJob:
    """``Train``: the algorithm's training job, run to its end (``.sync``), scoped to the prefix."""
    sagemaker = parts.config.sagemaker
    training = sagemaker.training
    stack = Stack.of(parts.owner)
    key_arn = parts.key.key_arn
    extra: dict[str, Any] = {
        "OutputDataConfig": {"KmsKeyId": key_arn},
        # The algorithm's container gets no network at all; SageMaker moves the data.
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
    }
    if not has_instance_storage(training.instance_type):
        # Instance-store volumes are hardware-encrypted; SageMaker refuses a key for them.
        extra["ResourceConfig"] = {"VolumeKmsKeyId": key_arn}
    network = placement_of(parts.owner)
    if network is not None:
        # "SageMaker downloads and uploads customer data and model artifacts through the
        # specified VPC" (CreateTrainingJob, EnableNetworkIsolation).
        extra["VpcConfig"] = _vpc_config(network, network.training)
    return TrainingJob(
        states,
        "Train",
        policies=[
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:ListTags",
                ],
                resources=[job_arn],
            ),
            _pass_role(parts.training_role),
            # How Step Functions learns that a .sync training job ended.
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                    )
                ],
            ),
        ],
        extra_parameters=extra,
        training_job_name=sfn.JsonPath.string_at("$.job.name"),
        role=parts.training_role,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        algorithm_specification=tasks.AlgorithmSpecification(
            training_image=tasks.DockerImage.from_registry(parts.algorithm_image),
            training_input_mode=tasks.InputMode.FILE,
        ),
        input_data_config=[
            tasks.Channel(
                channel_name=channel,
                content_type=training.content_type,
                data_source=tasks.DataSource(
                    s3_data_source=tasks.S3DataSource(
                        s3_location=S3Uri.of(
                            parts.data_bucket.bucket_name, f"{training.data_prefix}{channel}/"
                        ),
                        s3_data_type=tasks.S3DataType.S3_PREFIX,
                        s3_data_distribution_type=tasks.S3DataDistributionType.FULLY_REPLICATED,
                    )
                ),
            )
            for channel in training.channels
        ],
        output_data_config=tasks.OutputDataConfig(
            s3_output_location=S3Uri.of(parts.artifacts_bucket.bucket_name, MODELS_PREFIX)
        ),
        resource_config=tasks.ResourceConfig(
            instance_count=training.instance_count,
            instance_type=ec2.InstanceType(training.instance_type.removeprefix("ml.")),
            volume_size=Size.gibibytes(training.volume_size_gb),
        ),
        stopping_condition=tasks.StoppingCondition(
            max_runtime=Duration.hours(training.max_runtime_hours)
        ),
        hyperparameters=training.hyperparameters.as_strings(),
        result_path="$.training",
        # The job's own limit plus provisioning, data download and model upload.
        task_timeout=sfn.Timeout.duration(Duration.hours(training.max_runtime_hours + 1)),
    )


def _deploy(
    parts: _WorkflowParts,
    states: Construct,
    guard: TaskGuard,
    model_arn: str,
    endpoint_config_arn: str,
) -> sfn.IChainable:
    """``CreateModel`` -> ``CreateEndpointConfig`` -> the endpoint's lookup, create or update,
    and wait (``endpoint``) -> ``NotifyDeployed`` -> ``Deployed``.

    The ``endpoint`` builders are called between these states, in the order every state was
    created before the split (the order of the construct tree is unchanged).
    """
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
        summary=(
            "Training job {} passed the gate (" + VALIDATION_METRIC + " {} >= {}) and is "
            "deployed: endpoint " + parts.endpoint_name + " is InService with endpoint "
            "configuration {}.\nModel artifacts: {}"
        ),
        values=[
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.evaluation.accuracy"),
            sfn.JsonPath.string_at("$.evaluation.threshold"),
            sfn.JsonPath.string_at("$.endpoint.config"),
            sfn.JsonPath.string_at("$.evaluation.model_artifacts"),
        ],
    )
    notify.next(
        sfn.Pass(
            states,
            "DeployedOutcome",
            parameters={
                "outcome": "DEPLOYED",
                "training_job.$": "$.job.name",
                "endpoint": parts.endpoint_name,
                "endpoint_config.$": "$.endpoint.config",
                "evaluation.$": "$.evaluation",
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

"""The train -> evaluate -> deploy states (steps 1 to 5 of the package docstring).

``NameJob`` -> ``Train`` -> ``ReadAccuracy`` -> ``Evaluation`` -> ``RecordLineage`` ->
``TagTrainingJob`` -> ``GatePassed?`` -> (rejected: ``NotifyRejected`` -> ``ModelRejected``)
``RegisterModel`` (``registry``) -> ``Registered``, or (direct) the deployment (``deployment``):
``CreateModel`` -> ``CreateEndpointConfig`` -> the endpoint's lookup and wait (``endpoint``) ->
``NotifyDeployed`` -> ``Deployed``. State names are construct ids under ``<construct>/States``;
they are created in the order they always were, the endpoint's steps included.
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

from stacks.building_blocks.network import placement_of
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.sagemaker_tasks import S3Uri, TrainingJob
from stacks.building_blocks.state_machine import TaskGuard
from stacks.config import DEPLOY_DIRECT, EnvironmentConfig, has_instance_storage
from stacks.pipelines.sagemaker_training.calls import SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS
from stacks.pipelines.sagemaker_training.deployment import (
    VALIDATION_METRIC,
    _deploy,
    _DeploymentParts,
    _vpc_config,
)
from stacks.pipelines.sagemaker_training.permissions import MODELS_PREFIX, _arn, _pass_role
from stacks.pipelines.sagemaker_training.registry import _lineage_and_registration


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
    lineage_function: PythonFunction
    model_package_group_name: str
    model_package_group_arn: str
    #: Alarms whose firing during an update makes SageMaker roll it back (guardrails).
    rollback_alarms: tuple[str, ...] = ()

    def deployment(self) -> _DeploymentParts:
        return _DeploymentParts(
            owner=self.owner,
            config=self.config,
            artifacts_bucket=self.artifacts_bucket,
            key=self.key,
            endpoint_name=self.endpoint_name,
            endpoint_arn=self.endpoint_arn,
            algorithm_image=self.algorithm_image,
            hosting_role=self.hosting_role,
            rollback_alarms=self.rollback_alarms,
        )


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
                "lineage_uri.$": "$.lineage.uri",
            },
        )
    ).next(sfn.Succeed(states, "ModelRejected"))

    deploy = _deploy(parts.deployment(), states, guard, model_arn, endpoint_config_arn)
    registered = _lineage_and_registration(
        states,
        guard,
        lineage_function=parts.lineage_function,
        job_arn=job_arn,
        group_name=parts.model_package_group_name,
        group_arn=parts.model_package_group_arn,
        algorithm_image=parts.algorithm_image,
        endpoint_instance_type=sagemaker.endpoint.instance_type,
        direct=training.deploy == DEPLOY_DIRECT,
        deploy=deploy,
        environment_name=parts.config.name,
    )
    name_job.next(train).next(
        sfn.Choice(states, "MetricsReported?")
        .when(
            sfn.Condition.is_present("$.training.FinalMetricDataList"),
            read_accuracy.next(
                sfn.Choice(states, "AccuracyReported?")
                .when(
                    sfn.Condition.is_present("$.metric.values[0]"),
                    evaluation.next(registered.record).next(
                        sfn.Choice(states, "GatePassed?")
                        .when(
                            sfn.Condition.number_greater_than_equals(
                                "$.evaluation.accuracy", training.min_validation_accuracy
                            ),
                            registered.register,
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

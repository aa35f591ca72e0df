"""SageMaker image classification: train -> evaluate -> deploy, as one Step Functions workflow.

States, in order (every Task guarded: timeout, jittered retry of transient errors, catch ->
readable notification -> fail):

1. ``NameJob``: ``<resource_prefix>-<env>-ic-<12 hex>`` names the training job, the model and the
   endpoint configuration (IAM is scoped to that prefix).
2. ``Train`` (``createTrainingJob.sync``): the built-in image-classification algorithm of the
   stack's region, hyperparameters and instance type from the configuration, channels from the
   data bucket, model artifacts to the artifacts bucket, output and volume encrypted with the
   environment key; Step Functions waits until the job ends (a failed or stopped job fails it).
3. ``ReadAccuracy`` -> ``Evaluation``: the job's final ``validation:accuracy`` (a run without it
   fails with ``MissingValidationAccuracy``).
4. ``GatePassed?``: accuracy >= ``training.min_validation_accuracy``. Rejected:
   ``NotifyRejected`` -> ``ModelRejected`` (a successful run whose outcome is ``REJECTED``).
5. ``CreateModel`` -> ``CreateEndpointConfig`` (KMS-encrypted volume, data capture to S3) ->
   ``FindEndpoint`` (DescribeEndpoint of the exact name; "Could not find endpoint" means there
   is none) -> ``CreateEndpoint`` or ``UpdateEndpoint`` (an endpoint that is not InService is
   left alone: ``EndpointNotUpdatable``) -> a bounded poll of ``DescribeEndpoint`` until it is
   InService with the new configuration -> ``NotifyDeployed`` -> ``Deployed``. Each status is
   classified once (:data:`ENDPOINT_STATUSES`): a failed status fails at once with its error
   name, and InService with the *old* configuration (or a new ``FailureReason``) is a rolled-back
   update (``EndpointUpdateRolledBack``); the cause carries SageMaker's ``FailureReason``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Aws, CfnMapping, Duration, Size, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.components.alerting import AlertTopic
from stacks.components.encryption import grant_service_grants
from stacks.components.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.components.retention import log_retention
from stacks.components.sagemaker_tasks import (
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    S3Uri,
    TrainingJob,
    UpdateEndpoint,
)
from stacks.components.state_machine import ERROR_PATH, TaskGuard, Workflow
from stacks.config import SUPPORTED_REGIONS, EnvironmentConfig, has_instance_storage

#: Account of the built-in image-classification algorithm's ECR repository, per region
#: (SageMaker's "Docker registry paths"; the same image trains and serves).
IMAGE_CLASSIFICATION_REGISTRIES: dict[str, str] = {
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-south-1": "991648021394",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "eu-central-1": "813361260812",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}
ALGORITHM_REPOSITORY = "image-classification:1"
MODELS_PREFIX = "sagemaker/models/"
DATA_CAPTURE_PREFIX = "sagemaker/data-capture/"
VALIDATION_METRIC = "validation:accuracy"
#: The endpoint's one production variant (its metrics are per endpoint and variant).
VARIANT_NAME = "AllTraffic"
#: Endpoint creation or update usually takes 5-10 minutes; the poll gives up after 45.
ENDPOINT_POLL_INTERVAL = Duration.seconds(60)
ENDPOINT_MAX_POLLS = 45
SDK_TIMEOUT = Duration.seconds(60)
#: What SageMaker's throttling and service errors are called in a Retry. botocore models no
#: throttling or internal-error shape for SageMaker, so they arrive unmodelled: the optimized
#: integrations (createModel, createTrainingJob.sync, ...) raise them as
#: ``SageMaker.AmazonSageMakerException``, the aws-sdk ones as ``SageMaker.SageMakerException``
#: (Step Functions' ``<Service>.<Service>Exception`` for unmodelled errors). A Retry on
#: ``SageMaker.ThrottlingException`` would never match; these retry a few permanent errors too,
#: which costs seconds, not the run.
SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS: tuple[str, ...] = ("SageMaker.AmazonSageMakerException",)
SAGEMAKER_SDK_TRANSIENT_ERRORS: tuple[str, ...] = ("SageMaker.SageMakerException",)


class EndpointPhase(enum.Enum):
    """Where a deployment stands when DescribeEndpoint reports a status."""

    #: InService: deployed, if it serves the requested configuration (else it rolled back).
    DONE = "done"
    #: SageMaker is still working: poll again (bounded by ENDPOINT_MAX_POLLS).
    WORKING = "working"
    #: The deployment cannot succeed any more: fail at once with the status's error name.
    FAILED = "failed"


@dataclass(frozen=True)
class EndpointStatusMeaning:
    phase: EndpointPhase
    #: The workflow's error name for a FAILED status.
    error: str | None = None
    #: What the status means for the operator, in the failure's cause.
    explanation: str = ""


ENDPOINT_IN_SERVICE = "InService"
#: InService, but not with the requested configuration (or with a new FailureReason).
ENDPOINT_ROLLED_BACK = "EndpointUpdateRolledBack"
#: Every EndpointStatus of botocore's SageMaker model, classified once (a unit test compares
#: this table with botocore's enum). The Choice after each DescribeEndpoint is built from it.
ENDPOINT_STATUSES: dict[str, EndpointStatusMeaning] = {
    ENDPOINT_IN_SERVICE: EndpointStatusMeaning(EndpointPhase.DONE),
    "Creating": EndpointStatusMeaning(EndpointPhase.WORKING),
    "Updating": EndpointStatusMeaning(EndpointPhase.WORKING),
    # Maintenance by SageMaker; it ends in InService.
    "SystemUpdating": EndpointStatusMeaning(EndpointPhase.WORKING),
    # A failed scaling or weight change rolling back; it ends in InService.
    "RollingBack": EndpointStatusMeaning(EndpointPhase.WORKING),
    "Failed": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointFailed",
        "it could not be created or updated. DeleteEndpoint is the only operation a Failed "
        "endpoint accepts: delete it and run the workflow again.",
    ),
    "UpdateRollbackFailed": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointUpdateRollbackFailed",
        "the update failed and so did the rollback to the previous configuration, so the "
        "endpoint may serve neither. Fix the cause, then update or delete the endpoint.",
    ),
    "OutOfService": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointOutOfService",
        "it is not available to take requests.",
    ),
    "Deleting": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointDeleted",
        "someone deleted it while it was being deployed.",
    ),
}
#: How an aws-sdk task names an error SageMaker's model does not declare (ValidationException).
UNMODELLED_SAGEMAKER_ERROR = "SageMaker.SageMakerException"
#: What DescribeEndpoint answers (ValidationException) for an endpoint that does not exist.
ENDPOINT_NOT_FOUND_MESSAGE = "Could not find endpoint"
#: Lookups of the endpoint before another SageMakerException (throttling) fails the run.
ENDPOINT_LOOKUP_ATTEMPTS = 5
ENDPOINT_LOOKUP_INTERVAL = Duration.seconds(10)


class SageMakerTraining(Construct):
    """The training/deployment workflow and the two roles SageMaker works with."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        alerts: AlertTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        if set(IMAGE_CLASSIFICATION_REGISTRIES) != set(SUPPORTED_REGIONS):
            raise ValueError("SageMakerTraining: a supported region has no algorithm registry")
        self._config = config
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self._key = encryption_key
        sagemaker = config.sagemaker
        stack = Stack.of(self)
        self.job_prefix = sagemaker.job_name_prefix(config.resource_name_prefix)
        self.endpoint_name = sagemaker.endpoint_full_name(config.resource_name_prefix)
        self.endpoint_arn = stack.format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )
        registries = CfnMapping(
            self,
            "AlgorithmRegistry",
            mapping={
                region: {"account": account}
                for region, account in sorted(IMAGE_CLASSIFICATION_REGISTRIES.items())
            },
            lazy=True,
        )
        self.algorithm_image = (
            f"{registries.find_in_map(Aws.REGION, 'account')}.dkr.ecr.{Aws.REGION}."
            f"{Aws.URL_SUFFIX}/{ALGORITHM_REPOSITORY}"
        )
        self._log_groups: list[str] = []
        self.training_role = self._training_role()
        self.hosting_role = self._hosting_role()
        training = sagemaker.training
        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="SageMaker training",
            environment_name=config.name,
            definition=self._definition,
            # The job at its longest, SageMaker's provisioning and download, the endpoint poll.
            timeout=Duration.hours(training.max_runtime_hours + 2),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        self.state_machine = self.workflow.state_machine
        # KmsKeyId of the training job and the endpoint configuration: SageMaker creates grants
        # on the key for the caller's request.
        encryption_key.grant(self.state_machine.role, "kms:DescribeKey")
        grant_service_grants(encryption_key, self.state_machine.role)
        self._acknowledge()

    # --- definition -------------------------------------------------------------------------

    def _arn(self, resource: str, name: str) -> str:
        return str(
            Stack.of(self).format_arn(service="sagemaker", resource=resource, resource_name=name)
        )

    def _definition(self, guard: TaskGuard) -> sfn.IChainable:
        states = Construct(self, "States")
        sagemaker = self._config.sagemaker
        training = sagemaker.training
        job_arn = self._arn("training-job", f"{self.job_prefix}-*")
        model_arn = self._arn("model", f"{self.job_prefix}-*")
        endpoint_config_arn = self._arn("endpoint-config", f"{self.job_prefix}-*")

        name_job = sfn.Pass(
            states,
            "NameJob",
            parameters={
                "name.$": f"States.Format('{self.job_prefix}-{{}}', "
                "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4))"
            },
            result_path="$.job",
        )
        train = self._train(states, job_arn)
        guard(train, transient_errors=SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS, max_attempts=3)

        missing_accuracy = guard.fail(
            states,
            "NoValidationAccuracy",
            error="MissingValidationAccuracy",
            cause=sfn.JsonPath.format(
                "Training job {} completed without a final " + VALIDATION_METRIC + " metric; "
                "is there a validation channel under s3://"
                + self._data_bucket.bucket_name
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
                + self.endpoint_name
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

        deploy = self._deploy(states, guard, model_arn, endpoint_config_arn)
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

    def _train(self, states: Construct, job_arn: str) -> TrainingJob:
        sagemaker = self._config.sagemaker
        training = sagemaker.training
        stack = Stack.of(self)
        key_arn = self._key.key_arn
        extra: dict[str, Any] = {"OutputDataConfig": {"KmsKeyId": key_arn}}
        if not has_instance_storage(training.instance_type):
            # Instance-store volumes are hardware-encrypted; SageMaker refuses a key for them.
            extra["ResourceConfig"] = {"VolumeKmsKeyId": key_arn}
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
                _pass_role(self.training_role),
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
            role=self.training_role,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(self.algorithm_image),
                training_input_mode=tasks.InputMode.FILE,
            ),
            input_data_config=[
                tasks.Channel(
                    channel_name=channel,
                    content_type=training.content_type,
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=S3Uri.of(
                                self._data_bucket.bucket_name, f"{training.data_prefix}{channel}/"
                            ),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                            s3_data_distribution_type=tasks.S3DataDistributionType.FULLY_REPLICATED,
                        )
                    ),
                )
                for channel in training.channels
            ],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=S3Uri.of(self._artifacts_bucket.bucket_name, MODELS_PREFIX)
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
        self, states: Construct, guard: TaskGuard, model_arn: str, endpoint_config_arn: str
    ) -> sfn.IChainable:
        sagemaker = self._config.sagemaker
        endpoint = sagemaker.endpoint
        key_arn = self._key.key_arn
        timeout = sfn.Timeout.duration(SDK_TIMEOUT)
        create_model = CreateModel(
            states,
            "CreateModel",
            policies=[
                iam.PolicyStatement(
                    actions=["sagemaker:CreateModel", "sagemaker:ListTags"],
                    resources=[model_arn],
                ),
                _pass_role(self.hosting_role),
            ],
            model_name=sfn.JsonPath.string_at("$.job.name"),
            role=self.hosting_role,
            primary_container=tasks.ContainerDefinition(
                image=tasks.DockerImage.from_registry(self.algorithm_image),
                model_s3_location=S3Uri(sfn.JsonPath.string_at("$.evaluation.model_artifacts")),
            ),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=timeout,
        )
        config_extra: dict[str, Any] = {}
        if not has_instance_storage(endpoint.instance_type):
            config_extra["KmsKeyId"] = key_arn
        if endpoint.data_capture_percentage > 0:
            config_extra["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": endpoint.data_capture_percentage,
                "DestinationS3Uri": (
                    f"s3://{self._artifacts_bucket.bucket_name}/{DATA_CAPTURE_PREFIX.rstrip('/')}"
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
                resources=[self.endpoint_arn, endpoint_config_arn],
            )
        ]
        create_endpoint = CreateEndpoint(
            states,
            "CreateEndpoint",
            policies=endpoint_policy,
            endpoint_name=self.endpoint_name,
            endpoint_config_name=sfn.JsonPath.string_at("$.job.name"),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=timeout,
        )
        update_endpoint = UpdateEndpoint(
            states,
            "UpdateEndpoint",
            policies=endpoint_policy,
            endpoint_name=self.endpoint_name,
            endpoint_config_name=sfn.JsonPath.string_at("$.job.name"),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=timeout,
        )
        # The endpoint by its exact name: DescribeEndpoint answers for that one endpoint, where
        # ListEndpoints pages (10 a page, newest first) through every name that contains it.
        find_endpoint = tasks.CallAwsService(
            states,
            "FindEndpoint",
            service="sagemaker",
            action="describeEndpoint",
            parameters={"EndpointName": self.endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DescribeEndpoint",
            result_selector={
                "status.$": "$.EndpointStatus",
                # [] or [reason]: FailureReason is optional, and only an indefinite path may
                # match nothing. The reason it had before tells a stale reason from a new one.
                "failure_reasons.$": "$..FailureReason",
            },
            result_path="$.existing",
            task_timeout=timeout,
        )
        describe = tasks.CallAwsService(
            states,
            "DescribeEndpoint",
            service="sagemaker",
            action="describeEndpoint",
            parameters={"EndpointName": self.endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DescribeEndpoint",
            result_selector={
                "status.$": "$.EndpointStatus",
                "config.$": "$.EndpointConfigName",
                "failure_reasons.$": "$..FailureReason",
            },
            result_path="$.endpoint",
            task_timeout=timeout,
        )
        for task in (create_model, create_config, create_endpoint, update_endpoint):
            guard(task, transient_errors=SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS)
        # A missing endpoint is an expected answer: SageMaker models no error for it, so it
        # arrives as the unmodelled SageMaker.SageMakerException ("ValidationException: Could
        # not find endpoint ..."), the name throttling and service errors share. So the lookup
        # is not retried by name (a missing endpoint would be looked up again and again): any
        # other error of that name is tried again a bounded number of times, then fails.
        lookup_failed = guard.fail(
            states,
            "EndpointLookupFailed",
            error=sfn.JsonPath.string_at("$.lookup.Error"),
            cause=sfn.JsonPath.string_at("$.lookup.Cause"),
        )
        endpoint_missing = sfn.Choice(states, "EndpointMissing?")
        find_endpoint.add_catch(
            endpoint_missing, errors=[UNMODELLED_SAGEMAKER_ERROR], result_path="$.lookup"
        )
        guard(find_endpoint, transient_errors=("States.Timeout",))
        guard(describe, transient_errors=SAGEMAKER_SDK_TRANSIENT_ERRORS)
        init_lookups = sfn.Pass(
            states, "InitEndpointLookups", parameters={"count": 1}, result_path="$.lookups"
        )
        count_lookups = sfn.Pass(
            states,
            "CountEndpointLookups",
            parameters={"count.$": "States.MathAdd($.lookups.count, 1)"},
            result_path="$.lookups",
        )
        count_lookups.next(
            sfn.Wait(
                states, "WaitEndpointLookup", time=sfn.WaitTime.duration(ENDPOINT_LOOKUP_INTERVAL)
            )
        ).next(find_endpoint)

        not_updatable = guard.fail(
            states,
            "EndpointBusy",
            error="EndpointNotUpdatable",
            cause=sfn.JsonPath.format(
                "Endpoint " + self.endpoint_name + " is {}, so model {} was not deployed (an "
                "update needs InService; delete a Failed endpoint first). The model and its "
                "endpoint configuration {} exist and can be deployed by running again.",
                sfn.JsonPath.string_at("$.existing.status"),
                sfn.JsonPath.string_at("$.job.name"),
                sfn.JsonPath.string_at("$.job.name"),
            ),
        )
        # Every way a deployment ends badly records its error and cause, then adds the
        # service's FailureReason when SageMaker gave one, and takes the notify-then-fail path.
        failure_reason = sfn.Pass(
            states,
            "AddFailureReason",
            parameters={
                "Error.$": f"{ERROR_PATH}.Error",
                "Cause.$": "States.Format('{} FailureReason: {}', "
                f"{ERROR_PATH}.Cause, $.endpoint.failure_reasons[0])",
            },
            result_path=ERROR_PATH,
        ).next(guard.failure_handler)
        reason_given = (
            sfn.Choice(states, "FailureReasonGiven?")
            .when(sfn.Condition.is_present("$.endpoint.failure_reasons[0]"), failure_reason)
            .otherwise(guard.failure_handler)
        )
        rolled_back = sfn.Pass(
            states,
            "EndpointRolledBack",
            parameters={
                "Error": ENDPOINT_ROLLED_BACK,
                "Cause": sfn.JsonPath.format(
                    "Endpoint " + self.endpoint_name + " did not take endpoint configuration {}: "
                    "the deployment failed and SageMaker rolled it back, so the endpoint is "
                    "InService with {} (the model it served before). Model and endpoint "
                    "configuration {} are kept.",
                    sfn.JsonPath.string_at("$.job.name"),
                    sfn.JsonPath.string_at("$.endpoint.config"),
                    sfn.JsonPath.string_at("$.job.name"),
                ),
            },
            result_path=ERROR_PATH,
        ).next(reason_given)
        failed_statuses = {
            status: sfn.Pass(
                states,
                f"Endpoint{status}",
                parameters={
                    "Error": meaning.error,
                    "Cause": sfn.JsonPath.format(
                        "Endpoint "
                        + self.endpoint_name
                        + " is "
                        + status
                        + " after deploying endpoint configuration {}: "
                        + meaning.explanation,
                        sfn.JsonPath.string_at("$.job.name"),
                    ),
                },
                result_path=ERROR_PATH,
            ).next(reason_given)
            for status, meaning in ENDPOINT_STATUSES.items()
            if meaning.phase is EndpointPhase.FAILED
        }
        too_slow = guard.fail(
            states,
            "EndpointTooSlow",
            error="EndpointNotInService",
            cause=sfn.JsonPath.format(
                "Endpoint "
                + self.endpoint_name
                + " did not become InService with {} within "
                + str(ENDPOINT_MAX_POLLS * int(ENDPOINT_POLL_INTERVAL.to_seconds()) // 60)
                + " minutes (last status {}).",
                sfn.JsonPath.string_at("$.job.name"),
                sfn.JsonPath.string_at("$.endpoint.status"),
            ),
        )
        notify = guard.notify(
            states,
            "NotifyDeployed",
            outcome="DEPLOYED",
            summary=(
                "Training job {} passed the gate (" + VALIDATION_METRIC + " {} >= {}) and is "
                "deployed: endpoint " + self.endpoint_name + " is InService with endpoint "
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
                    "endpoint": self.endpoint_name,
                    "endpoint_config.$": "$.endpoint.config",
                    "evaluation.$": "$.evaluation",
                },
            )
        ).next(sfn.Succeed(states, "Deployed"))

        init_polls = sfn.Pass(
            states, "InitEndpointPolls", parameters={"count": 0}, result_path="$.polls"
        )
        wait = sfn.Wait(
            states, "WaitForEndpoint", time=sfn.WaitTime.duration(ENDPOINT_POLL_INTERVAL)
        )
        count = sfn.Pass(
            states,
            "CountEndpointPolls",
            parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
            result_path="$.polls",
        )
        in_service = sfn.Condition.string_equals("$.endpoint.status", ENDPOINT_IN_SERVICE)
        # Deployed: InService with the configuration just requested, and no FailureReason
        # other than the one the endpoint already had before this deployment.
        deployed = sfn.Condition.and_(
            in_service,
            sfn.Condition.string_equals_json_path("$.endpoint.config", "$.job.name"),
            sfn.Condition.or_(
                sfn.Condition.is_not_present("$.endpoint.failure_reasons[0]"),
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.existing.failure_reasons[0]"),
                    sfn.Condition.string_equals_json_path(
                        "$.endpoint.failure_reasons[0]", "$.existing.failure_reasons[0]"
                    ),
                ),
            ),
        )
        ready = (
            sfn.Choice(states, "EndpointReady?")
            .when(deployed, notify)
            # InService otherwise: SageMaker rolled a failed update back to the old configuration.
            .when(in_service, rolled_back)
        )
        for status, record in failed_statuses.items():
            ready.when(sfn.Condition.string_equals("$.endpoint.status", status), record)
        # Still working (and any status newer than this table): poll again, within the bound.
        ready.when(
            sfn.Condition.number_greater_than_equals("$.polls.count", ENDPOINT_MAX_POLLS),
            too_slow,
        ).otherwise(wait)
        init_polls.next(wait).next(describe).next(count).next(ready)
        create_endpoint.next(init_polls)
        update_endpoint.next(init_polls)
        endpoint_missing.when(
            sfn.Condition.string_matches("$.lookup.Cause", f"*{ENDPOINT_NOT_FOUND_MESSAGE}*"),
            create_endpoint,
        ).when(
            sfn.Condition.number_greater_than_equals("$.lookups.count", ENDPOINT_LOOKUP_ATTEMPTS),
            lookup_failed,
        ).otherwise(count_lookups)
        create_model.next(create_config).next(init_lookups).next(find_endpoint).next(
            sfn.Choice(states, "EndpointUpdatable?")
            .when(
                sfn.Condition.string_equals("$.existing.status", ENDPOINT_IN_SERVICE),
                update_endpoint,
            )
            .otherwise(not_updatable)
        )
        return create_model

    # --- roles ------------------------------------------------------------------------------

    def _training_role(self) -> iam.Role:
        """What a training job does: read the channels, write the model, log, encrypt."""
        training = self._config.sagemaker.training
        role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training jobs of the image-classification workflow",
        )
        grant_objects(
            role, self._data_bucket, training.data_prefix, ["s3:GetObject"], list_bucket=True
        )
        grant_objects(
            role, self._artifacts_bucket, MODELS_PREFIX, ["s3:PutObject", "s3:AbortMultipartUpload"]
        )
        self._key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        grant_service_grants(self._key, role)
        self._log_groups.append("/aws/sagemaker/TrainingJobs")
        _grant_logs_and_metrics(role, "/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TrainingJobs")
        return role

    def _hosting_role(self) -> iam.Role:
        """What the endpoint does: read the model, capture data, log, encrypt."""
        role = iam.Role(
            self,
            "HostingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker models and endpoint of the image-classification workflow",
        )
        grant_objects(role, self._artifacts_bucket, MODELS_PREFIX, ["s3:GetObject"])
        grant_objects(role, self._artifacts_bucket, DATA_CAPTURE_PREFIX, ["s3:PutObject"])
        self._key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        self._log_groups.append(f"/aws/sagemaker/Endpoints/{self.endpoint_name}")
        _grant_logs_and_metrics(
            role, f"/aws/sagemaker/Endpoints/{self.endpoint_name}", "/aws/sagemaker/Endpoints"
        )
        return role

    def _acknowledge(self) -> None:
        training = self._config.sagemaker.training
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="cloudwatch:PutMetricData accepts no resource but is limited by the "
                "cloudwatch:namespace condition. (Also X-Ray and log delivery, see Workflow.)",
            ),
            Acknowledgment(
                id="NIST.800.53.R5-IAMNoInlinePolicy",
                reason="The SageMaker roles get policies generated from exact grants; an inline "
                "policy lives and dies with its role.",
            ),
        )
        acknowledge_resources(
            self,
            [
                self._arn(kind, f"{self.job_prefix}-*")
                for kind in ("training-job", "model", "endpoint-config")
            ],
            f"Each run names its training job, model and endpoint configuration "
            f"'{self.job_prefix}-<12 hex>' at run time; the grant is limited to that prefix.",
        )
        acknowledge_prefix_wildcards(
            self,
            self._data_bucket,
            [training.data_prefix],
            "Training reads every image and list file of its channels under the training data "
            "prefix (GetObject only).",
        )
        acknowledge_prefix_wildcards(
            self,
            self._artifacts_bucket,
            [MODELS_PREFIX, DATA_CAPTURE_PREFIX],
            "Training writes model.tar.gz under a folder named after the job and the endpoint's "
            "model reads it back; data capture writes time-partitioned files under its prefix.",
        )
        acknowledge_resources(
            self,
            [f"{_log_group_arn(self, group)}:*" for group in self._log_groups],
            "SageMaker writes one log stream per training job or endpoint instance into its "
            "fixed log group.",
        )

    def endpoint_metric(self, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """A metric SageMaker publishes for the endpoint this workflow deploys (``Invocations``,
        ``ModelLatency`` in microseconds, ``Invocation4XXErrors``, ``Invocation5XXErrors``)."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
            statistic=statistic,
            period=Duration.minutes(5),
        )


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def _log_group_arn(scope: Construct, log_group: str) -> str:
    return str(
        Stack.of(scope).format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
    )


def _grant_logs_and_metrics(role: iam.Role, log_group: str, metric_namespace: str) -> None:
    """SageMaker jobs and endpoints log and publish metrics with their execution role."""
    group_arn = _log_group_arn(role, log_group)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[group_arn, f"{group_arn}:*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        )
    )

"""The ``SageMakerTraining`` construct: the algorithm's image, the roles, the workflow, its metrics.

Creates, in this order (construct ids, and so logical IDs, as before the package split): the
``AlgorithmRegistry`` mapping, the ``TrainingRole`` and ``HostingRole`` (``permissions``), the
``Workflow`` (whose definition ``definition`` builds under ``States``), then the state machine's
key grants and the cdk-nag acknowledgements.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from aws_cdk import Aws, CfnMapping, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker_cfn
from constructs import Construct

from contracts import metrics
from contracts.s3_layout import SAGEMAKER_REPORTS_PREFIX
from shared.lineage import CODE_VERSION_VARIABLE
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.queue import DeadLetterQueue
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import Workflow
from stacks.code_version import code_version
from stacks.config import DEPLOY_ON_APPROVAL, SUPPORTED_REGIONS, EnvironmentConfig
from stacks.pipelines.sagemaker_training.approval import (
    _ApprovalParts,
    _deploy_definition,
    approved_package_pattern,
)
from stacks.pipelines.sagemaker_training.definition import _definition, _WorkflowParts
from stacks.pipelines.sagemaker_training.deployment import _DeploymentParts
from stacks.pipelines.sagemaker_training.endpoint import VARIANT_NAME
from stacks.pipelines.sagemaker_training.guardrails import (
    RollbackAlarms,
    rollback_alarm_names,
    rollback_scope,
)
from stacks.pipelines.sagemaker_training.permissions import (
    _acknowledge,
    _arn,
    _grant_autoscaling,
    _grant_state_machine,
    _hosting_role,
    _training_role,
)

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
        low_confidence: Mapping[str, cloudwatch.IMetric],
        classified: Mapping[str, cloudwatch.IMetric],
    ) -> None:
        """``low_confidence`` and ``classified``: the inference's per-workflow counts, watched
        by the rollback alarms of an endpoint update (``guardrails``)."""
        super().__init__(scope, construct_id)
        if set(IMAGE_CLASSIFICATION_REGISTRIES) != set(SUPPORTED_REGIONS):
            raise ValueError("SageMakerTraining: a supported region has no algorithm registry")
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
        self.training_role = _training_role(
            self,
            config=config,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            key=encryption_key,
            log_groups=self._log_groups,
        )
        self.hosting_role = _hosting_role(
            self,
            artifacts_bucket=artifacts_bucket,
            key=encryption_key,
            endpoint_name=self.endpoint_name,
            log_groups=self._log_groups,
        )
        # SageMaker would create the endpoint's log group on first use: unencrypted and kept
        # forever. Created here with the environment key and retention instead. (Training jobs
        # log to /aws/sagemaker/TrainingJobs, one group per account and region shared with every
        # other SageMaker user there: not this app's to own.)
        self.endpoint_log_group = logs.LogGroup(
            self,
            "EndpointLogs",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            encryption_key=encryption_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.rollback_alarms = RollbackAlarms(
            self,
            "RollbackAlarms",
            config=config,
            endpoint_metric=self.endpoint_metric,
            low_confidence=low_confidence,
            classified=classified,
        )
        training = sagemaker.training
        self.model_package_group_name = sagemaker.model_package_group_name(
            config.resource_name_prefix
        )
        self.model_package_group_arn = _arn(
            self, "model-package-group", self.model_package_group_name
        )
        #: Every version of the group's packages (``model-package/<group>/<version>``).
        self.model_package_arns = _arn(self, "model-package", f"{self.model_package_group_name}/*")
        registry = sagemaker_cfn.CfnModelPackageGroup(
            self,
            "ModelRegistry",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=(
                f"Image classifiers of environment {config.name} that passed the training gate"
            ),
        )
        acknowledge_resources(
            self,
            [self.model_package_arns],
            "Model package versions are numbered by SageMaker when registered; the grant "
            "covers the versions of this environment's group only.",
        )
        registry.apply_removal_policy(
            RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        )
        self.lineage_function = PythonFunction(
            self,
            "RecordLineage",
            handler="sagemaker_training.lineage.lambda_handler",
            description="Records a SageMaker training job's metrics and lineage",
            memory_size=256,
            timeout=Duration.seconds(60),
            service_name=metrics.SAGEMAKER_TRAINING_SERVICE,
            invocation=Invocation.SYNCHRONOUS,
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "ENVIRONMENT_NAME": config.name,
                "MODEL_PACKAGE_GROUP": self.model_package_group_name,
                CODE_VERSION_VARIABLE: code_version(),
            },
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        )
        grant_objects(
            self.lineage_function.role,
            artifacts_bucket,
            SAGEMAKER_REPORTS_PREFIX,
            ["s3:PutObject"],
        )
        encryption_key.grant(self.lineage_function.role, "kms:GenerateDataKey")
        acknowledge_prefix_wildcards(
            self.lineage_function,
            artifacts_bucket,
            [SAGEMAKER_REPORTS_PREFIX],
            "Writes metrics.json and lineage.json under a folder named after each training "
            "job, unknown until the job runs (PutObject only).",
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="SageMaker training",
            environment_name=config.name,
            definition=partial(
                _definition,
                _WorkflowParts(
                    owner=self,
                    config=config,
                    data_bucket=data_bucket,
                    artifacts_bucket=artifacts_bucket,
                    key=encryption_key,
                    job_prefix=self.job_prefix,
                    endpoint_name=self.endpoint_name,
                    endpoint_arn=self.endpoint_arn,
                    algorithm_image=self.algorithm_image,
                    training_role=self.training_role,
                    hosting_role=self.hosting_role,
                    lineage_function=self.lineage_function,
                    model_package_group_name=self.model_package_group_name,
                    model_package_group_arn=self.model_package_group_arn,
                    rollback_alarms=rollback_alarm_names(config),
                ),
            ),
            # The job at its longest, SageMaker's provisioning and download, the endpoint poll.
            timeout=Duration.hours(training.max_runtime_hours + 2),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        self.state_machine = self.workflow.state_machine
        self.workflow.node.add_dependency(registry)
        _grant_state_machine(encryption_key, self.state_machine.role)
        if sagemaker.endpoint.autoscaling is not None:
            _grant_autoscaling(self, self.state_machine.role, self.endpoint_name)
        #: The approval-triggered deploy workflow (``sagemaker.training.deploy = on_approval``).
        self.deploy_workflow: Workflow | None = None
        if training.deploy == DEPLOY_ON_APPROVAL:
            self.deploy_workflow = self._deploy_on_approval(
                config, artifacts_bucket, encryption_key, alerts
            )
        _acknowledge(
            self,
            config=config,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            job_prefix=self.job_prefix,
            log_groups=self._log_groups,
        )

    def _deploy_on_approval(
        self,
        config: EnvironmentConfig,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        alerts: AlertTopic,
    ) -> Workflow:
        """The deploy workflow, and the rule that starts it when a package is approved."""
        parts = _ApprovalParts(
            owner=self,
            deployment=_DeploymentParts(
                owner=self,
                config=config,
                artifacts_bucket=artifacts_bucket,
                key=encryption_key,
                endpoint_name=self.endpoint_name,
                endpoint_arn=self.endpoint_arn,
                algorithm_image=self.algorithm_image,
                hosting_role=self.hosting_role,
                rollback_alarms=rollback_alarm_names(config),
            ),
            job_prefix=self.job_prefix,
            group_name=self.model_package_group_name,
            package_arns=self.model_package_arns,
            model_arn=_arn(self, "model", f"{self.job_prefix}-*"),
            endpoint_config_arn=_arn(self, "endpoint-config", f"{self.job_prefix}-*"),
        )
        workflow = Workflow(
            self,
            "DeployWorkflow",
            workflow_name="SageMaker deployment",
            environment_name=config.name,
            definition=partial(_deploy_definition, parts),
            # The endpoint poll at its longest, and the calls around it.
            timeout=Duration.hours(2),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        _grant_state_machine(encryption_key, workflow.state_machine.role)
        if config.sagemaker.endpoint.autoscaling is not None:
            _grant_autoscaling(self, workflow.state_machine.role, self.endpoint_name)
        undelivered = DeadLetterQueue(
            self,
            "ApprovalEventsDeadLetter",
            encryption_key=encryption_key,
            alarms=rollback_scope(config),
            what="approval-events-undelivered",
            source_description="The rule that deploys approved model packages",
        )
        pattern = approved_package_pattern(self.model_package_group_name)
        events.Rule(
            self,
            "PackageApproved",
            description=(
                f"Approved model packages of {self.model_package_group_name} start the deploy "
                "workflow"
            ),
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
            targets=[
                targets.SfnStateMachine(
                    workflow.state_machine,
                    dead_letter_queue=undelivered.queue,
                    max_event_age=Duration.hours(24),
                    retry_attempts=185,
                )
            ],
        )
        return workflow

    def endpoint_metric(self, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """A metric SageMaker publishes for the endpoint this workflow deploys (the
        ``SAGEMAKER_*`` names of ``contracts.metrics``: invocations, model latency in
        microseconds, 4XX and 5XX errors)."""
        return cloudwatch.Metric(
            namespace=metrics.SAGEMAKER_NAMESPACE,
            metric_name=name,
            dimensions_map={
                metrics.SAGEMAKER_ENDPOINT_DIMENSION: self.endpoint_name,
                metrics.SAGEMAKER_VARIANT_DIMENSION: VARIANT_NAME,
            },
            statistic=statistic,
            period=Duration.minutes(5),
        )

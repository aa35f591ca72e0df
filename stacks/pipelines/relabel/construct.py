"""The relabel workflow of one environment: functions, Ground Truth role, state machine, triggers.

Review records of both inference paths -> one Ground Truth labeling job at a time -> a new,
versioned training manifest in the data bucket. Where the manifest goes decides what trains on
it: under the training trigger's ``manifest_prefix`` the trigger starts a (gated) training run;
otherwise the workflow starts the training workflow itself (``StartTraining``).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts import metrics, naming, s3_layout
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import TaskGuard, Workflow
from stacks.config import EnvironmentConfig
from stacks.config.sections.relabel import WORKTEAM_ARN
from stacks.pipelines.rekognition_inference import REVIEW_PREFIX as REKOGNITION_REVIEW_PREFIX
from stacks.pipelines.relabel.definition import RelabelParts, build_definition
from stacks.pipelines.relabel.permissions import ground_truth_role, labeling_job_arn

#: The relabel workflow's part of the artifacts bucket (``contracts.s3_layout``).
RELABEL_PREFIX = s3_layout.RELABEL_PREFIX
JOBS_PREFIX = f"{RELABEL_PREFIX}jobs/"
OUTPUT_PREFIX = f"{RELABEL_PREFIX}output/"
#: Review records whose label is in a manifest, under their original key.
DONE_PREFIX = f"{RELABEL_PREFIX}done/"
SERVICE_NAME = metrics.RELABEL_SERVICE


def covered_by_trigger(config: EnvironmentConfig) -> bool:
    """Whether the training trigger watches the relabel manifests (then it starts training)."""
    trigger = config.rekognition_training.trigger_manifest_prefix
    return trigger is not None and config.relabel.manifest_prefix.startswith(trigger)


class Relabel(Construct):
    """Collect -> Ground Truth -> merge, one job at a time, started by hand or by its triggers."""

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
        training_state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        relabel = config.relabel
        stack = Stack.of(self)
        self.service_name = SERVICE_NAME
        self.metrics_namespace = config.metrics_namespace
        self.review_prefixes = {
            naming.REKOGNITION: REKOGNITION_REVIEW_PREFIX,
            naming.SAGEMAKER: config.sagemaker.review_prefix,
        }
        self.state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=config.relabel_state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        job_arns = labeling_job_arn(self, f"{config.labeling_job_prefix}*")
        common: dict[str, Any] = {
            "invocation": Invocation.SYNCHRONOUS,
            "service_name": SERVICE_NAME,
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        }
        self.collect = PythonFunction(
            self,
            "CollectFunction",
            handler="relabel.collect.lambda_handler",
            description="Collects pending review records into a Ground Truth labeling job",
            memory_size=512,
            timeout=Duration.minutes(10),
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "REKOGNITION_REVIEW_PREFIX": self.review_prefixes[naming.REKOGNITION],
                "SAGEMAKER_REVIEW_PREFIX": self.review_prefixes[naming.SAGEMAKER],
                "JOBS_PREFIX": JOBS_PREFIX,
                "JOB_NAME_PREFIX": config.labeling_job_prefix,
                "STATE_MACHINE_ARN": self.state_machine_arn,
                "WORKTEAM_ARN": relabel.workteam_arn or "",
                "WORKTEAM_ARN_PATTERN": WORKTEAM_ARN.pattern,
                "LABELS": json.dumps(list(relabel.labels)),
                "MAX_IMAGES": str(relabel.max_images_per_job),
                "WORKERS_PER_IMAGE": str(relabel.workers_per_image),
                "TASK_TIME_LIMIT_SECONDS": str(relabel.task_time_limit_seconds),
                "TASK_AVAILABILITY_SECONDS": str(relabel.task_availability_hours * 3600),
                "PENDING_THRESHOLD": str(relabel.pending_threshold or ""),
            },
            **common,
        )
        self.merge = PythonFunction(
            self,
            "MergeFunction",
            handler="relabel.merge.lambda_handler",
            description="Merges Ground Truth answers into a new training manifest",
            memory_size=1024,
            timeout=Duration.minutes(10),
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "DATA_BUCKET": data_bucket.bucket_name,
                "OUTPUT_PREFIX": OUTPUT_PREFIX,
                "MANIFEST_PREFIX": relabel.manifest_prefix,
                "BASE_MANIFEST_KEY": relabel.base_manifest_key or "",
                "DONE_PREFIX": DONE_PREFIX,
            },
            **common,
        )
        self._grant(config, data_bucket, artifacts_bucket, encryption_key)
        self.ground_truth_role = ground_truth_role(
            self,
            config=config,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            key=encryption_key,
            jobs_prefix=JOBS_PREFIX,
            output_prefix=OUTPUT_PREFIX,
        )
        starts_training = not covered_by_trigger(config)
        parts = RelabelParts(
            config=config,
            collect=self.collect.function,
            merge=self.merge.function,
            ground_truth_role=self.ground_truth_role,
            output_uri=f"s3://{artifacts_bucket.bucket_name}/{OUTPUT_PREFIX}",
            kms_key_arn=encryption_key.key_arn,
            labeling_job_arn_pattern=job_arns,
            training_state_machine=training_state_machine if starts_training else None,
        )

        def definition(guard: TaskGuard) -> sfn.IChainable:
            return build_definition(self, guard, parts)

        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="Relabel",
            environment_name=config.name,
            definition=definition,
            timeout=Duration.minutes(relabel.execution_timeout_minutes),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
            state_machine_name=config.relabel_state_machine_name,
        )
        self.state_machine = self.workflow.state_machine
        # The output of the job is encrypted with the key SageMaker is handed in the request.
        encryption_key.grant(self.state_machine, "kms:DescribeKey")
        acknowledge_resources(
            self,
            [job_arns],
            "Each run names its labeling job '<prefix>-relabel-<time>-<hex>' at run time; the "
            "grant is limited to that prefix.",
        )
        self._triggers(config)

    def _grant(
        self,
        config: EnvironmentConfig,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
    ) -> None:
        review = list(self.review_prefixes.values())
        collect, merge = self.collect.role, self.merge.role
        collect.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in review]}},
            )
        )
        for prefix in review:
            grant_objects(collect, artifacts_bucket, prefix, ["s3:GetObject"])
            grant_objects(merge, artifacts_bucket, prefix, ["s3:GetObject", "s3:DeleteObject"])
        grant_objects(collect, artifacts_bucket, JOBS_PREFIX, ["s3:PutObject"])
        collect.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:ListLabelingJobs"], resources=["*"])
        )
        collect.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"], resources=[self.state_machine_arn]
            )
        )
        grant_objects(merge, artifacts_bucket, JOBS_PREFIX, ["s3:GetObject"])
        grant_objects(merge, artifacts_bucket, OUTPUT_PREFIX, ["s3:GetObject"])
        grant_objects(merge, artifacts_bucket, DONE_PREFIX, ["s3:PutObject"])
        prefix = config.relabel.manifest_prefix
        merge.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        grant_objects(merge, data_bucket, prefix, ["s3:GetObject", "s3:PutObject"])
        base = config.relabel.base_manifest_key
        if base is not None:
            merge.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[data_bucket.arn_for_objects(base)]
                )
            )
        for function in (self.collect, self.merge):
            key.grant(function.role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_prefix_wildcards(
            self,
            artifacts_bucket,
            [*review, JOBS_PREFIX, OUTPUT_PREFIX, DONE_PREFIX],
            "The functions read the review records under each pipeline's review prefix, write "
            "the job files, read the answers and move the records to the done prefix; keys are "
            "the images' keys, known only at run time.",
        )
        acknowledge_prefix_wildcards(
            self,
            data_bucket,
            [prefix],
            "The merge reads the newest versioned manifest under the relabel manifest prefix "
            "and writes the next one.",
        )
        acknowledge_resources(
            self,
            ["*"],
            "sagemaker:ListLabelingJobs has no resource type in the authorization reference; "
            "the function lists only jobs whose names start with this environment's prefix.",
        )

    def _triggers(self, config: EnvironmentConfig) -> None:
        relabel = config.relabel
        for rule_id, expression, trigger, description in (
            ("Schedule", relabel.schedule, "schedule", "Label the pending review records"),
            (
                "ThresholdCheck",
                relabel.threshold_check_schedule,
                "threshold",
                f"Label once {relabel.pending_threshold} review records are pending",
            ),
        ):
            if expression is None:
                continue
            events.Rule(
                self,
                rule_id,
                description=description,
                schedule=events.Schedule.expression(expression),
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        input=events.RuleTargetInput.from_object({"trigger": trigger}),
                        retry_attempts=3,
                    )
                ],
            )

"""Rekognition Custom Labels inference: new images -> SQS -> Lambda -> one record per image.

The data bucket's ``Object Created`` events under the input prefix reach an encrypted work queue
through an EventBridge rule. A consumer function, gated by the model controller, classifies them
in batches and writes a result or an error record for each image. The controller, run every
minute, starts and stops the model (it bills per inference-unit hour while running; a start asks
for the units that drain the backlog in ``drain_minutes``), enables the queue's event source only
while the model is RUNNING, and sizes the consumers to the units in service (the event source's
MaximumConcurrency, and the per-invocation pace it publishes in an SSM parameter).
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts import metrics, s3_layout
from stacks.building_blocks.alarms import AlarmScope, alarm
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.queue import DeadLetterQueue, RuleQueueTarget, WorkQueue
from stacks.config import EXPECTED_MODEL_START_MINUTES, EnvironmentConfig
from stacks.pipelines.review_sampling import review_sample_environment
from stacks.runbooks import Runbook

#: Receives before a message that keeps failing transiently moves to the dead-letter queue:
#: the most the foundation allows, so a model that is briefly not ready costs no DLQ trip.
MAX_RECEIVE_COUNT = 5
#: Messages wait a week while the model is off (an alarm fires long before); the dead-letter
#: queue keeps 14 days, so a message that fails on its last day still has a week there (SQS
#: counts retention from the first enqueue).
QUEUE_RETENTION = Duration.days(7)
#: Prefixes of the artifacts bucket this pipeline writes (the consumer writes under the same).
RESULTS_PREFIX = s3_layout.REKOGNITION_RESULTS_PREFIX
REVIEW_PREFIX = s3_layout.REKOGNITION_REVIEW_PREFIX
ERRORS_PREFIX = s3_layout.REKOGNITION_ERRORS_PREFIX
#: How often the controller runs; also bounds how late it notices work or a RUNNING model.
CONTROL_INTERVAL = Duration.minutes(1)


def backlog_alarm_minutes(config: EnvironmentConfig) -> int:
    """Oldest-message age that means work is stuck, allowing for a scheduled mode's off hours."""
    schedule = config.rekognition.model_control.schedule
    off_hours = 24 - schedule.hours if schedule is not None else 0
    return config.operations.queue_age_alarm_minutes + off_hours * 60


class RekognitionInference(Construct):
    """Queue, rule, consumer, model controller and their alarms for one environment."""

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
        settings = config.rekognition
        self._stack = Stack.of(self)
        self.config = config
        self.metrics_namespace = config.metrics_namespace
        self.consumer_service = metrics.REKOGNITION_INFERENCE_SERVICE
        self.controller_service = metrics.REKOGNITION_CONTROLLER_SERVICE
        consumer_timeout = Duration.seconds(settings.consumer_timeout_seconds)
        self.alarm_scope = AlarmScope(
            prefix=config.resource_name_prefix, pipeline="rekognition-inference"
        )

        self.work = WorkQueue(
            self,
            "Images",
            encryption_key=encryption_key,
            consumer_timeout=consumer_timeout,
            alarms=self.alarm_scope,
            max_receive_count=MAX_RECEIVE_COUNT,
            retention=QUEUE_RETENTION,
        )
        self.undelivered_events = DeadLetterQueue(
            self,
            "UndeliveredEvents",
            encryption_key=encryption_key,
            alarms=self.alarm_scope,
            what="undelivered-image-events",
            source_description="The EventBridge rule for new images, after its retries,",
        )
        self.rule = events.Rule(
            self,
            "ImageCreated",
            description=(
                f"New objects under {settings.input_prefix} of the data bucket, to the "
                "Rekognition inference queue"
            ),
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {"key": [{"prefix": settings.input_prefix}]},
                },
            ),
            targets=[
                RuleQueueTarget(
                    self.work.queue,
                    dead_letter_queue=self.undelivered_events.queue,
                    max_event_age=Duration.hours(24),
                    retry_attempts=185,
                )
            ],
        )

        common = FunctionDefaults.of(config, encryption_key).kwargs()
        # The controller sizes the consumers to the units in service at run time; the template
        # starts them at what a started model always has, and bounds the pace they accept.
        initial = settings.initial_capacity
        model_environment = {
            "PROJECT_NAME": settings.project_name,
            "MODEL_VERSION_ARN": settings.model_version_arn or "",
            "MODEL_VERSION_PARAMETER": config.model_version_parameter,
        }
        self.consumer = PythonFunction(
            self,
            "Consumer",
            handler="rekognition_inference.handler.lambda_handler",
            description="Classifies new images with Rekognition Custom Labels (SQS batches)",
            memory_size=512,
            timeout=consumer_timeout,
            invocation=Invocation.EVENT_SOURCE,
            service_name=self.consumer_service,
            environment={
                **model_environment,
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": settings.input_prefix,
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "MIN_CONFIDENCE": str(settings.min_confidence),
                "REVIEW_THRESHOLD": str(settings.review_threshold),
                **review_sample_environment(config),
                "DETECT_CONCURRENCY": str(settings.calls_in_flight),
                "INVOCATION_TPS": f"{settings.slowest_invocation_tps:g}",
                "MAX_INVOCATION_TPS": f"{settings.fastest_invocation_tps:g}",
                "CAPACITY_PARAMETER": config.consumer_capacity_parameter,
            },
            **common,
        )
        self.event_source = self.work.add_consumer(
            self.consumer.function,
            batch_size=settings.batch_size,
            max_batching_window=(
                Duration.seconds(settings.batching_window_seconds)
                if settings.batching_window_seconds
                else None
            ),
            max_concurrency=initial.max_concurrency,
            # The controller enables it once the model is RUNNING; a deploy switches it off
            # at most until the controller's next run, and messages just wait meanwhile.
            enabled=False,
        )
        self._grant_consumer(data_bucket, artifacts_bucket, encryption_key)

        schedule = settings.model_control.schedule
        self.controller = PythonFunction(
            self,
            "Controller",
            handler="model_controller.handler.lambda_handler",
            description="Starts/stops the Rekognition model and gates the inference queue",
            memory_size=256,
            timeout=Duration.seconds(60),
            invocation=Invocation.ASYNCHRONOUS,
            alarms=self.alarm_scope,
            service_name=self.controller_service,
            environment={
                **model_environment,
                "QUEUE_URL": self.work.queue.queue_url,
                "QUEUE_NAME": self.work.queue.queue_name,
                "EVENT_SOURCE_MAPPING_ID": self.event_source.event_source_mapping_id,
                "CONTROL_MODE": settings.model_control.mode,
                "IDLE_MINUTES": str(settings.model_control.idle_minutes),
                "DRAIN_MINUTES": str(settings.model_control.drain_minutes),
                "SCHEDULE_START_HOUR_UTC": str(schedule.start_hour_utc) if schedule else "",
                "SCHEDULE_END_HOUR_UTC": str(schedule.end_hour_utc) if schedule else "",
                "MIN_INFERENCE_UNITS": str(settings.min_inference_units),
                "MAX_INFERENCE_UNITS": str(settings.max_inference_units),
                "TPS_PER_INFERENCE_UNIT": f"{settings.tps_per_inference_unit:g}",
                "EXPECTED_START_MINUTES": str(EXPECTED_MODEL_START_MINUTES),
                "CALLS_IN_FLIGHT": str(settings.calls_in_flight),
                "CAPACITY_PARAMETER": config.consumer_capacity_parameter,
            },
            **common,
        )
        assert self.controller.dead_letter is not None  # asynchronous: it always has one
        self.schedule = events.Rule(
            self,
            "ControlSchedule",
            description="Runs the Rekognition model controller",
            schedule=events.Schedule.rate(CONTROL_INTERVAL),
            targets=[
                targets.LambdaFunction(
                    self.controller.function,
                    # Undeliverable runs join the function's own failed runs (alarmed).
                    dead_letter_queue=self.controller.dead_letter.queue,
                    max_event_age=Duration.minutes(5),
                    retry_attempts=2,
                )
            ],
        )
        self._grant_controller(encryption_key)
        self._alarms()

    # -- permissions ----------------------------------------------------------------------

    def _project_resources(self) -> list[str]:
        """The configured project and its versions (ARNs end in creation timestamps)."""
        name = self.config.rekognition.project_name
        return [
            self._stack.format_arn(
                service="rekognition", resource="project", resource_name=f"{name}/*"
            )
        ]

    def _parameter_arn(self, name: str | None = None) -> str:
        """The model version parameter's ARN (or another parameter's, by name)."""
        return str(
            self._stack.format_arn(
                service="ssm",
                resource="parameter",
                resource_name=(name or self.config.model_version_parameter).lstrip("/"),
            )
        )

    def _capacity_parameter_arn(self) -> str:
        return self._parameter_arn(self.config.consumer_capacity_parameter)

    def _grant_consumer(
        self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, key: kms.IKey
    ) -> None:
        settings = self.config.rekognition
        pinned = settings.model_version_arn
        statements = [
            iam.PolicyStatement(
                sid="ReadNewImages",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[data_bucket.arn_for_objects(f"{settings.input_prefix}*")],
            ),
            iam.PolicyStatement(
                # Without it S3 answers 403 for a missing object, and a deleted image would
                # look like a permission problem (retried) instead of a recorded error.
                sid="TellMissingFromForbidden",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="WriteRecords",
                actions=["s3:PutObject"],
                resources=[
                    artifacts_bucket.arn_for_objects(f"{prefix}*")
                    for prefix in (RESULTS_PREFIX, REVIEW_PREFIX, ERRORS_PREFIX)
                ],
            ),
            iam.PolicyStatement(
                sid="SeeEarlierResults",
                actions=["s3:GetObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{RESULTS_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="DetectCustomLabels",
                actions=["rekognition:DetectCustomLabels"],
                resources=[pinned] if pinned else self._project_resources(),
            ),
            iam.PolicyStatement(
                sid="ReadModelVersionParameter",
                actions=["ssm:GetParameter"],
                resources=[self._parameter_arn()],
            ),
            iam.PolicyStatement(
                # The pace the model controller publishes for the units in service.
                sid="ReadConsumerCapacity",
                actions=["ssm:GetParameter"],
                resources=[self._capacity_parameter_arn()],
            ),
            iam.PolicyStatement(
                sid="UseEnvironmentKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            ),
        ]
        bucket = _flatten(self._stack.resolve(data_bucket.bucket_arn))
        artifacts = _flatten(self._stack.resolve(artifacts_bucket.bucket_arn))
        findings = [
            (
                f"Resource::{bucket}/{settings.input_prefix}*",
                "Reads only images under the configured input prefix; their keys are not known "
                "before they are uploaded.",
            ),
        ]
        findings += [
            (
                f"Resource::{artifacts}/{prefix}*",
                f"Writes its records only under {prefix} of the artifacts bucket; keys are "
                "derived from the input keys at run time.",
            )
            for prefix in (RESULTS_PREFIX, REVIEW_PREFIX, ERRORS_PREFIX)
        ]
        if not pinned:
            findings.append(self._project_finding())
        self.consumer.add_policy(
            "InferenceAccess", statements=statements, acknowledgements=_iam5(findings)
        )

    def _project_finding(self) -> tuple[str, str]:
        name = self.config.rekognition.project_name
        (project,) = self._project_resources()
        return (
            f"Resource::{_flatten(self._stack.resolve(project))}",
            f"Only project {name}: project and model version ARNs end in creation timestamps "
            "unknown at deploy time, and the version in use changes with each training.",
        )

    def _grant_controller(self, key: kms.IKey) -> None:
        self.controller.add_policy(
            "ModelControl",
            statements=[
                iam.PolicyStatement(
                    sid="ManageModel",
                    actions=[
                        "rekognition:DescribeProjectVersions",
                        "rekognition:StartProjectVersion",
                        "rekognition:StopProjectVersion",
                    ],
                    resources=self._project_resources(),
                ),
                iam.PolicyStatement(
                    # Enabled/disabled, and MaximumConcurrency sized to the units in service.
                    sid="GateEventSource",
                    actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
                    resources=[self.event_source.event_source_mapping_arn],
                ),
                iam.PolicyStatement(
                    sid="SeeBacklog",
                    actions=["sqs:GetQueueAttributes"],
                    resources=[self.work.queue.queue_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadModelVersionParameter",
                    actions=["ssm:GetParameter"],
                    resources=[self._parameter_arn()],
                ),
                iam.PolicyStatement(
                    # The pace the consumers may call the model at, for the units in service.
                    sid="PublishConsumerCapacity",
                    actions=["ssm:GetParameter", "ssm:PutParameter"],
                    resources=[self._capacity_parameter_arn()],
                ),
            ],
            acknowledgements=_iam5([self._project_finding()]),
        )
        self.controller.add_policy(
            "ReadOnlyLookups",
            statements=[
                iam.PolicyStatement(
                    sid="ReadOnlyLookupsWithoutResourceLevelPermissions",
                    actions=["rekognition:DescribeProjects", "cloudwatch:GetMetricData"],
                    resources=["*"],
                )
            ],
            acknowledgements=_iam5(
                [
                    (
                        "Resource::*",
                        "rekognition:DescribeProjects (to find the project ARN) and "
                        "cloudwatch:GetMetricData (the queue's recent activity, the model's "
                        "inference units in service) support no resource-level permissions "
                        "(Service Authorization Reference); both only read.",
                    )
                ]
            ),
        )

    # -- alarms and metrics ---------------------------------------------------------------

    def _alarms(self) -> None:
        backlog_minutes = backlog_alarm_minutes(self.config)
        self.backlog_alarm = alarm(
            self,
            "BacklogTooOldAlarm",
            alarms=self.alarm_scope,
            what="backlog-too-old",
            description=(
                f"An image has waited over {backlog_minutes} minutes in the Rekognition "
                "inference queue: the model is not running (mode off, a failed start, no model "
                "version published) or cannot keep up. Check `python -m ops model status`."
            ),
            runbook=Runbook.BACKLOG,
            metric=self.work.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=backlog_minutes * 60,
        )
        self.attention_alarm = alarm(
            self,
            "ModelNeedsAttentionAlarm",
            alarms=self.alarm_scope,
            what="model-needs-attention",
            description=(
                "The Rekognition model needs a person: it FAILED (it is never restarted "
                "automatically), its version cannot serve while images wait, or the model "
                "controller stopped reporting. See the controller's logs and "
                "`python -m ops model status`."
            ),
            runbook=Runbook.MODEL_ATTENTION,
            metric=self.controller_metric(metrics.MODEL_NEEDS_ATTENTION, "Maximum"),
            threshold=1,
            missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.capacity_alarm = alarm(
            self,
            "CapacityUpdateFailuresAlarm",
            alarms=self.alarm_scope,
            what="capacity-update-failures",
            description=(
                "The model controller could not update the consumers' capacity to the inference "
                "units in service (the capacity parameter or the event source's concurrency) "
                "for three 5-minute periods in a row: the consumers call the model at a stale "
                "pace, too slow after a scale-up or throttled after a scale-down. See the "
                "controller's logs."
            ),
            runbook=Runbook.CAPACITY_UPDATES,
            metric=self.controller_metric(metrics.CAPACITY_UPDATE_FAILURES, "Maximum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=3,
        )

    def consumer_metric(
        self, name: str, statistic: str = "Sum", reason: str | None = None
    ) -> cloudwatch.Metric:
        """A metric the consumer publishes (ImagesProcessed, LowConfidence, DetectLatency,
        ImageErrors and TransientFailures by ``reason``, DuplicatesSkipped)."""
        dimensions = {metrics.SERVICE_DIMENSION: self.consumer_service}
        if reason is not None:
            dimensions[metrics.REASON_DIMENSION] = reason
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=Duration.minutes(5),
        )

    def errors_by_reason_search(self) -> str:
        """A ``SEARCH`` over the consumer's ``ImageErrors`` of every reason."""
        return (
            f"SEARCH('{{{self.metrics_namespace},{metrics.REASON_DIMENSION},"
            f'{metrics.SERVICE_DIMENSION}}} MetricName="{metrics.IMAGE_ERRORS}" '
            f"{metrics.SERVICE_DIMENSION}=\"{self.consumer_service}\"', 'Sum', 300)"
        )

    def inference_units_search(self) -> str:
        """A ``SEARCH`` over the inference units Rekognition reports for the project's versions."""
        return (
            f"SEARCH('{{{metrics.REKOGNITION_NAMESPACE},{metrics.REKOGNITION_PROJECT_DIMENSION},"
            f"{metrics.REKOGNITION_VERSION_DIMENSION}}} "
            f'MetricName="{metrics.IN_SERVICE_INFERENCE_UNITS}" '
            f"{metrics.REKOGNITION_PROJECT_DIMENSION}="
            f"\"{self.config.rekognition.project_name}\"', 'Average', 300)"
        )

    def controller_metric(self, name: str, statistic: str = "Maximum") -> cloudwatch.Metric:
        """A metric the controller publishes (ModelRunning, ModelNeedsAttention, QueueWaiting,
        ModelStartRequests, ModelStopRequests)."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            dimensions_map={metrics.SERVICE_DIMENSION: self.controller_service},
            statistic=statistic,
            period=Duration.minutes(5),
        )


def _flatten(node: object) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding id.

    Same rules as cdk-nag's ``flattenCfnReference``: ``Ref`` -> ``<Name>``, ``Fn::GetAtt`` ->
    ``<Id.Attr>``, ``Fn::Join`` joined, ``${X}`` -> ``<X>``.
    """
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(_flatten(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node)


def _iam5(findings: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """IAM5 acknowledgements for ``PythonFunction.add_policy``: ``(rule id, reason)`` pairs."""
    return [(f"AwsSolutions-IAM5[{finding}]", reason) for finding, reason in findings]

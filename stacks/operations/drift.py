"""The drift evaluator of one environment: its function, schedule, grants, alarms and widgets.

A scheduled function (``lambda_src/drift``) compares each pipeline's live window with its
running version's baseline and publishes one metric per figure; here each figure of each
pipeline gets an alarm (threshold from the ``drift`` config section) and the dashboard a row of
drift graphs (:meth:`DriftEvaluator.add_widgets`, called by the monitoring stack).

Metric names and dimensions come from ``contracts.metrics``, the pipelines, figures and their
titles from ``contracts.drift``: the modules the functions publish with, so each name is spelt
once.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts import drift as contract
from contracts.metrics import (
    DRIFT_EVALUATOR_SERVICE,
    DRIFT_PREDICTIONS,
    DRIFT_WINDOW_IMAGES,
    LABEL_DIMENSION,
    PIPELINE_DIMENSION,
    SERVICE_DIMENSION,
)
from contracts.s3_layout import DRIFT_PREFIX, REPORTS_PREFIX, SAGEMAKER_REPORTS_PREFIX
from drift.window import search
from stacks.building_blocks.alarms import AlarmScope, alarm, kebab
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.iam import acknowledge_prefix_wildcards, acknowledge_resources
from stacks.building_blocks.python_function import (
    FunctionDefaults,
    Invocation,
    PythonFunction,
)
from stacks.config import EnvironmentConfig
from stacks.operations.panels import Panel
from stacks.runbooks import Runbook

#: SageMaker baselines: the evaluator writes them next to the training job's lineage record.
_SAGEMAKER_BASELINES = SAGEMAKER_REPORTS_PREFIX
#: The evaluator reads the baselines (Rekognition's under reports/, SageMaker's it built
#: itself) and its own reports (drift/); it writes SageMaker baselines and drift reports.
_READ_PREFIXES = (REPORTS_PREFIX, _SAGEMAKER_BASELINES, DRIFT_PREFIX)
_WIDTH, _HEIGHT = 8, 6


def _dimensions(pipeline: str) -> dict[str, str]:
    """The dimensions of the evaluator's metrics of one pipeline."""
    return {PIPELINE_DIMENSION: pipeline, SERVICE_DIMENSION: DRIFT_EVALUATOR_SERVICE}


def alarm_period(schedule: str) -> Duration:
    """One data point per run: the run interval of a ``rate(...)`` (5 minutes to 1 day),
    one hour for a ``cron(...)``. Missing data keeps the state (a quiet run changes nothing)."""
    value, _, unit = schedule.removeprefix("rate(").removesuffix(")").partition(" ")
    if not schedule.startswith("rate(") or not value.isdigit():
        return Duration.hours(1)
    minutes = int(value) * {"minute": 1, "hour": 60, "day": 24 * 60}[unit.rstrip("s")]
    return Duration.minutes(min(max(minutes, 5), 24 * 60))


class DriftEvaluator(Construct):
    """The scheduled drift evaluator, its alarms, and its dashboard widgets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        defaults: FunctionDefaults,
        artifacts_bucket: s3.IBucket,
        data_bucket: s3.IBucket,
        alerts: AlertTopic,
        endpoint_arn: str,
        model_parameter_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        drift, sagemaker = config.drift, config.sagemaker
        self.namespace = config.metrics_namespace
        self.function = PythonFunction(
            self,
            "Evaluator",
            handler="drift.handler.lambda_handler",
            description="Compares each pipeline's live predictions with its model's baseline",
            memory_size=512,
            timeout=Duration.minutes(2),
            invocation=Invocation.ASYNCHRONOUS,
            service_name=DRIFT_EVALUATOR_SERVICE,
            alarms=AlarmScope(prefix=config.resource_name_prefix, pipeline="operations"),
            reserved_concurrency=1,
            environment={
                "ENVIRONMENT_NAME": config.name,
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "ALERT_TOPIC_ARN": alerts.topic.topic_arn,
                "WINDOW_HOURS": str(drift.window_hours),
                "DRIFT_THRESHOLDS": json.dumps(drift.thresholds(), sort_keys=True),
                "PROJECT_NAME": config.rekognition.project_name,
                "MODEL_VERSION_PARAMETER": config.model_version_parameter,
                "MODEL_VERSION_ARN": config.rekognition.model_version_arn or "",
                "ENDPOINT_NAME": sagemaker.endpoint_full_name(config.resource_name_prefix),
                "DATA_BUCKET": data_bucket.bucket_name,
                "SAGEMAKER_DATA_PREFIX": sagemaker.training.data_prefix,
                "SAGEMAKER_DATA_FORMAT": sagemaker.training.data_format,
                "CLASS_NAMES": json.dumps(list(sagemaker.class_names)),
            },
            **defaults.kwargs(),
        )
        self._grant(
            artifacts_bucket=artifacts_bucket,
            data_bucket=data_bucket,
            data_prefix=sagemaker.training.data_prefix,
            endpoint_arn=endpoint_arn,
            model_parameter_arn=model_parameter_arn,
        )
        alerts.grant_publish(self.function.role)
        defaults.encryption_key.grant(self.function.role, "kms:Decrypt", "kms:GenerateDataKey")
        events.Rule(
            self,
            "Schedule",
            description="Runs the drift evaluator",
            schedule=events.Schedule.expression(drift.schedule),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=(
                        self.function.dead_letter.queue if self.function.dead_letter else None
                    ),
                    retry_attempts=2,
                )
            ],
        )
        period = alarm_period(drift.schedule)
        self.alarms: dict[tuple[str, str], cloudwatch.Alarm] = {}
        for pipeline in contract.PIPELINES:
            for figure, metric_name in contract.FIGURES.items():
                self.alarms[(pipeline, figure)] = alarm(
                    self,
                    f"{pipeline.capitalize()}{metric_name}",
                    alarms=AlarmScope(
                        prefix=config.resource_name_prefix,
                        pipeline=kebab(contract.PIPELINE_TITLES[pipeline]),
                    ),
                    what=kebab(metric_name),
                    metric=self.figure_metric(pipeline, figure).with_(period=period),
                    threshold=drift.thresholds()[figure],
                    description=(
                        f"{contract.PIPELINE_TITLES[pipeline]}: "
                        f"{contract.FIGURE_TITLES[figure]} reached its threshold over the last "
                        f"{drift.window_hours} h. The drift report names the labels that moved."
                    ),
                    runbook=Runbook.DRIFT,
                    missing_data=cloudwatch.TreatMissingData.IGNORE,
                )

    def _grant(
        self,
        *,
        artifacts_bucket: s3.IBucket,
        data_bucket: s3.IBucket,
        data_prefix: str,
        endpoint_arn: str,
        model_parameter_arn: str,
    ) -> None:
        role = self.function.role
        artifacts_read = [artifacts_bucket.arn_for_objects(f"{p}*") for p in _READ_PREFIXES]
        artifacts_write = [
            artifacts_bucket.arn_for_objects(f"{p}*") for p in (_SAGEMAKER_BASELINES, DRIFT_PREFIX)
        ]
        data_objects = data_bucket.arn_for_objects(f"{data_prefix}*")
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=artifacts_read),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=artifacts_write),
            # Without it S3 answers 403 instead of 404 for a baseline that does not exist.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in _READ_PREFIXES]}},
            ),
            # A SageMaker baseline is built from the training channels.
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[data_objects]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{data_prefix}*"]}},
            ),
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=[endpoint_arn]),
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[model_parameter_arn]),
            # GetMetricData has no resource type: it is granted on "*" or not at all.
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"]),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge_prefix_wildcards(
            self.function,
            artifacts_bucket,
            sorted(_READ_PREFIXES),
            "Reads the baselines of versions named when trained, writes drift reports named by "
            "window and SageMaker baselines named by training job.",
        )
        acknowledge_prefix_wildcards(
            self.function,
            data_bucket,
            [data_prefix],
            "Reads the SageMaker training channels (lists and image sizes) to build a baseline.",
        )
        acknowledge_resources(
            self.function, ["*"], "cloudwatch:GetMetricData has no resource type to scope to."
        )

    # -- metrics and widgets ------------------------------------------------------------------

    def figure_metric(self, pipeline: str, figure: str) -> cloudwatch.Metric:
        """The evaluator's metric of one figure of one pipeline (the latest run's value)."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=contract.FIGURES[figure],
            dimensions_map=_dimensions(pipeline),
            statistic="Maximum",
            period=Duration.hours(1),
            label=contract.FIGURE_TITLES[figure],
        )

    def panel(self) -> Panel:
        """The "Drift" rows of the detailed dashboard: per pipeline, the figures, the window size
        and the live label shares (a SEARCH over the live per-label counts)."""
        rows: list[list[cloudwatch.IWidget]] = []
        for pipeline in contract.PIPELINES:
            title = contract.PIPELINE_TITLES[pipeline]
            labels = search(
                self.namespace, DRIFT_PREDICTIONS, pipeline, None, LABEL_DIMENSION, 3600
            )
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{title}: drift figures",
                        width=_WIDTH,
                        height=_HEIGHT,
                        left=[self.figure_metric(pipeline, figure) for figure in contract.FIGURES],
                        left_y_axis=cloudwatch.YAxisProps(min=-1, max=1),
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(value=0, label="no change")
                        ],
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{title}: images per drift window",
                        width=_WIDTH,
                        height=_HEIGHT,
                        left=[
                            cloudwatch.Metric(
                                namespace=self.namespace,
                                metric_name=DRIFT_WINDOW_IMAGES,
                                dimensions_map=_dimensions(pipeline),
                                statistic="Maximum",
                                period=Duration.hours(1),
                                label="images in the window",
                            )
                        ],
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{title}: predictions per label (hourly)",
                        width=_WIDTH,
                        height=_HEIGHT,
                        stacked=True,
                        left=[
                            cloudwatch.MathExpression(
                                expression=labels,
                                using_metrics={},
                                label="",
                                period=Duration.hours(1),
                            )
                        ],
                    ),
                ]
            )
        return Panel("Drift (README > Drift: what each figure means)", detail=rows)


def drift_evaluator_of(stack: Stack) -> DriftEvaluator | None:
    """The stack's drift evaluator, if it has one (for tests and the dashboard)."""
    found = [node for node in stack.node.find_all() if isinstance(node, DriftEvaluator)]
    return found[0] if found else None

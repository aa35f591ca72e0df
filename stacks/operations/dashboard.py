"""One CloudWatch dashboard per environment: both pipelines' health on one screen.

Every metric comes from the construct that publishes it (``consumer_metric``,
``classification_metric``, ``endpoint_metric``, the state machines' and functions' own metric
methods, the searches the pipeline constructs spell); no metric name or dimension is typed here.
A Lambda-backed custom widget shows the latest evaluated Rekognition model version: its
confusion-matrix heat map and gate verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contracts.metrics import (
    DETECT_LATENCY,
    IMAGES_CLASSIFIED,
    IMAGES_PROCESSED,
    LOW_CONFIDENCE,
    MODEL_RUNNING,
    QUEUE_WAITING,
    label_metric,
)
from stacks.building_blocks.iam import acknowledge_prefix_wildcards, grant_objects
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.operations.alarms import ratio_expression
from stacks.pipelines.rekognition_inference import RekognitionInference, backlog_alarm_minutes
from stacks.pipelines.rekognition_training import RekognitionTraining
from stacks.pipelines.sagemaker_inference import SageMakerInference
from stacks.pipelines.sagemaker_training import SageMakerTraining

FULL, HALF, THIRD, QUARTER = 24, 12, 8, 6
HEIGHT = 6
#: The evaluation widget's width in dashboard columns; ``tests/browser`` renders its HTML at the
#: pixels this gives on common screens.
EVALUATION_WIDGET_WIDTH = QUARTER
FIVE_MINUTES = Duration.minutes(5)
WIDGET_SERVICE = "evaluation-widget"


@dataclass(frozen=True)
class DashboardSources:
    """What the dashboard shows, as the pipeline constructs expose it."""

    training: RekognitionTraining
    inference: RekognitionInference
    sagemaker_inference: SageMakerInference
    sagemaker_training: SageMakerTraining
    functions: Mapping[str, PythonFunction]
    widget_function: PythonFunction
    dead_letter_queues: Mapping[str, sqs.IQueue]
    alarms: Sequence[cloudwatch.IAlarm]
    data_bucket_name: str
    artifacts_bucket: s3.IBucket


class EvaluationWidgetFunction(Construct):
    """The function behind the dashboard's evaluation widget; reads only the project's reports."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        training: RekognitionTraining,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        artifacts_bucket = training.artifacts_bucket
        reports_prefix = training.reports_prefix
        self.function = PythonFunction(
            self,
            "Renderer",
            handler="evaluation_widget.handler.lambda_handler",
            description="Renders the latest model evaluation (heat map, gate) on the dashboard",
            memory_size=512,
            timeout=Duration.seconds(30),
            invocation=Invocation.SYNCHRONOUS,
            service_name=WIDGET_SERVICE,
            **defaults.kwargs(),
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "PROJECT_NAME": training.project_name,
                "REPORTS_PREFIX": reports_prefix,
                "ENVIRONMENT_NAME": training.environment_name,
            },
        )
        grant_objects(
            self.function.role,
            artifacts_bucket,
            reports_prefix,
            ["s3:GetObject"],
            list_bucket=True,
        )
        defaults.encryption_key.grant_decrypt(self.function.role)
        acknowledge_prefix_wildcards(
            self.function,
            artifacts_bucket,
            [reports_prefix],
            "Reads the evaluation reports of the project's versions, named when trained.",
        )


class OperationsDashboard(Construct):
    """The dashboard, built from the pipeline constructs' own metrics."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        environment_name: str,
        sources: DashboardSources,
        runbook_url: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._sources = sources
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(24),
        )
        self.dashboard.add_widgets(self._links(environment_name, runbook_url))
        if sources.alarms:
            self.dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Alarms", alarms=list(sources.alarms), width=FULL, height=4
                )
            )
        self._training_row()
        self._inference_rows()
        self._sagemaker_rows()
        self._lambda_rows()

    # -- rows -------------------------------------------------------------------------------

    def _training_row(self) -> None:
        training = self._sources.training
        self.dashboard.add_widgets(header("Rekognition training"))
        self.dashboard.add_widgets(
            executions_widget("Training executions", [training.workflow], width=QUARTER),
            cloudwatch.GraphWidget(
                title="Training duration (minutes)",
                width=QUARTER,
                height=HEIGHT,
                left=[
                    cloudwatch.MathExpression(
                        expression="time / 60000",
                        using_metrics={
                            "time": training.state_machine.metric_time(
                                period=Duration.hours(1), statistic="Maximum"
                            )
                        },
                        label="longest run",
                        period=Duration.hours(1),
                    )
                ],
            ),
            cloudwatch.GraphWidget(
                title="Latest evaluation per label (F1, recall)",
                width=QUARTER,
                height=HEIGHT,
                view=cloudwatch.GraphWidgetView.BAR,
                period=Duration.days(30),
                left=[
                    cloudwatch.MathExpression(
                        expression=training.label_metric_search(name),
                        label=name,
                        period=Duration.days(1),
                    )
                    for name in (label_metric("f1"), label_metric("recall"))
                ],
            ),
            cloudwatch.CustomWidget(
                function_arn=self._sources.widget_function.function.function_arn,
                title="Latest model version: confusion matrix and gate",
                width=EVALUATION_WIDGET_WIDTH,
                height=HEIGHT * 2,
                update_on_refresh=True,
                update_on_resize=False,
                update_on_time_range_change=False,
                params={"project": training.project_name},
            ),
        )

    def _inference_rows(self) -> None:
        inference = self._sources.inference
        queue, dead_letter = inference.work.queue, inference.work.dead_letter.queue
        processed = inference.consumer_metric(IMAGES_PROCESSED)
        low = inference.consumer_metric(LOW_CONFIDENCE)
        self.dashboard.add_widgets(header("Rekognition inference"))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                width=QUARTER,
                height=HEIGHT,
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label="waiting"
                    ),
                    queue.metric_approximate_number_of_messages_not_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label="in flight"
                    ),
                    dead_letter.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label="dead-letter queue"
                    ),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Oldest waiting image (seconds)",
                width=QUARTER,
                height=HEIGHT,
                left=[
                    queue.metric_approximate_age_of_oldest_message(
                        period=FIVE_MINUTES, statistic="Maximum", label="age"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=backlog_alarm_minutes(inference.config) * 60, label="alarm"
                    )
                ],
            ),
            cloudwatch.GraphWidget(
                title="Images processed, errors by reason",
                width=QUARTER,
                height=HEIGHT,
                left=[processed.with_(label="processed")],
                right=[
                    cloudwatch.MathExpression(
                        expression=inference.errors_by_reason_search(),
                        label="errors",
                        period=FIVE_MINUTES,
                    )
                ],
            ),
            cloudwatch.GraphWidget(
                title="Low-confidence ratio",
                width=QUARTER,
                height=HEIGHT,
                left=[
                    cloudwatch.MathExpression(
                        expression=ratio_expression(
                            {"low": low}, {"processed": processed}, min_images=1
                        ),
                        using_metrics={"low": low, "processed": processed},
                        label="share below the review threshold",
                        period=FIVE_MINUTES,
                    )
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DetectCustomLabels latency (ms)",
                width=THIRD,
                height=HEIGHT,
                left=[
                    inference.consumer_metric(DETECT_LATENCY, statistic=statistic).with_(
                        label=statistic
                    )
                    for statistic in ("p50", "p99")
                ],
            ),
            cloudwatch.GraphWidget(
                title="Model running (1 = RUNNING) and images waiting",
                width=THIRD,
                height=HEIGHT,
                left=[inference.controller_metric(MODEL_RUNNING).with_(label="running")],
                right=[inference.controller_metric(QUEUE_WAITING).with_(label="waiting")],
            ),
            cloudwatch.GraphWidget(
                title="Inference units in service",
                width=THIRD,
                height=HEIGHT,
                left=[
                    cloudwatch.MathExpression(
                        expression=inference.inference_units_search(),
                        label="inference units",
                        period=FIVE_MINUTES,
                    )
                ],
            ),
        )

    def _sagemaker_rows(self) -> None:
        sagemaker, training = self._sources.sagemaker_inference, self._sources.sagemaker_training
        workflows = [*sagemaker.workflows(), training.workflow]
        low = sagemaker.classification_metrics(LOW_CONFIDENCE)
        total = sagemaker.classification_metrics(IMAGES_CLASSIFIED)
        self.dashboard.add_widgets(header("SageMaker"))
        self.dashboard.add_widgets(
            executions_widget("Workflow executions", workflows, width=THIRD, detail=False),
            cloudwatch.GraphWidget(
                title="Low-confidence ratio",
                width=THIRD,
                height=HEIGHT,
                left=[
                    cloudwatch.MathExpression(
                        expression=ratio_expression(low, total, min_images=1),
                        using_metrics={**low, **total},
                        label="share below the confidence threshold",
                        period=FIVE_MINUTES,
                    )
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
            ),
            cloudwatch.GraphWidget(
                title="Endpoint invocations and errors",
                width=THIRD,
                height=HEIGHT,
                left=[training.endpoint_metric("Invocations").with_(label="invocations")],
                right=[
                    training.endpoint_metric(name).with_(label=label)
                    for name, label in (
                        ("Invocation4XXErrors", "4XX"),
                        ("Invocation5XXErrors", "5XX"),
                    )
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Endpoint model latency (microseconds)",
                width=HALF,
                height=HEIGHT,
                left=[
                    training.endpoint_metric("ModelLatency", statistic).with_(label=statistic)
                    for statistic in ("p50", "p99")
                ],
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues (messages)",
                width=HALF,
                height=HEIGHT,
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label=name
                    )
                    for name, queue in self._sources.dead_letter_queues.items()
                ],
            ),
        )

    def _lambda_rows(self) -> None:
        functions = self._sources.functions
        self.dashboard.add_widgets(header("Lambda functions"))

        def graph(title: str, metric: str, statistic: str) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                width=QUARTER if metric != "ConcurrentExecutions" else FULL,
                height=HEIGHT,
                left=[
                    function.function.metric(
                        metric, period=FIVE_MINUTES, statistic=statistic, label=name
                    )
                    for name, function in functions.items()
                ],
                legend_position=cloudwatch.LegendPosition.BOTTOM,
            )

        self.dashboard.add_widgets(
            graph("Invocations", "Invocations", "Sum"),
            graph("Errors", "Errors", "Sum"),
            graph("Throttles", "Throttles", "Sum"),
            graph("Duration p99 (ms)", "Duration", "p99"),
        )
        self.dashboard.add_widgets(
            graph("Concurrent executions", "ConcurrentExecutions", "Maximum")
        )

    # -- pieces -----------------------------------------------------------------------------

    def _links(self, environment_name: str, runbook_url: str | None) -> cloudwatch.TextWidget:
        sources = self._sources
        region = Aws.REGION
        workflows = [
            sources.training.workflow,
            *sources.sagemaker_inference.workflows(),
            sources.sagemaker_training.workflow,
        ]
        machines = " · ".join(
            f"[{workflow.workflow_name}](https://{region}.console.aws.amazon.com/states/home"
            f"?region={region}#/statemachines/view/{workflow.state_machine.state_machine_arn})"
            for workflow in workflows
        )
        queues = " · ".join(
            f"[{name}]({queue_console_url(queue)})"
            for name, queue in {
                "inference queue": sources.inference.work.queue,
                **sources.dead_letter_queues,
            }.items()
        )
        buckets = " · ".join(
            f"[{purpose}](https://s3.console.aws.amazon.com/s3/buckets/{name}?region={region})"
            for purpose, name in (
                ("data", sources.data_bucket_name),
                ("artifacts", sources.artifacts_bucket.bucket_name),
            )
        )
        runbook = (
            f"[Runbooks]({runbook_url})"
            if runbook_url
            else "Runbooks: README.md, section *Runbooks* (one per alarm)"
        )
        return cloudwatch.TextWidget(
            markdown=(
                f"# Image classification — {environment_name}\n"
                f"**Workflows:** {machines}  \n"
                f"**Queues:** {queues}  \n"
                f"**Buckets:** {buckets}  \n"
                f"**{runbook}** · every alarm's description names its runbook section."
            ),
            width=FULL,
            height=5,
        )


def header(title: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(markdown=f"## {title}", width=FULL, height=1)


def executions_widget(
    title: str, workflows: Sequence[Workflow], *, width: int, detail: bool = True
) -> cloudwatch.GraphWidget:
    """Started/succeeded/failed/timed-out executions (one workflow), or started and failed for
    each of several."""
    metrics: list[cloudwatch.IMetric] = []
    for workflow in workflows:
        machine = workflow.state_machine
        prefix = "" if len(workflows) == 1 else f"{workflow.workflow_name}: "
        metrics += [
            machine.metric_started(period=FIVE_MINUTES, statistic="Sum", label=f"{prefix}started"),
            machine.metric_failed(period=FIVE_MINUTES, statistic="Sum", label=f"{prefix}failed"),
        ]
        if detail:
            metrics += [
                machine.metric_succeeded(
                    period=FIVE_MINUTES, statistic="Sum", label=f"{prefix}succeeded"
                ),
                machine.metric_timed_out(
                    period=FIVE_MINUTES, statistic="Sum", label=f"{prefix}timed out"
                ),
            ]
    return cloudwatch.GraphWidget(
        title=title,
        width=width,
        height=HEIGHT,
        left=metrics,
        legend_position=cloudwatch.LegendPosition.BOTTOM,
    )


def queue_console_url(queue: sqs.IQueue) -> str:
    """SQS console page of a queue (its URL, percent-encoded, is the page's address)."""
    region, account = Aws.REGION, Aws.ACCOUNT_ID
    return (
        f"https://{region}.console.aws.amazon.com/sqs/v3/home?region={region}#/queues/"
        f"https%3A%2F%2Fsqs.{region}.amazonaws.com%2F{account}%2F{queue.queue_name}"
    )

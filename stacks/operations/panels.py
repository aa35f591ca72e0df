"""What each pipeline shows on the two dashboards: a :class:`Panel` per pipeline.

A panel is the extension point of the dashboards. ``health`` is the pipeline's one row of
numbers on the overview (:data:`HEALTH_HEIGHT` high, 24 columns wide: healthy or not at a
glance); ``detail`` is its rows on the detailed dashboard (each row 24 columns wide, one height,
so the dashboard has no gaps). Both dashboards are built from the list of panels in
``stacks/monitoring_stack.py``; to show something new, add widgets to a panel's rows here (or a
new :class:`Panel`), and the layout checks (:func:`check_row`) and the dashboard tests (height,
every metric and alarm referenced exists) cover it.

Every metric comes from the construct that publishes it (``consumer_metric``,
``controller_metric``, ``classification_metric``, ``endpoint_metric``, the state machines' and
functions' own metric methods, the searches the pipeline constructs spell); no metric name or
dimension is typed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

from contracts.metrics import (
    CAPACITY_UPDATE_FAILURES,
    DETECT_LATENCY,
    IMAGES_CLASSIFIED,
    IMAGES_PROCESSED,
    INFERENCE_UNITS_SERVING,
    LOW_CONFIDENCE,
    MODEL_RUNNING,
    QUEUE_WAITING,
    SAGEMAKER_INVOCATION_4XX_ERRORS,
    SAGEMAKER_INVOCATION_5XX_ERRORS,
    SAGEMAKER_INVOCATIONS,
    SAGEMAKER_INVOCATIONS_PER_INSTANCE,
    SAGEMAKER_MODEL_LATENCY,
)
from contracts.quality_gate import ACCURACY, F1_MACRO
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.operations.alarms import ratio_expression
from stacks.pipelines.rekognition_inference import RekognitionInference, backlog_alarm_minutes
from stacks.pipelines.rekognition_training import INFERENCE_UNIT_HOUR_USD, RekognitionTraining
from stacks.pipelines.sagemaker_inference import SageMakerInference
from stacks.pipelines.sagemaker_training import SageMakerTraining

FULL, HALF, THIRD, QUARTER = 24, 12, 8, 6
HEIGHT = 6
HEALTH_HEIGHT = 3
#: The evaluation widget's width in dashboard columns; ``tests/browser`` renders its HTML at the
#: pixels this gives on common screens.
EVALUATION_WIDGET_WIDTH = QUARTER
FIVE_MINUTES = Duration.minutes(5)
ONE_HOUR = Duration.hours(1)


@dataclass
class Panel:
    """One pipeline's widgets: a row of health numbers, and the rows of the detailed view."""

    title: str
    health: list[cloudwatch.IWidget] = field(default_factory=list)
    detail: list[list[cloudwatch.IWidget]] = field(default_factory=list)


def check_row(where: str, widgets: Sequence[cloudwatch.IWidget], height: int | None = None) -> None:
    """A row fills the 24 columns with widgets of one height (else the dashboard has a gap)."""
    width = sum(widget.width for widget in widgets)
    heights = {widget.height for widget in widgets}
    if width != FULL or len(heights) != 1 or (height is not None and heights != {height}):
        raise ValueError(
            f"dashboard row {where}: widths {[w.width for w in widgets]} (must add up to "
            f"{FULL}), heights {sorted(heights)}" + (f" (must be {height})" if height else "")
        )


def header(title: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(markdown=f"## {title}", width=FULL, height=1)


def numbers(
    title: str, metrics: Sequence[cloudwatch.IMetric], *, width: int, whole_range: bool = False
) -> cloudwatch.SingleValueWidget:
    """A health number widget; ``whole_range``: one value over the dashboard's time range."""
    return cloudwatch.SingleValueWidget(
        title=title,
        metrics=list(metrics),
        width=width,
        height=HEALTH_HEIGHT,
        set_period_to_time_range=whole_range,
    )


def executions_widget(
    title: str,
    workflows: Sequence[Workflow],
    *,
    width: int,
    height: int = HEIGHT,
    detail: bool = True,
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
        height=height,
        left=metrics,
        legend_position=cloudwatch.LegendPosition.BOTTOM,
    )


def run_counts(workflows: Sequence[Workflow], label: str) -> list[cloudwatch.IMetric]:
    """Succeeded and failed runs of ``workflows``, added up (one number each)."""
    result: list[cloudwatch.IMetric] = []
    for outcome in ("succeeded", "failed"):
        metrics = {
            f"{outcome[0]}{index}": (
                workflow.state_machine.metric_succeeded(period=FIVE_MINUTES, statistic="Sum")
                if outcome == "succeeded"
                else workflow.state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")
            )
            for index, workflow in enumerate(workflows)
        }
        result.append(
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in metrics),
                using_metrics=metrics,
                label=f"{label} {outcome}",
                period=FIVE_MINUTES,
            )
        )
    return result


# -- the pipelines --------------------------------------------------------------------------


def rekognition_training_panel(
    training: RekognitionTraining, verdict: cloudwatch.IWidget, evaluation: cloudwatch.IWidget
) -> Panel:
    """Runs, the last evaluation's verdict (``verdict``: the evaluation widget's compact view),
    and on the detailed view the full evaluation widget beside the runs and per-version figures."""
    workflow = training.workflow
    health = [
        numbers(
            "Rekognition training runs",
            run_counts([workflow], "runs"),
            width=THIRD,
            whole_range=True,
        ),
        verdict,
    ]
    evaluated = [
        cloudwatch.GraphWidget(
            title=f"Evaluated versions, 30 days: {name}",
            width=9,
            height=HEIGHT,
            start="-P30D",
            view=cloudwatch.GraphWidgetView.BAR,
            left=[
                cloudwatch.MathExpression(
                    expression=training.version_metric_search(name),
                    label=name,
                    period=Duration.days(1),
                )
            ],
        )
        for name in (F1_MACRO, ACCURACY)
    ]
    duration = cloudwatch.GraphWidget(
        title="Training duration (minutes)",
        width=9,
        height=HEIGHT,
        left=[
            cloudwatch.MathExpression(
                expression="time / 60000",
                using_metrics={
                    "time": training.state_machine.metric_time(period=ONE_HOUR, statistic="Maximum")
                },
                label="longest run",
                period=ONE_HOUR,
            )
        ],
    )
    detail = [
        [
            cloudwatch.Column(
                executions_widget("Training executions", [workflow], width=9), duration
            ),
            evaluation,
            cloudwatch.Column(*evaluated),
        ]
    ]
    return Panel("Rekognition training", health=health, detail=detail)


def rekognition_inference_panel(inference: RekognitionInference) -> Panel:
    """Backlog, model and its cost, images and capacity; the queue and controller in detail."""
    queue, dead_letter = inference.work.queue, inference.work.dead_letter.queue
    processed = inference.consumer_metric(IMAGES_PROCESSED)
    low = inference.consumer_metric(LOW_CONFIDENCE)
    units = inference.controller_metric(INFERENCE_UNITS_SERVING, "Average")
    capacity_failures = inference.controller_metric(CAPACITY_UPDATE_FAILURES, "Maximum")
    waiting = queue.metric_approximate_number_of_messages_visible(
        period=FIVE_MINUTES, statistic="Maximum", label="images waiting"
    )
    oldest = queue.metric_approximate_age_of_oldest_message(
        period=FIVE_MINUTES, statistic="Maximum", label="oldest (s)"
    )
    low_share = cloudwatch.MathExpression(
        expression=ratio_expression({"low": low}, {"processed": processed}, min_images=1),
        using_metrics={"low": low, "processed": processed},
        label="low-confidence share",
        period=FIVE_MINUTES,
    )
    cost = cloudwatch.MathExpression(
        # Average units over the period x its hours x the price: the model's cost in the range.
        expression=f"FILL(units, 0) * PERIOD(units) / 3600 * {INFERENCE_UNIT_HOUR_USD}",
        using_metrics={"units": units},
        label=f"cost in range (USD, ${INFERENCE_UNIT_HOUR_USD}/unit-hour)",
        period=FIVE_MINUTES,
    )
    health: list[cloudwatch.IWidget] = [
        numbers("Rekognition backlog", [waiting, oldest], width=QUARTER),
        numbers(
            "Rekognition model",
            [
                inference.controller_metric(MODEL_RUNNING).with_(label="running (1 = yes)"),
                units.with_(label="inference units"),
            ],
            width=QUARTER,
        ),
        numbers("Rekognition model cost", [cost], width=QUARTER, whole_range=True),
        numbers(
            "Rekognition images",
            [processed.with_(label="classified"), capacity_failures.with_(label="capacity fails")],
            width=QUARTER,
            whole_range=True,
        ),
    ]
    first = [
        cloudwatch.GraphWidget(
            title="Queue depth",
            width=QUARTER,
            height=HEIGHT,
            left=[
                waiting.with_(label="waiting"),
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
            left=[oldest.with_(label="age")],
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
            left=[low_share.with_(label="share below the review threshold")],
            left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
        ),
    ]
    second = [
        cloudwatch.GraphWidget(
            title="DetectCustomLabels latency (ms)",
            width=QUARTER,
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
            width=QUARTER,
            height=HEIGHT,
            left=[inference.controller_metric(MODEL_RUNNING).with_(label="running")],
            right=[inference.controller_metric(QUEUE_WAITING).with_(label="waiting")],
        ),
        cloudwatch.GraphWidget(
            title="Inference units: in service, consumers sized for",
            width=QUARTER,
            height=HEIGHT,
            left=[
                cloudwatch.MathExpression(
                    expression=inference.inference_units_search(),
                    label="in service (Rekognition)",
                    period=FIVE_MINUTES,
                ),
                units.with_(label="consumers sized for (controller)"),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Capacity update failures (controller)",
            width=QUARTER,
            height=HEIGHT,
            left=[capacity_failures.with_(label="failed updates per run")],
        ),
    ]
    return Panel("Rekognition inference", health=health, detail=[first, second])


def sagemaker_panel(
    sagemaker: SageMakerInference,
    training: SageMakerTraining,
    dead_letter_queues: Mapping[str, sqs.IQueue],
) -> Panel:
    """Runs, endpoint (instances from its traffic, 5XX, latency) and drift; training runs."""
    low = sagemaker.classification_metrics(LOW_CONFIDENCE)
    total = sagemaker.classification_metrics(IMAGES_CLASSIFIED)
    invocations = training.endpoint_metric(SAGEMAKER_INVOCATIONS)
    per_instance = training.endpoint_metric(SAGEMAKER_INVOCATIONS_PER_INSTANCE)
    instances = cloudwatch.MathExpression(
        # SageMaker publishes no instance count; invocations / invocations per instance is it
        # while there is traffic (0 without: `ops status` reads the endpoint itself).
        expression="IF(FILL(ipi, 0) > 0, FILL(inv, 0) / ipi, 0)",
        using_metrics={"inv": invocations, "ipi": per_instance},
        label="instances (from traffic)",
        period=FIVE_MINUTES,
    )
    latency = cloudwatch.MathExpression(
        expression="latency / 1000",
        using_metrics={"latency": training.endpoint_metric(SAGEMAKER_MODEL_LATENCY, "p50")},
        label="latency p50 (ms)",
        period=FIVE_MINUTES,
    )
    low_share = cloudwatch.MathExpression(
        expression=ratio_expression(low, total, min_images=1),
        using_metrics={**low, **total},
        label="low-confidence share",
        period=FIVE_MINUTES,
    )
    health: list[cloudwatch.IWidget] = [
        numbers(
            "SageMaker classification runs",
            run_counts(sagemaker.workflows(), "runs"),
            width=QUARTER,
            whole_range=True,
        ),
        numbers(
            "SageMaker endpoint",
            [
                instances,
                training.endpoint_metric(SAGEMAKER_INVOCATION_5XX_ERRORS).with_(label="5XX"),
                latency,
            ],
            width=9,
        ),
        numbers("SageMaker drift", [low_share], width=3),
        numbers(
            "SageMaker training runs",
            run_counts([training.workflow], "runs"),
            width=QUARTER,
            whole_range=True,
        ),
    ]
    first = [
        executions_widget(
            "Workflow executions",
            [*sagemaker.workflows(), training.workflow],
            width=THIRD,
            detail=False,
        ),
        cloudwatch.GraphWidget(
            title="Low-confidence ratio",
            width=THIRD,
            height=HEIGHT,
            left=[low_share.with_(label="share below the confidence threshold")],
            left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
        ),
        cloudwatch.GraphWidget(
            title="Endpoint invocations and errors",
            width=THIRD,
            height=HEIGHT,
            left=[invocations.with_(label="invocations")],
            right=[
                training.endpoint_metric(name).with_(label=label)
                for name, label in (
                    (SAGEMAKER_INVOCATION_4XX_ERRORS, "4XX"),
                    (SAGEMAKER_INVOCATION_5XX_ERRORS, "5XX"),
                )
            ],
        ),
    ]
    second = [
        cloudwatch.GraphWidget(
            title="Endpoint model latency (microseconds)",
            width=THIRD,
            height=HEIGHT,
            left=[
                training.endpoint_metric(SAGEMAKER_MODEL_LATENCY, statistic).with_(label=statistic)
                for statistic in ("p50", "p99")
            ],
        ),
        cloudwatch.GraphWidget(
            title="Endpoint instances (from traffic)",
            width=THIRD,
            height=HEIGHT,
            left=[instances],
        ),
        cloudwatch.GraphWidget(
            title="Dead-letter queues (messages)",
            width=THIRD,
            height=HEIGHT,
            left=[
                queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label=name
                )
                for name, queue in dead_letter_queues.items()
            ],
        ),
    ]
    return Panel("SageMaker", health=health, detail=[first, second])


def functions_panel(functions: Mapping[str, PythonFunction]) -> Panel:
    """Every function's invocations, errors, throttles, duration and concurrency (detail only)."""

    def graph(title: str, metric: str, statistic: str, width: int) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            width=width,
            height=HEIGHT,
            left=[
                function.function.metric(
                    metric, period=FIVE_MINUTES, statistic=statistic, label=name
                )
                for name, function in functions.items()
            ],
            legend_position=cloudwatch.LegendPosition.BOTTOM,
        )

    return Panel(
        "Lambda functions",
        detail=[
            [
                graph("Invocations", "Invocations", "Sum", QUARTER),
                graph("Errors", "Errors", "Sum", QUARTER),
                graph("Throttles", "Throttles", "Sum", QUARTER),
                graph("Duration p99 (ms)", "Duration", "p99", QUARTER),
            ],
            [graph("Concurrent executions", "ConcurrentExecutions", "Maximum", FULL)],
        ],
    )

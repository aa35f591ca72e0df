"""The alarms operations adds on top of the ones each pipeline construct raises itself.

The pipelines alarm on what only they understand (a dead-letter queue's first message, an old
inference backlog, a model needing a person, the consumers' capacity). This construct watches what
every pipeline has in common and what needs thresholds from ``operations`` in the config:

- each workflow: runs failed, timed out, throttled;
- each function: errors (the evaluation function's with its own runbook);
- the SageMaker endpoint: 5XX errors;
- the low-confidence ratio of each pipeline (the drift signal), once enough images were seen;
- a Rekognition model RUNNING without work for longer than it should (the cost alarm);
- composite alarms where several alarms mean one problem (:data:`COMPOSITES`): the composite is
  notified, its children are not (:attr:`OperationalAlarms.quiet_names`).

Every alarm goes through :mod:`stacks.building_blocks.alarms`: ``<prefix>-<env>-<pipeline>-<what>``,
a description ending in its runbook; the notifier's own alarms take the direct route.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.building_blocks.alarms import AlarmScope, alarm, alarm_name_of, composite_alarm
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.config import OperationsConfig
from stacks.runbooks import Runbook

FIVE_MINUTES = Duration.minutes(5)


def pascal(text: str) -> str:
    """``SageMaker classify image (sync)`` -> ``SageMakerClassifyImageSync`` (construct ids)."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", text))


def ratio_expression(
    low: Mapping[str, cloudwatch.IMetric],
    total: Mapping[str, cloudwatch.IMetric],
    min_images: int,
) -> str:
    """Low-confidence share of the images seen, or 0 below ``min_images`` (no verdict yet)."""
    low_sum = " + ".join(f"FILL({name}, 0)" for name in low)
    total_sum = " + ".join(f"FILL({name}, 0)" for name in total)
    return f"IF(({total_sum}) >= {min_images}, ({low_sum}) / ({total_sum}), 0)"


@dataclass(frozen=True)
class WatchedWorkflow:
    """A workflow and the alarm name segment it is known by (``classify-image``; empty when the
    workflow is its pipeline's only one, e.g. Rekognition training)."""

    scope: AlarmScope
    what: str
    workflow: Workflow
    expected_failures: cloudwatch.IMetric | None = None


@dataclass(frozen=True)
class WatchedFunction:
    """A function, its alarm name segment (``consumer``) and readable name."""

    scope: AlarmScope
    what: str
    title: str
    function: PythonFunction
    evaluation: bool = False


@dataclass(frozen=True)
class CompositeSpec:
    """One problem that several alarms detect: the composite's scope, name, runbook, and the
    full names of its children (alarms of this construct or of the pipelines)."""

    scope: AlarmScope
    what: str
    runbook: Runbook
    description: str
    children: tuple[str, ...]


class OperationalAlarms(Construct):
    """Alarms on workflows, functions, the endpoint, drift, idle cost; composites over them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: OperationsConfig,
        workflows: Sequence[WatchedWorkflow],
        functions: Sequence[WatchedFunction],
        endpoint: tuple[AlarmScope, cloudwatch.IMetric],
        low_confidence: Mapping[
            AlarmScope, tuple[Mapping[str, cloudwatch.IMetric], Mapping[str, cloudwatch.IMetric]]
        ],
        model_idle: tuple[AlarmScope, Mapping[str, cloudwatch.IMetric]],
        composites: Sequence[CompositeSpec] = (),
        pipeline_alarms: Sequence[cloudwatch.Alarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.alarms: list[cloudwatch.Alarm] = []
        self.composites: list[cloudwatch.CompositeAlarm] = []
        #: Alarms a composite speaks for: not notified on their own.
        self.quiet_names: list[str] = []
        #: Alarms that notify the topic themselves (the notifier's own).
        self.direct_names: list[str] = []
        for watched in workflows:
            self._workflow_alarms(watched)
        for function in functions:
            self._function_alarm(function)
        endpoint_scope, endpoint_5xx = endpoint
        self._add(
            "EndpointServerErrors",
            alarms=endpoint_scope,
            what="endpoint-5xx",
            metric=endpoint_5xx,
            threshold=settings.endpoint_5xx_threshold,
            runbook=Runbook.ENDPOINT_5XX,
            description=(
                f"The SageMaker endpoint answered {settings.endpoint_5xx_threshold} or more 5XX "
                "errors within 5 minutes: the model container is failing or overloaded. Check "
                "the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/...) and instance "
                "metrics; roll back with a previous endpoint configuration if a deploy caused it."
            ),
        )
        for pipeline_scope, (low, total) in low_confidence.items():
            self._low_confidence_alarm(pipeline_scope, low, total)
        self._model_idle_alarm(*model_idle)
        by_name = {alarm_name_of(created): created for created in [*self.alarms, *pipeline_alarms]}
        for spec in composites:
            missing = [child for child in spec.children if child not in by_name]
            if missing:
                raise ValueError(
                    f"composite alarm {spec.what}: no alarm named {missing} in {sorted(by_name)}"
                )
            children = [by_name[child] for child in spec.children]
            self.composites.append(
                composite_alarm(
                    self,
                    pascal(f"{spec.scope.pipeline} {spec.what}"),
                    alarms=spec.scope,
                    what=spec.what,
                    children=children,
                    description=spec.description,
                    runbook=spec.runbook,
                )
            )
            self.quiet_names += [alarm_name_of(child) for child in children]

    # -- kinds of alarms --------------------------------------------------------------------

    def _workflow_alarms(self, watched: WatchedWorkflow) -> None:
        workflow, expected, scope = watched.workflow, watched.expected_failures, watched.scope
        machine, name = workflow.state_machine, workflow.workflow_name
        slug = pascal(name)
        runs = f"{watched.what}-runs" if watched.what else "runs"
        failed = machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")
        if expected is None:
            self._add(
                f"{slug}ExecutionsFailed",
                alarms=scope,
                what=f"{runs}-failed",
                metric=failed,
                threshold=1,
                runbook=Runbook.WORKFLOW_FAILED,
                description=(
                    f"A {name} execution failed. Its notification (subject '[...] {name} "
                    "FAILED') names the error and cause and links to the execution; fix the "
                    "cause and start a new execution."
                ),
            )
        else:
            # Low confidence ends a single-image run as failed by design: alarm on the others,
            # and only when they persist two periods (the two counts land a second apart).
            unexpected = cloudwatch.MathExpression(
                expression="IF(FILL(failed, 0) - FILL(expected, 0) > 0, "
                "FILL(failed, 0) - FILL(expected, 0), 0)",
                using_metrics={"failed": failed, "expected": expected},
                period=FIVE_MINUTES,
                label=f"{name}: failures other than low confidence",
            )
            self._add(
                f"{slug}ExecutionsFailed",
                alarms=scope,
                what=f"{runs}-failed",
                metric=unexpected,
                threshold=1,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                runbook=Runbook.WORKFLOW_FAILED,
                description=(
                    f"{name} executions keep failing for reasons other than low confidence "
                    "(two 5-minute periods in a row). Their notifications name the errors; "
                    "check the endpoint and the function logs."
                ),
            )
        self._add(
            f"{slug}ExecutionsTimedOut",
            alarms=scope,
            what=f"{runs}-timed-out",
            metric=machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            runbook=Runbook.WORKFLOW_TIMED_OUT,
            description=(
                f"A {name} execution ran past the state machine's timeout and was stopped "
                "where it was. Open it from the notification's console link, see which state "
                "it was in, and start it again once the slow step is understood."
            ),
        )
        self._add(
            f"{slug}ExecutionsThrottled",
            alarms=scope,
            what=f"{runs}-throttled",
            metric=machine.metric("ExecutionThrottled", period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            runbook=Runbook.WORKFLOW_THROTTLED,
            description=(
                f"Step Functions throttled {name} state transitions or starts: callers start "
                "more executions than the account's quota allows. Slow the callers down or "
                "request a quota increase (Service Quotas, AWS Step Functions)."
            ),
        )

    def _function_alarm(self, watched: WatchedFunction) -> None:
        function, name = watched.function, watched.title
        errors = function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum")
        if watched.evaluation:
            self._add(
                "EvaluationFunctionErrors",
                alarms=watched.scope,
                what=f"{watched.what}-errors",
                metric=errors,
                threshold=1,
                runbook=Runbook.EVALUATION_FAILED,
                description=(
                    "The evaluation function failed: a trained model version has no report, "
                    "no metrics on the dashboard and no gate verdict, so its training run "
                    "failed. Read the function's log group; the evaluation files Rekognition "
                    "wrote are under models/<project>/<version>/ of the artifacts bucket."
                ),
            )
            return
        threshold = self._settings.lambda_errors_threshold
        self._add(
            f"{pascal(name)}Errors",
            alarms=watched.scope,
            what=f"{watched.what}-errors",
            metric=errors,
            threshold=threshold,
            runbook=Runbook.LAMBDA_ERRORS,
            description=(
                f"Function {name} ({function.description}) raised {threshold} or more errors "
                "within 5 minutes. Read its log group (errors are logged as JSON with the "
                "request id); failed work is retried or parked in an alarmed dead-letter queue."
            ),
        )

    def _low_confidence_alarm(
        self,
        scope: AlarmScope,
        low: Mapping[str, cloudwatch.IMetric],
        total: Mapping[str, cloudwatch.IMetric],
    ) -> None:
        settings = self._settings
        pipeline = scope.pipeline_title
        window = Duration.minutes(settings.low_confidence_window_minutes)
        ratio = cloudwatch.MathExpression(
            expression=ratio_expression(low, total, settings.low_confidence_min_images),
            using_metrics={**low, **total},
            period=window,
            label=f"{pipeline}: low-confidence share",
        )
        self._add(
            f"{pascal(pipeline)}LowConfidenceRatio",
            alarms=scope,
            what="low-confidence-ratio",
            metric=ratio,
            threshold=settings.low_confidence_ratio,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            runbook=Runbook.LOW_CONFIDENCE,
            description=(
                f"More than {settings.low_confidence_ratio:.0%} of the images {pipeline} "
                f"classified in {settings.low_confidence_window_minutes} minutes (at least "
                f"{settings.low_confidence_min_images}) were below the confidence threshold: "
                "the inputs drifted from the training data, or a new model is worse. Look at "
                "the review records, then retrain with them or roll back the model."
            ),
        )

    def _model_idle_alarm(
        self, scope: AlarmScope, metrics: Mapping[str, cloudwatch.IMetric]
    ) -> None:
        minutes = self._settings.model_idle_alarm_minutes
        idle = cloudwatch.MathExpression(
            expression=(
                "IF(FILL(running, 0) >= 1 AND FILL(processed, 0) == 0 "
                "AND FILL(waiting, 0) == 0, 1, 0)"
            ),
            using_metrics=dict(metrics),
            period=Duration.minutes(1),
            label="Model running with no work",
        )
        self._add(
            "ModelIdleButRunning",
            alarms=scope,
            what="model-idle-but-running",
            metric=idle,
            threshold=1,
            evaluation_periods=minutes,
            datapoints_to_alarm=minutes,
            runbook=Runbook.MODEL_IDLE,
            description=(
                f"The Rekognition model has been RUNNING for {minutes} minutes with no image "
                "waiting or processed, and it bills every inference-unit hour. Stop it with "
                "`python -m ops model stop --env <env>` unless it is meant to run; check the "
                "model controller's mode and logs."
            ),
        )

    def _add(
        self,
        construct_id: str,
        *,
        alarms: AlarmScope,
        what: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        runbook: Runbook,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> None:
        created = alarm(
            self,
            construct_id,
            alarms=alarms,
            what=what,
            metric=metric,
            threshold=threshold,
            description=description,
            runbook=runbook,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison=comparison,
        )
        self.alarms.append(created)
        if alarms.direct_action is not None:
            self.direct_names.append(alarms.name(what))

"""Operations of one environment: dashboard, alarms and execution-status notifications.

Reads what the pipeline stacks expose (their workflows, functions, queues and metric helpers,
found in their construct trees) and depends on them; nothing depends on it, so it can be
redeployed on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts.metrics import (
    IMAGES_CLASSIFIED,
    IMAGES_PROCESSED,
    LOW_CONFIDENCE,
    MODEL_RUNNING,
    QUEUE_WAITING,
    SAGEMAKER_INVOCATION_5XX_ERRORS,
)
from contracts.outputs import DASHBOARD_URL, OVERVIEW_URL
from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.alarms import PIPELINES, AlarmScope, alarm_name_of, kebab
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.building_blocks.python_function import FunctionDefaults, PythonFunction
from stacks.building_blocks.queue import DeadLetterQueue
from stacks.building_blocks.state_machine import Workflow
from stacks.config import EnvironmentConfig
from stacks.operations.alarms import (
    OperationalAlarms,
    WatchedFunction,
    WatchedWorkflow,
    pascal,
)
from stacks.operations.composites import composites
from stacks.operations.dashboard import (
    DashboardLinks,
    EvaluationWidgetFunction,
    OperationsDashboards,
    evaluation_widgets,
)
from stacks.operations.drift import DriftEvaluator
from stacks.operations.drift_retraining import DriftRetraining
from stacks.operations.execution_notifications import ExecutionStatusNotifications
from stacks.operations.panels import (
    functions_panel,
    rekognition_inference_panel,
    rekognition_training_panel,
    sagemaker_panel,
)
from stacks.pipelines.rekognition_inference import RekognitionInference
from stacks.pipelines.rekognition_promotion import RekognitionPromotion
from stacks.pipelines.rekognition_training import RekognitionTraining
from stacks.pipelines.relabel import Relabel
from stacks.pipelines.sagemaker_inference import SageMakerInference
from stacks.pipelines.sagemaker_training import SageMakerTraining
from stacks.storage_stack import StorageStack, bucket_name

_ONE_MINUTE = Duration.minutes(1)
T = TypeVar("T")


def constructs_of(stacks: Sequence[Stack], kind: type[T]) -> list[T]:
    """Every construct of ``kind`` in ``stacks``, in tree order."""
    return [node for stack in stacks for node in stack.node.find_all() if isinstance(node, kind)]


def readable_path(node: Construct, environment_name: str) -> str:
    """``DevSageMaker/Inference/Validate`` -> ``SageMaker/Inference/Validate``: where a construct
    is, without the environment prefix every stack id has."""
    stack_id, *path = node.node.path.split("/")
    return "/".join([stack_id.removeprefix(environment_name.capitalize()), *path])


class MonitoringStack(Stack):
    """Dashboard, operational alarms and execution-status notifications of one environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        alerting: AlertingStack,
        pipelines: Sequence[Stack],
        training: RekognitionTraining,
        inference: RekognitionInference,
        sagemaker_inference: SageMakerInference,
        sagemaker_training: SageMakerTraining,
        relabel_state_machine: sfn.IStateMachine,
        network: NetworkPlacement | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        attach_placement(self, network)
        for pipeline in pipelines:
            self.add_stack_dependency(pipeline)
        shared = storage.shared_with(self)
        alerts = alerting.alerts
        defaults = FunctionDefaults.of(config, shared.key)

        prefix = config.resource_name_prefix
        scopes = {pipeline: AlarmScope(prefix=prefix, pipeline=pipeline) for pipeline in PIPELINES}
        owners: dict[str, Construct] = {
            "rekognition-training": training,
            "rekognition-inference": inference,
            "sagemaker-inference": sagemaker_inference,
            "sagemaker-training": sagemaker_training,
        }
        for promotion in constructs_of(pipelines, RekognitionPromotion):
            owners["rekognition-promotion"] = promotion
        for relabel in constructs_of(pipelines, Relabel):
            owners["relabel"] = relabel

        def owner_of(node: Construct) -> tuple[str, str]:
            """The pipeline a construct belongs to, and its path inside that pipeline."""
            for pipeline, owner in owners.items():
                if node.node.path.startswith(f"{owner.node.path}/"):
                    return pipeline, node.node.path.removeprefix(f"{owner.node.path}/")
            return "operations", readable_path(node, config.name).split("/", 1)[-1]

        workflows = constructs_of(pipelines, Workflow)
        self.notifications = ExecutionStatusNotifications(
            self,
            "ExecutionStatus",
            environment_name=config.name,
            workflows=workflows,
            alerts=alerts,
            defaults=defaults,
            alarm_scope=scopes["operations"],
        )
        self.evaluation_widget = EvaluationWidgetFunction(
            self, "EvaluationWidget", training=training, defaults=defaults
        )
        self.drift = DriftEvaluator(
            self,
            "Drift",
            config=config,
            defaults=defaults,
            artifacts_bucket=shared.artifacts_bucket,
            data_bucket=shared.data_bucket,
            alerts=alerts,
            endpoint_arn=sagemaker_training.endpoint_arn,
            model_parameter_arn=training.model_parameter_arn,
        )
        if config.drift.start_retraining:
            self.retraining = DriftRetraining(
                self,
                "DriftRetraining",
                resource_name_prefix=config.resource_name_prefix,
                drift_alarms=list(self.drift.alarms.values()),
                state_machine=relabel_state_machine,
                encryption_key=shared.key,
            )
        functions = {
            pascal(readable_path(function, config.name)): function
            for function in [
                *constructs_of(pipelines, PythonFunction),
                self.notifications.function,
                self.evaluation_widget.function,
                self.drift.function,
            ]
        }
        watched_functions = []
        for title, function in functions.items():
            pipeline, path = owner_of(function)
            alarm_scope = scopes[pipeline]
            if function is self.notifications.function:
                alarm_scope, path = alarm_scope.direct(alerts.alarm_action), "Notifier"
            elif function is self.evaluation_widget.function:
                path = "EvaluationWidget"
            watched_functions.append(
                WatchedFunction(
                    scope=alarm_scope,
                    what="evaluation" if function is training.evaluate_function else kebab(path),
                    title=title,
                    function=function,
                    evaluation=function is training.evaluate_function,
                )
            )
        expected_failures = {
            workflow: sagemaker_inference.classification_metric(LOW_CONFIDENCE, workflow)
            for workflow in (sagemaker_inference.single, sagemaker_inference.single_sync)
        }
        watched_workflows = []
        for workflow in workflows:
            pipeline, _ = owner_of(workflow)
            what = kebab(workflow.workflow_name)
            first_word = pipeline.split("-")[0]
            what = "" if what == pipeline else what.removeprefix(f"{first_word}-")
            watched_workflows.append(
                WatchedWorkflow(
                    scope=scopes[pipeline],
                    what=what,
                    workflow=workflow,
                    expected_failures=expected_failures.get(workflow),
                )
            )
        pipeline_alarms = [
            node
            for stack in [*pipelines, alerting]
            for node in stack.node.find_all()
            if isinstance(node, cloudwatch.Alarm)
        ]
        self.alarms = OperationalAlarms(
            self,
            "Alarms",
            settings=config.operations,
            workflows=watched_workflows,
            functions=watched_functions,
            endpoint=(
                scopes["sagemaker-inference"],
                sagemaker_training.endpoint_metric(SAGEMAKER_INVOCATION_5XX_ERRORS),
            ),
            low_confidence={
                scopes["rekognition-inference"]: (
                    {"low": inference.consumer_metric(LOW_CONFIDENCE)},
                    {"total": inference.consumer_metric(IMAGES_PROCESSED)},
                ),
                scopes["sagemaker-inference"]: (
                    sagemaker_inference.classification_metrics(LOW_CONFIDENCE),
                    sagemaker_inference.classification_metrics(IMAGES_CLASSIFIED),
                ),
            },
            model_idle=(
                scopes["rekognition-inference"],
                {
                    "running": inference.controller_metric(MODEL_RUNNING, "Minimum").with_(
                        period=_ONE_MINUTE
                    ),
                    "processed": inference.consumer_metric(IMAGES_PROCESSED).with_(
                        period=_ONE_MINUTE
                    ),
                    "waiting": inference.controller_metric(QUEUE_WAITING).with_(period=_ONE_MINUTE),
                },
            ),
            composites=composites(scopes),
            pipeline_alarms=pipeline_alarms,
        )
        assert self.notifications.function.dead_letter is not None
        direct = [
            alarm_name_of(self.notifications.function.dead_letter.alarm),
            *self.alarms.direct_names,
        ]
        # The retraining composite only starts the relabel workflow: its drift alarms notify.
        trigger_only = [self.retraining.alarm_name] if config.drift.start_retraining else []
        self.notifications.route_alarms([*direct, *self.alarms.quiet_names, *trigger_only])
        dead_letters: dict[str, sqs.IQueue] = {
            readable_path(queue, config.name): queue.queue
            for queue in constructs_of([*pipelines, alerting, self], DeadLetterQueue)
        }
        every_alarm: list[cloudwatch.IAlarm] = [
            *self.alarms.composites,
            *(
                node
                for stack in [*pipelines, alerting, self]
                for node in stack.node.find_all()
                if isinstance(node, cloudwatch.Alarm)
            ),
        ]
        full_evaluation, verdict = evaluation_widgets(
            self.evaluation_widget.function, training.project_name
        )
        #: The pipelines' widgets on both dashboards, in order (the extension point).
        self.panels = [
            rekognition_training_panel(training, verdict, full_evaluation),
            rekognition_inference_panel(inference),
            sagemaker_panel(sagemaker_inference, sagemaker_training, dead_letters),
            self.drift.panel(),
            functions_panel(functions),
        ]
        self.dashboards = OperationsDashboards(
            self,
            "Operations",
            environment_name=config.name,
            overview_name=config.overview_dashboard_name,
            detail_name=config.dashboard_name,
            panels=self.panels,
            alarms=every_alarm,
            links=DashboardLinks(
                workflows=workflows,
                queues={"inference queue": inference.work.queue, **dead_letters},
                data_bucket_name=bucket_name(config, self, "data"),
                artifacts_bucket=shared.artifacts_bucket,
                runbook_url=config.operations.runbook_url,
            ),
        )
        for output, name, description in (
            (OVERVIEW_URL, config.overview_dashboard_name, "The environment at a glance"),
            (DASHBOARD_URL, config.dashboard_name, "The environment's detailed dashboard"),
        ):
            CfnOutput(
                self,
                output,
                value=(
                    f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region="
                    f"{self.region}#dashboards/dashboard/{name}"
                ),
                description=description,
            )

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
from constructs import Construct

from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.building_blocks.python_function import FunctionDefaults, PythonFunction
from stacks.building_blocks.queue import DeadLetterQueue
from stacks.building_blocks.state_machine import Workflow
from stacks.config import EnvironmentConfig
from stacks.operations.alarms import OperationalAlarms, pascal
from stacks.operations.dashboard import (
    DashboardSources,
    EvaluationWidgetFunction,
    OperationsDashboard,
)
from stacks.operations.drift import DriftEvaluator
from stacks.operations.execution_notifications import ExecutionStatusNotifications
from stacks.pipelines.rekognition_inference import RekognitionInference
from stacks.pipelines.rekognition_training import RekognitionTraining
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

        workflows = constructs_of(pipelines, Workflow)
        self.notifications = ExecutionStatusNotifications(
            self,
            "ExecutionStatus",
            environment_name=config.name,
            workflows=workflows,
            alerts=alerts,
            defaults=defaults,
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
        functions = {
            pascal(readable_path(function, config.name)): function
            for function in [
                *constructs_of(pipelines, PythonFunction),
                self.notifications.function,
                self.evaluation_widget.function,
                self.drift.function,
            ]
        }
        expected_failures = {
            workflow: sagemaker_inference.classification_metric("LowConfidence", workflow)
            for workflow in (sagemaker_inference.single, sagemaker_inference.single_sync)
        }
        self.alarms = OperationalAlarms(
            self,
            "Alarms",
            settings=config.operations,
            action=alerts.alarm_action,
            workflows=workflows,
            functions=functions,
            evaluation_function=training.evaluate_function,
            expected_failures=expected_failures,
            endpoint_5xx=sagemaker_training.endpoint_metric("Invocation5XXErrors"),
            low_confidence={
                "Rekognition inference": (
                    {"low": inference.consumer_metric("LowConfidence")},
                    {"total": inference.consumer_metric("ImagesProcessed")},
                ),
                "SageMaker inference": (
                    sagemaker_inference.classification_metrics("LowConfidence"),
                    sagemaker_inference.classification_metrics("ImagesClassified"),
                ),
            },
            model_idle={
                "running": inference.controller_metric("ModelRunning", "Minimum").with_(
                    period=_ONE_MINUTE
                ),
                "processed": inference.consumer_metric("ImagesProcessed").with_(period=_ONE_MINUTE),
                "waiting": inference.controller_metric("QueueWaiting").with_(period=_ONE_MINUTE),
            },
        )
        dead_letters: dict[str, sqs.IQueue] = {
            readable_path(queue, config.name): queue.queue
            for queue in constructs_of([*pipelines, alerting, self], DeadLetterQueue)
        }
        pipeline_alarms: list[cloudwatch.IAlarm] = [
            node
            for stack in [*pipelines, alerting, self]
            for node in stack.node.find_all()
            if isinstance(node, cloudwatch.Alarm)
        ]
        self.dashboard = OperationsDashboard(
            self,
            "Operations",
            dashboard_name=config.dashboard_name,
            environment_name=config.name,
            sources=DashboardSources(
                training=training,
                inference=inference,
                sagemaker_inference=sagemaker_inference,
                sagemaker_training=sagemaker_training,
                functions=functions,
                widget_function=self.evaluation_widget.function,
                dead_letter_queues=dead_letters,
                alarms=pipeline_alarms,
                data_bucket_name=bucket_name(config, self, "data"),
                artifacts_bucket=shared.artifacts_bucket,
            ),
            runbook_url=config.operations.runbook_url,
        )
        self.drift.add_widgets(self.dashboard.dashboard)
        CfnOutput(
            self,
            "DashboardUrl",
            value=(
                f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region="
                f"{self.region}#dashboards/dashboard/{config.dashboard_name}"
            ),
            description="The environment's operations dashboard",
        )

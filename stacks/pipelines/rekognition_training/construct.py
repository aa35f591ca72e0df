"""The ``RekognitionTraining`` construct: its functions, the workflow's wiring, what it exposes.

Creates, in this order (construct ids, and so logical IDs, as before the package split): the
``ValidateInput`` and ``Evaluate`` functions and the evaluation function's grants, the
``Workflow`` (whose definition ``definition`` builds under ``States``), the workflow's grants
(``permissions``), and the optional triggers (``triggers``).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts import metrics
from contracts.s3_layout import project_reports_prefix
from shared.lineage import CODE_VERSION_VARIABLE
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import Workflow
from stacks.code_version import code_version
from stacks.config import EnvironmentConfig
from stacks.pipelines.rekognition_training.definition import (
    MANAGED_BY,
    _definition,
    _WorkflowParts,
)
from stacks.pipelines.rekognition_training.permissions import (
    _grant_evaluation,
    _grant_lineage,
    _grant_workflow,
)
from stacks.pipelines.rekognition_training.triggers import _triggers

EVALUATION_SERVICE = metrics.REKOGNITION_EVALUATION_SERVICE


class RekognitionTraining(Construct):
    """The training workflow, its functions, and its optional triggers."""

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
        training = config.rekognition_training
        stack = Stack.of(self)
        project = config.rekognition.project_name
        self.project_resources = [
            stack.format_arn(
                service="rekognition", resource="project", resource_name=f"{project}/*"
            )
        ]
        self.model_parameter_arn = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=config.model_version_parameter.lstrip("/"),
        )
        self._any_dataset_arn = stack.format_arn(
            service="rekognition", resource="project", resource_name="*/dataset/*"
        )
        #: Tags of the projects and versions the workflow creates (CreateProject is granted
        #: only with the ManagedBy tag).
        self._tags = {"Environment": config.name, "ManagedBy": MANAGED_BY}
        self.metrics_namespace = config.metrics_namespace
        self.project_name = project
        self.environment_name = config.name
        self.artifacts_bucket = artifacts_bucket
        #: Where the evaluation function writes each version's metrics.json and report.html.
        self.reports_prefix = project_reports_prefix(project)
        common: dict[str, Any] = {
            "invocation": Invocation.SYNCHRONOUS,
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        }
        self.validate_function = PythonFunction(
            self,
            "ValidateInput",
            handler="rekognition_training.validate_input.lambda_handler",
            description="Validates a Rekognition training request",
            memory_size=256,
            timeout=Duration.seconds(30),
            service_name=metrics.REKOGNITION_TRAINING_SERVICE,
            environment={
                "PROJECT_NAME": project,
                "DATA_BUCKET": data_bucket.bucket_name,
                "DEFAULT_GATE": json.dumps(
                    {
                        "metric": config.quality_gate.metric,
                        "threshold": config.quality_gate.threshold,
                        "min_label_recall": config.quality_gate.min_label_recall,
                    }
                ),
            },
            **common,
        )
        self.evaluate_function = PythonFunction(
            self,
            "Evaluate",
            handler="rekognition_training.evaluate.lambda_handler",
            description="Computes the evaluation report and the quality gate of a model version",
            memory_size=1024,
            timeout=Duration.minutes(5),
            service_name=EVALUATION_SERVICE,
            environment={"ARTIFACTS_BUCKET": artifacts_bucket.bucket_name},
            **common,
        )
        _grant_evaluation(self.evaluate_function, artifacts_bucket, encryption_key, data_bucket)
        self.lineage_function = PythonFunction(
            self,
            "RecordLineage",
            handler="rekognition_training.lineage.lambda_handler",
            description="Records the lineage of a trained model version next to its report",
            memory_size=256,
            timeout=Duration.seconds(60),
            service_name=metrics.REKOGNITION_TRAINING_SERVICE,
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "ENVIRONMENT_NAME": config.name,
                CODE_VERSION_VARIABLE: code_version(),
            },
            **common,
        )
        _grant_lineage(self.lineage_function, data_bucket, artifacts_bucket, encryption_key)

        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="Rekognition training",
            environment_name=config.name,
            definition=partial(
                _definition,
                _WorkflowParts(
                    owner=self,
                    config=config,
                    validate_function=self.validate_function,
                    evaluate_function=self.evaluate_function,
                    lineage_function=self.lineage_function,
                    artifacts_bucket=artifacts_bucket,
                    encryption_key=encryption_key,
                    project_resources=self.project_resources,
                    model_parameter_arn=self.model_parameter_arn,
                    tags=self._tags,
                ),
            ),
            # Every loop of the longest path at its deadline, plus slack for the Lambdas.
            timeout=Duration.minutes(training.execution_timeout_minutes),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        self.state_machine = self.workflow.state_machine
        _grant_workflow(
            self.workflow,
            data_bucket=data_bucket,
            artifacts_bucket=self.artifacts_bucket,
            encryption_key=encryption_key,
            project_resources=self.project_resources,
            any_dataset_arn=self._any_dataset_arn,
        )
        self.trigger_function: PythonFunction | None = _triggers(
            self, self.state_machine, config, data_bucket, alerts, common
        )

    def version_metric_search(self, name: str) -> str:
        """A ``SEARCH`` over an aggregate (``contracts.quality_gate.GATE_METRICS``: the
        evaluation function publishes each under its name) per version of this project: one
        series per version."""
        return (
            f"SEARCH('{{{self.metrics_namespace},{metrics.PROJECT_DIMENSION},"
            f"{metrics.VERSION_DIMENSION},{metrics.SERVICE_DIMENSION}}} "
            f'MetricName="{name}" {metrics.PROJECT_DIMENSION}="{self.project_name}" '
            f"{metrics.SERVICE_DIMENSION}=\"{EVALUATION_SERVICE}\"', 'Maximum', 86400)"
        )

    def label_metric_search(self, name: str) -> str:
        """A ``SEARCH`` over ``LabelPrecision``/``LabelRecall``/``LabelF1`` the evaluation
        function publishes for every label and version of this project (labels are only known
        once trained, so a search rather than fixed metrics)."""
        return (
            f"SEARCH('{{{self.metrics_namespace},{metrics.LABEL_DIMENSION},"
            f"{metrics.PROJECT_DIMENSION},{metrics.VERSION_DIMENSION},"
            f"{metrics.SERVICE_DIMENSION}}} "
            f'MetricName="{name}" {metrics.PROJECT_DIMENSION}="{self.project_name}" '
            f"{metrics.SERVICE_DIMENSION}=\"{EVALUATION_SERVICE}\"', 'Maximum', 86400)"
        )

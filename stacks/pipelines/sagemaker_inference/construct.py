"""The :class:`SageMakerInference` construct: its functions, its three workflows, their metrics.

The states are built in ``single.py`` (per image) and ``batch.py`` (Distributed Map, a batch of
images per child); the grants in ``permissions.py``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts import metrics
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import Workflow
from stacks.config import EnvironmentConfig
from stacks.pipelines.review_sampling import review_sample_environment
from stacks.pipelines.sagemaker_inference.batch import BATCH_FUNCTION_TIMEOUT, batch_definition
from stacks.pipelines.sagemaker_inference.names import MAX_IMAGE_BYTES
from stacks.pipelines.sagemaker_inference.permissions import (
    acknowledge,
    grant_functions,
    grant_map_run_lookup,
    grant_workflow,
)
from stacks.pipelines.sagemaker_inference.single import single_definition


class SageMakerInference(Construct):
    """The inference functions and the single-image (Standard + Express) and batch workflows."""

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
        sagemaker = config.sagemaker
        self.config = config
        self.data_bucket = data_bucket
        self.artifacts_bucket = artifacts_bucket
        self.metrics_namespace = config.metrics_namespace
        self.service_name = metrics.SAGEMAKER_INFERENCE_SERVICE
        self.endpoint_name = sagemaker.endpoint_full_name(config.resource_name_prefix)
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )
        self.review_objects = artifacts_bucket.arn_for_objects(f"{sagemaker.review_prefix}*")

        common: dict[str, Any] = {
            "invocation": Invocation.SYNCHRONOUS,
            "service_name": self.service_name,
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        }
        self.validate_function = PythonFunction(
            self,
            "ValidateFunction",
            handler="sagemaker_inference.validate.lambda_handler",
            description="Checks that an S3 object is a JPEG/PNG image the endpoint accepts",
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": sagemaker.input_prefix,
                "DEFAULT_THRESHOLD": str(sagemaker.confidence_threshold),
                "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
            },
            **common,
        )
        self.validate_batch_function = PythonFunction(
            self,
            "ValidateBatchFunction",
            handler="sagemaker_inference.validate_batch.lambda_handler",
            description="Checks a batch request: its prefix, its threshold, no unknown fields",
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": sagemaker.input_prefix,
                "DEFAULT_THRESHOLD": str(sagemaker.confidence_threshold),
            },
            **common,
        )
        self.classify_function = PythonFunction(
            self,
            "ClassifyFunction",
            handler="sagemaker_inference.classify.lambda_handler",
            description="Invokes the SageMaker endpoint with an image read from S3",
            # Holds one image (<= 6 MB) and the endpoint's answer; more memory = more CPU/network.
            memory_size=512,
            timeout=Duration.seconds(90),
            environment={
                "ENDPOINT_NAME": self.endpoint_name,
                "CLASS_NAMES": json.dumps(list(sagemaker.class_names)),
                **review_sample_environment(config, artifacts_bucket),
            },
            **common,
        )
        self.classify_batch_function = PythonFunction(
            self,
            "ClassifyBatchFunction",
            handler="sagemaker_inference.classify_batch.lambda_handler",
            description="Validates and classifies a batch of images, a few endpoint calls at once",
            # Up to INVOKE_CONCURRENCY images (<= 6 MB each) in memory at once.
            memory_size=1024,
            timeout=BATCH_FUNCTION_TIMEOUT,
            environment={
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": sagemaker.input_prefix,
                "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
                "ENDPOINT_NAME": self.endpoint_name,
                "CLASS_NAMES": json.dumps(list(sagemaker.class_names)),
                "INVOKE_CONCURRENCY": str(sagemaker.batch.invocations_per_batch),
                "REVIEW_BUCKET": artifacts_bucket.bucket_name,
                "REVIEW_PREFIX": sagemaker.review_prefix,
                **review_sample_environment(config),
            },
            **common,
        )
        self.summarize_function = PythonFunction(
            self,
            "SummarizeFunction",
            handler="sagemaker_inference.summarize.lambda_handler",
            description="Counts a batch's labels, low-confidence images and failures",
            memory_size=1024,
            timeout=Duration.minutes(5),
            **common,
        )
        grant_functions(self, encryption_key)

        workflow_options: dict[str, Any] = {
            "environment_name": config.name,
            "alerts": alerts,
            "encryption_key": encryption_key,
            "log_retention": log_retention(config.log_retention_days),
            "retain_logs": config.retain_data,
        }
        self.single = Workflow(
            self,
            "ClassifyImage",
            workflow_name="SageMaker classify image",
            definition=lambda guard: single_definition(self, guard, "SingleStates"),
            timeout=Duration.minutes(30),
            **workflow_options,
        )
        self.single_sync = Workflow(
            self,
            "ClassifyImageSync",
            workflow_name="SageMaker classify image (sync)",
            definition=lambda guard: single_definition(self, guard, "SyncStates"),
            timeout=Duration.minutes(5),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            **workflow_options,
        )
        self.batch = Workflow(
            self,
            "ClassifyBatch",
            workflow_name="SageMaker classify batch",
            definition=lambda guard: batch_definition(self, guard),
            timeout=Duration.hours(24),
            **workflow_options,
        )
        for workflow in (self.single, self.single_sync, self.batch):
            grant_workflow(workflow, encryption_key)
        grant_map_run_lookup(self)
        acknowledge(self)

    def classification_metric(self, name: str, workflow: Workflow) -> cloudwatch.Metric:
        """``ImagesClassified`` or ``LowConfidence`` the classify function counts for the runs
        of ``workflow`` (a ``workflow`` dimension: the workflow's name)."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            dimensions_map={
                metrics.SERVICE_DIMENSION: self.service_name,
                metrics.WORKFLOW_DIMENSION: workflow.workflow_name,
            },
            statistic="Sum",
            period=Duration.minutes(5),
        )

    def classification_metrics(self, name: str) -> dict[str, cloudwatch.Metric]:
        """:meth:`classification_metric` of every workflow, keyed by a metric-math id."""
        return {
            f"{name.lower()}{index}": self.classification_metric(name, workflow)
            for index, workflow in enumerate(self.workflows())
        }

    def workflows(self) -> tuple[Workflow, ...]:
        return (self.single, self.single_sync, self.batch)

"""The ``RekognitionPromotion`` construct: the source reader, the workflow, their grants.

Where the source is (``PromotionSource``): its account (or, when it sets none, this
environment's own), this region (CopyProjectVersion copies within a region; the
configuration refuses two regions), its project, artifacts bucket, key alias and SSM parameter,
all named as the source's own stacks name them.
"""

from __future__ import annotations

from functools import partial

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts.metrics import REKOGNITION_PROMOTION_SERVICE
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import Workflow
from stacks.config import (
    EnvironmentConfig,
    promotion_baseline_role_name,
    promotion_reader_role_name,
    promotion_timeout_minutes,
)
from stacks.pipelines.rekognition_promotion.definition import _definition, _PromotionParts
from stacks.pipelines.rekognition_promotion.permissions import (
    SourceLocation,
    _grant_copy_baseline,
    _grant_read_source,
    _grant_workflow,
)


class RekognitionPromotion(Construct):
    """The promotion workflow of an environment whose ``promotion`` names a source."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        alerts: AlertTopic,
        project_resources: list[str],
        model_parameter_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        promotion = config.promotion
        if promotion is None or promotion.source is None:
            raise ValueError("RekognitionPromotion needs a resolved promotion section")
        source = promotion.source
        stack = Stack.of(self)
        self.source = SourceLocation.of(source, stack)
        self.environment_name = config.name
        self.read_source_function = PythonFunction(
            self,
            "ReadSource",
            handler="rekognition_promotion.read_source.lambda_handler",
            description=f"Reads and checks the lineage of the {source.environment} version "
            "to promote",
            memory_size=256,
            timeout=Duration.seconds(30),
            service_name=REKOGNITION_PROMOTION_SERVICE,
            invocation=Invocation.SYNCHRONOUS,
            environment={
                "SOURCE_ENVIRONMENT": source.environment,
                "SOURCE_BUCKET": self.source.bucket_name,
                "SOURCE_PROJECT": source.project_name,
                "SOURCE_PARAMETER": self.source.parameter_reference,
                "TARGET_PROJECT": config.rekognition.project_name,
            },
            role_name=promotion_reader_role_name(config.resource_name_prefix),
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        )
        _grant_read_source(self.read_source_function, self.source)
        self.copy_baseline_function = PythonFunction(
            self,
            "CopyBaseline",
            handler="rekognition_promotion.copy_baseline.lambda_handler",
            description=f"Copies the promoted {source.environment} version's drift baseline "
            "into this environment's artifacts bucket",
            memory_size=256,
            timeout=Duration.seconds(30),
            service_name=REKOGNITION_PROMOTION_SERVICE,
            invocation=Invocation.SYNCHRONOUS,
            environment={
                "SOURCE_BUCKET": self.source.bucket_name,
                "SOURCE_PROJECT": source.project_name,
                "TARGET_BUCKET": artifacts_bucket.bucket_name,
                "TARGET_PROJECT": config.rekognition.project_name,
            },
            role_name=promotion_baseline_role_name(config.resource_name_prefix),
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        )
        _grant_copy_baseline(
            self.copy_baseline_function,
            self.source,
            artifacts_bucket=artifacts_bucket,
            encryption_key=encryption_key,
            target_project=config.rekognition.project_name,
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="Rekognition promotion",
            environment_name=config.name,
            definition=partial(
                _definition,
                _PromotionParts(
                    owner=self,
                    config=config,
                    read_source_function=self.read_source_function,
                    copy_baseline_function=self.copy_baseline_function,
                    artifacts_bucket=artifacts_bucket,
                    encryption_key=encryption_key,
                    project_resources=project_resources,
                    source_version_resources=[self.source.version_arns],
                    model_parameter_arn=model_parameter_arn,
                ),
            ),
            timeout=Duration.minutes(promotion_timeout_minutes(config)),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        self.state_machine = self.workflow.state_machine
        _grant_workflow(
            self.workflow,
            artifacts_bucket=artifacts_bucket,
            encryption_key=encryption_key,
            project_resources=project_resources,
            source=self.source,
        )

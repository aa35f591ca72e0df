"""SageMaker image classification of one environment: wiring only."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from contracts.metrics import IMAGES_CLASSIFIED, LOW_CONFIDENCE
from contracts.outputs import (
    CLASSIFY_BATCH_STATE_MACHINE_ARN,
    CLASSIFY_IMAGE_STATE_MACHINE_ARN,
    CLASSIFY_IMAGE_SYNC_STATE_MACHINE_ARN,
    ENDPOINT_NAME,
    TRAINING_STATE_MACHINE_ARN,
)
from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.config import EnvironmentConfig
from stacks.pipelines.sagemaker_inference import SageMakerInference
from stacks.pipelines.sagemaker_training import SageMakerTraining
from stacks.storage_stack import StorageStack


class SageMakerStack(Stack):
    """Single-image and batch classification against the endpoint, and the train -> deploy
    workflow that creates or updates that endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        alerting: AlertingStack,
        network: NetworkPlacement | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        attach_placement(self, network)
        storage_view = storage.shared_with(self)
        shared: dict[str, Any] = {
            "config": config,
            "data_bucket": storage_view.data_bucket,
            "artifacts_bucket": storage_view.artifacts_bucket,
            "encryption_key": storage_view.key,
            "alerts": alerting.alerts,
        }
        self.inference = SageMakerInference(self, "Inference", **shared)
        self.training = SageMakerTraining(
            self,
            "Training",
            low_confidence=self.inference.classification_metrics(LOW_CONFIDENCE),
            classified=self.inference.classification_metrics(IMAGES_CLASSIFIED),
            **shared,
        )
        for output_id, value, description in (
            (
                CLASSIFY_IMAGE_STATE_MACHINE_ARN,
                self.inference.single.state_machine.state_machine_arn,
                'Standard workflow: {"s3_uri": ...} -> label (python -m ops sagemaker classify)',
            ),
            (
                CLASSIFY_IMAGE_SYNC_STATE_MACHINE_ARN,
                self.inference.single_sync.state_machine.state_machine_arn,
                "Express workflow for StartSyncExecution (request/response callers)",
            ),
            (
                CLASSIFY_BATCH_STATE_MACHINE_ARN,
                self.inference.batch.state_machine.state_machine_arn,
                'Standard workflow: {"prefix": ...} -> per-label counts',
            ),
            (
                TRAINING_STATE_MACHINE_ARN,
                self.training.state_machine.state_machine_arn,
                "Train -> gate -> deploy (python -m ops sagemaker train)",
            ),
            (ENDPOINT_NAME, self.inference.endpoint_name, "The endpoint inference invokes"),
        ):
            CfnOutput(self, output_id, value=value, description=description)

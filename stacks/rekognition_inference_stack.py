"""Rekognition Custom Labels inference of one environment: wiring only."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from contracts.outputs import (
    CONSUMER_FUNCTION_NAME,
    CONTROLLER_FUNCTION_NAME,
    DEAD_LETTER_QUEUE_URL,
    EVENT_SOURCE_MAPPING_ID,
    WORK_QUEUE_URL,
)
from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.config import EnvironmentConfig
from stacks.pipelines.rekognition_inference import RekognitionInference
from stacks.storage_stack import StorageStack


class RekognitionInferenceStack(Stack):
    """New images in the data bucket, classified by the environment's Custom Labels model."""

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
        shared = storage.shared_with(self)
        self.inference = RekognitionInference(
            self,
            "Inference",
            config=config,
            data_bucket=shared.data_bucket,
            artifacts_bucket=shared.artifacts_bucket,
            encryption_key=shared.key,
            alerts=alerting.alerts,
        )
        inference = self.inference
        for output_id, value, description in (
            (WORK_QUEUE_URL, inference.work.queue.queue_url, "Images waiting for inference"),
            (
                DEAD_LETTER_QUEUE_URL,
                inference.work.dead_letter.queue.queue_url,
                "Messages given up on after their retries",
            ),
            (
                EVENT_SOURCE_MAPPING_ID,
                inference.event_source.event_source_mapping_id,
                "The consumer's SQS event source (enabled while the model runs)",
            ),
            (
                CONSUMER_FUNCTION_NAME,
                inference.consumer.function.function_name,
                "Classifies images (python -m ops classify)",
            ),
            (
                CONTROLLER_FUNCTION_NAME,
                inference.controller.function.function_name,
                "Starts and stops the model (python -m ops model)",
            ),
        ):
            CfnOutput(self, output_id, value=value, description=description)

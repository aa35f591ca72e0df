"""Rekognition Custom Labels training of one environment: wiring only."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from contracts.outputs import TRAINING_STATE_MACHINE_ARN
from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.config import EnvironmentConfig
from stacks.pipelines.rekognition_promotion import RekognitionPromotion
from stacks.pipelines.rekognition_training import RekognitionTraining
from stacks.storage_stack import StorageStack


class RekognitionTrainingStack(Stack):
    """The train -> evaluate -> gate -> deploy workflow, fed by storage and reporting to alerts;
    in an environment that promotes, the promotion workflow beside it (the same project, model
    parameter and deployment path)."""

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
        self.training = RekognitionTraining(
            self,
            "Training",
            config=config,
            data_bucket=shared.data_bucket,
            artifacts_bucket=shared.artifacts_bucket,
            encryption_key=shared.key,
            alerts=alerting.alerts,
        )
        CfnOutput(
            self,
            TRAINING_STATE_MACHINE_ARN,
            value=self.training.state_machine.state_machine_arn,
            description="Start with `python -m ops train start --env <env> ...`",
        )
        self.promotion: RekognitionPromotion | None = None
        if config.promotion is not None:
            self.promotion = RekognitionPromotion(
                self,
                "Promotion",
                config=config,
                artifacts_bucket=shared.artifacts_bucket,
                encryption_key=shared.key,
                alerts=alerting.alerts,
                project_resources=self.training.project_resources,
                model_parameter_arn=self.training.model_parameter_arn,
            )
            CfnOutput(
                self,
                "PromotionStateMachineArn",
                value=self.promotion.state_machine.state_machine_arn,
                description="Start with `python -m ops promote --env <env> --version <name>`",
            )

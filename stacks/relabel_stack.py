"""Human review feeding the next training, of one environment: wiring only."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.alerting_stack import AlertingStack
from stacks.building_blocks.network import NetworkPlacement, attach_placement
from stacks.config import EnvironmentConfig
from stacks.pipelines.relabel import Relabel
from stacks.storage_stack import StorageStack


class RelabelStack(Stack):
    """The relabel workflow: review records -> Ground Truth -> a new training manifest.

    ``state_machine`` is what another stack starts (a drift alarm, say): its ARN is also the
    ``RelabelStateMachineArn`` output.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        alerting: AlertingStack,
        training_state_machine: sfn.IStateMachine,
        network: NetworkPlacement | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        attach_placement(self, network)
        shared = storage.shared_with(self)
        self.relabel = Relabel(
            self,
            "Relabel",
            config=config,
            data_bucket=shared.data_bucket,
            artifacts_bucket=shared.artifacts_bucket,
            encryption_key=shared.key,
            alerts=alerting.alerts,
            training_state_machine=training_state_machine,
        )
        self.state_machine = self.relabel.state_machine
        CfnOutput(
            self,
            "RelabelStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="Start with `python -m ops review start --env <env>`",
        )

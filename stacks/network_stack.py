"""The network of an isolated environment: VPC, endpoints, security groups. Retained in production.

Stateful like storage (a replaced VPC would move every function's network interfaces and break
the buckets' data perimeter, which names this VPC), so it is its own stack, deployed first.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.building_blocks.network import IsolatedNetwork, NetworkPlacement
from stacks.config import EnvironmentConfig


class NetworkStack(Stack):
    """The :class:`IsolatedNetwork` of one environment (only built for ``mode: isolated``)."""

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones. CDK would otherwise look the account's zones up at synth time
        (a context lookup that needs AWS credentials; cdk.context.json is not kept)."""
        return self._zones

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._zones = list(config.network.availability_zones)
        self.network = IsolatedNetwork(
            self,
            "Network",
            network=config.network,
            name_prefix=config.resource_name_prefix,
            log_retention_days=config.log_retention_days,
            retain=config.retain_data,
            other_resource_accounts=_promotion_source_accounts(config),
        )
        self.placement: NetworkPlacement = self.network.placement
        CfnOutput(self, "VpcId", value=self.placement.vpc_id, description="The workloads' VPC")
        CfnOutput(
            self,
            "SubnetIds",
            value=",".join(self.placement.subnet_ids),
            description="Private isolated subnets (network.subnet_ids to share this VPC)",
        )


def _promotion_source_accounts(config: EnvironmentConfig) -> list[str]:
    """The promotion source's account when it is another one: the promotion reads its
    lineage records from the source's artifacts bucket."""
    source = config.promotion.source if config.promotion else None
    if source is None or source.account is None or source.account == config.account:
        return []
    return [source.account]

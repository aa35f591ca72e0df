"""Alerting of one environment: the topic every alarm, rule and workflow reports to."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from contracts.naming import alert_topic_name
from contracts.outputs import ALERT_TOPIC_ARN
from stacks.building_blocks.alarms import AlarmScope
from stacks.building_blocks.alerting import AlertTopic
from stacks.config import EnvironmentConfig


class AlertingStack(Stack):
    """The environment's KMS-encrypted alert topic with the configured e-mail subscriptions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        encryption_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alerts = AlertTopic(
            self,
            "Alerts",
            topic_name=alert_topic_name(config.resource_name_prefix),
            display_name=f"Image classification alerts ({config.name})",
            encryption_key=encryption_key,
            emails=config.notification_emails,
            alarms=AlarmScope(prefix=config.resource_name_prefix, pipeline="operations"),
        )
        CfnOutput(
            self,
            ALERT_TOPIC_ARN,
            value=self.alerts.topic.topic_arn,
            description="Alarms and workflow notifications of this environment",
        )

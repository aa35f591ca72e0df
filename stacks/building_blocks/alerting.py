"""The alerting topic of one environment: where alarms, EventBridge rules and workflows publish."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.building_blocks.alarms import AlarmScope
from stacks.building_blocks.queue import DeadLetterQueue


class AlertTopic(Construct):
    """A KMS-encrypted, TLS-only SNS topic with e-mail subscriptions.

    The topic policy lets CloudWatch alarms and EventBridge rules of this account publish; the
    environment key's policy (``EnvironmentKey``) lets them encrypt. Workflows and functions get
    :meth:`grant_publish`, which covers the key as well.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        display_name: str,
        encryption_key: kms.IKey,
        emails: Sequence[str],
        alarms: AlarmScope,
    ) -> None:
        super().__init__(scope, construct_id)
        self._encryption_key = encryption_key
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=display_name,
            master_key=encryption_key,
            enforce_ssl=True,
        )
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{service.split('.')[0].capitalize()}Publish",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        # Deliveries SNS gives up on (bounces, a deleted endpoint) are kept, and alarmed, here.
        self.failed_deliveries = DeadLetterQueue(
            self,
            "FailedDeliveries",
            encryption_key=encryption_key,
            alarms=alarms,
            what="alert-deliveries-failed",
            source_description=f"SNS topic {topic_name}",
        )
        for email in emails:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(
                    email, dead_letter_queue=self.failed_deliveries.queue
                )
            )
        #: The topic as an alarm action: only for the alarms that must not depend on the
        #: notifier (``stacks/building_blocks/alarms.py``, the direct route).
        self.alarm_action = cw_actions.SnsAction(self.topic)

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` publish: ``sns:Publish`` alone fails on an encrypted topic.

        Exact actions rather than ``topic.grant_publish``, whose ``kms:GenerateDataKey*`` wildcard
        is more than SNS uses.
        """
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        self._encryption_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")

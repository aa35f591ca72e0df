"""The customer-managed KMS key of one environment, with a key policy the services can use."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def grant_service_grants(key: kms.IKey, grantee: iam.IGrantable) -> None:
    """Let ``grantee`` hand ``key`` to the AWS services that work on its behalf, and nothing more.

    SageMaker and Rekognition create KMS grants on the caller's key (training volumes, models,
    endpoint storage) with the caller's permissions. ``kms:GrantIsForAWSResource`` limits
    ``kms:CreateGrant`` to grants an integrated AWS service creates: the principal cannot give
    the key to anyone else itself (AWS KMS Developer Guide, "kms:GrantIsForAWSResource").
    """
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )


#: What a service needs to write data under the key and read it back.
_SERVICE_ENCRYPT_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


class EnvironmentKey(Construct):
    """A rotating customer-managed key for every encrypted resource of one environment.

    Besides the account's IAM principals (the default policy), the key policy lets the services
    that encrypt on our behalf use it, each limited to this account:

    - CloudWatch Logs, for the encrypted log groups (scoped by the log-group encryption context);
    - CloudWatch alarms and EventBridge, to publish to the encrypted alerting topic;
    - S3, to send event notifications to encrypted queues;
    - SNS, to move undeliverable notifications to an encrypted dead-letter queue.

    Synthesis cannot catch a missing statement here (the failure is an alarm that never arrives),
    so the tests assert each of them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=f"Encrypts the data, logs, queues and topics of {alias}",
            enable_key_rotation=True,
            pending_window=Duration.days(30 if retain else 7),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                # No kms:Describe*: DescribeKey carries no encryption context, so under the
                # condition below it could never be allowed (the authorization reference lists
                # no kms:EncryptionContext key for it).
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )
        for sid, service in (
            ("AllowCloudWatchAlarms", "cloudwatch.amazonaws.com"),
            ("AllowEventBridge", "events.amazonaws.com"),
            ("AllowS3EventNotifications", "s3.amazonaws.com"),
            ("AllowSnsDeadLetters", "sns.amazonaws.com"),
        ):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=list(_SERVICE_ENCRYPT_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )

"""An S3 bucket with the house security defaults: nothing public, TLS only, versioned, logged."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


class SecureBucket(Construct):
    """A private, versioned, TLS-only bucket encrypted with the environment key.

    Server-access logs go to ``access_logs_bucket`` under ``<construct id>/``. Pass
    ``access_logs_bucket=None`` and ``encryption_key=None`` only for the access-logs bucket itself:
    S3 delivers access logs only to a bucket encrypted with S3-managed keys, and a log bucket that
    logged to itself would log forever.

    ``event_bridge=True`` sends the bucket's object events to EventBridge, where pipelines in other
    stacks subscribe with rules. (Direct S3 notifications to another stack's queue or function
    would make the two stacks depend on each other, and need a custom resource.)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None,
        access_logs_bucket: s3.IBucket | None,
        lifecycle_rules: Sequence[s3.LifecycleRule],
        retain: bool,
        bucket_name: str | None = None,
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if (encryption_key is None) != (access_logs_bucket is None):
            raise ValueError(
                "SecureBucket: encryption_key and access_logs_bucket are left out together, "
                "and only for the access-logs bucket"
            )
        if not lifecycle_rules:
            raise ValueError(f"SecureBucket {construct_id}: give at least one lifecycle rule")
        is_log_bucket = access_logs_bucket is None
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED if is_log_bucket else s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=not is_log_bucket,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=None if is_log_bucket else f"{construct_id}/",
            lifecycle_rules=list(lifecycle_rules),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        if event_bridge:
            # Set natively on AWS::S3::Bucket: the L2 `event_bridge_enabled` would add a
            # notifications custom resource (an extra Lambda with a managed-policy role).
            cfn_bucket = self.bucket.node.default_child
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        validations = Validations.of(self)
        validations.acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5-S3BucketReplicationEnabled",
                reason="Cross-region replication needs a second region's bucket and key, a "
                "per-team disaster-recovery decision; versioning, noncurrent-version retention "
                "and a retained bucket in production already protect against loss and deletion.",
            )
        )
        if is_log_bucket:
            for rule, reason in (
                (
                    "AwsSolutions-S1",
                    "This is the server-access-logs destination; logging it to itself would "
                    "loop and logging it elsewhere only moves the problem.",
                ),
                (
                    "NIST.800.53.R5-S3BucketLoggingEnabled",
                    "This is the server-access-logs destination; logging it to itself would loop.",
                ),
                (
                    "NIST.800.53.R5-S3DefaultEncryptionKMS",
                    "S3 delivers server access logs only to buckets encrypted with S3-managed "
                    "keys (SSE-S3); SSE-KMS would silently stop log delivery.",
                ),
            ):
                validations.acknowledge(Acknowledgment(id=rule, reason=reason))

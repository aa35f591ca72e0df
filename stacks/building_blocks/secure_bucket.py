"""An S3 bucket with the house security defaults: nothing public, TLS only, versioned, logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

#: What the data perimeter guards: reading, writing, deleting and listing objects. Bucket
#: configuration (policy, lifecycle, encryption) stays reachable for CloudFormation's deploys.
PERIMETER_ACTIONS: tuple[str, ...] = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:RestoreObject",
)


@dataclass(frozen=True)
class DataPerimeter:
    """Who may reach a bucket's objects from where (README, "Network isolation").

    A request is denied unless one of these holds:

    - it comes through an endpoint of ``vpc_id`` (``aws:SourceVpc``): the functions, and the
      SageMaker jobs and models that download and upload "through the specified VPC";
    - an AWS service makes it with the caller's credentials (``aws:ViaAWSService``): Rekognition
      reading training images, manifests and inference images, S3 calling KMS;
    - its principal carries ``exclusion_tag`` = ``true`` (``aws:PrincipalTag``): roles only AWS
      services assume and that call S3 from AWS's own network (Step Functions' Distributed Map
      and S3 tasks, SageMaker's data capture);
    - it is made by one of ``service_principals`` as itself (``aws:PrincipalServiceName``):
      server access log delivery to the access-logs bucket.
    """

    vpc_id: str
    exclusion_tag: str
    service_principals: tuple[str, ...] = ()

    def statement(self, bucket: s3.IBucket) -> iam.PolicyStatement:
        not_equals: dict[str, object] = {
            "aws:SourceVpc": self.vpc_id,
            f"aws:PrincipalTag/{self.exclusion_tag}": "true",
        }
        if self.service_principals:
            not_equals["aws:PrincipalServiceName"] = list(self.service_principals)
        return iam.PolicyStatement(
            sid="DenyOutsideTheNetworkPerimeter",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(PERIMETER_ACTIONS),
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
            conditions={
                "StringNotEqualsIfExists": not_equals,
                "BoolIfExists": {"aws:ViaAWSService": "false"},
            },
        )


def encryption_statements(bucket: s3.IBucket, key: kms.IKey) -> list[iam.PolicyStatement]:
    """Deny an upload that asks for any server-side encryption but ``key``.

    An upload that names no encryption gets the bucket's default, ``key``. One that names
    SSE-S3 or DSSE-KMS, another KMS key, or SSE-KMS without a key id (which S3 answers with the
    AWS managed key aws/s3, PutObject API Reference) is denied. ``Null`` = ``false`` limits each
    deny to requests that carry the header: a negated operator alone would also deny every
    upload that names none (IAM User Guide, "Condition operators").
    """
    objects = bucket.arn_for_objects("*")
    sse = "s3:x-amz-server-side-encryption"
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"

    def deny(sid: str, conditions: dict[str, object]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions=conditions,
        )

    return [
        deny(
            "DenyOtherServerSideEncryption",
            {"Null": {sse: "false"}, "StringNotEquals": {sse: "aws:kms"}},
        ),
        # The authorization reference types the key id as an ARN: an ARN operator.
        deny(
            "DenyOtherKmsKeys", {"Null": {key_id: "false"}, "ArnNotEquals": {key_id: key.key_arn}}
        ),
        deny("DenyKmsWithoutTheKey", {"Null": {sse: "false", key_id: "true"}}),
    ]


class SecureBucket(Construct):
    """A private, versioned, TLS-only bucket encrypted with the environment key.

    Server-access logs go to ``access_logs_bucket`` under ``<construct id>/``. Pass
    ``access_logs_bucket=None`` and ``encryption_key=None`` only for the access-logs bucket itself:
    S3 delivers access logs only to a bucket encrypted with S3-managed keys, and a log bucket that
    logged to itself would log forever.

    Uploads must use ``encryption_key`` (:func:`encryption_statements`); with ``perimeter`` the
    objects are reachable only from inside it (:class:`DataPerimeter`).

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
        perimeter: DataPerimeter | None = None,
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
        if encryption_key is not None:
            for statement in encryption_statements(self.bucket, encryption_key):
                self.bucket.add_to_resource_policy(statement)
        if perimeter is not None:
            self.bucket.add_to_resource_policy(perimeter.statement(self.bucket))
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

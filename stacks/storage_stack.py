"""Stateful storage of one environment: the key and the buckets. Retained in production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts import naming
from contracts.drift import BASELINE_FILE
from contracts.outputs import ARTIFACTS_BUCKET_NAME, DATA_BUCKET_NAME, ENCRYPTION_KEY_ARN
from contracts.s3_layout import REPORTS_PREFIX, RESULTS_ROOT
from shared.lineage import LINEAGE_FILE
from stacks.building_blocks.encryption import EnvironmentKey
from stacks.building_blocks.network import PERIMETER_EXCLUSION_TAG, NetworkPlacement
from stacks.building_blocks.secure_bucket import DataPerimeter, SecureBucket
from stacks.config import EnvironmentConfig
from stacks.pipelines.sagemaker_training.permissions import DATA_CAPTURE_PREFIX

#: S3 delivers server access logs as this service principal (S3 User Guide, "Enabling Amazon S3
#: server access logging": the bucket policy grants it s3:PutObject).
LOG_DELIVERY_PRINCIPAL = "logging.s3.amazonaws.com"

#: Prefix of the artifacts bucket under which the pipelines' results live.
RESULTS_PREFIX = RESULTS_ROOT


def bucket_name(config: EnvironmentConfig, stack: Stack, purpose: str) -> str:
    """``<prefix>-<env>-<purpose>-<account>-<region>``: globally unique, known before deploy.

    Other stacks compute the same name (their account and region are the same), so their IAM
    statements name the bucket statically instead of importing it from this stack.
    """
    return naming.bucket_name(config.resource_name_prefix, purpose, stack.account, stack.region)


@dataclass(frozen=True)
class SharedStorage:
    """The environment's buckets and key as seen from another stack."""

    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    key: kms.IKey


class StorageStack(Stack):
    """The environment key, an access-logs bucket, the data bucket and the artifacts bucket.

    - data bucket: training images and manifests, inference inputs;
    - artifacts bucket: model artifacts, evaluation reports, inference results.

    With ``network`` (isolated environments) every bucket's objects are reachable only through
    that VPC's endpoints, AWS services acting for a caller, and the named exceptions
    (:class:`DataPerimeter`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: NetworkPlacement | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        lifecycle = config.lifecycle
        retain = config.retain_data
        self.encryption = EnvironmentKey(
            self, "Encryption", alias=naming.key_alias(config.resource_name_prefix), retain=retain
        )
        self.key = self.encryption.key
        self.perimeter = (
            DataPerimeter(vpc_id=network.vpc_id, exclusion_tag=PERIMETER_EXCLUSION_TAG)
            if network
            else None
        )

        abort_uploads = s3.LifecycleRule(
            id="AbortIncompleteUploads",
            abort_incomplete_multipart_upload_after=Duration.days(
                lifecycle.abort_incomplete_upload_days
            ),
        )
        expire_noncurrent = s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=Duration.days(
                lifecycle.noncurrent_version_expiration_days
            ),
            expired_object_delete_marker=True,
        )
        self.access_logs_bucket = SecureBucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(config, self, "access-logs"),
            encryption_key=None,
            access_logs_bucket=None,
            retain=retain,
            lifecycle_rules=[
                abort_uploads,
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(lifecycle.access_logs_expiration_days),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
            perimeter=(
                DataPerimeter(
                    vpc_id=self.perimeter.vpc_id,
                    exclusion_tag=self.perimeter.exclusion_tag,
                    service_principals=(LOG_DELIVERY_PRINCIPAL,),
                )
                if self.perimeter
                else None
            ),
        ).bucket
        self.data_bucket = SecureBucket(
            self,
            "Data",
            bucket_name=bucket_name(config, self, "data"),
            encryption_key=self.key,
            access_logs_bucket=self.access_logs_bucket,
            retain=retain,
            lifecycle_rules=[
                abort_uploads,
                expire_noncurrent,
                *_expiry(
                    "ExpireClassifiedImages",
                    config.rekognition.input_prefix,
                    lifecycle.incoming_expiration_days,
                ),
            ],
            perimeter=self.perimeter,
            # New images and manifests start inference and training through EventBridge rules.
            event_bridge=True,
        ).bucket
        self.artifacts_bucket = SecureBucket(
            self,
            "Artifacts",
            bucket_name=bucket_name(config, self, "artifacts"),
            encryption_key=self.key,
            access_logs_bucket=self.access_logs_bucket,
            retain=retain,
            lifecycle_rules=[
                abort_uploads,
                expire_noncurrent,
                s3.LifecycleRule(
                    id="TransitionOldResults",
                    prefix=RESULTS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(lifecycle.results_transition_to_ia_days),
                        )
                    ],
                ),
                *_expiry(
                    "ExpireDataCapture", DATA_CAPTURE_PREFIX, lifecycle.data_capture_expiration_days
                ),
            ],
            perimeter=self.perimeter,
        ).bucket
        self._allow_promotion_readers(config)
        for output_id, value, description in (
            (DATA_BUCKET_NAME, self.data_bucket.bucket_name, "Training data and inference inputs"),
            (
                ARTIFACTS_BUCKET_NAME,
                self.artifacts_bucket.bucket_name,
                "Model artifacts, evaluation reports and results",
            ),
            (ENCRYPTION_KEY_ARN, self.key.key_arn, "Customer-managed key of this environment"),
        ):
            CfnOutput(self, output_id, value=value, description=description)

    def _allow_promotion_readers(self, config: EnvironmentConfig) -> None:
        """Let each environment of another account that promotes from this one read its
        versions' lineage records and drift baselines: ``s3:GetObject`` on
        ``reports/<project>/*/lineage.json`` for exactly that environment's source-reader role,
        on ``reports/<project>/*/baseline.json`` for exactly its baseline-copy role (each named
        by ``aws:PrincipalArn``: a policy may name a role before it exists only that way), and
        ``kms:Decrypt`` through S3 for the two. Nothing else of this environment is readable
        from there."""
        project = config.rekognition.project_name
        lineage = self.artifacts_bucket.arn_for_objects(
            f"{REPORTS_PREFIX}{project}/*/{LINEAGE_FILE}"
        )
        baseline = self.artifacts_bucket.arn_for_objects(
            f"{REPORTS_PREFIX}{project}/*/{BASELINE_FILE}"
        )
        for reader in config.promotion_readers:
            principal = iam.AccountPrincipal(reader.account)
            roles = {
                name: f"arn:{Aws.PARTITION}:iam::{reader.account}:role/{name}"
                for name in (reader.role_name, reader.baseline_role_name)
            }
            for sid, objects, name in (
                ("PromotionReader", lineage, reader.role_name),
                ("PromotionBaseline", baseline, reader.baseline_role_name),
            ):
                self.artifacts_bucket.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid=f"{sid}{reader.environment.capitalize()}",
                        principals=[principal],
                        actions=["s3:GetObject"],
                        resources=[objects],
                        conditions={"ArnEquals": {"aws:PrincipalArn": roles[name]}},
                    )
                )
            condition = {"ArnEquals": {"aws:PrincipalArn": list(roles.values())}}
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"PromotionReader{reader.environment.capitalize()}",
                    principals=[principal],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        **condition,
                        "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                    },
                )
            )

    def shared_with(self, consumer: Stack) -> SharedStorage:
        """The buckets (imported by name) and the key for a pipeline stack; adds the dependency.

        Names rather than cross-stack references keep the consumer's IAM statements readable and
        static; the key stays a reference (its ARN is not known before deploy).
        """
        consumer.add_stack_dependency(self)
        return SharedStorage(
            data_bucket=s3.Bucket.from_bucket_attributes(
                consumer,
                "DataBucket",
                bucket_name=bucket_name(self._config, consumer, "data"),
                encryption_key=self.key,
            ),
            artifacts_bucket=s3.Bucket.from_bucket_attributes(
                consumer,
                "ArtifactsBucket",
                bucket_name=bucket_name(self._config, consumer, "artifacts"),
                encryption_key=self.key,
            ),
            key=self.key,
        )


def _expiry(rule_id: str, prefix: str, days: int | None) -> list[s3.LifecycleRule]:
    """Expire the objects under ``prefix`` after ``days`` (``None``: keep them)."""
    if days is None:
        return []
    return [s3.LifecycleRule(id=rule_id, prefix=prefix, expiration=Duration.days(days))]

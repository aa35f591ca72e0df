"""Stateful storage of one environment: the key and the buckets. Retained in production."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.components.encryption import EnvironmentKey
from stacks.components.secure_bucket import SecureBucket
from stacks.config import EnvironmentConfig

#: Prefix of the artifacts bucket under which evaluation reports and inference results live.
RESULTS_PREFIX = "results/"


class StorageStack(Stack):
    """The environment key, an access-logs bucket, the data bucket and the artifacts bucket.

    - data bucket: training images and manifests, inference inputs;
    - artifacts bucket: model artifacts, evaluation reports, inference results.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        lifecycle = config.lifecycle
        retain = config.retain_data
        self.encryption = EnvironmentKey(
            self, "Encryption", alias=f"alias/{config.resource_name_prefix}", retain=retain
        )
        self.key = self.encryption.key

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
        ).bucket
        self.data_bucket = SecureBucket(
            self,
            "Data",
            encryption_key=self.key,
            access_logs_bucket=self.access_logs_bucket,
            retain=retain,
            lifecycle_rules=[abort_uploads, expire_noncurrent],
            # New images and manifests start inference and training through EventBridge rules.
            event_bridge=True,
        ).bucket
        self.artifacts_bucket = SecureBucket(
            self,
            "Artifacts",
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
            ],
        ).bucket
        for output_id, value, description in (
            ("DataBucketName", self.data_bucket.bucket_name, "Training data and inference inputs"),
            (
                "ArtifactsBucketName",
                self.artifacts_bucket.bucket_name,
                "Model artifacts, evaluation reports and results",
            ),
            ("EncryptionKeyArn", self.key.key_arn, "Customer-managed key of this environment"),
        ):
            CfnOutput(self, output_id, value=value, description=description)

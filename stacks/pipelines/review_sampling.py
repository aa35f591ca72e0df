"""What the inference functions need to send a share of confident predictions to review
(``relabel.sample_confident_share``; see ``lambda_src/shared/review_sampling.py``)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from stacks.building_blocks.iam import grant_objects
from stacks.config import EnvironmentConfig

#: The variable ``shared.review_sampling`` reads (the handler module is not importable here).
SHARE_VARIABLE = "REVIEW_SAMPLE_SHARE"


def review_sample_environment(
    config: EnvironmentConfig, review_bucket: s3.IBucket | None = None
) -> dict[str, str]:
    """The share, and for the SageMaker Classify function, where its sample records go
    (nothing while sampling is off: the functions read an absent share as 0)."""
    share = config.relabel.sample_confident_share
    if share <= 0:
        return {}
    environment = {SHARE_VARIABLE: f"{share:g}"}
    if review_bucket is not None:
        environment |= {
            "REVIEW_BUCKET": review_bucket.bucket_name,
            "REVIEW_PREFIX": config.sagemaker.review_prefix,
        }
    return environment


def grant_review_samples(
    config: EnvironmentConfig, role: iam.IRole, review_bucket: s3.IBucket
) -> None:
    """SageMaker's Classify function writes the sampled records itself (SSE-KMS, the bucket
    key's data key). Granted whether or not sampling is on: the code that writes them is
    always deployed, and the grant reaches the review prefix only."""
    grant_objects(role, review_bucket, config.sagemaker.review_prefix, ["s3:PutObject"])
    if review_bucket.encryption_key is not None:
        review_bucket.encryption_key.grant(role, "kms:GenerateDataKey")

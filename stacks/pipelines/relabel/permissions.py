"""The Ground Truth execution role and the functions' grants, each exact, with the
acknowledgements of the prefix wildcards they need.

The role is what the labeling job works with: it reads the images the records name (the two
inference input prefixes of the data bucket) and the job's input files, writes the answers
under the output prefix, encrypts them with the environment's key, and logs to Ground Truth's
fixed log group. Trusted by SageMaker only for this account's labeling jobs of this
environment (``aws:SourceAccount``, ``aws:SourceArn``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Tags, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.network import PERIMETER_EXCLUSION_TAG, placement_of
from stacks.config import EnvironmentConfig

LABELING_LOG_GROUP = "/aws/sagemaker/LabelingJobs"


def labeling_job_arn(scope: Construct, name: str) -> str:
    return str(
        Stack.of(scope).format_arn(service="sagemaker", resource="labeling-job", resource_name=name)
    )


def ground_truth_role(
    owner: Construct,
    *,
    config: EnvironmentConfig,
    data_bucket: s3.IBucket,
    artifacts_bucket: s3.IBucket,
    key: kms.IKey,
    jobs_prefix: str,
    output_prefix: str,
) -> iam.Role:
    stack = Stack.of(owner)
    role = iam.Role(
        owner,
        "GroundTruthRole",
        assumed_by=iam.ServicePrincipal(
            "sagemaker.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": labeling_job_arn(owner, f"{config.labeling_job_prefix}*")
                },
            },
        ),
        description="SageMaker Ground Truth labeling jobs of the relabel workflow",
    )
    if placement_of(role) is not None:
        # Ground Truth reads the manifest and images and writes the answers from SageMaker's
        # network, and workers' browsers fetch the images with this role's presigned URLs:
        # never through the VPC. The buckets' perimeter lets the role in by this tag (only this
        # account's labeling jobs of this workflow can assume it).
        Tags.of(role).add(PERIMETER_EXCLUSION_TAG, "true")
    image_prefixes = (config.rekognition.input_prefix, config.sagemaker.input_prefix)
    for prefix in image_prefixes:
        grant_objects(role, data_bucket, prefix, ["s3:GetObject"])
    grant_objects(role, artifacts_bucket, jobs_prefix, ["s3:GetObject"])
    grant_objects(role, artifacts_bucket, output_prefix, ["s3:GetObject", "s3:PutObject"])
    # Reads the SSE-KMS inputs, writes the answers under the job's OutputConfig.KmsKeyId.
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey")
    group = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=LABELING_LOG_GROUP,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[group, f"{group}:*"],
        )
    )
    acknowledge_prefix_wildcards(
        owner,
        data_bucket,
        list(image_prefixes),
        "Workers see the images the review records name, which can be any image under the "
        "two inference input prefixes (GetObject only).",
    )
    acknowledge_prefix_wildcards(
        owner,
        artifacts_bucket,
        [jobs_prefix, output_prefix],
        "Each job reads its own input files under relabel/jobs/<job>/ and writes its answers "
        "under relabel/output/<job>/; job names are made at run time.",
    )
    acknowledge_resources(
        owner,
        [f"{group}:*"],
        "Ground Truth writes one log stream per labeling job into its fixed log group.",
    )
    Validations.of(owner).acknowledge(
        Acknowledgment(
            id="NIST.800.53.R5-IAMNoInlinePolicy",
            reason="The Ground Truth role gets a policy generated from exact grants; an inline "
            "policy lives and dies with its role.",
        )
    )
    return role

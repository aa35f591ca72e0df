"""What the inference functions and workflows may do: exact grants, each acknowledged once.

Also the Distributed Map's S3 reader and writer, whose CDK grants cover the whole bucket: the
subclasses here limit them to the inference inputs and the batch results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.state_machine import Workflow
from stacks.pipelines.review_sampling import grant_review_samples
from stacks.pipelines.sagemaker_inference.names import BATCH_MAP_LABEL, BATCH_RESULTS_PREFIX

if TYPE_CHECKING:
    from stacks.pipelines.sagemaker_inference.construct import SageMakerInference


def grant_functions(owner: SageMakerInference, encryption_key: kms.IKey) -> None:
    input_prefix = owner.config.sagemaker.input_prefix
    data_bucket = owner.data_bucket
    readers = (owner.validate_function, owner.classify_function, owner.classify_batch_function)
    for function in readers:
        # HeadObject/GetObject (ranged and full) of the validated version; nothing else.
        grant_objects(
            function.role, data_bucket, input_prefix, ["s3:GetObject", "s3:GetObjectVersion"]
        )
        # With ListBucket on the input prefix S3 answers 404 for a missing key there
        # (without it, 403): a 403 is then a refusal, reported as ImageAccessDeniedError.
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{input_prefix}*"]}},
            )
        )
        encryption_key.grant_decrypt(function.role)
    for function in (owner.classify_function, owner.classify_batch_function):
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"], resources=[owner.endpoint_arn]
            )
        )
    # Classify writes the sampled confident records (relabel.sample_confident_share).
    grant_review_samples(owner.config, owner.classify_function.role, owner.artifacts_bucket)
    # The batch function writes the review records RecordForReview writes for one image.
    grant_objects(
        owner.classify_batch_function.role,
        owner.artifacts_bucket,
        owner.config.sagemaker.review_prefix,
        ["s3:PutObject"],
    )
    encryption_key.grant(owner.classify_batch_function.role, "kms:GenerateDataKey")
    grant_objects(
        owner.summarize_function.role,
        owner.artifacts_bucket,
        BATCH_RESULTS_PREFIX,
        ["s3:GetObject", "s3:PutObject"],
    )
    encryption_key.grant(owner.summarize_function.role, "kms:Decrypt", "kms:GenerateDataKey")


def grant_workflow(workflow: Workflow, encryption_key: kms.IKey) -> None:
    # RecordForReview writes an SSE-KMS object; the batch also writes its results.
    encryption_key.grant(workflow.state_machine.role, "kms:Decrypt", "kms:GenerateDataKey")


def batch_executions(owner: SageMakerInference) -> str:
    """The batch state machine's execution ARNs without the execution id, spelled as CDK's
    DistributedMap spells its grant (the name taken from the ARN)."""
    name = Fn.select(6, Fn.split(":", owner.batch.state_machine.state_machine_arn))
    return str(
        Stack.of(owner).format_arn(
            service="states",
            resource="execution",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
    )


def grant_map_run_lookup(owner: SageMakerInference) -> None:
    """SummarizeFailedBatch finds a failed Map Run's results through ListMapRuns on the
    batch execution. A policy of its own: in the function's default policy the grant would
    make the function depend on the state machine that invokes it (a cycle)."""
    executions = f"{batch_executions(owner)}:*"
    policy = owner.summarize_function.add_policy(
        "MapRunLookup",
        statements=[iam.PolicyStatement(actions=["states:ListMapRuns"], resources=[executions])],
    )
    acknowledge_resources(
        policy,
        [executions],
        "Summarize lists the Map Runs of the batch execution it summarizes, whose id is "
        "generated per run; limited to this state machine's executions (ListMapRuns only).",
    )


def acknowledge(owner: SageMakerInference) -> None:
    sagemaker = owner.config.sagemaker
    acknowledge_prefix_wildcards(
        owner,
        owner.data_bucket,
        [sagemaker.input_prefix],
        "Validate and Classify read any image under the inference input prefix "
        "(GetObject/GetObjectVersion only); the request names the key at run time.",
    )
    acknowledge_prefix_wildcards(
        owner,
        owner.artifacts_bucket,
        [sagemaker.review_prefix],
        "Low-confidence records are written under the review prefix, one per image key "
        "(PutObject only).",
    )
    acknowledge_prefix_wildcards(
        owner,
        owner.artifacts_bucket,
        [BATCH_RESULTS_PREFIX],
        "The Distributed Map writes each run's results under the batch results prefix (a "
        "new map-run folder each time); Summarize reads them and writes the summary beside "
        "them.",
    )
    executions = batch_executions(owner)
    acknowledge_resources(
        owner.batch,
        [f"{executions}:*", f"{executions}/{BATCH_MAP_LABEL}:*"],
        "A Distributed Map describes, stops and redrives its own child executions, whose "
        "names are generated per run; limited to this state machine's executions.",
    )


class PrefixObjectsReader(sfn.S3ObjectsItemReader):
    """Lists objects for a Distributed Map, allowed only under ``allowed_prefix``.

    CDK's reader grants ``s3:ListBucket`` on the whole bucket; the ``s3:prefix`` condition limits
    the listing to the inference inputs.
    """

    def __init__(self, *, bucket: s3.IBucket, prefix: str, allowed_prefix: str) -> None:
        super().__init__(bucket=bucket, prefix=prefix)
        self._listed_bucket = bucket
        self._allowed_prefix = allowed_prefix

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self._listed_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self._allowed_prefix}*"]}},
            )
        ]


class PrefixResultWriter(sfn.ResultWriterV2):
    """Writes a Distributed Map's results; the grant is limited to the results prefix.

    CDK's writer grants its S3 actions on every object of the bucket.
    """

    def __init__(self, *, bucket: s3.IBucket, prefix: str) -> None:
        super().__init__(bucket=bucket, prefix=prefix)
        self._results = bucket.arn_for_objects(f"{prefix}/*")

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[self._results],
            )
        ]

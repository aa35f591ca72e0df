"""What the training workflow and its evaluation function may do, and why cdk-nag may allow it.

Rekognition trains with the caller's permissions: the state machine's role reads the data
bucket, writes under ``models/`` of the artifacts bucket, uses the key, tags what it creates and
reads the entries of a dataset it copies. The evaluation function reads Rekognition's evaluation
files and writes reports. Each wildcard is acknowledged next to the grant that needs it.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from contracts.s3_layout import REKOGNITION_MODELS_PREFIX, REPORTS_PREFIX
from stacks.building_blocks.encryption import grant_service_grants
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import Workflow


def _grant_evaluation(
    evaluate_function: PythonFunction,
    artifacts_bucket: s3.IBucket,
    encryption_key: kms.IKey,
    data_bucket: s3.IBucket,
) -> None:
    """The evaluation function reads Rekognition's evaluation files and writes the reports
    (and the drift baseline, which lists the data bucket for the images' byte sizes)."""
    grant_objects(
        evaluate_function.role, artifacts_bucket, REKOGNITION_MODELS_PREFIX, ["s3:GetObject"]
    )
    grant_objects(evaluate_function.role, artifacts_bucket, REPORTS_PREFIX, ["s3:PutObject"])
    evaluate_function.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[data_bucket.bucket_arn])
    )
    encryption_key.grant(evaluate_function.role, "kms:Decrypt", "kms:GenerateDataKey")
    acknowledge_prefix_wildcards(
        evaluate_function,
        artifacts_bucket,
        [REKOGNITION_MODELS_PREFIX, REPORTS_PREFIX],
        "Reads the evaluation files Rekognition writes under models/ and writes reports "
        "under reports/, object names unknown until training runs.",
    )


def _grant_lineage(
    lineage_function: PythonFunction,
    data_bucket: s3.IBucket,
    artifacts_bucket: s3.IBucket,
    encryption_key: kms.IKey,
) -> None:
    """The lineage function reads the version ID and ETag of each manifest (a HEAD request is
    authorized by GetObject, and GetObjectVersion for a given version) and writes the record."""
    read = ["s3:GetObject", "s3:GetObjectVersion"]
    grant_objects(lineage_function.role, data_bucket, "", read)
    grant_objects(lineage_function.role, artifacts_bucket, "models/", read)
    grant_objects(lineage_function.role, artifacts_bucket, "reports/", ["s3:PutObject"])
    encryption_key.grant(lineage_function.role, "kms:Decrypt", "kms:GenerateDataKey")
    acknowledge_prefix_wildcards(
        lineage_function,
        data_bucket,
        [""],
        "A training request may name a manifest anywhere in the data bucket (ValidateInput "
        "refuses other buckets); the lineage function only reads its version ID and ETag.",
    )
    acknowledge_prefix_wildcards(
        lineage_function,
        artifacts_bucket,
        ["models/", "reports/"],
        "Reads the version ID and ETag of the manifest snapshots Rekognition writes under "
        "models/ and writes lineage.json under reports/, names unknown until training runs.",
    )


def _grant_workflow(
    workflow: Workflow,
    *,
    data_bucket: s3.IBucket,
    artifacts_bucket: s3.IBucket,
    encryption_key: kms.IKey,
    project_resources: list[str],
    any_dataset_arn: str,
) -> None:
    """What Rekognition does with the caller's permissions during training."""
    role = workflow.state_machine.role
    # Training reads the manifests and images of the data bucket ...
    grant_objects(
        role,
        data_bucket,
        "",
        ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
        list_bucket=True,
    )
    # ... and writes the model, its evaluation and manifest snapshots under models/.
    grant_objects(
        role,
        artifacts_bucket,
        REKOGNITION_MODELS_PREFIX,
        ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
        list_bucket=True,
    )
    encryption_key.grant(role, "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey")
    grant_service_grants(encryption_key, role)
    # CreateProjectVersion with Tags needs TagResource on the new version.
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["rekognition:TagResource"], resources=project_resources)
    )
    # CreateDataset from another dataset reads the source's entries (any project).
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["rekognition:ListDatasetEntries"],
            resources=[any_dataset_arn],
        )
    )
    Validations.of(workflow).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="rekognition:DescribeProjects authorizes on no resource type (it only "
            "lists project metadata) and rekognition:CreateProject neither, granted only "
            "with this workflow's ManagedBy request tag. (Also X-Ray and log delivery, see "
            "Workflow.)",
        ),
    )
    acknowledge_resources(
        workflow,
        project_resources,
        "The project's ARN ends in a creation timestamp unknown before the workflow creates "
        "it; the grant covers this one project's project, dataset and version ARNs only.",
    )
    acknowledge_resources(
        workflow,
        [any_dataset_arn],
        "Copying a dataset (CreateDataset from a DatasetArn) reads the source dataset's "
        "entries, which may belong to any project; ListDatasetEntries only.",
    )
    acknowledge_prefix_wildcards(
        workflow,
        data_bucket,
        [""],
        "Rekognition reads whichever manifest and images a request names in the data bucket "
        "(ValidateInput refuses other buckets); read-only.",
    )
    acknowledge_prefix_wildcards(
        workflow,
        artifacts_bucket,
        [REKOGNITION_MODELS_PREFIX],
        "Rekognition writes the model, its evaluation and manifest snapshots under models/ "
        "with names it chooses.",
    )

"""What the promotion may do, and what the source environment must allow it.

This environment's side (identity policies, below): the reader function gets the source's
lineage records (``reports/<source project>/*/lineage.json``, GetObject only), the source key
through S3 only (``kms:ViaService``) and by its alias (``kms:ResourceAliases``, the key id being
unknown here), and the source's SSM parameter. The workflow gets CopyProjectVersion on the
source project's versions and this project, and writes the copy under ``models/`` of its own
bucket with its own key, as training does.

The source's side, when it is another account: the source project's *project policy* allows
this account's workflow role to CopyProjectVersion (``ops promote`` sets it, PutProjectPolicy);
its artifacts bucket policy and key policy must allow this account's reader role the same
GetObject/Decrypt (README, "Promotion": the statements to add). Within one account the identity
policies suffice: S3 and KMS (whose key policy delegates to IAM) need nothing more, and
CopyProjectVersion needs no project policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from contracts.drift import BASELINE_FILE
from contracts.s3_layout import REKOGNITION_MODELS_PREFIX, REPORTS_PREFIX
from shared.lineage import LINEAGE_FILE
from stacks.building_blocks.encryption import grant_service_grants
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
    nag_resource,
)
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.config import PromotionSource


@dataclass(frozen=True)
class SourceLocation:
    """The source environment's resources, named as its own stacks name them."""

    environment: str
    #: The source account: configured, or this stack's account.
    account: str
    same_account: bool
    region: str
    project_name: str
    bucket_name: str
    key_alias: str
    parameter_name: str

    @classmethod
    def of(cls, source: PromotionSource, stack: Stack) -> SourceLocation:
        same = source.account is None or (
            not Token.is_unresolved(stack.account) and source.account == stack.account
        )
        account = stack.account if source.account is None else source.account
        region = stack.region
        return cls(
            environment=source.environment,
            account=account,
            same_account=same,
            region=region,
            project_name=source.project_name,
            # stacks.storage_stack.bucket_name: <prefix>-<env>-artifacts-<account>-<region>
            bucket_name=f"{source.resource_name_prefix}-artifacts-{account}-{region}",
            key_alias=f"alias/{source.resource_name_prefix}",
            parameter_name=source.model_version_parameter,
        )

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{self.region}:{self.account}:{resource}"

    @property
    def version_arns(self) -> str:
        """Every version of the source project (the project's creation time is unknown)."""
        return self._arn("rekognition", f"project/{self.project_name}/version/*")

    @property
    def lineage_objects(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:s3:::{self.bucket_name}/"
            f"{REPORTS_PREFIX}{self.project_name}/*/{LINEAGE_FILE}"
        )

    @property
    def baseline_objects(self) -> str:
        """The drift baselines of the source project's versions."""
        return (
            f"arn:{Aws.PARTITION}:s3:::{self.bucket_name}/"
            f"{REPORTS_PREFIX}{self.project_name}/*/{BASELINE_FILE}"
        )

    def decrypt_through_s3(self) -> iam.PolicyStatement:
        """Decrypt with the source's key, through S3 and by its alias only."""
        return iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[self.any_key],
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": self.key_alias},
            },
        )

    @property
    def parameter_arn(self) -> str:
        return self._arn("ssm", f"parameter{self.parameter_name}")

    @property
    def parameter_reference(self) -> str:
        """What GetParameter is given: the name in this account, the ARN in another (a
        parameter shared with this account is read by its ARN)."""
        return self.parameter_name if self.same_account else self.parameter_arn

    @property
    def any_key(self) -> str:
        return self._arn("kms", "key/*")


def _grant_read_source(function: PythonFunction, source: SourceLocation) -> None:
    """The reader: the source's lineage records, its key through S3 by alias, its parameter."""
    function.add_policy(
        "ReadSourcePolicy",
        statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[source.lineage_objects]),
            source.decrypt_through_s3(),
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[source.parameter_arn]),
        ],
        acknowledgements=[
            (
                f"AwsSolutions-IAM5[Resource::{nag_resource(function, source.lineage_objects)}]",
                f"Reads only the lineage records of {source.environment}'s project, one per "
                "version; version names are known only when a promotion starts.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{nag_resource(function, source.any_key)}]",
                f"The id of {source.environment}'s key is not known to this stack: Decrypt is "
                f"limited to the key with alias {source.key_alias}, used through S3.",
            ),
            (
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "The function's own policy of exact statements; lives and dies with its role.",
            ),
        ],
    )


def _grant_copy_baseline(
    function: PythonFunction,
    source: SourceLocation,
    *,
    artifacts_bucket: s3.IBucket,
    encryption_key: kms.IKey,
    target_project: str,
) -> None:
    """The baseline copy: the source's baselines (read), this project's baselines (write)."""
    target = artifacts_bucket.arn_for_objects(f"{REPORTS_PREFIX}{target_project}/*/{BASELINE_FILE}")
    function.add_policy(
        "CopyBaselinePolicy",
        statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[source.baseline_objects]),
            source.decrypt_through_s3(),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[target]),
            # PutObject under the bucket's default SSE-KMS: a data key of this environment's key.
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"], resources=[encryption_key.key_arn]
            ),
        ],
        acknowledgements=[
            (
                f"AwsSolutions-IAM5[Resource::{nag_resource(function, source.baseline_objects)}]",
                f"Reads only the drift baselines of {source.environment}'s project, one per "
                "version; version names are known only when a promotion starts.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{nag_resource(function, target)}]",
                "Writes only the drift baselines of this environment's project, one per version.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{nag_resource(function, source.any_key)}]",
                f"The id of {source.environment}'s key is not known to this stack: Decrypt is "
                f"limited to the key with alias {source.key_alias}, used through S3.",
            ),
            (
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "The function's own policy of exact statements; lives and dies with its role.",
            ),
        ],
    )


def _grant_workflow(
    workflow: Workflow,
    *,
    artifacts_bucket: s3.IBucket,
    encryption_key: kms.IKey,
    project_resources: list[str],
    source: SourceLocation,
) -> None:
    """What Rekognition does with the workflow's permissions while copying."""
    role = workflow.state_machine.role
    # The copy's output (the model's files) goes under models/ of this environment's bucket.
    grant_objects(
        role,
        artifacts_bucket,
        REKOGNITION_MODELS_PREFIX,
        ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
        list_bucket=True,
    )
    encryption_key.grant(role, "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey")
    grant_service_grants(encryption_key, role)
    # CopyProjectVersion with Tags needs TagResource on the new version.
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["rekognition:TagResource"], resources=project_resources)
    )
    acknowledge_resources(
        workflow,
        project_resources,
        "The target project's ARN ends in a creation timestamp unknown before the workflow "
        "creates it; the grant covers this one project's project and version ARNs only.",
    )
    acknowledge_resources(
        workflow,
        [source.version_arns],
        f"CopyProjectVersion reads a version of {source.environment}'s project, named only "
        "when a promotion starts; the grant covers that one project's versions.",
    )
    acknowledge_prefix_wildcards(
        workflow,
        artifacts_bucket,
        [REKOGNITION_MODELS_PREFIX],
        "Rekognition writes the copied model's files under models/ with names it chooses.",
    )
    Validations.of(workflow).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="rekognition:DescribeProjects authorizes on no resource type and "
            "rekognition:CreateProject neither, granted only with this workflow's ManagedBy "
            "request tag. (Also X-Ray and log delivery, see Workflow.)",
        ),
    )

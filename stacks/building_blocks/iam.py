"""Exact-action IAM statements for S3 prefixes, and cdk-nag's spelling of a resource.

CDK's ``bucket.grant_*`` hand out wildcard actions (``s3:GetObject*``, ``s3:List*``,
``kms:GenerateDataKey*``); these helpers grant only the actions a caller names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct


def grant_objects(
    grantee: iam.IGrantable,
    bucket: s3.IBucket,
    prefix: str,
    actions: Sequence[str],
    *,
    list_bucket: bool = False,
) -> None:
    """Allow ``actions`` on the objects under ``prefix`` (``""`` = the whole bucket)."""
    if prefix and not prefix.endswith("/"):
        raise ValueError(f"grant_objects: prefix {prefix!r} must end with '/'")
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")])
    )
    if list_bucket:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions=({"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None),
            )
        )
        # GetBucketLocation carries no s3:prefix (the authorization reference lists no such
        # key for it): under the prefix condition above it would never be allowed.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn])
        )


def nag_resource(scope: Construct, value: str) -> str:
    """How cdk-nag spells a resource in a granular finding id (``IAM5[Resource::...]``)."""
    return _render(Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    return json.dumps(value, separators=(",", ":"))


def acknowledge_prefix_wildcards(
    scope: Construct, bucket: s3.IBucket, prefixes: Sequence[str], reason: str
) -> None:
    """Acknowledge ``AwsSolutions-IAM5`` for object ARNs under the given prefixes of ``bucket``."""
    acknowledge_resources(scope, [bucket.arn_for_objects(f"{p}*") for p in prefixes], reason)


def acknowledge_resources(scope: Construct, arns: Sequence[str], reason: str) -> None:
    """Acknowledge ``AwsSolutions-IAM5`` for wildcard resource ARNs granted within ``scope``."""
    Validations.of(scope).acknowledge(
        *(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag_resource(scope, arn)}]", reason=reason
            )
            for arn in arns
        )
    )

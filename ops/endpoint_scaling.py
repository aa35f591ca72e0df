"""The endpoint's autoscaling in ``ops teardown``: found by its exact resource id, removed before
the endpoint (the scaling policies, then the scalable target the deploy workflow registered)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks.endpoint_scaling import SCALABLE_DIMENSION, SCALING_NAMESPACE, scaling_resource_id

if TYPE_CHECKING:
    from ops.teardown import Findings, Teardown


def find_scaling(teardown: Teardown, found: Findings) -> None:
    """The variant's scalable target and policies, by their exact resource id."""
    target = {
        "ServiceNamespace": SCALING_NAMESPACE,
        "ScalableDimension": SCALABLE_DIMENSION,
    }
    resource_id = scaling_resource_id(teardown.endpoint)
    found.scalable_target = any(
        item["ResourceId"] == resource_id
        for item in teardown.pages(
            "application-autoscaling",
            "describe_scalable_targets",
            "ScalableTargets",
            ResourceIds=[resource_id],
            **target,
        )
    )
    found.scaling_policies = [
        str(item["PolicyName"])
        for item in teardown.pages(
            "application-autoscaling",
            "describe_scaling_policies",
            "ScalingPolicies",
            ResourceId=resource_id,
            **target,
        )
    ]


def remove_scaling(teardown: Teardown, found: Findings) -> None:
    """The scaling policies, then the scalable target (already gone: nothing to do)."""
    target = {
        "ServiceNamespace": SCALING_NAMESPACE,
        "ResourceId": scaling_resource_id(teardown.endpoint),
        "ScalableDimension": SCALABLE_DIMENSION,
    }
    for policy in found.scaling_policies:
        teardown._ignoring(
            ("ObjectNotFoundException",),
            "application-autoscaling",
            "delete_scaling_policy",
            PolicyName=policy,
            **target,
        )
        teardown._done(f"scaling policy {policy} deleted")
    if found.scalable_target:
        teardown._ignoring(
            ("ObjectNotFoundException",),
            "application-autoscaling",
            "deregister_scalable_target",
            **target,
        )
        teardown._done(f"scalable target {target['ResourceId']} deregistered")

"""How the endpoint's variant and its autoscaling are named, for the deploy workflow and ``ops``.

Plain Python (no CDK import): ``ops teardown`` reads it and must start fast. The workflow's
states are built in ``stacks/pipelines/sagemaker_training/endpoint.py``.
"""

from __future__ import annotations

#: The endpoint's one production variant (its metrics are per endpoint and variant).
VARIANT_NAME = "AllTraffic"
#: Application Auto Scaling's names for a SageMaker production variant's instance count.
SCALING_NAMESPACE = "sagemaker"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"


def scaling_resource_id(endpoint_name: str) -> str:
    """The scalable target of the endpoint's variant: ``endpoint/<name>/variant/<variant>``."""
    return f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}"


def scaling_policy_name(endpoint_name: str) -> str:
    """The target-tracking policy the deploy workflow puts on the variant."""
    return f"{endpoint_name}-invocations-per-instance"

"""What the app names an environment's stacks and resources (the stacks create them by these
names; ``ops`` finds them by the same).

``<resource_prefix>-<environment>`` (the *resource name prefix*) starts every physical name, so
two environments in one account never share a resource.
"""

from __future__ import annotations

import re
from typing import Final

#: An environment's name (cdk.json ``environments`` keys, ``promotion.source_environment``): it
#: goes into stack names, resource name prefixes and bucket names.
ENVIRONMENT_NAME: Final = re.compile(r"^[a-z][a-z0-9]{0,15}$")

#: The two pipelines as records and metrics name them: a lineage record's ``pipeline``, the
#: drift metrics' ``Pipeline`` dimension, the review queue a relabelling job reads.
REKOGNITION: Final = "rekognition"
SAGEMAKER: Final = "sagemaker"
PIPELINES: Final = (REKOGNITION, SAGEMAKER)

#: The stacks of every environment, by concern (``stacks/environment.py`` builds them).
STACK_CONCERNS: Final[tuple[str, ...]] = (
    "Storage",
    "Alerting",
    "RekognitionTraining",
    "RekognitionInference",
    "SageMaker",
    "Relabel",
    "Monitoring",
)
#: The stack of an isolated environment's network (VPC and endpoints): only where it is isolated.
NETWORK_CONCERN: Final = "Network"


def stack_concerns(*, isolated: bool) -> tuple[str, ...]:
    """The stacks an environment has: :data:`STACK_CONCERNS`, and its Network stack if isolated."""
    return ((NETWORK_CONCERN,) if isolated else ()) + STACK_CONCERNS


#: Concerns whose stack name is not their kebab-case.
_STACK_NAME_EXCEPTIONS: Final = {"SageMaker": "sagemaker"}


def resource_name_prefix(resource_prefix: str, environment: str) -> str:
    """``<resource_prefix>-<environment>``: the start of every physical name."""
    return f"{resource_prefix}-{environment}"


def stack_name(name_prefix: str, concern: str) -> str:
    """CloudFormation name of one of the environment's stacks: ``RekognitionInference`` ->
    ``<prefix>-<env>-rekognition-inference`` (``SageMaker`` is one word: ``sagemaker``)."""
    kebab = _STACK_NAME_EXCEPTIONS.get(concern) or re.sub(r"(?<!^)(?=[A-Z])", "-", concern)
    return f"{name_prefix}-{kebab.lower()}"


def stack_id(environment: str, concern: str) -> str:
    """Stable construct id of a stack, e.g. ``DevStorage``."""
    return f"{environment.capitalize()}{concern}"


def dashboard_name(name_prefix: str) -> str:
    """The environment's CloudWatch operations dashboard."""
    return f"{name_prefix}-operations"


def overview_dashboard_name(name_prefix: str) -> str:
    """The environment's one-screen CloudWatch dashboard."""
    return f"{name_prefix}-overview"


def model_version_parameter(name_prefix: str) -> str:
    """SSM parameter naming the Rekognition model version inference uses."""
    return f"/{name_prefix}/rekognition/model-version-arn"


def consumer_capacity_parameter(name_prefix: str) -> str:
    """SSM parameter with the pace the inference consumers may call the model at."""
    return f"/{name_prefix}/rekognition/consumer-capacity"


#: The environment's buckets, by purpose (the storage stack creates them).
BUCKET_PURPOSES: Final[tuple[str, ...]] = ("data", "artifacts", "access-logs")


def bucket_name(name_prefix: str, purpose: str, account: str, region: str) -> str:
    """``<prefix>-<env>-<purpose>-<account>-<region>``: globally unique, known before deploy.

    Other stacks and ``ops`` compute the same name, so their IAM statements and calls name the
    bucket statically instead of importing it from the storage stack.
    """
    return f"{name_prefix}-{purpose}-{account}-{region}"


def key_alias(name_prefix: str) -> str:
    """The environment's customer-managed KMS key."""
    return f"alias/{name_prefix}"


def alert_topic_name(name_prefix: str) -> str:
    """The environment's alert topic."""
    return f"{name_prefix}-alerts"


def sagemaker_job_prefix(name_prefix: str) -> str:
    """Prefix of SageMaker training job, model and endpoint-config names; IAM is scoped to it."""
    return f"{name_prefix}-ic"

"""Plumbing shared by every ``python -m ops`` command: configuration, stack lookups, errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from stacks.config import ConfigError, EnvironmentConfig, load_environment

ROOT = Path(__file__).resolve().parents[1]
# Runtime code shared with the Lambda functions (e.g. the evaluation report) lives in lambda_src.
if str(ROOT / "lambda_src") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambda_src"))


class UsageError(Exception):
    """Bad input from the operator; printed as one line, exit code 2."""


def load_context(cdk_json: Path = ROOT / "cdk.json") -> dict[str, Any]:
    """The ``context`` block of cdk.json, as ``cdk synth`` sees it."""
    try:
        context: dict[str, Any] = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read the context of {cdk_json}: {error}") from error
    return context


def environment(name: str) -> EnvironmentConfig:
    """The validated configuration of environment ``name``."""
    try:
        return load_environment(load_context(), name)
    except ConfigError as error:
        raise UsageError(f"configuration error in cdk.json: {error}") from error


#: Concerns whose stack name is not their kebab-case (stacks/environment.py names them so).
_STACK_NAME_EXCEPTIONS = {"SageMaker": "sagemaker"}


def stack_name(config: EnvironmentConfig, concern: str) -> str:
    """CloudFormation name of one of the environment's stacks (see stacks/environment.py).

    ``RekognitionInference`` -> ``<prefix>-<env>-rekognition-inference``; a test checks this
    against every synthesized stack.
    """
    kebab = _STACK_NAME_EXCEPTIONS.get(concern) or re.sub(r"(?<!^)(?=[A-Z])", "-", concern)
    return f"{config.resource_name_prefix}-{kebab.lower()}"


def stack_outputs(config: EnvironmentConfig, concern: str, cloudformation: Any) -> dict[str, str]:
    """Outputs of a deployed stack, e.g. ``stack_outputs(config, "Storage", boto3_client)``.

    Operators name an environment; bucket names, ARNs and URLs come from the stacks themselves.
    """
    name = stack_name(config, concern)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as error:  # botocore ClientError: the stack is not deployed
        raise UsageError(f"stack {name} is not deployed in this account/region: {error}") from error
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}

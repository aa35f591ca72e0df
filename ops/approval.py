"""``python -m ops approve`` / ``ops reject``: of a SageMaker model package (``--package ARN``,
here) or of a Rekognition promotion that waits for approval (``--execution ARN``,
``ops.promotion_decision``). One command each, one of the two options.

The training workflow registers each model that passed its gate in the environment's model
package group. Approving one (``UpdateModelPackage``, ``ModelApprovalStatus: Approved``) makes
SageMaker emit a "SageMaker Model Package State Change" event, and in an environment whose
``sagemaker.training.deploy`` is ``on_approval`` the deploy workflow deploys it. Rejecting one
records the decision and its reason (``ApprovalDescription``) on the package; it undeploys
nothing.

Every argument is checked before AWS is called: the ARN must be a versioned package of this
environment's group (``model-package/<group>/<version>``). The package is read first, so a
typo, a package of another group, or a decision already taken is said plainly.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops import promotion_decision
from ops.common import UsageError, aws_client, aws_failure, environment
from stacks.config import DEPLOY_ON_APPROVAL, EnvironmentConfig

APPROVED = "Approved"
REJECTED = "Rejected"
#: UpdateModelPackage's ApprovalDescription (botocore: at most 1024 characters).
MAX_DESCRIPTION = 1024
_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>\d{1,10})"
)


@dataclass(frozen=True)
class Package:
    arn: str
    group: str
    version: str


def package_arn(text: str) -> Package:
    """``--package``: a versioned model package ARN."""
    match = _PACKAGE_ARN.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            "not a versioned model package ARN (arn:aws:sagemaker:REGION:ACCOUNT:"
            f"model-package/GROUP/VERSION): {text!r}"
        )
    return Package(arn=text.strip(), group=match["group"], version=match["version"])


def description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_DESCRIPTION} characters (SageMaker's limit), got {len(text)}"
        )
    return text


def _check_group(config: EnvironmentConfig, package: Package) -> None:
    group = config.sagemaker.model_package_group_name(config.resource_name_prefix)
    if package.group != group:
        raise UsageError(
            f"--package: model package {package.arn} belongs to group {package.group!r}; "
            f"environment {config.name} registers its models in {group!r}"
        )


def _describe(sagemaker: Any, package: Package) -> dict[str, Any]:
    try:
        described: dict[str, Any] = sagemaker.describe_model_package(ModelPackageName=package.arn)
    except (BotoCoreError, ClientError) as error:
        if "does not exist" in str(error) or "not found" in str(error).lower():
            raise UsageError(
                f"--package: no model package {package.arn} (python -m ops approve needs a "
                "package the training workflow registered: see its REGISTERED notification)"
            ) from error
        raise aws_failure(error, f"cannot describe model package {package.arn}") from error
    return described


def decide(
    config: EnvironmentConfig, package: Package, status: str, text: str, sagemaker: Any
) -> str:
    """Record ``status`` on the package; returns what happened, for the operator."""
    _check_group(config, package)
    current = _describe(sagemaker, package).get("ModelApprovalStatus")
    if current == status:
        return f"model package {package.arn} is already {status}: nothing changed"
    try:
        sagemaker.update_model_package(
            ModelPackageArn=package.arn, ModelApprovalStatus=status, ApprovalDescription=text
        )
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, f"cannot update model package {package.arn}") from error
    said = f"model package {package.arn}: {current} -> {status}"
    if status == APPROVED:
        if config.sagemaker.training.deploy == DEPLOY_ON_APPROVAL:
            return (
                f"{said}. The deploy workflow of {config.name} deploys it now; its "
                "notification says when the endpoint serves it."
            )
        return (
            f"{said}. Environment {config.name} deploys directly from training "
            "(sagemaker.training.deploy = direct): the approval is recorded, nothing is deployed."
        )
    return f"{said}, recorded with the reason. A deployed model stays deployed until another is."


def command_approve(arguments: argparse.Namespace) -> int:
    if arguments.package is None:
        return promotion_decision.command_approve(arguments)
    config = environment(arguments.env)
    text = arguments.comment or "Approved with python -m ops approve"
    print(decide(config, arguments.package, APPROVED, text, aws_client("sagemaker", config.region)))
    return 0


def command_reject(arguments: argparse.Namespace) -> int:
    if arguments.package is None:
        return promotion_decision.command_reject(arguments)
    config = environment(arguments.env)
    if not arguments.reason.strip():
        raise UsageError("--reason: say why the package is rejected (it is recorded)")
    print(
        decide(
            config,
            arguments.package,
            REJECTED,
            arguments.reason,
            aws_client("sagemaker", config.region),
        )
    )
    return 0


def register(commands: Any) -> None:
    approve = commands.add_parser(
        "approve",
        help="approve a registered SageMaker model package (--package ARN) or a promotion "
        "that waits for approval (--execution ARN)",
        description="--package: approve a model package of the environment's group; SageMaker "
        "emits the state change and, where sagemaker.training.deploy is on_approval, the "
        "deploy workflow deploys that package. --execution: answer the approval a Rekognition "
        "promotion execution waits for (the task token is read from the execution's history; "
        "the command line is in the approval notification): the version is copied into --env "
        "and deployed.",
    )
    approve.add_argument(
        "--env", required=True, help="environment name from cdk.json (a promotion's target)"
    )
    what = approve.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--package",
        type=package_arn,
        help="a SageMaker model package ARN (from the REGISTERED notification)",
    )
    what.add_argument("--execution", help="a promotion's execution ARN")
    approve.add_argument("--comment", default="", type=description, help="recorded with it")
    approve.set_defaults(handler=command_approve)
    reject = commands.add_parser(
        "reject",
        help="reject a registered SageMaker model package (--package) or a waiting promotion "
        "(--execution), with --reason",
        description="--package: the decision and its reason are recorded on the model package "
        "(ApprovalDescription); nothing is undeployed. --execution: the promotion notifies "
        "with the reason and ends REJECTED; nothing is copied.",
    )
    reject.add_argument(
        "--env", required=True, help="environment name from cdk.json (a promotion's target)"
    )
    what = reject.add_mutually_exclusive_group(required=True)
    what.add_argument("--package", type=package_arn, help="a SageMaker model package ARN")
    what.add_argument("--execution", help="a promotion's execution ARN")
    reject.add_argument(
        "--reason", required=True, type=description, help="why (recorded, and notified)"
    )
    reject.set_defaults(handler=command_reject)

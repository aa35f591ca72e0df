"""``ops promote``: start the promotion of a source environment's version into this environment.

Before it starts anything: the environment must promote (``promotion`` in cdk.json), the source
project must exist, and, when the source is another account, its project policy must allow this
environment's promotion role to copy (CopyProjectVersion): ``promote`` sets it with
PutProjectPolicy when it is missing or different, passing the revision it read so a policy
changed meanwhile is not overwritten. Then it starts the workflow with the version (or the
source's published one), the source project's ARN and who asked.

Calls to the source go through ``--source-profile`` (default: the same credentials), calls to
this environment through the usual credentials.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ops.common import (
    AwsEnvironmentError,
    OpsError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    stack_outputs,
)
from shared.model_version import ModelVersion
from shared.rekognition_lookup import find_project
from stacks.config import EnvironmentConfig

#: The output of the training stack naming the promotion workflow.
STATE_MACHINE_OUTPUT = "PromotionStateMachineArn"
_VERSION_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: PutProjectPolicy attempts when another writer changes the policy in between.
POLICY_ATTEMPTS = 3


def policy_name(config: EnvironmentConfig) -> str:
    """The source project's policy this environment owns (one per promoting environment)."""
    return f"promote-to-{config.resource_name_prefix}"


def copy_policy(source_version_arns: str, principal_arn: str) -> dict[str, Any]:
    """Allow ``principal_arn`` (the target's workflow role) to copy the source's versions."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal_arn},
                "Action": "rekognition:CopyProjectVersion",
                "Resource": source_version_arns,
            }
        ],
    }


@dataclass(frozen=True)
class PolicyChange:
    """What :func:`ensure_project_policy` did: ``created``, ``updated`` or ``unchanged``."""

    action: str
    revision_id: str | None


def ensure_project_policy(
    rekognition: Any, project_arn: str, name: str, document: dict[str, Any]
) -> PolicyChange:
    """The source project's policy ``name`` says ``document``; created or replaced if not.

    ListProjectPolicies gives the current revision; PutProjectPolicy with that revision replaces
    it only if nobody changed it meanwhile (InvalidPolicyRevisionIdException: read again, at
    most :data:`POLICY_ATTEMPTS` times); without one it creates the policy
    (ResourceAlreadyExistsException: someone created it meanwhile, read again).
    """
    for _attempt in range(POLICY_ATTEMPTS):
        current = _current_policy(rekognition, project_arn, name)
        if current is not None and json.loads(current["PolicyDocument"]) == document:
            return PolicyChange("unchanged", current.get("PolicyRevisionId"))
        request: dict[str, Any] = {
            "ProjectArn": project_arn,
            "PolicyName": name,
            "PolicyDocument": json.dumps(document),
        }
        if current is not None:
            request["PolicyRevisionId"] = current["PolicyRevisionId"]
        try:
            revision = rekognition.put_project_policy(**request)["PolicyRevisionId"]
        except ClientError as error:
            if error_code(error) in (
                "InvalidPolicyRevisionIdException",
                "ResourceAlreadyExistsException",
            ):
                continue  # changed meanwhile: read the new revision and decide again
            if error_code(error) == "MalformedPolicyDocumentException":
                raise OpsError(
                    f"the source project refused the policy document: {error}"
                ) from error
            raise aws_failure(error, f"cannot set the project policy of {project_arn}") from error
        return PolicyChange("updated" if current is not None else "created", str(revision))
    raise AwsEnvironmentError(
        f"the policy {name} of {project_arn} kept changing while it was being set "
        f"({POLICY_ATTEMPTS} attempts); run ops promote again"
    )


def _current_policy(rekognition: Any, project_arn: str, name: str) -> dict[str, Any] | None:
    paginator = rekognition.get_paginator("list_project_policies")
    for page in paginator.paginate(ProjectArn=project_arn):
        for policy in page.get("ProjectPolicies", []):
            if policy.get("PolicyName") == name:
                return dict(policy)
    return None


def execution_name(version: str | None, now: float | None = None) -> str:
    """``promote-<version>-<unix time>``: at most 80 characters Step Functions accepts."""
    stamp = str(int(now if now is not None else time.time()))
    label = _EXECUTION_NAME_UNSAFE.sub("-", version or "published")[: 80 - len(stamp) - 9]
    return f"promote-{label}-{stamp}"


def _source_session(profile: str | None) -> Any:
    if profile is None:
        return boto3._get_default_session()
    try:
        return boto3.Session(profile_name=profile)
    except BotoCoreError as error:
        raise aws_failure(error, f"cannot use profile {profile}") from error


def _version_arguments(version: str | None) -> None:
    if version is None or version.startswith("arn:"):
        if version is not None and ModelVersion.parse(version) is None:
            raise UsageError(f"--version: not a model version ARN: {version!r}")
        return
    if not _VERSION_NAME.fullmatch(version):
        raise UsageError(
            f"--version: a version name (letters, digits, _.-) or its ARN, got {version!r}"
        )


def command_promote(arguments: argparse.Namespace) -> int:
    """Check and set up the source, then start the promotion; prints the execution ARN."""
    config = environment(arguments.env)
    _version_arguments(arguments.version)
    promotion = config.promotion
    if promotion is None or promotion.source is None:
        raise UsageError(
            f"environment {config.name} promotes nothing: set environments.{config.name}."
            'promotion.source_environment in cdk.json (e.g. "dev") and deploy'
        )
    source = promotion.source
    region = config.region or source.region
    target_sfn = aws_client("stepfunctions", region)
    outputs = stack_outputs(config, "RekognitionTraining", aws_client("cloudformation", region))
    state_machine = outputs.get(STATE_MACHINE_OUTPUT)
    if not state_machine:
        raise AwsEnvironmentError(
            f"stack {config.stack_name('RekognitionTraining')} has no promotion workflow: "
            f"deploy it again (make deploy ENV={config.name})"
        )
    session = _source_session(arguments.source_profile)
    try:
        rekognition = session.client("rekognition", region_name=region)
        project = find_project(rekognition, source.project_name)
        if project is None:
            raise AwsEnvironmentError(
                f"{source.environment}'s project {source.project_name} does not exist in the "
                "source account (check --source-profile): nothing to promote"
            )
        project_arn = str(project["ProjectArn"])
        source_account = project_arn.split(":")[4]
        role_arn = str(target_sfn.describe_state_machine(stateMachineArn=state_machine)["roleArn"])
        requested_by = str(aws_client("sts", region).get_caller_identity()["Arn"])
        version = arguments.version
        if role_arn.split(":")[4] != source_account:
            versions = project_arn.rsplit("/", 1)[0] + "/version/*/*"
            change = ensure_project_policy(
                rekognition, project_arn, policy_name(config), copy_policy(versions, role_arn)
            )
            print(
                f"Project policy {policy_name(config)} of {project_arn}: {change.action} "
                f"(revision {change.revision_id}); allows {role_arn} to copy its versions."
            )
            if version is None:
                version = _published_version(session, region, source.model_version_parameter)
        else:
            print(f"{source.environment} is in this account: no project policy is needed.")
        request = {
            "source_project_arn": project_arn,
            "requested_by": requested_by,
            **({"version": version} if version else {}),
        }
        started = target_sfn.start_execution(
            stateMachineArn=state_machine,
            name=execution_name(_version_label(version)),
            input=json.dumps(request),
        )
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, "cannot start the promotion") from error
    what = f"version {version}" if version else f"{source.environment}'s published version"
    approval = (
        f"It waits up to {promotion.approval_timeout_hours} hours for approval: the "
        "notification names the ops approve / ops reject command."
        if promotion.requires_approval
        else "No approval is configured: it copies and deploys now."
    )
    print(f"Promotion of {what} from {source.environment} to {config.name} started.")
    print(f"Execution: {started['executionArn']}")
    print(approval)
    return 0


def _version_label(version: str | None) -> str | None:
    """The version's name (an ARN's version part), for the execution name."""
    if version is None or not version.startswith("arn:"):
        return version
    model = ModelVersion.parse(version)
    return model.version if model else None


def _published_version(session: Any, region: str | None, parameter: str) -> str:
    """The source's published version ARN, read with the source's credentials."""
    try:
        value = session.client("ssm", region_name=region).get_parameter(Name=parameter)
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            raise UsageError(
                f"the source publishes no version ({parameter} does not exist): name one with "
                "--version"
            ) from error
        raise
    return str(value["Parameter"]["Value"])


def register(commands: Any) -> None:
    """Add ``promote`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "promote",
        help="promote a model version from the source environment (copy, approve, deploy)",
        description="Start the promotion workflow of --env: it reads the version's lineage in "
        "the source environment (promotion.source_environment), refuses a version whose gate "
        "did not pass, waits for approval when configured, copies the version with "
        "CopyProjectVersion and deploys it. When the source is another account, first sets "
        "the source project's policy so this environment may copy (PutProjectPolicy; run with "
        "credentials of the source account, --source-profile). Without --version, the "
        "version the source environment publishes (its SSM parameter) is promoted.",
    )
    parser.add_argument("--env", required=True, help="the target environment (e.g. prod)")
    parser.add_argument("--version", help="version name or ARN in the source environment")
    parser.add_argument(
        "--source-profile",
        help="AWS profile of the source account (default: the current credentials)",
    )
    parser.set_defaults(handler=command_promote)

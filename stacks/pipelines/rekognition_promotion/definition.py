"""The state graph of the promotion workflow.

``WrapRequest`` -> ``ReadSource`` (the source version, its lineage, its verdict; refusals
fail the run) -> ``RequestApproval`` (SNS with a task token, when ``requires_approval``; a
rejection or the timeout -> ``NotifyRejected`` -> ``PromotionRejected``) -> ``FindProject``
(``CreateProject`` or ``UseProject``, the target's project) -> ``CopyVersion`` and its bounded
copy poll -> the training workflow's deployment: ``ReadCurrentModel`` ... ``Deployed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts.s3_layout import REKOGNITION_MODELS_PREFIX
from shared.promotion import APPROVAL_STATE, REJECTED_ERROR, TOKEN_ATTRIBUTE
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import TaskGuard
from stacks.config import EnvironmentConfig
from stacks.pipelines.rekognition_training.definition import _create_project, _find_project
from stacks.pipelines.rekognition_training.deployment import DeployOrigin, _deploy
from stacks.pipelines.rekognition_training.polling import _poll_version, _Scope, _sdk
from stacks.pipelines.rekognition_training.statuses import COPY

#: The ``ManagedBy`` tag of what the promotion creates (its project, the copied versions).
MANAGED_BY = "rekognition-promotion-workflow"

#: Where a promoted version's files go in the target's artifacts bucket (Rekognition writes them).
PROMOTED_MODELS = f"{REKOGNITION_MODELS_PREFIX}promoted/"


@dataclass(frozen=True)
class _PromotionParts:
    owner: Construct
    config: EnvironmentConfig
    read_source_function: PythonFunction
    copy_baseline_function: PythonFunction
    artifacts_bucket: s3.IBucket
    encryption_key: kms.IKey
    #: The target project's ARNs (``project/<name>/*``).
    project_resources: list[str]
    #: What CopyProjectVersion reads: the source project's versions.
    source_version_resources: list[str]
    model_parameter_arn: str


def _definition(parts: _PromotionParts, guard: TaskGuard) -> sfn.IChainable:
    config = parts.config
    promotion = config.promotion
    assert promotion is not None
    assert promotion.source is not None
    source_env = promotion.source.environment
    states = Construct(parts.owner, "States")
    scope = _Scope(states, guard, parts.project_resources)
    tags = {"Environment": config.name, "ManagedBy": MANAGED_BY, "PromotedFrom": source_env}

    # Any JSON value may start a run: wrapped so a Catch can record into an object.
    wrap = sfn.Pass(states, "WrapRequest", parameters={"request.$": "$"})
    read_source = guard.invoke(
        states,
        "ReadSource",
        function=parts.read_source_function.function,
        timeout=Duration.seconds(60),
        payload=sfn.TaskInput.from_object({"request.$": "$.request"}),
    )

    rejected = guard.notify(
        states,
        "NotifyRejected",
        outcome="REJECTED",
        summary=(
            f"Promotion of version {{}} from {source_env} was REJECTED ({{}}): {{}}\n"
            f"Nothing was copied; {config.name} keeps serving what it served.\nLineage: {{}}"
        ),
        values=[
            sfn.JsonPath.string_at("$.source.version_name"),
            sfn.JsonPath.string_at("$.decision.Error"),
            sfn.JsonPath.string_at("$.decision.Cause"),
            sfn.JsonPath.string_at("$.source.lineage_uri"),
        ],
    )
    rejected.next(
        sfn.Pass(
            states,
            "RejectedOutcome",
            parameters={
                "outcome": "REJECTED",
                "source_version_arn.$": "$.source.version_arn",
                "decision.$": "$.decision.Error",
                "reason.$": "$.decision.Cause",
                "lineage_uri.$": "$.source.lineage_uri",
            },
        )
    ).next(sfn.Succeed(states, "PromotionRejected"))

    use_project = sfn.Pass(
        states,
        "UseProject",
        parameters={"arn.$": "$.lookup.page.ProjectDescriptions[0].ProjectArn"},
        result_path="$.project",
    )
    create_project = _create_project(scope, tags)
    find_project = _find_project(scope, found=use_project, absent=create_project)
    if promotion.requires_approval:
        approval = _approval(scope, config, rejected)
        read_source.next(approval)
        approval.next(find_project)
    else:
        read_source.next(
            sfn.Pass(
                states,
                "NoApprovalRequired",
                parameters={"approved_by": "nobody: promotion.requires_approval is false"},
                result_path="$.approval",
            )
        ).next(find_project)

    copy = _copy(scope, parts, tags)
    use_project.next(copy)
    create_project.next(copy)

    deploy = _deploy(
        scope,
        config.rekognition_training.start_poll_seconds,
        config.rekognition_training.start_max_polls,
        config=config,
        model_parameter_arn=parts.model_parameter_arn,
        origin=DeployOrigin(
            summary=(
                f"Promoted from {source_env}: version {{}} (lineage {{}}), approved by {{}}.\n"
                "Drift baseline: {}\n"
            ),
            values=[
                sfn.JsonPath.string_at("$.source.version_arn"),
                sfn.JsonPath.string_at("$.source.lineage_uri"),
                sfn.JsonPath.string_at("$.approval.approved_by"),
                sfn.JsonPath.string_at("$.baseline.summary"),
            ],
            outcome={
                "source_version_arn.$": "$.source.version_arn",
                "lineage_uri.$": "$.source.lineage_uri",
                "approval.$": "$.approval",
                "baseline.$": "$.baseline",
            },
        ),
    )
    # The version's drift baseline follows it (before it is published, so the evaluator
    # finds it on its first run over the new version).
    copy_baseline = guard.invoke(
        states,
        "CopyBaseline",
        function=parts.copy_baseline_function.function,
        timeout=Duration.seconds(60),
        payload=sfn.TaskInput.from_object(
            {
                "source_version.$": "$.source.version_name",
                "target_version.$": "$.job.version_name",
            }
        ),
        result_path="$.baseline",
    )
    copy_baseline.next(deploy)
    copied = _poll_version(
        scope,
        "Copy",
        interval=Duration.seconds(promotion.copy_poll_seconds),
        max_polls=promotion.copy_max_polls,
        poll=COPY,
        result_path="$.copy",
        then=copy_baseline,
    )
    copy.next(copied)
    return wrap.next(read_source)


def _approval(scope: _Scope, config: EnvironmentConfig, rejected: sfn.IChainable) -> sfn.IChainable:
    """``RequestApproval``: publish what is to be promoted and how to decide, then wait for the
    token (``ops approve``/``ops reject``) at most ``approval_timeout_hours``."""
    promotion = config.promotion
    assert promotion is not None
    hours = promotion.approval_timeout_hours
    command = f"python -m ops {{}} --env {config.name} --execution {{{{}}}}"
    execution = sfn.JsonPath.execution_id
    request = scope.guard.notify_and_wait(
        scope.construct,
        APPROVAL_STATE,
        summary=(
            f"Version {{}} of {promotion.source_environment} waits for approval to be promoted "
            f"to {config.name}.\nGate: {{}} = {{}} (threshold {{}}).\nReport: {{}}\n"
            "Lineage: {}\nRequested by: {}\n"
            f"Approve: {command.format('approve')}\n"
            f'Reject:  {command.format("reject")} --reason "why"\n'
            f"Without a decision within {hours} hours the promotion is rejected."
        ),
        values=[
            sfn.JsonPath.string_at("$.source.version_arn"),
            sfn.JsonPath.string_at("$.evaluation.gate.metric"),
            sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.value")),
            sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.threshold")),
            sfn.JsonPath.string_at("$.evaluation.report_uri"),
            sfn.JsonPath.string_at("$.source.lineage_uri"),
            sfn.JsonPath.string_at("$.source.requested_by"),
            execution,
            execution,
        ],
        timeout=Duration.hours(hours),
        token_attribute=TOKEN_ATTRIBUTE,
        result_path="$.approval",
    )
    timed_out = sfn.Pass(
        scope.construct,
        "ApprovalTimedOut",
        parameters={
            "Error": "ApprovalTimedOut",
            "Cause": f"no approval within {hours} hours (promotion.approval_timeout_hours)",
        },
        result_path="$.decision",
    )
    timed_out.next(rejected)
    request.add_catch(rejected, errors=[REJECTED_ERROR], result_path="$.decision")
    request.add_catch(
        timed_out, errors=["States.Timeout", "States.HeartbeatTimeout"], result_path="$.timeout"
    )
    return scope.guard.guard_approval(request)


def _copy(scope: _Scope, parts: _PromotionParts, tags: dict[str, str]) -> sfn.TaskStateBase:
    """``CopyVersion`` into the target project, under ``models/promoted/<version>/``; refused
    access (no source project policy for this account) fails with the command that fixes it."""
    config = parts.config
    promotion = config.promotion
    assert promotion is not None
    assert promotion.source is not None
    policy_missing = scope.guard.fail(
        scope.construct,
        "SourcePolicyMissing",
        error="SourceProjectPolicyMissing",
        cause=sfn.JsonPath.format(
            "CopyProjectVersion was refused (AccessDeniedException) for version {} of "
            f"project {promotion.source.project_name}: the policy of the source project does "
            f"not allow this account to copy it. Fix: python -m ops promote --env {config.name} "
            "--version {} with credentials of the source account sets the project policy "
            "(PutProjectPolicy) and starts the promotion again; also check that the "
            "role of this workflow may call rekognition:CopyProjectVersion.",
            sfn.JsonPath.string_at("$.source.version_arn"),
            sfn.JsonPath.string_at("$.source.version_name"),
        ),
    )
    return _sdk(
        scope,
        "CopyVersion",
        "copyProjectVersion",
        {
            "SourceProjectArn.$": "$.source.project_arn",
            "SourceProjectVersionArn.$": "$.source.version_arn",
            "DestinationProjectArn.$": "$.project.arn",
            "VersionName.$": "$.job.version_name",
            "OutputConfig": {
                "S3Bucket": parts.artifacts_bucket.bucket_name,
                "S3KeyPrefix.$": f"States.Format('{PROMOTED_MODELS}{{}}/', $.job.version_name)",
            },
            "KmsKeyId": parts.encryption_key.key_arn,
            "Tags": tags,
        },
        iam_resources=[*parts.source_version_resources, *parts.project_resources],
        result_selector={"arn.$": "$.ProjectVersionArn"},
        result_path="$.version",
        expected_errors={"Rekognition.AccessDeniedException": policy_missing},
    )

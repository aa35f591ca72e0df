"""The relabel workflow's states: collect -> label (bounded wait) -> merge -> training.

``Wrap`` puts the execution input under ``$.request`` (any JSON value: Collect says what is
wrong with it) -> ``Collect`` (Lambda) -> ``Label?``: ``busy`` (another run or job under way),
``none`` and ``below_threshold`` end the run successfully; ``label`` goes on to
``CreateLabelingJob`` (aws-sdk) -> ``InitLabelingPolls -> WaitLabeling -> DescribeLabelingJob ->
LabelingStatus?``: every ``LabelingJobStatus`` of botocore's model has its branch
(``Completed`` -> ``Merge``; ``Failed`` and ``Stopped`` fail the run, the records pending;
``Initializing``, ``InProgress`` and ``Stopping`` poll again; anything else fails as
unexpected). Past the deadline the job is stopped and the run fails as expired. ``Merge``
(Lambda) writes the manifest and moves the records; ``StartTraining`` (only when the training
trigger does not watch the manifest prefix) starts the training workflow on it; ``Notify``
reports the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.state_machine import TaskGuard
from stacks.config import EnvironmentConfig
from stacks.pipelines.sagemaker_training.calls import SAGEMAKER_SDK_TRANSIENT_ERRORS, SDK_TIMEOUT

#: botocore's LabelingJobStatus, by what the workflow does next.
FINISHED = "Completed"
FAILED_STATUSES = ("Failed", "Stopped")
RUNNING_STATUSES = ("Initializing", "InProgress", "Stopping")
#: The optimized Step Functions integration's throttling and service errors.
STATES_TRANSIENT_ERRORS = (
    "StepFunctions.AWSStepFunctionsException",
    "StepFunctions.SdkClientException",
)


@dataclass(frozen=True)
class RelabelParts:
    """What the definition is built from (made by the construct)."""

    config: EnvironmentConfig
    collect: lambda_.IFunction
    merge: lambda_.IFunction
    ground_truth_role: iam.IRole
    output_uri: str
    kms_key_arn: str
    labeling_job_arn_pattern: str
    training_state_machine: sfn.IStateMachine | None


def _sdk(
    scope: Construct,
    guard: TaskGuard,
    construct_id: str,
    action: str,
    parameters: dict[str, Any],
    resources: list[str],
    *,
    service: str = "sagemaker",
    result_path: str | None = sfn.JsonPath.DISCARD,
    result_selector: dict[str, Any] | None = None,
    statements: list[iam.PolicyStatement] | None = None,
    transient: tuple[str, ...] = SAGEMAKER_SDK_TRANSIENT_ERRORS,
) -> sfn.TaskStateBase:
    task = tasks.CallAwsService(
        scope,
        construct_id,
        service=service,
        action=action,
        parameters=parameters,
        iam_resources=resources,
        iam_action=f"{'states' if service == 'sfn' else service}:{action[0].upper()}{action[1:]}",
        additional_iam_statements=statements,
        result_path=result_path,
        result_selector=result_selector,
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    return guard(task, transient_errors=transient)


def build_definition(scope: Construct, guard: TaskGuard, parts: RelabelParts) -> sfn.IChainable:
    relabel = parts.config.relabel
    wrap = sfn.Pass(scope, "Wrap", parameters={"request.$": "$"})
    collect = guard.invoke(
        scope,
        "Collect",
        function=parts.collect,
        timeout=Duration.minutes(15),
        payload=sfn.TaskInput.from_object(
            {
                "request.$": "$.request",
                "execution": {
                    "id.$": "$$.Execution.Id",
                    "start_time.$": "$$.Execution.StartTime",
                },
            }
        ),
        result_path="$.collected",
    )
    create = _sdk(
        scope,
        guard,
        "CreateLabelingJob",
        "createLabelingJob",
        {
            "LabelingJobName.$": "$.collected.create.LabelingJobName",
            "LabelAttributeName.$": "$.collected.create.LabelAttributeName",
            "InputConfig.$": "$.collected.create.InputConfig",
            "LabelCategoryConfigS3Uri.$": "$.collected.create.LabelCategoryConfigS3Uri",
            "HumanTaskConfig.$": "$.collected.create.HumanTaskConfig",
            "RoleArn": parts.ground_truth_role.role_arn,
            "OutputConfig": {"S3OutputPath": parts.output_uri, "KmsKeyId": parts.kms_key_arn},
        },
        [parts.labeling_job_arn_pattern],
        statements=[
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[parts.ground_truth_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        ],
        # ResourceLimitExceeded and ResourceInUse cannot succeed by retrying at once.
    )
    job_name = {"LabelingJobName.$": "$.collected.job.name"}
    describe = _sdk(
        scope,
        guard,
        "DescribeLabelingJob",
        "describeLabelingJob",
        job_name,
        [parts.labeling_job_arn_pattern],
        result_path="$.labeling",
        result_selector={
            "status.$": "$.LabelingJobStatus",
            "counters.$": "$.LabelCounters",
        },
    )
    init = sfn.Pass(scope, "InitLabelingPolls", parameters={"count": 0}, result_path="$.polls")
    wait = sfn.Wait(
        scope, "WaitLabeling", time=sfn.WaitTime.duration(Duration.minutes(relabel.poll_minutes))
    )
    count = sfn.Pass(
        scope,
        "CountLabelingPolls",
        parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
        result_path="$.polls",
    )
    stop = _sdk(
        scope,
        guard,
        "StopLabelingJob",
        "stopLabelingJob",
        job_name,
        [parts.labeling_job_arn_pattern],
    )
    stop.next(
        guard.fail(
            scope,
            "LabelingExpired",
            error="LabelingJobExpired",
            cause=sfn.JsonPath.format(
                f"Labeling job {{}} was not finished after {relabel.wait_deadline_hours} h; it "
                "was stopped and its images stay pending for the next run",
                sfn.JsonPath.string_at("$.collected.job.name"),
            ),
        )
    )
    count.next(
        sfn.Choice(scope, "LabelingDeadline?")
        .when(sfn.Condition.number_greater_than_equals("$.polls.count", relabel.max_polls), stop)
        .otherwise(wait)
    )

    def ended(status: str) -> sfn.Pass:
        return guard.fail(
            scope,
            f"Labeling{status}",
            error=f"LabelingJob{status}",
            cause=sfn.JsonPath.format(
                f"Labeling job {{}} ended {status}; its images stay pending for the next run "
                "(DescribeLabelingJob FailureReason says why)",
                sfn.JsonPath.string_at("$.collected.job.name"),
            ),
        )

    merge = guard.invoke(
        scope,
        "Merge",
        function=parts.merge,
        timeout=Duration.minutes(15),
        payload=sfn.TaskInput.from_object(
            {"job.$": "$.collected.job", "counters.$": "$.labeling.counters"}
        ),
        result_path="$.merged",
    )
    status = sfn.Choice(scope, "LabelingStatus?").when(
        sfn.Condition.string_equals("$.labeling.status", FINISHED), merge
    )
    for failed in FAILED_STATUSES:
        status.when(sfn.Condition.string_equals("$.labeling.status", failed), ended(failed))
    status.when(
        sfn.Condition.or_(
            *(sfn.Condition.string_equals("$.labeling.status", s) for s in RUNNING_STATUSES)
        ),
        count,
    )
    status.otherwise(
        guard.fail(
            scope,
            "LabelingUnexpected",
            error="UnexpectedLabelingJobStatus",
            cause=sfn.JsonPath.format(
                "DescribeLabelingJob answered status {}, which this workflow does not know",
                sfn.JsonPath.string_at("$.labeling.status"),
            ),
        )
    )
    notify = guard.notify(
        scope,
        "NotifyMerged",
        outcome="SUCCEEDED",
        summary="Labeled {} images ({} conflicting answers resolved, {} left pending); "
        "training manifest {}",
        values=[
            sfn.JsonPath.string_at("$.merged.labeled"),
            sfn.JsonPath.string_at("$.merged.conflicts"),
            sfn.JsonPath.string_at("$.merged.unlabeled"),
            sfn.JsonPath.string_at("$.merged.manifest_uri"),
        ],
    )
    done = sfn.Succeed(scope, "Relabeled")
    if parts.training_state_machine is not None:
        start = tasks.StepFunctionsStartExecution(
            scope,
            "StartTraining",
            state_machine=parts.training_state_machine,
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            name=sfn.JsonPath.format("relabel-{}", sfn.JsonPath.string_at("$.collected.job.name")),
            input=sfn.TaskInput.from_json_path_at("$.merged.training_input"),
            # The training run reports itself (its own notifications); nothing here reads it.
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
        )
        guard(start, transient_errors=STATES_TRANSIENT_ERRORS)
        merge.next(start).next(notify).next(done)
    else:
        merge.next(notify).next(done)

    create.next(init).next(wait).next(describe).next(status)
    label = (
        sfn.Choice(scope, "Label?")
        .when(sfn.Condition.string_equals("$.collected.action", "label"), create)
        .when(
            sfn.Condition.string_equals("$.collected.action", "busy"),
            sfn.Succeed(scope, "AlreadyLabeling", comment="another run or job is under way"),
        )
        .otherwise(sfn.Succeed(scope, "NothingToLabel"))
    )
    return wrap.next(collect).next(label)

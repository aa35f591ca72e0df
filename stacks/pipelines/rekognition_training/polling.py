"""The task and loop builders every state of the training workflow is made of.

``_sdk`` is the one way the workflow calls Rekognition or SSM (guarded: timeout, jittered retry
on throttling/service errors, catch), scoped to the project's ARNs unless told otherwise. The
polling builders make each wait a bounded loop (``Init<label>Polls -> Wait<label> -> describe ->
status Choice -> Count<label>Polls -> <label>Deadline?``) whose status Choice is built from the
classification table in ``statuses``, so every poll stays within the history budget the
configuration checks (``stacks.config.EVENTS_PER_POLL``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.state_machine import TaskGuard
from stacks.pipelines.rekognition_training.statuses import Progress, StatusPoll

REKOGNITION_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Rekognition.ThrottlingException",
    "Rekognition.InternalServerErrorException",
    "Rekognition.ProvisionedThroughputExceededException",
    "Rekognition.LimitExceededException",
)
SDK_TIMEOUT = Duration.seconds(60)


@dataclass(frozen=True)
class _Scope:
    """What the state factories share."""

    construct: Construct
    guard: TaskGuard
    project_resources: list[str]


def _sdk(
    scope: _Scope,
    construct_id: str,
    action: str,
    parameters: dict[str, Any],
    *,
    service: str = "rekognition",
    iam_resources: Sequence[str] | None = None,
    iam_action: str | None = None,
    additional_iam_statements: Sequence[iam.PolicyStatement] = (),
    result_selector: dict[str, Any] | None = None,
    result_path: str | None = None,
    transient: Sequence[str] = REKOGNITION_TRANSIENT_ERRORS,
    expected_errors: dict[str, sfn.IChainable] | None = None,
    catch: bool = True,
) -> sfn.TaskStateBase:
    """A guarded aws-sdk task; IAM action = ``service:Action`` (unless given), resources the
    project's ARNs (unless given)."""
    task = tasks.CallAwsService(
        scope.construct,
        construct_id,
        service=service,
        action=action,
        parameters=parameters,
        iam_resources=list(iam_resources or scope.project_resources),
        iam_action=iam_action or f"{service}:{action[0].upper()}{action[1:]}",
        additional_iam_statements=list(additional_iam_statements) or None,
        result_selector=result_selector,
        result_path=result_path,
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    for error, handler in (expected_errors or {}).items():
        task.add_catch(handler, errors=[error], result_path=sfn.JsonPath.DISCARD)
    return scope.guard(task, transient_errors=transient, catch=catch)


def _polling_loop(
    scope: _Scope,
    label: str,
    interval: Duration,
    max_polls: int,
    describe: sfn.TaskStateBase,
    timed_out: sfn.IChainable,
) -> tuple[sfn.Chain, sfn.Pass]:
    """The bounded loop every poll shares: ``Init<label>Polls -> Wait<label> -> describe``.

    Returns that chain (the caller appends its status Choice) and the state that polls again:
    ``Count<label>Polls -> <label>Deadline?`` (``timed_out`` once ``max_polls`` are spent,
    otherwise back to the Wait).
    """
    construct = scope.construct
    init = sfn.Pass(construct, f"Init{label}Polls", parameters={"count": 0}, result_path="$.polls")
    wait = sfn.Wait(construct, f"Wait{label}", time=sfn.WaitTime.duration(interval))
    again = sfn.Pass(
        construct,
        f"Count{label}Polls",
        parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
        result_path="$.polls",
    )
    again.next(
        sfn.Choice(construct, f"{label}Deadline?")
        .when(sfn.Condition.number_greater_than_equals("$.polls.count", max_polls), timed_out)
        .otherwise(wait)
    )
    return init.next(wait).next(describe), again


def _poll_dataset(
    scope: _Scope,
    name: str,
    arn_path: str,
    interval: Duration,
    max_polls: int,
    poll: StatusPoll,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Wait until the dataset at ``arn_path`` is DONE for ``poll``; a FAILED status fails the run
    at once with the dataset's description (its StatusMessage and StatusMessageCode)."""
    construct, guard = scope.construct, scope.guard
    status_path = f"$.dataset_status.{name.lower()}"
    describe = _sdk(
        scope,
        f"Describe{name}Dataset",
        "describeDataset",
        {"DatasetArn.$": arn_path},
        result_selector={"description.$": "$.DatasetDescription"},
        result_path=status_path,
    )
    status = f"{status_path}.description.Status"
    failed = guard.fail(
        construct,
        f"{name}DatasetFailed",
        error="DatasetFailed",
        cause=sfn.JsonPath.format(
            f"{name} dataset {{}} is {{}} (expected {poll.waits_for} while {poll.name}): {{}}",
            sfn.JsonPath.string_at(arn_path),
            sfn.JsonPath.string_at(status),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(f"{status_path}.description")),
        ),
    )
    timed_out = guard.fail(
        construct,
        f"{name}DatasetTimedOut",
        error="DatasetDeadlineExceeded",
        cause=sfn.JsonPath.format(
            f"{name} dataset {{}} was not complete after {max_polls} polls "
            f"({int(interval.to_seconds()) * max_polls} s)",
            sfn.JsonPath.string_at(arn_path),
        ),
    )
    first_poll, again = _polling_loop(
        scope, f"{name}Dataset", interval, max_polls, describe, timed_out
    )
    choice = _status_choice(
        construct, f"{name}DatasetReady?", status, poll, done=then, failed=failed, again=again
    )
    return first_poll.next(choice)


def _status_choice(
    construct: Construct,
    construct_id: str,
    status_path: str,
    poll: StatusPoll,
    *,
    done: sfn.IChainable,
    failed: sfn.IChainable,
    again: sfn.IChainable,
    unseen: str | None = None,
) -> sfn.Choice:
    """DONE -> ``done``, FAILED -> ``failed``; WORKING (and a status unknown at synth) polls again,
    as does a missing ``unseen`` path (the resource not visible yet).

    Built from the classification table (``statuses``), the one statement of what
    each status means to this poll.
    """

    def any_of(progress: Progress) -> sfn.Condition:
        conditions = [sfn.Condition.string_equals(status_path, s) for s in poll.having(progress)]
        return conditions[0] if len(conditions) == 1 else sfn.Condition.or_(*conditions)

    choice = sfn.Choice(construct, construct_id)
    if unseen is not None:
        choice.when(sfn.Condition.is_not_present(unseen), again)
    return (
        choice.when(any_of(Progress.DONE), done)
        .when(any_of(Progress.FAILED), failed)
        .otherwise(again)
    )


def _poll_until_gone(
    scope: _Scope, interval: Duration, max_polls: int, gone: sfn.IChainable
) -> sfn.IChainable:
    """Inside the deletion Map: wait until DescribeDataset says the dataset no longer exists."""
    construct = scope.construct
    wait = sfn.Wait(construct, "WaitDatasetDeleted", time=sfn.WaitTime.duration(interval))
    describe = _sdk(
        scope,
        "DescribeDeletedDataset",
        "describeDataset",
        {"DatasetArn.$": "$.arn"},
        result_path=sfn.JsonPath.DISCARD,
        expected_errors={"Rekognition.ResourceNotFoundException": gone},
        catch=False,
    )
    count = sfn.Pass(
        construct,
        "CountDeletionPolls",
        parameters={"arn.$": "$.arn", "polls.$": "States.MathAdd($.polls, 1)"},
    )
    timed_out = sfn.Fail(
        construct,
        "DatasetDeletionTimedOut",
        error="DatasetDeadlineExceeded",
        cause=f"an old dataset was still being deleted after {max_polls} polls",
    )
    count.next(
        sfn.Choice(construct, "DeletionDeadline?")
        .when(sfn.Condition.number_greater_than_equals("$.polls", max_polls), timed_out)
        .otherwise(wait)
    )
    return wait.next(describe).next(count)


def _poll_version(
    scope: _Scope,
    name: str,
    *,
    interval: Duration,
    max_polls: int,
    poll: StatusPoll,
    result_path: str,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Poll DescribeProjectVersions (with VersionNames) until DONE for ``poll``; bounded. A
    FAILED status fails the run at once with the description (its StatusMessage)."""
    construct, guard = scope.construct, scope.guard
    describe = _sdk(
        scope,
        f"Describe{name}",
        "describeProjectVersions",
        {
            "ProjectArn.$": "$.project.arn",
            "VersionNames.$": "States.Array($.job.version_name)",
        },
        result_selector={"descriptions.$": "$.ProjectVersionDescriptions"},
        result_path=result_path,
    )
    status = f"{result_path}.descriptions[0].Status"
    failed = guard.fail(
        construct,
        f"{name}Failed",
        error=f"{name}Failed",
        cause=sfn.JsonPath.format(
            f"Version {{}} is {{}} (expected {poll.waits_for} while {poll.name}): {{}}",
            sfn.JsonPath.string_at("$.job.version_name"),
            sfn.JsonPath.string_at(status),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(f"{result_path}.descriptions[0]")),
        ),
    )
    timed_out = guard.fail(
        construct,
        f"{name}TimedOut",
        error="PollingDeadlineExceeded",
        cause=sfn.JsonPath.format(
            f"Version {{}} did not reach {poll.waits_for} within {max_polls} polls "
            f"({int(interval.to_seconds()) * max_polls} s)",
            sfn.JsonPath.string_at("$.job.version_name"),
        ),
    )
    first_poll, again = _polling_loop(scope, name, interval, max_polls, describe, timed_out)
    choice = _status_choice(
        construct,
        f"{name}Done?",
        status,
        poll,
        done=then,
        failed=failed,
        again=again,
        # Not visible yet (eventual consistency): poll again.
        unseen=f"{result_path}.descriptions[0]",
    )
    return first_poll.next(choice)

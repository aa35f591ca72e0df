"""``ops approve`` / ``ops reject`` of a promotion that waits for approval (``--execution``).

The approver needs only the command line the notification gives: the workflow's
``RequestApproval`` state publishes its task token as an SNS message attribute, so the token is
in that state's TaskScheduled event of the execution history; this module reads the history,
checks the execution belongs to the environment's promotion workflow and still waits, and
answers with SendTaskSuccess (the approver's identity and comment become ``$.approval``) or
SendTaskFailure (error ``PromotionRejected``, the reason as its cause).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.common import (
    EXIT_FAILING,
    AwsEnvironmentError,
    OpsError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    stack_outputs,
)
from ops.promotion import STATE_MACHINE_OUTPUT
from shared.promotion import APPROVAL_STATE, REJECTED_ERROR, TOKEN_ATTRIBUTE
from stacks.config import EnvironmentConfig

_EXECUTION_ARN = re.compile(
    r"arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):execution:"
    r"(?P<machine>[A-Za-z0-9_-]{1,80}):(?P<name>[A-Za-z0-9_-]{1,80})"
)
#: Most history pages read (1,000 events each; an execution has at most 25,000).
MAX_HISTORY_PAGES = 30
#: History events that end a task's wait.
_TASK_ENDED = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStateExited"})


class NotWaitingError(OpsError):
    """The execution does not wait for approval (ended, or at another state)."""

    exit_code = EXIT_FAILING


@dataclass(frozen=True)
class Decision:
    """An approver's answer: approve, or reject with a reason."""

    approve: bool
    by: str
    text: str  # the comment (approve) or the reason (reject)

    def output(self) -> str:
        """SendTaskSuccess's output: what the workflow records at ``$.approval``."""
        return json.dumps(
            {
                "approved_by": self.by,
                "approved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "comment": self.text,
            }
        )

    def cause(self) -> str:
        return f"rejected by {self.by}: {self.text}"


def check_execution(execution_arn: str, state_machine_arn: str) -> None:
    """The execution is one of ``state_machine_arn``'s (same account, region and name)."""
    match = _EXECUTION_ARN.fullmatch(execution_arn)
    if match is None:
        raise UsageError(f"--execution: not a Step Functions execution ARN: {execution_arn!r}")
    expected = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
    if not execution_arn.startswith(expected):
        raise UsageError(
            f"--execution {execution_arn} is not an execution of this environment's promotion "
            f"workflow ({state_machine_arn}); copy the command from the notification"
        )


def _history(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": 1000,
        "includeExecutionData": True,
    }
    for _page in range(MAX_HISTORY_PAGES):
        page = sfn.get_execution_history(**request)
        yield from page.get("events", [])
        if not page.get("nextToken"):
            return
        request["nextToken"] = page["nextToken"]


def waiting_token(sfn: Any, execution_arn: str) -> str:
    """The task token of the approval the execution waits for, from its history.

    The last TaskScheduled of ``RequestApproval`` whose wait has not ended (a retried publish
    schedules again, with a new token): its parameters carry the token as a message attribute.
    """
    described = sfn.describe_execution(executionArn=execution_arn)
    if described["status"] != "RUNNING":
        raise NotWaitingError(
            f"execution {execution_arn} is {described['status']}: there is nothing to decide"
        )
    token: str | None = None
    in_approval = False
    last_state = "(none)"
    for event in _history(sfn, execution_arn):
        kind = event["type"]
        entered = event.get("stateEnteredEventDetails", {}).get("name")
        if entered:
            last_state = entered
            in_approval = entered == APPROVAL_STATE
            token = None
        elif in_approval and kind == "TaskScheduled":
            parameters = json.loads(event["taskScheduledEventDetails"].get("parameters", "{}"))
            attribute = parameters.get("MessageAttributes", {}).get(TOKEN_ATTRIBUTE, {})
            token = attribute.get("StringValue")
        elif in_approval and kind in _TASK_ENDED:
            token = None
            in_approval = kind != "TaskStateExited"
    if token is None:
        raise NotWaitingError(
            f"execution {execution_arn} does not wait for approval (it is at {last_state})"
        )
    return token


def decide(sfn: Any, execution_arn: str, decision: Decision) -> None:
    """Answer the approval the execution waits for."""
    token = waiting_token(sfn, execution_arn)
    try:
        if decision.approve:
            sfn.send_task_success(taskToken=token, output=decision.output())
        else:
            sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=decision.cause())
    except ClientError as error:
        if error_code(error) in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise NotWaitingError(
                f"execution {execution_arn} no longer waits for this approval "
                f"({error_code(error)}): it timed out or was decided meanwhile"
            ) from error
        raise


def _state_machine(config: EnvironmentConfig) -> str:
    outputs = stack_outputs(
        config, "RekognitionTraining", aws_client("cloudformation", config.region)
    )
    arn = outputs.get(STATE_MACHINE_OUTPUT)
    if not arn:
        raise AwsEnvironmentError(
            f"environment {config.name} has no promotion workflow deployed "
            f"(promotion.source_environment in cdk.json, then make deploy ENV={config.name})"
        )
    return arn


def _command(arguments: argparse.Namespace, approve: bool) -> int:
    config = environment(arguments.env)
    if config.promotion is None:
        raise UsageError(f"environment {config.name} promotes nothing: there is no approval")
    text = arguments.comment if approve else arguments.reason
    if not approve and not text.strip():
        raise UsageError("--reason: say why the promotion is rejected")
    try:
        state_machine = _state_machine(config)
        check_execution(arguments.execution, state_machine)
        sfn = aws_client("stepfunctions", config.region)
        by = str(aws_client("sts", config.region).get_caller_identity()["Arn"])
        decide(sfn, arguments.execution, Decision(approve, by, text))
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, "cannot answer the approval") from error
    verb = "Approved" if approve else "Rejected"
    follows = (
        "it copies and deploys the version now"
        if approve
        else "it notifies and ends REJECTED; nothing is copied"
    )
    print(f"{verb} {arguments.execution} as {by}: {follows}.")
    return 0


def command_approve(arguments: argparse.Namespace) -> int:
    """Approve the promotion the execution waits for."""
    return _command(arguments, approve=True)


def command_reject(arguments: argparse.Namespace) -> int:
    """Reject the promotion the execution waits for."""
    return _command(arguments, approve=False)

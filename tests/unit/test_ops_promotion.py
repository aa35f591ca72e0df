"""``ops promote`` (the source project's policy) and ``ops approve``/``reject`` (the token).

botocore's Stubber checks every request and response against the service models, so the calls
are the ones Rekognition and Step Functions document; the answers include the unhappy ones
(a policy changed meanwhile, a token that timed out, an execution that no longer waits).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.cli import main
from ops.common import OpsError, UsageError, load_context
from ops.promotion import (
    POLICY_ATTEMPTS,
    copy_policy,
    ensure_project_policy,
    execution_name,
    policy_name,
)
from ops.promotion_decision import (
    Decision,
    NotWaitingError,
    check_execution,
    decide,
    waiting_token,
)
from shared.promotion import APPROVAL_STATE, REJECTED_ERROR, TOKEN_ATTRIBUTE
from stacks.config import load_environment
from tests.contract import authorization as reference

REGION = "eu-west-1"
PROJECT = "arn:aws:rekognition:eu-west-1:222222222222:project/imgclf-dev-image-classifier/1700"
VERSIONS = (
    "arn:aws:rekognition:eu-west-1:222222222222:project/imgclf-dev-image-classifier/version/*/*"
)
ROLE = "arn:aws:iam::111111111111:role/imgclf-prod-promotion-role"
MACHINE = "arn:aws:states:eu-west-1:111111111111:stateMachine:PromotionWorkflow"
EXECUTION = "arn:aws:states:eu-west-1:111111111111:execution:PromotionWorkflow:promote-v1-1"
DOCUMENT = copy_policy(VERSIONS, ROLE)
NAME = "promote-to-imgclf-prod"
ON_PROJECT = {"ProjectArn": PROJECT}


def rekognition() -> tuple[Any, Stubber]:
    client = boto3.client(
        "rekognition", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def listed(*policies: dict[str, Any]) -> dict[str, Any]:
    return {"ProjectPolicies": list(policies)}


def policy(document: dict[str, Any], revision: str) -> dict[str, Any]:
    return {
        "ProjectArn": PROJECT,
        "PolicyName": NAME,
        "PolicyRevisionId": revision,
        "PolicyDocument": json.dumps(document),
    }


def test_the_policy_document_names_what_the_reference_authorizes() -> None:
    """The action and the resource type the authorization reference lists for the copy."""
    (statement,) = DOCUMENT["Statement"]
    entry = reference.action(statement["Action"])
    assert entry is not None
    assert entry.name.lower() == "rekognition:copyprojectversion"
    version_type = next(f for f in entry.resource_formats if "/version/" in f)
    assert reference.patterns_intersect(statement["Resource"], version_type)
    assert statement["Principal"] == {"AWS": ROLE}
    assert policy_name(load_environment(load_context(), "prod")) == NAME


def test_a_missing_policy_is_created_without_a_revision() -> None:
    client, stub = rekognition()
    stub.add_response("list_project_policies", listed(), {"ProjectArn": PROJECT})
    stub.add_response(
        "put_project_policy",
        {"PolicyRevisionId": "r1"},
        {"ProjectArn": PROJECT, "PolicyName": NAME, "PolicyDocument": json.dumps(DOCUMENT)},
    )
    with stub:
        change = ensure_project_policy(client, PROJECT, NAME, DOCUMENT)
    stub.assert_no_pending_responses()
    assert (change.action, change.revision_id) == ("created", "r1")


def test_the_same_policy_is_left_alone() -> None:
    client, stub = rekognition()
    stub.add_response(
        "list_project_policies", listed(policy(DOCUMENT, "r7")), {"ProjectArn": PROJECT}
    )
    with stub:
        change = ensure_project_policy(client, PROJECT, NAME, DOCUMENT)
    assert (change.action, change.revision_id) == ("unchanged", "r7")


def test_a_different_policy_is_replaced_at_the_revision_read() -> None:
    client, stub = rekognition()
    old = copy_policy(VERSIONS, "arn:aws:iam::111111111111:role/old")
    stub.add_response("list_project_policies", listed(policy(old, "r1")), {"ProjectArn": PROJECT})
    stub.add_response(
        "put_project_policy",
        {"PolicyRevisionId": "r2"},
        {
            "ProjectArn": PROJECT,
            "PolicyName": NAME,
            "PolicyDocument": json.dumps(DOCUMENT),
            "PolicyRevisionId": "r1",
        },
    )
    with stub:
        change = ensure_project_policy(client, PROJECT, NAME, DOCUMENT)
    assert change.action == "updated"


def test_a_policy_changed_meanwhile_is_read_again() -> None:
    client, stub = rekognition()
    old = copy_policy(VERSIONS, "arn:aws:iam::111111111111:role/old")
    stub.add_response("list_project_policies", listed(policy(old, "r1")), {"ProjectArn": PROJECT})
    stub.add_client_error("put_project_policy", "InvalidPolicyRevisionIdException")
    # Someone else set exactly ours meanwhile: nothing left to do.
    stub.add_response(
        "list_project_policies", listed(policy(DOCUMENT, "r3")), {"ProjectArn": PROJECT}
    )
    with stub:
        change = ensure_project_policy(client, PROJECT, NAME, DOCUMENT)
    stub.assert_no_pending_responses()
    assert (change.action, change.revision_id) == ("unchanged", "r3")


def test_a_policy_that_keeps_changing_gives_up_with_one_line() -> None:
    client, stub = rekognition()
    for _ in range(POLICY_ATTEMPTS):
        stub.add_response("list_project_policies", listed(), {"ProjectArn": PROJECT})
        stub.add_client_error("put_project_policy", "ResourceAlreadyExistsException")
    with stub, pytest.raises(OpsError, match="kept changing"):
        ensure_project_policy(client, PROJECT, NAME, DOCUMENT)


def test_a_refused_document_is_an_error_naming_it() -> None:
    client, stub = rekognition()
    stub.add_response("list_project_policies", listed(), {"ProjectArn": PROJECT})
    stub.add_client_error("put_project_policy", "MalformedPolicyDocumentException", "bad")
    with stub, pytest.raises(OpsError, match="refused the policy"):
        ensure_project_policy(client, PROJECT, NAME, DOCUMENT)


def test_execution_names_fit_step_functions() -> None:
    name = execution_name("v" * 200, now=1_700_000_000)
    assert len(name) <= 80
    assert name.endswith("-1700000000")
    assert execution_name("a.b c", now=1) == "promote-a-b-c-1"
    assert execution_name(None, now=1) == "promote-published-1"


# --- approve / reject -------------------------------------------------------------------------


def stepfunctions() -> tuple[Any, Stubber]:
    client = boto3.client(
        "stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def event(number: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": "2026-12-01T10:00:00Z", "type": kind, "id": number, **details}


def scheduled(number: int, token: str) -> dict[str, Any]:
    parameters = {
        "MessageAttributes": {TOKEN_ATTRIBUTE: {"DataType": "String", "StringValue": token}}
    }
    return event(
        number,
        "TaskScheduled",
        taskScheduledEventDetails={
            "resourceType": "sns",
            "resource": "publish.waitForTaskToken",
            "region": REGION,
            "parameters": json.dumps(parameters),
        },
    )


def entered(number: int, name: str) -> dict[str, Any]:
    return event(number, "TaskStateEntered", stateEnteredEventDetails={"name": name})


HISTORY = {"executionArn": EXECUTION, "maxResults": 1000, "includeExecutionData": True}
RUNNING = {
    "executionArn": EXECUTION,
    "stateMachineArn": MACHINE,
    "status": "RUNNING",
    "startDate": "2026-12-01T10:00:00Z",
}


def test_the_token_is_read_from_the_approval_states_last_schedule() -> None:
    client, stub = stepfunctions()
    stub.add_response("describe_execution", RUNNING, {"executionArn": EXECUTION})
    first = [entered(1, "ReadSource"), entered(2, APPROVAL_STATE), scheduled(3, "old")]
    # A throttled publish was retried: the second schedule's token is the one that waits.
    failed = {
        "resourceType": "sns",
        "resource": "publish.waitForTaskToken",
        "error": "SNS.ThrottledException",
    }
    retried = [event(4, "TaskFailed", taskFailedEventDetails=failed)]
    stub.add_response(
        "get_execution_history", {"events": first + retried, "nextToken": "p2"}, HISTORY
    )
    stub.add_response(
        "get_execution_history", {"events": [scheduled(5, "new")]}, {**HISTORY, "nextToken": "p2"}
    )
    with stub:
        assert waiting_token(client, EXECUTION) == "new"


@pytest.mark.parametrize(
    "events",
    [
        [entered(1, "ReadSource")],
        [entered(1, APPROVAL_STATE), scheduled(2, "t"), event(3, "TaskSucceeded")],
        [entered(1, APPROVAL_STATE), scheduled(2, "t"), entered(3, "FindProject")],
    ],
    ids=["not-there-yet", "answered", "moved-on"],
)
def test_an_execution_not_waiting_is_said_so(events: list[dict[str, Any]]) -> None:
    client, stub = stepfunctions()
    stub.add_response("describe_execution", RUNNING, {"executionArn": EXECUTION})
    stub.add_response("get_execution_history", {"events": events}, HISTORY)
    with stub, pytest.raises(NotWaitingError, match="does not wait for approval"):
        waiting_token(client, EXECUTION)


def test_an_ended_execution_has_nothing_to_decide() -> None:
    client, stub = stepfunctions()
    stub.add_response(
        "describe_execution", {**RUNNING, "status": "SUCCEEDED"}, {"executionArn": EXECUTION}
    )
    with stub, pytest.raises(NotWaitingError, match="is SUCCEEDED"):
        waiting_token(client, EXECUTION)


def waiting(stub: Stubber) -> None:
    stub.add_response("describe_execution", RUNNING, {"executionArn": EXECUTION})
    stub.add_response(
        "get_execution_history",
        {"events": [entered(1, APPROVAL_STATE), scheduled(2, "tok")]},
        HISTORY,
    )


def test_reject_sends_the_error_the_workflow_catches_with_the_reason() -> None:
    client, stub = stepfunctions()
    waiting(stub)
    stub.add_response(
        "send_task_failure",
        {},
        {"taskToken": "tok", "error": REJECTED_ERROR, "cause": "rejected by bob: freeze"},
    )
    with stub:
        decide(client, EXECUTION, Decision(False, "bob", "freeze"))
    stub.assert_no_pending_responses()


def test_approve_sends_who_approved() -> None:
    client, stub = stepfunctions()
    waiting(stub)
    sent: dict[str, Any] = {}

    def capture(**kwargs: Any) -> None:
        sent.update(kwargs)

    stub.add_response("send_task_success", {}, None)
    client.meta.events.register(
        "provide-client-params.states.SendTaskSuccess", lambda params, **_: capture(**params)
    )
    with stub:
        decide(client, EXECUTION, Decision(True, "bob", "ok"))
    output = json.loads(sent["output"])
    assert (sent["taskToken"], output["approved_by"], output["comment"]) == ("tok", "bob", "ok")


def test_a_token_that_timed_out_meanwhile_is_said_so() -> None:
    client, stub = stepfunctions()
    waiting(stub)
    stub.add_client_error("send_task_success", "TaskTimedOut")
    with stub, pytest.raises(NotWaitingError, match="TaskTimedOut"):
        decide(client, EXECUTION, Decision(True, "bob", ""))


@pytest.mark.parametrize(
    ("execution", "fragment"),
    [
        ("not-an-arn", "not a Step Functions execution ARN"),
        (EXECUTION.replace("PromotionWorkflow", "TrainingWorkflow"), "not an execution of"),
        (EXECUTION.replace("111111111111", "222222222222"), "not an execution of"),
    ],
)
def test_only_an_execution_of_the_promotion_workflow_is_decided(execution: str, fragment: str):
    with pytest.raises(UsageError, match=fragment):
        check_execution(execution, MACHINE)
    check_execution(EXECUTION, MACHINE)


def test_promotion_commands_refuse_an_environment_that_promotes_nothing(capsys) -> None:
    assert main(["promote", "--env", "dev", "--version", "v1"]) == 2
    assert "promotes nothing" in capsys.readouterr().err
    assert main(["approve", "--env", "dev", "--execution", EXECUTION]) == 2
    assert main(["reject", "--env", "prod", "--execution", EXECUTION, "--reason", " "]) == 2
    assert "say why" in capsys.readouterr().err
    assert main(["promote", "--env", "prod", "--version", "no spaces"]) == 2
    assert "--version" in capsys.readouterr().err

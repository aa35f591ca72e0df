"""The synthesized promotion workflow (prod, from dev), executed locally.

The definition is prod's, from the template; ReadSource is the real handler reading a lineage
record written with ``shared.lineage`` into moto's S3; approvals are answered by the real
``ops approve``/``ops reject`` code (``ops.promotion_decision.decide``) reading the task token
from moto's execution history while the run waits. Rekognition Custom Labels is not in moto:
its answers are scripted to the service model (``strict_answers``), statuses from botocore's
``ProjectVersionStatus`` enum.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import botocore.session
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

from ops.promotion_decision import Decision, NotWaitingError, decide, waiting_token
from shared.lineage import GateRecord, LineageRecord, S3ObjectRef, lineage_key
from shared.promotion import APPROVAL_STATE, REJECTED_ERROR, TOKEN_ATTRIBUTE
from stacks.config import load_environment
from stacks.environment import EnvironmentStacks, build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import MOTO_CONFIG, REGION, AwsError, LocalWorkflow, WorkflowRun

ACCOUNT = "111111111111"  # prod's configured account: the stacks name it literally
SOURCE_PROJECT = "imgclf-dev-image-classifier"
TARGET_PROJECT = "imgclf-prod-image-classifier"
SOURCE_BUCKET = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"
TARGET_BUCKET = f"imgclf-prod-artifacts-{ACCOUNT}-{REGION}"
SOURCE_PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{SOURCE_PROJECT}/1700000000"
TARGET_PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{TARGET_PROJECT}/1700000100"
PARAMETER = "/imgclf-prod/rekognition/model-version-arn"
VERSION_STATUSES = (
    botocore.session.get_session()
    .get_service_model("rekognition")
    .shape_for("ProjectVersionStatus")
    .enum
)


def source_version_arn(name: str) -> str:
    return (
        f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{SOURCE_PROJECT}/version/{name}/1700000001"
    )


def target_version_arn(name: str) -> str:
    return (
        f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{TARGET_PROJECT}/version/{name}/1700000200"
    )


def lineage(version: str, *, passed: bool = True) -> LineageRecord:
    """dev's record of ``version``, as the training workflow writes it."""
    return LineageRecord(
        pipeline="rekognition",
        environment="dev",
        project=SOURCE_PROJECT,
        version=version,
        model_version_arn=source_version_arn(version),
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Training:{version}",
        code_version="0123abc",
        training_data=[S3ObjectRef("s3://imgclf-dev-data/train.manifest", "v1", '"etag"')],
        test_data=[],
        datasets={},
        gate=GateRecord(
            settings={"metric": "f1_score", "threshold": 0.85},
            passed=passed,
            reasons=[] if passed else ["f1_score 0.71 < 0.85"],
            metric="f1_score",
            value=0.93 if passed else 0.71,
            threshold=0.85,
        ),
        metrics_uri=f"s3://{SOURCE_BUCKET}/reports/{SOURCE_PROJECT}/{version}/metrics.json",
        report_uri=f"s3://{SOURCE_BUCKET}/reports/{SOURCE_PROJECT}/{version}/report.html",
        created_at="2026-12-01T10:00:00+00:00",
        finished_at="2026-12-01T11:00:00+00:00",
    )


@pytest.fixture(scope="module")
def prod_stacks(cdk_context: dict[str, Any]) -> EnvironmentStacks:
    return build_environment(make_app(cdk_context), load_environment(cdk_context, "prod"))


@pytest.fixture(scope="module")
def prod_templates(prod_stacks: EnvironmentStacks) -> dict[str, dict[str, Any]]:
    from aws_cdk.assertions import Template

    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in prod_stacks.all()}


@pytest.fixture
def workflow(prod_templates, prod_stacks) -> Iterator[LocalWorkflow]:
    stack = prod_stacks.rekognition_training
    promotion = stack.promotion
    assert promotion is not None
    logical_id = stack.get_logical_id(promotion.state_machine.node.default_child)
    with mock_aws(config=MOTO_CONFIG):
        local = LocalWorkflow(prod_templates, stack.stack_name, logical_id, strict_answers=True)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=SOURCE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield local


def put_lineage(record: LineageRecord) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=SOURCE_BUCKET,
        Key=lineage_key("rekognition", SOURCE_PROJECT, record.version),
        Body=record.to_json().encode(),
    )


class Rekognition:
    """Scripted Custom Labels in prod: the copy, then the start, one status per describe."""

    def __init__(self, workflow: LocalWorkflow, version: str) -> None:
        self.version = version
        self.copy_statuses = ["COPYING_IN_PROGRESS", "COPYING_COMPLETED"]
        # Right after the start the copy still reads COPYING_COMPLETED (not visible yet).
        self.start_statuses = ["COPYING_COMPLETED", "STARTING", "RUNNING"]
        self.stage = "copy"
        self.copy_answer: dict[str, Any] | AwsError = {
            "ProjectVersionArn": target_version_arn(version)
        }
        self.existing_project = False
        workflow.script("rekognition", "DescribeProjects", self._projects)
        workflow.script("rekognition", "CreateProject", {"ProjectArn": TARGET_PROJECT_ARN})
        workflow.script("rekognition", "CopyProjectVersion", lambda _params: self.copy_answer)
        workflow.script("rekognition", "DescribeProjectVersions", self._describe)
        workflow.script("rekognition", "StartProjectVersion", self._start)
        workflow.script("rekognition", "StopProjectVersion", {"Status": "STOPPING"})

    def _projects(self, params: dict[str, Any]) -> dict[str, Any]:
        assert params["ProjectNames"] == [TARGET_PROJECT]
        found = [{"ProjectArn": TARGET_PROJECT_ARN, "Status": "CREATED"}]
        return {"ProjectDescriptions": found if self.existing_project else []}

    def _start(self, _params: dict[str, Any]) -> dict[str, Any]:
        self.stage = "start"
        return {"Status": "STARTING"}

    def _describe(self, params: dict[str, Any]) -> dict[str, Any]:
        assert params == {"ProjectArn": TARGET_PROJECT_ARN, "VersionNames": [self.version]}
        statuses = self.copy_statuses if self.stage == "copy" else self.start_statuses
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        assert status in VERSION_STATUSES
        return {
            "ProjectVersionDescriptions": [
                {
                    "ProjectVersionArn": target_version_arn(self.version),
                    "Status": status,
                    "StatusMessage": f"{status}: scripted",
                }
            ]
        }


def answer_when_waiting(decision: Decision) -> Callable[[str], None]:
    """Once the run waits in RequestApproval, decide as ``ops approve``/``ops reject`` does."""
    done = threading.Event()

    def answer(execution_arn: str) -> None:
        if done.is_set():
            return
        sfn = boto3.client("stepfunctions", region_name=REGION)
        try:
            waiting_token(sfn, execution_arn)
        except NotWaitingError:
            return  # not there yet
        decide(sfn, execution_arn, decision)
        done.set()

    return answer


def approve() -> Callable[[str], None]:
    return answer_when_waiting(Decision(True, APPROVER, ""))


REQUEST = {
    "version": "v1",
    "source_project_arn": SOURCE_PROJECT_ARN,
    "requested_by": "arn:aws:iam::111111111111:user/alice",
}
APPROVER = "arn:aws:iam::111111111111:user/bob"


def messages(run: WorkflowRun) -> list[str]:
    return [published["Message"] for published in run.published()]


def test_happy_path_waits_for_approval_copies_starts_publishes(workflow):
    put_lineage(lineage("v1"))
    Rekognition(workflow, "v1")
    ssm = boto3.client("ssm", region_name=REGION)
    previous = target_version_arn("older")
    ssm.put_parameter(Name=PARAMETER, Value=previous, Type="String")

    run = workflow.run(
        REQUEST,
        name="happy",
        while_running=answer_when_waiting(Decision(True, APPROVER, "looks good")),
    )

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output["outcome"] == "DEPLOYED"
    assert run.output["source_version_arn"] == source_version_arn("v1")
    assert run.output["project_version_arn"] == target_version_arn("v1")
    assert run.output["previous_version_arn"] == previous
    assert run.output["approval"]["approved_by"] == APPROVER
    assert run.output["approval"]["comment"] == "looks good"
    # Copied from dev's version into prod's (new) project, into prod's bucket with its key.
    (copy,) = run.calls["rekognition.CopyProjectVersion"]
    assert copy["SourceProjectArn"] == SOURCE_PROJECT_ARN
    assert copy["SourceProjectVersionArn"] == source_version_arn("v1")
    assert copy["DestinationProjectArn"] == TARGET_PROJECT_ARN
    assert copy["VersionName"] == "v1"
    assert copy["OutputConfig"] == {"S3Bucket": TARGET_BUCKET, "S3KeyPrefix": "models/promoted/v1/"}
    assert copy["KmsKeyId"].startswith("arn:aws:kms:")
    assert copy["Tags"]["PromotedFrom"] == "dev"
    # The same deployment as training: start, publish, stop the previous, notify.
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == target_version_arn("v1")
    (stop,) = run.calls["rekognition.StopProjectVersion"]
    assert stop == {"ProjectVersionArn": previous}
    entered = run.entered
    order = [
        "ReadSource",
        APPROVAL_STATE,
        "CreateProject",
        "CopyVersion",
        "StartModel",
        "PublishModel",
        "StopPreviousModel",
        "NotifyDeployed",
        "Deployed",
    ]
    assert [state for state in entered if state in order] == order
    # Copy polls (2) then start polls (3), at the configured intervals.
    assert run.waits == [60, 60, 60, 60, 60]
    request, deployed = messages(run)
    assert "python -m ops approve --env prod --execution " + run.execution_arn in request
    assert "python -m ops reject --env prod --execution " + run.execution_arn in request
    assert "f1_score = 0.93 (threshold 0.85)" in request
    assert "Without a decision within 72 hours" in request
    assert "Task token" not in request  # the token travels as a message attribute only
    (approval_publish, _) = run.published()
    assert TOKEN_ATTRIBUTE in approval_publish["message_attributes"]
    assert run.published()[0]["subject"] == "[prod] Rekognition promotion APPROVAL_REQUESTED"
    assert deployed.startswith("Rekognition promotion deployed a model in environment prod.\n")
    assert f"Promoted from dev: version {source_version_arn('v1')}" in deployed
    assert f"approved by {APPROVER}" in deployed


def test_an_existing_target_project_is_reused(workflow):
    put_lineage(lineage("v1"))
    rekognition = Rekognition(workflow, "v1")
    rekognition.existing_project = True

    run = workflow.run(
        REQUEST, name="reuse", while_running=answer_when_waiting(Decision(True, APPROVER, ""))
    )

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert "CreateProject" not in run.entered
    assert run.calls["rekognition.CopyProjectVersion"][0]["DestinationProjectArn"] == (
        TARGET_PROJECT_ARN
    )


def test_rejected_promotion_copies_nothing_and_says_why(workflow):
    put_lineage(lineage("v1"))
    Rekognition(workflow, "v1")

    run = workflow.run(
        REQUEST,
        name="rejected",
        while_running=answer_when_waiting(Decision(False, APPROVER, "not during the freeze")),
    )

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output["outcome"] == "REJECTED"
    assert run.output["decision"] == REJECTED_ERROR
    assert run.output["reason"] == f"rejected by {APPROVER}: not during the freeze"
    assert "rekognition.CopyProjectVersion" not in run.calls
    assert "rekognition.StartProjectVersion" not in run.calls
    _, notified = messages(run)
    assert notified.startswith("Rekognition promotion rejected a model in environment prod.\n")
    assert "not during the freeze" in notified
    assert run.published()[1]["subject"] == "[prod] Rekognition promotion REJECTED"


def test_no_decision_within_the_timeout_rejects_and_notifies(workflow):
    put_lineage(lineage("v1"))
    Rekognition(workflow, "v1")
    asked: list[float | None] = []

    def no_answer(self: CallbackEndpoint, timeout: float | None = None) -> None:
        asked.append(timeout)  # the approval's TimeoutSeconds: elapsed at once

    with mock.patch.object(CallbackEndpoint, "wait", no_answer):
        run = workflow.run(REQUEST, name="timeout")

    assert asked == [72 * 3600]  # approval_timeout_hours
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output["outcome"] == "REJECTED"
    assert run.output["decision"] == "ApprovalTimedOut"
    assert "no approval within 72 hours" in run.output["reason"]
    assert "rekognition.CopyProjectVersion" not in run.calls
    _, notified = messages(run)
    assert "REJECTED (ApprovalTimedOut)" in notified


def test_a_version_that_failed_its_gate_is_refused_before_anyone_is_asked(workflow):
    put_lineage(lineage("v1", passed=False))
    Rekognition(workflow, "v1")

    run = workflow.run(REQUEST, name="gate-failed")

    assert run.status == "FAILED"
    assert run.error == "SourceGateNotPassedError"
    assert "did not pass its quality gate" in run.cause
    assert "f1_score 0.71 < 0.85" in run.cause
    assert APPROVAL_STATE not in run.entered
    assert "rekognition.CopyProjectVersion" not in run.calls
    (failure,) = messages(run)
    assert failure.startswith("Rekognition promotion failed in environment prod.\n")


def test_a_version_without_lineage_is_refused(workflow):
    Rekognition(workflow, "v1")

    run = workflow.run(REQUEST, name="no-lineage")

    assert run.status == "FAILED"
    assert run.error == "LineageNotFoundError"
    assert f"s3://{SOURCE_BUCKET}/reports/{SOURCE_PROJECT}/v1/lineage.json" in run.cause


@pytest.mark.parametrize("status", ["COPYING_FAILED", "DELETING", "EXPIRED", "DEPRECATED"])
def test_a_copy_that_ends_in_any_failed_status_fails_the_run_with_its_message(workflow, status):
    put_lineage(lineage("v1"))
    rekognition = Rekognition(workflow, "v1")
    rekognition.copy_statuses = ["COPYING_IN_PROGRESS", status]

    run = workflow.run(
        REQUEST,
        name=f"copy-{status.lower()}",
        while_running=answer_when_waiting(Decision(True, APPROVER, "")),
    )

    assert run.status == "FAILED"
    assert run.error == "CopyFailed"
    assert f"is {status} (expected COPYING_COMPLETED while copying)" in run.cause
    assert f"{status}: scripted" in run.cause
    assert "rekognition.StartProjectVersion" not in run.calls
    assert boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"] == []


def test_a_copy_still_running_at_its_deadline_fails_bounded(workflow, prod_stacks):
    put_lineage(lineage("v1"))
    rekognition = Rekognition(workflow, "v1")
    rekognition.copy_statuses = ["COPYING_IN_PROGRESS"]
    promotion = prod_stacks.rekognition_training.promotion
    assert promotion is not None

    run = workflow.run(
        REQUEST,
        name="copy-deadline",
        while_running=answer_when_waiting(Decision(True, APPROVER, "")),
    )

    assert run.status == "FAILED"
    assert run.error == "PollingDeadlineExceeded"
    assert run.waits == [60] * 120  # copy_deadline_minutes / copy_poll_seconds


def test_missing_source_project_policy_names_the_fix(workflow):
    put_lineage(lineage("v1"))
    rekognition = Rekognition(workflow, "v1")
    rekognition.copy_answer = AwsError(
        "AccessDeniedException", "not authorized to perform rekognition:CopyProjectVersion"
    )

    run = workflow.run(
        REQUEST, name="no-policy", while_running=answer_when_waiting(Decision(True, APPROVER, ""))
    )

    assert run.status == "FAILED"
    assert run.error == "SourceProjectPolicyMissing"
    assert "the policy of the source project does not allow this account" in run.cause
    assert "python -m ops promote --env prod --version v1" in run.cause
    assert "PutProjectPolicy" in run.cause


@pytest.mark.parametrize(
    ("request_", "error", "fragment"),
    [
        ("v1", "PromotionRequestError", "must be a JSON object"),
        ({"version": "v1", "colour": "red"}, "PromotionRequestError", "unknown field 'colour'"),
        ({"version": "no spaces"}, "PromotionRequestError", "version must be a version name"),
        (
            {"version": target_version_arn("v1")},
            "PromotionRequestError",
            "names a version of project 'imgclf-prod-image-classifier'",
        ),
        ({"version": "v1"}, "SourceProjectUnknownError", "python -m ops promote"),
    ],
    ids=["not-an-object", "unknown-field", "bad-name", "other-project", "no-project-arn"],
)
def test_bad_requests_fail_at_once_with_one_line(workflow, request_, error, fragment):
    put_lineage(lineage("v1"))
    Rekognition(workflow, "v1")

    run = workflow.run(request_, name=f"bad-{error.lower()}")

    assert run.status == "FAILED"
    assert run.error == error
    assert fragment in run.cause
    assert APPROVAL_STATE not in run.entered


def test_without_a_version_the_sources_published_version_is_promoted(workflow):
    put_lineage(lineage("v9"))
    Rekognition(workflow, "v9")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/imgclf-dev/rekognition/model-version-arn",
        Value=source_version_arn("v9"),
        Type="String",
    )
    request = {key: value for key, value in REQUEST.items() if key != "version"}

    run = workflow.run(request, name="published", while_running=approve())

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output["source_version_arn"] == source_version_arn("v9")
    assert run.calls["rekognition.CopyProjectVersion"][0]["VersionName"] == "v9"


def test_a_record_of_another_version_is_refused(workflow):
    record = lineage("v1")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=SOURCE_BUCKET,
        Key=lineage_key("rekognition", SOURCE_PROJECT, "v2"),
        Body=record.to_json().encode(),
    )
    Rekognition(workflow, "v2")

    run = workflow.run({**REQUEST, "version": "v2"}, name="other-record")

    assert run.status == "FAILED"
    assert run.error == "LineageInvalidError"
    assert "version is 'v1', expected 'v2'" in run.cause

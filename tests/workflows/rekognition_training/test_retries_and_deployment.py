"""Retries, deadlines, the history quota of the longest run, and the blue/green deployment."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from moto import mock_aws

from stacks.config import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    HISTORY_BUDGET,
    PROJECT_LOOKUP_MAX_PAGES,
    load_environment,
)
from tests.conftest import ENVIRONMENTS
from tests.workflows.asl_loops import loops, state_of_each_event
from tests.workflows.conftest import state_machine_id
from tests.workflows.harness import MOTO_CONFIG, REGION, AwsError, LocalWorkflow
from tests.workflows.rekognition_training.support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    PARAMETER,
    TRAIN_INPUT,
    Rekognition,
    assert_shared_format,
    dataset_arn,
    debug_run,
    notifications,
    put_evaluation,
    version_arn,
)


def test_throttling_is_retried_with_backoff_then_succeeds(workflow, tmp_path):
    version = "v-throttled"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    throttled = AwsError("ThrottlingException", "Rate exceeded")
    workflow._scripts["rekognition.CreateProjectVersion"][:0] = [throttled, throttled]

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="throttled")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert len(run.calls["rekognition.CreateProjectVersion"]) == 3
    # Two back-offs, full jitter: each within [0, 2 s x 2^n].
    assert len(run.retry_sleeps) == 2
    assert 0 <= run.retry_sleeps[0] <= 2
    assert 0 <= run.retry_sleeps[1] <= 4


def test_error_that_cannot_succeed_is_not_retried(workflow):
    rekognition = Rekognition(workflow, version="v-denied")
    rekognition.install()
    workflow._scripts["rekognition.CreateProject"][:0] = [AwsError("AccessDeniedException", "no")]

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-denied"}, name="denied")

    assert run.status == "FAILED"
    assert run.error == "Rekognition.AccessDeniedException"
    assert run.retry_sleeps == []
    assert len(run.calls["rekognition.CreateProject"]) == 1


def test_model_start_failed_fails_with_the_status_message(workflow, tmp_path):
    version = "v-nostart"
    rekognition = Rekognition(workflow, version=version)
    rekognition.start_statuses = ["STARTING", "FAILED"]
    rekognition.install()
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="nostart")

    assert run.status == "FAILED"
    assert run.error == "StartFailed"
    assert "FAILED: scripted" in run.cause
    assert "ssm.PutParameter" not in run.calls


def test_training_polling_deadline_is_reached_and_reported(short_deadline_templates, dev_stacks):
    with mock_aws(config=MOTO_CONFIG):
        stack = dev_stacks.rekognition_training.stack_name
        workflow = LocalWorkflow(
            short_deadline_templates,
            stack,
            state_machine_id(short_deadline_templates[stack]),
            strict_answers=True,
        )
        rekognition = Rekognition(workflow, version="v-slow")
        rekognition.training_statuses = ["TRAINING_IN_PROGRESS"]
        rekognition.install()

        run = workflow.run({**TRAIN_INPUT, "version_name": "v-slow"}, name="slow")

    assert run.status == "FAILED"
    assert run.error == "PollingDeadlineExceeded"
    assert "within 12 polls (3600 s)" in run.cause
    assert run.waits.count(300) == 12
    assert "rekognition.StartProjectVersion" not in run.calls


def test_the_longest_run_measured_stays_under_half_the_history_quota(
    two_poll_stacks, cdk_context, tmp_path
):
    """The worst path, run: the project on the last page read, both old datasets deleted,
    TRAIN and TEST created and split, training and start, every loop ending just before its
    deadline. Its events, per loop and outside the loops, extrapolated to the shipped
    deadlines, stay under half the quota, and the config's estimate never undercounts them."""
    templates, stack, short = two_poll_stacks
    with mock_aws(config=MOTO_CONFIG):
        workflow = LocalWorkflow(
            templates, stack, state_machine_id(templates[stack]), strict_answers=True
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        version = "v-longest"
        rekognition = Rekognition(workflow, version=version)
        old = (dataset_arn("train") + "-old", dataset_arn("test") + "-old")
        for arn in old:
            rekognition.dataset_statuses[arn] = ["DELETE_IN_PROGRESS"] * (
                short.dataset_max_polls - 1
            ) + ["GONE"]
        rekognition.install(
            existing_project=True,
            old_datasets=old,
            empty_project_pages=PROJECT_LOOKUP_MAX_PAGES - 1,
        )
        put_evaluation(tmp_path, version)

        run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="longest", timeout=120)

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    definition_loops = {loop.label: loop for loop in loops(workflow.definition)}
    budgeted = {loop.name: loop for loop in short.worst_path_loops}
    assert set(definition_loops) == set(budgeted)
    owner = state_of_each_event(run.history)
    events_of = Counter(owner.values())
    visits = Counter(run.entered)
    in_loops = 0
    measured: dict[str, float] = {}
    for label, loop in definition_loops.items():
        # Every run of every loop went to its last allowed poll.
        polls = budgeted[label].polls
        if label == "ProjectPages":
            assert visits["FindProjectNextPage"] == polls - 1  # page 1 is read before the loop
        else:
            assert visits[f"Wait{label}"] == polls, label
        # A full iteration visits each of the loop's states once.
        measured[label] = sum(events_of[state] / visits[state] for state in loop.states)
        assert measured[label] == loop.events_per_iteration, label
        assert measured[label] <= EVENTS_PER_POLL, f"{label}: {measured[label]} events a poll"
        in_loops += sum(events_of[state] for state in loop.states)
    outside = len(run.history) - in_loops
    assert outside <= EVENTS_OUTSIDE_LOOPS, f"{outside} events outside the loops"

    for env in ENVIRONMENTS:
        shipped = load_environment(cdk_context, env).rekognition_training
        worst = outside + sum(loop.polls * measured[loop.name] for loop in shipped.worst_path_loops)
        assert worst < HISTORY_BUDGET, f"{env}: the longest run makes ~{worst:.0f} events"
        assert shipped.worst_path_history_events >= worst, "the config's estimate undercounts"


def test_blue_green_stops_the_previously_published_version(workflow, tmp_path):
    version = "v-green"
    previous = version_arn("v-blue")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=previous, Type="String"
    )
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="green")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert run.output["previous_version_arn"] == previous
    assert run.calls["rekognition.StopProjectVersion"] == [{"ProjectVersionArn": previous}]
    assert run.entered.index("StopPreviousModel") > run.entered.index("PublishModel")
    (message,) = notifications(run)
    assert f"previously {previous}" in message


@pytest.mark.parametrize(
    ("error", "attempts"),
    [
        (AwsError("AccessDeniedException", "not allowed to stop it"), 1),
        (AwsError("ThrottlingException", "Rate exceeded"), 6),  # after its 5 retries
        (AwsError("InvalidParameterException", "not a running version"), 1),
    ],
    ids=["denied", "throttled", "invalid"],
)
def test_a_previous_model_that_cannot_be_stopped_ends_deployed_with_a_warning(
    workflow, tmp_path, error, attempts
):
    """The new version runs and inference uses it: the run is a deployment, and says the old
    version still bills."""
    version = "v-green-2"
    previous = version_arn("v-blue-2")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=previous, Type="String"
    )
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True)
    workflow._scripts["rekognition.StopProjectVersion"] = [error]
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"stuck-{error.code}")

    assert run.status == "SUCCEEDED", debug_run(run)
    assert run.output["outcome"] == "DEPLOYED"
    assert run.output["project_version_arn"] == version_arn(version)
    assert len(run.calls["rekognition.StopProjectVersion"]) == attempts
    ssm = boto3.client("ssm", region_name=REGION)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == version_arn(version)
    warning = run.output["warning"]
    assert warning["previous_version_still_running"] == previous
    assert warning["error"] == f"Rekognition.{error.code}"
    assert error.message in warning["cause"]
    assert warning["hourly_cost_usd"] == 4  # dev: 1 inference unit at about $4 an hour
    cli = f"aws rekognition stop-project-version --project-version-arn {previous} --region {REGION}"
    ops = f"python -m ops model stop --env dev --version-arn {previous}"
    assert warning["stop_commands"] == [ops, cli]
    for fragment in (previous, "still RUNNING", f"Rekognition.{error.code}", "$4", ops, cli):
        assert fragment in warning["message"], fragment
    (published,) = run.published()
    assert published["subject"] == "[dev] Rekognition training DEPLOYED"
    message = published["Message"]
    assert "passed the quality gate and is RUNNING" in message
    assert f"WARNING: {warning['message']}" in message
    assert_shared_format(message, run.execution_arn, "DEPLOYED", "deployed a model")

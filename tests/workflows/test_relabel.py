"""The synthesized relabel workflow, executed locally with the real Collect and Merge handlers.

Review records are the formats the two inference paths write; Ground Truth (which moto lacks)
is scripted with its documented responses: CreateLabelingJob, DescribeLabelingJob through
every LabelingJobStatus the tests need, and the output manifest its workers leave in S3. Every
run checks what was moved and what stayed pending.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stacks.config import EVENTS_PER_POLL
from stacks.config.sections.relabel import RELABEL_EVENTS_OUTSIDE_LOOP
from tests.workflows.harness import ACCOUNT, MOTO_CONFIG, REGION, LocalWorkflow, WorkflowRun
from tests.workflows.relabel_support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    MANIFEST_PREFIX,
    MAX_POLLS,
    REKOGNITION_REVIEW,
    SAGEMAKER_REVIEW,
    STACK,
    TRAINING_MACHINE,
    WORKTEAM,
    GroundTruth,
    answer_line,
    create_buckets,
    keys,
    machine_id,
    put_rekognition_review,
    put_sagemaker_review,
    read_lines,
    relabel_templates,
)

A, B, C = (
    f"s3://{DATA_BUCKET}/{key}"
    for key in ("incoming/a.jpg", "sagemaker/inference/b.jpg", "incoming/c.jpg")
)
LABELS = ("bicycle", "motorcycle")
PRE_LAMBDA = "arn:aws:lambda:eu-west-1:568282634449:function:PRE-ImageMultiClass"


@pytest.fixture(scope="module")
def templates(cdk_context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return relabel_templates(cdk_context)


class Loop:
    def __init__(self, templates: dict[str, dict[str, Any]], statuses: list[str]) -> None:
        self.s3 = create_buckets()
        self.workflow = LocalWorkflow(
            templates, STACK, machine_id(templates[STACK]), strict_answers=True
        )
        self.ground_truth = GroundTruth(self.s3, statuses)
        self.ground_truth.install(self.workflow)
        self.records = {
            "a-rekognition": put_rekognition_review(self.s3, "incoming/a.jpg"),
            "b-sagemaker": put_sagemaker_review(self.s3, "sagemaker/inference/b.jpg"),
            # One image both pipelines were unsure about: labeled once, both records move.
            "c-rekognition": put_rekognition_review(self.s3, "incoming/c.jpg"),
            "c-sagemaker": put_sagemaker_review(self.s3, "incoming/c.jpg"),
        }

    def run(self, execution_input: Any, name: str) -> WorkflowRun:
        return self.workflow.run(execution_input, name=name, timeout=120)

    def pending(self) -> list[str]:
        return keys(self.s3, ARTIFACTS_BUCKET, REKOGNITION_REVIEW) + keys(
            self.s3, ARTIFACTS_BUCKET, SAGEMAKER_REVIEW
        )

    def done(self) -> list[str]:
        return keys(self.s3, ARTIFACTS_BUCKET, "relabel/done/")

    def manifests(self) -> list[str]:
        return keys(self.s3, DATA_BUCKET, MANIFEST_PREFIX)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=MOTO_CONFIG):
        yield


def make_loop(templates: dict[str, dict[str, Any]], *statuses: str) -> Loop:
    return Loop(templates, list(statuses))


def training_runs() -> list[dict[str, Any]]:
    training = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{TRAINING_MACHINE}"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return list(sfn.list_executions(stateMachineArn=training)["executions"])


def failure_notice(run: WorkflowRun) -> str:
    (published,) = run.published()
    return str(published["Message"])


def test_happy_path_labels_merges_moves_and_starts_training(aws, templates):
    loop = make_loop(templates, "Initializing", "InProgress", "Completed")
    loop.ground_truth.answers = {A: "bicycle", B: "motorcycle", C: "motorcycle"}

    run = loop.run({"workteam_arn": WORKTEAM}, "happy")

    assert run.status == "SUCCEEDED", run.cause
    (request,) = loop.ground_truth.created
    job = request["LabelingJobName"]
    assert job.startswith("imgclf-dev-relabel-")
    assert len(job) <= 63
    assert request["LabelAttributeName"] == job
    human = request["HumanTaskConfig"]
    assert human["WorkteamArn"] == WORKTEAM
    assert human["PreHumanTaskLambdaArn"] == (
        "arn:aws:lambda:eu-west-1:568282634449:function:PRE-ImageMultiClass"
    )
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] == (
        "arn:aws:lambda:eu-west-1:568282634449:function:ACS-ImageMultiClass"
    )
    assert human["TaskTimeLimitInSeconds"] == 300
    assert human["TaskAvailabilityLifetimeInSeconds"] == 3600
    assert human["NumberOfHumanWorkersPerDataObject"] == 1
    # The output is encrypted with the environment's key, written under relabel/output/.
    key_arn = request["OutputConfig"]["KmsKeyId"]
    assert key_arn.startswith("arn:aws:kms:eu-west-1:")
    assert request["OutputConfig"]["S3OutputPath"] == f"s3://{ARTIFACTS_BUCKET}/relabel/output/"
    # The job's input: one line per image (c once), the categories, the worker template.
    base = f"relabel/jobs/{job}/"
    manifest = read_lines(loop.s3, ARTIFACTS_BUCKET, f"{base}input.manifest")
    assert sorted(line["source-ref"] for line in manifest) == sorted([A, B, C])
    categories = json.loads(
        loop.s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"{base}categories.json")["Body"].read()
    )
    assert categories == {
        "document-version": "2018-11-28",
        "labels": [{"label": "bicycle"}, {"label": "motorcycle"}],
    }
    assert request["LabelCategoryConfigS3Uri"] == f"s3://{ARTIFACTS_BUCKET}/{base}categories.json"
    template = request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"]
    assert template == f"s3://{ARTIFACTS_BUCKET}/{base}template.liquid"

    # Polled until Completed, one wait per poll.
    assert run.waits == [1200, 1200, 1200]
    assert len(run.calls["sagemaker.DescribeLabelingJob"]) == 3

    # The first versioned manifest: every answered image, in Ground Truth's output format.
    assert loop.manifests() == [f"{MANIFEST_PREFIX}relabel-v000001.manifest"]
    lines = read_lines(loop.s3, DATA_BUCKET, loop.manifests()[0])
    assert {line["source-ref"]: line[f"{job}-metadata"]["class-name"] for line in lines} == {
        A: "bicycle",
        B: "motorcycle",
        C: "motorcycle",
    }
    # Every record is done (both of c's), none pending.
    assert loop.pending() == []
    assert loop.done() == sorted(f"relabel/done/{key}" for key in loop.records.values())
    # Triggers are off in dev: the workflow starts the gated training itself.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    training = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{TRAINING_MACHINE}"
    (started,) = sfn.list_executions(stateMachineArn=training)["executions"]
    assert started["name"] == f"relabel-{job}"
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {
        "training_data": {
            "manifest_s3_uri": f"s3://{DATA_BUCKET}/{MANIFEST_PREFIX}relabel-v000001.manifest"
        },
        "test_data": {"auto_split": True},
    }
    (notice,) = run.published()
    assert "Labeled 3 images (0 conflicting answers resolved, 0 left pending)" in notice["Message"]


def test_no_pending_records_ends_without_a_job(aws, templates):
    loop = make_loop(templates, "Completed")
    for key in loop.records.values():
        loop.s3.delete_object(Bucket=ARTIFACTS_BUCKET, Key=key)

    run = loop.run({"workteam_arn": WORKTEAM}, "empty")

    assert run.status == "SUCCEEDED", run.cause
    assert run.entered[-1] == "NothingToLabel"
    assert run.output["collected"]["action"] == "none"
    assert "sagemaker.CreateLabelingJob" not in run.calls
    assert keys(loop.s3, ARTIFACTS_BUCKET, "relabel/") == []
    assert run.published() == []


def test_workteam_missing_is_a_clear_error_and_moves_nothing(aws, templates):
    loop = make_loop(templates, "Completed")

    run = loop.run({}, "no-workteam")

    assert run.status == "FAILED"
    assert run.error == "WorkteamMissingError"
    assert "set relabel.workteam_arn in cdk.json" in run.cause
    assert "sagemaker.CreateLabelingJob" not in run.calls
    assert keys(loop.s3, ARTIFACTS_BUCKET, "relabel/") == []
    assert loop.pending() == sorted(loop.records.values())
    assert "WorkteamMissingError" in failure_notice(run)


@pytest.mark.parametrize(
    ("status", "error"),
    [("Failed", "LabelingJobFailed"), ("Stopped", "LabelingJobStopped")],
)
def test_failed_or_stopped_job_notifies_and_leaves_records_pending(aws, templates, status, error):
    loop = make_loop(templates, "InProgress", "Stopping" if status == "Stopped" else status, status)

    run = loop.run({"workteam_arn": WORKTEAM}, f"job-{status.lower()}")

    assert run.status == "FAILED"
    assert run.error == error
    assert loop.ground_truth.job in run.cause
    assert f"ended {status}" in run.cause
    assert loop.pending() == sorted(loop.records.values())
    assert loop.done() == []
    assert loop.manifests() == []
    assert training_runs() == []
    assert error in failure_notice(run)


def test_expired_wait_stops_the_job_notifies_and_leaves_records_pending(aws, templates):
    loop = make_loop(templates, "InProgress")

    run = loop.run({"workteam_arn": WORKTEAM}, "expired")

    assert run.status == "FAILED"
    assert run.error == "LabelingJobExpired"
    assert len(run.calls["sagemaker.DescribeLabelingJob"]) == MAX_POLLS
    assert run.waits == [1200] * MAX_POLLS
    # The history budget the configuration checks holds for the longest run (to its deadline).
    per_poll = sum(1 for e in run.history if e["type"] == "WaitStateEntered")
    assert per_poll == MAX_POLLS
    assert len(run.history) <= MAX_POLLS * EVENTS_PER_POLL + RELABEL_EVENTS_OUTSIDE_LOOP
    happy_path_events = len(run.history) - MAX_POLLS * EVENTS_PER_POLL
    assert happy_path_events < RELABEL_EVENTS_OUTSIDE_LOOP / 2
    (stop,) = run.calls["sagemaker.StopLabelingJob"]
    assert stop == {"LabelingJobName": loop.ground_truth.job}
    assert loop.pending() == sorted(loop.records.values())
    assert loop.manifests() == []
    assert "LabelingJobExpired" in failure_notice(run)


def test_partial_labels_move_only_the_answered_records(aws, templates):
    loop = make_loop(templates, "Completed")
    loop.ground_truth.answers = {A: "bicycle", B: None, C: "motorcycle"}

    run = loop.run({"workteam_arn": WORKTEAM}, "partial")

    assert run.status == "SUCCEEDED", run.cause
    merged = run.output["merged"]
    assert (merged["labeled"], merged["unlabeled"]) == (2, 1)
    lines = read_lines(loop.s3, DATA_BUCKET, loop.manifests()[0])
    assert sorted(line["source-ref"] for line in lines) == sorted([A, C])
    # b's record waits for the next job; a's and both of c's are done.
    assert loop.pending() == [loop.records["b-sagemaker"]]
    assert len(loop.done()) == 3
    assert "1 left pending" in run.published()[0]["Message"]


def test_every_task_expired_writes_no_manifest_and_keeps_all_pending(aws, templates):
    loop = make_loop(templates, "Completed")
    loop.ground_truth.answers = {A: None, B: None, C: None}

    run = loop.run({"workteam_arn": WORKTEAM}, "nothing-answered")

    assert run.status == "FAILED"
    assert run.error == "NothingLabeledError"
    assert loop.manifests() == []
    assert loop.pending() == sorted(loop.records.values())


def test_conflicting_label_resolved_by_the_newest_human_answer(aws, templates):
    loop = make_loop(templates, "Completed")
    loop.ground_truth.answers = {A: "motorcycle", B: "motorcycle", C: "bicycle"}
    previous = [
        # a was labeled bicycle by an older job: the new human answer (motorcycle) wins.
        answer_line(A, "old-job", "bicycle", LABELS, created="2026-10-01T08:00:00"),
        {
            "source-ref": f"s3://{DATA_BUCKET}/training/x.jpg",
            "old-job": 0,
            "old-job-metadata": answer_line(A, "old-job", "bicycle", LABELS)["old-job-metadata"],
        },
    ]
    loop.s3.put_object(
        Bucket=DATA_BUCKET,
        Key=f"{MANIFEST_PREFIX}relabel-v000007.manifest",
        Body="".join(json.dumps(line) + "\n" for line in previous).encode(),
    )

    run = loop.run({"workteam_arn": WORKTEAM}, "conflict")

    assert run.status == "SUCCEEDED", run.cause
    merged = run.output["merged"]
    assert merged["version"] == 8
    assert merged["conflicts"] == 1
    assert merged["conflict_examples"] == [
        {"source-ref": A, "previous": "bicycle", "new": "motorcycle", "kept": "motorcycle"}
    ]
    lines = read_lines(loop.s3, DATA_BUCKET, f"{MANIFEST_PREFIX}relabel-v000008.manifest")
    by_ref = {line["source-ref"]: line for line in lines}
    assert len(lines) == 4  # the old image kept, a replaced (one line), b and c added
    job = loop.ground_truth.job
    assert by_ref[A][f"{job}-metadata"]["class-name"] == "motorcycle"
    assert "old-job" not in by_ref[A]  # one label per image: the whole line is replaced
    assert by_ref[f"s3://{DATA_BUCKET}/training/x.jpg"]["old-job"] == 0


def test_a_running_job_means_no_second_one(aws, templates):
    loop = make_loop(templates, "Completed")
    loop.workflow.script(
        "sagemaker",
        "ListLabelingJobs",
        {"LabelingJobSummaryList": []},
        {
            "LabelingJobSummaryList": [
                {
                    "LabelingJobName": "imgclf-dev-relabel-20261201-210000-abcdef",
                    "LabelingJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:labeling-job/"
                    "imgclf-dev-relabel-20261201-210000-abcdef",
                    "CreationTime": "2026-12-01T21:00:00Z",
                    "LastModifiedTime": "2026-12-01T21:00:00Z",
                    "LabelingJobStatus": "InProgress",
                    "LabelCounters": {},
                    "WorkteamArn": WORKTEAM,
                    "PreHumanTaskLambdaArn": PRE_LAMBDA,
                }
            ]
        },
        {"LabelingJobSummaryList": []},
    )

    run = loop.run({"workteam_arn": WORKTEAM}, "busy")

    assert run.status == "SUCCEEDED", run.cause
    assert run.entered[-1] == "AlreadyLabeling"
    assert "sagemaker.CreateLabelingJob" not in run.calls
    assert loop.pending() == sorted(loop.records.values())


def test_threshold_run_below_the_threshold_waits(aws, cdk_context):
    templates = relabel_templates(
        cdk_context,
        workteam_arn=WORKTEAM,
        pending_threshold=10,
        threshold_check_schedule="rate(1 hour)",
    )
    loop = make_loop(templates, "Completed")

    run = loop.run({"trigger": "threshold"}, "below")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["collected"]["action"] == "below_threshold"
    assert run.output["collected"]["pending_total"] == 4
    assert "sagemaker.CreateLabelingJob" not in run.calls


@pytest.mark.parametrize(
    ("execution_input", "problem"),
    [
        ([1, 2], "the input must be a JSON object"),
        ({"workteam": WORKTEAM}, "unknown field 'workteam'; did you mean 'workteam_arn'?"),
        (
            {"workteam_arn": "arn:aws:sagemaker:eu-west-1:123456789012:workteam/vendor-crowd/x"},
            "workteam_arn must be a private workteam ARN",
        ),
        ({"workteam_arn": WORKTEAM, "max_images": 0}, "max_images must be a whole number"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(aws, templates, execution_input, problem):
    loop = make_loop(templates, "Completed")

    run = loop.run(execution_input, "bad-input")

    assert run.status == "FAILED"
    assert run.error == "InvalidRequestError"
    assert problem in run.cause
    assert keys(loop.s3, ARTIFACTS_BUCKET, "relabel/") == []

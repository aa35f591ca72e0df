"""The synthesized batch workflow (a Distributed Map over an S3 prefix), executed locally.

The ItemReader listing, the ItemBatcher, the Express child executions with the real batch
handler (the single-image validation and classification, a few images at a time), the failure
tolerance, the ResultWriter files and the real Summarize handler all run; moto lacks the
Distributed Map's listing pages, batching, tolerance and result files, which the runner adds as
AWS documents them (tests/workflows/moto_extensions/distributed_map.py). The endpoint is scripted.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from sagemaker_inference import model
from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import MOTO_CONFIG, AwsError, LocalWorkflow, WorkflowRun
from tests.workflows.moto_extensions.distributed_map import tolerance_exceeded
from tests.workflows.sagemaker_support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    INPUT_PREFIX,
    REVIEW_PREFIX,
    STACK,
    create_buckets,
    endpoint_by_marker,
    image,
    largest_state_payload,
    machine_id,
    read_json,
    script_endpoint,
)

BATCH = f"{INPUT_PREFIX}batch-1/"


def results(batch: Batch, manifest: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """Every child record of ``status`` in the ResultWriter files of ``manifest``."""
    return [
        record
        for file in manifest["ResultFiles"][status]
        for record in read_json(batch.s3, ARTIFACTS_BUCKET, file["Key"])
    ]


class Batch:
    def __init__(self, templates: dict[str, Any]) -> None:
        self.s3 = create_buckets()
        self.workflow = LocalWorkflow(
            templates, STACK, machine_id(templates[STACK], "InferenceClassifyBatch")
        )
        script_endpoint(self.workflow, endpoint_by_marker)

    def put(self, name: str, body: bytes) -> str:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=f"{BATCH}{name}", Body=body)
        return f"s3://{DATA_BUCKET}/{BATCH}{name}"

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowRun:
        return self.workflow.run(execution_input, name=name, timeout=120)


@pytest.fixture
def batch(dev_templates) -> Iterator[Batch]:
    with mock_aws(config=MOTO_CONFIG):
        yield Batch(dev_templates)


def put_mixed_batch(batch: Batch) -> dict[str, str]:
    """Ten objects: six confident images (one of 2 MB), one unsure, one PDF, one folder marker,
    and one confident PNG in a sub-folder."""
    uris = {
        "bike-1": batch.put("bike-1.jpg", image(30_000, marker="bicycle")),
        "bike-2": batch.put("bike-2.jpg", image(12_000, marker="bicycle")),
        "bike-3": batch.put("bike-3.png", image(9_000, kind="png", marker="bicycle")),
        "moto-1": batch.put("moto-1.jpg", image(2 * 1024 * 1024, marker="motorcycle")),
        "moto-2": batch.put("moto-2.jpg", image(15_000, marker="motorcycle")),
        "moto-3": batch.put("sub/moto-3.png", image(15_000, kind="png", marker="motorcycle")),
        "unsure": batch.put("unsure.jpg", image(15_000, marker="unsure")),
        "pdf": batch.put("report.jpg", b"%PDF-1.7\n" + b"\x00" * 500),
        "folder": batch.put("sub/", b""),
        "bike-4": batch.put("bike-4.jpg", image(11_000, marker="bicycle")),
    }
    return uris


def test_mixed_batch_within_tolerance_summarizes_and_notifies(batch):
    uris = put_mixed_batch(batch)

    run = batch.run({"prefix": BATCH}, "mixed")

    assert run.status == "SUCCEEDED", run.cause
    summary = run.output
    assert summary["total"] == 10
    assert summary["classified"] == 7
    assert summary["labels"] == {"bicycle": 4, "motorcycle": 3}
    assert summary["low_confidence"] == 1
    assert summary["low_confidence_labels"] == {"motorcycle": 1}
    assert summary["skipped"] == 1
    assert summary["failed"] == 1
    assert summary["failure_percentage"] == 10.0  # tolerated: 10 % is not more than 10 %
    (failure,) = summary["failures"]
    assert failure["s3_uri"] == uris["pdf"]
    assert failure["error"] == "NotAnImageError"
    assert "not an image" in failure["cause"]
    assert summary["failures_not_listed"] == 0
    assert summary["not_processed"] == 0
    assert summary["tolerance_exceeded"] is False
    assert summary["prefix"] == BATCH
    assert summary["threshold"] == 0.9

    # Every image went to the endpoint once (the PDF and the folder marker never did).
    assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 8
    # The 2 MB image travelled by reference: no state ever held image bytes.
    assert largest_state_payload(run.history) < 16 * 1024

    # The low-confidence image is recorded for review; the batch does not fail for it.
    review = read_json(batch.s3, ARTIFACTS_BUCKET, f"{REVIEW_PREFIX}{BATCH}unsure.jpg.json")
    assert review["inference"]["label"] == "motorcycle"

    # ResultWriter files and the summary beside them.
    manifest_uri = summary["results_uri"]
    manifest = read_json(batch.s3, ARTIFACTS_BUCKET, manifest_uri.split("/", 3)[3])
    assert manifest_uri.startswith(f"s3://{ARTIFACTS_BUCKET}/results/sagemaker/batch/")
    # Ten objects fit one batch (dev: 20 a batch): one child, one Lambda invocation for all,
    # its per-image results written, the PDF's failure among them.
    (child,) = results(batch, manifest, "SUCCEEDED")
    assert results(batch, manifest, "FAILED") == []
    assert len(json.loads(child["Input"])["Items"]) == 10
    per_image = json.loads(child["Output"])["results"]
    assert [r["s3_uri"] for r in per_image] == sorted(uris.values())  # the listing's order
    assert {r["status"] for r in per_image} == {
        "classified",
        "low_confidence",
        "skipped",
        "failed",
    }
    (failed,) = [r for r in per_image if r["status"] == "failed"]
    assert (failed["s3_uri"], failed["error"]) == (uris["pdf"], "NotAnImageError")
    invoked = [call["FunctionName"] for call in run.calls["lambda.Invoke"]]
    assert sum("classifybatch" in name for name in invoked) == 1
    stored = read_json(batch.s3, ARTIFACTS_BUCKET, summary["summary_uri"].split("/", 3)[3])
    assert stored == summary

    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker classify batch FINISHED"
    message = published["Message"]
    assert "10 objects, 7 classified, 1 low-confidence" in message
    assert '"bicycle":4' in message
    assert f"Failures:\n- {uris['pdf']}: NotAnImageError: {uris['pdf']} is not an image" in message
    assert summary["summary_uri"] in message


def test_child_inputs_carry_the_batch_threshold(batch):
    batch.put("unsure.jpg", image(5_000, marker="unsure"))
    batch.put("bike.jpg", image(5_000, marker="bicycle"))

    run = batch.run({"prefix": BATCH, "confidence_threshold": 0.5}, "lowered")

    assert run.status == "SUCCEEDED", run.cause
    # 0.55 passes a 0.5 threshold: nothing goes to review.
    assert run.output["classified"] == 2
    assert run.output["low_confidence"] == 0
    assert run.output["threshold"] == 0.5


def stored_summary(batch: Batch, cause: str) -> dict[str, Any]:
    (uri,) = re.findall(r"Summary: (s3://\S+)", cause)
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    assert bucket == ARTIFACTS_BUCKET
    return read_json(batch.s3, bucket, key)


def test_too_many_failures_fail_the_batch_but_name_the_failures_and_write_the_summary(batch):
    ok = batch.put("ok.jpg", image(5_000, marker="bicycle"))
    notes = [batch.put(f"notes-{index}.jpg", b"plain text, not a picture") for index in range(3)]

    run = batch.run({"prefix": BATCH}, "too-many-failures")

    assert run.status == "FAILED"
    assert run.error == "States.ExceedToleratedFailureThreshold"
    # The child succeeded (its images failed, not the function): the summary counts them
    # image by image and the batch fails as the Map fails beyond its tolerance.
    assert run.entered[-6:] == [
        "Summarize",
        "WithinTolerance?",
        "ImageFailuresNotTolerated",
        "TooManyFailures",
        "NotifyFailure",
        "Failed",
    ]
    assert "NotifyBatchDone" not in run.entered
    assert f"Batch of s3://{DATA_BUCKET}/{BATCH} stopped: 3 of 4 objects failed (75.0 percent" in (
        run.cause
    )
    for uri in notes:
        assert f"- {uri}: NotAnImageError: {uri} is not an image" in run.cause

    # The summary is written anyway, beside the results of the failed Map Run.
    summary = stored_summary(batch, run.cause)
    assert summary["tolerance_exceeded"] is True
    assert (summary["total"], summary["classified"], summary["failed"]) == (4, 1, 3)
    assert sorted(f["s3_uri"] for f in summary["failures"]) == sorted(notes)
    assert {f["error"] for f in summary["failures"]} == {"NotAnImageError"}
    assert summary["failures_not_listed"] == 0
    assert ok not in {f["s3_uri"] for f in summary["failures"]}
    assert summary["results_uri"] in run.cause
    manifest = read_json(batch.s3, ARTIFACTS_BUCKET, summary["results_uri"].split("/", 3)[3])
    (child,) = results(batch, manifest, "SUCCEEDED")
    statuses = [r["status"] for r in json.loads(child["Output"])["results"]]
    assert sorted(statuses) == ["classified", "failed", "failed", "failed"]

    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker classify batch FAILED"
    message = published["Message"]
    assert "Error: States.ExceedToleratedFailureThreshold" in message
    for uri in notes:
        assert uri in message
    assert "NotAnImageError" in message
    assert summary["summary_uri"] in message


def test_the_failures_named_are_bounded_with_a_count_of_the_rest(batch):
    batch.put("ok.jpg", image(5_000, marker="bicycle"))
    listed = model.MAX_LISTED_FAILURES
    for index in range(listed + 5):
        batch.put(f"notes-{index:02d}.jpg", b"plain text, not a picture")

    run = batch.run({"prefix": BATCH}, "many-failures")

    assert run.status == "FAILED"
    assert run.error == "States.ExceedToleratedFailureThreshold"
    assert run.cause.count(": NotAnImageError: ") == listed
    assert "... and 5 more (all are in the results' FAILED files)" in run.cause
    summary = stored_summary(batch, run.cause)
    assert summary["failed"] == listed + 5
    assert len(summary["failures"]) == listed
    assert summary["failures_not_listed"] == 5
    (published,) = run.published()
    assert "... and 5 more" in published["Message"]


def break_batch_function(batch: Batch) -> None:
    """The batch function fails as a whole (misconfigured: no endpoint name), so its child
    fails and counts against the Map's tolerance, as a crash or a timeout would."""
    for function in batch.workflow._functions.values():
        if function["handler"].startswith("sagemaker_inference.classify_batch."):
            del function["environment"]["ENDPOINT_NAME"]


def test_children_failing_as_a_whole_stop_the_map_and_fail_each_of_their_images(batch):
    uris = [batch.put(f"bike-{index}.jpg", image(5_000, marker="bicycle")) for index in range(3)]
    break_batch_function(batch)

    run = batch.run({"prefix": BATCH}, "children-failed")

    assert run.status == "FAILED"
    assert run.error == "States.ExceedToleratedFailureThreshold"
    assert run.entered[-4:] == [
        "SummarizeFailedBatch",
        "TooManyFailures",
        "NotifyFailure",
        "Failed",
    ]
    assert "Summarize" not in run.entered  # the finished-batch path is not taken
    summary = stored_summary(batch, run.cause)
    assert (summary["total"], summary["failed"], summary["tolerance_exceeded"]) == (3, 3, True)
    assert sorted(f["s3_uri"] for f in summary["failures"]) == sorted(uris)
    assert {f["error"] for f in summary["failures"]} == {"KeyError"}
    manifest = read_json(batch.s3, ARTIFACTS_BUCKET, summary["results_uri"].split("/", 3)[3])
    (child,) = results(batch, manifest, "FAILED")
    assert len(json.loads(child["Input"])["Items"]) == 3


def test_a_summary_that_fails_too_does_not_hide_the_maps_error(batch):
    batch.put("ok.jpg", image(5_000, marker="bicycle"))
    break_batch_function(batch)
    denied = AwsError("AccessDeniedException", "not authorized to perform: states:ListMapRuns")
    batch.workflow.script("stepfunctions", "ListMapRuns", denied)

    run = batch.run({"prefix": BATCH}, "summary-failed")

    assert run.status == "FAILED"
    assert run.error == "States.ExceedToleratedFailureThreshold"
    assert run.entered[-4:] == [
        "SummarizeFailedBatch",
        "SummaryUnavailable",
        "NotifyFailure",
        "Failed",
    ]
    assert "No batch summary could be written: ClientError" in run.cause
    assert "states:ListMapRuns" in run.cause
    (published,) = run.published()
    assert "Error: States.ExceedToleratedFailureThreshold" in published["Message"]


def test_an_empty_prefix_is_an_empty_summary(batch):
    run = batch.run({"prefix": f"{INPUT_PREFIX}nothing-here/"}, "empty")

    assert run.status == "SUCCEEDED", run.cause
    assert run.output["total"] == 0
    assert run.output["failure_percentage"] == 0.0


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({}, "prefix must be a key prefix"),
        ({"prefix": "elsewhere/"}, "outside the inference inputs"),
        ({"prefix": 42}, "prefix must be a key prefix (a string), got 42"),
        ({"prefix": BATCH, "confidence_threshold": 1.5}, "within [0, 1], got 1.5"),
        ({"prefix": BATCH, "confidence_threshold": "high"}, "a number in [0, 1], got 'high'"),
        (["not", "an", "object"], "the input must be a JSON object, got list"),
    ],
)
def test_invalid_batch_requests_are_rejected_before_listing(batch, execution_input, message):
    run = batch.run(execution_input, "invalid")

    assert run.status == "FAILED"
    assert run.error == "InvalidRequestError"
    assert message in run.cause
    assert INPUT_PREFIX in run.cause  # every refusal says what a batch input looks like
    assert run.entered == ["ReadInput", "ValidateRequest", "NotifyFailure", "Failed"]
    assert run.retry_sleeps == []
    (published,) = run.published()
    assert "Error: InvalidRequestError" in published["Message"]


def test_an_unknown_field_is_refused_not_run_with_the_default(batch):
    """``threshold`` instead of ``confidence_threshold`` would classify with the default 0.9."""
    batch.put("unsure.jpg", image(5_000, marker="unsure"))

    run = batch.run({"prefix": BATCH, "threshold": 0.5}, "unknown-field")

    assert run.status == "FAILED"
    assert run.error == "InvalidRequestError"
    assert "unknown field 'threshold' (did you mean 'confidence_threshold'?)" in run.cause
    assert "the input takes prefix, confidence_threshold" in run.cause
    assert "ClassifyImages" not in run.entered
    assert "sagemaker-runtime.InvokeEndpoint" not in run.handler_calls
    assert run.entered[-2:] == ["NotifyFailure", "Failed"]
    (published,) = run.published()
    assert published["subject"] == "[dev] SageMaker classify batch FAILED"
    assert "did you mean 'confidence_threshold'?" in published["Message"]


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "exceeded"),
    [
        (0, 10, 0, 0, False),
        (1, 10, 0, 0, True),  # nothing tolerated by default
        (1, 10, 0, 10, False),  # 10 % is not more than 10 %
        (2, 10, 0, 10, True),
        (2, 10, 2, 0, False),
        (3, 10, 2, 0, True),
        (2, 10, 5, 10, True),  # both set: breaching either fails
    ],
)
def test_the_runner_applies_aws_tolerance_rules(failed, total, count, percentage, exceeded):
    assert tolerance_exceeded(failed, total, count, percentage) is exceeded


# --- several batches ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_batch_templates(cdk_context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dev with 3 images a batch and 2 endpoint calls in flight per batch."""
    context = copy.deepcopy(cdk_context)
    context["defaults"]["sagemaker"]["batch"].update(max_items_per_batch=3, invocations_per_batch=2)
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


class InFlight:
    """A scripted endpoint that records how many calls it serves at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        return endpoint_by_marker(params)


def test_every_image_of_every_batch_is_counted_with_bounded_endpoint_calls(
    small_batch_templates,
):
    with mock_aws(config=MOTO_CONFIG):
        batch = Batch(small_batch_templates)
        endpoint = InFlight()
        script_endpoint(batch.workflow, endpoint)
        uris = {
            f"bike-{i}": batch.put(f"bike-{i}.jpg", image(5_000, marker="bicycle"))
            for i in range(4)
        }
        uris["unsure"] = batch.put("unsure.jpg", image(5_000, marker="unsure"))
        uris["pdf"] = batch.put("notes.jpg", b"%PDF-1.7\n" + b"\x00" * 100)
        uris["empty"] = batch.put("empty.jpg", b"")
        uris["folder"] = batch.put("sub/", b"")

        run = batch.run({"prefix": BATCH, "confidence_threshold": 0.9}, "several-batches")

        assert run.status == "FAILED"  # 2 of 8 failed: 25 percent, more than dev's 10
        assert run.error == "States.ExceedToleratedFailureThreshold"
        summary = stored_summary(batch, run.cause)
        assert (summary["total"], summary["classified"], summary["low_confidence"]) == (8, 4, 1)
        assert (summary["skipped"], summary["failed"], summary["not_processed"]) == (1, 2, 0)
        assert {(f["s3_uri"], f["error"]) for f in summary["failures"]} == {
            (uris["pdf"], "NotAnImageError"),
            (uris["empty"], "NotAnImageError"),
        }
        # 8 objects, 3 a batch: 3 children, 3 invocations of the batch function.
        invoked = [call["FunctionName"] for call in run.calls["lambda.Invoke"]]
        assert sum("classifybatch" in name for name in invoked) == 3
        assert len(run.handler_calls["sagemaker-runtime.InvokeEndpoint"]) == 5
        # Never more endpoint calls in flight than a batch may make (the harness runs one
        # function at a time, as one Lambda instance would).
        assert 1 <= endpoint.most <= 2
        # The Map ran as many batches at once as dev's capacity allows: 1 instance x 4 / 2.
        images = batch.workflow.definition["States"]["ClassifyImages"]
        assert images["MaxConcurrency"] == 2

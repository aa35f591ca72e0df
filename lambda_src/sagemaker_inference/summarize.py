"""Last state of a batch: count the Distributed Map's results and store the summary beside them.

The Map's ResultWriter wrote ``manifest.json`` and ``SUCCEEDED_n.json``/``FAILED_n.json``/
``PENDING_n.json`` files under the results prefix; this reads them, counts labels,
low-confidence images and failures, and writes ``summary.json`` next to the manifest.

Each child classified a batch of images, so the counts are per image (a failed child fails
each of its images); ``tolerance_exceeded`` says whether more images failed than the batch
tolerates, which the workflow's ``WithinTolerance?`` acts on.

Two callers: a batch that finished passes the Map's output (``ResultWriterDetails`` names the
manifest). A batch whose Map Run exceeded its tolerated failures has no output, only the error,
but Step Functions still wrote the results: the execution's newest Map Run (ListMapRuns) names
the folder, ``<results prefix>/<map run id>/manifest.json``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from sagemaker_inference.aws import client, emit_metric, error_code
from sagemaker_inference.model import describe_failures, summarize

logger = Logger()
tracer = Tracer()


class BatchResultsNotFoundError(Exception):
    """No results manifest where the batch's Map Run should have written it."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"map": <Map output>, "prefix", "threshold", "tolerated_failure_percentage"}`` or,
    for a batch whose Map Run exceeded its tolerated failures, ``{"execution_arn",
    "results": {"bucket", "prefix"}, "prefix", "threshold"}`` -> ``{"summary": <what
    summary.json holds>, "failures_text": <the listed failures as notification lines>}``."""
    s3 = client("s3")
    if "map" in event:
        details = event["map"]["ResultWriterDetails"]
        bucket, manifest_key = details["Bucket"], details["Key"]
        tolerance_exceeded = False
    else:
        bucket = event["results"]["bucket"]
        manifest_key = _failed_run_manifest(event["execution_arn"], event["results"]["prefix"])
        tolerance_exceeded = True
    manifest = _read_json(s3, bucket, manifest_key)
    files = manifest.get("ResultFiles", {})

    def records(status: str) -> Any:
        # One result file in memory at a time (Step Functions splits them at 5 GB).
        return (r for f in files.get(status, []) for r in _read_json(s3, bucket, f["Key"]))

    summary = summarize(
        records("SUCCEEDED"),
        records("FAILED"),
        records("PENDING"),
        tolerated_failure_percentage=float(event.get("tolerated_failure_percentage", 0)),
    )
    summary_key = manifest_key.rsplit("/", 1)[0] + "/summary.json"
    summary.update(
        {
            "prefix": event["prefix"],
            "threshold": event["threshold"],
            "tolerance_exceeded": tolerance_exceeded or summary["tolerance_exceeded"],
            "results_uri": f"s3://{bucket}/{manifest_key}",
            "summary_uri": f"s3://{bucket}/{summary_key}",
        }
    )
    s3.put_object(
        Bucket=bucket,
        Key=summary_key,
        Body=json.dumps(summary, indent=2).encode(),
        ContentType="application/json",
    )
    for name in ("classified", "low_confidence", "failed"):
        emit_metric(name=f"Batch_{name}", unit=MetricUnit.Count, value=summary[name])
    logger.info("batch summarized", extra={"summary": summary})
    return {"summary": summary, "failures_text": describe_failures(summary)}


def _failed_run_manifest(execution_arn: str, results_prefix: str) -> str:
    """The manifest key of the execution's newest Map Run (a retried Map state starts a new
    one; the last is the one that failed)."""
    sfn = client("stepfunctions")
    runs = [
        run
        for page in sfn.get_paginator("list_map_runs").paginate(executionArn=execution_arn)
        for run in page["mapRuns"]
    ]
    if not runs:
        raise BatchResultsNotFoundError(f"execution {execution_arn} started no Map Run")
    newest = max(runs, key=lambda run: run["startDate"])
    # arn:aws:states:<region>:<account>:mapRun:<state machine>/<label>:<map run id>
    run_id = newest["mapRunArn"].rsplit(":", 1)[-1]
    return f"{results_prefix.rstrip('/')}/{run_id}/manifest.json"


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        # The function may not list the bucket: S3 answers a missing key with AccessDenied.
        if key.endswith("/manifest.json") and error_code(error) in {"NoSuchKey", "AccessDenied"}:
            raise BatchResultsNotFoundError(
                f"no results manifest at s3://{bucket}/{key} ({error_code(error)})"
            ) from error
        raise

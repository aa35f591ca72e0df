"""First state of the relabel workflow: decide whether to label, and prepare the job.

In order, each refusal before anything is written: the request's fields; a workteam (the run's
``workteam_arn`` or the configured one; none is an error); Ground Truth in this region; no
other run of this workflow and no labeling job of this environment under way (then the run
ends as ``busy``: never two jobs at once); pending records (none: ``none``; a threshold run
below its threshold: ``below_threshold``). Then the job's input manifest (one ``source-ref``
per image), the records behind each image, the label categories and the worker template are
written under ``relabel/jobs/<job>/`` and the CreateLabelingJob parameters returned. Records
stay where they are: only the merge moves them, once their label is in a manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.naming import REKOGNITION, SAGEMAKER
from relabel import ground_truth
from relabel.records import collect_pending, count_pending
from relabel.request import parse_request

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")
sagemaker = boto3.client("sagemaker")
stepfunctions = boto3.client("stepfunctions")


class WorkteamMissingError(ValueError):
    """Neither the run nor the configuration names a private workteam."""


def job_name(prefix: str, execution_id: str, start_time: str) -> str:
    """``<prefix>YYYYMMDD-HHMMSS-<6 hex of the execution>``: sortable, unique per run, and the
    same on a retry of this state (LabelingJobName: at most 63 of [a-zA-Z0-9-])."""
    stamp = re.sub(r"[^0-9]", "", start_time)[:14].ljust(14, "0")
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:6]
    return f"{prefix}{stamp[:8]}-{stamp[8:]}-{digest}"[:63]


def other_runs(state_machine: str, execution_id: str) -> list[str]:
    """Running executions of this workflow besides this one (the first page is enough: any
    other one means busy)."""
    page = stepfunctions.list_executions(
        stateMachineArn=state_machine, statusFilter="RUNNING", maxResults=10
    )
    return [
        e["executionArn"] for e in page.get("executions", []) if e["executionArn"] != execution_id
    ]


def _put(bucket: str, key: str, body: str, content_type: str) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType=content_type)
    return f"s3://{bucket}/{key}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"request": <input>, "execution": {"id", "start_time"}}`` -> what the run does next."""
    env = os.environ
    request = parse_request(
        event.get("request"), int(env["MAX_IMAGES"]), re.compile(env["WORKTEAM_ARN_PATTERN"])
    )
    workteam = request["workteam_arn"] or env.get("WORKTEAM_ARN") or None
    if workteam is None:
        raise WorkteamMissingError(
            "no private workteam: set relabel.workteam_arn in cdk.json or start the run with "
            '{"workteam_arn": "arn:aws:sagemaker:...:workteam/private-crowd/<name>"}; '
            "nothing was collected or moved"
        )
    region = env["AWS_REGION"]
    ground_truth.task_function_arns(region)  # refuses a region without the built-in task
    execution = event.get("execution", {})
    execution_id = str(execution.get("id", ""))
    prefixes = {
        REKOGNITION: env["REKOGNITION_REVIEW_PREFIX"],
        SAGEMAKER: env["SAGEMAKER_REVIEW_PREFIX"],
    }
    bucket = env["ARTIFACTS_BUCKET"]
    busy = other_runs(env["STATE_MACHINE_ARN"], execution_id) + ground_truth.active_jobs(
        sagemaker, env["JOB_NAME_PREFIX"]
    )
    if busy:
        logger.warning("a labeling run is under way; not starting another", extra={"busy": busy})
        return {"action": "busy", "busy": busy[0], "pending": None}
    pending = count_pending(s3, bucket, prefixes)
    total = sum(pending.values())
    threshold = int(env.get("PENDING_THRESHOLD") or 0)
    summary: dict[str, Any] = {"pending": pending, "pending_total": total}
    if total == 0:
        return {"action": "none", **summary}
    if request["trigger"] == "threshold" and total < threshold:
        return {"action": "below_threshold", "threshold": threshold, **summary}
    images, unreadable = collect_pending(s3, bucket, prefixes, request["max_images"])
    if not images:
        return {"action": "none", "unreadable": unreadable[:20], **summary}
    name = job_name(env["JOB_NAME_PREFIX"], execution_id, str(execution.get("start_time", "")))
    base = f"{env['JOBS_PREFIX']}{name}/"
    manifest_uri = _put(
        bucket,
        f"{base}input.manifest",
        "".join(json.dumps({"source-ref": image.source_ref}) + "\n" for image in images),
        "application/x-ndjson",
    )
    records = {image.source_ref: image.record_keys for image in images}
    records_uri = _put(bucket, f"{base}records.json", json.dumps(records), "application/json")
    labels = json.loads(env["LABELS"])
    create = ground_truth.labeling_job_request(
        job_name=name,
        region=region,
        manifest_uri=manifest_uri,
        categories_uri=_put(
            bucket,
            f"{base}categories.json",
            ground_truth.label_category_config(labels),
            "application/json",
        ),
        template_uri=_put(bucket, f"{base}template.liquid", ground_truth.UI_TEMPLATE, "text/html"),
        workteam_arn=workteam,
        workers_per_image=int(env["WORKERS_PER_IMAGE"]),
        task_time_limit_seconds=int(env["TASK_TIME_LIMIT_SECONDS"]),
        task_availability_seconds=int(env["TASK_AVAILABILITY_SECONDS"]),
    )
    logger.info("labeling job prepared", extra={"job": name, "images": len(images)})
    return {
        "action": "label",
        **summary,
        "unreadable": unreadable[:20],
        "job": {
            "name": name,
            "images": len(images),
            "input_manifest_uri": manifest_uri,
            "records_uri": records_uri,
        },
        "create": create,
    }

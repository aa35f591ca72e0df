"""Last step of a labeling run: the answers into a new training manifest, then the records done.

Reads the job's output manifest, takes the newest ``relabel-vNNNNNN.manifest`` under the
manifest prefix of the data bucket (or the configured base manifest, for the first run) and
writes the merge as the next version (``relabel.manifest_merge``). Only then are the records of
the answered images moved to the done prefix (copied, then deleted); images no worker answered
keep their records pending for the next run. A retry after a partial move is harmless: a
record already moved is skipped, and the manifest de-duplicates by ``source-ref``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from relabel import manifest_merge
from shared.training_request import training_request

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


class OutputManifestError(ValueError):
    """The labeling job's output manifest is missing or not in the artifacts bucket."""


class NothingLabeledError(ValueError):
    """The job ended without a single answer (every task expired): no manifest, all pending."""


def output_manifest_key(output_prefix: str, job: str) -> str:
    """Where Ground Truth writes a job's consolidated answers (developer guide, "Labeling job
    output data": ``<S3OutputPath>/<job name>/manifests/output/output.manifest``)."""
    return f"{output_prefix}{job}/manifests/output/output.manifest"


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise OutputManifestError(f"not an s3:// object URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _read(bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def previous_manifest(bucket: str, prefix: str, base_key: str) -> tuple[int, bytes, str | None]:
    """(version, body, key) of the newest merged manifest, else of the base manifest, else
    empty."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    version = manifest_merge.newest_version(keys, prefix)
    if version:
        key = manifest_merge.version_key(prefix, version)
        return version, _read(bucket, key), key
    if base_key:
        return 0, _read(bucket, base_key), base_key
    return 0, b"", None


def move_records(bucket: str, keys: list[str], done_prefix: str) -> int:
    """Copy each record under the done prefix, then delete it; a record already gone (moved by
    an earlier attempt) is skipped."""
    moved = 0
    for key in keys:
        try:
            s3.copy_object(
                Bucket=bucket,
                Key=f"{done_prefix}{key}",
                CopySource={"Bucket": bucket, "Key": key},
                MetadataDirective="COPY",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                continue
            raise
        s3.delete_object(Bucket=bucket, Key=key)
        moved += 1
    return moved


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"job": <collect's job>, "counters": <LabelCounters>}`` -> the new manifest, counts."""
    env = os.environ
    artifacts, data = env["ARTIFACTS_BUCKET"], env["DATA_BUCKET"]
    job = event["job"]
    out_key = output_manifest_key(env["OUTPUT_PREFIX"], job["name"])
    try:
        body = _read(artifacts, out_key)
    except ClientError as error:
        raise OutputManifestError(
            f"labeling job {job['name']} completed but s3://{artifacts}/{out_key} cannot be "
            f"read ({error.response.get('Error', {}).get('Code')}); every record stays pending"
        ) from error
    output = manifest_merge.job_output(body, job["name"], out_key)
    records: dict[str, list[str]] = json.loads(_read(*split_uri(job["records_uri"])))
    if not output.answered:
        raise NothingLabeledError(
            f"labeling job {job['name']} answered none of its {len(records)} images (their "
            "tasks expired or failed); no manifest was written and every record stays pending"
        )
    prefix = env["MANIFEST_PREFIX"]
    version, body, previous_key = previous_manifest(data, prefix, env.get("BASE_MANIFEST_KEY", ""))
    source = previous_key or "<none>"
    previous = manifest_merge.parse_lines(body, source) if body else []
    merged = manifest_merge.merge(previous, output.answered)
    new_key = manifest_merge.version_key(prefix, version + 1)
    s3.put_object(
        Bucket=data,
        Key=new_key,
        Body=manifest_merge.render(merged.lines),
        ContentType="application/x-ndjson",
    )
    # The labels are in a manifest now: only their records leave the pending prefixes.
    done_keys = [key for ref in output.answered for key in records.get(ref, [])]
    moved = move_records(artifacts, done_keys, env["DONE_PREFIX"])
    unanswered = [ref for ref in records if ref not in output.answered]
    metrics.add_metric(name="RelabeledImages", unit=MetricUnit.Count, value=len(output.answered))
    metrics.add_metric(name="RelabelUnanswered", unit=MetricUnit.Count, value=len(unanswered))
    result = {
        "manifest_uri": f"s3://{data}/{new_key}",
        "version": version + 1,
        "previous_manifest": previous_key,
        "images_in_manifest": len(merged.lines),
        "labeled": len(output.answered),
        "added": merged.added,
        "replaced": merged.replaced,
        "conflicts": len(merged.conflicts),
        "conflict_examples": merged.conflicts[:10],
        "unlabeled": len(unanswered),
        "records_moved": moved,
        "training_input": training_request(f"s3://{data}/{new_key}"),
    }
    logger.info("labels merged", extra=result)
    return result

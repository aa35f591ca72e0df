"""Record the lineage of a trained version: ``lineage.json`` next to its report, and its tags.

Runs after ``Evaluate``, whatever the gate decided. Reads from the workflow's state (``state``):
the job (``job``: project, version, report prefix, gate settings, dataset sources), the trained
version's description (``training.descriptions[0]``: its ARN, creation time and the manifest
snapshots Rekognition trained and tested on), the evaluation (``evaluation``: verdict and
``metrics.json``) and the datasets (``train_dataset``/``test_dataset`` when the run created
them, ``project.datasets`` when it kept them). Each manifest is recorded with the S3 version ID
and ETag it has now (a HEAD request; the buckets are versioned, so the version ID pins the
bytes). Returns the record's URI and the tags the workflow puts on the version.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from contracts.naming import REKOGNITION
from shared.lineage import (
    CODE_VERSION_TAG,
    CODE_VERSION_VARIABLE,
    GATE_PASSED_TAG,
    LINEAGE_TAG,
    GateRecord,
    LineageRecord,
    S3ObjectRef,
    lineage_key,
    parse_lineage,
    utc_time,
)

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"state": <workflow state>, "execution_arn", "started_at"}."""
    record = lineage_record(
        event["state"],
        execution_arn=str(event["execution_arn"]),
        started_at=str(event["started_at"]),
        environment=os.environ["ENVIRONMENT_NAME"],
        code_version=os.environ[CODE_VERSION_VARIABLE],
        head=_head,
    )
    bucket = os.environ["ARTIFACTS_BUCKET"]
    key = lineage_key(REKOGNITION, record.project, record.version)
    # What is written is what every reader accepts.
    body = parse_lineage(record.to_dict()).to_json().encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    uri = f"s3://{bucket}/{key}"
    logger.info("lineage recorded", extra={"uri": uri, "passed": record.gate.passed})
    return {
        "uri": uri,
        "tags": {
            LINEAGE_TAG: uri,
            GATE_PASSED_TAG: "true" if record.gate.passed else "false",
            CODE_VERSION_TAG: record.code_version,
        },
    }


def lineage_record(
    state: Mapping[str, Any],
    *,
    execution_arn: str,
    started_at: str,
    environment: str,
    code_version: str,
    head: Any,
) -> LineageRecord:
    """The record of the run in ``state``; ``head(bucket, key, version_id)`` -> S3ObjectRef."""
    job, evaluation = state["job"], state["evaluation"]
    description = state["training"]["descriptions"][0]
    verdict = evaluation["gate"]
    sources = job["datasets"]
    training = [
        *_source_manifests(sources.get("train_source"), head),
        *_snapshots(description.get("TrainingDataResult"), head),
    ]
    test = [
        *_source_manifests(sources.get("test_source"), head),
        *_snapshots(description.get("TestingDataResult"), head),
    ]
    return LineageRecord(
        pipeline=REKOGNITION,
        environment=environment,
        project=job["project_name"],
        version=job["version_name"],
        model_version_arn=description["ProjectVersionArn"],
        execution_arn=execution_arn,
        code_version=code_version,
        training_data=training,
        test_data=test,
        datasets=_datasets(state),
        gate=GateRecord(
            settings=dict(job["gate"]),
            passed=bool(verdict["passed"]),
            reasons=list(verdict["reasons"]),
            metric=str(verdict["metric"]),
            value=float(verdict["value"]),
            threshold=float(verdict["threshold"]),
        ),
        metrics_uri=evaluation["metrics_uri"],
        report_uri=evaluation.get("report_uri"),
        created_at=utc_time(started_at),
        finished_at=utc_time(),
    )


def _source_manifests(source: Any, head: Any) -> list[S3ObjectRef]:
    """The Ground Truth manifest a dataset was created from (none for a copied dataset)."""
    if not isinstance(source, Mapping) or "GroundTruthManifest" not in source:
        return []
    location = source["GroundTruthManifest"]["S3Object"]
    return [head(location["Bucket"], location["Name"], location.get("Version"))]


def _snapshots(result: Any, head: Any) -> list[S3ObjectRef]:
    """The manifest snapshots Rekognition trained or tested on (``<Result>.Output.Assets``)."""
    output = result.get("Output") if isinstance(result, Mapping) else None
    assets = output.get("Assets") if isinstance(output, Mapping) else None
    refs = []
    for asset in assets if isinstance(assets, list) else []:
        location = asset.get("GroundTruthManifest", {}).get("S3Object")
        if isinstance(location, Mapping):
            refs.append(head(location["Bucket"], location["Name"], location.get("Version")))
    return refs


def _datasets(state: Mapping[str, Any]) -> dict[str, str]:
    """Created this run (``train_dataset``/``test_dataset``) or kept (``project.datasets``)."""
    datasets = {}
    for kind in ("train", "test"):
        created = state.get(f"{kind}_dataset")
        if isinstance(created, Mapping) and isinstance(created.get("arn"), str):
            datasets[kind] = created["arn"]
    if not datasets:
        for arn in state.get("project", {}).get("datasets", []):
            for kind in ("train", "test"):
                if f"/dataset/{kind}/" in arn:
                    datasets[kind] = arn
    return datasets


def _head(bucket: str, key: str, version_id: str | None) -> S3ObjectRef:
    """The object's version ID and ETag now; a manifest deleted since is recorded by URI only."""
    uri = f"s3://{bucket}/{key}"
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        head = s3.head_object(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        logger.warning("manifest no longer exists", extra={"uri": uri})
        return S3ObjectRef(uri=uri, version_id=version_id)
    return S3ObjectRef(uri=uri, version_id=head.get("VersionId") or version_id, etag=head["ETag"])

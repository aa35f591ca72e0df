"""After the copy: the promoted version's drift baseline, from the source's artifacts bucket
into this environment's, where this environment's drift evaluator looks for it.

The Evaluate step of the source's training wrote ``reports/<source project>/<version>/
baseline.json``; the evaluator of this environment reads the running version's baseline at
``reports/<this project>/<version>/baseline.json`` (both keys from
``contracts.s3_layout.version_report_prefix``; the copied version keeps its name). A
missing or unreadable baseline does not fail the promotion (the model is copied and approved;
drift monitoring then stays quiet for this version, as its report says): the result says why,
and the deployment notification repeats it. Other AWS errors (after botocore's own retries)
propagate: the workflow's failure path notifies them with their cause.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from contracts import drift as contract
from contracts.s3_layout import version_report_prefix
from rekognition_promotion.source import VERSION_NAME, PromotionRequestError

logger = Logger()
tracer = Tracer()
_MISSING = frozenset({"NoSuchKey", "404"})
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException"})


def baseline_key(project: str, version: str) -> str:
    """Where a Rekognition version's baseline is (the evaluator's and the Evaluate step's key)."""
    return version_report_prefix(project, version) + contract.BASELINE_FILE


def _version(event: dict[str, Any], field: str) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not VERSION_NAME.fullmatch(value):
        raise PromotionRequestError(
            f"{field} must be a version name (letters, digits, _.-), got {value!r}"
        )
    return value


def copy_baseline(
    s3: Any,
    *,
    source_bucket: str,
    source_project: str,
    target_bucket: str,
    target_project: str,
    source_version: str,
    target_version: str,
) -> dict[str, Any]:
    """Copy the baseline; ``{"copied", "summary", "target_uri"}``."""
    source_uri = f"s3://{source_bucket}/{baseline_key(source_project, source_version)}"
    target_key = baseline_key(target_project, target_version)
    target_uri = f"s3://{target_bucket}/{target_key}"

    def skipped(why: str) -> dict[str, Any]:
        summary = f"not copied: {why}; drift monitoring stays quiet for this version"
        logger.warning("baseline not copied", extra={"source": source_uri, "why": why})
        return {"copied": False, "summary": summary, "target_uri": target_uri}

    try:
        body = s3.get_object(
            Bucket=source_bucket, Key=baseline_key(source_project, source_version)
        )["Body"].read()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            return skipped(f"{source_uri} does not exist (its evaluation wrote none)")
        if code in _ACCESS_DENIED:
            return skipped(
                f"{source_uri} is not readable ({code}): the source's bucket and key policies "
                "must allow this environment's baseline role (README, Promotion)"
            )
        raise
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("schema") != contract.BASELINE_SCHEMA:
        return skipped(f"{source_uri} is not a {contract.BASELINE_SCHEMA} document")
    s3.put_object(Bucket=target_bucket, Key=target_key, Body=body, ContentType="application/json")
    logger.info("baseline copied", extra={"source": source_uri, "target": target_uri})
    return {
        "copied": True,
        "summary": f"{target_uri} (from {source_uri})",
        "target_uri": target_uri,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"source_version": <name in the source>, "target_version": <name here>}."""
    return copy_baseline(
        boto3.client("s3"),
        source_bucket=os.environ["SOURCE_BUCKET"],
        source_project=os.environ["SOURCE_PROJECT"],
        target_bucket=os.environ["TARGET_BUCKET"],
        target_project=os.environ["TARGET_PROJECT"],
        source_version=_version(event, "source_version"),
        target_version=_version(event, "target_version"),
    )

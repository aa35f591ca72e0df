"""First state of the promotion workflow: which source version, its lineage, its verdict.

Reads the source environment's published version (SSM) when the request names none, then the
version's lineage record from the source's artifacts bucket; refuses a version whose gate did
not pass. Raises the refusals of ``rekognition_promotion.source`` (their class names are the
workflow's error names); AWS errors other than "not found" and "access denied" propagate, so
the workflow's retry and failure path see them as they are.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from rekognition_promotion.source import (
    LineageNotFoundError,
    SourceNotReadableError,
    SourceSettings,
    checked_record,
    lineage_location,
    promotion_state,
    read_request,
    source_version,
)

logger = Logger()
tracer = Tracer()
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException"})


def _settings() -> SourceSettings:
    return SourceSettings(
        environment=os.environ["SOURCE_ENVIRONMENT"],
        bucket=os.environ["SOURCE_BUCKET"],
        project=os.environ["SOURCE_PROJECT"],
        parameter=os.environ["SOURCE_PARAMETER"],
        target_project=os.environ["TARGET_PROJECT"],
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"request": <execution input>}."""
    settings = _settings()
    fields = read_request(event.get("request"))
    ssm = boto3.client("ssm")

    def read_parameter(name: str) -> str | None:
        try:
            return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if _code(error) == "ParameterNotFound":
                return None
            if _code(error) in _ACCESS_DENIED:
                raise SourceNotReadableError(
                    f"cannot read {settings.environment}'s SSM parameter {name} ({_code(error)}): "
                    "a parameter of another account is readable only when shared; name the "
                    "version with --version"
                ) from None
            raise

    version, version_arn = source_version(fields, settings, read_parameter)
    bucket, key = lineage_location(settings, version)
    uri = f"s3://{bucket}/{key}"
    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            raise LineageNotFoundError(
                f"version {version} of {settings.environment} has no lineage record at {uri}: "
                "it was not trained by the training workflow (or before lineage records "
                "existed), so nothing says it passed a gate; promote a version that has one"
            ) from None
        if _code(error) in _ACCESS_DENIED:
            raise SourceNotReadableError(
                f"cannot read {uri} ({_code(error)}): the source environment's artifacts "
                "bucket policy and key policy must allow this environment's promotion role "
                "(see README, Promotion)"
            ) from None
        raise
    record = checked_record(body, uri, settings, version)
    state = promotion_state(record, uri, settings, fields, version_arn)
    logger.info("source version accepted", extra={"source": state["source"]})
    return state

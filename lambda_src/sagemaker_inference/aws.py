"""The AWS clients of the inference functions and how their errors map to workflow errors."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_inference.model import ImageNotFoundError, StorageThrottledError

#: Retries inside the function stay short: the workflow retries with backoff and jitter, and
#: its history then shows each attempt.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)
_S3_MISSING = {"NoSuchKey", "NotFound", "404", "NoSuchBucket", "AccessDenied", "403"}
_S3_TRANSIENT = {"SlowDown", "InternalError", "ServiceUnavailable", "503", "500", "RequestTimeout"}


@functools.cache
def client(service: str, read_timeout: int = 30) -> Any:
    """One client per service and timeout, reused across invocations of a warm function.

    Lambda sets ``AWS_REGION`` (botocore itself reads only ``AWS_DEFAULT_REGION``).
    """
    return boto3.client(
        service,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        config=_CONFIG.merge(Config(read_timeout=read_timeout)),
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def s3_error(error: Exception, uri: str) -> Exception:
    """A readable workflow error for a failed S3 read of ``uri``."""
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in _S3_MISSING:
            # Without s3:ListBucket, S3 answers 403 for a missing key: both mean "not there".
            return ImageNotFoundError(f"{uri} does not exist (S3 answered {code})")
        if code in _S3_TRANSIENT:
            return StorageThrottledError(f"S3 could not serve {uri} now ({code}); retrying")
        return error
    if isinstance(error, BotoCoreError):
        return StorageThrottledError(f"S3 could not be reached for {uri}: {error}")
    return error


def emit_metric(
    *, name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str] | None = None
) -> None:
    """One CloudWatch metric (EMF log line) in the function's namespace, read at call time,
    with the ``service`` dimension and ``dimensions``."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ImageClassification"),
    ) as metric:
        metric.add_dimension(name="service", value=os.environ.get("POWERTOOLS_SERVICE_NAME", "-"))
        for key, dimension in (dimensions or {}).items():
            metric.add_dimension(name=key, value=dimension)

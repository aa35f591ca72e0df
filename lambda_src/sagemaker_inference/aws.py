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

from contracts.metrics import NAMESPACE_ROOT, SERVICE_DIMENSION
from sagemaker_inference.model import (
    ImageAccessDeniedError,
    ImageNotFoundError,
    StorageThrottledError,
)

#: Retries inside the function stay short: the workflow retries with backoff and jitter, and
#: its history then shows each attempt.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)
#: HeadObject has no body, so its errors carry the HTTP status ("404") as the code.
_S3_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchVersion", "NoSuchBucket"}
#: The functions may list the input prefix (s3:ListBucket), so S3 answers 404 for a key that is
#: not there: a 403 is a refusal (bucket policy, object owner, or the object's KMS key).
_S3_ACCESS_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_S3_TRANSIENT = {"SlowDown", "InternalError", "ServiceUnavailable", "503", "500", "RequestTimeout"}
#: S3 passes KMS's errors on as "KMS.<error>" when it cannot decrypt an SSE-KMS object; these
#: two are KMS being busy, the others (AccessDeniedException, DisabledException,
#: NotFoundException, KMSInvalidStateException, ...) are refusals.
_KMS_TRANSIENT = {"KMS.ThrottlingException", "KMS.KMSInternalException"}


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
    """A readable workflow error for a failed S3 read of ``uri``.

    Not found stays :class:`ImageNotFoundError`; a refusal by S3 or by KMS is
    :class:`ImageAccessDeniedError` naming the operation and the error code (the object is
    there, so "does not exist" would send the operator looking for the wrong thing).
    """
    original: Exception = error  # botocore is untyped: keep the declared type
    if isinstance(error, ClientError):
        code = error_code(error)
        message = str(error.response.get("Error", {}).get("Message", ""))
        answered = f"{code}: {message}" if message and message != code else code
        operation = error.operation_name or "the S3 request"
        if code in _S3_NOT_FOUND:
            return ImageNotFoundError(f"{uri} does not exist (S3 answered {code})")
        if code in _S3_TRANSIENT or code in _KMS_TRANSIENT:
            return StorageThrottledError(f"S3 could not serve {uri} now ({code}); retrying")
        if code.startswith("KMS."):
            return ImageAccessDeniedError(
                f"{uri} cannot be decrypted: {operation} failed with {answered}. The object's "
                "KMS key must be one the inference functions may use (the environment key)."
            )
        if code in _S3_ACCESS_DENIED:
            return ImageAccessDeniedError(
                f"{uri} cannot be read: {operation} was denied ({answered}). Check the "
                "object's KMS key (the functions may decrypt with the environment key only), "
                "the bucket policy and who owns the object."
            )
        return original
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
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_ROOT),
    ) as metric:
        metric.add_dimension(
            name=SERVICE_DIMENSION, value=os.environ.get("POWERTOOLS_SERVICE_NAME", "-")
        )
        for key, dimension in (dimensions or {}).items():
            metric.add_dimension(name=key, value=dimension)

"""Second state: read the validated image from S3 and ask the endpoint what it shows.

The endpoint's JSON answer (one probability per class) is turned into ``{label: probability}``
with the configured class names; the top label and its confidence go back to the workflow,
whose Choice state compares them with the threshold.

The workflow also passes its threshold and its own name: every answer counts as
``ImagesClassified`` and, under the threshold, ``LowConfidence``, per ``workflow`` dimension.
Their ratio is the drift signal the operations alarm watches (a workflow's failed-executions
count cannot be used: a low-confidence image *ends* a single-image execution as failed).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from contextlib import AbstractContextManager
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from contracts.metrics import (
    ENDPOINT_INVOCATIONS,
    ENDPOINT_LATENCY,
    IMAGES_CLASSIFIED,
    LOW_CONFIDENCE,
    WORKFLOW_DIMENSION,
)
from sagemaker_inference.aws import client, emit_metric, error_code, s3_error
from sagemaker_inference.drift import publish_drift
from sagemaker_inference.model import (
    EndpointModelError,
    EndpointNotFoundError,
    EndpointRequestRejectedError,
    EndpointThrottledError,
    EndpointUnavailableError,
    parse_prediction,
    top_label,
)
from shared import review_sampling

logger = Logger()
tracer = Tracer()

#: A real-time endpoint has 60 seconds to answer; a little more before we give up reading.
ENDPOINT_READ_TIMEOUT = 70
_UNAVAILABLE = {
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
    "ModelNotReadyException",
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"image": <Validate's image>, "threshold", "workflow"}`` -> ``{"label", "confidence",
    "probabilities", ...}``."""
    image = event["image"]
    counted_as = _caller(event)
    endpoint = os.environ["ENDPOINT_NAME"]
    inference, latency_ms = classify_image(
        client("s3"), endpoint, json.loads(os.environ["CLASS_NAMES"]), image
    )
    emit_metric(name=ENDPOINT_INVOCATIONS, unit=MetricUnit.Count, value=1)
    emit_metric(name=ENDPOINT_LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
    _count_classification(counted_as, inference["confidence"])
    publish_drift(
        endpoint=endpoint,
        label=inference["label"],
        confidence=inference["confidence"],
        threshold=counted_as[1],
        size=int(image.get("size", -1)),
    )
    logger.info(
        "classified",
        extra={
            "s3_uri": image["s3_uri"],
            "label": inference["label"],
            "confidence": inference["confidence"],
        },
    )
    review_sampling.record_sagemaker_sample(client("s3"), image, counted_as[1], inference)
    return inference


def classify_image(
    s3: Any,
    endpoint: str,
    class_names: list[str],
    image: dict[str, Any],
    gate: AbstractContextManager[Any] | None = None,
) -> tuple[dict[str, Any], float]:
    """Read the validated version of ``image`` and ask the endpoint: (the inference, the
    endpoint's latency in ms). Shared by the single-image and the batch functions; ``gate``
    (the batch's semaphore) is held for the endpoint call only, so reading images from S3 does
    not take a slot of the endpoint's concurrency."""
    version = {"VersionId": image["version_id"]} if image.get("version_id") else {}
    try:
        body = s3.get_object(Bucket=image["bucket"], Key=image["key"], **version)["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise s3_error(error, image["s3_uri"]) from error
    with gate or contextlib.nullcontext():
        started = time.monotonic()
        response = invoke_endpoint(endpoint, image["content_type"], body)
        answer = response["Body"].read()
        latency_ms = (time.monotonic() - started) * 1000
    probabilities = parse_prediction(answer, class_names)
    label, confidence = top_label(probabilities)
    inference = {
        "label": label,
        "confidence": confidence,
        "probabilities": probabilities,
        "endpoint": endpoint,
        "variant": response.get("InvokedProductionVariant"),
    }
    return inference, latency_ms


def _caller(event: dict[str, Any]) -> tuple[str, float]:
    """The calling workflow's name and threshold, checked before the endpoint is paid for."""
    threshold, workflow = event.get("threshold"), event.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        raise ValueError(
            f"the request needs 'workflow', the calling workflow's name; got {workflow!r}"
        )
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f"the request needs a numeric 'threshold', got {threshold!r}")
    return workflow, float(threshold)


def _count_classification(caller: tuple[str, float], confidence: float) -> None:
    """``ImagesClassified`` and ``LowConfidence`` (0 or 1) for the calling workflow."""
    workflow, threshold = caller
    dimensions = {WORKFLOW_DIMENSION: workflow}
    emit_metric(name=IMAGES_CLASSIFIED, unit=MetricUnit.Count, value=1, dimensions=dimensions)
    emit_metric(
        name=LOW_CONFIDENCE,
        unit=MetricUnit.Count,
        value=int(confidence < threshold),
        dimensions=dimensions,
    )


def invoke_endpoint(endpoint: str, content_type: str, body: bytes) -> Any:
    """InvokeEndpoint, with SageMaker's errors renamed to what the workflow retries or reports."""
    runtime = client("sagemaker-runtime", read_timeout=ENDPOINT_READ_TIMEOUT)
    try:
        return runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept="application/json", Body=body
        )
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        if code == "ThrottlingException":
            raise EndpointThrottledError(f"endpoint {endpoint} throttled the request") from error
        if code == "ModelError":
            raise EndpointModelError(f"the model of {endpoint} failed: {message}") from error
        if code in _UNAVAILABLE:
            raise EndpointUnavailableError(f"endpoint {endpoint}: {code}: {message}") from error
        if code == "ValidationError" and "not found" in message.lower():
            raise EndpointNotFoundError(
                f"endpoint {endpoint} does not exist; deploy one with "
                "`python -m ops sagemaker train`"
            ) from error
        raise EndpointRequestRejectedError(f"endpoint {endpoint}: {code}: {message}") from error
    except BotoCoreError as error:
        raise EndpointUnavailableError(f"endpoint {endpoint} did not answer: {error}") from error

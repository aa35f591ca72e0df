"""One child of a batch: validate and classify a batch of images, a few endpoint calls at a time.

The Distributed Map hands each child execution ``MaxItemsPerBatch`` images (``ItemBatcher``):
``{"Items": [{"s3_uri"}, ...], "BatchInput": {"threshold", "workflow", "execution"}}``. Each
image goes through the same steps as a single-image run (the validation and the classification
are the functions of ``validate.py`` and ``classify.py``) on twice ``INVOKE_CONCURRENCY`` threads,
while a semaphore keeps at most ``INVOKE_CONCURRENCY`` InvokeEndpoint calls in flight: the S3
reads of the next images overlap the endpoint's work, so the batch keeps its share of the
endpoint busy, never more, and the Map's MaxConcurrency (derived from the endpoint's capacity)
bounds the whole.

An image's problem is that image's result, never the batch's: every image ends as
``classified``, ``low_confidence`` (its review record written, as the single-image workflow
writes it), ``skipped`` (a folder marker) or ``failed`` with the error name and cause the
single-image workflow would have reported. Transient errors (throttling, an endpoint or S3
busy) are retried here with jittered backoff, a bounded number of times within the function's
deadline. The Summarize step counts what the children answered, image by image.
"""

from __future__ import annotations

import contextvars
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from contracts.metrics import (
    ENDPOINT_INVOCATIONS,
    ENDPOINT_LATENCY,
    IMAGES_CLASSIFIED,
    IMAGES_VALIDATED,
    LOW_CONFIDENCE,
    WORKFLOW_DIMENSION,
)
from sagemaker_inference.aws import client, emit_metric, s3_error
from sagemaker_inference.classify import ENDPOINT_READ_TIMEOUT, classify_image
from sagemaker_inference.drift import publish_batch_drift
from sagemaker_inference.model import (
    EndpointModelError,
    EndpointThrottledError,
    EndpointUnavailableError,
    StorageThrottledError,
    parse_request,
    parse_threshold,
)
from sagemaker_inference.validate import validate_image
from shared import review_sampling

logger = Logger()
tracer = Tracer()
_T = TypeVar("_T")

#: Errors worth another attempt (the single-image workflow retries the same ones).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    EndpointThrottledError,
    EndpointUnavailableError,
    EndpointModelError,
    StorageThrottledError,
)
#: Attempts per image for a transient error, and the first backoff (doubled each time, full
#: jitter), as the workflow's Retry does for a single image.
MAX_ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.5
#: An image is not started (or retried) with less than this left before the function's
#: timeout: it could not finish, and the batch must answer.
DEADLINE_MARGIN_MS = ENDPOINT_READ_TIMEOUT * 1000 + 10_000
#: Threads per endpoint call in flight: one waits for the endpoint, one reads the next image.
READERS_PER_CALL = 2
#: A failure's cause in the batch's result (the child's output stays far below 256 KiB).
MAX_CAUSE = 500


class BatchDeadlineError(Exception):
    """The batch function ran out of time before this image could be classified."""


@dataclass(frozen=True)
class _Batch:
    threshold: float
    workflow: str
    execution: str
    endpoint: str
    class_names: list[str]
    data_bucket: str
    input_prefix: str
    max_bytes: int
    review_bucket: str
    review_prefix: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"Items": [{"s3_uri"}], "BatchInput": {"threshold", "workflow", "execution"}}`` ->
    ``{"results": [one result per item, in order]}``."""
    batch, items = _read_event(event)
    s3 = client("s3")
    # Both clients exist before the threads start (creating a client is not thread-safe).
    client("sagemaker-runtime", read_timeout=ENDPOINT_READ_TIMEOUT)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    calls = int(os.environ["INVOKE_CONCURRENCY"])
    gate = threading.BoundedSemaphore(calls)

    def one(item: Any) -> tuple[dict[str, Any], float | None]:
        return _classify_item(s3, batch, item, deadline, gate)

    workers = max(1, min(READERS_PER_CALL * calls, len(items) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Each call runs in a copy of this context: the logger's and the tracer's context (and
        # anything else kept in context variables) follow the image into its thread.
        futures = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
        outcomes = [future.result() for future in futures]
    results = [outcome for outcome, _ in outcomes]
    _emit_counts(batch, outcomes)
    counts = {status: sum(1 for r in results if r["status"] == status) for status in _STATUSES}
    logger.info("batch classified", extra={"images": len(results), "counts": counts})
    return {"results": results}


_STATUSES = ("classified", "low_confidence", "skipped", "failed")


def _read_event(event: Mapping[str, Any]) -> tuple[_Batch, list[Any]]:
    """The batch and its items, after checking what the Map sends (a workflow bug otherwise)."""
    items = event.get("Items")
    batch_input = event.get("BatchInput")
    if not isinstance(items, list) or not isinstance(batch_input, Mapping):
        raise ValueError(
            "a batch is {'Items': [...], 'BatchInput': {...}} (the Map's ItemBatcher), got "
            f"fields {sorted(event)}"
        )
    workflow = batch_input.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        raise ValueError(f"BatchInput needs 'workflow', the workflow's name; got {workflow!r}")
    batch = _Batch(
        threshold=parse_threshold(batch_input.get("threshold"), field="threshold"),
        workflow=workflow,
        execution=str(batch_input.get("execution", "")),
        endpoint=os.environ["ENDPOINT_NAME"],
        class_names=json.loads(os.environ["CLASS_NAMES"]),
        data_bucket=os.environ["DATA_BUCKET"],
        input_prefix=os.environ["INPUT_PREFIX"],
        max_bytes=int(os.environ["MAX_IMAGE_BYTES"]),
        review_bucket=os.environ["REVIEW_BUCKET"],
        review_prefix=os.environ["REVIEW_PREFIX"],
    )
    return batch, items


def _classify_item(
    s3: Any, batch: _Batch, item: Any, deadline: float, gate: threading.BoundedSemaphore
) -> tuple[dict[str, Any], float | None]:
    """(the item's result, the endpoint's latency in ms or None when it was not called)."""
    uri = item.get("s3_uri") if isinstance(item, Mapping) else None
    if isinstance(uri, str) and uri.endswith("/"):
        return {"status": "skipped", "s3_uri": uri}, None
    try:
        request = parse_request(
            {"s3_uri": uri, "confidence_threshold": batch.threshold},
            data_bucket=batch.data_bucket,
            input_prefix=batch.input_prefix,
            default_threshold=batch.threshold,
        )
        image = _attempt(lambda: validate_image(s3, request.image, batch.max_bytes), deadline)
        inference, latency_ms = _attempt(
            lambda: classify_image(s3, batch.endpoint, batch.class_names, image, gate), deadline
        )
    except Exception as error:  # every image ends with a result; the batch goes on
        return _failure(uri, error), None
    result = {
        "status": "classified",
        "s3_uri": image["s3_uri"],
        "label": inference["label"],
        "confidence": inference["confidence"],
        "threshold": batch.threshold,
    }
    if inference["confidence"] < batch.threshold:
        try:
            _attempt(lambda: _record_for_review(s3, batch, image, inference), deadline)
        except Exception as error:
            return _failure(uri, error), latency_ms
        result["status"] = "low_confidence"
    elif review_sampling.record_sagemaker_sample(s3, dict(image), batch.threshold, inference):
        result["sampled_for_review"] = True
    return result, latency_ms


def _attempt(call: Callable[[], _T], deadline: float) -> _T:
    """``call()``, again after a jittered backoff while it raises a transient error (at most
    :data:`MAX_ATTEMPTS` times, and never past the function's deadline)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if deadline - time.monotonic() < DEADLINE_MARGIN_MS / 1000:
            raise BatchDeadlineError(
                "the batch function had too little time left to classify this image; it is "
                "counted as failed (lower sagemaker.batch.max_items_per_batch)"
            )
        try:
            return call()
        except TRANSIENT_ERRORS:
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")  # pragma: no cover


def _record_for_review(
    s3: Any, batch: _Batch, image: Mapping[str, Any], inference: Mapping[str, Any]
) -> None:
    """The review record the single-image workflow's RecordForReview writes, at the same key."""
    record = {"image": dict(image), "threshold": batch.threshold, "inference": dict(inference)}
    try:
        s3.put_object(
            Bucket=batch.review_bucket,
            Key=f"{batch.review_prefix}{image['key']}.json",
            Body=json.dumps(record).encode(),
            ContentType="application/json",
            Metadata={"execution": batch.execution},
        )
    except (ClientError, BotoCoreError) as error:
        uri = f"s3://{batch.review_bucket}/{batch.review_prefix}{image['key']}.json"
        raise s3_error(error, uri) from error


def _failure(uri: Any, error: Exception) -> dict[str, Any]:
    return {
        "status": "failed",
        "s3_uri": uri,
        "error": type(error).__name__,
        "cause": str(error)[:MAX_CAUSE],
    }


def _emit_counts(batch: _Batch, outcomes: list[tuple[dict[str, Any], float | None]]) -> None:
    """The single-image functions' metrics, one line per metric for the whole batch."""
    latencies = [latency for _, latency in outcomes if latency is not None]
    classified = [r for r, _ in outcomes if r["status"] in ("classified", "low_confidence")]
    low = sum(1 for r in classified if r["confidence"] < batch.threshold)
    dimensions = {WORKFLOW_DIMENSION: batch.workflow}
    emit_metric(name=IMAGES_VALIDATED, unit=MetricUnit.Count, value=len(latencies))
    emit_metric(name=ENDPOINT_INVOCATIONS, unit=MetricUnit.Count, value=len(latencies))
    for latency in latencies:
        emit_metric(name=ENDPOINT_LATENCY, unit=MetricUnit.Milliseconds, value=latency)
    emit_metric(
        name=IMAGES_CLASSIFIED, unit=MetricUnit.Count, value=len(classified), dimensions=dimensions
    )
    emit_metric(name=LOW_CONFIDENCE, unit=MetricUnit.Count, value=low, dimensions=dimensions)
    publish_batch_drift(endpoint=batch.endpoint, threshold=batch.threshold, results=classified)

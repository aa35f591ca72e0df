"""Pure logic of SageMaker inference: requests, the endpoint's answer, batch summaries.

No AWS calls here, so everything is unit-tested directly. The exception classes are the error
names the workflows see (Step Functions reports a Lambda exception by its class name); the
README lists them and which ones are retried.
"""

from __future__ import annotations

import difflib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.s3_location import S3Location

#: At most this many failures are listed by name in a batch summary (all are counted).
MAX_LISTED_FAILURES = 20

REQUEST_FIELDS = ("s3_uri", "confidence_threshold")
BATCH_REQUEST_FIELDS = ("prefix", "confidence_threshold")


class InvalidRequestError(Exception):
    """The execution input is not what the workflow accepts."""


class ImageNotFoundError(Exception):
    """The S3 object (or the version validated) does not exist."""


class ImageAccessDeniedError(Exception):
    """The S3 object exists (or may exist) but the function may not read or decrypt it: S3
    refused (403 AccessDenied) or KMS refused the object's key (``KMS.*`` errors)."""


class ImageTooLargeError(Exception):
    """The object is larger than an endpoint request may be."""


class NotAnImageError(Exception):
    """The object is empty or not in a format the algorithm accepts (JPEG, PNG)."""


class StorageThrottledError(Exception):
    """S3 asked us to slow down or failed on its side; retried by the workflow."""


class EndpointThrottledError(Exception):
    """The endpoint throttled the request; retried by the workflow."""


class EndpointUnavailableError(Exception):
    """The endpoint or SageMaker failed on its side or timed out; retried by the workflow."""


class EndpointModelError(Exception):
    """The model container answered with an error; retried a few times, then reported."""


class EndpointNotFoundError(Exception):
    """No endpoint of the configured name exists (train and deploy one first)."""


class EndpointRequestRejectedError(Exception):
    """SageMaker rejected the request as invalid (not retried)."""


class MalformedEndpointResponseError(Exception):
    """The endpoint's answer is not one probability per configured class name."""


@dataclass(frozen=True)
class ClassificationRequest:
    """A validated single-image request."""

    image: S3Location
    threshold: float


@dataclass(frozen=True)
class BatchRequest:
    """A validated batch request: the prefix of the data bucket to classify, and the threshold."""

    bucket: str
    prefix: str
    threshold: float


def refuse_unknown_fields(event: Mapping[str, Any], known: Sequence[str]) -> None:
    """An input field nobody reads would silently fall back to a default: refuse it, naming the
    fields the input takes and the closest one (``threshold`` -> ``confidence_threshold``)."""
    unknown = sorted(set(event) - set(known), key=str)
    if not unknown:
        return
    described = []
    for field in unknown:
        close = difflib.get_close_matches(str(field), known, n=1)
        described.append(f"{field!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "field" if len(unknown) == 1 else "fields"
    raise InvalidRequestError(
        f"unknown {noun} {', '.join(described)}; the input takes {', '.join(known)}"
    )


def parse_s3_uri(value: Any, *, field: str = "s3_uri") -> S3Location:
    """``s3://bucket/key`` -> S3Location; anything else raises :class:`InvalidRequestError`."""
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise InvalidRequestError(f"{field} must be an s3://bucket/key URI, got {value!r}")
    bucket, _, key = value[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidRequestError(f"{field} must name a bucket and a key, got {value!r}")
    return S3Location(bucket, key)


def parse_threshold(value: Any, *, field: str = "confidence_threshold") -> float:
    """A confidence threshold: a number within [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f"{field} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidRequestError(f"{field} must be within [0, 1], got {value}")
    return float(value)


def parse_request(
    event: Any, *, data_bucket: str, input_prefix: str, default_threshold: float
) -> ClassificationRequest:
    """Validate ``{"s3_uri": ..., "confidence_threshold"?: ...}`` against where inputs live."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError(f"the input must be a JSON object, got {type(event).__name__}")
    refuse_unknown_fields(event, REQUEST_FIELDS)
    if "s3_uri" not in event:
        raise InvalidRequestError('s3_uri is required, e.g. {"s3_uri": "s3://bucket/key.jpg"}')
    image = parse_s3_uri(event["s3_uri"])
    if image.bucket != data_bucket or not image.key.startswith(input_prefix):
        raise InvalidRequestError(
            f"{image.uri} is outside the inference inputs: images must be under "
            f"s3://{data_bucket}/{input_prefix}"
        )
    if image.key.endswith("/"):
        raise InvalidRequestError(f"{image.uri} is a folder, not an image")
    threshold = event.get("confidence_threshold")
    return ClassificationRequest(
        image=image,
        threshold=default_threshold if threshold is None else parse_threshold(threshold),
    )


def parse_batch_request(
    event: Any, *, data_bucket: str, input_prefix: str, default_threshold: float
) -> BatchRequest:
    """Validate ``{"prefix": ..., "confidence_threshold"?: ...}``; every problem is one
    :class:`InvalidRequestError` that ends with what a batch input looks like."""
    usage = (
        f'A batch input is {{"prefix": "<key prefix under {input_prefix}>", '
        '"confidence_threshold": <optional number in [0, 1]>}.'
    )
    try:
        if not isinstance(event, Mapping):
            raise InvalidRequestError(
                f"the input must be a JSON object, got {type(event).__name__}"
            )
        refuse_unknown_fields(event, BATCH_REQUEST_FIELDS)
        prefix = event.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise InvalidRequestError(f"prefix must be a key prefix (a string), got {prefix!r}")
        if not prefix.startswith(input_prefix):
            raise InvalidRequestError(
                f"prefix {prefix!r} is outside the inference inputs: batches classify "
                f"objects under s3://{data_bucket}/{input_prefix}"
            )
        threshold = event.get("confidence_threshold")
        return BatchRequest(
            bucket=data_bucket,
            prefix=prefix,
            threshold=default_threshold if threshold is None else parse_threshold(threshold),
        )
    except InvalidRequestError as error:
        raise InvalidRequestError(f"{error}. {usage}") from None


def parse_prediction(body: bytes, class_names: Sequence[str]) -> dict[str, float]:
    """The endpoint's answer as ``{class name: probability}``.

    The built-in image-classification algorithm answers ``application/json`` with a JSON array
    of one probability per class, in class-index order; with ``application/jsonlines`` it wraps
    the same array as ``{"prediction": [...]}``. Both are accepted; anything else, a count that
    differs from ``class_names``, or a value outside [0, 1] raises
    :class:`MalformedEndpointResponseError`.
    """
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedEndpointResponseError(
            f"the endpoint's answer is not JSON: {body[:80]!r}"
        ) from error
    if isinstance(decoded, Mapping) and "prediction" in decoded:
        decoded = decoded["prediction"]
    if not isinstance(decoded, list):
        raise MalformedEndpointResponseError(
            f"expected a JSON array of probabilities, got {json.dumps(decoded)[:80]}"
        )
    if len(decoded) != len(class_names):
        raise MalformedEndpointResponseError(
            f"the endpoint returned {len(decoded)} probabilities for {len(class_names)} "
            f"configured class names ({', '.join(class_names)}): was the model trained with "
            "these classes?"
        )
    probabilities: dict[str, float] = {}
    for name, value in zip(class_names, decoded, strict=True):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0.0 <= value <= 1.0
        ):
            raise MalformedEndpointResponseError(
                f"probability of {name!r} must be a number in [0, 1], got {value!r}"
            )
        probabilities[name] = float(value)
    return probabilities


def top_label(probabilities: Mapping[str, float]) -> tuple[str, float]:
    """The most probable label and its probability (the first one on a tie)."""
    if not probabilities:
        raise MalformedEndpointResponseError("no probabilities to choose from")
    label = max(probabilities, key=lambda name: probabilities[name])
    return label, probabilities[label]


# --- batch summaries ------------------------------------------------------------------------


def summarize(
    succeeded: Iterable[Mapping[str, Any]],
    failed: Iterable[Mapping[str, Any]],
    pending: Iterable[Mapping[str, Any]] = (),
    *,
    tolerated_failure_percentage: float = 0.0,
) -> dict[str, Any]:
    """Counts of a batch, image by image, from its Distributed Map result records.

    ``succeeded``/``failed``/``pending`` are the records of the ResultWriter's ``SUCCEEDED_*``,
    ``FAILED_*`` and ``PENDING_*`` files: one per child execution, with ``Output`` (a JSON
    string) or ``Error``/``Cause``, and ``Input``. A child classifies a batch of images
    (``Input`` ``{"Items": [...]}``, ``Output`` ``{"results": [one per image]}``); a child
    that failed as a whole fails each of its images with the child's error. A record of one
    image (``Output`` the image's result) counts as a batch of one. A Map Run that exceeded its
    tolerated failures stops: the children it aborted (``Status`` ABORTED) and the items it
    never started (``PENDING``) are ``not_processed``, not failures.

    ``tolerance_exceeded``: more than ``tolerated_failure_percentage`` of the images failed
    (with 0, any failure), as Step Functions judges a Map Run's children. At most
    :data:`MAX_LISTED_FAILURES` failures are listed; ``failures_not_listed`` counts the rest.
    """
    statuses: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    review_labels: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []

    def fail(s3_uri: Any, error: Any, cause: Any) -> None:
        statuses["failed"] += 1
        if len(failures) < MAX_LISTED_FAILURES:
            failures.append({"s3_uri": s3_uri, "error": error, "cause": _readable_cause(cause)})

    for record in succeeded:
        for result in _image_results(record):
            status = str(result.get("status", "unknown"))
            if status == "failed":
                fail(result.get("s3_uri"), result.get("error", "unknown"), result.get("cause"))
                continue
            statuses[status] += 1
            if status == "classified":
                labels[str(result.get("label"))] += 1
            elif status == "low_confidence":
                review_labels[str(result.get("label"))] += 1
    not_processed = sum(len(_items(record)) for record in pending)
    for record in failed:
        items = _items(record)
        if record.get("Status") == "ABORTED":
            not_processed += len(items)
            continue
        for item in items:
            fail(item.get("s3_uri"), record.get("Error", "unknown"), record.get("Cause"))
    failed_count = statuses.pop("failed", 0)
    total = sum(statuses.values()) + failed_count + not_processed
    percentage = round(100.0 * failed_count / total, 2) if total else 0.0
    return {
        "total": total,
        "classified": statuses["classified"],
        "low_confidence": statuses["low_confidence"],
        "skipped": statuses["skipped"],
        "failed": failed_count,
        "not_processed": not_processed,
        "failure_percentage": percentage,
        "tolerance_exceeded": failed_count > 0 and percentage > tolerated_failure_percentage,
        "labels": dict(sorted(labels.items())),
        "low_confidence_labels": dict(sorted(review_labels.items())),
        "failures": failures,
        "failures_not_listed": failed_count - len(failures),
    }


def _image_results(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-image results of a succeeded child: its batch's, or its own for one image."""
    output = _json_field(record, "Output")
    results = output.get("results")
    if isinstance(results, list):
        return [dict(r) if isinstance(r, Mapping) else {} for r in results]
    return [output]


def _items(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The images a child was given: its batch's ``Items``, or its own input for one image."""
    item = _json_field(record, "Input")
    items = item.get("Items")
    if isinstance(items, list):
        return [dict(i) if isinstance(i, Mapping) else {} for i in items]
    return [item]


#: A failure's cause in a notification line (the summary keeps up to 500 characters).
FAILURE_LINE_CAUSE = 200


def describe_failures(summary: Mapping[str, Any]) -> str:
    """The listed failures of a summary as notification lines, and how many are not listed::

    - s3://bucket/key.jpg: NotAnImageError: ... is not an image ...
    ... and 5 more (all are in the results' FAILED files)
    """
    failures = summary.get("failures", [])
    if not failures:
        return "none"
    lines = []
    for failure in failures:
        cause = str(failure.get("cause") or "")
        if len(cause) > FAILURE_LINE_CAUSE:
            cause = cause[: FAILURE_LINE_CAUSE - 3] + "..."
        lines.append(f"- {failure.get('s3_uri')}: {failure.get('error')}: {cause}")
    more = int(summary.get("failures_not_listed", 0))
    if more:
        lines.append(f"... and {more} more (all are in the results' FAILED files)")
    return "\n".join(lines)


def _json_field(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def _readable_cause(cause: Any) -> str:
    """A Lambda error's cause is JSON (errorMessage, errorType, ...): keep the message."""
    if not isinstance(cause, str):
        return ""
    try:
        decoded = json.loads(cause)
    except ValueError:
        return cause[:500]
    if isinstance(decoded, Mapping) and "errorMessage" in decoded:
        return str(decoded["errorMessage"])[:500]
    return cause[:500]

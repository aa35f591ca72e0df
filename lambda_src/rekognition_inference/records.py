"""The records the inference consumer writes: results, review pointers and error records.

Pure functions of what the decision flow found: each returns the JSON document (its ``schema``
names the format's version) that ``storage`` writes under the keys ``locations`` derives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rekognition_inference.messages import MessageProblem, ObjectRef
from rekognition_inference.storage import ObjectHead
from shared.model_version import ModelVersion

#: /2: ``input`` has no ``format`` any more (/1 had it: the format is decided by content, and
#: the content is no longer read before DetectCustomLabels; size, ETag and version id remain).
_RESULT_SCHEMA = "imgclf.rekognition.result/2"
_ERROR_SCHEMA = "imgclf.rekognition.error/1"
#: /2: the same ``input`` as the result's.
_REVIEW_SCHEMA = "imgclf.rekognition.review/2"
_BODY_EXCERPT = 4096


def result_document(
    ref: ObjectRef,
    head: ObjectHead,
    model: ModelVersion,
    labels: list[dict[str, Any]],
    latency_ms: float,
    *,
    sent_at_ms: int | None,
    now: float,
    min_confidence: float,
    review_threshold: float,
) -> dict[str, Any]:
    """The result of one image: labels, the model, thresholds and timing."""
    top = labels[0] if labels else None
    top_confidence = top["confidence"] if top else 0.0
    return {
        "schema": _RESULT_SCHEMA,
        "input": input_document(ref, head.key, head),
        "model": model_document(model),
        "labels": labels,
        "top_label": top["name"] if top else None,
        "top_confidence": top_confidence,
        "min_confidence": min_confidence,
        "review_threshold": review_threshold,
        "needs_review": top_confidence < review_threshold,
        "timing": {
            "event_time": ref.event_time,
            "queued_at": iso(sent_at_ms / 1000) if sent_at_ms else None,
            "processed_at": iso(now),
            "queue_wait_ms": round(now * 1000 - sent_at_ms) if sent_at_ms else None,
            "detect_latency_ms": round(latency_ms, 1),
        },
    }


def review_document(result: Mapping[str, Any], result_key: str, reason: str) -> dict[str, Any]:
    """The review pointer of a result to review, and why (``shared.review_sampling``)."""
    return {
        "schema": _REVIEW_SCHEMA,
        "reason": reason,
        "input": result["input"],
        "result_key": result_key,
        "top_label": result["top_label"],
        "top_confidence": result["top_confidence"],
        "review_threshold": result["review_threshold"],
    }


def result_metadata(head: ObjectHead) -> dict[str, str]:
    """The result's user metadata: the input version it is for (a redelivery compares it)."""
    return {"input-etag": head.etag, "input-version": head.version_id or ""}


def image_error_document(
    ref: ObjectRef,
    key: str,
    head: ObjectHead | None,
    reason: str,
    detail: str,
    model: ModelVersion | None,
) -> dict[str, Any]:
    """Why one image could not be classified."""
    return {
        "schema": _ERROR_SCHEMA,
        "reason": reason,
        "detail": detail,
        "input": input_document(ref, key, head),
        "model": model_document(model) if model else None,
    }


def message_error_document(body: str, problems: Sequence[MessageProblem]) -> dict[str, Any]:
    """A message that named no image it could classify: every problem, and an excerpt."""
    return {
        "schema": _ERROR_SCHEMA,
        "reason": problems[0].reason,
        "detail": problems[0].detail,
        "problems": [{"reason": p.reason, "detail": p.detail} for p in problems],
        "message_body": body[:_BODY_EXCERPT],
        "message_body_truncated": len(body) > _BODY_EXCERPT,
    }


def same_input(metadata: Mapping[str, str], head: ObjectHead) -> bool:
    return metadata.get("input-etag") == head.etag and metadata.get("input-version", "") == (
        head.version_id or ""
    )


def input_document(ref: ObjectRef, key: str, head: ObjectHead | None) -> dict[str, Any]:
    """The input as the event described it, or as it was read (size -1: archived, not read)."""
    document: dict[str, Any] = {"bucket": ref.bucket, "key": key, "wiring": ref.wiring}
    if head is not None:
        document.update(size=head.size, etag=head.etag, version_id=head.version_id)
    return document


def model_document(model: ModelVersion) -> dict[str, str]:
    return {"project_version_arn": model.arn, "project": model.project, "version": model.version}


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")

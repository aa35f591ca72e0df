"""What an SQS message body says about new images, however the bucket is wired to the queue.

Accepted bodies:

- an EventBridge ``Object Created`` event from S3 (how this app wires it: a rule targets the queue);
  the key is used as written, and its URL-decoded form is tried when that object does not exist;
- classic S3 event notifications (``{"Records": [{"s3": ...}]}``), whose keys are URL-encoded
  (``red flower.jpg`` arrives as ``red+flower.jpg``) and are decoded;
- the same wrapped in an SNS notification (S3 -> SNS -> SQS without raw delivery);
- ``s3:TestEvent``, which S3 sends once when a notification is configured.

What the event says about the object (its size, ETag and version id: ``detail.object.size`` /
``etag`` / ``version-id`` from EventBridge, ``s3.object.size`` / ``eTag`` / ``versionId`` in a
classic notification) is kept on the :class:`ObjectRef`: it lets the consumer check the size,
pin the version and recognize a redelivery without reading the object first. Each is ``None``
when the event leaves it out or gives it with the wrong type; the consumer then reads the object.

Anything else is a :class:`MessageProblem`: it is recorded and acknowledged, never retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

#: Reasons a message (rather than an image) cannot be processed.
S3_TEST_EVENT = "s3_test_event"
MALFORMED_MESSAGE = "malformed_message"
NOT_AN_S3_EVENT = "not_an_s3_event"
UNSUPPORTED_EVENT = "unsupported_event"


@dataclass(frozen=True)
class ObjectRef:
    """One new object named by a message.

    ``key_candidates`` lists the keys to try, in order: an EventBridge key as written and then
    URL-decoded (if that differs), a classic notification key only decoded. ``size``, ``etag``
    (without quotes, as S3 events give it) and ``version_id`` describe the object the event was
    sent for (``None`` when the event does not say).
    """

    bucket: str
    key_candidates: tuple[str, ...]
    event_time: str | None
    wiring: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None

    @property
    def key(self) -> str:
        """The key most likely meant; records use the one that was found."""
        return self.key_candidates[0]


@dataclass(frozen=True)
class MessageProblem:
    """A message that names no processable object; recorded under ``errors/`` and acknowledged."""

    reason: str
    detail: str


Item = ObjectRef | MessageProblem


def parse_body(body: str) -> list[Item]:
    """Every object (or problem) a message body carries; never raises."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as error:
        return [MessageProblem(MALFORMED_MESSAGE, f"body is not JSON: {error}")]
    if not isinstance(document, dict):
        return [MessageProblem(MALFORMED_MESSAGE, "body is JSON but not an object")]
    if document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        return parse_body(document["Message"])  # SNS envelope
    if document.get("Event") == "s3:TestEvent":
        return [
            MessageProblem(
                S3_TEST_EVENT,
                f"S3 test event for bucket {document.get('Bucket')!r}: nothing to classify",
            )
        ]
    if "Records" in document:
        return _notification_records(document["Records"])
    if document.get("source") == "aws.s3" and "detail-type" in document:
        return [_eventbridge_event(document)]
    return [
        MessageProblem(
            NOT_AN_S3_EVENT,
            "neither an EventBridge S3 event nor an S3 event notification "
            f"(top-level keys: {', '.join(sorted(map(str, document))[:10])})",
        )
    ]


def _eventbridge_event(event: dict[str, Any]) -> Item:
    detail_type = event.get("detail-type")
    if detail_type != "Object Created":
        return MessageProblem(UNSUPPORTED_EVENT, f"EventBridge S3 event {detail_type!r} is ignored")
    detail = event.get("detail")
    bucket = _path(detail, "bucket", "name")
    key = _path(detail, "object", "key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        return MessageProblem(MALFORMED_MESSAGE, "Object Created event without bucket name or key")
    decoded = unquote_plus(key)
    candidates = (key,) if decoded == key else (key, decoded)
    time = event.get("time")
    return ObjectRef(
        bucket=bucket,
        key_candidates=candidates,
        event_time=time if isinstance(time, str) else None,
        wiring="eventbridge",
        size=_size(_path(detail, "object", "size")),
        etag=_text(_path(detail, "object", "etag")),
        version_id=_text(_path(detail, "object", "version-id")),
    )


def _notification_records(records: Any) -> list[Item]:
    if not isinstance(records, list) or not records:
        return [MessageProblem(MALFORMED_MESSAGE, "'Records' is not a non-empty list")]
    items: list[Item] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            source = record.get("eventSource") if isinstance(record, dict) else None
            items.append(
                MessageProblem(NOT_AN_S3_EVENT, f"record {index} comes from {source!r}, not S3")
            )
            continue
        name = record.get("eventName")
        if not isinstance(name, str) or not name.startswith("ObjectCreated:"):
            items.append(
                MessageProblem(UNSUPPORTED_EVENT, f"record {index}: S3 event {name!r} is ignored")
            )
            continue
        bucket = _path(record, "s3", "bucket", "name")
        key = _path(record, "s3", "object", "key")
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            items.append(
                MessageProblem(MALFORMED_MESSAGE, f"record {index} has no bucket name or key")
            )
            continue
        time = record.get("eventTime")
        items.append(
            ObjectRef(
                bucket=bucket,
                key_candidates=(unquote_plus(key),),
                event_time=time if isinstance(time, str) else None,
                wiring="s3_notification",
                size=_size(_path(record, "s3", "object", "size")),
                etag=_text(_path(record, "s3", "object", "eTag")),
                version_id=_text(_path(record, "s3", "object", "versionId")),
            )
        )
    return items


def _path(document: Any, *names: str) -> Any:
    for name in names:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def _size(value: Any) -> int | None:
    """A byte count, or None (absent, not an integer, negative)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value: Any) -> str | None:
    """A non-empty string without surrounding quotes (an ETag may be quoted), or None."""
    if not isinstance(value, str):
        return None
    return value.strip('"') or None

"""Classifies the images one SQS message names; each ends in a result or an error record.

Nothing is silently dropped. For every image named by a message:

- **result**: DetectCustomLabels answered; ``results/...`` holds labels, model version and timing,
  and ``review/...`` lists it too when its top confidence is below the review threshold;
- **error record**: the input can never succeed (missing or deleted object, empty, over 15 MB,
  archived, not JPEG/PNG by content, corrupt, rejected by the service for its pixel size, ...);
  ``errors/...`` says why and the message is acknowledged;
- **transient failure** (throttling, model not running, service errors, model not configured):
  nothing is written and :class:`TransientError` makes the message a batch item failure, so SQS
  redelivers it and, after ``maxReceiveCount`` receives, moves it to the alarmed dead-letter queue.

Two AWS calls per image when the event describes the object (S3 events give its size, ETag and
version id): the size is checked from the event (0 bytes or over 15 MB: an error record, without
calling the service or reading the object), DetectCustomLabels reads the object by S3 reference (as
it is now, not pinned to the event's version: see below), and one PutObject writes the result. The
object is not read first because the SDK's CPU bounds a concurrent batch: each boto3 call costs ~3.5
ms of CPU under the GIL, several times the handler's own work per image, so every call saved per
image raises a batch's throughput (``benchmarks/inference_throughput.py``).

The object is read (one ranged GetObject over the key candidates: size, identity and first
bytes, see :meth:`storage.Storage.read_input`) only to diagnose, never on the happy path:

- when DetectCustomLabels rejects the object (``InvalidS3ObjectException``,
  ``InvalidImageFormatException``, ``ImageTooLargeException``, ``InvalidParameterException``): the
  read tells a missing or deleted object, a key that exists only URL-decoded (classified under that
  key), an empty, oversized or archived object, and content that is not JPEG/PNG
  (``unsupported_format``) from an image the service cannot use (corrupt: ``invalid_image_format``;
  pixel size: ``image_too_large`` / ``image_rejected``; otherwise ``unreadable_by_rekognition``);
- when the event does not settle it: no size, an error-making size for an ambiguous key (an
  EventBridge key that may be meant URL-decoded: which object is it?), or a redelivery the event's
  identity cannot decide (below). The object is then read first and classified as it is.

Versions: the happy path's DetectCustomLabels reads the key's current version, so an object deleted
before it was processed (a delete marker in the versioned data bucket) is rejected by the service,
and the read that follows records ``object_missing``. The result records the identity the event
names; if the key was overwritten between the event and the call (both uploads raise events), the
labels are those of the newer content and the newer upload's own event rewrites the result with its
identity.

Records are written to deterministic keys (``locations``), so a redelivered message overwrites the
same keys; on a redelivery an existing result for the same object version (the ETag and version id
the event names, compared with the result's metadata: one HeadObject, no read of the image) is kept
as it is. When the result there is for another version of the object, or the event has no ETag, the
object is read to tell which one is current, so a late redelivery never replaces a newer result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contracts.limits import REKOGNITION_MAX_OBJECT_BYTES
from rekognition_inference import images, locations, records
from rekognition_inference.messages import MessageProblem, ObjectRef, parse_body
from rekognition_inference.storage import (
    ObjectHead,
    Storage,
    TransientError,
    error_code,
    error_message,
)
from shared import review_sampling
from shared.drift_signals import DriftObservation
from shared.model_version import ModelNotConfiguredError, ModelVersion

# Reasons of error records (permanent: the input can never be classified).
OBJECT_MISSING = "object_missing"
EMPTY_OBJECT = "empty_object"
OBJECT_TOO_LARGE = "object_too_large"
ARCHIVED_OBJECT = "archived_object"
UNSUPPORTED_FORMAT = "unsupported_format"
UNEXPECTED_BUCKET = "unexpected_bucket"
OUTSIDE_INPUT_PREFIX = "outside_input_prefix"
UNREADABLE_BY_REKOGNITION = "unreadable_by_rekognition"

#: DetectCustomLabels errors that no retry can fix, by the reason recorded for them when reading
#: the object finds nothing more specific (missing, empty, too large, archived, not JPEG/PNG).
PERMANENT_SERVICE_ERRORS: Mapping[str, str] = {
    "InvalidImageFormatException": "invalid_image_format",  # JPEG/PNG by content, but corrupt
    "ImageTooLargeException": "image_too_large",  # over 4096 px per side (or 4 MB decoded)
    "InvalidParameterException": "image_rejected",  # e.g. under 64 px per side
}
#: The service cannot read the object: missing (or that version), or unreadable for it.
INVALID_S3_OBJECT = "InvalidS3ObjectException"
#: DetectCustomLabels answers about the object; each is diagnosed by reading the object.
_OBJECT_PROBLEMS = frozenset({*PERMANENT_SERVICE_ERRORS, INVALID_S3_OBJECT})
#: DetectCustomLabels errors worth retrying, by reason (anything unknown is retried too).
TRANSIENT_SERVICE_ERRORS: Mapping[str, str] = {
    "ResourceNotReadyException": "model_not_ready",
    "ProvisionedThroughputExceededException": "throughput_exceeded",
    "ThrottlingException": "throttled",
    "LimitExceededException": "throttled",
    "InternalServerError": "service_error",
    "ServiceUnavailableException": "service_error",
    "ResourceNotFoundException": "model_not_found",
    "AccessDeniedException": "access_denied",
}
_ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass(frozen=True)
class Settings:
    """What the consumer is configured with (environment variables of the function)."""

    data_bucket: str
    input_prefix: str
    artifacts_bucket: str
    min_confidence: float
    review_threshold: float

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            data_bucket=environ["DATA_BUCKET"],
            input_prefix=environ["INPUT_PREFIX"],
            artifacts_bucket=environ["ARTIFACTS_BUCKET"],
            min_confidence=float(environ["MIN_CONFIDENCE"]),
            review_threshold=float(environ["REVIEW_THRESHOLD"]),
        )


@dataclass(frozen=True)
class Outcome:
    """How one image (or one unusable message) ended."""

    kind: str  # "result" | "error" | "duplicate"
    record_key: str
    reason: str | None = None
    needs_review: bool = False
    latency_ms: float | None = None
    drift: DriftObservation | None = None  # what a result found, for the drift signals


@dataclass
class MessageReport:
    """Outcomes of every item of a message, and the transient failures that send it back."""

    outcomes: list[Outcome] = field(default_factory=list)
    transient: list[TransientError] = field(default_factory=list)


class RatePacer:
    """Spaces calls at most ``rate`` per second across threads (``None``: no limit).

    Each invocation gets an equal share of the model's throughput for the inference units in
    service (``contracts/consumer_capacity.py``; the model controller publishes it), so all
    concurrent invocations together never exceed it.
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def rate(self) -> float | None:
        return 1.0 / self._interval if self._interval else None

    def set_rate(self, rate: float | None) -> None:
        """A new pace from the next call on (``None`` or 0: no limit)."""
        with self._lock:
            self._interval = 1.0 / rate if rate else 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


@dataclass(frozen=True)
class _Rejection:
    """DetectCustomLabels answered that it cannot use the object (a code of _OBJECT_PROBLEMS)."""

    key: str
    version_id: str | None
    code: str
    message: str

    def about(self, head: ObjectHead) -> bool:
        """Whether the rejected call read the very object ``head`` describes."""
        return self.key == head.key and self.version_id in (None, head.version_id)


@dataclass(frozen=True)
class _Job:
    """One image being classified, and what its message and invocation say about it."""

    ref: ObjectRef
    receive_count: int
    sent_at_ms: int | None
    model: ModelVersion
    deadline: float


class Classifier:
    """Runs the checks, the DetectCustomLabels call and the writes for one message at a time.

    Thread-safe: boto3 clients are, and the only shared state is the pacer.
    """

    def __init__(
        self,
        *,
        s3: Any,
        rekognition: Any,
        settings: Settings,
        pacer: RatePacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        #: The S3 calls (reads to diagnose, record writes).
        self.storage = Storage(s3, settings.artifacts_bucket)
        self._rekognition = rekognition
        self._settings = settings
        self._pacer = pacer or RatePacer(None)
        self._clock = clock
        self._wallclock = wallclock

    @property
    def pacer(self) -> RatePacer:
        """Paces this invocation's DetectCustomLabels calls (shared by its threads)."""
        return self._pacer

    def handle_message(
        self,
        *,
        body: str,
        receive_count: int,
        sent_at_ms: int | None,
        get_model: Callable[[], ModelVersion],
        deadline: float,
    ) -> MessageReport:
        """Process every item of ``body``; never raises for an item, reports instead."""
        report = MessageReport()
        items = parse_body(body)
        problems = [item for item in items if isinstance(item, MessageProblem)]
        refs = [item for item in items if isinstance(item, ObjectRef)]
        outside = [ref for ref in refs if ref.bucket != self._settings.data_bucket]
        problems += [
            MessageProblem(
                UNEXPECTED_BUCKET,
                f"object s3://{ref.bucket}/{ref.key} is not in the data bucket "
                f"{self._settings.data_bucket}",
            )
            for ref in outside
        ]
        if problems:
            try:
                report.outcomes += self._record_message_problems(body, problems)
            except TransientError as error:
                report.transient.append(error)
        for ref in refs:
            if ref in outside:
                continue
            try:
                report.outcomes.append(
                    self._classify(ref, receive_count, sent_at_ms, get_model, deadline)
                )
            except TransientError as error:
                report.transient.append(error)
        return report

    # -- one image ------------------------------------------------------------------------

    def _classify(
        self,
        ref: ObjectRef,
        receive_count: int,
        sent_at_ms: int | None,
        get_model: Callable[[], ModelVersion],
        deadline: float,
    ) -> Outcome:
        """From what the event says: DetectCustomLabels and PutObject, nothing read first."""
        key = ref.key
        if not key.startswith(self._settings.input_prefix):
            return self._record_image_error(
                ref,
                key,
                None,
                OUTSIDE_INPUT_PREFIX,
                f"key is not under the input prefix {self._settings.input_prefix!r}",
                None,
            )
        try:
            model = get_model()
        except ModelNotConfiguredError as error:
            raise TransientError("model_not_configured", str(error)) from error
        job = _Job(ref, receive_count, sent_at_ms, model, deadline)
        if ref.size is None:
            return self._read_and_classify(job)  # the event does not describe the object
        # With two key candidates (an EventBridge key that may be meant URL-decoded), only a
        # read says which key the event's size and identity belong to.
        unambiguous = len(ref.key_candidates) == 1
        head = ObjectHead(key, ref.size, ref.etag or "", ref.version_id, None)
        permanent = self._check_object(head)
        if permanent is not None:
            if not unambiguous:
                return self._read_and_classify(job)
            return self._record_image_error(ref, key, head, *permanent, model)
        result_key = locations.result_key(key, *_ids(model))
        if receive_count > 1:
            if not ref.etag or not unambiguous:
                return self._read_and_classify(job)
            existing = self.storage.record_metadata(result_key)
            if existing is not None:
                if records.same_input(existing, head):
                    return Outcome("duplicate", result_key)
                # A result for another version of the object: the object says which is current
                # (a late redelivery of an older upload must not replace a newer result).
                return self._read_and_classify(job)
        # Not pinned to the event's version: a versioned bucket keeps the version a DeleteObject
        # hides, and a deleted image must end as object_missing, not be classified.
        answer = self._detect(job, head, pinned=False)
        if isinstance(answer, _Rejection):
            return self._read_and_classify(job, answer)
        labels, latency_ms = answer
        return self._record_result(job, head, labels, latency_ms, result_key)

    def _read_and_classify(self, job: _Job, rejection: _Rejection | None = None) -> Outcome:
        """The object read first: the diagnosis of a rejection, or an event that says too little.

        ``rejection`` is DetectCustomLabels' answer for the event's key and version. If the read
        finds nothing more specific (missing, empty, too large, archived, not JPEG/PNG) and
        it read that same object, the service's reason is recorded without a second call;
        otherwise (another key candidate exists, another version is current, or no call was
        made yet) the object found is classified as it is now.
        """
        ref, model = job.ref, job.model
        head, missing_keys = self.storage.read_input(ref)
        existing = None
        if job.receive_count > 1:
            found_key = head.key if head else missing_keys[0]
            existing = self.storage.record_metadata(locations.result_key(found_key, *_ids(model)))
        if head is None:
            if existing is not None:
                return Outcome("duplicate", locations.result_key(missing_keys[0], *_ids(model)))
            return self._record_image_error(
                ref,
                missing_keys[0],
                None,
                OBJECT_MISSING,
                "the object does not exist (deleted before it was processed?)",
                model,
            )
        result_key = locations.result_key(head.key, *_ids(model))
        if existing is not None and records.same_input(existing, head):
            return Outcome("duplicate", result_key)
        permanent = self._check_object(head)
        if permanent is not None:
            return self._record_image_error(ref, head.key, head, *permanent, model)
        if images.sniff_format(head.first_bytes) is None:
            return self._record_image_error(
                ref,
                head.key,
                head,
                UNSUPPORTED_FORMAT,
                images.describe(head.first_bytes),
                model,
            )
        if rejection is not None and rejection.about(head):
            # JPEG/PNG by content, of a size the service reads, and there: the service's
            # answer about this very object stands (corrupt, pixel size, unreadable).
            return self._record_rejection(job, head, rejection)
        answer = self._detect(job, head)
        if isinstance(answer, _Rejection):
            if answer.code == INVALID_S3_OBJECT:
                return self._unreadable(job, head, answer.message)
            return self._record_rejection(job, head, answer)
        labels, latency_ms = answer
        return self._record_result(job, head, labels, latency_ms, result_key)

    @staticmethod
    def _check_object(head: ObjectHead) -> tuple[str, str] | None:
        if head.size == 0:
            return EMPTY_OBJECT, "the object is empty (0 bytes)"
        if head.size > REKOGNITION_MAX_OBJECT_BYTES:
            return (
                OBJECT_TOO_LARGE,
                f"{head.size} bytes; DetectCustomLabels reads S3 objects up to "
                f"{REKOGNITION_MAX_OBJECT_BYTES} bytes (15 MB)",
            )
        if head.storage_class in _ARCHIVED_CLASSES:
            return ARCHIVED_OBJECT, f"storage class {head.storage_class} must be restored first"
        return None

    def _detect(
        self, job: _Job, head: ObjectHead, *, pinned: bool = True
    ) -> tuple[list[dict[str, Any]], float] | _Rejection:
        """Labels and latency, or the service's rejection of the object; raises if transient.

        ``pinned``: read the version ``head`` names (one the handler read itself); otherwise the
        object as it is now, so an object deleted since its event is not classified.
        """
        version = head.version_id if pinned else None
        image: dict[str, Any] = {"Bucket": job.ref.bucket, "Name": head.key}
        if version:
            image["Version"] = version
        self._check_deadline(job.deadline)
        self._pacer.wait()
        self._check_deadline(job.deadline)
        started = self._clock()
        try:
            response = self._rekognition.detect_custom_labels(
                ProjectVersionArn=job.model.arn,
                Image={"S3Object": image},
                MinConfidence=self._settings.min_confidence * 100,
            )
        except ClientError as error:
            code = error_code(error)
            message = error_message(error)
            if code in _OBJECT_PROBLEMS:
                return _Rejection(head.key, version, code, message)
            reason = TRANSIENT_SERVICE_ERRORS.get(code, "service_error")
            raise TransientError(reason, f"DetectCustomLabels {code}: {message}") from error
        except BotoCoreError as error:
            raise TransientError("connection_error", f"DetectCustomLabels: {error}") from error
        latency_ms = (self._clock() - started) * 1000
        labels = sorted(
            (
                {"name": label["Name"], "confidence": round(label["Confidence"] / 100, 6)}
                for label in response.get("CustomLabels", [])
            ),
            key=lambda label: (-label["confidence"], label["name"]),
        )
        return labels, latency_ms

    def _record_rejection(self, job: _Job, head: ObjectHead, rejection: _Rejection) -> Outcome:
        reason = PERMANENT_SERVICE_ERRORS.get(rejection.code, UNREADABLE_BY_REKOGNITION)
        return self._record_image_error(
            job.ref, head.key, head, reason, rejection.message, job.model
        )

    def _unreadable(self, job: _Job, head: ObjectHead, message: str) -> Outcome:
        """InvalidS3ObjectException after a read: gone since, or unreadable for the service."""
        ref = job.ref
        again, _ = self.storage.read_input(ObjectRef(ref.bucket, (head.key,), None, ref.wiring))
        if again is None or (head.version_id and again.version_id != head.version_id):
            return self._record_image_error(
                ref, head.key, head, OBJECT_MISSING, "deleted while being processed", job.model
            )
        return self._record_image_error(
            ref, head.key, head, UNREADABLE_BY_REKOGNITION, message, job.model
        )

    def _check_deadline(self, deadline: float) -> None:
        if self._clock() > deadline:
            raise TransientError(
                "deadline", "not started: too close to the function timeout; will be retried"
            )

    # -- records --------------------------------------------------------------------------

    def _record_result(
        self,
        job: _Job,
        head: ObjectHead,
        labels: list[dict[str, Any]],
        latency_ms: float,
        result_key: str,
    ) -> Outcome:
        model = job.model
        document = records.result_document(
            job.ref,
            head,
            model,
            labels,
            latency_ms,
            sent_at_ms=job.sent_at_ms,
            now=self._wallclock(),
            min_confidence=self._settings.min_confidence,
            review_threshold=self._settings.review_threshold,
        )
        needs_review = bool(document["needs_review"])
        top_confidence = float(document["top_confidence"])
        if reason := review_sampling.reason(needs_review, head.key):
            self.storage.put_json(
                locations.review_key(head.key, model.project, model.version),
                records.review_document(document, result_key, reason),
            )
        # Written last: its existence (with this input version) marks the image as done.
        self.storage.put_json(result_key, document, metadata=records.result_metadata(head))
        seen = DriftObservation(model.version, document["top_label"], top_confidence, head.size)
        return Outcome("result", result_key, None, needs_review, latency_ms, seen)

    def _record_image_error(
        self,
        ref: ObjectRef,
        key: str,
        head: ObjectHead | None,
        reason: str,
        detail: str,
        model: ModelVersion | None,
    ) -> Outcome:
        record_key = locations.image_error_key(key)
        self.storage.put_json(
            record_key, records.image_error_document(ref, key, head, reason, detail, model)
        )
        return Outcome("error", record_key, reason=reason)

    def _record_message_problems(self, body: str, problems: list[MessageProblem]) -> list[Outcome]:
        record_key = locations.message_error_key(body)
        self.storage.put_json(record_key, records.message_error_document(body, problems))
        return [Outcome("error", record_key, reason=problem.reason) for problem in problems]


def _ids(model: ModelVersion) -> tuple[str, str]:
    return model.project, model.version

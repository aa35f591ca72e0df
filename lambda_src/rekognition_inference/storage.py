"""The inference consumer's S3 I/O: the diagnosing read of an input, and its records.

The decision flow (``processing``) asks; this module talks to S3 and turns its answers into an
:class:`ObjectHead` (what is known of the input), record metadata, or a :class:`TransientError`
(a failure a later attempt may not have).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rekognition_inference import images
from rekognition_inference.messages import ObjectRef

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
#: A range on an empty object is unsatisfiable.
_EMPTY_CODES = frozenset({"416", "InvalidRange"})
#: An archived object must be restored before it can be read.
_ARCHIVED_CODES = frozenset({"InvalidObjectState"})


class TransientError(Exception):
    """A failure a later attempt may not have; the message goes back to the queue."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ObjectHead:
    """What is known of the input object: what its event says, or what a ranged GetObject read."""

    key: str
    size: int
    etag: str
    version_id: str | None
    storage_class: str | None
    #: The object's first bytes, when it was read (its format is decided by content).
    first_bytes: bytes = b""


class Storage:
    """The consumer's S3 calls: the input read (to diagnose), records in the artifacts bucket."""

    def __init__(self, s3: Any, artifacts_bucket: str) -> None:
        #: The S3 client (the tests and the throughput benchmark watch its calls).
        self.s3 = s3
        self._artifacts_bucket = artifacts_bucket

    def read_input(self, ref: ObjectRef) -> tuple[ObjectHead | None, list[str]]:
        """One ranged GetObject: the object's size, identity and first bytes in a single call.

        Only to diagnose (see the module docstring): tries the key candidates in order. The size
        comes from ``Content-Range: bytes 0-N/SIZE``; S3 answers a range on an empty object
        with 416, and a read of an archived object with InvalidObjectState.
        """
        missing: list[str] = []
        for key in ref.key_candidates:
            try:
                response = self.s3.get_object(
                    Bucket=ref.bucket, Key=key, Range=f"bytes=0-{images.SNIFF_BYTES - 1}"
                )
                first_bytes: bytes = response["Body"].read()
            except ClientError as error:
                code = error_code(error)
                if code in _MISSING_CODES:
                    missing.append(key)
                    continue
                if code in _EMPTY_CODES:
                    return ObjectHead(key, 0, "", None, None, b""), missing
                if code in _ARCHIVED_CODES:
                    # Size unknown (-1); the storage class decides the error record.
                    return ObjectHead(key, -1, "", None, "GLACIER", b""), missing
                raise storage_error(error, f"GetObject s3://{ref.bucket}/{key}") from error
            except BotoCoreError as error:
                raise TransientError("connection_error", f"GetObject: {error}") from error
            content_range = str(response.get("ContentRange", ""))
            total = content_range.rpartition("/")[2]
            size = int(total) if total.isdigit() else int(response.get("ContentLength", 0))
            return (
                ObjectHead(
                    key=key,
                    size=size,
                    etag=str(response.get("ETag", "")).strip('"'),
                    version_id=response.get("VersionId"),
                    storage_class=response.get("StorageClass"),
                    first_bytes=first_bytes,
                ),
                missing,
            )
        return None, missing

    def record_metadata(self, key: str) -> Mapping[str, str] | None:
        """User metadata of an existing record, or None (404, or 403 without s3:ListBucket)."""
        try:
            response = self.s3.head_object(Bucket=self._artifacts_bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING_CODES or error_code(error) in {"403", "AccessDenied"}:
                return None
            raise storage_error(error, f"HeadObject {key}") from error
        except BotoCoreError as error:
            raise TransientError("connection_error", f"HeadObject: {error}") from error
        metadata: Mapping[str, str] = response.get("Metadata", {})
        return metadata

    def put_json(
        self, key: str, document: Mapping[str, Any], metadata: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1).encode()
        try:
            self.s3.put_object(
                Bucket=self._artifacts_bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                Metadata=dict(metadata or {}),
            )
        except ClientError as error:
            raise storage_error(error, f"PutObject {key}") from error
        except BotoCoreError as error:
            raise TransientError("connection_error", f"PutObject: {error}") from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or error_code(error)


def storage_error(error: ClientError, what: str) -> TransientError:
    code = error_code(error)
    reason = "access_denied" if code in {"403", "AccessDenied"} else "storage_error"
    return TransientError(reason, f"{what}: {code} {error_message(error)}")

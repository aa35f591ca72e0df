"""Where inference writes in the artifacts bucket: deterministic keys, so retries overwrite.

- ``results/rekognition/<project>/<version>/<input key>.json``: one result per image and model
  version (``results/`` moves to Standard-IA with the artifacts bucket's lifecycle);
- ``review/rekognition/<project>/<version>/<input key>.json``: images whose top confidence is
  below the review threshold (a pointer to the result);
- ``errors/rekognition/images/<input key>.json``: why an image could not be classified;
- ``errors/rekognition/messages/<sha256 of the body>.json``: messages that named no image.

S3 keys are at most 1,024 bytes; a derived key that would be longer is replaced by
``.../_long-keys/<sha256 of the input key>.json`` (the record still holds the full input key).
The prefixes are ``contracts.s3_layout``'s (the stack grants the same ones). Also used by
``python -m ops classify`` to find the records of the images it uploaded.
"""

from __future__ import annotations

import hashlib

from contracts.limits import S3_MAX_KEY_BYTES as MAX_KEY_BYTES
from contracts.s3_layout import REKOGNITION_ERRORS_PREFIX as ERRORS_PREFIX
from contracts.s3_layout import REKOGNITION_RESULTS_PREFIX as RESULTS_PREFIX
from contracts.s3_layout import REKOGNITION_REVIEW_PREFIX as REVIEW_PREFIX

IMAGE_ERRORS_PREFIX = f"{ERRORS_PREFIX}images/"
MESSAGE_ERRORS_PREFIX = f"{ERRORS_PREFIX}messages/"
SUFFIX = ".json"


def model_prefix(root: str, project: str, version: str) -> str:
    return f"{root}{project}/{version}/"


def result_key(input_key: str, project: str, version: str) -> str:
    return _bounded(model_prefix(RESULTS_PREFIX, project, version), input_key)


def review_key(input_key: str, project: str, version: str) -> str:
    return _bounded(model_prefix(REVIEW_PREFIX, project, version), input_key)


def image_error_key(input_key: str) -> str:
    return _bounded(IMAGE_ERRORS_PREFIX, input_key)


def message_error_key(body: str) -> str:
    return f"{MESSAGE_ERRORS_PREFIX}{_digest(body)}{SUFFIX}"


def input_key_of(record_key: str, prefix: str) -> str | None:
    """Inverse of the derivations above for keys that were not shortened."""
    if not record_key.startswith(prefix) or not record_key.endswith(SUFFIX):
        return None
    inner = record_key[len(prefix) : -len(SUFFIX)]
    return None if inner.startswith("_long-keys/") else inner


def _bounded(prefix: str, input_key: str) -> str:
    key = f"{prefix}{input_key}{SUFFIX}"
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    return f"{prefix}_long-keys/{_digest(input_key)}{SUFFIX}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

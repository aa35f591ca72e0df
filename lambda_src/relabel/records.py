"""The review records both inference paths write, read as images waiting for a human label.

- Rekognition (``lambda_src/rekognition_inference/processing.py``, schema
  ``imgclf.rekognition.review/2``): ``{"input": {"bucket", "key", ...}, "top_label",
  "top_confidence", ...}`` under ``review/rekognition/<project>/<version>/<input key>.json``;
- SageMaker (``RecordForReview`` of ``stacks/pipelines/sagemaker_inference.py``): the state of
  the classify workflow, ``{"image": {"bucket", "key", ...}, "inference": {"label",
  "confidence", ...}, "threshold"}`` under ``<sagemaker.review_prefix><input key>.json``.

Both may name one image (several model versions, both pipelines): the image is labeled once and
every record naming it is moved to the done prefix when its label is in a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts.naming import REKOGNITION

#: Most records one run lists per prefix (ListObjectsV2 pages of 1,000).
MAX_LISTED = 100_000


class RecordError(ValueError):
    """A review record that names no image (left where it is, reported)."""


@dataclass
class PendingImage:
    """One image to label and the review records that asked for it."""

    source_ref: str
    record_keys: list[str] = field(default_factory=list)
    pipelines: set[str] = field(default_factory=set)


def source_ref(record: Any, pipeline: str) -> str:
    """The ``s3://bucket/key`` of the image a review record is about."""
    if not isinstance(record, dict):
        raise RecordError("the record is not a JSON object")
    image = record.get("input" if pipeline == REKOGNITION else "image")
    if not isinstance(image, dict):
        raise RecordError(f"the {pipeline} record has no image reference")
    bucket, key = image.get("bucket"), image.get("key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise RecordError(f"the {pipeline} record's image has no bucket or key")
    return f"s3://{bucket}/{key}"


def list_record_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Every review record key under ``prefix``, in key order (every page read)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    listed = 0
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                listed += 1
                if listed > MAX_LISTED:
                    return
                yield item["Key"]


def count_pending(s3: Any, bucket: str, prefixes: dict[str, str]) -> dict[str, int]:
    """Review records waiting, per pipeline."""
    return {
        pipeline: sum(1 for _ in list_record_keys(s3, bucket, prefix))
        for pipeline, prefix in prefixes.items()
    }


def collect_pending(
    s3: Any, bucket: str, prefixes: dict[str, str], max_images: int
) -> tuple[list[PendingImage], list[dict[str, str]]]:
    """Up to ``max_images`` distinct images and their records, and the unreadable records."""
    images: dict[str, PendingImage] = {}
    unreadable: list[dict[str, str]] = []
    for pipeline, prefix in prefixes.items():
        for key in list_record_keys(s3, bucket, prefix):
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                ref = source_ref(json.loads(body), pipeline)
            except (RecordError, ValueError) as error:
                unreadable.append({"key": key, "problem": str(error)[:200]})
                continue
            if ref not in images:
                if len(images) >= max_images:
                    continue  # the next run takes it
                images[ref] = PendingImage(ref)
            images[ref].record_keys.append(key)
            images[ref].pipelines.add(pipeline)
    return list(images.values()), unreadable

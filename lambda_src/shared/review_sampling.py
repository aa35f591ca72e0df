"""Sending a small share of confident predictions to human review too (``relabel.
sample_confident_share``, 0 by default), to catch the model's confident mistakes.

The choice is a hash of the image's key, not a coin toss: a retried message or execution
chooses the same, both pipelines choose alike, and the share holds over many images. Each
inference path calls this module with a line or two: Rekognition's consumer asks
:func:`reason` whether (and why) to write its review record; SageMaker's Classify function
writes the record of a sampled confident image with :func:`record_sagemaker_sample` (the
workflow itself records the low-confidence ones).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

LOW_CONFIDENCE = "low_confidence"
SAMPLED = "sampled"
#: The functions get the share as this variable (absent or 0: sampling is off).
SHARE_VARIABLE = "REVIEW_SAMPLE_SHARE"
logger = logging.getLogger(__name__)


def configured_share() -> float:
    return float(os.environ.get(SHARE_VARIABLE) or 0)


def sampled(key: str, share: float) -> bool:
    """Whether ``key`` falls in the sampled ``share`` (a fraction in [0, 1])."""
    if share <= 0:
        return False
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def reason(low_confidence: bool, key: str, share: float | None = None) -> str | None:
    """Why an image goes to review: its low confidence, the sample, or not at all (None)."""
    if low_confidence:
        return LOW_CONFIDENCE
    return SAMPLED if sampled(key, configured_share() if share is None else share) else None


def record_sagemaker_sample(
    s3: Any, image: dict[str, Any], threshold: float, inference: dict[str, Any]
) -> str | None:
    """For a confident SageMaker inference in the sample: the review record the workflow's
    RecordForReview would write (``{"image", "threshold", "inference"}``, ``reason`` added),
    under ``REVIEW_BUCKET``/``REVIEW_PREFIX``. Returns its key, or None when not sampled (or
    when the record cannot be written: a sample never fails the classification)."""
    if inference["confidence"] < threshold or reason(False, image["key"]) is None:
        return None
    key = f"{os.environ['REVIEW_PREFIX']}{image['key']}.json"
    document = {"image": image, "threshold": threshold, "inference": inference, "reason": SAMPLED}
    try:
        s3.put_object(
            Bucket=os.environ["REVIEW_BUCKET"],
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )
    except Exception as error:  # botocore's ClientError and BotoCoreError alike
        logger.warning("sampled review record not written: %s", error, extra={"key": key})
        return None
    return key

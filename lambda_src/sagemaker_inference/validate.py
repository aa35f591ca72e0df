"""First state: check that the requested object is an image the endpoint can take.

Only the object's metadata (HeadObject) and its first bytes (a ranged GetObject) are read; the
image itself stays in S3 and the workflow passes on a reference to the validated version.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from contracts.metrics import IMAGES_VALIDATED
from sagemaker_inference.aws import client, emit_metric, s3_error
from sagemaker_inference.model import (
    ImageTooLargeError,
    NotAnImageError,
    parse_request,
)
from shared.images import JPEG_OR_PNG, SNIFF_BYTES, describe_bytes, sniff
from shared.s3_location import S3Location

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"s3_uri", "confidence_threshold"?}`` -> ``{"image": {...}, "threshold": float}``."""
    request = parse_request(
        event,
        data_bucket=os.environ["DATA_BUCKET"],
        input_prefix=os.environ["INPUT_PREFIX"],
        default_threshold=float(os.environ["DEFAULT_THRESHOLD"]),
    )
    described = validate_image(client("s3"), request.image, int(os.environ["MAX_IMAGE_BYTES"]))
    emit_metric(name=IMAGES_VALIDATED, unit=MetricUnit.Count, value=1)
    logger.info("image accepted", extra={"s3_uri": request.image.uri, "size": described["size"]})
    return {"image": described, "threshold": request.threshold}


def validate_image(s3: Any, image: S3Location, max_bytes: int) -> dict[str, Any]:
    """HeadObject + the first bytes of ``image``: the validated version as the next step reads
    it, or the error that says why the endpoint cannot take it (shared with the batch)."""
    try:
        head = s3.head_object(Bucket=image.bucket, Key=image.key)
    except (ClientError, BotoCoreError) as error:
        raise s3_error(error, image.uri) from error
    size = int(head["ContentLength"])
    version_id = head.get("VersionId")
    if size == 0:
        raise NotAnImageError(f"{image.uri} is empty")
    if size > max_bytes:
        raise ImageTooLargeError(
            f"{image.uri} is {size:,} bytes; a real-time endpoint accepts at most "
            f"{max_bytes:,} bytes per request"
        )
    try:
        first_bytes = s3.get_object(
            Bucket=image.bucket,
            Key=image.key,
            Range=f"bytes=0-{SNIFF_BYTES - 1}",
            **({"VersionId": version_id} if version_id else {}),
        )["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise s3_error(error, image.uri) from error
    image_format = sniff(first_bytes)
    if image_format not in JPEG_OR_PNG:
        found = (
            f"a {image_format.name} image"
            if image_format
            else f"not an image (it starts with {describe_bytes(first_bytes)})"
        )
        raise NotAnImageError(
            f"{image.uri} is {found}; the image-classification algorithm accepts JPEG or PNG"
        )
    assert image_format is not None
    return {
        "s3_uri": image.uri,
        "bucket": image.bucket,
        "key": image.key,
        "version_id": version_id,
        "size": size,
        "format": image_format.name,
        "content_type": image_format.content_type,
    }

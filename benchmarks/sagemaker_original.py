"""The original projects' three Lambdas, reconstructed from their write-ups (payload benchmark).

``serialize_image_data`` reads the image from S3 and returns it base64-encoded inside the state;
``classify`` decodes it and invokes the endpoint; ``filter_low_confidence`` keeps confident
inferences. Kept as close to the originals as the comparison needs (their bugs in the returned
types included: ``inferences`` is the endpoint's answer as a string); not used by the product.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3

THRESHOLD = 0.9


def serialize_image_data(event: dict[str, Any], context: Any) -> dict[str, Any]:
    key, bucket = event["s3_key"], event["s3_bucket"]
    s3 = boto3.client("s3", region_name=os.environ.get("AWS_REGION"))
    image = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return {
        "statusCode": 200,
        "body": {
            "image_data": base64.b64encode(image).decode(),
            "s3_bucket": bucket,
            "s3_key": key,
            "inferences": [],
        },
    }


def classify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    image = base64.b64decode(event["body"]["image_data"])
    runtime = boto3.client("sagemaker-runtime", region_name=os.environ.get("AWS_REGION"))
    response = runtime.invoke_endpoint(
        EndpointName=os.environ["ENDPOINT"], ContentType="image/png", Body=image
    )
    event["body"]["inferences"] = response["Body"].read().decode("utf-8")
    return {"statusCode": 200, "body": event["body"]}


def filter_low_confidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    inferences = json.loads(event["body"]["inferences"])
    if max(inferences) < THRESHOLD:
        raise ValueError("THRESHOLD_CONFIDENCE_NOT_MET")
    return {"statusCode": 200, "body": json.dumps(event["body"])}

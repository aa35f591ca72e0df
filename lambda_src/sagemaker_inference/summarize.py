"""Last state of a batch: count the Distributed Map's results and store the summary beside them.

The Map's ResultWriter wrote ``manifest.json`` and ``SUCCEEDED_n.json``/``FAILED_n.json`` files
under the results prefix; this reads them, counts labels, low-confidence images and failures,
and writes ``summary.json`` next to the manifest.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagemaker_inference.aws import client, emit_metric
from sagemaker_inference.model import summarize

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"map": <Map output>, "prefix", "threshold"}`` -> the batch summary."""
    details = event["map"]["ResultWriterDetails"]
    bucket, manifest_key = details["Bucket"], details["Key"]
    s3 = client("s3")
    manifest = _read_json(s3, bucket, manifest_key)
    files = manifest.get("ResultFiles", {})
    # One result file in memory at a time (Step Functions splits them at 5 GB).
    succeeded = (r for f in files.get("SUCCEEDED", []) for r in _read_json(s3, bucket, f["Key"]))
    failed = (r for f in files.get("FAILED", []) for r in _read_json(s3, bucket, f["Key"]))
    summary = summarize(succeeded, failed)
    summary_key = manifest_key.rsplit("/", 1)[0] + "/summary.json"
    summary.update(
        {
            "prefix": event["prefix"],
            "threshold": event["threshold"],
            "results_uri": f"s3://{bucket}/{manifest_key}",
            "summary_uri": f"s3://{bucket}/{summary_key}",
        }
    )
    s3.put_object(
        Bucket=bucket,
        Key=summary_key,
        Body=json.dumps(summary, indent=2).encode(),
        ContentType="application/json",
    )
    for name in ("classified", "low_confidence", "failed"):
        emit_metric(name=f"Batch_{name}", unit=MetricUnit.Count, value=summary[name])
    logger.info("batch summarized", extra={"summary": summary})
    return summary


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

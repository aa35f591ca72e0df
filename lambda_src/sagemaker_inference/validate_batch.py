"""First state of a batch: check the request before a single object is listed.

A field the workflow does not read (``threshold`` for ``confidence_threshold``) would let the
batch run with the default, so unknown fields are refused with the closest known name; the
prefix must lie under the inference inputs and the threshold in [0, 1]. The answer is the
request the Distributed Map works from.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagemaker_inference.model import parse_batch_request

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"request": <the execution input>}`` -> ``{"bucket", "prefix", "threshold"}``.

    The execution input arrives wrapped: it may be any JSON value, and telling the caller that
    it is not an object is part of the job.
    """
    request = parse_batch_request(
        event.get("request"),
        data_bucket=os.environ["DATA_BUCKET"],
        input_prefix=os.environ["INPUT_PREFIX"],
        default_threshold=float(os.environ["DEFAULT_THRESHOLD"]),
    )
    logger.info("batch request accepted", extra={"prefix": request.prefix})
    return {"bucket": request.bucket, "prefix": request.prefix, "threshold": request.threshold}

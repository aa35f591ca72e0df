"""First state of the training workflow: validate the request, return the normalized job."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from rekognition_training.job import normalize_job

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"request": <execution input>, "execution_name": <$$.Execution.Name>}."""
    job = normalize_job(
        event.get("request"),
        execution_name=str(event.get("execution_name", "run")),
        project_name=os.environ["PROJECT_NAME"],
        data_bucket=os.environ["DATA_BUCKET"],
        default_gate=json.loads(os.environ["DEFAULT_GATE"]),
    )
    logger.info("training job accepted", extra={"job": job})
    return job

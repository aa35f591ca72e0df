"""Record a SageMaker training job's metrics and lineage, and what the registry needs of them.

Runs after the gate's figures are read, whatever they say. From the workflow's state it reads the
job's name (``job.name``), the training job's description (``training``: its ARN, creation time,
channels and final metrics, as ``createTrainingJob.sync`` returns DescribeTrainingJob) and the
gate's figures (``evaluation``: accuracy, threshold, model artifacts). It writes, under
``sagemaker/reports/<job>/``:

- ``metrics.json``: the final metrics in the model-quality statistics form a model package's
  ``ModelMetrics.ModelQuality.Statistics`` points at
  (``multiclass_classification_metrics.accuracy.value``), plus every final metric by name;
- ``lineage.json``: the record of ``shared.lineage``.

Returns the two URIs, the record in the registry's ``CustomerMetadataProperties`` form, and the
tags the workflow puts on the training job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.naming import SAGEMAKER
from shared.lineage import (
    CODE_VERSION_TAG,
    CODE_VERSION_VARIABLE,
    GATE_PASSED_TAG,
    LINEAGE_FILE,
    LINEAGE_TAG,
    GateRecord,
    LineageRecord,
    S3ObjectRef,
    customer_metadata,
    parse_lineage,
    reports_prefix,
    utc_time,
)

#: The metric the gate compares, as the built-in algorithm names it.
GATE_METRIC = "validation:accuracy"
METRICS_FILE = "metrics.json"
#: Channels that hold training data; the others (validation, validation_lst) are the test data.
TRAINING_CHANNELS = ("train", "train_lst")

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"state": <workflow state>, "execution_arn", "started_at"}."""
    state = event["state"]
    bucket = os.environ["ARTIFACTS_BUCKET"]
    group = os.environ["MODEL_PACKAGE_GROUP"]
    prefix = reports_prefix(SAGEMAKER, group, state["job"]["name"])
    metrics_uri = f"s3://{bucket}/{prefix}{METRICS_FILE}"
    record = lineage_record(
        state,
        execution_arn=str(event["execution_arn"]),
        started_at=str(event["started_at"]),
        environment=os.environ["ENVIRONMENT_NAME"],
        group=group,
        code_version=os.environ[CODE_VERSION_VARIABLE],
        metrics_uri=metrics_uri,
    )
    s3.put_object(
        Bucket=bucket,
        Key=prefix + METRICS_FILE,
        Body=json.dumps(metrics_document(state["training"]), indent=2).encode(),
        ContentType="application/json",
    )
    # What is written is what every reader accepts.
    body = parse_lineage(record.to_dict()).to_json().encode()
    s3.put_object(
        Bucket=bucket, Key=prefix + LINEAGE_FILE, Body=body, ContentType="application/json"
    )
    uri = f"s3://{bucket}/{prefix}{LINEAGE_FILE}"
    logger.info("lineage recorded", extra={"uri": uri, "passed": record.gate.passed})
    return {
        "uri": uri,
        "metrics_uri": metrics_uri,
        "customer_metadata": customer_metadata(record, uri),
        "tags": [
            {"Key": LINEAGE_TAG, "Value": uri},
            {"Key": GATE_PASSED_TAG, "Value": "true" if record.gate.passed else "false"},
            {"Key": CODE_VERSION_TAG, "Value": record.code_version},
        ],
    }


def metrics_document(training: Mapping[str, Any]) -> dict[str, Any]:
    """Every final metric, and the accuracy where the registry's model-quality form has it."""
    final = {
        str(metric["MetricName"]): float(metric["Value"])
        for metric in training.get("FinalMetricDataList", [])
    }
    document: dict[str, Any] = {"final_metrics": final}
    if GATE_METRIC in final:
        document["multiclass_classification_metrics"] = {
            "accuracy": {"value": final[GATE_METRIC], "standard_deviation": "NaN"}
        }
    return document


def lineage_record(
    state: Mapping[str, Any],
    *,
    execution_arn: str,
    started_at: str,
    environment: str,
    group: str,
    code_version: str,
    metrics_uri: str,
) -> LineageRecord:
    training, evaluation = state["training"], state["evaluation"]
    accuracy, threshold = float(evaluation["accuracy"]), float(evaluation["threshold"])
    passed = accuracy >= threshold
    channels = {
        str(channel["ChannelName"]): str(channel["DataSource"]["S3DataSource"]["S3Uri"])
        for channel in training.get("InputDataConfig", [])
    }
    return LineageRecord(
        pipeline=SAGEMAKER,
        environment=environment,
        project=group,
        version=state["job"]["name"],
        model_version_arn=training["TrainingJobArn"],
        execution_arn=execution_arn,
        code_version=code_version,
        # Channels are prefixes: no single object, so no version ID or ETag.
        training_data=[
            S3ObjectRef(uri=uri) for name, uri in channels.items() if name in TRAINING_CHANNELS
        ],
        test_data=[
            S3ObjectRef(uri=uri) for name, uri in channels.items() if name not in TRAINING_CHANNELS
        ],
        datasets={},
        gate=GateRecord(
            settings={"metric": GATE_METRIC, "threshold": threshold},
            passed=passed,
            reasons=[]
            if passed
            else [f"{GATE_METRIC} {accuracy:.4f} is below the threshold {threshold:.4f}"],
            metric=GATE_METRIC,
            value=accuracy,
            threshold=threshold,
        ),
        metrics_uri=metrics_uri,
        model_artifacts_uri=str(evaluation["model_artifacts"]),
        created_at=utc_time(started_at),
        finished_at=utc_time(),
    )

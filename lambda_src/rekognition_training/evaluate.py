"""Evaluate a trained version: full report to S3, metrics to CloudWatch, the gate's verdict.

Reads the version's summary file and evaluation manifest snapshot (both written by Rekognition
under the version's output prefix), computes the report with ``shared.evaluation`` (the same code
``python -m ops report`` runs locally), writes ``metrics.json`` and ``report.html`` under the
job's report prefix, publishes the aggregates and per-label figures as CloudWatch metrics (EMF;
label names as ASCII-safe dimension values, ``contracts.metric_dimensions``), and returns a small
summary for the workflow's gate Choice and notifications.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.metric_dimensions import label_dimension
from contracts.metrics import (
    LABEL_DIMENSION,
    LABEL_SCORES,
    PROJECT_DIMENSION,
    TEST_IMAGES,
    VERSION_DIMENSION,
    label_metric,
)
from rekognition_training.baseline import write_baseline
from rekognition_training.evaluation_sources import (
    EvaluationMissing,
    evaluate,
    evaluation_sources,
    read_evaluation,
)
from shared.evaluation.report_html import METRICS_FILE, REPORT_FILE

#: EvaluationMissing is raised (by name, the workflow's error name) from evaluation_sources.
__all__ = ["EvaluationMissing", "lambda_handler"]

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` = {"job": <normalized job>, "version": <ProjectVersionDescription>}."""
    job, version = event["job"], event["version"]
    sources = evaluation_sources(version)
    evaluation = evaluate(read_evaluation(s3, sources), job["gate"], sources.service_f1)
    report, aggregates, verdict = evaluation.report, evaluation.aggregates, evaluation.verdict

    bucket, prefix = os.environ["ARTIFACTS_BUCKET"], job["report_prefix"]
    for name, (body, content_type) in evaluation.files().items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=content_type)
    _publish(job, aggregates, report)
    baseline = write_baseline(
        s3, bucket=bucket, job=job, description=version, sources=sources, report=report
    )
    logger.info("evaluation complete", extra={"verdict": verdict, "aggregates": aggregates})
    return {
        "gate": verdict,
        "metrics": {name: round(value, 6) for name, value in aggregates.items()},
        "n_images": report["n_images"],
        "report_uri": f"s3://{bucket}/{prefix}{REPORT_FILE}",
        "metrics_uri": f"s3://{bucket}/{prefix}{METRICS_FILE}",
        "baseline_uri": baseline,
    }


def _publish(job: dict[str, Any], aggregates: dict[str, float], report: Any) -> None:
    """Aggregates per project/version; per-label precision/recall/F1 with a Label dimension.

    CloudWatch takes only ASCII dimension values (a metric with another is dropped): the Label
    dimension is ``label_dimension(label)``, the label itself for printable ASCII and a
    documented, reversible encoding otherwise (``contracts/metric_dimensions.py``).
    """
    metrics.add_dimension(PROJECT_DIMENSION, job["project_name"])
    metrics.add_dimension(VERSION_DIMENSION, job["version_name"])
    for name, value in aggregates.items():
        metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)
    metrics.add_metric(name=TEST_IMAGES, unit=MetricUnit.Count, value=report["n_images"])
    for label, scores in report["per_label"].items():
        for name in LABEL_SCORES:
            with single_metric(
                name=label_metric(name),
                unit=MetricUnit.NoUnit,
                value=scores[name],
                namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE"),
            ) as metric:
                metric.add_dimension(PROJECT_DIMENSION, job["project_name"])
                metric.add_dimension(VERSION_DIMENSION, job["version_name"])
                metric.add_dimension(LABEL_DIMENSION, label_dimension(label))

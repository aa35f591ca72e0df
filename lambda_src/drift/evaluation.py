"""One drift evaluation of one pipeline: which model runs, its baseline, the window, the figures.

Shared by the scheduled evaluator (``drift.handler``, which also publishes, stores and
notifies) and ``python -m ops drift`` (which only reads): the same code gives the same figures.

The running model:

- **Rekognition**: the version inference uses (``rekognition.model_version_arn`` when pinned,
  else the SSM parameter the training workflow writes: ``shared.model_version``); its live
  metrics carry its version name, so a new version starts a new series and its own baseline
  (``reports/<project>/<version>/baseline.json``) at once.
- **SageMaker**: the endpoint's current endpoint configuration, named after the training job
  that made it (DescribeEndpoint); the live metrics carry the endpoint name, so the window
  starts no earlier than the endpoint's last update (``LastModifiedTime``): a new model's window
  holds only its own answers. Its baseline is ``sagemaker/reports/<job>/baseline.json``, built
  by ``drift.sagemaker_baseline`` when missing (and stored, unless ``store_built`` is off:
  ``ops drift`` only reads).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from contracts import drift as contract
from contracts.s3_layout import sagemaker_report_prefix, version_report_prefix
from drift.figures import LiveWindow, Thresholds, compare
from drift.report import report_document
from drift.sagemaker_baseline import TrainingData, build_sagemaker_baseline
from drift.window import Window, read_window
from shared.drift_baseline import encode
from shared.model_version import ModelNotConfiguredError, resolve_model_version

_MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class Settings:
    """What one environment's evaluator is configured with."""

    environment: str
    namespace: str
    artifacts_bucket: str
    window: timedelta
    thresholds: Thresholds
    #: Rekognition: the pinned version ARN (or None), the parameter and the project name.
    pinned_arn: str | None
    model_parameter: str
    project_name: str
    #: SageMaker: the endpoint and where its training data is.
    endpoint_name: str
    training_data: TrainingData


@dataclass(frozen=True)
class RunningModel:
    """The model a pipeline serves now, where its baseline is, and since when it serves."""

    pipeline: str
    dimension: str
    name: str
    baseline_key: str
    since: datetime | None = None


class NothingRunning(Exception):  # noqa: N818 - reads as the condition it reports
    """The pipeline serves no model now (no version published, no endpoint)."""


def running_rekognition(
    settings: Settings, read_parameter: Callable[[str], str | None]
) -> RunningModel:
    try:
        model = resolve_model_version(
            pinned_arn=settings.pinned_arn,
            parameter_name=settings.model_parameter,
            project_name=settings.project_name,
            read_parameter=read_parameter,
        )
    except ModelNotConfiguredError as error:
        raise NothingRunning(str(error)) from error
    return RunningModel(
        pipeline=contract.REKOGNITION,
        dimension=model.version,
        name=model.version,
        baseline_key=version_report_prefix(model.project, model.version) + contract.BASELINE_FILE,
    )


def running_sagemaker(settings: Settings, sagemaker: Any) -> RunningModel:
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "Could not find endpoint" in message:
            raise NothingRunning(f"endpoint {settings.endpoint_name} does not exist") from error
        raise
    job = str(endpoint["EndpointConfigName"])
    return RunningModel(
        pipeline=contract.SAGEMAKER,
        dimension=settings.endpoint_name,
        name=job,
        baseline_key=sagemaker_report_prefix(job) + contract.BASELINE_FILE,
        since=endpoint.get("LastModifiedTime"),
    )


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A JSON object stored in S3, or None when there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in _MISSING:
            return None
        raise
    document = json.loads(body)
    return document if isinstance(document, dict) else None


def load_baseline(
    s3: Any, settings: Settings, model: RunningModel, *, store_built: bool
) -> dict[str, Any] | None:
    """The model's baseline; a missing SageMaker one is built (and stored if ``store_built``)."""
    baseline = read_json(s3, settings.artifacts_bucket, model.baseline_key)
    if baseline is None and model.pipeline == contract.SAGEMAKER:
        baseline = build_sagemaker_baseline(s3, settings.training_data, model.name)
        if not store_built:
            return baseline
        s3.put_object(
            Bucket=settings.artifacts_bucket,
            Key=model.baseline_key,
            Body=encode(baseline),
            ContentType="application/json",
        )
    return baseline


def window_of(model: RunningModel, end: datetime, length: timedelta) -> Window:
    start = end - length
    if model.since is not None and model.since > start:
        start = model.since
    return Window(pipeline=model.pipeline, model=model.dimension, start=start, end=end)


def evaluate(
    *,
    settings: Settings,
    model: RunningModel,
    s3: Any,
    cloudwatch: Any,
    end: datetime,
    store_built: bool = True,
) -> dict[str, Any]:
    """The drift report document of ``model`` over the window that ends at ``end``."""
    window = window_of(model, end, settings.window)
    baseline = load_baseline(s3, settings, model, store_built=store_built)
    uri = f"s3://{settings.artifacts_bucket}/{model.baseline_key}"
    if window.start >= window.end:
        live = LiveWindow()
    else:
        live = read_window(cloudwatch, settings.namespace, window)
    figures = compare(baseline, live, settings.thresholds) if baseline is not None else None
    document = report_document(
        environment=settings.environment,
        window=window,
        baseline_uri=uri if baseline is not None else None,
        baseline=baseline,
        live=live,
        figures=figures,
        thresholds=settings.thresholds,
        quiet_reason=None if baseline is not None else f"no baseline at {uri}",
    )
    document["running"] = model.name
    return document


def nothing_running(
    settings: Settings, pipeline: str, end: datetime, reason: str
) -> dict[str, Any]:
    """The report of a pipeline that serves no model: every figure quiet, saying why."""
    window = Window(pipeline=pipeline, model="-", start=end - settings.window, end=end)
    document = report_document(
        environment=settings.environment,
        window=window,
        baseline_uri=None,
        baseline=None,
        live=LiveWindow(),
        figures=None,
        thresholds=settings.thresholds,
        quiet_reason=reason,
    )
    document["running"] = None
    return document


def settings_from_environment(environ: Mapping[str, str]) -> Settings:
    thresholds = json.loads(environ["DRIFT_THRESHOLDS"])
    return Settings(
        environment=environ["ENVIRONMENT_NAME"],
        namespace=environ["POWERTOOLS_METRICS_NAMESPACE"],
        artifacts_bucket=environ["ARTIFACTS_BUCKET"],
        window=timedelta(hours=int(environ["WINDOW_HOURS"])),
        thresholds=Thresholds.from_mapping(thresholds),
        pinned_arn=environ.get("MODEL_VERSION_ARN") or None,
        model_parameter=environ["MODEL_VERSION_PARAMETER"],
        project_name=environ["PROJECT_NAME"],
        endpoint_name=environ["ENDPOINT_NAME"],
        training_data=TrainingData(
            bucket=environ["DATA_BUCKET"],
            prefix=environ["SAGEMAKER_DATA_PREFIX"],
            data_format=environ["SAGEMAKER_DATA_FORMAT"],
            class_names=tuple(json.loads(environ["CLASS_NAMES"])),
        ),
    )

"""Lambda entry point of the inference consumer: an SQS event source with ReportBatchItemFailures.

A batch's messages are processed concurrently (Powertools ``AsyncBatchProcessor``; the blocking
boto3 calls run on a thread pool of ``DETECT_CONCURRENCY`` workers) and DetectCustomLabels calls
are paced to this invocation's share of the model's throughput for the inference units in
service: the pace the model controller publishes in ``CAPACITY_PARAMETER`` (read at most every
:data:`PACE_MAX_AGE_SECONDS`, once per invocation at most, so the hot path is a clock read),
kept within ``INVOCATION_TPS`` (the slowest pace it can be told, for one unit: also the pace
while nothing usable is published; the function's timeout fits a full batch at it) and
``MAX_INVOCATION_TPS``. A message whose images all ended in a result or an error record is
acknowledged; a message with a transient failure is reported in ``batchItemFailures`` and comes
back after the visibility timeout, until the queue's redrive policy moves it to the dead-letter
queue.

Environment: ``DATA_BUCKET``, ``INPUT_PREFIX``, ``ARTIFACTS_BUCKET``, ``MIN_CONFIDENCE``,
``REVIEW_THRESHOLD`` (fractions), ``PROJECT_NAME``, ``MODEL_VERSION_ARN`` (optional pin),
``MODEL_VERSION_PARAMETER``, ``DETECT_CONCURRENCY``, ``INVOCATION_TPS`` (0 = unpaced, for tests
and benchmarks), ``MAX_INVOCATION_TPS`` and ``CAPACITY_PARAMETER`` (optional).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.consumer_capacity import pace_from_parameter
from contracts.drift import REKOGNITION
from contracts.metrics import (
    DETECT_LATENCY,
    DUPLICATES_SKIPPED,
    IMAGE_ERRORS,
    IMAGES_PROCESSED,
    LOW_CONFIDENCE,
    REASON_DIMENSION,
    TRANSIENT_FAILURES,
)
from rekognition_inference.processing import (
    Classifier,
    MessageReport,
    RatePacer,
    Settings,
)
from rekognition_inference.storage import TransientError
from shared.drift_signals import DriftTallies
from shared.model_version import ModelNotConfiguredError, ModelVersion, resolve_model_version
from shared.ssm_parameters import read_optional_parameter

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

#: No DetectCustomLabels call starts later than this before the function timeout: a call's
#: worst case is two attempts of ``_DETECT_READ_TIMEOUT`` seconds.
DEADLINE_MARGIN_SECONDS = 25
#: How long the SSM parameter naming the model version is cached.
PARAMETER_MAX_AGE_SECONDS = 60
#: How long a published pace is used before it is read again: less than the controller's
#: one-minute interval, so a change it makes in two steps is seen between them.
PACE_MAX_AGE_SECONDS = 30
_DETECT_READ_TIMEOUT = 10
#: EMF accepts at most 100 values per metric and record.
_MAX_LATENCY_VALUES = 100


class PaceSource:
    """The per-invocation pace the model controller publishes, read at most every ``max_age``.

    Until a usable value is read (and when the value is unusable) the pace is ``floor``; a value
    outside ``floor..ceiling`` is brought within it. A failed read keeps the last pace and is
    not retried before ``max_age``, so a throttled SSM is not asked again on every invocation.
    """

    def __init__(
        self,
        read: Callable[[], str | None],
        floor: float,
        ceiling: float | None,
        max_age: float = PACE_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._floor = floor
        self._ceiling = ceiling
        self._max_age = max_age
        self._clock = clock
        self._pace = floor
        self._applied = floor
        self._next_read = float("-inf")

    def apply(self, pacer: RatePacer) -> None:
        """Give ``pacer`` the current pace (a clock read, unless it is time to read again)."""
        pace = self.current()
        if pace != self._applied:
            pacer.set_rate(pace or None)
            self._applied = pace

    def current(self) -> float:
        now = self._clock()
        if now < self._next_read:
            return self._pace
        self._next_read = now + self._max_age
        try:
            value = self._read()
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "Cannot read the published pace: keeping the last one",
                extra={"pace": self._pace, "error": str(error)},
            )
            return self._pace
        pace = pace_from_parameter(value)
        if pace is None:
            if value is not None:
                logger.warning("Unusable published pace: using the slowest", extra={"value": value})
            pace = self._floor
        pace = max(self._floor, pace if self._ceiling is None else min(self._ceiling, pace))
        if pace != self._pace:
            logger.info("Pace changed", extra={"from": self._pace, "to": pace})
        self._pace = pace
        return pace


@dataclass(frozen=True)
class Runtime:
    """Clients and settings, built once per execution environment (lazily, for tests)."""

    classifier: Classifier
    executor: ThreadPoolExecutor
    project_name: str
    pinned_arn: str | None
    parameter_name: str
    #: None: no published pace (the environment's INVOCATION_TPS applies).
    pace: PaceSource | None = None


@functools.cache
def runtime() -> Runtime:
    environ = os.environ
    workers = int(environ.get("DETECT_CONCURRENCY", "10"))
    pool = max(10, workers + 2)
    # Parameter validation stays on: it costs ~0.03 ms of a boto3 call's ~3.5 ms of CPU here
    # (measured with benchmarks/inference_throughput.py: no difference in throughput).
    s3 = boto3.client(
        "s3",
        config=Config(
            max_pool_connections=pool,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=10,
        ),
    )
    rekognition = boto3.client(
        "rekognition",
        config=Config(
            max_pool_connections=pool,
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=5,
            read_timeout=_DETECT_READ_TIMEOUT,
        ),
    )
    rate = float(environ.get("INVOCATION_TPS", "0"))
    ceiling = float(environ.get("MAX_INVOCATION_TPS") or 0) or None
    capacity_parameter = environ.get("CAPACITY_PARAMETER", "")
    pace = None
    if capacity_parameter:
        ssm = boto3.client(
            "ssm",
            config=Config(
                retries={"mode": "standard", "max_attempts": 2},
                connect_timeout=2,
                read_timeout=2,
            ),
        )
        pace = PaceSource(lambda: read_pace(ssm, capacity_parameter), max(rate, 0.0), ceiling)
    return Runtime(
        classifier=Classifier(
            s3=s3,
            rekognition=rekognition,
            settings=Settings.from_environment(environ),
            pacer=RatePacer(rate if rate > 0 else None),
        ),
        executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classify"),
        project_name=environ["PROJECT_NAME"],
        pinned_arn=environ.get("MODEL_VERSION_ARN") or None,
        parameter_name=environ["MODEL_VERSION_PARAMETER"],
        pace=pace,
    )


def read_pace(ssm: Any, name: str) -> str | None:
    """The controller's published capacity, or None while it has published none."""
    return read_optional_parameter(ssm, name)


def read_parameter(name: str) -> str | None:
    """The parameter's value (cached), or None when it does not exist."""
    try:
        value = parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        if "ParameterNotFound" in str(error):
            return None
        raise
    return str(value)


@dataclass
class Tally:
    """What one invocation did, published as metrics when it ends."""

    processed: int = 0
    duplicates: int = 0
    low_confidence: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    transient: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    drift: DriftTallies = field(default_factory=lambda: DriftTallies(REKOGNITION))

    def add(self, report: MessageReport) -> None:
        for outcome in report.outcomes:
            if outcome.kind == "result":
                self.processed += 1
                if outcome.drift is not None:
                    self.drift.observe(outcome.drift)
                self.low_confidence += outcome.needs_review
                if outcome.latency_ms is not None:
                    self.latencies_ms.append(outcome.latency_ms)
            elif outcome.kind == "duplicate":
                self.duplicates += 1
            else:
                self.errors[outcome.reason or "unknown"] += 1
                logger.warning(
                    "Input recorded as an error",
                    extra={"reason": outcome.reason, "record_key": outcome.record_key},
                )
        for error in report.transient:
            self.transient[error.reason] += 1
            logger.warning(
                "Transient failure: the message returns to the queue",
                extra={"reason": error.reason, "detail": error.detail},
            )

    def publish(self) -> None:
        metrics.add_metric(name=IMAGES_PROCESSED, unit=MetricUnit.Count, value=self.processed)
        metrics.add_metric(name=LOW_CONFIDENCE, unit=MetricUnit.Count, value=self.low_confidence)
        metrics.add_metric(name=DUPLICATES_SKIPPED, unit=MetricUnit.Count, value=self.duplicates)
        for latency in self.latencies_ms[:_MAX_LATENCY_VALUES]:
            metrics.add_metric(name=DETECT_LATENCY, unit=MetricUnit.Milliseconds, value=latency)
        for name, counts in ((IMAGE_ERRORS, self.errors), (TRANSIENT_FAILURES, self.transient)):
            for reason, count in sorted(counts.items()):
                with single_metric(
                    name=name, unit=MetricUnit.Count, value=count, namespace=metrics.namespace
                ) as metric:
                    metric.add_dimension(name=REASON_DIMENSION, value=reason)
        self.drift.publish(metrics.namespace)


def model_getter(state: Runtime) -> Callable[[], ModelVersion]:
    """Resolve the model version once per invocation; the classifier calls the getter."""
    try:
        model: ModelVersion | Exception = resolve_model_version(
            pinned_arn=state.pinned_arn,
            parameter_name=state.parameter_name,
            project_name=state.project_name,
            read_parameter=read_parameter,
        )
    except ModelNotConfiguredError as error:
        logger.error("Model not configured: images wait in the queue", extra={"detail": str(error)})
        model = error
    except Exception as error:  # SSM throttled or unavailable: retry the messages later
        logger.exception("Cannot read the model version parameter")
        model = TransientError("parameter_unavailable", str(error))

    def get_model() -> ModelVersion:
        if isinstance(model, Exception):
            raise model
        return model

    return get_model


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = runtime()
    if state.pace is not None:
        state.pace.apply(state.classifier.pacer)
    get_model = model_getter(state)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline -= DEADLINE_MARGIN_SECONDS
    tally = Tally()

    async def record_handler(record: SQSRecord) -> str:
        work = functools.partial(
            state.classifier.handle_message,
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            sent_at_ms=int(record.attributes.sent_timestamp or 0) or None,
            get_model=get_model,
            deadline=deadline,
        )
        report = await asyncio.get_running_loop().run_in_executor(state.executor, work)
        tally.add(report)
        if report.transient:
            raise report.transient[0]
        return "done"

    response = async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    tally.publish()
    return dict(response)

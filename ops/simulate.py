"""Operator command: a bounded stream of real work, to check dashboards, alarms and scaling.

    ops simulate --env dev --pipeline rekognition|sagemaker --images DIR|s3://bucket/prefix
                 [--rate 2/s] [--duration 10m] [--burst N] [--max-images N]
                 [--timeout MINUTES] [--allow-production]

Sends images at a steady rate (``--burst 1``) or in bursts of N at the same average rate, for
``--duration``, cycling through the given images: Rekognition by putting each image under the
input prefix of the data bucket (the S3 event starts the pipeline), SageMaker by uploading it and
starting the single-image workflow. It then waits (at most ``--timeout``) for every result, shows
progress all along, and ends with a summary: sent, classified, low confidence, failed (error
records, failed runs, no result in time), and the latency from upload to result (p50, p95, max).

Bounded: at most :data:`MAX_DURATION_SECONDS`, :data:`MAX_RATE` images a second and
:data:`MAX_IMAGES` images, and it stops by itself. It refuses a production environment unless
``--allow-production``: the traffic is real, so are its costs and its alarms.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from contracts.outputs import LOW_CONFIDENCE_ERROR
from ops import model as model_ops
from ops.common import (  # puts lambda_src on sys.path
    EXIT_FAILING,
    EXIT_OK,
    UsageError,
    aws_client,
    aws_failure,
    count_between,
    environment,
    minutes,
    progress_bar,
    stack_outputs,
)
from stacks.config import EnvironmentConfig

# isort: split
from rekognition_inference import images, locations

MAX_RATE = 50.0
MAX_DURATION_SECONDS = 2 * 3600
MAX_IMAGES = 10_000
POLL_SECONDS = 5.0
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")
_PER_SECOND = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600}
_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, None: 1}


def rate(text: str) -> float:
    """``2/s``, ``30/min``, ``100/h`` -> images per second (argparse type)."""
    match = _RATE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected N/s, N/min or N/h (e.g. 2/s), got {text!r}")
    value = float(match[1]) / _PER_SECOND[match[2]]
    if not 0 < value <= MAX_RATE:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_RATE:g} images a second, got {text}"
        )
    return value


def duration(text: str) -> float:
    """``90s``, ``10m``, ``1h`` (a bare number is seconds) -> seconds (argparse type)."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m or 1h, got {text!r}")
    value = float(match[1]) * _SECONDS[match[2]]
    if not 0 < value <= MAX_DURATION_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_DURATION_SECONDS // 3600} hours, got {text}"
        )
    return value


def schedule(per_second: float, seconds: float, burst: int, limit: int) -> list[float]:
    """Send times (seconds after the start): ``burst`` images every ``burst / rate`` seconds,
    the same average rate as one every ``1 / rate``; at most ``limit`` images."""
    count = min(limit, max(1, math.floor(per_second * seconds + 1e-9)))
    gap = burst / per_second
    return [(index // burst) * gap for index in range(count)]


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Sent:
    """One image sent: where it went, when, and what became of it."""

    index: int
    name: str
    key: str
    sent_at: datetime
    execution: str | None = None
    outcome: str | None = None  # "classified", "low confidence", "failed"
    detail: str = ""
    latency: float | None = None


@dataclass
class Summary:
    sent: list[Sent] = field(default_factory=list)

    def count(self, outcome: str | None) -> int:
        return sum(item.outcome == outcome for item in self.sent)

    @property
    def latencies(self) -> list[float]:
        return [item.latency for item in self.sent if item.latency is not None]


@dataclass(frozen=True)
class Source:
    """The images to cycle through: local files, or keys of an S3 prefix."""

    files: tuple[Path, ...] = ()
    bucket: str | None = None
    keys: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [path.name for path in self.files] or [PurePosixPath(k).name for k in self.keys]


def local_images(target: str) -> Source:
    """JPEG/PNG images (by content) of a file or directory, checked before any AWS call."""
    path = Path(target)
    if not path.exists():
        raise UsageError(f"--images {target}: no such file or directory")
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    files = []
    for candidate in candidates:
        with candidate.open("rb") as handle:
            if images.sniff_format(handle.read(images.SNIFF_BYTES)) is not None:
                files.append(candidate)
    if not files:
        raise UsageError(f"--images {target}: no JPEG or PNG images (by content)")
    return Source(files=tuple(files))


def s3_images(s3: Any, target: str) -> Source:
    bucket, _, prefix = target.removeprefix("s3://").partition("/")
    if not bucket:
        raise UsageError(f"--images {target}: expected s3://BUCKET/PREFIX")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [
            item["Key"]
            for item in page.get("Contents", [])
            if item["Key"].lower().endswith((".jpg", ".jpeg", ".png"))
        ]
        if len(keys) >= MAX_IMAGES:
            break
    if not keys:
        raise UsageError(f"--images {target}: no .jpg, .jpeg or .png objects")
    return Source(bucket=bucket, keys=tuple(keys[:MAX_IMAGES]))


class Pipeline:
    """How one pipeline takes an image and where its result appears (tests replace the AWS)."""

    def __init__(self, s3: Any, data_bucket: str, folder: str, source: Source) -> None:
        self.s3, self.data_bucket, self.folder, self.source = s3, data_bucket, folder, source
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def put(self, index: int) -> tuple[str, str]:
        """Put the ``index``-th image (cycling) under ``folder``; its name and key."""
        position = index % len(self.source.names)
        name = self.source.names[position]
        key = f"{self.folder}{index:05d}-{name}"
        if self.source.files:
            self.s3.upload_file(str(self.source.files[position]), self.data_bucket, key)
        else:
            self.s3.copy_object(
                Bucket=self.data_bucket,
                Key=key,
                CopySource={"Bucket": self.source.bucket, "Key": self.source.keys[position]},
            )
        return name, key

    def send(self, index: int) -> Sent:
        name, key = self.put(index)
        # S3 times have one-second resolution: count from the second the upload ended in.
        return Sent(index=index, name=name, key=key, sent_at=self.now().replace(microsecond=0))

    def collect(self, pending: Sequence[Sent]) -> None:
        """Fill in the outcome of the ``pending`` items whose result is there."""
        raise NotImplementedError


class RekognitionPipeline(Pipeline):
    """The S3 event is the start; the result or error record in the artifacts bucket the end."""

    def __init__(
        self,
        s3: Any,
        data_bucket: str,
        artifacts: str,
        folder: str,
        source: Source,
        project: str,
        version: str,
    ) -> None:
        super().__init__(s3, data_bucket, folder, source)
        self.artifacts, self.project, self.version = artifacts, project, version

    def collect(self, pending: Sequence[Sent]) -> None:
        expected: dict[str, tuple[Sent, str]] = {}
        for item in pending:
            expected[locations.result_key(item.key, self.project, self.version)] = (item, "result")
            expected[locations.image_error_key(item.key)] = (item, "error")
        prefixes = {str(PurePosixPath(record).parent) + "/" for record in expected}
        for prefix in sorted(prefixes):
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.artifacts, Prefix=prefix
            )
            for page in pages:
                for listed in page.get("Contents", []):
                    found = expected.get(listed["Key"])
                    if found is None or found[0].outcome is not None:
                        continue
                    item, kind = found
                    item.latency = (listed["LastModified"] - item.sent_at).total_seconds()
                    if kind == "error":
                        item.outcome, item.detail = "failed", "error record"
                        continue
                    record = json.loads(
                        self.s3.get_object(Bucket=self.artifacts, Key=listed["Key"])["Body"].read()
                    )
                    item.outcome = "low confidence" if record.get("needs_review") else "classified"


class SageMakerPipeline(Pipeline):
    """An upload and a run of the single-image workflow; its end is the run's stop date."""

    def __init__(
        self,
        s3: Any,
        data_bucket: str,
        folder: str,
        source: Source,
        sfn: Any,
        machine: str,
        run: str,
    ) -> None:
        super().__init__(s3, data_bucket, folder, source)
        self.sfn, self.machine, self.run = sfn, machine, run

    def send(self, index: int) -> Sent:
        item = super().send(index)
        item.execution = str(
            self.sfn.start_execution(
                stateMachineArn=self.machine,
                name=f"{self.run}-{index:05d}",
                input=json.dumps({"s3_uri": f"s3://{self.data_bucket}/{item.key}"}),
            )["executionArn"]
        )
        return item

    def collect(self, pending: Sequence[Sent]) -> None:
        for item in pending:
            described = self.sfn.describe_execution(executionArn=item.execution)
            status = described["status"]
            if status == "RUNNING":
                continue
            stop = described.get("stopDate")
            if stop is not None:
                item.latency = (stop - item.sent_at).total_seconds()
            if status == "SUCCEEDED":
                item.outcome = "classified"
            elif described.get("error") == LOW_CONFIDENCE_ERROR:
                item.outcome = "low confidence"
            else:
                item.outcome = "failed"
                item.detail = f"{status}: {described.get('error', '')}"


@dataclass(frozen=True)
class Clock:
    """Time and sleep (the tests' seam)."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def simulate(
    pipeline: Pipeline,
    times: Sequence[float],
    *,
    timeout_seconds: float,
    progress: Callable[[Summary, int], None],
    clock: Clock,
    poll_seconds: float = POLL_SECONDS,
) -> Summary:
    """Send at ``times``, collecting results between sends, then wait for the rest (bounded)."""
    summary = Summary()
    start = clock.now()
    last_poll = start
    for offset in times:
        while clock.now() - start < offset:
            clock.sleep(min(offset - (clock.now() - start), poll_seconds))
        summary.sent.append(pipeline.send(len(summary.sent)))
        if clock.now() - last_poll >= poll_seconds:
            pipeline.collect([item for item in summary.sent if item.outcome is None])
            last_poll = clock.now()
        progress(summary, len(times))
    deadline = clock.now() + timeout_seconds
    while True:
        pending = [item for item in summary.sent if item.outcome is None]
        if pending:
            pipeline.collect(pending)
        progress(summary, len(times))
        if all(item.outcome is not None for item in summary.sent) or clock.now() >= deadline:
            break
        clock.sleep(poll_seconds)
    for item in summary.sent:
        if item.outcome is None:
            item.outcome, item.detail = "failed", "no result in time"
    return summary


def summary_table(summary: Summary, environment_name: str, pipeline: str) -> Table:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    latencies = summary.latencies
    table = Table(title=f"Simulated {pipeline} traffic in {environment_name}")
    table.add_column("Sent", justify="right")
    table.add_column("Classified", justify="right")
    table.add_column("Low confidence", justify="right")
    table.add_column("Failed", justify="right")
    for column in ("Latency p50", "p95", "max"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(summary.sent)),
        str(summary.count("classified")),
        str(summary.count("low confidence")),
        str(summary.count("failed")),
        seconds(percentile(latencies, 0.5)),
        seconds(percentile(latencies, 0.95)),
        seconds(max(latencies) if latencies else None),
    )
    return table


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "simulate",
        help="send a bounded stream of images through a pipeline and summarize the results",
        description="Sends images through a pipeline at a steady or bursty rate for a while "
        "(uploads for Rekognition, uploads and workflow runs for SageMaker), shows progress, "
        "waits for the results and ends with a summary: sent, classified, low confidence, "
        "failed, latency from upload to result (p50, p95, max). Bounded; refuses a production "
        "environment unless --allow-production.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument("--pipeline", required=True, choices=["rekognition", "sagemaker"])
    parser.add_argument(
        "--images", required=True, help="a directory or file, or s3://bucket/prefix"
    )
    parser.add_argument("--rate", type=rate, default=rate("1/s"), help="N/s, N/min or N/h (1/s)")
    parser.add_argument(
        "--duration", type=duration, default=duration("1m"), help="90s, 10m, 1h (default 1m)"
    )
    parser.add_argument(
        "--burst",
        type=count_between(1, 1000),
        default=1,
        help="send N images at once, every N/rate seconds (default 1: steady)",
    )
    parser.add_argument(
        "--max-images",
        type=count_between(1, MAX_IMAGES),
        default=MAX_IMAGES,
        help=f"stop after this many images (default and most: {MAX_IMAGES})",
    )
    parser.add_argument(
        "--timeout",
        type=minutes,
        default=15.0,
        metavar="MINUTES",
        help="how long to wait for the last results (default 15)",
    )
    parser.add_argument(
        "--allow-production", action="store_true", help="allow a production environment"
    )
    parser.set_defaults(handler=command_simulate)


def command_simulate(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    if config.production and not arguments.allow_production:
        raise UsageError(
            f"{config.name} is a production environment: simulated traffic is real traffic "
            "(costs, alarms, results); add --allow-production to send it anyway"
        )
    if arguments.burst > arguments.rate * arguments.duration:
        raise UsageError(
            f"--burst {arguments.burst} is more images than the whole run sends "
            f"({arguments.rate * arguments.duration:g}): lower it or lengthen --duration"
        )
    source = None if arguments.images.startswith("s3://") else local_images(arguments.images)
    times = schedule(arguments.rate, arguments.duration, arguments.burst, arguments.max_images)
    console = Console()
    try:
        pipeline = _pipeline(config, arguments, source)
        with progress_bar(console) as bar:
            task = bar.add_task("sending", total=len(times))

            def show(summary: Summary, total: int) -> None:
                done = sum(item.outcome is not None for item in summary.sent)
                bar.update(
                    task,
                    completed=len(summary.sent),
                    description=f"sent, {done} answered, {summary.count('failed')} failed",
                )

            summary = simulate(
                pipeline,
                times,
                timeout_seconds=arguments.timeout * 60,
                progress=show,
                clock=Clock(),
            )
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, "simulated traffic stopped") from error
    console.print(summary_table(summary, config.name, arguments.pipeline))
    return EXIT_FAILING if summary.count("failed") else EXIT_OK


def _pipeline(
    config: EnvironmentConfig, arguments: argparse.Namespace, source: Source | None
) -> Pipeline:
    s3 = aws_client("s3", config.region)
    cloudformation = aws_client("cloudformation", config.region)
    if source is None:
        source = s3_images(s3, arguments.images)
    data = stack_outputs(config, "Storage", cloudformation)["DataBucketName"]
    run = f"sim-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    if arguments.pipeline == "rekognition":
        artifacts = stack_outputs(config, "Storage", cloudformation)["ArtifactsBucketName"]
        model, _ = model_ops.model_version(config, model_ops.aws_clients(config))
        folder = f"{config.rekognition.input_prefix}simulate/{run}/"
        return RekognitionPipeline(
            s3, data, artifacts, folder, source, model.project, model.version
        )
    machine = stack_outputs(config, "SageMaker", cloudformation)["ClassifyImageStateMachineArn"]
    folder = f"{config.sagemaker.input_prefix}simulate/{run}/"
    return SageMakerPipeline(
        s3, data, folder, source, aws_client("stepfunctions", config.region), machine, run
    )

"""Operator commands for SageMaker image classification.

    ops sagemaker classify --env dev PATH_OR_S3_URI [--threshold 0.8] [--timeout MINUTES]
    ops sagemaker train --env dev [--wait] [--timeout MINUTES]

``classify`` runs the single-image workflow on one image (a local JPEG/PNG file, uploaded first,
or ``s3://<data bucket>/<input prefix>.../image.jpg``) and the batch workflow on many (a local
directory, whose JPEG/PNG files are uploaded, or an ``s3://.../prefix/`` ending in ``/``), with a
spinner or a progress bar, then prints the results as a table. ``train`` checks that every
training channel has data, starts the train -> gate -> deploy workflow and, with ``--wait``,
follows it to its outcome.
"""

from __future__ import annotations

import argparse
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.limits import SAGEMAKER_MAX_PAYLOAD_BYTES as MAX_IMAGE_BYTES
from contracts.outputs import (
    CLASSIFY_BATCH_STATE_MACHINE_ARN,
    CLASSIFY_IMAGE_STATE_MACHINE_ARN,
    DATA_BUCKET_NAME,
    LOW_CONFIDENCE_ERROR,
    TRAINING_STATE_MACHINE_ARN,
)
from ops import executions
from ops.common import (
    EXIT_FAILING,
    EXIT_OK,
    StillRunningError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    fraction,
    minutes,
    stack_outputs,
)
from shared.images import JPEG_OR_PNG, SNIFF_BYTES, describe_bytes, sniff
from stacks.config import EnvironmentConfig

CONCERN = "SageMaker"
#: Seconds between two looks at a running execution (tests make it small).
POLL_SECONDS = 2.0
TRAIN_POLL_SECONDS = 30.0


@dataclass(frozen=True)
class Target:
    """What ``classify`` runs on: one image or a batch, local or already in S3."""

    batch: bool
    files: tuple[Path, ...] = ()
    root: Path | None = None
    key: str = ""  # an S3 key (single) or prefix (batch), when not local


def _outputs(config: EnvironmentConfig, concern: str = CONCERN) -> dict[str, str]:
    return stack_outputs(config, concern, aws_client("cloudformation", config.region))


#: argparse type of ``--threshold``: a number in [0, 1].
threshold = fraction


# --------------------------------------------------------------------------------------------
# classify
# --------------------------------------------------------------------------------------------


def parse_target(target: str, *, data_bucket: str | None, input_prefix: str) -> Target:
    """Validate PATH_OR_S3_URI without calling AWS; an S3 URI needs the data bucket (None: only
    local targets are checked, an S3 URI is checked again once the bucket is known)."""
    if target.startswith("s3://"):
        if data_bucket is None:
            return Target(batch=target.endswith("/"))
        bucket, _, key = target[len("s3://") :].partition("/")
        if bucket != data_bucket or not key.startswith(input_prefix):
            raise UsageError(
                f"{target} is outside the inference inputs: use s3://{data_bucket}/{input_prefix}"
                "... (or a local file or directory, which is uploaded there)"
            )
        return Target(batch=key.endswith("/"), key=key)
    path = Path(target)
    if not path.exists():
        raise UsageError(f"{target}: no such file or directory")
    if path.is_file():
        problem = image_problem(path)
        if problem:
            raise UsageError(f"{target}: {problem}")
        return Target(batch=False, files=(path,), root=path.parent)
    files = tuple(p for p in sorted(path.rglob("*")) if p.is_file() and not image_problem(p))
    if not files:
        raise UsageError(f"{target}: no JPEG or PNG images (by content) in this directory")
    return Target(batch=True, files=files, root=path)


def image_problem(path: Path) -> str | None:
    """Why the endpoint would refuse this local file, or None."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    image_format = sniff(head)
    if image_format not in JPEG_OR_PNG:
        found = f"a {image_format.name} image" if image_format else describe_bytes(head)
        return f"not a JPEG or PNG image ({found})"
    if path.stat().st_size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB, an endpoint request's limit"
    return None


def command_classify(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    input_prefix = config.sagemaker.input_prefix
    target = parse_target(arguments.target, data_bucket=None, input_prefix=input_prefix)
    outputs = _outputs(config)
    data = _outputs(config, "Storage")[DATA_BUCKET_NAME]
    if arguments.target.startswith("s3://"):
        target = parse_target(arguments.target, data_bucket=data, input_prefix=input_prefix)
    console = Console()
    key = _upload(config, aws_client("s3", config.region), target, data, console)
    request: dict[str, Any] = {"prefix": key} if target.batch else {"s3_uri": f"s3://{data}/{key}"}
    if arguments.threshold is not None:
        request["confidence_threshold"] = arguments.threshold
    machine = outputs[
        CLASSIFY_BATCH_STATE_MACHINE_ARN if target.batch else CLASSIFY_IMAGE_STATE_MACHINE_ARN
    ]
    sfn = aws_client("stepfunctions", config.region)
    execution = _start(sfn, machine, request, "batch" if target.batch else "image")
    console.print(f"Started {execution}")
    described = _follow(sfn, execution, target.batch, arguments.timeout * 60, console)
    if target.batch:
        return _report_batch(described, console)
    return _report_image(described, console)


def _upload(config: EnvironmentConfig, s3: Any, target: Target, data: str, console: Console) -> str:
    """Local images go under ``<input prefix>ops/<time>-<random>/``; returns the key/prefix."""
    if not target.files:
        return target.key
    assert target.root is not None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = f"{config.sagemaker.input_prefix}ops/{stamp}-{secrets.token_hex(3)}/"
    with Progress(
        TextColumn("uploading"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("upload", total=len(target.files))
        for path in target.files:
            s3.upload_file(str(path), data, folder + path.relative_to(target.root).as_posix())
            progress.advance(task)
    return folder if target.batch else folder + target.files[0].name


def _start(sfn: Any, machine: str, request: dict[str, Any], kind: str) -> str:
    name = f"ops-{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    try:
        return str(
            sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(request))[
                "executionArn"
            ]
        )
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot start {machine}") from error


def _follow(
    sfn: Any, execution: str, batch: bool, timeout_seconds: float, console: Console
) -> dict[str, Any]:
    """Wait for the execution; a batch shows its Map Run's item counts as a progress bar."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("classifying", total=None)

        def show_counts(_: Any = None) -> None:
            counts = _map_run_counts(sfn, execution) if batch else {}
            if counts:
                progress.update(
                    task,
                    total=counts.get("total") or None,
                    completed=counts.get("succeeded", 0) + counts.get("failed", 0),
                    description=f"images ({counts.get('failed', 0)} failed)",
                )

        try:
            described = executions.follow(
                sfn,
                execution,
                interval_seconds=POLL_SECONDS,
                timeout_seconds=timeout_seconds,
                on_running=show_counts,
            )
        except executions.StillRunning as running:
            raise StillRunningError(
                f"{execution} is still running after {timeout_seconds / 60:g} minutes; "
                "it goes on in AWS (see the Step Functions console)"
            ) from running
        show_counts()
        return described


def _map_run_counts(sfn: Any, execution: str) -> dict[str, int]:
    try:
        runs = sfn.list_map_runs(executionArn=execution).get("mapRuns", [])
        if not runs:
            return {}
        counts: dict[str, int] = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
        return counts
    except Exception:  # progress is a nicety: it never stops the command (the result comes
        return {}  # from the execution); moto, for one, fails here while a run is starting


def _report_image(described: dict[str, Any], console: Console) -> int:
    if described["status"] == "SUCCEEDED":
        result = json.loads(described["output"])
        table = Table(title="Classified")
        for column in ("Image", "Label", "Confidence", "Threshold"):
            table.add_column(column)
        table.add_row(
            result["s3_uri"],
            result["label"],
            f"{result['confidence']:.3f}",
            f"{result['threshold']:.2f}",
        )
        console.print(table)
        console.print(_probabilities(result["probabilities"]))
        return EXIT_OK
    error, cause = described.get("error", "?"), described.get("cause", "")
    if error == LOW_CONFIDENCE_ERROR:
        console.print(f"[yellow]Needs review:[/yellow] {cause}")
    else:
        console.print(f"[red]{described['status']}: {error}[/red] {cause}")
    return EXIT_FAILING


def _probabilities(probabilities: dict[str, float]) -> Table:
    table = Table(title="Probabilities")
    table.add_column("Label")
    table.add_column("Probability", justify="right")
    for label, probability in sorted(probabilities.items(), key=lambda item: -item[1]):
        table.add_row(label, f"{probability:.3f}")
    return table


def _report_batch(described: dict[str, Any], console: Console) -> int:
    if described["status"] != "SUCCEEDED":
        console.print(
            f"[red]{described['status']}: {described.get('error', '?')}[/red] "
            f"{described.get('cause', '')}"
        )
        return EXIT_FAILING
    summary = json.loads(described["output"])
    table = Table(title=f"Batch {summary['prefix']} (threshold {summary['threshold']})")
    table.add_column("Outcome")
    table.add_column("Images", justify="right")
    for label, count in summary["labels"].items():
        table.add_row(f"classified: {label}", str(count))
    for label, count in summary["low_confidence_labels"].items():
        table.add_row(f"low confidence (review): {label}", str(count))
    table.add_row("skipped (folders)", str(summary["skipped"]))
    table.add_row("failed", f"{summary['failed']} ({summary['failure_percentage']}%)")
    table.add_row("total", str(summary["total"]))
    console.print(table)
    if summary["failures"]:
        failures = Table(title="Failures")
        for column in ("Image", "Error", "Cause"):
            failures.add_column(column)
        for failure in summary["failures"]:
            failures.add_row(str(failure["s3_uri"]), failure["error"], failure["cause"])
        console.print(failures)
    console.print(f"Summary: {summary['summary_uri']}\nResults: {summary['results_uri']}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def command_train(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    training = config.sagemaker.training
    timeout_minutes = arguments.timeout or (training.max_runtime_hours + 2) * 60
    outputs = _outputs(config)
    data = _outputs(config, "Storage")[DATA_BUCKET_NAME]
    s3 = aws_client("s3", config.region)
    empty = [
        f"s3://{data}/{training.data_prefix}{channel}/"
        for channel in training.channels
        if not s3.list_objects_v2(
            Bucket=data, Prefix=f"{training.data_prefix}{channel}/", MaxKeys=1
        ).get("KeyCount")
    ]
    if empty:
        raise UsageError(
            f"no training data in {', '.join(empty)}: upload the channels first (README, "
            "SageMaker training data)"
        )
    console = Console()
    sfn = aws_client("stepfunctions", config.region)
    execution = _start(sfn, outputs[TRAINING_STATE_MACHINE_ARN], {}, "train")
    console.print(f"Started {execution}")
    if not arguments.wait:
        console.print("Follow it with --wait, or in the Step Functions console.")
        return EXIT_OK
    with console.status("training") as spinner:
        try:
            described = executions.follow(
                sfn,
                execution,
                interval_seconds=TRAIN_POLL_SECONDS,
                timeout_seconds=timeout_minutes * 60,
                on_running=lambda _: spinner.update(f"training: {_current_state(sfn, execution)}"),
            )
        except executions.StillRunning as running:
            raise StillRunningError(
                f"{execution} is still running after {timeout_minutes:g} minutes; it goes "
                "on in AWS (see the Step Functions console)"
            ) from running
    return _report_training(described, console, config.name)


def _current_state(sfn: Any, execution: str) -> str:
    events = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=20)
    for event in events.get("events", []):
        if "stateEnteredEventDetails" in event:
            return str(event["stateEnteredEventDetails"]["name"])
    return "starting"


def _report_training(described: dict[str, Any], console: Console, environment_name: str) -> int:
    if described["status"] != "SUCCEEDED":
        console.print(
            f"[red]{described['status']}: {described.get('error', '?')}[/red] "
            f"{described.get('cause', '')}"
        )
        return EXIT_FAILING
    outcome = json.loads(described["output"])
    evaluation = outcome["evaluation"]
    table = Table(title=f"Training {outcome['outcome']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("Training job", outcome["training_job"])
    table.add_row(
        "validation:accuracy", f"{evaluation['accuracy']:.4f} (gate {evaluation['threshold']})"
    )
    table.add_row("Model artifacts", evaluation["model_artifacts"])
    if outcome["outcome"] == "DEPLOYED":
        table.add_row("Endpoint", f"{outcome['endpoint']} ({outcome['endpoint_config']})")
    package = outcome.get("model_package_arn")
    if package:  # REGISTERED: waits for approval
        table.add_row("Model package", f"{package} (PendingManualApproval)")
    if "lineage_uri" in outcome:
        table.add_row("Lineage", outcome["lineage_uri"])
    console.print(table)
    if package:
        # On its own line, whole, to copy.
        console.print(
            f"Approve it to deploy it: python -m ops approve --env {environment_name} "
            f"--package {package}",
            soft_wrap=True,
        )
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``sagemaker classify`` and ``sagemaker train`` to ``ops``."""
    group = commands.add_parser(
        "sagemaker",
        help="SageMaker image classification: classify, train",
        description="The SageMaker pipeline: classify images with the endpoint, and train, "
        "gate and deploy a model to it.",
    )
    sub = group.add_subparsers(dest="sagemaker_command", required=True, metavar="COMMAND")

    classify = sub.add_parser(
        "classify",
        help="classify an image or a batch with the endpoint",
        description="Run the single-image workflow on one image (a local JPEG/PNG, uploaded "
        "first, or an s3:// key under the inference input prefix) or the batch workflow on "
        "many (a local folder, or an s3:// prefix ending in /), then print the results.",
    )
    classify.add_argument("--env", required=True, help="environment name from cdk.json")
    classify.add_argument(
        "target",
        help="local JPEG/PNG file or directory, or s3://DATA_BUCKET/INPUT_PREFIX... "
        "(a key, or a prefix ending in / for a batch)",
    )
    classify.add_argument(
        "--threshold", type=threshold, default=None, help="confidence threshold for this run"
    )
    classify.add_argument(
        "--timeout",
        type=minutes,
        default=30.0,
        metavar="MINUTES",
        help="minutes to wait for the result (default 30)",
    )
    classify.set_defaults(handler=command_classify)

    train = sub.add_parser(
        "train",
        help="train, gate and deploy a model",
        description="Check that every training channel has data, then start the train -> "
        "evaluate -> deploy-endpoint workflow; --wait follows it to its outcome.",
    )
    train.add_argument("--env", required=True, help="environment name from cdk.json")
    train.add_argument("--wait", action="store_true", help="follow the run to its outcome")
    train.add_argument(
        "--timeout",
        type=minutes,
        default=None,
        metavar="MINUTES",
        help="minutes to wait with --wait (default: the job's max_runtime_hours + 2 hours)",
    )
    train.set_defaults(handler=command_train)

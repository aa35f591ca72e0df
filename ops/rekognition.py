"""Operator commands for Rekognition inference.

    ops model status --env dev       # version, status, backlog, event source, mode
    ops model start --env dev [--wait] [--timeout MINUTES]
    ops model stop --env dev [--wait] [--timeout MINUTES] [--version-arn ARN]
    ops classify --env dev PATH_OR_S3_PREFIX [--timeout MINUTES]

``classify`` uploads local JPEG/PNG images (a file or a directory, checked by content) or copies
the objects under an ``s3://bucket/prefix`` into the input prefix of the data bucket, waits for
their records with a progress bar, and prints the results and the error records. Images already
under the input prefix are not copied again; their records are collected.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.common import (  # puts lambda_src on sys.path
    EXIT_FAILING,
    EXIT_OK,
    EXIT_STILL_RUNNING,
    AwsEnvironmentError,
    StillRunningError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    minutes,
    seconds,
    stack_outputs,
)
from stacks.config import EnvironmentConfig

# isort: split
from contracts.limits import REKOGNITION_MAX_OBJECT_BYTES
from model_controller import operations
from rekognition_inference import images, locations
from shared.model_version import ModelNotConfiguredError, ModelVersion, resolve_model_version
from shared.rekognition_lookup import ListingTooLong

CONCERN = "RekognitionInference"
#: How often ``--wait`` and ``classify`` look again, in seconds.
POLL_SECONDS = 5.0
#: ``classify`` checks the model's status every this many polls (for the progress line).
STATUS_EVERY_POLLS = 6


@dataclass(frozen=True)
class Aws:
    """The clients the commands use (tests replace :func:`aws_clients`)."""

    s3: Any
    ssm: Any
    sqs: Any
    rekognition: Any
    lambda_: Any
    cloudformation: Any


def aws_clients(config: EnvironmentConfig) -> Aws:
    """Clients for the environment's region (or the default one, for agnostic environments)."""
    region = config.region
    return Aws(
        s3=aws_client("s3", region),
        ssm=aws_client("ssm", region),
        sqs=aws_client("sqs", region),
        rekognition=aws_client("rekognition", region),
        lambda_=aws_client("lambda", region),
        cloudformation=aws_client("cloudformation", region),
    )


def sleep(seconds: float) -> None:
    """Pause between polls (a seam for the tests)."""
    time.sleep(seconds)


# --------------------------------------------------------------------------------------------
# shared lookups
# --------------------------------------------------------------------------------------------


class NoModelVersionError(AwsEnvironmentError):
    """Nothing pinned in cdk.json and no version published by the training workflow."""


def model_version(config: EnvironmentConfig, aws: Aws) -> tuple[ModelVersion, str]:
    """The version inference uses and where it comes from, or a one-line UsageError."""

    def read(name: str) -> str | None:
        try:
            return str(aws.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise aws_failure(error, f"cannot read SSM parameter {name}") from error

    settings = config.rekognition
    try:
        model = resolve_model_version(
            pinned_arn=settings.model_version_arn,
            parameter_name=config.model_version_parameter,
            project_name=settings.project_name,
            read_parameter=read,
        )
    except ModelNotConfiguredError as error:
        raise NoModelVersionError(
            f"no model version to use: {error} (train one: ops train start --env {config.name} ...)"
        ) from error
    source = (
        "rekognition.model_version_arn (cdk.json)"
        if settings.model_version_arn
        else f"SSM {config.model_version_parameter}"
    )
    return model, source


def describe(aws: Aws, model: ModelVersion) -> Any:
    try:
        project = operations.project_arn(aws.rekognition, model.project)
        return operations.describe_model(aws.rekognition, model, project)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot describe model {model.arn}") from error
    except ListingTooLong as error:
        raise AwsEnvironmentError(f"cannot describe model {model.arn}: {error}") from error


def _outputs(config: EnvironmentConfig, aws: Aws, concern: str = CONCERN) -> dict[str, str]:
    return stack_outputs(config, concern, aws.cloudformation)


# --------------------------------------------------------------------------------------------
# model status | start | stop
# --------------------------------------------------------------------------------------------


def _aws_errors_explained(command: Callable[[argparse.Namespace], int]) -> Any:
    """AWS errors (no credentials, access denied, throttling) become one-line errors."""

    def run(arguments: argparse.Namespace) -> int:
        try:
            return command(arguments)
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, "AWS call failed") from error

    run.__doc__ = command.__doc__
    return run


@_aws_errors_explained
def command_model(arguments: argparse.Namespace) -> int:
    """Show, start or stop the environment's model version."""
    config = environment(arguments.env)
    aws = aws_clients(config)
    action: Callable[[EnvironmentConfig, Aws, argparse.Namespace, Console], int] = (
        arguments.action_function
    )
    return action(config, aws, arguments, Console())


def _status(
    config: EnvironmentConfig, aws: Aws, arguments: argparse.Namespace, console: Console
) -> int:
    settings = config.rekognition
    outputs = _outputs(config, aws)
    table = Table(title=f"Rekognition inference ({config.name})", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("Project", settings.project_name)
    try:
        model, source = model_version(config, aws)
    except NoModelVersionError as error:
        table.add_row("Model version", f"[red]{error}[/red]")
    else:
        description = describe(aws, model)
        units = (
            f"{description.min_inference_units}..{description.max_inference_units} running, "
            if description.min_inference_units
            else ""
        )
        table.add_row("Model version", f"{model.arn}\n(from {source})")
        table.add_row("Status", f"{description.status or 'NOT FOUND'}: {description.message}")
        table.add_row(
            "Inference units",
            f"{units}configured {settings.min_inference_units}..{settings.max_inference_units}"
            f" (about ${4 * settings.min_inference_units:g}+/hour while running)",
        )
    control = settings.model_control
    mode = control.mode
    if control.schedule is not None:
        window = control.schedule
        mode += f" {window.start_hour_utc:02d}:00-{window.end_hour_utc:02d}:00 UTC"
    table.add_row("Control", f"{mode}; stops after {control.idle_minutes} idle minutes")
    waiting = operations.waiting_messages(aws.sqs, outputs["WorkQueueUrl"])
    table.add_row(
        "Queue",
        f"{waiting['ApproximateNumberOfMessages']} waiting, "
        f"{waiting['ApproximateNumberOfMessagesNotVisible']} in flight, "
        f"{waiting['ApproximateNumberOfMessagesDelayed']} delayed",
    )
    dead = operations.waiting_messages(aws.sqs, outputs["DeadLetterQueueUrl"])
    table.add_row("Dead-letter queue", f"{dead['ApproximateNumberOfMessages']} messages")
    table.add_row(
        "Event source",
        operations.event_source_state(aws.lambda_, outputs["EventSourceMappingId"]),
    )
    console.print(table)
    return 0


def _start(
    config: EnvironmentConfig, aws: Aws, arguments: argparse.Namespace, console: Console
) -> int:
    settings = config.rekognition
    model, _ = model_version(config, aws)
    outcome = operations.start_model(
        aws.rekognition, model, settings.min_inference_units, settings.max_inference_units
    )
    console.print(f"Start requested for {model.arn}: {outcome}")
    if settings.model_control.mode != "off":
        console.print(
            f"[yellow]Mode {settings.model_control.mode}: the controller stops it again after "
            f"{settings.model_control.idle_minutes} minutes without work.[/yellow]"
        )
    return _wait_for(aws, model, {"RUNNING"}, arguments, console) if arguments.wait else 0


def _stop(
    config: EnvironmentConfig, aws: Aws, arguments: argparse.Namespace, console: Console
) -> int:
    other = _other_version(config, aws, getattr(arguments, "version_arn", None))
    if other is not None:
        # Not what inference uses: its event source stays as it is.
        outcome = operations.stop_model(aws.rekognition, other)
        console.print(f"Stop requested for {other.arn} (not the version inference uses): {outcome}")
        return _wait_for(aws, other, {"STOPPED"}, arguments, console) if arguments.wait else 0
    model, _ = model_version(config, aws)
    outputs = _outputs(config, aws)
    # Like the controller: no more receives first, so waiting images are not failed.
    operations.set_event_source(aws.lambda_, outputs["EventSourceMappingId"], enabled=False)
    outcome = operations.stop_model(aws.rekognition, model)
    console.print(f"Stop requested for {model.arn}: {outcome}")
    if config.rekognition.model_control.mode == "on_demand":
        console.print(
            "[yellow]Mode on_demand: the controller starts it again when images are "
            "waiting.[/yellow]"
        )
    return _wait_for(aws, model, {"STOPPED"}, arguments, console) if arguments.wait else 0


def _other_version(
    config: EnvironmentConfig, aws: Aws, version_arn: str | None
) -> ModelVersion | None:
    """``--version-arn``, when it names a version of the project other than the published one."""
    if not version_arn:
        return None
    version = ModelVersion.parse(version_arn)
    if version is None:
        raise UsageError(f"--version-arn: not a Custom Labels model version ARN: {version_arn!r}")
    project = config.rekognition.project_name
    if version.project != project:
        raise UsageError(
            f"--version-arn: belongs to project {version.project!r}, not {project!r} "
            "(rekognition.project_name)"
        )
    try:
        published, _ = model_version(config, aws)
    except UsageError:
        return version  # nothing published: it cannot be the one inference uses
    return None if published.arn == version.arn else version


def _wait_for(
    aws: Aws,
    model: ModelVersion,
    targets: set[str],
    arguments: argparse.Namespace,
    console: Console,
) -> int:
    deadline = time.monotonic() + arguments.timeout * 60
    with console.status("waiting") as spinner:
        while True:
            status = describe(aws, model).status
            spinner.update(f"{model.version}: {status}")
            if status in targets:
                console.print(f"{model.version} is {status}")
                return EXIT_OK
            if status in {"FAILED", None}:
                console.print(f"[red]{model.version} is {status}[/red]")
                return EXIT_FAILING
            if time.monotonic() > deadline:
                raise StillRunningError(
                    f"{model.version} is still {status} after {arguments.timeout:g} minutes; "
                    f"it goes on in AWS (ops model status --env {arguments.env})"
                )
            sleep(POLL_SECONDS)


# --------------------------------------------------------------------------------------------
# classify
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What to classify: local files, or objects under an S3 prefix."""

    files: tuple[Path, ...] = ()
    root: Path | None = None
    bucket: str | None = None
    prefix: str = ""


def parse_target(target: str) -> Source:
    """Validate the PATH_OR_S3_PREFIX argument without touching AWS."""
    if target.startswith("s3://"):
        bucket, _, prefix = target[len("s3://") :].partition("/")
        if not bucket:
            raise UsageError(f"{target}: expected s3://BUCKET/PREFIX")
        return Source(bucket=bucket, prefix=prefix)
    path = Path(target)
    if not path.exists():
        raise UsageError(f"{target}: no such file or directory")
    if path.is_file():
        problem = _image_problem(path)
        if problem:
            raise UsageError(f"{target}: {problem}")
        return Source(files=(path,), root=path.parent)
    files = tuple(p for p in sorted(path.rglob("*")) if p.is_file() and not _image_problem(p))
    if not files:
        raise UsageError(f"{target}: no JPEG or PNG images (by content) in this directory")
    return Source(files=files, root=path)


def _image_problem(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(images.SNIFF_BYTES)
    if images.sniff_format(head) is None:
        return f"not a JPEG or PNG image ({images.describe(head)})"
    if path.stat().st_size > REKOGNITION_MAX_OBJECT_BYTES:
        return "larger than 15 MB, the most DetectCustomLabels reads from S3"
    return None


@_aws_errors_explained
def command_classify(arguments: argparse.Namespace) -> int:
    """Classify local images or an S3 prefix and print the records."""
    config = environment(arguments.env)
    source = parse_target(arguments.target)
    aws = aws_clients(config)
    _outputs(config, aws)  # inference is deployed
    storage = _outputs(config, aws, "Storage")
    data, artifacts = storage["DataBucketName"], storage["ArtifactsBucketName"]
    model, _ = model_version(config, aws)
    console = Console()
    keys = _submit(config, aws, source, data, console)
    records = _wait_for_records(aws, model, artifacts, keys, arguments, console)
    return _report(keys, records, console)


def _submit(
    config: EnvironmentConfig, aws: Aws, source: Source, data: str, console: Console
) -> dict[str, str]:
    """Put the images where the pipeline picks them up: input key -> name shown to the user."""
    input_prefix = config.rekognition.input_prefix
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = f"{input_prefix}classify/{stamp}-{secrets.token_hex(3)}/"
    keys: dict[str, str] = {}
    if source.bucket is None:
        assert source.root is not None
        for path in source.files:
            name = path.relative_to(source.root).as_posix()
            keys[f"{run}{name}"] = name
        _transfer(
            "uploading",
            list(zip(keys, source.files, strict=True)),
            lambda key, path: aws.s3.upload_file(str(path), data, key),
            console,
        )
        return keys
    objects = list(_list_keys(aws.s3, source.bucket, source.prefix))
    if not objects:
        raise UsageError(f"s3://{source.bucket}/{source.prefix}: no objects")
    if source.bucket == data and source.prefix.startswith(input_prefix):
        console.print("Already in the input prefix: collecting their records.")
        return {key: key for key in objects}
    base = (
        source.prefix
        if source.prefix.endswith("/") or not source.prefix
        else (source.prefix.rsplit("/", 1)[0] + "/" if "/" in source.prefix else "")
    )
    pairs = []
    for key in objects:
        name = key[len(base) :]
        keys[f"{run}{name}"] = name
        pairs.append((f"{run}{name}", key))
    _transfer(
        "copying",
        pairs,
        lambda target, key: aws.s3.copy_object(
            Bucket=data, Key=target, CopySource={"Bucket": source.bucket, "Key": key}
        ),
        console,
    )
    return keys


def _transfer(
    label: str,
    pairs: Sequence[tuple[str, Any]],
    transfer: Callable[[str, Any], Any],
    console: Console,
) -> None:
    with _progress(console) as progress:
        task = progress.add_task(label, total=len(pairs))
        for key, item in pairs:
            try:
                transfer(key, item)
            except (ClientError, BotoCoreError) as error:
                raise aws_failure(error, f"{label} {item} failed") from error
            progress.advance(task)


def _list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield str(item["Key"])
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise UsageError(f"s3://{bucket}/{prefix}: no such bucket") from error
        raise aws_failure(error, f"cannot list s3://{bucket}/{prefix}") from error


def _wait_for_records(
    aws: Aws,
    model: ModelVersion,
    artifacts: str,
    keys: dict[str, str],
    arguments: argparse.Namespace,
    console: Console,
) -> dict[str, dict[str, Any]]:
    """Poll until every input has a result or an error record (or the timeout)."""
    expected = {}
    for key in keys:
        expected[locations.result_key(key, model.project, model.version)] = (key, "result")
        expected[locations.image_error_key(key)] = (key, "error")
    listing_prefixes = {_parent(record_key) for record_key in expected}
    records: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + arguments.timeout * 60
    status = "?"
    with _progress(console) as progress:
        task = progress.add_task("classifying", total=len(keys))
        for poll in range(1_000_000):
            found = {k for p in listing_prefixes for k in _list_keys(aws.s3, artifacts, p)}
            for record_key in sorted(found & set(expected)):
                key, kind = expected[record_key]
                if key not in records or kind == "result":
                    document = _read_json(aws.s3, artifacts, record_key)
                    records[key] = {"kind": kind, **document}
            progress.update(task, completed=len(records), description=f"classifying ({status})")
            if len(records) == len(keys) or time.monotonic() > deadline:
                break
            if poll % STATUS_EVERY_POLLS == 0:
                status = describe(aws, model).status or "NOT FOUND"
                progress.update(task, description=f"classifying (model {status})")
            sleep(arguments.poll)
    return records


def _parent(key: str) -> str:
    return str(PurePosixPath(key).parent) + "/"


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def _report(keys: dict[str, str], records: dict[str, dict[str, Any]], console: Console) -> int:
    results = Table(title="Results")
    for column in ("Image", "Top label", "Confidence", "Review", "Other labels"):
        results.add_column(column)
    errors = Table(title="Error records")
    for column in ("Image", "Reason", "Detail"):
        errors.add_column(column)
    review = 0
    for key, name in sorted(keys.items(), key=lambda item: item[1]):
        record = records.get(key)
        if record is None:
            continue
        if record["kind"] == "result":
            review += bool(record["needs_review"])
            others = ", ".join(f"{x['name']} {x['confidence']:.0%}" for x in record["labels"][1:4])
            results.add_row(
                name,
                record["top_label"] or "-",
                f"{record['top_confidence']:.1%}",
                "yes" if record["needs_review"] else "",
                others,
            )
        else:
            errors.add_row(name, record["reason"], record["detail"])
    if results.row_count:
        console.print(results)
    if errors.row_count:
        console.print(errors)
    pending = sorted(name for key, name in keys.items() if key not in records)
    console.print(
        f"{results.row_count} classified ({review} for review), {errors.row_count} error "
        f"records, {len(pending)} still pending"
    )
    for name in pending[:20]:
        console.print(f"  pending: {name}")
    if errors.row_count:
        return EXIT_FAILING
    if pending:
        console.print(
            "[yellow]--timeout reached: the pending images are still queued; their records "
            "appear later (run the same command on their input prefix to collect them)[/yellow]"
        )
        return EXIT_STILL_RUNNING
    return EXIT_OK


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``model status|start|stop`` and ``classify`` to the ``ops`` subparsers."""
    model = commands.add_parser(
        "model",
        help="Rekognition model: status, or start/stop it by hand",
        description="The Rekognition Custom Labels model version inference uses (pinned in "
        "cdk.json or published by the training workflow in SSM). A running model bills about "
        "$4 per inference-unit hour.",
    )
    actions = model.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status",
        help="version, status, inference units, control mode, queue backlog, event source",
        description="Show the model version inference uses and where it comes from, its "
        "status and inference units, the controller's mode, the work queue and dead-letter "
        "queue depths and the consumer's event source. Changes nothing.",
    )
    start = actions.add_parser(
        "start",
        help="start the model with the configured inference units",
        description="StartProjectVersion with rekognition.min/max_inference_units. In "
        "on_demand and scheduled modes the controller stops it again once idle.",
    )
    stop = actions.add_parser(
        "stop",
        help="stop the model (the event source is disabled first)",
        description="Disable the consumer's event source (images wait in the queue), then "
        "StopProjectVersion. In on_demand mode the controller starts it again when images wait.",
    )
    stop.add_argument(
        "--version-arn",
        help="this version of the project instead of the one inference uses (e.g. a "
        "previous version a deployment could not stop); the event source is left alone",
    )
    for parser, target, handler in ((start, "RUNNING", _start), (stop, "STOPPED", _stop)):
        parser.add_argument("--wait", action="store_true", help=f"wait until {target}")
        parser.add_argument(
            "--timeout",
            type=minutes,
            default=45.0,
            metavar="MINUTES",
            help="minutes --wait waits (default 45)",
        )
        parser.set_defaults(action_function=handler)
    status.set_defaults(action_function=_status)
    for parser in (status, start, stop):
        parser.add_argument("--env", required=True, help="environment name from cdk.json")
        parser.set_defaults(handler=command_model)

    classify = commands.add_parser(
        "classify",
        help="classify local images or an S3 prefix and print the results",
        description="Upload local JPEG/PNG images (a file or a folder, checked by content) or "
        "copy the objects of an s3://bucket/prefix into the inference input prefix, wait for "
        "their records with a progress bar, then print the results and the error records.",
    )
    classify.add_argument("target", metavar="PATH_OR_S3_PREFIX")
    classify.add_argument("--env", required=True, help="environment name from cdk.json")
    classify.add_argument(
        "--timeout",
        type=minutes,
        default=30.0,
        metavar="MINUTES",
        help="minutes to wait for the records (default 30; a stopped model takes ~10 to start)",
    )
    classify.add_argument(
        "--poll",
        type=seconds,
        default=POLL_SECONDS,
        metavar="SECONDS",
        help="seconds between checks (default 5)",
    )
    classify.set_defaults(handler=command_classify)

"""``ops classify``: images through the deployed Rekognition inference, and their records.

    ops classify --env dev PATH_OR_S3_PREFIX [--timeout MINUTES]

Uploads local JPEG/PNG images (a file or a directory, checked by content) or copies the objects
under an ``s3://bucket/prefix`` into the input prefix of the data bucket, waits for their records
with a progress bar, and prints the results and the error records. Images already under the
input prefix are not copied again; their records are collected.
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
from rich.table import Table

from contracts.limits import REKOGNITION_MAX_OBJECT_BYTES
from contracts.outputs import ARTIFACTS_BUCKET_NAME, DATA_BUCKET_NAME
from ops import executions
from ops.common import (
    EXIT_FAILING,
    EXIT_OK,
    EXIT_STILL_RUNNING,
    UsageError,
    aws_failure,
    environment,
    error_code,
    minutes,
    progress_bar,
    seconds,
)
from ops.model import (
    POLL_SECONDS,
    Aws,
    aws_clients,
    aws_errors_explained,
    describe,
    inference_outputs,
    model_version,
)
from rekognition_inference import images, locations
from shared.model_version import ModelVersion
from stacks.config import EnvironmentConfig

#: ``classify`` checks the model's status every this many polls (for the progress line).
STATUS_EVERY_POLLS = 6


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


@aws_errors_explained
def command_classify(arguments: argparse.Namespace) -> int:
    """Classify local images or an S3 prefix and print the records."""
    config = environment(arguments.env)
    source = parse_target(arguments.target)
    aws = aws_clients(config)
    inference_outputs(config, aws)  # inference is deployed
    storage = inference_outputs(config, aws, "Storage")
    data, artifacts = storage[DATA_BUCKET_NAME], storage[ARTIFACTS_BUCKET_NAME]
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
    with progress_bar(console) as progress:
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
    with progress_bar(console) as progress:
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
            executions.sleep(arguments.poll)
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


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``classify`` to the ``ops`` subparsers."""
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

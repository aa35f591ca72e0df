"""``ops manifest``: a Ground Truth image-classification manifest from a folder per label.

    ops manifest --env dev ./photos [--test-fraction 0.2] [--seed 7] [--name flowers]
    ops manifest --env dev s3://DATA_BUCKET/datasets/flowers/ [--test-fraction 0.2]
    ops manifest --env dev ./photos --check

The source holds one folder per label (``photos/rose/a.jpg``, ``photos/tulip/b.png``; nested
folders inside a label folder belong to it). Every image is checked with the inference checks
(``rekognition_inference.images.problem``: JPEG or PNG by content, at most 15 MB, 64 to 4096
pixels per side, the limits of Custom Labels training too); a local folder is read from disk, an
S3 prefix by one ranged GetObject of each object's first bytes. A local folder is uploaded to
``s3://<data bucket>/datasets/<name>/<label>/...``; the manifest lines (Ground Truth output
format, single-label image classification, one line per image) go to
``s3://<data bucket>/manifests/<name>/train.manifest`` and, with ``--test-fraction``, a
stratified, seeded split to ``test.manifest``. The command then prints the ``train start`` to
run. ``--check`` only checks a local folder and prints what it would do, without AWS.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.outputs import DATA_BUCKET_NAME
from ops.common import (
    EXIT_OK,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    fraction,
    stack_outputs,
)
from rekognition_inference import images
from shared.evaluation.manifest import EVALUATION_PREFIX
from shared.evaluation.metrics import NO_LABEL
from shared.images import JPEG, dimensions, sniff
from stacks.config import EnvironmentConfig

#: Where uploaded images and written manifests go in the data bucket (``<name>`` filled in).
IMAGES_PREFIX = "datasets/{name}/"
MANIFESTS_PREFIX = "manifests/{name}/"
DEFAULT_ATTRIBUTE = "label"
#: Concurrent ranged reads and uploads (boto3 clients are thread-safe).
WORKERS = 8
#: Keys per ListObjectsV2 page (its maximum; tests make it small to see the paging).
LIST_PAGE_SIZE = 1000
#: At most this many rejected images are listed by name (all are counted).
LISTED_PROBLEMS = 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ATTRIBUTE = re.compile(r"[a-z0-9][a-z0-9-]{0,126}")
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


def make_console() -> Console:
    """The console the command prints to (a seam for the tests)."""
    return Console()


def now() -> datetime:
    """The manifests' creation-date (a seam for the tests)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Image:
    """One image of the dataset: its label, its name inside the label folder, where it is."""

    label: str
    name: str
    size: int
    content_type: str
    path: Path | None = None  # a local file, uploaded to ``key``
    key: str = ""  # its S3 key (where it is, or will be once uploaded)


@dataclass(frozen=True)
class Rejected:
    """A file that cannot be in the dataset, and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Scan:
    """What a source holds: acceptable images and rejected files."""

    images: tuple[Image, ...]
    rejected: tuple[Rejected, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Label names in class-index order (sorted, so a rerun gives the same indexes)."""
        return tuple(sorted({image.label for image in self.images}))


# --------------------------------------------------------------------------------------------
# reading a source
# --------------------------------------------------------------------------------------------


def label_problem(label: str) -> str | None:
    """Why a folder name cannot be a label, or None."""
    if label != label.strip() or not label:
        return "a label name neither starts nor ends with spaces"
    if len(label) > 256:
        return "a label name has at most 256 characters"
    if label == NO_LABEL:
        return f"{NO_LABEL!r} is reserved by the evaluation report"
    return None


def check_image(head: bytes, size: int) -> tuple[str | None, str]:
    """(problem or None, content type) of an image from its first bytes and size."""
    reason = images.problem(head, size)
    found = sniff(head)
    return reason, _CONTENT_TYPES.get(found.name if found else "", "application/octet-stream")


def _needs_longer_head(head: bytes, size: int) -> bool:
    return (
        sniff(head) == JPEG
        and dimensions(head) is None
        and size > len(head)
        and len(head) < images.LONG_HEADER_BYTES
    )


def _read_local(path: Path) -> tuple[bytes, int]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(images.HEADER_BYTES)
        if _needs_longer_head(head, size):
            head += handle.read(images.LONG_HEADER_BYTES - len(head))
    return head, size


def scan_local(root: Path) -> Scan:
    """Check every file under ``root``'s label folders (hidden files and folders are skipped)."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory (expected one folder per label)")
    found: list[Image] = []
    rejected: list[Rejected] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            rejected.append(Rejected(str(entry), "not in a label folder"))
            continue
        reason = label_problem(entry.name)
        files = sorted(
            path
            for path in entry.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(entry).parts)
        )
        for path in files:
            if reason is not None:
                rejected.append(Rejected(str(path), f"label folder {entry.name!r}: {reason}"))
                continue
            try:
                head, size = _read_local(path)
            except OSError as error:
                rejected.append(Rejected(str(path), f"cannot read it: {error.strerror}"))
                continue
            problem, content_type = check_image(head, size)
            if problem is not None:
                rejected.append(Rejected(str(path), problem))
                continue
            found.append(
                Image(
                    label=entry.name,
                    name=path.relative_to(entry).as_posix(),
                    size=size,
                    content_type=content_type,
                    path=path,
                )
            )
    return Scan(tuple(found), tuple(rejected))


def parse_s3_uri(text: str) -> tuple[str, str]:
    """(bucket, prefix ending in /) of ``s3://bucket/prefix/``."""
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket:
        raise UsageError(f"SOURCE: expected s3://BUCKET/PREFIX/, got {text!r}")
    return bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _ranged_head(s3: Any, bucket: str, key: str, size: int) -> bytes:
    def read(length: int) -> bytes:
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")["Body"]
        return bytes(body.read())

    head = read(images.HEADER_BYTES) if size > 0 else b""
    if _needs_longer_head(head, size):
        head = read(images.LONG_HEADER_BYTES)
    return head


def _list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        for page in pages:
            yield from page.get("Contents", [])
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise UsageError(f"SOURCE: s3://{bucket}/ does not exist") from error
        raise aws_failure(error, f"cannot list s3://{bucket}/{prefix}") from error


def scan_s3(s3: Any, bucket: str, prefix: str, console: Console) -> Scan:
    """Check every object under ``prefix``'s label folders by a ranged read of its head."""
    candidates: list[tuple[str, str, str, int]] = []  # key, label, name, size
    rejected: list[Rejected] = []
    for item in _list_objects(s3, bucket, prefix):
        key, size = str(item["Key"]), int(item.get("Size", 0))
        relative = key[len(prefix) :]
        if key.endswith("/") or not relative:
            continue  # a console-made "folder"
        label, _, name = relative.partition("/")
        where = f"s3://{bucket}/{key}"
        if not name:
            rejected.append(Rejected(where, "not in a label folder"))
        elif (reason := label_problem(label)) is not None:
            rejected.append(Rejected(where, f"label folder {label!r}: {reason}"))
        else:
            candidates.append((key, label, name, size))

    def check(candidate: tuple[str, str, str, int]) -> Image | Rejected:
        key, label, name, size = candidate
        where = f"s3://{bucket}/{key}"
        try:
            head = _ranged_head(s3, bucket, key, size)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "InvalidObjectState"):
                return Rejected(where, f"cannot read it: {error_code(error)}")
            raise aws_failure(error, f"cannot read {where}") from error
        problem, content_type = check_image(head, size)
        if problem is not None:
            return Rejected(where, problem)
        return Image(label=label, name=name, size=size, content_type=content_type, key=key)

    found: list[Image] = []
    for result in _in_parallel(check, candidates, "checking", console):
        if isinstance(result, Image):
            found.append(result)
        else:
            rejected.append(result)
    return Scan(tuple(found), tuple(rejected))


def _in_parallel(
    work: Callable[[Any], Any], items: Sequence[Any], label: str, console: Console
) -> list[Any]:
    """``work`` on every item, ``WORKERS`` at a time, in the items' order, with a progress bar."""
    results: list[Any] = []
    with (
        Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
        ThreadPoolExecutor(max_workers=WORKERS) as pool,
    ):
        task = progress.add_task(label, total=len(items))
        for result in pool.map(work, items):
            results.append(result)
            progress.advance(task)
    return results


# --------------------------------------------------------------------------------------------
# the manifests
# --------------------------------------------------------------------------------------------


def split(
    found: Sequence[Image], test_fraction: float | None, seed: int
) -> tuple[list[Image], list[Image]]:
    """(train, test): per label, a seeded shuffle of its images by name, ``round(n * f)`` of
    them (at least one, at most n - 1) to test. The same images, fraction and seed always give
    the same split, and adding a label does not move another label's images."""
    if test_fraction is None:
        return sorted(found, key=_order), []
    by_label: dict[str, list[Image]] = {}
    for image in found:
        by_label.setdefault(image.label, []).append(image)
    train: list[Image] = []
    test: list[Image] = []
    for label, members in sorted(by_label.items()):
        ordered = sorted(members, key=_order)
        random.Random(f"{seed}/{label}").shuffle(ordered)
        count = min(max(round(len(ordered) * test_fraction), 1), len(ordered) - 1)
        test += ordered[:count]
        train += ordered[count:]
    return sorted(train, key=_order), sorted(test, key=_order)


def _order(image: Image) -> tuple[str, str]:
    return image.label, image.name


def manifest_line(
    image: Image, bucket: str, labels: Sequence[str], attribute: str, job: str, created: str
) -> str:
    """One Ground Truth image-classification output line (single label) for ``image``."""
    return json.dumps(
        {
            "source-ref": f"s3://{bucket}/{image.key}",
            attribute: labels.index(image.label),
            f"{attribute}-metadata": {
                "class-name": image.label,
                "confidence": 1,
                "type": "groundtruth/image-classification",
                "job-name": f"labeling-job/{job}",
                "human-annotated": "yes",
                "creation-date": created,
            },
        },
        ensure_ascii=False,
    )


def manifest_body(
    members: Iterable[Image], bucket: str, labels: Sequence[str], attribute: str, job: str
) -> bytes:
    created = now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    lines = (manifest_line(image, bucket, labels, attribute, job, created) for image in members)
    return "".join(f"{line}\n" for line in lines).encode()


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def _default_name(source: str) -> str:
    base = PurePosixPath(source.rstrip("/")).name if source.startswith("s3://") else ""
    base = base or Path(source).resolve().name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._")
    return cleaned[:64] or "dataset"


def _check_arguments(arguments: argparse.Namespace, config: EnvironmentConfig) -> str:
    """The dataset name; every argument problem before any AWS call."""
    name = arguments.name or _default_name(arguments.source)
    if not _NAME.fullmatch(name):
        raise UsageError(f"--name: 1-64 letters, digits, '.', '_' or '-', got {name!r}")
    if not _ATTRIBUTE.fullmatch(arguments.attribute) or arguments.attribute.startswith(
        EVALUATION_PREFIX
    ):
        raise UsageError(
            f"--attribute: lowercase letters, digits and '-', not starting with "
            f"{EVALUATION_PREFIX!r}, got {arguments.attribute!r}"
        )
    if arguments.test_fraction is not None and not 0 < arguments.test_fraction < 1:
        raise UsageError(
            f"--test-fraction: between 0 and 1 exclusive, got {arguments.test_fraction:g}"
        )
    if arguments.source.startswith("s3://"):
        if arguments.check:
            raise UsageError("--check reads a local folder; an s3:// source is read in AWS")
        parse_s3_uri(arguments.source)
    else:
        path = Path(arguments.source)
        if not path.is_dir():
            raise UsageError(f"SOURCE: {arguments.source}: not a directory")
        images_prefix = IMAGES_PREFIX.format(name=name)
        for option, prefix in (
            ("rekognition.input_prefix", config.rekognition.input_prefix),
            ("sagemaker.input_prefix", config.sagemaker.input_prefix),
        ):
            if images_prefix.startswith(prefix) or prefix.startswith(images_prefix):
                raise UsageError(
                    f"--name: images would go to {images_prefix}, which overlaps {option} "
                    f"({prefix}): every image there is classified (and billed); choose another"
                )
    return name


def _problems(scan: Scan, test_fraction: float | None) -> list[str]:
    problems = []
    if not scan.images:
        problems.append("no acceptable image in any label folder")
    elif len(scan.labels) < 2:
        problems.append(
            f"one label only ({scan.labels[0]!r}): a classifier needs at least 2 label folders"
        )
    if test_fraction is not None:
        counts = Counter(image.label for image in scan.images)
        few = sorted(label for label, count in counts.items() if count < 2)
        if few:
            problems.append(
                f"--test-fraction: labels {', '.join(map(repr, few))} have 1 image: a split "
                "needs at least 2 per label (add images, or leave the split to Rekognition)"
            )
    return problems


def _show(scan: Scan, train: Sequence[Image], test: Sequence[Image]) -> Table:
    table = Table(title="Dataset")
    for column in ("Class", "Label", "Images", "Train", "Test"):
        table.add_column(column, justify="right" if column != "Label" else "left")
    total, training, testing = (
        Counter(image.label for image in group) for group in (scan.images, train, test)
    )
    for index, label in enumerate(scan.labels):
        table.add_row(
            str(index),
            escape(label),
            str(total[label]),
            str(training[label]),
            str(testing[label]) if test else "-",
        )
    table.add_row(
        "", "total", str(len(scan.images)), str(len(train)), str(len(test)) if test else "-"
    )
    return table


def _show_rejected(scan: Scan, console: Console, skipped: bool) -> None:
    if not scan.rejected:
        return
    verb = "left out" if skipped else "refused"
    console.print(
        f"[yellow]{len(scan.rejected)} file{'s' if len(scan.rejected) != 1 else ''} {verb}:"
        "[/yellow]",
        highlight=False,
    )
    for item in scan.rejected[:LISTED_PROBLEMS]:
        console.print(
            f"  {escape(item.where)}: {escape(item.reason)}", highlight=False, soft_wrap=True
        )
    if len(scan.rejected) > LISTED_PROBLEMS:
        console.print(f"  ... and {len(scan.rejected) - LISTED_PROBLEMS} more", highlight=False)


def command_manifest(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    name = _check_arguments(arguments, config)
    console = make_console()
    s3: Any = None
    data_bucket = ""
    if arguments.source.startswith("s3://"):
        bucket, prefix = parse_s3_uri(arguments.source)
        s3 = aws_client("s3", config.region)
        data_bucket = _data_bucket(config)
        if bucket != data_bucket:
            raise UsageError(
                f"SOURCE: the images must be in the environment's data bucket {data_bucket} "
                f"(the training workflow reads only there), got s3://{bucket}/: copy them there "
                "or give a local folder, which is uploaded"
            )
        scan = scan_s3(s3, bucket, prefix, console)
    else:
        scan = scan_local(Path(arguments.source))

    if scan.rejected and not arguments.skip_invalid:
        _show_rejected(scan, console, skipped=False)
        raise UsageError(
            f"{len(scan.rejected)} file(s) cannot be in a Custom Labels dataset (listed above): "
            "fix or remove them, or give --skip-invalid to leave them out"
        )
    problems = _problems(scan, arguments.test_fraction)
    if problems:
        raise UsageError("; ".join(problems))
    _show_rejected(scan, console, skipped=True)
    train, test = split(scan.images, arguments.test_fraction, arguments.seed)
    console.print(_show(scan, train, test))
    if arguments.check:
        console.print(
            f"Checked: {len(scan.images)} images in {len(scan.labels)} labels; nothing was "
            "uploaded or written (run without --check to do it).",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_OK

    if s3 is None:
        s3 = aws_client("s3", config.region)
        data_bucket = _data_bucket(config)
        scan = _upload(s3, data_bucket, IMAGES_PREFIX.format(name=name), scan, console)
        train, test = split(scan.images, arguments.test_fraction, arguments.seed)
    uris = _write_manifests(
        s3, data_bucket, name, {"train": train, "test": test}, scan.labels, arguments
    )
    _next_steps(config, uris, console)
    return EXIT_OK


def _data_bucket(config: EnvironmentConfig) -> str:
    outputs = stack_outputs(config, "Storage", aws_client("cloudformation", config.region))
    return outputs[DATA_BUCKET_NAME]


def _upload(s3: Any, bucket: str, prefix: str, scan: Scan, console: Console) -> Scan:
    """Upload the local images under ``prefix`` (``<label>/<name>``); the scan with their keys."""
    placed = [
        Image(
            label=image.label,
            name=image.name,
            size=image.size,
            content_type=image.content_type,
            path=image.path,
            key=f"{prefix}{image.label}/{image.name}",
        )
        for image in scan.images
    ]

    def upload(image: Image) -> None:
        try:
            s3.upload_file(
                str(image.path), bucket, image.key, ExtraArgs={"ContentType": image.content_type}
            )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"uploading {image.path} failed") from error

    _in_parallel(upload, placed, "uploading", console)
    console.print(
        f"Uploaded {len(placed)} images to s3://{bucket}/{prefix}", highlight=False, soft_wrap=True
    )
    return Scan(tuple(placed), scan.rejected)


def _write_manifests(
    s3: Any,
    bucket: str,
    name: str,
    groups: dict[str, list[Image]],
    labels: Sequence[str],
    arguments: argparse.Namespace,
) -> dict[str, str]:
    """Write each non-empty group's manifest to S3 (and to ``--out``); their URIs."""
    prefix = MANIFESTS_PREFIX.format(name=name)
    uris: dict[str, str] = {}
    for group, members in groups.items():
        if not members:
            continue
        body = manifest_body(members, bucket, labels, arguments.attribute, name)
        key = f"{prefix}{group}.manifest"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"cannot write s3://{bucket}/{key}") from error
        uris[group] = f"s3://{bucket}/{key}"
        if arguments.out:
            out = Path(arguments.out)
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{group}.manifest").write_bytes(body)
            except OSError as error:
                raise UsageError(f"--out: cannot write into {out}: {error}") from error
    return uris


def _next_steps(config: EnvironmentConfig, uris: dict[str, str], console: Console) -> None:
    for group, uri in uris.items():
        console.print(f"Wrote the {group} manifest: {uri}", highlight=False, soft_wrap=True)
    command = f"ops train start --env {config.name} --manifest {uris['train']}"
    if "test" in uris:
        command += f" --test-manifest {uris['test']}"
    trigger = config.rekognition_training.trigger_manifest_prefix
    keys = [uri.split("/", 3)[3] for uri in uris.values()]
    if trigger and any(key.startswith(trigger) for key in keys):
        console.print(
            f"[yellow]These manifests are under triggers.manifest_prefix ({trigger}): the "
            "training trigger starts a run on each; follow with ops train list.[/yellow]",
            highlight=False,
        )
    console.print("Next, start training:", highlight=False)
    print(f"  {command}")


def register(commands: Any) -> None:
    """Add ``manifest`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "manifest",
        help="build a training manifest from a folder per label (local or in S3)",
        description="Build a Ground Truth image-classification manifest from a folder-per-label "
        "layout (SOURCE/<label>/<image>), local or under an s3:// prefix of the data bucket. "
        "Every image is checked as inference checks it (JPEG or PNG by content, at most 15 MB, "
        "64 to 4096 pixels per side). A local folder is uploaded to s3://<data bucket>/"
        "datasets/<name>/; the manifests go to s3://<data bucket>/manifests/<name>/ "
        "(train.manifest, and test.manifest with --test-fraction: a seeded split, stratified "
        "per label). Prints the train start command to run next.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="local folder, or s3://DATA_BUCKET/PREFIX/, one folder per label",
    )
    parser.add_argument(
        "--name", help="dataset name for the S3 prefixes (default: the folder's name)"
    )
    parser.add_argument(
        "--test-fraction",
        type=fraction,
        metavar="F",
        help="share of each label's images held out for testing, e.g. 0.2 (default: none, "
        "Rekognition splits 20%% itself)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split (default 0): same seed, same split"
    )
    parser.add_argument(
        "--attribute",
        default=DEFAULT_ATTRIBUTE,
        help=f"label attribute name in the manifest (default {DEFAULT_ATTRIBUTE!r})",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave out files that cannot be training images instead of refusing",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check a local folder and show the dataset; no AWS call, nothing written",
    )
    parser.add_argument("--out", metavar="DIR", help="also write the manifests into this folder")
    parser.set_defaults(handler=command_manifest)

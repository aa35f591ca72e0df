"""``python -m ops lineage``: print the lineage record of a trained version.

The record (``shared.lineage``) sits next to the version's report in the environment's artifacts
bucket: ``reports/<project>/<version>/lineage.json`` for a Rekognition version,
``sagemaker/reports/<training job>/lineage.json`` for a SageMaker training job (a name with the
environment's job prefix, ``<prefix>-<env>-ic-``). When there is no record, the command says
whether the version exists at all (a typo) or was trained without one (before lineage was
recorded, or its run failed before ``RecordLineage``).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contracts.naming import PIPELINES, REKOGNITION, SAGEMAKER
from ops.common import (  # puts lambda_src on sys.path
    EXIT_FAILING,
    OpsError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    stack_outputs,
)
from shared.lineage import (
    LineageError,
    LineageRecord,
    lineage_key,
    parse_lineage,
)
from shared.rekognition_lookup import ListingTooLong, find_project, find_version
from stacks.config import EnvironmentConfig

_VERSION = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
ARTIFACTS_OUTPUT = "ArtifactsBucketName"


class RecordMissingError(OpsError):
    """The version exists, its record does not (exit code 1: the thing checked is failing)."""

    exit_code = EXIT_FAILING


def version_name(text: str) -> str:
    """``--version``: a Rekognition version name or a SageMaker training job name."""
    if not _VERSION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"a version name is 1-255 letters, digits, '_', '.' or '-', got {text!r}"
        )
    return text


def pipeline_of(config: EnvironmentConfig, version: str, requested: str | None) -> str:
    """The pipeline a version belongs to: as asked, else by the SageMaker job name prefix."""
    if requested:
        return requested
    prefix = config.sagemaker.job_name_prefix(config.resource_name_prefix) + "-"
    return SAGEMAKER if version.startswith(prefix) else REKOGNITION


def project_of(config: EnvironmentConfig, pipeline: str) -> str:
    if pipeline == SAGEMAKER:
        return config.sagemaker.model_package_group_name(config.resource_name_prefix)
    return config.rekognition.project_name


def read_record(
    config: EnvironmentConfig, version: str, pipeline: str, *, s3: Any, cloudformation: Any
) -> tuple[LineageRecord, str]:
    """The parsed record and its URI; a one-line :class:`OpsError` for every way it is not."""
    outputs = stack_outputs(config, "Storage", cloudformation)
    bucket = outputs.get(ARTIFACTS_OUTPUT)
    if not bucket:
        raise OpsError(
            f"stack {config.resource_name_prefix}-storage has no {ARTIFACTS_OUTPUT} output: "
            f"redeploy it (make deploy ENV={config.name})",
            exit_code=3,
        )
    key = lineage_key(pipeline, project_of(config, pipeline), version)
    uri = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as error:
        if error_code(error) in ("NoSuchKey", "404"):
            raise _missing(config, version, pipeline, uri) from error
        raise aws_failure(error, f"cannot read {uri}") from error
    try:
        return parse_lineage(body, source=uri), uri
    except LineageError as error:
        raise OpsError(f"the lineage record is not valid: {error}", EXIT_FAILING) from error


def _missing(config: EnvironmentConfig, version: str, pipeline: str, uri: str) -> OpsError:
    """No record: is there no such version, or a version without a record?"""
    exists = _version_exists(config, version, pipeline)
    kind = "SageMaker training job" if pipeline == SAGEMAKER else "Rekognition version"
    where = project_of(config, pipeline) if pipeline == REKOGNITION else config.name
    if exists is False:
        return UsageError(
            f"no {kind} {version!r} in {where} (environment {config.name}): check the name "
            f"(python -m ops train list --env {config.name} lists the runs)"
        )
    return RecordMissingError(
        f"{kind} {version!r} has no lineage record at {uri}: it was trained before lineage "
        "was recorded, or its run failed before RecordLineage"
    )


def _version_exists(config: EnvironmentConfig, version: str, pipeline: str) -> bool | None:
    """True/False when AWS can tell; None when it cannot (then the record is what is missing)."""
    try:
        if pipeline == SAGEMAKER:
            sagemaker = aws_client("sagemaker", config.region)
            try:
                sagemaker.describe_training_job(TrainingJobName=version)
            except ClientError as error:
                if any(s in str(error).lower() for s in ("not found", "could not find")):
                    return False
                raise
            return True
        rekognition = aws_client("rekognition", config.region)
        project = find_project(rekognition, config.rekognition.project_name)
        if project is None:
            return False
        return find_version(rekognition, str(project["ProjectArn"]), version) is not None
    except (BotoCoreError, ClientError, ListingTooLong):
        return None


def render(record: LineageRecord, uri: str, console: Console) -> None:
    """The record as a table: what was trained on, by which run, judged how."""
    table = Table(title=f"Lineage of {record.version} ({record.pipeline}, {record.environment})")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    verdict = "[green]passed[/]" if record.gate.passed else "[red]did not pass[/]"
    rows: list[tuple[str, str]] = [
        ("record", escape(uri)),
        ("model version", escape(record.model_version_arn)),
        ("project", escape(record.project)),
        ("execution", escape(record.execution_arn)),
        ("code version", escape(record.code_version)),
        ("trained", f"{record.created_at} -> {record.finished_at}"),
        (
            "gate",
            f"{verdict}: {escape(record.gate.metric)} = {record.gate.value:g} "
            f"(threshold {record.gate.threshold:g})",
        ),
        *(("gate reason", escape(reason)) for reason in record.gate.reasons),
        ("gate settings", escape(json.dumps(record.gate.settings, sort_keys=True))),
        ("metrics", escape(record.metrics_uri)),
    ]
    if record.report_uri:
        rows.append(("report", escape(record.report_uri)))
    if record.model_artifacts_uri:
        rows.append(("model artifacts", escape(record.model_artifacts_uri)))
    for kind, arn in sorted(record.datasets.items()):
        rows.append((f"{kind} dataset", escape(arn)))
    for role, refs in (("training data", record.training_data), ("test data", record.test_data)):
        for ref in refs:
            pins = ", ".join(
                f"{name} {value}"
                for name, value in (("version", ref.version_id), ("ETag", ref.etag))
                if value
            )
            rows.append((role, escape(ref.uri + (f" ({pins})" if pins else ""))))
    for field_name, value in rows:
        table.add_row(field_name, value)
    console.print(table)


def command_lineage(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    pipeline = pipeline_of(config, arguments.version, arguments.pipeline)
    record, uri = read_record(
        config,
        arguments.version,
        pipeline,
        s3=aws_client("s3", config.region),
        cloudformation=aws_client("cloudformation", config.region),
    )
    if arguments.json:
        print(record.to_json())
    else:
        render(record, uri, Console())
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "lineage",
        help="print the lineage record of a trained version (data, run, gate, code)",
        description="Print the lineage record the training workflow wrote for a version: the "
        "manifests (with S3 version IDs and ETags) and datasets it was trained and tested on, "
        "the execution and code version that trained it, the gate's settings and verdict, "
        "and where its metrics are. A SageMaker training job is recognized by its name "
        "(<prefix>-<env>-ic-...).",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument(
        "--version",
        required=True,
        type=version_name,
        help="Rekognition version name, or SageMaker training job name",
    )
    parser.add_argument(
        "--pipeline",
        choices=PIPELINES,
        help="which pipeline trained it (default: told by the name)",
    )
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    parser.set_defaults(handler=command_lineage)

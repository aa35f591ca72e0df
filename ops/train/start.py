"""``ops train start``: a request checked with the workflow's own validation, then started."""

from __future__ import annotations

import argparse
import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from contracts.outputs import DATA_BUCKET_NAME
from ops import common
from ops.common import (
    EXIT_OK,
    UsageError,
    aws_failure,
    environment,
    error_code,
    stack_outputs,
)
from ops.train.common import (
    CONCERN,
    STATE_MACHINE_OUTPUT,
    console_url,
    default_gate,
    refuse,
    stack_output,
)
from rekognition_training.job import (
    InvalidTrainingInput,
    normalize_job,
)
from stacks.config import EnvironmentConfig

#: Step Functions execution names (the stricter set that CloudWatch logging accepts).
_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def default_execution_name() -> str:
    """``train-20261120-142501-3fa2``: sortable, unique, a valid version name once prefixed."""
    return f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def training_request(arguments: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The workflow input the options describe, and the option conflicts (checked first)."""
    problems: list[str] = []
    given = [
        option
        for option, value in (
            ("--manifest", arguments.manifest),
            ("--dataset-arn", arguments.dataset_arn),
            ("--use-existing-datasets", arguments.use_existing_datasets),
        )
        if value
    ]
    if len(given) != 1:
        problems.append(
            "give exactly one of --manifest, --dataset-arn or --use-existing-datasets"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if arguments.test_manifest and arguments.test_dataset_arn:
        problems.append("--test-manifest and --test-dataset-arn are mutually exclusive")

    request: dict[str, Any] = {}
    if arguments.manifest:
        request["training_data"] = {"manifest_s3_uri": arguments.manifest}
    elif arguments.dataset_arn:
        request["training_data"] = {"dataset_arn": arguments.dataset_arn}
    if arguments.use_existing_datasets:
        request["use_existing_datasets"] = True
    if arguments.test_manifest:
        request["test_data"] = {"manifest_s3_uri": arguments.test_manifest}
    elif arguments.test_dataset_arn:
        request["test_data"] = {"dataset_arn": arguments.test_dataset_arn}
    if arguments.version is not None:
        request["version_name"] = arguments.version
    gate = {
        key: value
        for key, value in (
            ("metric", arguments.gate_metric),
            ("threshold", arguments.gate_threshold),
            ("min_label_recall", arguments.min_label_recall),
        )
        if value is not None
    }
    if gate:
        request["gate"] = gate
    return request, problems


def _with_option(problem: str, arguments: argparse.Namespace) -> str:
    """Prefix a ``normalize_job`` problem (named by request field) with the option to fix."""
    field_name = problem.split(":", 1)[0]
    options = {
        "training_data": "--manifest" if arguments.manifest else "--dataset-arn",
        "test_data": "--test-manifest" if arguments.test_manifest else "--test-dataset-arn",
        "use_existing_datasets": "--use-existing-datasets",
        "version_name": "--version",
        "gate.metric": "--gate-metric",
        "gate.threshold": "--gate-threshold",
        "gate.min_label_recall": "--min-label-recall",
    }
    for prefix, option in options.items():
        if field_name == prefix or field_name.startswith(prefix + "."):
            return f"{option}: {problem}"
    return problem


def _missing_manifests(s3: Any, job: Mapping[str, Any], arguments: argparse.Namespace) -> list[str]:
    """Manifests the job names that do not exist (other errors are left to the workflow)."""
    problems = []
    datasets = job["datasets"]
    for source_field, option in (
        ("train_source", "--manifest"),
        ("test_source", "--test-manifest"),
    ):
        location = datasets.get(source_field, {}).get("GroundTruthManifest", {}).get("S3Object")
        if location is None:
            continue
        uri = f"s3://{location['Bucket']}/{location['Name']}"
        try:
            s3.head_object(Bucket=location["Bucket"], Key=location["Name"])
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                problems.append(f"{option}: {uri} does not exist")
            elif error_code(error) not in ("403", "AccessDenied"):
                raise aws_failure(error, f"cannot check {uri}") from error
    return problems


def _job(
    request: dict[str, Any],
    arguments: argparse.Namespace,
    config: EnvironmentConfig,
    name: str,
    data_bucket: str | None,
) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        job = normalize_job(
            request,
            execution_name=name,
            project_name=config.rekognition.project_name,
            data_bucket=data_bucket,
            default_gate=default_gate(config),
        )
    except InvalidTrainingInput as error:
        return None, [_with_option(problem, arguments) for problem in error.problems]
    return job, []


def command_train_start(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    request, problems = training_request(arguments)
    name = arguments.name or default_execution_name()
    if not _EXECUTION_NAME.fullmatch(name):
        problems.append(f"--name: 1-80 letters, digits, '-' or '_', got {name!r}")
    if not problems:  # then everything but the data bucket, before any AWS call
        _, problems = _job(request, arguments, config, name, data_bucket=None)
    if problems:
        return refuse(problems)

    cloudformation = common.aws_client("cloudformation", config.region)
    training_stack = stack_outputs(config, CONCERN, cloudformation)
    state_machine = stack_output(training_stack, STATE_MACHINE_OUTPUT, CONCERN)
    data_bucket = stack_output(
        stack_outputs(config, "Storage", cloudformation), DATA_BUCKET_NAME, "Storage"
    )
    job, problems = _job(request, arguments, config, name, data_bucket)
    if job is None:
        return refuse(problems)
    problems = _missing_manifests(common.aws_client("s3", config.region), job, arguments)
    if problems:
        return refuse(problems)

    try:
        started = common.aws_client("stepfunctions", config.region).start_execution(
            stateMachineArn=state_machine, name=name, input=json.dumps(request)
        )
    except ClientError as error:
        if error_code(error) == "ExecutionAlreadyExists":
            raise UsageError(
                f"--name: an execution named {name!r} already exists (names are unique per "
                "state machine for 90 days)"
            ) from error
        raise aws_failure(error, f"cannot start {state_machine}") from error
    arn = started["executionArn"]
    gate = job["gate"]
    print(
        f"Started training run {name}: version {job['version_name']} of project "
        f"{job['project_name']}, gate {gate['metric']} >= {gate['threshold']:g}"
    )
    print(f"Execution: {arn}")
    print(f"Console:   {console_url(arn)}")
    print(f"Follow it: ops train watch {arn}")
    return EXIT_OK

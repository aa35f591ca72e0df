"""Operator commands of the relabel loop (human review of low-confidence images).

    ops review status --env dev
    ops review start --env dev [--workteam ARN] [--max-images N]

``status`` counts the review records waiting per pipeline (the same listing the workflow's
Collect step makes), and shows the labeling job and the relabel run under way, if any.
``start`` starts the relabel workflow (checked here first: the workteam's form, the image
count); the workflow itself refuses a second run while one is under way.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contracts.naming import REKOGNITION, SAGEMAKER
from contracts.s3_layout import REKOGNITION_REVIEW_PREFIX
from ops.common import (  # puts lambda_src on sys.path
    EXIT_OK,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    stack_outputs,
)
from relabel.ground_truth import active_jobs
from relabel.records import count_pending
from relabel.request import InvalidRequestError, parse_request
from stacks.config import EnvironmentConfig
from stacks.config.sections.relabel import WORKTEAM_ARN


def register(commands: Any) -> None:
    """Add ``review status`` and ``review start`` to the ``ops`` subparsers."""
    review = commands.add_parser(
        "review",
        help="the human review loop: pending review records, Ground Truth labeling runs",
        description="Review records of low-confidence images (both pipelines) are labeled by "
        "a private Ground Truth workteam and merged into the next training manifest.",
    )
    actions = review.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status",
        help="pending review records per pipeline, the labeling job and run under way",
        description="Counts the review records waiting per pipeline and shows the labeling "
        "job and relabel run under way. Reads only.",
    )
    status.add_argument("--env", required=True, help="environment name from cdk.json")
    status.set_defaults(handler=command_status)
    start = actions.add_parser(
        "start",
        help="start a relabel run (a Ground Truth labeling job of the pending images)",
        description="Starts the relabel workflow: the pending images go to one labeling job "
        "of the workteam (--workteam, else relabel.workteam_arn of cdk.json); the answers "
        "become the next training manifest. Nothing starts while a run is under way.",
    )
    start.add_argument("--env", required=True, help="environment name from cdk.json")
    start.add_argument(
        "--workteam",
        help="private workteam ARN (arn:aws:sagemaker:<region>:<account>:workteam/"
        "private-crowd/<name>); default: relabel.workteam_arn",
    )
    start.add_argument(
        "--max-images", type=int, help="label at most this many images (default: the config's)"
    )
    start.set_defaults(handler=command_start)


def review_prefixes(config: EnvironmentConfig) -> dict[str, str]:
    return {REKOGNITION: REKOGNITION_REVIEW_PREFIX, SAGEMAKER: config.sagemaker.review_prefix}


def _machine(config: EnvironmentConfig) -> str:
    outputs = stack_outputs(config, "Relabel", aws_client("cloudformation", config.region))
    return outputs["RelabelStateMachineArn"]


def command_status(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    storage = stack_outputs(config, "Storage", aws_client("cloudformation", config.region))
    machine = _machine(config)
    try:
        pending = count_pending(
            aws_client("s3", config.region), storage["ArtifactsBucketName"], review_prefixes(config)
        )
        jobs = active_jobs(aws_client("sagemaker", config.region), config.labeling_job_prefix)
        runs = aws_client("stepfunctions", config.region).list_executions(
            stateMachineArn=machine, statusFilter="RUNNING", maxResults=10
        )["executions"]
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, "cannot read the review state") from error
    print(f"Review records pending in {config.name}:")
    for pipeline, count in pending.items():
        print(f"  {pipeline:<12} {count}")
    print(f"  {'total':<12} {sum(pending.values())}")
    print(f"Labeling job under way: {', '.join(jobs) if jobs else 'none'}")
    print(f"Relabel run under way: {runs[0]['executionArn'] if runs else 'none'}")
    threshold = config.relabel.pending_threshold
    if threshold is not None:
        print(f"A run starts on its own once {threshold} records are pending.")
    return EXIT_OK


def command_start(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    request: dict[str, Any] = {}
    if arguments.workteam is not None:
        request["workteam_arn"] = arguments.workteam
    if arguments.max_images is not None:
        request["max_images"] = arguments.max_images
    try:
        parse_request(request, config.relabel.max_images_per_job, WORKTEAM_ARN)
    except InvalidRequestError as error:
        raise UsageError(
            str(error).replace("workteam_arn", "--workteam").replace("max_images", "--max-images")
        ) from error
    if arguments.workteam is None and config.relabel.workteam_arn is None:
        raise UsageError(
            "no workteam: pass --workteam arn:aws:sagemaker:<region>:<account>:workteam/"
            "private-crowd/<name> or set relabel.workteam_arn in cdk.json"
        )
    machine = _machine(config)
    name = f"ops-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    try:
        started = aws_client("stepfunctions", config.region).start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(request)
        )
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, "cannot start the relabel workflow") from error
    print(f"Relabel run started: {started['executionArn']}")
    print(f"Follow it with: python -m ops review status --env {config.name}")
    return EXIT_OK

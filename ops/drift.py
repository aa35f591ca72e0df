"""Operator command for prediction drift.

    ops drift --env dev [--window 24h]

Computes what the scheduled drift evaluator computes (the same code, ``lambda_src/drift``),
now, over the window given (default: the configured ``drift.window_hours``), and prints each
pipeline's running model, the window's image count, every figure against its threshold and the
labels that moved. Reads only: nothing is published, stored or notified. Exit code 1 when a
figure crosses its threshold.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from ops.common import (  # puts lambda_src on sys.path
    EXIT_FAILING,
    EXIT_OK,
    AwsEnvironmentError,
    aws_client,
    aws_failure,
    environment,
    stack_outputs,
)
from stacks.config import EnvironmentConfig
from stacks.config.sections.drift import MAX_WINDOW_HOURS

# isort: split
from contracts import drift as contract
from drift.evaluation import (
    NothingRunning,
    Settings,
    evaluate,
    nothing_running,
    running_rekognition,
    running_sagemaker,
)
from drift.figures import Thresholds
from drift.report import moved_lines
from drift.sagemaker_baseline import TrainingData
from drift.window import WindowUnavailable
from shared.ssm_parameters import read_optional_parameter

_WINDOW = re.compile(r"(?P<value>[1-9]\d*)(?P<unit>[hd])")


def window_length(text: str) -> timedelta:
    """``24h`` or ``2d``: whole hours or days, up to a week."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"write hours or days, such as 24h or 2d; got {text!r}")
    hours = int(match["value"]) * (24 if match["unit"] == "d" else 1)
    if hours > MAX_WINDOW_HOURS:
        raise argparse.ArgumentTypeError(f"at most {MAX_WINDOW_HOURS}h (7d), got {text!r}")
    return timedelta(hours=hours)


def register(commands: Any) -> None:
    """Add ``drift`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "drift",
        help="compare each pipeline's live predictions with its model's baseline",
        description="What the drift evaluator computes, now: per pipeline the running model, "
        "the window's images, each drift figure against its threshold and the labels that "
        "moved. Reads only (publishes, stores and notifies nothing). Exit code 1 when a "
        "figure crosses its threshold.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument(
        "--window",
        type=window_length,
        default=None,
        help="live window ending now: hours or days (24h, 2d; default drift.window_hours)",
    )
    parser.set_defaults(handler=command_drift)


def settings_for(
    config: EnvironmentConfig, storage: dict[str, str], window: timedelta | None
) -> Settings:
    drift, sagemaker = config.drift, config.sagemaker
    return Settings(
        environment=config.name,
        namespace=config.metrics_namespace,
        artifacts_bucket=storage["ArtifactsBucketName"],
        window=window or timedelta(hours=drift.window_hours),
        thresholds=Thresholds.from_mapping(drift.thresholds()),
        pinned_arn=config.rekognition.model_version_arn,
        model_parameter=config.model_version_parameter,
        project_name=config.rekognition.project_name,
        endpoint_name=sagemaker.endpoint_full_name(config.resource_name_prefix),
        training_data=TrainingData(
            bucket=storage["DataBucketName"],
            prefix=sagemaker.training.data_prefix,
            data_format=sagemaker.training.data_format,
            class_names=sagemaker.class_names,
        ),
    )


def command_drift(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    region = config.region
    storage = stack_outputs(config, "Storage", aws_client("cloudformation", region))
    settings = settings_for(config, storage, arguments.window)
    s3, cloudwatch = aws_client("s3", region), aws_client("cloudwatch", region)
    ssm, sagemaker = aws_client("ssm", region), aws_client("sagemaker", region)

    def read_parameter(name: str) -> str | None:
        return read_optional_parameter(ssm, name)

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    console = Console()
    drifted = False
    for pipeline in contract.PIPELINES:
        try:
            try:
                if pipeline == contract.REKOGNITION:
                    model = running_rekognition(settings, read_parameter)
                else:
                    model = running_sagemaker(settings, sagemaker)
            except NothingRunning as error:
                document = nothing_running(settings, pipeline, end, str(error))
            else:
                document = evaluate(
                    settings=settings,
                    model=model,
                    s3=s3,
                    cloudwatch=cloudwatch,
                    end=end,
                    store_built=False,
                )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"cannot evaluate {pipeline} drift") from error
        except WindowUnavailable as error:
            raise AwsEnvironmentError(f"{pipeline}: {error}") from error
        drifted = drifted or document["drifted"]
        print_document(console, document)
    return EXIT_FAILING if drifted else EXIT_OK


def print_document(console: Console, document: dict[str, Any]) -> None:
    title = contract.PIPELINE_TITLES[document["pipeline"]]
    live = document["live"]
    running = document.get("running") or "nothing running"
    console.print(
        f"[bold]{title}[/]: {running}; window {document['window']['start']} to "
        f"{document['window']['end']}, {live['images']} images, "
        f"{live['abstentions']} abstentions; baseline {document['baseline_uri'] or 'none'}"
    )
    table = Table()
    for column in ("Figure", "Value", "Threshold", "State"):
        table.add_column(column)
    for figure, name in contract.FIGURE_TITLES.items():
        value = document["figures"][figure]
        if value is None:
            state = f"quiet: {document['quiet'].get(figure) or 'not computed'}"
        else:
            state = "[bold red]DRIFT[/]" if figure in document["breaches"] else "[green]within[/]"
        table.add_row(
            name,
            "-" if value is None else f"{value:.4f}",
            f"{document['thresholds'][figure]:g}",
            state,
        )
    console.print(table)
    moved = moved_lines(document["labels"])
    if moved:
        console.print("Labels that moved (test set -> live):")
        for line in moved:
            console.print(line, markup=False)

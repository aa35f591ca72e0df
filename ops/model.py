"""``ops model status|start|stop``: the Rekognition model inference uses, by hand.

    ops model status --env dev       # version, status, backlog, event source, mode
    ops model start --env dev [--wait] [--timeout MINUTES]
    ops model stop --env dev [--wait] [--timeout MINUTES] [--version-arn ARN]

The lookups (:func:`aws_clients`, :func:`model_version`, :func:`describe`) serve ``ops classify``
too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from contracts.outputs import DEAD_LETTER_QUEUE_URL, EVENT_SOURCE_MAPPING_ID, WORK_QUEUE_URL
from model_controller import operations
from ops import executions
from ops.common import (
    EXIT_FAILING,
    EXIT_OK,
    AwsEnvironmentError,
    StillRunningError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    minutes,
    stack_outputs,
)
from shared.model_version import ModelNotConfiguredError, ModelVersion, resolve_model_version
from shared.rekognition_lookup import ListingTooLong
from stacks.config import EnvironmentConfig

CONCERN = "RekognitionInference"
#: How often ``--wait`` and ``classify`` look again, in seconds.
POLL_SECONDS = 5.0


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


def inference_outputs(
    config: EnvironmentConfig, aws: Aws, concern: str = CONCERN
) -> dict[str, str]:
    return stack_outputs(config, concern, aws.cloudformation)


# --------------------------------------------------------------------------------------------
# model status | start | stop
# --------------------------------------------------------------------------------------------


def aws_errors_explained(command: Callable[[argparse.Namespace], int]) -> Any:
    """AWS errors (no credentials, access denied, throttling) become one-line errors."""

    def run(arguments: argparse.Namespace) -> int:
        try:
            return command(arguments)
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, "AWS call failed") from error

    run.__doc__ = command.__doc__
    return run


@aws_errors_explained
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
    outputs = inference_outputs(config, aws)
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
    waiting = operations.waiting_messages(aws.sqs, outputs[WORK_QUEUE_URL])
    table.add_row(
        "Queue",
        f"{waiting['ApproximateNumberOfMessages']} waiting, "
        f"{waiting['ApproximateNumberOfMessagesNotVisible']} in flight, "
        f"{waiting['ApproximateNumberOfMessagesDelayed']} delayed",
    )
    dead = operations.waiting_messages(aws.sqs, outputs[DEAD_LETTER_QUEUE_URL])
    table.add_row("Dead-letter queue", f"{dead['ApproximateNumberOfMessages']} messages")
    table.add_row(
        "Event source",
        operations.event_source_state(aws.lambda_, outputs[EVENT_SOURCE_MAPPING_ID]),
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
    outputs = inference_outputs(config, aws)
    # Like the controller: no more receives first, so waiting images are not failed.
    operations.set_event_source(aws.lambda_, outputs[EVENT_SOURCE_MAPPING_ID], enabled=False)
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
            executions.sleep(POLL_SECONDS)


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``model status|start|stop`` to the ``ops`` subparsers."""
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

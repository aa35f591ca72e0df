"""Operator commands for Rekognition Custom Labels training runs and evaluation reports.

    python -m ops train start --env dev --manifest s3://DATA_BUCKET/manifests/train.manifest
    python -m ops train watch EXECUTION_ARN [--interval SECONDS] [--timeout MINUTES]
    python -m ops train list --env dev [--limit N]
    python -m ops report --manifest PATH --summary PATH --out DIR
    python -m ops report --env dev --version NAME --out DIR

``train start`` checks the request with the workflow's own ``normalize_job`` (the code of its
``ValidateInput`` state) before anything starts or bills. ``report`` runs the ``Evaluate`` state's
code (``rekognition_training.evaluation_sources``) on local files or on a trained version and
writes the same ``metrics.json`` and ``report.html`` the workflow stores.

Exit codes: 0 success (``watch``: DEPLOYED or REJECTED), 1 the run FAILED, TIMED_OUT or was
ABORTED, 2 bad input (one line per problem), 3 ``watch --timeout`` reached while the run goes on,
130 ``watch`` interrupted with Ctrl-C (the run goes on).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ops.common import UsageError, environment, stack_outputs  # puts lambda_src on sys.path
from stacks.config import EnvironmentConfig

# isort: split
from rekognition_training.evaluation_sources import (
    Evaluation,
    EvaluationMissing,
    evaluate,
    evaluation_sources,
    read_evaluation,
)
from rekognition_training.gate import GateMetricMissing
from rekognition_training.job import (
    GATE_METRICS,
    InvalidTrainingInput,
    normalize_job,
    version_name_for,
)
from shared.evaluation.manifest import ManifestError, load_summary, parse_manifest
from shared.evaluation.verdict import REJECTED, figures, verdict_word

CONCERN = "RekognitionTraining"
STATE_MACHINE_OUTPUT = "TrainingStateMachineArn"

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_STILL_RUNNING = 3
EXIT_INTERRUPTED = 130

#: The largest page GetExecutionHistory returns.
HISTORY_PAGE_SIZE = 1000
DEFAULT_INTERVAL_SECONDS = 15.0
#: Longer than a run with the default deadlines lasts; the workflow's own timeout ends it anyway.
DEFAULT_WATCH_TIMEOUT_MINUTES = 48 * 60.0
#: Step Functions execution names (the stricter set that CloudWatch logging accepts).
_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_EXECUTION_ARN = re.compile(
    r"arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):\d{12}:execution:[^:\s]+:[^:\s]+"
)
_FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_TASK_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
#: Failure events of a task attempt and the field holding their details.
_TASK_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
}
_EXECUTION_ENDS = {
    "ExecutionSucceeded": ("green", "execution succeeded", None),
    "ExecutionFailed": ("red", "execution failed", "executionFailedEventDetails"),
    "ExecutionTimedOut": ("red", "execution timed out", "executionTimedOutEventDetails"),
    "ExecutionAborted": ("red", "execution aborted", "executionAbortedEventDetails"),
}
#: Longest cause shown in a progress line (the final outcome shows it whole).
_CAUSE_CHARACTERS = 300


def client(service: str, region: str | None) -> Any:
    """A boto3 client for ``region`` (None: the default region); tests replace it."""
    return boto3.client(service, region_name=region) if region else boto3.client(service)


def sleep(seconds: float) -> None:
    """Pause between polls (a seam for the tests)."""
    time.sleep(seconds)


def clock() -> float:
    """Seconds on a monotonic clock (a seam for the tests)."""
    return time.monotonic()


def console_url(execution_arn: str) -> str:
    """The Step Functions console page of an execution."""
    region = execution_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def default_gate(config: EnvironmentConfig) -> dict[str, Any]:
    """The environment's quality gate, as the workflow's ValidateInput receives it."""
    gate = config.quality_gate
    return {
        "metric": gate.metric,
        "threshold": gate.threshold,
        "min_label_recall": gate.min_label_recall,
    }


def _refuse(problems: list[str]) -> int:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_USAGE


def _output(outputs: Mapping[str, str], key: str, stack: str) -> str:
    try:
        return outputs[key]
    except KeyError:
        raise UsageError(f"stack {stack} has no output {key}: deploy the current app") from None


def _gate_text(gate: Mapping[str, Any], *, spelled_out: bool = False) -> str:
    """``f1_macro = 0.9123 (0.9000)``: the gate's metric, its value and (threshold).

    With the digits it takes to tell value and threshold apart (``shared.evaluation.verdict``);
    ``spelled_out`` adds the verdict word and "threshold", and the gap of a rejection.
    """
    try:
        value, threshold = float(gate["value"]), float(gate["threshold"])
    except (KeyError, TypeError, ValueError):
        return ""
    shown, limit = figures(value, threshold)
    text = f"{gate.get('metric')} = {shown} ({'threshold ' if spelled_out else ''}{limit})"
    if not spelled_out:
        return text
    passed = gate.get("passed") is True
    if not passed and isinstance(gate.get("gap"), int | float):
        decimals = len(shown.partition(".")[2])
        text += f", gap {float(gate['gap']):+.{decimals}f}"
    return f"{verdict_word(passed)} {text}"


def _time(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _object(text: Any) -> dict[str, Any]:
    """A JSON text's object, or an empty one (for output/input that is missing or not one)."""
    document = _json(text)
    return document if isinstance(document, dict) else {}


# --------------------------------------------------------------------------------------------
# train start
# --------------------------------------------------------------------------------------------


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
        try:
            s3.head_object(Bucket=location["Bucket"], Key=location["Name"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                problems.append(
                    f"{option}: s3://{location['Bucket']}/{location['Name']} does not exist"
                )
    return problems


def command_train_start(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    request, problems = training_request(arguments)
    name = arguments.name or default_execution_name()
    if not _EXECUTION_NAME.fullmatch(name):
        problems.append(f"--name: 1-80 letters, digits, '-' or '_', got {name!r}")
    if problems:
        return _refuse(problems)

    cloudformation = client("cloudformation", config.region)
    training_stack = stack_outputs(config, CONCERN, cloudformation)
    state_machine = _output(training_stack, STATE_MACHINE_OUTPUT, CONCERN)
    data_bucket = _output(
        stack_outputs(config, "Storage", cloudformation), "DataBucketName", "Storage"
    )
    try:
        job = normalize_job(
            request,
            execution_name=name,
            project_name=config.rekognition.project_name,
            data_bucket=data_bucket,
            default_gate=default_gate(config),
        )
    except InvalidTrainingInput as error:
        return _refuse([_with_option(problem, arguments) for problem in error.problems])
    problems = _missing_manifests(client("s3", config.region), job, arguments)
    if problems:
        return _refuse(problems)

    try:
        started = client("stepfunctions", config.region).start_execution(
            stateMachineArn=state_machine, name=name, input=json.dumps(request)
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            raise UsageError(
                f"--name: an execution named {name!r} already exists (names are unique per "
                "state machine for 90 days)"
            ) from error
        raise UsageError(f"cannot start {state_machine}: {error}") from error
    arn = started["executionArn"]
    gate = job["gate"]
    print(
        f"Started training run {name}: version {job['version_name']} of project "
        f"{job['project_name']}, gate {gate['metric']} >= {gate['threshold']:g}"
    )
    print(f"Execution: {arn}")
    print(f"Console:   {console_url(arn)}")
    print(f"Follow it: python -m ops train watch {arn}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# train watch
# --------------------------------------------------------------------------------------------


class HistoryFollower:
    """New events of an execution's history at each call, each once, in order.

    Keeps the page token that fetched the last (partial) page and asks again from there, so a
    long run costs one or two requests per poll rather than its whole history; events already
    seen are skipped by id. An expired token (they last 24 hours) restarts from the beginning.
    """

    def __init__(self, stepfunctions: Any, execution_arn: str) -> None:
        self._stepfunctions = stepfunctions
        self._arn = execution_arn
        self._token: str | None = None
        self._last_id = 0

    def new_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = self._token
        while True:
            request: dict[str, Any] = {"executionArn": self._arn, "maxResults": HISTORY_PAGE_SIZE}
            if token is not None:
                request["nextToken"] = token
            try:
                page = self._stepfunctions.get_execution_history(**request)
            except ClientError as error:
                if token is None or error.response.get("Error", {}).get("Code") != "InvalidToken":
                    raise
                token = None
                continue
            self._token = token
            for event in page.get("events", []):
                if event["id"] > self._last_id:
                    events.append(event)
                    self._last_id = event["id"]
            token = page.get("nextToken")
            if not token:
                return events


def _state_definitions(definition: Any) -> dict[str, dict[str, Any]]:
    """Every state of an ASL definition by name, nested Map and Parallel states included."""
    states: dict[str, dict[str, Any]] = {}
    pending = [definition] if isinstance(definition, dict) else []
    while pending:
        machine = pending.pop()
        for name, state in (machine.get("States") or {}).items():
            if not isinstance(state, dict):
                continue
            states.setdefault(name, state)
            for nested in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(nested), dict):
                    pending.append(state[nested])
            pending.extend(b for b in state.get("Branches") or [] if isinstance(b, dict))
    return states


def _duration(delta: timedelta) -> str:
    seconds = max(round(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _shorten(text: Any, limit: int = _CAUSE_CHARACTERS) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass
class EventPrinter:
    """Renders history events as progress lines: states, waits, task failures and retries."""

    console: Console
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    _owner: dict[int, str] = field(default_factory=dict)
    _entered: dict[str, datetime] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)
    _last_error: dict[str, str] = field(default_factory=dict)
    current: str = "starting"

    def show(self, event: Mapping[str, Any]) -> None:
        line = self.describe(event)
        if line is not None:
            stamp = _time(event.get("timestamp"))
            self.console.print(f"[dim]{stamp}[/dim]  {line}", highlight=False)

    def describe(self, event: Mapping[str, Any]) -> str | None:
        kind, moment = str(event.get("type", "")), event.get("timestamp")
        state = self._owner.get(event.get("previousEventId", 0))
        if kind.endswith("StateEntered"):
            state = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
        if state is not None:
            self._owner[event["id"]] = state

        if kind == "ExecutionStarted":
            return "[bold]execution started[/bold]"
        if kind.endswith("StateEntered") and state is not None:
            self.current = state
            self._attempts[state] = 0
            self._last_error.pop(state, None)
            if isinstance(moment, datetime):
                self._entered[state] = moment
            if kind == "WaitStateEntered":
                return f"[yellow]waiting[/yellow] {escape(state)}: {self._wait(state, moment)}"
            return f"[cyan]entered[/cyan] {escape(state)} ({kind[: -len('StateEntered')]})"
        if kind.endswith("StateExited"):
            name = str(event.get("stateExitedEventDetails", {}).get("name", state or "?"))
            entered = self._entered.pop(name, None)
            took = (
                f" after {_duration(moment - entered)}"
                if isinstance(moment, datetime) and entered is not None
                else ""
            )
            return f"[green]exited[/green] {escape(name)}{took}"
        if kind in _TASK_SCHEDULED and state is not None:
            self._attempts[state] = self._attempts.get(state, 0) + 1
            retry = self._attempts[state] - 1
            if retry > 0:
                after = self._last_error.get(state, "an error")
                return f"[magenta]retry {retry}[/magenta] of {escape(state)} after {escape(after)}"
            return None
        if kind in _TASK_FAILURES:
            details = event.get(_TASK_FAILURES[kind], {})
            error = str(details.get("error") or kind)
            if state is not None:
                self._last_error[state] = error
            return (
                f"[red]task failed[/red] in {escape(state or '?')}: {escape(error)}: "
                f"{escape(_shorten(details.get('cause')))}"
            )
        if kind == "MapIterationFailed":
            details = event.get("mapIterationFailedEventDetails", {})
            return (
                f"[red]iteration {details.get('index', '?')} of {escape(state or '?')} failed[/red]"
            )
        if kind in _EXECUTION_ENDS:
            style, text, details_field = _EXECUTION_ENDS[kind]
            ended = event.get(details_field, {}) if details_field else {}
            suffix = f": {escape(str(ended['error']))}" if ended.get("error") else ""
            return f"[bold {style}]{text}[/bold {style}]{suffix}"
        return None

    def _wait(self, state: str, moment: Any) -> str:
        definition = self.states.get(state, {})
        seconds = definition.get("Seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            until = (
                f" (until {_time(moment + timedelta(seconds=seconds))})"
                if isinstance(moment, datetime)
                else ""
            )
            return f"{_duration(timedelta(seconds=seconds))}{until}"
        if isinstance(definition.get("Timestamp"), str):
            return f"until {definition['Timestamp']}"
        for path in ("SecondsPath", "TimestampPath"):
            if isinstance(definition.get(path), str):
                return f"{path} {definition[path]}"
        return "as defined"


def outcome_lines(description: Mapping[str, Any]) -> tuple[int, list[str]]:
    """Exit code and the final lines of a finished execution."""
    status = str(description.get("status"))
    if status in _FAILED_STATUSES:
        error = description.get("error") or "(no error name)"
        cause = description.get("cause") or "(no cause recorded)"
        return EXIT_RUN_FAILED, [
            f"[bold red]{status}[/bold red]: {escape(str(error))}",
            f"Cause: {escape(str(cause))}",
        ]
    output = _object(description.get("output"))
    outcome = output.get("outcome")
    gate = output["gate"] if isinstance(output.get("gate"), dict) else {}
    report = output.get("report_uri", "(no report)")
    if outcome == "DEPLOYED":
        return EXIT_OK, [
            f"[bold green]DEPLOYED[/bold green]: {escape(str(output.get('project_version_arn')))} "
            "passed the quality gate, is RUNNING and is published to inference",
            f"Gate: {escape(_gate_text({**gate, 'passed': True}, spelled_out=True))}",
            f"Report: {escape(str(report))}",
        ]
    if outcome == "REJECTED":
        lines = [
            f"[bold yellow]{REJECTED}[/bold yellow]: "
            f"{escape(str(output.get('project_version_arn')))}"
            " did not pass the quality gate; the version is kept, not started",
            f"Gate: {escape(_gate_text({**gate, 'passed': False}, spelled_out=True))}",
        ]
        lines += [f"  - {escape(str(reason))}" for reason in gate.get("reasons", [])]
        lines.append(f"Report: {escape(str(report))}")
        return EXIT_OK, lines
    return EXIT_OK, [f"[bold]{escape(status)}[/bold] without an outcome: {escape(str(output))}"]


def command_train_watch(arguments: argparse.Namespace) -> int:
    arn = arguments.execution_arn
    match = _EXECUTION_ARN.fullmatch(arn)
    if match is None:
        raise UsageError(f"{arn}: not a Step Functions execution ARN")
    if arguments.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    if arguments.timeout <= 0:
        raise UsageError("--timeout must be a positive number of minutes")
    stepfunctions = client("stepfunctions", match["region"])
    console = Console()
    try:
        description = stepfunctions.describe_execution(executionArn=arn)
    except ClientError as error:
        raise UsageError(f"cannot describe execution {arn}: {error}") from error
    printer = EventPrinter(console, states=_definition_states(stepfunctions, arn))
    console.print(
        f"Watching [bold]{escape(description['name'])}[/bold] "
        f"(started {_time(description.get('startDate'))} UTC)",
        highlight=False,
    )
    print(f"Console: {console_url(arn)}")
    follower = HistoryFollower(stepfunctions, arn)
    deadline = clock() + arguments.timeout * 60
    try:
        with console.status("waiting for the first events") as spinner:
            while True:
                for event in follower.new_events():
                    printer.show(event)
                description = stepfunctions.describe_execution(executionArn=arn)
                if description["status"] != "RUNNING":
                    for event in follower.new_events():
                        printer.show(event)
                    break
                if clock() >= deadline:
                    console.print(
                        f"[yellow]Still RUNNING in {escape(printer.current)} after "
                        f"{arguments.timeout:g} minutes; stopped watching (the run goes on).",
                        highlight=False,
                    )
                    return EXIT_STILL_RUNNING
                spinner.update(f"{printer.current} (checking every {arguments.interval:g} s)")
                sleep(arguments.interval)
    except KeyboardInterrupt:
        console.print("Stopped watching; the execution goes on.", highlight=False)
        print(f"Resume with: python -m ops train watch {arn}")
        return EXIT_INTERRUPTED
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot read the history of {arn}: {error}") from error
    code, lines = outcome_lines(description)
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    return code


def _definition_states(stepfunctions: Any, arn: str) -> dict[str, dict[str, Any]]:
    """States of the execution's definition (for the Wait durations); empty if unavailable."""
    try:
        machine = stepfunctions.describe_state_machine_for_execution(executionArn=arn)
    except (ClientError, BotoCoreError):
        return {}
    return _state_definitions(_json(machine.get("definition")))


# --------------------------------------------------------------------------------------------
# train list
# --------------------------------------------------------------------------------------------


def command_train_list(arguments: argparse.Namespace) -> int:
    if not 1 <= arguments.limit <= 1000:
        raise UsageError("--limit must be between 1 and 1000")
    config = environment(arguments.env)
    outputs = stack_outputs(config, CONCERN, client("cloudformation", config.region))
    state_machine = _output(outputs, STATE_MACHINE_OUTPUT, CONCERN)
    stepfunctions = client("stepfunctions", config.region)
    try:
        executions = stepfunctions.list_executions(
            stateMachineArn=state_machine, maxResults=arguments.limit
        )["executions"][: arguments.limit]
        descriptions = [
            stepfunctions.describe_execution(executionArn=item["executionArn"])
            for item in executions
        ]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot list the executions of {state_machine}: {error}") from error
    console = Console()
    if not descriptions:
        console.print(f"No training runs yet ({state_machine}).", highlight=False)
        return EXIT_OK
    table = Table(title=f"Training runs ({config.name}), newest first")
    for column in (
        "Name",
        "Status",
        "Started (UTC)",
        "Stopped (UTC)",
        "Outcome",
        "Gate",
        "Version",
    ):
        table.add_column(column)
    for description in descriptions:
        table.add_row(*(escape(cell) for cell in _execution_row(description)))
    console.print(table)
    return EXIT_OK


def _execution_row(description: Mapping[str, Any]) -> list[str]:
    status = str(description.get("status"))
    output = _object(description.get("output"))
    version = _object(description.get("input")).get("version_name")
    if status in _FAILED_STATUSES:
        outcome = str(description.get("error") or status)
    else:
        outcome = str(output.get("outcome") or ("" if status == "RUNNING" else status))
    gate = output.get("gate")
    return [
        str(description.get("name")),
        status,
        _time(description.get("startDate")),
        _time(description.get("stopDate")) if description.get("stopDate") else "",
        outcome,
        _gate_text(gate) if isinstance(gate, dict) else "",
        str(version or version_name_for(str(description.get("name")))),
    ]


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _check_fraction(option: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise UsageError(f"{option}: a number in [0, 1], got {value:g}")


def report_gate(arguments: argparse.Namespace, base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The gate to judge with: ``base`` (the environment's) overridden by the options."""
    if arguments.gate_metric is not None and arguments.gate_metric not in GATE_METRICS:
        raise UsageError(
            f"--gate-metric: one of {', '.join(GATE_METRICS)}; got {arguments.gate_metric!r}"
        )
    _check_fraction("--gate-threshold", arguments.gate_threshold)
    _check_fraction("--min-label-recall", arguments.min_label_recall)
    gate: dict[str, Any] = dict(base or {})
    for key, value in (
        ("metric", arguments.gate_metric),
        ("threshold", arguments.gate_threshold),
        ("min_label_recall", arguments.min_label_recall),
    ):
        if value is not None:
            gate[key] = value
    return gate


def command_report(arguments: argparse.Namespace) -> int:
    local = [
        o for o, v in (("--manifest", arguments.manifest), ("--summary", arguments.summary)) if v
    ]
    remote = [
        o
        for o, v in (
            ("--env", arguments.env),
            ("--project", arguments.project),
            ("--version", arguments.version),
        )
        if v
    ]
    if local and remote:
        raise UsageError(
            f"{' '.join(local)} (local files) and {' '.join(remote)} (a trained version) are "
            "mutually exclusive"
        )
    if not local and not remote:
        raise UsageError(
            "give --manifest and --summary (local files), or --env and --version (a trained "
            "version)"
        )
    if local:
        evaluation, source = _local_evaluation(arguments)
    else:
        evaluation, source = _version_evaluation(arguments)
    return _write_report(evaluation, source, Path(arguments.out))


def _local_evaluation(arguments: argparse.Namespace) -> tuple[Evaluation, str]:
    if not (arguments.manifest and arguments.summary):
        raise UsageError("local files: give both --manifest and --summary")
    gate: dict[str, Any] | None = None
    if any(
        value is not None
        for value in (arguments.gate_metric, arguments.gate_threshold, arguments.min_label_recall)
    ):
        if arguments.gate_metric is None or arguments.gate_threshold is None:
            raise UsageError(
                "local files: a gate needs both --gate-metric and --gate-threshold (there is no "
                "environment gate to complete it)"
            )
        gate = report_gate(arguments, None)
    try:
        data = parse_manifest(arguments.manifest, load_summary(arguments.summary))
    except ManifestError as error:
        raise UsageError(str(error)) from error
    return _judge(data, gate, None), arguments.manifest


def _version_evaluation(arguments: argparse.Namespace) -> tuple[Evaluation, str]:
    if not (arguments.env and arguments.version):
        raise UsageError("a trained version: give --env and --version (and --project if needed)")
    config = environment(arguments.env)
    gate = report_gate(arguments, default_gate(config))
    project = arguments.project or config.rekognition.project_name
    rekognition = client("rekognition", config.region)
    try:
        projects = rekognition.describe_projects(ProjectNames=[project])["ProjectDescriptions"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot describe project {project!r}: {error}") from error
    if not projects:
        raise UsageError(f"--project: no project named {project!r} in this account and region")
    try:
        versions = rekognition.describe_project_versions(
            ProjectArn=projects[0]["ProjectArn"], VersionNames=[arguments.version]
        )["ProjectVersionDescriptions"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot describe version {arguments.version!r}: {error}") from error
    if not versions:
        raise UsageError(f"--version: project {project!r} has no version {arguments.version!r}")
    description = versions[0]
    try:
        sources = evaluation_sources(description)
    except EvaluationMissing as error:
        status = description.get("Status", "?")
        hint = {
            "TRAINING_IN_PROGRESS": "training has not finished",
            "TRAINING_FAILED": "training failed",
        }.get(status, "it was not evaluated")
        message = description.get("StatusMessage")
        raise UsageError(
            f"version {arguments.version!r} has no evaluation: {hint} (status {status}"
            f"{f': {message}' if message else ''}); {error}"
        ) from error
    try:
        data = read_evaluation(client("s3", config.region), sources)
    except ManifestError as error:
        raise UsageError(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot read the evaluation files: {error}") from error
    return _judge(data, gate, sources.service_f1), description.get("ProjectVersionArn", "")


def _judge(data: Any, gate: dict[str, Any] | None, service_f1: float | None) -> Evaluation:
    try:
        evaluation: Evaluation = evaluate(data, gate, service_f1)
    except GateMetricMissing as error:
        raise UsageError(f"--gate-metric: {error}") from error
    return evaluation


def _write_report(evaluation: Evaluation, source: str, out: Path) -> int:
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, (content, _content_type) in evaluation.files().items():
            (out / name).write_bytes(content)
            paths.append(out / name)
    except OSError as error:
        raise UsageError(f"--out: cannot write the report into {out}: {error}") from error
    report = evaluation.report
    console = Console()
    print(f"Evaluation of {source}")
    table = Table(show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("Task", report["task"].replace("_", "-"))
    table.add_row("Test images", str(report["n_images"]))
    table.add_row("Labels", str(len(report["labels"])))
    for name, value in sorted(evaluation.aggregates.items()):
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    verdict = evaluation.verdict
    if verdict is None:
        console.print("Gate: none given", highlight=False)
    else:
        colour = "green" if verdict["passed"] else "red"
        word, _, text = _gate_text(verdict, spelled_out=True).partition(" ")
        console.print(f"Gate: [{colour}]{word}[/{colour}] {escape(text)}", highlight=False)
        for reason in verdict["reasons"]:
            console.print(f"  - {escape(reason)}", highlight=False)
    for path in paths:
        print(f"Wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def _add_gate_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--gate-metric", metavar="M", help=f"gate metric ({', '.join(GATE_METRICS)}); {default}"
    )
    parser.add_argument("--gate-threshold", type=float, metavar="X", help="in [0, 1]")
    parser.add_argument(
        "--min-label-recall", type=float, metavar="X", help="per-label recall floor, in [0, 1]"
    )


def register(commands: Any) -> None:
    """Add ``train start|watch|list`` and ``report`` to the ``python -m ops`` subparsers."""
    train = commands.add_parser("train", help="Rekognition training runs: start, watch, list")
    actions = train.add_subparsers(dest="action", required=True, metavar="ACTION")

    start = actions.add_parser(
        "start", help="validate a training request and start the training workflow"
    )
    start.add_argument("--env", required=True, help="environment name from cdk.json")
    start.add_argument("--manifest", metavar="S3_URI", help="training Ground Truth manifest")
    start.add_argument("--dataset-arn", metavar="ARN", help="training dataset to copy")
    start.add_argument(
        "--use-existing-datasets",
        action="store_true",
        help="train on the project's current datasets",
    )
    start.add_argument("--test-manifest", metavar="S3_URI", help="test manifest (default: split)")
    start.add_argument("--test-dataset-arn", metavar="ARN", help="test dataset to copy")
    start.add_argument("--version", metavar="NAME", help="version name (default v-<name>)")
    _add_gate_options(start, "default: the environment's quality_gate")
    start.add_argument("--name", metavar="EXECUTION_NAME", help="execution name (default: dated)")
    start.set_defaults(handler=command_train_start)

    watch = actions.add_parser("watch", help="follow a training run step by step until it ends")
    watch.add_argument("execution_arn", metavar="EXECUTION_ARN")
    watch.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between checks (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    watch.add_argument(
        "--timeout",
        type=float,
        metavar="MINUTES",
        default=DEFAULT_WATCH_TIMEOUT_MINUTES,
        help=f"minutes to watch at most (default {DEFAULT_WATCH_TIMEOUT_MINUTES:g})",
    )
    watch.set_defaults(handler=command_train_watch)

    listing = actions.add_parser("list", help="recent training runs and their outcomes")
    listing.add_argument("--env", required=True, help="environment name from cdk.json")
    listing.add_argument("--limit", type=int, default=10, metavar="N", help="how many (default 10)")
    listing.set_defaults(handler=command_train_list)

    report = commands.add_parser(
        "report",
        help="evaluation report (metrics.json, report.html) of local files or a trained version",
    )
    report.add_argument("--manifest", metavar="PATH", help="evaluation manifest snapshot file")
    report.add_argument("--summary", metavar="PATH", help="training results summary file")
    report.add_argument("--env", help="environment name from cdk.json (a trained version)")
    report.add_argument("--project", metavar="NAME", help="default: rekognition.project_name")
    report.add_argument("--version", metavar="NAME", help="model version name")
    report.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    _add_gate_options(report, "default: the environment's quality_gate, none for local files")
    report.set_defaults(handler=command_report)

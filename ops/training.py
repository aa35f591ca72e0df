"""Operator commands for Rekognition Custom Labels training runs and evaluation reports.

    ops train start --env dev --manifest s3://DATA_BUCKET/manifests/train.manifest
    ops train watch EXECUTION_ARN [--interval SECONDS] [--timeout MINUTES]
    ops train list --env dev [--limit N]
    ops report --manifest PATH --summary PATH --out DIR
    ops report --env dev --version NAME --out DIR

``train start`` checks the request with the workflow's own ``normalize_job`` (the code of its
``ValidateInput`` state) before any AWS call, and again with the data bucket once it is known,
before anything starts or bills. ``train watch`` keeps one live status line (the state, the
checks of the current polling loop against its bound, elapsed time, when the next check is due
and when the loop gives up) and prints only what changes the story: a new step, a loop begun or
finished, a failed attempt, a retry, the end; then a summary. ``report`` runs the ``Evaluate``
state's code (``rekognition_training.evaluation_sources``) on local files or on a trained
version, with a progress bar while it reads the manifest, and writes the same ``metrics.json``
and ``report.html`` the workflow stores.

Exit codes (``ops.common``): 0 success (``watch``: DEPLOYED or REJECTED), 1 the run FAILED,
TIMED_OUT or was ABORTED, 2 bad input (one line per problem), 3 environment problem,
4 ``watch --timeout`` reached while the run goes on, 130 ``watch`` interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ops.common import (  # puts lambda_src on sys.path
    EXIT_FAILING,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STILL_RUNNING,
    EXIT_USAGE,
    AwsEnvironmentError,
    UsageError,
    aws_client,
    aws_failure,
    count_between,
    environment,
    error_code,
    minutes,
    seconds,
    stack_outputs,
)
from stacks.config import EnvironmentConfig

# isort: split
from contracts.quality_gate import GATE_METRICS
from rekognition_training.evaluation_sources import (
    Evaluation,
    EvaluationMissing,
    EvaluationSources,
    evaluate,
    evaluation_sources,
    manifest_lines,
    read_summary,
)
from rekognition_training.gate import GateMetricMissing
from rekognition_training.job import (
    InvalidTrainingInput,
    normalize_job,
    version_name_for,
)
from shared.evaluation.manifest import (
    EvaluationSummary,
    ManifestError,
    load_summary,
    parse_manifest_lines,
)
from shared.evaluation.verdict import REJECTED, figures, verdict_word
from shared.rekognition_lookup import ListingTooLong, find_project, find_version

CONCERN = "RekognitionTraining"
STATE_MACHINE_OUTPUT = "TrainingStateMachineArn"

EXIT_RUN_FAILED = EXIT_FAILING

#: The largest page GetExecutionHistory returns.
HISTORY_PAGE_SIZE = 1000
DEFAULT_INTERVAL_SECONDS = 15.0
#: Longer than a run with the default deadlines lasts; the workflow's own timeout ends it anyway.
DEFAULT_WATCH_TIMEOUT_MINUTES = 48 * 60.0
#: Without a terminal, the status line is printed at most this often (a 26-hour run: ~50 lines).
DEFAULT_STATUS_EVERY_MINUTES = 30.0
#: A manifest at least this large gets a progress bar while ``report`` reads it.
PROGRESS_BYTES = 8 * 1024 * 1024
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
_TASK_SUCCEEDED = {
    "TaskSucceeded": "taskSucceededEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
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
    return aws_client(service, region)


def sleep(seconds: float) -> None:
    """Pause between polls (a seam for the tests)."""
    time.sleep(seconds)


def clock() -> float:
    """Seconds on a monotonic clock (a seam for the tests)."""
    return time.monotonic()


def now() -> datetime:
    """The current time (a seam for the tests: elapsed times are measured against it)."""
    return datetime.now(UTC)


def make_console() -> Console:
    """The console commands print to (a seam: tests force a terminal to see the live line)."""
    return Console()


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
        raise AwsEnvironmentError(
            f"stack {stack} has no output {key}: deploy the current app"
        ) from None


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
        return _refuse(problems)

    cloudformation = client("cloudformation", config.region)
    training_stack = stack_outputs(config, CONCERN, cloudformation)
    state_machine = _output(training_stack, STATE_MACHINE_OUTPUT, CONCERN)
    data_bucket = _output(
        stack_outputs(config, "Storage", cloudformation), "DataBucketName", "Storage"
    )
    job, problems = _job(request, arguments, config, name, data_bucket)
    if job is None:
        return _refuse(problems)
    problems = _missing_manifests(client("s3", config.region), job, arguments)
    if problems:
        return _refuse(problems)

    try:
        started = client("stepfunctions", config.region).start_execution(
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


def _successors(state: Mapping[str, Any]) -> set[str]:
    names = {state.get("Next"), state.get("Default")}
    for branch in [*(state.get("Choices") or []), *(state.get("Catch") or [])]:
        if isinstance(branch, dict):
            names.add(branch.get("Next"))
    return {name for name in names if isinstance(name, str)}


def _reachable(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen, pending = {start}, [start]
    while pending:
        for following in edges.get(pending.pop(), set()):
            if following not in seen:
                seen.add(following)
                pending.append(following)
    return seen


def _number_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class PollingLoop:
    """A bounded polling loop of the workflow: ``Wait -> Describe -> ... -> <label>Deadline?``.

    The workflows build every poll the same way (``stacks/pipelines/rekognition_training/``,
    ``_polling_loop``): a counter compared with ``max_polls`` by a Choice named
    ``<label>Deadline?``. The loop's states are the cycle through that Choice.
    """

    label: str
    states: frozenset[str]
    wait_states: frozenset[str]
    max_polls: int | None
    interval_seconds: float | None


def polling_loops(states: Mapping[str, Mapping[str, Any]]) -> list[PollingLoop]:
    """The polling loops of a definition (its states by name, see :func:`_state_definitions`)."""
    edges = {name: _successors(state) for name, state in states.items()}
    reverse: dict[str, set[str]] = {}
    for name, following in edges.items():
        for successor in following:
            reverse.setdefault(successor, set()).add(name)
    loops = []
    for name, state in states.items():
        if state.get("Type") != "Choice" or not name.endswith("Deadline?"):
            continue
        cycle = _reachable(name, edges) & _reachable(name, reverse)
        if len(cycle) < 2:
            continue
        limits = [
            _number_or_none(choice.get("NumericGreaterThanEquals"))
            for choice in state.get("Choices") or []
            if isinstance(choice, dict)
        ]
        limit = next((int(value) for value in limits if value is not None), None)
        waits = frozenset(n for n in cycle if states.get(n, {}).get("Type") == "Wait")
        intervals = [_number_or_none(states[n].get("Seconds")) for n in sorted(waits)]
        loops.append(
            PollingLoop(
                label=name[: -len("Deadline?")],
                states=frozenset(cycle),
                wait_states=waits,
                max_polls=limit,
                interval_seconds=next((i for i in intervals if i is not None), None),
            )
        )
    return loops


def _duration(delta: timedelta) -> str:
    seconds = max(round(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _clock_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S")


def _shorten(text: Any, limit: int = _CAUSE_CHARACTERS) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _service_status(output: Any) -> str | None:
    """The first ``Status`` string of a task's result (DescribeProjectVersions, DescribeDataset)."""
    pending = [_json(output)]
    while pending:
        node = pending.pop(0)
        if isinstance(node, dict):
            status = node.get("Status")
            if isinstance(status, str):
                return status
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return None


@dataclass
class LoopProgress:
    """What one pass through a polling loop has done so far."""

    loop: PollingLoop
    entered: datetime | None
    checks: int = 0
    status: str | None = None
    next_check: datetime | None = None

    @property
    def gives_up(self) -> datetime | None:
        """When the loop's counter reaches ``max_polls`` (about: each check takes a little)."""
        loop = self.loop
        if self.entered is None or loop.max_polls is None or loop.interval_seconds is None:
            return None
        return self.entered + timedelta(seconds=loop.max_polls * loop.interval_seconds)


@dataclass
class RunTracker:
    """Turns an execution's history into a few lines worth keeping, a status line and a summary.

    A 26-hour training polls about 312 times, ten history events each: printing every event
    (as a first version of ``watch`` did) buries the story in 3,000 lines. Here a step is
    reported when it is first entered, a polling loop when it begins and ends (with its check
    count and duration), every failed attempt and retry, and the end; the checks themselves
    only move the status line.
    """

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: datetime | None = None
    timeout_seconds: float | None = None
    current: str = "starting"
    events: int = 0
    retries: int = 0
    task_failures: int = 0
    finished: datetime | None = None
    loops: list[PollingLoop] = field(default_factory=list)
    progress: LoopProgress | None = None
    #: (label, checks, duration) of every polling loop finished so far, in order.
    finished_loops: list[tuple[str, int, timedelta | None]] = field(default_factory=list)
    _owner: dict[int, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _attempts: dict[str, int] = field(default_factory=dict)
    _last_error: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loops = polling_loops(self.states)

    def loop_of(self, state: str) -> PollingLoop | None:
        for loop in self.loops:
            if state in loop.states:
                return loop
        return None

    def observe(self, event: Mapping[str, Any]) -> list[str]:
        """Lines (rich markup) this event adds to the story, often none."""
        self.events += 1
        kind, moment = str(event.get("type", "")), event.get("timestamp")
        when = moment if isinstance(moment, datetime) else None
        state = self._owner.get(event.get("previousEventId", 0))
        if kind.endswith("StateEntered"):
            state = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
        if state is not None:
            self._owner[event["id"]] = state

        if kind == "ExecutionStarted":
            self.started = self.started or when
            return ["[bold]execution started[/bold]"]
        if kind.endswith("StateEntered") and state is not None:
            return self._entered(state, kind, when)
        if kind in _TASK_SUCCEEDED and state is not None:
            status = _service_status(event.get(_TASK_SUCCEEDED[kind], {}).get("output"))
            if status is not None and self.progress is not None:
                self.progress.status = status
            return []
        if kind in _TASK_SCHEDULED and state is not None:
            self._attempts[state] = self._attempts.get(state, 0) + 1
            retry = self._attempts[state] - 1
            if retry > 0:
                self.retries += 1
                after = self._last_error.get(state, "an error")
                return [
                    f"[magenta]retry {retry}[/magenta] of {escape(state)} after {escape(after)}"
                ]
            return []
        if kind in _TASK_FAILURES:
            self.task_failures += 1
            details = event.get(_TASK_FAILURES[kind], {})
            error = str(details.get("error") or kind)
            if state is not None:
                self._last_error[state] = error
            return [
                f"[red]task failed[/red] in {escape(state or '?')}: {escape(error)}: "
                f"{escape(_shorten(details.get('cause')))}"
            ]
        if kind == "MapIterationFailed":
            details = event.get("mapIterationFailedEventDetails", {})
            return [
                f"[red]iteration {details.get('index', '?')} of {escape(state or '?')} failed[/red]"
            ]
        if kind in _EXECUTION_ENDS:
            self.finished = when
            lines = self._leave_loop(when)
            style, text, details_field = _EXECUTION_ENDS[kind]
            ended = event.get(details_field, {}) if details_field else {}
            suffix = f": {escape(str(ended['error']))}" if ended.get("error") else ""
            return [*lines, f"[bold {style}]{text}[/bold {style}]{suffix}"]
        return []

    def _entered(self, state: str, kind: str, when: datetime | None) -> list[str]:
        self.current = state
        self._attempts[state] = 0
        self._last_error.pop(state, None)
        lines: list[str] = []
        loop = self.loop_of(state)
        if self.progress is not None and self.progress.loop is not loop:
            lines += self._leave_loop(when)
        if loop is not None:
            if self.progress is None:
                self.progress = LoopProgress(loop, when)
                lines.append(self._loop_begins(self.progress))
            if state in loop.wait_states:
                self.progress.checks += 1
                interval = loop.interval_seconds
                self.progress.next_check = (
                    when + timedelta(seconds=interval) if when and interval is not None else None
                )
            return lines
        first = state not in self._seen
        self._seen.add(state)
        if not first or any(state == f"Init{loop.label}Polls" for loop in self.loops):
            return lines  # a loop's counter reset: the loop's own line follows
        if kind == "WaitStateEntered":
            lines.append(f"[yellow]waiting[/yellow] {escape(state)}: {self._wait(state, when)}")
        else:
            lines.append(f"[cyan]entered[/cyan] {escape(state)} ({kind[: -len('StateEntered')]})")
        return lines

    def _loop_begins(self, progress: LoopProgress) -> str:
        loop = progress.loop
        every = (
            f" every {_duration(timedelta(seconds=loop.interval_seconds))}"
            if loop.interval_seconds is not None
            else ""
        )
        bound = f", at most {loop.max_polls} checks" if loop.max_polls is not None else ""
        gives_up = progress.gives_up
        until = f" (gives up about {_time(gives_up)} UTC)" if gives_up is not None else ""
        return f"[yellow]polling[/yellow] {escape(loop.label)}{every}{bound}{until}"

    def _leave_loop(self, when: datetime | None) -> list[str]:
        progress, self.progress = self.progress, None
        if progress is None:
            return []
        took = when - progress.entered if when and progress.entered else None
        self.finished_loops.append((progress.loop.label, progress.checks, took))
        status = f", last status {progress.status}" if progress.status else ""
        after = f" in {_duration(took)}" if took is not None else ""
        return [
            f"[green]done polling[/green] {escape(progress.loop.label)}: "
            f"{progress.checks} check{'s' if progress.checks != 1 else ''}{after}{escape(status)}"
        ]

    def _wait(self, state: str, moment: datetime | None) -> str:
        definition = self.states.get(state, {})
        seconds = _number_or_none(definition.get("Seconds"))
        if seconds is not None:
            until = f" (until {_time(moment + timedelta(seconds=seconds))})" if moment else ""
            return f"{_duration(timedelta(seconds=seconds))}{until}"
        if isinstance(definition.get("Timestamp"), str):
            return f"until {definition['Timestamp']}"
        for path in ("SecondsPath", "TimestampPath"):
            if isinstance(definition.get(path), str):
                return f"{path} {definition[path]}"
        return "as defined"

    def status_line(self, moment: datetime) -> str:
        """``state, check n/max (STATUS), elapsed, next check, gives up``: plain text."""
        parts = [self.current]
        progress = self.progress
        if progress is not None:
            bound = f"/{progress.loop.max_polls}" if progress.loop.max_polls is not None else ""
            status = f" ({progress.status})" if progress.status else ""
            parts[0] = f"{progress.loop.label}: check {progress.checks}{bound}{status}"
        if self.started is not None:
            parts.append(f"elapsed {_duration(moment - self.started)}")
        if progress is not None and progress.next_check is not None:
            if progress.next_check > moment:
                parts.append(f"next check {_clock_time(progress.next_check)} UTC")
            if progress.gives_up is not None:
                parts.append(f"gives up about {_time(progress.gives_up)} UTC")
        elif self.started is not None and self.timeout_seconds is not None:
            deadline = self.started + timedelta(seconds=self.timeout_seconds)
            parts.append(f"run times out {_time(deadline)} UTC")
        return ", ".join(parts)

    def summary(self, status: str, moment: datetime) -> str:
        """One line: how long, what was polled how often, retries, failures, history size."""
        end = self.finished or moment
        took = f" after {_duration(end - self.started)}" if self.started is not None else ""
        loops: dict[str, list[Any]] = {}
        for label, checks, spent in self.finished_loops:
            total = loops.setdefault(label, [0, timedelta()])
            total[0] += checks
            total[1] += spent or timedelta()
        polled = "; ".join(
            f"{label} {checks} check{'s' if checks != 1 else ''} ({_duration(spent)})"
            for label, (checks, spent) in loops.items()
        )
        parts = [
            f"Summary: {status}{took}",
            *([f"polled {polled}"] if polled else []),
            f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}",
            f"{self.task_failures} failed attempt{'' if self.task_failures == 1 else 's'}",
            f"{self.events} history events",
        ]
        return "; ".join(parts)


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
        lines = [
            f"[bold green]DEPLOYED[/bold green]: {escape(str(output.get('project_version_arn')))} "
            "passed the quality gate, is RUNNING and is published to inference",
            f"Gate: {escape(_gate_text({**gate, 'passed': True}, spelled_out=True))}",
            f"Report: {escape(str(report))}",
        ]
        warning = output.get("warning")
        if isinstance(warning, dict):
            # The deployment stands; the previous version could not be stopped and still bills.
            lines.append(
                f"[bold yellow]WARNING[/bold yellow]: {escape(str(warning.get('message')))}"
            )
        return EXIT_OK, lines
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


class StatusDisplay:
    """The status line: live (rich status) on a terminal, a plain line every so often otherwise.

    Story lines go through :meth:`line` so they appear above the live line.
    """

    def __init__(self, console: Console, every_seconds: float) -> None:
        self.console = console
        self.live = console.is_terminal
        self._every = every_seconds
        self._last: float | None = None
        self._status: Any = None

    def __enter__(self) -> StatusDisplay:
        if self.live:
            self._status = self.console.status("waiting for the first events")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def line(self, markup: str, moment: Any = None) -> None:
        stamp = f"[dim]{_time(moment)}[/dim]  " if moment is not None else ""
        self.console.print(f"{stamp}{markup}", highlight=False, soft_wrap=True)

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(escape(text))
            return
        moment = clock()
        if self._last is None or moment - self._last >= self._every:
            self._last = moment
            self.console.print(f"[dim]status[/dim] {escape(text)}", highlight=False, soft_wrap=True)


def command_train_watch(arguments: argparse.Namespace) -> int:
    arn = arguments.execution_arn
    match = _EXECUTION_ARN.fullmatch(arn)
    if match is None:
        raise UsageError(f"{arn}: not a Step Functions execution ARN")
    stepfunctions = client("stepfunctions", match["region"])
    console = make_console()
    try:
        description = stepfunctions.describe_execution(executionArn=arn)
    except ClientError as error:
        if error_code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
            raise UsageError(f"cannot describe execution {arn}: {error}") from error
        raise aws_failure(error, f"cannot describe execution {arn}") from error
    states, timeout_seconds = _definition_states(stepfunctions, arn)
    tracker = RunTracker(
        states=states, started=description.get("startDate"), timeout_seconds=timeout_seconds
    )
    console.print(
        f"Watching [bold]{escape(description['name'])}[/bold] "
        f"(started {_time(description.get('startDate'))} UTC)",
        highlight=False,
    )
    console.print(f"Console: {console_url(arn)}", highlight=False, soft_wrap=True)
    follower = HistoryFollower(stepfunctions, arn)
    deadline = clock() + arguments.timeout * 60
    display = StatusDisplay(console, arguments.status_every * 60)
    try:
        with display:
            while True:
                for event in follower.new_events():
                    for line in tracker.observe(event):
                        display.line(line, event.get("timestamp"))
                description = stepfunctions.describe_execution(executionArn=arn)
                if description["status"] != "RUNNING":
                    for event in follower.new_events():
                        for line in tracker.observe(event):
                            display.line(line, event.get("timestamp"))
                    break
                if clock() >= deadline:
                    display.line(
                        f"[yellow]Still RUNNING in {escape(tracker.current)} after "
                        f"{arguments.timeout:g} minutes; stopped watching (the run goes on)."
                    )
                    display.line(escape(tracker.summary("RUNNING", now())))
                    print(f"Resume with: ops train watch {arn}")
                    return EXIT_STILL_RUNNING
                display.update(
                    f"{tracker.status_line(now())} (checking every {arguments.interval:g} s)"
                )
                sleep(arguments.interval)
    except KeyboardInterrupt:
        console.print("Stopped watching; the execution goes on.", highlight=False)
        print(f"Resume with: ops train watch {arn}")
        return EXIT_INTERRUPTED
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot read the history of {arn}") from error
    code, lines = outcome_lines(description)
    console.print(
        escape(tracker.summary(str(description["status"]), now())), highlight=False, soft_wrap=True
    )
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    return code


def _definition_states(
    stepfunctions: Any, arn: str
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """States of the execution's definition (loops, Wait durations) and its TimeoutSeconds;
    empty if unavailable (the watch still works, with less detail)."""
    try:
        machine = stepfunctions.describe_state_machine_for_execution(executionArn=arn)
    except (ClientError, BotoCoreError):
        return {}, None
    definition = _json(machine.get("definition"))
    timeout = (
        _number_or_none(definition.get("TimeoutSeconds")) if isinstance(definition, dict) else None
    )
    return _state_definitions(definition), timeout


# --------------------------------------------------------------------------------------------
# train list
# --------------------------------------------------------------------------------------------


def command_train_list(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    outputs = stack_outputs(config, CONCERN, client("cloudformation", config.region))
    state_machine = _output(outputs, STATE_MACHINE_OUTPUT, CONCERN)
    stepfunctions = client("stepfunctions", config.region)
    try:
        # A page may hold fewer than asked for and a nextToken: read pages up to the limit.
        pages = stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine,
            PaginationConfig={"MaxItems": arguments.limit, "PageSize": arguments.limit},
        )
        executions = [item for page in pages for item in page["executions"]][: arguments.limit]
        descriptions = [
            stepfunctions.describe_execution(executionArn=item["executionArn"])
            for item in executions
        ]
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot list the executions of {state_machine}") from error
    console = make_console()
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
        if isinstance(output.get("warning"), dict):
            outcome += " (previous version still running)"
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


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count / 1e3:,.0f} kB"


@dataclass
class ReadingProgress:
    """Progress while ``report`` reads a manifest: a bar on a terminal, two lines otherwise;
    nothing for small manifests (they take well under a second)."""

    console: Console
    total_bytes: int
    label: str
    _done: int = 0
    _pending: int = 0
    _progress: Progress | None = None
    _task: Any = None

    def __enter__(self) -> ReadingProgress:
        if self.total_bytes < PROGRESS_BYTES:
            return self
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn(escape(self.label)),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total_bytes)
        else:
            self.console.print(f"Reading {self.label}: {_size(self.total_bytes)}", highlight=False)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, error, trace)
        elif self.total_bytes >= PROGRESS_BYTES and kind is None:
            self.console.print(f"Read {_size(self._done)} of {self.label}", highlight=False)

    def lines(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        """``lines`` as they are, counting their bytes (the bar moves every MiB)."""
        for line in lines:
            self._pending += len(line)
            if self._pending >= 1 << 20:
                self._advance()
            yield line
        self._advance()

    def _advance(self) -> None:
        self._done += self._pending
        if self._progress is not None:
            self._progress.advance(self._task, self._pending)
        self._pending = 0


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
        summary = load_summary(arguments.summary)
        data = _parse_local(arguments.manifest, summary)
    except ManifestError as error:
        raise UsageError(str(error)) from error
    return _judge(data, gate, None), arguments.manifest


def _parse_local(path: str, summary: EvaluationSummary) -> Any:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with block below
        size = Path(path).stat().st_size
    except OSError as exc:
        raise ManifestError(path, f"cannot read the manifest: {exc.strerror}") from exc
    with handle, ReadingProgress(make_console(), size, f"manifest {Path(path).name}") as reading:
        return parse_manifest_lines(reading.lines(handle), summary, source=path)


def _read_evaluation(s3: Any, sources: EvaluationSources) -> Any:
    """``read_evaluation`` of the Evaluate step, with a progress bar over the manifests."""
    summary = read_summary(s3, sources.summary)
    size = sum(
        int(s3.head_object(Bucket=source.bucket, Key=source.key).get("ContentLength", 0))
        for source in sources.manifests
    )
    label = f"evaluation manifest{'s' if len(sources.manifests) > 1 else ''}"
    with ReadingProgress(make_console(), size, label) as reading:
        return parse_manifest_lines(
            reading.lines(manifest_lines(s3, sources.manifests)),
            summary,
            source=sources.manifests[0].uri,
        )


def _version_evaluation(arguments: argparse.Namespace) -> tuple[Evaluation, str]:
    if not (arguments.env and arguments.version):
        raise UsageError("a trained version: give --env and --version (and --project if needed)")
    config = environment(arguments.env)
    gate = report_gate(arguments, default_gate(config))
    project = arguments.project or config.rekognition.project_name
    rekognition = client("rekognition", config.region)
    try:
        found = find_project(rekognition, project)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot describe project {project!r}") from error
    except ListingTooLong as error:
        raise AwsEnvironmentError(f"cannot describe project {project!r}: {error}") from error
    if found is None:
        raise UsageError(f"--project: no project named {project!r} in this account and region")
    try:
        description = find_version(rekognition, found["ProjectArn"], arguments.version)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot describe version {arguments.version!r}") from error
    except ListingTooLong as error:
        raise AwsEnvironmentError(
            f"cannot describe version {arguments.version!r}: {error}"
        ) from error
    if description is None:
        raise UsageError(f"--version: project {project!r} has no version {arguments.version!r}")
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
        data = _read_evaluation(client("s3", config.region), sources)
    except ManifestError as error:
        raise UsageError(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, "cannot read the evaluation files") from error
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
    console = make_console()
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
    """Add ``train start|watch|list`` and ``report`` to the ``ops`` subparsers."""
    train = commands.add_parser(
        "train",
        help="Rekognition training runs: start, watch, list",
        description="Start, follow and list runs of the environment's Rekognition Custom Labels "
        "training workflow (train, evaluate, gate, deploy).",
    )
    actions = train.add_subparsers(dest="action", required=True, metavar="ACTION")

    start = actions.add_parser(
        "start",
        help="validate a training request and start the training workflow",
        description="Check a training request with the workflow's own validation (sources, "
        "version name, gate) before any AWS call, check that the manifests exist in the data "
        "bucket, then start the run and print its execution ARN and console link. Give exactly "
        "one training source. Build a manifest with: ops manifest --env ENV FOLDER.",
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

    watch = actions.add_parser(
        "watch",
        help="follow a training run to its outcome with a live status line",
        description="Follow a training run: a live status line on a terminal (state, checks of "
        "the current polling loop against its bound, elapsed time, next check, when the loop "
        "gives up), a line per new step, polling loop, failed attempt or retry, then a summary "
        "and the outcome. Without a terminal the status line is printed every --status-every "
        "minutes. Only reads: Ctrl-C or --timeout stop the watching, never the run.",
    )
    watch.add_argument("execution_arn", metavar="EXECUTION_ARN")
    watch.add_argument(
        "--interval",
        type=seconds,
        metavar="SECONDS",
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between checks (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    watch.add_argument(
        "--timeout",
        type=minutes,
        metavar="MINUTES",
        default=DEFAULT_WATCH_TIMEOUT_MINUTES,
        help=f"minutes to watch at most (default {DEFAULT_WATCH_TIMEOUT_MINUTES:g})",
    )
    watch.add_argument(
        "--status-every",
        type=minutes,
        metavar="MINUTES",
        default=DEFAULT_STATUS_EVERY_MINUTES,
        help="without a terminal, minutes between status lines "
        f"(default {DEFAULT_STATUS_EVERY_MINUTES:g})",
    )
    watch.set_defaults(handler=command_train_watch)

    listing = actions.add_parser(
        "list",
        help="recent training runs and their outcomes",
        description="The newest training runs: name, status, start and stop, outcome, gate "
        "metric = value (threshold), version.",
    )
    listing.add_argument("--env", required=True, help="environment name from cdk.json")
    listing.add_argument(
        "--limit", type=count_between(1, 1000), default=10, metavar="N", help="1-1000 (default 10)"
    )
    listing.set_defaults(handler=command_train_list)

    report = commands.add_parser(
        "report",
        help="evaluation report (metrics.json, report.html) of local files or a trained version",
        description="Compute the evaluation report the training workflow stores (metrics, "
        "confusion matrix, gate verdict) from local files (--manifest, --summary) or from a "
        "trained version (--env, --version), and write metrics.json and report.html into --out. "
        "Large manifests show a progress bar.",
    )
    report.add_argument("--manifest", metavar="PATH", help="evaluation manifest snapshot file")
    report.add_argument("--summary", metavar="PATH", help="training results summary file")
    report.add_argument("--env", help="environment name from cdk.json (a trained version)")
    report.add_argument("--project", metavar="NAME", help="default: rekognition.project_name")
    report.add_argument("--version", metavar="NAME", help="model version name")
    report.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    _add_gate_options(report, "default: the environment's quality_gate, none for local files")
    report.set_defaults(handler=command_report)

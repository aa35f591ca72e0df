"""``ops train watch``: one live status line and the run's story, until it ends."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from ops import common, executions
from ops.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STILL_RUNNING,
    UsageError,
    aws_failure,
    error_code,
)
from ops.train.common import (
    EXIT_RUN_FAILED,
    FAILED_STATUSES,
    console_url,
    gate_text,
    json_object,
    json_or_none,
    timestamp,
)
from shared.evaluation.verdict import REJECTED

DEFAULT_INTERVAL_SECONDS = 15.0
#: Longer than a run with the default deadlines lasts; the workflow's own timeout ends it anyway.
DEFAULT_WATCH_TIMEOUT_MINUTES = 48 * 60.0
#: Without a terminal, the status line is printed at most this often (a 26-hour run: ~50 lines).
DEFAULT_STATUS_EVERY_MINUTES = 30.0

_EXECUTION_ARN = re.compile(
    r"arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):\d{12}:execution:[^:\s]+:[^:\s]+"
)

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
    pending = [json_or_none(output)]
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
        until = f" (gives up about {timestamp(gives_up)} UTC)" if gives_up is not None else ""
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
            until = f" (until {timestamp(moment + timedelta(seconds=seconds))})" if moment else ""
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
                parts.append(f"gives up about {timestamp(progress.gives_up)} UTC")
        elif self.started is not None and self.timeout_seconds is not None:
            deadline = self.started + timedelta(seconds=self.timeout_seconds)
            parts.append(f"run times out {timestamp(deadline)} UTC")
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
    if status in FAILED_STATUSES:
        error = description.get("error") or "(no error name)"
        cause = description.get("cause") or "(no cause recorded)"
        return EXIT_RUN_FAILED, [
            f"[bold red]{status}[/bold red]: {escape(str(error))}",
            f"Cause: {escape(str(cause))}",
        ]
    output = json_object(description.get("output"))
    outcome = output.get("outcome")
    gate = output["gate"] if isinstance(output.get("gate"), dict) else {}
    report = output.get("report_uri", "(no report)")
    if outcome == "DEPLOYED":
        lines = [
            f"[bold green]DEPLOYED[/bold green]: {escape(str(output.get('project_version_arn')))} "
            "passed the quality gate, is RUNNING and is published to inference",
            f"Gate: {escape(gate_text({**gate, 'passed': True}, spelled_out=True))}",
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
            f"Gate: {escape(gate_text({**gate, 'passed': False}, spelled_out=True))}",
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
        stamp = f"[dim]{timestamp(moment)}[/dim]  " if moment is not None else ""
        self.console.print(f"{stamp}{markup}", highlight=False, soft_wrap=True)

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(escape(text))
            return
        moment = executions.clock()
        if self._last is None or moment - self._last >= self._every:
            self._last = moment
            self.console.print(f"[dim]status[/dim] {escape(text)}", highlight=False, soft_wrap=True)


def command_train_watch(arguments: argparse.Namespace) -> int:
    arn = arguments.execution_arn
    match = _EXECUTION_ARN.fullmatch(arn)
    if match is None:
        raise UsageError(f"{arn}: not a Step Functions execution ARN")
    stepfunctions = common.aws_client("stepfunctions", match["region"])
    console = common.make_console()
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
        f"(started {timestamp(description.get('startDate'))} UTC)",
        highlight=False,
    )
    console.print(f"Console: {console_url(arn)}", highlight=False, soft_wrap=True)
    display = StatusDisplay(console, arguments.status_every * 60)

    def tell(events: list[dict[str, Any]]) -> None:
        for event in events:
            for line in tracker.observe(event):
                display.line(line, event.get("timestamp"))

    def status(_: dict[str, Any]) -> None:
        checking = f"(checking every {arguments.interval:g} s)"
        display.update(f"{tracker.status_line(executions.now())} {checking}")

    try:
        with display:
            try:
                description = executions.follow(
                    stepfunctions,
                    arn,
                    interval_seconds=arguments.interval,
                    timeout_seconds=arguments.timeout * 60,
                    on_events=tell,
                    on_running=status,
                )
            except executions.StillRunning:
                display.line(
                    f"[yellow]Still RUNNING in {escape(tracker.current)} after "
                    f"{arguments.timeout:g} minutes; stopped watching (the run goes on)."
                )
                display.line(escape(tracker.summary("RUNNING", executions.now())))
                print(f"Resume with: ops train watch {arn}")
                return EXIT_STILL_RUNNING
    except KeyboardInterrupt:
        console.print("Stopped watching; the execution goes on.", highlight=False)
        print(f"Resume with: ops train watch {arn}")
        return EXIT_INTERRUPTED
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot read the history of {arn}") from error
    code, lines = outcome_lines(description)
    console.print(
        escape(tracker.summary(str(description["status"]), executions.now())),
        highlight=False,
        soft_wrap=True,
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
    definition = json_or_none(machine.get("definition"))
    timeout = (
        _number_or_none(definition.get("TimeoutSeconds")) if isinstance(definition, dict) else None
    )
    return _state_definitions(definition), timeout

"""``ops train watch``: following a run to its end, its loops and its summary."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from ops import common, executions
from ops.cli import main
from ops.train import listing, watch
from tests.unit.ops_training.support import (
    ACCOUNT,
    ARTIFACTS,
    EXECUTION,
    GATE,
    PROJECT,
    REGION,
    T0,
    Aws,
    ScriptedStepFunctions,
    _outcome,
    error_line,
    version_arn,
)

# --- train watch (moto-executed stand-in) ------------------------------------------------------


def test_watch_a_deployed_run(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    arn = aws.run("run-deployed", {"simulate": "deployed"})["executionArn"]

    assert main(["train", "watch", arn]) == 0

    out = capsys.readouterr().out
    for fragment in (
        "execution started",
        "entered ValidateInput (Pass)",
        "entered Simulate? (Choice)",
        "waiting WaitTraining: 0 s (until ",
        "entered DeployedOutcome (Pass)",
        "Summary: SUCCEEDED after ",
        "execution succeeded",
        f"DEPLOYED: {version_arn('v')} passed the quality gate",
        "Gate: PASSED f1_score = 0.9300 (threshold 0.8500)",
        f"Report: s3://{ARTIFACTS}/reports/{PROJECT}/v/report.html",
        f"/v2/executions/details/{arn}",
    ):
        assert fragment in out, fragment
    # States in the order they ran, each reported once.
    assert out.index("entered ValidateInput") < out.index("entered Simulate?")
    assert out.index("entered Simulate?") < out.index("waiting WaitTraining")
    assert out.count("entered DeployedOutcome") == 1


def test_a_deployment_that_left_the_previous_version_running_says_so() -> None:
    previous = version_arn("v-old")
    message = f"The previous version {previous} is still RUNNING: stopping it failed (...)"
    description = {
        "status": "SUCCEEDED",
        "name": "run-warned",
        "input": "{}",
        "output": json.dumps(
            {
                **_outcome("DEPLOYED", GATE),
                "warning": {"previous_version_still_running": previous, "message": message},
            }
        ),
    }

    code, lines = watch.outcome_lines(description)

    assert code == 0
    assert lines[0].startswith("[bold green]DEPLOYED")
    assert lines[-1] == f"[bold yellow]WARNING[/bold yellow]: {message}"
    assert listing._execution_row(description)[4] == "DEPLOYED (previous version still running)"


def test_watch_a_rejected_run_shows_the_gap(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    arn = aws.run("run-rejected", {"simulate": "rejected"})["executionArn"]

    assert main(["train", "watch", arn]) == 0

    out = capsys.readouterr().out
    assert "REJECTED:" in out
    assert "did not pass the quality gate; the version is kept, not started" in out
    assert "Gate: REJECTED f1_macro = 0.7100 (threshold 0.9000), gap -0.1900" in out
    assert "- f1_macro 0.7100 is below the threshold 0.9000" in out
    assert f"Report: s3://{ARTIFACTS}/reports/{PROJECT}/v/report.html" in out
    assert "DEPLOYED" not in out


def test_watch_a_failed_run_shows_error_and_cause(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = aws.run("run-failed", {"simulate": "failed"})["executionArn"]

    assert main(["train", "watch", arn]) == 1

    out = capsys.readouterr().out
    assert "entered TrainingFailed (Fail)" in out
    assert "execution failed: TrainingFailed" in out
    assert "FAILED: TrainingFailed" in out
    assert "Cause: Version v ended in TRAINING_FAILED: The manifest file contains no labels" in out


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["train", "watch", "nightly-1"], "nightly-1: not a Step Functions execution ARN"),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:training:nope"],
            "cannot describe execution",
        ),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:t:x", "--interval=0"],
            "argument --interval: must be a positive number of seconds, got 0",
        ),
        (
            ["train", "watch", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:t:x", "--timeout=-1"],
            "argument --timeout: must be a positive number of minutes, got -1",
        ),
    ],
)
def test_watch_bad_arguments_are_one_line_errors(
    aws: Aws, capsys: pytest.CaptureFixture[str], arguments: list[str], fragment: str
) -> None:
    assert main(arguments) == 2

    assert fragment in error_line(capsys)


def _event(event_id: int, previous: int, seconds: int, kind: str, **details: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "timestamp": T0 + timedelta(seconds=seconds),
        "type": kind,
        **details,
    }


def _entered(name: str) -> dict[str, Any]:
    return {"stateEnteredEventDetails": {"name": name}}


def _task(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "aws-sdk:rekognition", "resource": "createProjectVersion", **fields}


#: A run whose CreateVersion is throttled once, retried, then waits for training.
SCRIPTED_EVENTS = [
    _event(1, 0, 0, "ExecutionStarted", executionStartedEventDetails={}),
    _event(2, 1, 1, "TaskStateEntered", **_entered("CreateVersion")),
    _event(
        3, 2, 1, "TaskScheduled",
        taskScheduledEventDetails=_task(region=REGION, parameters="{}"),
    ),
    _event(
        4, 3, 2, "TaskFailed",
        taskFailedEventDetails=_task(
            error="Rekognition.ThrottlingException", cause="Rate exceeded " * 40
        ),
    ),
    _event(
        5, 4, 6, "TaskScheduled",
        taskScheduledEventDetails=_task(region=REGION, parameters="{}"),
    ),
    _event(6, 5, 7, "TaskSucceeded", taskSucceededEventDetails=_task(output="{}")),
    _event(7, 6, 8, "TaskStateExited", stateExitedEventDetails={"name": "CreateVersion"}),
    _event(8, 7, 8, "MapStateEntered", **_entered("Training")),
    _event(9, 8, 9, "WaitStateEntered", **_entered("WaitTraining")),
]  # fmt: skip


ENDINGS = {
    "FAILED": ("ExecutionFailed", "executionFailedEventDetails", "execution failed"),
    "TIMED_OUT": ("ExecutionTimedOut", "executionTimedOutEventDetails", "execution timed out"),
    "ABORTED": ("ExecutionAborted", "executionAbortedEventDetails", "execution aborted"),
}


@pytest.mark.parametrize("status", sorted(ENDINGS))
def test_watch_follows_pages_retries_and_waits_until_the_run_ends(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
) -> None:
    kind, details_field, text = ENDINGS[status]
    ending = _event(
        10, 9, 900, kind, **{details_field: {"error": "States.Timeout", "cause": "deadline"}}
    )
    scripted.describe("RUNNING")
    scripted.definition()
    # First poll: two pages. Second poll: from the last page's token (it has grown).
    scripted.history(SCRIPTED_EVENTS[:3], next_token="page-2")
    scripted.history(SCRIPTED_EVENTS[3:5], token="page-2")
    scripted.describe("RUNNING")
    scripted.history(SCRIPTED_EVENTS[3:], token="page-2")
    scripted.describe(status, stopDate=T0, error="States.Timeout", cause="took longer than 26 h")
    scripted.history([*SCRIPTED_EVENTS[3:], ending], token="page-2")
    pauses: list[float] = []
    monkeypatch.setattr(executions, "sleep", pauses.append)
    monkeypatch.setattr(executions, "now", lambda: T0 + timedelta(minutes=20))

    assert main(["train", "watch", EXECUTION, "--interval", "45"]) == 1

    assert pauses == [45]
    out = capsys.readouterr().out
    expected = [
        "2026-11-20 22:00:00  execution started",
        "2026-11-20 22:00:01  entered CreateVersion (Task)",
        "2026-11-20 22:00:02  task failed in CreateVersion: Rekognition.ThrottlingException: "
        "Rate exceeded Rate exceeded",
        "2026-11-20 22:00:06  retry 1 of CreateVersion after Rekognition.ThrottlingException",
        "2026-11-20 22:00:08  entered Training (Map)",
        "2026-11-20 22:00:09  waiting WaitTraining: 5 min 00 s (until 2026-11-20 22:05:09)",
        f"2026-11-20 22:15:00  {text}: States.Timeout",
        f"Summary: {status} after 15 min 00 s; 1 retry; 1 failed attempt; 10 history events",
        f"{status}: States.Timeout",
        "Cause: took longer than 26 h",
    ]
    positions = [out.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "…" in out  # the long cause is shortened in the progress line
    for line in expected[:7]:
        assert out.count(line) == 1, line


def test_watch_starts_over_when_the_page_token_expired(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = json.dumps(_outcome("DEPLOYED", GATE))
    succeeded = _event(
        10, 9, 600, "ExecutionSucceeded", executionSucceededEventDetails={"output": output}
    )
    scripted.describe("RUNNING")
    scripted.definition()
    scripted.history(SCRIPTED_EVENTS[:2], next_token="page-2")
    scripted.history(SCRIPTED_EVENTS[2:4], token="page-2")
    scripted.describe("RUNNING")
    scripted.expired("page-2")
    scripted.history(SCRIPTED_EVENTS[:6])
    scripted.describe("SUCCEEDED", stopDate=T0, output=output)
    scripted.history([*SCRIPTED_EVENTS, succeeded])
    monkeypatch.setattr(executions, "sleep", lambda seconds: None)

    assert main(["train", "watch", EXECUTION]) == 0

    out = capsys.readouterr().out
    assert out.count("execution started") == 1
    assert out.count("task failed in CreateVersion") == 1
    assert out.count("retry 1 of CreateVersion") == 1
    assert out.count("waiting WaitTraining") == 1
    assert "execution succeeded" in out
    assert "Gate: PASSED f1_score = 0.9300 (threshold 0.8500)" in out


def test_watch_stops_at_its_timeout_and_leaves_the_run_alone(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [1000.0]
    monkeypatch.setattr(executions, "clock", lambda: now[0])
    monkeypatch.setattr(executions, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    scripted.describe("RUNNING")
    scripted.definition()
    for _ in range(3):  # at 0 s, 30 s and 60 s: the third check is at the deadline
        scripted.history(SCRIPTED_EVENTS[:2])
        scripted.describe("RUNNING")

    assert main(["train", "watch", EXECUTION, "--interval", "30", "--timeout", "1"]) == 4

    out = capsys.readouterr().out
    assert "Still RUNNING in CreateVersion after 1 minutes; stopped watching (the run goes on)" in (
        out
    )
    assert out.count("entered CreateVersion") == 1


def test_ctrl_c_stops_watching_not_the_run(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(executions, "sleep", interrupt)
    scripted.describe("RUNNING")
    scripted.definition()
    scripted.history(SCRIPTED_EVENTS[:2])
    scripted.describe("RUNNING")
    # Nothing else is queued: a StopExecution (or any other call) would fail the test.

    assert main(["train", "watch", EXECUTION]) == 130

    out = capsys.readouterr().out
    assert "Stopped watching; the execution goes on." in out
    assert f"Resume with: ops train watch {EXECUTION}" in out


#: A polling loop built like the workflow's (``_polling_loop``): Init, Wait, Describe, Done?,
#: Count, Deadline? back to the Wait.
LOOP_DEFINITION = {
    "TimeoutSeconds": 93600,
    "StartAt": "InitTrainingPolls",
    "States": {
        "InitTrainingPolls": {"Type": "Pass", "Next": "WaitTraining"},
        "WaitTraining": {"Type": "Wait", "Seconds": 300, "Next": "DescribeTraining"},
        "DescribeTraining": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:rekognition:describeProjectVersions",
            "Next": "TrainingDone?",
        },
        "TrainingDone?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.training.descriptions[0].Status",
                    "StringEquals": "TRAINING_COMPLETED",
                    "Next": "Evaluate",
                }
            ],
            "Default": "CountTrainingPolls",
        },
        "CountTrainingPolls": {"Type": "Pass", "Next": "TrainingDeadline?"},
        "TrainingDeadline?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.polls.count",
                    "NumericGreaterThanEquals": 312,
                    "Next": "TrainingTimedOut",
                }
            ],
            "Default": "WaitTraining",
        },
        "TrainingTimedOut": {"Type": "Fail", "Error": "PollingDeadlineExceeded"},
        "Evaluate": {"Type": "Pass", "End": True},
    },
}


def _polls(count: int, *, completed: bool = False) -> list[dict[str, Any]]:
    """History of ``count`` training checks, five minutes apart (the last one completed)."""
    events = [
        _event(1, 0, 0, "ExecutionStarted", executionStartedEventDetails={}),
        _event(2, 1, 0, "PassStateEntered", **_entered("InitTrainingPolls")),
    ]
    for poll in range(count):
        at, first = 300 * poll, len(events) + 1
        status = "TRAINING_COMPLETED" if completed and poll == count - 1 else "TRAINING_IN_PROGRESS"
        output = json.dumps({"ProjectVersionDescriptions": [{"Status": status}]})
        events += [
            _event(first, first - 1, at, "WaitStateEntered", **_entered("WaitTraining")),
            _event(first + 1, first, at + 300, "TaskStateEntered", **_entered("DescribeTraining")),
            _event(first + 2, first + 1, at + 300, "TaskScheduled",
                   taskScheduledEventDetails=_task(region=REGION, parameters="{}")),
            _event(first + 3, first + 2, at + 301, "TaskSucceeded",
                   taskSucceededEventDetails=_task(output=output)),
            _event(first + 4, first + 3, at + 301, "ChoiceStateEntered",
                   **_entered("TrainingDone?")),
        ]  # fmt: skip
        if not (completed and poll == count - 1):
            events += [
                _event(first + 5, first + 4, at + 301, "PassStateEntered",
                       **_entered("CountTrainingPolls")),
                _event(first + 6, first + 5, at + 301, "ChoiceStateEntered",
                       **_entered("TrainingDeadline?")),
            ]  # fmt: skip
    if completed:
        last = len(events) + 1
        events.append(_event(last, last - 1, 300 * count + 2, "PassStateEntered",
                             **_entered("Evaluate")))  # fmt: skip
    return events


def test_polling_loops_are_found_with_their_bound_and_interval() -> None:
    (loop,) = watch.polling_loops(watch._state_definitions(LOOP_DEFINITION))

    assert loop.label == "Training"
    assert loop.max_polls == 312
    assert loop.interval_seconds == 300
    assert loop.wait_states == {"WaitTraining"}
    assert loop.states == {
        "WaitTraining",
        "DescribeTraining",
        "TrainingDone?",
        "CountTrainingPolls",
        "TrainingDeadline?",
    }


def test_the_status_line_counts_the_checks_against_the_bound() -> None:
    tracker = watch.RunTracker(
        states=watch._state_definitions(LOOP_DEFINITION), started=T0, timeout_seconds=93600
    )
    lines = [line for event in _polls(37) for line in tracker.observe(event)]

    # 37 checks, 261 events: two lines (the loop's counter reset is not one of them).
    assert lines == [
        "[bold]execution started[/bold]",
        "[yellow]polling[/yellow] Training every 5 min 00 s, at most 312 checks (gives up "
        "about 2026-11-22 00:00:00 UTC)",
    ]
    moment = T0 + timedelta(minutes=36 * 5 + 2)
    assert tracker.status_line(moment) == (
        "Training: check 37/312 (TRAINING_IN_PROGRESS), elapsed 3 h 02 min, "
        "next check 01:05:00 UTC, gives up about 2026-11-22 00:00:00 UTC"
    )
    assert tracker.summary("RUNNING", moment) == (
        "Summary: RUNNING after 3 h 02 min; 0 retries; 0 failed attempts; 261 history events"
    )


def test_a_finished_loop_is_one_line_and_counts_in_the_summary() -> None:
    tracker = watch.RunTracker(states=watch._state_definitions(LOOP_DEFINITION), started=T0)
    lines = [line for event in _polls(3, completed=True) for line in tracker.observe(event)]

    assert lines[-2:] == [
        "[green]done polling[/green] Training: 3 checks in 15 min 02 s, last status "
        "TRAINING_COMPLETED",
        "[cyan]entered[/cyan] Evaluate (Pass)",
    ]
    assert tracker.status_line(T0 + timedelta(minutes=16)) == ("Evaluate, elapsed 16 min 00 s")
    assert "polled Training 3 checks (15 min 02 s)" in tracker.summary("SUCCEEDED", T0)


def test_watch_shows_a_live_status_line_on_a_terminal(
    scripted: ScriptedStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(
        common, "make_console", lambda: Console(file=screen, force_terminal=True, width=200)
    )
    monkeypatch.setattr(executions, "sleep", lambda seconds: None)
    monkeypatch.setattr(executions, "now", lambda: T0 + timedelta(minutes=11))
    history = _polls(3)
    scripted.describe("RUNNING")
    scripted.definition(LOOP_DEFINITION)
    scripted.history(history)
    scripted.describe("RUNNING")
    scripted.history(history)
    scripted.describe("SUCCEEDED", stopDate=T0, output=json.dumps(_outcome("DEPLOYED", GATE)))
    scripted.history(history)

    assert main(["train", "watch", EXECUTION]) == 0

    shown = screen.getvalue()
    assert "\x1b[" in shown  # a terminal: the status line is redrawn in place
    assert "Training: check 3/312 (TRAINING_IN_PROGRESS), elapsed 11 min 00 s" in shown
    assert "next check 22:15:00 UTC" in shown
    assert "status Training" not in shown  # no plain status lines on a terminal
    assert "Summary: SUCCEEDED" in shown


def test_watch_without_a_terminal_prints_the_status_every_so_often(
    scripted: ScriptedStepFunctions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    moment = [0.0]
    monkeypatch.setattr(executions, "clock", lambda: moment[0])
    monkeypatch.setattr(executions, "sleep", lambda s: moment.__setitem__(0, moment[0] + s))
    monkeypatch.setattr(executions, "now", lambda: T0 + timedelta(minutes=20))
    history = _polls(4)
    scripted.describe("RUNNING")
    scripted.definition(LOOP_DEFINITION)
    for polls in range(1, 8):  # every 5 minutes for 35 minutes
        scripted.history(history[: 2 + 7 * (polls if polls < 4 else 4)])
        scripted.describe("RUNNING")
    scripted.history(history)
    scripted.describe("SUCCEEDED", stopDate=T0, output=json.dumps(_outcome("DEPLOYED", GATE)))
    scripted.history(history)

    code = main(["train", "watch", EXECUTION, "--interval", "300", "--status-every", "15"])

    assert code == 0
    out = capsys.readouterr().out
    status = [line for line in out.splitlines() if line.startswith("status ")]
    assert len(status) == 3  # at 0, 15 and 30 minutes of watching
    assert status[0].startswith("status Training: check 1/312 (TRAINING_IN_PROGRESS)")
    assert status[-1].startswith("status Training: check 4/312 (TRAINING_IN_PROGRESS)")
    assert out.count("polling Training every 5 min 00 s") == 1
    assert "DescribeTraining" not in out

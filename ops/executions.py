"""Following a Step Functions execution until it ends: the one follower every command uses.

``ops train watch`` reads the run's history as it grows (:class:`HistoryFollower`) and keeps a
status line; ``ops sagemaker classify|train --wait`` show a progress bar or the current state.
All of them poll :func:`follow`, which describes the execution every ``interval_seconds`` until it
is no longer RUNNING and gives up at its deadline with :class:`StillRunning` (the run goes on in
AWS). :func:`sleep`, :func:`clock` and :func:`now` are the seams the tests replace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

#: The largest page GetExecutionHistory returns.
HISTORY_PAGE_SIZE = 1000

Events = list[dict[str, Any]]


def sleep(seconds: float) -> None:
    """Pause between polls (a seam for the tests)."""
    time.sleep(seconds)


def clock() -> float:
    """Seconds on a monotonic clock (a seam for the tests)."""
    return time.monotonic()


def now() -> datetime:
    """The current time (a seam for the tests: elapsed times are measured against it)."""
    return datetime.now(UTC)


class StillRunning(Exception):  # noqa: N818 - a state, not a failure of the command
    """The deadline passed while the execution is still RUNNING; it goes on in AWS."""

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__(description.get("executionArn", "the execution"))
        self.description = description


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

    def new_events(self) -> Events:
        events: Events = []
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


def follow(
    stepfunctions: Any,
    execution_arn: str,
    *,
    interval_seconds: float,
    timeout_seconds: float,
    on_running: Callable[[dict[str, Any]], None] | None = None,
    on_events: Callable[[Events], None] | None = None,
) -> dict[str, Any]:
    """Describe the execution until it is no longer RUNNING and return that description.

    ``on_events`` (when given) gets the history's new events before each description and once
    more after the last one, so it sees every event; ``on_running`` gets each description of a
    run still RUNNING before the pause. Raises :class:`StillRunning` at the deadline.
    """
    history = HistoryFollower(stepfunctions, execution_arn) if on_events is not None else None
    deadline = clock() + timeout_seconds
    while True:
        if history is not None and on_events is not None:
            on_events(history.new_events())
        description: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            if history is not None and on_events is not None:
                on_events(history.new_events())
            return description
        if clock() >= deadline:
            raise StillRunning(description)
        if on_running is not None:
            on_running(description)
        sleep(interval_seconds)

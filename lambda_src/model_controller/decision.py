"""The model controller's decision: a pure function of what it observes and how it is configured.

``decide(observation, policy)`` says whether to start the model, stop it or leave it alone, whether
the inference queue's event source should be enabled (only while the model is RUNNING, so messages
wait in the queue instead of burning receives on ``ResourceNotReadyException``), and whether an
operator must look (a FAILED model is never restarted automatically). The same function drives the
deployed controller and ``benchmarks/inference_cost_sim.py``.

Modes:

- ``off``: never starts or stops the model (operators do); still gates the event source;
- ``on_demand``: starts a stopped model when messages are waiting; stops a running one after
  ``idle_minutes`` without work (no message waiting, sent or received);
- ``scheduled``: inside the UTC window, starts a stopped model (work or not) and never stops it;
  outside, never starts it and stops it once idle for ``idle_minutes``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

RUNNING = "RUNNING"
FAILED = "FAILED"
#: Statuses StartProjectVersion accepts.
STARTABLE = frozenset({"STOPPED", "TRAINING_COMPLETED", "COPYING_COMPLETED"})
#: Statuses that change by themselves: wait and look again.
IN_TRANSITION = frozenset({"STARTING", "STOPPING", "TRAINING_IN_PROGRESS", "COPYING_IN_PROGRESS"})
#: Statuses from which this version cannot serve; a person has to act.
UNUSABLE = frozenset(
    {"FAILED", "TRAINING_FAILED", "COPYING_FAILED", "DELETING", "DEPRECATED", "EXPIRED"}
)
#: Every status DescribeProjectVersions reports.
ALL_STATUSES = STARTABLE | {RUNNING} | IN_TRANSITION | UNUSABLE
MODES = ("off", "scheduled", "on_demand")


class Action(enum.StrEnum):
    START = "start"
    STOP = "stop"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Policy:
    """The ``rekognition.model_control`` configuration."""

    mode: str
    idle_minutes: int
    start_hour_utc: int | None = None
    end_hour_utc: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.idle_minutes < 1:
            raise ValueError("idle_minutes must be at least 1")
        if self.mode == "scheduled" and (self.start_hour_utc is None or self.end_hour_utc is None):
            raise ValueError("the scheduled mode needs start_hour_utc and end_hour_utc")

    def in_window(self, now: datetime) -> bool:
        """Whether ``now`` (UTC) is inside the scheduled hours; the window may wrap midnight."""
        if self.start_hour_utc is None or self.end_hour_utc is None:
            return False
        start, end, hour = self.start_hour_utc, self.end_hour_utc, now.hour
        return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class Observation:
    """What the controller sees on one run."""

    #: The model version's status; ``None`` when no version is configured or it does not exist.
    status: str | None
    #: Messages visible, in flight and delayed in the inference queue.
    waiting_messages: int
    #: Minutes since a message was last sent, received or waiting; ``None``: none in the lookback
    #: window (which is at least ``idle_minutes`` long).
    minutes_since_last_work: float | None
    #: Current time, UTC.
    now: datetime


@dataclass(frozen=True)
class Decision:
    action: Action
    event_source_enabled: bool
    needs_attention: bool
    reason: str


def is_idle(observation: Observation, policy: Policy) -> bool:
    """No message waiting and none sent or received for ``idle_minutes``."""
    if observation.waiting_messages > 0:
        return False
    minutes = observation.minutes_since_last_work
    return minutes is None or minutes >= policy.idle_minutes


def decide(observation: Observation, policy: Policy) -> Decision:
    """Start, stop or nothing; the event source's state; whether an operator must look."""
    status = observation.status
    work = observation.waiting_messages > 0
    if status is None:
        return Decision(
            Action.NOTHING,
            event_source_enabled=False,
            needs_attention=work,
            reason="no model version is configured (or it does not exist)",
        )
    action, reason = _action(status, observation, policy)
    attention = status == FAILED or (work and (status in UNUSABLE or status not in ALL_STATUSES))
    return Decision(
        action,
        event_source_enabled=status == RUNNING and action is not Action.STOP,
        needs_attention=attention,
        reason=reason,
    )


def _action(status: str, observation: Observation, policy: Policy) -> tuple[Action, str]:
    if status == FAILED:
        return Action.NOTHING, "the model FAILED: it is not restarted automatically"
    if status in UNUSABLE or status not in ALL_STATUSES:
        return Action.NOTHING, f"a {status} model version cannot serve"
    if status in IN_TRANSITION:
        return Action.NOTHING, f"{status}: waiting for it to settle"
    if policy.mode == "off":
        return Action.NOTHING, "mode off: operators start and stop the model"
    idle = is_idle(observation, policy)
    work = observation.waiting_messages > 0
    if policy.mode == "scheduled":
        if policy.in_window(observation.now):
            if status in STARTABLE:
                return Action.START, "inside the scheduled hours"
            return Action.NOTHING, "inside the scheduled hours: keep running"
        if status == RUNNING and idle:
            return Action.STOP, f"outside the scheduled hours and idle {policy.idle_minutes} min"
        return Action.NOTHING, "outside the scheduled hours"
    if status in STARTABLE and work:
        return Action.START, f"{observation.waiting_messages} messages are waiting"
    if status == RUNNING and idle:
        return Action.STOP, f"no work for {policy.idle_minutes} minutes"
    return Action.NOTHING, "running with work" if status == RUNNING else "stopped without work"

"""The model controller's decision: a pure function of what it observes and how it is configured.

``decide(observation, policy)`` says whether to start the model (and with how many inference
units), stop it or leave it alone, whether the inference queue's event source should be enabled
(only while the model is RUNNING, so messages wait in the queue instead of burning receives on
``ResourceNotReadyException``), and whether an operator must look (a FAILED model is never
restarted automatically). ``capacity_step`` says how the consumers' concurrency and pace move to
the units in service without ever asking for more than they serve. The same functions drive the
deployed controller and ``benchmarks/inference_cost_sim.py``.

Modes:

- ``off``: never starts or stops the model (operators do); still gates the event source;
- ``on_demand``: starts a stopped model when messages are waiting; stops a running one after
  ``idle_minutes`` without work (no message waiting, sent or received);
- ``scheduled``: inside the UTC window, starts a stopped model (work or not) and never stops it;
  outside, never starts it and stops it once idle for ``idle_minutes``.

Inference units (:func:`choose_units`). A start asks for
``MinInferenceUnits = clamp(ceil(backlog / (tps_per_unit x drain_minutes x 60)), min, max)``
(``MaxInferenceUnits`` is the configured max, so Rekognition can add units once load arrives):
enough units to drain the backlog within ``drain_minutes`` of the model running. The backlog is
the one the model will face when it runs: a start takes minutes, and images that keep arriving
meanwhile join it. So when the queue grew since the previous run (nothing consumed it, so growth
is arrivals) fast enough to need more units by then, the units are chosen for
``backlog + arrivals in the last interval x expected_start_minutes``. Two guards keep a short
burst from being extrapolated: a burst first seen in this run (the queue was empty one interval
ago) is measured for one more interval before the units are chosen (at most one minute's delay,
and only when the forecast would ask for more units than the backlog alone), and arrivals that
slowed down since the interval before mean the burst is ending: the backlog alone decides.
Without a history of earlier runs (a cold start) the backlog alone decides.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime

from contracts.consumer_capacity import ConsumerCapacity

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
#: Minutes between two runs of the controller (its EventBridge schedule).
CONTROL_INTERVAL_MINUTES = 1.0
#: How many earlier backlogs the unit choice looks at.
HISTORY_LENGTH = 2


class Action(enum.StrEnum):
    START = "start"
    STOP = "stop"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Policy:
    """The ``rekognition.model_control`` configuration and the unit settings a start uses."""

    mode: str
    idle_minutes: int
    start_hour_utc: int | None = None
    end_hour_utc: int | None = None
    #: A start asks for the units that drain the backlog in this many minutes.
    drain_minutes: int = 30
    #: ``rekognition.min_inference_units`` / ``max_inference_units``.
    min_units: int = 1
    max_units: int = 1
    #: Images per second one inference unit serves.
    tps_per_unit: float = 5.0
    #: How long a start is expected to take (AWS: minutes); the horizon of the forecast.
    expected_start_minutes: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.idle_minutes < 1:
            raise ValueError("idle_minutes must be at least 1")
        if self.mode == "scheduled" and (self.start_hour_utc is None or self.end_hour_utc is None):
            raise ValueError("the scheduled mode needs start_hour_utc and end_hour_utc")
        if self.drain_minutes < 1:
            raise ValueError("drain_minutes must be at least 1")
        if not 1 <= self.min_units <= self.max_units:
            raise ValueError(
                f"need 1 <= min_units <= max_units, got {self.min_units}..{self.max_units}"
            )
        if self.tps_per_unit <= 0:
            raise ValueError("tps_per_unit must be positive")
        if self.expected_start_minutes < 0:
            raise ValueError("expected_start_minutes must not be negative")

    def units_for(self, backlog: float) -> int:
        """``clamp(ceil(backlog / (tps_per_unit x drain_minutes x 60)), min_units, max_units)``."""
        per_unit = self.tps_per_unit * self.drain_minutes * 60
        return max(self.min_units, min(self.max_units, math.ceil(backlog / per_unit)))

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
    #: The backlogs (``waiting_messages``) of the previous runs, oldest first, one control
    #: interval apart and the last one interval before ``now``, while nothing consumed the queue
    #: (at most ``HISTORY_LENGTH``; empty when unknown, e.g. after a cold start).
    recent_backlogs: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class Decision:
    action: Action
    event_source_enabled: bool
    needs_attention: bool
    reason: str
    #: MinInferenceUnits of a start (None for any other action).
    units: int | None = None


@dataclass(frozen=True)
class UnitChoice:
    """How many units a start asks for; ``units`` None: wait one interval and look again."""

    units: int | None
    reason: str


def is_idle(observation: Observation, policy: Policy) -> bool:
    """No message waiting and none sent or received for ``idle_minutes``."""
    if observation.waiting_messages > 0:
        return False
    minutes = observation.minutes_since_last_work
    return minutes is None or minutes >= policy.idle_minutes


def decide(observation: Observation, policy: Policy) -> Decision:
    """Start (with how many units), stop or nothing; the event source's state; whether an
    operator must look."""
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
    units = None
    if action is Action.START:
        choice = choose_units(observation, policy)
        units = choice.units
        if units is None:
            action = Action.NOTHING
        reason = f"{reason}; {choice.reason}"
    attention = status == FAILED or (work and (status in UNUSABLE or status not in ALL_STATUSES))
    return Decision(
        action,
        event_source_enabled=status == RUNNING and action is not Action.STOP,
        needs_attention=attention,
        reason=reason,
        units=units,
    )


def choose_units(observation: Observation, policy: Policy) -> UnitChoice:
    """The MinInferenceUnits of a start (see the module docstring), or None to measure a burst
    that began within the last interval for one more interval."""
    backlog = observation.waiting_messages
    units = policy.units_for(backlog)
    drains = f"drain {backlog} waiting in {policy.drain_minutes} min"
    history = observation.recent_backlogs
    if not history or units >= policy.max_units:
        return UnitChoice(units, _units_text(units, policy, drains))
    arrived = max(0, backlog - history[-1])
    expected = backlog + arrived * policy.expected_start_minutes / CONTROL_INTERVAL_MINUTES
    forecast = policy.units_for(expected)
    if forecast <= units:
        return UnitChoice(units, _units_text(units, policy, drains))
    if history[-1] == 0:
        return UnitChoice(
            None,
            f"a burst began within the last interval ({arrived} arrived): measuring its rate "
            "for one more interval before choosing the inference units",
        )
    if len(history) >= 2 and arrived < history[-1] - history[-2]:
        slowing = f"{drains} (arrivals are slowing: {arrived} after {history[-1] - history[-2]})"
        return UnitChoice(units, _units_text(units, policy, slowing))
    growing = (
        f"drain the {round(expected)} expected when it runs ({backlog} waiting + {arrived} per "
        f"interval for {policy.expected_start_minutes:g} min) in {policy.drain_minutes} min"
    )
    return UnitChoice(forecast, _units_text(forecast, policy, growing))


def _units_text(units: int, policy: Policy, purpose: str) -> str:
    bounded = ""
    if units == policy.max_units and policy.max_units > policy.min_units:
        bounded = " (the configured max)"
    elif units == policy.min_units:
        bounded = " (the configured min)"
    return f"{units} inference unit(s){bounded} to {purpose}"


class BacklogHistory:
    """The backlogs the controller saw at its recent runs, while nothing consumed the queue.

    While the event source is disabled nothing receives, so growth between two runs is what
    arrived. A run that enables the event source forgets the history (consumption would read
    as fewer arrivals). Kept in memory: best effort, a cold start begins with none.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[datetime, int]] = []

    def recent(self, now: datetime) -> tuple[int, ...]:
        """``Observation.recent_backlogs`` for a run at ``now``: the entries one control
        interval apart (within half an interval), newest back from ``now``."""
        found: list[int] = []
        later = now
        for when, backlog in reversed(self._entries):
            gap = (later - when).total_seconds() / 60
            if abs(gap - CONTROL_INTERVAL_MINUTES) > CONTROL_INTERVAL_MINUTES / 2:
                break
            found.append(backlog)
            later = when
        return tuple(reversed(found))

    def record(self, now: datetime, backlog: int, *, consuming: bool) -> None:
        """What this run saw; ``consuming``: the event source is enabled after this run."""
        if consuming:
            self._entries.clear()
            return
        self._entries = [*self._entries, (now, backlog)][-HISTORY_LENGTH:]


@dataclass(frozen=True)
class CapacityStep:
    """The event source concurrency to set and the pace to publish on this run."""

    max_concurrency: int
    invocation_tps: float

    def reaches(self, target: ConsumerCapacity) -> bool:
        return (self.max_concurrency, self.invocation_tps) == (
            target.max_concurrency,
            target.invocation_tps,
        )


def capacity_step(
    concurrency: int, pace: float, target: ConsumerCapacity, *, consumers_running: bool
) -> CapacityStep:
    """The next settings toward ``target`` such that the invocations never ask for more than
    the target's throughput, whichever of the old and new values each of them still uses.

    ``concurrency`` is the event source's MaximumConcurrency now, ``pace`` the published one
    (consumers cache it for less than a control interval). The pace is not monotonic in the
    units (2 invocations at 10/s for 4 units, 3 at 8.33/s for 5), so when the two knobs move in
    opposite directions the one that lowers the demand moves first and the other one on the
    next run. When both lower it (fewer units) both move at once: the old demand was already
    over the new throughput. With the event source disabled nothing runs: both move at once.
    """
    if not consumers_running:
        return CapacityStep(target.max_concurrency, target.invocation_tps)
    more_invocations = target.max_concurrency > concurrency
    fewer_invocations = target.max_concurrency < concurrency
    faster = target.invocation_tps > pace
    slower = target.invocation_tps < pace
    if more_invocations and slower:
        return CapacityStep(concurrency, target.invocation_tps)  # slow down first
    if fewer_invocations and faster:
        return CapacityStep(target.max_concurrency, pace)  # fewer invocations first
    return CapacityStep(target.max_concurrency, target.invocation_tps)


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

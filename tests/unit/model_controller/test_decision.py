"""The controller's decision, exhaustively, and the unit choice in worked examples."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from model_controller.decision import (
    ALL_STATUSES,
    Action,
    BacklogHistory,
    Observation,
    Policy,
    choose_units,
    decide,
    is_idle,
)
from tests.unit.model_controller.support import (
    IDLE_MINUTES,
    NOON,
    start,
    units_policy,
)

NIGHT = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)


#: Mode, the policy for it, and the time of the observation.
MODES = {
    "off": (Policy("off", IDLE_MINUTES), NOON),
    "on_demand": (Policy("on_demand", IDLE_MINUTES), NOON),
    "scheduled-inside": (Policy("scheduled", IDLE_MINUTES, 8, 18), NOON),
    "scheduled-outside": (Policy("scheduled", IDLE_MINUTES, 8, 18), NIGHT),
}


STATUSES: list[str | None] = [*sorted(ALL_STATUSES), None]


DOCUMENTED_STATUSES = {
    "TRAINING_IN_PROGRESS",
    "TRAINING_COMPLETED",
    "TRAINING_FAILED",
    "STARTING",
    "RUNNING",
    "FAILED",
    "STOPPING",
    "STOPPED",
    "DELETING",
    "COPYING_IN_PROGRESS",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
    "DEPRECATED",
    "EXPIRED",
}


def expected_decision(
    mode: str, status: str | None, work: bool, idle: bool
) -> tuple[Action, bool, bool]:
    """The rules, written independently of the implementation: (action, event source, attention)."""
    if status is None:
        return Action.NOTHING, False, work
    broken = {"FAILED", "TRAINING_FAILED", "COPYING_FAILED", "DELETING", "DEPRECATED", "EXPIRED"}
    attention = status == "FAILED" or (work and status in broken)
    can_start = status in {"STOPPED", "TRAINING_COMPLETED", "COPYING_COMPLETED"}
    can_stop = status == "RUNNING" and idle and not work
    action = {
        "off": Action.NOTHING,
        "on_demand": Action.START
        if can_start and work
        else Action.STOP
        if can_stop
        else Action.NOTHING,
        "scheduled-inside": Action.START if can_start else Action.NOTHING,
        "scheduled-outside": Action.STOP if can_stop else Action.NOTHING,
    }[mode]
    return action, status == "RUNNING" and action is not Action.STOP, attention


TABLE = list(itertools.product(MODES, STATUSES, (True, False), (True, False)))


def test_the_table_covers_every_documented_status() -> None:
    assert set(ALL_STATUSES) == DOCUMENTED_STATUSES
    assert len(TABLE) == 4 * 15 * 2 * 2


@pytest.mark.parametrize(
    ("mode", "status", "work", "idle"),
    TABLE,
    ids=[f"{m}-{s}-{'work' if w else 'empty'}-{'idle' if i else 'busy'}" for m, s, w, i in TABLE],
)
def test_decision_table(mode: str, status: str | None, work: bool, idle: bool) -> None:
    policy, now = MODES[mode]
    observation = Observation(
        status=status,
        waiting_messages=3 if work else 0,
        minutes_since_last_work=(IDLE_MINUTES + 5) if idle else 0.5,
        now=now,
    )

    decision = decide(observation, policy)

    action, event_source, attention = expected_decision(mode, status, work, idle)
    assert (decision.action, decision.event_source_enabled, decision.needs_attention) == (
        action,
        event_source,
        attention,
    )
    assert decision.reason
    # A start says how many units (the backlog of 3 needs the minimum); nothing else does.
    assert decision.units == (1 if action is Action.START else None)


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_model_is_never_started_and_always_needs_attention(mode: str) -> None:
    policy, now = MODES[mode]
    for waiting, minutes in itertools.product((0, 1, 500), (None, 0.0, 60.0)):
        decision = decide(Observation("FAILED", waiting, minutes, now), policy)
        assert decision.action is Action.NOTHING
        assert decision.needs_attention
        assert not decision.event_source_enabled


@pytest.mark.parametrize("mode", MODES)
def test_never_stops_while_messages_wait(mode: str) -> None:
    policy, now = MODES[mode]
    for status, minutes in itertools.product(STATUSES, (None, 0.0, 1_000.0)):
        assert decide(Observation(status, 1, minutes, now), policy).action is not Action.STOP


@pytest.mark.parametrize(
    ("minutes", "idle"),
    [(None, True), (0.0, False), (1.99, False), (2.0, True), (30.0, True)],
)
def test_idle_means_no_work_for_idle_minutes(minutes: float | None, idle: bool) -> None:
    policy = Policy("on_demand", 2)

    assert is_idle(Observation("RUNNING", 0, minutes, NOON), policy) is idle
    assert is_idle(Observation("RUNNING", 1, minutes, NOON), policy) is False


@pytest.mark.parametrize(
    ("start", "end", "hour", "inside"),
    [
        (8, 18, 8, True),
        (8, 18, 17, True),
        (8, 18, 18, False),
        (8, 18, 7, False),
        (22, 6, 23, True),
        (22, 6, 2, True),
        (22, 6, 6, False),
        (22, 6, 12, False),
    ],
)
def test_schedule_window_hours_utc(start: int, end: int, hour: int, inside: bool) -> None:
    now = datetime(2026, 1, 1, hour, 0, tzinfo=UTC)

    assert Policy("scheduled", 5, start, end).in_window(now) is inside


def test_unknown_status_is_left_alone_and_flagged_when_work_waits() -> None:
    decision = decide(Observation("SOMETHING_NEW", 5, None, NOON), Policy("on_demand", 2))

    assert decision.action is Action.NOTHING
    assert decision.needs_attention
    assert not decision.event_source_enabled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sometimes", "idle_minutes": 5}, "mode must be one of"),
        ({"mode": "on_demand", "idle_minutes": 0}, "idle_minutes"),
        ({"mode": "scheduled", "idle_minutes": 5}, "start_hour_utc"),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(**kwargs)


@pytest.mark.parametrize(
    ("backlog", "overrides", "units"),
    [
        pytest.param(1, {}, 1, id="one-image-min"),
        pytest.param(8_999, {}, 1, id="just-under-one-unit"),
        pytest.param(9_000, {}, 1, id="exactly-one-unit-of-work"),
        pytest.param(9_001, {}, 2, id="one-image-over"),
        pytest.param(18_000, {}, 2, id="exactly-two"),
        pytest.param(18_001, {}, 3, id="just-over-two"),
        pytest.param(50_000, {}, 6, id="fifty-thousand"),
        pytest.param(90_000, {}, 10, id="exactly-the-max"),
        pytest.param(90_001, {}, 10, id="over-the-max-clamps"),
        pytest.param(10**9, {}, 10, id="huge-clamps-to-max"),
        pytest.param(100, {"min_units": 3, "max_units": 10}, 3, id="min-above-computed"),
        pytest.param(50_000, {"min_units": 2, "max_units": 2}, 2, id="min-equals-max"),
        pytest.param(9_000, {"drain_minutes": 10}, 3, id="shorter-drain-more-units"),
        pytest.param(9_001, {"drain_minutes": 60}, 1, id="longer-drain-fewer-units"),
        pytest.param(1_440_000, {"drain_minutes": 1440}, 4, id="day-long-drain"),
        pytest.param(9_000, {"tps_per_unit": 2.5}, 2, id="slower-units-more-of-them"),
        pytest.param(50_000, {"max_units": 1}, 1, id="dev-one-unit"),
    ],
)
def test_a_start_asks_for_the_units_that_drain_the_backlog(
    backlog: int, overrides: dict[str, Any], units: int
) -> None:
    decision = start(backlog, units_policy(**overrides))

    assert decision.action is Action.START
    assert decision.units == units
    assert f"{units} inference unit(s)" in decision.reason


def test_scheduled_mode_starts_with_the_min_for_an_empty_queue_and_more_for_a_backlog() -> None:
    policy = units_policy("scheduled", min_units=2)

    assert start(0, policy).units == 2
    assert start(30_000, policy).units == 4
    outside = start(30_000, policy, now=NIGHT)
    assert (outside.action, outside.units) == (Action.NOTHING, None)


@pytest.mark.parametrize("status", sorted(ALL_STATUSES))
def test_mode_off_never_chooses_units(status: str) -> None:
    for backlog, history in itertools.product((0, 5, 100_000), ((), (0,), (0, 5_000))):
        decision = start(backlog, units_policy("off"), history, status)
        assert (decision.action, decision.units) == (Action.NOTHING, None)


@pytest.mark.parametrize("status", ["RUNNING", "STARTING", "STOPPING", "FAILED"])
def test_only_a_startable_model_gets_units(status: str) -> None:
    decision = start(100_000, history=(0, 50_000), status=status)

    assert decision.units is None
    assert decision.action is not Action.START


# -- the backlog the model will face when it runs: arrivals during the start -----------------


@pytest.mark.parametrize(
    ("history", "backlog", "expected"),
    [
        # (recent backlogs, backlog now) -> units, or None for "measure one more interval"
        pytest.param((0,), 3_333, None, id="burst-first-seen-is-measured"),
        pytest.param((0, 3_333), 8_333, 7, id="then-units-for-what-arrives-during-the-start"),
        pytest.param((0, 1_333), 2_000, 1, id="slowing-burst-backlog-alone"),
        pytest.param((0, 13_333), 20_000, 3, id="big-burst-ending-backlog-alone"),
        pytest.param((5_000,), 10_000, 7, id="steady-growth-one-entry"),
        pytest.param((4_000, 8_000), 12_000, 6, id="steady-growth-two-entries"),
        pytest.param((0, 10_000), 30_000, 10, id="forecast-clamps-to-max"),
        pytest.param((), 3_333, 1, id="cold-start-backlog-alone"),
        pytest.param((0,), 1, 1, id="trickle-starts-at-once"),
        pytest.param((0, 0), 2, 1, id="trickle-history-starts-at-once"),
        pytest.param((0,), 100_000, 10, id="backlog-alone-at-max-starts-at-once"),
        pytest.param((9_000,), 9_000, 1, id="no-growth-no-forecast"),
        pytest.param((12_000,), 9_000, 1, id="shrinking-backlog"),
    ],
)
def test_units_follow_the_backlog_expected_when_the_model_runs(
    history: tuple[int, ...], backlog: int, expected: int | None
) -> None:
    decision = start(backlog, history=history)

    assert decision.units == expected
    if expected is None:
        assert decision.action is Action.NOTHING
        assert "measuring its rate" in decision.reason
        assert not decision.needs_attention
        assert not decision.event_source_enabled
    else:
        assert decision.action is Action.START


def test_a_burst_is_held_for_one_interval_at_most() -> None:
    """Run after run of the same burst: measured once, then started."""
    policy = units_policy()
    history = BacklogHistory()
    decisions = []
    for minute, backlog in enumerate((0, 3_333, 8_333, 13_333)):
        now = NOON + timedelta(minutes=minute)
        decision = decide(Observation("STOPPED", backlog, 0.0, now, history.recent(now)), policy)
        history.record(now, backlog, consuming=decision.event_source_enabled)
        decisions.append((decision.action, decision.units))
        if decision.action is Action.START:
            break

    assert decisions == [
        (Action.NOTHING, None),
        (Action.NOTHING, None),
        (Action.START, 7),
    ]


def test_the_forecast_horizon_is_the_expected_start() -> None:
    quick = units_policy(expected_start_minutes=0)
    slow = units_policy(expected_start_minutes=20)

    assert start(8_333, quick, (0, 3_333)).units == 1  # nothing arrives during a 0-min start
    assert start(8_333, slow, (0, 3_333)).units == 10  # 108,333 expected


def test_one_unit_environments_never_wait_to_measure() -> None:
    """max 1 (dev): no forecast can ask for more, so a burst starts at once."""
    decision = start(3_333, units_policy(max_units=1), (0,))

    assert (decision.action, decision.units) == (Action.START, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drain_minutes": 0}, "drain_minutes"),
        ({"min_units": 0}, "min_units"),
        ({"min_units": 3, "max_units": 2}, "min_units"),
        ({"tps_per_unit": 0}, "tps_per_unit"),
        ({"expected_start_minutes": -1}, "expected_start_minutes"),
    ],
)
def test_unit_settings_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy("on_demand", 2, **kwargs)


def test_choose_units_is_what_a_start_asks_for() -> None:
    observation = Observation("STOPPED", 20_000, 0.0, NOON, (0, 10_000))

    choice = choose_units(observation, units_policy())

    assert choice.units == decide(observation, units_policy()).units == 10


# -- the history the forecast reads ----------------------------------------------------------


def test_backlog_history_keeps_the_last_two_runs_one_interval_apart() -> None:
    history = BacklogHistory()
    for minute, backlog in enumerate((5, 10, 20)):
        history.record(NOON + timedelta(minutes=minute), backlog, consuming=False)

    assert history.recent(NOON + timedelta(minutes=3)) == (10, 20)
    assert history.recent(NOON + timedelta(minutes=3, seconds=25)) == (10, 20)
    # A run far from the schedule (a retry seconds later, or minutes of silence) has no history.
    assert history.recent(NOON + timedelta(minutes=2, seconds=10)) == ()
    assert history.recent(NOON + timedelta(minutes=5)) == ()


def test_backlog_history_stops_at_a_gap() -> None:
    history = BacklogHistory()
    history.record(NOON, 5, consuming=False)
    history.record(NOON + timedelta(minutes=3), 10, consuming=False)

    assert history.recent(NOON + timedelta(minutes=4)) == (10,)


def test_backlog_history_forgets_while_the_queue_is_consumed() -> None:
    """Consumption would read as fewer arrivals."""
    history = BacklogHistory()
    history.record(NOON, 5, consuming=False)
    history.record(NOON + timedelta(minutes=1), 10, consuming=True)

    assert history.recent(NOON + timedelta(minutes=2)) == ()

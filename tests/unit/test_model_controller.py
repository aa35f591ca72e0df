"""The model controller: its pure decision (exhaustively) and its handler against moto and Stubber.

The decision table is checked against an independent statement of the rules for every model
status x work/no work x idle/not idle x mode; the unit choice against worked examples (numbers,
not the formula); the capacity steps against the invariant they promise. The handler tests check
that decisions turn into the right AWS calls (start with the chosen units, stop, event source
gating, consumer concurrency and pace, metrics), that a FAILED model is never restarted, and -
with botocore's Stubber, whose answers botocore checks against the service models - that a
throttled or failed capacity update never fails a run and is made on the next one.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from model_controller import handler as controller
from model_controller.decision import (
    ALL_STATUSES,
    Action,
    BacklogHistory,
    Observation,
    Policy,
    capacity_step,
    choose_units,
    decide,
    is_idle,
)
from shared.consumer_capacity import ConsumerCapacity, capacity_for
from shared.model_version import ModelVersion
from tests.unit.rekognition_support import (
    MODEL_ARN,
    FakeModel,
    LambdaContext,
    ServiceError,
    emf_records,
    metric_total,
)

# --------------------------------------------------------------------------------------------
# The decision, exhaustively
# --------------------------------------------------------------------------------------------

NOON = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
NIGHT = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
IDLE_MINUTES = 2
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


# --------------------------------------------------------------------------------------------
# The unit choice: clamp(ceil(backlog / (tps x drain_minutes x 60)), min, max), worked examples
# --------------------------------------------------------------------------------------------


def units_policy(mode: str = "on_demand", **overrides: Any) -> Policy:
    """5 images/s per unit, 30-minute drain: one unit drains 9,000 images."""
    settings: dict[str, Any] = {
        "drain_minutes": 30,
        "min_units": 1,
        "max_units": 10,
        "tps_per_unit": 5.0,
        "expected_start_minutes": 10.0,
    }
    hours = (8, 18) if mode == "scheduled" else (None, None)
    return Policy(mode, IDLE_MINUTES, *hours, **(settings | overrides))


def start(
    backlog: int,
    policy: Policy | None = None,
    history: tuple[int, ...] = (),
    status: str = "STOPPED",
    now: datetime = NOON,
) -> Any:
    return decide(Observation(status, backlog, 0.0, now, history), policy or units_policy())


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


# -- the consumers' concurrency and pace: never more than the units serve ---------------------


def cap(units: int) -> ConsumerCapacity:
    return capacity_for(units, 5.0, 10)


@pytest.mark.parametrize(
    ("units", "concurrency", "pace"),
    [
        (1, 2, 2.5),
        (2, 2, 5.0),
        (4, 2, 10.0),
        (5, 3, 25 / 3),
        (10, 5, 10.0),
        (100, 50, 10.0),
        (1000, 500, 10.0),
    ],
)
def test_capacity_for_the_units(units: int, concurrency: int, pace: float) -> None:
    capacity = cap(units)

    assert (capacity.max_concurrency, capacity.invocation_tps) == (concurrency, pytest.approx(pace))
    assert capacity.model_tps == pytest.approx(units * 5.0)


def test_capacity_concurrency_stays_within_lambdas_range() -> None:
    assert capacity_for(1, 0.1, 50).max_concurrency == 2
    assert capacity_for(100, 1000.0, 1).max_concurrency == 1000
    with pytest.raises(ValueError, match="units"):
        capacity_for(0, 5.0, 10)


@pytest.mark.parametrize(
    ("old", "new", "first", "second"),
    [
        pytest.param(1, 4, (2, 10.0), (2, 10.0), id="faster-same-invocations-at-once"),
        pytest.param(4, 10, (5, 10.0), (5, 10.0), id="more-invocations-same-pace-at-once"),
        pytest.param(4, 5, (2, 25 / 3), (3, 25 / 3), id="more-but-slower-pace-first"),
        pytest.param(5, 4, (2, 25 / 3), (2, 10.0), id="fewer-but-faster-invocations-first"),
        pytest.param(10, 1, (2, 2.5), (2, 2.5), id="scale-down-both-at-once"),
    ],
)
def test_capacity_moves_in_safe_steps(
    old: int, new: int, first: tuple[int, float], second: tuple[int, float]
) -> None:
    current = cap(old)
    one = capacity_step(
        current.max_concurrency, current.invocation_tps, cap(new), consumers_running=True
    )
    two = capacity_step(one.max_concurrency, one.invocation_tps, cap(new), consumers_running=True)

    assert (one.max_concurrency, one.invocation_tps) == (first[0], pytest.approx(first[1]))
    assert (two.max_concurrency, two.invocation_tps) == (second[0], pytest.approx(second[1]))
    assert two.reaches(cap(new))


def test_capacity_never_asks_for_more_than_the_units_serve_while_it_moves() -> None:
    """Every pair of unit counts: while a step is applied, some invocations still run with the
    old concurrency or pace; the worst mix never asks for more than the new units serve (more
    units) or than was asked before (fewer), and the target is reached in two runs."""
    for old, new in itertools.product(range(1, 25), repeat=2):
        concurrency, pace = cap(old).max_concurrency, cap(old).invocation_tps
        allowed = max(cap(new).model_tps, cap(old).model_tps if new < old else 0.0)
        for _ in range(2):
            step = capacity_step(concurrency, pace, cap(new), consumers_running=True)
            worst = max(concurrency, step.max_concurrency) * max(pace, step.invocation_tps)
            assert worst <= allowed + 1e-9, (old, new, step)
            concurrency, pace = step.max_concurrency, step.invocation_tps
        assert step.reaches(cap(new)), (old, new)


def test_capacity_moves_at_once_while_no_consumer_runs() -> None:
    step = capacity_step(2, 10.0, cap(5), consumers_running=False)

    assert step.reaches(cap(5))


# --------------------------------------------------------------------------------------------
# The handler against moto
# --------------------------------------------------------------------------------------------

PARAMETER = "/imgclf-test/rekognition/model-version-arn"
CAPACITY_PARAMETER = "/imgclf-test/rekognition/consumer-capacity"


@dataclass
class Controlled:
    sqs: Any
    lambda_: Any
    ssm: Any
    cloudwatch: Any
    queue_url: str
    mapping_id: str
    model: FakeModel

    def messages(self, count: int) -> None:
        for index in range(count):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=f"m{index}")

    def event_source(self) -> str:
        return str(self.lambda_.get_event_source_mapping(UUID=self.mapping_id)["State"])

    def recent_activity(self, minutes_ago: float) -> None:
        self.cloudwatch.put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "NumberOfMessagesReceived",
                    "Dimensions": [{"Name": "QueueName", "Value": "inference"}],
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
                    "Value": 4,
                }
            ],
        )

    def run(self) -> dict[str, Any]:
        return controller.lambda_handler({"source": "aws.events"}, LambdaContext())


@functools.cache
def _clients() -> dict[str, Any]:
    return {
        name: boto3.client(name)
        for name in ("sqs", "lambda", "ssm", "cloudwatch", "iam", "rekognition")
    }


@pytest.fixture
def controlled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Controlled]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PROJECT_NAME": "shapes",
        "MODEL_VERSION_ARN": "",
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "CONTROL_MODE": "on_demand",
        "IDLE_MINUTES": "2",
        "SCHEDULE_START_HOUR_UTC": "",
        "SCHEDULE_END_HOUR_UTC": "",
        "MIN_INFERENCE_UNITS": "1",
        "MAX_INFERENCE_UNITS": "1",
        "DRAIN_MINUTES": "30",
        "TPS_PER_INFERENCE_UNIT": "5",
        "EXPECTED_START_MINUTES": "10",
        "CALLS_IN_FLIGHT": "10",
        "CAPACITY_PARAMETER": CAPACITY_PARAMETER,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(controller.metrics, "namespace", "ImageClassification/test")
    monkeypatch.setattr(controller.metrics, "service", "rekognition-controller")
    with mock_aws():
        parameters.clear_caches()
        controller.cached_project_arn.cache_clear()
        controller._LAST_SEEN_WORK.clear()
        controller._BACKLOGS.clear()
        aws = _clients()
        monkeypatch.setattr(
            controller,
            "clients",
            lambda: controller.Clients(
                rekognition=aws["rekognition"],
                sqs=aws["sqs"],
                lambda_=aws["lambda"],
                cloudwatch=aws["cloudwatch"],
                ssm=aws["ssm"],
            ),
        )
        role = aws["iam"].create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def lambda_handler(event, context):\n    pass\n")
        aws["lambda"].create_function(
            FunctionName="consumer",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )
        queue_url = aws["sqs"].create_queue(QueueName="inference")["QueueUrl"]
        queue_arn = aws["sqs"].get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        mapping = aws["lambda"].create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName="consumer", Enabled=False, BatchSize=10
        )
        aws["ssm"].put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
        monkeypatch.setenv("QUEUE_URL", queue_url)
        monkeypatch.setenv("QUEUE_NAME", "inference")
        monkeypatch.setenv("EVENT_SOURCE_MAPPING_ID", mapping["UUID"])
        model = FakeModel()
        model.install(aws["rekognition"])
        yield Controlled(
            aws["sqs"],
            aws["lambda"],
            aws["ssm"],
            aws["cloudwatch"],
            queue_url,
            mapping["UUID"],
            model,
        )
        controller.metrics.clear_metrics()  # runs called directly leave unflushed metrics


def test_starts_a_stopped_model_when_work_arrives(controlled: Controlled) -> None:
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert controlled.model.started == [{"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1}]
    assert controlled.event_source() == "Disabled"  # not before it is RUNNING


def test_project_and_version_on_a_later_page_are_found(controlled: Controlled) -> None:
    """DescribeProjects/DescribeProjectVersions may answer a page without the match + NextToken."""
    controlled.model.empty_pages = 2
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert controlled.model.started == [{"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1}]


def test_does_nothing_without_work(controlled: Controlled) -> None:
    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert controlled.model.started == []
    assert controlled.model.stopped == []


def test_enables_the_event_source_once_running(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert summary["event_source_changed"] is True
    assert controlled.event_source() == "Enabled"
    # Sized to the version's one unit: 2 invocations at 2.5 images/s each.
    mapping = controlled.lambda_.get_event_source_mapping(UUID=controlled.mapping_id)
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    published = controlled.ssm.get_parameter(Name=CAPACITY_PARAMETER)["Parameter"]["Value"]
    assert json.loads(published) == {
        "schema": "imgclf.rekognition.consumer-capacity/1",
        "inference_units": 1,
        "max_concurrency": 2,
        "invocation_tps": 2.5,
    }


def test_keeps_running_while_work_was_seen_recently(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.recent_activity(minutes_ago=0.5)

    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert summary["minutes_since_last_work"] < 2
    assert controlled.model.stopped == []


def test_stops_an_idle_model_after_disabling_the_event_source(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.lambda_.update_event_source_mapping(UUID=controlled.mapping_id, Enabled=True)
    controlled.recent_activity(minutes_ago=4)

    summary = controlled.run()

    assert summary["action"] == "stop"
    assert summary["minutes_since_last_work"] >= 2
    assert controlled.model.stopped == [MODEL_ARN]
    assert controlled.event_source() == "Disabled"


def test_a_failed_model_raises_attention_and_is_not_restarted(
    controlled: Controlled, capsys: pytest.CaptureFixture[str]
) -> None:
    controlled.model.status = "FAILED"
    controlled.messages(2)

    for _ in range(3):
        summary = controlled.run()

    assert summary["needs_attention"] is True
    assert controlled.model.started == []
    records = emf_records(capsys.readouterr().out)
    assert metric_total(records, "ModelNeedsAttention") == 3
    assert metric_total(records, "ModelRunning") == 0


def test_running_state_is_published(
    controlled: Controlled, capsys: pytest.CaptureFixture[str]
) -> None:
    controlled.model.status = "RUNNING"
    controlled.messages(1)

    controlled.run()

    records = emf_records(capsys.readouterr().out)
    service = "rekognition-controller"
    assert metric_total(records, "ModelRunning", service=service) == 1
    assert metric_total(records, "QueueWaiting", service=service) == 1
    assert metric_total(records, "ModelNeedsAttention", service=service) == 0


def test_missing_parameter_means_wait(controlled: Controlled) -> None:
    controlled.ssm.delete_parameter(Name=PARAMETER)
    controlled.messages(1)

    summary = controlled.run()

    assert summary["status"] is None
    assert summary["action"] == "nothing"
    assert "does not exist" in summary["status_detail"]
    assert summary["needs_attention"] is True  # work waits and no model is published
    assert controlled.event_source() == "Disabled"


def test_missing_version_is_not_configured(controlled: Controlled) -> None:
    controlled.model.status = None
    controlled.messages(1)

    summary = controlled.run()

    assert summary["status"] is None
    assert "does not exist" in summary["status_detail"]
    assert controlled.model.started == []


def test_a_start_already_under_way_is_not_an_error(controlled: Controlled) -> None:
    controlled.model.start_error = ServiceError("ResourceInUseException", "already starting")
    controlled.messages(1)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert summary["action_outcome"] == "ALREADY_CHANGING"


def test_other_start_errors_fail_the_run(controlled: Controlled) -> None:
    controlled.model.start_error = ServiceError("LimitExceededException", "too many models")
    controlled.messages(1)

    with pytest.raises(ClientError, match="LimitExceeded"):
        controlled.run()


def test_auto_scaling_range_is_passed_when_max_exceeds_min(
    controlled: Controlled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_INFERENCE_UNITS", "3")
    controlled.messages(1)

    controlled.run()

    assert controlled.model.started == [
        {"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1, "MaxInferenceUnits": 3}
    ]


def test_mode_off_gates_but_never_starts(
    controlled: Controlled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTROL_MODE", "off")
    controlled.messages(5)

    assert controlled.run()["action"] == "nothing"
    controlled.model.status = "RUNNING"
    assert controlled.run()["action"] == "nothing"

    assert controlled.model.started == []
    assert controlled.event_source() == "Enabled"


def test_summary_is_json_serializable(controlled: Controlled) -> None:
    json.dumps(controlled.run())


def test_work_it_saw_itself_counts_before_cloudwatch_reports_it(controlled: Controlled) -> None:
    """CloudWatch's SQS metrics arrive a minute or two late; the controller's own sighting
    keeps a just-drained queue from looking idle."""
    controlled.model.status = "RUNNING"
    controlled.messages(1)
    settings = controller.ControllerSettings.from_environment(os.environ)
    now = datetime.now(UTC)
    assert controller.run(settings, controller.clients(), now)["action"] == "nothing"
    controlled.sqs.purge_queue(QueueUrl=controlled.queue_url)

    one_minute_later = controller.run(settings, controller.clients(), now + timedelta(minutes=1))
    three_minutes_later = controller.run(settings, controller.clients(), now + timedelta(minutes=3))

    assert one_minute_later["action"] == "nothing"
    assert one_minute_later["minutes_since_last_work"] == pytest.approx(1.0)
    assert three_minutes_later["action"] == "stop"


# --------------------------------------------------------------------------------------------
# The handler against scripted answers (botocore Stubber): units, concurrency, pace, failures
# --------------------------------------------------------------------------------------------

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/inference"
MAPPING = "11111111-2222-3333-4444-555555555555"
PROJECT_ARN = MODEL_ARN.split("/version/")[0] + "/1690000000000"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def capacity_document(units: int, concurrency: int, pace: float) -> str:
    return json.dumps(
        {
            "schema": "imgclf.rekognition.consumer-capacity/1",
            "inference_units": units,
            "max_concurrency": concurrency,
            "invocation_tps": pace,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


@functools.cache
def _scripted_clients() -> controller.Clients:
    """Created once (slow); each test stubs them afresh."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return controller.Clients(
        rekognition=session.client("rekognition"),
        sqs=session.client("sqs"),
        lambda_=session.client("lambda"),
        cloudwatch=session.client("cloudwatch"),
        ssm=session.client("ssm"),
    )


class Scripted:
    """Real boto3 clients whose calls are answered, in order per client, by a Stubber.

    An unexpected call, a call with other parameters, or an answer botocore's model does not
    allow fails the test; ``done`` checks that every scripted call was made.
    """

    def __init__(self) -> None:
        self.clients = _scripted_clients()
        self.stubs = {
            name: Stubber(getattr(self.clients, name))
            for name in ("rekognition", "sqs", "lambda_", "cloudwatch", "ssm")
        }
        for stub in self.stubs.values():
            stub.activate()

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()

    def close(self) -> None:
        for stub in self.stubs.values():
            stub.deactivate()

    # -- what one run reads -------------------------------------------------------------------

    def model(self, status: str, min_units: int = 1, max_units: int = 10) -> None:
        if not controller.cached_project_arn.cache_info().currsize:
            self.stubs["rekognition"].add_response(
                "describe_projects",
                {"ProjectDescriptions": [{"ProjectArn": PROJECT_ARN, "Status": "CREATED"}]},
                {"ProjectNames": ["shapes"]},
            )
        version: dict[str, Any] = {
            "ProjectVersionArn": MODEL_ARN,
            "Status": status,
            "StatusMessage": "scripted",
            "MinInferenceUnits": min_units,
        }
        if max_units != min_units:
            version["MaxInferenceUnits"] = max_units
        self.stubs["rekognition"].add_response(
            "describe_project_versions",
            {"ProjectVersionDescriptions": [version]},
            {"ProjectArn": PROJECT_ARN, "VersionNames": ["shapes.v1"]},
        )

    def queue(self, visible: int, in_flight: int = 0) -> None:
        self.stubs["sqs"].add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                    "ApproximateNumberOfMessagesDelayed": "0",
                }
            },
            {
                "QueueUrl": QUEUE_URL,
                "AttributeNames": list(controller.operations.WAITING_ATTRIBUTES),
            },
        )

    def no_recent_activity(self) -> None:
        self.stubs["cloudwatch"].add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m0", "Timestamps": [], "Values": []}]},
            {
                "MetricDataQueries": ANY,
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )

    def units(self, in_service: float | None, desired: float | None = None, now=T0) -> None:
        def result(identifier: str, value: float | None) -> dict[str, Any]:
            if value is None:
                return {"Id": identifier, "Timestamps": [], "Values": [], "StatusCode": "Complete"}
            stamps = [now - timedelta(minutes=2), now - timedelta(minutes=1)]
            return {
                "Id": identifier,
                "Timestamps": stamps,
                "Values": [1.0, value],
                "StatusCode": "Complete",
            }

        self.stubs["cloudwatch"].add_response(
            "get_metric_data",
            {"MetricDataResults": [result("u0", in_service), result("u1", desired)]},
            {
                "MetricDataQueries": [
                    {
                        "Id": f"u{index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Rekognition",
                                "MetricName": name,
                                "Dimensions": [
                                    {"Name": "ProjectName", "Value": "shapes"},
                                    {"Name": "VersionName", "Value": "shapes.v1"},
                                ],
                            },
                            "Period": 60,
                            "Stat": "Average",
                        },
                        "ReturnData": True,
                    }
                    for index, name in enumerate(
                        ("InServiceInferenceUnits", "DesiredInferenceUnits")
                    )
                ],
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )

    def mapping(self, state: str, concurrency: int | None = None) -> None:
        answer: dict[str, Any] = {"UUID": MAPPING, "State": state}
        if concurrency is not None:
            answer["ScalingConfig"] = {"MaximumConcurrency": concurrency}
        self.stubs["lambda_"].add_response("get_event_source_mapping", answer, {"UUID": MAPPING})

    def published(self, document: str | None) -> None:
        if document is None:
            self.stubs["ssm"].add_client_error(
                "get_parameter", "ParameterNotFound", expected_params={"Name": CAPACITY_PARAMETER}
            )
            return
        self.stubs["ssm"].add_response(
            "get_parameter",
            {
                "Parameter": {
                    "Name": CAPACITY_PARAMETER,
                    "Type": "String",
                    "Value": document,
                    "Version": 3,
                }
            },
            {"Name": CAPACITY_PARAMETER},
        )

    # -- what one run changes -----------------------------------------------------------------

    def publish(self, document: str, error: str | None = None) -> None:
        expected = {
            "Name": CAPACITY_PARAMETER,
            "Value": document,
            "Type": "String",
            "Overwrite": True,
            "Description": ANY,
        }
        if error:
            self.stubs["ssm"].add_client_error("put_parameter", error, expected_params=expected)
        else:
            self.stubs["ssm"].add_response(
                "put_parameter", {"Version": 4, "Tier": "Standard"}, expected
            )

    def update_mapping(self, error: str | None = None, **change: Any) -> None:
        expected = {"UUID": MAPPING, **change}
        if error:
            self.stubs["lambda_"].add_client_error(
                "update_event_source_mapping", error, expected_params=expected
            )
        else:
            self.stubs["lambda_"].add_response(
                "update_event_source_mapping", {"UUID": MAPPING, "State": "Updating"}, expected
            )

    def start(self, min_units: int, max_units: int | None = 10) -> None:
        expected: dict[str, Any] = {"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": min_units}
        if max_units is not None:
            expected["MaxInferenceUnits"] = max_units
        self.stubs["rekognition"].add_response(
            "start_project_version", {"Status": "STARTING"}, expected
        )

    def stop(self) -> None:
        self.stubs["rekognition"].add_response(
            "stop_project_version", {"Status": "STOPPING"}, {"ProjectVersionArn": MODEL_ARN}
        )


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Scripted, Any]]:
    """Scripted clients and ``run(now)``: max 10 units, pinned version (no SSM read for it)."""
    environment = {
        "QUEUE_URL": QUEUE_URL,
        "QUEUE_NAME": "inference",
        "EVENT_SOURCE_MAPPING_ID": MAPPING,
        "PROJECT_NAME": "shapes",
        "MODEL_VERSION_ARN": MODEL_ARN,
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "CONTROL_MODE": "on_demand",
        "IDLE_MINUTES": "2",
        "DRAIN_MINUTES": "30",
        "SCHEDULE_START_HOUR_UTC": "",
        "SCHEDULE_END_HOUR_UTC": "",
        "MIN_INFERENCE_UNITS": "1",
        "MAX_INFERENCE_UNITS": "10",
        "TPS_PER_INFERENCE_UNIT": "5",
        "EXPECTED_START_MINUTES": "10",
        "CALLS_IN_FLIGHT": "10",
        "CAPACITY_PARAMETER": CAPACITY_PARAMETER,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    settings = controller.ControllerSettings.from_environment(environment)
    monkeypatch.setattr(controller.metrics, "namespace", "ImageClassification/test")
    controller.cached_project_arn.cache_clear()
    controller._LAST_SEEN_WORK.clear()
    controller._BACKLOGS.clear()
    aws = Scripted()

    def run(now: datetime = T0) -> dict[str, Any]:
        return controller.run(settings, aws.clients, now)

    yield aws, run
    aws.close()
    controller.metrics.clear_metrics()
    controller.cached_project_arn.cache_clear()


def test_a_start_asks_for_the_units_the_backlog_needs(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("STOPPED")
    aws.queue(visible=20_000, in_flight=5_000)  # 25,000: 3 units drain it in 30 minutes
    aws.mapping("Disabled", 2)
    aws.start(min_units=3, max_units=10)

    summary = run()

    aws.done()
    assert (summary["action"], summary["start_units"], summary["action_outcome"]) == (
        "start",
        3,
        "STARTING",
    )


def test_a_backlog_beyond_the_max_starts_the_max_without_auto_scaling_range(
    scripted: tuple[Scripted, Any],
) -> None:
    aws, run = scripted
    aws.model("STOPPED")
    aws.queue(visible=500_000)
    aws.mapping("Disabled", 2)
    aws.start(min_units=10, max_units=None)  # Min = Max: nothing for auto-scaling to add

    assert run()["start_units"] == 10
    aws.done()


def test_a_burst_is_measured_one_minute_then_started_for_what_it_will_be(
    scripted: tuple[Scripted, Any],
) -> None:
    aws, run = scripted
    for minute, backlog in enumerate((0, 3_333)):
        aws.model("STOPPED")
        aws.queue(visible=backlog)
        aws.mapping("Disabled", 2)
        assert run(T0 + timedelta(minutes=minute))["action"] == "nothing"
    aws.model("STOPPED")
    aws.queue(visible=8_333)
    aws.mapping("Disabled", 2)
    aws.start(min_units=7)  # 8,333 + 5,000/min x 10 min = 58,333: 7 units

    summary = run(T0 + timedelta(minutes=2))

    aws.done()
    assert summary["recent_backlogs"] == [0, 3_333]
    assert summary["start_units"] == 7


def test_enabling_sizes_the_consumers_first_in_one_update(scripted: tuple[Scripted, Any]) -> None:
    """Just RUNNING with 3 units (no metric yet): the pace published by the last episode (10
    units) is replaced before the event source is enabled with the concurrency for 3."""
    aws, run = scripted
    aws.model("RUNNING", min_units=3)
    aws.queue(visible=20_000)
    aws.mapping("Disabled", 5)
    aws.units(in_service=None)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(3, 2, 7.5))
    aws.update_mapping(Enabled=True, ScalingConfig={"MaximumConcurrency": 2})

    summary = run()

    aws.done()
    capacity = summary["capacity"]
    assert (capacity["inference_units"], capacity["max_concurrency"]) == (3, 2)
    assert capacity["invocation_tps"] == pytest.approx(7.5)
    assert capacity["problems"] == []
    assert summary["event_source_changed"] is True


def test_a_model_without_auto_scaling_needs_no_metric(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=10)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(2, 2, 5.0))  # already sized: nothing to change

    summary = run()

    aws.done()  # no GetMetricData, PutParameter or UpdateEventSourceMapping was made
    assert summary["capacity"]["units_source"] == "MinInferenceUnits"
    assert summary["event_source_changed"] is False


def test_consumers_follow_units_added_by_auto_scaling(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=1, max_units=10)
    aws.queue(visible=30_000)
    aws.units(in_service=4.0, desired=6.0)  # scaling up: only what serves counts
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(1, 2, 2.5))
    aws.publish(capacity_document(4, 2, 10.0))  # 2 invocations x 10/s = 4 units

    summary = run()

    aws.done()
    assert summary["capacity"]["units_source"] == "InServiceInferenceUnits"
    assert summary["capacity"]["inference_units"] == 4


def test_a_scale_up_that_slows_each_invocation_moves_the_pace_first(
    scripted: tuple[Scripted, Any],
) -> None:
    """4 -> 5 units: 2 x 10/s becomes 3 x 8.33/s; 3 x 10/s in between would be throttled."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=30_000)
    aws.units(in_service=5.0)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(4, 2, 10.0))
    aws.publish(capacity_document(5, 2, 25 / 3))
    first = run()

    aws.model("RUNNING")
    aws.queue(visible=29_000)
    aws.units(in_service=5.0, now=T0 + timedelta(minutes=1))
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(5, 2, 25 / 3))
    aws.publish(capacity_document(5, 3, 25 / 3))
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 3})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert (first["capacity"]["max_concurrency"], second["capacity"]["max_concurrency"]) == (2, 3)


def test_a_scale_down_is_announced_by_desired_units(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=10.0, desired=1.0)
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 2})

    summary = run()

    aws.done()
    assert summary["capacity"]["inference_units"] == 1


def test_a_throttled_concurrency_update_is_made_on_the_next_run(
    scripted: tuple[Scripted, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=1.0)
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping("TooManyRequestsException", ScalingConfig={"MaximumConcurrency": 2})

    first = run()  # does not raise

    assert first["event_source_busy"] is True
    assert first["capacity"]["problems"] == ["UpdateEventSourceMapping: busy or throttled"]
    assert first["capacity"]["max_concurrency"] == 5  # still what the mapping has
    controller.metrics.flush_metrics()
    assert metric_total(emf_records(capsys.readouterr().out), "CapacityUpdateFailures") == 1

    aws.model("RUNNING")
    aws.queue(visible=90)
    aws.units(in_service=1.0, now=T0 + timedelta(minutes=1))
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(1, 2, 2.5))  # the first run's publish held
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 2})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["capacity"]["problems"] == []
    assert second["event_source_changed"] is True


def test_a_throttled_pace_publish_does_not_enable_faster_consumers(
    scripted: tuple[Scripted, Any],
) -> None:
    """Enabling at 1 unit while 10 units' pace is published: not until the slower one is."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=None)
    aws.mapping("Disabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5), error="ThrottlingException")

    first = run()

    assert first["event_source_busy"] is True
    assert first["event_source_changed"] is False
    assert "PutParameter" in first["capacity"]["problems"][0]

    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=None, now=T0 + timedelta(minutes=1))
    aws.mapping("Disabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping(Enabled=True, ScalingConfig={"MaximumConcurrency": 2})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["event_source_changed"] is True


def test_a_failed_pace_publish_still_adds_invocations_that_are_safe(
    scripted: tuple[Scripted, Any],
) -> None:
    """4 -> 10 units with the publish failing: 5 invocations at the old 10/s are 50/s, what
    10 units serve; so the concurrency moves now and the pace on the next run."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=50_000)
    aws.units(in_service=10.0)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(4, 2, 10.0))
    aws.publish(capacity_document(10, 5, 10.0), error="InternalServerError")
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 5})

    summary = run()

    aws.done()
    assert summary["capacity"]["max_concurrency"] == 5
    assert summary["capacity"]["invocation_tps"] == pytest.approx(10.0)


def test_an_unreadable_units_metric_changes_nothing(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.mapping("Enabled", 5)
    aws.stubs["cloudwatch"].add_client_error("get_metric_data", "Throttling")

    summary = run()

    aws.done()  # no PutParameter, no UpdateEventSourceMapping
    assert summary["capacity"]["problems"][0].startswith("GetMetricData")
    assert summary["event_source_changed"] is False


def test_an_unreadable_pace_parameter_enables_nothing(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=100)
    aws.mapping("Disabled", 2)
    aws.stubs["ssm"].add_client_error("get_parameter", "ThrottlingException")

    summary = run()

    aws.done()
    assert summary["event_source_busy"] is True
    assert summary["event_source_enabled"] is True  # decided, and made on a later run


def test_a_stop_waits_until_the_event_source_is_off(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=0)
    aws.no_recent_activity()
    aws.mapping("Updating", 2)  # e.g. a concurrency change still being applied

    first = run()

    assert (first["action"], first["action_outcome"]) == ("stop", "WAITING_FOR_EVENT_SOURCE")
    aws.model("RUNNING")
    aws.queue(visible=0)
    aws.no_recent_activity()
    aws.mapping("Enabled", 2)
    aws.update_mapping(Enabled=False)
    aws.stop()
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["action_outcome"] == "STOPPING"


def test_errors_that_no_retry_fixes_still_fail_the_run(scripted: tuple[Scripted, Any]) -> None:
    """Access denied is a deployment problem: the run fails (retried, then the alarmed DLQ)."""
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=100)
    aws.mapping("Disabled", 2)
    aws.published(None)
    aws.publish(capacity_document(2, 2, 5.0))
    aws.update_mapping("AccessDeniedException", Enabled=True)  # concurrency 2 already

    with pytest.raises(ClientError, match="AccessDenied"):
        run()


def test_units_in_service_reads_every_page_and_the_latest_datapoint() -> None:
    cloudwatch = _scripted_clients().cloudwatch
    model = ModelVersion.parse(MODEL_ARN)
    assert model is not None
    older, newer = T0 - timedelta(minutes=3), T0 - timedelta(minutes=1)
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [{"Id": "u0", "Timestamps": [older], "Values": [2.0]}],
                "NextToken": "page-2",
            },
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "u0", "Timestamps": [newer], "Values": [5.0]},
                    {"Id": "u1", "Timestamps": [newer], "Values": [7.0]},
                ]
            },
        )
        stub.add_response("get_metric_data", {"MetricDataResults": []})

        assert controller.operations.units_in_service(cloudwatch, model, T0) == 5.0
        assert controller.operations.units_in_service(cloudwatch, model, T0) is None
        stub.assert_no_pending_responses()

#!/usr/bin/env python3
"""What the automatic model start/stop costs and how long images wait, through the real decision.

    .venv/bin/python benchmarks/inference_cost_sim.py [--max-inference-units N] [--env dev]
        [--idle-minutes M] [--drain-minutes D] [--start-minutes S] [--scale-up-minutes U]

A simulated clock (one-second steps) replays three arrival patterns - a steady trickle, three
daily bursts of 2,000 images, one burst of 50,000 uploaded over ten minutes - through
``model_controller.decision`` (the code the deployed controller runs every minute: ``decide``,
the unit choice, ``capacity_step``) with the environment's configuration from cdk.json and
``max_inference_units`` = N (default: the environment's). The model needs ``--start-minutes``
(10) to start and each inference unit serves ``tps_per_inference_unit`` (5) images per second;
images wait in the queue until it runs.

**Rekognition's auto-scaling** (a start with MaxInferenceUnits > MinInferenceUnits) is not
documented beyond "adds units as demand increases, removes them when it decreases". Assumed,
conservatively: one unit is added after every ``--scale-up-minutes`` (10) of saturation (every
unit busy for that long without a break; the count restarts after each added unit) and one is
removed after 15 minutes during which one unit fewer would have served the load, never below
MinInferenceUnits. Capacity never appears before load does, and each added unit bills from
then on.

Billed inference-unit hours are the units in service integrated from the start request to the
stop request (AWS bills while the model runs; counting the start too charges every policy the
start latency the ideal includes). Compared policies:

- ideal: busy time at full capacity (N units) plus one start latency per episode of work, at N
  units (an oracle that starts the model exactly when needed; gaps shorter than a start are
  bridged, as restarting would cost more);
- ``on_demand, today``: the controller as it was: it always starts ``min_inference_units``
  (MaxInferenceUnits N, so Rekognition may scale up), and the consumers are sized at synth
  time to N units, so while fewer run the surplus calls are throttled (counted; their
  redelivery delays are not modelled, which flatters today's waits);
- ``on_demand, new``: the units chosen from the backlog and ``drain_minutes`` (with the forecast
  of arrivals during the start), and consumers sized each minute to the units the controller
  reads from CloudWatch (``InServiceInferenceUnits``, one minute late) with ``capacity_step``;
  consumers pick up a new pace within 30 s (their cache);
- ``on_demand, new, cold controller``: the same, without the history of earlier runs (every run
  a cold start): the units come from the backlog the controller sees, nothing forecast;
- ``scheduled 08-20 UTC, new``: the new controller in the scheduled mode;
- hourly cron, as in the public Rekognition Custom Labels batch-processing sample: a job every
  hour starts the model (``min_inference_units``, no auto-scaling) when images are waiting, and
  stops it once they are done and it has run at least 59 minutes;
- always on: running the whole day at ``min_inference_units``, auto-scaling up to N.

The controller sees what it sees in production: the queue's waiting messages at each run, the
last minute with any sent or received message (CloudWatch's one-minute SQS metrics, read as the
end of that minute), and the units in service a minute late. Prints a table per pattern and a
summary, writes ``benchmarks/results/inference_cost_sim_max<N>.json``, and ends with the line
``burst 50,000 (max N IU): p95 wait X min, Y x ideal IU-hours`` (the new on_demand controller).

Exit status 1 when a target is missed: the bursty day (new on_demand) above 1.25x its ideal or
less than 10x cheaper than always on; the trickle day (new) more expensive than today's
controller in the same run; and, at N = 10, the 50,000 burst's p95 wait above 30 minutes or its
cost above 1.3x its ideal.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

from contracts.consumer_capacity import ConsumerCapacity, capacity_for  # noqa: E402
from model_controller.decision import (  # noqa: E402
    Action,
    BacklogHistory,
    Observation,
    Policy,
    capacity_step,
    decide,
)
from stacks.config import EXPECTED_MODEL_START_MINUTES, load_environment  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
DAY = 24 * 3600
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
PRICE_PER_IU_HOUR = 4.0
#: Targets (see the module docstring).
BURSTY_VS_IDEAL = 1.25
BURSTY_ALWAYS_ON_OVER_THIS = 10.0
BURST_P95_MINUTES = 30.0
BURST_VS_IDEAL = 1.3
BURST_TARGET_UNITS = 10
#: Auto-scaling assumption: minutes of saturation per unit added; of under-use per unit removed.
SCALE_UP_MINUTES = 10.0
SCALE_DOWN_MINUTES = 15.0
#: How late the controller sees the units in service (CloudWatch's one-minute average).
UNITS_METRIC_LAG_SECONDS = 60
#: How long consumers may keep using the pace published before (their cache is shorter).
PACE_CACHE_SECONDS = 30
CONTROL_SECONDS = 60
TRICKLE = "steady trickle (1 image / 2 min)"
BURSTY = "three daily bursts of 2,000"
BURST = "one burst of 50,000"
TODAY = "on_demand, today (starts min IU)"
NEW = "on_demand, new (units for the backlog)"
NEW_COLD = "on_demand, new, cold controller (no history)"
IDEAL = "ideal (N IU busy + one start per episode)"
ALWAYS_ON = "always on (min IU, auto-scaling to N)"


# --------------------------------------------------------------------------------------------
# arrival patterns: images arriving in each second of the day
# --------------------------------------------------------------------------------------------


def spread(arrivals: dict[int, int], start: int, images: int, seconds: int) -> None:
    """``images`` uploaded evenly over ``seconds`` from ``start``."""
    for index in range(images):
        second = start + index * seconds // images
        arrivals[second] = arrivals.get(second, 0) + 1


def trickle() -> dict[int, int]:
    """One image every two minutes, all day (720 images)."""
    return {second: 1 for second in range(17, DAY, 120)}


def three_bursts() -> dict[int, int]:
    """2,000 images at 08:00, 13:00 and 18:00, each uploaded over a minute."""
    arrivals: dict[int, int] = {}
    for hour in (8, 13, 18):
        spread(arrivals, hour * 3600 + 20, 2000, 60)
    return arrivals


def big_burst() -> dict[int, int]:
    """50,000 images at 09:00, uploaded over ten minutes."""
    arrivals: dict[int, int] = {}
    spread(arrivals, 9 * 3600 + 20, 50_000, 600)
    return arrivals


PATTERNS: dict[str, Callable[[], dict[int, int]]] = {
    TRICKLE: trickle,
    BURSTY: three_bursts,
    BURST: big_burst,
}


# --------------------------------------------------------------------------------------------
# the simulated model and queue
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Result of one policy on one pattern."""

    billed_unit_seconds: float = 0.0
    starts: int = 0
    start_units: list[int] = field(default_factory=list)
    peak_units: int = 0
    waits: list[float] = field(default_factory=list)
    throttled: int = 0
    finished_at: int = 0

    @property
    def iu_hours(self) -> float:
        return self.billed_unit_seconds / 3600


class Model:
    """STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED, with inference units in service.

    Billed per unit from the start request to the stop request. While RUNNING with
    ``max_units > min_units`` it auto-scales as the module docstring assumes.
    """

    def __init__(self, start_seconds: int, stop_seconds: int, tps_per_unit: float) -> None:
        self.status = "STOPPED"
        self.ready_at = 0
        self.start_seconds = start_seconds
        self.stop_seconds = stop_seconds
        self.tps_per_unit = tps_per_unit
        self.min_units = self.max_units = self.units = 0
        self.started_at = 0
        self._saturated = self._underused = 0
        self._unit_changes: list[tuple[int, int]] = []

    @property
    def billed(self) -> bool:
        return self.status in {"STARTING", "RUNNING"}

    @property
    def capacity(self) -> float:
        return self.units * self.tps_per_unit if self.status == "RUNNING" else 0.0

    def start(self, now: int, min_units: int, max_units: int, run: Run) -> None:
        self.status, self.ready_at, self.started_at = "STARTING", now + self.start_seconds, now
        self.min_units, self.max_units = min_units, max(min_units, max_units)
        self._set_units(now, min_units)
        self._saturated = self._underused = 0
        run.starts += 1
        run.start_units.append(min_units)

    def stop(self, now: int) -> None:
        self.status, self.ready_at = "STOPPING", now + self.stop_seconds

    def units_seen(self, now: int, lag: int) -> int:
        """Units in service ``lag`` seconds ago (what a one-minute CloudWatch average shows)."""
        seen = self.min_units
        for when, units in self._unit_changes:
            if when <= now - lag:
                seen = units
        return seen

    def tick(self, now: int, run: Run) -> None:
        if self.billed:
            run.billed_unit_seconds += self.units
            run.peak_units = max(run.peak_units, self.units)
        if self.status == "STARTING" and now >= self.ready_at:
            self.status = "RUNNING"
        elif self.status == "STOPPING" and now >= self.ready_at:
            self.status = "STOPPED"

    def autoscale(self, now: int, served: int, scale_up_seconds: float) -> None:
        """The assumed auto-scaling, after a second that served ``served`` images."""
        if self.status != "RUNNING" or self.max_units == self.min_units:
            return
        if served >= self.capacity:
            self._saturated, self._underused = self._saturated + 1, 0
            if self._saturated >= scale_up_seconds and self.units < self.max_units:
                self._set_units(now, self.units + 1)
                self._saturated = 0
        elif served <= self.capacity - self.tps_per_unit:
            self._saturated, self._underused = 0, self._underused + 1
            if self._underused >= SCALE_DOWN_MINUTES * 60 and self.units > self.min_units:
                self._set_units(now, self.units - 1)
                self._underused = 0
        else:
            self._saturated = self._underused = 0

    def _set_units(self, now: int, units: int) -> None:
        self.units = units
        self._unit_changes.append((now, units))


class Queue:
    """FIFO of arrival times: consumers ask for ``demand`` calls/s, the model serves ``capacity``.

    Calls beyond the capacity are throttled: counted, and their images stay queued.
    """

    def __init__(self) -> None:
        self.waiting: list[tuple[int, int]] = []  # (arrival second, count)
        self.count = 0
        self.credit = 0.0

    def add(self, now: int, count: int) -> None:
        if count:
            self.waiting.append((now, count))
            self.count += count

    def size(self) -> int:
        return self.count

    def serve(self, now: int, demand: float, capacity: float, run: Run) -> int:
        """Serve one second; calls beyond ``capacity`` are throttled (they stay queued)."""
        self.credit = min(self.credit + demand, demand)
        calls = min(int(self.credit), self.count)
        self.credit -= calls
        served = min(calls, int(capacity))
        run.throttled += calls - served
        left = served
        while left:
            arrived, count = self.waiting[0]
            take = min(count, left)
            run.waits.extend([now - arrived] * take)
            left -= take
            if take == count:
                self.waiting.pop(0)
            else:
                self.waiting[0] = (arrived, count - take)
        self.count -= served
        return served


# --------------------------------------------------------------------------------------------
# policies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What every policy shares: the environment's settings with max N units."""

    policy: Policy
    calls_in_flight: int
    start_seconds: int
    scale_up_seconds: float
    horizon: int = 2 * DAY

    def capacity(self, units: int) -> ConsumerCapacity:
        return capacity_for(units, self.policy.tps_per_unit, self.calls_in_flight)


class Consumers:
    """The event source's concurrency and the pace the consumers use (30-s cache)."""

    def __init__(self, initial: ConsumerCapacity) -> None:
        self.concurrency = initial.max_concurrency
        self.published = self.previous = initial.invocation_tps
        self.published_at = -PACE_CACHE_SECONDS

    def demand(self, now: int) -> float:
        if now - self.published_at < PACE_CACHE_SECONDS:
            return self.concurrency * max(self.published, self.previous)  # either is in use
        return self.concurrency * self.published

    def apply(self, now: int, concurrency: int, pace: float) -> None:
        self.concurrency = concurrency
        if pace != self.published:
            self.previous, self.published, self.published_at = self.published, pace, now


def controller(arrivals: dict[int, int], setup: Setup, *, new: bool, memory: bool = True) -> Run:
    """The deployed controller: ``decide`` every minute; the event source follows it."""
    policy = setup.policy
    run, model, queue = Run(), Model(setup.start_seconds, 60, policy.tps_per_unit), Queue()
    synth_time = setup.capacity(policy.max_units)  # today: consumers sized to N at synth time
    consumers = Consumers(setup.capacity(policy.min_units) if new else synth_time)
    history = BacklogHistory()
    gate_open = False
    last_active_minute: int | None = None
    lookback = policy.idle_minutes + 5
    for now in range(setup.horizon):
        model.tick(now, run)
        arrived = arrivals.get(now, 0)
        queue.add(now, arrived)
        served = 0
        if gate_open and model.status == "RUNNING":
            served = queue.serve(now, consumers.demand(now), model.capacity, run)
        model.autoscale(now, served, setup.scale_up_seconds)
        if arrived or served:
            last_active_minute = now // 60
        if now % CONTROL_SECONDS == 0:
            waiting = queue.size()
            minutes = None
            if waiting:
                minutes = 0.0
            elif last_active_minute is not None:
                since = (now - (last_active_minute + 1) * 60) / 60
                minutes = max(0.0, since) if since <= lookback else None
            when = MIDNIGHT + timedelta(seconds=now)
            recent = history.recent(when) if new and memory else ()
            decision = decide(Observation(model.status, waiting, minutes, when, recent), policy)
            history.record(when, waiting, consuming=decision.event_source_enabled)
            if new and decision.event_source_enabled:
                units = max(1, model.units_seen(now, UNITS_METRIC_LAG_SECONDS))
                step = capacity_step(
                    consumers.concurrency,
                    consumers.published,
                    setup.capacity(min(units, policy.max_units)),
                    consumers_running=gate_open,
                )
                consumers.apply(now, step.max_concurrency, step.invocation_tps)
            gate_open = decision.event_source_enabled
            if decision.action is Action.START:
                assert decision.units is not None
                units = decision.units if new else policy.min_units
                model.start(now, units, policy.max_units, run)
            elif decision.action is Action.STOP:
                model.stop(now)
        if now >= DAY and model.status == "STOPPED" and not queue.size():
            break
    run.finished_at = now
    return run


def hourly_cron(arrivals: dict[int, int], setup: Setup) -> Run:
    """Start on the hour if images wait; stop when done and running for at least 59 minutes."""
    units = setup.policy.min_units
    run, model, queue = Run(), Model(setup.start_seconds, 60, setup.policy.tps_per_unit), Queue()
    for now in range(setup.horizon):
        model.tick(now, run)
        queue.add(now, arrivals.get(now, 0))
        if model.status == "RUNNING":
            queue.serve(now, model.capacity, model.capacity, run)
        if now % 3600 == 0 and model.status == "STOPPED" and queue.size():
            model.start(now, units, units, run)
        if (
            now % 60 == 0
            and model.status == "RUNNING"
            and not queue.size()
            and now - model.started_at >= 59 * 60
        ):
            model.stop(now)
        if now >= DAY and model.status == "STOPPED" and not queue.size():
            break
    run.finished_at = now
    return run


def always_on(arrivals: dict[int, int], setup: Setup) -> Run:
    """Running all day (and until the queue is empty) at min units, auto-scaling to N."""
    policy = setup.policy
    run, model, queue = Run(), Model(0, 60, policy.tps_per_unit), Queue()
    model.start(0, policy.min_units, policy.max_units, run)
    run.starts = 0
    for now in range(setup.horizon):
        model.tick(now, run)
        queue.add(now, arrivals.get(now, 0))
        served = queue.serve(now, model.capacity, model.capacity, run)
        model.autoscale(now, served, setup.scale_up_seconds)
        if now >= DAY and not queue.size():
            break
    run.finished_at = now
    return run


def ideal(arrivals: dict[int, int], setup: Setup) -> Run:
    """Busy time at N units plus one start latency per episode (gaps shorter than a start are
    bridged), billed at N units."""
    units, start_s = setup.policy.max_units, setup.start_seconds
    rate = units * setup.policy.tps_per_unit
    run, queue = Run(), Queue()
    busy: list[list[int]] = []
    for now in range(setup.horizon):
        queue.add(now, arrivals.get(now, 0))
        if queue.serve(now, rate, rate, run):
            if busy and now - busy[-1][1] <= 1:
                busy[-1][1] = now + 1
            else:
                busy.append([now, now + 1])
        if now >= DAY and not queue.size():
            break
    episodes: list[list[int]] = []
    for start, end in busy:
        if episodes and start - episodes[-1][1] < start_s:
            episodes[-1][1] = end
        else:
            episodes.append([start, end])
    run.billed_unit_seconds = units * sum(end - start + start_s for start, end in episodes)
    run.starts = len(episodes)
    run.start_units = [units] * len(episodes)
    run.peak_units = units
    run.waits = [0.0]
    return run


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)] if ordered else 0


def summarize(run: Run, base: float, always: float) -> dict[str, Any]:
    return {
        "iu_hours": run.iu_hours,
        "dollars": run.iu_hours * PRICE_PER_IU_HOUR,
        "vs_ideal": run.iu_hours / base,
        "always_on_over_this": always / run.iu_hours if run.iu_hours else math.inf,
        "starts": run.starts,
        "units_at_start": sorted(set(run.start_units)),
        "peak_units": run.peak_units,
        "throttled_calls": run.throttled,
        "p50_wait_minutes": percentile(run.waits, 0.5) / 60,
        "p95_wait_minutes": percentile(run.waits, 0.95) / 60,
        "max_wait_minutes": max(run.waits) / 60 if run.waits else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev", help="environment whose configuration to use")
    parser.add_argument(
        "--max-inference-units",
        type=int,
        help="max_inference_units N (default: the environment's)",
    )
    parser.add_argument("--idle-minutes", type=int, help="override model_control.idle_minutes")
    parser.add_argument("--drain-minutes", type=int, help="override model_control.drain_minutes")
    parser.add_argument(
        "--start-minutes",
        type=float,
        default=float(EXPECTED_MODEL_START_MINUTES),
        help="model start latency",
    )
    parser.add_argument(
        "--scale-up-minutes",
        type=float,
        default=SCALE_UP_MINUTES,
        help="auto-scaling: minutes of saturation before a unit is added",
    )
    arguments = parser.parse_args(argv)

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    settings = load_environment(context, arguments.env).rekognition
    control = settings.model_control
    units = arguments.max_inference_units or settings.max_inference_units
    if units < settings.min_inference_units:
        parser.error(f"--max-inference-units must be at least {settings.min_inference_units}")
    policy = Policy(
        "on_demand",
        arguments.idle_minutes or control.idle_minutes,
        drain_minutes=arguments.drain_minutes or control.drain_minutes,
        min_units=settings.min_inference_units,
        max_units=units,
        tps_per_unit=settings.tps_per_inference_unit,
        expected_start_minutes=EXPECTED_MODEL_START_MINUTES,
    )
    scheduled = Policy(
        "scheduled",
        policy.idle_minutes,
        8,
        20,
        drain_minutes=policy.drain_minutes,
        min_units=policy.min_units,
        max_units=policy.max_units,
        tps_per_unit=policy.tps_per_unit,
        expected_start_minutes=policy.expected_start_minutes,
    )
    setup = Setup(
        policy=policy,
        calls_in_flight=settings.calls_in_flight,
        start_seconds=round(arguments.start_minutes * 60),
        scale_up_seconds=arguments.scale_up_minutes * 60,
    )
    policies: dict[str, Callable[[dict[int, int]], Run]] = {
        TODAY: lambda a: controller(a, setup, new=False),
        NEW: lambda a: controller(a, setup, new=True),
        NEW_COLD: lambda a: controller(a, setup, new=True, memory=False),
        "scheduled 08-20 UTC, new": lambda a: controller(
            a,
            Setup(scheduled, setup.calls_in_flight, setup.start_seconds, setup.scale_up_seconds),
            new=True,
        ),
        "hourly cron, >= 59 min (public sample)": lambda a: hourly_cron(a, setup),
        ALWAYS_ON: lambda a: always_on(a, setup),
    }
    results: dict[str, Any] = {
        "assumptions": {
            "environment": arguments.env,
            "min_inference_units": policy.min_units,
            "max_inference_units": units,
            "images_per_second_per_unit": policy.tps_per_unit,
            "drain_minutes": policy.drain_minutes,
            "start_minutes": arguments.start_minutes,
            "idle_minutes": policy.idle_minutes,
            "auto_scaling": (
                f"+1 unit per {arguments.scale_up_minutes:g} min of saturation, -1 unit per "
                f"{SCALE_DOWN_MINUTES:g} min of under-use"
            ),
            "units_metric_lag_seconds": UNITS_METRIC_LAG_SECONDS,
            "pace_cache_seconds": PACE_CACHE_SECONDS,
            "price_per_iu_hour": PRICE_PER_IU_HOUR,
            "controller_interval_seconds": CONTROL_SECONDS,
            "billing": "units in service from start request to stop request",
        },
        "patterns": {},
    }
    for pattern, make in PATTERNS.items():
        arrivals = make()
        rows = {IDEAL: ideal(arrivals, setup)}
        rows |= {name: simulate(arrivals) for name, simulate in policies.items()}
        base = rows[IDEAL].iu_hours
        always = rows[ALWAYS_ON].iu_hours
        results["patterns"][pattern] = {
            "images": sum(arrivals.values()),
            "policies": {name: summarize(run, base, always) for name, run in rows.items()},
        }
    results["targets"] = targets(results, units)
    report(results, units)
    return 0 if results["targets"]["met"] else 1


def targets(results: dict[str, Any], units: int) -> dict[str, Any]:
    patterns = results["patterns"]
    bursty = patterns[BURSTY]["policies"][NEW]
    trickle_new = patterns[TRICKLE]["policies"][NEW]["iu_hours"]
    trickle_today = patterns[TRICKLE]["policies"][TODAY]["iu_hours"]
    burst = patterns[BURST]["policies"][NEW]
    checks = {
        f"bursty day <= {BURSTY_VS_IDEAL}x ideal": bursty["vs_ideal"] <= BURSTY_VS_IDEAL,
        f"bursty day >= {BURSTY_ALWAYS_ON_OVER_THIS:g}x cheaper than always on": (
            bursty["always_on_over_this"] >= BURSTY_ALWAYS_ON_OVER_THIS
        ),
        "trickle day no dearer than today": trickle_new <= trickle_today * (1 + 1e-9),
    }
    if units == BURST_TARGET_UNITS:
        checks[f"burst p95 wait <= {BURST_P95_MINUTES:g} min"] = (
            burst["p95_wait_minutes"] <= BURST_P95_MINUTES
        )
        checks[f"burst <= {BURST_VS_IDEAL}x ideal"] = burst["vs_ideal"] <= BURST_VS_IDEAL
    return {
        "bursty_vs_ideal": bursty["vs_ideal"],
        "bursty_always_on_over_new": bursty["always_on_over_this"],
        "trickle_new_over_today": trickle_new / trickle_today,
        "burst_p95_wait_minutes": burst["p95_wait_minutes"],
        "burst_vs_ideal": burst["vs_ideal"],
        "checks": checks,
        "met": all(checks.values()),
    }


def report(results: dict[str, Any], units: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(140, Console().width))
    assumptions = results["assumptions"]
    for pattern, data in results["patterns"].items():
        table = Table(title=f"{pattern}: {data['images']:,} images in a day (max {units} IU)")
        for column in (
            "Policy",
            "Billed IU-hours",
            "Cost",
            "x ideal",
            "Always-on / this",
            "Starts (units)",
            "Peak IU",
            "Throttled calls",
            "Wait p50 / p95 / max (min)",
        ):
            table.add_column(column, justify="left" if column == "Policy" else "right")
        for name, row in data["policies"].items():
            table.add_row(
                name,
                f"{row['iu_hours']:.2f}",
                f"${row['dollars']:.2f}",
                f"{row['vs_ideal']:.2f}",
                f"{row['always_on_over_this']:.1f}x",
                f"{row['starts']} ({','.join(map(str, row['units_at_start'])) or '-'})",
                str(row["peak_units"]),
                f"{row['throttled_calls']:,}",
                f"{row['p50_wait_minutes']:.1f} / {row['p95_wait_minutes']:.1f} / "
                f"{row['max_wait_minutes']:.1f}",
            )
        console.print(table)
    summary = Table(title=f"Today's controller and the new one, side by side (max {units} IU)")
    for column in ("Pattern", "Design", "IU-hours", "x ideal", "p95 / max wait (min)", "Throttled"):
        summary.add_column(column, justify="left" if column in ("Pattern", "Design") else "right")
    for pattern, data in results["patterns"].items():
        for label, name in (("today", TODAY), ("new", NEW)):
            row = data["policies"][name]
            summary.add_row(
                pattern if label == "today" else "",
                label,
                f"{row['iu_hours']:.2f}",
                f"{row['vs_ideal']:.2f}",
                f"{row['p95_wait_minutes']:.1f} / {row['max_wait_minutes']:.1f}",
                f"{row['throttled_calls']:,}",
            )
    console.print(summary)
    checks = results["targets"]["checks"]
    console.print(
        f"{assumptions['min_inference_units']}..{units} inference units at "
        f"{assumptions['images_per_second_per_unit']:g} images/s each, start "
        f"{assumptions['start_minutes']:g} min, idle {assumptions['idle_minutes']} min, drain "
        f"{assumptions['drain_minutes']} min, auto-scaling {assumptions['auto_scaling']}, "
        f"${assumptions['price_per_iu_hour']:g}/IU-h."
    )
    console.print(
        "Targets: "
        + "; ".join(
            f"{name} [{'green]met' if ok else 'red]NOT met'}[/]" for name, ok in checks.items()
        )
    )
    path = RESULTS_DIR / f"inference_cost_sim_max{units}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"Written to {path.relative_to(ROOT)}")
    burst = results["patterns"][BURST]["policies"][NEW]
    print(
        f"burst 50,000 (max {units} IU): p95 wait {burst['p95_wait_minutes']:.1f} min, "
        f"{burst['vs_ideal']:.2f} x ideal IU-hours"
    )


if __name__ == "__main__":
    sys.exit(main())

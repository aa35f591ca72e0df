#!/usr/bin/env python3
"""What the automatic model start/stop costs, replayed through the real controller decision.

    .venv/bin/python benchmarks/inference_cost_sim.py [--env dev] [--idle-minutes N]

A simulated clock (one-second steps) replays three arrival patterns - a steady trickle, three
daily bursts of 2,000 images, one burst of 50,000 - through ``model_controller.decision.decide``
(the code the deployed controller runs, every minute), with the environment's configuration from
cdk.json. The model needs ``--start-minutes`` (10) to start and serves ``tps_per_inference_unit``
(5) images per second per inference unit; images wait in the queue until it runs.

Billed inference-unit hours are counted from the start request to the stop request (AWS bills
while the model is RUNNING; counting the start-up too charges every policy the same start
latency the ideal includes). Compared policies:

- ``on_demand`` (and ``scheduled`` 08:00-20:00 UTC): the controller, as deployed;
- ideal: busy time plus one start latency per episode of work (an oracle that starts the model
  exactly when needed; gaps shorter than a start are bridged, as restarting would cost more);
- always on: running the whole day;
- hourly cron, as in the public Rekognition Custom Labels batch-processing sample: a job every
  hour starts the model when images are waiting, and stops it once they are done and it has
  run at least 59 minutes.

The controller sees what it sees in production: the queue's waiting messages at each run, and
the last minute with any sent or received message (CloudWatch's one-minute SQS metrics, read
as the end of that minute). Prints a table, writes ``benchmarks/results/inference_cost_sim.json``.
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

from model_controller.decision import Action, Observation, Policy, decide  # noqa: E402
from stacks.config import load_environment  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "inference_cost_sim.json"
DAY = 24 * 3600
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
PRICE_PER_IU_HOUR = 4.0
TARGET_VS_IDEAL = 1.25
TARGET_VS_ALWAYS_ON = 10.0


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
    "steady trickle (1 image / 2 min)": trickle,
    "three daily bursts of 2,000": three_bursts,
    "one burst of 50,000": big_burst,
}


# --------------------------------------------------------------------------------------------
# the simulated model and queue
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Result of one policy on one pattern."""

    billed_seconds: float = 0.0
    starts: int = 0
    waits: list[float] = field(default_factory=list)
    finished_at: int = 0

    def iu_hours(self, units: int) -> float:
        return self.billed_seconds / 3600 * units


class Model:
    """STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED, billed from start to stop request."""

    def __init__(self, start_seconds: int, stop_seconds: int) -> None:
        self.status = "STOPPED"
        self.ready_at = 0
        self.start_seconds = start_seconds
        self.stop_seconds = stop_seconds
        self.billed_since: int | None = None
        self.started_at = 0

    def start(self, now: int, run: Run) -> None:
        self.status, self.ready_at = "STARTING", now + self.start_seconds
        self.billed_since, self.started_at = now, now
        run.starts += 1

    def stop(self, now: int, run: Run) -> None:
        assert self.billed_since is not None
        run.billed_seconds += now - self.billed_since
        self.billed_since = None
        self.status, self.ready_at = "STOPPING", now + self.stop_seconds

    def tick(self, now: int) -> None:
        if self.status == "STARTING" and now >= self.ready_at:
            self.status = "RUNNING"
        elif self.status == "STOPPING" and now >= self.ready_at:
            self.status = "STOPPED"


class Queue:
    """FIFO of arrival times; serves up to ``rate`` images per second when allowed."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.waiting: list[tuple[int, int]] = []  # (arrival second, count)
        self.credit = 0.0

    def add(self, now: int, count: int) -> None:
        if count:
            self.waiting.append((now, count))

    def size(self) -> int:
        return sum(count for _, count in self.waiting)

    def serve(self, now: int, run: Run) -> int:
        self.credit = min(self.credit + self.rate, self.rate)
        served = 0
        while self.waiting and self.credit >= 1:
            arrived, count = self.waiting[0]
            take = min(count, int(self.credit))
            run.waits.extend([now - arrived] * take)
            self.credit -= take
            served += take
            if take == count:
                self.waiting.pop(0)
            else:
                self.waiting[0] = (arrived, count - take)
        return served


# --------------------------------------------------------------------------------------------
# policies
# --------------------------------------------------------------------------------------------


def controller(
    arrivals: dict[int, int], policy: Policy, rate: float, start_s: int, horizon: int
) -> Run:
    """The deployed controller: ``decide`` every minute; the event source follows it."""
    run, model, queue = Run(), Model(start_s, 60), Queue(rate)
    gate_open = False
    last_active_minute: int | None = None
    lookback = policy.idle_minutes + 5
    for now in range(horizon):
        model.tick(now)
        arrived = arrivals.get(now, 0)
        queue.add(now, arrived)
        served = queue.serve(now, run) if gate_open and model.status == "RUNNING" else 0
        if arrived or served:
            last_active_minute = now // 60
        if now % 60 == 0:
            waiting = queue.size()
            minutes = None
            if waiting:
                minutes = 0.0
            elif last_active_minute is not None:
                since = (now - (last_active_minute + 1) * 60) / 60
                minutes = max(0.0, since) if since <= lookback else None
            decision = decide(
                Observation(model.status, waiting, minutes, MIDNIGHT + timedelta(seconds=now)),
                policy,
            )
            gate_open = decision.event_source_enabled
            if decision.action is Action.START:
                model.start(now, run)
            elif decision.action is Action.STOP:
                model.stop(now, run)
        if now >= DAY and model.status == "STOPPED" and not queue.size():
            break
    if model.billed_since is not None:  # still running at the end: bill it
        run.billed_seconds += now - model.billed_since
    run.finished_at = now
    return run


def hourly_cron(arrivals: dict[int, int], rate: float, start_s: int, horizon: int) -> Run:
    """Start on the hour if images wait; stop when done and running for at least 59 minutes."""
    run, model, queue = Run(), Model(start_s, 60), Queue(rate)
    for now in range(horizon):
        model.tick(now)
        queue.add(now, arrivals.get(now, 0))
        if model.status == "RUNNING":
            queue.serve(now, run)
        if now % 3600 == 0 and model.status == "STOPPED" and queue.size():
            model.start(now, run)
        if (
            now % 60 == 0
            and model.status == "RUNNING"
            and not queue.size()
            and now - model.started_at >= 59 * 60
        ):
            model.stop(now, run)
        if now >= DAY and model.status == "STOPPED" and not queue.size():
            break
    if model.billed_since is not None:
        run.billed_seconds += now - model.billed_since
    run.finished_at = now
    return run


def always_on(arrivals: dict[int, int], rate: float, horizon: int) -> Run:
    run, queue = Run(), Queue(rate)
    for now in range(horizon):
        queue.add(now, arrivals.get(now, 0))
        queue.serve(now, run)
        if now >= DAY and not queue.size():
            break
    run.billed_seconds = max(DAY, now)
    run.finished_at = now
    return run


def ideal(arrivals: dict[int, int], rate: float, start_s: int, horizon: int) -> Run:
    """Busy time plus one start latency per episode (gaps shorter than a start are bridged)."""
    run, queue = Run(), Queue(rate)
    busy: list[list[int]] = []
    for now in range(horizon):
        queue.add(now, arrivals.get(now, 0))
        if queue.serve(now, run):
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
    run.billed_seconds = sum(end - start + start_s for start, end in episodes)
    run.starts = len(episodes)
    run.waits = [0.0]
    return run


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)] if ordered else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev", help="environment whose configuration to use")
    parser.add_argument("--idle-minutes", type=int, help="override model_control.idle_minutes")
    parser.add_argument("--start-minutes", type=float, default=10.0, help="model start latency")
    arguments = parser.parse_args(argv)

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    settings = load_environment(context, arguments.env).rekognition
    units = settings.max_inference_units
    rate = units * settings.tps_per_inference_unit
    idle = arguments.idle_minutes or settings.model_control.idle_minutes
    start_s = round(arguments.start_minutes * 60)
    horizon = 2 * DAY
    policies: dict[str, Callable[[dict[int, int]], Run]] = {
        "on_demand (this controller)": lambda a: controller(
            a, Policy("on_demand", idle), rate, start_s, horizon
        ),
        "scheduled 08-20 UTC (this controller)": lambda a: controller(
            a, Policy("scheduled", idle, 8, 20), rate, start_s, horizon
        ),
        "hourly cron, >= 59 min (public sample)": lambda a: hourly_cron(a, rate, start_s, horizon),
        "always on": lambda a: always_on(a, rate, horizon),
    }
    results: dict[str, Any] = {
        "assumptions": {
            "environment": arguments.env,
            "inference_units": units,
            "images_per_second": rate,
            "start_minutes": arguments.start_minutes,
            "idle_minutes": idle,
            "price_per_iu_hour": PRICE_PER_IU_HOUR,
            "controller_interval_seconds": 60,
            "billing": "from start request to stop request",
        },
        "patterns": {},
    }
    for pattern, make in PATTERNS.items():
        arrivals = make()
        best = ideal(arrivals, rate, start_s, horizon)
        rows = {"ideal (busy + start latency)": best}
        rows |= {name: simulate(arrivals) for name, simulate in policies.items()}
        base = best.iu_hours(units)
        always = rows["always on"].iu_hours(units)
        results["patterns"][pattern] = {
            "images": sum(arrivals.values()),
            "policies": {
                name: {
                    "iu_hours": run.iu_hours(units),
                    "dollars": run.iu_hours(units) * PRICE_PER_IU_HOUR,
                    "vs_ideal": run.iu_hours(units) / base,
                    "always_on_over_this": always / run.iu_hours(units),
                    "starts": run.starts,
                    "p50_wait_minutes": percentile(run.waits, 0.5) / 60,
                    "p95_wait_minutes": percentile(run.waits, 0.95) / 60,
                    "max_wait_minutes": max(run.waits) / 60 if run.waits else 0,
                }
                for name, run in rows.items()
            },
        }
    bursty = results["patterns"]["three daily bursts of 2,000"]["policies"]
    on_demand = bursty["on_demand (this controller)"]
    results["targets"] = {
        "bursty_vs_ideal": on_demand["vs_ideal"],
        "bursty_always_on_over_on_demand": on_demand["always_on_over_this"],
        "met": on_demand["vs_ideal"] <= TARGET_VS_IDEAL
        and on_demand["always_on_over_this"] >= TARGET_VS_ALWAYS_ON,
    }
    report(results)
    return 0 if results["targets"]["met"] else 1


def report(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(130, Console().width))
    assumptions = results["assumptions"]
    for pattern, data in results["patterns"].items():
        table = Table(title=f"{pattern}: {data['images']:,} images in a day")
        for column in (
            "Policy",
            "Billed IU-hours",
            "Cost",
            "x ideal",
            "Always-on / this",
            "Starts",
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
                str(row["starts"]),
                f"{row['p50_wait_minutes']:.1f} / {row['p95_wait_minutes']:.1f} / "
                f"{row['max_wait_minutes']:.1f}",
            )
        console.print(table)
    targets = results["targets"]
    met = "[green]met[/green]" if targets["met"] else "[red]NOT met[/red]"
    console.print(
        f"{assumptions['inference_units']} inference unit(s) at "
        f"{assumptions['images_per_second']:g} images/s, start {assumptions['start_minutes']:g} "
        f"min, idle {assumptions['idle_minutes']} min, ${assumptions['price_per_iu_hour']:g}/IU-h. "
        f"Bursty day, on_demand: {targets['bursty_vs_ideal']:.2f}x the ideal (target <= "
        f"{TARGET_VS_IDEAL}), {targets['bursty_always_on_over_on_demand']:.1f}x cheaper than "
        f"always on (target >= {TARGET_VS_ALWAYS_ON:g}x). Targets {met}."
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"Written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())

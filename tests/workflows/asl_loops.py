"""The polling loops of an ASL definition, found as cycles of its state graph.

A loop is a strongly connected set of states (Next, Default, Choices and Catch edges; a Map's
item processor is its own graph). For each: its label (``Wait<label>``, or ``Count<label>`` for
a loop that does not wait), the seconds it waits per iteration, its bound (the counter Choice's
``NumericGreaterThanEquals``), the history events one iteration adds (a Task state 5: entered,
scheduled, started, succeeded, exited; any other state 2: entered, exited) and, inside a Map,
the Map's ``MaxConcurrency``. Budgets computed from this are computed from the deployed ASL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: History events one visit of a state adds (Task: entered, scheduled, started, succeeded,
#: exited; Lambda tasks: the LambdaFunction* equivalents).
EVENTS_PER_VISIT = {"Task": 5}
DEFAULT_EVENTS_PER_VISIT = 2


@dataclass(frozen=True)
class AslLoop:
    label: str
    states: frozenset[str]
    wait_seconds: int
    max_polls: int
    events_per_iteration: int
    #: The enclosing Map's MaxConcurrency (None: not inside a Map).
    map_concurrency: int | None


def _targets(state: Mapping[str, Any]) -> set[str]:
    targets = {state[key] for key in ("Next", "Default") if key in state}
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    return targets


def _reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = list(graph.get(start, ()))
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(graph.get(name, ()))
    return seen


def _bound(states: Mapping[str, Any], members: frozenset[str]) -> int:
    bounds = [
        rule["NumericGreaterThanEquals"]
        for name in members
        if states[name]["Type"] == "Choice"
        for rule in states[name]["Choices"]
        if "NumericGreaterThanEquals" in rule
    ]
    assert len(bounds) == 1, f"loop {sorted(members)} has {len(bounds)} bounds: unbounded?"
    return int(bounds[0])


def _label(states: Mapping[str, Any], members: frozenset[str]) -> str:
    waits = [name for name in members if states[name]["Type"] == "Wait"]
    if waits:
        (wait,) = waits
        return wait.removeprefix("Wait")
    (count,) = [name for name in members if name.startswith("Count")]
    return count.removeprefix("Count")


def loops(definition: Mapping[str, Any], map_concurrency: int | None = None) -> list[AslLoop]:
    """Every loop of ``definition`` and of the item processors of its Map states."""
    states: Mapping[str, Any] = definition["States"]
    graph = {name: _targets(state) & set(states) for name, state in states.items()}
    reach = {name: _reachable(graph, name) for name in states}
    found: list[AslLoop] = []
    done: set[str] = set()
    for name in states:
        if name in done or name not in reach[name]:
            continue
        members = frozenset(other for other in reach[name] if name in reach[other])
        done |= members
        waits = [states[m].get("Seconds", 0) for m in members if states[m]["Type"] == "Wait"]
        found.append(
            AslLoop(
                label=_label(states, members),
                states=members,
                wait_seconds=int(sum(waits)),
                max_polls=_bound(states, members),
                events_per_iteration=sum(
                    EVENTS_PER_VISIT.get(states[m]["Type"], DEFAULT_EVENTS_PER_VISIT)
                    for m in members
                ),
                map_concurrency=map_concurrency,
            )
        )
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found += loops(processor, int(state.get("MaxConcurrency", 0)) or None)
    return found


def state_of_each_event(history: list[dict[str, Any]]) -> dict[int, str | None]:
    """Event id -> the state it belongs to, following ``previousEventId`` back to the state's
    entered event (interleaved Map iterations included); None for execution-level events."""
    by_id = {event["id"]: event for event in history}
    owner: dict[int, str | None] = {}
    for event in history:
        current: dict[str, Any] | None = event
        while current is not None:
            details = current.get("stateEnteredEventDetails") or current.get(
                "stateExitedEventDetails"
            )
            if details:
                owner[event["id"]] = details["name"]
                break
            current = by_id.get(current.get("previousEventId", 0))
        else:
            owner[event["id"]] = None
    return owner

"""The consumers' capacity for the units in service: concurrency, pace and safe steps."""

from __future__ import annotations

import itertools

import pytest

from contracts.consumer_capacity import ConsumerCapacity, capacity_for
from model_controller.decision import (
    capacity_step,
)

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

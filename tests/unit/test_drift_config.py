"""The ``drift`` configuration section: defaults, and each mistake stopping synth with its key."""

from __future__ import annotations

from typing import Any

import pytest

from drift.figures import Thresholds
from stacks.config import ConfigError, load_environment
from stacks.operations.drift import alarm_period


def _set_drift(context: dict[str, Any], key: str, value: Any) -> None:
    context["environments"]["dev"].setdefault("drift", {})[key] = value


def test_defaults_reach_the_evaluator_as_its_thresholds(context_copy: dict[str, Any]) -> None:
    drift = load_environment(context_copy, "dev").drift
    assert drift.schedule == "rate(1 hour)"
    assert drift.window_hours == 24
    thresholds = Thresholds.from_mapping(drift.thresholds())
    assert thresholds.min_images == drift.min_images == 200
    assert thresholds.label_divergence == drift.label_divergence_threshold
    assert thresholds.size_divergence == drift.size_divergence_threshold
    assert thresholds.label_shift == drift.label_shift_threshold


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("schedule", "every hour", "must be rate(<value> <unit>) or cron(<6 fields>)"),
        ("schedule", "rate(1 hours)", "write rate(1 hour)"),
        ("schedule", "cron(0 * * * * *)", "'?' in exactly one of day-of-month and day-of-week"),
        ("schedule", "rate(2 days)", "runs every 48 h but the window is 24 h"),
        ("window_hours", 0, "must be at least 1"),
        ("window_hours", 169, "must be at most 168"),
        ("min_images", 0, "must be at least 1"),
        ("label_divergence_threshold", 1.5, "must be within [0, 1]"),
        ("confidence_drop_threshold", 0, "must be above 0"),
        ("label_shift_threshold", "0.05", "must be a number in [0, 1]"),
        ("start_retraining", True, "is not a known setting"),
    ],
)
def test_bad_drift_settings_stop_with_the_key(
    context_copy: dict[str, Any], key: str, value: Any, message: str
) -> None:
    _set_drift(context_copy, key, value)
    with pytest.raises(ConfigError) as raised:
        load_environment(context_copy, "dev")
    assert f"environments.dev.drift.{key}" in str(raised.value)
    assert message in str(raised.value)


def test_a_cron_schedule_is_accepted(context_copy: dict[str, Any]) -> None:
    _set_drift(context_copy, "schedule", "cron(15 * * * ? *)")
    assert load_environment(context_copy, "dev").drift.schedule == "cron(15 * * * ? *)"


@pytest.mark.parametrize(
    ("schedule", "minutes"),
    [
        ("rate(1 hour)", 60),
        ("rate(1 minute)", 5),
        ("rate(2 days)", 1440),
        ("cron(0 * * * ? *)", 60),
    ],
)
def test_one_alarm_period_per_run(schedule: str, minutes: int) -> None:
    assert alarm_period(schedule).to_minutes() == minutes

"""The operations section: alarm settings, their defaults and what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import (
    ConfigError,
    load_all,
    load_environment,
)
from tests.unit.config.support import (
    Context,
    by_name,
    set_key,
)

# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------


def test_operations_defaults_and_prod_override(context_copy: Context) -> None:
    configs = by_name(load_all(context_copy))
    dev, prod = configs["dev"].operations, configs["prod"].operations
    assert dev.queue_age_alarm_minutes == 60
    assert dev.low_confidence_ratio == 0.3
    assert (dev.low_confidence_min_images, prod.low_confidence_min_images) == (20, 50)
    # on_demand with idle_minutes 2: the controller's stop plus a 10-minute margin.
    assert (
        dev.model_idle_alarm_minutes == configs["dev"].rekognition.model_control.idle_minutes + 10
    )
    assert dev.runbook_url is None


@pytest.mark.parametrize(
    ("mode", "schedule", "expected"),
    [
        ("off", None, 120),
        ("scheduled", {"start_hour_utc": 8, "end_hour_utc": 20}, 12 * 60 + 2 + 10),
        ("scheduled", {"start_hour_utc": 0, "end_hour_utc": 23}, 23 * 60 + 12),
    ],
)
def test_idle_alarm_default_follows_the_control_mode(
    context_copy: Context, mode: str, schedule: Any, expected: int
) -> None:
    set_key("environments.dev.rekognition.model_control.mode", mode)(context_copy)
    set_key("environments.dev.rekognition.model_control.schedule", schedule)(context_copy)
    config = load_environment(context_copy, "dev")
    assert config.operations.model_idle_alarm_minutes == min(expected, 1440)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model_idle_alarm_minutes", 4, "must be at least 5"),
        ("model_idle_alarm_minutes", 1441, "must be at most 1440"),
        ("low_confidence_window_minutes", 7, "must be a multiple of 5"),
        ("low_confidence_ratio", 1.5, "must be within [0, 1]"),
        ("lambda_errors_threshold", 0, "must be at least 1"),
        ("queue_age_alarm_minutes", "60", "must be a whole number"),
        ("runbook_url", "http://wiki/runbooks", "must be an https:// URL"),
        ("alarm_everything", True, "is not a known setting"),
    ],
)
def test_bad_operations_settings_stop_with_the_key(
    context_copy: Context, key: str, value: Any, message: str
) -> None:
    set_key(f"environments.dev.operations.{key}", value)(context_copy)
    with pytest.raises(ConfigError) as raised:
        load_environment(context_copy, "dev")
    assert f"environments.dev.operations.{key}" in str(raised.value)
    assert message in str(raised.value)


def test_idle_alarm_must_outlast_the_controllers_own_stop(context_copy: Context) -> None:
    set_key("environments.dev.rekognition.model_control.idle_minutes", 30)(context_copy)
    set_key("environments.dev.operations.model_idle_alarm_minutes", 30)(context_copy)
    with pytest.raises(ConfigError, match=r"must exceed rekognition\.model_control\.idle_minutes"):
        load_environment(context_copy, "dev")
    set_key("environments.dev.operations.model_idle_alarm_minutes", 31)(context_copy)
    assert load_environment(context_copy, "dev").operations.model_idle_alarm_minutes == 31

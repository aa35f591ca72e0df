"""The ``operations`` section: alarm thresholds and the runbook link.

The idle-model alarm's default follows the model control mode (see :class:`OperationsConfig`),
so this section is read after ``rekognition``.
"""

from __future__ import annotations

import re

from stacks.config.limits import EXPECTED_MODEL_START_MINUTES
from stacks.config.reading import _Reader, _required
from stacks.config.schema import ConfigError, OperationsConfig, RekognitionInferenceConfig

#: The controller stops an idle on_demand model after idle_minutes; it runs every minute, and a
#: stop takes a few minutes: past this margin the model is idle *and* still billing.
_IDLE_ALARM_MARGIN_MINUTES = 10
#: A model that scheduled/off mode keeps running on purpose is only worth an alarm after this.
_IDLE_ALARM_DEFAULT_MINUTES = 120
_URL = re.compile(r"https://[^\s]+")


def _operations(reader: _Reader, rekognition: RekognitionInferenceConfig) -> OperationsConfig:
    idle = reader.optional_value("model_idle_alarm_minutes")
    control = rekognition.model_control
    if idle is None:
        if control.mode == "on_demand":
            idle = control.idle_minutes + _IDLE_ALARM_MARGIN_MINUTES
        elif control.schedule is not None:
            # Idle through a whole window and past it: the model was not stopped after hours.
            idle = min(
                control.schedule.hours * 60 + control.idle_minutes + _IDLE_ALARM_MARGIN_MINUTES,
                24 * 60,
            )
        else:
            idle = _IDLE_ALARM_DEFAULT_MINUTES
    else:
        # CloudWatch evaluates at most one day of 1-minute periods.
        idle = reader.integer("model_idle_alarm_minutes", 5, 24 * 60)
        if control.mode == "on_demand" and idle <= control.idle_minutes:
            raise ConfigError(
                reader.key("model_idle_alarm_minutes"),
                f"must exceed rekognition.model_control.idle_minutes ({control.idle_minutes}), "
                "after which the controller stops the model itself",
            )
    config = OperationsConfig(
        queue_age_alarm_minutes=reader.integer("queue_age_alarm_minutes", 5, 7 * 24 * 60),
        lambda_errors_threshold=reader.integer("lambda_errors_threshold", 1),
        endpoint_5xx_threshold=reader.integer("endpoint_5xx_threshold", 1),
        low_confidence_ratio=_required(reader.fraction("low_confidence_ratio")),
        low_confidence_min_images=reader.integer("low_confidence_min_images", 1),
        low_confidence_window_minutes=reader.integer("low_confidence_window_minutes", 5, 24 * 60),
        model_idle_alarm_minutes=idle,
        runbook_url=reader.optional_string(
            "runbook_url", _URL, "must be an https:// URL without spaces"
        ),
    )
    longest_wait = control.drain_minutes + EXPECTED_MODEL_START_MINUTES
    if control.mode != "off" and longest_wait > config.queue_age_alarm_minutes:
        raise ConfigError(
            reader.key("queue_age_alarm_minutes"),
            f"must be at least rekognition.model_control.drain_minutes + "
            f"{EXPECTED_MODEL_START_MINUTES} (a start) = {longest_wait}, got "
            f"{config.queue_age_alarm_minutes}: BacklogTooOldAlarm would fire on every burst "
            "drained as planned",
        )
    if config.low_confidence_window_minutes % 5:
        raise ConfigError(
            reader.key("low_confidence_window_minutes"),
            "must be a multiple of 5 (the metrics' period), "
            f"got {config.low_confidence_window_minutes}",
        )
    reader.reject_unknown()
    return config

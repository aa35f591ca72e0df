"""The ``drift`` section: when the drift evaluator runs, over which window, and its thresholds.

The schedule is checked with the EventBridge grammar (``stacks.config.schedules``); the window
must fit CloudWatch's one-minute retention of the live metrics (15 days) and be a whole number
of the evaluator's query periods; a schedule that runs less often than the window leaves time
unwatched, so it is refused.
"""

from __future__ import annotations

import re

from stacks.config.reading import _Reader, _required
from stacks.config.schema import ConfigError, DriftConfig

#: CloudWatch keeps 1-minute (and 5-minute) data points 15 days; the window stays within a week.
MAX_WINDOW_HOURS = 7 * 24
_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minute|hour|day)s?\)")
_UNIT_HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


def _drift(reader: _Reader) -> DriftConfig:
    schedule = reader.schedule("schedule")
    config = DriftConfig(
        schedule=schedule,
        window_hours=reader.integer("window_hours", 1, MAX_WINDOW_HOURS),
        min_images=reader.integer("min_images", 1),
        label_divergence_threshold=_required(reader.fraction("label_divergence_threshold")),
        confidence_drop_threshold=_required(reader.fraction("confidence_drop_threshold")),
        abstention_increase_threshold=_required(reader.fraction("abstention_increase_threshold")),
        size_divergence_threshold=_required(reader.fraction("size_divergence_threshold")),
        label_shift_threshold=_required(reader.fraction("label_shift_threshold")),
        start_retraining=reader.boolean("start_retraining"),
    )
    for name in (
        "label_divergence_threshold",
        "confidence_drop_threshold",
        "abstention_increase_threshold",
        "size_divergence_threshold",
        "label_shift_threshold",
    ):
        if getattr(config, name) == 0:
            raise ConfigError(reader.key(name), "must be above 0 (0 would flag every window)")
    rate = _RATE.fullmatch(schedule)
    if rate is not None:
        every = int(rate["value"]) * _UNIT_HOURS[rate["unit"]]
        if every > config.window_hours:
            raise ConfigError(
                reader.key("schedule"),
                f"runs every {every:g} h but the window is {config.window_hours} h: the time "
                "between windows would go unwatched (lengthen window_hours or run more often)",
            )
    reader.reject_unknown()
    return config

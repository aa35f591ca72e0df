"""The ``rekognition`` section: the Custom Labels project, inference batching, model control.

Besides each value's range, the throughput rules: a batch above 10 needs a batching window
(Lambda's SQS event source), and a full batch at the paced rate must end well inside Lambda's
15 minutes; a pinned model version must belong to the environment's own project.
"""

from __future__ import annotations

import re

from contracts.arns import MODEL_VERSION_ARN
from contracts.limits import SQS_BATCH_WITHOUT_WINDOW
from stacks.config.limits import (
    _MAX_INFERENCE_UNITS,
    _MAX_PROJECT_NAME,
    MAX_BATCH_SECONDS,
    MAX_DETECT_CONCURRENCY,
    MAX_DRAIN_MINUTES,
    MAX_INFERENCE_BATCH,
    MODEL_CONTROL_MODES,
)
from stacks.config.reading import _INPUT_PREFIX, _Reader, _required
from stacks.config.schema import (
    ConfigError,
    ModelControlConfig,
    RekognitionInferenceConfig,
    ScheduleWindowConfig,
)

_PROJECT_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")


def _rekognition(reader: _Reader, resource_name_prefix: str) -> RekognitionInferenceConfig:
    # The project is the environment's own, like every other name: a project's datasets belong
    # to the project, so two environments sharing one would replace each other's datasets.
    short_name = reader.string(
        "project_name",
        _PROJECT_NAME,
        f"must be 1-{_MAX_PROJECT_NAME - len(resource_name_prefix) - 1} letters, digits, '_', "
        "'.' or '-' (the project is <resource_prefix>-<environment>-<project_name>)",
    )
    if len(short_name) > _MAX_PROJECT_NAME - len(resource_name_prefix) - 1:
        raise ConfigError(
            reader.key("project_name"),
            f"'{resource_name_prefix}-{short_name}' is longer than the {_MAX_PROJECT_NAME} "
            "characters Rekognition allows for a project name",
        )
    config = RekognitionInferenceConfig(
        project_name=f"{resource_name_prefix}-{short_name}",
        min_confidence=_required(reader.fraction("min_confidence")),
        review_threshold=_required(reader.fraction("review_threshold")),
        min_inference_units=reader.integer("min_inference_units", 1, _MAX_INFERENCE_UNITS),
        max_inference_units=reader.integer("max_inference_units", 1, _MAX_INFERENCE_UNITS),
        model_version_arn=reader.optional_string(
            "model_version_arn",
            MODEL_VERSION_ARN,
            "must be a Custom Labels model version ARN "
            "(arn:aws:rekognition:REGION:ACCOUNT:project/NAME/version/VERSION/TIMESTAMP)",
        ),
        input_prefix=reader.string(
            "input_prefix",
            _INPUT_PREFIX,
            "must be a key prefix of letters, digits and !_.*'()=- segments ending in '/'",
        ),
        batch_size=reader.integer("batch_size", 1, MAX_INFERENCE_BATCH),
        batching_window_seconds=reader.integer("batching_window_seconds", 0, 300),
        detect_concurrency=reader.integer("detect_concurrency", 1, MAX_DETECT_CONCURRENCY),
        tps_per_inference_unit=reader.number("tps_per_inference_unit", 0, 1000),
        model_control=_model_control(reader.child("model_control")),
    )
    reader.reject_unknown()
    _check_inference_throughput(reader, config)
    if config.min_inference_units > config.max_inference_units:
        raise ConfigError(
            reader.key("min_inference_units"),
            f"must not exceed max_inference_units ({config.min_inference_units} > "
            f"{config.max_inference_units})",
        )
    if config.review_threshold < config.min_confidence:
        raise ConfigError(
            reader.key("review_threshold"),
            f"must be at least min_confidence ({config.review_threshold} < "
            f"{config.min_confidence}): labels below min_confidence are never returned",
        )
    return config


def _model_control(reader: _Reader) -> ModelControlConfig:
    mode = reader.choice("mode", MODEL_CONTROL_MODES)
    idle_minutes = reader.integer("idle_minutes", 1, 24 * 60)
    drain_minutes = reader.integer("drain_minutes", 1, MAX_DRAIN_MINUTES)
    schedule: ScheduleWindowConfig | None = None
    if reader.optional_value("schedule") is not None:
        if mode != "scheduled":
            raise ConfigError(
                reader.key("schedule"), f"is only used with mode 'scheduled' (mode is {mode!r})"
            )
        window = reader.child("schedule")
        schedule = ScheduleWindowConfig(
            start_hour_utc=window.integer("start_hour_utc", 0, 23),
            end_hour_utc=window.integer("end_hour_utc", 0, 23),
        )
        window.reject_unknown()
        if schedule.hours == 0:
            raise ConfigError(
                window.key("end_hour_utc"),
                "must differ from start_hour_utc (for a model that always runs, start it with "
                "mode 'off' and python -m ops model start)",
            )
    elif mode == "scheduled":
        raise ConfigError(reader.key("schedule"), "is required when mode is 'scheduled'")
    reader.reject_unknown()
    return ModelControlConfig(
        mode=mode, idle_minutes=idle_minutes, drain_minutes=drain_minutes, schedule=schedule
    )


def _check_inference_throughput(reader: _Reader, config: RekognitionInferenceConfig) -> None:
    if config.model_version_arn is not None:
        match = MODEL_VERSION_ARN.fullmatch(config.model_version_arn)
        assert match is not None  # validated by optional_string
        if match["project"] != config.project_name:
            raise ConfigError(
                reader.key("model_version_arn"),
                f"belongs to project {match['project']!r}, not this environment's project "
                f"{config.project_name!r}",
            )
    if config.batch_size > SQS_BATCH_WITHOUT_WINDOW and config.batching_window_seconds < 1:
        raise ConfigError(
            reader.key("batching_window_seconds"),
            f"must be at least 1 when batch_size is above {SQS_BATCH_WITHOUT_WINDOW} "
            f"(Lambda's SQS event source rule), got {config.batching_window_seconds}",
        )
    if config.batch_seconds > MAX_BATCH_SECONDS:
        raise ConfigError(
            reader.key("batch_size"),
            f"a batch of {config.batch_size} at {config.slowest_invocation_tps:g} images/s per "
            f"invocation (the pace for the fewest units) takes {config.batch_seconds:.0f} s, "
            f"over {MAX_BATCH_SECONDS} s; use a smaller batch",
        )

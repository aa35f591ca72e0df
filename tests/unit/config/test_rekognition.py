"""The rekognition section: units, confidence, inference queueing, model control, throughput."""

from __future__ import annotations

import math

import pytest

from stacks.config import (
    load_environment,
)
from tests.unit.config.support import (
    Context,
    Mutation,
    all_of,
    assert_config_error,
    set_key,
)

INVALID = [
    # -- rekognition -------------------------------------------------------------------------
    pytest.param(
        set_key("environments.prod.rekognition.min_inference_units", 3),
        None,
        "environments.prod.rekognition.min_inference_units",
        "must not exceed max_inference_units (3 > 2)",
        id="min-units-above-max",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.max_inference_units", 101),
        None,
        "environments.dev.rekognition.max_inference_units",
        "must be at most 100, got 101",
        id="max-units-above-limit",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.min_inference_units", 0),
        None,
        "environments.dev.rekognition.min_inference_units",
        "must be at least 1, got 0",
        id="min-units-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.review_threshold", 0.4),
        None,
        "environments.dev.rekognition.review_threshold",
        "must be at least min_confidence (0.4 < ",
        id="review-below-min-confidence",
    ),
    # -- rekognition inference ---------------------------------------------------------------
    pytest.param(
        set_key("environments.dev.rekognition.project_name", "shapes classifier"),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-with-space",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.project_name", "x" * 256),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-too-long",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.project_name", ""),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-empty",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.project_name", "x" * 245),
        None,
        "environments.dev.rekognition.project_name",
        "'imgclf-dev-xxx",
        id="project-name-too-long-with-the-prefix",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_version_arn", "arn:aws:s3:::bucket/model"),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a Custom Labels model version ARN",
        id="model-version-arn-not-rekognition",
    ),
    pytest.param(
        set_key(
            "environments.dev.rekognition.model_version_arn",
            "arn:aws:rekognition:eu-west-1:111111111111:project/image-classifier/1700000000000",
        ),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a Custom Labels model version ARN",
        id="model-version-arn-is-a-project-arn",
    ),
    pytest.param(
        set_key(
            "environments.dev.rekognition.model_version_arn",
            "arn:aws:rekognition:eu-west-1:111111111111:project/other/version/v1/1700000000000",
        ),
        None,
        "environments.dev.rekognition.model_version_arn",
        "belongs to project 'other', not this environment's project 'imgclf-dev-image-classifier'",
        id="model-version-arn-of-another-project",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_version_arn", 42),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a string, got 42",
        id="model-version-arn-not-a-string",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.input_prefix", "incoming"),
        None,
        "environments.dev.rekognition.input_prefix",
        "ending in '/'",
        id="input-prefix-without-slash",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.input_prefix", "/incoming/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-leading-slash",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.input_prefix", "in coming/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-with-space",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.input_prefix", "a//b/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-empty-segment",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.input_prefix", "sagemaker/"),
        None,
        "environments.dev.sagemaker.input_prefix",
        "'sagemaker/inference/' overlaps rekognition.input_prefix ('sagemaker/')",
        id="input-prefix-overlaps-sagemaker",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.manifest_prefix", "incoming/m/"),
        None,
        "environments.dev.rekognition_training.triggers.manifest_prefix",
        "'incoming/m/' overlaps rekognition.input_prefix ('incoming/')",
        id="input-prefix-overlaps-training-trigger",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.batch_size", 0),
        None,
        "environments.dev.rekognition.batch_size",
        "must be at least 1, got 0",
        id="batch-size-zero",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.batch_size", 101),
            set_key("environments.dev.rekognition.batching_window_seconds", 5),
        ),
        None,
        "environments.dev.rekognition.batch_size",
        "must be at most 100, got 101",
        id="batch-size-above-limit",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.batch_size", "10"),
        None,
        "environments.dev.rekognition.batch_size",
        "must be a whole number",
        id="batch-size-string",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.batch_size", 20),
            set_key("environments.dev.rekognition.batching_window_seconds", 0),
        ),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at least 1 when batch_size is above 10",
        id="large-batch-without-window",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.batching_window_seconds", 301),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at most 300, got 301",
        id="batching-window-above-limit",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.batching_window_seconds", -1),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at least 0, got -1",
        id="batching-window-negative",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.detect_concurrency", 0),
        None,
        "environments.dev.rekognition.detect_concurrency",
        "must be at least 1, got 0",
        id="detect-concurrency-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.detect_concurrency", 51),
        None,
        "environments.dev.rekognition.detect_concurrency",
        "must be at most 50, got 51",
        id="detect-concurrency-above-limit",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.tps_per_inference_unit", 0),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be greater than 0",
        id="tps-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.tps_per_inference_unit", "5"),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be a number, got '5'",
        id="tps-string",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.tps_per_inference_unit", True),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be a number, got True",
        id="tps-bool",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.tps_per_inference_unit", 1001),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "at most 1000",
        id="tps-above-limit",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.batch_size", 100),
            set_key("environments.dev.rekognition.batching_window_seconds", 1),
            set_key("environments.dev.rekognition.tps_per_inference_unit", 0.1),
        ),
        None,
        "environments.dev.rekognition.batch_size",
        "takes 2000 s, over 600 s",
        id="batch-too-slow-for-the-model",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control", "on_demand"),
        None,
        "environments.dev.rekognition.model_control",
        "must be an object",
        id="model-control-not-an-object",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.mode", "sometimes"),
        None,
        "environments.dev.rekognition.model_control.mode",
        "must be one of off, scheduled, on_demand; got 'sometimes'",
        id="model-control-unknown-mode",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.idle_minutes", 0),
        None,
        "environments.dev.rekognition.model_control.idle_minutes",
        "must be at least 1, got 0",
        id="idle-minutes-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.idle_minutes", 1441),
        None,
        "environments.dev.rekognition.model_control.idle_minutes",
        "must be at most 1440",
        id="idle-minutes-above-a-day",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.mode", "scheduled"),
        None,
        "environments.dev.rekognition.model_control.schedule",
        "is required when mode is 'scheduled'",
        id="scheduled-without-schedule",
    ),
    pytest.param(
        set_key(
            "environments.dev.rekognition.model_control.schedule",
            {"start_hour_utc": 8, "end_hour_utc": 18},
        ),
        None,
        "environments.dev.rekognition.model_control.schedule",
        "is only used with mode 'scheduled' (mode is 'on_demand')",
        id="schedule-without-scheduled-mode",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.model_control.mode", "scheduled"),
            set_key(
                "environments.dev.rekognition.model_control.schedule",
                {"start_hour_utc": 24, "end_hour_utc": 6},
            ),
        ),
        None,
        "environments.dev.rekognition.model_control.schedule.start_hour_utc",
        "must be at most 23, got 24",
        id="schedule-hour-24",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.model_control.mode", "scheduled"),
            set_key(
                "environments.dev.rekognition.model_control.schedule",
                {"start_hour_utc": 8, "end_hour_utc": 8},
            ),
        ),
        None,
        "environments.dev.rekognition.model_control.schedule.end_hour_utc",
        "must differ from start_hour_utc",
        id="schedule-empty-window",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition.model_control.mode", "scheduled"),
            set_key(
                "environments.dev.rekognition.model_control.schedule",
                {"start_hour_utc": 8, "end_hour": 18},
            ),
        ),
        None,
        "environments.dev.rekognition.model_control.schedule.end_hour_utc",
        "is required",
        id="schedule-key-typo",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.idle_minute", 5),
        None,
        "environments.dev.rekognition.model_control.idle_minute",
        "is not a known setting; did you mean 'idle_minutes'?",
        id="model-control-key-typo",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", 0),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at least 1, got 0",
        id="drain-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", -30),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at least 1, got -30",
        id="drain-negative",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", 1441),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at most 1440, got 1441",
        id="drain-over-a-day",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", 30.5),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got 30.5",
        id="drain-fractional",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", "30"),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got '30'",
        id="drain-string",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", True),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got True",
        id="drain-boolean",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minutes", None),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "is required",
        id="drain-null",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.model_control.drain_minute", 30),
        None,
        "environments.dev.rekognition.model_control.drain_minute",
        "did you mean 'drain_minutes'?",
        id="drain-key-typo",
    ),
    pytest.param(
        set_key("environments.prod.rekognition.model_control.drain_minutes", 51),
        None,
        "environments.prod.operations.queue_age_alarm_minutes",
        "must be at least rekognition.model_control.drain_minutes + 10 (a start) = 61, got 60",
        id="drain-outlasting-the-backlog-alarm",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_rekognition_setting_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    assert_config_error(context_copy, mutation, env, key, fragment)


@pytest.mark.parametrize(
    ("min_units", "max_units", "tps", "concurrency", "batch", "expected"),
    [
        # initial (max_concurrency, invocation_tps), slowest and fastest pace, consumer timeout;
        # fewer units than the min can serve (a failed unit), so 1 unit sets the slowest pace
        pytest.param(1, 1, 5, 10, 10, ((2, 2.5), 2.5, 2.5, 60), id="dev-one-unit"),
        pytest.param(1, 2, 5, 10, 10, ((2, 2.5), 2.5, 5.0, 60), id="prod-one-to-two"),
        pytest.param(2, 2, 5, 10, 10, ((2, 5.0), 2.5, 5.0, 60), id="two-fixed-units"),
        pytest.param(1, 10, 5, 10, 10, ((2, 2.5), 2.5, 10.0, 60), id="one-to-ten"),
        pytest.param(10, 10, 5, 10, 10, ((5, 10.0), 2.5, 10.0, 60), id="ten-fixed"),
        pytest.param(1, 100, 5, 1, 10, ((5, 1.0), 1.0, 1.0, 60), id="one-call-per-invocation"),
        pytest.param(1, 1, 5, 10, 100, ((2, 2.5), 2.5, 2.5, 90), id="big-batch-slow-model"),
        pytest.param(1, 100, 50, 1, 10, ((50, 1.0), 1.0, 5.0, 60), id="ceiling-of-1000"),
        pytest.param(1, 1, 5, 10, 5, ((2, 2.5), 2.5, 2.5, 60), id="batch-below-concurrency"),
    ],
)
def test_throughput_settings_follow_the_units_running(
    context_copy: Context,
    min_units: int,
    max_units: int,
    tps: float,
    concurrency: int,
    batch: int,
    expected: tuple[tuple[int, float], float, float, int],
) -> None:
    rekognition = context_copy["environments"]["dev"].setdefault("rekognition", {})
    rekognition.update(
        min_inference_units=min_units,
        max_inference_units=max_units,
        tps_per_inference_unit=tps,
        detect_concurrency=concurrency,
        batch_size=batch,
        batching_window_seconds=1,
    )

    settings = load_environment(context_copy, "dev").rekognition

    initial = settings.initial_capacity
    derived = (
        (initial.max_concurrency, initial.invocation_tps),
        settings.slowest_invocation_tps,
        settings.fastest_invocation_tps,
        settings.consumer_timeout_seconds,
    )
    assert derived == expected
    for capacity in settings.capacities():
        # The invocations together never ask for more than the units serve ...
        assert capacity.max_concurrency * capacity.invocation_tps <= (
            capacity.inference_units * tps + 1e-9
        )
        # ... and the timeout fits a full batch at any pace the controller can publish.
        assert settings.consumer_timeout_seconds >= batch / capacity.invocation_tps


def test_the_consumer_timeout_fits_a_batch_at_the_slowest_pace(context_copy: Context) -> None:
    """1 to 100 units, 1 call in flight: 100 units pace each of 500 invocations at 1/s."""
    rekognition = context_copy["environments"]["dev"].setdefault("rekognition", {})
    rekognition.update(
        max_inference_units=100, detect_concurrency=1, batch_size=100, batching_window_seconds=5
    )

    settings = load_environment(context_copy, "dev").rekognition

    assert settings.slowest_invocation_tps == 1.0
    assert settings.consumer_timeout_seconds == math.ceil(1.5 * 100 / 1.0) + 30

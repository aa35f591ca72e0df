"""The shipped cdk.json: what each environment loads to, and the boundary values accepted.

Expected values come from the cdk.json context itself, so a change to cdk.json does not need a
matching change here unless it changes behaviour.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from stacks.config import (
    GATE_METRICS,
    LOG_RETENTION_DAYS,
    EnvironmentConfig,
    load_all,
    load_environment,
)
from tests.unit.config.support import (
    Context,
    Mutation,
    all_of,
    by_name,
    set_key,
)

# --------------------------------------------------------------------------------------------
# 1. the shipped cdk.json
# --------------------------------------------------------------------------------------------


def test_shipped_context_has_dev_and_prod(context_copy: Context) -> None:
    # Guard: the tests below assume these two environments exist.
    assert {"dev", "prod"} <= set(context_copy["environments"])


def test_load_all_parses_every_environment_in_cdk_json_order(context_copy: Context) -> None:
    configs = load_all(context_copy)

    assert [config.name for config in configs] == list(context_copy["environments"])
    assert all(isinstance(config, EnvironmentConfig) for config in configs)


def test_load_environment_matches_load_all(context_copy: Context) -> None:
    from_all = by_name(load_all(context_copy))

    for name in context_copy["environments"]:
        assert load_environment(context_copy, name) == from_all[name]


def test_prod_is_production_retains_data_and_is_pinned(context_copy: Context) -> None:
    prod = by_name(load_all(context_copy))["prod"]
    raw = context_copy["environments"]["prod"]
    defaults = context_copy["defaults"]

    assert prod.production is True
    assert prod.removal_policy == "retain"
    assert prod.retain_data is True
    assert prod.termination_protection is True
    assert prod.account == raw["account"]
    assert prod.region == raw["region"]
    assert prod.account is not None
    assert prod.region is not None
    assert prod.notification_emails == tuple(raw["notification_emails"])
    assert prod.log_retention_days == raw["log_retention_days"]
    assert prod.resource_name_prefix == f"{defaults['resource_prefix']}-prod"


def test_dev_is_environment_agnostic_and_disposable(context_copy: Context) -> None:
    dev = by_name(load_all(context_copy))["dev"]
    raw = context_copy["environments"]["dev"]
    defaults = context_copy["defaults"]

    assert dev.account is None
    assert dev.region is None
    assert dev.production is False
    assert dev.retain_data is False
    assert dev.removal_policy == defaults["removal_policy"] == "destroy"
    assert dev.termination_protection is False
    assert dev.notification_emails == tuple(raw["notification_emails"])
    assert dev.log_retention_days == defaults["log_retention_days"]
    assert dev.resource_name_prefix == f"{defaults['resource_prefix']}-dev"


def test_prod_lifecycle_override_is_deep_merged_with_defaults(context_copy: Context) -> None:
    prod = by_name(load_all(context_copy))["prod"]
    default_lifecycle = context_copy["defaults"]["lifecycle"]
    prod_lifecycle = context_copy["environments"]["prod"]["lifecycle"]
    overridden = {"noncurrent_version_expiration_days", "data_capture_expiration_days"}

    # Guard: the overrides must differ from the defaults, or this test proves nothing.
    for key in overridden:
        assert prod_lifecycle[key] != default_lifecycle[key], key
    assert set(prod_lifecycle) == overridden

    merged = dataclasses.asdict(prod.lifecycle)
    for key, default in default_lifecycle.items():
        expected = prod_lifecycle[key] if key in overridden else default
        assert merged[key] == expected, key
    assert set(merged) == set(default_lifecycle)


def test_prod_rekognition_override_is_deep_merged_with_defaults(context_copy: Context) -> None:
    prod = by_name(load_all(context_copy))["prod"]
    default_rekognition = context_copy["defaults"]["rekognition"]
    prod_rekognition = context_copy["environments"]["prod"]["rekognition"]

    merged = dataclasses.asdict(prod.rekognition)
    # The project is the environment's own: <resource_prefix>-<env>-<project_name>.
    expected = {**default_rekognition, **prod_rekognition}
    expected["project_name"] = f"imgclf-prod-{expected['project_name']}"
    assert merged == expected
    assert merged["max_inference_units"] != default_rekognition["max_inference_units"]


def test_sections_without_overrides_come_from_defaults(context_copy: Context) -> None:
    defaults = context_copy["defaults"]

    for config in load_all(context_copy):
        if "quality_gate" not in context_copy["environments"][config.name]:
            assert dataclasses.asdict(config.quality_gate) == defaults["quality_gate"]
        if "sagemaker" not in context_copy["environments"][config.name]:
            # Through JSON: lists in cdk.json are tuples in the frozen config.
            sagemaker = json.loads(json.dumps(dataclasses.asdict(config.sagemaker)))
            assert sagemaker == defaults["sagemaker"]
        assert config.powertools_layer_version == defaults["powertools_layer_version"]

    dev = by_name(load_all(context_copy))["dev"]
    assert dataclasses.asdict(dev.lifecycle) == defaults["lifecycle"]
    assert dataclasses.asdict(dev.rekognition) == {
        **defaults["rekognition"],
        "project_name": f"imgclf-dev-{defaults['rekognition']['project_name']}",
    }


def test_loading_does_not_mutate_the_context(context_copy: Context, cdk_context: Context) -> None:
    load_all(context_copy)

    assert context_copy == cdk_context


def test_configs_are_frozen(context_copy: Context) -> None:
    prod = by_name(load_all(context_copy))["prod"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.removal_policy = "destroy"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.lifecycle.noncurrent_version_expiration_days = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutation", "env", "attribute", "expected"),
    [
        pytest.param(
            set_key("environments.dev.quality_gate.threshold", 0),
            "dev",
            lambda c: c.quality_gate.threshold,
            0.0,
            id="threshold-zero",
        ),
        pytest.param(
            set_key("environments.dev.quality_gate.threshold", 1),
            "dev",
            lambda c: c.quality_gate.threshold,
            1.0,
            id="threshold-one-int",
        ),
        pytest.param(
            set_key("environments.dev.quality_gate.min_label_recall", 0.7),
            "dev",
            lambda c: c.quality_gate.min_label_recall,
            0.7,
            id="min-label-recall-set",
        ),
        pytest.param(
            set_key("environments.dev.quality_gate.metric", GATE_METRICS[-1]),
            "dev",
            lambda c: c.quality_gate.metric,
            GATE_METRICS[-1],
            id="other-gate-metric",
        ),
        pytest.param(
            set_key("environments.dev.lifecycle.results_transition_to_ia_days", 30),
            "dev",
            lambda c: c.lifecycle.results_transition_to_ia_days,
            30,
            id="ia-transition-at-30",
        ),
        pytest.param(
            set_key("environments.dev.log_retention_days", LOG_RETENTION_DAYS[0]),
            "dev",
            lambda c: c.log_retention_days,
            LOG_RETENTION_DAYS[0],
            id="log-retention-smallest",
        ),
        pytest.param(
            set_key("environments.dev.log_retention_days", LOG_RETENTION_DAYS[-1]),
            "dev",
            lambda c: c.log_retention_days,
            LOG_RETENTION_DAYS[-1],
            id="log-retention-largest",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.min_confidence", 0.6),
                set_key("environments.dev.rekognition.review_threshold", 0.6),
            ),
            "dev",
            lambda c: c.rekognition.review_threshold,
            0.6,
            id="review-equals-min-confidence",
        ),
        pytest.param(
            set_key("environments.prod.rekognition.min_inference_units", 2),
            "prod",
            lambda c: c.rekognition.min_inference_units,
            2,
            id="min-units-equals-max",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.account", "222222222222"),
                # prod promotes from dev: CopyProjectVersion needs both in one region.
                set_key("environments.dev.region", "eu-west-1"),
            ),
            "dev",
            lambda c: (c.account, c.region),
            ("222222222222", "eu-west-1"),
            id="dev-pinned-to-account",
        ),
        pytest.param(
            set_key(
                "environments.prod.rekognition.model_version_arn",
                "arn:aws:rekognition:eu-west-1:111111111111:project/imgclf-prod-image-classifier/"
                "version/image-classifier.2026-01-01T00.00.00/1767225600000",
            ),
            "prod",
            lambda c: c.rekognition.model_version_arn.split("/")[-2],
            "image-classifier.2026-01-01T00.00.00",
            id="pinned-model-version",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.model_control.mode", "scheduled"),
                set_key(
                    "environments.dev.rekognition.model_control.schedule",
                    {"start_hour_utc": 22, "end_hour_utc": 6},
                ),
            ),
            "dev",
            lambda c: c.rekognition.model_control.schedule.hours,
            8,
            id="schedule-wrapping-midnight",
        ),
        pytest.param(
            set_key("environments.dev.rekognition.model_control.mode", "off"),
            "dev",
            lambda c: (c.rekognition.model_control.mode, c.rekognition.model_control.schedule),
            ("off", None),
            id="model-control-off",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.batch_size", 100),
                set_key("environments.dev.rekognition.batching_window_seconds", 300),
            ),
            "dev",
            lambda c: (c.rekognition.batch_size, c.rekognition.batching_window_seconds),
            (100, 300),
            id="largest-batch-and-window",
        ),
        pytest.param(
            set_key("environments.dev.rekognition.input_prefix", "camera-1/raw=2026/"),
            "dev",
            lambda c: c.rekognition.input_prefix,
            "camera-1/raw=2026/",
            id="nested-input-prefix",
        ),
        pytest.param(
            set_key("environments.dev.rekognition.tps_per_inference_unit", 2.5),
            "dev",
            lambda c: c.rekognition.tps_per_inference_unit,
            2.5,
            id="fractional-tps",
        ),
        pytest.param(
            set_key("environments.dev.rekognition.model_control.drain_minutes", 1),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            1,
            id="drain-one-minute",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.model_control.drain_minutes", 1440),
                set_key("environments.dev.operations.queue_age_alarm_minutes", 1450),
            ),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            1440,
            id="drain-a-day",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.model_control.drain_minutes", 50),
                set_key("environments.dev.operations.queue_age_alarm_minutes", 60),
            ),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            50,
            id="drain-plus-start-exactly-the-backlog-alarm",
        ),
        pytest.param(
            all_of(
                set_key("environments.dev.rekognition.model_control.mode", "off"),
                set_key("environments.dev.rekognition.model_control.drain_minutes", 600),
            ),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            600,
            id="drain-unused-in-mode-off",
        ),
    ],
)
def test_boundary_values_are_accepted(
    context_copy: Context,
    mutation: Mutation,
    env: str,
    attribute: Callable[[EnvironmentConfig], Any],
    expected: Any,
) -> None:
    mutation(context_copy)

    config = load_environment(context_copy, env)

    assert attribute(config) == expected

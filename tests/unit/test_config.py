"""Tests for ``stacks/config/``: the shipped cdk.json, every validation rule, and the CLI promise.

Expected values come from the cdk.json context itself, so a change to cdk.json does not need a
matching change here unless it changes behaviour.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.consumer_capacity import capacity_for
from stacks.config import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    GATE_METRICS,
    HISTORY_BUDGET,
    LOG_RETENTION_DAYS,
    MAX_PROJECT_DATASETS,
    PROJECT_LOOKUP_MAX_PAGES,
    ConfigError,
    EnvironmentConfig,
    deep_merge,
    load_all,
    load_environment,
)
from tests.conftest import ENVIRONMENTS

ROOT = Path(__file__).resolve().parents[2]

Context = dict[str, Any]
Mutation = Callable[[Context], None]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets the dotted ``path`` (creating intermediate objects) to ``value``."""

    def mutate(context: Context) -> None:
        *parents, leaf = path.split(".")
        node = context
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(context: Context) -> None:
        *parents, leaf = path.split(".")
        node = context
        for part in parents:
            node = node[part]
        del node[leaf]

    return mutate


def _all(*mutations: Mutation) -> Mutation:
    def mutate(context: Context) -> None:
        for mutation in mutations:
            mutation(context)

    return mutate


def _load(context: Context, env: str | None) -> list[EnvironmentConfig]:
    """What app.py does: every environment, or only ``env`` when one is selected."""
    return load_all(context) if env is None else [load_environment(context, env)]


def _by_name(configs: list[EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
    return {config.name: config for config in configs}


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
    from_all = _by_name(load_all(context_copy))

    for name in context_copy["environments"]:
        assert load_environment(context_copy, name) == from_all[name]


def test_prod_is_production_retains_data_and_is_pinned(context_copy: Context) -> None:
    prod = _by_name(load_all(context_copy))["prod"]
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
    dev = _by_name(load_all(context_copy))["dev"]
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
    prod = _by_name(load_all(context_copy))["prod"]
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
    prod = _by_name(load_all(context_copy))["prod"]
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

    dev = _by_name(load_all(context_copy))["dev"]
    assert dataclasses.asdict(dev.lifecycle) == defaults["lifecycle"]
    assert dataclasses.asdict(dev.rekognition) == {
        **defaults["rekognition"],
        "project_name": f"imgclf-dev-{defaults['rekognition']['project_name']}",
    }


def test_loading_does_not_mutate_the_context(context_copy: Context, cdk_context: Context) -> None:
    load_all(context_copy)

    assert context_copy == cdk_context


def test_configs_are_frozen(context_copy: Context) -> None:
    prod = _by_name(load_all(context_copy))["prod"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.removal_policy = "destroy"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.lifecycle.noncurrent_version_expiration_days = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutation", "env", "attribute", "expected"),
    [
        pytest.param(
            _set("environments.dev.quality_gate.threshold", 0),
            "dev",
            lambda c: c.quality_gate.threshold,
            0.0,
            id="threshold-zero",
        ),
        pytest.param(
            _set("environments.dev.quality_gate.threshold", 1),
            "dev",
            lambda c: c.quality_gate.threshold,
            1.0,
            id="threshold-one-int",
        ),
        pytest.param(
            _set("environments.dev.quality_gate.min_label_recall", 0.7),
            "dev",
            lambda c: c.quality_gate.min_label_recall,
            0.7,
            id="min-label-recall-set",
        ),
        pytest.param(
            _set("environments.dev.quality_gate.metric", GATE_METRICS[-1]),
            "dev",
            lambda c: c.quality_gate.metric,
            GATE_METRICS[-1],
            id="other-gate-metric",
        ),
        pytest.param(
            _set("environments.dev.lifecycle.results_transition_to_ia_days", 30),
            "dev",
            lambda c: c.lifecycle.results_transition_to_ia_days,
            30,
            id="ia-transition-at-30",
        ),
        pytest.param(
            _set("environments.dev.log_retention_days", LOG_RETENTION_DAYS[0]),
            "dev",
            lambda c: c.log_retention_days,
            LOG_RETENTION_DAYS[0],
            id="log-retention-smallest",
        ),
        pytest.param(
            _set("environments.dev.log_retention_days", LOG_RETENTION_DAYS[-1]),
            "dev",
            lambda c: c.log_retention_days,
            LOG_RETENTION_DAYS[-1],
            id="log-retention-largest",
        ),
        pytest.param(
            _all(
                _set("environments.dev.rekognition.min_confidence", 0.6),
                _set("environments.dev.rekognition.review_threshold", 0.6),
            ),
            "dev",
            lambda c: c.rekognition.review_threshold,
            0.6,
            id="review-equals-min-confidence",
        ),
        pytest.param(
            _set("environments.prod.rekognition.min_inference_units", 2),
            "prod",
            lambda c: c.rekognition.min_inference_units,
            2,
            id="min-units-equals-max",
        ),
        pytest.param(
            _all(
                _set("environments.dev.account", "222222222222"),
                # prod promotes from dev: CopyProjectVersion needs both in one region.
                _set("environments.dev.region", "eu-west-1"),
            ),
            "dev",
            lambda c: (c.account, c.region),
            ("222222222222", "eu-west-1"),
            id="dev-pinned-to-account",
        ),
        pytest.param(
            _set(
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
            _all(
                _set("environments.dev.rekognition.model_control.mode", "scheduled"),
                _set(
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
            _set("environments.dev.rekognition.model_control.mode", "off"),
            "dev",
            lambda c: (c.rekognition.model_control.mode, c.rekognition.model_control.schedule),
            ("off", None),
            id="model-control-off",
        ),
        pytest.param(
            _all(
                _set("environments.dev.rekognition.batch_size", 100),
                _set("environments.dev.rekognition.batching_window_seconds", 300),
            ),
            "dev",
            lambda c: (c.rekognition.batch_size, c.rekognition.batching_window_seconds),
            (100, 300),
            id="largest-batch-and-window",
        ),
        pytest.param(
            _set("environments.dev.rekognition.input_prefix", "camera-1/raw=2026/"),
            "dev",
            lambda c: c.rekognition.input_prefix,
            "camera-1/raw=2026/",
            id="nested-input-prefix",
        ),
        pytest.param(
            _set("environments.dev.rekognition.tps_per_inference_unit", 2.5),
            "dev",
            lambda c: c.rekognition.tps_per_inference_unit,
            2.5,
            id="fractional-tps",
        ),
        pytest.param(
            _set("environments.dev.rekognition.model_control.drain_minutes", 1),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            1,
            id="drain-one-minute",
        ),
        pytest.param(
            _all(
                _set("environments.dev.rekognition.model_control.drain_minutes", 1440),
                _set("environments.dev.operations.queue_age_alarm_minutes", 1450),
            ),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            1440,
            id="drain-a-day",
        ),
        pytest.param(
            _all(
                _set("environments.dev.rekognition.model_control.drain_minutes", 50),
                _set("environments.dev.operations.queue_age_alarm_minutes", 60),
            ),
            "dev",
            lambda c: c.rekognition.model_control.drain_minutes,
            50,
            id="drain-plus-start-exactly-the-backlog-alarm",
        ),
        pytest.param(
            _all(
                _set("environments.dev.rekognition.model_control.mode", "off"),
                _set("environments.dev.rekognition.model_control.drain_minutes", 600),
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


# --------------------------------------------------------------------------------------------
# deep_merge
# --------------------------------------------------------------------------------------------


def test_deep_merge_merges_nested_mappings_key_by_key() -> None:
    base = {"a": 1, "nested": {"x": 1, "y": 2, "deeper": {"p": 1, "q": 2}}, "keep": "base"}
    override = {"a": 10, "nested": {"y": 20, "deeper": {"q": 30}, "new": 5}, "added": True}

    merged = deep_merge(base, override)

    assert merged == {
        "a": 10,
        "nested": {"x": 1, "y": 20, "deeper": {"p": 1, "q": 30}, "new": 5},
        "keep": "base",
        "added": True,
    }


def test_deep_merge_does_not_mutate_its_inputs() -> None:
    base = {"nested": {"x": 1}, "list": [1, 2]}
    override = {"nested": {"x": 2}, "list": [3]}
    base_before = json.loads(json.dumps(base))
    override_before = json.loads(json.dumps(override))

    deep_merge(base, override)

    assert base == base_before
    assert override == override_before


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        pytest.param({"k": {"x": 1}}, {"k": 5}, {"k": 5}, id="scalar-replaces-mapping"),
        pytest.param({"k": 5}, {"k": {"x": 1}}, {"k": {"x": 1}}, id="mapping-replaces-scalar"),
        pytest.param({"k": "v"}, {"k": None}, {"k": None}, id="null-overrides"),
        pytest.param({"k": [1, 2]}, {"k": [3]}, {"k": [3]}, id="lists-replaced-not-joined"),
        pytest.param({"k": 1}, {}, {"k": 1}, id="empty-override"),
        pytest.param({}, {"k": {"x": 1}}, {"k": {"x": 1}}, id="empty-base"),
    ],
)
def test_deep_merge_replaces_non_mapping_values(
    base: dict[str, Any], override: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert deep_merge(base, override) == expected


# --------------------------------------------------------------------------------------------
# 2. invalid configurations
# --------------------------------------------------------------------------------------------


def _no_change(context: Context) -> None:
    pass


INVALID = [
    # -- environment selection ---------------------------------------------------------------
    pytest.param(
        _no_change,
        "nope",
        "environments.nope",
        "is not configured; choose one of: dev, prod",
        id="environment-not-configured",
    ),
    pytest.param(
        _set("environments", {}),
        None,
        "environments",
        "no environments are configured",
        id="empty-environments",
    ),
    pytest.param(
        _delete("environments"),
        None,
        "environments",
        "no environments are configured",
        id="missing-environments",
    ),
    pytest.param(
        _set("environments", {}),
        "dev",
        "environments",
        "no environments are configured",
        id="empty-environments-selected",
    ),
    pytest.param(
        _set("environments.Prod-1", {}),
        None,
        "environments.Prod-1",
        "1-16 lowercase letters or digits",
        id="invalid-environment-name",
    ),
    pytest.param(
        _set("environments.dev\n", {}),
        "dev\n",
        "environments.dev\n",
        "1-16 lowercase letters or digits",
        id="environment-name-trailing-newline",
    ),
    pytest.param(
        _set("environments.dev", "dev"),
        None,
        "environments.dev",
        "must be an object",
        id="environment-not-an-object",
    ),
    pytest.param(
        _set("defaults", ["production"]),
        None,
        "defaults",
        "must be an object",
        id="defaults-not-an-object",
    ),
    # -- quality gate ------------------------------------------------------------------------
    pytest.param(
        _set("environments.dev.quality_gate.threshold", 1.5),
        None,
        "environments.dev.quality_gate.threshold",
        "must be within [0, 1], got 1.5",
        id="threshold-above-one",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.threshold", -0.1),
        None,
        "environments.dev.quality_gate.threshold",
        "must be within [0, 1], got -0.1",
        id="threshold-negative",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.threshold", "0.9"),
        None,
        "environments.dev.quality_gate.threshold",
        "must be a number in [0, 1]",
        id="threshold-string",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.threshold", True),
        None,
        "environments.dev.quality_gate.threshold",
        "must be a number in [0, 1], got True",
        id="threshold-bool",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.min_label_recall", 1.01),
        None,
        "environments.dev.quality_gate.min_label_recall",
        "must be within [0, 1]",
        id="min-label-recall-above-one",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.metric", "f2_score"),
        None,
        "environments.dev.quality_gate.metric",
        "must be one of f1_score, accuracy",
        id="unknown-gate-metric",
    ),
    pytest.param(
        _set("environments.dev.quality_gate", 0.9),
        None,
        "environments.dev.quality_gate",
        "must be an object, got float",
        id="quality-gate-not-an-object",
    ),
    pytest.param(
        _set("environments.dev.quality_gate.treshold", 0.9),
        None,
        "environments.dev.quality_gate.treshold",
        "is not a known setting",
        id="nested-typo",
    ),
    # -- emails ------------------------------------------------------------------------------
    pytest.param(
        _set("environments.dev.notification_emails", ["ml-alerts-at-example.com"]),
        None,
        "environments.dev.notification_emails[0]",
        "must be an email address, got 'ml-alerts-at-example.com'",
        id="malformed-email",
    ),
    pytest.param(
        _set("environments.dev.notification_emails", ["ok@example.com", "a@b"]),
        None,
        "environments.dev.notification_emails[1]",
        "must be an email address",
        id="malformed-second-email",
    ),
    pytest.param(
        _set("environments.dev.notification_emails", ["ops@example.com\n"]),
        None,
        "environments.dev.notification_emails[0]",
        "must be an email address",
        id="email-trailing-newline",
    ),
    pytest.param(
        _set("environments.dev.notification_emails", "ops@example.com"),
        None,
        "environments.dev.notification_emails",
        "must be a list",
        id="emails-not-a-list",
    ),
    pytest.param(
        _set("environments.dev.notification_emails", ["ops@example.com", "ops@example.com"]),
        None,
        "environments.dev.notification_emails",
        "contains duplicates",
        id="duplicate-emails",
    ),
    pytest.param(
        _set("environments.dev.notification_email", ["ops@example.com"]),
        None,
        "environments.dev.notification_email",
        "is not a known setting; did you mean 'notification_emails'?",
        id="unknown-key-typo",
    ),
    # -- account / region --------------------------------------------------------------------
    pytest.param(
        _set("environments.prod.account", "123"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id, got '123'",
        id="account-too-short",
    ),
    pytest.param(
        _set("environments.prod.account", "1111111111111"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-too-long",
    ),
    pytest.param(
        _set("environments.prod.account", "111111111111\n"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-trailing-newline",
    ),
    pytest.param(
        _set("environments.prod.account", "\u0661" * 12),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-non-ascii-digits",
    ),
    pytest.param(
        _set("environments.prod.account", 111111111111),
        None,
        "environments.prod.account",
        "must be a string, got 111111111111",
        id="account-as-number",
    ),
    pytest.param(
        _set("environments.prod.region", "sa-east-1"),
        None,
        "environments.prod.region",
        "Rekognition Custom Labels is not available in 'sa-east-1'",
        id="region-without-custom-labels",
    ),
    pytest.param(
        _set("environments.dev.account", "222222222222"),
        None,
        "environments.dev.region",
        "account and region must be set together",
        id="account-without-region",
    ),
    pytest.param(
        _set("environments.dev.region", "us-east-1"),
        None,
        "environments.dev.account",
        "account and region must be set together",
        id="region-without-account",
    ),
    # -- production rules --------------------------------------------------------------------
    pytest.param(
        _set("environments.prod.removal_policy", "destroy"),
        None,
        "environments.prod.removal_policy",
        "must be 'retain' in production",
        id="production-destroy",
    ),
    pytest.param(
        _all(_set("environments.prod.account", None), _set("environments.prod.region", None)),
        None,
        "environments.prod.account",
        "is required for a production environment",
        id="production-without-account",
    ),
    pytest.param(
        _set("environments.prod.termination_protection", False),
        None,
        "environments.prod.termination_protection",
        "must be true in production",
        id="production-without-termination-protection",
    ),
    pytest.param(
        _set("environments.prod.notification_emails", []),
        None,
        "environments.prod.notification_emails",
        "a production environment needs a recipient",
        id="production-without-recipient",
    ),
    pytest.param(
        _set("environments.prod.removal_policy", "delete"),
        None,
        "environments.prod.removal_policy",
        "must be one of destroy, retain; got 'delete'",
        id="unknown-removal-policy",
    ),
    # -- types -------------------------------------------------------------------------------
    pytest.param(
        _set("environments.prod.termination_protection", "yes"),
        None,
        "environments.prod.termination_protection",
        "must be true or false, got 'yes'",
        id="termination-protection-string",
    ),
    pytest.param(
        _set("environments.dev.production", 1),
        None,
        "environments.dev.production",
        "must be true or false, got 1",
        id="production-int",
    ),
    pytest.param(
        _set("environments.dev.log_retention_days", True),
        None,
        "environments.dev.log_retention_days",
        "must be a whole number, got True",
        id="bool-as-int",
    ),
    pytest.param(
        _set("environments.dev.rekognition.max_inference_units", True),
        None,
        "environments.dev.rekognition.max_inference_units",
        "must be a whole number, got True",
        id="bool-as-inference-units",
    ),
    pytest.param(
        _set("environments.dev.log_retention_days", 30.0),
        None,
        "environments.dev.log_retention_days",
        "must be a whole number, got 30.0",
        id="float-as-int",
    ),
    pytest.param(
        _set("environments.dev.resource_prefix", "Img_Clf"),
        None,
        "environments.dev.resource_prefix",
        "must be 2-20 lowercase letters, digits or dashes",
        id="bad-resource-prefix",
    ),
    pytest.param(
        _delete("defaults.resource_prefix"),
        None,
        "environments.dev.resource_prefix",
        "is required",
        id="missing-required-setting",
    ),
    # -- log retention -----------------------------------------------------------------------
    pytest.param(
        _set("environments.dev.log_retention_days", 10),
        None,
        "environments.dev.log_retention_days",
        "CloudWatch Logs accepts only 1, 3, 5, 7, 14, 30",
        id="log-retention-not-accepted-by-cloudwatch",
    ),
    pytest.param(
        _set("environments.dev.log_retention_days", 0),
        None,
        "environments.dev.log_retention_days",
        "must be at least 1, got 0",
        id="log-retention-zero",
    ),
    pytest.param(
        _set("environments.dev.log_retention_days", -30),
        None,
        "environments.dev.log_retention_days",
        "must be at least 1, got -30",
        id="log-retention-negative",
    ),
    # -- rekognition -------------------------------------------------------------------------
    pytest.param(
        _set("environments.prod.rekognition.min_inference_units", 3),
        None,
        "environments.prod.rekognition.min_inference_units",
        "must not exceed max_inference_units (3 > 2)",
        id="min-units-above-max",
    ),
    pytest.param(
        _set("environments.dev.rekognition.max_inference_units", 101),
        None,
        "environments.dev.rekognition.max_inference_units",
        "must be at most 100, got 101",
        id="max-units-above-limit",
    ),
    pytest.param(
        _set("environments.dev.rekognition.min_inference_units", 0),
        None,
        "environments.dev.rekognition.min_inference_units",
        "must be at least 1, got 0",
        id="min-units-zero",
    ),
    pytest.param(
        _set("environments.dev.rekognition.review_threshold", 0.4),
        None,
        "environments.dev.rekognition.review_threshold",
        "must be at least min_confidence (0.4 < ",
        id="review-below-min-confidence",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.confidence_threshold", 2),
        None,
        "environments.dev.sagemaker.confidence_threshold",
        "must be within [0, 1], got 2",
        id="sagemaker-confidence-above-one",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint_name", "My_Endpoint"),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "must be 1-25 lowercase letters",
        id="sagemaker-endpoint-name-uppercase",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint_name", "x" * 26),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "at most 63 characters",
        id="sagemaker-endpoint-name-too-long",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint_name", "-classifier"),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "lowercase letters, digits or dashes",
        id="sagemaker-endpoint-name-leading-dash",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.class_names", []),
        None,
        "environments.dev.sagemaker.class_names",
        "a classifier needs at least 2 classes",
        id="sagemaker-no-class-names",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.class_names", ["cat"]),
        None,
        "environments.dev.sagemaker.class_names",
        "at least 2 classes",
        id="sagemaker-one-class-name",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.class_names", ["cat", "dog", "cat"]),
        None,
        "environments.dev.sagemaker.class_names",
        "contains duplicates",
        id="sagemaker-duplicate-class-names",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.class_names", ["cat", ""]),
        None,
        "environments.dev.sagemaker.class_names[1]",
        "must be 1-64 letters",
        id="sagemaker-empty-class-name",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.class_names", "cat,dog"),
        None,
        "environments.dev.sagemaker.class_names",
        "must be a list",
        id="sagemaker-class-names-not-a-list",
    ),
    pytest.param(
        _delete("defaults.sagemaker.confidence_threshold"),
        None,
        "environments.dev.sagemaker.confidence_threshold",
        "is required",
        id="sagemaker-confidence-missing",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.review_prefix", "/review"),
        None,
        "environments.dev.sagemaker.review_prefix",
        "must be a key prefix",
        id="sagemaker-review-prefix-bad",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.input_prefix", "inference"),
        None,
        "environments.dev.sagemaker.input_prefix",
        "ending in '/'",
        id="sagemaker-input-prefix-without-slash",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.max_items_per_batch", 0),
        None,
        "environments.dev.sagemaker.batch.max_items_per_batch",
        "must be at least 1, got 0",
        id="sagemaker-batch-items-zero",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.max_items_per_batch", 101),
        None,
        "environments.dev.sagemaker.batch.max_items_per_batch",
        "must be at most 100",
        id="sagemaker-batch-items-too-many",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.invocations_per_batch", 17),
        None,
        "environments.dev.sagemaker.batch.invocations_per_batch",
        "must be at most 16",
        id="sagemaker-batch-invocations-too-many",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.tolerated_failure_percentage", 101),
        None,
        "environments.dev.sagemaker.batch.tolerated_failure_percentage",
        "must be at most 100",
        id="sagemaker-tolerance-above-100",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.tolerated_failure_percentage", -1),
        None,
        "environments.dev.sagemaker.batch.tolerated_failure_percentage",
        "must be at least 0",
        id="sagemaker-tolerance-negative",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.batch.typo", 1),
        None,
        "environments.dev.sagemaker.batch.typo",
        "is not a known setting",
        id="sagemaker-batch-unknown-key",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.instance_type", "ml.m5.xlarge"),
        None,
        "environments.dev.sagemaker.training.instance_type",
        "trains on GPU instances",
        id="sagemaker-training-on-cpu",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.instance_type", "p3.2xlarge"),
        None,
        "environments.dev.sagemaker.training.instance_type",
        "must be a SageMaker instance type",
        id="sagemaker-training-instance-without-ml",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.instance_count", 0),
        None,
        "environments.dev.sagemaker.training.instance_count",
        "must be at least 1",
        id="sagemaker-training-no-instances",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.volume_size_gb", 0),
        None,
        "environments.dev.sagemaker.training.volume_size_gb",
        "must be at least 1",
        id="sagemaker-training-volume-zero",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.max_runtime_hours", 73),
        None,
        "environments.dev.sagemaker.training.max_runtime_hours",
        "must be at most 72",
        id="sagemaker-training-runtime-too-long",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.data_format", "csv"),
        None,
        "environments.dev.sagemaker.training.data_format",
        "must be one of image, recordio",
        id="sagemaker-training-data-format",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.min_validation_accuracy", 1.2),
        None,
        "environments.dev.sagemaker.training.min_validation_accuracy",
        "must be within [0, 1]",
        id="sagemaker-gate-above-one",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.num_classes", 3),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_classes",
        "must equal the number of class_names (3 != 2)",
        id="sagemaker-num-classes-mismatch",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.num_training_samples", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_training_samples",
        "must be at least 1",
        id="sagemaker-no-training-samples",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.epochs", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.epochs",
        "must be at least 1",
        id="sagemaker-zero-epochs",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.learning_rate", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.learning_rate",
        "must be greater than 0",
        id="sagemaker-learning-rate-zero",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.image_shape", "224,224"),
        None,
        "environments.dev.sagemaker.training.hyperparameters.image_shape",
        "'channels,height,width'",
        id="sagemaker-image-shape",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.num_layers", 19),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_layers",
        "must be one of 18, 34",
        id="sagemaker-num-layers",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.num_layers", 20),
        None,
        "environments.dev.sagemaker.training.hyperparameters.use_pretrained_model",
        "pretrained weights exist for num_layers",
        id="sagemaker-pretrained-without-weights",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.training.hyperparameters.dropout", 0.5),
        None,
        "environments.dev.sagemaker.training.hyperparameters.dropout",
        "is not a known setting",
        id="sagemaker-unknown-hyperparameter",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint.instance_type", "m5.large"),
        None,
        "environments.dev.sagemaker.endpoint.instance_type",
        "must be a SageMaker instance type",
        id="sagemaker-endpoint-instance-type",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint.initial_instance_count", 0),
        None,
        "environments.dev.sagemaker.endpoint.initial_instance_count",
        "must be at least 1",
        id="sagemaker-endpoint-no-instances",
    ),
    pytest.param(
        _set("environments.dev.sagemaker.endpoint.data_capture_percentage", 101),
        None,
        "environments.dev.sagemaker.endpoint.data_capture_percentage",
        "must be at most 100",
        id="sagemaker-capture-above-100",
    ),
    # -- lifecycle ---------------------------------------------------------------------------
    pytest.param(
        _set("environments.dev.lifecycle.results_transition_to_ia_days", 29),
        None,
        "environments.dev.lifecycle.results_transition_to_ia_days",
        "must be at least 30, got 29",
        id="ia-transition-below-30",
    ),
    pytest.param(
        _set("environments.prod.lifecycle.abort_incomplete_upload_days", 0),
        None,
        "environments.prod.lifecycle.abort_incomplete_upload_days",
        "must be at least 1, got 0",
        id="abort-upload-zero",
    ),
    # -- rekognition inference ---------------------------------------------------------------
    pytest.param(
        _set("environments.dev.rekognition.project_name", "shapes classifier"),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-with-space",
    ),
    pytest.param(
        _set("environments.dev.rekognition.project_name", "x" * 256),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-too-long",
    ),
    pytest.param(
        _set("environments.dev.rekognition.project_name", ""),
        None,
        "environments.dev.rekognition.project_name",
        "must be 1-244 letters, digits",
        id="project-name-empty",
    ),
    pytest.param(
        _set("environments.dev.rekognition.project_name", "x" * 245),
        None,
        "environments.dev.rekognition.project_name",
        "'imgclf-dev-xxx",
        id="project-name-too-long-with-the-prefix",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_version_arn", "arn:aws:s3:::bucket/model"),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a Custom Labels model version ARN",
        id="model-version-arn-not-rekognition",
    ),
    pytest.param(
        _set(
            "environments.dev.rekognition.model_version_arn",
            "arn:aws:rekognition:eu-west-1:111111111111:project/image-classifier/1700000000000",
        ),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a Custom Labels model version ARN",
        id="model-version-arn-is-a-project-arn",
    ),
    pytest.param(
        _set(
            "environments.dev.rekognition.model_version_arn",
            "arn:aws:rekognition:eu-west-1:111111111111:project/other/version/v1/1700000000000",
        ),
        None,
        "environments.dev.rekognition.model_version_arn",
        "belongs to project 'other', not this environment's project 'imgclf-dev-image-classifier'",
        id="model-version-arn-of-another-project",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_version_arn", 42),
        None,
        "environments.dev.rekognition.model_version_arn",
        "must be a string, got 42",
        id="model-version-arn-not-a-string",
    ),
    pytest.param(
        _set("environments.dev.rekognition.input_prefix", "incoming"),
        None,
        "environments.dev.rekognition.input_prefix",
        "ending in '/'",
        id="input-prefix-without-slash",
    ),
    pytest.param(
        _set("environments.dev.rekognition.input_prefix", "/incoming/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-leading-slash",
    ),
    pytest.param(
        _set("environments.dev.rekognition.input_prefix", "in coming/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-with-space",
    ),
    pytest.param(
        _set("environments.dev.rekognition.input_prefix", "a//b/"),
        None,
        "environments.dev.rekognition.input_prefix",
        "must be a key prefix",
        id="input-prefix-empty-segment",
    ),
    pytest.param(
        _set("environments.dev.rekognition.input_prefix", "sagemaker/"),
        None,
        "environments.dev.sagemaker.input_prefix",
        "'sagemaker/inference/' overlaps rekognition.input_prefix ('sagemaker/')",
        id="input-prefix-overlaps-sagemaker",
    ),
    pytest.param(
        _set("environments.dev.rekognition_training.triggers.manifest_prefix", "incoming/m/"),
        None,
        "environments.dev.rekognition_training.triggers.manifest_prefix",
        "'incoming/m/' overlaps rekognition.input_prefix ('incoming/')",
        id="input-prefix-overlaps-training-trigger",
    ),
    pytest.param(
        _set("environments.dev.rekognition.batch_size", 0),
        None,
        "environments.dev.rekognition.batch_size",
        "must be at least 1, got 0",
        id="batch-size-zero",
    ),
    pytest.param(
        _all(
            _set("environments.dev.rekognition.batch_size", 101),
            _set("environments.dev.rekognition.batching_window_seconds", 5),
        ),
        None,
        "environments.dev.rekognition.batch_size",
        "must be at most 100, got 101",
        id="batch-size-above-limit",
    ),
    pytest.param(
        _set("environments.dev.rekognition.batch_size", "10"),
        None,
        "environments.dev.rekognition.batch_size",
        "must be a whole number",
        id="batch-size-string",
    ),
    pytest.param(
        _all(
            _set("environments.dev.rekognition.batch_size", 20),
            _set("environments.dev.rekognition.batching_window_seconds", 0),
        ),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at least 1 when batch_size is above 10",
        id="large-batch-without-window",
    ),
    pytest.param(
        _set("environments.dev.rekognition.batching_window_seconds", 301),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at most 300, got 301",
        id="batching-window-above-limit",
    ),
    pytest.param(
        _set("environments.dev.rekognition.batching_window_seconds", -1),
        None,
        "environments.dev.rekognition.batching_window_seconds",
        "must be at least 0, got -1",
        id="batching-window-negative",
    ),
    pytest.param(
        _set("environments.dev.rekognition.detect_concurrency", 0),
        None,
        "environments.dev.rekognition.detect_concurrency",
        "must be at least 1, got 0",
        id="detect-concurrency-zero",
    ),
    pytest.param(
        _set("environments.dev.rekognition.detect_concurrency", 51),
        None,
        "environments.dev.rekognition.detect_concurrency",
        "must be at most 50, got 51",
        id="detect-concurrency-above-limit",
    ),
    pytest.param(
        _set("environments.dev.rekognition.tps_per_inference_unit", 0),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be greater than 0",
        id="tps-zero",
    ),
    pytest.param(
        _set("environments.dev.rekognition.tps_per_inference_unit", "5"),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be a number, got '5'",
        id="tps-string",
    ),
    pytest.param(
        _set("environments.dev.rekognition.tps_per_inference_unit", True),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "must be a number, got True",
        id="tps-bool",
    ),
    pytest.param(
        _set("environments.dev.rekognition.tps_per_inference_unit", 1001),
        None,
        "environments.dev.rekognition.tps_per_inference_unit",
        "at most 1000",
        id="tps-above-limit",
    ),
    pytest.param(
        _all(
            _set("environments.dev.rekognition.batch_size", 100),
            _set("environments.dev.rekognition.batching_window_seconds", 1),
            _set("environments.dev.rekognition.tps_per_inference_unit", 0.1),
        ),
        None,
        "environments.dev.rekognition.batch_size",
        "takes 2000 s, over 600 s",
        id="batch-too-slow-for-the-model",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control", "on_demand"),
        None,
        "environments.dev.rekognition.model_control",
        "must be an object",
        id="model-control-not-an-object",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.mode", "sometimes"),
        None,
        "environments.dev.rekognition.model_control.mode",
        "must be one of off, scheduled, on_demand; got 'sometimes'",
        id="model-control-unknown-mode",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.idle_minutes", 0),
        None,
        "environments.dev.rekognition.model_control.idle_minutes",
        "must be at least 1, got 0",
        id="idle-minutes-zero",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.idle_minutes", 1441),
        None,
        "environments.dev.rekognition.model_control.idle_minutes",
        "must be at most 1440",
        id="idle-minutes-above-a-day",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.mode", "scheduled"),
        None,
        "environments.dev.rekognition.model_control.schedule",
        "is required when mode is 'scheduled'",
        id="scheduled-without-schedule",
    ),
    pytest.param(
        _set(
            "environments.dev.rekognition.model_control.schedule",
            {"start_hour_utc": 8, "end_hour_utc": 18},
        ),
        None,
        "environments.dev.rekognition.model_control.schedule",
        "is only used with mode 'scheduled' (mode is 'on_demand')",
        id="schedule-without-scheduled-mode",
    ),
    pytest.param(
        _all(
            _set("environments.dev.rekognition.model_control.mode", "scheduled"),
            _set(
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
        _all(
            _set("environments.dev.rekognition.model_control.mode", "scheduled"),
            _set(
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
        _all(
            _set("environments.dev.rekognition.model_control.mode", "scheduled"),
            _set(
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
        _set("environments.dev.rekognition.model_control.idle_minute", 5),
        None,
        "environments.dev.rekognition.model_control.idle_minute",
        "is not a known setting; did you mean 'idle_minutes'?",
        id="model-control-key-typo",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", 0),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at least 1, got 0",
        id="drain-zero",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", -30),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at least 1, got -30",
        id="drain-negative",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", 1441),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be at most 1440, got 1441",
        id="drain-over-a-day",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", 30.5),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got 30.5",
        id="drain-fractional",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", "30"),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got '30'",
        id="drain-string",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", True),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "must be a whole number, got True",
        id="drain-boolean",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minutes", None),
        None,
        "environments.dev.rekognition.model_control.drain_minutes",
        "is required",
        id="drain-null",
    ),
    pytest.param(
        _set("environments.dev.rekognition.model_control.drain_minute", 30),
        None,
        "environments.dev.rekognition.model_control.drain_minute",
        "did you mean 'drain_minutes'?",
        id="drain-key-typo",
    ),
    pytest.param(
        _set("environments.prod.rekognition.model_control.drain_minutes", 51),
        None,
        "environments.prod.operations.queue_age_alarm_minutes",
        "must be at least rekognition.model_control.drain_minutes + 10 (a start) = 61, got 60",
        id="drain-outlasting-the-backlog-alarm",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_configuration_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    mutation(context_copy)

    with pytest.raises(ConfigError) as caught:
        _load(context_copy, env)

    error = caught.value
    assert error.key == key
    assert fragment in error.problem
    assert str(error) == f"{key}: {error.problem}"
    assert "\n" not in error.problem  # one line on the terminal


def test_unconfigured_environment_lists_every_configured_name(context_copy: Context) -> None:
    context_copy["environments"]["staging"] = {}

    with pytest.raises(ConfigError) as caught:
        load_environment(context_copy, "nope")

    configured = ", ".join(sorted(context_copy["environments"]))
    assert configured == "dev, prod, staging"
    assert caught.value.key == "environments.nope"
    assert f"choose one of: {configured}" in caught.value.problem


def test_config_error_is_a_value_error() -> None:
    error = ConfigError("environments.prod.account", "is required")

    assert isinstance(error, ValueError)
    assert error.key == "environments.prod.account"
    assert error.problem == "is required"
    assert str(error) == "environments.prod.account: is required"


# --------------------------------------------------------------------------------------------
# 3. app.py: a config error stops synth with one clear line
# --------------------------------------------------------------------------------------------


def _run_app(context: Context) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _meaningful_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("!!")]


def test_app_stops_with_one_line_for_a_bad_account(context_copy: Context) -> None:
    context_copy["environments"]["prod"]["account"] = "123"

    result = _run_app(context_copy)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = _meaningful_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "environments.prod.account" in lines[0]
    assert "12-digit" in lines[0]


def test_app_stops_with_one_line_for_an_unknown_environment(context_copy: Context) -> None:
    context_copy["env"] = "nope"

    result = _run_app(context_copy)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = _meaningful_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "environments.nope" in lines[0]
    assert ", ".join(sorted(context_copy["environments"])) in lines[0]


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


def test_config_and_controller_derive_the_same_capacity(context_copy: Context) -> None:
    """stacks/config/ (synth time) and shared/consumer_capacity.py (run time) agree."""
    for tps, concurrency, batch in itertools.product((0.5, 2.5, 5, 50), (1, 3, 10, 50), (1, 10)):
        rekognition = context_copy["environments"]["dev"].setdefault("rekognition", {})
        rekognition.update(
            max_inference_units=30,
            tps_per_inference_unit=tps,
            detect_concurrency=concurrency,
            batch_size=batch,
            batching_window_seconds=1,
        )
        try:
            settings = load_environment(context_copy, "dev").rekognition
        except ConfigError:
            continue  # a batch too slow for the model: refused, nothing to compare
        for units in range(1, 31):
            synth = settings.capacity_for(units)
            runtime = capacity_for(units, tps, settings.calls_in_flight)
            assert (synth.max_concurrency, synth.invocation_tps) == (
                runtime.max_concurrency,
                runtime.invocation_tps,
            )


# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------


def test_operations_defaults_and_prod_override(context_copy: Context) -> None:
    configs = _by_name(load_all(context_copy))
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
    _set("environments.dev.rekognition.model_control.mode", mode)(context_copy)
    _set("environments.dev.rekognition.model_control.schedule", schedule)(context_copy)
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
    _set(f"environments.dev.operations.{key}", value)(context_copy)
    with pytest.raises(ConfigError) as raised:
        load_environment(context_copy, "dev")
    assert f"environments.dev.operations.{key}" in str(raised.value)
    assert message in str(raised.value)


def test_idle_alarm_must_outlast_the_controllers_own_stop(context_copy: Context) -> None:
    _set("environments.dev.rekognition.model_control.idle_minutes", 30)(context_copy)
    _set("environments.dev.operations.model_idle_alarm_minutes", 30)(context_copy)
    with pytest.raises(ConfigError, match=r"must exceed rekognition\.model_control\.idle_minutes"):
        load_environment(context_copy, "dev")
    _set("environments.dev.operations.model_idle_alarm_minutes", 31)(context_copy)
    assert load_environment(context_copy, "dev").operations.model_idle_alarm_minutes == 31


# --------------------------------------------------------------------------------------------
# Rekognition training: history and timeout budget of the worst path
# --------------------------------------------------------------------------------------------


def test_the_worst_path_counts_every_loop_it_can_run(context_copy: Context) -> None:
    """Project pages, the deletion of both old datasets, TRAIN, TEST, the two split polls,
    training and starting: each can run, each to its deadline, in one execution."""
    training = load_environment(context_copy, "dev").rekognition_training
    loops = {loop.name: loop for loop in training.worst_path_loops}

    assert set(loops) == {
        "ProjectPages",
        "DatasetDeleted",
        "TrainDataset",
        "TestDataset",
        "SplitTrainDataset",
        "SplitTestDataset",
        "Training",
        "Start",
    }
    deletion = loops["DatasetDeleted"]
    assert (deletion.runs, deletion.concurrent) == (MAX_PROJECT_DATASETS, MAX_PROJECT_DATASETS)
    assert loops["ProjectPages"].max_polls == PROJECT_LOOKUP_MAX_PAGES
    polls = sum(loop.max_polls * loop.runs for loop in loops.values())
    assert training.worst_path_history_events == polls * EVENTS_PER_POLL + EVENTS_OUTSIDE_LOOPS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_shipped_worst_path_stays_under_half_the_history_quota(
    context_copy: Context, env: str
) -> None:
    training = load_environment(context_copy, env).rekognition_training

    assert training.worst_path_history_events <= HISTORY_BUDGET == 25_000 // 2


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_execution_timeout_exceeds_every_deadline_of_the_worst_path(
    context_copy: Context, env: str
) -> None:
    training = load_environment(context_copy, env).rekognition_training
    deadlines_minutes = (
        training.dataset_deadline_minutes  # both old datasets, deleted side by side
        + 4 * training.dataset_deadline_minutes  # TRAIN, TEST, split TRAIN, split TEST
        + training.training_deadline_hours * 60
        + training.start_deadline_minutes
    )

    assert training.execution_timeout_minutes >= deadlines_minutes + 60


def test_a_worst_path_over_half_the_quota_is_refused(context_copy: Context) -> None:
    """30 s dataset polls for 2 hours passed the old check (two dataset loops counted) but make
    ~23,800 events on the automatic-split path with old datasets to delete."""
    context = deep_merge(
        context_copy,
        {"environments": {"dev": {"rekognition_training": {"dataset_poll_seconds": 30}}}},
    )

    with pytest.raises(ConfigError) as raised:
        load_environment(context, "dev")

    assert raised.value.key == "environments.dev.rekognition_training.dataset_poll_seconds"
    assert "history events" in raised.value.problem
    assert "half of Step Functions' 25,000-event quota" in raised.value.problem

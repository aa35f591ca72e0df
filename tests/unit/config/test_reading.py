"""Reading the context: environment selection, merging defaults, types, and app.py's one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import (
    ConfigError,
    deep_merge,
    load_environment,
)
from tests.conftest import ENVIRONMENTS
from tests.unit.config.support import (
    ROOT,
    Context,
    Mutation,
    assert_config_error,
    delete_key,
    no_change,
    set_key,
)

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


INVALID = [
    # -- environment selection ---------------------------------------------------------------
    pytest.param(
        no_change,
        "nope",
        "environments.nope",
        "is not configured; choose one of: dev, prod",
        id="environment-not-configured",
    ),
    pytest.param(
        set_key("environments", {}),
        None,
        "environments",
        "no environments are configured",
        id="empty-environments",
    ),
    pytest.param(
        delete_key("environments"),
        None,
        "environments",
        "no environments are configured",
        id="missing-environments",
    ),
    pytest.param(
        set_key("environments", {}),
        "dev",
        "environments",
        "no environments are configured",
        id="empty-environments-selected",
    ),
    pytest.param(
        set_key("environments.Prod-1", {}),
        None,
        "environments.Prod-1",
        "1-16 lowercase letters or digits",
        id="invalid-environment-name",
    ),
    pytest.param(
        set_key("environments.dev\n", {}),
        "dev\n",
        "environments.dev\n",
        "1-16 lowercase letters or digits",
        id="environment-name-trailing-newline",
    ),
    pytest.param(
        set_key("environments.dev", "dev"),
        None,
        "environments.dev",
        "must be an object",
        id="environment-not-an-object",
    ),
    pytest.param(
        set_key("defaults", ["production"]),
        None,
        "defaults",
        "must be an object",
        id="defaults-not-an-object",
    ),
    # -- types -------------------------------------------------------------------------------
    pytest.param(
        set_key("environments.prod.termination_protection", "yes"),
        None,
        "environments.prod.termination_protection",
        "must be true or false, got 'yes'",
        id="termination-protection-string",
    ),
    pytest.param(
        set_key("environments.dev.production", 1),
        None,
        "environments.dev.production",
        "must be true or false, got 1",
        id="production-int",
    ),
    pytest.param(
        set_key("environments.dev.log_retention_days", True),
        None,
        "environments.dev.log_retention_days",
        "must be a whole number, got True",
        id="bool-as-int",
    ),
    pytest.param(
        set_key("environments.dev.rekognition.max_inference_units", True),
        None,
        "environments.dev.rekognition.max_inference_units",
        "must be a whole number, got True",
        id="bool-as-inference-units",
    ),
    pytest.param(
        set_key("environments.dev.log_retention_days", 30.0),
        None,
        "environments.dev.log_retention_days",
        "must be a whole number, got 30.0",
        id="float-as-int",
    ),
    pytest.param(
        set_key("environments.dev.resource_prefix", "Img_Clf"),
        None,
        "environments.dev.resource_prefix",
        "must be 2-20 lowercase letters, digits or dashes",
        id="bad-resource-prefix",
    ),
    pytest.param(
        delete_key("defaults.resource_prefix"),
        None,
        "environments.dev.resource_prefix",
        "is required",
        id="missing-required-setting",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_context_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    assert_config_error(context_copy, mutation, env, key, fragment)


def test_unconfigured_environment_lists_every_configured_name(context_copy: Context) -> None:
    assert "other" not in ENVIRONMENTS
    context_copy["environments"]["other"] = {}

    with pytest.raises(ConfigError) as caught:
        load_environment(context_copy, "nope")

    configured = ", ".join(sorted(context_copy["environments"]))
    assert configured == ", ".join(sorted([*ENVIRONMENTS, "other"]))
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

"""The quality_gate section: the metric, thresholds and what they refuse."""

from __future__ import annotations

import pytest

from tests.unit.config.support import (
    Context,
    Mutation,
    assert_config_error,
    set_key,
)

INVALID = [
    # -- quality gate ------------------------------------------------------------------------
    pytest.param(
        set_key("environments.dev.quality_gate.threshold", 1.5),
        None,
        "environments.dev.quality_gate.threshold",
        "must be within [0, 1], got 1.5",
        id="threshold-above-one",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.threshold", -0.1),
        None,
        "environments.dev.quality_gate.threshold",
        "must be within [0, 1], got -0.1",
        id="threshold-negative",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.threshold", "0.9"),
        None,
        "environments.dev.quality_gate.threshold",
        "must be a number in [0, 1]",
        id="threshold-string",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.threshold", True),
        None,
        "environments.dev.quality_gate.threshold",
        "must be a number in [0, 1], got True",
        id="threshold-bool",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.min_label_recall", 1.01),
        None,
        "environments.dev.quality_gate.min_label_recall",
        "must be within [0, 1]",
        id="min-label-recall-above-one",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.metric", "f2_score"),
        None,
        "environments.dev.quality_gate.metric",
        "must be one of f1_score, accuracy",
        id="unknown-gate-metric",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate", 0.9),
        None,
        "environments.dev.quality_gate",
        "must be an object, got float",
        id="quality-gate-not-an-object",
    ),
    pytest.param(
        set_key("environments.dev.quality_gate.treshold", 0.9),
        None,
        "environments.dev.quality_gate.treshold",
        "is not a known setting",
        id="nested-typo",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_quality_gate_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    assert_config_error(context_copy, mutation, env, key, fragment)

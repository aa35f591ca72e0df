"""The quality gate: does a trained version earn an endpoint? A pure function of its metrics.

Values are compared up to float rounding and spelled the same way everywhere
(``shared.evaluation.verdict``): the verdict records the compared values, so
``passed == (value >= threshold)`` holds for anyone reading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from contracts.quality_gate import (
    AVERAGED_METRICS,
    AVERAGES,
    SCALAR_METRICS,
    SERVICE_F1,
    averaged_metric,
)
from shared.evaluation.verdict import DECIMALS, compared, figures, gate_line, meets


class GateMetricMissing(KeyError):  # noqa: N818 - the name is the workflow's error name
    """The gate names a metric the evaluation did not produce."""

    def __str__(self) -> str:
        return str(self.args[0])


class Verdict(TypedDict):
    passed: bool
    metric: str
    value: float
    threshold: float
    gap: float
    reasons: list[str]
    #: The verdict in one line (``shared.evaluation.verdict.gate_line``), for notifications.
    summary: str


def aggregate_metrics(metrics: Mapping[str, Any], service_f1: float | None) -> dict[str, float]:
    """The gate-able figures of a ``metrics.json`` report, flat (``f1_macro``, ``accuracy``...)."""
    flat: dict[str, float] = {}
    if service_f1 is not None:
        flat[SERVICE_F1] = float(service_f1)
    for name in SCALAR_METRICS:
        if name in metrics:
            flat[name] = float(metrics[name])
    for name in AVERAGED_METRICS:
        for average in AVERAGES:
            value = metrics.get(name, {}).get(average)
            if value is not None:
                flat[averaged_metric(name, average)] = float(value)
    return flat


def evaluate_gate(
    gate: Mapping[str, Any],
    aggregates: Mapping[str, float],
    per_label_recall: Mapping[str, float],
    per_label_support: Mapping[str, int] | None = None,
) -> Verdict:
    """``aggregates[gate.metric] >= gate.threshold`` and the optional per-label recall floor.

    ``per_label_recall`` covers the real labels only (an abstention is a miss of its true
    label, not a label). ``per_label_support`` lets a reason say when a label has no test image
    (its recall is 0 by scikit-learn's ``zero_division=0``).
    """
    metric = str(gate["metric"])
    if metric not in aggregates:
        available = ", ".join(sorted(aggregates)) or "none"
        raise GateMetricMissing(
            f"the gate metric {metric!r} is not in this evaluation (available: {available})"
        )
    value, threshold = compared(aggregates[metric]), compared(float(gate["threshold"]))
    reasons: list[str] = []
    if not meets(value, threshold):
        shown, limit = figures(value, threshold)
        reasons.append(f"{metric} {shown} is below the threshold {limit}")
    floor = gate.get("min_label_recall")
    if floor is not None:
        floor = compared(float(floor))
        for label, recall in sorted(per_label_recall.items()):
            if not meets(recall, floor):
                shown, limit = figures(compared(recall), floor)
                empty = per_label_support is not None and per_label_support.get(label) == 0
                reasons.append(
                    f"recall of {label!r} {shown} is below {limit}"
                    + (" (no test image has this label)" if empty else "")
                )
    gap = round(value - threshold, DECIMALS)
    return Verdict(
        passed=not reasons,
        metric=metric,
        value=value,
        threshold=threshold,
        gap=gap,
        reasons=reasons,
        summary=gate_line(not reasons, metric, value, threshold, gap),
    )

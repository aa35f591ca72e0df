"""The quality gate: does a trained version earn an endpoint? A pure function of its metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict


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


def aggregate_metrics(metrics: Mapping[str, Any], service_f1: float | None) -> dict[str, float]:
    """The gate-able figures of a ``metrics.json`` report, flat (``f1_macro``, ``accuracy``...)."""
    flat: dict[str, float] = {}
    if service_f1 is not None:
        flat["f1_score"] = float(service_f1)
    for name in ("accuracy", "balanced_accuracy", "matthews_corrcoef"):
        if name in metrics:
            flat[name] = float(metrics[name])
    for name in ("precision", "recall", "f1", "jaccard"):
        for average in ("micro", "macro", "weighted"):
            value = metrics.get(name, {}).get(average)
            if value is not None:
                flat[f"{name}_{average}"] = float(value)
    return flat


def evaluate_gate(
    gate: Mapping[str, Any],
    aggregates: Mapping[str, float],
    per_label_recall: Mapping[str, float],
) -> Verdict:
    """Compare ``aggregates[gate.metric] >= gate.threshold`` and the optional per-label floor."""
    metric = str(gate["metric"])
    if metric not in aggregates:
        available = ", ".join(sorted(aggregates)) or "none"
        raise GateMetricMissing(
            f"the gate metric {metric!r} is not in this evaluation (available: {available})"
        )
    value = aggregates[metric]
    threshold = float(gate["threshold"])
    reasons: list[str] = []
    if value < threshold:
        reasons.append(f"{metric} {value:.4f} is below the threshold {threshold:.4f}")
    floor = gate.get("min_label_recall")
    if floor is not None:
        for label, recall in sorted(per_label_recall.items()):
            if recall < float(floor):
                reasons.append(f"recall of {label!r} {recall:.4f} is below {float(floor):.4f}")
    return Verdict(
        passed=not reasons,
        metric=metric,
        value=value,
        threshold=threshold,
        gap=round(value - threshold, 6),
        reasons=reasons,
    )

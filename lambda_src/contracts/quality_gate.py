"""The aggregate metrics of the evaluation report a quality gate may compare.

cdk.json's ``quality_gate.metric`` is checked against this list at synth time, a run's
``gate.metric`` override by the training workflow's first state and ``ops train start``, and the
evaluation produces every one of them (``rekognition_training.gate.aggregate_metrics``) and
publishes each as a CloudWatch metric of the same name, per project and version (the dashboard
charts :data:`F1_MACRO` and :data:`ACCURACY` per version).
"""

from __future__ import annotations

from typing import Final

#: The service's own F1 (EvaluationResult.F1Score).
SERVICE_F1: Final = "f1_score"
ACCURACY: Final = "accuracy"
#: Figures of the report that are one number.
SCALAR_METRICS: Final = (ACCURACY, "balanced_accuracy", "matthews_corrcoef")
#: Per-class averages of the report that a gate may compare (:func:`averaged_metric`).
AVERAGED_METRICS: Final = ("precision", "recall", "f1", "jaccard")
AVERAGES: Final = ("micro", "macro", "weighted")


def averaged_metric(metric: str, average: str) -> str:
    """The name of one average of a per-class metric: ``f1_macro``, ``precision_weighted``."""
    return f"{metric}_{average}"


#: The F1 of every label counted alike (the macro average).
F1_MACRO: Final = averaged_metric("f1", "macro")

GATE_METRICS: Final[tuple[str, ...]] = (
    SERVICE_F1,
    *SCALAR_METRICS,
    *(averaged_metric(metric, average) for metric in AVERAGED_METRICS for average in AVERAGES),
)

"""The aggregate metrics of the evaluation report a quality gate may compare.

cdk.json's ``quality_gate.metric`` is checked against this list at synth time, a run's
``gate.metric`` override by the training workflow's first state and ``ops train start``, and the
evaluation produces every one of them (``rekognition_training.gate.aggregate_metrics``).
"""

from __future__ import annotations

from typing import Final

#: The service's own F1 (EvaluationResult.F1Score).
SERVICE_F1: Final = "f1_score"
#: Figures of the report that are one number.
SCALAR_METRICS: Final = ("accuracy", "balanced_accuracy", "matthews_corrcoef")
#: Per-class averages of the report that a gate may compare (``<metric>_<average>``).
AVERAGED_METRICS: Final = ("precision", "recall", "f1", "jaccard")
AVERAGES: Final = ("micro", "macro", "weighted")

GATE_METRICS: Final[tuple[str, ...]] = (
    SERVICE_F1,
    *SCALAR_METRICS,
    *(f"{metric}_{average}" for metric in AVERAGED_METRICS for average in AVERAGES),
)

"""The ``quality_gate`` section: which evaluation metric must reach which threshold."""

from __future__ import annotations

from contracts.quality_gate import GATE_METRICS
from stacks.config.reading import _Reader, _required
from stacks.config.schema import QualityGateConfig


def _quality_gate(reader: _Reader) -> QualityGateConfig:
    gate = QualityGateConfig(
        metric=reader.choice("metric", GATE_METRICS),
        threshold=_required(reader.fraction("threshold")),
        min_label_recall=reader.fraction("min_label_recall", required=False),
    )
    reader.reject_unknown()
    return gate

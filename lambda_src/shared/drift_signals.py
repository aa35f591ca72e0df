"""The live drift signals of one inference invocation, published as CloudWatch EMF.

Both inference paths count what they classified into a :class:`DriftTally` and publish it when
the invocation ends (the Rekognition consumer once per batch, the SageMaker classify function
once per image): the drift metrics of ``contracts.metrics`` with dimensions ``Pipeline`` and
``Model``. Label names become ASCII-safe dimension values (``contracts.metric_dimensions``); a
process publishes at most :data:`~contracts.drift.MAX_TRACKED_LABELS` distinct labels
per model, and folds any later one into :data:`~contracts.drift.OTHER_LABEL`, so a
model's label set cannot grow the metric count without bound.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from contracts import drift as contract
from contracts.metric_dimensions import label_dimension
from contracts.metrics import (
    BUCKET_DIMENSION,
    DRIFT_ABSTENTIONS,
    DRIFT_IMAGE_BYTES,
    DRIFT_IMAGES,
    DRIFT_PREDICTIONS,
    DRIFT_TOP_CONFIDENCE,
    DRIFT_TOP_CONFIDENCE_SUM,
    LABEL_DIMENSION,
    MODEL_DIMENSION,
    NAMESPACE_ROOT,
    PIPELINE_DIMENSION,
)


class LabelCap:
    """Which label dimension values a process publishes, per model: the first ``cap`` seen.

    Thread-safe (the Rekognition consumer classifies on a thread pool).
    """

    def __init__(self, cap: int = contract.MAX_TRACKED_LABELS) -> None:
        self._cap = cap
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def dimension(self, model: str, label: str) -> str:
        value = label_dimension(label)
        with self._lock:
            seen = self._seen.setdefault(model, set())
            if value in seen:
                return value
            if len(seen) < self._cap:
                seen.add(value)
                return value
        return contract.OTHER_LABEL


#: One per execution environment: what it published before stays what it publishes.
LABEL_CAP = LabelCap()


@dataclass
class DriftTally:
    """What one invocation classified for one model, ready to publish."""

    pipeline: str
    model: str
    images: int = 0
    abstentions: int = 0
    confidence_sum: float = 0.0
    labels: Counter[str] = field(default_factory=Counter)
    confidences: Counter[str] = field(default_factory=Counter)
    sizes: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        *,
        label: str | None,
        confidence: float,
        abstained: bool,
        size: int | None,
        cap: LabelCap = LABEL_CAP,
    ) -> None:
        """One classified image: its top label (None: none, always an abstention), its top
        confidence (0..1), whether it counts as an abstention, and its byte size (None or
        negative: unknown). A labelled abstention (SageMaker's answer under the threshold)
        counts in the label and confidence figures too: the model did say something."""
        self.images += 1
        if abstained or label is None:
            self.abstentions += 1
        if label is not None:
            self.labels[cap.dimension(self.model, label)] += 1
            self.confidence_sum += confidence
            self.confidences[contract.confidence_bucket(confidence)] += 1
        if size is not None and size >= 0:
            self.sizes[contract.size_bucket(size)] += 1

    def publish(self, namespace: str | None = None) -> None:
        """The EMF lines of this tally (none when nothing was classified)."""
        if not self.images:
            return
        namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_ROOT)
        plain = {PIPELINE_DIMENSION: self.pipeline, MODEL_DIMENSION: self.model}
        self._emit(namespace, DRIFT_IMAGES, self.images, plain)
        self._emit(namespace, DRIFT_ABSTENTIONS, self.abstentions, plain)
        self._emit(namespace, DRIFT_TOP_CONFIDENCE_SUM, self.confidence_sum, plain)
        for name, counts, dimension in (
            (DRIFT_PREDICTIONS, self.labels, LABEL_DIMENSION),
            (DRIFT_TOP_CONFIDENCE, self.confidences, BUCKET_DIMENSION),
            (DRIFT_IMAGE_BYTES, self.sizes, BUCKET_DIMENSION),
        ):
            for value, count in sorted(counts.items()):
                self._emit(namespace, name, count, {**plain, dimension: value})

    @staticmethod
    def _emit(namespace: str, name: str, value: float, dimensions: dict[str, str]) -> None:
        unit = MetricUnit.NoUnit if name == DRIFT_TOP_CONFIDENCE_SUM else MetricUnit.Count
        with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)


@dataclass(frozen=True)
class DriftObservation:
    """One classified image: the model, its top label (None: no label), the top confidence
    (0..1) and the input's byte size (None or negative: unknown)."""

    model: str
    label: str | None
    confidence: float
    size: int | None


@dataclass
class DriftTallies:
    """One :class:`DriftTally` per model an invocation classified for (a new version can
    arrive mid-batch)."""

    pipeline: str
    tallies: dict[str, DriftTally] = field(default_factory=dict)

    def add(
        self, model: str, *, label: str | None, confidence: float, abstained: bool, size: int | None
    ) -> None:
        tally = self.tallies.get(model)
        if tally is None:
            tally = self.tallies[model] = DriftTally(self.pipeline, model)
        tally.add(label=label, confidence=confidence, abstained=abstained, size=size)

    def observe(self, observation: DriftObservation, *, abstained: bool | None = None) -> None:
        """``observation``; an abstention when it has no label, unless ``abstained`` says."""
        self.add(
            observation.model,
            label=observation.label,
            confidence=observation.confidence,
            abstained=observation.label is None if abstained is None else abstained,
            size=observation.size,
        )

    def publish(self, namespace: str | None = None) -> None:
        for model in sorted(self.tallies):
            self.tallies[model].publish(namespace)

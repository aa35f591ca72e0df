"""The drift figures of one live window against one baseline: pure, no AWS.

- **label divergence**: the Jensen-Shannon divergence, base 2 (0 = same shares, 1 = disjoint),
  of the live top-label shares against the test set's ground-truth label shares;
- **confidence drop**: the test set's mean top confidence minus the live one (positive: the
  model is less sure of what it sees now);
- **abstention increase**: the live abstention rate minus the test set's;
- **image-size divergence**: the JS divergence, base 2, of the live byte-size histogram against
  the training set's (skew between training and serving inputs).

A figure is ``None`` when the window has fewer than ``min_images`` images to compute it from, or
the baseline lacks its side: a small window stays quiet. Labels are compared by their
CloudWatch dimension values (``contracts.metric_dimensions``), as the live counts arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import drift as contract
from contracts.metric_dimensions import LabelNotReversible, label_dimension, label_from_dimension


@dataclass(frozen=True)
class LiveWindow:
    """What the inference path published over the window, summed."""

    images: int = 0
    abstentions: int = 0
    confidence_sum: float = 0.0
    #: Top-label counts by dimension value (``OTHER_LABEL`` included).
    labels: Mapping[str, int] = field(default_factory=dict)
    confidences: Mapping[str, int] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)

    @property
    def labelled(self) -> int:
        return sum(self.labels.values())


@dataclass(frozen=True)
class Thresholds:
    """When a figure counts as drift, and how many images it needs first."""

    min_images: int
    label_divergence: float
    confidence_drop: float
    abstention_increase: float
    size_divergence: float
    #: A label "moved" when its share changed by at least this much.
    label_shift: float

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Thresholds:
        """From the ``drift`` config section's ``thresholds()`` (or its JSON)."""
        return cls(
            min_images=int(values[contract.MIN_IMAGES]),
            label_divergence=float(values[contract.LABEL_DIVERGENCE]),
            confidence_drop=float(values[contract.CONFIDENCE_DROP]),
            abstention_increase=float(values[contract.ABSTENTION_INCREASE]),
            size_divergence=float(values[contract.SIZE_DIVERGENCE]),
            label_shift=float(values[contract.LABEL_SHIFT]),
        )

    def of(self, figure: str) -> float:
        value: float = getattr(self, figure)
        return value


@dataclass(frozen=True)
class LabelMove:
    """One label's share in the baseline and in the window (shares of the labelled images)."""

    dimension: str
    name: str
    baseline_share: float
    live_share: float

    @property
    def change(self) -> float:
        return self.live_share - self.baseline_share


@dataclass(frozen=True)
class DriftFigures:
    """Every figure (``None``: not computed, and why in ``quiet``), the labels that moved."""

    values: dict[str, float | None]
    quiet: dict[str, str]
    labels: list[LabelMove]
    moved: list[LabelMove]
    breaches: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.breaches)


def shares(counts: Mapping[str, float], axis: Iterable[str]) -> list[float]:
    """Each axis entry's share of the total (all zeros when the total is 0)."""
    total = float(sum(counts.values()))
    return [counts.get(key, 0) / total if total else 0.0 for key in axis]


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence, base 2, of two count distributions over the union of keys.

    scipy's ``jensenshannon(p, q, base=2)`` is the *distance*, this value's square root.
    """
    axis = sorted(set(p) | set(q))
    first, second = shares(p, axis), shares(q, axis)
    if not any(first) or not any(second):
        raise ValueError("a divergence needs two non-empty distributions")
    divergence = 0.0
    for a, b in zip(first, second, strict=True):
        middle = (a + b) / 2
        if a:
            divergence += 0.5 * a * math.log2(a / middle)
        if b:
            divergence += 0.5 * b * math.log2(b / middle)
    return min(max(divergence, 0.0), 1.0)


def label_name(dimension: str, known: Mapping[str, str]) -> str:
    """A dimension value's label name: the baseline's, else decoded, else the value itself."""
    if dimension in known:
        return known[dimension]
    if dimension == contract.OTHER_LABEL:
        return "(other labels)"
    try:
        return label_from_dimension(dimension)
    except LabelNotReversible:
        return dimension


def compare(baseline: Mapping[str, Any], live: LiveWindow, thresholds: Thresholds) -> DriftFigures:
    """The figures of ``live`` against ``baseline`` (a ``drift.baseline`` document)."""
    test = baseline.get("test") or {}
    truth: dict[str, int] = {}
    known: dict[str, str] = {}
    for label, count in (test.get("label_counts") or {}).items():
        dimension = label_dimension(label)
        known[dimension] = label
        truth[dimension] = truth.get(dimension, 0) + int(count)
    values: dict[str, float | None] = dict.fromkeys(contract.FIGURES)
    quiet: dict[str, str] = {}
    minimum = thresholds.min_images

    def needs(figure: str, have: int, what: str, baseline_side: object) -> bool:
        if baseline_side is None:
            quiet[figure] = "the baseline has no figure to compare with"
            return False
        if have < minimum:
            quiet[figure] = f"{have} {what} in the window, fewer than the minimum of {minimum}"
            return False
        return True

    if needs(contract.LABEL_DIVERGENCE, live.labelled, "labelled images", truth or None):
        values[contract.LABEL_DIVERGENCE] = js_divergence(live.labels, truth)
    mean_top = (test.get("confidence") or {}).get("mean_top")
    if needs(contract.CONFIDENCE_DROP, live.labelled, "labelled images", mean_top):
        values[contract.CONFIDENCE_DROP] = (
            float(mean_top or 0) - live.confidence_sum / live.labelled
        )
    rate = test.get("abstention_rate")
    if needs(contract.ABSTENTION_INCREASE, live.images, "images", rate):
        values[contract.ABSTENTION_INCREASE] = live.abstentions / live.images - float(rate or 0)
    sizes: Mapping[str, float] = (baseline.get("image_bytes") or {}).get("histogram") or {}
    if needs(contract.SIZE_DIVERGENCE, sum(live.sizes.values()), "sized images", sizes or None):
        values[contract.SIZE_DIVERGENCE] = js_divergence(live.sizes, sizes)

    moves: list[LabelMove] = []
    if values[contract.LABEL_DIVERGENCE] is not None:
        axis = sorted(set(truth) | set(live.labels))
        for dimension, before, now in zip(
            axis, shares(truth, axis), shares(live.labels, axis), strict=True
        ):
            moves.append(LabelMove(dimension, label_name(dimension, known), before, now))
        moves.sort(key=lambda move: (-abs(move.change), move.name))
    moved = [move for move in moves if abs(move.change) >= thresholds.label_shift]
    breaches = [
        figure
        for figure, value in values.items()
        if value is not None and value >= thresholds.of(figure)
    ]
    return DriftFigures(values=values, quiet=quiet, labels=moves, moved=moved, breaches=breaches)

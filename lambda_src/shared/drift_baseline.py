"""A trained version's drift baseline: what its training and test sets looked like.

Written next to the version's evaluation report as ``baseline.json``
(``contracts.drift.BASELINE_FILE``) and read by the drift evaluator::

    {"schema": "imgclf.drift.baseline/1", "pipeline": "rekognition", "model": "<version>",
     "created_at": "...", "notes": [...],
     "test": {"images": 400, "label_counts": {"cat": 210, ...}, "abstention_rate": 0.05,
              "confidence": {"mean_top": 0.91, "histogram": {"0.9-1.0": 300, ...},
                             "per_label": {"cat": {"images": 200, "mean_top": 0.93,
                                                   "histogram": {...}}}}},
     "training": {"images": 1600, "label_counts": {...}},
     "image_bytes": {"images": 2000, "histogram": {"64KiB-128KiB": 812, ...}},
     "formats": {"jpeg": 1900, "png": 100}}

A side that cannot be known is ``null`` (a SageMaker job's test confidences, for instance) and
the evaluator leaves its figure out. Label names are the real names (the evaluator maps them
to dimension values); histograms use the live signals' buckets (``contracts.drift``).

Also here: the two readings of Ground Truth manifest lines the baseline needs and the
evaluation report does not keep: each image's top counted prediction confidence (evaluation
snapshot) and each image's ground-truth labels (training snapshot), in the documented form
(``-metadata`` with ``class-name`` and ``confidence``, or ``class-map`` for multi-label).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from contracts import drift as contract

_EVALUATION_PREFIX = "rekognition-custom-labels-evaluation"
_EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
_DETAILS = "rekognition-custom-labels-evaluation-details"
_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


def _is_prediction(attribute: str, metadata: Mapping[str, Any]) -> bool:
    return (
        attribute.startswith(_EVALUATION_PREFIX)
        or metadata.get("job-name") == _EVALUATION_JOB
        or _DETAILS in metadata
    )


def _counted(metadata: Mapping[str, Any]) -> bool:
    """Above its label's threshold (flagged a true or false positive), or not flagged at all."""
    details = metadata.get(_DETAILS)
    if not isinstance(details, Mapping):
        return True
    flags = ("is-true-positive", "is-false-positive", "is-true-negative", "is-false-negative")
    if not any(flag in details for flag in flags):
        return True
    return details.get("is-true-positive") is True or details.get("is-false-positive") is True


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class ManifestTally:
    """Per-image facts of manifest lines: top counted confidence, ground truth, source-ref."""

    def __init__(self) -> None:
        self.images = 0
        #: (top label, its confidence) of each image with a counted prediction.
        self.top: list[tuple[str, float]] = []
        self.truth: Counter[str] = Counter()
        self.sources: list[str] = []

    def add_lines(self, lines: Iterable[bytes]) -> None:
        for raw in lines:
            if not raw.strip():
                continue
            try:
                document = json.loads(raw)
            except ValueError:
                continue  # the evaluation reader reports unreadable lines; this only counts
            if isinstance(document, dict):
                self.add(document)

    def add(self, document: Mapping[str, Any]) -> None:
        self.images += 1
        source = document.get("source-ref")
        if isinstance(source, str):
            self.sources.append(source)
        best: tuple[str, float] | None = None
        for key, metadata in document.items():
            if not key.endswith("-metadata") or not isinstance(metadata, Mapping):
                continue
            attribute = key[: -len("-metadata")]
            name, confidence = metadata.get("class-name"), _number(metadata.get("confidence"))
            if _is_prediction(attribute, metadata):
                if isinstance(name, str) and confidence is not None and _counted(metadata):
                    candidate = (name, confidence)
                    if best is None or (-confidence, name) < (-best[1], best[0]):
                        best = candidate
                continue
            if isinstance(name, str):
                self.truth[name] += 1
            class_map = metadata.get("class-map")
            if isinstance(class_map, Mapping):
                ids = document.get(attribute)
                for class_id in ids if isinstance(ids, list) else []:
                    label = class_map.get(str(class_id))
                    if isinstance(label, str):
                        self.truth[label] += 1
        if best is not None:
            self.top.append(best)

    def formats(self) -> Counter[str]:
        """Image formats by file extension of the source-refs (``other`` when unknown)."""
        found: Counter[str] = Counter()
        for source in self.sources:
            dot = source.rfind(".")
            found[_FORMATS.get(source[dot:].lower(), "other") if dot >= 0 else "other"] += 1
        return found


def histogram(confidences: Iterable[float]) -> dict[str, int]:
    counts = Counter(contract.confidence_bucket(value) for value in confidences)
    return {bucket: counts[bucket] for bucket in contract.CONFIDENCE_BUCKETS if counts[bucket]}


def confidence_section(top: list[tuple[str, float]]) -> dict[str, Any] | None:
    """Mean top confidence and histograms, overall and per predicted label (None: no images)."""
    if not top:
        return None
    per_label: dict[str, list[float]] = {}
    for label, confidence in top:
        per_label.setdefault(label, []).append(confidence)
    return {
        "images": len(top),
        "mean_top": sum(value for _, value in top) / len(top),
        "histogram": histogram(value for _, value in top),
        "per_label": {
            label: {
                "images": len(values),
                "mean_top": sum(values) / len(values),
                "histogram": histogram(values),
            }
            for label, values in sorted(per_label.items())
        },
    }


def size_section(sizes: Iterable[int]) -> dict[str, Any] | None:
    counts = Counter(contract.size_bucket(size) for size in sizes)
    if not counts:
        return None
    return {
        "images": sum(counts.values()),
        "histogram": {bucket: counts[bucket] for bucket in contract.SIZE_BUCKETS if counts[bucket]},
    }


def build_baseline(
    *,
    pipeline: str,
    model: str,
    test: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    sizes: Iterable[int] = (),
    formats: Mapping[str, int] | None = None,
    notes: Iterable[str] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The baseline document (see the module docstring)."""
    return {
        "schema": contract.BASELINE_SCHEMA,
        "pipeline": pipeline,
        "model": model,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "test": dict(test) if test is not None else None,
        "training": dict(training) if training is not None else None,
        "image_bytes": size_section(sizes),
        "formats": dict(sorted(formats.items())) if formats else None,
        "notes": list(notes),
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True).encode()

"""What the inference paths publish for drift and the drift evaluator reads, besides the names.

The live signals (``shared.drift_signals``, called by both inference paths), the baselines (the
Rekognition evaluation, the SageMaker evaluator, the promotion's copy), the drift evaluator
(``drift``), the stacks (alarms, dashboard widgets, grants) and ``python -m ops drift`` agree
on what is here: the pipelines (the ``Pipeline`` dimension's values), the label cap, the
histogram buckets (the ``Bucket`` dimension's values), the figures, and the baseline and report
files. The metric names, the dimension names and the evaluator's service name are in
``contracts.metrics`` (namespace ``ImageClassification/<env>``, statistic ``Sum``):

- live, dimensions ``Pipeline`` (:data:`PIPELINES`) and ``Model`` (the Rekognition version
  name, or the SageMaker endpoint name), plus the one named: ``DRIFT_IMAGES``;
  ``DRIFT_PREDICTIONS`` per ``Label`` (ASCII-safe, ``contracts.metric_dimensions``; past
  :data:`MAX_TRACKED_LABELS` distinct labels in one process, :data:`OTHER_LABEL`);
  ``DRIFT_ABSTENTIONS`` (Rekognition: no label above ``min_confidence``; SageMaker: top
  probability below the workflow's threshold); ``DRIFT_TOP_CONFIDENCE_SUM`` (the mean is this
  over the sum of ``DRIFT_PREDICTIONS``); ``DRIFT_TOP_CONFIDENCE`` per ``Bucket``
  (:data:`CONFIDENCE_BUCKETS`) and ``DRIFT_IMAGE_BYTES`` per ``Bucket`` (:data:`SIZE_BUCKETS`);
- the evaluator's, dimensions ``Pipeline`` and ``service`` (``DRIFT_EVALUATOR_SERVICE``): one
  per figure (:data:`FIGURES`) and ``DRIFT_WINDOW_IMAGES``.

Every metric also carries the ``service`` dimension Powertools adds (the publishing function's
service name).
"""

from __future__ import annotations

import itertools
from typing import Final

from contracts import metrics

# The Pipeline dimension's values are the pipelines' names.
from contracts.naming import PIPELINES as PIPELINES
from contracts.naming import REKOGNITION as REKOGNITION
from contracts.naming import SAGEMAKER as SAGEMAKER

#: How the README, reports and notifications name each pipeline.
PIPELINE_TITLES: Final = {REKOGNITION: "Rekognition inference", SAGEMAKER: "SageMaker inference"}

#: Distinct label dimension values one process publishes per model; later labels are
#: :data:`OTHER_LABEL`. Custom Labels and SageMaker models have a fixed label set, so across
#: processes the count stays within the model's labels (and this cap's multiple at worst).
MAX_TRACKED_LABELS: Final = 50
#: Never a ``label_dimension`` value: those starting ``utf8~`` continue with 16 hex digits.
OTHER_LABEL: Final = "utf8~other"

#: Upper edges of the top-confidence buckets (the last one closed: 1.0 falls in it).
CONFIDENCE_EDGES: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CONFIDENCE_BUCKETS: Final = tuple(
    f"{low:.1f}-{high:.1f}" for low, high in itertools.pairwise((0.0, *CONFIDENCE_EDGES))
)
_KIB = 1024
#: Upper edges (exclusive) of the byte-size buckets: doubling from 16 KiB to 8 MiB.
SIZE_EDGES: Final = tuple(16 * _KIB * 2**step for step in range(10))


def _size_name(size: int) -> str:
    return f"{size // (_KIB * _KIB)}MiB" if size >= _KIB * _KIB else f"{size // _KIB}KiB"


SIZE_BUCKETS: Final = (
    f"<{_size_name(SIZE_EDGES[0])}",
    *(f"{_size_name(low)}-{_size_name(high)}" for low, high in itertools.pairwise(SIZE_EDGES)),
    f">={_size_name(SIZE_EDGES[-1])}",
)


def confidence_bucket(confidence: float) -> str:
    """The :data:`CONFIDENCE_BUCKETS` name of a top confidence in 0..1."""
    for name, edge in zip(CONFIDENCE_BUCKETS, CONFIDENCE_EDGES, strict=True):
        if confidence < edge:
            return name
    return CONFIDENCE_BUCKETS[-1]


def size_bucket(size: int) -> str:
    """The :data:`SIZE_BUCKETS` name of a byte size."""
    for name, edge in zip(SIZE_BUCKETS, SIZE_EDGES, strict=False):
        if size < edge:
            return name
    return SIZE_BUCKETS[-1]


#: The evaluator's figures, by key in the drift report: metric name, and what it measures.
LABEL_DIVERGENCE: Final = "label_divergence"
CONFIDENCE_DROP: Final = "confidence_drop"
ABSTENTION_INCREASE: Final = "abstention_increase"
SIZE_DIVERGENCE: Final = "size_divergence"
FIGURES: Final = {
    LABEL_DIVERGENCE: metrics.DRIFT_LABEL_DIVERGENCE,
    CONFIDENCE_DROP: metrics.DRIFT_CONFIDENCE_DROP,
    ABSTENTION_INCREASE: metrics.DRIFT_ABSTENTION_INCREASE,
    SIZE_DIVERGENCE: metrics.DRIFT_IMAGE_SIZE_DIVERGENCE,
}
#: The evaluator's thresholds (``DRIFT_THRESHOLDS``, JSON) besides one per figure key: the
#: images a window needs before its figures count, and the share change that makes a label move.
MIN_IMAGES: Final = "min_images"
LABEL_SHIFT: Final = "label_shift"
FIGURE_TITLES: Final = {
    LABEL_DIVERGENCE: "Predicted label shares vs test set (JS divergence, base 2)",
    CONFIDENCE_DROP: "Mean top confidence: test set minus live",
    ABSTENTION_INCREASE: "Abstention rate: live minus test set",
    SIZE_DIVERGENCE: "Image byte sizes vs training set (JS divergence, base 2)",
}

#: The baseline of a trained version, next to its evaluation report
#: (``contracts.s3_layout.version_report_prefix``, ``sagemaker_report_prefix``).
BASELINE_FILE: Final = "baseline.json"
BASELINE_SCHEMA: Final = "imgclf.drift.baseline/1"
REPORT_SCHEMA: Final = "imgclf.drift.report/1"
#: Drift reports: ``drift/<pipeline>/<model>/<window end>/drift.{json,html}``
#: (``contracts.s3_layout.DRIFT_PREFIX``), and the latest one of each pipeline at
#: ``drift/<pipeline>/latest.json``.
DRIFT_JSON: Final = "drift.json"
DRIFT_HTML: Final = "drift.html"
LATEST_FILE: Final = "latest.json"

"""Classification metrics of Rekognition Custom Labels evaluations, in scikit-learn's conventions.

The Lambda that gates a model has no numpy or scikit-learn, so every figure the operator
notebook used to get from ``sklearn.metrics`` is computed here from plain counts. The results
agree with scikit-learn called with ``labels=`` the report's label list and ``zero_division=0``;
``tests/unit/test_evaluation_metrics.py`` checks every figure against it.

The input is :class:`EvaluationData`: the number of images for each distinct pair
(ground-truth labels, predicted labels). Every metric is a function of those pair counts, so a
100k-image test set collapses into a few hundred dictionary entries and computing the report
costs microseconds, whatever the number of images.

Conventions where scikit-learn leaves a choice open or has none:

* **No-label class.** An image without a predicted label (nothing above its label's threshold)
  is predicted as :data:`NO_LABEL`, and an image without a ground-truth label is labelled
  :data:`NO_LABEL`, so no image is dropped. The class takes part in every metric, as it would
  in scikit-learn given the same ``y_true``/``y_pred``, and is the last entry of ``labels``
  when (and only when) it occurs.
* **Multi-label.** Images are rows of indicator matrices whose columns are ``labels``; the
  :data:`NO_LABEL` column is 1 exactly when the image's set is otherwise empty. ``accuracy`` is
  the subset accuracy and ``hamming_loss`` the fraction of wrong cells (scikit-learn on the
  indicator matrices); the averages also have a ``samples`` entry.
  ``matthews_corrcoef`` is scikit-learn's binary MCC of the flattened indicator matrices
  (every image-label decision counted once; scikit-learn has no multi-label MCC) and
  ``balanced_accuracy`` is the mean over labels of the binary balanced accuracy of each column
  (scikit-learn's ``balanced_accuracy_score`` per column).
* **Confusion matrix.** ``confusion_matrix[i][j]`` counts images whose ground truth contains
  ``labels[i]`` and whose prediction contains ``labels[j]``, i.e. ``Y_true.T @ Y_pred``. For
  single-label data that is exactly scikit-learn's ``confusion_matrix`` (rows ground truth,
  columns predicted); for multi-label data it is the label co-occurrence matrix, whose diagonal
  is the true positives. ``multilabel_confusion_matrix`` holds scikit-learn's per-label
  ``[[tn, fp], [fn, tp]]`` matrices for both tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple, NotRequired, TypedDict

#: The class an image is predicted as when no label is predicted for it (and the ground truth
#: of an image without a label). Parentheses keep it apart from real Custom Labels names.
NO_LABEL = "(no label)"

Task = Literal["single_label", "multi_label"]

_LANE = 64  # bits per label in compute_metrics' packed count vectors (counts stay below 2**64)

#: (ground-truth labels, predicted labels best first) of one image or of several alike.
Observation = tuple[tuple[str, ...], tuple[str, ...]]


class Averages(TypedDict):
    """One metric averaged the scikit-learn ways; ``samples`` exists for multi-label data only."""

    micro: float
    macro: float
    weighted: float
    samples: NotRequired[float]


class LabelScores(TypedDict):
    """scikit-learn's ``classification_report`` row for one label."""

    precision: float
    recall: float
    f1: float
    support: int


class MetricsReport(TypedDict):
    """The content of ``metrics.json``; every value is JSON-ready."""

    task: Task
    n_images: int
    labels: list[str]
    no_label: str
    confusion_matrix: list[list[int]]
    multilabel_confusion_matrix: list[list[list[int]]]
    accuracy: float
    balanced_accuracy: float
    hamming_loss: float
    matthews_corrcoef: float
    precision: Averages
    recall: Averages
    f1: Averages
    jaccard: Averages
    per_label: dict[str, LabelScores]
    service_f1: float | None


class EvaluationData(NamedTuple):
    """Everything the metrics need: the label axis and the image count of each distinct pair.

    ``pairs`` maps (ground-truth mask, predicted mask) to the number of images with exactly
    those label sets, bit ``i`` of a mask standing for ``labels[i]``. No mask is 0 (an empty set
    is the bit of NO_LABEL) and single-label masks have one bit. Build it with
    :meth:`from_observations` rather than by hand.
    """

    task: Task
    labels: tuple[str, ...]
    pairs: Mapping[tuple[int, int], int]
    n_images: int
    service_f1: float | None = None

    @classmethod
    def from_observations(
        cls,
        observations: Mapping[Observation, int],
        *,
        multi_label: bool,
        known_labels: Iterable[str] = (),
        service_f1: float | None = None,
    ) -> EvaluationData:
        """Collapse raw per-image observations into the task's pairs and fix the label order.

        ``observations`` maps (ground-truth labels, predicted labels best first) to an image
        count. Single-label data keeps the first predicted label, so the caller lists
        predictions by decreasing confidence. ``labels`` is ``known_labels`` (the summary
        file's, in its order), then every other label seen, sorted, then :data:`NO_LABEL` if it
        occurs: a stable axis whatever the order of the manifest lines.
        """
        collapsed: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        for (truth, predicted), count in observations.items():
            if NO_LABEL in truth or NO_LABEL in predicted:
                raise ValueError(f"{NO_LABEL!r} is reserved for images without a label")
            if multi_label:
                key = (_label_set(truth), _label_set(predicted))
            elif len(truth) > 1:
                raise ValueError(f"single-label image with several ground-truth labels: {truth}")
            else:
                key = (truth[:1] or (NO_LABEL,), predicted[:1] or (NO_LABEL,))
            collapsed[key] = collapsed.get(key, 0) + count
        if not collapsed:
            raise ValueError("no images to evaluate")

        known = list(dict.fromkeys(known_labels))
        if NO_LABEL in known:
            raise ValueError(f"{NO_LABEL!r} is reserved for images without a label")
        seen = {label for key in collapsed for side in key for label in side}
        labels = known + sorted(seen - set(known) - {NO_LABEL})
        if NO_LABEL in seen:
            labels.append(NO_LABEL)
        bit = {label: 1 << i for i, label in enumerate(labels)}
        pairs = {
            (sum(bit[x] for x in truth), sum(bit[x] for x in pred)): n
            for (truth, pred), n in collapsed.items()
        }
        return cls(
            task="multi_label" if multi_label else "single_label",
            labels=tuple(labels),
            pairs=pairs,
            n_images=sum(pairs.values()),
            service_f1=service_f1,
        )


def _label_set(labels: tuple[str, ...]) -> tuple[str, ...]:
    """A multi-label image's labels as a sorted set; an empty set is the no-label class."""
    return tuple(sorted(set(labels))) or (NO_LABEL,)


def _ratio(numerator: float, denominator: float) -> float:
    """scikit-learn's ``zero_division=0``: an undefined ratio counts as 0."""
    return numerator / denominator if denominator else 0.0


def _averages(
    per_label: Sequence[float], support: Sequence[int], micro: float, samples: float | None
) -> Averages:
    """scikit-learn's averages: macro is the plain mean, weighted is weighted by support."""
    total = sum(support)
    averages = Averages(
        micro=micro,
        macro=sum(per_label) / len(per_label),
        weighted=_ratio(sum(v * w for v, w in zip(per_label, support, strict=True)), total),
    )
    if samples is not None:
        averages["samples"] = samples
    return averages


def _mcc(true_sums: Sequence[int], pred_sums: Sequence[int], correct: int, total: int) -> float:
    """scikit-learn's multiclass Matthews correlation from the confusion matrix's margins."""
    cov_true_pred = correct * total - sum(t * p for t, p in zip(true_sums, pred_sums, strict=True))
    cov_pred = total * total - sum(p * p for p in pred_sums)
    cov_true = total * total - sum(t * t for t in true_sums)
    if cov_pred * cov_true == 0:
        return 0.0
    return cov_true_pred / math.sqrt(float(cov_pred) * float(cov_true))


def _binary_balanced_accuracy(cm: Sequence[Sequence[int]], n: int) -> float:
    """scikit-learn's ``balanced_accuracy_score`` of one indicator column.

    It averages the recall of the classes present in ``y_true``: sensitivity when the label
    occurs, specificity when some image lacks it, both when both happen.
    """
    (tn, fp), (fn, tp) = cm
    positives = fn + tp
    rates = []
    if positives:
        rates.append(tp / positives)
    if positives < n:
        rates.append(tn / (tn + fp))
    return sum(rates) / len(rates)


def compute_metrics(data: EvaluationData) -> MetricsReport:
    """Every figure of ``metrics.json`` from the pair counts (see the module docstring).

    One pass over the pairs gathers two sufficient statistics, so the work per pair is a few
    integer operations (multi-label data can have as many pairs as images):

    * for each ground-truth mask, the sum of its images' predicted indicator vectors, packed
      into one integer (a 64-bit lane per label, plus a lane counting the images) so that adding
      a pair is one big-integer addition; unpacked, these give the confusion matrix, the support
      and the predicted count of every label, and its true positives (the diagonal);
    * the number of images of each shape (|truth ∩ predicted|, |truth|, |predicted|), which
      gives the subset accuracy, the Hamming loss and the ``samples`` averages.
    """
    k = len(data.labels)
    n = data.n_images
    multi = data.task == "multi_label"
    images_lane = 1 << (_LANE * k)
    packed: dict[int, int] = {}  # predicted mask -> its indicator vector plus one image
    by_truth: dict[int, int] = {}  # ground-truth mask -> packed sum over its images
    shapes: dict[tuple[int, int, int], int] = {}
    for (truth, pred), count in data.pairs.items():
        vector = packed.get(pred)
        if vector is None:
            vector = images_lane + sum(1 << (_LANE * j) for j in range(k) if pred >> j & 1)
            packed[pred] = vector
        by_truth[truth] = by_truth.get(truth, 0) + count * vector
        shape = ((truth & pred).bit_count(), truth.bit_count(), pred.bit_count())
        shapes[shape] = shapes.get(shape, 0) + count

    matrix = [[0] * k for _ in range(k)]
    support = [0] * k
    predicted = [0] * k
    lane_mask = (1 << _LANE) - 1
    for truth, vector in by_truth.items():
        lanes = [vector >> (_LANE * j) & lane_mask for j in range(k + 1)]
        images = lanes.pop()
        predicted = [a + b for a, b in zip(predicted, lanes, strict=True)]
        for i in range(k):
            if truth >> i & 1:
                support[i] += images
                matrix[i] = [a + b for a, b in zip(matrix[i], lanes, strict=True)]
    tp = [matrix[i][i] for i in range(k)]
    correct = wrong_cells = 0
    sample_sums = [0.0, 0.0, 0.0, 0.0]  # precision, recall, f1, jaccard summed over images
    for (inter, n_true, n_pred), count in shapes.items():
        if inter == n_true == n_pred:
            correct += count
        wrong_cells += count * (n_true + n_pred - 2 * inter)
        sample_sums[0] += count * inter / n_pred
        sample_sums[1] += count * inter / n_true
        sample_sums[2] += count * 2 * inter / (n_true + n_pred)
        sample_sums[3] += count * inter / (n_true + n_pred - inter)

    precision = [_ratio(tp[i], predicted[i]) for i in range(k)]
    recall = [_ratio(tp[i], support[i]) for i in range(k)]
    f1 = [_ratio(2 * tp[i], support[i] + predicted[i]) for i in range(k)]
    jaccard = [_ratio(tp[i], support[i] + predicted[i] - tp[i]) for i in range(k)]
    all_tp, all_true, all_pred = sum(tp), sum(support), sum(predicted)
    samples: list[float | None] = [s / n for s in sample_sums] if multi else [None] * 4
    per_label_cm = [
        [[n - support[i] - predicted[i] + tp[i], predicted[i] - tp[i]], [support[i] - tp[i], tp[i]]]
        for i in range(k)
    ]

    if multi:
        hamming = wrong_cells / (n * k)
        balanced = sum(_binary_balanced_accuracy(cm, n) for cm in per_label_cm) / k
        cells = n * k
        all_tn = cells - all_true - all_pred + all_tp
        mcc = _mcc(
            [cells - all_true, all_true], [cells - all_pred, all_pred], all_tp + all_tn, cells
        )
    else:
        hamming = (n - correct) / n
        recalls_with_support = [r for r, s in zip(recall, support, strict=True) if s]
        balanced = sum(recalls_with_support) / len(recalls_with_support)
        mcc = _mcc(support, predicted, correct, n)

    return MetricsReport(
        task=data.task,
        n_images=n,
        labels=list(data.labels),
        no_label=NO_LABEL,
        confusion_matrix=matrix,
        multilabel_confusion_matrix=per_label_cm,
        accuracy=correct / n,
        balanced_accuracy=balanced,
        hamming_loss=hamming,
        matthews_corrcoef=mcc,
        precision=_averages(precision, support, _ratio(all_tp, all_pred), samples[0]),
        recall=_averages(recall, support, _ratio(all_tp, all_true), samples[1]),
        f1=_averages(f1, support, _ratio(2 * all_tp, all_true + all_pred), samples[2]),
        jaccard=_averages(
            jaccard, support, _ratio(all_tp, all_true + all_pred - all_tp), samples[3]
        ),
        per_label={
            label: LabelScores(
                precision=precision[i], recall=recall[i], f1=f1[i], support=support[i]
            )
            for i, label in enumerate(data.labels)
        },
        service_f1=data.service_f1,
    )

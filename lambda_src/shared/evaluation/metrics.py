"""Classification metrics of Rekognition Custom Labels evaluations, in scikit-learn's conventions.

The Lambda that gates a model has no numpy or scikit-learn, so every figure a data scientist
would get from ``sklearn.metrics`` is computed here from plain counts. The input is
:class:`EvaluationData`: the number of images for each distinct pair (ground-truth labels,
predicted labels). Every metric is a function of those pair counts, so a 100k-image
single-label test set collapses into at most (labels + 1)² dictionary entries and computing the
report costs microseconds, whatever the number of images; multi-label data has as many entries
as distinct pairs of label sets (tens of thousands at 10 labels and 100k images), milliseconds.
``tests/unit/test_evaluation_metrics.py`` checks every figure against scikit-learn, called as a
data scientist calls it.

Conventions (the README's "Evaluation report" section states the same):

* **Labels** are the project's labels: the summary file's ``EvaluationDetails.Labels`` (in its
  order), then any other label seen in the ground truth or predicted (sorted). A model only
  predicts its project's labels, so with the summary file the second part adds only ground-truth
  labels the summary lacks. :data:`NO_LABEL` is never one of them.
* **Abstention.** An image with no predicted label above its threshold is an abstention: a
  miss (false negative) of its true label, and a false positive of no label. An image without a
  ground-truth label counts as a false positive of whatever is predicted for it.
* **Per-label and averaged figures** (precision, recall, F1, Jaccard; micro, macro, weighted,
  and ``samples`` for multi-label data) are over the real labels only: scikit-learn with
  ``labels=<labels>`` and ``zero_division=0``. So is the per-label table (and the gate's
  per-label recall floor, which reads it).
* **Single-label accuracy** counts an abstention as wrong (``accuracy_score`` with
  :data:`NO_LABEL` as the value of an image without a label); ``hamming_loss`` is its
  complement (an image without ground truth and without prediction is right).
  ``balanced_accuracy`` is ``balanced_accuracy_score``: the mean recall over the labels present
  in the ground truth. :data:`NO_LABEL` is not a label, so images without a ground-truth label
  take no part (it equals ``balanced_accuracy_score`` on the labelled images, and
  ``recall_score(labels=<labels present>, average="macro")``). ``matthews_corrcoef`` is
  ``matthews_corrcoef`` on ``y_true`` / ``y_pred``: the full confusion matrix, the abstention
  column (and the no-ground-truth row) included.
* **Multi-label** data is a pair of indicator matrices over the real labels; an image without
  a predicted (or ground-truth) label is an all-zero row. ``accuracy`` is the subset accuracy,
  ``hamming_loss`` the fraction of wrong cells, and the averages are scikit-learn's on those
  matrices. scikit-learn has no multi-label MCC or balanced accuracy: ``matthews_corrcoef`` is
  the binary MCC of the flattened matrices (every image-label decision counted once) and
  ``balanced_accuracy`` the mean over labels of ``balanced_accuracy_score`` of each column.
* **Confusion matrix.** ``confusion_matrix[i][j]`` counts the images whose ground truth contains
  ``confusion_matrix_rows[i]`` and whose prediction contains ``confusion_matrix_columns[j]``.
  Both axes are ``labels``; the columns end with :data:`NO_LABEL` only when abstentions occur
  (``n_abstentions``), and the rows only when images lack a ground-truth label
  (``n_unlabelled``). For single-label data that is scikit-learn's ``confusion_matrix``; for
  multi-label data it is the label co-occurrence matrix ``Y_true.T @ Y_pred`` (its diagonal holds
  the true positives), with an extra indicator column for an empty set. ``multilabel_confusion_
  matrix`` holds scikit-learn's per-label ``[[tn, fp], [fn, tp]]`` matrices for both tasks.
* **Notes** are what the manifest reader had to decide on the way (``notes``, a list of
  sentences); the report shows them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple, NotRequired, TypedDict

#: How the report names the missing side of an abstention or of an image without ground truth.
#: Parentheses keep it apart from real Custom Labels names (which may not use it).
NO_LABEL = "(no label)"

Task = Literal["single_label", "multi_label"]

_LANE = 64  # bits per counter in compute_metrics' packed count vectors (counts stay below 2**64)

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
    n_abstentions: int
    n_unlabelled: int
    labels: list[str]
    no_label: str
    confusion_matrix: list[list[int]]
    confusion_matrix_rows: list[str]
    confusion_matrix_columns: list[str]
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
    notes: list[str]


class EvaluationData(NamedTuple):
    """Everything the metrics need: the label axis and the image count of each distinct pair.

    ``pairs`` maps (ground-truth mask, predicted mask) to the number of images with exactly
    those label sets, bit ``i`` of a mask standing for ``labels[i]``; mask 0 is the empty set
    (an image without ground truth, or an abstention). Single-label masks have at most one bit.
    ``notes`` are the manifest reader's remarks. Build it with :meth:`from_observations` rather
    than by hand.
    """

    task: Task
    labels: tuple[str, ...]
    pairs: Mapping[tuple[int, int], int]
    n_images: int
    service_f1: float | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_observations(
        cls,
        observations: Mapping[Observation, int],
        *,
        multi_label: bool,
        known_labels: Iterable[str] = (),
        service_f1: float | None = None,
        notes: Iterable[str] = (),
    ) -> EvaluationData:
        """Collapse raw per-image observations into the task's pairs and fix the label order.

        ``observations`` maps (ground-truth labels, predicted labels best first) to an image
        count. Single-label data keeps the first predicted label, so the caller lists
        predictions by decreasing confidence. ``labels`` is ``known_labels`` (the summary
        file's, in its order), then every other label seen, sorted: a stable axis whatever the
        order of the manifest lines.
        """
        if not observations:
            raise ValueError("no images to evaluate")
        # Observations may be as many as images (multi-label sets vary): one pass gives each
        # distinct label tuple a mask once, over bits given to the labels as they come; the
        # few distinct masks then move to the final label order.
        first_seen: dict[str, int] = {}  # label -> its provisional bit

        def mask_of(names: tuple[str, ...]) -> int:
            mask = 0
            for name in names:
                bit = first_seen.get(name)
                if bit is None:
                    bit = first_seen[name] = 1 << len(first_seen)
                mask |= bit
            return mask

        truth_masks: dict[tuple[str, ...], int] = {}
        predicted_masks: dict[tuple[str, ...], int] = {}
        provisional: dict[tuple[int, int], int] = {}
        for (truth, predicted), count in observations.items():
            truth_mask = truth_masks.get(truth)
            if truth_mask is None:
                if NO_LABEL in truth:
                    raise ValueError(f"{NO_LABEL!r} is reserved for images without a label")
                if not multi_label and len(truth) > 1:
                    raise ValueError(
                        f"single-label image with several ground-truth labels: {truth}"
                    )
                truth_mask = truth_masks[truth] = mask_of(truth)
            predicted_mask = predicted_masks.get(predicted)
            if predicted_mask is None:
                if NO_LABEL in predicted:
                    raise ValueError(f"{NO_LABEL!r} is reserved for images without a label")
                # Single-label data keeps the best prediction only.
                used = predicted if multi_label else predicted[:1]
                predicted_mask = predicted_masks[predicted] = mask_of(used)
            key = (truth_mask, predicted_mask)
            provisional[key] = provisional.get(key, 0) + count

        known = list(dict.fromkeys(known_labels))
        if NO_LABEL in known:
            raise ValueError(f"{NO_LABEL!r} is reserved for images without a label")
        labels = known + sorted(first_seen.keys() - set(known))
        if not labels:
            raise ValueError("no labels: no image has a ground-truth or predicted label")
        final_bit = {
            provisional_bit: 1 << labels.index(label)
            for label, provisional_bit in first_seen.items()
        }
        final: dict[int, int] = {}
        for mask in {*truth_masks.values(), *predicted_masks.values()}:
            moved, rest = 0, mask
            while rest:
                lowest = rest & -rest
                moved |= final_bit[lowest]
                rest ^= lowest
            final[mask] = moved
        # Moving bits is one-to-one: distinct provisional pairs stay distinct.
        pairs = {(final[t], final[p]): count for (t, p), count in provisional.items()}
        return cls(
            task="multi_label" if multi_label else "single_label",
            labels=tuple(labels),
            pairs=pairs,
            n_images=sum(pairs.values()),
            service_f1=service_f1,
            notes=tuple(notes),
        )


def _ratio(numerator: float, denominator: float) -> float:
    """scikit-learn's ``zero_division=0``: an undefined ratio counts as 0."""
    return numerator / denominator if denominator else 0.0


def _averages(
    per_label: Sequence[float], support: Sequence[int], micro: float, samples: float | None
) -> Averages:
    """scikit-learn's averages: macro is the plain mean, weighted is weighted by support."""
    averages = Averages(
        micro=micro,
        macro=sum(per_label) / len(per_label),
        weighted=_ratio(sum(v * w for v, w in zip(per_label, support, strict=True)), sum(support)),
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


def _bits(mask: int) -> Iterable[int]:
    """The indices of a mask's set bits, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def compute_metrics(data: EvaluationData) -> MetricsReport:
    """Every figure of ``metrics.json`` from the pair counts (see the module docstring).

    One pass over the pairs gathers two sufficient statistics, so the work per pair is a few
    integer operations (multi-label data can have as many pairs as images):

    * for each ground-truth mask, the sum of its images' predicted indicator vectors, packed
      into one integer (a 64-bit lane per label, one counting abstentions and one counting the
      images) so that adding a pair is one big-integer addition; unpacked, these give the
      confusion matrix, the support and the predicted count of every label, and its true
      positives (the diagonal);
    * the number of images of each shape (|truth ∩ predicted|, |truth|, |predicted|), which
      gives the accuracy, the Hamming loss and the ``samples`` averages.
    """
    labels = data.labels
    k = len(labels)
    n = data.n_images
    multi = data.task == "multi_label"
    abstention_lane, images_lane = 1 << (_LANE * k), 1 << (_LANE * (k + 1))
    packed: dict[int, int] = {}  # predicted mask -> its indicator vector plus one image
    by_truth: dict[int, int] = {}  # ground-truth mask -> packed sum over its images
    shapes: dict[tuple[int, int, int], int] = {}
    for (truth, pred), count in data.pairs.items():
        vector = packed.get(pred)
        if vector is None:
            vector = images_lane + (
                sum(1 << (_LANE * j) for j in _bits(pred)) if pred else abstention_lane
            )
            packed[pred] = vector
        by_truth[truth] = by_truth.get(truth, 0) + count * vector
        shape = ((truth & pred).bit_count(), truth.bit_count(), pred.bit_count())
        shapes[shape] = shapes.get(shape, 0) + count

    # rows[i]: images with labels[i] in their ground truth, by predicted label then abstention;
    # unlabelled_row: the same for the images without ground truth.
    rows = [[0] * (k + 1) for _ in range(k)]
    unlabelled_row = [0] * (k + 1)
    support = [0] * k
    n_unlabelled = 0
    lane_mask = (1 << _LANE) - 1
    for truth, vector in by_truth.items():
        lanes = [vector >> (_LANE * j) & lane_mask for j in range(k + 2)]
        images = lanes.pop()
        if not truth:
            n_unlabelled += images
            unlabelled_row = lanes
        for i in _bits(truth):
            support[i] += images
            rows[i] = [a + b for a, b in zip(rows[i], lanes, strict=True)]
    everything = sum(by_truth.values())
    predicted = [everything >> (_LANE * j) & lane_mask for j in range(k)]
    n_abstentions = everything >> (_LANE * k) & lane_mask
    tp = [rows[i][i] for i in range(k)]

    correct = wrong_cells = 0
    sample_sums = [0.0, 0.0, 0.0, 0.0]  # precision, recall, f1, jaccard summed over images
    for (inter, n_true, n_pred), count in shapes.items():
        if inter == n_true == n_pred:
            correct += count
        wrong_cells += count * (n_true + n_pred - 2 * inter)
        if inter:  # zero_division=0: an image with an empty side scores 0 (as does no overlap)
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
        # balanced_accuracy_score: the mean recall of the labels present in the ground truth.
        recalls = [r for r, s in zip(recall, support, strict=True) if s]
        balanced = sum(recalls) / len(recalls) if recalls else 0.0
        mcc = _mcc([*support, n_unlabelled], [*predicted, n_abstentions], correct, n)

    columns = [*labels, NO_LABEL] if n_abstentions else list(labels)
    width = len(columns)
    matrix = [row[:width] for row in rows]
    if n_unlabelled:
        matrix.append(unlabelled_row[:width])
    return MetricsReport(
        task=data.task,
        n_images=n,
        n_abstentions=n_abstentions,
        n_unlabelled=n_unlabelled,
        labels=list(labels),
        no_label=NO_LABEL,
        confusion_matrix=matrix,
        confusion_matrix_rows=[*labels, NO_LABEL] if n_unlabelled else list(labels),
        confusion_matrix_columns=columns,
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
            for i, label in enumerate(labels)
        },
        service_f1=data.service_f1,
        notes=list(data.notes),
    )

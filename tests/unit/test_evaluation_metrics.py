"""Every figure of ``metrics.json`` against scikit-learn, the independent oracle.

Test sets are drawn by ``tests.evaluation_data``; scikit-learn receives the *designed* labels of
each image (never anything our parser or metrics produced), called the way a data scientist
calls it: ``y_true``/``y_pred`` with ``NO_LABEL`` as the value of an image without a label and
``labels=<the real labels>``, ``zero_division=0`` for everything per label or averaged; for
multi-label data, indicator matrices over the real labels from ``MultiLabelBinarizer`` (an image
without a label is an all-zero row).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    hamming_loss,
    jaccard_score,
    matthews_corrcoef,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
)
from sklearn.preprocessing import MultiLabelBinarizer

from shared.evaluation import (
    NO_LABEL,
    EvaluationData,
    MetricsReport,
    compute_metrics,
    evaluate_manifest,
)
from tests.evaluation_data import (
    Designed,
    ManifestSpec,
    generate_images,
    write_manifest,
    write_summary,
)

# scikit-learn's notes on degenerate columns (a label never present...), which are test cases here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true"),
    pytest.mark.filterwarnings("ignore:A single label was found"),
    pytest.mark.filterwarnings("ignore:unknown class"),
]

UNICODE_LABELS = ("chat 🐱", "<b>bold</b>", 'naïve & "quoted"', "日本語", "Ärger")


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def designed(spec: ManifestSpec) -> list[Designed]:
    return [(image.truth, image.predicted) for image in generate_images(spec)]


def metrics_of(
    images: list[Designed], spec: ManifestSpec, known: tuple[str, ...] = ()
) -> MetricsReport:
    data = EvaluationData.from_observations(
        Counter(images), multi_label=spec.multi_label, known_labels=known
    )
    return compute_metrics(data)


def expected_labels(images: list[Designed], known: tuple[str, ...]) -> list[str]:
    """The project's labels: the summary's in order, then every other label seen, sorted."""
    seen = {label for truth, predicted in images for label in (*truth, *predicted)}
    return [*dict.fromkeys(known), *sorted(seen - set(known))]


def expected_axes(labels: list[str], images: list[Designed]) -> tuple[list[str], list[str]]:
    """Confusion-matrix rows and columns: a no-label row/column only where it has images."""
    unlabelled = any(not truth for truth, _ in images)
    abstained = any(not predicted for _, predicted in images)
    return [*labels, *[NO_LABEL] * unlabelled], [*labels, *[NO_LABEL] * abstained]


def assert_single_label_matches_sklearn(
    metrics: MetricsReport, images: list[Designed], known: tuple[str, ...] = ()
) -> None:
    y_true = [truth[0] if truth else NO_LABEL for truth, _ in images]
    y_pred = [predicted[0] if predicted else NO_LABEL for _, predicted in images]
    labels = expected_labels(images, known)
    assert metrics["labels"] == labels
    assert NO_LABEL not in labels
    assert metrics["task"] == "single_label"
    assert metrics["n_images"] == len(images)
    assert metrics["n_abstentions"] == y_pred.count(NO_LABEL)
    assert metrics["n_unlabelled"] == y_true.count(NO_LABEL)

    rows, columns = expected_axes(labels, images)
    assert metrics["confusion_matrix_rows"] == rows
    assert metrics["confusion_matrix_columns"] == columns
    full = confusion_matrix(y_true, y_pred, labels=[*labels, NO_LABEL])
    assert metrics["confusion_matrix"] == full[: len(rows), : len(columns)].tolist()
    assert (
        metrics["multilabel_confusion_matrix"]
        == multilabel_confusion_matrix(y_true, y_pred, labels=labels).tolist()
    )
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    assert list(metrics["per_label"]) == labels
    for label in labels:
        ours = metrics["per_label"][label]
        assert ours["precision"] == approx(report[label]["precision"]), label
        assert ours["recall"] == approx(report[label]["recall"]), label
        assert ours["f1"] == approx(report[label]["f1-score"]), label
        assert ours["support"] == report[label]["support"], label
    for average in ("micro", "macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        assert metrics["precision"][average] == approx(precision), average
        assert metrics["recall"][average] == approx(recall), average
        assert metrics["f1"][average] == approx(f1), average
        jaccard = jaccard_score(y_true, y_pred, labels=labels, average=average, zero_division=0)
        assert metrics["jaccard"][average] == approx(jaccard), average
        assert "samples" not in metrics["precision"]
    assert metrics["accuracy"] == approx(accuracy_score(y_true, y_pred))
    # The mean recall over the labels present in the ground truth: NO_LABEL is not a label.
    labelled = [i for i, truth in enumerate(y_true) if truth != NO_LABEL]
    if labelled:
        balanced = balanced_accuracy_score(
            [y_true[i] for i in labelled], [y_pred[i] for i in labelled]
        )
        assert metrics["balanced_accuracy"] == approx(balanced)
        present = sorted(set(y_true) - {NO_LABEL})
        assert metrics["balanced_accuracy"] == approx(
            recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        )
    assert metrics["hamming_loss"] == approx(hamming_loss(y_true, y_pred))
    assert metrics["matthews_corrcoef"] == approx(matthews_corrcoef(y_true, y_pred))


def indicators(images: list[Designed], labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Y_true, Y_pred) over the real labels, as a data scientist builds them."""
    binarizer = MultiLabelBinarizer(classes=labels)
    y_true = binarizer.fit_transform([truth for truth, _ in images])
    y_pred = binarizer.transform([predicted for _, predicted in images])
    return y_true, y_pred


def assert_multi_label_matches_sklearn(
    metrics: MetricsReport, images: list[Designed], known: tuple[str, ...] = ()
) -> None:
    labels = expected_labels(images, known)
    assert metrics["labels"] == labels
    assert metrics["task"] == "multi_label"
    assert metrics["n_images"] == len(images)
    y_true, y_pred = indicators(images, labels)
    assert y_true.shape == y_pred.shape == (len(images), len(labels))
    assert metrics["n_abstentions"] == int((y_pred.sum(axis=1) == 0).sum())
    assert metrics["n_unlabelled"] == int((y_true.sum(axis=1) == 0).sum())

    # Display only: the co-occurrence matrix, with an indicator column for an empty set.
    rows, columns = expected_axes(labels, images)
    assert metrics["confusion_matrix_rows"] == rows
    assert metrics["confusion_matrix_columns"] == columns
    true_ext = np.hstack([y_true, (y_true.sum(axis=1) == 0)[:, None]])[:, : len(rows)]
    pred_ext = np.hstack([y_pred, (y_pred.sum(axis=1) == 0)[:, None]])[:, : len(columns)]
    assert metrics["confusion_matrix"] == (true_ext.T @ pred_ext).tolist()

    # scikit-learn reads a one-column indicator matrix as a binary vector: an all-zero column
    # keeps it multi-label (it changes no per-label, averaged or per-image figure).
    wide_true, wide_pred = (
        (np.hstack([y, np.zeros_like(y)]) for y in (y_true, y_pred))
        if len(labels) == 1
        else (y_true, y_pred)
    )
    columns = list(range(len(labels)))
    assert (
        metrics["multilabel_confusion_matrix"]
        == multilabel_confusion_matrix(wide_true, wide_pred, labels=columns).tolist()
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        wide_true, wide_pred, labels=columns, zero_division=0
    )
    assert list(metrics["per_label"]) == labels
    for j, label in enumerate(labels):
        ours = metrics["per_label"][label]
        assert ours["precision"] == approx(precision[j]), label
        assert ours["recall"] == approx(recall[j]), label
        assert ours["f1"] == approx(f1[j]), label
        assert ours["support"] == support[j], label
    for average in ("micro", "macro", "weighted", "samples"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            wide_true, wide_pred, labels=columns, average=average, zero_division=0
        )
        assert metrics["precision"][average] == approx(precision), average
        assert metrics["recall"][average] == approx(recall), average
        assert metrics["f1"][average] == approx(f1), average
        jaccard = jaccard_score(
            wide_true, wide_pred, labels=columns, average=average, zero_division=0
        )
        assert metrics["jaccard"][average] == approx(jaccard), average
    assert metrics["accuracy"] == approx(accuracy_score(y_true, y_pred))
    assert metrics["hamming_loss"] == approx(hamming_loss(y_true, y_pred))
    # Documented conventions (scikit-learn has no multi-label form of these two).
    assert metrics["matthews_corrcoef"] == approx(matthews_corrcoef(y_true.ravel(), y_pred.ravel()))
    per_column = [balanced_accuracy_score(y_true[:, j], y_pred[:, j]) for j in range(len(labels))]
    assert metrics["balanced_accuracy"] == approx(float(np.mean(per_column)))


SINGLE_LABEL_CASES = {
    "ten labels": ManifestSpec(seed=1),
    "label never predicted": ManifestSpec(seed=2, never_predicted=frozenset({"label_3"})),
    "label never present": ManifestSpec(seed=3, never_present=frozenset({"label_4"})),
    "one label only": ManifestSpec(seed=4, labels=("only",), no_prediction_rate=0.2),
    "one label, always right": ManifestSpec(
        seed=5, labels=("only",), accuracy=1.0, no_prediction_rate=0.0
    ),
    "unicode label names": ManifestSpec(seed=6, labels=UNICODE_LABELS),
    "images without prediction": ManifestSpec(seed=7, no_prediction_rate=0.4),
    "images without ground truth": ManifestSpec(seed=8, no_truth_rate=0.2),
    "perfect model": ManifestSpec(seed=9, accuracy=1.0, no_prediction_rate=0.0),
    "nothing ever predicted": ManifestSpec(seed=10, n_images=50, no_prediction_rate=1.0),
    "two labels": ManifestSpec(seed=11, labels=("cat", "dog"), accuracy=0.6),
}

MULTI_LABEL_CASES = {
    "ten labels": ManifestSpec(seed=21, multi_label=True),
    "label never predicted or present": ManifestSpec(
        seed=22,
        multi_label=True,
        never_predicted=frozenset({"label_1"}),
        never_present=frozenset({"label_2"}),
    ),
    "empty truths and predictions": ManifestSpec(
        seed=23, multi_label=True, no_truth_rate=0.2, no_prediction_rate=0.2
    ),
    "unicode label names": ManifestSpec(seed=24, multi_label=True, labels=UNICODE_LABELS),
    "one label only": ManifestSpec(seed=25, multi_label=True, labels=("only",), label_rate=0.6),
    "dense labels": ManifestSpec(seed=26, multi_label=True, label_rate=0.8, accuracy=0.9),
    "a label in every image": ManifestSpec(
        seed=28, multi_label=True, labels=("a", "b"), label_rate=1.0, accuracy=0.7
    ),
    "every image labelled and predicted": ManifestSpec(
        seed=27, multi_label=True, labels=("a", "b", "c"), label_rate=0.9, no_prediction_rate=0
    ),
}


@pytest.mark.parametrize("spec", SINGLE_LABEL_CASES.values(), ids=SINGLE_LABEL_CASES.keys())
def test_single_label_figures_match_sklearn(spec: ManifestSpec) -> None:
    images = designed(spec)
    assert_single_label_matches_sklearn(metrics_of(images, spec), images)


@pytest.mark.parametrize("spec", MULTI_LABEL_CASES.values(), ids=MULTI_LABEL_CASES.keys())
def test_multi_label_figures_match_sklearn(spec: ManifestSpec) -> None:
    images = designed(spec)
    assert_multi_label_matches_sklearn(metrics_of(images, spec), images)


@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
def test_summary_labels_absent_from_the_test_set_get_zero_rows(multi_label: bool) -> None:
    spec = ManifestSpec(seed=31, multi_label=multi_label, labels=("a", "b", "c"))
    images = designed(spec)
    known = ("ghost", "c", "a", "b")
    metrics = metrics_of(images, spec, known)
    check = (
        assert_multi_label_matches_sklearn if multi_label else assert_single_label_matches_sklearn
    )
    check(metrics, images, known)
    assert metrics["per_label"]["ghost"]["support"] == 0


def test_label_axis_is_summary_order_then_sorted_never_no_label() -> None:
    images: list[Designed] = [(("b",), ("z",)), (("y",), ()), ((), ("a",))]
    data = EvaluationData.from_observations(
        Counter(images), multi_label=False, known_labels=("b", "a")
    )
    assert data.labels == ("b", "a", "y", "z")
    metrics = compute_metrics(data)
    assert metrics["confusion_matrix_rows"] == ["b", "a", "y", "z", NO_LABEL]
    assert metrics["confusion_matrix_columns"] == ["b", "a", "y", "z", NO_LABEL]


def test_single_label_prediction_is_the_first_listed() -> None:
    """Predictions arrive best first; a single-label image keeps only the best."""
    images: list[Designed] = [(("a",), ("b", "a")), (("a",), ("a", "b"))]
    metrics = metrics_of(images, ManifestSpec(labels=("a", "b")))
    assert_single_label_matches_sklearn(metrics, [(t, p[:1]) for t, p in images])


@pytest.mark.parametrize(
    ("observations", "multi_label", "message"),
    [
        ({(("a", "b"), ("a",)): 1}, False, "several ground-truth labels"),
        ({((NO_LABEL,), ("a",)): 1}, False, "reserved"),
        ({(("a",), (NO_LABEL,)): 1}, True, "reserved"),
        ({}, False, "no images"),
        ({((), ()): 3}, True, "no labels"),
    ],
    ids=[
        "two truths in single-label data",
        "no-label truth",
        "no-label prediction",
        "empty",
        "no label anywhere",
    ],
)
def test_from_observations_rejects_inconsistent_input(
    observations: dict[Designed, int], multi_label: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        EvaluationData.from_observations(observations, multi_label=multi_label)


@pytest.mark.parametrize(
    "spec",
    [
        ManifestSpec(seed=41, n_images=600, labels=UNICODE_LABELS, no_truth_rate=0.05),
        ManifestSpec(seed=42, n_images=600, multi_label=True, no_prediction_rate=0.1),
    ],
    ids=["single-label", "multi-label"],
)
def test_manifest_to_metrics_matches_sklearn(tmp_path: Path, spec: ManifestSpec) -> None:
    """End to end: written manifest and summary file in, every figure checked."""
    manifest = tmp_path / "snapshot.manifest"
    summary = tmp_path / "summary.json"
    images = write_manifest(manifest, spec)
    known = (*spec.labels, "retired label")
    write_summary(summary, known, f1=0.8125)
    metrics = evaluate_manifest(manifest, summary)
    check = (
        assert_multi_label_matches_sklearn
        if spec.multi_label
        else assert_single_label_matches_sklearn
    )
    check(metrics, images, known)
    assert metrics["service_f1"] == 0.8125
    assert metrics["labels"][: len(known)] == list(known)

"""Seeded synthetic Rekognition Custom Labels evaluation manifests, for tests and benchmarks.

Every image is *designed* first (its ground-truth labels and the labels the model predicts) and
then rendered as a manifest line in the documented snapshot format, or in one of the alternative
forms the reader accepts (see ``shared.evaluation.manifest``). Tests hand the designed labels to
scikit-learn, so the oracle never goes through the parser under test.

Lines also carry what a real snapshot has around the predictions: below-threshold scores
(flagged true/false negative) and, for single-label data, a lower-confidence runner-up above
its own threshold. Both must not change the prediction. Every line has at least one label
attribute (a line with none is not an evaluation line): an image without ground truth and
without prediction carries a below-threshold score.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TRAINING_JOB = "rekognition-custom-labels-training-job"
EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
DETAILS = "rekognition-custom-labels-evaluation-details"
CREATED = "2019-09-06T00:07:25.488243"
#: A dataset imported from a Ground Truth labelling job keeps the job's attribute and job-name.
IMPORTED_ATTRIBUTE = "animals-labelling"
IMPORTED_JOB = "labeling-job/animals-labelling"

#: (designed ground truth sorted, designed predictions best first) of one image.
Designed = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class ManifestSpec:
    """How to draw a test set. Rates are per image unless stated."""

    labels: tuple[str, ...] = tuple(f"label_{i}" for i in range(10))
    n_images: int = 400
    seed: int = 0
    multi_label: bool = False
    #: Single-label: chance the prediction is the truth. Multi-label: chance a true label is
    #: predicted (a false one is predicted with chance ``(1 - accuracy) * label_rate``).
    accuracy: float = 0.75
    #: Multi-label: chance each label is in an image's ground truth.
    label_rate: float = 0.3
    no_prediction_rate: float = 0.05
    no_truth_rate: float = 0.0
    never_predicted: frozenset[str] = frozenset()
    never_present: frozenset[str] = frozenset()
    #: Chance of extra entries around the predictions (below-threshold, runner-up).
    extra_entry_rate: float = 0.3
    #: Ambiguity 1: evaluation details as a line-level field (single-label, one attribute).
    details_at_top_level: bool = False
    #: Multi-label ground truth as one attribute per label, or one Ground Truth multi-label one.
    truth_form: Literal["attributes", "class_map"] = "attributes"
    #: Multi-label predictions as one attribute per label, or one Ground Truth multi-label one.
    prediction_form: Literal["attributes", "class_map"] = "attributes"
    #: Ambiguity 2: ground-truth-labelling-jobs lists attribute names instead of the job-name.
    jobs_by_attribute: bool = False
    jobs_field: str = "ground-truth-labelling-jobs"
    #: A label attribute from an older labelling job that the details do not list.
    decoy_truth: bool = False
    #: The dataset was imported from a Ground Truth labelling job: the ground-truth attributes
    #: keep that job's attribute name and job-name, which the details' list does not name.
    imported_truth: bool = False

    def __post_init__(self) -> None:
        if self.details_at_top_level and self.multi_label:
            raise ValueError("line-level details describe one prediction attribute only")
        if self.decoy_truth and self.jobs_by_attribute:
            raise ValueError("a decoy needs the job-name listed (an unlabelled image lists none)")
        if self.decoy_truth and (
            self.imported_truth or (self.no_truth_rate and not self.multi_label)
        ):
            raise ValueError(
                "a decoy is ignored only beside a listed ground-truth attribute (a line whose "
                "listed jobs match nothing reads its other attributes)"
            )
        if not self.multi_label and "class_map" in (self.truth_form, self.prediction_form):
            raise ValueError("the class-map forms are multi-label")


@dataclass(frozen=True)
class GeneratedImage:
    truth: tuple[str, ...]
    predicted: tuple[str, ...]
    line: str


def generate_images(spec: ManifestSpec) -> Iterator[GeneratedImage]:
    """The spec's images in order; the same spec always gives the same lines."""
    rng = random.Random(spec.seed)
    present = [label for label in spec.labels if label not in spec.never_present]
    predictable = [label for label in spec.labels if label not in spec.never_predicted]
    weights = [i + 1 for i in range(len(present))]  # unequal supports: weighted != macro
    for n in range(spec.n_images):
        truth = _draw_truth(spec, rng, present, weights)
        predicted = _draw_prediction(spec, rng, truth, predictable)
        line = _render(spec, rng, n, truth, predicted, predictable)
        yield GeneratedImage(truth=truth, predicted=predicted, line=line)


def write_manifest(path: Path, spec: ManifestSpec) -> list[Designed]:
    """Write the manifest (one compact JSON line per image, as AWS writes them)."""
    designed: list[Designed] = []
    with path.open("w", encoding="utf-8") as handle:
        for image in generate_images(spec):
            handle.write(image.line + "\n")
            designed.append((image.truth, image.predicted))
    return designed


def write_designed_manifest(
    path: Path, images: Iterable[Designed], labels: tuple[str, ...], *, multi_label: bool = False
) -> None:
    """Write hand-designed images (ground truth, predictions best first), documented form."""
    spec = ManifestSpec(labels=labels, multi_label=multi_label, extra_entry_rate=0.0)
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as handle:
        for n, (truth, predicted) in enumerate(images):
            handle.write(_render(spec, rng, n, truth, predicted, list(labels)) + "\n")


def write_summary(
    path: Path, labels: tuple[str, ...], f1: float = 0.9, *, nested_metrics: bool = False
) -> None:
    """A training results summary file; ``nested_metrics`` puts F1 under ``Metrics``."""
    aggregated: dict[str, Any] = {"F1Score": f1, "Precision": f1, "Recall": f1}
    document: dict[str, Any] = {
        "Version": 1,
        "AggregatedEvaluationResults": {"Metrics": aggregated} if nested_metrics else aggregated,
        "EvaluationDetails": {
            "EvaluationEndTimestamp": CREATED,
            "Labels": list(labels),
            "NumberOfTestingImages": 0,
            "NumberOfTrainingImages": 0,
            "ProjectVersionArn": "arn:aws:rekognition:eu-west-1:111122223333:project/p/version/v/1",
        },
        "LabelEvaluationResults": [],
    }
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _draw_truth(
    spec: ManifestSpec, rng: random.Random, present: list[str], weights: list[int]
) -> tuple[str, ...]:
    if not present or rng.random() < spec.no_truth_rate:
        return ()
    if spec.multi_label:
        return tuple(sorted(label for label in present if rng.random() < spec.label_rate))
    return (rng.choices(present, weights)[0],)


def _draw_prediction(
    spec: ManifestSpec, rng: random.Random, truth: tuple[str, ...], predictable: list[str]
) -> tuple[str, ...]:
    if not predictable or rng.random() < spec.no_prediction_rate:
        return ()
    if spec.multi_label:
        false_rate = (1 - spec.accuracy) * spec.label_rate
        chosen = [
            label
            for label in predictable
            if rng.random() < (spec.accuracy if label in truth else false_rate)
        ]
        rng.shuffle(chosen)  # best first: the order does not matter for multi-label data
        return tuple(chosen)
    if truth and truth[0] in predictable and rng.random() < spec.accuracy:
        return truth
    return (rng.choice(predictable),)


def _render(
    spec: ManifestSpec,
    rng: random.Random,
    n: int,
    truth: tuple[str, ...],
    predicted: tuple[str, ...],
    predictable: list[str],
) -> str:
    ids = {label: i for i, label in enumerate(spec.labels)}
    line: dict[str, Any] = {"source-ref": f"s3://evaluation-bucket/test/img-{n:07d}.jpg"}

    truth_attributes: list[str] = []
    prefix, truth_job = (
        (IMPORTED_ATTRIBUTE, IMPORTED_JOB)
        if spec.imported_truth
        else ("rekognition-custom-labels-training", TRAINING_JOB)
    )
    # A decoy must not be the only attribute of an empty multi-label truth: an empty one is kept.
    empty_kept = spec.decoy_truth and spec.multi_label and not truth
    if spec.truth_form == "class_map" or empty_kept:
        truth_attributes.append(f"{prefix}-0")
        line.update(_multi_label_attribute(truth_attributes[0], truth, ids, truth_job, "yes"))
    else:
        for i, label in enumerate(truth):
            name = f"{prefix}-{i}"
            truth_attributes.append(name)
            line.update(_single_label_attribute(name, label, ids, 1.0, truth_job, "yes"))
    if spec.decoy_truth:
        line.update(
            _single_label_attribute(
                "legacy-labels", rng.choice(spec.labels), ids, 1.0, "labeling-job/legacy", "yes"
            )
        )
    jobs = truth_attributes if spec.jobs_by_attribute else [TRAINING_JOB]

    # (label, confidence, above its threshold) best first; confidences never tie.
    entries = [(label, 0.99 - 0.4 * i / len(predicted), True) for i, label in enumerate(predicted)]
    single = not spec.multi_label and not spec.details_at_top_level
    if single and predicted and rng.random() < spec.extra_entry_rate / 2:
        runner_up = rng.choice(predictable)
        if runner_up != predicted[0]:
            entries.append((runner_up, rng.uniform(0.5, 0.55), True))
    shown = {label for label, _, _ in entries}
    unshown = [label for label in spec.labels if label not in shown]
    below = rng.random() < spec.extra_entry_rate
    bare = not truth_attributes and not spec.decoy_truth
    if unshown and (
        below or (not entries and (bare or spec.decoy_truth or spec.details_at_top_level))
    ):
        entries.append((rng.choice(unshown), rng.uniform(0.0, 0.45), False))
    if spec.details_at_top_level:
        entries = entries[:1]

    if spec.multi_label and spec.prediction_form == "class_map":
        attribute = "rekognition-custom-labels-evaluation-0"
        line.update(_multi_label_attribute(attribute, predicted, ids, EVALUATION_JOB, "no"))
        line[f"{attribute}-metadata"][DETAILS] = {"version": 1, spec.jobs_field: jobs}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))

    for i, (label, confidence, above) in enumerate(entries):
        attribute = f"rekognition-custom-labels-evaluation-{i}"
        line.update(
            _single_label_attribute(attribute, label, ids, confidence, EVALUATION_JOB, "no")
        )
        details = {
            "version": 1,
            spec.jobs_field: jobs,
            "is-true-positive": above and label in truth,
            "is-true-negative": not above and label not in truth,
            "is-false-positive": above and label not in truth,
            "is-false-negative": not above and label in truth,
            "is-present-in-ground-truth": label in truth,
        }
        if spec.details_at_top_level:
            line[DETAILS] = details
        else:
            line[f"{attribute}-metadata"][DETAILS] = details
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _single_label_attribute(
    name: str, label: str, ids: dict[str, int], confidence: float, job: str, human: str
) -> dict[str, Any]:
    return {
        name: ids[label],
        f"{name}-metadata": {
            "confidence": round(confidence, 6),
            "job-name": job,
            "class-name": label,
            "human-annotated": human,
            "creation-date": CREATED,
            "type": "groundtruth/image-classification",
        },
    }


def _multi_label_attribute(
    name: str, labels: tuple[str, ...], ids: dict[str, int], job: str, human: str
) -> dict[str, Any]:
    class_ids = [ids[label] for label in labels]
    return {
        name: class_ids,
        f"{name}-metadata": {
            "job-name": job,
            "class-map": {str(ids[label]): label for label in labels},
            "human-annotated": human,
            "creation-date": CREATED,
            "confidence-map": {str(i): 0.9 for i in class_ids},
            "type": "groundtruth/image-classification-multilabel",
        },
    }

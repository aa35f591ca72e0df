"""The parser's fast path never reads a line differently from the long way, whatever the line.

``_Reader.read_documented`` is a shortcut for the documented form; it must decline (return
False, changing nothing) every line it would read differently from ``_Reader.read_any``, and
``read_any`` is what every accepted form, ambiguity and error is specified by. The generated
tests elsewhere only produce well-formed lines; here Hypothesis builds lines from the documented
building blocks and their near misses (a prediction job-name on an undetailed attribute, another
task type, a details version 2, a labelling-jobs list naming no attribute, a reserved label name,
values of the wrong type, a line-level details object...) in sequences, because what the fast
path accepts depends on the labelling jobs earlier lines listed and on whether the file has
turned multi-label.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.evaluation import NO_LABEL, ManifestError
from shared.evaluation.manifest import _Reader
from tests.evaluation_data import DETAILS, EVALUATION_JOB, IMPORTED_JOB, TRAINING_JOB

SINGLE = "groundtruth/image-classification"
MULTI = "groundtruth/image-classification-multilabel"
LABELS = ("cat", "dog", "bird")


def truth(index: int, label: str) -> dict[str, Any]:
    return {"type": SINGLE, "class-name": label, "job-name": TRAINING_JOB, "confidence": 1.0}


def prediction(
    label: str, confidence: float, flags: tuple[bool, bool, bool, bool]
) -> dict[str, Any]:
    tp, fp, tn, fn = flags
    return {
        "type": SINGLE,
        "class-name": label,
        "job-name": EVALUATION_JOB,
        "confidence": confidence,
        DETAILS: {
            "version": 1,
            "ground-truth-labelling-jobs": [TRAINING_JOB],
            "is-true-positive": tp,
            "is-false-positive": fp,
            "is-true-negative": tn,
            "is-false-negative": fn,
            "is-present-in-ground-truth": tp or fn,
        },
    }


def _details(metadata: dict[str, Any]) -> dict[str, Any]:
    found = metadata.get(DETAILS)
    return found if type(found) is dict else {}


def _set(field: str, value: Any) -> Callable[[dict[str, Any], str], None]:
    def mutate(line: dict[str, Any], attribute: str) -> None:
        line[f"{attribute}-metadata"][field] = value

    return mutate


def _drop(field: str) -> Callable[[dict[str, Any], str], None]:
    def mutate(line: dict[str, Any], attribute: str) -> None:
        line[f"{attribute}-metadata"].pop(field, None)

    return mutate


def _set_detail(field: str, value: Any) -> Callable[[dict[str, Any], str], None]:
    def mutate(line: dict[str, Any], attribute: str) -> None:
        _details(line[f"{attribute}-metadata"])[field] = value

    return mutate


def _drop_detail(field: str) -> Callable[[dict[str, Any], str], None]:
    def mutate(line: dict[str, Any], attribute: str) -> None:
        _details(line[f"{attribute}-metadata"]).pop(field, None)

    return mutate


def _drop_flags(line: dict[str, Any], attribute: str) -> None:
    details = _details(line[f"{attribute}-metadata"])
    for flag in ("is-true-positive", "is-false-positive", "is-true-negative", "is-false-negative"):
        details.pop(flag, None)


def _other_spelling(line: dict[str, Any], attribute: str) -> None:
    details = _details(line[f"{attribute}-metadata"])
    if "ground-truth-labelling-jobs" in details:
        details["ground-truth-labeling-jobs"] = details.pop("ground-truth-labelling-jobs")


def _rename(new: str) -> Callable[[dict[str, Any], str], None]:
    def mutate(line: dict[str, Any], attribute: str) -> None:
        line[f"{new}{attribute}"] = line.pop(attribute, 0)
        line[f"{new}{attribute}-metadata"] = line.pop(f"{attribute}-metadata")

    return mutate


def _no_value(line: dict[str, Any], attribute: str) -> None:
    line.pop(attribute, None)


def _extra_object(line: dict[str, Any], attribute: str) -> None:
    line[f"{attribute}-note"] = {"class-name": "cat", "type": SINGLE}


def _class_map(line: dict[str, Any], attribute: str) -> None:
    metadata = line[f"{attribute}-metadata"]
    names = [metadata.pop("class-name", "cat"), "dog"]
    metadata.update(
        {
            "type": MULTI,
            "class-map": {"0": names[0], "1": names[1]},
            "confidence-map": {"0": 0.9, "1": 0.8},
        }
    )
    line[attribute] = [0, 1]


def _not_an_object(line: dict[str, Any], attribute: str) -> None:
    line[f"{attribute}-metadata"] = "classification"


def _no_source_ref(line: dict[str, Any], attribute: str) -> None:
    line.pop("source-ref", None)


def _stray_metadata(line: dict[str, Any], attribute: str) -> None:
    """A metadata that is not an object, and no value for it: the key count still adds up."""
    line[f"{attribute}-metadata"] = "classification"
    line.pop(attribute, None)


def _named_like_metadata(line: dict[str, Any], attribute: str) -> None:
    """An attribute whose own name ends in -metadata (its value is then a bad metadata)."""
    line[f"{attribute}-metadata-metadata"] = line.pop(f"{attribute}-metadata")
    line[f"{attribute}-metadata"] = line.pop(attribute, 0)


def _line_level_details(line: dict[str, Any], attribute: str) -> None:
    details = line[f"{attribute}-metadata"].pop(DETAILS, None)
    if details is not None:
        line[DETAILS] = details


Mutation = Callable[[dict[str, Any], str], None]
#: Near misses of the documented form, each a reading the long way specifies.
MUTATIONS: dict[str, Mutation] = {
    "type absent": _drop("type"),
    "multi-label type": _set("type", MULTI),
    "object detection": _set("type", "groundtruth/object-detection"),
    "class-name absent": _drop("class-name"),
    "class-name a number": _set("class-name", 7),
    "reserved label name": _set("class-name", NO_LABEL),
    "evaluation job-name": _set("job-name", EVALUATION_JOB),
    "training job-name": _set("job-name", TRAINING_JOB),
    "imported job-name": _set("job-name", IMPORTED_JOB),
    "job-name a number": _set("job-name", 5),
    "job-name absent": _drop("job-name"),
    "confidence a word": _set("confidence", "high"),
    "confidence absent": _drop("confidence"),
    "confidence an int": _set("confidence", 1),
    "confidence far below zero": _set("confidence", -2.0),
    "confidence not a number (NaN)": _set("confidence", float("nan")),
    "details absent": _drop(DETAILS),
    "details a list": _set(DETAILS, [1]),
    "details on ground truth": _set(
        DETAILS,
        {"version": 1, "ground-truth-labelling-jobs": [TRAINING_JOB], "is-true-positive": True},
    ),
    "details version 2": _set_detail("version", 2),
    "details version null": _set_detail("version", None),
    "details version absent": _drop_detail("version"),
    "jobs of the import": _set_detail("ground-truth-labelling-jobs", [IMPORTED_JOB]),
    "jobs by attribute name": _set_detail(
        "ground-truth-labelling-jobs", ["rekognition-custom-labels-training-0"]
    ),
    "jobs empty": _set_detail("ground-truth-labelling-jobs", []),
    "jobs a string": _set_detail("ground-truth-labelling-jobs", "job"),
    "jobs not names": _set_detail("ground-truth-labelling-jobs", [7]),
    "jobs null": _set_detail("ground-truth-labelling-jobs", None),
    "jobs absent": _drop_detail("ground-truth-labelling-jobs"),
    "jobs other spelling": _other_spelling,
    "no flag": _drop_flags,
    "positive": _set_detail("is-true-positive", True),
    "negative": _set_detail("is-true-positive", False),
    "renamed to another attribute": _rename("other-"),
    "renamed to the import's attribute": _rename("animals-labelling-"),
    "renamed to a prediction": _rename("rekognition-custom-labels-evaluation-x"),
    "value absent": _no_value,
    "extra object": _extra_object,
    "class-map form": _class_map,
    "metadata not an object": _not_an_object,
    "stray metadata": _stray_metadata,
    "named like a metadata": _named_like_metadata,
    "no source-ref": _no_source_ref,
    "line-level details": _line_level_details,
}


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    """A documented line (ground truth, predictions), then a few near misses applied to it."""
    line: dict[str, Any] = {"source-ref": "s3://bucket/image.jpg"}
    labels = st.sampled_from(LABELS)
    for index in range(draw(st.integers(0, 3))):
        line[f"rekognition-custom-labels-training-{index}"] = 0
        line[f"rekognition-custom-labels-training-{index}-metadata"] = truth(index, draw(labels))
    for index in range(draw(st.integers(0, 3))):
        flags = draw(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()))
        confidence = draw(st.sampled_from([0.2, 0.5, 0.9, 0.9]))
        line[f"rekognition-custom-labels-evaluation-{index}"] = 0
        line[f"rekognition-custom-labels-evaluation-{index}-metadata"] = prediction(
            draw(labels), confidence, flags
        )
    attributes = [key[: -len("-metadata")] for key in line if key.endswith("-metadata")]
    if attributes:
        for _ in range(draw(st.integers(0, 3))):
            attribute = draw(st.sampled_from(attributes))
            if f"{attribute}-metadata" in line and type(line[f"{attribute}-metadata"]) is dict:
                draw(st.sampled_from(list(MUTATIONS.values())))(line, attribute)
    return line


def state(reader: _Reader) -> tuple[Any, ...]:
    return (
        reader.observations(),
        reader.multi_label,
        reader.saw_prediction,
        reader.saw_truth,
        reader.notes(),
    )


def read(reader: _Reader, line: dict[str, Any], number: int, fast: bool) -> str | None:
    """Read one line as the parser does (fast path first) or the long way only."""
    try:
        if not (fast and reader.read_documented(copy.deepcopy(line))):
            reader.read_any(copy.deepcopy(line), number)
    except ManifestError as error:
        return str(error)
    return None


# A realistic file: one documented line first, so that later lines find its labelling jobs
# validated, as in a real snapshot.
DOCUMENTED: dict[str, Any] = {
    "source-ref": "s3://bucket/first.jpg",
    "rekognition-custom-labels-training-0": 0,
    "rekognition-custom-labels-training-0-metadata": {
        "class-name": "cat",
        "job-name": TRAINING_JOB,
        "type": "groundtruth/image-classification",
    },
    "rekognition-custom-labels-evaluation-0": 0,
    "rekognition-custom-labels-evaluation-0-metadata": {
        "class-name": "cat",
        "confidence": 0.9,
        "job-name": EVALUATION_JOB,
        "type": "groundtruth/image-classification",
        DETAILS: {
            "version": 1,
            "ground-truth-labelling-jobs": [TRAINING_JOB],
            "is-true-positive": True,
        },
    },
}


@settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.booleans(), st.lists(lines(), min_size=1, max_size=5))
def test_the_fast_path_reads_any_line_as_the_long_way_does(
    start_documented: bool, generated: list[dict[str, Any]]
) -> None:
    sequence = [DOCUMENTED, *generated] if start_documented else generated
    fast, slow = _Reader("snapshot"), _Reader("snapshot")
    for number, line in enumerate(sequence, 1):
        slow_error = read(slow, line, number, fast=False)
        fast_error = read(fast, line, number, fast=True)
        assert fast_error == slow_error, line
        if slow_error is not None:
            return  # the parse stops at the first error
        assert state(fast) == state(slow), line


def test_an_undetailed_attribute_of_the_evaluation_job_is_a_prediction_on_both_paths() -> None:
    """A case the fast path once read as ground truth: the job-name makes it a prediction."""
    line = {
        "source-ref": "s3://bucket/image.jpg",
        "other": 0,
        "other-metadata": {
            "class-name": "cat",
            "job-name": EVALUATION_JOB,
            "type": "groundtruth/image-classification",
        },
    }
    fast, slow = _Reader("snapshot"), _Reader("snapshot")
    assert read(fast, line, 1, fast=True) is None
    assert read(slow, line, 1, fast=False) is None
    assert state(fast) == state(slow)
    assert fast.observations() == {((), ("cat",)): 1}

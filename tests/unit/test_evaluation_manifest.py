"""The snapshot reader: each accepted form reads as designed; each bad input, a clear error.

The expected data is built from the generator's designed labels with
``EvaluationData.from_observations``, so these tests check the reading, not the arithmetic
(``test_evaluation_metrics.py`` checks that against scikit-learn).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.evaluation import (
    NO_LABEL,
    EvaluationData,
    ManifestError,
    load_summary,
    parse_manifest,
    parse_manifest_lines,
)
from shared.evaluation.manifest import _Reader
from tests.evaluation_data import (
    DETAILS,
    EVALUATION_JOB,
    IMPORTED_ATTRIBUTE,
    IMPORTED_JOB,
    TRAINING_JOB,
    ManifestSpec,
    generate_images,
    write_manifest,
    write_summary,
)

# AWS's documented image-classification line ("Interpreting the evaluation manifest snapshot").
DOCUMENTED_LINE: dict[str, Any] = {
    "source-ref": "s3://test-bucket/dataset/beckham.jpeg",
    "rekognition-custom-labels-training-0": 1,
    "rekognition-custom-labels-training-0-metadata": {
        "confidence": 1.0,
        "job-name": TRAINING_JOB,
        "class-name": "Football",
        "human-annotated": "yes",
        "creation-date": "2019-09-06T00:07:25.488243",
        "type": "groundtruth/image-classification",
    },
    "rekognition-custom-labels-evaluation-0": 1,
    "rekognition-custom-labels-evaluation-0-metadata": {
        "confidence": 0.95,
        "job-name": EVALUATION_JOB,
        "class-name": "Football",
        "human-annotated": "no",
        "creation-date": "2019-09-06T00:07:25.488243",
        "type": "groundtruth/image-classification",
        DETAILS: {
            "version": 1,
            "ground-truth-labelling-jobs": [TRAINING_JOB],
            "is-true-positive": True,
            "is-true-negative": False,
            "is-false-positive": False,
            "is-false-negative": False,
            "is-present-in-ground-truth": True,
        },
    },
}

# AWS's documented object-detection line, abridged.
DETECTION_LINE: dict[str, Any] = {
    "source-ref": "s3://test-bucket/dataset/beckham.jpeg",
    "rekognition-custom-labels-training-0": {
        "annotations": [{"class_id": 0, "width": 39, "top": 409, "height": 63, "left": 712}],
        "image_size": [{"width": 1024, "depth": 3, "height": 768}],
    },
    "rekognition-custom-labels-training-0-metadata": {
        "job-name": "rekognition-custom-labels-training-job",
        "class-map": {"0": "Cap"},
        "human-annotated": "yes",
        "objects": [{"confidence": 1.0}],
        "creation-date": "2019-10-21T22:02:18.432644",
        "type": "groundtruth/object-detection",
    },
}


def encode(*documents: Any) -> list[bytes]:
    return [json.dumps(document, ensure_ascii=False).encode() + b"\n" for document in documents]


def line_with(**changes: Any) -> dict[str, Any]:
    """The documented line with some prediction-metadata fields replaced (None: removed)."""
    line = copy.deepcopy(DOCUMENTED_LINE)
    metadata = line["rekognition-custom-labels-evaluation-0-metadata"]
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            metadata.pop(key)
        else:
            metadata[key] = value
    return line


def expected(spec: ManifestSpec, known: tuple[str, ...] = ()) -> EvaluationData:
    images = Counter((image.truth, image.predicted) for image in generate_images(spec))
    return EvaluationData.from_observations(
        images, multi_label=spec.multi_label, known_labels=known
    )


FORMS = {
    "documented single-label": ManifestSpec(seed=1),
    "details as a line-level field": ManifestSpec(seed=2, details_at_top_level=True),
    "labelling jobs by attribute name": ManifestSpec(seed=3, jobs_by_attribute=True),
    "labelling jobs spelled 'labeling'": ManifestSpec(
        seed=4, jobs_field="ground-truth-labeling-jobs"
    ),
    "older labelling job ignored": ManifestSpec(seed=5, decoy_truth=True),
    "no below-threshold entries": ManifestSpec(seed=6, extra_entry_rate=0.0),
    "images without prediction or truth": ManifestSpec(
        seed=7, no_prediction_rate=0.3, no_truth_rate=0.1
    ),
    "unicode labels": ManifestSpec(seed=8, labels=("chat 🐱", "<b>", 'a "q"', "日本語")),
    "multi-label, one attribute per label": ManifestSpec(seed=9, multi_label=True),
    "multi-label, class-map ground truth": ManifestSpec(
        seed=10, multi_label=True, truth_form="class_map", no_truth_rate=0.1
    ),
    "multi-label, class-map predictions": ManifestSpec(
        seed=11, multi_label=True, prediction_form="class_map", no_prediction_rate=0.1
    ),
    "multi-label, older labelling job ignored": ManifestSpec(
        seed=12, multi_label=True, decoy_truth=True
    ),
    "multi-label, one label only": ManifestSpec(
        seed=13, multi_label=True, labels=("only",), truth_form="class_map"
    ),
}


@pytest.mark.parametrize("spec", FORMS.values(), ids=FORMS.keys())
def test_every_accepted_form_reads_as_designed(tmp_path: Path, spec: ManifestSpec) -> None:
    manifest = tmp_path / "snapshot.manifest"
    write_manifest(manifest, spec)
    data = parse_manifest(manifest)
    assert data == expected(spec)
    assert data.task == ("multi_label" if spec.multi_label else "single_label")


def test_documented_example_line() -> None:
    data = parse_manifest_lines(encode(DOCUMENTED_LINE))
    assert data.labels == ("Football",)
    assert data.pairs == {(0b1, 0b1): 1}


@pytest.mark.parametrize(
    ("flags", "predicted"),
    [
        ({"is-true-positive": True, "is-false-negative": False}, True),
        ({"is-false-positive": True, "is-true-positive": False}, True),
        ({"is-false-negative": True, "is-true-positive": False}, False),
        ({"is-true-negative": True, "is-false-positive": False}, False),
        ({}, True),
    ],
    ids=["true positive", "false positive", "false negative", "true negative", "no flags"],
)
def test_only_above_threshold_entries_are_predictions(
    flags: dict[str, bool], predicted: bool
) -> None:
    details = {"version": 1, "ground-truth-labelling-jobs": [TRAINING_JOB], **flags}
    data = parse_manifest_lines(encode(line_with(**{DETAILS: details})))
    assert data.labels == ("Football",)
    assert data.pairs == {(0b1, 0b1 if predicted else 0): 1}  # 0: an abstention


def test_single_label_keeps_the_most_confident_prediction() -> None:
    line = line_with()
    runner_up = copy.deepcopy(line["rekognition-custom-labels-evaluation-0-metadata"])
    runner_up.update({"class-name": "Rugby", "confidence": 0.97})
    runner_up[DETAILS].update({"is-true-positive": False, "is-false-positive": True})
    line["rekognition-custom-labels-evaluation-1"] = 2
    line["rekognition-custom-labels-evaluation-1-metadata"] = runner_up
    data = parse_manifest_lines(encode(line))
    assert data.task == "single_label"
    football, rugby = (1 << data.labels.index(name) for name in ("Football", "Rugby"))
    assert data.pairs == {(football, rugby): 1}


def test_streams_from_any_line_iterable(tmp_path: Path) -> None:
    spec = ManifestSpec(seed=14, n_images=50)
    manifest = tmp_path / "snapshot.manifest"
    write_manifest(manifest, spec)

    def lines() -> Any:
        with manifest.open("rb") as handle:
            yield from handle

    assert parse_manifest_lines(lines()) == expected(spec)


def test_bom_crlf_blank_lines_and_surrounding_whitespace(tmp_path: Path) -> None:
    spec = ManifestSpec(seed=15, n_images=30)
    lines = [image.line for image in generate_images(spec)]
    text = "\ufeff" + "\r\n\r\n".join(f"  {line}\t" for line in lines) + "\r\n\n"
    manifest = tmp_path / "windows.manifest"
    manifest.write_bytes(text.encode())
    assert parse_manifest(manifest) == expected(spec)


@pytest.mark.parametrize("nested_metrics", [False, True], ids=["example form", "reference form"])
def test_summary_labels_and_service_f1(tmp_path: Path, nested_metrics: bool) -> None:
    spec = ManifestSpec(seed=16, labels=("a", "b", "c"))
    manifest = tmp_path / "snapshot.manifest"
    summary_path = tmp_path / "summary.json"
    write_manifest(manifest, spec)
    write_summary(summary_path, ("c", "unseen", "a"), f1=0.75, nested_metrics=nested_metrics)
    summary = load_summary(summary_path)
    assert summary.labels == ("c", "unseen", "a")
    assert summary.f1 == 0.75
    data = parse_manifest(manifest, summary)
    assert data == expected(spec, known=("c", "unseen", "a"))._replace(service_f1=0.75)
    assert data.labels[:3] == ("c", "unseen", "a")


BAD_LINES: dict[str, tuple[bytes, int, str]] = {
    "malformed JSON": (b'{"source-ref": "s3://b/x.jpg",', 3, "malformed JSON"),
    "a JSON array": (b"[1, 2]", 3, "not a JSON object"),
    "not UTF-8": (b'{"source-ref": "\xff"}', 3, "not UTF-8"),
    "object detection": (encode(DETECTION_LINE)[0], 3, "groundtruth/object-detection"),
    "reserved label name": (encode(line_with(class_name=NO_LABEL))[0], 3, "reserved"),
    "unknown details version": (
        encode(line_with(**{DETAILS: {"version": 2, "is-true-positive": True}}))[0],
        3,
        "version 2",
    ),
    "confidence not a number": (encode(line_with(confidence="high"))[0], 3, "not a number"),
    "class-name not a string": (encode(line_with(class_name=7))[0], 3, "class-name"),
    "details not an object": (encode(line_with(**{DETAILS: [1]}))[0], 3, "not a JSON object"),
    "labelling jobs not names": (
        encode(line_with(**{DETAILS: {"ground-truth-labelling-jobs": "job"}}))[0],
        3,
        "not names",
    ),
    "metadata not an object": (
        encode({"x": 1, "x-metadata": "classification"})[0],
        3,
        "not a JSON object",
    ),
    "label attribute of unknown shape": (
        encode({"x": {"a": 1}, "x-metadata": {"job-name": "j"}})[0],
        3,
        "not image classification",
    ),
    "class id missing from the class-map": (
        encode(
            {
                "x": [0, 5],
                "x-metadata": {
                    "class-map": {"0": "a"},
                    "type": "groundtruth/image-classification-multilabel",
                },
            }
        )[0],
        3,
        "class id 5",
    ),
}


@pytest.mark.parametrize(("bad", "line", "message"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_line_is_reported_with_its_number(bad: bytes, line: int, message: str) -> None:
    lines = [*encode(DOCUMENTED_LINE, DOCUMENTED_LINE), bad, *encode(DOCUMENTED_LINE)]
    with pytest.raises(ManifestError, match=message) as caught:
        parse_manifest_lines(lines, source="snapshot.manifest")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"snapshot.manifest, line {line}: ")


IMPORTED = {
    "single-label": ManifestSpec(seed=18, imported_truth=True, no_prediction_rate=0.2),
    "multi-label, one attribute per label": ManifestSpec(
        seed=19, imported_truth=True, multi_label=True, no_truth_rate=0.1
    ),
    "multi-label, class-map": ManifestSpec(
        seed=20, imported_truth=True, multi_label=True, truth_form="class_map"
    ),
}


@pytest.mark.parametrize("spec", IMPORTED.values(), ids=IMPORTED.keys())
def test_labelling_jobs_that_match_no_attribute_fall_back_and_say_so(
    tmp_path: Path, spec: ManifestSpec
) -> None:
    """A dataset imported from a Ground Truth job: its attribute keeps the job's names."""
    manifest = tmp_path / "imported.manifest"
    write_manifest(manifest, spec)
    lines = manifest.read_text(encoding="utf-8").splitlines()
    # The lines that list a labelling job and carry a ground-truth attribute of the import.
    listing = [n for n, line in enumerate(lines, 1) if DETAILS in line and IMPORTED_JOB in line]
    assert 0 < len(listing) < len(lines) or spec.truth_form == "class_map"

    data = parse_manifest(manifest)

    assert data._replace(notes=()) == expected(spec)
    (note,) = data.notes
    assert note.startswith(f"On {len(listing)} lines (the first: line {listing[0]}) ")
    assert f"listed [{TRAINING_JOB!r}], found {IMPORTED_ATTRIBUTE + '-0'!r}" in note
    assert f"(job-name {IMPORTED_JOB!r})" in note


@pytest.mark.parametrize(
    "spec", [*FORMS.values(), *IMPORTED.values()], ids=[*FORMS.keys(), *IMPORTED.keys()]
)
def test_the_fast_path_reads_every_line_as_the_long_way_does(spec: ManifestSpec) -> None:
    """read_documented declines what it does not know; what it takes, read_any reads alike."""
    fast, slow = _Reader("fast"), _Reader("slow")
    for line, image in enumerate(generate_images(spec), 1):
        document = json.loads(image.line)
        if not fast.read_documented(copy.deepcopy(document)):
            fast.read_any(document, line)
        slow.read_any(json.loads(image.line), line)
        assert (fast.saw_prediction, fast.saw_truth) == (slow.saw_prediction, slow.saw_truth)
    assert fast.observations() == slow.observations()
    assert fast.notes() == slow.notes()
    assert fast.multi_label == slow.multi_label


def test_the_documented_form_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the first line listing labelling jobs (not yet validated) goes the long way."""
    long_way: list[int] = []
    read_any = _Reader.read_any

    def counted(self: _Reader, document: dict[str, Any], line: int) -> None:
        long_way.append(line)
        read_any(self, document, line)

    monkeypatch.setattr(_Reader, "read_any", counted)
    for spec in (ManifestSpec(seed=22), ManifestSpec(seed=23, multi_label=True)):
        long_way.clear()
        lines = [image.line.encode() for image in generate_images(spec)]
        assert parse_manifest_lines(lines) == expected(spec)
        images = list(generate_images(spec))
        first_listing = next(n for n, image in enumerate(images, 1) if DETAILS in image.line)
        if not spec.multi_label:
            assert long_way == [first_listing]
            continue
        # ... and the line that shows the data is multi-label.
        first_multi = next(n for n, image in enumerate(images, 1) if len(image.truth) > 1)
        assert long_way == sorted({first_listing, first_multi})


def test_no_note_when_the_listed_jobs_match(tmp_path: Path) -> None:
    manifest = tmp_path / "snapshot.manifest"
    write_manifest(manifest, ManifestSpec(seed=21, decoy_truth=True))
    assert parse_manifest(manifest).notes == ()


def test_line_without_any_label_attribute_is_refused_by_number() -> None:
    bare = {"source-ref": "s3://test-bucket/dataset/unlabelled.jpeg"}
    with pytest.raises(ManifestError, match="no label attribute") as caught:
        parse_manifest_lines(encode(DOCUMENTED_LINE, bare), source="snapshot.manifest")
    assert caught.value.line == 2
    assert str(caught.value).startswith("snapshot.manifest, line 2: ")


def test_image_with_predictions_but_no_ground_truth_is_unlabelled() -> None:
    predictions_only = {
        key: value for key, value in DOCUMENTED_LINE.items() if "training" not in key
    }
    data = parse_manifest_lines(encode(DOCUMENTED_LINE, predictions_only))
    assert data.labels == ("Football",)
    assert data.pairs == {(0b1, 0b1): 1, (0, 0b1): 1}


def test_ambiguous_line_level_details() -> None:
    line = line_with(**{DETAILS: None})
    line[DETAILS] = DOCUMENTED_LINE["rekognition-custom-labels-evaluation-0-metadata"][DETAILS]
    line["rekognition-custom-labels-evaluation-1"] = 1
    line["rekognition-custom-labels-evaluation-1-metadata"] = {
        "confidence": 0.2,
        "job-name": EVALUATION_JOB,
        "class-name": "Rugby",
    }
    with pytest.raises(ManifestError, match="ambiguous") as caught:
        parse_manifest_lines(encode(DOCUMENTED_LINE, line))
    assert caught.value.line == 2


def test_ground_truth_manifest_without_evaluation_is_refused() -> None:
    training_only = {
        key: value for key, value in DOCUMENTED_LINE.items() if "evaluation" not in key
    }
    with pytest.raises(ManifestError, match="not an evaluation manifest snapshot"):
        parse_manifest_lines(encode(training_only, training_only))


def test_evaluation_without_any_ground_truth_is_refused() -> None:
    predictions_only = {
        key: value for key, value in DOCUMENTED_LINE.items() if "training" not in key
    }
    with pytest.raises(ManifestError, match="none of its 2 lines has a ground-truth label"):
        parse_manifest_lines(encode(predictions_only, predictions_only))


@pytest.mark.parametrize("content", [b"", b"\n  \n"], ids=["empty", "blank lines"])
def test_manifest_without_images_is_refused(tmp_path: Path, content: bytes) -> None:
    manifest = tmp_path / "empty.manifest"
    manifest.write_bytes(content)
    with pytest.raises(ManifestError, match="no images"):
        parse_manifest(manifest)


def test_missing_manifest_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.manifest"
    with pytest.raises(ManifestError, match="cannot read the manifest") as caught:
        parse_manifest(missing)
    assert str(missing) in str(caught.value)
    assert caught.value.line is None


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (None, "cannot read the summary file", None),
        ('{\n  "EvaluationDetails": {\n    "Labels": [,]\n}', "not a JSON document", 3),
        ('{"EvaluationDetails": {"Labels": "CAP"}}', "Labels is not a list", None),
        ('{"AggregatedEvaluationResults": {"F1Score": "high"}}', "not a number", None),
        ("[]", "not a JSON object", None),
    ],
    ids=["missing", "malformed", "labels not a list", "F1 not a number", "not an object"],
)
def test_bad_summary(tmp_path: Path, content: str | None, message: str, line: int | None) -> None:
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError, match=message) as caught:
        load_summary(path)
    assert caught.value.line == line


def test_multi_label_found_late_applies_to_earlier_images(tmp_path: Path) -> None:
    """Images read before the first multi-label line keep all their predictions."""
    spec = ManifestSpec(seed=17, multi_label=True, n_images=300)
    images = list(generate_images(spec))
    looks_single = [i for i in images if len(i.truth) == 1 and len(i.predicted) > 1]
    assert looks_single, "the seed must give single-truth images with several predictions"
    manifest = tmp_path / "late.manifest"
    ordered = looks_single + [i for i in images if i not in looks_single]
    manifest.write_text("".join(i.line + "\n" for i in ordered), encoding="utf-8")
    assert parse_manifest(manifest) == expected(spec)

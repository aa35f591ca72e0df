"""Merging a labeling job's answers into the training manifest, in Ground Truth's output format.

The oracle is the SageMaker Ground Truth developer guide, "Labeling job output data"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html):

    "Each line in the output data file is identical to the manifest file with the addition of
    an attribute and value for the label assigned to the input object."

    "Output data appears in this location when the workers have submitted one or more tasks,
    or when tasks expire."

and its image classification example (label attribute ``sport``):

    { "source-ref": "s3://amzn-s3-demo-bucket/image_example.png", "sport":0,
      "sport-metadata": { "class-name": "football", "confidence": 0.00,
      "type":"groundtruth/image-classification", "job-name": "identify-sport",
      "human-annotated": "yes", "creation-date": "2018-10-18T22:18:13.527256" } }

An object no worker answered has no label attribute; Ground Truth may also write a
``failure-reason`` into its metadata. Either way it is not an answer.
"""

from __future__ import annotations

import json

import pytest

from relabel import manifest_merge
from shared.evaluation.manifest import ManifestError

#: The documented example, verbatim (one line, as the file holds it).
DOCUMENTED = (
    '{ "source-ref": "s3://amzn-s3-demo-bucket/image_example.png", "sport":0, "sport-metadata":'
    ' { "class-name": "football", "confidence": 0.00, "type":"groundtruth/image-classification",'
    ' "job-name": "identify-sport", "human-annotated": "yes", "creation-date":'
    ' "2018-10-18T22:18:13.527256" } }'
)


def line(ref: str, attribute: str, label: str, index: int, created: str, human: str = "yes"):
    return {
        "source-ref": ref,
        attribute: index,
        f"{attribute}-metadata": {
            "class-name": label,
            "confidence": 0.9,
            "type": "groundtruth/image-classification",
            "job-name": f"labeling-job/{attribute}",
            "human-annotated": human,
            "creation-date": created,
        },
    }


def body(*lines: dict) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in lines).encode()


def test_the_documented_output_line_is_an_answer():
    output = manifest_merge.job_output(DOCUMENTED.encode() + b"\n", "sport", "output.manifest")

    assert output.unanswered == []
    answered = output.answered["s3://amzn-s3-demo-bucket/image_example.png"]
    assert answered["sport"] == 0
    assert answered["sport-metadata"]["class-name"] == "football"
    answer = manifest_merge.answer_of(answered)
    assert answer == manifest_merge.Answer("football", True, "2018-10-18T22:18:13.527256")


def test_objects_without_an_answer_are_unanswered_not_dropped():
    expired = {
        "source-ref": "s3://b/expired.jpg",
        "sport-metadata": {
            "failure-reason": "ClientError: task expired",
            "type": "groundtruth/image-classification",
            "job-name": "labeling-job/sport",
        },
    }
    untouched = {"source-ref": "s3://b/untouched.jpg"}  # the input line, no label added
    output = manifest_merge.job_output(
        DOCUMENTED.encode() + b"\n" + body(expired, untouched), "sport", "out"
    )

    assert list(output.answered) == ["s3://amzn-s3-demo-bucket/image_example.png"]
    assert output.unanswered == ["s3://b/expired.jpg", "s3://b/untouched.jpg"]


def test_only_the_jobs_own_attribute_counts():
    """An input line may carry older labels (chained jobs): they are not this job's answer."""
    older = line("s3://b/a.jpg", "older-job", "bicycle", 0, "2026-01-01T00:00:00")
    output = manifest_merge.job_output(body(older), "new-job", "out")

    assert output.answered == {}
    assert output.unanswered == ["s3://b/a.jpg"]


def test_merge_keeps_previous_adds_new_and_deduplicates_by_source_ref():
    previous = [
        line("s3://b/1.jpg", "gt", "bicycle", 0, "2026-01-01T00:00:00"),
        line("s3://b/2.jpg", "gt", "motorcycle", 1, "2026-01-01T00:00:00"),
        # The same image twice in the previous manifest: the later line stands.
        line("s3://b/1.jpg", "gt", "bicycle", 0, "2026-02-01T00:00:00"),
    ]
    answered = {"s3://b/3.jpg": line("s3://b/3.jpg", "job", "bicycle", 0, "2026-12-01T00:00:00")}

    merged = manifest_merge.merge(previous, answered)

    assert [item["source-ref"] for item in merged.lines] == [
        "s3://b/1.jpg",
        "s3://b/2.jpg",
        "s3://b/3.jpg",
    ]
    assert merged.lines[0]["gt-metadata"]["creation-date"] == "2026-02-01T00:00:00"
    assert (merged.added, merged.replaced, merged.conflicts) == (1, 0, [])


def test_a_conflict_goes_to_the_newest_human_answer():
    previous = [line("s3://b/1.jpg", "gt", "bicycle", 0, "2026-01-01T00:00:00")]
    new = line("s3://b/1.jpg", "job", "motorcycle", 1, "2026-12-01T10:00:00")

    merged = manifest_merge.merge(previous, {"s3://b/1.jpg": new})

    assert merged.lines == [new]  # the whole line: one label per image
    assert merged.conflicts == [
        {
            "source-ref": "s3://b/1.jpg",
            "previous": "bicycle",
            "new": "motorcycle",
            "kept": "motorcycle",
        }
    ]
    assert merged.replaced == 1


def test_an_older_answer_does_not_overwrite_a_newer_human_label():
    previous = [line("s3://b/1.jpg", "gt", "bicycle", 0, "2026-12-05T00:00:00")]
    late = line("s3://b/1.jpg", "job", "motorcycle", 1, "2026-12-01T00:00:00")

    merged = manifest_merge.merge(previous, {"s3://b/1.jpg": late})

    assert merged.lines == previous
    assert merged.conflicts[0]["kept"] == "bicycle"
    assert merged.replaced == 0


def test_a_human_answer_beats_a_newer_machine_label():
    machine = line("s3://b/1.jpg", "auto", "bicycle", 0, "2026-12-09T00:00:00", human="no")
    human = line("s3://b/1.jpg", "job", "motorcycle", 1, "2026-12-01T00:00:00")

    merged = manifest_merge.merge([machine], {"s3://b/1.jpg": human})

    assert merged.lines == [human]


def test_the_same_label_again_is_no_conflict():
    previous = [line("s3://b/1.jpg", "gt", "bicycle", 0, "2026-01-01T00:00:00")]
    again = line("s3://b/1.jpg", "job", "bicycle", 0, "2026-12-01T00:00:00")

    merged = manifest_merge.merge(previous, {"s3://b/1.jpg": again})

    assert merged.conflicts == []
    assert merged.lines == [again]


def test_rendered_manifest_is_json_lines_the_parser_reads_back():
    lines = [line("s3://b/ü.jpg", "job", "bicycle", 0, "2026-12-01T00:00:00")]
    rendered = manifest_merge.render(lines)

    assert rendered.endswith(b"\n")
    assert rendered.count(b"\n") == 1
    assert "ü".encode() in rendered  # kept as UTF-8, not \\u-escaped
    assert manifest_merge.parse_lines(rendered, "x") == lines


@pytest.mark.parametrize(
    ("text", "problem"),
    [(b'{"source-ref": "s3://b/1.jpg"\n', "malformed JSON"), (b"[1]\n", "not an object")],
)
def test_a_broken_manifest_is_refused_with_its_line(text, problem):
    with pytest.raises(ManifestError, match=problem):
        manifest_merge.parse_lines(text, "previous.manifest")


def test_versions_sort_by_number_and_ignore_other_files():
    prefix = "training/manifests/relabel/"
    keys = [
        f"{prefix}relabel-v000002.manifest",
        f"{prefix}relabel-v000010.manifest",
        f"{prefix}notes.txt",
        f"{prefix}relabel-v9.manifest",
        f"{prefix}sub/relabel-v000099.manifest",
    ]
    assert manifest_merge.newest_version(keys, prefix) == 10
    assert manifest_merge.newest_version([], prefix) == 0
    assert manifest_merge.version_key(prefix, 11) == f"{prefix}relabel-v000011.manifest"

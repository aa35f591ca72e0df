"""Merging a labeling job's answers into the training manifest, in Ground Truth's output format.

Ground Truth developer guide, "Labeling job output data" (image classification): each output
line is the input line plus the label attribute (the class index) and ``<attribute>-metadata``
with ``class-name``, ``confidence``, ``type`` (``groundtruth/image-classification``),
``job-name``, ``human-annotated`` and ``creation-date``. An object no worker answered (its tasks
expired, or it failed) has no answer: its metadata carries ``failure-reason`` instead, or the
attribute is missing.

The new manifest is the previous one plus the new answers, one line per ``source-ref``; where
both have the image, the newest human answer wins (by ``creation-date``; a human answer always
beats a machine one) and the image's whole line is replaced, so an image never carries two
labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relabel.ground_truth import ANSWER_TYPE
from shared.evaluation.manifest import ManifestError

#: ``relabel-v000042.manifest``: the merged training manifests, newest = highest number.
VERSION_NAME = re.compile(r"relabel-v(?P<version>\d{6})\.manifest")


def version_key(prefix: str, version: int) -> str:
    return f"{prefix}relabel-v{version:06d}.manifest"


def newest_version(keys: Iterable[str], prefix: str) -> int:
    """The highest version among ``keys`` (0 when there is none)."""
    versions = [
        int(match["version"])
        for key in keys
        if key.startswith(prefix) and (match := VERSION_NAME.fullmatch(key[len(prefix) :]))
    ]
    return max(versions, default=0)


@dataclass(frozen=True)
class Answer:
    """One image's label as a manifest line gives it."""

    label: str
    human: bool
    created: str


@dataclass
class JobOutput:
    """What one labeling job answered."""

    answered: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)


@dataclass
class Merged:
    lines: list[dict[str, Any]]
    added: int
    replaced: int
    conflicts: list[dict[str, str]]


def parse_lines(body: bytes, source: str) -> list[dict[str, Any]]:
    """JSON Lines, each an object with a ``source-ref``; blank lines skipped."""
    documents = []
    for number, raw in enumerate(body.decode("utf-8-sig").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ManifestError(source, f"malformed JSON: {error.msg}", number) from error
        if not isinstance(document, dict) or not isinstance(document.get("source-ref"), str):
            raise ManifestError(source, "the line is not an object with a source-ref", number)
        documents.append(document)
    return documents


def answer_of(line: dict[str, Any], attribute: str | None = None) -> Answer | None:
    """The image classification answer of a line (of ``attribute``, or of any attribute)."""
    names = [attribute] if attribute else [k for k in line if not k.endswith("-metadata")]
    for name in names:
        metadata = line.get(f"{name}-metadata")
        if (
            name not in line
            or not isinstance(metadata, dict)
            or metadata.get("type") != ANSWER_TYPE
            or "failure-reason" in metadata
            or not isinstance(metadata.get("class-name"), str)
        ):
            continue
        return Answer(
            label=metadata["class-name"],
            human=metadata.get("human-annotated") == "yes",
            created=str(metadata.get("creation-date", "")),
        )
    return None


def job_output(body: bytes, attribute: str, source: str) -> JobOutput:
    """Split a job's output manifest into answered lines and the images left unanswered."""
    output = JobOutput()
    for line in parse_lines(body, source):
        ref = line["source-ref"]
        if answer_of(line, attribute) is None:
            output.unanswered.append(ref)
        else:
            output.answered[ref] = {
                "source-ref": ref,
                attribute: line[attribute],
                f"{attribute}-metadata": line[f"{attribute}-metadata"],
            }
    return output


def _newer(new: Answer, old: Answer | None) -> bool:
    """Whether ``new`` replaces ``old``: humans beat machines, then the newest answer wins
    (ISO 8601 times compare as strings; a tie goes to the new job)."""
    if old is None:
        return True
    if new.human != old.human:
        return new.human
    return new.created >= old.created


def merge(previous: list[dict[str, Any]], answered: dict[str, dict[str, Any]]) -> Merged:
    """``previous`` de-duplicated by ``source-ref`` (its last line wins), then the answers."""
    by_ref: dict[str, dict[str, Any]] = {}
    for line in previous:
        by_ref[line["source-ref"]] = line
    added = replaced = 0
    conflicts: list[dict[str, str]] = []
    for ref, line in answered.items():
        new = answer_of(line)
        assert new is not None  # job_output keeps answered lines only
        old_line = by_ref.get(ref)
        if old_line is None:
            by_ref[ref] = line
            added += 1
            continue
        old = answer_of(old_line)
        if old is not None and old.label != new.label:
            winner = new if _newer(new, old) else old
            conflicts.append(
                {"source-ref": ref, "previous": old.label, "new": new.label, "kept": winner.label}
            )
        if _newer(new, old):
            by_ref[ref] = line
            replaced += 1
    return Merged(list(by_ref.values()), added, replaced, conflicts)


def render(lines: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()

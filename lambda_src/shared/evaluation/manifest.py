"""Streaming reader for Rekognition Custom Labels evaluation manifest snapshots and summary files.

What AWS documents (Rekognition Custom Labels developer guide: "Interpreting the evaluation
manifest snapshot", "Image-level labels in manifest files", "Reference: Training results
summary file"; SageMaker Ground Truth developer guide: "Output data"):

* The snapshot is JSON Lines, one image per line, in Ground Truth output format: each label
  attribute ``X`` comes with an ``X-metadata`` object.
* Single-label image classification (``type`` ``groundtruth/image-classification``): ``X`` is a
  class id and ``X-metadata.class-name`` the label. Rekognition gives an image several
  image-level labels as several such attributes.
* Multi-label image classification (``type`` ``groundtruth/image-classification-multilabel``):
  ``X`` is a list of class ids, ``X-metadata.class-map`` maps each id (as a string) to its name
  and ``confidence-map`` to its confidence.
* The snapshot keeps the ground truth (``rekognition-custom-labels-training-0``, job-name
  ``rekognition-custom-labels-training-job`` in AWS's example) and adds one attribute per
  prediction (``rekognition-custom-labels-evaluation-0``, job-name
  ``rekognition-custom-labels-evaluation-job``) whose metadata carries the prediction's
  ``class-name``, ``confidence`` and ``rekognition-custom-labels-evaluation-details``:
  ``version`` (1), ``is-true-positive`` / ``is-true-negative`` / ``is-false-positive`` /
  ``is-false-negative`` ("based on how the confidence score compares to the minimum threshold
  for the label"), ``is-present-in-ground-truth`` and ``ground-truth-labelling-jobs``.
* The summary file has ``EvaluationDetails.Labels`` and the service's aggregated F1 score.

How an image is read:

* An attribute is a prediction when its metadata has evaluation details, its name starts with
  ``rekognition-custom-labels-evaluation`` or its job-name is the evaluation job's; every other
  label attribute is ground truth. Any attribute whose ``type`` is not image classification
  (object detection, segmentation...) stops the parse: the metrics would be meaningless.
* A prediction is counted when it is flagged true or false positive, i.e. above its label's
  threshold; entries flagged true or false negative are below-threshold scores. An image with
  no counted prediction is an abstention (see ``shared.evaluation.metrics``).
* For single-label data the counted prediction with the highest confidence is the image's
  prediction (ties go to the label name that sorts first).
* The ground truth comes from the label attributes (``is-present-in-ground-truth`` adds
  nothing to them). Details of a ``version`` other than 1 are refused: their flags may mean
  something else.
* The data is multi-label when a ground-truth attribute has the multi-label form or an image
  has more than one ground-truth label. Predictions do not decide it: a single-label model can
  score several labels above their thresholds.

Where the documentation is ambiguous, both readings are accepted:

1. Where the details live: AWS's example nests them in the prediction's ``-metadata``; the
   snippet above it shows ``rekognition-custom-labels-evaluation-details`` as a field added to
   the line. A top-level one applies to the line's prediction attribute that has none nested,
   and is refused when several attributes lack them (it could belong to any).
2. ``ground-truth-labelling-jobs`` is described as "a list of ground truth fields in the
   manifest line", but the example lists a job-name, and the text spells it
   ``ground-truth-labeling-jobs``. Both spellings are read and an entry matches an attribute by
   attribute name or by job-name. When a line lists jobs, the matching attributes are its
   ground truth (another labelling job's attribute on the line is ignored); when it lists
   none, every non-prediction attribute is. When the listed jobs match none of the line's
   attributes (a dataset imported from a Ground Truth labelling job keeps that job's attribute
   name and job-name), the line's non-prediction image-classification attributes are its
   ground truth, and the data's ``notes`` say so (how many lines, the first one, the names).
   A finished training is never thrown away over that reading.
3. The docs show no multi-label prediction. Besides one attribute per predicted label (the
   documented form), a Ground Truth multi-label attribute (class ids, ``class-map``,
   ``confidence-map``) is accepted as a prediction attribute, every listed id being predicted.
4. A prediction attribute with none of the four flags counts as a prediction, as any Ground
   Truth label attribute is a label that was assigned.
5. The summary's aggregated F1 is ``AggregatedEvaluationResults.Metrics.F1Score`` in the
   reference and ``AggregatedEvaluationResults.F1Score`` in the example; both are read.

Only what cannot be classification data is refused, naming the line: an attribute of another
task type (object detection, segmentation...), a line with no label attribute at all (neither
ground truth nor prediction), unreadable JSON or fields of the wrong type. A line with
predictions but no ground-truth attribute is an image without ground truth; a file in which no
line has one is refused (there would be nothing to evaluate against).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .metrics import NO_LABEL, EvaluationData, MetricsReport, Observation, compute_metrics

EVALUATION_PREFIX = "rekognition-custom-labels-evaluation"
EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
DETAILS = "rekognition-custom-labels-evaluation-details"
LABELLING_JOBS = ("ground-truth-labelling-jobs", "ground-truth-labeling-jobs")
_JOBS_FIELD = LABELLING_JOBS[0]
_SINGLE_LABEL = "groundtruth/image-classification"
_MULTI_LABEL = "groundtruth/image-classification-multilabel"
_JSON_WHITESPACE = " \t\n\r"
#: The C scanner json.loads uses: (document, end index) for the JSON value at an index.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

#: (label name, confidence as found in the line) of a multi-label attribute.
_Entries = list[tuple[str, Any]]
#: A ground-truth attribute of a line: (name, job-name, label names, multi-label form).
_Truth = tuple[str, str | None, tuple[str, ...], bool]


class ManifestError(ValueError):
    """An evaluation input that cannot be used; the message names the file and the line.

    ``line`` is the 1-based line of the manifest (or of the summary JSON) when one is to blame.
    """

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        super().__init__(f"{source}{'' if line is None else f', line {line}'}: {reason}")
        self.source = source
        self.reason = reason
        self.line = line


class EvaluationSummary(NamedTuple):
    """What the metrics use from the training results summary file."""

    labels: tuple[str, ...]
    f1: float | None


def load_summary(path: str | os.PathLike[str]) -> EvaluationSummary:
    """Read a summary file (``EvaluationSummary-<project>-<version>.json``)."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise ManifestError(source, f"cannot read the summary file: {exc.strerror}") from exc
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise ManifestError(source, f"not a JSON document: {exc}", line) from exc
    return parse_summary(document, source)


def parse_summary(document: Any, source: str = "<summary>") -> EvaluationSummary:
    """Validate a decoded summary file (see ambiguity 5 in the module docstring)."""
    if not isinstance(document, dict):
        raise ManifestError(source, "the summary is not a JSON object")
    details = document.get("EvaluationDetails") or {}
    labels = details.get("Labels", []) if isinstance(details, dict) else None
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ManifestError(source, "EvaluationDetails.Labels is not a list of label names")
    if NO_LABEL in labels:
        raise ManifestError(source, f"the label name {NO_LABEL!r} is reserved")
    f1 = None
    aggregated = document.get("AggregatedEvaluationResults")
    if isinstance(aggregated, dict):
        for holder in (aggregated, aggregated.get("Metrics")):
            if isinstance(holder, dict) and "F1Score" in holder:
                f1 = holder["F1Score"]
    if f1 is not None and type(f1) not in (int, float):
        raise ManifestError(source, "AggregatedEvaluationResults F1Score is not a number")
    return EvaluationSummary(labels=tuple(labels), f1=None if f1 is None else float(f1))


def parse_manifest(
    path: str | os.PathLike[str], summary: EvaluationSummary | None = None
) -> EvaluationData:
    """Read an evaluation manifest snapshot file line by line (never whole)."""
    source = os.fspath(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except OSError as exc:
        raise ManifestError(source, f"cannot read the manifest: {exc.strerror}") from exc
    with handle:
        return parse_manifest_lines(handle, summary, source=source)


def parse_manifest_lines(
    lines: Iterable[bytes], summary: EvaluationSummary | None = None, *, source: str = "<manifest>"
) -> EvaluationData:
    """Read manifest lines from any byte-line iterable (a file, an S3 body's ``iter_lines()``).

    ``summary`` contributes the label list (labels never seen in the test set still get a row)
    and the service's F1 score.
    """
    reader = _Reader(source)
    read_documented, read_any = reader.read_documented, reader.read_any
    line_no = 0
    for line_no, raw in enumerate(lines, 1):
        # Fast path: the C scanner behind json.loads, without its Python-level wrapping. Any
        # line it does not take as is (blank, BOM, odd whitespace, errors) goes the slow way.
        try:
            text = raw.decode()
            document, end = _scan(text, 0)
            tail = text[end:]
            clean = tail == "\n" or not tail.strip(_JSON_WHITESPACE)
        except (ValueError, StopIteration):
            clean = False
        if not clean:
            document = _decode_carefully(raw, source, line_no)
            if document is None:
                continue
        if type(document) is not dict:
            raise ManifestError(source, "the line is not a JSON object", line_no)
        if not read_documented(document):
            read_any(document, line_no)

    if not reader.counts:
        raise ManifestError(source, "the manifest has no images")
    if not reader.saw_prediction:
        raise ManifestError(
            source,
            f"no prediction attributes ({EVALUATION_PREFIX}-*) on any of its {line_no} lines: "
            "not an evaluation manifest snapshot",
        )
    if not reader.saw_truth:
        raise ManifestError(
            source,
            f"none of its {line_no} lines has a ground-truth label attribute (only "
            "predictions): there is nothing to evaluate the model against",
        )
    try:
        return EvaluationData.from_observations(
            reader.counts,  # keys as lines listed them: the masks do not depend on the order
            multi_label=reader.multi_label,
            known_labels=summary.labels if summary else (),
            service_f1=summary.f1 if summary else None,
            notes=reader.notes(),
        )
    except ValueError as error:
        raise ManifestError(source, str(error)) from error


def _decode_carefully(raw: bytes, source: str, line_no: int) -> Any:
    """json.loads semantics and error messages; None for a blank line."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(source, "not UTF-8 text", line_no) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"malformed JSON: {exc.msg} (column {exc.colno})"
        raise ManifestError(source, reason, line_no) from exc


def evaluate_manifest(
    manifest: str | os.PathLike[str], summary: str | os.PathLike[str] | None = None
) -> MetricsReport:
    """Parse a snapshot (and optionally its summary file) and compute ``metrics.json``."""
    loaded = None if summary is None else load_summary(summary)
    return compute_metrics(parse_manifest(manifest, loaded))


class _Reader:
    """Per-file state of a parse: the image count of each observation and what was seen.

    Each line is read by :meth:`read_documented` (the parser's hot loop, the documented form
    only) or, when it declines, :meth:`read_any` (every accepted form, every error).
    """

    __slots__ = (
        "counts",
        "fallback_example",
        "fallback_lines",
        "first_fallback",
        "multi_label",
        "saw_prediction",
        "saw_truth",
        "source",
        "valid_jobs",
    )

    def __init__(self, source: str) -> None:
        self.source = source
        self.counts: dict[Observation, int] = {}
        self.multi_label = False
        self.saw_prediction = False
        self.saw_truth = False
        self.valid_jobs: list[str] = []  # the last labelling-jobs list checked (they repeat)
        self.fallback_lines = 0  # lines whose listed labelling jobs matched no attribute
        self.first_fallback = 0
        self.fallback_example = ""

    def error(self, line: int, reason: str) -> ManifestError:
        return ManifestError(self.source, reason, line)

    def notes(self) -> list[str]:
        """What the reading decided that a reader of the report should know."""
        if not self.fallback_lines:
            return []
        lines = "line" if self.fallback_lines == 1 else "lines"
        return [
            f"On {self.fallback_lines} {lines} (the first: line {self.first_fallback}) the "
            f"evaluation details' {LABELLING_JOBS[0]} named no attribute of the line "
            f"({self.fallback_example}); the ground truth was read from the line's other "
            "image-classification attributes."
        ]

    def _fall_back(self, line: int, jobs: list[str], truth: list[_Truth]) -> None:
        """Count a line whose listed jobs match none of its attributes (ambiguity 2)."""
        self.fallback_lines += 1
        if self.fallback_lines == 1:
            self.first_fallback = line
            found = ", ".join(
                repr(attribute) + (f" (job-name {job!r})" if job else "")
                for attribute, job, _, _ in truth
            )
            self.fallback_example = f"listed {sorted(jobs)}, found {found}"

    def _check_jobs(self, names: Any, attribute: str, line: int) -> None:
        """A labelling-jobs list must be a list of names (the last one checked is remembered)."""
        if names != self.valid_jobs:
            if type(names) is not list or any(type(n) is not str for n in names):
                raise self.error(line, f"labelling jobs of {attribute!r} are not names")
            self.valid_jobs = names

    def read_documented(self, document: dict[str, Any]) -> bool:
        """The parser's hot loop: a line in the documented form, or False to read it the long way.

        Documented form: every label attribute ``X`` is a value and an ``X-metadata`` object
        (besides ``source-ref``; no ``-metadata`` key holds anything but an object) of type
        single-label image classification with a class name;
        a prediction has version-1 details listing the labelling jobs the previous lines listed
        (validated by the long way), its flags and a numeric confidence; an attribute without
        details is ground truth by its name and job-name (neither the evaluation's); on a line
        with predictions every ground-truth attribute carries a listed job-name; the line is
        single-label unless the file already is multi-label. Anything else, every error,
        ambiguity and note included, is left to :meth:`read_any`: this path decides nothing
        differently, and changes nothing unless it returns True.
        """
        truth: list[str] = []
        scores: dict[str, float] = {}
        jobs = self.valid_jobs
        multi = self.multi_label
        metadata_count = 0
        unlisted = False  # a ground-truth attribute whose job-name is not a listed job
        for key, metadata in document.items():
            if type(metadata) is not dict:
                # Attribute values and source-ref (the key count below checks the rest); a
                # -metadata that is not an object is the long way's error ("a" first: cheap).
                if key[-1:] == "a" and key.endswith("-metadata"):
                    return False
                continue
            if not key.endswith("-metadata"):
                return False
            metadata_count += 1
            kind = metadata.get("type")
            name = metadata.get("class-name")
            if (kind != _SINGLE_LABEL and kind is not None) or type(name) is not str:
                return False
            details = metadata.get(DETAILS)
            if details is None:
                job = metadata.get("job-name")
                if key.startswith(EVALUATION_PREFIX) or job == EVALUATION_JOB:
                    return False  # an undetailed prediction
                if job not in jobs:
                    unlisted = True
                truth.append(name)
                continue
            if type(details) is not dict or details.get("version", 1) != 1:
                return False
            listed = details.get(_JOBS_FIELD)
            if listed is not jobs and listed != jobs:
                return False
            confidence = metadata.get("confidence", 0.0)
            if type(confidence) is not float and type(confidence) is not int:
                return False
            if details.get("is-true-positive") is True or details.get("is-false-positive") is True:
                # A multi-label prediction is a set: any confidence the long way counts will do
                # (NaN and below -1 never count there).
                if (multi and confidence >= -1.0) or confidence >= scores.get(name, -1.0):
                    scores[name] = confidence
            elif (
                "is-true-positive" not in details
                and "is-false-positive" not in details
                and "is-true-negative" not in details
                and "is-false-negative" not in details
            ):
                return False  # no flag at all (ambiguity 4)
        n_truth = len(truth)
        predictions = metadata_count - n_truth
        if (
            (unlisted and predictions)  # another job's attribute, or the fallback: the long way
            or len(document) != 2 * metadata_count + 1
            or not metadata_count
            or NO_LABEL in scores
            or NO_LABEL in truth
        ):
            return False
        if n_truth == 1:
            labels: tuple[str, ...] = (truth[0],)
        elif not n_truth:
            labels = ()
        elif multi:
            labels = tuple(truth)  # a set: its order and repeats do not count
        else:
            return False  # the file may turn multi-label here
        if len(scores) < 2 or multi:
            predicted = tuple(scores)  # multi-label: a set, its order does not count
        else:
            best = min(scores, key=lambda name: (-scores[name], name))
            predicted = (best, *sorted(name for name in scores if name != best))
        if predictions and not self.saw_prediction:
            self.saw_prediction = True
        if n_truth and not self.saw_truth:
            self.saw_truth = True
        observation = (labels, predicted)
        counts = self.counts
        counts[observation] = counts.get(observation, 0) + 1
        return True

    def read_any(self, document: dict[str, Any], line: int) -> None:
        """Any accepted form of a line (the module docstring's readings), or its error."""
        truth: list[_Truth] = []
        undetailed: list[tuple[str, dict[str, Any]]] = []
        scores: dict[str, float] = {}
        job_lists: list[list[str]] = []  # the labelling-jobs lists of the line's predictions
        attributes = 0
        for key, metadata in document.items():
            if not key.endswith("-metadata"):
                continue
            attributes += 1
            if type(metadata) is not dict:
                raise self.error(line, f"{key!r} is not a JSON object")
            kind = metadata.get("type")
            if kind != _SINGLE_LABEL and kind != _MULTI_LABEL and kind is not None:
                raise self.error(
                    line,
                    f"attribute {key[:-9]!r} has type {kind!r}: "
                    "only image-classification evaluations are supported",
                )
            details = metadata.get(DETAILS)
            if details is not None:
                name = metadata.get("class-name")
                if (
                    type(details) is not dict
                    or type(name) is not str
                    or (details.get("version", 1) != 1)
                ):
                    self._predict(document, key[:-9], metadata, details, scores, job_lists, line)
                    continue
                self.saw_prediction = True
                listed = details.get(LABELLING_JOBS[0])
                if listed is None:
                    listed = details.get(LABELLING_JOBS[1])
                if listed is not None and (not job_lists or listed != job_lists[-1]):
                    self._check_jobs(listed, key[:-9], line)
                    job_lists.append(listed)
                confidence = metadata.get("confidence", 0.0)
                if type(confidence) is not float and type(confidence) is not int:
                    raise self.error(
                        line, f"confidence of {name!r} in {key[:-9]!r} is not a number"
                    )
                # Ambiguity 4: above the threshold, or no flag at all.
                if (
                    details.get("is-true-positive") is True
                    or details.get("is-false-positive") is True
                    or (
                        "is-true-positive" not in details
                        and "is-false-positive" not in details
                        and "is-true-negative" not in details
                        and "is-false-negative" not in details
                    )
                ) and confidence >= scores.get(name, -1.0):
                    scores[name] = confidence
                continue
            attribute = key[:-9]
            job = metadata.get("job-name")
            if type(job) is not str:
                job = None  # only names can match ground-truth-labelling-jobs
            if attribute.startswith(EVALUATION_PREFIX) or job == EVALUATION_JOB:
                undetailed.append((attribute, metadata))
                continue
            name = metadata.get("class-name")
            if type(name) is str:
                truth.append((attribute, job, (name,), False))
            else:
                names = tuple(
                    name for name, _ in self._entries(document, attribute, metadata, line)
                )
                truth.append((attribute, job, names, True))
        if undetailed:
            shared_details = document.get(DETAILS)
            if shared_details is not None and len(undetailed) > 1:
                raise self.error(
                    line,
                    f"a line-level {DETAILS!r} with several prediction attributes "
                    f"({', '.join(name for name, _ in undetailed)}) is ambiguous",
                )
            for attribute, metadata in undetailed:
                self._predict(
                    document, attribute, metadata, shared_details, scores, job_lists, line
                )

        if not attributes:
            raise self.error(
                line,
                "no label attribute (neither ground truth nor prediction, no '*-metadata' "
                "field): not a line of an image-classification evaluation",
            )
        if truth and job_lists:  # ambiguity 2: listed by attribute name or by job-name
            jobs = job_lists[0] if len(job_lists) == 1 else sorted(set().union(*job_lists))
            if jobs:
                listed = [t for t in truth if t[0] in jobs or t[1] in jobs]
                if listed:
                    truth = listed
                else:
                    self._fall_back(line, jobs, truth)
        if len(truth) == 1 and not truth[0][3]:
            labels = truth[0][2]
            self.saw_truth = True
        elif truth:
            labels = tuple(sorted({name for _, _, names, _ in truth for name in names}))
            self.saw_truth = True
            if not self.multi_label and (len(labels) > 1 or any(t[3] for t in truth)):
                self._become_multi_label()
        else:
            labels = ()
        if NO_LABEL in labels or NO_LABEL in scores:
            raise self.error(line, f"the label name {NO_LABEL!r} is reserved")
        # Keys stay few: a set for multi-label data, else the best prediction then the others
        # by name (the rest is only needed should the data turn out to be multi-label).
        if len(scores) < 2:
            predicted = tuple(scores)
        elif self.multi_label:
            predicted = tuple(sorted(scores))
        else:
            best = min(scores, key=lambda name: (-scores[name], name))
            predicted = (best, *sorted(name for name in scores if name != best))
        observation = (labels, predicted)
        counts = self.counts
        counts[observation] = counts.get(observation, 0) + 1

    def observations(self) -> dict[Observation, int]:
        """The image count of each observation, every key in its canonical order.

        Multi-label lines are counted under their labels and predictions as the line lists
        them (sorting every line's sets is a third of the hot loop's time). The parse hands
        ``counts`` as they are to ``EvaluationData.from_observations``, whose masks do not
        depend on the order; this canonical view (lines that differ only in order merged) is
        how two readings are compared.
        """
        if not self.multi_label:
            return self.counts
        merged: dict[Observation, int] = {}
        for (labels, predicted), count in self.counts.items():
            key = (tuple(sorted(set(labels))), tuple(sorted(predicted)))
            merged[key] = merged.get(key, 0) + count
        return merged

    def _become_multi_label(self) -> None:
        """Re-key the images counted so far: their predictions' order no longer matters."""
        self.multi_label = True
        counts: dict[Observation, int] = {}
        for (labels, predicted), count in self.counts.items():
            key = (labels, tuple(sorted(predicted)))
            counts[key] = counts.get(key, 0) + count
        self.counts = counts

    def _predict(
        self,
        document: dict[str, Any],
        attribute: str,
        metadata: dict[str, Any],
        details: Any,
        scores: dict[str, float],
        job_lists: list[list[str]],
        line: int,
    ) -> None:
        """Record what a prediction attribute predicts (label -> best confidence)."""
        self.saw_prediction = True
        counted = True
        if details is not None:
            if type(details) is not dict:
                raise self.error(line, f"{DETAILS} of {attribute!r} is not a JSON object")
            if details.get("version", 1) != 1:
                raise self.error(line, f"unsupported {DETAILS} version {details['version']!r}")
            names = details.get(LABELLING_JOBS[0])
            if names is None:
                names = details.get(LABELLING_JOBS[1])
            if names is not None:
                self._check_jobs(names, attribute, line)
                job_lists.append(names)
            # Ambiguity 4: above the threshold, or no flag at all.
            counted = (
                details.get("is-true-positive") is True
                or details.get("is-false-positive") is True
                or (
                    "is-true-positive" not in details
                    and "is-false-positive" not in details
                    and "is-true-negative" not in details
                    and "is-false-negative" not in details
                )
            )
        name = metadata.get("class-name")
        if type(name) is str:
            confidence = metadata.get("confidence", 0.0)
            if type(confidence) is not float and type(confidence) is not int:
                raise self.error(line, f"confidence of {name!r} in {attribute!r} is not a number")
            if counted and confidence >= scores.get(name, -1.0):
                scores[name] = confidence
            return
        # Ambiguity 3: a multi-label attribute lists what it predicts, whatever the flags.
        for name, confidence in self._entries(document, attribute, metadata, line):
            if type(confidence) is not float and type(confidence) is not int:
                raise self.error(line, f"confidence of {name!r} in {attribute!r} is not a number")
            if confidence >= scores.get(name, -1.0):
                scores[name] = confidence

    def _entries(
        self, document: dict[str, Any], attribute: str, metadata: dict[str, Any], line: int
    ) -> _Entries:
        """(label, confidence) of a multi-label attribute (a class-map and a list of ids)."""
        if "class-name" in metadata:
            raise self.error(line, f"class-name of {attribute!r} is not a string")
        class_map = metadata.get("class-map")
        class_ids = document.get(attribute)
        confidences = metadata.get("confidence-map", {})
        if type(class_map) is not dict or type(class_ids) is not list:
            raise self.error(
                line,
                f"attribute {attribute!r} is not image classification: its metadata has no "
                "class-name, nor a class-map for a list of class ids",
            )
        if type(confidences) is not dict:
            raise self.error(line, f"confidence-map of {attribute!r} is not a JSON object")
        entries: _Entries = []
        for class_id in class_ids:
            name = class_map.get(str(class_id))
            if type(name) is not str:
                raise self.error(line, f"class id {class_id!r} of {attribute!r} has no name")
            entries.append((name, confidences.get(str(class_id), 0.0)))
        return entries

"""The lineage record of a trained model version: where it lives, what it holds, how it is read.

One JSON object per trained version, written by the training workflow next to the version's
evaluation report in the artifacts bucket (:func:`lineage_key`), whatever the gate decided. It
says which data the version was trained and tested on (S3 URIs with their version IDs and
ETags, dataset ARNs), which run trained it (execution ARN, code version, times), how it was
judged (gate settings and verdict, ``metrics.json``) and what it is (the model version ARN).

Readers: ``python -m ops lineage``, the Rekognition promotion workflow (it refuses a version
whose recorded verdict did not pass) and the SageMaker registry (a model package carries the
record's URI and a flat summary, :func:`customer_metadata`). Every reader goes through
:func:`parse_lineage`, which refuses a malformed record with one line naming the field.

The schema is versioned (:data:`SCHEMA_VERSION`): a reader refuses a version it does not know
rather than guess; a change that removes or retypes a field raises the version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from contracts.naming import PIPELINES, REKOGNITION, SAGEMAKER
from contracts.s3_layout import sagemaker_report_prefix, version_report_prefix

SCHEMA_VERSION = 1
LINEAGE_FILE = "lineage.json"
#: The environment variable that carries the code version (the git commit at synth).
CODE_VERSION_VARIABLE = "CODE_VERSION"
#: The code version outside a git checkout.
UNKNOWN_CODE_VERSION = "unknown"
#: Tags the workflows put on a trained version (Rekognition project version, SageMaker
#: training job): the record's URI, the verdict and the code version.
LINEAGE_TAG = "Lineage"
GATE_PASSED_TAG = "GatePassed"
CODE_VERSION_TAG = "CodeVersion"

_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/\S.{0,1023}")
_ARN = re.compile(r"arn:aws[a-z\-]*:[a-z0-9\-]+:[a-z0-9\-]*:\d{12}:\S{1,1800}")
_EXECUTION_ARN = re.compile(r"arn:aws[a-z\-]*:states:[a-z0-9\-]+:\d{12}:execution:\S{1,400}")


class LineageError(ValueError):
    """A lineage record that cannot be trusted: the message is one line naming the field."""


def reports_prefix(pipeline: str, project: str, version: str) -> str:
    """The folder of a version's reports (``metrics.json``, ``report.html``, ``lineage.json``)
    in the artifacts bucket (``contracts.s3_layout``): ``reports/<project>/<version>/``
    (Rekognition) or ``sagemaker/reports/<training job>/`` (SageMaker, whose ``project`` is not
    in the key: the job, its model and its package share the job's name)."""
    if pipeline == REKOGNITION:
        return version_report_prefix(project, version)
    if pipeline == SAGEMAKER:
        return sagemaker_report_prefix(version)
    raise LineageError(f"pipeline: one of {', '.join(PIPELINES)}, got {pipeline!r}")


def lineage_key(pipeline: str, project: str, version: str) -> str:
    """The S3 key of a version's lineage record in the artifacts bucket."""
    return reports_prefix(pipeline, project, version) + LINEAGE_FILE


def lineage_uri(bucket: str, pipeline: str, project: str, version: str) -> str:
    return f"s3://{bucket}/{lineage_key(pipeline, project, version)}"


@dataclass(frozen=True)
class S3ObjectRef:
    """An S3 object (or, for a SageMaker channel, a prefix) exactly as it was read.

    ``version_id`` and ``etag`` are None for a prefix, and ``version_id`` is None for an object
    in an unversioned bucket (the environment's buckets are versioned).
    """

    uri: str
    version_id: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class GateRecord:
    """The gate's settings and its verdict."""

    #: What the gate was configured with (metric, threshold, min_label_recall, ...).
    settings: dict[str, Any]
    passed: bool
    #: Why it did not pass; empty when it passed.
    reasons: list[str]
    metric: str
    value: float
    threshold: float


@dataclass(frozen=True)
class LineageRecord:
    """Schema version 1 of ``lineage.json``. Times are ISO 8601 with a UTC offset."""

    pipeline: Literal["rekognition", "sagemaker"]
    environment: str
    #: Rekognition project name; for SageMaker, the model package group name.
    project: str
    #: Rekognition version name; for SageMaker, the training job name.
    version: str
    #: Rekognition: the project version ARN. SageMaker: the training job ARN.
    model_version_arn: str
    execution_arn: str
    code_version: str
    training_data: list[S3ObjectRef]
    test_data: list[S3ObjectRef]
    #: Dataset ARNs by type ("train", "test"); empty for SageMaker.
    datasets: dict[str, str]
    gate: GateRecord
    metrics_uri: str
    created_at: str
    finished_at: str
    #: The HTML report (Rekognition), None where there is none.
    report_uri: str | None = None
    #: SageMaker: the model.tar.gz; None for Rekognition.
    model_artifacts_uri: str | None = None
    schema_version: int = SCHEMA_VERSION
    #: Anything a pipeline adds that readers need not understand.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def parse_lineage(data: Any, *, source: str = "lineage record") -> LineageRecord:
    """Validate ``data`` (a dict, JSON text or bytes) and return the record.

    Raises :class:`LineageError` with one line (``"<source>: <field>: <problem>"``) for the
    first problem found: not JSON, an unknown schema version, a missing or mistyped field.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise LineageError(f"{source}: not UTF-8 text ({error.reason})") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise LineageError(f"{source}: not JSON ({error.msg} at line {error.lineno})") from None
    reader = _Fields(data, source)
    version = reader.value("schema_version", int)
    if version != SCHEMA_VERSION:
        reader.fail(
            "schema_version", f"this reader knows version {SCHEMA_VERSION}, got {version!r}"
        )
    pipeline = reader.value("pipeline", str)
    if pipeline not in PIPELINES:
        reader.fail("pipeline", f"one of {', '.join(PIPELINES)}, got {pipeline!r}")
    gate = _Fields(reader.value("gate", dict), f"{source}: gate")
    passed = gate.value("passed", bool)
    reasons = gate.value("reasons", list)
    if not all(isinstance(reason, str) for reason in reasons):
        gate.fail("reasons", "a list of strings")
    if passed and reasons:
        gate.fail("reasons", "a gate that passed has no reasons")
    if not passed and not reasons:
        gate.fail("reasons", "a gate that did not pass says why")
    datasets = reader.value("datasets", dict)
    for kind, arn in datasets.items():
        if not isinstance(arn, str) or not _ARN.fullmatch(arn):
            reader.fail(f"datasets.{kind}", f"not an ARN: {arn!r}")
    record = LineageRecord(
        schema_version=version,
        pipeline=pipeline,
        environment=reader.text("environment", _NAME),
        project=reader.text("project", _NAME),
        version=reader.text("version", _NAME),
        model_version_arn=reader.text("model_version_arn", _ARN),
        execution_arn=reader.text("execution_arn", _EXECUTION_ARN),
        code_version=reader.text("code_version", re.compile(r"\S{1,128}")),
        training_data=_objects(reader, "training_data"),
        test_data=_objects(reader, "test_data"),
        datasets=dict(datasets),
        gate=GateRecord(
            settings=dict(gate.value("settings", dict)),
            passed=passed,
            reasons=list(reasons),
            metric=gate.value("metric", str),
            value=gate.number("value"),
            threshold=gate.number("threshold"),
        ),
        metrics_uri=reader.text("metrics_uri", _S3_URI),
        report_uri=reader.optional_text("report_uri", _S3_URI),
        model_artifacts_uri=reader.optional_text("model_artifacts_uri", _S3_URI),
        created_at=reader.time("created_at"),
        finished_at=reader.time("finished_at"),
        extra=dict(reader.value("extra", dict, default={})),
    )
    if not record.training_data and "train" not in record.datasets:
        reader.fail("training_data", "names no data (and datasets has no train dataset)")
    return record


def utc_time(timestamp: str | None = None) -> str:
    """``timestamp`` (ISO 8601, e.g. ``$$.Execution.StartTime`` with its ``Z``), or now, as the
    record spells times: seconds, explicit ``+00:00``. A time without an offset is UTC."""
    parsed = datetime.now(UTC) if timestamp is None else datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


def customer_metadata(record: LineageRecord, uri: str) -> dict[str, str]:
    """The record in SageMaker's ``CustomerMetadataProperties`` of a model package: at most 50
    entries, keys <= 128 and values <= 256 characters of letters, digits, spaces and
    ``_.:/=+-@`` (other characters become ``_``); the full record is at ``uri``."""
    entries = {
        "lineage": uri,
        "environment": record.environment,
        "version": record.version,
        "execution": record.execution_arn,
        "code_version": record.code_version,
        "gate_passed": "true" if record.gate.passed else "false",
        "gate_metric": record.gate.metric,
        "gate_value": repr(record.gate.value),
        "gate_threshold": repr(record.gate.threshold),
        "metrics": record.metrics_uri,
        "created_at": record.created_at,
        "finished_at": record.finished_at,
    }
    for role, refs in (("training_data", record.training_data), ("test_data", record.test_data)):
        for index, ref in enumerate(refs[:5]):
            entries[f"{role}_{index}"] = ref.uri
            if ref.version_id:
                entries[f"{role}_{index}_version"] = ref.version_id
            if ref.etag:
                entries[f"{role}_{index}_etag"] = ref.etag
    return {key: _metadata_value(value) for key, value in list(entries.items())[:50]}


_METADATA_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")


def _metadata_value(value: str) -> str:
    return _METADATA_UNSAFE.sub("_", value)[:256] or "_"


def _objects(reader: _Fields, name: str) -> list[S3ObjectRef]:
    items = reader.value(name, list)
    refs = []
    for index, item in enumerate(items):
        entry = _Fields(item, f"{reader.source}: {name}[{index}]")
        refs.append(
            S3ObjectRef(
                uri=entry.text("uri", _S3_URI),
                version_id=entry.optional_text("version_id", re.compile(r"\S{1,1024}")),
                etag=entry.optional_text("etag", re.compile(r"\S{1,1024}")),
            )
        )
    return refs


class _Fields:
    """Typed reads of a JSON object's fields, each failing with one line naming the field."""

    _MISSING = object()

    def __init__(self, data: Any, source: str) -> None:
        if not isinstance(data, Mapping):
            raise LineageError(f"{source}: must be a JSON object, got {type(data).__name__}")
        self.data, self.source = data, source

    def fail(self, name: str, problem: str) -> Any:
        raise LineageError(f"{self.source}: {name}: {problem}")

    def value(self, name: str, kind: type, *, default: Any = _MISSING) -> Any:
        if name not in self.data or self.data[name] is None:
            if default is not self._MISSING:
                return default
            self.fail(name, "missing")
        value = self.data[name]
        # JSON has no int/bool distinction Python keeps: a boolean is not a number here.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(name, f"must be {_KINDS.get(kind, kind.__name__)}, got {value!r:.60}")
        return value

    def text(self, name: str, pattern: re.Pattern[str]) -> str:
        value: str = self.value(name, str)
        if not pattern.fullmatch(value):
            self.fail(name, f"not a valid value: {value!r:.80}")
        return value

    def optional_text(self, name: str, pattern: re.Pattern[str]) -> str | None:
        if self.data.get(name) is None:
            return None
        return self.text(name, pattern)

    def number(self, name: str) -> float:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, f"must be a number, got {value!r:.60}")
        return float(value)  # type: ignore[arg-type]

    def time(self, name: str) -> str:
        value: str = self.value(name, str)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(name, f"not an ISO 8601 time: {value!r:.60}")
        if parsed.utcoffset() is None:
            self.fail(name, f"needs a UTC offset: {value!r:.60}")
        return value


_KINDS = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}

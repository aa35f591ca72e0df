"""Validation of a training request, shared by the workflow's first state and ``ops train start``.

A request names the training data (a dataset to copy or a Ground Truth manifest in the data
bucket), optionally the test data (or an automatic split), a version name and gate overrides.
The result is the normalized *job* the state machine runs on. Every problem is reported at once,
with the field it concerns, before anything is created or billed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.quality_gate import GATE_METRICS
from contracts.s3_layout import model_output_prefix, version_report_prefix

_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>\S.{0,1023})")
_DATASET_ARN = re.compile(
    r"arn:aws[a-z\-]*:rekognition:[a-z0-9\-]+:\d{12}:project/(?P<project>[a-zA-Z0-9_.\-]{1,255})"
    r"/dataset/(?P<type>train|test)/\d+"
)
_TOP_LEVEL = {
    "project_name",
    "version_name",
    "training_data",
    "test_data",
    "use_existing_datasets",
    "gate",
}


class InvalidTrainingInput(ValueError):  # noqa: N818 - the name is the workflow's error name
    """The request cannot be run; the message lists every problem with its field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def version_name_for(execution_name: str) -> str:
    """A version name unique per execution, derived from the execution's own name."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.\-]", "-", execution_name).strip("-") or "run"
    return f"v-{cleaned}"[:255]


def normalize_job(
    request: Any,
    *,
    execution_name: str,
    project_name: str,
    data_bucket: str | None,
    default_gate: Mapping[str, Any],
) -> dict[str, Any]:
    """Validate ``request`` and return the job document the workflow runs on.

    ``data_bucket`` None checks everything but the manifests' bucket: ``ops train start``
    checks the request's form so before it looks the bucket up in AWS, then again with it.
    Raises :class:`InvalidTrainingInput` listing every problem found.
    """
    problems: list[str] = []
    if not isinstance(request, Mapping):
        raise InvalidTrainingInput(
            [f"the input must be a JSON object, got {_json_kind(request)}: {request!r:.80}"]
        )
    for unknown in sorted(set(request) - _TOP_LEVEL):
        problems.append(
            f"{unknown}: unknown field (expected one of {', '.join(sorted(_TOP_LEVEL))})"
        )

    requested_project = request.get("project_name", project_name)
    if requested_project != project_name:
        problems.append(
            f"project_name: this environment trains project {project_name!r} only (its IAM "
            f"permissions are scoped to it), got {requested_project!r}"
        )

    # Absent (or null): derived from the execution. Given, even empty: used as given or refused.
    version_name = request.get("version_name")
    if version_name is None:
        version_name = version_name_for(execution_name)
    elif not isinstance(version_name, str) or not _NAME.fullmatch(version_name):
        problems.append(
            f"version_name: 1-255 letters, digits, '_', '.' or '-', got {version_name!r}"
        )
        version_name = version_name_for(execution_name)

    datasets = _datasets(request, project_name, data_bucket, problems)
    gate = _gate(request.get("gate"), default_gate, problems)
    if problems:
        raise InvalidTrainingInput(problems)
    return {
        "project_name": project_name,
        "version_name": version_name,
        "output_prefix": model_output_prefix(project_name, version_name),
        "report_prefix": version_report_prefix(project_name, version_name),
        "datasets": datasets,
        "gate": gate,
    }


def _json_kind(value: Any) -> str:
    """How JSON names the type of ``value`` (the caller sent JSON, not Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _datasets(
    request: Mapping[str, Any], project_name: str, data_bucket: str | None, problems: list[str]
) -> dict[str, Any]:
    use_existing = request.get("use_existing_datasets", False)
    if not isinstance(use_existing, bool):
        problems.append(f"use_existing_datasets: must be true or false, got {use_existing!r}")
        use_existing = False
    if use_existing:
        for field in ("training_data", "test_data"):
            if field in request:
                problems.append(f"{field}: not allowed with use_existing_datasets")
        return {"mode": "existing", "test_mode": "existing"}
    if "training_data" not in request:
        problems.append(
            "training_data: required ({'dataset_arn': ...} or {'manifest_s3_uri': 's3://...'}), "
            "unless use_existing_datasets is true"
        )
        return {"mode": "create", "test_mode": "auto_split"}
    train = _source("training_data", request["training_data"], project_name, data_bucket, problems)
    test_request = request.get("test_data", {"auto_split": True})
    if isinstance(test_request, Mapping) and test_request.get("auto_split") is True:
        if len(test_request) != 1:
            problems.append("test_data: auto_split takes no other field")
        return {"mode": "create", "train_source": train, "test_mode": "auto_split"}
    test = _source("test_data", test_request, project_name, data_bucket, problems)
    return {"mode": "create", "train_source": train, "test_mode": "source", "test_source": test}


def _source(
    field: str, value: Any, project_name: str, data_bucket: str | None, problems: list[str]
) -> dict[str, Any]:
    """A CreateDataset ``DatasetSource`` from ``{"dataset_arn"}`` or ``{"manifest_s3_uri"}``."""
    if not isinstance(value, Mapping) or len(value) != 1:
        problems.append(
            f"{field}: give exactly one of dataset_arn or manifest_s3_uri"
            + ("" if field == "training_data" else " (or auto_split: true)")
        )
        return {}
    ((kind, text),) = value.items()
    if kind == "dataset_arn":
        match = _DATASET_ARN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            problems.append(f"{field}.dataset_arn: not a Rekognition dataset ARN: {text!r}")
            return {}
        if match["project"] == project_name:
            problems.append(
                f"{field}.dataset_arn: belongs to project {project_name!r}, whose datasets are "
                "replaced by this run; to train on them as they are, send "
                "{'use_existing_datasets': true}"
            )
        return {"DatasetArn": text}
    if kind == "manifest_s3_uri":
        match = _S3_URI.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            problems.append(f"{field}.manifest_s3_uri: not an s3://bucket/key URI: {text!r}")
            return {}
        if data_bucket is not None and match["bucket"] != data_bucket:
            problems.append(
                f"{field}.manifest_s3_uri: manifests must be in this environment's data bucket "
                f"{data_bucket!r} (the workflow may read only there), got {match['bucket']!r}"
            )
        return {
            "GroundTruthManifest": {"S3Object": {"Bucket": match["bucket"], "Name": match["key"]}}
        }
    problems.append(f"{field}: unknown source {kind!r} (dataset_arn or manifest_s3_uri)")
    return {}


def _gate(override: Any, default_gate: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    gate = dict(default_gate)
    if override is None:
        return gate
    if not isinstance(override, Mapping):
        problems.append(f"gate: must be an object, got {override!r}")
        return gate
    for key, value in override.items():
        if key == "metric":
            if value not in GATE_METRICS:
                problems.append(f"gate.metric: one of {', '.join(GATE_METRICS)}; got {value!r}")
                continue
        elif key in ("threshold", "min_label_recall"):
            if value is None and key == "min_label_recall":
                pass
            elif (
                isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
            ):
                problems.append(f"gate.{key}: a number in [0, 1], got {value!r}")
                continue
        else:
            problems.append(f"gate.{key}: unknown (metric, threshold, min_label_recall)")
            continue
        gate[key] = value
    return gate

"""Which version of the source environment a promotion copies, and whether it may copy it.

The request names a version (its name or its ARN) or none, and then the source's published
version (its SSM parameter) is taken. The version's lineage record, read from the source's
artifacts bucket, must be the source environment's record of that version, and its gate
verdict must be a pass: a version the source's gate rejected is never promoted. Each refusal
is an exception whose class is the workflow's error name and whose message says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.naming import REKOGNITION
from shared.lineage import (
    LineageError,
    LineageRecord,
    lineage_key,
    parse_lineage,
)
from shared.model_version import ModelVersion

VERSION_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_PROJECT_ARN = re.compile(
    r"arn:aws[a-z-]*:rekognition:[a-z0-9-]+:\d{12}:project/(?P<project>[a-zA-Z0-9_.\-]{1,255})"
    r"/(?P<created>\d{1,20})"
)
_REQUEST_KEYS = frozenset({"version", "source_project_arn", "requested_by"})
#: What a missing report URI reads as in notifications (States.Format takes strings).
NO_REPORT = "none"


class PromotionRequestError(Exception):
    """The execution input is not a promotion request."""


class SourceVersionUnknownError(Exception):
    """No version given and the source publishes none (or one of another project)."""


class LineageNotFoundError(Exception):
    """The source version has no lineage record: nothing says it passed a gate."""


class LineageInvalidError(Exception):
    """The record is malformed or describes another environment, project or version."""


class SourceNotReadableError(Exception):
    """The source's artifacts bucket (or its key) refuses this environment's role."""


class SourceGateNotPassedError(Exception):
    """The source's gate rejected the version: it is not promoted."""


class SourceProjectUnknownError(Exception):
    """Neither the request nor the record gives the source project's ARN."""


@dataclass(frozen=True)
class SourceSettings:
    """Where the source environment keeps what the promotion reads (the function's env)."""

    environment: str
    bucket: str
    project: str
    parameter: str
    target_project: str


def read_request(request: Any) -> dict[str, str]:
    """The request's fields, or :class:`PromotionRequestError` naming what is wrong."""
    if not isinstance(request, Mapping):
        raise PromotionRequestError(
            'the input must be a JSON object such as {"version": "<version name or ARN>"} '
            "(or {} to promote the source environment's published version); start it with "
            f"python -m ops promote, got {type(request).__name__}"
        )
    unknown = sorted(set(request) - _REQUEST_KEYS)
    if unknown:
        raise PromotionRequestError(
            f"unknown field {unknown[0]!r}; known: {', '.join(sorted(_REQUEST_KEYS))}"
        )
    fields = {}
    for key, value in request.items():
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise PromotionRequestError(f"{key} must be a non-empty string, got {value!r}")
        fields[key] = value.strip()
    return fields


def source_version(
    fields: Mapping[str, str], settings: SourceSettings, read_parameter: Callable[[str], str | None]
) -> tuple[str, str | None]:
    """The version name to promote, and its ARN when the request or the parameter gave one."""
    given = fields.get("version")
    if given is None:
        published = read_parameter(settings.parameter)
        if published is None:
            raise SourceVersionUnknownError(
                f"no version given and {settings.environment} has published none (SSM "
                f"parameter {settings.parameter} does not exist): name one with --version"
            )
        given, origin = published, f"SSM parameter {settings.parameter}"
    else:
        origin = "the request"
    if given.startswith("arn:"):
        model = ModelVersion.parse(given)
        if model is None:
            raise PromotionRequestError(f"{origin}: not a model version ARN: {given!r}")
        if model.project != settings.project:
            raise (SourceVersionUnknownError if origin != "the request" else PromotionRequestError)(
                f"{origin} names a version of project {model.project!r}; this environment "
                f"promotes from {settings.environment}'s project {settings.project!r}"
            )
        return model.version, model.arn
    if not VERSION_NAME.fullmatch(given):
        raise PromotionRequestError(
            f"version must be a version name (letters, digits, _.-) or its ARN, got {given!r}"
        )
    return given, None


def lineage_location(settings: SourceSettings, version: str) -> tuple[str, str]:
    """The record's bucket and key (``shared.lineage`` owns the layout)."""
    return settings.bucket, lineage_key(REKOGNITION, settings.project, version)


def checked_record(body: bytes, uri: str, settings: SourceSettings, version: str) -> LineageRecord:
    """The parsed record, refused unless it is the source's passing record of ``version``."""
    try:
        record = parse_lineage(body, source=uri)
    except LineageError as error:
        raise LineageInvalidError(str(error)) from None
    expected = {
        "pipeline": REKOGNITION,
        "environment": settings.environment,
        "project": settings.project,
        "version": version,
    }
    for name, value in expected.items():
        if getattr(record, name) != value:
            raise LineageInvalidError(
                f"{uri}: {name} is {getattr(record, name)!r}, expected {value!r}; the record "
                "does not describe the version being promoted"
            )
    gate = record.gate
    if not gate.passed:
        raise SourceGateNotPassedError(
            f"version {version} of {settings.environment} did not pass its quality gate "
            f"({gate.metric} = {gate.value}, threshold {gate.threshold}: "
            f"{'; '.join(gate.reasons)}); only a version that passed is promoted (lineage "
            f"{uri})"
        )
    return record


def promotion_state(
    record: LineageRecord,
    uri: str,
    settings: SourceSettings,
    fields: Mapping[str, str],
    version_arn: str | None,
) -> dict[str, Any]:
    """What the workflow carries on: ``job`` (the target's project and version names, as the
    deployment reads them), ``source`` (what CopyProjectVersion copies) and ``evaluation``
    (the source's gate, as the deployment's notification reports it)."""
    if version_arn is not None and version_arn != record.model_version_arn:
        raise LineageInvalidError(
            f"{uri}: model_version_arn is {record.model_version_arn}, but the version to "
            f"promote is {version_arn}"
        )
    model = ModelVersion.parse(record.model_version_arn)
    if model is None or model.project != settings.project:
        raise LineageInvalidError(
            f"{uri}: model_version_arn {record.model_version_arn!r} is not a "
            f"version of project {settings.project!r}"
        )
    project_arn = fields.get("source_project_arn") or record.extra.get("project_arn")
    if not isinstance(project_arn, str) or not project_arn:
        raise SourceProjectUnknownError(
            f"the lineage record {uri} does not give the source project's ARN: start the "
            "promotion with python -m ops promote, which looks it up in the source account"
        )
    match = _PROJECT_ARN.fullmatch(project_arn)
    if match is None or match["project"] != settings.project:
        raise PromotionRequestError(
            f"source_project_arn must be the ARN of project {settings.project!r}, got "
            f"{project_arn!r}"
        )
    if not record.model_version_arn.startswith(project_arn.rsplit("/", 1)[0] + "/version/"):
        raise PromotionRequestError(
            f"source_project_arn {project_arn} is in another account or region than version "
            f"{record.model_version_arn}"
        )
    gate = record.gate
    return {
        "job": {"project_name": settings.target_project, "version_name": model.version},
        "source": {
            "environment": settings.environment,
            "project_arn": project_arn,
            "version_arn": record.model_version_arn,
            "version_name": model.version,
            "lineage_uri": uri,
            "execution_arn": record.execution_arn,
            "code_version": record.code_version,
            "requested_by": fields.get("requested_by", "unknown"),
        },
        "evaluation": {
            "gate": {
                "metric": gate.metric,
                "value": gate.value,
                "threshold": gate.threshold,
                "passed": gate.passed,
                "reasons": list(gate.reasons),
            },
            "metrics": {gate.metric: gate.value, "metrics_uri": record.metrics_uri},
            "report_uri": record.report_uri or NO_REPORT,
        },
    }

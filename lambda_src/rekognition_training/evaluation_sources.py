"""From a trained version to its evaluation report: shared by the ``Evaluate`` Lambda and
``python -m ops report``, so the files an operator computes are byte for byte the stored ones.

Rekognition describes a trained version (DescribeProjectVersions) with its summary file at
``EvaluationResult.Summary.S3Object`` and its evaluation manifest snapshots at
``TestingDataResult.Output.Assets[].GroundTruthManifest.S3Object``. :func:`evaluation_sources`
finds them, :func:`read_evaluation` streams them from S3 into ``shared.evaluation``,
:func:`evaluate` computes the metrics and the gate's verdict, and :meth:`Evaluation.files` renders
``metrics.json`` (the metrics plus the verdict) and ``report.html``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rekognition_training.gate import Verdict, aggregate_metrics, evaluate_gate
from shared.evaluation.manifest import (
    EvaluationSummary,
    ManifestError,
    parse_manifest_lines,
    parse_summary,
)
from shared.evaluation.metrics import EvaluationData, MetricsReport, compute_metrics
from shared.evaluation.report_html import METRICS_FILE, REPORT_FILE, GateVerdict, render_html
from shared.s3_location import S3Location


class EvaluationMissing(ValueError):  # noqa: N818 - the name is the workflow's error name
    """The version has no evaluation results to read."""


@dataclass(frozen=True)
class EvaluationSources:
    """Where a version's evaluation is, and the service's own F1 score if it reports one."""

    summary: S3Location
    manifests: tuple[S3Location, ...]
    service_f1: float | None


def evaluation_sources(description: Mapping[str, Any]) -> EvaluationSources:
    """The evaluation files of a ``ProjectVersionDescription``; :class:`EvaluationMissing` if none.

    A version that is still training, or whose training failed, has none.
    """
    summary = _object(description, "EvaluationResult", "Summary", "S3Object")
    testing = _child(_child(description, "TestingDataResult"), "Output")
    assets = testing.get("Assets") if isinstance(testing, Mapping) else None
    manifests = tuple(
        _object(asset, "GroundTruthManifest", "S3Object")
        for asset in (assets if isinstance(assets, list) else [])
    )
    if not manifests:
        raise EvaluationMissing("TestingDataResult.Output.Assets lists no evaluation manifest")
    f1 = _child(description, "EvaluationResult").get("F1Score")
    return EvaluationSources(
        summary=summary,
        manifests=manifests,
        service_f1=float(f1) if isinstance(f1, int | float) and not isinstance(f1, bool) else None,
    )


def read_summary(s3: Any, source: S3Location) -> EvaluationSummary:
    """Download and validate the summary file (a small JSON document)."""
    body = s3.get_object(Bucket=source.bucket, Key=source.key)["Body"].read()
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ManifestError(source.uri, f"not a JSON document: {error}") from error
    return parse_summary(document, source=source.uri)


def manifest_lines(s3: Any, sources: Sequence[S3Location]) -> Iterator[bytes]:
    """The lines of the manifest snapshots, streamed (a snapshot is never held whole)."""
    for source in sources:
        body = s3.get_object(Bucket=source.bucket, Key=source.key)["Body"]
        yield from body.iter_lines(keepends=True)


def read_evaluation(s3: Any, sources: EvaluationSources) -> EvaluationData:
    """Read the summary and the manifest snapshots into ``shared.evaluation``'s counts."""
    summary = read_summary(s3, sources.summary)
    return parse_manifest_lines(
        manifest_lines(s3, sources.manifests), summary, source=sources.manifests[0].uri
    )


@dataclass(frozen=True)
class Evaluation:
    """The report of one version: metrics, the gate-able aggregates, the gate's verdict."""

    report: MetricsReport
    aggregates: dict[str, float]
    verdict: Verdict | None

    def files(self) -> dict[str, tuple[bytes, str]]:
        """``metrics.json`` and ``report.html``: file name -> (content, content type)."""
        document: Mapping[str, Any] = (
            self.report if self.verdict is None else {**self.report, "gate": self.verdict}
        )
        html_verdict = (
            None
            if self.verdict is None
            else GateVerdict(
                passed=self.verdict["passed"],
                metric=self.verdict["metric"],
                value=self.verdict["value"],
                threshold=self.verdict["threshold"],
                reasons=self.verdict["reasons"],
            )
        )
        return {
            METRICS_FILE: (
                json.dumps(document, indent=2, ensure_ascii=False).encode(),
                "application/json",
            ),
            REPORT_FILE: (
                render_html(self.report, html_verdict).encode(),
                "text/html; charset=utf-8",
            ),
        }


def evaluate(
    data: EvaluationData, gate: Mapping[str, Any] | None, service_f1: float | None = None
) -> Evaluation:
    """Metrics of ``data`` and, given a ``gate``, its verdict (``GateMetricMissing`` if unknown).

    ``service_f1``: the version description's F1 score; the summary file's when not given.
    """
    report = compute_metrics(data)
    if service_f1 is None:
        service_f1 = data.service_f1
    aggregates = aggregate_metrics(report, service_f1)
    verdict = None
    if gate is not None:
        per_label = report["per_label"]  # the real labels only: an abstention is not a label
        recall = {label: scores["recall"] for label, scores in per_label.items()}
        support = {label: scores["support"] for label, scores in per_label.items()}
        verdict = evaluate_gate(gate, aggregates, recall, support)
    return Evaluation(report=report, aggregates=aggregates, verdict=verdict)


def _child(node: Any, name: str) -> Mapping[str, Any]:
    value = node.get(name) if isinstance(node, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _object(description: Any, *path: str) -> S3Location:
    node: Any = description
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    if (
        not isinstance(node, Mapping)
        or not isinstance(node.get("Bucket"), str)
        or not isinstance(node.get("Name"), str)
    ):
        raise EvaluationMissing(
            f"the version description has no {'.'.join(path)} (training did not produce an "
            "evaluation)"
        )
    return S3Location(bucket=node["Bucket"], key=node["Name"])

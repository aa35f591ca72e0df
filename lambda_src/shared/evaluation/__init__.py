"""Evaluation reports for Rekognition Custom Labels classification models, standard library only.

It runs in the gating Lambda (no numpy, no scikit-learn) and in the operator CLI::

    from shared.evaluation import evaluate_manifest, write_report

    metrics = evaluate_manifest("testing-snapshot.manifest", "EvaluationSummary.json")
    write_report(metrics, "out/", verdict)

``manifest`` reads the evaluation manifest snapshot and summary file, ``metrics`` computes the
figures (scikit-learn's conventions over the project's real labels: an abstention is a miss,
never a class), ``report_html`` writes ``metrics.json`` and ``report.html``, and ``verdict``
says how a gate verdict is decided and spelled (PASSED or REJECTED, up to float rounding).
"""

from .manifest import (
    EvaluationSummary,
    ManifestError,
    evaluate_manifest,
    load_summary,
    parse_manifest,
    parse_manifest_lines,
    parse_summary,
)
from .metrics import NO_LABEL, EvaluationData, MetricsReport, compute_metrics
from .report_html import GateVerdict, render_html, write_report
from .verdict import PASSED, REJECTED, verdict_word

__all__ = [
    "NO_LABEL",
    "PASSED",
    "REJECTED",
    "EvaluationData",
    "EvaluationSummary",
    "GateVerdict",
    "ManifestError",
    "MetricsReport",
    "compute_metrics",
    "evaluate_manifest",
    "load_summary",
    "parse_manifest",
    "parse_manifest_lines",
    "parse_summary",
    "render_html",
    "verdict_word",
    "write_report",
]

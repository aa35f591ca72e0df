"""``ops train report``: the shared evaluation report, from local files or a trained version."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ops import common, report
from ops.cli import main
from ops.train import common as train_common
from rekognition_training import evaluate as evaluate_handler
from shared.evaluation.manifest import load_summary, parse_manifest
from shared.evaluation.metrics import compute_metrics
from shared.evaluation.report_html import render_html
from tests.evaluation_data import ManifestSpec, write_manifest, write_summary
from tests.unit.ops_training.support import (
    ACCOUNT,
    ARTIFACTS,
    LABELS,
    PROJECT,
    REGION,
    T0,
    Aws,
    ScriptedRekognition,
    error_line,
    run,
    version_arn,
)


def test_report_from_local_files_writes_the_shared_report(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    manifest, summary = evaluation_files
    out = tmp_path / "report"

    code = run("report", f"--manifest={manifest}", f"--summary={summary}", f"--out={out}")

    assert code == 0
    expected = compute_metrics(parse_manifest(manifest, load_summary(summary)))
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(expected)
    )
    assert (out / "report.html").read_text(encoding="utf-8") == render_html(expected)
    printed = capsys.readouterr().out
    assert re.search(rf"│ accuracy +│ +{expected['accuracy']:.4f} │", printed)
    assert f"Evaluation of {manifest}\n" in printed
    assert "Gate: none given" in printed
    assert f"Wrote {out / 'metrics.json'}" in printed


def test_report_from_local_files_with_a_gate(
    evaluation_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, summary = evaluation_files
    out = tmp_path / "report"

    code = run(
        "report",
        f"--manifest={manifest}",
        f"--summary={summary}",
        f"--out={out}",
        "--gate-metric=f1_macro",
        "--gate-threshold=0.99",
    )

    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["gate"]["metric"] == "f1_macro"
    assert metrics["gate"]["value"] == pytest.approx(metrics["f1"]["macro"])
    assert metrics["gate"]["passed"] is False
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<strong>REJECTED</strong>: f1_macro" in html
    assert "FAILED" not in html
    assert "Gate: REJECTED f1_macro = " in capsys.readouterr().out


def test_report_shows_its_progress_on_a_large_manifest(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, summary = evaluation_files
    size = manifest.stat().st_size
    monkeypatch.setattr(report, "PROGRESS_BYTES", size)  # "large" from this size on
    arguments = ["report", f"--manifest={manifest}", f"--summary={summary}"]

    assert main([*arguments, f"--out={tmp_path / 'plain'}"]) == 0
    out = capsys.readouterr().out
    assert size > 100_000
    assert f"Reading manifest eval.manifest: {size / 1e6:,.1f} MB\n" in out
    assert f"Read {size / 1e6:,.1f} MB of manifest eval.manifest\n" in out

    screen = io.StringIO()
    monkeypatch.setattr(
        common, "make_console", lambda: Console(file=screen, force_terminal=True, width=120)
    )
    assert main([*arguments, f"--out={tmp_path / 'bar'}"]) == 0
    assert "manifest eval.manifest" in screen.getvalue()
    assert "\x1b[" in screen.getvalue()  # a bar, redrawn in place
    assert (tmp_path / "bar" / "metrics.json").read_bytes() == (
        tmp_path / "plain" / "metrics.json"
    ).read_bytes()

    screen.seek(0)
    screen.truncate()
    monkeypatch.setattr(report, "PROGRESS_BYTES", size + 1)  # smaller: no progress at all
    assert main([*arguments, f"--out={tmp_path / 'small'}"]) == 0
    assert "manifest eval.manifest" not in screen.getvalue()
    assert "accuracy" in screen.getvalue()  # the table still is


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _as_object_detection(line: str) -> str:
    document = json.loads(line)
    document["bounding-box"] = {"annotations": []}
    document["bounding-box-metadata"] = {"type": "groundtruth/object-detection"}
    return json.dumps(document)


def _ground_truth_only(line: str) -> str:
    document = json.loads(line)
    return json.dumps({k: v for k, v in document.items() if "evaluation" not in k})


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("missing manifest", "cannot read the manifest: No such file or directory"),
        ("missing summary", "cannot read the summary file: No such file or directory"),
        ("malformed line", "eval.manifest, line 7: malformed JSON"),
        ("object detection", "line 3: attribute 'bounding-box' has type"),
        ("no predictions", "not an evaluation manifest snapshot"),
    ],
)
def test_report_refuses_unusable_local_files(
    evaluation_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    fragment: str,
) -> None:
    manifest, summary = evaluation_files
    lines = manifest.read_text(encoding="utf-8").splitlines()
    if damage == "missing manifest":
        manifest.unlink()
    elif damage == "missing summary":
        summary.unlink()
    elif damage == "malformed line":
        lines[6] = lines[6][:-3]
        _write_lines(manifest, lines)
    elif damage == "object detection":
        lines[2] = _as_object_detection(lines[2])
        _write_lines(manifest, lines)
    else:
        _write_lines(manifest, [_ground_truth_only(line) for line in lines])
    out = tmp_path / "report"

    code = main(
        ["report", "--manifest", str(manifest), "--summary", str(summary), "--out", str(out)]
    )

    assert code == 2
    assert fragment in error_line(capsys)
    assert not out.exists()


def test_report_gate_metric_the_evaluation_lacks(
    evaluation_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, summary = evaluation_files
    document = json.loads(summary.read_text(encoding="utf-8"))
    del document["AggregatedEvaluationResults"]  # no service F1 score
    summary.write_text(json.dumps(document), encoding="utf-8")

    code = run(
        "report",
        f"--manifest={manifest}",
        f"--summary={summary}",
        f"--out={tmp_path / 'r'}",
        "--gate-metric=f1_score",
        "--gate-threshold=0.5",
    )

    assert code == 2
    assert "--gate-metric: the gate metric 'f1_score' is not in this evaluation" in (
        error_line(capsys)
    )


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            ["--manifest", "m", "--summary", "s", "--env", "dev", "--version", "v"],
            "--manifest --summary (local files) and --env --version (a trained version) are "
            "mutually exclusive",
        ),
        ([], "give --manifest and --summary (local files), or --env and --version"),
        (["--manifest", "m"], "local files: give both --manifest and --summary"),
        (["--env", "dev"], "a trained version: give --env and --version"),
        (
            ["--manifest", "m", "--summary", "s", "--gate-threshold", "0.5"],
            "a gate needs both --gate-metric and --gate-threshold",
        ),
        (
            ["--manifest", "m", "--summary", "s", "--gate-metric", "auc", "--gate-threshold", "1"],
            "--gate-metric: one of f1_score",
        ),
        (
            ["--env", "dev", "--version", "v", "--gate-threshold", "1.5"],
            "--gate-threshold: a number in [0, 1], got 1.5",
        ),
    ],
)
def test_report_option_conflicts_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], fragment: str
) -> None:
    assert main(["report", "--out", str(tmp_path / "r"), *options]) == 2

    assert fragment in error_line(capsys)


# --- report: a trained version -----------------------------------------------------------------


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "evaluate"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:evaluate"
    aws_request_id: str = "request-1"


def _description(version: str, prefix: str, manifests: int = 2) -> dict[str, Any]:
    return {
        "ProjectVersionArn": version_arn(version),
        "CreationTimestamp": T0,
        "Status": "TRAINING_COMPLETED",
        "StatusMessage": "The model is ready to run.",
        "EvaluationResult": {
            "F1Score": 0.91,
            "Summary": {"S3Object": {"Bucket": ARTIFACTS, "Name": prefix + "summary.json"}},
        },
        "TestingDataResult": {
            "Output": {
                "Assets": [
                    {
                        "GroundTruthManifest": {
                            "S3Object": {"Bucket": ARTIFACTS, "Name": f"{prefix}eval-{n}.manifest"}
                        }
                    }
                    for n in range(manifests)
                ]
            }
        },
    }


def test_report_of_a_trained_version_equals_what_the_workflow_stores(
    aws: Aws,
    rekognition: ScriptedRekognition,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"models/{PROJECT}/v1/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=90, seed=5))
    write_summary(summary, LABELS, f1=0.9)
    lines = manifest.read_bytes().splitlines(keepends=True)
    aws.s3.put_object(Bucket=ARTIFACTS, Key=prefix + "eval-0.manifest", Body=b"".join(lines[:40]))
    aws.s3.put_object(Bucket=ARTIFACTS, Key=prefix + "eval-1.manifest", Body=b"".join(lines[40:]))
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    description = _description("v1", prefix)
    rekognition.project()
    rekognition.version("v1", [description])
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v1", "--out", str(out)]) == 0

    # The Evaluate step on the same version, with the environment's gate.
    monkeypatch.setenv("ARTIFACTS_BUCKET", ARTIFACTS)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ImageClassification/dev")
    monkeypatch.setattr(evaluate_handler, "s3", aws.s3)
    monkeypatch.setattr(evaluate_handler.metrics, "namespace", "ImageClassification/dev")
    job = {
        "project_name": PROJECT,
        "version_name": "v1",
        "report_prefix": f"reports/{PROJECT}/v1/",
        "gate": train_common.default_gate(common.environment("dev")),
    }
    evaluate_handler.lambda_handler({"job": job, "version": description}, LambdaContext())
    for name in ("metrics.json", "report.html"):
        stored = aws.s3.get_object(Bucket=ARTIFACTS, Key=f"reports/{PROJECT}/v1/{name}")
        assert (out / name).read_bytes() == stored["Body"].read(), name

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    expected = compute_metrics(parse_manifest(manifest, load_summary(summary)))
    assert {k: v for k, v in metrics.items() if k != "gate"} == json.loads(json.dumps(expected))
    # dev's gate on the service's F1 from the version description (0.91), not the summary's.
    assert metrics["gate"]["metric"] == "f1_score"
    assert metrics["gate"]["value"] == 0.91
    assert metrics["gate"]["passed"] is True
    assert "Gate: PASSED f1_score = 0.9100 (threshold 0.8500)" in capsys.readouterr().out


def test_report_finds_the_project_and_the_version_on_later_pages(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path
) -> None:
    """A filtered DescribeProjects/DescribeProjectVersions page may be empty with a NextToken."""
    prefix = f"models/{PROJECT}/v3/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=30, seed=3))
    write_summary(summary, LABELS)
    aws.s3.upload_file(str(manifest), ARTIFACTS, prefix + "eval-0.manifest")
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    rekognition.project(empty_pages=2)
    rekognition.version("v3", [_description("v3", prefix, manifests=1)], empty_pages=1)
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v3", "--out", str(out)]) == 0

    assert (out / "metrics.json").exists()


def test_report_of_a_trained_version_with_a_gate_override(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path
) -> None:
    prefix = f"models/{PROJECT}/v2/"
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=50, seed=2))
    write_summary(summary, LABELS)
    aws.s3.upload_file(str(manifest), ARTIFACTS, prefix + "eval-0.manifest")
    aws.s3.upload_file(str(summary), ARTIFACTS, prefix + "summary.json")
    rekognition.project()
    rekognition.version("v2", [_description("v2", prefix, manifests=1)])
    out = tmp_path / "report"

    code = run(
        "report",
        "--env=dev",
        f"--project={PROJECT}",
        "--version=v2",
        f"--out={out}",
        "--gate-threshold=0.95",
        "--min-label-recall=0.99",
    )

    assert code == 0
    gate = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["gate"]
    assert (gate["metric"], gate["threshold"], gate["passed"]) == ("f1_score", 0.95, False)
    assert any("recall of" in reason for reason in gate["reasons"])


def _without_evaluation(status: str, message: str) -> dict[str, Any]:
    return {
        "ProjectVersionArn": version_arn("v3"),
        "CreationTimestamp": T0,
        "Status": status,
        "StatusMessage": message,
    }


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("unknown project", "--project: no project named 'imgclf-dev-image-classifier'"),
        ("unknown version", "--version: project 'imgclf-dev-image-classifier' has no version 'v3'"),
        (
            "training",
            "version 'v3' has no evaluation: training has not finished (status "
            "TRAINING_IN_PROGRESS: The model is being trained.)",
        ),
        (
            "failed",
            "version 'v3' has no evaluation: training failed (status TRAINING_FAILED: "
            "The manifest file contains too many invalid data lines.)",
        ),
    ],
)
def test_report_of_a_version_that_cannot_be_reported(
    rekognition: ScriptedRekognition,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    script: str,
    fragment: str,
) -> None:
    rekognition.project(found=script != "unknown project")
    if script == "unknown version":
        rekognition.version("v3", [])
    elif script == "training":
        rekognition.version(
            "v3", [_without_evaluation("TRAINING_IN_PROGRESS", "The model is being trained.")]
        )
    elif script == "failed":
        message = "The manifest file contains too many invalid data lines."
        rekognition.version("v3", [_without_evaluation("TRAINING_FAILED", message)])
    out = tmp_path / "report"

    assert main(["report", "--env", "dev", "--version", "v3", "--out", str(out)]) == 2

    assert fragment in error_line(capsys)
    assert not out.exists()


def test_report_of_a_version_whose_files_are_gone(
    aws: Aws, rekognition: ScriptedRekognition, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rekognition.project()
    rekognition.version("v4", [_description("v4", f"models/{PROJECT}/v4/")])

    assert main(["report", "--env", "dev", "--version", "v4", "--out", str(tmp_path / "r")]) == 3

    assert "cannot read the evaluation files" in error_line(capsys)

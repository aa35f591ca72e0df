"""``ops report``: the report the training workflow stores, of local files or a trained version."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from contracts.quality_gate import GATE_METRICS
from ops import common
from ops.common import (
    EXIT_OK,
    AwsEnvironmentError,
    UsageError,
    aws_failure,
    environment,
)
from ops.train.common import (
    add_gate_options,
    default_gate,
    gate_text,
)
from rekognition_training.evaluation_sources import (
    Evaluation,
    EvaluationMissing,
    EvaluationSources,
    evaluate,
    evaluation_sources,
    manifest_lines,
    read_summary,
)
from rekognition_training.gate import GateMetricMissing
from shared.evaluation.manifest import (
    EvaluationSummary,
    ManifestError,
    load_summary,
    parse_manifest_lines,
)
from shared.rekognition_lookup import ListingTooLong, find_project, find_version

#: A manifest at least this large gets a progress bar while ``report`` reads it.
PROGRESS_BYTES = 8 * 1024 * 1024


def _check_fraction(option: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise UsageError(f"{option}: a number in [0, 1], got {value:g}")


def report_gate(arguments: argparse.Namespace, base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The gate to judge with: ``base`` (the environment's) overridden by the options."""
    if arguments.gate_metric is not None and arguments.gate_metric not in GATE_METRICS:
        raise UsageError(
            f"--gate-metric: one of {', '.join(GATE_METRICS)}; got {arguments.gate_metric!r}"
        )
    _check_fraction("--gate-threshold", arguments.gate_threshold)
    _check_fraction("--min-label-recall", arguments.min_label_recall)
    gate: dict[str, Any] = dict(base or {})
    for key, value in (
        ("metric", arguments.gate_metric),
        ("threshold", arguments.gate_threshold),
        ("min_label_recall", arguments.min_label_recall),
    ):
        if value is not None:
            gate[key] = value
    return gate


def command_report(arguments: argparse.Namespace) -> int:
    local = [
        o for o, v in (("--manifest", arguments.manifest), ("--summary", arguments.summary)) if v
    ]
    remote = [
        o
        for o, v in (
            ("--env", arguments.env),
            ("--project", arguments.project),
            ("--version", arguments.version),
        )
        if v
    ]
    if local and remote:
        raise UsageError(
            f"{' '.join(local)} (local files) and {' '.join(remote)} (a trained version) are "
            "mutually exclusive"
        )
    if not local and not remote:
        raise UsageError(
            "give --manifest and --summary (local files), or --env and --version (a trained "
            "version)"
        )
    if local:
        evaluation, source = _local_evaluation(arguments)
    else:
        evaluation, source = _version_evaluation(arguments)
    return _write_report(evaluation, source, Path(arguments.out))


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count / 1e3:,.0f} kB"


@dataclass
class ReadingProgress:
    """Progress while ``report`` reads a manifest: a bar on a terminal, two lines otherwise;
    nothing for small manifests (they take well under a second)."""

    console: Console
    total_bytes: int
    label: str
    _done: int = 0
    _pending: int = 0
    _progress: Progress | None = None
    _task: Any = None

    def __enter__(self) -> ReadingProgress:
        if self.total_bytes < PROGRESS_BYTES:
            return self
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn(escape(self.label)),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total_bytes)
        else:
            self.console.print(f"Reading {self.label}: {_size(self.total_bytes)}", highlight=False)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, error, trace)
        elif self.total_bytes >= PROGRESS_BYTES and kind is None:
            self.console.print(f"Read {_size(self._done)} of {self.label}", highlight=False)

    def lines(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        """``lines`` as they are, counting their bytes (the bar moves every MiB)."""
        for line in lines:
            self._pending += len(line)
            if self._pending >= 1 << 20:
                self._advance()
            yield line
        self._advance()

    def _advance(self) -> None:
        self._done += self._pending
        if self._progress is not None:
            self._progress.advance(self._task, self._pending)
        self._pending = 0


def _local_evaluation(arguments: argparse.Namespace) -> tuple[Evaluation, str]:
    if not (arguments.manifest and arguments.summary):
        raise UsageError("local files: give both --manifest and --summary")
    gate: dict[str, Any] | None = None
    if any(
        value is not None
        for value in (arguments.gate_metric, arguments.gate_threshold, arguments.min_label_recall)
    ):
        if arguments.gate_metric is None or arguments.gate_threshold is None:
            raise UsageError(
                "local files: a gate needs both --gate-metric and --gate-threshold (there is no "
                "environment gate to complete it)"
            )
        gate = report_gate(arguments, None)
    try:
        summary = load_summary(arguments.summary)
        data = _parse_local(arguments.manifest, summary)
    except ManifestError as error:
        raise UsageError(str(error)) from error
    return _judge(data, gate, None), arguments.manifest


def _parse_local(path: str, summary: EvaluationSummary) -> Any:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with block below
        size = Path(path).stat().st_size
    except OSError as exc:
        raise ManifestError(path, f"cannot read the manifest: {exc.strerror}") from exc
    with (
        handle,
        ReadingProgress(common.make_console(), size, f"manifest {Path(path).name}") as reading,
    ):
        return parse_manifest_lines(reading.lines(handle), summary, source=path)


def _read_evaluation(s3: Any, sources: EvaluationSources) -> Any:
    """``read_evaluation`` of the Evaluate step, with a progress bar over the manifests."""
    summary = read_summary(s3, sources.summary)
    size = sum(
        int(s3.head_object(Bucket=source.bucket, Key=source.key).get("ContentLength", 0))
        for source in sources.manifests
    )
    label = f"evaluation manifest{'s' if len(sources.manifests) > 1 else ''}"
    with ReadingProgress(common.make_console(), size, label) as reading:
        return parse_manifest_lines(
            reading.lines(manifest_lines(s3, sources.manifests)),
            summary,
            source=sources.manifests[0].uri,
        )


def _version_evaluation(arguments: argparse.Namespace) -> tuple[Evaluation, str]:
    if not (arguments.env and arguments.version):
        raise UsageError("a trained version: give --env and --version (and --project if needed)")
    config = environment(arguments.env)
    gate = report_gate(arguments, default_gate(config))
    project = arguments.project or config.rekognition.project_name
    rekognition = common.aws_client("rekognition", config.region)
    try:
        found = find_project(rekognition, project)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot describe project {project!r}") from error
    except ListingTooLong as error:
        raise AwsEnvironmentError(f"cannot describe project {project!r}: {error}") from error
    if found is None:
        raise UsageError(f"--project: no project named {project!r} in this account and region")
    try:
        description = find_version(rekognition, found["ProjectArn"], arguments.version)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot describe version {arguments.version!r}") from error
    except ListingTooLong as error:
        raise AwsEnvironmentError(
            f"cannot describe version {arguments.version!r}: {error}"
        ) from error
    if description is None:
        raise UsageError(f"--version: project {project!r} has no version {arguments.version!r}")
    try:
        sources = evaluation_sources(description)
    except EvaluationMissing as error:
        status = description.get("Status", "?")
        hint = {
            "TRAINING_IN_PROGRESS": "training has not finished",
            "TRAINING_FAILED": "training failed",
        }.get(status, "it was not evaluated")
        message = description.get("StatusMessage")
        raise UsageError(
            f"version {arguments.version!r} has no evaluation: {hint} (status {status}"
            f"{f': {message}' if message else ''}); {error}"
        ) from error
    try:
        data = _read_evaluation(common.aws_client("s3", config.region), sources)
    except ManifestError as error:
        raise UsageError(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, "cannot read the evaluation files") from error
    return _judge(data, gate, sources.service_f1), description.get("ProjectVersionArn", "")


def _judge(data: Any, gate: dict[str, Any] | None, service_f1: float | None) -> Evaluation:
    try:
        evaluation: Evaluation = evaluate(data, gate, service_f1)
    except GateMetricMissing as error:
        raise UsageError(f"--gate-metric: {error}") from error
    return evaluation


def _write_report(evaluation: Evaluation, source: str, out: Path) -> int:
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, (content, _content_type) in evaluation.files().items():
            (out / name).write_bytes(content)
            paths.append(out / name)
    except OSError as error:
        raise UsageError(f"--out: cannot write the report into {out}: {error}") from error
    report = evaluation.report
    console = common.make_console()
    print(f"Evaluation of {source}")
    table = Table(show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("Task", report["task"].replace("_", "-"))
    table.add_row("Test images", str(report["n_images"]))
    table.add_row("Labels", str(len(report["labels"])))
    for name, value in sorted(evaluation.aggregates.items()):
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    verdict = evaluation.verdict
    if verdict is None:
        console.print("Gate: none given", highlight=False)
    else:
        colour = "green" if verdict["passed"] else "red"
        word, _, text = gate_text(verdict, spelled_out=True).partition(" ")
        console.print(f"Gate: [{colour}]{word}[/{colour}] {escape(text)}", highlight=False)
        for reason in verdict["reasons"]:
            console.print(f"  - {escape(reason)}", highlight=False)
    for path in paths:
        print(f"Wrote {path}")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add ``report`` to the ``ops`` subparsers."""

    report = commands.add_parser(
        "report",
        help="evaluation report (metrics.json, report.html) of local files or a trained version",
        description="Compute the evaluation report the training workflow stores (metrics, "
        "confusion matrix, gate verdict) from local files (--manifest, --summary) or from a "
        "trained version (--env, --version), and write metrics.json and report.html into --out. "
        "Large manifests show a progress bar.",
    )
    report.add_argument("--manifest", metavar="PATH", help="evaluation manifest snapshot file")
    report.add_argument("--summary", metavar="PATH", help="training results summary file")
    report.add_argument("--env", help="environment name from cdk.json (a trained version)")
    report.add_argument("--project", metavar="NAME", help="default: rekognition.project_name")
    report.add_argument("--version", metavar="NAME", help="model version name")
    report.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    add_gate_options(report, "default: the environment's quality_gate, none for local files")
    report.set_defaults(handler=command_report)

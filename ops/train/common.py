"""What the ``train`` commands and ``report`` share: the stack they read, the gate, formats."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.outputs import TRAINING_STATE_MACHINE_ARN
from contracts.quality_gate import GATE_METRICS
from ops.common import (
    EXIT_FAILING,
    EXIT_USAGE,
    AwsEnvironmentError,
)
from shared.evaluation.verdict import figures, gate_line
from stacks.config import EnvironmentConfig

CONCERN = "RekognitionTraining"
STATE_MACHINE_OUTPUT = TRAINING_STATE_MACHINE_ARN

EXIT_RUN_FAILED = EXIT_FAILING

FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


def console_url(execution_arn: str) -> str:
    """The Step Functions console page of an execution."""
    region = execution_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def default_gate(config: EnvironmentConfig) -> dict[str, Any]:
    """The environment's quality gate, as the workflow's ValidateInput receives it."""
    gate = config.quality_gate
    return {
        "metric": gate.metric,
        "threshold": gate.threshold,
        "min_label_recall": gate.min_label_recall,
    }


def refuse(problems: list[str]) -> int:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_USAGE


def stack_output(outputs: Mapping[str, str], key: str, stack: str) -> str:
    try:
        return outputs[key]
    except KeyError:
        raise AwsEnvironmentError(
            f"stack {stack} has no output {key}: deploy the current app"
        ) from None


def gate_text(gate: Mapping[str, Any], *, spelled_out: bool = False) -> str:
    """``f1_macro = 0.9123 (0.9000)``: the gate's metric, its value and (threshold).

    With the digits it takes to tell value and threshold apart (``shared.evaluation.verdict``);
    ``spelled_out`` adds the verdict word and "threshold", and the gap of a rejection.
    """
    try:
        value, threshold = float(gate["value"]), float(gate["threshold"])
    except (KeyError, TypeError, ValueError):
        return ""
    if spelled_out:  # the workflow's notification prints this same line (the gate's summary)
        gap = gate.get("gap")
        return gate_line(
            gate.get("passed") is True,
            str(gate.get("metric")),
            value,
            threshold,
            float(gap) if isinstance(gap, int | float) else None,
        )
    shown, limit = figures(value, threshold)
    return f"{gate.get('metric')} = {shown} ({limit})"


def timestamp(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def json_or_none(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def json_object(text: Any) -> dict[str, Any]:
    """A JSON text's object, or an empty one (for output/input that is missing or not one)."""
    document = json_or_none(text)
    return document if isinstance(document, dict) else {}


def add_gate_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--gate-metric", metavar="M", help=f"gate metric ({', '.join(GATE_METRICS)}); {default}"
    )
    parser.add_argument("--gate-threshold", type=float, metavar="X", help="in [0, 1]")
    parser.add_argument(
        "--min-label-recall", type=float, metavar="X", help="per-label recall floor, in [0, 1]"
    )

"""``ops train list``: recent runs with outcome, gate and version."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from ops.cli import main
from tests.unit.ops_training.support import (
    T0,
    Aws,
    error_line,
    replace_client,
)

# --- train list --------------------------------------------------------------------------------


def _row(out: str, name: str) -> str:
    (line,) = [line for line in out.splitlines() if f" {name} " in line]
    return line


def test_list_shows_recent_runs_with_outcome_gate_and_version(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.run("run-deployed", {"simulate": "deployed", "version_name": "v-chosen"})
    aws.run("run-rejected", {"simulate": "rejected"})
    aws.run("run-failed", {"simulate": "failed"})

    assert main(["train", "list", "--env", "dev"]) == 0

    out = capsys.readouterr().out
    deployed, rejected, failed = (
        _row(out, name) for name in ("run-deployed", "run-rejected", "run-failed")
    )
    for fragment in ("SUCCEEDED", "DEPLOYED", "f1_score = 0.9300 (0.8500)", "v-chosen"):
        assert fragment in deployed, fragment
    for fragment in ("SUCCEEDED", "REJECTED", "f1_macro = 0.7100 (0.9000)", "v-run-rejected"):
        assert fragment in rejected, fragment
    for fragment in ("FAILED", "TrainingFailed", "v-run-failed"):
        assert fragment in failed, fragment
    # Newest first.
    assert out.index("run-failed") < out.index("run-rejected") < out.index("run-deployed")


def test_list_reads_further_pages_up_to_the_limit(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ListExecutions may return fewer than maxResults and a nextToken."""
    stepfunctions = boto3.client("stepfunctions")
    names = ("run-c", "run-b", "run-a")
    listed = [
        {
            "executionArn": f"{aws.state_machine}:{name}".replace(":stateMachine:", ":execution:"),
            "stateMachineArn": aws.state_machine,
            "name": name,
            "status": "SUCCEEDED",
            "startDate": T0,
        }
        for name in names
    ]
    request = {"stateMachineArn": aws.state_machine, "maxResults": 3}
    with Stubber(stepfunctions) as stubber:
        stubber.add_response(
            "list_executions", {"executions": listed[:1], "nextToken": "t1"}, request
        )
        stubber.add_response(
            "list_executions",
            {"executions": listed[1:], "nextToken": "t2"},
            {**request, "nextToken": "t1"},
        )
        for item in listed:
            stubber.add_response(
                "describe_execution",
                {
                    **item,
                    "input": json.dumps({"version_name": f"v-{item['name']}"}),
                    "output": json.dumps({"outcome": "DEPLOYED"}),
                    "stopDate": T0,
                },
                {"executionArn": item["executionArn"]},
            )
        replace_client(monkeypatch, "stepfunctions", stepfunctions)

        assert main(["train", "list", "--env", "dev", "--limit", "3"]) == 0

        stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    for name in names:
        assert f"v-{name}" in _row(out, name)


def test_list_limit_keeps_the_newest(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("first", "second", "third"):
        aws.run(f"run-{name}", {"simulate": "deployed"})

    assert main(["train", "list", "--env", "dev", "--limit", "2"]) == 0

    out = capsys.readouterr().out
    assert "run-third" in out
    assert "run-second" in out
    assert "run-first" not in out


def test_list_without_runs(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "list", "--env", "dev"]) == 0

    assert f"No training runs yet ({aws.state_machine})" in capsys.readouterr().out


def test_list_limit_out_of_range(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "list", "--env", "dev", "--limit", "0"]) == 2

    assert "argument --limit: must be between 1 and 1000, got 0" in error_line(capsys)

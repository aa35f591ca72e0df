"""``ops train watch`` on a real history: the synthesized training workflow, run locally with a
training that takes 41 polls, read back through the command.

The first version of ``watch`` printed every history event: about ten lines per poll, 3,000 for
a 26-hour training. The output must stay bounded by the run's steps, not its polls.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from ops import common, executions
from ops.cli import main
from tests.workflows.conftest import state_machine_id
from tests.workflows.harness import MOTO_CONFIG, LocalWorkflow, WorkflowRun
from tests.workflows.rekognition_training.support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    REGION,
    TRAIN_INPUT,
    Rekognition,
    put_evaluation,
)

TRAINING_POLLS = 41


class RecordedStepFunctions:
    """Answers ``watch``'s calls from a finished run: RUNNING until the history has been read
    ``running_polls`` times, then the run's real description."""

    def __init__(self, run: WorkflowRun, definition: dict[str, Any], running_polls: int) -> None:
        self.run = run
        self.definition = definition
        self.running_polls = running_polls
        self.history_reads = 0
        started = run.history[0]["timestamp"]
        self.description = {
            "executionArn": run.execution_arn,
            "name": "slow",
            "status": run.status,
            "startDate": started,
            "stopDate": run.history[-1]["timestamp"],
            "output": json.dumps(run.output),
        }

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        if self.history_reads <= self.running_polls:
            return {**self.description, "status": "RUNNING"}
        return self.description

    def describe_state_machine_for_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        return {"definition": json.dumps(self.definition)}

    def get_execution_history(self, **request: Any) -> dict[str, Any]:
        self.history_reads += 1
        # The run grows as it is watched: each read sees a bit more of it.
        visible = len(self.run.history) * self.history_reads // (self.running_polls + 1)
        return {"events": copy.deepcopy(self.run.history[: max(visible, 1)])}


@pytest.fixture(scope="module")
def slow_run(dev_templates, dev_stacks, tmp_path_factory) -> Iterator[tuple[WorkflowRun, Any]]:
    with mock_aws(config=MOTO_CONFIG):
        import boto3

        stack = dev_stacks.rekognition_training.stack_name
        workflow = LocalWorkflow(dev_templates, stack, state_machine_id(dev_templates[stack]))
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        rekognition = Rekognition(workflow, version="v-slow")
        rekognition.training_statuses = ["TRAINING_IN_PROGRESS"] * (TRAINING_POLLS - 1) + [
            "TRAINING_COMPLETED"
        ]
        rekognition.install()
        put_evaluation(tmp_path_factory.mktemp("evaluation"), "v-slow")
        run = workflow.run({**TRAIN_INPUT, "version_name": "v-slow"}, name="slow")
        yield run, workflow.definition


def test_a_long_run_prints_its_steps_not_its_polls(
    slow_run: tuple[WorkflowRun, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run, definition = slow_run
    assert run.status == "SUCCEEDED"
    assert len(run.history) > 500  # ~13 events per poll
    recorded = RecordedStepFunctions(run, definition, running_polls=6)
    monkeypatch.setattr(common, "client_factory", lambda service, region: recorded)
    moment = [0.0]
    monkeypatch.setattr(executions, "clock", lambda: moment[0])
    monkeypatch.setattr(executions, "sleep", lambda s: moment.__setitem__(0, moment[0] + s))
    monkeypatch.setattr(executions, "now", lambda: run.history[-1]["timestamp"] + timedelta(1))
    monkeypatch.setenv("COLUMNS", "250")

    code = main(["train", "watch", run.execution_arn, "--interval", "600", "--status-every", "20"])

    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # The run's steps, its loops begun and done, two status lines, the summary and outcome.
    assert len(lines) < 70, out
    assert "polling Training every 5 min 00 s, at most 312 checks" in out
    assert f"done polling Training: {TRAINING_POLLS} checks" in out
    assert "last status TRAINING_COMPLETED" in out
    assert "entered Evaluate (Task)" in out
    assert out.count("entered DescribeTraining") == 0  # inside the loop: the status line
    # Status lines every 20 minutes of watching, polls every 10: at 0, 20 and 40 minutes.
    status = [line for line in lines if line.startswith("status ")]
    assert len(status) == 3, status
    assert "check " in "".join(status)
    summary = [line for line in lines if line.startswith("Summary: ")]
    assert len(summary) == 1
    assert f"Training {TRAINING_POLLS} checks" in summary[0]
    assert f"{len(run.history)} history events" in summary[0]
    assert "DEPLOYED" in out

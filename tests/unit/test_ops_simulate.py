"""``python -m ops simulate``: bounded, refuses production, counts and times every result.

Rekognition runs against moto's S3 with a stand-in consumer writing the result and error records
where the real one does (``rekognition_inference.locations``); SageMaker's runs are scripted
with botocore's Stubber (DescribeExecution as documented: RUNNING, then SUCCEEDED or FAILED).
A fake clock makes the schedule and the waits exact and instant.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import moto.s3.models
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ops import simulate
from ops.cli import main
from rekognition_inference import locations

REGION = "eu-west-1"
DATA, ARTIFACTS = "data-bucket", "artifacts-bucket"
START = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def clock(self) -> simulate.Clock:
        return simulate.Clock(now=self.now, sleep=self.sleep)

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.t)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


# -- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_second"), [("2/s", 2.0), ("30/min", 0.5), ("36/h", 0.01), ("0.5 / s", 0.5)]
)
def test_rates_read_naturally(text, per_second):
    assert simulate.rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("45", 45)])
def test_durations_read_naturally(text, seconds):
    assert simulate.duration(text) == seconds


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--rate", "fast"], "--rate: expected N/s"),
        (["--rate", "51/s"], "at most 50"),
        (["--duration", "3h"], "at most 2 hours"),
        (["--duration", "0s"], "more than 0"),
        (["--burst", "0"], "--burst"),
        (["--pipeline", "textract"], "--pipeline"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(image_dir, arguments, fragment, capsys):
    argv = ["simulate", "--env", "dev", "--pipeline", "rekognition", "--images", str(image_dir)]
    assert main([*argv, *arguments]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert fragment in error


def test_production_is_refused_before_any_aws_call(image_dir, capsys, monkeypatch):
    monkeypatch.setattr(simulate, "aws_client", pytest.fail)  # any AWS call fails the test
    argv = ["simulate", "--env", "prod", "--pipeline", "sagemaker", "--images", str(image_dir)]

    assert main(argv) == 2
    assert "--allow-production" in capsys.readouterr().err


def test_a_directory_without_images_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "x.jpg").write_text("not really")
    argv = ["simulate", "--env", "dev", "--pipeline", "rekognition", "--images", str(tmp_path)]
    assert main(argv) == 2
    assert "no JPEG or PNG images (by content)" in capsys.readouterr().err


def test_images_are_chosen_by_content(image_dir):
    assert [p.name for p in simulate.local_images(str(image_dir)).files] == ["a.png", "b.png"]


# -- schedule and summary -----------------------------------------------------------------------


def test_a_steady_rate_sends_evenly_and_stops_by_itself():
    times = simulate.schedule(2.0, 10.0, burst=1, limit=10_000)
    assert len(times) == 20
    assert times[:3] == [0.0, 0.5, 1.0]
    assert times[-1] == 9.5


def test_bursts_keep_the_average_rate():
    times = simulate.schedule(2.0, 10.0, burst=5, limit=10_000)
    assert len(times) == 20
    assert times[:6] == [0.0] * 5 + [2.5]
    assert times.count(7.5) == 5


def test_max_images_bounds_the_run():
    assert len(simulate.schedule(50.0, 7200.0, burst=1, limit=100)) == 100


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert simulate.percentile(values, 0.5) == 10.0
    assert simulate.percentile(values, 0.95) == 19.0
    assert simulate.percentile([4.0], 0.95) == 4.0
    assert simulate.percentile([], 0.5) is None


# -- Rekognition ------------------------------------------------------------------------------


class Consumer(simulate.RekognitionPipeline):
    """The real pipeline object; after each upload a stand-in consumer writes the record."""

    def __init__(self, clock: FakeClock, s3: Any, source: simulate.Source, plan: dict[int, Any]):
        super().__init__(s3, DATA, ARTIFACTS, "images/simulate/run/", source, "proj", "v1")
        self.clock, self.plan = clock, plan
        self.now = clock.wall

    def send(self, index: int) -> simulate.Sent:
        item = super().send(index)
        outcome = self.plan.get(index, ("result", False, 3))
        if outcome is None:
            return item  # never answered
        kind, review, delay = outcome
        at = item.sent_at + timedelta(seconds=delay)
        moto.s3.models.utcnow = lambda: at.replace(tzinfo=None)
        if kind == "result":
            key = locations.result_key(item.key, "proj", "v1")
            body = {"input": item.key, "needs_review": review, "labels": []}
        else:
            key, body = locations.image_error_key(item.key), {"reason": "not_an_image"}
        self.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(body).encode())
        return item


def test_rekognition_results_are_counted_and_timed(image_dir, monkeypatch):
    clock = FakeClock()
    original = moto.s3.models.utcnow
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            for bucket in (DATA, ARTIFACTS):
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
                )
            plan = {1: ("result", True, 5), 2: ("error", False, 2), 3: None}
            pipeline = Consumer(clock, s3, simulate.local_images(str(image_dir)), plan)
            progress: list[int] = []
            summary = simulate.simulate(
                pipeline,
                simulate.schedule(1.0, 6.0, burst=1, limit=100),
                timeout_seconds=60,
                progress=lambda s, total: progress.append(len(s.sent)),
                clock=clock.clock(),
            )
            uploaded = s3.list_objects_v2(Bucket=DATA)["Contents"]
    finally:
        moto.s3.models.utcnow = original

    assert len(summary.sent) == 6
    assert [o["Key"] for o in uploaded][:2] == [
        "images/simulate/run/00000-a.png",
        "images/simulate/run/00001-b.png",
    ]  # the images cycle
    assert summary.count("classified") == 3
    assert summary.count("low confidence") == 1
    assert summary.count("failed") == 2  # an error record, and one never answered
    assert {i.detail for i in summary.sent if i.outcome == "failed"} == {
        "error record",
        "no result in time",
    }
    assert sorted(summary.latencies) == [2.0, 3.0, 3.0, 3.0, 5.0]
    assert progress[-1] == 6
    assert clock.t >= 60  # waited the whole timeout for the missing one, then stopped
    table = simulate.summary_table(summary, "dev", "rekognition")
    assert [column.header for column in table.columns][-3:] == ["Latency p50", "p95", "max"]


# -- SageMaker --------------------------------------------------------------------------------


def test_sagemaker_runs_are_started_counted_and_timed(image_dir):
    clock = FakeClock()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=DATA, CreateBucketConfiguration={"LocationConstraint": REGION})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:classify"
        pipeline = simulate.SageMakerPipeline(
            s3,
            DATA,
            "images/simulate/run/",
            simulate.local_images(str(image_dir)),
            sfn,
            machine,
            "sim-run",
        )
        pipeline.now = clock.wall
        endings = [
            ("SUCCEEDED", None, 4),
            ("FAILED", "LowConfidence", 6),
            ("FAILED", "States.TaskFailed", 9),
        ]
        with Stubber(sfn) as stubber:
            for index in range(3):
                arn = f"arn:aws:states:{REGION}:123456789012:execution:classify:sim-run-{index:05d}"
                stubber.add_response(
                    "start_execution",
                    {"executionArn": arn, "startDate": START},
                    {
                        "stateMachineArn": machine,
                        "name": f"sim-run-{index:05d}",
                        "input": json.dumps(
                            {
                                "s3_uri": f"s3://{DATA}/images/simulate/run/{index:05d}-"
                                f"{'ab'[index % 2]}.png"
                            }
                        ),
                    },
                )
            running = {
                "executionArn": "x",
                "stateMachineArn": machine,
                "status": "RUNNING",
                "startDate": START,
            }
            for index in range(len(endings)):
                arn = f"arn:aws:states:{REGION}:123456789012:execution:classify:sim-run-{index:05d}"
                stubber.add_response("describe_execution", {**running, "executionArn": arn})
            for index, (state, error, delay) in enumerate(endings):
                arn = f"arn:aws:states:{REGION}:123456789012:execution:classify:sim-run-{index:05d}"
                ended = {
                    **running,
                    "executionArn": arn,
                    "status": state,
                    "stopDate": START + timedelta(seconds=index * 2 + delay),
                }
                if error:
                    ended["error"] = error
                stubber.add_response("describe_execution", ended)
            summary = simulate.simulate(
                pipeline,
                simulate.schedule(0.5, 6.0, burst=1, limit=100),
                timeout_seconds=300,
                progress=lambda s, total: None,
                clock=clock.clock(),
                poll_seconds=5.0,
            )
            stubber.assert_no_pending_responses()

    assert [item.outcome for item in summary.sent] == ["classified", "low confidence", "failed"]
    assert summary.sent[2].detail == "FAILED: States.TaskFailed"
    assert summary.latencies == [4.0, 6.0, 9.0]

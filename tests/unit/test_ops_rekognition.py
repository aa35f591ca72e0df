"""``python -m ops model`` and ``python -m ops classify`` against moto, end to end.

``classify`` runs against the real inference handler: while the command waits, the test plays
the EventBridge rule (new objects -> queue) and Lambda's event source (queue -> handler).
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

import ops.model as commands
from ops import common, executions
from ops.cli import main
from ops.common import stack_name
from rekognition_inference import handler as consumer
from stacks.config import load_all
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.unit.rekognition_support import (
    GIF,
    JPEG,
    MODEL_ARN,
    PNG,
    FakeDetect,
    FakeModel,
    ServiceError,
    drain,
    eventbridge_body,
    labels,
)

ARN = MODEL_ARN.replace("shapes", "imgclf-dev-image-classifier")  # dev's project
DATA, ARTIFACTS = "imgclf-dev-data-test", "imgclf-dev-artifacts-test"
PARAMETER = "/imgclf-dev/rekognition/model-version-arn"


@dataclass
class Deployed:
    aws: commands.Aws
    queue_url: str
    dlq_url: str
    mapping_id: str
    model: FakeModel
    detect: FakeDetect
    seen: set[str]

    def pipeline_step(self, _seconds: float = 0) -> None:
        """What AWS does between two polls: new objects -> EventBridge -> queue -> consumer."""
        listing = self.aws.s3.list_objects_v2(Bucket=DATA, Prefix="incoming/")
        for item in listing.get("Contents", []):
            if item["Key"] not in self.seen:
                self.seen.add(item["Key"])
                self.aws.sqs.send_message(
                    QueueUrl=self.queue_url, MessageBody=eventbridge_body(DATA, item["Key"])
                )
        drain(self.aws.sqs, self.queue_url, consumer.lambda_handler)


@functools.cache
def _clients() -> dict[str, Any]:
    return {
        name: boto3.client(name)
        for name in ("s3", "ssm", "sqs", "rekognition", "lambda", "cloudformation", "iam")
    }


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",  # ops reads it first, as the AWS CLI does
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "COLUMNS": "250",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "DATA_BUCKET": DATA,
        "ARTIFACTS_BUCKET": ARTIFACTS,
        "INPUT_PREFIX": "incoming/",
        "MIN_CONFIDENCE": "0.5",
        "REVIEW_THRESHOLD": "0.8",
        "PROJECT_NAME": "imgclf-dev-image-classifier",
        "MODEL_VERSION_ARN": "",
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "DETECT_CONCURRENCY": "4",
        "INVOCATION_TPS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(consumer.metrics, "namespace", "ImageClassification/test")
    with mock_aws():
        parameters.clear_caches()
        consumer.runtime.cache_clear()
        raw = _clients()
        for bucket in (DATA, ARTIFACTS, "team-photos"):
            raw["s3"].create_bucket(Bucket=bucket)
        queue_url = raw["sqs"].create_queue(QueueName="inference")["QueueUrl"]
        dlq_url = raw["sqs"].create_queue(QueueName="inference-dlq")["QueueUrl"]
        queue_arn = raw["sqs"].get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        role = raw["iam"].create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def lambda_handler(event, context):\n    pass\n")
        raw["lambda"].create_function(
            FunctionName="consumer",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )
        mapping = raw["lambda"].create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName="consumer", Enabled=True, BatchSize=10
        )
        _stack(
            raw["cloudformation"],
            "imgclf-dev-storage",
            {"DataBucketName": DATA, "ArtifactsBucketName": ARTIFACTS},
        )
        _stack(
            raw["cloudformation"],
            "imgclf-dev-rekognition-inference",
            {
                "WorkQueueUrl": queue_url,
                "DeadLetterQueueUrl": dlq_url,
                "EventSourceMappingId": mapping["UUID"],
                "ConsumerFunctionName": "consumer",
                "ControllerFunctionName": "controller",
            },
        )
        raw["ssm"].put_parameter(Name=PARAMETER, Value=ARN, Type="String")
        model = FakeModel(model_arn=ARN)
        model.install(raw["rekognition"])
        detect = FakeDetect()
        detect.install(consumer.runtime().classifier._rekognition)
        aws = commands.Aws(
            s3=raw["s3"],
            ssm=raw["ssm"],
            sqs=raw["sqs"],
            rekognition=raw["rekognition"],
            lambda_=raw["lambda"],
            cloudformation=raw["cloudformation"],
        )
        monkeypatch.setattr(common, "client_factory", lambda service, region: raw[service])
        deployment = Deployed(aws, queue_url, dlq_url, mapping["UUID"], model, detect, set())
        monkeypatch.setattr(executions, "sleep", deployment.pipeline_step)
        yield deployment
        consumer.runtime.cache_clear()


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    assert error.startswith("error: ")
    return error


# --- model status | start | stop -------------------------------------------------------------


def test_model_status_shows_version_status_backlog_and_gate(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.model.status = "RUNNING"
    deployed.aws.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody="x")

    assert main(["model", "status", "--env", "dev"]) == 0

    out = capsys.readouterr().out
    for fragment in (
        "imgclf-dev-image-classifier",
        ARN,
        f"SSM {PARAMETER}",
        "RUNNING",
        "1 waiting",
        "0 messages",
        "Enabled",
        "on_demand; stops after 2 idle minutes",
    ):
        assert fragment in out, fragment


def test_model_status_reads_every_page_of_the_project_and_version_lists(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.model.status = "RUNNING"
    deployed.model.empty_pages = 3

    assert main(["model", "status", "--env", "dev"]) == 0

    out = capsys.readouterr().out
    assert "RUNNING" in out
    assert "NOT FOUND" not in out


def test_model_start_uses_the_configured_inference_units_and_waits(
    deployed: Deployed, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def becomes_running(_seconds: float) -> None:
        deployed.model.status = "RUNNING"

    monkeypatch.setattr(executions, "sleep", becomes_running)

    assert main(["model", "start", "--env", "dev", "--wait"]) == 0

    assert deployed.model.started == [{"ProjectVersionArn": ARN, "MinInferenceUnits": 1}]
    out = capsys.readouterr().out
    assert "the controller stops it again after 2 minutes" in out
    assert "is RUNNING" in out


def test_model_stop_closes_the_gate_first(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.model.status = "RUNNING"

    assert main(["model", "stop", "--env", "dev"]) == 0

    assert deployed.model.stopped == [ARN]
    state = deployed.aws.lambda_.get_event_source_mapping(UUID=deployed.mapping_id)["State"]
    assert state == "Disabled"
    assert "starts it again when images are waiting" in capsys.readouterr().out


def test_model_stop_of_another_version_leaves_the_published_one_and_its_gate(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command a deployment's warning names for the previous version it could not stop."""
    deployed.model.status = "RUNNING"
    previous = ARN.replace(".v1/", ".v0/")
    assert previous != ARN

    assert main(["model", "stop", "--env", "dev", "--version-arn", previous]) == 0

    assert deployed.model.stopped == [previous]
    state = deployed.aws.lambda_.get_event_source_mapping(UUID=deployed.mapping_id)["State"]
    assert state == "Enabled"
    assert f"Stop requested for {previous} (not the version inference uses)" in (
        capsys.readouterr().out
    )


def test_model_stop_of_the_published_version_by_arn_closes_the_gate_first(
    deployed: Deployed,
) -> None:
    deployed.model.status = "RUNNING"

    assert main(["model", "stop", "--env", "dev", "--version-arn", ARN]) == 0

    assert deployed.model.stopped == [ARN]
    state = deployed.aws.lambda_.get_event_source_mapping(UUID=deployed.mapping_id)["State"]
    assert state == "Disabled"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["stop", "--version-arn", "arn:aws:s3:::bucket"], "not a Custom Labels model version"),
        (["stop", "--version-arn", MODEL_ARN], "belongs to project 'shapes'"),
        # A stop option: start has no --version-arn.
        (["start", "--version-arn", ARN], "unrecognized arguments: --version-arn"),
    ],
)
def test_model_version_arn_mistakes_are_one_line_errors(
    deployed: Deployed, capsys: pytest.CaptureFixture[str], arguments: list[str], fragment: str
) -> None:
    assert main(["model", *arguments[:1], "--env", "dev", *arguments[1:]]) == 2

    assert fragment in _error_line(capsys)
    assert deployed.model.stopped == []


def test_model_commands_need_a_model_version(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.aws.ssm.delete_parameter(Name=PARAMETER)

    assert main(["model", "start", "--env", "dev"]) == 3  # the environment has no model yet

    assert "no model version to use" in _error_line(capsys)
    assert deployed.model.started == []


# --- classify --------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "shapes"
    (folder / "more").mkdir(parents=True)
    (folder / "circle.png").write_bytes(PNG)
    (folder / "square.jpg").write_bytes(JPEG)
    (folder / "more" / "triangle.png").write_bytes(PNG)
    (folder / "broken.png").write_bytes(PNG)
    (folder / "notes.txt").write_text("not an image")
    (folder / "animated.png").write_bytes(GIF)  # a PNG by name only: skipped
    return folder


def test_classify_a_folder_uploads_waits_and_prints_results_and_errors(
    deployed: Deployed,
    images: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed.model.status = "RUNNING"

    def step(seconds: float = 0) -> None:
        for item in deployed.aws.s3.list_objects_v2(Bucket=DATA).get("Contents", []):
            if item["Key"].endswith("square.jpg"):
                deployed.detect.on(item["Key"], labels(("square", 64.0)))
            if item["Key"].endswith("broken.png"):
                deployed.detect.on(
                    item["Key"], ServiceError("InvalidImageFormatException", "bad image")
                )
        deployed.pipeline_step(seconds)

    monkeypatch.setattr(executions, "sleep", step)

    code = main(["classify", "--env", "dev", str(images), "--poll", "1"])

    out = capsys.readouterr().out
    assert code == 1  # one image ended in an error record
    uploaded = [
        item["Key"]
        for item in deployed.aws.s3.list_objects_v2(Bucket=DATA, Prefix="incoming/classify/")[
            "Contents"
        ]
    ]
    assert sorted(key.split("/", 3)[3] for key in uploaded) == [
        "broken.png",
        "circle.png",
        "more/triangle.png",
        "square.jpg",
    ]
    assert "3 classified (1 for review), 1 error records, 0 still pending" in out
    assert "invalid_image_format" in out
    assert "more/triangle.png" in out
    assert "64.0%" in out


def test_classify_a_single_image(
    deployed: Deployed, images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["classify", "--env", "dev", str(images / "circle.png"), "--poll", "1"])

    assert code == 0
    assert "1 classified (0 for review), 0 error records, 0 still pending" in (
        capsys.readouterr().out
    )


def test_classify_an_s3_prefix_copies_it_into_the_input_prefix(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.png", "b.jpg"):
        deployed.aws.s3.put_object(Bucket="team-photos", Key=f"june/{name}", Body=PNG)

    code = main(["classify", "--env", "dev", "s3://team-photos/june/", "--poll", "1"])

    assert code == 0
    copied = deployed.aws.s3.list_objects_v2(Bucket=DATA, Prefix="incoming/classify/")
    assert sorted(item["Key"].rsplit("/", 1)[1] for item in copied["Contents"]) == [
        "a.png",
        "b.jpg",
    ]
    assert "2 classified" in capsys.readouterr().out


def test_classify_collects_images_already_in_the_input_prefix(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.aws.s3.put_object(Bucket=DATA, Key="incoming/cam1/x.png", Body=PNG)

    code = main(["classify", "--env", "dev", f"s3://{DATA}/incoming/cam1/", "--poll", "1"])

    assert code == 0
    listing = deployed.aws.s3.list_objects_v2(Bucket=DATA)["Contents"]
    assert [item["Key"] for item in listing] == ["incoming/cam1/x.png"]  # nothing copied
    assert "1 classified" in capsys.readouterr().out


def test_classify_reports_pending_images_at_the_timeout(
    deployed: Deployed, images: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr(executions, "sleep", lambda seconds: None)  # the model never answers

    code = main(["classify", "--env", "dev", str(images / "circle.png"), "--timeout", "0.0001"])

    assert code == 4  # --timeout reached; the image is still queued
    out = capsys.readouterr().out
    assert "0 classified (0 for review), 0 error records, 1 still pending" in out
    assert "--timeout reached" in out
    assert "pending: circle.png" in out


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["classify", "--env", "dev", "/no/such/place"], "no such file or directory"),
        (["classify", "--env", "nope", "."], "environments.nope"),
        (["classify", "--env", "dev", "s3://"], "expected s3://BUCKET/PREFIX"),
        (["classify", "--env", "dev", "s3://team-photos/empty/"], "no objects"),
        (["model", "status", "--env", "nope"], "environments.nope"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    deployed: Deployed, capsys: pytest.CaptureFixture[str], arguments: list[str], fragment: str
) -> None:
    assert main(arguments) == 2

    assert fragment in _error_line(capsys)


def test_a_file_that_is_not_an_image_is_refused(
    deployed: Deployed, images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["classify", "--env", "dev", str(images / "animated.png")]) == 2

    error = _error_line(capsys)
    assert "not a JPEG or PNG image" in error
    assert "GIF" in error


def test_a_folder_without_images_is_refused(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "readme.txt").write_text("hello")

    assert main(["classify", "--env", "dev", str(tmp_path)]) == 2

    assert "no JPEG or PNG images" in _error_line(capsys)


def test_an_undeployed_stack_is_a_one_line_error(
    deployed: Deployed, images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.aws.cloudformation.delete_stack(StackName="imgclf-dev-rekognition-inference")

    assert main(["classify", "--env", "dev", str(images / "circle.png")]) == 3

    assert "imgclf-dev-rekognition-inference is not deployed" in _error_line(capsys)


def test_stack_names_match_the_synthesized_stacks(cdk_context: dict[str, Any]) -> None:
    app = make_app(cdk_context)
    for config in load_all(cdk_context):
        stacks = build_environment(app, config)
        for stack in stacks.all():
            concern = stack.node.id.removeprefix(config.name.capitalize())
            assert stack_name(config, concern) == stack.stack_name


def test_aws_errors_are_one_line_errors(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.aws.sqs.delete_queue(QueueUrl=deployed.queue_url)

    assert main(["model", "status", "--env", "dev"]) == 3

    assert "AWS call failed" in _error_line(capsys)

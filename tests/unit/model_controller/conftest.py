"""Fixtures of the model controller's tests: the handler against moto or against a Stubber."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from model_controller import handler as controller
from tests.unit.model_controller.support import (
    CAPACITY_PARAMETER,
    MAPPING,
    PARAMETER,
    QUEUE_URL,
    T0,
    Controlled,
    Scripted,
    _clients,
)
from tests.unit.rekognition_support import (
    MODEL_ARN,
    FakeModel,
)


@pytest.fixture
def controlled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Controlled]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PROJECT_NAME": "shapes",
        "MODEL_VERSION_ARN": "",
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "CONTROL_MODE": "on_demand",
        "IDLE_MINUTES": "2",
        "SCHEDULE_START_HOUR_UTC": "",
        "SCHEDULE_END_HOUR_UTC": "",
        "MIN_INFERENCE_UNITS": "1",
        "MAX_INFERENCE_UNITS": "1",
        "DRAIN_MINUTES": "30",
        "TPS_PER_INFERENCE_UNIT": "5",
        "EXPECTED_START_MINUTES": "10",
        "CALLS_IN_FLIGHT": "10",
        "CAPACITY_PARAMETER": CAPACITY_PARAMETER,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(controller.metrics, "namespace", "ImageClassification/test")
    monkeypatch.setattr(controller.metrics, "service", "rekognition-controller")
    with mock_aws():
        parameters.clear_caches()
        controller.cached_project_arn.cache_clear()
        controller._LAST_SEEN_WORK.clear()
        controller._BACKLOGS.clear()
        aws = _clients()
        monkeypatch.setattr(
            controller,
            "clients",
            lambda: controller.Clients(
                rekognition=aws["rekognition"],
                sqs=aws["sqs"],
                lambda_=aws["lambda"],
                cloudwatch=aws["cloudwatch"],
                ssm=aws["ssm"],
            ),
        )
        role = aws["iam"].create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def lambda_handler(event, context):\n    pass\n")
        aws["lambda"].create_function(
            FunctionName="consumer",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )
        queue_url = aws["sqs"].create_queue(QueueName="inference")["QueueUrl"]
        queue_arn = aws["sqs"].get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        mapping = aws["lambda"].create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName="consumer", Enabled=False, BatchSize=10
        )
        aws["ssm"].put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
        monkeypatch.setenv("QUEUE_URL", queue_url)
        monkeypatch.setenv("QUEUE_NAME", "inference")
        monkeypatch.setenv("EVENT_SOURCE_MAPPING_ID", mapping["UUID"])
        model = FakeModel()
        model.install(aws["rekognition"])
        yield Controlled(
            aws["sqs"],
            aws["lambda"],
            aws["ssm"],
            aws["cloudwatch"],
            queue_url,
            mapping["UUID"],
            model,
        )
        controller.metrics.clear_metrics()  # runs called directly leave unflushed metrics


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Scripted, Any]]:
    """Scripted clients and ``run(now)``: max 10 units, pinned version (no SSM read for it)."""
    environment = {
        "QUEUE_URL": QUEUE_URL,
        "QUEUE_NAME": "inference",
        "EVENT_SOURCE_MAPPING_ID": MAPPING,
        "PROJECT_NAME": "shapes",
        "MODEL_VERSION_ARN": MODEL_ARN,
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "CONTROL_MODE": "on_demand",
        "IDLE_MINUTES": "2",
        "DRAIN_MINUTES": "30",
        "SCHEDULE_START_HOUR_UTC": "",
        "SCHEDULE_END_HOUR_UTC": "",
        "MIN_INFERENCE_UNITS": "1",
        "MAX_INFERENCE_UNITS": "10",
        "TPS_PER_INFERENCE_UNIT": "5",
        "EXPECTED_START_MINUTES": "10",
        "CALLS_IN_FLIGHT": "10",
        "CAPACITY_PARAMETER": CAPACITY_PARAMETER,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    settings = controller.ControllerSettings.from_environment(environment)
    monkeypatch.setattr(controller.metrics, "namespace", "ImageClassification/test")
    controller.cached_project_arn.cache_clear()
    controller._LAST_SEEN_WORK.clear()
    controller._BACKLOGS.clear()
    aws = Scripted()

    def run(now: datetime = T0) -> dict[str, Any]:
        return controller.run(settings, aws.clients, now)

    yield aws, run
    aws.close()
    controller.metrics.clear_metrics()
    controller.cached_project_arn.cache_clear()

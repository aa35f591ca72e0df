"""What the model controller's tests share: the model's statuses, clients and scripted answers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from model_controller import handler as controller
from model_controller.decision import (
    Observation,
    Policy,
    decide,
)
from tests.unit.rekognition_support import (
    MODEL_ARN,
    FakeModel,
    LambdaContext,
)

# --------------------------------------------------------------------------------------------
# The decision, exhaustively
# --------------------------------------------------------------------------------------------

NOON = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


IDLE_MINUTES = 2


# --------------------------------------------------------------------------------------------
# The unit choice: clamp(ceil(backlog / (tps x drain_minutes x 60)), min, max), worked examples
# --------------------------------------------------------------------------------------------


def units_policy(mode: str = "on_demand", **overrides: Any) -> Policy:
    """5 images/s per unit, 30-minute drain: one unit drains 9,000 images."""
    settings: dict[str, Any] = {
        "drain_minutes": 30,
        "min_units": 1,
        "max_units": 10,
        "tps_per_unit": 5.0,
        "expected_start_minutes": 10.0,
    }
    hours = (8, 18) if mode == "scheduled" else (None, None)
    return Policy(mode, IDLE_MINUTES, *hours, **(settings | overrides))


def start(
    backlog: int,
    policy: Policy | None = None,
    history: tuple[int, ...] = (),
    status: str = "STOPPED",
    now: datetime = NOON,
) -> Any:
    return decide(Observation(status, backlog, 0.0, now, history), policy or units_policy())


# --------------------------------------------------------------------------------------------
# The handler against moto
# --------------------------------------------------------------------------------------------

PARAMETER = "/imgclf-test/rekognition/model-version-arn"


CAPACITY_PARAMETER = "/imgclf-test/rekognition/consumer-capacity"


@dataclass
class Controlled:
    sqs: Any
    lambda_: Any
    ssm: Any
    cloudwatch: Any
    queue_url: str
    mapping_id: str
    model: FakeModel

    def messages(self, count: int) -> None:
        for index in range(count):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=f"m{index}")

    def event_source(self) -> str:
        return str(self.lambda_.get_event_source_mapping(UUID=self.mapping_id)["State"])

    def recent_activity(self, minutes_ago: float) -> None:
        self.cloudwatch.put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "NumberOfMessagesReceived",
                    "Dimensions": [{"Name": "QueueName", "Value": "inference"}],
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
                    "Value": 4,
                }
            ],
        )

    def run(self) -> dict[str, Any]:
        return controller.lambda_handler({"source": "aws.events"}, LambdaContext())


@functools.cache
def _clients() -> dict[str, Any]:
    return {
        name: boto3.client(name)
        for name in ("sqs", "lambda", "ssm", "cloudwatch", "iam", "rekognition")
    }


# --------------------------------------------------------------------------------------------
# The handler against scripted answers (botocore Stubber): units, concurrency, pace, failures
# --------------------------------------------------------------------------------------------

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/inference"


MAPPING = "11111111-2222-3333-4444-555555555555"


PROJECT_ARN = MODEL_ARN.split("/version/")[0] + "/1690000000000"


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@functools.cache
def scripted_clients() -> controller.Clients:
    """Created once (slow); each test stubs them afresh."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return controller.Clients(
        rekognition=session.client("rekognition"),
        sqs=session.client("sqs"),
        lambda_=session.client("lambda"),
        cloudwatch=session.client("cloudwatch"),
        ssm=session.client("ssm"),
    )


class Scripted:
    """Real boto3 clients whose calls are answered, in order per client, by a Stubber.

    An unexpected call, a call with other parameters, or an answer botocore's model does not
    allow fails the test; ``done`` checks that every scripted call was made.
    """

    def __init__(self) -> None:
        self.clients = scripted_clients()
        self.stubs = {
            name: Stubber(getattr(self.clients, name))
            for name in ("rekognition", "sqs", "lambda_", "cloudwatch", "ssm")
        }
        for stub in self.stubs.values():
            stub.activate()

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()

    def close(self) -> None:
        for stub in self.stubs.values():
            stub.deactivate()

    # -- what one run reads -------------------------------------------------------------------

    def model(self, status: str, min_units: int = 1, max_units: int = 10) -> None:
        if not controller.cached_project_arn.cache_info().currsize:
            self.stubs["rekognition"].add_response(
                "describe_projects",
                {"ProjectDescriptions": [{"ProjectArn": PROJECT_ARN, "Status": "CREATED"}]},
                {"ProjectNames": ["shapes"]},
            )
        version: dict[str, Any] = {
            "ProjectVersionArn": MODEL_ARN,
            "Status": status,
            "StatusMessage": "scripted",
            "MinInferenceUnits": min_units,
        }
        if max_units != min_units:
            version["MaxInferenceUnits"] = max_units
        self.stubs["rekognition"].add_response(
            "describe_project_versions",
            {"ProjectVersionDescriptions": [version]},
            {"ProjectArn": PROJECT_ARN, "VersionNames": ["shapes.v1"]},
        )

    def queue(self, visible: int, in_flight: int = 0) -> None:
        self.stubs["sqs"].add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                    "ApproximateNumberOfMessagesDelayed": "0",
                }
            },
            {
                "QueueUrl": QUEUE_URL,
                "AttributeNames": list(controller.operations.WAITING_ATTRIBUTES),
            },
        )

    def no_recent_activity(self) -> None:
        self.stubs["cloudwatch"].add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m0", "Timestamps": [], "Values": []}]},
            {
                "MetricDataQueries": ANY,
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )

    def units(self, in_service: float | None, desired: float | None = None, now=T0) -> None:
        def result(identifier: str, value: float | None) -> dict[str, Any]:
            if value is None:
                return {"Id": identifier, "Timestamps": [], "Values": [], "StatusCode": "Complete"}
            stamps = [now - timedelta(minutes=2), now - timedelta(minutes=1)]
            return {
                "Id": identifier,
                "Timestamps": stamps,
                "Values": [1.0, value],
                "StatusCode": "Complete",
            }

        self.stubs["cloudwatch"].add_response(
            "get_metric_data",
            {"MetricDataResults": [result("u0", in_service), result("u1", desired)]},
            {
                "MetricDataQueries": [
                    {
                        "Id": f"u{index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Rekognition",
                                "MetricName": name,
                                "Dimensions": [
                                    {"Name": "ProjectName", "Value": "shapes"},
                                    {"Name": "VersionName", "Value": "shapes.v1"},
                                ],
                            },
                            "Period": 60,
                            "Stat": "Average",
                        },
                        "ReturnData": True,
                    }
                    for index, name in enumerate(
                        ("InServiceInferenceUnits", "DesiredInferenceUnits")
                    )
                ],
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )

    def mapping(self, state: str, concurrency: int | None = None) -> None:
        answer: dict[str, Any] = {"UUID": MAPPING, "State": state}
        if concurrency is not None:
            answer["ScalingConfig"] = {"MaximumConcurrency": concurrency}
        self.stubs["lambda_"].add_response("get_event_source_mapping", answer, {"UUID": MAPPING})

    def published(self, document: str | None) -> None:
        if document is None:
            self.stubs["ssm"].add_client_error(
                "get_parameter", "ParameterNotFound", expected_params={"Name": CAPACITY_PARAMETER}
            )
            return
        self.stubs["ssm"].add_response(
            "get_parameter",
            {
                "Parameter": {
                    "Name": CAPACITY_PARAMETER,
                    "Type": "String",
                    "Value": document,
                    "Version": 3,
                }
            },
            {"Name": CAPACITY_PARAMETER},
        )

    # -- what one run changes -----------------------------------------------------------------

    def publish(self, document: str, error: str | None = None) -> None:
        expected = {
            "Name": CAPACITY_PARAMETER,
            "Value": document,
            "Type": "String",
            "Overwrite": True,
            "Description": ANY,
        }
        if error:
            self.stubs["ssm"].add_client_error("put_parameter", error, expected_params=expected)
        else:
            self.stubs["ssm"].add_response(
                "put_parameter", {"Version": 4, "Tier": "Standard"}, expected
            )

    def update_mapping(self, error: str | None = None, **change: Any) -> None:
        expected = {"UUID": MAPPING, **change}
        if error:
            self.stubs["lambda_"].add_client_error(
                "update_event_source_mapping", error, expected_params=expected
            )
        else:
            self.stubs["lambda_"].add_response(
                "update_event_source_mapping", {"UUID": MAPPING, "State": "Updating"}, expected
            )

    def start(self, min_units: int, max_units: int | None = 10) -> None:
        expected: dict[str, Any] = {"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": min_units}
        if max_units is not None:
            expected["MaxInferenceUnits"] = max_units
        self.stubs["rekognition"].add_response(
            "start_project_version", {"Status": "STARTING"}, expected
        )

    def stop(self) -> None:
        self.stubs["rekognition"].add_response(
            "stop_project_version", {"Status": "STOPPING"}, {"ProjectVersionArn": MODEL_ARN}
        )

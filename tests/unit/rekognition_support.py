"""Test doubles for the Rekognition pipeline: scripted Rekognition answers, SQS events, an ESM.

moto has no DetectCustomLabels or Custom Labels model APIs, so the tests answer them through a
botocore ``before-call`` hook with the documented response shapes and error codes; everything
else (S3, SQS with its redrive policy, SSM, CloudWatch) is moto. Given the S3 client, the fake
DetectCustomLabels reads the object it is asked about as the service does (missing, archived,
over 15 MB, not JPEG/PNG: the documented errors), so the consumer's diagnosis is exercised.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
GIF = b"GIF89a" + bytes(64)
#: DetectCustomLabels reads S3 objects up to 15 MB.
MAX_OBJECT_BYTES = 15 * 1024 * 1024
MODEL_ARN = (
    "arn:aws:rekognition:us-east-1:123456789012:project/shapes/version/shapes.v1/1700000000000"
)


@dataclass(frozen=True)
class ServiceError:
    """A scripted error answer (code and message as AWS documents them)."""

    code: str
    message: str = "scripted error"
    status: int = 400


def labels(*pairs: tuple[str, float]) -> dict[str, Any]:
    """A DetectCustomLabels response; confidences in percent, as the service reports them."""
    return {"CustomLabels": [{"Name": name, "Confidence": value} for name, value in pairs]}


Answer = dict[str, Any] | ServiceError


def request_of(params: dict[str, Any]) -> dict[str, Any]:
    """The API parameters of a JSON-protocol request as a before-call handler sees it."""
    body = params.get("body") or b"{}"
    document: dict[str, Any] = json.loads(body)
    return document


def answer(result: Answer) -> tuple[AWSResponse, dict[str, Any]]:
    """``(http_response, parsed)`` as a before-call handler returns them."""
    if isinstance(result, ServiceError):
        parsed: dict[str, Any] = {
            "Error": {"Code": result.code, "Message": result.message},
            "ResponseMetadata": {"HTTPStatusCode": result.status},
        }
        return AWSResponse("https://rekognition", result.status, {}, None), parsed
    return AWSResponse("https://rekognition", 200, {}, None), {
        **result,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


@dataclass
class FakeDetect:
    """DetectCustomLabels scripted per image key; the last answer of a script repeats."""

    default: Answer = field(default_factory=lambda: labels(("circle", 97.5), ("square", 2.0)))
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Called with the request parameters while the call is "in flight".
    during_call: Callable[[dict[str, Any]], None] | None = None
    #: An S3 client (moto): the object named by a call is read first, as the service reads it,
    #: and scripts answer only for objects the service could read. None: scripts only.
    storage: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, key: str, *answers: Answer) -> None:
        self.scripts[key] = list(answers)

    def install(self, client: Any) -> None:
        """Answer ``client``'s DetectCustomLabels calls (replacing an earlier fake)."""
        _register(client, "DetectCustomLabels", self)

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = request_of(params)
        key = params["Image"]["S3Object"]["Name"]
        unusable = self._read(params["Image"]["S3Object"])
        with self._lock:
            self.calls.append(params)
            script = self.scripts.get(key)
            result = (script.pop(0) if len(script) > 1 else script[0]) if script else self.default
        if self.during_call is not None:
            self.during_call(params)
        return answer(unusable or result)

    def _read(self, s3_object: dict[str, Any]) -> ServiceError | None:
        """What the service answers when it cannot use the object (None: it can)."""
        if self.storage is None:
            return None
        where = {"Bucket": s3_object["Bucket"], "Key": s3_object["Name"]}
        if "Version" in s3_object:
            where["VersionId"] = s3_object["Version"]
        unreadable = ServiceError(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access "
            "permissions.",
        )
        try:
            head = self.storage.head_object(**where)
        except ClientError:
            return unreadable  # no such key or version
        if head.get("StorageClass") in {"GLACIER", "DEEP_ARCHIVE"}:
            return unreadable  # archived: not readable until restored
        if head["ContentLength"] > MAX_OBJECT_BYTES:
            return ServiceError("ImageTooLargeException", "Image size is too large.")
        first = b""
        if head["ContentLength"]:
            first = self.storage.get_object(**where, Range="bytes=0-15")["Body"].read()
        if not first.startswith((PNG[:8], JPEG[:3])):
            return ServiceError("InvalidImageFormatException", "Request has invalid image format")
        return None

    def calls_for(self, key: str) -> int:
        return sum(1 for call in self.calls if call["Image"]["S3Object"]["Name"] == key)


@dataclass
class FakeModel:
    """The Custom Labels model APIs the controller and ``ops model`` use, with a settable status."""

    model_arn: str = MODEL_ARN
    #: Default: the model's project (``.../project/NAME/1690000000000``).
    project_arn: str = ""
    status: str | None = "STOPPED"
    project_exists: bool = True
    #: Pages DescribeProjects and DescribeProjectVersions answer with (a NextToken each) before
    #: the one with the match, as the service may when it filters a page by name.
    empty_pages: int = 0
    started: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    start_error: ServiceError | None = None

    def __post_init__(self) -> None:
        if not self.project_arn:
            self.project_arn = self.model_arn.split("/version/")[0] + "/1690000000000"

    def _page(self, params: dict[str, Any], key: str, items: list[dict[str, Any]]) -> Any:
        """Page ``NextToken`` n of ``empty_pages`` empty pages, then the items."""
        token = params.get("NextToken")
        number = int(token.removeprefix("page-")) if token else 0
        if number < self.empty_pages:
            return answer({key: [], "NextToken": f"page-{number + 1}"})
        return answer({key: items})

    def install(self, client: Any) -> None:
        for operation, handler in (
            ("DescribeProjects", self._describe_projects),
            ("DescribeProjectVersions", self._describe_versions),
            ("StartProjectVersion", self._start),
            ("StopProjectVersion", self._stop),
        ):
            _register(client, operation, handler)

    def _describe_projects(self, params: dict[str, Any], **_: Any) -> Any:
        params = request_of(params)
        name = self.project_arn.split("/")[-2]
        found = self.project_exists and name in params.get("ProjectNames", [name])
        projects = [{"ProjectArn": self.project_arn, "Status": "CREATED"}] if found else []
        return self._page(params, "ProjectDescriptions", projects)

    def _describe_versions(self, params: dict[str, Any], **_: Any) -> Any:
        params = request_of(params)
        assert params["ProjectArn"] == self.project_arn
        assert params["VersionNames"] == [self.model_arn.split("/")[-2]]
        versions = []
        if self.status is not None:
            versions.append(
                {
                    "ProjectVersionArn": self.model_arn,
                    "Status": self.status,
                    "StatusMessage": f"The model is {self.status.lower()}.",
                    "MinInferenceUnits": 1,
                    "MaxInferenceUnits": 1,
                }
            )
        return self._page(params, "ProjectVersionDescriptions", versions)

    def _start(self, params: dict[str, Any], **_: Any) -> Any:
        params = request_of(params)
        if self.start_error is not None:
            return answer(self.start_error)
        self.started.append(params)
        self.status = "STARTING"
        return answer({"Status": "STARTING"})

    def _stop(self, params: dict[str, Any], **_: Any) -> Any:
        params = request_of(params)
        self.stopped.append(params["ProjectVersionArn"])
        self.status = "STOPPING"
        return answer({"Status": "STOPPING"})


def _register(client: Any, operation: str, handler: Callable[..., Any]) -> None:
    event = f"before-call.rekognition.{operation}"
    unique_id = f"fake-{operation}"
    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, handler, unique_id=unique_id)


class LambdaContext:
    """Just enough of the Lambda context for Powertools."""

    function_name = "consumer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:consumer"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def object_details(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """What an S3 event says about an object that exists: size, etag (unquoted), version id."""
    head = s3.head_object(Bucket=bucket, Key=key)
    details: dict[str, Any] = {"size": head["ContentLength"], "etag": head["ETag"].strip('"')}
    if head.get("VersionId") and head["VersionId"] != "null":
        details["version_id"] = head["VersionId"]
    return details


def eventbridge_body(
    bucket: str,
    key: str,
    detail_type: str = "Object Created",
    *,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
) -> str:
    """An S3 event as EventBridge delivers it to an SQS target (key as written).

    ``size``, ``etag`` and ``version_id`` go into ``detail.object`` when given (S3 always sends
    the first two, and the version id from a versioned bucket); see :func:`object_details`.
    """
    described: dict[str, Any] = {"key": key, "sequencer": "1"}
    for name, value in (("size", size), ("etag", etag), ("version-id", version_id)):
        if value is not None:
            described[name] = value
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-01-01T08:00:00Z",
            "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": described,
                "request-id": "R",
                "requester": "123456789012",
                "reason": "PutObject",
            },
        }
    )


def notification_body(
    bucket: str,
    key: str,
    event_name: str = "ObjectCreated:Put",
    *,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
) -> str:
    """A classic S3 event notification: the key is URL-encoded, as S3 sends it.

    ``size``, ``etag`` and ``version_id`` go into ``s3.object`` (``size``, ``eTag``,
    ``versionId``) when given.
    """
    described: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": "1"}
    for name, value in (("size", size), ("eTag", etag), ("versionId", version_id)):
        if value is not None:
            described[name] = value
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-01-01T08:00:00.000Z",
                    "eventName": event_name,
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": described,
                    },
                }
            ]
        }
    )


def s3_test_event_body(bucket: str) -> str:
    return json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-01-01T08:00:00.000Z",
            "Bucket": bucket,
            "RequestId": str(uuid.uuid4()),
            "HostId": "h",
        }
    )


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message received from moto, as Lambda's event source hands it to the function."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "1767254400000"),
            "SenderId": "AIDA",
            "ApproximateFirstReceiveTimestamp": attributes.get("SentTimestamp", "1"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def drain(
    sqs: Any,
    queue_url: str,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    batch_size: int = 10,
    max_rounds: int = 200,
    context: Any = None,
) -> int:
    """Lambda's SQS event source, in miniature: receive a batch, invoke, delete what succeeded.

    Failed messages become visible again at once (instead of after the visibility timeout), so
    redeliveries happen in the test; moto's redrive policy moves a message to the dead-letter
    queue once it has been received ``maxReceiveCount`` times. Returns the number of invocations.
    """
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for invocations in range(max_rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(batch_size, 10),
            AttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not messages:
            return invocations
        event = {"Records": [sqs_record(message, queue_arn) for message in messages]}
        response = handler(event, context or LambdaContext())
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError(f"the queue did not drain in {max_rounds} receives")


def emf_records(output: str) -> list[dict[str, Any]]:
    """Every CloudWatch embedded-metric-format record printed to stdout."""
    records = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def metric_total(records: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    total = 0.0
    for record in records:
        if name in record and all(record.get(k) == v for k, v in dimensions.items()):
            value = record[name]
            total += sum(value) if isinstance(value, list) else value
    return total

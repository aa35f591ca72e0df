"""The scheduled drift evaluator end to end: moto's S3, SSM and SNS, the live metrics published
by the real EMF code and answered by ``tests.drift_streams.MetricStore``, SageMaker's
DescribeEndpoint scripted to its documented answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from moto import mock_aws

from contracts import drift as contract
from contracts.metrics import DRIFT_EVALUATOR_SERVICE
from contracts.s3_layout import DRIFT_PREFIX, sagemaker_report_prefix, version_report_prefix
from drift import handler
from rekognition_promotion.copy_baseline import copy_baseline
from shared.drift_baseline import build_baseline, encode
from stacks.config import load_environment
from tests.drift_streams import NAMESPACE, MetricStore, Stream, emf_lines

ARTIFACTS, DATA = "artifacts-bucket", "data-bucket"
PARAMETER = "/imgclf-dev/rekognition/model-version-arn"
PROJECT = "imgclf-dev-image-classifier"
ENDPOINT = "imgclf-dev-classifier"
ARN = "arn:aws:rekognition:eu-west-1:123456789012:project/{project}/version/{version}/1700000000000"
_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


class FakeSageMaker:
    """DescribeEndpoint as documented: the endpoint, or ValidationException 'Could not find'."""

    def __init__(self) -> None:
        self.endpoint: dict[str, Any] | None = None

    def describe_endpoint(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _SAGEMAKER.operation_model("DescribeEndpoint").input_shape)
        if self.endpoint is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": f'Could not find endpoint "{params["EndpointName"]}".',
                    }
                },
                "DescribeEndpoint",
            )
        return self.endpoint


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, cdk_context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    config = load_environment(cdk_context, "dev")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", DRIFT_EVALUATOR_SERVICE)
    environment = {
        "ENVIRONMENT_NAME": "dev",
        "ARTIFACTS_BUCKET": ARTIFACTS,
        "WINDOW_HOURS": "24",
        "DRIFT_THRESHOLDS": json.dumps(config.drift.thresholds()),
        "PROJECT_NAME": PROJECT,
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "MODEL_VERSION_ARN": "",
        "ENDPOINT_NAME": ENDPOINT,
        "DATA_BUCKET": DATA,
        "SAGEMAKER_DATA_PREFIX": "sagemaker/training/",
        "SAGEMAKER_DATA_FORMAT": "image",
        "CLASS_NAMES": json.dumps(["bicycle", "motorcycle"]),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (ARTIFACTS, DATA):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="mail")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
        fakes: dict[str, Any] = {
            "cloudwatch": MetricStore(page_size=5),
            "sagemaker": FakeSageMaker(),
        }
        clients = {name: boto3.client(name) for name in ("s3", "ssm", "sns")}
        monkeypatch.setattr(handler, "client", lambda service: {**clients, **fakes}[service])
        yield {"s3": s3, "ssm": clients["ssm"], "sqs": sqs, "queue": queue, **fakes}


def now() -> datetime:
    return datetime.now(UTC)


def put_baseline(s3: Any, version: str, shares: dict[str, float]) -> None:
    document = build_baseline(
        pipeline=contract.REKOGNITION,
        model=version,
        test={
            "images": 1000,
            "label_counts": {label: round(1000 * share) for label, share in shares.items()},
            "abstention_rate": 0.05,
            "confidence": {"images": 950, "mean_top": 0.92, "histogram": {}, "per_label": {}},
        },
        training=None,
    )
    key = version_report_prefix(PROJECT, version) + contract.BASELINE_FILE
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=encode(document))


def serve(aws: dict[str, Any], version: str) -> None:
    aws["ssm"].put_parameter(
        Name=PARAMETER,
        Value=ARN.format(project=PROJECT, version=version),
        Type="String",
        Overwrite=True,
    )


def publish(aws: dict[str, Any], pipeline: str, model: str, stream: Stream, ago: timedelta) -> None:
    aws["cloudwatch"].ingest(emf_lines(pipeline, model, stream), at=now() - ago)


def messages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    while True:
        batch = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)
        if not batch.get("Messages"):
            return found
        for message in batch["Messages"]:
            found.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=aws["queue"], ReceiptHandle=message["ReceiptHandle"])


def latest(aws: dict[str, Any], pipeline: str) -> dict[str, Any]:
    key = f"{DRIFT_PREFIX}{pipeline}/{contract.LATEST_FILE}"
    document: dict[str, Any] = json.loads(
        aws["s3"].get_object(Bucket=ARTIFACTS, Key=key)["Body"].read()
    )
    return document


def run() -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler({}, _Context())
    return result


class _Context:
    function_name = "drift"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:drift"
    aws_request_id = "request"


def test_a_shift_is_reported_once_naming_the_labels_that_moved(aws):
    put_baseline(aws["s3"], "v1", {"cat": 0.5, "dog": 0.3, "bird": 0.2})
    serve(aws, "v1")
    publish(
        aws,
        "rekognition",
        "v1",
        Stream({"cat": 0.2, "dog": 0.6, "bird": 0.2}, 2000),
        timedelta(hours=2),
    )

    result = run()
    assert result["rekognition"]["drifted"] is True
    (mail,) = messages(aws)
    assert mail["Subject"] == "[dev] Rekognition inference DRIFTED"
    body = mail["Message"]
    assert body.startswith("Rekognition inference drifted from its baseline in environment dev.")
    moved = body.split("Labels that moved (test set -> live):\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0].strip() for line in moved] == ["dog", "cat"]
    assert "30.0% ->" in moved[0]
    assert "50.0% ->" in moved[1]
    assert "Outcome: DRIFTED" in body
    report = latest(aws, "rekognition")
    assert report["report_uri"] in body
    html_key = report["report_uri"].removeprefix(f"s3://{ARTIFACTS}/")
    html = aws["s3"].get_object(Bucket=ARTIFACTS, Key=html_key)["Body"].read().decode()
    assert "<h1>Drift report</h1>" in html
    assert "DRIFT</strong>" in html

    # The next run sees the same drift of the same model: no second message.
    run()
    assert messages(aws) == []
    # Every query the evaluator sent was a valid GetMetricData request (checked by the store)
    # over the configured window.
    request = aws["cloudwatch"].requests[-1]
    assert request["EndTime"] - request["StartTime"] == timedelta(hours=24)


def test_no_shift_and_a_tiny_window_stay_quiet(aws):
    put_baseline(aws["s3"], "v1", {"cat": 0.5, "dog": 0.5})
    serve(aws, "v1")
    publish(aws, "rekognition", "v1", Stream({"cat": 0.5, "dog": 0.5}, 2000), timedelta(hours=1))
    assert run()["rekognition"]["drifted"] is False
    quiet = latest(aws, "rekognition")
    assert quiet["figures"][contract.LABEL_DIVERGENCE] < 0.01

    aws["cloudwatch"].points.clear()
    publish(aws, "rekognition", "v1", Stream({"dog": 1.0}, 30), timedelta(hours=1))
    assert run()["rekognition"]["figures"] == dict.fromkeys(contract.FIGURES)
    assert messages(aws) == []


def test_a_new_version_switches_the_baseline(aws):
    put_baseline(aws["s3"], "v1", {"cat": 0.5, "dog": 0.5})
    put_baseline(aws["s3"], "v2", {"cat": 0.9, "dog": 0.1})
    # v1 served until an hour ago, v2 since: both in the window, each under its own Model.
    publish(aws, "rekognition", "v1", Stream({"cat": 0.5, "dog": 0.5}, 1500), timedelta(hours=3))
    publish(
        aws,
        "rekognition",
        "v2",
        Stream({"cat": 0.9, "dog": 0.1}, 500, seed=3),
        timedelta(minutes=30),
    )

    serve(aws, "v1")
    first = run()["rekognition"]
    assert (first["model"], first["drifted"]) == ("v1", False)

    serve(aws, "v2")
    second = run()["rekognition"]
    report = latest(aws, "rekognition")
    assert (second["model"], second["drifted"]) == ("v2", False)
    assert report["baseline_uri"].endswith(f"/{PROJECT}/v2/{contract.BASELINE_FILE}")
    assert report["live"]["images"] == 500  # v2's images only
    assert messages(aws) == []


def test_sagemaker_builds_its_baseline_and_watches_only_the_current_model(aws):
    s3, sagemaker = aws["s3"], aws["sagemaker"]
    prefix = "sagemaker/training/"
    validation = "".join(f"{i}\t{i % 4 == 0:d}.000000\tvalidation/img{i}.jpg\n" for i in range(400))
    s3.put_object(Bucket=DATA, Key=f"{prefix}validation_lst/validation.lst", Body=validation)
    s3.put_object(Bucket=DATA, Key=f"{prefix}train_lst/train.lst", Body=validation)
    for i in range(30):
        s3.put_object(Bucket=DATA, Key=f"{prefix}train/img{i}.jpg", Body=b"x" * 70_000)
    sagemaker.endpoint = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:eu-west-1:123456789012:endpoint/{ENDPOINT}",
        "EndpointConfigName": "imgclf-dev-ic-0123456789ab",
        "EndpointStatus": "InService",
        "CreationTime": now() - timedelta(days=3),
        "LastModifiedTime": now() - timedelta(hours=2),
    }
    # The previous model's answers (before the update) must not count.
    publish(aws, "sagemaker", ENDPOINT, Stream({"motorcycle": 1.0}, 2000), timedelta(hours=5))
    publish(
        aws,
        "sagemaker",
        ENDPOINT,
        Stream({"bicycle": 0.75, "motorcycle": 0.25}, 400, sizes=(60_000, 80_000)),
        timedelta(hours=1),
    )

    result = run()["sagemaker"]
    assert (result["model"], result["drifted"]) == (ENDPOINT, False)
    key = sagemaker_report_prefix("imgclf-dev-ic-0123456789ab") + contract.BASELINE_FILE
    baseline = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())
    assert baseline["test"]["label_counts"] == {"bicycle": 300, "motorcycle": 100}
    assert baseline["image_bytes"]["histogram"] == {"64KiB-128KiB": 30}
    assert baseline["formats"] == {"jpeg": 30}
    report = latest(aws, "sagemaker")
    assert report["live"]["images"] == 400
    assert report["figures"][contract.CONFIDENCE_DROP] is None  # no validation predictions
    assert report["window"]["start"] == sagemaker.endpoint["LastModifiedTime"].isoformat(
        timespec="seconds"
    )


def test_nothing_served_is_quiet_and_says_why(aws):
    result = run()
    assert result["rekognition"]["drifted"] is False
    assert result["sagemaker"]["model"] == "-"
    report = latest(aws, "sagemaker")
    assert report["quiet"][contract.LABEL_DIVERGENCE] == f"endpoint {ENDPOINT} does not exist"
    assert "does not exist" in latest(aws, "rekognition")["quiet"][contract.LABEL_DIVERGENCE]


def test_a_promoted_version_finds_the_baseline_its_promotion_copied(aws):
    # The version as trained and evaluated in the source environment (its own bucket/project).
    source_bucket, source_project = "source-artifacts", "imgclf-src-image-classifier"
    aws["s3"].create_bucket(
        Bucket=source_bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    put_baseline(aws["s3"], "v7", {"cat": 0.5, "dog": 0.5})
    here = version_report_prefix(PROJECT, "v7") + contract.BASELINE_FILE
    trained = aws["s3"].get_object(Bucket=ARTIFACTS, Key=here)["Body"].read()
    aws["s3"].delete_object(Bucket=ARTIFACTS, Key=here)
    aws["s3"].put_object(
        Bucket=source_bucket, Key=f"reports/{source_project}/v7/baseline.json", Body=trained
    )
    # Promoted here: same version name, this environment's project and SSM parameter.
    serve(aws, "v7")
    publish(aws, "rekognition", "v7", Stream({"cat": 0.2, "dog": 0.8}, 1000), timedelta(hours=1))
    run()
    assert latest(aws, "rekognition")["quiet"][contract.LABEL_DIVERGENCE].startswith(
        "no baseline at s3://"
    )

    copied = copy_baseline(
        aws["s3"],
        source_bucket=source_bucket,
        source_project=source_project,
        target_bucket=ARTIFACTS,
        target_project=PROJECT,
        source_version="v7",
        target_version="v7",
    )

    assert copied["copied"] is True
    result = run()["rekognition"]
    report = latest(aws, "rekognition")
    assert report["baseline_uri"] == copied["target_uri"]
    assert result["drifted"] is True
    (mail,) = messages(aws)
    assert "Model v7" in mail["Message"]


def test_a_version_without_baseline_is_quiet(aws):
    serve(aws, "v9")
    publish(aws, "rekognition", "v9", Stream({"cat": 1.0}, 1000), timedelta(hours=1))
    run()
    report = latest(aws, "rekognition")
    assert report["baseline_uri"] is None
    assert not report["drifted"]
    assert report["quiet"][contract.LABEL_DIVERGENCE].startswith("no baseline at s3://")
    assert report["live"]["images"] == 1000


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([], "the event must be a JSON object, got list"),
        ({"Records": []}, "expected the schedule's event (or {}), got keys ['Records']"),
    ],
)
def test_an_unexpected_event_is_refused_in_one_line(aws, event, problem):
    with pytest.raises(handler.UnexpectedEvent) as raised:
        handler.lambda_handler(event, _Context())
    assert str(raised.value) == problem


def test_a_failing_pipeline_fails_the_run_after_the_other_is_done(aws, monkeypatch):
    put_baseline(aws["s3"], "v1", {"cat": 0.5, "dog": 0.5})
    serve(aws, "v1")

    def throttled(**params: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData"
        )

    monkeypatch.setattr(aws["cloudwatch"], "get_metric_data", throttled)
    with pytest.raises(handler.EvaluationFailed, match=r"rekognition: .*Rate exceeded"):
        run()
    assert latest(aws, "sagemaker")["running"] is None  # evaluated all the same

"""Fixtures of the inference consumer's tests: the environment and the moto pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from rekognition_inference import handler as consumer
from stacks.pipelines.rekognition_inference import MAX_RECEIVE_COUNT
from tests.unit.rekognition_inference.support import (
    ARTIFACTS,
    DATA,
    PARAMETER,
    PROJECT,
    Pipeline,
    _clients,
)
from tests.unit.rekognition_support import (
    MODEL_ARN,
    FakeDetect,
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "rekognition-inference",
        "POWERTOOLS_METRICS_NAMESPACE": "ImageClassification/test",
        "DATA_BUCKET": DATA,
        "ARTIFACTS_BUCKET": ARTIFACTS,
        "INPUT_PREFIX": "incoming/",
        "MIN_CONFIDENCE": "0.5",
        "REVIEW_THRESHOLD": "0.8",
        "PROJECT_NAME": PROJECT,
        "MODEL_VERSION_ARN": "",
        "MODEL_VERSION_PARAMETER": PARAMETER,
        "DETECT_CONCURRENCY": "4",
        "INVOCATION_TPS": "0",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def pipeline(environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    # Powertools reads these when the module is imported, which may have been before the fixture.
    monkeypatch.setattr(consumer.metrics, "namespace", "ImageClassification/test")
    monkeypatch.setattr(consumer.metrics, "service", "rekognition-inference")
    with mock_aws():
        parameters.clear_caches()
        s3, sqs, ssm = _clients()
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
        dlq_url = sqs.create_queue(QueueName="inference-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName="inference",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                )
            },
        )["QueueUrl"]
        ssm.put_parameter(Name=PARAMETER, Value=MODEL_ARN, Type="String")
        detect = FakeDetect(storage=s3)
        detect.install(consumer.runtime().classifier._rekognition)
        s3_calls: list[str] = []
        consumer_s3 = consumer.runtime().classifier.storage.s3
        consumer_s3.meta.events.register(
            "before-call.s3",
            lambda model, **_: s3_calls.append(model.name),
            unique_id="count-s3-calls",
        )
        yield Pipeline(s3, sqs, ssm, queue_url, dlq_url, detect, s3_calls)
        consumer_s3.meta.events.unregister("before-call.s3", unique_id="count-s3-calls")
        if consumer.runtime().pinned_arn:  # built by a test that changed the environment
            consumer.runtime.cache_clear()

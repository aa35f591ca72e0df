"""SageMaker inference runtime: request validation, the endpoint's answer, batch summaries,
and the validate/classify handlers against moto's S3 and SageMaker runtime."""

from __future__ import annotations

import datetime
import io
import json
import math

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from contracts.limits import SAGEMAKER_MAX_PAYLOAD_BYTES
from sagemaker_inference import aws, classify, model, summarize, validate

BUCKET = "data-bucket"
PREFIX = "sagemaker/inference/"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200
CLASSES = ["bicycle", "motorcycle"]


class Context:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"
    aws_request_id = "req"


# --- requests -------------------------------------------------------------------------------


def request(**fields):
    return model.parse_request(
        fields, data_bucket=BUCKET, input_prefix=PREFIX, default_threshold=0.9
    )


def test_request_takes_the_default_threshold_and_an_override():
    assert request(s3_uri=f"s3://{BUCKET}/{PREFIX}a.jpg").threshold == 0.9
    parsed = request(s3_uri=f"s3://{BUCKET}/{PREFIX}dir/a.jpg", confidence_threshold=0.5)
    assert parsed.threshold == 0.5
    assert parsed.image == model.S3Location(BUCKET, f"{PREFIX}dir/a.jpg")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "s3_uri is required"),
        ({"s3_uri": "https://x/y.jpg"}, "must be an s3://bucket/key URI"),
        ({"s3_uri": "s3://bucket-only"}, "must name a bucket and a key"),
        ({"s3_uri": f"s3://other/{PREFIX}a.jpg"}, "outside the inference inputs"),
        ({"s3_uri": f"s3://{BUCKET}/elsewhere/a.jpg"}, f"under s3://{BUCKET}/{PREFIX}"),
        ({"s3_uri": f"s3://{BUCKET}/{PREFIX}dir/"}, "is a folder"),
        ({"s3_uri": f"s3://{BUCKET}/{PREFIX}a.jpg", "confidence_threshold": 1.5}, "within"),
        ({"s3_uri": f"s3://{BUCKET}/{PREFIX}a.jpg", "confidence_threshold": "0.5"}, "number"),
        ({"s3_uri": f"s3://{BUCKET}/{PREFIX}a.jpg", "confidence_threshold": True}, "number"),
        ({"s3_uri": f"s3://{BUCKET}/{PREFIX}a.jpg", "threshold": 0.5}, "unknown field"),
    ],
)
def test_bad_requests_are_rejected_with_a_clear_message(fields, message):
    with pytest.raises(model.InvalidRequestError, match=message):
        request(**fields)


def test_a_non_object_input_is_rejected():
    with pytest.raises(model.InvalidRequestError, match="JSON object"):
        model.parse_request(
            ["s3://x"], data_bucket=BUCKET, input_prefix=PREFIX, default_threshold=1
        )


def test_an_unknown_field_names_the_closest_known_one():
    with pytest.raises(model.InvalidRequestError) as raised:
        request(s3_uri=f"s3://{BUCKET}/{PREFIX}a.jpg", threshold=0.5)
    assert "unknown field 'threshold' (did you mean 'confidence_threshold'?)" in str(raised.value)
    assert "the input takes s3_uri, confidence_threshold" in str(raised.value)


def batch(event):
    return model.parse_batch_request(
        event, data_bucket=BUCKET, input_prefix=PREFIX, default_threshold=0.9
    )


def test_batch_request_takes_the_default_threshold_and_an_override():
    assert batch({"prefix": f"{PREFIX}day-1/"}) == model.BatchRequest(
        bucket=BUCKET, prefix=f"{PREFIX}day-1/", threshold=0.9
    )
    assert batch({"prefix": PREFIX, "confidence_threshold": 0}).threshold == 0.0
    # null is "not given", as for a single image.
    assert batch({"prefix": PREFIX, "confidence_threshold": None}).threshold == 0.9


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"prefix": f"{PREFIX}x/", "threshold": 0.5},
            "unknown field 'threshold' (did you mean 'confidence_threshold'?); the input takes "
            "prefix, confidence_threshold",
        ),
        (
            {"prefx": f"{PREFIX}x/", "confidence_threshold": 0.5},
            "unknown field 'prefx' (did you mean 'prefix'?)",
        ),
        ({"prefix": f"{PREFIX}x/", "s3_uri": "s3://b/k"}, "unknown field 's3_uri';"),
        ({"prefix": f"{PREFIX}x/", "a": 1, "b": 2}, "unknown fields 'a', 'b';"),
        ({}, "prefix must be a key prefix (a string), got None"),
        ({"prefix": ""}, "prefix must be a key prefix"),
        ({"prefix": ["a"]}, "prefix must be a key prefix"),
        ({"prefix": "elsewhere/"}, f"objects under s3://{BUCKET}/{PREFIX}"),
        ({"prefix": PREFIX, "confidence_threshold": 1.01}, "within [0, 1]"),
        ("sagemaker/inference/", "must be a JSON object, got str"),
    ],
)
def test_bad_batch_requests_are_refused_with_what_a_batch_input_looks_like(event, message):
    with pytest.raises(model.InvalidRequestError) as raised:
        batch(event)
    assert message in str(raised.value)
    assert f'A batch input is {{"prefix": "<key prefix under {PREFIX}>"' in str(raised.value)


# --- the endpoint's answer ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[0.25, 0.75]", b'{"prediction": [0.25, 0.75]}', b"[0.25,0.75]\n"],
)
def test_prediction_is_mapped_to_the_configured_class_names(body):
    assert model.parse_prediction(body, CLASSES) == {"bicycle": 0.25, "motorcycle": 0.75}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'"0.75"', "expected a JSON array"),
        (b'{"scores": [0.2, 0.8]}', "expected a JSON array"),
        (b"[0.1, 0.2, 0.7]", "3 probabilities for 2 configured class names"),
        (b"[0.5, 1.5]", "must be a number in \\[0, 1\\]"),
        (b'[0.5, "0.5"]', "must be a number"),
        (b"[0.5, NaN]", "must be a number"),
        (b"[true, 0.5]", "must be a number"),
    ],
)
def test_malformed_answers_raise(body, message):
    with pytest.raises(model.MalformedEndpointResponseError, match=message):
        model.parse_prediction(body, CLASSES)


def test_top_label_is_the_most_probable():
    assert model.top_label({"a": 0.1, "b": 0.7, "c": 0.2}) == ("b", 0.7)
    assert model.top_label({"a": 0.5, "b": 0.5}) == ("a", 0.5)
    with pytest.raises(model.MalformedEndpointResponseError):
        model.top_label({})


# --- batch summary --------------------------------------------------------------------------


def child(status: str, label: str | None = None) -> dict:
    output = {"status": status, "s3_uri": "s3://b/k", "label": label, "confidence": 0.5}
    return {"Status": "SUCCEEDED", "Output": json.dumps(output)}


def failure(uri: str, error: str, message: str) -> dict:
    cause = json.dumps({"errorMessage": message, "errorType": error})
    return {
        "Status": "FAILED",
        "Input": json.dumps({"s3_uri": uri}),
        "Error": error,
        "Cause": cause,
    }


def test_summary_counts_labels_review_and_failures():
    summary = model.summarize(
        [
            child("classified", "bicycle"),
            child("classified", "bicycle"),
            child("classified", "motorcycle"),
            child("low_confidence", "motorcycle"),
            child("skipped"),
        ],
        [failure("s3://b/x.gif", "NotAnImageError", "a GIF image")],
    )
    assert summary == {
        "total": 6,
        "classified": 3,
        "low_confidence": 1,
        "skipped": 1,
        "failed": 1,
        "not_processed": 0,
        "failure_percentage": round(100 / 6, 2),
        "tolerance_exceeded": True,  # nothing tolerated by default
        "labels": {"bicycle": 2, "motorcycle": 1},
        "low_confidence_labels": {"motorcycle": 1},
        "failures": [
            {"s3_uri": "s3://b/x.gif", "error": "NotAnImageError", "cause": "a GIF image"}
        ],
        "failures_not_listed": 0,
    }


def test_summary_of_nothing_and_of_many_failures():
    assert model.summarize([], [])["failure_percentage"] == 0.0
    assert model.describe_failures(model.summarize([], [])) == "none"
    many = [failure(f"s3://b/{i}", "E", "m") for i in range(model.MAX_LISTED_FAILURES + 5)]
    summary = model.summarize([], many)
    assert summary["failed"] == model.MAX_LISTED_FAILURES + 5
    assert len(summary["failures"]) == model.MAX_LISTED_FAILURES
    assert summary["failures_not_listed"] == 5
    lines = model.describe_failures(summary).splitlines()
    assert len(lines) == model.MAX_LISTED_FAILURES + 1
    assert lines[0] == "- s3://b/0: E: m"
    assert lines[-1] == "... and 5 more (all are in the results' FAILED files)"


def test_a_stopped_run_counts_aborted_and_pending_items_as_not_processed():
    aborted = {**failure("s3://b/a.jpg", "States.Aborted", ""), "Status": "ABORTED"}
    pending = {"Input": json.dumps({"s3_uri": "s3://b/p.jpg"}), "Status": "PENDING"}
    summary = model.summarize(
        [child("classified", "bicycle")],
        [failure("s3://b/x.txt", "NotAnImageError", "not an image"), aborted],
        [pending, pending],
    )
    assert (summary["total"], summary["failed"], summary["not_processed"]) == (5, 1, 3)
    assert summary["failure_percentage"] == 20.0
    assert [f["s3_uri"] for f in summary["failures"]] == ["s3://b/x.txt"]


def test_failure_lines_cut_long_causes():
    summary = model.summarize([], [failure("s3://b/k", "E", "x" * 400)])
    (line,) = model.describe_failures(summary).splitlines()
    assert line.startswith("- s3://b/k: E: xxx")
    assert line.endswith("...")
    assert len(line) < 250


# --- handlers against moto ------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    monkeypatch.setenv("INPUT_PREFIX", PREFIX)
    monkeypatch.setenv("DEFAULT_THRESHOLD", "0.9")
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(SAGEMAKER_MAX_PAYLOAD_BYTES))
    monkeypatch.setenv("ENDPOINT_NAME", "imgclf-test-classifier")
    monkeypatch.setenv("CLASS_NAMES", json.dumps(CLASSES))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    aws.client.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3
    aws.client.cache_clear()


def run_validate(key: str, **extra):
    return validate.lambda_handler({"s3_uri": f"s3://{BUCKET}/{key}", **extra}, Context())


def test_validate_accepts_jpeg_and_png_and_passes_a_versioned_reference(aws_env):
    version = aws_env.put_object(Bucket=BUCKET, Key=f"{PREFIX}a.jpg", Body=JPEG)["VersionId"]
    aws_env.put_object(Bucket=BUCKET, Key=f"{PREFIX}b.png", Body=PNG)
    result = run_validate(f"{PREFIX}a.jpg", confidence_threshold=0.6)
    assert result == {
        "image": {
            "s3_uri": f"s3://{BUCKET}/{PREFIX}a.jpg",
            "bucket": BUCKET,
            "key": f"{PREFIX}a.jpg",
            "version_id": version,
            "size": len(JPEG),
            "format": "JPEG",
            "content_type": "image/jpeg",
        },
        "threshold": 0.6,
    }
    assert run_validate(f"{PREFIX}b.png")["image"]["content_type"] == "image/png"
    assert "image_data" not in json.dumps(result)  # a reference, never the bytes


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"", model.NotAnImageError, "is empty"),
        (b"GIF89a" + b"\x00" * 50, model.NotAnImageError, "a GIF image"),
        (b"%PDF-1.7\n" + b"\x00" * 50, model.NotAnImageError, "not an image"),
    ],
)
def test_validate_rejects_what_the_algorithm_cannot_take(aws_env, body, error, message):
    aws_env.put_object(Bucket=BUCKET, Key=f"{PREFIX}x", Body=body)
    with pytest.raises(error, match=message):
        run_validate(f"{PREFIX}x")


def test_validate_rejects_a_missing_object_and_an_oversized_one(aws_env, monkeypatch):
    with pytest.raises(model.ImageNotFoundError, match="does not exist"):
        run_validate(f"{PREFIX}missing.jpg")
    aws_env.put_object(Bucket=BUCKET, Key=f"{PREFIX}big.jpg", Body=JPEG)
    monkeypatch.setenv("MAX_IMAGE_BYTES", "100")
    with pytest.raises(model.ImageTooLargeError, match="at most 100 bytes"):
        run_validate(f"{PREFIX}big.jpg")


def test_classify_reads_the_image_and_maps_the_answer(aws_env, monkeypatch, capsys):
    aws_env.put_object(Bucket=BUCKET, Key=f"{PREFIX}a.jpg", Body=JPEG)
    image = run_validate(f"{PREFIX}a.jpg")["image"]
    # moto's InvokeEndpoint decodes request bodies as UTF-8 and cannot take image bytes.
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    stubber = Stubber(runtime)
    stubber.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(b"[0.1, 0.9]"), 10),
            "ContentType": "application/json",
            "InvokedProductionVariant": "AllTraffic",
        },
        {
            "EndpointName": "imgclf-test-classifier",
            "ContentType": "image/jpeg",
            "Accept": "application/json",
            "Body": JPEG,
        },
    )
    real_client = aws.client
    monkeypatch.setattr(
        classify,
        "client",
        lambda service, read_timeout=30: (
            runtime if service == "sagemaker-runtime" else real_client(service)
        ),
    )
    with stubber:
        result = classify.lambda_handler(
            {"image": image, "threshold": 0.95, "workflow": "SageMaker classify image"}, Context()
        )
    assert result == {
        "label": "motorcycle",
        "confidence": 0.9,
        "probabilities": {"bicycle": 0.1, "motorcycle": 0.9},
        "endpoint": "imgclf-test-classifier",
        "variant": "AllTraffic",
    }
    # 0.9 < 0.95: one image classified, counted as low confidence, for the calling workflow.
    counts = {
        (name, record["workflow"]): record[name]
        for record in emf_records(capsys.readouterr().out)
        for name in ("ImagesClassified", "LowConfidence")
        if name in record
    }
    assert counts == {
        ("ImagesClassified", "SageMaker classify image"): [1.0],
        ("LowConfidence", "SageMaker classify image"): [1.0],
    }


def emf_records(output: str) -> list[dict]:
    """CloudWatch embedded-metric-format records printed by the handler."""
    records = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def test_classify_refuses_a_request_without_its_workflow_before_paying(aws_env):
    with pytest.raises(ValueError, match="needs 'workflow'"):
        classify.lambda_handler({"image": {"bucket": BUCKET}, "threshold": 0.5}, Context())
    with pytest.raises(ValueError, match="numeric 'threshold'"):
        classify.lambda_handler({"image": {}, "threshold": "high", "workflow": "w"}, Context())


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        ("ThrottlingException", "slow down", model.EndpointThrottledError),
        ("ModelError", "Received server error (500)", model.EndpointModelError),
        ("ServiceUnavailable", "try later", model.EndpointUnavailableError),
        ("ModelNotReadyException", "not ready", model.EndpointUnavailableError),
        ("ValidationError", "Endpoint x of account y not found.", model.EndpointNotFoundError),
        ("ValidationError", "Body too large", model.EndpointRequestRejectedError),
    ],
)
def test_endpoint_errors_get_workflow_names(monkeypatch, code, message, error):
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    stubber = Stubber(runtime)
    stubber.add_client_error("invoke_endpoint", service_error_code=code, service_message=message)
    monkeypatch.setattr(classify, "client", lambda service, read_timeout=30: runtime)
    with stubber, pytest.raises(error):
        classify.invoke_endpoint("x", "image/jpeg", b"\xff\xd8\xff")


def test_s3_errors_get_workflow_names():
    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")

    assert isinstance(aws.s3_error(client_error("NoSuchKey"), "s3://b/k"), model.ImageNotFoundError)
    assert isinstance(aws.s3_error(client_error("403"), "s3://b/k"), model.ImageAccessDeniedError)
    assert isinstance(
        aws.s3_error(client_error("SlowDown"), "s3://b/k"), model.StorageThrottledError
    )
    other = client_error("InvalidObjectState")
    assert aws.s3_error(other, "s3://b/k") is other


KEY = f"{PREFIX}photo.jpg"
URI = f"s3://{BUCKET}/{KEY}"
KMS_DENIED = (
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/validate/fn is not authorized to perform: "
    f"kms:Decrypt on resource: arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd because no "
    "identity-based policy allows the kms:Decrypt action"
)


@pytest.fixture
def stubbed_s3(aws_env, monkeypatch):
    """The validate and classify functions' S3 client, answering from a botocore Stubber."""
    s3 = boto3.client("s3", region_name=REGION)
    monkeypatch.setattr(validate, "client", lambda service, read_timeout=30: s3)
    monkeypatch.setattr(classify, "client", lambda service, read_timeout=30: s3)
    with Stubber(s3) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def head_succeeds(stubber: Stubber) -> None:
    stubber.add_response(
        "head_object",
        {"ContentLength": len(JPEG), "ContentType": "image/jpeg", "VersionId": "v1"},
        {"Bucket": BUCKET, "Key": KEY},
    )


def get_fails(stubber: Stubber, code: str, status: int, message: str, **params) -> None:
    stubber.add_client_error(
        "get_object",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params={"Bucket": BUCKET, "Key": KEY, "VersionId": "v1", **params},
    )


@pytest.mark.parametrize(
    ("code", "status", "message", "error", "expected"),
    [
        # HeadObject has no body: botocore reports the HTTP status as the code.
        ("403", 403, "Forbidden", model.ImageAccessDeniedError, "HeadObject was denied (403: F"),
        ("404", 404, "Not Found", model.ImageNotFoundError, f"{URI} does not exist (S3 answe"),
    ],
)
def test_head_object_refusal_is_access_denied_and_404_is_not_found(
    stubbed_s3, code, status, message, error, expected
):
    stubbed_s3.add_client_error(
        "head_object",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params={"Bucket": BUCKET, "Key": KEY},
    )
    with pytest.raises(error) as raised:
        run_validate(KEY)
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("code", "status", "message", "error", "expected"),
    [
        (
            "AccessDenied",
            403,
            KMS_DENIED,
            model.ImageAccessDeniedError,
            ["cannot be read: GetObject was denied (AccessDenied: User:", "kms:Decrypt"],
        ),
        (
            "KMS.AccessDeniedException",
            400,
            KMS_DENIED,
            model.ImageAccessDeniedError,
            ["cannot be decrypted: GetObject failed with KMS.AccessDeniedException"],
        ),
        (
            "KMS.DisabledException",
            400,
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd is disabled.",
            model.ImageAccessDeniedError,
            ["cannot be decrypted", "KMS.DisabledException", "is disabled"],
        ),
        # Deleted between HeadObject and GetObject: still not found.
        (
            "NoSuchKey",
            404,
            "The specified key does not exist.",
            model.ImageNotFoundError,
            ["does not exist (S3 answered NoSuchKey)"],
        ),
        (
            "KMS.ThrottlingException",
            400,
            "Rate exceeded",
            model.StorageThrottledError,
            ["KMS.ThrottlingException", "retrying"],
        ),
    ],
)
def test_an_object_that_exists_but_cannot_be_decrypted_is_access_denied(
    stubbed_s3, code, status, message, error, expected
):
    head_succeeds(stubbed_s3)
    get_fails(stubbed_s3, code, status, message, Range="bytes=0-15")
    with pytest.raises(error) as raised:
        run_validate(KEY)
    for text in expected:
        assert text in str(raised.value)
    assert URI in str(raised.value)


def test_classify_reports_a_refused_read_of_the_validated_version(stubbed_s3):
    get_fails(stubbed_s3, "AccessDenied", 403, KMS_DENIED)
    image = {
        "s3_uri": URI,
        "bucket": BUCKET,
        "key": KEY,
        "version_id": "v1",
        "content_type": "image/jpeg",
    }
    with pytest.raises(model.ImageAccessDeniedError, match="kms:Decrypt"):
        classify.lambda_handler({"image": image, "threshold": 0.9, "workflow": "w"}, Context())


RESULTS = "results/sagemaker/batch"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:ClassifyBatch:run-1"


def map_run(run_id: str, started: datetime.datetime) -> dict:
    return {
        "executionArn": EXECUTION,
        "mapRunArn": f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:ClassifyBatch/Images:{run_id}",
        "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ClassifyBatch/Images",
        "startDate": started,
    }


@pytest.fixture
def stubbed_sfn(aws_env, monkeypatch):
    """Summarize's Step Functions client from a Stubber; its S3 client is moto's."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    real_client = aws.client
    monkeypatch.setattr(
        summarize,
        "client",
        lambda service, read_timeout=30: (
            sfn if service == "stepfunctions" else real_client(service)
        ),
    )
    with Stubber(sfn) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def put_results(s3, run_id: str) -> None:
    folder = f"{RESULTS}/{run_id}"
    failed = [failure(f"s3://{BUCKET}/{PREFIX}x.txt", "NotAnImageError", "not an image")]
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/FAILED_0.json", Body=json.dumps(failed))
    manifest = {"ResultFiles": {"FAILED": [{"Key": f"{folder}/FAILED_0.json", "Size": 1}]}}
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/manifest.json", Body=json.dumps(manifest))


def summarize_failed_batch():
    return summarize.lambda_handler(
        {
            "execution_arn": EXECUTION,
            "results": {"bucket": BUCKET, "prefix": f"{RESULTS}/"},
            "prefix": PREFIX,
            "threshold": 0.9,
        },
        Context(),
    )


def test_a_failed_batch_is_summarized_from_its_newest_map_run(aws_env, stubbed_sfn):
    start = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
    put_results(aws_env, "new-run")
    stubbed_sfn.add_response(
        "list_map_runs",
        {
            "mapRuns": [
                map_run("old-run", start),  # a Map attempt that failed to list its items
                map_run("new-run", start + datetime.timedelta(minutes=3)),
            ]
        },
        {"executionArn": EXECUTION},
    )

    result = summarize_failed_batch()

    summary = result["summary"]
    assert summary["tolerance_exceeded"] is True
    assert summary["failed"] == 1
    assert summary["results_uri"] == f"s3://{BUCKET}/{RESULTS}/new-run/manifest.json"
    assert summary["summary_uri"] == f"s3://{BUCKET}/{RESULTS}/new-run/summary.json"
    stored = aws_env.get_object(Bucket=BUCKET, Key=f"{RESULTS}/new-run/summary.json")
    assert json.loads(stored["Body"].read()) == summary
    assert result["failures_text"] == (
        f"- s3://{BUCKET}/{PREFIX}x.txt: NotAnImageError: not an image"
    )


def test_a_failed_batch_without_results_says_where_it_looked(aws_env, stubbed_sfn):
    stubbed_sfn.add_response(
        "list_map_runs",
        {"mapRuns": [map_run("lost-run", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))]},
        {"executionArn": EXECUTION},
    )
    with pytest.raises(summarize.BatchResultsNotFoundError, match=r"lost-run/manifest\.json"):
        summarize_failed_batch()


def test_probabilities_are_finite_in_results():
    parsed = model.parse_prediction(b"[0.000001, 0.999999]", CLASSES)
    assert all(math.isfinite(v) for v in parsed.values())

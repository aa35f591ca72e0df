"""The lineage record contract: its keys, its schema, its one-line refusals, its registry form."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import botocore.session
import pytest

from contracts.naming import REKOGNITION, SAGEMAKER
from shared.lineage import (
    SCHEMA_VERSION,
    LineageError,
    customer_metadata,
    lineage_key,
    parse_lineage,
)

ACCOUNT = "123456789012"
VERSION_ARN = (
    f"arn:aws:rekognition:eu-west-1:{ACCOUNT}:project/shapes/version/v-run-1/1700000000001"
)


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "pipeline": REKOGNITION,
        "environment": "dev",
        "project": "shapes",
        "version": "v-run-1",
        "model_version_arn": VERSION_ARN,
        "execution_arn": f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:training:run-1",
        "code_version": "0123456789abcdef0123456789abcdef01234567",
        "training_data": [
            {"uri": "s3://data-bucket/manifests/train.manifest", "version_id": "v1", "etag": '"e1"'}
        ],
        "test_data": [{"uri": "s3://data-bucket/manifests/test.manifest"}],
        "datasets": {
            "train": f"arn:aws:rekognition:eu-west-1:{ACCOUNT}:project/shapes/dataset/train/1"
        },
        "gate": {
            "settings": {"metric": "f1_score", "threshold": 0.85},
            "passed": True,
            "reasons": [],
            "metric": "f1_score",
            "value": 0.9,
            "threshold": 0.85,
        },
        "metrics_uri": "s3://artifacts/reports/shapes/v-run-1/metrics.json",
        "report_uri": "s3://artifacts/reports/shapes/v-run-1/report.html",
        "created_at": "2026-01-01T10:00:00+00:00",
        "finished_at": "2026-01-01T11:00:00+00:00",
    }
    base.update(changes)
    return base


def test_keys_sit_next_to_each_pipelines_report() -> None:
    assert lineage_key(REKOGNITION, "shapes", "v1") == "reports/shapes/v1/lineage.json"
    assert lineage_key(SAGEMAKER, "group", "job-1") == "sagemaker/reports/job-1/lineage.json"
    with pytest.raises(LineageError, match="pipeline"):
        lineage_key("other", "p", "v")


def test_a_record_round_trips_through_json() -> None:
    parsed = parse_lineage(json.dumps(record()).encode())
    assert parse_lineage(parsed.to_json()) == parsed
    assert parsed.gate.passed is True
    assert parsed.training_data[0].version_id == "v1"
    assert parsed.test_data[0].etag is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not UTF-8"),
        ("{", "not JSON"),
        ("[]", "must be a JSON object"),
        (record(schema_version=2), "schema_version: this reader knows version 1"),
        (record(schema_version=True), "schema_version: must be an integer"),
        (record(pipeline="other"), "pipeline: one of"),
        (record(model_version_arn="nope"), "model_version_arn: not a valid value"),
        (record(execution_arn=VERSION_ARN), "execution_arn: not a valid value"),
        (record(training_data=[], datasets={}), "training_data: names no data"),
        (record(training_data=[{"uri": "http://x"}]), r"training_data\[0\]: uri"),
        (record(created_at="yesterday"), "created_at: not an ISO 8601 time"),
        (record(finished_at="2026-01-01T11:00:00"), "finished_at: needs a UTC offset"),
        (record(datasets={"train": "x"}), "datasets.train: not an ARN"),
        (record(metrics_uri=None), "metrics_uri: missing"),
    ],
)
def test_a_malformed_record_is_refused_with_one_line(data: Any, message: str) -> None:
    with pytest.raises(LineageError, match=message) as raised:
        parse_lineage(data, source="s3://a/b")
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("s3://a/b")


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"passed": "yes"}, "gate: passed: must be true or false"),
        ({"passed": True, "reasons": ["low"]}, "a gate that passed has no reasons"),
        ({"passed": False, "reasons": []}, "a gate that did not pass says why"),
        ({"value": "0.9"}, "gate: value: must be a number"),
        ({"reasons": [1]}, "reasons: a list of strings"),
    ],
)
def test_a_malformed_gate_is_refused(gate: dict[str, Any], message: str) -> None:
    data = record()
    data["gate"] = {**data["gate"], **gate}
    with pytest.raises(LineageError, match=message):
        parse_lineage(data)


def test_customer_metadata_meets_the_registrys_documented_limits() -> None:
    """Against botocore's CustomerMetadataMap: <= 50 entries, keys <= 128, values <= 256 of the
    allowed characters (the pattern is the service's, ``\\p{..}`` classes spelled for ``re``)."""
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateModelPackage")
        .input_shape.members["CustomerMetadataProperties"]
    )
    data = copy.deepcopy(record())
    data["gate"] = {**data["gate"], "passed": False, "reasons": ['f1 {0.5} is below, "x"']}
    data["training_data"] = [
        {"uri": f"s3://data-bucket/{'k' * 300}{i}", "version_id": "v,1", "etag": '"abc"'}
        for i in range(8)
    ]
    entries = customer_metadata(parse_lineage(data), "s3://artifacts/reports/x/lineage.json")
    allowed = re.compile(r"[\w\s.:/=+\-@]*")
    assert 1 <= len(entries) <= shape.metadata["max"]
    for key, value in entries.items():
        assert shape.key.metadata["min"] <= len(key) <= shape.key.metadata["max"]
        assert shape.value.metadata["min"] <= len(value) <= shape.value.metadata["max"]
        assert allowed.fullmatch(key), key
        assert allowed.fullmatch(value), value
    assert entries["gate_passed"] == "false"
    assert entries["lineage"] == "s3://artifacts/reports/x/lineage.json"
    assert entries["training_data_0_etag"] == "_abc_"

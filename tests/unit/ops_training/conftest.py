"""Fixtures of the ``ops train`` tests: moto with the stacks' outputs, scripted services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops import common
from tests.evaluation_data import ManifestSpec, write_manifest, write_summary
from tests.unit.ops_training.support import (
    ARTIFACTS,
    DATA,
    LABELS,
    REGION,
    STAND_IN,
    Aws,
    ScriptedRekognition,
    ScriptedStepFunctions,
    _stack,
    replace_client,
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,  # ops reads it first, as the AWS CLI does
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "COLUMNS": "250",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3")
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        role = boto3.client("iam").create_role(RoleName="training", AssumeRolePolicyDocument="{}")
        stepfunctions = boto3.client("stepfunctions")
        state_machine = stepfunctions.create_state_machine(
            name="training", definition=json.dumps(STAND_IN), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        cloudformation = boto3.client("cloudformation")
        _stack(
            cloudformation,
            "imgclf-dev-storage",
            {"DataBucketName": DATA, "ArtifactsBucketName": ARTIFACTS},
        )
        _stack(
            cloudformation,
            "imgclf-dev-rekognition-training",
            {"TrainingStateMachineArn": state_machine},
        )
        yield Aws(s3, stepfunctions, cloudformation, state_machine)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedStepFunctions]:
    monkeypatch.setenv("COLUMNS", "250")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    stepfunctions = ScriptedStepFunctions()
    monkeypatch.setattr(common, "client_factory", lambda service, region: stepfunctions.client)
    with stepfunctions.stubber:
        yield stepfunctions
        stepfunctions.stubber.assert_no_pending_responses()


# --- report: local files -----------------------------------------------------------------------


@pytest.fixture
def evaluation_files(tmp_path: Path) -> tuple[Path, Path]:
    manifest, summary = tmp_path / "eval.manifest", tmp_path / "summary.json"
    write_manifest(manifest, ManifestSpec(labels=LABELS, n_images=120, seed=11))
    write_summary(summary, LABELS, f1=0.9)
    return manifest, summary


@pytest.fixture
def rekognition(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedRekognition]:
    scripted = ScriptedRekognition()
    replace_client(monkeypatch, "rekognition", scripted.client)
    with scripted.stubber:
        yield scripted
        scripted.stubber.assert_no_pending_responses()

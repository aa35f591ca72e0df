"""The cdk-nag gate: every environment synthesizes with zero unacknowledged findings."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from contracts.naming import stack_concerns
from stacks.config import load_all
from stacks.environment import build_environment
from tests.infra.conftest import make_app


def gated_app(cdk_context, outdir):
    app = make_app(cdk_context, outdir=str(outdir))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    return app


def test_every_environment_passes_the_gate(cdk_context, tmp_path):
    app = gated_app(cdk_context, tmp_path)
    for config in load_all(cdk_context):
        build_environment(app, config)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == sorted(
        f"{config.name.capitalize()}{concern}.template.json"
        for config in load_all(cdk_context)
        for concern in stack_concerns(isolated=config.network.isolated)
    )


def test_the_gate_is_live(cdk_context, tmp_path):
    """An unencrypted, non-TLS queue without a DLQ must stop synthesis and be reported."""
    app = gated_app(cdk_context, tmp_path)
    sqs.Queue(Stack(app, "Careless"), "Queue")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4", "Serverless-SQSRedrivePolicy"} <= rules

"""The drift evaluator may read and write exactly where its baselines live."""

from __future__ import annotations

import fnmatch

import pytest

from contracts.s3_layout import sagemaker_report_prefix
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import template_of
from tests.infra.test_rekognition_inference import actions, resources, statements_of


def _granted(statements: list[dict], action: str, key: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and action in actions(statement)
        and any(fnmatch.fnmatchcase(f"arn:bucket/{key}", "arn:bucket/" + r.split("/", 1)[1])
                for r in resources(statement) if "/" in r and "artifacts" in r)
        for statement in statements
    )  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_evaluator_reads_back_the_sagemaker_baselines_it_writes(templates, env):
    """It builds a SageMaker job's baseline once, then reads it on every later run."""
    statements = statements_of(template_of(templates, env, "Monitoring"), "DriftEvaluator")
    baseline = sagemaker_report_prefix("imgclf-job-1") + "baseline.json"
    assert _granted(statements, "s3:PutObject", baseline)
    assert _granted(statements, "s3:GetObject", baseline)
    # Next to the training job's lineage record (contracts.s3_layout), not a layout of its own.
    assert baseline.startswith("sagemaker/reports/imgclf-job-1/")

"""Fixtures of the training workflow's runs: the local workflow and templates with other limits."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from stacks.config import (
    load_environment,
)
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.conftest import state_machine_id
from tests.workflows.harness import MOTO_CONFIG, REGION, LocalWorkflow
from tests.workflows.rekognition_training.support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    TWO_POLLS,
)


@pytest.fixture
def workflow(dev_templates, dev_stacks) -> Iterator[LocalWorkflow]:
    with mock_aws(config=MOTO_CONFIG):
        stack = dev_stacks.rekognition_training.stack_name
        local = LocalWorkflow(
            dev_templates, stack, state_machine_id(dev_templates[stack]), strict_answers=True
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            # As the environment's buckets are (SecureBucket): lineage records version IDs.
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield local


@pytest.fixture(scope="module")
def short_deadline_templates(cdk_context) -> dict[str, dict[str, Any]]:
    """dev with a 1-hour training deadline: 12 polls of 5 minutes."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = {"training_deadline_hours": 1}
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


@pytest.fixture(scope="module")
def two_poll_stacks(cdk_context):
    """(templates, training stack name, its training settings) of dev with TWO_POLLS."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = TWO_POLLS
    config = load_environment(context, "dev")
    stacks = build_environment(make_app(context), config)
    templates = {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}
    return templates, stacks.rekognition_training.stack_name, config.rekognition_training

"""Templates of one environment, keyed by CloudFormation stack name, for the local runner."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from stacks.environment import EnvironmentStacks, build_environment
from tests.infra.conftest import make_app
from tests.workflows.test_sagemaker_training import sagemaker  # noqa: F401 - a fixture


@pytest.fixture(scope="session")
def dev_stacks(cdk_context: dict[str, Any]) -> EnvironmentStacks:
    return build_environment(make_app(cdk_context), load_environment(cdk_context, "dev"))


@pytest.fixture(scope="session")
def dev_templates(dev_stacks: EnvironmentStacks) -> dict[str, dict[str, Any]]:
    """Stack name -> template JSON, for every stack of dev."""
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in dev_stacks.all()}


def state_machine_id(template: dict[str, Any]) -> str:
    """The logical id of the one state machine in ``template``."""
    (logical_id,) = [
        key
        for key, value in template["Resources"].items()
        if value["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return logical_id

"""Apps synthesized once per session, with feature flags and config exactly as cdk.json has them.

Template fixtures synthesize with cdk-nag off (``Template.from_stack`` would raise on a finding
and hide the rest); ``test_security_gate.py`` runs the packs on its own app.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.config import load_all
from stacks.environment import EnvironmentStacks, build_environment


def make_app(context: dict[str, Any], **kwargs: Any) -> App:
    """An App carrying cdk.json's context; the built-in CloudFormation validation is off (slow)."""
    return App(context=context, builtin_cloud_formation_validation=False, **kwargs)


@pytest.fixture(scope="session")
def environments(cdk_context: dict[str, Any]) -> dict[str, EnvironmentStacks]:
    """Every configured environment's stacks, in one app."""
    app = make_app(cdk_context)
    return {config.name: build_environment(app, config) for config in load_all(cdk_context)}


@pytest.fixture(scope="session")
def templates(environments: dict[str, EnvironmentStacks]) -> dict[tuple[str, str], Template]:
    """(environment, stack construct id) -> synthesized template."""
    return {
        (name, stack.node.id): Template.from_stack(stack)
        for name, stacks in environments.items()
        for stack in stacks.all()
    }


def template_of(templates: dict[tuple[str, str], Template], env: str, concern: str) -> Template:
    return templates[(env, f"{env.capitalize()}{concern}")]

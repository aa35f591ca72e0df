"""Builds the full set of stacks of one environment; used by app.py and by the tests."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Stack, Tags
from aws_cdk import aws_logs as logs

from stacks.alerting_stack import AlertingStack
from stacks.config import EnvironmentConfig
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class EnvironmentStacks:
    """The stacks of one environment, by concern."""

    storage: StorageStack
    alerting: AlertingStack

    def all(self) -> list[Stack]:
        return [self.storage, self.alerting]


def stack_id(config: EnvironmentConfig, concern: str) -> str:
    """Stable construct id of a stack, e.g. ``DevStorage``."""
    return f"{config.name.capitalize()}{concern}"


def log_retention(config: EnvironmentConfig) -> logs.RetentionDays:
    """The configured retention as the CDK enum (config validated it is one CloudWatch accepts)."""
    return logs.RetentionDays(config.log_retention_days)


def build_environment(app: App, config: EnvironmentConfig) -> EnvironmentStacks:
    """Instantiate and connect every stack of ``config``'s environment."""
    env = (
        Environment(account=config.account, region=config.region)
        if config.account is not None
        else None
    )

    def common(concern: str) -> dict[str, object]:
        return {
            "env": env,
            "stack_name": f"{config.resource_name_prefix}-{concern.lower()}",
            "termination_protection": config.termination_protection,
            "description": f"Image classification pipelines: {concern.lower()} ({config.name})",
        }

    storage = StorageStack(app, stack_id(config, "Storage"), config=config, **common("Storage"))
    alerting = AlertingStack(
        app,
        stack_id(config, "Alerting"),
        config=config,
        encryption_key=storage.key,
        **common("Alerting"),
    )
    stacks = EnvironmentStacks(storage=storage, alerting=alerting)
    for stack in stacks.all():
        Tags.of(stack).add("Application", "image-classification-pipelines")
        Tags.of(stack).add("Environment", config.name)
    return stacks

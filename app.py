#!/usr/bin/env python3
"""CDK entry point: one set of stacks per configured environment, behind the cdk-nag gate.

``cdk synth`` builds every environment in cdk.json; ``-c env=NAME`` builds only that one (what
``make deploy ENV=NAME`` uses). A configuration mistake stops here with one readable line.
"""

from __future__ import annotations

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from stacks.config import ConfigError, EnvironmentConfig, load_all, load_environment
from stacks.environment import build_environment


def selected_environments(app: App) -> list[EnvironmentConfig]:
    context = {
        "environments": app.node.try_get_context("environments"),
        "defaults": app.node.try_get_context("defaults") or {},
    }
    selected = app.node.try_get_context("env")
    if selected:
        return [load_environment(context, str(selected))]
    return load_all(context)


def main() -> int:
    app = App()
    try:
        configs = selected_environments(app)
    except ConfigError as error:
        print(f"Configuration error in cdk.json: {error}", file=sys.stderr)
        return 2
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    for config in configs:
        build_environment(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

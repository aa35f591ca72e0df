"""Every configured environment, synthesized once, as the contract checks read it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_all
from stacks.environment import build_environment
from tests.conftest import ENVIRONMENTS
from tests.contract.cfn import STAND_IN_ACCOUNT, STAND_IN_REGION, Environment
from tests.infra.conftest import make_app

#: An extra environment with every optional feature switched on, so that the resources and
#: grants only those features create are checked too (cdk.json's environments leave them off).
ALL_FEATURES = "features"
ALL_FEATURES_SETTINGS: dict[str, Any] = {
    "notification_emails": ["ml-alerts@example.com"],
    "resource_prefix": "imgclfx",
    "quality_gate": {"metric": "f1_macro", "threshold": 0.8, "min_label_recall": 0.5},
    "rekognition": {
        "max_inference_units": 2,
        "model_control": {
            "mode": "scheduled",
            "schedule": {"start_hour_utc": 7, "end_hour_utc": 19},
        },
    },
    "rekognition_training": {
        "triggers": {
            "manifest_prefix": "training/manifests/",
            "schedule": "cron(0 3 ? * MON *)",
            "scheduled_manifest_key": "training/manifests/latest.manifest",
        }
    },
    # Relabeled manifests under the trigger's prefix (the trigger starts training), both
    # schedules, a base manifest and sampling.
    "relabel": {
        "workteam_arn": "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/review",
        "schedule": "cron(0 6 ? * MON *)",
        "pending_threshold": 100,
        "threshold_check_schedule": "rate(1 hour)",
        "base_manifest_key": "training/base.manifest",
        "sample_confident_share": 0.05,
    },
    # prod promotes with approval; this one promotes without.
    "promotion": {"source_environment": "dev", "requires_approval": False},
}

#: The environments of cdk.json, by name, and the all-features one (the checks run on each).
ENVIRONMENT_NAMES = [*ENVIRONMENTS, ALL_FEATURES]


@pytest.fixture(scope="session")
def contract_environments(cdk_context: dict[str, Any]) -> dict[str, Environment]:
    return build_contract_environments(cdk_context)


def build_contract_environments(cdk_context: dict[str, Any]) -> dict[str, Environment]:
    """Synthesize cdk.json's environments and the all-features one, in one app."""
    context = copy.deepcopy(cdk_context)
    context["environments"][ALL_FEATURES] = copy.deepcopy(ALL_FEATURES_SETTINGS)
    app = make_app(context)
    built = [(config, build_environment(app, config)) for config in load_all(context)]
    environments = {}
    for config, stacks in built:
        environments[config.name] = Environment(
            name=config.name,
            templates={s.stack_name: Template.from_stack(s).to_json() for s in stacks.all()},
            account=config.account or STAND_IN_ACCOUNT,
            region=config.region or STAND_IN_REGION,
        )
    return environments

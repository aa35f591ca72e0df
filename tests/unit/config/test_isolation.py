"""Environments that cannot hurt each other, and values that would synthesize silently and do harm.

Each refused value stops ``cdk synth`` (and ``python -m ops config``) with one line naming the
key and the fix; ``test_every_refusal_reaches_the_operator_as_one_line`` runs app.py itself.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.config import (
    RESERVED_ARTIFACT_PREFIXES,
    ConfigError,
    could_share_account_and_region,
    load_all,
    load_environment,
    schedule_problem,
)
from tests.conftest import ENVIRONMENTS
from tests.contract.cfn import Environment
from tests.unit.config.support import Context, Mutation, all_of, set_key

ROOT = Path(__file__).resolve().parents[3]

# -- 1. isolation ------------------------------------------------------------------------------


def test_every_environment_has_its_own_project(cdk_context: Context) -> None:
    projects = {c.name: c.rekognition.project_name for c in load_all(cdk_context)}

    defaults = cdk_context["defaults"]
    for name, settings in cdk_context["environments"].items():
        prefix = settings.get("resource_prefix", defaults["resource_prefix"])
        short = settings.get("rekognition", {}).get(
            "project_name", defaults["rekognition"]["project_name"]
        )
        assert projects[name] == f"{prefix}-{name}-{short}"
    assert len(set(projects.values())) == len(projects) == len(cdk_context["environments"])


def test_no_two_shipped_environments_share_a_name(cdk_context: Context) -> None:
    configs = load_all(cdk_context)
    names = [name for config in configs for name in config.physical_names().values()]

    assert len(names) == len(set(names))
    # dev has no account: it could be deployed into prod's account and region.
    by_name = {config.name: config for config in configs}
    assert could_share_account_and_region(by_name["dev"], by_name["prod"])


def test_the_iam_of_each_environment_names_only_its_own_project(cdk_context: Context) -> None:
    """The shipped app: dev's roles cannot touch prod's project, and prod's touch dev's only to
    promote from it: read its lineage records and published version, copy its versions."""
    from tests.contract.conftest import build_contract_environments

    environments: dict[str, Environment] = build_contract_environments(cdk_context)
    promotion_reads = {
        "s3:GetObject",  # reports/<dev project>/*/lineage.json
        "kms:Decrypt",  # through S3, by dev's alias
        "ssm:GetParameter",  # dev's published version
        "rekognition:CopyProjectVersion",  # dev's versions, into prod's project
    }
    for name, other in (("dev", "prod"), ("prod", "dev")):
        statements = [s for doc in environments[name].policy_documents() for s in doc.statements]
        text = json.dumps([list(s.resources) for s in statements])
        assert f"project/imgclf-{name}-image-classifier/" in text
        naming_other = [
            s
            for s in statements
            if f"imgclf-{other}-" in json.dumps([list(s.resources), s.conditions])
        ]
        if name == "dev":
            assert not naming_other
            continue
        assert naming_other
        for statement in naming_other:
            assert "Promotion" in statement.source, statement
            assert set(statement.actions) <= promotion_reads, statement
            assert not any(
                f"imgclf-{other}-" in resource
                and ":project/" in resource
                and "/version/" not in resource
                for resource in statement.resources
            ), statement


def test_environments_that_could_share_an_account_must_not_share_a_name(
    context_copy: Context,
) -> None:
    # prod is imgclf-prod-*; an environment "rekognition" under the prefix "imgclf-prod" is
    # imgclf-prod-rekognition-*: their projects meet when the short names line up.
    context_copy["environments"]["prod"]["rekognition"]["project_name"] = "rekognition-shapes"
    context_copy["environments"]["rekognition"] = {
        "resource_prefix": "imgclf-prod",
        "rekognition": {"project_name": "shapes"},
    }

    with pytest.raises(ConfigError) as caught:
        load_all(context_copy)

    assert caught.value.key == "environments.rekognition"
    assert caught.value.problem == (
        "its Rekognition project 'imgclf-prod-rekognition-shapes' clashes with environment "
        "prod's 'imgclf-prod-rekognition-shapes', and the two could share an account and "
        "region (give each its own account and region, or another resource_prefix)"
    )


def test_a_name_under_another_environments_iam_prefix_is_refused(context_copy: Context) -> None:
    # prod's SageMaker roles may touch every imgclf-prod-ic-* job, model and configuration:
    # an environment "ic" under the prefix "imgclf-prod" names its own imgclf-prod-ic-ic-*.
    context_copy["environments"]["ic"] = {"resource_prefix": "imgclf-prod"}

    with pytest.raises(ConfigError) as caught:
        load_all(context_copy)

    assert caught.value.key == "environments.ic"
    assert "its SageMaker jobs, models and endpoint configurations 'imgclf-prod-ic-ic-*'" in (
        caught.value.problem
    )


def test_environments_in_different_accounts_may_share_names(context_copy: Context) -> None:
    context_copy["environments"]["dev"].update(account="222222222222", region="eu-west-1")
    assert "other" not in ENVIRONMENTS
    context_copy["environments"]["other"] = {
        "account": "333333333333",
        "region": "eu-west-1",
        "resource_prefix": "imgclf",
    }
    context_copy["environments"]["prod"]["resource_prefix"] = "imgclf"

    names = {c.name for c in load_all(context_copy)}

    assert names == {*ENVIRONMENTS, "other"}


def test_selecting_one_environment_still_checks_the_others(context_copy: Context) -> None:
    context_copy["environments"]["ic"] = {"resource_prefix": "imgclf-prod"}

    with pytest.raises(ConfigError) as caught:
        load_environment(context_copy, "dev")

    assert caught.value.key == "environments.ic"


# -- 2. values that synthesize silently and do harm ---------------------------------------------

REFUSED: list[Any] = [
    pytest.param(
        set_key("environments.dev.sagemaker.training.data_prefix", "incoming/sagemaker/"),
        "environments.dev.sagemaker.training.data_prefix",
        "overlaps rekognition.input_prefix ('incoming/'): an object there would be read as "
        "SageMaker training data and classified by Rekognition (which starts a model billed",
        id="training-data-inside-the-rekognition-input",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.data_prefix", "sagemaker/"),
        "environments.dev.sagemaker.training.data_prefix",
        "overlaps sagemaker.input_prefix ('sagemaker/inference/')",
        id="training-data-around-the-sagemaker-input",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.manifest_prefix", "sagemaker/"),
        "environments.dev.rekognition_training.triggers.manifest_prefix",
        "overlaps sagemaker.input_prefix",
        id="trigger-prefix-around-sagemaker",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.manifest_prefix", "/manifests/"),
        "environments.dev.rekognition_training.triggers.manifest_prefix",
        "no leading '/'",
        id="trigger-prefix-with-a-leading-slash",
    ),
    pytest.param(
        set_key(
            "environments.dev.rekognition_training.triggers.manifest_prefix",
            "s3://bucket/manifests/",
        ),
        "environments.dev.rekognition_training.triggers.manifest_prefix",
        "no s3:// scheme",
        id="trigger-prefix-as-a-uri",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition_training.triggers.schedule", "rate(7 days)"),
            set_key(
                "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
                "s3://imgclf-dev-data/training/latest.manifest",
            ),
        ),
        "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
        "give the key within the data bucket",
        id="scheduled-manifest-as-a-uri",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition_training.triggers.schedule", "rate(7 days)"),
            set_key(
                "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
                "incoming/latest.manifest",
            ),
        ),
        "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
        "lies under rekognition.input_prefix",
        id="scheduled-manifest-under-the-inference-input",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.rekognition_training.triggers.schedule", "rate(7 days)"),
            set_key(
                "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
                "training/manifests/",
            ),
        ),
        "environments.dev.rekognition_training.triggers.scheduled_manifest_key",
        "must name an object, not a prefix",
        id="scheduled-manifest-is-a-prefix",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.review_prefix", "results/rekognition/low/"),
        "environments.dev.sagemaker.review_prefix",
        "overlaps 'results/rekognition/' of the artifacts bucket",
        id="review-prefix-inside-rekognition-results",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.review_prefix", "sagemaker/"),
        "environments.dev.sagemaker.review_prefix",
        "overlaps 'sagemaker/models/'",
        id="review-prefix-around-the-models",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.schedule", "cron(0 3 * * ?)"),
        "environments.dev.rekognition_training.triggers.schedule",
        "cron takes 6 fields",
        id="five-field-cron",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.schedule", "rate(0 minutes)"),
        "environments.dev.rekognition_training.triggers.schedule",
        "a rate must be a positive whole number",
        id="rate-of-zero",
    ),
    pytest.param(
        set_key("environments.dev.rekognition_training.triggers.schedule", "rate(5 minute)"),
        "environments.dev.rekognition_training.triggers.schedule",
        "write rate(5 minutes)",
        id="rate-with-a-singular-unit",
    ),
    pytest.param(
        set_key("environments.dev", None),
        "environments.dev",
        "must be an object of settings ({} to take every default), got null",
        id="environment-set-to-null",
    ),
    pytest.param(
        set_key("environments.dev.notification_email", ["ops@example.com"]),
        "environments.dev.notification_email",
        "did you mean 'notification_emails'?",
        id="misspelt-key",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameter", {}),
        "environments.dev.sagemaker.training.hyperparameter",
        "did you mean 'hyperparameters'?",
        id="misspelt-nested-key",
    ),
]


@pytest.mark.parametrize(("mutation", "key", "fragment"), REFUSED)
def test_a_dangerous_value_is_refused_naming_the_key_and_the_fix(
    context_copy: Context, mutation: Mutation, key: str, fragment: str
) -> None:
    mutation(context_copy)

    with pytest.raises(ConfigError) as caught:
        load_all(context_copy)

    assert caught.value.key == key
    assert fragment in caught.value.problem
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 day)",
        "cron(0 3 ? * MON *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 12 L * ? *)",
        "cron(0 10 ? * 6L 2026)",
        "cron(0 10 ? * 2#3 *)",
        "cron(0 8 15W * ? *)",
        "cron(0 3 ? JAN,JUL * 2026-2030)",
    ],
)
def test_schedules_eventbridge_documents_are_accepted(expression: str) -> None:
    """Examples from the EventBridge User Guide's "Schedule expressions" reference."""
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("every monday", "must be rate(<value> <unit>) or cron(<6 fields>)"),
        ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(1 minutes)", "write rate(1 minute)"),
        ("cron(0 3 * * * *)", "'?' in exactly one of day-of-month and day-of-week"),
        ("cron(0 25 ? * MON *)", "hours field '25': 25 is outside 0-23"),
        ("cron(60 3 ? * MON *)", "minutes field '60'"),
        ("cron(0 3 ? 13 MON *)", "month field '13'"),
        ("cron(0 3 ? * 8 *)", "day-of-week field '8'"),
        ("cron(0 3 ? * MON 1960)", "year field '1960'"),
        ("cron(0 3 ? ? MON *)", "'?' is only for day-of-month and day-of-week"),
        ("cron(0 3 ? * 2#6 *)", "'#' takes a weekday and 1-5"),
        ("cron(0/x 3 ? * MON *)", "the increment 'x' must be a number"),
    ],
)
def test_schedules_eventbridge_refuses_are_refused_with_the_reason(
    expression: str, fragment: str
) -> None:
    problem = schedule_problem(expression)

    assert problem is not None
    assert fragment in problem


def test_every_artifacts_prefix_the_app_grants_is_reserved_or_configured(
    cdk_context: Context,
) -> None:
    """The reserved table is the truth the review-prefix rule relies on: every object prefix
    of the artifacts bucket that a synthesized role may write is in it (or is the configured
    review prefix), so a new writer cannot silently overlap a configurable prefix."""
    from tests.contract.conftest import build_contract_environments

    for env in build_contract_environments(cdk_context).values():
        bucket = next(name for name in env.templates if name.endswith("-storage"))
        artifacts = env.arn(bucket, _logical_id(env.templates[bucket], "ArtifactsBucket"))
        configured = {"sagemaker/review/"}
        prefixes = set()
        for doc in env.policy_documents():
            if doc.kind != "identity":
                continue
            for statement in doc.statements:
                if not any(a in {"s3:PutObject", "s3:DeleteObject"} for a in statement.actions):
                    continue
                for resource in statement.resources:
                    if resource.startswith(f"{artifacts}/"):
                        prefixes.add(resource[len(artifacts) + 1 :].rstrip("*"))
        assert prefixes, env.name
        allowed = (*RESERVED_ARTIFACT_PREFIXES, *configured)
        stray = {p for p in prefixes if not any(p.startswith(a) for a in allowed)}
        assert not stray, f"{env.name}: writes under {stray}, outside the reserved table"


def _logical_id(template: dict[str, Any], prefix: str) -> str:
    return next(
        lid
        for lid, res in template["Resources"].items()
        if res["Type"] == "AWS::S3::Bucket" and lid.startswith(prefix)
    )


# -- the operator sees one line ------------------------------------------------------------------


def test_every_refusal_reaches_the_operator_as_one_line(tmp_path: Path) -> None:
    """app.py with a refused value: exit 2, one line on stderr, no traceback."""
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    broken = copy.deepcopy(context)
    broken["environments"]["dev"]["sagemaker"] = {
        "training": {"data_prefix": "incoming/sagemaker/"}
    }
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(broken),
        "CDK_OUTDIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "Configuration error in cdk.json: environments.dev.sagemaker.training.data_prefix: "
        "'incoming/sagemaker/' overlaps rekognition.input_prefix ('incoming/'): an object there "
        "would be read as SageMaker training data and classified by Rekognition (which starts a "
        "model billed about $4 an hour); the data bucket's prefixes must be disjoint"
    ]

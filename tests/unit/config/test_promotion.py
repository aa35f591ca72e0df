"""The ``promotion`` section: shipped values, every refusal, and the limits it is checked against.

The limits are Step Functions' own: a Standard execution (and a task that waits for a task
token) lasts at most one year; a run's history stays within half of the 25,000-event quota.
"""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import (
    EXECUTION_TIMEOUT_SLACK_MINUTES,
    MAX_APPROVAL_TIMEOUT_HOURS,
    ConfigError,
    load_all,
    load_environment,
    promotion_timeout_minutes,
)
from tests.conftest import ENVIRONMENTS
from tests.unit.config.support import Context, Mutation, all_of, set_key

ONE_YEAR_SECONDS = 365 * 24 * 3600  # Step Functions quotas: a Standard execution's duration
#: A well-formed environment name that cdk.json does not have (whatever environments it has).
UNKNOWN_ENVIRONMENT = "nosuchenv"
assert UNKNOWN_ENVIRONMENT not in ENVIRONMENTS


def test_prod_promotes_from_dev_with_approval(context_copy: Context) -> None:
    prod = load_environment(context_copy, "prod")
    dev = load_environment(context_copy, "dev")

    assert dev.promotion is None
    promotion = prod.promotion
    assert promotion is not None
    assert (promotion.source_environment, promotion.requires_approval) == ("dev", True)
    assert promotion.approval_timeout_hours == 72
    assert promotion.approval_timeout_seconds == 72 * 3600
    source = promotion.source
    assert source is not None
    assert source.project_name == dev.rekognition.project_name
    assert source.model_version_parameter == dev.model_version_parameter
    assert source.resource_name_prefix == dev.resource_name_prefix
    # dev sets no account: the copy is taken to be within prod's account.
    assert (source.account, source.region) == (None, None)


def test_the_execution_timeout_covers_approval_copy_and_start(context_copy: Context) -> None:
    prod = load_environment(context_copy, "prod")
    promotion, training = prod.promotion, prod.rekognition_training
    assert promotion is not None

    waits = (
        72 * 3600
        + promotion.copy_poll_seconds * promotion.copy_max_polls
        + training.start_poll_seconds * training.start_max_polls
    )
    assert promotion_timeout_minutes(prod) * 60 >= waits + EXECUTION_TIMEOUT_SLACK_MINUTES * 60
    assert promotion_timeout_minutes(prod) * 60 <= ONE_YEAR_SECONDS


def test_without_approval_the_timeout_has_no_approval_wait(context_copy: Context) -> None:
    set_key("environments.prod.promotion.requires_approval", False)(context_copy)
    prod = load_environment(context_copy, "prod")
    assert prod.promotion is not None
    assert prod.promotion.approval_timeout_seconds == 0
    assert promotion_timeout_minutes(prod) < 24 * 60


def test_the_longest_accepted_approval_still_fits_a_year(context_copy: Context) -> None:
    all_of(
        set_key("environments.prod.promotion.approval_timeout_hours", MAX_APPROVAL_TIMEOUT_HOURS),
        set_key("environments.prod.promotion.copy_deadline_minutes", 60),
    )(context_copy)
    prod = load_environment(context_copy, "prod")
    assert promotion_timeout_minutes(prod) * 60 <= ONE_YEAR_SECONDS


def test_a_source_in_another_account_is_resolved_with_its_account(context_copy: Context) -> None:
    all_of(
        set_key("environments.dev.account", "222222222222"),
        set_key("environments.dev.region", "eu-west-1"),
    )(context_copy)
    prod = load_environment(context_copy, "prod")
    assert prod.promotion is not None
    assert prod.promotion.source is not None
    assert (prod.promotion.source.account, prod.promotion.source.region) == (
        "222222222222",
        "eu-west-1",
    )


INVALID: list[Any] = [
    pytest.param(
        set_key("environments.prod.promotion.source_environment", UNKNOWN_ENVIRONMENT),
        "environments.prod.promotion.source_environment",
        f"{UNKNOWN_ENVIRONMENT!r} is not an environment of cdk.json; choose one of: "
        + ", ".join(sorted(set(ENVIRONMENTS) - {"prod"})),
        id="unknown-source",
    ),
    pytest.param(
        set_key("environments.prod.promotion.source_environment", "prod"),
        "environments.prod.promotion.source_environment",
        "cannot promote from itself",
        id="self-promotion",
    ),
    pytest.param(
        set_key("environments.prod.promotion.source_environment", "Dev!"),
        "environments.prod.promotion.source_environment",
        "must be the name of another environment",
        id="not-a-name",
    ),
    pytest.param(
        all_of(
            set_key("environments.dev.account", "222222222222"),
            set_key("environments.dev.region", "us-east-1"),
        ),
        "environments.prod.promotion.source_environment",
        "only within one region",
        id="other-region",
    ),
    pytest.param(
        set_key("environments.prod.promotion.approval_timeout_hours", 0),
        "environments.prod.promotion.approval_timeout_hours",
        "at least 1",
        id="no-approval-time",
    ),
    pytest.param(
        set_key("environments.prod.promotion.approval_timeout_hours", 365 * 24),
        "environments.prod.promotion.approval_timeout_hours",
        f"at most {MAX_APPROVAL_TIMEOUT_HOURS}",
        id="a-year-of-approval",
    ),
    pytest.param(
        all_of(
            set_key(
                "environments.prod.promotion.approval_timeout_hours", MAX_APPROVAL_TIMEOUT_HOURS
            ),
            set_key("environments.prod.promotion.copy_deadline_minutes", 24 * 60),
            set_key("environments.prod.rekognition_training.start_deadline_minutes", 180),
        ),
        "environments.prod.promotion.approval_timeout_hours",
        "longer than a Standard execution's one year",
        id="run-over-a-year",
    ),
    pytest.param(
        all_of(
            set_key("environments.prod.promotion.copy_poll_seconds", 10),
            set_key("environments.prod.promotion.copy_deadline_minutes", 24 * 60),
        ),
        "environments.prod.promotion.copy_poll_seconds",
        "history events",
        id="history-budget",
    ),
    pytest.param(
        set_key("environments.prod.promotion.requires_approval", "yes"),
        "environments.prod.promotion.requires_approval",
        "true or false",
        id="approval-not-boolean",
    ),
    pytest.param(
        set_key("environments.prod.promotion.approval_hours", 2),
        "environments.prod.promotion.approval_hours",
        "did you mean 'approval_timeout_hours'?",
        id="misspelt-key",
    ),
]


@pytest.mark.parametrize(("mutation", "key", "fragment"), INVALID)
def test_bad_promotion_settings_stop_with_the_key(
    context_copy: Context, mutation: Mutation, key: str, fragment: str
) -> None:
    mutation(context_copy)
    with pytest.raises(ConfigError) as caught:
        load_all(context_copy)
    assert caught.value.key == key
    assert fragment in caught.value.problem
    assert "\n" not in str(caught.value)


def test_a_source_in_another_account_knows_the_reader_it_must_allow(context_copy: Context) -> None:
    all_of(
        set_key("environments.dev.account", "222222222222"),
        set_key("environments.dev.region", "eu-west-1"),
    )(context_copy)
    configs = {config.name: config for config in load_all(context_copy)}
    (reader,) = configs["dev"].promotion_readers
    assert (reader.environment, reader.account) == ("prod", "111111111111")
    assert reader.role_name == "imgclf-prod-promotion-reader"
    assert configs["prod"].promotion_readers == ()


def test_within_one_account_no_source_grant_is_needed(context_copy: Context) -> None:
    # cdk.json: dev sets no account, so it is taken to be in prod's.
    assert all(config.promotion_readers == () for config in load_all(context_copy))

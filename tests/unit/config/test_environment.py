"""The environment's settings: emails, account and region, production, retention, lifecycle."""

from __future__ import annotations

import pytest

from tests.unit.config.support import (
    Context,
    Mutation,
    all_of,
    assert_config_error,
    set_key,
)

INVALID = [
    # -- emails ------------------------------------------------------------------------------
    pytest.param(
        set_key("environments.dev.notification_emails", ["ml-alerts-at-example.com"]),
        None,
        "environments.dev.notification_emails[0]",
        "must be an email address, got 'ml-alerts-at-example.com'",
        id="malformed-email",
    ),
    pytest.param(
        set_key("environments.dev.notification_emails", ["ok@example.com", "a@b"]),
        None,
        "environments.dev.notification_emails[1]",
        "must be an email address",
        id="malformed-second-email",
    ),
    pytest.param(
        set_key("environments.dev.notification_emails", ["ops@example.com\n"]),
        None,
        "environments.dev.notification_emails[0]",
        "must be an email address",
        id="email-trailing-newline",
    ),
    pytest.param(
        set_key("environments.dev.notification_emails", "ops@example.com"),
        None,
        "environments.dev.notification_emails",
        "must be a list",
        id="emails-not-a-list",
    ),
    pytest.param(
        set_key("environments.dev.notification_emails", ["ops@example.com", "ops@example.com"]),
        None,
        "environments.dev.notification_emails",
        "contains duplicates",
        id="duplicate-emails",
    ),
    pytest.param(
        set_key("environments.dev.notification_email", ["ops@example.com"]),
        None,
        "environments.dev.notification_email",
        "is not a known setting; did you mean 'notification_emails'?",
        id="unknown-key-typo",
    ),
    # -- account / region --------------------------------------------------------------------
    pytest.param(
        set_key("environments.prod.account", "123"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id, got '123'",
        id="account-too-short",
    ),
    pytest.param(
        set_key("environments.prod.account", "1111111111111"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-too-long",
    ),
    pytest.param(
        set_key("environments.prod.account", "111111111111\n"),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-trailing-newline",
    ),
    pytest.param(
        set_key("environments.prod.account", "\u0661" * 12),
        None,
        "environments.prod.account",
        "must be a 12-digit AWS account id",
        id="account-non-ascii-digits",
    ),
    pytest.param(
        set_key("environments.prod.account", 111111111111),
        None,
        "environments.prod.account",
        "must be a string, got 111111111111",
        id="account-as-number",
    ),
    pytest.param(
        set_key("environments.prod.region", "sa-east-1"),
        None,
        "environments.prod.region",
        "Rekognition Custom Labels is not available in 'sa-east-1'",
        id="region-without-custom-labels",
    ),
    pytest.param(
        set_key("environments.dev.account", "222222222222"),
        None,
        "environments.dev.region",
        "account and region must be set together",
        id="account-without-region",
    ),
    pytest.param(
        set_key("environments.dev.region", "us-east-1"),
        None,
        "environments.dev.account",
        "account and region must be set together",
        id="region-without-account",
    ),
    # -- production rules --------------------------------------------------------------------
    pytest.param(
        set_key("environments.prod.removal_policy", "destroy"),
        None,
        "environments.prod.removal_policy",
        "must be 'retain' in production",
        id="production-destroy",
    ),
    pytest.param(
        all_of(
            set_key("environments.prod.account", None), set_key("environments.prod.region", None)
        ),
        None,
        "environments.prod.account",
        "is required for a production environment",
        id="production-without-account",
    ),
    pytest.param(
        set_key("environments.prod.termination_protection", False),
        None,
        "environments.prod.termination_protection",
        "must be true in production",
        id="production-without-termination-protection",
    ),
    pytest.param(
        set_key("environments.prod.notification_emails", []),
        None,
        "environments.prod.notification_emails",
        "a production environment needs a recipient",
        id="production-without-recipient",
    ),
    pytest.param(
        set_key("environments.prod.removal_policy", "delete"),
        None,
        "environments.prod.removal_policy",
        "must be one of destroy, retain; got 'delete'",
        id="unknown-removal-policy",
    ),
    # -- log retention -----------------------------------------------------------------------
    pytest.param(
        set_key("environments.dev.log_retention_days", 10),
        None,
        "environments.dev.log_retention_days",
        "CloudWatch Logs accepts only 1, 3, 5, 7, 14, 30",
        id="log-retention-not-accepted-by-cloudwatch",
    ),
    pytest.param(
        set_key("environments.dev.log_retention_days", 0),
        None,
        "environments.dev.log_retention_days",
        "must be at least 1, got 0",
        id="log-retention-zero",
    ),
    pytest.param(
        set_key("environments.dev.log_retention_days", -30),
        None,
        "environments.dev.log_retention_days",
        "must be at least 1, got -30",
        id="log-retention-negative",
    ),
    # -- lifecycle ---------------------------------------------------------------------------
    pytest.param(
        set_key("environments.dev.lifecycle.results_transition_to_ia_days", 29),
        None,
        "environments.dev.lifecycle.results_transition_to_ia_days",
        "must be at least 30, got 29",
        id="ia-transition-below-30",
    ),
    pytest.param(
        set_key("environments.prod.lifecycle.abort_incomplete_upload_days", 0),
        None,
        "environments.prod.lifecycle.abort_incomplete_upload_days",
        "must be at least 1, got 0",
        id="abort-upload-zero",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_environment_setting_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    assert_config_error(context_copy, mutation, env, key, fragment)

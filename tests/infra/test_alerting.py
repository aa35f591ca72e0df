"""Intent of the alerting stack: an encrypted, TLS-only topic that alarms and rules can use."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import template_of


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_topic_is_encrypted_with_the_environment_key(templates, env, environments):
    template = template_of(templates, env, "Alerting")
    topic = next(iter(template.find_resources("AWS::SNS::Topic").values()))
    reference = topic["Properties"]["KmsMasterKeyId"]["Fn::GetStackOutput"]
    assert reference["StackName"] == environments[env].storage.stack_name
    assert "EncryptionKey" in reference["OutputName"]
    assert topic["Properties"]["TopicName"] == f"imgclf-{env}-alerts"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_topic_policy_denies_plain_http_and_admits_alarms_and_rules(templates, env):
    template = template_of(templates, env, "Alerting")
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    allowed = {
        s["Principal"]["Service"]
        for s in statements
        if s["Effect"] == "Allow" and s["Action"] == "sns:Publish"
    }
    assert allowed == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_email_subscription_per_configured_address(templates, env, cdk_context):
    template = template_of(templates, env, "Alerting")
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    endpoints = sorted(s["Properties"]["Endpoint"] for s in subscriptions.values())
    assert endpoints == sorted(cdk_context["environments"][env]["notification_emails"])
    for subscription in subscriptions.values():
        assert subscription["Properties"]["Protocol"] == "email"
        # Undeliverable notifications are kept, not dropped.
        assert "RedrivePolicy" in subscription["Properties"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_notifies_the_topic_and_says_what_to_do(templates, env):
    template = template_of(templates, env, "Alerting")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert alarms, "the failed-deliveries queue must be alarmed"
    (alarm,) = alarms.values()
    # Named in the scheme the notifier's alarm-state rule matches (tests/infra/test_notifier.py).
    assert alarm["Properties"]["AlarmName"] == f"imgclf-{env}-operations-alert-deliveries-failed"
    assert "AlarmActions" not in alarm["Properties"]
    assert len(alarm["Properties"]["AlarmDescription"]) > 40


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_failed_deliveries_queue_is_encrypted_and_tls_only(templates, env):
    template = template_of(templates, env, "Alerting")
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"KmsMasterKeyId": Match.any_value(), "MessageRetentionPeriod": 14 * 24 * 3600},
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )

"""Intent of the storage stack: encryption, TLS, privacy, lifecycle, retention, stable IDs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from stacks.config import load_environment
from stacks.environment import build_environment
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app, template_of

#: Logical IDs of stateful resources. Changing one makes CloudFormation replace the resource
#: (a new, empty bucket; a new key that cannot decrypt old data): that must be a decision.
PINNED_LOGICAL_IDS = {
    "EncryptionKey3A692D6E": "AWS::KMS::Key",
    "AccessLogsBucketCD784A59": "AWS::S3::Bucket",
    "DataBucketE6B0FAA8": "AWS::S3::Bucket",
    "ArtifactsBucket88671897": "AWS::S3::Bucket",
}


def storage(templates: dict[tuple[str, str], Template], env: str) -> Template:
    return template_of(templates, env, "Storage")


def buckets(template: Template) -> dict[str, Any]:
    return template.find_resources("AWS::S3::Bucket")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stateful_logical_ids_are_pinned(templates, env):
    resources = storage(templates, env).to_json()["Resources"]
    for logical_id, resource_type in PINNED_LOGICAL_IDS.items():
        assert resources.get(logical_id, {}).get("Type") == resource_type, logical_id


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_key_rotates(templates, env):
    storage(templates, env).has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_bucket_blocks_public_access_and_owns_its_objects(templates, env):
    found = buckets(storage(templates, env))
    assert len(found) == 3
    for bucket in found.values():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}
        ]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_data_buckets_use_the_environment_key_and_log_access(templates, env):
    found = buckets(storage(templates, env))
    for logical_id in ("DataBucketE6B0FAA8", "ArtifactsBucket88671897"):
        properties = found[logical_id]["Properties"]
        rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
            "Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]
        }
        assert rule["BucketKeyEnabled"] is True
        assert properties["LoggingConfiguration"]["DestinationBucketName"] == {
            "Ref": "AccessLogsBucketCD784A59"
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_access_log_bucket_uses_sse_s3_because_s3_logging_requires_it(templates, env):
    properties = buckets(storage(templates, env))["AccessLogsBucketCD784A59"]["Properties"]
    rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert "LoggingConfiguration" not in properties


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_bucket_denies_plain_http_and_old_tls(templates, env):
    policies = storage(templates, env).find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        denies = {
            json_key(statement["Condition"])
            for statement in statements
            if statement["Effect"] == "Deny"
            and statement["Principal"] == {"AWS": "*"}
            and len(statement["Condition"]) == 1
            and len(next(iter(statement["Condition"].values()))) == 1
        }
        assert "Bool:aws:SecureTransport=false" in denies
        assert "NumericLessThan:s3:TlsVersion=1.2" in denies


def json_key(condition: dict[str, dict[str, Any]]) -> str:
    ((operator, clause),) = condition.items()
    ((key, value),) = clause.items()
    return f"{operator}:{key}={str(value).lower()}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_lifecycle_rules(templates, env, cdk_context):
    lifecycle = {
        **cdk_context["defaults"]["lifecycle"],
        **cdk_context["environments"][env].get("lifecycle", {}),
    }
    found = buckets(storage(templates, env))
    for bucket in found.values():
        rules = {
            rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        }
        assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": lifecycle["abort_incomplete_upload_days"]
        }
    for logical_id in ("DataBucketE6B0FAA8", "ArtifactsBucket88671897"):
        rules = {
            rule["Id"]: rule
            for rule in found[logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]
        }
        assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": lifecycle["noncurrent_version_expiration_days"]
        }
    artifacts = {
        rule["Id"]: rule
        for rule in found["ArtifactsBucket88671897"]["Properties"]["LifecycleConfiguration"][
            "Rules"
        ]
    }
    assert artifacts["TransitionOldResults"]["Prefix"] == "results/"
    assert artifacts["TransitionOldResults"]["Transitions"] == [
        {
            "StorageClass": "STANDARD_IA",
            "TransitionInDays": lifecycle["results_transition_to_ia_days"],
        }
    ]
    logs = {
        rule["Id"]: rule
        for rule in found["AccessLogsBucketCD784A59"]["Properties"]["LifecycleConfiguration"][
            "Rules"
        ]
    }
    assert logs["ExpireAccessLogs"]["ExpirationInDays"] == lifecycle["access_logs_expiration_days"]
    # Configurable expiries, off (null) = keep: a rule exists exactly when a period is set.
    data = {
        rule["Id"]: rule
        for rule in found["DataBucketE6B0FAA8"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    for rules, rule_id, prefix, setting in (
        (artifacts, "ExpireDataCapture", "sagemaker/data-capture/", "data_capture_expiration_days"),
        (data, "ExpireClassifiedImages", "incoming/", "incoming_expiration_days"),
    ):
        days = lifecycle[setting]
        if days is None:
            assert rule_id not in rules
        else:
            assert rules[rule_id]["Prefix"] == prefix
            assert rules[rule_id]["ExpirationInDays"] == days


@pytest.mark.parametrize("days", [None, 3])
def test_incoming_expiry_follows_the_configuration(context_copy, days):
    context_copy["environments"]["dev"]["lifecycle"] = {"incoming_expiration_days": days}
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "dev"))
    bucket = Template.from_stack(stacks.storage).to_json()["Resources"]["DataBucketE6B0FAA8"]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    if days is None:
        assert "ExpireClassifiedImages" not in rules
    else:
        assert rules["ExpireClassifiedImages"] == {
            "Id": "ExpireClassifiedImages",
            "Prefix": "incoming/",
            "ExpirationInDays": 3,
            "Status": "Enabled",
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_removal_policy_per_environment(templates, cdk_context, env):
    policy = "Retain" if load_environment(cdk_context, env).retain_data else "Delete"
    template = storage(templates, env)
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == policy
            assert resource["UpdateReplacePolicy"] == policy


def test_production_stacks_are_termination_protected(environments):
    assert all(stack.termination_protection for stack in environments["prod"].all())
    assert not any(stack.termination_protection for stack in environments["dev"].all())


def test_production_is_pinned_to_its_account_and_region(environments, cdk_context):
    prod = cdk_context["environments"]["prod"]
    for stack in environments["prod"].all():
        assert (stack.account, stack.region) == (prod["account"], prod["region"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("sid", "service"),
    [
        ("AllowCloudWatchAlarms", "cloudwatch.amazonaws.com"),
        ("AllowEventBridge", "events.amazonaws.com"),
        ("AllowS3EventNotifications", "s3.amazonaws.com"),
        ("AllowSnsDeadLetters", "sns.amazonaws.com"),
    ],
)
def test_key_policy_lets_publishing_services_encrypt(templates, env, sid, service):
    """A missing statement here only shows in production, as an alarm that never arrives."""
    storage(templates, env).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": sid,
                                "Effect": "Allow",
                                "Principal": {"Service": service},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_key_policy_lets_cloudwatch_logs_encrypt_only_log_groups(templates, env):
    statements = storage(templates, env).find_resources("AWS::KMS::Key")["EncryptionKey3A692D6E"][
        "Properties"
    ]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s.get("Sid") == "AllowCloudWatchLogs"]
    assert "kms:GenerateDataKey*" in logs["Action"]
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_data_bucket_sends_object_events_to_eventbridge_without_a_custom_resource(templates, env):
    template = storage(templates, env)
    properties = buckets(template)["DataBucketE6B0FAA8"]["Properties"]
    assert properties["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not template.find_resources("Custom::S3BucketNotifications")
    assert not template.find_resources("AWS::Lambda::Function")

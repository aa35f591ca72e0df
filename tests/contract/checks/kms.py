"""KMS: every writer to an encrypted bucket, queue or topic holds the key actions it needs."""

from __future__ import annotations

from typing import Any

from tests.contract import authorization as reference
from tests.contract.cfn import Environment, Statement
from tests.contract.checks.findings import Finding, Tally

# --- 7. KMS for encrypted queues and topics -----------------------------------------------------


def kms_writers(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Whoever sends to a KMS-encrypted queue or topic can use its key."""
    tally = tally or Tally()
    findings: list[Finding] = []
    encrypted: dict[str, tuple[str, str, str]] = {}  # ARN -> (stack, logical id, key ARN)
    for kind in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
        for stack, logical_id, resource in env.resources(kind):
            key = resource.get("Properties", {}).get("KmsMasterKeyId")
            if key is not None:
                encrypted[env.arn(stack, logical_id)] = (
                    stack,
                    logical_id,
                    str(env.resolve(stack, key)),
                )
    roles = [(stack, logical_id) for stack, logical_id, _ in env.resources("AWS::IAM::Role")]
    for stack, role in roles:
        statements = env.identity_statements(stack, role)
        for target, (_, target_id, key_arn) in encrypted.items():
            action = "sns:Publish" if ":sns:" in target else "sqs:SendMessage"
            if not any(
                reference.resource_matches(resource, target)
                for s in reference.statements_allowing(statements, action)
                for resource in s.resources
            ):
                continue
            tally.add("KMS writers")
            for needed in ("kms:GenerateDataKey", "kms:Decrypt"):
                verdict = reference.check_grant(statements, needed, key_arn)
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{role}",
                            f"may send to {target_id} (encrypted with {key_arn}) "
                            f"but {verdict.problem}",
                        )
                    )
    for stack, logical_id, resource in env.functions():
        dead_letter = resource["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if dead_letter and str(env.resolve(stack, dead_letter)) in encrypted:
            target = str(env.resolve(stack, dead_letter))
            role = env.role_of(stack, logical_id)
            statements = env.identity_statements(stack, role or "")
            tally.add("KMS writers")
            for needed in ("sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"):
                verdict = reference.check_grant(
                    statements, needed, target if needed.startswith("sqs") else encrypted[target][2]
                )
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{logical_id} (dead-letter queue {encrypted[target][1]})",
                            f"Lambda writes failed asynchronous events with the function's role, "
                            f"but {verdict.problem}",
                        )
                    )
    findings += _service_writers(env, encrypted, tally)
    findings += _bucket_users(env, tally)
    return findings


#: What an S3 request under SSE-KMS needs of the key (S3 User Guide, "Using SSE-KMS": reads
#: decrypt the data key, writes generate one).
_S3_KMS_NEEDS = {
    "s3:GetObject": "kms:Decrypt",
    "s3:GetObjectVersion": "kms:Decrypt",
    "s3:PutObject": "kms:GenerateDataKey",
}


def _bucket_users(env: Environment, tally: Tally) -> list[Finding]:
    """Whoever reads or writes objects of a bucket encrypted with a KMS key can use that key."""
    buckets: dict[str, tuple[str, str]] = {}  # bucket ARN -> (logical id, key ARN)
    for stack, logical_id, resource in env.resources("AWS::S3::Bucket"):
        rules = (
            resource.get("Properties", {})
            .get("BucketEncryption", {})
            .get("ServerSideEncryptionConfiguration", [])
        )
        for rule in rules:
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms" and "KMSMasterKeyID" in default:
                key = str(env.resolve(stack, default["KMSMasterKeyID"]))
                buckets[env.arn(stack, logical_id)] = (logical_id, key)
    findings = []
    for stack, role, _ in env.resources("AWS::IAM::Role"):
        statements = env.identity_statements(stack, role)
        for bucket_arn, (bucket_id, key_arn) in buckets.items():
            for s3_action, kms_action in _S3_KMS_NEEDS.items():
                uses = any(
                    reference.patterns_intersect(resource, f"{bucket_arn}/${{ObjectName}}")
                    for statement in reference.statements_allowing(statements, s3_action)
                    for resource in statement.resources
                )
                if not uses:
                    continue
                tally.add("KMS bucket users")
                verdict = reference.check_grant(statements, kms_action, key_arn)
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{role}",
                            f"may {s3_action} in {bucket_id} (SSE-KMS with {key_arn}) "
                            f"but {verdict.problem}",
                        )
                    )
    return findings


def _service_writers(
    env: Environment, encrypted: dict[str, tuple[str, str, str]], tally: Tally
) -> list[Finding]:
    """Services that send on our behalf need the key policy to let them use the key."""
    writers: list[tuple[str, str, str]] = []  # (service principal, target ARN, via)
    for stack, logical_id, resource in env.resources("AWS::SNS::Subscription"):
        properties = resource["Properties"]
        if properties.get("Protocol") == "sqs":
            writers.append(
                (
                    "sns.amazonaws.com",
                    str(env.resolve(stack, properties["Endpoint"])),
                    f"{stack}/{logical_id}",
                )
            )
        if "RedrivePolicy" in properties:
            dlq = env.resolve(stack, properties["RedrivePolicy"]).get("deadLetterTargetArn")
            writers.append(("sns.amazonaws.com", str(dlq), f"{stack}/{logical_id} redrive"))
    for stack, logical_id, resource in env.resources("AWS::Events::Rule"):
        for target in resource["Properties"].get("Targets", []):
            arn = str(env.resolve(stack, target["Arn"]))
            if ":sqs:" in arn or ":sns:" in arn:
                writers.append(("events.amazonaws.com", arn, f"{stack}/{logical_id}"))
            dead = target.get("DeadLetterConfig", {}).get("Arn")
            if dead:
                writers.append(
                    (
                        "events.amazonaws.com",
                        str(env.resolve(stack, dead)),
                        f"{stack}/{logical_id} DLQ",
                    )
                )
    for stack, logical_id, resource in env.resources("AWS::CloudWatch::Alarm"):
        properties = resource["Properties"]
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in properties.get(key, []):
                writers.append(
                    (
                        "cloudwatch.amazonaws.com",
                        str(env.resolve(stack, action)),
                        f"{stack}/{logical_id}",
                    )
                )
    key_policies = {
        env.arn(stack, lid): env.resolve(stack, res["Properties"]["KeyPolicy"])
        for stack, lid, res in env.resources("AWS::KMS::Key")
    }
    findings = []
    for principal, target, via in writers:
        if target not in encrypted:
            continue
        key_arn = encrypted[target][2]
        tally.add("KMS writers")
        policy = key_policies.get(key_arn)
        if policy is None:
            continue  # a key of another environment: not ours to check
        statements = [
            Statement.parse(s, "key policy")
            for s in policy["Statement"]
            if principal
            in _as_tuple(
                s.get("Principal", {}).get("Service")
                if isinstance(s.get("Principal"), dict)
                else None
            )
        ]
        for needed in ("kms:GenerateDataKey", "kms:Decrypt"):
            if not reference.statements_allowing(statements, needed):
                findings.append(
                    Finding(
                        "kms",
                        via,
                        f"{principal} sends to {encrypted[target][1]} (encrypted with {key_arn}), "
                        f"but the key policy does not allow it {needed}",
                    )
                )
    return findings


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)

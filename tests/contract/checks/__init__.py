"""The contract checks: each takes an environment's templates and returns what AWS would refuse.

A finding names the template (stack), the logical ID, the state or function, and the evidence
from the oracle (the service model's members, the authorization reference's entry). Every
check is proven to fire by ``test_mutations.py`` on deliberately broken copies of the templates.
"""

from __future__ import annotations

from tests.contract.checks.alarms import alarm_contracts
from tests.contract.checks.errors import error_names
from tests.contract.checks.findings import Finding, Tally, machines
from tests.contract.checks.grants import iam_grants, policy_documents
from tests.contract.checks.kms import kms_writers
from tests.contract.checks.task_shapes import choice_enums, result_paths, task_parameters

__all__ = [
    "ALL_CHECKS",
    "Finding",
    "Tally",
    "alarm_contracts",
    "choice_enums",
    "error_names",
    "iam_grants",
    "kms_writers",
    "machines",
    "policy_documents",
    "render",
    "result_paths",
    "task_parameters",
]

ALL_CHECKS = {
    "task": task_parameters,
    "output": result_paths,
    "enum": choice_enums,
    "errors": error_names,
    "iam": iam_grants,
    "policy": policy_documents,
    "kms": kms_writers,
    "alarms": alarm_contracts,
}


def render(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)

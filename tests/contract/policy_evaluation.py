"""A small evaluator of resource-policy statements against a request context, for the tests.

No well-kept library on PyPI evaluates IAM conditions offline: parliament and policyuniverse lint
and parse policies but decide nothing about a request. This one implements the part of IAM's
documented semantics the bucket policies use, and refuses anything else (an unknown operator,
an unmodelled principal form) so a policy it cannot read fails the test instead of passing it.

Semantics (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition
operators"):

- a statement applies when its principal, one of its actions and one of its resources match
  (``*`` and ``?`` wildcards, actions case-insensitive) and every condition holds;
- an explicit ``Deny`` that applies wins over every ``Allow``;
- conditions: every operator block must hold, and within a block every key; for a key with
  several values a positive operator (``StringEquals``, ``ArnLike``, ...) holds when the
  request's value matches any of them, a negated one (``StringNotEquals``, ``ArnNotEquals``,
  ...) when it matches none;
- a key missing from the request context makes a positive operator false and a negated one
  true; the ``...IfExists`` form of either is true when the key is missing; ``Null`` = ``true``
  holds when the key is missing, ``false`` when it is present;
- ``"Principal": {"AWS": "*"}`` is every principal, AWS service principals included;
  ``{"Service": name}`` is that service principal making the request as itself.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALLOW = "Allow"
DENY = "Deny"
NO_DECISION = "NoDecision"


@dataclass(frozen=True)
class Request:
    """What IAM knows about one request: who, what, on what, and the condition keys present."""

    action: str
    resource: str
    #: An IAM role ARN, or ``None`` when a service principal makes the request as itself.
    principal_arn: str | None = None
    service_principal: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


def _matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    if not isinstance(principal, Mapping) or set(principal) - {"AWS", "Service"}:
        raise NotImplementedError(f"principal form {principal!r} is not modelled")
    if request.service_principal is not None:
        return request.service_principal in _listed(principal.get("Service", []))
    return request.principal_arn in _listed(principal.get("AWS", []))


_POSITIVE = {
    "StringEquals": lambda want, got: want == got,
    "StringLike": lambda want, got: _matches(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: _matches(want, got),
    "Bool": lambda want, got: str(want).lower() == str(got).lower(),
    "NumericLessThan": lambda want, got: float(got) < float(want),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, Any]) -> bool:
    if operator == "Null":
        return (key not in context) is (str(wanted).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if key not in context:
        return if_exists or base in _NEGATED
    got = context[key]
    values = _listed(wanted)
    if base in _NEGATED:
        compare = _POSITIVE[_NEGATED[base]]
        return not any(compare(str(v), str(got)) for v in values)
    if base not in _POSITIVE:
        raise NotImplementedError(f"condition operator {operator} is not modelled")
    return any(_POSITIVE[base](v, got) for v in values)


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
        raise NotImplementedError("NotAction/NotResource/NotPrincipal are not modelled")
    if not _principal_matches(statement["Principal"], request):
        return False
    if not any(
        _matches(a, request.action, case_sensitive=False) for a in _listed(statement["Action"])
    ):
        return False
    if not any(_matches(r, request.resource) for r in _listed(statement["Resource"])):
        return False
    for operator, block in statement.get("Condition", {}).items():
        for key, wanted in block.items():
            if not _condition_holds(operator, key, wanted, request.context):
                return False
    return True


def decide(statements: Sequence[Mapping[str, Any]], request: Request) -> str:
    """``Deny`` if a Deny statement applies, else ``Allow`` if an Allow does, else no decision
    (the identity policy of the principal decides)."""
    applying = [s for s in statements if statement_applies(s, request)]
    if any(s["Effect"] == DENY for s in applying):
        return DENY
    if any(s["Effect"] == ALLOW for s in applying):
        return ALLOW
    return NO_DECISION

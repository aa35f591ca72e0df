"""The ``alarms`` check: alarm names, composite rules and the alarm-state rule, against AWS.

Oracles: botocore's CloudWatch model (``PutMetricAlarm``/``PutCompositeAlarm``: the name,
description and rule lengths, the action list sizes) and AWS's documented "CloudWatch Alarm
State Change" event (the sample of "Alarm events and EventBridge"), which the EventBridge rule's
pattern must match, with EventBridge's documented matching (exact values, ``prefix``,
``anything-but``; every field of the pattern must match; an array in the event matches when one
of its values does):

- every alarm has a name, within the model's limits, and every composite's ``ALARM("...")``
  names an alarm of the environment;
- the documented event of every alarm that should reach the notifier matches the rule (state
  ALARM and OK), the event of each alarm left out (composite children, the direct route) does not,
  and no event of another environment's alarm does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.contract import service_models as models
from tests.contract.cfn import Environment
from tests.contract.checks.findings import Finding, Tally

#: AWS's sample "CloudWatch Alarm State Change" event (single metric alarm), as documented.
DOCUMENTED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2019-10-02T17:04:40Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
    "detail": {
        "alarmName": "ServerCpuTooHigh",
        "configuration": {
            "description": "Goes into alarm when server CPU utilization is too high!"
        },
        "previousState": {
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints ...",
            "timestamp": "2019-10-02T17:04:40.985+0000",
            "value": "OK",
        },
        "state": {
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints ...",
            "timestamp": "2019-10-02T17:04:40.989+0000",
            "value": "ALARM",
        },
    },
}
_CHILD = re.compile(r'ALARM\("([^"]+)"\)')


def _limits(operation: str, member: str) -> dict[str, Any]:
    model = models.operation("cloudwatch", operation)
    assert model is not None
    metadata: dict[str, Any] = model.input_shape.members[member].metadata
    return metadata


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge's documented matching of one pattern (object or list of values) to a value."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(key in value and matches(rule, value[key]) for key, rule in pattern.items())
    values = value if isinstance(value, list) else [value]
    return any(_matches_one(rule, item) for rule in pattern for item in values)


def _matches_one(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return bool(rule == value)
    ((operator, argument),) = rule.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if operator == "anything-but":
        if isinstance(argument, dict) and "prefix" in argument:
            return not (isinstance(value, str) and value.startswith(argument["prefix"]))
        excluded = argument if isinstance(argument, list) else [argument]
        return value not in excluded
    raise AssertionError(f"pattern operator {operator!r} is not one this check knows")


def event_for(env: Environment, name: str, state: str) -> dict[str, Any]:
    """The documented event, for alarm ``name`` of ``env`` changing to ``state``."""
    event = copy.deepcopy(DOCUMENTED_EVENT)
    event.update(account=env.account, region=env.region)
    event["resources"] = [f"arn:aws:cloudwatch:{env.region}:{env.account}:alarm:{name}"]
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    return event


def alarm_contracts(env: Environment, tally: Any = None) -> list[Any]:
    """Alarm names and rules within CloudWatch's model; the alarm-state rule routes exactly."""
    tally = tally or Tally()
    findings: list[Finding] = []
    alarms = {
        (stack, logical_id): resource
        for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for stack, logical_id, resource in env.resources(kind)
    }
    names = {
        resource["Properties"].get("AlarmName"): (stack, logical_id)
        for (stack, logical_id), resource in alarms.items()
    }
    children: set[str] = set()
    for (stack, logical_id), resource in alarms.items():
        where = f"{stack}/{logical_id}"
        properties = resource["Properties"]
        composite = resource["Type"].endswith("CompositeAlarm")
        operation = "PutCompositeAlarm" if composite else "PutMetricAlarm"
        name = properties.get("AlarmName")
        limits = _limits(operation, "AlarmName")
        tally.add("alarm names")
        if not isinstance(name, str):
            findings.append(Finding("alarms", where, "no AlarmName: CloudFormation makes one up"))
            continue
        if not limits["min"] <= len(name) <= limits["max"]:
            findings.append(
                Finding(
                    "alarms",
                    where,
                    f"AlarmName has {len(name)} characters; {operation} "
                    f"takes {limits['min']}..{limits['max']}",
                )
            )
        description = env.resolve(stack, properties.get("AlarmDescription", ""))
        if len(description) > _limits(operation, "AlarmDescription")["max"]:
            findings.append(Finding("alarms", where, "AlarmDescription too long"))
        for member in ("AlarmActions", "OKActions"):
            if len(properties.get(member, [])) > _limits(operation, member)["max"]:
                findings.append(Finding("alarms", where, f"more {member} than {operation} takes"))
        if composite:
            rule = properties["AlarmRule"]
            tally.add("composite rules")
            if len(rule) > _limits(operation, "AlarmRule")["max"]:
                findings.append(Finding("alarms", where, "AlarmRule too long"))
            for child in _CHILD.findall(rule):
                children.add(child)
                if child not in names:
                    findings.append(
                        Finding(
                            "alarms", where, f"AlarmRule names {child!r}, no alarm of {env.name}"
                        )
                    )
    findings += _alarm_rule(env, names, children, alarms, tally)
    return findings


def _alarm_rule(
    env: Environment,
    names: dict[Any, tuple[str, str]],
    children: set[str],
    alarms: dict[tuple[str, str], dict[str, Any]],
    tally: Any,
) -> list[Any]:
    from tests.contract.checks import Finding

    rules = [
        (stack, logical_id, env.resolve(stack, resource["Properties"]["EventPattern"]))
        for stack, logical_id, resource in env.resources("AWS::Events::Rule")
        if resource["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    if len(rules) != 1:
        return [Finding("alarms", env.name, f"{len(rules)} alarm-state rules; expected one")]
    ((stack, logical_id, pattern),) = rules
    where = f"{stack}/{logical_id}"
    findings = []
    for name, key in names.items():
        direct = "AlarmActions" in alarms[key]["Properties"]
        should = not direct and name not in children
        for state in ("ALARM", "OK"):
            tally.add("event patterns")
            if matches(pattern, event_for(env, name, state)) != should:
                findings.append(
                    Finding(
                        "alarms",
                        where,
                        f"{'misses' if should else 'matches'} the documented {state} event of "
                        f"{name}" + ("" if should else " (notified otherwise: no duplicates)"),
                    )
                )
    stranger = event_for(env, "another-app-cpu-high", "ALARM")
    if matches(pattern, stranger):
        findings.append(Finding("alarms", where, "matches another application's alarm"))
    return findings

"""``drift.start_retraining``: off by default; on, one composite of the environment's drift
alarms whose change to ALARM starts the relabel workflow through a least-privilege role, with
retries and an alarmed DLQ; the pattern matches AWS's documented alarm event for our alarm only."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks
from moto.events.models import EventPattern

from relabel.request import parse_request
from stacks.config import EnvironmentConfig, load_all
from stacks.environment import EnvironmentStacks, build_environment
from stacks.operations.drift_retraining import (
    MAX_EVENT_AGE,
    RETRY_ATTEMPTS,
    retraining_alarm_name,
)
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app, template_of
from tests.infra.test_monitoring import produced

WORKTEAM = "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/review"

#: AWS's sample "Single Metric Alarm" state-change event, as the CloudWatch User Guide shows it
#: ("Alarm events and EventBridge", https://docs.aws.amazon.com/AmazonCloudWatch/latest/
#: monitoring/cloudwatch-and-eventbridge): the envelope and the state fields a rule can match.
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
        "state": {
            "value": "ALARM",
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints was greater than the "
            "threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).",
            "timestamp": "2019-10-02T17:04:40.985+0000",
        },
        "previousState": {
            "value": "OK",
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints was not greater than "
            "the threshold (50.0).",
            "timestamp": "2019-10-02T17:01:40.970+0000",
        },
    },
}


@pytest.fixture(scope="module")
def enabled(cdk_context: dict[str, Any]) -> dict[str, Any]:
    """cdk.json's context with start_retraining on (and a workteam) in every environment."""
    context = copy.deepcopy(cdk_context)
    for env in ENVIRONMENTS:
        settings = context["environments"][env]
        settings.setdefault("drift", {})["start_retraining"] = True
        settings.setdefault("relabel", {})["workteam_arn"] = WORKTEAM
    return context


@pytest.fixture(scope="module")
def stacks(enabled: dict[str, Any]) -> dict[str, EnvironmentStacks]:
    app = make_app(enabled)
    return {config.name: build_environment(app, config) for config in load_all(enabled)}


@pytest.fixture(scope="module")
def configs(enabled: dict[str, Any]) -> dict[str, EnvironmentConfig]:
    return {config.name: config for config in load_all(enabled)}


def monitoring(stacks: dict[str, EnvironmentStacks], env: str) -> Template:
    return Template.from_stack(stacks[env].monitoring)


def drift_composites(template: Template) -> dict[str, dict[str, Any]]:
    """The composite alarms whose name is the retraining composite's (other composites exist:
    the operations alarms fold related alarms too)."""
    return {
        logical_id: resource
        for logical_id, resource in template.find_resources(
            "AWS::CloudWatch::CompositeAlarm"
        ).items()
        if str(resource["Properties"].get("AlarmName", "")).endswith("-operations-drift-retraining")
    }


def only(template: Template, kind: str) -> tuple[str, dict[str, Any]]:
    assert kind == "AWS::CloudWatch::CompositeAlarm"
    (found,) = drift_composites(template).items()
    return found


def drift_rules(template: Template) -> list[dict[str, Any]]:
    """Rules on alarm state changes that name alarms by exact ARN: the retraining rule. The
    notifier's rule on every alarm of the environment matches an ARN prefix instead."""
    return [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
        and "resources" in r["Properties"]["EventPattern"]
        and not any(
            isinstance(match, dict) and "prefix" in match
            for match in r["Properties"]["EventPattern"]["resources"]
        )
    ]


def drift_rule(template: Template) -> dict[str, Any]:
    (rule,) = drift_rules(template)
    return rule


def event_for(alarm_arn: str) -> dict[str, Any]:
    event = copy.deepcopy(DOCUMENTED_EVENT)
    event["resources"] = [alarm_arn]
    event["detail"]["alarmName"] = alarm_arn.rsplit(":", 1)[1]
    return event


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_off_by_default_no_composite_no_rule(templates, env):
    template = template_of(templates, env, "Monitoring")
    assert drift_composites(template) == {}
    assert drift_rules(template) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_composite_is_any_of_exactly_the_drift_alarms_and_notifies_nobody(stacks, configs, env):
    template = monitoring(stacks, env)
    evaluator = stacks[env].monitoring.drift
    drift_ids = {
        stacks[env].monitoring.get_logical_id(a.node.default_child)  # type: ignore[arg-type]
        for a in evaluator.alarms.values()
    }
    _, composite = only(template, "AWS::CloudWatch::CompositeAlarm")
    props = composite["Properties"]
    config = configs[env]
    assert props["AlarmName"] == retraining_alarm_name(config.resource_name_prefix)
    assert props["ActionsEnabled"] is False
    assert "AlarmActions" not in props
    parts = props["AlarmRule"]["Fn::Join"][1]
    referenced = {p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict)}
    assert referenced == drift_ids
    assert len(drift_ids) == 8
    text = "".join(p if isinstance(p, str) else "X" for p in parts)
    assert text == "(" + " OR ".join(['ALARM("X")'] * 8) + ")"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_notifier_leaves_the_composite_out(stacks, configs, env):
    """Its drift alarms already notify: the composite's own change would be a second message."""
    template = monitoring(stacks, env)
    (notifier_rule,) = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
        and r not in drift_rules(template)
    ]
    (excluded,) = notifier_rule["Properties"]["EventPattern"]["detail"]["alarmName"]
    assert retraining_alarm_name(configs[env].resource_name_prefix) in excluded["anything-but"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rule_matches_the_composites_change_to_alarm_by_its_exact_arn(stacks, env):
    template = monitoring(stacks, env)
    composite_id, _ = only(template, "AWS::CloudWatch::CompositeAlarm")
    pattern = drift_rule(template)["Properties"]["EventPattern"]
    assert pattern == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [composite_id, "Arn"]}],
        "detail": {"state": {"value": ["ALARM"]}},
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_target_starts_the_relabel_workflow_with_a_drift_request_retries_and_a_dlq(
    stacks, configs, env
):
    template = monitoring(stacks, env)
    all_stacks = {s.stack_name: Template.from_stack(s).to_json() for s in stacks[env].all()}
    (target,) = drift_rule(template)["Properties"]["Targets"]
    machine = produced(all_stacks, target["Arn"])
    assert machine["Type"] == "AWS::StepFunctions::StateMachine"
    assert machine["Properties"]["StateMachineName"].endswith("-relabel-workflow")
    request = json.loads(target["Input"])
    assert request == {"trigger": "drift"}
    config = configs[env]
    accepted = parse_request(request, config.relabel.max_images_per_job, _any_workteam())
    assert accepted["trigger"] == "drift"
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAX_EVENT_AGE.to_seconds(),
    }
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    resources = template.to_json()["Resources"]
    assert resources[queue_id]["Properties"]["KmsMasterKeyId"]
    # The queue lets EventBridge send only for this rule, and its first message alarms.
    policies = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in r["Properties"]["Queues"]
    ]
    sends = [
        s
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    (send,) = sends
    assert send["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in send["Condition"]["ArnEquals"]
    dlq_alarms = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in r["Properties"].get("Dimensions", [])
    ]
    assert len(dlq_alarms) == 1


def _any_workteam() -> re.Pattern[str]:
    return re.compile(r"arn:aws:sagemaker:[^:]+:\d{12}:workteam/private-crowd/.+")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_targets_role_may_only_start_that_one_state_machine(stacks, env):
    template = monitoring(stacks, env)
    resources = template.to_json()["Resources"]
    (target,) = drift_rule(template)["Properties"]["Targets"]
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    stack = stacks[env].monitoring
    account = stack.resolve(stack.account)
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    ]
    assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
    policies = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": target["Arn"]}
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_pattern_matches_the_documented_event_for_our_alarm_only(stacks, configs, env):
    template = monitoring(stacks, env)
    config = configs[env]
    account, region = config.account or "123456789012", config.region or "us-east-1"
    ours = f"arn:aws:cloudwatch:{region}:{account}:alarm:" + retraining_alarm_name(
        config.resource_name_prefix
    )
    pattern = json.loads(
        json.dumps(drift_rule(template)["Properties"]["EventPattern"]).replace(
            json.dumps(drift_rule(template)["Properties"]["EventPattern"]["resources"][0]),
            json.dumps(ours),
        )
    )
    matcher = EventPattern(json.dumps(pattern), pattern)

    assert not matcher.matches_event(DOCUMENTED_EVENT)  # AWS's sample alarm is not ours
    assert matcher.matches_event(event_for(ours))
    back_to_ok = event_for(ours)
    back_to_ok["detail"]["state"]["value"] = "OK"
    assert not matcher.matches_event(back_to_ok)
    others = [e for e in ENVIRONMENTS if e != env]
    for other in others:
        other_config = configs[other]
        theirs = f"arn:aws:cloudwatch:{region}:{account}:alarm:" + retraining_alarm_name(
            other_config.resource_name_prefix
        )
        assert not matcher.matches_event(event_for(theirs))
    # A longer name starting with ours (another environment "dev2", say) does not match.
    assert not matcher.matches_event(event_for(ours.replace("-drift", "2-drift")))
    assert not matcher.matches_event(event_for(ours + "-old"))


def test_the_enabled_environments_pass_the_gate(enabled, tmp_path):
    app = make_app(enabled, outdir=str(tmp_path))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    for config in load_all(enabled):
        build_environment(app, config)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []

"""Intent of operations: every alarm reaches the topic with a runbook, the dashboard shows only
what the app creates, and the execution-status rule watches exactly our Standard workflows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_stepfunctions as sfn

from stacks.building_blocks.alarms import NAME_LIMIT, PIPELINES
from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.monitoring_stack import constructs_of
from stacks.runbooks import RUNBOOK_PREFIX, Runbook, runbook_of
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import template_of

README = Path(__file__).resolve().parents[2] / "README.md"
AWS_NAMESPACES = {"AWS/States", "AWS/Lambda", "AWS/SQS", "AWS/SageMaker", "AWS/Rekognition"}


def by_stack_name(templates, environments, env) -> dict[str, dict[str, Any]]:
    return {
        stack.stack_name: templates[(env, stack.node.id)].to_json()
        for stack in environments[env].all()
    }


def produced(stacks: dict[str, dict[str, Any]], reference: dict[str, Any]) -> dict[str, Any]:
    """The resource a cross-stack reference (``Fn::GetStackOutput``) points at."""
    output = reference["Fn::GetStackOutput"]
    template = stacks[output["StackName"]]
    value = template["Outputs"][output["OutputName"]]["Value"]
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return template["Resources"][logical_id]


# --- alarms ---------------------------------------------------------------------------------


def every_alarm(stacks: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(stack name, resource) of every metric and composite alarm of an environment."""
    return [
        (stack_name, resource)
        for stack_name, template in stacks.items()
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    ]


def alarm_rule_of(monitoring: dict[str, Any]) -> dict[str, Any]:
    (rule,) = [
        r
        for r in monitoring["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    return rule


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_is_named_explains_itself_and_reaches_people_once(templates, environments, env):
    stacks = by_stack_name(templates, environments, env)
    alerting = environments[env].alerting.stack_name
    monitoring = template_of(templates, env, "Monitoring").to_json()
    pattern = alarm_rule_of(monitoring)["Properties"]["EventPattern"]
    unrouted = set(pattern["detail"]["alarmName"][0]["anything-but"])
    composites = [a for _, a in every_alarm(stacks) if a["Type"].endswith("CompositeAlarm")]
    children = {
        name
        for c in composites
        for name in re.findall(r'ALARM\("([^"]+)"\)', c["Properties"]["AlarmRule"])
    }
    alarms = every_alarm(stacks)
    assert len(alarms) > 30
    sections, direct, routed = set(), [], []
    for stack_name, alarm in alarms:
        properties = alarm["Properties"]
        name = properties.get("AlarmName") or properties["AlarmName"]
        segment = name.removeprefix(f"imgclf-{env}-")
        assert name.startswith(f"imgclf-{env}-")
        assert any(segment.startswith(f"{pipeline}-") for pipeline in PIPELINES), name
        assert re.fullmatch(r"[a-z0-9-]+", name)
        assert len(name) <= NAME_LIMIT
        description = properties["AlarmDescription"]
        section = runbook_of(description)
        assert section, description
        sections.add(section)
        # Beyond the runbook line, it says what happened and what to do.
        assert len(description.split(RUNBOOK_PREFIX)[0]) > 60
        if "AlarmActions" in properties:
            # The fallback route: the notifier's own alarms, ALARM and OK, straight to the topic.
            assert properties["AlarmActions"] == properties["OKActions"]
            (action,) = properties["AlarmActions"]
            topic = (
                stacks[alerting]["Resources"][action["Ref"]]
                if stack_name == alerting
                else produced(stacks, action)
            )
            assert topic["Properties"]["TopicName"] == f"imgclf-{env}-alerts"
            assert name in unrouted
            direct.append(name)
        else:
            # Through the notifier, unless a composite speaks for it.
            assert (name in unrouted) == (name in children), name
            routed.append(name)
    assert sorted(direct) == [
        f"imgclf-{env}-operations-notifier-dead-letter",
        f"imgclf-{env}-operations-notifier-errors",
    ]
    assert unrouted == set(direct) | children
    assert len(children) >= 6
    assert len(composites) == 2
    # Every kind of alarm exists somewhere, and no description names an unknown section.
    assert sections == {runbook.value for runbook in Runbook}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_composite_alarms_name_existing_alarms(templates, environments, env):
    stacks = by_stack_name(templates, environments, env)
    names = {a["Properties"]["AlarmName"] for _, a in every_alarm(stacks)}
    for _, alarm in every_alarm(stacks):
        if alarm["Type"].endswith("CompositeAlarm"):
            rule = alarm["Properties"]["AlarmRule"]
            referenced = re.findall(r'ALARM\("([^"]+)"\)', rule)
            assert len(referenced) >= 2, rule
            assert set(referenced) <= names, rule
            assert rule == "(" + " OR ".join(f'ALARM("{name}")' for name in referenced) + ")"


def test_readme_has_one_runbook_section_per_kind_of_alarm():
    text = README.read_text()
    runbooks = text.split("\n## Runbooks\n", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### (.+)$", runbooks, flags=re.MULTILINE)
    assert sorted(headings) == sorted(runbook.value for runbook in Runbook)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_workflow_and_function_has_its_alarms(templates, environments, env):
    stacks = environments[env]
    pipelines = [
        stacks.rekognition_training,
        stacks.rekognition_inference,
        stacks.sagemaker,
        stacks.relabel,
    ]
    workflows = constructs_of(pipelines, Workflow)
    functions = constructs_of([*pipelines, stacks.monitoring], PythonFunction)
    alarms = template_of(templates, env, "Monitoring").find_resources("AWS::CloudWatch::Alarm")
    text = json.dumps(alarms)
    for workflow in workflows:
        machine_id = workflow.state_machine.stack.get_logical_id(
            workflow.state_machine.node.default_child
        )
        assert text.count(machine_id) >= 3, workflow.workflow_name  # failed, timed out, throttled
    errors = [
        alarm for alarm in alarms.values() if json.dumps(alarm).count('"MetricName": "Errors"') == 1
    ]
    assert len(errors) == len(functions)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_single_image_failures_alarm_excludes_low_confidence_and_needs_two_periods(
    templates, environments, env
):
    alarms = template_of(templates, env, "Monitoring").find_resources("AWS::CloudWatch::Alarm")
    failed = [
        alarm["Properties"]
        for logical_id, alarm in alarms.items()
        if logical_id.startswith("AlarmsSageMakerClassifyImage")
        and "ExecutionsFailed" in logical_id
    ]
    assert len(failed) == 2  # Standard and Express
    for properties in failed:
        assert properties["EvaluationPeriods"] == 2
        assert properties["DatapointsToAlarm"] == 2
        names = {
            query["MetricStat"]["Metric"]["MetricName"]
            for query in properties["Metrics"]
            if "MetricStat" in query
        }
        assert names == {"ExecutionsFailed", "LowConfidence"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_idle_model_alarm_watches_running_without_work_for_the_configured_time(
    templates, environments, env
):
    operations = environments[env].rekognition_inference.inference.config.operations
    alarms = template_of(templates, env, "Monitoring").find_resources("AWS::CloudWatch::Alarm")
    ((_, idle),) = [
        (key, alarm) for key, alarm in alarms.items() if key.startswith("AlarmsModelIdleButRunning")
    ]
    properties = idle["Properties"]
    assert properties["EvaluationPeriods"] == operations.model_idle_alarm_minutes
    assert properties["DatapointsToAlarm"] == operations.model_idle_alarm_minutes
    stats = {
        query["MetricStat"]["Metric"]["MetricName"]: query["MetricStat"]
        for query in properties["Metrics"]
        if "MetricStat" in query
    }
    assert set(stats) == {"ModelRunning", "ImagesProcessed", "QueueWaiting"}
    assert all(stat["Period"] == 60 for stat in stats.values())
    assert stats["ModelRunning"]["Stat"] == "Minimum"  # running the whole minute


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_low_confidence_ratio_alarms_wait_for_enough_images(templates, environments, env):
    operations = environments[env].rekognition_inference.inference.config.operations
    alarms = template_of(templates, env, "Monitoring").find_resources("AWS::CloudWatch::Alarm")
    ratios = [alarm["Properties"] for key, alarm in alarms.items() if "LowConfidenceRatio" in key]
    assert len(ratios) == 2  # Rekognition and SageMaker
    for properties in ratios:
        assert properties["Threshold"] == operations.low_confidence_ratio
        assert properties["ComparisonOperator"] == "GreaterThanThreshold"
        (expression,) = [q["Expression"] for q in properties["Metrics"] if "Expression" in q]
        assert f">= {operations.low_confidence_min_images}" in expression
        periods = {q["MetricStat"]["Period"] for q in properties["Metrics"] if "MetricStat" in q}
        assert periods == {operations.low_confidence_window_minutes * 60}


# --- execution-status notifications ---------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_status_rule_matches_only_our_standard_state_machines(
    templates, environments, env
):
    stacks = by_stack_name(templates, environments, env)
    monitoring = template_of(templates, env, "Monitoring").to_json()
    (rule,) = [
        r
        for r in monitoring["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    matched = [produced(stacks, reference) for reference in pattern["detail"]["stateMachineArn"]]
    assert all(m["Type"] == "AWS::StepFunctions::StateMachine" for m in matched)
    ours = [
        workflow
        for workflow in constructs_of(
            [
                environments[env].rekognition_training,
                environments[env].rekognition_inference,
                environments[env].sagemaker,
                environments[env].relabel,
            ],
            Workflow,
        )
        if workflow.state_machine_type is sfn.StateMachineType.STANDARD
    ]
    # Training (+ promotion where configured), SageMaker training, batch, inference, relabel,
    # and the SageMaker deploy workflow where it exists.
    promotes = environments[env].rekognition_training.promotion is not None
    deploys = environments[env].sagemaker.training.deploy_workflow is not None
    assert len(matched) == len(ours) == 5 + promotes + deploys
    assert all(m["Properties"].get("StateMachineType", "STANDARD") == "STANDARD" for m in matched)
    # The notifier knows every matched state machine by its readable name.
    (function,) = [
        r
        for r in monitoring["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "execution_notifier.handler.lambda_handler"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["ENVIRONMENT_NAME"] == env
    names = json.dumps(variables["PIPELINES"])
    for workflow in ours:
        assert workflow.workflow_name in names
    target = rule["Properties"]["Targets"][0]
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# --- alarm-state notifications -------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alarm_state_rule_sends_the_environments_alarm_changes_to_the_notifier(
    templates, environments, env
):
    monitoring = template_of(templates, env, "Monitoring").to_json()
    rule = alarm_rule_of(monitoring)
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert sorted(pattern["detail"]["state"]["value"]) == ["ALARM", "OK"]
    ((prefix,),) = [[entry["prefix"] for entry in pattern["resources"]]]
    tail = prefix if isinstance(prefix, str) else prefix["Fn::Join"][1][-1]
    assert tail.endswith(f":alarm:imgclf-{env}-")
    (target,) = rule["Properties"]["Targets"]
    function = monitoring["Resources"][target["Arn"]["Fn::GetAtt"][0]]
    assert function["Properties"]["Handler"] == "execution_notifier.handler.lambda_handler"
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["ALARM_NAME_PREFIX"] == f"imgclf-{env}-"
    assert variables["RUNBOOK_PREFIX"] == RUNBOOK_PREFIX
    assert variables["FAILURE_NOTIFICATION_STATE"] == "NotifyFailure"
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

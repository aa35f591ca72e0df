"""Intent of operations: every alarm reaches the topic with a runbook, the dashboard shows only
what the app creates, and the execution-status rule watches exactly our Standard workflows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_stepfunctions as sfn

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


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_of_the_environment_notifies_the_topic_and_names_its_runbook(
    templates, environments, env
):
    stacks = by_stack_name(templates, environments, env)
    alerting = environments[env].alerting.stack_name
    alarms = [
        (stack_name, alarm)
        for stack_name, template in stacks.items()
        for alarm in template["Resources"].values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert len(alarms) > 30
    sections = set()
    for stack_name, alarm in alarms:
        (action,) = alarm["Properties"]["AlarmActions"]
        topic = (
            stacks[alerting]["Resources"][action["Ref"]]
            if stack_name == alerting
            else produced(stacks, action)
        )
        assert topic["Type"] == "AWS::SNS::Topic"
        assert topic["Properties"]["TopicName"] == f"imgclf-{env}-alerts"
        description = alarm["Properties"]["AlarmDescription"]
        section = runbook_of(description)
        assert section, description
        sections.add(section)
        # Beyond the runbook line, it says what happened and what to do.
        assert len(description.split(RUNBOOK_PREFIX)[0]) > 60
    # Every kind of alarm exists somewhere, and no description names an unknown section.
    assert sections == {runbook.value for runbook in Runbook}


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
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
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


# --- dashboard ------------------------------------------------------------------------------


def rendered_body(dashboard: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard body as JSON, each CloudFormation reference replaced by a ``<ref:N>``
    placeholder; and the placeholders' references."""
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    references: dict[str, Any] = {}
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            key = f"<ref:{len(references)}>"
            references[key] = part
            text.append(key)
    return json.loads("".join(text)), references


def app_services(stacks: dict[str, dict[str, Any]]) -> dict[str, str]:
    """POWERTOOLS_SERVICE_NAME -> POWERTOOLS_METRICS_NAMESPACE of every function of the app."""
    services = {}
    for template in stacks.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables = resource["Properties"]["Environment"]["Variables"]
                services[variables["POWERTOOLS_SERVICE_NAME"]] = variables[
                    "POWERTOOLS_METRICS_NAMESPACE"
                ]
    return services


RESOURCE_DIMENSIONS = {
    "StateMachineArn": "AWS::StepFunctions::StateMachine",
    "FunctionName": "AWS::Lambda::Function",
    "QueueName": "AWS::SQS::Queue",
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_dashboard_metric_refers_to_something_the_app_creates(templates, environments, env):
    stacks = by_stack_name(templates, environments, env)
    monitoring = template_of(templates, env, "Monitoring").to_json()
    services = app_services(stacks)
    config = environments[env].rekognition_inference.inference.config
    (dashboard,) = [
        r for r in monitoring["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body, references = rendered_body(dashboard)
    checked = 0
    for widget in body["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            options = metric[-1] if isinstance(metric[-1], dict) else {}
            if "expression" in options:
                expression = options["expression"]
                for namespace, service in re.findall(
                    r"SEARCH\('\{([^,]+),[^}]*\}[^']*?(?:service=\"([^\"]+)\")?", expression
                ):
                    assert namespace in AWS_NAMESPACES or namespace in services.values()
                    if service:
                        assert services[service] == namespace
                    checked += 1
                continue
            namespace, name, *rest = [part for part in metric if not isinstance(part, dict)]
            dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
            if namespace in AWS_NAMESPACES:
                for key, kind in RESOURCE_DIMENSIONS.items():
                    if key in dimensions:
                        reference = references[dimensions[key]]
                        if "Ref" in reference:
                            resource = monitoring["Resources"][reference["Ref"]]
                        elif "Fn::GetAtt" in reference:
                            resource = monitoring["Resources"][reference["Fn::GetAtt"][0]]
                        else:
                            resource = produced(stacks, reference)
                        assert resource["Type"] == kind, (name, dimensions)
                if namespace == "AWS/SageMaker":
                    assert dimensions["EndpointName"] == f"imgclf-{env}-classifier"
            else:
                assert namespace == f"ImageClassification/{env}"
                assert services[dimensions["service"]] == namespace, dimensions
            checked += 1
    assert checked > 40
    # The custom widget is backed by the app's own renderer.
    (custom,) = [w for w in body["widgets"] if w["type"] == "custom"]
    reference = references[custom["properties"]["endpoint"]]
    renderer = monitoring["Resources"][reference["Fn::GetAtt"][0]]
    assert renderer["Properties"]["Handler"] == "evaluation_widget.handler.lambda_handler"
    assert custom["properties"]["params"] == {"project": config.rekognition.project_name}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_evaluation_widget_reads_only_the_projects_reports(templates, environments, env):
    monitoring = template_of(templates, env, "Monitoring").to_json()
    project = environments[env].rekognition_inference.inference.config.rekognition.project_name
    text = json.dumps(
        [
            r["Properties"]["PolicyDocument"]
            for r in monitoring["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
            and "Renderer" in json.dumps(r["Properties"]["Roles"])
        ]
    )
    assert f"/reports/{project}/*" in text
    assert "s3:PutObject" not in text
    assert f'"reports/{project}/*"' in text  # ListBucket limited by s3:prefix

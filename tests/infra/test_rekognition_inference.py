"""Intent of the Rekognition inference stack: wiring, batching, least privilege, alarms."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk import Environment, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from stacks.alerting_stack import AlertingStack
from stacks.config import EXPECTED_MODEL_START_MINUTES, EnvironmentConfig, load_environment
from stacks.environment import EnvironmentStacks
from stacks.pipelines.rekognition_inference import (
    ERRORS_PREFIX,
    MAX_RECEIVE_COUNT,
    RESULTS_PREFIX,
    REVIEW_PREFIX,
    backlog_alarm_minutes,
)
from stacks.rekognition_inference_stack import RekognitionInferenceStack
from stacks.runbooks import Runbook, runbook_of
from stacks.storage_stack import StorageStack
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app, template_of

PINNED = (
    "arn:aws:rekognition:eu-west-1:111111111111:project/imgclf-prod-image-classifier/"
    "version/v7/1700000000000"
)


def inference(templates: dict[tuple[str, str], Template], env: str) -> Template:
    return template_of(templates, env, "RekognitionInference")


def config_of(environments: dict[str, EnvironmentStacks], env: str) -> EnvironmentConfig:
    stack = environments[env].rekognition_inference
    config: EnvironmentConfig = stack.inference.config
    return config


def only(template: Template, resource_type: str, **match: Any) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type, match or None)
    assert len(found) == 1, (resource_type, list(found))
    return next(iter(found.items()))


def flat(value: Any) -> str:
    """A resolved value as text, references as ``<LogicalId>``/``<Pseudo>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(flat(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value, sort_keys=True)


def statements_of(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role whose logical ID has the fragment."""
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = [ref["Ref"] for ref in policy["Properties"]["Roles"]]
        if any(role_fragment in role for role in roles):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [flat(item) for item in (resource if isinstance(resource, list) else [resource])]


def logical_id(template: Template, resource_type: str, fragment: str) -> str:
    (found,) = [lid for lid in template.find_resources(resource_type) if fragment in lid]
    return found


# --- event path ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rule_sends_new_images_under_the_prefix_to_the_queue(templates, environments, env):
    template = inference(templates, env)
    config = config_of(environments, env)
    _, rule = only(
        template, "AWS::Events::Rule", Properties={"EventPattern": {"source": ["aws.s3"]}}
    )
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": config.rekognition.input_prefix}]}
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert flat(bucket).startswith(f"{config.resource_name_prefix}-data-")
    (target,) = rule["Properties"]["Targets"]
    queue = logical_id(template, "AWS::SQS::Queue", "ImagesQueue")
    dead_letter = logical_id(template, "AWS::SQS::Queue", "UndeliveredEvents")
    assert target["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dead_letter, "Arn"]}}
    # Both queues admit EventBridge for this rule only (aws:SourceArn), not any rule of the
    # account (aws:SourceAccount): confused-deputy prevention.
    rule_id = logical_id(template, "AWS::Events::Rule", "ImageCreated")
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    for queue_id in (queue, dead_letter):
        (policy,) = [
            p for p in policies.values() if p["Properties"]["Queues"] == [{"Ref": queue_id}]
        ]
        allows = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
        ]
        assert allows == [
            {
                "Action": "sqs:SendMessage",
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
                "Sid": allows[0]["Sid"],
            }
        ], queue_id


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_queue_is_encrypted_redriven_and_sized_for_the_consumer(templates, environments, env):
    template = inference(templates, env)
    config = config_of(environments, env)
    queue = template.to_json()["Resources"][logical_id(template, "AWS::SQS::Queue", "ImagesQueue")]
    properties = queue["Properties"]
    assert "KmsMasterKeyId" in properties
    assert properties["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert properties["VisibilityTimeout"] == 6 * config.rekognition.consumer_timeout_seconds
    # Shorter than its dead-letter queue's 14 days: SQS counts a moved message's age from its
    # first enqueue, so equal periods would let a message expire as it reaches the DLQ.
    assert properties["MessageRetentionPeriod"] == 7 * 24 * 3600
    dead_letter = template.to_json()["Resources"][
        properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    ]
    assert dead_letter["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    _, consumer = only(
        template,
        "AWS::Lambda::Function",
        Properties={"Handler": "rekognition_inference.handler.lambda_handler"},
    )
    assert consumer["Properties"]["Timeout"] == config.rekognition.consumer_timeout_seconds


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_event_source_batches_reports_failures_and_is_bounded_by_the_model(
    templates, environments, env
):
    template = inference(templates, env)
    settings = config_of(environments, env).rekognition
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    properties = mapping["Properties"]
    assert properties["BatchSize"] == settings.batch_size
    assert properties["MaximumBatchingWindowInSeconds"] == settings.batching_window_seconds
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # What a started model always has; the controller sizes it to the units in service.
    initial = settings.initial_capacity
    assert properties["ScalingConfig"] == {"MaximumConcurrency": initial.max_concurrency}
    # Off until the controller sees the model RUNNING: messages wait instead of failing.
    assert properties["Enabled"] is False
    queue = logical_id(template, "AWS::SQS::Queue", "ImagesQueue")
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    consumer = logical_id(template, "AWS::Lambda::Function", "Consumer")
    assert properties["FunctionName"] == {"Ref": consumer}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_consumer_paces_to_its_share_of_the_units_in_service(templates, environments, env):
    template = inference(templates, env)
    config = config_of(environments, env)
    settings = config.rekognition
    _, consumer = only(
        template,
        "AWS::Lambda::Function",
        Properties={"Handler": "rekognition_inference.handler.lambda_handler"},
    )
    variables = consumer["Properties"]["Environment"]["Variables"]
    slowest, fastest = float(variables["INVOCATION_TPS"]), float(variables["MAX_INVOCATION_TPS"])
    assert variables["CAPACITY_PARAMETER"] == config.consumer_capacity_parameter
    # The published pace is kept within what the controller can publish for 1..max units.
    paces = [capacity.invocation_tps for capacity in settings.capacities()]
    assert (slowest, fastest) == (pytest.approx(min(paces)), pytest.approx(max(paces)))
    # Until the controller publishes, the invocations together stay within one unit ...
    initial = settings.initial_capacity
    assert slowest * initial.max_concurrency <= settings.tps_per_inference_unit + 1e-9
    # ... and the timeout fits a full batch at the slowest pace it can be told.
    assert consumer["Properties"]["Timeout"] >= settings.batch_size / slowest
    assert variables["DETECT_CONCURRENCY"] == str(settings.calls_in_flight)
    assert variables["INPUT_PREFIX"] == settings.input_prefix
    assert float(variables["MIN_CONFIDENCE"]) == settings.min_confidence
    assert float(variables["REVIEW_THRESHOLD"]) == settings.review_threshold
    assert variables["MODEL_VERSION_PARAMETER"] == config.model_version_parameter


# --- least privilege -------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_consumer_reads_only_the_input_prefix_and_writes_only_its_record_prefixes(
    templates, environments, env
):
    template = inference(templates, env)
    config = config_of(environments, env)
    statements = statements_of(template, "Consumer")
    by_action: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in actions(statement):
            assert "*" not in action, action  # no wildcard actions
            by_action.setdefault(action, set()).update(resources(statement))
    data = f"{config.resource_name_prefix}-data-"
    artifacts = f"{config.resource_name_prefix}-artifacts-"
    (read,) = by_action["s3:GetObjectVersion"]
    assert read.split(":::")[1].startswith(data)
    assert read.endswith(f"/{config.rekognition.input_prefix}*")
    writes = by_action["s3:PutObject"]
    assert {w.split("/", 1)[1] for w in writes} == {
        f"{RESULTS_PREFIX}*",
        f"{REVIEW_PREFIX}*",
        f"{ERRORS_PREFIX}*",
    }
    assert all(w.split(":::")[1].startswith(artifacts) for w in writes)
    results_reads = {r for r in by_action["s3:GetObject"] if artifacts in r}
    assert {r.split("/", 1)[1] for r in results_reads} == {f"{RESULTS_PREFIX}*"}
    (detect,) = by_action["rekognition:DetectCustomLabels"]
    assert detect.endswith(f":project/{config.rekognition.project_name}/*")
    assert {p.rsplit(":parameter", 1)[1] for p in by_action["ssm:GetParameter"]} == {
        config.model_version_parameter,
        config.consumer_capacity_parameter,
    }
    assert not {
        "rekognition:StartProjectVersion",
        "s3:DeleteObject",
        "ssm:PutParameter",
        "lambda:UpdateEventSourceMapping",
    } & set(by_action)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_controller_manages_only_the_project_and_its_event_source(templates, environments, env):
    template = inference(templates, env)
    config = config_of(environments, env)
    mapping = logical_id(template, "AWS::Lambda::EventSourceMapping", "Consumer")
    queue = logical_id(template, "AWS::SQS::Queue", "ImagesQueue")
    grants: dict[str, set[str]] = {}
    for statement in statements_of(template, "Controller"):
        for action in actions(statement):
            grants.setdefault(action, set()).update(resources(statement))
    project = {
        r
        for a in ("rekognition:StartProjectVersion", "rekognition:StopProjectVersion")
        for r in grants[a]
    }
    assert len(project) == 1
    assert project.pop().endswith(f":project/{config.rekognition.project_name}/*")
    (gated,) = grants["lambda:UpdateEventSourceMapping"]
    assert gated.startswith("arn:")
    assert gated.endswith(f":event-source-mapping:<{mapping}>")
    assert grants["lambda:GetEventSourceMapping"] == {gated}
    assert grants["sqs:GetQueueAttributes"] == {f"<{queue}.Arn>"}
    # It writes one parameter: the consumers' pace (and reads it back).
    capacity = f":parameter{config.consumer_capacity_parameter}"
    (published,) = grants["ssm:PutParameter"]
    assert published.endswith(capacity)
    assert {r for r in grants["ssm:GetParameter"] if r.endswith(capacity)} == {published}
    assert {r.rsplit(":parameter", 1)[1] for r in grants["ssm:GetParameter"]} == {
        config.model_version_parameter,
        config.consumer_capacity_parameter,
    }
    # Only actions without resource-level permissions get "*", and they only read.
    unscoped = {a for a, r in grants.items() if "*" in r}
    # In an isolated environment Lambda also describes the interfaces it attaches.
    in_vpc = {"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"}
    assert unscoped == {
        "rekognition:DescribeProjects",
        "cloudwatch:GetMetricData",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        *(in_vpc if environments[env].network else ()),
    }


# --- alarms and schedule --------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_notifies_the_alert_topic_and_explains_itself(templates, environments, env):
    template = inference(templates, env)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    prefix = f"{config_of(environments, env).resource_name_prefix}-rekognition-inference-"
    names = sorted(a["Properties"]["AlarmName"].removeprefix(prefix) for a in alarms.values())
    assert names == [
        "backlog-too-old",
        "capacity-update-failures",
        "controller-dead-letter",
        "images-dead-letter",
        "model-needs-attention",
        "undelivered-image-events",
    ]
    for alarm in alarms.values():
        # Notified through the notifier's alarm-state rule (tests/infra/test_notifier.py).
        assert "AlarmActions" not in alarm["Properties"]
        assert len(alarm["Properties"]["AlarmDescription"]) > 60


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_capacity_update_failures_alarm_on_three_periods_of_the_controller_metric(
    templates, environments, env
):
    _, alarm = only(
        inference(templates, env),
        "AWS::CloudWatch::Alarm",
        Properties={"MetricName": "CapacityUpdateFailures"},
    )
    properties = alarm["Properties"]
    assert properties["Namespace"] == f"ImageClassification/{env}"
    assert properties["Dimensions"] == [{"Name": "service", "Value": "rekognition-controller"}]
    assert (properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (3, 3)
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert runbook_of(properties["AlarmDescription"]) == Runbook.CAPACITY_UPDATES.value


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_model_needs_attention_alarm_fires_on_the_controller_metric_or_its_silence(
    templates, environments, env
):
    template = inference(templates, env)
    config = config_of(environments, env)
    _, alarm = only(
        template, "AWS::CloudWatch::Alarm", Properties={"MetricName": "ModelNeedsAttention"}
    )
    properties = alarm["Properties"]
    assert properties["Namespace"] == f"ImageClassification/{config.name}"
    assert properties["Dimensions"] == [{"Name": "service", "Value": "rekognition-controller"}]
    assert properties["Threshold"] == 1
    assert properties["TreatMissingData"] == "breaching"
    assert "FAILED" in properties["AlarmDescription"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_backlog_alarm_watches_the_oldest_image(templates, environments, env):
    template = inference(templates, env)
    _, alarm = only(
        template,
        "AWS::CloudWatch::Alarm",
        Properties={"MetricName": "ApproximateAgeOfOldestMessage"},
    )
    queue = logical_id(template, "AWS::SQS::Queue", "ImagesQueue")
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
    ]
    assert (
        alarm["Properties"]["Threshold"] == backlog_alarm_minutes(config_of(environments, env)) * 60
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_controller_runs_every_minute_with_its_configuration(templates, environments, env):
    template = inference(templates, env)
    config = config_of(environments, env)
    _, rule = only(
        template, "AWS::Events::Rule", Properties={"ScheduleExpression": "rate(1 minute)"}
    )
    (target,) = rule["Properties"]["Targets"]
    controller = logical_id(template, "AWS::Lambda::Function", "Controller")
    assert target["Arn"] == {"Fn::GetAtt": [controller, "Arn"]}
    assert "DeadLetterConfig" in target
    function = template.to_json()["Resources"][controller]["Properties"]
    assert function["DeadLetterConfig"]["TargetArn"] == target["DeadLetterConfig"]["Arn"]
    variables = function["Environment"]["Variables"]
    control = config.rekognition.model_control
    assert variables["CONTROL_MODE"] == control.mode
    assert variables["IDLE_MINUTES"] == str(control.idle_minutes)
    assert variables["MIN_INFERENCE_UNITS"] == str(config.rekognition.min_inference_units)
    assert variables["MAX_INFERENCE_UNITS"] == str(config.rekognition.max_inference_units)
    # What the unit choice and the consumers' sizing need.
    assert variables["DRAIN_MINUTES"] == str(control.drain_minutes)
    assert float(variables["TPS_PER_INFERENCE_UNIT"]) == config.rekognition.tps_per_inference_unit
    assert variables["EXPECTED_START_MINUTES"] == str(EXPECTED_MODEL_START_MINUTES)
    assert variables["CALLS_IN_FLIGHT"] == str(config.rekognition.calls_in_flight)
    assert variables["CAPACITY_PARAMETER"] == config.consumer_capacity_parameter
    mapping = logical_id(template, "AWS::Lambda::EventSourceMapping", "Consumer")
    assert variables["EVENT_SOURCE_MAPPING_ID"] == {"Ref": mapping}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_outputs_name_what_the_operator_commands_use(templates, env):
    outputs = inference(templates, env).to_json()["Outputs"]
    assert {
        "WorkQueueUrl",
        "DeadLetterQueueUrl",
        "EventSourceMappingId",
        "ConsumerFunctionName",
        "ControllerFunctionName",
    } <= set(outputs)


# --- other configurations: pinned model version, scheduled mode -----------------------------


def _variant(cdk_context: dict[str, Any], **rekognition: Any) -> dict[str, Any]:
    context = copy.deepcopy(cdk_context)
    context["environments"]["prod"]["rekognition"].update(rekognition)
    return context


def test_pinned_version_is_granted_exactly_and_scheduled_mode_is_configured(cdk_context, tmp_path):
    context = _variant(
        cdk_context,
        model_version_arn=PINNED,
        model_control={
            "mode": "scheduled",
            "idle_minutes": 10,
            "schedule": {"start_hour_utc": 7, "end_hour_utc": 19},
        },
    )
    app = make_app(context, outdir=str(tmp_path))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    config = load_environment(context, "prod")
    env = Environment(account=config.account, region=config.region)
    storage = StorageStack(app, "Storage", config=config, env=env)
    alerting = AlertingStack(app, "Alerting", config=config, encryption_key=storage.key, env=env)
    stack = RekognitionInferenceStack(
        app, "Inference", config=config, storage=storage, alerting=alerting, env=env
    )
    app.synth()  # the gate holds for this configuration too (its acknowledgements differ)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []

    template = Template.from_json(
        json.loads((tmp_path / f"{stack.artifact_id}.template.json").read_text())
    )
    grants = {
        action: resources(statement)
        for statement in statements_of(template, "Consumer")
        for action in actions(statement)
    }
    assert grants["rekognition:DetectCustomLabels"] == [PINNED]
    _, alarm = only(
        template,
        "AWS::CloudWatch::Alarm",
        Properties={"MetricName": "ApproximateAgeOfOldestMessage"},
    )
    assert alarm["Properties"]["Threshold"] == (60 + 12 * 60) * 60  # plus 12 off hours
    controller = logical_id(template, "AWS::Lambda::Function", "Controller")
    variables = template.to_json()["Resources"][controller]["Properties"]["Environment"][
        "Variables"
    ]
    assert (
        variables["CONTROL_MODE"],
        variables["SCHEDULE_START_HOUR_UTC"],
        variables["SCHEDULE_END_HOUR_UTC"],
    ) == (
        "scheduled",
        "7",
        "19",
    )
    consumer = logical_id(template, "AWS::Lambda::Function", "Consumer")
    consumer_variables = template.to_json()["Resources"][consumer]["Properties"]["Environment"][
        "Variables"
    ]
    assert consumer_variables["MODEL_VERSION_ARN"] == PINNED
